//! Ports: the capabilities the use cases need, as async traits. Adapters live elsewhere
//! (`spsync-aws` for DynamoDB/S3/SQS/Secrets Manager, `spsync-spapi` for Amazon,
//! `spsync-testkit` for in-memory fakes).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use spsync_domain::{
    AmazonOrderId, Enrichment, FeedJob, JobId, MarketplaceId, Order, OrderShipmentsSeen,
    OrderStatus, ProcessingStatus, ReportJob, SellerId, Shipment,
};
use time::OffsetDateTime;

use crate::error::{ApiError, QueueError, StoreError};
use crate::message::{JobKey, StepMessage};

/// The current time. Lambda uses the system clock; flows use a manual one.
pub trait Clock: Send + Sync {
    /// Now, UTC.
    fn now(&self) -> OffsetDateTime;
}

/// One seller account spsync works for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerAccount {
    /// Selling partner id.
    pub seller_id: SellerId,
    /// Marketplaces to import.
    pub marketplaces: Vec<MarketplaceId>,
    /// SP-API region: `na`, `eu` or `fe`.
    pub region: String,
    /// Where the seller's LWA credentials are (a Secrets Manager secret id or ARN).
    pub credentials_secret: String,
    /// Paused sellers are skipped by the schedules.
    pub enabled: bool,
}

/// The registry of sellers.
#[async_trait]
pub trait SellerDirectory: Send + Sync {
    /// Every registered seller (enabled or not).
    async fn sellers(&self) -> Result<Vec<SellerAccount>, StoreError>;
    /// One seller.
    async fn seller(&self, seller_id: &SellerId) -> Result<Option<SellerAccount>, StoreError>;
    /// Registers or replaces a seller.
    async fn put_seller(&self, account: &SellerAccount) -> Result<(), StoreError>;
}

/// Report jobs, the per-seller "active job" slot, and cursors.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Reads a job.
    async fn get_job(&self, key: &JobKey) -> Result<Option<ReportJob>, StoreError>;
    /// Writes a job. `expected_version: None` creates it (fails with `ConditionFailed` if it
    /// exists); `Some(v)` replaces it only if the stored version is `v`. The job is written
    /// as given: the caller has already set `job.version` to the new version.
    async fn put_job(
        &self,
        job: &ReportJob,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;
    /// The job holding the seller's slot for a report type, if any.
    async fn active_job(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
    ) -> Result<Option<JobId>, StoreError>;
    /// Points the slot at `job` if the slot is free (`previous: None`) or still holds
    /// `previous`; `ConditionFailed` otherwise.
    async fn claim_active(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError>;
    /// Frees the slot if it holds `job` (no error when it does not).
    async fn release_active(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
        job: &JobId,
    ) -> Result<(), StoreError>;
    /// The most recent jobs of a seller and marketplace, newest first.
    async fn recent_jobs(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        limit: usize,
    ) -> Result<Vec<ReportJob>, StoreError>;
    /// Reads a named cursor (e.g. the enrichment's lastUpdatedAfter).
    async fn get_cursor(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        name: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError>;
    /// Writes a named cursor.
    async fn put_cursor(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        name: &str,
        value: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// Orders.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Reads up to 100 orders of a seller; ids not stored are simply absent.
    async fn get_orders(
        &self,
        seller: &SellerId,
        ids: &[AmazonOrderId],
    ) -> Result<Vec<Order>, StoreError>;
    /// Reads one order.
    async fn get_order(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Order>, StoreError>;
    /// Writes an order. `expected_version: None` creates it (`ConditionFailed` if it
    /// exists); `Some(v)` replaces it only if the stored version is `v`. Written as given.
    async fn put_order(
        &self,
        order: &Order,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Orders of a seller in a status, by purchase date; `page` continues a listing.
    async fn orders_by_status(
        &self,
        seller: &SellerId,
        status: OrderStatus,
        page: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<String>), StoreError>;
}

/// How a stored document is encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    /// Content type Amazon served (names the charset).
    pub content_type: Option<String>,
    /// GZIP-compressed bytes.
    pub gzip: bool,
}

/// Raw documents (S3).
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores bytes under a key (overwrites: keys are deterministic, so a retry is harmless).
    async fn put_document(
        &self,
        key: &str,
        body: Vec<u8>,
        meta: &DocumentMeta,
    ) -> Result<(), StoreError>;
    /// Reads a document; `StoreError::NotFound` when absent.
    async fn get_document(&self, key: &str) -> Result<(Vec<u8>, DocumentMeta), StoreError>;
}

/// Sends step messages, possibly delayed.
#[async_trait]
pub trait StepQueue: Send + Sync {
    /// Sends `message` to its step's queue, visible after `delay` (the adapter clamps to
    /// the queue's maximum; see [`crate::send_step`] for longer waits).
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError>;
}

/// getReport's answer, as much as the workflow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportStatus {
    /// Processing status.
    pub processing_status: ProcessingStatus,
    /// Document id when DONE (or FATAL with an error document).
    pub report_document_id: Option<String>,
}

/// A downloaded report document, raw as Amazon served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedDocument {
    /// Raw bytes (still compressed when `gzip`).
    pub bytes: Vec<u8>,
    /// Content type of the download (names the charset).
    pub content_type: Option<String>,
    /// GZIP-compressed (compressionAlgorithm or Content-Encoding).
    pub gzip: bool,
}

/// Reports API (per seller: the adapter picks the seller's credentials and limiter).
#[async_trait]
pub trait ReportsApi: Send + Sync {
    /// createReport; returns the report id.
    async fn create_report(
        &self,
        seller: &SellerId,
        report_type: &str,
        marketplace: &MarketplaceId,
        data_start: OffsetDateTime,
        data_end: OffsetDateTime,
    ) -> Result<String, ApiError>;
    /// getReport.
    async fn get_report(
        &self,
        seller: &SellerId,
        report_id: &str,
    ) -> Result<ReportStatus, ApiError>;
    /// cancelReport (only IN_QUEUE reports can be cancelled at Amazon).
    async fn cancel_report(&self, seller: &SellerId, report_id: &str) -> Result<(), ApiError>;
    /// getReports: the newest report of this type and marketplace created at or after
    /// `created_since`, if any. Used to adopt a report whose createReport answer was lost.
    /// The default (for fakes that cannot search) finds nothing.
    async fn find_report(
        &self,
        seller: &SellerId,
        report_type: &str,
        marketplace: &MarketplaceId,
        created_since: OffsetDateTime,
    ) -> Result<Option<String>, ApiError> {
        let _ = (seller, report_type, marketplace, created_since);
        Ok(None)
    }
    /// getReportDocument and the download of its presigned URL, raw.
    async fn download_report_document(
        &self,
        seller: &SellerId,
        report_document_id: &str,
    ) -> Result<DownloadedDocument, ApiError>;
}

/// One page of searchOrders, turned into enrichment data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSearchPage {
    /// Orders on the page.
    pub orders: Vec<Enrichment>,
    /// Next page, if any.
    pub next_token: Option<String>,
    /// Amazon's own upper bound of the search (the next pass starts there).
    pub last_updated_before: Option<OffsetDateTime>,
}

/// Orders API v2026-01-01.
#[async_trait]
pub trait OrdersApi: Send + Sync {
    /// searchOrders with includedData (buyer, recipient, items), 100 a page, orders updated
    /// after `updated_after` in one marketplace; `page_token` continues a pass.
    async fn search_updated_orders(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        updated_after: OffsetDateTime,
        page_token: Option<&str>,
    ) -> Result<OrderSearchPage, ApiError>;
    /// getOrder with includedData; `None` when Amazon does not know the order.
    async fn get_order(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Enrichment>, ApiError>;
}

/// A seller's Login-with-Amazon credentials, as stored in their secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LwaSecret {
    /// LWA client id.
    pub client_id: String,
    /// LWA client secret.
    pub client_secret: String,
    /// The seller's refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for LwaSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LwaSecret")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Reads sellers' LWA credentials (Secrets Manager).
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The credentials in a secret (id or ARN).
    async fn lwa_secret(&self, secret_id: &str) -> Result<LwaSecret, StoreError>;
}

/// Recorded shipments (issue 4).
#[async_trait]
pub trait ShipmentStore: Send + Sync {
    /// Reads one shipment.
    async fn get_shipment(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        shipment_id: &str,
    ) -> Result<Option<Shipment>, StoreError>;
    /// Every shipment of an order, by shipment id.
    async fn shipments_of_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Vec<Shipment>, StoreError>;
    /// Writes a shipment. `expected_version: None` creates it (`ConditionFailed` if it
    /// exists); `Some(v)` replaces it only if the stored version is `v`. Written as given:
    /// the caller has already set `shipment.version` to the new version.
    async fn put_shipment(
        &self,
        shipment: &Shipment,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Shipments of a seller in a state ([`spsync_domain::ShipmentState::name`]), oldest revision first;
    /// `page` continues a listing.
    async fn shipments_in_state(
        &self,
        seller: &SellerId,
        state: &str,
        page: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Shipment>, Option<String>), StoreError>;
}

/// Fulfilment feed jobs and the per-seller "live feed" slot (issue 4).
#[async_trait]
pub trait FeedJobStore: Send + Sync {
    /// Reads a feed job.
    async fn get_feed_job(
        &self,
        seller: &SellerId,
        job: &JobId,
    ) -> Result<Option<FeedJob>, StoreError>;
    /// Writes a feed job (`None` creates, `Some(v)` replaces version `v`; written as given).
    async fn put_feed_job(
        &self,
        job: &FeedJob,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;
    /// The job holding the seller's live-feed slot for a feed type, if any.
    async fn live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
    ) -> Result<Option<JobId>, StoreError>;
    /// Points the slot at `job` if free (`previous: None`) or still holding `previous`;
    /// `ConditionFailed` otherwise.
    async fn claim_live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError>;
    /// Frees the slot if it holds `job` (no error when it does not).
    async fn release_live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        job: &JobId,
    ) -> Result<(), StoreError>;
    /// The seller's most recent feed jobs, newest first.
    async fn recent_feed_jobs(
        &self,
        seller: &SellerId,
        limit: usize,
    ) -> Result<Vec<FeedJob>, StoreError>;
}

/// getFeed's answer, as much as the workflow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// Processing status.
    pub processing_status: ProcessingStatus,
    /// The processing report's document id (DONE, and often FATAL).
    pub result_document_id: Option<String>,
}

/// createFeedDocument's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUpload {
    /// Amazon's document id.
    pub feed_document_id: String,
    /// Presigned PUT URL (5 minutes).
    pub url: String,
}

/// Feeds API (per seller: the adapter picks the seller's credentials and limiter).
#[async_trait]
pub trait FeedsApi: Send + Sync {
    /// createFeedDocument for `content_type`.
    async fn create_feed_document(
        &self,
        seller: &SellerId,
        content_type: &str,
    ) -> Result<FeedUpload, ApiError>;
    /// PUT of the bytes to the presigned URL (not an SP-API call; no usage plan).
    async fn upload_feed_document(
        &self,
        seller: &SellerId,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), ApiError>;
    /// createFeed; returns the feed id.
    async fn create_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        marketplaces: &[MarketplaceId],
        feed_document_id: &str,
    ) -> Result<String, ApiError>;
    /// getFeed.
    async fn get_feed(&self, seller: &SellerId, feed_id: &str) -> Result<FeedStatus, ApiError>;
    /// getFeeds: the oldest feed of this type created from `created_since` to `created_until`
    /// (both inclusive), if any. Used to adopt a feed whose createFeed answer was lost.
    async fn find_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        created_since: OffsetDateTime,
        created_until: OffsetDateTime,
    ) -> Result<Option<String>, ApiError>;
    /// getFeedDocument and the download of its presigned URL, raw.
    async fn download_feed_document(
        &self,
        seller: &SellerId,
        feed_document_id: &str,
    ) -> Result<DownloadedDocument, ApiError>;
}

/// One page of the closed-loop read-back (searchOrders with includedData PACKAGES and
/// FULFILLMENT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagesPage {
    /// Orders on the page.
    pub orders: Vec<OrderShipmentsSeen>,
    /// Next page, if any.
    pub next_token: Option<String>,
}

/// The Orders API calls the closed loop needs (issue 4).
#[async_trait]
pub trait PackagesApi: Send + Sync {
    /// searchOrders over orders updated after `updated_after` in one marketplace, with
    /// includedData PACKAGES and FULFILLMENT, 100 a page.
    async fn search_packages(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        updated_after: OffsetDateTime,
        page_token: Option<&str>,
    ) -> Result<PackagesPage, ApiError>;
    /// getOrder with includedData PACKAGES and FULFILLMENT; `None` when Amazon does not know
    /// the order.
    async fn get_packages(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<OrderShipmentsSeen>, ApiError>;
}
