//! Cold-start wiring of `import-report`: configuration, AWS adapters, runtime.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use import_report::{Config, Deps, handle};
use lambda_runtime::{LambdaEvent, service_fn};
use spsync_aws::{
    AwsClients, DynamoJobStore, DynamoOrderStore, QueueUrls, S3DocumentStore, SqsStepQueue,
};
use spsync_lambda_kit::{FromEnv, SystemClock, init_tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    let aws = AwsClients::from_env(None).await;
    let jobs = DynamoJobStore::new(aws.dynamodb.clone(), &config.jobs_table_name);
    let orders = DynamoOrderStore::new(aws.dynamodb.clone(), &config.orders_table_name);
    let documents = S3DocumentStore::new(aws.s3.clone(), &config.documents_bucket);
    let urls = QueueUrls {
        enrich_orders: Some(config.enrich_orders_queue_url.clone()),
        ..QueueUrls::default()
    };
    let queue = SqsStepQueue::new(aws.sqs.clone(), urls);
    let deps = Deps::new(
        &config,
        Arc::new(SystemClock),
        Arc::new(jobs),
        Arc::new(orders),
        Arc::new(documents),
        Arc::new(queue),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        handle(event.payload, &deps)
    }))
    .await
}
