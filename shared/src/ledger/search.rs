//! Finding envelopes in the ledger as a person asks: by email, phone, lead channel, sender,
//! status or date, or any text of the record. The ledger holds no personal data, so an
//! email, phone or channel is found by its digest (`envelope::find_keys`), and through the
//! lead index when the channel is known (a lead's `lead_key` is a digest of channel and
//! email), which reaches back as far as the ledger keeps records.

use super::{Ledger, LedgerError, LedgerRecord, RecordStatus};
use chrono::{DateTime, Utc};

/// What a person searches by; every given part must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadQuery {
    /// Normalized (lower-case).
    pub email: Option<String>,
    /// In E.164.
    pub phone: Option<String>,
    /// A lead channel (canonical UUID).
    pub channel: Option<String>,
    pub sender: Option<String>,
    pub status: Option<RecordStatus>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Any other text: an envelope id, a Rechat lead id, words of an error (lower-case).
    pub text: Option<String>,
    /// The envelope ids `q` may stand for, each looked up whole: an envelope id in any case,
    /// the UUID Rechat's own routes answered for one (`envelope::answer_uuid`) in any
    /// spelling, or a dead letter's message id (`with_dead_letter`).
    pub ids: Vec<String>,
}

/// Why a query cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct QueryError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> QueryError {
    QueryError {
        field,
        message: message.into(),
    }
}

/// A date (`2026-12-05`, the whole day in UTC) or a time (RFC 3339). `end`: a date means the
/// end of that day.
fn when(field: &'static str, given: &str, end: bool) -> Result<DateTime<Utc>, QueryError> {
    let given = given.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(given) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(given, "%Y-%m-%d").map_err(|_| {
        refuse(
            field,
            format!("{given:?} is not a date (2026-12-05) or a time (RFC 3339)"),
        )
    })?;
    let at = if end {
        day.and_hms_opt(23, 59, 59)
    } else {
        day.and_hms_opt(0, 0, 0)
    };
    Ok(at.unwrap_or_default().and_utc())
}

impl LeadQuery {
    /// Reads the query's parameters (`email`, `phone`, `channel`, `sender`, `status`,
    /// `since`, `until`, and `q`, which is read as whichever of the first three it is, else
    /// as text). Phones are read in `region` unless they carry their country code.
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
        region: phonenumber::country::Id,
    ) -> Result<LeadQuery, QueryError> {
        let mut q = LeadQuery::default();
        for (name, value) in params {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name {
                "email" => q.email = Some(email(value)?),
                "phone" => q.phone = Some(phone(value, region)?),
                "channel" => q.channel = Some(channel(value)?),
                "sender" => q.sender = Some(value.to_lowercase()),
                "status" => {
                    q.status = Some(
                        serde_json::from_value(serde_json::Value::String(
                            value.to_lowercase().replace([' ', '-'], "_"),
                        ))
                        .map_err(|_| {
                            refuse(
                                "status",
                                "one of queued, in_progress, delivered, dead_lettered",
                            )
                        })?,
                    )
                }
                "since" => q.since = Some(when("since", value, false)?),
                "until" => q.until = Some(when("until", value, true)?),
                "q" => q.free(value, region),
                _ => {}
            }
        }
        Ok(q)
    }

    /// `q`: an email, a channel, a phone, an id, or text, by its look.
    fn free(&mut self, value: &str, region: phonenumber::country::Id) {
        if value.contains('@')
            && let Ok(e) = email(value)
        {
            self.email = Some(e);
            return;
        }
        let lower = value.to_lowercase();
        if crate::envelope::is_envelope_id(&lower) {
            self.ids.push(lower.clone());
            self.text = Some(lower);
            return;
        }
        if let Ok(u) = uuid::Uuid::parse_str(value) {
            // A UUID may be a channel, a Rechat lead id or the id Inlet answered for an
            // envelope: each is looked for.
            let hyphenated = u.hyphenated().to_string();
            self.ids.extend(
                crate::envelope::envelope_ids_answered_as(&u)
                    .into_iter()
                    .flatten(),
            );
            self.channel = Some(hyphenated.clone());
            self.text = Some(hyphenated);
            return;
        }
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let phone_like = value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if phone_like
            && digits >= 7
            && let Ok(p) = phone(value, region)
        {
            self.phone = Some(p);
            return;
        }
        self.text = Some(value.to_lowercase());
    }

    /// Whether the query names a person (an email or phone), which is looked up whole.
    pub fn names_person(&self) -> bool {
        self.email.is_some() || self.phone.is_some()
    }

    /// When `q` is a dead letter's message id (what `inlet dlq list` and the console show),
    /// the envelope it holds is looked up too.
    pub fn with_dead_letter(&mut self, message_id: &str, envelope_id: Option<&str>) {
        if let (Some(text), Some(envelope_id)) = (&self.text, envelope_id)
            && text.eq_ignore_ascii_case(message_id.trim())
        {
            self.ids.push(envelope_id.to_owned());
        }
    }
}

fn email(value: &str) -> Result<String, QueryError> {
    crate::normalize::email(value).map_err(|e| refuse("email", e))
}

fn phone(value: &str, region: phonenumber::country::Id) -> Result<String, QueryError> {
    crate::normalize::phone(value, region)
        .ok_or_else(|| refuse("phone", format!("{value:?} is not a phone number")))
}

fn channel(value: &str) -> Result<String, QueryError> {
    uuid::Uuid::parse_str(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| refuse("channel", "a lead channel is a UUID"))
}

/// Whether `record` answers `query`. A UUID given as `q` matches a channel, an envelope or a
/// Rechat lead id.
pub fn matches(record: &LedgerRecord, query: &LeadQuery) -> bool {
    let has = |key: String| record.find.contains(&key);
    if let Some(e) = &query.email
        && !has(crate::envelope::find_key_email(e))
    {
        return false;
    }
    if let Some(p) = &query.phone
        && !has(crate::envelope::find_key_phone(p))
    {
        return false;
    }
    let text = query.text.as_deref();
    let by_id = query.ids.iter().any(|id| {
        record.envelope_id.eq_ignore_ascii_case(id)
            || record
                .corrects
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(id))
    });
    if let Some(c) = &query.channel {
        let by_channel = has(crate::envelope::find_key_channel(c));
        // `q` holding a UUID: the channel, an id, or any text of the record.
        let by_text = text.is_some_and(|t| record_text(record).contains(t));
        if !by_channel && !by_text && !by_id {
            return false;
        }
    } else if let Some(t) = text
        && !by_id
        && !record_text(record).contains(t)
    {
        return false;
    }
    if let Some(s) = &query.sender
        && !record.sender.to_lowercase().contains(s.as_str())
    {
        return false;
    }
    if let Some(status) = query.status
        && record.status != status
    {
        return false;
    }
    if query.since.is_some_and(|t| record.received_at < t)
        || query.until.is_some_and(|t| record.received_at > t)
    {
        return false;
    }
    true
}

/// The record's text a person may search: ids, sender, status, errors (lower-case).
fn record_text(record: &LedgerRecord) -> String {
    let status = serde_json::to_value(record.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut text = format!(
        "{} {} {} {} {} {} {} {} {}",
        record.key,
        record.envelope_id,
        crate::envelope::answer_uuid(&record.envelope_id),
        record.sender,
        status,
        record.channel,
        record.rechat_lead_id.as_deref().unwrap_or(""),
        record.last_error.as_deref().unwrap_or(""),
        record.corrects.as_deref().unwrap_or(""),
    );
    for step in &record.steps {
        if let super::StepState::Failed { error } | super::StepState::Skipped { reason: error } =
            step
        {
            text.push(' ');
            text.push_str(error);
        }
    }
    if let Some(u) = &record.unsure {
        text.push_str(" unsure ");
        text.push_str(u);
    }
    text.to_lowercase()
}

/// How far back a search reads the newest records when it has no exact way in.
pub const DEFAULT_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// The records that answer `query`, newest first, at most `limit`; `None` when the ledger
/// is not listed and the query names nobody to look up. A person's email or phone is
/// looked up through the lead index in each lead channel the query or `channels` (the
/// allowlist) names; the newest records of the window (`since`, else `DEFAULT_WINDOW`) are
/// read besides, at most `scan` of them.
pub async fn search(
    ledger: &dyn Ledger,
    query: &LeadQuery,
    channels: &[String],
    limit: usize,
    scan: usize,
    now: DateTime<Utc>,
) -> Result<Option<Vec<LedgerRecord>>, LedgerError> {
    let mut found: Vec<LedgerRecord> = Vec::new();
    // An id is looked up whole, as far back as the ledger keeps records; so are the
    // corrections of it, which a correction puts in the same lead's group.
    for id in &query.ids {
        if let Some(record) = ledger.get(id).await? {
            let corrections = ledger.records_for_lead(&record.lead_key).await?;
            found.extend(
                corrections
                    .into_iter()
                    .filter(|r| r.corrects.as_deref() == Some(id.as_str())),
            );
            found.push(record);
        }
    }
    if query.names_person() {
        let lead = crate::lead::Lead {
            email: query.email.clone(),
            phone_number: query.phone.clone(),
            ..crate::lead::Lead::default()
        };
        let by_phone = crate::lead::Lead {
            email: None,
            ..lead.clone()
        };
        let in_channels: Vec<&String> = match &query.channel {
            Some(c) => vec![c],
            None => channels.iter().collect(),
        };
        for channel in in_channels {
            for lead in [&lead, &by_phone] {
                let key = crate::envelope::lead_key(channel, Some(lead), None, "");
                found.extend(ledger.records_for_lead(&key).await?);
            }
        }
    }
    let since = query.since.unwrap_or(now - DEFAULT_WINDOW);
    let listed = ledger.records_since(since, scan).await?;
    if listed.is_none() && !query.names_person() && query.ids.is_empty() {
        return Ok(None);
    }
    found.extend(listed.unwrap_or_default());
    found.retain(|r| matches(r, query));
    found.sort_by(|a, b| {
        b.received_at
            .cmp(&a.received_at)
            .then_with(|| a.key.cmp(&b.key))
    });
    found.dedup_by(|a, b| a.key == b.key);
    found.truncate(limit);
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EnvelopeBuilder, OriginKind, Step};
    use crate::lead::Lead;
    use crate::ledger::memory::MemoryLedger;
    use phonenumber::country::Id::US;

    const CHANNEL: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
    const OTHER: &str = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";

    fn record(n: i64, channel: &str, email: Option<&str>, phone: Option<&str>) -> LedgerRecord {
        let envelope = EnvelopeBuilder::new(OriginKind::Webhook, "zapier", channel, &[n as u8])
            .received_at(Utc::now() - chrono::Duration::hours(n))
            .step(Step::Capture {
                lead: Lead {
                    first_name: Some(format!("P{n}")),
                    email: email.map(str::to_owned),
                    phone_number: phone.map(str::to_owned),
                    ..Lead::default()
                },
                sender_lead_id: None,
            })
            .build();
        LedgerRecord::new(envelope.id.clone(), &envelope)
    }

    fn query(params: &[(&str, &str)]) -> LeadQuery {
        LeadQuery::from_params(params.iter().copied(), US).unwrap()
    }

    #[test]
    fn q_is_read_as_an_email_a_phone_a_channel_or_text() {
        assert_eq!(
            query(&[("q", " Ana@Example.COM ")]).email.as_deref(),
            Some("ana@example.com")
        );
        assert_eq!(
            query(&[("q", "(214) 555-0123")]).phone.as_deref(),
            Some("+12145550123")
        );
        let c = query(&[("q", &CHANNEL.to_uppercase())]);
        assert_eq!(c.channel.as_deref(), Some(CHANNEL));
        assert_eq!(
            query(&[("q", "Rechat 401")]).text.as_deref(),
            Some("rechat 401")
        );
        assert_eq!(
            query(&[("q", "2026")]).text.as_deref(),
            Some("2026"),
            "too short for a phone"
        );
        assert_eq!(
            query(&[("status", "Dead Lettered")]).status,
            Some(RecordStatus::DeadLettered)
        );
        let day = query(&[("since", "2026-12-05"), ("until", "2026-12-05")]);
        assert_eq!(day.since.unwrap().to_rfc3339(), "2026-12-05T00:00:00+00:00");
        assert_eq!(day.until.unwrap().to_rfc3339(), "2026-12-05T23:59:59+00:00");
        for (field, bad) in [
            ("email", "not an email"),
            ("phone", "12"),
            ("channel", "not-a-uuid"),
            ("status", "lost"),
            ("since", "yesterday"),
        ] {
            let e = LeadQuery::from_params([(field, bad)], US).unwrap_err();
            assert_eq!(e.field, field, "{bad}");
        }
        assert_eq!(
            query(&[("unknown", "x"), ("email", "")]),
            LeadQuery::default()
        );
    }

    #[test]
    fn records_match_by_digest_never_by_stored_values() {
        let r = record(1, CHANNEL, Some("ana@example.com"), Some("+12145550123"));
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("ana@example.com") && !text.contains("2145550123"));
        assert!(!text.contains(CHANNEL), "the channel only masked: {text}");
        assert!(matches(&r, &query(&[("email", "ANA@example.com")])));
        assert!(matches(&r, &query(&[("phone", "214.555.0123")])));
        assert!(matches(&r, &query(&[("channel", CHANNEL)])));
        assert!(matches(&r, &query(&[("q", CHANNEL)])));
        assert!(!matches(&r, &query(&[("email", "bo@example.com")])));
        assert!(!matches(&r, &query(&[("channel", OTHER)])));
        assert!(!matches(
            &r,
            &query(&[("email", "ana@example.com"), ("channel", OTHER)])
        ));
        assert!(matches(&r, &query(&[("sender", "ZAP")])));
        assert!(!matches(&r, &query(&[("status", "delivered")])));
        assert!(matches(&r, &query(&[("q", &r.envelope_id[2..10])])));
        assert!(
            matches(&r, &query(&[("q", "in_progress")])),
            "a status by its name"
        );
        let old = query(&[(
            "until",
            &(Utc::now() - chrono::Duration::hours(3)).to_rfc3339(),
        )]);
        assert!(!matches(&r, &old));
    }

    #[tokio::test]
    async fn every_id_inlet_answered_finds_its_lead_in_any_spelling() {
        let ledger = MemoryLedger::new();
        // Far past the scan: only an exact look-up finds it.
        for n in 0..30 {
            ledger
                .create(&record(n, CHANNEL, None, None))
                .await
                .unwrap();
        }
        let ana = record(40, CHANNEL, Some("ana@example.com"), Some("+12145550123"));
        ledger.create(&ana).await.unwrap();
        let answered = crate::envelope::answer_uuid(&ana.envelope_id);
        let hex = ana.envelope_id[2..].to_owned();
        for given in [
            answered.clone(),
            answered.to_uppercase(),
            format!("{{{answered}}}"),
            format!("urn:uuid:{answered}"),
            hex.clone(),
            ana.envelope_id.clone(),
            ana.envelope_id.to_uppercase(),
            format!(" {answered} "),
        ] {
            let q = query(&[("q", &given)]);
            let found = search(&ledger, &q, &[], 20, 5, Utc::now())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.len(), 1, "{given}");
            assert_eq!(found[0].key, ana.key, "{given}");
        }
        // The person, masked as the ledger keeps them.
        assert_eq!(ana.person.as_deref(), Some("P40 · a…@example.com · …0123"));
        // A dead letter's message id stands for its envelope.
        let mut q = query(&[("q", "3f2a9c1e-message-id")]);
        q.with_dead_letter("3f2a9c1e-message-id", Some(&ana.envelope_id));
        q.with_dead_letter("another", Some("c-00000000000000000000000000000000"));
        let found = search(&ledger, &q, &[], 20, 5, Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.len(), 1);
        // A Rechat lead id or a channel (a UUID of no envelope) finds nothing by id.
        let q = query(&[("q", OTHER)]);
        assert!(q.ids.is_empty());
        // A correction of it is found by the first id too.
        let mut fix = record(41, CHANNEL, Some("ana@example.org"), None);
        fix.lead_key = ana.lead_key.clone();
        fix.corrects = Some(ana.envelope_id.clone());
        ledger.create(&fix).await.unwrap();
        let found = search(&ledger, &query(&[("q", &answered)]), &[], 20, 5, Utc::now())
            .await
            .unwrap()
            .unwrap();
        let keys: Vec<&str> = found.iter().map(|r| r.key.as_str()).collect();
        assert!(
            keys.contains(&fix.key.as_str()) && keys.contains(&ana.key.as_str()),
            "{keys:?}"
        );
    }

    #[tokio::test]
    async fn a_person_is_found_through_the_lead_index_past_the_scan() {
        let ledger = MemoryLedger::new();
        for n in 0..50 {
            ledger
                .create(&record(
                    n,
                    CHANNEL,
                    Some(&format!("p{n}@example.com")),
                    None,
                ))
                .await
                .unwrap();
        }
        // The oldest, out of the newest ten a scan reads, with an email and a phone.
        let ana = record(60, CHANNEL, Some("ana@example.com"), Some("+12145550123"));
        ledger.create(&ana).await.unwrap();
        let now = Utc::now();
        let q = query(&[("email", "ana@example.com")]);
        let found = search(&ledger, &q, &[CHANNEL.into()], 20, 10, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, ana.key);
        // Without the channel (any channel allowed), only the scan: not found.
        let scanned = search(&ledger, &q, &[], 20, 10, now)
            .await
            .unwrap()
            .unwrap();
        assert!(scanned.is_empty());
        // By phone, though the lead's key is its email's: the scan over a wide enough window.
        let q = query(&[("phone", "214-555-0123")]);
        let found = search(&ledger, &q, &[CHANNEL.into()], 20, 100, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.len(), 1);
        // Newest first, within the limit.
        let all = search(&ledger, &query(&[]), &[], 5, 100, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].received_at >= w[1].received_at));
    }
}
