//! `make demo`: Amazon in a box and the SP-API client, end to end.
//!
//! Starts the simulator (built-in sample seller, simulated clock moved by hand), then drives
//! the real client through what spsync does with Amazon: the order report (create, poll,
//! download, parse), enrichment through searchOrders, a fulfilment feed with tracking numbers
//! (one line deliberately wrong), the closed-loop read-back of packages, a JSON listings feed,
//! and a throttling storm. Prints a summary and exits 0. No network beyond loopback.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use serde_json::{Value, json};
use spsync_sim::faults::FaultRule;
use spsync_sim::{SimOptions, SimServer, sample};
use spsync_spapi::feeds::CreateFeedSpecification;
use spsync_spapi::orders::{FulfillmentStatus, IncludedData, OrderTimeFilter, SearchOrdersQuery};
use spsync_spapi::reports::CreateReportSpecification;
use spsync_spapi::{LwaCredentials, Retryability, SpApiClient, SpApiConfig};

const US: &str = "ATVPDKIKX0DER";
const SELLER: &str = "A1SIMSELLER0001";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut scenario = sample::scenario();
    scenario.clock.speed = 0.0;
    let server = SimServer::start_on_free_port(SimOptions::new(scenario))
        .await
        .context("starting the simulator")?;
    let sim = server.sim().clone();
    println!(
        "spsync demo: simulator on {} (seller {SELLER}, marketplace {US})",
        server.url()
    );

    let credentials = LwaCredentials::new(
        "spsync-sim-client",
        "spsync-sim-secret",
        "spsync-sim-refresh",
    );
    let mut config = SpApiConfig::from_urls(&server.url(), Some(&server.lwa_url()), credentials)?;
    config.max_in_process_wait = Duration::ZERO;
    let api = SpApiClient::new(config)?;

    // 1. Orders in: the order report over the last 3 days, polled over simulated time.
    let now = sim.clock.now();
    let spec =
        CreateReportSpecification::new("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", [US])
            .with_data_window(now - time::Duration::days(3), now);
    let report_id = api.reports().create_report(&spec).await?;
    let mut polls = 0;
    let report = loop {
        polls += 1;
        let r = api.reports().get_report(&report_id).await?;
        println!(
            "  report {report_id}: {} after {polls} poll(s)",
            r.processing_status.as_str()
        );
        if r.processing_status.is_terminal() {
            break r;
        }
        // Waiting is a delayed message in spsync; here the simulated clock jumps instead.
        sim.advance_clock(Duration::from_secs(60));
    };
    let document_id = report
        .report_document_id
        .context("DONE report without a document")?;
    let document = api.reports().get_report_document(&document_id).await?;
    let raw = api
        .documents()
        .download_raw(&document.url, Vec::new())
        .await?;
    let text = api
        .documents()
        .download_text(&document.url, document.compression_algorithm, Vec::new())
        .await?;
    let text = String::from_utf8(text.sink)?;
    let (rows, statuses) = order_report_summary(&text)?;
    println!(
        "orders report: {} bytes raw ({}), {rows} item rows, {} orders: {}",
        raw.bytes,
        raw.content_type.unwrap_or_default(),
        statuses.values().sum::<usize>(),
        fmt_counts(&statuses)
    );

    // 2. Enrichment: searchOrders pages with buyer and recipient; PII is withheld while PENDING.
    sim.advance_clock(Duration::from_secs(180));
    let mut query = SearchOrdersQuery::new(
        OrderTimeFilter::Created {
            after: now - time::Duration::days(3),
            before: None,
        },
        [US],
    );
    query.included_data = vec![
        IncludedData::Buyer,
        IncludedData::Recipient,
        IncludedData::Fulfillment,
    ];
    let collected = api.orders().search_all_orders(&query, 20).await?;
    let with_address = collected
        .orders
        .iter()
        .filter(|o| {
            o.recipient
                .as_ref()
                .and_then(|r| r.delivery_address.as_ref())
                .and_then(|a| a.address_line1.as_ref())
                .is_some()
        })
        .count();
    let pending = collected
        .orders
        .iter()
        .filter(|o| {
            o.fulfillment
                .as_ref()
                .is_some_and(|f| f.fulfillment_status == FulfillmentStatus::Pending)
        })
        .count();
    println!(
        "enrichment: {} orders in {} searchOrders page(s); {with_address} with a delivery address, {pending} PENDING (PII withheld)",
        collected.orders.len(),
        collected.pages
    );

    // 3. Tracking out: one fulfilment feed, one line deliberately wrong.
    let to_ship: Vec<_> = collected
        .orders
        .iter()
        .filter(|o| {
            o.fulfillment.as_ref().is_some_and(|f| {
                f.fulfillment_status == FulfillmentStatus::Unshipped
                    && f.fulfilled_by.map(|b| b.as_str()) == Some("MERCHANT")
            })
        })
        .take(5)
        .collect();
    let ship_date = sim.clock.now().date();
    let mut tsv = String::from(
        "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method\n",
    );
    for (n, order) in to_ship.iter().enumerate() {
        for item in &order.order_items {
            tsv.push_str(&format!(
                "{}\t{}\t{}\t{ship_date}\tUPS\t\t1Z999AA1{:010}\tUPS Ground\n",
                order.order_id,
                item.order_item_id,
                item.quantity_ordered,
                123_456 + n
            ));
        }
    }
    tsv.push_str(&format!(
        "999-9999999-9999999\t\t1\t{ship_date}\tUPS\t\t1Z999AA19999999999\tUPS Ground\n"
    ));
    let (feed_id, feed, report) = run_feed(
        &api,
        &sim,
        "POST_FLAT_FILE_FULFILLMENT_DATA",
        "text/tab-separated-values; charset=UTF-8",
        tsv,
    )
    .await?;
    let errors: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.starts_with("original-record-number"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    println!(
        "fulfilment feed {feed_id}: {} — {} / {} records successful, {} rejected",
        feed.processing_status.as_str(),
        summary_value(&report, "Number of records successful").unwrap_or("?"),
        summary_value(&report, "Number of records processed").unwrap_or("?"),
        errors.len()
    );
    for e in &errors {
        let cols: Vec<&str> = e.split('\t').collect();
        println!(
            "  rejected record {}: order {} — {} {}",
            cols[0],
            cols.get(1).unwrap_or(&""),
            cols.get(3).unwrap_or(&""),
            cols.get(5).unwrap_or(&"")
        );
    }

    // 4. Closed loop: read the shipped orders back with their packages.
    let mut confirmed = 0;
    for order in &to_ship {
        let back = api
            .orders()
            .get_order(
                &order.order_id,
                &[IncludedData::Packages, IncludedData::Fulfillment],
            )
            .await?;
        let tracked = back.packages.as_ref().is_some_and(|p| {
            p.iter().any(|p| {
                p.tracking_number
                    .as_deref()
                    .is_some_and(|t| t.starts_with("1Z999AA1"))
            })
        });
        confirmed += usize::from(tracked);
    }
    println!(
        "closed loop: {confirmed} of {} shipped orders show their tracking number on Amazon",
        to_ship.len()
    );
    if confirmed != to_ship.len() {
        bail!("tracking did not land on every shipped order");
    }

    // 5. Stock, price and lead time out: a JSON_LISTINGS_FEED.
    let listings = sim.lock().sellers[SELLER]
        .listings
        .values()
        .filter(|l| l.fulfillment_channel == "DEFAULT")
        .take(3)
        .cloned()
        .collect::<Vec<_>>();
    let messages: Vec<Value> = listings
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "messageId": i + 1,
                "sku": l.sku,
                "operationType": "PATCH",
                "productType": l.product_type,
                "patches": [{
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 40 + i, "lead_time_to_ship_max_days": 2 }]
                }]
            })
        })
        .collect();
    let body = json!({ "header": { "sellerId": SELLER, "version": "2.0" }, "messages": messages });
    let (feed_id, feed, processing) = run_feed(
        &api,
        &sim,
        "JSON_LISTINGS_FEED",
        "application/json; charset=UTF-8",
        body.to_string(),
    )
    .await?;
    let processing: Value = serde_json::from_str(&processing)?;
    println!(
        "listings feed {feed_id}: {} — summary {}",
        feed.processing_status.as_str(),
        processing["summary"]
    );

    // 6. Throttling: a 429 storm is honoured, not hammered.
    sim.add_fault(FaultRule {
        operation: Some("getReport".into()),
        throttle_ratio: 1.0,
        ..FaultRule::default()
    });
    let before = sim
        .stats()
        .operations
        .get("getReport")
        .map_or(0, |s| s.calls);
    let mut throttled = 0;
    let mut wait = Duration::ZERO;
    for _ in 0..10 {
        if let Err(e) = api.reports().get_report(&report_id).await
            && let Retryability::Throttled { retry_after } = e.retryability()
        {
            throttled += 1;
            wait = retry_after;
        }
    }
    let sent = sim
        .stats()
        .operations
        .get("getReport")
        .map_or(0, |s| s.calls)
        - before;
    sim.clear_faults();
    println!(
        "throttling: 10 attempts during a 429 storm → {throttled} throttled, {sent} reached Amazon, next try in {wait:?}"
    );

    println!("SP-API calls by operation (simulator's count):");
    for (op, s) in sim.stats().operations {
        println!(
            "  {op:<26} {:>4} calls  {:>4} ok  {:>3} throttled  {:>3} 4xx  {:>3} 5xx",
            s.calls, s.ok, s.throttled, s.client_errors, s.server_errors
        );
    }
    server.shutdown().await;
    println!("demo finished");
    Ok(())
}

/// Submits a feed (createFeedDocument → upload → createFeed), lets simulated time pass until
/// Amazon is done with it, and returns its id, the final `Feed` and its processing report.
async fn run_feed(
    api: &SpApiClient,
    sim: &spsync_sim::Sim,
    feed_type: &str,
    content_type: &str,
    body: String,
) -> anyhow::Result<(String, spsync_spapi::feeds::Feed, String)> {
    let doc = api.feeds().create_feed_document(content_type).await?;
    api.feeds()
        .upload_feed_document(&doc.url, content_type, Bytes::from(body))
        .await?;
    let feed_id = api
        .feeds()
        .create_feed(&CreateFeedSpecification::new(
            feed_type,
            [US],
            doc.feed_document_id.clone(),
        ))
        .await?;
    let feed = loop {
        let f = api.feeds().get_feed(&feed_id).await?;
        if f.processing_status.is_terminal() {
            break f;
        }
        sim.advance_clock(Duration::from_secs(60));
    };
    let result_id = feed
        .result_feed_document_id
        .clone()
        .context("a finished feed without a processing report")?;
    let result = api.feeds().get_feed_document(&result_id).await?;
    let report = api
        .documents()
        .download_text(&result.url, result.compression_algorithm, Vec::new())
        .await?;
    Ok((feed_id, feed, String::from_utf8(report.sink)?))
}

/// Item rows and orders by status, reading the report by header name.
fn order_report_summary(text: &str) -> anyhow::Result<(usize, BTreeMap<String, usize>)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty report")?.split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("no {name} column"))
    };
    let (id, status) = (col("amazon-order-id")?, col("order-status")?);
    let mut orders = BTreeMap::new();
    let mut rows = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        rows += 1;
        let cells: Vec<&str> = line.split('\t').collect();
        orders.insert(cells[id].to_string(), cells[status].to_string());
    }
    let mut by_status = BTreeMap::new();
    for s in orders.values() {
        *by_status.entry(s.clone()).or_insert(0) += 1;
    }
    Ok((rows, by_status))
}

fn summary_value<'a>(report: &'a str, label: &str) -> Option<&'a str> {
    report
        .lines()
        .find(|l| l.contains(label))?
        .split('\t')
        .next_back()
        .map(str::trim)
}

fn fmt_counts(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
