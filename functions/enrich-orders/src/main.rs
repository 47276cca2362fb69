//! Cold-start wiring of `enrich-orders`: configuration, AWS adapters, SP-API clients, runtime.

use std::sync::Arc;

use enrich_orders::{Config, Deps, EnrichEvent, handle};
use lambda_runtime::{LambdaEvent, service_fn};
use spsync_aws::{
    AwsClients, DynamoJobStore, DynamoOrderStore, QueueUrls, SecretsManagerCredentials,
    SqsStepQueue,
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
    let orders = DynamoOrderStore::new(aws.dynamodb.clone(), &config.orders_table_name);
    let credentials = Arc::new(SecretsManagerCredentials::new(aws.secretsmanager.clone()));
    let orders_api = SellerClients::new(jobs.clone(), credentials, config.endpoint_overrides());
    let urls = QueueUrls {
        enrich_orders: Some(config.enrich_orders_queue_url.clone()),
        ..QueueUrls::default()
    };
    let queue = SqsStepQueue::new(aws.sqs.clone(), urls);
    let deps = Deps::new(
        &config,
        Arc::new(SystemClock),
        jobs.clone(),
        jobs,
        Arc::new(orders),
        Arc::new(queue),
        Arc::new(orders_api),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<EnrichEvent>| {
        handle(event.payload, &deps)
    }))
    .await
}
