//! Cold-start wiring of `shipments-api`: configuration, DynamoDB adapters, runtime.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use shipments_api::{Config, Deps, handle};
use spsync_aws::{AwsClients, DynamoOrderStore, DynamoShipmentStore};
use spsync_lambda_kit::{FromEnv, SystemClock, init_tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?;
    let aws = AwsClients::from_env(None).await;
    let orders = DynamoOrderStore::new(aws.dynamodb.clone(), &config.orders_table_name);
    let shipments = DynamoShipmentStore::new(aws.dynamodb.clone(), &config.shipments_table_name);
    let deps = Deps::new(
        &config,
        Arc::new(SystemClock),
        Arc::new(orders),
        Arc::new(shipments),
    );
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayV2httpRequest>| async {
            Ok::<_, lambda_runtime::Error>(handle(&deps, event.payload).await)
        },
    ))
    .await
}
