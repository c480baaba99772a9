//! What each lead source usually carries, and when it stops (issue 34): a portal changes its
//! template, a form renames a field, and the reads of its leads silently lose the phone.
//!
//! Per source (a portal module, a webhook sender, a form, or the sending domain of mail the
//! generic reader took) a rolling profile of its newest reads: for each, when, which lead
//! fields it carried (email, phone, name, note, listing) and whether it was a lead, an unsure
//! reading or mail read as no lead. No personal data: a read is a time and a few bits.
//!
//! Drift, decided by `Profile::observe` as each read comes (a plain function of the profile
//! and `DriftRule`):
//! - a field is drifting when at least `min_reads` lead reads before the newest carried it
//!   at least `carried_share` of the time, and the newest `missing_in_row` lead reads in a
//!   row lack it; it lasts until a read carries it again, or a person dismisses it;
//! - the reading is drifting (`no_lead`) when at least `min_reads` reads came before and
//!   at least `bad_share` of the newest `recent` reads were no lead or unsure, `bad_jump`
//!   more than before; it lasts until fewer than `bad_share` of the newest `recent` are.
//!
//! Profiles are kept as one document of the ledger's (`store`), which every function that
//! records or reports reads: the embedded store's on `inlet serve`, the DynamoDB table's on
//! AWS.

pub mod store;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// The lead fields a profile follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Email,
    Phone,
    Name,
    Note,
    Listing,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Email,
        Field::Phone,
        Field::Name,
        Field::Note,
        Field::Listing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Name => "name",
            Field::Note => "note",
            Field::Listing => "listing",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The name of the drift of the reading itself (a jump in no-lead or unsure readings).
pub const NO_LEAD: &str = "no_lead";

/// What a read was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Lead,
    /// Delivered, with a reading that may be wrong (`Notice::Unsure`).
    Unsure,
    /// Mail read as no lead.
    NoLead,
}

/// One read of a source: when (milliseconds), and its fields and judgement in one byte
/// (bits 0–4 the fields, 5 unsure, 6 no lead). Stored as `[millis, bits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read(i64, u8);

const UNSURE: u8 = 1 << 5;
const NO_LEAD_BIT: u8 = 1 << 6;

impl Read {
    pub fn new(at: DateTime<Utc>, fields: &[Field], judged: Judged) -> Read {
        let mut bits = fields.iter().fold(0, |b, f| b | f.bit());
        bits |= match judged {
            Judged::Lead => 0,
            Judged::Unsure => UNSURE,
            Judged::NoLead => NO_LEAD_BIT,
        };
        Read(at.timestamp_millis(), bits)
    }

    pub fn at(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_default()
    }

    pub fn carries(&self, field: Field) -> bool {
        self.1 & field.bit() != 0
    }

    pub fn is_lead(&self) -> bool {
        self.1 & NO_LEAD_BIT == 0
    }

    /// No lead, or an unsure one.
    fn is_bad(&self) -> bool {
        self.1 & (NO_LEAD_BIT | UNSURE) != 0
    }
}

/// What a lead's fields are, for its read.
pub fn fields_of(lead: &crate::lead::Lead) -> Vec<Field> {
    let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let mut out = Vec::new();
    if has(&lead.email) {
        out.push(Field::Email);
    }
    if has(&lead.phone_number) {
        out.push(Field::Phone);
    }
    if has(&lead.first_name) || has(&lead.last_name) {
        out.push(Field::Name);
    }
    if has(&lead.note) {
        out.push(Field::Note);
    }
    if lead.listing.is_some() {
        out.push(Field::Listing);
    }
    out
}

/// The drift rule's thresholds (`[parsing]` in the routing file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftRule {
    /// Reads a source must have had before its newest for anything to count as usual.
    pub min_reads: usize,
    /// The share of those reads that carried a field for it to be usual (0–1).
    pub carried_share: f64,
    /// Newest lead reads in a row that must lack a usual field.
    pub missing_in_row: usize,
    /// Newest reads whose share of no-lead and unsure readings is watched.
    pub recent: usize,
    /// The share of those that makes a jump (0–1).
    pub bad_share: f64,
    /// How much more than before it must be (0–1).
    pub bad_jump: f64,
}

impl Default for DriftRule {
    fn default() -> Self {
        DriftRule {
            min_reads: 30,
            carried_share: 0.9,
            missing_in_row: 10,
            recent: 10,
            bad_share: 0.5,
            bad_jump: 0.3,
        }
    }
}

impl DriftRule {
    /// Reads a profile remembers: enough for the rule, and never fewer than 100.
    pub fn window(&self) -> usize {
        (self.min_reads + self.missing_in_row.max(self.recent)).max(100)
    }

    /// Reads `[parsing]`.
    pub fn from_toml(value: &toml::Value) -> Result<DriftRule, String> {
        let table = crate::settings::table("parsing", value)?;
        crate::settings::known_keys(
            "parsing",
            table,
            &[
                "drift_min_reads",
                "drift_carried_share",
                "drift_missing_in_row",
                "drift_recent",
                "drift_bad_share",
                "drift_bad_jump",
            ],
        )?;
        let mut rule = DriftRule::default();
        let count = |key: &str, min: i64, max: i64| -> Result<Option<usize>, String> {
            let Some(v) = table.get(key) else {
                return Ok(None);
            };
            match v.as_integer() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n as usize)),
                _ => Err(format!(
                    "parsing.{key} must be a whole number from {min} to {max}"
                )),
            }
        };
        let share = |key: &str| -> Result<Option<f64>, String> {
            let Some(v) = table.get(key) else {
                return Ok(None);
            };
            match v.as_float().or(v.as_integer().map(|n| n as f64)) {
                Some(x) if (0.0..=1.0).contains(&x) && x > 0.0 => Ok(Some(x)),
                _ => Err(format!(
                    "parsing.{key} must be a share above 0 and at most 1 (0.9 is 90%)"
                )),
            }
        };
        if let Some(n) = count("drift_min_reads", 5, 1000)? {
            rule.min_reads = n;
        }
        if let Some(x) = share("drift_carried_share")? {
            rule.carried_share = x;
        }
        if let Some(n) = count("drift_missing_in_row", 2, 1000)? {
            rule.missing_in_row = n;
        }
        if let Some(n) = count("drift_recent", 2, 1000)? {
            rule.recent = n;
        }
        if let Some(x) = share("drift_bad_share")? {
            rule.bad_share = x;
        }
        if let Some(x) = share("drift_bad_jump")? {
            rule.bad_jump = x;
        }
        Ok(rule)
    }
}

/// One source's profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The newest reads, oldest first.
    #[serde(default)]
    pub reads: VecDeque<Read>,
    /// Drifts that last, by field (or `no_lead`): since when.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drifting: BTreeMap<String, DateTime<Utc>>,
    /// Drifts a person dismissed, by field, with the `since` they dismissed: not reported
    /// again until it clears (the field comes back; the no-lead share falls), after which a
    /// new drift is reported anew.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dismissed: BTreeMap<String, DateTime<Utc>>,
}

/// A drift being reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub source: String,
    /// A lead field (`phone`), or `no_lead`.
    pub field: String,
    pub since: DateTime<Utc>,
    /// The newest reads that show it: the leads in a row without the field, or the no-lead
    /// and unsure readings among the newest (the profile's window at most).
    pub reads: usize,
}

impl Profile {
    /// Adds a read and decides what drifts now.
    pub fn observe(&mut self, read: Read, rule: &DriftRule) {
        self.reads.push_back(read);
        while self.reads.len() > rule.window() {
            self.reads.pop_front();
        }
        for field in Field::ALL {
            let name = field.as_str();
            if read.is_lead() && read.carries(field) {
                self.drifting.remove(name);
                self.dismissed.remove(name);
                continue;
            }
            if !self.drifting.contains_key(name)
                && !self.dismissed.contains_key(name)
                && let Some(since) = self.field_drift(field, rule)
            {
                self.drifting.insert(name.to_owned(), since);
            }
        }
        match self.reading_drift(rule) {
            Some(since)
                if !self.drifting.contains_key(NO_LEAD)
                    && !self.dismissed.contains_key(NO_LEAD) =>
            {
                self.drifting.insert(NO_LEAD.to_owned(), since);
            }
            Some(_) => {}
            None if self.bad_recent(rule) < rule.bad_share => {
                self.drifting.remove(NO_LEAD);
                self.dismissed.remove(NO_LEAD);
            }
            None => {}
        }
    }

    /// When the newest lead reads began to lack a usual `field`, if they do by the rule.
    fn field_drift(&self, field: Field, rule: &DriftRule) -> Option<DateTime<Utc>> {
        let leads: Vec<&Read> = self.reads.iter().filter(|r| r.is_lead()).collect();
        let missing = leads.iter().rev().take_while(|r| !r.carries(field)).count();
        if missing < rule.missing_in_row {
            return None;
        }
        let before = &leads[..leads.len() - missing];
        if before.len() < rule.min_reads {
            return None;
        }
        let carried = before.iter().filter(|r| r.carries(field)).count();
        (carried as f64 >= rule.carried_share * before.len() as f64)
            .then(|| leads[leads.len() - missing].at())
    }

    /// The share of no-lead and unsure readings among the newest `recent` reads.
    fn bad_recent(&self, rule: &DriftRule) -> f64 {
        let recent: Vec<&Read> = self.reads.iter().rev().take(rule.recent).collect();
        if recent.is_empty() {
            return 0.0;
        }
        recent.iter().filter(|r| r.is_bad()).count() as f64 / recent.len() as f64
    }

    /// When the newest reads' jump in no-lead or unsure readings began, if there is one.
    fn reading_drift(&self, rule: &DriftRule) -> Option<DateTime<Utc>> {
        if self.reads.len() < rule.min_reads + rule.recent {
            return None;
        }
        let split = self.reads.len() - rule.recent;
        let before = self.reads.iter().take(split);
        let before_bad = before.filter(|r| r.is_bad()).count() as f64 / split as f64;
        let now = self.bad_recent(rule);
        if now < rule.bad_share || now - before_bad < rule.bad_jump {
            return None;
        }
        self.reads
            .iter()
            .skip(split)
            .find(|r| r.is_bad())
            .map(Read::at)
    }

    /// Forgets a drift a person says is no fault (the new template has no phone). Whether
    /// there was one.
    pub fn dismiss(&mut self, field: &str) -> bool {
        match self.drifting.remove(field) {
            Some(since) => {
                self.dismissed.insert(field.to_owned(), since);
                true
            }
            None => false,
        }
    }

    /// The drifts that last, named for `source`.
    pub fn drifts(&self, source: &str) -> Vec<Drift> {
        self.drifting
            .iter()
            .map(|(name, since)| {
                let field = Field::ALL.into_iter().find(|f| f.as_str() == name);
                let reads = match field {
                    Some(field) => self
                        .reads
                        .iter()
                        .rev()
                        .filter(|r| r.is_lead())
                        .take_while(|r| !r.carries(field))
                        .count(),
                    None => self
                        .reads
                        .iter()
                        .rev()
                        .take_while(|r| r.at() >= *since)
                        .filter(|r| r.is_bad())
                        .count(),
                };
                Drift {
                    source: source.to_owned(),
                    field: name.clone(),
                    since: *since,
                    reads,
                }
            })
            .collect()
    }

    /// When this source was last read.
    pub fn last_read(&self) -> Option<DateTime<Utc>> {
        self.reads.back().map(Read::at)
    }
}

/// Every source's profile: the ledger's document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(default)]
    pub sources: BTreeMap<String, Profile>,
}

/// Sources a document keeps; past it the one read longest ago makes room. A source name is
/// sometimes the sender's own (a mail domain), so they must not grow without end.
pub const MAX_SOURCES: usize = 200;

impl Profiles {
    /// Adds `read` to `source`'s profile. `create` false only adds to a profile that exists
    /// (mail read as no lead: a domain that never sent a lead gets none).
    pub fn observe(&mut self, source: &str, read: Read, rule: &DriftRule, create: bool) {
        if !create && !self.sources.contains_key(source) {
            return;
        }
        if !self.sources.contains_key(source) && self.sources.len() >= MAX_SOURCES {
            let oldest = self
                .sources
                .iter()
                .min_by_key(|(_, p)| p.last_read())
                .map(|(s, _)| s.clone());
            if let Some(oldest) = oldest {
                self.sources.remove(&oldest);
            }
        }
        self.sources
            .entry(source.to_owned())
            .or_default()
            .observe(read, rule);
    }

    /// Every drift that lasts, by source then field.
    pub fn drifts(&self) -> Vec<Drift> {
        self.sources
            .iter()
            .flat_map(|(source, p)| p.drifts(source))
            .collect()
    }
}

/// The source a lead envelope's read is profiled under (`Envelope::profile_source`).
pub fn source_of(envelope: &crate::envelope::Envelope) -> String {
    envelope.profile_source().to_owned()
}

#[cfg(test)]
mod tests;
