//! In-memory adapters of the workflow ports, for fast flow tests on a virtual clock.
//!
//! They keep the semantics the real adapters have (conditional writes on versions, the active
//! slot, pages), count writes so tests can assert "no write", and can be told to fail the next
//! call of an operation to simulate a crash or an outage between two steps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use spsync_domain::{AmazonOrderId, JobId, MarketplaceId, Order, OrderStatus, ReportJob, SellerId};
use spsync_workflow::{
    Clock, CredentialStore, DocumentMeta, DocumentStore, JobKey, JobStore, LwaSecret, OrderStore,
    QueueError, QueueName, SellerAccount, SellerDirectory, StepMessage, StepQueue, StoreError,
};
use time::OffsetDateTime;

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Operations that can be made to fail once (see `fail_next`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailOp {
    /// `put_job`.
    PutJob,
    /// `put_order`.
    PutOrder,
    /// `put_document`.
    PutDocument,
    /// `get_document`.
    GetDocument,
    /// `StepQueue::send`.
    Send,
    /// `put_order`, refused for good (as DynamoDB refuses an item over its size limit).
    PutOrderPermanently,
    /// `put_shipment`.
    PutShipment,
    /// `put_feed_job`.
    PutFeedJob,
}

#[derive(Default)]
pub(crate) struct Failures(Mutex<HashMap<FailOp, u32>>);

impl Failures {
    pub(crate) fn arm(&self, op: FailOp, times: u32) {
        *lock(&self.0).entry(op).or_default() += times;
    }

    pub(crate) fn take(&self, op: FailOp) -> bool {
        let mut m = lock(&self.0);
        match m.get_mut(&op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

/// The conditional write every store does: `expected: None` creates (`ConditionFailed` if the
/// key exists), `Some(v)` replaces only a stored version `v`.
pub(crate) fn put_versioned<K: Ord, V: Clone>(
    map: &mut BTreeMap<K, V>,
    key: K,
    value: &V,
    version: impl Fn(&V) -> u64,
    expected: Option<u64>,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    let ok = match (map.get(&key), expected) {
        (None, None) => true,
        (Some(stored), Some(v)) => version(stored) == v,
        _ => false,
    };
    if !ok {
        return Err(StoreError::ConditionFailed { what: what() });
    }
    map.insert(key, value.clone());
    Ok(())
}

pub(crate) fn injected(operation: &'static str) -> StoreError {
    StoreError::Transient {
        operation,
        source: "injected failure".into(),
    }
}

/// Jobs, slots, cursors and sellers in memory.
#[derive(Default)]
pub struct MemoryJobStore {
    jobs: Mutex<BTreeMap<(String, String, String), ReportJob>>,
    active: Mutex<HashMap<(String, String, String), JobId>>,
    cursors: Mutex<HashMap<(String, String, String), OffsetDateTime>>,
    sellers: Mutex<BTreeMap<String, SellerAccount>>,
    failures: Failures,
    writes: Mutex<u64>,
}

impl MemoryJobStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `times` calls of `op` fail with a transient error.
    pub fn fail_next(&self, op: FailOp, times: u32) {
        self.failures.arm(op, times);
    }

    /// Every job, oldest first.
    pub fn all_jobs(&self) -> Vec<ReportJob> {
        let mut jobs: Vec<ReportJob> = lock(&self.jobs).values().cloned().collect();
        jobs.sort_by(|a, b| a.job_id.cmp(&b.job_id));
        jobs
    }

    /// Job writes so far.
    pub fn writes(&self) -> u64 {
        *lock(&self.writes)
    }
}

fn job_key(k: &JobKey) -> (String, String, String) {
    (
        k.seller_id.to_string(),
        k.marketplace_id.to_string(),
        k.job_id.to_string(),
    )
}

#[async_trait]
impl JobStore for MemoryJobStore {
    async fn get_job(&self, key: &JobKey) -> Result<Option<ReportJob>, StoreError> {
        Ok(lock(&self.jobs).get(&job_key(key)).cloned())
    }

    async fn put_job(
        &self,
        job: &ReportJob,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        if self.failures.take(FailOp::PutJob) {
            return Err(injected("put_job"));
        }
        let key = (
            job.seller_id.to_string(),
            job.marketplace_id.to_string(),
            job.job_id.to_string(),
        );
        put_versioned(
            &mut lock(&self.jobs),
            key,
            job,
            |j| j.version,
            expected_version,
            || format!("job {}", job.job_id),
        )?;
        *lock(&self.writes) += 1;
        Ok(())
    }

    async fn active_job(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
    ) -> Result<Option<JobId>, StoreError> {
        let key = (
            seller.to_string(),
            marketplace.to_string(),
            report_type.to_owned(),
        );
        Ok(lock(&self.active).get(&key).cloned())
    }

    async fn claim_active(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError> {
        let key = (
            seller.to_string(),
            marketplace.to_string(),
            report_type.to_owned(),
        );
        let mut active = lock(&self.active);
        if active.get(&key) != previous {
            return Err(StoreError::ConditionFailed {
                what: "active report slot".into(),
            });
        }
        active.insert(key, job.clone());
        Ok(())
    }

    async fn release_active(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
        job: &JobId,
    ) -> Result<(), StoreError> {
        let key = (
            seller.to_string(),
            marketplace.to_string(),
            report_type.to_owned(),
        );
        let mut active = lock(&self.active);
        if active.get(&key) == Some(job) {
            active.remove(&key);
        }
        Ok(())
    }

    async fn recent_jobs(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        limit: usize,
    ) -> Result<Vec<ReportJob>, StoreError> {
        let jobs = lock(&self.jobs);
        let mut found: Vec<ReportJob> = jobs
            .values()
            .filter(|j| j.seller_id == *seller && j.marketplace_id == *marketplace)
            .cloned()
            .collect();
        found.sort_by(|a, b| b.job_id.cmp(&a.job_id));
        found.truncate(limit);
        Ok(found)
    }

    async fn get_cursor(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        name: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let key = (seller.to_string(), marketplace.to_string(), name.to_owned());
        Ok(lock(&self.cursors).get(&key).copied())
    }

    async fn put_cursor(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        name: &str,
        value: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let key = (seller.to_string(), marketplace.to_string(), name.to_owned());
        lock(&self.cursors).insert(key, value);
        Ok(())
    }
}

#[async_trait]
impl SellerDirectory for MemoryJobStore {
    async fn sellers(&self) -> Result<Vec<SellerAccount>, StoreError> {
        Ok(lock(&self.sellers).values().cloned().collect())
    }

    async fn seller(&self, seller_id: &SellerId) -> Result<Option<SellerAccount>, StoreError> {
        Ok(lock(&self.sellers).get(seller_id.as_str()).cloned())
    }

    async fn put_seller(&self, account: &SellerAccount) -> Result<(), StoreError> {
        lock(&self.sellers).insert(account.seller_id.to_string(), account.clone());
        Ok(())
    }
}

/// Orders in memory, with a write counter.
#[derive(Default)]
pub struct MemoryOrderStore {
    orders: Mutex<BTreeMap<(String, String), Order>>,
    writes: Mutex<u64>,
    failures: Failures,
}

impl MemoryOrderStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Order writes so far (creates and updates).
    pub fn writes(&self) -> u64 {
        *lock(&self.writes)
    }

    /// Every order, by seller and id.
    pub fn all(&self) -> Vec<Order> {
        lock(&self.orders).values().cloned().collect()
    }

    /// Makes the next `times` writes fail with a transient error.
    pub fn fail_next(&self, op: FailOp, times: u32) {
        self.failures.arm(op, times);
    }
}

#[async_trait]
impl OrderStore for MemoryOrderStore {
    async fn get_orders(
        &self,
        seller: &SellerId,
        ids: &[AmazonOrderId],
    ) -> Result<Vec<Order>, StoreError> {
        let orders = lock(&self.orders);
        Ok(ids
            .iter()
            .filter_map(|id| orders.get(&(seller.to_string(), id.to_string())).cloned())
            .collect())
    }

    async fn get_order(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Order>, StoreError> {
        Ok(lock(&self.orders)
            .get(&(seller.to_string(), id.to_string()))
            .cloned())
    }

    async fn put_order(
        &self,
        order: &Order,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        if self.failures.take(FailOp::PutOrder) {
            return Err(injected("put_order"));
        }
        if self.failures.take(FailOp::PutOrderPermanently) {
            return Err(StoreError::Permanent {
                operation: "put_order",
                source: "injected: item too large".into(),
            });
        }
        let key = (
            order.seller_id.to_string(),
            order.amazon_order_id.to_string(),
        );
        put_versioned(
            &mut lock(&self.orders),
            key,
            order,
            |o| o.version,
            expected_version,
            || format!("order {}", order.amazon_order_id),
        )?;
        *lock(&self.writes) += 1;
        Ok(())
    }

    async fn orders_by_status(
        &self,
        seller: &SellerId,
        status: OrderStatus,
        page: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<String>), StoreError> {
        let orders = lock(&self.orders);
        let mut matching: Vec<&Order> = orders
            .values()
            .filter(|o| o.seller_id == *seller && o.status == status)
            .collect();
        matching.sort_by(|a, b| {
            (a.purchase_date, a.amazon_order_id.as_str())
                .cmp(&(b.purchase_date, b.amazon_order_id.as_str()))
        });
        let start: usize = page.and_then(|p| p.parse().ok()).unwrap_or(0);
        let end = (start + limit.max(1)).min(matching.len());
        let next = (end < matching.len()).then(|| end.to_string());
        Ok((
            matching[start.min(end)..end]
                .iter()
                .map(|o| (*o).clone())
                .collect(),
            next,
        ))
    }
}

/// Documents in memory.
#[derive(Default)]
pub struct MemoryDocumentStore {
    docs: Mutex<BTreeMap<String, (Vec<u8>, DocumentMeta)>>,
    failures: Failures,
}

impl MemoryDocumentStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys stored.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.docs).keys().cloned().collect()
    }

    /// Makes the next `times` calls of `op` fail with a transient error.
    pub fn fail_next(&self, op: FailOp, times: u32) {
        self.failures.arm(op, times);
    }
}

#[async_trait]
impl DocumentStore for MemoryDocumentStore {
    async fn put_document(
        &self,
        key: &str,
        body: Vec<u8>,
        meta: &DocumentMeta,
    ) -> Result<(), StoreError> {
        if self.failures.take(FailOp::PutDocument) {
            return Err(injected("put_document"));
        }
        lock(&self.docs).insert(key.to_owned(), (body, meta.clone()));
        Ok(())
    }

    async fn get_document(&self, key: &str) -> Result<(Vec<u8>, DocumentMeta), StoreError> {
        if self.failures.take(FailOp::GetDocument) {
            return Err(injected("get_document"));
        }
        lock(&self.docs)
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                what: format!("document {key}"),
            })
    }
}

/// A message waiting in the virtual queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// When it becomes visible.
    pub visible_at: OffsetDateTime,
    /// The queue.
    pub queue: QueueName,
    /// The message.
    pub message: StepMessage,
}

/// A step queue on a virtual clock: `send` records the message with its visibility time;
/// the test driver takes the due ones with [`VirtualQueue::take_due`].
pub struct VirtualQueue<C: Clock> {
    clock: C,
    pending: Mutex<Vec<QueuedMessage>>,
    sent: Mutex<u64>,
    failures: Failures,
}

impl<C: Clock> VirtualQueue<C> {
    /// An empty queue reading time from `clock`.
    pub fn new(clock: C) -> Self {
        Self {
            clock,
            pending: Mutex::new(Vec::new()),
            sent: Mutex::new(0),
            failures: Failures::default(),
        }
    }

    /// Removes and returns the messages visible at `now`, earliest first.
    pub fn take_due(&self, now: OffsetDateTime) -> Vec<QueuedMessage> {
        let mut pending = lock(&self.pending);
        pending.sort_by_key(|m| m.visible_at);
        let split = pending.partition_point(|m| m.visible_at <= now);
        pending.drain(..split).collect()
    }

    /// Puts a message back (a failed delivery), visible at `at`.
    pub fn redeliver(&self, message: QueuedMessage, at: OffsetDateTime) {
        lock(&self.pending).push(QueuedMessage {
            visible_at: at,
            ..message
        });
    }

    /// Messages waiting.
    pub fn pending(&self) -> Vec<QueuedMessage> {
        lock(&self.pending).clone()
    }

    /// When the next message becomes visible.
    pub fn next_visible(&self) -> Option<OffsetDateTime> {
        lock(&self.pending).iter().map(|m| m.visible_at).min()
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        *lock(&self.sent)
    }

    /// Makes the next `times` sends fail (as if the process died before sending).
    pub fn fail_next_send(&self, times: u32) {
        self.failures.arm(FailOp::Send, times);
    }
}

#[async_trait]
impl<C: Clock> StepQueue for VirtualQueue<C> {
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
        if self.failures.take(FailOp::Send) {
            return Err(QueueError {
                operation: "send",
                retryable: true,
                source: "injected failure".into(),
            });
        }
        let delay = delay.min(spsync_workflow::MAX_QUEUE_DELAY);
        lock(&self.pending).push(QueuedMessage {
            visible_at: self.clock.now() + delay,
            queue: message.step.queue(),
            message: message.clone(),
        });
        *lock(&self.sent) += 1;
        Ok(())
    }
}

/// Credentials in memory, by secret id.
#[derive(Default)]
pub struct MemoryCredentials {
    secrets: Mutex<HashMap<String, LwaSecret>>,
    reads: Mutex<u64>,
}

impl MemoryCredentials {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a secret.
    pub fn insert(&self, secret_id: impl Into<String>, secret: LwaSecret) {
        lock(&self.secrets).insert(secret_id.into(), secret);
    }

    /// Reads so far.
    pub fn reads(&self) -> u64 {
        *lock(&self.reads)
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn lwa_secret(&self, secret_id: &str) -> Result<LwaSecret, StoreError> {
        *lock(&self.reads) += 1;
        lock(&self.secrets)
            .get(secret_id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                what: format!("secret {secret_id}"),
            })
    }
}
