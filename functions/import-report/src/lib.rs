//! Lambda function `import-report`: the ImportReport step, fed by ImportReportQueue.
//!
//! Each record is one ImportReport step message: [`spsync_workflow::import_report`] reads the
//! raw document the poll step stored in S3, decodes it (GZIP, charset), parses it by header
//! name, creates or updates the orders in DynamoDB, records the counts on the job and sends
//! EnrichOrders. A duplicate delivery finds the job imported and does nothing. The template
//! gives it batches of one (an import is the heavy step).
//!
//! [`Config`] reads the environment template.yaml gives `ImportReportFunction`; [`Deps`] holds
//! the ports, built by `main.rs` for AWS or by the local runner for its own stack.
#![warn(missing_docs)]

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use spsync_domain::JobState;
use spsync_lambda_kit::{
    BatchError, ConfigError, EnvReader, FromEnv, Metrics, MetricsConfig, Unit, run_sqs_batch,
};
use spsync_workflow::{
    Clock, DocumentStore, ImportPorts, JobStore, OrderStore, Step, StepMessage, StepOutcome,
    StepQueue, WorkflowError, defer_if_early, import_report,
};
use tracing::warn;

/// JobsTable's name.
pub const JOBS_TABLE_NAME: &str = "JOBS_TABLE_NAME";
/// OrdersTable's name.
pub const ORDERS_TABLE_NAME: &str = "ORDERS_TABLE_NAME";
/// DocumentsBucket's name (raw report documents).
pub const DOCUMENTS_BUCKET: &str = "DOCUMENTS_BUCKET";
/// EnrichOrdersQueue's URL (next step after an import).
pub const ENRICH_ORDERS_QUEUE_URL: &str = "ENRICH_ORDERS_QUEUE_URL";

/// Imports run one at a time: each streams a whole report and writes its orders.
pub const BATCH_CONCURRENCY: usize = 1;

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// JobsTable's name.
    pub jobs_table_name: String,
    /// OrdersTable's name.
    pub orders_table_name: String,
    /// DocumentsBucket's name.
    pub documents_bucket: String,
    /// EnrichOrdersQueue's URL.
    pub enrich_orders_queue_url: String,
    /// Metrics namespace and service.
    pub metrics: MetricsConfig,
}

impl FromEnv for Config {
    fn from_reader(mut env: EnvReader<'_>) -> Result<Self, ConfigError> {
        let config = Self {
            jobs_table_name: env.required(JOBS_TABLE_NAME),
            orders_table_name: env.required(ORDERS_TABLE_NAME),
            documents_bucket: env.required(DOCUMENTS_BUCKET),
            enrich_orders_queue_url: env.required(ENRICH_ORDERS_QUEUE_URL),
            metrics: MetricsConfig::from_reader(&mut env),
        };
        env.finish()?;
        Ok(config)
    }
}

impl Config {}

/// What the handler works with, built once per container.
pub struct Deps {
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Orders.
    pub orders: Arc<dyn OrderStore>,
    /// Raw documents (S3).
    pub documents: Arc<dyn DocumentStore>,
    /// Step queue (EnrichOrders, and ImportReport for early arrivals).
    pub queue: Arc<dyn StepQueue>,
    /// Metrics of the current invocation.
    pub metrics: Metrics,
}

impl Deps {
    /// Deps from explicit ports (AWS adapters in `main`, the local runner's own elsewhere).
    pub fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        jobs: Arc<dyn JobStore>,
        orders: Arc<dyn OrderStore>,
        documents: Arc<dyn DocumentStore>,
        queue: Arc<dyn StepQueue>,
    ) -> Self {
        Self {
            clock,
            jobs,
            orders,
            documents,
            queue,
            metrics: config.metrics.metrics(),
        }
    }

    /// Replaces the metrics writer (the local runner keeps metrics in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn ports(&self) -> ImportPorts<'_> {
        ImportPorts {
            clock: self.clock.as_ref(),
            jobs: self.jobs.as_ref(),
            orders: self.orders.as_ref(),
            documents: self.documents.as_ref(),
            queue: self.queue.as_ref(),
        }
    }
}

/// Handles one SQS batch of ImportReport messages.
pub async fn handle(event: SqsEvent, deps: &Deps) -> Result<SqsBatchResponse, BatchError> {
    let ports = deps.ports();
    let result = run_sqs_batch(event, BATCH_CONCURRENCY, |message| {
        step(&ports, deps, message)
    })
    .await;
    deps.metrics.flush();
    result
}

async fn step(
    ports: &ImportPorts<'_>,
    deps: &Deps,
    message: StepMessage,
) -> Result<StepOutcome, WorkflowError> {
    let result = match defer_if_early(ports.queue, ports.clock, &message).await {
        Ok(Some(deferred)) => Ok(deferred),
        Ok(None) => import_report(ports, &message).await,
        Err(e) => Err(e.into()),
    };
    deps.metrics.record_step(&result);
    match &result {
        Ok(StepOutcome::Finished(JobState::Imported)) => {
            deps.metrics.incr("ReportsImported");
            count_import(deps, &message).await;
        }
        Ok(StepOutcome::Finished(JobState::Failed)) => deps.metrics.incr("ImportsFailed"),
        _ => {}
    }
    result
}

/// The import's counts are kept on the job (the use case answers only the job's state), so
/// the metrics read them back: one GetItem per imported report.
async fn count_import(deps: &Deps, message: &StepMessage) {
    let Step::ImportReport { job } = &message.step else {
        return;
    };
    let stats = match deps.jobs.get_job(job).await {
        Ok(Some(job)) => job.stats,
        Ok(None) => None,
        Err(e) => {
            // Metrics only: the import itself succeeded.
            warn!(job_id = %job.job_id, error = %e, "import counts not read for metrics");
            None
        }
    };
    let Some(stats) = stats else {
        return;
    };
    let m = &deps.metrics;
    m.add("RowsIngested", stats.rows as f64, Unit::Count);
    m.add("OrdersCreated", stats.created as f64, Unit::Count);
    m.add("OrdersUpdated", stats.updated as f64, Unit::Count);
    m.add("OrdersUnchanged", stats.unchanged as f64, Unit::Count);
    m.add("OrdersSkipped", stats.skipped_closed as f64, Unit::Count);
    m.add("MalformedRows", stats.malformed_rows as f64, Unit::Count);
}

#[cfg(test)]
#[path = "../../test_support.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;
    use spsync_domain::{JobId, MarketplaceId, ORDERS_REPORT_TYPE, ReportJob, SellerId};
    use spsync_testkit::memory::{
        MemoryDocumentStore, MemoryJobStore, MemoryOrderStore, VirtualQueue,
    };
    use spsync_workflow::{DocumentMeta, JobKey};

    use super::test_support::*;
    use super::*;
    use std::collections::BTreeMap;

    const DOCUMENT_KEY: &str = "reports/A1SIMSELLER0001/GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL/2026-11-20/R-2a.raw";

    struct World {
        jobs: Arc<MemoryJobStore>,
        orders: Arc<MemoryOrderStore>,
        queue: Arc<VirtualQueue<SharedClock>>,
        deps: Deps,
    }

    /// The fixture's job, Stored, with the sample report (when `with_document`) in the store.
    async fn world(with_document: bool) -> World {
        let clock = SharedClock::at_fixture_time();
        let jobs = Arc::new(MemoryJobStore::new());
        let mut job = ReportJob::new(
            JobId::new("20261120T100000Z-0000002a"),
            SellerId::new("A1SIMSELLER0001"),
            MarketplaceId::new("ATVPDKIKX0DER"),
            ORDERS_REPORT_TYPE,
            Duration::from_secs(72 * 3600),
            fixture_now() - Duration::from_secs(600),
        );
        job.state = spsync_domain::JobState::Stored;
        job.report_id = Some("R-2a".into());
        job.document_key = Some(DOCUMENT_KEY.into());
        jobs.put_job(&job, None).await.unwrap();
        let documents = Arc::new(MemoryDocumentStore::new());
        if with_document {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/reports/orders.sample.tsv"
            );
            let bytes = std::fs::read(path).unwrap();
            let meta = DocumentMeta {
                content_type: Some("text/tab-separated-values;charset=UTF-8".into()),
                gzip: false,
            };
            documents
                .put_document(DOCUMENT_KEY, bytes, &meta)
                .await
                .unwrap();
        }
        let orders = Arc::new(MemoryOrderStore::new());
        let queue = Arc::new(VirtualQueue::new(clock.clone()));
        let config = Config::from_map(&template_environment("import-report")).unwrap();
        let deps = Deps::new(
            &config,
            Arc::new(clock),
            jobs.clone(),
            orders.clone(),
            documents,
            queue.clone(),
        )
        .with_metrics(Metrics::in_memory("spsync", "spsync"));
        World {
            jobs,
            orders,
            queue,
            deps,
        }
    }

    fn metrics(w: &World) -> Value {
        let lines = w.deps.metrics.take_lines();
        assert_eq!(lines.len(), 1, "one EMF line per invocation");
        serde_json::from_str(&lines[0]).unwrap()
    }

    #[tokio::test]
    async fn fixture_import_creates_orders_and_sends_enrichment() {
        let w = world(true).await;
        let event: SqsEvent = event_fixture("sqs.import_report.json");

        let response = handle(event, &w.deps).await.unwrap();

        assert!(response.batch_item_failures.is_empty());
        let job = &w.jobs.all_jobs()[0];
        assert_eq!(job.state, JobState::Imported);
        let stats = job.stats.clone().unwrap();
        assert!(stats.created > 0 && stats.malformed_rows > 0, "{stats:?}");
        assert_eq!(w.orders.all().len() as u64, stats.created);
        let next: Vec<Step> = w
            .queue
            .pending()
            .into_iter()
            .map(|q| q.message.step)
            .collect();
        assert_eq!(
            next,
            [Step::EnrichOrders {
                seller_id: SellerId::new("A1SIMSELLER0001"),
                marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
                page_token: None,
                updated_after: None,
            }]
        );
        let m = metrics(&w);
        assert_eq!(m["ReportsImported"].as_u64(), Some(1));
        assert_eq!(m["RowsIngested"].as_u64(), Some(stats.rows));
        assert_eq!(m["OrdersCreated"].as_u64(), Some(stats.created));
        assert_eq!(m["MalformedRows"].as_u64(), Some(stats.malformed_rows));
    }

    #[tokio::test]
    async fn a_duplicate_delivery_writes_nothing() {
        let w = world(true).await;
        handle(event_fixture("sqs.import_report.json"), &w.deps)
            .await
            .unwrap();
        let writes = (w.orders.writes(), w.jobs.writes(), w.queue.sent());
        w.deps.metrics.take_lines();

        let response = handle(event_fixture("sqs.import_report.json"), &w.deps)
            .await
            .unwrap();

        assert!(
            response.batch_item_failures.is_empty(),
            "acknowledged, not retried"
        );
        assert_eq!((w.orders.writes(), w.jobs.writes(), w.queue.sent()), writes);
        let m = metrics(&w);
        assert_eq!(
            (m["StepsIgnored"].as_u64(), m.get("ReportsImported")),
            (Some(1), None)
        );
    }

    #[tokio::test]
    async fn a_missing_document_fails_the_job_and_acknowledges_the_message() {
        let w = world(false).await;

        let response = handle(event_fixture("sqs.import_report.json"), &w.deps)
            .await
            .unwrap();

        assert!(response.batch_item_failures.is_empty());
        let job = &w.jobs.all_jobs()[0];
        assert_eq!(job.state, JobState::Failed);
        assert!(job.failure.as_deref().unwrap_or("").contains(DOCUMENT_KEY));
        assert!(w.orders.all().is_empty());
        assert_eq!(metrics(&w)["ImportsFailed"].as_u64(), Some(1));
    }

    #[tokio::test]
    async fn a_store_outage_fails_the_record_for_redelivery() {
        let w = world(true).await;
        w.orders
            .fail_next(spsync_testkit::memory::FailOp::PutOrder, 1);

        let result = handle(event_fixture("sqs.import_report.json"), &w.deps).await;

        assert!(
            matches!(result, Err(BatchError::AllFailed { count: 1 })),
            "{result:?}"
        );
        assert_eq!(
            w.jobs.all_jobs()[0].state,
            JobState::Stored,
            "the redelivery imports again"
        );
        let key = JobKey {
            seller_id: SellerId::new("A1SIMSELLER0001"),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            job_id: JobId::new("20261120T100000Z-0000002a"),
        };
        let again = handle(event_fixture("sqs.import_report.json"), &w.deps)
            .await
            .unwrap();
        assert!(again.batch_item_failures.is_empty());
        assert_eq!(
            w.deps.jobs.get_job(&key).await.unwrap().unwrap().state,
            JobState::Imported
        );
    }

    #[test]
    fn config_reads_exactly_the_template_environment() {
        assert_config_matches_template("import-report", Config::from_reader);
    }

    #[test]
    fn config_reports_every_missing_variable() {
        let err = Config::from_map(&BTreeMap::new()).unwrap_err();

        assert_eq!(err.problems.len(), 4, "{err}");
        for name in [
            JOBS_TABLE_NAME,
            ORDERS_TABLE_NAME,
            DOCUMENTS_BUCKET,
            ENRICH_ORDERS_QUEUE_URL,
        ] {
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
