//! Lambda function `shipments-api`: the HTTP API through which staff and shipping software
//! record shipments (issue 4), behind an API Gateway HTTP API (payload format 2.0, IAM auth).
//!
//! | Route | Does |
//! |---|---|
//! | `POST /sellers/{sellerId}/shipments` | [`spsync_workflow::record_shipment`]: 201 created, 200 when the same shipment is already recorded under its id |
//! | `GET /sellers/{sellerId}/shipments?state=&limit=&page=` | the seller's shipments in one state, oldest revision first, paged |
//! | `GET /sellers/{sellerId}/orders/{orderId}/shipments` | every shipment of an order |
//! | `GET /sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}` | one shipment |
//! | `PATCH /sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}` | [`spsync_workflow::correct_shipment`] |
//! | `POST /sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}/requeue` | [`spsync_workflow::requeue_shipment`] |
//!
//! The function routes on the raw path itself ([`Route::parse`]), not on API Gateway's
//! `pathParameters`: the local runner's server does not fill them, and the API's catch-all
//! route can then answer unknown paths (404) and wrong methods (405) in the API's own JSON
//! shape. A named stage's prefix in the path (`/dev/sellers/...`) is dropped.
//!
//! Every answer is JSON: `{"shipment": ...}` or `{"shipments": [...]}` (the domain
//! [`Shipment`]: its `state` carries Amazon's code and message for a rejected shipment, its
//! `details.hurts_vtr` flags a shipment without tracking), or `{"error", "message"}` with the
//! field at fault for a body that does not parse and every problem for a shipment that fails
//! its checks. Store failures answer 503 (retry) or 500 without internals.
//!
//! One log line per request (method, route template, status, seller, latency); never bodies
//! or tracking numbers. [`Config`] reads the environment template.yaml gives
//! `ShipmentsApiFunction`; [`Deps`] holds the ports, built by `main.rs` for AWS or by the local
//! runner for its own stack.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{ALLOW, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use spsync_domain::{
    AmazonOrderId, Correction, SellerId, Shipment, ShipmentItem, ShipmentProblem, ShipmentRequest,
    ShipmentState,
};
use spsync_lambda_kit::{ConfigError, EnvReader, FromEnv, Metrics, MetricsConfig};
use spsync_workflow::{
    Clock, OrderStore, RecordError, Retryability, ShipmentPorts, ShipmentStore, StoreError,
    correct_shipment, record_shipment, requeue_shipment,
};
use time::OffsetDateTime;
use tracing::{error, info, warn};

/// OrdersTable's name (shipments are checked against the stored order).
pub const ORDERS_TABLE_NAME: &str = "ORDERS_TABLE_NAME";
/// ShipmentsTable's name.
pub const SHIPMENTS_TABLE_NAME: &str = "SHIPMENTS_TABLE_NAME";

/// `source` of the shipments this API records.
pub const SOURCE: &str = "api";
/// Page size of a state listing when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest `limit` of a state listing.
pub const MAX_PAGE_SIZE: usize = 100;

/// The function's configuration, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// OrdersTable's name.
    pub orders_table_name: String,
    /// ShipmentsTable's name.
    pub shipments_table_name: String,
    /// Metrics namespace and service.
    pub metrics: MetricsConfig,
}

impl FromEnv for Config {
    fn from_reader(mut env: EnvReader<'_>) -> Result<Self, ConfigError> {
        let config = Self {
            orders_table_name: env.required(ORDERS_TABLE_NAME),
            shipments_table_name: env.required(SHIPMENTS_TABLE_NAME),
            metrics: MetricsConfig::from_reader(&mut env),
        };
        env.finish()?;
        Ok(config)
    }
}

/// What the handler works with, built once per container.
pub struct Deps {
    /// Clock (ship dates in the future are refused against it).
    pub clock: Arc<dyn Clock>,
    /// Orders (read only).
    pub orders: Arc<dyn OrderStore>,
    /// Shipments.
    pub shipments: Arc<dyn ShipmentStore>,
    /// Metrics of the current invocation.
    pub metrics: Metrics,
}

impl Deps {
    /// Deps from explicit ports (AWS adapters in `main`, the local runner's own elsewhere).
    pub fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        orders: Arc<dyn OrderStore>,
        shipments: Arc<dyn ShipmentStore>,
    ) -> Self {
        Self {
            clock,
            orders,
            shipments,
            metrics: config.metrics.metrics(),
        }
    }

    /// Replaces the metrics writer (tests and the local runner keep metrics in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    fn ports(&self) -> ShipmentPorts<'_> {
        ShipmentPorts {
            clock: self.clock.as_ref(),
            orders: self.orders.as_ref(),
            shipments: self.shipments.as_ref(),
        }
    }
}

/// A resource of the API, with the ids its path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/sellers/{sellerId}/shipments`: record (POST), list by state (GET).
    SellerShipments {
        /// The seller.
        seller: SellerId,
    },
    /// `/sellers/{sellerId}/orders/{orderId}/shipments`: an order's shipments (GET).
    OrderShipments {
        /// The seller.
        seller: SellerId,
        /// The order.
        order: AmazonOrderId,
    },
    /// `/sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}`: read (GET), correct
    /// (PATCH).
    Shipment {
        /// The seller.
        seller: SellerId,
        /// The order.
        order: AmazonOrderId,
        /// The shipment.
        shipment_id: String,
    },
    /// `/sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}/requeue` (POST).
    Requeue {
        /// The seller.
        seller: SellerId,
        /// The order.
        order: AmazonOrderId,
        /// The shipment.
        shipment_id: String,
    },
}

impl Route {
    /// The route of a path (without a stage prefix), `None` for any other path. Segments are
    /// percent-decoded; one trailing slash is ignored.
    pub fn parse(path: &str) -> Option<Self> {
        let path = path.strip_prefix('/')?;
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments = path
            .split('/')
            .map(percent_decode)
            .collect::<Option<Vec<String>>>()?;
        if segments.iter().any(String::is_empty) {
            return None;
        }
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let route = match s.as_slice() {
            ["sellers", seller, "shipments"] => Self::SellerShipments {
                seller: SellerId::new(*seller),
            },
            ["sellers", seller, "orders", order, "shipments"] => Self::OrderShipments {
                seller: SellerId::new(*seller),
                order: AmazonOrderId::new(*order),
            },
            ["sellers", seller, "orders", order, "shipments", id] => Self::Shipment {
                seller: SellerId::new(*seller),
                order: AmazonOrderId::new(*order),
                shipment_id: (*id).to_owned(),
            },
            [
                "sellers",
                seller,
                "orders",
                order,
                "shipments",
                id,
                "requeue",
            ] => Self::Requeue {
                seller: SellerId::new(*seller),
                order: AmazonOrderId::new(*order),
                shipment_id: (*id).to_owned(),
            },
            _ => return None,
        };
        Some(route)
    }

    /// The route as API Gateway names it (`/sellers/{sellerId}/shipments`), for logs.
    pub fn template(&self) -> &'static str {
        match self {
            Self::SellerShipments { .. } => "/sellers/{sellerId}/shipments",
            Self::OrderShipments { .. } => "/sellers/{sellerId}/orders/{orderId}/shipments",
            Self::Shipment { .. } => "/sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}",
            Self::Requeue { .. } => {
                "/sellers/{sellerId}/orders/{orderId}/shipments/{shipmentId}/requeue"
            }
        }
    }

    /// The methods the route answers (the `Allow` header of a 405).
    pub fn allowed_methods(&self) -> &'static str {
        match self {
            Self::SellerShipments { .. } => "GET, POST",
            Self::OrderShipments { .. } => "GET",
            Self::Shipment { .. } => "GET, PATCH",
            Self::Requeue { .. } => "POST",
        }
    }

    /// The seller the path names.
    pub fn seller(&self) -> &SellerId {
        match self {
            Self::SellerShipments { seller }
            | Self::OrderShipments { seller, .. }
            | Self::Shipment { seller, .. }
            | Self::Requeue { seller, .. } => seller,
        }
    }
}

/// `%XX` escapes of a path segment decoded; `None` when an escape is broken or the result is
/// not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The request's path without a named stage's prefix (API Gateway keeps `/dev` in `rawPath`
/// when the stage is not `$default`).
fn request_path(request: &ApiGatewayV2httpRequest) -> &str {
    let raw = request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
        .unwrap_or("/");
    let Some(stage) = request
        .request_context
        .stage
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "$default")
    else {
        return raw;
    };
    match raw.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => raw,
    }
}

/// A shipment as `POST /sellers/{sellerId}/shipments` takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    #[serde(default)]
    shipment_id: Option<String>,
    amazon_order_id: AmazonOrderId,
    carrier: String,
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    ship_date: OffsetDateTime,
    #[serde(default)]
    ship_method: Option<String>,
    items: Vec<ShipmentItem>,
}

/// A correction as `PATCH .../shipments/{shipmentId}` takes it (unknown fields refused, so a
/// misspelt field is not silently a correction that changes nothing).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrectionBody {
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(default)]
    ship_method: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    ship_date: Option<OffsetDateTime>,
    #[serde(default)]
    items: Option<Vec<ShipmentItem>>,
}

impl From<CorrectionBody> for Correction {
    fn from(b: CorrectionBody) -> Self {
        Self {
            carrier: b.carrier,
            tracking_number: b.tracking_number,
            ship_method: b.ship_method,
            ship_date: b.ship_date,
            items: b.items,
        }
    }
}

#[derive(Serialize)]
struct ShipmentBody<'a> {
    shipment: &'a Shipment,
}

#[derive(Serialize)]
struct ShipmentsBody<'a> {
    shipments: &'a [Shipment],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [ShipmentProblem]>,
}

/// An answer before it becomes API Gateway's response.
struct Answer {
    status: u16,
    body: String,
    headers: Vec<(HeaderName, String)>,
}

impl Answer {
    fn json(status: u16, body: &impl Serialize) -> Self {
        match serde_json::to_string(body) {
            Ok(body) => Self {
                status,
                body,
                headers: Vec::new(),
            },
            Err(e) => {
                error!(error = %e, "answer not encodable");
                Self::error(500, "internal_error", "the answer could not be encoded")
            }
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::error_body(
            status,
            &ErrorBody {
                error: code,
                message,
                field: None,
                problems: None,
            },
        )
    }

    fn error_body(status: u16, body: &ErrorBody<'_>) -> Self {
        // An ErrorBody holds only strings: it always encodes.
        Self {
            status,
            body: serde_json::to_string(body).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    fn bad_request(field: Option<&str>, message: &str) -> Self {
        Self::error_body(
            400,
            &ErrorBody {
                error: "bad_request",
                message,
                field,
                problems: None,
            },
        )
    }

    fn with_header(mut self, name: HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn into_response(self) -> ApiGatewayV2httpResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = i64::from(self.status);
        response.headers = headers;
        response.body = Some(Body::Text(self.body));
        response.is_base64_encoded = false;
        response
    }
}

/// Handles one request. Never fails: every outcome is an HTTP answer.
pub async fn handle(deps: &Deps, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let started = Instant::now();
    let method = request.request_context.http.method.clone();
    let route = Route::parse(request_path(&request));
    let answer = match &route {
        Some(route) => answer(deps, &method, route, &request).await,
        None => Answer::error(404, "not_found", "no such resource"),
    };
    if answer.status >= 500 {
        deps.metrics.incr("ApiServerErrors");
    }
    info!(
        method = %method,
        route = route.as_ref().map_or("(unknown)", Route::template),
        status = answer.status,
        seller_id = route.as_ref().map(|r| r.seller().as_str()),
        latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request served"
    );
    deps.metrics.flush();
    answer.into_response()
}

async fn answer(
    deps: &Deps,
    method: &Method,
    route: &Route,
    request: &ApiGatewayV2httpRequest,
) -> Answer {
    let result = match (route, method.as_str()) {
        (Route::SellerShipments { seller }, "POST") => record(deps, seller, request).await,
        (Route::SellerShipments { seller }, "GET") => list_in_state(deps, seller, request).await,
        (Route::OrderShipments { seller, order }, "GET") => deps
            .shipments
            .shipments_of_order(seller, order)
            .await
            .map(|shipments| {
                Answer::json(
                    200,
                    &ShipmentsBody {
                        shipments: &shipments,
                        next_page: None,
                    },
                )
            })
            .map_err(store_error),
        (
            Route::Shipment {
                seller,
                order,
                shipment_id,
            },
            "GET",
        ) => match deps
            .shipments
            .get_shipment(seller, order, shipment_id)
            .await
        {
            Ok(Some(shipment)) => Ok(Answer::json(
                200,
                &ShipmentBody {
                    shipment: &shipment,
                },
            )),
            Ok(None) => Err(Answer::error(
                404,
                "shipment_not_found",
                &format!("shipment {order}/{shipment_id} does not exist"),
            )),
            Err(e) => Err(store_error(e)),
        },
        (
            Route::Shipment {
                seller,
                order,
                shipment_id,
            },
            "PATCH",
        ) => correct(deps, seller, order, shipment_id, request).await,
        (
            Route::Requeue {
                seller,
                order,
                shipment_id,
            },
            "POST",
        ) => requeue_shipment(&deps.ports(), seller, order, shipment_id)
            .await
            .map(|shipment| {
                deps.metrics.incr("ShipmentsRequeued");
                Answer::json(
                    200,
                    &ShipmentBody {
                        shipment: &shipment,
                    },
                )
            })
            .map_err(record_error),
        _ => Err(Answer::error(
            405,
            "method_not_allowed",
            &format!(
                "{method} is not allowed on {}; allowed: {}",
                route.template(),
                route.allowed_methods()
            ),
        )
        .with_header(ALLOW, route.allowed_methods().to_owned())),
    };
    result.unwrap_or_else(|answer| answer)
}

async fn record(
    deps: &Deps,
    seller: &SellerId,
    request: &ApiGatewayV2httpRequest,
) -> Result<Answer, Answer> {
    let body: RecordBody = json_body(request)?;
    let shipment_request = ShipmentRequest {
        amazon_order_id: body.amazon_order_id,
        carrier: body.carrier,
        tracking_number: body.tracking_number,
        ship_date: body.ship_date,
        ship_method: body.ship_method,
        items: body.items,
    };
    let recorded = record_shipment(
        &deps.ports(),
        seller,
        body.shipment_id.as_deref(),
        &shipment_request,
        SOURCE,
    )
    .await
    .map_err(|e| {
        if matches!(e, RecordError::Invalid(_)) {
            deps.metrics.incr("ShipmentsInvalid");
        }
        record_error(e)
    })?;
    let status = if recorded.created {
        deps.metrics.incr("ShipmentsRecorded");
        if recorded.shipment.details.hurts_vtr {
            deps.metrics.incr("ShipmentsWithoutTracking");
        }
        201
    } else {
        200
    };
    Ok(Answer::json(
        status,
        &ShipmentBody {
            shipment: &recorded.shipment,
        },
    )
    .with_header(LOCATION, location(seller, &recorded.shipment)))
}

async fn correct(
    deps: &Deps,
    seller: &SellerId,
    order: &AmazonOrderId,
    shipment_id: &str,
    request: &ApiGatewayV2httpRequest,
) -> Result<Answer, Answer> {
    let body: CorrectionBody = json_body(request)?;
    let shipment = correct_shipment(&deps.ports(), seller, order, shipment_id, &body.into())
        .await
        .map_err(record_error)?;
    deps.metrics.incr("ShipmentsCorrected");
    Ok(Answer::json(
        200,
        &ShipmentBody {
            shipment: &shipment,
        },
    ))
}

async fn list_in_state(
    deps: &Deps,
    seller: &SellerId,
    request: &ApiGatewayV2httpRequest,
) -> Result<Answer, Answer> {
    let query = &request.query_string_parameters;
    let names = ShipmentState::NAMES.join(", ");
    let state = match query.first("state") {
        Some(s) if ShipmentState::NAMES.contains(&s) => s,
        Some(s) => {
            return Err(Answer::bad_request(
                Some("state"),
                &format!("unknown state `{s}`; one of {names}"),
            ));
        }
        None => {
            return Err(Answer::bad_request(
                Some("state"),
                &format!("state is required: one of {names}"),
            ));
        }
    };
    let limit = match query.first("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(Answer::bad_request(
                    Some("limit"),
                    &format!("limit is a number from 1 to {MAX_PAGE_SIZE}"),
                ));
            }
        },
    };
    // The store's tokens are JSON; the API hands them out URL-safe.
    let page = match query.first("page") {
        None => None,
        Some(p) => Some(
            URL_SAFE_NO_PAD
                .decode(p)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    Answer::bad_request(Some("page"), "page is not a token this API handed out")
                })?,
        ),
    };
    let given_page = page.is_some();
    let (shipments, next) = deps
        .shipments
        .shipments_in_state(seller, state, page, limit)
        .await
        .map_err(|e| {
            if given_page && is_page_token_error(&e) {
                Answer::bad_request(Some("page"), "page is not a token this API handed out")
            } else {
                store_error(e)
            }
        })?;
    Ok(Answer::json(
        200,
        &ShipmentsBody {
            shipments: &shipments,
            next_page: next.map(|t| URL_SAFE_NO_PAD.encode(t)),
        },
    ))
}

fn is_page_token_error(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Permanent { source, .. }
            if matches!(
                source.downcast_ref::<spsync_aws::AdapterError>(),
                Some(spsync_aws::AdapterError::PageToken)
            )
    )
}

/// Where a recorded shipment can be read.
fn location(seller: &SellerId, shipment: &Shipment) -> String {
    format!(
        "/sellers/{seller}/orders/{}/shipments/{}",
        shipment.amazon_order_id, shipment.shipment_id
    )
}

/// The request body as `T`; a 400 naming the field serde complains about otherwise.
fn json_body<T: DeserializeOwned>(request: &ApiGatewayV2httpRequest) -> Result<T, Answer> {
    let bytes = match (&request.body, request.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.clone().into_bytes(),
        (Some(text), true) => STANDARD.decode(text).map_err(|_| {
            Answer::bad_request(
                None,
                "the body is marked base64-encoded but does not decode",
            )
        })?,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Answer::bad_request(
            None,
            "the body must be a JSON object (content-type: application/json)",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let field = if path == "." {
            named_field(&message)
        } else {
            Some(path)
        };
        let message = match &field {
            Some(f) if !message.contains(&format!("`{f}`")) => format!("{f}: {message}"),
            _ => message,
        };
        Answer::bad_request(field.as_deref(), &message)
    })?;
    de.end()
        .map_err(|e| Answer::bad_request(None, &e.to_string()))?;
    Ok(value)
}

/// The field serde names in "missing field `x`" / "unknown field `x`".
fn named_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

fn record_error(e: RecordError) -> Answer {
    match e {
        RecordError::OrderNotFound { .. } => Answer::error(404, "order_not_found", &e.to_string()),
        RecordError::ShipmentNotFound { .. } => {
            Answer::error(404, "shipment_not_found", &e.to_string())
        }
        RecordError::Invalid(problems) => Answer::error_body(
            422,
            &ErrorBody {
                error: "invalid_shipment",
                message: "the shipment is not valid; every problem names its field",
                field: None,
                problems: Some(&problems),
            },
        ),
        RecordError::Conflict { .. } => Answer::error(409, "conflict", &e.to_string()),
        RecordError::Refused { .. } => Answer::error(409, "refused", &e.to_string()),
        RecordError::Store(e) => store_error(e),
    }
}

/// 503 (with `Retry-After`) when trying again may work, 500 otherwise; the cause is logged,
/// never answered.
fn store_error(e: StoreError) -> Answer {
    match e.retryability() {
        Retryability::Permanent => {
            error!(error = %e, class = "Permanent", "store failed");
            Answer::error(
                500,
                "internal_error",
                "the request failed; it has been logged",
            )
        }
        Retryability::Throttled { retry_after } => {
            warn!(error = %e, class = "Throttled", "store failed");
            Answer::error(503, "unavailable", "the store is busy; try again shortly")
                .with_header(RETRY_AFTER, retry_after.as_secs().max(1).to_string())
        }
        Retryability::Transient => {
            warn!(error = %e, class = "Transient", "store failed");
            Answer::error(
                503,
                "unavailable",
                "the store is unavailable; try again shortly",
            )
            .with_header(RETRY_AFTER, "1".to_owned())
        }
    }
}

#[cfg(test)]
#[path = "../../test_support.rs"]
mod test_support;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use async_trait::async_trait;
    use aws_lambda_events::query_map::QueryMap;
    use serde_json::{Value, json};
    use spsync_domain::{
        Address, AmazonOrderStatus, Buyer, FulfillmentChannel, MarketplaceId, Order, OrderLine,
        OrderStatus,
    };
    use spsync_testkit::memory::{FailOp, MemoryOrderStore};
    use spsync_testkit::shipping::MemoryShipmentStore;
    use time::Duration;

    use super::test_support::*;
    use super::*;

    const SELLER: &str = "A1SIMSELLER0001";
    const ORDER: &str = "111-0000001-0000001";
    const UPS_TRACKING: &str = "1Z999AA10123456784";

    fn order() -> Order {
        let placed = fixture_now() - Duration::days(1);
        let line = |id: &str, quantity: u32| OrderLine {
            sku: Some(format!("SKU-{id}")),
            asin: None,
            product_name: None,
            quantity,
            item_status: None,
            item_price: None,
            order_item_id: Some(id.to_owned()),
        };
        Order {
            seller_id: SellerId::new(SELLER),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            amazon_order_id: AmazonOrderId::new(ORDER),
            merchant_order_id: None,
            status: OrderStatus::New,
            amazon_status: AmazonOrderStatus::Unshipped,
            fulfillment_channel: FulfillmentChannel::Merchant,
            purchase_date: placed,
            last_updated: placed,
            sales_channel: None,
            ship_service_level: None,
            is_business_order: false,
            currency: None,
            lines: vec![line("OI-1", 2), line("OI-2", 1)],
            ship_to: Address::default(),
            buyer: Buyer::default(),
            recipient: None,
            version: 1,
            created_at: placed,
            updated_at: placed,
        }
    }

    struct World {
        shipments: Arc<MemoryShipmentStore>,
        deps: Deps,
    }

    fn config() -> Config {
        let vars = BTreeMap::from([
            (ORDERS_TABLE_NAME.to_owned(), "orders".to_owned()),
            (SHIPMENTS_TABLE_NAME.to_owned(), "shipments".to_owned()),
        ]);
        Config::from_map(&vars).unwrap()
    }

    async fn world_with(shipments: Arc<dyn ShipmentStore>) -> Deps {
        let orders = Arc::new(MemoryOrderStore::new());
        orders.put_order(&order(), None).await.unwrap();
        Deps::new(
            &config(),
            Arc::new(SharedClock::at_fixture_time()),
            orders,
            shipments,
        )
        .with_metrics(Metrics::in_memory("spsync", "spsync"))
    }

    async fn world() -> World {
        let shipments = Arc::new(MemoryShipmentStore::new());
        let deps = world_with(shipments.clone()).await;
        World { shipments, deps }
    }

    fn request(method: &str, path: &str) -> ApiGatewayV2httpRequest {
        let mut request = ApiGatewayV2httpRequest::default();
        request.request_context.http.method = Method::from_bytes(method.as_bytes()).unwrap();
        request.raw_path = Some(path.to_owned());
        request
    }

    fn with_body(mut request: ApiGatewayV2httpRequest, body: &Value) -> ApiGatewayV2httpRequest {
        request.body = Some(body.to_string());
        request
    }

    fn with_query(
        mut request: ApiGatewayV2httpRequest,
        pairs: &[(&str, &str)],
    ) -> ApiGatewayV2httpRequest {
        let map: HashMap<String, Vec<String>> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
            .collect();
        request.query_string_parameters = QueryMap::from(map);
        request
    }

    struct Reply {
        status: i64,
        headers: HeaderMap,
        body: Value,
    }

    async fn call(deps: &Deps, request: ApiGatewayV2httpRequest) -> Reply {
        let response = handle(deps, request).await;
        assert_eq!(
            response.headers.get(CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let Some(Body::Text(text)) = &response.body else {
            panic!("a text body expected: {:?}", response.body);
        };
        Reply {
            status: response.status_code,
            headers: response.headers.clone(),
            body: serde_json::from_str(text).unwrap(),
        }
    }

    fn shipment_json(id: Option<&str>, tracking: Option<&str>) -> Value {
        let mut body = json!({
            "amazon_order_id": ORDER,
            "carrier": "ups",
            "ship_date": "2026-11-20T09:00:00Z",
            "items": [{"order_item_id": "OI-1", "quantity": 1}],
        });
        if let Some(id) = id {
            body["shipment_id"] = json!(id);
        }
        if let Some(t) = tracking {
            body["tracking_number"] = json!(t);
        }
        body
    }

    fn post_shipment(body: &Value) -> ApiGatewayV2httpRequest {
        with_body(
            request("POST", &format!("/sellers/{SELLER}/shipments")),
            body,
        )
    }

    fn shipment_path(id: &str) -> String {
        format!("/sellers/{SELLER}/orders/{ORDER}/shipments/{id}")
    }

    /// Amazon rejected the shipment (as the feed flow would record it).
    async fn reject(store: &MemoryShipmentStore, id: &str) {
        let mut shipment = store
            .get_shipment(&SellerId::new(SELLER), &AmazonOrderId::new(ORDER), id)
            .await
            .unwrap()
            .unwrap();
        let expected = shipment.version;
        shipment.version += 1;
        shipment.sent_revision = Some(shipment.revision);
        shipment.state = ShipmentState::Rejected {
            feed_id: "50001".into(),
            code: "18028".into(),
            message: "The tracking number is not valid for the carrier.".into(),
            rejected_at: fixture_now(),
        };
        store.put_shipment(&shipment, Some(expected)).await.unwrap();
    }

    fn metrics(deps: &Deps) -> Value {
        let lines = deps.metrics.take_lines();
        assert_eq!(lines.len(), 1, "one EMF line per invocation");
        serde_json::from_str(&lines[0]).unwrap()
    }

    #[tokio::test]
    async fn recording_creates_then_a_retry_with_the_same_id_answers_the_stored_shipment() {
        let w = world().await;
        let body = shipment_json(Some("PKG-1"), Some("1z999aa1 0123 456784"));

        let first = call(&w.deps, post_shipment(&body)).await;
        let first_metrics = metrics(&w.deps);
        let retry = call(&w.deps, post_shipment(&body)).await;

        assert_eq!(first.status, 201, "{}", first.body);
        assert_eq!(retry.status, 200, "{}", retry.body);
        assert_eq!(first.body, retry.body);
        let s = &first.body["shipment"];
        assert_eq!(s["shipment_id"], "PKG-1");
        assert_eq!(s["revision"], 1);
        assert_eq!(s["source"], "api");
        assert_eq!(s["state"]["state"], "Queued");
        assert_eq!(s["details"]["carrier_code"], "UPS");
        assert_eq!(s["details"]["tracking_number"], UPS_TRACKING);
        assert_eq!(s["details"]["hurts_vtr"], false);
        assert_eq!(
            first.headers.get(LOCATION).unwrap(),
            &shipment_path("PKG-1")
        );
        assert_eq!(w.shipments.all().len(), 1);
        assert_eq!(w.shipments.writes(), 1, "the retry writes nothing");
        assert_eq!(first_metrics["ShipmentsRecorded"], 1);
    }

    #[tokio::test]
    async fn a_shipment_without_tracking_gets_a_generated_id_and_is_flagged_as_hurting_vtr() {
        let w = world().await;

        let reply = call(&w.deps, post_shipment(&shipment_json(None, None))).await;

        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.body["shipment"]["shipment_id"], "S1");
        assert_eq!(reply.body["shipment"]["details"]["hurts_vtr"], true);
        assert_eq!(metrics(&w.deps)["ShipmentsWithoutTracking"], 1);
    }

    #[tokio::test]
    async fn a_different_shipment_under_a_taken_id_is_a_conflict() {
        let w = world().await;
        call(
            &w.deps,
            post_shipment(&shipment_json(Some("PKG-1"), Some(UPS_TRACKING))),
        )
        .await;

        let reply = call(&w.deps, post_shipment(&shipment_json(Some("PKG-1"), None))).await;

        assert_eq!(reply.status, 409, "{}", reply.body);
        assert_eq!(reply.body["error"], "conflict");
        assert_eq!(w.shipments.all().len(), 1);
        assert_eq!(
            w.shipments.all()[0].details.tracking_number.as_deref(),
            Some(UPS_TRACKING),
            "never an overwrite"
        );
    }

    #[tokio::test]
    async fn an_invalid_shipment_is_422_with_every_problem_and_its_field() {
        let w = world().await;
        let body = json!({
            "amazon_order_id": ORDER,
            "carrier": "UPS",
            "tracking_number": "9400111899223033005288",
            "ship_date": "2026-11-21T09:00:00Z",
            "items": [{"order_item_id": "OI-9", "quantity": 1}],
        });

        let reply = call(&w.deps, post_shipment(&body)).await;

        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.body["error"], "invalid_shipment");
        let fields: Vec<&str> = reply.body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            ["items.order_item_id", "ship_date", "tracking_number"],
            "{}",
            reply.body
        );
        assert!(
            reply.body["problems"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| !p["message"].as_str().unwrap().is_empty())
        );
        assert!(w.shipments.all().is_empty());
        assert_eq!(metrics(&w.deps)["ShipmentsInvalid"], 1);
    }

    #[tokio::test]
    async fn a_body_that_does_not_parse_is_400_naming_the_field() {
        let w = world().await;
        let mut missing_carrier = shipment_json(None, None);
        missing_carrier.as_object_mut().unwrap().remove("carrier");
        let mut bad_quantity = shipment_json(None, None);
        bad_quantity["items"][0]["quantity"] = json!("two");
        let mut misspelt = shipment_json(None, None);
        misspelt["tracking"] = json!(UPS_TRACKING);
        let mut bad_date = shipment_json(None, None);
        bad_date["ship_date"] = json!("yesterday");

        for (body, field) in [
            (missing_carrier, "carrier"),
            (bad_quantity, "items[0].quantity"),
            (misspelt, "tracking"),
            (bad_date, "ship_date"),
        ] {
            let reply = call(&w.deps, post_shipment(&body)).await;

            assert_eq!(reply.status, 400, "{}", reply.body);
            assert_eq!(reply.body["error"], "bad_request");
            assert_eq!(reply.body["field"], field, "{}", reply.body);
            assert!(
                reply.body["message"].as_str().unwrap().contains(field),
                "{}",
                reply.body
            );
        }
        for text in ["", "{not json", "{} {}"] {
            let mut req = request("POST", &format!("/sellers/{SELLER}/shipments"));
            req.body = Some(text.to_owned());

            let reply = call(&w.deps, req).await;

            assert_eq!(reply.status, 400, "{text:?}: {}", reply.body);
        }
        assert!(w.shipments.all().is_empty());
    }

    #[tokio::test]
    async fn a_base64_encoded_json_body_is_read() {
        let w = world().await;
        let mut req = request("POST", &format!("/sellers/{SELLER}/shipments"));
        req.body = Some(STANDARD.encode(shipment_json(Some("B64"), None).to_string()));
        req.is_base64_encoded = true;

        let reply = call(&w.deps, req).await;

        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    #[tokio::test]
    async fn an_unknown_order_is_404() {
        let w = world().await;
        let mut body = shipment_json(None, None);
        body["amazon_order_id"] = json!("111-9999999-9999999");

        let reply = call(&w.deps, post_shipment(&body)).await;

        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(reply.body["error"], "order_not_found");
    }

    #[tokio::test]
    async fn an_orders_shipments_are_listed_and_read_one_by_one() {
        let w = world().await;
        for id in ["PKG-1", "PKG-2"] {
            call(&w.deps, post_shipment(&shipment_json(Some(id), None))).await;
        }

        let list = call(
            &w.deps,
            request(
                "GET",
                &format!("/sellers/{SELLER}/orders/{ORDER}/shipments"),
            ),
        )
        .await;
        let one = call(&w.deps, request("GET", &shipment_path("PKG-2"))).await;
        let missing = call(&w.deps, request("GET", &shipment_path("PKG-3"))).await;
        let other_order = call(
            &w.deps,
            request("GET", &format!("/sellers/{SELLER}/orders/111-2/shipments")),
        )
        .await;

        assert_eq!(list.status, 200);
        let ids: Vec<&str> = list.body["shipments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["shipment_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["PKG-1", "PKG-2"]);
        assert!(list.body.get("next_page").is_none());
        assert_eq!(one.status, 200);
        assert_eq!(one.body["shipment"]["shipment_id"], "PKG-2");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"], "shipment_not_found");
        assert_eq!(other_order.status, 200);
        assert_eq!(other_order.body["shipments"], json!([]));
    }

    #[tokio::test]
    async fn correcting_a_rejected_tracking_number_queues_revision_2() {
        let w = world().await;
        call(
            &w.deps,
            post_shipment(&shipment_json(Some("PKG-1"), Some("1Z999AA10123456784"))),
        )
        .await;
        reject(&w.shipments, "PKG-1").await;
        let fixed = json!({"tracking_number": "1Z 999 AA1 0123 456785"});
        w.deps.metrics.take_lines();

        let reply = call(
            &w.deps,
            with_body(request("PATCH", &shipment_path("PKG-1")), &fixed),
        )
        .await;

        assert_eq!(reply.status, 200, "{}", reply.body);
        let s = &reply.body["shipment"];
        assert_eq!(s["revision"], 2);
        assert_eq!(s["state"]["state"], "Queued");
        assert_eq!(s["details"]["tracking_number"], "1Z999AA10123456785");
        assert_eq!(s["details"]["carrier_code"], "UPS", "kept");
        let stored = &w.shipments.all()[0];
        assert_eq!(stored.revision, 2);
        assert_eq!(stored.state, ShipmentState::Queued);
        assert_eq!(metrics(&w.deps)["ShipmentsCorrected"], 1);
    }

    #[tokio::test]
    async fn corrections_are_checked_and_refused_when_they_change_nothing() {
        let w = world().await;
        call(
            &w.deps,
            post_shipment(&shipment_json(Some("PKG-1"), Some(UPS_TRACKING))),
        )
        .await;

        let invalid = call(
            &w.deps,
            with_body(
                request("PATCH", &shipment_path("PKG-1")),
                &json!({"tracking_number": "1Z-99.9"}),
            ),
        )
        .await;
        let nothing = call(
            &w.deps,
            with_body(
                request("PATCH", &shipment_path("PKG-1")),
                &json!({"tracking_number": UPS_TRACKING}),
            ),
        )
        .await;
        let misspelt = call(
            &w.deps,
            with_body(
                request("PATCH", &shipment_path("PKG-1")),
                &json!({"tracking": "1Z999AA10123456785"}),
            ),
        )
        .await;
        let missing = call(
            &w.deps,
            with_body(
                request("PATCH", &shipment_path("PKG-9")),
                &json!({"tracking_number": "1Z999AA10123456785"}),
            ),
        )
        .await;

        assert_eq!(invalid.status, 422, "{}", invalid.body);
        assert_eq!(invalid.body["problems"][0]["field"], "tracking_number");
        assert_eq!(nothing.status, 409, "{}", nothing.body);
        assert_eq!(nothing.body["error"], "refused");
        assert_eq!(misspelt.status, 400, "{}", misspelt.body);
        assert_eq!(misspelt.body["field"], "tracking");
        assert_eq!(missing.status, 404, "{}", missing.body);
        assert_eq!(w.shipments.all()[0].revision, 1);
    }

    #[tokio::test]
    async fn a_rejected_shipment_is_requeued_and_a_queued_one_refused() {
        let w = world().await;
        for id in ["PKG-1", "PKG-2"] {
            call(&w.deps, post_shipment(&shipment_json(Some(id), None))).await;
        }
        reject(&w.shipments, "PKG-1").await;
        let requeue = |id: &str| request("POST", &format!("{}/requeue", shipment_path(id)));

        let rejected = call(&w.deps, requeue("PKG-1")).await;
        let queued = call(&w.deps, requeue("PKG-2")).await;

        assert_eq!(rejected.status, 200, "{}", rejected.body);
        assert_eq!(rejected.body["shipment"]["state"]["state"], "Queued");
        assert_eq!(rejected.body["shipment"]["revision"], 1, "unchanged");
        assert_eq!(queued.status, 409, "{}", queued.body);
        assert_eq!(queued.body["error"], "refused");
    }

    #[tokio::test]
    async fn shipments_are_listed_by_state_in_pages_with_amazons_rejection() {
        let w = world().await;
        for (id, item) in [("PKG-1", "OI-1"), ("PKG-2", "OI-1"), ("PKG-3", "OI-2")] {
            let mut body = shipment_json(Some(id), None);
            body["items"][0]["order_item_id"] = json!(item);
            let recorded = call(&w.deps, post_shipment(&body)).await;
            assert_eq!(recorded.status, 201, "{}", recorded.body);
        }
        reject(&w.shipments, "PKG-1").await;
        reject(&w.shipments, "PKG-3").await;
        let list = |query: &[(&str, &str)]| {
            with_query(
                request("GET", &format!("/sellers/{SELLER}/shipments")),
                query,
            )
        };

        let first = call(&w.deps, list(&[("state", "Rejected"), ("limit", "1")])).await;
        let token = first.body["next_page"].as_str().unwrap().to_owned();
        let second = call(
            &w.deps,
            list(&[("state", "Rejected"), ("limit", "1"), ("page", &token)]),
        )
        .await;
        let queued = call(&w.deps, list(&[("state", "Queued")])).await;

        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(first.body["shipments"].as_array().unwrap().len(), 1);
        let state = &first.body["shipments"][0]["state"];
        assert_eq!(state["state"], "Rejected");
        assert_eq!(state["code"], "18028");
        assert_eq!(
            state["message"],
            "The tracking number is not valid for the carrier."
        );
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {token}"
        );
        assert_eq!(second.status, 200, "{}", second.body);
        assert_eq!(second.body["shipments"].as_array().unwrap().len(), 1);
        assert_ne!(
            first.body["shipments"][0]["shipment_id"],
            second.body["shipments"][0]["shipment_id"]
        );
        assert!(second.body.get("next_page").is_none());
        assert_eq!(queued.body["shipments"][0]["shipment_id"], "PKG-2");
        assert_eq!(queued.body["shipments"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_state_listing_refuses_unknown_states_limits_and_pages() {
        let w = world().await;
        let list = |query: &[(&str, &str)]| {
            with_query(
                request("GET", &format!("/sellers/{SELLER}/shipments")),
                query,
            )
        };

        for (query, field) in [
            (vec![], "state"),
            (vec![("state", "rejected")], "state"),
            (vec![("state", "Rejected"), ("limit", "0")], "limit"),
            (vec![("state", "Rejected"), ("limit", "101")], "limit"),
            (vec![("state", "Rejected"), ("page", "not base64!")], "page"),
        ] {
            let reply = call(&w.deps, list(&query)).await;

            assert_eq!(reply.status, 400, "{query:?}: {}", reply.body);
            assert_eq!(reply.body["field"], field, "{query:?}");
        }
    }

    #[tokio::test]
    async fn unknown_paths_are_404_and_wrong_methods_405() {
        let w = world().await;

        let unknown = call(&w.deps, request("GET", "/sellers/A1/orders")).await;
        let root = call(&w.deps, request("GET", "/")).await;
        let empty_segment = call(&w.deps, request("GET", "/sellers//shipments")).await;
        let wrong = call(&w.deps, request("DELETE", &shipment_path("PKG-1"))).await;

        for reply in [&unknown, &root, &empty_segment] {
            assert_eq!(reply.status, 404);
            assert_eq!(reply.body["error"], "not_found");
        }
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.body["error"], "method_not_allowed");
        assert_eq!(wrong.headers.get(ALLOW).unwrap(), "GET, PATCH");
    }

    #[tokio::test]
    async fn a_named_stage_prefix_is_dropped_from_the_path() {
        let w = world().await;
        let mut req = post_shipment(&shipment_json(None, None));
        req.raw_path = Some(format!("/prod/sellers/{SELLER}/shipments"));
        req.request_context.stage = Some("prod".into());

        let reply = call(&w.deps, req).await;

        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    #[test]
    fn routes_are_parsed_from_the_raw_path() {
        let seller = SellerId::new("A1");
        let order = AmazonOrderId::new("111-1");

        assert_eq!(
            Route::parse("/sellers/A1/shipments/"),
            Some(Route::SellerShipments {
                seller: seller.clone()
            })
        );
        assert_eq!(
            Route::parse("/sellers/A1/orders/111-1/shipments/PKG%2E1/requeue"),
            Some(Route::Requeue {
                seller,
                order,
                shipment_id: "PKG.1".into()
            })
        );
        for path in [
            "",
            "sellers/A1/shipments",
            "/sellers/A1/shipments/x/y",
            "/sellers/A1/orders/111-1/shipments/PKG%ZZ",
            "/sellers/A1/orders/111-1/shipments/a/b/c",
        ] {
            assert_eq!(Route::parse(path), None, "{path}");
        }
    }

    #[tokio::test]
    async fn a_retryable_store_failure_is_503_and_a_permanent_one_500_without_internals() {
        let w = world().await;
        w.shipments.fail_next(FailOp::PutShipment, 1);

        let busy = call(&w.deps, post_shipment(&shipment_json(None, None))).await;
        let broken = world_with(Arc::new(BrokenStore)).await;
        let failed = call(&broken, post_shipment(&shipment_json(None, None))).await;
        let failed_metrics = metrics(&broken);
        let failed_list = call(
            &broken,
            request(
                "GET",
                &format!("/sellers/{SELLER}/orders/{ORDER}/shipments"),
            ),
        )
        .await;

        assert_eq!(busy.status, 503, "{}", busy.body);
        assert_eq!(busy.body["error"], "unavailable");
        assert!(busy.headers.get(RETRY_AFTER).is_some());
        for reply in [&failed, &failed_list] {
            assert_eq!(reply.status, 500, "{}", reply.body);
            assert_eq!(reply.body["error"], "internal_error");
            assert!(!reply.body.to_string().contains("ValidationException"));
        }
        assert_eq!(failed_metrics["ApiServerErrors"], 1);
    }

    #[tokio::test]
    async fn a_page_token_the_store_refuses_is_400() {
        let deps = world_with(Arc::new(BrokenStore)).await;
        let req = with_query(
            request("GET", &format!("/sellers/{SELLER}/shipments")),
            &[("state", "Queued"), ("page", &URL_SAFE_NO_PAD.encode("{}"))],
        );

        let reply = call(&deps, req).await;

        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["field"], "page");
    }

    /// A store that fails for good, as DynamoDB does for a malformed request.
    struct BrokenStore;

    fn broken(operation: &'static str) -> StoreError {
        StoreError::Permanent {
            operation,
            source: "ValidationException: One or more parameter values were invalid".into(),
        }
    }

    #[async_trait]
    impl ShipmentStore for BrokenStore {
        async fn get_shipment(
            &self,
            _: &SellerId,
            _: &AmazonOrderId,
            _: &str,
        ) -> Result<Option<Shipment>, StoreError> {
            Err(broken("GetItem"))
        }

        async fn shipments_of_order(
            &self,
            _: &SellerId,
            _: &AmazonOrderId,
        ) -> Result<Vec<Shipment>, StoreError> {
            Err(broken("Query"))
        }

        async fn put_shipment(&self, _: &Shipment, _: Option<u64>) -> Result<(), StoreError> {
            Err(broken("PutItem"))
        }

        async fn shipments_in_state(
            &self,
            _: &SellerId,
            _: &str,
            page: Option<String>,
            _: usize,
        ) -> Result<(Vec<Shipment>, Option<String>), StoreError> {
            match page {
                Some(_) => Err(StoreError::Permanent {
                    operation: "Query",
                    source: Box::new(spsync_aws::AdapterError::PageToken),
                }),
                None => Err(broken("Query")),
            }
        }
    }

    #[test]
    fn config_reads_exactly_the_template_environment() {
        assert_config_matches_template("shipments-api", Config::from_reader);
    }

    #[test]
    fn config_reports_every_problem_at_once() {
        let err = Config::from_map(&BTreeMap::new()).unwrap_err();

        assert_eq!(err.problems.len(), 2, "{err}");
        for name in [ORDERS_TABLE_NAME, SHIPMENTS_TABLE_NAME] {
            assert!(err.to_string().contains(name), "{err}");
        }
        assert_eq!(config().shipments_table_name, "shipments");
    }
}
