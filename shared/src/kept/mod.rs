//! What is kept for a person to look at, rather than delivered or lost: form submissions and
//! mail taken for spam, mail read as no lead, and leads whose reading is unsure (delivered,
//! and kept beside so that someone checks them). Each is kept with why, for a set time
//! (30 days by default), and a person may release one into a lead channel of their choice.
//!
//! This is the port; `memory` and `dynamodb` implement it (the DynamoDB one in the ledger's
//! table), and so does the embedded store of `inlet serve`. `release` is the one way a kept
//! item becomes a lead again, for the console and the CLI alike.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod memory;

use crate::email::{EmailContext, StoredMail};
use crate::envelope::{Envelope, EnvelopeBuilder, Step};
use crate::objects::ObjectStore;
use crate::queue::{Queue, QueueError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why something was kept instead of delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptKind {
    /// A form's spam checks (honeypot, fill time, captcha), or the receiving service's
    /// verdicts on mail (spam, virus, a required SPF, DKIM or DMARC pass missing).
    Spam,
    /// Mail read as no lead: a bounce, a notice, a newsletter, or nothing to reach anyone by.
    NotALead,
    /// A lead delivered with a reading that may be wrong or leave no way to reach the person.
    Unsure,
}

impl KeptKind {
    pub const ALL: [KeptKind; 3] = [KeptKind::Spam, KeptKind::NotALead, KeptKind::Unsure];

    pub fn as_str(self) -> &'static str {
        match self {
            KeptKind::Spam => "spam",
            KeptKind::NotALead => "not_a_lead",
            KeptKind::Unsure => "unsure",
        }
    }

    pub fn parse(name: &str) -> Option<KeptKind> {
        KeptKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name.replace('-', "_"))
    }
}

/// One kept thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptItem {
    /// `k-` and a digest of the kind and the envelope id: the same submission or message
    /// kept twice (a retried post, SES's retry) is one item.
    pub id: String,
    pub kind: KeptKind,
    pub reason: String,
    pub kept_at: DateTime<Utc>,
    /// The lead as read (form spam, an unsure reading); for mail, an envelope with no step
    /// whose `source` is the message (`email::StoredMail`: its reference, and the message
    /// itself when small enough).
    pub envelope: Envelope,
}

impl KeptItem {
    pub fn new(kind: KeptKind, reason: impl Into<String>, envelope: Envelope) -> KeptItem {
        KeptItem {
            id: item_id(kind, &envelope.id),
            kind,
            reason: reason.into(),
            kept_at: Utc::now(),
            envelope,
        }
    }

    /// The message it holds, when it is mail.
    pub fn mail(&self) -> Option<StoredMail> {
        serde_json::from_value(self.envelope.source.clone()?).ok()
    }

    /// Whether `id` names it: its own id, or the envelope id a form or sender was answered.
    pub fn is(&self, id: &str) -> bool {
        self.id == id || self.envelope.id == id
    }
}

/// The id of the item of `kind` keeping `envelope_id`.
pub fn item_id(kind: KeptKind, envelope_id: &str) -> String {
    format!(
        "k-{}",
        crate::envelope::digest(&[kind.as_str().as_bytes(), envelope_id.as_bytes()])
    )
}

#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    #[error("the store of kept items is unavailable: {0}")]
    Unavailable(String),
    #[error("kept item {id} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
    /// Larger than the store takes (DynamoDB's items are at most 400 KB).
    #[error("the item is {size} bytes, over the store's {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
}

/// The largest item any store keeps: DynamoDB's 400 KB, less room for its attributes. An
/// envelope is at most 256 KiB (the queue's limit) and a message kept inline 160 KiB as
/// base64 (`email::INLINE_MAIL_LIMIT`); what is larger keeps only where SES stored it.
pub const MAX_ITEM_BYTES: usize = 380 * 1024;

/// The item as stored: JSON, within `MAX_ITEM_BYTES`.
pub fn document(item: &KeptItem) -> Result<String, KeptError> {
    let doc = serde_json::to_string(item).expect("a kept item always serializes");
    if doc.len() > MAX_ITEM_BYTES {
        return Err(KeptError::TooLarge {
            size: doc.len(),
            limit: MAX_ITEM_BYTES,
        });
    }
    Ok(doc)
}

pub fn parse_document(id: &str, doc: &str) -> Result<KeptItem, KeptError> {
    serde_json::from_str(doc).map_err(|e| KeptError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

#[async_trait]
pub trait Kept: Send + Sync {
    /// Keeps an item until the store's retention ends; keeping one already kept changes
    /// nothing (it keeps its first time and reason).
    async fn keep(&self, item: &KeptItem) -> Result<(), KeptError>;

    /// The items of one kind, newest first, at most `limit`.
    async fn newest(&self, kind: KeptKind, limit: usize) -> Result<Vec<KeptItem>, KeptError>;

    /// How many of one kind are kept.
    async fn count(&self, kind: KeptKind) -> Result<u64, KeptError>;

    /// One item, by its id or its envelope's.
    async fn find(&self, id: &str) -> Result<Option<KeptItem>, KeptError>;

    /// Forgets one (released, or dismissed by a person). Whether it was there.
    async fn remove(&self, id: &str) -> Result<bool, KeptError>;
}

/// How many are kept, by kind (in `KeptKind::ALL`'s order).
pub type Counts = Vec<(KeptKind, u64)>;

/// How many of each kind are kept: the status's and the metrics' figures.
pub async fn counts(kept: &dyn Kept) -> Result<Counts, KeptError> {
    let mut out = Vec::new();
    for kind in KeptKind::ALL {
        out.push((kind, kept.count(kind).await?));
    }
    Ok(out)
}

/// The store of a process that keeps nothing itself (`inlet parse`, a dry run).
pub struct NothingKept;

#[async_trait]
impl Kept for NothingKept {
    async fn keep(&self, _: &KeptItem) -> Result<(), KeptError> {
        Err(KeptError::Unavailable("this process keeps nothing".into()))
    }
    async fn newest(&self, _: KeptKind, _: usize) -> Result<Vec<KeptItem>, KeptError> {
        Ok(Vec::new())
    }
    async fn count(&self, _: KeptKind) -> Result<u64, KeptError> {
        Ok(0)
    }
    async fn find(&self, _: &str) -> Result<Option<KeptItem>, KeptError> {
        Ok(None)
    }
    async fn remove(&self, _: &str) -> Result<bool, KeptError> {
        Ok(false)
    }
}

/// Why a kept item could not be released.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("nothing kept has the id {0:?}")]
    NotFound(String),
    #[error("{0}")]
    NeedsChannel(String),
    #[error(
        "{0:?} is not a lead channel this Inlet accepts now (not in the allowlist, or the demo form's): name one that is"
    )]
    UnknownChannel(String),
    #[error(
        "this lead was already delivered to that channel; dismiss it, or choose another channel"
    )]
    AlreadyDelivered,
    #[error("{0}")]
    NoLead(String),
    #[error("the message cannot be read again: {0}")]
    MessageGone(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] KeptError),
}

/// What a kept item becomes when a person releases it into `channel` (its own channel when
/// `None`): the lead it holds, or its message read again as a lead with the verdicts and
/// the not-a-lead rules set aside (the person has read it). `raw` is the message when the
/// item holds only where SES stored it. Received now: the retry window runs from the
/// release. The id is the item's and the channel's, so a release repeated after a failure
/// is the same event.
pub fn released_envelope(
    item: &KeptItem,
    channel: Option<&str>,
    raw: Option<Vec<u8>>,
    ctx: &EmailContext,
) -> Result<Envelope, ReleaseError> {
    let given = channel.map(str::trim).filter(|c| !c.is_empty());
    let wanted = match given {
        Some(c) => c,
        None if !item.envelope.channel.is_empty() => item.envelope.channel.as_str(),
        None => {
            return Err(ReleaseError::NeedsChannel(
                "no routing rule placed this message: name the lead channel to release it into"
                    .into(),
            ));
        }
    };
    // Its own channel too is admitted as it is now: it may have left the allowlist since,
    // and the demo form's channel reaches no Rechat account.
    let channel = ctx
        .policy
        .admit(wanted)
        .filter(|c| c != crate::queue::DEMO_CHANNEL)
        .ok_or_else(|| ReleaseError::UnknownChannel(wanted.to_owned()))?;
    if item.kind == KeptKind::Unsure && channel == item.envelope.channel {
        return Err(ReleaseError::AlreadyDelivered);
    }
    // One release per keeping: a repeat of this release (after a failure) is the same
    // event, but the same submission kept again later and released is a new one, which
    // the ledger must not take for the first.
    let event = format!("released:{}:{}", item.id, item.kept_at.timestamp_millis());
    let original = &item.envelope;
    if !original.steps.is_empty() {
        let mut builder = EnvelopeBuilder::new(
            original.origin.kind,
            &original.origin.sender,
            &channel,
            original.origin.raw_digest.as_bytes(),
        )
        .event_id(Some(&event))
        .notices(original.notices.clone());
        for step in &original.steps {
            builder = builder.step(step.clone());
        }
        let mut envelope = builder.build();
        envelope.origin.raw_digest = original.origin.raw_digest.clone();
        envelope.source = original.source.clone();
        return Ok(envelope);
    }
    let stored = item
        .mail()
        .ok_or_else(|| ReleaseError::MessageGone("it holds neither a lead nor a message".into()))?;
    crate::email::read_as_lead(&stored, raw, ctx, &channel, &event).map_err(|e| match e {
        crate::email::AsLeadError::Unreadable(why) => ReleaseError::MessageGone(why),
        crate::email::AsLeadError::NoLead(why) => ReleaseError::NoLead(why),
    })
}

/// The message a kept mail item holds only by reference: where SES stored it, when the
/// item does not carry it inline.
pub fn stored_object(item: &KeptItem) -> Option<crate::email::ingress::StoredObject> {
    let stored = item.mail()?;
    if stored.inline_mime().is_some() || stored.message.is_some() {
        return None;
    }
    stored.object
}

/// Releases the kept item `id` into `channel` (its own when `None`): its lead is queued,
/// then the item forgotten (a failure between the two leaves both, and a second release is
/// the same event, which the queue and the ledger take once). `objects` fetches a message
/// kept only where SES stored it.
pub async fn release(
    kept: &dyn Kept,
    queue: &dyn Queue,
    objects: Option<&dyn ObjectStore>,
    ctx: &EmailContext<'_>,
    id: &str,
    channel: Option<&str>,
) -> Result<(KeptItem, Envelope), ReleaseError> {
    let item = kept
        .find(id)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(id.to_owned()))?;
    let raw = match (stored_object(&item), objects) {
        (Some(at), Some(objects)) => Some(
            objects
                .get(
                    &at.bucket,
                    &at.key,
                    crate::email::ingress::MAX_STORED_MAIL_BYTES,
                )
                .await
                .map_err(|e| ReleaseError::MessageGone(e.to_string()))?,
        ),
        (Some(at), None) => {
            return Err(ReleaseError::MessageGone(format!(
                "it is kept only in s3://{}/{}, which this process cannot read (release it with `inlet review release --stack`)",
                at.bucket, at.key
            )));
        }
        (None, _) => None,
    };
    let envelope = released_envelope(&item, channel, raw, ctx)?;
    queue.send(&envelope).await?;
    kept.remove(&item.id).await?;
    tracing::info!(
        kept = %item.id, kind = item.kind.as_str(), envelope = %envelope.id,
        channel = %crate::mask::id(&envelope.channel), "a kept item was released as a lead"
    );
    Ok((item, envelope))
}

/// What a person needs to tell a buyer from a bot: who the item names and what it says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The lead's note, or the message's subject.
    pub text: Option<String>,
    /// For mail: who sent it, its subject and Message-ID, and where SES stored it.
    pub from: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub stored_at: Option<String>,
}

pub fn summary(item: &KeptItem) -> Summary {
    let mut out = Summary::default();
    if let Some(lead) = item.envelope.steps.iter().find_map(|s| match s {
        Step::Capture { lead, .. } => Some(lead),
        _ => None,
    }) {
        let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        out.name = Some(name).filter(|n| !n.is_empty());
        out.email = lead.email.clone();
        out.phone = lead.phone_number.clone();
        out.text = lead
            .note
            .as_deref()
            .map(|n| n.chars().take(200).collect::<String>());
    }
    if let Some(mail) = item.mail() {
        out.from = mail.from.clone();
        out.subject = mail.subject.clone();
        out.message_id = mail.message_id.clone();
        out.stored_at = mail.object.map(|o| format!("s3://{}/{}", o.bucket, o.key));
        if out.text.is_none() {
            out.text = mail.subject;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::EmailSettings;
    use crate::envelope::OriginKind;
    use crate::lead::Lead;
    use crate::normalize::NormalizeOptions;
    use crate::web::ChannelPolicy;

    const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
    const OTHER: &str = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";

    fn lead_envelope(channel: &str) -> Envelope {
        EnvelopeBuilder::new(OriginKind::Form, "website-form", channel, b"raw")
            .step(Step::Capture {
                lead: Lead {
                    first_name: Some("Rosa".into()),
                    email: Some("rosa@example.com".into()),
                    ..Lead::default()
                },
                sender_lead_id: None,
            })
            .build()
    }

    fn ctx<'a>(settings: &'a EmailSettings, policy: &'a ChannelPolicy) -> EmailContext<'a> {
        EmailContext {
            settings,
            policy,
            normalize: NormalizeOptions::default(),
            verify_senders: true,
        }
    }

    #[test]
    fn the_same_envelope_kept_twice_is_one_item_and_kinds_differ() {
        let e = lead_envelope(CHANNEL);
        let a = KeptItem::new(KeptKind::Spam, "honeypot", e.clone());
        let b = KeptItem::new(KeptKind::Spam, "too fast", e.clone());
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, KeptItem::new(KeptKind::Unsure, "x", e.clone()).id);
        assert!(a.is(&e.id) && a.is(&a.id) && !a.is("k-other"));
        assert_eq!(KeptKind::parse("not-a-lead"), Some(KeptKind::NotALead));
        assert_eq!(KeptKind::parse("bogus"), None);
    }

    #[test]
    fn a_release_goes_to_its_own_channel_or_an_admitted_one_once_per_channel() {
        let settings = EmailSettings::default();
        let only = ChannelPolicy::from_list(&[CHANNEL.into(), OTHER.into()]);
        let ctx = ctx(&settings, &only);
        let item = KeptItem::new(KeptKind::Spam, "honeypot", lead_envelope(CHANNEL));
        let same = released_envelope(&item, None, None, &ctx).unwrap();
        assert_eq!(same.channel, CHANNEL);
        assert_eq!(
            same.captured_lead().unwrap().email,
            item.envelope.captured_lead().unwrap().email
        );
        assert_ne!(same.id, item.envelope.id, "a new event, received now");
        assert_eq!(
            released_envelope(&item, None, None, &ctx).unwrap().id,
            same.id,
            "a repeated release is the same event"
        );
        let elsewhere = released_envelope(&item, Some(&OTHER.to_uppercase()), None, &ctx).unwrap();
        assert_eq!(elsewhere.channel, OTHER, "in canonical form");
        assert_ne!(elsewhere.lead_key, same.lead_key);
        assert!(matches!(
            released_envelope(
                &item,
                Some("7a1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f"),
                None,
                &ctx
            ),
            Err(ReleaseError::UnknownChannel(_))
        ));
        assert!(matches!(
            released_envelope(&item, Some("not a channel"), None, &ctx),
            Err(ReleaseError::UnknownChannel(_))
        ));
        // An unsure reading was delivered: only another channel takes it again.
        let unsure = KeptItem::new(KeptKind::Unsure, "only a name", lead_envelope(CHANNEL));
        assert!(matches!(
            released_envelope(&unsure, None, None, &ctx),
            Err(ReleaseError::AlreadyDelivered)
        ));
        assert_eq!(
            released_envelope(&unsure, Some(OTHER), None, &ctx)
                .unwrap()
                .channel,
            OTHER
        );
    }

    #[test]
    fn its_own_channel_too_must_be_admitted_now_and_never_the_demo_forms() {
        let settings = EmailSettings::default();
        // The channel left the allowlist after the item was kept.
        let now_only_other = ChannelPolicy::from_list(&[OTHER.into()]);
        let narrowed = ctx(&settings, &now_only_other);
        let item = KeptItem::new(KeptKind::Spam, "honeypot", lead_envelope(CHANNEL));
        assert!(matches!(
            released_envelope(&item, None, None, &narrowed),
            Err(ReleaseError::UnknownChannel(_))
        ));
        assert_eq!(
            released_envelope(&item, Some(OTHER), None, &narrowed)
                .unwrap()
                .channel,
            OTHER
        );
        // The demo form's spam: no Rechat account's channel, even where any UUID is taken.
        let any = ChannelPolicy::AnyUuid;
        let open = ctx(&settings, &any);
        let demo = KeptItem::new(
            KeptKind::Spam,
            "honeypot",
            lead_envelope(crate::queue::DEMO_CHANNEL),
        );
        assert!(matches!(
            released_envelope(&demo, None, None, &open),
            Err(ReleaseError::UnknownChannel(_))
        ));
        assert!(matches!(
            released_envelope(&demo, Some(crate::queue::DEMO_CHANNEL), None, &open),
            Err(ReleaseError::UnknownChannel(_))
        ));
        assert!(released_envelope(&demo, Some(CHANNEL), None, &open).is_ok());
    }

    #[test]
    fn the_same_submission_kept_again_later_is_released_as_a_new_event() {
        let settings = EmailSettings::default();
        let policy = ChannelPolicy::AnyUuid;
        let ctx = ctx(&settings, &policy);
        let first = KeptItem::new(KeptKind::Spam, "honeypot", lead_envelope(CHANNEL));
        let mut again = first.clone();
        again.kept_at = first.kept_at + chrono::Duration::days(2);
        assert_eq!(first.id, again.id, "one item while it is kept");
        let a = released_envelope(&first, None, None, &ctx).unwrap();
        let b = released_envelope(&again, None, None, &ctx).unwrap();
        assert_ne!(a.id, b.id, "released after being kept again: a new event");
        assert_eq!(
            a.id,
            released_envelope(&first, None, None, &ctx).unwrap().id,
            "a retried release of the same keeping is the same event"
        );
    }

    #[test]
    fn mail_no_rule_placed_needs_a_channel_and_a_stepless_item_without_mail_is_said() {
        let settings = EmailSettings::default();
        let policy = ChannelPolicy::AnyUuid;
        let ctx = ctx(&settings, &policy);
        let bare = EnvelopeBuilder::new(OriginKind::Email, "email", "", b"raw").build();
        let item = KeptItem::new(KeptKind::NotALead, "a newsletter", bare.clone());
        assert!(matches!(
            released_envelope(&item, None, None, &ctx),
            Err(ReleaseError::NeedsChannel(_))
        ));
        assert!(matches!(
            released_envelope(&item, Some(CHANNEL), None, &ctx),
            Err(ReleaseError::MessageGone(_))
        ));
    }
}
