//! Lambda glue shared by every spsync function, said once here so that no `main` repeats it.
//!
//! Owns what sits between the Lambda runtime and the workflow's use cases:
//! * [`init_tracing`]: the log subscriber, following Lambda's logging controls
//!   (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`, `RUST_LOG`).
//! * [`env::EnvReader`]: reads a function's environment and reports *every* missing or
//!   malformed variable in one [`env::ConfigError`], not the first one.
//! * [`run_sqs_batch`]: the one SQS batch runner. Each record body becomes a
//!   [`spsync_workflow::StepMessage`] and runs in its own span with bounded concurrency (the
//!   steps call rate-limited APIs); failures become `batchItemFailures` so only those records
//!   come back, a panic in one record fails that record only, and a batch in which every
//!   record failed fails the invocation so it shows in the function's `Errors` metric.
//! * [`Metrics`]: CloudWatch embedded-metric-format (EMF) lines, one per invocation.
//! * [`SystemClock`]: the workflow's [`spsync_workflow::Clock`] on the system time.
//!
//! It must not hold business decisions: a handler here only decodes, calls one use case and
//! encodes the answer. It knows nothing about AWS SDK clients or SP-API.
#![warn(missing_docs)]

mod batch;
pub mod env;
mod logging;
mod metrics;

pub use batch::{BatchError, DEFAULT_BATCH_CONCURRENCY, run_sqs_batch};
pub use env::{ConfigError, EnvReader, FromEnv};
pub use logging::{init_tracing, log_filter};
pub use metrics::{DEFAULT_SERVICE, METRICS_NAMESPACE, Metrics, MetricsConfig, SERVICE_NAME, Unit};

/// The workflow's clock on the system time (UTC). Lambda containers keep NTP-synchronised
/// time; flows and tests use a manual clock instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl spsync_workflow::Clock for SystemClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spsync_workflow::Clock;

    #[test]
    fn system_clock_is_utc_and_moves_forward() {
        let a = SystemClock.now();
        let b = SystemClock.now();

        assert_eq!(a.offset(), time::UtcOffset::UTC);
        assert!(b >= a);
    }
}
