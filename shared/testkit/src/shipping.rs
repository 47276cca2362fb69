//! In-memory shipments and feed jobs (issue 4), with the semantics of the DynamoDB adapters:
//! versioned conditional writes, the live-feed slot, the state index ordered by revision time.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use spsync_domain::{AmazonOrderId, FeedJob, JobId, SellerId, Shipment};
use spsync_workflow::{FeedJobStore, ShipmentStore, StoreError};

use crate::memory::{FailOp, Failures, injected, lock, put_versioned};

type ShipmentKey = (String, String, String);

/// Shipments in memory.
#[derive(Default)]
pub struct MemoryShipmentStore {
    shipments: Mutex<BTreeMap<ShipmentKey, Shipment>>,
    writes: Mutex<u64>,
    failures: Failures,
    fail_at_write: Mutex<Option<u64>>,
}

impl MemoryShipmentStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every shipment.
    pub fn all(&self) -> Vec<Shipment> {
        lock(&self.shipments).values().cloned().collect()
    }

    /// Shipment writes so far.
    pub fn writes(&self) -> u64 {
        *lock(&self.writes)
    }

    /// Makes the next `times` calls of `op` fail with a transient error.
    pub fn fail_next(&self, op: FailOp, times: u32) {
        self.failures.arm(op, times);
    }

    /// Makes the `n`-th write from now (1 = the next) fail with a transient error, as a crash
    /// in the middle of a run of writes would.
    pub fn fail_write_number(&self, n: u64) {
        *lock(&self.fail_at_write) = Some(self.writes() + n);
    }

    /// Stores a shipment as given, unchecked (a shipment recorded against data that changed
    /// since, or by an older version).
    pub fn insert_unchecked(&self, shipment: Shipment) {
        let k = key(
            &shipment.seller_id,
            &shipment.amazon_order_id,
            &shipment.shipment_id,
        );
        lock(&self.shipments).insert(k, shipment);
    }
}

fn key(seller: &SellerId, order: &AmazonOrderId, id: &str) -> ShipmentKey {
    (seller.to_string(), order.to_string(), id.to_owned())
}

#[async_trait]
impl ShipmentStore for MemoryShipmentStore {
    async fn get_shipment(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        shipment_id: &str,
    ) -> Result<Option<Shipment>, StoreError> {
        Ok(lock(&self.shipments)
            .get(&key(seller, order, shipment_id))
            .cloned())
    }

    async fn shipments_of_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Vec<Shipment>, StoreError> {
        Ok(lock(&self.shipments)
            .values()
            .filter(|s| s.seller_id == *seller && s.amazon_order_id == *order)
            .cloned()
            .collect())
    }

    async fn put_shipment(
        &self,
        shipment: &Shipment,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        if self.failures.take(FailOp::PutShipment) {
            return Err(injected("put_shipment"));
        }
        {
            let mut at = lock(&self.fail_at_write);
            if *at == Some(self.writes() + 1) {
                *at = None;
                // Counted as a write attempt so later numbers stay aligned.
                *lock(&self.writes) += 1;
                return Err(injected("put_shipment"));
            }
        }
        let k = key(
            &shipment.seller_id,
            &shipment.amazon_order_id,
            &shipment.shipment_id,
        );
        put_versioned(
            &mut lock(&self.shipments),
            k,
            shipment,
            |s| s.version,
            expected_version,
            || format!("shipment {}", shipment.reference()),
        )?;
        *lock(&self.writes) += 1;
        Ok(())
    }

    async fn shipments_in_state(
        &self,
        seller: &SellerId,
        state: &str,
        page: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Shipment>, Option<String>), StoreError> {
        let all = lock(&self.shipments);
        let mut matching: Vec<&Shipment> = all
            .values()
            .filter(|s| s.seller_id == *seller && s.state.name() == state)
            .collect();
        matching.sort_by(|a, b| {
            (
                a.revised_at,
                a.amazon_order_id.as_str(),
                a.shipment_id.as_str(),
            )
                .cmp(&(
                    b.revised_at,
                    b.amazon_order_id.as_str(),
                    b.shipment_id.as_str(),
                ))
        });
        let start: usize = page.and_then(|p| p.parse().ok()).unwrap_or(0);
        let end = (start + limit.max(1)).min(matching.len());
        let next = (end < matching.len()).then(|| end.to_string());
        Ok((
            matching[start.min(end)..end]
                .iter()
                .map(|s| (*s).clone())
                .collect(),
            next,
        ))
    }
}

/// Feed jobs and live-feed slots in memory.
#[derive(Default)]
pub struct MemoryFeedJobStore {
    jobs: Mutex<BTreeMap<(String, String), FeedJob>>,
    slots: Mutex<BTreeMap<(String, String), JobId>>,
    failures: Failures,
    fail_writing: Mutex<Vec<&'static str>>,
}

impl MemoryFeedJobStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every feed job, by seller and job id.
    pub fn all(&self) -> Vec<FeedJob> {
        lock(&self.jobs).values().cloned().collect()
    }

    /// Makes the next `times` calls of `op` fail with a transient error.
    pub fn fail_next(&self, op: FailOp, times: u32) {
        self.failures.arm(op, times);
    }

    /// Makes the next write of a job entering `state` ([`spsync_domain::FeedJobState::name`])
    /// fail with a transient error, as a crash right before that write would: whatever the
    /// step did before (an upload, a createFeed) happened, its record did not.
    pub fn fail_when_writing(&self, state: &'static str) {
        lock(&self.fail_writing).push(state);
    }
}

#[async_trait]
impl FeedJobStore for MemoryFeedJobStore {
    async fn get_feed_job(
        &self,
        seller: &SellerId,
        job: &JobId,
    ) -> Result<Option<FeedJob>, StoreError> {
        Ok(lock(&self.jobs)
            .get(&(seller.to_string(), job.to_string()))
            .cloned())
    }

    async fn put_feed_job(
        &self,
        job: &FeedJob,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        if self.failures.take(FailOp::PutFeedJob) {
            return Err(injected("put_feed_job"));
        }
        {
            let mut armed = lock(&self.fail_writing);
            if let Some(i) = armed.iter().position(|s| *s == job.state.name()) {
                armed.remove(i);
                return Err(injected("put_feed_job"));
            }
        }
        let k = (job.seller_id.to_string(), job.job_id.to_string());
        put_versioned(
            &mut lock(&self.jobs),
            k,
            job,
            |j| j.version,
            expected_version,
            || format!("feed job {}", job.job_id),
        )
    }

    async fn live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
    ) -> Result<Option<JobId>, StoreError> {
        Ok(lock(&self.slots)
            .get(&(seller.to_string(), feed_type.to_owned()))
            .cloned())
    }

    async fn claim_live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError> {
        let mut slots = lock(&self.slots);
        let k = (seller.to_string(), feed_type.to_owned());
        if slots.get(&k) != previous {
            return Err(StoreError::ConditionFailed {
                what: format!("live feed slot {feed_type}"),
            });
        }
        slots.insert(k, job.clone());
        Ok(())
    }

    async fn release_live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        job: &JobId,
    ) -> Result<(), StoreError> {
        let mut slots = lock(&self.slots);
        let k = (seller.to_string(), feed_type.to_owned());
        if slots.get(&k) == Some(job) {
            slots.remove(&k);
        }
        Ok(())
    }

    async fn recent_feed_jobs(
        &self,
        seller: &SellerId,
        limit: usize,
    ) -> Result<Vec<FeedJob>, StoreError> {
        let jobs = lock(&self.jobs);
        let mut mine: Vec<FeedJob> = jobs
            .values()
            .filter(|j| j.seller_id == *seller)
            .cloned()
            .collect();
        mine.sort_by(|a, b| b.job_id.as_str().cmp(a.job_id.as_str()));
        mine.truncate(limit);
        Ok(mine)
    }
}
