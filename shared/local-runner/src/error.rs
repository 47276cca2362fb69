//! Errors of the local runner and the operator CLI.

use spsync_workflow::{BoxError, QueueError, StoreError};

/// What went wrong while building or driving the local stack, or in an operator command.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The scenario file is not a valid scenario.
    #[error("scenario {path}: {reason}")]
    Scenario {
        /// The file (or `built-in`).
        path: String,
        /// Why.
        reason: String,
    },
    /// The simulator did not start.
    #[error("simulator: {0}")]
    Sim(#[from] spsync_sim::SimError),
    /// The template could not be read or provisioned.
    #[error("stack: {0}")]
    Stack(#[source] BoxError),
    /// A schedule expression the runner cannot drive.
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    /// A function could not be configured from its environment.
    #[error("function {function}: {reason}")]
    Function {
        /// Binary name.
        function: String,
        /// Why.
        reason: String,
    },
    /// An AWS call of the runner itself failed.
    #[error("{operation}: {source}")]
    Aws {
        /// AWS operation.
        operation: &'static str,
        /// Cause.
        #[source]
        source: BoxError,
    },
    /// A queue operation answered with a per-entry failure.
    #[error("{operation}: {reason}")]
    Queue {
        /// SQS operation.
        operation: &'static str,
        /// Why.
        reason: String,
    },
    /// A store (DynamoDB/S3 adapter) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The step queue failed.
    #[error(transparent)]
    StepQueue(#[from] QueueError),
    /// A required environment variable is missing (operator CLI).
    #[error("{0} is not set (for a local stack: source .run/local-stack.env)")]
    MissingEnv(&'static str),
    /// The operator asked for something that does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl RunnerError {
    /// Whether running the same thing again may work (an AWS endpoint that was not up yet,
    /// a throttled store) rather than needing a fix.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Aws { .. } | Self::Queue { .. } => true,
            Self::Store(e) => !matches!(e.retryability(), spsync_workflow::Retryability::Permanent),
            Self::StepQueue(e) => e.retryable,
            Self::Io { .. }
            | Self::Scenario { .. }
            | Self::Sim(_)
            | Self::Stack(_)
            | Self::Schedule(_)
            | Self::Function { .. }
            | Self::MissingEnv(_)
            | Self::NotFound(_) => false,
        }
    }
}

/// Wraps an AWS SDK error (or any error) of `operation`.
pub(crate) fn aws_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> RunnerError {
    // The SDK's own Display says only "service error"; the context names the cause.
    let context = aws_sdk_sqs::error::DisplayErrorContext(&source).to_string();
    RunnerError::Aws {
        operation,
        source: context.into(),
    }
}
