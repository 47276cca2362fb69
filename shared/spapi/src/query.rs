//! Query-string building shared by the API modules.
//!
//! Array parameters are sent comma-separated in one pair (`reportTypes=A,B`), the Swagger
//! default `collectionFormat: csv` that Amazon's generated clients use. Times are RFC 3339.

use spsync_domain::ProcessingStatus;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::SpApiError;
use crate::limits::Operation;

/// Ordered query pairs for one operation.
pub(crate) struct QueryPairs {
    operation: Operation,
    pairs: Vec<(&'static str, String)>,
}

impl QueryPairs {
    pub(crate) fn new(operation: Operation) -> Self {
        Self {
            operation,
            pairs: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, name: &'static str, value: String) {
        self.pairs.push((name, value));
    }

    pub(crate) fn push_opt(&mut self, name: &'static str, value: Option<String>) {
        if let Some(value) = value {
            self.push(name, value);
        }
    }

    pub(crate) fn push_time(
        &mut self,
        name: &'static str,
        value: Option<OffsetDateTime>,
    ) -> Result<(), SpApiError> {
        if let Some(t) = value {
            let text = t.format(&Rfc3339).map_err(|e| SpApiError::InvalidRequest {
                operation: self.operation.name(),
                reason: format!("{name} is not representable in RFC 3339: {e}"),
            })?;
            self.push(name, text);
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<(&'static str, String)> {
        self.pairs
    }
}

/// Joins items with commas; `None` for an empty list.
pub(crate) fn csv<I>(items: I) -> Option<String>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let joined = items
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(",");
    (!joined.is_empty()).then_some(joined)
}

/// The filters getReports and getFeeds share (same shape; only the name of the type list
/// differs). With a `next_token`, the token is sent alone, as both operations require.
pub(crate) struct ListFilters<'a> {
    pub types_param: &'static str,
    pub types: &'a [String],
    pub processing_statuses: &'a [ProcessingStatus],
    pub marketplace_ids: &'a [String],
    pub page_size: Option<u32>,
    pub created_since: Option<OffsetDateTime>,
    pub created_until: Option<OffsetDateTime>,
    pub next_token: Option<&'a str>,
}

impl ListFilters<'_> {
    pub(crate) fn to_pairs(
        &self,
        operation: Operation,
    ) -> Result<Vec<(&'static str, String)>, SpApiError> {
        let mut q = QueryPairs::new(operation);
        if let Some(token) = self.next_token {
            q.push("nextToken", token.to_owned());
            return Ok(q.finish());
        }
        q.push_opt(self.types_param, csv(self.types));
        q.push_opt(
            "processingStatuses",
            csv(self.processing_statuses.iter().map(|s| s.as_str())),
        );
        q.push_opt("marketplaceIds", csv(self.marketplace_ids));
        q.push_opt("pageSize", self.page_size.map(|n| n.to_string()));
        q.push_time("createdSince", self.created_since)?;
        q.push_time("createdUntil", self.created_until)?;
        Ok(q.finish())
    }
}
