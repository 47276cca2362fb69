//! Fulfilment feeds (issue 4): queued shipments → one POST_FLAT_FILE_FULFILLMENT_DATA feed per
//! seller at a time → Amazon's processing report applied line by line → the closed loop reads
//! the orders back and confirms each shipment.
//!
//! * [`start_feed`] (schedule, and the `SendShipments` step sent when a feed ends): when no feed
//!   of the seller is live, claims the queued shipments into a new feed job (the "live feed"
//!   slot makes it one at a time, each shipment's conditional write makes it one feed per
//!   shipment), renders the file, keeps it and its record map in S3, and sends the first
//!   `FeedStep`.
//! * [`feed_step`] (`FeedStep`): createFeedDocument → upload → createFeed → getFeed polls →
//!   processing report to S3 → verdicts on the shipments. Every state is written before the
//!   call that leaves it, so a crash or a duplicate delivery repeats at most the step in hand;
//!   createFeed is preceded by a `Submitting` claim and a retry first adopts a feed created
//!   since (getFeeds), so the file is never submitted twice.
//! * [`confirm_shipments`] (`ConfirmShipments`): searchOrders with PACKAGES over the orders
//!   updated since the oldest accepted shipment, getOrder only for stragglers; a shipment whose
//!   package shows is Confirmed (recording → confirmed seconds kept), and an order all of whose
//!   units are confirmed becomes ORDER_FULFILLED.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use spsync_domain::{
    AmazonOrderId, FEED_CONTENT_TYPE, FULFILLMENT_FEED_TYPE, FeedJob, FeedJobState, FeedLine,
    JobId, LineOutcome, LineVerdict, MAX_FEED_LINES, OrderShipmentsSeen, OrderStatus,
    ProcessingStatus, RecordRef, SellerId, Shipment, ShipmentState, SplitMix64,
    UPLOAD_URL_LIFETIME, all_items_confirmed, apply_report, feed_document_key, package_shows,
    parse_processing_report, processing_report_key, render_feed, report_discrepancies,
};
use tracing::{info, instrument, warn};

use crate::message::ConfirmSearch;
use crate::*;

/// The ports the feed steps use.
pub struct FeedPorts<'a> {
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Feed jobs and the live-feed slot.
    pub feed_jobs: &'a dyn FeedJobStore,
    /// Shipments.
    pub shipments: &'a dyn ShipmentStore,
    /// Orders (re-checked before sending; fulfilled after confirmation).
    pub orders: &'a dyn OrderStore,
    /// Feed documents, record maps and processing reports.
    pub documents: &'a dyn DocumentStore,
    /// Step queue.
    pub queue: &'a dyn StepQueue,
    /// Feeds API.
    pub feeds: &'a dyn FeedsApi,
    /// Orders API read-back.
    pub packages: &'a dyn PackagesApi,
}

/// Settings of the fulfilment flow (from the functions' environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSettings {
    /// Send as soon as this many shipments are queued...
    pub min_batch: usize,
    /// ...or as soon as the oldest queued one has waited this long.
    pub max_wait: Duration,
    /// createFeed's usage plan: at most one feed per this interval per seller (0.0083/s).
    pub min_interval: Duration,
    /// First getFeed delay when the seller has no finished feed to learn from.
    pub first_poll: Duration,
    /// First read-back this long after the report is applied.
    pub confirm_delay: Duration,
    /// After a FATAL feed, the next one waits this long.
    pub fatal_backoff: Duration,
    /// A job that has not moved for this long is nudged (or given up before Amazon had it).
    pub stall_after: Duration,
    /// An accepted shipment not seen on its order this long after acceptance is held.
    pub confirm_give_up: Duration,
    /// getOrder calls per read-back pass for stragglers.
    pub max_get_order_per_pass: usize,
    /// A straggler gets a getOrder only once accepted this long ago.
    pub straggler_after: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            min_batch: 1,
            max_wait: Duration::ZERO,
            min_interval: Duration::from_secs(120),
            first_poll: Duration::from_secs(90),
            // Amazon's order data lags ~2 minutes behind (searchOrders' *Before bound).
            confirm_delay: Duration::from_secs(120),
            fatal_backoff: Duration::from_secs(300),
            stall_after: Duration::from_secs(15 * 60),
            confirm_give_up: Duration::from_secs(24 * 3600),
            max_get_order_per_pass: 20,
            straggler_after: Duration::from_secs(10 * 60),
        }
    }
}

/// Read-back pass delays once no shipment was accepted lately, seconds; the last repeats.
const CONFIRM_DELAYS: [u64; 6] = [180, 300, 600, 900, 900, 900];

/// The read-back searches orders updated since the oldest acceptance of the last 30 minutes;
/// older accepted shipments are looked up one by one (stragglers).
const SEARCH_REACH: time::Duration = time::Duration::minutes(30);

/// A search starts this long before the oldest acceptance it covers: the order changed when
/// Amazon processed the feed, before we read the report.
const SEARCH_MARGIN: time::Duration = time::Duration::minutes(5);

/// The next pass searches from this long before the previous pass began: Amazon's order data
/// lags ~2 minutes (searchOrders' `*Before` bound), plus a minute of clock skew.
const SEARCH_OVERLAP: time::Duration = time::Duration::minutes(3);

/// While a shipment was accepted less than this long ago, passes come every
/// [`FRESH_PASS_DELAY`].
const FRESH_ACCEPTANCE: Duration = Duration::from_secs(15 * 60);

/// searchOrders allows one call every ~3 minutes (burst 20) per seller: passes come no
/// faster while shipments keep being accepted.
const FRESH_PASS_DELAY: Duration = Duration::from_secs(180);

/// Upload URLs refused this many times end the job.
const MAX_DOCUMENT_ATTEMPTS: u32 = 3;

/// A lost createFeed answer is adopted only for a feed created within this long after the
/// job's `Submitting` claim (the client's request budget, retries included, is well under).
const ADOPTION_WINDOW: time::Duration = time::Duration::minutes(5);

/// The "live feed" slot name under which the seller's read-back chain is kept.
const CONFIRM_CHAIN: &str = "CONFIRM_SHIPMENTS";

/// The schedule replaces a read-back chain this old (its next message may be lost).
const CHAIN_REPLACED_AFTER: time::Duration = time::Duration::hours(2);

/// Warning code of lines taken as applied without a usable processing report.
pub const UNVERIFIED_CODE: &str = "spsync-unverified";

/// What [`start_feed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedStart {
    /// A feed job was created with this many shipments and lines.
    Started {
        /// The job.
        job: JobId,
        /// Shipments in it.
        shipments: usize,
        /// Lines in it.
        lines: usize,
    },
    /// A feed is live; the shipments wait for it.
    Busy(JobId),
    /// Nothing queued.
    Idle,
    /// Shipments are queued but wait (batch policy or createFeed's usage plan); a
    /// `SendShipments` step comes back after this delay.
    Waiting(Duration),
}

fn elapsed(now: time::OffsetDateTime, since: time::OffsetDateTime) -> Duration {
    (now - since).max(time::Duration::ZERO).unsigned_abs()
}

fn send_shipments_message(seller: &SellerId) -> StepMessage {
    StepMessage::new(Step::SendShipments {
        seller_id: seller.clone(),
    })
}

fn feed_step_message(job: &FeedJob) -> StepMessage {
    StepMessage::new(Step::FeedStep {
        seller_id: job.seller_id.clone(),
        job_id: job.job_id.clone(),
    })
    .for_version(job.version)
}

/// Splits `<order>/<shipment>`.
fn split_ref(reference: &str) -> Option<(AmazonOrderId, &str)> {
    let (order, id) = reference.split_once('/')?;
    Some((AmazonOrderId::new(order), id))
}

async fn put_job(ports: &FeedPorts<'_>, job: &mut FeedJob) -> Result<(), StoreError> {
    let expected = (job.version > 0).then_some(job.version);
    job.version += 1;
    job.updated_at = ports.clock.now();
    ports.feed_jobs.put_feed_job(job, expected).await
}

/// Writes a shipment changed by `change`; on a concurrent change re-reads it once and applies
/// `change` again. Returns the stored shipment, or `None` when it is gone or `change` says
/// there is nothing to do.
async fn update_shipment(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    reference: &str,
    mut change: impl FnMut(&mut Shipment) -> bool,
) -> Result<Option<Shipment>, StoreError> {
    let Some((order, id)) = split_ref(reference) else {
        warn!(
            shipment = reference,
            "feed job names a shipment reference without '/'"
        );
        return Ok(None);
    };
    for _ in 0..3 {
        let Some(mut s) = ports.shipments.get_shipment(seller, &order, id).await? else {
            return Ok(None);
        };
        if !change(&mut s) {
            return Ok(None);
        }
        let expected = s.version;
        s.version += 1;
        match ports.shipments.put_shipment(&s, Some(expected)).await {
            Ok(()) => return Ok(Some(s)),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::ConditionFailed {
        what: format!("shipment {reference} (changed three times while being updated)"),
    })
}

/// Starts the next feed of every enabled seller (the schedule). One seller's failure does
/// not stop the others.
pub async fn start_feeds(
    ports: &FeedPorts<'_>,
    sellers: &dyn SellerDirectory,
    settings: &FeedSettings,
    random: u64,
) -> Result<Vec<(SellerId, Result<FeedStart, WorkflowError>)>, WorkflowError> {
    let mut results = Vec::new();
    let mut rng = SplitMix64::new(random);
    for account in sellers.sellers().await? {
        if !account.enabled {
            continue;
        }
        if let Err(e) = ensure_confirm_chain(ports, &account.seller_id, rng.next_u64()).await {
            warn!(seller_id = %account.seller_id, error_class = e.class(), error = %e, "read-back chain not checked");
        }
        let outcome = start_feed(ports, &account.seller_id, settings, rng.next_u64()).await;
        if let Err(e) = &outcome {
            warn!(seller_id = %account.seller_id, error_class = e.class(), error = %e, "feed start failed");
        }
        results.push((account.seller_id.clone(), outcome));
    }
    Ok(results)
}

/// Starts the seller's next fulfilment feed if shipments are queued and none is live.
#[instrument(skip_all, fields(seller_id = %seller))]
pub async fn start_feed(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    settings: &FeedSettings,
    random: u64,
) -> Result<FeedStart, WorkflowError> {
    let now = ports.clock.now();
    let live = ports
        .feed_jobs
        .live_feed(seller, FULFILLMENT_FEED_TYPE)
        .await?;
    if let Some(job_id) = &live {
        match ports.feed_jobs.get_feed_job(seller, job_id).await? {
            Some(job) if !job.state.is_terminal() => {
                if elapsed(now, job.updated_at) < settings.stall_after {
                    return Ok(FeedStart::Busy(job_id.clone()));
                }
                return recover_stalled(ports, job, settings, random).await;
            }
            // The slot outlived its job (a crash between the job's end and the release).
            _ => {}
        }
    }

    let recent = ports.feed_jobs.recent_feed_jobs(seller, 20).await?;
    if let Some(wait) = usage_plan_wait(&recent, now, settings) {
        if has_queued(ports, seller).await? {
            send_step(
                ports.queue,
                ports.clock,
                send_shipments_message(seller),
                wait,
            )
            .await?;
            return Ok(FeedStart::Waiting(wait));
        }
        return Ok(FeedStart::Idle);
    }

    // The queued shipments, oldest revision first, up to a feed's worth of lines.
    let mut queued: Vec<Shipment> = Vec::new();
    let mut lines = 0usize;
    let mut page = None;
    'pages: loop {
        let (batch, next) = ports
            .shipments
            .shipments_in_state(seller, "Queued", page, 200)
            .await?;
        for s in batch {
            if lines + s.details.items.len() > MAX_FEED_LINES {
                break 'pages;
            }
            lines += s.details.items.len();
            queued.push(s);
        }
        match next {
            Some(n) => page = Some(n),
            None => break,
        }
    }
    let Some(oldest) = queued.first() else {
        return Ok(FeedStart::Idle);
    };
    let waited = elapsed(now, oldest.revised_at);
    if queued.len() < settings.min_batch && waited < settings.max_wait {
        let wait = settings.max_wait - waited;
        send_step(
            ports.queue,
            ports.clock,
            send_shipments_message(seller),
            wait,
        )
        .await?;
        return Ok(FeedStart::Waiting(wait));
    }

    // The job first (so a crash leaves something to recover), then the slot.
    let job_id = JobId::generate(now, random);
    let first_poll = recent
        .iter()
        .find_map(FeedJob::observed_seconds)
        .unwrap_or(settings.first_poll.as_secs());
    let mut job = FeedJob::new(
        seller.clone(),
        job_id.clone(),
        FULFILLMENT_FEED_TYPE,
        feed_document_key(seller, FULFILLMENT_FEED_TYPE, &job_id, now),
        first_poll,
        now,
    );
    // Every candidate is named before any is claimed: a crash while claiming leaves a job
    // whose recovery releases whatever it did claim.
    job.shipments = queued.iter().map(Shipment::reference).collect();
    put_job(ports, &mut job).await?;
    if let Err(e) = ports
        .feed_jobs
        .claim_live_feed(seller, FULFILLMENT_FEED_TYPE, &job_id, live.as_ref())
        .await
    {
        job.state = FeedJobState::Abandoned {
            reason: "another feed took the seller's slot first".into(),
        };
        job.ended_at = Some(now);
        put_job(ports, &mut job).await?;
        return match e {
            StoreError::ConditionFailed { .. } => Ok(FeedStart::Busy(job_id)),
            e => Err(e.into()),
        };
    }

    // Orders cancelled since their shipment was recorded are not sent.
    let mut order_ids: Vec<AmazonOrderId> =
        queued.iter().map(|s| s.amazon_order_id.clone()).collect();
    order_ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    order_ids.dedup();
    let mut cancelled: BTreeSet<String> = BTreeSet::new();
    for chunk in order_ids.chunks(100) {
        for o in ports.orders.get_orders(seller, chunk).await? {
            if o.status == OrderStatus::Canceled {
                cancelled.insert(o.amazon_order_id.to_string());
            }
        }
    }

    let mut feed_lines: Vec<FeedLine> = Vec::new();
    let mut marketplaces = BTreeSet::new();
    job.shipments.clear();
    for s in &queued {
        let reference = s.reference();
        if cancelled.contains(s.amazon_order_id.as_str()) {
            update_shipment(ports, seller, &reference, |s| {
                s.hold("the order was cancelled after the shipment was recorded; not sent")
            })
            .await?;
            continue;
        }
        let mut claimed_lines = None;
        let stored = update_shipment(ports, seller, &reference, |s| {
            claimed_lines = s.claim(&job_id);
            claimed_lines.is_some()
        })
        .await?;
        if let (Some(stored), Some(l)) = (stored, claimed_lines) {
            marketplaces.insert(stored.marketplace_id.clone());
            job.shipments.push(reference);
            feed_lines.extend(l);
        }
    }
    if job.shipments.is_empty() {
        return end_without_feed(ports, job, "no shipment could be claimed").await;
    }

    let rendered = match render_feed(&feed_lines) {
        Ok(r) => r,
        Err(e) => {
            // Checked shipments never get here; hold the one named and give the rest back.
            warn!(job_id = %job.job_id, error = %e, "feed not renderable");
            if let spsync_domain::FeedRenderError::Value { shipment_ref, .. } = &e {
                let reason = format!("cannot be written into a feed: {e}");
                update_shipment(ports, seller, shipment_ref, |s| {
                    s.release(&job_id, "not renderable", now) && s.hold(reason.clone())
                })
                .await?;
            }
            return end_without_feed(ports, job, &format!("feed not renderable: {e}")).await;
        }
    };
    let records = serde_json::to_vec(&rendered.records)
        .map_err(|e| WorkflowError::Config(format!("record map does not encode: {e}")))?;
    ports
        .documents
        .put_document(
            &job.document_key,
            rendered.text.into_bytes(),
            &DocumentMeta {
                content_type: Some(FEED_CONTENT_TYPE.to_owned()),
                gzip: false,
            },
        )
        .await?;
    ports
        .documents
        .put_document(
            &job.records_key(),
            records,
            &DocumentMeta {
                content_type: Some("application/json".to_owned()),
                gzip: false,
            },
        )
        .await?;
    job.marketplaces = marketplaces.into_iter().collect();
    job.counts.lines = rendered.records.len() as u32;
    job.counts.shipments = job.shipments.len() as u32;
    job.state = FeedJobState::Built;
    put_job(ports, &mut job).await?;
    send_step(
        ports.queue,
        ports.clock,
        feed_step_message(&job),
        Duration::ZERO,
    )
    .await?;
    info!(job_id = %job.job_id, shipments = job.shipments.len(), lines = job.counts.lines, "feed built");
    Ok(FeedStart::Started {
        job: job.job_id,
        shipments: job.counts.shipments as usize,
        lines: job.counts.lines as usize,
    })
}

/// How long the next feed must wait: createFeed's usage plan counts from the last
/// submission, and a FATAL feed holds the next one back for `fatal_backoff`.
fn usage_plan_wait(
    recent: &[FeedJob],
    now: time::OffsetDateTime,
    settings: &FeedSettings,
) -> Option<Duration> {
    let plan = recent
        .iter()
        .filter_map(|j| j.submitted_at)
        .max()
        .map(|last| settings.min_interval.saturating_sub(elapsed(now, last)));
    let backoff = recent
        .iter()
        .filter(|j| matches!(j.state, FeedJobState::Fatal { .. }))
        .filter_map(|j| j.ended_at)
        .max()
        .map(|ended| settings.fatal_backoff.saturating_sub(elapsed(now, ended)));
    let wait = plan.into_iter().chain(backoff).max()?;
    (!wait.is_zero()).then_some(wait)
}

async fn has_queued(ports: &FeedPorts<'_>, seller: &SellerId) -> Result<bool, StoreError> {
    let (some, _) = ports
        .shipments
        .shipments_in_state(seller, "Queued", None, 1)
        .await?;
    Ok(!some.is_empty())
}

/// A live job that has not moved for `stall_after`: before Amazon could have it, it is given
/// up and its shipments queued again; once createFeed may have been called, its step is sent
/// again (the step adopts or polls).
async fn recover_stalled(
    ports: &FeedPorts<'_>,
    job: FeedJob,
    settings: &FeedSettings,
    random: u64,
) -> Result<FeedStart, WorkflowError> {
    match job.state {
        FeedJobState::Claiming
        | FeedJobState::Built
        | FeedJobState::DocumentCreated { .. }
        | FeedJobState::Uploaded { .. } => {
            warn!(job_id = %job.job_id, state = job.state.name(), "stalled feed job given up before submission");
            let seller = job.seller_id.clone();
            end_without_feed(
                ports,
                job,
                "stalled before submission; shipments queued again",
            )
            .await?;
            Box::pin(start_feed(ports, &seller, settings, random)).await
        }
        _ => {
            warn!(job_id = %job.job_id, state = job.state.name(), "stalled feed job nudged");
            send_step(
                ports.queue,
                ports.clock,
                feed_step_message(&job),
                Duration::ZERO,
            )
            .await?;
            Ok(FeedStart::Busy(job.job_id))
        }
    }
}

/// Ends a job Amazon never had: its shipments go back to the queue, the slot is freed.
async fn end_without_feed(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    reason: &str,
) -> Result<FeedStart, WorkflowError> {
    let now = ports.clock.now();
    // The job ends first (version-checked): a step that moved it on meanwhile wins, and its
    // shipments are not released under it.
    job.state = FeedJobState::Abandoned {
        reason: reason.to_owned(),
    };
    job.ended_at = Some(now);
    put_job(ports, &mut job).await?;
    for reference in job.shipments.clone() {
        update_shipment(ports, &job.seller_id, &reference, |s| {
            s.release(&job.job_id, "feed given up before submission", now)
        })
        .await?;
    }
    ports
        .feed_jobs
        .release_live_feed(&job.seller_id, FULFILLMENT_FEED_TYPE, &job.job_id)
        .await?;
    Ok(FeedStart::Idle)
}

/// Runs one feed step (the `FeedStep` message).
#[instrument(skip_all, fields(seller_id, job_id, attempt = message.attempt))]
pub async fn feed_step(
    ports: &FeedPorts<'_>,
    message: &StepMessage,
    settings: &FeedSettings,
) -> Result<StepOutcome, WorkflowError> {
    let Step::FeedStep { seller_id, job_id } = &message.step else {
        return Err(WorkflowError::Config(format!(
            "feed_step got a {} message",
            message.step.name()
        )));
    };
    tracing::Span::current().record("seller_id", tracing::field::display(seller_id));
    tracing::Span::current().record("job_id", tracing::field::display(job_id));
    let Some(job) = ports.feed_jobs.get_feed_job(seller_id, job_id).await? else {
        return Ok(StepOutcome::Ignored("feed job not found"));
    };
    if job.state.is_terminal() {
        return Ok(StepOutcome::Ignored("feed job already ended"));
    }
    if let Some(v) = message.job_version
        && v < job.version
        && matches!(job.state, FeedJobState::Submitted { .. })
        && job.report_key.is_none()
    {
        // An older poll chain (a duplicate); the current chain carries the newer version.
        return Ok(StepOutcome::Ignored("older poll of this feed"));
    }
    match run_feed_step(ports, job.clone(), settings).await {
        Ok(outcome) => Ok(outcome),
        Err(error) => match error.retryability() {
            Retryability::Throttled { retry_after } => {
                info!(
                    retry_after_ms = retry_after.as_millis() as u64,
                    "throttled, feed step re-queued"
                );
                send_step(
                    ports.queue,
                    ports.clock,
                    message.next_attempt(),
                    retry_after,
                )
                .await?;
                Ok(StepOutcome::Requeued(retry_after))
            }
            Retryability::Transient => Err(error),
            Retryability::Permanent => {
                let Some(job) = ports.feed_jobs.get_feed_job(seller_id, job_id).await? else {
                    return Err(error);
                };
                if job.state.is_terminal() {
                    return Err(error);
                }
                warn!(error = %error, state = job.state.name(), "feed step failed for good");
                fail_feed(ports, job, &error.to_string(), settings).await
            }
        },
    }
}

async fn run_feed_step(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    settings: &FeedSettings,
) -> Result<StepOutcome, WorkflowError> {
    let seller = job.seller_id.clone();
    loop {
        let now = ports.clock.now();
        match job.state.clone() {
            FeedJobState::Claiming => return Ok(StepOutcome::Ignored("feed job still claiming")),
            FeedJobState::Built => {
                if job.document_attempts >= MAX_DOCUMENT_ATTEMPTS {
                    return fail_feed(
                        ports,
                        job,
                        "Amazon refused the upload of the feed document three times",
                        settings,
                    )
                    .await;
                }
                job.document_attempts += 1;
                let upload = ports
                    .feeds
                    .create_feed_document(&seller, FEED_CONTENT_TYPE)
                    .await?;
                job.state = FeedJobState::DocumentCreated {
                    feed_document_id: upload.feed_document_id,
                    url: upload.url,
                    issued_at: now,
                };
                put_job(ports, &mut job).await?;
            }
            FeedJobState::DocumentCreated {
                feed_document_id,
                url,
                issued_at,
            } => {
                if now - issued_at > UPLOAD_URL_LIFETIME {
                    job.state = FeedJobState::Built;
                    put_job(ports, &mut job).await?;
                    continue;
                }
                let (body, _) = ports.documents.get_document(&job.document_key).await?;
                match ports
                    .feeds
                    .upload_feed_document(&seller, &url, FEED_CONTENT_TYPE, body)
                    .await
                {
                    Ok(()) => {
                        job.state = FeedJobState::Uploaded { feed_document_id };
                    }
                    Err(ApiError::Permanent { code, .. }) if code == "UploadUrlRejected" => {
                        job.state = FeedJobState::Built;
                    }
                    Err(e) => return Err(e.into()),
                }
                put_job(ports, &mut job).await?;
            }
            FeedJobState::Uploaded { feed_document_id } => {
                job.state = FeedJobState::Submitting {
                    feed_document_id: feed_document_id.clone(),
                    since: now,
                };
                job.submit_attempts += 1;
                put_job(ports, &mut job).await?;
                return create_feed(ports, job, &feed_document_id).await;
            }
            FeedJobState::Submitting {
                feed_document_id,
                since,
            } => {
                // Claimed again first: of two deliveries of this step, one goes on.
                job.submit_attempts += 1;
                put_job(ports, &mut job).await?;
                // createFeed may have reached Amazon with its answer lost: adopt that feed.
                let known: BTreeSet<String> = ports
                    .feed_jobs
                    .recent_feed_jobs(&seller, 20)
                    .await?
                    .iter()
                    .filter(|j| j.job_id != job.job_id)
                    .filter_map(|j| j.state.feed_id().map(str::to_owned))
                    .collect();
                // Only a feed created while our call could have been in flight (from the
                // claim, with a minute of clock skew, to the end of the adoption window) can
                // be ours; a later one is someone else's (Seller Central, other software).
                let adopted = ports
                    .feeds
                    .find_feed(
                        &seller,
                        &job.feed_type,
                        since - time::Duration::minutes(1),
                        since + ADOPTION_WINDOW,
                    )
                    .await?
                    .filter(|id| !known.contains(id));
                if let Some(id) = adopted {
                    info!(feed_id = %id, "feed created before a lost answer adopted");
                    return submitted(ports, job, id).await;
                }
                return create_feed(ports, job, &feed_document_id).await;
            }
            FeedJobState::Submitted { feed_id } => {
                return poll_feed(ports, job, &feed_id, settings).await;
            }
            FeedJobState::Applied { .. }
            | FeedJobState::Cancelled { .. }
            | FeedJobState::Fatal { .. }
            | FeedJobState::Abandoned { .. } => {
                return Ok(StepOutcome::Ignored("feed job already ended"));
            }
        }
    }
}

/// createFeed for a job in `Submitting`. Throttled (by Amazon or our limiter) means the call
/// was not made: the job goes back to `Uploaded` so that a later retry needs no adoption.
async fn create_feed(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    feed_document_id: &str,
) -> Result<StepOutcome, WorkflowError> {
    let seller = job.seller_id.clone();
    match ports
        .feeds
        .create_feed(&seller, &job.feed_type, &job.marketplaces, feed_document_id)
        .await
    {
        Ok(feed_id) => submitted(ports, job, feed_id).await,
        Err(e @ ApiError::Throttled { .. }) => {
            job.state = FeedJobState::Uploaded {
                feed_document_id: feed_document_id.to_owned(),
            };
            put_job(ports, &mut job).await?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn submitted(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    feed_id: String,
) -> Result<StepOutcome, WorkflowError> {
    info!(feed_id = %feed_id, shipments = job.counts.shipments, lines = job.counts.lines, "feed submitted");
    job.state = FeedJobState::Submitted { feed_id };
    job.submitted_at = Some(ports.clock.now());
    put_job(ports, &mut job).await?;
    let delay = job.next_poll_delay();
    send_step(ports.queue, ports.clock, feed_step_message(&job), delay).await?;
    Ok(StepOutcome::Advanced("feed submitted"))
}

async fn poll_feed(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    feed_id: &str,
    settings: &FeedSettings,
) -> Result<StepOutcome, WorkflowError> {
    let status = ports.feeds.get_feed(&job.seller_id, feed_id).await?;
    match status.processing_status {
        ProcessingStatus::InQueue | ProcessingStatus::InProgress => {
            job.polls += 1;
            put_job(ports, &mut job).await?;
            let delay = job.next_poll_delay();
            send_step(ports.queue, ports.clock, feed_step_message(&job), delay).await?;
            Ok(StepOutcome::Requeued(delay))
        }
        ProcessingStatus::Done => {
            // Amazon has applied what it could: from here nothing is sent again blindly.
            let Some(document) = status.result_document_id else {
                return accept_unverified(
                    ports,
                    job,
                    feed_id,
                    "DONE without a processing report",
                    settings,
                )
                .await;
            };
            match fetch_report(ports, &mut job, &document).await {
                Ok(text) => apply_processing_report(ports, job, feed_id, &text, settings).await,
                Err(e) if e.retryability() == Retryability::Permanent => {
                    let reason = format!("processing report not readable: {e}");
                    accept_unverified(ports, job, feed_id, &reason, settings).await
                }
                Err(e) => Err(e),
            }
        }
        ProcessingStatus::Cancelled => {
            let now = ports.clock.now();
            for reference in job.shipments.clone() {
                update_shipment(ports, &job.seller_id, &reference, |s| {
                    s.release(&job.job_id, "cancelled", now)
                })
                .await?;
            }
            job.state = FeedJobState::Cancelled {
                feed_id: feed_id.to_owned(),
            };
            finish(ports, job, settings, Duration::ZERO).await?;
            Ok(StepOutcome::Advanced(
                "feed cancelled; shipments queued again",
            ))
        }
        ProcessingStatus::Fatal => {
            if let Some(document) = status.result_document_id {
                // Kept for people; a failure to fetch it does not hold the shipments back.
                if let Err(e) = fetch_report(ports, &mut job, &document).await {
                    warn!(error = %e, "processing report of a FATAL feed not kept");
                }
            }
            fail_feed(ports, job, "Amazon ended the feed FATAL", settings).await
        }
    }
}

/// Downloads the processing report once (kept in S3; a retry reads it from there) and
/// decodes it to text.
async fn fetch_report(
    ports: &FeedPorts<'_>,
    job: &mut FeedJob,
    document_id: &str,
) -> Result<String, WorkflowError> {
    let key = processing_report_key(&job.document_key);
    let (bytes, meta) = if job.report_key.is_some() {
        ports.documents.get_document(&key).await?
    } else {
        let doc = ports
            .feeds
            .download_feed_document(&job.seller_id, document_id)
            .await?;
        let meta = DocumentMeta {
            content_type: doc.content_type.clone(),
            gzip: doc.gzip,
        };
        ports
            .documents
            .put_document(&key, doc.bytes.clone(), &meta)
            .await?;
        job.report_key = Some(key.clone());
        put_job(ports, job).await?;
        (doc.bytes, meta)
    };
    let charset = meta
        .content_type
        .as_deref()
        .and_then(spsync_domain::text::charset_of_content_type);
    let mut text = String::new();
    let mut reader =
        spsync_domain::text::decode_reader(&bytes[..], meta.gzip, charset).map_err(|e| {
            WorkflowError::Document {
                key: key.clone(),
                reason: e.to_string(),
            }
        })?;
    std::io::Read::read_to_string(&mut reader, &mut text).map_err(|e| WorkflowError::Document {
        key: key.clone(),
        reason: format!("not decodable: {e}"),
    })?;
    Ok(text)
}

async fn apply_processing_report(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    feed_id: &str,
    text: &str,
    settings: &FeedSettings,
) -> Result<StepOutcome, WorkflowError> {
    let report = match parse_processing_report(text) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("processing report unreadable: {e}");
            return accept_unverified(ports, job, feed_id, &reason, settings).await;
        }
    };
    let records: Vec<RecordRef> = match ports.documents.get_document(&job.records_key()).await {
        Ok((bytes, _)) => match serde_json::from_slice(&bytes) {
            Ok(records) => records,
            Err(e) => {
                let reason = format!("record map unreadable: {e}");
                return accept_unverified(ports, job, feed_id, &reason, settings).await;
            }
        },
        Err(e) if e.retryability() == Retryability::Permanent => {
            let reason = format!("record map not readable: {e}");
            return accept_unverified(ports, job, feed_id, &reason, settings).await;
        }
        Err(e) => return Err(e.into()),
    };
    job.discrepancies = report_discrepancies(&records, &report);
    if report.nothing_processed() {
        let why = report
            .feed_errors
            .first()
            .map_or("nothing processed".to_owned(), |e| {
                format!("nothing processed: {} {}", e.code, e.message)
            });
        return fail_feed(ports, job, &why, settings).await;
    }
    if !job.discrepancies.is_empty() {
        // Rows that do not fit our records cannot be pinned on shipments: none is marked
        // rejected (or accepted) on Amazon's word; the read-back decides.
        let reason = format!(
            "the processing report does not fit the feed ({}); confirmed by the read-back only",
            job.discrepancies.join("; ")
        );
        return accept_unverified(ports, job, feed_id, &reason, settings).await;
    }
    let outcomes = apply_report(&records, &report);
    job.counts.accepted = 0;
    job.counts.warned = 0;
    job.counts.rejected = 0;
    let mut by_shipment: BTreeMap<&str, Vec<&LineOutcome>> = BTreeMap::new();
    for o in &outcomes {
        by_shipment
            .entry(o.shipment_ref.as_str())
            .or_default()
            .push(o);
        match o.outcome {
            LineVerdict::Accepted => job.counts.accepted += 1,
            LineVerdict::AcceptedWithWarning { .. } => job.counts.warned += 1,
            LineVerdict::Rejected { .. } => job.counts.rejected += 1,
        }
    }
    let now = ports.clock.now();
    for reference in job.shipments.clone() {
        let lines = by_shipment
            .get(reference.as_str())
            .cloned()
            .unwrap_or_default();
        let stored = update_shipment(ports, &job.seller_id, &reference, |s| {
            if lines.is_empty() {
                s.release(&job.job_id, "no line in the feed", now)
            } else {
                s.apply_verdicts(&job.job_id, feed_id, &lines, now)
            }
        })
        .await?;
        if let Some(s) = stored
            && let ShipmentState::Rejected { code, .. } = &s.state
        {
            info!(shipment = %s.reference(), error_code = %code, "shipment rejected by Amazon");
        }
    }
    for d in &job.discrepancies {
        warn!(discrepancy = %d, "processing report does not fit the feed");
    }
    info!(
        feed_id,
        accepted = job.counts.accepted,
        warned = job.counts.warned,
        rejected = job.counts.rejected,
        "processing report applied"
    );
    job.state = FeedJobState::Applied {
        feed_id: feed_id.to_owned(),
    };
    let (seller, chain, submitted) = (job.seller_id.clone(), job.job_id.clone(), job.submitted_at);
    finish(ports, job, settings, Duration::ZERO).await?;
    confirm_after_feed(ports, &seller, chain, submitted, settings).await?;
    Ok(StepOutcome::Advanced("processing report applied"))
}

/// DONE, but Amazon's per-line verdicts cannot be read or trusted: every shipment of the feed
/// is taken as applied with a warning saying why (never queued again: Amazon has applied what
/// it could), and the read-back confirms those whose package shows; the others are held
/// after `confirm_give_up`.
async fn accept_unverified(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    feed_id: &str,
    reason: &str,
    settings: &FeedSettings,
) -> Result<StepOutcome, WorkflowError> {
    warn!(
        feed_id,
        reason, "feed DONE without usable verdicts; the read-back decides"
    );
    let now = ports.clock.now();
    let job_id = job.job_id.clone();
    for reference in job.shipments.clone() {
        update_shipment(ports, &job.seller_id, &reference, |s| {
            let outcomes: Vec<LineOutcome> = s
                .details
                .items
                .iter()
                .map(|i| LineOutcome {
                    shipment_ref: reference.clone(),
                    amazon_order_id: s.amazon_order_id.clone(),
                    order_item_id: i.order_item_id.clone(),
                    outcome: LineVerdict::AcceptedWithWarning {
                        code: UNVERIFIED_CODE.to_owned(),
                        message: reason.to_owned(),
                    },
                })
                .collect();
            let refs: Vec<&LineOutcome> = outcomes.iter().collect();
            s.apply_verdicts(&job_id, feed_id, &refs, now)
        })
        .await?;
    }
    job.counts.warned = job.counts.lines;
    if !job.discrepancies.iter().any(|d| d == reason) {
        job.discrepancies.push(reason.to_owned());
    }
    job.state = FeedJobState::Applied {
        feed_id: feed_id.to_owned(),
    };
    let (seller, chain, submitted) = (job.seller_id.clone(), job.job_id.clone(), job.submitted_at);
    finish(ports, job, settings, Duration::ZERO).await?;
    confirm_after_feed(ports, &seller, chain, submitted, settings).await?;
    Ok(StepOutcome::Advanced(
        "feed applied unverified; the read-back decides",
    ))
}

/// Starts the seller's read-back chain from `since`, in place of the chain `replace` names
/// (`None`: only if none runs). A chain that lost the race leaves the slot to the winner.
async fn start_confirm_chain(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    chain: JobId,
    since: Option<time::OffsetDateTime>,
    delay: Duration,
    replace: Option<&JobId>,
) -> Result<(), WorkflowError> {
    match ports
        .feed_jobs
        .claim_live_feed(seller, CONFIRM_CHAIN, &chain, replace)
        .await
    {
        Ok(()) => {}
        // A chain runs (or started at the same moment): it covers these shipments.
        Err(StoreError::ConditionFailed { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let message = StepMessage::new(Step::ConfirmShipments {
        seller_id: seller.clone(),
        pass: 0,
        chain: Some(chain),
        since,
        search: None,
    });
    send_step(ports.queue, ports.clock, message, delay).await?;
    Ok(())
}

/// After a feed is applied: a read-back chain starts unless one runs (a running chain reads on
/// from its cursor, which never passes a live feed's submission, and passes every
/// [`FRESH_PASS_DELAY`] while shipments are being accepted: replacing it on every feed was
/// measured to starve the chains of searchOrders calls, the usage plan allowing one every ~3
/// minutes). A new chain starts early enough for every shipment still waiting: the oldest
/// acceptance of the last [`SEARCH_REACH`] less [`SEARCH_MARGIN`], and the feed's submission.
async fn confirm_after_feed(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    chain: JobId,
    submitted: Option<time::OffsetDateTime>,
    settings: &FeedSettings,
) -> Result<(), WorkflowError> {
    let now = ports.clock.now();
    let reach = now - SEARCH_REACH;
    let accepted = accepted_shipments(ports, seller).await?;
    let oldest = accepted
        .iter()
        .filter_map(accepted_at)
        .filter(|at| *at >= reach)
        .min()
        .map(|at| at - SEARCH_MARGIN);
    let since = oldest
        .into_iter()
        .chain(submitted.map(|at| at - time::Duration::minutes(1)))
        .min();
    start_confirm_chain(ports, seller, chain, since, settings.confirm_delay, None).await
}

/// The schedule's safety net for the read-back: a seller with accepted shipments and no
/// chain (or one older than [`CHAIN_REPLACED_AFTER`], whose message may be lost) gets a new
/// chain.
async fn ensure_confirm_chain(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    random: u64,
) -> Result<(), WorkflowError> {
    let (accepted, _) = ports
        .shipments
        .shipments_in_state(seller, "Accepted", None, 1)
        .await?;
    if accepted.is_empty() {
        return Ok(());
    }
    let now = ports.clock.now();
    let current = ports.feed_jobs.live_feed(seller, CONFIRM_CHAIN).await?;
    let stale = current.as_ref().is_none_or(|c| {
        c.created_at()
            .is_none_or(|at| now - at > CHAIN_REPLACED_AFTER)
    });
    if stale {
        let chain = JobId::generate(now, random);
        start_confirm_chain(ports, seller, chain, None, Duration::ZERO, current.as_ref()).await?;
    }
    Ok(())
}

/// The feed failed (FATAL, unreadable or empty report, permanent error): shipments queued
/// again (held after repeated failures), job ended, the next feed waits `fatal_backoff`.
async fn fail_feed(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    reason: &str,
    settings: &FeedSettings,
) -> Result<StepOutcome, WorkflowError> {
    let now = ports.clock.now();
    let feed_id = job.state.feed_id().unwrap_or("-").to_owned();
    for reference in job.shipments.clone() {
        update_shipment(ports, &job.seller_id, &reference, |s| {
            s.feed_failed(&job.job_id, &feed_id, reason, now)
        })
        .await?;
    }
    warn!(feed_id = %feed_id, reason, "feed failed; shipments queued again");
    job.state = if feed_id == "-" {
        FeedJobState::Abandoned {
            reason: reason.to_owned(),
        }
    } else {
        FeedJobState::Fatal {
            feed_id,
            reason: reason.to_owned(),
        }
    };
    finish(ports, job, settings, settings.fatal_backoff).await?;
    Ok(StepOutcome::Advanced("feed failed; shipments queued again"))
}

/// Ends a job: written, slot freed, and the seller's next feed asked for after the usage
/// plan's interval (or `extra_wait`, whichever is longer).
async fn finish(
    ports: &FeedPorts<'_>,
    mut job: FeedJob,
    settings: &FeedSettings,
    extra_wait: Duration,
) -> Result<(), WorkflowError> {
    let now = ports.clock.now();
    job.ended_at = Some(now);
    put_job(ports, &mut job).await?;
    ports
        .feed_jobs
        .release_live_feed(&job.seller_id, FULFILLMENT_FEED_TYPE, &job.job_id)
        .await?;
    let plan_wait = job.submitted_at.map_or(Duration::ZERO, |at| {
        settings.min_interval.saturating_sub(elapsed(now, at))
    });
    send_step(
        ports.queue,
        ports.clock,
        send_shipments_message(&job.seller_id),
        plan_wait.max(extra_wait),
    )
    .await?;
    Ok(())
}

/// Sets an order ORDER_FULFILLED once every unit of it is confirmed at Amazon; a write lost
/// to an import or enrichment is read again and retried. Returns whether it changed the order.
async fn fulfil_order(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    id: &AmazonOrderId,
    now: time::OffsetDateTime,
) -> Result<bool, WorkflowError> {
    for _ in 0..3 {
        let Some(mut order) = ports.orders.get_order(seller, id).await? else {
            return Ok(false);
        };
        if order.status != OrderStatus::New {
            return Ok(false);
        }
        let shipments = ports.shipments.shipments_of_order(seller, id).await?;
        if !all_items_confirmed(&order, &shipments) {
            return Ok(false);
        }
        let expected = order.version;
        order.status = OrderStatus::Fulfilled;
        order.version += 1;
        order.updated_at = now;
        match ports.orders.put_order(&order, Some(expected)).await {
            Ok(()) => {
                info!(amazon_order_id = %id, "order fulfilled: every unit confirmed at Amazon");
                return Ok(true);
            }
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

/// What a read-back pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmSummary {
    /// Shipments confirmed, with their recording → confirmed seconds.
    pub confirmed: Vec<i64>,
    /// Orders that became ORDER_FULFILLED.
    pub fulfilled_orders: usize,
    /// Shipments still waiting.
    pub waiting: usize,
    /// Shipments held because their package never showed.
    pub given_up: usize,
    /// SP-API calls the pass made (searchOrders pages and getOrder lookups).
    pub calls: u32,
}

/// The closed loop (the `ConfirmShipments` message): reads back the orders of accepted
/// shipments and confirms those whose package shows.
///
/// One chain per seller (the "live feed" slot [`CONFIRM_CHAIN`] names it). A pass searches,
/// per marketplace, the merchant-fulfilled orders updated since the oldest acceptance of the
/// last [`SEARCH_REACH`] (minus a margin: Amazon's order data lags ~2 minutes), ONE page per
/// delivery, confirming what each page shows as it goes (a throttled page loses nothing).
/// After the last page: getOrder for up to `max_get_order_per_pass` stragglers, give-ups,
/// and the next pass — soon while shipments keep being accepted, then further and further
/// apart.
#[instrument(skip_all, fields(seller_id, pass))]
pub async fn confirm_shipments(
    ports: &FeedPorts<'_>,
    message: &StepMessage,
    settings: &FeedSettings,
) -> Result<(StepOutcome, ConfirmSummary), WorkflowError> {
    let Step::ConfirmShipments {
        seller_id,
        pass,
        chain,
        since,
        search,
    } = &message.step
    else {
        return Err(WorkflowError::Config(format!(
            "confirm_shipments got a {} message",
            message.step.name()
        )));
    };
    tracing::Span::current().record("seller_id", tracing::field::display(seller_id));
    tracing::Span::current().record("pass", pass);
    if let Some(chain) = chain {
        let current = ports.feed_jobs.live_feed(seller_id, CONFIRM_CHAIN).await?;
        if current.as_ref() != Some(chain) {
            return Ok((
                StepOutcome::Ignored("a newer read-back chain runs"),
                ConfirmSummary::default(),
            ));
        }
    }
    let mut summary = ConfirmSummary::default();
    let at = Pass {
        number: *pass,
        chain,
        since: *since,
        search: search.as_ref(),
    };
    match confirm_step(ports, seller_id, &at, settings, &mut summary).await {
        Ok(outcome) => Ok((outcome, summary)),
        Err(error) => match error.retryability() {
            Retryability::Throttled { retry_after } => {
                send_step(
                    ports.queue,
                    ports.clock,
                    message.next_attempt(),
                    retry_after,
                )
                .await?;
                Ok((StepOutcome::Requeued(retry_after), summary))
            }
            _ => Err(error),
        },
    }
}

async fn accepted_shipments(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
) -> Result<Vec<Shipment>, StoreError> {
    let mut accepted: Vec<Shipment> = Vec::new();
    let mut page = None;
    loop {
        let (batch, next) = ports
            .shipments
            .shipments_in_state(seller, "Accepted", page, 500)
            .await?;
        accepted.extend(batch);
        match next {
            Some(n) if accepted.len() < 5_000 => page = Some(n),
            _ => return Ok(accepted),
        }
    }
}

fn accepted_at(s: &Shipment) -> Option<time::OffsetDateTime> {
    match &s.state {
        ShipmentState::Accepted { accepted_at, .. } => Some(*accepted_at),
        _ => None,
    }
}

/// Where a read-back delivery is: its chain, pass, cursor and page.
struct Pass<'a> {
    number: u32,
    chain: &'a Option<JobId>,
    since: Option<time::OffsetDateTime>,
    search: Option<&'a ConfirmSearch>,
}

async fn confirm_step(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    at: &Pass<'_>,
    settings: &FeedSettings,
    summary: &mut ConfirmSummary,
) -> Result<StepOutcome, WorkflowError> {
    let (pass, chain) = (at.number, at.chain);
    let now = ports.clock.now();
    let mut accepted = accepted_shipments(ports, seller).await?;
    if accepted.is_empty() {
        end_chain(ports, seller, chain).await?;
        return Ok(StepOutcome::Advanced(
            "no accepted shipment left to confirm",
        ));
    }
    // The cursor: given by the chain, or (a chain the schedule started) the oldest acceptance
    // of the last SEARCH_REACH less the margin.
    let since = at.since.unwrap_or_else(|| {
        let reach = now - SEARCH_REACH;
        accepted
            .iter()
            .filter_map(accepted_at)
            .map(|t| t.max(reach))
            .min()
            .unwrap_or(reach)
            - SEARCH_MARGIN
    });
    let marketplaces: BTreeSet<String> = accepted
        .iter()
        .map(|s| s.marketplace_id.to_string())
        .collect();
    let current = match at.search {
        Some(s) => Some(s.clone()),
        None => marketplaces.iter().next().map(|m| ConfirmSearch {
            marketplace_id: spsync_domain::MarketplaceId::new(m.clone()),
            updated_after: since,
            page_token: None,
            pass_started: now,
        }),
    };
    let pass_started = current.as_ref().map_or(now, |c| c.pass_started);

    if let Some(current) = current {
        let page = ports
            .packages
            .search_packages(
                seller,
                &current.marketplace_id,
                current.updated_after,
                current.page_token.as_deref(),
            )
            .await?;
        summary.calls += 1;
        let seen: HashMap<String, OrderShipmentsSeen> = page
            .orders
            .into_iter()
            .map(|o| (o.amazon_order_id.to_string(), o))
            .collect();
        confirm_seen(ports, seller, &mut accepted, &seen, now, summary).await?;
        // The same pass goes on: the next page, or the next marketplace.
        let next = match page.next_token {
            Some(token) => Some(ConfirmSearch {
                page_token: Some(token),
                ..current
            }),
            None => marketplaces
                .range::<String, _>((
                    std::ops::Bound::Excluded(current.marketplace_id.to_string()),
                    std::ops::Bound::Unbounded,
                ))
                .next()
                .map(|m| ConfirmSearch {
                    marketplace_id: spsync_domain::MarketplaceId::new(m.clone()),
                    updated_after: current.updated_after,
                    page_token: None,
                    pass_started: current.pass_started,
                }),
        };
        if next.is_some() && !accepted.is_empty() {
            let message = StepMessage::new(Step::ConfirmShipments {
                seller_id: seller.clone(),
                pass,
                chain: chain.clone(),
                since: Some(since),
                search: next,
            });
            send_step(ports.queue, ports.clock, message, Duration::ZERO).await?;
            return Ok(StepOutcome::Advanced("read-back page done"));
        }
    }

    // The pass's searches are done: stragglers, give-ups, and the next pass.
    let mut lookups = 0usize;
    let mut straggled: HashMap<String, OrderShipmentsSeen> = HashMap::new();
    for s in &accepted {
        let old = accepted_at(s).is_some_and(|at| elapsed(now, at) >= settings.straggler_after);
        if !old
            || lookups >= settings.max_get_order_per_pass
            || straggled.contains_key(s.amazon_order_id.as_str())
        {
            continue;
        }
        lookups += 1;
        summary.calls += 1;
        if let Some(o) = ports
            .packages
            .get_packages(seller, &s.amazon_order_id)
            .await?
        {
            straggled.insert(s.amazon_order_id.to_string(), o);
        }
    }
    confirm_seen(ports, seller, &mut accepted, &straggled, now, summary).await?;

    for s in &accepted {
        let Some(at) = accepted_at(s) else { continue };
        if elapsed(now, at) < settings.confirm_give_up {
            summary.waiting += 1;
            continue;
        }
        let reason = format!(
            "Amazon accepted the feed but the order showed no package with this tracking \
             number for {} h",
            settings.confirm_give_up.as_secs() / 3600
        );
        let held = update_shipment(ports, seller, &s.reference(), |s| {
            if matches!(s.state, ShipmentState::Accepted { .. }) {
                s.state = ShipmentState::Held {
                    reason: reason.clone(),
                };
                true
            } else {
                false
            }
        })
        .await?;
        if held.is_some() {
            warn!(shipment = %s.reference(), "accepted shipment never showed on the order; held");
            summary.given_up += 1;
        }
    }
    if summary.waiting == 0 {
        end_chain(ports, seller, chain).await?;
        return Ok(StepOutcome::Advanced("all accepted shipments confirmed"));
    }
    if chain.is_none() {
        // A one-off pass (no chain): the schedule's safety net starts a chain.
        return Ok(StepOutcome::Advanced("read-back pass made"));
    }
    // Soon while shipments keep being accepted; further apart for the ones left behind.
    let fresh = accepted
        .iter()
        .filter_map(accepted_at)
        .any(|at| elapsed(now, at) < FRESH_ACCEPTANCE);
    let delay = if fresh {
        FRESH_PASS_DELAY
    } else {
        Duration::from_secs(CONFIRM_DELAYS[(pass as usize).min(CONFIRM_DELAYS.len() - 1)])
    };
    // The next pass reads what changed since just before this one began (Amazon's data lags
    // ~2 minutes), never past a live feed's submission (its orders change when Amazon
    // processes it, possibly before we read its report).
    let mut next_since = (pass_started - SEARCH_OVERLAP).max(since);
    if let Some(live) = ports
        .feed_jobs
        .live_feed(seller, FULFILLMENT_FEED_TYPE)
        .await?
        && let Some(job) = ports.feed_jobs.get_feed_job(seller, &live).await?
        && let Some(submitted) = job.submitted_at
    {
        next_since = next_since.min(submitted - time::Duration::minutes(1));
    }
    let next = StepMessage::new(Step::ConfirmShipments {
        seller_id: seller.clone(),
        pass: pass + 1,
        chain: chain.clone(),
        since: Some(next_since),
        search: None,
    });
    send_step(ports.queue, ports.clock, next, delay).await?;
    Ok(StepOutcome::Requeued(delay))
}

async fn end_chain(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    chain: &Option<JobId>,
) -> Result<(), StoreError> {
    match chain {
        Some(chain) => {
            ports
                .feed_jobs
                .release_live_feed(seller, CONFIRM_CHAIN, chain)
                .await
        }
        None => Ok(()),
    }
}

/// Confirms the accepted shipments whose package `seen` shows (and takes them out of
/// `accepted`), then fulfils their orders once every unit is confirmed.
async fn confirm_seen(
    ports: &FeedPorts<'_>,
    seller: &SellerId,
    accepted: &mut Vec<Shipment>,
    seen: &HashMap<String, OrderShipmentsSeen>,
    now: time::OffsetDateTime,
    summary: &mut ConfirmSummary,
) -> Result<(), WorkflowError> {
    if seen.is_empty() {
        return Ok(());
    }
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut left = Vec::with_capacity(accepted.len());
    for s in accepted.drain(..) {
        let shows = seen
            .get(s.amazon_order_id.as_str())
            .is_some_and(|o| package_shows(&s.details, &o.packages));
        if !shows {
            left.push(s);
            continue;
        }
        let reference = s.reference();
        if let Some(stored) = update_shipment(ports, seller, &reference, |s| s.confirm(now)).await?
        {
            let secs = stored.confirm_seconds.unwrap_or(0);
            info!(shipment = %reference, confirm_seconds = secs, "shipment confirmed at Amazon");
            summary.confirmed.push(secs);
            touched.insert(s.amazon_order_id.to_string());
        }
    }
    *accepted = left;
    for order_id in touched {
        if fulfil_order(ports, seller, &AmazonOrderId::new(order_id), now).await? {
            summary.fulfilled_orders += 1;
        }
    }
    Ok(())
}
