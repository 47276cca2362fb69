//! Reports API v2021-06-30: create, poll, list and cancel reports, get document locations.
//!
//! Wire models follow `models/reports-api-model/reports_2021-06-30.json`; unknown fields are
//! ignored so additive model changes do not break decoding.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use spsync_domain::ProcessingStatus;
use time::OffsetDateTime;

use crate::client::{ApiRequest, SpApiClient};
use crate::documents::{CompressionAlgorithm, PresignedUrl};
use crate::error::SpApiError;
use crate::limits::Operation;
use crate::query::ListFilters;

const API: [&str; 2] = ["reports", "2021-06-30"];

/// Body of createReport (`CreateReportSpecification`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportSpecification {
    /// Report type, e.g. `GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`.
    pub report_type: String,
    /// Marketplaces the report covers (1 to 25).
    pub marketplace_ids: Vec<String>,
    /// Start of the data window; Amazon defaults it to now.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub data_start_time: Option<OffsetDateTime>,
    /// End of the data window; Amazon defaults it to now.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub data_end_time: Option<OffsetDateTime>,
    /// Report-type specific options (string to string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_options: Option<BTreeMap<String, String>>,
}

impl CreateReportSpecification {
    /// A specification with only the required fields.
    pub fn new(
        report_type: impl Into<String>,
        marketplace_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            report_type: report_type.into(),
            marketplace_ids: marketplace_ids.into_iter().map(Into::into).collect(),
            data_start_time: None,
            data_end_time: None,
            report_options: None,
        }
    }

    /// Sets the data window.
    pub fn with_data_window(mut self, start: OffsetDateTime, end: OffsetDateTime) -> Self {
        self.data_start_time = Some(start);
        self.data_end_time = Some(end);
        self
    }
}

/// Response of createReport (`CreateReportResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportResponse {
    /// Identifier of the new report.
    pub report_id: String,
}

/// A report (`Report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Report identifier.
    pub report_id: String,
    /// Report type.
    pub report_type: String,
    /// Marketplaces the report covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_ids: Option<Vec<String>>,
    /// Start of the data window.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub data_start_time: Option<OffsetDateTime>,
    /// End of the data window.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub data_end_time: Option<OffsetDateTime>,
    /// Schedule that created the report, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_schedule_id: Option<String>,
    /// When the report was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    /// Processing status.
    pub processing_status: ProcessingStatus,
    /// When processing started.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub processing_start_time: Option<OffsetDateTime>,
    /// When processing ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub processing_end_time: Option<OffsetDateTime>,
    /// Document to fetch with getReportDocument; present once the report is `DONE` (and for
    /// some `FATAL` reports, where it describes the error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_document_id: Option<String>,
}

/// Response of getReports (`GetReportsResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetReportsResponse {
    /// Reports on this page.
    pub reports: Vec<Report>,
    /// Token for the next page, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Location of a report document (`ReportDocument`). `Debug` hides the presigned URL, and it is
/// not `Serialize` (see [`PresignedUrl`]): keep the document id, not this.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDocument {
    /// Document identifier.
    pub report_document_id: String,
    /// Presigned download URL; expires after 5 minutes.
    pub url: PresignedUrl,
    /// `GZIP` when the content is compressed; absent means plain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_algorithm: Option<CompressionAlgorithm>,
}

/// Filters of getReports. Either `report_types` or `next_token` must be set; when
/// `next_token` is set it is sent alone, as Amazon requires.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetReportsQuery {
    /// Report types (1 to 10).
    pub report_types: Vec<String>,
    /// Only reports in these statuses.
    pub processing_statuses: Vec<ProcessingStatus>,
    /// Only reports for these marketplaces (1 to 10).
    pub marketplace_ids: Vec<String>,
    /// Page size, 1 to 100 (Amazon's default is 10).
    pub page_size: Option<u32>,
    /// Only reports created at or after this time (Amazon's default: 90 days ago).
    pub created_since: Option<OffsetDateTime>,
    /// Only reports created before this time.
    pub created_until: Option<OffsetDateTime>,
    /// Continuation token from a previous page.
    pub next_token: Option<String>,
}

impl GetReportsQuery {
    /// All reports of the given types (other filters default).
    pub fn for_types(report_types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            report_types: report_types.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The page after the one that returned `next_token`.
    pub fn next_page(next_token: impl Into<String>) -> Self {
        Self {
            next_token: Some(next_token.into()),
            ..Self::default()
        }
    }

    pub(crate) fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, SpApiError> {
        ListFilters {
            types_param: "reportTypes",
            types: &self.report_types,
            processing_statuses: &self.processing_statuses,
            marketplace_ids: &self.marketplace_ids,
            page_size: self.page_size,
            created_since: self.created_since,
            created_until: self.created_until,
            next_token: self.next_token.as_deref(),
        }
        .to_pairs(Operation::GetReports)
    }
}

/// Reports API operations; get one from [`SpApiClient::reports`].
#[derive(Debug, Clone, Copy)]
pub struct ReportsApi<'a> {
    client: &'a SpApiClient,
}

impl<'a> ReportsApi<'a> {
    pub(crate) fn new(client: &'a SpApiClient) -> Self {
        Self { client }
    }

    /// createReport: `POST /reports/2021-06-30/reports` → 202. Returns the report id.
    pub async fn create_report(
        &self,
        specification: &CreateReportSpecification,
    ) -> Result<String, SpApiError> {
        let op = Operation::CreateReport;
        let url = self.client.url(op, &[API[0], API[1], "reports"], &[])?;
        let request = SpApiClient::json_request(op, Method::POST, url, specification)?;
        let response: CreateReportResponse = self.client.execute_json(request).await?;
        Ok(response.report_id)
    }

    /// getReport: `GET /reports/2021-06-30/reports/{reportId}`.
    pub async fn get_report(&self, report_id: &str) -> Result<Report, SpApiError> {
        let op = Operation::GetReport;
        let url = self
            .client
            .url(op, &[API[0], API[1], "reports", report_id], &[])?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }

    /// getReports: `GET /reports/2021-06-30/reports` with filters or a `nextToken`.
    pub async fn get_reports(
        &self,
        query: &GetReportsQuery,
    ) -> Result<GetReportsResponse, SpApiError> {
        let op = Operation::GetReports;
        let url = self
            .client
            .url(op, &[API[0], API[1], "reports"], &query.to_pairs()?)?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }

    /// cancelReport: `DELETE /reports/2021-06-30/reports/{reportId}` (only `IN_QUEUE` reports).
    pub async fn cancel_report(&self, report_id: &str) -> Result<(), SpApiError> {
        let op = Operation::CancelReport;
        let url = self
            .client
            .url(op, &[API[0], API[1], "reports", report_id], &[])?;
        self.client
            .execute(ApiRequest::delete(op, url))
            .await
            .map(|_| ())
    }

    /// getReportDocument: `GET /reports/2021-06-30/documents/{reportDocumentId}`.
    pub async fn get_report_document(
        &self,
        report_document_id: &str,
    ) -> Result<ReportDocument, SpApiError> {
        let op = Operation::GetReportDocument;
        let url = self
            .client
            .url(op, &[API[0], API[1], "documents", report_document_id], &[])?;
        self.client.execute_json(ApiRequest::get(op, url)).await
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::test_support::{MockServer, Reply};
    use crate::{Retryability, SpApiClient};

    const REPORTS_PATH: &str = "/reports/2021-06-30/reports";

    async fn client(mock: &MockServer) -> SpApiClient {
        mock.lwa_ok(3600);
        SpApiClient::new(mock.config()).unwrap()
    }

    #[tokio::test]
    async fn create_report_sends_the_specification_and_returns_the_id() {
        let mock = MockServer::start().await;
        mock.route("POST", REPORTS_PATH, |_, _| {
            Reply::json(202, serde_json::json!({"reportId": "ID323"}))
        });
        let client = client(&mock).await;
        let mut spec = CreateReportSpecification::new(
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            ["A1PA6795UKMFR9", "ATVPDKIKX0DER"],
        )
        .with_data_window(
            datetime!(2024-03-10 20:11:24 UTC),
            datetime!(2024-03-11 00:00:00.5 UTC),
        );
        spec.report_options = Some(BTreeMap::from([("custom".into(), "true".into())]));
        let id = client.reports().create_report(&spec).await.unwrap();
        assert_eq!(id, "ID323");

        let request = &mock.requests("POST", REPORTS_PATH)[0];
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.json(),
            serde_json::json!({
                "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
                "marketplaceIds": ["A1PA6795UKMFR9", "ATVPDKIKX0DER"],
                "dataStartTime": "2024-03-10T20:11:24Z",
                "dataEndTime": "2024-03-11T00:00:00.5Z",
                "reportOptions": {"custom": "true"}
            })
        );
        // optional fields are omitted, not sent as null
        let minimal = serde_json::to_value(CreateReportSpecification::new("T", ["M"])).unwrap();
        assert_eq!(
            minimal,
            serde_json::json!({"reportType": "T", "marketplaceIds": ["M"]})
        );
    }

    #[tokio::test]
    async fn get_report_decodes_the_model_and_ignores_unknown_fields() {
        let mock = MockServer::start().await;
        mock.route("GET", "/reports/2021-06-30/reports/ReportId1", |_, _| {
            Reply::json(
                200,
                serde_json::json!({
                    "reportId": "ReportId1",
                    "reportType": "FEE_DISCOUNTS_REPORT",
                    "dataStartTime": "2024-03-11T13:47:20.677Z",
                    "dataEndTime": "2024-03-12T13:47:20.677Z",
                    "createdTime": "2024-03-10T13:47:20.677Z",
                    "processingStatus": "DONE",
                    "processingStartTime": "2024-03-10T13:47:20.677Z",
                    "processingEndTime": "2024-03-12T13:47:20.677+00:00",
                    "reportDocumentId": "0356cf79-b8b0-4226-b4b9-0ee058ea5760",
                    "somethingNew": {"nested": true}
                }),
            )
        });
        let client = client(&mock).await;
        let report = client.reports().get_report("ReportId1").await.unwrap();
        assert_eq!(report.report_type, "FEE_DISCOUNTS_REPORT");
        assert_eq!(report.processing_status, ProcessingStatus::Done);
        assert!(report.processing_status.is_terminal());
        assert_eq!(report.marketplace_ids, None);
        assert_eq!(report.created_time, datetime!(2024-03-10 13:47:20.677 UTC));
        assert_eq!(
            report.processing_end_time,
            Some(datetime!(2024-03-12 13:47:20.677 UTC))
        );
        assert_eq!(
            report.report_document_id.as_deref(),
            Some("0356cf79-b8b0-4226-b4b9-0ee058ea5760")
        );
    }

    #[tokio::test]
    async fn unknown_processing_status_is_a_transient_decode_error_on_a_read() {
        // Review item 15: a status Amazon adds later must not fail every in-flight job for
        // good; the step is retried (and ends in the DLQ if it never decodes).
        let mock = MockServer::start().await;
        mock.route("GET", "/reports/2021-06-30/reports/R1", |_, _| {
            Reply::json(
                200,
                serde_json::json!({
                    "reportId": "R1", "reportType": "T",
                    "createdTime": "2024-03-10T13:47:20Z", "processingStatus": "PAUSED"
                }),
            )
            .header("x-amzn-RequestId", "req-bad")
        });
        let client = client(&mock).await;
        let err = client.reports().get_report("R1").await.unwrap_err();
        assert!(
            matches!(
                err,
                SpApiError::Decode {
                    operation: "getReport",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.request_id(), Some("req-bad"));
        assert_eq!(err.retryability(), Retryability::Transient);
    }

    #[tokio::test]
    async fn get_reports_sends_filters_comma_separated_and_next_token_alone() {
        let mock = MockServer::start().await;
        mock.route("GET", REPORTS_PATH, |r, _| {
            let page_two = r.query_pairs().iter().any(|(k, _)| k == "nextToken");
            let report = serde_json::json!({
                "reportId": if page_two { "R2" } else { "R1" },
                "reportType": "GET_AFN_INVENTORY_DATA",
                "marketplaceIds": ["ATVPDKIKX0DER"],
                "createdTime": "2024-03-10T13:47:20Z",
                "processingStatus": "IN_QUEUE"
            });
            if page_two {
                Reply::json(200, serde_json::json!({"reports": [report]}))
            } else {
                Reply::json(
                    200,
                    serde_json::json!({"reports": [report], "nextToken": "VGhpcyB0b2tlbg=="}),
                )
            }
        });
        let client = client(&mock).await;
        let query = GetReportsQuery {
            report_types: vec![
                "FEE_DISCOUNTS_REPORT".into(),
                "GET_AFN_INVENTORY_DATA".into(),
            ],
            processing_statuses: vec![ProcessingStatus::InQueue, ProcessingStatus::InProgress],
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            page_size: Some(100),
            created_since: Some(datetime!(2026-11-01 00:00 UTC)),
            created_until: Some(datetime!(2026-11-02 12:30 +01:00)),
            next_token: None,
        };
        let first = client.reports().get_reports(&query).await.unwrap();
        assert_eq!(first.reports[0].report_id, "R1");
        assert_eq!(
            first.reports[0].processing_status,
            ProcessingStatus::InQueue
        );
        let token = first.next_token.clone().unwrap();
        let second = client
            .reports()
            .get_reports(&GetReportsQuery::next_page(token))
            .await
            .unwrap();
        assert_eq!(second.reports[0].report_id, "R2");
        assert_eq!(second.next_token, None);

        let requests = mock.requests("GET", REPORTS_PATH);
        let pairs = |i: usize| {
            requests[i]
                .query_pairs()
                .into_iter()
                .collect::<Vec<(String, String)>>()
        };
        let expected: Vec<(String, String)> = [
            ("reportTypes", "FEE_DISCOUNTS_REPORT,GET_AFN_INVENTORY_DATA"),
            ("processingStatuses", "IN_QUEUE,IN_PROGRESS"),
            ("marketplaceIds", "ATVPDKIKX0DER"),
            ("pageSize", "100"),
            ("createdSince", "2026-11-01T00:00:00Z"),
            ("createdUntil", "2026-11-02T12:30:00+01:00"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs(0), expected);
        assert_eq!(
            pairs(1),
            vec![("nextToken".to_string(), "VGhpcyB0b2tlbg==".to_string())]
        );
    }

    #[tokio::test]
    async fn undecodable_create_report_answer_is_permanent() {
        // The report may exist: re-running createReport would make a second one.
        let mock = MockServer::start().await;
        mock.route("POST", REPORTS_PATH, |_, _| {
            Reply::json(202, serde_json::json!({"id": "R1"}))
        });
        let client = client(&mock).await;
        let err = client
            .reports()
            .create_report(&CreateReportSpecification::new("T", ["M"]))
            .await
            .unwrap_err();
        assert!(matches!(err, SpApiError::Decode { .. }), "{err:?}");
        assert_eq!(err.retryability(), Retryability::Permanent);
    }

    #[tokio::test]
    async fn cancel_report_uses_delete() {
        let mock = MockServer::start().await;
        mock.route("DELETE", "/reports/2021-06-30/reports/R9", |_, _| {
            Reply::bytes(200, None, Vec::new())
        });
        let client = client(&mock).await;
        client.reports().cancel_report("R9").await.unwrap();
        assert_eq!(mock.calls("DELETE", "/reports/2021-06-30/reports/R9"), 1);
    }

    #[tokio::test]
    async fn get_report_document_decodes_compression_and_hides_the_url() {
        let mock = MockServer::start().await;
        let signed =
            "https://tortuga-prod-eu.s3.eu-west-1.amazonaws.com/doc?X-Amz-Signature=abc123";
        mock.route("GET", "/reports/2021-06-30/documents/DOC-1", move |_, _| {
            Reply::json(
                200,
                serde_json::json!({
                    "reportDocumentId": "DOC-1",
                    "url": signed,
                    "compressionAlgorithm": "GZIP"
                }),
            )
        });
        mock.route("GET", "/reports/2021-06-30/documents/DOC-2", |_, _| {
            Reply::json(
                200,
                serde_json::json!({"reportDocumentId": "DOC-2", "url": "https://example.com/plain"}),
            )
        });
        let client = client(&mock).await;
        let gz = client.reports().get_report_document("DOC-1").await.unwrap();
        assert_eq!(gz.compression_algorithm, Some(CompressionAlgorithm::Gzip));
        assert_eq!(gz.url.as_str(), signed);
        assert!(!format!("{gz:?}").contains("X-Amz-Signature"), "{gz:?}");
        let plain = client.reports().get_report_document("DOC-2").await.unwrap();
        assert_eq!(plain.compression_algorithm, None);
    }
}
