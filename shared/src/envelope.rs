//! The envelope: one queued unit of work, in versioned JSON.
//!
//! Its `id` is the dedupe key (SQS `MessageDeduplicationId`, the ledger's key), its
//! `lead_key` the ordering key (SQS `MessageGroupId`). Both are digests, so no personal data
//! sits in queue metadata.

use crate::lead::{Activity, Assignee, Lead};
use crate::normalize::Notice;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The only envelope version this build reads and writes.
pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub id: String,
    /// Where the id came from: the sender's own event id, or a digest of the content.
    pub id_source: IdSource,
    pub received_at: DateTime<Utc>,
    pub origin: Origin,
    /// The Rechat lead channel (a secret: mask it wherever it is shown).
    pub channel: String,
    pub lead_key: String,
    pub steps: Vec<Step>,
    /// What normalization left out, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// What the source that made it needs to read it again at replay, when its failure was
    /// its own (routing, reading) and not Rechat's: the source owns the format (mail:
    /// `email::StoredMail`). Only dead letters carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdSource {
    /// The sender's event id: a repeat of it is the same event, whenever it comes.
    Sender,
    /// A digest of the content: a repeat within the dedupe window is the same submission.
    Content,
    /// Its own event whatever its content (a follow-up without an event id or key).
    Distinct,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub kind: OriginKind,
    /// The sender or portal (`zapier`, `zillow`, `rechat-api`, …).
    pub sender: String,
    /// The sender's own id for this event, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// SHA-256 of the raw request or message, hex.
    pub raw_digest: String,
    /// The source its read is profiled under when it is not the sender
    /// (`Envelope::profile_source`): the sending site's domain, for mail the generic reader
    /// took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiled_as: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginKind {
    Webhook,
    Form,
    Email,
    Cli,
}

/// One thing to do at Rechat, in order.
// Most envelopes hold a capture; boxing it would only add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// Create the lead. `sender_lead_id` is the sender's id for it, remembered so that a
    /// later event from the same sender can find the Rechat lead.
    Capture {
        lead: Lead,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_lead_id: Option<String>,
    },
    Activity {
        target: LeadRef,
        activity: Activity,
    },
    Assign {
        target: LeadRef,
        assignees: Vec<Assignee>,
        /// The whole contact, when the sender gave it with the reassignment (Zillow's):
        /// captured with these agents when no lead is known for `target` (it came before
        /// Inlet, or its capture was lost), instead of a reassignment Rechat cannot place.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lead: Option<Lead>,
    },
    /// Fetch a Meta lead (known only by id) from the Graph API, then capture it, with what
    /// the sender's settings add to it (read when it was queued: delivery has no routing).
    FetchMetaLead {
        leadgen_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        form_id: Option<String>,
        /// The page whose token reads the lead (the default token when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_id: Option<String>,
        #[serde(default, skip_serializing_if = "LeadDefaults::is_empty")]
        defaults: LeadDefaults,
    },
}

/// What a sender's settings add to a lead that is read only at delivery (a Meta lead known
/// by id): tags, a lead source and agents where the lead names none, and whether a test
/// lead is dropped (`drop_test`) rather than tagged `test`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadDefaults {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<Assignee>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_test: bool,
}

impl LeadDefaults {
    pub fn is_empty(&self) -> bool {
        self == &LeadDefaults::default()
    }

    /// The lead with what the settings add: a test lead tagged `test`, the tags, the lead
    /// source and agents where it has none; `None` for a test lead `drop_test` drops. The one
    /// rule for a lead a sender sent and for one read at delivery.
    pub fn apply(
        &self,
        mut lead: crate::normalize::RawLead,
        test: bool,
    ) -> Option<crate::normalize::RawLead> {
        if test {
            if self.drop_test {
                return None;
            }
            lead.tags.push("test".into());
        }
        lead.tags.extend(self.tags.iter().cloned());
        if lead.lead_source.is_none() {
            lead.lead_source = self.lead_source.clone();
        }
        if lead.assignees.is_empty() {
            lead.assignees = self.assignees.clone();
        }
        Some(lead)
    }
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Capture { .. } => "capture",
            Step::Activity { .. } => "activity",
            Step::Assign { .. } => "assign",
            Step::FetchMetaLead { .. } => "fetch_meta_lead",
        }
    }

    /// Whether this step creates the lead (a capture, or a fetch that ends in one).
    pub fn is_capture(&self) -> bool {
        matches!(self, Step::Capture { .. } | Step::FetchMetaLead { .. })
    }

    pub fn target(&self) -> Option<&LeadRef> {
        match self {
            Step::Capture { .. } | Step::FetchMetaLead { .. } => None,
            Step::Activity { target, .. } | Step::Assign { target, .. } => Some(target),
        }
    }
}

/// Which Rechat lead a step acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ref", rename_all = "snake_case")]
pub enum LeadRef {
    /// The lead an earlier capture step of this envelope created.
    Captured,
    /// A Rechat lead id.
    Rechat { id: String },
    /// The lead captured by another envelope (Inlet's answer to a capture).
    Envelope { id: String },
    /// The lead a sender knows by its own id (`sender` as in [`Origin::sender`]).
    Sender { sender: String, id: String },
}

/// Why an envelope cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not an envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(
        "envelope version {found} is not known to this build (it reads version {ENVELOPE_VERSION})"
    )]
    UnknownVersion { found: u64 },
    #[error("envelope has no steps")]
    NoSteps,
}

impl Envelope {
    /// Reads an envelope, refusing a version this build does not know before reading the
    /// rest (a newer writer's fields must not be half-understood).
    pub fn from_json(body: &str) -> Result<Envelope, EnvelopeError> {
        let value: serde_json::Value = serde_json::from_str(body)?;
        match value.get("v").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(ENVELOPE_VERSION) => {}
            Some(found) => return Err(EnvelopeError::UnknownVersion { found }),
            None => return Err(EnvelopeError::UnknownVersion { found: 0 }),
        }
        let envelope: Envelope = serde_json::from_value(value)?;
        if envelope.steps.is_empty() {
            return Err(EnvelopeError::NoSteps);
        }
        Ok(envelope)
    }

    /// The envelope as a queue message's body. SQS refuses a body with characters outside
    /// XML's (`#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`): serde_json
    /// escapes the control characters already, and the two noncharacters U+FFFE and U+FFFF
    /// are escaped here, which reads back as the same text.
    pub fn to_json(&self) -> String {
        let json = serde_json::to_string(self).expect("an envelope always serializes");
        if json.contains(['\u{fffe}', '\u{ffff}']) {
            json.replace('\u{fffe}', "\\ufffe")
                .replace('\u{ffff}', "\\uffff")
        } else {
            json
        }
    }

    /// The capture step's lead, if this envelope captures one.
    pub fn captured_lead(&self) -> Option<&Lead> {
        self.steps.iter().find_map(|s| match s {
            Step::Capture { lead, .. } => Some(lead),
            _ => None,
        })
    }

    /// The lead source its read is profiled under (`crate::profile`): the portal or sender
    /// that read it, or for mail the generic reader took, the sending site's domain.
    pub fn profile_source(&self) -> &str {
        if let Some(source) = self.origin.profiled_as.as_deref() {
            return source;
        }
        let sender = self.origin.sender.as_str();
        // Envelopes queued before `Origin::profiled_as` was written: the lead source the generic
        // reader set, when it is a domain.
        if sender == "email"
            && let Some(domain) = self
                .captured_lead()
                .and_then(|l| l.lead_source.as_deref())
                .filter(|s| is_domain(s))
        {
            return domain;
        }
        sender
    }
}

/// A lower-case domain name (`newportal.example`), as the generic reader writes a site's.
fn is_domain(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// The digests a lead can be found by in the ledger (`ledger::search`): its email, its
/// phone and its channel, each alone. Digests, never the values, as `lead_key` is: the ledger
/// keeps no personal data, and a person who knows an email finds its envelopes.
pub fn find_keys(envelope: &Envelope) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(lead) = envelope.captured_lead() {
        keys.extend(lead.email.as_deref().map(find_key_email));
        keys.extend(lead.phone_number.as_deref().map(find_key_phone));
    }
    if !envelope.channel.is_empty() {
        keys.push(find_key_channel(&envelope.channel));
    }
    keys
}

/// The find key of an email as normalization writes it (lower-case).
pub fn find_key_email(email: &str) -> String {
    format!(
        "e-{}",
        digest(&[b"find-email", email.trim().to_lowercase().as_bytes()])
    )
}

/// The find key of a phone in E.164 (`+12145550123`), as normalization writes it.
pub fn find_key_phone(phone: &str) -> String {
    format!("p-{}", digest(&[b"find-phone", phone.trim().as_bytes()]))
}

/// The find key of a lead channel (a UUID, lower-case and hyphenated).
pub fn find_key_channel(channel: &str) -> String {
    format!(
        "h-{}",
        digest(&[b"find-channel", channel.trim().to_lowercase().as_bytes()])
    )
}

/// Hex SHA-256 of its parts, each length-prefixed so that ("ab","c") ≠ ("a","bc"),
/// cut to 128 bits: short enough for SQS ids, long enough never to collide.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Full hex SHA-256 of raw bytes, for `origin.raw_digest`.
pub fn raw_digest(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// The lead's identity for ordering: the sender's lead id when there is one (a later event
/// from that sender knows only that id, and must land in the same group so it cannot
/// overtake the capture), else channel plus email, else phone, else the given fallback
/// (the envelope id).
pub fn lead_key(
    channel: &str,
    lead: Option<&Lead>,
    sender_lead: Option<(&str, &str)>,
    fallback: &str,
) -> String {
    if let Some((sender, id)) = sender_lead {
        return sender_lead_key(channel, sender, id);
    }
    if let Some(email) = lead.and_then(|l| l.email.as_deref()) {
        return format!(
            "l-{}",
            digest(&[channel.as_bytes(), b"email", email.as_bytes()])
        );
    }
    if let Some(phone) = lead.and_then(|l| l.phone_number.as_deref()) {
        return format!(
            "l-{}",
            digest(&[channel.as_bytes(), b"phone", phone.as_bytes()])
        );
    }
    format!(
        "l-{}",
        digest(&[channel.as_bytes(), b"envelope", fallback.as_bytes()])
    )
}

/// The group of a lead known by a sender's lead id.
pub fn sender_lead_key(channel: &str, sender: &str, id: &str) -> String {
    format!(
        "l-{}",
        digest(&[
            channel.as_bytes(),
            b"sender",
            sender.as_bytes(),
            id.as_bytes()
        ])
    )
}

/// The group of a lead known by its Rechat id.
pub fn rechat_lead_key(channel: &str, rechat_lead_id: &str) -> String {
    format!(
        "l-{}",
        digest(&[channel.as_bytes(), b"rechat", rechat_lead_id.as_bytes()])
    )
}

/// A digest's 32 hex digits with a UUID's version (8: custom) and variant (RFC 9562) bits
/// set: 122 bits of the digest stay, and the id and the UUID that Rechat's own routes answer
/// for it (`answer_uuid`) name each other.
fn uuid_shaped(hex: String) -> String {
    let mut id = uuid::Uuid::parse_str(&hex)
        .map(|u| u.into_bytes())
        .unwrap_or_default();
    id[6] = (id[6] & 0x0f) | 0x80;
    id[8] = (id[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(id).simple().to_string()
}

/// The UUID Rechat's own routes answer for an envelope (`data.id`, where Rechat answers its
/// lead id): the envelope id's digits as a UUID.
pub fn answer_uuid(envelope_id: &str) -> String {
    let hex = envelope_id
        .strip_prefix("c-")
        .or_else(|| envelope_id.strip_prefix("e-"))
        .unwrap_or(envelope_id);
    // New ids are UUID-shaped already; an older one is shaped here (it was answered as
    // itself, `c-…`, and keeps resolving as that).
    let shaped = match uuid::Uuid::parse_str(hex) {
        Ok(_) => uuid_shaped(hex.to_owned()),
        Err(_) => uuid_shaped(digest(&[envelope_id.as_bytes()])),
    };
    uuid::Uuid::parse_str(&shaped)
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_default()
}

/// The envelope ids a UUID Inlet answered may stand for (one of the two is in the ledger),
/// or none when the UUID is not of Inlet's making (a Rechat lead id).
pub fn envelope_ids_answered_as(id: &uuid::Uuid) -> Option<[String; 2]> {
    let inlet_made = id.get_version_num() == 8 && id.get_variant() == uuid::Variant::RFC4122;
    let hex = id.simple().to_string();
    inlet_made.then(|| [format!("c-{hex}"), format!("e-{hex}")])
}

/// Inlet's own envelope ids: `c-` or `e-` and 32 hex digits.
pub fn is_envelope_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("c-").or_else(|| s.strip_prefix("e-")) else {
        return false;
    };
    rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id of the envelope of a sender's event in a channel: what a repeat of the event, by
/// whatever way it comes (Meta's webhook, or reconciliation), is known by.
pub fn sender_event_id(sender: &str, channel: &str, event_id: &str) -> String {
    format!(
        "e-{}",
        uuid_shaped(digest(&[
            sender.as_bytes(),
            channel.as_bytes(),
            event_id.trim().as_bytes()
        ]))
    )
}

/// Builds envelopes: the one way an intake makes one, so ids and keys are derived the same
/// everywhere.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    kind: OriginKind,
    sender: String,
    channel: String,
    event_id: Option<String>,
    /// Digested when the builder is made: a message of many megabytes is never copied.
    raw_digest: String,
    received_at: DateTime<Utc>,
    steps: Vec<Step>,
    notices: Vec<Notice>,
    lead_key: Option<String>,
    /// Set for an envelope that is never the same as another of the same content.
    distinct: Option<uuid::Uuid>,
    profiled_as: Option<String>,
}

impl EnvelopeBuilder {
    pub fn new(kind: OriginKind, sender: &str, channel: &str, raw: &[u8]) -> Self {
        EnvelopeBuilder {
            kind,
            sender: sender.to_owned(),
            channel: channel.to_owned(),
            event_id: None,
            raw_digest: raw_digest(raw),
            received_at: Utc::now(),
            steps: Vec::new(),
            notices: Vec::new(),
            lead_key: None,
            distinct: None,
            profiled_as: None,
        }
    }

    /// The source its read is profiled under, when not its sender (`Origin::profiled_as`).
    pub fn profiled_as(mut self, source: Option<String>) -> Self {
        self.profiled_as = source.filter(|s| !s.is_empty());
        self
    }

    /// Makes the envelope its own event, never one with another of the same content: an
    /// activity or reassignment that came without an event id or idempotency key. Three
    /// identical `ContactLoggedIn` posts a second apart are three logins, not a retried one.
    pub fn distinct(mut self) -> Self {
        self.distinct = Some(uuid::Uuid::new_v4());
        self
    }

    /// The sender's own id for this event: it becomes the dedupe key.
    pub fn event_id(mut self, id: Option<&str>) -> Self {
        self.event_id = id
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        self
    }

    pub fn received_at(mut self, at: DateTime<Utc>) -> Self {
        self.received_at = at;
        self
    }

    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    pub fn notices(mut self, notices: Vec<Notice>) -> Self {
        self.notices.extend(notices);
        self
    }

    /// Puts the envelope in a known lead's group (an activity joining its capture).
    pub fn lead_key(mut self, key: String) -> Self {
        self.lead_key = Some(key);
        self
    }

    pub fn build(self) -> Envelope {
        let (id, id_source) = match &self.event_id {
            Some(event) => (
                sender_event_id(&self.sender, &self.channel, event),
                IdSource::Sender,
            ),
            None => {
                let steps = serde_json::to_vec(&self.steps).expect("steps always serialize");
                let nonce = self.distinct.map(|n| n.into_bytes()).unwrap_or_default();
                let distinct: &[u8] = if self.distinct.is_some() { &nonce } else { &[] };
                (
                    format!(
                        "c-{}",
                        uuid_shaped(digest(&[
                            self.sender.as_bytes(),
                            self.channel.as_bytes(),
                            &steps,
                            distinct
                        ]))
                    ),
                    if self.distinct.is_some() {
                        IdSource::Distinct
                    } else {
                        IdSource::Content
                    },
                )
            }
        };
        let lead_key = self.lead_key.unwrap_or_else(|| {
            let capture = self.steps.iter().find_map(|s| match s {
                Step::Capture {
                    lead,
                    sender_lead_id,
                } => Some((Some(lead), sender_lead_id.as_deref())),
                Step::FetchMetaLead { leadgen_id, .. } => Some((None, Some(leadgen_id.as_str()))),
                _ => None,
            });
            match capture {
                Some((lead, sender_lead)) => lead_key(
                    &self.channel,
                    lead,
                    sender_lead.map(|id| (self.sender.as_str(), id)),
                    &id,
                ),
                None => match self.steps.iter().find_map(Step::target) {
                    Some(LeadRef::Rechat { id: lead }) => rechat_lead_key(&self.channel, lead),
                    Some(LeadRef::Sender { sender, id: lead }) => {
                        sender_lead_key(&self.channel, sender, lead)
                    }
                    _ => lead_key(&self.channel, None, None, &id),
                },
            }
        });
        Envelope {
            v: ENVELOPE_VERSION,
            id,
            id_source,
            received_at: self.received_at,
            origin: Origin {
                kind: self.kind,
                sender: self.sender,
                event_id: self.event_id,
                raw_digest: self.raw_digest,
                profiled_as: self.profiled_as,
            },
            channel: self.channel,
            lead_key,
            steps: self.steps,
            notices: self.notices,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::Action;
    use serde_json::json;

    const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

    fn lead(email: Option<&str>, phone: Option<&str>) -> Lead {
        Lead {
            first_name: Some("Ana".into()),
            email: email.map(Into::into),
            phone_number: phone.map(Into::into),
            ..Lead::default()
        }
    }

    fn capture(l: Lead) -> Step {
        Step::Capture {
            lead: l,
            sender_lead_id: None,
        }
    }

    #[test]
    fn the_sender_event_id_is_the_dedupe_key() {
        let a = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"one")
            .event_id(Some("evt-1"))
            .step(capture(lead(Some("a@example.com"), None)))
            .build();
        let b = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"two")
            .event_id(Some("evt-1"))
            .step(capture(lead(Some("b@example.com"), None)))
            .build();
        let other_sender = EnvelopeBuilder::new(OriginKind::Webhook, "typeform", CHANNEL, b"one")
            .event_id(Some("evt-1"))
            .step(capture(lead(Some("a@example.com"), None)))
            .build();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, other_sender.id);
        assert_eq!(a.id_source, IdSource::Sender);
        assert_eq!(a.origin.event_id.as_deref(), Some("evt-1"));
    }

    #[test]
    fn without_an_event_id_the_content_is_the_dedupe_key() {
        let make = |email: &str, channel: &str| {
            EnvelopeBuilder::new(OriginKind::Form, "website", channel, b"raw")
                .step(capture(lead(Some(email), None)))
                .build()
        };
        assert_eq!(
            make("a@example.com", CHANNEL).id,
            make("a@example.com", CHANNEL).id
        );
        assert_ne!(
            make("a@example.com", CHANNEL).id,
            make("b@example.com", CHANNEL).id
        );
        assert_ne!(
            make("a@example.com", CHANNEL).id,
            make("a@example.com", "00000000-0000-4000-8000-000000000000").id
        );
        assert_eq!(make("a@example.com", CHANNEL).id_source, IdSource::Content);
        // SQS limits: 128 characters for group and dedupe ids.
        assert!(make("a@example.com", CHANNEL).id.len() <= 128);
    }

    #[test]
    fn the_lead_key_is_sender_id_else_email_else_phone_else_envelope_and_holds_no_pii() {
        let by_email = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(capture(lead(Some("a@example.com"), Some("+12145550123"))))
            .build();
        let same_email_other_phone = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(capture(lead(Some("a@example.com"), Some("+12145550199"))))
            .build();
        let by_phone = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(capture(lead(None, Some("+12145550123"))))
            .build();
        let by_sender = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(Step::Capture {
                lead: lead(None, None),
                sender_lead_id: Some("42".into()),
            })
            .build();
        let by_envelope = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(capture(lead(None, None)))
            .build();
        assert_eq!(by_email.lead_key, same_email_other_phone.lead_key);
        assert_ne!(by_email.lead_key, by_phone.lead_key);
        assert_eq!(by_sender.lead_key, sender_lead_key(CHANNEL, "x", "42"));
        assert_ne!(by_envelope.lead_key, by_sender.lead_key);
        let sender_and_email = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(Step::Capture {
                lead: lead(Some("a@example.com"), None),
                sender_lead_id: Some("42".into()),
            })
            .build();
        assert_eq!(sender_and_email.lead_key, by_sender.lead_key);
        // A later activity from the same sender lands in the capture's group.
        let later = EnvelopeBuilder::new(OriginKind::Webhook, "x", CHANNEL, b"")
            .step(Step::Activity {
                target: LeadRef::Sender {
                    sender: "x".into(),
                    id: "42".into(),
                },
                activity: Activity::new(Action::ContactSignedUp, None, None, None).unwrap(),
            })
            .build();
        assert_eq!(later.lead_key, by_sender.lead_key);
        let json = by_email.to_json();
        let metadata = format!("{} {}", by_email.id, by_email.lead_key);
        assert!(!metadata.contains("example.com") && !metadata.contains("2145550123"));
        assert!(json.contains("a@example.com"), "the body carries the lead");
    }

    #[test]
    fn the_envelope_is_versioned_json_and_an_unknown_version_is_refused() {
        let env = EnvelopeBuilder::new(OriginKind::Cli, "cli", CHANNEL, b"raw")
            .step(capture(lead(Some("a@example.com"), None)))
            .step(Step::Assign {
                target: LeadRef::Captured,
                assignees: vec![Assignee {
                    email: Some("agent@example.com".into()),
                    ..Assignee::default()
                }],
                lead: None,
            })
            .build();
        let v: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["steps"][0]["type"], "capture");
        assert_eq!(v["steps"][0]["lead"]["email"], "a@example.com");
        assert_eq!(v["steps"][1]["target"], json!({"ref": "captured"}));
        assert_eq!(v["origin"]["raw_digest"].as_str().unwrap().len(), 64);
        assert_eq!(Envelope::from_json(&env.to_json()).unwrap(), env);

        let mut newer = v.clone();
        newer["v"] = json!(2);
        assert!(matches!(
            Envelope::from_json(&newer.to_string()),
            Err(EnvelopeError::UnknownVersion { found: 2 })
        ));
        let mut no_version = v.clone();
        no_version.as_object_mut().unwrap().remove("v");
        assert!(Envelope::from_json(&no_version.to_string()).is_err());
        assert!(matches!(
            Envelope::from_json("{not json"),
            Err(EnvelopeError::Malformed(_))
        ));
        let mut empty = v;
        empty["steps"] = json!([]);
        assert!(matches!(
            Envelope::from_json(&empty.to_string()),
            Err(EnvelopeError::NoSteps)
        ));
    }
}
