//! Ports: the capabilities the use cases need, as async traits. Adapters live elsewhere
//! (`spsync-aws` for DynamoDB/S3/SQS/Secrets Manager, `spsync-spapi` for Amazon,
//! `spsync-testkit` for in-memory fakes).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use spsync_domain::{
    AmazonOrderId, Enrichment, JobId, MarketplaceId, Order, OrderStatus, ProcessingStatus,
    ReportJob, SellerId,
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
