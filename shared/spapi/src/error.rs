//! The crate's one error type, [`SpApiError`], and its retry classification.
//!
//! Classification happens here, at the edge (the smithy retry runtime's idea): every error
//! answers [`SpApiError::retryability`], and callers act on that class only.

use std::time::Duration;

use serde::Deserialize;

/// Whether and when a failed call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryability {
    /// Amazon (or our own limiter) said "not now": try again after `retry_after`.
    Throttled {
        /// Earliest sensible retry.
        retry_after: Duration,
    },
    /// A failure that may go away by itself (5xx, timeout, connection reset). The client has
    /// already retried a few times in-process.
    Transient,
    /// Retrying the same call will fail the same way (4xx, bad credentials, malformed data).
    Permanent,
}

/// Everything that can go wrong talking to SP-API, LWA or a presigned document URL.
///
/// Messages never contain access tokens, secrets or presigned URLs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpApiError {
    /// SP-API answered with an error status and (usually) Amazon's `{"errors":[...]}` body.
    #[error("{operation}: HTTP {status} {code}: {message}")]
    Api {
        /// SP-API operation name, e.g. `createReport`.
        operation: &'static str,
        /// HTTP status code.
        status: u16,
        /// Amazon's error `code` (e.g. `InvalidInput`, `Unauthorized`); empty if the body had none.
        code: String,
        /// Amazon's error `message`, or a short excerpt of a non-JSON body.
        message: String,
        /// Amazon's optional `details`.
        details: Option<String>,
        /// `x-amzn-RequestId` of the response, for Amazon support cases.
        request_id: Option<String>,
    },
    /// Throttled: Amazon answered 429, or our limiter knows the bucket is empty and did not
    /// call Amazon at all (then `request_id` is `None`).
    #[error("{operation}: throttled, retry after {retry_after:?}")]
    Throttled {
        /// SP-API operation name.
        operation: &'static str,
        /// How long to wait before trying again.
        retry_after: Duration,
        /// `x-amzn-RequestId` of the 429 response, if there was one.
        request_id: Option<String>,
    },
    /// The HTTP exchange itself failed (connect, timeout, reset, TLS).
    #[error("{operation}: transport error")]
    Transport {
        /// Operation name (`lwaToken`, `downloadDocument`, ... for non-SP-API calls).
        operation: &'static str,
        /// The underlying error; URLs are stripped for presigned transfers.
        #[source]
        source: reqwest::Error,
    },
    /// A success response whose body did not match the model.
    #[error("{operation}: could not decode the response body")]
    Decode {
        /// Operation name.
        operation: &'static str,
        /// `x-amzn-RequestId` of the response.
        request_id: Option<String>,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The LWA refresh-token exchange was refused or failed.
    #[error("LWA token exchange failed (HTTP {status:?}, {code:?}): {description}")]
    Auth {
        /// HTTP status of the token endpoint's answer.
        status: Option<u16>,
        /// LWA `error` code (`invalid_grant`, `invalid_client`, ...), if the body had one.
        code: Option<String>,
        /// LWA `error_description`, or a short excerpt of a non-JSON body.
        description: String,
    },
    /// A presigned document URL (download or upload) answered with an error status.
    #[error("{operation}: presigned URL answered HTTP {status}")]
    DocumentHttp {
        /// `downloadDocument` or `uploadFeedDocument`.
        operation: &'static str,
        /// HTTP status code.
        status: u16,
    },
    /// A document could not be decoded (corrupt gzip, unsupported charset).
    #[error("invalid document: {reason}")]
    InvalidDocument {
        /// What is wrong.
        reason: String,
        /// The IO error raised while decoding, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Writing a downloaded document to the caller's sink failed.
    #[error("{operation}: writing the document failed")]
    Io {
        /// Operation name.
        operation: &'static str,
        /// The sink's error.
        #[source]
        source: std::io::Error,
    },
    /// The request could not be built (bad id, endpoint that cannot carry a path).
    #[error("{operation}: invalid request: {reason}")]
    InvalidRequest {
        /// Operation name.
        operation: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The client configuration is unusable.
    #[error("invalid SP-API client configuration: {0}")]
    Config(String),
}

/// LWA error codes that no retry will fix (LWAExceptionErrorCode in Amazon's Java client).
const PERMANENT_LWA_CODES: &[&str] = &[
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "invalid_request",
    "invalid_scope",
    "access_denied",
    "unsupported_grant_type",
];

fn status_class(status: u16) -> Retryability {
    match status {
        408 | 500..=599 => Retryability::Transient,
        _ => Retryability::Permanent,
    }
}

impl SpApiError {
    /// How the caller should treat this error: wait and retry, retry later, or give up.
    pub fn retryability(&self) -> Retryability {
        match self {
            Self::Throttled { retry_after, .. } => Retryability::Throttled {
                retry_after: *retry_after,
            },
            Self::Api { status, .. } => status_class(*status),
            Self::Transport { source, .. } => {
                if source.is_builder() {
                    Retryability::Permanent
                } else {
                    Retryability::Transient
                }
            }
            Self::Auth { status, code, .. } => match code.as_deref() {
                Some(c) if PERMANENT_LWA_CODES.contains(&c) => Retryability::Permanent,
                Some("server_error" | "temporarily_unavailable") => Retryability::Transient,
                _ => match status {
                    Some(429) | None => Retryability::Transient,
                    Some(s) => status_class(*s),
                },
            },
            // An expired presigned URL (403) is fixed by asking for the document again, which a
            // retry of the step does; other 4xx mean a request we built wrong.
            Self::DocumentHttp { status, .. } => match status {
                403 => Retryability::Transient,
                s => status_class(*s),
            },
            Self::Io { .. } => Retryability::Transient,
            Self::Decode { .. }
            | Self::InvalidDocument { .. }
            | Self::InvalidRequest { .. }
            | Self::Config(_) => Retryability::Permanent,
        }
    }

    /// The SP-API operation (or pseudo-operation) the error belongs to, if any.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Self::Api { operation, .. }
            | Self::Throttled { operation, .. }
            | Self::Transport { operation, .. }
            | Self::Decode { operation, .. }
            | Self::DocumentHttp { operation, .. }
            | Self::Io { operation, .. }
            | Self::InvalidRequest { operation, .. } => Some(operation),
            Self::Auth { .. } => Some("lwaToken"),
            Self::InvalidDocument { .. } | Self::Config(_) => None,
        }
    }

    /// `x-amzn-RequestId` of the response behind this error, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. }
            | Self::Throttled { request_id, .. }
            | Self::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

/// Amazon's error list, `{"errors":[{"code","message","details"?}]}` (ErrorList in every model).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ErrorEntry>,
}

/// One entry of [`ErrorList`].
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEntry {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Option<String>,
}

/// A short, printable excerpt of a body that is not the expected JSON.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// Builds [`SpApiError::Api`] from an error response, keeping the first entry of Amazon's list.
pub(crate) fn api_error(
    operation: &'static str,
    status: u16,
    body: &[u8],
    request_id: Option<String>,
) -> SpApiError {
    let first = serde_json::from_slice::<ErrorList>(body)
        .ok()
        .and_then(|list| list.errors.into_iter().next());
    let (code, message, details) = match first {
        Some(e) => (e.code, e.message, e.details.filter(|d| !d.is_empty())),
        None => (String::new(), body_excerpt(body), None),
    };
    SpApiError::Api {
        operation,
        status,
        code,
        message,
        details,
        request_id,
    }
}

/// Whether an SP-API 401/403 error says the access token itself is bad (expired, revoked,
/// malformed, invalid), as opposed to "your app lacks the role", which no refresh fixes.
///
/// Observed 403 body: `{"code":"Unauthorized","message":"Access to requested resource is
/// denied.","details":"The access token you provided is revoked, malformed or invalid."}`.
pub(crate) fn is_token_rejection(status: u16, body: &[u8]) -> bool {
    if status != 401 && status != 403 {
        return false;
    }
    let Ok(list) = serde_json::from_slice::<ErrorList>(body) else {
        return false;
    };
    list.errors.iter().any(|e| {
        let text = format!(
            "{} {} {}",
            e.code,
            e.message,
            e.details.as_deref().unwrap_or_default()
        )
        .to_ascii_lowercase();
        text.contains("token")
            && ["expired", "invalid", "revoked", "malformed"]
                .iter()
                .any(|w| text.contains(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> SpApiError {
        SpApiError::Api {
            operation: "getReport",
            status,
            code: "X".into(),
            message: "m".into(),
            details: None,
            request_id: None,
        }
    }

    fn auth(status: Option<u16>, code: Option<&str>) -> SpApiError {
        SpApiError::Auth {
            status,
            code: code.map(str::to_owned),
            description: String::new(),
        }
    }

    #[test]
    fn retryability_table() {
        let cases: Vec<(SpApiError, Retryability)> = vec![
            (api(400), Retryability::Permanent),
            (api(403), Retryability::Permanent),
            (api(404), Retryability::Permanent),
            (api(408), Retryability::Transient),
            (api(500), Retryability::Transient),
            (api(503), Retryability::Transient),
            (
                SpApiError::Throttled {
                    operation: "createReport",
                    retry_after: Duration::from_secs(60),
                    request_id: None,
                },
                Retryability::Throttled {
                    retry_after: Duration::from_secs(60),
                },
            ),
            (
                auth(Some(400), Some("invalid_grant")),
                Retryability::Permanent,
            ),
            (
                auth(Some(401), Some("invalid_client")),
                Retryability::Permanent,
            ),
            (
                auth(Some(400), Some("unauthorized_client")),
                Retryability::Permanent,
            ),
            (
                auth(Some(500), Some("server_error")),
                Retryability::Transient,
            ),
            (
                auth(Some(503), Some("temporarily_unavailable")),
                Retryability::Transient,
            ),
            (auth(Some(502), None), Retryability::Transient),
            (auth(Some(429), None), Retryability::Transient),
            (auth(Some(404), None), Retryability::Permanent),
            (
                SpApiError::DocumentHttp {
                    operation: "downloadDocument",
                    status: 403,
                },
                Retryability::Transient,
            ),
            (
                SpApiError::DocumentHttp {
                    operation: "uploadFeedDocument",
                    status: 400,
                },
                Retryability::Permanent,
            ),
            (
                SpApiError::InvalidDocument {
                    reason: "x".into(),
                    source: None,
                },
                Retryability::Permanent,
            ),
            (SpApiError::Config("x".into()), Retryability::Permanent),
        ];
        for (error, expected) in cases {
            assert_eq!(error.retryability(), expected, "{error:?}");
        }
    }

    #[test]
    fn api_error_keeps_amazon_fields() {
        let body = br#"{"errors":[{"code":"InvalidInput","message":"Invalid input","details":"reportType"},{"code":"Other","message":"second"}]}"#;
        let e = api_error("createReport", 400, body, Some("req-1".into()));
        match e {
            SpApiError::Api {
                operation,
                status,
                code,
                message,
                details,
                request_id,
            } => {
                assert_eq!(operation, "createReport");
                assert_eq!(status, 400);
                assert_eq!(code, "InvalidInput");
                assert_eq!(message, "Invalid input");
                assert_eq!(details.as_deref(), Some("reportType"));
                assert_eq!(request_id.as_deref(), Some("req-1"));
            }
            other => panic!("{other:?}"),
        }
        // a non-JSON body is kept as a bounded excerpt
        let html = format!("<html>{}</html>", "x".repeat(1000));
        let SpApiError::Api { code, message, .. } =
            api_error("getReport", 502, html.as_bytes(), None)
        else {
            panic!("not Api")
        };
        assert_eq!(code, "");
        assert!(
            message.starts_with("<html>xxx") && message.len() < 210,
            "{message}"
        );
    }

    #[test]
    fn token_rejection_detection() {
        let revoked = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":"The access token you provided is revoked, malformed or invalid."}]}"#;
        let expired = br#"{"errors":[{"code":"Unauthorized","message":"The access token you provided has expired."}]}"#;
        let no_role = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
        let cases: &[(u16, &[u8], bool)] = &[
            (403, revoked, true),
            (403, expired, true),
            (401, expired, true),
            (403, no_role, false),
            (400, expired, false),
            (403, b"not json", false),
        ];
        for (status, body, expected) in cases {
            assert_eq!(
                is_token_rejection(*status, body),
                *expected,
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
