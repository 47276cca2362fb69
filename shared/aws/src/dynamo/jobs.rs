//! [`DynamoJobStore`]: report jobs, active-job slots and cursors in JobsTable.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use spsync_domain::{JobId, MarketplaceId, ReportJob, SellerId};
use spsync_workflow::{JobKey, JobStore, StoreError};
use time::OffsetDateTime;
use tracing::instrument;

use super::item::{
    JOB_SK_PREFIX, active_sk, cursor_sk, job_from_item, job_item, job_pk, job_sk, key, rfc3339,
};
use crate::error::store_error;

/// JobsTable adapter: implements [`JobStore`] and [`SellerDirectory`](spsync_workflow::SellerDirectory).
///
/// Writes that the workflow races on are conditional: creating a job or claiming a free slot
/// requires the item to be absent, replacing a job requires the stored version, claiming a
/// held slot or releasing it requires the job id it holds. Reads are strongly consistent, so
/// a step reads what the previous step wrote.
#[derive(Debug, Clone)]
pub struct DynamoJobStore {
    /// DynamoDB client.
    pub client: aws_sdk_dynamodb::Client,
    /// JobsTable's name.
    pub table: String,
}

impl DynamoJobStore {
    /// An adapter over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(
        &self,
        pk: String,
        sk: String,
        what: String,
    ) -> Result<Option<super::item::Item>, StoreError> {
        super::get_consistent(&self.client, &self.table, pk, sk, what).await
    }

    /// The seller's "active report" slot for a marketplace and report type.
    fn slot(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
    ) -> super::Slot<'_> {
        super::Slot {
            client: &self.client,
            table: &self.table,
            pk: job_pk(seller, marketplace),
            sk: active_sk(report_type),
            what: format!("active slot {report_type}"),
        }
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    #[instrument(skip_all, fields(operation = "GetItem", job_id = %key.job_id))]
    async fn get_job(&self, key: &JobKey) -> Result<Option<ReportJob>, StoreError> {
        let item = self
            .get(
                job_pk(&key.seller_id, &key.marketplace_id),
                job_sk(&key.job_id),
                format!("job {}", key.job_id),
            )
            .await?;
        item.map(|i| job_from_item("GetItem", &i)).transpose()
    }

    #[instrument(skip_all, fields(operation = "PutItem", job_id = %job.job_id, version = job.version))]
    async fn put_job(
        &self,
        job: &ReportJob,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)?));
        let request = super::item::versioned(request, expected_version);
        request
            .send()
            .await
            .map_err(|e| store_error("PutItem", format!("job {}", job.job_id), e))?;
        Ok(())
    }

    #[instrument(skip_all, fields(operation = "GetItem", seller_id = %seller, marketplace_id = %marketplace, report_type = %report_type))]
    async fn active_job(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
    ) -> Result<Option<JobId>, StoreError> {
        self.slot(seller, marketplace, report_type).holder().await
    }

    #[instrument(skip_all, fields(operation = "PutItem", seller_id = %seller, marketplace_id = %marketplace, report_type = %report_type, job_id = %job))]
    async fn claim_active(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError> {
        self.slot(seller, marketplace, report_type)
            .claim(job, previous)
            .await
    }

    #[instrument(skip_all, fields(operation = "DeleteItem", seller_id = %seller, marketplace_id = %marketplace, report_type = %report_type, job_id = %job))]
    async fn release_active(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        report_type: &str,
        job: &JobId,
    ) -> Result<(), StoreError> {
        self.slot(seller, marketplace, report_type)
            .release(job)
            .await
    }

    #[instrument(skip_all, fields(operation = "Query", seller_id = %seller, marketplace_id = %marketplace, limit = limit))]
    async fn recent_jobs(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        limit: usize,
    ) -> Result<Vec<ReportJob>, StoreError> {
        super::newest_in_partition(
            &self.client,
            &self.table,
            job_pk(seller, marketplace),
            JOB_SK_PREFIX,
            limit,
            "recent jobs",
            |item| job_from_item("Query", item),
        )
        .await
    }

    #[instrument(skip_all, fields(operation = "GetItem", seller_id = %seller, marketplace_id = %marketplace, cursor = %name))]
    async fn get_cursor(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        name: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let item = self
            .get(
                job_pk(seller, marketplace),
                cursor_sk(name),
                format!("cursor {name}"),
            )
            .await?;
        item.map(|i| super::item::cursor_from_item("GetItem", &i))
            .transpose()
    }

    #[instrument(skip_all, fields(operation = "PutItem", seller_id = %seller, marketplace_id = %marketplace, cursor = %name))]
    async fn put_cursor(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        name: &str,
        value: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut item = key(job_pk(seller, marketplace), cursor_sk(name));
        item.insert("value".into(), AttributeValue::S(rfc3339(value)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", format!("cursor {name}"), e))?;
        Ok(())
    }
}
