//! An HTTP API function on a local port: what API Gateway (HTTP API, payload format 2.0, one
//! catch-all route) does in front of the shipments API, for the local stack.
//!
//! Each HTTP request becomes an [`ApiGatewayV2httpRequest`]: method, raw path, raw query
//! string and its parameters (repeated keys keep every value), headers, cookies (moved out of
//! the headers as API Gateway does), the body (base64-encoded when it is not UTF-8), and a
//! request context on the `$default` stage with the caller's address. The function's
//! [`ApiGatewayV2httpResponse`] becomes the HTTP answer (a base64 body decoded, `cookies` as
//! `set-cookie`). Like that catch-all route, the server fills no `pathParameters`: the function
//! routes on the raw path. There is no IAM authorisation locally; the server is meant for
//! 127.0.0.1 only.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::query_map::QueryMap;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tracing::warn;

/// A function behind the API: one request in, one answer out (it never fails; errors are
/// answers).
pub type ApiHandler = Arc<
    dyn Fn(ApiGatewayV2httpRequest) -> BoxFuture<'static, ApiGatewayV2httpResponse> + Send + Sync,
>;

/// Largest request body passed on (Lambda's limit for a synchronous invocation's payload).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Serves `handler` on `listener` until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, handler: ApiHandler) -> std::io::Result<()> {
    serve_until(listener, handler, std::future::pending()).await
}

/// Serves `handler` on `listener` until `shutdown` completes (requests in flight finish).
pub async fn serve_until(
    listener: TcpListener,
    handler: ApiHandler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let requests = Arc::new(AtomicU64::new(0));
    let app = Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
            let handler = handler.clone();
            let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
            async move { invoke(&handler, peer, request, n).await }
        },
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn invoke(handler: &ApiHandler, peer: SocketAddr, request: Request, n: u64) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let event = to_event(&parts, &body, peer, format!("local-{n:08}"));
    to_http(handler(event).await)
}

/// The event API Gateway would hand the function for this request.
fn to_event(
    parts: &Parts,
    body: &[u8],
    peer: SocketAddr,
    request_id: String,
) -> ApiGatewayV2httpRequest {
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        parameters
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let mut headers = parts.headers.clone();
    let cookies: Vec<String> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    headers.remove(COOKIE);
    let header_text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some("$default".into());
    event.raw_path = Some(path.clone());
    event.raw_query_string = Some(query);
    event.query_string_parameters = QueryMap::from(parameters);
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = headers;
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event.body = Some(text.to_owned()),
            Err(_) => {
                event.body = Some(STANDARD.encode(body));
                event.is_base64_encoded = true;
            }
        }
    }
    let context = &mut event.request_context;
    context.route_key = Some("$default".into());
    context.stage = Some("$default".into());
    context.request_id = Some(request_id);
    context.apiid = Some("local".into());
    context.domain_name = header_text(HOST);
    context.time_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    context.http.method = parts.method.clone();
    context.http.path = Some(path);
    context.http.protocol = Some(format!("{:?}", parts.version));
    context.http.source_ip = Some(peer.ip().to_string());
    context.http.user_agent = header_text(USER_AGENT);
    event
}

/// The HTTP answer for the function's response; an unusable response is API Gateway's 500.
fn to_http(answer: ApiGatewayV2httpResponse) -> Response {
    let Some(status) = u16::try_from(answer.status_code)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
    else {
        warn!(
            status = answer.status_code,
            "function answered an invalid status"
        );
        return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let body = match answer.body {
        None | Some(Body::Empty) => Vec::new(),
        Some(Body::Text(text)) if answer.is_base64_encoded => match STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => {
                warn!("function answered a body marked base64 that does not decode");
                return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        },
        Some(Body::Text(text)) => text.into_bytes(),
        Some(Body::Binary(bytes)) => bytes,
        Some(_) => {
            warn!("function answered a body of an unknown kind");
            return gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        headers.append(name, value.clone());
    }
    for cookie in &answer.cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// An answer of the gateway itself, in API Gateway's shape (`{"message": ...}`).
fn gateway_answer(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::http::Method;

    use super::*;

    fn answering(
        seen: Arc<Mutex<Vec<ApiGatewayV2httpRequest>>>,
        answer: ApiGatewayV2httpResponse,
    ) -> ApiHandler {
        Arc::new(move |event| {
            seen.lock().unwrap().push(event);
            let answer = answer.clone();
            Box::pin(async move { answer })
        })
    }

    async fn start(handler: ApiHandler) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            serve(listener, handler).await.unwrap();
        });
        (addr, server)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[tokio::test]
    async fn a_request_reaches_the_function_as_api_gateway_sends_it_and_its_answer_comes_back() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut answer = ApiGatewayV2httpResponse::default();
        answer.status_code = 201;
        answer
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        answer.headers.insert(
            "location",
            HeaderValue::from_static("/sellers/A1/orders/O/shipments/S1"),
        );
        answer.body = Some(Body::Text(r#"{"shipment":{"shipment_id":"S1"}}"#.into()));
        answer.cookies = vec!["session=abc; Path=/".into()];
        let (addr, server) = start(answering(seen.clone(), answer)).await;

        let response = client()
            .post(format!(
                "http://{addr}/sellers/A1/shipments?state=Rejected&limit=5&state=Held&note=a%20b"
            ))
            .header("content-type", "application/json")
            .header("x-caller", "staff")
            .header("cookie", "a=1; b=2")
            .body(r#"{"carrier":"UPS"}"#)
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 201);
        assert_eq!(
            response.headers()["location"],
            "/sellers/A1/orders/O/shipments/S1"
        );
        assert_eq!(response.headers()["set-cookie"], "session=abc; Path=/");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"shipment":{"shipment_id":"S1"}}"#
        );
        let events = seen.lock().unwrap().clone();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.request_context.http.method, Method::POST);
        assert_eq!(event.raw_path.as_deref(), Some("/sellers/A1/shipments"));
        assert_eq!(
            event.raw_query_string.as_deref(),
            Some("state=Rejected&limit=5&state=Held&note=a%20b")
        );
        assert_eq!(
            event.query_string_parameters.first("state"),
            Some("Rejected")
        );
        assert_eq!(
            event.query_string_parameters.all("state"),
            Some(vec!["Rejected", "Held"])
        );
        assert_eq!(event.query_string_parameters.first("note"), Some("a b"));
        assert!(
            event.path_parameters.is_empty(),
            "the function routes itself"
        );
        assert_eq!(event.headers["x-caller"], "staff");
        assert!(event.headers.get("cookie").is_none());
        assert_eq!(
            event.cookies.as_deref(),
            Some(&["a=1".to_owned(), "b=2".to_owned()][..])
        );
        assert_eq!(event.body.as_deref(), Some(r#"{"carrier":"UPS"}"#));
        assert!(!event.is_base64_encoded);
        assert_eq!(event.request_context.stage.as_deref(), Some("$default"));
        assert_eq!(
            event.request_context.http.source_ip.as_deref(),
            Some("127.0.0.1")
        );
        server.abort();
    }

    #[tokio::test]
    async fn binary_bodies_travel_base64_and_an_unusable_answer_is_a_gateway_500() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut answer = ApiGatewayV2httpResponse::default();
        answer.status_code = 200;
        answer.body = Some(Body::Text(STANDARD.encode([0xff, 0x00, 0x7f])));
        answer.is_base64_encoded = true;
        let (addr, server) = start(answering(seen.clone(), answer)).await;
        let mut broken = ApiGatewayV2httpResponse::default();
        broken.status_code = 99;
        let (broken_addr, broken_server) = start(answering(seen.clone(), broken)).await;

        let binary = client()
            .put(format!("http://{addr}/upload"))
            .body(vec![0xc3_u8, 0x28])
            .send()
            .await
            .unwrap();
        let gateway = client()
            .get(format!("http://{broken_addr}/x"))
            .send()
            .await
            .unwrap();

        assert_eq!(binary.status(), 200);
        assert_eq!(binary.bytes().await.unwrap().as_ref(), [0xff, 0x00, 0x7f]);
        let event = seen.lock().unwrap()[0].clone();
        assert!(event.is_base64_encoded);
        assert_eq!(
            STANDARD.decode(event.body.unwrap()).unwrap(),
            [0xc3_u8, 0x28]
        );
        assert_eq!(gateway.status(), 500);
        assert_eq!(
            gateway.text().await.unwrap(),
            r#"{"message":"Internal Server Error"}"#
        );
        server.abort();
        broken_server.abort();
    }
}
