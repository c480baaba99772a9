//! `POST /email/{provider}`: mail from SendGrid, Mailgun, Postmark, CloudMailin, or raw
//! MIME, read and queued as the `email` function does with SES's (`accept`, which both use).

use super::Intake;
use crate::email::{EmailContext, Inbound, IngressError, Outcome, ingress};
use crate::kept::{Kept, KeptError, KeptItem, KeptKind};
use crate::queue::{DeadLetter, Queue, QueueError};
use crate::web::{IntakeError, Request, Response, header_str, json_response};
use serde_json::json;

/// A whole message with attachments may be large; SES's own limit is 40 MB. `inlet serve`
/// takes that much over HTTP; behind API Gateway and Lambda far less fits
/// (`LAMBDA_EMAIL_BODY_LIMIT`).
pub const EMAIL_BODY_LIMIT: usize = 40 * 1024 * 1024;

/// What a mail post can be on Lambda: the function's request payload is at most 6 MB, and
/// API Gateway delivers a binary body base64-encoded (4 bytes for every 3), so about 4.5 MB
/// arrive; 4 MiB leaves room for the headers and the event around it. Larger mail comes in
/// through SES, which stores it in S3 whole.
pub const LAMBDA_EMAIL_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The 413 of a mail post past the limit, saying the way that takes it.
pub fn mail_too_large(limit: usize) -> IntakeError {
    let mut e = IntakeError::too_large(limit);
    e.message = format!(
        "the mail is over this endpoint's {limit}-byte limit; larger mail must come in through SES, which stores it whole in S3"
    );
    e
}

/// The providers that post with the mail token (Mailgun signs its posts instead).
const TOKEN_PROVIDERS: [&str; 4] = ["raw", "sendgrid", "postmark", "cloudmailin"];

/// The key under which a Mailgun token once seen is kept (a digest: no token in keys).
fn mailgun_token_key(token: &str) -> String {
    format!("mailgun-{}", crate::envelope::digest(&[token.as_bytes()]))
}

/// The credential a mail post carries: the Basic password (any user name; the providers
/// put it in the URL they post to) or `?token=`.
fn presented_token(req: &Request) -> Option<String> {
    if let Some((_, password)) =
        header_str(req, "authorization").and_then(crate::web::basic_credentials)
    {
        return Some(password);
    }
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Which token a mail post presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented {
    /// The mail token, which opens every route.
    MailToken,
    /// The route's own (`route::route_token`): the provider configured with it.
    RouteToken,
}

/// Refuses a mail post without the configured token, or the route's own: 401, before
/// anything is read.
fn require_token(
    req: &Request,
    expected: Option<&str>,
    route: &str,
) -> Result<Presented, IntakeError> {
    let refuse = |message: &str| {
        let mut e = IntakeError::unauthorized(message);
        e.authenticate = Some("Basic realm=\"inlet-email\"");
        e
    };
    let Some(expected) = expected else {
        return Err(refuse(
            "mail over HTTP is refused until [email] http_token (INLET_EMAIL_HTTP_TOKEN) is set",
        ));
    };
    let given = presented_token(req);
    let own = crate::email::route::route_token(expected, route);
    if crate::web::signature::shared_secret(given.as_deref(), &own, "token").is_ok() {
        return Ok(Presented::RouteToken);
    }
    crate::web::signature::shared_secret(given.as_deref(), expected, "token")
        .map(|_| Presented::MailToken)
        .map_err(|_| refuse("mail posts need the mail token: as the Basic password, or ?token="))
}

impl From<IngressError> for IntakeError {
    fn from(e: IngressError) -> Self {
        match e {
            IngressError::Malformed(m) => IntakeError::malformed(m),
            IngressError::Unauthorized(m) => IntakeError::unauthorized(m),
            IngressError::UnknownProvider(_) => IntakeError::not_found(&e.to_string()),
        }
    }
}

/// Confirms a Gmail forwarding request by fetching its link: only a link
/// `confirmation::confirm_link` let through, and no redirect followed (a redirect off
/// Google's host would be a fetch of something else).
async fn confirm_forwarding(link: &url::Url) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(link.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

fn outcome_id(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Lead(e)
        | Outcome::Unroutable { envelope: e, .. }
        | Outcome::Confirmation { envelope: e, .. } => Some(e.id.clone()),
        _ => None,
    }
}

fn ledger_refusal(e: crate::ledger::LedgerError) -> IntakeError {
    tracing::error!(error = %e, "the ledger could not be read for a Mailgun token");
    IntakeError {
        retry_after: Some(5),
        ..IntakeError::new(
            503,
            "ledger_unavailable",
            "the ledger is unavailable; retry later",
        )
    }
}

impl Intake {
    pub(super) async fn email(
        &self,
        provider: &str,
        req: &Request,
    ) -> Result<Response, IntakeError> {
        let settings = &self.settings.email;
        let presented = if TOKEN_PROVIDERS.contains(&provider) {
            Some(require_token(
                req,
                settings.http_token.as_deref(),
                provider,
            )?)
        } else {
            None
        };
        let limit = self.settings.email_body_limit;
        if req.body().len() > limit {
            return Err(mail_too_large(limit));
        }
        let inbound = ingress::from_http(
            provider,
            header_str(req, "content-type"),
            req.body(),
            settings.mailgun_signing_key.as_deref(),
            chrono::Utc::now().timestamp(),
        )
        .await?;
        let mut inbound = inbound;
        if presented == Some(Presented::MailToken)
            && crate::email::route::VERDICT_FIELD_ROUTES.contains(&provider)
        {
            // The mail token proves the post is someone's with the token, not the provider's:
            // its verdict fields are whoever posted's. Spam and virus flags only hold mail
            // back, so they stay.
            inbound.verdicts = crate::email::Verdicts {
                spam: inbound.verdicts.spam,
                virus: inbound.verdicts.virus,
                ..Default::default()
            };
        }
        // Nor does the server `[email.verdicts_from]` names vouch for its header in a post
        // with the mail token: whoever holds that token could have written the header too.
        inbound.unvouched = presented == Some(Presented::MailToken);
        let replay_key = inbound.signed_token.as_deref().map(mailgun_token_key);
        if let Some(key) = &replay_key
            && self
                .ledger
                .sender_lead(key)
                .await
                .map_err(ledger_refusal)?
                .is_some()
        {
            return Err(IntakeError::unauthorized(
                "Mailgun signature: its token was already used (a replayed post)",
            ));
        }
        let ctx = EmailContext {
            settings,
            policy: &self.settings.channels,
            normalize: self.settings.normalize,
            verify_senders: true,
        };
        let outcome = accept(self.queue.as_ref(), self.kept.as_ref(), &inbound, &ctx)
            .await
            .map_err(|e| {
                let refusal = match &e {
                    AcceptError::Queue(e) => super::queue_refusal(e, self.settings.retry_after_secs),
                    AcceptError::Kept(e) => super::kept_refusal(e, self.settings.retry_after_secs),
                };
                tracing::error!(error = %e, status = refusal.status, "the mail could not be queued or kept");
                refusal
            })?;
        // Mail read as no lead counts in its source's profile (a portal whose new template
        // is no longer read as a lead); only a source that has sent leads has one.
        if let Outcome::NotALead { .. } = &outcome {
            let original = crate::email::forward::unwrap(&inbound.message).original;
            if let Some(source) = crate::email::portals::profile_source(&original) {
                let read = crate::profile::Read::new(
                    chrono::Utc::now(),
                    &[],
                    crate::profile::Judged::NoLead,
                );
                crate::profile::store::record(
                    self.ledger.as_ref(),
                    &source,
                    read,
                    &self.settings.drift,
                    false,
                )
                .await;
            }
        }
        // Kept only once the mail is taken: a retry after a failure above must still pass.
        if let Some(key) = &replay_key {
            let link = crate::ledger::SenderLink {
                envelope_id: outcome_id(&outcome).unwrap_or_default(),
                rechat_lead_id: None,
            };
            if let Err(e) = self.ledger.link_sender_lead(key, &link).await {
                tracing::warn!(error = %e, "the Mailgun token could not be kept; a replay of this post would pass");
            }
        }
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
            Outcome::NotALead { reason } => json_response(
                200,
                &json!({"code": "NOT_A_LEAD", "reason": reason, "kept": true}),
            ),
            Outcome::Dropped { reason } => json_response(
                200,
                &json!({"code": "DROPPED", "reason": reason, "kept": true}),
            ),
            Outcome::Confirmation {
                envelope,
                confirmation,
                ..
            } => json_response(
                200,
                &json!({"code": "FORWARDING_CONFIRMATION", "data": {"id": envelope.id}, "reason": confirmation.describe()}),
            ),
        })
    }
}

/// Why mail could not be taken: the sender (or SES, through the function's retries) must
/// try again.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Kept(#[from] KeptError),
}

/// Decides what a message becomes and acts on it: a lead is queued (and kept beside for
/// review when its reading is unsure), an unroutable one dead-lettered with the reason,
/// mail read as no lead or refused on the receiving service's verdicts kept for a person
/// with why. Every outcome is logged with its reason; an error means the queue or the
/// store could not take it and the sender must try again.
pub async fn accept(
    queue: &dyn Queue,
    kept: &dyn Kept,
    inbound: &Inbound,
    ctx: &EmailContext<'_>,
) -> Result<Outcome, AcceptError> {
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
            if envelope.notices.iter().any(|n| n.unsure().is_some()) {
                // The copy kept for review holds the message, for a person to read.
                let copy = crate::email::with_message(envelope.clone(), inbound, "unsure");
                super::keep_unsure(kept, &copy).await;
            }
        }
        Outcome::Unroutable { envelope, reason } => {
            // Kept with what a replay needs to read it again; the message inline when it
            // fits a queue message, else only where SES stored it.
            let with_source = |inline: bool| {
                let mut kept = envelope.clone();
                kept.source =
                    serde_json::to_value(crate::email::StoredMail::of(inbound, reason, inline))
                        .ok();
                crate::queue::message_body(&kept)
            };
            let body = match with_source(true) {
                Err(QueueError::TooLarge { .. }) => with_source(false)?,
                other => other?,
            };
            let dead = DeadLetter {
                reason: reason.clone(),
                envelope_id: Some(envelope.id.clone()),
                group_id: envelope.lead_key.clone(),
                failed_step: None,
                status: None,
                cause: Some(crate::queue::UNROUTABLE.to_owned()),
            };
            queue.dead_letter(&body, &dead).await?;
            // The dead letter names the recipient whole, for the operator to add; logs, which
            // travel further, only masked.
            let recipients: Vec<String> = inbound
                .recipients
                .iter()
                .map(|r| crate::mask::email(r))
                .collect();
            tracing::warn!(
                envelope = %envelope.id, provider = inbound.provider, outcome = outcome.kind(),
                recipients = %recipients.join(", "),
                "email dead-lettered: no routing rule places it (the dead letter names the address)"
            );
        }
        Outcome::NotALead { reason } | Outcome::Dropped { reason } => {
            let kind = match &outcome {
                Outcome::Dropped { .. } => KeptKind::Spam,
                _ => KeptKind::NotALead,
            };
            let held = crate::email::held_envelope(inbound, ctx, reason);
            let item = KeptItem::new(kind, reason.clone(), held);
            kept.keep(&item).await?;
            tracing::info!(
                provider = inbound.provider, outcome = outcome.kind(), reason = %reason, kept = %item.id,
                "email not queued: kept for review"
            );
        }
        Outcome::Confirmation {
            envelope,
            confirmation,
            confirm,
        } => {
            let mut reason = confirmation.describe();
            if let Some(link) = confirm {
                reason.push_str(&match confirm_forwarding(link).await {
                    Ok(status) => format!("; Inlet fetched the link (HTTP {status})"),
                    Err(e) => format!("; Inlet could not fetch the link ({e}): open it yourself"),
                });
            }
            let body = crate::queue::message_body(envelope)?;
            let dead = DeadLetter {
                reason,
                envelope_id: Some(envelope.id.clone()),
                group_id: envelope.lead_key.clone(),
                failed_step: None,
                status: None,
                cause: Some(crate::queue::FORWARDING_CONFIRMATION.to_owned()),
            };
            queue.dead_letter(&body, &dead).await?;
            tracing::warn!(
                envelope = %envelope.id, provider = inbound.provider, outcome = outcome.kind(),
                mailbox = confirmation.provider, fetched = confirm.is_some(),
                "a forwarding confirmation is waiting (inlet dlq list shows its code and link)"
            );
        }
    }
    crate::telemetry::count_lead(outcome.kind(), &source);
    Ok(outcome)
}
