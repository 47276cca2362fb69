//! Static-sandbox mode (being written).

/// Amazon's static sandbox vectors.
#[derive(Debug, Clone, Default)]
pub struct SandboxBook {}

/// Answers a request from the vectors.
pub async fn answer() -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_IMPLEMENTED)
}

impl SandboxBook {
    /// Loads vectors from model files (stub).
    pub fn load_models(_dir: &std::path::Path) -> Result<Self, std::io::Error> {
        Ok(Self {})
    }
}
