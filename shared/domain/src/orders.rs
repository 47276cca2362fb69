//! Orders as spsync keeps them, and the ids that name sellers, marketplaces and orders.
//!
//! An [`Order`] is built from the rows of Amazon's order report (one row per item) and then
//! completed by enrichment from Orders API v2026-01-01, which is the only source of buyer and
//! recipient details and of order-item ids. Amazon withholds some of those while an order is
//! Pending; [`Order::missing`] says what is still to be filled.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id as Amazon spells it.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The id as Amazon spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A selling partner id (merchant token), e.g. `A1SIMSELLER0001`.
    SellerId
);
string_id!(
    /// A marketplace id, e.g. `ATVPDKIKX0DER` (amazon.com).
    MarketplaceId
);
string_id!(
    /// An Amazon order id, e.g. `111-1234567-1234567`.
    AmazonOrderId
);

/// spsync's own order status, the one the back office works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Pending, Unshipped or partially shipped at Amazon: work to do.
    #[serde(rename = "ORDER_NEW")]
    New,
    /// Cancelled at Amazon.
    #[serde(rename = "ORDER_CANCELED")]
    Canceled,
    /// Shipped at Amazon.
    #[serde(rename = "ORDER_FULFILLED")]
    Fulfilled,
}

impl OrderStatus {
    /// All statuses, for listings and metrics.
    pub const ALL: [OrderStatus; 3] = [Self::New, Self::Canceled, Self::Fulfilled];

    /// The wire/storage spelling (`ORDER_NEW`, `ORDER_CANCELED`, `ORDER_FULFILLED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "ORDER_NEW",
            Self::Canceled => "ORDER_CANCELED",
            Self::Fulfilled => "ORDER_FULFILLED",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Amazon's order status as the order report words it (`Pending`, `Unshipped`,
/// `PartiallyShipped`, `Shipped`, `Cancelled`, ...). The v2026 API words it differently
/// (`PENDING`, `UNSHIPPED`, `CANCELLED`, ...); both map here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AmazonOrderStatus {
    /// Placed, payment not yet authorised; PII withheld.
    Pending,
    /// Paid, nothing shipped.
    Unshipped,
    /// Some items shipped.
    PartiallyShipped,
    /// Everything shipped (includes "Shipped - Delivered to Buyer" and similar variants).
    Shipped,
    /// Cancelled (the report spells it with two l's, v0 with one).
    Cancelled,
    /// Any other word (InvoiceUnconfirmed, Unfulfillable, Shipping, ...), kept verbatim.
    Other(String),
}

/// How Amazon fulfils an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentChannel {
    /// Merchant-fulfilled (MFN): spsync's business.
    Merchant,
    /// Fulfilled by Amazon (FBA): kept, flagged, never offered for fulfilment.
    Amazon,
}

/// One order item as spsync keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Seller SKU.
    pub sku: Option<String>,
    /// ASIN.
    pub asin: Option<String>,
    /// Product title as the report gives it.
    pub product_name: Option<String>,
    /// Quantity ordered.
    pub quantity: u32,
    /// Amazon's item status word from the report.
    pub item_status: Option<String>,
    /// Item price (total for the line) in the order's currency.
    pub item_price: Option<Decimal>,
    /// Amazon's order-item id: from the report when it carries one, else from enrichment.
    pub order_item_id: Option<String>,
}

/// A postal address (recipient) from enrichment, or the partial one from the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Recipient name.
    pub name: Option<String>,
    /// Address lines 1 to 3.
    pub lines: Vec<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// Recipient phone.
    pub phone: Option<String>,
}

/// Buyer details from enrichment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    /// Buyer name.
    pub name: Option<String>,
    /// Buyer email (an Amazon relay address).
    pub email: Option<String>,
    /// Buyer phone.
    pub phone: Option<String>,
}

/// What an order still lacks that enrichment is meant to fill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Buyer name.
    pub buyer_name: bool,
    /// Buyer email.
    pub buyer_email: bool,
    /// Phone (buyer or recipient).
    pub phone: bool,
    /// Recipient street address.
    pub recipient_address: bool,
    /// At least one line has no order-item id.
    pub order_item_ids: bool,
}

impl Missing {
    /// True when nothing is missing.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// An order as spsync stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Seller the order belongs to.
    pub seller_id: SellerId,
    /// Marketplace it was placed in.
    pub marketplace_id: MarketplaceId,
    /// Amazon's order id.
    pub amazon_order_id: AmazonOrderId,
    /// Seller's own order id, if any.
    pub merchant_order_id: Option<String>,
    /// spsync's status.
    pub status: OrderStatus,
    /// Amazon's status as last seen.
    pub amazon_status: AmazonOrderStatus,
    /// MFN or FBA.
    pub fulfillment_channel: FulfillmentChannel,
    /// Purchase date.
    #[serde(with = "time::serde::rfc3339")]
    pub purchase_date: OffsetDateTime,
    /// Amazon's last-updated date of the data we hold (orders report / API).
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated: OffsetDateTime,
    /// Sales channel (e.g. `Amazon.com`).
    pub sales_channel: Option<String>,
    /// Ship service level (e.g. `Standard`).
    pub ship_service_level: Option<String>,
    /// Business (B2B) order.
    pub is_business_order: bool,
    /// Currency of the prices.
    pub currency: Option<String>,
    /// Items, one per report row.
    pub lines: Vec<OrderLine>,
    /// Ship-to as the report gives it (city, state, postal code, country only).
    pub ship_to: Address,
    /// Buyer details (enrichment).
    pub buyer: Buyer,
    /// Full recipient address (enrichment).
    pub recipient: Option<Address>,
    /// Storage version; every write is conditional on it.
    pub version: u64,
    /// When spsync first stored the order.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When spsync last changed the order.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Order {
    /// True for Fulfilled-by-Amazon orders, which spsync never offers for fulfilment.
    pub fn is_fba(&self) -> bool {
        self.fulfillment_channel == FulfillmentChannel::Amazon
    }
}

impl AmazonOrderStatus {
    /// Reads Amazon's status word as the order report or the v2026 API spells it.
    ///
    /// Case, spaces, `_` and `-` are ignored, so `PartiallyShipped` and `PARTIALLY_SHIPPED`
    /// agree. `Cancelled` and `Canceled` (v0's spelling) are both [`Self::Cancelled`]; any word
    /// that starts with "Shipped" (`Shipped - Delivered to Buyer`, `Shipped - Picked Up`, ...)
    /// is [`Self::Shipped`]; an unknown word is kept verbatim (trimmed) in [`Self::Other`].
    ///
    /// ```
    /// use spsync_domain::AmazonOrderStatus as S;
    ///
    /// assert_eq!(S::parse("PARTIALLY_SHIPPED"), S::PartiallyShipped);
    /// assert_eq!(S::parse("Canceled"), S::Cancelled);
    /// assert_eq!(S::parse("Shipped - Delivered to Buyer"), S::Shipped);
    /// ```
    pub fn parse(word: &str) -> Self {
        let word = word.trim();
        // Fast path: the report's own spellings, no allocation.
        match word {
            "Pending" => return Self::Pending,
            "Unshipped" => return Self::Unshipped,
            "PartiallyShipped" => return Self::PartiallyShipped,
            "Shipped" => return Self::Shipped,
            "Cancelled" => return Self::Cancelled,
            _ => {}
        }
        let folded: String = word
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match folded.as_str() {
            "pending" => Self::Pending,
            "unshipped" => Self::Unshipped,
            "partiallyshipped" => Self::PartiallyShipped,
            "cancelled" | "canceled" => Self::Cancelled,
            f if f.starts_with("shipped") => Self::Shipped,
            _ => Self::Other(word.to_owned()),
        }
    }

    /// The report's spelling (`Pending`, `Unshipped`, `PartiallyShipped`, `Shipped`,
    /// `Cancelled`, or the [`Self::Other`] word as received).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::Unshipped => "Unshipped",
            Self::PartiallyShipped => "PartiallyShipped",
            Self::Shipped => "Shipped",
            Self::Cancelled => "Cancelled",
            Self::Other(word) => word,
        }
    }
}

impl fmt::Display for AmazonOrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FulfillmentChannel {
    /// Reads the report's `fulfillment-channel` (`Merchant`, `Amazon`), the v0 codes (`MFN`,
    /// `AFN`) or v2026's `fulfilledBy` (`MERCHANT`, `AMAZON`), ignoring case and surrounding
    /// spaces. `None` for anything else.
    pub fn parse(word: &str) -> Option<Self> {
        let word = word.trim();
        if word.eq_ignore_ascii_case("merchant") || word.eq_ignore_ascii_case("mfn") {
            Some(Self::Merchant)
        } else if word.eq_ignore_ascii_case("amazon") || word.eq_ignore_ascii_case("afn") {
            Some(Self::Amazon)
        } else {
            None
        }
    }

    /// The report's spelling: `Merchant` or `Amazon`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "Merchant",
            Self::Amazon => "Amazon",
        }
    }
}

impl fmt::Display for FulfillmentChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What Orders API v2026-01-01 told us about one order (searchOrders / getOrder with
/// `includedData=BUYER,RECIPIENT`), in domain terms; applied with [`Order::apply_enrichment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The order this is about.
    pub amazon_order_id: AmazonOrderId,
    /// Amazon's status word in the API (`fulfillment.fulfillmentStatus`), if given.
    pub amazon_status: Option<AmazonOrderStatus>,
    /// Amazon's `lastUpdatedTime`, if given.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_updated: Option<OffsetDateTime>,
    /// Buyer details; `None` fields were withheld or absent.
    pub buyer: Buyer,
    /// Delivery address, if given.
    pub recipient: Option<Address>,
    /// Order items, in the API's order.
    pub items: Vec<EnrichedItem>,
}

/// One order item as the Orders API gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichedItem {
    /// Amazon's order-item id.
    pub order_item_id: String,
    /// Seller SKU.
    pub sku: Option<String>,
    /// ASIN.
    pub asin: Option<String>,
    /// Quantity ordered.
    pub quantity: u32,
}

impl Order {
    /// What enrichment still has to fill.
    ///
    /// * Buyer name, buyer email and phone are never missing on FBA orders: Amazon does not
    ///   give them for Amazon-fulfilled orders, so asking again would never end.
    /// * The recipient's street address is never missing on a cancelled order (Amazon
    ///   withholds it and nobody ships it).
    /// * Order-item ids are missing when any line lacks one.
    ///
    /// While the order is Pending at Amazon the PII fields are reported missing (they are
    /// still to be filled); Amazon only releases them once the order leaves Pending.
    pub fn missing(&self) -> Missing {
        let fba = self.is_fba();
        let cancelled = self.status == OrderStatus::Canceled
            || self.amazon_status == AmazonOrderStatus::Cancelled;
        let recipient_phone = self.recipient.as_ref().and_then(|r| r.phone.as_ref());
        Missing {
            buyer_name: !fba && self.buyer.name.is_none(),
            buyer_email: !fba && self.buyer.email.is_none(),
            phone: !fba && self.buyer.phone.is_none() && recipient_phone.is_none(),
            recipient_address: !cancelled
                && self.recipient.as_ref().is_none_or(|r| r.lines.is_empty()),
            order_item_ids: self.lines.iter().any(|l| l.order_item_id.is_none()),
        }
    }

    /// True when something is [`missing`](Self::missing) and the order is not cancelled
    /// (a cancelled order is never worth an SP-API call).
    pub fn needs_enrichment(&self) -> bool {
        self.status != OrderStatus::Canceled && !self.missing().is_none()
    }

    /// Fills what enrichment brings and the order lacks; returns whether anything changed
    /// (and then sets `updated_at = now`).
    ///
    /// * Only absent fields are filled: a value we hold is never erased or overwritten, so an
    ///   answer with PII withheld (Pending) cannot undo an earlier, fuller one.
    /// * Items are matched to lines that have no order-item id yet: first a line with the same
    ///   SKU, then one with the same ASIN, then by position among the lines and items still
    ///   unmatched (never when both carry a SKU, or both an ASIN, and they differ); an item
    ///   whose id a line already carries is skipped. An item that matches no line adds nothing
    ///   (the report owns the lines).
    /// * Status: the report decides `status` and `last_updated`, never enrichment. The only
    ///   status effect is that a newer Amazon status word (`e.last_updated` strictly after
    ///   `self.last_updated`) is recorded in `amazon_status`, as a hint of where the order is
    ///   heading; `last_updated` is left alone so the next report row is not taken for stale.
    ///
    /// `e.amazon_order_id` is not checked against `self`; matching is the caller's job.
    pub fn apply_enrichment(&mut self, e: &Enrichment, now: OffsetDateTime) -> bool {
        let mut changed = false;
        changed |= fill(&mut self.buyer.name, &e.buyer.name);
        changed |= fill(&mut self.buyer.email, &e.buyer.email);
        changed |= fill(&mut self.buyer.phone, &e.buyer.phone);
        if let Some(incoming) = &e.recipient {
            match &mut self.recipient {
                None => {
                    if *incoming != Address::default() {
                        self.recipient = Some(incoming.clone());
                        changed = true;
                    }
                }
                Some(held) => changed |= fill_address(held, incoming),
            }
        }
        changed |= self.fill_item_ids(&e.items);
        // Newer news from the API moves the order on: an order bought before the report's
        // window and cancelled or shipped later is only ever seen here. The status never moves
        // backwards (same rank rule as the import), and the newer `last_updated` makes an
        // older report row that arrives later compare as stale instead of undoing this.
        if let (Some(status), Some(updated)) = (&e.amazon_status, e.last_updated)
            && updated > self.last_updated
        {
            self.amazon_status = status.clone();
            let reported = crate::order_import::order_status_for(status);
            if crate::order_import::rank(reported) > crate::order_import::rank(self.status) {
                self.status = reported;
            }
            self.last_updated = updated;
            changed = true;
        }
        if changed {
            self.updated_at = now;
        }
        changed
    }

    fn fill_item_ids(&mut self, items: &[EnrichedItem]) -> bool {
        // Items whose id a line already carries are done; the rest are matched one to one.
        let mut pending: Vec<Option<&EnrichedItem>> = items
            .iter()
            .map(|item| {
                let known = self
                    .lines
                    .iter()
                    .any(|l| l.order_item_id.as_deref() == Some(item.order_item_id.as_str()));
                (!known).then_some(item)
            })
            .collect();
        let open: Vec<usize> = (0..self.lines.len())
            .filter(|&i| self.lines[i].order_item_id.is_none())
            .collect();
        if open.is_empty() || pending.iter().all(Option::is_none) {
            return false;
        }
        let mut assigned: Vec<Option<usize>> = vec![None; self.lines.len()];
        let by_sku = |l: &OrderLine, it: &EnrichedItem| l.sku.is_some() && l.sku == it.sku;
        let by_asin = |l: &OrderLine, it: &EnrichedItem| l.asin.is_some() && l.asin == it.asin;
        for same in [
            &by_sku as &dyn Fn(&OrderLine, &EnrichedItem) -> bool,
            &by_asin,
        ] {
            for &li in &open {
                if assigned[li].is_some() {
                    continue;
                }
                if let Some(ii) = pending
                    .iter()
                    .position(|it| it.is_some_and(|it| same(&self.lines[li], it)))
                {
                    assigned[li] = Some(ii);
                    pending[ii] = None;
                }
            }
        }
        // By position: the n-th unmatched line takes the n-th unmatched item, unless they
        // name different products (SKUs or ASINs both present and different).
        let mut rest = (0..pending.len()).filter(|&ii| pending[ii].is_some());
        for &li in &open {
            if assigned[li].is_none()
                && let Some(ii) = rest.next()
                && let Some(item) = pending[ii]
            {
                let line = &self.lines[li];
                let differ =
                    |a: &Option<String>, b: &Option<String>| a.is_some() && b.is_some() && a != b;
                if !differ(&line.sku, &item.sku) && !differ(&line.asin, &item.asin) {
                    assigned[li] = Some(ii);
                }
            }
        }
        let mut changed = false;
        for (li, ii) in assigned.into_iter().enumerate() {
            let Some(ii) = ii else { continue };
            let item = &items[ii];
            let line = &mut self.lines[li];
            line.order_item_id = Some(item.order_item_id.clone());
            fill(&mut line.sku, &item.sku);
            fill(&mut line.asin, &item.asin);
            changed = true;
        }
        changed
    }
}

/// Sets `held` from `incoming` when `held` is empty; true if it did.
fn fill<T: Clone>(held: &mut Option<T>, incoming: &Option<T>) -> bool {
    if held.is_none() && incoming.is_some() {
        held.clone_from(incoming);
        true
    } else {
        false
    }
}

fn fill_address(held: &mut Address, incoming: &Address) -> bool {
    let mut changed = false;
    changed |= fill(&mut held.name, &incoming.name);
    if held.lines.is_empty() && !incoming.lines.is_empty() {
        held.lines.clone_from(&incoming.lines);
        changed = true;
    }
    changed |= fill(&mut held.city, &incoming.city);
    changed |= fill(&mut held.state, &incoming.state);
    changed |= fill(&mut held.postal_code, &incoming.postal_code);
    changed |= fill(&mut held.country, &incoming.country);
    changed |= fill(&mut held.phone, &incoming.phone);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-20 09:00 UTC);
    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn line(sku: Option<&str>, asin: Option<&str>, id: Option<&str>) -> OrderLine {
        OrderLine {
            sku: sku.map(str::to_owned),
            asin: asin.map(str::to_owned),
            product_name: None,
            quantity: 1,
            item_status: None,
            item_price: None,
            order_item_id: id.map(str::to_owned),
        }
    }

    fn order(status: OrderStatus, amazon: AmazonOrderStatus, channel: FulfillmentChannel) -> Order {
        Order {
            seller_id: SellerId::new("A1SIMSELLER0001"),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            amazon_order_id: AmazonOrderId::new("111-0000000-0000001"),
            merchant_order_id: None,
            status,
            amazon_status: amazon,
            fulfillment_channel: channel,
            purchase_date: T0,
            last_updated: T0,
            sales_channel: None,
            ship_service_level: None,
            is_business_order: false,
            currency: None,
            lines: vec![
                line(Some("A"), Some("B0A"), None),
                line(Some("B"), Some("B0B"), None),
            ],
            ship_to: Address::default(),
            buyer: Buyer::default(),
            recipient: None,
            version: 1,
            created_at: T0,
            updated_at: T0,
        }
    }

    fn pending_mfn() -> Order {
        order(
            OrderStatus::New,
            AmazonOrderStatus::Pending,
            FulfillmentChannel::Merchant,
        )
    }

    fn full_recipient() -> Address {
        Address {
            name: Some("R".into()),
            lines: vec!["1 Main St".into()],
            city: Some("SEATTLE".into()),
            state: Some("WA".into()),
            postal_code: Some("98101".into()),
            country: Some("US".into()),
            phone: Some("+1 555 0100".into()),
        }
    }

    fn complete(mut o: Order) -> Order {
        o.buyer = Buyer {
            name: Some("B".into()),
            email: Some("b@marketplace.amazon.invalid".into()),
            phone: None,
        };
        o.recipient = Some(full_recipient());
        for (i, l) in o.lines.iter_mut().enumerate() {
            l.order_item_id = Some(format!("OI-{i}"));
        }
        o
    }

    #[test]
    fn missing_follows_channel_and_status() {
        let all = Missing {
            buyer_name: true,
            buyer_email: true,
            phone: true,
            recipient_address: true,
            order_item_ids: true,
        };
        let cases = [
            ("fresh MFN pending", pending_mfn(), all),
            (
                "FBA: no buyer PII expected",
                order(
                    OrderStatus::New,
                    AmazonOrderStatus::Unshipped,
                    FulfillmentChannel::Amazon,
                ),
                Missing {
                    recipient_address: true,
                    order_item_ids: true,
                    ..Missing::default()
                },
            ),
            (
                "cancelled: no address expected",
                order(
                    OrderStatus::Canceled,
                    AmazonOrderStatus::Cancelled,
                    FulfillmentChannel::Merchant,
                ),
                Missing {
                    recipient_address: false,
                    ..all
                },
            ),
            ("complete", complete(pending_mfn()), Missing::default()),
            (
                "recipient without street",
                {
                    let mut o = complete(pending_mfn());
                    o.recipient = Some(Address {
                        lines: vec![],
                        ..full_recipient()
                    });
                    o
                },
                Missing {
                    recipient_address: true,
                    ..Missing::default()
                },
            ),
            (
                "one line without id",
                {
                    let mut o = complete(pending_mfn());
                    o.lines[1].order_item_id = None;
                    o
                },
                Missing {
                    order_item_ids: true,
                    ..Missing::default()
                },
            ),
            (
                "phone from buyer when the recipient has none",
                {
                    let mut o = complete(pending_mfn());
                    o.recipient = Some(Address {
                        phone: None,
                        ..full_recipient()
                    });
                    o.buyer.phone = Some("+1 555 0101".into());
                    o
                },
                Missing::default(),
            ),
        ];
        for (name, o, expected) in cases {
            assert_eq!(o.missing(), expected, "{name}");
            assert_eq!(
                o.missing().is_none(),
                expected == Missing::default(),
                "{name}"
            );
        }
    }

    #[test]
    fn needs_enrichment_when_something_is_missing_unless_canceled() {
        let canceled = order(
            OrderStatus::Canceled,
            AmazonOrderStatus::Cancelled,
            FulfillmentChannel::Merchant,
        );
        let mut fulfilled = complete(order(
            OrderStatus::Fulfilled,
            AmazonOrderStatus::Shipped,
            FulfillmentChannel::Merchant,
        ));
        fulfilled.lines[0].order_item_id = None;
        let cases = [
            ("pending", pending_mfn(), true),
            ("complete", complete(pending_mfn()), false),
            ("canceled with gaps", canceled, false),
            ("fulfilled lacking an id", fulfilled, true),
        ];
        for (name, o, expected) in cases {
            assert_eq!(o.needs_enrichment(), expected, "{name}");
        }
    }

    fn enrichment(items: Vec<EnrichedItem>) -> Enrichment {
        Enrichment {
            amazon_order_id: AmazonOrderId::new("111-0000000-0000001"),
            amazon_status: None,
            last_updated: None,
            buyer: Buyer::default(),
            recipient: None,
            items,
        }
    }

    fn item(id: &str, sku: Option<&str>, asin: Option<&str>) -> EnrichedItem {
        EnrichedItem {
            order_item_id: id.into(),
            sku: sku.map(str::to_owned),
            asin: asin.map(str::to_owned),
            quantity: 1,
        }
    }

    #[test]
    fn pending_enrichment_fills_item_ids_without_pii() {
        let mut o = pending_mfn();
        let e = enrichment(vec![
            item("OI-B", Some("B"), Some("B0B")),
            item("OI-A", Some("A"), Some("B0A")),
        ]);

        let changed = o.apply_enrichment(&e, NOW);

        assert!(changed);
        assert_eq!(o.updated_at, NOW);
        let ids: Vec<_> = o.lines.iter().map(|l| l.order_item_id.as_deref()).collect();
        assert_eq!(ids, [Some("OI-A"), Some("OI-B")]);
        assert!(o.missing().buyer_email && !o.missing().order_item_ids);
        assert!(o.needs_enrichment());
        assert_eq!(o.status, OrderStatus::New);
    }

    #[test]
    fn applying_the_same_enrichment_twice_changes_nothing_the_second_time() {
        let mut o = pending_mfn();
        let mut e = enrichment(vec![
            item("OI-A", Some("A"), None),
            item("OI-B", Some("B"), None),
        ]);
        e.buyer.email = Some("b@marketplace.amazon.invalid".into());
        e.recipient = Some(full_recipient());
        assert!(o.apply_enrichment(&e, NOW));
        let later = datetime!(2026-11-20 13:00 UTC);

        let changed = o.apply_enrichment(&e, later);

        assert!(!changed);
        assert_eq!(o.updated_at, NOW);
    }

    #[test]
    fn enrichment_fills_only_absent_fields() {
        let mut o = complete(pending_mfn());
        o.buyer.phone = None;
        o.recipient = Some(Address {
            phone: None,
            postal_code: None,
            ..full_recipient()
        });
        let before = o.clone();
        let mut e = enrichment(vec![item("OI-X", Some("A"), Some("B0A"))]);
        e.buyer = Buyer {
            name: Some("Other".into()),
            email: None,
            phone: Some("+1 555 0199".into()),
        };
        e.recipient = Some(Address {
            name: None,
            lines: vec!["2 Other St".into()],
            postal_code: Some("98102".into()),
            ..Address::default()
        });

        assert!(o.apply_enrichment(&e, NOW));

        assert_eq!(o.buyer.name, before.buyer.name, "held name kept");
        assert_eq!(o.buyer.email, before.buyer.email, "None never erases");
        assert_eq!(o.buyer.phone.as_deref(), Some("+1 555 0199"));
        let r = o.recipient.as_ref().unwrap();
        assert_eq!(r.lines, full_recipient().lines, "held street kept");
        assert_eq!(r.name, full_recipient().name);
        assert_eq!(r.postal_code.as_deref(), Some("98102"));
        let ids: Vec<_> = o.lines.iter().map(|l| l.order_item_id.as_deref()).collect();
        assert_eq!(ids, [Some("OI-0"), Some("OI-1")], "held ids kept");
    }

    #[test]
    fn items_match_lines_by_sku_then_asin_then_position() {
        type Case<'a> = (
            &'a str,
            Vec<OrderLine>,
            Vec<EnrichedItem>,
            Vec<Option<&'a str>>,
        );
        let cases: Vec<Case> = vec![
            (
                "sku",
                vec![line(Some("A"), None, None), line(Some("B"), None, None)],
                vec![item("2", Some("B"), None), item("1", Some("A"), None)],
                vec![Some("1"), Some("2")],
            ),
            (
                "asin when skus are absent",
                vec![line(None, Some("B0A"), None), line(None, Some("B0B"), None)],
                vec![item("2", None, Some("B0B")), item("1", None, Some("B0A"))],
                vec![Some("1"), Some("2")],
            ),
            (
                "position when nothing names the product",
                vec![line(None, None, None), line(None, None, None)],
                vec![item("1", Some("A"), None), item("2", Some("B"), None)],
                vec![Some("1"), Some("2")],
            ),
            (
                "never by position across different skus",
                vec![line(Some("A"), None, None)],
                vec![item("9", Some("Z"), None)],
                vec![None],
            ),
            (
                "an id already on a line is not given twice",
                vec![
                    line(Some("A"), None, Some("1")),
                    line(Some("A"), None, None),
                ],
                vec![item("1", Some("A"), None), item("2", Some("A"), None)],
                vec![Some("1"), Some("2")],
            ),
            (
                "more items than lines: extra items add nothing",
                vec![line(Some("A"), None, None)],
                vec![item("1", Some("A"), None), item("2", Some("B"), None)],
                vec![Some("1")],
            ),
        ];
        for (name, lines, items, expected) in cases {
            let mut o = pending_mfn();
            o.lines = lines;

            o.apply_enrichment(&enrichment(items), NOW);

            let got: Vec<_> = o.lines.iter().map(|l| l.order_item_id.as_deref()).collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn newer_api_news_moves_the_order_on_and_older_news_does_not() {
        let later = datetime!(2026-11-20 10:00 UTC);
        let cases = [
            (
                Some(later),
                AmazonOrderStatus::Unshipped,
                AmazonOrderStatus::Unshipped,
                OrderStatus::New,
                later,
                true,
            ),
            (
                Some(later),
                AmazonOrderStatus::Cancelled,
                AmazonOrderStatus::Cancelled,
                OrderStatus::Canceled,
                later,
                true,
            ),
            (
                Some(later),
                AmazonOrderStatus::Shipped,
                AmazonOrderStatus::Shipped,
                OrderStatus::Fulfilled,
                later,
                true,
            ),
            (
                Some(T0),
                AmazonOrderStatus::Unshipped,
                AmazonOrderStatus::Pending,
                OrderStatus::New,
                T0,
                false,
            ),
            (
                Some(datetime!(2026-11-20 08:00 UTC)),
                AmazonOrderStatus::Cancelled,
                AmazonOrderStatus::Pending,
                OrderStatus::New,
                T0,
                false,
            ),
            (
                None,
                AmazonOrderStatus::Cancelled,
                AmazonOrderStatus::Pending,
                OrderStatus::New,
                T0,
                false,
            ),
        ];
        for (updated, word, want_word, want_status, want_updated, changed) in cases {
            let mut o = complete(pending_mfn());
            let mut e = enrichment(vec![]);
            e.amazon_status = Some(word.clone());
            e.last_updated = updated;

            assert_eq!(o.apply_enrichment(&e, NOW), changed, "{updated:?} {word:?}");

            assert_eq!(o.amazon_status, want_word, "{updated:?} {word:?}");
            assert_eq!(o.status, want_status, "{updated:?} {word:?}");
            assert_eq!(o.last_updated, want_updated, "{updated:?} {word:?}");
        }
    }

    #[test]
    fn api_news_never_moves_a_closed_order_back_to_new() {
        let mut o = complete(pending_mfn());
        o.status = OrderStatus::Canceled;
        o.amazon_status = AmazonOrderStatus::Cancelled;
        let mut e = enrichment(vec![]);
        e.amazon_status = Some(AmazonOrderStatus::Unshipped);
        e.last_updated = Some(datetime!(2026-11-21 10:00 UTC));

        o.apply_enrichment(&e, NOW);

        assert_eq!(o.status, OrderStatus::Canceled);
    }

    #[test]
    fn fulfillment_channel_words() {
        let cases = [
            ("Merchant", Some(FulfillmentChannel::Merchant)),
            ("MFN", Some(FulfillmentChannel::Merchant)),
            ("MERCHANT", Some(FulfillmentChannel::Merchant)),
            ("Amazon", Some(FulfillmentChannel::Amazon)),
            (" AFN ", Some(FulfillmentChannel::Amazon)),
            ("AMAZON", Some(FulfillmentChannel::Amazon)),
            ("Seller", None),
            ("", None),
        ];
        for (word, expected) in cases {
            assert_eq!(FulfillmentChannel::parse(word), expected, "{word}");
        }
    }

    #[test]
    fn status_words_round_trip_through_as_str() {
        for word in [
            "Pending",
            "Unshipped",
            "PartiallyShipped",
            "Shipped",
            "Cancelled",
            "InvoiceUnconfirmed",
        ] {
            assert_eq!(AmazonOrderStatus::parse(word).as_str(), word);
        }
    }
}
