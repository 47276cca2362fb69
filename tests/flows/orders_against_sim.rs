//! The order-import flow with the real SP-API client against the simulator, on in-memory
//! stores and the simulator's frozen clock (virtual mode): header variants, cp1252 and
//! Shift_JIS documents, GZIP, every report outcome, 429 storms, enrichment over time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use spsync_domain::{AmazonOrderId, AmazonOrderStatus, JobState, OrderStatus};
use spsync_sim::faults::FaultRule;
use spsync_sim::state::{PlannedOutcome, VerbatimDocument};
use spsync_sim::{SimOptions, SimServer, sample};

use crate::support::{Harness, SimAmazon, SimTime, sim_seller_clients};

const SELLER: &str = "A1SIMSELLER0001";
const US: &str = "ATVPDKIKX0DER";
const ORDERS_REPORT: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";

struct World {
    server: SimServer,
    h: Harness<SimAmazon, SimAmazon>,
}

async fn world() -> World {
    let mut scenario = sample::scenario();
    scenario.clock.speed = 0.0;
    let server = SimServer::start_on_free_port(SimOptions::new(scenario))
        .await
        .expect("simulator starts");
    let clients = sim_seller_clients(&server, SELLER, &[US]).await;
    let amazon = SimAmazon(Arc::new(clients));
    let h = Harness::new(
        Arc::new(SimTime(server.sim().clone())),
        amazon.clone(),
        amazon,
    );
    World { server, h }
}

fn calls(server: &SimServer, op: &str) -> u64 {
    server
        .sim()
        .stats()
        .operations
        .get(op)
        .map_or(0, |s| s.calls)
}

async fn import_once(w: &mut World) {
    w.h.start(SELLER, US).await;
    w.h.run_until_idle(Duration::from_secs(3 * 3600)).await;
}

fn latest_job(w: &World) -> spsync_domain::ReportJob {
    w.h.jobs.all_jobs().into_iter().last().expect("a job")
}

#[tokio::test]
async fn the_sample_seller_is_imported_and_enriched() {
    let mut w = world().await;

    import_once(&mut w).await;

    let job = latest_job(&w);
    assert_eq!(job.state, JobState::Imported, "{:#?}", w.h.transcript);
    let stats = job.stats.unwrap();
    assert!(stats.orders > 0 && stats.created > 0, "{stats:?}");
    assert_eq!(stats.malformed_rows, 0);
    let orders = w.h.orders.all();
    assert_eq!(orders.len() as u64, stats.created);
    assert!(
        orders.iter().all(|o| o.status == OrderStatus::New),
        "only open orders are created"
    );
    let open_mfn: Vec<_> = orders
        .iter()
        .filter(|o| !o.is_fba() && o.amazon_status != AmazonOrderStatus::Pending)
        .collect();
    assert!(!open_mfn.is_empty());
    for o in &open_mfn {
        assert!(
            !o.needs_enrichment(),
            "{} still misses {:?}",
            o.amazon_order_id,
            o.missing()
        );
    }
    for o in orders
        .iter()
        .filter(|o| o.amazon_status == AmazonOrderStatus::Pending)
    {
        assert!(o.buyer.email.is_none(), "PII withheld while Pending");
        assert!(
            o.lines.iter().all(|l| l.order_item_id.is_some()),
            "item ids are not withheld"
        );
    }
    assert_eq!(calls(&w.server, "createReport"), 1);
    assert_eq!(calls(&w.server, "getReportDocument"), 1);
    assert!(w.h.dead_letters.is_empty(), "{:#?}", w.h.transcript);
}

#[tokio::test]
async fn orders_that_leave_pending_are_completed_on_the_next_pass() {
    let mut w = world().await;
    import_once(&mut w).await;
    let pending: Vec<AmazonOrderId> =
        w.h.orders
            .all()
            .into_iter()
            .filter(|o| o.amazon_status == AmazonOrderStatus::Pending && !o.is_fba())
            .map(|o| o.amazon_order_id)
            .collect();
    assert!(!pending.is_empty(), "the sample has Pending orders");

    w.h.time.advance(Duration::from_secs(6 * 3600));
    import_once(&mut w).await;

    let now_open: Vec<_> = w
        .h
        .orders
        .all()
        .into_iter()
        .filter(|o| {
            pending.contains(&o.amazon_order_id) && o.amazon_status != AmazonOrderStatus::Pending
        })
        .collect();
    assert!(
        !now_open.is_empty(),
        "some Pending orders moved on in 6 simulated hours"
    );
    for o in now_open.iter().filter(|o| o.status == OrderStatus::New) {
        assert!(
            !o.needs_enrichment(),
            "{} misses {:?}",
            o.amazon_order_id,
            o.missing()
        );
        assert!(o.buyer.email.is_some() || o.recipient.is_some());
    }
}

#[tokio::test]
async fn a_second_import_of_the_same_window_writes_nothing() {
    let mut w = world().await;
    import_once(&mut w).await;
    let writes = w.h.orders.writes();

    import_once(&mut w).await;

    let stats = latest_job(&w).stats.unwrap();
    assert_eq!(stats.created + stats.updated, 0, "{stats:?}");
    assert_eq!(w.h.orders.writes(), writes);
}

#[tokio::test]
async fn fatal_cancelled_and_stuck_reports_end_as_designed() {
    for (outcome, state) in [
        (PlannedOutcome::Fatal, JobState::Failed),
        (PlannedOutcome::Cancelled, JobState::Cancelled),
    ] {
        let mut w = world().await;
        w.server
            .sim()
            .script_report_outcome(ORDERS_REPORT, outcome.clone());
        import_once(&mut w).await;
        assert_eq!(
            latest_job(&w).state,
            state,
            "{outcome:?}: {:#?}",
            w.h.transcript
        );
        assert!(w.h.orders.all().is_empty());
    }

    let mut w = world().await;
    w.server
        .sim()
        .script_report_outcome(ORDERS_REPORT, PlannedOutcome::Stuck);
    w.h.start(SELLER, US).await;
    w.h.run_until_idle(w.h.settings.stuck_after + Duration::from_secs(3600))
        .await;
    let jobs = w.h.jobs.all_jobs();
    assert_eq!(jobs[0].state, JobState::Failed, "{:#?}", w.h.transcript);
    assert_eq!(calls(&w.server, "cancelReport"), 1);
    assert_eq!(
        jobs.last().unwrap().state,
        JobState::Imported,
        "the replacement imports"
    );
}

#[tokio::test]
async fn a_429_storm_on_every_operation_delays_but_loses_nothing() {
    let mut w = world().await;
    for op in [
        "createReport",
        "getReport",
        "getReportDocument",
        "searchOrders",
    ] {
        w.server.sim().add_fault(FaultRule {
            operation: Some(op.into()),
            throttle_ratio: 1.0,
            remaining: Some(3),
            ..FaultRule::default()
        });
    }

    import_once(&mut w).await;

    assert_eq!(
        latest_job(&w).state,
        JobState::Imported,
        "{:#?}",
        w.h.transcript
    );
    assert!(w.h.dead_letters.is_empty());
    assert!(
        w.h.transcript
            .iter()
            .filter(|l| l.contains("Requeued"))
            .count()
            >= 12
    );
    assert!(!w.h.orders.all().is_empty());
}

fn variant_document(header: &[&str], rows: &[Vec<(&str, &str)>]) -> String {
    let mut s = header.join("\t");
    for row in rows {
        s.push('\n');
        let line: Vec<&str> = header
            .iter()
            .map(|h| row.iter().find(|(k, _)| k == h).map_or("", |(_, v)| *v))
            .collect();
        s.push_str(&line.join("\t"));
    }
    s.push_str("\r\n");
    s
}

fn two_rows(product: &'static str) -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![
            ("amazon-order-id", "111-9000001-0000001"),
            ("purchase-date", "2026-11-19T08:00:00+00:00"),
            ("last-updated-date", "2026-11-19T08:10:00+00:00"),
            ("order-status", "Pending"),
            ("fulfillment-channel", "Merchant"),
            ("product-name", product),
            ("sku", "SKU-A"),
            ("quantity", "2"),
            ("item-price", "10.00"),
        ],
        vec![
            ("amazon-order-id", "111-9000002-0000002"),
            ("purchase-date", "2026-11-19T09:00:00+00:00"),
            ("last-updated-date", "2026-11-19T09:10:00+00:00"),
            ("order-status", "Unshipped"),
            ("fulfillment-channel", "Merchant"),
            ("product-name", product),
            ("sku", "SKU-B"),
            ("quantity", "1"),
            ("item-price", "5.50"),
        ],
    ]
}

#[tokio::test]
async fn header_variants_parse_by_name() {
    // Our own renderings of the column sets seen in the wild (documented list, the 2024+
    // 33-column file, 2026 with order-item-id after order-status, the extended MWS list).
    // The documented list is the 2024+ file without its last column.
    let base = &spsync_tests::ORDERS_REPORT_COLUMNS[..32];
    let mut with_signature = base.to_vec();
    with_signature.push("signature-confirmation-recommended");
    let mut with_item_id = with_signature.clone();
    with_item_id.insert(5, "order-item-id");
    let mut extended = base.to_vec();
    extended.insert(8, "url");
    extended.extend([
        "customized-url",
        "customized-page",
        "buyer-identification-number",
        "order-item-id",
    ]);
    let mut shuffled = base.to_vec();
    shuffled.reverse();

    for (name, header) in [
        ("documented", base.to_vec()),
        ("33-column", with_signature),
        ("order-item-id", with_item_id),
        ("extended", extended),
        ("reversed", shuffled),
    ] {
        let mut w = world().await;
        let doc = variant_document(&header, &two_rows("Plain widget"));
        w.server.sim().serve_next_document(
            ORDERS_REPORT,
            VerbatimDocument {
                bytes: Bytes::from(doc),
                charset: "UTF-8".into(),
                gzip: name == "extended",
            },
        );

        import_once(&mut w).await;

        let job = latest_job(&w);
        let stats = job.stats.clone().unwrap_or_default();
        assert_eq!(job.state, JobState::Imported, "{name}");
        assert_eq!(
            (stats.rows, stats.created, stats.malformed_rows),
            (2, 2, 0),
            "{name}: {stats:?}"
        );
        let o =
            w.h.orders
                .all()
                .into_iter()
                .find(|o| o.amazon_order_id.as_str() == "111-9000001-0000001")
                .unwrap();
        assert_eq!(o.lines[0].quantity, 2, "{name}");
        assert_eq!(o.lines[0].sku.as_deref(), Some("SKU-A"), "{name}");
    }
}

#[tokio::test]
async fn cp1252_and_shift_jis_documents_are_decoded_by_their_charset() {
    for (charset, encoding, product) in [
        (
            "Cp1252",
            encoding_rs::WINDOWS_1252,
            "Crème brûlée set – 6 pièces €",
        ),
        ("Shift_JIS", encoding_rs::SHIFT_JIS, "日本茶のセット"),
    ] {
        let mut w = world().await;
        let text = variant_document(
            &[
                "amazon-order-id",
                "purchase-date",
                "last-updated-date",
                "order-status",
                "fulfillment-channel",
                "product-name",
                "sku",
                "quantity",
            ],
            &two_rows(product),
        );
        let (bytes, _, unmappable) = encoding.encode(&text);
        assert!(!unmappable);
        w.server.sim().serve_next_document(
            ORDERS_REPORT,
            VerbatimDocument {
                bytes: Bytes::from(bytes.into_owned()),
                charset: charset.into(),
                gzip: true,
            },
        );

        import_once(&mut w).await;

        let orders = w.h.orders.all();
        assert_eq!(orders.len(), 2, "{charset}: {:#?}", w.h.transcript);
        assert!(
            orders
                .iter()
                .all(|o| o.lines[0].product_name.as_deref() == Some(product)),
            "{charset}"
        );
    }
}

#[tokio::test]
async fn malformed_rows_are_reported_by_line_and_the_rest_is_imported() {
    let mut w = world().await;
    let mut doc = variant_document(
        &[
            "amazon-order-id",
            "purchase-date",
            "last-updated-date",
            "order-status",
            "fulfillment-channel",
            "sku",
            "quantity",
        ],
        &two_rows("x"),
    );
    doc.push_str(
        "111-9000003-0000003\tyesterday\t2026-11-19T09:10:00+00:00\tPending\tMerchant\tSKU-C\t1\n",
    );
    doc.push_str("111-9000004-0000004\t2026-11-19T09:00:00+00:00\t2026-11-19T09:10:00+00:00\tPending\tMerchant\tSKU-D\tmany\n");
    w.server.sim().serve_next_document(
        ORDERS_REPORT,
        VerbatimDocument {
            bytes: Bytes::from(doc),
            charset: "UTF-8".into(),
            gzip: false,
        },
    );

    import_once(&mut w).await;

    let stats = latest_job(&w).stats.unwrap();
    assert_eq!(stats.malformed_rows, 2);
    assert!(
        stats.row_errors[0].starts_with("line 4:"),
        "{:?}",
        stats.row_errors
    );
    assert!(
        stats.row_errors[1].starts_with("line 5:"),
        "{:?}",
        stats.row_errors
    );
    assert_eq!(w.h.orders.all().len(), 2);
    assert_eq!(w.h.documents.keys().len(), 1, "the raw document is kept");
}
