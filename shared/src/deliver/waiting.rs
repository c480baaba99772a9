//! Waiting that is no failure: a follow-up waiting for an earlier envelope of its lead, and
//! a lead kept off the queue's receive limit while it waits.
//!
//! SQS counts every receive, answered or not, and moves a message to the dead-letter queue at
//! its redrive policy's `maxReceiveCount` whatever the consumer does: a lead held through a
//! long outage (the probe lead is received every few seconds) or paced behind other leads'
//! 429s would reach it long before its retry window ends. So a message that stays queued
//! after spending half the limit goes back at the end of its group as a new message, with
//! what was behind it in the batch, in order; the other half stays for poison, which never
//! gets an outcome to be put back with. (The embedded store of `inlet serve` gives back every
//! receive delivery answers, and reports no such limit.)

use super::{Delivery, Opened, Outcome, group_id};
use crate::envelope::{Envelope, Step};
use crate::ledger::{LedgerError, LedgerRecord, RecordStatus};
use crate::queue::{DeadLetter, QueueMessage};
use std::collections::HashMap;

/// Times a follow-up waits for an earlier unfinished envelope of its lead before it goes on.
pub const ORDER_WAITS: u32 = 4;

/// How long after a lead's message was put back at the end of its group a later envelope of
/// the lead may still have been queued ahead of the copy: the mark is written before the
/// copy is sent, and the send can take its retries. A follow-up queued within it goes
/// behind the copy, needlessly at worst.
const REQUEUE_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The receives of a queue that counts every one (SQS) after which a message that stays
/// queued goes back as a new one: half the limit for waiting, the other half kept for the
/// receives that end in a crash, so poison still reaches the limit. Never the first: a copy
/// spends its first receive learning that it still has a wait to wait out (FIFO queues take
/// no delay), and putting it back then would send it round without a pause.
pub fn requeue_after(receive_limit: u32) -> u32 {
    (receive_limit / 2).max(2)
}

impl Delivery<'_> {
    /// A follow-up (activity, reassignment) waits while an earlier envelope of its lead is
    /// unfinished, so that one lead's steps reach Rechat in the order received even when the
    /// queue's order fails: a crashed consumer's stale receipt handle can release a FIFO group
    /// early (moto honours one). A capture needs no check: a follow-up on a capture already
    /// waits for its lead id. The index read may lag, so what it calls unfinished is read
    /// again by key. After `ORDER_WAITS` waits of its own (a hold for Rechat is none) it goes
    /// on regardless: two requests for one lead taken at the same moment can be queued
    /// against their receive times, and waiting then would hold the lead for its whole retry
    /// window. An earlier envelope whose message went back to the end of the group after
    /// this one was queued now stands behind it: this one goes behind it in turn.
    pub(super) async fn await_earlier_steps(
        &self,
        envelope: &Envelope,
        record: &mut LedgerRecord,
        message: &QueueMessage,
    ) -> Option<Outcome> {
        if envelope.steps.iter().any(Step::is_capture) {
            return None;
        }
        let own_key = record.key.clone();
        let unfinished = |r: &LedgerRecord| {
            r.key != own_key
                && r.received_at < envelope.received_at
                && matches!(r.status, RecordStatus::Queued | RecordStatus::InProgress)
        };
        let earlier = match self.ledger.records_for_lead(&envelope.lead_key).await {
            Ok(records) => records,
            Err(e) => {
                return Some(self.retry(message.receive_count, format!("ledger: {e}"), None));
            }
        };
        // When this message was queued: by intake, or when it last went back.
        let queued_at = record
            .pacing
            .requeued_at
            .map_or(envelope.received_at, |at| at.max(envelope.received_at));
        for candidate in earlier.iter().filter(|r| unfinished(r)) {
            let current = match self.ledger.get(&candidate.key).await {
                Ok(current) => current,
                Err(e) => {
                    return Some(self.retry(message.receive_count, format!("ledger: {e}"), None));
                }
            };
            let Some(current) = current.filter(|r| unfinished(r)) else {
                continue;
            };
            if current
                .pacing
                .requeued_at
                .is_some_and(|at| at + REQUEUE_SLACK > queued_at)
            {
                return Some(self.requeue_behind(message, record, &current.key).await);
            }
            if record.pacing.order_waits >= ORDER_WAITS {
                tracing::warn!(
                    envelope = %envelope.id, earlier = %candidate.key,
                    order_waits = record.pacing.order_waits,
                    "an earlier envelope of this lead is still unfinished; delivering anyway"
                );
                return None;
            }
            record.pacing.order_waits += 1;
            // Best effort: a wait not recorded is waited again.
            let _ = self.save(record).await;
            return Some(Outcome::Waiting {
                reason: format!(
                    "an earlier envelope of this lead ({}) is not delivered yet",
                    candidate.key
                ),
                retry_in: self.options.backoff(record.pacing.order_waits),
            });
        }
        None
    }

    /// Puts this message back at the end of its group, behind an earlier envelope of its lead
    /// that went there after it was queued. Marked in the ledger once sent (a follow-up
    /// queued behind this one looks for it); if the queue does not take it, it waits.
    async fn requeue_behind(
        &self,
        message: &QueueMessage,
        record: &mut LedgerRecord,
        earlier: &str,
    ) -> Outcome {
        if let Err(e) = self.queue.requeue(message, None).await {
            tracing::warn!(error = %e, "could not put a follow-up back behind its earlier envelope");
            return Outcome::Waiting {
                reason: format!(
                    "an earlier envelope of this lead ({earlier}) stands behind it, and the queue did not take it back: {e}"
                ),
                retry_in: self.options.backoff(1),
            };
        }
        record.pacing.requeued_at = Some(chrono::Utc::now());
        let _ = self.save(record).await;
        Outcome::Requeued {
            reason: format!(
                "an earlier envelope of this lead ({earlier}) went back to the end of the group after it was queued"
            ),
        }
    }

    /// On a queue that counts every receive (SQS), a message that has spent half its receive
    /// limit and stays queued goes back as a new message, with the rest of its group in the
    /// batch behind it, in order: waiting never reaches the limit, which is kept for poison.
    /// So does what follows a message put back during delivery. Each copy carries what was
    /// left of its wait. The first one's ledger record is marked before it is sent, so that a
    /// later envelope of its lead outside the batch, now ahead of it, goes behind it in turn
    /// (`await_earlier_steps`).
    pub(super) async fn requeue_worn(
        &self,
        messages: &[QueueMessage],
        limit: Option<u32>,
        outcomes: &mut [Option<Outcome>],
    ) {
        let still_down = self.breaker.holding(&self.options.breaker).is_some();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for (i, m) in messages.iter().enumerate() {
            let slot = *group_of.entry(group_id(m)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[slot].push(i);
        }
        for members in groups {
            let stays = |i: &usize| outcomes[*i].as_ref().is_some_and(Outcome::stays_queued);
            let staying: Vec<usize> = members.iter().copied().filter(stays).collect();
            let behind_requeued = members
                .iter()
                .any(|&i| matches!(outcomes[i], Some(Outcome::Requeued { .. })));
            let worn = limit.is_some_and(|limit| {
                staying
                    .iter()
                    .any(|&i| messages[i].receive_count >= requeue_after(limit))
            });
            if staying.is_empty() || !(worn || behind_requeued) {
                continue;
            }
            if !behind_requeued
                && let Ok(envelope) = Envelope::from_json(&messages[staying[0]].body)
                && let Err(e) = self.mark_requeued(&envelope).await
            {
                tracing::warn!(envelope = %envelope.id, error = %e, "could not mark the lead as put back; a later envelope of it may overtake it");
            }
            let reason = if behind_requeued {
                "behind a message of its group put back at the end"
            } else {
                "waited half the queue's receive limit"
            };
            let now = chrono::Utc::now();
            for i in staying {
                let m = &messages[i];
                // A copy still waiting keeps its instant: recomputed from the delay, rounded
                // up to the queue's whole seconds, it would drift later at each round.
                let not_before = m.not_before.filter(|at| *at > now).or_else(|| {
                    outcomes[i]
                        .as_ref()
                        .and_then(|o| o.comes_back(still_down))
                        .map(|(wait, _)| wait.min(super::LONGEST_WAIT))
                        .filter(|wait| !wait.is_zero())
                        .and_then(|wait| chrono::Duration::from_std(wait).ok())
                        .map(|wait| now + wait)
                });
                match self.queue.requeue(m, not_before).await {
                    Ok(()) => {
                        tracing::info!(message_id = %m.message_id, receive_count = m.receive_count, reason, "put back at the end of its group as a new message");
                        outcomes[i] = Some(Outcome::Requeued {
                            reason: reason.to_owned(),
                        });
                    }
                    Err(e) => {
                        // The rest stay where they are, in order, behind this one.
                        tracing::warn!(message_id = %m.message_id, error = %e, "could not put a message back at the end of its group");
                        break;
                    }
                }
            }
        }
    }

    /// Marks the envelope's ledger record as put back now, creating it as queued when
    /// delivery never opened it (held since its first receive).
    async fn mark_requeued(&self, envelope: &Envelope) -> Result<(), LedgerError> {
        let (mut record, counted_a_call) = match self.open_record(envelope).await? {
            Opened::Record {
                record,
                capture_recorded,
            } => (record, capture_recorded),
            Opened::Duplicate => return Ok(()),
        };
        if matches!(
            record.status,
            RecordStatus::Delivered | RecordStatus::DeadLettered
        ) {
            return Ok(());
        }
        if counted_a_call {
            // A new record counts the capture call about to be made; none is.
            record.capture_calls -= 1;
        }
        if record.attempts == 0 {
            record.status = RecordStatus::Queued;
        }
        record.pacing.requeued_at = Some(chrono::Utc::now());
        self.save(&mut record).await
    }

    /// A message SQS hands out for the last time before it moves it to the dead-letter queue
    /// itself: every receive since it last went back ended without an outcome (delivery
    /// crashed or hung on it), or it would have been put back at half the limit. Dead-lettered
    /// here, with a reason and the metric the alarm watches, not moved by SQS without either.
    pub(super) async fn never_answered(&self, message: &QueueMessage) -> Outcome {
        let envelope = Envelope::from_json(&message.body).ok();
        tracing::error!(
            message_id = %message.message_id, receive_count = message.receive_count,
            "delivery never finishes this message: dead-lettered at the queue's receive limit"
        );
        let dead = DeadLetter {
            reason: format!(
                "received {} times without an outcome: delivery stopped or hung on it each time (the queue's receive limit)",
                message.receive_count
            ),
            envelope_id: envelope.as_ref().map(|e| e.id.clone()),
            group_id: group_id(message),
            failed_step: None,
            status: None,
            cause: None,
        };
        let outcome = self.dead_letter(message, dead).await;
        if matches!(outcome, Outcome::DeadLettered { .. }) {
            let sender = envelope
                .as_ref()
                .map_or("unknown", |e| e.origin.sender.as_str());
            crate::telemetry::count_lead(outcome.label(), sender);
        }
        outcome
    }
}
