//! Amazon in a box: a stateful Selling Partner API simulator.
//!
//! Serves, on one loopback port, what spsync talks to at Amazon: Login with Amazon
//! (`/auth/o2/token`), the Reports and Feeds APIs 2021-06-30, the Orders API v2026-01-01, the
//! Tokens API's createRestrictedDataToken, presigned document URLs, and a control API under
//! `/_sim/` for tests and demos. It is written from Amazon's models (paths, field names,
//! status codes, error shapes, usage plans) and never from spsync's client types, so a
//! mistake shared by both sides cannot hide.
//!
//! Main types: [`SimServer`] (start, address, shutdown), [`Sim`] (state and clock, also usable
//! directly from tests), [`scenario::Scenario`] (the world file), [`sandbox::SandboxBook`]
//! (static-sandbox mode: answers Amazon's `x-amzn-api-sandbox` vectors verbatim).
//!
//! Must not: reach any network but loopback, or depend on spsync's own crates.

#![warn(missing_docs)]
// In an HTTP simulator the error path of a handler step *is* a ready `Response` (status,
// Amazon's body, headers); boxing it everywhere would only add noise.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod clock;
pub mod control;
pub mod documents;
pub mod faults;
pub mod feeds;
pub mod fulfillment_feed;
pub mod limits;
pub mod listings_feed;
pub mod orders;
pub mod report_docs;
pub mod reports;
pub mod sample;
pub mod sandbox;
pub mod scenario;
pub mod sim;
pub mod state;
pub mod world;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::SimClock;
use crate::sandbox::SandboxBook;
use crate::scenario::Scenario;
pub use crate::sim::Sim;
use crate::state::{ScenarioError, State};

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The world.
    pub scenario: Scenario,
    /// Static-sandbox vectors; `Some` switches the SP-API routes to static-sandbox mode.
    pub sandbox: Option<SandboxBook>,
    /// Log one line per call (the binary turns this on).
    pub log_calls: bool,
}

impl SimOptions {
    /// Options for `scenario`, normal mode, quiet.
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            sandbox: None,
            log_calls: false,
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is inconsistent.
    #[error("invalid scenario: {0}")]
    Scenario(#[from] ScenarioError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Builds the simulator's shared state from options (without serving it).
pub fn build(options: SimOptions) -> Result<Arc<Sim>, SimError> {
    let start = options
        .scenario
        .clock
        .start
        .unwrap_or_else(OffsetDateTime::now_utc);
    let clock = SimClock::new(start, options.scenario.clock.speed);
    let state = State::from_scenario(&options.scenario, start)?;
    let mut sim = Sim::new(clock, state, options.sandbox);
    sim.log_calls = options.log_calls;
    Ok(Arc::new(sim))
}

/// The HTTP routes of a simulator.
pub fn router(sim: Arc<Sim>) -> Router {
    let control = control::routes();
    let documents = Router::new()
        .route("/_sim/documents/{id}", get(documents::download))
        // S3 takes far more than axum's 2 MB default; a full JSON_LISTINGS_FEED (25,000
        // messages) can exceed 10 MiB.
        .route(
            "/_sim/uploads/{id}",
            put(documents::upload).layer(axum::extract::DefaultBodyLimit::max(
                documents::MAX_UPLOAD_BYTES,
            )),
        );
    let lwa = Router::new().route("/auth/o2/token", post(auth::token));
    let spapi = if sim.sandbox.is_some() {
        Router::new().fallback(sandbox::answer)
    } else {
        Router::new()
            .route(
                "/reports/2021-06-30/reports",
                get(reports::get_reports).post(reports::create_report),
            )
            .route(
                "/reports/2021-06-30/reports/{reportId}",
                get(reports::get_report).delete(reports::cancel_report),
            )
            .route(
                "/reports/2021-06-30/documents/{reportDocumentId}",
                get(reports::get_report_document),
            )
            .route(
                "/feeds/2021-06-30/feeds",
                get(feeds::get_feeds).post(feeds::create_feed),
            )
            .route(
                "/feeds/2021-06-30/feeds/{feedId}",
                get(feeds::get_feed).delete(feeds::cancel_feed),
            )
            .route(
                "/feeds/2021-06-30/documents",
                post(feeds::create_feed_document),
            )
            .route(
                "/feeds/2021-06-30/documents/{feedDocumentId}",
                get(feeds::get_feed_document),
            )
            .route("/orders/2026-01-01/orders", get(orders::search_orders))
            .route(
                "/orders/2026-01-01/orders/{orderId}",
                get(orders::get_order),
            )
            .route(
                "/tokens/2021-03-01/restrictedDataToken",
                post(auth::create_restricted_data_token),
            )
            .fallback(control::not_found)
    };
    lwa.merge(documents)
        .merge(control)
        .merge(spapi)
        .with_state(sim)
}

/// A running simulator.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    sim: Arc<Sim>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimServer {
    /// Binds `addr` (use port 0 for any free port) and serves the simulator in the background.
    pub async fn start(options: SimOptions, addr: SocketAddr) -> Result<Self, SimError> {
        let sim = build(options)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        sim.set_base_url(format!("http://{local}"));
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(Arc::clone(&sim));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            addr: local,
            sim,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Starts a simulator on a free port of 127.0.0.1 (what tests, demos and benches want).
    pub async fn start_on_free_port(options: SimOptions) -> Result<Self, SimError> {
        Self::start(options, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the built-in sample seller on a free loopback port.
    pub async fn start_sample() -> Result<Self, SimError> {
        Self::start_on_free_port(SimOptions::new(sample::scenario())).await
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the SP-API endpoints (`SPAPI_ENDPOINT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// URL of the LWA token endpoint (`LWA_ENDPOINT`).
    pub fn lwa_url(&self) -> String {
        format!("http://{}/auth/o2/token", self.addr)
    }

    /// The simulator's state and clock, for tests that inspect or steer it directly.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
