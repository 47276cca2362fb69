//! Import of a stored order report into orders.

use crate::*;

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
pub async fn import_report(
    ports: &ImportPorts<'_>,
    message: &StepMessage,
) -> Result<StepOutcome, WorkflowError> {
    let _ = (ports, message);
    todo!()
}
