//! `local-run`: spsync's functions on a local stack (moto, built from template.yaml) against
//! the SP-API simulator, on simulated time. See the crate README.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use spsync_local_runner::api_server;
use spsync_local_runner::cli::LocalRunArgs;
use spsync_local_runner::desk::DeskOptions;
use spsync_local_runner::stack::{
    LocalStack, StackOptions, default_template_path, load_report_document, load_scenario,
    write_file,
};

/// Where `--keep-running` writes the CLI's environment.
const ENV_FILE: &str = ".run/local-stack.env";

#[tokio::main]
async fn main() -> ExitCode {
    let args = LocalRunArgs::parse();
    init_logs();
    match main_inner(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-run: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn main_inner(args: LocalRunArgs) -> anyhow::Result<()> {
    let scenario = load_scenario(args.scenario.as_deref())?;
    let template_path = args.template.clone().unwrap_or_else(default_template_path);
    let template_yaml = std::fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let mut options = StackOptions::new(scenario, template_yaml);
    options.stack_name = args.stack_name.clone();
    options.moto_endpoint = args.moto_endpoint.clone();
    options.hours = args.hours;
    options.tick = std::time::Duration::from_secs(args.tick_seconds);
    options.max_invocations_per_tick = args.max_invocations_per_tick;
    options.container_lifetime = std::time::Duration::from_secs(args.container_lifetime_seconds);
    options.shipping = (!args.no_shipping).then(|| DeskOptions {
        share: args.ship_share,
        ..DeskOptions::default()
    });
    if let Some(path) = &args.report_file {
        options.report_document = Some(load_report_document(path, &args.report_charset)?);
    }
    options.transcript = Some(match &args.transcript {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout()),
    });

    let mut stack = LocalStack::start(options).await?;
    let outcome = run(&mut stack, &args).await;
    if outcome.is_ok() && args.keep_running {
        let kept = keep_running(&stack, &args).await;
        stack.shutdown().await;
        return kept;
    }
    stack.shutdown().await;
    outcome
}

/// Serves the shipments API next to moto and the simulator, prints how to reach them, and
/// waits for Ctrl-C.
async fn keep_running(stack: &LocalStack, args: &LocalRunArgs) -> anyhow::Result<()> {
    let env = stack.cli_env()?;
    write_file(Path::new(ENV_FILE), env.as_bytes())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.api_port))
        .await
        .with_context(|| format!("binding the shipments API to 127.0.0.1:{}", args.api_port))?;
    let addr = listener.local_addr()?;
    let handler = stack.api_handler()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api_server::serve_until(listener, handler, async move {
        let _ = stopped.await;
    }));

    println!("\nmoto and the simulator keep running; for the spsync CLI (also in {ENV_FILE}):\n");
    for line in env.lines().filter(|l| !l.starts_with('#')) {
        println!("export {line}");
    }
    println!(
        "\nthen e.g. `cargo run -p spsync-local-runner --bin spsync -- orders list --status ORDER_NEW`"
    );
    println!("or `... --bin spsync -- shipments list --seller A1SIMSELLER0001 --state Confirmed`");
    let base = format!("http://{addr}");
    println!(
        "\nThe shipments API (the shipments-api function; no IAM locally; simulated time, frozen at the run's end) on {base}:\n"
    );
    if let Some((seller, body)) = stack.example_shipment().await? {
        println!(
            "curl -s -X POST {base}/sellers/{seller}/shipments -H 'content-type: application/json' \\\n  -d '{}'",
            body.to_json()
        );
        println!(
            "curl -s {base}/sellers/{seller}/orders/{}/shipments",
            body.amazon_order_id
        );
    }
    println!("curl -s '{base}/sellers/A1SIMSELLER0001/shipments?state=Confirmed&limit=5'");
    println!("\nCtrl-C stops them.");
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    let _ = stop.send(());
    server.await??;
    Ok(())
}

async fn run(stack: &mut LocalStack, args: &LocalRunArgs) -> anyhow::Result<()> {
    let summary = stack.run().await?;
    println!("\n{}", summary.render());
    if let Some(path) = &args.summary_json {
        write_file(path, serde_json::to_string_pretty(&summary)?.as_bytes())?;
        println!("summary written to {}", path.display());
    }
    if let Some(path) = &args.export_orders {
        let n = stack.export_orders(path).await?;
        println!("{n} orders exported to {}", path.display());
    }
    Ok(())
}

/// Warnings and errors of the libraries on stderr (the transcript and summary own stdout).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
