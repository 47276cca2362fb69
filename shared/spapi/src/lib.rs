//! SP-API client of spsync: LWA token cache, typed Reports / Feeds / Orders (v2026-01-01)
//! operations, per-operation usage plans with a non-sleeping limiter, error classification and
//! streamed document download with gzip and charset decoding.
//!
//! It owns everything about *talking* to Amazon and nothing about *what to do next*: callers
//! (the workflow, the Lambda functions, the cross tests) get typed results or an
//! [`SpApiError`] whose [`SpApiError::retryability`] says `Throttled { retry_after }`,
//! `Transient` or `Permanent`. Long waits are never slept here: when a usage plan says "wait a
//! minute", the call returns [`SpApiError::Throttled`] without calling Amazon, so the caller can
//! send itself a delayed message instead (only waits up to
//! [`SpApiConfig::max_in_process_wait`] are slept in-process).
//!
//! A handler turns any error into its next step in one line: [`SpApiError::retry_after`] is
//! `Some(delay)` (a throttle wait floored at 1 s, or a suggested delay for transient failures)
//! or `None` for permanent ones. Requests that create or cancel something (createReport,
//! createFeed, cancelReport, cancelFeed) are never repeated in-process once they may have
//! reached Amazon: such a failure comes back as `Transient` and the workflow reconciles (e.g.
//! with getReports / getFeeds) before creating again.
//!
//! **Keep one [`SpApiClient`] per seller for the life of the container** (build it once, next
//! to the handler, and clone it freely): the LWA token cache and the usage-plan buckets live in
//! it, so a client built per invocation asks LWA for a token every time and forgets what
//! Amazon's 429s taught it. Clients of several sellers can share one [`limits::Limiter`].
//!
//! Endpoints are configuration ([`SpApiConfig::endpoint`], [`SpApiConfig::lwa_endpoint`]), so the
//! same client talks to Amazon or to the simulator. Tokens and secrets never appear in `Debug`
//! output, errors or traces; presigned URLs never do either, and they cannot be serialized, so
//! they cannot reach a queue message or a table. `Debug` of orders redacts buyer and recipient
//! PII, and download results never print the document.
//!
//! Documents: [`documents::DocumentsApi::download_raw`] / [`documents::DocumentsApi::download_text`]
//! write a whole document to a sink; for large documents on their way to S3,
//! [`documents::DocumentsApi::open`] + [`documents::DocumentStream::next_chunk`] is the
//! streaming route. A transfer, retries included, is bounded by [`Timeouts::document`]
//! (5 minutes by default, well inside Lambda's 15).
//!
//! Main types: [`SpApiClient`] (cheap to clone) with [`reports`](SpApiClient::reports),
//! [`feeds`](SpApiClient::feeds), [`orders`](SpApiClient::orders) and
//! [`documents`](SpApiClient::documents); [`SpApiConfig`]; [`SpApiError`];
//! [`limits::Limiter`] and the usage-plan constants in [`limits`];
//! [`documents::DocumentDecoder`] / [`documents::DocumentReader`] for decoding stored documents.
//!
//! ```no_run
//! use spsync_spapi::{LwaCredentials, SpApiClient, SpApiConfig, SpApiError, Retryability};
//! use spsync_spapi::reports::CreateReportSpecification;
//! use spsync_spapi::orders::{IncludedData, OrderTimeFilter, SearchOrdersQuery};
//!
//! # async fn run() -> Result<(), SpApiError> {
//! let credentials = LwaCredentials::new("amzn1.application-oa2-client.x", "secret", "Atzr|x");
//! let config = SpApiConfig::from_urls(
//!     "https://sellingpartnerapi-eu.amazon.com", // SPAPI_ENDPOINT
//!     None,                                      // LWA_ENDPOINT: Amazon's default
//!     credentials,
//! )?;
//! let client = SpApiClient::new(config)?;
//!
//! // Reports: create, poll, locate and download the document as UTF-8 text.
//! let spec = CreateReportSpecification::new(
//!     "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
//!     ["A1PA6795UKMFR9"],
//! );
//! let report_id = match client.reports().create_report(&spec).await {
//!     Ok(id) => id,
//!     Err(e) => match e.retryability() {
//!         Retryability::Throttled { retry_after } => {
//!             // re-enqueue this step with a delay of `retry_after`
//!             return Err(e);
//!         }
//!         Retryability::Transient | Retryability::Permanent => return Err(e),
//!     },
//! };
//! let report = client.reports().get_report(&report_id).await?;
//! if let Some(document_id) = report.report_document_id {
//!     let document = client.reports().get_report_document(&document_id).await?;
//!     let text = client
//!         .documents()
//!         .download_text(&document.url, document.compression_algorithm, Vec::new())
//!         .await?;
//!     println!("{} bytes of text", text.stats.text_bytes);
//! }
//!
//! // Feeds: document, upload, feed.
//! let content_type = "text/tab-separated-values; charset=UTF-8";
//! let doc = client.feeds().create_feed_document(content_type).await?;
//! client
//!     .feeds()
//!     .upload_feed_document(&doc.url, content_type, bytes::Bytes::from_static(b"order-id\n"))
//!     .await?;
//! let feed_id = client
//!     .feeds()
//!     .create_feed(&spsync_spapi::feeds::CreateFeedSpecification::new(
//!         "POST_FLAT_FILE_FULFILLMENT_DATA",
//!         ["A1PA6795UKMFR9"],
//!         doc.feed_document_id,
//!     ))
//!     .await?;
//! let _feed = client.feeds().get_feed(&feed_id).await?;
//!
//! // Orders v2026-01-01.
//! let mut query = SearchOrdersQuery::new(
//!     OrderTimeFilter::LastUpdated {
//!         after: time::macros::datetime!(2026-11-01 00:00 UTC),
//!         before: None,
//!     },
//!     ["A1PA6795UKMFR9"],
//! );
//! query.included_data = vec![IncludedData::Recipient, IncludedData::Fulfillment];
//! let page = client.orders().search_orders(&query).await?;
//! for order in &page.orders {
//!     let _full = client.orders().get_order(&order.order_id, &[IncludedData::Packages]).await?;
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod client;
pub mod config;
pub mod documents;
pub mod error;
pub mod feeds;
pub mod limits;
pub mod orders;
mod query;
pub mod reports;
mod retry;
pub mod seller_clients;
pub mod seller_feeds;

#[cfg(test)]
mod test_support;

pub use client::SpApiClient;
pub use config::{
    BackoffSettings, LimiterClock, LwaCredentials, SecretString, SpApiConfig, Timeouts,
};
pub use error::{Retryability, SpApiError};
pub use seller_clients::{EndpointOverrides, SellerClients};
pub use spsync_domain::{ProcessingStatus, UsagePlan};
