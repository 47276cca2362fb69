//! Lambda function `poll-report`: the PollReport step, fed by PollReportQueue.
//!
//! Each record is one PollReport step message. A message that arrived before its
//! `not_before` (a wait longer than SQS's 15-minute delay) is sent again for the time left;
//! a due one runs [`spsync_workflow::poll_report`]: createReport for a new job, else
//! getReport and what the domain decides (poll again later, store the DONE document in S3
//! and send ImportReport, end CANCELLED / FATAL, replace a stuck report). Records that fail
//! come back through `batchItemFailures` and end in the dead-letter queue after
//! `maxReceiveCount`.
//!
//! [`Config`] reads the environment template.yaml gives `PollReportFunction`; [`Deps`] holds
//! the ports, built by `main.rs` for AWS or by the local runner for its own stack.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use spsync_domain::JobState;
use spsync_lambda_kit::{
    BatchError, ConfigError, EnvReader, FromEnv, Metrics, MetricsConfig, run_sqs_batch,
};
use spsync_spapi::EndpointOverrides;
use spsync_workflow::{
    Clock, DocumentStore, FlowSettings, JobStore, ReportPorts, ReportsApi, StepMessage,
    StepOutcome, StepQueue, WorkflowError, defer_if_early, poll_report,
};
use url::Url;

/// JobsTable's name.
pub const JOBS_TABLE_NAME: &str = "JOBS_TABLE_NAME";
/// DocumentsBucket's name (raw report documents).
pub const DOCUMENTS_BUCKET: &str = "DOCUMENTS_BUCKET";
/// PollReportQueue's URL (the step re-sends itself while the report is not ready).
pub const POLL_REPORT_QUEUE_URL: &str = "POLL_REPORT_QUEUE_URL";
/// ImportReportQueue's URL (next step once the document is stored).
pub const IMPORT_REPORT_QUEUE_URL: &str = "IMPORT_REPORT_QUEUE_URL";
/// SP-API base URL; empty = each seller's regional Amazon endpoint.
pub const SPAPI_ENDPOINT: &str = "SPAPI_ENDPOINT";
/// LWA token URL; empty = Amazon's.
pub const LWA_ENDPOINT: &str = "LWA_ENDPOINT";
/// A report not DONE this many minutes after its job started is replaced (default 120).
pub const REPORT_STUCK_AFTER_MINUTES: &str = "REPORT_STUCK_AFTER_MINUTES";
/// Lookback of the job that replaces a stuck one, in hours (default 72).
pub const ORDERS_LOOKBACK_HOURS: &str = "ORDERS_LOOKBACK_HOURS";

/// Records of one batch polled at once. getReport allows 2 requests/s with a burst of 15 per
/// seller and application; the SP-API client's limiter paces what this lets through, and the
/// function's reserved concurrency (template.yaml) bounds the containers.
pub const BATCH_CONCURRENCY: usize = 4;

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// JobsTable's name.
    pub jobs_table_name: String,
    /// DocumentsBucket's name.
    pub documents_bucket: String,
    /// PollReportQueue's URL.
    pub poll_report_queue_url: String,
    /// ImportReportQueue's URL.
    pub import_report_queue_url: String,
    /// SP-API endpoint override.
    pub spapi_endpoint: Option<Url>,
    /// LWA endpoint override.
    pub lwa_endpoint: Option<Url>,
    /// When a report counts as stuck.
    pub stuck_after: Duration,
    /// Lookback of a replacement job.
    pub lookback: Duration,
    /// Metrics namespace and service.
    pub metrics: MetricsConfig,
}

impl FromEnv for Config {
    fn from_reader(mut env: EnvReader<'_>) -> Result<Self, ConfigError> {
        let config = Self {
            jobs_table_name: env.required(JOBS_TABLE_NAME),
            documents_bucket: env.required(DOCUMENTS_BUCKET),
            poll_report_queue_url: env.required(POLL_REPORT_QUEUE_URL),
            import_report_queue_url: env.required(IMPORT_REPORT_QUEUE_URL),
            spapi_endpoint: env.parse_optional(SPAPI_ENDPOINT),
            lwa_endpoint: env.parse_optional(LWA_ENDPOINT),
            stuck_after: Duration::from_secs(
                env.parse::<u64>(REPORT_STUCK_AFTER_MINUTES, 120) * 60,
            ),
            lookback: Duration::from_secs(env.parse::<u64>(ORDERS_LOOKBACK_HOURS, 72) * 3600),
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
    /// Step queue (PollReport, ImportReport).
    pub queue: Arc<dyn StepQueue>,
    /// Reports API.
    pub reports: Arc<dyn ReportsApi>,
    /// Raw documents (S3).
    pub documents: Arc<dyn DocumentStore>,
    /// Metrics of the current invocation.
    pub metrics: Metrics,
}

impl Deps {
    /// Deps from explicit ports (AWS adapters in `main`, the local runner's own elsewhere).
    pub fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        jobs: Arc<dyn JobStore>,
        queue: Arc<dyn StepQueue>,
        reports: Arc<dyn ReportsApi>,
        documents: Arc<dyn DocumentStore>,
    ) -> Self {
        Self {
            settings: config.flow_settings(),
            clock,
            jobs,
            queue,
            reports,
            documents,
            metrics: config.metrics.metrics(),
        }
    }

    /// Replaces the metrics writer (the local runner keeps metrics in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn ports(&self) -> ReportPorts<'_> {
        ReportPorts {
            clock: self.clock.as_ref(),
            jobs: self.jobs.as_ref(),
            queue: self.queue.as_ref(),
            reports: self.reports.as_ref(),
            documents: self.documents.as_ref(),
        }
    }
}

/// The outcome `poll_report` names a DONE report whose document it stored.
const DOCUMENT_STORED: &str = "document stored";

/// Handles one SQS batch of PollReport messages.
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
    ports: &ReportPorts<'_>,
    deps: &Deps,
    message: StepMessage,
) -> Result<StepOutcome, WorkflowError> {
    let result = match defer_if_early(ports.queue, ports.clock, &message).await {
        Ok(Some(deferred)) => Ok(deferred),
        Ok(None) => {
            deps.metrics.incr("ReportPolls");
            poll_report(ports, &message, &deps.settings).await
        }
        Err(e) => Err(e.into()),
    };
    deps.metrics.record_step(&result);
    match &result {
        Ok(StepOutcome::Advanced(DOCUMENT_STORED)) => deps.metrics.incr("ReportsCompleted"),
        // FATAL at Amazon, DONE without a document, stuck, or a permanent error.
        Ok(StepOutcome::Finished(JobState::Failed)) => deps.metrics.incr("ReportsFatal"),
        Ok(StepOutcome::Finished(JobState::Cancelled)) => deps.metrics.incr("ReportsCancelled"),
        _ => {}
    }
    result
}

#[cfg(test)]
#[path = "../../test_support.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::Value;
    use spsync_domain::{
        JobId, MarketplaceId, ORDERS_REPORT_TYPE, ProcessingStatus, ReportJob, SellerId,
    };
    use spsync_testkit::memory::{MemoryDocumentStore, MemoryJobStore, VirtualQueue};
    use spsync_workflow::{ApiError, DocumentMeta, DownloadedDocument, JobKey, ReportStatus, Step};
    use time::OffsetDateTime;

    use super::test_support::*;
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Clone)]
    enum Answer {
        Status(ProcessingStatus, Option<&'static str>),
        Transient,
    }

    /// getReport answers what the test says; every call is recorded.
    struct FakeReports {
        answer: Mutex<Answer>,
        get_report_calls: Mutex<Vec<String>>,
    }

    impl FakeReports {
        fn answering(answer: Answer) -> Self {
            Self {
                answer: Mutex::new(answer),
                get_report_calls: Mutex::new(Vec::new()),
            }
        }

        fn calls(&self) -> Vec<String> {
            self.get_report_calls.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl ReportsApi for FakeReports {
        async fn create_report(
            &self,
            _: &SellerId,
            _: &str,
            _: &MarketplaceId,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> Result<String, ApiError> {
            Ok("R-new".into())
        }

        async fn get_report(
            &self,
            _: &SellerId,
            report_id: &str,
        ) -> Result<ReportStatus, ApiError> {
            self.get_report_calls
                .lock()
                .unwrap()
                .push(report_id.to_owned());
            match self.answer.lock().unwrap().clone() {
                Answer::Status(processing_status, document) => Ok(ReportStatus {
                    processing_status,
                    report_document_id: document.map(str::to_owned),
                }),
                Answer::Transient => Err(ApiError::Transient {
                    operation: "getReport",
                    message: "503 Service Unavailable".into(),
                }),
            }
        }

        async fn cancel_report(&self, _: &SellerId, _: &str) -> Result<(), ApiError> {
            Ok(())
        }

        async fn download_report_document(
            &self,
            _: &SellerId,
            _: &str,
        ) -> Result<DownloadedDocument, ApiError> {
            Ok(DownloadedDocument {
                bytes: b"amazon-order-id\tpurchase-date\n".to_vec(),
                content_type: Some("text/plain; charset=Cp1252".into()),
                gzip: false,
            })
        }
    }

    struct World {
        jobs: Arc<MemoryJobStore>,
        queue: Arc<VirtualQueue<SharedClock>>,
        documents: Arc<MemoryDocumentStore>,
        reports: Arc<FakeReports>,
        deps: Deps,
    }

    /// Jobs of the fixtures, each IN_PROGRESS at Amazon under report id `R-<job suffix>`.
    const FIXTURE_JOBS: [(&str, &str, &str); 3] = [
        (
            "A1SIMSELLER0001",
            "ATVPDKIKX0DER",
            "20261120T100000Z-0000002a",
        ),
        (
            "A1SIMSELLER0001",
            "ATVPDKIKX0DER",
            "20261120T080000Z-0000002b",
        ),
        (
            "A2SIMSELLER0002",
            "A1F83G8C2ARO7P",
            "20261120T100000Z-0000002c",
        ),
    ];

    async fn world(answer: Answer) -> World {
        let clock = SharedClock::at_fixture_time();
        let jobs = Arc::new(MemoryJobStore::new());
        for (seller, marketplace, job_id) in FIXTURE_JOBS {
            let mut job = ReportJob::new(
                JobId::new(job_id),
                SellerId::new(seller),
                MarketplaceId::new(marketplace),
                ORDERS_REPORT_TYPE,
                Duration::from_secs(72 * 3600),
                fixture_now() - Duration::from_secs(300),
            );
            job.state = JobState::InProgress;
            job.report_id = Some(format!("R-{}", &job_id[job_id.len() - 2..]));
            jobs.put_job(&job, None).await.unwrap();
        }
        let queue = Arc::new(VirtualQueue::new(clock.clone()));
        let documents = Arc::new(MemoryDocumentStore::new());
        let reports = Arc::new(FakeReports::answering(answer));
        let config = Config::from_map(&template_environment("poll-report")).unwrap();
        let deps = Deps::new(
            &config,
            Arc::new(clock),
            jobs.clone(),
            queue.clone(),
            reports.clone(),
            documents.clone(),
        )
        .with_metrics(Metrics::in_memory("spsync", "spsync"));
        World {
            jobs,
            queue,
            documents,
            reports,
            deps,
        }
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    fn job(w: &World, index: usize) -> ReportJob {
        let (seller, marketplace, job_id) = FIXTURE_JOBS[index];
        w.jobs
            .all_jobs()
            .into_iter()
            .find(|j| {
                j.seller_id.as_str() == seller
                    && j.marketplace_id.as_str() == marketplace
                    && j.job_id.as_str() == job_id
            })
            .unwrap()
    }

    fn metrics(w: &World) -> Value {
        let lines = w.deps.metrics.take_lines();
        assert_eq!(lines.len(), 1, "one EMF line per invocation");
        serde_json::from_str(&lines[0]).unwrap()
    }

    #[tokio::test]
    async fn fixture_batch_of_3_polls_every_job_and_requeues_it() {
        let w = world(Answer::Status(ProcessingStatus::InProgress, None)).await;
        let event: SqsEvent = event_fixture("sqs.batch_of_3.json");

        let response = handle(event, &w.deps).await.unwrap();

        assert!(failures(&response).is_empty());
        let mut calls = w.reports.calls();
        calls.sort();
        assert_eq!(calls, ["R-2a", "R-2b", "R-2c"]);
        let mut again: Vec<(String, u32)> = w
            .queue
            .pending()
            .into_iter()
            .map(|q| match q.message.step {
                Step::PollReport { job } => (job.job_id.to_string(), q.message.attempt),
                other => panic!("unexpected step {other:?}"),
            })
            .collect();
        again.sort();
        assert_eq!(
            again,
            [
                ("20261120T080000Z-0000002b".to_owned(), 4),
                ("20261120T100000Z-0000002a".to_owned(), 1),
                ("20261120T100000Z-0000002c".to_owned(), 2),
            ]
        );
        assert_eq!(job(&w, 0).polls, 1);
        let m = metrics(&w);
        assert_eq!(
            (m["ReportPolls"].as_u64(), m["StepRequeued"].as_u64()),
            (Some(3), Some(3))
        );
    }

    #[tokio::test]
    async fn an_undecodable_body_fails_only_its_record() {
        let w = world(Answer::Status(ProcessingStatus::InQueue, None)).await;
        let event: SqsEvent = event_fixture("sqs.poll_report.batch_with_undecodable.json");

        let response = handle(event, &w.deps).await.unwrap();

        assert_eq!(
            failures(&response),
            ["0b6c8f2e-4b1d-4c7a-9e2f-000000000002"]
        );
        let mut calls = w.reports.calls();
        calls.sort();
        assert_eq!(calls, ["R-2a", "R-2c"]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "0b6c8f2e-4b1d-4c7a-9e2f-000000000002"}]})
        );
    }

    #[tokio::test]
    async fn a_done_report_is_stored_and_handed_to_the_import() {
        let w = world(Answer::Status(ProcessingStatus::Done, Some("DOC-2a"))).await;
        let event: SqsEvent = event_fixture("sqs.poll_report.json");

        let response = handle(event, &w.deps).await.unwrap();

        assert!(failures(&response).is_empty());
        let key = "reports/A1SIMSELLER0001/GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL/2026-11-20/R-2a.raw";
        assert_eq!(w.documents.keys(), [key]);
        let (_, meta) = w.documents.get_document(key).await.unwrap();
        assert_eq!(
            meta,
            DocumentMeta {
                content_type: Some("text/plain; charset=Cp1252".into()),
                gzip: false
            }
        );
        let stored = job(&w, 0);
        assert_eq!(stored.state, JobState::Stored);
        let next: Vec<Step> = w
            .queue
            .pending()
            .into_iter()
            .map(|q| q.message.step)
            .collect();
        assert_eq!(
            next,
            [Step::ImportReport {
                job: JobKey {
                    seller_id: stored.seller_id,
                    marketplace_id: stored.marketplace_id,
                    job_id: stored.job_id,
                }
            }]
        );
        assert_eq!(metrics(&w)["ReportsCompleted"].as_u64(), Some(1));
    }

    #[tokio::test]
    async fn a_fatal_report_ends_the_job_and_is_counted() {
        let w = world(Answer::Status(ProcessingStatus::Fatal, None)).await;
        let event: SqsEvent = event_fixture("sqs.poll_report.json");

        let response = handle(event, &w.deps).await.unwrap();

        assert!(
            failures(&response).is_empty(),
            "a FATAL report is an outcome, not an error"
        );
        assert_eq!(job(&w, 0).state, JobState::Failed);
        assert!(w.queue.pending().is_empty());
        assert_eq!(metrics(&w)["ReportsFatal"].as_u64(), Some(1));
    }

    #[tokio::test]
    async fn an_early_message_is_sent_again_without_calling_amazon() {
        let w = world(Answer::Status(ProcessingStatus::Done, Some("DOC"))).await;
        let mut event: SqsEvent = event_fixture("sqs.poll_report.json");
        let mut message =
            StepMessage::from_json(event.records[0].body.as_deref().unwrap()).unwrap();
        message.not_before = Some(fixture_now() + Duration::from_secs(20 * 60));
        event.records[0].body = Some(message.to_json());

        let response = handle(event, &w.deps).await.unwrap();

        assert!(failures(&response).is_empty());
        assert!(w.reports.calls().is_empty());
        let pending = w.queue.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].message, message,
            "the same message, not_before kept"
        );
        assert_eq!(
            pending[0].visible_at,
            fixture_now() + Duration::from_secs(15 * 60)
        );
        let m = metrics(&w);
        assert_eq!(
            (m["StepRequeued"].as_u64(), m.get("ReportPolls")),
            (Some(1), None)
        );
    }

    #[tokio::test]
    async fn a_transient_error_fails_the_record_for_redelivery() {
        let w = world(Answer::Transient).await;
        let event: SqsEvent = event_fixture("sqs.poll_report.json");
        let before = job(&w, 0);

        let result = handle(event, &w.deps).await;

        assert!(
            matches!(result, Err(BatchError::AllFailed { count: 1 })),
            "{result:?}"
        );
        assert_eq!(
            job(&w, 0),
            before,
            "nothing written: the redelivery polls again"
        );
        assert!(w.queue.pending().is_empty());
        assert_eq!(metrics(&w)["StepsFailed"].as_u64(), Some(1));
    }

    #[test]
    fn config_reads_exactly_the_template_environment() {
        assert_config_matches_template("poll-report", Config::from_reader);
    }

    #[test]
    fn config_turns_minutes_and_hours_into_settings() {
        let mut vars = template_environment("poll-report");
        vars.insert(REPORT_STUCK_AFTER_MINUTES.into(), "90".into());
        vars.insert(ORDERS_LOOKBACK_HOURS.into(), String::new());

        let config = Config::from_map(&vars).unwrap();

        assert_eq!(
            config.flow_settings().stuck_after,
            Duration::from_secs(90 * 60)
        );
        assert_eq!(
            config.flow_settings().lookback,
            Duration::from_secs(72 * 3600)
        );
    }

    #[test]
    fn config_reports_every_missing_variable() {
        let err = Config::from_map(&BTreeMap::new()).unwrap_err();

        assert_eq!(err.problems.len(), 4, "{err}");
        for name in [
            JOBS_TABLE_NAME,
            DOCUMENTS_BUCKET,
            POLL_REPORT_QUEUE_URL,
            IMPORT_REPORT_QUEUE_URL,
        ] {
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
