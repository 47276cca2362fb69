//! The AWS SDK clients, built once per process (a Lambda container, the local runner, a test).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// One client per service, sharing one loaded SDK configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB (jobs, orders, sellers, cursors).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// S3 (raw documents).
    pub s3: aws_sdk_s3::Client,
    /// SQS (step messages).
    pub sqs: aws_sdk_sqs::Client,
    /// Secrets Manager (sellers' LWA credentials).
    pub secretsmanager: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    /// Loads the SDK configuration the standard way (environment, Lambda's role) and builds
    /// the clients. `endpoint_override` (or `AWS_ENDPOINT_URL`, which the SDK reads itself)
    /// points every service at one local endpoint such as moto's; S3 then uses path-style
    /// addressing, because `<bucket>.localhost` does not resolve.
    pub async fn from_env(endpoint_override: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = endpoint_override {
            loader = loader.endpoint_url(url);
        }
        Self::from_sdk_config(&loader.load().await)
    }

    /// Clients for a local AWS-compatible endpoint (moto) with static test credentials; for
    /// tests and the local runner. Nothing is read from the environment.
    pub async fn for_endpoint(url: &str, region: &str) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(url)
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "spsync-static",
            ))
            .load()
            .await;
        Self::from_sdk_config(&config)
    }

    /// Builds the clients from a loaded configuration; S3 is path-style when the
    /// configuration names an endpoint.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(s3_path_style(config))
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sqs: aws_sdk_sqs::Client::new(config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

/// A configured endpoint is a local emulator: S3 must address buckets by path there.
fn s3_path_style(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: Option<&str>) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"));
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        builder.build()
    }

    #[test]
    fn only_an_endpoint_makes_s3_path_style() {
        assert!(s3_path_style(&config(Some("http://localhost:4566"))));
        assert!(!s3_path_style(&config(None)));
    }

    #[tokio::test]
    async fn for_endpoint_sets_the_region() {
        let clients = AwsClients::for_endpoint("http://127.0.0.1:1", "eu-west-1").await;

        assert_eq!(
            clients.dynamodb.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        assert_eq!(
            clients.s3.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
    }
}
