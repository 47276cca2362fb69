//! An SQS event source mapping, as Lambda's poller runs it, on moto and simulated time.
//!
//! Receive up to `BatchSize` messages (≤ 10), hand them to the function as an `SqsEvent`
//! (message id, receipt handle, body, attributes incl. `ApproximateReceiveCount`,
//! `eventSourceARN`), delete what succeeded, and leave what failed on the queue. A failed
//! message must come back after the queue's visibility timeout of *simulated* time, and its
//! receive count must keep growing so that moto itself redrives it to the dead-letter queue
//! after `maxReceiveCount`, as SQS does. moto runs visibility on the wall clock, so messages
//! are received with a visibility far longer than any run ([`HOLD_VISIBILITY`]) and the
//! runner's [`RetryLedger`] makes a failed one visible again (`ChangeMessageVisibility 0`)
//! once simulated time has passed the queue's `VisibilityTimeout`.

use std::collections::HashSet;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use time::OffsetDateTime;

use crate::error::{RunnerError, aws_error};

/// Wall-clock visibility given to every received message: the runner decides in simulated
/// time when a failed one comes back, so moto must never do it on its own during a run.
/// (SQS caps a message's total visibility at 12 hours.)
pub const HOLD_VISIBILITY: Duration = Duration::from_secs(10 * 3600);

/// Lambda never asks SQS for more than 10 messages in one ReceiveMessage.
pub const MAX_RECEIVE: u32 = 10;

/// One SQS event source of a function, resolved against the provisioned stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSource {
    /// The function it triggers (binary name).
    pub function: String,
    /// Queue URL.
    pub queue_url: String,
    /// Queue ARN (`eventSourceARN` of each record).
    pub queue_arn: String,
    /// Messages per invocation (`BatchSize`).
    pub batch_size: u32,
    /// Whether the function reports partial batch failures (`ReportBatchItemFailures`);
    /// without it, any failure fails the whole batch, as in Lambda.
    pub report_batch_item_failures: bool,
    /// The queue's `VisibilityTimeout`, in simulated time.
    pub visibility_timeout: Duration,
    /// AWS region written into the records.
    pub region: String,
}

/// Receives the next batch for `source` (short poll; may be empty).
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    source: &SqsSource,
) -> Result<Vec<Message>, RunnerError> {
    let out = sqs
        .receive_message()
        .queue_url(&source.queue_url)
        .max_number_of_messages(source.batch_size.clamp(1, MAX_RECEIVE) as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .visibility_timeout(HOLD_VISIBILITY.as_secs() as i32)
        .wait_time_seconds(0)
        .send()
        .await
        .map_err(|e| aws_error("ReceiveMessage", e))?;
    Ok(out.messages.unwrap_or_default())
}

/// The event Lambda would hand the function for these messages.
pub fn lambda_event(messages: &[Message], source: &SqsSource) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.md5_of_message_attributes = m.md5_of_message_attributes.clone();
            record.attributes = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect();
            record.event_source_arn = Some(source.queue_arn.clone());
            record.event_source = Some("aws:sqs".to_owned());
            record.aws_region = Some(source.region.clone());
            record
        })
        .collect();
    event
}

/// Which records of a batch failed, from the handler's answer, as Lambda reads it: an error
/// fails every record; without `ReportBatchItemFailures` any reported failure fails every
/// record; an identifier that names no record of the batch fails the whole batch too
/// (Lambda treats an invalid `itemIdentifier` as a complete failure).
pub fn failed_ids(
    event: &SqsEvent,
    result: &Result<SqsBatchResponse, String>,
    report_batch_item_failures: bool,
) -> HashSet<String> {
    let all = || -> HashSet<String> {
        event
            .records
            .iter()
            .filter_map(|r| r.message_id.clone())
            .collect()
    };
    let Ok(response) = result else {
        return all();
    };
    if response.batch_item_failures.is_empty() {
        return HashSet::new();
    }
    if !report_batch_item_failures {
        return all();
    }
    let ids = all();
    let reported: HashSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f: &BatchItemFailure| f.item_identifier.clone())
        .collect();
    if reported.iter().all(|id| ids.contains(id)) {
        reported
    } else {
        ids
    }
}

/// Deletes the messages that succeeded (in batches of 10).
pub async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: &[&Message],
) -> Result<(), RunnerError> {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .map_err(|e| aws_error("DeleteMessageBatch", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_error("DeleteMessageBatch", e))?;
        if let Some(failed) = out.failed.first() {
            return Err(RunnerError::Queue {
                operation: "DeleteMessageBatch",
                reason: format!(
                    "{}: {}",
                    failed.code,
                    failed.message.clone().unwrap_or_default()
                ),
            });
        }
    }
    Ok(())
}

/// A failed message the runner will make visible again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    queue_url: String,
    receipt_handle: String,
    visible_at: OffsetDateTime,
}

/// Failed messages waiting for their visibility timeout, in simulated time.
#[derive(Debug, Default)]
pub struct RetryLedger {
    held: Vec<Held>,
}

impl RetryLedger {
    /// Remembers a failed message of `source`, received at `now`.
    pub fn hold(&mut self, source: &SqsSource, message: &Message, now: OffsetDateTime) {
        if let Some(handle) = &message.receipt_handle {
            self.held.push(Held {
                queue_url: source.queue_url.clone(),
                receipt_handle: handle.clone(),
                visible_at: now + source.visibility_timeout,
            });
        }
    }

    /// Failed messages still invisible.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when no failed message is waiting.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Makes visible again every failed message whose visibility timeout has passed at `now`;
    /// returns how many. A message moto no longer knows under that handle (deleted or moved)
    /// is simply forgotten.
    pub async fn release_due(
        &mut self,
        sqs: &aws_sdk_sqs::Client,
        now: OffsetDateTime,
    ) -> Result<usize, RunnerError> {
        let (due, later): (Vec<Held>, Vec<Held>) =
            self.held.drain(..).partition(|h| h.visible_at <= now);
        self.held = later;
        let mut released = 0;
        for (i, h) in due.iter().enumerate() {
            let result = sqs
                .change_message_visibility()
                .queue_url(&h.queue_url)
                .receipt_handle(&h.receipt_handle)
                .visibility_timeout(0)
                .send()
                .await;
            match result {
                Ok(_) => released += 1,
                Err(e)
                    if aws_sdk_sqs::error::ProvideErrorMetadata::code(&e)
                        .is_some_and(|c| c.contains("ReceiptHandleIsInvalid")) => {}
                Err(e) => {
                    self.held.extend(due[i..].iter().cloned());
                    return Err(aws_error("ChangeMessageVisibility", e));
                }
            }
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn source() -> SqsSource {
        SqsSource {
            function: "poll-report".into(),
            queue_url: "http://127.0.0.1:1/123456789012/q".into(),
            queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            batch_size: 10,
            report_batch_item_failures: true,
            visibility_timeout: Duration::from_secs(360),
            region: "us-east-1".into(),
        }
    }

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body(format!("body-{id}"))
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .build()
    }

    fn response(ids: &[&str]) -> SqsBatchResponse {
        let mut r = SqsBatchResponse::default();
        r.batch_item_failures = ids
            .iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = (*id).to_owned();
                f
            })
            .collect();
        r
    }

    #[test]
    fn records_carry_what_lambda_sends() {
        let event = lambda_event(&[message("a"), message("b")], &source());

        assert_eq!(event.records.len(), 2);
        let r = &event.records[0];
        assert_eq!(r.message_id.as_deref(), Some("a"));
        assert_eq!(r.receipt_handle.as_deref(), Some("rh-a"));
        assert_eq!(r.body.as_deref(), Some("body-a"));
        assert_eq!(
            r.attributes,
            HashMap::from([("ApproximateReceiveCount".to_owned(), "2".to_owned())])
        );
        assert_eq!(
            r.event_source_arn.as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:q")
        );
        assert_eq!(r.event_source.as_deref(), Some("aws:sqs"));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["Records"][1]["messageId"], "b");
        assert_eq!(
            json["Records"][1]["eventSourceARN"],
            "arn:aws:sqs:us-east-1:123456789012:q"
        );
    }

    #[test]
    fn failures_are_read_as_lambda_reads_them() {
        let event = lambda_event(&[message("a"), message("b"), message("c")], &source());
        let set = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>();

        assert_eq!(failed_ids(&event, &Ok(response(&[])), true), set(&[]));
        assert_eq!(failed_ids(&event, &Ok(response(&["b"])), true), set(&["b"]));
        assert_eq!(
            failed_ids(&event, &Err("boom".into()), true),
            set(&["a", "b", "c"])
        );
        assert_eq!(
            failed_ids(&event, &Ok(response(&["b"])), false),
            set(&["a", "b", "c"])
        );
        assert_eq!(
            failed_ids(&event, &Ok(response(&["zz"])), true),
            set(&["a", "b", "c"])
        );
    }

    #[test]
    fn the_ledger_waits_for_the_visibility_timeout_in_simulated_time() {
        let mut ledger = RetryLedger::default();
        let now = time::macros::datetime!(2026-11-20 12:00 UTC);
        ledger.hold(&source(), &message("a"), now);

        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger.held[0].visible_at, now + Duration::from_secs(360));
        assert_eq!(ledger.held[0].receipt_handle, "rh-a");
    }

    /// Against moto: a message that keeps failing comes back after the queue's visibility
    /// timeout of simulated time (not before), and after `maxReceiveCount` receives moto
    /// moves it to the dead-letter queue, as SQS does.
    #[tokio::test]
    async fn failed_messages_come_back_on_simulated_time_then_moto_redrives_them() {
        use aws_sdk_sqs::types::QueueAttributeName as A;

        let moto = spsync_testkit::moto::MotoServer::shared();
        let clients = spsync_aws::AwsClients::for_endpoint(&moto.endpoint(), "us-east-1").await;
        let sqs = &clients.sqs;
        let dlq = sqs
            .create_queue()
            .queue_name("ledger-test-dlq")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names(A::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&A::QueueArn]
            .clone();
        let url = sqs
            .create_queue()
            .queue_name("ledger-test")
            .attributes(A::VisibilityTimeout, "360")
            .attributes(
                A::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let source = SqsSource {
            queue_url: url.clone(),
            ..source()
        };
        sqs.send_message()
            .queue_url(&url)
            .message_body("{}")
            .send()
            .await
            .unwrap();

        let mut ledger = RetryLedger::default();
        let mut now = time::macros::datetime!(2026-11-20 12:00 UTC);
        let mut counts = Vec::new();
        for _ in 0..2 {
            let got = receive(sqs, &source).await.unwrap();
            assert_eq!(got.len(), 1);
            counts.push(
                got[0].attributes.as_ref().unwrap()
                    [&MessageSystemAttributeName::ApproximateReceiveCount]
                    .clone(),
            );
            ledger.hold(&source, &got[0], now);
            // Still invisible just before the timeout, in simulated time.
            now += Duration::from_secs(359);
            assert_eq!(ledger.release_due(sqs, now).await.unwrap(), 0);
            assert!(receive(sqs, &source).await.unwrap().is_empty());
            now += Duration::from_secs(1);
            assert_eq!(ledger.release_due(sqs, now).await.unwrap(), 1);
            assert!(ledger.is_empty());
        }
        assert_eq!(counts, ["1", "2"]);
        // The third receive finds it over maxReceiveCount: moto parks it in the DLQ.
        assert!(receive(sqs, &source).await.unwrap().is_empty());
        let parked = sqs
            .receive_message()
            .queue_url(&dlq)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].body.as_deref(), Some("{}"));
    }
}
