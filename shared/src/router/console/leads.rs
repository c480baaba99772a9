//! The console's leads and dead letters: the search ("my lead never arrived", by any id Inlet
//! answered, a dead letter's id, an email, a phone…), and what a person does with a dead
//! letter: release it, delete it, or correct the lead Rechat refused and send it again.

use super::{ConsoleContext, from_script};
use crate::deliver::lookup::{Where, dead_letter_of, lookup};
use crate::ledger::LedgerRecord;
use crate::ledger::search::LeadQuery;
use crate::queue::DeadMessage;
use crate::web::{IntakeError, Request, header_str};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The ledger records a search reads when it has no exact way in.
const SEARCH_SCAN: usize = 5_000;

/// The envelopes a search answers at most.
const SEARCH_LIMIT: usize = 500;

fn unavailable(e: crate::queue::QueueError) -> IntakeError {
    tracing::warn!(error = %e, "console: the dead-letter queue cannot be read");
    IntakeError::new(
        503,
        "queue_unavailable",
        "the dead-letter queue cannot be read",
    )
}

async fn dead_letters(ctx: &ConsoleContext<'_>) -> Result<Vec<DeadMessage>, IntakeError> {
    ctx.console.dead_letters.list().await.map_err(unavailable)
}

/// `GET /console/api/leads?…`: the envelopes, the kept items an id names, and what was
/// asked, so that the page can say "nothing found for …".
pub async fn search(ctx: &ConsoleContext<'_>, req: &Request) -> Result<Value, IntakeError> {
    let query = req.uri().query().unwrap_or("");
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let settings = &ctx.intake.settings;
    let query = LeadQuery::from_params(
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        settings.normalize.phone_region,
    )
    .map_err(|e| IntakeError::invalid(e.field, &e.message))?;
    let channels = match &settings.channels {
        crate::web::ChannelPolicy::Only(list) => list.iter().cloned().collect(),
        crate::web::ChannelPolicy::AnyUuid => Vec::new(),
    };
    // Read for a message id given as `q`, and for the people of the dead-lettered leads.
    let dead = dead_letters(ctx).await.unwrap_or_default();
    let found = lookup(
        &Where {
            ledger: ctx.intake.ledger.as_ref(),
            kept: Some(ctx.intake.kept.as_ref()),
            dead: &dead,
            channels: &channels,
            limit: SEARCH_LIMIT,
            scan: SEARCH_SCAN,
        },
        query,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "console: the ledger cannot be read");
        IntakeError::new(503, "ledger_unavailable", "the ledger cannot be read")
    })?;
    let asked = params
        .iter()
        .any(|(k, v)| !v.trim().is_empty() && k != "limit");
    let kept: Vec<Value> = found.kept.iter().map(super::kept_json).collect();
    let Some(records) = found.records else {
        return Ok(json!({"leads": [], "kept": kept, "listed": false, "asked": asked}));
    };
    Ok(json!({
        "leads": records.iter().map(|r| record_json(r, dead_letter_of(r, &dead))).collect::<Vec<_>>(),
        "kept": kept,
        "listed": true,
        "asked": asked,
    }))
}

/// A ledger record for the page: its ids as Inlet answered them, and the person (masked as
/// the ledger keeps it, or whole from the dead letter that holds the lead).
fn record_json(r: &LedgerRecord, dead: Option<&DeadMessage>) -> Value {
    let person = dead
        .and_then(|d| crate::envelope::Envelope::from_json(&d.body).ok())
        .and_then(|e| e.captured_lead().map(whole_person))
        .or_else(|| r.person.clone());
    json!({
        "envelope_id": r.envelope_id,
        "answered_id": crate::envelope::answer_uuid(&r.envelope_id),
        "person": person,
        "received_at": r.received_at,
        "updated_at": r.updated_at,
        "sender": r.sender,
        "channel": r.channel,
        "unsure": r.unsure,
        "status": r.status,
        "steps": r.steps,
        "attempts": r.attempts,
        "rechat_lead_id": r.rechat_lead_id,
        "last_error": r.last_error,
        "corrects": r.corrects,
        "dead_letter": dead.map(|d| d.message_id.clone()),
    })
}

fn whole_person(lead: &crate::lead::Lead) -> String {
    [
        lead.display_name(),
        lead.email.clone(),
        lead.phone_number.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ")
}

/// A dead letter for the page: why, when, who it names (read from its envelope), whether it
/// would fail the same way sent as it is, and the fields a person may correct.
pub fn dead_json(d: &DeadMessage) -> Value {
    let envelope = crate::envelope::Envelope::from_json(&d.body).ok();
    let lead = envelope.as_ref().and_then(|e| e.captured_lead());
    json!({
        "message_id": d.message_id,
        "envelope_id": d.dead_letter.envelope_id,
        "answered_id": d.dead_letter.envelope_id.as_deref().map(crate::envelope::answer_uuid),
        "at": d.sent_at,
        "reason": d.dead_letter.reason,
        "cause": d.dead_letter.cause.as_deref().unwrap_or("failed"),
        "failed_step": d.dead_letter.failed_step,
        "status": d.dead_letter.status,
        "releasable": crate::queue::releasable(&d.dead_letter),
        "refused_for_content": d.dead_letter.refused_for_content(),
        "correctable": lead.is_some() && d.dead_letter.cause.is_none(),
        "fields": lead.map(crate::deliver::correct::current_fields),
        "sender": envelope.as_ref().map(|e| e.origin.sender.clone()),
        "channel": envelope.as_ref().map(|e| e.channel.clone()),
        "name": lead.map(|l| l.display_name().unwrap_or_default()),
        "email": lead.and_then(|l| l.email.clone()),
        "phone": lead.and_then(|l| l.phone_number.clone()),
    })
}

pub async fn list(ctx: &ConsoleContext<'_>) -> Result<Value, IntakeError> {
    let dead = dead_letters(ctx).await?;
    Ok(json!({"dead_letters": dead.iter().map(dead_json).collect::<Vec<_>>()}))
}

async fn find(ctx: &ConsoleContext<'_>, id: &str) -> Result<DeadMessage, IntakeError> {
    dead_letters(ctx)
        .await?
        .into_iter()
        .find(|d| d.message_id == id)
        .ok_or_else(|| IntakeError::not_found("no dead letter has that id"))
}

pub async fn release(
    ctx: &ConsoleContext<'_>,
    id: &str,
    req: &Request,
) -> Result<Value, IntakeError> {
    from_script(req)?;
    let found = find(ctx, id).await?;
    if !crate::queue::releasable(&found.dead_letter) {
        return Err(IntakeError::new(
            409,
            "not_releasable",
            "this one cannot go back as it is: unroutable mail needs a routing rule and `inlet dlq replay`; a forwarding confirmation is no lead",
        ));
    }
    ctx.console
        .dead_letters
        .release(&found)
        .await
        .map_err(unavailable)?;
    tracing::info!(message = %id, "console: a dead letter was released to the queue");
    Ok(json!({"released": id}))
}

pub async fn delete(
    ctx: &ConsoleContext<'_>,
    id: &str,
    req: &Request,
) -> Result<Value, IntakeError> {
    from_script(req)?;
    if !ctx
        .console
        .dead_letters
        .delete(id)
        .await
        .map_err(unavailable)?
    {
        return Err(IntakeError::not_found("no dead letter has that id"));
    }
    tracing::info!(message = %id, "console: a dead letter was deleted");
    Ok(json!({"deleted": id}))
}

/// `POST /console/api/dead-letters/{id}/correct` `{"fields": {"email": "…"}}`: the lead
/// with those fields set, read as intake reads a capture, queued as a new event; the dead
/// letter goes once it is queued.
pub async fn correct(
    ctx: &ConsoleContext<'_>,
    id: &str,
    req: &Request,
) -> Result<Value, IntakeError> {
    from_script(req)?;
    let fields = correction_fields(req)?;
    let found = find(ctx, id).await?;
    if found.dead_letter.cause.is_some() {
        return Err(IntakeError::new(
            409,
            "not_correctable",
            "only a lead Rechat refused can be corrected here",
        ));
    }
    let settings = &ctx.intake.settings;
    let envelope = crate::deliver::correct::resend(
        ctx.intake.queue.as_ref(),
        Some(ctx.intake.ledger.as_ref()),
        ctx.console.dead_letters.as_ref(),
        &found,
        &fields,
        &settings.normalize,
    )
    .await
    .map_err(|e| correct_refusal(e, settings.retry_after_secs))?;
    Ok(json!({
        "corrected": id,
        "envelope_id": envelope.id,
        "answered_id": crate::envelope::answer_uuid(&envelope.id),
    }))
}

fn correct_refusal(e: crate::deliver::correct::CorrectError, retry_after: u32) -> IntakeError {
    use crate::deliver::correct::CorrectError as C;
    let message = e.to_string();
    match &e {
        C::UnknownField(_) | C::Invalid { .. } | C::Nothing => {
            IntakeError::invalid(e.field().unwrap_or("fields"), &message)
        }
        C::NoLead | C::Unreadable(_) => IntakeError::new(409, "not_correctable", message),
        C::Queue(q) => super::super::queue_refusal(q, retry_after),
        C::Ledger(_) => IntakeError::unavailable(retry_after),
    }
}

/// `{"fields": {"email": "…", …}}`, or the fields as a form's.
fn correction_fields(req: &Request) -> Result<BTreeMap<String, String>, IntakeError> {
    let body = req.body();
    if crate::web::body::essence(header_str(req, "content-type"))
        == "application/x-www-form-urlencoded"
    {
        return Ok(form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| IntakeError::malformed(format!("the body is not JSON: {e}")))?;
    let Some(fields) = value.get("fields").and_then(Value::as_object) else {
        return Err(IntakeError::invalid(
            "fields",
            "give the fields to correct: {\"fields\": {\"email\": \"…\"}}",
        ));
    };
    fields
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Null => Ok((k.clone(), String::new())),
            _ => Err(IntakeError::invalid(k, &format!("{k} is text"))),
        })
        .collect()
}
