//! Report jobs: start (scheduled) and poll (SQS step).

use spsync_domain::{JobId, MarketplaceId, SellerId};

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
    /// A new job was created and its report requested (or queued for a retry).
    Started(JobId),
    /// A job was already running; it was left alone (or its import re-sent).
    Reused(JobId),
}

/// Starts the order report for every enabled seller × marketplace.
pub async fn start_reports(
    ports: &ReportPorts<'_>,
    sellers: &dyn SellerDirectory,
    settings: &FlowSettings,
) -> Result<Vec<(SellerId, MarketplaceId, Result<StartOutcome, WorkflowError>)>, WorkflowError> {
    let _ = (ports, sellers, settings);
    todo!()
}

/// Starts (or reuses) the order report job of one seller and marketplace.
pub async fn start_report(
    ports: &ReportPorts<'_>,
    seller: &SellerId,
    marketplace: &MarketplaceId,
    settings: &FlowSettings,
) -> Result<StartOutcome, WorkflowError> {
    let _ = (ports, seller, marketplace, settings);
    todo!()
}

/// The PollReport step.
pub async fn poll_report(
    ports: &ReportPorts<'_>,
    message: &StepMessage,
    settings: &FlowSettings,
) -> Result<StepOutcome, WorkflowError> {
    let _ = (ports, message, settings);
    todo!()
}
