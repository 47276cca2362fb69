//! Flat-file report documents, rendered from the world at the moment a report finishes.
//!
//! Tab-separated, one header row, `\n` line ends, an empty cell for a missing value (tabs and
//! line breaks inside values become spaces). Supported report types:
//!
//! - `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`: one row per order **item** of the
//!   report's marketplaces whose purchase date (`createdTime`) is inside
//!   [dataStartTime, dataEndTime], oldest first. Columns: Amazon's documented attribute list
//!   plus `signature-confirmation-recommended` last, as real files have had since about 2023.
//!   The report option `simHeaderVariant` (simulator-only) picks another variant seen in the
//!   wild: `documented` (the 32 documented columns), `observed` (default, 33) or
//!   `with-order-item-id` (`order-item-id` after `order-status`, seen in 2026). Statuses are
//!   spelled as the report spells them (`Cancelled`, two l's); Pending orders have empty price
//!   and ship-* cells (Amazon has neither authorised payment nor released the address);
//!   amounts of other orders default to `0.00` where the order has no such charge.
//!   Encoded in UTF-8.
//! - `GET_FLAT_FILE_OPEN_LISTINGS_DATA`: `sku, asin, price, quantity` for active listings of
//!   the **first** marketplace only (Amazon documents that only the first one is used); FBA
//!   listings have an empty quantity, as in real files.
//! - `GET_MERCHANT_LISTINGS_ALL_DATA`: the 29 documented columns for every listing of the
//!   first marketplace; `pending-quantity` counts units in Pending merchant orders.
//!
//! Listings reports of western-EU marketplaces are encoded in `Cp1252` and of JP in
//! `Shift_JIS`, the charsets real downloads declare (fact sheet §2, "Character set");
//! characters the charset lacks become `&#NNNN;`, as encoding_rs writes them.
//!
//! Any other report type yields no data (the report ends CANCELLED).

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::scenario::ListingSpec;
use crate::state::{Report, Seller, State};
use crate::world::{self, amount_string, order_status, order_time};

/// The All Orders report (by order date).
pub const ALL_ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
/// The Inventory (open listings) report.
pub const OPEN_LISTINGS: &str = "GET_FLAT_FILE_OPEN_LISTINGS_DATA";
/// The All Listings report.
pub const ALL_LISTINGS: &str = "GET_MERCHANT_LISTINGS_ALL_DATA";

/// Amazon's documented attribute list of the All Orders report (order-tracking-reports-attributes).
pub const ALL_ORDERS_DOCUMENTED_COLUMNS: &[&str] = &[
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "cpf",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
];

/// Columns of GET_FLAT_FILE_OPEN_LISTINGS_DATA (the B2B columns are left out).
pub const OPEN_LISTINGS_COLUMNS: &[&str] = &["sku", "asin", "price", "quantity"];

/// Columns of GET_MERCHANT_LISTINGS_ALL_DATA (inventory-reports-attributes).
pub const ALL_LISTINGS_COLUMNS: &[&str] = &[
    "item-name",
    "item-description",
    "listing-id",
    "seller-sku",
    "price",
    "quantity",
    "open-date",
    "image-url",
    "item-is-marketplace",
    "product-id-type",
    "zshop-shipping-fee",
    "item-note",
    "item-condition",
    "zshop-category1",
    "zshop-browse-path",
    "zshop-storefront-feature",
    "asin1",
    "asin2",
    "asin3",
    "will-ship-internationally",
    "expedited-shipping",
    "zshop-boldface",
    "product-id",
    "bid-for-featured-placement",
    "add-delete",
    "pending-quantity",
    "fulfillment-channel",
    "merchant-shipping-group",
    "status",
];

/// A rendered report document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedDocument {
    /// Bytes in `charset`.
    pub bytes: Vec<u8>,
    /// Charset named in the `Content-Type` (`UTF-8`, `Cp1252`, `Shift_JIS`).
    pub charset: &'static str,
    /// Data rows (header excluded).
    pub rows: usize,
}

/// Renders the document of `report` from the world as it is now; `None` when there is no
/// data (no row, or a report type the simulator does not generate).
pub fn render(st: &State, report: &Report) -> Option<RenderedDocument> {
    let seller = st.sellers.get(&report.seller_id)?;
    let (text, rows, charset) = match report.report_type.as_str() {
        ALL_ORDERS => {
            let (text, rows) = all_orders(seller, report);
            (text, rows, "UTF-8")
        }
        OPEN_LISTINGS | ALL_LISTINGS => {
            let first = report.marketplace_ids.first()?;
            let (text, rows) = if report.report_type == OPEN_LISTINGS {
                open_listings(seller, first)
            } else {
                all_listings(seller, first)
            };
            (text, rows, world::marketplace(first).listings_charset)
        }
        _ => return None,
    };
    if rows == 0 {
        return None;
    }
    Some(RenderedDocument {
        bytes: encode(&text, charset),
        charset,
        rows,
    })
}

fn encode(text: &str, charset: &str) -> Vec<u8> {
    let encoding = match charset {
        "Cp1252" => encoding_rs::WINDOWS_1252,
        "Shift_JIS" => encoding_rs::SHIFT_JIS,
        _ => return text.as_bytes().to_vec(),
    };
    encoding.encode(text).0.into_owned()
}

fn clean(v: &str) -> String {
    v.replace(['\t', '\r', '\n'], " ")
}

fn push_row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    let row: Vec<String> = cells.into_iter().map(|c| clean(&c)).collect();
    out.push_str(&row.join("\t"));
    out.push('\n');
}

/// The report's date format: `2026-11-20T10:00:00+00:00`.
fn report_datetime(t: OffsetDateTime) -> String {
    const FMT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    t.to_offset(time::UtcOffset::UTC)
        .format(FMT)
        .unwrap_or_default()
}

/// Header of the All Orders report for a `simHeaderVariant` report option value.
pub fn all_orders_columns(variant: Option<&str>) -> Vec<&'static str> {
    let mut cols = ALL_ORDERS_DOCUMENTED_COLUMNS.to_vec();
    match variant {
        Some("documented") => {}
        Some("with-order-item-id") => {
            let at = cols
                .iter()
                .position(|c| *c == "order-status")
                .map_or(0, |i| i + 1);
            cols.insert(at, "order-item-id");
            cols.push("signature-confirmation-recommended");
        }
        _ => cols.push("signature-confirmation-recommended"),
    }
    cols
}

fn report_status(status: &str) -> &'static str {
    match status {
        "PENDING" => "Pending",
        "PENDING_AVAILABILITY" => "PendingAvailability",
        "UNSHIPPED" => "Unshipped",
        "PARTIALLY_SHIPPED" => "PartiallyShipped",
        "SHIPPED" => "Shipped",
        "CANCELLED" => "Cancelled",
        "UNFULFILLABLE" => "Unfulfillable",
        _ => "",
    }
}

fn service_level(level: &str) -> &'static str {
    match level {
        "STANDARD" => "Standard",
        "EXPEDITED" => "Expedited",
        "FREE_ECONOMY" => "FreeEconomy",
        "NEXT_DAY" => "NextDay",
        "SAME_DAY" => "SameDay",
        "SECOND_DAY" => "SecondDay",
        "PRIORITY" => "Priority",
        "SCHEDULED" => "Scheduled",
        _ => "",
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Sum of an item's proceeds of `kind` (and `subtype` of its detailed breakdown).
fn proceeds(item: &Value, kind: &str, subtype: Option<&str>) -> Option<rust_decimal::Decimal> {
    let mut total = None;
    for b in item.pointer("/proceeds/breakdowns")?.as_array()? {
        if b["type"] != kind {
            continue;
        }
        let amounts: Vec<&Value> = match subtype {
            None => vec![&b["subtotal"]],
            Some(sub) => b["detailedBreakdowns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["subtype"] == sub)
                .map(|d| &d["value"])
                .collect(),
        };
        for a in amounts {
            let v = a["amount"]
                .as_str()?
                .parse::<rust_decimal::Decimal>()
                .ok()?;
            *total.get_or_insert(rust_decimal::Decimal::ZERO) += v;
        }
    }
    total
}

fn item_status(order_status: &str, item: &Value) -> &'static str {
    let ordered = item["quantityOrdered"].as_u64().unwrap_or(0);
    let shipped = item
        .pointer("/fulfillment/quantityFulfilled")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    match order_status {
        "PENDING" | "PENDING_AVAILABILITY" => "Pending",
        "CANCELLED" => "Cancelled",
        _ if ordered > 0 && shipped >= ordered => "Shipped",
        "SHIPPED" => "Shipped",
        _ => "Unshipped",
    }
}

fn all_orders(seller: &Seller, report: &Report) -> (String, usize) {
    let columns = all_orders_columns(
        report
            .report_options
            .get("simHeaderVariant")
            .map(String::as_str),
    );
    let mut out = String::new();
    push_row(&mut out, columns.iter().map(|c| c.to_string()));
    let mut orders: Vec<(OffsetDateTime, &Value)> = seller
        .orders
        .values()
        .filter_map(|o| Some((order_time(o, "createdTime")?, o)))
        .filter(|(t, _)| report.data_start_time.is_none_or(|s| *t >= s))
        .filter(|(t, _)| report.data_end_time.is_none_or(|e| *t <= e))
        .filter(|(_, o)| {
            let mp = s(o, "/salesChannel/marketplaceId");
            report.marketplace_ids.iter().any(|m| m == mp)
        })
        .collect();
    orders.sort_by(|a, b| (a.0, s(a.1, "/orderId")).cmp(&(b.0, s(b.1, "/orderId"))));
    let mut rows = 0;
    for (created, order) in orders {
        let status = order_status(order);
        let pending = matches!(status, "PENDING" | "PENDING_AVAILABILITY");
        let amazon = world::fulfilled_by(order) == "AMAZON";
        let mp = world::marketplace(s(order, "/salesChannel/marketplaceId"));
        let updated = order_time(order, "lastUpdatedTime").unwrap_or(created);
        let business = order["programs"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x == "AMAZON_BUSINESS"));
        let merchant_order_id = order["orderAliases"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["aliasType"] == "SELLER_ORDER_ID")
            .and_then(|a| a["aliasId"].as_str())
            .unwrap_or("");
        for item in order["orderItems"].as_array().into_iter().flatten() {
            let currency = match s(item, "/product/price/unitPrice/currencyCode") {
                "" => mp.currency,
                c => c,
            };
            let unit = s(item, "/product/price/unitPrice/amount")
                .parse::<rust_decimal::Decimal>()
                .ok();
            let qty = item["quantityOrdered"].as_u64().unwrap_or(0);
            let money = |v: Option<rust_decimal::Decimal>| {
                if pending {
                    String::new()
                } else {
                    amount_string(v.unwrap_or_default(), currency)
                }
            };
            let item_price = proceeds(item, "ITEM", None)
                .or_else(|| unit.map(|u| u * rust_decimal::Decimal::from(qty)));
            let promotion_ids: Vec<&str> = item
                .pointer("/promotion/breakdowns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|b| b["promotionId"].as_str())
                .collect();
            let signature = item
                .pointer("/fulfillment/shipping/shippingConstraints/signatureConfirmation")
                .is_some();
            let value = |col: &str| -> String {
                match col {
                    "amazon-order-id" => s(order, "/orderId").into(),
                    "merchant-order-id" => merchant_order_id.into(),
                    "purchase-date" => report_datetime(created),
                    "last-updated-date" => report_datetime(updated),
                    "order-status" => report_status(status).into(),
                    "order-item-id" => s(item, "/orderItemId").into(),
                    "fulfillment-channel" => if amazon { "Amazon" } else { "Merchant" }.into(),
                    "sales-channel" => match s(order, "/salesChannel/marketplaceName") {
                        "" => mp.name.into(),
                        n => n.into(),
                    },
                    "ship-service-level" => {
                        service_level(s(order, "/fulfillment/fulfillmentServiceLevel")).into()
                    }
                    "product-name" => s(item, "/product/title").into(),
                    "sku" => s(item, "/product/sellerSku").into(),
                    "asin" => s(item, "/product/asin").into(),
                    "item-status" => item_status(status, item).into(),
                    "quantity" => qty.to_string(),
                    "currency" => {
                        if pending {
                            String::new()
                        } else {
                            currency.into()
                        }
                    }
                    "item-price" => money(item_price),
                    "item-tax" => money(proceeds(item, "TAX", Some("ITEM"))),
                    "shipping-price" => money(proceeds(item, "SHIPPING", None)),
                    "shipping-tax" => money(proceeds(item, "TAX", Some("SHIPPING"))),
                    "gift-wrap-price" => money(proceeds(item, "GIFT_WRAP", None)),
                    "gift-wrap-tax" => money(proceeds(item, "TAX", Some("GIFT_WRAP"))),
                    "item-promotion-discount" => money(proceeds(item, "DISCOUNT", Some("ITEM"))),
                    "ship-promotion-discount" => {
                        money(proceeds(item, "DISCOUNT", Some("SHIPPING")))
                    }
                    "ship-city" | "ship-state" | "ship-postal-code" | "ship-country" if pending => {
                        String::new()
                    }
                    "ship-city" => s(order, "/recipient/deliveryAddress/city").into(),
                    "ship-state" => s(order, "/recipient/deliveryAddress/stateOrRegion").into(),
                    "ship-postal-code" => s(order, "/recipient/deliveryAddress/postalCode").into(),
                    "ship-country" => s(order, "/recipient/deliveryAddress/countryCode").into(),
                    "promotion-ids" => promotion_ids.join(","),
                    "is-business-order" => business.to_string(),
                    "purchase-order-number" => s(order, "/buyer/buyerPurchaseOrderNumber").into(),
                    "price-designation" => {
                        if s(item, "/product/price/priceDesignation") == "BUSINESS_PRICE" {
                            "BusinessPrice".into()
                        } else {
                            String::new()
                        }
                    }
                    "signature-confirmation-recommended" => signature.to_string(),
                    // order-channel (multi-channel only), cpf (Brazilian tax id): empty.
                    _ => String::new(),
                }
            };
            push_row(&mut out, columns.iter().map(|c| value(c)));
            rows += 1;
        }
    }
    (out, rows)
}

fn listings_of<'a>(
    seller: &'a Seller,
    marketplace_id: &'a str,
) -> impl Iterator<Item = &'a ListingSpec> {
    seller
        .listings
        .values()
        .filter(move |l| l.marketplace_id == marketplace_id)
}

fn is_fba(l: &ListingSpec) -> bool {
    l.fulfillment_channel != "DEFAULT"
}

fn open_listings(seller: &Seller, marketplace_id: &str) -> (String, usize) {
    let mut out = String::new();
    push_row(
        &mut out,
        OPEN_LISTINGS_COLUMNS.iter().map(|c| c.to_string()),
    );
    let mut rows = 0;
    for l in listings_of(seller, marketplace_id).filter(|l| l.status.eq_ignore_ascii_case("Active"))
    {
        let quantity = if is_fba(l) {
            String::new()
        } else {
            l.quantity.to_string()
        };
        push_row(
            &mut out,
            [
                l.sku.clone(),
                l.asin.clone(),
                l.price.clone().unwrap_or_default(),
                quantity,
            ],
        );
        rows += 1;
    }
    (out, rows)
}

/// Amazon's numeric item-condition code for a listing condition.
fn condition_code(condition: &str) -> &'static str {
    match condition.to_ascii_lowercase().as_str() {
        "used_like_new" => "1",
        "used_very_good" => "2",
        "used_good" => "3",
        "used_acceptable" => "4",
        "collectible_like_new" => "5",
        "collectible_very_good" => "6",
        "collectible_good" => "7",
        "collectible_acceptable" => "8",
        "refurbished" | "certified_refurbished" => "10",
        _ => "11",
    }
}

/// A stable listing id in Amazon's style (`1120Z4ABCDE`), derived from marketplace and SKU.
fn listing_id(marketplace_id: &str, sku: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in marketplace_id.bytes().chain([0]).chain(sku.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut tail = String::new();
    let mut x = h / 10_000;
    for _ in 0..6 {
        let c = (x % 36) as u8;
        tail.push(char::from(if c < 10 { b'0' + c } else { b'A' + c - 10 }));
        x /= 36;
    }
    format!("{:04}Z{tail}", h % 10_000)
}

fn all_listings(seller: &Seller, marketplace_id: &str) -> (String, usize) {
    // Units reserved by Pending merchant orders, per SKU.
    let mut pending: BTreeMap<&str, u64> = BTreeMap::new();
    for order in seller.orders.values() {
        if order_status(order) != "PENDING"
            || world::fulfilled_by(order) != "MERCHANT"
            || s(order, "/salesChannel/marketplaceId") != marketplace_id
        {
            continue;
        }
        for item in order["orderItems"].as_array().into_iter().flatten() {
            *pending.entry(s(item, "/product/sellerSku")).or_default() +=
                item["quantityOrdered"].as_u64().unwrap_or(0);
        }
    }
    const OPEN_DATE: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    let mut out = String::new();
    push_row(&mut out, ALL_LISTINGS_COLUMNS.iter().map(|c| c.to_string()));
    let mut rows = 0;
    for l in listings_of(seller, marketplace_id) {
        let value = |col: &str| -> String {
            match col {
                "item-name" => l.title.clone(),
                "listing-id" => listing_id(marketplace_id, &l.sku),
                "seller-sku" => l.sku.clone(),
                "price" => l.price.clone().unwrap_or_default(),
                "quantity" if is_fba(l) => String::new(),
                "quantity" => l.quantity.to_string(),
                "open-date" => l
                    .open_date
                    .and_then(|d| d.to_offset(time::UtcOffset::UTC).format(OPEN_DATE).ok())
                    .unwrap_or_default(),
                "item-is-marketplace" => "y".into(),
                "product-id-type" => "1".into(),
                "item-condition" => condition_code(&l.condition).into(),
                "asin1" | "product-id" => l.asin.clone(),
                "pending-quantity" => pending
                    .get(l.sku.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                "fulfillment-channel" => l.fulfillment_channel.clone(),
                "merchant-shipping-group" if !is_fba(l) => "Migrated Template".into(),
                "status" => l.status.clone(),
                _ => String::new(),
            }
        };
        push_row(&mut out, ALL_LISTINGS_COLUMNS.iter().map(|c| value(c)));
        rows += 1;
    }
    (out, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::{T0, order, seller_spec};
    use crate::scenario::Scenario;
    use crate::state::{PlannedOutcome, ProcessingStatus};
    use crate::world::FulfilledBy;
    use time::Duration;

    fn listing(sku: &str, mp: &str, title: &str, channel: &str, status: &str) -> ListingSpec {
        ListingSpec {
            sku: sku.into(),
            asin: format!("B0{sku:0>8}"),
            title: title.into(),
            price: Some("9.99".into()),
            currency: None,
            quantity: 4,
            marketplace_id: mp.into(),
            fulfillment_channel: channel.into(),
            status: status.into(),
            product_type: "PRODUCT".into(),
            lead_time_days: None,
            condition: "new".into(),
            open_date: Some(T0 - Duration::days(100)),
        }
    }

    fn state() -> State {
        let orders = vec![
            order(
                "111-0000000-0000001",
                T0 - Duration::hours(30),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "UNSHIPPED",
            ),
            order(
                "111-0000000-0000002",
                T0 - Duration::hours(20),
                "ATVPDKIKX0DER",
                FulfilledBy::Amazon,
                "SHIPPED",
            ),
            order(
                "111-0000000-0000003",
                T0 - Duration::minutes(10),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "PENDING",
            ),
            order(
                "111-0000000-0000004",
                T0 - Duration::hours(10),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "CANCELLED",
            ),
            order(
                "701-0000000-0000005",
                T0 - Duration::hours(10),
                "A2EUQ1WTGCTBG2",
                FulfilledBy::Merchant,
                "UNSHIPPED",
            ),
        ];
        let mut spec = seller_spec("S1", orders, None);
        spec.marketplace_ids.push("A1PA6795UKMFR9".into());
        spec.listings = vec![
            listing("MUG", "ATVPDKIKX0DER", "Mug", "DEFAULT", "Active"),
            listing("FBA", "ATVPDKIKX0DER", "Boxed", "AMAZON_NA", "Active"),
            listing("OLD", "ATVPDKIKX0DER", "Old", "DEFAULT", "Inactive"),
            listing("SKU-A", "ATVPDKIKX0DER", "A", "DEFAULT", "Active"),
            listing(
                "TASSE",
                "A1PA6795UKMFR9",
                "Kaffeetasse – groß, weiß",
                "DEFAULT",
                "Active",
            ),
        ];
        let scenario = Scenario {
            clock: Default::default(),
            timing: Default::default(),
            sellers: vec![spec],
        };
        State::from_scenario(&scenario, T0).unwrap()
    }

    fn report(
        kind: &str,
        mps: &[&str],
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
    ) -> Report {
        Report {
            report_id: "1".into(),
            seller_id: "S1".into(),
            report_type: kind.into(),
            marketplace_ids: mps.iter().map(|m| m.to_string()).collect(),
            data_start_time: start,
            data_end_time: end,
            report_options: Default::default(),
            created_time: T0,
            processing_start_time: None,
            processing_end_time: None,
            status: ProcessingStatus::InQueue,
            report_document_id: None,
            planned: PlannedOutcome::Normal,
            verbatim: None,
        }
    }

    fn table(doc: &RenderedDocument) -> Vec<BTreeMap<String, String>> {
        let text = String::from_utf8(doc.bytes.clone()).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        lines
            .map(|l| {
                let cells: Vec<&str> = l.split('\t').collect();
                assert_eq!(cells.len(), header.len(), "{l}");
                header
                    .iter()
                    .zip(cells)
                    .map(|(h, c)| (h.to_string(), c.to_string()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn orders_report_has_one_row_per_item_in_window_and_marketplace() {
        let st = state();
        let r = report(
            ALL_ORDERS,
            &["ATVPDKIKX0DER"],
            Some(T0 - Duration::hours(25)),
            Some(T0),
        );

        let doc = render(&st, &r).unwrap();
        let rows = table(&doc);

        // Orders 2, 4, 3 (in purchase order), two items each; order 1 is too old, 5 is in CA.
        let ids: Vec<&str> = rows.iter().map(|r| r["amazon-order-id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "111-0000000-0000002",
                "111-0000000-0000002",
                "111-0000000-0000004",
                "111-0000000-0000004",
                "111-0000000-0000003",
                "111-0000000-0000003"
            ]
        );
        assert_eq!(doc.rows, 6);
        assert_eq!(doc.charset, "UTF-8");
        let shipped = &rows[0];
        assert_eq!(shipped["order-status"], "Shipped");
        assert_eq!(shipped["fulfillment-channel"], "Amazon");
        assert_eq!(shipped["sales-channel"], "Amazon.com");
        assert_eq!(shipped["item-price"], "20.00");
        assert_eq!(shipped["item-tax"], "1.60");
        assert_eq!(shipped["currency"], "USD");
        assert_eq!(shipped["ship-service-level"], "Standard");
        assert_eq!(
            shipped["purchase-date"],
            report_datetime(T0 - Duration::hours(20))
        );
        assert!(shipped["purchase-date"].ends_with("+00:00"));
        assert_eq!(rows[2]["order-status"], "Cancelled");
        assert_eq!(rows[2]["item-status"], "Cancelled");
        let pending = &rows[4];
        assert_eq!(pending["order-status"], "Pending");
        assert_eq!(pending["item-price"], "");
        assert_eq!(pending["ship-postal-code"], "");
        assert_eq!(pending["fulfillment-channel"], "Merchant");
    }

    #[test]
    fn orders_report_header_is_amazons_list_plus_signature_column() {
        let st = state();
        let r = report(
            ALL_ORDERS,
            &["ATVPDKIKX0DER"],
            Some(T0 - Duration::days(3)),
            Some(T0),
        );

        let doc = render(&st, &r).unwrap();
        let text = String::from_utf8(doc.bytes).unwrap();
        let header = text.lines().next().unwrap();

        assert_eq!(
            header,
            "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tsales-channel\torder-channel\tship-service-level\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\titem-tax\tshipping-price\tshipping-tax\tgift-wrap-price\tgift-wrap-tax\titem-promotion-discount\tship-promotion-discount\tship-city\tship-state\tship-postal-code\tship-country\tpromotion-ids\tcpf\tis-business-order\tpurchase-order-number\tprice-designation\tsignature-confirmation-recommended"
        );
    }

    #[test]
    fn header_variant_option_switches_columns() {
        let st = state();
        let mut r = report(
            ALL_ORDERS,
            &["ATVPDKIKX0DER"],
            Some(T0 - Duration::days(3)),
            Some(T0),
        );
        r.report_options
            .insert("simHeaderVariant".into(), "with-order-item-id".into());

        let rows = table(&render(&st, &r).unwrap());

        assert_eq!(rows[0]["order-item-id"], "00000011");
        assert_eq!(all_orders_columns(Some("documented")).len(), 32);
    }

    #[test]
    fn an_empty_window_has_no_data() {
        let st = state();
        let r = report(
            ALL_ORDERS,
            &["ATVPDKIKX0DER"],
            Some(T0 - Duration::days(30)),
            Some(T0 - Duration::days(20)),
        );

        assert_eq!(render(&st, &r), None);
        assert_eq!(
            render(
                &st,
                &report("GET_SOMETHING_ELSE", &["ATVPDKIKX0DER"], None, None)
            ),
            None
        );
    }

    #[test]
    fn open_listings_report_lists_active_listings_of_the_first_marketplace() {
        let st = state();

        let rows = table(
            &render(
                &st,
                &report(
                    OPEN_LISTINGS,
                    &["ATVPDKIKX0DER", "A1PA6795UKMFR9"],
                    None,
                    None,
                ),
            )
            .unwrap(),
        );

        let skus: Vec<&str> = rows.iter().map(|r| r["sku"].as_str()).collect();
        assert_eq!(skus, ["FBA", "MUG", "SKU-A"]);
        assert_eq!(rows[0]["quantity"], "");
        assert_eq!(rows[1]["quantity"], "4");
        assert_eq!(rows[1]["price"], "9.99");
    }

    #[test]
    fn all_listings_report_has_the_documented_columns_and_pending_quantity() {
        let st = state();

        let doc = render(&st, &report(ALL_LISTINGS, &["ATVPDKIKX0DER"], None, None)).unwrap();
        let rows = table(&doc);

        assert_eq!(rows[0].len(), 29);
        let text = String::from_utf8(doc.bytes.clone()).unwrap();
        assert_eq!(
            text.lines().next().unwrap().split('\t').collect::<Vec<_>>(),
            ALL_LISTINGS_COLUMNS
        );
        let old = rows.iter().find(|r| r["seller-sku"] == "OLD").unwrap();
        assert_eq!(old["status"], "Inactive");
        let a = rows.iter().find(|r| r["seller-sku"] == "SKU-A").unwrap();
        // The Pending order 3 reserves 2 units of SKU-A.
        assert_eq!(a["pending-quantity"], "2");
        assert_eq!(a["item-condition"], "11");
        assert_eq!(a["asin1"], a["product-id"]);
        let fba = rows.iter().find(|r| r["seller-sku"] == "FBA").unwrap();
        assert_eq!(fba["fulfillment-channel"], "AMAZON_NA");
    }

    #[test]
    fn eu_listings_reports_are_cp1252() {
        let st = state();

        let doc = render(&st, &report(ALL_LISTINGS, &["A1PA6795UKMFR9"], None, None)).unwrap();

        assert_eq!(doc.charset, "Cp1252");
        let (text, _, errors) = encoding_rs::WINDOWS_1252.decode(&doc.bytes);
        assert!(!errors);
        assert!(text.contains("Kaffeetasse – groß, weiß"));
        assert!(
            String::from_utf8(doc.bytes).is_err(),
            "ß must not be UTF-8 encoded"
        );
    }
}
