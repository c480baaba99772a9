//! Inquiry emails. Every way a message arrives is normalized to an `Inbound` (`ingress`);
//! then `process` decides, as a plain function: the receiving service's verdicts, forwards
//! unwrapped (`forward`), mail that is no lead set aside (`not_lead`), the lead read by its
//! portal's module or the generic reader (`portals`, `read`), normalized, and routed to a
//! channel by its recipients (`route`). The router and the `email` function act on the
//! outcome (queue it, dead-letter it).

pub mod forward;
pub mod html;
pub mod ingress;
pub mod message;
pub mod not_lead;
pub mod portals;
pub mod quoted_printable;
pub mod read;
pub mod route;

use crate::envelope::{Envelope, EnvelopeBuilder, OriginKind, Step};
use crate::lead::Assignee;
use crate::normalize::{NormalizeOptions, normalize};
use crate::web::ChannelPolicy;
pub use ingress::{Inbound, IngressError, Verdict, Verdicts};
pub use message::{EmailError, Mailbox, Message};
pub use route::EmailSettings;

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
}

impl Outcome {
    /// The label logs and metrics use.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Lead(_) => "queued",
            Outcome::NotALead { .. } => "not_a_lead",
            Outcome::Dropped { .. } => "spam",
            Outcome::Unroutable { .. } => "unroutable",
        }
    }
}

/// What `process` needs besides the message.
#[derive(Debug, Clone)]
pub struct EmailContext<'a> {
    pub settings: &'a EmailSettings,
    pub policy: &'a ChannelPolicy,
    pub normalize: NormalizeOptions,
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
    None
}

/// Decides what a received message becomes.
pub fn process(inbound: &Inbound, ctx: &EmailContext) -> Outcome {
    if let Some(reason) = refused_by_verdicts(&inbound.verdicts, ctx.settings) {
        return Outcome::Dropped { reason };
    }
    let outer = &inbound.message;
    let mut unwrapped = forward::unwrap(outer);
    if let Some(kind) = not_lead::classify(outer, &unwrapped.original) {
        return Outcome::NotALead {
            reason: kind.reason().to_owned(),
        };
    }
    let (mut lead, portal) = read::read_with_html(&unwrapped.original, unwrapped.html.take());
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
        && let Some(agent) = &unwrapped.forwarded_by
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
    let normalized = match normalize(lead, &ctx.normalize) {
        Ok(n) => n,
        Err(e) => {
            return Outcome::NotALead {
                reason: format!("no lead in it: {}", e.reason),
            };
        }
    };
    let sender = portal.map_or("email", |p| p.source).to_ascii_lowercase();
    let message_id = outer
        .header("message-id")
        .map(|m| m.trim().trim_matches(['<', '>']).to_owned());
    let routed = ctx.settings.route(&inbound.recipients, ctx.policy);
    let channel = routed.as_ref().map(|r| r.channel.as_str()).unwrap_or("");
    let envelope = EnvelopeBuilder::new(OriginKind::Email, &sender, channel, &inbound.raw)
        .event_id(message_id.as_deref())
        .step(Step::Capture {
            lead: normalized.lead,
            sender_lead_id: None,
        })
        .notices(normalized.notices)
        .build();
    match routed {
        Ok(_) => Outcome::Lead(envelope),
        Err(reason) => Outcome::Unroutable { envelope, reason },
    }
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
