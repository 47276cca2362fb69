//! Lambda function `enrich-orders`.
