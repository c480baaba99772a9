//! The console's parse drifts (`crate::profile`): each lead source whose reads lack a field
//! they usually carry, with the leads read since, and the person's dismissal.

use super::{ConsoleContext, from_script};
use crate::web::{IntakeError, Request};
use serde_json::{Value, json};

/// The ledger records read for a drift's leads.
const SCAN: usize = 2_000;

/// The leads a drift lists at most.
const LISTED: usize = 50;

fn ledger_unavailable(e: crate::ledger::LedgerError) -> IntakeError {
    tracing::warn!(error = %e, "console: the sources' profiles cannot be read");
    IntakeError::new(503, "ledger_unavailable", "the ledger cannot be read")
}

/// `GET /console/api/parsing`: every drift, each with the leads its source sent since it
/// began (masked as the ledger keeps them), newest first.
pub async fn list(ctx: &ConsoleContext<'_>) -> Result<Value, IntakeError> {
    let ledger = ctx.intake.ledger.as_ref();
    let drifts = crate::profile::store::drifts(ledger)
        .await
        .map_err(ledger_unavailable)?;
    let mut out = Vec::new();
    for d in drifts {
        let records = ledger
            .records_since(d.since, SCAN)
            .await
            .map_err(ledger_unavailable)?
            .unwrap_or_default();
        let leads: Vec<Value> = records
            .iter()
            .filter(|r| r.source.as_deref().unwrap_or(&r.sender) == d.source)
            .take(LISTED)
            .map(|r| {
                json!({
                    "envelope_id": r.envelope_id,
                    "received_at": r.received_at,
                    "person": r.person,
                    "status": r.status,
                })
            })
            .collect();
        out.push(json!({
            "source": d.source,
            "field": d.field,
            "since": d.since,
            "reads": d.reads,
            "leads": leads,
        }));
    }
    Ok(json!({"drifts": out}))
}

/// `POST /console/api/parsing/dismiss` `{"source": …, "field": …}`: the drift is no fault
/// (the new template really has no phone); reported again once the field comes back and
/// goes again.
pub async fn dismiss(ctx: &ConsoleContext<'_>, req: &Request) -> Result<Value, IntakeError> {
    from_script(req)?;
    let body: Value = serde_json::from_slice(req.body())
        .map_err(|e| IntakeError::malformed(format!("the body is not JSON: {e}")))?;
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| IntakeError::invalid(key, &format!("{key} is required")))
    };
    let (source, field) = (text("source")?, text("field")?);
    let found = crate::profile::store::dismiss(ctx.intake.ledger.as_ref(), &source, &field)
        .await
        .map_err(ledger_unavailable)?;
    if !found {
        return Err(IntakeError::not_found("no such drift"));
    }
    // The cached reading must not show it again until it is read anew.
    *ctx.intake.readings.lock().await = None;
    Ok(json!({"dismissed": {"source": source, "field": field}}))
}
