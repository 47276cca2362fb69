//! The AWS adapters against moto's server on 127.0.0.1: one server for the whole binary,
//! every test on its own tables, bucket, queues and secrets (unique names), so tests run in
//! parallel without resetting each other's state.

mod moto {
    pub mod documents;
    pub mod jobs;
    pub mod orders;
    pub mod queue;
    pub mod secrets;
    pub mod shipping;
    pub mod support;
}
