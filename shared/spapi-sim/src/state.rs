//! Everything the simulator remembers, behind one lock.
//!
//! One `Mutex<State>` is enough: a request holds it for microseconds, and a single lock keeps
//! the world, the jobs and the counters consistent with each other (a feed applied to orders
//! and the report generated right after always agree).

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::faults::Faults;
use crate::limits::Limiter;
use crate::scenario::{Credentials, GeneratorSpec, ListingSpec, Scenario, Timing};

/// All mutable simulator state.
#[derive(Debug)]
pub struct State {
    /// Sellers by seller id.
    pub sellers: BTreeMap<String, Seller>,
    /// Reports by report id.
    pub reports: BTreeMap<String, Report>,
    /// Feeds by feed id.
    pub feeds: BTreeMap<String, Feed>,
    /// Report, feed input and feed result documents by document id.
    pub documents: BTreeMap<String, Document>,
    /// Issued LWA access tokens.
    pub tokens: HashMap<String, AccessToken>,
    /// Usage-plan token buckets.
    pub limiter: Limiter,
    /// Injected faults.
    pub faults: Faults,
    /// Per-operation call counters.
    pub stats: Stats,
    /// Deterministic pseudo-random source for faults and ids.
    pub rng: Rng,
    /// Monotonic counter for ids.
    pub next_id: u64,
    /// Processing times and lifetimes.
    pub timing: Timing,
    /// Secret mixed into presigned document URL signatures.
    pub url_secret: u64,
}

/// One simulated seller.
#[derive(Debug)]
pub struct Seller {
    /// Merchant token.
    pub seller_id: String,
    /// LWA credentials accepted for this seller.
    pub credentials: Credentials,
    /// Marketplaces the seller sells in.
    pub marketplace_ids: Vec<String>,
    /// Listings keyed by (marketplace id, sku).
    pub listings: BTreeMap<(String, String), ListingSpec>,
    /// Orders keyed by order id, each a v2026-01-01 `Order` JSON object (full, all datasets).
    pub orders: Orders,
    /// Order generator and its progress.
    pub generator: Option<GeneratorState>,
}

/// A seller's orders by order id. Reads go through `Deref` to the map; every mutation goes
/// through a method here, which forgets the cached time of the next status transition, so
/// the world only rescans the orders when something changed or a transition is due (every
/// request advances the world: a scan per request made the simulator 15 times slower with
/// a thousand orders).
#[derive(Debug, Default)]
pub struct Orders {
    map: BTreeMap<String, Value>,
    /// Earliest time an order changes on its own; `Some(None)`: none will; `None`: unknown.
    next_transition: Option<Option<OffsetDateTime>>,
}

impl std::ops::Deref for Orders {
    type Target = BTreeMap<String, Value>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl Orders {
    /// Inserts or replaces an order.
    pub fn insert(&mut self, id: String, order: Value) -> Option<Value> {
        self.next_transition = None;
        self.map.insert(id, order)
    }

    /// One order, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.next_transition = None;
        self.map.get_mut(id)
    }

    /// Removes an order.
    pub fn remove(&mut self, id: &str) -> Option<Value> {
        self.next_transition = None;
        self.map.remove(id)
    }

    /// Whether a status transition may be due at `now` (unknown counts as due).
    pub fn transition_due(&self, now: OffsetDateTime) -> bool {
        match self.next_transition {
            None => true,
            Some(None) => false,
            Some(Some(at)) => at <= now,
        }
    }

    /// Every order, for the transition scan itself; the caller then records the next
    /// transition time with [`Orders::set_next_transition`].
    pub fn iter_mut_for_transitions(
        &mut self,
    ) -> std::collections::btree_map::IterMut<'_, String, Value> {
        self.map.iter_mut()
    }

    /// Records when the next transition happens (`None`: no order will change on its own).
    pub fn set_next_transition(&mut self, at: Option<OffsetDateTime>) {
        self.next_transition = Some(at);
    }
}

/// Generator settings plus where it has got to.
#[derive(Debug)]
pub struct GeneratorState {
    /// Settings from the scenario.
    pub spec: GeneratorSpec,
    /// Simulated time up to which orders have been generated.
    pub generated_until: OffsetDateTime,
    /// The generator's own pseudo-random sequence.
    pub rng: Rng,
    /// Orders generated so far (used for ids).
    pub count: u64,
}

/// Amazon's job processing status (reports and feeds share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingStatus {
    /// Waiting to start.
    InQueue,
    /// Being processed.
    InProgress,
    /// Finished.
    Done,
    /// Cancelled (explicitly, or because there was no data).
    Cancelled,
    /// Aborted by a fatal error.
    Fatal,
}

impl ProcessingStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InQueue => "IN_QUEUE",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Cancelled => "CANCELLED",
            Self::Fatal => "FATAL",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "IN_QUEUE" => Self::InQueue,
            "IN_PROGRESS" => Self::InProgress,
            "DONE" => Self::Done,
            "CANCELLED" => Self::Cancelled,
            "FATAL" => Self::Fatal,
            _ => return None,
        })
    }

    /// True once the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Cancelled | Self::Fatal)
    }
}

/// How a report (or feed) will end, decided when it is created (faults can script it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlannedOutcome {
    /// Normal processing: DONE, or CANCELLED when a report has no data.
    Normal,
    /// Ends FATAL.
    Fatal,
    /// Ends CANCELLED.
    Cancelled,
    /// Never leaves IN_QUEUE (until cancelled): Amazon lets only IN_QUEUE jobs be cancelled.
    Stuck,
}

/// A document served verbatim for the next report of a type (control API).
#[derive(Debug, Clone)]
pub struct VerbatimDocument {
    /// Bytes exactly as they must be served (before optional GZIP).
    pub bytes: Bytes,
    /// Charset named in the `Content-Type` (`UTF-8`, `Cp1252`, `Shift_JIS`, ...).
    pub charset: String,
    /// Serve GZIP-compressed with `compressionAlgorithm: GZIP`.
    pub gzip: bool,
}

/// A report request and its progress.
#[derive(Debug, Clone)]
pub struct Report {
    /// Report id.
    pub report_id: String,
    /// Seller that asked for it.
    pub seller_id: String,
    /// Report type.
    pub report_type: String,
    /// Marketplaces of the request.
    pub marketplace_ids: Vec<String>,
    /// Start of the data window.
    pub data_start_time: Option<OffsetDateTime>,
    /// End of the data window.
    pub data_end_time: Option<OffsetDateTime>,
    /// Report options of the request.
    pub report_options: BTreeMap<String, String>,
    /// When it was created.
    pub created_time: OffsetDateTime,
    /// When processing started.
    pub processing_start_time: Option<OffsetDateTime>,
    /// When processing ended.
    pub processing_end_time: Option<OffsetDateTime>,
    /// Current status.
    pub status: ProcessingStatus,
    /// Document, once DONE.
    pub report_document_id: Option<String>,
    /// How it will end.
    pub planned: PlannedOutcome,
    /// Verbatim document to serve instead of a generated one.
    pub verbatim: Option<VerbatimDocument>,
}

/// A feed submission and its progress.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Feed id.
    pub feed_id: String,
    /// Seller that submitted it.
    pub seller_id: String,
    /// Feed type.
    pub feed_type: String,
    /// Marketplaces of the request.
    pub marketplace_ids: Vec<String>,
    /// Feed options of the request.
    pub feed_options: BTreeMap<String, String>,
    /// Input document id.
    pub input_feed_document_id: String,
    /// When it was created.
    pub created_time: OffsetDateTime,
    /// When processing started.
    pub processing_start_time: Option<OffsetDateTime>,
    /// When processing ended.
    pub processing_end_time: Option<OffsetDateTime>,
    /// Current status.
    pub status: ProcessingStatus,
    /// Processing report document, once DONE.
    pub result_feed_document_id: Option<String>,
    /// How it will end.
    pub planned: PlannedOutcome,
    /// What applying the feed changed (for the control API): free-form JSON summary.
    pub effects: Value,
}

/// What a stored document is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentKind {
    /// A report document (served by GET).
    Report,
    /// A feed input document (uploaded by PUT with the declared content type).
    FeedInput {
        /// The `contentType` given to createFeedDocument; the upload must match it.
        declared_content_type: String,
        /// Whether the seller has uploaded it.
        uploaded: bool,
    },
    /// A feed processing report (served by GET).
    FeedResult,
}

/// A stored document.
#[derive(Debug, Clone)]
pub struct Document {
    /// Document id.
    pub document_id: String,
    /// Owner.
    pub seller_id: String,
    /// What it is.
    pub kind: DocumentKind,
    /// Bytes as served (already GZIP-compressed when `gzip`).
    pub bytes: Bytes,
    /// `Content-Type` served (with charset).
    pub content_type: String,
    /// Whether `bytes` are GZIP (reported as `compressionAlgorithm: GZIP`).
    pub gzip: bool,
}

/// An issued LWA access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// Seller the token acts for.
    pub seller_id: String,
    /// Simulated expiry.
    pub expires_at: OffsetDateTime,
}

/// Counters of one operation.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OperationStats {
    /// Requests received.
    pub calls: u64,
    /// 2xx answers.
    pub ok: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Other 4xx answers.
    pub client_errors: u64,
    /// 5xx answers.
    pub server_errors: u64,
}

/// Per-operation counters, keyed by operation name (`getReport`, `lwaToken`, ...).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Counters by operation.
    pub operations: BTreeMap<String, OperationStats>,
}

impl Stats {
    /// Records one answer.
    pub fn record(&mut self, operation: &str, status: u16) {
        let s = self.operations.entry(operation.to_string()).or_default();
        s.calls += 1;
        match status {
            200..=299 => s.ok += 1,
            429 => s.throttled += 1,
            400..=499 => s.client_errors += 1,
            _ => s.server_errors += 1,
        }
    }
}

/// splitmix64: small, fast, deterministic; good enough for fault dice and fake data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Two sellers share an id.
    #[error("seller {0} appears twice in the scenario")]
    DuplicateSeller(String),
    /// A timing value is outside what the simulator can represent.
    #[error("timing.{field} is {value} s; at most {max} s (one year) is allowed")]
    InvalidTiming {
        /// The `timing` member.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// An order is not a usable v2026-01-01 Order object.
    #[error("seller {seller_id}: order #{index} is invalid: {reason}")]
    InvalidOrder {
        /// Seller.
        seller_id: String,
        /// Position in the seller's `orders` list.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

impl State {
    /// Builds the state from a scenario, starting at simulated time `now`.
    pub fn from_scenario(scenario: &Scenario, now: OffsetDateTime) -> Result<Self, ScenarioError> {
        scenario.timing.check()?;
        let mut sellers = BTreeMap::new();
        for spec in &scenario.sellers {
            let mut orders = Orders::default();
            for (index, order) in spec.orders.iter().enumerate() {
                let id = crate::orders::validate_scenario_order(order).map_err(|reason| {
                    ScenarioError::InvalidOrder {
                        seller_id: spec.seller_id.clone(),
                        index,
                        reason,
                    }
                })?;
                orders.insert(id, order.clone());
            }
            let listings = spec
                .listings
                .iter()
                .map(|l| ((l.marketplace_id.clone(), l.sku.clone()), l.clone()))
                .collect();
            let seller = Seller {
                seller_id: spec.seller_id.clone(),
                credentials: spec.credentials.clone(),
                marketplace_ids: spec.marketplace_ids.clone(),
                listings,
                orders,
                generator: spec.generator.clone().map(|g| {
                    let backfill = g
                        .backfill_hours
                        .min(crate::world::MAX_BACKFILL_HOURS as u64);
                    GeneratorState {
                        rng: Rng::new(g.seed),
                        generated_until: now - time::Duration::hours(backfill as i64),
                        spec: g,
                        count: 0,
                    }
                }),
            };
            if sellers.insert(spec.seller_id.clone(), seller).is_some() {
                return Err(ScenarioError::DuplicateSeller(spec.seller_id.clone()));
            }
        }
        Ok(Self {
            sellers,
            reports: BTreeMap::new(),
            feeds: BTreeMap::new(),
            documents: BTreeMap::new(),
            tokens: HashMap::new(),
            limiter: Limiter::default(),
            faults: Faults::default(),
            stats: Stats::default(),
            rng: Rng::new(0x5eed),
            next_id: 1,
            timing: scenario.timing.clone(),
            url_secret: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x5ec7e7),
        })
    }

    /// A fresh numeric id (Amazon's report and feed ids are long decimal strings).
    pub fn numeric_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{}",
            50_000_000_000u64 + self.next_id * 7 + self.rng.below(7)
        )
    }

    /// A fresh document id in Amazon's `amzn1.spdoc...` style.
    pub fn document_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{prefix}{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// Moves the world forward to `now`: order generator and transitions, report and feed
    /// processing. Called at the start of every request, so nothing needs a background task.
    ///
    /// Jobs finish against the world as it was at their end time, not as it is at `now`: the
    /// clock can jump hours at once, and a fulfilment feed that ended at 10:00 must see the
    /// order as it was at 10:00 (still PENDING, say), not as the generator left it at 11:00.
    /// So time advances from one job end to the next, the world first each time.
    pub fn advance_to(&mut self, now: OffsetDateTime) {
        let mut previous = None;
        loop {
            let next_end = [crate::reports::next_end(self), crate::feeds::next_end(self)]
                .into_iter()
                .flatten()
                .min();
            // Each step finishes every job ending at `at`; the same `at` twice would mean no
            // progress, so stop rather than spin.
            let Some(at) = next_end.filter(|t| *t <= now && Some(*t) != previous) else {
                break;
            };
            self.advance_all(at);
            previous = Some(at);
        }
        self.advance_all(now);
    }

    fn advance_all(&mut self, at: OffsetDateTime) {
        crate::world::advance(self, at);
        crate::reports::advance(self, at);
        crate::feeds::advance(self, at);
    }
}

/// Queue of scripted outcomes, keyed by report or feed type.
pub type ScriptedOutcomes = HashMap<String, VecDeque<PlannedOutcome>>;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_mutation_of_the_orders_makes_a_transition_scan_due_again() {
        let t = datetime!(2026-11-20 10:00 UTC);
        let mut orders = Orders::default();
        assert!(orders.transition_due(t), "unknown counts as due");

        orders.set_next_transition(Some(t));
        let before = orders.transition_due(t - time::Duration::seconds(1));
        let at = orders.transition_due(t);
        orders.set_next_transition(None);
        let never = orders.transition_due(t + time::Duration::days(999));
        orders.insert("111-0000000-0000001".into(), serde_json::json!({}));
        let after_insert = orders.transition_due(t);
        orders.set_next_transition(None);
        let _ = orders.get_mut("111-0000000-0000001");
        let after_get_mut = orders.transition_due(t);

        assert!(!before && at);
        assert!(!never);
        assert!(after_insert && after_get_mut);
        assert_eq!(orders.len(), 1, "reads go through Deref");
    }
}
