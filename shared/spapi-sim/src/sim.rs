//! The shared simulator handle and the per-call pipeline every SP-API handler goes through.
//!
//! [`Sim::begin`] does, in Amazon's order: advance the world to "now", authenticate the
//! `x-amz-access-token` (403 Unauthorized), apply injected faults (latency, 5xx, 429) and the
//! usage plan (429 QuotaExceeded). It returns a [`Call`] whose answer methods add
//! `x-amzn-RequestId` (always) and `x-amzn-RateLimit-Limit` (where Amazon sends it) and count
//! the answer in the per-operation stats.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::SimClock;
use crate::limits::Operation;
use crate::sandbox::SandboxBook;
use crate::state::State;

/// The simulator: clock, state and configuration, shared by every request.
#[derive(Debug)]
pub struct Sim {
    /// Simulated time.
    pub clock: SimClock,
    state: Mutex<State>,
    base_url: OnceLock<String>,
    /// Static-sandbox vectors: when set, every SP-API call is answered from them.
    pub sandbox: Option<SandboxBook>,
    /// Log one line per call.
    pub log_calls: bool,
}

impl Sim {
    /// A simulator over `state`.
    pub fn new(clock: SimClock, state: State, sandbox: Option<SandboxBook>) -> Self {
        Self {
            clock,
            state: Mutex::new(state),
            base_url: OnceLock::new(),
            sandbox,
            log_calls: false,
        }
    }

    /// Locks the state. A poisoned lock is recovered: a panicking handler must not take the
    /// whole simulator down with it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the externally visible base URL (once, after binding).
    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    /// `http://127.0.0.1:PORT`, used to build presigned document URLs.
    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1")
    }

    /// Locks the state after moving it forward to the current simulated time.
    pub fn lock_at_now(&self) -> (MutexGuard<'_, State>, OffsetDateTime) {
        let now = self.clock.now();
        let mut st = self.lock();
        st.advance_to(now);
        (st, now)
    }

    /// Runs the common pipeline for an SP-API call of `op`.
    pub async fn begin(
        self: &Arc<Self>,
        op: Operation,
        headers: &HeaderMap,
    ) -> Result<Call, Response> {
        let request_id = new_request_id();
        let token = headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (seller_id, decision, now) = {
            let (mut st, now) = self.lock_at_now();
            let seller = token_seller(&st, token.as_deref(), now);
            let seller = match seller {
                Ok(s) => s,
                Err(details) => {
                    st.stats.record(op.name(), 403);
                    drop(st);
                    return Err(self.finish(
                        op,
                        &request_id,
                        StatusCode::FORBIDDEN,
                        error_body(
                            "Unauthorized",
                            "Access to requested resource is denied.",
                            Some(details),
                        ),
                        false,
                    ));
                }
            };
            let State { faults, rng, .. } = &mut *st;
            let decision = faults.decide(op.name(), rng);
            (seller, decision, now)
        };
        if decision.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
        }
        let call = Call {
            sim: Arc::clone(self),
            op,
            seller_id,
            request_id,
            now,
            omit_rate_limit_header: decision.omit_rate_limit_header,
        };
        if let Some(status) = decision.forced_status {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (code, message) = match status.as_u16() {
                400 => (
                    "InvalidInput",
                    "Request has missing or invalid parameters and cannot be parsed.",
                ),
                401 => (
                    "Unauthorized",
                    "The request's Authorization header is not formatted correctly or does not contain a valid token.",
                ),
                403 => ("Unauthorized", "Access to requested resource is denied."),
                404 => ("NotFound", "The resource specified does not exist."),
                413 => (
                    "RequestTooLarge",
                    "The request size exceeded the maximum accepted size.",
                ),
                415 => (
                    "UnsupportedMediaType",
                    "The request payload is in an unsupported format.",
                ),
                429 => return Err(call.throttled()),
                503 => (
                    "ServiceUnavailable",
                    "Service temporarily unavailable. Please try again later.",
                ),
                _ => (
                    "InternalFailure",
                    "We encountered an internal error. Please try again.",
                ),
            };
            return Err(call.error(status, code, message));
        }
        if let Some(status) = decision.server_error {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
                (
                    "ServiceUnavailable",
                    "Service temporarily unavailable. Please try again later.",
                )
            } else {
                (
                    "InternalFailure",
                    "We encountered an internal error. Please try again.",
                )
            };
            return Err(call.error(status, code, message));
        }
        let allowed = !decision.throttle && self.lock().limiter.try_take(&call.seller_id, op, now);
        if !allowed {
            return Err(call.throttled());
        }
        Ok(call)
    }

    /// Authenticates an SP-API call without running the rest of [`Sim::begin`]'s pipeline
    /// (no faults, no usage plan): the seller the `x-amz-access-token` acts for, or the 403
    /// answer Amazon gives (with `x-amzn-RequestId`). Static-sandbox mode uses it: Amazon's
    /// sandbox hosts also require a real LWA access token.
    #[allow(
        clippy::result_large_err,
        reason = "the error is the finished HTTP answer, as with `begin`"
    )]
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, Response> {
        let token = headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok());
        let (st, now) = self.lock_at_now();
        match token_seller(&st, token, now) {
            Ok(seller) => Ok(seller),
            Err(details) => {
                drop(st);
                let mut response = (
                    StatusCode::FORBIDDEN,
                    axum::Json(error_body(
                        "Unauthorized",
                        "Access to requested resource is denied.",
                        Some(details),
                    )),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&new_request_id()) {
                    response.headers_mut().insert("x-amzn-RequestId", v);
                }
                Err(response)
            }
        }
    }

    /// Builds a response with Amazon's headers and logs it.
    fn finish(
        &self,
        op: Operation,
        request_id: &str,
        status: StatusCode,
        body: Value,
        rate_header: bool,
    ) -> Response {
        if self.log_calls {
            tracing::info!(
                sp_operation = op.name(),
                sp_status = status.as_u16(),
                sp_request_id = %request_id,
                "call answered"
            );
        }
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-RequestId", v);
        }
        if rate_header
            && let Some(plan) = op.usage_plan()
            && let Ok(v) = HeaderValue::from_str(&plan.header_value())
        {
            headers.insert("x-amzn-RateLimit-Limit", v);
        }
        response
    }
}

/// An authenticated call in progress; answer it with one of its methods.
#[derive(Debug)]
pub struct Call {
    sim: Arc<Sim>,
    /// The operation.
    pub op: Operation,
    /// The seller the access token acts for.
    pub seller_id: String,
    /// `x-amzn-RequestId` of this call.
    pub request_id: String,
    /// Simulated time of the call.
    pub now: OffsetDateTime,
    omit_rate_limit_header: bool,
}

impl Call {
    /// The simulator.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    fn answer(&self, status: StatusCode, body: Value) -> Response {
        self.sim
            .lock()
            .stats
            .record(self.op.name(), status.as_u16());
        // Amazon's models declare the header on success codes, 400 and 404.
        let rate_header = !self.omit_rate_limit_header
            && self.op.sends_rate_limit_header()
            && (status.is_success()
                || status == StatusCode::BAD_REQUEST
                || status == StatusCode::NOT_FOUND);
        self.sim
            .finish(self.op, &self.request_id, status, body, rate_header)
    }

    /// A JSON success answer.
    pub fn json(self, status: StatusCode, body: Value) -> Response {
        self.answer(status, body)
    }

    /// An answer with no body (204).
    pub fn no_content(self) -> Response {
        let mut r = self.answer(StatusCode::NO_CONTENT, Value::Null);
        *r.body_mut() = axum::body::Body::empty();
        r.headers_mut().remove(axum::http::header::CONTENT_TYPE);
        r
    }

    /// An error answer in Amazon's `ErrorList` shape.
    pub fn error(self, status: StatusCode, code: &str, message: &str) -> Response {
        self.answer(status, error_body(code, message, None))
    }

    /// An error answer with `details`.
    pub fn error_with_details(
        self,
        status: StatusCode,
        code: &str,
        message: &str,
        details: &str,
    ) -> Response {
        self.answer(status, error_body(code, message, Some(details)))
    }

    /// 400 InvalidInput.
    pub fn invalid_input(self, message: &str) -> Response {
        self.error(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    /// 404 NotFound.
    pub fn not_found(self, message: &str) -> Response {
        self.error(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 429 QuotaExceeded, with the body Amazon sends.
    pub fn throttled(self) -> Response {
        self.sim.lock().stats.record(self.op.name(), 429);
        self.sim.finish(
            self.op,
            &self.request_id,
            StatusCode::TOO_MANY_REQUESTS,
            error_body(
                "QuotaExceeded",
                "You exceeded your quota for the requested resource.",
                Some(""),
            ),
            // Amazon no longer sends the header on 429 (tokens model).
            false,
        )
    }
}

/// The seller an access token acts for at `now`, or the 403 `details` Amazon gives.
fn token_seller(
    st: &State,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, &'static str> {
    match token {
        None | Some("") => Err("The access token you provided is missing."),
        Some(t) => match st.tokens.get(t) {
            None => Err("The access token you provided is revoked, malformed or invalid."),
            Some(tok) if tok.expires_at <= now => Err("The access token you provided has expired."),
            Some(tok) => Ok(tok.seller_id.clone()),
        },
    }
}

/// Amazon's error body: `{"errors":[{"code","message","details"?}]}`.
pub fn error_body(code: &str, message: &str, details: Option<&str>) -> Value {
    let mut e = json!({ "code": code, "message": message });
    if let Some(d) = details {
        e["details"] = json!(d);
    }
    json!({ "errors": [e] })
}

/// A request id in Amazon's UUID-like shape.
pub fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut r = crate::state::Rng::new(t ^ n.rotate_left(32));
    let a = r.next_u64();
    let b = r.next_u64();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Whether `id` can be one of Amazon's report or feed ids (decimal digits). Amazon answers a
/// malformed id with 400 InvalidInput and a well-formed unknown one with 404 (the sandbox's
/// `badReportId1` / `badFeedId1` vectors; amzn/selling-partner-api-models#2419, #2420).
pub fn is_numeric_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `id` can be one of Amazon's document ids (`amzn1.…` or a UUID).
pub fn is_document_id(id: &str) -> bool {
    let uuid = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    id.starts_with("amzn1.") || uuid
}

/// URL-safe base64 alphabet of opaque pagination tokens.
const TOKEN_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Standard base64 alphabet (control API input).
pub const STANDARD_BASE64: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes a JSON value as an opaque URL-safe token (getReports' and getFeeds' `nextToken`,
/// searchOrders' `pagination.nextToken`). Amazon's tokens are opaque; ours carry the filter
/// and the position so that pages need no server-side cursor.
pub fn encode_token(v: &Value) -> String {
    let bytes = v.to_string().into_bytes();
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            acc |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(char::from(
                TOKEN_ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize],
            ));
        }
    }
    out
}

/// Decodes a token made by [`encode_token`]; `None` when it is not one.
pub fn decode_token(s: &str) -> Option<Value> {
    serde_json::from_slice(&base64_decode(s, TOKEN_ALPHABET)?).ok()
}

/// Decodes base64 in `alphabet`, ignoring white space and `=` padding.
pub fn base64_decode(s: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = alphabet.iter().position(|b| b == c)? as u32;
            acc |= v << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

/// Query string as Amazon's clients send it: arrays either comma-separated (`a=x,y`) or
/// repeated (`a=x&a=y`).
#[derive(Debug, Default, Clone)]
pub struct Query {
    values: BTreeMap<String, Vec<String>>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            values
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
        Self { values }
    }

    /// The single value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// All values of `key`, splitting comma-separated lists.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.values
            .get(key)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A boolean parameter (`true` / `false`, as Amazon's models type them); `Err` names it.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(format!("{key} must be true or false, not '{other}'.")),
        }
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Names of all parameters present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Parses an ISO 8601 date-time parameter; `Err` names the parameter.
    pub fn datetime(&self, key: &str) -> Result<Option<OffsetDateTime>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_datetime(v)
                .map(Some)
                .ok_or_else(|| format!("Invalid {key}: '{v}' is not an ISO 8601 date-time.")),
        }
    }
}

/// Parses an ISO 8601 / RFC 3339 date-time as Amazon accepts it (`Z` or offset, optional
/// fraction).
pub fn parse_datetime(v: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
}

/// Formats a date-time the way Amazon's JSON does (`2026-11-20T10:00:00Z`, UTC).
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lists_accept_commas_and_repeats() {
        let q = Query::parse(Some("reportTypes=A,B&reportTypes=C&pageSize=10"));

        assert_eq!(q.list("reportTypes"), vec!["A", "B", "C"]);
        assert_eq!(q.get("pageSize"), Some("10"));
        assert!(q.list("missing").is_empty());
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let v = serde_json::json!({ "after": ["2026-11-20T00:00:00Z", "111-1"], "n": 3 });

        assert_eq!(decode_token(&encode_token(&v)), Some(v));
        assert_eq!(decode_token("!!"), None);
        assert_eq!(
            base64_decode("aGVsbG8=", STANDARD_BASE64).unwrap(),
            b"hello"
        );
        assert_eq!(
            base64_decode("gnyC", STANDARD_BASE64).unwrap(),
            vec![0x82, 0x7c, 0x82]
        );
        assert!(base64_decode("a$==", STANDARD_BASE64).is_none());
    }

    #[test]
    fn datetimes_round_trip_in_amazon_format() {
        let t = parse_datetime("2026-11-20T10:00:00.123+01:00").unwrap();

        assert_eq!(format_datetime(t), "2026-11-20T09:00:00Z");
        assert!(parse_datetime("20/11/2026").is_none());
    }
}
