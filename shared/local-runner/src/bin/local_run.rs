//! `local-run`: spsync's functions on a local stack (moto, built from template.yaml) against
//! the SP-API simulator, on simulated time. See the crate README.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use spsync_local_runner::cli::LocalRunArgs;
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
        let env = stack.cli_env()?;
        write_file(Path::new(ENV_FILE), env.as_bytes())?;
        println!(
            "\nmoto and the simulator keep running; for the spsync CLI (also in {ENV_FILE}):\n"
        );
        for line in env.lines().filter(|l| !l.starts_with('#')) {
            println!("export {line}");
        }
        println!(
            "\nthen e.g. `cargo run -p spsync-local-runner --bin spsync -- orders list --status ORDER_NEW`"
        );
        println!("Ctrl-C stops them.");
        std::io::stdout().flush()?;
        tokio::signal::ctrl_c().await?;
    }
    stack.shutdown().await;
    outcome
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
