//! Report jobs: start (scheduled) and poll (SQS step).
//!
//! One job per seller × marketplace × report type runs at a time: the "active" slot in the
//! job store points at it, and a schedule that fires while a job runs reuses it instead of
//! requesting a second report. The PollReport step does everything that talks to Amazon about
//! the report: it creates the report when the job has none yet (a createReport that was
//! throttled or failed transiently is simply retried by the next PollReport), polls it, and on
//! DONE downloads the raw document into the document store before handing over to the import.

use std::time::Duration;

use spsync_domain::{
    JobId, JobState, MarketplaceId, ORDERS_REPORT_TYPE, PollDecision, ReportJob, SellerId,
    SplitMix64, next_poll,
};
use tracing::{info, instrument, warn};

use crate::*;

/// The ports the report steps use.
pub struct ReportPorts<'a> {
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Jobs.
    pub jobs: &'a dyn JobStore,
    /// Step queue.
    pub queue: &'a dyn StepQueue,
    /// Reports API.
    pub reports: &'a dyn ReportsApi,
    /// Raw documents (poll stores DONE documents).
    pub documents: &'a dyn DocumentStore,
}

/// What `start_report` did for one seller and marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new job was created and its first PollReport step (which creates the report) sent.
    Started(JobId),
    /// A job was already running; it was left alone (or its lost step re-sent).
    Reused(JobId),
}

/// Delay of the first PollReport after a job is created: createReport runs at once.
const FIRST_STEP_DELAY: Duration = Duration::ZERO;

/// A job whose step message may have been lost (a crash between two writes) is nudged by
/// the schedule once it has not moved for this long.
const NUDGE_AFTER: Duration = Duration::from_secs(15 * 60);

/// Starts the order report for every enabled seller × marketplace. One seller's failure
/// does not stop the others: each result is returned.
#[allow(clippy::type_complexity)]
pub async fn start_reports(
    ports: &ReportPorts<'_>,
    sellers: &dyn SellerDirectory,
    settings: &FlowSettings,
) -> Result<Vec<(SellerId, MarketplaceId, Result<StartOutcome, WorkflowError>)>, WorkflowError> {
    let mut results = Vec::new();
    for account in sellers.sellers().await? {
        if !account.enabled {
            continue;
        }
        for marketplace in &account.marketplaces {
            let outcome = start_report(ports, &account.seller_id, marketplace, settings).await;
            if let Err(e) = &outcome {
                warn!(seller_id = %account.seller_id, marketplace_id = %marketplace,
                      error_class = e.class(), error = %e, "report start failed");
            }
            results.push((account.seller_id.clone(), marketplace.clone(), outcome));
        }
    }
    Ok(results)
}

/// Starts (or reuses) the order report job of one seller and marketplace.
#[instrument(skip_all, fields(seller_id = %seller, marketplace_id = %marketplace))]
pub async fn start_report(
    ports: &ReportPorts<'_>,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    settings: &FlowSettings,
) -> Result<StartOutcome, WorkflowError> {
    start_job(ports, seller, marketplace, settings, None).await
}

async fn start_job(
    ports: &ReportPorts<'_>,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    settings: &FlowSettings,
    replaces: Option<JobId>,
) -> Result<StartOutcome, WorkflowError> {
    let now = ports.clock.now();
    let report_type = ORDERS_REPORT_TYPE;
    let mut previous = ports
        .jobs
        .active_job(seller, marketplace, report_type)
        .await?;
    if let Some(active) = previous.clone() {
        let key = JobKey {
            seller_id: seller.clone(),
            marketplace_id: marketplace.clone(),
            job_id: active.clone(),
        };
        match ports.jobs.get_job(&key).await? {
            Some(job)
                if !job.state.is_terminal() && now - job.created_at >= abandon_after(settings) =>
            {
                // Last resort: a job that made no way for far longer than a report may take
                // (its steps keep failing, or its messages went to the dead-letter queue) is
                // ended so the seller's imports go on; the next job covers the same window.
                abandon(ports, job, settings).await?;
                previous = ports
                    .jobs
                    .active_job(seller, marketplace, report_type)
                    .await?;
            }
            Some(job) if !job.state.is_terminal() => {
                // A crash may have lost the job's next message (e.g. between storing the
                // document and sending ImportReport): a job that has not moved for a while
                // gets its step sent again. The message is bound to the job's version, so if
                // the old chain is alive after all, only one of the two goes on.
                if now - job.updated_at >= NUDGE_AFTER {
                    let step = match job.state {
                        JobState::Stored => Step::ImportReport { job: key.clone() },
                        _ => Step::PollReport { job: key.clone() },
                    };
                    info!(job_id = %job.job_id, state = job.state.as_str(), step = step.name(),
                          "stalled job nudged");
                    let message = StepMessage::new(step).for_version(job.version);
                    send_step(ports.queue, ports.clock, message, Duration::ZERO).await?;
                }
                return Ok(StartOutcome::Reused(job.job_id));
            }
            // Terminal (or vanished) jobs leave the slot to a new one.
            _ => {}
        }
    }

    let job_id = JobId::generate(now, random_suffix(seller, marketplace, now));
    let mut job = ReportJob::new(
        job_id.clone(),
        seller.clone(),
        marketplace.clone(),
        report_type,
        settings.lookback,
        now,
    );
    job.replaces = replaces;
    // The job is written before it claims the slot, so a concurrent start never sees a slot
    // pointing at a job that does not exist yet. Two starts at once: one claim wins, the
    // loser's job is closed at once (no message was sent for it) and the winner's is reused.
    ports.jobs.put_job(&job, None).await?;
    match ports
        .jobs
        .claim_active(seller, marketplace, report_type, &job_id, previous.as_ref())
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            let expected = job.version;
            job.state = JobState::Failed;
            job.failure = Some("another start claimed the seller's report slot first".into());
            job.version += 1;
            write_job(ports.jobs, &job, expected).await?;
            let winner = ports
                .jobs
                .active_job(seller, marketplace, report_type)
                .await?
                .ok_or_else(|| StoreError::ConditionFailed {
                    what: "active report slot".into(),
                })?;
            return Ok(StartOutcome::Reused(winner));
        }
        Err(e) => return Err(e.into()),
    }
    let key = JobKey {
        seller_id: seller.clone(),
        marketplace_id: marketplace.clone(),
        job_id: job_id.clone(),
    };
    send_step(
        ports.queue,
        ports.clock,
        StepMessage::new(Step::PollReport { job: key }).for_version(job.version),
        FIRST_STEP_DELAY,
    )
    .await?;
    info!(job_id = %job_id, report_type, "report job started");
    Ok(StartOutcome::Started(job_id))
}

fn random_suffix(seller: &SellerId, marketplace: &MarketplaceId, now: time::OffsetDateTime) -> u64 {
    use std::hash::BuildHasher;
    // Per-process random keys (std's RandomState): two runs over the same simulated time, or
    // two containers in the same second, still get distinct ids. The slot claim is what
    // prevents two live jobs; the id only has to be unique.
    let key = (
        seller.as_str(),
        marketplace.as_str(),
        now.unix_timestamp_nanos(),
    );
    SplitMix64::new(std::collections::hash_map::RandomState::new().hash_one(key)).next_u64()
}

/// Wait before trying a createReport again whose outcome was unknown: 1, 2, 4 ... 15 min.
fn transient_backoff(attempt: u32) -> Duration {
    Duration::from_secs(60u64.saturating_mul(1 << attempt.min(4))).min(MAX_QUEUE_DELAY)
}

/// How old a live job may get before the schedule gives up on it.
fn abandon_after(settings: &FlowSettings) -> Duration {
    settings.stuck_after * 2
}

/// Ends a job that made no way (best-effort cancel at Amazon) and frees the slot.
async fn abandon(
    ports: &ReportPorts<'_>,
    mut job: ReportJob,
    settings: &FlowSettings,
) -> Result<(), WorkflowError> {
    if let Some(report_id) = job.report_id.clone()
        && job.state == JobState::InProgress
        && let Err(e) = ports
            .reports
            .cancel_report(&job.seller_id, &report_id)
            .await
    {
        warn!(job_id = %job.job_id, error = %e, "abandoned report not cancelled at Amazon");
    }
    let expected = job.version;
    job.failure = Some(format!(
        "no progress in {} min (state {}): abandoned, a new job covers the window",
        abandon_after(settings).as_secs() / 60,
        job.state.as_str()
    ));
    job.state = JobState::Failed;
    job.updated_at = ports.clock.now();
    job.version += 1;
    end_job(ports.jobs, &job, expected).await?;
    Ok(())
}

/// The PollReport step.
#[instrument(skip_all, fields(job_id = tracing::field::Empty, step = "PollReport", attempt = message.attempt))]
pub async fn poll_report(
    ports: &ReportPorts<'_>,
    message: &StepMessage,
    settings: &FlowSettings,
) -> Result<StepOutcome, WorkflowError> {
    let Step::PollReport { job: key } = &message.step else {
        return Ok(StepOutcome::Ignored("not a PollReport step"));
    };
    tracing::Span::current().record("job_id", tracing::field::display(&key.job_id));
    let Some(job) = ports.jobs.get_job(key).await? else {
        return Ok(StepOutcome::Ignored("job not found"));
    };
    // Chains of PollReport messages are bound to job versions: an older version is the
    // leftover of a duplicate chain (dropped), a newer one was sent just before its job
    // write, which is not visible yet (retried). A stored job takes any PollReport: all it
    // does is hand over to the import again, which is harmless.
    if job.state != JobState::Stored {
        match message.job_version {
            Some(v) if v < job.version => {
                return Ok(StepOutcome::Ignored("stale message of a duplicate chain"));
            }
            Some(v) if v > job.version => {
                return Err(StoreError::ConditionFailed {
                    what: format!("job {} not yet at version {v}", job.job_id),
                }
                .into());
            }
            _ => {}
        }
    }
    match job.state {
        JobState::Requested => create_report(ports, message, job).await,
        JobState::InProgress => poll_once(ports, message, job, settings).await,
        JobState::Stored => {
            // Duplicate delivery, or a crash after storing the document: hand over again.
            send_step(
                ports.queue,
                ports.clock,
                StepMessage::new(Step::ImportReport { job: key.clone() }).for_version(job.version),
                Duration::ZERO,
            )
            .await?;
            Ok(StepOutcome::Advanced("import re-sent"))
        }
        JobState::Imported | JobState::Cancelled | JobState::Failed => {
            Ok(StepOutcome::Ignored("job already finished"))
        }
    }
}

async fn create_report(
    ports: &ReportPorts<'_>,
    message: &StepMessage,
    mut job: ReportJob,
) -> Result<StepOutcome, WorkflowError> {
    // An earlier attempt may have reached Amazon (a timeout, a crash before its answer was
    // written): adopt that report rather than create a second one.
    let adopted = if job.create_attempts > 0 {
        match ports
            .reports
            .find_report(
                &job.seller_id,
                &job.report_type,
                &job.marketplace_id,
                job.created_at,
            )
            .await
        {
            Ok(found) => found,
            Err(e) => return retry_or_fail(ports, message, job, e.into()).await,
        }
    } else {
        None
    };
    let report_id = match adopted {
        Some(id) => {
            info!(job_id = %job.job_id, report_id = %id, "report of an earlier attempt adopted");
            id
        }
        None => {
            // Claim the attempt first: of two deliveries of this step, only the one whose
            // conditional write wins calls createReport.
            let expected = job.version;
            job.create_attempts += 1;
            job.updated_at = ports.clock.now();
            job.version += 1;
            if !write_job(ports.jobs, &job, expected).await? {
                return Ok(StepOutcome::Ignored(
                    "another delivery is creating the report",
                ));
            }
            let created = ports
                .reports
                .create_report(
                    &job.seller_id,
                    &job.report_type,
                    &job.marketplace_id,
                    job.data_start,
                    job.data_end,
                )
                .await;
            match created {
                Ok(id) => id,
                Err(e) => {
                    let e: WorkflowError = e.into();
                    let retry = message.clone().for_version(job.version);
                    if e.retryability() == Retryability::Transient {
                        // The claim above moved the job's version, so a redelivery of this
                        // message would be dropped as stale: come back ourselves, and adopt
                        // the report then if the failed call reached Amazon after all.
                        let delay = transient_backoff(message.attempt);
                        warn!(job_id = %job.job_id, error = %e, delay_s = delay.as_secs(),
                              "createReport outcome unknown, step re-queued");
                        send_step(ports.queue, ports.clock, retry.next_attempt(), delay).await?;
                        return Ok(StepOutcome::Requeued(delay));
                    }
                    return retry_or_fail(ports, &retry, job, e).await;
                }
            }
        }
    };
    let expected = job.version;
    job.report_id = Some(report_id.clone());
    job.state = JobState::InProgress;
    job.updated_at = ports.clock.now();
    job.version += 1;
    // Send, then write: if the write is lost the sent message meets the job one version
    // behind and is retried; if two deliveries both get here, their two chains meet at the
    // next version and one of them is dropped.
    let delay = spsync_domain::poll_delay(0);
    send_step(
        ports.queue,
        ports.clock,
        message.next_attempt().for_version(job.version),
        delay,
    )
    .await?;
    if !write_job(ports.jobs, &job, expected).await? {
        return Ok(StepOutcome::Ignored("job changed concurrently"));
    }
    info!(job_id = %job.job_id, report_id = %report_id, delay_s = delay.as_secs(), "report requested");
    Ok(StepOutcome::Requeued(delay))
}

async fn poll_once(
    ports: &ReportPorts<'_>,
    message: &StepMessage,
    mut job: ReportJob,
    settings: &FlowSettings,
) -> Result<StepOutcome, WorkflowError> {
    let Some(report_id) = job.report_id.clone() else {
        return fail_job(ports, job, "in progress without a report id".into()).await;
    };
    let status = match ports.reports.get_report(&job.seller_id, &report_id).await {
        Ok(s) => s,
        Err(e) => return retry_or_fail(ports, message, job, e.into()).await,
    };
    let now = ports.clock.now();
    let expected = job.version;
    job.polls += 1;
    let decision = next_poll(
        &job,
        status.processing_status,
        status.report_document_id.as_deref(),
        now,
        settings.stuck_after,
    );
    job.last_status = Some(status.processing_status);
    job.updated_at = now;
    job.version += 1;
    info!(job_id = %job.job_id, processing_status = ?status.processing_status, polls = job.polls, "report polled");
    match decision {
        PollDecision::PollAgainAfter(delay) => {
            // Send, then write (see `create_report`).
            send_step(
                ports.queue,
                ports.clock,
                message.next_attempt().for_version(job.version),
                delay,
            )
            .await?;
            if !write_job(ports.jobs, &job, expected).await? {
                return Ok(StepOutcome::Ignored("job changed concurrently"));
            }
            Ok(StepOutcome::Requeued(delay))
        }
        PollDecision::Fetch { report_document_id } => {
            fetch_and_store(ports, message, job, expected, report_document_id).await
        }
        PollDecision::Cancelled => {
            job.state = JobState::Cancelled;
            finish(ports, job, expected).await
        }
        PollDecision::Fatal => {
            job.state = JobState::Failed;
            job.failure = Some(format!(
                "Amazon ended report {report_id} FATAL{}",
                status
                    .report_document_id
                    .map(|d| format!(" (error document {d})"))
                    .unwrap_or_default()
            ));
            finish(ports, job, expected).await
        }
        PollDecision::DoneWithoutDocument => {
            job.state = JobState::Failed;
            job.failure = Some(format!("report {report_id} DONE without a document id"));
            finish(ports, job, expected).await
        }
        PollDecision::Stuck => replace_stuck(ports, job, expected, settings).await,
    }
}

async fn fetch_and_store(
    ports: &ReportPorts<'_>,
    message: &StepMessage,
    mut job: ReportJob,
    expected: u64,
    report_document_id: String,
) -> Result<StepOutcome, WorkflowError> {
    let doc = match ports
        .reports
        .download_report_document(&job.seller_id, &report_document_id)
        .await
    {
        Ok(doc) => doc,
        Err(e) => {
            // The poll itself succeeded: keep its count, then retry the download later.
            job.version = expected;
            return retry_or_fail(ports, message, job, e.into()).await;
        }
    };
    let report_id = job.report_id.clone().unwrap_or_default();
    let key = job.document_key_for(&report_id);
    let bytes = doc.bytes.len();
    if let Err(e) = ports
        .documents
        .put_document(
            &key,
            doc.bytes,
            &DocumentMeta {
                content_type: doc.content_type,
                gzip: doc.gzip,
            },
        )
        .await
    {
        job.version = expected;
        return retry_or_fail(ports, message, job, e.into()).await;
    }
    job.report_document_id = Some(report_document_id);
    job.document_key = Some(key.clone());
    job.state = JobState::Stored;
    if !write_job(ports.jobs, &job, expected).await? {
        return Ok(StepOutcome::Ignored("job changed concurrently"));
    }
    info!(job_id = %job.job_id, bytes, "report document stored");
    let job_key = JobKey {
        seller_id: job.seller_id.clone(),
        marketplace_id: job.marketplace_id.clone(),
        job_id: job.job_id.clone(),
    };
    send_step(
        ports.queue,
        ports.clock,
        StepMessage::new(Step::ImportReport { job: job_key }).for_version(job.version),
        Duration::ZERO,
    )
    .await?;
    Ok(StepOutcome::Advanced("document stored"))
}

async fn replace_stuck(
    ports: &ReportPorts<'_>,
    mut job: ReportJob,
    expected: u64,
    settings: &FlowSettings,
) -> Result<StepOutcome, WorkflowError> {
    let report_id = job.report_id.clone().unwrap_or_default();
    // Amazon cancels only IN_QUEUE reports; an IN_PROGRESS one is abandoned. Either way the
    // job ends and a fresh one replaces it.
    if let Err(e) = ports
        .reports
        .cancel_report(&job.seller_id, &report_id)
        .await
    {
        warn!(job_id = %job.job_id, error = %e, "stuck report not cancelled at Amazon");
    }
    job.state = JobState::Failed;
    job.failure = Some(format!(
        "report {report_id} still {:?} after {} min: cancelled and replaced",
        job.last_status,
        settings.stuck_after.as_secs() / 60
    ));
    let old = job.job_id.clone();
    let (seller, marketplace) = (job.seller_id.clone(), job.marketplace_id.clone());
    if !write_job(ports.jobs, &job, expected).await? {
        return Ok(StepOutcome::Ignored("job changed concurrently"));
    }
    warn!(job_id = %old, "stuck report replaced");
    ports
        .jobs
        .release_active(&seller, &marketplace, &job.report_type, &old)
        .await?;
    start_job(ports, &seller, &marketplace, settings, Some(old)).await?;
    Ok(StepOutcome::Finished(JobState::Failed))
}

/// Throttled → the step comes back after Amazon's wait (no Lambda sleeps); transient → the
/// error goes to the batch runner (SQS redelivers, then the DLQ); permanent → the job fails
/// with the reason and the slot is freed for the next schedule.
async fn retry_or_fail(
    ports: &ReportPorts<'_>,
    message: &StepMessage,
    job: ReportJob,
    error: WorkflowError,
) -> Result<StepOutcome, WorkflowError> {
    match error.retryability() {
        Retryability::Throttled { retry_after } => {
            info!(job_id = %job.job_id, retry_after_ms = retry_after.as_millis() as u64, "throttled, step re-queued");
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
        Retryability::Permanent => fail_job(ports, job, error.to_string()).await,
    }
}

async fn fail_job(
    ports: &ReportPorts<'_>,
    mut job: ReportJob,
    reason: String,
) -> Result<StepOutcome, WorkflowError> {
    let expected = job.version;
    job.state = JobState::Failed;
    job.failure = Some(reason);
    job.updated_at = ports.clock.now();
    job.version += 1;
    finish(ports, job, expected).await
}

async fn finish(
    ports: &ReportPorts<'_>,
    job: ReportJob,
    expected: u64,
) -> Result<StepOutcome, WorkflowError> {
    end_job(ports.jobs, &job, expected).await
}

/// Writes a job that reached a terminal state (conditional on `expected`) and frees the
/// seller's slot; the one place a job ends.
pub(crate) async fn end_job(
    jobs: &dyn JobStore,
    job: &ReportJob,
    expected: u64,
) -> Result<StepOutcome, WorkflowError> {
    if !write_job(jobs, job, expected).await? {
        return Ok(StepOutcome::Ignored("job changed concurrently"));
    }
    jobs.release_active(
        &job.seller_id,
        &job.marketplace_id,
        &job.report_type,
        &job.job_id,
    )
    .await?;
    if let Some(reason) = &job.failure {
        warn!(job_id = %job.job_id, state = job.state.as_str(), reason = %reason, "report job ended");
    } else {
        info!(job_id = %job.job_id, state = job.state.as_str(), "report job ended");
    }
    Ok(StepOutcome::Finished(job.state))
}

/// Conditional write of a job; `false` when another delivery got there first.
pub(crate) async fn write_job(
    jobs: &dyn JobStore,
    job: &ReportJob,
    expected: u64,
) -> Result<bool, StoreError> {
    match jobs.put_job(job, Some(expected)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
