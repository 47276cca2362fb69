//! `spsync`: the operator CLI over a stack's tables (local or deployed). See the crate
//! README.

use std::process::ExitCode;

use clap::Parser;
use spsync_aws::{AwsClients, DynamoJobStore, DynamoOrderStore};
use spsync_local_runner::cli::OperatorArgs;
use spsync_local_runner::operator::{Operator, OperatorEnv};

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
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("spsync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &OperatorArgs) -> anyhow::Result<String> {
    let env = OperatorEnv::from_lookup(|name| std::env::var(name).ok())?;
    // AWS_ENDPOINT_URL (a local stack) and credentials come from the environment, as for
    // any AWS tool.
    let clients = AwsClients::from_env(None).await;
    let jobs = DynamoJobStore::new(clients.dynamodb.clone(), env.jobs_table);
    let orders = DynamoOrderStore::new(clients.dynamodb.clone(), env.orders_table);
    let operator = Operator {
        sellers: &jobs,
        jobs: &jobs,
        orders: &orders,
    };
    Ok(operator.run(args).await?)
}
