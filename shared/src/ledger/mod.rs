//! The ledger: what happened to each envelope and its steps, keyed by envelope id.
//!
//! It makes delivery idempotent beyond SQS's 5-minute dedupe window, lets a later event find
//! the Rechat lead id for a sender's lead id, and answers "what happened to lead X". The
//! port; `dynamodb` and `memory` implement it, and so does `crate::embedded`.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod memory;
pub mod search;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::breaker::RechatState;

/// Where an envelope stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Recorded by intake before queueing; delivery has not started.
    Queued,
    InProgress,
    Delivered,
    DeadLettered,
}

/// Where one step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Done,
    /// Not run, and never will be, for the reason given (a 204 capture left no lead id).
    Skipped {
        reason: String,
    },
    /// The last attempt failed; it is retried (transient) or the envelope is dead-lettered.
    Failed {
        error: String,
    },
}

impl StepState {
    pub fn is_finished(&self) -> bool {
        matches!(self, StepState::Done | StepState::Skipped { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRecord {
    /// The ledger key: the envelope id, or `id@millis` for a content-identical envelope
    /// received again after the dedupe window.
    pub key: String,
    pub envelope_id: String,
    pub received_at: DateTime<Utc>,
    pub lead_key: String,
    pub sender: String,
    /// The lead source its read is profiled under, when it is not the sender (a mail
    /// domain the generic reader read): the console lists a drift's leads by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rechat_lead_id: Option<String>,
    pub steps: Vec<StepState>,
    /// Delivery attempts of this envelope.
    pub attempts: u32,
    /// Capture calls begun for it (counted before each call is made).
    pub capture_calls: u32,
    /// Capture calls whose answer was lost (timeout, broken connection): each may have
    /// created a lead in Rechat, so a later capture may be a duplicate.
    pub uncertain_captures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The lead channel, masked (`55f5…745f`): which account, not the credential.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    /// Digests of the lead's email, phone and channel (`envelope::find_keys`), for a person
    /// searching the ledger: never the values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub find: Vec<String>,
    /// Why the reading is unsure, when it is (`Notice::Unsure`): a copy is kept for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsure: Option<String>,
    /// What delivery keeps between receives to pace this envelope's retries.
    #[serde(default, skip_serializing_if = "Pacing::is_empty")]
    pub pacing: Pacing,
    /// Who the lead is, masked as logs mask them (`Ana S. · a…@example.com · …0123`): enough
    /// for a person to tell one lead from another, not enough to reach them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// Rechat's status when it refused the envelope for good (400: its content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rechat_status: Option<u16>,
    /// The envelope this one corrects (a dead letter's lead resent with fields fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// Bumped on every write; a write expects the version it read (optimistic locking).
    pub version: u64,
}

/// What paces an envelope's next try: its own failures, not the queue's receives (a receive
/// may end in a hold that made no call, which is no failed attempt).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pacing {
    /// Tries that failed while Rechat was up for everyone (a 5xx, a timeout, its own 429):
    /// the retry delay doubles with each.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    /// Receives a follow-up spent waiting for an earlier envelope of its lead.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub order_waits: u32,
    /// When its message was last put back at the end of its group as a new one (on SQS,
    /// before it spends the queue's receive limit waiting): a later envelope of its lead
    /// queued before then now stands ahead of it, and goes behind it in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeued_at: Option<DateTime<Utc>>,
}

impl Pacing {
    fn is_empty(&self) -> bool {
        *self == Pacing::default()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LedgerRecord {
    pub fn new(key: String, envelope: &crate::envelope::Envelope) -> Self {
        LedgerRecord {
            key,
            envelope_id: envelope.id.clone(),
            received_at: envelope.received_at,
            lead_key: envelope.lead_key.clone(),
            sender: envelope.origin.sender.clone(),
            source: Some(envelope.profile_source())
                .filter(|s| *s != envelope.origin.sender)
                .map(str::to_owned),
            status: RecordStatus::InProgress,
            rechat_lead_id: None,
            steps: vec![StepState::Pending; envelope.steps.len()],
            attempts: 0,
            capture_calls: 0,
            uncertain_captures: 0,
            last_error: None,
            updated_at: Utc::now(),
            channel: if envelope.channel.is_empty() {
                String::new()
            } else {
                crate::mask::id(&envelope.channel)
            },
            find: crate::envelope::find_keys(envelope),
            unsure: envelope
                .notices
                .iter()
                .find_map(|n| n.unsure())
                .map(str::to_owned),
            pacing: Pacing::default(),
            person: envelope.captured_lead().and_then(masked_person),
            rechat_status: None,
            corrects: None,
            version: 0,
        }
    }
}

/// A lead's name, email and phone as a person reads them in a listing, masked: the first
/// name and the last's initial, the email's first letter and domain, the phone's last four.
pub fn masked_person(lead: &crate::lead::Lead) -> Option<String> {
    let first = lead
        .first_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let last = lead
        .last_name
        .as_deref()
        .and_then(|s| s.trim().chars().next())
        .map(|c| format!("{c}."));
    let name = [first.map(str::to_owned), last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<String> = [
        (!name.is_empty()).then_some(name),
        lead.email.as_deref().map(crate::mask::email),
        lead.phone_number.as_deref().map(crate::mask::phone),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

impl LedgerRecord {
    /// The record intake writes before queueing an envelope.
    pub fn queued(envelope: &crate::envelope::Envelope) -> Self {
        LedgerRecord {
            status: RecordStatus::Queued,
            ..LedgerRecord::new(envelope.id.clone(), envelope)
        }
    }
}

/// What a sender's lead id maps to: the Rechat lead, when its id is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderLink {
    pub envelope_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rechat_lead_id: Option<String>,
}

/// The key of a sender's lead id in the ledger (a digest: no sender data in keys).
pub fn sender_link_key(channel: &str, sender: &str, sender_lead_id: &str) -> String {
    format!(
        "s-{}",
        crate::envelope::digest(&[
            channel.as_bytes(),
            sender.as_bytes(),
            sender_lead_id.as_bytes()
        ])
    )
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Another writer changed the record since it was read.
    #[error("ledger record {key} changed under us (expected version {expected})")]
    Conflict { key: String, expected: u64 },
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    #[error("ledger record {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}

#[async_trait]
pub trait Ledger: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<LedgerRecord>, LedgerError>;

    /// Stores a new record unless one with its key exists; returns the existing one then.
    async fn create(&self, record: &LedgerRecord) -> Result<Option<LedgerRecord>, LedgerError>;

    /// Stores `record`, whose `version` must be one more than the stored one.
    async fn update(&self, record: &LedgerRecord) -> Result<(), LedgerError>;

    async fn link_sender_lead(&self, key: &str, link: &SenderLink) -> Result<(), LedgerError>;

    async fn sender_lead(&self, key: &str) -> Result<Option<SenderLink>, LedgerError>;

    /// Every record of one lead (by `lead_key`), oldest first.
    async fn records_for_lead(&self, lead_key: &str) -> Result<Vec<LedgerRecord>, LedgerError>;

    /// Rechat's availability as every deliverer shares it (the default when none is stored).
    async fn rechat_state(&self) -> Result<RechatState, LedgerError>;

    /// Stores `state`, whose `version` must be one more than the stored one (`Conflict`
    /// otherwise: another deliverer wrote first).
    async fn put_rechat_state(&self, state: &RechatState) -> Result<(), LedgerError>;

    /// Records received since `since`, newest first, at most `limit`: what delivery did
    /// lately (`deliver::view`) and what the console lists. `None` where the ledger cannot
    /// be listed (a test double's, or a function's that keeps none).
    async fn records_since(
        &self,
        _since: DateTime<Utc>,
        _limit: usize,
    ) -> Result<Option<Vec<LedgerRecord>>, LedgerError> {
        Ok(None)
    }

    /// A document kept beside the envelopes under `key` (Meta reconciliation's cursors and
    /// figures), none when there is none. Unavailable where the ledger keeps none.
    async fn document(&self, _key: &str) -> Result<Option<Document>, LedgerError> {
        Err(no_documents())
    }

    /// Stores `doc` as `version` of `key`: version 1 where there is none yet, else one more
    /// than the stored one (`Conflict` otherwise: another writer wrote first). Documents do
    /// not expire.
    async fn put_document(&self, _key: &str, _doc: &str, _version: u64) -> Result<(), LedgerError> {
        Err(no_documents())
    }
}

/// A versioned document of the ledger's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub doc: String,
    pub version: u64,
}

fn no_documents() -> LedgerError {
    LedgerError::Unavailable("this ledger keeps no documents".into())
}

/// The conflict a `put_document` reports.
pub fn document_conflict(key: &str, version: u64) -> LedgerError {
    LedgerError::Conflict {
        key: key.to_owned(),
        expected: version.wrapping_sub(1),
    }
}

/// The key the breaker's state is kept under, beside the envelopes.
pub const RECHAT_STATE_KEY: &str = "rechat-availability";

/// The breaker's state from its stored document; none stored is Rechat available.
pub fn read_rechat_state(doc: Option<String>) -> Result<RechatState, LedgerError> {
    match doc {
        Some(doc) => serde_json::from_str(&doc).map_err(|e| LedgerError::Corrupt {
            key: RECHAT_STATE_KEY.into(),
            reason: e.to_string(),
        }),
        None => Ok(RechatState::default()),
    }
}

/// The conflict a `put_rechat_state` reports.
pub fn rechat_state_conflict(state: &RechatState) -> LedgerError {
    LedgerError::Conflict {
        key: RECHAT_STATE_KEY.into(),
        expected: state.version.wrapping_sub(1),
    }
}

/// The ledger of a function that keeps none: the `form` function, whose captures no
/// follow-up names, is granted no access to the table. Every call is refused (503).
pub struct NoLedger;

fn no_ledger() -> LedgerError {
    LedgerError::Unavailable("this function keeps no ledger".into())
}

#[async_trait]
impl Ledger for NoLedger {
    async fn get(&self, _: &str) -> Result<Option<LedgerRecord>, LedgerError> {
        Err(no_ledger())
    }
    async fn create(&self, _: &LedgerRecord) -> Result<Option<LedgerRecord>, LedgerError> {
        Err(no_ledger())
    }
    async fn update(&self, _: &LedgerRecord) -> Result<(), LedgerError> {
        Err(no_ledger())
    }
    async fn link_sender_lead(&self, _: &str, _: &SenderLink) -> Result<(), LedgerError> {
        Err(no_ledger())
    }
    async fn sender_lead(&self, _: &str) -> Result<Option<SenderLink>, LedgerError> {
        Err(no_ledger())
    }
    async fn records_for_lead(&self, _: &str) -> Result<Vec<LedgerRecord>, LedgerError> {
        Err(no_ledger())
    }
    async fn rechat_state(&self) -> Result<RechatState, LedgerError> {
        Err(no_ledger())
    }
    async fn put_rechat_state(&self, _: &RechatState) -> Result<(), LedgerError> {
        Err(no_ledger())
    }
}
