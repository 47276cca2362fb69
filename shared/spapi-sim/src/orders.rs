//! Orders API v2026-01-01 (being written).

/// Checks a scenario order and returns its id.
pub fn validate_scenario_order(order: &serde_json::Value) -> Result<String, String> {
    order
        .get("orderId")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "orderId missing".to_string())
}

/// Not written yet.
pub async fn search_orders() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn get_order() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}
