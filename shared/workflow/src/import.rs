//! Import of a stored order report into orders.
//!
//! The raw document is read back from the document store, decoded (GZIP, charset) and parsed
//! as a stream: orders go to the store in chunks of [`CHUNK`] (one batch read, then one
//! conditional write per order that changed), so memory does not grow with the report. A
//! malformed row is counted and reported with its line number, and the import goes on; a
//! document that cannot be read at all fails the job with the reason, and the raw bytes stay
//! in S3 for a human. A crash half-way is harmless: the redelivered step imports again, and
//! orders already written compare as unchanged (no write).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use spsync_domain::{
    AmazonOrderId, ImportDecision, ImportStats, JobState, MAX_KEPT_ROW_ERRORS, MarketplaceId,
    Order, OrderReportReader, ReportJob, ReportOrder, SellerId, decide_import,
};
use time::OffsetDateTime;
use tracing::{info, instrument, warn};

use crate::report::end_job;
use crate::*;

/// Orders read from the store and written per round trip (BatchGetItem takes 100 keys).
const CHUNK: usize = 100;

/// Attempts for one order whose conditional write lost a race.
const WRITE_ATTEMPTS: usize = 3;

/// The ports the import uses.
pub struct ImportPorts<'a> {
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Jobs.
    pub jobs: &'a dyn JobStore,
    /// Orders.
    pub orders: &'a dyn OrderStore,
    /// Raw documents.
    pub documents: &'a dyn DocumentStore,
    /// Step queue (EnrichOrders after an import).
    pub queue: &'a dyn StepQueue,
}

/// The ImportReport step.
#[instrument(skip_all, fields(job_id = tracing::field::Empty, step = "ImportReport", attempt = message.attempt))]
pub async fn import_report(
    ports: &ImportPorts<'_>,
    message: &StepMessage,
) -> Result<StepOutcome, WorkflowError> {
    let Step::ImportReport { job: key } = &message.step else {
        return Ok(StepOutcome::Ignored("not an ImportReport step"));
    };
    tracing::Span::current().record("job_id", tracing::field::display(&key.job_id));
    let Some(mut job) = ports.jobs.get_job(key).await? else {
        return Ok(StepOutcome::Ignored("job not found"));
    };
    if job.state != JobState::Stored {
        return Ok(StepOutcome::Ignored("job not waiting for an import"));
    }
    let Some(doc_key) = job.document_key.clone() else {
        return fail(ports, job, "stored without a document key".into()).await;
    };
    let (bytes, meta) = match ports.documents.get_document(&doc_key).await {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => {
            return fail(
                ports,
                job,
                format!("document {doc_key} is not in the store"),
            )
            .await;
        }
        Err(e) if e.retryability() == Retryability::Permanent => {
            return fail(ports, job, format!("document {doc_key}: {e}")).await;
        }
        Err(e) => return Err(e.into()),
    };

    let charset = meta
        .content_type
        .as_deref()
        .and_then(spsync_domain::text::charset_of_content_type);
    let reader = match spsync_domain::text::decode_reader(&bytes[..], meta.gzip, charset) {
        Ok(r) => r,
        Err(e) => return fail(ports, job, format!("document {doc_key}: {e}")).await,
    };
    let mut rows = match OrderReportReader::new(reader) {
        Ok(r) => r,
        Err(e) => return fail(ports, job, format!("document {doc_key}: {e}")).await,
    };

    let now = ports.clock.now();
    let mut stats = ImportStats {
        unknown_columns: rows.unknown_columns(),
        ..ImportStats::default()
    };
    if !stats.unknown_columns.is_empty() {
        info!(job_id = %job.job_id, columns = ?stats.unknown_columns, "report has columns spsync does not use");
    }
    let mut chunk: Vec<ReportOrder> = Vec::with_capacity(CHUNK);
    let mut unreadable: Option<String> = None;
    // Orders one of whose rows was malformed: the parser reports the row before the order it
    // belongs to, and such an order is held back rather than stored without that item.
    let mut interrupted: HashSet<String> = HashSet::new();
    for item in rows.by_ref() {
        match item {
            Ok(order) if interrupted.contains(order.amazon_order_id.as_str()) => {
                stats.orders += 1;
                stats.held_back += 1;
                keep_error(
                    &mut stats,
                    format!(
                        "line {}: order {} held back: one of its rows is malformed",
                        order.first_line, order.amazon_order_id
                    ),
                );
            }
            Ok(order) => {
                stats.orders += 1;
                // An order whose rows are not adjacent comes out twice; the second part must
                // see the first one's write, so it starts a new chunk.
                let flush = chunk.len() == CHUNK
                    || chunk
                        .iter()
                        .any(|o| o.amazon_order_id == order.amazon_order_id);
                if flush
                    && let Err(e) = import_chunk(ports, &job, &mut chunk, now, &mut stats).await
                {
                    return give_up_or_retry(ports, job, e).await;
                }
                chunk.push(order);
            }
            Err(spsync_domain::ReportRowError::Row(e)) => {
                stats.malformed_rows += 1;
                let reason = clip(&e.reason);
                warn!(job_id = %job.job_id, line = e.line, reason = %reason, "malformed report row skipped");
                if let Some(id) = e.amazon_order_id {
                    interrupted.insert(id);
                }
                keep_error(&mut stats, format!("line {}: {reason}", e.line));
            }
            Err(spsync_domain::ReportRowError::Io(e)) => {
                unreadable = Some(format!(
                    "document {doc_key} unreadable after {} rows: {e}",
                    rows.rows_read()
                ));
                break;
            }
        }
    }
    if let Err(e) = import_chunk(ports, &job, &mut chunk, now, &mut stats).await {
        return give_up_or_retry(ports, job, e).await;
    }
    stats.rows = rows.rows_read();

    // Enrichment is sent before the job is closed: a crash between the two then costs a
    // second (idempotent) pass instead of a lost one.
    send_step(
        ports.queue,
        ports.clock,
        StepMessage::new(Step::EnrichOrders {
            seller_id: job.seller_id.clone(),
            marketplace_id: job.marketplace_id.clone(),
            page_token: None,
            updated_after: None,
        }),
        Duration::ZERO,
    )
    .await?;
    let expected = job.version;
    job.stats = Some(stats.clone());
    job.updated_at = ports.clock.now();
    job.version += 1;
    if let Some(reason) = unreadable {
        job.state = JobState::Failed;
        job.failure = Some(reason);
    } else {
        job.state = JobState::Imported;
    }
    info!(
        job_id = %job.job_id, rows = stats.rows, orders = stats.orders, created = stats.created,
        updated = stats.updated, unchanged = stats.unchanged, stale = stats.stale,
        skipped_closed = stats.skipped_closed, fba = stats.fba, malformed_rows = stats.malformed_rows,
        "report imported"
    );
    end_job(ports.jobs, &job, expected).await
}

async fn import_chunk(
    ports: &ImportPorts<'_>,
    job: &ReportJob,
    chunk: &mut Vec<ReportOrder>,
    now: OffsetDateTime,
    stats: &mut ImportStats,
) -> Result<(), WorkflowError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let ids: Vec<AmazonOrderId> = chunk.iter().map(|o| o.amazon_order_id.clone()).collect();
    let mut existing: HashMap<AmazonOrderId, Order> = ports
        .orders
        .get_orders(&job.seller_id, &ids)
        .await?
        .into_iter()
        .map(|o| (o.amazon_order_id.clone(), o))
        .collect();
    for incoming in chunk.drain(..) {
        if incoming.fulfillment_channel == spsync_domain::FulfillmentChannel::Amazon {
            stats.fba += 1;
        }
        let current = existing.remove(&incoming.amazon_order_id);
        match import_one(
            ports,
            &job.seller_id,
            &job.marketplace_id,
            current,
            &incoming,
            now,
            stats,
        )
        .await
        {
            Ok(()) => {}
            // One order the store refuses for good does not stop the seller's imports.
            Err(e) if e.retryability() == Retryability::Permanent => {
                stats.failed_orders += 1;
                warn!(job_id = %job.job_id, order_id = %incoming.amazon_order_id, error = %e,
                      "order refused by the store");
                keep_error(
                    stats,
                    format!(
                        "line {}: order {} not stored: {}",
                        incoming.first_line,
                        incoming.amazon_order_id,
                        clip(&e.to_string())
                    ),
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn import_one(
    ports: &ImportPorts<'_>,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    mut current: Option<Order>,
    incoming: &ReportOrder,
    now: OffsetDateTime,
    stats: &mut ImportStats,
) -> Result<(), WorkflowError> {
    for _ in 0..WRITE_ATTEMPTS {
        let written = match decide_import(current.as_ref(), incoming, seller, marketplace, now) {
            ImportDecision::Create(order) => {
                let ok = put(ports, &order, None).await?;
                if ok {
                    stats.created += 1;
                }
                ok
            }
            ImportDecision::Update(mut order) => {
                let expected = current.as_ref().map_or(order.version, |c| c.version);
                order.version = expected + 1;
                let ok = put(ports, &order, Some(expected)).await?;
                if ok {
                    stats.updated += 1;
                }
                ok
            }
            ImportDecision::Unchanged => {
                stats.unchanged += 1;
                true
            }
            ImportDecision::Stale => {
                stats.stale += 1;
                true
            }
            ImportDecision::Skipped(_) => {
                stats.skipped_closed += 1;
                true
            }
        };
        if written {
            return Ok(());
        }
        // Lost a race with another writer: decide again against what it wrote.
        current = ports
            .orders
            .get_order(seller, &incoming.amazon_order_id)
            .await?;
    }
    Err(StoreError::ConditionFailed {
        what: format!("order {}", incoming.amazon_order_id),
    }
    .into())
}

/// Keeps the first [`MAX_KEPT_ROW_ERRORS`] messages on the job (all are logged and counted).
fn keep_error(stats: &mut ImportStats, message: String) {
    if stats.row_errors.len() < MAX_KEPT_ROW_ERRORS {
        stats.row_errors.push(message);
    }
}

/// Messages quote report cells: keep them short (the job item has a size limit, and a cell
/// shifted by a stray tab may hold buyer data).
fn clip(text: &str) -> String {
    const MAX: usize = 160;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

async fn put(
    ports: &ImportPorts<'_>,
    order: &Order,
    expected: Option<u64>,
) -> Result<bool, WorkflowError> {
    match ports.orders.put_order(order, expected).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A chunk failed: transient errors go back to SQS (the redelivery imports again, orders
/// already written compare unchanged); a permanent one fails the job, freeing the seller's
/// slot, instead of replaying forever.
async fn give_up_or_retry(
    ports: &ImportPorts<'_>,
    job: ReportJob,
    error: WorkflowError,
) -> Result<StepOutcome, WorkflowError> {
    if error.retryability() == Retryability::Permanent {
        fail(
            ports,
            job,
            format!("import stopped: {}", clip(&error.to_string())),
        )
        .await
    } else {
        Err(error)
    }
}

async fn fail(
    ports: &ImportPorts<'_>,
    mut job: ReportJob,
    reason: String,
) -> Result<StepOutcome, WorkflowError> {
    let expected = job.version;
    job.state = JobState::Failed;
    job.failure = Some(format!("{reason} (raw document kept)"));
    job.updated_at = ports.clock.now();
    job.version += 1;
    end_job(ports.jobs, &job, expected).await
}
