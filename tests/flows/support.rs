//! Virtual-mode harness: the workflow's use cases over in-memory stores and a virtual queue,
//! on a clock the test moves (a manual clock, or the simulator's). A three-hour report flow
//! runs in milliseconds, and every delivery is written to a transcript.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use spsync_domain::{AmazonOrderId, Enrichment, JobState, MarketplaceId, ReportJob, SellerId};
use spsync_testkit::memory::{
    MemoryDocumentStore, MemoryJobStore, MemoryOrderStore, QueuedMessage, VirtualQueue,
};
use spsync_testkit::shipping::{MemoryFeedJobStore, MemoryShipmentStore};
use spsync_workflow::{
    ApiError, Clock, DownloadedDocument, EnrichPorts, FeedPorts, FeedSettings, FeedsApi,
    FlowSettings, ImportPorts, OrderSearchPage, OrdersApi, PackagesApi, QueueName, ReportPorts,
    ReportStatus, ReportsApi, StartOutcome, Step, StepOutcome, WorkflowError, confirm_shipments,
    defer_if_early, enrich_orders, feed_step, import_report, poll_report, start_feed, start_report,
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

    /// Now, on the harness's clock.
    pub fn clock_now(&self) -> OffsetDateTime {
        self.time.now()
    }

    /// Delivers what is due, or moves time to the next visible message and delivers that.
    /// Returns whether anything was delivered.
    pub async fn run_one_step(&mut self) -> bool {
        if self.deliver_due().await > 0 {
            return true;
        }
        let Some(next) = self.queue.next_visible() else {
            return false;
        };
        let now = self.time.now();
        if next > now {
            self.time.advance((next - now).unsigned_abs());
        }
        self.deliver_due().await > 0
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

/// A `SellerClients` for one simulator seller, as the functions build it, in virtual mode:
/// the usage-plan buckets refill on the simulator's clock and a usage-plan wait comes back as
/// `Throttled` (the flow re-queues the step instead of sleeping).
pub async fn sim_seller_clients(
    server: &spsync_sim::SimServer,
    seller: &str,
    marketplaces: &[&str],
) -> spsync_spapi::seller_clients::SellerClients {
    use spsync_testkit::memory::MemoryCredentials;
    use spsync_workflow::{LwaSecret, SellerAccount, SellerDirectory};
    let sellers = Arc::new(MemoryJobStore::new());
    let secret_id = format!("spsync/sellers/{seller}");
    sellers
        .put_seller(&SellerAccount {
            seller_id: SellerId::new(seller),
            marketplaces: marketplaces
                .iter()
                .map(|m| MarketplaceId::new(*m))
                .collect(),
            region: "na".into(),
            credentials_secret: secret_id.clone(),
            enabled: true,
        })
        .await
        .expect("seller registered");
    let secrets = Arc::new(MemoryCredentials::new());
    secrets.insert(
        secret_id,
        LwaSecret {
            client_id: "spsync-sim-client".into(),
            client_secret: "spsync-sim-secret".into(),
            refresh_token: "spsync-sim-refresh".into(),
        },
    );
    let overrides = spsync_spapi::seller_clients::EndpointOverrides {
        spapi: Some(server.url().parse().expect("simulator url")),
        lwa: Some(server.lwa_url().parse().expect("simulator LWA url")),
    };
    let sim = server.sim().clone();
    let (origin, sim_start) = (std::time::Instant::now(), sim.clock.now());
    let limiter_clock = spsync_spapi::LimiterClock(Arc::new(move || {
        origin + (sim.clock.now() - sim_start).unsigned_abs()
    }));
    spsync_spapi::seller_clients::SellerClients::new(sellers, secrets, overrides).with_config_hook(
        move |c| {
            c.limiter_clock = Some(limiter_clock.clone());
            c.max_in_process_wait = Duration::ZERO;
            c.jitter_seed = Some(7);
            c.transient_backoff.base = Duration::from_millis(1);
            c.transient_backoff.cap = Duration::from_millis(5);
        },
    )
}

/// Both SP-API ports through one shared `SellerClients` (one client per seller).
#[derive(Clone)]
pub struct SimAmazon(pub Arc<spsync_spapi::seller_clients::SellerClients>);

#[async_trait]
impl ReportsApi for SimAmazon {
    async fn create_report(
        &self,
        seller: &SellerId,
        report_type: &str,
        marketplace: &MarketplaceId,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<String, ApiError> {
        self.0
            .create_report(seller, report_type, marketplace, start, end)
            .await
    }
    async fn get_report(&self, seller: &SellerId, id: &str) -> Result<ReportStatus, ApiError> {
        self.0.get_report(seller, id).await
    }
    async fn cancel_report(&self, seller: &SellerId, id: &str) -> Result<(), ApiError> {
        self.0.cancel_report(seller, id).await
    }
    async fn find_report(
        &self,
        seller: &SellerId,
        report_type: &str,
        marketplace: &MarketplaceId,
        since: OffsetDateTime,
    ) -> Result<Option<String>, ApiError> {
        self.0
            .find_report(seller, report_type, marketplace, since)
            .await
    }
    async fn download_report_document(
        &self,
        seller: &SellerId,
        id: &str,
    ) -> Result<DownloadedDocument, ApiError> {
        self.0.download_report_document(seller, id).await
    }
}

#[async_trait]
impl OrdersApi for SimAmazon {
    async fn search_updated_orders(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        after: OffsetDateTime,
        token: Option<&str>,
    ) -> Result<OrderSearchPage, ApiError> {
        self.0
            .search_updated_orders(seller, marketplace, after, token)
            .await
    }
    async fn get_order(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Enrichment>, ApiError> {
        OrdersApi::get_order(&*self.0, seller, id).await
    }
}
