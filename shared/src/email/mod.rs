//! Inquiry emails. Every way a message arrives is normalized to an `Inbound` (`ingress`);
//! then `process` decides, as a plain function: the receiving service's verdicts, forwards
//! unwrapped (`forward`), mail that is no lead set aside (`not_lead`), the lead read by its
//! portal's module or the generic reader (`portals`, `read`), normalized, and routed to a
//! channel by its recipients (`route`). The router and the `email` function act on the
//! outcome (queue it, dead-letter it).

pub mod addresses;
pub mod authres;
pub mod confirmation;
pub mod forward;
pub mod html;
pub mod ingress;
pub mod labels;
pub mod message;
pub mod not_lead;
pub mod notice;
pub mod portals;
pub mod quoted_printable;
pub mod read;
pub mod route;
pub mod verdicts;

use crate::envelope::{Envelope, EnvelopeBuilder, OriginKind, Step};
use crate::lead::Assignee;
use crate::normalize::{NormalizeOptions, normalize};
use crate::web::ChannelPolicy;
pub use ingress::{Inbound, IngressError};
pub use message::{EmailError, Mailbox, Message};
pub use route::EmailSettings;
pub use verdicts::{Verdict, Verdicts};

/// What became of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A lead, to queue.
    Lead(Envelope),
    /// No lead: a bounce, an alert, a newsletter, or nothing to reach anyone by.
    NotALead { reason: String },
    /// Refused on the receiving service's verdicts (spam, virus, SPF/DKIM when required).
    Dropped { reason: String },
    /// A lead no routing rule places: to dead-letter with the reason.
    Unroutable { envelope: Envelope, reason: String },
    /// A mailbox provider's forwarding confirmation: kept for the operator with its code
    /// and link (`envelope` carries the message, and no step); `confirm` is the link Inlet
    /// may fetch itself (see `confirmation::confirm_link`).
    Confirmation {
        envelope: Envelope,
        confirmation: confirmation::ForwardingConfirmation,
        confirm: Option<url::Url>,
    },
}

impl Outcome {
    /// The label logs and metrics use.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Lead(_) => "queued",
            Outcome::NotALead { .. } => "not_a_lead",
            Outcome::Dropped { .. } => "spam",
            Outcome::Unroutable { .. } => "unroutable",
            Outcome::Confirmation { .. } => "forwarding_confirmation",
        }
    }
}

/// What `process` needs besides the message.
#[derive(Debug, Clone)]
pub struct EmailContext<'a> {
    pub settings: &'a EmailSettings,
    pub policy: &'a ChannelPolicy,
    pub normalize: NormalizeOptions,
    /// Whether a portal's layout and a forward are believed only from a proven sender
    /// (`Verdicts::authenticates`) and a forward only from a listed agent. On for mail
    /// Inlet receives; off where a person reads a file they chose (`inlet parse`), which
    /// carries no receiving server's verdicts: its content is taken as it reads.
    pub verify_senders: bool,
}

/// What a message's dead letter or kept item holds so that it can be read again with the
/// settings then in force (kept in `Envelope::source`), and what a person needs to find the
/// original: its Message-ID, sender, subject, and where SES stored it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredMail {
    /// How it came (`raw`, `ses`, `sendgrid`, …).
    pub provider: String,
    /// The envelope recipients it came for (headers may not name them).
    pub recipients: Vec<String>,
    /// The carrier's verdicts (a receipt's, a provider's fields), which the message's own
    /// headers do not repeat.
    pub verdicts: Verdicts,
    /// The whole MIME message, base64, when it came whole and is small enough to keep in a
    /// queue message (`INLINE_MAIL_LIMIT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_base64: Option<String>,
    /// The message as a provider parsed it, when it came as fields (no MIME to keep) and is
    /// small enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// Where SES stored it, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ingress::StoredObject>,
    /// Posted with the mail token, not the route's own: no server's header counts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unvouched: bool,
    /// Why it first failed: the history keeps it whatever a replay finds.
    pub first_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `Name <address>` of the From header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// The largest message a dead letter keeps inline: base64 makes it a third larger, and an
/// SQS message (256 KiB) holds the envelope besides.
pub const INLINE_MAIL_LIMIT: usize = 160 * 1024;

impl StoredMail {
    /// What `inbound`'s dead letter keeps, having failed for `reason`.
    pub fn of(inbound: &Inbound, reason: &str, inline: bool) -> StoredMail {
        use base64::Engine;
        let m = &inbound.message;
        let parsed_small = !inbound.mime
            && serde_json::to_vec(m).is_ok_and(|json| json.len() <= INLINE_MAIL_LIMIT);
        StoredMail {
            provider: inbound.provider.to_owned(),
            recipients: inbound.recipients.clone(),
            verdicts: inbound.verdicts.clone(),
            mime_base64: (inline && inbound.mime && inbound.raw.len() <= INLINE_MAIL_LIMIT)
                .then(|| base64::engine::general_purpose::STANDARD.encode(&inbound.raw)),
            message: (inline && parsed_small).then(|| m.clone()),
            object: inbound.stored.clone(),
            unvouched: inbound.unvouched,
            first_reason: reason.to_owned(),
            message_id: message_id(m),
            from: m.from.first().map(|f| match &f.name {
                Some(name) => format!("{name} <{}>", f.address),
                None => f.address.clone(),
            }),
            subject: Some(m.subject.clone()).filter(|s| !s.is_empty()),
        }
    }

    /// The message inline, when it is kept so.
    pub fn inline_mime(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(self.mime_base64.as_deref()?)
            .ok()
    }

    /// The message as it first came, from `raw` (its MIME, from the item or its bucket) or
    /// the parsed fields the item keeps.
    pub fn inbound(&self, raw: Option<Vec<u8>>) -> Result<Inbound, IngressError> {
        let provider = ingress::PROVIDERS
            .iter()
            .copied()
            .find(|p| *p == self.provider)
            .unwrap_or("raw");
        let mut inbound = match (raw.or_else(|| self.inline_mime()), &self.message) {
            (Some(raw), _) => ingress::from_raw(provider, raw)?,
            (None, Some(message)) => Inbound {
                provider,
                raw: serde_json::to_vec(message).unwrap_or_default(),
                message: message.clone(),
                mime: false,
                ..Inbound::default()
            },
            (None, None) => {
                return Err(IngressError::Malformed(match &self.object {
                    Some(at) => {
                        format!("the message is kept only in s3://{}/{}", at.bucket, at.key)
                    }
                    None => format!(
                        "{} posted its parsed fields and they were too large to keep; have it sent again",
                        self.provider
                    ),
                }));
            }
        };
        if !self.recipients.is_empty() {
            inbound.recipients = self.recipients.clone();
        }
        inbound.verdicts = self.verdicts.clone();
        inbound.stored = self.object.clone();
        inbound.unvouched = self.unvouched;
        Ok(inbound)
    }
}

/// A message's Message-ID, without its angle brackets.
fn message_id(message: &Message) -> Option<String> {
    message
        .header("message-id")
        .map(|m| m.trim().trim_matches(['<', '>']).to_owned())
        .filter(|m| !m.is_empty())
}

/// Reads a stored message again (`raw`, from the dead letter or its bucket) as it first
/// came, with `ctx`'s settings: what it becomes now. A lead carries a notice with the first
/// reason.
pub fn reread(
    stored: &StoredMail,
    raw: Vec<u8>,
    ctx: &EmailContext,
) -> Result<Outcome, IngressError> {
    let inbound = stored.inbound(Some(raw))?;
    let read_again = crate::normalize::Notice::ReadAgain {
        first_reason: stored.first_reason.clone(),
    };
    Ok(match process(&inbound, ctx) {
        Outcome::Lead(mut e) => {
            e.notices.push(read_again);
            Outcome::Lead(e)
        }
        Outcome::Unroutable {
            mut envelope,
            reason,
        } => {
            envelope.notices.push(read_again);
            Outcome::Unroutable { envelope, reason }
        }
        other => other,
    })
}

/// What a message not taken as a lead keeps for a person (mail read as no lead, mail the
/// receiving service called spam): an envelope with no step, in the channel its recipients
/// route to (none when no rule places it), the message in its `source`.
pub fn held_envelope(inbound: &Inbound, ctx: &EmailContext, reason: &str) -> Envelope {
    let channel = ctx
        .settings
        .route(&inbound.recipients, ctx.policy)
        .map(|r| r.channel)
        .unwrap_or_default();
    let envelope = EnvelopeBuilder::new(OriginKind::Email, "email", &channel, &inbound.raw)
        .event_id(message_id(&inbound.message).as_deref())
        .build();
    with_message(envelope, inbound, reason)
}

/// `envelope` with the message it came from as its `source`: inline when the whole stays
/// within `HELD_LIMIT`, else only its reference (where SES stored it, its Message-ID).
pub fn with_message(mut envelope: Envelope, inbound: &Inbound, reason: &str) -> Envelope {
    envelope.source = serde_json::to_value(StoredMail::of(inbound, reason, true)).ok();
    if serde_json::to_vec(&envelope).is_ok_and(|j| j.len() > HELD_LIMIT) {
        envelope.source = serde_json::to_value(StoredMail::of(inbound, reason, false)).ok();
    }
    envelope
}

/// The largest envelope a held message makes with the message inline: the store of kept
/// items takes 380 KiB (DynamoDB's items, 400 KB); past it, only where SES stored it.
pub const HELD_LIMIT: usize = 300 * 1024;

/// Why a kept message cannot be released as a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsLeadError {
    /// The message itself cannot be had or read.
    Unreadable(String),
    /// Nothing in it, nor its sender, gives a way to reach a person.
    NoLead(String),
}

/// Reads a kept message as the lead a person says it is, into `channel`, as the event
/// `event_id`: the receiving service's verdicts and the not-a-lead rules are set aside (the
/// person has read it), and when the message gives no email, phone or name, its sender's
/// own mailbox is the person and its words the note.
pub fn read_as_lead(
    stored: &StoredMail,
    raw: Option<Vec<u8>>,
    ctx: &EmailContext,
    channel: &str,
    event_id: &str,
) -> Result<Envelope, AsLeadError> {
    let inbound = stored
        .inbound(raw)
        .map_err(|e| AsLeadError::Unreadable(e.to_string()))?;
    let verdicts = verdicts(&inbound, ctx);
    let unwrapped = forward::unwrap(&inbound.message);
    let release = Release { channel, event_id };
    let (mut envelope, _) = read_lead(&inbound, ctx, &verdicts, unwrapped, Some(release))
        .map_err(|reason| AsLeadError::NoLead(format!("no lead can be read from it: {reason}")))?;
    envelope.notices.push(crate::normalize::Notice::ReadAgain {
        first_reason: stored.first_reason.clone(),
    });
    Ok(envelope)
}

/// Reads a file as Inlet receives mail: any provider's payload (detected), else raw MIME.
pub async fn inbound_from_file(
    raw: &[u8],
    mailgun_key: Option<&str>,
) -> Result<Inbound, IngressError> {
    match ingress::detect(raw) {
        ("sns", _) => ingress::from_ses_notification(&json(raw)?),
        ("sns-envelope", _) => {
            // The SNS envelope around it: its `Message` is the notification, as a string.
            let v = json(raw)?;
            let inner = v.get("Message").and_then(|m| m.as_str()).unwrap_or("");
            ingress::from_ses_notification(&json(inner.as_bytes())?)
        }
        ("raw", _) => ingress::from_raw("raw", raw.to_vec()),
        (provider, ct) => {
            ingress::from_http(
                provider,
                ct.as_deref().or(Some("application/json")),
                raw,
                mailgun_key,
                chrono::Utc::now().timestamp(),
            )
            .await
        }
    }
}

fn json(raw: &[u8]) -> Result<serde_json::Value, IngressError> {
    serde_json::from_slice(raw).map_err(|e| IngressError::Malformed(format!("not JSON: {e}")))
}

/// Reads a file as Inlet receives mail: CloudMailin JSON when it is that, else raw MIME.
pub fn message_from_bytes(raw: &[u8]) -> Result<Message, EmailError> {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{')
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw)
        && let Some(m) = Message::from_cloudmailin(&v)
    {
        return Ok(m);
    }
    Message::from_mime(raw)
}

fn refused_by_verdicts(v: &Verdicts, settings: &EmailSettings) -> Option<String> {
    if v.spam == Some(Verdict::Fail) {
        return Some("the receiving service's spam verdict is FAIL".into());
    }
    if v.virus == Some(Verdict::Fail) {
        return Some("the receiving service's virus verdict is FAIL".into());
    }
    if settings.require_spf && v.spf != Some(Verdict::Pass) {
        return Some(format!("SPF is required to pass and is {:?}", v.spf));
    }
    if settings.require_dkim && v.dkim != Some(Verdict::Pass) {
        return Some(format!("DKIM is required to pass and is {:?}", v.dkim));
    }
    if settings.require_dmarc && v.dmarc != Some(Verdict::Pass) {
        return Some(format!("DMARC is required to pass and is {:?}", v.dmarc));
    }
    None
}

/// The receiving service's verdicts on a message: the carrier's own (an SES receipt,
/// SendGrid's or Mailgun's fields in their authenticated post) first; what it did not
/// report, from the header of the server that received mail on that route
/// (`EmailSettings::receiving_server`), never from one a sender wrote.
fn verdicts(inbound: &Inbound, ctx: &EmailContext) -> Verdicts {
    let mut verdicts = inbound.verdicts.clone();
    if !inbound.unvouched
        && let Some(server) = ctx.settings.receiving_server(inbound.provider)
        && let Some(header) = authres::server_verdicts(&inbound.message, server)
    {
        verdicts.fill_from(header);
    }
    // A DMARC pass that names no domain (an SES receipt's) is for the message's own From
    // domain, and proves no other (a forwarder a header names, a quoted original's).
    if verdicts.dmarc == Some(Verdict::Pass) && verdicts.dmarc_domain.is_none() {
        verdicts.dmarc_domain = inbound
            .message
            .sole_from()
            .map(|m| domain_of(&m.address).to_ascii_lowercase())
            .filter(|d| !d.is_empty());
    }
    verdicts
}

/// Decides what a received message becomes.
pub fn process(inbound: &Inbound, ctx: &EmailContext) -> Outcome {
    let outer = &inbound.message;
    let verdicts = verdicts(inbound, ctx);
    if let Some(reason) = refused_by_verdicts(&verdicts, ctx.settings) {
        return Outcome::Dropped { reason };
    }
    // Before the not-lead rules, which would take it for an account notice.
    if let Some(found) = confirmation::recognize(outer) {
        let envelope = EnvelopeBuilder::new(
            OriginKind::Email,
            "forwarding-confirmation",
            "",
            &inbound.raw,
        )
        .event_id(message_id(outer).as_deref())
        .build();
        return Outcome::Confirmation {
            envelope,
            confirm: confirmation::confirm_link(&found, &verdicts, ctx.settings.confirm_forwarding),
            confirmation: found,
        };
    }
    let unwrapped = forward::unwrap(outer);
    if let Some(kind) = not_lead::classify(outer, &unwrapped.original) {
        return Outcome::NotALead {
            reason: kind.reason().to_owned(),
        };
    }
    match read_lead(inbound, ctx, &verdicts, unwrapped, None) {
        Ok((envelope, Ok(()))) => Outcome::Lead(envelope),
        Ok((envelope, Err(reason))) => Outcome::Unroutable { envelope, reason },
        Err(reason) => Outcome::NotALead {
            reason: format!("no lead in it: {reason}"),
        },
    }
}

/// A person's release of a kept message: the channel it goes to, and its event id.
struct Release<'a> {
    channel: &'a str,
    event_id: &'a str,
}

/// Reads the lead in a message that passed the gates (or that a person releases): the
/// envelope, and whether a routing rule placed it (the reason when none did); `Err` with
/// the reason when nothing reaches anyone. A release goes to its channel, and when the
/// message gives no email, phone or name, its sender's mailbox is the person.
fn read_lead(
    inbound: &Inbound,
    ctx: &EmailContext,
    verdicts: &Verdicts,
    mut unwrapped: forward::Unwrapped<'_>,
    release: Option<Release>,
) -> Result<(Envelope, Result<(), String>), String> {
    let outer = &inbound.message;
    // A forward counts as an agent's only when the agent sent it: a listed agent is the
    // message's own From, and the server authenticated that domain. A mailbox rule's
    // `X-Forwarded-For` is written by whoever composed the mail, so it names no agent that
    // counts. A portal's layout counts only from the portal's authenticated domain (the
    // message itself, or the original a mailbox rule passed on whole) or inside an agent's
    // forward.
    let outer_from = outer.sole_from().map(|m| m.address.to_ascii_lowercase());
    let trusted_forwarder = unwrapped.forwarded_by.as_ref().filter(|agent| {
        !ctx.verify_senders
            || (outer_from.as_deref() == Some(agent.address.as_str())
                && ctx.settings.is_agent(&agent.address)
                && verdicts.authenticates(domain_of(&agent.address)))
    });
    let original_is_outer = std::ptr::eq(&*unwrapped.original, outer);
    // Only the one sender of the message itself is what its verdicts are about.
    let original_from = unwrapped
        .original
        .sole_from()
        .map(|m| domain_of(&m.address).to_owned());
    let portals_trusted = !ctx.verify_senders
        || trusted_forwarder.is_some()
        || ((unwrapped.forwarded_by.is_none() || original_is_outer)
            && original_from
                .as_deref()
                .is_some_and(|d| verdicts.authenticates(d)));
    // The routing file's rules for the sender's labels (`[email.fields]`). Whoever writes the
    // From address picks them, which is safe: they change how labels are read, never where
    // the lead goes nor whether its sender is believed.
    let label_rules = unwrapped
        .original
        .from
        .first()
        .and_then(|f| ctx.settings.fields.for_sender(&f.address))
        .unwrap_or(labels::LabelRules::none());
    let read = portals::read_with_html(
        &unwrapped.original,
        unwrapped.html.take(),
        portals_trusted,
        label_rules,
    );
    // Agents forward vendors' notices, newsletters and alerts too: one from a no-reply or
    // notification sender that asks nothing is held for review as no lead (a person may
    // still release it), and its sender is never made a prospect.
    if read.notice_without_inquiry && release.is_none() {
        return Err(not_lead::NotALead::NoticeWithoutInquiry.reason().to_owned());
    }
    let (mut lead, portal) = (read.lead, read.portal);
    // Inlet's own addresses, the portal's recipient and the forwarding agent are never the
    // prospect.
    let not_prospect = |address: &str| {
        inbound.recipients.iter().any(|r| r == address)
            || unwrapped.original.to.iter().any(|m| m.address == address)
            || outer.to.iter().any(|m| m.address == address)
            || unwrapped
                .forwarded_by
                .as_ref()
                .is_some_and(|a| a.address == address)
    };
    if lead
        .email
        .as_deref()
        .is_some_and(|e| not_prospect(&e.trim().to_lowercase()))
    {
        lead.email = None;
    }
    if ctx.settings.forwarder_is_assignee
        && let Some(agent) = trusted_forwarder
    {
        let (first, last) = agent
            .name
            .as_deref()
            .map(crate::normalize::split_full_name)
            .unwrap_or((None, None));
        lead.assignees.push(Assignee {
            email: Some(agent.address.clone()),
            first_name: first,
            last_name: last,
            ..Assignee::default()
        });
    }
    let mut normalized = normalize(lead.clone(), &ctx.normalize);
    if normalized.is_err() && release.is_some() {
        // A person says it is a lead: its sender is the person, its words the note.
        let original = &unwrapped.original;
        if let Some(sender) = original
            .reply_to
            .first()
            .or(original.from.first())
            // A no-reply or notification sender is never the prospect, released or not.
            .filter(|m| !not_prospect(&m.address) && !read::is_machine_address(&m.address))
        {
            lead.email = Some(sender.address.clone());
            if lead.first_name.is_none() && lead.last_name.is_none() {
                lead.full_name = sender.name.clone();
            }
        }
        if lead.note.is_none() {
            let words = [
                Some(original.subject.trim()),
                original.text.as_deref().map(str::trim),
            ];
            let note = words
                .into_iter()
                .flatten()
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("\n\n");
            lead.note = Some(note).filter(|n| !n.is_empty());
        }
        normalized = normalize(lead, &ctx.normalize);
    }
    let mut normalized = normalized.map_err(|e| e.reason)?;
    if let Some(portal) = read.unproven {
        normalized
            .notices
            .push(crate::normalize::Notice::UnverifiedSender {
                portal: portal.source.to_owned(),
            });
    }
    if normalized.lead.phone_number.is_none()
        && normalized.lead.email.as_deref().is_some_and(read::is_relay)
    {
        normalized.notices.push(crate::normalize::Notice::Unsure {
            reason: "the only way to reach the person is the portal's relay address".into(),
        });
    }
    let sender = portal.map_or("email", |p| p.source).to_ascii_lowercase();
    let (channel, routed, event_id) = match &release {
        Some(r) => (r.channel.to_owned(), Ok(()), Some(r.event_id.to_owned())),
        None => match ctx.settings.route(&inbound.recipients, ctx.policy) {
            Ok(routed) => (routed.channel, Ok(()), message_id(outer)),
            Err(reason) => (String::new(), Err(reason), message_id(outer)),
        },
    };
    // Mail the generic reader took is profiled under its site's domain; a portal's layout
    // from an unproven sender under no one's (a forger is never counted as the portal).
    let profiled_as = match (portal, read.unproven) {
        (None, None) => portals::profile_source(&unwrapped.original),
        _ => None,
    };
    let envelope = EnvelopeBuilder::new(OriginKind::Email, &sender, &channel, &inbound.raw)
        .event_id(event_id.as_deref())
        .profiled_as(profiled_as)
        .step(Step::Capture {
            lead: normalized.lead,
            sender_lead_id: None,
        })
        .notices(normalized.notices)
        .build();
    Ok((envelope, routed))
}

/// The domain of an address, lower-case; empty when it has none.
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Every sample message the unit tests read: the project's fixtures, and the shared corpus's
/// when it is beside the project (as it is not in CI).
#[cfg(test)]
pub(crate) fn sample_messages() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["tests/fixtures/emails", "../../shared/corpus/emails"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                out.push(std::fs::read(path).unwrap());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORWARD: &str = "From: Agent Smith <agent.smith@brokerage.example>\r\nTo: leads@in.example.com\r\nSubject: Fwd: Mei Tanaka is interested in 77 Walnut Ave\r\nMessage-ID: <fwd-1@fixtures.example>\r\n\r\n---------- Forwarded message ---------\r\nFrom: Zillow <contact@premieragent.zillow.com>\r\nSubject: Mei Tanaka is interested in 77 Walnut Ave\r\nTo: <agent.smith@brokerage.example>\r\n\r\nMei Tanaka says:\r\n\"Can we see it on Friday?\"\r\nmei.tanaka@example.com\r\n(469) 555-0133\r\n";

    fn settings(agents: &[&str]) -> EmailSettings {
        EmailSettings {
            default_channel: Some("6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f".into()),
            forwarder_is_assignee: true,
            agents: agents.iter().map(|a| a.to_string()).collect(),
            ..EmailSettings::default()
        }
    }

    /// What mail SES stored becomes.
    fn outcome(raw: &str, settings: &EmailSettings, verify_senders: bool) -> Envelope {
        outcome_via("ses", raw, settings, verify_senders)
    }

    /// What mail that came by `provider` becomes.
    fn outcome_via(
        provider: &'static str,
        raw: &str,
        settings: &EmailSettings,
        verify_senders: bool,
    ) -> Envelope {
        let inbound = ingress::from_raw(provider, raw.as_bytes().to_vec()).unwrap();
        let ctx = EmailContext {
            settings,
            policy: &ChannelPolicy::AnyUuid,
            normalize: NormalizeOptions::default(),
            verify_senders,
        };
        match process(&inbound, &ctx) {
            Outcome::Lead(e) => e,
            other => panic!("{other:?}"),
        }
    }

    fn assignees(e: &Envelope) -> Vec<String> {
        match &e.steps[0] {
            Step::Capture { lead, .. } => lead
                .assignees
                .iter()
                .filter_map(|a| a.email.clone())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    const SES_AGENT_PASS: &str = "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=brokerage.example; dkim=pass header.d=brokerage.example; dmarc=pass header.from=brokerage.example\r\n";

    #[test]
    fn only_a_listed_agents_authenticated_forward_assigns_the_lead() {
        let signed = format!("{SES_AGENT_PASS}{FORWARD}");
        let listed = settings(&["brokerage.example"]);
        let by_address = settings(&["agent.smith@brokerage.example"]);
        let someone_else = settings(&["other.agent@brokerage.example"]);
        let forged_header = format!(
            "Authentication-Results: mx.attacker.example; dmarc=pass header.from=brokerage.example\r\n{FORWARD}"
        );
        for (what, raw, settings, assigned, sender) in [
            (
                "listed by domain, SES's pass",
                signed.as_str(),
                &listed,
                true,
                "zillow",
            ),
            (
                "listed by address, SES's pass",
                signed.as_str(),
                &by_address,
                true,
                "zillow",
            ),
            ("not listed", signed.as_str(), &someone_else, false, "email"),
            (
                "listed, no verdicts (a forged forward)",
                FORWARD,
                &listed,
                false,
                "email",
            ),
            (
                "listed, another server's pass",
                forged_header.as_str(),
                &listed,
                false,
                "email",
            ),
        ] {
            let e = outcome(raw, settings, true);
            assert_eq!(
                assignees(&e),
                if assigned {
                    vec!["agent.smith@brokerage.example".to_owned()]
                } else {
                    vec![]
                },
                "{what}"
            );
            assert_eq!(e.origin.sender, sender, "{what}");
        }
        // Posted over HTTP, the same header was written by whoever composed the mail: no
        // server in front of the route wrote it, so it proves nothing.
        let e = outcome_via("raw", &signed, &listed, true);
        assert_eq!(
            (assignees(&e).len(), e.origin.sender.as_str()),
            (0, "email")
        );
        // Unless the operator names the server that received the route's mail and wrote it.
        let mut behind_mx = listed.clone();
        behind_mx
            .verdicts_from
            .insert("raw".into(), "mx.brokerage.example".into());
        let e = outcome_via("raw", &signed, &behind_mx, true);
        assert_eq!(assignees(&e).len(), 0, "SES's name is not that server's");
        let mx_signed = signed.replace("amazonses.com;", "mx.brokerage.example;");
        let e = outcome_via("raw", &mx_signed, &behind_mx, true);
        assert_eq!(assignees(&e), ["agent.smith@brokerage.example"]);
        // …and on mail SES stored, that server's header is no one's word.
        let e = outcome_via("ses", &mx_signed, &behind_mx, true);
        assert_eq!(assignees(&e).len(), 0);
        // A file read by hand (`inlet parse`) is taken as it reads.
        let e = outcome(FORWARD, &settings(&[]), false);
        assert_eq!(assignees(&e), ["agent.smith@brokerage.example"]);
        assert_eq!(e.origin.sender, "zillow");
    }

    #[test]
    fn a_message_is_kept_inline_only_while_the_whole_fits() {
        let small = ingress::from_raw("raw", FORWARD.as_bytes().to_vec()).unwrap();
        let envelope = outcome(FORWARD, &settings(&[]), false);
        let kept = with_message(envelope.clone(), &small, "unsure");
        let stored: StoredMail = serde_json::from_value(kept.source.unwrap()).unwrap();
        assert_eq!(stored.inline_mime().unwrap(), FORWARD.as_bytes());
        assert_eq!(stored.message_id.as_deref(), Some("fwd-1@fixtures.example"));
        // A lead near the queue's limit with a message near the inline limit: the reference.
        let mut big = envelope;
        if let Step::Capture { lead, .. } = &mut big.steps[0] {
            lead.note = Some("n".repeat(200 * 1024));
        }
        let raw = format!("{FORWARD}{}", "x".repeat(150 * 1024));
        let large = ingress::from_raw("raw", raw.into_bytes()).unwrap();
        let kept = with_message(big, &large, "unsure");
        assert!(serde_json::to_vec(&kept).unwrap().len() <= HELD_LIMIT);
        let stored: StoredMail = serde_json::from_value(kept.source.unwrap()).unwrap();
        assert!(stored.mime_base64.is_none());
        assert_eq!(
            stored.subject.as_deref(),
            Some("Fwd: Mei Tanaka is interested in 77 Walnut Ave")
        );
    }

    #[test]
    fn require_dmarc_drops_mail_without_the_servers_pass() {
        let mut strict = settings(&[]);
        strict.require_dmarc = true;
        let ctx = EmailContext {
            settings: &strict,
            policy: &ChannelPolicy::AnyUuid,
            normalize: NormalizeOptions::default(),
            verify_senders: true,
        };
        let read =
            |raw: String| process(&ingress::from_raw("ses", raw.into_bytes()).unwrap(), &ctx);
        assert!(matches!(read(FORWARD.to_owned()), Outcome::Dropped { .. }));
        let beneath = format!(
            "Authentication-Results: amazonses.com; dmarc=fail header.from=brokerage.example\r\nAuthentication-Results: amazonses.com; dmarc=pass header.from=brokerage.example\r\n{FORWARD}"
        );
        assert!(matches!(read(beneath), Outcome::Dropped { .. }));
        assert!(matches!(
            read(format!("{SES_AGENT_PASS}{FORWARD}")),
            Outcome::Lead(_)
        ));
        // The same header on mail posted over HTTP is the sender's own: dropped (kept as
        // spam for a person), on every route posted to.
        for provider in ["raw", "postmark", "cloudmailin", "sendgrid", "mailgun"] {
            let inbound =
                ingress::from_raw(provider, format!("{SES_AGENT_PASS}{FORWARD}").into_bytes())
                    .unwrap();
            assert!(
                matches!(process(&inbound, &ctx), Outcome::Dropped { .. }),
                "{provider}"
            );
        }
    }
}
