//! Test doubles for spsync's flows: in-memory adapters of the workflow ports
//! ([`memory`]), a manual clock, and a moto server harness for the AWS adapter tests.
//!
//! Production crates never depend on this crate (checked by `make deps-check`).
#![warn(missing_docs)]

mod clock;
pub mod memory;
pub mod moto;
pub mod shipping;

pub use clock::ManualClock;
pub use moto::MotoServer;
