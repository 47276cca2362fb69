//! [`DynamoFeedJobStore`]: fulfilment feed jobs and live-feed slots in JobsTable.
//!
//! JobsTable items of a seller's feeds (beside the report jobs, under their own partition):
//!
//! | Item | `pk` | `sk` | Other attributes |
//! |---|---|---|---|
//! | feed job | `FEEDS#<seller>` | `JOB#<job id>` | `seller_id`, `job_id`, `state`, `feed_type`, `feed_id` once known, `version`, `created_at`, `updated_at`, `body`, `ttl` once terminal (90 days after `updated_at`) |
//! | live-feed slot | `FEEDS#<seller>` | `LIVE#<feed type>` | `job_id` |
//!
//! Job ids start with their creation time, so the newest feed jobs are a backwards Query over
//! the `JOB#` range; the slots sort after it and stay out of that range.

use async_trait::async_trait;
use spsync_domain::{FeedJob, JobId, SellerId};
use spsync_workflow::{FeedJobStore, StoreError};
use tracing::instrument;

use super::item::{
    Item, JOB_SK_PREFIX, feed_job_from_item, feed_job_item, feeds_pk, job_sk, live_feed_sk,
    versioned,
};
use crate::error::store_error;

/// JobsTable adapter for feeds: implements [`FeedJobStore`].
///
/// Writes that the workflow races on are conditional: creating a feed job or claiming a free
/// slot requires the item to be absent, replacing a job requires the stored version, taking
/// over a held slot or releasing it requires the job id it holds. Reads are strongly
/// consistent, so a step reads what the previous step wrote.
#[derive(Debug, Clone)]
pub struct DynamoFeedJobStore {
    /// DynamoDB client.
    pub client: aws_sdk_dynamodb::Client,
    /// JobsTable's name.
    pub table: String,
}

impl DynamoFeedJobStore {
    /// An adapter over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String, sk: String, what: String) -> Result<Option<Item>, StoreError> {
        super::get_consistent(&self.client, &self.table, pk, sk, what).await
    }

    /// The seller's live-feed slot for a feed type.
    fn slot(&self, seller: &SellerId, feed_type: &str) -> super::Slot<'_> {
        super::Slot {
            client: &self.client,
            table: &self.table,
            pk: feeds_pk(seller),
            sk: live_feed_sk(feed_type),
            what: format!("live feed slot {feed_type}"),
        }
    }
}

#[async_trait]
impl FeedJobStore for DynamoFeedJobStore {
    #[instrument(skip_all, fields(operation = "GetItem", job_kind = "feed", seller_id = %seller, job_id = %job))]
    async fn get_feed_job(
        &self,
        seller: &SellerId,
        job: &JobId,
    ) -> Result<Option<FeedJob>, StoreError> {
        let item = self
            .get(feeds_pk(seller), job_sk(job), format!("feed job {job}"))
            .await?;
        item.map(|i| feed_job_from_item("GetItem", &i)).transpose()
    }

    #[instrument(skip_all, fields(operation = "PutItem", job_kind = "feed", seller_id = %job.seller_id, job_id = %job.job_id, state = job.state.name(), version = job.version))]
    async fn put_feed_job(
        &self,
        job: &FeedJob,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(feed_job_item(job)?));
        versioned(request, expected_version)
            .send()
            .await
            .map_err(|e| store_error("PutItem", format!("feed job {}", job.job_id), e))?;
        Ok(())
    }

    #[instrument(skip_all, fields(operation = "GetItem", seller_id = %seller, feed_type = %feed_type))]
    async fn live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
    ) -> Result<Option<JobId>, StoreError> {
        self.slot(seller, feed_type).holder().await
    }

    #[instrument(skip_all, fields(operation = "PutItem", seller_id = %seller, feed_type = %feed_type, job_id = %job))]
    async fn claim_live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError> {
        self.slot(seller, feed_type).claim(job, previous).await
    }

    #[instrument(skip_all, fields(operation = "DeleteItem", seller_id = %seller, feed_type = %feed_type, job_id = %job))]
    async fn release_live_feed(
        &self,
        seller: &SellerId,
        feed_type: &str,
        job: &JobId,
    ) -> Result<(), StoreError> {
        self.slot(seller, feed_type).release(job).await
    }

    #[instrument(skip_all, fields(operation = "Query", job_kind = "feed", seller_id = %seller, limit = limit))]
    async fn recent_feed_jobs(
        &self,
        seller: &SellerId,
        limit: usize,
    ) -> Result<Vec<FeedJob>, StoreError> {
        super::newest_in_partition(
            &self.client,
            &self.table,
            feeds_pk(seller),
            JOB_SK_PREFIX,
            limit,
            "recent feed jobs",
            |item| feed_job_from_item("Query", item),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::item::get_s;
    use aws_sdk_dynamodb::types::AttributeValue;
    use spsync_domain::{FULFILLMENT_FEED_TYPE, FeedJobState};
    use time::macros::datetime;

    use super::super::{JOB_RETENTION, TTL_ATTRIBUTE};
    use super::*;

    fn job() -> FeedJob {
        FeedJob::new(
            SellerId::new("A1"),
            JobId::new("20261122T100000Z-0000002a"),
            FULFILLMENT_FEED_TYPE,
            "feeds/A1/POST_FLAT_FILE_FULFILLMENT_DATA/2026-11-22/20261122T100000Z-0000002a.tsv"
                .into(),
            120,
            datetime!(2026-11-22 10:00 UTC),
        )
    }

    #[test]
    fn a_feed_job_round_trips_through_its_item() {
        let mut j = job();
        j.state = FeedJobState::Submitted {
            feed_id: "50001".into(),
        };
        j.version = 4;

        let item = feed_job_item(&j).unwrap();

        assert_eq!(get_s(&item, "pk"), Some("FEEDS#A1"));
        assert_eq!(get_s(&item, "sk"), Some("JOB#20261122T100000Z-0000002a"));
        assert_eq!(get_s(&item, "state"), Some("Submitted"));
        assert_eq!(get_s(&item, "feed_id"), Some("50001"));
        assert_eq!(get_s(&item, "feed_type"), Some(FULFILLMENT_FEED_TYPE));
        assert_eq!(item.get("version"), Some(&AttributeValue::N("4".into())));
        assert!(!item.contains_key(TTL_ATTRIBUTE));
        assert_eq!(feed_job_from_item("GetItem", &item).unwrap(), j);
    }

    #[test]
    fn only_terminal_feed_jobs_expire_90_days_after_their_last_change() {
        let live = [
            FeedJobState::Claiming,
            FeedJobState::Built,
            FeedJobState::Uploaded {
                feed_document_id: "d".into(),
            },
            FeedJobState::Submitted {
                feed_id: "1".into(),
            },
        ];
        let ended = [
            FeedJobState::Applied {
                feed_id: "1".into(),
            },
            FeedJobState::Cancelled {
                feed_id: "1".into(),
            },
            FeedJobState::Fatal {
                feed_id: "1".into(),
                reason: "r".into(),
            },
            FeedJobState::Abandoned { reason: "r".into() },
        ];
        let mut j = job();
        j.updated_at = datetime!(2026-11-23 00:00 UTC);
        let ttl = |state: &FeedJobState| {
            let mut j = j.clone();
            j.state = state.clone();
            feed_job_item(&j).unwrap().get(TTL_ATTRIBUTE).cloned()
        };

        let want = AttributeValue::N(datetime!(2027-02-21 00:00 UTC).unix_timestamp().to_string());
        assert_eq!(JOB_RETENTION.as_secs(), 90 * 86_400);
        for state in &live {
            assert_eq!(ttl(state), None, "{state:?}");
        }
        for state in &ended {
            assert_eq!(ttl(state), Some(want.clone()), "{state:?}");
        }
    }
}
