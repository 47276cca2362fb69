//! Lambda function `poll-report`.
