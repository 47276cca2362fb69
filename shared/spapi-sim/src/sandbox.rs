//! Static-sandbox mode: answer SP-API calls from Amazon's `x-amzn-api-sandbox` vectors.
//!
//! Amazon's sandbox hosts (`sandbox.sellingpartnerapi-*.amazon.com`) do no business logic:
//! each response code of a model operation may carry
//! `"x-amzn-api-sandbox": {"static": [{"request": {"parameters": {…}}, "response": {…}}]}`, and a
//! call whose parameters equal one vector's gets that vector's status and body back
//! verbatim; anything else gets 400 "Could not match input arguments". The sandbox still
//! wants a real LWA access token, so [`answer`] authenticates like every SP-API call.
//!
//! A [`SandboxBook`] is loaded from the Swagger 2.0 models themselves
//! ([`SandboxBook::load_models`], e.g. `selling-partner-api-models/models/…/*.json`) or from
//! the extracted form `{source_path, api_version, operations: {opId: {method, path,
//! responses: {code: {static: […]}}}}}` ([`SandboxBook::load_extracts`]).
//!
//! Matching rules (Amazon documents "the request parameters must match exactly"; where it is
//! silent we chose what its sandbox is seen to do):
//! - method and path template must match; `{name}` segments become parameters, and an empty
//!   segment means the parameter is absent (Amazon's cancelReport 400 vector has none);
//! - the set of parameter names sent must equal the vector's set (no extra, none missing);
//! - an array value matches the same list whether the client sent it comma-separated
//!   (`a=x,y`) or repeated (`a=x&a=y`), in order; a scalar matches its string, number or
//!   boolean rendering (`pageSize=10` matches `10`);
//! - the body parameter (named `body` in the vectors, whatever the model calls it) matches
//!   when the request body parses to an equal JSON value; a vector without one matches only a
//!   request without a body.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::sim::{Sim, error_body, new_request_id};

/// Why a sandbox file could not be loaded; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The directory or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// A file is JSON but not in the expected shape.
    #[error("{path}: {reason}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the JSON location.
        reason: String,
    },
}

/// One static vector: a request and the answer Amazon's sandbox pairs with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxVector {
    /// HTTP method, upper case (`GET`).
    pub method: String,
    /// Path template as in the model (`/reports/2021-06-30/reports/{reportId}`).
    pub path: String,
    /// The model's operationId (`getReport`).
    pub operation_id: String,
    /// The response code the vector sits under.
    pub status: u16,
    /// Path and query parameters by name, with the vector's JSON values.
    pub parameters: BTreeMap<String, Value>,
    /// The JSON body parameter, if the vector has one.
    pub body: Option<Value>,
    /// The response body; `None` when the vector has none (e.g. cancelReport 200).
    pub response: Option<Value>,
    /// The file the vector came from (for messages).
    pub source: String,
}

impl SandboxVector {
    /// The request path with the vector's path parameters filled in (percent-encoded), e.g.
    /// `/reports/2021-06-30/reports/ID323`; an absent path parameter leaves an empty segment.
    pub fn request_path(&self) -> String {
        self.path
            .split('/')
            .map(|seg| match path_param_name(seg) {
                Some(name) => self
                    .parameters
                    .get(name)
                    .map(|v| encode_component(&scalar_string(v)))
                    .unwrap_or_default(),
                None => seg.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The query parameters (every non-path parameter) as `(name, value)` pairs, arrays
    /// comma-separated as Amazon's clients send them.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let path_params: Vec<&str> = self.path.split('/').filter_map(path_param_name).collect();
        self.parameters
            .iter()
            .filter(|(name, _)| !path_params.contains(&name.as_str()))
            .map(|(name, value)| {
                let text = match value {
                    Value::Array(items) => items
                        .iter()
                        .map(scalar_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    other => scalar_string(other),
                };
                (name.clone(), text)
            })
            .collect()
    }
}

/// Amazon's static sandbox vectors, ready to answer requests.
#[derive(Debug, Clone, Default)]
pub struct SandboxBook {
    vectors: Vec<SandboxVector>,
}

/// A request as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct SandboxRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path, still percent-encoded.
    pub path: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Raw body bytes.
    pub body: &'a [u8],
}

/// What the book says about a request.
#[derive(Debug, Clone, PartialEq)]
pub enum SandboxMatch<'a> {
    /// A vector matched.
    Vector(&'a SandboxVector),
    /// The path names an operation with vectors, but no vector's parameters match.
    NoMatch {
        /// The operation the path and method name.
        operation_id: &'a str,
    },
    /// No vector is on this method and path at all.
    UnknownOperation,
}

impl SandboxBook {
    /// A book over `vectors` (for tests and tools).
    pub fn from_vectors(vectors: Vec<SandboxVector>) -> Self {
        Self { vectors }
    }

    /// Every vector, in file order.
    pub fn vectors(&self) -> &[SandboxVector] {
        &self.vectors
    }

    /// Reads every `*.json` Swagger 2.0 model in `dir` (sorted by name) and collects each
    /// static vector of each response code of each operation.
    pub fn load_models(dir: &Path) -> Result<Self, SandboxError> {
        let mut vectors = Vec::new();
        for path in json_files(dir, ".json")? {
            let doc = read_json(&path)?;
            vectors.extend(vectors_from_model(&doc, &path)?);
        }
        Ok(Self { vectors })
    }

    /// Reads every `*.sandbox.json` extract in `dir` (sorted by name).
    pub fn load_extracts(dir: &Path) -> Result<Self, SandboxError> {
        let mut vectors = Vec::new();
        for path in json_files(dir, ".sandbox.json")? {
            let doc = read_json(&path)?;
            vectors.extend(vectors_from_extract(&doc, &path)?);
        }
        Ok(Self { vectors })
    }

    /// Finds the vector answering `request`.
    pub fn find(&self, request: &SandboxRequest<'_>) -> SandboxMatch<'_> {
        let mut operation = None;
        let query = parse_query(request.query);
        for v in &self.vectors {
            if !v.method.eq_ignore_ascii_case(request.method) {
                continue;
            }
            let Some(path_params) = match_path(&v.path, request.path) else {
                continue;
            };
            operation.get_or_insert(v.operation_id.as_str());
            if params_match(v, &path_params, &query) && body_matches(v.body.as_ref(), request.body)
            {
                return SandboxMatch::Vector(v);
            }
        }
        match operation {
            Some(operation_id) => SandboxMatch::NoMatch { operation_id },
            None => SandboxMatch::UnknownOperation,
        }
    }
}

/// The static-sandbox fallback handler: every SP-API path in static-sandbox mode.
pub async fn answer(
    AxumState(sim): AxumState<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(book) = sim.sandbox.as_ref() else {
        return with_request_id(not_found());
    };
    let request = SandboxRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        body: &body,
    };
    let found = book.find(&request);
    if found == SandboxMatch::UnknownOperation {
        // Same answer as normal mode's fallback for a path no API serves.
        return with_request_id(not_found());
    }
    if let Err(forbidden) = sim.authenticate(&headers) {
        return forbidden;
    }
    let (operation, status, response) = match found {
        SandboxMatch::Vector(v) => {
            let status = StatusCode::from_u16(v.status).unwrap_or(StatusCode::OK);
            let response = match &v.response {
                Some(body) => (status, axum::Json(body.clone())).into_response(),
                None => {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = status;
                    r
                }
            };
            (v.operation_id.as_str(), status, response)
        }
        SandboxMatch::NoMatch { operation_id } => (
            operation_id,
            StatusCode::BAD_REQUEST,
            (
                StatusCode::BAD_REQUEST,
                axum::Json(error_body(
                    "InvalidInput",
                    "Could not match input arguments",
                    None,
                )),
            )
                .into_response(),
        ),
        SandboxMatch::UnknownOperation => return with_request_id(not_found()),
    };
    sim.lock().stats.record(operation, status.as_u16());
    if sim.log_calls {
        tracing::info!(
            sp_operation = operation,
            sp_status = status.as_u16(),
            "static-sandbox call answered"
        );
    }
    with_request_id(response)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(error_body(
            "NotFound",
            "The requested resource was not found.",
            None,
        )),
    )
        .into_response()
}

fn with_request_id(mut response: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&new_request_id()) {
        response.headers_mut().insert("x-amzn-RequestId", v);
    }
    response
}

fn json_files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, SandboxError> {
    let io = |source| SandboxError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_match = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(suffix));
        if is_match && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_json(path: &Path) -> Result<Value, SandboxError> {
    let text = std::fs::read(path).map_err(|source| SandboxError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| SandboxError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn shape(path: &Path, reason: impl Into<String>) -> SandboxError {
    SandboxError::Shape {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Vectors of one Swagger 2.0 model. Body parameters are recognised by the key `body` (what
/// every model's vectors use) or by the name of the operation's `in: body` parameter.
fn vectors_from_model(doc: &Value, file: &Path) -> Result<Vec<SandboxVector>, SandboxError> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| shape(file, "no `paths` object: not a Swagger 2.0 model"))?;
    let mut out = Vec::new();
    for (template, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let operation_id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body_names: Vec<&str> = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p.get("in").and_then(Value::as_str) == Some("body"))
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect();
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (code, response) in responses {
                let Some(statics) = response.pointer("/x-amzn-api-sandbox/static") else {
                    continue;
                };
                let at = format!("{method} {template} {code}");
                out.extend(parse_statics(
                    statics,
                    &body_names,
                    Meta {
                        method,
                        template,
                        operation_id,
                        code,
                        file,
                        at: &at,
                    },
                )?);
            }
        }
    }
    Ok(out)
}

/// Vectors of one extract file.
fn vectors_from_extract(doc: &Value, file: &Path) -> Result<Vec<SandboxVector>, SandboxError> {
    let ops = doc
        .get("operations")
        .and_then(Value::as_object)
        .ok_or_else(|| shape(file, "no `operations` object: not a sandbox extract"))?;
    let mut out = Vec::new();
    for (operation_id, op) in ops {
        let method = op
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| shape(file, format!("operations.{operation_id}: no `method`")))?;
        let template = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| shape(file, format!("operations.{operation_id}: no `path`")))?;
        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| shape(file, format!("operations.{operation_id}: no `responses`")))?;
        for (code, response) in responses {
            let Some(statics) = response.get("static") else {
                continue;
            };
            let at = format!("operations.{operation_id}.responses.{code}");
            out.extend(parse_statics(
                statics,
                &[],
                Meta {
                    method,
                    template,
                    operation_id,
                    code,
                    file,
                    at: &at,
                },
            )?);
        }
    }
    Ok(out)
}

struct Meta<'a> {
    method: &'a str,
    template: &'a str,
    operation_id: &'a str,
    code: &'a str,
    file: &'a Path,
    at: &'a str,
}

fn parse_statics(
    statics: &Value,
    body_names: &[&str],
    meta: Meta<'_>,
) -> Result<Vec<SandboxVector>, SandboxError> {
    let file = meta.file;
    let list = statics
        .as_array()
        .ok_or_else(|| shape(file, format!("{}: `static` is not an array", meta.at)))?;
    let status: u16 = meta
        .code
        .parse()
        .map_err(|_| shape(file, format!("{}: response code is not a number", meta.at)))?;
    let source = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let empty = Map::new();
        let params = match entry.pointer("/request/parameters") {
            None => &empty,
            Some(p) => p.as_object().ok_or_else(|| {
                shape(
                    file,
                    format!(
                        "{}: static[{i}].request.parameters is not an object",
                        meta.at
                    ),
                )
            })?,
        };
        let mut parameters = BTreeMap::new();
        let mut body = None;
        for (name, p) in params {
            let value = p.get("value").cloned().ok_or_else(|| {
                shape(
                    file,
                    format!(
                        "{}: static[{i}].request.parameters.{name} has no `value`",
                        meta.at
                    ),
                )
            })?;
            if name == "body" || body_names.contains(&name.as_str()) {
                body = Some(value);
            } else {
                parameters.insert(name.clone(), value);
            }
        }
        out.push(SandboxVector {
            method: meta.method.to_ascii_uppercase(),
            path: meta.template.to_string(),
            operation_id: meta.operation_id.to_string(),
            status,
            parameters,
            body,
            response: entry.get("response").cloned(),
            source: source.clone(),
        });
    }
    Ok(out)
}

fn path_param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

/// Matches a request path against a template; `Some` holds the non-empty path parameters.
fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (ts, ps) in t.iter().zip(&p) {
        match path_param_name(ts) {
            Some(name) => {
                let decoded = percent_decode(ps)?;
                if !decoded.is_empty() {
                    params.insert(name.to_string(), decoded);
                }
            }
            None if ts == ps => {}
            None => return None,
        }
    }
    Some(params)
}

fn parse_query(raw: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

fn params_match(
    v: &SandboxVector,
    path_params: &BTreeMap<String, String>,
    query: &BTreeMap<String, Vec<String>>,
) -> bool {
    let sent = path_params.len() + query.len();
    if sent != v.parameters.len() {
        return false;
    }
    v.parameters.iter().all(|(name, expected)| {
        if let Some(actual) = path_params.get(name) {
            return scalar_matches(expected, actual);
        }
        let Some(values) = query.get(name) else {
            return false;
        };
        match expected {
            Value::Array(items) => {
                // Arrays arrive comma-separated or repeated: compare the flattened lists.
                let actual: Vec<&str> = values
                    .iter()
                    .flat_map(|s| s.split(','))
                    .filter(|s| !s.is_empty())
                    .collect();
                actual.len() == items.len()
                    && items.iter().zip(&actual).all(|(e, a)| scalar_matches(e, a))
            }
            scalar => values.len() == 1 && scalar_matches(scalar, &values[0]),
        }
    })
}

/// Whether a parameter sent as text equals the vector's JSON value.
fn scalar_matches(expected: &Value, actual: &str) -> bool {
    match expected {
        Value::String(s) => s == actual,
        Value::Bool(b) => actual == if *b { "true" } else { "false" },
        Value::Number(n) => {
            n.to_string() == actual
                || matches!(
                    (n.as_f64(), actual.parse::<f64>()),
                    (Some(e), Ok(a)) if e == a
                )
        }
        Value::Null => actual.is_empty(),
        _ => false,
    }
}

fn body_matches(expected: Option<&Value>, body: &[u8]) -> bool {
    let blank = body.iter().all(u8::is_ascii_whitespace);
    match expected {
        None => blank,
        Some(expected) => {
            !blank && serde_json::from_slice::<Value>(body).is_ok_and(|actual| &actual == expected)
        }
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters are kept).
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> Value {
        json!({
            "swagger": "2.0",
            "paths": {
                "/reports/2021-06-30/reports": {
                    "get": {
                        "operationId": "getReports",
                        "parameters": [
                            {"name": "reportTypes", "in": "query", "type": "array"},
                            {"name": "pageSize", "in": "query", "type": "integer"}
                        ],
                        "responses": {
                            "200": {"x-amzn-api-sandbox": {"static": [{
                                "request": {"parameters": {
                                    "reportTypes": {"value": ["A", "B"]},
                                    "pageSize": {"value": 10}
                                }},
                                "response": {"reports": []}
                            }]}},
                            "403": {"description": "no vectors here"}
                        }
                    },
                    "post": {
                        "operationId": "createReport",
                        "parameters": [{"name": "payload", "in": "body"}],
                        "responses": {
                            "202": {"x-amzn-api-sandbox": {"static": [{
                                "request": {"parameters": {
                                    "payload": {"value": {"reportType": "X", "n": [1, 2]}}
                                }},
                                "response": {"reportId": "ID323"}
                            }]}}
                        }
                    }
                },
                "/reports/2021-06-30/reports/{reportId}": {
                    "delete": {
                        "operationId": "cancelReport",
                        "parameters": [{"name": "reportId", "in": "path", "type": "string"}],
                        "responses": {
                            "200": {"x-amzn-api-sandbox": {"static": [{
                                "request": {"parameters": {"reportId": {"value": "ID 1"}}}
                            }]}},
                            "400": {"x-amzn-api-sandbox": {"static": [{
                                "request": {"parameters": {}},
                                "response": {"errors": [{"code": "400", "message": "Invalid input"}]}
                            }]}}
                        }
                    }
                }
            }
        })
    }

    fn book() -> SandboxBook {
        SandboxBook::from_vectors(vectors_from_model(&model(), Path::new("m.json")).unwrap())
    }

    fn find<'a>(
        book: &'a SandboxBook,
        method: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        body: &'a [u8],
    ) -> SandboxMatch<'a> {
        book.find(&SandboxRequest {
            method,
            path,
            query,
            body,
        })
    }

    fn status_of(m: SandboxMatch<'_>) -> Option<u16> {
        match m {
            SandboxMatch::Vector(v) => Some(v.status),
            _ => None,
        }
    }

    #[test]
    fn models_yield_one_vector_per_static_entry_with_the_body_split_out() {
        let book = book();

        let ops: Vec<(&str, u16)> = book
            .vectors()
            .iter()
            .map(|v| (v.operation_id.as_str(), v.status))
            .collect();
        assert_eq!(
            ops,
            vec![
                ("getReports", 200),
                ("createReport", 202),
                ("cancelReport", 200),
                ("cancelReport", 400)
            ]
        );
        let create = &book.vectors()[1];
        assert_eq!(create.body, Some(json!({"reportType": "X", "n": [1, 2]})));
        assert!(create.parameters.is_empty());
        assert_eq!(book.vectors()[2].response, None);
    }

    #[test]
    fn arrays_match_comma_separated_or_repeated_and_numbers_match_their_text() {
        let book = book();
        let path = "/reports/2021-06-30/reports";

        for q in [
            "reportTypes=A,B&pageSize=10",
            "reportTypes=A&reportTypes=B&pageSize=10",
            "pageSize=10&reportTypes=A%2CB",
            "reportTypes=A,B&pageSize=10.0",
        ] {
            assert_eq!(
                status_of(find(&book, "GET", path, Some(q), b"")),
                Some(200),
                "{q}"
            );
        }
    }

    #[test]
    fn extra_missing_reordered_or_different_parameters_do_not_match() {
        let book = book();
        let path = "/reports/2021-06-30/reports";

        for q in [
            "reportTypes=A,B",
            "reportTypes=A,B&pageSize=10&nextToken=x",
            "reportTypes=B,A&pageSize=10",
            "reportTypes=A,B,C&pageSize=10",
            "reportTypes=A,B&pageSize=11",
            "reportTypes=A,B&pageSize=10&pageSize=10",
        ] {
            assert_eq!(
                find(&book, "GET", path, Some(q), b""),
                SandboxMatch::NoMatch {
                    operation_id: "getReports"
                },
                "{q}"
            );
        }
    }

    #[test]
    fn bodies_match_as_json_values_not_as_text() {
        let book = book();
        let path = "/reports/2021-06-30/reports";

        let spaced = br#"{ "n": [1, 2],  "reportType": "X" }"#;
        assert_eq!(
            status_of(find(&book, "POST", path, None, spaced)),
            Some(202)
        );
        for body in [
            &br#"{"reportType":"X","n":[2,1]}"#[..],
            br#"{"reportType":"X","n":[1,2],"extra":true}"#,
            br#"not json"#,
            b"",
        ] {
            assert!(matches!(
                find(&book, "POST", path, None, body),
                SandboxMatch::NoMatch { .. }
            ));
        }
    }

    #[test]
    fn path_parameters_are_decoded_and_an_empty_segment_means_absent() {
        let book = book();

        let named = find(
            &book,
            "DELETE",
            "/reports/2021-06-30/reports/ID%201",
            None,
            b"",
        );
        let empty = find(&book, "DELETE", "/reports/2021-06-30/reports/", None, b"");
        let other = find(
            &book,
            "DELETE",
            "/reports/2021-06-30/reports/ID2",
            None,
            b"",
        );

        assert_eq!(status_of(named), Some(200));
        assert_eq!(status_of(empty), Some(400));
        assert!(matches!(other, SandboxMatch::NoMatch { .. }));
    }

    #[test]
    fn unknown_paths_and_methods_are_not_operations() {
        let book = book();

        assert_eq!(
            find(&book, "GET", "/feeds/2021-06-30/feeds", None, b""),
            SandboxMatch::UnknownOperation
        );
        assert_eq!(
            find(&book, "PUT", "/reports/2021-06-30/reports", None, b""),
            SandboxMatch::UnknownOperation
        );
    }

    #[test]
    fn request_path_and_query_rebuild_a_matching_request() {
        let book = book();

        for v in book.vectors() {
            let path = v.request_path();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(v.query_pairs())
                .finish();
            let body = v.body.as_ref().map(|b| b.to_string()).unwrap_or_default();

            let found = find(&book, &v.method, &path, Some(&query), body.as_bytes());

            assert_eq!(found, SandboxMatch::Vector(v), "{} {}", v.method, path);
        }
    }

    #[test]
    fn extracts_load_like_models_and_bad_files_are_named_in_errors() {
        let dir = std::env::temp_dir().join(format!("spsync-sandbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let extract = json!({
            "source_path": "models/x.json",
            "api_version": "2021-06-30",
            "operations": {"getReports": {
                "method": "GET",
                "path": "/reports/2021-06-30/reports",
                "responses": {"200": {"static": [{
                    "request": {"parameters": {"reportTypes": {"value": ["A"]}}},
                    "response": {"reports": []}
                }]}}
            }}
        });
        std::fs::write(dir.join("a.sandbox.json"), extract.to_string()).unwrap();

        let book = SandboxBook::load_extracts(&dir).unwrap();
        std::fs::write(dir.join("b.sandbox.json"), "{oops").unwrap();
        let err = SandboxBook::load_extracts(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(book.vectors().len(), 1);
        assert_eq!(book.vectors()[0].method, "GET");
        assert_eq!(book.vectors()[0].source, "a.sandbox.json");
        assert!(err.to_string().contains("b.sandbox.json"), "{err}");
    }
}
