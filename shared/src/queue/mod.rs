//! The queue between intake and delivery: a FIFO queue where a lead's envelopes keep their
//! order (group = `lead_key`) and a repeated envelope is dropped (dedupe id = envelope id),
//! with a dead-letter queue beside it. This is the port; `sqs` and `memory` implement it,
//! and so does the embedded store of `inlet serve` (`crate::embedded`), which no adapter
//! depends on.

pub mod memory;
#[cfg(feature = "aws")]
pub mod sqs;

use crate::envelope::Envelope;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One message as a consumer receives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: String,
    /// The handle that changes this receipt's visibility (absent in some test events).
    pub receipt_handle: Option<String>,
    pub body: String,
    /// The FIFO group; when absent the envelope's own `lead_key` is used.
    pub group_id: Option<String>,
    pub receive_count: u32,
    /// Not to be delivered before then: a message put back at the end of its group as a new
    /// one (`Queue::requeue`) carries what was left of its wait, since SQS FIFO has no
    /// per-message delay.
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a message went to the dead-letter queue: sent along as message attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_id: Option<String>,
    /// The FIFO group it came from, kept so that a replay lands in the same group.
    #[serde(default)]
    pub group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What kind of failure, when it is not one an operator must be alarmed by:
    /// [`UNKNOWN_LEAD`] for a follow-up naming a lead Rechat does not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The `cause` of a dead letter that is a follow-up (an activity, a reassignment) for a lead
/// Rechat answers 404 for: kept for the operator to see, under its own reason, but left out
/// of the dead-letter alarm (anyone who posts to a random lead id would otherwise hold it in
/// ALARM for every later real failure).
pub const UNKNOWN_LEAD: &str = "unknown_lead";

/// The `cause` of a dead letter that is a mailbox provider's forwarding confirmation, kept
/// for the operator to read its code and link: no lead, so never replayed.
pub const FORWARDING_CONFIRMATION: &str = "forwarding_confirmation";

/// The `cause` of a dead letter that is mail no routing rule placed: re-sent as it is, it
/// would only come back from Rechat as a 404 for its empty channel, so a replay reads it
/// again instead (`inlet dlq replay`, with the settings then in force).
pub const UNROUTABLE: &str = "unroutable";

/// The `cause` of a kept form submission taken for spam (honeypot, too fast, captcha): kept
/// for `spam_retention` (30 days on `inlet serve`; on AWS the dead-letter queue's 14, SQS's
/// longest), never replayed with the dead letters, released one at a time by a person
/// (`inlet spam release --id`).
pub const SPAM: &str = "spam";

/// The lead channel of `inlet serve`'s example form: never a real one. Rechat refuses it,
/// and its leads are dead-lettered under the cause [`DEMO`].
pub const DEMO_CHANNEL: &str = "00000000-0000-4000-8000-00000000de70";

/// The `cause` of a dead letter that is a lead of the example form: refused by Rechat as it
/// must be (its channel is no account's), shown as such, never alarmed on or replayed.
pub const DEMO: &str = "demo";

impl DeadLetter {
    /// Whether a replay may put it back on the queue as it is.
    pub fn replayable(&self) -> bool {
        !matches!(
            self.cause.as_deref(),
            Some(FORWARDING_CONFIRMATION | UNROUTABLE | SPAM | DEMO)
        )
    }

    /// Rechat refused the lead for what it holds (400, 422): sent again as it is, it fails
    /// the same way. A person corrects it (`deliver::correct`), or says to send it as it is
    /// (Rechat's rules changed).
    pub fn refused_for_content(&self) -> bool {
        self.cause.is_none() && matches!(self.status, Some(400 | 422))
    }

    /// Whether a plain replay sends it again: replayable, and not bound to fail the same way.
    pub fn replays(&self, as_is: bool) -> bool {
        self.replayable() && (as_is || !self.refused_for_content())
    }

    /// A lead that did not reach the agent and waits for a person: a failed delivery, or
    /// mail no rule placed. Not a follow-up for a lead Rechat does not have (anyone can post
    /// one), spam, or a forwarding confirmation (no lead).
    pub fn waits_for_person(&self) -> bool {
        matches!(self.cause.as_deref(), None | Some(UNROUTABLE))
    }
}

/// A message on the dead-letter queue, with why it is there.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadMessage {
    pub message_id: String,
    pub body: String,
    pub dead_letter: DeadLetter,
    pub sent_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Throttled, unreachable or failing: worth a retry later.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The queue will never take this message (characters it refuses, say): no retry helps.
    #[error("queue refused the message: {0}")]
    Refused(String),
    /// Larger than the queue takes.
    #[error("the message is {size} bytes, over the queue's {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
}

/// SQS's largest message: 256 KiB, its attributes included. Inlet's envelopes carry none.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The envelope as a message body, when the queue can take it: what every adapter sends,
/// and what intake checks before it records or acknowledges anything.
pub fn message_body(envelope: &Envelope) -> Result<String, QueueError> {
    let body = envelope.to_json();
    fits(&body)?;
    Ok(body)
}

/// Whether a body is within what the queue takes (SQS itself refuses a larger one, and
/// moto, the tests' SQS, would not).
pub fn fits(body: &str) -> Result<(), QueueError> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::TooLarge {
            size: body.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    Ok(())
}

/// How much waits on the queues, for `/health`, `inlet status` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Envelopes on the main queue: ready, being delivered, or waiting out a retry delay.
    pub waiting: u64,
    /// Of those, received and not yet finished (being delivered or back off after a try).
    pub in_flight: u64,
    /// The oldest waiting envelope's age, when the queue can tell (SQS keeps it only as the
    /// CloudWatch metric `ApproximateAgeOfOldestMessage`).
    pub oldest_waiting_secs: Option<u64>,
    /// Messages on the dead-letter queue, of every cause.
    pub dead_letters: u64,
}

/// When a received message comes back; `held`: held back while Rechat is down, so that
/// `release_held` may bring it back sooner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityChange {
    pub receipt: String,
    pub seconds: u32,
    pub held: bool,
}

/// The dead-letter queue as the console works it: list, release one back to delivery, delete.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn list(&self) -> Result<Vec<DeadMessage>, QueueError>;

    /// Puts the message back on the main queue at the end of its group, then removes it from
    /// the dead letters (a failure between the two leaves both, never neither; the ledger
    /// keeps a lead from being delivered twice). Whether it was there.
    async fn release(&self, message: &DeadMessage) -> Result<(), QueueError>;

    /// Deletes one for good. Whether it was there.
    async fn delete(&self, message_id: &str) -> Result<bool, QueueError>;
}

/// Whether a person may release a dead letter from the console: what a replay takes, and
/// kept spam (the person has read it). Unroutable mail needs a routing rule first (`inlet
/// dlq replay` reads it again); a forwarding confirmation is no lead.
pub fn releasable(dead: &DeadLetter) -> bool {
    dead.replayable() || dead.cause.as_deref() == Some(SPAM)
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Queues an envelope durably: once this returns, the envelope is not lost.
    async fn send(&self, envelope: &Envelope) -> Result<(), QueueError>;

    /// Puts a message that cannot be delivered on the dead-letter queue, with the reason.
    async fn dead_letter(&self, body: &str, dead_letter: &DeadLetter) -> Result<(), QueueError>;

    /// Makes a received message visible again after `seconds`.
    async fn change_visibility(&self, receipt_handle: &str, seconds: u32)
    -> Result<(), QueueError>;

    /// Whether the queue answers (for `/health`).
    async fn health(&self) -> Result<(), QueueError>;

    /// What waits, when the queue can count it (a test double may not).
    async fn backlog(&self) -> Result<Option<Backlog>, QueueError> {
        Ok(None)
    }

    /// Sets when each of a batch's messages comes back. By default one call each.
    async fn change_visibilities(&self, changes: &[VisibilityChange]) -> Result<(), QueueError> {
        for change in changes {
            if change.held {
                self.hold(&change.receipt, change.seconds).await?;
            } else {
                self.change_visibility(&change.receipt, change.seconds)
                    .await?;
            }
        }
        Ok(())
    }

    /// Returns a message held back while Rechat is down (the breaker). By default the same
    /// as `change_visibility`; a queue that can release held messages early marks them.
    async fn hold(&self, receipt_handle: &str, seconds: u32) -> Result<(), QueueError> {
        self.change_visibility(receipt_handle, seconds).await
    }

    /// Makes every held message visible now, when Rechat answers again; how many. SQS
    /// cannot (a visibility is changed only with the receipt in hand): its held messages
    /// come back when their hold ends.
    async fn release_held(&self) -> Result<usize, QueueError> {
        Ok(0)
    }

    /// The receives after which the queue moves a message to the dead-letter queue on its
    /// own, when it counts every receive whatever the consumer answered (SQS's redrive
    /// policy): waiting there spends the limit, so delivery puts a message that has spent
    /// half of it back as a new one. `None`: no such limit, or one that counts only the
    /// receives delivery never answered (the embedded store gives the others back).
    async fn receive_limit(&self) -> Result<Option<u32>, QueueError> {
        Ok(None)
    }

    /// Puts a received message back at the end of its group as a new message, whose
    /// receive count starts again, not to be delivered before `not_before`. The received one
    /// is then done with: the caller deletes it as it does a delivered one (until then, both
    /// are queued; the ledger keeps the lead from being delivered twice).
    async fn requeue(
        &self,
        message: &QueueMessage,
        not_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(), QueueError>;
}

/// The FIFO group a received message belongs to: the queue's own, else its envelope's
/// `lead_key` (an unreadable body: none).
pub fn group_of(message: &QueueMessage) -> Option<String> {
    if let Some(group) = &message.group_id {
        return Some(group.clone());
    }
    serde_json::from_str::<serde_json::Value>(&message.body)
        .ok()?
        .get("lead_key")?
        .as_str()
        .map(str::to_owned)
}
