//! Lambda function `import-report`.
