//! One integration test binary for the whole workspace (one link, ripgrep style).
//!
//! The `contract_*` modules hold the simulator to Amazon's own material (Swagger models,
//! static sandbox vectors, JSON_LISTINGS_FEED schemas) read from `SPSYNC_SPAPI_DATA`; each of
//! their tests prints one line and passes when that material is not on the machine.

mod client_against_sim;
mod contract_listings_schema;
mod contract_models;
mod contract_sandbox;
mod feeds_against_sim;
mod orders_against_sim;
mod report_steps;
mod scenario_file;
mod seller_clients;
mod shipments_flow;
mod stack;
mod support;
