//! `SellerClients` as the workflow's `FeedsApi` and `PackagesApi` ports (issue 4) against the
//! simulator's sample seller: a fulfilment feed goes out through the port, the simulator
//! applies it, and the closed loop reads the package back. The simulator's clock is frozen and
//! moved through its control API (`POST /_sim/clock`); nothing sleeps.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use spsync_domain::{
    AmazonOrderId, FEED_CONTENT_TYPE, FULFILLMENT_FEED_TYPE, FeedLine, LineVerdict, MarketplaceId,
    OrderShipmentsSeen, PackageSeen, ProcessingStatus, RenderedFeed, SellerId, ShipmentItem,
    apply_report, parse_processing_report, render_feed,
};
use spsync_sim::{SimOptions, SimServer, sample};
use spsync_spapi::seller_clients::{EndpointOverrides, SellerClients};
use spsync_spapi::seller_feeds::UPLOAD_URL_REJECTED;
use spsync_testkit::memory::{MemoryCredentials, MemoryJobStore};
use spsync_workflow::{ApiError, FeedsApi, LwaSecret, PackagesApi, SellerAccount, SellerDirectory};
use time::OffsetDateTime;

const SELLER: &str = sample::SELLER_ID;
const US: &str = sample::MARKETPLACE_ID;
const SECRET_ID: &str = "spsync/sellers/A1SIMSELLER0001";
const TRACKING: &str = "1Z999AA10123456784";
const UNKNOWN_ORDER: &str = "111-9999999-9999999";

struct World {
    server: SimServer,
    clients: SellerClients,
}

/// The sample seller on a frozen clock, registered with its secret, behind `SellerClients`.
async fn world() -> World {
    let mut scenario = sample::scenario();
    scenario.clock.speed = 0.0;
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
    secrets.insert(
        SECRET_ID,
        LwaSecret {
            client_id: sample::CLIENT_ID.into(),
            client_secret: sample::CLIENT_SECRET.into(),
            refresh_token: sample::REFRESH_TOKEN.into(),
        },
    );
    let overrides = EndpointOverrides {
        spapi: Some(server.url().parse().expect("simulator URL")),
        lwa: Some(server.lwa_url().parse().expect("LWA URL")),
    };
    let clients = SellerClients::new(sellers, secrets, overrides).with_config_hook(|config| {
        // Usage-plan waits come back as Throttled instead of being slept through.
        config.max_in_process_wait = Duration::ZERO;
        config.jitter_seed = Some(13);
        config.transient_backoff.base = Duration::from_millis(1);
        config.transient_backoff.cap = Duration::from_millis(5);
    });
    World { server, clients }
}

fn seller() -> SellerId {
    SellerId::new(SELLER)
}

fn us() -> MarketplaceId {
    MarketplaceId::new(US)
}

/// `POST` to the simulator's control API, which answers 2xx.
async fn control(server: &SimServer, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .json(&body)
        .send()
        .await
        .expect("control API answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// Moves simulated time forward through the control API.
async fn advance(server: &SimServer, seconds: u64) {
    control(server, "/_sim/clock", json!({ "advanceSeconds": seconds })).await;
}

fn calls(server: &SimServer, operation: &str) -> u64 {
    server
        .sim()
        .stats()
        .operations
        .get(operation)
        .map_or(0, |s| s.calls)
}

/// A merchant-fulfilled UNSHIPPED order of the sample without packages: its id and
/// (order-item id, quantity ordered) per item.
fn unshipped_order(server: &SimServer) -> (String, Vec<(String, u32)>) {
    let state = server.sim().lock();
    let order = state.sellers[SELLER]
        .orders
        .values()
        .find(|o| {
            o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
                && o["fulfillment"]["fulfilledBy"] == "MERCHANT"
                && o["packages"].as_array().is_none_or(Vec::is_empty)
        })
        .expect("the sample has a merchant-fulfilled Unshipped order");
    let items = order["orderItems"]
        .as_array()
        .expect("orderItems")
        .iter()
        .map(|i| {
            let id = i["orderItemId"].as_str().expect("orderItemId").to_owned();
            let quantity = i["quantityOrdered"].as_u64().expect("quantityOrdered");
            (id, u32::try_from(quantity).expect("a small quantity"))
        })
        .collect();
    (
        order["orderId"].as_str().expect("orderId").to_owned(),
        items,
    )
}

fn line(order_id: &str, item: &str, quantity: u32, ship_date: OffsetDateTime) -> FeedLine {
    FeedLine {
        shipment_ref: format!("shp-{order_id}"),
        amazon_order_id: AmazonOrderId::new(order_id),
        order_item_id: item.to_owned(),
        quantity,
        ship_date,
        carrier_code: "UPS".into(),
        carrier_name: "UPS".into(),
        tracking_number: Some(TRACKING.into()),
        ship_method: Some("UPS Ground".into()),
    }
}

/// The feed shipping every unit of `order` in one UPS package.
fn whole_order_feed(order_id: &str, items: &[(String, u32)], at: OffsetDateTime) -> Vec<FeedLine> {
    items
        .iter()
        .map(|(item, quantity)| line(order_id, item, *quantity, at))
        .collect()
}

/// createFeedDocument → upload → createFeed through the ports; returns the feed id.
async fn submit(w: &World, feed: &RenderedFeed) -> String {
    let upload = w
        .clients
        .create_feed_document(&seller(), FEED_CONTENT_TYPE)
        .await
        .expect("createFeedDocument");
    w.clients
        .upload_feed_document(
            &seller(),
            &upload.url,
            FEED_CONTENT_TYPE,
            feed.text.as_bytes().to_vec(),
        )
        .await
        .expect("upload");
    w.clients
        .create_feed(
            &seller(),
            FULFILLMENT_FEED_TYPE,
            &[us()],
            &upload.feed_document_id,
        )
        .await
        .expect("createFeed")
}

#[tokio::test]
async fn a_fulfilment_feed_goes_through_the_port_and_its_report_applies_line_by_line() {
    let w = world().await;
    let now = w.server.sim().clock.now();
    let (order_id, items) = unshipped_order(&w.server);
    let mut lines = whole_order_feed(&order_id, &items, now);
    lines.push(line(UNKNOWN_ORDER, "10000000000001", 1, now));
    let feed = render_feed(&lines).expect("renders");

    let feed_id = submit(&w, &feed).await;
    let queued = w
        .clients
        .get_feed(&seller(), &feed_id)
        .await
        .expect("getFeed");
    advance(&w.server, 180).await;
    let done = w
        .clients
        .get_feed(&seller(), &feed_id)
        .await
        .expect("getFeed");
    let report_id = done
        .result_document_id
        .clone()
        .expect("a DONE feed has a processing report");
    let document = w
        .clients
        .download_feed_document(&seller(), &report_id)
        .await
        .expect("download");

    assert_eq!(queued.processing_status, ProcessingStatus::InQueue);
    assert_eq!(queued.result_document_id, None);
    assert_eq!(done.processing_status, ProcessingStatus::Done);
    assert!(!document.gzip);
    let content_type = document.content_type.as_deref().unwrap_or("");
    assert!(
        content_type.to_ascii_lowercase().contains("charset=utf-8"),
        "{content_type}"
    );
    let text = String::from_utf8(document.bytes).expect("UTF-8, as declared");
    let report = parse_processing_report(&text).expect("the report parses");
    let n = u32::try_from(items.len()).expect("few items");
    assert_eq!(report.processed, Some(n + 1));
    assert_eq!(report.successful, Some(n));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].record_number, n + 1);
    assert_eq!(
        report.errors[0].amazon_order_id.as_deref(),
        Some(UNKNOWN_ORDER)
    );
    let verdicts: Vec<bool> = apply_report(&feed.records, &report)
        .iter()
        .map(|o| matches!(o.outcome, LineVerdict::Accepted))
        .collect();
    let mut expected = vec![true; items.len()];
    expected.push(false);
    assert_eq!(
        verdicts, expected,
        "the order's lines in, the unknown order's out"
    );
}

#[tokio::test]
async fn find_feed_finds_nothing_before_and_adopts_the_oldest_feed_after() {
    let w = world().await;
    let since = w.server.sim().clock.now();
    let (order_id, items) = unshipped_order(&w.server);
    let feed = render_feed(&whole_order_feed(&order_id, &items, since)).expect("renders");

    let before = w
        .clients
        .find_feed(
            &seller(),
            FULFILLMENT_FEED_TYPE,
            since,
            since + time::Duration::hours(1),
        )
        .await
        .expect("getFeeds");
    // Two feeds at the same simulated instant: the first created is the one to adopt.
    let first = submit(&w, &feed).await;
    let second = submit(&w, &feed).await;
    let adopted = w
        .clients
        .find_feed(
            &seller(),
            FULFILLMENT_FEED_TYPE,
            since,
            since + time::Duration::hours(1),
        )
        .await
        .expect("getFeeds");
    advance(&w.server, 60).await;
    let later = w.server.sim().clock.now();
    let none_since_later = w
        .clients
        .find_feed(
            &seller(),
            FULFILLMENT_FEED_TYPE,
            later,
            later + time::Duration::hours(1),
        )
        .await
        .expect("getFeeds");
    let other_type = w
        .clients
        .find_feed(
            &seller(),
            "JSON_LISTINGS_FEED",
            since,
            since + time::Duration::hours(1),
        )
        .await
        .expect("getFeeds");

    assert_eq!(before, None);
    assert_ne!(first, second);
    assert_eq!(adopted, Some(first));
    assert_eq!(none_since_later, None);
    assert_eq!(other_type, None);
    assert_eq!(calls(&w.server, "getFeeds"), 4, "one page each");
}

#[tokio::test]
async fn search_packages_sees_the_shipped_package_with_its_tracking_number_after_done() {
    let w = world().await;
    let t0 = w.server.sim().clock.now();
    let (order_id, items) = unshipped_order(&w.server);
    let feed = render_feed(&whole_order_feed(&order_id, &items, t0)).expect("renders");
    let id = AmazonOrderId::new(order_id.as_str());

    let before = w
        .clients
        .get_packages(&seller(), &id)
        .await
        .expect("getOrder")
        .expect("the order exists");
    let feed_id = submit(&w, &feed).await;
    advance(&w.server, 180).await;
    let status = w
        .clients
        .get_feed(&seller(), &feed_id)
        .await
        .expect("getFeed");
    // searchOrders only sees updates older than 2 minutes.
    advance(&w.server, 300).await;
    let mut seen: Option<OrderShipmentsSeen> = None;
    let mut token: Option<String> = None;
    loop {
        let page = w
            .clients
            .search_packages(
                &seller(),
                &us(),
                t0 - time::Duration::seconds(1),
                token.as_deref(),
            )
            .await
            .expect("searchOrders");
        seen = seen.or(page.orders.into_iter().find(|o| o.amazon_order_id == id));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let after = w
        .clients
        .get_packages(&seller(), &id)
        .await
        .expect("getOrder");

    assert_eq!(before.packages, Vec::new());
    assert!(!before.fully_shipped);
    assert_eq!(status.processing_status, ProcessingStatus::Done);
    let expected = OrderShipmentsSeen {
        amazon_order_id: id.clone(),
        packages: vec![PackageSeen {
            tracking_number: Some(TRACKING.into()),
            carrier: Some("UPS".into()),
            items: items
                .iter()
                .map(|(item, quantity)| ShipmentItem {
                    order_item_id: item.clone(),
                    quantity: *quantity,
                })
                .collect(),
        }],
        fully_shipped: true,
    };
    assert_eq!(
        seen,
        Some(expected.clone()),
        "the search pass shows the package"
    );
    assert_eq!(after, Some(expected), "and so does getOrder");
}

#[tokio::test]
async fn get_packages_of_an_order_amazon_does_not_know_is_none() {
    let w = world().await;

    let found = w
        .clients
        .get_packages(&seller(), &AmazonOrderId::new(UNKNOWN_ORDER))
        .await
        .expect("a 404 is an answer");

    assert_eq!(found, None);
    assert_eq!(calls(&w.server, "getOrder"), 1);
}

#[tokio::test]
async fn a_throttled_create_feed_comes_back_as_throttled_and_creates_nothing() {
    let w = world().await;
    let upload = w
        .clients
        .create_feed_document(&seller(), FEED_CONTENT_TYPE)
        .await
        .expect("createFeedDocument");
    w.clients
        .upload_feed_document(
            &seller(),
            &upload.url,
            FEED_CONTENT_TYPE,
            b"order-id\n".to_vec(),
        )
        .await
        .expect("upload");
    control(
        &w.server,
        "/_sim/faults",
        json!({"operation": "createFeed", "throttleRatio": 1.0, "remaining": 1}),
    )
    .await;

    let result = w
        .clients
        .create_feed(
            &seller(),
            FULFILLMENT_FEED_TYPE,
            &[us()],
            &upload.feed_document_id,
        )
        .await;

    match result {
        Err(ApiError::Throttled {
            operation,
            retry_after,
        }) => {
            assert_eq!(operation, "createFeed");
            assert!(retry_after >= Duration::from_secs(1), "{retry_after:?}");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(
        calls(&w.server, "createFeed"),
        1,
        "a 429 is not repeated in-process"
    );
    assert!(
        w.server.sim().lock().feeds.is_empty(),
        "no feed was created"
    );
}

#[tokio::test]
async fn an_upload_the_presigned_url_refuses_asks_for_a_new_document() {
    let w = world().await;
    let body = b"order-id\n".to_vec();
    let wrong_type = w
        .clients
        .create_feed_document(&seller(), FEED_CONTENT_TYPE)
        .await
        .expect("createFeedDocument");
    let too_late = w
        .clients
        .create_feed_document(&seller(), FEED_CONTENT_TYPE)
        .await
        .expect("createFeedDocument");

    let signature = w
        .clients
        .upload_feed_document(&seller(), &wrong_type.url, "application/json", body.clone())
        .await;
    advance(&w.server, 6 * 60).await;
    let expired = w
        .clients
        .upload_feed_document(&seller(), &too_late.url, FEED_CONTENT_TYPE, body)
        .await;

    for (result, why) in [
        (signature, "SignatureDoesNotMatch"),
        (expired, "URL expired"),
    ] {
        match result {
            Err(ApiError::Permanent {
                operation,
                code,
                message,
            }) => {
                assert_eq!(operation, "uploadFeedDocument");
                assert_eq!(code, UPLOAD_URL_REJECTED);
                assert!(message.contains(why), "{message}");
            }
            other => panic!("{why}: expected a permanent refusal, got {other:?}"),
        }
    }
}
