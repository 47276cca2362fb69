//! Support code for the cross-crate test binary (`flows`): contract-suite helpers.
//! One integration test binary for the whole workspace (one link, ripgrep style).
//!
//! - [`spapi_data`]: where Amazon's models, schemas and sandbox vectors are (never copied into
//!   this repository); `None` (with one printed line) when they are not on this machine, so
//!   the contract suite skips instead of failing.
//! - [`ModelBook`]: JSON Schema validators for the response definitions of Amazon's Swagger
//!   2.0 models, so every body the simulator sends can be held against the model.
//! - [`SpApi`] / [`Answer`]: a bare HTTP caller (reqwest, no spsync client types) that logs in
//!   through LWA and sends SP-API requests to a simulator.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};
use spsync_sim::SimServer;

/// Environment variable naming the `spapi-data` directory.
pub const DATA_ENV: &str = "SPSYNC_SPAPI_DATA";

/// The `spapi-data` directory: `$SPSYNC_SPAPI_DATA`, else `../shared/spapi-data` beside the
/// repository root.
pub fn spapi_data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/spapi-data"
        )),
    }
}

/// The `spapi-data` directory if it holds Amazon's models; otherwise prints the one skip line
/// and returns `None` (the calling test then passes without checking anything).
pub fn spapi_data() -> Option<PathBuf> {
    let dir = spapi_data_dir();
    if dir.join("models").is_dir() {
        Some(dir)
    } else {
        println!(
            "contract suite skipped: SP-API models not found at {}; set {DATA_ENV}",
            dir.display()
        );
        None
    }
}

/// Reads a JSON file, naming it in the error.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One operation of a model: its responses' schemas and where it sits.
#[derive(Debug, Clone)]
struct ModelOperation {
    model: String,
    method: String,
    path: String,
    deprecated: bool,
    /// Response schema by status code (`None`: the code is declared without a body).
    responses: HashMap<u16, Option<Value>>,
}

/// Amazon's Swagger 2.0 models, turned into JSON Schema validators per operation and status.
///
/// A response schema becomes `{<schema>, "definitions": <the model's definitions>}` under
/// draft 4 (Swagger 2.0's schema object is a draft-4 dialect). Swagger-only keywords (`x-*`,
/// `example`, `discriminator`, `readOnly`) are unknown keywords to draft 4 and so ignored;
/// `format` is checked, which makes `date-time` strings real RFC 3339 date-times.
#[derive(Debug, Default)]
pub struct ModelBook {
    definitions: HashMap<String, Value>,
    operations: HashMap<String, Vec<ModelOperation>>,
    cache: Mutex<HashMap<(String, String, u16), Arc<jsonschema::Validator>>>,
}

impl ModelBook {
    /// Loads every `*.json` model in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut book = ModelBook::default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let doc = read_json(&file)?;
            let model = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            book.definitions.insert(
                model.clone(),
                doc.get("definitions").cloned().unwrap_or_else(|| json!({})),
            );
            let paths = doc
                .get("paths")
                .and_then(Value::as_object)
                .ok_or_else(|| anyhow!("{}: no paths", file.display()))?;
            for (path, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, op) in item {
                    let Some(operation_id) = op.get("operationId").and_then(Value::as_str) else {
                        continue;
                    };
                    let mut responses = HashMap::new();
                    for (code, r) in op
                        .get("responses")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        if let Ok(code) = code.parse::<u16>() {
                            responses.insert(code, r.get("schema").cloned());
                        }
                    }
                    book.operations
                        .entry(operation_id.to_string())
                        .or_default()
                        .push(ModelOperation {
                            model: model.clone(),
                            method: method.to_ascii_uppercase(),
                            path: path.clone(),
                            deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
                            responses,
                        });
                }
            }
        }
        Ok(book)
    }

    /// The operation `operation_id`; when two models share the id (`getOrder` is in Orders v0
    /// and v2026-01-01) the one not marked `deprecated` wins.
    fn operation(&self, operation_id: &str) -> Result<&ModelOperation> {
        let ops = self
            .operations
            .get(operation_id)
            .ok_or_else(|| anyhow!("no operation {operation_id} in the models"))?;
        let live: Vec<&ModelOperation> = ops.iter().filter(|o| !o.deprecated).collect();
        match (ops.as_slice(), live.as_slice()) {
            ([only], _) => Ok(only),
            (_, [only]) => Ok(*only),
            _ => bail!(
                "operation {operation_id} is ambiguous: in {:?}",
                ops.iter().map(|o| &o.model).collect::<Vec<_>>()
            ),
        }
    }

    /// Method and path template of an operation (`GET`, `/reports/2021-06-30/reports`).
    pub fn route(&self, operation_id: &str) -> Result<(String, String)> {
        let op = self.operation(operation_id)?;
        Ok((op.method.clone(), op.path.clone()))
    }

    /// The response schema of `operation_id` at `status` (`None` when the model declares the
    /// code without a body); an error when the model does not declare the code at all.
    pub fn response_schema(&self, operation_id: &str, status: u16) -> Result<Option<Value>> {
        let op = self.operation(operation_id)?;
        op.responses.get(&status).cloned().ok_or_else(|| {
            let mut codes: Vec<_> = op.responses.keys().collect();
            codes.sort();
            anyhow!(
                "{}.{operation_id} declares no {status} response (declares {codes:?})",
                op.model
            )
        })
    }

    /// A draft-4 validator of the response body of `operation_id` at `status`.
    pub fn validator_for(&self, operation_id: &str, status: u16) -> Result<jsonschema::Validator> {
        let op = self.operation(operation_id)?;
        let schema = self
            .response_schema(operation_id, status)?
            .ok_or_else(|| anyhow!("{operation_id} {status} has no body schema"))?;
        let mut root = match schema {
            Value::Object(map) => map,
            other => bail!("{operation_id} {status}: schema is not an object: {other}"),
        };
        root.insert(
            "definitions".into(),
            self.definitions
                .get(&op.model)
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| anyhow!("{operation_id} {status}: cannot build validator: {e}"))
    }

    fn cached(&self, operation_id: &str, status: u16) -> Result<Arc<jsonschema::Validator>> {
        let model = self.operation(operation_id)?.model.clone();
        let key = (model, operation_id.to_string(), status);
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(v));
        }
        let v = Arc::new(self.validator_for(operation_id, status)?);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&v));
        Ok(v)
    }

    /// Checks an answer against the model: the status must be declared by the operation, and
    /// the body must validate against that status's schema (or be empty where the model
    /// declares no body, as for cancelReport's 200).
    pub fn check(&self, operation_id: &str, answer: &Answer) -> Result<()> {
        let status = answer.status;
        match self.response_schema(operation_id, status)? {
            None => {
                if !answer.body.is_empty() {
                    bail!(
                        "{operation_id} {status}: the model declares no body but got {}",
                        answer.text()
                    );
                }
                Ok(())
            }
            Some(_) => {
                let json = answer.json.as_ref().ok_or_else(|| {
                    anyhow!(
                        "{operation_id} {status}: body is not JSON: {}",
                        answer.text()
                    )
                })?;
                let validator = self.cached(operation_id, status)?;
                let errors: Vec<String> = validator
                    .iter_errors(json)
                    .take(5)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                if errors.is_empty() {
                    Ok(())
                } else {
                    bail!(
                        "{operation_id} {status}: body does not match the model: {}\nbody: {}",
                        errors.join("; "),
                        truncate(&answer.text(), 600)
                    )
                }
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// A JSON Schema validator for a standalone schema file (the JSON_LISTINGS_FEED schemas),
/// under the draft its `$schema` names.
pub fn schema_validator(path: &Path) -> Result<jsonschema::Validator> {
    let schema = read_json(path)?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| anyhow!("{}: cannot build validator: {e}", path.display()))
}

/// One HTTP answer, body kept raw and parsed.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
    /// The body as JSON, if it is JSON.
    pub json: Option<Value>,
}

impl Answer {
    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A string member of the JSON body (`"reportId"`), or an error naming what is missing.
    pub fn str_field(&self, pointer: &str) -> Result<String> {
        self.json
            .as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no string at {pointer} in {} {}", self.status, self.text()))
    }

    /// Whether the body is Amazon's `ErrorList`: `{"errors":[{"code","message",…}, …]}`.
    pub fn is_error_list(&self) -> bool {
        self.json
            .as_ref()
            .and_then(|j| j.get("errors"))
            .and_then(Value::as_array)
            .is_some_and(|errors| {
                !errors.is_empty()
                    && errors.iter().all(|e| {
                        e.get("code").is_some_and(Value::is_string)
                            && e.get("message").is_some_and(Value::is_string)
                    })
            })
    }
}

/// An SP-API request: method, path (already filled in), query pairs, JSON body.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// HTTP method (`GET`).
    pub method: String,
    /// Path with parameters filled in.
    pub path: String,
    /// Query pairs, sent in order.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
}

impl Request {
    /// A request without query or body.
    pub fn new(method: &str, path: impl Into<String>) -> Self {
        Self {
            method: method.to_string(),
            path: path.into(),
            ..Self::default()
        }
    }

    /// Adds a query pair.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Sets the JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A bare SP-API caller bound to one simulator and one access token.
#[derive(Debug, Clone)]
pub struct SpApi {
    base: String,
    /// The `x-amz-access-token` sent with every call.
    pub token: String,
    http: reqwest::Client,
}

impl SpApi {
    /// Exchanges the first seller's refresh token at the simulator's LWA endpoint, the way
    /// Amazon's docs do it (form-encoded `grant_type=refresh_token`).
    pub async fn login(
        server: &SimServer,
        seller: &spsync_sim::scenario::SellerSpec,
    ) -> Result<Self> {
        let http = reqwest::Client::new();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", &seller.credentials.refresh_token)
            .append_pair("client_id", &seller.credentials.client_id)
            .append_pair("client_secret", &seller.credentials.client_secret)
            .finish();
        let response = http
            .post(server.lwa_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .context("LWA token request")?;
        let status = response.status();
        let body: Value = response.json().await.context("LWA token body")?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("LWA answered {status} without access_token: {body}"))?;
        Ok(Self {
            base: server.url(),
            token: token.to_string(),
            http,
        })
    }

    /// The same caller with another access token (for 403 checks).
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&self, request: &Request) -> Result<Answer> {
        let mut url = url::Url::parse(&format!("{}{}", self.base, request.path))
            .with_context(|| format!("bad path {}", request.path))?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
        let mut builder = self
            .http
            .request(method, url)
            .header("x-amz-access-token", &self.token);
        if let Some(body) = &request.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = builder
            .send()
            .await
            .with_context(|| format!("{} {}", request.method, request.path))?;
        read_answer(response).await
    }

    /// `GET` on an absolute URL (a presigned document URL), without the access token.
    pub async fn download(&self, url: &str) -> Result<Answer> {
        let response = self.http.get(url).send().await.context("download")?;
        read_answer(response).await
    }

    /// `PUT` of raw bytes to a presigned upload URL with the given `Content-Type`.
    pub async fn upload(&self, url: &str, content_type: &str, bytes: Vec<u8>) -> Result<Answer> {
        let response = self
            .http
            .put(url)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .context("upload")?;
        read_answer(response).await
    }
}

async fn read_answer(response: reqwest::Response) -> Result<Answer> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.context("reading body")?.to_vec();
    let json = serde_json::from_slice(&body).ok();
    Ok(Answer {
        status,
        headers,
        body,
        json,
    })
}

/// Gunzips `bytes` when they start with the gzip magic number, else returns them as they are.
pub fn maybe_gunzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .context("gunzip")?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// `map` with `key` removed (small helper for building request variants).
pub fn without(map: &Value, key: &str) -> Value {
    match map {
        Value::Object(m) => {
            let mut m: Map<String, Value> = m.clone();
            m.remove(key);
            Value::Object(m)
        }
        other => other.clone(),
    }
}

/// The columns of GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL as most files have them
/// since 2024 (Amazon's documented list plus `signature-confirmation-recommended`, last), written
/// from the facts for our own fixtures; tests derive the other variants from it.
pub const ORDERS_REPORT_COLUMNS: [&str; 33] = [
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "cpf",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
    "signature-confirmation-recommended",
];
