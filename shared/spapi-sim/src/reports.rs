//! Reports API 2021-06-30 (being written).

use crate::state::State;
use time::OffsetDateTime;

/// Moves reports forward to `now`.
pub fn advance(_st: &mut State, _now: OffsetDateTime) {}

/// Not written yet.
pub async fn get_reports() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn create_report() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn get_report() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn cancel_report() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn get_report_document() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}
