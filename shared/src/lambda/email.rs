//! The `email` function: SES stores each received message in S3 and the bucket's
//! notification invokes it with an S3 event; an SES receipt rule's Lambda action (the
//! message read from the bucket its S3 action wrote to) and an SNS notification (raw
//! message inline, up to 150 KB) work too.
//!
//! One function takes the three event shapes, told apart by `eventSource` and read as JSON
//! for only the fields used: test events and older notifications omit fields the typed
//! `aws_lambda_events` structs require (an S3 record's `principalId`, SES timestamps).

use crate::email::{EmailContext, EmailSettings, IngressError, Outcome, ingress};
use crate::normalize::NormalizeOptions;
use crate::objects::{ObjectError, ObjectStore};
use crate::queue::{Queue, QueueError};
use crate::web::ChannelPolicy;
use serde_json::{Value, json};

/// SES's largest message, and so the largest object read.
pub const MAX_MESSAGE_BYTES: u64 = crate::email::ingress::MAX_STORED_MAIL_BYTES;

/// What the function needs.
pub struct EmailFunction<'a> {
    pub queue: &'a dyn Queue,
    /// Where mail read as no lead, spam and unsure readings are kept for review.
    pub kept: &'a dyn crate::kept::Kept,
    pub objects: &'a dyn ObjectStore,
    pub settings: &'a EmailSettings,
    pub policy: &'a ChannelPolicy,
    pub normalize: NormalizeOptions,
    /// Where an SES receipt rule's S3 action writes (bucket, key prefix), for SES events.
    pub ses_bucket: Option<(&'a str, &'a str)>,
}

/// Why an invocation failed as a whole (Lambda retries it, then its failure destination
/// keeps it): the queue or the store could not be reached. A bad message is no failure: it
/// is logged with the reason and left in the bucket.
#[derive(Debug, thiserror::Error)]
pub enum EmailFunctionError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Kept(#[from] crate::kept::KeptError),
    #[error(transparent)]
    Store(ObjectError),
}

impl EmailFunction<'_> {
    /// Handles one event; returns what became of each message, for logs and tests.
    pub async fn handle(&self, event: &Value) -> Result<Value, EmailFunctionError> {
        let records = event
            .get("Records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut outcomes = Vec::new();
        for record in &records {
            let source = record
                .get("eventSource")
                .or_else(|| record.get("EventSource"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let inbound = match source {
                "aws:s3" => self.read_s3(record).await?,
                "aws:ses" => self.read_ses(record).await?,
                "aws:sns" => {
                    let message = record
                        .get("Sns")
                        .and_then(|s| s.get("Message"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    serde_json::from_str::<Value>(message)
                        .map_err(|e| {
                            IngressError::Malformed(format!("the SNS message is not JSON: {e}"))
                        })
                        .and_then(|n| ingress::from_ses_notification(&n))
                }
                other => Err(IngressError::Malformed(format!(
                    "an event record from {other:?}, not S3, SES or SNS"
                ))),
            };
            let inbound = match inbound {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(source, reason = %e, outcome = "rejected", "email not read");
                    outcomes.push(json!({"outcome": "rejected", "reason": e.to_string()}));
                    continue;
                }
            };
            let ctx = EmailContext {
                settings: self.settings,
                policy: self.policy,
                normalize: self.normalize,
                verify_senders: true,
            };
            let outcome = crate::router::email::accept(self.queue, self.kept, &inbound, &ctx)
                .await
                .map_err(|e| match e {
                    crate::router::email::AcceptError::Queue(e) => EmailFunctionError::Queue(e),
                    crate::router::email::AcceptError::Kept(e) => EmailFunctionError::Kept(e),
                })?;
            outcomes.push(match &outcome {
                Outcome::Lead(e) => json!({"outcome": outcome.kind(), "id": e.id}),
                Outcome::Unroutable { envelope, reason } => {
                    json!({"outcome": outcome.kind(), "id": envelope.id, "reason": reason})
                }
                Outcome::Confirmation { envelope, .. } => {
                    json!({"outcome": outcome.kind(), "id": envelope.id})
                }
                Outcome::NotALead { reason } | Outcome::Dropped { reason } => {
                    json!({"outcome": outcome.kind(), "reason": reason})
                }
            });
        }
        Ok(json!({ "messages": outcomes }))
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Result<Vec<u8>, IngressError>, EmailFunctionError> {
        match self.objects.get(bucket, key, MAX_MESSAGE_BYTES).await {
            Ok(bytes) => Ok(Ok(bytes)),
            // Gone or too large: nothing a retry changes.
            Err(e @ (ObjectError::NotFound { .. } | ObjectError::TooLarge { .. })) => {
                Ok(Err(IngressError::Malformed(e.to_string())))
            }
            Err(e) => Err(EmailFunctionError::Store(e)),
        }
    }

    async fn read_s3(
        &self,
        record: &Value,
    ) -> Result<Result<ingress::Inbound, IngressError>, EmailFunctionError> {
        let wrapped = json!({ "Records": [record] });
        let Some((bucket, key)) = ingress::s3_objects(&wrapped).pop() else {
            return Ok(Err(IngressError::Malformed(
                "the S3 record names no object".into(),
            )));
        };
        Ok(match self.get(&bucket, &key).await? {
            Ok(raw) => ingress::from_stored(&bucket, &key, raw),
            Err(e) => Err(e),
        })
    }

    async fn read_ses(
        &self,
        record: &Value,
    ) -> Result<Result<ingress::Inbound, IngressError>, EmailFunctionError> {
        let ses = record.get("ses").cloned().unwrap_or(Value::Null);
        let action = ses.get("receipt").and_then(|r| r.get("action"));
        // An S3 action's own record names its object; a Lambda action's, the message id.
        let location = match (
            action
                .and_then(|a| a.get("bucketName"))
                .and_then(Value::as_str),
            action
                .and_then(|a| a.get("objectKey"))
                .and_then(Value::as_str),
        ) {
            (Some(b), Some(k)) => Some((b.to_owned(), k.to_owned())),
            _ => match (self.ses_bucket, ingress::ses_message_id(&ses)) {
                (Some((bucket, prefix)), Some(id)) => {
                    Some((bucket.to_owned(), format!("{prefix}{id}")))
                }
                _ => None,
            },
        };
        let Some((bucket, key)) = location else {
            return Ok(Err(IngressError::Malformed(
                "an SES event carries no message: set INLET_EMAIL_BUCKET to the bucket its S3 action writes".into(),
            )));
        };
        Ok(match self.get(&bucket, &key).await? {
            Ok(raw) => ingress::from_ses_record(&ses, raw).map(|mut i| {
                i.stored = Some(ingress::StoredObject { bucket, key });
                i
            }),
            Err(e) => Err(e),
        })
    }
}

/// Starts the function from the environment.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    use crate::config::Config;
    use crate::objects::s3::S3Objects;
    use crate::queue::sqs::SqsQueue;

    crate::telemetry::init();
    let tls = crate::tls::lambda_client_config()?;
    let aws = crate::sdk::lambda_config(tls).await;
    let config = Config::load_lambda(&aws, true).await?;
    let queue_url = config
        .queue_url
        .clone()
        .ok_or("INLET_QUEUE_URL is not set")?;
    let dlq_url = config
        .dead_letter_queue_url
        .clone()
        .ok_or("INLET_DLQ_URL is not set (unroutable mail is dead-lettered)")?;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &queue_url, &dlq_url);
    let objects = S3Objects::new(crate::objects::s3::client(&aws));
    let table = config
        .ledger_table
        .clone()
        .ok_or("INLET_LEDGER_TABLE is not set (mail read as no lead is kept there for review)")?;
    let kept = crate::kept::dynamodb::DynamoKept::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        config.kept_retention,
    );
    let policy = ChannelPolicy::from_list(&config.channels);
    let prefix = std::env::var("INLET_EMAIL_PREFIX").unwrap_or_default();
    let function = EmailFunction {
        queue: &queue,
        kept: &kept,
        objects: &objects,
        settings: &config.email,
        policy: &policy,
        normalize: config.normalize_options(),
        ses_bucket: config.email_bucket.as_deref().map(|b| (b, prefix.as_str())),
    };
    let function = &function;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            function
                .handle(&event.payload)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        },
    ))
    .await
}
