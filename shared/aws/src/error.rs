//! The one home of AWS error mapping: SDK errors become [`StoreError`] / [`QueueError`] here and
//! nowhere else, so every adapter classifies the same way.
//!
//! The SDK has already retried throttles and transient failures a few times (standard retry
//! mode) before an error reaches us; what is left is classified for the workflow:
//!
//! | What the SDK says | Class |
//! |---|---|
//! | `ConditionalCheckFailedException` | [`StoreError::ConditionFailed`] |
//! | `NoSuchKey` (S3) | [`StoreError::NotFound`] |
//! | `ProvisionedThroughputExceededException`, `RequestLimitExceeded`, `ThrottlingException`, `SlowDown`, HTTP 429, ... | [`StoreError::Throttled`] |
//! | timeouts, dispatch (IO) failures, unreadable answers, HTTP 5xx | [`StoreError::Transient`] |
//! | validation, access denied, `ResourceNotFoundException`, other 4xx | [`StoreError::Permanent`] |

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use spsync_workflow::{BoxError, QueueError, StoreError};

/// Failures the adapters detect themselves (not the SDK's): the `source` of a
/// [`StoreError`] or [`QueueError`].
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// A stored item or object is not what spsync writes (missing attribute, bad JSON).
    #[error("stored {what} is unreadable: {reason}")]
    Decode {
        /// What was read (`job`, `order`, `seller`, `cursor`, ...).
        what: &'static str,
        /// Why, without the stored values (they may hold PII).
        reason: String,
    },
    /// BatchGetItem kept answering with unprocessed keys.
    #[error("{remaining} keys still unprocessed after {rounds} rounds")]
    UnprocessedKeys {
        /// Keys left.
        remaining: usize,
        /// Rounds tried.
        rounds: u32,
    },
    /// A step was sent to a queue this function was not configured with.
    #[error("no queue url configured for {queue}")]
    UnknownQueue {
        /// The queue's name.
        queue: &'static str,
    },
    /// A listing page token that this adapter did not issue.
    #[error("page token is malformed")]
    PageToken,
    /// A request could not be built (a required field missing).
    #[error("request could not be built: {0}")]
    Build(String),
}

/// What an AWS error means to the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// A conditional write lost.
    ConditionFailed,
    /// The object does not exist.
    NotFound,
    /// Slow down.
    Throttled,
    /// Might work later.
    Transient,
    /// Will not work later.
    Permanent,
}

/// Error codes AWS services use for "slow down", across DynamoDB, S3, SQS and Secrets Manager.
const THROTTLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "AWS.SimpleQueueService.RequestThrottled",
    "SlowDown",
];

/// Codes that are worth another try although their HTTP status is a 4xx.
const TRANSIENT_CODES: &[&str] = &[
    "TransactionConflictException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Classifies a service's answer from its error code and HTTP status (pure, table-tested).
pub(crate) fn classify_code(code: Option<&str>, status: u16) -> ErrorClass {
    match code {
        Some("ConditionalCheckFailedException") => return ErrorClass::ConditionFailed,
        Some("NoSuchKey") => return ErrorClass::NotFound,
        Some(c) if THROTTLE_CODES.contains(&c) => return ErrorClass::Throttled,
        Some(c) if TRANSIENT_CODES.contains(&c) => return ErrorClass::Transient,
        _ => {}
    }
    match status {
        429 => ErrorClass::Throttled,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// Classifies any SDK error (every SDK crate shares the same `SdkError`).
pub(crate) fn classify<E: ProvideErrorMetadata>(err: &SdkError<E>) -> ErrorClass {
    match err {
        SdkError::ConstructionFailure(_) => ErrorClass::Permanent,
        SdkError::DispatchFailure(d) if d.is_user() => ErrorClass::Permanent,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        SdkError::ServiceError(ctx) => classify_code(ctx.err().code(), ctx.raw().status().as_u16()),
        // `SdkError` is non-exhaustive: an unknown kind is more likely a passing failure.
        _ => ErrorClass::Transient,
    }
}

/// Maps an SDK error to a [`StoreError`]. `operation` is the AWS operation (`PutItem`),
/// `what` names the item for conflicts and misses (`job 2026...`), never with PII.
pub(crate) fn store_error<E>(
    operation: &'static str,
    what: impl Into<String>,
    err: SdkError<E>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let class = classify(&err);
    tracing::debug!(operation, error_code = err.code().unwrap_or(""), class = ?class, "aws call failed");
    match class {
        ErrorClass::ConditionFailed => StoreError::ConditionFailed { what: what.into() },
        ErrorClass::NotFound => StoreError::NotFound { what: what.into() },
        ErrorClass::Throttled => StoreError::Throttled { operation },
        ErrorClass::Transient => StoreError::Transient {
            operation,
            source: Box::new(err),
        },
        ErrorClass::Permanent => StoreError::Permanent {
            operation,
            source: Box::new(err),
        },
    }
}

/// Maps an SDK error to a [`QueueError`]: throttles and transient failures are retryable.
pub(crate) fn queue_error<E>(operation: &'static str, err: SdkError<E>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = matches!(
        classify(&err),
        ErrorClass::Throttled | ErrorClass::Transient
    );
    tracing::debug!(
        operation,
        error_code = err.code().unwrap_or(""),
        retryable,
        "aws call failed"
    );
    QueueError {
        operation,
        retryable,
        source: Box::new(err),
    }
}

/// A permanent store error from something the adapter itself found wrong.
pub(crate) fn permanent(operation: &'static str, source: AdapterError) -> StoreError {
    StoreError::Permanent {
        operation,
        source: Box::new(source) as BoxError,
    }
}

/// A stored value that does not decode.
pub(crate) fn decode(
    operation: &'static str,
    what: &'static str,
    reason: impl Into<String>,
) -> StoreError {
    permanent(
        operation,
        AdapterError::Decode {
            what,
            reason: reason.into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_classified() {
        let cases = [
            (
                Some("ConditionalCheckFailedException"),
                400,
                ErrorClass::ConditionFailed,
            ),
            (Some("NoSuchKey"), 404, ErrorClass::NotFound),
            (
                Some("ProvisionedThroughputExceededException"),
                400,
                ErrorClass::Throttled,
            ),
            (Some("RequestLimitExceeded"), 400, ErrorClass::Throttled),
            (Some("ThrottlingException"), 400, ErrorClass::Throttled),
            (Some("SlowDown"), 503, ErrorClass::Throttled),
            (None, 429, ErrorClass::Throttled),
            (Some("InternalServerError"), 500, ErrorClass::Transient),
            (
                Some("TransactionConflictException"),
                400,
                ErrorClass::Transient,
            ),
            (None, 503, ErrorClass::Transient),
            (Some("ValidationException"), 400, ErrorClass::Permanent),
            (Some("AccessDeniedException"), 400, ErrorClass::Permanent),
            (
                Some("ResourceNotFoundException"),
                400,
                ErrorClass::Permanent,
            ),
            (
                Some("AWS.SimpleQueueService.NonExistentQueue"),
                400,
                ErrorClass::Permanent,
            ),
            (None, 403, ErrorClass::Permanent),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify_code(code, status), want, "{code:?} {status}");
        }
    }
}
