//! The moving world: the one place that makes orders, the order generator, and the order
//! status transitions Amazon performs on its own.
//!
//! Orders are stored in full as Orders API v2026-01-01 `Order` JSON (every dataset present);
//! [`crate::orders`] trims them to what a caller may see. [`build_order`] is the single home
//! of "make an order": the generator and the built-in sample ([`crate::sample`]) both use it,
//! then move the order along with [`release_order`], [`cancel_order`], [`ship_order_items`]
//! and [`ship_by_amazon`].
//!
//! What Amazon does by itself, reproduced by [`advance`] for sellers that have a generator:
//! - new orders arrive at `ordersPerHour` (exponential gaps drawn from the generator's seed,
//!   so the same seed gives the same orders however often the world is advanced);
//! - an order is `PENDING` (payment not authorised) for `pendingMinutes`, then becomes
//!   `UNSHIPPED`, or `CANCELLED` for a `cancelRatio` share; the transition time becomes its
//!   `lastUpdatedTime`;
//! - orders fulfilled by Amazon are shipped by Amazon 2 to 11 hours after release (no
//!   `packages`: the model documents packages for merchant-fulfilled orders only).
//!
//! Scenario orders of a seller with a generator take part in the transitions; a seller
//! without a generator keeps its orders exactly as written.
//!
//! Bounded work: one call never looks further back than [`MAX_BACKFILL_HOURS`] and never
//! creates more than [`MAX_ORDERS_PER_CALL`] orders; arrivals beyond either bound are
//! skipped, not queued (a clock jumped a year ahead must not stall a request).
//!
//! Listing quantities are not decremented by generated orders: the simulator's listings are
//! what the seller last sent, and the reports show reserved units in `pending-quantity`.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime, Time};

use crate::scenario::ListingSpec;
use crate::sim::{format_datetime, parse_datetime};
use crate::state::{GeneratorState, Rng, Seller, State};

/// Furthest back the generator looks when the clock jumped ahead.
pub const MAX_BACKFILL_HOURS: i64 = 7 * 24;
/// Most orders one call of [`advance`] creates per seller.
pub const MAX_ORDERS_PER_CALL: usize = 1000;

/// What the simulator knows about a marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marketplace {
    /// Marketplace id.
    pub id: &'static str,
    /// ISO 3166-1 alpha-2 country of the marketplace (`GB`, not Amazon's `UK`).
    pub country: &'static str,
    /// Name as `salesChannel.marketplaceName` and the orders report's `sales-channel` spell it.
    pub name: &'static str,
    /// Currency of prices.
    pub currency: &'static str,
    /// Charset of its listings reports (`Cp1252` in western EU, `Shift_JIS` in JP; see the
    /// fact sheet's "Character set of downloaded flat files").
    pub listings_charset: &'static str,
    /// Sales tax added on top of prices (US and CA; EU prices include VAT, so 0 there).
    pub sales_tax_percent: u32,
    /// First group of the `3-7-7` order ids seen in this marketplace.
    pub order_id_prefixes: &'static [&'static str],
}

const MARKETPLACES: &[Marketplace] = &[
    mk(
        "ATVPDKIKX0DER",
        "US",
        "Amazon.com",
        "USD",
        "UTF-8",
        8,
        &["111", "112", "113", "114"],
    ),
    mk(
        "A2EUQ1WTGCTBG2",
        "CA",
        "Amazon.ca",
        "CAD",
        "UTF-8",
        13,
        &["701", "702"],
    ),
    mk(
        "A1AM78C64UM0Y8",
        "MX",
        "Amazon.com.mx",
        "MXN",
        "UTF-8",
        0,
        &["701", "702"],
    ),
    mk(
        "A2Q3Y263D00KWC",
        "BR",
        "Amazon.com.br",
        "BRL",
        "UTF-8",
        0,
        &["701", "702"],
    ),
    mk(
        "A1F83G8C2ARO7P",
        "GB",
        "Amazon.co.uk",
        "GBP",
        "Cp1252",
        0,
        &["202", "203", "204", "205", "206"],
    ),
    mk(
        "A1PA6795UKMFR9",
        "DE",
        "Amazon.de",
        "EUR",
        "Cp1252",
        0,
        &["302", "303", "304", "305", "306"],
    ),
    mk(
        "A13V1IB3VIYZZH",
        "FR",
        "Amazon.fr",
        "EUR",
        "Cp1252",
        0,
        &["402", "403", "404", "405", "406"],
    ),
    mk(
        "APJ6JRA9NG5V4",
        "IT",
        "Amazon.it",
        "EUR",
        "Cp1252",
        0,
        &["402", "403", "404", "405", "406"],
    ),
    mk(
        "A1RKKUPIHCS9HS",
        "ES",
        "Amazon.es",
        "EUR",
        "Cp1252",
        0,
        &["402", "403", "404", "405", "406"],
    ),
    mk(
        "A1805IZSGTT6HS",
        "NL",
        "Amazon.nl",
        "EUR",
        "Cp1252",
        0,
        &["402", "403", "404"],
    ),
    mk(
        "AMEN7PMS3EDWL",
        "BE",
        "Amazon.com.be",
        "EUR",
        "Cp1252",
        0,
        &["402", "403"],
    ),
    mk(
        "A28R8C7NBKEWEA",
        "IE",
        "Amazon.ie",
        "EUR",
        "Cp1252",
        0,
        &["202", "203"],
    ),
    mk(
        "A2NODRKZP88ZB9",
        "SE",
        "Amazon.se",
        "SEK",
        "Cp1252",
        0,
        &["402", "403"],
    ),
    mk(
        "A1C3SOZRARQ6R3",
        "PL",
        "Amazon.pl",
        "PLN",
        "UTF-8",
        0,
        &["402", "403"],
    ),
    mk(
        "A1VC38T7YXB528",
        "JP",
        "Amazon.co.jp",
        "JPY",
        "Shift_JIS",
        0,
        &["249", "250", "503"],
    ),
    mk(
        "A39IBJ37TRP1C6",
        "AU",
        "Amazon.com.au",
        "AUD",
        "UTF-8",
        0,
        &["249", "250"],
    ),
    mk(
        "A19VAU5U5O7RUS",
        "SG",
        "Amazon.sg",
        "SGD",
        "UTF-8",
        0,
        &["249", "250"],
    ),
    mk(
        "A21TJRUUN4KGV",
        "IN",
        "Amazon.in",
        "INR",
        "UTF-8",
        0,
        &["402", "403", "404"],
    ),
];

#[allow(clippy::too_many_arguments)]
const fn mk(
    id: &'static str,
    country: &'static str,
    name: &'static str,
    currency: &'static str,
    listings_charset: &'static str,
    sales_tax_percent: u32,
    order_id_prefixes: &'static [&'static str],
) -> Marketplace {
    Marketplace {
        id,
        country,
        name,
        currency,
        listings_charset,
        sales_tax_percent,
        order_id_prefixes,
    }
}

/// The simulator's facts about `marketplace_id`; an unknown id is treated like Amazon.com
/// (it can only come from a hand-written scenario).
pub fn marketplace(marketplace_id: &str) -> Marketplace {
    MARKETPLACES
        .iter()
        .find(|m| m.id == marketplace_id)
        .copied()
        .unwrap_or(Marketplace {
            id: "",
            ..MARKETPLACES[0]
        })
}

/// Who fulfils an order (`fulfillment.fulfilledBy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilledBy {
    /// The seller ships it (FBM, `MERCHANT`).
    Merchant,
    /// Amazon ships it (FBA, `AMAZON`).
    Amazon,
}

impl FulfilledBy {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "MERCHANT",
            Self::Amazon => "AMAZON",
        }
    }
}

/// The buyer, who is also the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Full name.
    pub name: String,
    /// Amazon's anonymised relay address (`...@marketplace.amazon.com`).
    pub email: String,
    /// First address line.
    pub address_line1: String,
    /// Second address line, if any.
    pub address_line2: Option<String>,
    /// City.
    pub city: String,
    /// State, province or region (may be empty where countries have none).
    pub state_or_region: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country.
    pub country_code: String,
    /// Phone number in international format.
    pub phone: String,
}

/// One line of a new order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLine {
    /// 14-digit order item id.
    pub order_item_id: String,
    /// Seller SKU.
    pub sku: String,
    /// ASIN.
    pub asin: String,
    /// Product title.
    pub title: String,
    /// Condition code as listings store it (`new`, `used_like_new`, ...).
    pub condition: String,
    /// Price of one unit.
    pub unit_price: Decimal,
    /// Units ordered.
    pub quantity: u32,
}

impl OrderLine {
    /// A line for `quantity` units of `listing`; `None` when the listing has no usable price.
    pub fn from_listing(
        listing: &ListingSpec,
        order_item_id: String,
        quantity: u32,
    ) -> Option<Self> {
        let unit_price = listing.price.as_deref()?.trim().parse::<Decimal>().ok()?;
        Some(Self {
            order_item_id,
            sku: listing.sku.clone(),
            asin: listing.asin.clone(),
            title: listing.title.clone(),
            condition: listing.condition.clone(),
            unit_price,
            quantity,
        })
    }
}

/// Everything needed to make an order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSpec {
    /// `3-7-7` order id.
    pub order_id: String,
    /// Marketplace the order was placed in.
    pub marketplace_id: String,
    /// Purchase time (`createdTime`).
    pub created: OffsetDateTime,
    /// Items (at least one).
    pub lines: Vec<OrderLine>,
    /// Who ships it.
    pub fulfilled_by: FulfilledBy,
    /// `fulfillmentServiceLevel` (`STANDARD`, `EXPEDITED`, ...).
    pub service_level: String,
    /// Buyer and recipient.
    pub customer: Customer,
    /// Seller's own order id (`orderAliases` SELLER_ORDER_ID), if any.
    pub seller_order_id: Option<String>,
    /// A Prime order.
    pub prime: bool,
    /// Amazon Business order: company name and the buyer's purchase order number.
    pub business: Option<(String, String)>,
}

/// A package the seller handed to a carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// Seller's package reference.
    pub package_reference_id: String,
    /// Carrier name (a CarrierCode such as `UPS`).
    pub carrier: String,
    /// Shipping service (`UPS Ground`).
    pub shipping_service: String,
    /// Tracking number.
    pub tracking_number: String,
}

/// Formats a money amount the way Amazon's JSON does: a decimal string, 2 places (0 for JPY).
pub fn amount_string(amount: Decimal, currency: &str) -> String {
    let dp = if currency == "JPY" { 0 } else { 2 };
    let mut d = amount.round_dp(dp);
    d.rescale(dp);
    d.to_string()
}

/// A v2026 `Money` object.
pub fn money(amount: Decimal, currency: &str) -> Value {
    json!({ "amount": amount_string(amount, currency), "currencyCode": currency })
}

fn shipping_charge(service_level: &str, currency: &str) -> Decimal {
    match (service_level, currency) {
        ("STANDARD" | "FREE_ECONOMY", _) => Decimal::ZERO,
        (_, "JPY") => Decimal::from(500),
        _ => Decimal::new(799, 2),
    }
}

fn end_of_day(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_time(Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT))
}

fn window(earliest: OffsetDateTime, latest: OffsetDateTime) -> Value {
    json!({
        "earliestDateTime": format_datetime(earliest),
        "latestDateTime": format_datetime(latest),
    })
}

fn condition_json(code: &str) -> Value {
    let (kind, sub) = match code.to_ascii_lowercase().as_str() {
        "used_like_new" => ("USED", "MINT"),
        "used_very_good" => ("USED", "VERY_GOOD"),
        "used_good" => ("USED", "GOOD"),
        "used_acceptable" => ("USED", "ACCEPTABLE"),
        "collectible_like_new" => ("COLLECTIBLE", "MINT"),
        "collectible_very_good" => ("COLLECTIBLE", "VERY_GOOD"),
        "collectible_good" => ("COLLECTIBLE", "GOOD"),
        "collectible_acceptable" => ("COLLECTIBLE", "ACCEPTABLE"),
        "refurbished" | "certified_refurbished" => ("REFURBISHED", "REFURBISHED"),
        _ => ("NEW", "NEW"),
    };
    json!({ "conditionType": kind, "conditionSubtype": sub })
}

/// Makes a new order in `PENDING` with every dataset filled, `lastUpdatedTime = createdTime`.
///
/// Money: item price is unit price × quantity; a shipping charge (0 for `STANDARD`, 7.99
/// otherwise) goes on the first item; US and CA add sales tax collected by Amazon as
/// marketplace facilitator, elsewhere prices include VAT and no tax line is added.
pub fn build_order(spec: &OrderSpec) -> Value {
    let mp = marketplace(&spec.marketplace_id);
    let currency = mp.currency;
    let tax_rate = Decimal::new(i64::from(mp.sales_tax_percent), 2);
    let shipping = shipping_charge(&spec.service_level, currency);
    let created = format_datetime(spec.created);

    let mut order_totals: Vec<(&str, Decimal)> = Vec::new();
    let mut add_total = |kind: &'static str, amount: Decimal| {
        if let Some(slot) = order_totals.iter_mut().find(|(k, _)| *k == kind) {
            slot.1 += amount;
        } else {
            order_totals.push((kind, amount));
        }
    };
    let mut items = Vec::new();
    for (index, line) in spec.lines.iter().enumerate() {
        let item_price = line.unit_price * Decimal::from(line.quantity);
        let item_shipping = if index == 0 { shipping } else { Decimal::ZERO };
        let item_tax = (item_price * tax_rate).round_dp(2);
        let shipping_tax = (item_shipping * tax_rate).round_dp(2);
        let mut breakdowns =
            vec![json!({ "type": "ITEM", "subtotal": money(item_price, currency) })];
        add_total("ITEM", item_price);
        if !item_shipping.is_zero() {
            breakdowns
                .push(json!({ "type": "SHIPPING", "subtotal": money(item_shipping, currency) }));
            add_total("SHIPPING", item_shipping);
        }
        if !tax_rate.is_zero() {
            breakdowns.push(json!({
                "type": "TAX",
                "subtotal": money(item_tax + shipping_tax, currency),
                "detailedBreakdowns": [
                    { "subtype": "ITEM", "value": money(item_tax, currency) },
                    { "subtype": "SHIPPING", "value": money(shipping_tax, currency) },
                ],
            }));
            add_total("TAX", item_tax + shipping_tax);
        }
        let mut item = json!({
            "orderItemId": line.order_item_id,
            "quantityOrdered": line.quantity,
            "measurement": { "unit": "COUNT", "value": line.quantity },
            "product": {
                "asin": line.asin,
                "title": line.title,
                "sellerSku": line.sku,
                "condition": condition_json(&line.condition),
                "price": { "unitPrice": money(line.unit_price, currency) },
            },
            "proceeds": {
                "proceedsTotal": money(item_price + item_shipping + item_tax + shipping_tax, currency),
                "breakdowns": breakdowns,
            },
            "fulfillment": { "quantityFulfilled": 0, "quantityUnfulfilled": line.quantity },
        });
        if spec.business.is_some() {
            item["product"]["price"]["priceDesignation"] = json!("BUSINESS_PRICE");
        }
        if !tax_rate.is_zero() {
            let party = if mp.country == "US" {
                "Amazon Services LLC"
            } else {
                "Amazon.com.ca ULC"
            };
            item["tax"] = json!({
                "taxCollections": [{ "model": "MARKETPLACE_FACILITATOR", "responsibleParty": party }],
            });
        }
        items.push(item);
    }
    let grand_total: Decimal = order_totals.iter().map(|(_, a)| *a).sum();

    let (ship_days, deliver_from, deliver_to) = match spec.service_level.as_str() {
        "STANDARD" | "FREE_ECONOMY" => (2, 3, 7),
        "NEXT_DAY" | "SAME_DAY" => (0, 1, 1),
        _ => (1, 2, 3),
    };
    let latest_ship = end_of_day(spec.created + Duration::days(ship_days));
    let mut order = json!({
        "orderId": spec.order_id,
        "createdTime": created,
        "lastUpdatedTime": created,
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": spec.marketplace_id,
            "marketplaceName": mp.name,
        },
        "buyer": { "buyerName": spec.customer.name },
        "recipient": {
            "deliveryAddress": {
                "name": spec.customer.name,
                "addressLine1": spec.customer.address_line1,
                "city": spec.customer.city,
                "stateOrRegion": spec.customer.state_or_region,
                "postalCode": spec.customer.postal_code,
                "countryCode": spec.customer.country_code,
                "phone": spec.customer.phone,
                "addressType": if spec.business.is_some() { "COMMERCIAL" } else { "RESIDENTIAL" },
            },
        },
        "proceeds": {
            "grandTotal": money(grand_total, currency),
            "breakdowns": order_totals
                .iter()
                .map(|(kind, amount)| json!({ "type": kind, "subtotal": money(*amount, currency) }))
                .collect::<Vec<_>>(),
        },
        "fulfillment": {
            "fulfillmentStatus": "PENDING",
            "fulfilledBy": spec.fulfilled_by.as_str(),
            "fulfillmentServiceLevel": spec.service_level,
            "shipByWindow": window(spec.created, latest_ship),
            "deliverByWindow": window(
                (spec.created + Duration::days(deliver_from)).replace_time(Time::MIDNIGHT),
                end_of_day(spec.created + Duration::days(deliver_to)),
            ),
        },
        "orderItems": items,
    });
    if let Some(line2) = &spec.customer.address_line2 {
        order["recipient"]["deliveryAddress"]["addressLine2"] = json!(line2);
    }
    // The model: buyerEmail is "only available for merchant-fulfilled (FBM) orders".
    if spec.fulfilled_by == FulfilledBy::Merchant {
        order["buyer"]["buyerEmail"] = json!(spec.customer.email);
    }
    let mut programs = Vec::new();
    if spec.prime {
        programs.push("PRIME");
    }
    if let Some((company, po)) = &spec.business {
        programs.push("AMAZON_BUSINESS");
        order["buyer"]["buyerCompanyName"] = json!(company);
        order["buyer"]["buyerPurchaseOrderNumber"] = json!(po);
        order["recipient"]["deliveryAddress"]["companyName"] = json!(company);
    }
    if !programs.is_empty() {
        order["programs"] = json!(programs);
    }
    if let Some(alias) = &spec.seller_order_id {
        order["orderAliases"] = json!([{ "aliasId": alias, "aliasType": "SELLER_ORDER_ID" }]);
    }
    order
}

/// `fulfillment.fulfillmentStatus` of an order (empty when missing).
pub fn order_status(order: &Value) -> &str {
    order
        .pointer("/fulfillment/fulfillmentStatus")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `fulfillment.fulfilledBy` of an order (`MERCHANT` when missing).
pub fn fulfilled_by(order: &Value) -> &str {
    order
        .pointer("/fulfillment/fulfilledBy")
        .and_then(Value::as_str)
        .unwrap_or("MERCHANT")
}

/// A date-time member of an order (`createdTime`, `lastUpdatedTime`).
pub fn order_time(order: &Value, key: &str) -> Option<OffsetDateTime> {
    order
        .get(key)
        .and_then(Value::as_str)
        .and_then(parse_datetime)
}

fn set_status(order: &mut Value, status: &str, at: OffsetDateTime) {
    if let Some(f) = order.get_mut("fulfillment").and_then(Value::as_object_mut) {
        f.insert("fulfillmentStatus".into(), json!(status));
    } else if let Some(o) = order.as_object_mut() {
        o.insert("fulfillment".into(), json!({ "fulfillmentStatus": status }));
    }
    order["lastUpdatedTime"] = json!(format_datetime(at));
}

fn items_mut(order: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    order
        .get_mut("orderItems")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn quantity_ordered(item: &Map<String, Value>) -> u64 {
    item.get("quantityOrdered")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn quantity_fulfilled(item: &Map<String, Value>) -> u64 {
    item.get("fulfillment")
        .and_then(|f| f.get("quantityFulfilled"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn set_item_quantities(item: &mut Map<String, Value>, fulfilled: u64, unfulfilled: u64) {
    let f = item.entry("fulfillment").or_insert_with(|| json!({}));
    f["quantityFulfilled"] = json!(fulfilled);
    f["quantityUnfulfilled"] = json!(unfulfilled);
}

/// Payment authorised: `PENDING` → `UNSHIPPED` at `at`.
pub fn release_order(order: &mut Value, at: OffsetDateTime) {
    set_status(order, "UNSHIPPED", at);
}

/// Cancels the order at `at`, executed by `cancelled_by` (`BUYER`, `MERCHANT` or `AMAZON`);
/// a buyer cancellation also records the buyer's request.
pub fn cancel_order(order: &mut Value, at: OffsetDateTime, cancelled_by: &str, reason: &str) {
    set_status(order, "CANCELLED", at);
    for item in items_mut(order) {
        let fulfilled = quantity_fulfilled(item);
        set_item_quantities(item, fulfilled, 0);
        let mut cancellation = json!({
            "cancellationExecution": { "cancelledBy": cancelled_by, "cancelReason": reason },
        });
        if cancelled_by == "BUYER" {
            cancellation["cancellationRequest"] =
                json!({ "requester": "BUYER", "cancelReason": reason });
        }
        item.insert("cancellation".into(), cancellation);
    }
}

fn refresh_shipped_status(order: &mut Value, at: OffsetDateTime) {
    let (mut any, mut all) = (false, true);
    for item in items_mut(order) {
        let shipped = quantity_fulfilled(item);
        any |= shipped > 0;
        all &= shipped >= quantity_ordered(item);
    }
    let status = match (any, all) {
        (_, true) => "SHIPPED",
        (true, false) => "PARTIALLY_SHIPPED",
        (false, false) => "UNSHIPPED",
    };
    set_status(order, status, at);
}

/// The seller ships `lines` (order item id, units) in one package at `at`: the items'
/// quantities move from unfulfilled to fulfilled, a `packages` entry is added, and the order
/// becomes `PARTIALLY_SHIPPED` or `SHIPPED`. Units beyond what is still unfulfilled are
/// ignored (Amazon rejects them; callers validate first).
pub fn ship_order_items(
    order: &mut Value,
    at: OffsetDateTime,
    lines: &[(String, u64)],
    package: &PackageSpec,
) {
    let mut package_items = Vec::new();
    for item in items_mut(order) {
        let id = item
            .get("orderItemId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let wanted: u64 = lines
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, q)| *q)
            .sum();
        if wanted == 0 {
            continue;
        }
        let ordered = quantity_ordered(item);
        let done = quantity_fulfilled(item);
        let take = wanted.min(ordered.saturating_sub(done));
        if take == 0 {
            continue;
        }
        set_item_quantities(item, done + take, ordered - done - take);
        package_items.push(json!({ "orderItemId": id, "quantity": take }));
    }
    if package_items.is_empty() {
        return;
    }
    let pkg = json!({
        "packageReferenceId": package.package_reference_id,
        "createdTime": format_datetime(at),
        "packageStatus": { "status": "SHIPPED" },
        "carrier": package.carrier,
        "shipTime": format_datetime(at),
        "shippingService": package.shipping_service,
        "trackingNumber": package.tracking_number,
        "packageItems": package_items,
    });
    match order.get_mut("packages").and_then(Value::as_array_mut) {
        Some(list) => list.push(pkg),
        None => order["packages"] = json!([pkg]),
    }
    refresh_shipped_status(order, at);
}

/// Amazon ships an FBA order completely at `at` (no `packages`: FBM only per the model).
pub fn ship_by_amazon(order: &mut Value, at: OffsetDateTime) {
    for item in items_mut(order) {
        let ordered = quantity_ordered(item);
        set_item_quantities(item, ordered, 0);
    }
    set_status(order, "SHIPPED", at);
}

// ---------------------------------------------------------------------------------------
// Fake but plausible people.

const FIRST_NAMES: &[&str] = &[
    "Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan", "Amelia",
    "Mason", "Harper", "Logan", "Evelyn", "Daniel", "Chloe", "Henry", "Grace", "Jack",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark",
];
const STREETS: &[&str] = &[
    "Maple Ave",
    "Oak St",
    "Pine Rd",
    "Cedar Ln",
    "Elm St",
    "Lakeview Dr",
    "Hillcrest Rd",
    "Sunset Blvd",
    "Washington St",
    "Park Ave",
    "Main St",
    "River Rd",
];
/// (city, state or region, postal code prefix, phone prefix)
const US_PLACES: &[(&str, &str, &str, &str)] = &[
    ("Seattle", "WA", "981", "+1 206"),
    ("Portland", "OR", "972", "+1 503"),
    ("Austin", "TX", "787", "+1 512"),
    ("Denver", "CO", "802", "+1 303"),
    ("Columbus", "OH", "432", "+1 614"),
    ("Raleigh", "NC", "276", "+1 919"),
    ("Madison", "WI", "537", "+1 608"),
    ("Tampa", "FL", "336", "+1 813"),
    ("Phoenix", "AZ", "850", "+1 602"),
    ("Albany", "NY", "122", "+1 518"),
];
const GB_PLACES: &[(&str, &str, &str, &str)] = &[
    ("London", "Greater London", "SW1A", "+44 20"),
    ("Manchester", "Greater Manchester", "M1", "+44 161"),
    ("Leeds", "West Yorkshire", "LS1", "+44 113"),
];
const DE_PLACES: &[(&str, &str, &str, &str)] = &[
    ("Berlin", "Berlin", "101", "+49 30"),
    ("München", "Bayern", "803", "+49 89"),
    ("Köln", "Nordrhein-Westfalen", "506", "+49 221"),
];
const FR_PLACES: &[(&str, &str, &str, &str)] = &[
    ("Paris", "Île-de-France", "750", "+33 1"),
    ("Lyon", "Auvergne-Rhône-Alpes", "690", "+33 4"),
];
const IT_PLACES: &[(&str, &str, &str, &str)] = &[
    ("Milano", "MI", "201", "+39 02"),
    ("Roma", "RM", "001", "+39 06"),
];
const ES_PLACES: &[(&str, &str, &str, &str)] = &[
    ("Madrid", "Madrid", "280", "+34 91"),
    ("Sevilla", "Sevilla", "410", "+34 95"),
];
const CA_PLACES: &[(&str, &str, &str, &str)] = &[
    ("Toronto", "ON", "M5V", "+1 416"),
    ("Vancouver", "BC", "V6B", "+1 604"),
];
const JP_PLACES: &[(&str, &str, &str, &str)] = &[
    ("渋谷区", "東京都", "150", "+81 3"),
    ("大阪市北区", "大阪府", "530", "+81 6"),
];

fn pick<'a, T>(rng: &mut Rng, list: &'a [T]) -> &'a T {
    &list[rng.below(list.len() as u64) as usize]
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

/// A plausible buyer in `country_code`, drawn from `rng`.
pub fn random_customer(rng: &mut Rng, country_code: &str) -> Customer {
    let name = format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
    let local: String = (0..15)
        .map(|_| {
            let c = rng.below(36) as u8;
            char::from(if c < 10 { b'0' + c } else { b'a' + c - 10 })
        })
        .collect();
    let places = match country_code {
        "GB" | "IE" => GB_PLACES,
        "DE" | "AT" | "NL" | "BE" | "SE" | "PL" => DE_PLACES,
        "FR" => FR_PLACES,
        "IT" => IT_PLACES,
        "ES" => ES_PLACES,
        "CA" => CA_PLACES,
        "JP" => JP_PLACES,
        _ => US_PLACES,
    };
    let (city, region, postal_prefix, phone_prefix) = *pick(rng, places);
    let number = 1 + rng.below(9899);
    let street = pick(rng, STREETS);
    let address_line2 = rng
        .chance(0.25)
        .then(|| format!("Apt {}", 1 + rng.below(40)));
    let postal_code = match country_code {
        "GB" | "IE" => format!("{postal_prefix} {}AA", rng.below(9) + 1),
        "CA" => format!("{postal_prefix} {}A{}", rng.below(10), rng.below(10)),
        "JP" => format!("{postal_prefix}-{}", digits(rng, 4)),
        "DE" | "FR" | "IT" | "ES" | "AT" | "NL" | "BE" | "SE" | "PL" => {
            format!("{postal_prefix}{}", digits(rng, 2))
        }
        _ => format!("{postal_prefix}{}", digits(rng, 2)),
    };
    let email_domain = match country_code {
        "GB" | "IE" => "marketplace.amazon.co.uk",
        "DE" | "AT" => "marketplace.amazon.de",
        "FR" => "marketplace.amazon.fr",
        "IT" => "marketplace.amazon.it",
        "ES" => "marketplace.amazon.es",
        "CA" => "marketplace.amazon.ca",
        "JP" => "marketplace.amazon.co.jp",
        _ => "marketplace.amazon.com",
    };
    Customer {
        name,
        email: format!("{local}@{email_domain}"),
        address_line1: format!("{number} {street}"),
        address_line2,
        city: city.to_string(),
        state_or_region: region.to_string(),
        postal_code,
        country_code: country_code.into(),
        phone: format!("{phone_prefix} 555 {}", digits(rng, 4)),
    }
}

/// A fresh `3-7-7` order id for `marketplace_id`.
pub fn random_order_id(rng: &mut Rng, marketplace_id: &str) -> String {
    let prefix = pick(rng, marketplace(marketplace_id).order_id_prefixes);
    format!("{prefix}-{}-{}", digits(rng, 7), digits(rng, 7))
}

/// A fresh 14-digit order item id.
pub fn random_order_item_id(rng: &mut Rng) -> String {
    format!("{}{}", 1 + rng.below(9), digits(rng, 13))
}

/// Draws a whole new order of `seller` created at `created`; `None` when the seller has no
/// sellable listing (active, priced, and in stock when merchant-fulfilled).
pub fn random_order_spec(
    rng: &mut Rng,
    seller: &Seller,
    created: OffsetDateTime,
    fba_ratio: f64,
) -> Option<OrderSpec> {
    let sellable = |l: &&ListingSpec, fba: bool| {
        l.status.eq_ignore_ascii_case("Active")
            && l.price
                .as_deref()
                .is_some_and(|p| p.trim().parse::<Decimal>().is_ok())
            && seller.marketplace_ids.contains(&l.marketplace_id)
            && ((l.fulfillment_channel != "DEFAULT") == fba)
            && (fba || l.quantity > 0)
    };
    let want_fba = rng.chance(fba_ratio);
    let mut pool: Vec<&ListingSpec> = seller
        .listings
        .values()
        .filter(|l| sellable(l, want_fba))
        .collect();
    let mut fba = want_fba;
    if pool.is_empty() {
        fba = !want_fba;
        pool = seller
            .listings
            .values()
            .filter(|l| sellable(l, fba))
            .collect();
    }
    if pool.is_empty() {
        return None;
    }
    let first = *pick(rng, &pool);
    let marketplace_id = first.marketplace_id.clone();
    let same_mp: Vec<&ListingSpec> = pool
        .iter()
        .copied()
        .filter(|l| l.marketplace_id == marketplace_id && l.sku != first.sku)
        .collect();
    let extra = match rng.below(10) {
        0..=6 => 0,
        7 | 8 => 1,
        _ => 2,
    }
    .min(same_mp.len() as u64);
    let mut chosen = vec![first];
    let mut rest = same_mp;
    for _ in 0..extra {
        let i = rng.below(rest.len() as u64) as usize;
        chosen.push(rest.remove(i));
    }
    let lines = chosen
        .into_iter()
        .filter_map(|l| {
            let quantity = match rng.below(10) {
                0..=6 => 1,
                7 | 8 => 2,
                _ => 3,
            };
            OrderLine::from_listing(l, random_order_item_id(rng), quantity)
        })
        .collect::<Vec<_>>();
    let mp = marketplace(&marketplace_id);
    let service_level = if rng.chance(0.2) {
        "EXPEDITED"
    } else {
        "STANDARD"
    };
    let customer = random_customer(rng, mp.country);
    let business = rng.chance(0.05).then(|| {
        (
            format!("{} Supplies LLC", pick(rng, LAST_NAMES)),
            format!("PO-{}", digits(rng, 6)),
        )
    });
    Some(OrderSpec {
        order_id: random_order_id(rng, &marketplace_id),
        marketplace_id,
        created,
        lines,
        fulfilled_by: if fba {
            FulfilledBy::Amazon
        } else {
            FulfilledBy::Merchant
        },
        service_level: service_level.into(),
        customer,
        seller_order_id: None,
        prime: fba || rng.chance(0.3),
        business,
    })
}

// ---------------------------------------------------------------------------------------
// The generator and the transitions.

/// Moves every seller's orders forward to `now`: new orders from the generator, then
/// Amazon's own status transitions (sellers with a generator only).
pub fn advance(st: &mut State, now: OffsetDateTime) {
    for seller in st.sellers.values_mut() {
        if seller.generator.is_none() {
            continue;
        }
        generate(seller, now);
        transition(seller, now);
    }
}

fn generate(seller: &mut Seller, now: OffsetDateTime) {
    let Some(mut generator) = seller.generator.take() else {
        return;
    };
    generate_into(&mut generator, seller, now);
    seller.generator = Some(generator);
}

fn generate_into(g: &mut GeneratorState, seller: &mut Seller, now: OffsetDateTime) {
    let rate = g.spec.orders_per_hour;
    if !(rate.is_finite() && rate > 0.0) {
        g.generated_until = g.generated_until.max(now);
        return;
    }
    let earliest = now - Duration::hours(MAX_BACKFILL_HOURS);
    if g.generated_until < earliest {
        g.generated_until = earliest;
    }
    let mut made = 0usize;
    loop {
        // Draw the next arrival on a copy: when it lies beyond `now` the draw is thrown away
        // and repeated next time, so the sequence does not depend on how often we are called.
        let mut trial = g.rng.clone();
        let gap_hours = -(1.0 - trial.next_f64()).ln() / rate;
        // A tiny rate draws astronomically long gaps: cap them at a year (far past any `now`).
        let gap_seconds = (gap_hours * 3600.0).min(365.0 * 24.0 * 3600.0);
        let at = g.generated_until + Duration::seconds_f64(gap_seconds);
        if at > now {
            break;
        }
        g.rng = trial;
        g.generated_until = at;
        if let Some(mut spec) = random_order_spec(&mut g.rng, seller, at, g.spec.fba_ratio) {
            let mut tries = 0;
            while seller.orders.contains_key(&spec.order_id) && tries < 10 {
                spec.order_id = random_order_id(&mut g.rng, &spec.marketplace_id);
                tries += 1;
            }
            g.count += 1;
            seller
                .orders
                .insert(spec.order_id.clone(), build_order(&spec));
        }
        made += 1;
        if made >= MAX_ORDERS_PER_CALL {
            g.generated_until = now;
            break;
        }
    }
}

/// A die per (seed, order, purpose): Amazon's decisions about one order do not depend on
/// when the simulator happened to look at it.
fn order_die(seed: u64, order_id: &str, salt: u64) -> Rng {
    // FNV-1a over the id, mixed with the seed and the purpose.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in order_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut rng = Rng::new(h ^ seed.rotate_left(21) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.next_u64();
    rng
}

fn transition(seller: &mut Seller, now: OffsetDateTime) {
    let Some(g) = seller.generator.as_ref() else {
        return;
    };
    if !seller.orders.transition_due(now) {
        return;
    }
    let pending = Duration::minutes(g.spec.pending_minutes as i64);
    let (seed, cancel_ratio) = (g.spec.seed, g.spec.cancel_ratio);
    // The earliest transition still ahead after this pass.
    let mut next: Option<OffsetDateTime> = None;
    let mut later = |at: OffsetDateTime| next = Some(next.map_or(at, |n| n.min(at)));
    for (id, order) in seller.orders.iter_mut_for_transitions() {
        if order_status(order) == "PENDING" {
            let Some(created) = order_time(order, "createdTime") else {
                continue;
            };
            let at = created + pending;
            if at > now {
                later(at);
                continue;
            }
            if order_die(seed, id, 1).chance(cancel_ratio) {
                cancel_order(
                    order,
                    at,
                    "BUYER",
                    "Buyer cancelled before payment was authorised",
                );
            } else {
                release_order(order, at);
            }
        }
        if order_status(order) == "UNSHIPPED" && fulfilled_by(order) == "AMAZON" {
            let Some(released) = order_time(order, "lastUpdatedTime") else {
                continue;
            };
            let hours = 2 + order_die(seed, id, 2).below(10) as i64;
            let at = released + Duration::hours(hours);
            if at <= now {
                ship_by_amazon(order, at);
            } else {
                later(at);
            }
        }
    }
    seller.orders.set_next_transition(next);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Credentials, GeneratorSpec, Scenario, SellerSpec};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-20 00:00 UTC);

    fn listing(
        sku: &str,
        price: Option<&str>,
        qty: i64,
        channel: &str,
        status: &str,
    ) -> ListingSpec {
        ListingSpec {
            sku: sku.into(),
            asin: format!("B0{sku:0>8}"),
            title: format!("Product {sku}"),
            price: price.map(str::to_owned),
            currency: None,
            quantity: qty,
            marketplace_id: "ATVPDKIKX0DER".into(),
            fulfillment_channel: channel.into(),
            status: status.into(),
            product_type: "PRODUCT".into(),
            lead_time_days: None,
            condition: "new".into(),
            open_date: None,
        }
    }

    fn state(generator: Option<GeneratorSpec>, orders: Vec<Value>) -> State {
        let scenario = Scenario {
            clock: Default::default(),
            timing: Default::default(),
            sellers: vec![SellerSpec {
                seller_id: "S1".into(),
                credentials: Credentials {
                    client_id: "c".into(),
                    client_secret: "s".into(),
                    refresh_token: "r".into(),
                },
                marketplace_ids: vec!["ATVPDKIKX0DER".into()],
                listings: vec![
                    listing("MUG", Some("12.50"), 5, "DEFAULT", "Active"),
                    listing("CUP", Some("7.25"), 3, "DEFAULT", "Active"),
                    listing("FBA1", Some("30.00"), 0, "AMAZON_NA", "Active"),
                    listing("NOPRICE", None, 9, "DEFAULT", "Active"),
                    listing("EMPTY", Some("5.00"), 0, "DEFAULT", "Active"),
                    listing("OLD", Some("5.00"), 4, "DEFAULT", "Inactive"),
                ],
                orders,
                generator,
            }],
        };
        State::from_scenario(&scenario, T0).unwrap()
    }

    fn generator(seed: u64) -> GeneratorSpec {
        GeneratorSpec {
            orders_per_hour: 6.0,
            pending_minutes: 30,
            cancel_ratio: 0.2,
            fba_ratio: 0.3,
            seed,
            backfill_hours: 0,
        }
    }

    fn orders(st: &State) -> Vec<Value> {
        st.sellers["S1"].orders.values().cloned().collect()
    }

    #[test]
    fn same_seed_gives_same_orders_however_often_the_world_is_advanced() {
        let mut one_jump = state(Some(generator(7)), vec![]);
        let mut many_steps = state(Some(generator(7)), vec![]);

        advance(&mut one_jump, T0 + Duration::hours(10));
        for minute in (0..=600).step_by(7) {
            advance(&mut many_steps, T0 + Duration::minutes(minute));
        }
        advance(&mut many_steps, T0 + Duration::hours(10));

        let a = orders(&one_jump);
        assert!(a.len() > 20, "about 60 orders expected, got {}", a.len());
        assert_eq!(a, orders(&many_steps));
    }

    #[test]
    fn different_seeds_give_different_orders() {
        let mut a = state(Some(generator(1)), vec![]);
        let mut b = state(Some(generator(2)), vec![]);

        advance(&mut a, T0 + Duration::hours(5));
        advance(&mut b, T0 + Duration::hours(5));

        assert_ne!(orders(&a), orders(&b));
    }

    #[test]
    fn generated_orders_use_sellable_listings_and_realistic_ids() {
        let mut st = state(Some(generator(3)), vec![]);

        advance(&mut st, T0 + Duration::hours(20));

        let all = orders(&st);
        assert!(!all.is_empty());
        for o in &all {
            let id = o["orderId"].as_str().unwrap();
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [3, 7, 7],
                "{id}"
            );
            assert!(crate::orders::validate_scenario_order(o).is_ok());
            let items = o["orderItems"].as_array().unwrap();
            assert!((1..=3).contains(&items.len()));
            for item in items {
                let item_id = item["orderItemId"].as_str().unwrap();
                assert_eq!(item_id.len(), 14);
                assert!(item_id.bytes().all(|b| b.is_ascii_digit()));
                let q = item["quantityOrdered"].as_u64().unwrap();
                assert!((1..=3).contains(&q));
                let sku = item["product"]["sellerSku"].as_str().unwrap();
                assert!(["MUG", "CUP", "FBA1"].contains(&sku), "unsellable {sku}");
            }
            let fba = o["fulfillment"]["fulfilledBy"] == "AMAZON";
            assert_eq!(o["buyer"].get("buyerEmail").is_some(), !fba);
        }
        assert!(
            all.iter()
                .any(|o| o["fulfillment"]["fulfilledBy"] == "AMAZON")
        );
        assert!(
            all.iter()
                .any(|o| o["fulfillment"]["fulfilledBy"] == "MERCHANT")
        );
    }

    #[test]
    fn pending_orders_become_unshipped_or_cancelled_at_pending_minutes() {
        let mut st = state(Some(generator(11)), vec![]);
        advance(&mut st, T0 + Duration::hours(6));
        let now = T0 + Duration::hours(6);

        for o in orders(&st) {
            let created = order_time(&o, "createdTime").unwrap();
            let updated = order_time(&o, "lastUpdatedTime").unwrap();
            let status = order_status(&o);
            if created + Duration::minutes(30) > now {
                assert_eq!(status, "PENDING");
                assert_eq!(updated, created);
            } else if fulfilled_by(&o) == "MERCHANT" {
                assert!(["UNSHIPPED", "CANCELLED"].contains(&status), "{status}");
                assert_eq!(updated, created + Duration::minutes(30));
            }
        }
        let statuses: Vec<String> = orders(&st)
            .iter()
            .map(|o| order_status(o).to_string())
            .collect();
        assert!(statuses.iter().any(|s| s == "CANCELLED"));
        assert!(statuses.iter().any(|s| s == "UNSHIPPED"));
    }

    #[test]
    fn amazon_fulfilled_orders_are_shipped_by_amazon_hours_later() {
        let mut st = state(Some(generator(5)), vec![]);
        advance(&mut st, T0 + Duration::hours(2));
        let fba_ids: Vec<String> = orders(&st)
            .iter()
            .filter(|o| fulfilled_by(o) == "AMAZON")
            .map(|o| o["orderId"].as_str().unwrap().to_string())
            .collect();
        assert!(!fba_ids.is_empty());

        advance(&mut st, T0 + Duration::hours(20));

        for id in fba_ids {
            let o = &st.sellers["S1"].orders[&id];
            let status = order_status(o);
            assert!(["SHIPPED", "CANCELLED"].contains(&status), "{status}");
            if status == "SHIPPED" {
                assert!(o.get("packages").is_none());
                assert_eq!(o["orderItems"][0]["fulfillment"]["quantityUnfulfilled"], 0);
            }
        }
    }

    #[test]
    fn scenario_orders_move_only_when_the_seller_has_a_generator() {
        let spec = OrderSpec {
            order_id: "111-0000000-0000001".into(),
            marketplace_id: "ATVPDKIKX0DER".into(),
            created: T0,
            lines: vec![
                OrderLine::from_listing(
                    &listing("MUG", Some("12.50"), 5, "DEFAULT", "Active"),
                    "12345678901234".into(),
                    2,
                )
                .unwrap(),
            ],
            fulfilled_by: FulfilledBy::Merchant,
            service_level: "STANDARD".into(),
            customer: random_customer(&mut Rng::new(1), "US"),
            seller_order_id: None,
            prime: false,
            business: None,
        };
        let order = build_order(&spec);
        let mut with = state(
            Some(GeneratorSpec {
                orders_per_hour: 0.0,
                cancel_ratio: 0.0,
                ..generator(1)
            }),
            vec![order.clone()],
        );
        let mut without = state(None, vec![order]);

        advance(&mut with, T0 + Duration::hours(1));
        advance(&mut without, T0 + Duration::hours(1));

        assert_eq!(
            order_status(&with.sellers["S1"].orders["111-0000000-0000001"]),
            "UNSHIPPED"
        );
        assert_eq!(
            order_status(&without.sellers["S1"].orders["111-0000000-0000001"]),
            "PENDING"
        );
        assert_eq!(with.sellers["S1"].orders.len(), 1);
    }

    #[test]
    fn a_seller_without_sellable_listings_gets_no_orders() {
        let mut st = state(Some(generator(4)), vec![]);
        for l in st.sellers.get_mut("S1").unwrap().listings.values_mut() {
            l.status = "Inactive".into();
        }

        advance(&mut st, T0 + Duration::hours(10));

        assert!(st.sellers["S1"].orders.is_empty());
    }

    #[test]
    fn a_far_jump_is_bounded() {
        let mut st = state(
            Some(GeneratorSpec {
                orders_per_hour: 100.0,
                ..generator(9)
            }),
            vec![],
        );

        advance(&mut st, T0 + Duration::days(365));

        let n = st.sellers["S1"].orders.len();
        assert!(n <= MAX_ORDERS_PER_CALL, "{n}");
        assert_eq!(
            st.sellers["S1"].generator.as_ref().unwrap().generated_until,
            T0 + Duration::days(365)
        );
    }

    #[test]
    fn backfill_creates_history_that_has_already_moved_on() {
        let mut st = state(
            Some(GeneratorSpec {
                orders_per_hour: 5.0,
                backfill_hours: 72,
                ..generator(3)
            }),
            vec![],
        );

        advance(&mut st, T0);

        let all = orders(&st);
        let created =
            |o: &Value| crate::sim::parse_datetime(o["createdTime"].as_str().unwrap()).unwrap();
        assert!(
            all.len() > 250 && all.len() < 470,
            "about 360 orders: {}",
            all.len()
        );
        assert!(
            all.iter()
                .all(|o| created(o) >= T0 - Duration::hours(72) && created(o) <= T0)
        );
        let status = |s: &str| {
            all.iter()
                .filter(|o| o["fulfillment"]["fulfillmentStatus"] == s)
                .count()
        };
        let (pending, unshipped, cancelled, shipped) = (
            status("PENDING"),
            status("UNSHIPPED"),
            status("CANCELLED"),
            status("SHIPPED"),
        );
        assert!(
            pending < 10,
            "only the last half hour is still pending: {pending}"
        );
        assert!(
            unshipped > 100 && cancelled > 20 && shipped > 40,
            "{unshipped} {cancelled} {shipped}"
        );
    }

    #[test]
    fn built_order_totals_add_up() {
        let l1 = OrderLine::from_listing(
            &listing("MUG", Some("12.50"), 5, "DEFAULT", "Active"),
            "1".into(),
            2,
        )
        .unwrap();
        let l2 = OrderLine::from_listing(
            &listing("CUP", Some("7.25"), 5, "DEFAULT", "Active"),
            "2".into(),
            1,
        )
        .unwrap();
        let order = build_order(&OrderSpec {
            order_id: "111-0000000-0000002".into(),
            marketplace_id: "ATVPDKIKX0DER".into(),
            created: T0,
            lines: vec![l1, l2],
            fulfilled_by: FulfilledBy::Merchant,
            service_level: "EXPEDITED".into(),
            customer: random_customer(&mut Rng::new(2), "US"),
            seller_order_id: Some("WEB-1".into()),
            prime: false,
            business: None,
        });

        // items 25.00 + 7.25, shipping 7.99, 8% tax on all of it.
        let items = Decimal::new(3225, 2);
        let shipping = Decimal::new(799, 2);
        let tax = (Decimal::new(2500, 2) * Decimal::new(8, 2)).round_dp(2)
            + (Decimal::new(725, 2) * Decimal::new(8, 2)).round_dp(2)
            + (shipping * Decimal::new(8, 2)).round_dp(2);
        assert_eq!(
            order["proceeds"]["grandTotal"]["amount"],
            amount_string(items + shipping + tax, "USD")
        );
        assert_eq!(
            order["orderItems"][0]["product"]["price"]["unitPrice"]["amount"],
            "12.50"
        );
        assert_eq!(order["orderAliases"][0]["aliasId"], "WEB-1");
    }

    #[test]
    fn shipping_part_of_an_order_makes_it_partially_shipped_with_a_package() {
        let l1 = OrderLine::from_listing(
            &listing("MUG", Some("12.50"), 5, "DEFAULT", "Active"),
            "1".into(),
            2,
        )
        .unwrap();
        let l2 = OrderLine::from_listing(
            &listing("CUP", Some("7.25"), 5, "DEFAULT", "Active"),
            "2".into(),
            1,
        )
        .unwrap();
        let mut order = build_order(&OrderSpec {
            order_id: "111-0000000-0000003".into(),
            marketplace_id: "ATVPDKIKX0DER".into(),
            created: T0,
            lines: vec![l1, l2],
            fulfilled_by: FulfilledBy::Merchant,
            service_level: "STANDARD".into(),
            customer: random_customer(&mut Rng::new(3), "US"),
            seller_order_id: None,
            prime: false,
            business: None,
        });
        release_order(&mut order, T0 + Duration::minutes(30));
        let pkg = PackageSpec {
            package_reference_id: "P1".into(),
            carrier: "UPS".into(),
            shipping_service: "UPS Ground".into(),
            tracking_number: "1Z999".into(),
        };

        ship_order_items(
            &mut order,
            T0 + Duration::hours(5),
            &[("1".into(), 2)],
            &pkg,
        );
        let partial = order_status(&order).to_string();
        ship_order_items(
            &mut order,
            T0 + Duration::hours(6),
            &[("2".into(), 1)],
            &PackageSpec {
                package_reference_id: "P2".into(),
                ..pkg
            },
        );

        assert_eq!(partial, "PARTIALLY_SHIPPED");
        assert_eq!(order_status(&order), "SHIPPED");
        assert_eq!(order["packages"].as_array().unwrap().len(), 2);
        assert_eq!(
            order["lastUpdatedTime"],
            format_datetime(T0 + Duration::hours(6))
        );
    }
}
