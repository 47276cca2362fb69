//! DynamoOrderStore: conditional writes, batch reads, the ByStatus listing.

use aws_sdk_dynamodb::types::AttributeValue;
use spsync_aws::DynamoOrderStore;
use spsync_domain::{
    Address, AmazonOrderId, AmazonOrderStatus, Buyer, FulfillmentChannel, MarketplaceId, Order,
    OrderLine, OrderStatus, SellerId,
};
use spsync_workflow::{OrderStore, StoreError};
use time::OffsetDateTime;
use time::macros::datetime;

use super::support::{clients, orders_table};

async fn store() -> DynamoOrderStore {
    let clients = clients().await;
    let table = orders_table(&clients).await;
    DynamoOrderStore::new(clients.dynamodb, table)
}

fn order(seller: &str, id: &str, status: OrderStatus, purchased: OffsetDateTime) -> Order {
    Order {
        seller_id: SellerId::new(seller),
        marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
        amazon_order_id: AmazonOrderId::new(id),
        merchant_order_id: None,
        status,
        amazon_status: AmazonOrderStatus::Unshipped,
        fulfillment_channel: FulfillmentChannel::Merchant,
        purchase_date: purchased,
        last_updated: purchased,
        sales_channel: Some("Amazon.com".into()),
        ship_service_level: Some("Standard".into()),
        is_business_order: false,
        currency: Some("USD".into()),
        lines: vec![OrderLine {
            sku: Some("SKU-1".into()),
            asin: Some("B000000001".into()),
            product_name: Some("Widget".into()),
            quantity: 2,
            item_status: Some("Unshipped".into()),
            item_price: Some("19.98".parse().unwrap()),
            order_item_id: None,
        }],
        ship_to: Address {
            city: Some("Seattle".into()),
            state: Some("WA".into()),
            postal_code: Some("98101".into()),
            country: Some("US".into()),
            ..Address::default()
        },
        buyer: Buyer::default(),
        recipient: None,
        version: 0,
        created_at: purchased,
        updated_at: purchased,
    }
}

fn id(n: usize) -> AmazonOrderId {
    AmazonOrderId::new(format!("111-0000000-{n:07}"))
}

fn new_order(seller: &str, n: usize) -> Order {
    let purchased = datetime!(2026-11-18 00:00 UTC) + time::Duration::minutes(n as i64);
    order(seller, id(n).as_str(), OrderStatus::New, purchased)
}

#[tokio::test]
async fn an_order_is_created_once_and_replaced_only_from_its_version() {
    let store = store().await;
    let seller = SellerId::new("A1");
    let mut o = new_order("A1", 1);
    store.put_order(&o, None).await.unwrap();

    let duplicate = store.put_order(&o, None).await;
    o.version = 1;
    o.buyer.email = Some("relay@marketplace.amazon.com".into());
    store.put_order(&o, Some(0)).await.unwrap();
    let mut stale = o.clone();
    stale.version = 1;
    stale.status = OrderStatus::Canceled;
    let lost = store.put_order(&stale, Some(0)).await;

    assert!(
        matches!(duplicate, Err(StoreError::ConditionFailed { .. })),
        "{duplicate:?}"
    );
    assert!(
        matches!(lost, Err(StoreError::ConditionFailed { .. })),
        "{lost:?}"
    );
    assert_eq!(
        store.get_order(&seller, &o.amazon_order_id).await.unwrap(),
        Some(o.clone())
    );
    assert_eq!(
        store
            .get_order(&SellerId::new("B2"), &o.amazon_order_id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn order_items_carry_the_index_keys_and_flags() {
    let store = store().await;
    let o = new_order("A1", 7);

    store.put_order(&o, None).await.unwrap();

    let item = store
        .client
        .get_item()
        .table_name(&store.table)
        .key("pk", AttributeValue::S("SELLER#A1".into()))
        .key("sk", AttributeValue::S(format!("ORDER#{}", id(7))))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    assert_eq!(text("gsi1pk").as_deref(), Some("A1#ORDER_NEW"));
    assert_eq!(
        text("gsi1sk"),
        Some(format!("2026-11-18T00:07:00Z#{}", id(7)))
    );
    assert_eq!(text("status").as_deref(), Some("ORDER_NEW"));
    assert_eq!(text("amazon_status").as_deref(), Some("Unshipped"));
    assert_eq!(text("fulfillment_channel").as_deref(), Some("Merchant"));
    assert_eq!(
        item.get("needs_enrichment"),
        Some(&AttributeValue::Bool(true))
    );
    assert_eq!(item.get("version"), Some(&AttributeValue::N("0".into())));
}

#[tokio::test]
async fn orders_are_read_in_batches_and_missing_ids_are_absent() {
    let store = store().await;
    let seller = SellerId::new("A1");
    // 150 stored orders (even numbers 0..300) and another seller's order under a shared id.
    for n in (0..300).step_by(2) {
        store.put_order(&new_order("A1", n), None).await.unwrap();
    }
    store.put_order(&new_order("B2", 1), None).await.unwrap();
    // Ask for 150 stored ids, 50 unknown ones and one id twice: 200 distinct keys, 2 calls.
    // (DynamoDB refuses a batch naming a key twice; moto does not, so here the duplicate only
    // checks that each order comes back once.)
    let mut ids: Vec<AmazonOrderId> = (0..300).step_by(2).map(id).collect();
    ids.extend((1..100).step_by(2).map(id));
    ids.push(id(0));

    let found = store.get_orders(&seller, &ids).await.unwrap();

    let got: Vec<AmazonOrderId> = found.iter().map(|o| o.amazon_order_id.clone()).collect();
    let want: Vec<AmazonOrderId> = (0..300).step_by(2).map(id).collect();
    assert_eq!(got, want);
    assert!(found.iter().all(|o| o.seller_id == seller));
    assert_eq!(found[10], new_order("A1", 20));
    assert!(store.get_orders(&seller, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn orders_by_status_pages_by_purchase_date() {
    let store = store().await;
    let seller = SellerId::new("A1");
    // Five new orders written out of date order, one cancelled, one of another seller.
    for n in [4, 0, 3, 1, 2] {
        store.put_order(&new_order("A1", n), None).await.unwrap();
    }
    let cancelled = order(
        "A1",
        id(9).as_str(),
        OrderStatus::Canceled,
        datetime!(2026-11-17 00:00 UTC),
    );
    store.put_order(&cancelled, None).await.unwrap();
    store.put_order(&new_order("B2", 5), None).await.unwrap();

    let (first, token) = store
        .orders_by_status(&seller, OrderStatus::New, None, 3)
        .await
        .unwrap();
    let token = token.expect("a second page");
    let (second, end) = store
        .orders_by_status(&seller, OrderStatus::New, Some(token.clone()), 3)
        .await
        .unwrap();

    let ids = |orders: &[Order]| {
        orders
            .iter()
            .map(|o| o.amazon_order_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), [id(0), id(1), id(2)]);
    assert_eq!(ids(&second), [id(3), id(4)]);
    assert_eq!(end, None);
    assert_eq!(first[0], new_order("A1", 0));
    let (canceled, _) = store
        .orders_by_status(&seller, OrderStatus::Canceled, None, 10)
        .await
        .unwrap();
    assert_eq!(canceled, [cancelled]);
    let foreign = store
        .orders_by_status(&seller, OrderStatus::Canceled, Some(token), 3)
        .await;
    assert!(
        matches!(foreign, Err(StoreError::Permanent { .. })),
        "{foreign:?}"
    );
}

#[tokio::test]
async fn a_status_change_moves_the_order_between_listings() {
    let store = store().await;
    let seller = SellerId::new("A1");
    let mut o = new_order("A1", 1);
    store.put_order(&o, None).await.unwrap();

    o.version = 1;
    o.status = OrderStatus::Fulfilled;
    o.amazon_status = AmazonOrderStatus::Shipped;
    store.put_order(&o, Some(0)).await.unwrap();

    let (new, _) = store
        .orders_by_status(&seller, OrderStatus::New, None, 10)
        .await
        .unwrap();
    let (fulfilled, _) = store
        .orders_by_status(&seller, OrderStatus::Fulfilled, None, 10)
        .await
        .unwrap();
    assert!(new.is_empty());
    assert_eq!(fulfilled, [o]);
}
