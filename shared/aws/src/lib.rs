//! AWS adapters of spsync's workflow ports.
//!
//! Owns the translation between the ports of `spsync-workflow` and AWS: DynamoDB
//! ([`DynamoJobStore`]: jobs, active-job slots, cursors and the seller registry in JobsTable;
//! [`DynamoOrderStore`]: orders in OrdersTable with its `ByStatus` index), S3
//! ([`S3DocumentStore`]: raw report documents), SQS ([`SqsStepQueue`]: delayed step
//! messages) and Secrets Manager ([`SecretsManagerCredentials`]: sellers' LWA credentials).
//! [`AwsClients`] builds the SDK clients once per process, for AWS or for a local endpoint
//! (moto). Every SDK error is classified in one place ([`error`]) into the workflow's
//! `StoreError` / `QueueError`, so callers only ask whether to retry.
//! [`template`] reads `template.yaml` and [`provision`] builds its tables, queues and bucket
//! on moto and resolves each function's environment (the local runner's stack mode).
//!
//! [`template`] reads `template.yaml` and [`provision`] creates its tables, queues and bucket
//! on a local endpoint, so the local stack is built from the file that is deployed.
//!
//! Must not decide anything about flows (that is the workflow's and the domain's job): each
//! adapter stores and reads what it is given. Item layouts are documented in [`dynamo`].
//!
//! Tested against moto's server on 127.0.0.1 (`tests/moto.rs`), never against AWS.
#![warn(missing_docs)]

pub mod config;
pub mod dynamo;
pub mod error;
pub mod provision;
pub mod s3;
pub mod secrets;
pub mod sqs;
pub mod template;

pub use config::AwsClients;
pub use dynamo::{
    DynamoFeedJobStore, DynamoJobStore, DynamoOrderStore, DynamoShipmentStore,
    ORDERS_BY_STATUS_INDEX, SHIPMENTS_BY_STATE_INDEX,
};
pub use error::AdapterError;
pub use provision::{ProvisionClients, ProvisionError, Stack, provision_stack};
pub use s3::S3DocumentStore;
pub use secrets::SecretsManagerCredentials;
pub use sqs::{QueueUrls, SqsStepQueue};
pub use template::{Template, TemplateError};
