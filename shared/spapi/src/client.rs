//! [`SpApiClient`]: one `reqwest::Client`, the token cache, the limiter and the retry policy.
//!
//! Every SP-API call goes through one private `execute` loop, which in order: asks the limiter
//! (sleeping only for short waits), gets an access token, sends the request, learns the applied
//! rate from `x-amzn-RateLimit-Limit`, and classifies the answer: 2xx is returned; 429 drains the
//! bucket and becomes `Throttled` (after at most one short in-process wait); a 401, or a 403
//! that blames the token, triggers one refresh; 5xx and transport failures get a few jittered
//! retries before becoming `Transient`, but only for idempotent operations (see
//! [`Operation::is_idempotent`]): a createReport or createFeed that may have reached Amazon is
//! never sent twice; other 4xx are `Permanent`. The pacing and retry decisions live in
//! `retry.rs`.
//!
//! Redirects are never followed: a 3xx would otherwise carry the access token to whatever host
//! it names (and turn a POST into a GET). Presigned S3 transfers do not redirect either.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use crate::auth::{ExchangeSettings, TokenCache};
use crate::config::{BackoffSettings, SpApiConfig, Timeouts};
use crate::documents::DocumentsApi;
use crate::error::{SpApiError, api_error, is_token_rejection, s3_error};
use crate::feeds::FeedsApi;
use crate::limits::{Limiter, Operation};
use crate::orders::OrdersApi;
use crate::reports::ReportsApi;
use crate::retry::{
    Jitter, MAX_IN_PROCESS_429_WAITS, MAX_IN_PROCESS_THROTTLE_WAITS, TransientRetry, default_seed,
    may_retry_status, may_retry_transport, retry_transient, transport_kind,
};

/// Header carrying the LWA access token on every SP-API call.
pub const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";
/// Response header with Amazon's request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";
/// Response header with the rate (requests per second) Amazon applied to the call.
pub const RATE_LIMIT_HEADER: &str = "x-amzn-RateLimit-Limit";

/// Most of an error body read from a presigned URL (S3's XML errors are a few hundred bytes).
const MAX_ERROR_BODY: usize = 8 * 1024;

/// SP-API client for one selling partner. Cheap to clone: clones share the HTTP connection
/// pool, the access-token cache and the limiter.
///
/// Build it once per container (e.g. in a `OnceCell` next to the Lambda handler) and keep it:
/// the token cache and the usage-plan buckets live in it, so a client built per invocation
/// asks LWA for a token every time and forgets what Amazon's 429s taught it.
#[derive(Clone)]
pub struct SpApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    timeouts: Timeouts,
    retry: TransientRetry,
    throttle_backoff: BackoffSettings,
    max_in_process_wait: Duration,
    account_key: String,
    auth: TokenCache,
    limiter: Arc<Limiter>,
    limiter_clock: Option<crate::config::LimiterClock>,
    jitter: Arc<Jitter>,
}

impl Inner {
    /// "Now" for the usage-plan limiter: the monotonic clock, or the configured one.
    fn limiter_now(&self) -> std::time::Instant {
        match &self.limiter_clock {
            Some(clock) => (clock.0)(),
            None => tokio::time::Instant::now().into_std(),
        }
    }
}

impl fmt::Debug for SpApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpApiClient")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("account_key", &self.inner.account_key)
            .finish_non_exhaustive()
    }
}

/// An SP-API request before pacing and authentication.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub operation: Operation,
    pub method: Method,
    pub url: Url,
    pub json_body: Option<Bytes>,
}

impl ApiRequest {
    /// A bodiless `GET`.
    pub(crate) fn get(operation: Operation, url: Url) -> Self {
        Self {
            operation,
            method: Method::GET,
            url,
            json_body: None,
        }
    }

    /// A bodiless `DELETE`.
    pub(crate) fn delete(operation: Operation, url: Url) -> Self {
        Self {
            method: Method::DELETE,
            ..Self::get(operation, url)
        }
    }
}

/// A 2xx SP-API response.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub body: Bytes,
    pub request_id: Option<String>,
}

/// A header as text, if present and printable.
pub(crate) fn header_str(
    headers: &HeaderMap,
    name: impl reqwest::header::AsHeaderName,
) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn derive_account_key(config: &SpApiConfig) -> String {
    // Never put the refresh token itself in a key that may end up in logs.
    let mut hasher = DefaultHasher::new();
    config.credentials.refresh_token.expose().hash(&mut hasher);
    format!("{}:{:016x}", config.credentials.client_id, hasher.finish())
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error response (failures just end the read).
async fn error_body(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body
}

impl SpApiClient {
    /// Builds a client with its own limiter.
    pub fn new(config: SpApiConfig) -> Result<Self, SpApiError> {
        Self::with_limiter(config, Arc::new(Limiter::new()))
    }

    /// Builds a client that paces itself with a shared `limiter` (e.g. one per Lambda
    /// container, shared by the clients of several sellers).
    pub fn with_limiter(config: SpApiConfig, limiter: Arc<Limiter>) -> Result<Self, SpApiError> {
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.timeouts.connect)
            .read_timeout(config.timeouts.read)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SpApiError::Config(format!("HTTP client: {e}")))?;
        if config.endpoint.cannot_be_a_base() {
            return Err(SpApiError::Config(
                "SPAPI_ENDPOINT must be an http(s) base URL".into(),
            ));
        }
        let jitter = Arc::new(Jitter::new(config.jitter_seed.unwrap_or_else(default_seed)));
        let account_key = config
            .account_key
            .clone()
            .unwrap_or_else(|| derive_account_key(&config));
        let retry = TransientRetry {
            max_retries: config.max_transient_retries,
            backoff: config.transient_backoff,
        };
        let auth = TokenCache::new(
            http.clone(),
            config.credentials,
            ExchangeSettings {
                endpoint: config.lwa_endpoint,
                budget: config.timeouts.request,
                retry,
            },
            jitter.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint: config.endpoint,
                timeouts: config.timeouts,
                retry,
                throttle_backoff: config.throttle_backoff,
                max_in_process_wait: config.max_in_process_wait,
                account_key,
                auth,
                limiter,
                limiter_clock: config.limiter_clock,
                jitter,
            }),
        })
    }

    /// Reports API v2021-06-30.
    pub fn reports(&self) -> ReportsApi<'_> {
        ReportsApi::new(self)
    }

    /// Feeds API v2021-06-30 (including the presigned upload).
    pub fn feeds(&self) -> FeedsApi<'_> {
        FeedsApi::new(self)
    }

    /// Orders API v2026-01-01.
    pub fn orders(&self) -> OrdersApi<'_> {
        OrdersApi::new(self)
    }

    /// Presigned report/feed document downloads.
    pub fn documents(&self) -> DocumentsApi<'_> {
        DocumentsApi::new(self)
    }

    /// The limiter this client paces itself with.
    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.inner.limiter
    }

    /// The key of this client's buckets in the limiter.
    pub fn account_key(&self) -> &str {
        &self.inner.account_key
    }

    /// The access-token cache (shared by all clones).
    pub fn token_cache(&self) -> &TokenCache {
        &self.inner.auth
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Sends a request to a presigned document URL (S3 in real life: no access token, no usage
    /// plan) and returns the successful response. Failures that a repeat may get past (5xx,
    /// S3's `RequestTimeout` / `SlowDown`, a failure before the headers arrive) are retried up
    /// to `max_transient_retries` times; an expired URL or any other status fails at once.
    /// The whole transfer, retries and the caller's reading of the body included, is bounded
    /// by [`Timeouts::document`]. The URL is its own credential, so it never reaches an error
    /// or a log line.
    pub(crate) async fn presigned_transfer(
        &self,
        operation: &'static str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SpApiError> {
        let inner = &*self.inner;
        let deadline = tokio::time::Instant::now() + inner.timeouts.document;
        retry_transient(
            operation,
            inner.retry,
            &inner.jitter,
            deadline,
            |remaining| {
                let sent = request().timeout(remaining).send();
                async move {
                    let response = sent.await.map_err(|e| SpApiError::Transport {
                        operation,
                        source: e.without_url(),
                    })?;
                    if response.status().is_success() {
                        return Ok(response);
                    }
                    let status = response.status().as_u16();
                    let (code, url_expired) = s3_error(&error_body(response).await);
                    Err(SpApiError::DocumentHttp {
                        operation,
                        status,
                        code,
                        url_expired,
                    })
                }
            },
            |error| match error {
                // A bare 403 is most likely an expired URL, which no repeat fixes.
                SpApiError::DocumentHttp { status: 403, .. }
                | SpApiError::DocumentHttp {
                    url_expired: true, ..
                } => false,
                other => other.retryability() == crate::Retryability::Transient,
            },
        )
        .await
    }

    /// `endpoint` + path `segments` + query pairs. Each segment is percent-encoded, and empty,
    /// `.` and `..` segments are refused, so an id can never add or remove a path level.
    pub(crate) fn url(
        &self,
        operation: Operation,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Url, SpApiError> {
        if let Some(bad) = segments
            .iter()
            .position(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(SpApiError::InvalidRequest {
                operation: operation.name(),
                reason: format!("path segment {bad} is empty, `.` or `..`"),
            });
        }
        let mut url = self.inner.endpoint.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| SpApiError::InvalidRequest {
                    operation: operation.name(),
                    reason: "endpoint cannot carry a path".into(),
                })?;
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// A request with a JSON body.
    pub(crate) fn json_request<B: Serialize>(
        operation: Operation,
        method: Method,
        url: Url,
        body: &B,
    ) -> Result<ApiRequest, SpApiError> {
        let json = serde_json::to_vec(body).map_err(|e| SpApiError::InvalidRequest {
            operation: operation.name(),
            reason: format!("body does not serialize: {e}"),
        })?;
        Ok(ApiRequest {
            operation,
            method,
            url,
            json_body: Some(Bytes::from(json)),
        })
    }

    /// Executes `request` and decodes a JSON body.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
    ) -> Result<T, SpApiError> {
        let operation = request.operation.name();
        let response = self.execute(request).await?;
        serde_json::from_slice(&response.body).map_err(|source| SpApiError::Decode {
            operation,
            request_id: response.request_id,
            source,
        })
    }

    /// Paces, authenticates, sends and classifies one SP-API call (see the module docs).
    pub(crate) async fn execute(&self, request: ApiRequest) -> Result<ApiResponse, SpApiError> {
        let span = tracing::info_span!(
            "sp_api_call",
            sp_operation = request.operation.name(),
            sp_status = tracing::field::Empty,
            sp_request_id = tracing::field::Empty,
        );
        self.execute_inner(request).instrument(span).await
    }

    async fn pace(&self, operation: Operation, waits: &mut u32) -> Result<(), SpApiError> {
        let inner = &*self.inner;
        loop {
            let now = inner.limiter_now();
            let Err(wait) = inner.limiter.acquire(&inner.account_key, operation, now) else {
                return Ok(());
            };
            // Jittered: callers refused by the same empty bucket must not return together.
            let wait = inner.jitter.spread(wait);
            if wait <= inner.max_in_process_wait && *waits < MAX_IN_PROCESS_THROTTLE_WAITS {
                *waits += 1;
                tracing::debug!(
                    delay_ms = wait.as_millis() as u64,
                    attempt = *waits,
                    "usage plan: waiting in-process"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let error = SpApiError::throttled(operation.name(), wait, None);
            if let crate::Retryability::Throttled { retry_after } = error.retryability() {
                tracing::info!(
                    retry_after_ms = retry_after.as_millis() as u64,
                    "usage plan exhausted locally; amazon not called"
                );
            }
            return Err(error);
        }
    }

    async fn execute_inner(&self, request: ApiRequest) -> Result<ApiResponse, SpApiError> {
        let inner = &*self.inner;
        let operation = request.operation;
        let name = operation.name();
        let idempotent = operation.is_idempotent();
        let mut transient_attempt = 0u32;
        let mut throttle_waits = 0u32;
        let mut limiter_waits = 0u32;
        let mut token_refreshed = false;
        loop {
            self.pace(operation, &mut limiter_waits).await?;
            let token = inner.auth.access_token().await?;
            let mut builder = inner
                .http
                .request(request.method.clone(), request.url.clone())
                .header(ACCESS_TOKEN_HEADER, token.secret())
                .header(ACCEPT, "application/json")
                .timeout(inner.timeouts.request);
            if let Some(body) = &request.json_body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }

            // Send and read the (small) body; both halves can fail in transit.
            let sent = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let request_id = header_str(response.headers(), REQUEST_ID_HEADER);
                    let rate = header_str(response.headers(), RATE_LIMIT_HEADER)
                        .and_then(|v| v.trim().parse::<f64>().ok());
                    response
                        .bytes()
                        .await
                        .map(|body| (status, request_id, rate, body))
                }
                Err(e) => Err(e),
            };
            let (status, request_id, rate, body) = match sent {
                Ok(parts) => parts,
                Err(source) => {
                    let error_kind = transport_kind(&source);
                    // A request that may have reached Amazon is repeated only if that is safe.
                    if may_retry_transport(idempotent, &source)
                        && transient_attempt < inner.retry.max_retries
                    {
                        let delay = inner.jitter.backoff(transient_attempt, inner.retry.backoff);
                        transient_attempt += 1;
                        tracing::warn!(
                            attempt = transient_attempt,
                            delay_ms = delay.as_millis() as u64,
                            error_kind,
                            "retrying after a transport error"
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    tracing::warn!(
                        attempt = transient_attempt,
                        error_kind,
                        idempotent,
                        "sp-api call failed in transit"
                    );
                    return Err(SpApiError::Transport {
                        operation: name,
                        source,
                    });
                }
            };

            let span = tracing::Span::current();
            span.record("sp_status", status);
            if let Some(id) = &request_id {
                span.record("sp_request_id", id.as_str());
            }
            tracing::debug!(sp_status = status, "sp-api answered");

            let now = inner.limiter_now();
            let rate = rate.filter(|&rate| {
                let plausible =
                    inner
                        .limiter
                        .observe_rate_limit(&inner.account_key, operation, rate, now);
                if !plausible {
                    tracing::warn!(rate, "implausible rate-limit header ignored");
                }
                plausible
            });

            match status {
                200..=299 => {
                    inner.limiter.on_success(&inner.account_key, operation, now);
                    return Ok(ApiResponse { body, request_id });
                }
                429 => {
                    let refill = inner
                        .limiter
                        .on_throttled(&inner.account_key, operation, now);
                    let streak = inner.limiter.throttle_streak(&inner.account_key, operation);
                    let wait = inner.jitter.throttle_wait(
                        refill,
                        streak,
                        rate.is_some(),
                        inner.throttle_backoff,
                    );
                    if wait <= inner.max_in_process_wait
                        && throttle_waits < MAX_IN_PROCESS_429_WAITS
                    {
                        throttle_waits += 1;
                        tracing::debug!(
                            delay_ms = wait.as_millis() as u64,
                            attempt = streak,
                            "throttled; waiting in-process"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let error = SpApiError::throttled(name, wait, request_id);
                    if let crate::Retryability::Throttled { retry_after } = error.retryability() {
                        tracing::info!(
                            retry_after_ms = retry_after.as_millis() as u64,
                            attempt = streak,
                            "throttled by amazon"
                        );
                    }
                    return Err(error);
                }
                401 | 403 if !token_refreshed && is_token_rejection(status, &body) => {
                    tracing::info!("access token rejected; refreshing once");
                    inner.auth.invalidate(&token).await;
                    token_refreshed = true;
                }
                s if may_retry_status(idempotent, s)
                    && transient_attempt < inner.retry.max_retries =>
                {
                    let delay = inner.jitter.backoff(transient_attempt, inner.retry.backoff);
                    transient_attempt += 1;
                    tracing::warn!(
                        attempt = transient_attempt,
                        delay_ms = delay.as_millis() as u64,
                        error_kind = "status",
                        "retrying after a server error"
                    );
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(api_error(name, status, &body, request_id)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Retryability;
    use crate::reports::{CreateReportSpecification, GetReportsQuery};
    use crate::test_support::{MockServer, Reply, TOKEN_PATH};

    const REPORTS_PATH: &str = "/reports/2021-06-30/reports";
    const REPORT_PATH: &str = "/reports/2021-06-30/reports/R1";

    fn report_ok() -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "reportId": "R1",
                "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
                "createdTime": "2026-11-01T10:00:00Z",
                "processingStatus": "DONE",
                "reportDocumentId": "D1"
            }),
        )
    }

    fn quota_exceeded() -> Reply {
        // Observed body (amzn/selling-partner-api-models#4414).
        Reply::amazon_error(
            429,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            Some(""),
        )
        .header("x-amzn-RequestId", "req-429")
    }

    fn spec() -> CreateReportSpecification {
        CreateReportSpecification::new("GET_MERCHANT_LISTINGS_ALL_DATA", ["A1PA6795UKMFR9"])
    }

    #[tokio::test]
    async fn every_call_sends_token_user_agent_and_accept() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| report_ok());
        let mut config = mock.config();
        config.user_agent = "spsync-test/1.0 (Language=Rust)".into();
        let client = SpApiClient::new(config).unwrap();
        client.reports().get_report("R1").await.unwrap();
        let request = &mock.requests("GET", REPORT_PATH)[0];
        assert_eq!(request.header("x-amz-access-token"), Some("Atza|token-0"));
        assert_eq!(
            request.header("user-agent"),
            Some("spsync-test/1.0 (Language=Rust)")
        );
        assert_eq!(request.header("accept"), Some("application/json"));
        let printed = format!("{client:?}");
        assert!(
            !printed.contains("secret-x") && !printed.contains("Atza|"),
            "{printed}"
        );
    }

    #[tokio::test]
    async fn quota_exceeded_without_header_waits_plan_interval_plus_jitter_and_stops_calling() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("POST", REPORTS_PATH, |_, _| quota_exceeded());
        let client = SpApiClient::new(mock.config()).unwrap();

        let err = client.reports().create_report(&spec()).await.unwrap_err();
        let interval = crate::limits::CREATE_REPORT.refill_interval();
        match err {
            SpApiError::Throttled {
                operation,
                retry_after,
                ref request_id,
            } => {
                assert_eq!(operation, "createReport");
                assert_eq!(request_id.as_deref(), Some("req-429"));
                // plan interval (~60 s) plus at most the test jitter cap (10 ms)
                assert!(
                    retry_after >= interval && retry_after <= interval + Duration::from_millis(10),
                    "{retry_after:?} vs {interval:?}"
                );
                assert_eq!(err.retryability(), Retryability::Throttled { retry_after });
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(mock.calls("POST", REPORTS_PATH), 1);

        // The drained bucket now refuses locally: Amazon is not hammered.
        for _ in 0..3 {
            let err = client.reports().create_report(&spec()).await.unwrap_err();
            match err {
                SpApiError::Throttled {
                    retry_after,
                    request_id: None,
                    ..
                } => assert!(retry_after > Duration::from_secs(59), "{retry_after:?}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(mock.calls("POST", REPORTS_PATH), 1);
    }

    #[tokio::test]
    async fn quota_exceeded_with_rate_header_waits_by_the_header() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORTS_PATH, |_, _| {
            quota_exceeded().header("x-amzn-RateLimit-Limit", "0.5")
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let err = client
            .reports()
            .get_reports(&GetReportsQuery::for_types([
                "GET_MERCHANT_LISTINGS_ALL_DATA",
            ]))
            .await
            .unwrap_err();
        assert_eq!(
            err.retryability(),
            Retryability::Throttled {
                retry_after: Duration::from_secs(2)
            },
            "1 / 0.5 rps, not the plan's 1 / 0.0222"
        );
        assert_eq!(mock.calls("GET", REPORTS_PATH), 1);
        assert_eq!(
            client
                .limiter()
                .current_rate(client.account_key(), Operation::GetReports),
            0.5
        );
    }

    #[tokio::test]
    async fn short_throttle_is_waited_in_process_when_allowed() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, n| {
            if n == 0 {
                quota_exceeded().header("x-amzn-RateLimit-Limit", "50")
            } else {
                report_ok()
            }
        });
        let mut config = mock.config();
        config.max_in_process_wait = Duration::from_secs(1);
        let client = SpApiClient::new(config).unwrap();
        let started = std::time::Instant::now();
        let report = client.reports().get_report("R1").await.unwrap();
        assert_eq!(report.report_id, "R1");
        assert_eq!(mock.calls("GET", REPORT_PATH), 2);
        assert!(
            started.elapsed() >= Duration::from_millis(20),
            "waited 1/50 s"
        );
    }

    #[tokio::test]
    async fn local_bucket_stops_calls_after_the_burst() {
        // getReports: 0.0222 rps, burst 10. A slow plan keeps the test independent of how long
        // the first ten calls take on a busy machine.
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORTS_PATH, |_, _| {
            Reply::json(200, serde_json::json!({"reports": []}))
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let query = GetReportsQuery::for_types(["GET_MERCHANT_LISTINGS_ALL_DATA"]);
        for _ in 0..10 {
            client.reports().get_reports(&query).await.unwrap();
        }
        let err = client.reports().get_reports(&query).await.unwrap_err();
        let interval = crate::limits::GET_REPORTS.refill_interval();
        match err.retryability() {
            // the wait until the next token, plus up to a tenth of it as jitter
            Retryability::Throttled { retry_after } => assert!(
                retry_after <= interval + interval / 10 + Duration::from_millis(1)
                    && retry_after > interval - Duration::from_secs(5),
                "{retry_after:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            mock.calls("GET", REPORTS_PATH),
            10,
            "the 11th never left the process"
        );
    }

    #[tokio::test]
    async fn rate_header_on_success_updates_the_limiter() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            report_ok().header("x-amzn-RateLimit-Limit", "10.0")
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(
            client
                .limiter()
                .current_rate(client.account_key(), Operation::GetReport),
            10.0
        );
    }

    #[tokio::test]
    async fn server_errors_are_retried_a_bounded_number_of_times_then_transient() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            Reply::amazon_error(
                503,
                "ServiceUnavailable",
                "Service temporarily unavailable",
                None,
            )
            .header("x-amzn-RequestId", "req-503")
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert_eq!(err.retryability(), Retryability::Transient);
        assert!(
            matches!(&err, SpApiError::Api { status: 503, code, .. } if code == "ServiceUnavailable"),
            "{err:?}"
        );
        assert_eq!(err.request_id(), Some("req-503"));
        assert_eq!(
            mock.calls("GET", REPORT_PATH),
            3,
            "1 + max_transient_retries (2)"
        );
    }

    #[tokio::test]
    async fn a_single_server_error_is_absorbed() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, n| {
            if n == 0 {
                Reply::amazon_error(
                    500,
                    "InternalFailure",
                    "We encountered an internal error.",
                    None,
                )
            } else {
                report_ok()
            }
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        assert_eq!(
            client.reports().get_report("R1").await.unwrap().report_id,
            "R1"
        );
        assert_eq!(mock.calls("GET", REPORT_PATH), 2);
    }

    #[tokio::test]
    async fn client_errors_are_permanent_and_keep_amazon_fields() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("POST", REPORTS_PATH, |_, _| {
            Reply::amazon_error(400, "InvalidInput", "Invalid input", Some("reportType"))
                .header("x-amzn-RequestId", "req-400")
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let err = client.reports().create_report(&spec()).await.unwrap_err();
        assert_eq!(err.retryability(), Retryability::Permanent);
        match err {
            SpApiError::Api {
                operation,
                status,
                code,
                message,
                details,
                request_id,
            } => {
                assert_eq!(
                    (operation, status, code.as_str(), message.as_str()),
                    ("createReport", 400, "InvalidInput", "Invalid input")
                );
                assert_eq!(details.as_deref(), Some("reportType"));
                assert_eq!(request_id.as_deref(), Some("req-400"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(mock.calls("POST", REPORTS_PATH), 1);
    }

    #[tokio::test]
    async fn timeouts_are_retried_then_transient() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            report_ok().delayed(Duration::from_millis(300))
        });
        let mut config = mock.config();
        config.timeouts.request = Duration::from_millis(40);
        let client = SpApiClient::new(config).unwrap();
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert!(
            matches!(&err, SpApiError::Transport { source, .. } if source.is_timeout()),
            "{err:?}"
        );
        assert_eq!(err.retryability(), Retryability::Transient);
        assert_eq!(mock.calls("GET", REPORT_PATH), 3);
        assert_eq!(mock.calls("POST", TOKEN_PATH), 1);
    }

    #[tokio::test]
    async fn ids_are_percent_encoded_and_empty_ids_rejected_locally() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", "/reports/2021-06-30/reports/a%2Fb", |_, _| {
            report_ok()
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        client.reports().get_report("a/b").await.unwrap();
        let err = client.reports().get_report("").await.unwrap_err();
        assert!(matches!(err, SpApiError::InvalidRequest { .. }), "{err:?}");
        assert_eq!(err.retryability(), Retryability::Permanent);
        assert_eq!(mock.total_calls(), 2, "token + one report call");
    }

    #[tokio::test]
    async fn endpoint_path_prefix_is_kept() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", "/sim/reports/2021-06-30/reports/R1", |_, _| {
            report_ok()
        });
        let mut config = mock.config();
        config.endpoint = mock.url("/sim/");
        let client = SpApiClient::new(config).unwrap();
        client.reports().get_report("R1").await.unwrap();
    }

    /// Moves tokio's clock without sleeping: pause, jump, resume (the offset is kept), so the
    /// HTTP calls around it still run on real time.
    async fn jump(by: Duration) {
        tokio::time::pause();
        tokio::time::advance(by).await;
        tokio::time::resume();
    }

    fn server_error(status: u16) -> Reply {
        Reply::amazon_error(
            status,
            "InternalFailure",
            "We encountered an internal error.",
            None,
        )
    }

    // Review item 2: side-effecting requests are not sent twice.

    #[tokio::test]
    async fn create_report_is_not_resent_after_a_server_error() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("POST", REPORTS_PATH, |_, _| server_error(500));
        let client = SpApiClient::new(mock.config()).unwrap();

        let err = client.reports().create_report(&spec()).await.unwrap_err();

        assert_eq!(err.retryability(), Retryability::Transient);
        assert_eq!(
            mock.calls("POST", REPORTS_PATH),
            1,
            "Amazon may have created the report; the workflow reconciles with getReports"
        );
    }

    #[tokio::test]
    async fn create_report_is_not_resent_after_a_timeout() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("POST", REPORTS_PATH, |_, _| {
            Reply::json(202, serde_json::json!({"reportId": "R1"}))
                .delayed(Duration::from_millis(300))
        });
        let mut config = mock.config();
        config.timeouts.request = Duration::from_millis(40);
        let client = SpApiClient::new(config).unwrap();

        let err = client.reports().create_report(&spec()).await.unwrap_err();

        assert!(
            matches!(&err, SpApiError::Transport { source, .. } if source.is_timeout()),
            "{err:?}"
        );
        assert_eq!(err.retryability(), Retryability::Transient);
        assert_eq!(mock.calls("POST", REPORTS_PATH), 1);
    }

    #[tokio::test]
    async fn cancel_and_create_feed_are_not_resent_but_create_feed_document_is() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("DELETE", "/feeds/2021-06-30/feeds/F1", |_, _| {
            server_error(503)
        });
        mock.route("POST", "/feeds/2021-06-30/feeds", |_, _| server_error(500));
        mock.route("POST", "/feeds/2021-06-30/documents", |_, n| {
            if n == 0 {
                server_error(500)
            } else {
                Reply::json(
                    201,
                    serde_json::json!({"feedDocumentId": "D1", "url": "https://s3/x"}),
                )
            }
        });
        let client = SpApiClient::new(mock.config()).unwrap();

        let cancel = client.feeds().cancel_feed("F1").await.unwrap_err();
        let listings = crate::feeds::CreateFeedSpecification::new(
            crate::feeds::JSON_LISTINGS_FEED,
            ["ATVPDKIKX0DER"],
            "D0",
        );
        let create = client.feeds().create_feed(&listings).await.unwrap_err();
        let doc = client.feeds().create_feed_document("text/plain").await;

        assert_eq!(cancel.retryability(), Retryability::Transient);
        assert_eq!(mock.calls("DELETE", "/feeds/2021-06-30/feeds/F1"), 1);
        assert_eq!(create.retryability(), Retryability::Transient);
        assert_eq!(
            mock.calls("POST", "/feeds/2021-06-30/feeds"),
            1,
            "one of the 5 JSON_LISTINGS_FEED submissions per 5 minutes, not three"
        );
        assert_eq!(doc.unwrap().feed_document_id, "D1");
        assert_eq!(mock.calls("POST", "/feeds/2021-06-30/documents"), 2);
    }

    // Review item 3: jitter differs per client unless pinned.

    #[tokio::test]
    async fn fresh_clients_do_not_jitter_in_lockstep() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("POST", REPORTS_PATH, |_, _| quota_exceeded());
        let mut waits = Vec::new();
        for _ in 0..3 {
            let client = SpApiClient::new(mock.config()).unwrap();
            match client.reports().create_report(&spec()).await.unwrap_err() {
                SpApiError::Throttled { retry_after, .. } => waits.push(retry_after),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            waits[0] != waits[1] && waits[1] != waits[2] && waits[0] != waits[2],
            "{waits:?}"
        );

        let pinned: Vec<Duration> = {
            let mut pinned = Vec::new();
            for _ in 0..2 {
                let mut config = mock.config();
                config.jitter_seed = Some(42);
                let client = SpApiClient::new(config).unwrap();
                let err = client.reports().create_report(&spec()).await.unwrap_err();
                pinned.push(err.retry_after().unwrap());
            }
            pinned
        };
        assert_eq!(pinned[0], pinned[1], "a pinned seed is reproducible");
    }

    // Review item 4: 429 backoff across calls, floors, absurd headers.

    #[tokio::test]
    async fn throttle_backoff_grows_across_calls_until_a_success() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, n| match n {
            0..=7 | 9 => quota_exceeded(),
            _ => report_ok(),
        });
        let mut config = mock.config();
        config.throttle_backoff = BackoffSettings {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        config.jitter_seed = Some(7);
        let client = SpApiClient::new(config).unwrap();
        let streak = || {
            client
                .limiter()
                .throttle_streak(client.account_key(), Operation::GetReport)
        };

        // Eight SQS retries of one step, each arriving after the wait it was given.
        let mut waits = Vec::new();
        for _ in 0..8 {
            let err = client.reports().get_report("R1").await.unwrap_err();
            let wait = err.retry_after().unwrap();
            waits.push(wait);
            jump(wait + Duration::from_millis(1)).await;
        }
        assert_eq!(streak(), 8);
        assert_eq!(mock.calls("GET", REPORT_PATH), 8);
        assert!(
            waits.iter().all(|w| *w >= Duration::from_secs(1)),
            "{waits:?}"
        );
        let early = waits[..2].iter().max().unwrap();
        let late = waits[4..].iter().max().unwrap();
        assert!(*early <= Duration::from_millis(2500), "{waits:?}");
        assert!(
            *late > Duration::from_secs(4),
            "the window doubled per 429: {waits:?}"
        );

        client.reports().get_report("R1").await.unwrap();
        assert_eq!(streak(), 0, "a success ends the run");
        let after = client.reports().get_report("R1").await.unwrap_err();
        assert_eq!(streak(), 1);
        assert!(
            after.retry_after().unwrap() <= Duration::from_millis(1500),
            "{after:?}"
        );
    }

    #[tokio::test]
    async fn a_429_is_slept_through_in_process_at_most_once_per_call() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            quota_exceeded().header("x-amzn-RateLimit-Limit", "50")
        });
        let mut config = mock.config();
        config.max_in_process_wait = Duration::from_secs(1);
        let client = SpApiClient::new(config).unwrap();

        let err = client.reports().get_report("R1").await.unwrap_err();

        assert_eq!(
            mock.calls("GET", REPORT_PATH),
            2,
            "one short wait, then the wait goes back to the caller"
        );
        assert_eq!(
            err.retryability(),
            Retryability::Throttled {
                retry_after: Duration::from_secs(1)
            },
            "floored at one second (SQS delays are whole seconds)"
        );
    }

    #[tokio::test]
    async fn absurd_rate_header_is_ignored() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            quota_exceeded().header("x-amzn-RateLimit-Limit", "1e12")
        });
        let client = SpApiClient::new(mock.config()).unwrap();

        let first = client.reports().get_report("R1").await.unwrap_err();
        let second = client.reports().get_report("R1").await.unwrap_err();

        assert!(
            first.retry_after().unwrap() >= Duration::from_secs(1),
            "{first:?}"
        );
        assert!(
            second.retry_after().unwrap() >= Duration::from_secs(1),
            "{second:?}"
        );
        assert_eq!(
            client
                .limiter()
                .current_rate(client.account_key(), Operation::GetReport),
            2.0,
            "the plan's rate, not 1e12"
        );
        assert_eq!(
            mock.calls("GET", REPORT_PATH),
            1,
            "the drained bucket held the second call"
        );
    }

    // Review item 8: redirects.

    #[tokio::test]
    async fn redirects_are_not_followed_with_the_access_token() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        let elsewhere = mock.url("/elsewhere").to_string();
        mock.route("POST", REPORTS_PATH, move |_, _| {
            Reply::bytes(302, None, Vec::new()).header("location", &elsewhere)
        });
        mock.route("GET", "/elsewhere", |_, _| {
            Reply::json(200, serde_json::json!({"reportId": "stolen"}))
        });
        let client = SpApiClient::new(mock.config()).unwrap();

        let err = client.reports().create_report(&spec()).await.unwrap_err();

        assert!(
            matches!(err, SpApiError::Api { status: 302, .. }),
            "{err:?}"
        );
        assert_eq!(err.retryability(), Retryability::Permanent);
        assert_eq!(mock.calls("GET", "/elsewhere"), 0);
    }

    // Review item 10: dot segments.

    #[tokio::test]
    async fn dot_segments_are_rejected_locally() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        let client = SpApiClient::new(mock.config()).unwrap();
        for id in [".", ".."] {
            let err = client.reports().get_report(id).await.unwrap_err();
            assert!(
                matches!(err, SpApiError::InvalidRequest { .. }),
                "{id}: {err:?}"
            );
            let err = client.feeds().cancel_feed(id).await.unwrap_err();
            assert!(
                matches!(err, SpApiError::InvalidRequest { .. }),
                "{id}: {err:?}"
            );
        }
        // "..x" or "a..b" are ordinary ids, percent-encoding keeps them one level
        mock.route("GET", "/reports/2021-06-30/reports/..x", |_, _| report_ok());
        client.reports().get_report("..x").await.unwrap();
        assert_eq!(mock.total_calls(), 2, "token + the one legitimate call");
    }
}
