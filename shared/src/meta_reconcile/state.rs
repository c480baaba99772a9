//! What reconciliation keeps in the ledger's documents: one for the runs (the lease that keeps
//! two from running at once, the last success, since when it fails and why, the forms it
//! covers), and one per form (how far its leads have been listed, and each lead of the last
//! days by how it came: by webhook, or added by reconciliation). Leads are kept by Meta's id
//! only, never their fields; figures count them, so a lead listed again by an overlapping run
//! is counted once.

use crate::ledger::{Ledger, LedgerError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The key of the runs' document.
pub const RUN_KEY: &str = "meta-reconcile/run";

/// The key of a form's document.
pub fn form_key(form_id: &str) -> String {
    format!("meta-reconcile/form/{form_id}")
}

/// Days of figures a form's document keeps (today and the six before).
pub const DAYS_KEPT: i64 = 7;

/// Leads a form's document remembers per day; past it a day's figures say they are partial.
pub const MAX_LEADS_PER_DAY: usize = 2_000;

/// The runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunDoc {
    /// A run in progress holds the lease until this time (a crashed one's runs out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// The first failed run since the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// What the last run failed on, in words, with what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The forms runs have covered, for the figures.
    #[serde(default)]
    pub forms: Vec<FormRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormRef {
    pub id: String,
    pub page_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormDoc {
    pub page_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every lead created up to this time has been listed and handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Leads reconciliation has added, ever (`inlet_meta_reconciled_total`).
    #[serde(default)]
    pub reconciled_total: u64,
    /// The last days' leads, by the day Meta created them (UTC).
    #[serde(default)]
    pub days: BTreeMap<NaiveDate, Day>,
}

/// A day's leads of a form, by Meta's id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// Known to the ledger when reconciliation first listed them: a webhook brought them.
    #[serde(default, rename = "w", skip_serializing_if = "Vec::is_empty")]
    pub webhook: Vec<String>,
    /// Unknown to the ledger: reconciliation queued them. Written before they are queued, so
    /// a run that crashes in between queues them again (the same envelope: no second lead).
    #[serde(default, rename = "r", skip_serializing_if = "Vec::is_empty")]
    pub reconciled: Vec<String>,
    /// More leads than `MAX_LEADS_PER_DAY` came that day: the counts are partial.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// How a listed lead came, as far as a form's document knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Came {
    Webhook,
    Reconciled,
}

impl FormDoc {
    pub fn came(&self, day: NaiveDate, lead_id: &str) -> Option<Came> {
        let d = self.days.get(&day)?;
        if d.reconciled.iter().any(|i| i == lead_id) {
            Some(Came::Reconciled)
        } else if d.webhook.iter().any(|i| i == lead_id) {
            Some(Came::Webhook)
        } else {
            None
        }
    }

    /// Records how a lead came, on a day whose figures are kept (`today` and the days
    /// before it); whether anything changed.
    pub fn record(&mut self, today: NaiveDate, day: NaiveDate, lead_id: &str, came: Came) -> bool {
        if (today - day).num_days() >= DAYS_KEPT || day > today {
            return false;
        }
        let d = self.days.entry(day).or_default();
        if d.webhook.len() + d.reconciled.len() >= MAX_LEADS_PER_DAY {
            let changed = !d.partial;
            d.partial = true;
            return changed;
        }
        let list = match came {
            Came::Webhook => &mut d.webhook,
            Came::Reconciled => {
                d.webhook.retain(|i| i != lead_id);
                &mut d.reconciled
            }
        };
        if list.iter().any(|i| i == lead_id) {
            return false;
        }
        list.push(lead_id.to_owned());
        if came == Came::Reconciled {
            self.reconciled_total += 1;
        }
        true
    }

    /// Forgets the days past those kept.
    pub fn prune(&mut self, today: NaiveDate) {
        self.days
            .retain(|day, _| (today - *day).num_days() < DAYS_KEPT);
    }
}

/// A document as read, with the version the next write must follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// Reads a document; a missing one is the default, at version 0.
pub async fn load<T: Default + serde::de::DeserializeOwned>(
    ledger: &dyn Ledger,
    key: &str,
) -> Result<Versioned<T>, LedgerError> {
    match ledger.document(key).await? {
        None => Ok(Versioned {
            value: T::default(),
            version: 0,
        }),
        Some(d) => Ok(Versioned {
            value: serde_json::from_str(&d.doc).map_err(|e| LedgerError::Corrupt {
                key: key.to_owned(),
                reason: e.to_string(),
            })?,
            version: d.version,
        }),
    }
}

/// Writes the next version of a document read with `load`.
pub async fn save<T: Serialize>(
    ledger: &dyn Ledger,
    key: &str,
    doc: &mut Versioned<T>,
) -> Result<(), LedgerError> {
    let text = serde_json::to_string(&doc.value).expect("a reconciliation document serializes");
    ledger.put_document(key, &text, doc.version + 1).await?;
    doc.version += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_lead_is_counted_once_and_reconciled_wins_over_webhook() {
        let mut f = FormDoc::default();
        assert!(f.record(day(10), day(10), "1", Came::Webhook));
        assert!(!f.record(day(10), day(10), "1", Came::Webhook));
        assert!(f.record(day(10), day(9), "2", Came::Reconciled));
        assert!(!f.record(day(10), day(9), "2", Came::Reconciled));
        assert_eq!(f.reconciled_total, 1);
        assert_eq!(f.came(day(9), "2"), Some(Came::Reconciled));
        assert_eq!(f.came(day(10), "1"), Some(Came::Webhook));
        assert_eq!(f.came(day(10), "3"), None);
        // Days past those kept are not recorded, and pruned.
        assert!(!f.record(day(10), day(3), "4", Came::Webhook));
        f.days.insert(day(1), Day::default());
        f.prune(day(10));
        assert_eq!(
            f.days.keys().copied().collect::<Vec<_>>(),
            [day(9), day(10)]
        );
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(r#""2026-11-09":{"r":["2"]}"#), "{json}");
        assert_eq!(serde_json::from_str::<FormDoc>(&json).unwrap(), f);
    }

    #[test]
    fn a_day_past_its_limit_says_its_counts_are_partial() {
        let mut f = FormDoc::default();
        for i in 0..MAX_LEADS_PER_DAY {
            f.record(day(10), day(10), &i.to_string(), Came::Webhook);
        }
        assert!(f.record(day(10), day(10), "over", Came::Webhook));
        assert!(f.days[&day(10)].partial);
        assert!(!f.record(day(10), day(10), "over-again", Came::Webhook));
    }
}
