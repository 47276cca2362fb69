//! Client configuration: endpoints, LWA credentials, timeouts and retry policy.
//!
//! Endpoints are configuration, not constants, so the same client talks to Amazon or to the
//! simulator. Environment parsing is not done here (each function's `Config` owns that); the
//! variable names are exported so everyone spells them the same way.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::error::SpApiError;

/// Environment variable holding the SP-API base URL (e.g. `https://sellingpartnerapi-eu.amazon.com`).
pub const ENV_SPAPI_ENDPOINT: &str = "SPAPI_ENDPOINT";

/// Environment variable holding the LWA token endpoint; defaults to [`DEFAULT_LWA_ENDPOINT`].
pub const ENV_LWA_ENDPOINT: &str = "LWA_ENDPOINT";

/// Amazon's LWA token endpoint, the same host for every region ("Connecting to the Selling
/// Partner API", step 1).
pub const DEFAULT_LWA_ENDPOINT: &str = "https://api.amazon.com/auth/o2/token";

/// A string that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// LWA credentials of one selling partner authorisation: the app's client id and secret plus
/// the seller's refresh token. `Debug` prints only the client id.
#[derive(Clone, Debug)]
pub struct LwaCredentials {
    /// LWA client identifier of the application (not secret, printed in `Debug`).
    pub client_id: String,
    /// LWA client secret of the application.
    pub client_secret: SecretString,
    /// The selling partner's refresh token.
    pub refresh_token: SecretString,
}

impl LwaCredentials {
    /// Bundles the three values the refresh-token exchange needs.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
        refresh_token: impl Into<SecretString>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh_token.into(),
        }
    }
}

/// Network timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect timeout.
    pub connect: Duration,
    /// Whole-request timeout for one SP-API call (small JSON bodies), and the budget of one LWA
    /// token exchange *including* its retries, so callers waiting for a token are never held
    /// longer than this.
    pub request: Duration,
    /// Longest gap between two reads of a body; guards document downloads against stalls
    /// without limiting how long a large document may take overall.
    pub read: Duration,
    /// Budget of one presigned document download or upload, retries included (the body must
    /// have arrived or been sent within it). Kept well under Lambda's 15-minute limit; a
    /// document too large for it is streamed with [`crate::documents::DocumentsApi::open`]
    /// in a function with a longer timeout.
    pub document: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
            read: Duration::from_secs(30),
            document: Duration::from_secs(300),
        }
    }
}

/// Backoff window for in-process retries: full jitter over `base * 2^attempt`, capped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffSettings {
    /// Window of the first retry.
    pub base: Duration,
    /// Largest window.
    pub cap: Duration,
}

/// Everything [`crate::SpApiClient`] needs. Build with [`SpApiConfig::new`] and adjust the
/// public fields; `Debug` never prints secrets.
#[derive(Clone, Debug)]
pub struct SpApiConfig {
    /// SP-API base URL (`SPAPI_ENDPOINT`), e.g. `https://sellingpartnerapi-na.amazon.com` or the
    /// simulator's `http://127.0.0.1:PORT`. A path prefix is kept.
    pub endpoint: Url,
    /// LWA token endpoint (`LWA_ENDPOINT`), default [`DEFAULT_LWA_ENDPOINT`].
    pub lwa_endpoint: Url,
    /// LWA credentials of the seller this client acts for.
    pub credentials: LwaCredentials,
    /// `User-Agent` sent on every request; Amazon asks for `App/Version (Language=...)`.
    pub user_agent: String,
    /// Network timeouts.
    pub timeouts: Timeouts,
    /// In-process retries after a 5xx, a timeout or a connection error, before the call fails
    /// as [`crate::Retryability::Transient`]. Operations that are not idempotent (createReport,
    /// createFeed, cancelReport, cancelFeed) are retried only when the request certainly did
    /// not reach Amazon (connect errors). In-process throttle waits are bounded separately
    /// (at most three limiter waits and one 429 wait per call).
    pub max_transient_retries: u32,
    /// Backoff between those in-process retries.
    pub transient_backoff: BackoffSettings,
    /// Backoff added to the plan's refill interval after a 429 without `x-amzn-RateLimit-Limit`.
    pub throttle_backoff: BackoffSettings,
    /// Longest wait (limiter or 429) the client sleeps through in-process; anything longer is
    /// returned as [`SpApiError::Throttled`] without calling Amazon, so the caller can turn it
    /// into a delayed message instead of a billed sleep. Tests set it to zero.
    pub max_in_process_wait: Duration,
    /// Key of this seller's buckets in a shared [`crate::limits::Limiter`]. Amazon meters per
    /// selling partner and application; when `None`, a key is derived from the client id and a
    /// hash of the refresh token (the token itself is never stored in the key).
    pub account_key: Option<String>,
    /// Seed of the jitter PRNG. `None` (the default) picks a different seed per client and
    /// process, so containers throttled together do not retry in lockstep; tests pin a value to
    /// be reproducible.
    pub jitter_seed: Option<u64>,
    /// Where the usage-plan limiter reads "now". `None` (the default) is the monotonic clock;
    /// a run on simulated time (the local stack, flow tests) passes the simulator's clock so
    /// that token buckets refill as simulated time passes.
    pub limiter_clock: Option<LimiterClock>,
}

/// A monotonic time source for the usage-plan limiter (see [`SpApiConfig::limiter_clock`]).
#[derive(Clone)]
pub struct LimiterClock(pub std::sync::Arc<dyn Fn() -> std::time::Instant + Send + Sync>);

impl std::fmt::Debug for LimiterClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LimiterClock")
    }
}

impl SpApiConfig {
    /// A configuration with production defaults: LWA at [`DEFAULT_LWA_ENDPOINT`], 2 transient
    /// retries, in-process waits up to 2 s.
    pub fn new(endpoint: Url, credentials: LwaCredentials) -> Result<Self, SpApiError> {
        let lwa_endpoint =
            Url::parse(DEFAULT_LWA_ENDPOINT).map_err(|e| SpApiError::Config(e.to_string()))?;
        Ok(Self {
            endpoint,
            lwa_endpoint,
            credentials,
            user_agent: format!(
                "spsync/{} (Language=Rust; Platform=aws-lambda)",
                env!("CARGO_PKG_VERSION")
            ),
            timeouts: Timeouts::default(),
            max_transient_retries: 2,
            transient_backoff: BackoffSettings {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(2),
            },
            throttle_backoff: BackoffSettings {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
            max_in_process_wait: Duration::from_secs(2),
            account_key: None,
            jitter_seed: None,
            limiter_clock: None,
        })
    }

    /// Same as [`SpApiConfig::new`] with the LWA endpoint given too (e.g. the simulator's).
    pub fn with_lwa_endpoint(mut self, lwa_endpoint: Url) -> Self {
        self.lwa_endpoint = lwa_endpoint;
        self
    }

    /// Parses both endpoints from strings (as read from `SPAPI_ENDPOINT` / `LWA_ENDPOINT`);
    /// `lwa_endpoint: None` means [`DEFAULT_LWA_ENDPOINT`].
    pub fn from_urls(
        endpoint: &str,
        lwa_endpoint: Option<&str>,
        credentials: LwaCredentials,
    ) -> Result<Self, SpApiError> {
        let parse = |name: &str, value: &str| {
            Url::parse(value).map_err(|e| SpApiError::Config(format!("{name}: {e}")))
        };
        let config = Self::new(parse(ENV_SPAPI_ENDPOINT, endpoint)?, credentials)?;
        Ok(match lwa_endpoint {
            Some(lwa) => config.with_lwa_endpoint(parse(ENV_LWA_ENDPOINT, lwa)?),
            None => config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let creds = LwaCredentials::new("amzn1.application-oa2-client.abc", "s3cr3t", "Atzr|rt");
        let mut config =
            SpApiConfig::from_urls("https://sellingpartnerapi-eu.amazon.com", None, creds).unwrap();
        config.account_key = Some("seller-1".into());
        let printed = format!("{config:?} {config:#?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(!printed.contains("Atzr|rt"), "{printed}");
        assert!(printed.contains("amzn1.application-oa2-client.abc"));
        assert_eq!(config.credentials.client_secret.expose(), "s3cr3t");
        assert_eq!(config.lwa_endpoint.as_str(), DEFAULT_LWA_ENDPOINT);
    }

    #[test]
    fn bad_urls_are_config_errors() {
        let creds = || LwaCredentials::new("id", "secret", "refresh");
        assert!(matches!(
            SpApiConfig::from_urls("not a url", None, creds()),
            Err(SpApiError::Config(m)) if m.starts_with(ENV_SPAPI_ENDPOINT)
        ));
        assert!(matches!(
            SpApiConfig::from_urls("http://127.0.0.1:1", Some("::"), creds()),
            Err(SpApiError::Config(m)) if m.starts_with(ENV_LWA_ENDPOINT)
        ));
        let ok =
            SpApiConfig::from_urls("http://127.0.0.1:1", Some("http://127.0.0.1:2/t"), creds())
                .unwrap();
        assert_eq!(ok.lwa_endpoint.as_str(), "http://127.0.0.1:2/t");
    }
}
