//! Login with Amazon (LWA): refresh-token exchange and a shared access-token cache.
//!
//! One [`TokenCache`] serves every clone of a client: the token sits behind an
//! `Arc<tokio::sync::Mutex<_>>`, and the lock is held across the exchange so concurrent callers
//! wait for one refresh instead of each asking LWA. Tokens are refreshed 60 s before they expire
//! (Amazon's Java `LWAAccessTokenCacheImpl` does the same), or at half their lifetime when they
//! live less than two minutes. A token SP-API rejects anyway (the simulator may run its clock
//! fast) is dropped with [`TokenCache::invalidate`] and the client asks again, once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::config::{BackoffSettings, LwaCredentials, SecretString};
use crate::error::{SpApiError, body_excerpt};
use crate::retry::Jitter;

/// Pseudo-operation name of the LWA exchange in errors and traces.
pub const LWA_OPERATION: &str = "lwaToken";

/// How early a token is refreshed before it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

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

/// LWA's success body.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    #[allow(dead_code, reason = "documented field; always `bearer`")]
    token_type: Option<String>,
    expires_in: u64,
    // LWA echoes the refresh token; it does not rotate it, so the configured one stays valid.
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
}

/// Settings of the exchange that come from [`crate::SpApiConfig`].
#[derive(Clone, Debug)]
pub(crate) struct ExchangeSettings {
    pub endpoint: Url,
    pub request_timeout: Duration,
    pub max_transient_retries: u32,
    pub backoff: BackoffSettings,
}

/// Shared LWA access-token cache for one set of credentials. Cheap to clone.
#[derive(Clone)]
pub struct TokenCache {
    http: reqwest::Client,
    credentials: Arc<LwaCredentials>,
    settings: Arc<ExchangeSettings>,
    jitter: Arc<Jitter>,
    state: Arc<Mutex<Option<CachedToken>>>,
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
            state: Arc::new(Mutex::new(None)),
        }
    }

    /// A valid access token: the cached one, or a fresh one from LWA.
    pub async fn access_token(&self) -> Result<AccessToken, SpApiError> {
        let mut cached = self.state.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        // Held across the exchange on purpose: one refresh for all waiting callers.
        let fresh = self.exchange().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `rejected` if it is still the cached token (another caller may already have
    /// replaced it, and then nothing happens).
    pub async fn invalidate(&self, rejected: &AccessToken) {
        let mut cached = self.state.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == rejected) {
            *cached = None;
        }
    }

    async fn exchange(&self) -> Result<CachedToken, SpApiError> {
        let mut attempt = 0;
        loop {
            match self.exchange_once().await {
                Ok(token) => return Ok(token),
                Err(e)
                    if e.retryability() == crate::Retryability::Transient
                        && attempt < self.settings.max_transient_retries =>
                {
                    let wait = self.jitter.backoff(attempt, self.settings.backoff);
                    tracing::warn!(sp_operation = LWA_OPERATION, attempt, error = %e, ?wait, "retrying LWA exchange");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn exchange_once(&self) -> Result<CachedToken, SpApiError> {
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
            .timeout(self.settings.request_timeout)
            .body(form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        tracing::debug!(
            sp_operation = LWA_OPERATION,
            sp_status = status,
            "LWA response"
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
        let lifetime = Duration::from_secs(token.expires_in);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Ok(CachedToken {
            token: AccessToken(SecretString::new(token.access_token)),
            refresh_at: issued_at + (lifetime - margin),
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
}
