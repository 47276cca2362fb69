//! Virtual-mode harness: the workflow's use cases over in-memory stores and a virtual queue,
//! on a clock the test moves (a manual clock, or the simulator's). A three-hour report flow
//! runs in milliseconds, and every delivery is written to a transcript.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use spsync_domain::{JobState, MarketplaceId, ReportJob, SellerId};
use spsync_testkit::memory::{
    MemoryDocumentStore, MemoryJobStore, MemoryOrderStore, QueuedMessage, VirtualQueue,
};
use spsync_testkit::shipping::{MemoryFeedJobStore, MemoryShipmentStore};
use spsync_workflow::{
    Clock, EnrichPorts, FeedPorts, FeedSettings, FeedsApi, FlowSettings, ImportPorts, OrdersApi,
    PackagesApi, QueueName, ReportPorts, ReportsApi, StartOutcome, Step, StepOutcome,
    WorkflowError, confirm_shipments, defer_if_early, enrich_orders, feed_step, import_report,
    poll_report, start_feed, start_report,
};
use time::OffsetDateTime;

/// A clock the test can move.
pub trait TestTime: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
    /// Moves time forward.
    fn advance(&self, by: Duration);
}

/// A manual clock.
pub struct ManualTime(Mutex<OffsetDateTime>);

impl ManualTime {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }
}

impl TestTime for ManualTime {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

/// The simulator's clock: the workflow and Amazon agree on the time.
pub struct SimTime(pub Arc<spsync_sim::Sim>);

impl TestTime for SimTime {
    fn now(&self) -> OffsetDateTime {
        self.0.clock.now()
    }
    fn advance(&self, by: Duration) {
        self.0.advance_clock(by);
    }
}

/// Shares a [`TestTime`] as the workflow's [`Clock`].
#[derive(Clone)]
pub struct SharedClock(pub Arc<dyn TestTime>);

impl Clock for SharedClock {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}

/// How long a failed delivery stays invisible (the queue's visibility timeout).
pub const VISIBILITY: Duration = Duration::from_secs(180);
/// Deliveries before a message goes to the dead-letter list (the queue's maxReceiveCount).
pub const MAX_RECEIVES: u32 = 5;

pub struct Harness<R, O> {
    pub time: Arc<dyn TestTime>,
    pub clock: SharedClock,
    pub jobs: MemoryJobStore,
    pub orders: MemoryOrderStore,
    pub documents: MemoryDocumentStore,
    pub queue: VirtualQueue<SharedClock>,
    pub reports: R,
    pub orders_api: O,
    pub settings: FlowSettings,
    pub shipments: MemoryShipmentStore,
    pub feed_jobs: MemoryFeedJobStore,
    pub feed_settings: FeedSettings,
    pub feeds: Option<Arc<dyn FeedsApi>>,
    pub packages: Option<Arc<dyn PackagesApi>>,
    /// Recording → confirmed seconds of every shipment the closed loop confirmed.
    pub confirm_seconds: Vec<i64>,
    feed_random: u64,
    confirmed_now: Mutex<Vec<i64>>,
    pub transcript: Vec<String>,
    pub dead_letters: Vec<QueuedMessage>,
    receives: std::collections::HashMap<String, u32>,
}

impl<R: ReportsApi, O: OrdersApi> Harness<R, O> {
    pub fn new(time: Arc<dyn TestTime>, reports: R, orders_api: O) -> Self {
        let clock = SharedClock(time.clone());
        Self {
            time,
            queue: VirtualQueue::new(clock.clone()),
            clock,
            jobs: MemoryJobStore::new(),
            orders: MemoryOrderStore::new(),
            documents: MemoryDocumentStore::new(),
            reports,
            orders_api,
            settings: FlowSettings::default(),
            shipments: MemoryShipmentStore::new(),
            feed_jobs: MemoryFeedJobStore::new(),
            feed_settings: FeedSettings::default(),
            feeds: None,
            packages: None,
            confirm_seconds: Vec::new(),
            feed_random: 1,
            confirmed_now: Mutex::new(Vec::new()),
            transcript: Vec::new(),
            dead_letters: Vec::new(),
            receives: Default::default(),
        }
    }

    pub fn report_ports(&self) -> ReportPorts<'_> {
        ReportPorts {
            clock: &self.clock,
            jobs: &self.jobs,
            queue: &self.queue,
            reports: &self.reports,
            documents: &self.documents,
        }
    }

    pub async fn start(&self, seller: &str, marketplace: &str) -> StartOutcome {
        start_report(
            &self.report_ports(),
            &SellerId::new(seller),
            &MarketplaceId::new(marketplace),
            &self.settings,
        )
        .await
        .expect("start_report")
    }

    /// Delivers one message to its step, as the function consuming its queue would.
    pub async fn deliver(&self, m: &QueuedMessage) -> Result<StepOutcome, WorkflowError> {
        if let Some(out) = defer_if_early(&self.queue, &self.clock, &m.message).await? {
            return Ok(out);
        }
        match m.queue {
            QueueName::PollReport => {
                poll_report(&self.report_ports(), &m.message, &self.settings).await
            }
            QueueName::ImportReport => {
                let ports = ImportPorts {
                    clock: &self.clock,
                    jobs: &self.jobs,
                    orders: &self.orders,
                    documents: &self.documents,
                    queue: &self.queue,
                };
                import_report(&ports, &m.message).await
            }
            QueueName::EnrichOrders => {
                let ports = EnrichPorts {
                    clock: &self.clock,
                    jobs: &self.jobs,
                    orders: &self.orders,
                    queue: &self.queue,
                    orders_api: &self.orders_api,
                };
                enrich_orders(&ports, &m.message, &self.settings).await
            }
            QueueName::FeedSteps => {
                let ports = self.feed_ports();
                match &m.message.step {
                    Step::SendShipments { seller_id } => {
                        start_feed(&ports, seller_id, &self.feed_settings, 7)
                            .await
                            .map(|o| StepOutcome::Advanced(feed_start_name(&o)))
                    }
                    Step::ConfirmShipments { .. } => {
                        let (outcome, summary) =
                            confirm_shipments(&ports, &m.message, &self.feed_settings).await?;
                        self.confirmed_now.lock().unwrap().extend(summary.confirmed);
                        Ok(outcome)
                    }
                    _ => feed_step(&ports, &m.message, &self.feed_settings).await,
                }
            }
        }
    }

    /// The ports of the fulfilment flow (needs [`Harness::with_feeds`]).
    pub fn feed_ports(&self) -> FeedPorts<'_> {
        FeedPorts {
            clock: &self.clock,
            feed_jobs: &self.feed_jobs,
            shipments: &self.shipments,
            orders: &self.orders,
            documents: &self.documents,
            queue: &self.queue,
            feeds: self.feeds.as_deref().expect("Harness::with_feeds"),
            packages: self.packages.as_deref().expect("Harness::with_feeds"),
        }
    }

    /// Adds the Feeds API and the packages read-back.
    pub fn with_feeds(mut self, feeds: Arc<dyn FeedsApi>, packages: Arc<dyn PackagesApi>) -> Self {
        self.feeds = Some(feeds);
        self.packages = Some(packages);
        self
    }

    /// Runs the schedule's feed start for a seller, as send-shipments would.
    pub async fn start_feed(&mut self, seller: &str) -> spsync_workflow::FeedStart {
        self.feed_random += 1;
        let ports = self.feed_ports();
        start_feed(
            &ports,
            &SellerId::new(seller),
            &self.feed_settings,
            self.feed_random,
        )
        .await
        .expect("start_feed")
    }

    /// Delivers every message due now; failures come back after [`VISIBILITY`] and go to
    /// the dead letters after [`MAX_RECEIVES`]. Returns how many were delivered.
    pub async fn deliver_due(&mut self) -> usize {
        let due = self.queue.take_due(self.time.now());
        let n = due.len();
        for m in due {
            let id = m.message.to_json();
            let receives = {
                let r = self.receives.entry(id.clone()).or_default();
                *r += 1;
                *r
            };
            let result = self.deliver(&m).await;
            let confirmed: Vec<i64> = std::mem::take(&mut *self.confirmed_now.lock().unwrap());
            self.confirm_seconds.extend(confirmed);
            let line = format!(
                "{} {} attempt={} -> {}",
                self.time.now().time(),
                m.message.step.name(),
                m.message.attempt,
                match &result {
                    Ok(o) => format!("{o:?}"),
                    Err(e) => format!("Err({}: {e})", e.class()),
                }
            );
            self.transcript.push(line);
            if result.is_err() {
                if receives >= MAX_RECEIVES {
                    self.dead_letters.push(m);
                } else {
                    let at = self.time.now() + VISIBILITY;
                    self.queue.redeliver(m, at);
                }
            } else {
                self.receives.remove(&id);
            }
        }
        n
    }

    /// Runs deliveries, moving time to the next visible message, for at most `limit` of
    /// simulated time or until nothing is queued.
    pub async fn run_until_idle(&mut self, limit: Duration) {
        let end = self.time.now() + limit;
        loop {
            while self.deliver_due().await > 0 {}
            let Some(next) = self.queue.next_visible() else {
                return;
            };
            if next > end {
                return;
            }
            let now = self.time.now();
            if next > now {
                self.time.advance((next - now).unsigned_abs());
            }
        }
    }

    pub fn only_job(&self) -> ReportJob {
        let jobs = self.jobs.all_jobs();
        assert_eq!(jobs.len(), 1, "jobs: {jobs:#?}");
        jobs.into_iter().next().unwrap()
    }

    pub fn jobs_in(&self, state: JobState) -> Vec<ReportJob> {
        self.jobs
            .all_jobs()
            .into_iter()
            .filter(|j| j.state == state)
            .collect()
    }
}

fn feed_start_name(o: &spsync_workflow::FeedStart) -> &'static str {
    match o {
        spsync_workflow::FeedStart::Started { .. } => "feed started",
        spsync_workflow::FeedStart::Busy(_) => "feed busy",
        spsync_workflow::FeedStart::Idle => "no shipments queued",
        spsync_workflow::FeedStart::Waiting(_) => "shipments wait",
    }
}
