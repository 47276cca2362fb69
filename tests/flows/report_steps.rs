//! The order-import flow's steps against a scripted Amazon (every report outcome, throttling
//! at each call, duplicate deliveries, crashes between steps, re-import without writes,
//! enrichment of orders that leave Pending), on in-memory stores and a virtual clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use spsync_domain::{
    AmazonOrderId, AmazonOrderStatus, Buyer, EnrichedItem, Enrichment, JobState, MarketplaceId,
    OrderStatus, ProcessingStatus, SellerId,
};
use spsync_testkit::memory::FailOp;
use spsync_workflow::{
    ApiError, DownloadedDocument, JobKey, OrderSearchPage, OrdersApi, ReportStatus, ReportsApi,
    StartOutcome, Step, StepMessage, StepOutcome,
};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{Harness, ManualTime};

const SELLER: &str = "A1SELLER";
const MKT: &str = "ATVPDKIKX0DER";
const T0: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);

/// What the scripted Amazon answers to each call, in order; the last answer repeats.
#[derive(Default)]
struct ScriptedReports {
    create: Mutex<VecDeque<Result<String, ApiError>>>,
    get: Mutex<VecDeque<Result<ReportStatus, ApiError>>>,
    download: Mutex<VecDeque<Result<DownloadedDocument, ApiError>>>,
    /// A report Amazon created although its createReport answer was lost.
    lost_report: Mutex<Option<String>>,
    calls: Mutex<Vec<&'static str>>,
}

fn next<T: Clone>(q: &Mutex<VecDeque<Result<T, ApiError>>>) -> Result<T, ApiError> {
    let mut q = q.lock().unwrap();
    let item = if q.len() > 1 {
        q.pop_front()
    } else {
        q.front().map(clone_result)
    };
    item.expect("the script has an answer")
}

fn clone_result<T: Clone>(r: &Result<T, ApiError>) -> Result<T, ApiError> {
    match r {
        Ok(v) => Ok(v.clone()),
        Err(ApiError::Throttled {
            operation,
            retry_after,
        }) => Err(ApiError::Throttled {
            operation,
            retry_after: *retry_after,
        }),
        Err(ApiError::Transient { operation, message }) => Err(ApiError::Transient {
            operation,
            message: message.clone(),
        }),
        Err(ApiError::Permanent {
            operation,
            code,
            message,
        }) => Err(ApiError::Permanent {
            operation,
            code: code.clone(),
            message: message.clone(),
        }),
    }
}

impl ScriptedReports {
    fn new(tsv: &str) -> Self {
        let s = Self::default();
        s.create.lock().unwrap().push_back(Ok("R1".into()));
        s.get.lock().unwrap().extend([
            Ok(status(ProcessingStatus::InQueue, None)),
            Ok(status(ProcessingStatus::InProgress, None)),
            Ok(status(ProcessingStatus::Done, Some("DOC1"))),
        ]);
        s.download.lock().unwrap().push_back(Ok(DownloadedDocument {
            bytes: tsv.as_bytes().to_vec(),
            content_type: Some("text/plain; charset=UTF-8".into()),
            gzip: false,
        }));
        s
    }

    fn script_get(&self, answers: Vec<Result<ReportStatus, ApiError>>) {
        *self.get.lock().unwrap() = answers.into();
    }

    fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == op)
            .count()
    }
}

fn status(s: ProcessingStatus, doc: Option<&str>) -> ReportStatus {
    ReportStatus {
        processing_status: s,
        report_document_id: doc.map(str::to_owned),
    }
}

fn throttled(op: &'static str) -> ApiError {
    ApiError::Throttled {
        operation: op,
        retry_after: Duration::from_secs(61),
    }
}

#[async_trait]
impl ReportsApi for ScriptedReports {
    async fn create_report(
        &self,
        _: &SellerId,
        _: &str,
        _: &MarketplaceId,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> Result<String, ApiError> {
        self.calls.lock().unwrap().push("createReport");
        next(&self.create)
    }
    async fn get_report(&self, _: &SellerId, _: &str) -> Result<ReportStatus, ApiError> {
        self.calls.lock().unwrap().push("getReport");
        next(&self.get)
    }
    async fn cancel_report(&self, _: &SellerId, _: &str) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push("cancelReport");
        Ok(())
    }
    async fn find_report(
        &self,
        _: &SellerId,
        _: &str,
        _: &MarketplaceId,
        _: OffsetDateTime,
    ) -> Result<Option<String>, ApiError> {
        self.calls.lock().unwrap().push("getReports");
        Ok(self.lost_report.lock().unwrap().clone())
    }
    async fn download_report_document(
        &self,
        _: &SellerId,
        _: &str,
    ) -> Result<DownloadedDocument, ApiError> {
        self.calls.lock().unwrap().push("getReportDocument");
        next(&self.download)
    }
}

/// Amazon's orders: enrichment data by order, with the time each was last updated.
#[derive(Default)]
struct ScriptedOrders {
    orders: Mutex<Vec<(OffsetDateTime, Enrichment)>>,
    throttle_next_search: Mutex<u32>,
    calls: Mutex<Vec<&'static str>>,
}

impl ScriptedOrders {
    fn set(&self, updated: OffsetDateTime, e: Enrichment) {
        let mut o = self.orders.lock().unwrap();
        o.retain(|(_, x)| x.amazon_order_id != e.amazon_order_id);
        o.push((updated, e));
    }
    fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == op)
            .count()
    }
}

#[async_trait]
impl OrdersApi for ScriptedOrders {
    async fn search_updated_orders(
        &self,
        _: &SellerId,
        _: &MarketplaceId,
        updated_after: OffsetDateTime,
        page_token: Option<&str>,
    ) -> Result<OrderSearchPage, ApiError> {
        self.calls.lock().unwrap().push("searchOrders");
        {
            let mut t = self.throttle_next_search.lock().unwrap();
            if *t > 0 {
                *t -= 1;
                return Err(throttled("searchOrders"));
            }
        }
        let mut matching: Vec<Enrichment> = self
            .orders
            .lock()
            .unwrap()
            .iter()
            .filter(|(u, _)| *u > updated_after)
            .map(|(_, e)| e.clone())
            .collect();
        matching.sort_by(|a, b| a.amazon_order_id.cmp(&b.amazon_order_id));
        // Pages of one order, so pagination is exercised.
        let start: usize = page_token.map_or(0, |t| t.parse().unwrap());
        let page = matching
            .get(start..(start + 1).min(matching.len()))
            .unwrap_or(&[])
            .to_vec();
        let next = (start + 1 < matching.len()).then(|| (start + 1).to_string());
        Ok(OrderSearchPage {
            orders: page,
            next_token: next,
            last_updated_before: Some(
                self.orders
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(u, _)| *u)
                    .max()
                    .unwrap_or(updated_after),
            ),
        })
    }
    async fn get_order(
        &self,
        _: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Enrichment>, ApiError> {
        self.calls.lock().unwrap().push("getOrder");
        Ok(self
            .orders
            .lock()
            .unwrap()
            .iter()
            .find(|(_, e)| e.amazon_order_id == *id)
            .map(|(_, e)| e.clone()))
    }
}

const HEADER: &str = "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tsales-channel\torder-channel\tship-service-level\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\tship-city\tship-state\tship-postal-code\tship-country\tis-business-order";

fn row(id: &str, updated: &str, status: &str, channel: &str, sku: &str) -> String {
    format!(
        "{id}\t\t2026-11-19T08:00:00+00:00\t{updated}\t{status}\t{channel}\tAmazon.com\t\tStandard\tWidget {sku}\t{sku}\tB00{sku}\t{status}\t1\tUSD\t19.99\tSeattle\tWA\t98101\tUS\tfalse"
    )
}

fn report(rows: &[String]) -> String {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s
}

fn sample_report() -> String {
    report(&[
        row(
            "111-0000001-0000001",
            "2026-11-19T08:05:00+00:00",
            "Pending",
            "Merchant",
            "SKU1",
        ),
        row(
            "111-0000001-0000001",
            "2026-11-19T08:05:00+00:00",
            "Pending",
            "Merchant",
            "SKU2",
        ),
        row(
            "111-0000002-0000002",
            "2026-11-19T09:00:00+00:00",
            "Unshipped",
            "Merchant",
            "SKU3",
        ),
        row(
            "111-0000003-0000003",
            "2026-11-19T09:30:00+00:00",
            "Shipped",
            "Merchant",
            "SKU4",
        ),
        row(
            "111-0000004-0000004",
            "2026-11-19T09:40:00+00:00",
            "Cancelled",
            "Merchant",
            "SKU5",
        ),
        row(
            "111-0000005-0000005",
            "2026-11-19T09:50:00+00:00",
            "Unshipped",
            "Amazon",
            "SKU6",
        ),
        "111-0000006-0000006\t\tnot-a-date\t2026-11-19T09:00:00+00:00\tPending\tMerchant"
            .to_string(),
    ])
}

fn harness(tsv: &str) -> Harness<ScriptedReports, ScriptedOrders> {
    Harness::new(
        Arc::new(ManualTime::new(T0)),
        ScriptedReports::new(tsv),
        ScriptedOrders::default(),
    )
}

#[tokio::test]
async fn a_report_runs_from_request_to_imported_orders() {
    let mut h = harness(&sample_report());

    let started = h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let job = h.only_job();
    assert!(matches!(started, StartOutcome::Started(ref id) if *id == job.job_id));
    assert_eq!(job.state, JobState::Imported, "{:#?}", h.transcript);
    assert_eq!(job.polls, 3);
    assert_eq!(h.reports.count("createReport"), 1);
    assert_eq!(h.reports.count("getReport"), 3);
    let stats = job.stats.unwrap();
    assert_eq!(stats.rows, 7);
    assert_eq!(stats.created, 3, "Pending, Unshipped and the FBA order");
    assert_eq!(
        stats.skipped_closed, 2,
        "Shipped and Cancelled never seen before"
    );
    assert_eq!(stats.malformed_rows, 1);
    assert!(
        stats.row_errors[0].starts_with("line 8:"),
        "{:?}",
        stats.row_errors
    );
    assert_eq!(stats.fba, 1);
    let orders = h.orders.all();
    assert_eq!(orders.len(), 3);
    assert!(orders.iter().all(|o| o.status == OrderStatus::New));
    assert_eq!(orders.iter().filter(|o| o.is_fba()).count(), 1);
    let multi = orders
        .iter()
        .find(|o| o.amazon_order_id.as_str() == "111-0000001-0000001")
        .unwrap();
    assert_eq!(multi.lines.len(), 2);
    assert_eq!(h.documents.keys(), vec![job.document_key.clone().unwrap()]);
    assert!(h.dead_letters.is_empty());
    // The slot is free: the next schedule starts a new job.
    assert!(matches!(
        h.start(SELLER, MKT).await,
        StartOutcome::Started(_)
    ));
}

#[tokio::test]
async fn polls_back_off_while_the_report_is_not_ready() {
    let mut h = harness(&sample_report());
    let mut answers: Vec<_> = (0..5)
        .map(|_| Ok(status(ProcessingStatus::InProgress, None)))
        .collect();
    answers.push(Ok(status(ProcessingStatus::Done, Some("DOC1"))));
    h.reports.script_get(answers);

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3 * 3600)).await;

    let requeues: Vec<&String> = h
        .transcript
        .iter()
        .filter(|l| l.contains("Requeued"))
        .collect();
    let delays: Vec<u64> = requeues
        .iter()
        .map(|l| {
            let s = l.split("Requeued(").nth(1).unwrap();
            s.split('s').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(delays, [60, 60, 60, 120, 240, 480], "{:#?}", h.transcript);
    assert_eq!(h.only_job().state, JobState::Imported);
}

#[tokio::test]
async fn a_cancelled_report_ends_the_job_without_data() {
    let mut h = harness(&sample_report());
    h.reports
        .script_get(vec![Ok(status(ProcessingStatus::Cancelled, None))]);

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let job = h.only_job();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.failure, None);
    assert!(h.orders.all().is_empty());
    assert!(h.documents.keys().is_empty());
    assert_eq!(h.reports.count("getReportDocument"), 0);
}

#[tokio::test]
async fn a_fatal_report_fails_the_job_visibly_and_the_next_schedule_tries_again() {
    let mut h = harness(&sample_report());
    h.reports
        .script_get(vec![Ok(status(ProcessingStatus::Fatal, Some("ERRDOC")))]);

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let job = h.only_job();
    assert_eq!(job.state, JobState::Failed);
    assert!(
        job.failure.as_deref().unwrap().contains("FATAL"),
        "{:?}",
        job.failure
    );
    assert!(
        h.dead_letters.is_empty(),
        "a business outcome is not an error"
    );
    h.reports
        .script_get(vec![Ok(status(ProcessingStatus::Done, Some("DOC1")))]);
    assert!(matches!(
        h.start(SELLER, MKT).await,
        StartOutcome::Started(_)
    ));
    h.run_until_idle(Duration::from_secs(3600)).await;
    assert_eq!(h.jobs_in(JobState::Imported).len(), 1);
}

#[tokio::test]
async fn a_stuck_report_is_cancelled_and_replaced() {
    let mut h = harness(&sample_report());
    h.reports
        .script_get(vec![Ok(status(ProcessingStatus::InQueue, None))]);

    h.start(SELLER, MKT).await;
    h.run_until_idle(h.settings.stuck_after + Duration::from_secs(15 * 60))
        .await;

    let failed = h.jobs_in(JobState::Failed);
    assert_eq!(failed.len(), 1, "{:#?}", h.transcript);
    assert!(
        failed[0]
            .failure
            .as_deref()
            .unwrap()
            .contains("cancelled and replaced")
    );
    assert_eq!(h.reports.count("cancelReport"), 1);
    let live: Vec<_> = h
        .jobs
        .all_jobs()
        .into_iter()
        .filter(|j| !j.state.is_terminal())
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].replaces.as_ref(), Some(&failed[0].job_id));
}

#[tokio::test]
async fn a_running_job_is_reused_not_doubled() {
    let h = harness(&sample_report());

    let first = h.start(SELLER, MKT).await;
    let second = h.start(SELLER, MKT).await;

    let StartOutcome::Started(id) = first else {
        panic!("{first:?}")
    };
    assert_eq!(second, StartOutcome::Reused(id));
    assert_eq!(h.jobs.all_jobs().len(), 1);
}

#[tokio::test]
async fn throttling_at_every_call_requeues_the_step_and_loses_nothing() {
    let mut h = harness(&sample_report());
    h.reports
        .create
        .lock()
        .unwrap()
        .push_front(Err(throttled("createReport")));
    h.reports
        .get
        .lock()
        .unwrap()
        .push_front(Err(throttled("getReport")));
    h.reports
        .download
        .lock()
        .unwrap()
        .push_front(Err(throttled("getReportDocument")));
    *h.orders_api.throttle_next_search.lock().unwrap() = 1;

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    assert_eq!(
        h.only_job().state,
        JobState::Imported,
        "{:#?}",
        h.transcript
    );
    assert_eq!(h.reports.count("createReport"), 2);
    assert_eq!(h.reports.count("getReportDocument"), 2);
    assert_eq!(h.orders_api.count("searchOrders"), 2);
    let throttle_waits = h
        .transcript
        .iter()
        .filter(|l| l.contains("Requeued(61s)"))
        .count();
    assert_eq!(throttle_waits, 4, "{:#?}", h.transcript);
    assert!(h.dead_letters.is_empty());
}

#[tokio::test]
async fn transient_errors_go_back_to_the_queue_and_end_in_the_dead_letters_if_they_persist() {
    let mut h = harness(&sample_report());
    *h.reports.get.lock().unwrap() = VecDeque::from([Err(ApiError::Transient {
        operation: "getReport",
        message: "503".into(),
    })]);

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3 * 3600)).await;

    assert_eq!(h.dead_letters.len(), 1, "{:#?}", h.transcript);
    assert_eq!(
        h.only_job().state,
        JobState::InProgress,
        "the job waits for a human or the nudge"
    );
}

#[tokio::test]
async fn duplicate_deliveries_are_harmless() {
    let mut h = harness(&sample_report());
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;
    let job = h.only_job();
    let key = JobKey {
        seller_id: job.seller_id.clone(),
        marketplace_id: job.marketplace_id.clone(),
        job_id: job.job_id.clone(),
    };
    let (job_writes, order_writes, calls) = (
        h.jobs.writes(),
        h.orders.writes(),
        h.reports.calls.lock().unwrap().len(),
    );

    for step in [
        Step::PollReport { job: key.clone() },
        Step::ImportReport { job: key.clone() },
    ] {
        let m = spsync_testkit::memory::QueuedMessage {
            visible_at: T0,
            queue: step.queue(),
            message: StepMessage::new(step),
        };
        let out = h.deliver(&m).await.unwrap();
        assert!(matches!(out, StepOutcome::Ignored(_)), "{out:?}");
    }

    assert_eq!(h.jobs.writes(), job_writes);
    assert_eq!(h.orders.writes(), order_writes);
    assert_eq!(
        h.reports.calls.lock().unwrap().len(),
        calls,
        "no SP-API call for a finished job"
    );
}

#[tokio::test]
async fn a_crash_between_storing_and_importing_is_finished_by_the_redelivery() {
    let mut h = harness(&sample_report());
    h.start(SELLER, MKT).await;
    // createReport + 2 not-ready polls go through; then the process "dies" right after the
    // document is stored, before ImportReport is sent.
    for _ in 0..3 {
        while h.deliver_due().await == 0 {
            h.time.advance(Duration::from_secs(15));
        }
    }
    h.time.advance(Duration::from_secs(60));
    h.queue.fail_next_send(1);
    h.deliver_due().await;
    let job = h.only_job();
    assert_eq!(job.state, JobState::Stored);
    assert!(h.orders.all().is_empty());

    h.run_until_idle(Duration::from_secs(3600)).await;

    assert_eq!(
        h.only_job().state,
        JobState::Imported,
        "{:#?}",
        h.transcript
    );
    assert_eq!(h.orders.all().len(), 3);
    assert_eq!(
        h.reports.count("getReportDocument"),
        1,
        "the document is not fetched twice"
    );
}

#[tokio::test]
async fn a_stalled_stored_job_is_finished_by_the_next_schedule() {
    let mut h = harness(&sample_report());
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;
    // Simulate a lost ImportReport: put a job back to Stored by re-running with the send lost.
    let mut h2 = harness(&sample_report());
    h2.start(SELLER, MKT).await;
    h2.queue.fail_next_send(0);
    for _ in 0..4 {
        while h2.deliver_due().await == 0 {
            h2.time.advance(Duration::from_secs(15));
        }
        if h2.only_job().state == JobState::InProgress && h2.only_job().polls == 2 {
            h2.queue.fail_next_send(1);
        }
    }
    // The failed send made the delivery fail; drop the redelivery to model a lost message.
    let _ = h2.queue.take_due(h2.time.now() + Duration::from_secs(3600));
    assert_eq!(
        h2.only_job().state,
        JobState::Stored,
        "{:#?}",
        h2.transcript
    );

    h2.time.advance(Duration::from_secs(20 * 60));
    let out = h2.start(SELLER, MKT).await;
    h2.run_until_idle(Duration::from_secs(3600)).await;

    assert!(matches!(out, StartOutcome::Reused(_)));
    assert_eq!(
        h2.only_job().state,
        JobState::Imported,
        "{:#?}",
        h2.transcript
    );
}

#[tokio::test]
async fn reimporting_unchanged_orders_writes_nothing() {
    let mut h = harness(&sample_report());
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;
    let writes = h.orders.writes();

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let imported = h.jobs_in(JobState::Imported);
    assert_eq!(imported.len(), 2);
    let second = imported.iter().max_by_key(|j| j.job_id.clone()).unwrap();
    let stats = second.stats.as_ref().unwrap();
    assert_eq!(stats.unchanged, 3, "{stats:?}");
    assert_eq!((stats.created, stats.updated), (0, 0));
    assert_eq!(
        h.orders.writes(),
        writes,
        "zero DynamoDB writes for unchanged orders"
    );
}

#[tokio::test]
async fn a_failed_order_write_is_retried_by_redelivery_without_duplicates() {
    let mut h = harness(&sample_report());
    h.orders.fail_next(FailOp::PutOrder, 1);

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    assert_eq!(
        h.only_job().state,
        JobState::Imported,
        "{:#?}",
        h.transcript
    );
    assert_eq!(h.orders.all().len(), 3);
}

fn enrichment(
    id: &str,
    status: AmazonOrderStatus,
    with_pii: bool,
    items: &[(&str, &str)],
) -> Enrichment {
    Enrichment {
        amazon_order_id: AmazonOrderId::new(id),
        amazon_status: Some(status),
        last_updated: None,
        buyer: if with_pii {
            Buyer {
                name: Some("Jane Buyer".into()),
                email: Some("jane@marketplace.amazon.com".into()),
                phone: Some("+1 206 555 0100".into()),
            }
        } else {
            Buyer::default()
        },
        recipient: with_pii.then(|| spsync_domain::Address {
            name: Some("Jane Buyer".into()),
            lines: vec!["1 Main St".into()],
            city: Some("Seattle".into()),
            state: Some("WA".into()),
            postal_code: Some("98101".into()),
            country: Some("US".into()),
            phone: Some("+1 206 555 0100".into()),
        }),
        items: items
            .iter()
            .map(|(item, sku)| EnrichedItem {
                order_item_id: (*item).into(),
                sku: Some((*sku).into()),
                asin: None,
                quantity: 1,
            })
            .collect(),
    }
}

#[tokio::test]
async fn pending_orders_get_item_ids_now_and_buyer_details_once_unshipped() {
    let mut h = harness(&report(&[row(
        "111-0000001-0000001",
        "2026-11-19T08:05:00+00:00",
        "Pending",
        "Merchant",
        "SKU1",
    )]));
    h.orders_api.set(
        datetime!(2026-11-19 08:05 UTC),
        enrichment(
            "111-0000001-0000001",
            AmazonOrderStatus::Pending,
            false,
            &[("OI-1", "SKU1")],
        ),
    );

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let o = &h.orders.all()[0];
    assert_eq!(o.lines[0].order_item_id.as_deref(), Some("OI-1"));
    assert_eq!(o.buyer.email, None, "withheld while Pending");
    assert!(o.needs_enrichment());

    // The order leaves Pending at Amazon; the next import and pass see it.
    *h.reports.download.lock().unwrap() = VecDeque::from([Ok(DownloadedDocument {
        bytes: report(&[row(
            "111-0000001-0000001",
            "2026-11-20T10:30:00+00:00",
            "Unshipped",
            "Merchant",
            "SKU1",
        )])
        .into_bytes(),
        content_type: None,
        gzip: false,
    })]);
    h.orders_api.set(
        datetime!(2026-11-20 10:30 UTC),
        enrichment(
            "111-0000001-0000001",
            AmazonOrderStatus::Unshipped,
            true,
            &[("OI-1", "SKU1")],
        ),
    );
    h.time.advance(Duration::from_secs(2 * 3600));
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let o = &h.orders.all()[0];
    assert_eq!(o.amazon_status, AmazonOrderStatus::Unshipped);
    assert_eq!(o.status, OrderStatus::New);
    assert_eq!(
        o.buyer.email.as_deref(),
        Some("jane@marketplace.amazon.com")
    );
    assert_eq!(
        o.recipient.as_ref().unwrap().lines,
        vec!["1 Main St".to_string()]
    );
    assert_eq!(o.lines[0].order_item_id.as_deref(), Some("OI-1"));
    assert!(!o.needs_enrichment());
    assert_eq!(
        h.orders_api.count("getOrder"),
        0,
        "searchOrders covered everything"
    );
}

#[tokio::test]
async fn stragglers_missed_by_search_get_one_get_order_each() {
    let mut h = harness(&report(&[row(
        "111-0000002-0000002",
        "2026-11-19T09:00:00+00:00",
        "Unshipped",
        "Merchant",
        "SKU3",
    )]));
    // Amazon last updated it before the cursor (search will not return it).
    h.orders_api.set(
        datetime!(2026-11-10 09:00 UTC),
        enrichment(
            "111-0000002-0000002",
            AmazonOrderStatus::Unshipped,
            true,
            &[("OI-3", "SKU3")],
        ),
    );

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let o = &h.orders.all()[0];
    assert_eq!(h.orders_api.count("getOrder"), 1);
    assert!(!o.needs_enrichment(), "{o:#?}");
}

// Regression tests from the review of the first version of the flow.

#[tokio::test]
async fn two_concurrent_deliveries_of_the_first_poll_create_one_report() {
    let h = harness(&sample_report());
    h.start(SELLER, MKT).await;
    let first = h.queue.take_due(T0).pop().unwrap();

    let (a, b) = tokio::join!(h.deliver(&first), h.deliver(&first));

    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(h.reports.count("createReport"), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, StepOutcome::Ignored(_))),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_duplicate_poll_chain_is_dropped_at_the_next_step() {
    let mut h = harness(&sample_report());
    h.start(SELLER, MKT).await;
    let first = h.queue.take_due(T0).pop().unwrap();
    h.deliver(&first).await.unwrap();
    // The same message delivered again after it already moved the job on (SQS at-least-once).
    let again = h.deliver(&first).await.unwrap();

    h.run_until_idle(Duration::from_secs(3600)).await;

    assert!(matches!(again, StepOutcome::Ignored(_)), "{again:?}");
    assert_eq!(h.reports.count("createReport"), 1);
    assert_eq!(
        h.reports.count("getReport"),
        3,
        "one chain polls: {:#?}",
        h.transcript
    );
    assert_eq!(h.only_job().state, JobState::Imported);
}

#[tokio::test]
async fn a_create_report_whose_answer_was_lost_is_adopted_not_repeated() {
    let mut h = harness(&sample_report());
    h.reports
        .create
        .lock()
        .unwrap()
        .push_front(Err(ApiError::Transient {
            operation: "createReport",
            message: "timeout after the request was sent".into(),
        }));
    *h.reports.lost_report.lock().unwrap() = Some("R-LOST".into());

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let job = h.only_job();
    assert_eq!(job.state, JobState::Imported, "{:#?}", h.transcript);
    assert_eq!(job.report_id.as_deref(), Some("R-LOST"));
    assert_eq!(
        h.reports.count("createReport"),
        1,
        "never a second report for one job"
    );
    assert_eq!(h.reports.count("getReports"), 1);
}

#[tokio::test]
async fn an_order_the_store_refuses_for_good_does_not_block_the_import() {
    let mut h = harness(&sample_report());
    h.orders.fail_next(FailOp::PutOrderPermanently, 1);

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let job = h.only_job();
    assert_eq!(job.state, JobState::Imported, "{:#?}", h.transcript);
    let stats = job.stats.unwrap();
    assert_eq!(stats.failed_orders, 1);
    assert_eq!(stats.created, 2);
    assert!(
        stats.row_errors.iter().any(|e| e.contains("not stored")),
        "{:?}",
        stats.row_errors
    );
    assert!(
        matches!(h.start(SELLER, MKT).await, StartOutcome::Started(_)),
        "the slot is free"
    );
}

#[tokio::test]
async fn an_order_with_a_malformed_item_row_is_held_back_not_stored_short() {
    let mut h = harness(&report(&[
        row(
            "111-0000007-0000007",
            "2026-11-19T08:05:00+00:00",
            "Unshipped",
            "Merchant",
            "SKU1",
        ),
        row(
            "111-0000007-0000007",
            "2026-11-19T08:05:00+00:00",
            "Unshipped",
            "Merchant",
            "SKU2",
        )
        .replace("\t1\tUSD", "\tlots\tUSD"),
        row(
            "111-0000008-0000008",
            "2026-11-19T08:05:00+00:00",
            "Unshipped",
            "Merchant",
            "SKU3",
        ),
    ]));

    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let stats = h.only_job().stats.unwrap();
    assert_eq!(
        (stats.malformed_rows, stats.held_back, stats.created),
        (1, 1, 1),
        "{stats:?}"
    );
    let ids: Vec<String> = h
        .orders
        .all()
        .iter()
        .map(|o| o.amazon_order_id.to_string())
        .collect();
    assert_eq!(ids, ["111-0000008-0000008"]);
    assert!(
        stats.row_errors[0].starts_with("line 3:"),
        "{:?}",
        stats.row_errors
    );
}

#[tokio::test]
async fn a_cancellation_seen_only_by_enrichment_closes_the_order() {
    let mut h = harness(&report(&[row(
        "111-0000009-0000009",
        "2026-11-19T08:05:00+00:00",
        "Unshipped",
        "Merchant",
        "SKU1",
    )]));
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;
    assert_eq!(h.orders.all()[0].status, OrderStatus::New);

    // Cancelled after the report's window: only the API tells.
    h.time.advance(Duration::from_secs(3600));
    h.orders_api.set(
        h.time.now(),
        Enrichment {
            last_updated: Some(h.time.now()),
            ..enrichment(
                "111-0000009-0000009",
                AmazonOrderStatus::Cancelled,
                false,
                &[],
            )
        },
    );
    h.time.advance(Duration::from_secs(600));
    spsync_workflow::schedule_enrichment(&h.queue, &h.clock, &SellersOf(SELLER, MKT))
        .await
        .unwrap();
    h.run_until_idle(Duration::from_secs(3600)).await;

    let o = &h.orders.all()[0];
    assert_eq!(o.status, OrderStatus::Canceled, "{:#?}", h.transcript);
    assert_eq!(o.amazon_status, AmazonOrderStatus::Cancelled);
}

#[tokio::test]
async fn a_job_that_makes_no_way_is_abandoned_by_the_schedule() {
    let mut h = harness(&sample_report());
    *h.reports.get.lock().unwrap() = VecDeque::from([Err(ApiError::Transient {
        operation: "getReport",
        message: "503".into(),
    })]);
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;
    assert_eq!(h.dead_letters.len(), 1);

    h.time.advance(h.settings.stuck_after * 2);
    let out = h.start(SELLER, MKT).await;

    assert!(matches!(out, StartOutcome::Started(_)), "{out:?}");
    let failed = h.jobs_in(JobState::Failed);
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].failure.as_deref().unwrap().contains("abandoned"),
        "{:?}",
        failed[0].failure
    );
}

/// A seller directory of one seller and marketplace.
struct SellersOf(&'static str, &'static str);

#[async_trait]
impl spsync_workflow::SellerDirectory for SellersOf {
    async fn sellers(
        &self,
    ) -> Result<Vec<spsync_workflow::SellerAccount>, spsync_workflow::StoreError> {
        Ok(vec![spsync_workflow::SellerAccount {
            seller_id: SellerId::new(self.0),
            marketplaces: vec![MarketplaceId::new(self.1)],
            region: "na".into(),
            credentials_secret: "unused".into(),
            enabled: true,
        }])
    }
    async fn seller(
        &self,
        _: &SellerId,
    ) -> Result<Option<spsync_workflow::SellerAccount>, spsync_workflow::StoreError> {
        Ok(None)
    }
    async fn put_seller(
        &self,
        _: &spsync_workflow::SellerAccount,
    ) -> Result<(), spsync_workflow::StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_pass_before_the_first_import_does_not_move_the_cursor() {
    let mut h = harness(&sample_report());
    h.orders_api.set(
        datetime!(2026-11-19 09:00 UTC),
        enrichment(
            "111-0000002-0000002",
            AmazonOrderStatus::Unshipped,
            true,
            &[("OI-3", "SKU3")],
        ),
    );

    // The enrichment schedule fires before any report was imported: nothing is stored yet.
    spsync_workflow::schedule_enrichment(&h.queue, &h.clock, &SellersOf(SELLER, MKT))
        .await
        .unwrap();
    h.run_until_idle(Duration::from_secs(60)).await;
    h.start(SELLER, MKT).await;
    h.run_until_idle(Duration::from_secs(3600)).await;

    let o = h
        .orders
        .all()
        .into_iter()
        .find(|o| o.amazon_order_id.as_str() == "111-0000002-0000002")
        .unwrap();
    assert!(!o.needs_enrichment(), "{o:#?}");
    assert_eq!(
        h.orders_api.count("getOrder"),
        0,
        "searchOrders after the import covered it"
    );
}
