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
    let now = ports.clock.now();
    let report_type = ORDERS_REPORT_TYPE;
    let previous = ports
        .jobs
        .active_job(seller, marketplace, report_type)
        .await?;
    if let Some(active) = &previous {
        let key = JobKey {
            seller_id: seller.clone(),
            marketplace_id: marketplace.clone(),
            job_id: active.clone(),
        };
        match ports.jobs.get_job(&key).await? {
            Some(job) if !job.state.is_terminal() => {
                // A crash may have lost the job's next message (e.g. between storing the
                // document and sending ImportReport): a job that has not moved for a while
                // gets its step sent again. Steps are idempotent, so a duplicate is harmless.
                if now - job.updated_at >= NUDGE_AFTER {
                    let step = match job.state {
                        JobState::Stored => Step::ImportReport { job: key.clone() },
                        _ => Step::PollReport { job: key.clone() },
                    };
                    info!(job_id = %job.job_id, state = job.state.as_str(), step = step.name(),
                          "stalled job nudged");
                    send_step(ports.queue, ports.clock, StepMessage::new(step), Duration::ZERO)
                        .await?;
                }
                return Ok(StartOutcome::Reused(job.job_id));
            }
            // Terminal (or vanished) jobs leave the slot to a new one.
            _ => {}
        }
    }

    let job_id = JobId::generate(now, random_suffix(seller, marketplace, now));
    let job = ReportJob::new(
        job_id.clone(),
        seller.clone(),
        marketplace.clone(),
        report_type,
        settings.lookback,
        now,
    );
    // Claim the slot first: two schedules firing at once cannot both start a job (the loser
    // sees ConditionFailed and reuses the winner's). A crash after the claim leaves the slot
    // pointing at a job that does not exist, which the next schedule replaces (above).
    match ports
        .jobs
        .claim_active(seller, marketplace, report_type, &job_id, previous.as_ref())
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
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
    ports.jobs.put_job(&job, None).await?;
    let key = JobKey {
        seller_id: seller.clone(),
        marketplace_id: marketplace.clone(),
        job_id: job_id.clone(),
    };
    send_step(
        ports.queue,
        ports.clock,
        StepMessage::new(Step::PollReport { job: key }),
        FIRST_STEP_DELAY,
    )
    .await?;
    info!(job_id = %job_id, report_type, "report job started");
    Ok(StartOutcome::Started(job_id))
}

fn random_suffix(seller: &SellerId, marketplace: &MarketplaceId, now: time::OffsetDateTime) -> u64 {
    // Unique enough per slot and second; the slot claim is what prevents doubles.
    let mut seed = now.unix_timestamp_nanos() as u64;
    for b in seller.as_str().bytes().chain(marketplace.as_str().bytes()) {
        seed = seed.rotate_left(5) ^ u64::from(b);
    }
    SplitMix64::new(seed).next_u64()
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
    match job.state {
        JobState::Requested => create_report(ports, message, job).await,
        JobState::InProgress => poll_once(ports, message, job, settings).await,
        JobState::Stored => {
            // Duplicate delivery, or a crash after storing the document: hand over again.
            send_step(
                ports.queue,
                ports.clock,
                StepMessage::new(Step::ImportReport { job: key.clone() }),
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
    let report_id = match created {
        Ok(id) => id,
        Err(e) => return retry_or_fail(ports, message, job, e.into()).await,
    };
    let expected = job.version;
    job.report_id = Some(report_id.clone());
    job.state = JobState::InProgress;
    job.updated_at = ports.clock.now();
    job.version += 1;
    if !write_job(ports.jobs, &job, expected).await? {
        return Ok(StepOutcome::Ignored("job changed concurrently"));
    }
    let delay = spsync_domain::poll_delay(0);
    send_step(ports.queue, ports.clock, message.next_attempt(), delay).await?;
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
            if !write_job(ports.jobs, &job, expected).await? {
                return Ok(StepOutcome::Ignored("job changed concurrently"));
            }
            send_step(ports.queue, ports.clock, message.next_attempt(), delay).await?;
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
    ports
        .documents
        .put_document(
            &key,
            doc.bytes,
            &DocumentMeta {
                content_type: doc.content_type,
                gzip: doc.gzip,
            },
        )
        .await?;
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
        StepMessage::new(Step::ImportReport { job: job_key }),
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
    if let Err(e) = ports.reports.cancel_report(&job.seller_id, &report_id).await {
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
    match start_report(ports, &seller, &marketplace, settings).await? {
        StartOutcome::Started(new_id) => {
            let key = JobKey {
                seller_id: seller,
                marketplace_id: marketplace,
                job_id: new_id,
            };
            if let Some(mut new_job) = ports.jobs.get_job(&key).await? {
                let v = new_job.version;
                new_job.replaces = Some(old);
                new_job.version += 1;
                write_job(ports.jobs, &new_job, v).await?;
            }
        }
        StartOutcome::Reused(_) => {}
    }
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
            send_step(ports.queue, ports.clock, message.next_attempt(), retry_after).await?;
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
    if !write_job(ports.jobs, &job, expected).await? {
        return Ok(StepOutcome::Ignored("job changed concurrently"));
    }
    ports
        .jobs
        .release_active(&job.seller_id, &job.marketplace_id, &job.report_type, &job.job_id)
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
