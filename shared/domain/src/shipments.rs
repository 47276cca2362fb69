//! Shipments recorded by staff or shipping software (issue 4, "Tracking out"): tracking-number
//! normalisation and format checks, and the checks a shipment passes before anything goes to
//! Amazon.
//!
//! Pure: the caller loads the order and what has already shipped of it; nothing here stores,
//! queues or sends. [`check_shipment`] returns every problem at once, each naming its field,
//! so a person fixes a shipment in one go; what passes is a [`CheckedShipment`] with Amazon's
//! carrier code and a normalised tracking number, ready for a fulfilment feed line.
//!
//! Tracking formats (spapi-facts §8: Amazon validates carrier and tracking since 2021-05-03 in
//! the US) are the carriers' published shapes, checked only where we know them; a carrier we
//! know no format for, or `Other`, is never refused for its number's shape.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::carriers::{CarrierChoice, resolve_carrier};
use crate::orders::{AmazonOrderId, AmazonOrderStatus, Order, OrderStatus};

/// How far ahead of "now" a ship date may be: the recording device's clock may run a little
/// fast, and a shipment stamped a minute ahead is not a shipment from the future.
pub const SHIP_DATE_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Marketplaces where `ship-method` is mandatory (UK and EU since 2021, spapi-facts §8): UK,
/// DE, FR, IT, ES, NL, SE, PL, BE, IE.
pub const SHIP_METHOD_REQUIRED_IN: [&str; 10] = [
    "A1F83G8C2ARO7P",
    "A1PA6795UKMFR9",
    "A13V1IB3VIYZZH",
    "APJ6JRA9NG5V4",
    "A1RKKUPIHCS9HS",
    "A1805IZSGTT6HS",
    "A2NODRKZP88ZB9",
    "A1C3SOZRARQ6R3",
    "AMEN7PMS3EDWL",
    "A28R8C7NBKEWEA",
];

/// Why a tracking number cannot be normalised.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrackingError {
    /// Nothing left after trimming and removing spaces and hyphens.
    #[error("the tracking number is empty")]
    Empty,
    /// A character other than A–Z, a–z, 0–9, space or hyphen.
    #[error(
        "the tracking number may hold only letters A-Z and digits, but character {position} \
         is {}",
        describe_char(.ch)
    )]
    ForbiddenCharacter {
        /// The character.
        ch: char,
        /// Its position in the trimmed input, counting characters from 1.
        position: usize,
    },
    /// `NULL`: in the fulfilment feed this word clears the tracking number already uploaded
    /// (spapi-facts §8), so it is never taken as a tracking number.
    #[error(
        "NULL is not a tracking number: in Amazon's fulfilment feed it clears the tracking \
         number already uploaded"
    )]
    Null,
}

fn describe_char(ch: &char) -> String {
    if ch.is_whitespace() {
        format!("U+{:04X} (whitespace)", u32::from(*ch))
    } else if ch.is_control() {
        format!("U+{:04X} (a control character)", u32::from(*ch))
    } else {
        format!("'{ch}'")
    }
}

/// Normalises a tracking number as typed or scanned: trims it, removes the spaces and hyphens
/// people type to group digits, and upper-cases it. Anything else that is not an ASCII letter
/// or digit (punctuation, tabs, no-break spaces, accented letters) is refused, naming the
/// character, rather than silently dropped: it usually means a pasted or mistyped number.
///
/// ```
/// use spsync_domain::{TrackingError, normalize_tracking};
///
/// assert_eq!(normalize_tracking(" 1z999aa1-0123 456784 ").unwrap(), "1Z999AA10123456784");
/// assert_eq!(
///     normalize_tracking("1Z999.AA1"),
///     Err(TrackingError::ForbiddenCharacter { ch: '.', position: 6 })
/// );
/// ```
pub fn normalize_tracking(raw: &str) -> Result<String, TrackingError> {
    let trimmed = raw.trim();
    let mut out = String::with_capacity(trimmed.len());
    for (i, ch) in trimmed.chars().enumerate() {
        match ch {
            ' ' | '-' => {}
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            c => {
                return Err(TrackingError::ForbiddenCharacter {
                    ch: c,
                    position: i + 1,
                });
            }
        }
    }
    if out.is_empty() {
        Err(TrackingError::Empty)
    } else if out == "NULL" {
        Err(TrackingError::Null)
    } else {
        Ok(out)
    }
}

/// What a tracking number's shape says about its carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingCheck {
    /// It has one of the carrier's known shapes.
    Matches,
    /// We know no format for this carrier (or it is `Other`): not checked.
    Unknown,
    /// It has none of the carrier's known shapes.
    Mismatch {
        /// The shapes the carrier uses, for the message to the user.
        expected: &'static str,
    },
}

const UPS_FORMATS: &str = "1Z followed by 16 letters or digits (1Z999AA10123456784), T followed by \
                           10 digits, or a 9-digit freight PRO number";
const USPS_FORMATS: &str = "20 to 22 digits (9400…, 9205…, 9361…, 9270…) or an S10 number \
                            ending in US (EC123456785US)";
const FEDEX_FORMATS: &str = "12, 15, 20 or 22 digits";
const DHL_FORMATS: &str = "a 10-digit Express waybill, a 12- or 20-digit DHL Paket number, or JJD \
                           followed by digits";
const ROYAL_MAIL_FORMATS: &str = "an S10 number ending in GB (AB123456785GB)";
const CANADA_POST_FORMATS: &str = "16 digits or an S10 number ending in CA (EE123456785CA)";
const ONTRAC_FORMATS: &str = "C or D followed by 14 digits";
const S10_CHECK_DIGIT: &str = "an S10 number whose ninth digit is its check digit (UPU S10, \
                               weights 8 6 4 2 3 5 9 7, mod 11); a character is likely mistyped";

/// Checks a normalised tracking number (see [`normalize_tracking`]) against the carrier's
/// known shapes.
///
/// Known formats (public carrier documentation and common knowledge; lenient where a carrier
/// has several products):
/// * UPS: `1Z` + 16 letters or digits; `T` + 10 digits; 9 digits (UPS Freight PRO).
///   UPS Mail Innovations (both codes) numbers vary: not checked.
/// * USPS: 20 to 22 digits (IMpb 9400…, 9205…, 9361…, 9270…, and older 20-digit numbers), or
///   an S10 international number ending in `US`.
/// * FedEx and FedEx SmartPost: 12 (Express), 15 (Ground), 20 or 22 digits (SmartPost /
///   Ground Economy 92…, Ground 96…).
/// * DHL: 10 digits (Express waybill); also 12 or 20 digits and `JJD`… (DHL Paket / Parcel,
///   which resolve to the same code).
/// * Royal Mail: S10 ending in `GB`. Canada Post: 16 digits, or S10 ending in `CA`.
/// * OnTrac: `C` or `D` + 14 digits.
/// * Every other carrier and `Other`: [`TrackingCheck::Unknown`].
///
/// An S10 number (2 letters, 8 digits, a check digit, 2 letters) must also carry the right
/// check digit ([`s10_check_digit`]).
///
/// ```
/// use spsync_domain::{TrackingCheck, check_tracking_format, resolve_carrier};
///
/// let ups = resolve_carrier("UPS").unwrap();
/// assert_eq!(check_tracking_format(&ups, "1Z999AA10123456784"), TrackingCheck::Matches);
/// assert!(matches!(
///     check_tracking_format(&ups, "9400111899223033005288"),
///     TrackingCheck::Mismatch { .. }
/// ));
/// let royal_mail = resolve_carrier("Royal Mail").unwrap();
/// assert_eq!(check_tracking_format(&royal_mail, "AB123456785GB"), TrackingCheck::Matches);
/// ```
pub fn check_tracking_format(carrier: &CarrierChoice, tracking: &str) -> TrackingCheck {
    let Some(carrier) = carrier.carrier() else {
        return TrackingCheck::Unknown;
    };
    let t = tracking.as_bytes();
    match carrier.code {
        "UPS" => shape(
            (t.len() == 18 && t.starts_with(b"1Z") && all_alnum(&t[2..]))
                || (t.len() == 11 && t[0] == b'T' && all_digits(&t[1..]))
                || (t.len() == 9 && all_digits(t)),
            UPS_FORMATS,
        ),
        "USPS" => s10_or(
            t,
            b"US",
            (20..=22).contains(&t.len()) && all_digits(t),
            USPS_FORMATS,
        ),
        "FedEx" | "FedEx SmartPost" => shape(
            matches!(t.len(), 12 | 15 | 20 | 22) && all_digits(t),
            FEDEX_FORMATS,
        ),
        "DHL" => shape(
            (matches!(t.len(), 10 | 12 | 20) && all_digits(t))
                || (t.len() > 3 && t.starts_with(b"JJD") && all_digits(&t[3..])),
            DHL_FORMATS,
        ),
        "Royal Mail" => s10_or(t, b"GB", false, ROYAL_MAIL_FORMATS),
        "Canada Post" => s10_or(
            t,
            b"CA",
            t.len() == 16 && all_digits(t),
            CANADA_POST_FORMATS,
        ),
        "OnTrac" => shape(
            t.len() == 15 && matches!(t[0], b'C' | b'D') && all_digits(&t[1..]),
            ONTRAC_FORMATS,
        ),
        _ => TrackingCheck::Unknown,
    }
}

fn shape(matches: bool, expected: &'static str) -> TrackingCheck {
    if matches {
        TrackingCheck::Matches
    } else {
        TrackingCheck::Mismatch { expected }
    }
}

/// An S10 number with the given country suffix and a valid check digit, or the carrier's
/// other shapes (`other`). An S10-shaped number for this country with a wrong check digit is
/// reported as such.
fn s10_or(t: &[u8], country: &[u8], other: bool, expected: &'static str) -> TrackingCheck {
    if other {
        return TrackingCheck::Matches;
    }
    if is_s10_shape(t) && &t[11..] == country {
        return shape(check_digit_matches(t), S10_CHECK_DIGIT);
    }
    TrackingCheck::Mismatch { expected }
}

fn all_digits(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(u8::is_ascii_digit)
}

fn all_alnum(t: &[u8]) -> bool {
    t.iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Two letters, nine digits, two letters.
fn is_s10_shape(t: &[u8]) -> bool {
    t.len() == 13
        && t[..2].iter().all(u8::is_ascii_uppercase)
        && t[2..11].iter().all(u8::is_ascii_digit)
        && t[11..].iter().all(u8::is_ascii_uppercase)
}

fn check_digit_matches(t: &[u8]) -> bool {
    std::str::from_utf8(&t[2..10])
        .ok()
        .and_then(s10_check_digit)
        .is_some_and(|d| t[10] == b'0' + d)
}

/// The UPU S10 check digit of an 8-digit serial number: the digits weighted 8 6 4 2 3 5 9 7,
/// summed, and `11 - sum % 11`, where 10 becomes 0 and 11 becomes 5. `None` unless `serial` is
/// exactly 8 ASCII digits.
///
/// ```
/// use spsync_domain::s10_check_digit;
///
/// // 1×8 + 2×6 + 3×4 + 4×2 + 5×3 + 6×5 + 7×9 + 8×7 = 204; 204 mod 11 = 6; 11 − 6 = 5.
/// assert_eq!(s10_check_digit("12345678"), Some(5)); // so AB123456785GB is well formed
/// ```
pub fn s10_check_digit(serial: &str) -> Option<u8> {
    const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let digits = serial.as_bytes();
    if digits.len() != 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        d => d as u8,
    })
}

/// One order item in a package, and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentItem {
    /// Amazon's order-item id.
    pub order_item_id: String,
    /// Units of the item in the package.
    pub quantity: u32,
}

/// A shipment (one package) as staff or shipping software record it, before any check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    /// The order shipped.
    pub amazon_order_id: AmazonOrderId,
    /// The carrier as written: an Amazon code, an AfterShip slug or a name (see
    /// [`resolve_carrier`]).
    pub carrier: String,
    /// The tracking number as typed or scanned; `None` (or blank) ships without one.
    pub tracking_number: Option<String>,
    /// When the package left.
    #[serde(with = "time::serde::rfc3339")]
    pub ship_date: OffsetDateTime,
    /// The carrier's service (`UPS Ground`, `Royal Mail Tracked 24`); mandatory in the UK and
    /// EU.
    pub ship_method: Option<String>,
    /// What is in the package.
    pub items: Vec<ShipmentItem>,
}

/// A shipment that passed [`check_shipment`]: what a fulfilment feed line needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedShipment {
    /// The order shipped.
    pub amazon_order_id: AmazonOrderId,
    /// The feed's `carrier-code`: Amazon's code, or `Other`.
    pub carrier_code: String,
    /// The carrier's name; the feed's `carrier-name` when the code is `Other` (then it is the
    /// name as given), the table's name otherwise.
    pub carrier_name: String,
    /// The normalised tracking number, if any.
    pub tracking_number: Option<String>,
    /// When the package left, in UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub ship_date: OffsetDateTime,
    /// The carrier's service, trimmed; `None` when not given.
    pub ship_method: Option<String>,
    /// What is in the package: one entry per order item (an item listed twice in the request
    /// is merged, quantities added), ids trimmed, in the request's order.
    pub items: Vec<ShipmentItem>,
    /// No tracking number: Amazon accepts the shipment, but it counts against the seller's
    /// Valid Tracking Rate.
    pub hurts_vtr: bool,
}

/// One reason a shipment cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
#[error("{field}: {message}")]
pub struct ShipmentProblem {
    /// The request field at fault: `amazon_order_id`, `items`, `items.order_item_id`,
    /// `items.quantity`, `ship_date`, `carrier`, `tracking_number` or `ship_method`.
    pub field: &'static str,
    /// What is wrong, for a person (names the item, date or character concerned).
    pub message: String,
}

/// Tabs and line breaks would break the feed's rows; no other control character belongs in a
/// carrier or ship method either.
fn has_control(text: &str) -> bool {
    text.trim().chars().any(char::is_control)
}

fn problem(problems: &mut Vec<ShipmentProblem>, field: &'static str, message: String) {
    problems.push(ShipmentProblem { field, message });
}

fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Checks a recorded shipment against its order before anything is sent, and returns every
/// problem at once.
///
/// `already_shipped` holds, by order-item id, the units of this order already in other
/// shipments (recorded, sent or confirmed; a shipment being corrected is left out by the
/// caller).
///
/// Rules (issue 4), in the order problems are reported:
/// * `amazon_order_id`: the request is for `order`; the order is merchant-fulfilled (not
///   FBA), not cancelled (in spsync or at Amazon), and not Pending at Amazon (Amazon refuses
///   to confirm an order whose payment is not authorised).
/// * `items`: at least one. `items.order_item_id`: every id (trimmed) is an order-item id of
///   the order (ids arrive with enrichment; an order still missing some says so).
///   `items.quantity`: every quantity is above 0, and each item's total in the request is at
///   most ordered − already shipped.
/// * `ship_date`: not after `now` + [`SHIP_DATE_CLOCK_SKEW`], not before the purchase date.
/// * `carrier`: resolves ([`resolve_carrier`]; an unknown name goes as `Other` and is fine).
/// * `tracking_number`: normalises ([`normalize_tracking`]) and, for a carrier whose formats
///   we know, matches one ([`check_tracking_format`]). None at all (or blank) is allowed and
///   sets [`CheckedShipment::hurts_vtr`].
/// * `ship_method`: given, in UK and EU marketplaces ([`SHIP_METHOD_REQUIRED_IN`]).
pub fn check_shipment(
    order: &Order,
    already_shipped: &HashMap<String, u32>,
    req: &ShipmentRequest,
    now: OffsetDateTime,
) -> Result<CheckedShipment, Vec<ShipmentProblem>> {
    let mut problems = Vec::new();
    let order_id = &order.amazon_order_id;

    if req.amazon_order_id != *order_id {
        problem(
            &mut problems,
            "amazon_order_id",
            format!(
                "the shipment is for order {} but was checked against order {order_id}",
                req.amazon_order_id
            ),
        );
    }
    if order.is_fba() {
        problem(
            &mut problems,
            "amazon_order_id",
            format!("order {order_id} is fulfilled by Amazon (FBA); Amazon ships it"),
        );
    }
    if order.status == OrderStatus::Canceled || order.amazon_status == AmazonOrderStatus::Cancelled
    {
        problem(
            &mut problems,
            "amazon_order_id",
            format!("order {order_id} is cancelled; it must not be shipped"),
        );
    } else if order.amazon_status == AmazonOrderStatus::Pending {
        problem(
            &mut problems,
            "amazon_order_id",
            format!(
                "order {order_id} is still Pending at Amazon (payment not authorised); it can be \
                 confirmed once it is Unshipped"
            ),
        );
    }

    let items = check_items(order, already_shipped, &req.items, &mut problems);

    if req.ship_date > now + SHIP_DATE_CLOCK_SKEW {
        problem(
            &mut problems,
            "ship_date",
            format!(
                "the ship date {} is in the future (now is {})",
                rfc3339(req.ship_date),
                rfc3339(now)
            ),
        );
    }
    if req.ship_date < order.purchase_date {
        problem(
            &mut problems,
            "ship_date",
            format!(
                "the ship date {} is before the order was placed ({})",
                rfc3339(req.ship_date),
                rfc3339(order.purchase_date)
            ),
        );
    }

    let carrier = match resolve_carrier(&req.carrier) {
        Ok(_) if has_control(&req.carrier) => {
            problem(
                &mut problems,
                "carrier",
                "the carrier contains a tab, line break or other control character".into(),
            );
            None
        }
        Ok(carrier) => Some(carrier),
        Err(e) => {
            problem(&mut problems, "carrier", e.to_string());
            None
        }
    };

    let raw_tracking = req
        .tracking_number
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let tracking = match raw_tracking.map(normalize_tracking) {
        None => None,
        Some(Err(e)) => {
            problem(&mut problems, "tracking_number", e.to_string());
            None
        }
        Some(Ok(tracking)) => {
            if let Some(carrier) = &carrier
                && let TrackingCheck::Mismatch { expected } =
                    check_tracking_format(carrier, &tracking)
            {
                problem(
                    &mut problems,
                    "tracking_number",
                    format!(
                        "{tracking} is not a {} tracking number: expected {expected}",
                        carrier.carrier_name()
                    ),
                );
            }
            Some(tracking)
        }
    };

    let ship_method = req
        .ship_method
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    if ship_method.as_deref().is_some_and(has_control) {
        problem(
            &mut problems,
            "ship_method",
            "the ship method contains a tab, line break or other control character".into(),
        );
    }
    if ship_method.is_none() && SHIP_METHOD_REQUIRED_IN.contains(&order.marketplace_id.as_str()) {
        problem(
            &mut problems,
            "ship_method",
            format!(
                "the ship method (the carrier's service, e.g. \"Royal Mail Tracked 24\") is \
                 required in marketplace {}",
                order.marketplace_id
            ),
        );
    }

    match carrier {
        Some(carrier) if problems.is_empty() => Ok(CheckedShipment {
            amazon_order_id: order_id.clone(),
            carrier_code: carrier.code().to_owned(),
            carrier_name: carrier.carrier_name().to_owned(),
            hurts_vtr: tracking.is_none(),
            tracking_number: tracking,
            ship_date: req.ship_date.to_offset(UtcOffset::UTC),
            ship_method,
            items,
        }),
        _ => Err(problems),
    }
}

/// The item rules of [`check_shipment`]; returns the items merged by id.
fn check_items(
    order: &Order,
    already_shipped: &HashMap<String, u32>,
    requested: &[ShipmentItem],
    problems: &mut Vec<ShipmentProblem>,
) -> Vec<ShipmentItem> {
    if requested.is_empty() {
        problem(
            problems,
            "items",
            "the shipment lists no items; give at least one order-item id and its quantity".into(),
        );
    }
    let mut merged: Vec<ShipmentItem> = Vec::with_capacity(requested.len());
    for item in requested {
        let id = item.order_item_id.trim();
        if id.is_empty() {
            problem(
                problems,
                "items.order_item_id",
                "an item has no order-item id".into(),
            );
            continue;
        }
        if item.quantity == 0 {
            problem(
                problems,
                "items.quantity",
                format!("item {id}: the quantity is 0; it must be at least 1"),
            );
        }
        match merged.iter_mut().find(|m| m.order_item_id == id) {
            Some(m) => m.quantity = m.quantity.saturating_add(item.quantity),
            None => merged.push(ShipmentItem {
                order_item_id: id.to_owned(),
                quantity: item.quantity,
            }),
        }
    }

    let order_id = &order.amazon_order_id;
    for item in &merged {
        let id = item.order_item_id.as_str();
        let mut lines = order
            .lines
            .iter()
            .filter(|l| l.order_item_id.as_deref() == Some(id))
            .peekable();
        if lines.peek().is_none() {
            let hint = if order.lines.iter().any(|l| l.order_item_id.is_none()) {
                " (some of its order-item ids are not known yet; they arrive with enrichment)"
            } else {
                ""
            };
            problem(
                problems,
                "items.order_item_id",
                format!("item {id} is not an item of order {order_id}{hint}"),
            );
            continue;
        }
        let ordered: u32 = lines.map(|l| l.quantity).sum();
        let shipped = already_shipped.get(id).copied().unwrap_or(0);
        let left = ordered.saturating_sub(shipped);
        if item.quantity > left {
            let message = if left == 0 {
                format!(
                    "item {id}: nothing left to ship ({ordered} ordered, {shipped} already \
                     shipped)"
                )
            } else {
                format!(
                    "item {id}: {} to ship but only {left} left ({ordered} ordered, {shipped} \
                     already shipped)",
                    item.quantity
                )
            };
            problem(problems, "items.quantity", message);
        }
    }
    merged
}

#[cfg(test)]
pub(crate) mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::orders::{Address, Buyer, FulfillmentChannel, MarketplaceId, OrderLine, SellerId};

    // ---- tracking numbers ----

    #[test]
    fn normalize_tracking_trims_removes_spaces_and_hyphens_and_uppercases() {
        let cases: &[(&str, &str)] = &[
            ("1Z999AA10123456784", "1Z999AA10123456784"),
            ("  1z999aa10123456784\n", "1Z999AA10123456784"),
            ("1Z 999 AA1 0123 4567 84", "1Z999AA10123456784"),
            ("9400-1118-9922-3033-0052-88", "9400111899223033005288"),
            ("ab 123-456-785 gb", "AB123456785GB"),
            ("- 7 -", "7"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_tracking(raw).as_deref(), Ok(*expected), "{raw:?}");
        }
    }

    #[test]
    fn normalize_tracking_refuses_what_is_left_naming_the_character() {
        let cases: &[(&str, TrackingError, &str)] = &[
            ("", TrackingError::Empty, "empty"),
            ("   ", TrackingError::Empty, "empty"),
            (" - - ", TrackingError::Empty, "empty"),
            (
                "1Z999.AA1",
                TrackingError::ForbiddenCharacter {
                    ch: '.',
                    position: 6,
                },
                "character 6 is '.'",
            ),
            (
                "12/34",
                TrackingError::ForbiddenCharacter {
                    ch: '/',
                    position: 3,
                },
                "'/'",
            ),
            (
                "AB\t12",
                TrackingError::ForbiddenCharacter {
                    ch: '\t',
                    position: 3,
                },
                "U+0009 (whitespace)",
            ),
            (
                "12\u{a0}34",
                TrackingError::ForbiddenCharacter {
                    ch: '\u{a0}',
                    position: 3,
                },
                "U+00A0 (whitespace)",
            ),
            (
                "ÄB12",
                TrackingError::ForbiddenCharacter {
                    ch: 'Ä',
                    position: 1,
                },
                "'Ä'",
            ),
            (
                "1Z_9",
                TrackingError::ForbiddenCharacter {
                    ch: '_',
                    position: 3,
                },
                "'_'",
            ),
            ("null", TrackingError::Null, "clears"),
            ("NU-LL", TrackingError::Null, "clears"),
        ];
        for (raw, error, in_message) in cases {
            let got = normalize_tracking(raw);
            assert_eq!(got.as_ref(), Err(error), "{raw:?}");
            let message = error.to_string();
            assert!(message.contains(in_message), "{raw:?}: {message}");
        }
    }

    #[test]
    fn s10_check_digits_follow_the_upu_weights() {
        // Worked by hand, weights 8 6 4 2 3 5 9 7:
        // 12345678: 8+12+12+8+15+30+63+56 = 204, 204 mod 11 = 6, 11-6 = 5.
        // 47312482: 32+42+12+2+6+20+72+14 = 200, 200 mod 11 = 2, 11-2 = 9.
        // 34167211: 24+24+4+12+21+10+9+7 = 111, 111 mod 11 = 1, 11-1 = 10 → 0.
        // 68345671: 48+48+12+8+15+30+63+7 = 231, 231 mod 11 = 0, 11-0 = 11 → 5.
        // 21436587: 16+6+16+6+18+25+72+49 = 208, 208 mod 11 = 10, 11-10 = 1.
        let vectors = [
            ("12345678", 5),
            ("47312482", 9),
            ("34167211", 0),
            ("68345671", 5),
            ("21436587", 1),
        ];
        for (serial, digit) in vectors {
            assert_eq!(s10_check_digit(serial), Some(digit), "{serial}");
            // The same sum spelled out, so the vectors do not rest on the code under test.
            let weights = [8, 6, 4, 2, 3, 5, 9, 7];
            let sum: u32 = serial
                .bytes()
                .zip(weights)
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            let expected = match 11 - sum % 11 {
                10 => 0,
                11 => 5,
                d => d,
            };
            assert_eq!(u32::from(digit), expected, "{serial}");
        }
        for bad in ["1234567", "123456789", "1234567X", ""] {
            assert_eq!(s10_check_digit(bad), None, "{bad:?}");
        }
    }

    fn check(carrier: &str, tracking: &str) -> TrackingCheck {
        let carrier = resolve_carrier(carrier).expect("carrier resolves");
        check_tracking_format(&carrier, tracking)
    }

    #[test]
    fn tracking_formats_by_carrier() {
        use TrackingCheck::{Matches, Unknown};
        let cases: &[(&str, &str, Option<TrackingCheck>)] = &[
            // UPS
            ("UPS", "1Z999AA10123456784", Some(Matches)),
            ("UPS", "1ZA8V4860340000017", Some(Matches)),
            ("UPS", "T1234567890", Some(Matches)),
            ("UPS", "123456789", Some(Matches)),
            ("UPS", "1Z999AA1012345678", None), // 15 after 1Z
            ("UPS", "9400111899223033005288", None),
            (
                "UPS Mail Innovations",
                "9274899998887712345678",
                Some(Unknown),
            ),
            ("UPSMI", "MI123", Some(Unknown)),
            // USPS
            ("USPS", "9400111899223033005288", Some(Matches)),
            ("USPS", "9205590164917312345678", Some(Matches)),
            ("USPS", "9361289878700317633795", Some(Matches)),
            ("USPS", "9270190164917312345671", Some(Matches)),
            ("USPS", "03071790000012345678", Some(Matches)), // 20 digits
            ("USPS", "EC123456785US", Some(Matches)),
            ("USPS", "LZ341672110US", Some(Matches)),
            ("USPS", "EC123456784US", None),       // check digit
            ("USPS", "EC123456785GB", None),       // not a US number
            ("USPS", "1234567890123456789", None), // 19 digits
            ("USPS", "1Z999AA10123456784", None),
            // FedEx and SmartPost
            ("FedEx", "123456789012", Some(Matches)),
            ("FedEx", "961234567890123", Some(Matches)),
            ("FedEx", "61299998820821171811", Some(Matches)),
            ("FedEx", "9612019950341234567890", Some(Matches)),
            ("FedEx", "1234567890123", None), // 13 digits
            ("FedEx", "1Z999AA10123456784", None),
            ("FedEx SmartPost", "9261290100130435082729", Some(Matches)),
            ("FedEx SmartPost", "12345", None),
            // DHL
            ("DHL", "1234567890", Some(Matches)),
            ("DHL", "003404341234567890", None), // 18 digits
            ("DHL", "00340434161234567890", Some(Matches)),
            ("DHL", "JJD000390007123456789", Some(Matches)),
            ("DHL", "JJD", None),
            ("DHL", "123456789", None),
            // Royal Mail
            ("Royal Mail", "AB123456785GB", Some(Matches)),
            ("Royal Mail", "TT683456715GB", Some(Matches)),
            ("Royal Mail", "AB123456786GB", None), // check digit
            ("Royal Mail", "AB123456785US", None),
            ("Royal Mail", "1234567890123456", None),
            // Canada Post
            ("Canada Post", "1234567890123456", Some(Matches)),
            ("Canada Post", "EE214365871CA", Some(Matches)),
            ("Canada Post", "EE214365872CA", None),
            ("Canada Post", "123456789012", None),
            // OnTrac
            ("OnTrac", "C11234567890123", Some(Matches)),
            ("OnTrac", "D10012345678901", Some(Matches)),
            ("OnTrac", "B10012345678901", None),
            ("OnTrac", "C1123456789012", None),
            // no known format
            ("Parcelforce", "ANYTHING1", Some(Unknown)),
            ("DPD", "X", Some(Unknown)),
            ("Some Local Courier", "123", Some(Unknown)),
        ];
        for (carrier, tracking, expected) in cases {
            let got = check(carrier, tracking);
            match expected {
                Some(expected) => assert_eq!(got, *expected, "{carrier} {tracking}"),
                None => assert!(
                    matches!(got, TrackingCheck::Mismatch { .. }),
                    "{carrier} {tracking}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn a_bad_s10_check_digit_is_reported_as_such() {
        assert_eq!(
            check("Royal Mail", "AB123456786GB"),
            TrackingCheck::Mismatch {
                expected: S10_CHECK_DIGIT
            }
        );
        assert_eq!(
            check("Royal Mail", "AB12345678GB"),
            TrackingCheck::Mismatch {
                expected: ROYAL_MAIL_FORMATS
            }
        );
    }

    // ---- shipments ----

    pub(crate) const ORDER_ID: &str = "111-1234567-1234567";
    /// Two ordered.
    pub(crate) const MUG: &str = "12345678901234";
    /// One ordered.
    pub(crate) const LID: &str = "23456789012345";
    const US: &str = "ATVPDKIKX0DER";
    const UK: &str = "A1F83G8C2ARO7P";
    const DE: &str = "A1PA6795UKMFR9";
    pub(crate) const NOW: OffsetDateTime = datetime!(2026-06-02 12:00 UTC);
    const PURCHASED: OffsetDateTime = datetime!(2026-06-01 10:00 UTC);

    fn line(id: &str, quantity: u32) -> OrderLine {
        OrderLine {
            sku: Some(format!("SKU-{id}")),
            asin: None,
            product_name: None,
            quantity,
            item_status: Some("Unshipped".into()),
            item_price: None,
            order_item_id: Some(id.into()),
        }
    }

    pub(crate) fn order() -> Order {
        Order {
            seller_id: SellerId::new("A1SIMSELLER0001"),
            marketplace_id: MarketplaceId::new(US),
            amazon_order_id: AmazonOrderId::new(ORDER_ID),
            merchant_order_id: None,
            status: OrderStatus::New,
            amazon_status: AmazonOrderStatus::Unshipped,
            fulfillment_channel: FulfillmentChannel::Merchant,
            purchase_date: PURCHASED,
            last_updated: PURCHASED,
            sales_channel: Some("Amazon.com".into()),
            ship_service_level: Some("Standard".into()),
            is_business_order: false,
            currency: Some("USD".into()),
            lines: vec![line(MUG, 2), line(LID, 1)],
            ship_to: Address::default(),
            buyer: Buyer::default(),
            recipient: None,
            version: 1,
            created_at: PURCHASED,
            updated_at: PURCHASED,
        }
    }

    pub(crate) fn item(id: &str, quantity: u32) -> ShipmentItem {
        ShipmentItem {
            order_item_id: id.into(),
            quantity,
        }
    }

    pub(crate) fn request() -> ShipmentRequest {
        ShipmentRequest {
            amazon_order_id: AmazonOrderId::new(ORDER_ID),
            carrier: "UPS".into(),
            tracking_number: Some("1Z999AA10123456784".into()),
            ship_date: NOW - Duration::hours(1),
            ship_method: Some("UPS Ground".into()),
            items: vec![item(MUG, 1)],
        }
    }

    /// Everything `check_shipment` is given, valid to start with.
    struct Case {
        order: Order,
        shipped: HashMap<String, u32>,
        req: ShipmentRequest,
        now: OffsetDateTime,
    }

    impl Case {
        fn valid() -> Self {
            Self {
                order: order(),
                shipped: HashMap::new(),
                req: request(),
                now: NOW,
            }
        }

        fn check(&self) -> Result<CheckedShipment, Vec<ShipmentProblem>> {
            check_shipment(&self.order, &self.shipped, &self.req, self.now)
        }
    }

    #[test]
    fn each_rule_on_its_own_names_its_field() {
        type Edit = fn(&mut Case);
        let cases: &[(&str, Edit, &str, &str)] = &[
            (
                "FBA order",
                |c| c.order.fulfillment_channel = FulfillmentChannel::Amazon,
                "amazon_order_id",
                "fulfilled by Amazon",
            ),
            (
                "cancelled in spsync",
                |c| c.order.status = OrderStatus::Canceled,
                "amazon_order_id",
                "cancelled",
            ),
            (
                "cancelled at Amazon",
                |c| c.order.amazon_status = AmazonOrderStatus::Cancelled,
                "amazon_order_id",
                "cancelled",
            ),
            (
                "pending at Amazon",
                |c| c.order.amazon_status = AmazonOrderStatus::Pending,
                "amazon_order_id",
                "Pending",
            ),
            (
                "request for another order",
                |c| c.req.amazon_order_id = AmazonOrderId::new("111-0000000-0000000"),
                "amazon_order_id",
                "checked against order 111-1234567-1234567",
            ),
            ("no items", |c| c.req.items.clear(), "items", "no items"),
            (
                "item of another order",
                |c| c.req.items = vec![item("99999999999999", 1)],
                "items.order_item_id",
                "item 99999999999999 is not an item of order 111-1234567-1234567",
            ),
            (
                "blank item id",
                |c| c.req.items = vec![item("  ", 1)],
                "items.order_item_id",
                "no order-item id",
            ),
            (
                "item ids not known yet",
                |c| {
                    for l in &mut c.order.lines {
                        l.order_item_id = None;
                    }
                },
                "items.order_item_id",
                "arrive with enrichment",
            ),
            (
                "zero quantity",
                |c| c.req.items = vec![item(MUG, 0)],
                "items.quantity",
                "quantity is 0",
            ),
            (
                "more than ordered",
                |c| c.req.items = vec![item(MUG, 3)],
                "items.quantity",
                "3 to ship but only 2 left (2 ordered, 0 already shipped)",
            ),
            (
                "more than left after an earlier shipment",
                |c| {
                    c.shipped.insert(MUG.into(), 1);
                    c.req.items = vec![item(MUG, 2)];
                },
                "items.quantity",
                "2 to ship but only 1 left (2 ordered, 1 already shipped)",
            ),
            (
                "nothing left",
                |c| {
                    c.shipped.insert(LID.into(), 1);
                    c.req.items = vec![item(LID, 1)];
                },
                "items.quantity",
                "nothing left to ship",
            ),
            (
                "one item listed twice over what is left",
                |c| c.req.items = vec![item(MUG, 1), item(LID, 1), item(MUG, 2)],
                "items.quantity",
                "3 to ship but only 2 left",
            ),
            (
                "ship date beyond the clock skew",
                |c| c.req.ship_date = NOW + Duration::minutes(5) + Duration::seconds(1),
                "ship_date",
                "in the future",
            ),
            (
                "ship date before the purchase",
                |c| c.req.ship_date = PURCHASED - Duration::seconds(1),
                "ship_date",
                "before the order was placed (2026-06-01T10:00:00Z)",
            ),
            (
                "empty carrier",
                |c| c.req.carrier = " ".into(),
                "carrier",
                "empty",
            ),
            (
                "carrier Other without a name",
                |c| c.req.carrier = "Other".into(),
                "carrier",
                "placeholder",
            ),
            (
                "unknown carrier with a name too long",
                |c| c.req.carrier = "A".repeat(51),
                "carrier",
                "at most 50",
            ),
            (
                "punctuation in the tracking number",
                |c| c.req.tracking_number = Some("1Z999AA1.0123456784".into()),
                "tracking_number",
                "'.'",
            ),
            (
                "tracking number NULL",
                |c| c.req.tracking_number = Some("null".into()),
                "tracking_number",
                "NULL",
            ),
            (
                "tracking number of another carrier",
                |c| c.req.tracking_number = Some("9400111899223033005288".into()),
                "tracking_number",
                "9400111899223033005288 is not a UPS tracking number: expected 1Z",
            ),
            (
                "S10 number with a wrong check digit",
                |c| {
                    c.req.carrier = "Royal Mail".into();
                    c.req.tracking_number = Some("AB123456786GB".into());
                },
                "tracking_number",
                "check digit",
            ),
            (
                "UK order without a ship method",
                |c| {
                    c.order.marketplace_id = MarketplaceId::new(UK);
                    c.req.ship_method = None;
                },
                "ship_method",
                "A1F83G8C2ARO7P",
            ),
            (
                "DE order with a blank ship method",
                |c| {
                    c.order.marketplace_id = MarketplaceId::new(DE);
                    c.req.ship_method = Some("  ".into());
                },
                "ship_method",
                "required",
            ),
            (
                "a tab inside the ship method",
                |c| c.req.ship_method = Some("UPS\tGround".into()),
                "ship_method",
                "control character",
            ),
            (
                "a line break inside an unknown carrier's name",
                |c| c.req.carrier = "Speedy\nCouriers".into(),
                "carrier",
                "control character",
            ),
        ];
        assert!(Case::valid().check().is_ok());
        for (name, edit, field, in_message) in cases {
            let mut case = Case::valid();
            edit(&mut case);

            let problems = case.check().expect_err(name);

            assert_eq!(problems.len(), 1, "{name}: {problems:?}");
            assert_eq!(problems[0].field, *field, "{name}");
            assert!(
                problems[0].message.contains(in_message),
                "{name}: {}",
                problems[0].message
            );
        }
    }

    #[test]
    fn shipments_within_the_rules_pass() {
        type Edit = fn(&mut Case);
        let cases: &[(&str, Edit)] = &[
            ("as recorded", |_| {}),
            ("ship date at the clock skew", |c| {
                c.req.ship_date = NOW + SHIP_DATE_CLOCK_SKEW;
            }),
            ("ship date at the purchase", |c| c.req.ship_date = PURCHASED),
            ("what is left after an earlier shipment", |c| {
                c.shipped.insert(MUG.into(), 1);
            }),
            ("everything in one package", |c| {
                c.req.items = vec![item(MUG, 2), item(LID, 1)];
            }),
            ("partially shipped at Amazon", |c| {
                c.order.amazon_status = AmazonOrderStatus::PartiallyShipped;
            }),
            ("other item shipped already", |c| {
                c.shipped.insert(LID.into(), 1);
            }),
            ("unknown carrier", |c| c.req.carrier = "Evri".into()),
            ("carrier with no known format", |c| {
                c.req.carrier = "UPSMI".into();
                c.req.tracking_number = Some("MI0001".into());
            }),
            ("no tracking number", |c| c.req.tracking_number = None),
            ("UK order with a ship method", |c| {
                c.order.marketplace_id = MarketplaceId::new(UK);
            }),
            ("US order without a ship method", |c| {
                c.req.ship_method = None
            }),
        ];
        for (name, edit) in cases {
            let mut case = Case::valid();
            edit(&mut case);

            let result = case.check();

            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }

    #[test]
    fn a_checked_shipment_carries_normalised_fields() {
        let mut case = Case::valid();
        case.req.carrier = "united parcel service".into();
        case.req.tracking_number = Some(" 1z999aa1-0123 456784 ".into());
        case.req.ship_date = datetime!(2026-06-02 13:30 +02:00);
        case.req.ship_method = Some("  UPS Ground ".into());
        case.req.items = vec![item(MUG, 1), item(&format!(" {LID} "), 1), item(MUG, 1)];

        let checked = case.check().expect("valid");

        assert_eq!(
            checked,
            CheckedShipment {
                amazon_order_id: AmazonOrderId::new(ORDER_ID),
                carrier_code: "UPS".into(),
                carrier_name: "UPS".into(),
                tracking_number: Some("1Z999AA10123456784".into()),
                ship_date: datetime!(2026-06-02 11:30 UTC),
                ship_method: Some("UPS Ground".into()),
                items: vec![item(MUG, 2), item(LID, 1)],
                hurts_vtr: false,
            }
        );
        assert_eq!(checked.ship_date.offset(), UtcOffset::UTC);
    }

    #[test]
    fn no_tracking_number_is_allowed_but_hurts_vtr() {
        for tracking in [None, Some(""), Some("   ")] {
            let mut case = Case::valid();
            case.req.tracking_number = tracking.map(str::to_owned);

            let checked = case.check().expect("valid");

            assert_eq!(checked.tracking_number, None, "{tracking:?}");
            assert!(checked.hurts_vtr, "{tracking:?}");
        }
    }

    #[test]
    fn an_unknown_carrier_goes_as_other_with_its_name_and_any_tracking_shape() {
        let mut case = Case::valid();
        case.req.carrier = "  Speedy Couriers ".into();
        case.req.tracking_number = Some("sp-0042".into());

        let checked = case.check().expect("valid");

        assert_eq!(checked.carrier_code, "Other");
        assert_eq!(checked.carrier_name, "Speedy Couriers");
        assert_eq!(checked.tracking_number.as_deref(), Some("SP0042"));
        assert!(!checked.hurts_vtr);
    }

    #[test]
    fn a_request_with_several_problems_returns_all_of_them() {
        let mut case = Case::valid();
        case.order.fulfillment_channel = FulfillmentChannel::Amazon;
        case.order.marketplace_id = MarketplaceId::new(UK);
        case.req.items = vec![item("99999999999999", 1), item(MUG, 0)];
        case.req.ship_date = NOW + Duration::days(1);
        case.req.carrier = String::new();
        case.req.tracking_number = Some("1Z 999/AA".into());
        case.req.ship_method = None;

        let problems = case.check().expect_err("invalid");

        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "amazon_order_id",
                "items.quantity",
                "items.order_item_id",
                "ship_date",
                "carrier",
                "tracking_number",
                "ship_method",
            ],
            "{problems:#?}"
        );
        assert_eq!(
            problems[5].to_string(),
            "tracking_number: the tracking number may hold only letters A-Z and digits, but \
             character 7 is '/'"
        );
    }
}
