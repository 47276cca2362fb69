//! [`SqsStepQueue`]: step messages on the SQS step queues, possibly delayed.

use std::time::Duration;

use async_trait::async_trait;
use spsync_workflow::{MAX_QUEUE_DELAY, QueueError, QueueName, StepMessage, StepQueue};
use tracing::instrument;

use crate::error::{AdapterError, queue_error};

/// The step queues a function may send to. A function knows only the queues it sends to
/// (its environment names them); the others are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueUrls {
    /// PollReportQueue's URL.
    pub poll_report: Option<String>,
    /// ImportReportQueue's URL.
    pub import_report: Option<String>,
    /// EnrichOrdersQueue's URL.
    pub enrich_orders: Option<String>,
    /// FeedStepsQueue's URL.
    pub feed_steps: Option<String>,
}

impl QueueUrls {
    /// The URL of a queue, if configured.
    pub fn url(&self, queue: QueueName) -> Option<&str> {
        match queue {
            QueueName::PollReport => self.poll_report.as_deref(),
            QueueName::ImportReport => self.import_report.as_deref(),
            QueueName::EnrichOrders => self.enrich_orders.as_deref(),
            QueueName::FeedSteps => self.feed_steps.as_deref(),
        }
    }
}

/// SQS adapter: implements [`StepQueue`]. Each message goes to its step's queue
/// ([`spsync_workflow::Step::queue`]); sending to a queue not configured is a permanent error.
#[derive(Debug, Clone)]
pub struct SqsStepQueue {
    /// SQS client.
    pub client: aws_sdk_sqs::Client,
    /// Where each step goes.
    pub urls: QueueUrls,
}

impl SqsStepQueue {
    /// An adapter sending to `urls`.
    pub fn new(client: aws_sdk_sqs::Client, urls: QueueUrls) -> Self {
        Self { client, urls }
    }
}

/// `DelaySeconds` for a wait: whole seconds rounded up (never early), at most SQS's 900.
/// Longer waits are chained by the workflow ([`spsync_workflow::send_step`]).
pub fn delay_seconds(delay: Duration) -> i32 {
    let secs = delay
        .as_secs()
        .saturating_add(u64::from(delay.subsec_nanos() > 0));
    // MAX_QUEUE_DELAY is 900 s, so the clamped value always fits.
    i32::try_from(secs.min(MAX_QUEUE_DELAY.as_secs())).unwrap_or(900)
}

fn queue_label(queue: QueueName) -> &'static str {
    match queue {
        QueueName::PollReport => "PollReportQueue",
        QueueName::ImportReport => "ImportReportQueue",
        QueueName::EnrichOrders => "EnrichOrdersQueue",
        QueueName::FeedSteps => "FeedStepsQueue",
    }
}

#[async_trait]
impl StepQueue for SqsStepQueue {
    #[instrument(skip_all, fields(operation = "SendMessage", step = message.step.name(), attempt = message.attempt, delay_s = delay_seconds(delay)))]
    async fn send(&self, message: &StepMessage, delay: Duration) -> Result<(), QueueError> {
        let queue = message.step.queue();
        let Some(url) = self.urls.url(queue) else {
            return Err(QueueError {
                operation: "SendMessage",
                retryable: false,
                source: Box::new(AdapterError::UnknownQueue {
                    queue: queue_label(queue),
                }),
            });
        };
        let out = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(message.to_json())
            .delay_seconds(delay_seconds(delay))
            .send()
            .await
            .map_err(|e| queue_error("SendMessage", e))?;
        tracing::debug!(sqs_message_id = out.message_id().unwrap_or(""), "step sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_clamp_to_900_seconds() {
        let cases = [
            (Duration::ZERO, 0),
            (Duration::from_millis(1), 1),
            (Duration::from_secs(30), 30),
            (Duration::from_millis(30_500), 31),
            (Duration::from_secs(900), 900),
            (Duration::from_secs(901), 900),
            (Duration::from_secs(7200), 900),
            (Duration::MAX, 900),
        ];
        for (delay, want) in cases {
            assert_eq!(delay_seconds(delay), want, "{delay:?}");
        }
    }

    #[test]
    fn queue_urls_name_each_step_queue() {
        let urls = QueueUrls {
            import_report: Some("http://q/import".into()),
            ..QueueUrls::default()
        };

        assert_eq!(urls.url(QueueName::ImportReport), Some("http://q/import"));
        assert_eq!(urls.url(QueueName::PollReport), None);
        assert_eq!(urls.url(QueueName::EnrichOrders), None);
    }
}
