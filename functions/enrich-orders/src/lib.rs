//! Lambda function `enrich-orders`: completes orders through Orders API v2026-01-01.
//!
//! Two triggers, one function (template.yaml):
//! * the enrichment schedule, whose Input is `{"flow":"enrich"}`:
//!   [`spsync_workflow::schedule_enrichment`] sends one EnrichOrders step per enabled
//!   seller × marketplace;
//! * EnrichOrdersQueue (batches of one): each record is an EnrichOrders step (sent by the
//!   schedule or after an import) and runs [`spsync_workflow::enrich_orders`]: searchOrders
//!   over the seller's cursor, getOrder for a few stragglers. A throttled pass is re-sent
//!   with its page token; failures come back through `batchItemFailures`.
//!
//! [`Config`] reads the environment template.yaml gives `EnrichOrdersFunction`; [`Deps`] holds
//! the ports, built by `main.rs` for AWS or by the local runner for its own stack.
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
    Clock, EnrichPorts, FlowSettings, JobStore, OrderStore, OrdersApi, SellerDirectory,
    StepMessage, StepOutcome, StepQueue, WorkflowError, defer_if_early, enrich_orders,
    schedule_enrichment,
};
use tracing::info;
use url::Url;

/// JobsTable's name (enrichment cursors, the seller registry).
pub const JOBS_TABLE_NAME: &str = "JOBS_TABLE_NAME";
/// OrdersTable's name.
pub const ORDERS_TABLE_NAME: &str = "ORDERS_TABLE_NAME";
/// EnrichOrdersQueue's URL (the schedule's steps, throttled passes).
pub const ENRICH_ORDERS_QUEUE_URL: &str = "ENRICH_ORDERS_QUEUE_URL";
/// SP-API base URL; empty = each seller's regional Amazon endpoint.
pub const SPAPI_ENDPOINT: &str = "SPAPI_ENDPOINT";
/// LWA token URL; empty = Amazon's.
pub const LWA_ENDPOINT: &str = "LWA_ENDPOINT";
/// How far back the order report reaches (hours); a seller's first pass reaches as far.
pub const ORDERS_LOOKBACK_HOURS: &str = "ORDERS_LOOKBACK_HOURS";

/// The flow this function's schedule names in its Input.
pub const FLOW: &str = "enrich";

/// One pass at a time: searchOrders allows about one request every 3 minutes (burst 20) per
/// seller and application.
pub const BATCH_CONCURRENCY: usize = 1;

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// JobsTable's name.
    pub jobs_table_name: String,
    /// OrdersTable's name.
    pub orders_table_name: String,
    /// EnrichOrdersQueue's URL.
    pub enrich_orders_queue_url: String,
    /// SP-API endpoint override.
    pub spapi_endpoint: Option<Url>,
    /// LWA endpoint override.
    pub lwa_endpoint: Option<Url>,
    /// Order report lookback (the first pass of a seller reaches as far).
    pub lookback: Duration,
    /// Metrics namespace and service.
    pub metrics: MetricsConfig,
}

impl FromEnv for Config {
    fn from_reader(mut env: EnvReader<'_>) -> Result<Self, ConfigError> {
        let config = Self {
            jobs_table_name: env.required(JOBS_TABLE_NAME),
            orders_table_name: env.required(ORDERS_TABLE_NAME),
            enrich_orders_queue_url: env.required(ENRICH_ORDERS_QUEUE_URL),
            spapi_endpoint: env.parse_optional(SPAPI_ENDPOINT),
            lwa_endpoint: env.parse_optional(LWA_ENDPOINT),
            lookback: Duration::from_secs(env.parse::<u64>(ORDERS_LOOKBACK_HOURS, 72) * 3600),
            metrics: MetricsConfig::from_reader(&mut env),
        };
        env.finish()?;
        Ok(config)
    }
}

impl Config {
    /// The flow settings this function uses (the first pass of a seller reaches back as far
    /// as the order report).
    pub fn flow_settings(&self) -> FlowSettings {
        FlowSettings {
            lookback: self.lookback,
            ..FlowSettings::default()
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
    pub settings: FlowSettings,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Cursors.
    pub jobs: Arc<dyn JobStore>,
    /// Seller registry (the schedule).
    pub sellers: Arc<dyn SellerDirectory>,
    /// Orders.
    pub orders: Arc<dyn OrderStore>,
    /// Step queue (EnrichOrders).
    pub queue: Arc<dyn StepQueue>,
    /// Orders API v2026-01-01.
    pub orders_api: Arc<dyn OrdersApi>,
    /// Metrics of the current invocation.
    pub metrics: Metrics,
}

impl Deps {
    /// Deps from explicit ports (AWS adapters in `main`, the local runner's own elsewhere).
    pub fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        jobs: Arc<dyn JobStore>,
        sellers: Arc<dyn SellerDirectory>,
        orders: Arc<dyn OrderStore>,
        queue: Arc<dyn StepQueue>,
        orders_api: Arc<dyn OrdersApi>,
    ) -> Self {
        Self {
            settings: config.flow_settings(),
            clock,
            jobs,
            sellers,
            orders,
            queue,
            orders_api,
            metrics: config.metrics.metrics(),
        }
    }

    /// Replaces the metrics writer (the local runner keeps metrics in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn ports(&self) -> EnrichPorts<'_> {
        EnrichPorts {
            clock: self.clock.as_ref(),
            jobs: self.jobs.as_ref(),
            orders: self.orders.as_ref(),
            queue: self.queue.as_ref(),
            orders_api: self.orders_api.as_ref(),
        }
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
pub enum EnrichEvent {
    /// EnrichOrdersQueue's batch (`{"Records": [...]}`).
    Sqs(SqsEvent),
    /// The enrichment schedule (`{"flow":"enrich"}`).
    Schedule(ScheduleInput),
}

/// The answer: partial batch failures for SQS, a count for the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EnrichResponse {
    /// `{"batchItemFailures": [...]}`.
    Batch(SqsBatchResponse),
    /// `{"flow":"enrich","messages_sent":N}`.
    Scheduled {
        /// The flow run.
        flow: String,
        /// EnrichOrders steps sent.
        messages_sent: usize,
    },
}

/// Handles one invocation, from the queue or the schedule.
pub async fn handle(event: EnrichEvent, deps: &Deps) -> Result<EnrichResponse, BatchError> {
    let result = match event {
        EnrichEvent::Sqs(batch) => handle_batch(batch, deps).await.map(EnrichResponse::Batch),
        EnrichEvent::Schedule(input) => handle_schedule(&input, deps).await,
    };
    deps.metrics.flush();
    result
}

async fn handle_schedule(input: &ScheduleInput, deps: &Deps) -> Result<EnrichResponse, BatchError> {
    if input.flow != FLOW {
        return Err(WorkflowError::Config(format!(
            "enrich-orders runs the \"{FLOW}\" flow, the schedule asked for \"{}\"",
            input.flow
        ))
        .into());
    }
    let sent = schedule_enrichment(
        deps.queue.as_ref(),
        deps.clock.as_ref(),
        deps.sellers.as_ref(),
    )
    .await?;
    deps.metrics
        .add("EnrichScheduled", sent as f64, Unit::Count);
    info!(messages_sent = sent, "enrichment scheduled");
    Ok(EnrichResponse::Scheduled {
        flow: FLOW.into(),
        messages_sent: sent,
    })
}

async fn handle_batch(event: SqsEvent, deps: &Deps) -> Result<SqsBatchResponse, BatchError> {
    let ports = deps.ports();
    run_sqs_batch(event, BATCH_CONCURRENCY, |message| {
        step(&ports, deps, message)
    })
    .await
}

async fn step(
    ports: &EnrichPorts<'_>,
    deps: &Deps,
    message: StepMessage,
) -> Result<StepOutcome, WorkflowError> {
    let result = match defer_if_early(ports.queue, ports.clock, &message).await {
        Ok(Some(deferred)) => Ok(deferred),
        Ok(None) => enrich_orders(ports, &message, &deps.settings).await,
        Err(e) => Err(e.into()),
    };
    deps.metrics.record_step(&result);
    if let Ok(StepOutcome::Advanced(_)) = &result {
        deps.metrics.incr("EnrichPasses");
    }
    result
}

#[cfg(test)]
#[path = "../../test_support.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::{Value, json};
    use spsync_domain::{AmazonOrderId, Enrichment, MarketplaceId, SellerId};
    use spsync_testkit::memory::{MemoryJobStore, MemoryOrderStore, VirtualQueue};
    use spsync_workflow::{ApiError, OrderSearchPage, SellerAccount, Step};
    use time::OffsetDateTime;

    use super::test_support::*;
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Copy)]
    enum Answer {
        EmptyPage,
        Throttled,
        Transient,
    }

    /// searchOrders answers what the test says; every call is recorded.
    struct FakeOrdersApi {
        answer: Answer,
        searches: Mutex<Vec<(String, OffsetDateTime, Option<String>)>>,
    }

    impl FakeOrdersApi {
        fn answering(answer: Answer) -> Self {
            Self {
                answer,
                searches: Mutex::new(Vec::new()),
            }
        }
    }

    #[async_trait]
    impl OrdersApi for FakeOrdersApi {
        async fn search_updated_orders(
            &self,
            seller: &SellerId,
            _: &MarketplaceId,
            updated_after: OffsetDateTime,
            page_token: Option<&str>,
        ) -> Result<OrderSearchPage, ApiError> {
            self.searches.lock().unwrap().push((
                seller.to_string(),
                updated_after,
                page_token.map(str::to_owned),
            ));
            match self.answer {
                Answer::EmptyPage => Ok(OrderSearchPage {
                    orders: Vec::new(),
                    next_token: None,
                    last_updated_before: Some(fixture_now() - Duration::from_secs(120)),
                }),
                Answer::Throttled => Err(ApiError::Throttled {
                    operation: "searchOrders",
                    retry_after: Duration::from_secs(180),
                }),
                Answer::Transient => Err(ApiError::Transient {
                    operation: "searchOrders",
                    message: "timeout".into(),
                }),
            }
        }

        async fn get_order(
            &self,
            _: &SellerId,
            _: &AmazonOrderId,
        ) -> Result<Option<Enrichment>, ApiError> {
            Ok(None)
        }
    }

    struct World {
        queue: Arc<VirtualQueue<SharedClock>>,
        api: Arc<FakeOrdersApi>,
        jobs: Arc<MemoryJobStore>,
        deps: Deps,
    }

    async fn world(answer: Answer) -> World {
        let clock = SharedClock::at_fixture_time();
        let jobs = Arc::new(MemoryJobStore::new());
        for (seller, marketplaces, enabled) in [
            ("A1SIMSELLER0001", vec!["ATVPDKIKX0DER"], true),
            (
                "A2SIMSELLER0002",
                vec!["A1F83G8C2ARO7P", "A1PA6795UKMFR9"],
                true,
            ),
            ("A3PAUSED000003", vec!["ATVPDKIKX0DER"], false),
        ] {
            jobs.put_seller(&SellerAccount {
                seller_id: SellerId::new(seller),
                marketplaces: marketplaces.into_iter().map(MarketplaceId::new).collect(),
                region: "na".into(),
                credentials_secret: format!("spsync/sellers/{seller}"),
                enabled,
            })
            .await
            .unwrap();
        }
        let queue = Arc::new(VirtualQueue::new(clock.clone()));
        let api = Arc::new(FakeOrdersApi::answering(answer));
        let config = Config::from_map(&template_environment("enrich-orders")).unwrap();
        let deps = Deps::new(
            &config,
            Arc::new(clock),
            jobs.clone(),
            jobs.clone(),
            Arc::new(MemoryOrderStore::new()),
            queue.clone(),
            api.clone(),
        )
        .with_metrics(Metrics::in_memory("spsync", "spsync"));
        World {
            queue,
            api,
            jobs,
            deps,
        }
    }

    fn metrics(w: &World) -> Value {
        let lines = w.deps.metrics.take_lines();
        assert_eq!(lines.len(), 1, "one EMF line per invocation");
        serde_json::from_str(&lines[0]).unwrap()
    }

    #[test]
    fn both_fixtures_decode_to_their_trigger() {
        let schedule: EnrichEvent = event_fixture("schedule.enrich.json");
        let batch: EnrichEvent = event_fixture("sqs.enrich_orders.json");

        assert_eq!(
            schedule,
            EnrichEvent::Schedule(ScheduleInput {
                flow: "enrich".into()
            })
        );
        assert!(matches!(batch, EnrichEvent::Sqs(ref e) if e.records.len() == 1));
    }

    #[tokio::test]
    async fn the_schedule_sends_one_step_per_enabled_seller_and_marketplace() {
        let w = world(Answer::EmptyPage).await;

        let response = handle(event_fixture("schedule.enrich.json"), &w.deps)
            .await
            .unwrap();

        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"flow": "enrich", "messages_sent": 3})
        );
        let mut sent: Vec<(String, String)> = w
            .queue
            .pending()
            .into_iter()
            .map(|q| match q.message.step {
                Step::EnrichOrders {
                    seller_id,
                    marketplace_id,
                    page_token: None,
                    updated_after: None,
                } => (seller_id.to_string(), marketplace_id.to_string()),
                other => panic!("unexpected step {other:?}"),
            })
            .collect();
        sent.sort();
        assert_eq!(
            sent,
            [
                ("A1SIMSELLER0001".into(), "ATVPDKIKX0DER".into()),
                ("A2SIMSELLER0002".into(), "A1F83G8C2ARO7P".into()),
                ("A2SIMSELLER0002".into(), "A1PA6795UKMFR9".into()),
            ]
        );
        assert!(
            w.api.searches.lock().unwrap().is_empty(),
            "the schedule only fans out"
        );
        assert_eq!(metrics(&w)["EnrichScheduled"].as_u64(), Some(3));
    }

    #[tokio::test]
    async fn a_queued_pass_searches_from_the_lookback_and_moves_the_cursor() {
        let w = world(Answer::EmptyPage).await;
        // The cursor never passes the newest imported report; one was imported just now.
        let mut job = spsync_domain::ReportJob::new(
            spsync_domain::JobId::new("20261120T100000Z-00000001"),
            SellerId::new("A1SIMSELLER0001"),
            MarketplaceId::new("ATVPDKIKX0DER"),
            spsync_domain::ORDERS_REPORT_TYPE,
            Duration::from_secs(3 * 86_400),
            fixture_now(),
        );
        job.state = spsync_domain::JobState::Imported;
        w.jobs.put_job(&job, None).await.unwrap();

        let response = handle(event_fixture("sqs.enrich_orders.json"), &w.deps)
            .await
            .unwrap();

        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": []})
        );
        let searches = w.api.searches.lock().unwrap().clone();
        assert_eq!(
            searches,
            [(
                "A1SIMSELLER0001".to_owned(),
                // ORDERS_LOOKBACK_HOURS of the test environment: 48.
                fixture_now() - Duration::from_secs(48 * 3600),
                None
            )]
        );
        // "orders-enrich" is the workflow's enrichment cursor name.
        let cursor = w
            .jobs
            .get_cursor(
                &SellerId::new("A1SIMSELLER0001"),
                &MarketplaceId::new("ATVPDKIKX0DER"),
                "orders-enrich",
            )
            .await
            .unwrap();
        assert_eq!(
            cursor,
            Some(fixture_now() - Duration::from_secs(120)),
            "Amazon's lastUpdatedBefore"
        );
        assert_eq!(metrics(&w)["EnrichPasses"].as_u64(), Some(1));
    }

    #[tokio::test]
    async fn a_throttled_pass_comes_back_after_amazons_wait() {
        let w = world(Answer::Throttled).await;

        let response = handle(event_fixture("sqs.enrich_orders.json"), &w.deps)
            .await
            .unwrap();

        assert!(
            matches!(response, EnrichResponse::Batch(ref b) if b.batch_item_failures.is_empty())
        );
        let pending = w.queue.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].message.attempt, 1);
        assert_eq!(
            pending[0].visible_at,
            fixture_now() + Duration::from_secs(180)
        );
        assert_eq!(metrics(&w)["StepRequeued"].as_u64(), Some(1));
    }

    #[tokio::test]
    async fn a_transient_error_fails_the_record_for_redelivery() {
        let w = world(Answer::Transient).await;

        let result = handle(event_fixture("sqs.enrich_orders.json"), &w.deps).await;

        assert!(
            matches!(result, Err(BatchError::AllFailed { count: 1 })),
            "{result:?}"
        );
        assert!(w.queue.pending().is_empty());
    }

    #[tokio::test]
    async fn a_schedule_for_another_flow_is_refused() {
        let w = world(Answer::EmptyPage).await;
        let event: EnrichEvent = serde_json::from_value(json!({"flow": "orders"})).unwrap();

        let result = handle(event, &w.deps).await;

        assert!(
            matches!(result, Err(BatchError::Step(WorkflowError::Config(_)))),
            "{result:?}"
        );
        assert_eq!(w.queue.sent(), 0);
    }

    #[test]
    fn config_reads_exactly_the_template_environment() {
        assert_config_matches_template("enrich-orders", Config::from_reader);
    }

    #[test]
    fn config_reports_every_problem_at_once() {
        let vars = BTreeMap::from([(LWA_ENDPOINT.to_owned(), "::".to_owned())]);

        let err = Config::from_map(&vars).unwrap_err();

        assert_eq!(err.problems.len(), 4, "{err}");
        for name in [
            JOBS_TABLE_NAME,
            ORDERS_TABLE_NAME,
            ENRICH_ORDERS_QUEUE_URL,
            LWA_ENDPOINT,
        ] {
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
