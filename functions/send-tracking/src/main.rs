//! Cold-start wiring of `send-tracking`: configuration, AWS adapters, SP-API clients, runtime.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use send_tracking::{Config, Deps, Ports, TrackingEvent, handle};
use spsync_aws::{
    AwsClients, DynamoFeedJobStore, DynamoJobStore, DynamoOrderStore, DynamoShipmentStore,
    QueueUrls, S3DocumentStore, SecretsManagerCredentials, SqsStepQueue,
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
    let amazon = Arc::new(SellerClients::new(
        jobs.clone(),
        credentials,
        config.endpoint_overrides(),
    ));
    let urls = QueueUrls {
        feed_steps: Some(config.feed_steps_queue_url.clone()),
        ..QueueUrls::default()
    };
    let deps = Deps::new(
        &config,
        Ports {
            clock: Arc::new(SystemClock),
            sellers: jobs,
            feed_jobs: Arc::new(DynamoFeedJobStore::new(
                aws.dynamodb.clone(),
                &config.jobs_table_name,
            )),
            shipments: Arc::new(DynamoShipmentStore::new(
                aws.dynamodb.clone(),
                &config.shipments_table_name,
            )),
            orders: Arc::new(DynamoOrderStore::new(
                aws.dynamodb.clone(),
                &config.orders_table_name,
            )),
            documents: Arc::new(S3DocumentStore::new(
                aws.s3.clone(),
                &config.documents_bucket,
            )),
            queue: Arc::new(SqsStepQueue::new(aws.sqs.clone(), urls)),
            feeds: amazon.clone(),
            packages: amazon,
        },
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<TrackingEvent>| {
        handle(event.payload, &deps)
    }))
    .await
}
