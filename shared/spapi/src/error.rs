//! The crate's one error type, [`SpApiError`], and its retry classification.
//!
//! Classification happens here, at the edge (the smithy retry runtime's idea): every error
//! answers [`SpApiError::retryability`], and callers act on that class only.

use std::time::Duration;

use serde::Deserialize;

use crate::limits::Operation;

/// The shortest `retry_after` this crate hands out. SQS delays are whole seconds, and a
/// "retry after 0 ns" invites a tight loop.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The delay [`SpApiError::retry_after`] suggests for a transient failure: long enough for a
/// 5xx burst or a network blip to pass, short enough to keep a poll loop moving.
pub const TRANSIENT_RETRY_AFTER: Duration = Duration::from_secs(30);

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
    #[error("{operation}: HTTP {status}{}: {message}", code_part(.code))]
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
    #[error("LWA token exchange failed ({}): {description}", auth_context(.status, .code))]
    Auth {
        /// HTTP status of the token endpoint's answer; `None` when there was no answer (the
        /// exchange failed in transit). Callers that waited for another caller's failed
        /// exchange get this variant too, summarising that failure.
        status: Option<u16>,
        /// LWA `error` code (`invalid_grant`, `invalid_client`, ...), if the body had one.
        code: Option<String>,
        /// LWA `error_description`, or a short excerpt of a non-JSON body.
        description: String,
    },
    /// A presigned document URL (download or upload) answered with an error status.
    ///
    /// S3's XML error `<Code>` is kept (never the URL). `url_expired` is set for S3's
    /// `AccessDenied` / "Request has expired": the URL is dead and only a new one helps
    /// (getReportDocument / getFeedDocument again, or a new createFeedDocument for an upload),
    /// which a retry of the workflow step does, so it is classified `Transient`.
    #[error("{operation}: presigned URL answered HTTP {status}{}{}", code_part(.code), expired_part(.url_expired))]
    DocumentHttp {
        /// `downloadDocument` or `uploadFeedDocument`.
        operation: &'static str,
        /// HTTP status code.
        status: u16,
        /// S3's error `<Code>` (`RequestTimeout`, `SlowDown`, `SignatureDoesNotMatch`, ...), if
        /// the body had one.
        code: Option<String>,
        /// The URL has expired; ask for a new one.
        url_expired: bool,
    },
    /// A document body ended before its `Content-Length`.
    #[error("{operation}: body ended after {received} of {expected} bytes")]
    IncompleteBody {
        /// Operation name.
        operation: &'static str,
        /// `Content-Length` the server announced.
        expected: u64,
        /// Bytes actually received.
        received: u64,
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
    /// Reading or writing a document failed for a reason other than its content: the
    /// caller's sink, or the stream under a [`crate::documents::DocumentReader`].
    #[error("{operation}: document I/O failed")]
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

fn code_part(code: &impl CodePart) -> String {
    code.code_part()
}

/// ` Code` for a present, non-empty error code, nothing otherwise.
trait CodePart {
    fn code_part(&self) -> String;
}

impl CodePart for String {
    fn code_part(&self) -> String {
        if self.is_empty() {
            String::new()
        } else {
            format!(" {self}")
        }
    }
}

impl CodePart for Option<String> {
    fn code_part(&self) -> String {
        self.as_ref().map(CodePart::code_part).unwrap_or_default()
    }
}

fn expired_part(url_expired: &bool) -> &'static str {
    if *url_expired { " (URL expired)" } else { "" }
}

fn auth_context(status: &Option<u16>, code: &Option<String>) -> String {
    let status = match status {
        Some(s) => format!("HTTP {s}"),
        None => "no HTTP answer".to_owned(),
    };
    match code {
        Some(c) => format!("{status}, {c}"),
        None => status,
    }
}

/// S3 error codes that a retry of the same request may get past.
const TRANSIENT_S3_CODES: &[&str] = &[
    "RequestTimeout",
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
];

fn document_http_class(status: u16, code: Option<&str>, url_expired: bool) -> Retryability {
    if url_expired {
        return Retryability::Transient;
    }
    match code {
        Some(c) if TRANSIENT_S3_CODES.contains(&c) => Retryability::Transient,
        // A code we know, e.g. SignatureDoesNotMatch or AccessDenied: what we sent is wrong.
        Some(_) if status < 500 => Retryability::Permanent,
        // A bare 403 from something that is not S3 most likely means an expired URL.
        None if status == 403 => Retryability::Transient,
        _ => status_class(status),
    }
}

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
                // No status: the exchange failed in transit (or a caller waited for one that did).
                Some(c) if PERMANENT_LWA_CODES.contains(&c) => Retryability::Permanent,
                Some("server_error" | "temporarily_unavailable") => Retryability::Transient,
                _ => match status {
                    Some(429) | None => Retryability::Transient,
                    Some(s) => status_class(*s),
                },
            },
            Self::DocumentHttp {
                status,
                code,
                url_expired,
                ..
            } => document_http_class(*status, code.as_deref(), *url_expired),
            Self::Io { .. } | Self::IncompleteBody { .. } => Retryability::Transient,
            // A success body that does not decode, e.g. a processingStatus added by Amazon
            // after this client was built. On read-only calls the step is re-run later (and
            // lands in the DLQ, with an alarm, if it never decodes) rather than failing every
            // in-flight job for good; a fixed client then redrives them. On calls with side
            // effects (createReport, createFeed, the LWA exchange) a retry would repeat the side
            // effect, so the error is permanent there.
            Self::Decode { operation, .. } => {
                if Operation::ALL
                    .iter()
                    .any(|op| op.name() == *operation && op.is_read_only())
                {
                    Retryability::Transient
                } else {
                    Retryability::Permanent
                }
            }
            Self::InvalidDocument { .. } | Self::InvalidRequest { .. } | Self::Config(_) => {
                Retryability::Permanent
            }
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
            | Self::IncompleteBody { operation, .. }
            | Self::Io { operation, .. }
            | Self::InvalidRequest { operation, .. } => Some(operation),
            Self::Auth { .. } => Some(crate::auth::LWA_OPERATION),
            Self::InvalidDocument { .. } | Self::Config(_) => None,
        }
    }

    /// How long to wait before retrying, in one call: the throttle wait (never under
    /// [`MIN_RETRY_AFTER`]) for `Throttled`, [`TRANSIENT_RETRY_AFTER`] for `Transient`,
    /// `None` for `Permanent`. A handler turns an error into a delayed step message with
    /// `err.retry_after().map(|d| queue.send_after(step, d))`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.retryability() {
            Retryability::Throttled { retry_after } => Some(retry_after.max(MIN_RETRY_AFTER)),
            Retryability::Transient if self.is_document_url_expired() => Some(MIN_RETRY_AFTER),
            Retryability::Transient => Some(TRANSIENT_RETRY_AFTER),
            Retryability::Permanent => None,
        }
    }

    /// `true` when a presigned URL has expired: get a new one (getReportDocument,
    /// getFeedDocument or createFeedDocument) rather than retrying the same URL.
    pub fn is_document_url_expired(&self) -> bool {
        matches!(
            self,
            Self::DocumentHttp {
                url_expired: true,
                ..
            }
        )
    }

    /// `Throttled` with `retry_after` floored at [`MIN_RETRY_AFTER`].
    pub(crate) fn throttled(
        operation: &'static str,
        retry_after: Duration,
        request_id: Option<String>,
    ) -> Self {
        Self::Throttled {
            operation,
            retry_after: retry_after.max(MIN_RETRY_AFTER),
            request_id,
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

/// Whether an SP-API error says the access token itself may be bad, so one refresh is worth it.
///
/// A 401 always qualifies: it is about authentication, whatever the body says (Amazon also
/// sends a bare `{"message":"Unauthorized"}`). A 403 qualifies only when it blames the token
/// (expired, revoked, malformed, invalid), as opposed to "your app lacks the role", which no
/// refresh fixes. Observed 403 body: `{"code":"Unauthorized","message":"Access to requested
/// resource is denied.","details":"The access token you provided is revoked, malformed or
/// invalid."}`.
pub(crate) fn is_token_rejection(status: u16, body: &[u8]) -> bool {
    if status == 401 {
        return true;
    }
    if status != 403 {
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

/// S3's XML error `<Code>` and whether it says the presigned URL expired
/// (`<Code>AccessDenied</Code><Message>Request has expired</Message>`). Reads only the tags,
/// never echoes the body (which may quote the URL's signature).
pub(crate) fn s3_error(body: &[u8]) -> (Option<String>, bool) {
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&close)?;
        Some(text[start..end].trim().to_owned())
    };
    let code = tag("Code").filter(|c| {
        !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric())
    });
    let expired = code.as_deref() == Some("AccessDenied")
        && tag("Message").is_some_and(|m| m.to_ascii_lowercase().contains("request has expired"));
    (code, expired)
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

    fn doc_http(status: u16, code: Option<&str>, url_expired: bool) -> SpApiError {
        SpApiError::DocumentHttp {
            operation: "downloadDocument",
            status,
            code: code.map(str::to_owned),
            url_expired,
        }
    }

    fn decode(operation: &'static str) -> SpApiError {
        SpApiError::Decode {
            operation,
            request_id: None,
            source: serde_json::from_str::<u8>("x").unwrap_err(),
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
            (doc_http(403, None, false), Retryability::Transient),
            (
                doc_http(403, Some("AccessDenied"), true),
                Retryability::Transient,
            ),
            (
                doc_http(403, Some("AccessDenied"), false),
                Retryability::Permanent,
            ),
            (
                doc_http(403, Some("SignatureDoesNotMatch"), false),
                Retryability::Permanent,
            ),
            (
                doc_http(400, Some("RequestTimeout"), false),
                Retryability::Transient,
            ),
            (
                doc_http(503, Some("SlowDown"), false),
                Retryability::Transient,
            ),
            (
                doc_http(500, Some("InternalError"), false),
                Retryability::Transient,
            ),
            (doc_http(400, None, false), Retryability::Permanent),
            (
                doc_http(404, Some("NoSuchKey"), false),
                Retryability::Permanent,
            ),
            (doc_http(502, None, false), Retryability::Transient),
            (auth(None, None), Retryability::Transient),
            (decode("getReport"), Retryability::Transient),
            (decode("getFeeds"), Retryability::Transient),
            (decode("searchOrders"), Retryability::Transient),
            (decode("createReport"), Retryability::Permanent),
            (decode("createFeed"), Retryability::Permanent),
            (decode("lwaToken"), Retryability::Permanent),
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
    fn messages_print_plain_values() {
        let auth = SpApiError::Auth {
            status: Some(503),
            code: Some("temporarily_unavailable".into()),
            description: "later".into(),
        };
        assert_eq!(
            auth.to_string(),
            "LWA token exchange failed (HTTP 503, temporarily_unavailable): later"
        );
        let no_answer = SpApiError::Auth {
            status: None,
            code: None,
            description: "timeout".into(),
        };
        assert_eq!(
            no_answer.to_string(),
            "LWA token exchange failed (no HTTP answer): timeout"
        );
        let bare = SpApiError::Api {
            operation: "getReport",
            status: 401,
            code: String::new(),
            message: "Unauthorized".into(),
            details: None,
            request_id: None,
        };
        assert_eq!(bare.to_string(), "getReport: HTTP 401: Unauthorized");
        assert_eq!(
            api(400).to_string(),
            "getReport: HTTP 400 X: m",
            "a code is still printed"
        );
        assert_eq!(
            doc_http(403, Some("AccessDenied"), true).to_string(),
            "downloadDocument: presigned URL answered HTTP 403 AccessDenied (URL expired)"
        );
    }

    #[test]
    fn retry_after_is_one_line_for_handlers() {
        let throttled = SpApiError::Throttled {
            operation: "getReport",
            retry_after: Duration::from_millis(3),
            request_id: None,
        };
        assert_eq!(throttled.retry_after(), Some(MIN_RETRY_AFTER));
        assert_eq!(
            SpApiError::throttled("getReport", Duration::ZERO, None).retryability(),
            Retryability::Throttled {
                retry_after: MIN_RETRY_AFTER
            }
        );
        let long = SpApiError::throttled("createReport", Duration::from_secs(61), None);
        assert_eq!(long.retry_after(), Some(Duration::from_secs(61)));
        assert_eq!(api(503).retry_after(), Some(TRANSIENT_RETRY_AFTER));
        assert_eq!(
            doc_http(403, Some("AccessDenied"), true).retry_after(),
            Some(MIN_RETRY_AFTER)
        );
        assert_eq!(api(400).retry_after(), None);
    }

    #[test]
    fn s3_error_codes_are_read_from_the_xml() {
        let xml = |code: &str, message: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>R</RequestId></Error>"
            )
        };
        let cases: &[(String, Option<&str>, bool)] = &[
            (
                xml("AccessDenied", "Request has expired"),
                Some("AccessDenied"),
                true,
            ),
            (
                xml("AccessDenied", "Access Denied"),
                Some("AccessDenied"),
                false,
            ),
            (
                xml(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match",
                ),
                Some("SignatureDoesNotMatch"),
                false,
            ),
            (
                xml("RequestTimeout", "Your socket connection..."),
                Some("RequestTimeout"),
                false,
            ),
            ("not xml".to_owned(), None, false),
            ("<Error>Request has expired</Error>".to_owned(), None, false),
        ];
        for (body, code, expired) in cases {
            assert_eq!(
                s3_error(body.as_bytes()),
                (code.map(str::to_owned), *expired),
                "{body}"
            );
        }
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
            (401, br#"{"message":"Unauthorized"}"#, true),
            (401, b"", true),
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
