//! [`SellerClients`] as the workflow's [`FeedsPort`] and [`PackagesPort`] (issue 4, "Tracking
//! out"): fulfilment feeds go out through the Feeds API 2021-06-30, and the closed loop reads
//! the orders' packages back through Orders API v2026-01-01.
//!
//! Same per-seller client, shared limiter and error mapping ([`port_error`]) as the reports and
//! orders ports: every SP-API call here counts against the seller's usage plan, and a 429 (or
//! the limiter's "not yet") crosses the port as `Throttled { retry_after }`.
//!
//! The upload to the presigned URL is not an SP-API operation and has no usage plan. 5xx and
//! transport failures come back `Transient` (after the client's own retries); any 403 (S3's
//! `AccessDenied` for an expired URL, `SignatureDoesNotMatch` for a `Content-Type` other than
//! the one declared to createFeedDocument) is `Permanent` with the code
//! [`UPLOAD_URL_REJECTED`]: that URL will never work, so the step asks for a new document.
//!
//! [`find_feed`](FeedsPort::find_feed) adopts a feed whose createFeed answer was lost. getFeeds
//! lists newest first, so the oldest feed since `created_since` is on the last page: at most
//! [`FIND_FEED_MAX_PAGES`] pages of [`FIND_FEED_PAGE_SIZE`] are read, and a search that would
//! need more fails `Permanent` with [`TOO_MANY_FEEDS`] rather than adopt some other job's feed.
//!
//! The read-back asks for [`PACKAGES_INCLUDED_DATA`] and maps each order with
//! [`shipments_seen_from_order`].

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use spsync_domain::{
    AmazonOrderId, MarketplaceId, OrderShipmentsSeen, PackageSeen, SellerId, ShipmentItem,
};
use spsync_workflow::{
    ApiError, DownloadedDocument, FeedStatus, FeedUpload, FeedsApi as FeedsPort,
    PackagesApi as PackagesPort, PackagesPage,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::SpApiClient;
use crate::documents::PresignedUrl;
use crate::error::SpApiError;
use crate::feeds::{
    CreateFeedSpecification, Feed, GetFeedsQuery, JSON_LISTINGS_FEED, UPLOAD_OPERATION,
};
use crate::limits::Operation;
use crate::orders::{FulfilledBy, FulfillmentStatus, IncludedData, Order, OrderPackage};
use crate::seller_clients::{SELLER_CLIENT_OPERATION, SellerClients, port_error};

/// The data sets the closed loop reads: `PACKAGES` (tracking number, carrier, items of each
/// package) and `FULFILLMENT` (whether anything is left to ship).
pub const PACKAGES_INCLUDED_DATA: [IncludedData; 2] =
    [IncludedData::Packages, IncludedData::Fulfillment];

/// getFeeds page size of [`find_feed`](FeedsPort::find_feed): Amazon's maximum.
pub const FIND_FEED_PAGE_SIZE: u32 = 100;

/// Most getFeeds pages one [`find_feed`](FeedsPort::find_feed) reads (getFeeds is metered at
/// 0.0222 requests per second with a burst of 10).
pub const FIND_FEED_MAX_PAGES: u32 = 3;

/// Code of the permanent error for an upload the presigned URL refused (HTTP 403): create a
/// new feed document.
pub const UPLOAD_URL_REJECTED: &str = "UploadUrlRejected";

/// Code of the permanent error of a [`find_feed`](FeedsPort::find_feed) that found more feeds
/// since `created_since` than it reads.
pub const TOO_MANY_FEEDS: &str = "TooManyFeeds";

/// Package status of a package that did not go (left out of the read-back).
const CANCELLED_PACKAGE: &str = "CANCELLED";

/// Longest S3 error code repeated in a message.
const MAX_S3_CODE: usize = 64;

/// The seller's client, or why it could not be built, named after the port call.
async fn seller_client(
    clients: &SellerClients,
    seller: &SellerId,
    operation: &'static str,
) -> Result<Arc<SpApiClient>, ApiError> {
    clients
        .client(seller)
        .await
        .map_err(|e| named(e, operation))
}

/// A failure to build the seller's client carries [`SELLER_CLIENT_OPERATION`]; the port call
/// that needed the client is what the workflow logs and counts.
fn named(error: ApiError, operation: &'static str) -> ApiError {
    match error {
        ApiError::Throttled {
            operation: SELLER_CLIENT_OPERATION,
            retry_after,
        } => ApiError::Throttled {
            operation,
            retry_after,
        },
        ApiError::Transient {
            operation: SELLER_CLIENT_OPERATION,
            message,
        } => ApiError::Transient { operation, message },
        ApiError::Permanent {
            operation: SELLER_CLIENT_OPERATION,
            code,
            message,
        } => ApiError::Permanent {
            operation,
            code,
            message,
        },
        other => other,
    }
}

/// The permanent error of an upload refused with HTTP 403.
fn upload_rejected(code: Option<String>, url_expired: bool) -> ApiError {
    // S3's <Code> comes from a response body: repeat it only when it looks like a code.
    let code = code.filter(|c| {
        !c.is_empty() && c.len() <= MAX_S3_CODE && c.chars().all(|ch| ch.is_ascii_alphanumeric())
    });
    let why = match (url_expired, code) {
        (true, _) => "URL expired".to_owned(),
        (false, Some(code)) => code,
        (false, None) => "no S3 error code".to_owned(),
    };
    ApiError::Permanent {
        operation: UPLOAD_OPERATION,
        code: UPLOAD_URL_REJECTED.to_owned(),
        message: format!(
            "presigned upload URL answered HTTP 403 ({why}); a new feed document is needed"
        ),
    }
}

#[async_trait]
impl FeedsPort for SellerClients {
    async fn create_feed_document(
        &self,
        seller: &SellerId,
        content_type: &str,
    ) -> Result<FeedUpload, ApiError> {
        self.call(seller, Operation::CreateFeedDocument, |client| async move {
            let document = client.feeds().create_feed_document(content_type).await?;
            Ok(FeedUpload {
                feed_document_id: document.feed_document_id,
                url: document.url.as_str().to_owned(),
            })
        })
        .await
    }

    async fn upload_feed_document(
        &self,
        seller: &SellerId,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), ApiError> {
        let client = seller_client(self, seller, UPLOAD_OPERATION).await?;
        let url = PresignedUrl::new(url);
        match client
            .feeds()
            .upload_feed_document(&url, content_type, Bytes::from(body))
            .await
        {
            Ok(()) => Ok(()),
            Err(SpApiError::DocumentHttp {
                status: 403,
                code,
                url_expired,
                ..
            }) => {
                tracing::warn!(
                    seller_id = %seller,
                    sp_operation = UPLOAD_OPERATION,
                    sp_status = 403,
                    url_expired,
                    "feed document upload refused; a new document is needed"
                );
                Err(upload_rejected(code, url_expired))
            }
            Err(e) => Err(port_error(UPLOAD_OPERATION, &e)),
        }
    }

    async fn create_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        marketplaces: &[MarketplaceId],
        feed_document_id: &str,
    ) -> Result<String, ApiError> {
        let spec = CreateFeedSpecification::new(
            feed_type,
            marketplaces.iter().map(MarketplaceId::as_str),
            feed_document_id,
        );
        // Only the usage plan differs; both are "createFeed" to Amazon.
        let operation = if feed_type == JSON_LISTINGS_FEED {
            Operation::CreateJsonListingsFeed
        } else {
            Operation::CreateFeed
        };
        let feed_id = self
            .call(seller, operation, |client| async move {
                client.feeds().create_feed(&spec).await
            })
            .await?;
        tracing::debug!(seller_id = %seller, feed_type, feed_id = %feed_id, "feed created");
        Ok(feed_id)
    }

    async fn get_feed(&self, seller: &SellerId, feed_id: &str) -> Result<FeedStatus, ApiError> {
        self.call(seller, Operation::GetFeed, |client| async move {
            let feed = client.feeds().get_feed(feed_id).await?;
            Ok(FeedStatus {
                processing_status: feed.processing_status,
                result_document_id: feed.result_feed_document_id,
            })
        })
        .await
    }

    async fn find_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        created_since: OffsetDateTime,
        created_until: OffsetDateTime,
    ) -> Result<Option<String>, ApiError> {
        // createdUntil is filtered here, not sent: Amazon refuses a createdUntil in the future
        // and the caller's bound may be ahead of Amazon's clock.
        let mut query = GetFeedsQuery::for_types([feed_type]);
        query.created_since = Some(created_since);
        query.page_size = Some(FIND_FEED_PAGE_SIZE);
        let search = self
            .call(seller, Operation::GetFeeds, |client| async move {
                let mut oldest: Option<Feed> = None;
                let mut page = client.feeds().get_feeds(&query).await?;
                let mut pages = 1;
                loop {
                    // Newest first: of feeds created at the same instant, the later one listed is
                    // the older, so it wins the tie.
                    for feed in page.feeds {
                        let candidate = feed.feed_type == feed_type
                            && feed.created_time >= created_since
                            && feed.created_time <= created_until
                            && oldest
                                .as_ref()
                                .is_none_or(|o| feed.created_time <= o.created_time);
                        if candidate {
                            oldest = Some(feed);
                        }
                    }
                    let Some(token) = page.next_token else {
                        return Ok(FeedSearch::Done {
                            feed_id: oldest.map(|f| f.feed_id),
                            pages,
                        });
                    };
                    if pages >= FIND_FEED_MAX_PAGES {
                        return Ok(FeedSearch::TooMany);
                    }
                    page = client
                        .feeds()
                        .get_feeds(&GetFeedsQuery::next_page(token))
                        .await?;
                    pages += 1;
                }
            })
            .await?;
        match search {
            FeedSearch::Done { feed_id, pages } => {
                tracing::debug!(
                    seller_id = %seller,
                    feed_type,
                    pages,
                    found = feed_id.is_some(),
                    "feeds searched"
                );
                Ok(feed_id)
            }
            FeedSearch::TooMany => {
                tracing::warn!(
                    seller_id = %seller,
                    feed_type,
                    pages = FIND_FEED_MAX_PAGES,
                    "too many feeds to search; none adopted"
                );
                Err(ApiError::Permanent {
                    operation: Operation::GetFeeds.name(),
                    code: TOO_MANY_FEEDS.to_owned(),
                    message: format!(
                        "more than {} feeds of type {feed_type} since {}; the oldest is out of reach",
                        FIND_FEED_MAX_PAGES * FIND_FEED_PAGE_SIZE,
                        created_since.format(&Rfc3339).unwrap_or_default()
                    ),
                })
            }
        }
    }

    async fn download_feed_document(
        &self,
        seller: &SellerId,
        feed_document_id: &str,
    ) -> Result<DownloadedDocument, ApiError> {
        self.call(seller, Operation::GetFeedDocument, |client| async move {
            let document = client.feeds().get_feed_document(feed_document_id).await?;
            match crate::seller_clients::download_raw(
                &client,
                &document.url,
                document.compression_algorithm,
            )
            .await
            {
                // The URL lives 5 minutes; a step that waited too long asks for a new one, once.
                Err(e) if e.is_document_url_expired() => {
                    tracing::info!(
                        sp_operation = Operation::GetFeedDocument.name(),
                        "presigned url expired; asking for a new one"
                    );
                    let fresh = client.feeds().get_feed_document(feed_document_id).await?;
                    crate::seller_clients::download_raw(
                        &client,
                        &fresh.url,
                        fresh.compression_algorithm,
                    )
                    .await
                }
                other => other,
            }
        })
        .await
    }
}

/// How a getFeeds search ended.
enum FeedSearch {
    /// Every page read.
    Done { feed_id: Option<String>, pages: u32 },
    /// More pages than [`FIND_FEED_MAX_PAGES`].
    TooMany,
}

#[async_trait]
impl PackagesPort for SellerClients {
    async fn search_packages(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        updated_after: OffsetDateTime,
        page_token: Option<&str>,
    ) -> Result<PackagesPage, ApiError> {
        let (orders, next_token, _) = self
            .search_updated(
                seller,
                marketplace,
                updated_after,
                page_token,
                &PACKAGES_INCLUDED_DATA,
                // Only merchant-fulfilled orders carry packages spsync sent.
                |query| query.fulfilled_by = vec![FulfilledBy::Merchant],
                shipments_seen_from_order,
            )
            .await?;
        Ok(PackagesPage { orders, next_token })
    }

    async fn get_packages(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<OrderShipmentsSeen>, ApiError> {
        self.get_order_as(
            seller,
            id,
            &PACKAGES_INCLUDED_DATA,
            shipments_seen_from_order,
        )
        .await
    }
}

/// What a v2026-01-01 order read with [`PACKAGES_INCLUDED_DATA`] shows of its shipments.
///
/// * Packages: every package but those whose `packageStatus.status` is `CANCELLED` (any case),
///   in Amazon's order; tracking number and carrier trimmed, `None` when absent or blank;
///   items as order-item id and quantity.
/// * Fully shipped: `fulfillment.fulfillmentStatus` is `SHIPPED` (false when the fulfilment
///   data set is absent).
///
/// ```
/// use spsync_spapi::orders::Order;
/// use spsync_spapi::seller_feeds::shipments_seen_from_order;
///
/// let order: Order = serde_json::from_value(serde_json::json!({
///     "orderId": "111-0000000-0000001",
///     "createdTime": "2026-11-02T09:15:00Z",
///     "lastUpdatedTime": "2026-11-02T12:00:00Z",
///     "salesChannel": {"channelName": "AMAZON"},
///     "orderItems": [{"orderItemId": "10000000000001", "quantityOrdered": 1, "product": {}}],
///     "fulfillment": {"fulfillmentStatus": "SHIPPED"},
///     "packages": [{
///         "packageReferenceId": "1",
///         "packageStatus": {"status": "SHIPPED"},
///         "carrier": "UPS",
///         "trackingNumber": "1Z999AA10123456784",
///         "packageItems": [{"orderItemId": "10000000000001", "quantity": 1}]
///     }]
/// }))
/// .unwrap();
///
/// let seen = shipments_seen_from_order(&order);
/// assert!(seen.fully_shipped);
/// assert_eq!(seen.packages[0].tracking_number.as_deref(), Some("1Z999AA10123456784"));
/// assert_eq!(seen.packages[0].items[0].quantity, 1);
/// ```
pub fn shipments_seen_from_order(order: &Order) -> OrderShipmentsSeen {
    OrderShipmentsSeen {
        amazon_order_id: AmazonOrderId::new(order.order_id.clone()),
        packages: order
            .packages
            .iter()
            .flatten()
            .filter(|p| !cancelled(p))
            .map(package_seen)
            .collect(),
        fully_shipped: order
            .fulfillment
            .as_ref()
            .is_some_and(|f| f.fulfillment_status == FulfillmentStatus::Shipped),
    }
}

fn cancelled(package: &OrderPackage) -> bool {
    package
        .package_status
        .as_ref()
        .is_some_and(|s| s.status.trim().eq_ignore_ascii_case(CANCELLED_PACKAGE))
}

fn package_seen(package: &OrderPackage) -> PackageSeen {
    PackageSeen {
        tracking_number: crate::seller_clients::present(&package.tracking_number),
        carrier: crate::seller_clients::present(&package.carrier),
        items: package
            .package_items
            .iter()
            .map(|item| ShipmentItem {
                order_item_id: item.order_item_id.clone(),
                quantity: item.quantity,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use serde_json::json;
    use spsync_domain::ProcessingStatus;
    use time::macros::datetime;

    use super::*;
    use crate::test_support::{Reply, TOKEN_PATH};

    const SELLER: &str = crate::seller_clients::tests::SELLER_A;
    const US: &str = "ATVPDKIKX0DER";
    const TSV: &str = "text/tab-separated-values; charset=UTF-8";
    const FEED_TYPE: &str = "POST_FLAT_FILE_FULFILLMENT_DATA";
    const DOCUMENTS_PATH: &str = "/feeds/2021-06-30/documents";
    const FEEDS_PATH: &str = "/feeds/2021-06-30/feeds";
    const FEED_PATH: &str = "/feeds/2021-06-30/feeds/50001";
    const RESULT_PATH: &str = "/feeds/2021-06-30/documents/RES-1";
    const SEARCH_PATH: &str = "/orders/2026-01-01/orders";
    const ORDER_PATH: &str = "/orders/2026-01-01/orders/111-0000000-0000001";

    /// The seller clients' own test harness: two registered sellers (this module uses the
    /// first), LWA answering on the mock, no in-process waits.
    use crate::seller_clients::tests::{Harness, harness};

    fn seller() -> SellerId {
        SellerId::new(SELLER)
    }

    fn query_map(h: &Harness, method: &str, path: &str, index: usize) -> HashMap<String, String> {
        h.mock.requests(method, path)[index]
            .query_pairs()
            .into_iter()
            .collect()
    }

    fn pairs(entries: &[(&str, &str)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn feed(id: &str, created: &str) -> serde_json::Value {
        json!({
            "feedId": id,
            "feedType": FEED_TYPE,
            "createdTime": created,
            "processingStatus": "IN_QUEUE"
        })
    }

    fn s3_error(code: &str, message: &str) -> Reply {
        s3_status(403, code, message)
    }

    fn s3_status(status: u16, code: &str, message: &str) -> Reply {
        Reply::bytes(
            status,
            Some("application/xml"),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            )
            .into_bytes(),
        )
    }

    #[tokio::test]
    async fn create_feed_document_declares_the_content_type_and_hands_back_the_upload_url() {
        let h = harness().await;
        let upload = h.mock.url("/upload/doc-1?X-Amz-Signature=sig").to_string();
        let served = upload.clone();
        h.mock.route("POST", DOCUMENTS_PATH, move |_, _| {
            Reply::json(201, json!({"feedDocumentId": "doc-1", "url": served}))
        });

        let got = h
            .clients
            .create_feed_document(&seller(), TSV)
            .await
            .unwrap();

        assert_eq!(
            got,
            FeedUpload {
                feed_document_id: "doc-1".into(),
                url: upload,
            }
        );
        let sent = &h.mock.requests("POST", DOCUMENTS_PATH)[0];
        assert_eq!(sent.json(), json!({"contentType": TSV}));
        // The harness's LWA answers `Atza|<refresh token>`, the refresh token being `Atzr|<seller>`.
        let token = format!("Atza|Atzr|{SELLER}");
        assert_eq!(sent.header("x-amz-access-token"), Some(token.as_str()));
    }

    #[tokio::test]
    async fn upload_puts_the_bytes_with_exactly_the_declared_content_type_and_no_token() {
        let h = harness().await;
        h.mock.route("PUT", "/upload/doc-1", |_, _| {
            Reply::bytes(200, None, Vec::new())
        });
        let url = h.mock.url("/upload/doc-1?X-Amz-Signature=sig").to_string();
        let body = b"order-id\torder-item-id\n111-0000000-0000001\t10000000000001\n".to_vec();

        h.clients
            .upload_feed_document(&seller(), &url, TSV, body.clone())
            .await
            .unwrap();

        let put = &h.mock.requests("PUT", "/upload/doc-1")[0];
        assert_eq!(put.header("content-type"), Some(TSV));
        assert_eq!(put.body.as_ref(), body.as_slice());
        assert_eq!(put.query.as_deref(), Some("X-Amz-Signature=sig"));
        assert_eq!(put.header("x-amz-access-token"), None);
        assert_eq!(
            h.mock.calls("POST", TOKEN_PATH),
            0,
            "no SP-API call, no token"
        );
    }

    #[tokio::test]
    async fn an_upload_refused_with_403_asks_for_a_new_document_without_retrying() {
        let h = harness().await;
        h.mock.route("PUT", "/expired", |_, _| {
            s3_error("AccessDenied", "Request has expired")
        });
        h.mock.route("PUT", "/signature", |_, _| {
            s3_error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
            )
        });
        h.mock
            .route("PUT", "/bare", |_, _| Reply::bytes(403, None, Vec::new()));
        let cases = [
            ("/expired", "URL expired"),
            ("/signature", "SignatureDoesNotMatch"),
            ("/bare", "no S3 error code"),
        ];

        for (path, why) in cases {
            let url = h.mock.url(&format!("{path}?X-Amz-Signature=secret-sig"));
            let err = h
                .clients
                .upload_feed_document(&seller(), url.as_str(), TSV, b"x".to_vec())
                .await
                .unwrap_err();

            match &err {
                ApiError::Permanent {
                    operation,
                    code,
                    message,
                } => {
                    assert_eq!(*operation, "uploadFeedDocument", "{path}");
                    assert_eq!(code, UPLOAD_URL_REJECTED, "{path}");
                    assert!(message.contains(why), "{path}: {message}");
                }
                other => panic!("{path}: {other:?}"),
            }
            assert!(!format!("{err} {err:?}").contains("secret-sig"));
            assert_eq!(h.mock.calls("PUT", path), 1, "{path}: the URL is dead");
        }
    }

    #[tokio::test]
    async fn an_upload_failing_with_5xx_is_transient_after_the_clients_retries() {
        let h = harness().await;
        h.mock.route("PUT", "/busy", |_, _| {
            s3_status(
                503,
                "ServiceUnavailable",
                "Please reduce your request rate.",
            )
        });
        let url = h.mock.url("/busy");

        let err = h
            .clients
            .upload_feed_document(&seller(), url.as_str(), TSV, b"x".to_vec())
            .await
            .unwrap_err();

        assert!(
            matches!(
                err,
                ApiError::Transient {
                    operation: "uploadFeedDocument",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(h.mock.calls("PUT", "/busy"), 3, "1 + 2 in-process retries");
    }

    #[tokio::test]
    async fn create_feed_sends_the_specification_and_returns_the_feed_id() {
        let h = harness().await;
        h.mock.route("POST", FEEDS_PATH, |_, _| {
            Reply::json(202, json!({"feedId": "50001"}))
        });

        let id = h
            .clients
            .create_feed(
                &seller(),
                FEED_TYPE,
                &[MarketplaceId::new(US), MarketplaceId::new("A2EUQ1WTGCTBG2")],
                "doc-1",
            )
            .await
            .unwrap();

        assert_eq!(id, "50001");
        assert_eq!(
            h.mock.requests("POST", FEEDS_PATH)[0].json(),
            json!({
                "feedType": FEED_TYPE,
                "marketplaceIds": [US, "A2EUQ1WTGCTBG2"],
                "inputFeedDocumentId": "doc-1"
            })
        );
    }

    #[tokio::test]
    async fn get_feed_gives_the_status_and_the_processing_report() {
        let h = harness().await;
        h.mock.route("GET", FEED_PATH, |_, n| {
            let mut body = feed("50001", "2026-11-01T10:00:00Z");
            if n > 0 {
                body["processingStatus"] = json!("DONE");
                body["resultFeedDocumentId"] = json!("RES-1");
            }
            Reply::json(200, body)
        });

        let queued = h.clients.get_feed(&seller(), "50001").await.unwrap();
        let done = h.clients.get_feed(&seller(), "50001").await.unwrap();

        assert_eq!(
            queued,
            FeedStatus {
                processing_status: ProcessingStatus::InQueue,
                result_document_id: None,
            }
        );
        assert_eq!(
            done,
            FeedStatus {
                processing_status: ProcessingStatus::Done,
                result_document_id: Some("RES-1".into()),
            }
        );
    }

    #[tokio::test]
    async fn find_feed_adopts_the_oldest_feed_since_the_time_across_pages() {
        let h = harness().await;
        h.mock.route("GET", FEEDS_PATH, |_, n| match n {
            0 => Reply::json(
                200,
                json!({
                    "feeds": [feed("50009", "2026-11-01T10:05:00Z"), feed("50008", "2026-11-01T10:02:00Z")],
                    "nextToken": "page-2"
                }),
            ),
            // Same instant: Amazon lists 50007 after 50006's twin, so it is the older one.
            _ => Reply::json(
                200,
                json!({"feeds": [
                    feed("50006", "2026-11-01T10:00:00Z"),
                    feed("50007", "2026-11-01T10:00:00Z"),
                    feed("50001", "2026-11-01T09:59:59Z")
                ]}),
            ),
        });

        let found = h
            .clients
            .find_feed(
                &seller(),
                FEED_TYPE,
                datetime!(2026-11-01 10:00 UTC),
                datetime!(2100-01-01 0:00 UTC),
            )
            .await
            .unwrap();

        assert_eq!(found.as_deref(), Some("50007"), "50001 is before the time");
        assert_eq!(
            query_map(&h, "GET", FEEDS_PATH, 0),
            pairs(&[
                ("feedTypes", FEED_TYPE),
                ("pageSize", "100"),
                ("createdSince", "2026-11-01T10:00:00Z"),
            ])
        );
        assert_eq!(
            query_map(&h, "GET", FEEDS_PATH, 1),
            pairs(&[("nextToken", "page-2")]),
            "the token alone"
        );
    }

    #[tokio::test]
    async fn find_feed_leaves_out_feeds_created_after_the_window() {
        let h = harness().await;
        h.mock.route("GET", FEEDS_PATH, |_, _| {
            Reply::json(
                200,
                json!({"feeds": [feed("50009", "2026-11-01T10:05:00Z"), feed("50008", "2026-11-01T10:02:00Z")]}),
            )
        });
        let seller = seller();
        let inside = h
            .clients
            .find_feed(
                &seller,
                FEED_TYPE,
                datetime!(2026-11-01 10:01 UTC),
                datetime!(2026-11-01 10:03 UTC),
            )
            .await
            .unwrap();
        let after = h
            .clients
            .find_feed(
                &seller,
                FEED_TYPE,
                datetime!(2026-11-01 10:03 UTC),
                datetime!(2026-11-01 10:04 UTC),
            )
            .await
            .unwrap();

        assert_eq!(inside.as_deref(), Some("50008"));
        assert_eq!(
            after, None,
            "a feed created after the window is someone else's"
        );
    }

    #[tokio::test]
    async fn find_feed_is_none_when_no_feed_was_created_since() {
        let h = harness().await;
        h.mock.route("GET", FEEDS_PATH, |_, _| {
            Reply::json(200, json!({"feeds": []}))
        });

        let found = h
            .clients
            .find_feed(
                &seller(),
                FEED_TYPE,
                datetime!(2026-11-01 10:00 UTC),
                datetime!(2100-01-01 0:00 UTC),
            )
            .await
            .unwrap();

        assert_eq!(found, None);
        assert_eq!(h.mock.calls("GET", FEEDS_PATH), 1);
    }

    #[tokio::test]
    async fn find_feed_reads_at_most_three_pages_and_then_refuses_to_guess() {
        let h = harness().await;
        h.mock.route("GET", FEEDS_PATH, |_, n| {
            Reply::json(
                200,
                json!({
                    "feeds": [feed(&format!("5000{n}"), "2026-11-01T10:00:00Z")],
                    "nextToken": format!("page-{}", n + 2)
                }),
            )
        });

        let err = h
            .clients
            .find_feed(
                &seller(),
                FEED_TYPE,
                datetime!(2026-11-01 10:00 UTC),
                datetime!(2100-01-01 0:00 UTC),
            )
            .await
            .unwrap_err();

        match err {
            ApiError::Permanent {
                operation, code, ..
            } => {
                assert_eq!(operation, "getFeeds");
                assert_eq!(code, TOO_MANY_FEEDS);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.mock.calls("GET", FEEDS_PATH), 3);
    }

    /// getFeedDocument answering document URLs on the mock, one per call, from `paths`.
    fn result_locations(h: &Harness, paths: &[&str], compression: Option<&str>) {
        let urls: Vec<String> = paths.iter().map(|p| h.mock.url(p).to_string()).collect();
        let compression = compression.map(str::to_owned);
        h.mock.route("GET", RESULT_PATH, move |_, n| {
            let mut body = json!({"feedDocumentId": "RES-1", "url": urls[n.min(urls.len() - 1)]});
            if let Some(c) = &compression {
                body["compressionAlgorithm"] = json!(c);
            }
            Reply::json(200, body)
        });
    }

    #[tokio::test]
    async fn the_processing_report_is_downloaded_raw_with_its_content_type_and_gzip_flag() {
        let h = harness().await;
        result_locations(&h, &["/docs/report"], Some("GZIP"));
        let raw = vec![0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02];
        let served = raw.clone();
        h.mock.route("GET", "/docs/report", move |_, _| {
            Reply::bytes(200, Some("text/plain; charset=UTF-8"), served.clone())
        });

        let document = h
            .clients
            .download_feed_document(&seller(), "RES-1")
            .await
            .unwrap();

        assert_eq!(
            document,
            DownloadedDocument {
                bytes: raw,
                content_type: Some("text/plain; charset=UTF-8".into()),
                gzip: true,
            }
        );
        let download = &h.mock.requests("GET", "/docs/report")[0];
        assert_eq!(download.header("x-amz-access-token"), None);
    }

    #[tokio::test]
    async fn a_report_served_with_content_encoding_gzip_is_flagged_gzip() {
        let h = harness().await;
        result_locations(&h, &["/docs/report"], None);
        h.mock.route("GET", "/docs/report", |_, _| {
            Reply::bytes(200, Some("text/plain"), b"zz".to_vec()).header("content-encoding", "gzip")
        });

        let document = h
            .clients
            .download_feed_document(&seller(), "RES-1")
            .await
            .unwrap();

        assert!(document.gzip);
        assert_eq!(document.bytes, b"zz");
    }

    #[tokio::test]
    async fn an_expired_report_url_is_asked_for_again_once() {
        let h = harness().await;
        result_locations(&h, &["/docs/old", "/docs/new"], None);
        h.mock.route("GET", "/docs/old", |_, _| {
            s3_error("AccessDenied", "Request has expired")
        });
        h.mock.route("GET", "/docs/new", |_, _| {
            Reply::bytes(
                200,
                Some("text/plain"),
                b"Feed Processing Summary:\n".to_vec(),
            )
        });

        let document = h
            .clients
            .download_feed_document(&seller(), "RES-1")
            .await
            .unwrap();

        assert_eq!(document.bytes, b"Feed Processing Summary:\n");
        assert_eq!(h.mock.calls("GET", RESULT_PATH), 2);
        assert_eq!(h.mock.calls("GET", "/docs/old"), 1);
    }

    #[tokio::test]
    async fn a_report_url_that_expires_twice_is_transient() {
        let h = harness().await;
        result_locations(&h, &["/docs/old"], None);
        h.mock.route("GET", "/docs/old", |_, _| {
            s3_error("AccessDenied", "Request has expired")
        });

        let err = h
            .clients
            .download_feed_document(&seller(), "RES-1")
            .await
            .unwrap_err();

        assert!(
            matches!(
                err,
                ApiError::Transient {
                    operation: "downloadDocument",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            h.mock.calls("GET", RESULT_PATH),
            2,
            "one fresh URL, no more"
        );
    }

    /// A v2026 order read with PACKAGES and FULFILLMENT (written for these tests from the
    /// model's field names): one shipped package, one cancelled, one without tracking.
    fn order_with_packages() -> serde_json::Value {
        json!({
            "orderId": "111-0000000-0000001",
            "createdTime": "2026-11-02T09:15:00Z",
            "lastUpdatedTime": "2026-11-02T12:40:00Z",
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": US},
            "fulfillment": {"fulfillmentStatus": "PARTIALLY_SHIPPED", "fulfilledBy": "MERCHANT"},
            "orderItems": [
                {"orderItemId": "10000000000001", "quantityOrdered": 2, "product": {"asin": "B0C7QX2M1A"}},
                {"orderItemId": "10000000000002", "quantityOrdered": 1, "product": {"asin": "B0CD4J2Q7V"}}
            ],
            "packages": [
                {
                    "packageReferenceId": "1",
                    "createdTime": "2026-11-02T12:00:00Z",
                    "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"},
                    "carrier": " UPS ",
                    "shipTime": "2026-11-02T11:30:00Z",
                    "shippingService": "UPS Ground",
                    "trackingNumber": "1Z999AA10123456784",
                    "packageItems": [{"orderItemId": "10000000000001", "quantity": 2}]
                },
                {
                    "packageReferenceId": "2",
                    "packageStatus": {"status": "Cancelled"},
                    "carrier": "USPS",
                    "trackingNumber": "9400111899223197428490",
                    "packageItems": [{"orderItemId": "10000000000002", "quantity": 1}]
                },
                {
                    "packageReferenceId": "3",
                    "carrier": "Other",
                    "trackingNumber": "  ",
                    "packageItems": [{"orderItemId": "10000000000002", "quantity": 1}]
                }
            ]
        })
    }

    fn seen_with_packages(fully_shipped: bool) -> OrderShipmentsSeen {
        OrderShipmentsSeen {
            amazon_order_id: AmazonOrderId::new("111-0000000-0000001"),
            packages: vec![
                PackageSeen {
                    tracking_number: Some("1Z999AA10123456784".into()),
                    carrier: Some("UPS".into()),
                    items: vec![ShipmentItem {
                        order_item_id: "10000000000001".into(),
                        quantity: 2,
                    }],
                },
                PackageSeen {
                    tracking_number: None,
                    carrier: Some("Other".into()),
                    items: vec![ShipmentItem {
                        order_item_id: "10000000000002".into(),
                        quantity: 1,
                    }],
                },
            ],
            fully_shipped,
        }
    }

    #[test]
    fn an_order_shows_its_packages_but_not_the_cancelled_ones() {
        let order: Order = serde_json::from_value(order_with_packages()).unwrap();

        assert_eq!(shipments_seen_from_order(&order), seen_with_packages(false));
    }

    #[test]
    fn only_a_shipped_fulfilment_status_means_fully_shipped() {
        let cases = [
            (Some("SHIPPED"), true),
            (Some("PARTIALLY_SHIPPED"), false),
            (Some("UNSHIPPED"), false),
            (Some("SOMETHING_NEW"), false),
            (None, false),
        ];
        for (status, expected) in cases {
            let mut value = order_with_packages();
            match status {
                Some(s) => value["fulfillment"]["fulfillmentStatus"] = json!(s),
                None => {
                    value.as_object_mut().unwrap().remove("fulfillment");
                }
            }
            let order: Order = serde_json::from_value(value).unwrap();

            assert_eq!(
                shipments_seen_from_order(&order).fully_shipped,
                expected,
                "{status:?}"
            );
        }
    }

    #[test]
    fn an_order_without_packages_shows_none() {
        let mut value = order_with_packages();
        value.as_object_mut().unwrap().remove("packages");
        let order: Order = serde_json::from_value(value).unwrap();

        assert!(shipments_seen_from_order(&order).packages.is_empty());
    }

    #[tokio::test]
    async fn search_packages_asks_for_packages_and_fulfilment_and_maps_the_page() {
        let h = harness().await;
        h.mock.route("GET", SEARCH_PATH, |_, _| {
            Reply::json(
                200,
                json!({
                    "orders": [order_with_packages()],
                    "pagination": {"nextToken": "page-3"},
                    "lastUpdatedBefore": "2026-11-02T12:58:00Z"
                }),
            )
        });

        let page = h
            .clients
            .search_packages(
                &seller(),
                &MarketplaceId::new(US),
                datetime!(2026-11-02 12:00 UTC),
                Some("page-2"),
            )
            .await
            .unwrap();

        assert_eq!(
            page,
            PackagesPage {
                orders: vec![seen_with_packages(false)],
                next_token: Some("page-3".into()),
            }
        );
        assert_eq!(
            query_map(&h, "GET", SEARCH_PATH, 0),
            pairs(&[
                ("lastUpdatedAfter", "2026-11-02T12:00:00Z"),
                ("marketplaceIds", US),
                ("fulfilledBy", "MERCHANT"),
                ("maxResultsPerPage", "100"),
                ("includedData", "PACKAGES,FULFILLMENT"),
                ("paginationToken", "page-2"),
            ])
        );
    }

    #[tokio::test]
    async fn get_packages_reads_one_order_and_a_404_is_none() {
        let h = harness().await;
        h.mock.route("GET", ORDER_PATH, |_, _| {
            let mut order = order_with_packages();
            order["fulfillment"]["fulfillmentStatus"] = json!("SHIPPED");
            Reply::json(200, json!({ "order": order }))
        });
        h.mock.route(
            "GET",
            "/orders/2026-01-01/orders/111-9999999-9999999",
            |_, _| Reply::amazon_error(404, "NotFound", "Order not found.", None),
        );

        let found = h
            .clients
            .get_packages(&seller(), &AmazonOrderId::new("111-0000000-0000001"))
            .await
            .unwrap();
        let unknown = h
            .clients
            .get_packages(&seller(), &AmazonOrderId::new("111-9999999-9999999"))
            .await
            .unwrap();

        assert_eq!(found, Some(seen_with_packages(true)));
        assert_eq!(unknown, None);
        assert_eq!(
            query_map(&h, "GET", ORDER_PATH, 0),
            pairs(&[("includedData", "PACKAGES,FULFILLMENT")])
        );
    }

    #[tokio::test]
    async fn a_429_on_create_feed_is_throttled_and_not_repeated() {
        let h = harness().await;
        h.mock.route("POST", FEEDS_PATH, |_, _| {
            Reply::amazon_error(
                429,
                "QuotaExceeded",
                "You exceeded your quota for the requested resource.",
                Some(""),
            )
        });

        let err = h
            .clients
            .create_feed(&seller(), FEED_TYPE, &[MarketplaceId::new(US)], "doc-1")
            .await
            .unwrap_err();

        match err {
            ApiError::Throttled {
                operation,
                retry_after,
            } => {
                assert_eq!(operation, "createFeed");
                assert!(retry_after >= Duration::from_secs(1), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.mock.calls("POST", FEEDS_PATH), 1);
    }

    #[tokio::test]
    async fn create_feed_beyond_its_burst_waits_for_the_usage_plan_without_calling_amazon() {
        let h = harness().await;
        h.mock.route("POST", FEEDS_PATH, |_, n| {
            Reply::json(202, json!({"feedId": format!("{}", 50_000 + n)}))
        });
        let us = [MarketplaceId::new(US)];

        for _ in 0..15 {
            h.clients
                .create_feed(&seller(), FEED_TYPE, &us, "doc-1")
                .await
                .unwrap();
        }
        let err = h
            .clients
            .create_feed(&seller(), FEED_TYPE, &us, "doc-1")
            .await
            .unwrap_err();

        match err {
            // 0.0083 per second: one token every 120 s, plus up to 10 % of jitter.
            ApiError::Throttled {
                operation,
                retry_after,
            } => {
                assert_eq!(operation, "createFeed");
                assert!(
                    retry_after > Duration::from_secs(100)
                        && retry_after <= Duration::from_secs(135),
                    "{retry_after:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.mock.calls("POST", FEEDS_PATH), 15, "burst of 15");
    }

    #[tokio::test]
    async fn an_unknown_seller_fails_under_the_name_of_the_port_call() {
        let h = harness().await;
        let nobody = SellerId::new("A9NOBODY");

        let created = h.clients.create_feed_document(&nobody, TSV).await;
        let uploaded = h
            .clients
            .upload_feed_document(&nobody, h.mock.url("/u").as_str(), TSV, Vec::new())
            .await;

        for (result, expected) in [
            (created.map(|_| ()), "createFeedDocument"),
            (uploaded, "uploadFeedDocument"),
        ] {
            match result {
                Err(ApiError::Permanent {
                    operation, code, ..
                }) => {
                    assert_eq!(operation, expected);
                    assert_eq!(code, "UnknownSeller");
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
        assert_eq!(h.mock.total_calls(), 0);
    }
}
