//! Feeds API 2021-06-30 (being written).

use crate::state::State;
use time::OffsetDateTime;

/// Moves feeds forward to `now`.
pub fn advance(_st: &mut State, _now: OffsetDateTime) {}

/// Not written yet.
pub async fn get_feeds() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn create_feed() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn get_feed() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn cancel_feed() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn create_feed_document() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

/// Not written yet.
pub async fn get_feed_document() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}
