//! Lambda function `start-report`: the orders report schedule.
//!
//! EventBridge invokes it with the schedule's Input `{"flow":"orders"}`; it starts (or reuses)
//! the order report job of every enabled seller × marketplace through
//! [`spsync_workflow::start_reports`], which records the job and sends its first PollReport
//! step. One seller's failure is logged and counted without stopping the others; the
//! invocation fails (and shows in the `Errors` metric) only when every seller failed.
//!
//! [`Config`] reads the environment template.yaml gives `StartReportFunction`; [`Deps`] holds
//! the ports, built by `main.rs` for AWS or by the local runner for its own stack.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use spsync_lambda_kit::{BatchError, ConfigError, EnvReader, FromEnv, Metrics, MetricsConfig};
use spsync_spapi::EndpointOverrides;
use spsync_workflow::{
    Clock, DocumentMeta, DocumentStore, FlowSettings, JobStore, ReportPorts, ReportsApi,
    SellerDirectory, StartOutcome, StepQueue, StoreError, WorkflowError, start_reports,
};
use tracing::info;
use url::Url;

/// JobsTable's name (jobs, active slots, the seller registry).
pub const JOBS_TABLE_NAME: &str = "JOBS_TABLE_NAME";
/// PollReportQueue's URL (first step of every job).
pub const POLL_REPORT_QUEUE_URL: &str = "POLL_REPORT_QUEUE_URL";
/// ImportReportQueue's URL (a stalled stored job's import is re-sent).
pub const IMPORT_REPORT_QUEUE_URL: &str = "IMPORT_REPORT_QUEUE_URL";
/// SP-API base URL; empty = each seller's regional Amazon endpoint.
pub const SPAPI_ENDPOINT: &str = "SPAPI_ENDPOINT";
/// LWA token URL; empty = Amazon's.
pub const LWA_ENDPOINT: &str = "LWA_ENDPOINT";
/// How far back the order report reaches, in hours (default 72).
pub const ORDERS_LOOKBACK_HOURS: &str = "ORDERS_LOOKBACK_HOURS";
/// A report not DONE this many minutes after its job was created is replaced; the schedule
/// abandons a job that made no way for twice as long.
pub const REPORT_STUCK_AFTER_MINUTES: &str = "REPORT_STUCK_AFTER_MINUTES";

/// The flow this function's schedule names in its Input.
pub const FLOW: &str = "orders";

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// JobsTable's name.
    pub jobs_table_name: String,
    /// PollReportQueue's URL.
    pub poll_report_queue_url: String,
    /// ImportReportQueue's URL.
    pub import_report_queue_url: String,
    /// SP-API endpoint override.
    pub spapi_endpoint: Option<Url>,
    /// LWA endpoint override.
    pub lwa_endpoint: Option<Url>,
    /// Report lookback.
    pub lookback: Duration,
    /// Stuck limit of a report.
    pub stuck_after: Duration,
    /// Metrics namespace and service.
    pub metrics: MetricsConfig,
}

impl FromEnv for Config {
    fn from_reader(mut env: EnvReader<'_>) -> Result<Self, ConfigError> {
        let config = Self {
            jobs_table_name: env.required(JOBS_TABLE_NAME),
            poll_report_queue_url: env.required(POLL_REPORT_QUEUE_URL),
            import_report_queue_url: env.required(IMPORT_REPORT_QUEUE_URL),
            spapi_endpoint: env.parse_optional(SPAPI_ENDPOINT),
            lwa_endpoint: env.parse_optional(LWA_ENDPOINT),
            lookback: Duration::from_secs(env.parse::<u64>(ORDERS_LOOKBACK_HOURS, 72) * 3600),
            stuck_after: Duration::from_secs(
                env.parse::<u64>(REPORT_STUCK_AFTER_MINUTES, 120) * 60,
            ),
            metrics: MetricsConfig::from_reader(&mut env),
        };
        env.finish()?;
        Ok(config)
    }
}

impl Config {
    /// The flow settings this function uses.
    pub fn flow_settings(&self) -> FlowSettings {
        FlowSettings {
            lookback: self.lookback,
            stuck_after: self.stuck_after,
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
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Seller registry.
    pub sellers: Arc<dyn SellerDirectory>,
    /// Step queue (PollReport, ImportReport).
    pub queue: Arc<dyn StepQueue>,
    /// Reports API.
    pub reports: Arc<dyn ReportsApi>,
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
        queue: Arc<dyn StepQueue>,
        reports: Arc<dyn ReportsApi>,
    ) -> Self {
        Self {
            settings: config.flow_settings(),
            clock,
            jobs,
            sellers,
            queue,
            reports,
            metrics: config.metrics.metrics(),
        }
    }

    /// Replaces the metrics writer (the local runner keeps metrics in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// Starting a report stores no document; the port is required by [`ReportPorts`] only
/// because the poll step shares it.
struct NoDocuments;

#[async_trait]
impl DocumentStore for NoDocuments {
    async fn put_document(&self, _: &str, _: Vec<u8>, _: &DocumentMeta) -> Result<(), StoreError> {
        Err(no_documents("put_document"))
    }

    async fn get_document(&self, _: &str) -> Result<(Vec<u8>, DocumentMeta), StoreError> {
        Err(no_documents("get_document"))
    }
}

fn no_documents(operation: &'static str) -> StoreError {
    StoreError::Permanent {
        operation,
        source: "start-report has no document store".into(),
    }
}

/// Handles one schedule invocation; answers a summary per seller × marketplace.
///
/// The event is the schedule's Input: `{"flow":"orders"}` (an empty object or `null`, as a
/// manual invoke may send, is accepted too); another flow is a wiring mistake and fails.
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, BatchError> {
    let result = start_all(&event, deps).await;
    deps.metrics.flush();
    result
}

async fn start_all(event: &Value, deps: &Deps) -> Result<Value, BatchError> {
    check_flow(event)?;
    let ports = ReportPorts {
        clock: deps.clock.as_ref(),
        jobs: deps.jobs.as_ref(),
        queue: deps.queue.as_ref(),
        reports: deps.reports.as_ref(),
        documents: &NoDocuments,
    };
    let results = start_reports(&ports, deps.sellers.as_ref(), &deps.settings).await?;

    let (mut started, mut reused, mut failed) = (0usize, 0usize, 0usize);
    let mut sellers = Vec::with_capacity(results.len());
    for (seller_id, marketplace_id, outcome) in &results {
        let entry = match outcome {
            Ok(StartOutcome::Started(job_id)) => {
                started += 1;
                json!({"outcome": "started", "job_id": job_id})
            }
            Ok(StartOutcome::Reused(job_id)) => {
                reused += 1;
                json!({"outcome": "reused", "job_id": job_id})
            }
            // start_reports has logged the error with its seller and class.
            Err(e) => {
                failed += 1;
                json!({"outcome": "failed", "error_class": e.class()})
            }
        };
        let mut entry = entry;
        entry["seller_id"] = json!(seller_id);
        entry["marketplace_id"] = json!(marketplace_id);
        sellers.push(entry);
    }
    deps.metrics.add(
        "ReportsStarted",
        started as f64,
        spsync_lambda_kit::Unit::Count,
    );
    deps.metrics.add(
        "ReportsReused",
        reused as f64,
        spsync_lambda_kit::Unit::Count,
    );
    deps.metrics.add(
        "ReportStartsFailed",
        failed as f64,
        spsync_lambda_kit::Unit::Count,
    );
    info!(started, reused, failed, "order reports started");

    if failed > 0 && failed == results.len() {
        return Err(BatchError::AllFailed { count: failed });
    }
    Ok(json!({
        "flow": FLOW,
        "started": started,
        "reused": reused,
        "failed": failed,
        "sellers": sellers,
    }))
}

fn check_flow(event: &Value) -> Result<(), WorkflowError> {
    match event.get("flow").and_then(Value::as_str) {
        None | Some(FLOW) => Ok(()),
        Some(other) => Err(WorkflowError::Config(format!(
            "start-report runs the \"{FLOW}\" flow, the schedule asked for \"{other}\""
        ))),
    }
}

#[cfg(test)]
#[path = "../../test_support.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use spsync_domain::{JobState, MarketplaceId, ORDERS_REPORT_TYPE, SellerId};
    use spsync_testkit::memory::{MemoryJobStore, VirtualQueue};
    use spsync_workflow::{
        ApiError, DownloadedDocument, ReportStatus, SellerAccount, Step, StepMessage,
    };
    use time::OffsetDateTime;

    use super::test_support::*;
    use super::*;
    use std::collections::BTreeMap;

    /// start-report never calls Amazon itself (the first PollReport creates the report).
    struct NoReports;

    #[async_trait]
    impl ReportsApi for NoReports {
        async fn create_report(
            &self,
            _: &SellerId,
            _: &str,
            _: &MarketplaceId,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> Result<String, ApiError> {
            panic!("start-report must not call createReport")
        }
        async fn get_report(&self, _: &SellerId, _: &str) -> Result<ReportStatus, ApiError> {
            panic!("start-report must not call getReport")
        }
        async fn cancel_report(&self, _: &SellerId, _: &str) -> Result<(), ApiError> {
            panic!("start-report must not call cancelReport")
        }
        async fn download_report_document(
            &self,
            _: &SellerId,
            _: &str,
        ) -> Result<DownloadedDocument, ApiError> {
            panic!("start-report must not download documents")
        }
    }

    struct World {
        clock: SharedClock,
        jobs: Arc<MemoryJobStore>,
        queue: Arc<VirtualQueue<SharedClock>>,
        deps: Deps,
    }

    async fn world(sellers: &[(&str, &[&str], bool)]) -> World {
        let clock = SharedClock::at_fixture_time();
        let jobs = Arc::new(MemoryJobStore::new());
        for (seller, marketplaces, enabled) in sellers {
            jobs.put_seller(&SellerAccount {
                seller_id: SellerId::new(*seller),
                marketplaces: marketplaces
                    .iter()
                    .map(|m| MarketplaceId::new(*m))
                    .collect(),
                region: "na".into(),
                credentials_secret: format!("spsync/sellers/{seller}"),
                enabled: *enabled,
            })
            .await
            .unwrap();
        }
        let queue = Arc::new(VirtualQueue::new(clock.clone()));
        let config = Config::from_map(&template_environment("start-report")).unwrap();
        let deps = Deps::new(
            &config,
            Arc::new(clock.clone()),
            jobs.clone(),
            jobs.clone(),
            queue.clone(),
            Arc::new(NoReports),
        )
        .with_metrics(Metrics::in_memory("spsync", "spsync"));
        World {
            clock,
            jobs,
            queue,
            deps,
        }
    }

    fn emf(metrics_line: &str) -> Value {
        serde_json::from_str(metrics_line).unwrap()
    }

    #[tokio::test]
    async fn schedule_fixture_starts_a_job_per_enabled_seller_and_marketplace() {
        let w = world(&[
            ("A1SIMSELLER0001", &["ATVPDKIKX0DER"], true),
            (
                "A2SIMSELLER0002",
                &["A1F83G8C2ARO7P", "A1PA6795UKMFR9"],
                true,
            ),
            ("A3PAUSED000003", &["ATVPDKIKX0DER"], false),
        ])
        .await;
        let event: Value = event_fixture("schedule.orders.json");

        let summary = handle(event, &w.deps).await.unwrap();

        assert_eq!(summary["flow"], "orders");
        assert_eq!(
            (summary["started"].as_u64(), summary["failed"].as_u64()),
            (Some(3), Some(0))
        );
        let jobs = w.jobs.all_jobs();
        assert_eq!(jobs.len(), 3);
        assert!(jobs.iter().all(|j| j.state == JobState::Requested
            && j.report_type == ORDERS_REPORT_TYPE
            && j.data_end - j.data_start == time::Duration::hours(48)));
        let polls: Vec<StepMessage> = w.queue.pending().into_iter().map(|q| q.message).collect();
        assert_eq!(polls.len(), 3);
        assert!(
            polls
                .iter()
                .all(|m| matches!(m.step, Step::PollReport { .. }))
        );
        let line = emf(&w.deps.metrics.take_lines()[0]);
        assert_eq!(
            (
                line["ReportsStarted"].as_u64(),
                line["ReportsReused"].as_u64()
            ),
            (Some(3), Some(0))
        );
    }

    #[tokio::test]
    async fn a_second_schedule_reuses_the_running_jobs() {
        let w = world(&[("A1SIMSELLER0001", &["ATVPDKIKX0DER"], true)]).await;
        handle(json!({"flow": "orders"}), &w.deps).await.unwrap();
        w.clock.0.advance(Duration::from_secs(60));

        let summary = handle(json!({"flow": "orders"}), &w.deps).await.unwrap();

        assert_eq!(
            (summary["started"].as_u64(), summary["reused"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(summary["sellers"][0]["outcome"], "reused");
        assert_eq!(summary["sellers"][0]["seller_id"], "A1SIMSELLER0001");
        assert_eq!(w.jobs.all_jobs().len(), 1);
    }

    #[tokio::test]
    async fn the_invocation_fails_only_when_every_seller_failed() {
        let w = world(&[
            ("A1SIMSELLER0001", &["ATVPDKIKX0DER"], true),
            ("A2SIMSELLER0002", &["A1F83G8C2ARO7P"], true),
        ])
        .await;
        w.queue.fail_next_send(2);

        let result = handle(json!({"flow": "orders"}), &w.deps).await;

        assert!(
            matches!(result, Err(BatchError::AllFailed { count: 2 })),
            "{result:?}"
        );
        let line = emf(&w.deps.metrics.take_lines()[0]);
        assert_eq!(line["ReportStartsFailed"].as_u64(), Some(2));
    }

    #[tokio::test]
    async fn one_failed_seller_does_not_fail_the_others() {
        let w = world(&[
            ("A1SIMSELLER0001", &["ATVPDKIKX0DER"], true),
            ("A2SIMSELLER0002", &["A1F83G8C2ARO7P"], true),
        ])
        .await;
        w.queue.fail_next_send(1);

        let summary = handle(json!({"flow": "orders"}), &w.deps).await.unwrap();

        assert_eq!(
            (summary["started"].as_u64(), summary["failed"].as_u64()),
            (Some(1), Some(1))
        );
        let failed: Vec<&Value> = summary["sellers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["outcome"] == "failed")
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["error_class"], "Transient");
    }

    #[tokio::test]
    async fn another_flow_is_refused_without_touching_the_stores() {
        let w = world(&[("A1SIMSELLER0001", &["ATVPDKIKX0DER"], true)]).await;

        let result = handle(json!({"flow": "enrich"}), &w.deps).await;

        assert!(
            matches!(result, Err(BatchError::Step(WorkflowError::Config(_)))),
            "{result:?}"
        );
        assert!(w.jobs.all_jobs().is_empty());
        assert_eq!(w.queue.sent(), 0);
    }

    #[test]
    fn config_reads_exactly_the_template_environment() {
        assert_config_matches_template("start-report", Config::from_reader);
    }

    #[test]
    fn config_reports_every_problem_at_once() {
        let vars = BTreeMap::from([
            (SPAPI_ENDPOINT.to_owned(), "not a url".to_owned()),
            (ORDERS_LOOKBACK_HOURS.to_owned(), "-1".to_owned()),
        ]);

        let err = Config::from_map(&vars).unwrap_err();

        let names: Vec<String> = err
            .problems
            .iter()
            .map(|p| match p {
                spsync_lambda_kit::env::ConfigProblem::Missing { name }
                | spsync_lambda_kit::env::ConfigProblem::Malformed { name, .. } => name.clone(),
            })
            .collect();
        assert_eq!(
            names,
            [
                JOBS_TABLE_NAME,
                POLL_REPORT_QUEUE_URL,
                IMPORT_REPORT_QUEUE_URL,
                SPAPI_ENDPOINT,
                ORDERS_LOOKBACK_HOURS
            ]
        );
    }

    #[test]
    fn empty_endpoints_mean_amazon() {
        let mut vars = template_environment("start-report");
        vars.insert(SPAPI_ENDPOINT.into(), String::new());
        vars.insert(LWA_ENDPOINT.into(), String::new());

        let config = Config::from_map(&vars).unwrap();

        assert_eq!(config.endpoint_overrides(), EndpointOverrides::default());
        assert_eq!(config.lookback, Duration::from_secs(48 * 3600));
    }
}
