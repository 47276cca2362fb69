//! The control API under `/_sim/`: steer and inspect the simulator from tests and demos.
//!
//! | Method and path | Does |
//! |---|---|
//! | `GET /_sim/health` | `{"status":"ok"}` |
//! | `GET /_sim/clock` / `POST /_sim/clock` `{"advanceSeconds"?, "speed"?}` | read / move simulated time |
//! | `GET /_sim/stats`, `POST /_sim/stats/reset` | per-operation call counts (calls, ok, throttled, clientErrors, serverErrors) |
//! | `GET /_sim/faults`, `POST /_sim/faults` (a [`FaultRule`]), `DELETE /_sim/faults` | fault rules: share of 429s, of 5xx, latency, counted or forever |
//! | `POST /_sim/reports/next-outcome` `{"reportType","outcome":"FATAL"\|"CANCELLED"\|"STUCK"}` | script the next report of a type |
//! | `POST /_sim/feeds/next-outcome` `{"feedType","outcome"}` | script the next feed of a type |
//! | `POST /_sim/reports/next-document` `{"reportType","body"\|"bodyBase64","charset","gzip"}` | serve these bytes verbatim for the next report of a type |
//! | `POST /_sim/tokens/expire` | expire every access token now |
//! | `POST /_sim/limits` `{"enabled"}`, `POST /_sim/limits/reset` | switch usage plans off/on, refill every bucket |
//! | `GET /_sim/feeds` | feeds received: type, status, input size, what they changed |
//! | `GET /_sim/feeds/{feedId}/input` | the raw input document of a feed |
//! | `GET /_sim/sellers/{sellerId}/orders`, `PUT /_sim/sellers/{sellerId}/orders` (v2026 Order) | read / upsert orders |
//! | `GET /_sim/sellers/{sellerId}/listings` | read listings |

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::FaultRule;
use crate::sim::{STANDARD_BASE64, Sim, base64_decode, error_body, format_datetime};
use crate::state::{DocumentKind, PlannedOutcome, State, VerbatimDocument};

/// Routes of the control API.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/_sim/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/_sim/clock", get(get_clock).post(set_clock))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/stats/reset", post(reset_stats))
        .route(
            "/_sim/faults",
            get(get_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/reports/next-outcome", post(next_report_outcome))
        .route("/_sim/feeds/next-outcome", post(next_feed_outcome))
        .route("/_sim/reports/next-document", post(next_report_document))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/limits", post(set_limits))
        .route("/_sim/limits/reset", post(reset_limits))
        .route("/_sim/feeds", get(list_feeds))
        .route("/_sim/feeds/{feedId}/input", get(feed_input))
        .route(
            "/_sim/sellers/{sellerId}/orders",
            get(get_orders).put(put_order),
        )
        .route("/_sim/sellers/{sellerId}/listings", get(get_listings))
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(error_body("InvalidInput", &message.into(), None)),
    )
        .into_response()
}

/// Fallback for unknown paths: Amazon's error shape with a 404 (and, like every SP-API
/// answer, an `x-amzn-RequestId`).
pub async fn not_found() -> Response {
    let mut response = not_found_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&crate::sim::new_request_id()) {
        response.headers_mut().insert("x-amzn-RequestId", v);
    }
    response
}

fn not_found_response() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(error_body(
            "NotFound",
            "The requested resource was not found.",
            None,
        )),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockChange {
    advance_seconds: Option<f64>,
    speed: Option<f64>,
}

fn clock_json(sim: &Sim) -> Value {
    json!({ "now": format_datetime(sim.clock.now()), "speed": sim.clock.speed() })
}

async fn get_clock(AxumState(sim): AxumState<Arc<Sim>>) -> Json<Value> {
    Json(clock_json(&sim))
}

async fn set_clock(
    AxumState(sim): AxumState<Arc<Sim>>,
    Json(change): Json<ClockChange>,
) -> Response {
    let max_advance = crate::clock::MAX_ADVANCE.as_secs_f64();
    if let Some(s) = change.advance_seconds
        && !(s.is_finite() && (0.0..=max_advance).contains(&s))
    {
        return bad_request(format!(
            "advanceSeconds must be between 0 and {max_advance}"
        ));
    }
    if let Some(speed) = change.speed
        && !(speed.is_finite() && (0.0..=crate::clock::MAX_SPEED).contains(&speed))
    {
        return bad_request(format!(
            "speed must be between 0 and {}",
            crate::clock::MAX_SPEED
        ));
    }
    if let Some(s) = change.advance_seconds {
        sim.advance_clock(Duration::from_secs_f64(s));
    }
    if let Some(speed) = change.speed {
        sim.clock.set_speed(speed);
    }
    Json(clock_json(&sim)).into_response()
}

async fn get_stats(AxumState(sim): AxumState<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.lock().stats))
}

async fn reset_stats(AxumState(sim): AxumState<Arc<Sim>>) -> StatusCode {
    sim.lock().stats = Default::default();
    StatusCode::NO_CONTENT
}

async fn get_faults(AxumState(sim): AxumState<Arc<Sim>>) -> Json<Value> {
    Json(json!({ "rules": sim.lock().faults.rules }))
}

async fn add_fault(AxumState(sim): AxumState<Arc<Sim>>, Json(rule): Json<FaultRule>) -> Response {
    let ratios_ok = [rule.throttle_ratio, rule.error_ratio]
        .iter()
        .all(|r| (0.0..=1.0).contains(r));
    if !ratios_ok {
        return bad_request("throttleRatio and errorRatio must be between 0 and 1");
    }
    if rule.status.is_some_and(|s| !(400..=599).contains(&s)) {
        return bad_request("status must be an error status (400 to 599)");
    }
    sim.lock().faults.rules.push(rule);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(AxumState(sim): AxumState<Arc<Sim>>) -> StatusCode {
    sim.lock().faults = Default::default();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NextOutcome {
    #[serde(alias = "feedType")]
    report_type: String,
    outcome: PlannedOutcome,
}

async fn next_report_outcome(
    AxumState(sim): AxumState<Arc<Sim>>,
    Json(n): Json<NextOutcome>,
) -> StatusCode {
    sim.script_report_outcome(&n.report_type, n.outcome);
    StatusCode::NO_CONTENT
}

async fn next_feed_outcome(
    AxumState(sim): AxumState<Arc<Sim>>,
    Json(n): Json<NextOutcome>,
) -> StatusCode {
    sim.script_feed_outcome(&n.report_type, n.outcome);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NextDocument {
    report_type: String,
    body: Option<String>,
    body_base64: Option<String>,
    #[serde(default = "utf8")]
    charset: String,
    #[serde(default)]
    gzip: bool,
}

fn utf8() -> String {
    "UTF-8".into()
}

async fn next_report_document(
    AxumState(sim): AxumState<Arc<Sim>>,
    Json(n): Json<NextDocument>,
) -> Response {
    let bytes = match (n.body, n.body_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(b64)) => match base64_decode(&b64, STANDARD_BASE64) {
            Some(b) => b,
            None => return bad_request("bodyBase64 is not valid base64"),
        },
        _ => return bad_request("give exactly one of body and bodyBase64"),
    };
    sim.serve_next_document(
        &n.report_type,
        VerbatimDocument {
            bytes: bytes.into(),
            charset: n.charset,
            gzip: n.gzip,
        },
    );
    StatusCode::NO_CONTENT.into_response()
}

async fn expire_tokens(AxumState(sim): AxumState<Arc<Sim>>) -> StatusCode {
    sim.expire_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    enabled: bool,
}

async fn set_limits(AxumState(sim): AxumState<Arc<Sim>>, Json(l): Json<Limits>) -> StatusCode {
    sim.lock().limiter.disabled = !l.enabled;
    StatusCode::NO_CONTENT
}

async fn reset_limits(AxumState(sim): AxumState<Arc<Sim>>) -> StatusCode {
    sim.lock().limiter.reset();
    StatusCode::NO_CONTENT
}

async fn list_feeds(AxumState(sim): AxumState<Arc<Sim>>) -> Json<Value> {
    let (st, _) = sim.lock_at_now();
    Json(json!({ "feeds": feeds_summary(&st) }))
}

/// A summary of every feed received (for demos and tests).
pub fn feeds_summary(st: &State) -> Vec<Value> {
    st.feeds
        .values()
        .map(|f| {
            let input_bytes = st
                .documents
                .get(&f.input_feed_document_id)
                .map(|d| d.bytes.len());
            json!({
                "feedId": f.feed_id,
                "sellerId": f.seller_id,
                "feedType": f.feed_type,
                "marketplaceIds": f.marketplace_ids,
                "processingStatus": f.status.as_str(),
                "createdTime": format_datetime(f.created_time),
                "inputFeedDocumentId": f.input_feed_document_id,
                "inputBytes": input_bytes,
                "resultFeedDocumentId": f.result_feed_document_id,
                "effects": f.effects,
            })
        })
        .collect()
}

async fn feed_input(AxumState(sim): AxumState<Arc<Sim>>, Path(feed_id): Path<String>) -> Response {
    let st = sim.lock();
    let doc = st
        .feeds
        .get(&feed_id)
        .and_then(|f| st.documents.get(&f.input_feed_document_id))
        .filter(|d| matches!(d.kind, DocumentKind::FeedInput { uploaded: true, .. }));
    match doc {
        Some(d) => (
            [(axum::http::header::CONTENT_TYPE, d.content_type.clone())],
            d.bytes.clone(),
        )
            .into_response(),
        None => not_found_response(),
    }
}

async fn get_orders(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(seller_id): Path<String>,
) -> Response {
    let (st, _) = sim.lock_at_now();
    match st.sellers.get(&seller_id) {
        Some(s) => Json(json!({ "orders": s.orders.values().collect::<Vec<_>>() })).into_response(),
        None => not_found_response(),
    }
}

async fn put_order(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(seller_id): Path<String>,
    Json(order): Json<Value>,
) -> Response {
    match sim.upsert_order(&seller_id, order) {
        Ok(id) => Json(json!({ "orderId": id })).into_response(),
        Err(e) => bad_request(e),
    }
}

async fn get_listings(
    AxumState(sim): AxumState<Arc<Sim>>,
    Path(seller_id): Path<String>,
) -> Response {
    let (st, _) = sim.lock_at_now();
    match st.sellers.get(&seller_id) {
        Some(s) => {
            Json(json!({ "listings": s.listings.values().collect::<Vec<_>>() })).into_response()
        }
        None => not_found_response(),
    }
}

/// The same controls as a library API, for tests that hold the simulator in-process.
impl Sim {
    /// Moves simulated time forward and lets the world catch up.
    pub fn advance_clock(&self, by: Duration) {
        let now = self.clock.advance(by);
        self.lock().advance_to(now);
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().faults.rules.push(rule);
    }

    /// Removes every fault (rules, scripted outcomes, verbatim documents).
    pub fn clear_faults(&self) {
        self.lock().faults = Default::default();
    }

    /// Scripts how the next report of `report_type` ends.
    pub fn script_report_outcome(&self, report_type: &str, outcome: PlannedOutcome) {
        self.lock()
            .faults
            .report_outcomes
            .entry(report_type.to_string())
            .or_default()
            .push_back(outcome);
    }

    /// Scripts how the next feed of `feed_type` ends.
    pub fn script_feed_outcome(&self, feed_type: &str, outcome: PlannedOutcome) {
        self.lock()
            .faults
            .feed_outcomes
            .entry(feed_type.to_string())
            .or_default()
            .push_back(outcome);
    }

    /// Serves `doc` verbatim for the next report of `report_type`.
    pub fn serve_next_document(&self, report_type: &str, doc: VerbatimDocument) {
        self.lock()
            .faults
            .verbatim_documents
            .entry(report_type.to_string())
            .or_default()
            .push_back(doc);
    }

    /// Expires every access token (the next SP-API call with one gets 403).
    pub fn expire_tokens(&self) {
        let now = self.clock.now();
        for t in self.lock().tokens.values_mut() {
            t.expires_at = now;
        }
    }

    /// Per-operation counters.
    pub fn stats(&self) -> crate::state::Stats {
        self.lock().stats.clone()
    }

    /// Inserts or replaces an order (v2026-01-01 `Order` JSON) of a seller.
    pub fn upsert_order(&self, seller_id: &str, order: Value) -> Result<String, String> {
        let id = crate::orders::validate_scenario_order(&order)?;
        let mut st = self.lock();
        let seller = st
            .sellers
            .get_mut(seller_id)
            .ok_or_else(|| format!("unknown seller {seller_id}"))?;
        seller.orders.insert(id.clone(), order);
        Ok(id)
    }

    /// A copy of one order as stored (all datasets).
    pub fn order(&self, seller_id: &str, order_id: &str) -> Option<Value> {
        self.lock()
            .sellers
            .get(seller_id)?
            .orders
            .get(order_id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use crate::{SimOptions, SimServer, sample};

    async fn post(server: &SimServer, path: &str, body: serde_json::Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}{path}", server.url()))
            .json(&body)
            .send()
            .await
            .expect("control call")
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn clock_and_fault_controls_refuse_values_that_would_break_the_simulator() {
        let mut scenario = sample::scenario();
        scenario.clock.speed = 0.0;
        let server = SimServer::start_on_free_port(SimOptions::new(scenario))
            .await
            .unwrap();
        let before = server.sim().clock.now();

        let huge_speed = post(&server, "/_sim/clock", json!({ "speed": 1e15 })).await;
        let huge_jump = post(&server, "/_sim/clock", json!({ "advanceSeconds": 1e30 })).await;
        let ok_jump = post(&server, "/_sim/clock", json!({ "advanceSeconds": 60 })).await;
        let not_an_error = post(&server, "/_sim/faults", json!({ "status": 200 })).await;
        let an_error = post(
            &server,
            "/_sim/faults",
            json!({ "status": 503, "remaining": 1 }),
        )
        .await;

        assert_eq!((huge_speed, huge_jump), (400, 400));
        assert_eq!(ok_jump, 200);
        assert_eq!(
            server.sim().clock.now() - before,
            time::Duration::seconds(60)
        );
        assert_eq!(server.sim().clock.speed(), 0.0);
        assert_eq!((not_an_error, an_error), (400, 204));
    }
}
