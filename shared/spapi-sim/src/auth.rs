//! Login with Amazon (`POST /auth/o2/token`) and the Tokens API's createRestrictedDataToken.
//!
//! LWA accepts form-encoded bodies (what the docs and Amazon's JS helper send) and JSON
//! bodies (what Amazon's Java client sends). Errors use LWA's own shape
//! `{"error","error_description"}`, not SP-API's `ErrorList`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::limits::Operation;
use crate::sim::{Sim, new_request_id};
use crate::state::{AccessToken, State};

fn lwa_error(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// Reads the four LWA fields from a form or JSON body.
fn read_fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, String> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("Malformed JSON body: {e}"))?;
        let obj = value.as_object().ok_or("The JSON body must be an object")?;
        Ok(obj
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect())
    } else {
        Ok(url::form_urlencoded::parse(body).into_owned().collect())
    }
}

/// Issues an access token for `seller_id`, valid for the configured lifetime.
pub fn issue_token(
    st: &mut State,
    seller_id: &str,
    prefix: &str,
    now: time::OffsetDateTime,
) -> (String, u64) {
    let ttl = st.timing.token_ttl_seconds;
    let token = format!(
        "{prefix}{:016x}{:016x}",
        st.rng.next_u64(),
        st.rng.next_u64()
    );
    st.tokens.insert(
        token.clone(),
        AccessToken {
            seller_id: seller_id.to_string(),
            expires_at: now + time::Duration::seconds(ttl as i64),
        },
    );
    (token, ttl)
}

/// `POST /auth/o2/token`.
pub async fn token(
    AxumState(sim): AxumState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = new_request_id();
    let decision = {
        let mut st = sim.lock();
        let crate::state::State { faults, rng, .. } = &mut *st;
        faults.decide(Operation::LwaToken.name(), rng)
    };
    if decision.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(decision.latency_ms)).await;
    }
    let (status, body) = match injected_lwa_error(decision) {
        Some(answer) => answer,
        None => exchange(&sim, &headers, &body),
    };
    sim.lock()
        .stats
        .record(Operation::LwaToken.name(), status.as_u16());
    if sim.log_calls {
        tracing::info!(sp_operation = "lwaToken", sp_status = status.as_u16(), sp_request_id = %request_id, "call answered");
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", v);
    }
    response
}

/// An injected fault, answered in LWA's own error shape (LWA is not SP-API: no `ErrorList`).
fn injected_lwa_error(decision: crate::faults::FaultDecision) -> Option<(StatusCode, Value)> {
    let status = if decision.throttle {
        429
    } else {
        decision.forced_status.or(decision.server_error)?
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (error, description) = match status.as_u16() {
        429 | 503 => (
            "temporarily_unavailable",
            "The authorization server is temporarily unable to handle the request",
        ),
        400 => (
            "invalid_request",
            "The request is missing a required parameter or is otherwise malformed",
        ),
        401 => ("invalid_client", "Client authentication failed"),
        403 => (
            "access_denied",
            "The resource owner or authorization server denied the request",
        ),
        _ => (
            "server_error",
            "The authorization server encountered an unexpected error",
        ),
    };
    Some(lwa_error(status, error, description))
}

fn exchange(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let fields = match read_fields(headers, body) {
        Ok(f) => f,
        Err(e) => return lwa_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let field = |k: &str| fields.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match field("grant_type") {
        Some("refresh_token") => {}
        Some(_) => {
            return lwa_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server",
            );
        }
        None => {
            return lwa_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is missing a required parameter : grant_type",
            );
        }
    }
    let (Some(client_id), Some(client_secret)) = (field("client_id"), field("client_secret"))
    else {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is missing a required parameter : client_id or client_secret",
        );
    };
    let Some(refresh_token) = field("refresh_token") else {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is missing a required parameter : refresh_token",
        );
    };
    let (mut st, now) = sim.lock_at_now();
    let client_known = st.sellers.values().any(|s| {
        s.credentials.client_id == client_id && s.credentials.client_secret == client_secret
    });
    if !client_known {
        return lwa_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let seller = st
        .sellers
        .values()
        .find(|s| {
            s.credentials.client_id == client_id && s.credentials.refresh_token == refresh_token
        })
        .map(|s| s.seller_id.clone());
    let Some(seller_id) = seller else {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    };
    let (access_token, ttl) = issue_token(&mut st, &seller_id, "Atza|sim.", now);
    (
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "refresh_token": refresh_token,
            "token_type": "bearer",
            "expires_in": ttl,
        }),
    )
}

/// `POST /tokens/2021-03-01/restrictedDataToken`: an RDT acting for the same seller.
pub async fn create_restricted_data_token(
    AxumState(sim): AxumState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match sim
        .begin(Operation::CreateRestrictedDataToken, &headers)
        .await
    {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return call.invalid_input("The request body is not valid JSON.");
    };
    let resources = request.get("restrictedResources").and_then(Value::as_array);
    let valid = resources.is_some_and(|r| {
        !r.is_empty()
            && r.len() <= 50
            && r.iter().all(|res| {
                matches!(
                    res.get("method").and_then(Value::as_str),
                    Some("GET" | "PUT" | "POST" | "DELETE")
                ) && res
                    .get("path")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.starts_with('/'))
            })
    });
    if !valid {
        return call.invalid_input("restrictedResources must hold 1 to 50 items, each with a method (GET, PUT, POST, DELETE) and a path.");
    }
    let (token, ttl) = {
        let mut st = call.sim().lock();
        issue_token(&mut st, &call.seller_id, "Atz.sprdt|", call.now)
    };
    call.json(
        StatusCode::OK,
        json!({ "restrictedDataToken": token, "expiresIn": ttl }),
    )
}
