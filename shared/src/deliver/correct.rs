//! A dead letter Rechat refused for its content ("email is not valid"), corrected by a
//! person and sent again. Replayed as it is, it would fail the same way; deleted, the lead
//! is lost. The person's fields go through what intake does with a capture (Rechat's
//! payload read, then normalized), and the corrected lead becomes a new event:
//!
//! - its id is a digest of the dead envelope's id and the corrected steps, so that the same
//!   correction sent twice (a double click, a retried call) is one event, and a correction
//!   is never taken for a repeat of the lead that failed;
//! - it stays in the lead's group (`lead_key`), behind whatever else that lead has;
//! - the dead letter is removed only once the corrected envelope is queued (the queue's
//!   `send` is durable); a failure between the two leaves both, never neither, and the
//!   ledger keeps the corrected lead from being delivered twice.

use crate::envelope::{Envelope, EnvelopeBuilder, Step};
use crate::ledger::{Ledger, LedgerRecord};
use crate::normalize::{NormalizeOptions, Notice};
use crate::queue::{DeadLetters, DeadMessage, Queue, QueueError};
use serde_json::Value;
use std::collections::BTreeMap;

/// The lead's fields a person may correct, as Rechat names them. A tag list is given
/// comma-separated.
pub const FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "note",
    "lead_source",
    "tag",
    "referer_url",
];

#[derive(Debug, thiserror::Error)]
pub enum CorrectError {
    #[error("this dead letter cannot be read as an envelope: {0}")]
    Unreadable(String),
    #[error(
        "this dead letter holds no lead to correct (a follow-up, or a lead Meta sends by id): replay it once its lead is delivered, or delete it"
    )]
    NoLead,
    #[error("{0:?} is not a field that can be corrected: one of {list}", list = FIELDS.join(", "))]
    UnknownField(String),
    #[error("nothing to correct: give at least one field")]
    Nothing,
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("the queue did not take the corrected lead: {0}")]
    Queue(#[from] QueueError),
    #[error("the ledger cannot record the corrected lead: {0}")]
    Ledger(#[from] crate::ledger::LedgerError),
}

impl CorrectError {
    /// The field the error is about, when it is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            CorrectError::UnknownField(f) | CorrectError::Invalid { field: f, .. } => Some(f),
            _ => None,
        }
    }
}

/// The lead's correctable fields as they are now (the tags comma-separated): what a form
/// shows to be edited.
pub fn current_fields(lead: &crate::lead::Lead) -> BTreeMap<&'static str, String> {
    let value = serde_json::to_value(lead).unwrap_or_default();
    FIELDS
        .iter()
        .filter_map(|&name| {
            let text = match value.get(name)? {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => return None,
            };
            Some((name, text))
        })
        .collect()
}

/// The envelope the dead letter becomes with `fields` set (an empty value clears one), or
/// why not. Nothing is queued here.
pub fn corrected(
    dead: &DeadMessage,
    fields: &BTreeMap<String, String>,
    options: &NormalizeOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Envelope, CorrectError> {
    if fields.is_empty() {
        return Err(CorrectError::Nothing);
    }
    let original =
        Envelope::from_json(&dead.body).map_err(|e| CorrectError::Unreadable(e.to_string()))?;
    let lead = original.captured_lead().ok_or(CorrectError::NoLead)?;
    let mut payload = serde_json::to_value(lead).unwrap_or_default();
    let map = payload
        .as_object_mut()
        .ok_or_else(|| CorrectError::Unreadable("the lead is not an object".into()))?;
    for (name, value) in fields {
        let name = name.trim();
        if !FIELDS.contains(&name) {
            return Err(CorrectError::UnknownField(name.to_owned()));
        }
        let value = value.trim();
        if value.is_empty() {
            map.remove(name);
        } else if name == "tag" {
            let tags: Vec<Value> = value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_owned()))
                .collect();
            map.insert(name.to_owned(), Value::Array(tags));
        } else {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    // What intake does with Rechat's capture payload, so that a correction is held to the
    // same rules as a lead that arrives.
    let raw = crate::rechat_api::capture(&payload, options).map_err(|e| CorrectError::Invalid {
        field: e.field.clone().unwrap_or_else(|| "lead".into()),
        message: e.message.clone(),
    })?;
    let normalized =
        crate::normalize::normalize(raw, options).map_err(|e| CorrectError::Invalid {
            field: "lead".into(),
            message: e.to_string(),
        })?;
    // A value the person gave that intake would leave out is refused, not dropped: they
    // meant it to be sent.
    for notice in &normalized.notices {
        let field = match notice {
            Notice::InvalidEmail { reason } if fields.contains_key("email") => {
                Some(("email", reason.clone()))
            }
            Notice::UnparsedPhone if fields.contains_key("phone_number") => Some((
                "phone_number",
                "is not a phone number Inlet can read".to_owned(),
            )),
            _ => None,
        };
        if let Some((field, message)) = field {
            return Err(CorrectError::Invalid {
                field: field.into(),
                message,
            });
        }
    }
    let steps: Vec<Step> = original
        .steps
        .iter()
        .map(|step| match step {
            Step::Capture { sender_lead_id, .. } => Step::Capture {
                lead: normalized.lead.clone(),
                sender_lead_id: sender_lead_id.clone(),
            },
            other => other.clone(),
        })
        .collect();
    let body = serde_json::to_vec(&steps).unwrap_or_default();
    let event = format!(
        "correction of {} {}",
        original.id,
        crate::envelope::digest(&[&body])
    );
    let mut notices = normalized.notices;
    notices.extend(
        original
            .notices
            .iter()
            .filter(|n| matches!(n, Notice::Unsure { .. } | Notice::UnverifiedSender { .. }))
            .cloned(),
    );
    notices.push(Notice::Corrected {
        first_reason: dead.dead_letter.reason.clone(),
        fields: fields.keys().cloned().collect(),
    });
    let mut builder = EnvelopeBuilder::new(
        original.origin.kind,
        &original.origin.sender,
        &original.channel,
        &body,
    )
    .event_id(Some(&event))
    .received_at(now)
    .lead_key(original.lead_key.clone())
    .notices(notices);
    for step in steps {
        builder = builder.step(step);
    }
    Ok(builder.build())
}

/// Sends the corrected lead: recorded in the ledger (as correcting the dead envelope, so
/// that its ids find it), queued, and only then the dead letter removed. The same correction
/// twice is one event (its id); the second finds no dead letter, or is dropped as a repeat.
pub async fn resend(
    queue: &dyn Queue,
    ledger: Option<&dyn Ledger>,
    dead_letters: &dyn DeadLetters,
    dead: &DeadMessage,
    fields: &BTreeMap<String, String>,
    options: &NormalizeOptions,
) -> Result<Envelope, CorrectError> {
    let envelope = corrected(dead, fields, options, chrono::Utc::now())?;
    crate::queue::message_body(&envelope)?;
    if let Some(ledger) = ledger {
        let mut record = LedgerRecord::queued(&envelope);
        record.corrects = dead.dead_letter.envelope_id.clone();
        ledger.create(&record).await?;
    }
    queue.send(&envelope).await?;
    dead_letters.delete(&dead.message_id).await?;
    tracing::info!(
        envelope = %envelope.id,
        corrects = dead.dead_letter.envelope_id.as_deref().unwrap_or(""),
        fields = ?fields.keys().collect::<Vec<_>>(),
        "a dead letter's lead was corrected and queued again"
    );
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EnvelopeBuilder, OriginKind};
    use crate::lead::Lead;
    use crate::queue::DeadLetter;

    const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

    fn dead(lead: Lead) -> DeadMessage {
        let envelope = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"{}")
            .step(Step::Capture {
                lead,
                sender_lead_id: Some("z-1".into()),
            })
            .build();
        DeadMessage {
            message_id: "m-1".into(),
            body: envelope.to_json(),
            dead_letter: DeadLetter {
                reason: "Rechat refused the request with 400: email is not valid".into(),
                envelope_id: Some(envelope.id.clone()),
                group_id: envelope.lead_key.clone(),
                failed_step: Some("capture".into()),
                status: Some(400),
                cause: None,
            },
            sent_at: chrono::Utc::now(),
        }
    }

    fn ana() -> Lead {
        Lead {
            first_name: Some("Ana".into()),
            email: Some("ana@exampel.con".into()),
            tag: vec!["zillow".into()],
            ..Lead::default()
        }
    }

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_correction_is_read_as_intake_reads_a_capture_and_is_a_new_event() {
        let d = dead(ana());
        assert!(d.dead_letter.refused_for_content());
        let original = Envelope::from_json(&d.body).unwrap();
        let now = chrono::Utc::now();
        let opts = NormalizeOptions::default();
        let fixed = corrected(
            &d,
            &set(&[
                ("email", " ANA@Example.com "),
                ("phone_number", "(214) 555-0123"),
                ("tag", "zillow, buyer"),
            ]),
            &opts,
            now,
        )
        .unwrap();
        let lead = fixed.captured_lead().unwrap();
        assert_eq!(lead.email.as_deref(), Some("ana@example.com"));
        assert_eq!(lead.phone_number.as_deref(), Some("+12145550123"));
        assert_eq!(lead.tag, vec!["zillow", "buyer"]);
        assert_eq!(lead.first_name.as_deref(), Some("Ana"), "the rest kept");
        assert_ne!(
            fixed.id, original.id,
            "never taken for a repeat of the refused lead"
        );
        assert_eq!(fixed.lead_key, original.lead_key, "in the lead's group");
        assert_eq!(fixed.origin.sender, "zapier");
        assert!(
            fixed
                .notices
                .iter()
                .any(|n| matches!(n, Notice::Corrected { .. }))
        );
        // The same correction again (a double click) is the same event.
        let again = corrected(
            &d,
            &set(&[
                ("email", " ANA@Example.com "),
                ("phone_number", "(214) 555-0123"),
                ("tag", "zillow, buyer"),
            ]),
            &opts,
            now + chrono::Duration::seconds(3),
        )
        .unwrap();
        assert_eq!(again.id, fixed.id);
        // Another correction is another event.
        let other = corrected(&d, &set(&[("email", "ana@example.net")]), &opts, now).unwrap();
        assert_ne!(other.id, fixed.id);
        // A cleared field is left out.
        let cleared = corrected(&d, &set(&[("tag", "")]), &opts, now).unwrap();
        assert!(cleared.captured_lead().unwrap().tag.is_empty());
    }

    #[test]
    fn what_intake_would_refuse_or_drop_is_refused_with_the_field() {
        let d = dead(ana());
        let opts = NormalizeOptions::default();
        let now = chrono::Utc::now();
        for (fields, field) in [
            (set(&[("email", "not an email")]), "email"),
            (set(&[("phone_number", "call me")]), "phone_number"),
            (set(&[("password", "x")]), "password"),
            (set(&[]), "fields"),
        ] {
            let e = corrected(&d, &fields, &opts, now).unwrap_err();
            assert_eq!(e.field().unwrap_or("fields"), field, "{e}");
        }
        // Nothing left to reach or name the person: not a lead.
        let e = corrected(&d, &set(&[("email", ""), ("first_name", "")]), &opts, now).unwrap_err();
        assert!(e.to_string().contains("not a lead"), "{e}");
        // A follow-up holds no lead to correct.
        let mut follow_up = d.clone();
        follow_up.body = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", CHANNEL, b"{}")
            .step(Step::Activity {
                target: crate::envelope::LeadRef::Rechat {
                    id: "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f".into(),
                },
                activity: crate::rechat_api::activity(
                    &serde_json::json!({"action": "ContactLoggedIn"}),
                )
                .unwrap(),
            })
            .build()
            .to_json();
        assert!(matches!(
            corrected(&follow_up, &set(&[("email", "a@example.com")]), &opts, now),
            Err(CorrectError::NoLead)
        ));
    }

    #[tokio::test]
    async fn the_dead_letter_goes_only_once_the_correction_is_queued() {
        use crate::queue::memory::RecordingQueue;
        let queue = RecordingQueue::default();
        let d = dead(ana());
        queue.dead_letter(&d.body, &d.dead_letter).await.unwrap();
        let listed = queue.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        let ledger = crate::ledger::memory::MemoryLedger::new();
        // The queue down: refused, the dead letter stays.
        queue.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let fields = set(&[("email", "ana@example.com")]);
        let e = resend(
            &queue,
            Some(&ledger),
            &queue,
            &listed[0],
            &fields,
            &Default::default(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, CorrectError::Queue(_)), "{e}");
        queue.down.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            queue.list().await.unwrap().len(),
            1,
            "the dead letter stays"
        );
        assert!(queue.sent.lock().unwrap().is_empty());
        let fixed = resend(
            &queue,
            Some(&ledger),
            &queue,
            &listed[0],
            &fields,
            &Default::default(),
        )
        .await
        .unwrap();
        assert!(queue.list().await.unwrap().is_empty());
        let record = ledger.get(&fixed.id).await.unwrap().unwrap();
        assert_eq!(record.corrects, d.dead_letter.envelope_id);
    }
}
