//! Every operation the simulator serves, driven through whole flows on the built-in sample,
//! with every response body validated against the response definition of Amazon's model
//! (success bodies and ErrorList bodies alike).

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};
use spsync_sim::faults::FaultRule;
use spsync_sim::sim::format_datetime;
use spsync_sim::{SimServer, sample};
use spsync_tests::{Answer, ModelBook, Request, SpApi, maybe_gunzip, schema_validator, spapi_data};

/// Sends requests and validates each answer against the model, counting them.
struct Checked<'a> {
    api: SpApi,
    models: &'a ModelBook,
    validated: usize,
}

impl Checked<'_> {
    /// Sends, expects `status`, validates the body against `operation`'s model response.
    async fn call(&mut self, operation: &str, status: u16, request: Request) -> Result<Answer> {
        let answer = self.api.send(&request).await?;
        if answer.status != status {
            bail!(
                "{operation} {} {}: expected {status}, got {} {}",
                request.method,
                request.path,
                answer.status,
                answer.text()
            );
        }
        self.models.check(operation, &answer)?;
        if status >= 400 && !answer.is_error_list() {
            bail!("{operation} {status}: not an ErrorList: {}", answer.text());
        }
        self.validated += 1;
        Ok(answer)
    }
}

const US: &str = "ATVPDKIKX0DER";
const ORDERS_REPORT: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";

/// A listings feed for the sample seller: one message per operation type.
fn listings_feed(seller_id: &str) -> Value {
    json!({
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {"messageId": 1, "sku": "CONTRACT-PATCH", "operationType": "PATCH",
             "productType": "PRODUCT",
             "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                          "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]}]},
            {"messageId": 2, "sku": "CONTRACT-UPDATE", "operationType": "UPDATE",
             "productType": "PRODUCT",
             "attributes": {"item_name": [{"value": "Mug", "marketplace_id": US}]}},
            {"messageId": 3, "sku": "CONTRACT-DELETE", "operationType": "DELETE"}
        ]
    })
}

async fn report_flow(c: &mut Checked<'_>, server: &SimServer) -> Result<()> {
    // The All Orders report over the orders the orders flow seeded: it has data whatever
    // else the sample holds, so it ends DONE (Amazon cancels reports without data).
    let create = Request::new("POST", "/reports/2021-06-30/reports").body(json!({
        "reportType": ORDERS_REPORT,
        "marketplaceIds": [US]
    }));
    let report_id = c
        .call("createReport", 202, create.clone())
        .await?
        .str_field("/reportId")?;
    let get = Request::new("GET", format!("/reports/2021-06-30/reports/{report_id}"));
    let mut document_id = None;
    for _ in 0..30 {
        let report = c.call("getReport", 200, get.clone()).await?;
        match report.str_field("/processingStatus")?.as_str() {
            "DONE" => {
                document_id = Some(report.str_field("/reportDocumentId")?);
                break;
            }
            "IN_QUEUE" | "IN_PROGRESS" => {}
            other => bail!("report ended {other}: {}", report.text()),
        }
        server.sim().advance_clock(Duration::from_secs(60));
    }
    let document_id = document_id.ok_or_else(|| anyhow!("report never reached DONE"))?;
    let document_path = format!("/reports/2021-06-30/documents/{document_id}");
    let document = c
        .call(
            "getReportDocument",
            200,
            Request::new("GET", &document_path),
        )
        .await?;
    c.call(
        "getReportDocument",
        200,
        Request::new("GET", &document_path).query("enableContentEncodingUrlHeader", "true"),
    )
    .await?;
    let downloaded = c.api.download(&document.str_field("/url")?).await?;
    if downloaded.status != 200 || maybe_gunzip(&downloaded.body)?.is_empty() {
        bail!(
            "report download: {} ({} bytes)",
            downloaded.status,
            downloaded.body.len()
        );
    }

    // Two more reports, then getReports one per page, following nextToken alone.
    for _ in 0..2 {
        c.call("createReport", 202, create.clone()).await?;
    }
    let mut page = c
        .call(
            "getReports",
            200,
            Request::new("GET", "/reports/2021-06-30/reports")
                .query("reportTypes", ORDERS_REPORT)
                .query("pageSize", "1"),
        )
        .await?;
    let mut pages = 1;
    while let Ok(token) = page.str_field("/nextToken") {
        page = c
            .call(
                "getReports",
                200,
                Request::new("GET", "/reports/2021-06-30/reports").query("nextToken", token),
            )
            .await?;
        pages += 1;
        if pages > 20 {
            bail!("getReports pagination does not end");
        }
    }
    if pages < 3 {
        bail!("getReports gave {pages} pages of 1 for 3 reports");
    }

    // cancelReport on a report still IN_QUEUE.
    let queued = c
        .call("createReport", 202, create)
        .await?
        .str_field("/reportId")?;
    c.call(
        "cancelReport",
        200,
        Request::new("DELETE", format!("/reports/2021-06-30/reports/{queued}")),
    )
    .await?;
    Ok(())
}

async fn feed_flow(
    c: &mut Checked<'_>,
    server: &SimServer,
    data: &std::path::Path,
    seller_id: &str,
) -> Result<()> {
    let content_type = "application/json; charset=UTF-8";
    let doc = c
        .call(
            "createFeedDocument",
            201,
            Request::new("POST", "/feeds/2021-06-30/documents")
                .body(json!({ "contentType": content_type })),
        )
        .await?;
    let input_id = doc.str_field("/feedDocumentId")?;
    let uploaded = c
        .api
        .upload(
            &doc.str_field("/url")?,
            content_type,
            listings_feed(seller_id).to_string().into_bytes(),
        )
        .await?;
    if !(200..300).contains(&uploaded.status) {
        bail!("upload: {} {}", uploaded.status, uploaded.text());
    }
    let feed_id = c
        .call(
            "createFeed",
            202,
            Request::new("POST", "/feeds/2021-06-30/feeds").body(json!({
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [US],
                "inputFeedDocumentId": input_id
            })),
        )
        .await?
        .str_field("/feedId")?;
    let get = Request::new("GET", format!("/feeds/2021-06-30/feeds/{feed_id}"));
    let mut result_id = None;
    for _ in 0..30 {
        let feed = c.call("getFeed", 200, get.clone()).await?;
        match feed.str_field("/processingStatus")?.as_str() {
            "DONE" => {
                result_id = Some(feed.str_field("/resultFeedDocumentId")?);
                break;
            }
            "IN_QUEUE" | "IN_PROGRESS" => {}
            other => bail!("feed ended {other}: {}", feed.text()),
        }
        server.sim().advance_clock(Duration::from_secs(60));
    }
    let result_id = result_id.ok_or_else(|| anyhow!("feed never reached DONE"))?;
    c.call(
        "getFeeds",
        200,
        Request::new("GET", "/feeds/2021-06-30/feeds")
            .query("feedTypes", "JSON_LISTINGS_FEED")
            .query("processingStatuses", "DONE,IN_QUEUE"),
    )
    .await?;
    let result = c
        .call(
            "getFeedDocument",
            200,
            Request::new("GET", format!("/feeds/2021-06-30/documents/{result_id}")),
        )
        .await?;
    let downloaded = c.api.download(&result.str_field("/url")?).await?;
    if downloaded.status != 200 {
        bail!(
            "result download: {} {}",
            downloaded.status,
            downloaded.text()
        );
    }
    let report: Value = serde_json::from_slice(&maybe_gunzip(&downloaded.body)?)?;
    let validator = schema_validator(
        &data.join("schemas/feeds/listings-feed-processing-report-schema-v2.json"),
    )?;
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    if !errors.is_empty() {
        bail!("processing report does not match its schema: {errors:?}\n{report}");
    }
    if report["header"]["feedId"] != json!(feed_id) {
        bail!(
            "processing report names feed {} not {feed_id}",
            report["header"]["feedId"]
        );
    }

    // cancelFeed on a feed still IN_QUEUE (a fresh document, a fresh feed).
    let doc = c
        .call(
            "createFeedDocument",
            201,
            Request::new("POST", "/feeds/2021-06-30/documents")
                .body(json!({ "contentType": content_type })),
        )
        .await?;
    c.api
        .upload(
            &doc.str_field("/url")?,
            content_type,
            listings_feed(seller_id).to_string().into_bytes(),
        )
        .await?;
    let queued = c
        .call(
            "createFeed",
            202,
            Request::new("POST", "/feeds/2021-06-30/feeds").body(json!({
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [US],
                "inputFeedDocumentId": doc.str_field("/feedDocumentId")?
            })),
        )
        .await?
        .str_field("/feedId")?;
    c.call(
        "cancelFeed",
        200,
        Request::new("DELETE", format!("/feeds/2021-06-30/feeds/{queued}")),
    )
    .await?;
    Ok(())
}

/// A v2026-01-01 order for the sample seller, created `hours_ago` before `now`, written from
/// the facts sheet's required fields (orderId, createdTime, lastUpdatedTime, salesChannel,
/// orderItems) plus a fulfillment status.
fn order(n: usize, now: time::OffsetDateTime, hours_ago: i64) -> Value {
    let created = format_datetime(now - time::Duration::hours(hours_ago));
    json!({
        "orderId": format!("113-0000000-{:07}", 4200 + n),
        "createdTime": created,
        "lastUpdatedTime": created,
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": US, "marketplaceName": "Amazon.com"},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "orderItems": [{
            "orderItemId": format!("{:014}", 70000 + n),
            "quantityOrdered": 1,
            "product": {"asin": "B000000001", "sellerSku": "SKU-1", "title": "Mug"}
        }]
    })
}

async fn orders_flow(c: &mut Checked<'_>, server: &SimServer, seller_id: &str) -> Result<()> {
    let now = server.sim().clock.now();
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = server
            .sim()
            .upsert_order(seller_id, order(n, now, 2 + n as i64))
            .map_err(|e| anyhow!("upsert_order: {e}"))?;
        ids.push(id);
    }
    let search = |token: Option<&str>| {
        let mut r = Request::new("GET", "/orders/2026-01-01/orders")
            .query(
                "createdAfter",
                format_datetime(now - time::Duration::days(2)),
            )
            .query("marketplaceIds", US)
            .query("maxResultsPerPage", "2")
            .query(
                "includedData",
                "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES",
            );
        if let Some(t) = token {
            r = r.query("paginationToken", t);
        }
        r
    };
    let mut page = c.call("searchOrders", 200, search(None)).await?;
    let mut seen = page
        .json
        .as_ref()
        .map_or(0, |j| j["orders"].as_array().map_or(0, Vec::len));
    let mut pages = 1;
    while let Ok(token) = page.str_field("/pagination/nextToken") {
        page = c.call("searchOrders", 200, search(Some(&token))).await?;
        seen += page
            .json
            .as_ref()
            .map_or(0, |j| j["orders"].as_array().map_or(0, Vec::len));
        pages += 1;
        if pages > 50 {
            bail!("searchOrders pagination does not end");
        }
    }
    if pages < 3 || seen < ids.len() {
        bail!("searchOrders: {seen} orders in {pages} pages of 2, expected at least 5 in 3");
    }
    c.call(
        "getOrder",
        200,
        Request::new("GET", format!("/orders/2026-01-01/orders/{}", ids[0]))
            .query("includedData", "BUYER,RECIPIENT,FULFILLMENT"),
    )
    .await?;
    Ok(())
}

async fn error_flow(c: &mut Checked<'_>, server: &SimServer) -> Result<()> {
    // 403: a token the simulator never issued.
    let forged = c.api.with_token("Atza|never-issued");
    let answer = forged
        .send(
            &Request::new("GET", "/reports/2021-06-30/reports")
                .query("reportTypes", "GET_MERCHANT_LISTINGS_ALL_DATA"),
        )
        .await?;
    if answer.status != 403 {
        bail!(
            "forged token: expected 403, got {} {}",
            answer.status,
            answer.text()
        );
    }
    c.models.check("getReports", &answer)?;
    c.validated += 1;

    // 404: a well-formed order id the seller does not have.
    c.call(
        "getOrder",
        404,
        Request::new("GET", "/orders/2026-01-01/orders/999-9999999-9999999"),
    )
    .await?;

    // 429: one throttled getReport, injected.
    server.sim().add_fault(FaultRule {
        operation: Some("getReports".into()),
        throttle_ratio: 1.0,
        remaining: Some(1),
        ..FaultRule::default()
    });
    c.call(
        "getReports",
        429,
        Request::new("GET", "/reports/2021-06-30/reports")
            .query("reportTypes", "GET_MERCHANT_LISTINGS_ALL_DATA"),
    )
    .await?;

    // 400: malformed inputs, one per API.
    c.call(
        "searchOrders",
        400,
        Request::new("GET", "/orders/2026-01-01/orders").query("createdAfter", "yesterday"),
    )
    .await?;
    c.call(
        "createReport",
        400,
        Request::new("POST", "/reports/2021-06-30/reports")
            .body(json!({"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA"})),
    )
    .await?;
    c.call(
        "createFeedDocument",
        400,
        Request::new("POST", "/feeds/2021-06-30/documents").body(json!({})),
    )
    .await?;
    c.call(
        "createRestrictedDataToken",
        400,
        Request::new("POST", "/tokens/2021-03-01/restrictedDataToken")
            .body(json!({"restrictedResources": []})),
    )
    .await?;
    c.call(
        "createRestrictedDataToken",
        200,
        Request::new("POST", "/tokens/2021-03-01/restrictedDataToken").body(json!({
            "restrictedResources": [{"method": "GET", "path": "/orders/2026-01-01/orders"}]
        })),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn every_operation_on_the_sample_answers_in_the_models_shape() -> Result<()> {
    let Some(data) = spapi_data() else {
        return Ok(());
    };
    let models = ModelBook::load(&data.join("models"))?;
    let server = SimServer::start_sample().await?;
    let seller = sample::scenario().sellers[0].clone();
    let mut c = Checked {
        api: SpApi::login(&server, &seller).await?,
        models: &models,
        validated: 0,
    };

    orders_flow(&mut c, &server, &seller.seller_id).await?;
    report_flow(&mut c, &server).await?;
    feed_flow(&mut c, &server, &data, &seller.seller_id).await?;
    error_flow(&mut c, &server).await?;

    println!("model sweep: {} response bodies validated", c.validated);
    Ok(())
}

#[tokio::test]
async fn model_validators_reject_bodies_that_break_the_model() -> Result<()> {
    let Some(data) = spapi_data() else {
        return Ok(());
    };
    let models = ModelBook::load(&data.join("models"))?;
    let report = models.validator_for("getReport", 200)?;
    let errors = models.validator_for("getReport", 404)?;
    let good = json!({"reportId": "1", "reportType": "T", "createdTime": "2026-11-20T10:00:00Z",
                      "processingStatus": "DONE"});

    assert!(report.is_valid(&good));
    assert!(
        !report.is_valid(&json!({"reportId": "1"})),
        "required members are enforced"
    );
    let mut bad_status = good.clone();
    bad_status["processingStatus"] = json!("FINISHED");
    assert!(!report.is_valid(&bad_status), "enums are enforced");
    let mut bad_time = good.clone();
    bad_time["createdTime"] = json!("20/11/2026");
    assert!(
        !report.is_valid(&bad_time),
        "date-time formats are enforced"
    );
    assert!(errors.is_valid(&json!({"errors": [{"code": "NotFound", "message": "m"}]})));
    assert!(!errors.is_valid(&json!({"errors": [{"code": "NotFound"}]})));
    assert!(models.validator_for("getReport", 299).is_err());
    Ok(())
}
