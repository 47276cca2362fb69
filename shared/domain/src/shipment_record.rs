//! A recorded shipment's life (issue 4): queued → in a feed → accepted by Amazon → confirmed on
//! the order at Amazon; or rejected with Amazon's error, waiting for a correction.
//!
//! Every transition is a method that checks the state it starts from and says whether it
//! changed anything, so a duplicate step (a redelivered message, a retried write) is a no-op:
//! a verdict for feed job A never touches a shipment that has moved on to feed job B.
//!
//! Corrections bump [`Shipment::revision`]. A shipment corrected while its feed is in flight
//! stays in that feed (Amazon already has the old lines); when the feed ends, the shipment goes
//! back to the queue because its revision is newer than the one sent, and the next feed carries
//! the corrected lines. A shipment is therefore never in two live feeds.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::fulfillment_feed::{FeedLine, LineOutcome, LineVerdict, lines_from_shipment};
use crate::orders::{AmazonOrderId, MarketplaceId, Order, SellerId};
use crate::report_job::JobId;
use crate::shipments::{CheckedShipment, ShipmentItem};

/// Longest shipment id accepted from a caller (it is part of a DynamoDB sort key and a URL).
pub const MAX_SHIPMENT_ID: usize = 64;

/// How many FATAL feeds a shipment goes through before it is held for a person to look at.
pub const MAX_FATAL_ATTEMPTS: u32 = 3;

/// How many past feed attempts a shipment keeps in its history.
const HISTORY_LIMIT: usize = 20;

/// Where a shipment is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum ShipmentState {
    /// Waiting for the next feed.
    Queued,
    /// In a feed that has not ended.
    InFeed {
        /// The feed job.
        feed_job: JobId,
    },
    /// Amazon applied every line; waiting to see the tracking on the order (closed loop).
    Accepted {
        /// Amazon's feed id.
        feed_id: String,
        /// When the processing report was applied.
        #[serde(with = "time::serde::rfc3339")]
        accepted_at: OffsetDateTime,
    },
    /// The order at Amazon shows the package: done.
    Confirmed {
        /// When the read-back saw it.
        #[serde(with = "time::serde::rfc3339")]
        confirmed_at: OffsetDateTime,
    },
    /// Amazon refused a line (not retried until corrected).
    Rejected {
        /// Amazon's feed id.
        feed_id: String,
        /// Amazon's error code (the first rejecting row).
        code: String,
        /// Amazon's message, further rows appended.
        message: String,
        /// When the report was applied.
        #[serde(with = "time::serde::rfc3339")]
        rejected_at: OffsetDateTime,
    },
    /// Held after [`MAX_FATAL_ATTEMPTS`] FATAL feeds, or because the order can no longer be
    /// shipped (cancelled after recording). A correction queues it again.
    Held {
        /// Why.
        reason: String,
    },
}

impl ShipmentState {
    /// The state's name, as stored in the state index and shown to people.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::InFeed { .. } => "InFeed",
            Self::Accepted { .. } => "Accepted",
            Self::Confirmed { .. } => "Confirmed",
            Self::Rejected { .. } => "Rejected",
            Self::Held { .. } => "Held",
        }
    }

    /// Every state name, for listings.
    pub const NAMES: [&'static str; 6] = [
        "Queued",
        "InFeed",
        "Accepted",
        "Confirmed",
        "Rejected",
        "Held",
    ];
}

/// One feed a shipment went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedAttempt {
    /// The feed job.
    pub feed_job: JobId,
    /// Amazon's feed id, once known.
    pub feed_id: Option<String>,
    /// The revision sent.
    pub revision: u32,
    /// How it ended: `accepted`, `accepted with warning <code>`, `rejected <code>`,
    /// `cancelled`, `fatal`, `superseded` (corrected while in flight).
    pub outcome: String,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A shipment recorded for an order: one package (or one untracked dispatch) of some of the
/// order's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Seller.
    pub seller_id: SellerId,
    /// The order's marketplace.
    pub marketplace_id: MarketplaceId,
    /// The order.
    pub amazon_order_id: AmazonOrderId,
    /// Unique within the order: given by the caller (its package id, for idempotent
    /// retries) or generated.
    pub shipment_id: String,
    /// What is (to be) sent: carrier code, tracking, ship date, method, items.
    pub details: CheckedShipment,
    /// 1 when recorded, +1 per correction.
    pub revision: u32,
    /// The revision in the last feed, if any was sent.
    pub sent_revision: Option<u32>,
    /// The revision Amazon accepted last, all lines (a correction of it is sent as a
    /// correction).
    pub accepted_revision: Option<u32>,
    /// Items whose lines Amazon applied (feeds are not atomic: a shipment can have some lines
    /// applied and others rejected). Their units count as shipped whatever the state.
    #[serde(default)]
    pub accepted_items: Vec<ShipmentItem>,
    /// Where it is.
    pub state: ShipmentState,
    /// Amazon's warning on the accepted lines, if any (code, message).
    pub warning: Option<(String, String)>,
    /// Who recorded it (`api`, `cli`, `csv`, ...).
    pub source: String,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// When the current revision was recorded (the recording → confirmed clock starts here).
    #[serde(with = "time::serde::rfc3339")]
    pub revised_at: OffsetDateTime,
    /// Seconds from the current revision's recording to its confirmation at Amazon.
    pub confirm_seconds: Option<i64>,
    /// FATAL feeds this revision went through.
    pub fatal_attempts: u32,
    /// Past feeds, newest last (at most 20).
    pub history: Vec<FeedAttempt>,
    /// Optimistic-locking version (0 before the first write).
    pub version: u64,
}

/// What a correction may change. `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// New carrier (any spelling).
    pub carrier: Option<String>,
    /// New tracking number; `Some("")` removes it.
    pub tracking_number: Option<String>,
    /// New ship method.
    pub ship_method: Option<String>,
    /// New ship date (only before Amazon accepted the shipment).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ship_date: Option<OffsetDateTime>,
    /// New items (only before Amazon accepted the shipment).
    pub items: Option<Vec<ShipmentItem>>,
}

impl Shipment {
    /// A newly recorded shipment, queued for the next feed.
    pub fn record(
        order: &Order,
        shipment_id: impl Into<String>,
        details: CheckedShipment,
        source: impl Into<String>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            seller_id: order.seller_id.clone(),
            marketplace_id: order.marketplace_id.clone(),
            amazon_order_id: order.amazon_order_id.clone(),
            shipment_id: shipment_id.into(),
            details,
            revision: 1,
            sent_revision: None,
            accepted_revision: None,
            accepted_items: Vec::new(),
            state: ShipmentState::Queued,
            warning: None,
            source: source.into(),
            recorded_at: now,
            revised_at: now,
            confirm_seconds: None,
            fatal_attempts: 0,
            history: Vec::new(),
            version: 0,
        }
    }

    /// `<order>/<shipment>`: how logs, feed records and people name a shipment.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.amazon_order_id, self.shipment_id)
    }

    /// The units this shipment takes off what is left to ship: all of its items unless Amazon
    /// rejected it or it is held (those units can still go in another shipment), and in any
    /// state the lines Amazon applied.
    pub fn shipped_items(&self) -> &[ShipmentItem] {
        let counts_all = !matches!(
            self.state,
            ShipmentState::Rejected { .. } | ShipmentState::Held { .. }
        ) || self.accepted_revision.is_some();
        if counts_all {
            &self.details.items
        } else {
            &self.accepted_items
        }
    }

    /// Whether the next feed sends this shipment as a correction of lines Amazon already
    /// applied (same items, quantities and ship date; new carrier or tracking).
    pub fn is_correction(&self) -> bool {
        self.accepted_revision.is_some()
    }

    /// Applies a correction (already checked with `check_shipment` by the caller, who
    /// passes the checked result). Queues the shipment again unless its feed is in flight
    /// (then the feed's end queues it). Refuses item or ship-date changes once Amazon
    /// accepted the shipment: those lines are applied; a different set of items is a new
    /// shipment.
    pub fn correct(
        &mut self,
        details: CheckedShipment,
        now: OffsetDateTime,
    ) -> Result<(), CorrectionRefused> {
        let items_or_date_change =
            details.items != self.details.items || details.ship_date != self.details.ship_date;
        if items_or_date_change
            && (self.accepted_revision.is_some() || !self.accepted_items.is_empty())
        {
            return Err(CorrectionRefused::AlreadyApplied);
        }
        if items_or_date_change && matches!(self.state, ShipmentState::InFeed { .. }) {
            // Amazon may apply the lines in flight: what it applies must stay what we hold.
            return Err(CorrectionRefused::InFlight);
        }
        if self.accepted_revision.is_some()
            && self.details.tracking_number.is_some()
            && details.tracking_number.is_none()
        {
            return Err(CorrectionRefused::TrackingRemoved);
        }
        if details == self.details {
            return Err(CorrectionRefused::NothingChanged);
        }
        self.details = details;
        self.revision += 1;
        self.revised_at = now;
        self.confirm_seconds = None;
        self.fatal_attempts = 0;
        if !matches!(self.state, ShipmentState::InFeed { .. }) {
            self.state = ShipmentState::Queued;
        }
        Ok(())
    }

    /// Takes the shipment into `feed_job`; returns its feed lines, or `None` when it is not
    /// queued (already taken by another feed, or moved on).
    pub fn claim(&mut self, feed_job: &JobId) -> Option<Vec<FeedLine>> {
        if self.state != ShipmentState::Queued {
            return None;
        }
        self.state = ShipmentState::InFeed {
            feed_job: feed_job.clone(),
        };
        self.sent_revision = Some(self.revision);
        let mut lines = lines_from_shipment(&self.reference(), &self.details);
        if self.accepted_revision.is_none() && !self.accepted_items.is_empty() {
            // Some lines were applied, others rejected: only the others go again.
            lines.retain(|l| {
                !self
                    .accepted_items
                    .iter()
                    .any(|i| i.order_item_id == l.order_item_id)
            });
        }
        Some(lines)
    }

    fn in_feed(&self, feed_job: &JobId) -> bool {
        matches!(&self.state, ShipmentState::InFeed { feed_job: j } if j == feed_job)
    }

    fn remember(
        &mut self,
        feed_job: &JobId,
        feed_id: Option<&str>,
        outcome: String,
        at: OffsetDateTime,
    ) {
        self.history.push(FeedAttempt {
            feed_job: feed_job.clone(),
            feed_id: feed_id.map(str::to_owned),
            revision: self.sent_revision.unwrap_or(self.revision),
            outcome,
            at,
        });
        if self.history.len() > HISTORY_LIMIT {
            let extra = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..extra);
        }
    }

    /// Back to the queue from `feed_job` (the feed was cancelled, or the job given up before
    /// Amazon had it). Returns whether anything changed.
    pub fn release(&mut self, feed_job: &JobId, outcome: &str, now: OffsetDateTime) -> bool {
        if !self.in_feed(feed_job) {
            return false;
        }
        self.remember(feed_job, None, outcome.to_owned(), now);
        self.state = ShipmentState::Queued;
        true
    }

    /// The feed ended FATAL (or its report says nothing was processed): queued again, or held
    /// after [`MAX_FATAL_ATTEMPTS`]. Returns whether anything changed.
    pub fn feed_failed(
        &mut self,
        feed_job: &JobId,
        feed_id: &str,
        why: &str,
        now: OffsetDateTime,
    ) -> bool {
        if !self.in_feed(feed_job) {
            return false;
        }
        self.remember(feed_job, Some(feed_id), format!("fatal: {why}"), now);
        self.fatal_attempts += 1;
        self.state = if self.fatal_attempts >= MAX_FATAL_ATTEMPTS {
            ShipmentState::Held {
                reason: format!(
                    "{} feeds in a row ended FATAL (last: feed {feed_id}, {why}); correct or \
                     requeue the shipment once the cause is found",
                    self.fatal_attempts
                ),
            }
        } else {
            ShipmentState::Queued
        };
        true
    }

    /// Applies the verdicts on this shipment's lines in feed `feed_id` (job `feed_job`).
    /// Any rejected line rejects the shipment (Amazon's code and message kept); otherwise it
    /// is accepted. Corrected while in flight: queued again with the new revision (accepted
    /// lines still count as applied). Returns whether anything changed.
    pub fn apply_verdicts(
        &mut self,
        feed_job: &JobId,
        feed_id: &str,
        outcomes: &[&LineOutcome],
        now: OffsetDateTime,
    ) -> bool {
        if !self.in_feed(feed_job) {
            return false;
        }
        let rejected = outcomes.iter().find_map(|o| match &o.outcome {
            LineVerdict::Rejected { code, message } => Some((code.clone(), message.clone())),
            _ => None,
        });
        let warning = outcomes.iter().find_map(|o| match &o.outcome {
            LineVerdict::AcceptedWithWarning { code, message } => {
                Some((code.clone(), message.clone()))
            }
            _ => None,
        });
        let outcome = match (&rejected, &warning) {
            (Some((code, _)), _) => format!("rejected {code}"),
            (None, Some((code, _))) => format!("accepted with warning {code}"),
            (None, None) => "accepted".to_owned(),
        };
        self.remember(feed_job, Some(feed_id), outcome, now);
        for o in outcomes {
            let applied = !matches!(o.outcome, LineVerdict::Rejected { .. });
            let known = self
                .accepted_items
                .iter()
                .any(|i| i.order_item_id == o.order_item_id);
            if applied
                && !known
                && let Some(item) = self
                    .details
                    .items
                    .iter()
                    .find(|i| i.order_item_id == o.order_item_id)
            {
                self.accepted_items.push(item.clone());
            }
        }
        let superseded = self.sent_revision.is_some_and(|sent| sent < self.revision);
        match rejected {
            Some((code, message)) if !superseded => {
                self.state = ShipmentState::Rejected {
                    feed_id: feed_id.to_owned(),
                    code,
                    message,
                    rejected_at: now,
                };
            }
            Some(_) => self.state = ShipmentState::Queued,
            None => {
                self.accepted_revision = self.sent_revision;
                self.accepted_items = self.details.items.clone();
                self.warning = warning;
                self.fatal_attempts = 0;
                self.state = if superseded {
                    ShipmentState::Queued
                } else {
                    ShipmentState::Accepted {
                        feed_id: feed_id.to_owned(),
                        accepted_at: now,
                    }
                };
            }
        }
        true
    }

    /// The order at Amazon shows this shipment's package: confirmed, with the time from
    /// recording (of the current revision). Returns whether anything changed.
    pub fn confirm(&mut self, now: OffsetDateTime) -> bool {
        if !matches!(self.state, ShipmentState::Accepted { .. }) {
            return false;
        }
        self.state = ShipmentState::Confirmed { confirmed_at: now };
        self.confirm_seconds = Some((now - self.revised_at).whole_seconds().max(0));
        true
    }

    /// Holds a queued or rejected shipment that can no longer go (e.g. the order was
    /// cancelled after recording). Returns whether anything changed.
    pub fn hold(&mut self, reason: impl Into<String>) -> bool {
        if !matches!(
            self.state,
            ShipmentState::Queued | ShipmentState::Rejected { .. }
        ) {
            return false;
        }
        self.state = ShipmentState::Held {
            reason: reason.into(),
        };
        true
    }

    /// Puts a held or rejected shipment back in the queue unchanged (a person fixed the cause
    /// at Amazon's side, e.g. the order became shippable). Returns whether anything changed.
    pub fn requeue(&mut self) -> bool {
        if !matches!(
            self.state,
            ShipmentState::Held { .. } | ShipmentState::Rejected { .. }
        ) {
            return false;
        }
        self.fatal_attempts = 0;
        self.state = ShipmentState::Queued;
        true
    }
}

/// Why a correction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionRefused {
    /// Amazon applied the shipment: only carrier, tracking number and ship method can change.
    #[error(
        "Amazon has applied this shipment: only its carrier, tracking number and ship method can \
         be corrected; record a new shipment for other items"
    )]
    AlreadyApplied,
    /// Items or ship date changed while the shipment is in a live feed.
    #[error(
        "the shipment is in a feed Amazon is processing: its items and ship date cannot change \
         now (carrier, tracking number and ship method can); try again once the feed ends"
    )]
    InFlight,
    /// Amazon has the tracking number; spsync does not send `NULL` to clear it.
    #[error(
        "Amazon has this shipment's tracking number; it can be replaced by another one but not \
         removed"
    )]
    TrackingRemoved,
    /// Units of an item of the shipment are still to ship: Amazon's file cannot tell a
    /// correction of this package from a new package of the same item.
    #[error(
        "units of order item {order_item_id} are still to ship, so Amazon would read a corrected \
         line as a new package; correct it in Seller Central, or once the rest has shipped"
    )]
    Ambiguous {
        /// The item.
        order_item_id: String,
    },
    /// The correction changes nothing.
    #[error("the correction changes nothing")]
    NothingChanged,
}

/// Units of each order item already shipped by `shipments` (see [`Shipment::shipped_items`]),
/// leaving out the shipment named `except` (the one being corrected).
pub fn shipped_quantities(shipments: &[Shipment], except: Option<&str>) -> HashMap<String, u32> {
    let mut shipped: HashMap<String, u32> = HashMap::new();
    for s in shipments
        .iter()
        .filter(|s| Some(s.shipment_id.as_str()) != except)
    {
        for item in s.shipped_items() {
            *shipped.entry(item.order_item_id.clone()).or_default() += item.quantity;
        }
    }
    shipped
}

/// A package as the Orders API shows it on an order (includedData PACKAGES).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSeen {
    /// Tracking number, if the package has one.
    pub tracking_number: Option<String>,
    /// Carrier as Amazon shows it.
    pub carrier: Option<String>,
    /// Order items and quantities in it.
    pub items: Vec<ShipmentItem>,
}

/// What the read-back of one order shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipmentsSeen {
    /// The order.
    pub amazon_order_id: AmazonOrderId,
    /// Its packages.
    pub packages: Vec<PackageSeen>,
    /// Amazon says nothing is left to ship (fulfillment status SHIPPED).
    pub fully_shipped: bool,
}

/// Whether `seen` shows `shipment`: a package with the same tracking number (letters and
/// digits compared case-insensitively) holding every item of the shipment; for a shipment
/// without tracking, a package without tracking holding every item.
pub fn package_shows(shipment: &CheckedShipment, seen: &[PackageSeen]) -> bool {
    let norm = |t: &str| -> String {
        t.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let wanted = shipment.tracking_number.as_deref().map(norm);
    seen.iter().any(|p| {
        let tracking = p
            .tracking_number
            .as_deref()
            .map(norm)
            .filter(|t| !t.is_empty());
        tracking == wanted
            && shipment.items.iter().all(|item| {
                p.items
                    .iter()
                    .any(|i| i.order_item_id == item.order_item_id && i.quantity >= 1)
            })
    })
}

/// Whether every unit of every line of `order` is in a confirmed shipment of `shipments`.
pub fn all_items_confirmed(order: &Order, shipments: &[Shipment]) -> bool {
    let mut confirmed: HashMap<&str, u32> = HashMap::new();
    for s in shipments
        .iter()
        .filter(|s| matches!(s.state, ShipmentState::Confirmed { .. }))
    {
        for item in &s.details.items {
            *confirmed.entry(item.order_item_id.as_str()).or_default() += item.quantity;
        }
    }
    !order.lines.is_empty()
        && order.lines.iter().all(|line| {
            line.order_item_id
                .as_deref()
                .is_some_and(|id| confirmed.get(id).copied().unwrap_or(0) >= line.quantity)
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use time::Duration;

    use super::*;
    use crate::fulfillment_feed::LineVerdict;
    use crate::shipments::check_shipment;
    use crate::shipments::tests::{LID, MUG, NOW, item, order, request};

    fn recorded() -> Shipment {
        let checked = check_shipment(&order(), &HashMap::new(), &request(), NOW).unwrap();
        Shipment::record(&order(), "S1", checked, "test", NOW)
    }

    fn job(n: &str) -> JobId {
        JobId::new(n)
    }

    fn outcome(s: &Shipment, verdict: LineVerdict) -> LineOutcome {
        LineOutcome {
            shipment_ref: s.reference(),
            amazon_order_id: s.amazon_order_id.clone(),
            order_item_id: s.details.items[0].order_item_id.clone(),
            outcome: verdict,
        }
    }

    fn rejected() -> LineVerdict {
        LineVerdict::Rejected {
            code: "10013".into(),
            message: "cancelled".into(),
        }
    }

    fn corrected_tracking(s: &Shipment) -> CheckedShipment {
        CheckedShipment {
            tracking_number: Some("1Z999AA10123456795".into()),
            ..s.details.clone()
        }
    }

    #[test]
    fn a_shipment_goes_queued_in_feed_accepted_confirmed_with_its_latency() {
        let mut s = recorded();
        assert_eq!(s.state, ShipmentState::Queued);
        let lines = s
            .claim(&job("J1"))
            .expect("queued shipments can be claimed");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].shipment_ref, "111-1234567-1234567/S1");
        assert_eq!(s.claim(&job("J2")), None, "never in two feeds");

        let ok = outcome(&s, LineVerdict::Accepted);
        assert!(s.apply_verdicts(&job("J1"), "F1", &[&ok], NOW + Duration::minutes(3)));
        assert!(matches!(s.state, ShipmentState::Accepted { .. }));
        assert_eq!(s.accepted_revision, Some(1));
        assert!(
            !s.apply_verdicts(&job("J1"), "F1", &[&ok], NOW),
            "a duplicate is a no-op"
        );

        assert!(s.confirm(NOW + Duration::minutes(4)));
        assert_eq!(s.confirm_seconds, Some(240));
        assert!(!s.confirm(NOW + Duration::minutes(5)), "confirmed once");
        assert_eq!(s.history.len(), 1);
    }

    #[test]
    fn a_rejected_line_rejects_the_shipment_with_amazons_words_until_corrected() {
        let mut s = recorded();
        s.claim(&job("J1"));
        let bad = outcome(&s, rejected());
        assert!(s.apply_verdicts(&job("J1"), "F1", &[&bad], NOW));
        let ShipmentState::Rejected {
            code,
            message,
            feed_id,
            ..
        } = &s.state
        else {
            panic!("{:?}", s.state)
        };
        assert_eq!(
            (code.as_str(), message.as_str(), feed_id.as_str()),
            ("10013", "cancelled", "F1")
        );
        assert_eq!(s.claim(&job("J2")), None, "not retried blindly");
        assert!(
            s.shipped_items().is_empty(),
            "its units can ship in another shipment"
        );

        let fixed = corrected_tracking(&s);
        s.correct(fixed, NOW + Duration::minutes(10)).unwrap();
        assert_eq!((s.revision, s.state.clone()), (2, ShipmentState::Queued));
        assert_eq!(s.revised_at, NOW + Duration::minutes(10));
    }

    #[test]
    fn a_correction_in_flight_waits_for_the_feed_then_goes_again() {
        let mut s = recorded();
        s.claim(&job("J1"));
        s.correct(corrected_tracking(&s), NOW).unwrap();
        assert!(
            matches!(s.state, ShipmentState::InFeed { .. }),
            "stays in its live feed"
        );
        assert_eq!(s.claim(&job("J2")), None);

        let ok = outcome(&s, LineVerdict::Accepted);
        s.apply_verdicts(&job("J1"), "F1", &[&ok], NOW);
        assert_eq!(
            s.state,
            ShipmentState::Queued,
            "the corrected revision goes next"
        );
        assert_eq!(s.accepted_revision, Some(1));
        assert!(s.is_correction());
        assert_eq!(
            s.claim(&job("J2")).unwrap()[0].tracking_number.as_deref(),
            Some("1Z999AA10123456795")
        );
        assert_eq!(s.sent_revision, Some(2));
    }

    #[test]
    fn lines_amazon_applied_stay_shipped_when_another_line_of_the_shipment_is_rejected() {
        let mut s = recorded();
        s.details.items = vec![item(MUG, 1), item(LID, 1)];
        let lines = s.claim(&job("J1")).unwrap();
        assert_eq!(lines.len(), 2);
        let mug = LineOutcome {
            order_item_id: MUG.into(),
            ..outcome(&s, LineVerdict::Accepted)
        };
        let lid = LineOutcome {
            order_item_id: LID.into(),
            ..outcome(&s, rejected())
        };
        s.apply_verdicts(&job("J1"), "F1", &[&mug, &lid], NOW);

        assert!(matches!(s.state, ShipmentState::Rejected { .. }));
        assert_eq!(
            s.shipped_items(),
            &[item(MUG, 1)][..],
            "the applied line counts"
        );
        let mut other_items = s.details.clone();
        other_items.items = vec![item(LID, 1)];
        assert_eq!(
            s.correct(other_items, NOW),
            Err(CorrectionRefused::AlreadyApplied)
        );
        s.correct(corrected_tracking(&s), NOW).unwrap();
        let again = s.claim(&job("J2")).unwrap();
        let items: Vec<&str> = again.iter().map(|l| l.order_item_id.as_str()).collect();
        assert_eq!(items, vec![LID], "only the rejected line goes again");
        let lid = LineOutcome {
            order_item_id: LID.into(),
            ..outcome(&s, LineVerdict::Accepted)
        };
        s.apply_verdicts(&job("J2"), "F2", &[&lid], NOW);
        assert!(matches!(s.state, ShipmentState::Accepted { .. }));
        assert_eq!(s.shipped_items().len(), 2);
    }

    #[test]
    fn items_and_ship_date_cannot_change_while_the_feed_is_in_flight() {
        let mut s = recorded();
        s.claim(&job("J1"));
        let mut other_items = s.details.clone();
        other_items.items = vec![item(LID, 1)];
        assert_eq!(
            s.correct(other_items, NOW),
            Err(CorrectionRefused::InFlight)
        );
        assert!(
            s.correct(corrected_tracking(&s), NOW).is_ok(),
            "tracking may"
        );
    }

    #[test]
    fn applied_shipments_only_change_carrier_tracking_and_method() {
        let mut s = recorded();
        s.claim(&job("J1"));
        let ok = outcome(&s, LineVerdict::Accepted);
        s.apply_verdicts(&job("J1"), "F1", &[&ok], NOW);

        let mut other_items = s.details.clone();
        other_items.items = vec![item(LID, 1)];
        assert_eq!(
            s.correct(other_items, NOW),
            Err(CorrectionRefused::AlreadyApplied)
        );
        let mut later = s.details.clone();
        later.ship_date += Duration::hours(1);
        assert_eq!(
            s.correct(later, NOW),
            Err(CorrectionRefused::AlreadyApplied)
        );
        let mut untracked = s.details.clone();
        untracked.tracking_number = None;
        assert_eq!(
            s.correct(untracked, NOW),
            Err(CorrectionRefused::TrackingRemoved)
        );
        assert_eq!(
            s.correct(s.details.clone(), NOW),
            Err(CorrectionRefused::NothingChanged)
        );
        assert_eq!(s.revision, 1);
    }

    #[test]
    fn fatal_feeds_queue_again_then_hold_after_three() {
        let mut s = recorded();
        for n in 1..=MAX_FATAL_ATTEMPTS {
            assert!(s.claim(&job(&format!("J{n}"))).is_some(), "attempt {n}");
            assert!(s.feed_failed(&job(&format!("J{n}")), "F", "FATAL", NOW));
        }
        assert!(
            matches!(s.state, ShipmentState::Held { .. }),
            "{:?}",
            s.state
        );
        assert!(s.requeue());
        assert_eq!(
            (s.state.clone(), s.fatal_attempts),
            (ShipmentState::Queued, 0)
        );
        assert!(
            !s.feed_failed(&job("J9"), "F", "x", NOW),
            "not in that feed"
        );
    }

    #[test]
    fn cancelled_feeds_release_only_their_own_shipments() {
        let mut s = recorded();
        s.claim(&job("J1"));
        assert!(!s.release(&job("J2"), "cancelled", NOW));
        assert!(s.release(&job("J1"), "cancelled", NOW));
        assert_eq!(s.state, ShipmentState::Queued);
        assert_eq!(s.history[0].outcome, "cancelled");
    }

    #[test]
    fn history_keeps_the_last_twenty_feeds() {
        let mut s = recorded();
        for n in 0..25 {
            s.claim(&job(&format!("J{n}")));
            s.release(&job(&format!("J{n}")), "cancelled", NOW);
        }
        assert_eq!(s.history.len(), 20);
        assert_eq!(s.history[0].feed_job, job("J5"));
    }

    #[test]
    fn shipped_quantities_leave_out_rejected_and_the_one_corrected() {
        let mut a = recorded();
        let mut b = recorded();
        b.shipment_id = "S2".into();
        b.details.items = vec![item(MUG, 1), item(LID, 1)];
        let shipped = shipped_quantities(&[a.clone(), b.clone()], None);
        assert_eq!((shipped[MUG], shipped[LID]), (2, 1));
        assert_eq!(
            shipped_quantities(&[a.clone(), b.clone()], Some("S2"))[MUG],
            1
        );
        a.claim(&job("J1"));
        let bad = outcome(&a, rejected());
        a.apply_verdicts(&job("J1"), "F", &[&bad], NOW);
        assert_eq!(shipped_quantities(&[a, b], None)[MUG], 1);
    }

    #[test]
    fn a_package_shows_a_shipment_by_tracking_and_items() {
        let s = recorded();
        let pkg = |tracking: Option<&str>, items: Vec<ShipmentItem>| PackageSeen {
            tracking_number: tracking.map(str::to_owned),
            carrier: Some("UPS".into()),
            items,
        };
        assert!(package_shows(
            &s.details,
            &[pkg(Some("1z999aa1-0123456784"), vec![item(MUG, 1)])]
        ));
        assert!(!package_shows(
            &s.details,
            &[pkg(Some("1Z999AA10123456795"), vec![item(MUG, 1)])]
        ));
        assert!(!package_shows(
            &s.details,
            &[pkg(Some("1Z999AA10123456784"), vec![item(LID, 1)])]
        ));
        assert!(!package_shows(&s.details, &[]));
        let mut untracked = s.details.clone();
        untracked.tracking_number = None;
        assert!(package_shows(&untracked, &[pkg(None, vec![item(MUG, 1)])]));
        assert!(!package_shows(
            &untracked,
            &[pkg(Some("X1"), vec![item(MUG, 1)])]
        ));
    }

    #[test]
    fn an_order_is_all_confirmed_only_when_every_unit_is() {
        let o = order(); // MUG × 2, LID × 1
        let confirmed = |id: &str, items: Vec<ShipmentItem>| {
            let mut s = recorded();
            s.shipment_id = id.into();
            s.details.items = items;
            s.state = ShipmentState::Confirmed { confirmed_at: NOW };
            s
        };
        let a = confirmed("S1", vec![item(MUG, 2)]);
        assert!(!all_items_confirmed(&o, std::slice::from_ref(&a)));
        let mut b = confirmed("S2", vec![item(LID, 1)]);
        assert!(all_items_confirmed(&o, &[a.clone(), b.clone()]));
        b.state = ShipmentState::Accepted {
            feed_id: "F".into(),
            accepted_at: NOW,
        };
        assert!(
            !all_items_confirmed(&o, &[a, b]),
            "accepted is not confirmed"
        );
    }
}
