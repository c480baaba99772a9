//! Helpers for the end-to-end tests: AWS SDK clients pointed at moto, and SQS events built
//! from what is on the queue, as Lambda would build them.

pub mod watch;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use inlet::queue::QueueMessage;

/// An SDK configuration for moto at `endpoint`, with dummy credentials (without them the
/// SDK would probe instance metadata).
pub async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// The SQS event Lambda would hand the deliver function for these messages.
pub fn sqs_event(messages: &[QueueMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut r = SqsMessage::default();
            r.message_id = Some(m.message_id.clone());
            r.receipt_handle = m.receipt_handle.clone();
            r.body = Some(m.body.clone());
            if let Some(g) = &m.group_id {
                r.attributes.insert("MessageGroupId".into(), g.clone());
            }
            r.attributes.insert(
                "ApproximateReceiveCount".into(),
                m.receive_count.to_string(),
            );
            if let Some(at) = m.not_before {
                let mut value = SqsMessageAttribute::default();
                value.string_value = Some(at.timestamp_millis().to_string());
                value.data_type = Some("Number".into());
                r.message_attributes.insert("not_before".into(), value);
            }
            r.event_source = Some("aws:sqs".into());
            r
        })
        .collect();
    event
}
