//! POST_FLAT_FILE_FULFILLMENT_DATA (shipping confirmation): reading the flat file, checking
//! every line against the seller's orders, applying the good lines, and writing Amazon's flat
//! processing report.
//!
//! **Reading.** Columns are found by header *name* (`order-id`, `order-item-id`, `quantity`,
//! `ship-date`, `carrier-code`, `carrier-name`, `tracking-number`, `ship-method`, optional
//! `ship_from_supply_source_id`, `cod-collection-method`, `transparency_code`; matched
//! case-insensitively with `_` and `-` treated alike), so column order and unknown extra
//! columns do not matter. A BOM, CRLF line ends, the `TemplateType=...` preamble row and the
//! localized label row of Seller Central's template (both before the header row) are
//! tolerated. Bytes are decoded by the charset of the uploaded `Content-Type` (UTF-8 when
//! none; `Shift_JIS`, `windows-1252`/`Cp1252` and every WHATWG label via encoding_rs).
//!
//! **Checking and applying** (facts §8; Seller Central help G641). Lines are numbered from 1
//! over the non-blank data lines after the header, which is the `original-record-number` of
//! the report. Every rule is checked on its own and every broken rule of a line is reported.
//! The feed is not atomic: lines without an Error are applied even when others fail, in file
//! order, so a later line sees what an earlier line shipped. An accepted line adds to
//! `orderItems[].fulfillment.quantityFulfilled` (and lowers `quantityUnfulfilled`), records a
//! package in `packages` (lines of one order with the same tracking number share one package,
//! also across feeds; lines without a tracking number share one package per order within a
//! feed), sets `fulfillment.fulfillmentStatus` to SHIPPED when nothing is left to ship and to
//! PARTIALLY_SHIPPED otherwise, and sets `lastUpdatedTime`. An empty `order-item-id` confirms
//! every remaining unit of the order (a `quantity` on such a line is ignored). The literal
//! tracking number `NULL` clears the tracking number of the order's packages (those holding
//! the line's item when one is given) and ships nothing.
//!
//! Choices where Amazon is silent: an order of another seller is reported exactly like an
//! unknown order (Amazon cannot reveal other sellers' orders); a date-only `ship-date` becomes
//! the package's `shipTime` at the later of midnight UTC and the purchase time; a date-time
//! `ship-date` up to 15 minutes ahead of the simulated clock is not "in the future" (clock
//! skew); a file without a header row naming `order-id`, or with bytes that are not in the
//! declared charset, gets one file-level row with record number 0 and nothing is processed.
//!
//! **Corrections** (a choice where Amazon is silent). Sellers correct a tracking number by
//! sending the shipping confirmation of the same order item again with the new tracking
//! number; Amazon overwrites what was uploaded (Seller Central's "Edit shipment" does the
//! same). The simulator's rule: a line that cannot be a new shipment because its `quantity`
//! is above what is left to ship of its item (which would be 10022) is a **correction** of
//! package P of the order when
//! - the line names an `order-item-id`, gives a `quantity` and a tracking number (not `NULL`);
//! - P existed before this file (a file's own lines are shipments; a line repeating an earlier
//!   line of the same file stays 10022);
//! - P holds the item with exactly the line's `quantity`;
//! - P's `shipTime` is the line's `ship-date`: the same instant (to the second, as `shipTime`
//!   is kept) for a date-time, the same UTC day for a date-only `ship-date`.
//!
//! Among such packages the one already holding the line's tracking number is taken (so the
//! second line of a corrected two-item package finds it by its *new* tracking number); else
//! the only one; when several with other tracking numbers match, the line is refused with
//! 10023 (which package is meant cannot be told). The correction sets P's `trackingNumber`
//! and `carrier` from the line and its `shippingService` when the line has a `ship-method`;
//! quantities, `shipTime` and `packageReferenceId` stay. A package is corrected as a whole:
//! every item it holds gets the new tracking number. When another package of the order
//! already has the new tracking number, P's items join that package and P goes (one package
//! per tracking number and order). An order changed by a correction gets a new
//! `lastUpdatedTime`; a correction that changes nothing (the same confirmation sent again in
//! a later file) is accepted and changes nothing. A line whose quantity fits in what is left
//! to ship is always a new shipment, even when it repeats a package's item, quantity and ship
//! date with another tracking number (two boxes of one item shipped the same day are normal):
//! a partial shipment can therefore be corrected this way only once nothing of its item is
//! left to ship. A line without `order-item-id` is never a correction.
//!
//! **Error codes.** Amazon's real codes and messages for this feed are not in our reference
//! material (the sample report's are placeholders), so the codes below are the simulator's own,
//! stable, one per rule ([`Rule::code`]):
//!
//! | Code | Type | Rule |
//! |---|---|---|
//! | 10000 | Error | file-level: the bytes are not in the declared charset |
//! | 10001 | Error | file-level: no header row with an `order-id` column |
//! | 10010 | Error | `order-id` missing |
//! | 10011 | Error | order not found for this seller (unknown, or another seller's) |
//! | 10012 | Error | order not merchant-fulfilled (`fulfilledBy` AMAZON) |
//! | 10013 | Error | order cancelled |
//! | 10014 | Error | order not ready to ship (PENDING, PENDING_AVAILABILITY) |
//! | 10020 | Error | `order-item-id` not an item of the order |
//! | 10021 | Error | `quantity` not a positive integer |
//! | 10022 | Error | `quantity` above what is left to ship (or nothing left), and no correction |
//! | 10023 | Error | a correction matching several packages with other tracking numbers |
//! | 10030 | Error | `ship-date` missing |
//! | 10031 | Error | `ship-date` not `yyyy-mm-dd` or an ISO 8601 date-time |
//! | 10032 | Error | `ship-date` in the future |
//! | 10033 | Error | `ship-date` before the purchase date |
//! | 10040 | Error | `carrier-code` missing |
//! | 10041 | Error | `carrier-code` `Other` without `carrier-name` |
//! | 10042 | Error | `carrier-name` longer than 50 characters |
//! | 10050 | Error | `tracking-number` holds spaces or punctuation |
//! | 10051 | Error | `tracking-number` `NULL` but no tracking number to clear |
//! | 10060 | Warning (Error in UK/EU marketplaces) | `ship-method` missing (mandatory in the UK and EU since 2021) |

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::feeds::Processing;
use crate::sim::{format_datetime, parse_datetime};
use crate::state::State;

/// The feed type this module processes.
pub const FEED_TYPE: &str = "POST_FLAT_FILE_FULFILLMENT_DATA";
/// Content type of the processing report.
pub const REPORT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";
/// Longest `carrier-name` accepted (the API's CarrierName: 1–50 characters).
pub const MAX_CARRIER_NAME: usize = 50;

/// UK and EU marketplaces, where `ship-method` is mandatory (facts §8).
const SHIP_METHOD_REQUIRED_IN: [&str; 10] = [
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

/// A rule of the feed, each with its own stable code (table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// File-level: bytes not in the declared charset.
    Undecodable,
    /// File-level: no header row naming `order-id`.
    MissingHeader,
    /// `order-id` missing.
    MissingOrderId,
    /// Order not found for this seller.
    UnknownOrder,
    /// Order fulfilled by Amazon.
    NotMerchantFulfilled,
    /// Order cancelled.
    OrderCancelled,
    /// Order still pending.
    OrderNotReady,
    /// `order-item-id` not in the order.
    UnknownOrderItem,
    /// `quantity` not a positive integer.
    InvalidQuantity,
    /// `quantity` above what is left to ship.
    QuantityAboveRemaining,
    /// A correction matching several packages.
    AmbiguousCorrection,
    /// `ship-date` missing.
    MissingShipDate,
    /// `ship-date` unparseable.
    InvalidShipDate,
    /// `ship-date` in the future.
    ShipDateInFuture,
    /// `ship-date` before the purchase date.
    ShipDateBeforePurchase,
    /// `carrier-code` missing.
    MissingCarrierCode,
    /// `carrier-code` Other without `carrier-name`.
    MissingCarrierName,
    /// `carrier-name` too long.
    CarrierNameTooLong,
    /// `tracking-number` with spaces or punctuation.
    InvalidTrackingNumber,
    /// `tracking-number` NULL with nothing to clear.
    NothingToClear,
    /// `ship-method` missing.
    MissingShipMethod,
}

impl Rule {
    /// The report's `error-code`.
    pub fn code(self) -> u32 {
        match self {
            Self::Undecodable => 10000,
            Self::MissingHeader => 10001,
            Self::MissingOrderId => 10010,
            Self::UnknownOrder => 10011,
            Self::NotMerchantFulfilled => 10012,
            Self::OrderCancelled => 10013,
            Self::OrderNotReady => 10014,
            Self::UnknownOrderItem => 10020,
            Self::InvalidQuantity => 10021,
            Self::QuantityAboveRemaining => 10022,
            Self::AmbiguousCorrection => 10023,
            Self::MissingShipDate => 10030,
            Self::InvalidShipDate => 10031,
            Self::ShipDateInFuture => 10032,
            Self::ShipDateBeforePurchase => 10033,
            Self::MissingCarrierCode => 10040,
            Self::MissingCarrierName => 10041,
            Self::CarrierNameTooLong => 10042,
            Self::InvalidTrackingNumber => 10050,
            Self::NothingToClear => 10051,
            Self::MissingShipMethod => 10060,
        }
    }
}

/// The report's `error-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The line was not applied.
    Error,
    /// The line was applied, with a remark.
    Warning,
}

impl ErrorType {
    /// Wire spelling (English marketplaces).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "Error",
            Self::Warning => "Warning",
        }
    }
}

/// One row of the processing report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// 1-based data line; 0 for file-level problems.
    pub record: usize,
    /// `order-id` of the line.
    pub order_id: String,
    /// `order-item-id` of the line.
    pub order_item_id: String,
    /// Broken rule.
    pub rule: Rule,
    /// Error or Warning.
    pub error_type: ErrorType,
    /// Explanation.
    pub message: String,
}

/// One data line: its record number and its cells by normalized column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based number over the non-blank data lines.
    pub number: usize,
    /// Cells by normalized column name (`order-id`, `ship-from-supply-source-id`, ...).
    pub fields: HashMap<String, String>,
}

impl Record {
    fn get(&self, column: &str) -> &str {
        self.fields.get(column).map(String::as_str).unwrap_or("")
    }
}

/// The charset named in a `Content-Type` (`text/tab-separated-values; charset=Shift_JIS`).
fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// Decodes the uploaded bytes by the charset of their `Content-Type` (UTF-8 by default); a
/// byte-order mark is honoured and removed. `Err` explains why the bytes cannot be read.
pub fn decode(bytes: &[u8], content_type: &str) -> Result<String, String> {
    let label = charset_of(content_type).unwrap_or("UTF-8");
    let encoding = match label.to_ascii_lowercase().as_str() {
        // Java names Amazon uses in its own Content-Types.
        "cp1252" => encoding_rs::WINDOWS_1252,
        "ms932" | "cp932" | "windows-31j" | "sjis" => encoding_rs::SHIFT_JIS,
        _ => encoding_rs::Encoding::for_label(label.as_bytes())
            .ok_or_else(|| format!("The charset '{label}' is not supported."))?,
    };
    let (text, used, had_errors) = encoding.decode(bytes);
    if had_errors {
        return Err(format!(
            "The file is not valid {} text; save it in the charset named in its Content-Type.",
            used.name()
        ));
    }
    Ok(text.trim_start_matches('\u{feff}').to_string())
}

fn clean_cell(cell: &str) -> &str {
    let c = cell.trim();
    c.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(c)
        .trim()
}

fn column_name(cell: &str) -> String {
    clean_cell(cell).to_ascii_lowercase().replace('_', "-")
}

/// Splits the text into records keyed by column name. The header row is the first row that
/// names `order-id`; rows before it (template preamble, localized labels) are skipped. `Err`
/// when there is no such row.
pub fn parse(text: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let header_at = lines
        .iter()
        .position(|l| l.split('\t').any(|c| column_name(c) == "order-id"))
        .ok_or_else(|| {
            "The file has no header row naming the column 'order-id'; the first row must hold the column names (order-id, order-item-id, quantity, ship-date, carrier-code, carrier-name, tracking-number, ship-method).".to_string()
        })?;
    let header: Vec<String> = lines[header_at].split('\t').map(column_name).collect();
    let mut records = Vec::new();
    for line in &lines[header_at + 1..] {
        if line.split('\t').all(|c| clean_cell(c).is_empty()) {
            continue;
        }
        let mut fields = HashMap::new();
        for (name, cell) in header.iter().zip(line.split('\t')) {
            if !name.is_empty() {
                fields
                    .entry(name.clone())
                    .or_insert_with(|| clean_cell(cell).to_string());
            }
        }
        records.push(Record {
            number: records.len() + 1,
            fields,
        });
    }
    Ok(records)
}

/// Renders Amazon's flat processing report.
pub fn render_report(processed: usize, successful: usize, rows: &[ReportRow]) -> String {
    render_flat_report(
        processed,
        successful,
        rows.iter().map(|r| FlatReportLine {
            record: r.record,
            order_id: &r.order_id,
            order_item_id: &r.order_item_id,
            code: r.rule.code(),
            error_type: r.error_type.as_str(),
            message: &r.message,
        }),
    )
}

/// One problem line of a flat-file feed processing report.
#[derive(Debug, Clone, Copy)]
pub struct FlatReportLine<'a> {
    /// `original-record-number` (0 for feed-level problems).
    pub record: usize,
    /// `order-id` (empty for feed-level problems).
    pub order_id: &'a str,
    /// `order-item-id` (may be empty).
    pub order_item_id: &'a str,
    /// `error-code`.
    pub code: u32,
    /// `error-type` (`Error` or `Warning`).
    pub error_type: &'a str,
    /// `error-message`.
    pub message: &'a str,
}

/// Amazon's flat-file processing report layout (facts §8): the summary block, a blank line,
/// then one tab-separated row per problem under a fixed header. Every flat-file feed report
/// of the simulator, including feed-level FATAL ones, uses this one layout.
pub fn render_flat_report<'a>(
    processed: usize,
    successful: usize,
    lines: impl IntoIterator<Item = FlatReportLine<'a>>,
) -> String {
    let mut out = format!(
        "Feed Processing Summary:\n\tNumber of records processed\t\t{processed}\n\tNumber of records successful\t\t{successful}\n\noriginal-record-number\torder-id\torder-item-id\terror-code\terror-type\terror-message\n"
    );
    for l in lines {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            l.record,
            l.order_id,
            l.order_item_id,
            l.code,
            l.error_type,
            l.message.replace(['\t', '\n', '\r'], " ")
        ));
    }
    out
}

/// A parsed `ship-date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShipDate {
    Date(Date),
    DateTime(OffsetDateTime),
}

fn parse_ship_date(s: &str) -> Option<ShipDate> {
    let date = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(s, date) {
        return Some(ShipDate::Date(d));
    }
    if let Some(t) = parse_datetime(s) {
        return Some(ShipDate::DateTime(t));
    }
    let with_t = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let with_space =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let compact_offset = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    if let Ok(t) = OffsetDateTime::parse(s, compact_offset) {
        return Some(ShipDate::DateTime(t));
    }
    PrimitiveDateTime::parse(s, with_t)
        .or_else(|_| PrimitiveDateTime::parse(s, with_space))
        .ok()
        .map(|t| ShipDate::DateTime(t.assume_utc()))
}

/// Units of an order item still to ship.
fn remaining(item: &Value) -> i64 {
    let f = &item["fulfillment"];
    if let Some(u) = f["quantityUnfulfilled"].as_i64() {
        return u.max(0);
    }
    let ordered = item["quantityOrdered"].as_i64().unwrap_or(0);
    let fulfilled = f["quantityFulfilled"].as_i64().unwrap_or(0);
    (ordered - fulfilled).max(0)
}

/// `parent[key]` as an object, created (or replaced when it is not an object) as needed.
fn child_object<'a>(parent: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let child = parent
        .as_object_mut()?
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    child.as_object_mut()
}

/// `parent[key]` as an array, created (or replaced when it is not an array) as needed.
fn child_array<'a>(parent: &'a mut Value, key: &str) -> Option<&'a mut Vec<Value>> {
    let child = parent
        .as_object_mut()?
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !child.is_array() {
        *child = Value::Array(Vec::new());
    }
    child.as_array_mut()
}

/// What this feed has done to packages so far.
#[derive(Debug, Default)]
struct FeedPackages {
    /// (order id, tracking number) → packageReferenceId of the package later lines join.
    by_tracking: HashMap<(String, String), String>,
    /// (order id, packageReferenceId) of the packages this feed created; a correction only
    /// fixes a package that existed before the file.
    created: HashSet<(String, String)>,
}

/// Processes a POST_FLAT_FILE_FULFILLMENT_DATA input document of `seller_id` at `now`.
pub fn process(
    st: &mut State,
    seller_id: &str,
    marketplace_ids: &[String],
    input: &[u8],
    content_type: &str,
    now: OffsetDateTime,
) -> Processing {
    let file_level = |rule: Rule, message: String| {
        let row = ReportRow {
            record: 0,
            order_id: String::new(),
            order_item_id: String::new(),
            rule,
            error_type: ErrorType::Error,
            message,
        };
        finish(0, 0, &[row], BTreeSet::new())
    };
    let text = match decode(input, content_type) {
        Ok(t) => t,
        Err(e) => return file_level(Rule::Undecodable, e),
    };
    let records = match parse(&text) {
        Ok(r) => r,
        Err(e) => return file_level(Rule::MissingHeader, e),
    };
    let mut rows = Vec::new();
    let mut successful = 0;
    let mut changed = BTreeSet::new();
    let mut feed_packages = FeedPackages::default();
    for record in &records {
        let line_rows = process_line(
            st,
            seller_id,
            marketplace_ids,
            record,
            now,
            &mut feed_packages,
            &mut changed,
        );
        if line_rows.iter().all(|r| r.error_type != ErrorType::Error) {
            successful += 1;
        }
        rows.extend(line_rows);
    }
    finish(records.len(), successful, &rows, changed)
}

fn finish(
    processed: usize,
    successful: usize,
    rows: &[ReportRow],
    changed: BTreeSet<String>,
) -> Processing {
    Processing {
        fatal: false,
        report: render_report(processed, successful, rows).into_bytes(),
        report_content_type: REPORT_CONTENT_TYPE.to_string(),
        effects: json!({
            "recordsProcessed": processed,
            "recordsAccepted": successful,
            "recordsRejected": processed - successful,
            "ordersChanged": changed.into_iter().collect::<Vec<_>>(),
            "listingsChanged": [],
        }),
    }
}

/// Checks one line and, when it has no Error, applies it. Returns the line's report rows.
fn process_line(
    st: &mut State,
    seller_id: &str,
    marketplace_ids: &[String],
    rec: &Record,
    now: OffsetDateTime,
    feed_packages: &mut FeedPackages,
    changed: &mut BTreeSet<String>,
) -> Vec<ReportRow> {
    let order_id = rec.get("order-id");
    let item_id = rec.get("order-item-id");
    let mut rows = Vec::new();
    let mut report = |rule: Rule, error_type: ErrorType, message: String| {
        rows.push(ReportRow {
            record: rec.number,
            order_id: order_id.to_string(),
            order_item_id: item_id.to_string(),
            rule,
            error_type,
            message,
        });
    };
    let error = ErrorType::Error;

    // Field syntax, independent of the order.
    let ship_date_raw = rec.get("ship-date");
    let ship_date = if ship_date_raw.is_empty() {
        report(
            Rule::MissingShipDate,
            error,
            "The ship-date is missing.".into(),
        );
        None
    } else {
        let parsed = parse_ship_date(ship_date_raw);
        if parsed.is_none() {
            report(
                Rule::InvalidShipDate,
                error,
                format!(
                    "The ship-date '{ship_date_raw}' is not a date (yyyy-mm-dd) or an ISO 8601 date-time."
                ),
            );
        }
        parsed
    };
    let in_future = match ship_date {
        Some(ShipDate::Date(d)) => d > now.to_offset(time::UtcOffset::UTC).date(),
        Some(ShipDate::DateTime(t)) => t > now + time::Duration::minutes(15),
        None => false,
    };
    if in_future {
        report(
            Rule::ShipDateInFuture,
            error,
            format!("The ship-date '{ship_date_raw}' is in the future."),
        );
    }
    let carrier_code = rec.get("carrier-code");
    let carrier_name = rec.get("carrier-name");
    if carrier_code.is_empty() {
        report(
            Rule::MissingCarrierCode,
            error,
            "The carrier-code is missing; use an Amazon carrier code, or Other with a carrier-name.".into(),
        );
    } else if carrier_code.eq_ignore_ascii_case("Other") && carrier_name.is_empty() {
        report(
            Rule::MissingCarrierName,
            error,
            "The carrier-code is Other but the carrier-name is missing.".into(),
        );
    }
    if carrier_name.chars().count() > MAX_CARRIER_NAME {
        report(
            Rule::CarrierNameTooLong,
            error,
            format!("The carrier-name is longer than {MAX_CARRIER_NAME} characters."),
        );
    }
    let tracking = rec.get("tracking-number");
    let clear_tracking = tracking == "NULL";
    if !clear_tracking && !tracking.chars().all(|c| c.is_ascii_alphanumeric()) {
        report(
            Rule::InvalidTrackingNumber,
            error,
            format!(
                "The tracking-number '{tracking}' may hold only letters and digits (no spaces or punctuation)."
            ),
        );
    }
    let quantity_raw = rec.get("quantity");
    let quantity: Option<i64> = if quantity_raw.is_empty() {
        None
    } else {
        match quantity_raw.parse::<i64>() {
            Ok(q) if q > 0 => Some(q),
            _ => {
                report(
                    Rule::InvalidQuantity,
                    error,
                    format!("The quantity '{quantity_raw}' is not a positive whole number."),
                );
                None
            }
        }
    };
    let quantity_invalid = !quantity_raw.is_empty() && quantity.is_none();

    // The order.
    if order_id.is_empty() {
        report(
            Rule::MissingOrderId,
            error,
            "The order-id is missing.".into(),
        );
        return rows;
    }
    let Some(order) = st
        .sellers
        .get(seller_id)
        .and_then(|s| s.orders.get(order_id))
    else {
        report(
            Rule::UnknownOrder,
            error,
            format!("The order-id '{order_id}' was not found for this seller."),
        );
        return rows;
    };
    let marketplace = order["salesChannel"]["marketplaceId"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| marketplace_ids.first().cloned())
        .unwrap_or_default();
    if rec.get("ship-method").is_empty() {
        let required = SHIP_METHOD_REQUIRED_IN.contains(&marketplace.as_str());
        report(
            Rule::MissingShipMethod,
            if required { error } else { ErrorType::Warning },
            if required {
                "The ship-method is missing; it is mandatory in this marketplace.".into()
            } else {
                "The ship-method is missing; the shipping service is shown as unknown.".into()
            },
        );
    }
    let status = order["fulfillment"]["fulfillmentStatus"]
        .as_str()
        .unwrap_or("");
    let mut order_blocked = true;
    if order["fulfillment"]["fulfilledBy"].as_str() == Some("AMAZON") || status == "UNFULFILLABLE" {
        report(
            Rule::NotMerchantFulfilled,
            error,
            format!(
                "The order '{order_id}' is fulfilled by Amazon; only merchant-fulfilled orders can be confirmed."
            ),
        );
    } else if status == "CANCELLED" {
        report(
            Rule::OrderCancelled,
            error,
            format!("The order '{order_id}' is cancelled and cannot be shipped."),
        );
    } else if status == "PENDING" || status == "PENDING_AVAILABILITY" {
        report(
            Rule::OrderNotReady,
            error,
            format!("The order '{order_id}' is {status} and not ready to ship yet."),
        );
    } else {
        order_blocked = false;
    }
    let purchased = order["createdTime"].as_str().and_then(parse_datetime);
    let before_purchase = match (ship_date, purchased) {
        (Some(ShipDate::Date(d)), Some(p)) => d < p.to_offset(time::UtcOffset::UTC).date(),
        (Some(ShipDate::DateTime(t)), Some(p)) => t < p,
        _ => false,
    };
    if before_purchase {
        report(
            Rule::ShipDateBeforePurchase,
            error,
            format!("The ship-date '{ship_date_raw}' is before the purchase date of the order."),
        );
    }
    if order_blocked {
        return rows;
    }

    // The items.
    let items: Vec<(String, i64)> = order["orderItems"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| Some((i["orderItemId"].as_str()?.to_string(), remaining(i))))
                .collect()
        })
        .unwrap_or_default();
    let item_left =
        (!item_id.is_empty()).then(|| items.iter().find(|(id, _)| id == item_id).map(|(_, r)| *r));
    if let Some(None) = item_left {
        report(
            Rule::UnknownOrderItem,
            error,
            format!("The order-item-id '{item_id}' is not an item of order '{order_id}'."),
        );
    }
    if clear_tracking {
        let has_tracking = order["packages"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["trackingNumber"].is_string() && package_holds(p, item_id))
        });
        if !has_tracking && !matches!(item_left, Some(None)) {
            report(
                Rule::NothingToClear,
                error,
                "The tracking-number NULL clears an uploaded tracking number, but there is none for this order (item).".into(),
            );
        }
    }
    let mut to_ship: Vec<(String, i64)> = Vec::new();
    let mut correction = None;
    if !clear_tracking {
        match item_left {
            None => {
                to_ship = items.iter().filter(|(_, r)| *r > 0).cloned().collect();
                if to_ship.is_empty() {
                    report(
                        Rule::QuantityAboveRemaining,
                        error,
                        format!("The order '{order_id}' has nothing left to ship."),
                    );
                }
            }
            Some(None) => {}
            Some(Some(left)) if !quantity_invalid => {
                let q = quantity.unwrap_or(left);
                let target = match (quantity, ship_date) {
                    (Some(q), Some(date)) if q > left && !tracking.is_empty() => {
                        let wanted = Wanted {
                            order_id,
                            item_id,
                            quantity: q,
                            date,
                            tracking,
                        };
                        correction_target(order, &wanted, feed_packages)
                    }
                    _ => Target::None,
                };
                if let Target::One(package_ref) = target {
                    correction = Some(package_ref);
                } else if let Target::Several(n) = target {
                    report(
                        Rule::AmbiguousCorrection,
                        error,
                        format!(
                            "The line would correct a package of order '{order_id}', but {n} packages hold {q} unit(s) of order item '{item_id}' shipped at that time with other tracking numbers; which one is meant cannot be told."
                        ),
                    );
                } else if left == 0 {
                    report(
                        Rule::QuantityAboveRemaining,
                        error,
                        format!("The order item '{item_id}' has nothing left to ship."),
                    );
                } else if q > left {
                    report(
                        Rule::QuantityAboveRemaining,
                        error,
                        format!(
                            "The quantity {q} is more than the {left} unit(s) left to ship for order item '{item_id}'."
                        ),
                    );
                } else {
                    to_ship.push((item_id.to_string(), q));
                }
            }
            Some(Some(_)) => {}
        }
    }
    if rows.iter().any(|r| r.error_type == ErrorType::Error) {
        return rows;
    }

    // Apply.
    let ship_time = match ship_date {
        Some(ShipDate::DateTime(t)) => t,
        Some(ShipDate::Date(d)) => {
            let midnight = d.midnight().assume_utc();
            purchased.map_or(midnight, |p| p.max(midnight))
        }
        None => now,
    };
    let line = Line {
        order_id,
        item_id,
        carrier: if carrier_code.eq_ignore_ascii_case("Other") {
            carrier_name
        } else {
            carrier_code
        },
        tracking,
        ship_method: rec.get("ship-method"),
        transparency_codes: rec
            .get("transparency-code")
            .split([',', ' ', ';'])
            .filter(|c| !c.is_empty())
            .collect(),
        ship_time,
        to_ship,
        correction,
    };
    let applied = st
        .sellers
        .get_mut(seller_id)
        .and_then(|s| s.orders.get_mut(order_id))
        .is_some_and(|order| {
            if clear_tracking {
                clear_tracking_numbers(order, item_id)
            } else if let Some(package_ref) = &line.correction {
                apply_correction(order, &line, package_ref, feed_packages)
            } else {
                apply_line(order, &line, now, feed_packages)
            }
        });
    if applied {
        if let Some(order) = st
            .sellers
            .get_mut(seller_id)
            .and_then(|s| s.orders.get_mut(order_id))
            .and_then(Value::as_object_mut)
        {
            // Never move lastUpdatedTime backwards (searchOrders' lastUpdatedAfter cursors
            // rely on it only growing).
            let later = order
                .get("lastUpdatedTime")
                .and_then(Value::as_str)
                .and_then(crate::sim::parse_datetime)
                .map_or(now, |t| t.max(now));
            order.insert("lastUpdatedTime".into(), json!(format_datetime(later)));
        }
        changed.insert(order_id.to_string());
    }
    rows
}

/// Whether a package holds `item_id` (any package when `item_id` is empty).
fn package_holds(package: &Value, item_id: &str) -> bool {
    item_id.is_empty()
        || package["packageItems"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["orderItemId"] == item_id))
}

fn clear_tracking_numbers(order: &mut Value, item_id: &str) -> bool {
    let Some(packages) = order.get_mut("packages").and_then(Value::as_array_mut) else {
        return false;
    };
    let mut cleared = false;
    for p in packages.iter_mut() {
        if package_holds(p, item_id)
            && let Some(obj) = p.as_object_mut()
        {
            cleared |= obj.remove("trackingNumber").is_some();
        }
    }
    cleared
}

/// What an accepted line ships.
struct Line<'a> {
    order_id: &'a str,
    item_id: &'a str,
    carrier: &'a str,
    tracking: &'a str,
    ship_method: &'a str,
    transparency_codes: Vec<&'a str>,
    ship_time: OffsetDateTime,
    to_ship: Vec<(String, i64)>,
    /// packageReferenceId of the package this line corrects (then `to_ship` is empty).
    correction: Option<String>,
}

/// Which package a line over what is left to ship corrects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// None: the line stays over what is left (10022).
    None,
    /// This package (packageReferenceId).
    One(String),
    /// This many packages with other tracking numbers match (10023).
    Several(usize),
}

/// Whether a package's `shipTime` is the line's `ship-date`: the same second for a date-time,
/// the same UTC day for a date.
fn ship_time_matches(package: &Value, date: ShipDate) -> bool {
    let Some(t) = package["shipTime"].as_str().and_then(parse_datetime) else {
        return false;
    };
    match date {
        ShipDate::Date(d) => t.to_offset(time::UtcOffset::UTC).date() == d,
        ShipDate::DateTime(s) => t == s.replace_nanosecond(0).unwrap_or(s),
    }
}

/// What a line over what is left to ship says about the package it would correct.
struct Wanted<'a> {
    order_id: &'a str,
    item_id: &'a str,
    quantity: i64,
    date: ShipDate,
    tracking: &'a str,
}

/// The package of `order` a line corrects, by the rule in the module docs.
fn correction_target(order: &Value, wanted: &Wanted<'_>, feed_packages: &FeedPackages) -> Target {
    let Wanted {
        order_id,
        item_id,
        quantity,
        date,
        tracking,
    } = *wanted;
    let candidates: Vec<(&str, &Value)> = order["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p["packageReferenceId"].as_str()?, p)))
        .filter(|(r, _)| {
            !feed_packages
                .created
                .contains(&(order_id.to_string(), r.to_string()))
        })
        .filter(|(_, p)| {
            p["packageItems"].as_array().is_some_and(|items| {
                items.iter().any(|i| {
                    i["orderItemId"] == item_id && i["quantity"].as_i64() == Some(quantity)
                })
            })
        })
        .filter(|(_, p)| ship_time_matches(p, date))
        .collect();
    if let Some((r, _)) = candidates
        .iter()
        .find(|(_, p)| p["trackingNumber"] == tracking)
    {
        return Target::One(r.to_string());
    }
    match candidates.as_slice() {
        [] => Target::None,
        [(r, _)] => Target::One(r.to_string()),
        several => Target::Several(several.len()),
    }
}

/// Adds a package item (quantity and transparency codes) to `items`.
fn add_package_item(items: &mut Vec<Value>, item: &Value) {
    let Some(id) = item["orderItemId"].as_str() else {
        return;
    };
    let Some(entry) = items.iter_mut().find(|i| i["orderItemId"] == id) else {
        items.push(item.clone());
        return;
    };
    let total = entry["quantity"].as_i64().unwrap_or(0) + item["quantity"].as_i64().unwrap_or(0);
    entry["quantity"] = json!(total);
    if let Some(codes) = item["transparencyCodes"].as_array()
        && let Some(list) = child_array(entry, "transparencyCodes")
    {
        list.extend(codes.iter().cloned());
    }
}

/// Applies a correction of package `package_ref`; returns whether the order changed.
fn apply_correction(
    order: &mut Value,
    line: &Line<'_>,
    package_ref: &str,
    feed_packages: &mut FeedPackages,
) -> bool {
    let Some(packages) = order.get_mut("packages").and_then(Value::as_array_mut) else {
        return false;
    };
    let Some(mut index) = packages
        .iter()
        .position(|p| p["packageReferenceId"] == package_ref)
    else {
        return false;
    };
    let mut changed = false;
    // One package per tracking number and order: the corrected package joins the one that
    // already has the new tracking number.
    if let Some(other) = packages
        .iter()
        .position(|p| p["trackingNumber"] == line.tracking)
        .filter(|&o| o != index)
    {
        let moved = packages.remove(index);
        index = if other > index { other - 1 } else { other };
        if let Some(items) = child_array(&mut packages[index], "packageItems") {
            for item in moved["packageItems"].as_array().into_iter().flatten() {
                add_package_item(items, item);
            }
        }
        changed = true;
    }
    let Some(package) = packages[index].as_object_mut() else {
        return changed;
    };
    let mut set = |key: &str, value: &str| {
        if package.get(key).and_then(Value::as_str) != Some(value) {
            package.insert(key.to_string(), json!(value));
            changed = true;
        }
    };
    set("trackingNumber", line.tracking);
    set("carrier", line.carrier);
    if !line.ship_method.is_empty() {
        set("shippingService", line.ship_method);
    }
    if let Some(r) = packages[index]["packageReferenceId"].as_str() {
        feed_packages.by_tracking.insert(
            (line.order_id.to_string(), line.tracking.to_string()),
            r.to_string(),
        );
    }
    changed
}

fn apply_line(
    order: &mut Value,
    line: &Line<'_>,
    now: OffsetDateTime,
    feed_packages: &mut FeedPackages,
) -> bool {
    // Item quantities.
    let mut all_shipped = true;
    if let Some(items) = order.get_mut("orderItems").and_then(Value::as_array_mut) {
        for item in items.iter_mut() {
            let left = remaining(item);
            let id = item["orderItemId"].as_str().unwrap_or("").to_string();
            let ordered = item["quantityOrdered"].as_i64().unwrap_or(0);
            let shipped_now = line
                .to_ship
                .iter()
                .find(|(i, _)| *i == id)
                .map_or(0, |(_, q)| *q);
            if shipped_now > 0
                && let Some(f) = child_object(item, "fulfillment")
            {
                let fulfilled = f
                    .get("quantityFulfilled")
                    .and_then(Value::as_i64)
                    .unwrap_or((ordered - left).max(0));
                f.insert("quantityFulfilled".into(), json!(fulfilled + shipped_now));
                f.insert("quantityUnfulfilled".into(), json!(left - shipped_now));
            }
            if left - shipped_now > 0 {
                all_shipped = false;
            }
        }
    }
    if let Some(f) = child_object(order, "fulfillment") {
        let status = if all_shipped {
            "SHIPPED"
        } else {
            "PARTIALLY_SHIPPED"
        };
        f.insert("fulfillmentStatus".into(), json!(status));
    }

    // The package.
    let Some(packages) = child_array(order, "packages") else {
        return true;
    };
    let key = (line.order_id.to_string(), line.tracking.to_string());
    let index = feed_packages
        .by_tracking
        .get(&key)
        .and_then(|r| packages.iter().position(|p| p["packageReferenceId"] == *r))
        .or_else(|| {
            (!line.tracking.is_empty())
                .then(|| {
                    packages
                        .iter()
                        .position(|p| p["trackingNumber"] == line.tracking)
                })
                .flatten()
        });
    let index = match index {
        Some(i) => i,
        None => {
            // Reference ids count up per order ("1", "2", ...), skipping any already taken.
            let mut n = packages.len() + 1;
            while packages
                .iter()
                .any(|p| p["packageReferenceId"].as_str() == Some(n.to_string().as_str()))
            {
                n += 1;
            }
            let mut p = json!({
                "packageReferenceId": n.to_string(),
                "createdTime": format_datetime(now),
                "packageStatus": { "status": "SHIPPED" },
                "carrier": line.carrier,
                "shipTime": format_datetime(line.ship_time),
                "packageItems": [],
            });
            if !line.ship_method.is_empty() {
                p["shippingService"] = json!(line.ship_method);
            }
            if !line.tracking.is_empty() {
                p["trackingNumber"] = json!(line.tracking);
            }
            packages.push(p);
            feed_packages
                .created
                .insert((line.order_id.to_string(), n.to_string()));
            packages.len() - 1
        }
    };
    let package = &mut packages[index];
    if let Some(r) = package["packageReferenceId"].as_str() {
        feed_packages.by_tracking.insert(key, r.to_string());
    }
    let Some(package_items) = child_array(package, "packageItems") else {
        return true;
    };
    for (id, q) in &line.to_ship {
        let pos = package_items.iter().position(|i| i["orderItemId"] == *id);
        let entry = match pos {
            Some(p) => &mut package_items[p],
            None => {
                package_items.push(json!({ "orderItemId": id, "quantity": 0 }));
                let last = package_items.len() - 1;
                &mut package_items[last]
            }
        };
        let before = entry["quantity"].as_i64().unwrap_or(0);
        if let Some(obj) = entry.as_object_mut() {
            obj.insert("quantity".into(), json!(before + q));
            // A transparency code belongs to one unit; with a whole-order line the codes go
            // to the line's item, or to the first item when the line names none.
            let codes_here = !line.transparency_codes.is_empty()
                && (line.item_id == id
                    || (line.item_id.is_empty()
                        && line.to_ship.first().is_some_and(|(f, _)| f == id)));
            if codes_here {
                let codes = obj.entry("transparencyCodes").or_insert_with(|| json!([]));
                if let Some(list) = codes.as_array_mut() {
                    list.extend(line.transparency_codes.iter().map(|c| json!(c)));
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use time::Duration;

    use super::*;
    use crate::feeds::testkit::*;

    const HEADER: &str = "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method";
    const UTF8: &str = "text/tab-separated-values; charset=UTF-8";
    const O1: &str = "111-0000000-0000001";
    const O2: &str = "111-0000000-0000002";
    const A: &str = "10000000000001";
    const B: &str = "10000000000002";

    /// One unshipped merchant order O1 (A×3, B×1) and O2 (A×1), bought yesterday.
    fn world() -> State {
        let mut st = state();
        let yesterday = start() - Duration::days(1);
        add_order(
            &mut st,
            SELLER,
            order(
                O1,
                US,
                yesterday,
                &[(A, 3), (B, 1)],
                "MERCHANT",
                "UNSHIPPED",
            ),
        );
        add_order(
            &mut st,
            SELLER,
            order(O2, US, yesterday, &[(A, 1)], "MERCHANT", "UNSHIPPED"),
        );
        st
    }

    fn run_bytes_at(
        st: &mut State,
        bytes: &[u8],
        content_type: &str,
        now: OffsetDateTime,
    ) -> (Processing, String) {
        let p = process(st, SELLER, &[US.to_string()], bytes, content_type, now);
        let text = String::from_utf8(p.report.clone()).unwrap();
        (p, text)
    }

    fn run_bytes(st: &mut State, bytes: &[u8], content_type: &str) -> (Processing, String) {
        run_bytes_at(st, bytes, content_type, start())
    }

    fn run_at(st: &mut State, now: OffsetDateTime, lines: &[&str]) -> (Processing, String) {
        let mut text = format!("{HEADER}\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        run_bytes_at(st, text.as_bytes(), UTF8, now)
    }

    fn run(st: &mut State, lines: &[&str]) -> (Processing, String) {
        run_at(st, start(), lines)
    }

    /// Report rows below the column header: (record, order, item, code, type, message).
    fn rows(report: &str) -> Vec<Vec<String>> {
        report
            .lines()
            .skip_while(|l| !l.starts_with("original-record-number"))
            .skip(1)
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    fn counts(report: &str) -> (usize, usize) {
        let n = |label: &str| {
            report
                .lines()
                .find(|l| l.contains(label))
                .and_then(|l| l.rsplit('\t').next())
                .unwrap()
                .parse()
                .unwrap()
        };
        (n("records processed"), n("records successful"))
    }

    fn order_of(st: &State, seller: &str, id: &str) -> Value {
        st.sellers[seller].orders[id].clone()
    }

    #[test]
    fn accepted_line_ships_the_item_and_records_a_package() {
        let mut st = world();

        let (p, report) = run(
            &mut st,
            &[&format!(
                "{O1}\t{A}\t3\t2026-11-20\tUPS\t\t1Z999AA10123456784\tUPS Ground"
            )],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (1, 1));
        assert!(rows(&report).is_empty());
        assert!(report.starts_with("Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n\noriginal-record-number\torder-id\torder-item-id\terror-code\terror-type\terror-message\n"));
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityFulfilled"], 3);
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityUnfulfilled"], 0);
        assert_eq!(o["fulfillment"]["fulfillmentStatus"], "PARTIALLY_SHIPPED");
        assert_eq!(o["lastUpdatedTime"], "2026-11-20T12:00:00Z");
        let pkg = &o["packages"][0];
        assert_eq!(pkg["packageReferenceId"], "1");
        assert_eq!(pkg["carrier"], "UPS");
        assert_eq!(pkg["trackingNumber"], "1Z999AA10123456784");
        assert_eq!(pkg["shippingService"], "UPS Ground");
        assert_eq!(pkg["packageStatus"]["status"], "SHIPPED");
        assert_eq!(pkg["shipTime"], "2026-11-20T00:00:00Z");
        assert_eq!(
            pkg["packageItems"],
            serde_json::json!([{ "orderItemId": A, "quantity": 3 }])
        );
        assert_eq!(p.effects["ordersChanged"], serde_json::json!([O1]));
        assert_eq!(p.report_content_type, REPORT_CONTENT_TYPE);
    }

    #[test]
    fn each_rule_rejects_the_line_on_its_own() {
        let long_name = "x".repeat(51);
        let cases: Vec<(String, u32)> = vec![
            (format!("\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"), 10010),
            (
                format!("111-9999999-9999999\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10011,
            ),
            (
                format!("113-0000000-0000009\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10011,
            ),
            (
                format!("113-0000000-0000003\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10012,
            ),
            (
                format!("113-0000000-0000004\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10013,
            ),
            (
                format!("113-0000000-0000005\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10014,
            ),
            (
                format!("{O1}\t99999999999999\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10020,
            ),
            (
                format!("{O1}\t{A}\t0\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10021,
            ),
            (
                format!("{O1}\t{A}\t-1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10021,
            ),
            (
                format!("{O1}\t{A}\t1.5\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10021,
            ),
            (
                format!("{O1}\t{A}\ttwo\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10021,
            ),
            (
                format!("{O1}\t{A}\t4\t2026-11-20\tUPS\t\t1Z1\tGround"),
                10022,
            ),
            (format!("{O1}\t{A}\t1\t\tUPS\t\t1Z1\tGround"), 10030),
            (
                format!("{O1}\t{A}\t1\t20/11/2026\tUPS\t\t1Z1\tGround"),
                10031,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-21\tUPS\t\t1Z1\tGround"),
                10032,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-20T13:00:00Z\tUPS\t\t1Z1\tGround"),
                10032,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-18\tUPS\t\t1Z1\tGround"),
                10033,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-19T11:59:59Z\tUPS\t\t1Z1\tGround"),
                10033,
            ),
            (format!("{O1}\t{A}\t1\t2026-11-20\t\t\t1Z1\tGround"), 10040),
            (
                format!("{O1}\t{A}\t1\t2026-11-20\tOther\t\t1Z1\tGround"),
                10041,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-20\tOther\t{long_name}\t1Z1\tGround"),
                10042,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z 999\tGround"),
                10050,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z-999\tGround"),
                10050,
            ),
            (
                format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\tNULL\tGround"),
                10051,
            ),
            (
                format!("202-0000000-0000006\t{A}\t1\t2026-11-20\tRoyal Mail\t\tAB123456789GB\t"),
                10060,
            ),
        ];
        for (line, code) in cases {
            let mut st = world();
            let yesterday = start() - Duration::days(1);
            add_order(
                &mut st,
                OTHER,
                order(
                    "113-0000000-0000009",
                    US,
                    yesterday,
                    &[(A, 1)],
                    "MERCHANT",
                    "UNSHIPPED",
                ),
            );
            add_order(
                &mut st,
                SELLER,
                order(
                    "113-0000000-0000003",
                    US,
                    yesterday,
                    &[(A, 1)],
                    "AMAZON",
                    "UNSHIPPED",
                ),
            );
            add_order(
                &mut st,
                SELLER,
                order(
                    "113-0000000-0000004",
                    US,
                    yesterday,
                    &[(A, 1)],
                    "MERCHANT",
                    "CANCELLED",
                ),
            );
            add_order(
                &mut st,
                SELLER,
                order(
                    "113-0000000-0000005",
                    US,
                    yesterday,
                    &[(A, 1)],
                    "MERCHANT",
                    "PENDING",
                ),
            );
            add_order(
                &mut st,
                SELLER,
                order(
                    "202-0000000-0000006",
                    UK,
                    yesterday,
                    &[(A, 1)],
                    "MERCHANT",
                    "UNSHIPPED",
                ),
            );
            let before = st.sellers.clone_orders();

            let (p, report) = run(&mut st, &[&line]);

            let rows = rows(&report);
            assert_eq!(rows.len(), 1, "{line}: {report}");
            assert_eq!(rows[0][0], "1", "{line}");
            assert_eq!(rows[0][3], code.to_string(), "{line}: {report}");
            assert_eq!(rows[0][4], "Error", "{line}");
            assert_eq!(counts(&report), (1, 0), "{line}");
            assert_eq!(
                st.sellers.clone_orders(),
                before,
                "{line} must change nothing"
            );
            assert_eq!(p.effects["ordersChanged"], serde_json::json!([]));
        }
    }

    trait CloneOrders {
        fn clone_orders(&self) -> Vec<Value>;
    }

    impl CloneOrders for std::collections::BTreeMap<String, crate::state::Seller> {
        fn clone_orders(&self) -> Vec<Value> {
            self.values()
                .flat_map(|s| s.orders.values().cloned())
                .collect()
        }
    }

    #[test]
    fn missing_ship_method_is_a_warning_outside_the_uk_and_eu() {
        let mut st = world();

        let (_, report) = run(
            &mut st,
            &[&format!(
                "{O2}\t{A}\t1\t2026-11-20\tUSPS\t\t9400100000000000000001\t"
            )],
        );

        let rows = rows(&report);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0][3].as_str(), rows[0][4].as_str()),
            ("10060", "Warning")
        );
        assert_eq!(counts(&report), (1, 1));
        assert_eq!(
            order_of(&st, SELLER, O2)["fulfillment"]["fulfillmentStatus"],
            "SHIPPED"
        );
        assert!(
            order_of(&st, SELLER, O2)["packages"][0]
                .get("shippingService")
                .is_none()
        );
    }

    #[test]
    fn mixed_file_applies_good_lines_and_reports_bad_ones_by_record_number() {
        let mut st = world();

        let (p, report) = run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                &format!("{O1}\t{A}\t9\t2026-11-20\tUPS\t\t1Z2\tGround"),
                &format!("{O2}\t{A}\t1\t2026-11-20\tUSPS\t\t94001\tPriority Mail"),
                &format!("111-9999999-9999999\t{A}\t1\t2026-11-20\tUPS\t\t1Z3\tGround"),
            ],
        );

        let rows = rows(&report);
        assert_eq!(counts(&report), (4, 2));
        assert_eq!(
            rows.iter()
                .map(|r| (r[0].as_str(), r[3].as_str()))
                .collect::<Vec<_>>(),
            vec![("2", "10022"), ("4", "10011")]
        );
        assert_eq!(rows[0][1], O1);
        assert_eq!(rows[0][2], A);
        assert_eq!(
            order_of(&st, SELLER, O1)["orderItems"][0]["fulfillment"]["quantityFulfilled"],
            1
        );
        assert_eq!(
            order_of(&st, SELLER, O2)["fulfillment"]["fulfillmentStatus"],
            "SHIPPED"
        );
        assert_eq!(p.effects["recordsRejected"], 2);
        assert_eq!(p.effects["ordersChanged"], serde_json::json!([O1, O2]));
    }

    #[test]
    fn partial_shipments_over_two_feeds_end_shipped() {
        let mut st = world();

        run(
            &mut st,
            &[&format!("{O1}\t{A}\t2\t2026-11-20\tUPS\t\t1Z1\tGround")],
        );
        let after_first = order_of(&st, SELLER, O1);
        let (_, report) = run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z2\tGround"),
                &format!("{O1}\t{B}\t\t2026-11-20\tUPS\t\t1Z2\tGround"),
            ],
        );
        let after_second = order_of(&st, SELLER, O1);

        assert_eq!(
            after_first["fulfillment"]["fulfillmentStatus"],
            "PARTIALLY_SHIPPED"
        );
        assert_eq!(
            after_first["orderItems"][0]["fulfillment"]["quantityUnfulfilled"],
            1
        );
        assert_eq!(counts(&report), (2, 2));
        assert_eq!(after_second["fulfillment"]["fulfillmentStatus"], "SHIPPED");
        let packages = after_second["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[1]["packageReferenceId"], "2");
        assert_eq!(
            packages[1]["packageItems"],
            serde_json::json!([{ "orderItemId": A, "quantity": 1 }, { "orderItemId": B, "quantity": 1 }])
        );
    }

    #[test]
    fn correction_of_a_fully_shipped_item_overwrites_the_package_tracking() {
        let mut st = world();
        run(
            &mut st,
            &[&format!(
                "{O2}\t{A}\t1\t2026-11-20\tUPS\t\t1ZWRONG1\tGround"
            )],
        );
        let later = start() + Duration::hours(1);

        let (p, report) = run_at(
            &mut st,
            later,
            &[&format!(
                "{O2}\t{A}\t1\t2026-11-20\tFedEx\t\t748912345678\tHome Delivery"
            )],
        );

        let o = order_of(&st, SELLER, O2);
        assert_eq!(counts(&report), (1, 1), "{report}");
        assert!(rows(&report).is_empty(), "{report}");
        let packages = o["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0]["packageReferenceId"], "1");
        assert_eq!(packages[0]["trackingNumber"], "748912345678");
        assert_eq!(packages[0]["carrier"], "FedEx");
        assert_eq!(packages[0]["shippingService"], "Home Delivery");
        assert_eq!(packages[0]["shipTime"], "2026-11-20T00:00:00Z");
        assert_eq!(
            packages[0]["packageItems"],
            serde_json::json!([{ "orderItemId": A, "quantity": 1 }])
        );
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityFulfilled"], 1);
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityUnfulfilled"], 0);
        assert_eq!(o["fulfillment"]["fulfillmentStatus"], "SHIPPED");
        assert_eq!(o["lastUpdatedTime"], "2026-11-20T13:00:00Z");
        assert_eq!(p.effects["ordersChanged"], serde_json::json!([O2]));
    }

    #[test]
    fn correction_of_a_partial_shipment_fixes_the_package_instead_of_shipping_more() {
        let mut st = world();
        run(
            &mut st,
            &[&format!(
                "{O1}\t{A}\t2\t2026-11-20T10:00:00Z\tUPS\t\t1Z1\tGround"
            )],
        );

        let (_, report) = run(
            &mut st,
            &[&format!(
                "{O1}\t{A}\t2\t2026-11-20T10:00:00Z\tUPS\t\t1Z2\tGround"
            )],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (1, 1), "{report}");
        let packages = o["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0]["trackingNumber"], "1Z2");
        assert_eq!(
            packages[0]["packageItems"],
            serde_json::json!([{ "orderItemId": A, "quantity": 2 }])
        );
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityFulfilled"], 2);
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityUnfulfilled"], 1);
        assert_eq!(o["fulfillment"]["fulfillmentStatus"], "PARTIALLY_SHIPPED");
    }

    #[test]
    fn a_line_at_another_ship_time_within_what_is_left_is_a_new_shipment() {
        let mut st = world();
        run(
            &mut st,
            &[&format!(
                "{O1}\t{A}\t2\t2026-11-20T10:00:00Z\tUPS\t\t1Z1\tGround"
            )],
        );

        let (_, report) = run(
            &mut st,
            &[&format!(
                "{O1}\t{A}\t1\t2026-11-20T11:00:00Z\tUPS\t\t1Z3\tGround"
            )],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (1, 1), "{report}");
        let packages = o["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0]["trackingNumber"], "1Z1");
        assert_eq!(packages[1]["packageReferenceId"], "2");
        assert_eq!(packages[1]["trackingNumber"], "1Z3");
        assert_eq!(packages[1]["shipTime"], "2026-11-20T11:00:00Z");
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityFulfilled"], 3);
    }

    #[test]
    fn a_line_that_fits_in_what_is_left_is_a_new_shipment_even_at_the_same_ship_time() {
        let mut st = world();
        run(
            &mut st,
            &[&format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround")],
        );

        let (_, report) = run(
            &mut st,
            &[&format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z2\tGround")],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (1, 1), "{report}");
        assert_eq!(o["packages"].as_array().unwrap().len(), 2);
        assert_eq!(o["packages"][0]["trackingNumber"], "1Z1");
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityFulfilled"], 2);
    }

    #[test]
    fn a_line_over_what_is_left_matching_no_package_is_still_rejected() {
        let cases = [
            ("3", "2026-11-20T10:00:01Z", "1Z2", "another instant"),
            ("3", "2026-11-19", "1Z2", "another day"),
            ("2", "2026-11-20T10:00:00Z", "1Z2", "another quantity"),
            ("", "2026-11-20T10:00:00Z", "1Z2", "no quantity"),
            ("3", "2026-11-20T10:00:00Z", "", "no tracking number"),
        ];
        for (quantity, ship_date, tracking, why) in cases {
            let mut st = world();
            run(
                &mut st,
                &[&format!(
                    "{O1}\t{A}\t3\t2026-11-20T10:00:00Z\tUPS\t\t1Z1\tGround"
                )],
            );
            let before = order_of(&st, SELLER, O1);

            let (p, report) = run_at(
                &mut st,
                start() + Duration::hours(1),
                &[&format!(
                    "{O1}\t{A}\t{quantity}\t{ship_date}\tUPS\t\t{tracking}\tGround"
                )],
            );

            let rows = rows(&report);
            assert_eq!(rows.len(), 1, "{why}: {report}");
            assert_eq!(rows[0][3], "10022", "{why}: {report}");
            assert_eq!(counts(&report), (1, 0), "{why}");
            assert_eq!(order_of(&st, SELLER, O1), before, "{why}");
            assert_eq!(p.effects["ordersChanged"], serde_json::json!([]), "{why}");
        }
    }

    #[test]
    fn correction_matches_the_ship_date_by_the_second_or_by_the_utc_day() {
        for ship_date in [
            "2026-11-20T10:00:00Z",
            "2026-11-20T11:00:00+01:00",
            "2026-11-20T10:00:00.400Z",
            "2026-11-20",
        ] {
            let mut st = world();
            run(
                &mut st,
                &[&format!(
                    "{O2}\t{A}\t1\t2026-11-20T10:00:00Z\tUPS\t\t1Z1\tGround"
                )],
            );

            let (_, report) = run(
                &mut st,
                &[&format!("{O2}\t{A}\t1\t{ship_date}\tUPS\t\t1Z2\tGround")],
            );

            let o = order_of(&st, SELLER, O2);
            assert_eq!(counts(&report), (1, 1), "{ship_date}: {report}");
            assert_eq!(o["packages"].as_array().unwrap().len(), 1, "{ship_date}");
            assert_eq!(o["packages"][0]["trackingNumber"], "1Z2", "{ship_date}");
            assert_eq!(
                o["packages"][0]["shipTime"], "2026-11-20T10:00:00Z",
                "{ship_date}"
            );
        }
    }

    #[test]
    fn correcting_a_two_item_package_line_by_line_keeps_one_package() {
        let mut st = world();
        run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t3\t2026-11-20\tUPS\t\t1ZOLD\tGround"),
                &format!("{O1}\t{B}\t1\t2026-11-20\tUPS\t\t1ZOLD\tGround"),
            ],
        );

        let (_, report) = run_at(
            &mut st,
            start() + Duration::minutes(5),
            &[
                &format!("{O1}\t{A}\t3\t2026-11-20\tUPS\t\t1ZNEW\tGround"),
                &format!("{O1}\t{B}\t1\t2026-11-20\tUPS\t\t1ZNEW\tGround"),
            ],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (2, 2), "{report}");
        let packages = o["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 1, "{packages:?}");
        assert_eq!(packages[0]["packageReferenceId"], "1");
        assert_eq!(packages[0]["trackingNumber"], "1ZNEW");
        assert_eq!(
            packages[0]["packageItems"],
            serde_json::json!([{ "orderItemId": A, "quantity": 3 }, { "orderItemId": B, "quantity": 1 }])
        );
        assert_eq!(o["fulfillment"]["fulfillmentStatus"], "SHIPPED");
        assert_eq!(o["lastUpdatedTime"], "2026-11-20T12:05:00Z");
    }

    #[test]
    fn correction_to_the_tracking_number_of_another_package_joins_that_package() {
        let mut st = world();
        run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t3\t2026-11-20\tUPS\t\t1ZTYPO\tGround"),
                &format!("{O1}\t{B}\t1\t2026-11-20\tUPS\t\t1ZBOX\tGround"),
            ],
        );

        let (_, report) = run(
            &mut st,
            &[&format!("{O1}\t{A}\t3\t2026-11-20\tUPS\t\t1ZBOX\tGround")],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (1, 1), "{report}");
        let packages = o["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 1, "{packages:?}");
        assert_eq!(packages[0]["packageReferenceId"], "2");
        assert_eq!(packages[0]["trackingNumber"], "1ZBOX");
        assert_eq!(
            packages[0]["packageItems"],
            serde_json::json!([{ "orderItemId": B, "quantity": 1 }, { "orderItemId": A, "quantity": 3 }])
        );
    }

    #[test]
    fn the_same_confirmation_sent_again_later_is_accepted_and_changes_nothing() {
        let mut st = world();
        let line = format!("{O2}\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround");
        run(&mut st, &[&line]);
        let before = order_of(&st, SELLER, O2);

        let (p, report) = run_at(&mut st, start() + Duration::hours(1), &[&line]);

        assert_eq!(counts(&report), (1, 1), "{report}");
        assert!(rows(&report).is_empty(), "{report}");
        assert_eq!(order_of(&st, SELLER, O2), before);
        assert_eq!(p.effects["ordersChanged"], serde_json::json!([]));
    }

    #[test]
    fn correction_matching_several_packages_is_refused() {
        let mut st = world();
        run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround"),
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z2\tGround"),
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z3\tGround"),
            ],
        );
        let before = order_of(&st, SELLER, O1);

        let (_, ambiguous) = run(
            &mut st,
            &[&format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z4\tGround")],
        );
        let (_, resent) = run(
            &mut st,
            &[&format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1Z2\tGround")],
        );

        assert_eq!(rows(&ambiguous).len(), 1, "{ambiguous}");
        assert_eq!(rows(&ambiguous)[0][3], "10023", "{ambiguous}");
        assert!(rows(&ambiguous)[0][5].contains("3 packages"), "{ambiguous}");
        assert_eq!(counts(&resent), (1, 1), "{resent}");
        assert_eq!(order_of(&st, SELLER, O1), before);
    }

    #[test]
    fn empty_order_item_id_confirms_the_whole_order() {
        let mut st = world();

        let (_, report) = run(
            &mut st,
            &[&format!("{O1}\t\t\t2026-11-20\tFedEx\t\t7489\tGround")],
        );
        let (_, again) = run(
            &mut st,
            &[&format!("{O1}\t\t\t2026-11-20\tFedEx\t\t7490\tGround")],
        );

        let o = order_of(&st, SELLER, O1);
        assert_eq!(counts(&report), (1, 1));
        assert_eq!(o["fulfillment"]["fulfillmentStatus"], "SHIPPED");
        assert_eq!(o["orderItems"][1]["fulfillment"]["quantityFulfilled"], 1);
        assert_eq!(
            o["packages"][0]["packageItems"],
            serde_json::json!([{ "orderItemId": A, "quantity": 3 }, { "orderItemId": B, "quantity": 1 }])
        );
        assert_eq!(rows(&again)[0][3], "10022");
        assert_eq!(o["packages"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn quantity_above_what_is_left_counts_earlier_lines_of_the_same_file() {
        let mut st = world();

        let (_, report) = run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t2\t2026-11-20\tUPS\t\t1Z1\tGround"),
                &format!("{O1}\t{A}\t2\t2026-11-20\tUPS\t\t1Z1\tGround"),
            ],
        );

        assert_eq!(rows(&report)[0][0], "2");
        assert!(rows(&report)[0][5].contains("1 unit(s) left"), "{report}");
        assert_eq!(
            order_of(&st, SELLER, O1)["orderItems"][0]["fulfillment"]["quantityFulfilled"],
            2
        );
    }

    #[test]
    fn lines_with_the_same_tracking_number_form_one_package() {
        let mut st = world();

        run(
            &mut st,
            &[
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1ZSAME\tGround"),
                &format!("{O1}\t{B}\t1\t2026-11-20\tUPS\t\t1ZSAME\tGround"),
                &format!("{O1}\t{A}\t1\t2026-11-20\tUPS\t\t1ZOTHER\tGround"),
            ],
        );

        let packages = order_of(&st, SELLER, O1)["packages"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0]["packageItems"].as_array().unwrap().len(), 2);
        assert_eq!(packages[1]["trackingNumber"], "1ZOTHER");
    }

    #[test]
    fn crlf_bom_preamble_labels_extra_columns_and_column_order_are_tolerated() {
        let mut st = world();
        let text = format!(
            "\u{feff}TemplateType=OrderFulfillment\tVersion=2011.1102\r\n\
             Order ID\tItem ID\tQty\r\n\
             ship-method\ttracking-number\tcustom-note\tcarrier-code\tship-date\tquantity\torder-item-id\torder-id\r\n\
             \r\n\
             Ground\t1Z1\thello\tUPS\t2026-11-20\t1\t{A}\t{O1}\r\n\
             Ground\t1Z 2\t\tUPS\t2026-11-20\t1\t{A}\t{O1}\r\n"
        );

        let (_, report) = run_bytes(&mut st, text.as_bytes(), UTF8);

        assert_eq!(counts(&report), (2, 1));
        assert_eq!(rows(&report)[0][0], "2");
        assert_eq!(rows(&report)[0][3], "10050");
        assert_eq!(
            order_of(&st, SELLER, O1)["packages"][0]["trackingNumber"],
            "1Z1"
        );
    }

    #[test]
    fn shift_jis_and_windows_1252_files_decode_by_their_charset() {
        let mut st = world();
        let jp = format!(
            "{HEADER}\n{O1}\t{A}\t1\t2026-11-20\tOther\tヤマト運輸\t123456789012\t宅急便\n"
        );
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&jp);
        let eu = format!(
            "{HEADER}\n{O2}\t{A}\t1\t2026-11-20\tOther\tMüller Transporte\tMT1\tStandard\n"
        );
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(&eu);

        let (_, r1) = run_bytes(
            &mut st,
            &sjis,
            "text/tab-separated-values; charset=Shift_JIS",
        );
        let (_, r2) = run_bytes(
            &mut st,
            &cp1252,
            "text/tab-separated-values; charset=Cp1252",
        );

        assert_eq!(counts(&r1), (1, 1), "{r1}");
        assert_eq!(counts(&r2), (1, 1), "{r2}");
        assert_eq!(
            order_of(&st, SELLER, O1)["packages"][0]["carrier"],
            "ヤマト運輸"
        );
        assert_eq!(
            order_of(&st, SELLER, O1)["packages"][0]["shippingService"],
            "宅急便"
        );
        assert_eq!(
            order_of(&st, SELLER, O2)["packages"][0]["carrier"],
            "Müller Transporte"
        );
    }

    #[test]
    fn undecodable_bytes_and_missing_header_are_file_level_errors() {
        let mut st = world();

        let (_, bad_bytes) = run_bytes(&mut st, b"order-id\n\xff\xfe\xfa\n", UTF8);
        let (_, no_header) = run_bytes(&mut st, format!("{O1}\t{A}\t1\n").as_bytes(), UTF8);

        assert_eq!(counts(&bad_bytes), (0, 0));
        assert_eq!(rows(&bad_bytes)[0][0], "0");
        assert_eq!(rows(&bad_bytes)[0][3], "10000");
        assert_eq!(rows(&no_header)[0][3], "10001");
        assert!(order_of(&st, SELLER, O1).get("packages").is_none());
    }

    #[test]
    fn tracking_number_null_clears_a_previous_upload() {
        let mut st = world();
        run(
            &mut st,
            &[&format!("{O2}\t{A}\t1\t2026-11-20\tUPS\t\t1ZWRONG\tGround")],
        );

        let (_, report) = run(
            &mut st,
            &[&format!("{O2}\t{A}\t1\t2026-11-20\tUPS\t\tNULL\tGround")],
        );

        let o = order_of(&st, SELLER, O2);
        assert_eq!(counts(&report), (1, 1), "{report}");
        assert!(o["packages"][0].get("trackingNumber").is_none());
        assert_eq!(o["orderItems"][0]["fulfillment"]["quantityFulfilled"], 1);
    }

    #[test]
    fn blank_lines_are_not_records_and_transparency_codes_are_kept() {
        let mut st = world();
        let text = format!(
            "{HEADER}\ttransparency_code\n\n{O2}\t{A}\t1\t2026-11-20\tUPS\t\t1Z1\tGround\tAZ:ABC,AZ:DEF\n\t\t\n{O1}\t{A}\t9\t2026-11-20\tUPS\t\t1Z2\tGround\t\n"
        );

        let (_, report) = run_bytes(&mut st, text.as_bytes(), UTF8);

        assert_eq!(counts(&report), (2, 1));
        assert_eq!(rows(&report)[0][0], "2");
        assert_eq!(
            order_of(&st, SELLER, O2)["packages"][0]["packageItems"][0]["transparencyCodes"],
            serde_json::json!(["AZ:ABC", "AZ:DEF"])
        );
    }
}
