//! The simulator's clock as the workflow's [`Clock`] port.
//!
//! In stack mode every function reads "now" from the simulator, whose clock is frozen and only
//! moves when the runner advances it a tick: jobs, cursors, `not_before` and the runner's own
//! delay outbox then all agree with Amazon-in-a-box on what time it is.

use std::sync::Arc;

use spsync_sim::Sim;
use spsync_workflow::Clock;
use time::OffsetDateTime;

/// Reads the simulator's clock.
#[derive(Debug, Clone)]
pub struct SimTimeClock {
    sim: Arc<Sim>,
}

impl SimTimeClock {
    /// A clock reading `sim`'s simulated time.
    pub fn new(sim: Arc<Sim>) -> Self {
        Self { sim }
    }
}

impl Clock for SimTimeClock {
    fn now(&self) -> OffsetDateTime {
        self.sim.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use spsync_sim::{SimOptions, sample};
    use time::macros::datetime;

    use super::*;

    #[test]
    fn follows_the_simulator_when_it_is_advanced() {
        let mut scenario = sample::scenario();
        scenario.clock.start = Some(datetime!(2026-11-20 12:00 UTC));
        scenario.clock.speed = 0.0;
        let sim = spsync_sim::build(SimOptions::new(scenario)).unwrap();
        let clock = SimTimeClock::new(Arc::clone(&sim));

        assert_eq!(clock.now(), datetime!(2026-11-20 12:00 UTC));
        sim.advance_clock(Duration::from_secs(30));
        assert_eq!(clock.now(), datetime!(2026-11-20 12:00:30 UTC));
    }
}
