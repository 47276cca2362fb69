//! `spsync`: the operator CLI over a stack's tables (local or deployed). See the crate
//! README.

use std::process::ExitCode;

use clap::Parser;
use spsync_aws::{AwsClients, DynamoJobStore, DynamoOrderStore, DynamoShipmentStore};
use spsync_lambda_kit::SystemClock;
use spsync_local_runner::cli::{OperatorArgs, OperatorCommand};
use spsync_local_runner::operator::{Operator, OperatorEnv, ShipmentsOperator};

#[tokio::main]
async fn main() -> ExitCode {
    let args = OperatorArgs::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match run(&args).await {
        Ok((out, failed)) => {
            print!("{out}");
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("spsync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What to print, and whether the command failed (a shipments command can fail after
/// printing every problem).
async fn run(args: &OperatorArgs) -> anyhow::Result<(String, bool)> {
    let lookup = |name: &str| std::env::var(name).ok();
    let env = OperatorEnv::from_lookup(lookup)?;
    // AWS_ENDPOINT_URL (a local stack) and credentials come from the environment, as for
    // any AWS tool.
    let clients = AwsClients::from_env(None).await;
    let orders = DynamoOrderStore::new(clients.dynamodb.clone(), env.orders_table);
    if let OperatorCommand::Shipments(command) = &args.command {
        let shipments = DynamoShipmentStore::new(
            clients.dynamodb.clone(),
            OperatorEnv::shipments_table(lookup)?,
        );
        let operator = ShipmentsOperator {
            clock: &SystemClock,
            orders: &orders,
            shipments: &shipments,
        };
        let out = operator.run(command, args.json).await?;
        return Ok((out.text, out.failed));
    }
    let jobs = DynamoJobStore::new(clients.dynamodb.clone(), env.jobs_table);
    let operator = Operator {
        sellers: &jobs,
        jobs: &jobs,
        orders: &orders,
    };
    Ok((operator.run(args).await?, false))
}
