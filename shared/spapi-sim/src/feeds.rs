//! Feeds API 2021-06-30 (`feeds_2021-06-30.json`): feed documents, feeds, their lifecycle, and
//! what processing a feed does to the seller's world.
//!
//! Operations: createFeedDocument (201, presigned PUT URL), createFeed (202; JSON_LISTINGS_FEED
//! counts against its own 5-per-5-minutes usage plan), getFeed, getFeeds (newest first, opaque
//! `nextToken`), cancelFeed (200 with an empty body, only while IN_QUEUE), getFeedDocument.
//!
//! **Lifecycle** ([`advance`], run lazily at the start of every request). A feed waits
//! `timing.feedQueueSeconds` IN_QUEUE, then spends `timing.feedProcessingSeconds` IN_PROGRESS.
//! Feeds of one seller are processed one at a time in creation order (Amazon: "IN_QUEUE ... may
//! be waiting for another IN_PROGRESS feed"), so a feed starts at the later of its queue time
//! and the end of the seller's previous feed. At the end the input document is processed by
//! type, its effects are applied to the seller's orders or listings, a processing report is
//! stored as the result document (`resultFeedDocumentId`) and a JSON summary is kept in
//! `Feed::effects` for `GET /_sim/feeds` (`recordsProcessed`, `recordsAccepted`,
//! `recordsRejected`, `ordersChanged`, `listingsChanged`, plus `fatal` or `note` when the feed
//! was not processed normally).
//!
//! By feed type:
//! - POST_FLAT_FILE_FULFILLMENT_DATA: [`crate::fulfillment_feed`], DONE with Amazon's flat
//!   text report;
//! - JSON_LISTINGS_FEED: [`crate::listings_feed`], DONE with a JSON report, or FATAL when the
//!   document itself is unusable;
//! - the legacy XML / flat-file listings feeds Amazon retired on 2025-07-31
//!   ([`RETIRED_FEED_TYPES`]): accepted by createFeed, then FATAL with a report saying so, as
//!   Amazon does since that date (facts §0.2);
//! - any other feed type: DONE with a report saying the simulator did not process it and
//!   nothing was applied (a client sees a finished feed rather than a surprise failure).
//!
//! Scripted outcomes (control API `/_sim/feeds/next-outcome`): FATAL goes through IN_PROGRESS
//! and ends FATAL with nothing applied and a processing report explaining it (Amazon attaches
//! a report to FATAL feeds too); CANCELLED ends CANCELLED when it would have started; STUCK
//! stays IN_QUEUE (it can still be cancelled) without holding up the seller's later feeds.
//!
//! Reports of feeds that were not processed line by line use the flat layout of Amazon's
//! text processing reports with one row, record number 0, and a code of the simulator's own
//! (Amazon's are not in our material): `10090` retired feed type, `10091` feed type not
//! processed (a Warning), `10099` scripted FATAL. A scripted FATAL JSON_LISTINGS_FEED gets a
//! JSON report instead (see [`crate::listings_feed`]).
//!
//! getFeedDocument serves the caller's processing reports. Input documents are write-only
//! here (their presigned URLs are PUT URLs and the document host serves no GET for them), so
//! getFeedDocument answers 404 for them, with a detail saying why.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::fulfillment_feed;
use crate::limits::Operation;
use crate::listings_feed;
use crate::sim::{
    Query, Sim, decode_token, encode_token, format_datetime, is_document_id, is_numeric_id,
};
use crate::state::{DocumentKind, Feed, PlannedOutcome, ProcessingStatus, State as SimState};

/// Legacy listings feed types Amazon retired on 2025-07-31; they end FATAL.
pub const RETIRED_FEED_TYPES: [&str; 14] = [
    "POST_PRODUCT_DATA",
    "POST_INVENTORY_AVAILABILITY_DATA",
    "POST_PRODUCT_PRICING_DATA",
    "POST_PRODUCT_OVERRIDES_DATA",
    "POST_PRODUCT_IMAGE_DATA",
    "POST_PRODUCT_RELATIONSHIP_DATA",
    "POST_FLAT_FILE_LISTINGS_DATA",
    "POST_FLAT_FILE_INVLOADER_DATA",
    "POST_FLAT_FILE_PRICEANDQUANTITYONLY_UPDATE_DATA",
    "POST_FLAT_FILE_BOOKLOADER_DATA",
    "POST_FLAT_FILE_CONVERGENCE_LISTINGS_DATA",
    "POST_FLAT_FILE_LISTINGS_DATA_EXPORT",
    "POST_UIEE_BOOKLOADER_DATA",
    "POST_STD_ACES_DATA",
];

/// Feeds are kept 90 days (getFeeds `createdSince` default).
const RETENTION_DAYS: i64 = 90;
/// Text-report codes of the simulator's own (Amazon's are not in our material).
const CODE_RETIRED: u32 = 10090;
const CODE_NOT_PROCESSED: u32 = 10091;
const CODE_FATAL: u32 = 10099;

/// What processing one feed produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Processing {
    /// End FATAL instead of DONE.
    pub fatal: bool,
    /// The processing report's bytes.
    pub report: Vec<u8>,
    /// The processing report's `Content-Type`.
    pub report_content_type: String,
    /// Summary for `Feed::effects`.
    pub effects: Value,
}

/// A plain-text report for feeds that were not processed line by line: one feed-level line
/// (record 0, no order) in the same layout as the fulfilment feed's report.
fn text_report(code: u32, error_type: &str, message: &str) -> Vec<u8> {
    let line = crate::fulfillment_feed::FlatReportLine {
        record: 0,
        order_id: "",
        order_item_id: "",
        code,
        error_type,
        message,
    };
    crate::fulfillment_feed::render_flat_report(0, 0, [line]).into_bytes()
}

fn nothing_applied(
    fatal: bool,
    report: Vec<u8>,
    content_type: &str,
    why: (&str, &str),
) -> Processing {
    let mut effects = json!({
        "recordsProcessed": 0,
        "recordsAccepted": 0,
        "recordsRejected": 0,
        "ordersChanged": [],
        "listingsChanged": [],
    });
    effects[why.0] = json!(why.1);
    Processing {
        fatal,
        report,
        report_content_type: content_type.to_string(),
        effects,
    }
}

/// Processes `feed`'s input document at `at` and applies its effects.
fn process_feed(st: &mut SimState, feed: &Feed, at: OffsetDateTime) -> Processing {
    let (bytes, content_type) = st
        .documents
        .get(&feed.input_feed_document_id)
        .map(|d| (d.bytes.clone(), d.content_type.clone()))
        .unwrap_or_default();
    if feed.planned == PlannedOutcome::Fatal {
        let message = "The feed could not be processed because of an internal error (scripted FATAL outcome); nothing was applied. Submit it again.";
        return if feed.feed_type == listings_feed::FEED_TYPE {
            nothing_applied(
                true,
                listings_feed::fatal_report(&feed.seller_id, &feed.feed_id, "4002000", message),
                listings_feed::REPORT_CONTENT_TYPE,
                ("fatal", "scripted FATAL outcome"),
            )
        } else {
            nothing_applied(
                true,
                text_report(CODE_FATAL, "Error", message),
                fulfillment_feed::REPORT_CONTENT_TYPE,
                ("fatal", "scripted FATAL outcome"),
            )
        };
    }
    match feed.feed_type.as_str() {
        fulfillment_feed::FEED_TYPE => fulfillment_feed::process(
            st,
            &feed.seller_id,
            &feed.marketplace_ids,
            &bytes,
            &content_type,
            at,
        ),
        listings_feed::FEED_TYPE => listings_feed::process(
            st,
            &feed.seller_id,
            &feed.feed_id,
            &feed.marketplace_ids,
            &bytes,
            at,
        ),
        t if RETIRED_FEED_TYPES.contains(&t) => nothing_applied(
            true,
            text_report(
                CODE_RETIRED,
                "Error",
                &format!(
                    "The feed type {t} was retired on 2025-07-31; nothing was applied. Use JSON_LISTINGS_FEED for listings."
                ),
            ),
            fulfillment_feed::REPORT_CONTENT_TYPE,
            ("fatal", "retired feed type"),
        ),
        t => nothing_applied(
            false,
            text_report(
                CODE_NOT_PROCESSED,
                "Warning",
                &format!(
                    "The simulator does not process feed type {t}; the document was received and nothing was applied."
                ),
            ),
            fulfillment_feed::REPORT_CONTENT_TYPE,
            ("note", "feed type not processed by the simulator"),
        ),
    }
}

/// Ends a feed at `at`: processes it and stores its processing report.
fn finish(st: &mut SimState, feed_id: &str, at: OffsetDateTime) {
    let Some(feed) = st.feeds.get(feed_id).cloned() else {
        return;
    };
    let outcome = process_feed(st, &feed, at);
    let doc_id = st.store_document(
        &feed.seller_id,
        DocumentKind::FeedResult,
        &outcome.report,
        &outcome.report_content_type,
        false,
    );
    if let Some(f) = st.feeds.get_mut(feed_id) {
        f.status = if outcome.fatal {
            ProcessingStatus::Fatal
        } else {
            ProcessingStatus::Done
        };
        f.processing_end_time = Some(at);
        f.result_feed_document_id = Some(doc_id);
        f.effects = outcome.effects;
    }
}

/// Sort key of feeds: creation time, then id (ids grow with creation).
fn order_key(f: &Feed) -> (OffsetDateTime, usize, String) {
    (f.created_time, f.feed_id.len(), f.feed_id.clone())
}

/// End of the last feed this seller's processor worked on (None when it never did).
fn busy_until(st: &SimState, seller_id: &str) -> Option<OffsetDateTime> {
    st.feeds
        .values()
        .filter(|f| f.seller_id == seller_id && f.processing_start_time.is_some())
        .filter_map(|f| f.processing_end_time)
        .max()
}

/// When the next open feed finishes or is cancelled by a scripted outcome (None when no open
/// feed will): per seller, only the first open feed in creation order can be next.
pub fn next_end(st: &SimState) -> Option<OffsetDateTime> {
    let queue = time::Duration::seconds(st.timing.feed_queue_seconds as i64);
    let processing = time::Duration::seconds(st.timing.feed_processing_seconds as i64);
    let mut first: BTreeMap<&str, &Feed> = BTreeMap::new();
    // A stuck feed never starts and does not hold up the ones behind it.
    let open = st
        .feeds
        .values()
        .filter(|f| !f.status.is_terminal() && f.planned != PlannedOutcome::Stuck);
    for f in open {
        let slot = first.entry(f.seller_id.as_str()).or_insert(f);
        if order_key(f) < order_key(slot) {
            *slot = f;
        }
    }
    first
        .into_values()
        .filter_map(|f| match f.status {
            ProcessingStatus::InProgress => {
                Some(f.processing_start_time.unwrap_or(f.created_time) + processing)
            }
            ProcessingStatus::InQueue => {
                let ready = f.created_time + queue;
                let start = busy_until(st, &f.seller_id).map_or(ready, |b| b.max(ready));
                Some(if f.planned == PlannedOutcome::Cancelled {
                    start
                } else {
                    start + processing
                })
            }
            _ => None,
        })
        .min()
}

/// Moves feeds forward to `now`: IN_QUEUE → IN_PROGRESS → DONE / FATAL (or CANCELLED),
/// one feed at a time per seller, in creation order.
pub fn advance(st: &mut SimState, now: OffsetDateTime) {
    let queue = time::Duration::seconds(st.timing.feed_queue_seconds as i64);
    let processing = time::Duration::seconds(st.timing.feed_processing_seconds as i64);
    let mut by_seller: BTreeMap<String, Vec<(OffsetDateTime, usize, String)>> = BTreeMap::new();
    for f in st.feeds.values().filter(|f| !f.status.is_terminal()) {
        by_seller
            .entry(f.seller_id.clone())
            .or_default()
            .push(order_key(f));
    }
    for (seller, mut keys) in by_seller {
        keys.sort();
        // When the seller's processor is free again (a feed that finished in an earlier pass
        // kept it busy until its end).
        let mut free_at = busy_until(st, &seller);
        for (_, _, feed_id) in keys {
            let Some(f) = st.feeds.get(&feed_id) else {
                continue;
            };
            match f.status {
                ProcessingStatus::InProgress => {
                    let end = f.processing_start_time.unwrap_or(f.created_time) + processing;
                    free_at = Some(end);
                    if end <= now {
                        finish(st, &feed_id, end);
                    }
                }
                ProcessingStatus::InQueue => {
                    if f.planned == PlannedOutcome::Stuck {
                        continue;
                    }
                    let ready = f.created_time + queue;
                    let start = free_at.map_or(ready, |free| free.max(ready));
                    if start > now {
                        // Later feeds of this seller wait behind this one.
                        break;
                    }
                    let planned = f.planned.clone();
                    let Some(f) = st.feeds.get_mut(&feed_id) else {
                        continue;
                    };
                    if planned == PlannedOutcome::Cancelled {
                        f.status = ProcessingStatus::Cancelled;
                        f.processing_end_time = Some(start);
                        f.effects = json!({ "note": "scripted CANCELLED outcome" });
                        continue;
                    }
                    f.status = ProcessingStatus::InProgress;
                    f.processing_start_time = Some(start);
                    let end = start + processing;
                    free_at = Some(end);
                    if end <= now {
                        finish(st, &feed_id, end);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The `Feed` object of the model.
fn feed_json(f: &Feed) -> Value {
    let mut v = json!({
        "feedId": f.feed_id,
        "feedType": f.feed_type,
        "marketplaceIds": f.marketplace_ids,
        "createdTime": format_datetime(f.created_time),
        "processingStatus": f.status.as_str(),
    });
    if let Some(t) = f.processing_start_time {
        v["processingStartTime"] = json!(format_datetime(t));
    }
    if let Some(t) = f.processing_end_time {
        v["processingEndTime"] = json!(format_datetime(t));
    }
    if let Some(d) = &f.result_feed_document_id {
        v["resultFeedDocumentId"] = json!(d);
    }
    v
}

/// `POST /feeds/2021-06-30/documents` (createFeedDocument).
pub async fn create_feed_document(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match sim.begin(Operation::CreateFeedDocument, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let spec: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return call.invalid_input(&format!("The request body is not valid JSON: {e}")),
    };
    let Some(content_type) = spec
        .get("contentType")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return call.invalid_input("contentType is required (e.g. \"text/tab-separated-values; charset=UTF-8\" or \"application/json; charset=UTF-8\").");
    };
    let (id, url) = {
        let mut st = sim.lock();
        let id = st.store_document(
            &call.seller_id,
            DocumentKind::FeedInput {
                declared_content_type: content_type.to_string(),
                uploaded: false,
            },
            &[],
            content_type,
            false,
        );
        let url = sim.presigned_put_url(&st, &id, call.now);
        (id, url)
    };
    call.json(
        StatusCode::CREATED,
        json!({ "feedDocumentId": id, "url": url }),
    )
}

/// A createFeed body, checked.
struct FeedSpec {
    feed_type: String,
    marketplace_ids: Vec<String>,
    input_feed_document_id: String,
    feed_options: BTreeMap<String, String>,
}

fn parse_feed_spec(spec: &Value) -> Result<FeedSpec, String> {
    if !spec.is_object() {
        return Err("The request body must be a CreateFeedSpecification object.".into());
    }
    let feed_type = match spec.get("feedType") {
        None => return Err("feedType is required.".into()),
        Some(Value::String(s))
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
        {
            s.clone()
        }
        Some(v) => return Err(format!("Invalid feedType {v}.")),
    };
    let marketplace_ids: Vec<String> = match spec.get("marketplaceIds") {
        None => return Err("marketplaceIds is required.".into()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("marketplaceIds must be a list of marketplace id strings.")?,
        Some(_) => return Err("marketplaceIds must be a list of marketplace id strings.".into()),
    };
    if marketplace_ids.is_empty() || marketplace_ids.len() > 25 {
        return Err(format!(
            "marketplaceIds must hold 1 to 25 marketplace ids; {} given.",
            marketplace_ids.len()
        ));
    }
    let input_feed_document_id = match spec.get("inputFeedDocumentId") {
        None => return Err("inputFeedDocumentId is required.".into()),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(v) => return Err(format!("Invalid inputFeedDocumentId {v}.")),
    };
    let mut feed_options = BTreeMap::new();
    match spec.get("feedOptions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("feedOptions.{k} must be a string."))?;
                feed_options.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => return Err("feedOptions must be an object of string values.".into()),
    }
    Ok(FeedSpec {
        feed_type,
        marketplace_ids,
        input_feed_document_id,
        feed_options,
    })
}

/// `POST /feeds/2021-06-30/feeds` (createFeed).
pub async fn create_feed(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body);
    // JSON_LISTINGS_FEED submissions count against their own usage plan.
    let op = match &parsed {
        Ok(v) if v.get("feedType").and_then(Value::as_str) == Some(listings_feed::FEED_TYPE) => {
            Operation::CreateJsonListingsFeed
        }
        _ => Operation::CreateFeed,
    };
    let call = match sim.begin(op, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let spec = match parsed
        .map_err(|e| format!("The request body is not valid JSON: {e}"))
        .and_then(|v| parse_feed_spec(&v))
    {
        Ok(s) => s,
        Err(e) => return call.invalid_input(&e),
    };
    let created: Result<String, String> = {
        let mut st = sim.lock();
        accept_feed(&mut st, &call.seller_id, spec, call.now)
    };
    match created {
        Ok(feed_id) => call.json(StatusCode::ACCEPTED, json!({ "feedId": feed_id })),
        Err(e) => call.invalid_input(&e),
    }
}

/// Checks a createFeed against the world and queues the feed.
fn accept_feed(
    st: &mut SimState,
    seller_id: &str,
    spec: FeedSpec,
    now: OffsetDateTime,
) -> Result<String, String> {
    let seller = st
        .sellers
        .get(seller_id)
        .ok_or_else(|| format!("Unknown seller {seller_id}."))?;
    if let Some(m) = spec
        .marketplace_ids
        .iter()
        .find(|m| !seller.marketplace_ids.contains(m))
    {
        return Err(format!(
            "Invalid marketplaceIds: the seller does not sell in marketplace {m}."
        ));
    }
    let doc_id = &spec.input_feed_document_id;
    let doc = st
        .documents
        .get(doc_id)
        .filter(|d| d.seller_id == seller_id)
        .ok_or_else(|| {
            format!("Invalid inputFeedDocumentId: no feed document {doc_id} exists for this seller; create one with createFeedDocument.")
        })?;
    match &doc.kind {
        DocumentKind::FeedInput { uploaded: true, .. } => {}
        DocumentKind::FeedInput {
            uploaded: false, ..
        } => {
            return Err(format!(
                "The feed document {doc_id} has not been uploaded; PUT its contents to the url returned by createFeedDocument before calling createFeed."
            ));
        }
        _ => {
            return Err(format!(
                "Invalid inputFeedDocumentId: {doc_id} is not a feed input document."
            ));
        }
    }
    let planned = st.faults.next_feed_outcome(&spec.feed_type);
    let feed_id = st.numeric_id();
    st.feeds.insert(
        feed_id.clone(),
        Feed {
            feed_id: feed_id.clone(),
            seller_id: seller_id.to_string(),
            feed_type: spec.feed_type,
            marketplace_ids: spec.marketplace_ids,
            feed_options: spec.feed_options,
            input_feed_document_id: spec.input_feed_document_id,
            created_time: now,
            processing_start_time: None,
            processing_end_time: None,
            status: ProcessingStatus::InQueue,
            result_feed_document_id: None,
            planned,
            effects: Value::Null,
        },
    );
    Ok(feed_id)
}

/// `GET /feeds/2021-06-30/feeds/{feedId}` (getFeed).
pub async fn get_feed(
    State(sim): State<Arc<Sim>>,
    Path(feed_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = match sim.begin(Operation::GetFeed, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = sim
        .lock()
        .feeds
        .get(&feed_id)
        .filter(|f| f.seller_id == call.seller_id)
        .map(feed_json);
    match body {
        Some(b) => call.json(StatusCode::OK, b),
        None if !is_numeric_id(&feed_id) => {
            call.invalid_input(&format!("Invalid feedId '{feed_id}'."))
        }
        None => call.not_found(&format!("Feed {feed_id} was not found.")),
    }
}

/// `DELETE /feeds/2021-06-30/feeds/{feedId}` (cancelFeed): 200 with an empty body.
pub async fn cancel_feed(
    State(sim): State<Arc<Sim>>,
    Path(feed_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = match sim.begin(Operation::CancelFeed, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result: Result<(), Option<ProcessingStatus>> = {
        let mut st = sim.lock();
        match st
            .feeds
            .get_mut(&feed_id)
            .filter(|f| f.seller_id == call.seller_id)
        {
            None => Err(None),
            Some(f) if f.status != ProcessingStatus::InQueue => Err(Some(f.status)),
            Some(f) => {
                f.status = ProcessingStatus::Cancelled;
                f.processing_end_time = Some(call.now);
                f.effects = json!({ "note": "cancelled by cancelFeed" });
                Ok(())
            }
        }
    };
    match result {
        Ok(()) => {
            let mut r = call.json(StatusCode::OK, Value::Null);
            *r.body_mut() = Body::empty();
            r.headers_mut().remove(header::CONTENT_TYPE);
            r
        }
        Err(None) if !is_numeric_id(&feed_id) => {
            call.invalid_input(&format!("Invalid feedId '{feed_id}'."))
        }
        Err(None) => call.not_found(&format!("Feed {feed_id} was not found.")),
        Err(Some(status)) => call.invalid_input(&format!(
            "The feed {feed_id} cannot be cancelled: its processingStatus is {}; only IN_QUEUE feeds can be cancelled.",
            status.as_str()
        )),
    }
}

/// getFeeds filters, also carried inside `nextToken`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct FeedsQuery {
    seller: String,
    types: Vec<String>,
    statuses: Vec<String>,
    marketplaces: Vec<String>,
    page_size: usize,
    since: i128,
    until: i128,
    /// Last (createdTime ns, id length, id) returned.
    after: Option<(i128, usize, String)>,
}

fn parse_feeds_query(
    q: &Query,
    seller_id: &str,
    now: OffsetDateTime,
) -> Result<FeedsQuery, String> {
    if let Some(token) = q.get("nextToken") {
        if let Some(other) = q.keys().find(|k| *k != "nextToken") {
            return Err(format!(
                "nextToken must be the only parameter when it is given; remove {other}."
            ));
        }
        return decode_token(token)
            .and_then(|v| serde_json::from_value::<FeedsQuery>(v).ok())
            .filter(|fq| fq.seller == seller_id)
            .ok_or_else(|| "Invalid nextToken.".to_string());
    }
    let types = q.list("feedTypes");
    if types.is_empty() {
        return Err("feedTypes or nextToken is required.".into());
    }
    if types.len() > 10 {
        return Err(format!(
            "feedTypes holds {} values; at most 10 are allowed.",
            types.len()
        ));
    }
    let marketplaces = q.list("marketplaceIds");
    if q.has("marketplaceIds") && (marketplaces.is_empty() || marketplaces.len() > 10) {
        return Err("marketplaceIds must hold 1 to 10 marketplace ids.".into());
    }
    let statuses = q.list("processingStatuses");
    if q.has("processingStatuses") && statuses.is_empty() {
        return Err("processingStatuses must hold at least one status.".into());
    }
    if let Some(bad) = statuses
        .iter()
        .find(|s| ProcessingStatus::parse(s).is_none())
    {
        return Err(format!(
            "Invalid processingStatuses value '{bad}'; use CANCELLED, DONE, FATAL, IN_PROGRESS or IN_QUEUE."
        ));
    }
    let page_size = match q.get("pageSize") {
        None => 10,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("Invalid pageSize '{p}'; use an integer from 1 to 100."))?,
    };
    let oldest = now - time::Duration::days(RETENTION_DAYS);
    // Feeds older than the retention period no longer exist, so an earlier createdSince just
    // finds nothing more.
    let since = q.datetime("createdSince")?.unwrap_or(oldest).max(oldest);
    let until = q.datetime("createdUntil")?.unwrap_or(now);
    if q.has("createdSince") && q.has("createdUntil") && since > until {
        return Err("createdSince must be before createdUntil.".into());
    }
    Ok(FeedsQuery {
        seller: seller_id.to_string(),
        types,
        statuses,
        marketplaces,
        page_size,
        since: since.unix_timestamp_nanos(),
        until: until.unix_timestamp_nanos(),
        after: None,
    })
}

/// `GET /feeds/2021-06-30/feeds` (getFeeds): newest first.
pub async fn get_feeds(
    State(sim): State<Arc<Sim>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let call = match sim.begin(Operation::GetFeeds, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let fq = match parse_feeds_query(&q, &call.seller_id, call.now) {
        Ok(fq) => fq,
        Err(e) => return call.invalid_input(&e),
    };
    let (feeds, next) = {
        let st = sim.lock();
        let key = |f: &Feed| {
            (
                f.created_time.unix_timestamp_nanos(),
                f.feed_id.len(),
                f.feed_id.clone(),
            )
        };
        let mut matching: Vec<&Feed> = st
            .feeds
            .values()
            .filter(|f| f.seller_id == fq.seller)
            .filter(|f| fq.types.contains(&f.feed_type))
            .filter(|f| {
                fq.statuses.is_empty() || fq.statuses.iter().any(|s| s == f.status.as_str())
            })
            .filter(|f| {
                fq.marketplaces.is_empty()
                    || f.marketplace_ids
                        .iter()
                        .any(|m| fq.marketplaces.contains(m))
            })
            .filter(|f| {
                let t = f.created_time.unix_timestamp_nanos();
                t >= fq.since && t <= fq.until
            })
            .filter(|f| fq.after.as_ref().is_none_or(|after| key(f) < *after))
            .collect();
        matching.sort_by_key(|f| std::cmp::Reverse(key(f)));
        let more = matching.len() > fq.page_size;
        matching.truncate(fq.page_size);
        let next = more
            .then(|| matching.last().map(|f| key(f)))
            .flatten()
            .map(|last| {
                let token = FeedsQuery {
                    after: Some(last),
                    ..fq.clone()
                };
                encode_token(&serde_json::to_value(&token).unwrap_or_default())
            });
        (
            matching.into_iter().map(feed_json).collect::<Vec<_>>(),
            next,
        )
    };
    let mut body = json!({ "feeds": feeds });
    if let Some(t) = next {
        body["nextToken"] = json!(t);
    }
    call.json(StatusCode::OK, body)
}

/// `GET /feeds/2021-06-30/documents/{feedDocumentId}` (getFeedDocument).
pub async fn get_feed_document(
    State(sim): State<Arc<Sim>>,
    Path(document_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let call = match sim.begin(Operation::GetFeedDocument, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let content_encoding = match q.boolean("enableContentEncodingUrlHeader") {
        Ok(v) => v.unwrap_or(false),
        Err(message) => return call.invalid_input(&message),
    };
    let found: Result<Value, &str> = {
        let st = sim.lock();
        match st
            .documents
            .get(&document_id)
            .filter(|d| d.seller_id == call.seller_id)
        {
            Some(d) if d.kind == DocumentKind::FeedResult => {
                let mut v = json!({
                    "feedDocumentId": d.document_id,
                    "url": sim.presigned_get_url(&st, &d.document_id, call.now, content_encoding),
                });
                if d.gzip {
                    v["compressionAlgorithm"] = json!("GZIP");
                }
                Ok(v)
            }
            Some(d) if matches!(d.kind, DocumentKind::FeedInput { .. }) => Err(
                "It is a feed input document; getFeedDocument serves processing reports (the feed's resultFeedDocumentId).",
            ),
            _ => Err(""),
        }
    };
    match found {
        Ok(v) => call.json(StatusCode::OK, v),
        Err("") if !is_document_id(&document_id) => {
            call.invalid_input(&format!("Invalid feedDocumentId '{document_id}'."))
        }
        Err("") => call.not_found(&format!("Feed document {document_id} was not found.")),
        // Amazon answers an input document's id with 400 "Invalid feedDocumentId"
        // (jlevers/selling-partner-api#36).
        Err(details) => call.error_with_details(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Invalid feedDocumentId '{document_id}'."),
            details,
        ),
    }
}

/// Shared fixtures for the feed tests of this module, `fulfillment_feed` and `listings_feed`.
#[cfg(test)]
pub(crate) mod testkit {
    use serde_json::{Value, json};
    use time::OffsetDateTime;
    use time::macros::datetime;

    use crate::scenario::Scenario;
    use crate::sim::format_datetime;
    use crate::state::State;

    pub(crate) const SELLER: &str = "A1FEEDSELLER01";
    pub(crate) const OTHER: &str = "A2OTHERSELLER2";
    pub(crate) const US: &str = "ATVPDKIKX0DER";
    pub(crate) const UK: &str = "A1F83G8C2ARO7P";

    /// Simulated start time of every test.
    pub(crate) fn start() -> OffsetDateTime {
        datetime!(2026-11-20 12:00 UTC)
    }

    /// Two sellers, frozen clock, 30 s queue and 120 s processing, long-lived tokens.
    pub(crate) fn scenario() -> Scenario {
        let seller = |id: &str, markets: Value| {
            json!({
                "sellerId": id,
                "credentials": { "clientId": "c", "clientSecret": "s", "refreshToken": format!("r-{id}") },
                "marketplaceIds": markets,
                "listings": [
                    { "sku": "SKU-1", "asin": "B000000001", "title": "Mug", "price": "12.50",
                      "quantity": 7, "marketplaceId": US, "leadTimeDays": 2 },
                    { "sku": "SKU-2", "asin": "B000000002", "title": "Cup", "price": "8.00",
                      "quantity": 3, "marketplaceId": US },
                ],
            })
        };
        let text = json!({
            "clock": { "start": format_datetime(start()), "speed": 0.0 },
            "timing": { "feedQueueSeconds": 30, "feedProcessingSeconds": 120,
                        "tokenTtlSeconds": 864000 },
            "sellers": [seller(SELLER, json!([US, UK])), seller(OTHER, json!([US]))],
        });
        Scenario::from_json(&text.to_string()).unwrap()
    }

    /// A fresh state at [`start`].
    pub(crate) fn state() -> State {
        State::from_scenario(&scenario(), start()).unwrap()
    }

    /// A v2026-01-01 order with `items` (order item id, quantity ordered), all unshipped.
    pub(crate) fn order(
        id: &str,
        marketplace: &str,
        created: OffsetDateTime,
        items: &[(&str, i64)],
        fulfilled_by: &str,
        status: &str,
    ) -> Value {
        json!({
            "orderId": id,
            "createdTime": format_datetime(created),
            "lastUpdatedTime": format_datetime(created),
            "salesChannel": { "channelName": "AMAZON", "marketplaceId": marketplace },
            "fulfillment": { "fulfillmentStatus": status, "fulfilledBy": fulfilled_by },
            "orderItems": items.iter().map(|(item, q)| json!({
                "orderItemId": item,
                "quantityOrdered": q,
                "product": { "sellerSku": format!("SKU-{item}") },
                "fulfillment": { "quantityFulfilled": 0, "quantityUnfulfilled": q },
            })).collect::<Vec<_>>(),
        })
    }

    /// Adds an order to a seller.
    pub(crate) fn add_order(st: &mut State, seller: &str, order: Value) {
        let id = order["orderId"].as_str().unwrap().to_string();
        st.sellers.get_mut(seller).unwrap().orders.insert(id, order);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::testkit::*;
    use crate::state::PlannedOutcome;
    use crate::{SimOptions, SimServer};

    const TSV: &str = "text/tab-separated-values; charset=UTF-8";
    const JSON_CT: &str = "application/json; charset=UTF-8";
    const FULFILLMENT: &str = "POST_FLAT_FILE_FULFILLMENT_DATA";
    const LISTINGS: &str = "JSON_LISTINGS_FEED";

    struct Client {
        server: SimServer,
        http: reqwest::Client,
        token: String,
    }

    impl Client {
        async fn start() -> Self {
            let server = SimServer::start_on_free_port(SimOptions::new(scenario()))
                .await
                .unwrap();
            let token = {
                let mut st = server.sim().lock();
                let o = order(
                    "111-0000000-0000001",
                    US,
                    start() - time::Duration::days(1),
                    &[("10000000000001", 2)],
                    "MERCHANT",
                    "UNSHIPPED",
                );
                add_order(&mut st, SELLER, o);
                crate::auth::issue_token(&mut st, SELLER, "Atza|feeds", start()).0
            };
            Self {
                server,
                http: reqwest::Client::new(),
                token,
            }
        }

        fn token_for(&self, seller: &str) -> String {
            let mut st = self.server.sim().lock();
            crate::auth::issue_token(&mut st, seller, "Atza|other", start()).0
        }

        fn advance(&self, seconds: u64) {
            self.server
                .sim()
                .advance_clock(Duration::from_secs(seconds));
        }

        async fn send(
            &self,
            method: reqwest::Method,
            path: &str,
            body: Option<Value>,
        ) -> (u16, Value) {
            self.send_as(&self.token, method, path, body).await
        }

        async fn send_as(
            &self,
            token: &str,
            method: reqwest::Method,
            path: &str,
            body: Option<Value>,
        ) -> (u16, Value) {
            let mut req = self
                .http
                .request(method, format!("{}{path}", self.server.url()))
                .header("x-amz-access-token", token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }

        async fn get(&self, path: &str) -> (u16, Value) {
            self.send(reqwest::Method::GET, path, None).await
        }

        async fn post(&self, path: &str, body: Value) -> (u16, Value) {
            self.send(reqwest::Method::POST, path, Some(body)).await
        }

        /// createFeedDocument + PUT; returns the document id.
        async fn upload(&self, content_type: &str, bytes: Vec<u8>) -> String {
            let (status, doc) = self
                .post(
                    "/feeds/2021-06-30/documents",
                    json!({ "contentType": content_type }),
                )
                .await;
            assert_eq!(status, 201, "{doc}");
            let put = self
                .http
                .put(doc["url"].as_str().unwrap())
                .header("content-type", content_type)
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(put.status().as_u16(), 200);
            doc["feedDocumentId"].as_str().unwrap().to_string()
        }

        async fn create_feed(&self, feed_type: &str, doc_id: &str) -> (u16, Value) {
            self.post(
                "/feeds/2021-06-30/feeds",
                json!({ "feedType": feed_type, "marketplaceIds": [US], "inputFeedDocumentId": doc_id }),
            )
            .await
        }

        /// Uploads and submits a feed; returns its id.
        async fn submit(&self, feed_type: &str, content_type: &str, bytes: &[u8]) -> String {
            let doc = self.upload(content_type, bytes.to_vec()).await;
            let (status, body) = self.create_feed(feed_type, &doc).await;
            assert_eq!(status, 202, "{body}");
            body["feedId"].as_str().unwrap().to_string()
        }

        async fn feed(&self, feed_id: &str) -> Value {
            let (status, body) = self
                .get(&format!("/feeds/2021-06-30/feeds/{feed_id}"))
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }

        /// Downloads the processing report of a finished feed.
        async fn result(&self, feed_id: &str) -> String {
            let feed = self.feed(feed_id).await;
            let doc_id = feed["resultFeedDocumentId"].as_str().unwrap();
            let (status, doc) = self
                .get(&format!("/feeds/2021-06-30/documents/{doc_id}"))
                .await;
            assert_eq!(status, 200, "{doc}");
            assert_eq!(doc["feedDocumentId"], doc_id);
            let resp = self
                .http
                .get(doc["url"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            resp.text().await.unwrap()
        }
    }

    fn shipment_line(tracking: &str) -> Vec<u8> {
        format!(
            "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method\n\
             111-0000000-0000001\t10000000000001\t2\t2026-11-20\tUPS\t\t{tracking}\tUPS Ground\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn fulfillment_feed_goes_through_the_lifecycle_and_ships_the_order() {
        let c = Client::start().await;
        let feed_id = c
            .submit(FULFILLMENT, TSV, &shipment_line("1Z999AA10123456784"))
            .await;

        let queued = c.feed(&feed_id).await;
        c.advance(30);
        let in_progress = c.feed(&feed_id).await;
        c.advance(119);
        let still = c.feed(&feed_id).await;
        c.advance(1);
        let done = c.feed(&feed_id).await;
        let report = c.result(&feed_id).await;

        assert_eq!(queued["processingStatus"], "IN_QUEUE");
        assert_eq!(queued["feedType"], FULFILLMENT);
        assert_eq!(queued["marketplaceIds"], json!([US]));
        assert_eq!(queued["createdTime"], "2026-11-20T12:00:00Z");
        assert!(queued.get("processingStartTime").is_none());
        assert_eq!(in_progress["processingStatus"], "IN_PROGRESS");
        assert_eq!(in_progress["processingStartTime"], "2026-11-20T12:00:30Z");
        assert_eq!(still["processingStatus"], "IN_PROGRESS");
        assert_eq!(done["processingStatus"], "DONE");
        assert_eq!(done["processingEndTime"], "2026-11-20T12:02:30Z");
        assert!(report.starts_with("Feed Processing Summary:\n\tNumber of records processed\t\t1\n\tNumber of records successful\t\t1\n"), "{report}");
        let order = c.server.sim().order(SELLER, "111-0000000-0000001").unwrap();
        assert_eq!(order["fulfillment"]["fulfillmentStatus"], "SHIPPED");
        assert_eq!(order["packages"][0]["trackingNumber"], "1Z999AA10123456784");
        let effects = &c.server.sim().lock().feeds[&feed_id].effects;
        assert_eq!(effects["ordersChanged"], json!(["111-0000000-0000001"]));
        assert_eq!(effects["recordsAccepted"], 1);
    }

    #[tokio::test]
    async fn shipped_and_corrected_orders_show_in_search_orders_and_get_order() {
        let c = Client::start().await;
        let order_id = "111-0000000-0000001";
        let first = c.submit(FULFILLMENT, TSV, &shipment_line("1Z1")).await;
        let since =
            |t: &str| format!("/feeds/2021-06-30/feeds?feedTypes={FULFILLMENT}&createdSince={t}");
        let (_, listed) = c.get(&since("2026-11-20T11:59:00Z")).await;
        let (_, none_later) = c.get(&since("2026-11-20T12:00:01Z")).await;
        c.advance(300);

        let (_, shipped) = c
            .get("/orders/2026-01-01/orders?lastUpdatedAfter=2026-11-20T12:00:00Z&includedData=PACKAGES,FULFILLMENT")
            .await;
        c.submit(FULFILLMENT, TSV, &shipment_line("1Z2")).await;
        c.advance(300);
        let (_, corrected) = c
            .get("/orders/2026-01-01/orders?lastUpdatedAfter=2026-11-20T12:02:31Z&includedData=PACKAGES")
            .await;
        let (_, got) = c
            .get(&format!(
                "/orders/2026-01-01/orders/{order_id}?includedData=PACKAGES"
            ))
            .await;

        assert_eq!(listed["feeds"][0]["feedId"], first.as_str(), "{listed}");
        assert_eq!(none_later["feeds"], json!([]));
        assert_eq!(shipped["orders"][0]["orderId"], order_id, "{shipped}");
        assert_eq!(
            shipped["orders"][0]["fulfillment"]["fulfillmentStatus"],
            "SHIPPED"
        );
        assert_eq!(shipped["orders"][0]["packages"][0]["trackingNumber"], "1Z1");
        assert_eq!(
            corrected["orders"][0]["lastUpdatedTime"], "2026-11-20T12:07:30Z",
            "{corrected}"
        );
        assert_eq!(
            corrected["orders"][0]["packages"].as_array().unwrap().len(),
            1
        );
        assert_eq!(
            corrected["orders"][0]["packages"][0]["trackingNumber"],
            "1Z2"
        );
        assert_eq!(
            got["order"]["packages"][0]["trackingNumber"], "1Z2",
            "{got}"
        );
        assert_eq!(got["order"]["packages"][0]["packageReferenceId"], "1");
    }

    #[tokio::test]
    async fn upload_with_another_content_type_is_refused_by_the_presigned_url() {
        let c = Client::start().await;
        let (_, doc) = c
            .post("/feeds/2021-06-30/documents", json!({ "contentType": TSV }))
            .await;

        let put = c
            .http
            .put(doc["url"].as_str().unwrap())
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();

        assert_eq!(put.status().as_u16(), 403);
        let (status, body) = c
            .create_feed(FULFILLMENT, doc["feedDocumentId"].as_str().unwrap())
            .await;
        assert_eq!(status, 400, "{body}");
    }

    #[tokio::test]
    async fn create_feed_document_requires_a_content_type() {
        let c = Client::start().await;

        let (missing, body) = c.post("/feeds/2021-06-30/documents", json!({})).await;
        let (empty, _) = c
            .post("/feeds/2021-06-30/documents", json!({ "contentType": " " }))
            .await;

        assert_eq!(missing, 400);
        assert_eq!(empty, 400);
        assert_eq!(body["errors"][0]["code"], "InvalidInput");
    }

    #[tokio::test]
    async fn create_feed_with_a_never_uploaded_document_is_a_400() {
        let c = Client::start().await;
        let (_, doc) = c
            .post("/feeds/2021-06-30/documents", json!({ "contentType": TSV }))
            .await;

        let (status, body) = c
            .create_feed(FULFILLMENT, doc["feedDocumentId"].as_str().unwrap())
            .await;

        assert_eq!(status, 400);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("has not been uploaded"),
            "{body}"
        );
        assert!(c.server.sim().lock().feeds.is_empty());
    }

    #[tokio::test]
    async fn create_feed_checks_fields_documents_and_marketplaces() {
        let c = Client::start().await;
        let doc = c.upload(TSV, shipment_line("1Z1")).await;
        let other = c.token_for(OTHER);
        let post = |body: Value| c.post("/feeds/2021-06-30/feeds", body);

        let no_type = post(json!({ "marketplaceIds": [US], "inputFeedDocumentId": doc })).await;
        let no_markets = post(
            json!({ "feedType": FULFILLMENT, "marketplaceIds": [], "inputFeedDocumentId": doc }),
        )
        .await;
        let too_many = post(json!({ "feedType": FULFILLMENT, "marketplaceIds": vec![US; 26], "inputFeedDocumentId": doc })).await;
        let foreign_market = post(json!({ "feedType": FULFILLMENT, "marketplaceIds": ["A1PA6795UKMFR9"], "inputFeedDocumentId": doc })).await;
        let unknown_doc = post(json!({ "feedType": FULFILLMENT, "marketplaceIds": [US], "inputFeedDocumentId": "nope" })).await;
        let (others_doc, _) = c
            .send_as(&other, reqwest::Method::POST, "/feeds/2021-06-30/feeds",
                Some(json!({ "feedType": FULFILLMENT, "marketplaceIds": [US], "inputFeedDocumentId": doc })))
            .await;
        let ok = post(json!({ "feedType": FULFILLMENT, "marketplaceIds": [US, UK], "inputFeedDocumentId": doc, "feedOptions": {} })).await;

        assert_eq!(no_type.0, 400);
        assert_eq!(no_markets.0, 400);
        assert_eq!(too_many.0, 400);
        assert_eq!(foreign_market.0, 400);
        assert_eq!(unknown_doc.0, 400);
        assert_eq!(others_doc, 400);
        assert_eq!(ok.0, 202, "{}", ok.1);
    }

    #[tokio::test]
    async fn json_listings_feed_has_its_own_usage_plan() {
        let c = Client::start().await;
        let listings_doc = c.upload(JSON_CT, b"{}".to_vec()).await;
        let tsv_doc = c.upload(TSV, shipment_line("1Z1")).await;

        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(c.create_feed(LISTINGS, &listings_doc).await.0);
        }
        let other_type = c.create_feed(FULFILLMENT, &tsv_doc).await.0;
        c.advance(60);
        let after_a_minute = c.create_feed(LISTINGS, &listings_doc).await.0;

        assert_eq!(statuses, vec![202, 202, 202, 202, 202, 429]);
        assert_eq!(other_type, 202);
        assert_eq!(after_a_minute, 202);
    }

    #[tokio::test]
    async fn cancel_feed_works_only_while_in_queue() {
        let c = Client::start().await;
        let first = c.submit(FULFILLMENT, TSV, &shipment_line("1Z1")).await;
        let second = c.submit(FULFILLMENT, TSV, &shipment_line("1Z2")).await;

        let (cancelled, body) = c
            .send(
                reqwest::Method::DELETE,
                &format!("/feeds/2021-06-30/feeds/{second}"),
                None,
            )
            .await;
        c.advance(30);
        let (too_late, err) = c
            .send(
                reqwest::Method::DELETE,
                &format!("/feeds/2021-06-30/feeds/{first}"),
                None,
            )
            .await;
        let (unknown, _) = c
            .send(reqwest::Method::DELETE, "/feeds/2021-06-30/feeds/123", None)
            .await;
        c.advance(600);

        assert_eq!(cancelled, 200);
        assert_eq!(body, Value::String(String::new()));
        assert_eq!(too_late, 400);
        assert!(
            err["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("IN_PROGRESS")
        );
        assert_eq!(unknown, 404);
        assert_eq!(c.feed(&second).await["processingStatus"], "CANCELLED");
        assert!(c.feed(&second).await.get("resultFeedDocumentId").is_none());
        assert_eq!(c.feed(&first).await["processingStatus"], "DONE");
    }

    #[tokio::test]
    async fn scripted_outcomes_end_fatal_cancelled_or_stay_queued() {
        let c = Client::start().await;
        let sim = c.server.sim();
        sim.script_feed_outcome(FULFILLMENT, PlannedOutcome::Fatal);
        sim.script_feed_outcome(FULFILLMENT, PlannedOutcome::Cancelled);
        sim.script_feed_outcome(FULFILLMENT, PlannedOutcome::Stuck);
        let fatal = c.submit(FULFILLMENT, TSV, &shipment_line("1Z1")).await;
        let cancelled = c.submit(FULFILLMENT, TSV, &shipment_line("1Z2")).await;
        let stuck = c.submit(FULFILLMENT, TSV, &shipment_line("1Z3")).await;

        c.advance(3600);
        let fatal_report = c.result(&fatal).await;

        assert_eq!(c.feed(&fatal).await["processingStatus"], "FATAL");
        assert!(
            fatal_report.contains("nothing was applied"),
            "{fatal_report}"
        );
        assert_eq!(c.feed(&cancelled).await["processingStatus"], "CANCELLED");
        assert_eq!(c.feed(&stuck).await["processingStatus"], "IN_QUEUE");
        let order = sim.order(SELLER, "111-0000000-0000001").unwrap();
        assert_eq!(order["fulfillment"]["fulfillmentStatus"], "UNSHIPPED");
    }

    #[tokio::test]
    async fn feeds_of_one_seller_are_processed_one_at_a_time() {
        let c = Client::start().await;
        let first = c.submit(FULFILLMENT, TSV, &shipment_line("1Z1")).await;
        let second = c.submit("POST_ORDER_ACKNOWLEDGEMENT_DATA", TSV, b"x").await;

        c.advance(31);
        let second_waiting = c.feed(&second).await;
        c.advance(120);
        let second_running = c.feed(&second).await;
        c.advance(120);
        let second_done = c.feed(&second).await;
        let report = c.result(&second).await;

        assert_eq!(c.feed(&first).await["processingStatus"], "DONE");
        assert_eq!(second_waiting["processingStatus"], "IN_QUEUE");
        assert_eq!(second_running["processingStatus"], "IN_PROGRESS");
        assert_eq!(
            second_running["processingStartTime"],
            "2026-11-20T12:02:30Z"
        );
        assert_eq!(second_done["processingStatus"], "DONE");
        assert!(
            report.contains("does not process feed type POST_ORDER_ACKNOWLEDGEMENT_DATA"),
            "{report}"
        );
    }

    #[tokio::test]
    async fn retired_listings_feed_types_end_fatal() {
        let c = Client::start().await;
        let feed = c
            .submit(
                "POST_FLAT_FILE_PRICEANDQUANTITYONLY_UPDATE_DATA",
                TSV,
                b"sku\tprice\n",
            )
            .await;

        c.advance(300);

        assert_eq!(c.feed(&feed).await["processingStatus"], "FATAL");
        assert!(c.result(&feed).await.contains("retired on 2025-07-31"));
    }

    #[tokio::test]
    async fn json_listings_feed_report_is_json_and_patch_applies() {
        let c = Client::start().await;
        let doc = json!({
            "header": { "sellerId": SELLER, "version": "2.0" },
            "messages": [{
                "messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "PRODUCT",
                "patches": [{ "op": "replace", "path": "/attributes/fulfillment_availability",
                              "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": 42 }] }],
            }],
        });
        let feed = c
            .submit(LISTINGS, JSON_CT, doc.to_string().as_bytes())
            .await;

        c.advance(300);
        let report: Value = serde_json::from_str(&c.result(&feed).await).unwrap();

        assert_eq!(report["header"]["feedId"], feed.as_str());
        assert_eq!(report["summary"]["messagesAccepted"], 1);
        let st = c.server.sim().lock();
        assert_eq!(
            st.sellers[SELLER].listings[&(US.to_string(), "SKU-1".to_string())].quantity,
            42
        );
    }

    #[tokio::test]
    async fn get_feed_hides_other_sellers_feeds() {
        let c = Client::start().await;
        let feed = c.submit(FULFILLMENT, TSV, &shipment_line("1Z1")).await;
        let other = c.token_for(OTHER);

        let (status, body) = c
            .send_as(
                &other,
                reqwest::Method::GET,
                &format!("/feeds/2021-06-30/feeds/{feed}"),
                None,
            )
            .await;
        let (unknown, _) = c.get("/feeds/2021-06-30/feeds/999").await;

        assert_eq!(status, 404);
        assert_eq!(body["errors"][0]["code"], "NotFound");
        assert_eq!(unknown, 404);
    }

    #[tokio::test]
    async fn get_feeds_pages_newest_first_with_an_opaque_token() {
        let c = Client::start().await;
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                c.submit(FULFILLMENT, TSV, &shipment_line(&format!("1Z{i}")))
                    .await,
            );
            c.advance(1);
        }
        let other_type = c.submit("POST_ORDER_ACKNOWLEDGEMENT_DATA", TSV, b"x").await;

        let (s1, page1) = c
            .get(&format!(
                "/feeds/2021-06-30/feeds?feedTypes={FULFILLMENT}&pageSize=2"
            ))
            .await;
        let token = page1["nextToken"].as_str().unwrap().to_string();
        let (s2, page2) = c
            .get(&format!("/feeds/2021-06-30/feeds?nextToken={token}"))
            .await;
        let (_, both) = c
            .get(&format!("/feeds/2021-06-30/feeds?feedTypes={FULFILLMENT},POST_ORDER_ACKNOWLEDGEMENT_DATA&processingStatuses=IN_QUEUE&marketplaceIds={US}"))
            .await;
        let (_, none_done) = c
            .get(&format!(
                "/feeds/2021-06-30/feeds?feedTypes={FULFILLMENT}&processingStatuses=DONE"
            ))
            .await;

        let id_list = |v: &Value| {
            v["feeds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["feedId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(id_list(&page1), vec![ids[2].clone(), ids[1].clone()]);
        assert_eq!(id_list(&page2), vec![ids[0].clone()]);
        assert!(page2.get("nextToken").is_none());
        assert_eq!(id_list(&both).len(), 4);
        assert_eq!(id_list(&both)[0], other_type);
        assert!(id_list(&none_done).is_empty());
    }

    #[tokio::test]
    async fn get_feeds_rejects_invalid_parameters() {
        let c = Client::start().await;
        let base = "/feeds/2021-06-30/feeds";
        let types = (0..11)
            .map(|i| format!("T{i}"))
            .collect::<Vec<_>>()
            .join(",");

        for query in [
            String::new(),
            format!("?feedTypes={types}"),
            format!("?feedTypes={FULFILLMENT}&pageSize=0"),
            format!("?feedTypes={FULFILLMENT}&pageSize=101"),
            format!("?feedTypes={FULFILLMENT}&pageSize=ten"),
            format!("?feedTypes={FULFILLMENT}&processingStatuses=BAD_VALUE"),
            format!("?feedTypes={FULFILLMENT}&createdSince=yesterday"),
            format!(
                "?feedTypes={FULFILLMENT}&createdSince=2026-11-20T00:00:00Z&createdUntil=2026-11-19T00:00:00Z"
            ),
            "?nextToken=abc".to_string(),
            format!("?nextToken=00&feedTypes={FULFILLMENT}"),
        ] {
            let (status, body) = c.get(&format!("{base}{query}")).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["errors"][0]["code"], "InvalidInput", "{query}");
        }
    }

    #[tokio::test]
    async fn get_feed_document_serves_result_documents_of_the_caller_only() {
        let c = Client::start().await;
        let input = c.upload(TSV, shipment_line("1Z1")).await;
        let (_, created) = c.create_feed(FULFILLMENT, &input).await;
        c.advance(300);
        let feed = c.feed(created["feedId"].as_str().unwrap()).await;
        let result = feed["resultFeedDocumentId"].as_str().unwrap();
        let other = c.token_for(OTHER);

        let (own, doc) = c
            .get(&format!(
                "/feeds/2021-06-30/documents/{result}?enableContentEncodingUrlHeader=true"
            ))
            .await;
        let (foreign, _) = c
            .send_as(
                &other,
                reqwest::Method::GET,
                &format!("/feeds/2021-06-30/documents/{result}"),
                None,
            )
            .await;
        let (input_status, input_body) =
            c.get(&format!("/feeds/2021-06-30/documents/{input}")).await;
        let (bad_flag, _) = c
            .get(&format!(
                "/feeds/2021-06-30/documents/{result}?enableContentEncodingUrlHeader=yes"
            ))
            .await;

        assert_eq!(own, 200);
        assert!(doc.get("compressionAlgorithm").is_none());
        assert!(
            doc["url"]
                .as_str()
                .unwrap()
                .contains("response-content-encoding=gzip")
        );
        assert_eq!(foreign, 404);
        assert_eq!(
            input_status, 400,
            "Amazon: 400 Invalid feedDocumentId for an input document"
        );
        assert!(
            input_body["errors"][0]["details"]
                .as_str()
                .unwrap()
                .contains("input document")
        );
        assert_eq!(bad_flag, 400);
    }
}
