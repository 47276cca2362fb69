//! The binary's one moto server, clients on it, and a fresh stack per test.
//!
//! Every test provisions `template.yaml` under its own stack name: the template gives no
//! physical names to tables and queues, so each stack gets its own (CloudFormation-style
//! generated) tables and queues, and the tests run in parallel without resetting moto.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use spsync_aws::provision::ProvisionClients;
use spsync_aws::{AwsClients, Stack, Template, provision_stack};
use spsync_testkit::MotoServer;

pub const REGION: &str = "us-east-1";

/// The endpoint of the binary's moto server (started on first use, stopped at exit).
pub fn endpoint() -> String {
    MotoServer::shared().endpoint()
}

/// SDK clients on moto.
pub async fn clients() -> AwsClients {
    AwsClients::for_endpoint(&endpoint(), REGION).await
}

/// A name no other test of this run uses (valid for stacks, secrets and object keys).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A test's own stack from the workspace's `template.yaml`.
pub async fn stack(clients: &AwsClients) -> Stack {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let template = Template::parse(&text).unwrap();
    provision_stack(
        &ProvisionClients::from(clients),
        &template,
        &unique("t"),
        &BTreeMap::new(),
    )
    .await
    .unwrap()
}

/// JobsTable's name in a fresh stack.
pub async fn jobs_table(clients: &AwsClients) -> String {
    stack(clients)
        .await
        .table("JobsTable")
        .unwrap()
        .name
        .clone()
}

/// OrdersTable's name in a fresh stack.
pub async fn orders_table(clients: &AwsClients) -> String {
    stack(clients)
        .await
        .table("OrdersTable")
        .unwrap()
        .name
        .clone()
}

/// DocumentsBucket's name in a fresh stack.
pub async fn bucket(clients: &AwsClients) -> String {
    stack(clients)
        .await
        .bucket("DocumentsBucket")
        .unwrap()
        .name
        .clone()
}
