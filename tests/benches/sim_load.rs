//! Load check of the SP-API simulator: how many SP-API requests per second it serves on
//! loopback, so that it is never the bottleneck of later benchmarks (goal ≥ 1,000 req/s).
//!
//! Every request goes through the full pipeline (token check, faults, usage plan, handler,
//! stats); usage plans are switched off so that the figure measures the server, not
//! Amazon's quotas. Bounded: a fixed number of requests, then it stops. Two worlds: the
//! built-in sample seller (34 orders) and the example two-seller scenario with about a
//! thousand orders of backfilled history, since every request advances the world.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use spsync_sim::scenario::Scenario;
use spsync_sim::{SimOptions, SimServer, sample};

const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 32;

const TWO_SELLERS: &str = include_str!("../../shared/spapi-sim/scenarios/two-sellers.json");

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    load_check("built-in sample seller", sample::scenario()).await?;
    let mut large = Scenario::from_json(TWO_SELLERS)?;
    large.clock.start = None;
    large.clock.speed = 1.0;
    if let Some(g) = large.sellers[0].generator.as_mut() {
        // About a thousand orders of history (the generator's per-call bound).
        g.orders_per_hour = 13.0;
    }
    load_check("two-seller scenario, ~1,000 orders", large).await
}

async fn load_check(label: &str, scenario: Scenario) -> anyhow::Result<()> {
    let server = SimServer::start_on_free_port(SimOptions::new(scenario)).await?;
    server.sim().lock().limiter.disabled = true;
    // Let the generators write their backfilled history before counting.
    server.sim().advance_clock(std::time::Duration::ZERO);
    let orders: usize = server
        .sim()
        .lock()
        .sellers
        .values()
        .map(|s| s.orders.len())
        .sum();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;

    let token: serde_json::Value = http
        .post(server.lwa_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            "grant_type=refresh_token&refresh_token=spsync-sim-refresh\
             &client_id=spsync-sim-client&client_secret=spsync-sim-secret",
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let created: serde_json::Value = http
        .post(format!("{}/reports/2021-06-30/reports", server.url()))
        .header("x-amz-access-token", &token)
        .json(&serde_json::json!({
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            "marketplaceIds": ["ATVPDKIKX0DER"],
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let report_id = created["reportId"].as_str().unwrap_or_default().to_string();

    // The mix: mostly getReport (what poll loops do), some order reads.
    let urls = Arc::new(vec![
        format!("{}/reports/2021-06-30/reports/{report_id}", server.url()),
        format!("{}/reports/2021-06-30/reports/{report_id}", server.url()),
        format!("{}/reports/2021-06-30/reports/{report_id}", server.url()),
        format!(
            "{}/orders/2026-01-01/orders?createdAfter=2020-01-01T00:00:00Z&maxResultsPerPage=10",
            server.url()
        ),
    ]);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, token, urls, next) = (http.clone(), token.clone(), urls.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= REQUESTS {
                    break;
                }
                let t = Instant::now();
                let ok = http
                    .get(&urls[i % urls.len()])
                    .header("x-amz-access-token", &token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(t.elapsed());
                failures += usize::from(!ok);
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut failures = 0;
    for w in workers {
        let (l, f) = w.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "spsync-sim load check ({label}, {orders} orders at start): {} SP-API requests, {CONCURRENCY} concurrent, loopback",
        latencies.len()
    );
    println!("  throughput : {rate:.0} requests/s (goal >= 1000)");
    println!(
        "  latency    : p50 {:?}  p99 {:?}  max {:?}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("  failures   : {failures}");
    println!("  elapsed    : {:.2?}", elapsed);
    let stats = server.sim().stats();
    for (op, s) in &stats.operations {
        println!("  {op:<18} calls {:>6}  ok {:>6}", s.calls, s.ok);
    }
    server.shutdown().await;
    if failures > 0 {
        anyhow::bail!("{failures} requests failed");
    }
    Ok(())
}
