//! Profiles kept as one versioned document of the ledger's (`parse-profiles`): the embedded
//! store's on `inlet serve`, the DynamoDB table's item `doc#parse-profiles` on AWS, where the
//! deliver function records every lead's read and the functions that read mail record mail
//! read as no lead. Writers race on the version: a write that loses reads again and retries.

use super::{DriftRule, Profiles, Read};
use crate::ledger::{Ledger, LedgerError};
use std::time::Duration;

/// The ledger document's key.
pub const KEY: &str = "parse-profiles";

/// Tries a record makes against other processes' writers before it gives up (logged; a
/// profile that misses one read still judges the next).
const TRIES: u32 = 10;

/// This process's writers take turns: the deliver loop's concurrent leads would otherwise
/// race each other for every version (`inlet serve`, one Lambda instance's batch), and
/// only other processes are left to race.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The profiles as stored, and their version (0: none stored yet).
pub async fn load(ledger: &dyn Ledger) -> Result<(Profiles, u64), LedgerError> {
    match ledger.document(KEY).await? {
        None => Ok((Profiles::default(), 0)),
        Some(doc) => {
            let profiles = serde_json::from_str(&doc.doc).map_err(|e| LedgerError::Corrupt {
                key: KEY.into(),
                reason: e.to_string(),
            })?;
            Ok((profiles, doc.version))
        }
    }
}

/// Changes the stored profiles with `change`, retrying when another writer wrote first.
/// `change` answers whether it changed anything (nothing is written when not).
pub async fn update(
    ledger: &dyn Ledger,
    mut change: impl FnMut(&mut Profiles) -> bool,
) -> Result<Profiles, LedgerError> {
    let _turn = TURN.lock().await;
    let mut last = None;
    for attempt in 0..TRIES {
        if attempt > 0 {
            // Apart, so that writers of one batch do not meet again at once.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
            tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt) + jitter)).await;
        }
        let (mut profiles, version) = load(ledger).await?;
        if !change(&mut profiles) {
            return Ok(profiles);
        }
        let doc = serde_json::to_string(&profiles).expect("profiles always serialize");
        match ledger.put_document(KEY, &doc, version + 1).await {
            Ok(()) => return Ok(profiles),
            Err(e @ LedgerError::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one try"))
}

/// Records one read of `source`; `create` false only for a source already profiled.
/// Best effort: a failure is logged, never the lead's.
pub async fn record(ledger: &dyn Ledger, source: &str, read: Read, rule: &DriftRule, create: bool) {
    let result = update(ledger, |p| {
        let before = p.sources.get(source).map(|s| s.drifting.clone());
        let known = p.sources.contains_key(source);
        p.observe(source, read, rule, create);
        if !create && !known {
            return false;
        }
        let after = p.sources.get(source).map(|s| s.drifting.clone());
        if after != before
            && let Some(after) = &after
        {
            for (field, since) in after {
                if before.as_ref().is_none_or(|b| !b.contains_key(field)) {
                    tracing::warn!(source, field = %field, since = %since, "a lead source's reads changed: parse drift");
                }
            }
        }
        true
    })
    .await;
    match result {
        Ok(profiles) => crate::telemetry::parse_drifts(profiles.drifts().len()),
        Err(e) => {
            tracing::warn!(source, error = %e, "a read could not be added to its source's profile")
        }
    }
}

/// Dismisses the drift of `field` at `source`. Whether there was one.
pub async fn dismiss(ledger: &dyn Ledger, source: &str, field: &str) -> Result<bool, LedgerError> {
    let mut found = false;
    let profiles = update(ledger, |p| {
        found = p
            .sources
            .get_mut(source)
            .is_some_and(|profile| profile.dismiss(field));
        found
    })
    .await?;
    crate::telemetry::parse_drifts(profiles.drifts().len());
    Ok(found)
}

/// Every drift that lasts, as stored.
pub async fn drifts(ledger: &dyn Ledger) -> Result<Vec<super::Drift>, LedgerError> {
    Ok(load(ledger).await?.0.drifts())
}
