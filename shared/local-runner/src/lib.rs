//! spsync's local runner: the stack of `template.yaml` on moto, the real function handlers,
//! the SP-API simulator, and simulated time; plus the `spsync` operator CLI.
//!
//! Stack mode (what `make demo` runs, [`LocalStack`]): start moto and the simulator, create
//! the tables, queues and bucket **from template.yaml**, register the scenario's sellers, then
//! drive every function as Lambda would, tick by tick of simulated time: EventBridge
//! `rate(...)` schedules, SQS event sources (batch size, partial batch failures, visibility
//! timeout, redrive to the dead-letter queue by moto itself). Each function is built from the
//! environment CloudFormation would give it, resolved from the template ([`functions`]).
//!
//! Where the local stack differs from AWS it is for one reason, time: moto runs SQS delays
//! and visibility timeouts on the wall clock while simulated hours pass in seconds. Delayed
//! step messages wait in the runner's [`Outbox`] ([`delay_queue`]) and failed messages come
//! back through [`event_source::RetryLedger`], both on simulated time. The crate README lists
//! every difference.
//!
//! The shipments HTTP API function is invoked as API Gateway would invoke it
//! ([`LocalStack::invoke_http`]): by the shipping desk ([`desk`]), which records part of the
//! imported orders' packages during a run, and, after a `--keep-running` run, by HTTP
//! requests on a local port ([`api_server`]).
//!
//! Main types: [`LocalStack`] and [`StackOptions`], [`cli`] (argument models of `local-run`
//! and `spsync`), [`schedule`] (`rate(...)` expressions), [`SimTimeClock`], [`Outbox`] /
//! [`VirtualDelayQueue`], [`event_source`], [`desk`], [`Summary`], [`transcript`],
//! [`operator`] (the `spsync` commands).
//!
//! Must not: be depended on by the functions (they stay deployable without it), or reach any
//! network but loopback.
#![warn(missing_docs)]

pub mod api_server;
pub mod cli;
pub mod delay_queue;
pub mod desk;
pub mod error;
pub mod event_source;
pub mod functions;
pub mod marketplaces;
pub mod operator;
pub mod schedule;
pub mod sim_clock;
pub mod stack;
pub mod summary;
mod table;
pub mod transcript;

pub use delay_queue::{Outbox, OutboxCounts, VirtualDelayQueue};
pub use error::RunnerError;
pub use sim_clock::SimTimeClock;
pub use stack::{LocalStack, StackOptions};
pub use summary::Summary;
