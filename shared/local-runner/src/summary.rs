//! What a run left behind, read back from the stack and the simulator: orders by status,
//! enrichment, imports, jobs, SP-API calls, raw documents, dead letters; as text and JSON.
//!
//! The store-reading part works over the workflow's ports ([`StackState::collect`]), so the
//! same code reads moto in a run and in-memory stores in a unit test.

use std::collections::BTreeMap;

use serde::Serialize;
use spsync_domain::{JobState, Order, OrderStatus, ReportJob};
use spsync_sim::state::Stats;
use spsync_workflow::{JobStore, OrderStore, SellerAccount, SellerDirectory, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
                format!(
                    "{f} {} ({} records, {} failed, {} errors)",
                    c.invocations, c.records, c.failed_records, c.errors
                )
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
            "\nSP-API calls per imported order: {} over the whole run ({} calls / {} orders read); {} over the second half, from {} ({} / {})\n",
            ratio(self.whole_run.calls_per_imported_order),
            self.whole_run.calls,
            self.whole_run.orders_read,
            ratio(self.second_half.calls_per_imported_order),
            self.second_half.from,
            self.second_half.calls,
            self.second_half.orders_read
        ));
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
