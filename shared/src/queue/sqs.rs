//! The queue on SQS FIFO: group = `lead_key`, dedupe id = envelope id, a FIFO dead-letter
//! queue whose messages carry the reason as message attributes.

use super::{DeadLetter, Queue, QueueError, QueueMessage, VisibilityChange};
use crate::envelope::Envelope;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
    /// The main queue's redrive limit, read once (it changes only with a deploy).
    receive_limit: std::sync::Arc<tokio::sync::OnceCell<Option<u32>>>,
}

/// The message attribute a requeued message carries its wait in (milliseconds since the
/// epoch): SQS FIFO takes no per-message delay.
const NOT_BEFORE: &str = "not_before";

fn unavailable<E: std::error::Error>(e: E) -> QueueError {
    QueueError::Unavailable(DisplayErrorContext(e).to_string())
}

/// A send's failure: what SQS will never take (characters it refuses, a body too large) is
/// refused for good; anything else (throttling, a network or service failure, and a queue
/// that is missing or forbidden, which an operator fixes) is worth the sender's retry.
fn send_error<E, R>(e: aws_sdk_sqs::error::SdkError<E, R>) -> QueueError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match e.as_service_error() {
        Some(service) => (
            service.code().unwrap_or("").to_owned(),
            service.message().unwrap_or("").to_owned(),
        ),
        None => (String::new(), String::new()),
    };
    let lower = message.to_ascii_lowercase();
    if code.ends_with("InvalidMessageContents") {
        QueueError::Refused(format!("SQS refuses the message's characters: {message}"))
    } else if code.ends_with("InvalidParameterValue")
        && (lower.contains("shorter than") || lower.contains("too long"))
        || code.ends_with("MessageTooLong")
    {
        QueueError::TooLarge {
            size: 0,
            limit: super::MAX_MESSAGE_BYTES,
        }
    } else {
        unavailable(e)
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("a string attribute is complete")
}

/// SQS limits a message attribute's value: the reason is cut, never the message refused.
fn short(text: &str) -> String {
    text.chars().take(1000).collect()
}

impl SqsQueue {
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        dead_letter_url: impl Into<String>,
    ) -> Self {
        SqsQueue {
            client,
            queue_url: queue_url.into(),
            dead_letter_url: dead_letter_url.into(),
            receive_limit: Default::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dead_letter_url(&self) -> &str {
        &self.dead_letter_url
    }

    /// Creates a FIFO queue and its FIFO dead-letter queue, redriving after `max_receives`
    /// (what template.yaml declares; used by tests and local set-ups). Returns their URLs.
    pub async fn create_fifo_pair(
        client: &Client,
        name: &str,
        max_receives: u32,
        visibility_secs: u32,
    ) -> Result<(String, String), QueueError> {
        let dlq_url = client
            .create_queue()
            .queue_name(format!("{name}-dlq.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .send()
            .await
            .map_err(unavailable)?
            .queue_url
            .unwrap_or_default();
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(unavailable)?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .unwrap_or_default();
        let redrive =
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})
                .to_string();
        let url = client
            .create_queue()
            .queue_name(format!("{name}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_secs.to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .send()
            .await
            .map_err(unavailable)?
            .queue_url
            .unwrap_or_default();
        Ok((url, dlq_url))
    }

    /// Sends a raw body to the main queue (a replay): a fresh dedupe id, so SQS's window for
    /// the original does not swallow it; the ledger still prevents a second delivery.
    pub async fn send_raw(&self, body: &str, group_id: &str) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(group_id)
            .message_deduplication_id(uuid::Uuid::new_v4().simple().to_string())
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Receives up to `max` (≤ 10) messages from the main queue or the dead-letter queue,
    /// with their message attributes.
    pub async fn receive(
        &self,
        dead_letters: bool,
        max: i32,
        wait_secs: i32,
    ) -> Result<Vec<(QueueMessage, HashMap<String, String>)>, QueueError> {
        let url = if dead_letters {
            &self.dead_letter_url
        } else {
            &self.queue_url
        };
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| received(m).0)
            .collect())
    }

    pub async fn delete(&self, dead_letters: bool, receipt_handle: &str) -> Result<(), QueueError> {
        let url = if dead_letters {
            &self.dead_letter_url
        } else {
            &self.queue_url
        };
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The dead letters SQS will hand out now, left in the queue: each batch is held
    /// invisible while the next is read (so none is listed twice), then all are released. A
    /// FIFO queue shows only the oldest of each lead's group; those behind it follow.
    pub async fn dead_letters(&self) -> Result<Vec<super::DeadMessage>, QueueError> {
        let held = self.drain_dead_letters().await?;
        for (m, _) in &held {
            if let Some(handle) = &m.receipt_handle {
                self.release_dead_letter(handle).await?;
            }
        }
        Ok(held.into_iter().map(|(_, d)| d).collect())
    }

    /// SQS's approximate counts of a queue: visible, in flight, delayed.
    async fn counts(&self, url: &str) -> Result<(u64, u64, u64), QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(unavailable)?;
        let count = |name: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        ))
    }

    /// How many messages wait on the main queue (SQS's approximate count, visible and in
    /// flight).
    pub async fn waiting(&self) -> Result<u64, QueueError> {
        let (visible, in_flight, delayed) = self.counts(&self.queue_url).await?;
        Ok(visible + in_flight + delayed)
    }

    /// Removes one dead letter (one a replay has read again and queued anew); the others are
    /// released as they were. Whether it was found.
    pub async fn remove_dead_letter(&self, message_id: &str) -> Result<bool, QueueError> {
        let held = self.drain_dead_letters().await?;
        let mut found = false;
        for (m, dead) in held {
            let Some(handle) = m.receipt_handle.as_deref() else {
                continue;
            };
            if dead.message_id == message_id {
                self.delete(true, handle).await?;
                found = true;
            } else {
                self.release_dead_letter(handle).await?;
            }
        }
        Ok(found)
    }

    /// Puts dead letters back on the main queue in their FIFO groups (all, or the one whose
    /// message or envelope id is `id`); the others stay. Returns how many moved. A FIFO
    /// queue hands out one message of a group at a time, so this repeats until a round
    /// moves nothing.
    pub async fn replay(&self, id: Option<&str>, as_is: bool) -> Result<usize, QueueError> {
        let mut moved = 0;
        loop {
            let held = self.drain_dead_letters().await?;
            let mut this_round = 0;
            for (m, dead) in held {
                let wanted = dead.dead_letter.replays(as_is)
                    && id.is_none_or(|want| {
                        want == dead.message_id
                            || Some(want) == dead.dead_letter.envelope_id.as_deref()
                    });
                let Some(handle) = m.receipt_handle.as_deref() else {
                    continue;
                };
                if wanted {
                    let group = m.group_id.as_deref().unwrap_or(&dead.dead_letter.group_id);
                    self.send_raw(&m.body, group).await?;
                    self.delete(true, handle).await?;
                    this_round += 1;
                } else {
                    self.release_dead_letter(handle).await?;
                }
            }
            moved += this_round;
            if this_round == 0 || id.is_some() {
                return Ok(moved);
            }
        }
    }

    async fn release_dead_letter(&self, handle: &str) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.dead_letter_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Receives the dead-letter queue until it answers empty, holding each message.
    async fn drain_dead_letters(
        &self,
    ) -> Result<Vec<(QueueMessage, super::DeadMessage)>, QueueError> {
        let mut out = Vec::new();
        loop {
            let batch = self
                .client
                .receive_message()
                .queue_url(&self.dead_letter_url)
                .max_number_of_messages(10)
                .visibility_timeout(120)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(unavailable)?
                .messages
                .unwrap_or_default();
            if batch.is_empty() {
                return Ok(out);
            }
            for m in batch {
                let ((message, attrs), sent_at) = received(m);
                let dead = super::DeadMessage {
                    message_id: message.message_id.clone(),
                    body: message.body.clone(),
                    dead_letter: Self::dead_letter_of(&attrs),
                    sent_at,
                };
                out.push((message, dead));
            }
        }
    }

    /// Reads a dead letter's reason back from its attributes.
    pub fn dead_letter_of(attributes: &HashMap<String, String>) -> DeadLetter {
        DeadLetter {
            reason: attributes
                .get("reason")
                .cloned()
                .unwrap_or_else(|| "(no reason recorded)".into()),
            envelope_id: attributes.get("envelope_id").cloned(),
            group_id: attributes
                .get("group_id")
                .cloned()
                .unwrap_or_else(|| "replayed".into()),
            failed_step: attributes.get("failed_step").cloned(),
            status: attributes.get("status").and_then(|s| s.parse().ok()),
            cause: attributes.get("cause").cloned(),
        }
    }
}

/// A received SQS message as Inlet's, with its string attributes and when it was sent.
fn received(
    m: aws_sdk_sqs::types::Message,
) -> (
    (QueueMessage, HashMap<String, String>),
    chrono::DateTime<chrono::Utc>,
) {
    let system = m.attributes.unwrap_or_default();
    let attrs: HashMap<String, String> = m
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
        .collect();
    let sent_at = system
        .get(&MessageSystemAttributeName::SentTimestamp)
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_default();
    let message = QueueMessage {
        message_id: m.message_id.unwrap_or_default(),
        receipt_handle: m.receipt_handle,
        body: m.body.unwrap_or_default(),
        group_id: system
            .get(&MessageSystemAttributeName::MessageGroupId)
            .cloned(),
        receive_count: system
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        not_before: not_before(attrs.get(NOT_BEFORE).map(String::as_str)),
    };
    ((message, attrs), sent_at)
}

/// A requeued message's `not_before` attribute, as the SDK or a Lambda event gives it.
pub fn not_before(attribute: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    attribute?
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
}

/// `maxReceiveCount` from a queue's `RedrivePolicy` attribute (SQS writes it as a number;
/// older set-ups as a string).
fn max_receive_count(policy: &str) -> Option<u32> {
    let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
    match &policy["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, envelope: &Envelope) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(super::message_body(envelope)?)
            .message_group_id(&envelope.lead_key)
            .message_deduplication_id(&envelope.id)
            .send()
            .await
            .map_err(send_error)?;
        Ok(())
    }

    async fn dead_letter(&self, body: &str, dead_letter: &DeadLetter) -> Result<(), QueueError> {
        super::fits(body)?;
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.dead_letter_url)
            .message_body(body)
            .message_group_id(&dead_letter.group_id)
            // A message dead-lettered again after a replay must not be swallowed as a repeat.
            .message_deduplication_id(uuid::Uuid::new_v4().simple().to_string())
            .message_attributes("reason", attribute(&short(&dead_letter.reason)))
            .message_attributes("group_id", attribute(&dead_letter.group_id));
        if let Some(id) = &dead_letter.envelope_id {
            send = send.message_attributes("envelope_id", attribute(id));
        }
        if let Some(step) = &dead_letter.failed_step {
            send = send.message_attributes("failed_step", attribute(step));
        }
        if let Some(status) = dead_letter.status {
            send = send.message_attributes("status", attribute(&status.to_string()));
        }
        if let Some(cause) = &dead_letter.cause {
            send = send.message_attributes("cause", attribute(cause));
        }
        send.send().await.map_err(send_error)?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.min(43_200) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// ChangeMessageVisibilityBatch, ten at a time: a FIFO queue takes 300 calls a second
    /// per action, and an outage holds every waiting lead this way.
    async fn change_visibilities(&self, changes: &[VisibilityChange]) -> Result<(), QueueError> {
        use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry as Entry;
        let mut failed = Vec::new();
        for chunk in changes.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Entry::builder()
                        .id(i.to_string())
                        .receipt_handle(&c.receipt)
                        .visibility_timeout(c.seconds.min(43_200) as i32)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect::<Vec<_>>();
            // A refused chunk does not stop the others: each message left unchanged comes back
            // at the queue's visibility timeout, later but not lost.
            match self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => failed.extend(
                    out.failed()
                        .iter()
                        .map(|f| format!("{} ({})", f.code(), f.message().unwrap_or_default())),
                ),
                Err(e) => failed.push(unavailable(e).to_string()),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(QueueError::Unavailable(format!(
                "{} visibility changes refused: {}",
                failed.len(),
                failed.join(", ")
            )))
        }
    }

    /// The redrive policy's `maxReceiveCount`, read from the queue at the first need: the
    /// template sets it, and nothing here has to be kept equal to it.
    async fn receive_limit(&self) -> Result<Option<u32>, QueueError> {
        let limit = self
            .receive_limit
            .get_or_try_init(|| async {
                let policy = self
                    .client
                    .get_queue_attributes()
                    .queue_url(&self.queue_url)
                    .attribute_names(QueueAttributeName::RedrivePolicy)
                    .send()
                    .await
                    .map_err(unavailable)?
                    .attributes
                    .and_then(|mut a| a.remove(&QueueAttributeName::RedrivePolicy));
                Ok::<_, QueueError>(policy.as_deref().and_then(max_receive_count))
            })
            .await?;
        Ok(*limit)
    }

    /// Sent again into its group with a deduplication id of its own receipt's message: the
    /// original's (the envelope id) would be swallowed within SQS's five minutes, and a
    /// second requeue of the same received message (a retry after a crash) is.
    async fn requeue(
        &self,
        message: &QueueMessage,
        not_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), QueueError> {
        let group = super::group_of(message).ok_or_else(|| {
            QueueError::Refused("the message has no group to be put back into".into())
        })?;
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&message.body)
            .message_group_id(group)
            .message_deduplication_id(format!("requeue-{}", message.message_id));
        if let Some(at) = not_before {
            send = send.message_attributes(
                NOT_BEFORE,
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(at.timestamp_millis().to_string())
                    .build()
                    .expect("a number attribute is complete"),
            );
        }
        send.send().await.map_err(send_error)?;
        Ok(())
    }

    async fn health(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn backlog(&self) -> Result<Option<super::Backlog>, QueueError> {
        let (main, dead) = tokio::try_join!(
            self.counts(&self.queue_url),
            self.counts(&self.dead_letter_url)
        )?;
        Ok(Some(super::Backlog {
            waiting: main.0 + main.1 + main.2,
            in_flight: main.1,
            oldest_waiting_secs: None,
            dead_letters: dead.0 + dead.1 + dead.2,
        }))
    }
}

#[async_trait::async_trait]
impl super::DeadLetters for SqsQueue {
    async fn list(&self) -> Result<Vec<super::DeadMessage>, QueueError> {
        self.dead_letters().await
    }

    async fn release(&self, message: &super::DeadMessage) -> Result<(), QueueError> {
        self.send_raw(&message.body, &message.dead_letter.group_id)
            .await?;
        self.remove_dead_letter(&message.message_id).await?;
        Ok(())
    }

    async fn delete(&self, message_id: &str) -> Result<bool, QueueError> {
        self.remove_dead_letter(message_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::error::{ErrorMetadata, SdkError};
    use aws_sdk_sqs::operation::send_message::SendMessageError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    fn answered(code: &str, message: &str) -> QueueError {
        let error =
            SendMessageError::generic(ErrorMetadata::builder().code(code).message(message).build());
        let raw = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        send_error(SdkError::service_error(error, raw))
    }

    #[test]
    fn the_redrive_limit_is_read_from_the_policy_as_sqs_or_an_older_set_up_writes_it() {
        let arn = "arn:aws:sqs:us-east-1:1:dlq.fifo";
        for policy in [
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":1000}}"#),
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"1000"}}"#),
        ] {
            assert_eq!(max_receive_count(&policy), Some(1000), "{policy}");
        }
        assert_eq!(max_receive_count(r#"{"deadLetterTargetArn":"x"}"#), None);
        assert_eq!(max_receive_count("not json"), None);
        assert_eq!(
            not_before(Some("1800000000000")),
            chrono::DateTime::from_timestamp(1_800_000_000, 0)
        );
        assert_eq!(not_before(Some("soon")), None);
    }

    #[test]
    fn sqs_refusals_are_told_from_outages() {
        assert!(matches!(
            answered("InvalidMessageContents", "Invalid characters found"),
            QueueError::Refused(_)
        ));
        assert!(matches!(
            answered(
                "InvalidParameterValue",
                "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes."
            ),
            QueueError::TooLarge { .. }
        ));
        for (code, message) in [
            ("RequestThrottled", "slow down"),
            ("AWS.SimpleQueueService.NonExistentQueue", "no queue"),
            ("AccessDenied", "not allowed"),
        ] {
            assert!(
                matches!(answered(code, message), QueueError::Unavailable(_)),
                "{code}"
            );
        }
    }
}
