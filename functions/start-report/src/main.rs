//! Cold-start wiring of `start-report`: configuration, AWS adapters, SP-API clients, runtime.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use spsync_aws::{AwsClients, DynamoJobStore, QueueUrls, SecretsManagerCredentials, SqsStepQueue};
use spsync_lambda_kit::{FromEnv, SystemClock, init_tracing};
use spsync_spapi::SellerClients;
use start_report::{Config, Deps, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    let aws = AwsClients::from_env(None).await;
    let jobs = Arc::new(DynamoJobStore::new(
        aws.dynamodb.clone(),
        &config.jobs_table_name,
    ));
    let credentials = Arc::new(SecretsManagerCredentials::new(aws.secretsmanager.clone()));
    let reports = SellerClients::new(jobs.clone(), credentials, config.endpoint_overrides());
    let queue = SqsStepQueue::new(
        aws.sqs.clone(),
        QueueUrls {
            poll_report: Some(config.poll_report_queue_url.clone()),
            import_report: Some(config.import_report_queue_url.clone()),
            enrich_orders: None,
            ..QueueUrls::default()
        },
    );
    let deps = Deps::new(
        &config,
        Arc::new(SystemClock),
        jobs.clone(),
        jobs,
        Arc::new(queue),
        Arc::new(reports),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handle(event.payload, &deps)
    }))
    .await
}
