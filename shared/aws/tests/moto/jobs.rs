//! DynamoJobStore: jobs, active slots, recent jobs, cursors, the seller registry.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use spsync_aws::DynamoJobStore;
use spsync_aws::dynamo::TTL_ATTRIBUTE;
use spsync_domain::{JobId, JobState, MarketplaceId, ORDERS_REPORT_TYPE, ReportJob, SellerId};
use spsync_workflow::{JobKey, JobStore, SellerAccount, SellerDirectory, StoreError};
use time::macros::datetime;

use super::support::{clients, jobs_table};

const MKT: &str = "ATVPDKIKX0DER";

async fn store() -> DynamoJobStore {
    let clients = clients().await;
    let table = jobs_table(&clients).await;
    DynamoJobStore::new(clients.dynamodb, table)
}

fn job_at(seller: &str, id: &str, minute: u8) -> ReportJob {
    ReportJob::new(
        JobId::new(id),
        SellerId::new(seller),
        MarketplaceId::new(MKT),
        ORDERS_REPORT_TYPE,
        Duration::from_secs(3 * 86_400),
        datetime!(2026-11-20 10:00 UTC) + time::Duration::minutes(minute.into()),
    )
}

fn key_of(job: &ReportJob) -> JobKey {
    JobKey {
        seller_id: job.seller_id.clone(),
        marketplace_id: job.marketplace_id.clone(),
        job_id: job.job_id.clone(),
    }
}

#[tokio::test]
async fn a_job_is_created_once_and_read_back() {
    let store = store().await;
    let job = job_at("A1", "20261120T100000Z-00000001", 0);

    store.put_job(&job, None).await.unwrap();
    let again = store.put_job(&job, None).await;

    assert!(
        matches!(again, Err(StoreError::ConditionFailed { .. })),
        "{again:?}"
    );
    assert_eq!(
        store.get_job(&key_of(&job)).await.unwrap(),
        Some(job.clone())
    );
    let mut other_marketplace = key_of(&job);
    other_marketplace.marketplace_id = MarketplaceId::new("A1F83G8C2ARO7P");
    assert_eq!(store.get_job(&other_marketplace).await.unwrap(), None);
}

#[tokio::test]
async fn a_job_is_replaced_only_from_the_version_stored() {
    let store = store().await;
    let mut job = job_at("A1", "20261120T100000Z-00000002", 0);
    store.put_job(&job, None).await.unwrap();

    job.version = 1;
    job.state = JobState::InProgress;
    job.report_id = Some("5012".into());
    store.put_job(&job, Some(0)).await.unwrap();
    let mut stale = job.clone();
    stale.version = 1;
    stale.state = JobState::Failed;
    let lost = store.put_job(&stale, Some(0)).await;

    assert!(
        matches!(lost, Err(StoreError::ConditionFailed { .. })),
        "{lost:?}"
    );
    assert_eq!(store.get_job(&key_of(&job)).await.unwrap(), Some(job));
}

#[tokio::test]
async fn replacing_a_job_that_was_never_created_fails() {
    let store = store().await;
    let job = job_at("A1", "20261120T100000Z-00000003", 0);

    let result = store.put_job(&job, Some(0)).await;

    assert!(
        matches!(result, Err(StoreError::ConditionFailed { .. })),
        "{result:?}"
    );
    assert_eq!(store.get_job(&key_of(&job)).await.unwrap(), None);
}

#[tokio::test]
async fn terminal_jobs_are_written_with_a_ttl() {
    let store = store().await;
    let mut job = job_at("A1", "20261120T100000Z-00000004", 0);
    store.put_job(&job, None).await.unwrap();
    let raw = |store: &DynamoJobStore| {
        let store = store.clone();
        async move {
            store
                .client
                .get_item()
                .table_name(&store.table)
                .key("pk", AttributeValue::S(format!("SELLER#A1#{MKT}")))
                .key(
                    "sk",
                    AttributeValue::S("JOB#20261120T100000Z-00000004".into()),
                )
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    assert!(!raw(&store).await.contains_key(TTL_ATTRIBUTE));

    job.state = JobState::Imported;
    job.version = 1;
    store.put_job(&job, Some(0)).await.unwrap();

    let item = raw(&store).await;
    let ttl = (job.updated_at + Duration::from_secs(90 * 86_400)).unix_timestamp();
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        Some(&AttributeValue::N(ttl.to_string()))
    );
    assert_eq!(
        item.get("state"),
        Some(&AttributeValue::S("IMPORTED".into()))
    );
}

#[tokio::test]
async fn the_active_slot_is_claimed_once_and_released_only_by_its_holder() {
    let store = store().await;
    let (seller, mkt) = (SellerId::new("A1"), MarketplaceId::new(MKT));
    let (first, second) = (JobId::new("j-1"), JobId::new("j-2"));
    assert_eq!(
        store
            .active_job(&seller, &mkt, ORDERS_REPORT_TYPE)
            .await
            .unwrap(),
        None
    );

    store
        .claim_active(&seller, &mkt, ORDERS_REPORT_TYPE, &first, None)
        .await
        .unwrap();
    let contended = store
        .claim_active(&seller, &mkt, ORDERS_REPORT_TYPE, &second, None)
        .await;
    let wrong_previous = store
        .claim_active(&seller, &mkt, ORDERS_REPORT_TYPE, &second, Some(&second))
        .await;

    assert!(
        matches!(contended, Err(StoreError::ConditionFailed { .. })),
        "{contended:?}"
    );
    assert!(
        matches!(wrong_previous, Err(StoreError::ConditionFailed { .. })),
        "{wrong_previous:?}"
    );
    assert_eq!(
        store
            .active_job(&seller, &mkt, ORDERS_REPORT_TYPE)
            .await
            .unwrap(),
        Some(first.clone())
    );

    // Handing over from the holder works; a release by the old holder is then a no-op.
    store
        .claim_active(&seller, &mkt, ORDERS_REPORT_TYPE, &second, Some(&first))
        .await
        .unwrap();
    store
        .release_active(&seller, &mkt, ORDERS_REPORT_TYPE, &first)
        .await
        .unwrap();
    assert_eq!(
        store
            .active_job(&seller, &mkt, ORDERS_REPORT_TYPE)
            .await
            .unwrap(),
        Some(second.clone())
    );

    store
        .release_active(&seller, &mkt, ORDERS_REPORT_TYPE, &second)
        .await
        .unwrap();
    assert_eq!(
        store
            .active_job(&seller, &mkt, ORDERS_REPORT_TYPE)
            .await
            .unwrap(),
        None
    );
    store
        .release_active(&seller, &mkt, ORDERS_REPORT_TYPE, &second)
        .await
        .unwrap();
    // A freed slot can no longer be handed over from its last holder, only claimed afresh.
    let from_gone = store
        .claim_active(&seller, &mkt, ORDERS_REPORT_TYPE, &first, Some(&second))
        .await;
    assert!(
        matches!(from_gone, Err(StoreError::ConditionFailed { .. })),
        "{from_gone:?}"
    );
}

#[tokio::test]
async fn recent_jobs_are_newest_first_and_limited() {
    let store = store().await;
    for minute in [5u8, 1, 3, 2, 4] {
        let id = JobId::generate(
            datetime!(2026-11-20 10:00 UTC) + time::Duration::minutes(minute.into()),
            7,
        );
        store
            .put_job(&job_at("A1", id.as_str(), minute), None)
            .await
            .unwrap();
    }
    // Neighbours under the same partition (slot, cursor) and another seller stay out.
    let (seller, mkt) = (SellerId::new("A1"), MarketplaceId::new(MKT));
    store
        .claim_active(&seller, &mkt, ORDERS_REPORT_TYPE, &JobId::new("x"), None)
        .await
        .unwrap();
    store
        .put_cursor(&seller, &mkt, "enrich", datetime!(2026-11-20 10:00 UTC))
        .await
        .unwrap();
    store
        .put_job(&job_at("B2", "20261120T110000Z-00000000", 60), None)
        .await
        .unwrap();

    let three = store.recent_jobs(&seller, &mkt, 3).await.unwrap();
    let all = store.recent_jobs(&seller, &mkt, 50).await.unwrap();

    let minutes = |jobs: &[ReportJob]| {
        jobs.iter()
            .map(|j| j.created_at.minute())
            .collect::<Vec<_>>()
    };
    assert_eq!(minutes(&three), [5, 4, 3]);
    assert_eq!(minutes(&all), [5, 4, 3, 2, 1]);
    assert!(
        store
            .recent_jobs(&seller, &mkt, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn cursors_round_trip_per_seller_marketplace_and_name() {
    let store = store().await;
    let (seller, mkt) = (SellerId::new("A1"), MarketplaceId::new(MKT));
    let value = datetime!(2026-11-20 09:58:01.123456 +01:00);

    assert_eq!(
        store.get_cursor(&seller, &mkt, "enrich").await.unwrap(),
        None
    );
    store
        .put_cursor(&seller, &mkt, "enrich", value)
        .await
        .unwrap();
    store
        .put_cursor(&seller, &mkt, "enrich", value + Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(
        store.get_cursor(&seller, &mkt, "enrich").await.unwrap(),
        Some(value + Duration::from_secs(60))
    );
    assert_eq!(
        store.get_cursor(&seller, &mkt, "other").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_cursor(&SellerId::new("B2"), &mkt, "enrich")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn sellers_are_registered_replaced_and_listed() {
    let store = store().await;
    let account = |id: &str, enabled: bool| SellerAccount {
        seller_id: SellerId::new(id),
        marketplaces: vec![
            MarketplaceId::new(MKT),
            MarketplaceId::new("A2EUQ1WTGCTBG2"),
        ],
        region: "na".into(),
        credentials_secret: format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{id}"),
        enabled,
    };
    assert!(store.sellers().await.unwrap().is_empty());

    store.put_seller(&account("A1", true)).await.unwrap();
    store.put_seller(&account("B2", true)).await.unwrap();
    store.put_seller(&account("B2", false)).await.unwrap();

    let mut sellers = store.sellers().await.unwrap();
    sellers.sort_by(|a, b| a.seller_id.cmp(&b.seller_id));
    assert_eq!(sellers, [account("A1", true), account("B2", false)]);
    assert_eq!(
        store.seller(&SellerId::new("B2")).await.unwrap(),
        Some(account("B2", false))
    );
    assert_eq!(store.seller(&SellerId::new("C3")).await.unwrap(), None);
}
