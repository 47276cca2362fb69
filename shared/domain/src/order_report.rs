//! Streaming parser of Amazon's `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL` report.
//!
//! The report is tab-separated UTF-8 text with one header row and one row per order **item**
//! (an order spans several rows, joined on `amazon-order-id`). Columns are found by header
//! name, never by position: Amazon's documented list, the 33-column files with
//! `signature-confirmation-recommended`, MWS-era files with `url`, files with
//! `order-item-id`, `customized-*`, `buyer-identification-*`, `number-of-items` ... all parse.
//! Header names are compared trimmed and case-insensitively; a UTF-8 byte-order mark, CRLF
//! line ends, blank lines and rows with too few or too many cells are tolerated. Amazon does
//! not quote cells, so quoting is off: a `"` is an ordinary character.
//!
//! Required columns: `amazon-order-id`, `purchase-date`, `last-updated-date`, `order-status`;
//! when one is missing the whole document is refused ([`ReportParseError::MissingColumns`]).
//! Every other column is optional; a missing optional column reads as an empty cell.
//!
//! Cells: an empty cell is "no value". Dates are RFC 3339 / ISO 8601 as Amazon writes them
//! (`2026-11-20T08:15:02+00:00`, `...Z`, `...02.000Z`, other offsets) and are kept in UTC.
//! `quantity` is a `u32` (empty = 0: cancelled items carry 0 or nothing), `item-price` a
//! [`Decimal`] (never a float; a lone decimal comma `12,34` is accepted), `is-business-order`
//! `true`/`false` (empty = false), `fulfillment-channel` `Amazon`/`Merchant` (also `AFN`/`MFN`;
//! empty or absent = Merchant), statuses via [`AmazonOrderStatus::parse`].
//!
//! A malformed row (bad date, number or channel, no order id, empty order status) becomes a
//! [`RowError`] with the file's 1-based physical line number (the header is line 1) and
//! parsing goes on. A wrong number of cells is not an error by itself.
//!
//! Grouping and streaming: consecutive rows with the same `amazon-order-id` form one
//! [`ReportOrder`] (one [`OrderLine`] per row); memory holds one order at a time, never the
//! file. Order-level fields come from the group's first row; a later row of the group with a
//! newer `last-updated-date` brings its status and date. Amazon writes an order's rows
//! together, but if rows of one order are **not adjacent** the order simply comes out twice
//! (two `ReportOrder`s with the same id): the importer merges them
//! ([`decide_import`](crate::decide_import) unions lines of equal `last_updated`).
//!
//! Ordering guarantee: a row error is yielded as soon as its row is read, so it always comes
//! **before** the `ReportOrder` of the group it belongs to (the group is still open). A caller
//! that wants to hold back orders with a broken row can remember the ids of the errors.
//!
//! ```
//! use spsync_domain::{AmazonOrderStatus, OrderReportReader};
//!
//! let tsv = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\tquantity\n\
//!            111-0000000-0000001\t2026-11-20T08:15:02+00:00\t2026-11-20T09:00:00Z\tPending\tA\t1\n\
//!            111-0000000-0000001\t2026-11-20T08:15:02+00:00\t2026-11-20T09:00:00Z\tPending\tB\t2\n";
//! let mut reader = OrderReportReader::new(tsv.as_bytes())?;
//! let order = reader.next().unwrap()?;
//! assert_eq!(order.amazon_order_id.as_str(), "111-0000000-0000001");
//! assert_eq!(order.amazon_status, AmazonOrderStatus::Pending);
//! assert_eq!(order.lines.len(), 2);
//! assert!(reader.next().is_none());
//! assert_eq!(reader.rows_read(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::orders::{Address, AmazonOrderId, AmazonOrderStatus, FulfillmentChannel, OrderLine};

/// One order as read from the report: the order-level fields of its rows plus one
/// [`OrderLine`] per row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOrder {
    /// `amazon-order-id`.
    pub amazon_order_id: AmazonOrderId,
    /// `merchant-order-id`.
    pub merchant_order_id: Option<String>,
    /// `purchase-date`, UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub purchase_date: OffsetDateTime,
    /// `last-updated-date`, UTC (the newest of the group's rows).
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated: OffsetDateTime,
    /// `order-status` (of the row with the newest `last-updated-date`).
    pub amazon_status: AmazonOrderStatus,
    /// `fulfillment-channel` (Merchant when absent).
    pub fulfillment_channel: FulfillmentChannel,
    /// `sales-channel`, e.g. `Amazon.com`.
    pub sales_channel: Option<String>,
    /// `ship-service-level`, e.g. `Standard`.
    pub ship_service_level: Option<String>,
    /// `is-business-order`.
    pub is_business_order: bool,
    /// `currency` (first non-empty of the group).
    pub currency: Option<String>,
    /// One line per row.
    pub lines: Vec<OrderLine>,
    /// `ship-city`, `ship-state`, `ship-postal-code`, `ship-country` (no name, street or phone:
    /// the report does not carry them).
    pub ship_to: Address,
    /// Physical line number of the group's first row (header = line 1).
    pub first_line: u64,
}

/// A data row that could not be read; the rest of the report is still parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based physical line number in the file (the header is line 1).
    pub line: u64,
    /// The row's `amazon-order-id`, when it has one.
    pub amazon_order_id: Option<String>,
    /// What is wrong, naming the column; never the cell of a PII column.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.amazon_order_id {
            Some(id) => write!(f, "line {} (order {id}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl std::error::Error for RowError {}

/// The document as a whole cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ReportParseError {
    /// The header lacks required columns (permanent: the same bytes fail again).
    #[error("order report header lacks required columns: {}", columns.join(", "))]
    MissingColumns {
        /// The missing required column names.
        columns: Vec<String>,
    },
    /// No header row at all (permanent).
    #[error("order report is empty (no header row)")]
    Empty,
    /// Reading the text failed (retryable unless the source itself is corrupt, e.g. bad gzip;
    /// see [`io::ErrorKind::InvalidData`]).
    #[error("reading the order report failed: {0}")]
    Io(#[source] io::Error),
}

impl ReportParseError {
    /// Whether trying the same document again may succeed (only an IO failure that is not
    /// corrupt data).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::MissingColumns { .. } | Self::Empty => false,
            Self::Io(e) => e.kind() != io::ErrorKind::InvalidData,
        }
    }
}

/// What the iterator of [`OrderReportReader`] yields instead of an order.
#[derive(Debug, thiserror::Error)]
pub enum ReportRowError {
    /// One malformed row; iteration goes on (permanent for that row).
    #[error("{0}")]
    Row(RowError),
    /// Reading failed mid-document; iteration ends after this item and the order being
    /// grouped is dropped (retryable unless [`io::ErrorKind::InvalidData`]).
    #[error("reading the order report failed: {0}")]
    Io(#[source] io::Error),
}

impl ReportRowError {
    /// Whether trying the same document again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Row(_) => false,
            Self::Io(e) => e.kind() != io::ErrorKind::InvalidData,
        }
    }
}

/// Streaming reader of the All Orders report: `Iterator<Item = Result<ReportOrder, ReportRowError>>`.
///
/// Memory stays bounded by the largest order (plus fixed buffers), whatever the file size.
pub struct OrderReportReader<R> {
    csv: csv::Reader<R>,
    columns: Vec<String>,
    cols: Columns,
    record: csv::ByteRecord,
    group: Option<Group>,
    rows_read: u64,
    done: bool,
}

const REQUIRED: [&str; 4] = [
    "amazon-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
];

/// Every column the parser reads (required first).
const USED: [&str; 21] = [
    "amazon-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "merchant-order-id",
    "fulfillment-channel",
    "sales-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "is-business-order",
    "order-item-id",
];

/// Column positions, looked up once from the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    order_id: usize,
    purchase_date: usize,
    last_updated: usize,
    order_status: usize,
    merchant_order_id: Option<usize>,
    fulfillment_channel: Option<usize>,
    sales_channel: Option<usize>,
    ship_service_level: Option<usize>,
    product_name: Option<usize>,
    sku: Option<usize>,
    asin: Option<usize>,
    item_status: Option<usize>,
    quantity: Option<usize>,
    currency: Option<usize>,
    item_price: Option<usize>,
    ship_city: Option<usize>,
    ship_state: Option<usize>,
    ship_postal_code: Option<usize>,
    ship_country: Option<usize>,
    is_business_order: Option<usize>,
    order_item_id: Option<usize>,
}

/// The order being grouped, with the raw date cells of its first row so that later rows
/// with the same bytes skip date parsing.
struct Group {
    order: ReportOrder,
    purchase_raw: Vec<u8>,
    updated_raw: Vec<u8>,
}

fn normalize_header(name: &str) -> String {
    name.trim_start_matches('\u{feff}').trim().to_ascii_lowercase()
}

impl<R: Read> OrderReportReader<R> {
    /// Reads the header row. Fails with [`ReportParseError::Empty`] when there is none and
    /// [`ReportParseError::MissingColumns`] when a required column is absent.
    pub fn new(reader: R) -> Result<Self, ReportParseError> {
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .quoting(false)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_reader(reader);
        let mut record = csv::ByteRecord::new();
        let columns: Vec<String> = loop {
            match csv.read_byte_record(&mut record) {
                Ok(false) => return Err(ReportParseError::Empty),
                Ok(true) if is_blank(&record) => continue,
                Ok(true) => {
                    break record
                        .iter()
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                }
                Err(e) => return Err(ReportParseError::Io(csv_io_error(e))),
            }
        };
        let normalized: Vec<String> = columns.iter().map(|c| normalize_header(c)).collect();
        let find = |name: &str| normalized.iter().position(|c| c == name);
        let missing: Vec<String> = REQUIRED
            .iter()
            .filter(|name| find(name).is_none())
            .map(|name| (*name).to_owned())
            .collect();
        let (Some(order_id), Some(purchase_date), Some(last_updated), Some(order_status)) = (
            find("amazon-order-id"),
            find("purchase-date"),
            find("last-updated-date"),
            find("order-status"),
        ) else {
            return Err(ReportParseError::MissingColumns { columns: missing });
        };
        let cols = Columns {
            order_id,
            purchase_date,
            last_updated,
            order_status,
            merchant_order_id: find("merchant-order-id"),
            fulfillment_channel: find("fulfillment-channel"),
            sales_channel: find("sales-channel"),
            ship_service_level: find("ship-service-level"),
            product_name: find("product-name"),
            sku: find("sku"),
            asin: find("asin"),
            item_status: find("item-status"),
            quantity: find("quantity"),
            currency: find("currency"),
            item_price: find("item-price"),
            ship_city: find("ship-city"),
            ship_state: find("ship-state"),
            ship_postal_code: find("ship-postal-code"),
            ship_country: find("ship-country"),
            is_business_order: find("is-business-order"),
            order_item_id: find("order-item-id"),
        };
        Ok(Self {
            csv,
            columns,
            cols,
            record,
            group: None,
            rows_read: 0,
            done: false,
        })
    }

    /// The header as found in the file (untrimmed, original case; a BOM stays on the first).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Header names the parser does not use (trimmed, lower-cased), in file order: worth a
    /// log line when Amazon adds a column.
    pub fn unknown_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| normalize_header(c))
            .filter(|c| !USED.contains(&c.as_str()))
            .collect()
    }

    /// Data rows read so far (blank lines excluded, malformed rows included).
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// Reads one non-blank row into `self.record`; `Ok(false)` at the end.
    fn read_row(&mut self) -> Result<bool, io::Error> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => return Ok(false),
                Ok(true) if is_blank(&self.record) => continue,
                Ok(true) => {
                    self.rows_read += 1;
                    return Ok(true);
                }
                Err(e) => return Err(csv_io_error(e)),
            }
        }
    }

    /// Takes the row in `self.record` into the open group or a new one. Returns the finished
    /// previous group when the row starts a new one.
    fn take_row(&mut self) -> Result<Option<ReportOrder>, RowError> {
        let line = self.record.position().map_or(0, |p| p.line());
        let rec = &self.record;
        let c = &self.cols;
        let id = cell(rec, Some(c.order_id));
        let row_err = |reason: String| RowError {
            line,
            amazon_order_id: (!id.is_empty()).then(|| text(id)),
            reason,
        };
        if id.is_empty() {
            return Err(row_err("empty amazon-order-id".into()));
        }
        let status_raw = cell(rec, Some(c.order_status));
        if status_raw.is_empty() {
            return Err(row_err("empty order-status".into()));
        }
        let line_item = parse_line(rec, c).map_err(row_err)?;

        let purchase_raw = cell(rec, Some(c.purchase_date));
        let updated_raw = cell(rec, Some(c.last_updated));
        if let Some(group) = self
            .group
            .as_mut()
            .filter(|g| g.order.amazon_order_id.as_str().as_bytes() == id)
        {
            // Same order: validate the dates only when their bytes differ from the first row.
            if purchase_raw != group.purchase_raw.as_slice() {
                parse_datetime(purchase_raw)
                    .ok_or_else(|| row_err(bad_date("purchase-date", purchase_raw)))?;
            }
            if updated_raw != group.updated_raw.as_slice() {
                let updated = parse_datetime(updated_raw)
                    .ok_or_else(|| row_err(bad_date("last-updated-date", updated_raw)))?;
                if updated > group.order.last_updated {
                    group.order.last_updated = updated;
                    group.order.amazon_status = AmazonOrderStatus::parse(&text(status_raw));
                }
            }
            if group.order.currency.is_none() {
                group.order.currency = opt_text(cell(rec, c.currency));
            }
            group.order.lines.push(line_item);
            return Ok(None);
        }

        let purchase_date = parse_datetime(purchase_raw)
            .ok_or_else(|| row_err(bad_date("purchase-date", purchase_raw)))?;
        let last_updated = parse_datetime(updated_raw)
            .ok_or_else(|| row_err(bad_date("last-updated-date", updated_raw)))?;
        let channel_raw = cell(rec, c.fulfillment_channel);
        let fulfillment_channel = if channel_raw.is_empty() {
            FulfillmentChannel::Merchant
        } else {
            FulfillmentChannel::parse(&text(channel_raw)).ok_or_else(|| {
                row_err(format!(
                    "fulfillment-channel {:?} is neither Amazon nor Merchant",
                    text(channel_raw)
                ))
            })?
        };
        let business_raw = cell(rec, c.is_business_order);
        let is_business_order = parse_bool(business_raw).ok_or_else(|| {
            row_err(format!(
                "is-business-order {:?} is not true or false",
                text(business_raw)
            ))
        })?;
        let order = ReportOrder {
            amazon_order_id: AmazonOrderId::new(text(id)),
            merchant_order_id: opt_text(cell(rec, c.merchant_order_id)),
            purchase_date,
            last_updated,
            amazon_status: AmazonOrderStatus::parse(&text(status_raw)),
            fulfillment_channel,
            sales_channel: opt_text(cell(rec, c.sales_channel)),
            ship_service_level: opt_text(cell(rec, c.ship_service_level)),
            is_business_order,
            currency: opt_text(cell(rec, c.currency)),
            lines: vec![line_item],
            ship_to: Address {
                city: opt_text(cell(rec, c.ship_city)),
                state: opt_text(cell(rec, c.ship_state)),
                postal_code: opt_text(cell(rec, c.ship_postal_code)),
                country: opt_text(cell(rec, c.ship_country)),
                ..Address::default()
            },
            first_line: line,
        };
        let next = match self.group.take() {
            Some(mut g) => {
                let done = std::mem::replace(&mut g.order, order);
                g.purchase_raw.clear();
                g.purchase_raw.extend_from_slice(purchase_raw);
                g.updated_raw.clear();
                g.updated_raw.extend_from_slice(updated_raw);
                self.group = Some(g);
                Some(done)
            }
            None => {
                self.group = Some(Group {
                    order,
                    purchase_raw: purchase_raw.to_vec(),
                    updated_raw: updated_raw.to_vec(),
                });
                None
            }
        };
        Ok(next)
    }
}

impl<R: Read> Iterator for OrderReportReader<R> {
    type Item = Result<ReportOrder, ReportRowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.read_row() {
                Ok(true) => match self.take_row() {
                    Ok(None) => continue,
                    Ok(Some(order)) => return Some(Ok(order)),
                    Err(e) => return Some(Err(ReportRowError::Row(e))),
                },
                Ok(false) => {
                    self.done = true;
                    return self.group.take().map(|g| Ok(g.order));
                }
                Err(e) => {
                    self.done = true;
                    self.group = None;
                    return Some(Err(ReportRowError::Io(e)));
                }
            }
        }
    }
}

fn parse_line(rec: &csv::ByteRecord, c: &Columns) -> Result<OrderLine, String> {
    let quantity_raw = cell(rec, c.quantity);
    let quantity = if quantity_raw.is_empty() {
        0
    } else {
        parse_u32(quantity_raw)
            .ok_or_else(|| format!("quantity {:?} is not a whole number", text(quantity_raw)))?
    };
    let price_raw = cell(rec, c.item_price);
    let item_price = if price_raw.is_empty() {
        None
    } else {
        Some(
            parse_decimal(price_raw)
                .ok_or_else(|| format!("item-price {:?} is not a number", text(price_raw)))?,
        )
    };
    Ok(OrderLine {
        sku: opt_text(cell(rec, c.sku)),
        asin: opt_text(cell(rec, c.asin)),
        product_name: opt_text(cell(rec, c.product_name)),
        quantity,
        item_status: opt_text(cell(rec, c.item_status)),
        item_price,
        order_item_id: opt_text(cell(rec, c.order_item_id)),
    })
}

fn bad_date(column: &str, raw: &[u8]) -> String {
    if raw.is_empty() {
        format!("empty {column}")
    } else {
        format!("{column} {:?} is not an RFC 3339 date", text(raw))
    }
}

/// The cell at `index`, trimmed of spaces; empty when the column is absent or the row short.
fn cell(rec: &csv::ByteRecord, index: Option<usize>) -> &[u8] {
    index
        .and_then(|i| rec.get(i))
        .map_or(&[][..], <[u8]>::trim_ascii)
}

fn is_blank(rec: &csv::ByteRecord) -> bool {
    rec.iter().all(|c| c.trim_ascii().is_empty())
}

fn text(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(raw).into_owned(),
    }
}

fn opt_text(raw: &[u8]) -> Option<String> {
    (!raw.is_empty()).then(|| text(raw))
}

fn parse_bool(raw: &[u8]) -> Option<bool> {
    if raw.is_empty() || raw.eq_ignore_ascii_case(b"false") || raw == b"0" || raw.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else if raw.eq_ignore_ascii_case(b"true") || raw == b"1" || raw.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else {
        None
    }
}

fn parse_u32(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || raw.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in raw {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

fn parse_decimal(raw: &[u8]) -> Option<Decimal> {
    let s = std::str::from_utf8(raw).ok()?;
    if let Ok(d) = Decimal::from_str(s) {
        return Some(d);
    }
    // Some EU files write a decimal comma: accept exactly one comma and no dot.
    if !s.contains('.') && s.matches(',').count() == 1 {
        return Decimal::from_str(&s.replace(',', ".")).ok();
    }
    None
}

/// Parses Amazon's dates: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` on a fast path,
/// then anything RFC 3339 or ISO 8601 accepts. The result is in UTC.
pub(crate) fn parse_datetime(raw: &[u8]) -> Option<OffsetDateTime> {
    if let Some(t) = parse_datetime_fast(raw) {
        return Some(t);
    }
    let s = std::str::from_utf8(raw).ok()?;
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .ok()
        .map(|t| t.to_offset(UtcOffset::UTC))
}

fn digits(raw: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in raw {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n)
}

fn parse_datetime_fast(raw: &[u8]) -> Option<OffsetDateTime> {
    if raw.len() < 20
        || raw[4] != b'-'
        || raw[7] != b'-'
        || !matches!(raw[10], b'T' | b't')
        || raw[13] != b':'
        || raw[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(digits(&raw[0..4])?).ok()?;
    let month = Month::try_from(u8::try_from(digits(&raw[5..7])?).ok()?).ok()?;
    let day = u8::try_from(digits(&raw[8..10])?).ok()?;
    let hour = u8::try_from(digits(&raw[11..13])?).ok()?;
    let minute = u8::try_from(digits(&raw[14..16])?).ok()?;
    let second = u8::try_from(digits(&raw[17..19])?).ok()?;
    let mut rest = &raw[19..];
    let mut nanos = 0u32;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&tail[..n])? * 10u32.pow(9 - u32::try_from(n).ok()?);
        rest = &tail[n..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let h = i8::try_from(digits(&[*h1, *h2])?).ok()?;
            let m = i8::try_from(digits(&[*m1, *m2])?).ok()?;
            let (h, m) = if *sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
        _ => return None,
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .to_offset(UtcOffset::UTC),
    )
}

fn csv_io_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}
