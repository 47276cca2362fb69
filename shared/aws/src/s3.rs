//! [`S3DocumentStore`]: raw documents in DocumentsBucket, kept exactly as Amazon served them.
//!
//! How a document is encoded travels as the object's own HTTP metadata: `Content-Type` is
//! Amazon's (it names the charset), `Content-Encoding: gzip` marks compressed bytes. S3 stores
//! and returns both verbatim and never transforms the body, so a later import reads exactly
//! what was downloaded.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use spsync_workflow::{DocumentMeta, DocumentStore, StoreError};
use tracing::instrument;

use crate::error::store_error;

/// DocumentsBucket adapter: implements [`DocumentStore`].
#[derive(Debug, Clone)]
pub struct S3DocumentStore {
    /// S3 client.
    pub client: aws_sdk_s3::Client,
    /// DocumentsBucket's name.
    pub bucket: String,
}

impl S3DocumentStore {
    /// An adapter over `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// True when a `Content-Encoding` value names gzip (it may list several codings).
fn is_gzip(content_encoding: Option<&str>) -> bool {
    content_encoding.is_some_and(|e| {
        e.split(',').any(|c| {
            let c = c.trim();
            c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip")
        })
    })
}

#[async_trait]
impl DocumentStore for S3DocumentStore {
    #[instrument(skip_all, fields(operation = "PutObject", key = %key, bytes = body.len(), gzip = meta.gzip))]
    async fn put_document(
        &self,
        key: &str,
        body: Vec<u8>,
        meta: &DocumentMeta,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_content_type(meta.content_type.clone())
            .set_content_encoding(meta.gzip.then(|| "gzip".to_owned()))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| store_error("PutObject", format!("document {key}"), e))?;
        Ok(())
    }

    #[instrument(skip_all, fields(operation = "GetObject", key = %key))]
    async fn get_document(&self, key: &str) -> Result<(Vec<u8>, DocumentMeta), StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_error("GetObject", format!("document {key}"), e))?;
        let meta = DocumentMeta {
            content_type: out.content_type().map(str::to_owned),
            gzip: is_gzip(out.content_encoding()),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient {
                operation: "GetObject",
                source: Box::new(e),
            })?;
        // No copy when the aggregated body is one buffer (the usual case).
        let bytes = Vec::from(bytes.into_bytes());
        tracing::debug!(bytes = bytes.len(), "document read");
        Ok((bytes, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_recognised_among_content_codings() {
        assert!(is_gzip(Some("gzip")));
        assert!(is_gzip(Some("GZIP")));
        assert!(is_gzip(Some("identity, gzip")));
        assert!(!is_gzip(Some("identity")));
        assert!(!is_gzip(Some("aws-chunked")));
        assert!(!is_gzip(None));
    }
}
