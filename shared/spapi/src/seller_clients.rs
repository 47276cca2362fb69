//! [`SellerClients`]: the SP-API adapter of the workflow's [`ReportsPort`] and [`OrdersPort`].
//!
//! The ports speak per seller; this adapter turns a seller id into that seller's
//! [`SpApiClient`]: it looks the seller up in the [`SellerDirectory`], reads the LWA secret
//! through the [`CredentialStore`], picks Amazon's regional endpoint (or the override, e.g. the
//! simulator's), and keeps the client for the life of the container, so the access-token
//! cache and the usage-plan buckets survive between invocations (see the crate docs). All
//! sellers' clients pace themselves with one shared [`Limiter`], keyed by seller and LWA
//! application, so a client rebuilt after a secret rotation keeps what Amazon's 429s taught.
//!
//! Every client error crosses the port through one function, [`port_error`]: the client's
//! [`SpApiError::retryability`] decides `Throttled { retry_after }`, `Transient` or
//! `Permanent { code }`; messages never carry URLs, tokens or PII.
//!
//! Enrichment reads Orders API v2026-01-01 with [`ENRICHMENT_INCLUDED_DATA`] (buyer, recipient,
//! fulfilment; items are always part of an order) and maps each order with
//! [`enrichment_from_order`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use spsync_domain::{
    Address, AmazonOrderId, AmazonOrderStatus, Buyer, EnrichedItem, Enrichment, MarketplaceId,
    SellerId,
};
use spsync_workflow::{
    ApiError, CredentialStore, DownloadedDocument, OrderSearchPage, OrdersApi as OrdersPort,
    ReportStatus, ReportsApi as ReportsPort, Retryability as PortRetryability, SellerDirectory,
    StoreError,
};
use time::OffsetDateTime;
use url::Url;

use crate::SpApiClient;
use crate::config::{LwaCredentials, SpApiConfig};
use crate::documents::{CompressionAlgorithm, DOWNLOAD_OPERATION, PresignedUrl};
use crate::error::{Retryability, SpApiError};
use crate::limits::{Limiter, Operation};
use crate::orders::{
    DeliveryAddress, FulfillmentStatus, IncludedData, Order, OrderTimeFilter, SearchOrdersQuery,
};
use crate::reports::CreateReportSpecification;
use crate::retry::transport_kind;

/// The data sets searchOrders and getOrder ask for when enriching: `BUYER` (name, e-mail),
/// `RECIPIENT` (delivery address and phone) and `FULFILLMENT` (the status word). Order items
/// (order-item id, SKU, ASIN, quantity) are part of every order without asking.
pub const ENRICHMENT_INCLUDED_DATA: [IncludedData; 3] = [
    IncludedData::Buyer,
    IncludedData::Recipient,
    IncludedData::Fulfillment,
];

/// searchOrders page size (enrichment and the read-back): Amazon's maximum.
pub const SEARCH_PAGE_SIZE: u32 = 100;

/// Pseudo-operation of errors raised while building a seller's client outside any SP-API call
/// (from [`SellerClients::client`]).
pub const SELLER_CLIENT_OPERATION: &str = "sellerClient";

/// LWA error codes that mean the seller's stored credentials are wrong or revoked: the cached
/// client is dropped so that a rotated secret is read on the next call.
const REJECTED_CREDENTIAL_CODES: &[&str] =
    &["invalid_client", "invalid_grant", "unauthorized_client"];

/// Longest message an [`ApiError`] carries.
const MAX_MESSAGE: usize = 300;

/// Amazon's SP-API host for a seller's region (`na`, `eu`, `fe`, any case), as listed on
/// "SP-API Endpoints"; `None` for anything else.
///
/// ```
/// use spsync_spapi::seller_clients::regional_endpoint;
///
/// assert_eq!(regional_endpoint("eu"), Some("https://sellingpartnerapi-eu.amazon.com"));
/// assert_eq!(regional_endpoint("mars"), None);
/// ```
pub fn regional_endpoint(region: &str) -> Option<&'static str> {
    match region.trim().to_ascii_lowercase().as_str() {
        "na" => Some("https://sellingpartnerapi-na.amazon.com"),
        "eu" => Some("https://sellingpartnerapi-eu.amazon.com"),
        "fe" => Some("https://sellingpartnerapi-fe.amazon.com"),
        _ => None,
    }
}

/// Endpoints that replace Amazon's for every seller (the simulator's, in tests and the local
/// stack). `None` keeps Amazon's: the seller's regional SP-API host and
/// [`DEFAULT_LWA_ENDPOINT`](crate::config::DEFAULT_LWA_ENDPOINT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    /// SP-API base URL (`SPAPI_ENDPOINT`).
    pub spapi: Option<Url>,
    /// LWA token URL (`LWA_ENDPOINT`).
    pub lwa: Option<Url>,
}

type ConfigHook = Arc<dyn Fn(&mut SpApiConfig) + Send + Sync>;

/// One seller's slot: its client once built. The async lock makes concurrent first calls of
/// one seller build one client (one secret read, one token exchange) without holding up
/// other sellers.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<SpApiClient>>>>;

/// The SP-API adapter of [`ReportsPort`] and [`OrdersPort`]: one [`SpApiClient`] per seller,
/// built on first use and kept for the life of the container.
///
/// ```no_run
/// use std::sync::Arc;
/// use spsync_spapi::seller_clients::{EndpointOverrides, SellerClients};
/// use spsync_workflow::{CredentialStore, SellerDirectory};
///
/// fn wire(sellers: Arc<dyn SellerDirectory>, secrets: Arc<dyn CredentialStore>) -> SellerClients {
///     // Amazon's endpoints; tests and the local stack override both with the simulator's.
///     SellerClients::new(sellers, secrets, EndpointOverrides::default())
/// }
/// ```
pub struct SellerClients {
    sellers: Arc<dyn SellerDirectory>,
    credentials: Arc<dyn CredentialStore>,
    overrides: EndpointOverrides,
    config_hook: Option<ConfigHook>,
    limiter: Arc<Limiter>,
    slots: Mutex<HashMap<SellerId, Slot>>,
}

impl fmt::Debug for SellerClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sellers = self.slots.lock().map(|s| s.len()).unwrap_or_default();
        f.debug_struct("SellerClients")
            .field("overrides", &self.overrides)
            .field("sellers", &sellers)
            .finish_non_exhaustive()
    }
}

impl SellerClients {
    /// An adapter reading sellers from `sellers` and their LWA secrets from `credentials`.
    pub fn new(
        sellers: Arc<dyn SellerDirectory>,
        credentials: Arc<dyn CredentialStore>,
        overrides: EndpointOverrides,
    ) -> Self {
        Self {
            sellers,
            credentials,
            overrides,
            config_hook: None,
            limiter: Arc::new(Limiter::new()),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Adjusts every seller's [`SpApiConfig`] before its client is built (tests set
    /// `max_in_process_wait` to zero and pin `jitter_seed`). Runs last, so it may change
    /// anything, endpoints included.
    pub fn with_config_hook(
        mut self,
        hook: impl Fn(&mut SpApiConfig) + Send + Sync + 'static,
    ) -> Self {
        self.config_hook = Some(Arc::new(hook));
        self
    }

    /// The seller's client, built on first use (for calls the ports do not cover).
    pub async fn client(&self, seller: &SellerId) -> Result<Arc<SpApiClient>, ApiError> {
        self.client_for(seller, SELLER_CLIENT_OPERATION).await
    }

    fn slot(&self, seller: &SellerId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(seller.clone()).or_default().clone()
    }

    async fn client_for(
        &self,
        seller: &SellerId,
        operation: &'static str,
    ) -> Result<Arc<SpApiClient>, ApiError> {
        let slot = self.slot(seller);
        let mut held = slot.lock().await;
        if let Some(client) = held.as_ref() {
            return Ok(client.clone());
        }
        let client = Arc::new(self.build(seller, operation).await?);
        *held = Some(client.clone());
        Ok(client)
    }

    /// Drops the seller's cached client if it is still `client` (a client built meanwhile by
    /// another call, with fresher credentials, stays).
    async fn forget(&self, seller: &SellerId, client: &Arc<SpApiClient>) {
        let slot = self.slot(seller);
        let mut held = slot.lock().await;
        if held.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
            *held = None;
        }
    }

    async fn build(
        &self,
        seller: &SellerId,
        operation: &'static str,
    ) -> Result<SpApiClient, ApiError> {
        let account = self
            .sellers
            .seller(seller)
            .await
            .map_err(|e| store_error(operation, "seller directory unreadable", &e))?
            .ok_or_else(|| ApiError::Permanent {
                operation,
                code: "UnknownSeller".into(),
                message: format!("seller {seller} is not registered"),
            })?;
        let endpoint = match &self.overrides.spapi {
            Some(url) => url.clone(),
            None => regional_endpoint(&account.region)
                .and_then(|u| Url::parse(u).ok())
                .ok_or_else(|| ApiError::Permanent {
                    operation,
                    code: "UnknownRegion".into(),
                    message: format!(
                        "seller {seller}: region {:?} is not na, eu or fe",
                        account.region
                    ),
                })?,
        };
        let secret = self
            .credentials
            .lwa_secret(&account.credentials_secret)
            .await
            .map_err(|e| store_error(operation, "LWA credentials unreadable", &e))?;
        let credentials =
            LwaCredentials::new(secret.client_id, secret.client_secret, secret.refresh_token);
        // Amazon meters per selling partner and application: one set of buckets per pair.
        let account_key = format!("{seller}/{}", credentials.client_id);
        let mut config =
            SpApiConfig::new(endpoint, credentials).map_err(|e| port_error(operation, &e))?;
        if let Some(lwa) = &self.overrides.lwa {
            config.lwa_endpoint = lwa.clone();
        }
        config.account_key = Some(account_key);
        if let Some(hook) = &self.config_hook {
            hook(&mut config);
        }
        let client = SpApiClient::with_limiter(config, self.limiter.clone())
            .map_err(|e| port_error(operation, &e))?;
        tracing::debug!(
            seller_id = %seller,
            region = %account.region,
            "sp-api client created"
        );
        Ok(client)
    }

    /// searchOrders over orders updated after `updated_after` in one marketplace, 100 a page,
    /// with `included` data, `adjust` setting anything else (filters); each order mapped.
    /// Returns the mapped orders, the next page token and Amazon's lastUpdatedBefore.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn search_updated<T>(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        updated_after: OffsetDateTime,
        page_token: Option<&str>,
        included: &[IncludedData],
        adjust: impl FnOnce(&mut SearchOrdersQuery),
        map: fn(&Order) -> T,
    ) -> Result<(Vec<T>, Option<String>, Option<OffsetDateTime>), ApiError> {
        let mut query = SearchOrdersQuery::new(
            OrderTimeFilter::LastUpdated {
                after: updated_after,
                before: None,
            },
            [marketplace.as_str()],
        );
        query.max_results_per_page = Some(SEARCH_PAGE_SIZE);
        query.included_data = included.to_vec();
        query.pagination_token = page_token.map(str::to_owned);
        adjust(&mut query);
        self.call(seller, Operation::SearchOrders, |client| async move {
            let page = client.orders().search_orders(&query).await?;
            Ok((
                page.orders.iter().map(map).collect(),
                page.next_token().map(str::to_owned),
                page.last_updated_before,
            ))
        })
        .await
    }

    /// getOrder with `included` data, mapped; `None` when Amazon does not know the order.
    pub(crate) async fn get_order_as<T>(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
        included: &[IncludedData],
        map: fn(&Order) -> T,
    ) -> Result<Option<T>, ApiError> {
        self.call(seller, Operation::GetOrder, |client| async move {
            match client.orders().get_order(id.as_str(), included).await {
                Ok(order) => Ok(Some(map(&order))),
                Err(SpApiError::Api { status: 404, .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Runs `call` with the seller's client and maps its error; a client whose credentials
    /// LWA rejected is dropped first.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        seller: &SellerId,
        operation: Operation,
        call: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce(Arc<SpApiClient>) -> Fut,
        Fut: Future<Output = Result<T, SpApiError>>,
    {
        let name = operation.name();
        let client = self.client_for(seller, name).await?;
        match call(client.clone()).await {
            Ok(value) => Ok(value),
            Err(error) => {
                if credentials_rejected(&error) {
                    tracing::warn!(
                        seller_id = %seller,
                        sp_operation = name,
                        "lwa credentials rejected; seller client dropped"
                    );
                    self.forget(seller, &client).await;
                }
                Err(port_error(name, &error))
            }
        }
    }
}

/// True when LWA refused the seller's stored credentials (not a passing outage).
fn credentials_rejected(error: &SpApiError) -> bool {
    matches!(
        error,
        SpApiError::Auth { code: Some(code), .. } if REJECTED_CREDENTIAL_CODES.contains(&code.as_str())
    )
}

/// A store failure met while preparing a client, in the class the store gave it.
fn store_error(operation: &'static str, what: &str, error: &StoreError) -> ApiError {
    tracing::warn!(
        sp_operation = operation,
        class = error_class(error.retryability()),
        error = %error,
        what,
        "seller client not built"
    );
    match error.retryability() {
        PortRetryability::Throttled { retry_after } => ApiError::Throttled {
            operation,
            retry_after,
        },
        PortRetryability::Transient => ApiError::Transient {
            operation,
            message: what.to_owned(),
        },
        PortRetryability::Permanent => ApiError::Permanent {
            operation,
            code: "CredentialsUnavailable".into(),
            message: what.to_owned(),
        },
    }
}

fn error_class(retryability: PortRetryability) -> &'static str {
    match retryability {
        PortRetryability::Throttled { .. } => "Throttled",
        PortRetryability::Transient => "Transient",
        PortRetryability::Permanent => "Permanent",
    }
}

/// The one mapping of a client error onto the ports' [`ApiError`], by
/// [`SpApiError::retryability`]: `Throttled { retry_after }` (at least 1 s), `Transient`, or
/// `Permanent` with Amazon's error code (else the HTTP status, the LWA or S3 code, or the
/// client's own kind of failure) and Amazon's message.
///
/// `operation` names the port call; the failing sub-call (e.g. `lwaToken`,
/// `downloadDocument`) wins when the error knows it. Messages never carry URLs, tokens, or a
/// body that is not Amazon's error list (it could echo anything).
pub fn port_error(operation: &'static str, error: &SpApiError) -> ApiError {
    let operation = error.operation().unwrap_or(operation);
    match error.retryability() {
        Retryability::Throttled { retry_after } => ApiError::Throttled {
            operation,
            retry_after: retry_after.max(crate::error::MIN_RETRY_AFTER),
        },
        Retryability::Transient => ApiError::Transient {
            operation,
            message: describe(error),
        },
        Retryability::Permanent => ApiError::Permanent {
            operation,
            code: error_code(error),
            message: describe(error),
        },
    }
}

/// The code of a permanent failure: Amazon's error code, else what identifies it best.
fn error_code(error: &SpApiError) -> String {
    match error {
        SpApiError::Api { status, code, .. } => {
            if code.trim().is_empty() {
                status.to_string()
            } else {
                code.clone()
            }
        }
        SpApiError::Auth { status, code, .. } => match (code, status) {
            (Some(code), _) => code.clone(),
            (None, Some(status)) => status.to_string(),
            (None, None) => "LwaUnavailable".into(),
        },
        SpApiError::DocumentHttp { status, code, .. } => {
            code.clone().unwrap_or_else(|| status.to_string())
        }
        SpApiError::Throttled { .. } => "QuotaExceeded".into(),
        SpApiError::Transport { .. } => "Transport".into(),
        SpApiError::Decode { .. } => "Decode".into(),
        SpApiError::IncompleteBody { .. } => "IncompleteBody".into(),
        SpApiError::InvalidDocument { .. } => "InvalidDocument".into(),
        SpApiError::Io { .. } => "Io".into(),
        SpApiError::InvalidRequest { .. } => "InvalidRequest".into(),
        SpApiError::Config(_) => "Config".into(),
    }
}

/// What happened, without the operation name (the [`ApiError`] prints it), URLs or secrets.
fn describe(error: &SpApiError) -> String {
    let text = match error {
        SpApiError::Api {
            status,
            code,
            message,
            ..
        } => {
            // Without a code the body was not Amazon's error list: say only the status.
            if code.trim().is_empty() || message.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {message}")
            }
        }
        SpApiError::Throttled { retry_after, .. } => format!("throttled for {retry_after:?}"),
        SpApiError::Transport { source, .. } => {
            format!("transport error ({})", transport_kind(source))
        }
        SpApiError::Decode { .. } => "response body did not match the model".into(),
        SpApiError::Auth {
            status,
            code,
            description,
        } => {
            let status =
                status.map_or_else(|| "no HTTP answer".to_owned(), |s| format!("HTTP {s}"));
            match code {
                Some(code) => {
                    format!("LWA token exchange failed ({status}, {code}): {description}")
                }
                None => format!("LWA token exchange failed ({status})"),
            }
        }
        SpApiError::DocumentHttp {
            status,
            url_expired,
            ..
        } => {
            let expired = if *url_expired { " (URL expired)" } else { "" };
            format!("presigned URL answered HTTP {status}{expired}")
        }
        SpApiError::IncompleteBody {
            expected, received, ..
        } => format!("document body ended after {received} of {expected} bytes"),
        SpApiError::InvalidDocument { reason, .. } => format!("invalid document: {reason}"),
        SpApiError::Io { .. } => "document I/O failed".into(),
        SpApiError::InvalidRequest { reason, .. } => format!("invalid request: {reason}"),
        SpApiError::Config(reason) => format!("client configuration: {reason}"),
    };
    scrub(&text)
}

/// Replaces anything URL-like with `<url>` and bounds the length.
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE));
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_ascii_lowercase();
        if lower.contains("://") || lower.starts_with("www.") {
            out.push_str("<url>");
        } else {
            out.push_str(word);
        }
    }
    match out.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}...", &out[..cut]),
        None => out,
    }
}

#[async_trait]
impl ReportsPort for SellerClients {
    async fn create_report(
        &self,
        seller: &SellerId,
        report_type: &str,
        marketplace: &MarketplaceId,
        data_start: OffsetDateTime,
        data_end: OffsetDateTime,
    ) -> Result<String, ApiError> {
        let spec = CreateReportSpecification::new(report_type, [marketplace.as_str()])
            .with_data_window(data_start, data_end);
        self.call(seller, Operation::CreateReport, |client| async move {
            client.reports().create_report(&spec).await
        })
        .await
    }

    async fn get_report(
        &self,
        seller: &SellerId,
        report_id: &str,
    ) -> Result<ReportStatus, ApiError> {
        self.call(seller, Operation::GetReport, |client| async move {
            let report = client.reports().get_report(report_id).await?;
            Ok(ReportStatus {
                processing_status: report.processing_status,
                report_document_id: report.report_document_id,
            })
        })
        .await
    }

    async fn cancel_report(&self, seller: &SellerId, report_id: &str) -> Result<(), ApiError> {
        self.call(seller, Operation::CancelReport, |client| async move {
            client.reports().cancel_report(report_id).await
        })
        .await
    }

    async fn find_report(
        &self,
        seller: &SellerId,
        report_type: &str,
        marketplace: &MarketplaceId,
        created_since: OffsetDateTime,
    ) -> Result<Option<String>, ApiError> {
        let mut query = crate::reports::GetReportsQuery::for_types([report_type]);
        query.marketplace_ids = vec![marketplace.to_string()];
        query.created_since = Some(created_since);
        self.call(seller, Operation::GetReports, |client| async move {
            let page = client.reports().get_reports(&query).await?;
            Ok(page
                .reports
                .into_iter()
                .filter(|r| r.created_time >= created_since)
                .max_by_key(|r| r.created_time)
                .map(|r| r.report_id))
        })
        .await
    }

    async fn download_report_document(
        &self,
        seller: &SellerId,
        report_document_id: &str,
    ) -> Result<DownloadedDocument, ApiError> {
        self.call(seller, Operation::GetReportDocument, |client| async move {
            let document = client
                .reports()
                .get_report_document(report_document_id)
                .await?;
            match download_raw(&client, &document.url, document.compression_algorithm).await {
                // The URL lives 5 minutes; a step that waited too long asks for a new one, once.
                Err(e) if e.is_document_url_expired() => {
                    tracing::info!(
                        sp_operation = Operation::GetReportDocument.name(),
                        "presigned url expired; asking for a new one"
                    );
                    let fresh = client
                        .reports()
                        .get_report_document(report_document_id)
                        .await?;
                    download_raw(&client, &fresh.url, fresh.compression_algorithm).await
                }
                other => other,
            }
        })
        .await
    }
}

/// Downloads a report or feed document byte for byte (still compressed, still in its charset:
/// the raw bytes are what S3 keeps). `compression` is the document's `compressionAlgorithm`.
pub(crate) async fn download_raw(
    client: &SpApiClient,
    url: &PresignedUrl,
    compression: Option<CompressionAlgorithm>,
) -> Result<DownloadedDocument, SpApiError> {
    let mut stream = client.documents().open(url).await?;
    // Content-Length is the server's claim; cap the up-front allocation.
    let capacity = stream
        .content_length()
        .map_or(0, |n| n.min(64 * 1024 * 1024) as usize);
    let mut bytes = Vec::with_capacity(capacity);
    while let Some(chunk) = stream.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    if let Some(expected) = stream.content_length()
        && expected != stream.bytes_read()
    {
        return Err(SpApiError::IncompleteBody {
            operation: DOWNLOAD_OPERATION,
            expected,
            received: stream.bytes_read(),
        });
    }
    let gzip = compression == Some(CompressionAlgorithm::Gzip)
        || stream
            .content_encoding()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    tracing::debug!(
        sp_operation = DOWNLOAD_OPERATION,
        bytes = bytes.len(),
        gzip,
        "document downloaded"
    );
    Ok(DownloadedDocument {
        bytes,
        content_type: stream.content_type().map(str::to_owned),
        gzip,
    })
}

#[async_trait]
impl OrdersPort for SellerClients {
    async fn search_updated_orders(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        updated_after: OffsetDateTime,
        page_token: Option<&str>,
    ) -> Result<OrderSearchPage, ApiError> {
        let (orders, next_token, last_updated_before) = self
            .search_updated(
                seller,
                marketplace,
                updated_after,
                page_token,
                &ENRICHMENT_INCLUDED_DATA,
                |_| {},
                enrichment_from_order,
            )
            .await?;
        Ok(OrderSearchPage {
            orders,
            next_token,
            last_updated_before,
        })
    }

    async fn get_order(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Enrichment>, ApiError> {
        self.get_order_as(seller, id, &ENRICHMENT_INCLUDED_DATA, enrichment_from_order)
            .await
    }
}

/// What a v2026-01-01 order tells enrichment.
///
/// * Status: `fulfillment.fulfillmentStatus` through [`AmazonOrderStatus::parse`]; `None` when
///   the fulfilment data set is absent or holds a value this client does not know.
/// * Buyer: `buyer.buyerName`, `buyer.buyerEmail`; the phone is the delivery address's, which
///   the model describes as "the buyer phone number" (v2026 has no other phone).
/// * Recipient: `recipient.deliveryAddress` (name, lines 1 to 3, city, state or region, postal
///   code, country code, phone); `None` when Amazon gave none of it.
/// * Items: order-item id, seller SKU, ASIN and quantity ordered, in Amazon's order.
///
/// Empty or blank strings count as absent: a withheld value must never fill a field.
pub fn enrichment_from_order(order: &Order) -> Enrichment {
    let address = order
        .recipient
        .as_ref()
        .and_then(|r| r.delivery_address.as_ref());
    let phone = address.and_then(|a| present(&a.phone));
    let buyer = order.buyer.as_ref();
    Enrichment {
        amazon_order_id: AmazonOrderId::new(order.order_id.clone()),
        amazon_status: order
            .fulfillment
            .as_ref()
            .map(|f| f.fulfillment_status)
            .filter(|s| *s != FulfillmentStatus::Unknown)
            .map(|s| AmazonOrderStatus::parse(s.as_str())),
        last_updated: Some(order.last_updated_time),
        buyer: Buyer {
            name: buyer.and_then(|b| present(&b.buyer_name)),
            email: buyer.and_then(|b| present(&b.buyer_email)),
            phone: phone.clone(),
        },
        recipient: address.and_then(recipient_address),
        items: order
            .order_items
            .iter()
            .map(|item| EnrichedItem {
                order_item_id: item.order_item_id.clone(),
                sku: present(&item.product.seller_sku),
                asin: present(&item.product.asin),
                quantity: item.quantity_ordered,
            })
            .collect(),
    }
}

fn recipient_address(a: &DeliveryAddress) -> Option<Address> {
    let address = Address {
        name: present(&a.name),
        lines: [&a.address_line1, &a.address_line2, &a.address_line3]
            .into_iter()
            .filter_map(present)
            .collect(),
        city: present(&a.city),
        state: present(&a.state_or_region),
        postal_code: present(&a.postal_code),
        country: present(&a.country_code),
        phone: present(&a.phone),
    };
    (address != Address::default()).then_some(address)
}

/// The value, trimmed, unless it is absent or blank.
pub(crate) fn present(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::Mutex;
    use std::time::Duration;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use serde_json::json;
    use spsync_domain::ProcessingStatus;
    use spsync_workflow::{LwaSecret, SellerAccount};
    use time::macros::datetime;

    use super::*;
    use crate::config::{BackoffSettings, Timeouts};
    use crate::test_support::{MockServer, Recorded, Reply, TOKEN_PATH};

    pub(crate) const SELLER_A: &str = "A1SELLERAAAAAA";
    const SELLER_B: &str = "A2SELLERBBBBBB";
    const US: &str = "ATVPDKIKX0DER";
    const REPORTS_PATH: &str = "/reports/2021-06-30/reports";
    const REPORT_PATH: &str = "/reports/2021-06-30/reports/R1";
    const DOCUMENT_PATH: &str = "/reports/2021-06-30/documents/D1";
    const SEARCH_PATH: &str = "/orders/2026-01-01/orders";
    const ORDER_PATH: &str = "/orders/2026-01-01/orders/111-0000000-0000001";

    /// Sellers in memory.
    #[derive(Default)]
    struct Directory {
        sellers: Mutex<HashMap<SellerId, SellerAccount>>,
    }

    #[async_trait]
    impl SellerDirectory for Directory {
        async fn sellers(&self) -> Result<Vec<SellerAccount>, StoreError> {
            Ok(self.sellers.lock().unwrap().values().cloned().collect())
        }
        async fn seller(&self, seller_id: &SellerId) -> Result<Option<SellerAccount>, StoreError> {
            Ok(self.sellers.lock().unwrap().get(seller_id).cloned())
        }
        async fn put_seller(&self, account: &SellerAccount) -> Result<(), StoreError> {
            self.sellers
                .lock()
                .unwrap()
                .insert(account.seller_id.clone(), account.clone());
            Ok(())
        }
    }

    /// What a secret read answers.
    #[derive(Clone)]
    enum Stored {
        Secret(LwaSecret),
        Transient,
        Permanent,
    }

    /// Secrets in memory, counting reads per secret id.
    #[derive(Default)]
    struct Secrets {
        secrets: Mutex<HashMap<String, Stored>>,
        reads: Mutex<HashMap<String, usize>>,
    }

    impl Secrets {
        fn set(&self, id: &str, stored: Stored) {
            self.secrets.lock().unwrap().insert(id.to_owned(), stored);
        }
        fn reads(&self, id: &str) -> usize {
            self.reads.lock().unwrap().get(id).copied().unwrap_or(0)
        }
    }

    #[async_trait]
    impl CredentialStore for Secrets {
        async fn lwa_secret(&self, secret_id: &str) -> Result<LwaSecret, StoreError> {
            *self
                .reads
                .lock()
                .unwrap()
                .entry(secret_id.to_owned())
                .or_default() += 1;
            let stored = self.secrets.lock().unwrap().get(secret_id).cloned();
            match stored {
                Some(Stored::Secret(s)) => Ok(s),
                Some(Stored::Transient) => Err(StoreError::Transient {
                    operation: "getSecretValue",
                    source: "connection reset".into(),
                }),
                Some(Stored::Permanent) | None => Err(StoreError::Permanent {
                    operation: "getSecretValue",
                    source: "AccessDeniedException".into(),
                }),
            }
        }
    }

    fn secret_id(seller: &str) -> String {
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:spsync/{seller}")
    }

    fn secret(seller: &str, client_secret: &str) -> Stored {
        Stored::Secret(LwaSecret {
            client_id: "amzn1.application-oa2-client.test".into(),
            client_secret: client_secret.into(),
            refresh_token: format!("Atzr|{seller}"),
        })
    }

    pub(crate) struct Harness {
        pub(crate) mock: MockServer,
        secrets: Arc<Secrets>,
        pub(crate) clients: SellerClients,
    }

    /// Two registered sellers with good secrets; LWA answers `Atza|<refresh token>` unless the
    /// client secret is `rejected`, then 401 invalid_client.
    pub(crate) async fn harness() -> Harness {
        let mock = MockServer::start().await;
        mock.route("POST", TOKEN_PATH, |request, _| {
            let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
            if form["client_secret"] == "rejected" {
                return Reply::json(
                    401,
                    json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
                );
            }
            Reply::json(
                200,
                json!({
                    "access_token": format!("Atza|{}", form["refresh_token"]),
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "refresh_token": form["refresh_token"],
                }),
            )
        });
        let directory = Arc::new(Directory::default());
        let secrets = Arc::new(Secrets::default());
        for seller in [SELLER_A, SELLER_B] {
            directory
                .put_seller(&SellerAccount {
                    seller_id: SellerId::new(seller),
                    marketplaces: vec![MarketplaceId::new(US)],
                    region: "na".into(),
                    credentials_secret: secret_id(seller),
                    enabled: true,
                })
                .await
                .unwrap();
            secrets.set(&secret_id(seller), secret(seller, "good"));
        }
        let overrides = EndpointOverrides {
            spapi: Some(mock.url("/")),
            lwa: Some(mock.url(TOKEN_PATH)),
        };
        let clients =
            SellerClients::new(directory, secrets.clone(), overrides).with_config_hook(|config| {
                config.max_in_process_wait = Duration::ZERO;
                config.jitter_seed = Some(42);
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
            });
        Harness {
            mock,
            secrets,
            clients,
        }
    }

    fn seller(id: &str) -> SellerId {
        SellerId::new(id)
    }

    fn report_done() -> Reply {
        Reply::json(
            200,
            json!({
                "reportId": "R1",
                "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                "createdTime": "2026-11-01T10:00:00Z",
                "processingStatus": "DONE",
                "reportDocumentId": "D1"
            }),
        )
    }

    fn quota_exceeded() -> Reply {
        Reply::amazon_error(
            429,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            Some(""),
        )
    }

    fn access_token(request: &Recorded) -> String {
        request.header("x-amz-access-token").unwrap().to_owned()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn regional_endpoints_are_amazons_hosts() {
        let cases = [
            ("na", Some("https://sellingpartnerapi-na.amazon.com")),
            ("EU", Some("https://sellingpartnerapi-eu.amazon.com")),
            (" fe ", Some("https://sellingpartnerapi-fe.amazon.com")),
            ("us-east-1", None),
            ("", None),
        ];
        for (region, expected) in cases {
            assert_eq!(regional_endpoint(region), expected, "{region:?}");
        }
    }

    #[tokio::test]
    async fn a_429_with_a_rate_header_waits_one_refill_of_that_rate() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| {
            quota_exceeded().header("x-amzn-RateLimit-Limit", "0.1")
        });

        let err = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();

        match err {
            ApiError::Throttled {
                operation,
                retry_after,
            } => {
                assert_eq!(operation, "getReport");
                assert!(
                    retry_after > Duration::from_millis(9_900)
                        && retry_after <= Duration::from_secs(10),
                    "one token at 0.1/s: {retry_after:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_429_without_a_rate_header_is_throttled_for_at_least_a_second() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| quota_exceeded());

        let err = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();

        // getReport's plan refills every 0.5 s (+ ≤ 10 ms jitter here); the port floors at 1 s.
        match err {
            ApiError::Throttled {
                operation,
                retry_after,
            } => {
                assert_eq!(operation, "getReport");
                assert_eq!(retry_after, Duration::from_secs(1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.mock.calls("GET", REPORT_PATH), 1);
    }

    #[tokio::test]
    async fn a_500_is_transient_after_the_clients_own_retries() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| {
            Reply::amazon_error(
                500,
                "InternalFailure",
                "We encountered an internal error.",
                None,
            )
        });

        let err = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();

        match &err {
            ApiError::Transient { operation, message } => {
                assert_eq!(*operation, "getReport");
                assert_eq!(message, "HTTP 500: We encountered an internal error.");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            h.mock.calls("GET", REPORT_PATH),
            3,
            "1 + 2 in-process retries"
        );
    }

    #[tokio::test]
    async fn a_400_is_permanent_with_amazons_code_and_message() {
        let h = harness().await;
        h.mock.route("POST", REPORTS_PATH, |_, _| {
            Reply::amazon_error(400, "InvalidInput", "Invalid input", Some("reportType"))
        });

        let err = h
            .clients
            .create_report(
                &seller(SELLER_A),
                "BAD_REPORT",
                &MarketplaceId::new(US),
                datetime!(2026-11-01 00:00 UTC),
                datetime!(2026-11-04 00:00 UTC),
            )
            .await
            .unwrap_err();

        match err {
            ApiError::Permanent {
                operation,
                code,
                message,
            } => {
                assert_eq!(operation, "createReport");
                assert_eq!(code, "InvalidInput");
                assert_eq!(message, "HTTP 400: Invalid input");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_403_access_denied_is_permanent_and_keeps_the_client() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| {
            Reply::amazon_error(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                Some(""),
            )
        });

        let first = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();
        let second = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();

        for err in [first, second] {
            match err {
                ApiError::Permanent { code, message, .. } => {
                    assert_eq!(code, "Unauthorized");
                    assert_eq!(message, "HTTP 403: Access to requested resource is denied.");
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            h.mock.calls("GET", REPORT_PATH),
            2,
            "no retry of a permanent error"
        );
        assert_eq!(h.mock.calls("POST", TOKEN_PATH), 1, "not a token problem");
        assert_eq!(h.secrets.reads(&secret_id(SELLER_A)), 1, "client kept");
    }

    #[tokio::test]
    async fn an_error_body_that_is_not_amazons_is_reported_by_status_only() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| {
            Reply::bytes(
                404,
                Some("text/html"),
                b"<html>Not here: see https://internal.example/x?X-Amz-Signature=abc</html>"
                    .to_vec(),
            )
        });

        let err = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();

        match &err {
            ApiError::Permanent { code, message, .. } => {
                assert_eq!(code, "404");
                assert_eq!(message, "HTTP 404");
            }
            other => panic!("{other:?}"),
        }
        let printed = format!("{err} {err:?}");
        assert!(!printed.contains("internal.example"), "{printed}");
        assert!(!printed.contains(h.mock.url("/").as_str()), "{printed}");
    }

    #[test]
    fn messages_never_carry_urls_and_stay_short() {
        let error = SpApiError::Api {
            operation: "getReport",
            status: 400,
            code: "InvalidInput".into(),
            message: format!(
                "bad value at https://x.example/a?b=c and www.y.example {}",
                "z".repeat(500)
            ),
            details: None,
            request_id: None,
        };

        let ApiError::Permanent { message, .. } = port_error("getReport", &error) else {
            panic!("permanent expected");
        };

        assert!(
            message.starts_with("HTTP 400: bad value at <url> and <url> zzz"),
            "{message}"
        );
        assert!(!message.contains("example"), "{message}");
        assert!(
            message.chars().count() <= MAX_MESSAGE + 3,
            "{}",
            message.len()
        );
    }

    #[test]
    fn every_class_of_client_error_maps_to_its_port_class() {
        let cases: Vec<(SpApiError, &str)> = vec![
            (
                SpApiError::Auth {
                    status: Some(401),
                    code: Some("invalid_client".into()),
                    description: "Client authentication failed".into(),
                },
                "Permanent lwaToken invalid_client",
            ),
            (
                SpApiError::Auth {
                    status: Some(503),
                    code: Some("temporarily_unavailable".into()),
                    description: String::new(),
                },
                "Transient lwaToken",
            ),
            (
                SpApiError::DocumentHttp {
                    operation: DOWNLOAD_OPERATION,
                    status: 403,
                    code: Some("AccessDenied".into()),
                    url_expired: true,
                },
                "Transient downloadDocument",
            ),
            (
                SpApiError::DocumentHttp {
                    operation: DOWNLOAD_OPERATION,
                    status: 403,
                    code: Some("SignatureDoesNotMatch".into()),
                    url_expired: false,
                },
                "Permanent downloadDocument SignatureDoesNotMatch",
            ),
            (
                SpApiError::InvalidDocument {
                    reason: "unsupported charset".into(),
                    source: None,
                },
                "Permanent getReportDocument InvalidDocument",
            ),
            (
                SpApiError::IncompleteBody {
                    operation: DOWNLOAD_OPERATION,
                    expected: 10,
                    received: 3,
                },
                "Transient downloadDocument",
            ),
        ];
        for (error, expected) in cases {
            let mapped = port_error("getReportDocument", &error);
            let seen = match &mapped {
                ApiError::Throttled { operation, .. } => format!("Throttled {operation}"),
                ApiError::Transient { operation, .. } => format!("Transient {operation}"),
                ApiError::Permanent {
                    operation, code, ..
                } => format!("Permanent {operation} {code}"),
            };
            assert_eq!(seen, expected, "{error:?}");
        }
    }

    #[tokio::test]
    async fn get_order_answers_none_for_an_order_amazon_does_not_know() {
        let h = harness().await;
        h.mock.route("GET", ORDER_PATH, |_, _| {
            Reply::amazon_error(
                404,
                "NotFound",
                "Order 111-0000000-0000001 was not found.",
                None,
            )
        });

        let order = h
            .clients
            .get_order(
                &seller(SELLER_A),
                &AmazonOrderId::new("111-0000000-0000001"),
            )
            .await;

        assert_eq!(order.unwrap(), None);
        let request = &h.mock.requests("GET", ORDER_PATH)[0];
        assert_eq!(
            request.query_pairs(),
            vec![(
                "includedData".to_owned(),
                "BUYER,RECIPIENT,FULFILLMENT".to_owned()
            )]
        );
    }

    #[tokio::test]
    async fn an_unknown_seller_is_permanent_without_any_call() {
        let h = harness().await;

        let err = h
            .clients
            .get_report(&seller("A9NOBODY"), "R1")
            .await
            .unwrap_err();

        match err {
            ApiError::Permanent {
                operation, code, ..
            } => {
                assert_eq!(operation, "getReport");
                assert_eq!(code, "UnknownSeller");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.mock.total_calls(), 0);
    }

    #[tokio::test]
    async fn each_seller_keeps_one_client_with_its_own_token() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| report_done());

        for id in [SELLER_A, SELLER_B, SELLER_A, SELLER_B, SELLER_A] {
            h.clients.get_report(&seller(id), "R1").await.unwrap();
        }

        let tokens: Vec<String> = h
            .mock
            .requests("GET", REPORT_PATH)
            .iter()
            .map(access_token)
            .collect();
        let a = format!("Atza|Atzr|{SELLER_A}");
        let b = format!("Atza|Atzr|{SELLER_B}");
        assert_eq!(tokens, vec![a.clone(), b.clone(), a.clone(), b, a]);
        assert_eq!(
            h.mock.calls("POST", TOKEN_PATH),
            2,
            "one exchange per seller"
        );
        assert_eq!(h.secrets.reads(&secret_id(SELLER_A)), 1);
        assert_eq!(h.secrets.reads(&secret_id(SELLER_B)), 1);
        let first = h.clients.client(&seller(SELLER_A)).await.unwrap();
        let again = h.clients.client(&seller(SELLER_A)).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[tokio::test]
    async fn rejected_credentials_drop_the_client_so_a_rotated_secret_is_read() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| report_done());
        h.secrets
            .set(&secret_id(SELLER_A), secret(SELLER_A, "rejected"));

        let refused = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();
        h.secrets
            .set(&secret_id(SELLER_A), secret(SELLER_A, "rotated"));
        let after_rotation = h.clients.get_report(&seller(SELLER_A), "R1").await;

        match refused {
            ApiError::Permanent {
                operation, code, ..
            } => {
                assert_eq!(operation, "lwaToken");
                assert_eq!(code, "invalid_client");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            after_rotation.unwrap().processing_status,
            ProcessingStatus::Done
        );
        assert_eq!(
            h.secrets.reads(&secret_id(SELLER_A)),
            2,
            "read again after the refusal"
        );
        assert_eq!(
            h.mock.calls("GET", REPORT_PATH),
            1,
            "no SP-API call without a token"
        );
    }

    #[tokio::test]
    async fn credential_store_failures_keep_their_class_and_are_not_cached() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| report_done());
        h.secrets.set(&secret_id(SELLER_A), Stored::Transient);
        h.secrets.set(&secret_id(SELLER_B), Stored::Permanent);

        let transient = h
            .clients
            .get_report(&seller(SELLER_A), "R1")
            .await
            .unwrap_err();
        let permanent = h
            .clients
            .get_report(&seller(SELLER_B), "R1")
            .await
            .unwrap_err();
        h.secrets
            .set(&secret_id(SELLER_A), secret(SELLER_A, "good"));
        let recovered = h.clients.get_report(&seller(SELLER_A), "R1").await;

        assert!(
            matches!(
                transient,
                ApiError::Transient {
                    operation: "getReport",
                    ..
                }
            ),
            "{transient:?}"
        );
        match permanent {
            ApiError::Permanent { code, .. } => assert_eq!(code, "CredentialsUnavailable"),
            other => panic!("{other:?}"),
        }
        assert!(recovered.is_ok(), "{recovered:?}");
        assert_eq!(h.secrets.reads(&secret_id(SELLER_A)), 2);
    }

    #[tokio::test]
    async fn create_report_sends_the_window_and_the_one_marketplace() {
        let h = harness().await;
        h.mock.route("POST", REPORTS_PATH, |_, _| {
            Reply::json(202, json!({"reportId": "R42"}))
        });

        let id = h
            .clients
            .create_report(
                &seller(SELLER_A),
                "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                &MarketplaceId::new(US),
                datetime!(2026-11-01 08:00 UTC),
                datetime!(2026-11-04 08:00 UTC),
            )
            .await
            .unwrap();

        assert_eq!(id, "R42");
        let body = h.mock.requests("POST", REPORTS_PATH)[0].json();
        assert_eq!(
            body,
            json!({
                "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                "marketplaceIds": [US],
                "dataStartTime": "2026-11-01T08:00:00Z",
                "dataEndTime": "2026-11-04T08:00:00Z"
            })
        );
    }

    #[tokio::test]
    async fn get_report_and_cancel_report_speak_for_the_seller() {
        let h = harness().await;
        h.mock.route("GET", REPORT_PATH, |_, _| report_done());
        h.mock.route("DELETE", REPORT_PATH, |_, _| {
            Reply::bytes(200, None, Vec::new())
        });

        let status = h.clients.get_report(&seller(SELLER_B), "R1").await.unwrap();
        h.clients
            .cancel_report(&seller(SELLER_B), "R1")
            .await
            .unwrap();

        assert_eq!(
            status,
            ReportStatus {
                processing_status: ProcessingStatus::Done,
                report_document_id: Some("D1".into()),
            }
        );
        let cancel = &h.mock.requests("DELETE", REPORT_PATH)[0];
        assert_eq!(access_token(cancel), format!("Atza|Atzr|{SELLER_B}"));
    }

    /// getReportDocument answering document URLs on the mock, one per call, from `paths`.
    fn document_locations(h: &Harness, paths: &[&str], compression: Option<&str>) {
        let urls: Vec<String> = paths.iter().map(|p| h.mock.url(p).to_string()).collect();
        let compression = compression.map(str::to_owned);
        h.mock.route("GET", DOCUMENT_PATH, move |_, n| {
            let mut body = json!({"reportDocumentId": "D1", "url": urls[n.min(urls.len() - 1)]});
            if let Some(c) = &compression {
                body["compressionAlgorithm"] = json!(c);
            }
            Reply::json(200, body)
        });
    }

    #[tokio::test]
    async fn a_gzip_document_is_kept_raw_with_its_content_type() {
        let h = harness().await;
        let text = "amazon-order-id\tsku\n111-0000000-0000001\tMUG\u{e9}\n";
        let raw = gzip(&encoding_rs::WINDOWS_1252.encode(text).0);
        document_locations(&h, &["/docs/1"], Some("GZIP"));
        let served = raw.clone();
        h.mock.route("GET", "/docs/1", move |_, _| {
            Reply::bytes(200, Some("text/plain; charset=Cp1252"), served.clone())
        });

        let document = h
            .clients
            .download_report_document(&seller(SELLER_A), "D1")
            .await
            .unwrap();

        assert_eq!(document.bytes, raw, "byte for byte, still compressed");
        assert!(document.gzip);
        assert_eq!(
            document.content_type.as_deref(),
            Some("text/plain; charset=Cp1252")
        );
        let download = &h.mock.requests("GET", "/docs/1")[0];
        assert_eq!(
            download.header("x-amz-access-token"),
            None,
            "the URL is its own credential"
        );
    }

    #[tokio::test]
    async fn gzip_is_also_read_from_content_encoding_and_plain_stays_plain() {
        let h = harness().await;
        document_locations(&h, &["/docs/1"], None);
        h.mock.route("GET", "/docs/1", |_, n| {
            let reply = Reply::bytes(200, Some("text/plain; charset=UTF-8"), vec![b'x'; 4]);
            if n == 0 {
                reply.header("content-encoding", "gzip")
            } else {
                reply
            }
        });

        let encoded = h
            .clients
            .download_report_document(&seller(SELLER_A), "D1")
            .await
            .unwrap();
        let plain = h
            .clients
            .download_report_document(&seller(SELLER_A), "D1")
            .await
            .unwrap();

        assert!(encoded.gzip);
        assert!(!plain.gzip);
        assert_eq!(plain.bytes, b"xxxx");
    }

    fn expired() -> Reply {
        Reply::bytes(
            403,
            Some("application/xml"),
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>".to_vec(),
        )
    }

    #[tokio::test]
    async fn an_expired_url_is_asked_for_again_once() {
        let h = harness().await;
        document_locations(&h, &["/docs/old", "/docs/new"], None);
        h.mock.route("GET", "/docs/old", |_, _| expired());
        h.mock.route("GET", "/docs/new", |_, _| {
            Reply::bytes(200, Some("text/plain"), b"fresh".to_vec())
        });

        let document = h
            .clients
            .download_report_document(&seller(SELLER_A), "D1")
            .await
            .unwrap();

        assert_eq!(document.bytes, b"fresh");
        assert_eq!(h.mock.calls("GET", DOCUMENT_PATH), 2);
        assert_eq!(h.mock.calls("GET", "/docs/old"), 1);
    }

    #[tokio::test]
    async fn a_url_that_expires_twice_is_transient_after_one_fresh_try() {
        let h = harness().await;
        document_locations(&h, &["/docs/old"], None);
        h.mock.route("GET", "/docs/old", |_, _| expired());

        let err = h
            .clients
            .download_report_document(&seller(SELLER_A), "D1")
            .await
            .unwrap_err();

        match &err {
            ApiError::Transient { operation, message } => {
                assert_eq!(*operation, "downloadDocument");
                assert_eq!(message, "presigned URL answered HTTP 403 (URL expired)");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            h.mock.calls("GET", DOCUMENT_PATH),
            2,
            "one fresh URL, no more"
        );
        assert_eq!(h.mock.calls("GET", "/docs/old"), 2);
    }

    /// A v2026 order as Amazon sends it with BUYER, RECIPIENT and FULFILLMENT (written for
    /// this test from the model's field names).
    fn unshipped_order() -> serde_json::Value {
        json!({
            "orderId": "111-0000000-0000001",
            "orderAliases": [{"aliasId": "SO-1001", "aliasType": "SELLER_ORDER_ID"}],
            "createdTime": "2026-11-02T09:15:00Z",
            "lastUpdatedTime": "2026-11-02T10:40:00Z",
            "programs": ["PRIME"],
            "salesChannel": {
                "channelName": "AMAZON",
                "marketplaceId": US,
                "marketplaceName": "Amazon.com"
            },
            "buyer": {
                "buyerName": "Jordan Example",
                "buyerEmail": "abc123@marketplace.amazon.com",
                "buyerCompanyName": ""
            },
            "recipient": {
                "deliveryAddress": {
                    "name": "Jordan Example",
                    "addressLine1": "1 Main St",
                    "addressLine2": "Apt 4",
                    "addressLine3": " ",
                    "city": "Seattle",
                    "stateOrRegion": "WA",
                    "postalCode": "98101",
                    "countryCode": "US",
                    "phone": "+1 206 555 0100",
                    "addressType": "RESIDENTIAL"
                },
                "deliveryPreference": {"dropOffLocation": "Front door"}
            },
            "fulfillment": {
                "fulfillmentStatus": "UNSHIPPED",
                "fulfilledBy": "MERCHANT",
                "fulfillmentServiceLevel": "STANDARD"
            },
            "orderItems": [
                {
                    "orderItemId": "10000000000001",
                    "quantityOrdered": 2,
                    "product": {
                        "asin": "B0C7QX2M1A",
                        "title": "Stoneware Coffee Mug",
                        "sellerSku": "MUG-BLU-12",
                        "price": {"unitPrice": {"amount": "14.99", "currencyCode": "USD"}}
                    },
                    "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 2}
                },
                {
                    "orderItemId": "10000000000002",
                    "quantityOrdered": 1,
                    "product": {"asin": "B0CD4J2Q7V"}
                }
            ]
        })
    }

    fn unshipped_enrichment() -> Enrichment {
        Enrichment {
            amazon_order_id: AmazonOrderId::new("111-0000000-0000001"),
            amazon_status: Some(AmazonOrderStatus::Unshipped),
            last_updated: Some(datetime!(2026-11-02 10:40 UTC)),
            buyer: Buyer {
                name: Some("Jordan Example".into()),
                email: Some("abc123@marketplace.amazon.com".into()),
                phone: Some("+1 206 555 0100".into()),
            },
            recipient: Some(Address {
                name: Some("Jordan Example".into()),
                lines: vec!["1 Main St".into(), "Apt 4".into()],
                city: Some("Seattle".into()),
                state: Some("WA".into()),
                postal_code: Some("98101".into()),
                country: Some("US".into()),
                phone: Some("+1 206 555 0100".into()),
            }),
            items: vec![
                EnrichedItem {
                    order_item_id: "10000000000001".into(),
                    sku: Some("MUG-BLU-12".into()),
                    asin: Some("B0C7QX2M1A".into()),
                    quantity: 2,
                },
                EnrichedItem {
                    order_item_id: "10000000000002".into(),
                    sku: None,
                    asin: Some("B0CD4J2Q7V".into()),
                    quantity: 1,
                },
            ],
        }
    }

    #[test]
    fn a_full_v2026_order_becomes_a_full_enrichment() {
        let order: Order = serde_json::from_value(unshipped_order()).unwrap();

        assert_eq!(enrichment_from_order(&order), unshipped_enrichment());
    }

    #[test]
    fn a_pending_order_with_pii_withheld_fills_nothing_personal() {
        let mut value = unshipped_order();
        value["fulfillment"]["fulfillmentStatus"] = json!("PENDING");
        value["buyer"] = json!({"buyerEmail": ""});
        value["recipient"] = json!({"deliveryAddress": {
            "city": "Seattle", "stateOrRegion": "WA", "countryCode": "US", "name": "", "phone": "  "
        }});
        let order: Order = serde_json::from_value(value).unwrap();

        let e = enrichment_from_order(&order);

        assert_eq!(e.amazon_status, Some(AmazonOrderStatus::Pending));
        assert_eq!(e.buyer, Buyer::default());
        assert_eq!(
            e.recipient,
            Some(Address {
                city: Some("Seattle".into()),
                state: Some("WA".into()),
                country: Some("US".into()),
                ..Address::default()
            })
        );
        assert_eq!(e.items.len(), 2, "items come whatever the status");
    }

    #[test]
    fn an_order_without_the_optional_data_sets_enriches_only_its_items() {
        let mut value = unshipped_order();
        for key in ["buyer", "recipient", "fulfillment"] {
            value.as_object_mut().unwrap().remove(key);
        }
        let order: Order = serde_json::from_value(value).unwrap();

        let e = enrichment_from_order(&order);

        assert_eq!(e.amazon_status, None);
        assert_eq!(e.buyer, Buyer::default());
        assert_eq!(e.recipient, None);
        assert_eq!(e.items, unshipped_enrichment().items);
        let mut unknown = unshipped_order();
        unknown["fulfillment"]["fulfillmentStatus"] = json!("SOMETHING_NEW");
        let order: Order = serde_json::from_value(unknown).unwrap();
        assert_eq!(enrichment_from_order(&order).amazon_status, None);
    }

    #[tokio::test]
    async fn search_updated_orders_asks_for_everything_enrichment_needs_and_maps_the_page() {
        let h = harness().await;
        h.mock.route("GET", SEARCH_PATH, |_, _| {
            Reply::json(
                200,
                json!({
                    "orders": [unshipped_order()],
                    "pagination": {"nextToken": "page-3"},
                    "lastUpdatedBefore": "2026-11-04T07:58:00Z"
                }),
            )
        });

        let page = h
            .clients
            .search_updated_orders(
                &seller(SELLER_A),
                &MarketplaceId::new(US),
                datetime!(2026-11-01 00:00 UTC),
                Some("page-2"),
            )
            .await
            .unwrap();

        assert_eq!(
            page,
            OrderSearchPage {
                orders: vec![unshipped_enrichment()],
                next_token: Some("page-3".into()),
                last_updated_before: Some(datetime!(2026-11-04 07:58 UTC)),
            }
        );
        let query: HashMap<String, String> = h.mock.requests("GET", SEARCH_PATH)[0]
            .query_pairs()
            .into_iter()
            .collect();
        let expected: HashMap<String, String> = [
            ("lastUpdatedAfter", "2026-11-01T00:00:00Z"),
            ("marketplaceIds", US),
            ("maxResultsPerPage", "100"),
            ("includedData", "BUYER,RECIPIENT,FULFILLMENT"),
            ("paginationToken", "page-2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(query, expected);
    }

    #[tokio::test]
    async fn get_order_maps_the_order_it_finds() {
        let h = harness().await;
        h.mock.route("GET", ORDER_PATH, |_, _| {
            Reply::json(200, json!({"order": unshipped_order()}))
        });

        let found = h
            .clients
            .get_order(
                &seller(SELLER_A),
                &AmazonOrderId::new("111-0000000-0000001"),
            )
            .await
            .unwrap();

        assert_eq!(found, Some(unshipped_enrichment()));
    }
}
