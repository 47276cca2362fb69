//! Cold-start wiring of `poll-report`: configuration, AWS adapters, SP-API clients, runtime.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use poll_report::{Config, Deps, handle};
use spsync_aws::{
    AwsClients, DynamoJobStore, QueueUrls, S3DocumentStore, SecretsManagerCredentials, SqsStepQueue,
};
use spsync_lambda_kit::{FromEnv, SystemClock, init_tracing};
use spsync_spapi::SellerClients;

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
    let documents = S3DocumentStore::new(aws.s3.clone(), &config.documents_bucket);
    let urls = QueueUrls {
        poll_report: Some(config.poll_report_queue_url.clone()),
        import_report: Some(config.import_report_queue_url.clone()),
        enrich_orders: None,
        ..QueueUrls::default()
    };
    let queue = SqsStepQueue::new(aws.sqs.clone(), urls);
    let deps = Deps::new(
        &config,
        Arc::new(SystemClock),
        jobs,
        Arc::new(queue),
        Arc::new(reports),
        Arc::new(documents),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        handle(event.payload, &deps)
    }))
    .await
}
