//! Stack mode end to end: moto (the stack built from template.yaml), the simulator with the
//! two-sellers scenario, and the real handlers driven by the local runner on simulated time.
//! Midway the sellers "ship" one order and cancel another in Seller Central (the simulator's
//! world), so the next report must move them to ORDER_FULFILLED and ORDER_CANCELED.
//! Meanwhile the runner's shipping desk records packages for part of the orders through the
//! shipments HTTP API: they must go out in fulfilment feeds, be confirmed on the orders at
//! Amazon, and fulfil the orders whose every unit was confirmed.
//! A second run over the same window, on the same orders table (the job and shipment rows
//! forgotten, no desk), must import the same reports and write no order the first run had
//! finished.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use spsync_domain::{
    AmazonOrderId, Order, OrderStatus, SellerId, Shipment, ShipmentState, all_items_confirmed,
};
use spsync_local_runner::desk::{self, DeskOptions};
use spsync_local_runner::stack::{LocalStack, StackOptions, default_template_path, load_scenario};
use spsync_local_runner::{RunnerError, Summary};
use spsync_sim::world::{self, PackageSpec};
use spsync_testkit::moto::MotoServer;
use spsync_workflow::OrderStore;
use time::OffsetDateTime;

const HOURS: f64 = 3.0;

/// Simulated time at which the sellers act in Seller Central (both runs).
const ACT_AFTER: Duration = Duration::from_secs(90 * 60);

fn options(moto: &MotoServer) -> StackOptions {
    let template = std::fs::read_to_string(default_template_path()).unwrap();
    let mut options = StackOptions::new(load_scenario(None).unwrap(), template);
    options.moto_endpoint = Some(moto.endpoint());
    options.stack_name = "spsync-flowtest".into();
    options.hours = HOURS;
    options
}

/// Orders the seller ships and cancels midway: the first two merchant-fulfilled orders
/// (by id), placed before the run started (so the first report imported them), that are
/// UNSHIPPED at Amazon at that moment and that the shipping desk leaves alone. The world is
/// seeded and the desk picks by order id, so both runs pick the same ones.
fn pick(stack: &LocalStack, seller: &str, start: OffsetDateTime) -> (String, String) {
    let (state, _) = stack.sim().sim().lock_at_now();
    let mut unshipped: Vec<Value> = state
        .sellers
        .get(seller)
        .unwrap()
        .orders
        .values()
        .filter(|o| {
            world::order_status(o) == "UNSHIPPED"
                && world::fulfilled_by(o) == "MERCHANT"
                && world::order_time(o, "createdTime").is_some_and(|t| t < start)
                && o["orderId"]
                    .as_str()
                    .is_some_and(|id| !desk::picks(id, DeskOptions::default().share))
        })
        .cloned()
        .collect();
    drop(state);
    unshipped.sort_by(|a, b| a["orderId"].as_str().cmp(&b["orderId"].as_str()));
    assert!(
        unshipped.len() >= 2,
        "{seller}: not enough unshipped orders"
    );
    let id = |o: &Value| o["orderId"].as_str().unwrap().to_owned();
    (id(&unshipped[0]), id(&unshipped[1]))
}

/// One run: until `act_at`, the sellers act in Seller Central (at `act_at` exactly, so both
/// runs write the same times), the rest of the hours, settle.
async fn drive(stack: &mut LocalStack, act_at: OffsetDateTime) -> Result<Run, RunnerError> {
    stack.run_until(act_at).await?;
    let midway = stack.summary().await?;
    let now = act_at;
    assert!(stack.now() >= now);
    let mut acted = BTreeMap::new();
    for seller in ["A1SIMSELLER0001", "A2SIMSELLEREU01"] {
        let (shipped, cancelled) = pick(stack, seller, act_at - ACT_AFTER);
        let sim = stack.sim().sim();
        let mut order = sim.order(seller, &shipped).unwrap();
        let lines: Vec<(String, u64)> = order["orderItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["orderItemId"].as_str().unwrap().to_owned(),
                    i["quantityOrdered"].as_u64().unwrap(),
                )
            })
            .collect();
        let package = PackageSpec {
            package_reference_id: "1".into(),
            carrier: "UPS".into(),
            shipping_service: "UPS Ground".into(),
            tracking_number: "1Z999AA10123456784".into(),
        };
        world::ship_order_items(&mut order, now, &lines, &package);
        sim.upsert_order(seller, order).unwrap();
        let mut order = sim.order(seller, &cancelled).unwrap();
        world::cancel_order(&mut order, now, "MERCHANT", "NoInventory");
        sim.upsert_order(seller, order).unwrap();
        acted.insert(seller.to_owned(), (shipped, cancelled));
    }
    stack.run_until(stack.end()).await?;
    stack.settle().await?;
    Ok(Run {
        midway,
        end: stack.summary().await?,
        acted,
    })
}

struct Run {
    midway: Summary,
    end: Summary,
    /// Seller → (order shipped, order cancelled) in Seller Central midway.
    acted: BTreeMap<String, (String, String)>,
}

#[tokio::test]
async fn stack_run_imports_enriches_and_ships_both_sellers() {
    let moto = MotoServer::start().await;

    // ---- first run
    let mut stack = LocalStack::start(options(&moto)).await.unwrap();
    let act_at = stack.start_time() + ACT_AFTER;
    let Run {
        midway,
        end: summary,
        acted,
    } = drive(&mut stack, act_at).await.unwrap();
    let state = stack.state().await.unwrap();
    let orders = stack.order_store().unwrap();

    assert_eq!(summary.dead_letter_total(), 0, "{}", summary.render());
    assert_eq!(summary.leftovers.delayed_messages, 0);
    assert_eq!(summary.leftovers.failed_in_flight, 0);
    for s in &summary.sellers {
        for status in OrderStatus::ALL {
            assert!(
                s.orders.by_status[status.as_str()] > 0,
                "{}: no {status} order\n{}",
                s.seller_id,
                summary.render()
            );
        }
    }
    // Enrichment completes orders as they leave Pending and works through the backlog.
    for (s, m) in summary.sellers.iter().zip(&midway.sellers) {
        assert_eq!(s.seller_id, m.seller_id);
        assert!(
            s.orders.complete > m.orders.complete,
            "{}",
            summary.render()
        );
        assert!(
            s.orders.needing_enrichment < m.orders.needing_enrichment,
            "{}\n{}",
            midway.render(),
            summary.render()
        );
    }
    for (seller, (shipped, cancelled)) in &acted {
        let seller = SellerId::new(seller);
        let get = |id: &str| {
            let orders = &orders;
            let seller = seller.clone();
            let id = AmazonOrderId::new(id);
            async move { orders.get_order(&seller, &id).await.unwrap().unwrap() }
        };
        assert_eq!(get(shipped).await.status, OrderStatus::Fulfilled);
        assert_eq!(get(cancelled).await.status, OrderStatus::Canceled);
    }

    // FBA orders are flagged as Amazon has them, so they are never offered for fulfilment.
    let sim = stack.sim().sim();
    let mut fba = 0;
    for o in &state.orders {
        let amazon = sim
            .order(o.seller_id.as_str(), o.amazon_order_id.as_str())
            .unwrap();
        let amazon_fba = world::fulfilled_by(&amazon) == "AMAZON";
        assert_eq!(o.is_fba(), amazon_fba, "{}", o.amazon_order_id);
        fba += u64::from(o.is_fba());
    }
    assert!(fba > 0, "the scenario has FBA orders");
    assert_eq!(summary.orders.fba, fba);

    // Every report that came DONE left exactly one raw document in S3.
    let imported = summary
        .imports
        .jobs_by_state
        .get("IMPORTED")
        .copied()
        .unwrap_or(0);
    assert!(
        imported > 0 && imported % 3 == 0,
        "{:?}",
        summary.imports.jobs_by_state
    );
    assert_eq!(
        summary.imports.jobs_by_state.len(),
        1,
        "{:?}",
        summary.imports.jobs_by_state
    );
    assert_eq!(summary.documents.objects, summary.imports.documents_stored);
    assert_eq!(summary.documents.objects, imported);
    assert!(summary.spapi.calls > 0 && summary.whole_run.orders_read > 0);

    // Tracking out: the desk's packages went out in feeds and were confirmed at Amazon.
    let tracking = &summary.tracking;
    let desk = tracking.desk.as_ref().expect("the desk is on by default");
    assert!(desk.recorded > 0, "{}", summary.render());
    assert_eq!(
        tracking.shipments, desk.recorded,
        "one shipment per recorded package"
    );
    assert!(
        desk.without_tracking > 0 && desk.refused > 0,
        "{}",
        summary.render()
    );
    assert!(
        desk.refusals
            .iter()
            .all(|r| r.contains(": tracking_number: ")),
        "{:?}",
        desk.refusals
    );
    assert_eq!(tracking.without_tracking, desk.without_tracking);
    assert!(tracking.by_state["Confirmed"] > 0, "{}", summary.render());
    let confirm = tracking
        .confirm_seconds
        .expect("confirmed shipments are timed");
    assert!(confirm.p50 > 0 && confirm.p95 >= confirm.p50, "{confirm:?}");
    assert!(
        tracking.feeds_by_state.get("Applied").copied().unwrap_or(0) > 0
            && tracking.feeds_by_state.len() == 1,
        "every feed applied: {:?}",
        tracking.feeds_by_state
    );
    assert!(tracking.feed_calls > 0 && tracking.sent > 0);
    let shipments = stack
        .tracking_state(&state.sellers)
        .await
        .unwrap()
        .shipments;
    let mut by_order: BTreeMap<(String, String), Vec<Shipment>> = BTreeMap::new();
    for s in shipments {
        if matches!(s.state, ShipmentState::Confirmed { .. }) {
            assert!(
                s.confirm_seconds.is_some_and(|c| c > 0),
                "{}",
                s.reference()
            );
        }
        by_order
            .entry((s.seller_id.to_string(), s.amazon_order_id.to_string()))
            .or_default()
            .push(s);
    }
    let mut fulfilled_by_tracking = 0;
    for ((seller, id), shipments) in &by_order {
        let order = orders
            .get_order(&SellerId::new(seller), &AmazonOrderId::new(id))
            .await
            .unwrap()
            .unwrap();
        if all_items_confirmed(&order, shipments) {
            assert_eq!(order.status, OrderStatus::Fulfilled, "{id}");
            fulfilled_by_tracking += 1;
        }
    }
    assert!(fulfilled_by_tracking > 0);

    let before: BTreeMap<(String, String), Order> = state
        .orders
        .iter()
        .map(|o| {
            (
                (o.seller_id.to_string(), o.amazon_order_id.to_string()),
                o.clone(),
            )
        })
        .collect();
    // Job ids are derived from the simulated instant a job starts, so the same window again
    // would meet the first run's jobs: start from the orders alone, as after the job rows
    // expired (the scenario's sellers are registered again at start). The simulator starts
    // over without the first run's feeds, so the shipments go too: queued ones would be
    // sent to a world that never saw their orders shipped.
    forget(&stack, "JobsTable").await;
    forget(&stack, "ShipmentsTable").await;
    stack.shutdown().await;

    // ---- the same window again, on the same orders, nobody shipping: nothing changes
    let mut options = options(&moto);
    options.shipping = None;
    let mut again = LocalStack::start(options).await.unwrap();
    let Run {
        end: summary2,
        acted: acted2,
        ..
    } = drive(&mut again, act_at).await.unwrap();
    let state2 = again.state().await.unwrap();
    again.shutdown().await;

    assert_eq!(acted2, acted);
    assert_eq!(summary2.dead_letter_total(), 0, "{}", summary2.render());
    assert_eq!(summary2.tracking.shipments, 0);
    // The second run imported the same reports again...
    assert_eq!(
        summary2.imports.jobs_by_state,
        summary.imports.jobs_by_state
    );
    assert_eq!(summary2.imports.orders_read, summary.imports.orders_read);
    assert_eq!(summary2.imports.created, 0, "{}", summary2.render());
    // ...and wrote no order the first run had finished: no new order, no status moved, and
    // every order with nothing missing kept its version. (Orders still missing fields after
    // the first run may be completed by the second run's enrichment, which only adds.)
    let after: BTreeMap<(String, String), Order> = state2
        .orders
        .iter()
        .map(|o| {
            (
                (o.seller_id.to_string(), o.amazon_order_id.to_string()),
                o.clone(),
            )
        })
        .collect();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    let mut written = Vec::new();
    for (key, old) in &before {
        let new = &after[key];
        assert_eq!(new.status, old.status, "{key:?}");
        if old.missing().is_none() && new.version != old.version {
            written.push(key);
        }
    }
    assert!(
        written.is_empty(),
        "{} finished orders written again, e.g. {} -> {}",
        written.len(),
        serde_json::to_string(&before[written[0]]).unwrap(),
        serde_json::to_string(&after[written[0]]).unwrap()
    );
    let finished = before.values().filter(|o| o.missing().is_none()).count();
    assert!(finished * 2 > before.len(), "the check covers most orders");
}

/// Deletes every item of a table (the jobs table: jobs, slots, cursors, sellers, feed jobs).
async fn forget(stack: &LocalStack, logical_id: &str) {
    let table = stack.stack().table(logical_id).unwrap().name.clone();
    let ddb = &stack.clients().dynamodb;
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(&table)
            .projection_expression("pk, sk")
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            ddb.delete_item()
                .table_name(&table)
                .set_key(Some(item.clone()))
                .send()
                .await
                .unwrap();
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
}
