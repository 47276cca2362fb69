//! Lambda function `send-tracking`: recorded shipments out to Amazon as fulfilment feeds, and
//! the closed loop that confirms them (issue 4).
//!
//! Two triggers, one function (template.yaml):
//! * the tracking schedule, whose Input is `{"flow":"tracking"}`:
//!   [`spsync_workflow::start_feeds`] starts the next POST_FLAT_FILE_FULFILLMENT_DATA feed of
//!   every enabled seller with queued shipments (one live feed per seller);
//! * FeedStepsQueue (batches of one): `FeedStep` (document, upload, createFeed, getFeed polls,
//!   the processing report applied line by line), `SendShipments` (the next feed, sent when one
//!   ends and spaced by createFeed's usage plan) and `ConfirmShipments` (the read-back that
//!   confirms shipments and fulfils orders). Failures come back through `batchItemFailures`.
//!
//! Metrics: `FeedsStarted`, `ShipmentsConfirmed`, `OrdersFulfilled`, `ShipmentsGivenUp`,
//! `ReadBackCalls` (the read-back's searchOrders and getOrder calls), and
//! `ShipmentConfirmSeconds` (one value per confirmed shipment: recording → confirmed at
//! Amazon, for p50/p95 in CloudWatch), plus the step counts every function publishes.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use spsync_lambda_kit::{
    BatchError, ConfigError, EnvReader, FromEnv, Metrics, MetricsConfig, Unit, run_sqs_batch,
};
use spsync_spapi::EndpointOverrides;
use spsync_workflow::{
    Clock, DocumentStore, FeedJobStore, FeedPorts, FeedSettings, FeedStart, FeedsApi, OrderStore,
    PackagesApi, SellerDirectory, ShipmentStore, Step, StepMessage, StepOutcome, StepQueue,
    WorkflowError, confirm_shipments, defer_if_early, feed_step, start_feed, start_feeds,
};
use tracing::info;
use url::Url;

/// JobsTable's name (feed jobs, live-feed slots, the seller registry).
pub const JOBS_TABLE_NAME: &str = "JOBS_TABLE_NAME";
/// OrdersTable's name.
pub const ORDERS_TABLE_NAME: &str = "ORDERS_TABLE_NAME";
/// ShipmentsTable's name.
pub const SHIPMENTS_TABLE_NAME: &str = "SHIPMENTS_TABLE_NAME";
/// DocumentsBucket's name (feed files, record maps, processing reports).
pub const DOCUMENTS_BUCKET: &str = "DOCUMENTS_BUCKET";
/// FeedStepsQueue's URL.
pub const FEED_STEPS_QUEUE_URL: &str = "FEED_STEPS_QUEUE_URL";
/// SP-API base URL; empty = each seller's regional Amazon endpoint.
pub const SPAPI_ENDPOINT: &str = "SPAPI_ENDPOINT";
/// LWA token URL; empty = Amazon's.
pub const LWA_ENDPOINT: &str = "LWA_ENDPOINT";
/// Seconds the oldest queued shipment may wait for more to batch with (default 0: send as
/// soon as no feed is live).
pub const FEED_MAX_WAIT_SECONDS: &str = "FEED_MAX_WAIT_SECONDS";
/// Queued shipments that start a feed at once whatever their age (default 1).
pub const FEED_MIN_BATCH: &str = "FEED_MIN_BATCH";

/// The flow this function's schedule names in its Input.
pub const FLOW: &str = "tracking";

/// Steps of one batch run one at a time (batches are of one in the template anyway).
pub const BATCH_CONCURRENCY: usize = 1;

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// JobsTable's name.
    pub jobs_table_name: String,
    /// OrdersTable's name.
    pub orders_table_name: String,
    /// ShipmentsTable's name.
    pub shipments_table_name: String,
    /// DocumentsBucket's name.
    pub documents_bucket: String,
    /// FeedStepsQueue's URL.
    pub feed_steps_queue_url: String,
    /// SP-API endpoint override.
    pub spapi_endpoint: Option<Url>,
    /// LWA endpoint override.
    pub lwa_endpoint: Option<Url>,
    /// Batch policy: longest wait of the oldest queued shipment.
    pub max_wait: Duration,
    /// Batch policy: shipments that start a feed at once.
    pub min_batch: usize,
    /// Metrics namespace and service.
    pub metrics: MetricsConfig,
}

impl FromEnv for Config {
    fn from_reader(mut env: EnvReader<'_>) -> Result<Self, ConfigError> {
        let config = Self {
            jobs_table_name: env.required(JOBS_TABLE_NAME),
            orders_table_name: env.required(ORDERS_TABLE_NAME),
            shipments_table_name: env.required(SHIPMENTS_TABLE_NAME),
            documents_bucket: env.required(DOCUMENTS_BUCKET),
            feed_steps_queue_url: env.required(FEED_STEPS_QUEUE_URL),
            spapi_endpoint: env.parse_optional(SPAPI_ENDPOINT),
            lwa_endpoint: env.parse_optional(LWA_ENDPOINT),
            max_wait: Duration::from_secs(env.parse::<u64>(FEED_MAX_WAIT_SECONDS, 0)),
            min_batch: env.parse::<usize>(FEED_MIN_BATCH, 1).max(1),
            metrics: MetricsConfig::from_reader(&mut env),
        };
        env.finish()?;
        Ok(config)
    }
}

impl Config {
    /// The fulfilment flow's settings.
    pub fn feed_settings(&self) -> FeedSettings {
        FeedSettings {
            max_wait: self.max_wait,
            min_batch: self.min_batch,
            ..FeedSettings::default()
        }
    }

    /// SP-API and LWA endpoint overrides for `SellerClients`.
    pub fn endpoint_overrides(&self) -> EndpointOverrides {
        EndpointOverrides {
            spapi: self.spapi_endpoint.clone(),
            lwa: self.lwa_endpoint.clone(),
        }
    }
}

/// What the handler works with, built once per container.
pub struct Deps {
    /// Flow settings.
    pub settings: FeedSettings,
    /// Stores and APIs.
    pub ports: Ports,
    /// Metrics of the current invocation.
    pub metrics: Metrics,
}

/// The stores and APIs [`Deps`] are built from.
pub struct Ports {
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Seller registry.
    pub sellers: Arc<dyn SellerDirectory>,
    /// Feed jobs.
    pub feed_jobs: Arc<dyn FeedJobStore>,
    /// Shipments.
    pub shipments: Arc<dyn ShipmentStore>,
    /// Orders.
    pub orders: Arc<dyn OrderStore>,
    /// Documents.
    pub documents: Arc<dyn DocumentStore>,
    /// Step queue.
    pub queue: Arc<dyn StepQueue>,
    /// Feeds API.
    pub feeds: Arc<dyn FeedsApi>,
    /// Orders API read-back.
    pub packages: Arc<dyn PackagesApi>,
}

impl Deps {
    /// Deps from explicit ports (AWS adapters in `main`, the local runner's own elsewhere).
    pub fn new(config: &Config, ports: Ports) -> Self {
        Self {
            settings: config.feed_settings(),
            ports,
            metrics: config.metrics.metrics(),
        }
    }

    /// Replaces the metrics writer (the local runner keeps metrics in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn ports(&self) -> FeedPorts<'_> {
        let p = &self.ports;
        FeedPorts {
            clock: p.clock.as_ref(),
            feed_jobs: p.feed_jobs.as_ref(),
            shipments: p.shipments.as_ref(),
            orders: p.orders.as_ref(),
            documents: p.documents.as_ref(),
            queue: p.queue.as_ref(),
            feeds: p.feeds.as_ref(),
            packages: p.packages.as_ref(),
        }
    }

    fn random(&self) -> u64 {
        let now = self.ports.clock.now().unix_timestamp_nanos();
        (now as u64) ^ u64::from(std::process::id()).rotate_left(32)
    }
}

/// The schedule's Input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInput {
    /// The flow to run: [`FLOW`].
    pub flow: String,
}

/// What Lambda hands the function: an SQS batch or the schedule's Input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TrackingEvent {
    /// FeedStepsQueue's batch (`{"Records": [...]}`).
    Sqs(SqsEvent),
    /// The tracking schedule (`{"flow":"tracking"}`).
    Schedule(ScheduleInput),
}

/// The answer: partial batch failures for SQS, counts for the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TrackingResponse {
    /// `{"batchItemFailures": [...]}`.
    Batch(SqsBatchResponse),
    /// `{"flow":"tracking","feeds_started":N,"sellers_failed":M}`.
    Scheduled {
        /// The flow run.
        flow: String,
        /// Feeds started.
        feeds_started: usize,
        /// Sellers whose start failed (logged).
        sellers_failed: usize,
    },
}

/// Handles one invocation, from the queue or the schedule.
pub async fn handle(event: TrackingEvent, deps: &Deps) -> Result<TrackingResponse, BatchError> {
    let result = match event {
        TrackingEvent::Sqs(batch) => handle_batch(batch, deps).await.map(TrackingResponse::Batch),
        TrackingEvent::Schedule(input) => handle_schedule(&input, deps).await,
    };
    deps.metrics.flush();
    result
}

async fn handle_schedule(
    input: &ScheduleInput,
    deps: &Deps,
) -> Result<TrackingResponse, BatchError> {
    if input.flow != FLOW {
        return Err(WorkflowError::Config(format!(
            "send-tracking runs the \"{FLOW}\" flow, the schedule asked for \"{}\"",
            input.flow
        ))
        .into());
    }
    let results = start_feeds(
        &deps.ports(),
        deps.ports.sellers.as_ref(),
        &deps.settings,
        deps.random(),
    )
    .await?;
    let started = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(FeedStart::Started { .. })))
        .count();
    let sellers = results.len();
    let mut errors = results.into_iter().filter_map(|(_, r)| r.err());
    let first_error = errors.next();
    let failed = usize::from(first_error.is_some()) + errors.count();
    deps.metrics
        .add("FeedsStarted", started as f64, Unit::Count);
    info!(
        feeds_started = started,
        sellers,
        sellers_failed = failed,
        "tracking schedule ran"
    );
    if let Some(e) = first_error
        && failed == sellers
    {
        // Every seller failed: fail the invocation so it shows in Errors (and is retried).
        return Err(e.into());
    }
    Ok(TrackingResponse::Scheduled {
        flow: FLOW.into(),
        feeds_started: started,
        sellers_failed: failed,
    })
}

async fn handle_batch(event: SqsEvent, deps: &Deps) -> Result<SqsBatchResponse, BatchError> {
    run_sqs_batch(event, BATCH_CONCURRENCY, |message| step(deps, message)).await
}

async fn step(deps: &Deps, message: StepMessage) -> Result<StepOutcome, WorkflowError> {
    let ports = deps.ports();
    let result = match defer_if_early(ports.queue, ports.clock, &message).await {
        Ok(Some(deferred)) => Ok(deferred),
        Ok(None) => run_step(&ports, deps, &message).await,
        Err(e) => Err(e.into()),
    };
    deps.metrics.record_step(&result);
    result
}

async fn run_step(
    ports: &FeedPorts<'_>,
    deps: &Deps,
    message: &StepMessage,
) -> Result<StepOutcome, WorkflowError> {
    match &message.step {
        Step::FeedStep { .. } => feed_step(ports, message, &deps.settings).await,
        Step::SendShipments { seller_id } => {
            let outcome = start_feed(ports, seller_id, &deps.settings, deps.random()).await?;
            Ok(match outcome {
                FeedStart::Started { .. } => {
                    deps.metrics.incr("FeedsStarted");
                    StepOutcome::Advanced("feed started")
                }
                FeedStart::Busy(_) => StepOutcome::Ignored("a feed is live"),
                FeedStart::Idle => StepOutcome::Ignored("no shipments queued"),
                FeedStart::Waiting(wait) => StepOutcome::Requeued(wait),
            })
        }
        Step::ConfirmShipments { .. } => {
            let (outcome, summary) = confirm_shipments(ports, message, &deps.settings).await?;
            for secs in &summary.confirmed {
                deps.metrics
                    .observe("ShipmentConfirmSeconds", *secs as f64, Unit::Seconds);
            }
            deps.metrics.add(
                "ShipmentsConfirmed",
                summary.confirmed.len() as f64,
                Unit::Count,
            );
            deps.metrics.add(
                "OrdersFulfilled",
                summary.fulfilled_orders as f64,
                Unit::Count,
            );
            deps.metrics
                .add("ShipmentsGivenUp", summary.given_up as f64, Unit::Count);
            deps.metrics
                .add("ReadBackCalls", f64::from(summary.calls), Unit::Count);
            Ok(outcome)
        }
        other => Err(WorkflowError::Config(format!(
            "send-tracking does not run {} steps (wrong queue?)",
            other.name()
        ))),
    }
}

#[cfg(test)]
#[path = "../../test_support.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    use async_trait::async_trait;
    use spsync_domain::{AmazonOrderId, MarketplaceId, OrderShipmentsSeen, SellerId};
    use spsync_testkit::memory::{
        MemoryDocumentStore, MemoryJobStore, MemoryOrderStore, VirtualQueue,
    };
    use spsync_testkit::shipping::{MemoryFeedJobStore, MemoryShipmentStore};
    use spsync_workflow::{
        ApiError, DownloadedDocument, FeedStatus, FeedUpload, PackagesPage, SellerAccount,
    };
    use time::OffsetDateTime;

    /// Amazon must not be called in these tests: every call is a permanent error.
    struct NoAmazon;

    fn not_called(operation: &'static str) -> ApiError {
        ApiError::Permanent {
            operation,
            code: "NotExpected".into(),
            message: "the test expected no SP-API call".into(),
        }
    }

    #[async_trait]
    impl FeedsApi for NoAmazon {
        async fn create_feed_document(
            &self,
            _: &SellerId,
            _: &str,
        ) -> Result<FeedUpload, ApiError> {
            Err(not_called("createFeedDocument"))
        }
        async fn upload_feed_document(
            &self,
            _: &SellerId,
            _: &str,
            _: &str,
            _: Vec<u8>,
        ) -> Result<(), ApiError> {
            Err(not_called("upload"))
        }
        async fn create_feed(
            &self,
            _: &SellerId,
            _: &str,
            _: &[MarketplaceId],
            _: &str,
        ) -> Result<String, ApiError> {
            Err(not_called("createFeed"))
        }
        async fn get_feed(&self, _: &SellerId, _: &str) -> Result<FeedStatus, ApiError> {
            Err(not_called("getFeed"))
        }
        async fn find_feed(
            &self,
            _: &SellerId,
            _: &str,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> Result<Option<String>, ApiError> {
            Err(not_called("getFeeds"))
        }
        async fn download_feed_document(
            &self,
            _: &SellerId,
            _: &str,
        ) -> Result<DownloadedDocument, ApiError> {
            Err(not_called("getFeedDocument"))
        }
    }

    #[async_trait]
    impl PackagesApi for NoAmazon {
        async fn search_packages(
            &self,
            _: &SellerId,
            _: &MarketplaceId,
            _: OffsetDateTime,
            _: Option<&str>,
        ) -> Result<PackagesPage, ApiError> {
            Err(not_called("searchOrders"))
        }
        async fn get_packages(
            &self,
            _: &SellerId,
            _: &AmazonOrderId,
        ) -> Result<Option<OrderShipmentsSeen>, ApiError> {
            Err(not_called("getOrder"))
        }
    }

    struct World {
        deps: Deps,
        queue: Arc<VirtualQueue<SharedClock>>,
    }

    async fn world() -> World {
        let clock = SharedClock::at_fixture_time();
        let queue = Arc::new(VirtualQueue::new(clock.clone()));
        let sellers = Arc::new(MemoryJobStore::new());
        sellers
            .put_seller(&SellerAccount {
                seller_id: SellerId::new("A1SIMSELLER0001"),
                marketplaces: vec![MarketplaceId::new("ATVPDKIKX0DER")],
                region: "na".into(),
                credentials_secret: "spsync/sellers/A1SIMSELLER0001".into(),
                enabled: true,
            })
            .await
            .unwrap();
        let config = Config::from_map(&template_environment("send-tracking")).unwrap();
        let deps = Deps::new(
            &config,
            Ports {
                clock: Arc::new(clock),
                sellers,
                feed_jobs: Arc::new(MemoryFeedJobStore::new()),
                shipments: Arc::new(MemoryShipmentStore::new()),
                orders: Arc::new(MemoryOrderStore::new()),
                documents: Arc::new(MemoryDocumentStore::new()),
                queue: queue.clone(),
                feeds: Arc::new(NoAmazon),
                packages: Arc::new(NoAmazon),
            },
        )
        .with_metrics(Metrics::in_memory("spsync", "spsync"));
        World { deps, queue }
    }

    #[tokio::test]
    async fn the_schedule_with_nothing_recorded_starts_no_feed_and_calls_nobody() {
        let w = world().await;

        let response = handle(event_fixture("schedule.tracking.json"), &w.deps)
            .await
            .unwrap();

        assert_eq!(
            serde_json::to_value(response).unwrap(),
            serde_json::json!({"flow": "tracking", "feeds_started": 0, "sellers_failed": 0})
        );
        assert!(w.queue.pending().is_empty());
    }

    #[tokio::test]
    async fn a_schedule_asking_for_another_flow_fails_the_invocation() {
        let w = world().await;
        let event: TrackingEvent =
            serde_json::from_value(serde_json::json!({"flow": "orders"})).unwrap();

        let err = handle(event, &w.deps).await.unwrap_err().to_string();

        assert!(err.contains("tracking"), "{err}");
    }

    #[tokio::test]
    async fn a_batch_reports_only_the_message_sent_to_the_wrong_queue_as_failed() {
        let w = world().await;

        let response = handle(event_fixture("sqs.feed_steps.json"), &w.deps)
            .await
            .unwrap();

        let TrackingResponse::Batch(batch) = response else {
            panic!("{response:?}")
        };
        let failed: Vec<&str> = batch
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        // The FeedStep of an unknown job is a harmless late message; the PollReport is not
        // this function's and comes back (then the dead-letter queue shows it).
        assert_eq!(failed, vec!["5d1a7c3e-2f4b-4e8a-9c1d-000000000002"]);
    }

    #[test]
    fn config_reads_exactly_the_template_environment() {
        assert_config_matches_template("send-tracking", Config::from_reader);
    }

    #[test]
    fn batch_policy_comes_from_the_environment() {
        let mut env = template_environment("send-tracking");
        env.insert(FEED_MAX_WAIT_SECONDS.into(), "300".into());
        env.insert(FEED_MIN_BATCH.into(), "250".into());
        let settings = Config::from_map(&env).unwrap().feed_settings();
        assert_eq!(
            (settings.max_wait, settings.min_batch),
            (Duration::from_secs(300), 250)
        );
        env.insert(FEED_MIN_BATCH.into(), "lots".into());
        let err = Config::from_map(&env).unwrap_err().to_string();
        assert!(err.contains(FEED_MIN_BATCH), "{err}");
    }
}
