//! The shipping desk of a local run: staff who pack part of the imported orders and record
//! each package through the shipments HTTP API, as a warehouse or its shipping software
//! would, so that `make demo` has tracking to send without anyone typing it.
//!
//! Every 10 simulated minutes, per seller, the desk lists the seller's `ORDER_NEW` orders and
//! keeps the merchant-fulfilled ones Amazon released (Unshipped or PartiallyShipped) whose
//! every line has its order-item id and that it has not handled yet. A hash of the order id
//! picks a share of them (so two runs of a scenario ship the same orders), and each picked
//! order leaves in one package with all its items: ship date 20 minutes ago (never before the
//! purchase), carrier by marketplace ([`DeskCarrier`]: UPS with a 1Z number and its check
//! digit in America, Royal Mail with an S10 number in the UK, DHL Paket elsewhere).
//!
//! Like real staff the desk is not perfect, deterministically by order ([`variety`]): about
//! 1 in 12 packages goes without a tracking number (Amazon accepts it; it counts against the
//! Valid Tracking Rate), about 1 in 15 is typed with a typo the API refuses up front (422:
//! counted, its problem kept for the summary, never retried), and about 1 in 20 confirmed
//! shipments later gets its tracking number corrected ([`corrects`], a PATCH that spsync sends
//! to Amazon again). A 5xx answer is retried with the same body at the next visit, so the
//! shipment id keeps the retry idempotent.
//!
//! The pure parts (which orders, which numbers, which body) are functions here; [`Desk`]
//! plans each visit and remembers the answers; [`LocalStack`](crate::LocalStack) reads the
//! tables and sends the requests through `invoke_http`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use spsync_domain::{
    AmazonOrderStatus, Order, OrderStatus, SellerId, Shipment, ShipmentItem, ShipmentState,
    TrackingCheck, check_tracking_format, normalize_tracking, resolve_carrier, s10_check_digit,
};
use time::OffsetDateTime;

use crate::marketplaces::region_of;

/// Share of the eligible orders the desk ships by default.
pub const DEFAULT_SHARE: f64 = 0.6;

/// How often the desk goes through the orders (simulated time).
pub const VISIT_EVERY: Duration = Duration::from_secs(600);

/// Packages are recorded this long after they left.
pub const SHIP_DATE_LAG: time::Duration = time::Duration::minutes(20);

/// Problem texts kept for the summary.
const MAX_PROBLEMS: usize = 5;

/// The UK marketplace (Royal Mail).
const UK: &str = "A1F83G8C2ARO7P";

/// How the desk works.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskOptions {
    /// Share of the eligible orders shipped (0 to 1).
    pub share: f64,
    /// Time between visits (simulated).
    pub every: Duration,
}

impl Default for DeskOptions {
    fn default() -> Self {
        Self {
            share: DEFAULT_SHARE,
            every: VISIT_EVERY,
        }
    }
}

/// FNV-1a (64 bit) of `salt#order_id`: stable across runs, platforms and Rust versions, which
/// `std`'s hasher does not promise.
pub fn order_hash(order_id: &str, salt: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain([b'#']).chain(order_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Whether the desk ships `order_id` when it ships `share` of the orders.
pub fn picks(order_id: &str, share: f64) -> bool {
    // The top 53 bits as a fraction in [0, 1).
    let fraction = (order_hash(order_id, "ship") >> 11) as f64 / (1u64 << 53) as f64;
    fraction < share
}

/// How a package is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variety {
    /// With a valid tracking number.
    Tracked,
    /// Without a tracking number (hurts the Valid Tracking Rate).
    Untracked,
    /// With a mistyped tracking number the API refuses.
    Typo,
}

/// The variety of an order's package: 5 in 60 untracked (~1 in 12), 4 in 60 with a typo
/// (~1 in 15), the rest tracked.
pub fn variety(order_id: &str) -> Variety {
    match order_hash(order_id, "variety") % 60 {
        0..=4 => Variety::Untracked,
        5..=8 => Variety::Typo,
        _ => Variety::Tracked,
    }
}

/// Whether a confirmed shipment of `order_id` later gets its tracking number corrected
/// (~1 in 20).
pub fn corrects(order_id: &str) -> bool {
    order_hash(order_id, "correct").is_multiple_of(20)
}

/// Whether the desk may ship `order`: `ORDER_NEW`, merchant-fulfilled, released by Amazon
/// (Unshipped or PartiallyShipped), every line with its order-item id and a quantity.
pub fn eligible(order: &Order) -> bool {
    order.status == OrderStatus::New
        && !order.is_fba()
        && matches!(
            order.amazon_status,
            AmazonOrderStatus::Unshipped | AmazonOrderStatus::PartiallyShipped
        )
        && !order.lines.is_empty()
        && order.lines.iter().all(|l| {
            l.quantity > 0
                && l.order_item_id
                    .as_deref()
                    .is_some_and(|id| !id.trim().is_empty())
        })
}

/// The carrier the desk uses in a marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskCarrier {
    /// UPS (North and South America).
    Ups,
    /// Royal Mail (UK).
    RoyalMail,
    /// DHL Paket (Germany, the rest of Europe, everywhere else).
    Dhl,
}

/// UPS shipper number of the desk's account (6 characters of a 1Z number).
const UPS_SHIPPER: &str = "5V7X31";
/// UPS service code: Ground.
const UPS_GROUND: &str = "03";
/// Royal Mail Tracked service indicator (the S10 number's two leading letters).
const ROYAL_MAIL_SERVICE: &str = "TT";
/// DHL Paket numbers: 20 digits, the sender's prefix first.
const DHL_PREFIX: &str = "00340434";

impl DeskCarrier {
    /// The carrier of a marketplace.
    pub fn for_marketplace(marketplace_id: &str) -> Self {
        if marketplace_id == UK {
            Self::RoyalMail
        } else if region_of(marketplace_id) == Some("na") {
            Self::Ups
        } else {
            Self::Dhl
        }
    }

    /// The carrier as staff type it (an AfterShip slug).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Ups => "ups",
            Self::RoyalMail => "royal-mail",
            Self::Dhl => "dhl",
        }
    }

    /// The service.
    pub fn ship_method(self) -> &'static str {
        match self {
            Self::Ups => "UPS Ground",
            Self::RoyalMail => "Tracked 48",
            Self::Dhl => "DHL Paket",
        }
    }

    /// A valid tracking number of this carrier, from `seed`.
    pub fn tracking_number(self, seed: u64) -> String {
        match self {
            Self::Ups => {
                let body = format!("{UPS_SHIPPER}{UPS_GROUND}{:07}", seed % 10_000_000);
                format!("1Z{body}{}", ups_check_digit(&body))
            }
            Self::RoyalMail => {
                let serial = format!("{:08}", seed % 100_000_000);
                let digit = s10_check_digit(&serial).unwrap_or(0);
                format!("{ROYAL_MAIL_SERVICE}{serial}{digit}GB")
            }
            Self::Dhl => format!("{DHL_PREFIX}{:012}", seed % 1_000_000_000_000),
        }
    }

    /// `tracking` as mistyped by a person (a character missed, a digit hit wrong), in a way
    /// spsync's checks refuse.
    pub fn typo(self, tracking: &str, seed: u64) -> String {
        let drop = |t: &str, at: usize| -> String {
            let at = at.min(t.len().saturating_sub(1));
            t.char_indices()
                .filter(|(i, _)| *i != at)
                .map(|(_, c)| c)
                .collect()
        };
        let candidate = match self {
            // A character of the package number missed.
            Self::Ups => drop(tracking, 10 + (seed % 7) as usize),
            // A serial digit hit one key off: the S10 check digit catches it.
            Self::RoyalMail => {
                let at = 2 + (seed % 8) as usize;
                tracking
                    .char_indices()
                    .map(|(i, c)| match c.to_digit(10) {
                        Some(d) if i == at => char::from_digit((d + 1) % 10, 10).unwrap_or(c),
                        _ => c,
                    })
                    .collect()
            }
            Self::Dhl => drop(tracking, 8 + (seed % 12) as usize),
        };
        // The S10 check digit maps two remainders to 5, so rarely a changed digit still
        // checks out: then a character is missed instead, which no format accepts.
        if refused(self, &candidate) {
            candidate
        } else {
            drop(tracking, tracking.len().saturating_sub(1))
        }
    }
}

/// Whether spsync's checks refuse `tracking` for `carrier` (it does not normalise, or has
/// none of the carrier's shapes).
pub fn refused(carrier: DeskCarrier, tracking: &str) -> bool {
    let Ok(choice) = resolve_carrier(carrier.slug()) else {
        return true;
    };
    match normalize_tracking(tracking) {
        Err(_) => true,
        Ok(t) => matches!(
            check_tracking_format(&choice, &t),
            TrackingCheck::Mismatch { .. }
        ),
    }
}

/// The check digit of a UPS 1Z number's 15 characters after `1Z`: letters count as
/// `(letter - 'A' + 2) mod 10`, every second character (from the second) is doubled, and the
/// digit brings the sum to a multiple of 10.
pub fn ups_check_digit(body: &str) -> u32 {
    let sum: u32 = body
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let v = c.to_digit(10).unwrap_or_else(|| {
                (u32::from(c.to_ascii_uppercase()) + 100 - u32::from('A') + 2) % 10
            });
            if i % 2 == 1 { v * 2 } else { v }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The shipment id the desk gives an order's package (its "package id": a retry of the same
/// recording is then answered with the stored shipment).
pub fn shipment_id(order_id: &str) -> String {
    format!(
        "PKG-{:010}",
        order_hash(order_id, "package") % 10_000_000_000
    )
}

/// When the package left: [`SHIP_DATE_LAG`] before `now`, never before the purchase.
pub fn ship_date(now: OffsetDateTime, purchase: OffsetDateTime) -> OffsetDateTime {
    (now - SHIP_DATE_LAG).max(purchase)
}

/// The body of `POST /sellers/{sellerId}/shipments`, as the shipments API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordBody {
    /// The package id.
    pub shipment_id: String,
    /// The order.
    pub amazon_order_id: String,
    /// The carrier as typed.
    pub carrier: String,
    /// The tracking number as typed (absent: shipped without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// When the package left.
    #[serde(with = "time::serde::rfc3339")]
    pub ship_date: OffsetDateTime,
    /// The service.
    pub ship_method: String,
    /// Every item of the order with its full quantity.
    pub items: Vec<ShipmentItem>,
}

impl RecordBody {
    /// The JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The package the desk records for `order` at `now`, by the order's [`variety`].
pub fn record_body(order: &Order, now: OffsetDateTime) -> RecordBody {
    let id = order.amazon_order_id.as_str();
    let carrier = DeskCarrier::for_marketplace(order.marketplace_id.as_str());
    let seed = order_hash(id, "tracking");
    let tracking = match variety(id) {
        Variety::Tracked => Some(carrier.tracking_number(seed)),
        Variety::Untracked => None,
        Variety::Typo => Some(carrier.typo(&carrier.tracking_number(seed), seed >> 32)),
    };
    package(order, carrier, tracking, now)
}

/// A package of `order` with a valid tracking number whatever its variety (the example of
/// `local-run --keep-running`).
pub fn example_body(order: &Order, now: OffsetDateTime) -> RecordBody {
    let id = order.amazon_order_id.as_str();
    let carrier = DeskCarrier::for_marketplace(order.marketplace_id.as_str());
    let tracking = carrier.tracking_number(order_hash(id, "example"));
    package(order, carrier, Some(tracking), now)
}

fn package(
    order: &Order,
    carrier: DeskCarrier,
    tracking_number: Option<String>,
    now: OffsetDateTime,
) -> RecordBody {
    let id = order.amazon_order_id.as_str();
    RecordBody {
        shipment_id: shipment_id(id),
        amazon_order_id: id.to_owned(),
        carrier: carrier.slug().to_owned(),
        tracking_number,
        ship_date: ship_date(now, order.purchase_date),
        ship_method: carrier.ship_method().to_owned(),
        items: order
            .lines
            .iter()
            .filter_map(|l| {
                Some(ShipmentItem {
                    order_item_id: l.order_item_id.clone()?,
                    quantity: l.quantity,
                })
            })
            .collect(),
    }
}

/// A corrected tracking number for a shipment recorded with `old`: another valid number of
/// the same carrier.
pub fn corrected_tracking(carrier: DeskCarrier, order_id: &str, old: &str) -> String {
    let seed = order_hash(order_id, "corrected");
    let new = carrier.tracking_number(seed);
    if new == old {
        carrier.tracking_number(seed.wrapping_add(1))
    } else {
        new
    }
}

/// `1Z5V…84`: enough of a tracking number to recognise it, not the number.
pub fn mask_tracking(tracking: &str) -> String {
    let chars: Vec<char> = tracking.chars().collect();
    if chars.len() <= 6 {
        return "…".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

/// A recording the desk sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The seller.
    pub seller: SellerId,
    /// The body.
    pub body: RecordBody,
}

impl Recording {
    /// The request path.
    pub fn path(&self) -> String {
        format!("/sellers/{}/shipments", self.seller)
    }
}

/// A tracking correction the desk sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionPlan {
    /// The seller.
    pub seller: SellerId,
    /// The order.
    pub amazon_order_id: String,
    /// The shipment.
    pub shipment_id: String,
    /// The new tracking number.
    pub tracking_number: String,
}

impl CorrectionPlan {
    /// The request path.
    pub fn path(&self) -> String {
        format!(
            "/sellers/{}/orders/{}/shipments/{}",
            self.seller, self.amazon_order_id, self.shipment_id
        )
    }

    /// The JSON body of the PATCH.
    pub fn body(&self) -> String {
        serde_json::json!({ "tracking_number": self.tracking_number }).to_string()
    }
}

/// What the desk did over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeskStats {
    /// Share of the eligible orders shipped.
    pub share: f64,
    /// Visits made.
    pub visits: u64,
    /// Recording requests sent (retries included).
    pub requests: u64,
    /// Shipments recorded (201, or 200 for a retry the store had already taken).
    pub recorded: u64,
    /// Of those, without a tracking number.
    pub without_tracking: u64,
    /// Refused at recording (422 and other 4xx answers; never retried).
    pub refused: u64,
    /// The first few refusals: `<order>: <field>: <problem>` (tracking numbers masked).
    pub refusals: Vec<String>,
    /// 5xx answers (the recording was sent again at the next visit).
    pub server_errors: u64,
    /// Recordings still waiting for a retry when the run ended.
    pub waiting_retry: u64,
    /// Tracking corrections the API accepted.
    pub corrections_sent: u64,
    /// Tracking corrections the API refused (never retried).
    pub corrections_refused: u64,
    /// The first few refused corrections.
    pub correction_refusals: Vec<String>,
}

#[derive(Debug, Clone)]
struct Shipped {
    shipment_id: String,
    carrier: DeskCarrier,
    tracking: Option<String>,
    corrected: bool,
}

type OrderKey = (String, String);

/// The desk: plans each visit and remembers what it did.
#[derive(Debug)]
pub struct Desk {
    options: DeskOptions,
    next_visit: OffsetDateTime,
    /// Orders recorded or refused: never recorded again.
    handled: BTreeSet<OrderKey>,
    /// Recordings answered 5xx, sent again (same body) at the next visit.
    retry: BTreeMap<OrderKey, RecordBody>,
    /// Recorded shipments (for corrections).
    shipped: BTreeMap<OrderKey, Shipped>,
    stats: DeskStats,
}

impl Desk {
    /// A desk whose first visit is one interval after `start`.
    pub fn new(options: DeskOptions, start: OffsetDateTime) -> Self {
        let stats = DeskStats {
            share: options.share,
            ..DeskStats::default()
        };
        Self {
            next_visit: start + options.every,
            options,
            handled: BTreeSet::new(),
            retry: BTreeMap::new(),
            shipped: BTreeMap::new(),
            stats,
        }
    }

    /// Whether a visit is due at `now`.
    pub fn due(&self, now: OffsetDateTime) -> bool {
        now >= self.next_visit
    }

    /// Notes a visit at `now` and schedules the next one.
    pub fn visited(&mut self, now: OffsetDateTime) {
        self.stats.visits += 1;
        let every = self.options.every.max(Duration::from_secs(1));
        while self.next_visit <= now {
            self.next_visit += every;
        }
    }

    /// What to record for `seller` given its `ORDER_NEW` orders: the recordings waiting for
    /// a retry first, then a package for every eligible order the desk picks and has not
    /// handled.
    pub fn plan_recordings(
        &self,
        seller: &SellerId,
        orders: &[Order],
        now: OffsetDateTime,
    ) -> Vec<Recording> {
        let mut plan: Vec<Recording> = self
            .retry
            .iter()
            .filter(|((s, _), _)| s == seller.as_str())
            .map(|(_, body)| Recording {
                seller: seller.clone(),
                body: body.clone(),
            })
            .collect();
        for order in orders {
            let key = (seller.to_string(), order.amazon_order_id.to_string());
            if order.seller_id != *seller
                || self.handled.contains(&key)
                || self.retry.contains_key(&key)
                || !eligible(order)
                || !picks(order.amazon_order_id.as_str(), self.options.share)
            {
                continue;
            }
            plan.push(Recording {
                seller: seller.clone(),
                body: record_body(order, now),
            });
        }
        plan
    }

    /// Takes the API's answer to a recording.
    pub fn on_record_answer(&mut self, recording: &Recording, status: u16, body: &str) {
        let key = (
            recording.seller.to_string(),
            recording.body.amazon_order_id.clone(),
        );
        self.stats.requests += 1;
        if status >= 500 {
            self.stats.server_errors += 1;
            self.retry.insert(key, recording.body.clone());
            return;
        }
        self.retry.remove(&key);
        self.handled.insert(key.clone());
        if (200..300).contains(&status) {
            self.stats.recorded += 1;
            let tracking = recording.body.tracking_number.clone();
            self.stats.without_tracking += u64::from(tracking.is_none());
            let carrier = match recording.body.carrier.as_str() {
                "ups" => DeskCarrier::Ups,
                "royal-mail" => DeskCarrier::RoyalMail,
                _ => DeskCarrier::Dhl,
            };
            self.shipped.insert(
                key,
                Shipped {
                    shipment_id: recording.body.shipment_id.clone(),
                    carrier,
                    tracking,
                    corrected: false,
                },
            );
        } else {
            self.stats.refused += 1;
            let text = refusal_text(
                &recording.body.amazon_order_id,
                status,
                body,
                recording.body.tracking_number.as_deref(),
            );
            // One example per kind of problem (the text without its order and number).
            let kind = problem_kind(&text);
            if self.stats.refusals.len() < MAX_PROBLEMS
                && !self.stats.refusals.iter().any(|r| problem_kind(r) == kind)
            {
                self.stats.refusals.push(text);
            }
        }
    }

    /// The desk's shipments of `seller` that will get a tracking correction once confirmed
    /// (picked by [`corrects`], recorded with a tracking number, not corrected yet), as
    /// (order, shipment id): the runner reads just these instead of listing every confirmed
    /// shipment at each visit.
    pub fn correction_candidates(&self, seller: &SellerId) -> Vec<(String, String)> {
        self.shipped
            .iter()
            .filter(|((s, order), shipped)| {
                s == seller.as_str()
                    && !shipped.corrected
                    && shipped.tracking.is_some()
                    && corrects(order)
            })
            .map(|((_, order), shipped)| (order.clone(), shipped.shipment_id.clone()))
            .collect()
    }

    /// Tracking corrections to send for `seller`, given its shipments as stored: the
    /// Confirmed ones among [`Desk::correction_candidates`], each with another valid number.
    pub fn plan_corrections(&self, seller: &SellerId, stored: &[Shipment]) -> Vec<CorrectionPlan> {
        stored
            .iter()
            .filter(|s| {
                s.seller_id == *seller
                    && matches!(s.state, ShipmentState::Confirmed { .. })
                    && corrects(s.amazon_order_id.as_str())
            })
            .filter_map(|s| {
                let key = (seller.to_string(), s.amazon_order_id.to_string());
                let mine = self.shipped.get(&key)?;
                if mine.corrected || mine.shipment_id != s.shipment_id {
                    return None;
                }
                let old = mine.tracking.as_deref()?;
                Some(CorrectionPlan {
                    seller: seller.clone(),
                    amazon_order_id: s.amazon_order_id.to_string(),
                    shipment_id: s.shipment_id.clone(),
                    tracking_number: corrected_tracking(
                        mine.carrier,
                        s.amazon_order_id.as_str(),
                        old,
                    ),
                })
            })
            .collect()
    }

    /// Takes the API's answer to a correction (a 5xx leaves it for the next visit).
    pub fn on_correction_answer(&mut self, plan: &CorrectionPlan, status: u16, body: &str) {
        if status >= 500 {
            self.stats.server_errors += 1;
            return;
        }
        let key = (plan.seller.to_string(), plan.amazon_order_id.clone());
        let old = self.shipped.get(&key).and_then(|s| s.tracking.clone());
        if let Some(s) = self.shipped.get_mut(&key) {
            s.corrected = true;
            if (200..300).contains(&status) {
                s.tracking = Some(plan.tracking_number.clone());
            }
        }
        if (200..300).contains(&status) {
            self.stats.corrections_sent += 1;
        } else {
            self.stats.corrections_refused += 1;
            if self.stats.correction_refusals.len() < MAX_PROBLEMS {
                let mut text = refusal_text(
                    &plan.amazon_order_id,
                    status,
                    body,
                    Some(&plan.tracking_number),
                );
                if let Some(old) = old {
                    text = text.replace(&old, &mask_tracking(&old));
                }
                self.stats.correction_refusals.push(text);
            }
        }
    }

    /// What the desk did so far.
    pub fn stats(&self) -> DeskStats {
        DeskStats {
            waiting_retry: self.retry.len() as u64,
            ..self.stats.clone()
        }
    }
}

/// A refusal text without its order id and masked tracking number (`<order>: ` leads it;
/// the masked number is the only `…`-word).
fn problem_kind(text: &str) -> String {
    let body = text.split_once(": ").map_or(text, |(_, rest)| rest);
    body.split(' ')
        .filter(|w| !w.contains('…'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `<order>: <field>: <problem>; ...` from a 422's problems, or `<order>: HTTP <status>
/// <error>: <message>`; the tracking number sent is masked.
pub fn refusal_text(order_id: &str, status: u16, body: &str, tracking: Option<&str>) -> String {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let problems: Vec<String> = json["problems"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        p["field"].as_str().unwrap_or("?"),
                        p["message"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let text = if problems.is_empty() {
        format!(
            "{order_id}: HTTP {status} {}: {}",
            json["error"].as_str().unwrap_or("error"),
            json["message"].as_str().unwrap_or(body)
        )
    } else {
        format!("{order_id}: {}", problems.join("; "))
    };
    match tracking.and_then(|t| normalize_tracking(t).ok().or(Some(t.to_owned()))) {
        Some(t) if !t.is_empty() => text.replace(&t, &mask_tracking(&t)),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use spsync_domain::{
        AmazonOrderId, CheckedShipment, FulfillmentChannel, MarketplaceId, OrderLine,
        ShipmentRequest, check_shipment,
    };
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-20 14:00 UTC);
    const US: &str = "ATVPDKIKX0DER";
    const DE: &str = "A1PA6795UKMFR9";

    fn order(id: &str, marketplace: &str) -> Order {
        Order {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new(marketplace),
            amazon_order_id: AmazonOrderId::new(id),
            merchant_order_id: None,
            status: OrderStatus::New,
            amazon_status: AmazonOrderStatus::Unshipped,
            fulfillment_channel: FulfillmentChannel::Merchant,
            purchase_date: NOW - time::Duration::hours(5),
            last_updated: NOW,
            sales_channel: None,
            ship_service_level: None,
            is_business_order: false,
            currency: None,
            lines: vec![
                OrderLine {
                    sku: Some("MUG".into()),
                    asin: None,
                    product_name: None,
                    quantity: 2,
                    item_status: None,
                    item_price: None,
                    order_item_id: Some(format!("{id}-1")),
                },
                OrderLine {
                    sku: Some("LID".into()),
                    asin: None,
                    product_name: None,
                    quantity: 1,
                    item_status: None,
                    item_price: None,
                    order_item_id: Some(format!("{id}-2")),
                },
            ],
            ship_to: Default::default(),
            buyer: Default::default(),
            recipient: None,
            version: 1,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("111-{:07}-{:07}", i / 7, i))
            .collect()
    }

    fn request(body: &RecordBody) -> ShipmentRequest {
        ShipmentRequest {
            amazon_order_id: AmazonOrderId::new(&body.amazon_order_id),
            carrier: body.carrier.clone(),
            tracking_number: body.tracking_number.clone(),
            ship_date: body.ship_date,
            ship_method: Some(body.ship_method.clone()),
            items: body.items.clone(),
        }
    }

    fn check(o: &Order, body: &RecordBody) -> Result<CheckedShipment, Vec<String>> {
        check_shipment(o, &Default::default(), &request(body), NOW)
            .map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn picking_is_deterministic_and_close_to_the_share() {
        let ids = ids(5_000);
        let picked = ids.iter().filter(|id| picks(id, 0.6)).count();

        assert!((2_850..=3_150).contains(&picked), "{picked} of 5000");
        assert!(ids.iter().all(|id| picks(id, 0.6) == picks(id, 0.6)));
        assert!(ids.iter().all(|id| !picks(id, 0.0) && picks(id, 1.0)));
        // A larger share ships a superset.
        assert!(
            ids.iter()
                .filter(|id| picks(id, 0.3))
                .all(|id| picks(id, 0.6))
        );
        assert_eq!(order_hash("a", "b"), order_hash("a", "b"));
        assert_ne!(order_hash("a", "ship"), order_hash("a", "variety"));
    }

    #[test]
    fn varieties_come_in_their_proportions() {
        let ids = ids(6_000);
        let count = |v| ids.iter().filter(|id| variety(id) == v).count();
        let corrected = ids.iter().filter(|id| corrects(id)).count();

        assert!(
            (400..=600).contains(&count(Variety::Untracked)),
            "{}",
            count(Variety::Untracked)
        );
        assert!(
            (300..=500).contains(&count(Variety::Typo)),
            "{}",
            count(Variety::Typo)
        );
        assert!((220..=380).contains(&corrected), "{corrected}");
    }

    #[test]
    fn ups_check_digit_matches_a_published_number() {
        // 1Z999AA10123456784 is UPS's own example number.
        assert_eq!(ups_check_digit("999AA1012345678"), 4);
    }

    #[test]
    fn generated_tracking_numbers_pass_the_domain_checks_and_typos_fail_them() {
        for carrier in [DeskCarrier::Ups, DeskCarrier::RoyalMail, DeskCarrier::Dhl] {
            let choice = resolve_carrier(carrier.slug()).unwrap();
            for seed in (0..2_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) {
                let t = carrier.tracking_number(seed);
                assert_eq!(normalize_tracking(&t).as_deref(), Ok(t.as_str()));
                assert_eq!(
                    check_tracking_format(&choice, &t),
                    TrackingCheck::Matches,
                    "{carrier:?} {t}"
                );
                let typo = carrier.typo(&t, seed >> 7);
                assert_ne!(typo, t);
                assert!(refused(carrier, &typo), "{carrier:?} {t} -> {typo}");
            }
        }
        assert!(
            DeskCarrier::Ups
                .tracking_number(7)
                .starts_with("1Z5V7X3103")
        );
        assert!(DeskCarrier::RoyalMail.tracking_number(7).ends_with("GB"));
        assert_eq!(DeskCarrier::Dhl.tracking_number(7).len(), 20);
    }

    #[test]
    fn carriers_follow_the_marketplace() {
        assert_eq!(DeskCarrier::for_marketplace(US), DeskCarrier::Ups);
        assert_eq!(DeskCarrier::for_marketplace(UK), DeskCarrier::RoyalMail);
        assert_eq!(DeskCarrier::for_marketplace(DE), DeskCarrier::Dhl);
        assert_eq!(resolve_carrier("royal-mail").unwrap().code(), "Royal Mail");
        assert_eq!(resolve_carrier("dhl").unwrap().code(), "DHL");
        assert_eq!(resolve_carrier("ups").unwrap().code(), "UPS");
    }

    #[test]
    fn bodies_ship_every_item_and_pass_the_checks_unless_mistyped() {
        let mut seen = BTreeSet::new();
        for (i, id) in ids(400).iter().enumerate() {
            let marketplace = [US, UK, DE][i % 3];
            let o = order(id, marketplace);
            let body = record_body(&o, NOW);

            assert_eq!(body.amazon_order_id, *id);
            assert_eq!(body.shipment_id, shipment_id(id));
            assert_eq!(body.ship_date, NOW - SHIP_DATE_LAG);
            assert_eq!(
                body.items,
                [
                    ShipmentItem {
                        order_item_id: format!("{id}-1"),
                        quantity: 2
                    },
                    ShipmentItem {
                        order_item_id: format!("{id}-2"),
                        quantity: 1
                    }
                ]
            );
            let checked = check(&o, &body);
            match variety(id) {
                Variety::Typo => {
                    let problems = checked.unwrap_err();
                    assert!(
                        problems.iter().all(|p| p.starts_with("tracking_number:")),
                        "{problems:?}"
                    );
                }
                v => {
                    let checked = checked.unwrap();
                    assert_eq!(checked.hurts_vtr, v == Variety::Untracked);
                    assert_eq!(body.tracking_number.is_none(), v == Variety::Untracked);
                }
            }
            seen.insert(variety(id));
            let json: Value = serde_json::from_str(&body.to_json()).unwrap();
            assert_eq!(json["ship_date"], "2026-11-20T13:40:00Z");
            assert_eq!(
                json.get("tracking_number").is_some(),
                body.tracking_number.is_some()
            );
        }
        assert_eq!(seen.len(), 3, "every variety occurs");
    }

    #[test]
    fn the_ship_date_is_never_before_the_purchase() {
        let purchase = NOW - time::Duration::minutes(5);
        assert_eq!(ship_date(NOW, purchase), purchase);
        assert_eq!(
            ship_date(NOW, NOW - time::Duration::days(2)),
            NOW - SHIP_DATE_LAG
        );
    }

    #[test]
    fn only_released_merchant_orders_with_item_ids_are_eligible() {
        let ok = order("111-0000001-0000001", US);
        let mut fba = ok.clone();
        fba.fulfillment_channel = FulfillmentChannel::Amazon;
        let mut pending = ok.clone();
        pending.amazon_status = AmazonOrderStatus::Pending;
        let mut partly = ok.clone();
        partly.amazon_status = AmazonOrderStatus::PartiallyShipped;
        let mut no_ids = ok.clone();
        no_ids.lines[1].order_item_id = None;
        let mut closed = ok.clone();
        closed.status = OrderStatus::Fulfilled;

        assert!(eligible(&ok) && eligible(&partly));
        assert!(!eligible(&fba) && !eligible(&pending) && !eligible(&no_ids) && !eligible(&closed));
    }

    fn stored(o: &Order, body: &RecordBody) -> Shipment {
        let mut s = Shipment::record(
            o,
            body.shipment_id.clone(),
            check(o, body).unwrap(),
            "api",
            NOW,
        );
        s.state = ShipmentState::Confirmed { confirmed_at: NOW };
        s
    }

    #[test]
    fn a_visit_records_picked_orders_once_retries_5xx_and_never_retries_refusals() {
        let seller = SellerId::new("A1");
        let orders: Vec<Order> = ids(300).iter().map(|id| order(id, US)).collect();
        let mut desk = Desk::new(DeskOptions::default(), NOW);

        let plan = desk.plan_recordings(&seller, &orders, NOW);
        let picked = orders
            .iter()
            .filter(|o| picks(o.amazon_order_id.as_str(), DEFAULT_SHARE))
            .count();
        assert_eq!(plan.len(), picked);
        assert!(plan.iter().all(|r| r.path() == "/sellers/A1/shipments"));

        let refusal = r#"{"error":"invalid_shipment","message":"m","problems":[{"field":"tracking_number","message":"X is wrong"}]}"#;
        let (first, rest) = plan.split_first().unwrap();
        desk.on_record_answer(
            first,
            503,
            r#"{"error":"unavailable","message":"try again"}"#,
        );
        for r in rest {
            let status = if variety(&r.body.amazon_order_id) == Variety::Typo {
                422
            } else {
                201
            };
            desk.on_record_answer(r, status, refusal);
        }
        let again = desk.plan_recordings(&seller, &orders, NOW + VISIT_EVERY);

        assert_eq!(
            again,
            std::slice::from_ref(first),
            "only the 503 is sent again, with the same body"
        );
        let stats = desk.stats();
        let typos = rest
            .iter()
            .filter(|r| variety(&r.body.amazon_order_id) == Variety::Typo)
            .count() as u64;
        assert_eq!(stats.refused, typos);
        assert_eq!(stats.recorded, rest.len() as u64 - typos);
        assert_eq!((stats.server_errors, stats.waiting_retry), (1, 1));
        assert_eq!(stats.refusals.len(), 1, "one example per kind of problem");
        assert!(stats.refusals[0].ends_with(": tracking_number: X is wrong"));

        desk.on_record_answer(first, 200, "{}");
        assert!(desk.plan_recordings(&seller, &orders, NOW).is_empty());
        assert_eq!(desk.stats().waiting_retry, 0);
    }

    #[test]
    fn confirmed_shipments_picked_for_correction_get_one_new_valid_number() {
        let seller = SellerId::new("A1");
        let orders: Vec<Order> = ids(2_000)
            .iter()
            .filter(|id| picks(id, DEFAULT_SHARE) && corrects(id) && variety(id) != Variety::Typo)
            .map(|id| order(id, UK))
            .collect();
        let mut desk = Desk::new(DeskOptions::default(), NOW);
        let plan = desk.plan_recordings(&seller, &orders, NOW);
        for r in &plan {
            desk.on_record_answer(r, 201, "{}");
        }
        let confirmed: Vec<Shipment> = plan
            .iter()
            .zip(&orders)
            .map(|(r, o)| stored(o, &r.body))
            .collect();

        let corrections = desk.plan_corrections(&seller, &confirmed);

        let tracked = plan
            .iter()
            .filter(|r| r.body.tracking_number.is_some())
            .count();
        assert!(tracked > 0);
        assert_eq!(
            corrections.len(),
            tracked,
            "untracked ones are not corrected"
        );
        for c in &corrections {
            let old = confirmed
                .iter()
                .find(|s| s.amazon_order_id.as_str() == c.amazon_order_id)
                .and_then(|s| s.details.tracking_number.clone())
                .unwrap();
            assert_ne!(c.tracking_number, old);
            assert!(!refused(DeskCarrier::RoyalMail, &c.tracking_number));
            assert!(c.path().ends_with(&format!("/shipments/{}", c.shipment_id)));
            assert_eq!(
                serde_json::from_str::<Value>(&c.body()).unwrap()["tracking_number"],
                c.tracking_number.as_str()
            );
        }
        let (first, rest) = corrections.split_first().unwrap();
        desk.on_correction_answer(first, 503, "{}");
        for c in rest {
            desk.on_correction_answer(c, 200, "{}");
        }
        assert_eq!(
            desk.plan_corrections(&seller, &confirmed),
            std::slice::from_ref(first)
        );
        assert_eq!(
            desk.correction_candidates(&seller),
            [(first.amazon_order_id.clone(), first.shipment_id.clone())]
        );
        assert_eq!(desk.stats().corrections_sent, rest.len() as u64);
    }

    #[test]
    fn refusal_texts_name_the_field_and_mask_the_tracking_number() {
        let body = r#"{"error":"invalid_shipment","message":"m","problems":[{"field":"tracking_number","message":"1Z5V7X310312345 is not a UPS tracking number: expected 1Z"}]}"#;
        let text = refusal_text("111-1", 422, body, Some("1z5v7x31-0312345"));
        assert_eq!(
            text,
            "111-1: tracking_number: 1Z5V…45 is not a UPS tracking number: expected 1Z"
        );
        let other = refusal_text(
            "111-1",
            409,
            r#"{"error":"conflict","message":"taken"}"#,
            None,
        );
        assert_eq!(other, "111-1: HTTP 409 conflict: taken");
        assert_eq!(mask_tracking("12345"), "…");
    }
}
