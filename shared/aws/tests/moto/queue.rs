//! SqsStepQueue: routing by step, delays, clamping, unknown queues.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use spsync_aws::{QueueUrls, SqsStepQueue};
use spsync_domain::{JobId, MarketplaceId, SellerId};
use spsync_workflow::{JobKey, Step, StepMessage, StepQueue};

use super::support::{clients, stack};

fn job() -> JobKey {
    JobKey {
        seller_id: SellerId::new("A1"),
        marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
        job_id: JobId::new("20261120T100000Z-00000001"),
    }
}

fn import() -> StepMessage {
    StepMessage::new(Step::ImportReport { job: job() })
}

fn poll() -> StepMessage {
    StepMessage::new(Step::PollReport { job: job() })
}

/// Bodies of the messages visible now (one short receive, no long polling).
async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect()
}

/// PollReportQueue's and ImportReportQueue's URLs in a fresh stack.
async fn queues(clients: &spsync_aws::AwsClients) -> (String, String) {
    let stack = stack(clients).await;
    let url = |id: &str| stack.queue(id).unwrap().url.clone();
    (url("PollReportQueue"), url("ImportReportQueue"))
}

async fn delayed_count(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap();
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessagesDelayed))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn each_step_goes_to_its_own_queue() {
    let clients = clients().await;
    let (poll_url, import_url) = queues(&clients).await;
    let urls = QueueUrls {
        poll_report: Some(poll_url.clone()),
        import_report: Some(import_url.clone()),
        enrich_orders: None,
        ..QueueUrls::default()
    };
    let queue = SqsStepQueue::new(clients.sqs.clone(), urls);

    queue.send(&import(), Duration::ZERO).await.unwrap();

    let bodies = visible(&clients.sqs, &import_url).await;
    assert_eq!(bodies.len(), 1);
    assert_eq!(StepMessage::from_json(&bodies[0]).unwrap(), import());
    assert!(visible(&clients.sqs, &poll_url).await.is_empty());
}

#[tokio::test]
async fn a_delayed_step_is_invisible_until_its_delay_has_passed() {
    let clients = clients().await;
    let (url, _) = queues(&clients).await;
    let queue = SqsStepQueue::new(
        clients.sqs.clone(),
        QueueUrls {
            poll_report: Some(url.clone()),
            ..QueueUrls::default()
        },
    );
    let sent = Instant::now();

    queue.send(&poll(), Duration::from_secs(1)).await.unwrap();

    assert!(
        visible(&clients.sqs, &url).await.is_empty(),
        "visible before its delay"
    );
    // SQS's own long poll does the waiting: it returns as soon as the message shows.
    let out = clients
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.messages().len(),
        1,
        "the message showed after its delay"
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "{:?}",
        sent.elapsed()
    );
}

#[tokio::test]
async fn a_delay_beyond_fifteen_minutes_is_sent_clamped() {
    let clients = clients().await;
    let (url, _) = queues(&clients).await;
    let queue = SqsStepQueue::new(
        clients.sqs.clone(),
        QueueUrls {
            poll_report: Some(url.clone()),
            ..QueueUrls::default()
        },
    );

    // SQS refuses DelaySeconds above 900: this succeeds only because the adapter clamps.
    queue
        .send(&poll(), Duration::from_secs(2 * 3600))
        .await
        .unwrap();

    assert!(visible(&clients.sqs, &url).await.is_empty());
    assert_eq!(delayed_count(&clients.sqs, &url).await, 1);
}

#[tokio::test]
async fn sqs_itself_refuses_an_unclamped_delay() {
    // The reason for the clamp, checked on the server the adapter tests run against.
    let clients = clients().await;
    let (url, _) = queues(&clients).await;

    let result = clients
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("{}")
        .delay_seconds(901)
        .send()
        .await;

    assert!(result.is_err());
}

#[tokio::test]
async fn a_step_for_a_queue_not_configured_is_a_permanent_error() {
    let clients = clients().await;
    let (url, _) = queues(&clients).await;
    let queue = SqsStepQueue::new(
        clients.sqs.clone(),
        QueueUrls {
            poll_report: Some(url.clone()),
            ..QueueUrls::default()
        },
    );

    let err = queue.send(&import(), Duration::ZERO).await.unwrap_err();

    assert!(!err.retryable);
    assert!(
        err.source.to_string().contains("ImportReportQueue"),
        "{}",
        err.source
    );
    assert!(visible(&clients.sqs, &url).await.is_empty());
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_not_retryable() {
    let clients = clients().await;
    let missing = format!(
        "{}/123456789012/spsync-no-such-queue",
        super::support::endpoint()
    );
    let queue = SqsStepQueue::new(
        clients.sqs,
        QueueUrls {
            poll_report: Some(missing),
            ..QueueUrls::default()
        },
    );

    let err = queue.send(&poll(), Duration::ZERO).await.unwrap_err();

    assert!(!err.retryable, "{err:?}");
}
