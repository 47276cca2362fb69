//! DynamoShipmentStore (ShipmentsTable, `ByState`) and DynamoFeedJobStore (feed jobs and
//! live-feed slots in JobsTable).

use aws_sdk_dynamodb::types::AttributeValue;
use spsync_aws::dynamo::TTL_ATTRIBUTE;
use spsync_aws::{DynamoFeedJobStore, DynamoJobStore, DynamoShipmentStore};
use spsync_domain::{
    AmazonOrderId, CheckedShipment, FULFILLMENT_FEED_TYPE, FeedJob, FeedJobState, JobId,
    MarketplaceId, ORDERS_REPORT_TYPE, ReportJob, SellerId, Shipment, ShipmentItem, ShipmentState,
};
use spsync_workflow::{FeedJobStore, JobStore, ShipmentStore, StoreError};
use time::OffsetDateTime;
use time::macros::datetime;

use super::support::{clients, jobs_table, stack};

const MKT: &str = "ATVPDKIKX0DER";

/// Two real-looking order ids, the first a prefix of the second.
const ORDER: &str = "114-3941689-876543";
const LONGER_ORDER: &str = "114-3941689-8765432";

async fn shipment_store() -> DynamoShipmentStore {
    let clients = clients().await;
    let table = stack(&clients)
        .await
        .table("ShipmentsTable")
        .expect("template.yaml declares ShipmentsTable")
        .name
        .clone();
    DynamoShipmentStore::new(clients.dynamodb, table)
}

async fn feed_store() -> DynamoFeedJobStore {
    let clients = clients().await;
    let table = jobs_table(&clients).await;
    DynamoFeedJobStore::new(clients.dynamodb, table)
}

fn shipment(seller: &str, order: &str, id: &str, revised_at: OffsetDateTime) -> Shipment {
    let order = AmazonOrderId::new(order);
    Shipment {
        seller_id: SellerId::new(seller),
        marketplace_id: MarketplaceId::new(MKT),
        amazon_order_id: order.clone(),
        shipment_id: id.to_owned(),
        details: CheckedShipment {
            amazon_order_id: order,
            carrier_code: "UPS".into(),
            carrier_name: "UPS".into(),
            tracking_number: Some("1Z999AA10123456784".into()),
            ship_date: datetime!(2026-11-22 08:00 UTC),
            ship_method: Some("Ground".into()),
            items: vec![ShipmentItem {
                order_item_id: "52986411826454".into(),
                quantity: 1,
            }],
            hurts_vtr: false,
        },
        revision: 1,
        sent_revision: None,
        accepted_revision: None,
        accepted_items: Vec::new(),
        state: ShipmentState::Queued,
        warning: None,
        source: "api".into(),
        recorded_at: revised_at,
        revised_at,
        confirm_seconds: None,
        fatal_attempts: 0,
        history: Vec::new(),
        version: 0,
    }
}

fn at(millis: i64) -> OffsetDateTime {
    datetime!(2026-11-22 10:00 UTC) + time::Duration::milliseconds(millis)
}

fn refs(shipments: &[Shipment]) -> Vec<String> {
    shipments.iter().map(Shipment::reference).collect()
}

async fn listed(store: &DynamoShipmentStore, seller: &SellerId, state: &str) -> Vec<String> {
    let (page, next) = store
        .shipments_in_state(seller, state, None, 100)
        .await
        .unwrap();
    assert_eq!(next, None);
    refs(&page)
}

#[tokio::test]
async fn a_shipment_is_created_once_and_read_back() {
    let store = shipment_store().await;
    let seller = SellerId::new("A1");
    let sh = shipment("A1", ORDER, "pkg-1", at(0));

    store.put_shipment(&sh, None).await.unwrap();
    let again = store.put_shipment(&sh, None).await;

    assert!(
        matches!(again, Err(StoreError::ConditionFailed { .. })),
        "{again:?}"
    );
    let order = AmazonOrderId::new(ORDER);
    assert_eq!(
        store.get_shipment(&seller, &order, "pkg-1").await.unwrap(),
        Some(sh)
    );
    assert_eq!(
        store.get_shipment(&seller, &order, "pkg-2").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_shipment(&SellerId::new("B2"), &order, "pkg-1")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_shipment_is_replaced_only_from_the_version_stored() {
    let store = shipment_store().await;
    let mut sh = shipment("A1", ORDER, "pkg-1", at(0));
    store.put_shipment(&sh, None).await.unwrap();

    sh.version = 1;
    sh.details.tracking_number = Some("1Z999AA10123456793".into());
    sh.revision = 2;
    store.put_shipment(&sh, Some(0)).await.unwrap();
    let mut stale = sh.clone();
    stale.version = 1;
    stale.state = ShipmentState::Held {
        reason: "order cancelled".into(),
    };
    let lost = store.put_shipment(&stale, Some(0)).await;
    let never_created = store
        .put_shipment(&shipment("A1", ORDER, "pkg-9", at(0)), Some(0))
        .await;

    assert!(
        matches!(lost, Err(StoreError::ConditionFailed { .. })),
        "{lost:?}"
    );
    assert!(
        matches!(never_created, Err(StoreError::ConditionFailed { .. })),
        "{never_created:?}"
    );
    let order = AmazonOrderId::new(ORDER);
    assert_eq!(
        store
            .get_shipment(&sh.seller_id, &order, "pkg-1")
            .await
            .unwrap(),
        Some(sh)
    );
    assert_eq!(
        store
            .get_shipment(&SellerId::new("A1"), &order, "pkg-9")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_state_index_moves_with_the_state() {
    let store = shipment_store().await;
    let seller = SellerId::new("A1");
    let mut sh = shipment("A1", ORDER, "pkg-1", at(0));
    store.put_shipment(&sh, None).await.unwrap();
    let queued = listed(&store, &seller, "Queued").await;

    assert!(sh.claim(&JobId::new("20261122T100500Z-00000001")).is_some());
    sh.version = 1;
    store.put_shipment(&sh, Some(0)).await.unwrap();
    let after_claim = (
        listed(&store, &seller, "Queued").await,
        listed(&store, &seller, "InFeed").await,
    );

    sh.state = ShipmentState::Accepted {
        feed_id: "50012".into(),
        accepted_at: at(600_000),
    };
    sh.version = 2;
    store.put_shipment(&sh, Some(1)).await.unwrap();
    let after_accept = (
        listed(&store, &seller, "InFeed").await,
        listed(&store, &seller, "Accepted").await,
    );

    let me = vec![sh.reference()];
    assert_eq!(queued, me);
    assert_eq!(after_claim, (vec![], me.clone()));
    assert_eq!(after_accept, (vec![], me.clone()));
    let (accepted, _) = store
        .shipments_in_state(&seller, "Accepted", None, 10)
        .await
        .unwrap();
    assert_eq!(accepted, [sh]);
}

#[tokio::test]
async fn shipments_in_state_page_oldest_revision_first() {
    let store = shipment_store().await;
    let seller = SellerId::new("A1");
    // Five queued shipments written out of time order (three within one second), one in a
    // feed, and another seller's queued shipment.
    let order = |n: u32| format!("114-3941689-{:07}", 8_765_400 + n);
    for (n, millis) in [(4, 2_000), (0, 0), (3, 1_000), (1, 1), (2, 500)] {
        let sh = shipment("A1", &order(n), "pkg-1", at(millis));
        store.put_shipment(&sh, None).await.unwrap();
    }
    let mut in_feed = shipment("A1", &order(9), "pkg-1", at(-5_000));
    in_feed.state = ShipmentState::InFeed {
        feed_job: JobId::new("20261122T095500Z-00000002"),
    };
    store.put_shipment(&in_feed, None).await.unwrap();
    store
        .put_shipment(&shipment("B2", &order(7), "pkg-1", at(-1)), None)
        .await
        .unwrap();

    let (first, token) = store
        .shipments_in_state(&seller, "Queued", None, 2)
        .await
        .unwrap();
    let token = token.expect("a second page");
    let (second, token2) = store
        .shipments_in_state(&seller, "Queued", Some(token.clone()), 2)
        .await
        .unwrap();
    let (third, end) = store
        .shipments_in_state(&seller, "Queued", token2, 2)
        .await
        .unwrap();
    let foreign = store
        .shipments_in_state(&seller, "InFeed", Some(token), 2)
        .await;

    let want =
        |ns: &[u32]| -> Vec<String> { ns.iter().map(|n| format!("{}/pkg-1", order(*n))).collect() };
    assert_eq!(refs(&first), want(&[0, 1]));
    assert_eq!(refs(&second), want(&[2, 3]));
    assert_eq!(refs(&third), want(&[4]));
    assert_eq!(end, None);
    assert!(
        matches!(foreign, Err(StoreError::Permanent { .. })),
        "{foreign:?}"
    );
    assert_eq!(
        listed(&store, &seller, "InFeed").await,
        [in_feed.reference()]
    );
    assert_eq!(
        listed(&store, &SellerId::new("B2"), "Queued").await,
        want(&[7])
    );
}

#[tokio::test]
async fn shipments_of_order_leave_out_an_order_whose_id_extends_it() {
    let store = shipment_store().await;
    let seller = SellerId::new("A1");
    for (order, id) in [
        (ORDER, "pkg-2"),
        (LONGER_ORDER, "pkg-1"),
        (ORDER, "pkg-1"),
        (LONGER_ORDER, "pkg-3"),
    ] {
        store
            .put_shipment(&shipment("A1", order, id, at(0)), None)
            .await
            .unwrap();
    }
    store
        .put_shipment(&shipment("B2", ORDER, "pkg-7", at(0)), None)
        .await
        .unwrap();

    let short = store
        .shipments_of_order(&seller, &AmazonOrderId::new(ORDER))
        .await
        .unwrap();
    let long = store
        .shipments_of_order(&seller, &AmazonOrderId::new(LONGER_ORDER))
        .await
        .unwrap();
    let none = store
        .shipments_of_order(&seller, &AmazonOrderId::new("114-3941689-8765439"))
        .await
        .unwrap();

    assert_eq!(
        refs(&short),
        [format!("{ORDER}/pkg-1"), format!("{ORDER}/pkg-2")]
    );
    assert_eq!(
        refs(&long),
        [
            format!("{LONGER_ORDER}/pkg-1"),
            format!("{LONGER_ORDER}/pkg-3")
        ]
    );
    assert!(none.is_empty());
    assert_eq!(short[0], shipment("A1", ORDER, "pkg-1", at(0)));
}

fn feed_job(seller: &str, minute: i64) -> FeedJob {
    let created = datetime!(2026-11-22 10:00 UTC) + time::Duration::minutes(minute);
    let id = JobId::generate(created, 42);
    FeedJob::new(
        SellerId::new(seller),
        id.clone(),
        FULFILLMENT_FEED_TYPE,
        format!("feeds/{seller}/{FULFILLMENT_FEED_TYPE}/2026-11-22/{id}.tsv"),
        120,
        created,
    )
}

#[tokio::test]
async fn a_feed_job_is_created_once_and_replaced_only_from_its_version() {
    let store = feed_store().await;
    let seller = SellerId::new("A1");
    let mut job = feed_job("A1", 0);
    store.put_feed_job(&job, None).await.unwrap();
    let duplicate = store.put_feed_job(&job, None).await;

    job.version = 1;
    job.state = FeedJobState::Submitted {
        feed_id: "50012".into(),
    };
    job.shipments = vec![format!("{ORDER}/pkg-1")];
    store.put_feed_job(&job, Some(0)).await.unwrap();
    let mut stale = job.clone();
    stale.version = 1;
    stale.state = FeedJobState::Abandoned {
        reason: "stalled".into(),
    };
    let lost = store.put_feed_job(&stale, Some(0)).await;

    assert!(
        matches!(duplicate, Err(StoreError::ConditionFailed { .. })),
        "{duplicate:?}"
    );
    assert!(
        matches!(lost, Err(StoreError::ConditionFailed { .. })),
        "{lost:?}"
    );
    assert_eq!(
        store.get_feed_job(&seller, &job.job_id).await.unwrap(),
        Some(job.clone())
    );
    assert_eq!(
        store
            .get_feed_job(&SellerId::new("B2"), &job.job_id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_live_feed_slot_is_claimed_once_taken_over_from_its_holder_and_released_by_it() {
    let store = feed_store().await;
    let seller = SellerId::new("A1");
    let (first, second, third) = (JobId::new("j-1"), JobId::new("j-2"), JobId::new("j-3"));
    let live = || store.live_feed(&seller, FULFILLMENT_FEED_TYPE);
    assert_eq!(live().await.unwrap(), None);

    store
        .claim_live_feed(&seller, FULFILLMENT_FEED_TYPE, &first, None)
        .await
        .unwrap();
    let contended = store
        .claim_live_feed(&seller, FULFILLMENT_FEED_TYPE, &second, None)
        .await;
    let wrong_previous = store
        .claim_live_feed(&seller, FULFILLMENT_FEED_TYPE, &second, Some(&third))
        .await;
    assert!(
        matches!(contended, Err(StoreError::ConditionFailed { .. })),
        "{contended:?}"
    );
    assert!(
        matches!(wrong_previous, Err(StoreError::ConditionFailed { .. })),
        "{wrong_previous:?}"
    );
    assert_eq!(live().await.unwrap(), Some(first.clone()));
    // Other feed types and sellers have their own slots.
    store
        .claim_live_feed(&seller, "JSON_LISTINGS_FEED", &third, None)
        .await
        .unwrap();
    store
        .claim_live_feed(&SellerId::new("B2"), FULFILLMENT_FEED_TYPE, &third, None)
        .await
        .unwrap();

    // Stealing from the holder works; a release by the old holder is then a no-op.
    store
        .claim_live_feed(&seller, FULFILLMENT_FEED_TYPE, &second, Some(&first))
        .await
        .unwrap();
    store
        .release_live_feed(&seller, FULFILLMENT_FEED_TYPE, &first)
        .await
        .unwrap();
    assert_eq!(live().await.unwrap(), Some(second.clone()));

    store
        .release_live_feed(&seller, FULFILLMENT_FEED_TYPE, &second)
        .await
        .unwrap();
    assert_eq!(live().await.unwrap(), None);
    store
        .release_live_feed(&seller, FULFILLMENT_FEED_TYPE, &second)
        .await
        .unwrap();
    let from_gone = store
        .claim_live_feed(&seller, FULFILLMENT_FEED_TYPE, &first, Some(&second))
        .await;
    assert!(
        matches!(from_gone, Err(StoreError::ConditionFailed { .. })),
        "{from_gone:?}"
    );
    assert_eq!(
        store
            .live_feed(&seller, "JSON_LISTINGS_FEED")
            .await
            .unwrap(),
        Some(third.clone())
    );
}

#[tokio::test]
async fn recent_feed_jobs_are_newest_first_and_limited() {
    let store = feed_store().await;
    let seller = SellerId::new("A1");
    for minute in [5, 1, 3, 2, 4] {
        store
            .put_feed_job(&feed_job("A1", minute), None)
            .await
            .unwrap();
    }
    // The seller's slot, another seller's feed job and a report job of the same seller in
    // the same table stay out.
    store
        .claim_live_feed(&seller, FULFILLMENT_FEED_TYPE, &JobId::new("x"), None)
        .await
        .unwrap();
    store.put_feed_job(&feed_job("B2", 60), None).await.unwrap();
    let reports = DynamoJobStore::new(store.client.clone(), store.table.clone());
    reports
        .put_job(
            &ReportJob::new(
                JobId::generate(datetime!(2026-11-22 12:00 UTC), 1),
                seller.clone(),
                MarketplaceId::new(MKT),
                ORDERS_REPORT_TYPE,
                std::time::Duration::from_secs(3 * 86_400),
                datetime!(2026-11-22 12:00 UTC),
            ),
            None,
        )
        .await
        .unwrap();

    let three = store.recent_feed_jobs(&seller, 3).await.unwrap();
    let all = store.recent_feed_jobs(&seller, 50).await.unwrap();

    let minutes = |jobs: &[FeedJob]| {
        jobs.iter()
            .map(|j| j.created_at.minute())
            .collect::<Vec<_>>()
    };
    assert_eq!(minutes(&three), [5, 4, 3]);
    assert_eq!(minutes(&all), [5, 4, 3, 2, 1]);
    assert_eq!(all[0], feed_job("A1", 5));
    assert!(store.recent_feed_jobs(&seller, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn only_terminal_feed_jobs_are_written_with_a_ttl() {
    let store = feed_store().await;
    let mut job = feed_job("A1", 0);
    let sk = format!("JOB#{}", job.job_id);
    let raw = || async {
        store
            .client
            .get_item()
            .table_name(&store.table)
            .key("pk", AttributeValue::S("FEEDS#A1".into()))
            .key("sk", AttributeValue::S(sk.clone()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    };
    store.put_feed_job(&job, None).await.unwrap();
    let claiming = raw().await;
    job.version = 1;
    job.state = FeedJobState::Submitted {
        feed_id: "50012".into(),
    };
    job.updated_at = datetime!(2026-11-22 10:03 UTC);
    store.put_feed_job(&job, Some(0)).await.unwrap();
    let submitted = raw().await;

    job.version = 2;
    job.state = FeedJobState::Applied {
        feed_id: "50012".into(),
    };
    job.updated_at = datetime!(2026-11-22 10:07 UTC);
    job.ended_at = Some(job.updated_at);
    store.put_feed_job(&job, Some(1)).await.unwrap();
    let applied = raw().await;

    assert!(!claiming.contains_key(TTL_ATTRIBUTE));
    assert!(!submitted.contains_key(TTL_ATTRIBUTE));
    let ttl = datetime!(2027-02-20 10:07 UTC).unix_timestamp();
    assert_eq!(
        applied.get(TTL_ATTRIBUTE),
        Some(&AttributeValue::N(ttl.to_string()))
    );
    assert_eq!(
        applied.get("state"),
        Some(&AttributeValue::S("Applied".into()))
    );
    assert_eq!(
        applied.get("feed_id"),
        Some(&AttributeValue::S("50012".into()))
    );
}
