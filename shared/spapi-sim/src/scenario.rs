//! The scenario file: who the simulated sellers are and what their world holds.
//!
//! A scenario is JSON. Orders are written in the Orders API v2026-01-01 `Order` shape, so a
//! real `getOrder` response body (its `order` member) can be pasted in as is. Listings are the
//! simulator's own flat shape (the reports render them in Amazon's columns).
//!
//! ```json
//! {
//!   "clock": { "start": "2026-11-20T00:00:00Z", "speed": 1.0 },
//!   "timing": { "reportQueueSeconds": 20, "reportProcessingSeconds": 40 },
//!   "sellers": [{
//!     "sellerId": "A1SIMSELLER0001",
//!     "credentials": { "clientId": "spsync-sim-client", "clientSecret": "spsync-sim-secret",
//!                      "refreshToken": "spsync-sim-refresh" },
//!     "marketplaceIds": ["ATVPDKIKX0DER"],
//!     "listings": [{ "sku": "SKU-1", "asin": "B000000001", "title": "Mug", "price": "12.50",
//!                    "quantity": 7, "marketplaceId": "ATVPDKIKX0DER" }],
//!     "orders": [ { "orderId": "111-0000000-0000001", "...": "v2026 Order JSON" } ],
//!     "generator": { "ordersPerHour": 20, "seed": 7, "backfillHours": 72 }
//!   }]
//! }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// A whole simulated world, as read from a scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Where simulated time starts and how fast it runs.
    #[serde(default)]
    pub clock: ClockSpec,
    /// How long Amazon-side processing takes, in simulated seconds.
    #[serde(default)]
    pub timing: Timing,
    /// The sellers (each with its own LWA credentials, marketplaces, listings and orders).
    pub sellers: Vec<SellerSpec>,
}

/// Start and speed of the simulated clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClockSpec {
    /// Simulated time at start-up; defaults to the real time at start-up.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// Multiple of real time (1 = real time, 0 = frozen: only the control API moves it).
    #[serde(default = "one")]
    pub speed: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for ClockSpec {
    fn default() -> Self {
        Self {
            start: None,
            speed: 1.0,
        }
    }
}

/// Processing times and lifetimes, in simulated seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Timing {
    /// Time a report spends IN_QUEUE.
    pub report_queue_seconds: u64,
    /// Time a report spends IN_PROGRESS before DONE (or CANCELLED / FATAL).
    pub report_processing_seconds: u64,
    /// Time a feed spends IN_QUEUE.
    pub feed_queue_seconds: u64,
    /// Time a feed spends IN_PROGRESS before DONE.
    pub feed_processing_seconds: u64,
    /// Lifetime of an LWA access token.
    pub token_ttl_seconds: u64,
    /// Lifetime of a presigned document URL (Amazon: 5 minutes).
    pub document_url_ttl_seconds: u64,
    /// Serve generated report documents GZIP-compressed (`compressionAlgorithm: GZIP`), as
    /// Amazon does for large reports. Verbatim documents carry their own `gzip` flag.
    pub gzip_report_documents: bool,
}

impl Timing {
    /// Every duration must fit in a year: larger values would overflow date arithmetic.
    pub fn check(&self) -> Result<(), crate::state::ScenarioError> {
        const MAX: u64 = 365 * 24 * 3600;
        let fields = [
            ("reportQueueSeconds", self.report_queue_seconds),
            ("reportProcessingSeconds", self.report_processing_seconds),
            ("feedQueueSeconds", self.feed_queue_seconds),
            ("feedProcessingSeconds", self.feed_processing_seconds),
            ("tokenTtlSeconds", self.token_ttl_seconds),
            ("documentUrlTtlSeconds", self.document_url_ttl_seconds),
        ];
        match fields.into_iter().find(|(_, v)| *v > MAX) {
            Some((field, value)) => Err(crate::state::ScenarioError::InvalidTiming {
                field,
                value,
                max: MAX,
            }),
            None => Ok(()),
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            report_queue_seconds: 30,
            report_processing_seconds: 90,
            feed_queue_seconds: 30,
            feed_processing_seconds: 120,
            token_ttl_seconds: 3600,
            document_url_ttl_seconds: 300,
            gzip_report_documents: false,
        }
    }
}

/// One simulated seller account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SellerSpec {
    /// Merchant token, e.g. `A1SIMSELLER0001`.
    pub seller_id: String,
    /// LWA credentials that authorise calls on this seller's behalf.
    pub credentials: Credentials,
    /// Marketplaces the seller sells in.
    pub marketplace_ids: Vec<String>,
    /// Listings (one per SKU and marketplace).
    #[serde(default)]
    pub listings: Vec<ListingSpec>,
    /// Orders in the Orders API v2026-01-01 `Order` shape.
    #[serde(default)]
    pub orders: Vec<Value>,
    /// Optional order generator that keeps the world moving.
    #[serde(default)]
    pub generator: Option<GeneratorSpec>,
}

/// LWA application credentials plus the seller's refresh token.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    /// LWA client id of the application.
    pub client_id: String,
    /// LWA client secret of the application.
    pub client_secret: String,
    /// Refresh token the seller granted the application.
    pub refresh_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A listing as the simulator stores it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListingSpec {
    /// Seller SKU.
    pub sku: String,
    /// ASIN.
    pub asin: String,
    /// Product title.
    #[serde(default)]
    pub title: String,
    /// Price as a decimal string (`"19.99"`); absent means no offer price.
    #[serde(default)]
    pub price: Option<String>,
    /// Currency of the price; defaults from the marketplace.
    #[serde(default)]
    pub currency: Option<String>,
    /// Merchant-fulfilled quantity.
    #[serde(default)]
    pub quantity: i64,
    /// Marketplace of this listing.
    pub marketplace_id: String,
    /// `DEFAULT` (merchant) or an FBA channel such as `AMAZON_NA`.
    #[serde(default = "default_channel")]
    pub fulfillment_channel: String,
    /// `Active` or `Inactive`.
    #[serde(default = "default_status")]
    pub status: String,
    /// Amazon product type (`PRODUCT` when unknown).
    #[serde(default = "default_product_type")]
    pub product_type: String,
    /// Handling time in days (`lead_time_to_ship_max_days`).
    #[serde(default)]
    pub lead_time_days: Option<i64>,
    /// Condition code (`new`, `used_like_new`, ...).
    #[serde(default = "default_condition")]
    pub condition: String,
    /// When the listing was opened.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub open_date: Option<OffsetDateTime>,
}

fn default_channel() -> String {
    "DEFAULT".into()
}
fn default_status() -> String {
    "Active".into()
}
fn default_product_type() -> String {
    "PRODUCT".into()
}
fn default_condition() -> String {
    "new".into()
}

/// Settings of the order generator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GeneratorSpec {
    /// New orders per simulated hour.
    pub orders_per_hour: f64,
    /// Simulated minutes an order stays PENDING before it becomes UNSHIPPED.
    pub pending_minutes: u64,
    /// Share of new orders that are cancelled while pending (0..1).
    pub cancel_ratio: f64,
    /// Share of new orders fulfilled by Amazon (0..1).
    pub fba_ratio: f64,
    /// Seed of the generator's pseudo-random sequence (same seed, same world).
    pub seed: u64,
    /// Hours of history generated at start-up (orders placed before the clock's start, already
    /// moved on to UNSHIPPED / CANCELLED / SHIPPED as time would have moved them); at most
    /// `world::MAX_BACKFILL_HOURS`.
    pub backfill_hours: u64,
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        Self {
            orders_per_hour: 10.0,
            pending_minutes: 30,
            cancel_ratio: 0.05,
            fba_ratio: 0.1,
            seed: 1,
            backfill_hours: 0,
        }
    }
}

impl Scenario {
    /// Parses a scenario from JSON text, with a readable error naming the place that is wrong.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
