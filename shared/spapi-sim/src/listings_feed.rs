//! JSON_LISTINGS_FEED: the simulator's own reading of Amazon's listings feed schema v2, and
//! what accepted messages do to the seller's listings.
//!
//! **Validation.** The rules of `listings-feed-schema-v2.json` (and of the standalone
//! `listings-feed-message-schema-v2.json`) are written out by hand here, keyword by keyword,
//! so the simulator needs no JSON-schema crate: [`validate_document`], [`document_is_valid`],
//! [`validate_message`] and [`message_is_valid`]. Their verdicts must agree with a real
//! Draft-7 validator run on the schema files (the contract suite checks this on a corpus).
//! Notes on the schema that shape the code:
//! - it declares no `additionalProperties: false`, so unknown members are allowed everywhere;
//! - `messageId` has `maximum: 2147483647` inside the feed schema but no maximum in the
//!   standalone message schema;
//! - "unique within the feed" is a description, not a schema keyword: duplicates are reported
//!   as a processing issue ([`UNIQUE_MESSAGE_ID`]), never by the schema predicates;
//! - `patches[].path` is only `type: string` (the JSON pointer is not checked by the schema;
//!   unsupported paths become processing issues instead);
//! - the `oneOf` branches differ by `operationType` const, so at most one can match.
//!
//! **Processing** ([`process`]). A document-level problem (bytes that are not JSON, a bad
//! header, `messages` missing, empty or above 25,000, `header.sellerId` not the submitting
//! seller) ends the feed FATAL with feed-level issues (no `messageId`), as Amazon's reports in
//! public threads show. A message that breaks the schema gets one ERROR issue and counts as
//! invalid; the other messages are applied. Valid messages change the seller's listings in
//! the feed's first marketplace:
//! - `PATCH` on `/attributes/fulfillment_availability` (quantity, lead time; `DEFAULT`
//!   channel), `/attributes/purchasable_offer` (price in the marketplace, audience `ALL`) and
//!   `/attributes/item_name` (title), with `add`, `replace`, `merge` or `delete`;
//! - `PARTIAL_UPDATE`: like `PATCH` with `replace` on each attribute given;
//! - `UPDATE`: replaces the offer (attributes not given are dropped, as Amazon's description
//!   says) and creates the listing when the SKU is new;
//! - `DELETE`: removes the listing.
//!
//! Other attribute names are accepted and ignored: Amazon checks them against the product
//! type's definition (Product Type Definitions API), which the simulator does not carry.
//! `PATCH` or `PARTIAL_UPDATE` of an unknown SKU is reported as an ERROR ("listing not
//! found"). Real Amazon has been seen to accept an offer-only patch of an unknown SKU silently
//! (amzn/selling-partner-api-models#4402); the simulator is stricter so a client's handling
//! of the issue can be tested.
//!
//! **Issue codes.** Codes seen in Amazon's real reports (public issue threads
//! amzn/selling-partner-api-docs#1098, #1133, #2201, amzn/selling-partner-api-models#4679) are
//! reused where they fit; the others are the simulator's own:
//!
//! | Code | Source | Meaning |
//! |---|---|---|
//! | `4002000` | simulator | scripted FATAL outcome (control API `/_sim/feeds/next-outcome`) |
//! | `4002001` | Amazon | the feed cannot be parsed (not UTF-8 / not JSON) |
//! | `4002005` | Amazon | a required feed-level attribute is missing (`header`, `messages`, `header.sellerId`, `header.version`, `header.report.*`) |
//! | `4002006` | Amazon | a feed-level attribute does not match the required value (`header.version`, types, enums) |
//! | `4002007` | simulator | `messages` is empty or holds more than 25,000 messages |
//! | `4002008` | Amazon | a message does not meet the schema (details appended in parentheses) |
//! | `4002009` | simulator | `messageId` used by more than one message (each later one is rejected) |
//! | `4002010` | simulator | `header.sellerId` is not the selling partner that submitted the feed |
//! | `4000001` | simulator | `PATCH` / `PARTIAL_UPDATE` of a SKU that has no listing in the marketplace |
//! | `4000002` | simulator | patch `path` is not `/attributes/{attributeName}` |
//! | `4000003` | simulator | attribute value not usable (not an array of objects, negative quantity, price not a number, missing `fulfillment_channel_code`) |
//! | `4000004` | simulator | patch op `add` / `replace` / `merge` without `value` |
//! | `4000006` | simulator | WARNING: `DELETE` of a SKU that has no listing (nothing to do) |
//! | `90220` | Amazon | `'[item_name]' is required but not supplied.` (UPDATE creating a listing) |

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::feeds::Processing;
use crate::scenario::ListingSpec;
use crate::sim::format_datetime;
use crate::state::{Rng, State};

/// The feed type this module processes.
pub const FEED_TYPE: &str = "JSON_LISTINGS_FEED";
/// `messages.maxItems` in the feed schema (raised from 10,000 on 2025-05-06).
pub const MAX_MESSAGES: usize = 25_000;
/// `messageId.maximum` in the feed schema.
pub const MAX_MESSAGE_ID: i64 = 2_147_483_647;
/// Keyword of the one non-schema rule [`validate_document`] reports: duplicate `messageId`.
pub const UNIQUE_MESSAGE_ID: &str = "uniqueMessageId";
/// Content type of the processing report.
pub const REPORT_CONTENT_TYPE: &str = "application/json";

const OPERATION_TYPES: [&str; 4] = ["UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"];
const REQUIREMENTS: [&str; 3] = ["LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"];
const PATCH_OPS: [&str; 4] = ["add", "replace", "merge", "delete"];
const INCLUDED_DATA: [&str; 8] = [
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
];
const API_VERSIONS: [&str; 1] = ["2021-08-01"];

/// Where a violation sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The document itself (top level, header, the messages array): the feed ends FATAL.
    Document,
    /// One message: only that message is rejected.
    Message {
        /// Position in `messages` (0-based).
        index: usize,
        /// Its `messageId` when it is an integer.
        message_id: Option<i64>,
        /// Its `sku` when it is a non-empty string.
        sku: Option<String>,
    },
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Document- or message-level.
    pub scope: Scope,
    /// JSON pointer of the offending value (`/messages/3/patches/0/op`).
    pub pointer: String,
    /// The JSON-schema keyword that fails (`required`, `type`, `const`, `enum`, `minimum`,
    /// `maximum`, `minLength`, `minItems`, `maxItems`, `minProperties`, `oneOf`), or
    /// [`UNIQUE_MESSAGE_ID`] for the one rule that is not in the schema.
    pub keyword: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl Violation {
    /// Whether the rule is one of the schema's (everything but duplicate message ids).
    pub fn is_schema_rule(&self) -> bool {
        self.keyword != UNIQUE_MESSAGE_ID
    }
}

struct Checker<'a> {
    out: &'a mut Vec<Violation>,
    scope: Scope,
}

impl Checker<'_> {
    fn push(&mut self, pointer: &str, keyword: &'static str, message: String) {
        self.out.push(Violation {
            scope: self.scope.clone(),
            pointer: pointer.to_string(),
            keyword,
            message,
        });
    }

    fn required(&mut self, obj: &Map<String, Value>, ptr: &str, keys: &[&str]) {
        for key in keys {
            if !obj.contains_key(*key) {
                self.push(
                    &format!("{ptr}/{key}"),
                    "required",
                    format!("'{key}' is required but not supplied"),
                );
            }
        }
    }

    /// A string with optional `minLength: 1` and `enum`.
    fn string(&mut self, v: &Value, ptr: &str, non_empty: bool, allowed: Option<&[&str]>) {
        let Some(s) = v.as_str() else {
            self.push(
                ptr,
                "type",
                format!("must be a string, found {}", type_name(v)),
            );
            return;
        };
        if non_empty && s.is_empty() {
            self.push(ptr, "minLength", "must not be empty".to_string());
        }
        if let Some(allowed) = allowed
            && !allowed.contains(&s)
        {
            self.push(
                ptr,
                "enum",
                format!("'{s}' is not one of {}", allowed.join(", ")),
            );
        }
    }
}

/// JSON-schema type name of a value (for messages).
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Draft-7 `integer`: any number with a zero fractional part (so `1.0` is an integer).
fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// An integer value as i64 when it fits.
fn as_integer(v: &Value) -> Option<i64> {
    if !is_integer(v) {
        return None;
    }
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.abs() < 9.0e18).map(|f| f as i64))
}

fn scope_of(index: usize, msg: &Value) -> Scope {
    Scope::Message {
        index,
        message_id: msg.get("messageId").and_then(as_integer),
        sku: msg
            .get("sku")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    }
}

/// Checks a whole feed document against `listings-feed-schema-v2.json`, plus the uniqueness
/// of `messageId` (reported with keyword [`UNIQUE_MESSAGE_ID`], each later duplicate once).
pub fn validate_document(doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut ck = Checker {
        out: &mut out,
        scope: Scope::Document,
    };
    let Some(top) = doc.as_object() else {
        ck.push(
            "",
            "type",
            format!("the feed must be a JSON object, found {}", type_name(doc)),
        );
        return out;
    };
    ck.required(top, "", &["header", "messages"]);
    if let Some(header) = top.get("header") {
        check_header(header, &mut ck);
    }
    let Some(messages) = top.get("messages") else {
        return out;
    };
    let Some(list) = messages.as_array() else {
        ck.push(
            "/messages",
            "type",
            format!("must be an array, found {}", type_name(messages)),
        );
        return out;
    };
    if list.is_empty() {
        ck.push(
            "/messages",
            "minItems",
            "must hold at least 1 message".into(),
        );
    }
    if list.len() > MAX_MESSAGES {
        ck.push(
            "/messages",
            "maxItems",
            format!(
                "holds {} messages; at most {MAX_MESSAGES} are allowed",
                list.len()
            ),
        );
    }
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (index, msg) in list.iter().enumerate() {
        let mut ck = Checker {
            out: &mut out,
            scope: scope_of(index, msg),
        };
        let ptr = format!("/messages/{index}");
        check_message(msg, &ptr, true, &mut ck);
        if let Some(id) = msg.get("messageId").and_then(as_integer) {
            if let Some(first) = seen.get(&id) {
                ck.push(
                    &format!("{ptr}/messageId"),
                    UNIQUE_MESSAGE_ID,
                    format!("messageId {id} is already used by message #{}", first + 1),
                );
            } else {
                seen.insert(id, index);
            }
        }
    }
    out
}

/// Whether `doc` is valid against `listings-feed-schema-v2.json` (duplicate message ids are
/// not a schema rule and do not count).
pub fn document_is_valid(doc: &Value) -> bool {
    validate_document(doc).iter().all(|v| !v.is_schema_rule())
}

/// Checks one message against the standalone `listings-feed-message-schema-v2.json` (which,
/// unlike the feed schema, sets no maximum on `messageId`).
pub fn validate_message(msg: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut ck = Checker {
        out: &mut out,
        scope: scope_of(0, msg),
    };
    check_message(msg, "", false, &mut ck);
    out
}

/// Whether `msg` is valid against `listings-feed-message-schema-v2.json`.
pub fn message_is_valid(msg: &Value) -> bool {
    validate_message(msg).is_empty()
}

fn check_header(header: &Value, ck: &mut Checker<'_>) {
    let ptr = "/header";
    let Some(h) = header.as_object() else {
        ck.push(
            ptr,
            "type",
            format!("must be an object, found {}", type_name(header)),
        );
        return;
    };
    ck.required(h, ptr, &["sellerId", "version"]);
    if let Some(v) = h.get("sellerId") {
        ck.string(v, "/header/sellerId", false, None);
    }
    if let Some(v) = h.get("version") {
        if !v.is_string() {
            ck.push(
                "/header/version",
                "type",
                format!("must be the string \"2.0\", found {}", type_name(v)),
            );
        } else if v != "2.0" {
            ck.push(
                "/header/version",
                "const",
                format!("must be \"2.0\", found {v}"),
            );
        }
    }
    if let Some(v) = h.get("issueLocale") {
        ck.string(v, "/header/issueLocale", false, None);
    }
    if let Some(report) = h.get("report") {
        let rptr = "/header/report";
        let Some(r) = report.as_object() else {
            ck.push(
                rptr,
                "type",
                format!("must be an object, found {}", type_name(report)),
            );
            return;
        };
        ck.required(r, rptr, &["includedData", "apiVersion"]);
        if let Some(inc) = r.get("includedData") {
            let iptr = "/header/report/includedData";
            match inc.as_array() {
                None => ck.push(
                    iptr,
                    "type",
                    format!("must be an array, found {}", type_name(inc)),
                ),
                Some(items) => {
                    if items.is_empty() {
                        ck.push(iptr, "minItems", "must hold at least 1 value".into());
                    }
                    for (i, item) in items.iter().enumerate() {
                        ck.string(item, &format!("{iptr}/{i}"), false, Some(&INCLUDED_DATA));
                    }
                }
            }
        }
        if let Some(v) = r.get("apiVersion") {
            ck.string(v, "/header/report/apiVersion", false, Some(&API_VERSIONS));
        }
    }
}

fn check_message(msg: &Value, ptr: &str, in_feed: bool, ck: &mut Checker<'_>) {
    let Some(m) = msg.as_object() else {
        ck.push(
            ptr,
            "type",
            format!("a message must be an object, found {}", type_name(msg)),
        );
        return;
    };
    ck.required(m, ptr, &["messageId", "sku", "operationType"]);
    if let Some(v) = m.get("messageId") {
        let p = format!("{ptr}/messageId");
        if !is_integer(v) {
            ck.push(
                &p,
                "type",
                format!("must be an integer, found {}", type_name(v)),
            );
        } else {
            let f = v.as_f64().unwrap_or(0.0);
            if f < 1.0 {
                ck.push(&p, "minimum", format!("must be at least 1, found {v}"));
            }
            if in_feed && f > MAX_MESSAGE_ID as f64 {
                ck.push(
                    &p,
                    "maximum",
                    format!("must be at most {MAX_MESSAGE_ID}, found {v}"),
                );
            }
        }
    }
    // (member, non-empty, allowed values) of the message schema's string members.
    let strings: [(&str, bool, Option<&[&str]>); 4] = [
        ("sku", true, None),
        ("operationType", false, Some(&OPERATION_TYPES)),
        ("productType", true, None),
        ("requirements", false, Some(&REQUIREMENTS)),
    ];
    for (member, non_empty, allowed) in strings {
        if let Some(v) = m.get(member) {
            ck.string(v, &format!("{ptr}/{member}"), non_empty, allowed);
        }
    }
    if let Some(v) = m.get("attributes") {
        let p = format!("{ptr}/attributes");
        match v.as_object() {
            None => ck.push(
                &p,
                "type",
                format!("must be an object, found {}", type_name(v)),
            ),
            Some(a) if a.is_empty() => {
                ck.push(&p, "minProperties", "must hold at least 1 attribute".into())
            }
            Some(_) => {}
        }
    }
    if let Some(v) = m.get("patches") {
        check_patches(v, &format!("{ptr}/patches"), ck);
    }
    // oneOf: the branches are told apart by the operationType const, so exactly the branch
    // of a valid operationType has to hold. With an operationType that is missing or not in
    // the enum the message already fails `required` / `enum` above.
    if let Some(op) = m.get("operationType").and_then(Value::as_str) {
        let (requires, forbids): (&[&str], &[&str]) = match op {
            "UPDATE" => (&["productType", "attributes"], &["patches"]),
            "PARTIAL_UPDATE" => (&["productType", "attributes"], &["requirements", "patches"]),
            "PATCH" => (&["productType", "patches"], &["requirements", "attributes"]),
            "DELETE" => (
                &[],
                &["requirements", "attributes", "productType", "patches"],
            ),
            _ => return,
        };
        for key in requires {
            if !m.contains_key(*key) {
                ck.push(
                    &format!("{ptr}/{key}"),
                    "oneOf",
                    format!("'{key}' is required for operationType {op}"),
                );
            }
        }
        for key in forbids {
            if m.contains_key(*key) {
                ck.push(
                    &format!("{ptr}/{key}"),
                    "oneOf",
                    format!("'{key}' is not allowed for operationType {op}"),
                );
            }
        }
    }
}

fn check_patches(v: &Value, ptr: &str, ck: &mut Checker<'_>) {
    let Some(patches) = v.as_array() else {
        ck.push(
            ptr,
            "type",
            format!("must be an array, found {}", type_name(v)),
        );
        return;
    };
    if patches.is_empty() {
        ck.push(ptr, "minItems", "must hold at least 1 patch".into());
    }
    for (i, patch) in patches.iter().enumerate() {
        let p = format!("{ptr}/{i}");
        let Some(po) = patch.as_object() else {
            ck.push(
                &p,
                "type",
                format!("a patch must be an object, found {}", type_name(patch)),
            );
            continue;
        };
        ck.required(po, &p, &["op", "path"]);
        if let Some(op) = po.get("op") {
            ck.string(op, &format!("{p}/op"), false, Some(&PATCH_OPS));
        }
        if let Some(path) = po.get("path") {
            ck.string(path, &format!("{p}/path"), false, None);
        }
        if let Some(value) = po.get("value") {
            match value.as_array() {
                None => ck.push(
                    &format!("{p}/value"),
                    "type",
                    format!("must be an array, found {}", type_name(value)),
                ),
                Some(items) => {
                    for (j, item) in items.iter().enumerate() {
                        if !item.is_object() {
                            ck.push(
                                &format!("{p}/value/{j}"),
                                "type",
                                format!("must be an object, found {}", type_name(item)),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Severity of a processing-report issue (schema enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The message was not applied (or, without `messageId`, the feed was not).
    Error,
    /// Applied, with a remark.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warning => "WARNING",
        }
    }
}

/// One entry of the processing report's `issues`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Message it is about; `None` for feed-level issues.
    pub message_id: Option<i64>,
    /// SKU of that message.
    pub sku: Option<String>,
    /// Code (see the module table).
    pub code: &'static str,
    /// ERROR or WARNING.
    pub severity: Severity,
    /// Explanation.
    pub message: String,
    /// Attribute concerned (`fulfillment_availability.quantity`).
    pub attribute_name: Option<String>,
}

impl Issue {
    fn feed(code: &'static str, message: String) -> Self {
        Self {
            message_id: None,
            sku: None,
            code,
            severity: Severity::Error,
            message,
            attribute_name: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(id) = self.message_id.filter(|id| *id >= 1) {
            o.insert("messageId".into(), json!(id));
        }
        if let Some(sku) = self.sku.as_ref().filter(|s| !s.is_empty()) {
            o.insert("sku".into(), json!(sku));
        }
        o.insert("code".into(), json!(self.code));
        o.insert("severity".into(), json!(self.severity.as_str()));
        let message = if self.message.is_empty() {
            "Unspecified problem.".to_string()
        } else {
            self.message.clone()
        };
        o.insert("message".into(), json!(message));
        if let Some(a) = &self.attribute_name {
            o.insert("attributeName".into(), json!(a));
        }
        Value::Object(o)
    }
}

/// Builds a processing report (`listings-feed-processing-report-schema-v2.json`).
fn report_json(
    seller_id: &str,
    feed_id: &str,
    header_report: Option<&Value>,
    issues: &[Issue],
    processed: usize,
    accepted: usize,
    items: Option<Vec<Value>>,
) -> Value {
    let errors = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    let warnings = issues.len() - errors;
    let mut header = json!({ "sellerId": seller_id, "version": "2.0", "feedId": feed_id });
    if let Some(r) = header_report {
        header["report"] = r.clone();
    }
    let mut summary = json!({
        "errors": errors,
        "warnings": warnings,
        "messagesProcessed": processed,
        "messagesAccepted": accepted,
        "messagesInvalid": processed - accepted,
    });
    let mut report = json!({
        "header": header,
        "issues": issues.iter().map(Issue::to_json).collect::<Vec<_>>(),
        "summary": Value::Null,
    });
    if let Some(items) = items {
        summary["itemSummary"] = json!({ "items": items.len(), "errors": 0, "warnings": 0 });
        report["items"] = Value::Array(items);
    }
    report["summary"] = summary;
    report
}

/// The processing report of a feed that ends FATAL with one feed-level issue (used for
/// scripted FATAL outcomes as well as for document-level violations).
pub fn fatal_report(seller_id: &str, feed_id: &str, code: &'static str, message: &str) -> Vec<u8> {
    let issues = [Issue::feed(code, message.to_string())];
    serde_json::to_vec_pretty(&report_json(seller_id, feed_id, None, &issues, 0, 0, None))
        .unwrap_or_default()
}

fn fatal(seller_id: &str, feed_id: &str, issues: &[Issue], reason: &str) -> Processing {
    let report = report_json(seller_id, feed_id, None, issues, 0, 0, None);
    Processing {
        fatal: true,
        report: serde_json::to_vec_pretty(&report).unwrap_or_default(),
        report_content_type: REPORT_CONTENT_TYPE.to_string(),
        effects: json!({
            "recordsProcessed": 0,
            "recordsAccepted": 0,
            "recordsRejected": 0,
            "ordersChanged": [],
            "listingsChanged": [],
            "fatal": reason,
        }),
    }
}

/// Feed-level issue for a document-level violation, in Amazon's wording where known.
fn document_issue(v: &Violation) -> Issue {
    let attribute = v.pointer.rsplit('/').next().unwrap_or("").to_string();
    let attribute = if attribute.is_empty() {
        "Feed".to_string()
    } else {
        attribute
    };
    match v.keyword {
        "required" => Issue::feed(
            "4002005",
            format!("Attribute '{attribute}' is required, but not present."),
        ),
        "minItems" | "maxItems" if v.pointer == "/messages" => Issue::feed(
            "4002007",
            format!("Attribute 'messages' is not valid: {}.", v.message),
        ),
        "type" if v.pointer.is_empty() => Issue::feed(
            "4002001",
            format!("Item 'Feed' cannot be parsed: {}.", v.message),
        ),
        _ => Issue::feed(
            "4002006",
            format!(
                "Attribute '{attribute}' does not match the required value ({}: {}).",
                v.pointer, v.message
            ),
        ),
    }
}

/// Processes a JSON_LISTINGS_FEED input document for `seller_id` at `now`: validates it,
/// applies the valid messages to the seller's listings in `marketplace_ids[0]`, and returns
/// the processing report.
pub fn process(
    st: &mut State,
    seller_id: &str,
    feed_id: &str,
    marketplace_ids: &[String],
    input: &[u8],
    now: OffsetDateTime,
) -> Processing {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let doc: Value = match std::str::from_utf8(input)
        .map_err(|e| format!("the document is not UTF-8 ({e})"))
        .and_then(|t| serde_json::from_str(t).map_err(|e| format!("{e}")))
    {
        Ok(d) => d,
        Err(e) => {
            let issue = Issue::feed("4002001", format!("Item 'Feed' cannot be parsed: {e}."));
            return fatal("", feed_id, &[issue], "feed cannot be parsed");
        }
    };
    let header_seller = doc["header"]["sellerId"].as_str().unwrap_or("");
    let violations = validate_document(&doc);
    let doc_issues: Vec<Issue> = violations
        .iter()
        .filter(|v| v.scope == Scope::Document)
        .map(document_issue)
        .collect();
    if !doc_issues.is_empty() {
        return fatal(
            header_seller,
            feed_id,
            &doc_issues,
            "document-level violation",
        );
    }
    if header_seller != seller_id {
        let issue = Issue::feed(
            "4002010",
            format!(
                "The sellerId '{header_seller}' in the feed header does not match the selling partner that submitted the feed."
            ),
        );
        return fatal(header_seller, feed_id, &[issue], "header.sellerId mismatch");
    }
    let header_report = doc["header"].get("report");
    let messages = doc["messages"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut by_index: BTreeMap<usize, Vec<&Violation>> = BTreeMap::new();
    for v in &violations {
        if let Scope::Message { index, .. } = &v.scope {
            by_index.entry(*index).or_default().push(v);
        }
    }
    let marketplace = marketplace_ids.first().cloned().unwrap_or_default();
    let mut issues = Vec::new();
    let mut accepted = 0usize;
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut accepted_skus: Vec<String> = Vec::new();
    let State { sellers, rng, .. } = st;
    let Some(seller) = sellers.get_mut(seller_id) else {
        let issue = Issue::feed("4002010", format!("Unknown selling partner '{seller_id}'."));
        return fatal(header_seller, feed_id, &[issue], "unknown seller");
    };
    for (index, msg) in messages.iter().enumerate() {
        let message_id = msg.get("messageId").and_then(as_integer);
        let sku = msg
            .get("sku")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(vs) = by_index.get(&index) {
            let schema: Vec<String> = vs
                .iter()
                .filter(|v| v.is_schema_rule())
                .map(|v| format!("{}: {}", v.pointer, v.message))
                .collect();
            let base = Issue {
                message_id,
                sku: sku.clone(),
                code: "4002008",
                severity: Severity::Error,
                message: String::new(),
                attribute_name: None,
            };
            if !schema.is_empty() {
                issues.push(Issue {
                    message: format!(
                        "The provided message did not meet the schema validation requirements for a feed message. ({})",
                        schema.join("; ")
                    ),
                    ..base.clone()
                });
            }
            for v in vs.iter().filter(|v| !v.is_schema_rule()) {
                issues.push(Issue {
                    code: "4002009",
                    message: format!(
                        "{}: the messageId must be unique within the feed.",
                        v.message
                    ),
                    ..base.clone()
                });
            }
            continue;
        }
        let Some(m) = msg.as_object() else { continue };
        let Some(sku) = sku else { continue };
        let outcome = apply_message(&mut seller.listings, rng, &marketplace, &sku, m, now);
        let has_error = outcome.iter().any(|i| i.severity == Severity::Error);
        for mut i in outcome {
            i.message_id = message_id;
            i.sku = Some(sku.clone());
            issues.push(i);
        }
        if !has_error {
            accepted += 1;
            accepted_skus.push(sku.clone());
            changed.insert(sku);
        }
    }
    let items = header_report.map(|r| {
        let included: Vec<&str> = r["includedData"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        accepted_skus
            .iter()
            .filter(|s| seen.insert((*s).clone()))
            .filter_map(|s| {
                seller
                    .listings
                    .get(&(marketplace.clone(), s.clone()))
                    .map(|l| listing_item(l, &included))
            })
            .collect::<Vec<_>>()
    });
    let report = report_json(
        seller_id,
        feed_id,
        header_report,
        &issues,
        messages.len(),
        accepted,
        items,
    );
    Processing {
        fatal: false,
        report: serde_json::to_vec_pretty(&report).unwrap_or_default(),
        report_content_type: REPORT_CONTENT_TYPE.to_string(),
        effects: json!({
            "recordsProcessed": messages.len(),
            "recordsAccepted": accepted,
            "recordsRejected": messages.len() - accepted,
            "ordersChanged": [],
            "listingsChanged": changed.into_iter().collect::<Vec<_>>(),
        }),
    }
}

/// A listings item as the Listings Items API 2021-08-01 would return it, limited to the data
/// sets the simulator carries (`summaries`, `attributes`, `issues`, `offers`,
/// `fulfillmentAvailability`, `productTypes`; `procurement` and `relationships` are empty).
fn listing_item(l: &ListingSpec, included: &[&str]) -> Value {
    let mut item = Map::new();
    item.insert("sku".into(), json!(l.sku));
    let currency = l
        .currency
        .clone()
        .unwrap_or_else(|| currency_of(&l.marketplace_id).to_string());
    for data in included {
        let v = match *data {
            "summaries" => json!([{
                "marketplaceId": l.marketplace_id,
                "asin": l.asin,
                "productType": l.product_type,
                "conditionType": if l.condition == "new" { "new_new".to_string() } else { l.condition.clone() },
                "status": if l.status.eq_ignore_ascii_case("Active") { json!(["BUYABLE", "DISCOVERABLE"]) } else { json!(["DISCOVERABLE"]) },
                "itemName": l.title,
                "createdDate": l.open_date.map(format_datetime),
                "lastUpdatedDate": l.open_date.map(format_datetime),
            }]),
            "attributes" => attributes_of(l, &currency),
            "issues" => json!([]),
            "offers" => match &l.price {
                Some(p) => json!([{
                    "marketplaceId": l.marketplace_id,
                    "offerType": "B2C",
                    "price": { "currencyCode": currency, "amount": p },
                    "audience": { "value": "ALL", "displayName": "Sell on Amazon" },
                }]),
                None => json!([]),
            },
            "fulfillmentAvailability" => json!([{
                "fulfillmentChannelCode": l.fulfillment_channel,
                "quantity": l.quantity,
            }]),
            "productTypes" => json!([{
                "marketplaceId": l.marketplace_id,
                "productType": l.product_type,
            }]),
            _ => json!([]),
        };
        item.insert((*data).to_string(), v);
    }
    Value::Object(item)
}

fn attributes_of(l: &ListingSpec, currency: &str) -> Value {
    let mut fa =
        json!({ "fulfillment_channel_code": l.fulfillment_channel, "quantity": l.quantity });
    if let Some(d) = l.lead_time_days {
        fa["lead_time_to_ship_max_days"] = json!(d);
    }
    let mut attrs = json!({
        "item_name": [{ "value": l.title, "marketplace_id": l.marketplace_id }],
        "fulfillment_availability": [fa],
    });
    if let Some(p) = &l.price {
        let amount: Value = Decimal::from_str(p)
            .ok()
            .and_then(|d| serde_json::from_str(&d.normalize().to_string()).ok())
            .unwrap_or_else(|| json!(p));
        attrs["purchasable_offer"] = json!([{
            "marketplace_id": l.marketplace_id,
            "currency": currency,
            "audience": "ALL",
            "our_price": [{ "schedule": [{ "value_with_tax": amount }] }],
        }]);
    }
    attrs
}

/// Currency of a marketplace (the world's marketplace table is the one home of it).
pub fn currency_of(marketplace_id: &str) -> &'static str {
    crate::world::marketplace(marketplace_id).currency
}

/// Why one attribute change cannot be applied.
struct AttrError {
    code: &'static str,
    message: String,
    attribute: String,
}

impl AttrError {
    fn new(code: &'static str, attribute: &str, message: String) -> Self {
        Self {
            code,
            message,
            attribute: attribute.to_string(),
        }
    }

    fn into_issue(self) -> Issue {
        Issue {
            message_id: None,
            sku: None,
            code: self.code,
            severity: Severity::Error,
            message: self.message,
            attribute_name: Some(self.attribute),
        }
    }
}

fn message_error(code: &'static str, message: String) -> Issue {
    Issue {
        message_id: None,
        sku: None,
        code,
        severity: Severity::Error,
        message,
        attribute_name: None,
    }
}

/// Applies one schema-valid message; returns its issues (any ERROR means nothing changed).
fn apply_message(
    listings: &mut BTreeMap<(String, String), ListingSpec>,
    rng: &mut Rng,
    marketplace: &str,
    sku: &str,
    m: &Map<String, Value>,
    now: OffsetDateTime,
) -> Vec<Issue> {
    let key = (marketplace.to_string(), sku.to_string());
    let op = m.get("operationType").and_then(Value::as_str).unwrap_or("");
    let not_found = || {
        vec![message_error(
            "4000001",
            format!(
                "The SKU '{sku}' has no listing in marketplace {marketplace}; it cannot be patched. Create it with an UPDATE message first."
            ),
        )]
    };
    match op {
        "DELETE" => {
            if listings.remove(&key).is_some() {
                Vec::new()
            } else {
                vec![Issue {
                    severity: Severity::Warning,
                    ..message_error(
                        "4000006",
                        format!(
                            "The SKU '{sku}' has no listing in marketplace {marketplace}; there was nothing to delete."
                        ),
                    )
                }]
            }
        }
        "PATCH" => {
            let Some(current) = listings.get(&key) else {
                return not_found();
            };
            let mut l = current.clone();
            let mut errors = Vec::new();
            let patches = m
                .get("patches")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for patch in patches {
                if let Err(e) = apply_patch(&mut l, patch, marketplace) {
                    errors.push(e.into_issue());
                }
            }
            if errors.is_empty() {
                listings.insert(key, l);
            }
            errors
        }
        "PARTIAL_UPDATE" => {
            let Some(current) = listings.get(&key) else {
                return not_found();
            };
            let mut l = current.clone();
            let errors = apply_attributes(&mut l, m, marketplace, "LISTING");
            if errors.is_empty() {
                listings.insert(key, l);
            }
            errors
        }
        "UPDATE" => {
            let requirements = m
                .get("requirements")
                .and_then(Value::as_str)
                .unwrap_or("LISTING");
            let attrs = m.get("attributes").and_then(Value::as_object);
            let existing = listings.get(&key).cloned();
            let is_new = existing.is_none();
            if is_new
                && requirements != "LISTING_OFFER_ONLY"
                && attrs.is_none_or(|a| !a.contains_key("item_name"))
            {
                return vec![Issue {
                    attribute_name: Some("item_name".into()),
                    ..message_error(
                        "90220",
                        "'[item_name]' is required but not supplied.".into(),
                    )
                }];
            }
            let mut l = existing.unwrap_or_else(|| new_listing(sku, marketplace, m, rng, now));
            if let Some(pt) = m.get("productType").and_then(Value::as_str) {
                l.product_type = pt.to_string();
            }
            if requirements != "LISTING_PRODUCT_ONLY" {
                // UPDATE replaces the full set of attributes: an offer left out is dropped.
                l.quantity = 0;
                l.lead_time_days = None;
                l.price = None;
            }
            let errors = apply_attributes(&mut l, m, marketplace, requirements);
            if errors.is_empty() {
                listings.insert(key, l);
            }
            errors
        }
        _ => vec![message_error(
            "4002008",
            format!("Unsupported operationType '{op}'."),
        )],
    }
}

fn new_listing(
    sku: &str,
    marketplace: &str,
    m: &Map<String, Value>,
    rng: &mut Rng,
    now: OffsetDateTime,
) -> ListingSpec {
    let asin = m
        .get("attributes")
        .and_then(|a| a.get("merchant_suggested_asin"))
        .and_then(|v| v.get(0))
        .and_then(|v| v.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("B0{:08X}", rng.below(0xFFFF_FFFF)));
    ListingSpec {
        sku: sku.to_string(),
        asin,
        title: String::new(),
        price: None,
        currency: None,
        quantity: 0,
        marketplace_id: marketplace.to_string(),
        fulfillment_channel: "DEFAULT".into(),
        status: "Active".into(),
        product_type: "PRODUCT".into(),
        lead_time_days: None,
        condition: "new".into(),
        open_date: Some(now),
    }
}

/// `attributes` of UPDATE / PARTIAL_UPDATE, each applied like a `replace` patch.
fn apply_attributes(
    l: &mut ListingSpec,
    m: &Map<String, Value>,
    marketplace: &str,
    requirements: &str,
) -> Vec<Issue> {
    let mut errors = Vec::new();
    let Some(attrs) = m.get("attributes").and_then(Value::as_object) else {
        return errors;
    };
    for (name, value) in attrs {
        let is_offer = matches!(
            name.as_str(),
            "fulfillment_availability" | "purchasable_offer"
        );
        // LISTING_PRODUCT_ONLY carries product facts only, LISTING_OFFER_ONLY sales terms only
        // (schema description of `requirements`): the other kind is not applied.
        if (is_offer && requirements == "LISTING_PRODUCT_ONLY")
            || (!is_offer && requirements == "LISTING_OFFER_ONLY")
        {
            continue;
        }
        if let Err(e) = apply_attribute(l, name, "replace", Some(value), marketplace) {
            errors.push(e.into_issue());
        }
    }
    errors
}

fn apply_patch(l: &mut ListingSpec, patch: &Value, marketplace: &str) -> Result<(), AttrError> {
    let op = patch.get("op").and_then(Value::as_str).unwrap_or("");
    let path = patch.get("path").and_then(Value::as_str).unwrap_or("");
    let name = path
        .strip_prefix("/attributes/")
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(|n| n.replace("~1", "/").replace("~0", "~"))
        .ok_or_else(|| {
            AttrError::new(
                "4000002",
                path,
                format!(
                    "The patch path '{path}' is not supported; use '/attributes/{{attributeName}}'."
                ),
            )
        })?;
    let value = patch.get("value");
    if op != "delete" && value.is_none() {
        return Err(AttrError::new(
            "4000004",
            &name,
            format!("The patch op '{op}' on '{path}' requires a 'value'."),
        ));
    }
    apply_attribute(l, &name, op, value, marketplace)
}

/// The objects of an attribute value (attributes are arrays of objects).
fn entries<'a>(
    value: Option<&'a Value>,
    name: &str,
) -> Result<Vec<&'a Map<String, Value>>, AttrError> {
    let invalid = || {
        AttrError::new(
            "4000003",
            name,
            format!("The value of '{name}' must be an array of objects."),
        )
    };
    let arr = value.and_then(Value::as_array).ok_or_else(invalid)?;
    arr.iter()
        .map(|v| v.as_object().ok_or_else(invalid))
        .collect()
}

fn non_negative_int(
    e: &Map<String, Value>,
    key: &str,
    attribute: &str,
) -> Result<Option<i64>, AttrError> {
    match e.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match as_integer(v) {
            Some(n) if n >= 0 => Ok(Some(n)),
            _ => Err(AttrError::new(
                "4000003",
                attribute,
                format!("The value '{v}' of '{attribute}' must be an integer of 0 or more."),
            )),
        },
    }
}

fn apply_attribute(
    l: &mut ListingSpec,
    name: &str,
    op: &str,
    value: Option<&Value>,
    marketplace: &str,
) -> Result<(), AttrError> {
    match name {
        "fulfillment_availability" => {
            if op == "delete" {
                l.quantity = 0;
                l.lead_time_days = None;
                return Ok(());
            }
            for e in entries(value, name)? {
                let Some(code) = e.get("fulfillment_channel_code").and_then(Value::as_str) else {
                    return Err(AttrError::new(
                        "4000003",
                        "fulfillment_availability.fulfillment_channel_code",
                        "'fulfillment_channel_code' is required in every fulfillment_availability value.".into(),
                    ));
                };
                let quantity =
                    non_negative_int(e, "quantity", "fulfillment_availability.quantity")?;
                let lead = non_negative_int(
                    e,
                    "lead_time_to_ship_max_days",
                    "fulfillment_availability.lead_time_to_ship_max_days",
                )?;
                if code == "DEFAULT" {
                    l.fulfillment_channel = "DEFAULT".into();
                    if op == "merge" {
                        // merge updates only the members supplied (2025-06-16 changelog).
                        if let Some(q) = quantity {
                            l.quantity = q;
                        }
                        if lead.is_some() {
                            l.lead_time_days = lead;
                        }
                    } else {
                        // replace / add overwrite the whole record: omitted members drop.
                        l.quantity = quantity.unwrap_or(0);
                        l.lead_time_days = lead;
                    }
                } else {
                    // An Amazon channel (AMAZON_NA, AMAZON_EU, ...): the listing becomes
                    // FBA and Amazon owns the quantity.
                    l.fulfillment_channel = code.to_string();
                    l.quantity = 0;
                    l.lead_time_days = None;
                }
            }
            Ok(())
        }
        "purchasable_offer" => {
            if op == "delete" {
                l.price = None;
                return Ok(());
            }
            let list = entries(value, name)?;
            // Offers are keyed by marketplace, audience and currency; the simulator keeps
            // one price per listing: the marketplace's ALL-audience offer.
            let chosen = list.into_iter().find(|e| {
                e.get("marketplace_id")
                    .and_then(Value::as_str)
                    .is_none_or(|m| m == marketplace)
                    && e.get("audience")
                        .and_then(Value::as_str)
                        .is_none_or(|a| a == "ALL")
            });
            let Some(e) = chosen else { return Ok(()) };
            if let Some(c) = e.get("currency") {
                let c = c.as_str().ok_or_else(|| {
                    AttrError::new(
                        "4000003",
                        "purchasable_offer.currency",
                        "'currency' must be a string.".into(),
                    )
                })?;
                l.currency = Some(c.to_string());
            }
            match e.get("our_price") {
                None if op == "merge" => {}
                None => l.price = None,
                Some(p) => {
                    let amount = p
                        .get(0)
                        .and_then(|p| p.get("schedule"))
                        .and_then(|s| s.get(0))
                        .and_then(|s| s.get("value_with_tax"));
                    let price = amount
                        .and_then(Value::as_number)
                        .and_then(|n| price_string(&n.to_string(), l.currency.as_deref()))
                        .ok_or_else(|| {
                            AttrError::new(
                                "4000003",
                                "purchasable_offer.our_price",
                                "'our_price' must be [{\"schedule\":[{\"value_with_tax\": <number of 0 or more>}]}].".into(),
                            )
                        })?;
                    l.price = Some(price);
                }
            }
            Ok(())
        }
        "item_name" => {
            if op == "delete" {
                return Ok(());
            }
            let list = entries(value, name)?;
            let chosen = list
                .iter()
                .find(|e| e.get("marketplace_id").and_then(Value::as_str) == Some(marketplace))
                .or_else(|| list.first());
            if let Some(title) = chosen.and_then(|e| e.get("value")).and_then(Value::as_str) {
                l.title = title.to_string();
            }
            Ok(())
        }
        // Other attributes need the product type's definition to check; accepted, ignored.
        _ => Ok(()),
    }
}

/// A JSON number as the decimal price string the listing keeps (`19.99`, `5980` in JPY).
fn price_string(number: &str, currency: Option<&str>) -> Option<String> {
    let d = Decimal::from_str(number)
        .or_else(|_| Decimal::from_scientific(number))
        .ok()?;
    if d.is_sign_negative() && !d.is_zero() {
        return None;
    }
    Some(if currency == Some("JPY") {
        d.round_dp(0).to_string()
    } else {
        format!("{:.2}", d.round_dp(2))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::feeds::testkit::*;

    fn doc(messages: Value) -> Value {
        json!({ "header": { "sellerId": SELLER, "version": "2.0", "issueLocale": "en_US" }, "messages": messages })
    }

    fn patch(id: i64, sku: &str, op: &str, path: &str, value: Value) -> Value {
        json!({ "messageId": id, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
                "patches": [{ "op": op, "path": path, "value": value }] })
    }

    fn run(st: &mut State, d: &Value) -> (Processing, Value) {
        let p = process(
            st,
            SELLER,
            "50000000123",
            &[US.to_string()],
            d.to_string().as_bytes(),
            start(),
        );
        let report: Value = serde_json::from_slice(&p.report).unwrap();
        assert_report_shape(&report);
        (p, report)
    }

    fn listing(st: &State, sku: &str) -> Option<ListingSpec> {
        st.sellers[SELLER]
            .listings
            .get(&(US.to_string(), sku.to_string()))
            .cloned()
    }

    /// The rules of listings-feed-processing-report-schema-v2.json, checked by hand.
    fn assert_report_shape(r: &Value) {
        let h = &r["header"];
        assert!(h["sellerId"].is_string() && h["feedId"].is_string(), "{r}");
        assert_eq!(h["version"], "2.0");
        for issue in r["issues"].as_array().expect("issues array") {
            let o = issue.as_object().unwrap();
            assert!(
                o.keys().all(|k| [
                    "messageId",
                    "sku",
                    "code",
                    "severity",
                    "message",
                    "attributeName"
                ]
                .contains(&k.as_str())),
                "{issue}"
            );
            assert!(["ERROR", "WARNING", "INFO"].contains(&issue["severity"].as_str().unwrap()));
            assert!(!issue["message"].as_str().unwrap().is_empty());
            if let Some(id) = o.get("messageId") {
                assert!(id.as_i64().unwrap() >= 1);
            }
            for k in ["sku", "code"] {
                if let Some(v) = o.get(k) {
                    assert!(!v.as_str().unwrap().is_empty());
                }
            }
        }
        for k in [
            "errors",
            "warnings",
            "messagesProcessed",
            "messagesAccepted",
            "messagesInvalid",
        ] {
            assert!(r["summary"][k].as_u64().is_some(), "summary.{k}: {r}");
        }
        if let Some(items) = r.get("items") {
            assert!(
                items
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|i| i.as_object().is_some_and(|o| !o.is_empty()))
            );
            for k in ["items", "errors", "warnings"] {
                assert!(r["summary"]["itemSummary"][k].as_u64().is_some());
            }
        }
    }

    #[test]
    fn amazons_example_feed_is_valid() {
        let d = json!({
            "header": { "sellerId": "AXXXXXXXXXXXX", "version": "2.0", "issueLocale": "en_US",
                        "report": { "includedData": ["summaries", "issues"], "apiVersion": "2021-08-01" } },
            "messages": [
                { "messageId": 1, "sku": "A", "operationType": "DELETE" },
                { "messageId": 2, "sku": "B", "operationType": "PARTIAL_UPDATE", "productType": "LUGGAGE",
                  "attributes": { "fulfillment_availability": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 10 }] } },
                { "messageId": 3, "sku": "C", "operationType": "UPDATE", "productType": "LUGGAGE", "requirements": "LISTING",
                  "attributes": { "item_name": [{ "value": "My Title" }] } },
                { "messageId": 4, "sku": "D", "operationType": "PATCH", "productType": "LUGGAGE",
                  "patches": [{ "op": "merge", "path": "/attributes/fulfillment_availability",
                                "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 10 }] }] },
            ],
        });

        assert!(document_is_valid(&d));
        assert!(validate_document(&d).is_empty());
    }

    #[test]
    fn message_rules_match_the_message_schema() {
        let base = || {
            json!({ "messageId": 1, "sku": "S", "operationType": "PATCH", "productType": "P",
                              "patches": [{ "op": "replace", "path": "/attributes/x", "value": [{}] }] })
        };
        let with = |k: &str, v: Value| {
            let mut m = base();
            m[k] = v;
            m
        };
        let without = |k: &str| {
            let mut m = base();
            m.as_object_mut().unwrap().remove(k);
            m
        };
        let valid = vec![
            base(),
            json!({ "messageId": 7, "sku": "S", "operationType": "DELETE" }),
            json!({ "messageId": 7, "sku": "S", "operationType": "DELETE", "extra": true }),
            with("messageId", json!(1.0)),
            with("messageId", json!(3_000_000_000u64)),
            with(
                "patches",
                json!([{ "op": "delete", "path": "/attributes/x" }]),
            ),
            with(
                "patches",
                json!([{ "op": "add", "path": "not a pointer", "value": [] }]),
            ),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "productType": "P", "requirements": "LISTING_OFFER_ONLY", "attributes": { "a": 1 } }),
            json!({ "messageId": 1, "sku": "S", "operationType": "PARTIAL_UPDATE", "productType": "P", "attributes": { "a": [] } }),
        ];
        let invalid = vec![
            json!([]),
            without("messageId"),
            without("sku"),
            without("operationType"),
            with("messageId", json!(0)),
            with("messageId", json!("1")),
            with("messageId", json!(1.5)),
            with("sku", json!("")),
            with("sku", json!(5)),
            with("operationType", json!("CREATE")),
            with("productType", json!("")),
            with("requirements", json!("LISTING")),
            with("attributes", json!({ "a": 1 })),
            without("patches"),
            without("productType"),
            with("patches", json!([])),
            with("patches", json!({})),
            with("patches", json!(["x"])),
            with(
                "patches",
                json!([{ "op": "remove", "path": "/attributes/x" }]),
            ),
            with("patches", json!([{ "op": "add" }])),
            with("patches", json!([{ "path": "/attributes/x" }])),
            with("patches", json!([{ "op": "add", "path": 5 }])),
            with(
                "patches",
                json!([{ "op": "add", "path": "/a", "value": {} }]),
            ),
            with(
                "patches",
                json!([{ "op": "add", "path": "/a", "value": [1] }]),
            ),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "attributes": { "a": 1 } }),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "productType": "P" }),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "productType": "P", "attributes": {} }),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "productType": "P", "attributes": [] }),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "productType": "P", "attributes": { "a": 1 }, "patches": [{ "op": "add", "path": "/a" }] }),
            json!({ "messageId": 1, "sku": "S", "operationType": "UPDATE", "productType": "P", "attributes": { "a": 1 }, "requirements": "ALL" }),
            json!({ "messageId": 1, "sku": "S", "operationType": "PARTIAL_UPDATE", "productType": "P", "attributes": { "a": 1 }, "requirements": "LISTING" }),
            json!({ "messageId": 1, "sku": "S", "operationType": "PARTIAL_UPDATE", "attributes": { "a": 1 } }),
            json!({ "messageId": 1, "sku": "S", "operationType": "DELETE", "productType": "P" }),
            json!({ "messageId": 1, "sku": "S", "operationType": "DELETE", "requirements": "LISTING" }),
            json!({ "messageId": 1, "sku": "S", "operationType": "DELETE", "attributes": { "a": 1 } }),
            json!({ "messageId": 1, "sku": "S", "operationType": "DELETE", "patches": [{ "op": "add", "path": "/a" }] }),
        ];

        for m in &valid {
            assert!(
                message_is_valid(m),
                "should be valid: {m} {:?}",
                validate_message(m)
            );
        }
        for m in &invalid {
            assert!(!message_is_valid(m), "should be invalid: {m}");
        }
    }

    #[test]
    fn document_rules_match_the_feed_schema() {
        let ok_msg = json!({ "messageId": 1, "sku": "S", "operationType": "DELETE" });
        let header = |h: Value| json!({ "header": h, "messages": [ok_msg] });
        let many: Vec<Value> = (1..=25_001)
            .map(|i| json!({ "messageId": i, "sku": "S", "operationType": "DELETE" }))
            .collect();
        let invalid = vec![
            json!("feed"),
            json!({ "messages": [ok_msg] }),
            json!({ "header": { "sellerId": "S", "version": "2.0" } }),
            json!({ "header": { "sellerId": "S", "version": "2.0" }, "messages": [] }),
            json!({ "header": { "sellerId": "S", "version": "2.0" }, "messages": {} }),
            json!({ "header": { "sellerId": "S", "version": "2.0" }, "messages": many }),
            json!({ "header": { "sellerId": "S", "version": "2.0" }, "messages": [{ "messageId": 2_147_483_648u64, "sku": "S", "operationType": "DELETE" }] }),
            header(json!([])),
            header(json!({ "version": "2.0" })),
            header(json!({ "sellerId": "S" })),
            header(json!({ "sellerId": 1, "version": "2.0" })),
            header(json!({ "sellerId": "S", "version": "1.0" })),
            header(json!({ "sellerId": "S", "version": 2.0 })),
            header(json!({ "sellerId": "S", "version": "2.0", "issueLocale": 1 })),
            header(
                json!({ "sellerId": "S", "version": "2.0", "report": { "includedData": [], "apiVersion": "2021-08-01" } }),
            ),
            header(
                json!({ "sellerId": "S", "version": "2.0", "report": { "includedData": ["everything"], "apiVersion": "2021-08-01" } }),
            ),
            header(
                json!({ "sellerId": "S", "version": "2.0", "report": { "includedData": ["issues"] } }),
            ),
            header(
                json!({ "sellerId": "S", "version": "2.0", "report": { "includedData": ["issues"], "apiVersion": "2020-09-01" } }),
            ),
        ];
        let valid = vec![
            header(json!({ "sellerId": "S", "version": "2.0", "anything": 1 })),
            json!({ "header": { "sellerId": "", "version": "2.0" }, "messages": [ok_msg], "extra": [] }),
            json!({ "header": { "sellerId": "S", "version": "2.0" }, "messages": [{ "messageId": 2_147_483_647u64, "sku": "S", "operationType": "DELETE" }] }),
        ];

        for d in &invalid {
            assert!(
                !document_is_valid(d),
                "should be invalid: {}",
                d.to_string().chars().take(200).collect::<String>()
            );
        }
        for d in &valid {
            assert!(
                document_is_valid(d),
                "should be valid: {d} {:?}",
                validate_document(d)
            );
        }
    }

    #[test]
    fn duplicate_message_ids_are_reported_but_are_not_a_schema_rule() {
        let d = doc(json!([
            { "messageId": 1, "sku": "SKU-1", "operationType": "DELETE" },
            { "messageId": 1, "sku": "SKU-2", "operationType": "DELETE" },
        ]));
        let mut st = state();

        let violations = validate_document(&d);
        let (_, report) = run(&mut st, &d);

        assert!(document_is_valid(&d));
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].keyword, UNIQUE_MESSAGE_ID);
        assert_eq!(report["issues"][0]["code"], "4002009");
        assert_eq!(report["issues"][0]["sku"], "SKU-2");
        assert!(listing(&st, "SKU-1").is_none());
        assert!(listing(&st, "SKU-2").is_some());
    }

    #[test]
    fn patch_sets_quantity_lead_time_and_price() {
        let mut st = state();
        let d = doc(json!([
            patch(
                1,
                "SKU-1",
                "replace",
                "/attributes/fulfillment_availability",
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 11, "lead_time_to_ship_max_days": 4 }])
            ),
            patch(
                2,
                "SKU-1",
                "replace",
                "/attributes/purchasable_offer",
                json!([{ "marketplace_id": US, "currency": "USD", "audience": "ALL",
                           "our_price": [{ "schedule": [{ "value_with_tax": 19.9 }] }] }])
            ),
        ]));

        let (p, report) = run(&mut st, &d);

        let l = listing(&st, "SKU-1").unwrap();
        assert_eq!((l.quantity, l.lead_time_days), (11, Some(4)));
        assert_eq!(l.price.as_deref(), Some("19.90"));
        assert_eq!(l.currency.as_deref(), Some("USD"));
        assert_eq!(
            report["summary"],
            json!({ "errors": 0, "warnings": 0, "messagesProcessed": 2, "messagesAccepted": 2, "messagesInvalid": 0 })
        );
        assert_eq!(report["issues"], json!([]));
        assert_eq!(
            report["header"],
            json!({ "sellerId": SELLER, "version": "2.0", "feedId": "50000000123" })
        );
        assert_eq!(p.effects["listingsChanged"], json!(["SKU-1"]));
        assert!(!p.fatal);
        assert_eq!(p.report_content_type, "application/json");
    }

    #[test]
    fn merge_keeps_what_it_does_not_mention_and_replace_drops_it() {
        let mut st = state();
        let fa = "/attributes/fulfillment_availability";

        run(
            &mut st,
            &doc(json!([patch(
                1,
                "SKU-1",
                "merge",
                fa,
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 5 }])
            )])),
        );
        let merged = listing(&st, "SKU-1").unwrap();
        run(
            &mut st,
            &doc(json!([patch(
                1,
                "SKU-1",
                "replace",
                fa,
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 6 }])
            )])),
        );
        let replaced = listing(&st, "SKU-1").unwrap();
        run(
            &mut st,
            &doc(
                json!([{ "messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "PRODUCT",
                                     "patches": [{ "op": "delete", "path": "/attributes/purchasable_offer" }] }]),
            ),
        );

        assert_eq!((merged.quantity, merged.lead_time_days), (5, Some(2)));
        assert_eq!((replaced.quantity, replaced.lead_time_days), (6, None));
        assert_eq!(listing(&st, "SKU-1").unwrap().price, None);
    }

    #[test]
    fn delete_removes_the_listing_and_unknown_delete_is_a_warning() {
        let mut st = state();

        let (_, report) = run(
            &mut st,
            &doc(json!([
                { "messageId": 1, "sku": "SKU-2", "operationType": "DELETE" },
                { "messageId": 2, "sku": "NOPE", "operationType": "DELETE" },
            ])),
        );

        assert!(listing(&st, "SKU-2").is_none());
        assert_eq!(report["summary"]["messagesAccepted"], 2);
        assert_eq!(report["summary"]["warnings"], 1);
        assert_eq!(report["issues"][0]["severity"], "WARNING");
        assert_eq!(report["issues"][0]["messageId"], 2);
    }

    #[test]
    fn patch_of_an_unknown_sku_is_an_error_issue() {
        let mut st = state();

        let (p, report) = run(
            &mut st,
            &doc(json!([patch(
                3,
                "NOPE",
                "replace",
                "/attributes/fulfillment_availability",
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 1 }])
            ),])),
        );

        let issue = &report["issues"][0];
        assert_eq!(
            (
                issue["messageId"].clone(),
                issue["sku"].clone(),
                issue["code"].clone(),
                issue["severity"].clone()
            ),
            (json!(3), json!("NOPE"), json!("4000001"), json!("ERROR"))
        );
        assert_eq!(report["summary"]["messagesInvalid"], 1);
        assert!(listing(&st, "NOPE").is_none());
        assert_eq!(p.effects["listingsChanged"], json!([]));
    }

    #[test]
    fn unusable_values_and_paths_reject_the_whole_message() {
        let mut st = state();
        let fa = "/attributes/fulfillment_availability";

        let (_, report) = run(
            &mut st,
            &doc(json!([
                { "messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "PRODUCT", "patches": [
                    { "op": "replace", "path": fa, "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 99 }] },
                    { "op": "replace", "path": fa, "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": -1 }] },
                ] },
                patch(2, "SKU-1", "replace", "/summaries/0", json!([{}])),
                { "messageId": 3, "sku": "SKU-1", "operationType": "PATCH", "productType": "PRODUCT", "patches": [{ "op": "replace", "path": fa }] },
                patch(4, "SKU-1", "replace", "/attributes/purchasable_offer", json!([{ "our_price": [{ "schedule": [{ "value_with_tax": "cheap" }] }] }])),
                patch(5, "SKU-1", "merge", fa, json!([{ "quantity": 1 }])),
            ])),
        );

        let codes: Vec<&str> = report["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            vec!["4000003", "4000002", "4000004", "4000003", "4000003"]
        );
        assert_eq!(
            report["issues"][0]["attributeName"],
            "fulfillment_availability.quantity"
        );
        assert_eq!(report["summary"]["messagesInvalid"], 5);
        assert_eq!(listing(&st, "SKU-1").unwrap().quantity, 7);
    }

    #[test]
    fn update_creates_a_new_listing_and_replaces_the_offer_of_an_existing_one() {
        let mut st = state();
        let (_, report) = run(
            &mut st,
            &doc(json!([
                { "messageId": 1, "sku": "NEW-1", "operationType": "UPDATE", "productType": "HOME",
                  "attributes": { "item_name": [{ "value": "Teapot", "marketplace_id": US }],
                                  "merchant_suggested_asin": [{ "value": "B0TEAPOT01" }],
                                  "fulfillment_availability": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 2 }],
                                  "color": [{ "value": "red" }] } },
                { "messageId": 2, "sku": "SKU-1", "operationType": "UPDATE", "productType": "PRODUCT",
                  "attributes": { "fulfillment_availability": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 1 }] } },
                { "messageId": 3, "sku": "NEW-2", "operationType": "UPDATE", "productType": "HOME",
                  "attributes": { "fulfillment_availability": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 2 }] } },
            ])),
        );

        let new = listing(&st, "NEW-1").unwrap();
        assert_eq!(
            (
                new.title.as_str(),
                new.asin.as_str(),
                new.product_type.as_str(),
                new.quantity
            ),
            ("Teapot", "B0TEAPOT01", "HOME", 2)
        );
        assert_eq!(new.open_date, Some(start()));
        let existing = listing(&st, "SKU-1").unwrap();
        assert_eq!(
            (
                existing.quantity,
                existing.price.clone(),
                existing.title.as_str()
            ),
            (1, None, "Mug")
        );
        assert_eq!(report["issues"][0]["code"], "90220");
        assert_eq!(report["issues"][0]["messageId"], 3);
        assert!(listing(&st, "NEW-2").is_none());
    }

    #[test]
    fn partial_update_replaces_only_the_given_attributes() {
        let mut st = state();

        run(
            &mut st,
            &doc(json!([
                { "messageId": 1, "sku": "SKU-1", "operationType": "PARTIAL_UPDATE", "productType": "PRODUCT",
                  "attributes": { "purchasable_offer": [{ "marketplace_id": US, "currency": "USD", "audience": "ALL",
                                                           "our_price": [{ "schedule": [{ "value_with_tax": 30 }] }] }] } },
            ])),
        );

        let l = listing(&st, "SKU-1").unwrap();
        assert_eq!(
            (l.price.as_deref(), l.quantity, l.lead_time_days),
            (Some("30.00"), 7, Some(2))
        );
    }

    #[test]
    fn schema_invalid_message_is_rejected_and_its_siblings_applied() {
        let mut st = state();

        let (_, report) = run(
            &mut st,
            &doc(json!([
                { "messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "PRODUCT", "attributes": { "a": 1 } },
                patch(2, "SKU-2", "replace", "/attributes/fulfillment_availability", json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 0 }])),
            ])),
        );

        assert_eq!(report["issues"].as_array().unwrap().len(), 1);
        assert_eq!(report["issues"][0]["code"], "4002008");
        assert_eq!(report["issues"][0]["messageId"], 1);
        assert!(
            report["issues"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(
                    "The provided message did not meet the schema validation requirements"
                )
        );
        assert_eq!(
            report["summary"],
            json!({ "errors": 1, "warnings": 0, "messagesProcessed": 2, "messagesAccepted": 1, "messagesInvalid": 1 })
        );
        assert_eq!(listing(&st, "SKU-2").unwrap().quantity, 0);
        assert_eq!(listing(&st, "SKU-1").unwrap().quantity, 7);
    }

    #[test]
    fn document_level_problems_end_the_feed_fatal_with_nothing_applied() {
        let good = patch(
            1,
            "SKU-1",
            "replace",
            "/attributes/fulfillment_availability",
            json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 1 }]),
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "4002001"),
            (b"\xff\xfe".to_vec(), "4002001"),
            (
                json!({ "messages": [good] }).to_string().into_bytes(),
                "4002005",
            ),
            (
                json!({ "header": { "sellerId": SELLER, "version": "1.0" }, "messages": [good] })
                    .to_string()
                    .into_bytes(),
                "4002006",
            ),
            (
                json!({ "header": { "sellerId": SELLER, "version": "2.0" }, "messages": [] })
                    .to_string()
                    .into_bytes(),
                "4002007",
            ),
            (
                json!({ "header": { "sellerId": OTHER, "version": "2.0" }, "messages": [good] })
                    .to_string()
                    .into_bytes(),
                "4002010",
            ),
        ];
        for (bytes, code) in cases {
            let mut st = state();

            let p = process(
                &mut st,
                SELLER,
                "50000000123",
                &[US.to_string()],
                &bytes,
                start(),
            );

            let report: Value = serde_json::from_slice(&p.report).unwrap();
            assert_report_shape(&report);
            assert!(p.fatal, "{code}");
            assert_eq!(report["issues"][0]["code"], code, "{report}");
            assert!(report["issues"][0].get("messageId").is_none());
            assert_eq!(report["summary"]["messagesProcessed"], 0);
            assert_eq!(report["summary"]["errors"], 1);
            assert_eq!(listing(&st, "SKU-1").unwrap().quantity, 7, "{code}");
        }
    }

    #[test]
    fn included_data_adds_the_resulting_items_to_the_report() {
        let mut st = state();
        let mut d = doc(json!([patch(
            1,
            "SKU-1",
            "replace",
            "/attributes/fulfillment_availability",
            json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 3 }])
        )]));
        d["header"]["report"] = json!({ "includedData": ["summaries", "offers", "fulfillmentAvailability"], "apiVersion": "2021-08-01" });

        let (_, report) = run(&mut st, &d);

        let item = &report["items"][0];
        assert_eq!(report["header"]["report"]["apiVersion"], "2021-08-01");
        assert_eq!(item["sku"], "SKU-1");
        assert_eq!(item["summaries"][0]["asin"], "B000000001");
        assert_eq!(
            item["fulfillmentAvailability"][0],
            json!({ "fulfillmentChannelCode": "DEFAULT", "quantity": 3 })
        );
        assert_eq!(
            item["offers"][0]["price"],
            json!({ "currencyCode": "USD", "amount": "12.50" })
        );
        assert_eq!(report["summary"]["itemSummary"]["items"], 1);
    }

    #[test]
    fn scripted_fatal_report_has_one_feed_level_issue() {
        let report: Value =
            serde_json::from_slice(&fatal_report(SELLER, "9", "4002000", "boom")).unwrap();

        assert_report_shape(&report);
        assert_eq!(
            report["issues"],
            json!([{ "code": "4002000", "severity": "ERROR", "message": "boom" }])
        );
    }
}
