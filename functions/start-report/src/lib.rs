//! Lambda function `start-report`.
