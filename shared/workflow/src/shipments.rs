//! Recording shipments (issue 4): the use cases behind the shipments HTTP API and the
//! `spsync shipments` CLI. Every shipment is checked against the stored order and the order's
//! other shipments before it is queued; nothing here talks to Amazon.
//!
//! Recording is idempotent on the shipment id: the same request again answers with the
//! stored shipment (`created: false`); a different request under an existing id is a
//! conflict, never an overwrite.

use spsync_domain::{
    AmazonOrderId, CheckedShipment, Correction, CorrectionRefused, MAX_SHIPMENT_ID,
    OTHER_CARRIER_CODE, SellerId, Shipment, ShipmentProblem, ShipmentRequest, check_shipment,
    shipped_quantities,
};
use tracing::{info, instrument};

use crate::error::StoreError;
use crate::ports::{Clock, OrderStore, ShipmentStore};

/// What recording needs.
pub struct ShipmentPorts<'a> {
    /// Now.
    pub clock: &'a dyn Clock,
    /// Orders (to check the shipment against).
    pub orders: &'a dyn OrderStore,
    /// Shipments.
    pub shipments: &'a dyn ShipmentStore,
}

/// Why a shipment was not recorded or changed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// spsync has no such order for the seller (not imported yet, or another seller's).
    #[error("order {order} is not known for this seller (not imported yet?)")]
    OrderNotFound {
        /// The order.
        order: AmazonOrderId,
    },
    /// No such shipment.
    #[error("shipment {reference} does not exist")]
    ShipmentNotFound {
        /// `<order>/<shipment>`.
        reference: String,
    },
    /// The shipment fails its checks; every problem names its field.
    #[error("the shipment is not valid: {}", summary(.0))]
    Invalid(Vec<ShipmentProblem>),
    /// The id is taken by a different shipment, or the shipment changed concurrently.
    #[error("shipment {reference}: {message}")]
    Conflict {
        /// `<order>/<shipment>`.
        reference: String,
        /// What conflicts.
        message: String,
    },
    /// The change is not allowed in the shipment's state.
    #[error("shipment {reference}: {message}")]
    Refused {
        /// `<order>/<shipment>`.
        reference: String,
        /// Why.
        message: String,
    },
    /// The store failed (see its retryability).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn summary(problems: &[ShipmentProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A recorded shipment, and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The stored shipment.
    pub shipment: Shipment,
    /// `false` when the same shipment was already recorded under this id.
    pub created: bool,
}

/// Checks a caller's shipment id: 1–64 of `A–Z a–z 0–9 - _ .`.
pub fn check_shipment_id(id: &str) -> Result<(), ShipmentProblem> {
    let ok = !id.is_empty()
        && id.len() <= MAX_SHIPMENT_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ShipmentProblem {
            field: "shipment_id",
            message: format!(
                "a shipment id is 1 to {MAX_SHIPMENT_ID} letters, digits, '-', '_' or '.'"
            ),
        })
    }
}

/// The next free generated id of an order: `S1`, `S2`, ...
fn next_shipment_id(existing: &[Shipment]) -> String {
    let n = existing
        .iter()
        .filter_map(|s| s.shipment_id.strip_prefix('S')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("S{}", n + 1)
}

/// Records a shipment: checks it against the order and its other shipments and queues it
/// for the next feed. `shipment_id: None` generates one (`S1`, `S2`, … per order).
#[instrument(skip_all, fields(seller_id = %seller, amazon_order_id = %request.amazon_order_id, source))]
pub async fn record_shipment(
    ports: &ShipmentPorts<'_>,
    seller: &SellerId,
    shipment_id: Option<&str>,
    request: &ShipmentRequest,
    source: &str,
) -> Result<Recorded, RecordError> {
    if let Some(id) = shipment_id {
        check_shipment_id(id).map_err(|p| RecordError::Invalid(vec![p]))?;
    }
    let order = ports
        .orders
        .get_order(seller, &request.amazon_order_id)
        .await?
        .ok_or_else(|| RecordError::OrderNotFound {
            order: request.amazon_order_id.clone(),
        })?;
    let existing = ports
        .shipments
        .shipments_of_order(seller, &order.amazon_order_id)
        .await?;
    let now = ports.clock.now();
    if let Some(id) = shipment_id
        && let Some(stored) = existing.iter().find(|s| s.shipment_id == id)
    {
        // A retry of the same recording answers with what is stored.
        let shipped = shipped_quantities(&existing, Some(id));
        return match check_shipment(&order, &shipped, request, stored.recorded_at.max(now)) {
            Ok(checked) if checked == stored.details => Ok(Recorded {
                shipment: stored.clone(),
                created: false,
            }),
            _ => Err(RecordError::Conflict {
                reference: stored.reference(),
                message: "this id already holds a different shipment; correct it instead".into(),
            }),
        };
    }
    let shipped = shipped_quantities(&existing, None);
    let checked = check_shipment(&order, &shipped, request, now).map_err(RecordError::Invalid)?;
    let id = shipment_id.map_or_else(|| next_shipment_id(&existing), str::to_owned);
    let mut shipment = Shipment::record(&order, id, checked, source, now);
    shipment.version = 1;
    match ports.shipments.put_shipment(&shipment, None).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(RecordError::Conflict {
                reference: shipment.reference(),
                message: "recorded concurrently under the same id; read it and retry".into(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    info!(
        shipment = %shipment.reference(),
        hurts_vtr = shipment.details.hurts_vtr,
        carrier_code = %shipment.details.carrier_code,
        "shipment recorded"
    );
    Ok(Recorded {
        shipment,
        created: true,
    })
}

/// The request a stored shipment would be recorded with (to re-check a correction).
fn request_of(order: &AmazonOrderId, d: &CheckedShipment, c: &Correction) -> ShipmentRequest {
    let carrier = c.carrier.clone().unwrap_or_else(|| {
        if d.carrier_code == OTHER_CARRIER_CODE {
            d.carrier_name.clone()
        } else {
            d.carrier_code.clone()
        }
    });
    let tracking_number = match &c.tracking_number {
        Some(t) if t.trim().is_empty() => None,
        Some(t) => Some(t.clone()),
        None => d.tracking_number.clone(),
    };
    ShipmentRequest {
        amazon_order_id: order.clone(),
        carrier,
        tracking_number,
        ship_date: c.ship_date.unwrap_or(d.ship_date),
        ship_method: c.ship_method.clone().or_else(|| d.ship_method.clone()),
        items: c.items.clone().unwrap_or_else(|| d.items.clone()),
    }
}

async fn load(
    ports: &ShipmentPorts<'_>,
    seller: &SellerId,
    order: &AmazonOrderId,
    shipment_id: &str,
) -> Result<(Shipment, Vec<Shipment>), RecordError> {
    let all = ports.shipments.shipments_of_order(seller, order).await?;
    let shipment = all
        .iter()
        .find(|s| s.shipment_id == shipment_id)
        .cloned()
        .ok_or_else(|| RecordError::ShipmentNotFound {
            reference: format!("{order}/{shipment_id}"),
        })?;
    Ok((shipment, all))
}

async fn write(ports: &ShipmentPorts<'_>, shipment: &mut Shipment) -> Result<(), RecordError> {
    let expected = shipment.version;
    shipment.version += 1;
    match ports.shipments.put_shipment(shipment, Some(expected)).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(RecordError::Conflict {
            reference: shipment.reference(),
            message: "changed concurrently (a feed may have taken it); read it and retry".into(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Corrects a shipment (tracking number, carrier, ship method; before Amazon accepted it also
/// ship date and items). Re-checked like a new shipment; queued again so the next feed sends
/// the corrected lines (after the feed in flight, if any, ends).
#[instrument(skip_all, fields(seller_id = %seller, amazon_order_id = %order, shipment_id))]
pub async fn correct_shipment(
    ports: &ShipmentPorts<'_>,
    seller: &SellerId,
    order: &AmazonOrderId,
    shipment_id: &str,
    correction: &Correction,
) -> Result<Shipment, RecordError> {
    let stored_order = ports
        .orders
        .get_order(seller, order)
        .await?
        .ok_or_else(|| RecordError::OrderNotFound {
            order: order.clone(),
        })?;
    let (mut shipment, all) = load(ports, seller, order, shipment_id).await?;
    let request = request_of(order, &shipment.details, correction);
    let shipped = shipped_quantities(&all, Some(shipment_id));
    let now = ports.clock.now();
    let checked =
        check_shipment(&stored_order, &shipped, &request, now).map_err(RecordError::Invalid)?;
    if shipment.is_correction() {
        // A re-sent line is a correction at Amazon only when nothing of its item is left to
        // ship; otherwise it would ship more units.
        let all_shipped = shipped_quantities(&all, None);
        for item in &shipment.details.items {
            let ordered: u32 = stored_order
                .lines
                .iter()
                .filter(|l| l.order_item_id.as_deref() == Some(item.order_item_id.as_str()))
                .map(|l| l.quantity)
                .sum();
            if all_shipped.get(&item.order_item_id).copied().unwrap_or(0) < ordered {
                return Err(RecordError::Refused {
                    reference: shipment.reference(),
                    message: CorrectionRefused::Ambiguous {
                        order_item_id: item.order_item_id.clone(),
                    }
                    .to_string(),
                });
            }
        }
    }
    shipment
        .correct(checked, now)
        .map_err(|e: CorrectionRefused| RecordError::Refused {
            reference: shipment.reference(),
            message: e.to_string(),
        })?;
    write(ports, &mut shipment).await?;
    info!(shipment = %shipment.reference(), revision = shipment.revision, state = shipment.state.name(), "shipment corrected");
    Ok(shipment)
}

/// Puts a rejected or held shipment back in the queue unchanged (the cause was fixed at
/// Amazon's side).
#[instrument(skip_all, fields(seller_id = %seller, amazon_order_id = %order, shipment_id))]
pub async fn requeue_shipment(
    ports: &ShipmentPorts<'_>,
    seller: &SellerId,
    order: &AmazonOrderId,
    shipment_id: &str,
) -> Result<Shipment, RecordError> {
    let (mut shipment, _) = load(ports, seller, order, shipment_id).await?;
    if !shipment.requeue() {
        return Err(RecordError::Refused {
            reference: shipment.reference(),
            message: format!(
                "only a Rejected or Held shipment can be requeued; this one is {}",
                shipment.state.name()
            ),
        });
    }
    write(ports, &mut shipment).await?;
    info!(shipment = %shipment.reference(), "shipment requeued");
    Ok(shipment)
}
