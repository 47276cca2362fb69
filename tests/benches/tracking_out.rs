//! Tracking-out benchmark: recording → confirmed latency (simulated time) and SP-API calls per
//! shipment at a steady rate of recorded shipments, through the real workflow, the real SP-API
//! client and the simulator at Amazon's default usage plans (virtual mode: in-memory stores,
//! the simulator's clock, no sleeps).
//!
//! Each simulated minute: the simulator's generator places orders; orders Amazon released
//! (UNSHIPPED) become spsync orders; shipments are recorded for them at the configured rate
//! (one package with every item, a UPS tracking number); the tracking schedule runs (as
//! `rate(1 minute)` does); every step message due is delivered. Shipments recorded in the
//! warm-up are left out of the figures; recording stops before the end so every measured
//! shipment can finish.
//!
//! Usage: `cargo bench -p spsync-tests --bench tracking_out [-- --per-hour 1000 --hours 3]`.
//! Prints one block per batch policy: the default (send as soon as no feed is live) and a
//! cost-first one (`FeedMaxWaitSeconds` 360).

#[path = "../flows/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use spsync_domain::{
    Address, AmazonOrderStatus, Buyer, FulfillmentChannel, MarketplaceId, Order, OrderLine,
    OrderStatus, SellerId, ShipmentItem, ShipmentRequest, ShipmentState,
};
use spsync_sim::scenario::{ClockSpec, Credentials, GeneratorSpec, Scenario, SellerSpec};
use spsync_sim::{SimOptions, SimServer, sample};
use spsync_workflow::{FeedSettings, OrderStore, ShipmentPorts, record_shipment};
use support::{Harness, SimAmazon, SimTime, sim_seller_clients};
use time::OffsetDateTime;

const SELLER: &str = "A1BENCHSELLER01";
const US: &str = "ATVPDKIKX0DER";

/// The operations a fulfilment feed and its read-back use.
const FEED_OPERATIONS: [&str; 7] = [
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeeds",
    "getFeedDocument",
    "searchOrders",
    "getOrder",
];

struct Args {
    per_hour: f64,
    hours: f64,
    warm_up_minutes: i64,
}

fn args() -> Args {
    let mut a = Args {
        per_hour: 1000.0,
        hours: 3.0,
        warm_up_minutes: 30,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse::<f64>().ok());
        match (argv[i].as_str(), value) {
            ("--per-hour", Some(v)) => a.per_hour = v,
            ("--hours", Some(v)) => a.hours = v,
            ("--warm-up-minutes", Some(v)) => a.warm_up_minutes = v as i64,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn scenario(start: OffsetDateTime, per_hour: f64) -> Scenario {
    let template = sample::scenario_at(start);
    let listings = template.sellers[0].listings.clone();
    Scenario {
        clock: ClockSpec {
            start: Some(start),
            speed: 0.0,
        },
        timing: Default::default(),
        sellers: vec![SellerSpec {
            seller_id: SELLER.into(),
            credentials: Credentials {
                client_id: "spsync-sim-client".into(),
                client_secret: "spsync-sim-secret".into(),
                refresh_token: "spsync-sim-refresh".into(),
            },
            marketplace_ids: vec![US.into()],
            listings,
            orders: Vec::new(),
            generator: Some(GeneratorSpec {
                // A little more than shipped, so there is always an order to ship.
                orders_per_hour: per_hour * 1.1,
                pending_minutes: 5,
                cancel_ratio: 0.0,
                fba_ratio: 0.0,
                seed: 4,
                backfill_hours: 0,
            }),
        }],
    }
}

/// A released merchant-fulfilled order of the simulator as spsync would hold it after import
/// and enrichment.
fn domain_order(json: &Value, now: OffsetDateTime) -> Option<Order> {
    let api: spsync_spapi::orders::Order = serde_json::from_value(json.clone()).ok()?;
    let e = spsync_spapi::seller_clients::enrichment_from_order(&api);
    if e.amazon_status != Some(AmazonOrderStatus::Unshipped) {
        return None;
    }
    Some(Order {
        seller_id: SellerId::new(SELLER),
        marketplace_id: MarketplaceId::new(api.sales_channel.marketplace_id.clone()?),
        amazon_order_id: e.amazon_order_id.clone(),
        merchant_order_id: None,
        status: OrderStatus::New,
        amazon_status: AmazonOrderStatus::Unshipped,
        fulfillment_channel: FulfillmentChannel::Merchant,
        purchase_date: api.created_time,
        last_updated: api.last_updated_time,
        sales_channel: Some(api.sales_channel.channel_name.clone()),
        ship_service_level: None,
        is_business_order: false,
        currency: None,
        lines: e
            .items
            .iter()
            .map(|i| OrderLine {
                sku: i.sku.clone(),
                asin: i.asin.clone(),
                product_name: None,
                quantity: i.quantity,
                item_status: None,
                item_price: None,
                order_item_id: Some(i.order_item_id.clone()),
            })
            .collect(),
        ship_to: Address::default(),
        buyer: Buyer::default(),
        recipient: None,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

fn ups(n: u64) -> String {
    let body = format!("999AA1{:09}", 10_000_000 + n);
    let mut sum = 0;
    for (i, c) in body.chars().enumerate() {
        let v = c
            .to_digit(10)
            .unwrap_or_else(|| (c as u32 - 'A' as u32 + 2) % 10);
        sum += if i % 2 == 1 { v * 2 } else { v };
    }
    format!("1Z{body}{}", (10 - sum % 10) % 10)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Figures {
    measured: usize,
    confirmed: usize,
    p50: i64,
    p95: i64,
    max: i64,
    accepted_p50: i64,
    accepted_p95: i64,
    calls: BTreeMap<String, u64>,
    calls_per_shipment: f64,
    feeds: usize,
    lines_per_feed: f64,
    throttled: u64,
}

async fn run(a: &Args, settings: FeedSettings) -> Figures {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let server = SimServer::start_on_free_port(SimOptions::new(scenario(start, a.per_hour)))
        .await
        .expect("simulator starts");
    let clients = Arc::new(sim_seller_clients(&server, SELLER, &[US]).await);
    let amazon = SimAmazon(clients.clone());
    let mut h = Harness::new(
        Arc::new(SimTime(server.sim().clone())),
        amazon.clone(),
        amazon,
    )
    .with_feeds(clients.clone(), clients);
    h.feed_settings = settings;

    let seller = SellerId::new(SELLER);
    let minutes = (a.hours * 60.0) as i64;
    let stop_recording = minutes - 45;
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut shippable: Vec<Order> = Vec::new();
    let mut owed = 0.0;
    let mut recorded = 0u64;
    let mut measured_from = None;
    let baseline = |server: &SimServer| -> BTreeMap<String, (u64, u64)> {
        let stats = server.sim().stats();
        FEED_OPERATIONS
            .iter()
            .map(|op| {
                let s = stats.operations.get(*op);
                (
                    op.to_string(),
                    (s.map_or(0, |s| s.calls), s.map_or(0, |s| s.throttled)),
                )
            })
            .collect()
    };
    let mut before = baseline(&server);

    for minute in 0..minutes {
        if minute == a.warm_up_minutes {
            measured_from = Some(h.clock_now());
            before = baseline(&server);
        }
        let now = h.clock_now();
        // Orders Amazon released since the last minute.
        let released: Vec<Value> = {
            let st = server.sim().lock();
            st.sellers
                .get(SELLER)
                .map(|s| {
                    s.orders
                        .iter()
                        .filter(|(id, _)| !known.contains(*id))
                        .map(|(_, o)| o.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        for json in released {
            if let Some(order) = domain_order(&json, now) {
                known.insert(order.amazon_order_id.to_string());
                h.orders.put_order(&order, None).await.unwrap();
                shippable.push(order);
            }
        }
        if minute < stop_recording {
            owed += a.per_hour / 60.0;
            while owed >= 1.0 && !shippable.is_empty() {
                owed -= 1.0;
                let order = shippable.remove(0);
                let request = ShipmentRequest {
                    amazon_order_id: order.amazon_order_id.clone(),
                    carrier: "UPS".into(),
                    tracking_number: Some(ups(recorded)),
                    ship_date: now - time::Duration::minutes(1),
                    ship_method: Some("UPS Ground".into()),
                    items: order
                        .lines
                        .iter()
                        .map(|l| ShipmentItem {
                            order_item_id: l.order_item_id.clone().unwrap(),
                            quantity: l.quantity,
                        })
                        .collect(),
                };
                let ports = ShipmentPorts {
                    clock: &h.clock,
                    orders: &h.orders,
                    shipments: &h.shipments,
                };
                record_shipment(&ports, &seller, None, &request, "bench")
                    .await
                    .expect("valid shipment");
                recorded += 1;
            }
        }
        // The tracking schedule, then every message due within the minute.
        h.start_feed(SELLER).await;
        let end = h.clock_now() + time::Duration::minutes(1);
        loop {
            while h.deliver_due().await > 0 {}
            match h.queue.next_visible() {
                Some(next) if next < end => {
                    let now = h.clock_now();
                    if next > now {
                        h.time.advance((next - now).unsigned_abs());
                    }
                }
                _ => break,
            }
        }
        let now = h.clock_now();
        if end > now {
            h.time.advance((end - now).unsigned_abs());
        }
    }
    h.run_until_idle(Duration::from_secs(3600)).await;

    let measured_from = measured_from.expect("the run is longer than the warm-up");
    let shipments: Vec<_> = h
        .shipments
        .all()
        .into_iter()
        .filter(|s| s.recorded_at >= measured_from)
        .collect();
    let mut accepted_after: Vec<i64> = shipments
        .iter()
        .filter_map(|s| {
            let at = s
                .history
                .iter()
                .find(|a| a.outcome.starts_with("accepted"))?
                .at;
            Some((at - s.recorded_at).whole_seconds())
        })
        .collect();
    accepted_after.sort_unstable();
    let mut latencies: Vec<i64> = shipments
        .iter()
        .filter(|s| matches!(s.state, ShipmentState::Confirmed { .. }))
        .filter_map(|s| s.confirm_seconds)
        .collect();
    latencies.sort_unstable();
    let after = baseline(&server);
    let calls: BTreeMap<String, u64> = after
        .iter()
        .map(|(op, (c, _))| (op.clone(), c - before[op].0))
        .collect();
    let throttled = after.iter().map(|(op, (_, t))| t - before[op].1).sum();
    let total: u64 = calls.values().sum();
    let feeds: Vec<_> = h
        .feed_jobs
        .all()
        .into_iter()
        .filter(|j| j.created_at >= measured_from && j.submitted_at.is_some())
        .collect();
    let lines: u32 = feeds.iter().map(|j| j.counts.lines).sum();
    server.shutdown().await;
    Figures {
        measured: shipments.len(),
        confirmed: latencies.len(),
        p50: percentile(&latencies, 50.0),
        p95: percentile(&latencies, 95.0),
        max: latencies.last().copied().unwrap_or(0),
        accepted_p50: percentile(&accepted_after, 50.0),
        accepted_p95: percentile(&accepted_after, 95.0),
        calls,
        calls_per_shipment: total as f64 / shipments.len().max(1) as f64,
        feeds: feeds.len(),
        lines_per_feed: f64::from(lines) / feeds.len().max(1) as f64,
        throttled,
    }
}

fn print(name: &str, a: &Args, f: &Figures) {
    let timing = spsync_sim::scenario::Timing::default();
    println!(
        "tracking_out [{name}] {:.0} shipments/hour, {:.1} h simulated",
        a.per_hour, a.hours
    );
    println!(
        "  shipments measured {}, confirmed {} ({} not confirmed)",
        f.measured,
        f.confirmed,
        f.measured - f.confirmed
    );
    println!(
        "  recording -> confirmed (simulated): p50 {} s, p95 {} s, max {} s \
         (simulator processing: {} s queue + {} s processing = {} s; goal p95 <= 180 s + {} s = {} s)",
        f.p50,
        f.p95,
        f.max,
        timing.feed_queue_seconds,
        timing.feed_processing_seconds,
        timing.feed_queue_seconds + timing.feed_processing_seconds,
        timing.feed_queue_seconds + timing.feed_processing_seconds,
        180 + timing.feed_queue_seconds + timing.feed_processing_seconds,
    );
    println!(
        "  recording -> accepted in Amazon's processing report: p50 {} s, p95 {} s \
         (the read-back then waits for Amazon's ~2-minute order data lag)",
        f.accepted_p50, f.accepted_p95
    );
    println!(
        "  SP-API calls per shipment {:.3} (goal <= 0.05); feeds {}, {:.1} lines per feed; 429s {}",
        f.calls_per_shipment, f.feeds, f.lines_per_feed, f.throttled
    );
    let by_op: Vec<String> = f.calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
    println!("  calls: {}", by_op.join(", "));
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    let default = run(&a, FeedSettings::default()).await;
    print("default: send when no feed is live", &a, &default);
    let cost_first = run(
        &a,
        FeedSettings {
            max_wait: Duration::from_secs(360),
            min_batch: 5_000,
            ..FeedSettings::default()
        },
    )
    .await;
    print("cost-first: FeedMaxWaitSeconds=360", &a, &cost_first);
    let cheapest = run(
        &a,
        FeedSettings {
            max_wait: Duration::from_secs(900),
            min_batch: 5_000,
            ..FeedSettings::default()
        },
    )
    .await;
    print("cheapest: FeedMaxWaitSeconds=900", &a, &cheapest);
}
