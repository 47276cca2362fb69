//! The SQS batch runner: one step message per record, bounded concurrency, partial failures.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{FutureExt, StreamExt, stream};
use lambda_runtime::Diagnostic;
use spsync_workflow::{Retryability, StepMessage, StepOutcome, WorkflowError};
use tracing::{Instrument, error, field, info, info_span, warn};

/// Records of one batch run at most this many at a time unless a function says otherwise.
/// The steps call SP-API operations with small usage plans: unbounded `join_all` would only
/// buy 429s.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 4;

/// Why an invocation failed as a whole (Lambda counts it in the function's `Errors` metric;
/// for SQS the whole batch comes back).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Every record (or every seller of a scheduled run) failed: something is wrong beyond
    /// one message, and an alarm on `Errors` should see it.
    #[error("all {count} items of the invocation failed")]
    AllFailed {
        /// How many failed (≥ 1).
        count: usize,
    },
    /// A non-batch invocation (a schedule) failed.
    #[error(transparent)]
    Step(#[from] WorkflowError),
}

impl From<BatchError> for Diagnostic {
    fn from(e: BatchError) -> Self {
        let error_type = match &e {
            BatchError::AllFailed { .. } => "AllFailed",
            BatchError::Step(step) => step.class(),
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Runs `step` on every record of an SQS batch, at most `concurrency` at a time (0 counts as
/// 1), and answers which records must come back.
///
/// Per record, in a span with `sqs_message_id`, `step`, `attempt` and `receive_count`:
/// * a body that is not a step message of this version is a failure, logged as an error:
///   SQS redelivers it until `maxReceiveCount` and then moves it to the dead-letter queue,
///   where a human sees it (nothing is dropped silently);
/// * `Ok(outcome)` acknowledges the record;
/// * `Err(e)` is a failure logged with `error_class = e.class()`;
/// * a panic inside the step fails that record only (the release profile keeps unwinding so
///   this works).
///
/// `batchItemFailures` keep the order of the records. When every record failed (and there was
/// at least one) the answer is [`BatchError::AllFailed`], so the invocation counts as an
/// error; SQS then returns the whole batch, which is the same as listing every record.
pub async fn run_sqs_batch<F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    step: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: Fn(StepMessage) -> Fut,
    Fut: Future<Output = Result<StepOutcome, WorkflowError>>,
{
    let total = event.records.len();
    let step = &step;
    let mut results: Vec<(usize, String, bool)> =
        stream::iter(event.records.into_iter().enumerate())
            .map(|(index, record)| async move {
                let message_id = record.message_id.clone().unwrap_or_default();
                let ok = run_record(record, step).await;
                (index, message_id, ok)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    results.sort_by_key(|(index, _, _)| *index);

    let mut response = SqsBatchResponse::default();
    for (_, message_id, ok) in results {
        if !ok {
            response.add_failure(message_id);
        }
    }
    let failed = response.batch_item_failures.len();
    info!(records = total, failed, "batch done");
    if total > 0 && failed == total {
        return Err(BatchError::AllFailed { count: total });
    }
    Ok(response)
}

async fn run_record<F, Fut>(record: SqsMessage, step: &F) -> bool
where
    F: Fn(StepMessage) -> Fut,
    Fut: Future<Output = Result<StepOutcome, WorkflowError>>,
{
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse::<u32>().ok());
    let span = info_span!(
        "sqs_record",
        sqs_message_id = record.message_id.as_deref().unwrap_or(""),
        step = field::Empty,
        attempt = field::Empty,
        receive_count,
        trace_parent = field::Empty,
    );
    let run = async move {
        let message = match StepMessage::from_json(record.body.as_deref().unwrap_or("")) {
            Ok(message) => message,
            Err(e) => {
                error!(error = %e, error_class = "Permanent", "step message undecodable");
                return false;
            }
        };
        let span = tracing::Span::current();
        span.record("step", message.step.name());
        span.record("attempt", message.attempt);
        if let Some(parent) = &message.trace_parent {
            span.record("trace_parent", parent.as_str());
        }
        // The call itself runs inside the caught future, so a panic while building the
        // step's future is contained too.
        match AssertUnwindSafe(async { step(message).await })
            .catch_unwind()
            .await
        {
            Ok(Ok(outcome)) => {
                info!(outcome = ?outcome, "step done");
                true
            }
            Ok(Err(e)) => {
                match e.retryability() {
                    Retryability::Throttled { retry_after } => warn!(
                        error = %e,
                        error_class = e.class(),
                        retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                        "step failed"
                    ),
                    Retryability::Transient => {
                        warn!(error = %e, error_class = e.class(), "step failed")
                    }
                    Retryability::Permanent => {
                        error!(error = %e, error_class = e.class(), "step failed")
                    }
                }
                false
            }
            Err(panic) => {
                error!(
                    panic = panic_message(panic.as_ref()),
                    error_class = "Transient",
                    "step panicked"
                );
                false
            }
        }
    };
    run.instrument(span).await
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use serde_json::json;
    use spsync_domain::{JobId, MarketplaceId, SellerId};
    use spsync_workflow::{ApiError, JobKey, Step, StoreError};

    use super::*;

    fn poll(job: &str) -> StepMessage {
        StepMessage::new(Step::PollReport {
            job: JobKey {
                seller_id: SellerId::new("A1SELLER"),
                marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
                job_id: JobId::new(job),
            },
        })
    }

    fn event(bodies: &[(&str, String)]) -> SqsEvent {
        let records: Vec<_> = bodies
            .iter()
            .map(|(id, body)| {
                json!({
                    "messageId": id,
                    "receiptHandle": format!("rh-{id}"),
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "eventSource": "aws:sqs",
                })
            })
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    fn job_of(message: &StepMessage) -> String {
        match &message.step {
            Step::PollReport { job } | Step::ImportReport { job } => job.job_id.to_string(),
            _ => String::new(),
        }
    }

    #[tokio::test]
    async fn mixed_batch_reports_exactly_the_failed_records() {
        let batch = event(&[
            ("m-ok", poll("ok").to_json()),
            ("m-err", poll("err").to_json()),
            ("m-garbage", "{\"v\":1,\"step\":\"Nope\"}".into()),
            ("m-panic", poll("panic").to_json()),
            ("m-v2", poll("ok").to_json().replace("\"v\":1", "\"v\":2")),
            ("m-throttled", poll("throttled").to_json()),
            ("m-ok2", poll("ok").to_json()),
        ]);
        let calls = AtomicUsize::new(0);

        let response = run_sqs_batch(batch, 3, |message| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                match job_of(&message).as_str() {
                    "ok" => Ok(StepOutcome::Requeued(Duration::from_secs(30))),
                    "err" => Err(WorkflowError::Store(StoreError::Transient {
                        operation: "GetItem",
                        source: "connection reset".into(),
                    })),
                    "throttled" => Err(WorkflowError::Api(ApiError::Throttled {
                        operation: "getReport",
                        retry_after: Duration::from_secs(2),
                    })),
                    other => panic!("boom on {other}"),
                }
            }
        })
        .await
        .unwrap();

        assert_eq!(
            failures(&response),
            vec!["m-err", "m-garbage", "m-panic", "m-v2", "m-throttled"]
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5,
            "undecodable bodies never reach the step"
        );
        assert_eq!(
            serde_json::to_value(&response).unwrap()["batchItemFailures"][0],
            json!({"itemIdentifier": "m-err"})
        );
    }

    #[tokio::test]
    async fn a_batch_where_every_record_failed_fails_the_invocation() {
        let batch = event(&[("a", "not json".into()), ("b", poll("x").to_json())]);

        let result = run_sqs_batch(batch, 2, |_| async {
            Err::<StepOutcome, _>(WorkflowError::Config("no such seller".into()))
        })
        .await;

        assert!(
            matches!(result, Err(BatchError::AllFailed { count: 2 })),
            "{result:?}"
        );
        let diagnostic = Diagnostic::from(result.unwrap_err());
        assert_eq!(diagnostic.error_type, "AllFailed");
    }

    #[tokio::test]
    async fn an_empty_batch_succeeds_with_no_failures() {
        let response = run_sqs_batch(SqsEvent::default(), 4, |_| async {
            Ok::<_, WorkflowError>(StepOutcome::Ignored("never"))
        })
        .await
        .unwrap();

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"batchItemFailures":[]}"#
        );
    }

    #[tokio::test]
    async fn concurrency_is_bounded_and_used() {
        let bodies: Vec<_> = (0..9)
            .map(|i| (format!("m{i}"), poll("ok").to_json()))
            .collect();
        let bodies: Vec<_> = bodies
            .iter()
            .map(|(id, b)| (id.as_str(), b.clone()))
            .collect();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));

        let response = run_sqs_batch(event(&bodies), 3, |_| {
            let in_flight = in_flight.clone();
            let peak = peak.clone();
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(StepOutcome::Ignored("done"))
            }
        })
        .await
        .unwrap();

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn zero_concurrency_runs_one_at_a_time() {
        let bodies = [("a", poll("ok").to_json()), ("b", poll("ok").to_json())];
        let in_flight = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);

        run_sqs_batch(event(&bodies), 0, |_| async {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, WorkflowError>(StepOutcome::Ignored("done"))
        })
        .await
        .unwrap();

        assert_eq!(peak.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn step_errors_become_diagnostics_named_by_class() {
        let e = BatchError::Step(WorkflowError::Api(ApiError::Permanent {
            operation: "createReport",
            code: "InvalidInput".into(),
            message: "bad marketplace".into(),
        }));

        let diagnostic = Diagnostic::from(e);

        assert_eq!(diagnostic.error_type, "Permanent");
        assert!(diagnostic.error_message.contains("createReport"));
    }
}
