//! Per-test mock HTTP server (axum on 127.0.0.1:0) for the unit tests of this crate.
//!
//! Routes are exact (method, path) pairs with a responder closure that gets the request and
//! the 0-based call index of that route. Anything else is recorded as unexpected, answered with
//! 418 (a permanent status, so the client does not retry it) and fails the test when the server
//! is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::config::{BackoffSettings, LwaCredentials, SpApiConfig, Timeouts};

/// A request the mock received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A scripted response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: None,
        }
    }

    pub fn bytes(status: u16, content_type: Option<&str>, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: content_type
                .map(|ct| vec![("content-type".to_owned(), ct.to_owned())])
                .unwrap_or_default(),
            body,
            delay: None,
        }
    }

    /// Amazon's error list with one entry.
    pub fn amazon_error(status: u16, code: &str, message: &str, details: Option<&str>) -> Self {
        let mut entry = serde_json::json!({"code": code, "message": message});
        if let Some(d) = details {
            entry["details"] = d.into();
        }
        Self::json(status, serde_json::json!({ "errors": [entry] }))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

type Responder = Arc<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

struct Route {
    method: String,
    path: String,
    responder: Responder,
    calls: usize,
}

#[derive(Default)]
struct MockState {
    routes: Mutex<Vec<Route>>,
    requests: Mutex<Vec<Recorded>>,
    unexpected: Mutex<Vec<String>>,
}

/// The per-test server.
pub(crate) struct MockServer {
    base: Url,
    state: Arc<MockState>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) const TOKEN_PATH: &str = "/auth/o2/token";

async fn handle(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    state.requests.lock().unwrap().push(recorded.clone());
    let found = {
        let mut routes = state.routes.lock().unwrap();
        routes
            .iter_mut()
            .find(|r| r.method == recorded.method && r.path == recorded.path)
            .map(|r| {
                let index = r.calls;
                r.calls += 1;
                (r.responder.clone(), index)
            })
    };
    let Some((responder, index)) = found else {
        let line = format!("{} {}", recorded.method, recorded.path);
        state.unexpected.lock().unwrap().push(line.clone());
        return (StatusCode::IM_A_TEAPOT, format!("unexpected call: {line}")).into_response();
    };
    let reply = responder(&recorded, index);
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &reply.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    (
        StatusCode::from_u16(reply.status).unwrap(),
        headers,
        reply.body,
    )
        .into_response()
}

impl MockServer {
    pub async fn start() -> Self {
        let state = Arc::new(MockState::default());
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: Url::parse(&format!("http://{addr}")).unwrap(),
            state,
            task,
        }
    }

    pub fn route(
        &self,
        method: &str,
        path: &str,
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) {
        self.state.routes.lock().unwrap().push(Route {
            method: method.to_owned(),
            path: path.to_owned(),
            responder: Arc::new(responder),
            calls: 0,
        });
    }

    /// LWA answering `Atza|token-<n>` valid for `expires_in` seconds.
    pub fn lwa_ok(&self, expires_in: u64) {
        self.route("POST", TOKEN_PATH, move |_, n| {
            Reply::json(
                200,
                serde_json::json!({
                    "access_token": format!("Atza|token-{n}"),
                    "token_type": "bearer",
                    "expires_in": expires_in,
                    "refresh_token": "Atzr|refresh"
                }),
            )
        });
    }

    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    pub fn calls(&self, method: &str, path: &str) -> usize {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    pub fn requests(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .cloned()
            .collect()
    }

    pub fn total_calls(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// A client configuration pointing both endpoints here, with test-friendly pacing:
    /// no in-process throttle waits, millisecond backoffs, short timeouts.
    pub fn config(&self) -> SpApiConfig {
        let credentials = LwaCredentials::new(
            "amzn1.application-oa2-client.test",
            "secret-x",
            "Atzr|refresh",
        );
        let mut config = SpApiConfig::new(self.base.clone(), credentials)
            .unwrap()
            .with_lwa_endpoint(self.url(TOKEN_PATH));
        config.max_in_process_wait = Duration::ZERO;
        config.transient_backoff = BackoffSettings {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        };
        config.throttle_backoff = BackoffSettings {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(10),
        };
        config.timeouts = Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
            read: Duration::from_secs(5),
            document: Duration::from_secs(5),
        };
        config.account_key = Some("seller-test".into());
        config
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
        let unexpected = self.state.unexpected.lock().unwrap().clone();
        if !unexpected.is_empty() && !std::thread::panicking() {
            panic!("mock server received unexpected calls: {unexpected:?}");
        }
    }
}
