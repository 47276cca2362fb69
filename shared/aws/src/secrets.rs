//! [`SecretsManagerCredentials`]: sellers' LWA credentials from Secrets Manager.
//!
//! A seller's secret is a JSON `SecretString`:
//! `{"client_id": "...", "client_secret": "...", "refresh_token": "..."}`. The value is never
//! logged, and neither is any error text that could quote it.

use async_trait::async_trait;
use spsync_workflow::{CredentialStore, LwaSecret, StoreError};
use tracing::instrument;

use crate::error::{decode, store_error};

/// Secrets Manager adapter: implements [`CredentialStore`].
#[derive(Debug, Clone)]
pub struct SecretsManagerCredentials {
    /// Secrets Manager client.
    pub client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerCredentials {
    /// An adapter reading secrets with `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

/// Reads the secret's JSON; the error keeps only the kind of failure, never the text.
fn parse_secret(value: &str) -> Result<LwaSecret, StoreError> {
    serde_json::from_str(value).map_err(|e| {
        decode(
            "GetSecretValue",
            "secret",
            format!(
                "SecretString is not {{client_id, client_secret, refresh_token}} JSON ({:?} error)",
                e.classify()
            ),
        )
    })
}

#[async_trait]
impl CredentialStore for SecretsManagerCredentials {
    #[instrument(skip_all, fields(operation = "GetSecretValue", secret_id = %secret_id))]
    async fn lwa_secret(&self, secret_id: &str) -> Result<LwaSecret, StoreError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                {
                    StoreError::NotFound {
                        what: format!("secret {secret_id}"),
                    }
                } else {
                    store_error("GetSecretValue", format!("secret {secret_id}"), e)
                }
            })?;
        let value = out.secret_string().ok_or_else(|| {
            decode(
                "GetSecretValue",
                "secret",
                "no SecretString (binary secrets are not read)",
            )
        })?;
        parse_secret(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_json_is_read() {
        let secret = parse_secret(
            r#"{"client_id":"amzn1.id","client_secret":"s3cr3t","refresh_token":"Atzr|x"}"#,
        )
        .unwrap();

        assert_eq!(secret.client_id, "amzn1.id");
        assert_eq!(secret.client_secret, "s3cr3t");
        assert_eq!(secret.refresh_token, "Atzr|x");
    }

    #[test]
    fn a_malformed_secret_never_quotes_its_value() {
        for value in [
            r#"{"client_id":"amzn1.id","client_secret":42,"refresh_token":"Atzr|leak"}"#,
            r#"{"client_id":"amzn1.id","client_secret":"s3cr3t-leak"}"#,
            "Atzr|leak not json",
        ] {
            let err = parse_secret(value).unwrap_err();

            let text = format!("{err} {:?}", std::error::Error::source(&err));
            assert!(matches!(err, StoreError::Permanent { .. }), "{text}");
            assert!(!text.contains("leak") && !text.contains("s3cr3t"), "{text}");
        }
    }
}
