//! The seller registry in JobsTable (`pk = SELLERS`), on [`DynamoJobStore`].

use async_trait::async_trait;
use spsync_domain::SellerId;
use spsync_workflow::{SellerAccount, SellerDirectory, StoreError};
use tracing::instrument;

use super::DynamoJobStore;
use super::item::{SELLERS_PK, key, s, seller_from_item, seller_item, seller_sk};
use crate::error::store_error;

#[async_trait]
impl SellerDirectory for DynamoJobStore {
    #[instrument(skip_all, fields(operation = "Query"))]
    async fn sellers(&self) -> Result<Vec<SellerAccount>, StoreError> {
        let mut sellers = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(SELLERS_PK))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", "sellers", e))?;
            for item in out.items() {
                sellers.push(seller_from_item("Query", item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(sellers);
            }
        }
    }

    #[instrument(skip_all, fields(operation = "GetItem", seller_id = %seller_id))]
    async fn seller(&self, seller_id: &SellerId) -> Result<Option<SellerAccount>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(SELLERS_PK.to_owned(), seller_sk(seller_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", format!("seller {seller_id}"), e))?;
        out.item
            .map(|i| seller_from_item("GetItem", &i))
            .transpose()
    }

    #[instrument(skip_all, fields(operation = "PutItem", seller_id = %account.seller_id))]
    async fn put_seller(&self, account: &SellerAccount) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(seller_item(account)?))
            .send()
            .await
            .map_err(|e| store_error("PutItem", format!("seller {}", account.seller_id), e))?;
        Ok(())
    }
}
