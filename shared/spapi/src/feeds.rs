//! Feeds API v2021-06-30: feed documents, the presigned upload, and feed lifecycle.
//!
//! A submission is three steps: [`FeedsApi::create_feed_document`] (declares the content type
//! and returns a presigned upload URL), [`FeedsApi::upload_feed_document`] (HTTP `PUT` of the raw
//! bytes with exactly that content type, since the URL is signed over it), then
//! [`FeedsApi::create_feed`]. Wire models follow `models/feeds-api-model/feeds_2021-06-30.json`.

use std::collections::BTreeMap;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use spsync_domain::ProcessingStatus;
use time::OffsetDateTime;

use crate::client::{ApiRequest, SpApiClient};
use crate::documents::{CompressionAlgorithm, PresignedUrl};
use crate::error::SpApiError;
use crate::limits::Operation;
use crate::query::ListFilters;

const API: [&str; 2] = ["feeds", "2021-06-30"];

/// Feed type of the JSON listings feed, which has its own createFeed usage plan.
pub const JSON_LISTINGS_FEED: &str = "JSON_LISTINGS_FEED";

/// Pseudo-operation name of the presigned upload in errors and traces.
pub const UPLOAD_OPERATION: &str = "uploadFeedDocument";

/// Body of createFeedDocument (`CreateFeedDocumentSpecification`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedDocumentSpecification {
    /// MIME type of the content to upload, e.g. `text/tab-separated-values; charset=UTF-8`.
    pub content_type: String,
}

/// Response of createFeedDocument (`CreateFeedDocumentResponse`). `Debug` hides the URL, and it
/// is not `Serialize` (see [`PresignedUrl`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedDocumentResponse {
    /// Identifier to pass to createFeed as `inputFeedDocumentId`.
    pub feed_document_id: String,
    /// Presigned upload URL; expires in 5 minutes.
    pub url: PresignedUrl,
}

/// Body of createFeed (`CreateFeedSpecification`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedSpecification {
    /// Feed type, e.g. `POST_FLAT_FILE_FULFILLMENT_DATA` or [`JSON_LISTINGS_FEED`].
    pub feed_type: String,
    /// Marketplaces the feed applies to (1 to 25).
    pub marketplace_ids: Vec<String>,
    /// The uploaded document.
    pub input_feed_document_id: String,
    /// Feed-type specific options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_options: Option<BTreeMap<String, String>>,
}

impl CreateFeedSpecification {
    /// A specification with only the required fields.
    pub fn new(
        feed_type: impl Into<String>,
        marketplace_ids: impl IntoIterator<Item = impl Into<String>>,
        input_feed_document_id: impl Into<String>,
    ) -> Self {
        Self {
            feed_type: feed_type.into(),
            marketplace_ids: marketplace_ids.into_iter().map(Into::into).collect(),
            input_feed_document_id: input_feed_document_id.into(),
            feed_options: None,
        }
    }
}

/// Response of createFeed (`CreateFeedResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedResponse {
    /// Identifier of the new feed.
    pub feed_id: String,
}

/// A feed (`Feed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feed {
    /// Feed identifier.
    pub feed_id: String,
    /// Feed type.
    pub feed_type: String,
    /// Marketplaces the feed applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_ids: Option<Vec<String>>,
    /// When the feed was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    /// Processing status. `DONE` can still carry per-record errors in the result document.
    pub processing_status: ProcessingStatus,
    /// When processing started.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub processing_start_time: Option<OffsetDateTime>,
    /// When processing ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub processing_end_time: Option<OffsetDateTime>,
    /// The processing report, to fetch with getFeedDocument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_feed_document_id: Option<String>,
}

/// Response of getFeeds (`GetFeedsResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFeedsResponse {
    /// Feeds on this page.
    pub feeds: Vec<Feed>,
    /// Token for the next page, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Location of a feed document (`FeedDocument`). `Debug` hides the presigned URL, and it is not
/// `Serialize` (see [`PresignedUrl`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedDocument {
    /// Document identifier.
    pub feed_document_id: String,
    /// Presigned download URL; expires after 5 minutes.
    pub url: PresignedUrl,
    /// `GZIP` when the content is compressed; absent means plain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_algorithm: Option<CompressionAlgorithm>,
}

/// Filters of getFeeds. Either `feed_types` or `next_token` must be set; when `next_token` is
/// set it is sent alone, as Amazon requires.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetFeedsQuery {
    /// Feed types (1 to 10).
    pub feed_types: Vec<String>,
    /// Only feeds for these marketplaces (1 to 10).
    pub marketplace_ids: Vec<String>,
    /// Page size, 1 to 100 (Amazon's default is 10).
    pub page_size: Option<u32>,
    /// Only feeds in these statuses.
    pub processing_statuses: Vec<ProcessingStatus>,
    /// Only feeds created at or after this time (Amazon's default: 90 days ago).
    pub created_since: Option<OffsetDateTime>,
    /// Only feeds created before this time.
    pub created_until: Option<OffsetDateTime>,
    /// Continuation token from a previous page.
    pub next_token: Option<String>,
}

impl GetFeedsQuery {
    /// All feeds of the given types (other filters default).
    pub fn for_types(feed_types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            feed_types: feed_types.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The page after the one that returned `next_token`.
    pub fn next_page(next_token: impl Into<String>) -> Self {
        Self {
            next_token: Some(next_token.into()),
            ..Self::default()
        }
    }

    pub(crate) fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, SpApiError> {
        ListFilters {
            types_param: "feedTypes",
            types: &self.feed_types,
            processing_statuses: &self.processing_statuses,
            marketplace_ids: &self.marketplace_ids,
            page_size: self.page_size,
            created_since: self.created_since,
            created_until: self.created_until,
            next_token: self.next_token.as_deref(),
        }
        .to_pairs(Operation::GetFeeds)
    }
}

/// Feeds API operations; get one from [`SpApiClient::feeds`].
#[derive(Debug, Clone, Copy)]
pub struct FeedsApi<'a> {
    client: &'a SpApiClient,
}

impl<'a> FeedsApi<'a> {
    pub(crate) fn new(client: &'a SpApiClient) -> Self {
        Self { client }
    }

    /// createFeedDocument: `POST /feeds/2021-06-30/documents` → 201 with the upload URL.
    pub async fn create_feed_document(
        &self,
        content_type: &str,
    ) -> Result<CreateFeedDocumentResponse, SpApiError> {
        let op = Operation::CreateFeedDocument;
        let url = self.client.url(op, &[API[0], API[1], "documents"], &[])?;
        let body = CreateFeedDocumentSpecification {
            content_type: content_type.to_owned(),
        };
        let request = SpApiClient::json_request(op, Method::POST, url, &body)?;
        self.client.execute_json(request).await
    }

    /// Uploads the feed content: HTTP `PUT` of `body` to the presigned `url`, with
    /// `Content-Type` exactly `content_type` (the value given to createFeedDocument).
    ///
    /// No access token is sent (the URL carries its own signature). 5xx and transport failures
    /// are retried a few times; the body is a cheap-to-clone [`Bytes`] for that reason.
    pub async fn upload_feed_document(
        &self,
        url: &PresignedUrl,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), SpApiError> {
        let response = self
            .client
            .presigned_transfer(UPLOAD_OPERATION, || {
                self.client
                    .http()
                    .put(url.as_str())
                    .header(CONTENT_TYPE, content_type)
                    .body(body.clone())
            })
            .await?;
        tracing::debug!(
            sp_operation = UPLOAD_OPERATION,
            sp_status = response.status().as_u16(),
            bytes = body.len(),
            "feed document uploaded"
        );
        Ok(())
    }

    /// createFeed: `POST /feeds/2021-06-30/feeds` → 202. Returns the feed id.
    ///
    /// `JSON_LISTINGS_FEED` is paced with its own plan (5 per 5 minutes).
    pub async fn create_feed(
        &self,
        specification: &CreateFeedSpecification,
    ) -> Result<String, SpApiError> {
        let op = if specification.feed_type == JSON_LISTINGS_FEED {
            Operation::CreateJsonListingsFeed
        } else {
            Operation::CreateFeed
        };
        let url = self.client.url(op, &[API[0], API[1], "feeds"], &[])?;
        let request = SpApiClient::json_request(op, Method::POST, url, specification)?;
        let response: CreateFeedResponse = self.client.execute_json(request).await?;
        Ok(response.feed_id)
    }

    /// getFeed: `GET /feeds/2021-06-30/feeds/{feedId}`.
    pub async fn get_feed(&self, feed_id: &str) -> Result<Feed, SpApiError> {
        let op = Operation::GetFeed;
        let url = self
            .client
            .url(op, &[API[0], API[1], "feeds", feed_id], &[])?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }

    /// getFeeds: `GET /feeds/2021-06-30/feeds` with filters or a `nextToken`.
    pub async fn get_feeds(&self, query: &GetFeedsQuery) -> Result<GetFeedsResponse, SpApiError> {
        let op = Operation::GetFeeds;
        let url = self
            .client
            .url(op, &[API[0], API[1], "feeds"], &query.to_pairs()?)?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }

    /// cancelFeed: `DELETE /feeds/2021-06-30/feeds/{feedId}` (only while `IN_QUEUE`).
    pub async fn cancel_feed(&self, feed_id: &str) -> Result<(), SpApiError> {
        let op = Operation::CancelFeed;
        let url = self
            .client
            .url(op, &[API[0], API[1], "feeds", feed_id], &[])?;
        self.client
            .execute(ApiRequest::delete(op, url))
            .await
            .map(|_| ())
    }

    /// getFeedDocument: `GET /feeds/2021-06-30/documents/{feedDocumentId}`.
    pub async fn get_feed_document(
        &self,
        feed_document_id: &str,
    ) -> Result<FeedDocument, SpApiError> {
        let op = Operation::GetFeedDocument;
        let url = self
            .client
            .url(op, &[API[0], API[1], "documents", feed_document_id], &[])?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::macros::datetime;

    use super::*;
    use crate::test_support::{MockServer, Reply};
    use crate::{Retryability, SpApiClient};

    const FEEDS_PATH: &str = "/feeds/2021-06-30/feeds";
    const DOCUMENTS_PATH: &str = "/feeds/2021-06-30/documents";
    const TSV: &str = "text/tab-separated-values; charset=UTF-8";

    async fn client(mock: &MockServer) -> SpApiClient {
        mock.lwa_ok(3600);
        SpApiClient::new(mock.config()).unwrap()
    }

    #[tokio::test]
    async fn submit_flow_document_upload_feed() {
        let mock = MockServer::start().await;
        let upload_url = mock.url("/upload/3d4e42b5?X-Amz-Signature=sig&X-Amz-Expires=300");
        let url_text = upload_url.to_string();
        mock.route("POST", DOCUMENTS_PATH, move |_, _| {
            Reply::json(
                201,
                serde_json::json!({
                    "feedDocumentId": "3d4e42b5-1d6e-44e8-a89c-2abfca0625bb",
                    "url": url_text
                }),
            )
        });
        mock.route("PUT", "/upload/3d4e42b5", |_, _| {
            Reply::bytes(200, None, Vec::new())
        });
        mock.route("POST", FEEDS_PATH, |_, _| {
            Reply::json(202, serde_json::json!({"feedId": "3485934"}))
        });
        let client = client(&mock).await;

        let doc = client.feeds().create_feed_document(TSV).await.unwrap();
        assert_eq!(doc.feed_document_id, "3d4e42b5-1d6e-44e8-a89c-2abfca0625bb");
        assert!(!format!("{doc:?}").contains("X-Amz-Signature"));
        let content = Bytes::from_static(b"order-id\torder-item-id\n123-1234567-1234567\t1\n");
        client
            .feeds()
            .upload_feed_document(&doc.url, TSV, content.clone())
            .await
            .unwrap();
        let spec = CreateFeedSpecification::new(
            "POST_FLAT_FILE_FULFILLMENT_DATA",
            ["A1PA6795UKMFR9"],
            doc.feed_document_id.clone(),
        );
        assert_eq!(client.feeds().create_feed(&spec).await.unwrap(), "3485934");

        let create_doc = &mock.requests("POST", DOCUMENTS_PATH)[0];
        assert_eq!(create_doc.json(), serde_json::json!({"contentType": TSV}));
        let upload = &mock.requests("PUT", "/upload/3d4e42b5")[0];
        assert_eq!(
            upload.header("content-type"),
            Some(TSV),
            "exactly the declared type"
        );
        assert_eq!(upload.body, content);
        assert_eq!(
            upload.query.as_deref(),
            Some("X-Amz-Signature=sig&X-Amz-Expires=300")
        );
        assert_eq!(
            upload.header("x-amz-access-token"),
            None,
            "the LWA token never goes to S3"
        );
        let create_feed = &mock.requests("POST", FEEDS_PATH)[0];
        assert_eq!(
            create_feed.json(),
            serde_json::json!({
                "feedType": "POST_FLAT_FILE_FULFILLMENT_DATA",
                "marketplaceIds": ["A1PA6795UKMFR9"],
                "inputFeedDocumentId": "3d4e42b5-1d6e-44e8-a89c-2abfca0625bb"
            })
        );
    }

    #[tokio::test]
    async fn upload_retries_server_errors_but_not_client_errors() {
        let mock = MockServer::start().await;
        mock.route("PUT", "/flaky", |_, n| {
            Reply::bytes(if n == 0 { 503 } else { 200 }, None, Vec::new())
        });
        mock.route("PUT", "/denied", |_, _| {
            Reply::bytes(400, Some("application/xml"), b"<Error>bad</Error>".to_vec())
        });
        let client = client(&mock).await;
        let body = Bytes::from_static(b"x");
        let flaky = PresignedUrl::new(mock.url("/flaky").to_string());
        client
            .feeds()
            .upload_feed_document(&flaky, TSV, body.clone())
            .await
            .unwrap();
        assert_eq!(mock.calls("PUT", "/flaky"), 2);
        let denied = PresignedUrl::new(mock.url("/denied?X-Amz-Signature=s").to_string());
        let err = client
            .feeds()
            .upload_feed_document(&denied, TSV, body)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SpApiError::DocumentHttp {
                    status: 400,
                    operation: UPLOAD_OPERATION,
                    code: None,
                    url_expired: false,
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.retryability(), Retryability::Permanent);
        assert_eq!(mock.calls("PUT", "/denied"), 1);
    }

    #[tokio::test]
    async fn upload_transport_errors_do_not_leak_the_presigned_url() {
        let mock = MockServer::start().await;
        let client = client(&mock).await;
        // A port nobody listens on (bind, read the port, drop).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = PresignedUrl::new(format!(
            "http://127.0.0.1:{port}/doc?X-Amz-Signature=topsecret"
        ));
        let err = client
            .feeds()
            .upload_feed_document(&url, TSV, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert_eq!(err.retryability(), Retryability::Transient);
        let mut printed = format!("{err} {err:?}");
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            printed.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert!(!printed.contains("topsecret"), "{printed}");
    }

    #[tokio::test]
    async fn json_listings_feed_has_its_own_bucket() {
        let mock = MockServer::start().await;
        mock.route("POST", FEEDS_PATH, |_, n| {
            Reply::json(202, serde_json::json!({"feedId": format!("F{n}")}))
        });
        let client = client(&mock).await;
        let listings = CreateFeedSpecification::new(JSON_LISTINGS_FEED, ["ATVPDKIKX0DER"], "D1");
        for _ in 0..5 {
            client.feeds().create_feed(&listings).await.unwrap();
        }
        let err = client.feeds().create_feed(&listings).await.unwrap_err();
        match err.retryability() {
            // 5 per 300 s: one token every 60 s, plus up to 6 s of jitter
            Retryability::Throttled { retry_after } => assert!(
                retry_after > Duration::from_secs(55) && retry_after <= Duration::from_secs(66),
                "{retry_after:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(mock.calls("POST", FEEDS_PATH), 5);
        // other feed types are paced separately and still go through
        let fulfilment = CreateFeedSpecification::new(
            "POST_FLAT_FILE_FULFILLMENT_DATA",
            ["ATVPDKIKX0DER"],
            "D2",
        );
        assert_eq!(client.feeds().create_feed(&fulfilment).await.unwrap(), "F5");
    }

    #[tokio::test]
    async fn get_feed_get_feeds_cancel_and_document() {
        let mock = MockServer::start().await;
        mock.route("GET", "/feeds/2021-06-30/feeds/FeedId1", |_, _| {
            Reply::json(
                200,
                serde_json::json!({
                    "feedId": "FeedId1",
                    "feedType": "POST_FLAT_FILE_FULFILLMENT_DATA",
                    "marketplaceIds": ["ATVPDKIKX0DER"],
                    "createdTime": "2026-11-01T10:00:00Z",
                    "processingStatus": "DONE",
                    "processingStartTime": "2026-11-01T10:01:00Z",
                    "processingEndTime": "2026-11-01T10:05:00Z",
                    "resultFeedDocumentId": "RES-1"
                }),
            )
        });
        mock.route("GET", FEEDS_PATH, |_, _| {
            Reply::json(
                200,
                serde_json::json!({"feeds": [{
                    "feedId": "F2", "feedType": "JSON_LISTINGS_FEED",
                    "createdTime": "2026-11-01T10:00:00Z", "processingStatus": "IN_PROGRESS"
                }], "nextToken": "n2"}),
            )
        });
        mock.route("DELETE", "/feeds/2021-06-30/feeds/F3", |_, _| {
            Reply::bytes(200, None, Vec::new())
        });
        mock.route("GET", "/feeds/2021-06-30/documents/RES-1", |_, _| {
            Reply::json(
                200,
                serde_json::json!({
                    "feedDocumentId": "RES-1",
                    "url": "https://example.com/res?X-Amz-Signature=s",
                    "compressionAlgorithm": "GZIP"
                }),
            )
        });
        let client = client(&mock).await;

        let feed = client.feeds().get_feed("FeedId1").await.unwrap();
        assert_eq!(feed.processing_status, ProcessingStatus::Done);
        assert_eq!(feed.result_feed_document_id.as_deref(), Some("RES-1"));
        assert_eq!(
            feed.processing_end_time,
            Some(datetime!(2026-11-01 10:05 UTC))
        );

        let mut query = GetFeedsQuery::for_types([JSON_LISTINGS_FEED]);
        query.processing_statuses = vec![ProcessingStatus::InProgress];
        query.page_size = Some(10);
        let page = client.feeds().get_feeds(&query).await.unwrap();
        assert_eq!(page.feeds[0].feed_id, "F2");
        assert_eq!(page.next_token.as_deref(), Some("n2"));
        let sent = mock.requests("GET", FEEDS_PATH)[0].query_pairs();
        assert_eq!(
            sent,
            vec![
                ("feedTypes".to_string(), "JSON_LISTINGS_FEED".to_string()),
                ("processingStatuses".to_string(), "IN_PROGRESS".to_string()),
                ("pageSize".to_string(), "10".to_string()),
            ]
        );
        client.feeds().cancel_feed("F3").await.unwrap();
        let doc = client.feeds().get_feed_document("RES-1").await.unwrap();
        assert_eq!(doc.compression_algorithm, Some(CompressionAlgorithm::Gzip));
    }
}
