//! Login with Amazon (LWA): refresh-token exchange and a shared access-token cache.
//!
//! One [`TokenCache`] serves every clone of a client. Tokens are refreshed 60 s before they
//! expire (Amazon's Java `LWAAccessTokenCacheImpl` does the same), or at half their lifetime when
//! they live less than two minutes; lifetimes are capped at [`MAX_TOKEN_LIFETIME`].
//!
//! Refreshes are single-flight: one caller runs the exchange while the others either keep using
//! the still-valid token or, when there is none, wait for that one exchange and share its
//! outcome. A failed exchange is remembered for [`FAILURE_MEMORY`], so a burst of callers fails
//! fast instead of each running its own exchange in turn; a failure while the cached token is
//! still valid (inside the refresh margin) is logged and the cached token is used. One exchange,
//! retries included, never takes longer than [`crate::Timeouts::request`].
//!
//! A token SP-API rejects anyway (the simulator may run its clock fast) is dropped with
//! [`TokenCache::invalidate`] and the client asks again, once.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use crate::config::{LwaCredentials, SecretString};
use crate::error::{SpApiError, body_excerpt};
use crate::retry::{Jitter, TransientRetry, retry_transient, transport_kind};

/// Pseudo-operation name of the LWA exchange in errors and traces.
pub const LWA_OPERATION: &str = "lwaToken";

/// How early a token is refreshed before it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Longest token lifetime believed. LWA says 3600 s; a larger `expires_in` (up to `u64::MAX`
/// from a broken proxy) is capped rather than trusted.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long a failed exchange is remembered: callers arriving meanwhile get its error (or the
/// still-valid cached token) without asking LWA again.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// An LWA access token (`Atza|...`). `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(SecretString);

impl AccessToken {
    /// The token, for the `x-amz-access-token` header and nothing else.
    pub fn secret(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// LWA's success body (`token_type` is always `bearer`; the echoed refresh token does not
/// rotate, so the configured one stays valid; both are ignored).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// LWA's error body, `{error, error_description}`.
#[derive(Deserialize)]
struct LwaErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// A failed exchange, kept so that callers arriving shortly after share its outcome.
#[derive(Clone)]
struct RecentFailure {
    until: Instant,
    status: Option<u16>,
    code: Option<String>,
    description: String,
}

impl RecentFailure {
    fn new(error: &SpApiError, until: Instant) -> Self {
        let (status, code, description) = match error {
            SpApiError::Auth {
                status,
                code,
                description,
            } => (*status, code.clone(), description.clone()),
            SpApiError::Transport { source, .. } => (
                None,
                None,
                format!("transport error ({})", transport_kind(source)),
            ),
            // A 2xx whose body did not decode: as permanent as the original Decode error.
            SpApiError::Decode { .. } => (Some(200), None, "undecodable token response".into()),
            other => (None, None, other.to_string()),
        };
        Self {
            until,
            status,
            code,
            description,
        }
    }

    fn to_error(&self) -> SpApiError {
        SpApiError::Auth {
            status: self.status,
            code: self.code.clone(),
            description: format!("a token exchange just failed: {}", self.description),
        }
    }
}

#[derive(Default)]
struct CacheState {
    token: Option<CachedToken>,
    failure: Option<RecentFailure>,
}

enum Lookup {
    /// Use this token.
    Ready(AccessToken),
    /// A recent exchange failed and no valid token is left.
    Failed(SpApiError),
    /// A refresh is due; the token is still usable if `Some`.
    Due(Option<AccessToken>),
}

/// Settings of the exchange that come from [`crate::SpApiConfig`].
#[derive(Clone, Debug)]
pub(crate) struct ExchangeSettings {
    pub endpoint: Url,
    /// Budget of one exchange, retries included.
    pub budget: Duration,
    pub retry: TransientRetry,
}

/// Shared LWA access-token cache for one set of credentials. Cheap to clone.
#[derive(Clone)]
pub struct TokenCache {
    http: reqwest::Client,
    credentials: Arc<LwaCredentials>,
    settings: Arc<ExchangeSettings>,
    jitter: Arc<Jitter>,
    state: Arc<Mutex<CacheState>>,
    /// Held by the one caller running an exchange.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("endpoint", &self.settings.endpoint.as_str())
            .field("client_id", &self.credentials.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(
        http: reqwest::Client,
        credentials: LwaCredentials,
        settings: ExchangeSettings,
        jitter: Arc<Jitter>,
    ) -> Self {
        Self {
            http,
            credentials: Arc::new(credentials),
            settings: Arc::new(settings),
            jitter,
            state: Arc::new(Mutex::new(CacheState::default())),
            refresh: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // Plain data: a panic elsewhere mid-update leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, now: Instant) -> Lookup {
        let state = self.state();
        if let Some(cached) = &state.token
            && now < cached.refresh_at
        {
            return Lookup::Ready(cached.token.clone());
        }
        let usable = state
            .token
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| c.token.clone());
        match (&state.failure, usable) {
            (Some(failure), Some(token)) if now < failure.until => Lookup::Ready(token),
            (Some(failure), None) if now < failure.until => Lookup::Failed(failure.to_error()),
            (_, usable) => Lookup::Due(usable),
        }
    }

    /// A valid access token: the cached one, or a fresh one from LWA (see the module docs for
    /// how concurrent callers share one exchange).
    pub async fn access_token(&self) -> Result<AccessToken, SpApiError> {
        let usable = match self.lookup(Instant::now()) {
            Lookup::Ready(token) => return Ok(token),
            Lookup::Failed(error) => return Err(error),
            Lookup::Due(usable) => usable,
        };
        let _refreshing = match (self.refresh.try_lock(), usable) {
            (Ok(guard), _) => guard,
            // Someone else is refreshing and our token is still valid: no need to wait.
            (Err(_), Some(token)) => return Ok(token),
            (Err(_), None) => self.refresh.lock().await,
        };
        // Whoever held the lock before may have refreshed, or failed, meanwhile.
        match self.lookup(Instant::now()) {
            Lookup::Ready(token) => return Ok(token),
            Lookup::Failed(error) => return Err(error),
            Lookup::Due(_) => {}
        }
        match self.exchange().await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                let mut state = self.state();
                state.token = Some(fresh);
                state.failure = None;
                Ok(token)
            }
            Err(error) => {
                let now = Instant::now();
                let mut state = self.state();
                state.failure = Some(RecentFailure::new(&error, now + FAILURE_MEMORY));
                let still_valid = state
                    .token
                    .as_ref()
                    .filter(|c| now < c.expires_at)
                    .map(|c| c.token.clone());
                match still_valid {
                    Some(token) => {
                        tracing::warn!(
                            sp_operation = LWA_OPERATION,
                            error_kind = crate::retry::error_kind(&error),
                            "token refresh failed; using the cached token until it expires"
                        );
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Forgets `rejected` if it is still the cached token (another caller may already have
    /// replaced it, and then nothing happens).
    pub async fn invalidate(&self, rejected: &AccessToken) {
        let mut state = self.state();
        if state.token.as_ref().is_some_and(|c| &c.token == rejected) {
            state.token = None;
        }
    }

    async fn exchange(&self) -> Result<CachedToken, SpApiError> {
        let deadline = Instant::now() + self.settings.budget;
        retry_transient(
            LWA_OPERATION,
            self.settings.retry,
            &self.jitter,
            deadline,
            |remaining| self.exchange_once(remaining),
            |e| e.retryability() == crate::Retryability::Transient,
        )
        .await
    }

    async fn exchange_once(&self, timeout: Duration) -> Result<CachedToken, SpApiError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", self.credentials.refresh_token.expose())
            .append_pair("client_id", &self.credentials.client_id)
            .append_pair("client_secret", self.credentials.client_secret.expose())
            .finish();
        let transport = |source: reqwest::Error| SpApiError::Transport {
            operation: LWA_OPERATION,
            source,
        };
        let issued_at = Instant::now();
        let response = self
            .http
            .post(self.settings.endpoint.clone())
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .header(ACCEPT, "application/json")
            .timeout(timeout)
            .body(form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        tracing::debug!(
            sp_operation = LWA_OPERATION,
            sp_status = status,
            "lwa answered"
        );
        if !(200..300).contains(&status) {
            let parsed = serde_json::from_slice::<LwaErrorBody>(&body).ok();
            let (code, description) = match parsed {
                Some(b) => (b.error, b.error_description.unwrap_or_default()),
                None => (None, body_excerpt(&body)),
            };
            return Err(SpApiError::Auth {
                status: Some(status),
                code,
                description,
            });
        }
        let token: TokenResponse =
            serde_json::from_slice(&body).map_err(|source| SpApiError::Decode {
                operation: LWA_OPERATION,
                request_id: None,
                source,
            })?;
        let lifetime = Duration::from_secs(token.expires_in).min(MAX_TOKEN_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let at = |offset: Duration| issued_at.checked_add(offset).unwrap_or(issued_at);
        Ok(CachedToken {
            token: AccessToken(SecretString::new(token.access_token)),
            refresh_at: at(lifetime - margin),
            expires_at: at(lifetime),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::test_support::{MockServer, Reply, TOKEN_PATH};
    use crate::{Retryability, SpApiClient, SpApiError};

    const REPORT_PATH: &str = "/reports/2021-06-30/reports/R1";

    fn report_ok() -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "reportId": "R1",
                "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
                "createdTime": "2026-11-01T10:00:00Z",
                "processingStatus": "IN_QUEUE"
            }),
        )
    }

    #[tokio::test]
    async fn one_token_exchange_serves_many_requests_and_clones() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| report_ok());
        let client = SpApiClient::new(mock.config()).unwrap();

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let c = client.clone();
            tasks.push(tokio::spawn(async move {
                c.reports().get_report("R1").await.map(|r| r.report_id)
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "R1");
        }
        client.reports().get_report("R1").await.unwrap();

        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            1,
            "one LWA exchange for 9 calls"
        );
        assert_eq!(mock.calls("GET", REPORT_PATH), 9);
        // The exchange is Amazon's documented form post.
        let token_request = &mock.requests("POST", TOKEN_PATH)[0];
        assert!(
            token_request
                .header("content-type")
                .unwrap()
                .starts_with("application/x-www-form-urlencoded")
        );
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_request.body)
            .into_owned()
            .collect();
        let expected: Vec<(String, String)> = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "Atzr|refresh"),
            ("client_id", "amzn1.application-oa2-client.test"),
            ("client_secret", "secret-x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(form, expected);
        for r in mock.requests("GET", REPORT_PATH) {
            assert_eq!(r.header("x-amz-access-token"), Some("Atza|token-0"));
        }
    }

    #[tokio::test]
    async fn token_is_refreshed_sixty_seconds_before_expiry() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| report_ok());
        let client = SpApiClient::new(mock.config()).unwrap();
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(mock.calls("POST", TOKEN_PATH), 1);

        // Move tokio's clock without sleeping: pause, jump, resume (the offset is kept), so the
        // HTTP calls below still run on real time.
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(3600 - 61)).await;
        tokio::time::resume();
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            1,
            "61 s before expiry: still cached"
        );

        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(2)).await;
        tokio::time::resume();
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            2,
            "59 s before expiry: refreshed"
        );
        let tokens: Vec<_> = mock
            .requests("GET", REPORT_PATH)
            .iter()
            .map(|r| r.header("x-amz-access-token").unwrap().to_owned())
            .collect();
        assert_eq!(tokens, ["Atza|token-0", "Atza|token-0", "Atza|token-1"]);
    }

    #[tokio::test]
    async fn invalid_client_and_invalid_grant_are_permanent() {
        for code in ["invalid_client", "invalid_grant"] {
            let mock = MockServer::start().await;
            mock.route("POST", TOKEN_PATH, move |_, _| {
                Reply::json(
                    if code == "invalid_client" { 401 } else { 400 },
                    serde_json::json!({"error": code, "error_description": "nope"}),
                )
            });
            let client = SpApiClient::new(mock.config()).unwrap();
            let err = client.reports().get_report("R1").await.unwrap_err();
            match &err {
                SpApiError::Auth {
                    code: Some(c),
                    description,
                    ..
                } => {
                    assert_eq!(c, code);
                    assert_eq!(description, "nope");
                }
                other => panic!("{code}: {other:?}"),
            }
            assert_eq!(err.retryability(), Retryability::Permanent, "{code}");
            assert_eq!(mock.calls("POST", TOKEN_PATH), 1, "{code}: no retry");
            assert_eq!(
                mock.calls("GET", REPORT_PATH),
                0,
                "{code}: SP-API not called"
            );
            let printed = format!("{err} {err:?}");
            assert!(
                !printed.contains("secret-x") && !printed.contains("Atzr|"),
                "{printed}"
            );
        }
    }

    #[tokio::test]
    async fn lwa_server_errors_are_retried_then_transient() {
        let mock = MockServer::start().await;
        mock.route("POST", TOKEN_PATH, |_, _| {
            Reply::json(
                500,
                serde_json::json!({"error": "server_error", "error_description": "boom"}),
            )
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert_eq!(err.retryability(), Retryability::Transient, "{err:?}");
        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            3,
            "1 + max_transient_retries (2)"
        );
        assert_eq!(mock.calls("GET", REPORT_PATH), 0);
    }

    #[tokio::test]
    async fn expired_token_403_refreshes_once_and_retries() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, n| {
            if n == 0 {
                Reply::amazon_error(
                    403,
                    "Unauthorized",
                    "Access to requested resource is denied.",
                    Some("The access token you provided has expired."),
                )
            } else {
                report_ok()
            }
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let report = client.reports().get_report("R1").await.unwrap();
        assert_eq!(report.report_id, "R1");
        assert_eq!(mock.calls("POST", TOKEN_PATH), 2);
        let tokens: Vec<_> = mock
            .requests("GET", REPORT_PATH)
            .iter()
            .map(|r| r.header("x-amz-access-token").unwrap().to_owned())
            .collect();
        assert_eq!(tokens, ["Atza|token-0", "Atza|token-1"]);
    }

    #[tokio::test]
    async fn second_token_rejection_is_permanent_and_not_retried_again() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            Reply::amazon_error(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                Some("The access token you provided is revoked, malformed or invalid."),
            )
            .header("x-amzn-RequestId", "req-403")
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert_eq!(err.retryability(), Retryability::Permanent);
        assert_eq!(err.request_id(), Some("req-403"));
        assert_eq!(mock.calls("POST", TOKEN_PATH), 2, "one refresh only");
        assert_eq!(mock.calls("GET", REPORT_PATH), 2);
    }

    #[tokio::test]
    async fn access_denied_without_token_problem_does_not_refresh() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, _| {
            Reply::amazon_error(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                Some(""),
            )
        });
        let client = SpApiClient::new(mock.config()).unwrap();
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert!(
            matches!(&err, SpApiError::Api { status: 403, code, details: None, .. } if code == "Unauthorized"),
            "{err:?}"
        );
        assert_eq!(mock.calls("POST", TOKEN_PATH), 1);
        assert_eq!(mock.calls("GET", REPORT_PATH), 1);
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let token = super::AccessToken(crate::SecretString::new("Atza|very-secret"));
        assert_eq!(format!("{token:?}"), "AccessToken(***)");
        assert_eq!(token.secret(), "Atza|very-secret");
    }

    async fn jump(by: Duration) {
        tokio::time::pause();
        tokio::time::advance(by).await;
        tokio::time::resume();
    }

    fn lwa_unavailable() -> Reply {
        Reply::json(
            503,
            serde_json::json!({"error": "temporarily_unavailable", "error_description": "later"}),
        )
    }

    // Review item 1: single-flight refresh, shared failures, stale-but-valid tokens, deadline.

    #[tokio::test]
    async fn concurrent_callers_share_one_failed_exchange() {
        let mock = MockServer::start().await;
        mock.route("POST", TOKEN_PATH, |_, _| {
            lwa_unavailable().delayed(Duration::from_millis(20))
        });
        mock.route("GET", REPORT_PATH, |_, _| report_ok());
        let client = SpApiClient::new(mock.config()).unwrap();

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let c = client.clone();
            tasks.push(tokio::spawn(
                async move { c.reports().get_report("R1").await },
            ));
        }
        let mut errors = Vec::new();
        for t in tasks {
            errors.push(t.await.unwrap().unwrap_err());
        }

        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            3,
            "one exchange (1 + 2 retries) for 8 callers, not 8 exchanges in a row"
        );
        for err in &errors {
            assert_eq!(err.retryability(), Retryability::Transient, "{err:?}");
            assert!(matches!(err, SpApiError::Auth { .. }), "{err:?}");
        }
        assert_eq!(mock.calls("GET", REPORT_PATH), 0);
    }

    #[tokio::test]
    async fn refresh_failure_inside_the_margin_keeps_the_still_valid_token() {
        let mock = MockServer::start().await;
        mock.route("POST", TOKEN_PATH, |_, n| {
            if n == 0 {
                Reply::json(
                    200,
                    serde_json::json!({"access_token": "Atza|token-0", "expires_in": 3600}),
                )
            } else {
                lwa_unavailable()
            }
        });
        mock.route("GET", REPORT_PATH, |_, _| report_ok());
        let client = SpApiClient::new(mock.config()).unwrap();
        client.reports().get_report("R1").await.unwrap();

        jump(Duration::from_secs(3600 - 30)).await;
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            1 + 3,
            "refresh tried (with retries)"
        );
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            4,
            "the failure is remembered: no new exchange right away"
        );
        let tokens: Vec<_> = mock
            .requests("GET", REPORT_PATH)
            .iter()
            .map(|r| r.header("x-amz-access-token").unwrap().to_owned())
            .collect();
        assert_eq!(tokens, ["Atza|token-0"; 3]);

        // Past the real expiry there is nothing left to fall back on.
        jump(Duration::from_secs(31)).await;
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert_eq!(err.retryability(), Retryability::Transient, "{err:?}");
        assert_eq!(mock.calls("POST", TOKEN_PATH), 7);
        assert_eq!(mock.calls("GET", REPORT_PATH), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn one_exchange_with_its_retries_is_bounded_by_the_request_timeout() {
        let mock = MockServer::start().await;
        mock.route("POST", TOKEN_PATH, |_, _| {
            lwa_unavailable().delayed(Duration::from_millis(150))
        });
        let mut config = mock.config();
        config.timeouts.request = Duration::from_millis(250);
        let client = SpApiClient::new(config).unwrap();
        let started = tokio::time::Instant::now();

        let err = client.reports().get_report("R1").await.unwrap_err();

        let took = started.elapsed();
        assert!(took < Duration::from_millis(300), "{took:?}");
        assert!(
            matches!(&err, SpApiError::Transport { source, .. } if source.is_timeout()),
            "the second attempt ran into the deadline: {err:?}"
        );
        assert_eq!(mock.calls("POST", TOKEN_PATH), 2);
    }

    // Review item 9.

    #[tokio::test]
    async fn absurd_expires_in_is_capped_instead_of_panicking() {
        let mock = MockServer::start().await;
        mock.lwa_ok(u64::MAX);
        mock.route("GET", REPORT_PATH, |_, _| report_ok());
        let client = SpApiClient::new(mock.config()).unwrap();

        client.reports().get_report("R1").await.unwrap();
        client.reports().get_report("R1").await.unwrap();
        assert_eq!(
            mock.calls("POST", TOKEN_PATH),
            1,
            "cached, not refreshed per call"
        );
        jump(super::MAX_TOKEN_LIFETIME).await;
        client.reports().get_report("R1").await.unwrap();

        assert_eq!(mock.calls("POST", TOKEN_PATH), 2, "refreshed within a day");
    }

    // Review item 5.

    #[tokio::test]
    async fn a_bare_401_refreshes_once() {
        let mock = MockServer::start().await;
        mock.lwa_ok(3600);
        mock.route("GET", REPORT_PATH, |_, n| {
            if n == 0 {
                Reply::json(401, serde_json::json!({"message": "Unauthorized"}))
            } else {
                report_ok()
            }
        });
        let client = SpApiClient::new(mock.config()).unwrap();

        let report = client.reports().get_report("R1").await.unwrap();

        assert_eq!(report.report_id, "R1");
        assert_eq!(mock.calls("POST", TOKEN_PATH), 2);
        assert_eq!(mock.calls("GET", REPORT_PATH), 2);
    }
}
