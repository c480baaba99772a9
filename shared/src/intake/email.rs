//! `POST /email/{provider}`: mail from SendGrid, Mailgun, Postmark, CloudMailin, or raw
//! MIME, read and queued as the `email` function does with SES's.

use super::{Intake, IntakeError, header_str, json_response};
use crate::email::{EmailContext, IngressError, Outcome, ingress};
use bytes::Bytes;
use http::{Request, Response};
use serde_json::json;

/// A whole message with attachments may be large; SES's own limit is 40 MB.
pub const EMAIL_BODY_LIMIT: usize = 40 * 1024 * 1024;

impl From<IngressError> for IntakeError {
    fn from(e: IngressError) -> Self {
        match e {
            IngressError::Malformed(m) => IntakeError::malformed(m),
            IngressError::Unauthorized(m) => IntakeError::new(401, "unauthorized", m),
            IngressError::UnknownProvider(_) => IntakeError::not_found(&e.to_string()),
        }
    }
}

impl Intake {
    pub(super) async fn email(
        &self,
        provider: &str,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, IntakeError> {
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
        let outcome = crate::email::accept(self.queue.as_ref(), &inbound, &ctx)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "queue unavailable, answered 503");
                IntakeError::unavailable(self.settings.retry_after_secs)
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
