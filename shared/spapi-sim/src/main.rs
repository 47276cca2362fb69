//! `spsync-sim`: serve the SP-API simulator on one loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use spsync_sim::sandbox::SandboxBook;
use spsync_sim::scenario::Scenario;
use spsync_sim::{SimOptions, SimServer, sample};

/// Amazon in a box: LWA, Reports, Feeds and Orders v2026-01-01 on one port, plus `/_sim/`.
#[derive(Debug, Parser)]
#[command(name = "spsync-sim", version)]
struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: SocketAddr,
    /// Scenario file (JSON); without it the built-in sample seller is served.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Static-sandbox mode: answer Amazon's `x-amzn-api-sandbox` vectors read from the model
    /// files in this directory (e.g. a checkout of selling-partner-api-models' `models/`).
    #[arg(long)]
    sandbox_models: Option<PathBuf>,
    /// Speed of simulated time (overrides the scenario's `clock.speed`).
    #[arg(long)]
    speed: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {}: the simulator serves loopback only",
            args.addr
        );
    }
    let mut scenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Scenario::from_json(&text)
                .with_context(|| format!("parsing scenario {}", path.display()))?
        }
        None => sample::scenario(),
    };
    if let Some(speed) = args.speed {
        scenario.clock.speed = speed;
    }
    let max_speed = spsync_sim::clock::MAX_SPEED;
    if !(scenario.clock.speed.is_finite() && (0.0..=max_speed).contains(&scenario.clock.speed)) {
        anyhow::bail!("the clock speed must be between 0 and {max_speed}");
    }
    let sandbox = match &args.sandbox_models {
        Some(dir) => Some(
            SandboxBook::load_models(dir)
                .with_context(|| format!("loading sandbox vectors from {}", dir.display()))?,
        ),
        None => None,
    };
    let sellers: Vec<String> = scenario
        .sellers
        .iter()
        .map(|s| s.seller_id.clone())
        .collect();
    let mut options = SimOptions::new(scenario);
    options.sandbox = sandbox;
    options.log_calls = true;
    let server = SimServer::start(options, args.addr).await?;
    tracing::info!(
        url = %server.url(),
        lwa = %server.lwa_url(),
        sellers = ?sellers,
        mode = if args.sandbox_models.is_some() { "static-sandbox" } else { "normal" },
        "spsync-sim listening"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
