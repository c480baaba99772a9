//! Delivery: envelopes off the queue, to Rechat, in order per lead, losing nothing and
//! repeating nothing Inlet knows it has done. "What happens when Rechat answers 429" is
//! answered in this file.
//!
//! - Each message is read on its own: an unreadable one is dead-lettered with the reason
//!   and never fails the batch.
//! - Groups (leads) run concurrently, bounded; one group runs in order. A transient failure
//!   leaves the message for retry, and every later message of its group in the batch with
//!   it, so the group keeps its order. It comes back after a delay that doubles with each of
//!   the lead's own failed tries (capped; counted in the ledger), or after a 429's
//!   `Retry-After` when that is longer. A hold (Rechat down or pacing everyone) or a wait
//!   for an earlier envelope of the lead made no call and is no failed try.
//! - Transient failures are retried for `retry_for` (72 hours) from when the lead was
//!   received, however many receives that takes: the retry window is the only limit on
//!   waiting. Past it the lead is dead-lettered with its last error. The queue's receive
//!   limit only catches a message that can never be processed (delivery stops or hangs on
//!   it each time): the embedded store counts only such receives, and SQS, which counts
//!   every receive, gets a message that has spent half its limit waiting back as a new one
//!   (`waiting`), and the last receive it allows is dead-lettered here, with a reason.
//! - A permanent failure is dead-lettered at once, with the reason; the batch goes on.
//! - The ledger records each step as it completes: a capture already made is never made
//!   again, whatever fails after it; a retry resumes after the last finished step.
//! - A capture whose answer was lost (timeout, reset) may have created the lead: the retry
//!   may duplicate it. That cannot be told apart from a failure, so the ledger counts it.
//! - When calls fail across leads, Rechat is down for everyone (`crate::breaker`): leads
//!   are held without calling it, one probe at a time tests it, and its first answer
//!   releases them all. A 429's `Retry-After` holds every lead, not only the one it answered.

pub mod breaker;
pub mod correct;
pub mod lookup;
pub mod view;
mod waiting;

pub use breaker::Breaker;
pub use waiting::{ORDER_WAITS, requeue_after};

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

/// The longest a message waits between two receives: SQS's longest visibility. A longer
/// wait (a 429's `Retry-After` of a day) is waited again after it.
const LONGEST_WAIT: Duration = Duration::from_secs(43_200);

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
    /// When a source's reads count as drifting (`crate::profile`).
    pub drift: crate::profile::DriftRule,
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
            drift: crate::profile::DriftRule::default(),
        }
    }
}

impl DeliveryOptions {
    /// The delay after the `n`-th failed try: base × 2^(n−1), capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = n.saturating_sub(1).min(20);
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

    /// Why a lead is given up on, when its retry window is over: it is still `doing`
    /// ("failing", "waiting"), and `last` is what it last met.
    fn given_up(
        &self,
        received_at: chrono::DateTime<chrono::Utc>,
        doing: &str,
        last: &str,
    ) -> Option<String> {
        self.retry_window_over(received_at).then(|| {
            let hours = self.retry_for.as_secs() / 3600;
            format!(
                "still {doing} {hours} hours after the lead was received (the retry window): {last}"
            )
        })
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
    /// Not attempted, and no failure: it waits for an earlier envelope of its lead, or out
    /// the rest of a delay it was put back with. Back on the queue after `retry_in`.
    Waiting {
        reason: String,
        retry_in: Duration,
    },
    /// Put back at the end of its group as a new message (and the one received deleted):
    /// waiting had spent half the queue's receive limit, or an earlier envelope of its lead
    /// went back behind it.
    Requeued {
        reason: String,
    },
}

impl Outcome {
    /// Whether the message stays on the queue (reported as a batch item failure).
    pub fn stays_queued(&self) -> bool {
        matches!(
            self,
            Outcome::Retry { .. }
                | Outcome::Blocked
                | Outcome::Held { .. }
                | Outcome::Waiting { .. }
        )
    }

    /// When a message that stays queued comes back: its delay, and whether it is held for
    /// Rechat (released early when Rechat answers). `still_down`: a hold whose outage ended
    /// meanwhile is over. `None`: it does not stay.
    fn comes_back(&self, still_down: bool) -> Option<(Duration, bool)> {
        match self {
            Outcome::Retry { retry_in, .. } | Outcome::Waiting { retry_in, .. } => {
                Some((*retry_in, false))
            }
            Outcome::Held { retry_in, .. } if still_down => Some((*retry_in, true)),
            Outcome::Held { .. } => Some((Duration::ZERO, true)),
            Outcome::Blocked => Some((Duration::ZERO, false)),
            _ => None,
        }
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
            Outcome::Waiting { .. } => "waiting",
            Outcome::Requeued { .. } => "requeued",
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
    /// Nothing to call yet: the step needs an earlier envelope of its lead delivered first.
    Waiting(String),
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
        let limit = self.receive_limit().await;
        let ids: Vec<String> = messages.iter().map(|m| m.message_id.clone()).collect();
        let receipts: Vec<Option<String>> =
            messages.iter().map(|m| m.receipt_handle.clone()).collect();
        let received = messages.clone();
        let groups = by_group(messages.into_iter().enumerate().collect());
        let mut outcomes: Vec<Option<Outcome>> = vec![None; ids.len()];
        let results: Vec<Vec<(usize, Outcome)>> = futures::stream::iter(groups)
            .map(|group| self.deliver_group(group, limit))
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        for (i, outcome) in results.into_iter().flatten() {
            outcomes[i] = Some(outcome);
        }
        self.requeue_worn(&received, limit, &mut outcomes).await;
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
                let (delay, held) = outcome.as_ref()?.comes_back(still_down)?;
                Some(VisibilityChange {
                    receipt,
                    seconds: delay.min(LONGEST_WAIT).as_secs() as u32,
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

    /// The queue's receive limit when it counts every receive (SQS); `None` when it does not,
    /// or cannot say now (nothing is put back this time).
    async fn receive_limit(&self) -> Option<u32> {
        match self.queue.receive_limit().await {
            Ok(limit) => limit,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the queue's receive limit; no message is put back in this batch");
                None
            }
        }
    }

    async fn deliver_group(
        &self,
        messages: Vec<(usize, QueueMessage)>,
        limit: Option<u32>,
    ) -> Vec<(usize, Outcome)> {
        let mut out = Vec::with_capacity(messages.len());
        let mut stopped = false;
        for (i, message) in messages {
            let outcome = if stopped {
                Outcome::Blocked
            } else if limit.is_some_and(|limit| {
                message.receive_count >= limit && message.receive_count > requeue_after(limit)
            }) {
                self.never_answered(&message).await
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
            // The rest of the group waits behind one that stays, or went back to the end of
            // the group: delivering it now would overtake.
            stopped |= outcome.stays_queued() || matches!(outcome, Outcome::Requeued { .. });
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
        // Put back at the end of its group with part of its wait left (SQS FIFO takes no
        // delay per message): the rest of the wait, without a call. Never past the retry
        // window, whatever the attribute says.
        if let Some(at) = message.not_before.filter(|at| *at > chrono::Utc::now())
            && !self.options.retry_window_over(envelope.received_at)
        {
            let left = (at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(LONGEST_WAIT);
            return Outcome::Waiting {
                reason: format!(
                    "put back at the end of its group; its wait runs until {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                retry_in: whole_seconds(left),
            };
        }
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
            // Neither a step's failure nor a wait (the ledger or the dead-letter queue
            // unavailable) past the retry window: given up on like a step's failure.
            Outcome::Retry { error, .. }
                if self.options.retry_window_over(envelope.received_at) =>
            {
                let reason = self
                    .options
                    .given_up(envelope.received_at, "failing", &error)
                    .unwrap_or(error);
                self.dead_letter(message, dead_letter_of(&envelope, reason, None, None))
                    .await
            }
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
            Outcome::Waiting { reason, retry_in } => tracing::info!(
                envelope = %envelope.id, sender = %envelope.origin.sender,
                retry_in_secs = retry_in.as_secs(), reason = %reason, outcome = outcome.label(), "waiting"
            ),
            Outcome::Requeued { reason } => tracing::info!(
                envelope = %envelope.id, sender = %envelope.origin.sender,
                reason = %reason, outcome = outcome.label(), "put back at the end of its group"
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
            // No record to read the lead's own failures from: its receives stand in.
            Err(e) => return self.retry(message.receive_count, format!("ledger: {e}"), None),
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
        if let Some(outcome) = self
            .await_earlier_steps(envelope, &mut record, message)
            .await
        {
            return outcome;
        }
        record.status = RecordStatus::InProgress;
        record.attempts += 1;
        if record.attempts == 1 {
            self.profile(envelope).await;
        }

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
                    if let Some(reason) =
                        self.options
                            .given_up(envelope.received_at, "failing", &error)
                    {
                        return self
                            .give_up(message, envelope, &mut record, step, reason, None)
                            .await;
                    }
                    // A failure of the lead's own, unless Rechat is down for everyone (this very
                    // call may be what showed it): then the lead is held with the rest.
                    if self.breaker.down_hold(&self.options.breaker).is_none() {
                        record.pacing.failures += 1;
                    }
                    // Best effort: the retry resumes from the ledger either way.
                    let _ = self.save(&mut record).await;
                    return self.retry(
                        record.pacing.failures,
                        format!("{}: {error}", step.kind()),
                        retry_after,
                    );
                }
                Err(StepError::Waiting(reason)) => {
                    record.last_error = Some(format!("{}: {reason}", step.kind()));
                    if let Some(reason) =
                        self.options
                            .given_up(envelope.received_at, "waiting", &reason)
                    {
                        return self
                            .give_up(message, envelope, &mut record, step, reason, None)
                            .await;
                    }
                    record.pacing.order_waits += 1;
                    let _ = self.save(&mut record).await;
                    return Outcome::Waiting {
                        reason,
                        retry_in: self.options.backoff(record.pacing.order_waits),
                    };
                }
                Err(StepError::Permanent { error, status }) => {
                    record.steps[i] = StepState::Failed {
                        error: error.clone(),
                    };
                    record.last_error = Some(format!("{}: {error}", step.kind()));
                    record.rechat_status = status;
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
                return self.retry(message.receive_count, format!("ledger: {e}"), None);
            }
        }
        record.status = RecordStatus::Delivered;
        record.last_error = None;
        record.rechat_status = None;
        if let Err(e) = self.save(&mut record).await {
            // Every step is recorded as done already: the retry will find nothing to do.
            return self.retry(message.receive_count, format!("ledger: {e}"), None);
        }
        Outcome::Delivered
    }

    /// Adds the envelope's read to its source's profile, once (its first attempt): which
    /// fields its lead carried, and whether its reading was unsure.
    async fn profile(&self, envelope: &Envelope) {
        let Some(lead) = envelope.captured_lead() else {
            return;
        };
        let judged = if envelope.notices.iter().any(|n| n.unsure().is_some()) {
            crate::profile::Judged::Unsure
        } else {
            crate::profile::Judged::Lead
        };
        let read = crate::profile::Read::new(
            envelope.received_at,
            &crate::profile::fields_of(lead),
            judged,
        );
        let source = crate::profile::source_of(envelope);
        crate::profile::store::record(self.ledger, &source, read, &self.options.drift, true).await;
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
            Step::FetchMetaLead {
                leadgen_id,
                page_id,
                defaults,
                ..
            } => {
                let Some(meta) = self.meta else {
                    return Err(StepError::Permanent {
                        error: "Meta sends this lead as an id only, and no page token is configured to fetch it (INLET_META_PAGE_TOKEN)".into(),
                        status: None,
                    });
                };
                let fetched = meta
                    .lead(leadgen_id, page_id.as_deref())
                    .await
                    .map_err(meta_error)?;
                let Some(raw) = defaults.apply(fetched.lead, fetched.test) else {
                    return Ok(StepDone::Skipped(
                        "a Meta test lead, dropped (drop_test)".into(),
                    ));
                };
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
                        // The lead it acted on, for whoever looks this envelope up.
                        record.rechat_lead_id.get_or_insert_with(|| id.clone());
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
                        // The lead it acted on, for whoever looks this envelope up.
                        record.rechat_lead_id.get_or_insert_with(|| id.clone());
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
                Some(_) => Err(StepError::Waiting(format!(
                    "the lead's capture (envelope {id}) is not delivered yet"
                ))),
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

    /// The delay before the message comes back: the backoff for the lead's `failures` failed
    /// tries, or Rechat's `Retry-After` when that is longer. Never less than the backoff: a
    /// server that kept asking for a second's wait would otherwise be called every second
    /// for the whole retry window.
    fn retry(&self, failures: u32, error: String, retry_after: Option<Duration>) -> Outcome {
        let backoff = self.options.backoff(failures);
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
            Err(e) => self.retry(
                message.receive_count,
                format!("dead-letter queue: {e}"),
                None,
            ),
        }
    }
}

/// A Graph failure as a step's: what waiting or an operator can fix (a rate limit, an
/// outage, an expired token, a missing permission) is retried for the retry window, saying
/// what to do; a lead Meta does not have is dead-lettered.
fn meta_error(e: crate::meta_graph::GraphError) -> StepError {
    if e.is_transient() || e.is_fixable() {
        let error = if e.is_fixable() {
            format!("Meta: {e} ({})", e.advice())
        } else {
            format!("Meta: {e}")
        };
        StepError::Transient {
            error,
            retry_after: e.retry_after(),
        }
    } else {
        StepError::Permanent {
            error: format!("Meta: {e}"),
            status: e.status(),
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
    // The example form's lead: its channel is no account's, and Rechat says so.
    let demo = envelope.channel == crate::queue::DEMO_CHANNEL;
    DeadLetter {
        reason: if unknown_lead {
            format!("unknown lead: Rechat has no such lead ({reason})")
        } else if demo {
            format!(
                "the example form's lead, sent to the demo channel, which no Rechat account has (expected; a form of yours posts to your channel): {reason}"
            )
        } else {
            reason
        },
        envelope_id: Some(envelope.id.clone()),
        group_id: envelope.lead_key.clone(),
        failed_step: step.map(|s| s.kind().to_owned()),
        status,
        cause: if demo {
            Some(crate::queue::DEMO.to_owned())
        } else {
            unknown_lead.then(|| crate::queue::UNKNOWN_LEAD.to_owned())
        },
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
    crate::queue::group_of(message).unwrap_or_else(|| format!("message-{}", message.message_id))
}

/// A wait in the queue's whole seconds, never shortened to zero (it would come straight
/// back, early).
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs((d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_forms_refusals_are_the_demos_not_failures() {
        let envelope = crate::envelope::EnvelopeBuilder::new(
            crate::envelope::OriginKind::Form,
            "website-form",
            crate::queue::DEMO_CHANNEL,
            b"{}",
        )
        .step(Step::Capture {
            lead: crate::lead::Lead {
                email: Some("ana@example.com".into()),
                ..Default::default()
            },
            sender_lead_id: None,
        })
        .build();
        let step = envelope.steps[0].clone();
        let dead = dead_letter_of(
            &envelope,
            "Rechat refused the request with 404: Lead channel not found".into(),
            Some(&step),
            Some(404),
        );
        assert_eq!(dead.cause.as_deref(), Some(crate::queue::DEMO));
        assert!(dead.reason.contains("example form"), "{}", dead.reason);
        assert!(!dead.waits_for_person() && !dead.replayable());
        // Another channel's 400 is a lead that waits for a person, refused for its content.
        let mut other = envelope.clone();
        other.channel = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f".into();
        let dead = dead_letter_of(&other, "Validation".into(), Some(&step), Some(400));
        assert!(dead.waits_for_person() && dead.refused_for_content());
        assert!(dead.replayable() && !dead.replays(false) && dead.replays(true));
    }

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
