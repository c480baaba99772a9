//! `POST /email/{provider}`: mail from SendGrid, Mailgun, Postmark, CloudMailin, or raw
//! MIME, read and queued as the `email` function does with SES's (`accept`, which both use).

use super::Intake;
use crate::email::{EmailContext, Inbound, IngressError, Outcome, ingress};
use crate::queue::{DeadLetter, Queue, QueueError};
use crate::web::{IntakeError, Request, Response, header_str, json_response};
use serde_json::json;

/// A whole message with attachments may be large; SES's own limit is 40 MB.
pub const EMAIL_BODY_LIMIT: usize = 40 * 1024 * 1024;

impl From<IngressError> for IntakeError {
    fn from(e: IngressError) -> Self {
        match e {
            IngressError::Malformed(m) => IntakeError::malformed(m),
            IngressError::Unauthorized(m) => IntakeError::unauthorized(m),
            IngressError::UnknownProvider(_) => IntakeError::not_found(&e.to_string()),
        }
    }
}

impl Intake {
    pub(super) async fn email(
        &self,
        provider: &str,
        req: &Request,
    ) -> Result<Response, IntakeError> {
        let limit = self.settings.body_limit.max(EMAIL_BODY_LIMIT);
        if req.body().len() > limit {
            return Err(IntakeError::too_large(limit));
        }
        let settings = &self.settings.email;
        let inbound = ingress::from_http(
            provider,
            header_str(req, "content-type"),
            req.body(),
            settings.mailgun_signing_key.as_deref(),
            chrono::Utc::now().timestamp(),
        )
        .await?;
        let ctx = EmailContext {
            settings,
            policy: &self.settings.channels,
            normalize: self.settings.normalize,
        };
        let outcome = accept(self.queue.as_ref(), &inbound, &ctx)
            .await
            .map_err(|e| {
                let refusal = super::queue_refusal(&e, self.settings.retry_after_secs);
                tracing::error!(error = %e, status = refusal.status, "the queue did not take the mail's lead");
                refusal
            })?;
        // Every outcome is final for the sender: a 2xx stops its retries. What was not
        // queued says why.
        Ok(match outcome {
            Outcome::Lead(envelope) => json_response(
                202,
                &json!({"code": "ACCEPTED", "data": {"id": envelope.id}}),
            ),
            Outcome::Unroutable { envelope, reason } => json_response(
                202,
                &json!({"code": "UNROUTABLE", "data": {"id": envelope.id}, "reason": reason}),
            ),
            Outcome::NotALead { reason } => {
                json_response(200, &json!({"code": "NOT_A_LEAD", "reason": reason}))
            }
            Outcome::Dropped { reason } => {
                json_response(200, &json!({"code": "DROPPED", "reason": reason}))
            }
        })
    }
}

/// Decides what a message becomes and acts on it: a lead is queued, an unroutable one
/// dead-lettered with the reason, the rest logged. Every outcome is logged with its reason;
/// an error means the queue could not take it and the sender must try again.
pub async fn accept(
    queue: &dyn Queue,
    inbound: &Inbound,
    ctx: &EmailContext<'_>,
) -> Result<Outcome, QueueError> {
    let outcome = crate::email::process(inbound, ctx);
    let source = match &outcome {
        Outcome::Lead(e) | Outcome::Unroutable { envelope: e, .. } => e.origin.sender.clone(),
        _ => format!("email:{}", inbound.provider),
    };
    crate::telemetry::count_lead("received", &source);
    match &outcome {
        Outcome::Lead(envelope) => {
            queue.send(envelope).await?;
            tracing::info!(
                envelope = %envelope.id, provider = inbound.provider, sender = %envelope.origin.sender,
                channel = %crate::mask::id(&envelope.channel), outcome = outcome.kind(), "email received"
            );
        }
        Outcome::Unroutable { envelope, reason } => {
            let body = crate::queue::message_body(envelope)?;
            let dead = DeadLetter {
                reason: reason.clone(),
                envelope_id: Some(envelope.id.clone()),
                group_id: envelope.lead_key.clone(),
                failed_step: None,
                status: None,
                cause: None,
            };
            queue.dead_letter(&body, &dead).await?;
            tracing::warn!(
                envelope = %envelope.id, provider = inbound.provider, outcome = outcome.kind(),
                reason = %reason, "email dead-lettered"
            );
        }
        Outcome::NotALead { reason } | Outcome::Dropped { reason } => {
            tracing::info!(
                provider = inbound.provider, outcome = outcome.kind(), reason = %reason,
                "email not queued"
            );
        }
    }
    crate::telemetry::count_lead(outcome.kind(), &source);
    Ok(outcome)
}
