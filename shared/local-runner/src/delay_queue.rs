//! Delayed step messages on simulated time: the one place where the local stack differs from
//! AWS.
//!
//! moto honours `DelaySeconds` on the wall clock, but the runner moves simulated time hours
//! ahead in seconds: a poll delayed by 5 simulated minutes would come back after 5 real
//! minutes, i.e. hours of simulated time too late. So a function's [`VirtualDelayQueue`]
//! sends an immediate message straight to its real queue on moto, and holds a delayed one in
//! the runner's [`Outbox`] until the simulated clock reaches its due time; the runner then
//! sends it to moto with no delay. Delays are clamped to SQS's 15 minutes as the SQS adapter
//! does, so chained waits (`not_before`) behave as in AWS.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use spsync_workflow::{Clock, MAX_QUEUE_DELAY, QueueError, QueueName, StepMessage, StepQueue};
use time::OffsetDateTime;

struct Held {
    queue: Arc<dyn StepQueue>,
    message: StepMessage,
}

#[derive(Default)]
struct OutboxState {
    next_seq: u64,
    held: BTreeMap<(OffsetDateTime, u64), Held>,
    touched: HashSet<QueueName>,
    sent_now: u64,
    sent_delayed: u64,
}

/// The runner's outbox of delayed step messages, keyed by their due time in simulated time.
pub struct Outbox {
    clock: Arc<dyn Clock>,
    state: Mutex<OutboxState>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// Counters of an [`Outbox`], for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Messages sent without delay (straight to moto).
    pub sent_now: u64,
    /// Messages held for a delay.
    pub sent_delayed: u64,
    /// Messages still held.
    pub pending: usize,
}

impl Outbox {
    /// An empty outbox on `clock` (the simulator's).
    pub fn new(clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            state: Mutex::new(OutboxState::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, OutboxState> {
        // Plain data: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A step queue for one function: `inner` is the function's real queue adapter.
    pub fn queue(self: &Arc<Self>, inner: Arc<dyn StepQueue>) -> VirtualDelayQueue {
        VirtualDelayQueue {
            inner,
            outbox: Arc::clone(self),
        }
    }

    fn hold(&self, queue: Arc<dyn StepQueue>, message: StepMessage, delay: Duration) {
        let due = self.clock.now() + delay.min(MAX_QUEUE_DELAY);
        let mut st = self.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.sent_delayed += 1;
        st.held.insert((due, seq), Held { queue, message });
    }

    fn sent(&self, queue: QueueName) {
        let mut st = self.lock();
        st.sent_now += 1;
        st.touched.insert(queue);
    }

    /// Sends every held message whose due time has come (by due time, then order of
    /// sending) to its queue without delay; returns how many were sent. On an error the
    /// messages not yet sent stay held and the error is returned.
    pub async fn release_due(&self) -> Result<usize, QueueError> {
        let now = self.clock.now();
        let due: Vec<((OffsetDateTime, u64), Held)> = {
            let mut st = self.lock();
            let later = st.held.split_off(&(now, u64::MAX));
            std::mem::replace(&mut st.held, later).into_iter().collect()
        };
        let mut released = 0;
        let mut due = due.into_iter();
        while let Some((key, held)) = due.next() {
            if let Err(e) = held.queue.send(&held.message, Duration::ZERO).await {
                let mut st = self.lock();
                st.held.insert(key, held);
                st.held.extend(due);
                return Err(e);
            }
            released += 1;
            self.lock().touched.insert(held.message.step.queue());
        }
        Ok(released)
    }

    /// Messages still held.
    pub fn pending(&self) -> usize {
        self.lock().held.len()
    }

    /// When the earliest held message falls due.
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.lock().held.keys().next().map(|(due, _)| *due)
    }

    /// The queues that were sent a message (directly or released) since the last call: the
    /// runner receives from these first.
    pub fn take_touched(&self) -> HashSet<QueueName> {
        std::mem::take(&mut self.lock().touched)
    }

    /// Counters so far.
    pub fn counts(&self) -> OutboxCounts {
        let st = self.lock();
        OutboxCounts {
            sent_now: st.sent_now,
            sent_delayed: st.sent_delayed,
            pending: st.held.len(),
        }
    }
}

/// A function's [`StepQueue`] in stack mode: immediate sends go to moto, delayed ones wait in
/// the runner's [`Outbox`] for simulated time to reach them.
pub struct VirtualDelayQueue {
    inner: Arc<dyn StepQueue>,
    outbox: Arc<Outbox>,
}

impl std::fmt::Debug for VirtualDelayQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualDelayQueue").finish_non_exhaustive()
    }
}

#[async_trait]
impl StepQueue for VirtualDelayQueue {
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
        if delay.is_zero() {
            self.inner.send(message, Duration::ZERO).await?;
            self.outbox.sent(message.step.queue());
        } else {
            self.outbox
                .hold(Arc::clone(&self.inner), message.clone(), delay);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use spsync_domain::{JobId, MarketplaceId, SellerId};
    use spsync_workflow::{JobKey, Step};
    use time::macros::datetime;

    use super::*;

    struct TestClock(Mutex<OffsetDateTime>);

    impl TestClock {
        fn advance(&self, by: Duration) {
            let mut t = self.0.lock().unwrap();
            *t += by;
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> OffsetDateTime {
            *self.0.lock().unwrap()
        }
    }

    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<(StepMessage, Duration)>>,
        fail_after: Mutex<Option<usize>>,
    }

    #[async_trait]
    impl StepQueue for Recorder {
        async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
            let mut sent = self.sent.lock().unwrap();
            if self
                .fail_after
                .lock()
                .unwrap()
                .is_some_and(|n| sent.len() >= n)
            {
                return Err(QueueError {
                    operation: "SendMessage",
                    retryable: true,
                    source: "moto down".into(),
                });
            }
            sent.push((message.clone(), delay));
            Ok(())
        }
    }

    fn poll(job: &str) -> StepMessage {
        StepMessage::new(Step::PollReport {
            job: JobKey {
                seller_id: SellerId::new("A1"),
                marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
                job_id: JobId::new(job),
            },
        })
    }

    fn job_of(m: &StepMessage) -> String {
        match &m.step {
            Step::PollReport { job } => job.job_id.to_string(),
            other => panic!("unexpected step {other:?}"),
        }
    }

    fn setup() -> (
        Arc<TestClock>,
        Arc<Recorder>,
        Arc<Outbox>,
        VirtualDelayQueue,
    ) {
        let clock = Arc::new(TestClock(Mutex::new(datetime!(2026-11-20 12:00 UTC))));
        let recorder = Arc::new(Recorder::default());
        let outbox = Outbox::new(clock.clone());
        let queue = outbox.queue(recorder.clone());
        (clock, recorder, outbox, queue)
    }

    #[tokio::test]
    async fn immediate_sends_go_straight_through() {
        let (_, recorder, outbox, queue) = setup();

        queue.send(&poll("j1"), Duration::ZERO).await.unwrap();

        let sent = recorder.sent.lock().unwrap().clone();
        assert_eq!(sent, vec![(poll("j1"), Duration::ZERO)]);
        assert_eq!(outbox.pending(), 0);
        assert_eq!(
            outbox.take_touched(),
            HashSet::from([QueueName::PollReport])
        );
        assert!(outbox.take_touched().is_empty());
    }

    #[tokio::test]
    async fn delayed_sends_wait_for_simulated_time_then_go_without_delay_in_due_order() {
        let (clock, recorder, outbox, queue) = setup();

        queue
            .send(&poll("late"), Duration::from_secs(120))
            .await
            .unwrap();
        queue
            .send(&poll("early"), Duration::from_secs(30))
            .await
            .unwrap();
        queue
            .send(&poll("early-too"), Duration::from_secs(30))
            .await
            .unwrap();

        assert!(recorder.sent.lock().unwrap().is_empty());
        assert_eq!(outbox.pending(), 3);
        assert_eq!(outbox.next_due(), Some(datetime!(2026-11-20 12:00:30 UTC)));

        clock.advance(Duration::from_secs(29));
        assert_eq!(outbox.release_due().await.unwrap(), 0);

        clock.advance(Duration::from_secs(1));
        assert_eq!(outbox.release_due().await.unwrap(), 2);
        let sent = recorder.sent.lock().unwrap().clone();
        let jobs: Vec<String> = sent.iter().map(|(m, _)| job_of(m)).collect();
        assert_eq!(jobs, ["early", "early-too"]);
        assert!(sent.iter().all(|(_, d)| d.is_zero()));

        clock.advance(Duration::from_secs(3600));
        assert_eq!(outbox.release_due().await.unwrap(), 1);
        assert_eq!(outbox.pending(), 0);
        assert_eq!(
            outbox.counts(),
            OutboxCounts {
                sent_now: 0,
                sent_delayed: 3,
                pending: 0
            }
        );
    }

    #[tokio::test]
    async fn delays_are_clamped_to_the_sqs_maximum_like_the_sqs_adapter() {
        let (clock, recorder, outbox, queue) = setup();

        queue
            .send(&poll("j1"), Duration::from_secs(3 * 3600))
            .await
            .unwrap();

        assert_eq!(outbox.next_due(), Some(datetime!(2026-11-20 12:15 UTC)));
        clock.advance(MAX_QUEUE_DELAY);
        assert_eq!(outbox.release_due().await.unwrap(), 1);
        assert_eq!(recorder.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_release_keeps_the_unsent_messages() {
        let (clock, recorder, outbox, queue) = setup();
        queue
            .send(&poll("a"), Duration::from_secs(10))
            .await
            .unwrap();
        queue
            .send(&poll("b"), Duration::from_secs(20))
            .await
            .unwrap();
        queue
            .send(&poll("c"), Duration::from_secs(30))
            .await
            .unwrap();
        *recorder.fail_after.lock().unwrap() = Some(1);
        clock.advance(Duration::from_secs(60));

        assert!(outbox.release_due().await.is_err());
        assert_eq!(outbox.pending(), 2);

        *recorder.fail_after.lock().unwrap() = None;
        assert_eq!(outbox.release_due().await.unwrap(), 2);
        let jobs: Vec<String> = recorder
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(m, _)| job_of(m))
            .collect();
        assert_eq!(jobs, ["a", "b", "c"]);
    }
}
