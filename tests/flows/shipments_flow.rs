//! Tracking out (issue 4) end to end in virtual mode: orders imported from the simulator,
//! shipments recorded through the use case, fulfilment feeds built, submitted, polled and
//! applied line by line with the real SP-API client against the simulator, and the closed loop
//! confirming each shipment on the order at Amazon.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use spsync_domain::{
    AmazonOrderId, Correction, FeedJobState, MarketplaceId, Order, OrderShipmentsSeen, OrderStatus,
    SellerId, Shipment, ShipmentItem, ShipmentRequest, ShipmentState,
};
use spsync_sim::faults::FaultRule;
use spsync_sim::state::PlannedOutcome;
use spsync_sim::{SimOptions, SimServer, sample};
use spsync_workflow::{
    ApiError, FeedStart, PackagesApi, PackagesPage, RecordError, ShipmentPorts, ShipmentStore,
    correct_shipment, record_shipment,
};
use time::OffsetDateTime;

use crate::support::{Harness, SimAmazon, SimTime, sim_seller_clients};

const SELLER: &str = "A1SIMSELLER0001";
const US: &str = "ATVPDKIKX0DER";
const FEED: &str = "POST_FLAT_FILE_FULFILLMENT_DATA";

/// The read-back port, able to hide an order's packages for a while (Amazon's order view
/// lagging behind the feed).
struct ReadBack {
    inner: Arc<spsync_spapi::seller_clients::SellerClients>,
    hidden: Mutex<HashMap<String, u32>>,
}

impl ReadBack {
    fn hide(&self, order: &AmazonOrderId, passes: u32) {
        self.hidden
            .lock()
            .unwrap()
            .insert(order.to_string(), passes);
    }
    fn filter(&self, mut o: OrderShipmentsSeen) -> OrderShipmentsSeen {
        let mut hidden = self.hidden.lock().unwrap();
        if let Some(n) = hidden.get_mut(o.amazon_order_id.as_str())
            && *n > 0
        {
            *n -= 1;
            o.packages.clear();
            o.fully_shipped = false;
        }
        o
    }
}

#[async_trait]
impl PackagesApi for ReadBack {
    async fn search_packages(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        after: OffsetDateTime,
        token: Option<&str>,
    ) -> Result<PackagesPage, ApiError> {
        let mut page = self
            .inner
            .search_packages(seller, marketplace, after, token)
            .await?;
        page.orders = page.orders.into_iter().map(|o| self.filter(o)).collect();
        Ok(page)
    }
    async fn get_packages(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<OrderShipmentsSeen>, ApiError> {
        Ok(self
            .inner
            .get_packages(seller, id)
            .await?
            .map(|o| self.filter(o)))
    }
}

struct World {
    server: SimServer,
    h: Harness<SimAmazon, SimAmazon>,
    read_back: Arc<ReadBack>,
}

/// The sample world with its orders imported and enriched (item ids known).
async fn world() -> World {
    let mut scenario = sample::scenario();
    scenario.clock.speed = 0.0;
    let server = SimServer::start_on_free_port(SimOptions::new(scenario))
        .await
        .expect("simulator starts");
    let clients = Arc::new(sim_seller_clients(&server, SELLER, &[US]).await);
    let read_back = Arc::new(ReadBack {
        inner: clients.clone(),
        hidden: Mutex::new(HashMap::new()),
    });
    let amazon = SimAmazon(clients.clone());
    let mut h = Harness::new(
        Arc::new(SimTime(server.sim().clone())),
        amazon.clone(),
        amazon,
    )
    .with_feeds(clients, read_back.clone());
    h.start(SELLER, US).await;
    h.run_until_idle(Duration::from_secs(3 * 3600)).await;
    assert!(h.dead_letters.is_empty(), "{:#?}", h.transcript);
    World {
        server,
        h,
        read_back,
    }
}

fn calls(server: &SimServer, op: &str) -> u64 {
    server
        .sim()
        .stats()
        .operations
        .get(op)
        .map_or(0, |s| s.calls)
}

/// Open merchant-fulfilled orders Amazon released (Unshipped), every item id known.
fn shippable(w: &World) -> Vec<Order> {
    let mut v: Vec<Order> =
        w.h.orders
            .all()
            .into_iter()
            .filter(|o| {
                o.status == OrderStatus::New
                    && !o.is_fba()
                    && o.amazon_status == spsync_domain::AmazonOrderStatus::Unshipped
                    && o.lines.iter().all(|l| l.order_item_id.is_some())
            })
            .collect();
    v.sort_by(|a, b| a.amazon_order_id.as_str().cmp(b.amazon_order_id.as_str()));
    v
}

/// A UPS tracking number with a valid check digit, different for each `n`.
fn ups(n: u32) -> String {
    // 1Z + shipper (6) + service (2) + package (7) + check digit.
    let body = format!("999AA1{:09}", 10_000_000 + n);
    let digit = ups_check_digit(&body);
    format!("1Z{body}{digit}")
}

fn ups_check_digit(body: &str) -> u32 {
    let mut sum = 0;
    for (i, c) in body.chars().enumerate() {
        let v = if c.is_ascii_digit() {
            c.to_digit(10).unwrap()
        } else {
            (c as u32 - 'A' as u32 + 2) % 10
        };
        sum += if i % 2 == 1 { v * 2 } else { v };
    }
    (10 - sum % 10) % 10
}

fn request(w: &World, order: &Order, items: Vec<ShipmentItem>, tracking: &str) -> ShipmentRequest {
    ShipmentRequest {
        amazon_order_id: order.amazon_order_id.clone(),
        carrier: "ups".into(),
        tracking_number: Some(tracking.into()),
        ship_date: w.h.clock_now() - time::Duration::minutes(5),
        ship_method: Some("UPS Ground".into()),
        items,
    }
}

fn all_items(order: &Order) -> Vec<ShipmentItem> {
    order
        .lines
        .iter()
        .map(|l| ShipmentItem {
            order_item_id: l.order_item_id.clone().unwrap(),
            quantity: l.quantity,
        })
        .collect()
}

async fn record(w: &World, req: &ShipmentRequest) -> Result<Shipment, RecordError> {
    let ports = ShipmentPorts {
        clock: &w.h.clock,
        orders: &w.h.orders,
        shipments: &w.h.shipments,
    };
    record_shipment(&ports, &SellerId::new(SELLER), None, req, "test")
        .await
        .map(|r| r.shipment)
}

async fn stored(w: &World, s: &Shipment) -> Shipment {
    w.h.shipments
        .get_shipment(&SellerId::new(SELLER), &s.amazon_order_id, &s.shipment_id)
        .await
        .unwrap()
        .unwrap()
}

async fn send_and_settle(w: &mut World) -> FeedStart {
    let start = w.h.start_feed(SELLER).await;
    w.h.run_until_idle(Duration::from_secs(3600)).await;
    start
}

fn order_status(w: &World, id: &AmazonOrderId) -> OrderStatus {
    w.h.orders
        .all()
        .into_iter()
        .find(|o| o.amazon_order_id == *id)
        .unwrap()
        .status
}

#[tokio::test]
async fn shipments_are_sent_in_one_feed_accepted_and_confirmed_on_the_order() {
    let mut w = world().await;
    let orders = shippable(&w);
    assert!(orders.len() >= 3, "the sample has Unshipped orders");
    let mut recorded = Vec::new();
    for (n, o) in orders.iter().take(3).enumerate() {
        let req = request(&w, o, all_items(o), &ups(n as u32));
        recorded.push(record(&w, &req).await.expect("valid shipment"));
    }

    let start = send_and_settle(&mut w).await;

    assert!(
        matches!(start, FeedStart::Started { shipments: 3, .. }),
        "{start:?}"
    );
    assert_eq!(calls(&w.server, "createFeed"), 1, "{:#?}", w.h.transcript);
    assert_eq!(calls(&w.server, "createFeedDocument"), 1);
    assert_eq!(calls(&w.server, "getFeedDocument"), 1);
    for s in &recorded {
        let s = stored(&w, s).await;
        assert!(
            matches!(s.state, ShipmentState::Confirmed { .. }),
            "{}: {:?}\n{:#?}",
            s.reference(),
            s.state,
            w.h.transcript
        );
        assert!(s.confirm_seconds.unwrap() > 0);
        assert_eq!(order_status(&w, &s.amazon_order_id), OrderStatus::Fulfilled);
        let at_amazon = w
            .server
            .sim()
            .order(SELLER, s.amazon_order_id.as_str())
            .unwrap();
        assert_eq!(
            at_amazon["packages"][0]["trackingNumber"],
            s.details.tracking_number.clone().unwrap()
        );
    }
    assert_eq!(w.h.confirm_seconds.len(), 3);
    let job = w.h.feed_jobs.all().pop().unwrap();
    assert!(matches!(job.state, FeedJobState::Applied { .. }), "{job:?}");
    assert_eq!(
        (job.counts.accepted, job.counts.rejected),
        (job.counts.lines, 0)
    );
    // The file and Amazon's report are kept.
    let keys = w.h.documents.keys();
    assert!(keys.contains(&job.document_key), "{keys:?}");
    assert!(keys.contains(job.report_key.as_ref().unwrap()), "{keys:?}");
    assert!(w.h.dead_letters.is_empty(), "{:#?}", w.h.transcript);
}

#[tokio::test]
async fn a_feed_with_accepted_and_rejected_lines_marks_each_shipment_by_its_line() {
    let mut w = world().await;
    let orders = shippable(&w);
    let good = record(&w, &request(&w, &orders[0], all_items(&orders[0]), &ups(1)))
        .await
        .unwrap();
    let doomed = record(&w, &request(&w, &orders[1], all_items(&orders[1]), &ups(2)))
        .await
        .unwrap();
    // Amazon cancels the second order after it was recorded, before the feed is processed.
    let mut at_amazon = w
        .server
        .sim()
        .order(SELLER, doomed.amazon_order_id.as_str())
        .unwrap();
    at_amazon["fulfillment"]["fulfillmentStatus"] = "CANCELLED".into();
    w.server.sim().upsert_order(SELLER, at_amazon).unwrap();

    send_and_settle(&mut w).await;

    let good = stored(&w, &good).await;
    assert!(
        matches!(good.state, ShipmentState::Confirmed { .. }),
        "{:?}",
        good.state
    );
    let doomed = stored(&w, &doomed).await;
    let ShipmentState::Rejected { code, message, .. } = &doomed.state else {
        panic!("{:?}\n{:#?}", doomed.state, w.h.transcript);
    };
    assert_eq!(code, "10013", "{message}");
    assert!(!message.is_empty());
    let job = w.h.feed_jobs.all().pop().unwrap();
    assert_eq!(job.counts.rejected as usize, doomed.details.items.len());
    assert!(job.counts.accepted >= 1);

    // A rejected shipment is not retried blindly: the next schedule sends nothing.
    w.h.time.advance(Duration::from_secs(600));
    let again = w.h.start_feed(SELLER).await;
    assert_eq!(again, FeedStart::Idle);
    assert_eq!(calls(&w.server, "createFeed"), 1);
}

#[tokio::test]
async fn a_partial_shipment_then_the_rest_fulfil_the_order_over_two_feeds() {
    let mut w = world().await;
    let order = shippable(&w)
        .into_iter()
        .find(|o| o.lines.iter().map(|l| l.quantity).sum::<u32>() >= 2)
        .expect("an order with two units");
    let mut items = all_items(&order);
    // First package: one unit of the first item.
    let first = vec![ShipmentItem {
        order_item_id: items[0].order_item_id.clone(),
        quantity: 1,
    }];
    items[0].quantity -= 1;
    items.retain(|i| i.quantity > 0);
    let a = record(&w, &request(&w, &order, first, &ups(10)))
        .await
        .unwrap();

    send_and_settle(&mut w).await;
    assert!(matches!(
        stored(&w, &a).await.state,
        ShipmentState::Confirmed { .. }
    ));
    assert_eq!(
        order_status(&w, &order.amazon_order_id),
        OrderStatus::New,
        "half shipped"
    );

    // More than what is left is refused up front, naming the field.
    let mut too_many = items.clone();
    too_many[0].quantity += 1;
    let err = record(&w, &request(&w, &order, too_many, &ups(11)))
        .await
        .unwrap_err();
    let RecordError::Invalid(problems) = err else {
        panic!("{err:?}")
    };
    assert!(
        problems.iter().any(|p| p.field == "items.quantity"),
        "{problems:?}"
    );

    let b = record(&w, &request(&w, &order, items, &ups(12)))
        .await
        .unwrap();
    w.h.time.advance(Duration::from_secs(120));
    send_and_settle(&mut w).await;

    assert!(matches!(
        stored(&w, &b).await.state,
        ShipmentState::Confirmed { .. }
    ));
    assert_eq!(
        order_status(&w, &order.amazon_order_id),
        OrderStatus::Fulfilled
    );
    assert_eq!(calls(&w.server, "createFeed"), 2);
}

#[tokio::test]
async fn a_corrected_tracking_number_is_sent_again_and_confirmed() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(20)))
        .await
        .unwrap();
    send_and_settle(&mut w).await;
    assert!(matches!(
        stored(&w, &s).await.state,
        ShipmentState::Confirmed { .. }
    ));

    let ports = ShipmentPorts {
        clock: &w.h.clock,
        orders: &w.h.orders,
        shipments: &w.h.shipments,
    };
    let fixed = ups(21);
    let corrected = correct_shipment(
        &ports,
        &SellerId::new(SELLER),
        &order.amazon_order_id,
        &s.shipment_id,
        &Correction {
            tracking_number: Some(fixed.clone()),
            ..Correction::default()
        },
    )
    .await
    .expect("correction accepted");
    assert_eq!(
        (corrected.revision, corrected.state.clone()),
        (2, ShipmentState::Queued)
    );

    w.h.time.advance(Duration::from_secs(120));
    send_and_settle(&mut w).await;

    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Confirmed { .. }),
        "{:?}\n{:#?}",
        s.state,
        w.h.transcript
    );
    assert_eq!(s.accepted_revision, Some(2));
    let at_amazon = w
        .server
        .sim()
        .order(SELLER, order.amazon_order_id.as_str())
        .unwrap();
    let packages = at_amazon["packages"].as_array().unwrap();
    assert_eq!(
        packages.len(),
        1,
        "corrected, not shipped twice: {packages:#?}"
    );
    assert_eq!(packages[0]["trackingNumber"], fixed);
}

#[tokio::test]
async fn a_correction_while_the_feed_is_in_flight_goes_in_the_next_feed() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(30)))
        .await
        .unwrap();
    w.h.start_feed(SELLER).await;
    // Deliver until the feed is submitted, then correct.
    while !matches!(
        w.h.feed_jobs.all().pop().unwrap().state,
        FeedJobState::Submitted { .. }
    ) {
        assert!(w.h.deliver_due().await > 0, "{:#?}", w.h.transcript);
    }
    let ports = ShipmentPorts {
        clock: &w.h.clock,
        orders: &w.h.orders,
        shipments: &w.h.shipments,
    };
    correct_shipment(
        &ports,
        &SellerId::new(SELLER),
        &order.amazon_order_id,
        &s.shipment_id,
        &Correction {
            tracking_number: Some(ups(31)),
            ..Correction::default()
        },
    )
    .await
    .unwrap();
    // The in-flight feed's schedule does not take it twice.
    assert!(matches!(w.h.start_feed(SELLER).await, FeedStart::Busy(_)));

    w.h.run_until_idle(Duration::from_secs(3600)).await;

    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Confirmed { .. }),
        "{:?}\n{:#?}",
        s.state,
        w.h.transcript
    );
    assert_eq!(s.accepted_revision, Some(2));
    assert_eq!(calls(&w.server, "createFeed"), 2);
    let outcomes: Vec<&str> = s.history.iter().map(|h| h.outcome.as_str()).collect();
    assert_eq!(outcomes, vec!["accepted", "accepted"], "{:?}", s.history);
}

#[tokio::test]
async fn cancelled_feeds_return_their_shipments_and_fatal_ones_are_retried() {
    for outcome in [PlannedOutcome::Cancelled, PlannedOutcome::Fatal] {
        let mut w = world().await;
        let order = shippable(&w).remove(0);
        let s = record(&w, &request(&w, &order, all_items(&order), &ups(40)))
            .await
            .unwrap();
        w.server.sim().script_feed_outcome(FEED, outcome.clone());

        send_and_settle(&mut w).await;

        let jobs = w.h.feed_jobs.all();
        assert_eq!(
            jobs.len(),
            2,
            "{outcome:?}: {jobs:#?}\n{:#?}",
            w.h.transcript
        );
        let first_ended = matches!(
            (&outcome, &jobs[0].state),
            (PlannedOutcome::Cancelled, FeedJobState::Cancelled { .. })
                | (PlannedOutcome::Fatal, FeedJobState::Fatal { .. })
        );
        assert!(first_ended, "{outcome:?}: {:?}", jobs[0].state);
        assert!(
            matches!(jobs[1].state, FeedJobState::Applied { .. }),
            "{:?}",
            jobs[1].state
        );
        let s = stored(&w, &s).await;
        assert!(
            matches!(s.state, ShipmentState::Confirmed { .. }),
            "{outcome:?}: {:?}",
            s.state
        );
        assert_eq!(s.history.len(), 2, "{:?}", s.history);
        assert_eq!(calls(&w.server, "createFeed"), 2);
    }
}

#[tokio::test]
async fn throttling_on_every_call_delays_but_sends_each_feed_once() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(50)))
        .await
        .unwrap();
    for op in [
        "createFeedDocument",
        "createFeed",
        "getFeed",
        "getFeedDocument",
        "searchOrders",
    ] {
        w.server.sim().add_fault(FaultRule {
            operation: Some(op.into()),
            throttle_ratio: 1.0,
            remaining: Some(2),
            ..FaultRule::default()
        });
    }

    send_and_settle(&mut w).await;

    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Confirmed { .. }),
        "{:?}\n{:#?}",
        s.state,
        w.h.transcript
    );
    let stats = w.server.sim().stats();
    let created = stats.operations.get("createFeed").unwrap();
    assert_eq!(created.calls, 3, "two 429s then one feed");
    assert_eq!(w.h.feed_jobs.all().len(), 1);
    assert!(w.h.dead_letters.is_empty(), "{:#?}", w.h.transcript);
}

#[tokio::test]
async fn a_crash_after_upload_or_after_create_feed_never_sends_the_file_twice() {
    for crash_before in ["Uploaded", "Submitted"] {
        let mut w = world().await;
        let order = shippable(&w).remove(0);
        let s = record(&w, &request(&w, &order, all_items(&order), &ups(60)))
            .await
            .unwrap();
        w.h.feed_jobs.fail_when_writing(crash_before);

        send_and_settle(&mut w).await;

        assert_eq!(
            calls(&w.server, "createFeed"),
            1,
            "crash before writing {crash_before}: {:#?}",
            w.h.transcript
        );
        let s = stored(&w, &s).await;
        assert!(
            matches!(s.state, ShipmentState::Confirmed { .. }),
            "{crash_before}: {:?}",
            s.state
        );
        assert!(
            w.h.transcript.iter().any(|l| l.contains("Err(")),
            "the crash happened: {:#?}",
            w.h.transcript
        );
    }
}

#[tokio::test]
async fn duplicate_deliveries_of_every_feed_step_change_nothing() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(70)))
        .await
        .unwrap();
    w.h.start_feed(SELLER).await;
    // Every message is delivered twice: once, then again right away, as SQS may.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1_000 {
        let due = w.h.queue.take_due(w.h.clock_now());
        if due.is_empty() {
            let Some(next) = w.h.queue.next_visible() else {
                break;
            };
            let now = w.h.clock_now();
            if next > now {
                w.h.time.advance((next - now).unsigned_abs());
            }
            continue;
        }
        for m in due {
            if seen.insert(m.message.to_json()) {
                w.h.queue.redeliver(m.clone(), w.h.clock_now());
            }
            let _ = w.h.deliver(&m).await;
        }
    }
    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Confirmed { .. }),
        "{:?}",
        s.state
    );
    assert_eq!(calls(&w.server, "createFeed"), 1);
    assert_eq!(calls(&w.server, "createFeedDocument"), 1);
}

#[tokio::test]
async fn the_closed_loop_waits_for_the_package_and_fulfils_only_then() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(80)))
        .await
        .unwrap();
    // Amazon's order view lags: three read-backs see no package.
    w.read_back.hide(&order.amazon_order_id, 3);

    w.h.start_feed(SELLER).await;
    while !matches!(
        w.h.feed_jobs.all().pop().unwrap().state,
        FeedJobState::Applied { .. }
    ) {
        w.h.run_one_step().await;
    }
    assert!(matches!(
        stored(&w, &s).await.state,
        ShipmentState::Accepted { .. }
    ));
    assert_eq!(
        order_status(&w, &order.amazon_order_id),
        OrderStatus::New,
        "not before the read-back"
    );

    w.h.run_until_idle(Duration::from_secs(3600)).await;

    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Confirmed { .. }),
        "{:?}\n{:#?}",
        s.state,
        w.h.transcript
    );
    assert_eq!(
        order_status(&w, &order.amazon_order_id),
        OrderStatus::Fulfilled
    );
    let passes =
        w.h.transcript
            .iter()
            .filter(|l| l.contains("ConfirmShipments"))
            .count();
    assert!(
        passes >= 4,
        "three hidden passes then the confirming one: {passes}"
    );
}

#[tokio::test]
async fn shipments_recorded_while_a_feed_is_live_go_in_the_next_feed() {
    let mut w = world().await;
    let orders = shippable(&w);
    let first = record(
        &w,
        &request(&w, &orders[0], all_items(&orders[0]), &ups(90)),
    )
    .await
    .unwrap();
    w.h.start_feed(SELLER).await;
    w.h.run_one_step().await;
    let second = record(
        &w,
        &request(&w, &orders[1], all_items(&orders[1]), &ups(91)),
    )
    .await
    .unwrap();
    assert!(matches!(w.h.start_feed(SELLER).await, FeedStart::Busy(_)));

    // The end of the first feed asks for the next one (after createFeed's interval).
    w.h.run_until_idle(Duration::from_secs(3600)).await;

    for s in [&first, &second] {
        let s = stored(&w, s).await;
        assert!(
            matches!(s.state, ShipmentState::Confirmed { .. }),
            "{:?}\n{:#?}",
            s.state,
            w.h.transcript
        );
        assert_eq!(s.history.len(), 1, "one feed each");
    }
    let jobs = w.h.feed_jobs.all();
    assert_eq!(jobs.len(), 2);
    let gap = jobs[1].submitted_at.unwrap() - jobs[0].submitted_at.unwrap();
    assert!(
        gap >= time::Duration::seconds(120),
        "createFeed's usage plan respected: {gap}"
    );
}

// ---- Regressions found by review -------------------------------------------------------------

fn shipments_in(w: &World, state: &str) -> Vec<Shipment> {
    w.h.shipments
        .all()
        .into_iter()
        .filter(|s| s.state.name() == state)
        .collect()
}

#[tokio::test]
async fn a_crash_while_claiming_releases_what_was_claimed_and_the_next_feed_sends_all() {
    let mut w = world().await;
    let orders = shippable(&w);
    for (n, o) in orders.iter().take(2).enumerate() {
        record(&w, &request(&w, o, all_items(o), &ups(100 + n as u32)))
            .await
            .unwrap();
    }
    // The first claim is written, the second write "crashes" the run.
    w.h.shipments.fail_write_number(2);
    let ports = w.h.feed_ports();
    let crashed =
        spsync_workflow::start_feed(&ports, &SellerId::new(SELLER), &w.h.feed_settings, 99).await;
    assert!(crashed.is_err(), "{crashed:?}");
    assert_eq!(shipments_in(&w, "InFeed").len(), 1, "one was claimed");

    // The schedule finds the stalled job later and gives it up; the next feed has both.
    w.h.time
        .advance(w.h.feed_settings.stall_after + Duration::from_secs(60));
    send_and_settle(&mut w).await;

    assert_eq!(
        shipments_in(&w, "Confirmed").len(),
        2,
        "{:#?}",
        w.h.transcript
    );
    assert_eq!(calls(&w.server, "createFeed"), 1);
    let first = w.h.feed_jobs.all().into_iter().next().unwrap();
    assert!(
        matches!(first.state, FeedJobState::Abandoned { .. }),
        "{:?}",
        first.state
    );
}

#[tokio::test]
async fn a_feed_created_by_someone_else_after_the_adoption_window_is_not_adopted() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(110)))
        .await
        .unwrap();
    // createFeed answers 500 without creating anything: the job stays Submitting.
    w.server.sim().add_fault(FaultRule {
        operation: Some("createFeed".into()),
        status: Some(500),
        remaining: Some(1),
        ..FaultRule::default()
    });
    w.h.start_feed(SELLER).await;
    while !w
        .h
        .transcript
        .iter()
        .any(|l| l.contains("FeedStep") && l.contains("Err("))
    {
        assert!(w.h.run_one_step().await, "{:#?}", w.h.transcript);
    }
    // Seller Central uploads a fulfilment feed of its own 10 minutes later.
    w.h.time.advance(Duration::from_secs(600));
    let foreign = {
        let clients = w.h.feeds.clone().unwrap();
        let seller = SellerId::new(SELLER);
        let upload = clients
            .create_feed_document(&seller, spsync_domain::FEED_CONTENT_TYPE)
            .await
            .unwrap();
        let body = format!("{}\n", spsync_domain::FEED_HEADER).into_bytes();
        clients
            .upload_feed_document(&seller, &upload.url, spsync_domain::FEED_CONTENT_TYPE, body)
            .await
            .unwrap();
        clients
            .create_feed(
                &seller,
                FEED,
                &[MarketplaceId::new(US)],
                &upload.feed_document_id,
            )
            .await
            .unwrap()
    };

    w.h.run_until_idle(Duration::from_secs(3600)).await;

    let job = w.h.feed_jobs.all().pop().unwrap();
    assert_ne!(job.state.feed_id(), Some(foreign.as_str()), "{job:?}");
    assert!(matches!(job.state, FeedJobState::Applied { .. }), "{job:?}");
    assert!(matches!(
        stored(&w, &s).await.state,
        ShipmentState::Confirmed { .. }
    ));
}

#[tokio::test]
async fn an_unreadable_record_map_after_done_sends_nothing_again_and_the_read_back_decides() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(120)))
        .await
        .unwrap();
    w.h.start_feed(SELLER).await;
    let job = w.h.feed_jobs.all().pop().unwrap();
    // The record map is lost (a bad deploy, a manual edit): the verdicts cannot be pinned.
    use spsync_workflow::DocumentStore;
    w.h.documents
        .put_document(
            &job.records_key(),
            b"not json".to_vec(),
            &Default::default(),
        )
        .await
        .unwrap();

    w.h.run_until_idle(Duration::from_secs(3600)).await;

    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Confirmed { .. }),
        "{:?}",
        s.state
    );
    assert!(
        s.history[0]
            .outcome
            .contains(spsync_workflow::UNVERIFIED_CODE),
        "{:?}",
        s.history
    );
    assert_eq!(calls(&w.server, "createFeed"), 1, "never sent twice");
}

#[tokio::test]
async fn a_report_that_does_not_fit_the_records_rejects_nobody_on_its_word() {
    let mut w = world().await;
    let orders = shippable(&w);
    let good = record(
        &w,
        &request(&w, &orders[0], all_items(&orders[0]), &ups(130)),
    )
    .await
    .unwrap();
    let doomed = record(
        &w,
        &request(&w, &orders[1], all_items(&orders[1]), &ups(131)),
    )
    .await
    .unwrap();
    let mut at_amazon = w
        .server
        .sim()
        .order(SELLER, doomed.amazon_order_id.as_str())
        .unwrap();
    at_amazon["fulfillment"]["fulfillmentStatus"] = "CANCELLED".into();
    w.server.sim().upsert_order(SELLER, at_amazon).unwrap();
    w.h.start_feed(SELLER).await;
    // Our record map numbers the lines the other way round from the file.
    let job = w.h.feed_jobs.all().pop().unwrap();
    use spsync_workflow::DocumentStore;
    let (bytes, meta) =
        w.h.documents
            .get_document(&job.records_key())
            .await
            .unwrap();
    let mut records: Vec<spsync_domain::RecordRef> = serde_json::from_slice(&bytes).unwrap();
    let numbers: Vec<u32> = records.iter().rev().map(|r| r.record_number).collect();
    for (r, n) in records.iter_mut().zip(numbers) {
        r.record_number = n;
    }
    w.h.documents
        .put_document(
            &job.records_key(),
            serde_json::to_vec(&records).unwrap(),
            &meta,
        )
        .await
        .unwrap();

    w.h.run_until_idle(Duration::from_secs(3600)).await;

    let job = w.h.feed_jobs.all().pop().unwrap();
    assert!(!job.discrepancies.is_empty(), "{job:?}");
    assert!(
        shipments_in(&w, "Rejected").is_empty(),
        "nobody rejected on a misfit row"
    );
    assert!(matches!(
        stored(&w, &good).await.state,
        ShipmentState::Confirmed { .. }
    ));
    assert!(
        matches!(
            stored(&w, &doomed).await.state,
            ShipmentState::Accepted { .. }
        ),
        "the cancelled order never shows a package: it waits for the give-up"
    );
}

#[tokio::test]
async fn three_fatal_feeds_in_a_row_hold_the_shipment_with_backoff_between_them() {
    let mut w = world().await;
    let order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(140)))
        .await
        .unwrap();
    for _ in 0..3 {
        w.server
            .sim()
            .script_feed_outcome(FEED, PlannedOutcome::Fatal);
    }
    for _ in 0..30 {
        w.h.start_feed(SELLER).await;
        w.h.run_until_idle(Duration::from_secs(60)).await;
        w.h.time.advance(Duration::from_secs(60));
    }
    w.h.run_until_idle(Duration::from_secs(3600)).await;

    let s = stored(&w, &s).await;
    assert!(
        matches!(s.state, ShipmentState::Held { .. }),
        "{:?}",
        s.state
    );
    assert_eq!(calls(&w.server, "createFeed"), 3);
    let mut submitted: Vec<OffsetDateTime> =
        w.h.feed_jobs
            .all()
            .iter()
            .filter_map(|j| j.submitted_at)
            .collect();
    submitted.sort();
    for pair in submitted.windows(2) {
        assert!(
            pair[1] - pair[0] >= time::Duration::seconds(300),
            "a FATAL feed holds the next one back: {submitted:?}"
        );
    }
}

#[tokio::test]
async fn an_order_cancelled_after_recording_holds_its_shipment_and_sends_nothing() {
    let mut w = world().await;
    let mut order = shippable(&w).remove(0);
    let s = record(&w, &request(&w, &order, all_items(&order), &ups(150)))
        .await
        .unwrap();
    order.status = OrderStatus::Canceled;
    order.version += 1;
    use spsync_workflow::OrderStore;
    w.h.orders
        .put_order(&order, Some(order.version - 1))
        .await
        .unwrap();

    let start = send_and_settle(&mut w).await;

    assert!(matches!(start, FeedStart::Idle), "{start:?}");
    assert!(matches!(
        stored(&w, &s).await.state,
        ShipmentState::Held { .. }
    ));
    assert_eq!(calls(&w.server, "createFeed"), 0);
}

#[tokio::test]
async fn an_accepted_shipment_that_never_shows_is_held_after_a_day_with_few_searches() {
    let mut w = world().await;
    let orders = shippable(&w);
    let lost = record(
        &w,
        &request(&w, &orders[0], all_items(&orders[0]), &ups(160)),
    )
    .await
    .unwrap();
    w.read_back.hide(&orders[0].amazon_order_id, u32::MAX);
    send_and_settle(&mut w).await;
    // Two more feeds while the first one's shipment lingers.
    for (n, o) in orders.iter().skip(1).take(2).enumerate() {
        record(&w, &request(&w, o, all_items(o), &ups(161 + n as u32)))
            .await
            .unwrap();
        w.h.time.advance(Duration::from_secs(300));
        send_and_settle(&mut w).await;
    }
    let searches_before_day = calls(&w.server, "searchOrders");

    w.h.time.advance(Duration::from_secs(60));
    w.h.start_feed(SELLER).await;
    w.h.run_until_idle(Duration::from_secs(25 * 3600)).await;

    let lost = stored(&w, &lost).await;
    let ShipmentState::Held { reason } = &lost.state else {
        panic!("{:?}", lost.state)
    };
    assert!(reason.contains("24 h"), "{reason}");
    assert_eq!(shipments_in(&w, "Confirmed").len(), 2);
    // One chain at a time: a day of read-backs is a few dozen searches, not one chain per feed.
    let searches = calls(&w.server, "searchOrders") - searches_before_day;
    assert!(searches <= 120, "{searches} searchOrders calls in a day");
    let pending_chains =
        w.h.queue
            .pending()
            .iter()
            .filter(|m| m.message.step.name() == "ConfirmShipments")
            .count();
    assert_eq!(pending_chains, 0, "the chain ended with the give-up");
}

#[tokio::test]
async fn a_line_rejected_beside_an_applied_one_keeps_the_applied_units_shipped() {
    let mut w = world().await;
    let order = shippable(&w)
        .into_iter()
        .find(|o| o.lines.len() >= 2)
        .expect("an order with two items");
    let good = record(
        &w,
        &request(&w, &order, vec![all_items(&order)[0].clone()], &ups(170)),
    )
    .await
    .unwrap();
    // Recorded by an older version with a second line naming an item Amazon does not know.
    let mut mixed = good.clone();
    mixed.shipment_id = "OLD-1".into();
    mixed.details.items = vec![
        all_items(&order)[1].clone(),
        ShipmentItem {
            order_item_id: "99999999999999".into(),
            quantity: 1,
        },
    ];
    mixed.details.tracking_number = Some(ups(171));
    mixed.version = 1;
    w.h.shipments.insert_unchecked(mixed.clone());

    send_and_settle(&mut w).await;

    let mixed = stored(&w, &mixed).await;
    let ShipmentState::Rejected { code, .. } = &mixed.state else {
        panic!("{:?}\n{:#?}", mixed.state, w.h.transcript)
    };
    assert_eq!(code, "10020");
    assert_eq!(mixed.shipped_items(), &[all_items(&order)[1].clone()][..]);
    // What Amazon applied stays applied: the order is fully shipped at Amazon.
    let at_amazon = w
        .server
        .sim()
        .order(SELLER, order.amazon_order_id.as_str())
        .unwrap();
    assert_eq!(at_amazon["fulfillment"]["fulfillmentStatus"], "SHIPPED");
}
