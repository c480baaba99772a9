//! Inquiry emails: every way a message arrives is normalized to a `Message`, and a lead is
//! read out of it. This is the foundation of issue 6: the generic readers (leadmetadata
//! tags, label/value pairs, headers) and `inlet parse email`; portal modules, forwarded
//! mail, not-a-lead detection and the ingress routes build on it.

pub mod message;
pub mod portals;
pub mod read;

use crate::envelope::{Envelope, EnvelopeBuilder, OriginKind, Step};
use crate::normalize::{NormalizeOptions, normalize};
pub use message::{EmailError, Mailbox, Message};

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

/// The envelope a message becomes, or why it is not a lead.
pub fn envelope(
    raw: &[u8],
    message: &Message,
    channel: &str,
    options: &NormalizeOptions,
) -> Result<Envelope, String> {
    let (lead, portal) = read::read(message);
    let normalized = normalize(lead, options).map_err(|e| e.reason)?;
    let sender = portal.map_or("email", |p| p.source).to_ascii_lowercase();
    let message_id = message
        .header("message-id")
        .map(|m| m.trim().trim_matches(['<', '>']).to_owned());
    Ok(
        EnvelopeBuilder::new(OriginKind::Email, &sender, channel, raw)
            .event_id(message_id.as_deref())
            .step(Step::Capture {
                lead: normalized.lead,
                sender_lead_id: None,
            })
            .notices(normalized.notices)
            .build(),
    )
}
