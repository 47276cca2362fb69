//! Streaming parser of Amazon's `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL` report:
//! [`OrderReportReader`] (its docs hold the format rules) yielding [`ReportOrder`]s.

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

/// Streaming reader of the All Orders report
/// (`GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`): an `Iterator<Item = Result<ReportOrder, ReportRowError>>`. Memory stays bounded by the
/// largest order (plus fixed buffers), whatever the file size.
///
/// The report is tab-separated UTF-8 text with one header row and one row per order **item**
/// (an order spans several rows, joined on `amazon-order-id`). Columns are found by header
/// name, never by position: Amazon's documented list, the 33-column files with
/// `signature-confirmation-recommended`, MWS-era files with `url`, files with
/// `order-item-id`, `customized-*`, `buyer-identification-*`, `number-of-items` ... all parse.
/// Header names are compared trimmed and case-insensitively; a UTF-8 byte-order mark, CRLF
/// line ends, blank lines and rows with too few or too many cells are tolerated. Amazon does
/// not quote cells, so there is no quoting: a `"` is an ordinary character.
///
/// Lines are split by this module (one reused line buffer, `memchr` for `\n` and `\t`) rather
/// than by the `csv` crate: with quoting off a TSV line is just a line, and `csv`'s record
/// positions do not count blank lines or CRLF line ends as physical lines, while a
/// [`RowError`] must name the exact line. A line longer than 1 MiB is reported as a row error
/// and skipped, so one broken line cannot grow memory without bound.
///
/// Required columns: `amazon-order-id`, `purchase-date`, `last-updated-date`, `order-status`;
/// when one is missing the whole document is refused ([`ReportParseError::MissingColumns`]).
/// Every other column is optional; a missing optional column reads as an empty cell.
///
/// Cells: an empty cell is "no value". Dates are RFC 3339 / ISO 8601 as Amazon writes them
/// (`2026-11-20T08:15:02+00:00`, `...Z`, `...02.000Z`, other offsets) and are kept in UTC.
/// `quantity` is a `u32` (empty = 0: cancelled items carry 0 or nothing), `item-price` a
/// [`Decimal`] (never a float; a lone decimal comma `12,34` is accepted), `is-business-order`
/// `true`/`false` (empty = false), `fulfillment-channel` `Amazon`/`Merchant` (also `AFN`/`MFN`;
/// empty or absent = Merchant), statuses via [`AmazonOrderStatus::parse`].
///
/// A malformed row (bad date, number or channel, no order id, empty order status) becomes a
/// [`RowError`] with the file's 1-based physical line number (the header is line 1) and
/// parsing goes on. A wrong number of cells is not an error by itself.
///
/// Grouping and streaming: consecutive rows with the same `amazon-order-id` form one
/// [`ReportOrder`] (one [`OrderLine`] per row); memory holds one order at a time, never the
/// file. Order-level fields come from the group's first row; a later row of the group with a
/// newer `last-updated-date` brings its status and date. Amazon writes an order's rows
/// together, but if rows of one order are **not adjacent** the order simply comes out twice
/// (two `ReportOrder`s with the same id): the importer merges them
/// ([`decide_import`](crate::decide_import) unions lines of equal `last_updated`).
///
/// Ordering guarantee: a row error is yielded as soon as its row is read, so it always comes
/// **before** the `ReportOrder` of the group it belongs to (the group is still open). A caller
/// that wants to hold back orders with a broken row can remember the ids of the errors.
///
/// ```
/// use spsync_domain::{AmazonOrderStatus, OrderReportReader};
///
/// let tsv = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\tquantity\n\
///            111-1\t2026-11-20T08:15:02+00:00\t2026-11-20T09:00:00Z\tPending\tA\t1\n\
///            111-1\t2026-11-20T08:15:02+00:00\t2026-11-20T09:00:00Z\tPending\tB\t2\n";
/// let mut reader = OrderReportReader::new(tsv.as_bytes())?;
/// let order = reader.next().unwrap()?;
/// assert_eq!(order.amazon_order_id.as_str(), "111-1");
/// assert_eq!(order.amazon_status, AmazonOrderStatus::Pending);
/// assert_eq!(order.lines.len(), 2);
/// assert!(reader.next().is_none());
/// assert_eq!(reader.rows_read(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OrderReportReader<R> {
    lines: LineReader<R>,
    columns: Vec<String>,
    cols: Columns,
    group: Option<Group>,
    rows_read: u64,
    done: bool,
}

/// Longest line accepted; a longer one is a row error (bounded memory).
const MAX_LINE: usize = 1024 * 1024;
const READ_BUF: usize = 64 * 1024;

/// One physical line at a time, split into cells, through reused buffers.
struct LineReader<R> {
    inner: std::io::BufReader<R>,
    /// The current line without its `\r\n` / `\n`.
    line: Vec<u8>,
    /// End offset of each cell in `line`.
    ends: Vec<usize>,
    /// Physical number of the current line (1-based).
    number: u64,
}

/// What [`LineReader::read`] found.
enum Line {
    /// A line is in the buffer.
    Text,
    /// The line was longer than [`MAX_LINE`] and was skipped.
    TooLong,
    /// End of input.
    End,
}

impl<R: Read> LineReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner: std::io::BufReader::with_capacity(READ_BUF, inner),
            line: Vec::with_capacity(1024),
            ends: Vec::with_capacity(64),
            number: 0,
        }
    }

    fn read(&mut self) -> io::Result<Line> {
        use std::io::BufRead;
        self.line.clear();
        self.ends.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !any {
                    return Ok(Line::End);
                }
                break;
            }
            any = true;
            let (chunk, used, eol) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if !too_long {
                if self.line.len() + chunk.len() > MAX_LINE {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            self.inner.consume(used);
            if eol {
                break;
            }
        }
        self.number += 1;
        if too_long {
            return Ok(Line::TooLong);
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.number == 1 && self.line.starts_with(b"\xEF\xBB\xBF") {
            self.line.drain(..3);
        }
        self.ends.extend(memchr::memchr_iter(b'\t', &self.line));
        self.ends.push(self.line.len());
        Ok(Line::Text)
    }
}

impl<R> LineReader<R> {
    /// Cell `index` of the current line as written; `None` past the end of the row.
    fn raw_cell(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] + 1
        };
        Some(&self.line[start..end])
    }

    /// Cell `index` of the current line, trimmed; empty when the column is absent or the
    /// row is short.
    fn cell(&self, index: Option<usize>) -> &[u8] {
        index
            .and_then(|i| self.raw_cell(i))
            .map_or(&[][..], <[u8]>::trim_ascii)
    }

    fn is_blank(&self) -> bool {
        self.line.iter().all(u8::is_ascii_whitespace)
    }
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
    name.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
}

impl<R: Read> OrderReportReader<R> {
    /// Reads the header row. Fails with [`ReportParseError::Empty`] when there is none and
    /// [`ReportParseError::MissingColumns`] when a required column is absent.
    pub fn new(reader: R) -> Result<Self, ReportParseError> {
        let mut lines = LineReader::new(reader);
        let columns: Vec<String> = loop {
            match lines.read().map_err(ReportParseError::Io)? {
                Line::End => return Err(ReportParseError::Empty),
                Line::TooLong => {
                    return Err(ReportParseError::Io(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "header line longer than 1 MiB",
                    )));
                }
                Line::Text if lines.is_blank() => continue,
                Line::Text => {
                    break (0..lines.ends.len())
                        .filter_map(|i| lines.raw_cell(i))
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                }
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
            lines,
            columns,
            cols,
            group: None,
            rows_read: 0,
            done: false,
        })
    }

    /// The header as found in the file (untrimmed, original case, without a BOM).
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

    /// Reads the next non-blank line; `Ok(false)` at the end. A too-long line is a row error.
    fn read_row(&mut self) -> Result<bool, ReportRowError> {
        loop {
            match self.lines.read().map_err(ReportRowError::Io)? {
                Line::End => return Ok(false),
                Line::TooLong => {
                    self.rows_read += 1;
                    return Err(ReportRowError::Row(RowError {
                        line: self.lines.number,
                        amazon_order_id: None,
                        reason: "line longer than 1 MiB".into(),
                    }));
                }
                Line::Text if self.lines.is_blank() => continue,
                Line::Text => {
                    self.rows_read += 1;
                    return Ok(true);
                }
            }
        }
    }

    /// Takes the current line into the open group or a new one. Returns the finished
    /// previous group when the row starts a new one.
    fn take_row(&mut self) -> Result<Option<ReportOrder>, RowError> {
        let line = self.lines.number;
        let rec = &self.lines;
        let c = &self.cols;
        let id = rec.cell(Some(c.order_id));
        let row_err = |reason: String| RowError {
            line,
            amazon_order_id: (!id.is_empty()).then(|| text(id)),
            reason,
        };
        if id.is_empty() {
            return Err(row_err("empty amazon-order-id".into()));
        }
        let status_raw = rec.cell(Some(c.order_status));
        if status_raw.is_empty() {
            return Err(row_err("empty order-status".into()));
        }
        let line_item = parse_line(rec, c).map_err(row_err)?;

        let purchase_raw = rec.cell(Some(c.purchase_date));
        let updated_raw = rec.cell(Some(c.last_updated));
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
                group.order.currency = opt_text(rec.cell(c.currency));
            }
            group.order.lines.push(line_item);
            return Ok(None);
        }

        let purchase_date = parse_datetime(purchase_raw)
            .ok_or_else(|| row_err(bad_date("purchase-date", purchase_raw)))?;
        let last_updated = parse_datetime(updated_raw)
            .ok_or_else(|| row_err(bad_date("last-updated-date", updated_raw)))?;
        let channel_raw = rec.cell(c.fulfillment_channel);
        let fulfillment_channel = if channel_raw.is_empty() {
            FulfillmentChannel::Merchant
        } else {
            FulfillmentChannel::parse(&text(channel_raw)).ok_or_else(|| {
                row_err(format!(
                    "fulfillment-channel ({}) is neither Amazon nor Merchant",
                    shape(channel_raw)
                ))
            })?
        };
        let business_raw = rec.cell(c.is_business_order);
        let is_business_order = parse_bool(business_raw).ok_or_else(|| {
            row_err(format!(
                "is-business-order ({}) is not true or false",
                shape(business_raw)
            ))
        })?;
        let order = ReportOrder {
            amazon_order_id: AmazonOrderId::new(text(id)),
            merchant_order_id: opt_text(rec.cell(c.merchant_order_id)),
            purchase_date,
            last_updated,
            amazon_status: AmazonOrderStatus::parse(&text(status_raw)),
            fulfillment_channel,
            sales_channel: opt_text(rec.cell(c.sales_channel)),
            ship_service_level: opt_text(rec.cell(c.ship_service_level)),
            is_business_order,
            currency: opt_text(rec.cell(c.currency)),
            lines: vec![line_item],
            ship_to: Address {
                city: opt_text(rec.cell(c.ship_city)),
                state: opt_text(rec.cell(c.ship_state)),
                postal_code: opt_text(rec.cell(c.ship_postal_code)),
                country: opt_text(rec.cell(c.ship_country)),
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
                Err(e @ ReportRowError::Row(_)) => return Some(Err(e)),
                Err(e) => {
                    self.done = true;
                    self.group = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn parse_line<R>(rec: &LineReader<R>, c: &Columns) -> Result<OrderLine, String> {
    let quantity_raw = rec.cell(c.quantity);
    let quantity = if quantity_raw.is_empty() {
        0
    } else {
        parse_u32(quantity_raw)
            .ok_or_else(|| format!("quantity ({}) is not a whole number", shape(quantity_raw)))?
    };
    let price_raw = rec.cell(c.item_price);
    let item_price = if price_raw.is_empty() {
        None
    } else {
        Some(
            parse_decimal(price_raw)
                .ok_or_else(|| format!("item-price ({}) is not a number", shape(price_raw)))?,
        )
    };
    Ok(OrderLine {
        sku: opt_text(rec.cell(c.sku)),
        asin: opt_text(rec.cell(c.asin)),
        product_name: opt_text(rec.cell(c.product_name)),
        quantity,
        item_status: opt_text(rec.cell(c.item_status)),
        item_price,
        order_item_id: opt_text(rec.cell(c.order_item_id)),
    })
}

fn bad_date(column: &str, raw: &[u8]) -> String {
    if raw.is_empty() {
        format!("empty {column}")
    } else {
        format!("{column} ({}) is not an RFC 3339 date", shape(raw))
    }
}

/// What a bad cell looks like, without its content: a cell shifted by a stray tab may hold
/// an address or a tax id (`cpf`), and these messages go to logs and to the job record.
fn shape(raw: &[u8]) -> String {
    let text = text(raw);
    let chars = text.chars().count();
    let kind = if text.chars().all(|c| c.is_ascii_digit()) {
        "digits"
    } else if text.chars().all(char::is_alphabetic) {
        "letters"
    } else if text
        .chars()
        .all(|c| c.is_ascii_digit() || ".,-+:TZ ".contains(c))
    {
        "digits and punctuation"
    } else {
        "mixed"
    };
    format!("{chars} characters, {kind}")
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
    if raw.is_empty()
        || raw.eq_ignore_ascii_case(b"false")
        || raw == b"0"
        || raw.eq_ignore_ascii_case(b"no")
    {
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
        .ok()?
        .checked_to_offset(UtcOffset::UTC)
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
    PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const DOCUMENTED: &str = "amazon-order-id,merchant-order-id,purchase-date,last-updated-date,order-status,fulfillment-channel,sales-channel,order-channel,ship-service-level,product-name,sku,asin,item-status,quantity,currency,item-price,item-tax,shipping-price,shipping-tax,gift-wrap-price,gift-wrap-tax,item-promotion-discount,ship-promotion-discount,ship-city,ship-state,ship-postal-code,ship-country,promotion-ids,cpf,is-business-order,purchase-order-number,price-designation";

    /// Header variants seen for this report (names per spapi-facts §6, our own spelling).
    fn variants() -> Vec<(&'static str, Vec<String>)> {
        let documented: Vec<String> = DOCUMENTED.split(',').map(str::to_owned).collect();
        let mut observed = documented.clone();
        observed.push("signature-confirmation-recommended".into());
        let mut with_item_id = observed.clone();
        let at = with_item_id
            .iter()
            .position(|c| c == "order-status")
            .unwrap()
            + 1;
        with_item_id.insert(at, "order-item-id".into());
        let mut extended = documented.clone();
        let at = extended.iter().position(|c| c == "order-channel").unwrap() + 1;
        extended.insert(at, "url".into());
        for extra in [
            "customized-url",
            "customized-page",
            "signature-confirmation-recommended",
            "buyer-identification-number",
            "buyer-identification-type",
            "order-item-id",
        ] {
            extended.push(extra.into());
        }
        let mut legacy = documented.clone();
        legacy.retain(|c| c != "cpf");
        let at = legacy.iter().position(|c| c == "order-channel").unwrap() + 1;
        legacy.insert(at, "url".into());
        let mut npm = observed.clone();
        for extra in ["number-of-items", "tax-collection-model", "address-type"] {
            npm.insert(3, extra.into());
        }
        vec![
            ("documented", documented),
            ("observed-33col", observed),
            ("with-order-item-id", with_item_id),
            ("extended", extended),
            ("legacy-mws", legacy),
            ("npm-extra-columns", npm),
        ]
    }

    fn base_values(id: &str, sku: &str) -> Vec<(&'static str, String)> {
        vec![
            ("amazon-order-id", id.into()),
            ("merchant-order-id", "M-1".into()),
            ("purchase-date", "2026-11-20T08:15:02+00:00".into()),
            ("last-updated-date", "2026-11-20T09:00:00+00:00".into()),
            ("order-status", "Unshipped".into()),
            ("order-item-id", format!("OI-{sku}")),
            ("fulfillment-channel", "Merchant".into()),
            ("sales-channel", "Amazon.com".into()),
            ("ship-service-level", "Standard".into()),
            ("product-name", format!("Product {sku}")),
            ("sku", sku.into()),
            ("asin", format!("B0{sku}")),
            ("item-status", "Unshipped".into()),
            ("quantity", "2".into()),
            ("currency", "USD".into()),
            ("item-price", "19.98".into()),
            ("ship-city", "Seattle".into()),
            ("ship-state", "WA".into()),
            ("ship-postal-code", "98101".into()),
            ("ship-country", "US".into()),
            ("is-business-order", "false".into()),
            ("url", "http://example.invalid".into()),
            ("cpf", "".into()),
        ]
    }

    fn render(columns: &[String], rows: &[Vec<(&'static str, String)>]) -> String {
        let mut out = columns.join("\t");
        out.push('\n');
        for row in rows {
            let cells: Vec<&str> = columns
                .iter()
                .map(|c| {
                    row.iter()
                        .find(|(k, _)| *k == c.as_str())
                        .map_or("", |(_, v)| v.as_str())
                })
                .collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
        out
    }

    fn parse_all(text: &str) -> (Vec<ReportOrder>, Vec<RowError>) {
        let reader = OrderReportReader::new(text.as_bytes()).expect("header");
        let mut orders = Vec::new();
        let mut errors = Vec::new();
        for item in reader {
            match item {
                Ok(o) => orders.push(o),
                Err(ReportRowError::Row(e)) => errors.push(e),
                Err(ReportRowError::Io(e)) => panic!("io error {e}"),
            }
        }
        (orders, errors)
    }

    #[test]
    fn every_header_variant_parses_by_name() {
        for (name, columns) in variants() {
            let has_item_id = columns.iter().any(|c| c == "order-item-id");
            let text = render(
                &columns,
                &[
                    base_values("111-0000000-0000001", "A"),
                    base_values("111-0000000-0000001", "B"),
                ],
            );

            let (orders, errors) = parse_all(&text);

            assert!(errors.is_empty(), "{name}: {errors:?}");
            assert_eq!(orders.len(), 1, "{name}");
            let o = &orders[0];
            assert_eq!(o.amazon_order_id.as_str(), "111-0000000-0000001", "{name}");
            assert_eq!(o.merchant_order_id.as_deref(), Some("M-1"), "{name}");
            assert_eq!(
                o.purchase_date,
                datetime!(2026-11-20 08:15:02 UTC),
                "{name}"
            );
            assert_eq!(o.last_updated, datetime!(2026-11-20 09:00:00 UTC), "{name}");
            assert_eq!(o.amazon_status, AmazonOrderStatus::Unshipped, "{name}");
            assert_eq!(
                o.fulfillment_channel,
                FulfillmentChannel::Merchant,
                "{name}"
            );
            assert_eq!(o.sales_channel.as_deref(), Some("Amazon.com"), "{name}");
            assert_eq!(o.currency.as_deref(), Some("USD"), "{name}");
            assert_eq!(o.ship_to.city.as_deref(), Some("Seattle"), "{name}");
            assert_eq!(o.ship_to.country.as_deref(), Some("US"), "{name}");
            assert_eq!(o.first_line, 2, "{name}");
            let skus: Vec<_> = o.lines.iter().map(|l| l.sku.as_deref()).collect();
            assert_eq!(skus, [Some("A"), Some("B")], "{name}");
            assert_eq!(o.lines[0].quantity, 2, "{name}");
            assert_eq!(o.lines[0].item_price, Some(Decimal::new(1998, 2)), "{name}");
            assert_eq!(
                o.lines[1].order_item_id.as_deref(),
                has_item_id.then_some("OI-B"),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_columns_are_listed_and_ignored() {
        let (_, columns) = variants().remove(3);
        let header = render(&columns, &[]);
        let reader = OrderReportReader::new(header.as_bytes()).unwrap();

        let unknown = reader.unknown_columns();

        assert!(unknown.contains(&"url".to_owned()));
        assert!(unknown.contains(&"buyer-identification-type".to_owned()));
        assert!(!unknown.contains(&"order-item-id".to_owned()));
        assert!(!unknown.contains(&"amazon-order-id".to_owned()));
        assert_eq!(reader.columns().len(), columns.len());
    }

    #[test]
    fn shuffled_columns_with_odd_spacing_and_case_parse() {
        let columns: Vec<String> = [
            " SKU ",
            "Order-Status",
            "quantity",
            "last-updated-date ",
            "AMAZON-ORDER-ID",
            "purchase-date",
        ]
        .map(str::to_owned)
        .to_vec();
        let text = render(&columns, &[])
            + "A1\tShipped\t3\t2026-11-20T09:00:00Z\t111-1\t2026-11-20T08:00:00Z\n";

        let (orders, errors) = parse_all(&text);

        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].amazon_status, AmazonOrderStatus::Shipped);
        assert_eq!(orders[0].lines[0].sku.as_deref(), Some("A1"));
        assert_eq!(orders[0].lines[0].quantity, 3);
    }

    #[test]
    fn missing_optional_columns_read_as_empty() {
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\n";

        let (orders, errors) = parse_all(text);

        assert!(errors.is_empty());
        let o = &orders[0];
        assert_eq!(o.fulfillment_channel, FulfillmentChannel::Merchant);
        assert!(!o.is_business_order);
        assert_eq!(o.currency, None);
        assert_eq!(o.ship_to, Address::default());
        assert_eq!(o.lines.len(), 1);
        assert_eq!(o.lines[0].quantity, 0);
        assert_eq!(o.lines[0].sku, None);
        assert_eq!(o.lines[0].item_price, None);
    }

    #[test]
    fn missing_required_columns_refuse_the_document_naming_them() {
        let cases: [(&str, &[&str]); 3] = [
            (
                "amazon-order-id\tpurchase-date\tsku\n",
                &["last-updated-date", "order-status"],
            ),
            ("sku\tasin\n", &REQUIRED),
            (
                "amazon-order-id\tpurchase-date\tlast-updated-date\n",
                &["order-status"],
            ),
        ];
        for (text, expected) in cases {
            let err = OrderReportReader::new(text.as_bytes()).err().expect(text);
            match err {
                ReportParseError::MissingColumns { columns } => {
                    assert_eq!(columns, expected, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
            assert!(!ReportParseError::MissingColumns { columns: vec![] }.is_retryable());
        }
    }

    #[test]
    fn empty_and_blank_files_are_empty_documents() {
        for text in ["", "\n", "\r\n\r\n", "\u{feff}"] {
            let err = OrderReportReader::new(text.as_bytes()).err();
            assert!(
                matches!(err, Some(ReportParseError::Empty)),
                "{text:?}: {err:?}"
            );
        }
    }

    #[test]
    fn header_only_file_yields_nothing() {
        for text in [
            "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status",
            "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\r\n\r\n\n",
        ] {
            let (orders, errors) = parse_all(text);
            assert!(orders.is_empty() && errors.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn bom_crlf_and_trailing_blank_lines_are_tolerated() {
        let text = "\u{feff}amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\r\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tA\r\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tB\r\n\
                    \r\n\r\n";
        let mut reader = OrderReportReader::new(text.as_bytes()).unwrap();

        let order = reader.next().unwrap().unwrap();

        assert_eq!(order.amazon_order_id.as_str(), "111-1");
        assert_eq!(
            order.lines[1].sku.as_deref(),
            Some("B"),
            "no \\r kept in the last cell"
        );
        assert!(reader.next().is_none());
        assert_eq!(reader.rows_read(), 2);
        assert!(
            reader.unknown_columns().is_empty(),
            "BOM stripped from the first name"
        );
    }

    #[test]
    fn malformed_rows_report_their_physical_line_and_the_rest_parses() {
        // line 1 header; line 4 is blank; lines 3, 5, 7, 8, 9, 10 are broken.
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tquantity\titem-price\tfulfillment-channel\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t1\t1.00\tMerchant\n\
                    111-2\tyesterday\t2026-11-20T09:00:00Z\tPending\t1\t1.00\tMerchant\n\
                    \n\
                    \t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t1\t1.00\tMerchant\n\
                    111-3\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tShipped\t2\t3.50\tAmazon\n\
                    111-3\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tShipped\tmany\t3.50\tAmazon\n\
                    111-4\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t1\t1,2,3\tMerchant\n\
                    111-5\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t1\t1.00\tDrone\n\
                    111-6\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\t\t1\t1.00\tMerchant\n\
                    111-7\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t1\n";

        let (orders, errors) = parse_all(text);

        let lines: Vec<(u64, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.amazon_order_id.as_deref()))
            .collect();
        assert_eq!(
            lines,
            [
                (3, Some("111-2")),
                (5, None),
                (7, Some("111-3")),
                (8, Some("111-4")),
                (9, Some("111-5")),
                (10, Some("111-6")),
            ]
        );
        assert!(
            errors[0].reason.contains("purchase-date"),
            "{}",
            errors[0].reason
        );
        assert!(
            errors[2].reason.contains("quantity"),
            "{}",
            errors[2].reason
        );
        assert!(
            errors[3].reason.contains("item-price"),
            "{}",
            errors[3].reason
        );
        let ids: Vec<&str> = orders.iter().map(|o| o.amazon_order_id.as_str()).collect();
        assert_eq!(
            ids,
            ["111-1", "111-3", "111-7"],
            "short row 111-7 still parses"
        );
        assert_eq!(orders[1].lines.len(), 1);
        assert_eq!(orders[1].first_line, 6);
        assert_eq!(orders[2].first_line, 11);
    }

    #[test]
    fn line_numbers_count_crlf_lines() {
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\r\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\r\n\
                    \r\n\
                    111-2\tbad\t2026-11-20T09:00:00Z\tPending\r\n";

        let (orders, errors) = parse_all(text);

        assert_eq!(orders.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4);
    }

    #[test]
    fn row_errors_come_before_the_order_they_interrupt() {
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tquantity\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t1\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tx\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t2\n";
        let mut reader = OrderReportReader::new(text.as_bytes()).unwrap();

        let first = reader.next().unwrap();
        let second = reader.next().unwrap();

        assert!(matches!(
            first,
            Err(ReportRowError::Row(RowError { line: 3, .. }))
        ));
        assert_eq!(second.unwrap().lines.len(), 2);
        assert!(reader.next().is_none());
    }

    #[test]
    fn multi_item_orders_are_grouped_and_take_the_newest_status() {
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\tcurrency\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tUnshipped\tA\t\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T10:30:00.250Z\tPartiallyShipped\tB\tEUR\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:30:00Z\tUnshipped\tC\tEUR\n\
                    111-2\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tD\t\n";

        let (orders, _) = parse_all(text);

        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].lines.len(), 3);
        assert_eq!(orders[0].amazon_status, AmazonOrderStatus::PartiallyShipped);
        assert_eq!(
            orders[0].last_updated,
            datetime!(2026-11-20 10:30:00.25 UTC)
        );
        assert_eq!(orders[0].currency.as_deref(), Some("EUR"));
        assert_eq!(orders[1].lines.len(), 1);
        assert_eq!(orders[1].first_line, 5);
    }

    #[test]
    fn non_adjacent_rows_of_one_order_come_out_twice() {
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tA\n\
                    111-2\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tB\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tC\n";

        let (orders, _) = parse_all(text);

        let got: Vec<(&str, usize, u64)> = orders
            .iter()
            .map(|o| (o.amazon_order_id.as_str(), o.lines.len(), o.first_line))
            .collect();
        assert_eq!(got, [("111-1", 1, 2), ("111-2", 1, 3), ("111-1", 1, 4)]);
    }

    #[test]
    fn status_words_map_including_both_cancel_spellings() {
        let cases = [
            ("Pending", AmazonOrderStatus::Pending),
            ("PENDING", AmazonOrderStatus::Pending),
            ("Unshipped", AmazonOrderStatus::Unshipped),
            ("UNSHIPPED", AmazonOrderStatus::Unshipped),
            ("PartiallyShipped", AmazonOrderStatus::PartiallyShipped),
            ("PARTIALLY_SHIPPED", AmazonOrderStatus::PartiallyShipped),
            ("Shipped", AmazonOrderStatus::Shipped),
            ("SHIPPED", AmazonOrderStatus::Shipped),
            ("Shipped - Delivered to Buyer", AmazonOrderStatus::Shipped),
            ("Shipped - Returned to Seller", AmazonOrderStatus::Shipped),
            ("Cancelled", AmazonOrderStatus::Cancelled),
            ("Canceled", AmazonOrderStatus::Cancelled),
            ("CANCELLED", AmazonOrderStatus::Cancelled),
            (" Cancelled ", AmazonOrderStatus::Cancelled),
            ("Shipping", AmazonOrderStatus::Other("Shipping".into())),
            (
                "InvoiceUnconfirmed",
                AmazonOrderStatus::Other("InvoiceUnconfirmed".into()),
            ),
        ];
        for (word, expected) in cases {
            assert_eq!(AmazonOrderStatus::parse(word), expected, "{word}");
        }
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tCanceled\n\
                    111-2\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tCancelled\n";
        let (orders, _) = parse_all(text);
        assert!(
            orders
                .iter()
                .all(|o| o.amazon_status == AmazonOrderStatus::Cancelled)
        );
    }

    #[test]
    fn cell_values_parse_as_typed() {
        type Typed = (FulfillmentChannel, bool, u32, Option<Decimal>);
        let cases: [(&str, &str, &str, Option<Typed>); 9] = [
            (
                "Amazon",
                "true",
                "3",
                Some((FulfillmentChannel::Amazon, true, 3, None)),
            ),
            (
                "AFN",
                "TRUE",
                "0",
                Some((FulfillmentChannel::Amazon, true, 0, None)),
            ),
            (
                "MFN",
                "False",
                "",
                Some((FulfillmentChannel::Merchant, false, 0, None)),
            ),
            (
                "",
                "",
                "1",
                Some((FulfillmentChannel::Merchant, false, 1, None)),
            ),
            (
                "Merchant",
                "false",
                "1",
                Some((FulfillmentChannel::Merchant, false, 1, None)),
            ),
            ("Merchant", "maybe", "1", None),
            ("Merchant", "false", "-1", None),
            ("Merchant", "false", "1.5", None),
            ("Merchant", "false", "99999999999", None),
        ];
        for (channel, business, qty, expected) in cases {
            let text = format!(
                "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tis-business-order\tquantity\n\
                 111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t{channel}\t{business}\t{qty}\n"
            );
            let (orders, errors) = parse_all(&text);
            let got = orders.first().map(|o| {
                (
                    o.fulfillment_channel,
                    o.is_business_order,
                    o.lines[0].quantity,
                    o.lines[0].item_price,
                )
            });
            assert_eq!(got, expected, "{channel}/{business}/{qty}");
            assert_eq!(errors.len(), usize::from(expected.is_none()));
        }
    }

    #[test]
    fn prices_are_decimals_never_floats() {
        let cases = [
            ("0.10", Some(Decimal::new(10, 2))),
            ("1234.5", Some(Decimal::new(12345, 1))),
            ("12,34", Some(Decimal::new(1234, 2))),
            ("1500", Some(Decimal::new(1500, 0))),
            ("-2.00", Some(Decimal::new(-200, 2))),
            ("", None),
        ];
        for (raw, expected) in cases {
            let text = format!(
                "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\titem-price\n\
                 111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t{raw}\n"
            );
            let (orders, errors) = parse_all(&text);
            assert!(errors.is_empty(), "{raw}");
            assert_eq!(orders[0].lines[0].item_price, expected, "{raw}");
        }
    }

    #[test]
    fn dates_in_amazons_spellings_become_utc() {
        let cases = [
            (
                "2026-11-20T08:15:02+00:00",
                Some(datetime!(2026-11-20 08:15:02 UTC)),
            ),
            (
                "2026-11-20T08:15:02Z",
                Some(datetime!(2026-11-20 08:15:02 UTC)),
            ),
            (
                "2026-11-20T08:15:02.000Z",
                Some(datetime!(2026-11-20 08:15:02 UTC)),
            ),
            (
                "2026-11-20T08:15:02.5Z",
                Some(datetime!(2026-11-20 08:15:02.5 UTC)),
            ),
            (
                "2026-11-20T00:15:02-08:00",
                Some(datetime!(2026-11-20 08:15:02 UTC)),
            ),
            (
                "2026-11-20T17:15:02+0900",
                Some(datetime!(2026-11-20 08:15:02 UTC)),
            ),
            ("2026-11-20T08:15:02", None),
            ("2026-02-30T08:15:02Z", None),
            ("2026-11-20T25:15:02Z", None),
            ("20/11/2026", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let got = parse_datetime(raw.as_bytes());
            assert_eq!(got, expected, "{raw}");
            if let Some(t) = got {
                assert_eq!(t.offset(), UtcOffset::UTC, "{raw}");
            }
        }
    }

    #[test]
    fn io_failure_mid_file_ends_iteration_with_an_io_error() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\n";
        let mut reader = OrderReportReader::new(Failing(text.as_bytes())).unwrap();

        let item = reader.next().unwrap();

        match item {
            Err(e @ ReportRowError::Io(_)) => assert!(e.is_retryable()),
            other => panic!("{other:?}"),
        }
        assert!(reader.next().is_none());
    }

    /// Hands out one byte per read, so every `\r\n` and tab straddles a buffer refill.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            if buf.is_empty() {
                return Ok(0);
            }
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn one_byte_reads_parse_like_whole_reads() {
        let text = "\u{feff}amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsku\r\n\
                    111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tA\r\n\
                    111-1\tbad\t2026-11-20T09:00:00Z\tPending\tB\r\n\
                    111-2\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\tC";
        let collect = |reader: OrderReportReader<_>| -> Vec<String> {
            reader.map(|item| format!("{item:?}")).collect()
        };

        let whole = collect(OrderReportReader::new(text.as_bytes()).unwrap());
        let trickled: Vec<String> = OrderReportReader::new(OneByte(text.as_bytes()))
            .unwrap()
            .map(|item| format!("{item:?}"))
            .collect();

        assert_eq!(whole.len(), 3);
        assert_eq!(whole, trickled);
    }

    #[test]
    fn an_overlong_line_is_a_row_error_and_memory_stays_bounded() {
        let mut text =
            String::from("amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\n");
        text.push_str("111-1\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\t");
        text.push_str(&"x".repeat(MAX_LINE + 10));
        text.push('\n');
        text.push_str("111-2\t2026-11-20T08:00:00Z\t2026-11-20T09:00:00Z\tPending\n");
        let mut reader = OrderReportReader::new(text.as_bytes()).unwrap();

        let first = reader.next().unwrap();
        let second = reader.next().unwrap().unwrap();

        match first {
            Err(ReportRowError::Row(e)) => {
                assert_eq!(e.line, 2);
                assert!(e.reason.contains("longer"), "{}", e.reason);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(second.amazon_order_id.as_str(), "111-2");
        assert_eq!(second.first_line, 3);
        assert!(reader.lines.line.capacity() <= 2 * MAX_LINE + READ_BUF);
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Golden {
        columns: Vec<String>,
        unknown_columns: Vec<String>,
        rows_read: u64,
        orders: Vec<ReportOrder>,
        row_errors: Vec<RowError>,
    }

    #[test]
    fn golden_sample_report_parses_as_expected() {
        let tsv = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/reports/orders.sample.tsv"
        );
        let expected_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/reports/orders.sample.expected.json"
        );
        let file = std::fs::File::open(tsv).expect("fixture");
        let mut reader = OrderReportReader::new(file).expect("header");
        let mut orders = Vec::new();
        let mut row_errors = Vec::new();
        for item in reader.by_ref() {
            match item {
                Ok(o) => orders.push(o),
                Err(ReportRowError::Row(e)) => row_errors.push(e),
                Err(ReportRowError::Io(e)) => panic!("{e}"),
            }
        }
        let got = Golden {
            columns: reader.columns().to_vec(),
            unknown_columns: reader.unknown_columns(),
            rows_read: reader.rows_read(),
            orders,
            row_errors,
        };

        if std::env::var_os("SPSYNC_BLESS").is_some_and(|v| v == "1") {
            let json = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(expected_path, json).unwrap();
            return;
        }
        let expected: Golden = serde_json::from_str(
            &std::fs::read_to_string(expected_path)
                .expect("expected file missing: run with SPSYNC_BLESS=1 to write it"),
        )
        .unwrap();
        assert_eq!(
            got, expected,
            "rerun with SPSYNC_BLESS=1 if the change is intended"
        );
    }
}
