//! The simulator's JSON_LISTINGS_FEED validator against Amazon's schema.
//!
//! `schemas/feeds/listings-feed-schema-v2.json` (draft 7, message schema inlined) is run with
//! the jsonschema crate on a corpus written here: valid documents (Amazon's example file and
//! variants at the edges of each rule) and invalid ones (one per rule). The simulator's
//! validator must give the same verdict on every case. One rule is not expressible in the
//! schema: the messageId description says "unique within this feed submission"; the corpus
//! labels a duplicate invalid, and the schema side adds that check to its verdict.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use spsync_sim::{SimOptions, SimServer, listings_feed, sample};
use spsync_tests::{Request, SpApi, maybe_gunzip, read_json, schema_validator, spapi_data};

/// One corpus case: a name, a document, and whether Amazon's rules accept it.
struct Case {
    name: String,
    document: Value,
    valid: bool,
}

fn header() -> Value {
    json!({"sellerId": "A1SIMSELLER0001", "version": "2.0"})
}

fn doc(messages: Vec<Value>) -> Value {
    json!({"header": header(), "messages": messages})
}

fn patch() -> Value {
    json!({"op": "replace", "path": "/attributes/fulfillment_availability",
           "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 10}]})
}

fn update() -> Value {
    json!({"messageId": 1, "sku": "SKU-1", "operationType": "UPDATE", "productType": "LUGGAGE",
           "attributes": {"item_name": [{"value": "Bag", "marketplace_id": "ATVPDKIKX0DER"}]}})
}

fn partial() -> Value {
    json!({"messageId": 1, "sku": "SKU-1", "operationType": "PARTIAL_UPDATE",
           "productType": "LUGGAGE",
           "attributes": {"fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]}})
}

fn patch_msg() -> Value {
    json!({"messageId": 1, "sku": "SKU-1", "operationType": "PATCH", "productType": "LUGGAGE",
           "patches": [patch()]})
}

fn delete() -> Value {
    json!({"messageId": 1, "sku": "SKU-1", "operationType": "DELETE"})
}

/// `base` with `key` set to `value` (`Value::Null` removes it).
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut m = base.clone();
    if let Some(obj) = m.as_object_mut() {
        if value.is_null() {
            obj.remove(key);
        } else {
            obj.insert(key.to_string(), value);
        }
    }
    m
}

fn many(n: usize) -> Value {
    doc((1..=n)
        .map(|i| json!({"messageId": i, "sku": format!("SKU-{i}"), "operationType": "DELETE"}))
        .collect())
}

fn corpus(example: Value) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, document: Value, valid: bool| {
        cases.push(Case {
            name: name.to_string(),
            document,
            valid,
        })
    };

    // Valid.
    add("amazon example file", example, true);
    add("one UPDATE", doc(vec![update()]), true);
    add(
        "UPDATE with requirements",
        doc(vec![with(
            &update(),
            "requirements",
            json!("LISTING_OFFER_ONLY"),
        )]),
        true,
    );
    add("one PARTIAL_UPDATE", doc(vec![partial()]), true);
    add("one PATCH", doc(vec![patch_msg()]), true);
    for op in ["add", "merge", "delete"] {
        let p = with(&patch(), "op", json!(op));
        add(
            &format!("PATCH op {op}"),
            doc(vec![with(&patch_msg(), "patches", json!([p]))]),
            true,
        );
    }
    add(
        "PATCH delete without value",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([{"op": "delete", "path": "/attributes/x"}]),
        )]),
        true,
    );
    add(
        "PATCH value empty array",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([with(&patch(), "value", json!([]))]),
        )]),
        true,
    );
    add("one DELETE", doc(vec![delete()]), true);
    add(
        "messageId at maximum",
        doc(vec![with(&delete(), "messageId", json!(2_147_483_647u64))]),
        true,
    );
    add(
        "header with issueLocale",
        json!({"header": with(&header(), "issueLocale", json!("en_US")), "messages": [delete()]}),
        true,
    );
    add(
        "header with report",
        json!({"header": with(&header(), "report", json!({"includedData": ["issues", "offers"], "apiVersion": "2021-08-01"})),
               "messages": [delete()]}),
        true,
    );
    add(
        "unknown header member",
        json!({"header": with(&header(), "note", json!("x")), "messages": [delete()]}),
        true,
    );
    add(
        "unknown top-level member",
        with(&doc(vec![delete()]), "comment", json!("x")),
        true,
    );
    add(
        "mixed operations, distinct ids",
        doc(vec![
            update(),
            with(&partial(), "messageId", json!(2)),
            with(&patch_msg(), "messageId", json!(3)),
            with(&delete(), "messageId", json!(4)),
        ]),
        true,
    );
    add("25,000 messages", many(25_000), true);

    // Invalid: document and header.
    add("not an object", json!([delete()]), false);
    add("missing header", json!({"messages": [delete()]}), false);
    add(
        "header not an object",
        json!({"header": "h", "messages": [delete()]}),
        false,
    );
    add(
        "missing sellerId",
        json!({"header": {"version": "2.0"}, "messages": [delete()]}),
        false,
    );
    add(
        "missing version",
        json!({"header": {"sellerId": "A"}, "messages": [delete()]}),
        false,
    );
    add(
        "bad version",
        json!({"header": with(&header(), "version", json!("1.0")), "messages": [delete()]}),
        false,
    );
    add(
        "numeric version",
        json!({"header": with(&header(), "version", json!(2.0)), "messages": [delete()]}),
        false,
    );
    add(
        "report without apiVersion",
        json!({"header": with(&header(), "report", json!({"includedData": ["issues"]})), "messages": [delete()]}),
        false,
    );
    add(
        "report with empty includedData",
        json!({"header": with(&header(), "report", json!({"includedData": [], "apiVersion": "2021-08-01"})), "messages": [delete()]}),
        false,
    );
    add(
        "report with unknown includedData",
        json!({"header": with(&header(), "report", json!({"includedData": ["prices"], "apiVersion": "2021-08-01"})), "messages": [delete()]}),
        false,
    );
    add(
        "report with bad apiVersion",
        json!({"header": with(&header(), "report", json!({"includedData": ["issues"], "apiVersion": "2020-09-01"})), "messages": [delete()]}),
        false,
    );
    add("missing messages", json!({"header": header()}), false);
    add("empty messages", doc(vec![]), false);
    add(
        "messages not an array",
        json!({"header": header(), "messages": delete()}),
        false,
    );
    add("25,001 messages", many(25_001), false);

    // Invalid: message fields.
    add("message not an object", doc(vec![json!("m")]), false);
    add(
        "messageId 0",
        doc(vec![with(&delete(), "messageId", json!(0))]),
        false,
    );
    add(
        "messageId negative",
        doc(vec![with(&delete(), "messageId", json!(-1))]),
        false,
    );
    add(
        "messageId too large",
        doc(vec![with(&delete(), "messageId", json!(2_147_483_648u64))]),
        false,
    );
    add(
        "messageId as string",
        doc(vec![with(&delete(), "messageId", json!("1"))]),
        false,
    );
    add(
        "messageId fractional",
        doc(vec![with(&delete(), "messageId", json!(1.5))]),
        false,
    );
    add(
        "missing messageId",
        doc(vec![with(&delete(), "messageId", Value::Null)]),
        false,
    );
    add(
        "duplicate messageId",
        doc(vec![delete(), with(&delete(), "sku", json!("SKU-2"))]),
        false,
    );
    add(
        "missing sku",
        doc(vec![with(&delete(), "sku", Value::Null)]),
        false,
    );
    add(
        "empty sku",
        doc(vec![with(&delete(), "sku", json!(""))]),
        false,
    );
    add(
        "numeric sku",
        doc(vec![with(&delete(), "sku", json!(7))]),
        false,
    );
    add(
        "missing operationType",
        doc(vec![with(&delete(), "operationType", Value::Null)]),
        false,
    );
    add(
        "bad operationType",
        doc(vec![with(&delete(), "operationType", json!("CREATE"))]),
        false,
    );
    add(
        "lower-case operationType",
        doc(vec![with(&delete(), "operationType", json!("delete"))]),
        false,
    );
    add(
        "empty productType",
        doc(vec![with(&update(), "productType", json!(""))]),
        false,
    );
    add(
        "bad requirements",
        doc(vec![with(&update(), "requirements", json!("OFFER"))]),
        false,
    );
    add(
        "empty attributes",
        doc(vec![with(&update(), "attributes", json!({}))]),
        false,
    );
    add(
        "attributes not an object",
        doc(vec![with(&update(), "attributes", json!([1]))]),
        false,
    );

    // Invalid: oneOf per operationType.
    add(
        "UPDATE without productType",
        doc(vec![with(&update(), "productType", Value::Null)]),
        false,
    );
    add(
        "UPDATE without attributes",
        doc(vec![with(&update(), "attributes", Value::Null)]),
        false,
    );
    add(
        "UPDATE with patches",
        doc(vec![with(&update(), "patches", json!([patch()]))]),
        false,
    );
    add(
        "PARTIAL_UPDATE without productType",
        doc(vec![with(&partial(), "productType", Value::Null)]),
        false,
    );
    add(
        "PARTIAL_UPDATE without attributes",
        doc(vec![with(&partial(), "attributes", Value::Null)]),
        false,
    );
    add(
        "PARTIAL_UPDATE with requirements",
        doc(vec![with(&partial(), "requirements", json!("LISTING"))]),
        false,
    );
    add(
        "PARTIAL_UPDATE with patches",
        doc(vec![with(&partial(), "patches", json!([patch()]))]),
        false,
    );
    add(
        "PATCH without productType",
        doc(vec![with(&patch_msg(), "productType", Value::Null)]),
        false,
    );
    add(
        "PATCH without patches",
        doc(vec![with(&patch_msg(), "patches", Value::Null)]),
        false,
    );
    add(
        "PATCH with attributes",
        doc(vec![with(&patch_msg(), "attributes", json!({"a": 1}))]),
        false,
    );
    add(
        "PATCH with requirements",
        doc(vec![with(&patch_msg(), "requirements", json!("LISTING"))]),
        false,
    );
    add(
        "DELETE with productType",
        doc(vec![with(&delete(), "productType", json!("LUGGAGE"))]),
        false,
    );
    add(
        "DELETE with attributes",
        doc(vec![with(&delete(), "attributes", json!({"a": 1}))]),
        false,
    );
    add(
        "DELETE with patches",
        doc(vec![with(&delete(), "patches", json!([patch()]))]),
        false,
    );
    add(
        "DELETE with requirements",
        doc(vec![with(&delete(), "requirements", json!("LISTING"))]),
        false,
    );

    // Invalid: patches.
    add(
        "empty patches",
        doc(vec![with(&patch_msg(), "patches", json!([]))]),
        false,
    );
    add(
        "patches not an array",
        doc(vec![with(&patch_msg(), "patches", patch())]),
        false,
    );
    add(
        "patch value not an array",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([with(&patch(), "value", json!({"quantity": 1}))]),
        )]),
        false,
    );
    add(
        "patch value of non-objects",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([with(&patch(), "value", json!([1]))]),
        )]),
        false,
    );
    add(
        "patch bad op",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([with(&patch(), "op", json!("remove"))]),
        )]),
        false,
    );
    add(
        "patch without op",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([with(&patch(), "op", Value::Null)]),
        )]),
        false,
    );
    add(
        "patch without path",
        doc(vec![with(
            &patch_msg(),
            "patches",
            json!([with(&patch(), "path", Value::Null)]),
        )]),
        false,
    );
    add(
        "patch not an object",
        doc(vec![with(&patch_msg(), "patches", json!(["replace"]))]),
        false,
    );
    cases
}

/// The one rule the schema states only in prose: messageIds are unique within a feed.
fn message_ids_unique(document: &Value) -> bool {
    let mut seen = HashSet::new();
    document["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("messageId"))
        .all(|id| seen.insert(id.to_string()))
}

fn load(data: &std::path::Path) -> Result<(jsonschema::Validator, Vec<Case>)> {
    let feeds = data.join("schemas/feeds");
    let validator = schema_validator(&feeds.join("listings-feed-schema-v2.json"))?;
    let example = read_json(&feeds.join("listings-feed-schema-v2.example.json"))?;
    Ok((validator, corpus(example)))
}

#[test]
fn amazons_listings_feed_schema_agrees_with_the_corpus_labels() -> Result<()> {
    let Some(data) = spapi_data() else {
        return Ok(());
    };
    let (validator, cases) = load(&data)?;

    let wrong: Vec<&str> = cases
        .iter()
        .filter(|c| (validator.is_valid(&c.document) && message_ids_unique(&c.document)) != c.valid)
        .map(|c| c.name.as_str())
        .collect();

    println!(
        "listings feed schema: {} corpus cases labelled",
        cases.len()
    );
    assert!(
        wrong.is_empty(),
        "schema and corpus label disagree on: {wrong:?}"
    );
    Ok(())
}

#[test]
fn simulator_listings_feed_validator_agrees_with_amazons_schema_on_every_case() -> Result<()> {
    let Some(data) = spapi_data() else {
        return Ok(());
    };
    let (validator, cases) = load(&data)?;
    let message_schema =
        schema_validator(&data.join("schemas/feeds/listings-feed-message-schema-v2.json"))?;

    let mut disagreements = Vec::new();
    let mut messages_checked = 0;
    for case in &cases {
        let schema = validator.is_valid(&case.document);
        let sim = listings_feed::document_is_valid(&case.document);
        if schema != sim {
            disagreements.push(format!("{}: schema {schema}, simulator {sim}", case.name));
        }
        // Every rule, the prose one included, against the corpus label.
        let sim_all = listings_feed::validate_document(&case.document).is_empty();
        if sim_all != case.valid {
            disagreements.push(format!(
                "{}: all rules: label {}, simulator {sim_all}",
                case.name, case.valid
            ));
        }
        // Each message on its own against the standalone message schema (no messageId
        // maximum there). The 25,000-message documents repeat one shape: check 50.
        let messages = case.document["messages"].as_array();
        for m in messages.into_iter().flatten().take(50) {
            messages_checked += 1;
            let schema = message_schema.is_valid(m);
            let sim = listings_feed::message_is_valid(m);
            if schema != sim {
                disagreements.push(format!(
                    "{} / message {m}: message schema {schema}, simulator {sim}",
                    case.name
                ));
            }
        }
    }

    println!(
        "listings feed schema: {} documents and {messages_checked} messages compared",
        cases.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    Ok(())
}

/// Feeds whose processing reports are validated: one per kind of outcome.
fn report_feeds(seller_id: &str, example: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let mut own_example = example.clone();
    own_example["header"]["sellerId"] = json!(seller_id);
    let mut with_bad_message = own_example.clone();
    with_bad_message["messages"][0]["sku"] = json!("");
    with_bad_message["messages"][1]["messageId"] = json!(1);
    vec![
        (
            "example with the seller's id",
            own_example.to_string().into_bytes(),
        ),
        (
            "example as published (foreign sellerId)",
            example.to_string().into_bytes(),
        ),
        (
            "bad and duplicate messages",
            with_bad_message.to_string().into_bytes(),
        ),
        (
            "missing header",
            json!({"messages": [delete()]}).to_string().into_bytes(),
        ),
        ("not JSON", b"{\"header\": ".to_vec()),
    ]
}

#[tokio::test]
async fn listings_feed_processing_reports_match_amazons_report_schema() -> Result<()> {
    let Some(data) = spapi_data() else {
        return Ok(());
    };
    let feeds = data.join("schemas/feeds");
    let report_schema =
        schema_validator(&feeds.join("listings-feed-processing-report-schema-v2.json"))?;
    let example = read_json(&feeds.join("listings-feed-schema-v2.example.json"))?;
    let mut scenario = sample::scenario();
    scenario.clock.start = Some(time::macros::datetime!(2026-11-20 10:00 UTC));
    scenario.clock.speed = 0.0;
    let seller = scenario.sellers[0].clone();
    let server = SimServer::start_on_free_port(SimOptions::new(scenario)).await?;
    let api = SpApi::login(&server, &seller).await?;

    let mut failures = Vec::new();
    let direct = listings_feed::fatal_report(&seller.seller_id, "1234", "4002001", "cannot parse");
    let direct: Value = serde_json::from_slice(&direct)?;
    if !report_schema.is_valid(&direct) {
        failures.push(format!("fatal_report: {direct}"));
    }
    let cases = report_feeds(&seller.seller_id, &example);
    for (name, bytes) in &cases {
        let report = submit_and_fetch_report(&server, &api, bytes.clone()).await?;
        let errors: Vec<String> = report_schema
            .iter_errors(&report)
            .map(|e| e.to_string())
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{name}: {errors:?}\n{report}"));
        }
    }

    println!(
        "listings feed processing reports: {} validated",
        cases.len() + 1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

async fn submit_and_fetch_report(server: &SimServer, api: &SpApi, bytes: Vec<u8>) -> Result<Value> {
    let content_type = "application/json; charset=UTF-8";
    let doc = api
        .send(
            &Request::new("POST", "/feeds/2021-06-30/documents")
                .body(json!({"contentType": content_type})),
        )
        .await?;
    let upload = api
        .upload(&doc.str_field("/url")?, content_type, bytes)
        .await?;
    anyhow::ensure!(
        (200..300).contains(&upload.status),
        "upload: {}",
        upload.text()
    );
    let feed = api
        .send(
            &Request::new("POST", "/feeds/2021-06-30/feeds").body(json!({
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": ["ATVPDKIKX0DER"],
                "inputFeedDocumentId": doc.str_field("/feedDocumentId")?
            })),
        )
        .await?;
    let feed_id = feed.str_field("/feedId")?;
    for _ in 0..60 {
        server.sim().advance_clock(Duration::from_secs(60));
        let state = api
            .send(&Request::new(
                "GET",
                format!("/feeds/2021-06-30/feeds/{feed_id}"),
            ))
            .await?;
        match state.str_field("/processingStatus")?.as_str() {
            "IN_QUEUE" | "IN_PROGRESS" => continue,
            _ => {
                let result = state.str_field("/resultFeedDocumentId")?;
                let document = api
                    .send(&Request::new(
                        "GET",
                        format!("/feeds/2021-06-30/documents/{result}"),
                    ))
                    .await?;
                let bytes = api.download(&document.str_field("/url")?).await?.body;
                return Ok(serde_json::from_slice(&maybe_gunzip(&bytes)?)?);
            }
        }
    }
    anyhow::bail!("feed {feed_id} never finished")
}
