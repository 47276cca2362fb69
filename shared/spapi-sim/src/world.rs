//! The moving world: order generator and order status transitions (being written).

use time::OffsetDateTime;

use crate::state::State;

/// Moves orders forward to `now`.
pub fn advance(_st: &mut State, _now: OffsetDateTime) {}
