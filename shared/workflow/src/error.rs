//! Errors crossing the ports, each classified at the edge: [`Retryability`] decides between
//! "re-send the step later", "let SQS redeliver it" and "record the failure and stop".

use std::time::Duration;

use crate::message::MessageError;

/// A boxed source error from an adapter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryability {
    /// The provider asked us to slow down: run the step again after this wait.
    Throttled {
        /// Wait before trying again (≥ 1 s).
        retry_after: Duration,
    },
    /// Might work on a later try (timeouts, 5xx, connection errors).
    Transient,
    /// Will not work by trying again (bad request, missing permission, corrupt data).
    Permanent,
}

/// Errors of the DynamoDB/S3 (or in-memory) stores.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: somebody else changed the item first.
    #[error("{what}: condition failed (changed concurrently)")]
    ConditionFailed {
        /// What was written.
        what: String,
    },
    /// The item or object does not exist.
    #[error("{what}: not found")]
    NotFound {
        /// What was read.
        what: String,
    },
    /// The store throttled us.
    #[error("{operation}: throttled")]
    Throttled {
        /// Store operation.
        operation: &'static str,
    },
    /// Might work later.
    #[error("{operation}: transient store error")]
    Transient {
        /// Store operation.
        operation: &'static str,
        /// Cause.
        #[source]
        source: BoxError,
    },
    /// Will not work later (bad item, missing permission, undecodable data).
    #[error("{operation}: {source}")]
    Permanent {
        /// Store operation.
        operation: &'static str,
        /// Cause.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Retry class.
    pub fn retryability(&self) -> Retryability {
        match self {
            Self::Throttled { .. } => Retryability::Throttled {
                retry_after: Duration::from_secs(1),
            },
            Self::Transient { .. } | Self::ConditionFailed { .. } => Retryability::Transient,
            Self::NotFound { .. } | Self::Permanent { .. } => Retryability::Permanent,
        }
    }
}

/// Errors of the SP-API ports.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 429 or our own limiter: try again after `retry_after`.
    #[error("{operation}: throttled, retry after {retry_after:?}")]
    Throttled {
        /// SP-API operation.
        operation: &'static str,
        /// Wait.
        retry_after: Duration,
    },
    /// Timeouts, 5xx, connection errors, or an answer whose fate is unknown.
    #[error("{operation}: transient SP-API error: {message}")]
    Transient {
        /// SP-API operation.
        operation: &'static str,
        /// What happened (no PII, no URLs).
        message: String,
    },
    /// 4xx other than 429, unusable credentials, a contract broken by Amazon.
    #[error("{operation}: SP-API error {code}: {message}")]
    Permanent {
        /// SP-API operation.
        operation: &'static str,
        /// SP-API error code or HTTP status.
        code: String,
        /// Amazon's message.
        message: String,
    },
}

impl ApiError {
    /// Retry class.
    pub fn retryability(&self) -> Retryability {
        match self {
            Self::Throttled { retry_after, .. } => Retryability::Throttled {
                retry_after: (*retry_after).max(Duration::from_secs(1)),
            },
            Self::Transient { .. } => Retryability::Transient,
            Self::Permanent { .. } => Retryability::Permanent,
        }
    }
}

/// Errors of the step queue.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: queue error")]
pub struct QueueError {
    /// Queue operation.
    pub operation: &'static str,
    /// Whether sending again may work.
    pub retryable: bool,
    /// Cause.
    #[source]
    pub source: BoxError,
}

/// Errors of a use case; the batch runner acts on [`WorkflowError::retryability`].
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SP-API failure.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Queue failure.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Undecodable message.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A stored document cannot be read at all (header missing, unknown charset).
    #[error("document {key}: {reason}")]
    Document {
        /// S3 key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The configuration names something that does not exist (a seller without account).
    #[error("configuration: {0}")]
    Config(String),
}

impl WorkflowError {
    /// Retry class.
    pub fn retryability(&self) -> Retryability {
        match self {
            Self::Store(e) => e.retryability(),
            Self::Api(e) => e.retryability(),
            Self::Queue(e) if e.retryable => Retryability::Transient,
            Self::Queue(_) | Self::Message(_) | Self::Document { .. } | Self::Config(_) => {
                Retryability::Permanent
            }
        }
    }

    /// Short class name for logs and metrics: `Throttled`, `Transient` or `Permanent`.
    pub fn class(&self) -> &'static str {
        match self.retryability() {
            Retryability::Throttled { .. } => "Throttled",
            Retryability::Transient => "Transient",
            Retryability::Permanent => "Permanent",
        }
    }
}
