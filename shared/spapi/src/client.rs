//! [`SpApiClient`]: one `reqwest::Client`, the token cache, the limiter and the retry policy.
//!
//! Every SP-API call goes through one private `execute` loop, which in order: asks the limiter
//! (sleeping only for short waits), gets an access token, sends the request, learns the applied
//! rate from `x-amzn-RateLimit-Limit`, and classifies the answer: 2xx is returned; 429 drains the
//! bucket and becomes `Throttled`; a 401/403 that blames the token triggers one refresh; 5xx and
//! transport failures get a few jittered retries before becoming `Transient`; other 4xx are
//! `Permanent`.

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
use crate::error::{SpApiError, api_error, is_token_rejection};
use crate::feeds::FeedsApi;
use crate::limits::{Limiter, Operation};
use crate::orders::OrdersApi;
use crate::reports::ReportsApi;
use crate::retry::{Jitter, MAX_IN_PROCESS_THROTTLE_WAITS};

/// Header carrying the LWA access token on every SP-API call.
pub const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";
/// Response header with Amazon's request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";
/// Response header with the rate (requests per second) Amazon applied to the call.
pub const RATE_LIMIT_HEADER: &str = "x-amzn-RateLimit-Limit";

/// SP-API client for one selling partner. Cheap to clone: clones share the HTTP connection
/// pool, the access-token cache and the limiter.
#[derive(Clone)]
pub struct SpApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    timeouts: Timeouts,
    max_transient_retries: u32,
    transient_backoff: BackoffSettings,
    throttle_backoff: BackoffSettings,
    max_in_process_wait: Duration,
    account_key: String,
    auth: TokenCache,
    limiter: Arc<Limiter>,
    jitter: Arc<Jitter>,
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

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
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
            .build()
            .map_err(|e| SpApiError::Config(format!("HTTP client: {e}")))?;
        if config.endpoint.cannot_be_a_base() {
            return Err(SpApiError::Config(
                "SPAPI_ENDPOINT must be an http(s) base URL".into(),
            ));
        }
        let jitter = Arc::new(Jitter::new(config.jitter_seed));
        let account_key = config
            .account_key
            .clone()
            .unwrap_or_else(|| derive_account_key(&config));
        let auth = TokenCache::new(
            http.clone(),
            config.credentials,
            ExchangeSettings {
                endpoint: config.lwa_endpoint,
                request_timeout: config.timeouts.request,
                max_transient_retries: config.max_transient_retries,
                backoff: config.transient_backoff,
            },
            jitter.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint: config.endpoint,
                timeouts: config.timeouts,
                max_transient_retries: config.max_transient_retries,
                transient_backoff: config.transient_backoff,
                throttle_backoff: config.throttle_backoff,
                max_in_process_wait: config.max_in_process_wait,
                account_key,
                auth,
                limiter,
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

    pub(crate) fn timeouts(&self) -> &Timeouts {
        &self.inner.timeouts
    }

    pub(crate) fn max_transient_retries(&self) -> u32 {
        self.inner.max_transient_retries
    }

    pub(crate) fn transient_backoff(&self, attempt: u32) -> Duration {
        self.inner
            .jitter
            .backoff(attempt, self.inner.transient_backoff)
    }

    /// Sends a request to a presigned document URL (S3 in real life: no access token, no usage
    /// plan) and returns the successful response. A 5xx or a failure before the headers arrive
    /// is retried up to `max_transient_retries` times; any other status fails at once. The URL
    /// is its own credential, so it never reaches an error or a log line.
    pub(crate) async fn presigned_transfer(
        &self,
        operation: &'static str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SpApiError> {
        let mut attempt = 0;
        loop {
            let error = match request().timeout(self.timeouts().document).send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => SpApiError::DocumentHttp {
                    operation,
                    status: response.status().as_u16(),
                },
                Err(e) => SpApiError::Transport {
                    operation,
                    source: e.without_url(),
                },
            };
            let retry = match &error {
                SpApiError::DocumentHttp { status, .. } => *status >= 500,
                other => other.retryability() == crate::Retryability::Transient,
            };
            if !retry || attempt >= self.max_transient_retries() {
                return Err(error);
            }
            let wait = self.transient_backoff(attempt);
            tracing::warn!(sp_operation = operation, attempt, ?wait, error = %error, "retrying presigned transfer");
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    /// `endpoint` + path `segments` (each percent-encoded, so an id can never add a path level)
    /// + query pairs.
    pub(crate) fn url(
        &self,
        operation: Operation,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Url, SpApiError> {
        if let Some(empty) = segments.iter().position(|s| s.is_empty()) {
            return Err(SpApiError::InvalidRequest {
                operation: operation.name(),
                reason: format!("path segment {empty} is empty"),
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
            let now = tokio::time::Instant::now().into_std();
            match inner.limiter.acquire(&inner.account_key, operation, now) {
                Ok(()) => return Ok(()),
                Err(wait)
                    if wait <= inner.max_in_process_wait
                        && *waits < MAX_IN_PROCESS_THROTTLE_WAITS =>
                {
                    *waits += 1;
                    tracing::debug!(?wait, "usage plan: waiting in-process");
                    tokio::time::sleep(wait).await;
                }
                Err(wait) => {
                    tracing::info!(?wait, "usage plan exhausted locally; not calling Amazon");
                    return Err(SpApiError::Throttled {
                        operation: operation.name(),
                        retry_after: wait,
                        request_id: None,
                    });
                }
            }
        }
    }

    async fn execute_inner(&self, request: ApiRequest) -> Result<ApiResponse, SpApiError> {
        let inner = &*self.inner;
        let operation = request.operation;
        let name = operation.name();
        let mut transient_attempt = 0u32;
        let mut throttle_count = 0u32;
        let mut in_process_waits = 0u32;
        let mut token_refreshed = false;
        loop {
            self.pace(operation, &mut in_process_waits).await?;
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
                    let error = SpApiError::Transport {
                        operation: name,
                        source,
                    };
                    if error.retryability() == crate::Retryability::Transient
                        && transient_attempt < inner.max_transient_retries
                    {
                        let wait = self.transient_backoff(transient_attempt);
                        tracing::warn!(attempt = transient_attempt, ?wait, error = %error, "retrying after transport error");
                        transient_attempt += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(error);
                }
            };

            let span = tracing::Span::current();
            span.record("sp_status", status);
            if let Some(id) = &request_id {
                span.record("sp_request_id", id.as_str());
            }
            tracing::debug!(
                sp_operation = name,
                sp_status = status,
                sp_request_id = request_id.as_deref().unwrap_or(""),
                "SP-API response"
            );

            let now = tokio::time::Instant::now().into_std();
            if let Some(rate) = rate {
                inner
                    .limiter
                    .observe_rate_limit(&inner.account_key, operation, rate, now);
            }

            match status {
                200..=299 => {
                    return Ok(ApiResponse { body, request_id });
                }
                429 => {
                    let refill = inner
                        .limiter
                        .on_throttled(&inner.account_key, operation, now);
                    // With the header we know the applied rate exactly. Without it we only know
                    // the published plan, which a dynamic plan may differ from, so add jittered
                    // backoff: containers that were throttled together do not retry together.
                    let retry_after = if rate.is_some() {
                        refill
                    } else {
                        refill + inner.jitter.backoff(throttle_count, inner.throttle_backoff)
                    };
                    throttle_count += 1;
                    if retry_after <= inner.max_in_process_wait
                        && in_process_waits < MAX_IN_PROCESS_THROTTLE_WAITS
                    {
                        in_process_waits += 1;
                        tracing::debug!(?retry_after, "throttled; waiting in-process");
                        tokio::time::sleep(retry_after).await;
                        continue;
                    }
                    tracing::info!(?retry_after, "throttled by Amazon");
                    return Err(SpApiError::Throttled {
                        operation: name,
                        retry_after,
                        request_id,
                    });
                }
                401 | 403 if !token_refreshed && is_token_rejection(status, &body) => {
                    tracing::info!("access token rejected; refreshing once");
                    inner.auth.invalidate(&token).await;
                    token_refreshed = true;
                }
                408 | 500..=599 if transient_attempt < inner.max_transient_retries => {
                    let wait = self.transient_backoff(transient_attempt);
                    tracing::warn!(
                        attempt = transient_attempt,
                        ?wait,
                        "retrying after HTTP {status}"
                    );
                    transient_attempt += 1;
                    tokio::time::sleep(wait).await;
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
            Retryability::Throttled { retry_after } => assert!(
                retry_after <= interval && retry_after > interval - Duration::from_secs(5),
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
}
