//! Enrichment of orders through Orders API v2026-01-01.

use crate::*;

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
pub async fn enrich_orders(
    ports: &EnrichPorts<'_>,
    message: &StepMessage,
    settings: &FlowSettings,
) -> Result<StepOutcome, WorkflowError> {
    let _ = (ports, message, settings);
    todo!()
}

/// The enrichment schedule: one EnrichOrders message per enabled seller × marketplace.
pub async fn schedule_enrichment(
    queue: &dyn StepQueue,
    clock: &dyn Clock,
    sellers: &dyn SellerDirectory,
) -> Result<usize, WorkflowError> {
    let _ = (queue, clock, sellers);
    todo!()
}
