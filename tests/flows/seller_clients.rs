//! `SellerClients`, the SP-API adapter of the workflow's `ReportsApi` and `OrdersApi` ports,
//! against the simulator's sample seller: the seller is looked up in a directory, its LWA
//! secret read from a store, and every call goes through the port. The simulator's clock is
//! frozen and moved by hand; nothing sleeps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use spsync_domain::{
    AmazonOrderId, AmazonOrderStatus, Buyer, Enrichment, MarketplaceId, OrderReportReader,
    ProcessingStatus, SellerId,
};
use spsync_sim::faults::FaultRule;
use spsync_sim::{SimOptions, SimServer, sample};
use spsync_spapi::documents::{CompressionAlgorithm, DocumentReader};
use spsync_spapi::seller_clients::{EndpointOverrides, SellerClients};
use spsync_testkit::memory::{MemoryCredentials, MemoryJobStore};
use spsync_workflow::{ApiError, LwaSecret, OrdersApi, ReportsApi, SellerAccount, SellerDirectory};
use time::OffsetDateTime;

const SELLER: &str = sample::SELLER_ID;
const US: &str = sample::MARKETPLACE_ID;
const ORDERS_REPORT: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
const SECRET_ID: &str = "spsync/sellers/A1SIMSELLER0001";

struct World {
    server: SimServer,
    secrets: Arc<MemoryCredentials>,
    clients: SellerClients,
}

fn sample_secret(client_secret: &str) -> LwaSecret {
    LwaSecret {
        client_id: sample::CLIENT_ID.into(),
        client_secret: client_secret.into(),
        refresh_token: sample::REFRESH_TOKEN.into(),
    }
}

/// The sample seller on a frozen clock, registered in a directory with its secret stored.
async fn world(gzip_documents: bool) -> World {
    let mut scenario = sample::scenario();
    scenario.clock.speed = 0.0;
    scenario.timing.gzip_report_documents = gzip_documents;
    let server = SimServer::start_on_free_port(SimOptions::new(scenario))
        .await
        .expect("simulator starts");
    let sellers = Arc::new(MemoryJobStore::new());
    sellers
        .put_seller(&SellerAccount {
            seller_id: SellerId::new(SELLER),
            marketplaces: vec![MarketplaceId::new(US)],
            region: "na".into(),
            credentials_secret: SECRET_ID.into(),
            enabled: true,
        })
        .await
        .expect("seller registered");
    let secrets = Arc::new(MemoryCredentials::new());
    secrets.insert(SECRET_ID, sample_secret(sample::CLIENT_SECRET));
    let overrides = EndpointOverrides {
        spapi: Some(server.url().parse().expect("simulator URL")),
        lwa: Some(server.lwa_url().parse().expect("LWA URL")),
    };
    let clients =
        SellerClients::new(sellers, secrets.clone(), overrides).with_config_hook(|config| {
            // Usage-plan waits come back as Throttled instead of being slept through.
            config.max_in_process_wait = Duration::ZERO;
            config.jitter_seed = Some(11);
            config.transient_backoff.base = Duration::from_millis(1);
            config.transient_backoff.cap = Duration::from_millis(5);
        });
    World {
        server,
        secrets,
        clients,
    }
}

fn seller() -> SellerId {
    SellerId::new(SELLER)
}

fn us() -> MarketplaceId {
    MarketplaceId::new(US)
}

fn calls(server: &SimServer, operation: &str) -> u64 {
    server
        .sim()
        .stats()
        .operations
        .get(operation)
        .map_or(0, |s| s.calls)
}

fn time_of(order: &Value, field: &str) -> OffsetDateTime {
    let text = order[field].as_str().expect("a date-time");
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

/// The simulator's own orders of the sample seller, by id.
fn sim_orders(server: &SimServer) -> BTreeMap<String, Value> {
    server.sim().lock().sellers[SELLER]
        .orders
        .values()
        .map(|o| {
            (
                o["orderId"].as_str().expect("orderId").to_owned(),
                o.clone(),
            )
        })
        .collect()
}

fn status_of(order: &Value) -> &str {
    order["fulfillment"]["fulfillmentStatus"]
        .as_str()
        .expect("fulfillmentStatus")
}

fn merchant_fulfilled(order: &Value) -> bool {
    order["fulfillment"]["fulfilledBy"] == "MERCHANT"
}

fn item_ids(order: &Value) -> Vec<String> {
    order["orderItems"]
        .as_array()
        .expect("orderItems")
        .iter()
        .map(|i| i["orderItemId"].as_str().expect("orderItemId").to_owned())
        .collect()
}

fn assert_no_pii(e: &Enrichment) {
    assert_eq!(
        e.buyer,
        Buyer::default(),
        "{}: buyer withheld",
        e.amazon_order_id
    );
    if let Some(r) = &e.recipient {
        assert!(
            r.name.is_none() && r.lines.is_empty() && r.phone.is_none() && r.postal_code.is_none(),
            "{}: recipient PII withheld",
            e.amazon_order_id
        );
    }
}

fn assert_full_pii(e: &Enrichment) {
    let id = &e.amazon_order_id;
    assert!(e.buyer.name.is_some(), "{id}: buyer name");
    assert!(e.buyer.email.is_some(), "{id}: buyer email");
    assert!(e.buyer.phone.is_some(), "{id}: phone");
    let r = e.recipient.as_ref().expect("recipient");
    assert!(
        r.name.is_some() && !r.lines.is_empty(),
        "{id}: street address"
    );
    assert!(
        r.city.is_some() && r.postal_code.is_some() && r.country.is_some(),
        "{id}"
    );
    assert_eq!(r.phone, e.buyer.phone, "{id}: one phone in v2026");
}

/// Runs the orders report of the last 3 days through the port and checks the raw document
/// against the simulator's orders.
async fn report_round_trip(gzip_documents: bool) {
    let w = world(gzip_documents).await;
    let now = w.server.sim().clock.now();
    let start = now - time::Duration::days(3);

    let report_id = w
        .clients
        .create_report(&seller(), ORDERS_REPORT, &us(), start, now)
        .await
        .expect("createReport");
    let queued = w
        .clients
        .get_report(&seller(), &report_id)
        .await
        .expect("getReport");
    w.server.sim().advance_clock(Duration::from_secs(15 * 60));
    let done = w
        .clients
        .get_report(&seller(), &report_id)
        .await
        .expect("getReport");
    let document_id = done
        .report_document_id
        .clone()
        .expect("a DONE report has a document");
    let document = w
        .clients
        .download_report_document(&seller(), &document_id)
        .await
        .expect("download");

    assert!(
        matches!(
            queued.processing_status,
            ProcessingStatus::InQueue | ProcessingStatus::InProgress
        ),
        "{queued:?}"
    );
    assert_eq!(done.processing_status, ProcessingStatus::Done);
    assert_eq!(document.gzip, gzip_documents);
    assert_eq!(
        document.bytes.starts_with(&[0x1f, 0x8b]),
        gzip_documents,
        "raw bytes, as served"
    );
    let content_type = document.content_type.as_deref();
    assert!(
        content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("charset=")),
        "{content_type:?}"
    );
    let mut text = String::new();
    DocumentReader::new(
        &document.bytes[..],
        content_type,
        document.gzip.then_some(CompressionAlgorithm::Gzip),
    )
    .expect("known charset")
    .read_to_string(&mut text)
    .expect("decodes");
    assert!(
        text.starts_with("amazon-order-id\t"),
        "{}",
        &text[..text.len().min(80)]
    );
    let reader = OrderReportReader::new(text.as_bytes()).expect("header");
    let mut parsed = BTreeSet::new();
    for order in reader {
        let order = order.expect("every row parses");
        parsed.insert(order.amazon_order_id.as_str().to_owned());
    }
    let expected: BTreeSet<String> = sim_orders(&w.server)
        .into_iter()
        // The generator keeps placing orders while the clock moves: only the window counts.
        .filter(|(_, o)| (start..=now).contains(&time_of(o, "createdTime")))
        .map(|(id, _)| id)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        parsed, expected,
        "one report order per simulator order of the window"
    );
    assert_eq!(calls(&w.server, "lwaToken"), 1, "one client, one token");
}

#[tokio::test]
async fn the_orders_report_is_created_polled_and_downloaded_raw() {
    report_round_trip(false).await;
}

#[tokio::test]
async fn a_gzip_orders_report_is_downloaded_still_compressed() {
    report_round_trip(true).await;
}

#[tokio::test]
async fn get_order_withholds_pii_while_pending_and_gives_it_once_unshipped() {
    let w = world(false).await;
    let orders = sim_orders(&w.server);
    let pick = |status: &str| {
        orders
            .values()
            .find(|o| status_of(o) == status && merchant_fulfilled(o))
            .unwrap_or_else(|| panic!("the sample has a merchant-fulfilled {status} order"))
            .clone()
    };
    let pending = pick("PENDING");
    let unshipped = pick("UNSHIPPED");

    let mut got = Vec::new();
    for order in [&pending, &unshipped] {
        let id = AmazonOrderId::new(order["orderId"].as_str().expect("orderId"));
        let enrichment = OrdersApi::get_order(&w.clients, &seller(), &id)
            .await
            .expect("getOrder")
            .expect("the order exists");
        got.push(enrichment);
    }

    let (p, u) = (&got[0], &got[1]);
    assert_eq!(p.amazon_status, Some(AmazonOrderStatus::Pending));
    assert_no_pii(p);
    assert_eq!(
        p.items
            .iter()
            .map(|i| i.order_item_id.clone())
            .collect::<Vec<_>>(),
        item_ids(&pending)
    );
    assert_eq!(u.amazon_status, Some(AmazonOrderStatus::Unshipped));
    assert_full_pii(u);
    assert_eq!(
        u.items
            .iter()
            .map(|i| i.order_item_id.clone())
            .collect::<Vec<_>>(),
        item_ids(&unshipped)
    );
    assert!(
        u.items
            .iter()
            .all(|i| i.quantity > 0 && i.sku.is_some() && i.asin.is_some())
    );
    assert_eq!(u.last_updated, Some(time_of(&unshipped, "lastUpdatedTime")));
}

#[tokio::test]
async fn search_updated_orders_enriches_a_whole_pass_with_amazons_upper_bound() {
    let w = world(false).await;
    // lastUpdatedBefore defaults to "now - 2 minutes": let the youngest orders age past it.
    w.server.sim().advance_clock(Duration::from_secs(5 * 60));
    let now = w.server.sim().clock.now();
    let after = now - time::Duration::days(4);

    let mut seen: Vec<Enrichment> = Vec::new();
    let mut token: Option<String> = None;
    let mut bound = None;
    loop {
        let page = w
            .clients
            .search_updated_orders(&seller(), &us(), after, token.as_deref())
            .await
            .expect("searchOrders");
        seen.extend(page.orders);
        bound = page.last_updated_before.or(bound);
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }

    let orders = sim_orders(&w.server);
    let bound = bound.expect("Amazon names its lastUpdatedBefore");
    assert!(
        bound <= now - time::Duration::minutes(2) && bound > after,
        "{bound}"
    );
    let expected: BTreeSet<&str> = orders
        .iter()
        .filter(|(_, o)| time_of(o, "lastUpdatedTime") >= after)
        .filter(|(_, o)| time_of(o, "lastUpdatedTime") < bound)
        .map(|(id, _)| id.as_str())
        .collect();
    let got: BTreeSet<&str> = seen.iter().map(|e| e.amazon_order_id.as_str()).collect();
    assert_eq!(got, expected);
    assert_eq!(seen.len(), got.len(), "no order twice");
    let mut unshipped = 0;
    for e in &seen {
        let order = &orders[e.amazon_order_id.as_str()];
        assert_eq!(
            e.items.len(),
            item_ids(order).len(),
            "items of {}",
            e.amazon_order_id
        );
        match (status_of(order), merchant_fulfilled(order)) {
            ("PENDING", _) | ("CANCELLED", _) => assert_no_pii(e),
            ("UNSHIPPED", true) => {
                assert_full_pii(e);
                unshipped += 1;
            }
            _ => {}
        }
    }
    assert!(
        unshipped > 0,
        "the sample has merchant-fulfilled Unshipped orders"
    );
    assert_eq!(
        calls(&w.server, "searchOrders"),
        1,
        "34 orders fit one page of 100"
    );
}

#[tokio::test]
async fn get_order_of_an_order_amazon_does_not_know_is_none() {
    let w = world(false).await;

    let found = OrdersApi::get_order(
        &w.clients,
        &seller(),
        &AmazonOrderId::new("111-9999999-9999999"),
    )
    .await
    .expect("a 404 is an answer");

    assert_eq!(found, None);
    assert_eq!(calls(&w.server, "getOrder"), 1);
}

#[tokio::test]
async fn throttling_injected_by_the_simulator_comes_back_as_throttled() {
    let w = world(false).await;
    let now = w.server.sim().clock.now();
    let report_id = w
        .clients
        .create_report(
            &seller(),
            ORDERS_REPORT,
            &us(),
            now - time::Duration::days(3),
            now,
        )
        .await
        .expect("createReport");
    w.server.sim().add_fault(FaultRule {
        operation: Some("getReport".into()),
        throttle_ratio: 1.0,
        ..FaultRule::default()
    });
    w.server.sim().add_fault(FaultRule {
        operation: Some("searchOrders".into()),
        throttle_ratio: 1.0,
        omit_rate_limit_header: true,
        ..FaultRule::default()
    });

    let report = w.clients.get_report(&seller(), &report_id).await;
    let search = w
        .clients
        .search_updated_orders(&seller(), &us(), now - time::Duration::days(1), None)
        .await;

    for (result, operation) in [
        (report.map(|_| ()), "getReport"),
        (search.map(|_| ()), "searchOrders"),
    ] {
        match result {
            Err(ApiError::Throttled {
                operation: op,
                retry_after,
            }) => {
                assert_eq!(op, operation);
                assert!(
                    retry_after >= Duration::from_secs(1),
                    "{operation}: {retry_after:?}"
                );
            }
            other => panic!("{operation}: expected Throttled, got {other:?}"),
        }
    }
    assert_eq!(
        calls(&w.server, "getReport"),
        1,
        "a 429 is not repeated in-process"
    );
    assert_eq!(calls(&w.server, "searchOrders"), 1);
}

#[tokio::test]
async fn a_refused_secret_is_permanent_and_its_rotation_is_picked_up() {
    let w = world(false).await;
    w.secrets.insert(SECRET_ID, sample_secret("an-old-secret"));
    let after = w.server.sim().clock.now() - time::Duration::days(1);

    let refused = w
        .clients
        .search_updated_orders(&seller(), &us(), after, None)
        .await;
    w.secrets
        .insert(SECRET_ID, sample_secret(sample::CLIENT_SECRET));
    let rotated = w
        .clients
        .search_updated_orders(&seller(), &us(), after, None)
        .await;

    match refused {
        Err(ApiError::Permanent {
            operation, code, ..
        }) => {
            assert_eq!(operation, "lwaToken");
            assert_eq!(code, "invalid_client");
        }
        other => panic!("expected a permanent LWA refusal, got {other:?}"),
    }
    assert!(rotated.is_ok(), "{:?}", rotated.err());
    assert_eq!(
        w.secrets.reads(),
        2,
        "the secret is read again after the refusal"
    );
    assert_eq!(
        calls(&w.server, "searchOrders"),
        1,
        "no SP-API call without a token"
    );
}
