//! Query-string building shared by the API modules.
//!
//! Array parameters are sent comma-separated in one pair (`reportTypes=A,B`), the Swagger
//! default `collectionFormat: csv` that Amazon's generated clients use. Times are RFC 3339.

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

    /// Pushes a list built with [`csv`]; an empty list sends nothing.
    pub(crate) fn push_list(&mut self, name: &'static str, joined: Option<String>) {
        self.push_opt(name, joined);
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
