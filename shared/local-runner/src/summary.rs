//! What a run left behind, read back from the stack and the simulator: orders by status,
//! enrichment, imports, jobs, SP-API calls, raw documents, dead letters, and tracking out
//! (shipments by state, Amazon's rejections, feeds, recording → confirmed time); as text and
//! JSON.
//!
//! The store-reading parts work over the workflow's ports ([`StackState::collect`],
//! [`TrackingState::collect`]), so the same code reads moto in a run and in-memory stores in
//! a unit test.

use std::collections::BTreeMap;

use serde::Serialize;
use spsync_domain::{FeedJob, JobState, Order, OrderStatus, ReportJob, Shipment, ShipmentState};
use spsync_sim::state::Stats;
use spsync_workflow::{
    FeedJobStore, JobStore, OrderStore, SellerAccount, SellerDirectory, ShipmentStore, StoreError,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::desk::DeskStats;
use crate::table;
use crate::transcript::FunctionCounts;

/// Simulator operations that are not SP-API calls: the LWA token exchange and the download
/// of presigned document URLs.
const NOT_SP_API: [&str; 2] = ["lwaToken", "document"];

/// Orders, jobs and sellers as stored in the stack.
#[derive(Debug, Clone, Default)]
pub struct StackState {
    /// Registered sellers.
    pub sellers: Vec<SellerAccount>,
    /// Every order of every seller (by seller, status, purchase date).
    pub orders: Vec<Order>,
    /// Every report job of every seller and marketplace (newest first per marketplace).
    pub jobs: Vec<ReportJob>,
}

/// Most jobs read per seller and marketplace (a run makes a dozen or so).
const MAX_JOBS: usize = 10_000;
const PAGE: usize = 100;

impl StackState {
    /// Reads sellers, their orders (through the `ByStatus` listing) and their jobs.
    pub async fn collect(
        sellers: &dyn SellerDirectory,
        jobs: &dyn JobStore,
        orders: &dyn OrderStore,
    ) -> Result<Self, StoreError> {
        let sellers = sellers.sellers().await?;
        let mut state = Self {
            sellers,
            ..Self::default()
        };
        for seller in &state.sellers {
            for status in OrderStatus::ALL {
                let mut page = None;
                loop {
                    let (batch, next) = orders
                        .orders_by_status(&seller.seller_id, status, page, PAGE)
                        .await?;
                    state.orders.extend(batch);
                    match next {
                        Some(token) => page = Some(token),
                        None => break,
                    }
                }
            }
            for marketplace in &seller.marketplaces {
                state.jobs.extend(
                    jobs.recent_jobs(&seller.seller_id, marketplace, MAX_JOBS)
                        .await?,
                );
            }
        }
        Ok(state)
    }

    /// Orders read by every import so far (the denominator of calls per imported order).
    pub fn orders_read(&self) -> u64 {
        self.jobs
            .iter()
            .filter_map(|j| j.stats.as_ref())
            .map(|s| s.orders)
            .sum()
    }
}

/// Counts of missing enrichment fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MissingCounts {
    /// Buyer name.
    pub buyer_name: u64,
    /// Buyer email.
    pub buyer_email: u64,
    /// Phone (buyer or recipient).
    pub phone: u64,
    /// Recipient street address.
    pub recipient_address: u64,
    /// Order-item ids.
    pub order_item_ids: u64,
}

/// Orders of one seller (or all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderCounts {
    /// By spsync status (`ORDER_NEW`, ...).
    pub by_status: BTreeMap<String, u64>,
    /// All orders.
    pub total: u64,
    /// Fulfilled by Amazon (kept, never offered for fulfilment).
    pub fba: u64,
    /// Orders with nothing missing.
    pub complete: u64,
    /// Orders still missing something (Pending at Amazon, or not yet enriched).
    pub incomplete: u64,
    /// Of those, still worth an enrichment call (not cancelled).
    pub needing_enrichment: u64,
    /// Which fields are missing, over all orders.
    pub missing: MissingCounts,
}

impl OrderCounts {
    /// Counts `orders`.
    pub fn of<'a>(orders: impl IntoIterator<Item = &'a Order>) -> Self {
        let mut c = Self::default();
        for status in OrderStatus::ALL {
            c.by_status.insert(status.as_str().to_owned(), 0);
        }
        for o in orders {
            *c.by_status.entry(o.status.as_str().to_owned()).or_default() += 1;
            c.total += 1;
            c.fba += u64::from(o.is_fba());
            let m = o.missing();
            if m.is_none() {
                c.complete += 1;
            } else {
                c.incomplete += 1;
            }
            c.needing_enrichment += u64::from(o.needs_enrichment());
            c.missing.buyer_name += u64::from(m.buyer_name);
            c.missing.buyer_email += u64::from(m.buyer_email);
            c.missing.phone += u64::from(m.phone);
            c.missing.recipient_address += u64::from(m.recipient_address);
            c.missing.order_item_ids += u64::from(m.order_item_ids);
        }
        c
    }
}

/// Orders of one seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SellerOrders {
    /// Seller.
    pub seller_id: String,
    /// Marketplaces.
    pub marketplaces: Vec<String>,
    /// Counts.
    pub orders: OrderCounts,
}

/// Totals of every import (from the jobs' import stats).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportTotals {
    /// Jobs by state (`IMPORTED`, `FAILED`, ...).
    pub jobs_by_state: BTreeMap<String, u64>,
    /// Data rows read.
    pub rows: u64,
    /// Orders read (row groups).
    pub orders_read: u64,
    /// Orders created.
    pub created: u64,
    /// Orders updated.
    pub updated: u64,
    /// Orders unchanged (no write).
    pub unchanged: u64,
    /// Rows older than the stored order (no write).
    pub stale: u64,
    /// Orders first seen already Cancelled or Shipped: skipped.
    pub skipped_closed: u64,
    /// FBA orders read.
    pub fba: u64,
    /// Malformed rows.
    pub malformed_rows: u64,
    /// Jobs that hold a stored raw document (DONE reports fetched).
    pub documents_stored: u64,
    /// Why jobs failed, with counts.
    pub failures: BTreeMap<String, u64>,
}

impl ImportTotals {
    /// Sums `jobs`.
    pub fn of<'a>(jobs: impl IntoIterator<Item = &'a ReportJob>) -> Self {
        let mut t = Self::default();
        for j in jobs {
            *t.jobs_by_state
                .entry(j.state.as_str().to_owned())
                .or_default() += 1;
            t.documents_stored += u64::from(j.document_key.is_some());
            if j.state == JobState::Failed {
                let reason = j.failure.clone().unwrap_or_else(|| "unknown".into());
                *t.failures.entry(reason).or_default() += 1;
            }
            if let Some(s) = &j.stats {
                t.rows += s.rows;
                t.orders_read += s.orders;
                t.created += s.created;
                t.updated += s.updated;
                t.unchanged += s.unchanged;
                t.stale += s.stale;
                t.skipped_closed += s.skipped_closed;
                t.fba += s.fba;
                t.malformed_rows += s.malformed_rows;
            }
        }
        t
    }
}

/// Calls of one simulator operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OperationCounts {
    /// Requests.
    pub calls: u64,
    /// 2xx.
    pub ok: u64,
    /// 429.
    pub throttled: u64,
    /// Other 4xx.
    pub client_errors: u64,
    /// 5xx.
    pub server_errors: u64,
}

/// SP-API traffic as the simulator counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpApiTraffic {
    /// SP-API operations (no LWA, no document downloads).
    pub by_operation: BTreeMap<String, OperationCounts>,
    /// SP-API calls.
    pub calls: u64,
    /// 429 answers.
    pub throttled: u64,
    /// LWA token exchanges.
    pub lwa_token_calls: u64,
    /// Downloads of presigned document URLs.
    pub document_downloads: u64,
}

impl SpApiTraffic {
    /// From the simulator's counters.
    pub fn of(stats: &Stats) -> Self {
        let mut t = Self::default();
        for (name, s) in &stats.operations {
            let counts = OperationCounts {
                calls: s.calls,
                ok: s.ok,
                throttled: s.throttled,
                client_errors: s.client_errors,
                server_errors: s.server_errors,
            };
            match name.as_str() {
                "lwaToken" => t.lwa_token_calls += s.calls,
                "document" => t.document_downloads += s.calls,
                _ => {
                    t.calls += s.calls;
                    t.throttled += s.throttled;
                    t.by_operation.insert(name.clone(), counts);
                }
            }
        }
        debug_assert!(NOT_SP_API.iter().all(|n| !t.by_operation.contains_key(*n)));
        t
    }

    /// SP-API calls made since `earlier`.
    pub fn calls_since(&self, earlier: &Self) -> u64 {
        self.calls.saturating_sub(earlier.calls)
    }
}

/// SP-API calls per order read by imports over a window of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Efficiency {
    /// Window start (simulated time, RFC 3339).
    pub from: String,
    /// SP-API calls in the window.
    pub calls: u64,
    /// Orders read by imports in the window.
    pub orders_read: u64,
    /// `calls / orders_read` (`None` when nothing was imported).
    pub calls_per_imported_order: Option<f64>,
}

impl Efficiency {
    /// The ratio over a window.
    pub fn new(from: OffsetDateTime, calls: u64, orders_read: u64) -> Self {
        Self {
            from: rfc3339(from),
            calls,
            orders_read,
            calls_per_imported_order: (orders_read > 0).then(|| calls as f64 / orders_read as f64),
        }
    }
}

/// Shipments and fulfilment feed jobs as stored in the stack.
#[derive(Debug, Clone, Default)]
pub struct TrackingState {
    /// Every shipment of every seller, by seller and state.
    pub shipments: Vec<Shipment>,
    /// Every fulfilment feed job of every seller (newest first per seller).
    pub feed_jobs: Vec<FeedJob>,
}

/// Most feed jobs read per seller (a demo makes a few dozen).
const MAX_FEED_JOBS: usize = 10_000;

impl TrackingState {
    /// Reads the shipments of `sellers` in every state (through the `ByState` listing) and
    /// their feed jobs.
    pub async fn collect(
        sellers: &[SellerAccount],
        shipments: &dyn ShipmentStore,
        feed_jobs: &dyn FeedJobStore,
    ) -> Result<Self, StoreError> {
        let mut state = Self::default();
        for seller in sellers {
            for name in ShipmentState::NAMES {
                let mut page = None;
                loop {
                    let (batch, next) = shipments
                        .shipments_in_state(&seller.seller_id, name, page, PAGE)
                        .await?;
                    state.shipments.extend(batch);
                    match next {
                        Some(token) => page = Some(token),
                        None => break,
                    }
                }
            }
            state.feed_jobs.extend(
                feed_jobs
                    .recent_feed_jobs(&seller.seller_id, MAX_FEED_JOBS)
                    .await?,
            );
        }
        Ok(state)
    }
}

/// SP-API operations of the fulfilment feed (what sending tracking costs, besides the
/// closed loop's searchOrders).
pub const FEED_OPERATIONS: [&str; 5] = [
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeeds",
    "getFeedDocument",
];

/// Rejections and refusals listed in the summary.
const FIRST_FEW: usize = 5;

/// Shipments of one seller by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SellerShipments {
    /// Seller.
    pub seller_id: String,
    /// By state name (every state present, zeros included).
    pub by_state: BTreeMap<String, u64>,
    /// All of the seller's shipments.
    pub total: u64,
}

impl SellerShipments {
    fn of<'a>(seller_id: &str, shipments: impl IntoIterator<Item = &'a Shipment>) -> Self {
        let mut by_state: BTreeMap<String, u64> = ShipmentState::NAMES
            .iter()
            .map(|n| ((*n).to_owned(), 0))
            .collect();
        let mut total = 0;
        for s in shipments {
            *by_state.entry(s.state.name().to_owned()).or_default() += 1;
            total += 1;
        }
        Self {
            seller_id: seller_id.to_owned(),
            by_state,
            total,
        }
    }
}

/// A shipment Amazon rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// `<order>/<shipment>`.
    pub shipment: String,
    /// Amazon's error code.
    pub code: String,
    /// Amazon's message.
    pub message: String,
}

/// Seconds from recording to confirmation at Amazon (simulated time), over the Confirmed
/// shipments (nearest-rank percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfirmLatency {
    /// Confirmed shipments measured.
    pub count: u64,
    /// Median.
    pub p50: i64,
    /// 95th percentile.
    pub p95: i64,
    /// Longest.
    pub max: i64,
}

impl ConfirmLatency {
    /// The percentiles of `seconds` (`None` when empty).
    pub fn of(mut seconds: Vec<i64>) -> Option<Self> {
        if seconds.is_empty() {
            return None;
        }
        seconds.sort_unstable();
        let rank = |p: f64| {
            let n = seconds.len();
            let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            seconds[i]
        };
        Some(Self {
            count: seconds.len() as u64,
            p50: rank(0.50),
            p95: rank(0.95),
            max: seconds[seconds.len() - 1],
        })
    }
}

/// Tracking out: what was recorded, where it is, what Amazon said, what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrackingSummary {
    /// What the local run's shipping desk did (`None`: the desk was off).
    pub desk: Option<DeskStats>,
    /// Shipments stored.
    pub shipments: u64,
    /// By seller and state.
    pub sellers: Vec<SellerShipments>,
    /// Every seller's shipments by state.
    pub by_state: BTreeMap<String, u64>,
    /// Shipments without a tracking number (they count against the Valid Tracking Rate).
    pub without_tracking: u64,
    /// Shipments corrected after recording (revision above 1).
    pub corrected: u64,
    /// Shipments sent in a feed at least once.
    pub sent: u64,
    /// Rejected shipments.
    pub rejected: u64,
    /// The first few, with Amazon's code and message.
    pub rejections: Vec<Rejection>,
    /// Fulfilment feed jobs by state.
    pub feeds_by_state: BTreeMap<String, u64>,
    /// Feed jobs.
    pub feeds: u64,
    /// Lines of the applied feeds: accepted, with a warning, rejected.
    pub feed_lines: (u64, u64, u64),
    /// Recording → confirmed, simulated seconds.
    pub confirm_seconds: Option<ConfirmLatency>,
    /// SP-API calls of the feed operations ([`FEED_OPERATIONS`]).
    pub feed_calls: u64,
    /// `feed_calls / sent` (`None` when nothing was sent).
    pub feed_calls_per_shipment: Option<f64>,
    /// SP-API calls of the read-back (searchOrders pages, getOrder lookups).
    pub read_back_calls: u64,
    /// `(feed_calls + read_back_calls) / sent` (`None` when nothing was sent).
    pub calls_per_shipment: Option<f64>,
}

impl TrackingSummary {
    /// Summarises `state` with the simulator's traffic and the desk's counters.
    pub fn of(
        sellers: &[SellerAccount],
        state: &TrackingState,
        traffic: &SpApiTraffic,
        desk: Option<DeskStats>,
        read_back_calls: u64,
    ) -> Self {
        let shipments = &state.shipments;
        let mut rejections = Vec::new();
        let mut rejected = 0;
        for s in shipments {
            if let ShipmentState::Rejected { code, message, .. } = &s.state {
                rejected += 1;
                if rejections.len() < FIRST_FEW {
                    rejections.push(Rejection {
                        shipment: s.reference(),
                        code: code.clone(),
                        message: message.clone(),
                    });
                }
            }
        }
        let mut feeds_by_state = BTreeMap::new();
        let mut feed_lines = (0, 0, 0);
        for j in &state.feed_jobs {
            *feeds_by_state.entry(j.state.name().to_owned()).or_default() += 1;
            feed_lines.0 += u64::from(j.counts.accepted);
            feed_lines.1 += u64::from(j.counts.warned);
            feed_lines.2 += u64::from(j.counts.rejected);
        }
        let sent = shipments
            .iter()
            .filter(|s| s.sent_revision.is_some())
            .count() as u64;
        let feed_calls = FEED_OPERATIONS
            .iter()
            .filter_map(|op| traffic.by_operation.get(*op))
            .map(|c| c.calls)
            .sum();
        Self {
            desk,
            shipments: shipments.len() as u64,
            sellers: sellers
                .iter()
                .map(|a| {
                    SellerShipments::of(
                        a.seller_id.as_str(),
                        shipments.iter().filter(|s| s.seller_id == a.seller_id),
                    )
                })
                .collect(),
            by_state: SellerShipments::of("all", shipments).by_state,
            without_tracking: shipments.iter().filter(|s| s.details.hurts_vtr).count() as u64,
            corrected: shipments.iter().filter(|s| s.revision > 1).count() as u64,
            sent,
            rejected,
            rejections,
            feeds: state.feed_jobs.len() as u64,
            feeds_by_state,
            feed_lines,
            confirm_seconds: ConfirmLatency::of(
                shipments
                    .iter()
                    .filter(|s| matches!(s.state, ShipmentState::Confirmed { .. }))
                    .filter_map(|s| s.confirm_seconds)
                    .collect(),
            ),
            feed_calls,
            feed_calls_per_shipment: (sent > 0).then(|| feed_calls as f64 / sent as f64),
            read_back_calls,
            calls_per_shipment: (sent > 0)
                .then(|| (feed_calls + read_back_calls) as f64 / sent as f64),
        }
    }

    /// The "Tracking out" block of the text summary.
    pub fn render(&self) -> String {
        let mut out = String::from("Tracking out\n");
        match &self.desk {
            Some(d) => {
                out.push_str(&format!(
                    "shipping desk (ships {:.0} % of the released merchant orders): {} shipments recorded through the API ({} without tracking), {} refused at recording, {} 5xx answers retried at the next visit{}, {} tracking corrections sent{}\n",
                    d.share * 100.0,
                    d.recorded,
                    d.without_tracking,
                    d.refused,
                    d.server_errors,
                    if d.waiting_retry > 0 {
                        format!(" ({} still waiting)", d.waiting_retry)
                    } else {
                        String::new()
                    },
                    d.corrections_sent,
                    if d.corrections_refused > 0 {
                        format!(" ({} refused)", d.corrections_refused)
                    } else {
                        String::new()
                    }
                ));
                for r in &d.refusals {
                    out.push_str(&format!("  refused, e.g. {r}\n"));
                }
                for r in &d.correction_refusals {
                    out.push_str(&format!("  correction refused: {r}\n"));
                }
            }
            None => out.push_str("shipping desk off\n"),
        }
        let mut headers = vec!["seller"];
        headers.extend(ShipmentState::NAMES);
        headers.push("total");
        let row = |name: &str, by_state: &BTreeMap<String, u64>, total: u64| {
            let mut r = vec![name.to_owned()];
            r.extend(
                ShipmentState::NAMES
                    .iter()
                    .map(|n| by_state.get(*n).copied().unwrap_or(0).to_string()),
            );
            r.push(total.to_string());
            r
        };
        let mut rows: Vec<Vec<String>> = self
            .sellers
            .iter()
            .map(|s| row(&s.seller_id, &s.by_state, s.total))
            .collect();
        rows.push(row("all", &self.by_state, self.shipments));
        out.push_str(&table::render(&headers, &rows));
        out.push_str(&format!(
            "{} shipments: {} without tracking (they count against the Valid Tracking Rate), {} corrected after recording, {} rejected by Amazon\n",
            self.shipments, self.without_tracking, self.corrected, self.rejected
        ));
        for r in &self.rejections {
            out.push_str(&format!(
                "  rejected {}: {} {}\n",
                r.shipment, r.code, r.message
            ));
        }
        let feeds = self
            .feeds_by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "Fulfilment feeds: {} ({}); lines {} accepted, {} with a warning, {} rejected\n",
            self.feeds,
            if feeds.is_empty() { "none" } else { &feeds },
            self.feed_lines.0,
            self.feed_lines.1,
            self.feed_lines.2
        ));
        match &self.confirm_seconds {
            Some(c) => out.push_str(&format!(
                "Recording -> confirmed at Amazon (simulated): p50 {} s, p95 {} s, max {} s over {} confirmed shipments\n",
                c.p50, c.p95, c.max, c.count
            )),
            None => out.push_str("Recording -> confirmed at Amazon: no confirmed shipment\n"),
        }
        out.push_str(&format!(
            "SP-API calls per shipment sent: {} ({} calls of {} + {} read-back calls of searchOrders/getOrder, / {} shipments sent; feeds alone {})\n",
            ratio(self.calls_per_shipment),
            self.feed_calls,
            FEED_OPERATIONS.join("/"),
            self.read_back_calls,
            self.sent,
            ratio(self.feed_calls_per_shipment),
        ));
        out
    }
}

/// Raw documents in the bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DocumentCounts {
    /// Objects under `reports/`.
    pub objects: u64,
    /// Their total size.
    pub bytes: u64,
}

/// Step messages the runner still held when the run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    /// Delayed messages still in the outbox.
    pub delayed_messages: u64,
    /// Failed messages waiting for their visibility timeout.
    pub failed_in_flight: u64,
}

/// The summary of a run (printed, and exported as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Simulated start (RFC 3339).
    pub simulated_start: String,
    /// Simulated end (RFC 3339).
    pub simulated_end: String,
    /// Simulated hours run (schedules fired during these).
    pub hours: f64,
    /// Ticks driven (including settling).
    pub ticks: u64,
    /// Wall-clock seconds the run took.
    pub wall_seconds: f64,
    /// Orders per seller.
    pub sellers: Vec<SellerOrders>,
    /// Orders of every seller.
    pub orders: OrderCounts,
    /// Imports and jobs.
    pub imports: ImportTotals,
    /// SP-API traffic.
    pub spapi: SpApiTraffic,
    /// Raw documents in S3.
    pub documents: DocumentCounts,
    /// Messages in each dead-letter queue (by logical id).
    pub dead_letters: BTreeMap<String, u64>,
    /// Invocations per function.
    pub invocations: BTreeMap<String, FunctionCounts>,
    /// What the runner still held at the end.
    pub leftovers: Leftovers,
    /// SP-API calls per imported order over the whole run.
    pub whole_run: Efficiency,
    /// The same over the second half of the run (the backlog enriched by then).
    pub second_half: Efficiency,
    /// Tracking out.
    pub tracking: TrackingSummary,
}

impl Summary {
    /// Total messages in dead-letter queues.
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }

    /// The summary as aligned text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "spsync local run: {} simulated hours ({} -> {}), {} ticks, {:.1} s wall\n\n",
            trim_float(self.hours),
            self.simulated_start,
            self.simulated_end,
            self.ticks,
            self.wall_seconds
        ));
        let statuses: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        let mut headers = vec!["seller"];
        headers.extend(statuses.iter().copied());
        headers.extend(["total", "FBA", "complete", "incomplete"]);
        let row = |name: &str, c: &OrderCounts| {
            let mut r = vec![name.to_owned()];
            r.extend(
                statuses
                    .iter()
                    .map(|s| c.by_status.get(*s).copied().unwrap_or(0).to_string()),
            );
            r.extend([
                c.total.to_string(),
                c.fba.to_string(),
                c.complete.to_string(),
                c.incomplete.to_string(),
            ]);
            r
        };
        let mut rows: Vec<Vec<String>> = self
            .sellers
            .iter()
            .map(|s| row(&s.seller_id, &s.orders))
            .collect();
        rows.push(row("all", &self.orders));
        out.push_str("Orders\n");
        out.push_str(&table::render(&headers, &rows));
        let m = &self.orders.missing;
        out.push_str(&format!(
            "still missing (Pending at Amazon or not yet enriched): buyer name {}, buyer email {}, phone {}, recipient address {}, order-item ids {}; {} orders still worth an enrichment call\n\n",
            m.buyer_name,
            m.buyer_email,
            m.phone,
            m.recipient_address,
            m.order_item_ids,
            self.orders.needing_enrichment
        ));

        let i = &self.imports;
        let states = i
            .jobs_by_state
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("Report jobs: {states}\n"));
        for (reason, n) in &i.failures {
            out.push_str(&format!("  failed x{n}: {reason}\n"));
        }
        out.push_str(&format!(
            "Imports: {} rows, {} orders read: {} created, {} updated, {} unchanged (no write), {} stale; {} skipped (closed before first seen); {} FBA; {} malformed rows\n\n",
            i.rows, i.orders_read, i.created, i.updated, i.unchanged, i.stale, i.skipped_closed, i.fba, i.malformed_rows
        ));

        let ops: Vec<Vec<String>> = self
            .spapi
            .by_operation
            .iter()
            .map(|(name, c)| {
                vec![
                    name.clone(),
                    c.calls.to_string(),
                    c.ok.to_string(),
                    c.throttled.to_string(),
                    c.client_errors.to_string(),
                    c.server_errors.to_string(),
                ]
            })
            .collect();
        out.push_str("SP-API calls\n");
        out.push_str(&table::render(
            &["operation", "calls", "ok", "429", "4xx", "5xx"],
            &ops,
        ));
        out.push_str(&format!(
            "total {} SP-API calls, {} throttled (429); besides: {} LWA token exchanges, {} document downloads\n\n",
            self.spapi.calls, self.spapi.throttled, self.spapi.lwa_token_calls, self.spapi.document_downloads
        ));

        out.push_str(&format!(
            "Raw documents in S3: {} objects, {} bytes ({} jobs hold a stored document)\n",
            self.documents.objects, self.documents.bytes, i.documents_stored
        ));
        let dlq = self
            .dead_letters
            .iter()
            .map(|(q, n)| format!("{q} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("Dead-letter queues: {dlq}\n"));
        let inv = self
            .invocations
            .iter()
            .map(|(f, c)| {
                if c.http_error_answers > 0 {
                    format!(
                        "{f} {} ({} records, {} failed, {} errors, {} answered 4xx/5xx)",
                        c.invocations, c.records, c.failed_records, c.errors, c.http_error_answers
                    )
                } else {
                    format!(
                        "{f} {} ({} records, {} failed, {} errors)",
                        c.invocations, c.records, c.failed_records, c.errors
                    )
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push_str(&format!("Invocations: {inv}\n"));
        if self.leftovers != Leftovers::default() {
            out.push_str(&format!(
                "Still held by the runner at the end: {} delayed messages, {} failed messages waiting to become visible\n",
                self.leftovers.delayed_messages, self.leftovers.failed_in_flight
            ));
        }
        out.push_str(&format!(
            "\nSP-API calls per imported order (report and Orders API calls of orders in; the tracking feeds and read-back are counted below): {} over the whole run ({} calls / {} orders read); {} over the second half, from {} ({} / {})\n",
            ratio(self.whole_run.calls_per_imported_order),
            self.whole_run.calls,
            self.whole_run.orders_read,
            ratio(self.second_half.calls_per_imported_order),
            self.second_half.from,
            self.second_half.calls,
            self.second_half.orders_read
        ));
        out.push('\n');
        out.push_str(&self.tracking.render());
        out
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.3}"))
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// RFC 3339 of a simulated instant.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use spsync_domain::{
        AmazonOrderId, AmazonOrderStatus, FulfillmentChannel, ImportStats, JobId, MarketplaceId,
        OrderLine, SellerId,
    };
    use spsync_testkit::memory::{MemoryJobStore, MemoryOrderStore};
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn order(id: &str, status: OrderStatus, fba: bool, enriched: bool) -> Order {
        Order {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            amazon_order_id: AmazonOrderId::new(id),
            merchant_order_id: None,
            status,
            amazon_status: AmazonOrderStatus::Unshipped,
            fulfillment_channel: if fba {
                FulfillmentChannel::Amazon
            } else {
                FulfillmentChannel::Merchant
            },
            purchase_date: NOW,
            last_updated: NOW,
            sales_channel: None,
            ship_service_level: None,
            is_business_order: false,
            currency: None,
            lines: vec![OrderLine {
                sku: Some("SKU".into()),
                asin: None,
                product_name: None,
                quantity: 1,
                item_status: None,
                item_price: None,
                order_item_id: enriched.then(|| "1".to_owned()),
            }],
            ship_to: Default::default(),
            buyer: spsync_domain::Buyer {
                name: enriched.then(|| "n".to_owned()),
                email: enriched.then(|| "e".to_owned()),
                phone: enriched.then(|| "p".to_owned()),
            },
            recipient: enriched.then(|| spsync_domain::Address {
                lines: vec!["street".into()],
                ..Default::default()
            }),
            version: 1,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn job(id: &str, state: JobState, stats: Option<ImportStats>) -> ReportJob {
        let mut j = ReportJob::new(
            JobId::new(id),
            SellerId::new("A1"),
            MarketplaceId::new("ATVPDKIKX0DER"),
            spsync_domain::ORDERS_REPORT_TYPE,
            Duration::from_secs(3 * 86_400),
            NOW,
        );
        j.state = state;
        j.stats = stats;
        j
    }

    #[tokio::test]
    async fn collects_and_counts_what_the_stores_hold() {
        let jobs = MemoryJobStore::new();
        let orders = MemoryOrderStore::new();
        jobs.put_seller(&SellerAccount {
            seller_id: SellerId::new("A1"),
            marketplaces: vec![MarketplaceId::new("ATVPDKIKX0DER")],
            region: "na".into(),
            credentials_secret: "spsync/sellers/A1".into(),
            enabled: true,
        })
        .await
        .unwrap();
        for o in [
            order("111-0000000-0000001", OrderStatus::New, false, true),
            order("111-0000000-0000002", OrderStatus::New, false, false),
            order("111-0000000-0000003", OrderStatus::Canceled, false, false),
            order("111-0000000-0000004", OrderStatus::Fulfilled, true, false),
        ] {
            orders.put_order(&o, None).await.unwrap();
        }
        let stats = ImportStats {
            rows: 6,
            orders: 4,
            created: 4,
            skipped_closed: 1,
            malformed_rows: 2,
            ..Default::default()
        };
        jobs.put_job(&job("j1", JobState::Imported, Some(stats)), None)
            .await
            .unwrap();
        let mut failed = job("j2", JobState::Failed, None);
        failed.failure = Some("FATAL".into());
        jobs.put_job(&failed, None).await.unwrap();

        let state = StackState::collect(&jobs, &jobs, &orders).await.unwrap();
        let counts = OrderCounts::of(&state.orders);
        let imports = ImportTotals::of(&state.jobs);

        assert_eq!(state.orders.len(), 4);
        assert_eq!(counts.by_status["ORDER_NEW"], 2);
        assert_eq!(counts.by_status["ORDER_CANCELED"], 1);
        assert_eq!(counts.by_status["ORDER_FULFILLED"], 1);
        assert_eq!(counts.fba, 1);
        assert_eq!(counts.complete, 1);
        // the cancelled order misses fields but is not worth a call
        assert_eq!(counts.needing_enrichment, 2);
        // FBA: buyer fields are never missing; the recipient address and item ids are
        assert_eq!(counts.missing.buyer_name, 2);
        assert_eq!(counts.missing.recipient_address, 2);
        assert_eq!(counts.missing.order_item_ids, 3);
        assert_eq!(state.orders_read(), 4);
        assert_eq!(imports.jobs_by_state["IMPORTED"], 1);
        assert_eq!(imports.jobs_by_state["FAILED"], 1);
        assert_eq!(imports.failures["FATAL"], 1);
        assert_eq!((imports.skipped_closed, imports.malformed_rows), (1, 2));
    }

    fn shipment(order: &Order, id: &str, tracking: bool, state: ShipmentState) -> Shipment {
        let details = spsync_domain::CheckedShipment {
            amazon_order_id: order.amazon_order_id.clone(),
            carrier_code: "UPS".into(),
            carrier_name: "UPS".into(),
            tracking_number: tracking.then(|| "1Z999AA10123456784".to_owned()),
            ship_date: NOW,
            ship_method: Some("UPS Ground".into()),
            items: vec![spsync_domain::ShipmentItem {
                order_item_id: "1".into(),
                quantity: 1,
            }],
            hurts_vtr: !tracking,
        };
        let mut s = Shipment::record(order, id, details, "api", NOW);
        s.version = 1;
        s.sent_revision = (state != ShipmentState::Queued).then_some(1);
        s.state = state;
        s
    }

    #[tokio::test]
    async fn tracking_counts_states_rejections_feeds_and_confirm_times() {
        use spsync_testkit::shipping::{MemoryFeedJobStore, MemoryShipmentStore};
        let shipments = MemoryShipmentStore::new();
        let feeds = MemoryFeedJobStore::new();
        let seller = SellerAccount {
            seller_id: SellerId::new("A1"),
            marketplaces: vec![MarketplaceId::new("ATVPDKIKX0DER")],
            region: "na".into(),
            credentials_secret: "s".into(),
            enabled: true,
        };
        let o = order("111-0000000-0000001", OrderStatus::New, false, true);
        let confirmed = |secs: i64| {
            let mut s = shipment(
                &o,
                &format!("C{secs}"),
                true,
                ShipmentState::Confirmed { confirmed_at: NOW },
            );
            s.confirm_seconds = Some(secs);
            s
        };
        let mut corrected = confirmed(400);
        corrected.revision = 2;
        let rejected = shipment(
            &o,
            "R1",
            true,
            ShipmentState::Rejected {
                feed_id: "F1".into(),
                code: "10013".into(),
                message: "order cancelled".into(),
                rejected_at: NOW,
            },
        );
        for s in [
            confirmed(100),
            confirmed(200),
            confirmed(300),
            corrected,
            rejected,
            shipment(&o, "Q1", false, ShipmentState::Queued),
        ] {
            shipments.put_shipment(&s, None).await.unwrap();
        }
        let mut job = FeedJob::new(
            SellerId::new("A1"),
            JobId::new("F-1"),
            "POST_FLAT_FILE_FULFILLMENT_DATA",
            "feeds/x.tsv".into(),
            90,
            NOW,
        );
        job.state = spsync_domain::FeedJobState::Applied {
            feed_id: "F1".into(),
        };
        job.counts.accepted = 4;
        job.counts.rejected = 1;
        job.version = 1;
        feeds.put_feed_job(&job, None).await.unwrap();
        let mut stats = Stats::default();
        for op in [
            "createFeedDocument",
            "createFeed",
            "getFeed",
            "getFeed",
            "getFeedDocument",
            "searchOrders",
        ] {
            stats.record(op, 200);
        }

        let state = TrackingState::collect(std::slice::from_ref(&seller), &shipments, &feeds)
            .await
            .unwrap();
        let t = TrackingSummary::of(&[seller], &state, &SpApiTraffic::of(&stats), None, 3);

        assert_eq!(t.shipments, 6);
        assert_eq!(t.by_state["Confirmed"], 4);
        assert_eq!(
            (
                t.by_state["Rejected"],
                t.by_state["Queued"],
                t.by_state["Held"]
            ),
            (1, 1, 0)
        );
        assert_eq!(t.sellers[0].total, 6);
        assert_eq!((t.without_tracking, t.corrected, t.sent), (1, 1, 5));
        assert_eq!(t.rejected, 1);
        assert_eq!(t.rejections[0].shipment, "111-0000000-0000001/R1");
        assert_eq!(t.rejections[0].code, "10013");
        assert_eq!(t.feeds_by_state["Applied"], 1);
        assert_eq!(t.feed_lines, (4, 0, 1));
        assert_eq!(
            t.confirm_seconds,
            Some(ConfirmLatency {
                count: 4,
                p50: 200,
                p95: 400,
                max: 400
            })
        );
        assert_eq!(t.feed_calls, 5, "searchOrders is not a feed call");
        assert_eq!(t.feed_calls_per_shipment, Some(1.0));
        assert_eq!(
            t.calls_per_shipment,
            Some(1.6),
            "the 3 read-back calls count too"
        );
        let text = t.render();
        assert!(text.contains("shipping desk off"), "{text}");
        assert!(
            text.contains("rejected 111-0000000-0000001/R1: 10013 order cancelled"),
            "{text}"
        );
        assert!(
            text.contains("p50 200 s, p95 400 s, max 400 s over 4 confirmed"),
            "{text}"
        );
    }

    #[test]
    fn confirm_percentiles_are_nearest_rank() {
        assert_eq!(ConfirmLatency::of(Vec::new()), None);
        let l = ConfirmLatency::of((1..=100).rev().collect()).unwrap();
        assert_eq!((l.count, l.p50, l.p95, l.max), (100, 50, 95, 100));
        let one = ConfirmLatency::of(vec![7]).unwrap();
        assert_eq!((one.p50, one.p95, one.max), (7, 7, 7));
    }

    #[test]
    fn lwa_and_downloads_are_not_sp_api_calls() {
        let mut stats = Stats::default();
        stats.record("searchOrders", 200);
        stats.record("searchOrders", 429);
        stats.record("getReport", 200);
        stats.record("lwaToken", 200);
        stats.record("document", 200);

        let t = SpApiTraffic::of(&stats);

        assert_eq!((t.calls, t.throttled), (3, 1));
        assert_eq!((t.lwa_token_calls, t.document_downloads), (1, 1));
        assert_eq!(t.by_operation["searchOrders"].throttled, 1);
        assert!(!t.by_operation.contains_key("lwaToken"));
    }

    #[test]
    fn efficiency_is_calls_over_orders_read() {
        let e = Efficiency::new(NOW, 30, 600);
        assert_eq!(e.calls_per_imported_order, Some(0.05));
        assert_eq!(e.from, "2026-11-20T12:00:00Z");
        assert_eq!(Efficiency::new(NOW, 3, 0).calls_per_imported_order, None);
    }
}
