//! Reports API 2021-06-30 (`models/reports_2021-06-30.json`): createReport, getReports,
//! getReport, cancelReport, getReportDocument, and the report lifecycle.
//!
//! Lifecycle, computed lazily by [`advance`] on every request (no background task):
//! `IN_QUEUE` for `timing.reportQueueSeconds`, then `IN_PROGRESS` (processingStartTime) for
//! `timing.reportProcessingSeconds`, then the end (processingEndTime) decided at creation:
//! - normal: the document is rendered from the world by [`crate::report_docs`] and the report
//!   is `DONE`; with no data row it is `CANCELLED` without a document, as Amazon cancels
//!   reports that have no data (model: "automatic cancellation if there is no data");
//!   report types the simulator does not render end the same way;
//! - a verbatim document queued for the type (control API) is served as given instead, with
//!   `Content-Type: text/plain; charset=<charset>` and GZIP when asked;
//! - scripted `FATAL`: `FATAL` without a document, unless a verbatim document was queued
//!   too, which then becomes the error document Amazon sometimes attaches to FATAL reports;
//! - scripted `CANCELLED`: `CANCELLED` at the end of processing, no document;
//! - scripted `STUCK`: stays `IN_QUEUE` forever, so it can still be cancelled.
//!
//! The document is rendered when the simulator first notices the report has finished (the
//! first request after processingEndTime), from the world as it is then.
//!
//! `timing.gzipReportDocuments` makes generated documents GZIP (`compressionAlgorithm:
//! GZIP`). Defaults where Amazon's model says "now": a missing `dataEndTime` is the creation
//! time; a missing `dataStartTime` is the creation time too, except for the All Orders report
//! where it is 30 days before `dataEndTime` (a window of "now to now" never has data, and
//! Amazon keeps order reports 30 days).
//!
//! Errors: bad input is 400 `InvalidInput`; an unknown report, or another seller's, is 404
//! `NotFound` (the model documents 404 "The specified resource does not exist"), except that
//! an id that cannot be one of Amazon's (report ids are decimal numbers, document ids
//! `amzn1.…` or UUIDs) is 400 `InvalidInput`, as the sandbox answers `badReportId1` and
//! `badDocumentId1`. createReport refuses report types that are not Amazon's shape
//! (`GET_…`, or one of the few documented types without that prefix), as the sandbox refuses
//! `BAD_FEE_DISCOUNTS_REPORT`; a well-formed type the simulator does not render is accepted
//! and ends CANCELLED for want of data.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::limits::Operation;
use crate::report_docs;
use crate::sim::{
    Query, Sim, decode_token, encode_token, format_datetime, is_document_id, is_numeric_id,
    parse_datetime,
};
use crate::state::{DocumentKind, PlannedOutcome, ProcessingStatus, Report, State};

/// Default look-back of an All Orders report without `dataStartTime`.
const ORDERS_REPORT_DEFAULT_DAYS: i64 = 30;
/// Reports are kept 90 days (getReports' `createdSince` default).
const RETENTION_DAYS: i64 = 90;

/// Moves every unfinished report forward to `now`.
pub fn advance(st: &mut State, now: OffsetDateTime) {
    let queue = Duration::seconds(st.timing.report_queue_seconds as i64);
    let processing = Duration::seconds(st.timing.report_processing_seconds as i64);
    let open: Vec<String> = st
        .reports
        .values()
        .filter(|r| !r.status.is_terminal())
        .map(|r| r.report_id.clone())
        .collect();
    for id in open {
        let Some(r) = st.reports.get_mut(&id) else {
            continue;
        };
        if r.status == ProcessingStatus::InQueue {
            let start = r.created_time + queue;
            if r.planned == PlannedOutcome::Stuck || start > now {
                continue;
            }
            r.status = ProcessingStatus::InProgress;
            r.processing_start_time = Some(start);
        }
        let end = r.processing_start_time.unwrap_or(r.created_time) + processing;
        if r.status == ProcessingStatus::InProgress && end <= now {
            finish(st, &id, end);
        }
    }
}

/// When the next open report finishes (None when none will: stuck or no open report).
pub fn next_end(st: &State) -> Option<OffsetDateTime> {
    let queue = Duration::seconds(st.timing.report_queue_seconds as i64);
    let processing = Duration::seconds(st.timing.report_processing_seconds as i64);
    st.reports
        .values()
        .filter(|r| !r.status.is_terminal() && r.planned != PlannedOutcome::Stuck)
        .map(|r| r.processing_start_time.unwrap_or(r.created_time + queue) + processing)
        .min()
}

fn finish(st: &mut State, id: &str, end: OffsetDateTime) {
    let Some(report) = st.reports.get(id).cloned() else {
        return;
    };
    let (status, document) = match (&report.planned, &report.verbatim) {
        (PlannedOutcome::Cancelled, _) => (ProcessingStatus::Cancelled, None),
        (PlannedOutcome::Fatal, None) => (ProcessingStatus::Fatal, None),
        (PlannedOutcome::Fatal, Some(v)) => (
            ProcessingStatus::Fatal,
            Some((v.bytes.to_vec(), v.charset.clone(), v.gzip)),
        ),
        (_, Some(v)) => (
            ProcessingStatus::Done,
            Some((v.bytes.to_vec(), v.charset.clone(), v.gzip)),
        ),
        (_, None) => match report_docs::render(st, &report) {
            Some(doc) => (
                ProcessingStatus::Done,
                Some((
                    doc.bytes,
                    doc.charset.to_string(),
                    st.timing.gzip_report_documents,
                )),
            ),
            None => (ProcessingStatus::Cancelled, None),
        },
    };
    let document_id = document.map(|(bytes, charset, gzip)| {
        st.store_document(
            &report.seller_id,
            DocumentKind::Report,
            &bytes,
            &format!("text/plain; charset={charset}"),
            gzip,
        )
    });
    if let Some(r) = st.reports.get_mut(id) {
        r.status = status;
        r.processing_end_time = Some(end);
        r.report_document_id = document_id;
    }
}

/// The `Report` object of the model.
pub fn report_json(r: &Report) -> Value {
    let mut v = json!({
        "reportId": r.report_id,
        "reportType": r.report_type,
        "createdTime": format_datetime(r.created_time),
        "processingStatus": r.status.as_str(),
        "marketplaceIds": r.marketplace_ids,
    });
    let times = [
        ("dataStartTime", r.data_start_time),
        ("dataEndTime", r.data_end_time),
        ("processingStartTime", r.processing_start_time),
        ("processingEndTime", r.processing_end_time),
    ];
    for (key, t) in times {
        if let Some(t) = t {
            v[key] = json!(format_datetime(t));
        }
    }
    if let Some(d) = &r.report_document_id {
        v["reportDocumentId"] = json!(d);
    }
    v
}

/// Documented report types whose name does not start with `GET_` (Report Type Values pages).
const TYPES_WITHOUT_GET_PREFIX: &[&str] = &[
    "FEE_DISCOUNTS_REPORT",
    "SC_VAT_TAX_REPORT",
    "RFQD_BULK_DOWNLOAD",
    "MARKETPLACE_ASIN_PAGE_VIEW_METRICS",
];

fn is_report_type(s: &str) -> bool {
    let shaped = s.len() > 4
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    shaped && (s.starts_with("GET_") || TYPES_WITHOUT_GET_PREFIX.contains(&s))
}

struct NewReport {
    report_type: String,
    marketplace_ids: Vec<String>,
    data_start_time: OffsetDateTime,
    data_end_time: OffsetDateTime,
    report_options: BTreeMap<String, String>,
}

fn parse_create(
    body: &[u8],
    seller_marketplaces: &[String],
    now: OffsetDateTime,
) -> Result<NewReport, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("The request body is not valid JSON: {e}"))?;
    if !v.is_object() {
        return Err("The request body must be a CreateReportSpecification object.".into());
    }
    let report_type = match v.get("reportType") {
        Some(Value::String(s)) if is_report_type(s) => s.clone(),
        Some(Value::String(s)) => return Err(format!("Invalid reportType '{s}'.")),
        Some(_) => return Err("reportType must be a string.".into()),
        None => return Err("reportType is required.".into()),
    };
    let marketplace_ids: Vec<String> = match v.get("marketplaceIds") {
        None => return Err("marketplaceIds is required.".into()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or("marketplaceIds must be an array of strings.")?,
        Some(_) => return Err("marketplaceIds must be an array of strings.".into()),
    };
    if marketplace_ids.is_empty() || marketplace_ids.len() > 25 {
        return Err("marketplaceIds must contain between 1 and 25 values.".into());
    }
    for m in &marketplace_ids {
        if !seller_marketplaces.contains(m) {
            return Err(format!(
                "Invalid marketplaceId '{m}': the seller does not participate in it."
            ));
        }
    }
    let time = |key: &str| -> Result<Option<OffsetDateTime>, String> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let t = parse_datetime(s)
                    .ok_or_else(|| format!("{key} '{s}' is not an ISO 8601 date-time."))?;
                if t > now {
                    return Err(format!(
                        "{key} must be prior to or equal to the current date and time."
                    ));
                }
                Ok(Some(t))
            }
            Some(_) => Err(format!("{key} must be a date-time string.")),
        }
    };
    let start = time("dataStartTime")?;
    let end = time("dataEndTime")?;
    let data_end_time = end.unwrap_or(now);
    let data_start_time = start.unwrap_or(if report_type == report_docs::ALL_ORDERS {
        data_end_time - Duration::days(ORDERS_REPORT_DEFAULT_DAYS)
    } else {
        data_end_time
    });
    if data_start_time > data_end_time {
        return Err("dataStartTime must be prior to or equal to dataEndTime.".into());
    }
    let report_options = match v.get("reportOptions") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect::<Option<_>>()
            .ok_or("reportOptions values must be strings.")?,
        Some(_) => return Err("reportOptions must be an object of strings.".into()),
    };
    Ok(NewReport {
        report_type,
        marketplace_ids,
        data_start_time,
        data_end_time,
        report_options,
    })
}

/// `POST /reports/2021-06-30/reports`: createReport (202 `{reportId}`).
pub async fn create_report(
    AxumState(sim): AxumState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match sim.begin(Operation::CreateReport, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut st = sim.lock();
    let marketplaces = st
        .sellers
        .get(&call.seller_id)
        .map(|s| s.marketplace_ids.clone())
        .unwrap_or_default();
    let new = match parse_create(&body, &marketplaces, call.now) {
        Ok(n) => n,
        Err(msg) => {
            drop(st);
            return call.invalid_input(&msg);
        }
    };
    let report_id = st.numeric_id();
    let planned = st.faults.next_report_outcome(&new.report_type);
    let verbatim = st.faults.next_verbatim_document(&new.report_type);
    st.reports.insert(
        report_id.clone(),
        Report {
            report_id: report_id.clone(),
            seller_id: call.seller_id.clone(),
            report_type: new.report_type,
            marketplace_ids: new.marketplace_ids,
            data_start_time: Some(new.data_start_time),
            data_end_time: Some(new.data_end_time),
            report_options: new.report_options,
            created_time: call.now,
            processing_start_time: None,
            processing_end_time: None,
            status: ProcessingStatus::InQueue,
            report_document_id: None,
            planned,
            verbatim,
        },
    );
    // Zero queue and processing times finish the report at once.
    advance(&mut st, call.now);
    drop(st);
    call.json(StatusCode::ACCEPTED, json!({ "reportId": report_id }))
}

/// `GET /reports/2021-06-30/reports/{reportId}`: getReport.
pub async fn get_report(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(report_id): Path<String>,
    headers: HeaderMap,
    RawQuery(_q): RawQuery,
) -> Response {
    let call = match sim.begin(Operation::GetReport, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let report = sim
        .lock()
        .reports
        .get(&report_id)
        .filter(|r| r.seller_id == call.seller_id)
        .map(report_json);
    match report {
        Some(r) => call.json(StatusCode::OK, r),
        None if !is_numeric_id(&report_id) => {
            call.invalid_input(&format!("Invalid reportId '{report_id}'."))
        }
        None => call.not_found(&format!("Report {report_id} was not found.")),
    }
}

/// `DELETE /reports/2021-06-30/reports/{reportId}`: cancelReport (200, empty body).
pub async fn cancel_report(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(report_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = match sim.begin(Operation::CancelReport, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut st = sim.lock();
    let Some(report) = st
        .reports
        .get_mut(&report_id)
        .filter(|r| r.seller_id == call.seller_id)
    else {
        drop(st);
        if !is_numeric_id(&report_id) {
            return call.invalid_input(&format!("Invalid reportId '{report_id}'."));
        }
        return call.not_found(&format!("Report {report_id} was not found."));
    };
    if report.status != ProcessingStatus::InQueue {
        let status = report.status.as_str();
        drop(st);
        return call.invalid_input(&format!(
            "Only reports with processingStatus=IN_QUEUE can be cancelled; report {report_id} is {status}."
        ));
    }
    report.status = ProcessingStatus::Cancelled;
    report.processing_end_time = Some(call.now);
    drop(st);
    // The model declares 200 with no schema: an empty body.
    let mut r = call.json(StatusCode::OK, Value::Null);
    *r.body_mut() = Body::empty();
    r.headers_mut().remove(header::CONTENT_TYPE);
    r
}

struct ListFilter {
    types: Vec<String>,
    statuses: Vec<String>,
    marketplaces: Vec<String>,
    since: OffsetDateTime,
    until: OffsetDateTime,
    page_size: usize,
    /// (createdTime in unix nanos, reportId) of the last report already returned.
    after: Option<(i128, String)>,
}

fn parse_list(q: &Query, now: OffsetDateTime) -> Result<ListFilter, String> {
    if let Some(token) = q.get("nextToken") {
        if q.keys().any(|k| k != "nextToken") {
            return Err("nextToken must be the only parameter when it is given.".into());
        }
        let bad = || "Invalid nextToken.".to_string();
        let t = decode_token(token).ok_or_else(bad)?;
        let strings = |key: &str| -> Option<Vec<String>> {
            t[key]
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        // Times travel as unix nanoseconds: a page boundary must not drop the reports
        // created in the last fraction of a second.
        let at = |key: &str| {
            t[key]
                .as_str()
                .and_then(|s| s.parse::<i128>().ok())
                .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        };
        let key = t["k"]
            .as_str()
            .and_then(|k| k.parse::<i128>().ok())
            .ok_or_else(bad)?;
        return Ok(ListFilter {
            types: strings("t").ok_or_else(bad)?,
            statuses: strings("s").ok_or_else(bad)?,
            marketplaces: strings("m").ok_or_else(bad)?,
            since: at("cs").ok_or_else(bad)?,
            until: at("cu").ok_or_else(bad)?,
            page_size: t["p"].as_u64().ok_or_else(bad)? as usize,
            after: Some((key, t["i"].as_str().ok_or_else(bad)?.to_string())),
        });
    }
    let types = q.list("reportTypes");
    if types.is_empty() {
        return Err("Either reportTypes or nextToken is required.".into());
    }
    if types.len() > 10 {
        return Err("reportTypes accepts between 1 and 10 values.".into());
    }
    let statuses = q.list("processingStatuses");
    if let Some(bad) = statuses
        .iter()
        .find(|s| ProcessingStatus::parse(s).is_none())
    {
        return Err(format!("Invalid input in processingStatuses: '{bad}'."));
    }
    if q.has("processingStatuses") && statuses.is_empty() {
        return Err("processingStatuses must contain at least one value.".into());
    }
    let marketplaces = q.list("marketplaceIds");
    if q.has("marketplaceIds") && !(1..=10).contains(&marketplaces.len()) {
        return Err("marketplaceIds accepts between 1 and 10 values.".into());
    }
    let page_size = match q.get("pageSize") {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err("pageSize must be an integer between 1 and 100.".into()),
        },
    };
    // Reports older than the retention period no longer exist, so an earlier createdSince
    // just means "all of them" (as getFeeds does).
    let oldest = now - Duration::days(RETENTION_DAYS);
    let since = q.datetime("createdSince")?.unwrap_or(oldest).max(oldest);
    let until = q.datetime("createdUntil")?.unwrap_or(now);
    if q.has("createdSince") && q.has("createdUntil") && since > until {
        return Err("createdSince must be before createdUntil.".into());
    }
    Ok(ListFilter {
        types,
        statuses,
        marketplaces,
        since,
        until,
        page_size,
        after: None,
    })
}

/// `GET /reports/2021-06-30/reports`: getReports, newest first.
pub async fn get_reports(
    AxumState(sim): AxumState<Arc<Sim>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let call = match sim.begin(Operation::GetReports, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let f = match parse_list(&q, call.now) {
        Ok(f) => f,
        Err(msg) => return call.invalid_input(&msg),
    };
    let st = sim.lock();
    let mut found: Vec<&Report> = st
        .reports
        .values()
        .filter(|r| r.seller_id == call.seller_id)
        .filter(|r| f.types.contains(&r.report_type))
        .filter(|r| f.statuses.is_empty() || f.statuses.iter().any(|s| s == r.status.as_str()))
        .filter(|r| {
            f.marketplaces.is_empty()
                || r.marketplace_ids.iter().any(|m| f.marketplaces.contains(m))
        })
        .filter(|r| r.created_time >= f.since && r.created_time <= f.until)
        .filter(|r| match &f.after {
            None => true,
            Some((k, id)) => {
                (r.created_time.unix_timestamp_nanos(), r.report_id.as_str()) < (*k, id.as_str())
            }
        })
        .collect();
    found.sort_by(|a, b| {
        (b.created_time, b.report_id.as_str()).cmp(&(a.created_time, a.report_id.as_str()))
    });
    let more = found.len() > f.page_size;
    found.truncate(f.page_size);
    let mut body = json!({ "reports": found.iter().map(|r| report_json(r)).collect::<Vec<_>>() });
    if more && let Some(last) = found.last() {
        body["nextToken"] = json!(encode_token(&json!({
            "t": f.types,
            "s": f.statuses,
            "m": f.marketplaces,
            "cs": f.since.unix_timestamp_nanos().to_string(),
            "cu": f.until.unix_timestamp_nanos().to_string(),
            "p": f.page_size,
            "k": last.created_time.unix_timestamp_nanos().to_string(),
            "i": last.report_id,
        })));
    }
    drop(st);
    call.json(StatusCode::OK, body)
}

/// `GET /reports/2021-06-30/documents/{reportDocumentId}`: getReportDocument.
pub async fn get_report_document(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(document_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let call = match sim.begin(Operation::GetReportDocument, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let encoding_header = match q.boolean("enableContentEncodingUrlHeader") {
        Ok(v) => v.unwrap_or(false),
        Err(message) => return call.invalid_input(&message),
    };
    let st = sim.lock();
    let gzip = st
        .documents
        .get(&document_id)
        .filter(|d| d.kind == DocumentKind::Report && d.seller_id == call.seller_id)
        .map(|d| d.gzip);
    let Some(gzip) = gzip else {
        drop(st);
        if !is_document_id(&document_id) {
            return call.invalid_input(&format!("Invalid reportDocumentId '{document_id}'."));
        }
        return call.not_found(&format!("Report document {document_id} was not found."));
    };
    let url = sim.presigned_get_url(&st, &document_id, call.now, encoding_header);
    drop(st);
    let mut body = json!({ "reportDocumentId": document_id, "url": url });
    if gzip {
        body["compressionAlgorithm"] = json!("GZIP");
    }
    call.json(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::{T0, body_json, frozen_sim, headers, order, seller_spec};
    use crate::scenario::Timing;
    use crate::state::VerbatimDocument;
    use crate::world::FulfilledBy;
    use axum::body::to_bytes;
    use std::io::Read;

    const DAY: &str = "2026-11-19T12:00:00Z";

    fn sim_with_orders(timing: Timing) -> Arc<Sim> {
        let orders = vec![
            order(
                "111-0000000-0000001",
                T0 - Duration::hours(30),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "UNSHIPPED",
            ),
            order(
                "111-0000000-0000002",
                T0 - Duration::hours(2),
                "ATVPDKIKX0DER",
                FulfilledBy::Merchant,
                "UNSHIPPED",
            ),
        ];
        frozen_sim(
            vec![
                seller_spec("S1", orders, None),
                seller_spec("S2", vec![], None),
            ],
            timing,
        )
    }

    async fn create(sim: &Arc<Sim>, seller: &str, body: Value) -> (u16, Value) {
        let r = create_report(
            AxumState(Arc::clone(sim)),
            headers(seller),
            Bytes::from(body.to_string()),
        )
        .await;
        body_json(r).await
    }

    async fn create_id(sim: &Arc<Sim>, body: Value) -> String {
        let (status, v) = create(sim, "S1", body).await;
        assert_eq!(status, 202, "{v}");
        v["reportId"].as_str().unwrap().to_string()
    }

    async fn get(sim: &Arc<Sim>, seller: &str, id: &str) -> (u16, Value) {
        body_json(
            get_report(
                AxumState(Arc::clone(sim)),
                Path(id.into()),
                headers(seller),
                RawQuery(None),
            )
            .await,
        )
        .await
    }

    async fn list(sim: &Arc<Sim>, query: &str) -> (u16, Value) {
        body_json(
            get_reports(
                AxumState(Arc::clone(sim)),
                headers("S1"),
                RawQuery(Some(query.into())),
            )
            .await,
        )
        .await
    }

    fn orders_report(start: &str) -> Value {
        json!({
            "reportType": report_docs::ALL_ORDERS,
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "dataStartTime": start,
        })
    }

    /// Fetches the document of a DONE report: (content type, content encoding, raw bytes, body).
    async fn download(
        sim: &Arc<Sim>,
        document_id: &str,
        query: &str,
    ) -> (Value, String, Option<String>, Vec<u8>) {
        let r = get_report_document(
            AxumState(Arc::clone(sim)),
            Path(document_id.into()),
            headers("S1"),
            RawQuery(Some(query.into())),
        )
        .await;
        let (status, doc) = body_json(r).await;
        assert_eq!(status, 200, "{doc}");
        let url = doc["url"].as_str().unwrap();
        let (path, query) = url.split_once('?').unwrap();
        let id = path.rsplit('/').next().unwrap();
        let id: String = url::form_urlencoded::parse(format!("x={id}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let r = crate::documents::download(
            AxumState(Arc::clone(sim)),
            Path(id),
            RawQuery(Some(query.into())),
        )
        .await;
        assert_eq!(r.status(), 200);
        let content_type = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let encoding = r
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec();
        (doc, content_type, encoding, bytes)
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn secs(n: u64) -> std::time::Duration {
        std::time::Duration::from_secs(n)
    }

    #[tokio::test]
    async fn report_walks_queue_progress_done_over_simulated_time() {
        let sim = sim_with_orders(Timing::default());
        let id = create_id(&sim, orders_report(DAY)).await;

        let (_, queued) = get(&sim, "S1", &id).await;
        sim.advance_clock(secs(30));
        let (_, running) = get(&sim, "S1", &id).await;
        sim.advance_clock(secs(89));
        let (_, still) = get(&sim, "S1", &id).await;
        sim.advance_clock(secs(1));
        let (_, done) = get(&sim, "S1", &id).await;

        assert_eq!(queued["processingStatus"], "IN_QUEUE");
        assert_eq!(queued["createdTime"], format_datetime(T0));
        assert_eq!(queued["dataStartTime"], DAY);
        assert_eq!(queued["dataEndTime"], format_datetime(T0));
        assert!(queued.get("processingStartTime").is_none());
        assert_eq!(running["processingStatus"], "IN_PROGRESS");
        assert_eq!(
            running["processingStartTime"],
            format_datetime(T0 + Duration::seconds(30))
        );
        assert_eq!(still["processingStatus"], "IN_PROGRESS");
        assert_eq!(done["processingStatus"], "DONE");
        assert_eq!(
            done["processingEndTime"],
            format_datetime(T0 + Duration::seconds(120))
        );
        let doc_id = done["reportDocumentId"].as_str().unwrap();
        let (doc, content_type, _, bytes) = download(&sim, doc_id, "").await;
        assert!(doc.get("compressionAlgorithm").is_none());
        assert_eq!(content_type, "text/plain; charset=UTF-8");
        let text = String::from_utf8(bytes).unwrap();
        // Only order 2 is in the window: a header and its two item rows.
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines()
                .skip(1)
                .all(|l| l.starts_with("111-0000000-0000002\t"))
        );
    }

    #[tokio::test]
    async fn report_without_data_is_cancelled_without_document() {
        let sim = sim_with_orders(Timing::default());
        let id = create_id(
            &sim,
            json!({
                "reportType": report_docs::ALL_ORDERS,
                "marketplaceIds": ["ATVPDKIKX0DER"],
                "dataStartTime": "2026-10-01T00:00:00Z",
                "dataEndTime": "2026-10-02T00:00:00Z",
            }),
        )
        .await;
        let unknown = create_id(&sim, json!({ "reportType": "GET_V2_SELLER_PERFORMANCE_REPORT", "marketplaceIds": ["ATVPDKIKX0DER"] })).await;

        sim.advance_clock(secs(120));
        let (_, r) = get(&sim, "S1", &id).await;
        let (_, u) = get(&sim, "S1", &unknown).await;

        assert_eq!(r["processingStatus"], "CANCELLED");
        assert!(r.get("reportDocumentId").is_none());
        assert!(r["processingEndTime"].is_string());
        assert_eq!(u["processingStatus"], "CANCELLED");
    }

    #[tokio::test]
    async fn scripted_outcomes_end_fatal_cancelled_or_stay_queued() {
        let sim = sim_with_orders(Timing::default());
        for outcome in [
            PlannedOutcome::Fatal,
            PlannedOutcome::Cancelled,
            PlannedOutcome::Stuck,
        ] {
            sim.script_report_outcome(report_docs::ALL_ORDERS, outcome);
        }
        let fatal = create_id(&sim, orders_report(DAY)).await;
        let cancelled = create_id(&sim, orders_report(DAY)).await;
        let stuck = create_id(&sim, orders_report(DAY)).await;
        let normal = create_id(&sim, orders_report(DAY)).await;

        sim.advance_clock(secs(3600));
        let status = |v: &Value| v["processingStatus"].as_str().unwrap().to_string();
        let (_, f) = get(&sim, "S1", &fatal).await;
        let (_, c) = get(&sim, "S1", &cancelled).await;
        let (_, s) = get(&sim, "S1", &stuck).await;
        let (_, n) = get(&sim, "S1", &normal).await;

        assert_eq!(
            (status(&f), status(&c), status(&s), status(&n)),
            (
                "FATAL".into(),
                "CANCELLED".into(),
                "IN_QUEUE".into(),
                "DONE".into()
            )
        );
        assert!(f.get("reportDocumentId").is_none());
        assert!(c.get("reportDocumentId").is_none());
        let r = cancel_report(
            AxumState(Arc::clone(&sim)),
            Path(stuck.clone()),
            headers("S1"),
        )
        .await;
        assert_eq!(r.status(), 200);
        let (_, s) = get(&sim, "S1", &stuck).await;
        assert_eq!(status(&s), "CANCELLED");
    }

    #[tokio::test]
    async fn verbatim_document_is_served_byte_for_byte_with_its_charset() {
        let sim = sim_with_orders(Timing::default());
        // "Größe" in windows-1252, and a stray byte no UTF-8 decoder accepts.
        let raw: Vec<u8> =
            b"sku\tasin\tprice\tquantity\nGr\xf6\xdfe\tB000000001\t9.99\t3\n".to_vec();
        sim.serve_next_document(
            report_docs::OPEN_LISTINGS,
            VerbatimDocument {
                bytes: raw.clone().into(),
                charset: "Cp1252".into(),
                gzip: false,
            },
        );
        sim.serve_next_document(
            report_docs::OPEN_LISTINGS,
            VerbatimDocument {
                bytes: raw.clone().into(),
                charset: "Cp1252".into(),
                gzip: true,
            },
        );
        let body = json!({ "reportType": report_docs::OPEN_LISTINGS, "marketplaceIds": ["ATVPDKIKX0DER"] });
        let plain = create_id(&sim, body.clone()).await;
        let zipped = create_id(&sim, body).await;

        sim.advance_clock(secs(120));
        let (_, p) = get(&sim, "S1", &plain).await;
        let (_, z) = get(&sim, "S1", &zipped).await;
        let (_, content_type, _, bytes) =
            download(&sim, p["reportDocumentId"].as_str().unwrap(), "").await;
        let (doc, _, encoding, gz) =
            download(&sim, z["reportDocumentId"].as_str().unwrap(), "").await;
        let (_, _, encoding_on, gz_again) = download(
            &sim,
            z["reportDocumentId"].as_str().unwrap(),
            "enableContentEncodingUrlHeader=true",
        )
        .await;

        assert_eq!(p["processingStatus"], "DONE");
        assert_eq!(content_type, "text/plain; charset=Cp1252");
        assert_eq!(bytes, raw);
        assert_eq!(doc["compressionAlgorithm"], "GZIP");
        assert_eq!(
            encoding.as_deref(),
            Some("identity"),
            "the default without the flag"
        );
        assert_eq!(gunzip(&gz), raw);
        assert_eq!(encoding_on.as_deref(), Some("gzip"));
        assert_eq!(gz_again, gz);
    }

    #[tokio::test]
    async fn fatal_with_a_verbatim_document_attaches_it_as_error_document() {
        let sim = sim_with_orders(Timing::default());
        sim.script_report_outcome(report_docs::ALL_ORDERS, PlannedOutcome::Fatal);
        sim.serve_next_document(
            report_docs::ALL_ORDERS,
            VerbatimDocument {
                bytes: b"error: too much data".to_vec().into(),
                charset: "UTF-8".into(),
                gzip: false,
            },
        );
        let id = create_id(&sim, orders_report(DAY)).await;

        sim.advance_clock(secs(120));
        let (_, r) = get(&sim, "S1", &id).await;
        let (_, _, _, bytes) = download(&sim, r["reportDocumentId"].as_str().unwrap(), "").await;

        assert_eq!(r["processingStatus"], "FATAL");
        assert_eq!(bytes, b"error: too much data");
    }

    #[tokio::test]
    async fn gzip_timing_knob_compresses_generated_documents() {
        let sim = sim_with_orders(Timing {
            gzip_report_documents: true,
            ..Timing::default()
        });
        let id = create_id(&sim, orders_report(DAY)).await;

        sim.advance_clock(secs(120));
        let (_, r) = get(&sim, "S1", &id).await;
        let (doc, _, _, bytes) = download(&sim, r["reportDocumentId"].as_str().unwrap(), "").await;

        assert_eq!(doc["compressionAlgorithm"], "GZIP");
        assert!(
            String::from_utf8(gunzip(&bytes))
                .unwrap()
                .starts_with("amazon-order-id\t")
        );
    }

    #[tokio::test]
    async fn create_report_validates_its_body() {
        let sim = sim_with_orders(Timing::default());
        let future = format_datetime(T0 + Duration::hours(1));
        let cases = [
            json!({ "marketplaceIds": ["ATVPDKIKX0DER"] }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA" }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [] }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["A1PA6795UKMFR9"] }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["ATVPDKIKX0DER"], "dataStartTime": future }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["ATVPDKIKX0DER"], "dataStartTime": "2026-11-19T00:00:00Z", "dataEndTime": "2026-11-18T00:00:00Z" }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["ATVPDKIKX0DER"], "dataEndTime": "19/11/2026" }),
            json!({ "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["ATVPDKIKX0DER"], "reportOptions": { "custom": true } }),
            json!({ "reportType": "get merchant listings", "marketplaceIds": ["ATVPDKIKX0DER"] }),
            json!({ "reportType": "BAD_FEE_DISCOUNTS_REPORT", "marketplaceIds": ["ATVPDKIKX0DER"] }),
        ];

        for body in cases {
            let (status, v) = create(&sim, "S1", body.clone()).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(v["errors"][0]["code"], "InvalidInput");
        }
        assert!(sim.lock().reports.is_empty());
    }

    #[tokio::test]
    async fn another_sellers_report_is_not_found() {
        let sim = sim_with_orders(Timing::default());
        let id = create_id(&sim, orders_report(DAY)).await;

        let (mine, _) = get(&sim, "S1", &id).await;
        let (theirs, body) = get(&sim, "S2", &id).await;
        let (unknown, _) = get(&sim, "S1", "123").await;
        let (malformed, bad) = get(&sim, "S1", "badReportId1").await;

        assert_eq!((mine, theirs, unknown, malformed), (200, 404, 404, 400));
        assert_eq!(bad["errors"][0]["code"], "InvalidInput");
        assert_eq!(body["errors"][0]["code"], "NotFound");
    }

    #[tokio::test]
    async fn cancel_only_while_in_queue() {
        let sim = sim_with_orders(Timing::default());
        let queued = create_id(&sim, orders_report(DAY)).await;
        let running = {
            sim.advance_clock(secs(30));
            queued.clone()
        };
        let fresh = create_id(&sim, orders_report(DAY)).await;
        let cancel = |id: String| {
            let sim = Arc::clone(&sim);
            async move {
                body_json(cancel_report(AxumState(sim), Path(id), headers("S1")).await)
                    .await
                    .0
            }
        };

        let in_progress = cancel(running.clone()).await;
        let in_queue = cancel(fresh.clone()).await;
        let again = cancel(fresh.clone()).await;
        let missing = cancel("999".into()).await;

        assert_eq!(
            (in_progress, in_queue, again, missing),
            (400, 200, 400, 404)
        );
        assert_eq!(
            get(&sim, "S1", &fresh).await.1["processingStatus"],
            "CANCELLED"
        );
        assert_eq!(
            get(&sim, "S1", &running).await.1["processingStatus"],
            "IN_PROGRESS"
        );
    }

    #[tokio::test]
    async fn get_reports_filters_and_pages_newest_first() {
        let sim = sim_with_orders(Timing::default());
        let mut ids = Vec::new();
        for i in 0..7 {
            let kind = if i % 2 == 0 {
                report_docs::ALL_ORDERS
            } else {
                report_docs::ALL_LISTINGS
            };
            ids.push(
                create_id(
                    &sim,
                    json!({ "reportType": kind, "marketplaceIds": ["ATVPDKIKX0DER"] }),
                )
                .await,
            );
            sim.advance_clock(secs(60));
        }
        sim.script_report_outcome(report_docs::ALL_ORDERS, PlannedOutcome::Stuck);
        let stuck = create_id(&sim, orders_report(DAY)).await;
        let (_, other) = create(
            &sim,
            "S2",
            json!({ "reportType": report_docs::ALL_ORDERS, "marketplaceIds": ["ATVPDKIKX0DER"] }),
        )
        .await;

        let (_, orders_only) =
            list(&sim, &format!("reportTypes={}", report_docs::ALL_ORDERS)).await;
        let (_, queued) = list(
            &sim,
            &format!(
                "reportTypes={},{}&processingStatuses=IN_QUEUE",
                report_docs::ALL_ORDERS,
                report_docs::ALL_LISTINGS
            ),
        )
        .await;
        let mut pages = Vec::new();
        let mut query = format!(
            "reportTypes={}&reportTypes={}&pageSize=3",
            report_docs::ALL_ORDERS,
            report_docs::ALL_LISTINGS
        );
        loop {
            let (status, page) = list(&sim, &query).await;
            assert_eq!(status, 200, "{page}");
            pages.push(
                page["reports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["reportId"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>(),
            );
            match page["nextToken"].as_str() {
                Some(t) => query = format!("nextToken={t}"),
                None => break,
            }
        }

        let ids_of = |v: &Value| {
            v["reports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["reportId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids_of(&orders_only),
            [
                stuck.clone(),
                ids[6].clone(),
                ids[4].clone(),
                ids[2].clone(),
                ids[0].clone()
            ]
        );
        assert_eq!(ids_of(&queued), std::slice::from_ref(&stuck));
        let mut expected: Vec<String> = ids.clone();
        expected.push(stuck);
        expected.reverse();
        assert_eq!(pages.concat(), expected);
        assert_eq!(pages.len(), 3);
        assert!(
            !pages
                .concat()
                .contains(&other["reportId"].as_str().unwrap().to_string())
        );
    }

    #[tokio::test]
    async fn get_reports_pages_keep_reports_created_within_the_same_second() {
        let sim = sim_with_orders(Timing::default());
        let body =
            json!({ "reportType": report_docs::ALL_ORDERS, "marketplaceIds": ["ATVPDKIKX0DER"] });
        sim.advance_clock(std::time::Duration::from_millis(300));
        let first = create_id(&sim, body.clone()).await;
        sim.advance_clock(std::time::Duration::from_millis(300));
        let second = create_id(&sim, body).await;

        let (_, page1) = list(
            &sim,
            &format!("reportTypes={}&pageSize=1", report_docs::ALL_ORDERS),
        )
        .await;
        let token = page1["nextToken"].as_str().unwrap();
        let (_, page2) = list(&sim, &format!("nextToken={token}")).await;

        assert_eq!(page1["reports"][0]["reportId"], second.as_str());
        assert_eq!(page2["reports"][0]["reportId"], first.as_str());
    }

    #[tokio::test]
    async fn get_reports_validates_its_parameters() {
        let sim = sim_with_orders(Timing::default());
        let (_, first) = list(&sim, "reportTypes=A").await;
        assert!(first.get("nextToken").is_none());

        for query in [
            "",
            "processingStatuses=DONE",
            "reportTypes=A&processingStatuses=BAD_VALUE,IN_PROGRESS",
            "reportTypes=A&pageSize=0",
            "reportTypes=A&pageSize=101",
            "reportTypes=A,B,C,D,E,F,G,H,I,J,K",
            "reportTypes=A&createdSince=yesterday",
            "nextToken=abc",
            "nextToken=eyJ9&reportTypes=A",
        ] {
            let (status, body) = list(&sim, query).await;
            assert_eq!(status, 400, "{query}");
            assert_eq!(body["errors"][0]["code"], "InvalidInput");
        }
    }

    #[tokio::test]
    async fn report_documents_belong_to_their_seller() {
        let sim = sim_with_orders(Timing::default());
        let id = create_id(&sim, orders_report(DAY)).await;
        sim.advance_clock(secs(120));
        let doc_id = get(&sim, "S1", &id).await.1["reportDocumentId"]
            .as_str()
            .unwrap()
            .to_string();

        let r = get_report_document(
            AxumState(Arc::clone(&sim)),
            Path(doc_id.clone()),
            headers("S2"),
            RawQuery(None),
        )
        .await;
        let bad = get_report_document(
            AxumState(Arc::clone(&sim)),
            Path(doc_id),
            headers("S1"),
            RawQuery(Some("enableContentEncodingUrlHeader=yes".into())),
        )
        .await;

        let malformed = get_report_document(
            AxumState(Arc::clone(&sim)),
            Path("badDocumentId1".into()),
            headers("S1"),
            RawQuery(None),
        )
        .await;

        assert_eq!(r.status(), 404);
        assert_eq!(bad.status(), 400);
        assert_eq!(malformed.status(), 400);
    }
}
