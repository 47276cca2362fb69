//! Enrichment of orders through Orders API v2026-01-01.
//!
//! The order report has no buyer, phone, full address or order-item ids; Orders API
//! v2026-01-01 has them (withheld in part while an order is Pending). One pass asks
//! searchOrders for every order updated since the seller's cursor, with includedData, 100 a
//! page, and completes the stored orders it returns; the cursor then moves to Amazon's own
//! `lastUpdatedBefore` of the pass, so an order that leaves Pending shows up in the next pass
//! with its withheld fields. Orders still incomplete that searchOrders did not return
//! (stragglers, e.g. imported after the pass that saw them) get one getOrder each, at most
//! [`FlowSettings::max_get_order_per_pass`] per pass. Pending orders are never fetched one by
//! one: Amazon would withhold the same fields again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use spsync_domain::{
    AmazonOrderId, AmazonOrderStatus, Enrichment, MarketplaceId, OrderStatus, SellerId,
};
use time::OffsetDateTime;
use tracing::{info, instrument, warn};

use crate::*;

/// Name of the enrichment cursor in the job store.
pub const ENRICH_CURSOR: &str = "orders-enrich";

/// Orders listed per store page when looking for stragglers.
const STRAGGLER_PAGE: usize = 200;

/// The ports enrichment uses.
pub struct EnrichPorts<'a> {
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Jobs (cursors).
    pub jobs: &'a dyn JobStore,
    /// Orders.
    pub orders: &'a dyn OrderStore,
    /// Step queue.
    pub queue: &'a dyn StepQueue,
    /// Orders API.
    pub orders_api: &'a dyn OrdersApi,
}

/// Counts of one enrichment pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichSummary {
    /// searchOrders pages read.
    pub pages: u32,
    /// Orders Amazon returned.
    pub seen: u32,
    /// Orders completed or changed.
    pub enriched: u32,
    /// getOrder calls for stragglers.
    pub get_order_calls: u32,
}

/// The EnrichOrders step.
#[instrument(skip_all, fields(step = "EnrichOrders", attempt = message.attempt))]
pub async fn enrich_orders(
    ports: &EnrichPorts<'_>,
    message: &StepMessage,
    settings: &FlowSettings,
) -> Result<StepOutcome, WorkflowError> {
    let Step::EnrichOrders {
        seller_id,
        marketplace_id,
        page_token,
        updated_after,
    } = &message.step
    else {
        return Ok(StepOutcome::Ignored("not an EnrichOrders step"));
    };
    let now = ports.clock.now();
    // A resumed pass keeps the query its page token belongs to.
    let cursor = match (page_token, updated_after) {
        (Some(_), Some(after)) => *after,
        _ => ports
            .jobs
            .get_cursor(seller_id, marketplace_id, ENRICH_CURSOR)
            .await?
            .unwrap_or(now - settings.lookback),
    };

    let mut summary = EnrichSummary::default();
    let mut seen: HashSet<AmazonOrderId> = HashSet::new();
    let mut token = page_token.clone();
    let mut pass_end: Option<OffsetDateTime> = None;
    loop {
        let page = match ports
            .orders_api
            .search_updated_orders(seller_id, marketplace_id, cursor, token.as_deref())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                if let Retryability::Throttled { retry_after } = e.retryability() {
                    // Keep the place: the next delivery continues this pass at this page.
                    let mut again = message.next_attempt();
                    again.step = Step::EnrichOrders {
                        seller_id: seller_id.clone(),
                        marketplace_id: marketplace_id.clone(),
                        page_token: token.clone(),
                        updated_after: token.as_ref().map(|_| cursor),
                    };
                    info!(seller_id = %seller_id, retry_after_ms = retry_after.as_millis() as u64,
                          pages = summary.pages, "searchOrders throttled, pass re-queued");
                    send_step(ports.queue, ports.clock, again, retry_after).await?;
                    return Ok(StepOutcome::Requeued(retry_after));
                }
                return Err(e.into());
            }
        };
        summary.pages += 1;
        summary.seen += page.orders.len() as u32;
        seen.extend(page.orders.iter().map(|e| e.amazon_order_id.clone()));
        summary.enriched += apply_page(ports, seller_id, &page.orders, now).await?;
        pass_end = page.last_updated_before.or(pass_end);
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    // Only a complete pass moves the cursor; Amazon's own upper bound (not our clock) so no
    // update that Amazon had not yet indexed is skipped; and never past the end of the newest
    // imported report, so orders placed after it (not stored yet, skipped above) are seen
    // again by the pass that follows their import instead of falling to getOrder one by one.
    let imported_until = newest_import_end(ports.jobs, seller_id, marketplace_id).await?;
    // Before the first import nothing is stored, so the pass enriched nothing: keep the
    // cursor where it is, or the orders of the first import would all become stragglers.
    let pass_end = match (pass_end, imported_until) {
        (Some(end), Some(limit)) => Some(end.min(limit)),
        _ => None,
    };
    if let Some(end) = pass_end.filter(|end| *end > cursor) {
        ports
            .jobs
            .put_cursor(seller_id, marketplace_id, ENRICH_CURSOR, end)
            .await?;
    }

    let (stragglers, straggler_calls) =
        enrich_stragglers(ports, seller_id, marketplace_id, &seen, settings, now).await?;
    summary.enriched += stragglers;
    summary.get_order_calls = straggler_calls;
    info!(seller_id = %seller_id, marketplace_id = %marketplace_id, pages = summary.pages,
          seen = summary.seen, enriched = summary.enriched,
          get_order_calls = summary.get_order_calls, "orders enriched");
    Ok(StepOutcome::Advanced("orders enriched"))
}

/// Applies one page; returns how many orders changed.
async fn apply_page(
    ports: &EnrichPorts<'_>,
    seller: &SellerId,
    page: &[Enrichment],
    now: OffsetDateTime,
) -> Result<u32, WorkflowError> {
    if page.is_empty() {
        return Ok(0);
    }
    let mut changed = 0;
    for chunk in page.chunks(100) {
        let ids: Vec<AmazonOrderId> = chunk.iter().map(|e| e.amazon_order_id.clone()).collect();
        let mut stored: HashMap<AmazonOrderId, spsync_domain::Order> = ports
            .orders
            .get_orders(seller, &ids)
            .await?
            .into_iter()
            .map(|o| (o.amazon_order_id.clone(), o))
            .collect();
        for e in chunk {
            // Orders not yet imported are left to the import; a later pass or getOrder
            // completes them.
            let Some(mut order) = stored.remove(&e.amazon_order_id) else {
                continue;
            };
            if apply_one(ports, &mut order, e, now).await? {
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// End of the data window of the newest imported order report of a seller and marketplace.
async fn newest_import_end(
    jobs: &dyn JobStore,
    seller: &SellerId,
    marketplace: &MarketplaceId,
) -> Result<Option<OffsetDateTime>, WorkflowError> {
    Ok(jobs
        .recent_jobs(seller, marketplace, 10)
        .await?
        .into_iter()
        .filter(|j| j.state == spsync_domain::JobState::Imported)
        .map(|j| j.data_end)
        .max())
}

/// Attempts for one enrichment write that lost a race with the import.
const ENRICH_WRITE_ATTEMPTS: usize = 3;

async fn apply_one(
    ports: &EnrichPorts<'_>,
    order: &mut spsync_domain::Order,
    e: &Enrichment,
    now: OffsetDateTime,
) -> Result<bool, WorkflowError> {
    for _ in 0..ENRICH_WRITE_ATTEMPTS {
        let expected = order.version;
        if !order.apply_enrichment(e, now) {
            return Ok(false);
        }
        order.version = expected + 1;
        match ports.orders.put_order(order, Some(expected)).await {
            Ok(()) => return Ok(true),
            // The import wrote it meanwhile: apply again on top of what it wrote.
            Err(StoreError::ConditionFailed { .. }) => {
                match ports
                    .orders
                    .get_order(&order.seller_id, &order.amazon_order_id)
                    .await?
                {
                    Some(fresh) => *order = fresh,
                    None => return Ok(false),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

async fn enrich_stragglers(
    ports: &EnrichPorts<'_>,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    seen: &HashSet<AmazonOrderId>,
    settings: &FlowSettings,
    now: OffsetDateTime,
) -> Result<(u32, u32), WorkflowError> {
    let mut calls = 0u32;
    let mut changed = 0u32;
    let mut page: Option<String> = None;
    'pages: loop {
        let (orders, next) = ports
            .orders
            .orders_by_status(seller, OrderStatus::New, page.take(), STRAGGLER_PAGE)
            .await?;
        for mut order in orders {
            if order.marketplace_id != *marketplace
                || seen.contains(&order.amazon_order_id)
                || order.amazon_status == AmazonOrderStatus::Pending
                || !worth_a_get_order(&order)
            {
                continue;
            }
            if calls as usize >= settings.max_get_order_per_pass {
                break 'pages;
            }
            calls += 1;
            match ports
                .orders_api
                .get_order(seller, &order.amazon_order_id)
                .await
            {
                Ok(Some(e)) => {
                    if apply_one(ports, &mut order, &e, now).await? {
                        changed += 1;
                    }
                }
                Ok(None) => {
                    warn!(order_id = %order.amazon_order_id, "getOrder does not know an imported order");
                }
                Err(e) => match e.retryability() {
                    // Stragglers wait for the next pass; nothing is lost.
                    Retryability::Throttled { .. } | Retryability::Transient => break 'pages,
                    Retryability::Permanent => return Err(e.into()),
                },
            }
        }
        match next {
            Some(n) => page = Some(n),
            None => break,
        }
    }
    Ok((changed, calls))
}

/// Whether a straggler is worth one getOrder: it lacks something Amazon gives for every open
/// merchant-fulfilled order. A missing phone alone is not enough: Amazon often has none, and
/// asking again on every pass would cost calls for nothing.
fn worth_a_get_order(order: &spsync_domain::Order) -> bool {
    // Only orders Amazon has released (Unshipped or partly shipped) and that are ours to
    // ship: pre-orders and other states have their details withheld like Pending ones.
    let released = matches!(
        order.amazon_status,
        AmazonOrderStatus::Unshipped | AmazonOrderStatus::PartiallyShipped
    );
    let missing = order.missing();
    released
        && !order.is_fba()
        && order.needs_enrichment()
        && (missing.order_item_ids || missing.recipient_address)
}

/// The enrichment schedule: one EnrichOrders message per enabled seller × marketplace.
pub async fn schedule_enrichment(
    queue: &dyn StepQueue,
    clock: &dyn Clock,
    sellers: &dyn SellerDirectory,
) -> Result<usize, WorkflowError> {
    let mut sent = 0;
    for account in sellers.sellers().await? {
        if !account.enabled {
            continue;
        }
        for marketplace in &account.marketplaces {
            let step = Step::EnrichOrders {
                seller_id: account.seller_id.clone(),
                marketplace_id: marketplace.clone(),
                page_token: None,
                updated_after: None,
            };
            send_step(queue, clock, StepMessage::new(step), Duration::ZERO).await?;
            sent += 1;
        }
    }
    Ok(sent)
}
