//! Orders API v2026-01-01 (`models/orders_2026-01-01.json`): searchOrders and getOrder.
//!
//! Orders are stored whole (every dataset); this module decides what a caller sees:
//! - **includedData.** The core of an order is always returned (`orderId`, `orderAliases`,
//!   `createdTime`, `lastUpdatedTime`, `programs`, `associatedOrders`, `salesChannel`,
//!   `orderItems` with each item's `orderItemId`, `quantityOrdered`, `measurement`,
//!   `associatedOrderItems`, `programs`, `product`); each optional dataset only when asked:
//!   BUYER → `buyer`; RECIPIENT → `recipient`; PROCEEDS → `proceeds` and items' `proceeds`;
//!   EXPENSE → items' `expense`; PROMOTION → items' `promotion`; CANCELLATION → items'
//!   `cancellation`; FULFILLMENT → `fulfillment` and items' `fulfillment`; PACKAGES →
//!   `packages`; TAX → `tax` and items' `tax`; PAYMENT → `payment`; FULFILLMENT_ORDERS →
//!   `fulfillmentOrders`. (The model describes each value as "information about ..." the
//!   order and its items; it names no other members.)
//! - **PII.** The "access orders PII" page lists `buyer.buyerName`, `buyer.buyerEmail`,
//!   `recipient.deliveryAddress.{name, addressLine1-3, postalCode, phone, extendedFields}`,
//!   the gift message and the customised URL. They are withheld while the order is `PENDING`
//!   (or `PENDING_AVAILABILITY`) and when it is `CANCELLED`, mirroring v0's documented rule that
//!   the shipping address exists only for Unshipped, PartiallyShipped and Shipped orders.
//!   `buyerEmail` is never shown for Amazon-fulfilled orders ("only available for FBM"), nor
//!   the phone ("suppressed for all FBA orders, and for shipped FBM orders past the latest
//!   delivery date").
//! - **Prices while PENDING.** v0 documents that pricing is not returned while an order is
//!   Pending; the same is applied here to `product.price`, item and order `proceeds`.
//!
//! searchOrders pagination is keyset-based: the opaque token carries the position (time and
//! id of the last order returned), the effective `*Before` and a fingerprint of the filter,
//! so pages never lose or repeat an order and a changed filter is refused (400), as the model
//! says ("all other parameters must be provided with the same values ... with the exception
//! of `maxResultsPerPage` and `includedData`"). Tokens expire after 24 simulated hours.
//!
//! Where the model is silent: an `*After` later than "now − 2 minutes" without an explicit
//! `*Before` answers an empty page (the default `*Before` is now − 2 minutes); a marketplace
//! the seller does not sell in is a 400 InvalidInput.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::limits::Operation;
use crate::sim::{Query, Sim, decode_token, encode_token, format_datetime, parse_datetime};
use crate::world::{fulfilled_by, order_status, order_time};

/// Values of `fulfillment.fulfillmentStatus` (model enum `FulfillmentStatus`).
pub const FULFILLMENT_STATUSES: &[&str] = &[
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
];

/// Values of the `includedData` query parameter.
pub const INCLUDED_DATA: &[&str] = &[
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
];

/// How long a pagination token lives (model: "The token will expire after 24 hours").
const TOKEN_TTL_HOURS: i64 = 24;
/// Amazon's data lag: `*Before` must be at least two minutes before the request.
const LAG_MINUTES: i64 = 2;

fn need_str<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{at}{key} must be a non-empty string")),
        None => Err(format!("{at}{key} is required")),
    }
}

fn need_time(v: &Value, key: &str) -> Result<(), String> {
    let s = need_str(v, key, "")?;
    parse_datetime(s)
        .map(|_| ())
        .ok_or_else(|| format!("{key} '{s}' is not an ISO 8601 date-time"))
}

/// Checks that a scenario order is a usable v2026-01-01 `Order` and returns its id.
///
/// Required by the model: `orderId`, `createdTime`, `lastUpdatedTime`, `salesChannel`
/// (with `channelName`), `orderItems` (each with `orderItemId`, `quantityOrdered` as an
/// integer, `product`). Required by the simulator: `salesChannel.marketplaceId` (marketplace
/// filters) and `fulfillment.fulfillmentStatus` (status filters and transitions).
pub fn validate_scenario_order(order: &Value) -> Result<String, String> {
    if !order.is_object() {
        return Err("an order must be a JSON object".into());
    }
    let id = need_str(order, "orderId", "")?;
    need_time(order, "createdTime")?;
    need_time(order, "lastUpdatedTime")?;
    let channel = order
        .get("salesChannel")
        .filter(|c| c.is_object())
        .ok_or("salesChannel is required (an object)")?;
    need_str(channel, "channelName", "salesChannel.")?;
    need_str(channel, "marketplaceId", "salesChannel.")
        .map_err(|e| format!("{e} (the simulator filters orders by marketplace)"))?;
    let status = order
        .pointer("/fulfillment/fulfillmentStatus")
        .and_then(Value::as_str)
        .ok_or("fulfillment.fulfillmentStatus is required by the simulator")?;
    if !FULFILLMENT_STATUSES.contains(&status) {
        return Err(format!(
            "fulfillment.fulfillmentStatus '{status}' is not one of {}",
            FULFILLMENT_STATUSES.join(", ")
        ));
    }
    let items = order
        .get("orderItems")
        .and_then(Value::as_array)
        .ok_or("orderItems is required (an array)")?;
    for (i, item) in items.iter().enumerate() {
        let at = format!("orderItems[{i}].");
        need_str(item, "orderItemId", &at)?;
        if item
            .get("quantityOrdered")
            .and_then(Value::as_u64)
            .is_none()
        {
            return Err(format!(
                "{at}quantityOrdered must be a non-negative integer"
            ));
        }
        if !item.get("product").is_some_and(Value::is_object) {
            return Err(format!("{at}product is required (an object)"));
        }
    }
    Ok(id.to_string())
}

// ---------------------------------------------------------------------------------------
// What a caller sees.

fn copy(src: &Map<String, Value>, dst: &mut Map<String, Value>, key: &str) {
    if let Some(v) = src.get(key) {
        dst.insert(key.to_string(), v.clone());
    }
}

fn remove_path(v: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        match cur.get_mut(*p) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(*last);
    }
}

/// The order as a caller asking for `included` datasets at `now` sees it.
pub fn project_order(order: &Value, included: &[String], now: OffsetDateTime) -> Value {
    let Some(src) = order.as_object() else {
        return order.clone();
    };
    let wants = |d: &str| included.iter().any(|i| i == d);
    let status = order_status(order);
    let pending = matches!(status, "PENDING" | "PENDING_AVAILABILITY");
    let pii_hidden = pending || status == "CANCELLED";
    let by_amazon = fulfilled_by(order) == "AMAZON";

    let mut out = Map::new();
    for key in [
        "orderId",
        "orderAliases",
        "createdTime",
        "lastUpdatedTime",
        "programs",
        "associatedOrders",
        "salesChannel",
    ] {
        copy(src, &mut out, key);
    }
    if wants("BUYER")
        && let Some(mut buyer) = src.get("buyer").cloned()
    {
        if pii_hidden {
            remove_path(&mut buyer, &["buyerName"]);
            remove_path(&mut buyer, &["buyerEmail"]);
        }
        if by_amazon {
            remove_path(&mut buyer, &["buyerEmail"]);
        }
        if buyer.as_object().is_some_and(|o| !o.is_empty()) {
            out.insert("buyer".into(), buyer);
        }
    }
    if wants("RECIPIENT")
        && let Some(mut recipient) = src.get("recipient").cloned()
    {
        if pii_hidden {
            for key in [
                "name",
                "addressLine1",
                "addressLine2",
                "addressLine3",
                "postalCode",
                "phone",
                "extendedFields",
            ] {
                remove_path(&mut recipient, &["deliveryAddress", key]);
            }
        }
        let delivered_long_ago = status == "SHIPPED"
            && order
                .pointer("/fulfillment/deliverByWindow/latestDateTime")
                .and_then(Value::as_str)
                .and_then(parse_datetime)
                .is_some_and(|latest| now > latest);
        if by_amazon || delivered_long_ago {
            remove_path(&mut recipient, &["deliveryAddress", "phone"]);
        }
        out.insert("recipient".into(), recipient);
    }
    if wants("PROCEEDS") && !pending {
        copy(src, &mut out, "proceeds");
    }
    if wants("PAYMENT") {
        copy(src, &mut out, "payment");
    }
    if wants("TAX") {
        copy(src, &mut out, "tax");
    }
    if wants("FULFILLMENT") {
        copy(src, &mut out, "fulfillment");
    }
    let items: Vec<Value> = src
        .get("orderItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|item| {
            let mut o = Map::new();
            for key in [
                "orderItemId",
                "quantityOrdered",
                "measurement",
                "associatedOrderItems",
                "programs",
                "product",
            ] {
                copy(item, &mut o, key);
            }
            let optional = [
                ("PROCEEDS", "proceeds"),
                ("EXPENSE", "expense"),
                ("PROMOTION", "promotion"),
                ("CANCELLATION", "cancellation"),
                ("FULFILLMENT", "fulfillment"),
                ("TAX", "tax"),
            ];
            for (dataset, key) in optional {
                if wants(dataset) && !(pending && key == "proceeds") {
                    copy(item, &mut o, key);
                }
            }
            let mut v = Value::Object(o);
            if pending {
                remove_path(&mut v, &["product", "price"]);
            }
            if pii_hidden {
                remove_path(&mut v, &["product", "customization", "customizedUrl"]);
                remove_path(
                    &mut v,
                    &["fulfillment", "packing", "giftOption", "giftMessage"],
                );
            }
            v
        })
        .collect();
    out.insert("orderItems".into(), Value::Array(items));
    if wants("PACKAGES") {
        copy(src, &mut out, "packages");
    }
    if wants("FULFILLMENT_ORDERS") {
        copy(src, &mut out, "fulfillmentOrders");
    }
    Value::Object(out)
}

fn parse_included(q: &Query) -> Result<Vec<String>, String> {
    let list = q.list("includedData");
    for v in &list {
        if !INCLUDED_DATA.contains(&v.as_str()) {
            return Err(format!(
                "Invalid includedData value '{v}'. Valid values: {}.",
                INCLUDED_DATA.join(", ")
            ));
        }
    }
    Ok(list)
}

fn fingerprint(parts: &[(&str, String)]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in parts {
        for b in k.bytes().chain([b'=']).chain(v.bytes()).chain([b';']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

// ---------------------------------------------------------------------------------------
// Handlers.

struct Search {
    by_created: bool,
    after: OffsetDateTime,
    before: OffsetDateTime,
    marketplaces: Vec<String>,
    statuses: Vec<String>,
    fulfilled_by: Vec<String>,
    page_size: usize,
    /// Keyset position: (time in unix nanos, order id) of the last order already returned.
    position: Option<(i128, String)>,
    fingerprint: String,
    included: Vec<String>,
}

fn parse_search(
    q: &Query,
    seller_id: &str,
    seller_marketplaces: &[String],
    now: OffsetDateTime,
) -> Result<Search, String> {
    let included = parse_included(q)?;
    let created_after = q.datetime("createdAfter")?;
    let created_before = q.datetime("createdBefore")?;
    let updated_after = q.datetime("lastUpdatedAfter")?;
    let updated_before = q.datetime("lastUpdatedBefore")?;
    let (by_created, after, before, before_name, after_name) = match (created_after, updated_after)
    {
        (Some(_), Some(_)) | (None, None) => {
            return Err(
                "Exactly one of createdAfter and lastUpdatedAfter must be provided.".into(),
            );
        }
        (Some(a), None) => {
            if updated_before.is_some() {
                return Err("lastUpdatedBefore cannot be provided with createdAfter.".into());
            }
            (true, a, created_before, "createdBefore", "createdAfter")
        }
        (None, Some(a)) => {
            if created_before.is_some() {
                return Err("createdBefore cannot be provided with lastUpdatedAfter.".into());
            }
            (
                false,
                a,
                updated_before,
                "lastUpdatedBefore",
                "lastUpdatedAfter",
            )
        }
    };
    // A given `*Before` is checked against the exact bound (the model: "at least two minutes
    // before the time of the request"); only the default is cut to whole seconds, so that the
    // echoed `*Before` (second precision) is exactly the bound used.
    let exact_latest = now - Duration::minutes(LAG_MINUTES);
    let latest = exact_latest.replace_nanosecond(0).unwrap_or(exact_latest);
    if let Some(b) = before {
        if b < after {
            return Err(format!(
                "{before_name} must be equal to or after {after_name}."
            ));
        }
        if b > exact_latest {
            return Err(format!(
                "{before_name} must be at least two minutes before the time of the request."
            ));
        }
    }
    let marketplaces = q.list("marketplaceIds");
    if marketplaces.len() > 50 {
        return Err("marketplaceIds accepts at most 50 values.".into());
    }
    for m in &marketplaces {
        if !seller_marketplaces.contains(m) {
            return Err(format!(
                "Invalid marketplaceId '{m}': the seller does not participate in it."
            ));
        }
    }
    let statuses = q.list("fulfillmentStatuses");
    for s in &statuses {
        if !FULFILLMENT_STATUSES.contains(&s.as_str()) {
            return Err(format!("Invalid fulfillmentStatuses value '{s}'."));
        }
    }
    let fulfilled = q.list("fulfilledBy");
    for s in &fulfilled {
        if s != "MERCHANT" && s != "AMAZON" {
            return Err(format!(
                "Invalid fulfilledBy value '{s}'. Valid values: MERCHANT, AMAZON."
            ));
        }
    }
    let page_size = match q.get("maxResultsPerPage") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err("maxResultsPerPage must be an integer between 1 and 100.".into()),
        },
    };
    let print = fingerprint(&[
        ("seller", seller_id.to_string()),
        ("createdAfter", q.get("createdAfter").unwrap_or("").into()),
        ("createdBefore", q.get("createdBefore").unwrap_or("").into()),
        (
            "lastUpdatedAfter",
            q.get("lastUpdatedAfter").unwrap_or("").into(),
        ),
        (
            "lastUpdatedBefore",
            q.get("lastUpdatedBefore").unwrap_or("").into(),
        ),
        ("marketplaceIds", marketplaces.join(",")),
        ("fulfillmentStatuses", statuses.join(",")),
        ("fulfilledBy", fulfilled.join(",")),
    ]);
    let mut search = Search {
        by_created,
        after,
        before: before.unwrap_or(latest),
        marketplaces: if marketplaces.is_empty() {
            seller_marketplaces.to_vec()
        } else {
            marketplaces
        },
        statuses,
        fulfilled_by: fulfilled,
        page_size,
        position: None,
        fingerprint: print,
        included,
    };
    if let Some(token) = q.get("paginationToken") {
        let bad = || "Invalid paginationToken.".to_string();
        let t = decode_token(token).ok_or_else(bad)?;
        if t["f"].as_str() != Some(search.fingerprint.as_str()) {
            return Err("The request parameters do not match those of the request that returned this paginationToken. Only maxResultsPerPage and includedData may change.".into());
        }
        let issued = t["x"].as_i64().ok_or_else(bad)?;
        if now.unix_timestamp() - issued > TOKEN_TTL_HOURS * 3600 {
            return Err("The paginationToken has expired.".into());
        }
        let before = t["b"]
            .as_str()
            .and_then(|b| b.parse::<i128>().ok())
            .and_then(|b| OffsetDateTime::from_unix_timestamp_nanos(b).ok())
            .ok_or_else(bad)?;
        let key = t["k"]
            .as_str()
            .and_then(|k| k.parse::<i128>().ok())
            .ok_or_else(bad)?;
        let id = t["i"].as_str().ok_or_else(bad)?;
        search.before = before;
        search.position = Some((key, id.to_string()));
    }
    Ok(search)
}

/// `GET /orders/2026-01-01/orders`: searchOrders.
pub async fn search_orders(
    AxumState(sim): AxumState<Arc<Sim>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let call = match sim.begin(Operation::SearchOrders, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let st = sim.lock();
    let Some(seller) = st.sellers.get(&call.seller_id) else {
        drop(st);
        return call.error(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        );
    };
    let search = match parse_search(&q, &call.seller_id, &seller.marketplace_ids, call.now) {
        Ok(s) => s,
        Err(msg) => {
            drop(st);
            return call.invalid_input(&msg);
        }
    };
    let time_key = if search.by_created {
        "createdTime"
    } else {
        "lastUpdatedTime"
    };
    let mut matching: Vec<(i128, &String, &Value)> = seller
        .orders
        .iter()
        .filter_map(|(id, order)| {
            let t = order_time(order, time_key)?;
            (t >= search.after && t <= search.before).then_some((
                t.unix_timestamp_nanos(),
                id,
                order,
            ))
        })
        .filter(|(_, _, o)| {
            let mp = o
                .pointer("/salesChannel/marketplaceId")
                .and_then(Value::as_str)
                .unwrap_or("");
            search.marketplaces.iter().any(|m| m == mp)
        })
        .filter(|(_, _, o)| {
            search.statuses.is_empty() || search.statuses.iter().any(|s| s == order_status(o))
        })
        .filter(|(_, _, o)| {
            search.fulfilled_by.is_empty()
                || search.fulfilled_by.iter().any(|s| s == fulfilled_by(o))
        })
        .filter(|(k, id, _)| match &search.position {
            None => true,
            Some((pk, pid)) => (*k, id.as_str()) > (*pk, pid.as_str()),
        })
        .collect();
    matching.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let more = matching.len() > search.page_size;
    matching.truncate(search.page_size);
    let orders: Vec<Value> = matching
        .iter()
        .map(|(_, _, o)| project_order(o, &search.included, call.now))
        .collect();
    let mut body = json!({ "orders": orders });
    if more && let Some((k, id, _)) = matching.last() {
        let token = encode_token(&json!({
            "f": search.fingerprint,
            "b": search.before.unix_timestamp_nanos().to_string(),
            "k": k.to_string(),
            "i": id,
            "x": call.now.unix_timestamp(),
        }));
        body["pagination"] = json!({ "nextToken": token });
    }
    let before_key = if search.by_created {
        "createdBefore"
    } else {
        "lastUpdatedBefore"
    };
    body[before_key] = json!(format_datetime(search.before));
    drop(st);
    call.json(StatusCode::OK, body)
}

/// Whether `id` has the shape of an Amazon order id (`3-7-7` digits).
fn is_order_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip([3, 7, 7])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `GET /orders/2026-01-01/orders/{orderId}`: getOrder. An order the seller does not have is
/// 404; an id that cannot be an Amazon order id (and is not a scenario's own) is 400, as the
/// sandbox answers `TEST_CASE_400`.
pub async fn get_order(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let call = match sim.begin(Operation::GetOrder, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let included = match parse_included(&q) {
        Ok(i) => i,
        Err(msg) => return call.invalid_input(&msg),
    };
    let order = sim
        .lock()
        .sellers
        .get(&call.seller_id)
        .and_then(|s| s.orders.get(&order_id))
        .map(|o| project_order(o, &included, call.now));
    match order {
        Some(order) => call.json(StatusCode::OK, json!({ "order": order })),
        None if !is_order_id(&order_id) => {
            call.invalid_input(&format!("Invalid orderId '{order_id}'."))
        }
        None => call.not_found(&format!("Order {order_id} was not found.")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::{Credentials, GeneratorSpec, Scenario, SellerSpec};
    use crate::state::AccessToken;
    use crate::world::{self, FulfilledBy, OrderLine, OrderSpec};
    use axum::body::to_bytes;
    use time::macros::datetime;

    pub(crate) const T0: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    pub(crate) fn seller_spec(
        id: &str,
        orders: Vec<Value>,
        generator: Option<GeneratorSpec>,
    ) -> SellerSpec {
        SellerSpec {
            seller_id: id.into(),
            credentials: Credentials {
                client_id: format!("{id}-c"),
                client_secret: "s".into(),
                refresh_token: format!("{id}-r"),
            },
            marketplace_ids: vec!["ATVPDKIKX0DER".into(), "A2EUQ1WTGCTBG2".into()],
            listings: vec![],
            orders,
            generator,
        }
    }

    /// A frozen-clock simulator with a token `tok-<seller>` per seller, usage plans off.
    pub(crate) fn frozen_sim(
        sellers: Vec<SellerSpec>,
        timing: crate::scenario::Timing,
    ) -> Arc<Sim> {
        let mut scenario = Scenario {
            clock: Default::default(),
            timing,
            sellers,
        };
        scenario.clock.start = Some(T0);
        scenario.clock.speed = 0.0;
        let sim = crate::build(crate::SimOptions::new(scenario)).unwrap();
        {
            let mut st = sim.lock();
            st.limiter.disabled = true;
            let ids: Vec<String> = st.sellers.keys().cloned().collect();
            for id in ids {
                st.tokens.insert(
                    format!("tok-{id}"),
                    AccessToken {
                        seller_id: id,
                        expires_at: T0 + Duration::days(3650),
                    },
                );
            }
        }
        sim
    }

    pub(crate) fn headers(seller: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-access-token",
            format!("tok-{seller}").parse().unwrap(),
        );
        h
    }

    pub(crate) async fn body_json(r: Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let bytes = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn line(sku: &str, item_id: &str, qty: u32, price: &str) -> OrderLine {
        OrderLine {
            order_item_id: item_id.into(),
            sku: sku.into(),
            asin: format!("B0{sku:0>8}"),
            title: format!("Title {sku}"),
            condition: "new".into(),
            unit_price: price.parse().unwrap(),
            quantity: qty,
        }
    }

    pub(crate) fn order(
        id: &str,
        created: OffsetDateTime,
        marketplace: &str,
        by: FulfilledBy,
        status: &str,
    ) -> Value {
        let mut o = world::build_order(&OrderSpec {
            order_id: id.into(),
            marketplace_id: marketplace.into(),
            created,
            lines: vec![
                line("SKU-A", &format!("{}1", &id[12..]), 2, "10.00"),
                line("SKU-B", &format!("{}2", &id[12..]), 1, "4.50"),
            ],
            fulfilled_by: by,
            service_level: "STANDARD".into(),
            customer: world::random_customer(&mut crate::state::Rng::new(id.len() as u64), "US"),
            seller_order_id: None,
            prime: false,
            business: None,
        });
        match status {
            "PENDING" => {}
            "UNSHIPPED" => world::release_order(&mut o, created + Duration::minutes(30)),
            "CANCELLED" => {
                world::cancel_order(&mut o, created + Duration::minutes(30), "BUYER", "x")
            }
            "SHIPPED" => {
                world::release_order(&mut o, created + Duration::minutes(30));
                world::ship_by_amazon(&mut o, created + Duration::hours(3));
            }
            other => panic!("{other}"),
        }
        o
    }

    async fn search(sim: &Arc<Sim>, seller: &str, query: &str) -> (u16, Value) {
        body_json(
            search_orders(
                AxumState(Arc::clone(sim)),
                headers(seller),
                RawQuery(Some(query.into())),
            )
            .await,
        )
        .await
    }

    fn ids(body: &Value) -> Vec<String> {
        body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["orderId"].as_str().unwrap().to_string())
            .collect()
    }

    fn many_orders() -> Vec<Value> {
        (0..25)
            .map(|i| {
                let created = T0 - Duration::hours(30) + Duration::minutes(i * 37 % 600);
                order(
                    &format!("111-0000000-00000{i:02}"),
                    created,
                    "ATVPDKIKX0DER",
                    FulfilledBy::Merchant,
                    "UNSHIPPED",
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn search_requires_exactly_one_after() {
        let sim = frozen_sim(
            vec![seller_spec("S1", many_orders(), None)],
            Default::default(),
        );

        let (neither, _) = search(&sim, "S1", "").await;
        let (both, body) = search(
            &sim,
            "S1",
            "createdAfter=2026-11-01T00:00:00Z&lastUpdatedAfter=2026-11-01T00:00:00Z",
        )
        .await;
        let (mixed, _) = search(
            &sim,
            "S1",
            "createdAfter=2026-11-01T00:00:00Z&lastUpdatedBefore=2026-11-19T00:00:00Z",
        )
        .await;
        let (ok, _) = search(&sim, "S1", "createdAfter=2026-11-01T00:00:00Z").await;

        assert_eq!((neither, both, mixed, ok), (400, 400, 400, 200));
        assert_eq!(body["errors"][0]["code"], "InvalidInput");
    }

    #[tokio::test]
    async fn before_must_be_two_minutes_old_and_not_before_after() {
        let sim = frozen_sim(
            vec![seller_spec("S1", many_orders(), None)],
            Default::default(),
        );
        let fmt = |t: OffsetDateTime| format_datetime(t);

        let (recent, _) = search(
            &sim,
            "S1",
            &format!(
                "createdAfter=2026-11-01T00:00:00Z&createdBefore={}",
                fmt(T0 - Duration::seconds(60))
            ),
        )
        .await;
        let (reversed, _) = search(
            &sim,
            "S1",
            "createdAfter=2026-11-10T00:00:00Z&createdBefore=2026-11-09T00:00:00Z",
        )
        .await;
        let (old_enough, body) = search(
            &sim,
            "S1",
            &format!(
                "lastUpdatedAfter=2026-11-01T00:00:00Z&lastUpdatedBefore={}",
                fmt(T0 - Duration::minutes(3))
            ),
        )
        .await;
        let (_, defaulted) = search(&sim, "S1", "createdAfter=2026-11-01T00:00:00Z").await;

        assert_eq!((recent, reversed, old_enough), (400, 400, 200));
        assert_eq!(body["lastUpdatedBefore"], fmt(T0 - Duration::minutes(3)));
        assert_eq!(defaulted["createdBefore"], fmt(T0 - Duration::minutes(2)));
        assert!(defaulted.get("lastUpdatedBefore").is_none());
    }

    #[tokio::test]
    async fn invalid_enum_values_are_rejected() {
        let sim = frozen_sim(vec![seller_spec("S1", vec![], None)], Default::default());
        let base = "createdAfter=2026-11-01T00:00:00Z";

        for extra in [
            "includedData=BUYER,ADDRESS",
            "fulfillmentStatuses=Unshipped",
            "fulfilledBy=AFN",
            "maxResultsPerPage=0",
            "maxResultsPerPage=101",
            "marketplaceIds=A1PA6795UKMFR9",
        ] {
            let (status, _) = search(&sim, "S1", &format!("{base}&{extra}")).await;
            assert_eq!(status, 400, "{extra}");
        }
    }

    #[tokio::test]
    async fn pages_cover_every_order_once_in_a_stable_order() {
        let sim = frozen_sim(
            vec![seller_spec("S1", many_orders(), None)],
            Default::default(),
        );
        let base = "createdAfter=2026-11-01T00:00:00Z&marketplaceIds=ATVPDKIKX0DER";

        let (_, all) = search(&sim, "S1", base).await;
        let mut seen = Vec::new();
        let mut query = format!("{base}&maxResultsPerPage=7");
        let mut pages = 0;
        loop {
            let (status, page) = search(&sim, "S1", &query).await;
            assert_eq!(status, 200);
            pages += 1;
            seen.extend(ids(&page));
            match page["pagination"]["nextToken"].as_str() {
                Some(t) => query = format!("{base}&maxResultsPerPage=7&paginationToken={t}"),
                None => break,
            }
        }

        assert_eq!(pages, 4);
        assert_eq!(seen, ids(&all));
        assert_eq!(seen.len(), 25);
        let times: Vec<&str> = all["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["createdTime"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[tokio::test]
    async fn a_token_with_changed_filters_is_refused() {
        let sim = frozen_sim(
            vec![seller_spec("S1", many_orders(), None)],
            Default::default(),
        );
        let (_, first) = search(
            &sim,
            "S1",
            "createdAfter=2026-11-01T00:00:00Z&maxResultsPerPage=5",
        )
        .await;
        let token = first["pagination"]["nextToken"]
            .as_str()
            .unwrap()
            .to_string();

        let (changed, _) = search(
            &sim,
            "S1",
            &format!("createdAfter=2026-11-02T00:00:00Z&paginationToken={token}"),
        )
        .await;
        let (garbage, _) = search(
            &sim,
            "S1",
            "createdAfter=2026-11-01T00:00:00Z&paginationToken=xyz",
        )
        .await;
        let (same, _) = search(&sim, "S1", &format!("createdAfter=2026-11-01T00:00:00Z&maxResultsPerPage=9&includedData=BUYER&paginationToken={token}")).await;

        assert_eq!((changed, garbage, same), (400, 400, 200));
    }

    #[tokio::test]
    async fn filters_select_by_status_channel_marketplace_and_time() {
        let orders = vec![
            order(
                "111-0000000-0000001",
                T0 - Duration::hours(5),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "UNSHIPPED",
            ),
            order(
                "111-0000000-0000002",
                T0 - Duration::hours(4),
                "ATVPDKIKX0DER",
                FulfilledBy::Amazon,
                "SHIPPED",
            ),
            order(
                "701-0000000-0000003",
                T0 - Duration::hours(3),
                "A2EUQ1WTGCTBG2",
                FulfilledBy::Merchant,
                "PENDING",
            ),
            order(
                "111-0000000-0000004",
                T0 - Duration::days(3),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "CANCELLED",
            ),
        ];
        let sim = frozen_sim(
            vec![
                seller_spec("S1", orders, None),
                seller_spec("S2", vec![], None),
            ],
            Default::default(),
        );
        let after = format_datetime(T0 - Duration::days(1));

        let (_, unshipped) = search(
            &sim,
            "S1",
            &format!("createdAfter={after}&fulfillmentStatuses=UNSHIPPED,PENDING"),
        )
        .await;
        let (_, amazon) = search(
            &sim,
            "S1",
            &format!("createdAfter={after}&fulfilledBy=AMAZON"),
        )
        .await;
        let (_, canada) = search(
            &sim,
            "S1",
            &format!("createdAfter={after}&marketplaceIds=A2EUQ1WTGCTBG2"),
        )
        .await;
        let (_, updated) = search(
            &sim,
            "S1",
            &format!(
                "lastUpdatedAfter={}",
                format_datetime(T0 - Duration::hours(3) - Duration::minutes(1))
            ),
        )
        .await;
        let (_, other_seller) = search(&sim, "S2", "createdAfter=2026-01-01T00:00:00Z").await;

        assert_eq!(
            ids(&unshipped),
            ["111-0000000-0000001", "701-0000000-0000003"]
        );
        assert_eq!(ids(&amazon), ["111-0000000-0000002"]);
        assert_eq!(ids(&canada), ["701-0000000-0000003"]);
        // Order 3 was created (so last updated) 3 hours ago, order 2 shipped by Amazon 1 hour ago.
        assert_eq!(
            ids(&updated),
            ["701-0000000-0000003", "111-0000000-0000002"]
        );
        assert!(ids(&other_seller).is_empty());
    }

    #[tokio::test]
    async fn included_data_selects_datasets() {
        let o = order(
            "111-0000000-0000001",
            T0 - Duration::hours(5),
            "ATVPDKIKX0DER",
            FulfilledBy::Merchant,
            "UNSHIPPED",
        );
        let sim = frozen_sim(vec![seller_spec("S1", vec![o], None)], Default::default());
        let get = |q: &str| {
            let sim = Arc::clone(&sim);
            let q = q.to_string();
            async move {
                body_json(
                    get_order(
                        AxumState(sim),
                        Path("111-0000000-0000001".into()),
                        headers("S1"),
                        RawQuery(Some(q)),
                    )
                    .await,
                )
                .await
                .1
            }
        };

        let bare = get("").await;
        let some = get("includedData=BUYER,FULFILLMENT,PROCEEDS").await;

        let bare = &bare["order"];
        for key in ["buyer", "recipient", "proceeds", "fulfillment", "packages"] {
            assert!(bare.get(key).is_none(), "{key} without includedData");
        }
        assert!(bare["orderItems"][0].get("proceeds").is_none());
        assert!(bare["orderItems"][0].get("fulfillment").is_none());
        assert!(bare["orderItems"][0]["product"]["price"].is_object());
        let some = &some["order"];
        assert!(some["buyer"]["buyerName"].is_string());
        assert_eq!(some["fulfillment"]["fulfillmentStatus"], "UNSHIPPED");
        assert!(some["orderItems"][0]["fulfillment"]["quantityUnfulfilled"].is_u64());
        assert!(some["proceeds"]["grandTotal"]["amount"].is_string());
        assert!(some.get("recipient").is_none());
    }

    #[tokio::test]
    async fn get_order_of_another_seller_is_not_found() {
        let o = order(
            "111-0000000-0000001",
            T0 - Duration::hours(5),
            "ATVPDKIKX0DER",
            FulfilledBy::Merchant,
            "UNSHIPPED",
        );
        let sim = frozen_sim(
            vec![
                seller_spec("S1", vec![o], None),
                seller_spec("S2", vec![], None),
            ],
            Default::default(),
        );

        let r = get_order(
            AxumState(Arc::clone(&sim)),
            Path("111-0000000-0000001".into()),
            headers("S2"),
            RawQuery(None),
        )
        .await;
        let (status, body) = body_json(r).await;

        let malformed = get_order(
            AxumState(Arc::clone(&sim)),
            Path("TEST_CASE_400".into()),
            headers("S1"),
            RawQuery(None),
        )
        .await;

        assert_eq!(status, 404);
        assert_eq!(body["errors"][0]["code"], "NotFound");
        assert_eq!(malformed.status(), 400);
    }

    #[tokio::test]
    async fn pii_and_prices_are_withheld_while_pending_and_appear_once_unshipped() {
        let o = order(
            "111-0000000-0000001",
            T0 - Duration::minutes(10),
            "ATVPDKIKX0DER",
            FulfilledBy::Merchant,
            "PENDING",
        );
        let generator = GeneratorSpec {
            orders_per_hour: 0.0,
            pending_minutes: 30,
            cancel_ratio: 0.0,
            fba_ratio: 0.0,
            seed: 1,
            backfill_hours: 0,
        };
        let sim = frozen_sim(
            vec![seller_spec("S1", vec![o], Some(generator))],
            Default::default(),
        );
        let get = || {
            let sim = Arc::clone(&sim);
            async move {
                let r = get_order(
                    AxumState(sim),
                    Path("111-0000000-0000001".into()),
                    headers("S1"),
                    RawQuery(Some(
                        "includedData=BUYER,RECIPIENT,PROCEEDS,FULFILLMENT".into(),
                    )),
                )
                .await;
                body_json(r).await.1["order"].clone()
            }
        };

        let pending = get().await;
        sim.advance_clock(std::time::Duration::from_secs(25 * 60));
        let unshipped = get().await;

        assert_eq!(pending["fulfillment"]["fulfillmentStatus"], "PENDING");
        assert!(pending.get("buyer").is_none());
        let addr = &pending["recipient"]["deliveryAddress"];
        for key in ["name", "addressLine1", "postalCode", "phone"] {
            assert!(addr.get(key).is_none(), "{key} while pending");
        }
        assert!(addr["city"].is_string());
        assert!(pending.get("proceeds").is_none());
        assert!(pending["orderItems"][0]["product"].get("price").is_none());

        assert_eq!(unshipped["fulfillment"]["fulfillmentStatus"], "UNSHIPPED");
        assert_eq!(
            unshipped["lastUpdatedTime"],
            format_datetime(T0 + Duration::minutes(20))
        );
        assert!(unshipped["buyer"]["buyerName"].is_string());
        assert!(
            unshipped["buyer"]["buyerEmail"]
                .as_str()
                .unwrap()
                .ends_with("@marketplace.amazon.com")
        );
        let addr = &unshipped["recipient"]["deliveryAddress"];
        for key in ["name", "addressLine1", "postalCode", "phone"] {
            assert!(addr[key].is_string(), "{key} once unshipped");
        }
        assert!(unshipped["proceeds"]["grandTotal"]["amount"].is_string());
        assert!(unshipped["orderItems"][0]["product"]["price"]["unitPrice"]["amount"].is_string());
    }

    #[tokio::test]
    async fn amazon_fulfilled_orders_never_show_buyer_email_or_phone() {
        let o = order(
            "111-0000000-0000009",
            T0 - Duration::hours(5),
            "ATVPDKIKX0DER",
            FulfilledBy::Amazon,
            "SHIPPED",
        );
        let sim = frozen_sim(vec![seller_spec("S1", vec![o], None)], Default::default());

        let r = get_order(
            AxumState(Arc::clone(&sim)),
            Path("111-0000000-0000009".into()),
            headers("S1"),
            RawQuery(Some("includedData=BUYER,RECIPIENT".into())),
        )
        .await;
        let order = body_json(r).await.1["order"].clone();

        assert!(order["buyer"]["buyerName"].is_string());
        assert!(order["buyer"].get("buyerEmail").is_none());
        assert!(order["recipient"]["deliveryAddress"].get("phone").is_none());
        assert!(order["recipient"]["deliveryAddress"]["addressLine1"].is_string());
    }

    #[test]
    fn scenario_order_validation_names_what_is_wrong() {
        let good = order(
            "111-0000000-0000001",
            T0,
            "ATVPDKIKX0DER",
            FulfilledBy::Merchant,
            "UNSHIPPED",
        );
        let mut no_status = good.clone();
        no_status["fulfillment"]
            .as_object_mut()
            .unwrap()
            .remove("fulfillmentStatus");
        let mut bad_qty = good.clone();
        bad_qty["orderItems"][1]["quantityOrdered"] = json!("2");
        let mut bad_time = good.clone();
        bad_time["createdTime"] = json!("yesterday");

        assert_eq!(
            validate_scenario_order(&good).unwrap(),
            "111-0000000-0000001"
        );
        assert!(
            validate_scenario_order(&no_status)
                .unwrap_err()
                .contains("fulfillmentStatus")
        );
        assert!(
            validate_scenario_order(&bad_qty)
                .unwrap_err()
                .contains("orderItems[1].quantityOrdered")
        );
        assert!(
            validate_scenario_order(&bad_time)
                .unwrap_err()
                .contains("createdTime")
        );
    }
}
