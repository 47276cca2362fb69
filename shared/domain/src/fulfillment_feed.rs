//! POST_FLAT_FILE_FULFILLMENT_DATA (issue 4, "Tracking out"): the shipping-confirmation flat
//! file spsync sends, and the flat processing report Amazon answers with, applied line by line.
//!
//! Pure: [`render_feed`] turns [`FeedLine`]s (from [`lines_from_shipment`]) into the file's
//! text and remembers which shipment each record number stands for ([`RecordRef`]);
//! [`parse_processing_report`] reads Amazon's answer into a [`ProcessingReport`];
//! [`apply_report`] says, per line, whether Amazon accepted it ([`LineOutcome`]), and
//! [`report_discrepancies`] lists what in the report does not fit the feed that was sent.
//! Storing, uploading and polling are the workflow's.
//!
//! **The file** (spapi-facts §8, Seller Central help G641): UTF-8, tab-separated, one header
//! row in the template's column order ([`FEED_HEADER`]), one row per order item in a package,
//! LF line ends, no BOM, no quoting (a value may hold no tab or line break, so none is
//! needed). Content type [`FEED_CONTENT_TYPE`], the value of the model's sandbox vector.
//! `carrier-name` is filled only with the `Other` code (Amazon reads it only then); with a
//! listed code it stays empty, as in the facts' sample. `ship-date` is an RFC 3339 UTC
//! date-time to the second: G641 documents `yyyy-mm-dd`, ISO 8601 date-times are what
//! integrators send [C], and a date alone loses the time the closed loop measures from.
//!
//! **Record numbers.** The report names a line by `original-record-number`: data rows counted
//! from 1, the header not counted (the facts' sample: record 2 is the second data row; the
//! simulator numbers the non-blank data rows after the header the same way). The file has no
//! blank rows, so the n-th [`FeedLine`] is record n.
//!
//! **The report** (spapi-facts §8): a summary block (`Number of records processed`,
//! `Number of records successful`), a blank line, then one row per problem under the header
//! `original-record-number, order-id, order-item-id, error-code, error-type, error-message`.
//! A line may have several rows; `error-type` is `Error` (the line was not applied) or
//! `Warning` (applied, with a remark), localized in some marketplaces (`Fehler`). Rows
//! without a record number (or record 0) are about the whole file. The feed is not atomic:
//! every line without an Error row was applied.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::{OffsetDateTime, UtcOffset};

use crate::carriers::OTHER_CARRIER_CODE;
use crate::orders::AmazonOrderId;
use crate::shipments::CheckedShipment;

/// The feed type of shipping confirmations.
pub const FULFILLMENT_FEED_TYPE: &str = "POST_FLAT_FILE_FULFILLMENT_DATA";

/// `Content-Type` of the feed document (createFeedDocument's `contentType` and the upload's
/// header, which must be equal: the presigned URL is signed over it).
pub const FEED_CONTENT_TYPE: &str = "text/tab-separated-values; charset=UTF-8";

/// The feed's header row, in the template's column order (spapi-facts §8), without its line
/// end.
pub const FEED_HEADER: &str = "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\t\
                               carrier-name\ttracking-number\tship-method";

/// One line of a fulfilment feed: units of one order item in one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedLine {
    /// spsync's id of the shipment the line comes from; not sent, kept to map Amazon's answer
    /// back.
    pub shipment_ref: String,
    /// `order-id`.
    pub amazon_order_id: AmazonOrderId,
    /// `order-item-id`. Never empty: Amazon reads an empty one as "the whole order".
    pub order_item_id: String,
    /// `quantity`, above 0.
    pub quantity: u32,
    /// `ship-date`, sent in UTC to the second.
    #[serde(with = "time::serde::rfc3339")]
    pub ship_date: OffsetDateTime,
    /// `carrier-code`: Amazon's code, or `Other`.
    pub carrier_code: String,
    /// The carrier's name; sent as `carrier-name` only when the code is `Other`.
    pub carrier_name: String,
    /// `tracking-number`, normalised; `None` ships without one.
    pub tracking_number: Option<String>,
    /// `ship-method`, the carrier's service; `None` leaves it empty.
    pub ship_method: Option<String>,
}

/// Which shipment and order item a record number of the feed stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// The report's `original-record-number`: the line's place among the data rows, from 1.
    pub record_number: u32,
    /// spsync's id of the shipment.
    pub shipment_ref: String,
    /// The line's `order-id`.
    pub amazon_order_id: AmazonOrderId,
    /// The line's `order-item-id`.
    pub order_item_id: String,
}

/// A rendered feed: the document to upload and what each of its records stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedFeed {
    /// The document, UTF-8 (upload its bytes with [`FEED_CONTENT_TYPE`]).
    pub text: String,
    /// One entry per data row, in file order, record numbers from 1.
    pub records: Vec<RecordRef>,
}

/// What is wrong with a value [`render_feed`] refuses to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
pub enum FeedValueProblem {
    /// A tab, line feed or carriage return: it would split the row or the line.
    #[error("it holds U+{:04X}, which would break the tab-separated row", u32::from(*.0))]
    BreaksRow(char),
    /// Empty where Amazon needs a value (an empty `order-item-id` would confirm the whole
    /// order, an `Other` carrier without a name is refused).
    #[error("it is empty")]
    Empty,
    /// A quantity of 0.
    #[error("it is 0")]
    Zero,
    /// `NULL` as tracking number: Amazon reads it as "clear the uploaded tracking number".
    #[error("NULL would clear the tracking number already uploaded")]
    Null,
}

/// Why [`render_feed`] wrote nothing. The lines were checked before (`check_shipment`), so
/// this is a guard against a line built some other way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
pub enum FeedRenderError {
    /// A value cannot be written as it is.
    #[error("feed record {record_number} (shipment {shipment_ref}), {column}: {problem}")]
    Value {
        /// The line's record number (its place among the lines, from 1).
        record_number: u32,
        /// The line's shipment.
        shipment_ref: String,
        /// The feed column (`order-id`, `tracking-number`, ...).
        column: &'static str,
        /// What is wrong.
        problem: FeedValueProblem,
    },
    /// More lines than record numbers (far beyond the 10 MiB a feed file should stay under).
    #[error("{count} lines do not fit in one feed")]
    TooManyLines {
        /// How many lines were given.
        count: usize,
    },
}

/// The feed lines of a checked shipment: one per order item, in the shipment's item order.
///
/// ```
/// # use spsync_domain::{AmazonOrderId, CheckedShipment, ShipmentItem, lines_from_shipment};
/// # let shipment = CheckedShipment {
/// #     amazon_order_id: AmazonOrderId::new("111-1234567-1234567"),
/// #     carrier_code: "UPS".into(),
/// #     carrier_name: "UPS".into(),
/// #     tracking_number: Some("1Z999AA10123456784".into()),
/// #     ship_date: time::macros::datetime!(2026-06-02 11:30 UTC),
/// #     ship_method: Some("UPS Ground".into()),
/// #     items: vec![
/// #         ShipmentItem { order_item_id: "12345678901234".into(), quantity: 2 },
/// #         ShipmentItem { order_item_id: "23456789012345".into(), quantity: 1 },
/// #     ],
/// #     hurts_vtr: false,
/// # };
/// let lines = lines_from_shipment("shp-1", &shipment); // two items in the package
/// assert_eq!(lines.len(), 2);
/// assert_eq!((lines[1].order_item_id.as_str(), lines[1].quantity), ("23456789012345", 1));
/// assert!(lines.iter().all(|l| l.shipment_ref == "shp-1"));
/// ```
pub fn lines_from_shipment(shipment_ref: &str, s: &CheckedShipment) -> Vec<FeedLine> {
    s.items
        .iter()
        .map(|item| FeedLine {
            shipment_ref: shipment_ref.to_owned(),
            amazon_order_id: s.amazon_order_id.clone(),
            order_item_id: item.order_item_id.clone(),
            quantity: item.quantity,
            ship_date: s.ship_date,
            carrier_code: s.carrier_code.clone(),
            carrier_name: s.carrier_name.clone(),
            tracking_number: s.tracking_number.clone(),
            ship_method: s.ship_method.clone(),
        })
        .collect()
}

/// `2026-06-02T11:30:00Z`: UTC, whole seconds. Written from the parts so it cannot fail.
fn ship_date_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Renders the feed document for `lines`, in their order, and the record number of each.
///
/// Refuses, naming the record and the column, a value that holds a tab or a line break, an
/// empty `order-id`, `order-item-id` or `carrier-code`, an `Other` carrier without a name, a
/// quantity of 0, and the tracking number `NULL` (see [`FeedValueProblem`]). No lines gives a
/// header-only document; not worth a createFeed.
///
/// ```
/// use spsync_domain::{AmazonOrderId, FeedLine, render_feed};
///
/// let line = FeedLine {
///     shipment_ref: "shp-1".into(),
///     amazon_order_id: AmazonOrderId::new("111-1234567-1234567"),
///     order_item_id: "12345678901234".into(),
///     quantity: 1,
///     ship_date: time::macros::datetime!(2026-06-02 13:30:15.25 +02:00),
///     carrier_code: "Other".into(),
///     carrier_name: "Speedy Couriers".into(),
///     tracking_number: Some("SP0042".into()),
///     ship_method: None,
/// };
/// let feed = render_feed(&[line]).unwrap();
/// assert_eq!(
///     feed.text.lines().nth(1),
///     Some("111-1234567-1234567\t12345678901234\t1\t2026-06-02T11:30:15Z\tOther\tSpeedy Couriers\tSP0042\t")
/// );
/// assert_eq!(feed.records[0].record_number, 1);
/// ```
pub fn render_feed(lines: &[FeedLine]) -> Result<RenderedFeed, FeedRenderError> {
    let mut text = String::with_capacity(FEED_HEADER.len() + 1 + lines.len() * 120);
    text.push_str(FEED_HEADER);
    text.push('\n');
    let mut records = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let record_number = u32::try_from(index + 1)
            .map_err(|_| FeedRenderError::TooManyLines { count: lines.len() })?;
        let fail = |column: &'static str, problem: FeedValueProblem| FeedRenderError::Value {
            record_number,
            shipment_ref: line.shipment_ref.clone(),
            column,
            problem,
        };
        let is_other = line.carrier_code.eq_ignore_ascii_case(OTHER_CARRIER_CODE);
        let quantity = line.quantity.to_string();
        let ship_date = ship_date_text(line.ship_date);
        let cells: [(&'static str, &str, bool); 8] = [
            ("order-id", line.amazon_order_id.as_str(), true),
            ("order-item-id", &line.order_item_id, true),
            ("quantity", &quantity, true),
            ("ship-date", &ship_date, true),
            ("carrier-code", &line.carrier_code, true),
            (
                "carrier-name",
                if is_other { &line.carrier_name } else { "" },
                is_other,
            ),
            (
                "tracking-number",
                line.tracking_number.as_deref().unwrap_or(""),
                false,
            ),
            (
                "ship-method",
                line.ship_method.as_deref().unwrap_or(""),
                false,
            ),
        ];
        if line.quantity == 0 {
            return Err(fail("quantity", FeedValueProblem::Zero));
        }
        if line
            .tracking_number
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("NULL"))
        {
            return Err(fail("tracking-number", FeedValueProblem::Null));
        }
        for (i, (column, value, required)) in cells.iter().enumerate() {
            if let Some(ch) = value.chars().find(|c| matches!(c, '\t' | '\n' | '\r')) {
                return Err(fail(column, FeedValueProblem::BreaksRow(ch)));
            }
            if *required && value.trim().is_empty() {
                return Err(fail(column, FeedValueProblem::Empty));
            }
            if i > 0 {
                text.push('\t');
            }
            text.push_str(value);
        }
        text.push('\n');
        records.push(RecordRef {
            record_number,
            shipment_ref: line.shipment_ref.clone(),
            amazon_order_id: line.amazon_order_id.clone(),
            order_item_id: line.order_item_id.clone(),
        });
    }
    Ok(RenderedFeed { text, records })
}

/// The report's `error-type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The line was not applied (`Error`; German `Fehler`).
    Error,
    /// The line was applied, with a remark (`Warning`).
    Warning,
    /// A word we do not know (another localization?), as written. [`apply_report`] treats it
    /// as an Error: a row we cannot read is no proof that the line went through.
    Other(String),
}

impl ErrorKind {
    /// Reads an `error-type` cell (trimmed, case ignored). Only the spellings the facts name
    /// are known; anything else is [`ErrorKind::Other`].
    pub fn parse(cell: &str) -> Self {
        let cell = cell.trim();
        if cell.eq_ignore_ascii_case("error") || cell.eq_ignore_ascii_case("fehler") {
            Self::Error
        } else if cell.eq_ignore_ascii_case("warning") {
            Self::Warning
        } else {
            Self::Other(cell.to_owned())
        }
    }

    /// Whether the row means the line was not applied (an Error, or a kind we do not know).
    pub fn rejects(&self) -> bool {
        !matches!(self, Self::Warning)
    }
}

/// One problem row of the processing report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    /// `original-record-number`; 0 for a row about the whole file (0, empty or unreadable in
    /// the report).
    pub record_number: u32,
    /// `order-id`, when the row gives one.
    pub amazon_order_id: Option<String>,
    /// `order-item-id`, when the row gives one.
    pub order_item_id: Option<String>,
    /// `error-code`, as written.
    pub code: String,
    /// `error-type`.
    pub kind: ErrorKind,
    /// `error-message`.
    pub message: String,
}

/// Amazon's processing report of a fulfilment feed, as read by [`parse_processing_report`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingReport {
    /// `Number of records processed`, when the summary gives it.
    pub processed: Option<u32>,
    /// `Number of records successful`, when the summary gives it.
    pub successful: Option<u32>,
    /// Rows about one record (record number 1 or more), in report order.
    pub errors: Vec<RecordResult>,
    /// Rows about the whole file (record number 0 or missing), in report order. They reject
    /// no line by themselves.
    pub feed_errors: Vec<RecordResult>,
    /// What in the report did not add up or could not be read (summary missing, counts that
    /// disagree with the rows, unknown error types, unreadable record numbers). The rows are
    /// trusted over the summary.
    pub warnings: Vec<String>,
}

impl ProcessingReport {
    /// Whether the report says nothing was applied at all: the summary counts 0 records
    /// processed and a file-level row is an Error (the simulator answers so to a file it
    /// cannot read, with the feed DONE). [`apply_report`] still accepts every line without
    /// an Error row, so check this first.
    pub fn nothing_processed(&self) -> bool {
        self.processed == Some(0) && self.feed_errors.iter().any(|r| r.kind.rejects())
    }
}

/// Why a text cannot be read as a fulfilment feed processing report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProcessingReportError {
    /// Nothing but whitespace.
    #[error("the processing report is empty")]
    Empty,
    /// Neither the summary nor the header row of the problem table was found.
    #[error(
        "not a flat-file processing report: no 'Number of records processed' summary and no \
         header row naming original-record-number and error-code"
    )]
    NotAReport,
    /// The problem table's header row lacks columns the rows cannot be read without.
    #[error("the processing report's header row has no column {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
}

/// Columns of the problem table, by their names in the header row.
struct Columns {
    record: usize,
    order_id: Option<usize>,
    order_item_id: Option<usize>,
    code: usize,
    kind: usize,
    message: usize,
    /// The message is the last column: cells beyond the header are taken to be the message's
    /// own tabs.
    message_last: bool,
}

const RECORD_COLUMN: &str = "original-record-number";
const CODE_COLUMN: &str = "error-code";
const TYPE_COLUMN: &str = "error-type";
const MESSAGE_COLUMN: &str = "error-message";

/// Header cell as compared: trimmed, lower case, `_` and spaces read as `-`.
fn column_key(cell: &str) -> String {
    cell.trim().to_ascii_lowercase().replace(['_', ' '], "-")
}

fn is_header(cells: &[&str]) -> bool {
    let keys: Vec<String> = cells.iter().map(|c| column_key(c)).collect();
    keys.iter().any(|k| k == RECORD_COLUMN) && keys.iter().any(|k| k == CODE_COLUMN)
}

impl Columns {
    fn find(cells: &[&str]) -> Result<Self, ProcessingReportError> {
        let keys: Vec<String> = cells.iter().map(|c| column_key(c)).collect();
        let at = |name: &str| keys.iter().position(|k| k == name);
        let mut missing = Vec::new();
        let mut need = |name: &'static str| {
            let found = at(name);
            if found.is_none() {
                missing.push(name);
            }
            found.unwrap_or(0)
        };
        let record = need(RECORD_COLUMN);
        let code = need(CODE_COLUMN);
        let kind = need(TYPE_COLUMN);
        let message = need(MESSAGE_COLUMN);
        if !missing.is_empty() {
            return Err(ProcessingReportError::MissingColumns(missing));
        }
        Ok(Self {
            record,
            order_id: at("order-id"),
            order_item_id: at("order-item-id"),
            code,
            kind,
            message,
            message_last: message + 1 == keys.len(),
        })
    }
}

/// Which summary count a line gives, if any.
enum SummaryCount {
    Processed,
    Successful,
}

fn summary_count(line: &str) -> Option<SummaryCount> {
    let lower = line.to_ascii_lowercase();
    if lower.contains("records processed") {
        Some(SummaryCount::Processed)
    } else if lower.contains("records successful") {
        Some(SummaryCount::Successful)
    } else {
        None
    }
}

/// The number at the end of a summary line, after tabs, spaces or a colon (`1,234` read as
/// 1234).
fn summary_value(line: &str) -> Option<u32> {
    line.split(|c: char| c.is_whitespace() || c == ':')
        .rfind(|t| !t.is_empty())?
        .replace(',', "")
        .parse()
        .ok()
}

fn cell<'a>(cells: &[&'a str], at: usize) -> &'a str {
    cells.get(at).map_or("", |c| c.trim())
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// Reads a fulfilment feed processing report.
///
/// Tolerant of what such files are seen to vary in: a byte-order mark, CRLF line ends,
/// summary lines with tabs, spaces or a colon before the number, no summary at all (a
/// warning), blank lines, columns of the problem table in any order and extra ones (found by
/// header name; `_` or `-`, any case), rows shorter than the header, and tabs inside the
/// message when it is the last column. Required: the summary or the table's header, and in
/// that header `original-record-number`, `error-code`, `error-type` and `error-message`.
///
/// Lines before the header other than the summary's are not read (a warning each: a problem
/// table under a header we do not recognise would otherwise go unnoticed).
///
/// A row whose record number is empty, 0 or unreadable is a file-level row
/// ([`ProcessingReport::feed_errors`]; unreadable ones also get a warning). When the summary's
/// counts disagree with the rows (processed − successful ≠ records with an Error row, or a
/// record number above the processed count), the rows are trusted and the disagreement is a
/// warning.
///
/// ```
/// use spsync_domain::{ErrorKind, parse_processing_report};
///
/// let text = "Feed Processing Summary:\n\
///             \tNumber of records processed\t\t3\n\
///             \tNumber of records successful\t\t2\n\
///             \n\
///             original-record-number\torder-id\torder-item-id\terror-code\terror-type\terror-message\n\
///             2\t111-1234567-1234567\t12345678901234\t10022\tError\tQuantity above what is left.\n";
/// let report = parse_processing_report(text).unwrap();
/// assert_eq!((report.processed, report.successful), (Some(3), Some(2)));
/// assert_eq!(report.errors[0].record_number, 2);
/// assert_eq!(report.errors[0].kind, ErrorKind::Error);
/// assert!(report.warnings.is_empty());
/// ```
pub fn parse_processing_report(text: &str) -> Result<ProcessingReport, ProcessingReportError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(ProcessingReportError::Empty);
    }
    let mut report = ProcessingReport {
        processed: None,
        successful: None,
        errors: Vec::new(),
        feed_errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut summary_seen = false;
    let mut columns: Option<Columns> = None;
    let mut file_line = 0usize;
    for raw in text.split('\n') {
        file_line += 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(cols) = &columns else {
            if is_header(&cells) {
                columns = Some(Columns::find(&cells)?);
            } else if let Some(which) = summary_count(line) {
                summary_seen = true;
                let value = summary_value(line);
                if value.is_none() {
                    report.warnings.push(format!(
                        "line {file_line}: the summary line has no readable count"
                    ));
                }
                match which {
                    SummaryCount::Processed => report.processed = value,
                    SummaryCount::Successful => report.successful = value,
                }
            } else if !line.to_ascii_lowercase().contains("summary") {
                report.warnings.push(format!(
                    "line {file_line} is neither a summary line nor the header of the problem \
                     table; it was not read"
                ));
            }
            continue;
        };
        let record_cell = cell(&cells, cols.record);
        let record_number = if record_cell.is_empty() {
            0
        } else {
            record_cell.parse::<u32>().unwrap_or_else(|_| {
                report.warnings.push(format!(
                    "line {file_line}: the original-record-number is not a number; the row is \
                     taken to be about the whole file"
                ));
                0
            })
        };
        let message = if cols.message_last {
            cells
                .get(cols.message..)
                .map_or(String::new(), |rest| rest.join("\t").trim().to_owned())
        } else {
            cell(&cells, cols.message).to_owned()
        };
        let kind = ErrorKind::parse(cell(&cells, cols.kind));
        if let ErrorKind::Other(word) = &kind {
            report.warnings.push(format!(
                "line {file_line}: unknown error-type '{word}', taken as an Error"
            ));
        }
        let row = RecordResult {
            record_number,
            amazon_order_id: cols.order_id.and_then(|at| optional(cell(&cells, at))),
            order_item_id: cols.order_item_id.and_then(|at| optional(cell(&cells, at))),
            code: cell(&cells, cols.code).to_owned(),
            kind,
            message,
        };
        if record_number == 0 {
            report.feed_errors.push(row);
        } else {
            report.errors.push(row);
        }
    }
    if columns.is_none() && !summary_seen {
        return Err(ProcessingReportError::NotAReport);
    }
    check_counts(&mut report);
    Ok(report)
}

/// Compares the summary's counts with the rows; disagreements become warnings.
fn check_counts(report: &mut ProcessingReport) {
    let rejected: BTreeSet<u32> = report
        .errors
        .iter()
        .filter(|r| r.kind.rejects())
        .map(|r| r.record_number)
        .collect();
    let highest = report.errors.iter().map(|r| r.record_number).max();
    match (report.processed, report.successful) {
        (None, None) => report
            .warnings
            .push("the report has no summary counts".to_owned()),
        (None, Some(_)) => report
            .warnings
            .push("the summary has no 'Number of records processed'".to_owned()),
        (Some(_), None) => report
            .warnings
            .push("the summary has no 'Number of records successful'".to_owned()),
        (Some(processed), Some(successful)) => {
            if successful > processed {
                report.warnings.push(format!(
                    "the summary counts {successful} records successful of {processed} processed"
                ));
            } else if (processed - successful) as usize != rejected.len() {
                report.warnings.push(format!(
                    "the summary counts {} of {processed} records failed, but {} records have an \
                     Error row; the rows are trusted",
                    processed - successful,
                    rejected.len()
                ));
            }
        }
    }
    if let (Some(processed), Some(highest)) = (report.processed, highest)
        && highest > processed
    {
        report.warnings.push(format!(
            "a row names record {highest}, but the summary counts only {processed} records \
             processed; the rows are trusted"
        ));
    }
}

/// What Amazon made of one feed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineVerdict {
    /// Applied, no remark.
    Accepted,
    /// Not applied.
    Rejected {
        /// The first Error row's `error-code`.
        code: String,
        /// The first Error row's message; further Error rows of the line follow as
        /// `; also <code>: <message>`.
        message: String,
    },
    /// Applied, with a remark (e.g. a missing ship method outside the UK and EU).
    AcceptedWithWarning {
        /// The first Warning row's `error-code`.
        code: String,
        /// The first Warning row's message; further Warning rows of the line follow as
        /// `; also <code>: <message>`.
        message: String,
    },
}

/// The verdict on one feed line, with the shipment it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineOutcome {
    /// spsync's id of the shipment.
    pub shipment_ref: String,
    /// The line's order.
    pub amazon_order_id: AmazonOrderId,
    /// The line's order item.
    pub order_item_id: String,
    /// What Amazon did with the line.
    pub outcome: LineVerdict,
}

/// First row's code and message, the others appended.
fn summarize(rows: &[&RecordResult]) -> (String, String) {
    let mut message = rows.first().map_or(String::new(), |r| r.message.clone());
    for r in rows.iter().skip(1) {
        message.push_str(&format!("; also {}: {}", r.code, r.message));
    }
    (
        rows.first().map_or(String::new(), |r| r.code.clone()),
        message,
    )
}

/// Applies a processing report to the feed's records, line by line, in record order.
///
/// Rows are matched to lines by record number alone. A line with an Error row (or a row of a
/// kind we do not know) is [`LineVerdict::Rejected`]; a line with only Warning rows is
/// [`LineVerdict::AcceptedWithWarning`]; a line without rows is [`LineVerdict::Accepted`]
/// (the feed is not atomic). File-level rows ([`ProcessingReport::feed_errors`]) reject
/// nothing: check [`ProcessingReport::nothing_processed`] before applying, and
/// [`report_discrepancies`] for rows that do not fit the records.
///
/// ```
/// use spsync_domain::{
///     AmazonOrderId, LineVerdict, RecordRef, apply_report, parse_processing_report,
/// };
///
/// let records: Vec<RecordRef> = ["shp-1", "shp-2"]
///     .iter()
///     .zip(1..)
///     .map(|(s, n)| RecordRef {
///         record_number: n,
///         shipment_ref: (*s).into(),
///         amazon_order_id: AmazonOrderId::new("111-1234567-1234567"),
///         order_item_id: format!("1234567890123{n}"),
///     })
///     .collect();
/// let report = parse_processing_report(
///     "original-record-number\terror-code\terror-type\terror-message\n2\t10022\tError\tToo many.\n",
/// )
/// .unwrap();
///
/// let outcomes = apply_report(&records, &report);
///
/// assert_eq!(outcomes[0].outcome, LineVerdict::Accepted);
/// assert_eq!(
///     outcomes[1].outcome,
///     LineVerdict::Rejected { code: "10022".into(), message: "Too many.".into() }
/// );
/// ```
pub fn apply_report(records: &[RecordRef], report: &ProcessingReport) -> Vec<LineOutcome> {
    let mut by_record: HashMap<u32, Vec<&RecordResult>> = HashMap::new();
    for row in &report.errors {
        by_record.entry(row.record_number).or_default().push(row);
    }
    records
        .iter()
        .map(|r| {
            let rows = by_record
                .get(&r.record_number)
                .map_or(&[][..], Vec::as_slice);
            let (rejecting, warning): (Vec<&RecordResult>, Vec<&RecordResult>) =
                rows.iter().partition(|row| row.kind.rejects());
            let outcome = if !rejecting.is_empty() {
                let (code, message) = summarize(&rejecting);
                LineVerdict::Rejected { code, message }
            } else if !warning.is_empty() {
                let (code, message) = summarize(&warning);
                LineVerdict::AcceptedWithWarning { code, message }
            } else {
                LineVerdict::Accepted
            };
            LineOutcome {
                shipment_ref: r.shipment_ref.clone(),
                amazon_order_id: r.amazon_order_id.clone(),
                order_item_id: r.order_item_id.clone(),
                outcome,
            }
        })
        .collect()
}

/// What in a processing report does not fit the feed that was sent, for the job's log: a
/// processed count other than the number of records, nothing processed at all, rows naming a
/// record the feed does not have, rows whose `order-id` or `order-item-id` differ from the
/// record's (a sign that Amazon numbered the lines differently). Empty when all fits.
pub fn report_discrepancies(records: &[RecordRef], report: &ProcessingReport) -> Vec<String> {
    let mut found = Vec::new();
    if report.nothing_processed() && !records.is_empty() {
        found.push(format!(
            "the report counts 0 records processed and has a file-level Error: none of the {} \
             lines was applied",
            records.len()
        ));
    } else if let Some(processed) = report.processed
        && processed as usize != records.len()
    {
        found.push(format!(
            "the report counts {processed} records processed, the feed had {}",
            records.len()
        ));
    }
    let by_number: BTreeMap<u32, &RecordRef> =
        records.iter().map(|r| (r.record_number, r)).collect();
    let mut unknown = BTreeSet::new();
    let mut mismatched = BTreeSet::new();
    for row in &report.errors {
        let Some(record) = by_number.get(&row.record_number) else {
            unknown.insert(row.record_number);
            continue;
        };
        let order_differs = row
            .amazon_order_id
            .as_deref()
            .is_some_and(|o| o != record.amazon_order_id.as_str());
        let item_differs = row
            .order_item_id
            .as_deref()
            .is_some_and(|i| i != record.order_item_id);
        if order_differs || item_differs {
            mismatched.insert(row.record_number);
        }
    }
    for n in unknown {
        found.push(format!(
            "the report names record {n}, which the feed does not have"
        ));
    }
    for n in mismatched {
        if let Some(record) = by_number.get(&n) {
            found.push(format!(
                "the report's row for record {n} names another order or item than the feed's \
                 ({} / {})",
                record.amazon_order_id, record.order_item_id
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::shipments::ShipmentItem;

    const ORDER_US: &str = "111-1234567-1234567";
    const ORDER_US_2: &str = "112-7654321-7654321";
    const ORDER_UK: &str = "202-1111111-2222222";
    const MUG: &str = "12345678901234";
    const LID: &str = "23456789012345";
    const TEA: &str = "34567890123456";
    const SCARF: &str = "45678901234567";
    const REPORT_HEADER: &str =
        "original-record-number\torder-id\torder-item-id\terror-code\terror-type\terror-message";

    fn fixture_path(name: &str) -> String {
        format!(
            "{}/../../tests/fixtures/feeds/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(fixture_path(name)).expect("fixture")
    }

    fn shipment(
        order: &str,
        carrier: (&str, &str),
        tracking: Option<&str>,
        method: Option<&str>,
        items: &[(&str, u32)],
    ) -> CheckedShipment {
        CheckedShipment {
            amazon_order_id: AmazonOrderId::new(order),
            carrier_code: carrier.0.into(),
            carrier_name: carrier.1.into(),
            tracking_number: tracking.map(str::to_owned),
            ship_date: datetime!(2026-06-02 11:30 UTC),
            ship_method: method.map(str::to_owned),
            items: items
                .iter()
                .map(|(id, quantity)| ShipmentItem {
                    order_item_id: (*id).into(),
                    quantity: *quantity,
                })
                .collect(),
            hurts_vtr: tracking.is_none(),
        }
    }

    fn line() -> FeedLine {
        FeedLine {
            shipment_ref: "shp-1".into(),
            amazon_order_id: AmazonOrderId::new(ORDER_US),
            order_item_id: MUG.into(),
            quantity: 1,
            ship_date: datetime!(2026-06-02 11:30 UTC),
            carrier_code: "UPS".into(),
            carrier_name: "UPS".into(),
            tracking_number: Some("1Z999AA10123456784".into()),
            ship_method: Some("UPS Ground".into()),
        }
    }

    /// The second row of a one-line feed, split into cells.
    fn rendered_cells(line: FeedLine) -> Vec<String> {
        let feed = render_feed(&[line]).expect("renders");
        let row = feed.text.lines().nth(1).expect("a data row");
        row.split('\t').map(str::to_owned).collect()
    }

    fn records(lines: &[(&str, &str, &str)]) -> Vec<RecordRef> {
        lines
            .iter()
            .zip(1..)
            .map(|((shipment, order, item), n)| RecordRef {
                record_number: n,
                shipment_ref: (*shipment).into(),
                amazon_order_id: AmazonOrderId::new(*order),
                order_item_id: (*item).into(),
            })
            .collect()
    }

    fn row(record: u32, code: &str, kind: ErrorKind, message: &str) -> RecordResult {
        RecordResult {
            record_number: record,
            amazon_order_id: None,
            order_item_id: None,
            code: code.into(),
            kind,
            message: message.into(),
        }
    }

    fn report_with(processed: u32, successful: u32, rows: Vec<RecordResult>) -> ProcessingReport {
        let (feed_errors, errors) = rows.into_iter().partition(|r| r.record_number == 0);
        ProcessingReport {
            processed: Some(processed),
            successful: Some(successful),
            errors,
            feed_errors,
            warnings: Vec::new(),
        }
    }

    fn rejected(code: &str, message: &str) -> LineVerdict {
        LineVerdict::Rejected {
            code: code.into(),
            message: message.into(),
        }
    }

    fn warned(code: &str, message: &str) -> LineVerdict {
        LineVerdict::AcceptedWithWarning {
            code: code.into(),
            message: message.into(),
        }
    }

    // ---- writing the feed ----

    /// The shipments of the golden feed: a two-item package, an unlisted carrier without a
    /// ship method, a shipment without tracking, a UK package.
    fn golden_lines() -> Vec<FeedLine> {
        let mut late = shipment(
            ORDER_US_2,
            ("USPS", "USPS"),
            None,
            Some("Priority Mail"),
            &[(SCARF, 1)],
        );
        late.ship_date = datetime!(2026-06-02 23:59:59.999 -04:00);
        [
            (
                "shp-1001",
                shipment(
                    ORDER_US,
                    ("UPS", "UPS"),
                    Some("1Z999AA10123456784"),
                    Some("UPS Ground"),
                    &[(MUG, 2), (LID, 1)],
                ),
            ),
            (
                "shp-1002",
                shipment(
                    ORDER_US_2,
                    ("Other", "Speedy Couriers"),
                    Some("SP0042"),
                    None,
                    &[(TEA, 3)],
                ),
            ),
            ("shp-1003", late),
            (
                "shp-1004",
                shipment(
                    ORDER_UK,
                    ("Royal Mail", "Royal Mail"),
                    Some("AB123456785GB"),
                    Some("Royal Mail Tracked 24"),
                    &[(MUG, 1)],
                ),
            ),
        ]
        .iter()
        .flat_map(|(r, s)| lines_from_shipment(r, s))
        .collect()
    }

    #[test]
    fn golden_feed_renders_as_expected() {
        let path = fixture_path("fulfillment.sample.tsv");

        let feed = render_feed(&golden_lines()).expect("renders");

        if std::env::var_os("SPSYNC_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &feed.text).expect("write the golden feed");
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .expect("expected file missing: run with SPSYNC_BLESS=1 to write it");
        assert_eq!(
            feed.text, expected,
            "rerun with SPSYNC_BLESS=1 if the change is intended"
        );
    }

    #[test]
    fn records_count_data_rows_from_one_and_name_their_shipment() {
        let feed = render_feed(&golden_lines()).expect("renders");

        let got: Vec<(u32, &str, &str, &str)> = feed
            .records
            .iter()
            .map(|r| {
                (
                    r.record_number,
                    r.shipment_ref.as_str(),
                    r.amazon_order_id.as_str(),
                    r.order_item_id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "shp-1001", ORDER_US, MUG),
                (2, "shp-1001", ORDER_US, LID),
                (3, "shp-1002", ORDER_US_2, TEA),
                (4, "shp-1003", ORDER_US_2, SCARF),
                (5, "shp-1004", ORDER_UK, MUG),
            ]
        );
        let rows: Vec<&str> = feed.text.lines().collect();
        assert_eq!(rows[0], FEED_HEADER);
        assert_eq!(rows.len(), 1 + feed.records.len());
        for r in &feed.records {
            let cells: Vec<&str> = rows[r.record_number as usize].split('\t').collect();
            assert_eq!(
                (cells[0], cells[1]),
                (r.amazon_order_id.as_str(), r.order_item_id.as_str())
            );
        }
        assert!(feed.text.ends_with('\n'));
        assert!(!feed.text.contains('\r'));
    }

    #[test]
    fn header_is_the_templates_column_order() {
        let feed = render_feed(&[]).expect("renders");

        assert_eq!(
            feed.text,
            "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\t\
             tracking-number\tship-method\n"
        );
        assert!(feed.records.is_empty());
        assert_eq!(
            FEED_CONTENT_TYPE,
            "text/tab-separated-values; charset=UTF-8"
        );
    }

    #[test]
    fn one_line_per_item_of_the_package() {
        let s = shipment(
            ORDER_US,
            ("Other", "Speedy Couriers"),
            None,
            None,
            &[(MUG, 2), (LID, 1)],
        );

        let lines = lines_from_shipment("shp-7", &s);

        assert_eq!(
            lines,
            [(MUG, 2), (LID, 1)]
                .iter()
                .map(|(item, quantity)| FeedLine {
                    shipment_ref: "shp-7".into(),
                    amazon_order_id: AmazonOrderId::new(ORDER_US),
                    order_item_id: (*item).into(),
                    quantity: *quantity,
                    ship_date: s.ship_date,
                    carrier_code: "Other".into(),
                    carrier_name: "Speedy Couriers".into(),
                    tracking_number: None,
                    ship_method: None,
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn carrier_name_is_written_only_with_the_other_code() {
        let cases = [
            ("UPS", "UPS", ""),
            ("Royal Mail", "Royal Mail", ""),
            ("Other", "Speedy Couriers", "Speedy Couriers"),
            ("other", "Speedy Couriers", "Speedy Couriers"),
        ];
        for (code, name, written) in cases {
            let mut l = line();
            l.carrier_code = code.into();
            l.carrier_name = name.into();

            let cells = rendered_cells(l);

            assert_eq!((cells[4].as_str(), cells[5].as_str()), (code, written));
        }
    }

    #[test]
    fn ship_date_is_written_in_utc_to_the_second() {
        let cases = [
            (datetime!(2026-06-02 11:30 UTC), "2026-06-02T11:30:00Z"),
            (
                datetime!(2026-06-02 13:30:15 +02:00),
                "2026-06-02T11:30:15Z",
            ),
            (
                datetime!(2026-06-02 23:59:59.999_999 -04:00),
                "2026-06-03T03:59:59Z",
            ),
            (datetime!(2026-01-05 00:00:07.5 UTC), "2026-01-05T00:00:07Z"),
        ];
        for (ship_date, written) in cases {
            let mut l = line();
            l.ship_date = ship_date;

            let cells = rendered_cells(l);

            assert_eq!(cells[3], written, "{ship_date}");
        }
    }

    #[test]
    fn optional_values_are_written_empty() {
        let mut l = line();
        l.tracking_number = None;
        l.ship_method = None;

        let cells = rendered_cells(l);

        assert_eq!(cells.len(), 8);
        assert_eq!((cells[6].as_str(), cells[7].as_str()), ("", ""));
    }

    #[test]
    fn values_that_would_break_the_file_are_refused_naming_record_and_column() {
        type Edit = fn(&mut FeedLine);
        let cases: &[(&str, Edit, &str, FeedValueProblem)] = &[
            (
                "tab in the tracking number",
                |l| l.tracking_number = Some("1Z999\t1".into()),
                "tracking-number",
                FeedValueProblem::BreaksRow('\t'),
            ),
            (
                "line feed in the ship method",
                |l| l.ship_method = Some("UPS\nGround".into()),
                "ship-method",
                FeedValueProblem::BreaksRow('\n'),
            ),
            (
                "carriage return in an Other carrier's name",
                |l| {
                    l.carrier_code = "Other".into();
                    l.carrier_name = "Speedy\rCouriers".into();
                },
                "carrier-name",
                FeedValueProblem::BreaksRow('\r'),
            ),
            (
                "tab in the order-item-id",
                |l| l.order_item_id = "1234\t5678".into(),
                "order-item-id",
                FeedValueProblem::BreaksRow('\t'),
            ),
            (
                "tab in the carrier code",
                |l| l.carrier_code = "UPS\t".into(),
                "carrier-code",
                FeedValueProblem::BreaksRow('\t'),
            ),
            (
                "empty order-item-id would confirm the whole order",
                |l| l.order_item_id = " ".into(),
                "order-item-id",
                FeedValueProblem::Empty,
            ),
            (
                "empty order-id",
                |l| l.amazon_order_id = AmazonOrderId::new(""),
                "order-id",
                FeedValueProblem::Empty,
            ),
            (
                "empty carrier code",
                |l| l.carrier_code = String::new(),
                "carrier-code",
                FeedValueProblem::Empty,
            ),
            (
                "Other without a name",
                |l| {
                    l.carrier_code = "Other".into();
                    l.carrier_name = String::new();
                },
                "carrier-name",
                FeedValueProblem::Empty,
            ),
            (
                "quantity 0",
                |l| l.quantity = 0,
                "quantity",
                FeedValueProblem::Zero,
            ),
            (
                "tracking number NULL",
                |l| l.tracking_number = Some("null".into()),
                "tracking-number",
                FeedValueProblem::Null,
            ),
        ];
        for (name, edit, column, problem) in cases {
            let mut bad = line();
            bad.shipment_ref = "shp-bad".into();
            edit(&mut bad);

            let err = render_feed(&[line(), bad]).expect_err(name);

            assert_eq!(
                err,
                FeedRenderError::Value {
                    record_number: 2,
                    shipment_ref: "shp-bad".into(),
                    column,
                    problem: problem.clone(),
                },
                "{name}"
            );
            assert!(
                err.to_string()
                    .starts_with(&format!("feed record 2 (shipment shp-bad), {column}: ")),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn a_tab_in_a_known_carriers_unsent_name_does_not_matter() {
        let mut l = line();
        l.carrier_name = "U\tP\tS".into();

        let cells = rendered_cells(l);

        assert_eq!(cells[5], "");
    }

    // ---- reading the processing report ----

    #[test]
    fn report_modelled_on_the_facts_sample_is_applied_line_by_line() {
        // Amazon's real codes and messages are not in our material: these are placeholders,
        // in the layout of spapi-facts §8.
        let feed = render_feed(&golden_lines()).expect("renders");

        let report = parse_processing_report(&fixture("fulfillment.processing-report.sample.txt"))
            .expect("parses");
        let outcomes = apply_report(&feed.records, &report);

        assert_eq!((report.processed, report.successful), (Some(5), Some(3)));
        let with_ids = |record, order: &str, item: &str, code, kind, message| RecordResult {
            amazon_order_id: Some(order.into()),
            order_item_id: Some(item.into()),
            ..row(record, code, kind, message)
        };
        assert_eq!(
            report.errors,
            vec![
                with_ids(
                    2,
                    ORDER_US,
                    LID,
                    "99001",
                    ErrorKind::Error,
                    "SYNTHETIC EXAMPLE: quantity above what is left to ship"
                ),
                with_ids(
                    3,
                    ORDER_US_2,
                    TEA,
                    "99002",
                    ErrorKind::Warning,
                    "SYNTHETIC EXAMPLE: ship method missing"
                ),
                with_ids(
                    4,
                    ORDER_US_2,
                    SCARF,
                    "99003",
                    ErrorKind::Error,
                    "SYNTHETIC EXAMPLE: tracking number not valid for the carrier"
                ),
            ]
        );
        assert!(report.feed_errors.is_empty());
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(
            outcomes.iter().map(|o| &o.outcome).collect::<Vec<_>>(),
            [
                &LineVerdict::Accepted,
                &rejected(
                    "99001",
                    "SYNTHETIC EXAMPLE: quantity above what is left to ship"
                ),
                &warned("99002", "SYNTHETIC EXAMPLE: ship method missing"),
                &rejected(
                    "99003",
                    "SYNTHETIC EXAMPLE: tracking number not valid for the carrier"
                ),
                &LineVerdict::Accepted,
            ]
        );
        assert!(report_discrepancies(&feed.records, &report).is_empty());
    }

    #[test]
    fn report_in_the_simulators_format_is_applied_line_by_line() {
        // given: a five-line feed, and the simulator's answer to it with a file-level row and
        // a summary that counts one failure less than the rows show
        let feed = render_feed(&golden_lines()).expect("renders");

        // when
        let report =
            parse_processing_report(&fixture("fulfillment.processing-report.simulator.txt"))
                .expect("parses");
        let outcomes = apply_report(&feed.records, &report);

        // then
        let got: Vec<(&str, &str, &LineVerdict)> = outcomes
            .iter()
            .map(|o| {
                (
                    o.shipment_ref.as_str(),
                    o.order_item_id.as_str(),
                    &o.outcome,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("shp-1001", MUG, &LineVerdict::Accepted),
                (
                    "shp-1001",
                    LID,
                    &rejected(
                        "10022",
                        "The order item '23456789012345' has nothing left to ship."
                    )
                ),
                (
                    "shp-1002",
                    TEA,
                    &warned(
                        "10060",
                        "The ship-method is missing; the shipping service is shown as unknown."
                    )
                ),
                (
                    "shp-1003",
                    SCARF,
                    &rejected(
                        "10032",
                        "The ship-date '2026-06-03T03:59:59Z' is in the future.; also 10013: The \
                         order '112-7654321-7654321' is cancelled and cannot be shipped."
                    )
                ),
                ("shp-1004", MUG, &LineVerdict::Accepted),
            ]
        );
        assert_eq!((report.processed, report.successful), (Some(5), Some(4)));
        assert_eq!(
            report.feed_errors,
            vec![row(
                0,
                "19999",
                ErrorKind::Error,
                "A file-level problem that applies to no line."
            )]
        );
        assert_eq!(
            report.warnings,
            [
                "the summary counts 1 of 5 records failed, but 2 records have an Error row; the \
              rows are trusted"
            ]
        );
        assert!(!report.nothing_processed());
        assert!(report_discrepancies(&feed.records, &report).is_empty());
    }

    #[test]
    fn simulators_file_level_answer_means_nothing_was_processed() {
        let feed = render_feed(&golden_lines()).expect("renders");

        let report = parse_processing_report(&fixture(
            "fulfillment.processing-report.simulator-file-level.txt",
        ))
        .expect("parses");
        let outcomes = apply_report(&feed.records, &report);

        assert!(report.nothing_processed());
        assert_eq!(report.feed_errors.len(), 1);
        assert_eq!(report.feed_errors[0].code, "10001");
        assert!(report.errors.is_empty());
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        // The rule "no Error row, accepted" holds; the caller must look at nothing_processed.
        assert!(outcomes.iter().all(|o| o.outcome == LineVerdict::Accepted));
        assert_eq!(
            report_discrepancies(&feed.records, &report),
            [
                "the report counts 0 records processed and has a file-level Error: none of the 5 \
              lines was applied"
            ]
        );
    }

    /// The facts' layout with one Error on record 2 and one Warning on record 1.
    fn plain_report() -> String {
        format!(
            "Feed Processing Summary:\n\tNumber of records processed\t\t2\n\tNumber of records \
             successful\t\t1\n\n{REPORT_HEADER}\n2\t{ORDER_US}\t{LID}\t10022\tError\tToo many.\n\
             1\t{ORDER_US}\t{MUG}\t10060\tWarning\tNo ship method.\n"
        )
    }

    #[test]
    fn report_variations_are_read_alike() {
        let plain = plain_report();
        let cases: Vec<(&str, String)> = vec![
            ("as rendered", plain.clone()),
            ("CRLF line ends", plain.replace('\n', "\r\n")),
            ("byte-order mark", format!("\u{feff}{plain}")),
            (
                "summary with spaces and colons",
                plain
                    .replace(
                        "\tNumber of records processed\t\t2",
                        "  Number of records processed:   2",
                    )
                    .replace(
                        "\tNumber of records successful\t\t1",
                        "Number of records successful 1  ",
                    ),
            ),
            (
                "columns reordered, renamed with underscores, extra ones",
                format!(
                    "Feed Processing Summary:\n\tNumber of records processed\t\t2\n\tNumber of \
                     records successful\t\t1\n\nError_Type\tError-Message\tseverity-note\t\
                     error_code\tORDER-ITEM-ID\torder-id\toriginal_record_number\n\
                     Error\tToo many.\tx\t10022\t{LID}\t{ORDER_US}\t2\n\
                     Warning\tNo ship method.\t\t10060\t{MUG}\t{ORDER_US}\t1\n"
                ),
            ),
            (
                "blank lines and trailing blanks",
                plain.replace("\n2\t", "\n\n\t\t\n2\t") + "\n\n",
            ),
            (
                "no trailing line end, padded cells",
                plain.trim_end().replace("\t10022\t", "\t 10022 \t"),
            ),
        ];
        for (name, text) in cases {
            let report = parse_processing_report(&text).expect(name);

            assert_eq!(
                (report.processed, report.successful),
                (Some(2), Some(1)),
                "{name}"
            );
            let mut rows: Vec<(u32, &str, &str, &ErrorKind, &str)> = report
                .errors
                .iter()
                .map(|r| {
                    (
                        r.record_number,
                        r.order_item_id.as_deref().unwrap_or(""),
                        r.code.as_str(),
                        &r.kind,
                        r.message.as_str(),
                    )
                })
                .collect();
            rows.sort_by_key(|r| r.0);
            assert_eq!(
                rows,
                [
                    (1, MUG, "10060", &ErrorKind::Warning, "No ship method."),
                    (2, LID, "10022", &ErrorKind::Error, "Too many."),
                ],
                "{name}"
            );
            assert!(report.warnings.is_empty(), "{name}: {:?}", report.warnings);
        }
    }

    #[test]
    fn oddities_are_read_and_warned_about() {
        let cases: Vec<(&str, String, &[&str])> = vec![
            (
                "no summary",
                format!("{REPORT_HEADER}\n1\t{ORDER_US}\t{MUG}\t10022\tError\tToo many.\n"),
                &["the report has no summary counts"],
            ),
            (
                "successful count missing",
                format!(
                    "\tNumber of records processed\t\t1\n\n{REPORT_HEADER}\n\
                     1\t{ORDER_US}\t{MUG}\t10022\tError\tToo many.\n"
                ),
                &["the summary has no 'Number of records successful'"],
            ),
            (
                "unreadable count",
                format!(
                    "\tNumber of records processed\t\tmany\n\tNumber of records successful\t\t0\n\
                     \n{REPORT_HEADER}\n"
                ),
                &[
                    "line 1: the summary line has no readable count",
                    "the summary has no 'Number of records processed'",
                ],
            ),
            (
                "more successful than processed",
                format!(
                    "\tNumber of records processed\t\t1\n\tNumber of records successful\t\t2\n\
                     \n{REPORT_HEADER}\n"
                ),
                &["the summary counts 2 records successful of 1 processed"],
            ),
            (
                "failures counted but no rows",
                format!(
                    "\tNumber of records processed\t\t3\n\tNumber of records successful\t\t1\n\
                     \n{REPORT_HEADER}\n"
                ),
                &[
                    "the summary counts 2 of 3 records failed, but 0 records have an Error row; \
                   the rows are trusted",
                ],
            ),
            (
                "record above the processed count",
                format!(
                    "\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n\
                     \n{REPORT_HEADER}\n5\t{ORDER_US}\t{MUG}\t10060\tWarning\tNo ship method.\n"
                ),
                &[
                    "a row names record 5, but the summary counts only 1 records processed; the \
                   rows are trusted",
                ],
            ),
            (
                "a problem row before any header",
                format!(
                    "\tNumber of records processed\t\t1\n\tNumber of records successful\t\t0\n\
                     \n1\t{ORDER_US}\t{MUG}\t10022\tError\tToo many.\n"
                ),
                &[
                    "line 4 is neither a summary line nor the header of the problem table; it \
                     was not read",
                    "the summary counts 1 of 1 records failed, but 0 records have an Error row; \
                     the rows are trusted",
                ],
            ),
            (
                "unknown error type",
                format!(
                    "\tNumber of records processed\t\t1\n\tNumber of records successful\t\t0\n\
                     \n{REPORT_HEADER}\n1\t{ORDER_US}\t{MUG}\t10022\tErreur\tTrop.\n"
                ),
                &["line 5: unknown error-type 'Erreur', taken as an Error"],
            ),
            (
                "unreadable record number",
                format!(
                    "\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n\
                     \n{REPORT_HEADER}\nfirst\t\t\t10001\tError\tBad file.\n"
                ),
                &[
                    "line 5: the original-record-number is not a number; the row is taken to be \
                   about the whole file",
                ],
            ),
        ];
        for (name, text, warnings) in cases {
            let report = parse_processing_report(&text).expect(name);

            assert_eq!(report.warnings, *warnings, "{name}");
        }
    }

    #[test]
    fn rows_without_a_record_number_are_about_the_whole_file() {
        let text = format!(
            "\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n\n\
             {REPORT_HEADER}\n\t\t\t90001\tWarning\tA notice.\n0\t\t\t90002\tWarning\tAnother.\n"
        );

        let report = parse_processing_report(&text).expect("parses");

        assert!(report.errors.is_empty());
        assert_eq!(
            report.feed_errors,
            vec![
                row(0, "90001", ErrorKind::Warning, "A notice."),
                row(0, "90002", ErrorKind::Warning, "Another."),
            ]
        );
        assert!(!report.nothing_processed());
    }

    #[test]
    fn a_tab_inside_the_last_columns_message_stays_in_the_message() {
        let text = format!("{REPORT_HEADER}\n1\t{ORDER_US}\t{MUG}\t10022\tError\tToo\tmany.\n");

        let report = parse_processing_report(&text).expect("parses");

        assert_eq!(report.errors[0].message, "Too\tmany.");
    }

    #[test]
    fn error_types_are_read_in_any_case_and_localized() {
        let cases = [
            ("Error", ErrorKind::Error),
            ("ERROR", ErrorKind::Error),
            (" error ", ErrorKind::Error),
            ("Fehler", ErrorKind::Error),
            ("Warning", ErrorKind::Warning),
            ("warning", ErrorKind::Warning),
            ("Erreur", ErrorKind::Other("Erreur".into())),
            ("", ErrorKind::Other(String::new())),
        ];
        for (cell, kind) in cases {
            assert_eq!(ErrorKind::parse(cell), kind, "{cell:?}");
        }
        assert!(ErrorKind::Error.rejects());
        assert!(ErrorKind::Other("Erreur".into()).rejects());
        assert!(!ErrorKind::Warning.rejects());
    }

    #[test]
    fn texts_that_are_not_a_processing_report_are_refused() {
        let cases = [
            ("empty", String::new(), ProcessingReportError::Empty),
            (
                "blank",
                "\u{feff} \r\n\t\n".into(),
                ProcessingReportError::Empty,
            ),
            (
                "a JSON report",
                "{\"header\":{\"sellerId\":\"A1\"}}".into(),
                ProcessingReportError::NotAReport,
            ),
            (
                "a feed, not its report",
                format!("{FEED_HEADER}\n{ORDER_US}\t{MUG}\t1\n"),
                ProcessingReportError::NotAReport,
            ),
            (
                "header without type and message",
                "original-record-number\terror-code\n1\t10022\n".into(),
                ProcessingReportError::MissingColumns(vec![TYPE_COLUMN, MESSAGE_COLUMN]),
            ),
        ];
        for (name, text, expected) in cases {
            assert_eq!(parse_processing_report(&text), Err(expected), "{name}");
        }
    }

    // ---- applying it ----

    #[test]
    fn each_line_gets_the_verdict_of_its_rows() {
        let recs = records(&[("shp-1", ORDER_US, MUG)]);
        let cases: Vec<(&str, Vec<RecordResult>, LineVerdict)> = vec![
            ("no rows", vec![], LineVerdict::Accepted),
            (
                "an Error",
                vec![row(1, "10022", ErrorKind::Error, "Too many.")],
                rejected("10022", "Too many."),
            ),
            (
                "a Warning",
                vec![row(1, "10060", ErrorKind::Warning, "No ship method.")],
                warned("10060", "No ship method."),
            ),
            (
                "a Warning and an Error",
                vec![
                    row(1, "10060", ErrorKind::Warning, "No ship method."),
                    row(1, "10022", ErrorKind::Error, "Too many."),
                ],
                rejected("10022", "Too many."),
            ),
            (
                "two Errors",
                vec![
                    row(1, "10032", ErrorKind::Error, "In the future."),
                    row(1, "10050", ErrorKind::Error, "Bad tracking."),
                ],
                rejected("10032", "In the future.; also 10050: Bad tracking."),
            ),
            (
                "two Warnings",
                vec![
                    row(1, "10060", ErrorKind::Warning, "No ship method."),
                    row(1, "10061", ErrorKind::Warning, "Late."),
                ],
                warned("10060", "No ship method.; also 10061: Late."),
            ),
            (
                "an unknown error type",
                vec![row(1, "10022", ErrorKind::Other("Erreur".into()), "Trop.")],
                rejected("10022", "Trop."),
            ),
            (
                "a file-level Error only",
                vec![row(0, "10099", ErrorKind::Error, "Something.")],
                LineVerdict::Accepted,
            ),
            (
                "an Error for another record",
                vec![row(2, "10022", ErrorKind::Error, "Too many.")],
                LineVerdict::Accepted,
            ),
        ];
        for (name, rows, verdict) in cases {
            let report = report_with(1, 0, rows);

            let outcomes = apply_report(&recs, &report);

            assert_eq!(
                outcomes,
                [LineOutcome {
                    shipment_ref: "shp-1".into(),
                    amazon_order_id: AmazonOrderId::new(ORDER_US),
                    order_item_id: MUG.into(),
                    outcome: verdict,
                }],
                "{name}"
            );
        }
    }

    #[test]
    fn a_rendered_feed_and_its_report_meet_by_record_number() {
        let feed = render_feed(&golden_lines()).expect("renders");
        let text = format!(
            "\tNumber of records processed\t\t5\n\tNumber of records successful\t\t4\n\n\
             {REPORT_HEADER}\n5\t{ORDER_UK}\t{MUG}\t10050\tError\tBad tracking.\n"
        );

        let report = parse_processing_report(&text).expect("parses");
        let outcomes = apply_report(&feed.records, &report);

        let rejected: Vec<&str> = outcomes
            .iter()
            .filter(|o| matches!(o.outcome, LineVerdict::Rejected { .. }))
            .map(|o| o.shipment_ref.as_str())
            .collect();
        assert_eq!(rejected, ["shp-1004"]);
        assert_eq!(outcomes.len(), 5);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn discrepancies_between_feed_and_report_are_listed() {
        let recs = records(&[("shp-1", ORDER_US, MUG), ("shp-1", ORDER_US, LID)]);
        let with_ids = |record: u32, order: &str, item: &str| RecordResult {
            amazon_order_id: Some(order.into()),
            order_item_id: Some(item.into()),
            ..row(record, "10022", ErrorKind::Error, "Too many.")
        };
        let cases: Vec<(&str, ProcessingReport, Vec<&str>)> = vec![
            (
                "all fits",
                report_with(2, 1, vec![with_ids(2, ORDER_US, LID)]),
                vec![],
            ),
            (
                "rows without ids fit",
                report_with(2, 1, vec![row(2, "10022", ErrorKind::Error, "x")]),
                vec![],
            ),
            (
                "processed count differs",
                report_with(3, 3, vec![]),
                vec!["the report counts 3 records processed, the feed had 2"],
            ),
            (
                "a record the feed does not have",
                report_with(2, 2, vec![row(7, "10022", ErrorKind::Error, "x")]),
                vec!["the report names record 7, which the feed does not have"],
            ),
            (
                "another order or item on a record",
                report_with(
                    2,
                    0,
                    vec![with_ids(1, ORDER_US_2, MUG), with_ids(2, ORDER_US, MUG)],
                ),
                vec![
                    "the report's row for record 1 names another order or item than the feed's \
                     (111-1234567-1234567 / 12345678901234)",
                    "the report's row for record 2 names another order or item than the feed's \
                     (111-1234567-1234567 / 23456789012345)",
                ],
            ),
            (
                "nothing processed",
                report_with(0, 0, vec![row(0, "10000", ErrorKind::Error, "Bad bytes.")]),
                vec![
                    "the report counts 0 records processed and has a file-level Error: none of \
                     the 2 lines was applied",
                ],
            ),
        ];
        for (name, report, expected) in cases {
            assert_eq!(report_discrepancies(&recs, &report), expected, "{name}");
        }
    }
}
