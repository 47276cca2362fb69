//! Documents on presigned URLs: report documents and feed processing reports to GET, feed
//! input documents to PUT.
//!
//! In real life these URLs point at S3 and expire after 5 minutes; here they point at the
//! simulator (`/_sim/documents/{id}` and `/_sim/uploads/{id}`) and carry an S3-like query
//! (`X-Amz-Date`, `X-Amz-Expires`, `X-Amz-Signature`). An expired or tampered URL gets S3's
//! XML `AccessDenied`; an upload whose `Content-Type` differs from the one declared to
//! createFeedDocument gets S3's `SignatureDoesNotMatch`, as a real presigned PUT would.

use std::hash::Hasher;
use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::limits::Operation;
use crate::sim::{Query, Sim};
use crate::state::{Document, DocumentKind, State};

/// Largest feed document the simulator accepts on a presigned PUT (Amazon advises feeds under
/// 10 MiB; S3 itself takes 5 GB in one PUT).
pub const MAX_UPLOAD_BYTES: usize = 128 * 1024 * 1024;

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

impl State {
    /// Stores a document (GZIP-compressing it when `gzip`) and returns its id.
    pub fn store_document(
        &mut self,
        seller_id: &str,
        kind: DocumentKind,
        raw: &[u8],
        content_type: &str,
        gzip: bool,
    ) -> String {
        let prefix = match kind {
            DocumentKind::Report => "amzn1.spdoc.1.4.na.",
            DocumentKind::FeedInput { .. } => "amzn1.tortuga.4.na.",
            DocumentKind::FeedResult => "amzn1.tortuga.4.na.result.",
        };
        let id = self.document_id(prefix);
        let bytes = if gzip { gzip_bytes(raw) } else { raw.to_vec() };
        self.documents.insert(
            id.clone(),
            Document {
                document_id: id.clone(),
                seller_id: seller_id.to_string(),
                kind,
                bytes: Bytes::from(bytes),
                content_type: content_type.to_string(),
                gzip,
            },
        );
        id
    }
}

/// GZIP-compresses `raw`.
pub fn gzip_bytes(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

fn signature(
    secret: u64,
    method: &str,
    document_id: &str,
    date: &str,
    expires: u64,
    encoding: &str,
) -> String {
    // DefaultHasher::new() has fixed keys; the per-run secret makes URLs unguessable enough
    // for a loopback simulator (it is not a security boundary).
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write_u64(secret);
    h.write(method.as_bytes());
    h.write(document_id.as_bytes());
    h.write(date.as_bytes());
    h.write_u64(expires);
    h.write(encoding.as_bytes());
    let a = h.finish();
    h.write_u64(a ^ secret.rotate_left(17));
    format!("{a:016x}{:016x}", h.finish())
}

impl Sim {
    fn presign(
        &self,
        st: &State,
        path: &str,
        method: &str,
        document_id: &str,
        now: OffsetDateTime,
        gzip_encoding: bool,
    ) -> String {
        let date = now.format(DATE_FORMAT).unwrap_or_default();
        let expires = st.timing.document_url_ttl_seconds;
        let encoding = if gzip_encoding { "gzip" } else { "" };
        let sig = signature(st.url_secret, method, document_id, &date, expires, encoding);
        let enc_param = if gzip_encoding {
            "&response-content-encoding=gzip"
        } else {
            ""
        };
        // A presigned PUT is signed over the content type too (that is why an upload with
        // another Content-Type fails); a GET only over the host.
        let signed_headers = if method == "PUT" {
            "content-type%3Bhost"
        } else {
            "host"
        };
        format!(
            "{}/_sim/{path}/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={expires}{enc_param}&X-Amz-SignedHeaders={signed_headers}&X-Amz-Signature={sig}",
            self.base_url(),
            url::form_urlencoded::byte_serialize(document_id.as_bytes()).collect::<String>(),
        )
    }

    /// A presigned GET URL for a stored document (report or feed result). With
    /// `content_encoding_header` (getReportDocument's `enableContentEncodingUrlHeader`), a
    /// GZIP document is served with `Content-Encoding: gzip`.
    pub fn presigned_get_url(
        &self,
        st: &State,
        document_id: &str,
        now: OffsetDateTime,
        content_encoding_header: bool,
    ) -> String {
        self.presign(
            st,
            "documents",
            "GET",
            document_id,
            now,
            content_encoding_header,
        )
    }

    /// A presigned PUT URL for a feed input document.
    pub fn presigned_put_url(&self, st: &State, document_id: &str, now: OffsetDateTime) -> String {
        self.presign(st, "uploads", "PUT", document_id, now, false)
    }
}

/// Counts a presigned transfer and, in the binary, logs it (never the URL: it is a credential).
fn record_transfer(sim: &Sim, st: &mut State, method: &str, status: u16) {
    st.stats.record(Operation::Document.name(), status);
    if sim.log_calls {
        tracing::info!(
            sp_operation = "document",
            method,
            sp_status = status,
            "transfer answered"
        );
    }
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
        crate::sim::new_request_id()
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// Checks a presigned URL's query; `Err` is the S3 error to answer.
fn check_presigned(
    st: &State,
    method: &str,
    document_id: &str,
    query: &Query,
    now: OffsetDateTime,
) -> Result<bool, Response> {
    let (Some(date), Some(expires), Some(sig)) = (
        query.get("X-Amz-Date"),
        query.get("X-Amz-Expires"),
        query.get("X-Amz-Signature"),
    ) else {
        return Err(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    let expires: u64 = expires.parse().unwrap_or(0);
    let gzip_encoding = query.get("response-content-encoding") == Some("gzip");
    let expected = signature(
        st.url_secret,
        method,
        document_id,
        date,
        expires,
        if gzip_encoding { "gzip" } else { "" },
    );
    if expected != sig {
        return Err(s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    let Ok(signed_at) = time::PrimitiveDateTime::parse(date, DATE_FORMAT) else {
        return Err(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "X-Amz-Date must be in the ISO8601 Long Format",
        ));
    };
    if now > signed_at.assume_utc() + time::Duration::seconds(expires as i64) {
        return Err(s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        ));
    }
    Ok(gzip_encoding)
}

/// `GET /_sim/documents/{id}`: serves a document on its presigned URL.
pub async fn download(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (mut st, now) = sim.lock_at_now();
    let gzip_encoding = match check_presigned(&st, "GET", &id, &query, now) {
        Ok(g) => g,
        Err(r) => {
            record_transfer(&sim, &mut st, "GET", 403);
            return r;
        }
    };
    let Some(doc) = st
        .documents
        .get(&id)
        .filter(|d| !matches!(d.kind, DocumentKind::FeedInput { .. }))
        .cloned()
    else {
        record_transfer(&sim, &mut st, "GET", 404);
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    record_transfer(&sim, &mut st, "GET", 200);
    drop(st);
    let mut response = Response::new(Body::from(doc.bytes));
    let headers = response.headers_mut();
    if let Ok(v) = doc.content_type.parse() {
        headers.insert(header::CONTENT_TYPE, v);
    }
    // `identity` unless getReportDocument/getFeedDocument asked for the header
    // (enableContentEncodingUrlHeader): the models' default.
    let encoding = if doc.gzip && gzip_encoding {
        "gzip"
    } else {
        "identity"
    };
    headers.insert(
        header::CONTENT_ENCODING,
        header::HeaderValue::from_static(encoding),
    );
    response
}

/// `PUT /_sim/uploads/{id}`: receives a feed input document on its presigned URL.
pub async fn upload(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (mut st, now) = sim.lock_at_now();
    if let Err(r) = check_presigned(&st, "PUT", &id, &query, now) {
        record_transfer(&sim, &mut st, "PUT", 403);
        return r;
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Some(doc) = st.documents.get_mut(&id) else {
        record_transfer(&sim, &mut st, "PUT", 404);
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let DocumentKind::FeedInput {
        declared_content_type,
        uploaded,
    } = &mut doc.kind
    else {
        record_transfer(&sim, &mut st, "PUT", 403);
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    };
    // The URL is signed over the declared content type: anything else breaks the signature.
    if !sent_type.eq_ignore_ascii_case(declared_content_type) {
        record_transfer(&sim, &mut st, "PUT", 403);
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        );
    }
    *uploaded = true;
    doc.content_type = sent_type;
    doc.bytes = body;
    record_transfer(&sim, &mut st, "PUT", 200);
    (StatusCode::OK, [(header::ETAG, "\"sim\"")]).into_response()
}
