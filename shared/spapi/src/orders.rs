//! Orders API v2026-01-01: `searchOrders` and `getOrder`.
//!
//! This replaces Orders v0 (deprecated; migrate by 2027-03-27) and needs no restricted data
//! token: PII is gated by role and requested with `includedData`. The [`Order`] model types the
//! fields spsync uses and keeps every other field in `extra` maps, so new fields never break
//! decoding and survive a round trip. Enum values this client does not know yet decode as
//! `Unknown` (so a new status does not break an order) and are *not* kept: an order with such a
//! value serializes back as `"UNKNOWN"`. Money amounts are decimals (never floats).
//!
//! PII (buyer name and e-mail, recipient name, address lines, postal code, phone, and the
//! `extra` maps that may hold `extendedFields`, gift messages or customisation URLs) is
//! redacted from `Debug` output; `Serialize` still writes it, for the stores that need it.
//! Wire models follow `models/orders-api-model/orders_2026-01-01.json`.

use std::fmt;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::client::{ApiRequest, SpApiClient};
use crate::error::SpApiError;
use crate::limits::Operation;
use crate::query::{QueryPairs, csv};

const API: [&str; 3] = ["orders", "2026-01-01", "orders"];

/// Fields of an object that the typed model does not name, kept verbatim.
pub type Extra = Map<String, Value>;

/// A money amount (`Money`): decimal string amount plus ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// Amount, exact (`"19.99"` on the wire).
    pub amount: Decimal,
    /// Currency code, e.g. `EUR`.
    pub currency_code: String,
}

/// Fulfilment status of an order (`FulfillmentStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentStatus {
    /// Pre-order whose release date is in the future.
    PendingAvailability,
    /// Payment not yet authorised.
    Pending,
    /// Ready to ship, nothing shipped yet.
    Unshipped,
    /// Some items shipped.
    PartiallyShipped,
    /// All items shipped.
    Shipped,
    /// Cancelled.
    Cancelled,
    /// Cannot be fulfilled (multi-channel fulfilment orders).
    Unfulfillable,
    /// A value this client does not know yet (decoding stays tolerant). Not a filter: a query
    /// containing it is refused locally.
    #[serde(other)]
    Unknown,
}

impl FulfillmentStatus {
    /// The wire name (`"UNKNOWN"` for [`FulfillmentStatus::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingAvailability => "PENDING_AVAILABILITY",
            Self::Pending => "PENDING",
            Self::Unshipped => "UNSHIPPED",
            Self::PartiallyShipped => "PARTIALLY_SHIPPED",
            Self::Shipped => "SHIPPED",
            Self::Cancelled => "CANCELLED",
            Self::Unfulfillable => "UNFULFILLABLE",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// Who fulfils an order (`fulfilledBy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfilledBy {
    /// The seller (MFN): spsync's case.
    Merchant,
    /// Amazon (FBA).
    Amazon,
    /// A value this client does not know yet. Not a filter: a query containing it is refused
    /// locally.
    #[serde(other)]
    Unknown,
}

impl FulfilledBy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "MERCHANT",
            Self::Amazon => "AMAZON",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// Optional data sets of `includedData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncludedData {
    /// `buyer` (PII, role-gated).
    Buyer,
    /// `recipient` with the delivery address (PII, role-gated).
    Recipient,
    /// Order and item proceeds.
    Proceeds,
    /// Item expenses (points and the like).
    Expense,
    /// Promotions.
    Promotion,
    /// Cancellation requests.
    Cancellation,
    /// Order and item fulfilment details.
    Fulfillment,
    /// Shipped packages (MFN).
    Packages,
    /// Tax data.
    Tax,
    /// Payment data.
    Payment,
    /// Multi-channel fulfilment orders.
    FulfillmentOrders,
}

impl IncludedData {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "BUYER",
            Self::Recipient => "RECIPIENT",
            Self::Proceeds => "PROCEEDS",
            Self::Expense => "EXPENSE",
            Self::Promotion => "PROMOTION",
            Self::Cancellation => "CANCELLATION",
            Self::Fulfillment => "FULFILLMENT",
            Self::Packages => "PACKAGES",
            Self::Tax => "TAX",
            Self::Payment => "PAYMENT",
            Self::FulfillmentOrders => "FULFILLMENT_ORDERS",
        }
    }
}

/// Where the order was placed (`SalesChannel`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannel {
    /// `AMAZON` or `NON_AMAZON`.
    pub channel_name: String,
    /// Marketplace id, e.g. `A1PA6795UKMFR9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_id: Option<String>,
    /// Marketplace name, e.g. `Amazon.de`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_name: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A time window (`DateTimeRange`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeRange {
    /// Start of the window.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub earliest_date_time: Option<OffsetDateTime>,
    /// End of the window.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub latest_date_time: Option<OffsetDateTime>,
}

/// Order-level fulfilment (`OrderFulfillment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfillment {
    /// Fulfilment status.
    pub fulfillment_status: FulfillmentStatus,
    /// Merchant or Amazon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilled_by: Option<FulfilledBy>,
    /// Service level, e.g. `STANDARD`, `EXPEDITED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_service_level: Option<String>,
    /// When the order must ship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_by_window: Option<DateTimeRange>,
    /// When the order must be delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_by_window: Option<DateTimeRange>,
    /// Other fields (e.g. `labelPrintingWindow`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The buyer (`Buyer`; PII, needs `includedData=BUYER` and the role). `Debug` is redacted.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    /// Buyer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    /// Anonymised buyer e-mail (relay address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    /// Company name (business orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_company_name: Option<String>,
    /// Purchase order number (business orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_purchase_order_number: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A delivery address (`CustomerAddress`; name, lines, postal code and phone are PII). `Debug`
/// shows only city, region, country and address type.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAddress {
    /// Recipient name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Company name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Street address, line 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    /// Street address, line 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    /// Street address, line 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// District or county.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_or_county: Option<String>,
    /// State or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_region: Option<String>,
    /// Municipality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `RESIDENTIAL`, `COMMERCIAL` or `PICKUP_POINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    /// Other fields (e.g. `extendedFields`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The recipient (`Recipient`; needs `includedData=RECIPIENT`). `Debug` is redacted.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// Where the order goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<DeliveryAddress>,
    /// Other fields (e.g. `deliveryPreference`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Order proceeds (`OrderProceeds`; needs `includedData=PROCEEDS`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderProceeds {
    /// Total the buyer pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grand_total: Option<Money>,
    /// Other fields (e.g. `breakdowns`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Unit price of an item (`ItemPrice`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    /// Price of one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
    /// e.g. `BUSINESS_PRICE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_designation: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The product of an order item (`ItemProduct`). `Debug` prints only the keys of `extra`
/// (`customization` may hold a PII URL).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemProduct {
    /// ASIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asin: Option<String>,
    /// Product title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The seller's SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_sku: Option<String>,
    /// Unit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<ItemPrice>,
    /// Other fields (e.g. `condition`, `serialNumbers`, `customization`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Item-level fulfilment (`ItemFulfillment`). `Debug` prints only the keys of `extra`
/// (`packing.giftOption.giftMessage` is PII).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    /// Units shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_fulfilled: Option<u32>,
    /// Units still to ship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_unfulfilled: Option<u32>,
    /// Other fields (e.g. `picking`, `packing`, `shipping`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Debug` of an `extra` map holding possible PII: its keys only.
struct ExtraKeys<'a>(&'a Extra);

impl fmt::Debug for ExtraKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// `Debug` of a PII field: whether it is there, never what it says.
struct Redacted<'a>(&'a Option<String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(***)"),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for Buyer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buyer")
            .field("buyer_name", &Redacted(&self.buyer_name))
            .field("buyer_email", &Redacted(&self.buyer_email))
            .field("buyer_company_name", &Redacted(&self.buyer_company_name))
            .field(
                "buyer_purchase_order_number",
                &Redacted(&self.buyer_purchase_order_number),
            )
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

impl fmt::Debug for DeliveryAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryAddress")
            .field("name", &Redacted(&self.name))
            .field("company_name", &Redacted(&self.company_name))
            .field("address_line1", &Redacted(&self.address_line1))
            .field("address_line2", &Redacted(&self.address_line2))
            .field("address_line3", &Redacted(&self.address_line3))
            .field("city", &self.city)
            .field("district_or_county", &self.district_or_county)
            .field("state_or_region", &self.state_or_region)
            .field("municipality", &self.municipality)
            .field("postal_code", &Redacted(&self.postal_code))
            .field("country_code", &self.country_code)
            .field("phone", &Redacted(&self.phone))
            .field("address_type", &self.address_type)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipient")
            .field("delivery_address", &self.delivery_address)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

impl fmt::Debug for ItemProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemProduct")
            .field("asin", &self.asin)
            .field("title", &self.title)
            .field("seller_sku", &self.seller_sku)
            .field("price", &self.price)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

impl fmt::Debug for ItemFulfillment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemFulfillment")
            .field("quantity_fulfilled", &self.quantity_fulfilled)
            .field("quantity_unfulfilled", &self.quantity_unfulfilled)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

/// One line of an order (`OrderItem`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// Order item id (used by shipping confirmation).
    pub order_item_id: String,
    /// Units ordered.
    pub quantity_ordered: u32,
    /// What was ordered.
    #[serde(default)]
    pub product: ItemProduct,
    /// Fulfilment progress of this line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<ItemFulfillment>,
    /// Other fields (e.g. `proceeds`, `expense`, `promotion`, `cancellation`, `tax`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Status of a shipped package (`PackageStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageStatus {
    /// `PENDING`, `IN_TRANSIT`, `SHIPPED`, `DELIVERED`, `CANCELLED` or `UNDELIVERABLE`.
    pub status: String,
    /// Finer-grained status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_status: Option<String>,
}

/// An item inside a package (`PackageItem`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageItem {
    /// The order item shipped.
    pub order_item_id: String,
    /// Units in this package.
    pub quantity: u32,
    /// Transparency codes, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transparency_codes: Vec<String>,
}

/// A shipped package (`OrderPackage`, FBM only; needs `includedData=PACKAGES`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPackage {
    /// The seller's package reference.
    pub package_reference_id: String,
    /// When the package was created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created_time: Option<OffsetDateTime>,
    /// Package status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_status: Option<PackageStatus>,
    /// Carrier name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// When it shipped.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub ship_time: Option<OffsetDateTime>,
    /// Shipping service, e.g. `UPS Ground`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_service: Option<String>,
    /// Tracking number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Items in the package.
    #[serde(default)]
    pub package_items: Vec<PackageItem>,
    /// Other fields (e.g. `shipFromAddress`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// An order (`Order`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Amazon order id (3-7-7).
    pub order_id: String,
    /// When the order was placed.
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    /// When the order last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_time: OffsetDateTime,
    /// Where it was placed.
    pub sales_channel: SalesChannel,
    /// Buyer (with `includedData=BUYER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    /// Recipient (with `includedData=RECIPIENT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    /// Proceeds (with `includedData=PROCEEDS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proceeds: Option<OrderProceeds>,
    /// Fulfilment (with `includedData=FULFILLMENT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<OrderFulfillment>,
    /// Order lines (always returned).
    #[serde(default)]
    pub order_items: Vec<OrderItem>,
    /// Packages (with `includedData=PACKAGES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<OrderPackage>>,
    /// Programs, e.g. `PRIME`, `AMAZON_BUSINESS`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<String>,
    /// Other fields (e.g. `orderAliases`, `associatedOrders`, `payment`, `tax`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Pagination of searchOrders (`Pagination`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Token for the next page; valid 24 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Response of searchOrders (`SearchOrdersResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchOrdersResponse {
    /// Orders on this page.
    pub orders: Vec<Order>,
    /// Pagination, when more pages exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// Upper bound Amazon applied to `lastUpdatedTime` (use it as the next sync watermark).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_updated_before: Option<OffsetDateTime>,
    /// Upper bound Amazon applied to `createdTime`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created_before: Option<OffsetDateTime>,
}

impl SearchOrdersResponse {
    /// The token for the next page, if any.
    pub fn next_token(&self) -> Option<&str> {
        self.pagination.as_ref()?.next_token.as_deref()
    }
}

#[derive(Deserialize)]
struct GetOrderResponse {
    order: Order,
}

/// The time filter of searchOrders: exactly one of `createdAfter` or `lastUpdatedAfter`,
/// with the matching optional upper bound (at least 2 minutes before now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTimeFilter {
    /// Orders created in `[after, before)`.
    Created {
        /// `createdAfter`.
        after: OffsetDateTime,
        /// `createdBefore`.
        before: Option<OffsetDateTime>,
    },
    /// Orders updated in `[after, before)`: the incremental-sync filter.
    LastUpdated {
        /// `lastUpdatedAfter`.
        after: OffsetDateTime,
        /// `lastUpdatedBefore`.
        before: Option<OffsetDateTime>,
    },
}

/// Parameters of searchOrders. When paging, Amazon wants every filter repeated unchanged
/// together with `paginationToken` (only `maxResultsPerPage` and `includedData` may change),
/// so a page request is this same query with [`SearchOrdersQuery::pagination_token`] set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOrdersQuery {
    /// Time window.
    pub time_filter: OrderTimeFilter,
    /// Marketplaces (at most 50).
    pub marketplace_ids: Vec<String>,
    /// Only orders in these statuses.
    pub fulfillment_statuses: Vec<FulfillmentStatus>,
    /// Only orders fulfilled by these parties.
    pub fulfilled_by: Vec<FulfilledBy>,
    /// Page size, 1 to 100 (Amazon's default is 100).
    pub max_results_per_page: Option<u32>,
    /// Extra data sets to include.
    pub included_data: Vec<IncludedData>,
    /// `pagination.nextToken` of the previous page.
    pub pagination_token: Option<String>,
}

impl SearchOrdersQuery {
    /// A query with only a time filter and marketplaces.
    pub fn new(
        time_filter: OrderTimeFilter,
        marketplace_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            time_filter,
            marketplace_ids: marketplace_ids.into_iter().map(Into::into).collect(),
            fulfillment_statuses: Vec::new(),
            fulfilled_by: Vec::new(),
            max_results_per_page: None,
            included_data: Vec::new(),
            pagination_token: None,
        }
    }

    /// The same query for the page after `token`.
    pub fn with_pagination_token(&self, token: impl Into<String>) -> Self {
        Self {
            pagination_token: Some(token.into()),
            ..self.clone()
        }
    }

    pub(crate) fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, SpApiError> {
        let mut q = QueryPairs::new(Operation::SearchOrders);
        // `Unknown` stands for a value Amazon sent that we could not name; sent back it would be
        // "UNKNOWN", which Amazon rejects (or worse, ignores).
        if self
            .fulfillment_statuses
            .contains(&FulfillmentStatus::Unknown)
            || self.fulfilled_by.contains(&FulfilledBy::Unknown)
        {
            return Err(SpApiError::InvalidRequest {
                operation: Operation::SearchOrders.name(),
                reason: "`Unknown` is not a filter value".into(),
            });
        }
        match self.time_filter {
            OrderTimeFilter::Created { after, before } => {
                q.push_time("createdAfter", Some(after))?;
                q.push_time("createdBefore", before)?;
            }
            OrderTimeFilter::LastUpdated { after, before } => {
                q.push_time("lastUpdatedAfter", Some(after))?;
                q.push_time("lastUpdatedBefore", before)?;
            }
        }
        q.push_opt("marketplaceIds", csv(&self.marketplace_ids));
        q.push_opt(
            "fulfillmentStatuses",
            csv(self.fulfillment_statuses.iter().map(|s| s.as_str())),
        );
        q.push_opt(
            "fulfilledBy",
            csv(self.fulfilled_by.iter().map(|s| s.as_str())),
        );
        q.push_opt(
            "maxResultsPerPage",
            self.max_results_per_page.map(|n| n.to_string()),
        );
        q.push_opt(
            "includedData",
            csv(self.included_data.iter().map(|s| s.as_str())),
        );
        q.push_opt("paginationToken", self.pagination_token.clone());
        Ok(q.finish())
    }
}

/// Orders gathered over several pages by [`OrdersApi::search_all_orders`].
#[derive(Debug)]
pub struct CollectedOrders {
    /// Orders of every page fetched, in order.
    pub orders: Vec<Order>,
    /// Pages fetched.
    pub pages: u32,
    /// Where to resume (`Some` when stopped by `max_pages` or by an error).
    pub next_token: Option<String>,
    /// Set when paging stopped because of throttling: wait this long before resuming.
    pub retry_after: Option<Duration>,
    /// The error that ended the walk after at least one page (throttling included); resume
    /// from `next_token` later, after [`SpApiError::retry_after`] if it is retryable.
    pub stopped_by: Option<SpApiError>,
    /// `lastUpdatedBefore` of the last page fetched.
    pub last_updated_before: Option<OffsetDateTime>,
    /// `createdBefore` of the last page fetched.
    pub created_before: Option<OffsetDateTime>,
}

impl CollectedOrders {
    /// `true` when every page was fetched.
    pub fn is_complete(&self) -> bool {
        self.next_token.is_none()
    }
}

/// Orders API v2026-01-01 operations; get one from [`SpApiClient::orders`].
#[derive(Debug, Clone, Copy)]
pub struct OrdersApi<'a> {
    client: &'a SpApiClient,
}

impl<'a> OrdersApi<'a> {
    pub(crate) fn new(client: &'a SpApiClient) -> Self {
        Self { client }
    }

    /// searchOrders: `GET /orders/2026-01-01/orders`, one page.
    pub async fn search_orders(
        &self,
        query: &SearchOrdersQuery,
    ) -> Result<SearchOrdersResponse, SpApiError> {
        let op = Operation::SearchOrders;
        let url = self.client.url(op, &API, &query.to_pairs()?)?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }

    /// getOrder: `GET /orders/2026-01-01/orders/{orderId}` with optional `includedData`.
    pub async fn get_order(
        &self,
        order_id: &str,
        included_data: &[IncludedData],
    ) -> Result<Order, SpApiError> {
        let op = Operation::GetOrder;
        let mut q = QueryPairs::new(op);
        q.push_opt(
            "includedData",
            csv(included_data.iter().map(|s| s.as_str())),
        );
        let url = self
            .client
            .url(op, &[API[0], API[1], API[2], order_id], &q.finish())?;
        let response: GetOrderResponse = self.client.execute_json(ApiRequest::get(op, url)).await?;
        Ok(response.order)
    }

    /// Pages through searchOrders from `query` (which may already carry a pagination token)
    /// until the last page, `max_pages` pages, or throttling.
    ///
    /// searchOrders is slow-metered (0.0056 rps, burst 20), so losing pages that cost minutes of
    /// quota to one failure would hurt: once at least one page is in, *any* error ends the walk
    /// with `Ok`, the pages so far, `next_token` to resume from, the error in `stopped_by`, and
    /// `retry_after` when it was a throttle. An error on the first page is returned as `Err`.
    pub async fn search_all_orders(
        &self,
        query: &SearchOrdersQuery,
        max_pages: u32,
    ) -> Result<CollectedOrders, SpApiError> {
        let mut collected = CollectedOrders {
            orders: Vec::new(),
            pages: 0,
            next_token: query.pagination_token.clone(),
            retry_after: None,
            stopped_by: None,
            last_updated_before: None,
            created_before: None,
        };
        let mut page_query = query.clone();
        while collected.pages < max_pages.max(1) {
            let page = match self.search_orders(&page_query).await {
                Ok(page) => page,
                Err(e) if collected.pages > 0 => {
                    if let SpApiError::Throttled { retry_after, .. } = &e {
                        collected.retry_after = Some(*retry_after);
                    }
                    collected.stopped_by = Some(e);
                    return Ok(collected);
                }
                Err(e) => return Err(e),
            };
            collected.pages += 1;
            collected.next_token = page.next_token().map(str::to_owned);
            collected.last_updated_before = page.last_updated_before;
            collected.created_before = page.created_before;
            collected.orders.extend(page.orders);
            match &collected.next_token {
                Some(token) => page_query = query.with_pagination_token(token.clone()),
                None => break,
            }
        }
        Ok(collected)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use time::macros::datetime;

    use super::*;
    use crate::test_support::{MockServer, Reply};
    use crate::{Retryability, SpApiClient};

    const ORDERS_PATH: &str = "/orders/2026-01-01/orders";

    fn order_json(order_id: &str) -> Value {
        serde_json::json!({
            "orderId": order_id,
            "orderAliases": [{"aliasId": "DE-ORDER-1", "aliasType": "SELLER_ORDER_ID"}],
            "createdTime": "2026-11-01T08:30:00Z",
            "lastUpdatedTime": "2026-11-01T09:45:00.123Z",
            "programs": ["PRIME"],
            "salesChannel": {
                "channelName": "AMAZON",
                "marketplaceId": "A1PA6795UKMFR9",
                "marketplaceName": "Amazon.de"
            },
            "buyer": {"buyerName": "Jörg Müller", "buyerEmail": "abc@marketplace.amazon.de"},
            "recipient": {
                "deliveryAddress": {
                    "name": "Jörg Müller",
                    "addressLine1": "Hauptstraße 1",
                    "addressLine2": "3. OG",
                    "city": "Köln",
                    "stateOrRegion": "NRW",
                    "postalCode": "50667",
                    "countryCode": "DE",
                    "phone": "+49 221 000000",
                    "addressType": "RESIDENTIAL",
                    "extendedFields": {"streetName": "Hauptstraße", "streetNumber": "1"}
                },
                "deliveryPreference": {"dropOffLocation": "Garage"}
            },
            "proceeds": {"grandTotal": {"amount": "1234567.891", "currencyCode": "EUR"}},
            "fulfillment": {
                "fulfillmentStatus": "PARTIALLY_SHIPPED",
                "fulfilledBy": "MERCHANT",
                "fulfillmentServiceLevel": "STANDARD",
                "shipByWindow": {"latestDateTime": "2026-11-02T23:59:59Z"},
                "labelPrintingWindow": {"earliestDateTime": "2026-11-01T00:00:00Z"}
            },
            "orderItems": [
                {
                    "orderItemId": "12345678901234",
                    "quantityOrdered": 3,
                    "product": {
                        "asin": "B08C1W5N87",
                        "title": "Kaffeebecher",
                        "sellerSku": "MUG-RED",
                        "condition": {"conditionType": "NEW"},
                        "price": {"unitPrice": {"amount": "19.99", "currencyCode": "EUR"}}
                    },
                    "fulfillment": {"quantityFulfilled": 1, "quantityUnfulfilled": 2},
                    "promotion": {"breakdowns": [{"promotionId": "P1"}]}
                }
            ],
            "packages": [
                {
                    "packageReferenceId": "1",
                    "createdTime": "2026-11-01T10:00:00Z",
                    "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"},
                    "carrier": "DHL",
                    "shipTime": "2026-11-01T11:00:00Z",
                    "shippingService": "DHL Paket",
                    "trackingNumber": "00340434161234567890",
                    "packageItems": [{"orderItemId": "12345678901234", "quantity": 1}],
                    "shipFromAddress": {"city": "Berlin"}
                }
            ],
            "payment": {"paymentMethodDetails": ["Standard"]}
        })
    }

    async fn client(mock: &MockServer) -> SpApiClient {
        mock.lwa_ok(3600);
        SpApiClient::new(mock.config()).unwrap()
    }

    #[test]
    fn order_model_types_what_we_use_and_keeps_the_rest() {
        let order: Order = serde_json::from_value(order_json("028-1234567-1234567")).unwrap();
        assert_eq!(order.order_id, "028-1234567-1234567");
        assert_eq!(
            order.last_updated_time,
            datetime!(2026-11-01 09:45:00.123 UTC)
        );
        assert_eq!(
            order.sales_channel.marketplace_id.as_deref(),
            Some("A1PA6795UKMFR9")
        );
        let fulfillment = order.fulfillment.as_ref().unwrap();
        assert_eq!(
            fulfillment.fulfillment_status,
            FulfillmentStatus::PartiallyShipped
        );
        assert_eq!(fulfillment.fulfilled_by, Some(FulfilledBy::Merchant));
        assert!(fulfillment.extra.contains_key("labelPrintingWindow"));
        let address = order
            .recipient
            .as_ref()
            .and_then(|r| r.delivery_address.as_ref())
            .unwrap();
        assert_eq!(address.city.as_deref(), Some("Köln"));
        assert_eq!(address.address_line2.as_deref(), Some("3. OG"));
        assert!(address.extra.contains_key("extendedFields"));
        assert_eq!(
            order.buyer.as_ref().unwrap().buyer_name.as_deref(),
            Some("Jörg Müller")
        );
        // money is exact
        let total = order
            .proceeds
            .as_ref()
            .unwrap()
            .grand_total
            .as_ref()
            .unwrap();
        assert_eq!(total.amount, Decimal::from_str("1234567.891").unwrap());
        let item = &order.order_items[0];
        assert_eq!(item.quantity_ordered, 3);
        assert_eq!(item.product.seller_sku.as_deref(), Some("MUG-RED"));
        assert_eq!(
            item.product
                .price
                .as_ref()
                .unwrap()
                .unit_price
                .as_ref()
                .unwrap()
                .amount,
            Decimal::from_str("19.99").unwrap()
        );
        assert_eq!(
            item.fulfillment.as_ref().unwrap().quantity_unfulfilled,
            Some(2)
        );
        assert!(item.extra.contains_key("promotion"));
        assert!(item.product.extra.contains_key("condition"));
        let package = &order.packages.as_ref().unwrap()[0];
        assert_eq!(
            package.tracking_number.as_deref(),
            Some("00340434161234567890")
        );
        assert_eq!(
            package.package_status.as_ref().unwrap().status,
            "IN_TRANSIT"
        );
        assert_eq!(package.ship_time, Some(datetime!(2026-11-01 11:00 UTC)));
        assert_eq!(package.package_items[0].quantity, 1);
        assert!(order.extra.contains_key("orderAliases"));
        assert!(order.extra.contains_key("payment"));

        // Nothing is lost on the way back out (amounts stay strings).
        let round_trip = serde_json::to_value(&order).unwrap();
        assert_eq!(
            round_trip["proceeds"]["grandTotal"]["amount"],
            "1234567.891"
        );
        assert_eq!(round_trip["orderAliases"], order_json("x")["orderAliases"]);
        let again: Order = serde_json::from_value(round_trip).unwrap();
        assert_eq!(again, order);
    }

    #[test]
    fn unknown_enum_values_do_not_break_orders() {
        let mut json = order_json("1");
        json["fulfillment"]["fulfillmentStatus"] = "ON_THE_MOON".into();
        json["fulfillment"]["fulfilledBy"] = "PARTNER".into();
        let order: Order = serde_json::from_value(json).unwrap();
        let f = order.fulfillment.unwrap();
        assert_eq!(f.fulfillment_status, FulfillmentStatus::Unknown);
        assert_eq!(f.fulfilled_by, Some(FulfilledBy::Unknown));
    }

    #[tokio::test]
    async fn search_orders_sends_filters_and_pages_with_repeated_parameters() {
        let mock = MockServer::start().await;
        mock.route("GET", ORDERS_PATH, |r, n| {
            let token = r
                .query_pairs()
                .into_iter()
                .find(|(k, _)| k == "paginationToken")
                .map(|(_, v)| v);
            let expected = match n {
                0 => None,
                1 => Some("page-2".to_string()),
                _ => Some("page-3".to_string()),
            };
            assert_eq!(token, expected, "call {n}");
            let mut body = serde_json::json!({
                "orders": [order_json(&format!("028-0000000-000000{n}"))],
                "lastUpdatedBefore": "2026-11-01T12:00:00Z"
            });
            if n < 2 {
                body["pagination"] = serde_json::json!({"nextToken": format!("page-{}", n + 2)});
            }
            Reply::json(200, body)
        });
        let client = client(&mock).await;
        let mut query = SearchOrdersQuery::new(
            OrderTimeFilter::LastUpdated {
                after: datetime!(2026-11-01 00:00 UTC),
                before: Some(datetime!(2026-11-01 12:00 UTC)),
            },
            ["A1PA6795UKMFR9", "A1F83G8C2ARO7P"],
        );
        query.fulfillment_statuses = vec![
            FulfillmentStatus::Unshipped,
            FulfillmentStatus::PartiallyShipped,
        ];
        query.fulfilled_by = vec![FulfilledBy::Merchant];
        query.max_results_per_page = Some(100);
        query.included_data = vec![IncludedData::Recipient, IncludedData::Packages];

        let all = client.orders().search_all_orders(&query, 10).await.unwrap();
        assert!(all.is_complete());
        assert_eq!(all.pages, 3);
        assert_eq!(all.retry_after, None);
        let ids: Vec<_> = all.orders.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "028-0000000-0000000",
                "028-0000000-0000001",
                "028-0000000-0000002"
            ]
        );
        assert_eq!(
            all.last_updated_before,
            Some(datetime!(2026-11-01 12:00 UTC))
        );

        let requests = mock.requests("GET", ORDERS_PATH);
        let filters: Vec<(String, String)> = [
            ("lastUpdatedAfter", "2026-11-01T00:00:00Z"),
            ("lastUpdatedBefore", "2026-11-01T12:00:00Z"),
            ("marketplaceIds", "A1PA6795UKMFR9,A1F83G8C2ARO7P"),
            ("fulfillmentStatuses", "UNSHIPPED,PARTIALLY_SHIPPED"),
            ("fulfilledBy", "MERCHANT"),
            ("maxResultsPerPage", "100"),
            ("includedData", "RECIPIENT,PACKAGES"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(requests[0].query_pairs(), filters);
        let mut second = filters.clone();
        second.push(("paginationToken".into(), "page-2".into()));
        assert_eq!(
            requests[1].query_pairs(),
            second,
            "filters repeated with the token"
        );
    }

    #[tokio::test]
    async fn paging_stops_at_max_pages_or_throttle_with_a_resume_token() {
        let mock = MockServer::start().await;
        mock.route("GET", ORDERS_PATH, |_, n| {
            if n == 1 {
                return Reply::amazon_error(
                    429,
                    "QuotaExceeded",
                    "You exceeded your quota for the requested resource.",
                    Some(""),
                );
            }
            Reply::json(
                200,
                serde_json::json!({
                    "orders": [order_json("1")],
                    "pagination": {"nextToken": "resume-here"}
                }),
            )
        });
        let client = client(&mock).await;
        let query = SearchOrdersQuery::new(
            OrderTimeFilter::Created {
                after: datetime!(2026-11-01 00:00 UTC),
                before: None,
            },
            ["A1PA6795UKMFR9"],
        );
        let partial = client.orders().search_all_orders(&query, 10).await.unwrap();
        assert_eq!(partial.pages, 1);
        assert_eq!(partial.orders.len(), 1);
        assert_eq!(partial.next_token.as_deref(), Some("resume-here"));
        let wait = partial.retry_after.unwrap();
        assert!(
            wait >= crate::limits::SEARCH_ORDERS.refill_interval(),
            "{wait:?}"
        );
        assert_eq!(mock.calls("GET", ORDERS_PATH), 2);

        // The bucket is drained: resuming now is refused locally, as an error (no page yet).
        let resume = query.with_pagination_token("resume-here");
        let err = client
            .orders()
            .search_all_orders(&resume, 10)
            .await
            .unwrap_err();
        assert!(matches!(err.retryability(), Retryability::Throttled { .. }));
        assert_eq!(mock.calls("GET", ORDERS_PATH), 2);
        assert_eq!(
            mock.requests("GET", ORDERS_PATH)[0].query_pairs()[0],
            (
                "createdAfter".to_string(),
                "2026-11-01T00:00:00Z".to_string()
            )
        );
    }

    #[tokio::test]
    async fn max_pages_bounds_the_walk() {
        let mock = MockServer::start().await;
        mock.route("GET", ORDERS_PATH, |_, n| {
            Reply::json(
                200,
                serde_json::json!({"orders": [], "pagination": {"nextToken": format!("t{n}")}}),
            )
        });
        let client = client(&mock).await;
        let query = SearchOrdersQuery::new(
            OrderTimeFilter::Created {
                after: datetime!(2026-11-01 00:00 UTC),
                before: None,
            },
            ["A1PA6795UKMFR9"],
        );
        let two = client.orders().search_all_orders(&query, 2).await.unwrap();
        assert_eq!(two.pages, 2);
        assert_eq!(two.next_token.as_deref(), Some("t1"));
        assert!(!two.is_complete());
        assert_eq!(mock.calls("GET", ORDERS_PATH), 2);
    }

    #[tokio::test]
    async fn get_order_unwraps_the_order_and_sends_included_data() {
        let mock = MockServer::start().await;
        mock.route(
            "GET",
            "/orders/2026-01-01/orders/028-1234567-1234567",
            |_, _| {
                Reply::json(
                    200,
                    serde_json::json!({"order": order_json("028-1234567-1234567")}),
                )
            },
        );
        let client = client(&mock).await;
        let order = client
            .orders()
            .get_order(
                "028-1234567-1234567",
                &[IncludedData::Buyer, IncludedData::Recipient],
            )
            .await
            .unwrap();
        assert_eq!(order.order_id, "028-1234567-1234567");
        let request = &mock.requests("GET", "/orders/2026-01-01/orders/028-1234567-1234567")[0];
        assert_eq!(
            request.query_pairs(),
            vec![("includedData".to_string(), "BUYER,RECIPIENT".to_string())]
        );
    }

    // Review item 7: PII stays out of Debug.

    #[test]
    fn order_debug_redacts_pii() {
        let mut json = order_json("028-1234567-1234567");
        json["orderItems"][0]["product"]["customization"] =
            serde_json::json!({"customizedUrl": "https://zme-caps.amazon.com/t/secret-custom"});
        json["orderItems"][0]["fulfillment"]["packing"] =
            serde_json::json!({"giftOption": {"giftMessage": "Alles Gute, Oma!"}});
        let order: Order = serde_json::from_value(json).unwrap();

        let printed = format!("{order:?} {order:#?}");

        for pii in [
            "Jörg",
            "Müller",
            "abc@marketplace",
            "Hauptstraße",
            "3. OG",
            "50667",
            "+49 221",
            "secret-custom",
            "Alles Gute",
        ] {
            assert!(!printed.contains(pii), "{pii} in {printed}");
        }
        for kept in [
            "028-1234567-1234567",
            "Köln",
            "MUG-RED",
            "extendedFields",
            "customization",
        ] {
            assert!(printed.contains(kept), "{kept} missing from {printed}");
        }
        // Serialize still writes everything (stores need it).
        assert_eq!(
            serde_json::to_value(&order).unwrap()["recipient"]["deliveryAddress"]["postalCode"],
            "50667"
        );
    }

    // Review item 11: pages are kept whatever stops the walk.

    #[tokio::test]
    async fn a_failure_after_the_first_page_keeps_the_pages() {
        let mock = MockServer::start().await;
        mock.route("GET", ORDERS_PATH, |_, n| {
            if n == 0 {
                Reply::json(
                    200,
                    serde_json::json!({
                        "orders": [order_json("1")],
                        "pagination": {"nextToken": "resume-here"}
                    }),
                )
            } else {
                Reply::amazon_error(503, "ServiceUnavailable", "try later", None)
            }
        });
        let client = client(&mock).await;
        let query = SearchOrdersQuery::new(
            OrderTimeFilter::Created {
                after: datetime!(2026-11-01 00:00 UTC),
                before: None,
            },
            ["A1PA6795UKMFR9"],
        );

        let partial = client.orders().search_all_orders(&query, 10).await.unwrap();

        assert_eq!(partial.pages, 1);
        assert_eq!(partial.orders.len(), 1);
        assert_eq!(partial.next_token.as_deref(), Some("resume-here"));
        assert!(!partial.is_complete());
        assert_eq!(partial.retry_after, None);
        let stopped = partial.stopped_by.as_ref().unwrap();
        assert!(
            matches!(stopped, SpApiError::Api { status: 503, .. }),
            "{stopped:?}"
        );
        assert_eq!(stopped.retryability(), Retryability::Transient);
    }

    // Review item 14: Unknown is not a filter.

    #[tokio::test]
    async fn unknown_is_refused_as_a_filter() {
        let mock = MockServer::start().await;
        let client = client(&mock).await;
        let base = SearchOrdersQuery::new(
            OrderTimeFilter::Created {
                after: datetime!(2026-11-01 00:00 UTC),
                before: None,
            },
            ["A1PA6795UKMFR9"],
        );
        let mut by_status = base.clone();
        by_status.fulfillment_statuses =
            vec![FulfillmentStatus::Unshipped, FulfillmentStatus::Unknown];
        let mut by_channel = base.clone();
        by_channel.fulfilled_by = vec![FulfilledBy::Unknown];

        for query in [by_status, by_channel] {
            let err = client.orders().search_orders(&query).await.unwrap_err();
            assert!(matches!(err, SpApiError::InvalidRequest { .. }), "{err:?}");
        }
        assert_eq!(mock.total_calls(), 0, "refused before any call");
    }
}
