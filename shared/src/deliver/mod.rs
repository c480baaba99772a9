//! Delivery: envelopes off the queue, to Rechat, in order per lead, losing nothing and
//! repeating nothing Inlet knows it has done. "What happens when Rechat answers 429" is
//! answered in this file.
//!
//! - Each message is read on its own: an unreadable one is dead-lettered with the reason
//!   and never fails the batch.
//! - Groups (leads) run concurrently, bounded; one group runs in order. A transient failure
//!   leaves the message for retry, and every later message of its group in the batch with
//!   it, so the group keeps its order. It comes back after a delay that doubles per receive
//!   (capped), or after a 429's `Retry-After` when that is longer.
//! - Transient failures are retried for `retry_for` (72 hours) from when the lead was
//!   received, however many receives that takes: a Rechat outage of hours delays leads and
//!   loses none. Past that the lead is dead-lettered with its last error. The queue's own
//!   receive limit (1,000) is only a backstop for a message that can never be processed.
//! - A permanent failure is dead-lettered at once, with the reason; the batch goes on.
//! - The ledger records each step as it completes: a capture already made is never made
//!   again, whatever fails after it; a retry resumes after the last finished step.
//! - A capture whose answer was lost (timeout, reset) may have created the lead: the retry
//!   may duplicate it. That cannot be told apart from a failure, so the ledger counts it.
//! - When calls fail across leads, Rechat is down for everyone (`crate::breaker`): leads
//!   are held without calling it, one probe at a time tests it, and its first answer
//!   releases them all. A 429's `Retry-After` holds every lead, not only the one it answered.

pub mod breaker;
pub mod view;

pub use breaker::Breaker;

use crate::breaker::{Admission, BreakerOptions, Transition};
use crate::envelope::{Envelope, IdSource, LeadRef, Step};
use crate::ledger::{
    Ledger, LedgerError, LedgerRecord, RecordStatus, SenderLink, StepState, sender_link_key,
};
use crate::mask;
use crate::queue::{DeadLetter, Queue, QueueMessage, VisibilityChange};
use crate::rechat::{CaptureOutcome, RechatApi, RechatError, TransientKind};
use futures::FutureExt;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Receives during which a follow-up waits for an earlier unfinished envelope of its lead.
pub const ORDER_WAIT_RECEIVES: u32 = 4;

/// Captures of the same content (same sender, channel and lead) received this close together
/// are one submission: a double click, a form posted twice, a sender retrying after a lost
/// answer, all within seconds to minutes. Not an hour: a person who asks again about the same
/// home after an hour is a second inquiry the agent must see. (SQS drops a repeat within 5
/// minutes by its deduplication id; the ledger extends that to this window.)
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How delivery behaves.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryOptions {
    /// Lead groups delivered at once.
    pub concurrency: usize,
    /// Content-identical envelopes received within this window are one submission.
    pub dedupe_window: Duration,
    /// First retry delay when Rechat gave none; doubles per receive, up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// How long after a lead was received its transient failures are still retried.
    pub retry_for: Duration,
    /// For leads fetched at delivery (Meta).
    pub normalize: crate::normalize::NormalizeOptions,
    /// When Rechat counts as down for everyone, and how it is probed.
    pub breaker: BreakerOptions,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            concurrency: 10,
            dedupe_window: DEDUPE_WINDOW,
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(300),
            retry_for: Duration::from_secs(72 * 3600),
            normalize: crate::normalize::NormalizeOptions::default(),
            breaker: BreakerOptions::default(),
        }
    }
}

impl DeliveryOptions {
    /// The delay before the `receive_count`-th retry: base × 2^(n−1), capped.
    pub fn backoff(&self, receive_count: u32) -> Duration {
        let exp = receive_count.saturating_sub(1).min(20);
        self.retry_base
            .saturating_mul(1u32 << exp)
            .min(self.retry_cap)
    }

    /// Whether a lead received at `received_at` has been retried as long as it may be.
    pub fn retry_window_over(&self, received_at: chrono::DateTime<chrono::Utc>) -> bool {
        (chrono::Utc::now() - received_at)
            .to_std()
            .is_ok_and(|age| age >= self.retry_for)
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Already delivered, or a repeat of an event already taken: nothing was sent.
    Duplicate,
    DeadLettered {
        reason: String,
    },
    /// Left on the queue; visible again after `retry_in`.
    Retry {
        error: String,
        retry_in: Duration,
    },
    /// Not attempted: an earlier message of its group failed in this batch.
    Blocked,
    /// A follow-up for a lead Rechat does not have: dead-lettered under its own cause
    /// (`queue::UNKNOWN_LEAD`), counted apart from the failures the alarm watches.
    UnknownLead {
        reason: String,
    },
    /// Not attempted: Rechat is down for everyone, or asked everyone to wait (429). Back on
    /// the queue after `retry_in`, or sooner when Rechat answers a probe.
    Held {
        reason: String,
        retry_in: Duration,
    },
}

impl Outcome {
    /// Whether the message stays on the queue (reported as a batch item failure).
    pub fn stays_queued(&self) -> bool {
        matches!(
            self,
            Outcome::Retry { .. } | Outcome::Blocked | Outcome::Held { .. }
        )
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Duplicate => "duplicate",
            Outcome::DeadLettered { .. } => "dead_lettered",
            Outcome::Retry { .. } => "retry",
            Outcome::Blocked => "blocked",
            Outcome::UnknownLead { .. } => "unknown_lead",
            Outcome::Held { .. } => "held",
        }
    }
}

/// The outcome of each message of a batch, in the batch's order.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport {
    pub outcomes: Vec<(String, Outcome)>,
}

impl BatchReport {
    /// Ids of the messages that stay on the queue.
    pub fn failed(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| o.stays_queued())
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// What delivery needs: Rechat, the ledger and the queue, each behind its narrow trait.
pub struct Delivery<'a> {
    pub rechat: &'a dyn RechatApi,
    pub ledger: &'a dyn Ledger,
    pub queue: &'a dyn Queue,
    pub options: DeliveryOptions,
    /// Meta's Graph API, for leads that arrive as ids only (none: such leads dead-letter).
    pub meta: Option<&'a dyn crate::meta_graph::MetaLeads>,
    /// Rechat's availability, shared by every lead this process delivers.
    pub breaker: &'a Breaker,
}

// A short-lived return value: boxing the record would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Opened {
    /// The record to work on; `capture_recorded` when its creation already counted the
    /// capture call about to be made (one ledger write instead of two).
    Record {
        record: LedgerRecord,
        capture_recorded: bool,
    },
    Duplicate,
}

enum StepDone {
    Done,
    Skipped(String),
}

enum StepError {
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    Permanent {
        error: String,
        status: Option<u16>,
    },
}

impl From<LedgerError> for StepError {
    fn from(e: LedgerError) -> Self {
        StepError::Transient {
            error: e.to_string(),
            retry_after: None,
        }
    }
}

impl From<RechatError> for StepError {
    fn from(e: RechatError) -> Self {
        match &e {
            RechatError::Transient { retry_after, .. } => StepError::Transient {
                error: e.to_string(),
                retry_after: *retry_after,
            },
            RechatError::Permanent { status, .. } => StepError::Permanent {
                error: e.to_string(),
                status: Some(*status),
            },
        }
    }
}

enum Resolved {
    Lead(String),
    Skip(String),
}

impl Delivery<'_> {
    /// Delivers one batch and says what became of each message.
    pub async fn deliver_batch(&self, messages: Vec<QueueMessage>) -> BatchReport {
        let ids: Vec<String> = messages.iter().map(|m| m.message_id.clone()).collect();
        let receipts: Vec<Option<String>> =
            messages.iter().map(|m| m.receipt_handle.clone()).collect();
        let groups = by_group(messages.into_iter().enumerate().collect());
        let mut outcomes: Vec<Option<Outcome>> = vec![None; ids.len()];
        let results: Vec<Vec<(usize, Outcome)>> = futures::stream::iter(groups)
            .map(|group| self.deliver_group(group))
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        for (i, outcome) in results.into_iter().flatten() {
            outcomes[i] = Some(outcome);
        }
        self.set_visibilities(&receipts, &outcomes).await;
        BatchReport {
            outcomes: ids
                .into_iter()
                .zip(outcomes)
                .map(|(id, o)| (id, o.unwrap_or(Outcome::Blocked)))
                .collect(),
        }
    }

    /// When what stays queued comes back, set for the whole batch at once (SQS: ten per
    /// call, where a FIFO queue takes 300 calls a second; during an outage every waiting
    /// lead is held this way).
    ///
    /// A failed message comes back after its delay. The ones behind it are made visible at
    /// once: FIFO yields nothing of a group whose head is in flight, so they wait behind it,
    /// in order, without counting as in flight themselves.
    async fn set_visibilities(&self, receipts: &[Option<String>], outcomes: &[Option<Outcome>]) {
        // Rechat answered a probe while these leads were being held: they go now, not when
        // a hold that nothing will release ends.
        let still_down = self.breaker.holding(&self.options.breaker).is_some();
        let changes: Vec<VisibilityChange> = receipts
            .iter()
            .zip(outcomes)
            .filter_map(|(receipt, outcome)| {
                let receipt = receipt.clone()?;
                let (delay, held) = match outcome.as_ref()? {
                    Outcome::Retry { retry_in, .. } => (*retry_in, false),
                    Outcome::Held { retry_in, .. } if still_down => (*retry_in, true),
                    Outcome::Held { .. } => (Duration::ZERO, true),
                    Outcome::Blocked => (Duration::ZERO, false),
                    _ => return None,
                };
                Some(VisibilityChange {
                    receipt,
                    seconds: delay.as_secs().min(43_200) as u32,
                    held,
                })
            })
            .collect();
        if changes.is_empty() {
            return;
        }
        if let Err(e) = self.queue.change_visibilities(&changes).await {
            tracing::warn!(messages = changes.len(), error = %e, "could not set the retry delays; they come back at the queue's visibility timeout");
        }
    }

    async fn deliver_group(&self, messages: Vec<(usize, QueueMessage)>) -> Vec<(usize, Outcome)> {
        let mut out = Vec::with_capacity(messages.len());
        let mut failed = false;
        for (i, message) in messages {
            let outcome = if failed {
                Outcome::Blocked
            } else {
                // One poisonous lead fails its own record, never the batch or the process
                // (the release profile unwinds on panic for this).
                match std::panic::AssertUnwindSafe(self.deliver_message(&message))
                    .catch_unwind()
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(panic) => self.panicked(&message, panic).await,
                }
            };
            failed |= outcome.stays_queued();
            out.push((i, outcome));
        }
        out
    }

    /// Delivers one message.
    pub async fn deliver_message(&self, message: &QueueMessage) -> Outcome {
        let envelope = match Envelope::from_json(&message.body) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(message_id = %message.message_id, error = %e, "unreadable envelope, dead-lettered");
                let peek: Option<serde_json::Value> = serde_json::from_str(&message.body).ok();
                let envelope_id = peek
                    .as_ref()
                    .and_then(|v| v.get("id"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                let dead = DeadLetter {
                    reason: format!("unreadable envelope: {e}"),
                    envelope_id,
                    group_id: group_id(message),
                    failed_step: None,
                    status: None,
                    cause: None,
                };
                return self.dead_letter(message, dead).await;
            }
        };
        // Held without a call while Rechat is down or pacing everyone; past the retry
        // window a lead is tried once more, and dead-lettered with what Rechat answers.
        let admission = self.breaker.admit(self.ledger, &self.options.breaker).await;
        if let Admission::Hold { retry_in, why } = &admission
            && !self.options.retry_window_over(envelope.received_at)
        {
            tracing::debug!(envelope = %envelope.id, retry_in_secs = retry_in.as_secs(), reason = %why, "held");
            return Outcome::Held {
                reason: why.clone(),
                retry_in: *retry_in,
            };
        }
        let outcome = match self.deliver_envelope(&envelope, message).await {
            // Failed while Rechat is down for everyone: held with the rest and released with
            // them, not left to its own backoff. A failed probe comes back when the next
            // probe is due, and is that probe.
            Outcome::Retry { error, retry_in } => {
                match self.breaker.down_hold(&self.options.breaker) {
                    Some(_) if admission == Admission::Probe => Outcome::Held {
                        reason: error,
                        retry_in: self.options.breaker.probe_every.max(Duration::from_secs(1)),
                    },
                    Some(hold) => Outcome::Held {
                        reason: error,
                        retry_in: hold.max(Duration::from_secs(1)),
                    },
                    None => Outcome::Retry { error, retry_in },
                }
            }
            other => other,
        };
        let channel = mask::id(&envelope.channel);
        match &outcome {
            Outcome::Retry { error, retry_in } => tracing::warn!(
                envelope = %envelope.id, sender = %envelope.origin.sender, channel = %channel,
                receive_count = message.receive_count, retry_in_secs = retry_in.as_secs(), error = %error,
                outcome = outcome.label(), "delivery will be retried"
            ),
            Outcome::Held { reason, retry_in } => tracing::warn!(
                envelope = %envelope.id, sender = %envelope.origin.sender, channel = %channel,
                receive_count = message.receive_count, retry_in_secs = retry_in.as_secs(), error = %reason,
                outcome = outcome.label(), "Rechat is down for everyone: held until it answers"
            ),
            Outcome::DeadLettered { reason } => tracing::error!(
                envelope = %envelope.id, sender = %envelope.origin.sender, channel = %channel,
                reason = %reason, outcome = outcome.label(), "dead-lettered"
            ),
            Outcome::UnknownLead { reason } => tracing::warn!(
                envelope = %envelope.id, sender = %envelope.origin.sender,
                reason = %reason, outcome = outcome.label(), "follow-up for a lead Rechat does not have, kept in the dead-letter queue"
            ),
            _ => tracing::info!(
                envelope = %envelope.id, sender = %envelope.origin.sender, channel = %channel,
                steps = envelope.steps.len(), outcome = outcome.label(), "lead processed"
            ),
        }
        if matches!(
            outcome,
            Outcome::Delivered
                | Outcome::DeadLettered { .. }
                | Outcome::UnknownLead { .. }
                | Outcome::Retry { .. }
        ) {
            crate::telemetry::count_lead(outcome.label(), &envelope.origin.sender);
        }
        if matches!(outcome, Outcome::Delivered) {
            crate::telemetry::speed_to_lead(chrono::Utc::now() - envelope.received_at);
        }
        outcome
    }

    async fn deliver_envelope(&self, envelope: &Envelope, message: &QueueMessage) -> Outcome {
        let (mut record, mut capture_recorded) = match self.open_record(envelope).await {
            Ok(Opened::Record {
                record,
                capture_recorded,
            }) => (record, capture_recorded),
            Ok(Opened::Duplicate) => return Outcome::Duplicate,
            Err(e) => return self.retry(message, format!("ledger: {e}"), None),
        };
        if record.status == RecordStatus::Delivered {
            return Outcome::Duplicate;
        }
        if record.steps.len() != envelope.steps.len() {
            let reason = format!(
                "the ledger holds {} steps for this envelope, which has {}",
                record.steps.len(),
                envelope.steps.len()
            );
            return self
                .dead_letter(message, dead_letter_of(envelope, reason, None, None))
                .await;
        }
        if let Some(outcome) = self.await_earlier_steps(envelope, &record, message).await {
            return outcome;
        }
        record.status = RecordStatus::InProgress;
        record.attempts += 1;

        for (i, step) in envelope.steps.iter().enumerate() {
            if record.steps[i].is_finished() {
                continue;
            }
            let result = self
                .run_step(envelope, &mut record, step, &mut capture_recorded)
                .await;
            match result {
                Ok(StepDone::Done) => record.steps[i] = StepState::Done,
                Ok(StepDone::Skipped(reason)) => {
                    tracing::warn!(envelope = %envelope.id, step = step.kind(), reason = %reason, "step skipped");
                    record.steps[i] = StepState::Skipped { reason };
                }
                Err(StepError::Transient { error, retry_after }) => {
                    record.steps[i] = StepState::Failed {
                        error: error.clone(),
                    };
                    record.last_error = Some(format!("{}: {error}", step.kind()));
                    if self.options.retry_window_over(envelope.received_at) {
                        let hours = self.options.retry_for.as_secs() / 3600;
                        let reason = format!(
                            "still failing {hours} hours after the lead was received (the retry window): {error}"
                        );
                        return self
                            .give_up(message, envelope, &mut record, step, reason, None)
                            .await;
                    }
                    // Best effort: the retry resumes from the ledger either way.
                    let _ = self.save(&mut record).await;
                    return self.retry(message, format!("{}: {error}", step.kind()), retry_after);
                }
                Err(StepError::Permanent { error, status }) => {
                    record.steps[i] = StepState::Failed {
                        error: error.clone(),
                    };
                    record.last_error = Some(format!("{}: {error}", step.kind()));
                    return self
                        .give_up(message, envelope, &mut record, step, error, status)
                        .await;
                }
            }
            // A capture must never be repeated: its result is written before any later
            // step runs. Other steps are written with the next save.
            let more = i + 1 < envelope.steps.len();
            if more
                && step.is_capture()
                && let Err(e) = self.save(&mut record).await
            {
                return self.retry(message, format!("ledger: {e}"), None);
            }
        }
        record.status = RecordStatus::Delivered;
        record.last_error = None;
        if let Err(e) = self.save(&mut record).await {
            // Every step is recorded as done already: the retry will find nothing to do.
            return self.retry(message, format!("ledger: {e}"), None);
        }
        Outcome::Delivered
    }

    /// A follow-up (activity, reassignment) waits while an earlier envelope of its lead is
    /// unfinished, so that one lead's steps reach Rechat in the order received even when the
    /// queue's order fails: a crashed consumer's stale receipt handle can release a FIFO group
    /// early (moto honours one). A capture needs no check: a follow-up on a capture already
    /// waits for its lead id. The index read may lag, so what it calls unfinished is read
    /// again by key. Past `ORDER_WAIT_RECEIVES` receives it goes on regardless: two requests
    /// for one lead taken at the same moment can be queued against their receive times, and
    /// waiting then would hold the lead until its dead-letter limit.
    async fn await_earlier_steps(
        &self,
        envelope: &Envelope,
        record: &LedgerRecord,
        message: &QueueMessage,
    ) -> Option<Outcome> {
        if envelope.steps.iter().any(Step::is_capture) {
            return None;
        }
        let unfinished = |r: &LedgerRecord| {
            r.key != record.key
                && r.received_at < envelope.received_at
                && matches!(r.status, RecordStatus::Queued | RecordStatus::InProgress)
        };
        let earlier = match self.ledger.records_for_lead(&envelope.lead_key).await {
            Ok(records) => records,
            Err(e) => return Some(self.retry(message, format!("ledger: {e}"), None)),
        };
        for candidate in earlier.iter().filter(|r| unfinished(r)) {
            let current = match self.ledger.get(&candidate.key).await {
                Ok(current) => current,
                Err(e) => return Some(self.retry(message, format!("ledger: {e}"), None)),
            };
            if !current.as_ref().is_some_and(unfinished) {
                continue;
            }
            if message.receive_count > ORDER_WAIT_RECEIVES {
                tracing::warn!(
                    envelope = %envelope.id, earlier = %candidate.key,
                    receive_count = message.receive_count,
                    "an earlier envelope of this lead is still unfinished; delivering anyway"
                );
                return None;
            }
            return Some(self.retry(
                message,
                format!(
                    "an earlier envelope of this lead ({}) is not delivered yet",
                    candidate.key
                ),
                None,
            ));
        }
        None
    }

    /// The ledger record for this envelope: new, resumed, or a duplicate's. Creating comes
    /// first: the conditional write finds an existing record anyway, and a new envelope,
    /// the common case, then costs one call.
    async fn open_record(&self, envelope: &Envelope) -> Result<Opened, LedgerError> {
        let starts_with_capture = envelope.steps.first().is_some_and(Step::is_capture);
        let mut fresh = LedgerRecord::new(envelope.id.clone(), envelope);
        if starts_with_capture {
            fresh.capture_calls = 1;
        }
        let existing = match self.ledger.create(&fresh).await? {
            None => {
                return Ok(Opened::Record {
                    record: fresh,
                    capture_recorded: starts_with_capture,
                });
            }
            Some(existing) => existing,
        };
        // Intake's own record of this envelope (possibly from an earlier attempt of the same
        // request, with another time), or this very envelope seen again.
        if existing.status == RecordStatus::Queued || existing.received_at == envelope.received_at {
            // The record becomes this message's: an earlier attempt's record keeps that
            // attempt's time (its message may never have reached the queue: the process
            // died before the 2xx, and the sender sent again), and this message's next
            // receive, after a failure, must be known as itself and not as a repeat.
            let mut record = existing;
            record.received_at = envelope.received_at;
            return Ok(Opened::Record {
                record,
                capture_recorded: false,
            });
        }
        let apart = (envelope.received_at - existing.received_at)
            .abs()
            .to_std()
            .unwrap_or_default();
        if envelope.id_source != IdSource::Content || apart < self.options.dedupe_window {
            tracing::info!(envelope = %envelope.id, first_received = %existing.received_at, "repeat of an envelope already taken");
            return Ok(Opened::Duplicate);
        }
        // The same content, sent again long after: a new submission with its own record.
        fresh.key = format!(
            "{}@{}",
            envelope.id,
            envelope.received_at.timestamp_millis()
        );
        Ok(match self.ledger.create(&fresh).await? {
            None => Opened::Record {
                record: fresh,
                capture_recorded: starts_with_capture,
            },
            Some(existing) => Opened::Record {
                record: existing,
                capture_recorded: false,
            },
        })
    }

    /// Writes the record's next version, retrying a ledger that is briefly unavailable.
    async fn save(&self, record: &mut LedgerRecord) -> Result<(), LedgerError> {
        record.version += 1;
        record.updated_at = chrono::Utc::now();
        let mut last = None;
        for pause_ms in [0u64, 50, 250] {
            if pause_ms > 0 {
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            }
            match self.ledger.update(record).await {
                Ok(()) => return Ok(()),
                Err(e @ LedgerError::Conflict { .. }) => {
                    last = Some(e);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        record.version -= 1;
        Err(last.expect("at least one attempt"))
    }

    async fn run_step(
        &self,
        envelope: &Envelope,
        record: &mut LedgerRecord,
        step: &Step,
        capture_recorded: &mut bool,
    ) -> Result<StepDone, StepError> {
        match step {
            Step::Capture {
                lead,
                sender_lead_id,
            } => {
                self.capture(
                    envelope,
                    record,
                    lead,
                    sender_lead_id.as_deref(),
                    capture_recorded,
                )
                .await
            }
            Step::FetchMetaLead { leadgen_id, .. } => {
                let Some(meta) = self.meta else {
                    return Err(StepError::Permanent {
                        error: "Meta sends this lead as an id only, and no page token is configured to fetch it (INLET_META_PAGE_TOKEN)".into(),
                        status: None,
                    });
                };
                let raw = meta.lead(leadgen_id).await?;
                let lead = crate::normalize::normalize(raw, &self.options.normalize)
                    .map_err(|e| StepError::Permanent {
                        error: format!("the lead Meta returned is {e}"),
                        status: None,
                    })?
                    .lead;
                self.capture(envelope, record, &lead, Some(leadgen_id), capture_recorded)
                    .await
            }
            Step::Activity { target, activity } => {
                match self.resolve(envelope, record, target).await? {
                    Resolved::Lead(id) => {
                        let started = std::time::Instant::now();
                        let result = self.rechat.timeline(&id, activity).await;
                        crate::telemetry::observe_rechat(started.elapsed());
                        self.observe(envelope, &result).await;
                        result?;
                        Ok(StepDone::Done)
                    }
                    Resolved::Skip(reason) => Ok(StepDone::Skipped(reason)),
                }
            }
            Step::Assign {
                target,
                assignees,
                lead,
            } => {
                // A reassignment of a lead Inlet never captured (it came before Inlet, or
                // its capture was lost) that carries the whole contact: captured with its
                // new agents, and known by the sender's id from then on.
                if let (Some(lead), LeadRef::Sender { sender, id }) = (lead, target) {
                    let key = sender_link_key(&envelope.channel, sender, id);
                    if self.ledger.sender_lead(&key).await?.is_none() {
                        tracing::info!(envelope = %envelope.id, sender = %sender, "reassignment of a lead never captured: captured with its new agents");
                        let mut lead = lead.clone();
                        lead.assignees = assignees.clone();
                        return self
                            .capture(envelope, record, &lead, Some(id), capture_recorded)
                            .await;
                    }
                }
                match self.resolve(envelope, record, target).await? {
                    Resolved::Lead(id) => {
                        let started = std::time::Instant::now();
                        let result = self.rechat.assign(&id, assignees).await;
                        crate::telemetry::observe_rechat(started.elapsed());
                        self.observe(envelope, &result).await;
                        result?;
                        Ok(StepDone::Done)
                    }
                    Resolved::Skip(reason) => Ok(StepDone::Skipped(reason)),
                }
            }
        }
    }

    /// Captures a lead, recording the call first and its result after.
    async fn capture(
        &self,
        envelope: &Envelope,
        record: &mut LedgerRecord,
        lead: &crate::lead::Lead,
        sender_lead_id: Option<&str>,
        capture_recorded: &mut bool,
    ) -> Result<StepDone, StepError> {
        // Recorded before the call: if the answer is lost, the ledger knows a lead
        // may exist. (A fresh record already counted it when it was created.)
        if !std::mem::take(capture_recorded) {
            // A call was begun before and no outcome recorded: the process stopped
            // mid-call, so Rechat may have created the lead.
            let capture = envelope.steps.iter().position(Step::is_capture);
            let unrecorded = capture.is_some_and(|i| record.steps[i] == StepState::Pending);
            if unrecorded && record.capture_calls > 0 {
                record.uncertain_captures += 1;
            }
            record.capture_calls += 1;
            self.save(record).await?;
        }
        let started = std::time::Instant::now();
        let result = self.rechat.capture(&envelope.channel, lead).await;
        crate::telemetry::observe_rechat(started.elapsed());
        self.observe(envelope, &result).await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                if let RechatError::Transient {
                    kind: TransientKind::Timeout | TransientKind::Connection,
                    ..
                } = &e
                {
                    record.uncertain_captures += 1;
                }
                return Err(e.into());
            }
        };
        let lead_id = match outcome {
            CaptureOutcome::Created { lead_id } => Some(lead_id),
            CaptureOutcome::AcceptedWithoutId { reason } => {
                tracing::warn!(envelope = %envelope.id, reason = %reason, "captured without a lead id");
                None
            }
        };
        if record.capture_calls > 1 && record.uncertain_captures > 0 {
            tracing::warn!(
                envelope = %envelope.id, capture_calls = record.capture_calls,
                uncertain = record.uncertain_captures,
                "captured after an attempt whose answer was lost: Rechat may hold a duplicate"
            );
        }
        record.rechat_lead_id = lead_id.clone();
        if let Some(sender_id) = sender_lead_id {
            let key = sender_link_key(&envelope.channel, &envelope.origin.sender, sender_id);
            let link = SenderLink {
                envelope_id: envelope.id.clone(),
                rechat_lead_id: lead_id,
            };
            if let Err(e) = self.ledger.link_sender_lead(&key, &link).await {
                // The capture is done and recorded below; a later event from this
                // sender will not find the lead, so say so loudly.
                tracing::error!(envelope = %envelope.id, error = %e, "could not record the sender's lead id");
            }
        }
        Ok(StepDone::Done)
    }

    /// Tells the breaker what Rechat answered; when that ends an outage, every held lead
    /// is released at once (where the queue can).
    async fn observe<T>(&self, envelope: &Envelope, result: &Result<T, RechatError>) {
        let transition = self
            .breaker
            .record(
                self.ledger,
                &self.options.breaker,
                &envelope.lead_key,
                result,
            )
            .await;
        if transition == Transition::Closed {
            match self.queue.release_held().await {
                Ok(released) => tracing::info!(released, "held leads released"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not release the held leads; they come back when their hold ends")
                }
            }
        }
    }

    /// The Rechat lead id a step acts on.
    async fn resolve(
        &self,
        envelope: &Envelope,
        record: &LedgerRecord,
        target: &LeadRef,
    ) -> Result<Resolved, StepError> {
        let no_id =
            |what: &str| Resolved::Skip(format!("{what} was accepted by Rechat without a lead id"));
        match target {
            LeadRef::Rechat { id } => Ok(Resolved::Lead(id.clone())),
            LeadRef::Captured => {
                let capture = envelope.steps.iter().position(Step::is_capture);
                match capture.map(|i| &record.steps[i]) {
                    None => Err(StepError::Permanent {
                        error: "the step refers to this envelope's capture, but it has none".into(),
                        status: None,
                    }),
                    Some(StepState::Done) => Ok(match &record.rechat_lead_id {
                        Some(id) => Resolved::Lead(id.clone()),
                        None => no_id("the capture"),
                    }),
                    Some(_) => Err(StepError::Permanent {
                        error: "the step comes before this envelope's capture".into(),
                        status: None,
                    }),
                }
            }
            LeadRef::Envelope { id } => match self.ledger.get(id).await? {
                Some(r) if r.rechat_lead_id.is_some() => {
                    Ok(Resolved::Lead(r.rechat_lead_id.unwrap_or_default()))
                }
                Some(r) if r.status == RecordStatus::Delivered => Ok(no_id("the lead's capture")),
                Some(r) if r.status == RecordStatus::DeadLettered => Err(StepError::Permanent {
                    error: format!(
                        "the lead's capture (envelope {id}) was dead-lettered; replay it first"
                    ),
                    status: None,
                }),
                Some(_) => Err(StepError::Transient {
                    error: format!("the lead's capture (envelope {id}) is not delivered yet"),
                    retry_after: None,
                }),
                None => Err(StepError::Permanent {
                    error: format!("no envelope {id} is known to the ledger"),
                    status: None,
                }),
            },
            LeadRef::Sender { sender, id } => {
                let key = sender_link_key(&envelope.channel, sender, id);
                match self.ledger.sender_lead(&key).await? {
                    Some(SenderLink {
                        rechat_lead_id: Some(lead),
                        ..
                    }) => Ok(Resolved::Lead(lead)),
                    Some(_) => Ok(no_id("the sender's lead")),
                    None => Err(StepError::Permanent {
                        error: format!("no lead is known for {sender} lead id {id}"),
                        status: None,
                    }),
                }
            }
        }
    }

    /// Dead-letters the envelope after its step failed for good, and says so in the ledger,
    /// where a follow-up of the same lead learns that its capture will not come.
    async fn give_up(
        &self,
        message: &QueueMessage,
        envelope: &Envelope,
        record: &mut LedgerRecord,
        step: &Step,
        reason: String,
        status: Option<u16>,
    ) -> Outcome {
        record.status = RecordStatus::DeadLettered;
        let outcome = self
            .dead_letter(
                message,
                dead_letter_of(envelope, reason, Some(step), status),
            )
            .await;
        if outcome.stays_queued() {
            record.status = RecordStatus::InProgress;
        }
        let _ = self.save(record).await;
        outcome
    }

    /// The delay before the message comes back: the backoff for its receive count, or
    /// Rechat's `Retry-After` when that is longer. Never less than the backoff: a server
    /// that kept asking for a second's wait would otherwise spend the queue's receives in
    /// minutes, where the backoff's cap spreads them over days.
    fn retry(
        &self,
        message: &QueueMessage,
        error: String,
        retry_after: Option<Duration>,
    ) -> Outcome {
        let backoff = self.options.backoff(message.receive_count);
        Outcome::Retry {
            error,
            retry_in: retry_after.map_or(backoff, |after| after.max(backoff)),
        }
    }

    /// A message whose delivery panicked: dead-lettered with what the panic said, since the
    /// same input would panic again on every receive.
    async fn panicked(
        &self,
        message: &QueueMessage,
        panic: Box<dyn std::any::Any + Send>,
    ) -> Outcome {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        tracing::error!(message_id = %message.message_id, panic = %what, "delivery panicked, dead-lettered");
        let envelope_id = Envelope::from_json(&message.body).ok().map(|e| e.id);
        let dead = DeadLetter {
            reason: format!("delivery panicked on this message: {what}"),
            envelope_id,
            group_id: group_id(message),
            failed_step: None,
            status: None,
            cause: None,
        };
        self.dead_letter(message, dead).await
    }

    async fn dead_letter(&self, message: &QueueMessage, dead: DeadLetter) -> Outcome {
        match self.queue.dead_letter(&message.body, &dead).await {
            Ok(()) if dead.cause.as_deref() == Some(crate::queue::UNKNOWN_LEAD) => {
                Outcome::UnknownLead {
                    reason: dead.reason,
                }
            }
            Ok(()) => Outcome::DeadLettered {
                reason: dead.reason,
            },
            // Never drop it: it stays on the queue until the dead-letter queue takes it.
            Err(e) => self.retry(message, format!("dead-letter queue: {e}"), None),
        }
    }
}

fn dead_letter_of(
    envelope: &Envelope,
    reason: String,
    step: Option<&Step>,
    status: Option<u16>,
) -> DeadLetter {
    // A follow-up Rechat answers 404 for names a lead it does not have: kept, not alarmed.
    let unknown_lead = status == Some(404) && step.is_some_and(|s| s.target().is_some());
    DeadLetter {
        reason: if unknown_lead {
            format!("unknown lead: Rechat has no such lead ({reason})")
        } else {
            reason
        },
        envelope_id: Some(envelope.id.clone()),
        group_id: envelope.lead_key.clone(),
        failed_step: step.map(|s| s.kind().to_owned()),
        status,
        cause: unknown_lead.then(|| crate::queue::UNKNOWN_LEAD.to_owned()),
    }
}

/// Messages (each with its place in the batch) split by FIFO group, groups in order of first
/// appearance, each group in the batch's order.
pub fn by_group(messages: Vec<(usize, QueueMessage)>) -> Vec<Vec<(usize, QueueMessage)>> {
    let mut groups: Vec<Vec<(usize, QueueMessage)>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (i, m) in messages {
        let slot = *group_of.entry(group_id(&m)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push((i, m));
    }
    groups
}

/// The message's FIFO group: SQS's own, else the envelope's `lead_key`, else the message
/// alone (an unreadable body blocks nothing but itself).
fn group_id(message: &QueueMessage) -> String {
    if let Some(g) = &message.group_id {
        return g.clone();
    }
    serde_json::from_str::<serde_json::Value>(&message.body)
        .ok()
        .and_then(|v| {
            v.get("lead_key")
                .and_then(|k| k.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| format!("message-{}", message.message_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let o = DeliveryOptions::default();
        assert_eq!(o.backoff(1), Duration::from_secs(2));
        assert_eq!(o.backoff(2), Duration::from_secs(4));
        assert_eq!(o.backoff(4), Duration::from_secs(16));
        assert_eq!(o.backoff(40), Duration::from_secs(300));
        assert_eq!(o.backoff(0), Duration::from_secs(2));
    }
}
