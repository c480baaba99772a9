//! "My lead never arrived": where a lead is, by any id Inlet handed out or anything a person
//! knows of it. The ledger answers for what was queued (`ledger::search`); a dead letter's
//! message id (what `inlet dlq list` and the console show) stands for its envelope; an id
//! that names no envelope may name something kept for review (a form's spam is answered
//! with an id like a lead's). The console and `inlet leads` both ask here.

use crate::kept::{Kept, KeptItem};
use crate::ledger::search::{LeadQuery, search};
use crate::ledger::{Ledger, LedgerError, LedgerRecord};
use crate::queue::DeadMessage;
use chrono::{DateTime, Utc};

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    /// The ledger's envelopes, newest first; `None` where the ledger is not listed and the
    /// query named nothing to look up.
    pub records: Option<Vec<LedgerRecord>>,
    /// Kept items an id of the query names.
    pub kept: Vec<KeptItem>,
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.records.as_ref().is_none_or(Vec::is_empty) && self.kept.is_empty()
    }
}

/// Where the search looks, and how far.
pub struct Where<'a> {
    pub ledger: &'a dyn Ledger,
    pub kept: Option<&'a dyn Kept>,
    /// The dead letters as listed now (a message id given as `q` stands for its envelope).
    pub dead: &'a [DeadMessage],
    /// The lead channels a person's email or phone is looked up in (the allowlist).
    pub channels: &'a [String],
    pub limit: usize,
    pub scan: usize,
}

pub async fn lookup(
    at: &Where<'_>,
    mut query: LeadQuery,
    now: DateTime<Utc>,
) -> Result<Found, LedgerError> {
    for d in at.dead {
        query.with_dead_letter(&d.message_id, d.dead_letter.envelope_id.as_deref());
    }
    let records = search(at.ledger, &query, at.channels, at.limit, at.scan, now).await?;
    let mut kept: Vec<KeptItem> = Vec::new();
    if let Some(store) = at.kept {
        let in_ledger = |id: &str| {
            records
                .iter()
                .flatten()
                .any(|r| r.envelope_id.eq_ignore_ascii_case(id))
        };
        for id in query.ids.iter().filter(|id| !in_ledger(id)) {
            match store.find(id).await {
                Ok(Some(item)) if !kept.iter().any(|k| k.id == item.id) => kept.push(item),
                Ok(_) => {}
                // The ledger's answer stands without it.
                Err(e) => tracing::warn!(error = %e, "the kept items cannot be read"),
            }
        }
    }
    Ok(Found { records, kept })
}

/// The dead letter that holds a record's envelope, when one does.
pub fn dead_letter_of<'a>(
    record: &LedgerRecord,
    dead: &'a [DeadMessage],
) -> Option<&'a DeadMessage> {
    dead.iter()
        .find(|d| d.dead_letter.envelope_id.as_deref() == Some(record.envelope_id.as_str()))
}
