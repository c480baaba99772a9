//! Normalization, the one place every source goes through before a lead is queued:
//! names, email, phone, tags, the rule that a lead needs someone to reach, and the size of
//! every field (`bounds`), so that an envelope fits the queue.

use crate::lead::{Activity, Address, Assignee, IsEmpty, Lead, Listing};
use phonenumber::country::Id as Region;
use phonenumber::{Mode, PhoneNumber};

/// What a source read, before normalization. Every source fills this; only
/// [`normalize`] turns it into a [`Lead`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawLead {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// A full name, split only when the first and last names are not given.
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub lead_source: Option<String>,
    pub note: Option<String>,
    pub referer_url: Option<String>,
    pub source_type: Option<String>,
    pub listing: Option<Listing>,
    pub assignees: Vec<Assignee>,
}

/// Settings normalization depends on.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeOptions {
    /// The region a phone number without a country code belongs to.
    pub phone_region: Region,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            phone_region: Region::US,
        }
    }
}

/// Something normalization changed or left out, kept so that nobody has to guess why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The email was not sent to Rechat: it is not a deliverable address.
    InvalidEmail { reason: String },
    /// The phone could not be read as a number; its text is in the note.
    UnparsedPhone,
    /// A field was longer than Inlet sends (`bounds`): cut at `limit` bytes, or items, from
    /// `given`. The note says so too.
    Cut {
        field: String,
        limit: usize,
        given: usize,
    },
    /// Mail in a portal's layout whose sender was not proven to be that portal (no aligned
    /// DMARC or DKIM pass, nor a listed agent's forward): read as plain mail, not credited.
    UnverifiedSender { portal: String },
    /// Read again at replay with the settings then in force, after it first failed so.
    ReadAgain { first_reason: String },
    /// A person corrected these fields of a lead Rechat refused, and sent it again.
    Corrected {
        first_reason: String,
        fields: Vec<String>,
    },
    /// The reading may be wrong or leave the agent no way to reach the person (no email or
    /// phone, or only a portal's relay address): delivered all the same, and said so, so
    /// that an operator can review it. Never a reason to drop the lead.
    Unsure { reason: String },
}

impl Notice {
    /// Why the reading is unsure, when it is.
    pub fn unsure(&self) -> Option<&str> {
        match self {
            Notice::Unsure { reason } => Some(reason),
            _ => None,
        }
    }
}

/// The lead, and what normalization had to say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub lead: Lead,
    pub notices: Vec<Notice>,
}

/// Why an intake is not a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a lead: {reason}")]
pub struct NotALead {
    pub reason: String,
}

/// Normalizes what a source read into the lead Rechat will receive.
pub fn normalize(raw: RawLead, options: &NormalizeOptions) -> Result<Normalized, NotALead> {
    let mut notices = Vec::new();
    let mut note_lines = Vec::new();

    let (first_name, last_name) = names(
        raw.first_name.as_deref(),
        raw.last_name.as_deref(),
        raw.full_name.as_deref(),
    );

    let email = match raw
        .email
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(given) => match email(given) {
            Ok(e) => Some(e),
            Err(reason) => {
                note_lines.push(format!("Email as given: {given}"));
                notices.push(Notice::InvalidEmail { reason });
                None
            }
        },
    };

    let phone_number = match raw
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(given) => match phone(given, options.phone_region) {
            Some(p) => Some(p),
            None => {
                note_lines.push(format!("Phone as given: {given}"));
                notices.push(Notice::UnparsedPhone);
                None
            }
        },
    };

    if email.is_none() && phone_number.is_none() && first_name.is_none() && last_name.is_none() {
        let mut reason = String::from("no email, phone or name");
        let unusable: Vec<&str> = notices
            .iter()
            .map(|n| match n {
                Notice::InvalidEmail { .. } => "the email is not a valid address",
                Notice::UnparsedPhone => "the phone is not a number",
                Notice::Cut { .. } => "a field is too long",
                Notice::UnverifiedSender { .. } => "its sender is not proven",
                Notice::ReadAgain { .. } => "it was read again",
                Notice::Corrected { .. } => "it was corrected",
                Notice::Unsure { .. } => "the reading is unsure",
            })
            .collect();
        if !unusable.is_empty() {
            reason.push_str(&format!(" ({})", unusable.join("; ")));
        }
        return Err(NotALead { reason });
    }

    let note = join_note(raw.note.as_deref(), &note_lines);
    // "Test" as a name is the name that was sent; the lead is marked so that it is easy to
    // find and remove.
    let mut raw_tags = raw.tags;
    if is_test_lead(
        first_name.as_deref(),
        last_name.as_deref(),
        email.as_deref(),
    ) {
        raw_tags.push("test".into());
    }
    let assignees = raw
        .assignees
        .into_iter()
        .map(|a| assignee(a, options))
        .filter(|a| !a.is_empty())
        .collect();

    let mut lead = Lead {
        first_name,
        last_name,
        email,
        phone_number,
        tag: tags(raw_tags),
        lead_source: text(raw.lead_source.as_deref()),
        note,
        referer_url: text(raw.referer_url.as_deref()),
        listing: raw.listing.filter(|l| !l.is_empty()),
        assignees,
        source_type: text(raw.source_type.as_deref()),
        ..Lead::default()
    };
    if lead.email.is_none() && lead.phone_number.is_none() {
        notices.push(Notice::Unsure {
            reason: "no email or phone: only a name to reach the person by".into(),
        });
    }
    notices.extend(bounds::lead(&mut lead));
    Ok(Normalized { lead, notices })
}

/// How long a lead's fields may be. A 600 KB note is a paste or an attack, not a message,
/// and an envelope must fit SQS's 256 KiB; the cut is said in the note, never silent.
pub mod bounds {
    use super::{Activity, Address, Assignee, Lead, Notice};

    /// The note, and an activity's notes.
    pub const NOTE: usize = 64 * 1024;
    /// Names, the lead source, MLS numbers and boards, address parts, tags, search titles.
    pub const TEXT: usize = 256;
    /// A street or full address.
    pub const ADDRESS: usize = 1024;
    /// URLs: the page the lead came from, a listing's photo or page, a saved search.
    pub const URL: usize = 4096;
    /// Tags on a lead, property types in a search.
    pub const ITEMS: usize = 100;
    /// Agents assigned at once.
    pub const ASSIGNEES: usize = 20;

    /// Cuts `value` to at most `limit` bytes, at a character boundary.
    fn cut(field: &str, value: &mut Option<String>, limit: usize, cuts: &mut Vec<Notice>) {
        if let Some(text) = value
            && text.len() > limit
        {
            let given = text.len();
            let mut end = limit;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            cuts.push(Notice::Cut {
                field: field.to_owned(),
                limit,
                given,
            });
        }
    }

    fn cut_list<T>(field: &str, items: &mut Vec<T>, limit: usize, cuts: &mut Vec<Notice>) {
        if items.len() > limit {
            cuts.push(Notice::Cut {
                field: field.to_owned(),
                limit,
                given: items.len(),
            });
            items.truncate(limit);
        }
    }

    fn address(at: &str, a: &mut Address, cuts: &mut Vec<Notice>) {
        for (name, part) in [
            ("street_number", &mut a.street_number),
            ("street_dir_prefix", &mut a.street_dir_prefix),
            ("street_name", &mut a.street_name),
            ("street_suffix", &mut a.street_suffix),
            ("street_dir_suffix", &mut a.street_dir_suffix),
            ("unit_number", &mut a.unit_number),
            ("city", &mut a.city),
            ("state_code", &mut a.state_code),
            ("postal_code", &mut a.postal_code),
            ("country", &mut a.country),
            ("direction", &mut a.direction),
        ] {
            cut(&format!("{at}.{name}"), part, TEXT, cuts);
        }
        cut(
            &format!("{at}.street_address"),
            &mut a.street_address,
            ADDRESS,
            cuts,
        );
        cut(
            &format!("{at}.full_address"),
            &mut a.full_address,
            ADDRESS,
            cuts,
        );
    }

    fn assignee(at: &str, a: &mut Assignee, cuts: &mut Vec<Notice>) {
        for (name, part) in [
            ("email", &mut a.email),
            ("phone_number", &mut a.phone_number),
            ("first_name", &mut a.first_name),
            ("last_name", &mut a.last_name),
            ("mls", &mut a.mls),
            ("mls_id", &mut a.mls_id),
        ] {
            cut(&format!("{at}.{name}"), part, TEXT, cuts);
        }
    }

    /// The line the note ends with when something was cut.
    fn said(cuts: &[Notice]) -> Option<String> {
        let parts: Vec<String> = cuts
            .iter()
            .filter_map(|c| match c {
                Notice::Cut {
                    field,
                    limit,
                    given,
                } => Some(format!("{field} to {limit} of {given}")),
                _ => None,
            })
            .collect();
        (!parts.is_empty()).then(|| format!("[Inlet cut what was too long: {}]", parts.join("; ")))
    }

    fn mark(note: &mut Option<String>, cuts: &[Notice]) {
        if let Some(line) = said(cuts) {
            *note = Some(match note.take() {
                Some(text) => format!("{text}\n{line}"),
                None => line,
            });
        }
    }

    /// Cuts a lead's fields to their bounds; what was cut is said in its note and returned.
    pub fn lead(lead: &mut Lead) -> Vec<Notice> {
        let mut cuts = Vec::new();
        cut("note", &mut lead.note, NOTE, &mut cuts);
        for (name, part) in [
            ("first_name", &mut lead.first_name),
            ("last_name", &mut lead.last_name),
            ("email", &mut lead.email),
            ("phone_number", &mut lead.phone_number),
            ("lead_source", &mut lead.lead_source),
            ("source_type", &mut lead.source_type),
            ("mlsid", &mut lead.mlsid),
            ("agent_mlsid", &mut lead.agent_mlsid),
            ("listing_id", &mut lead.listing_id),
        ] {
            cut(name, part, TEXT, &mut cuts);
        }
        cut("address", &mut lead.address, ADDRESS, &mut cuts);
        cut("referer_url", &mut lead.referer_url, URL, &mut cuts);
        cut_list("tag", &mut lead.tag, ITEMS, &mut cuts);
        for (i, tag) in lead.tag.iter_mut().enumerate() {
            let mut one = Some(std::mem::take(tag));
            cut(&format!("tag[{i}]"), &mut one, TEXT, &mut cuts);
            *tag = one.unwrap_or_default();
        }
        if let Some(listing) = &mut lead.listing {
            cut(
                "listing.mls_number",
                &mut listing.mls_number,
                TEXT,
                &mut cuts,
            );
            cut(
                "listing.cover_image_url",
                &mut listing.cover_image_url,
                URL,
                &mut cuts,
            );
            if let Some(a) = listing.property.as_mut().and_then(|p| p.address.as_mut()) {
                address("listing.property.address", a, &mut cuts);
            }
        }
        cut_list("assignees", &mut lead.assignees, ASSIGNEES, &mut cuts);
        for (i, a) in lead.assignees.iter_mut().enumerate() {
            assignee(&format!("assignees[{i}]"), a, &mut cuts);
        }
        mark(&mut lead.note, &cuts);
        cuts
    }

    /// Cuts agents to assign (a reassignment) to their bounds.
    pub fn assignees(agents: &mut Vec<Assignee>) -> Vec<Notice> {
        let mut cuts = Vec::new();
        cut_list("assignees", agents, ASSIGNEES, &mut cuts);
        for (i, a) in agents.iter_mut().enumerate() {
            assignee(&format!("assignees[{i}]"), a, &mut cuts);
        }
        cuts
    }

    /// Cuts an activity's fields to their bounds; what was cut is said in its notes.
    pub fn activity(activity: &mut Activity) -> Vec<Notice> {
        let mut cuts = Vec::new();
        cut("notes", &mut activity.notes, NOTE, &mut cuts);
        if let Some(l) = &mut activity.listing {
            cut("listing.url", &mut l.url, URL, &mut cuts);
            cut("listing.mls_number", &mut l.mls_number, TEXT, &mut cuts);
            cut("listing.mls", &mut l.mls, TEXT, &mut cuts);
            cut(
                "listing.cover_image_url",
                &mut l.cover_image_url,
                URL,
                &mut cuts,
            );
            if let Some(a) = l.property.as_mut().and_then(|p| p.address.as_mut()) {
                cut(
                    "listing.property.address.street_address",
                    &mut a.street_address,
                    ADDRESS,
                    &mut cuts,
                );
            }
        }
        if let Some(s) = &mut activity.search {
            cut("search.url", &mut s.url, URL, &mut cuts);
            cut("search.title", &mut s.title, TEXT, &mut cuts);
            cut_list(
                "search.property_types",
                &mut s.property_types,
                ITEMS,
                &mut cuts,
            );
            for (i, t) in s.property_types.iter_mut().enumerate() {
                let mut one = Some(std::mem::take(t));
                cut(
                    &format!("search.property_types[{i}]"),
                    &mut one,
                    TEXT,
                    &mut cuts,
                );
                *t = one.unwrap_or_default();
            }
        }
        mark(&mut activity.notes, &cuts);
        cuts
    }
}

/// An assignee as Rechat should match it: lowercased email, E.164 phone, tidy names.
/// A field that does not read as what it claims is left out rather than sent wrong.
pub fn assignee(raw: Assignee, options: &NormalizeOptions) -> Assignee {
    let (first_name, last_name) = names(raw.first_name.as_deref(), raw.last_name.as_deref(), None);
    Assignee {
        email: raw.email.as_deref().and_then(|e| email(e).ok()),
        phone_number: raw
            .phone_number
            .as_deref()
            .and_then(|p| phone(p, options.phone_region)),
        first_name,
        last_name,
        mls: text(raw.mls.as_deref()),
        mls_id: text(raw.mls_id.as_deref()),
    }
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn join_note(note: Option<&str>, extra: &[String]) -> Option<String> {
    let mut parts: Vec<String> = note
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect();
    parts.extend(extra.iter().cloned());
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// Trimmed, lowercased and checked. A domain without a dot (`a@localhost`) is refused: no
/// prospect writes from one.
pub fn email(given: &str) -> Result<String, String> {
    let trimmed = given.trim();
    let candidate = trimmed
        .strip_prefix("mailto:")
        .or_else(|| trimmed.strip_prefix("MAILTO:"))
        .unwrap_or(trimmed)
        .trim_matches(|c| c == '<' || c == '>')
        .trim()
        .to_lowercase();
    if let Err(e) = candidate.parse::<email_address::EmailAddress>() {
        return Err(format!("not a valid email address ({e})"));
    }
    let domain = candidate.rsplit('@').next().unwrap_or_default();
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err("the email's domain is not a public domain".into());
    }
    Ok(candidate)
}

/// E.164, or `None` when the text is not a valid number for `region` or with its own
/// country code.
pub fn phone(given: &str, region: Region) -> Option<String> {
    // A mail client's link annotation after the number ("214-555-0187 <tel:2145550187>",
    // "<//2145550187>") repeats its digits: only the number before it is read.
    let given = match given.split_once('<') {
        Some((before, _)) if before.chars().any(|c| c.is_ascii_digit()) => before,
        _ => given.trim_matches(['<', '>', '/']),
    };
    let cleaned = given.trim().trim_start_matches("tel:").trim();
    let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return None;
    }
    let parsed: PhoneNumber = phonenumber::parse(Some(region), cleaned).ok()?;
    let explicit = cleaned.starts_with('+') || cleaned.starts_with("00");
    let digits = match cleaned.strip_prefix("00") {
        Some(_) => &digits[2..],
        None => digits.as_str(),
    };
    // A North American number written nationally with ten digits (after any trunk 1) is
    // kept as `+1` and those digits even where the plan assigns no such area code (a
    // portal's test lead, a scrubbed sample): the agent can still read it, and dropping it
    // would lose what the sender gave.
    let written_nanp = (!explicit && parsed.code().value() == 1)
        .then(|| digits.strip_prefix('1').filter(|_| digits.len() == 11))
        .map(|national| national.unwrap_or(digits))
        .filter(|national| national.len() == 10);
    // When the library reads those same ten digits the answer cannot depend on validity,
    // so it is not asked: asking is the costly part, since an unassigned number is tried
    // against each of the plan's 25 regions, more patterns than the library's regex cache
    // holds.
    if let Some(national) = written_nanp
        && parsed.national().value().to_string() == national
    {
        return Some(format!("+1{national}"));
    }
    if phonenumber::is_valid(&parsed) {
        return Some(parsed.format().mode(Mode::E164).to_string());
    }
    if let Some(national) = written_nanp {
        return Some(format!("+1{national}"));
    }
    // Written in full with `+` and a country code, the sender says what it is, and the
    // library's metadata lags newly opened ranges: keep it if its length is possible.
    // The digits as written are authoritative then (the library may read a leading 1 of
    // the national number as NANP's trunk prefix).
    let code = parsed.code().value().to_string();
    let national = digits.strip_prefix(code.as_str())?.len();
    let possible = match code.as_str() {
        "1" => national == 10,
        _ => (6..=13).contains(&national),
    };
    (explicit && possible).then(|| format!("+{digits}"))
}

/// Tags trimmed, empty ones dropped, duplicates (ignoring case) removed, order kept.
pub fn tags(given: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    given
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
        .collect()
}

const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sr", "sra", "srta",
];
const SUFFIXES: &[&str] = &["jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"];

/// First and last name from separate fields, or from a full name split on its last space
/// (`Last, First` is read as such).
pub fn names(
    first: Option<&str>,
    last: Option<&str>,
    full: Option<&str>,
) -> (Option<String>, Option<String>) {
    let first = first.and_then(name_part);
    let last = last.and_then(name_part);
    match (first, last) {
        // A whole name in the surname field ("Ana Silva" as `last_name`, nothing as
        // `first_name`) is a whole name: split, never all of it a surname.
        (None, Some(last)) if last.split_whitespace().count() >= 2 && !last.contains(',') => {
            return split_full_name(&last);
        }
        // The first name repeated at the start of the surname field ("Ana" and "Ana
        // Silva").
        (Some(first), Some(last))
            if last
                .strip_prefix(first.as_str())
                .is_some_and(|rest| rest.starts_with(' ') && !rest.trim().is_empty()) =>
        {
            let rest = last[first.len()..].trim().to_owned();
            return (Some(first), Some(rest));
        }
        // A surname field and a whole-name field ("Apellido: Ruiz", "Nombre: Sofía"): the
        // first name is what the whole name has besides the surname.
        (None, Some(last)) if full.and_then(name_part).is_some() => {
            let whole = full.and_then(name_part).unwrap_or_default();
            let given = whole
                .strip_suffix(last.as_str())
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .or_else(|| (!whole.eq_ignore_ascii_case(&last)).then_some(whole.clone()))
                .filter(|g| !g.contains(' ') || whole.ends_with(last.as_str()));
            return (given, Some(last));
        }
        (first, last) if first.is_some() || last.is_some() => return (first, last),
        _ => {}
    }
    match full.and_then(name_part) {
        // "Ms. Gray": a title before a single name marks it as the surname.
        Some(name)
            if !name.contains(char::is_whitespace) && full.is_some_and(starts_with_honorific) =>
        {
            (None, Some(name))
        }
        Some(full) => split_full_name(&full),
        None => (None, None),
    }
}

fn starts_with_honorific(text: &str) -> bool {
    let mut tokens = text.split_whitespace();
    let first = tokens
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_lowercase();
    HONORIFICS.contains(&first.as_str()) && tokens.next().is_some()
}

pub fn split_full_name(full: &str) -> (Option<String>, Option<String>) {
    if let Some((last, first)) = full.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        if !first.is_empty() && !last.is_empty() && !first.contains(',') {
            let suffix = SUFFIXES.contains(&first.trim_end_matches('.').to_lowercase().as_str());
            if !suffix {
                return (Some(first.to_owned()), Some(last.to_owned()));
            }
        }
    }
    let tokens: Vec<&str> = full.split_whitespace().collect();
    match tokens.len() {
        0 => (None, None),
        1 => (Some(tokens[0].to_owned()), None),
        n => {
            // "Ana de Souza Jr." keeps its suffix with the surname.
            let mut cut = n - 1;
            let is_suffix = |t: &str| {
                SUFFIXES.contains(&t.trim_end_matches(['.', ',']).to_lowercase().as_str())
            };
            if n > 2 && is_suffix(tokens[n - 1]) {
                cut = n - 2;
            }
            let first = tokens[..cut].join(" ").trim_end_matches(',').to_owned();
            let last = tokens[cut..].join(" ");
            (Some(first), Some(last))
        }
    }
}

/// One name field: trimmed, honorifics removed, title-cased only when written all in one
/// case. Text that is an email or a phone number is not a name.
fn name_part(given: &str) -> Option<String> {
    // Bytes that were not text (U+FFFD from invalid UTF-8) are no part of a name.
    let given = given.replace('\u{FFFD}', " ");
    let mut tokens: Vec<&str> = given.split_whitespace().collect();
    while tokens.len() > 1 {
        let bare = tokens[0].trim_end_matches('.').to_lowercase();
        if HONORIFICS.contains(&bare.as_str()) {
            tokens.remove(0);
        } else {
            break;
        }
    }
    let joined = tokens.join(" ");
    // Markers such as a required-field "*" or a bullet are not part of a name; letters,
    // digits and a closing period are.
    let joined = joined
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '.'));
    if joined.is_empty() || joined.contains('@') || !joined.chars().any(char::is_alphabetic) {
        return None;
    }
    if HONORIFICS.contains(&joined.trim_end_matches('.').to_lowercase().as_str())
        || is_placeholder_name(joined)
    {
        return None;
    }
    Some(title_case_if_one_case(joined))
}

/// Words people type to try a form (`Test`, `Testing`, `test@…`): a test lead, whose name is
/// kept as sent.
fn is_test_lead(first: Option<&str>, last: Option<&str>, email: Option<&str>) -> bool {
    const WORDS: &[&str] = &[
        "test", "testing", "tester", "example", "sample", "demo", "dummy", "fake", "asdf",
    ];
    let word = |w: &str| {
        let w: String = w
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_lowercase();
        WORDS.contains(&w.as_str())
    };
    let named = [first, last]
        .into_iter()
        .flatten()
        .flat_map(str::split_whitespace)
        .any(word);
    named || email.and_then(|e| e.split('@').next()).is_some_and(word)
}

/// What forms and platforms put where a name was not given ("No last name provided",
/// "N/A", "Unknown"): no name.
fn is_placeholder_name(name: &str) -> bool {
    let lower = name.trim_end_matches('.').to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    matches!(
        lower.as_str(),
        "n/a"
            | "na"
            | "none"
            | "null"
            | "unknown"
            | "not provided"
            | "not given"
            | "no name"
            | "first name"
            | "last name"
            | "name"
            | "your name"
            | "undefined"
    ) || (words.first() == Some(&"no")
        && words.contains(&"name")
        && words
            .iter()
            .any(|w| matches!(*w, "provided" | "given" | "entered" | "supplied")))
}

fn title_case_if_one_case(name: &str) -> String {
    let letters = || name.chars().filter(|c| c.is_alphabetic());
    let all_upper = letters().all(char::is_uppercase);
    let all_lower = letters().all(char::is_lowercase);
    // A lone initial ("J") is fine as it is.
    if !(all_upper || all_lower) || letters().count() < 2 {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = matches!(c, ' ' | '-' | '\'' | '’' | '.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> NormalizeOptions {
        NormalizeOptions::default()
    }

    #[test]
    fn placeholders_are_no_name_and_link_annotations_no_phone() {
        for placeholder in [
            "No last name provided",
            "N/A",
            "unknown",
            "No Name Given",
            "Last Name",
        ] {
            assert_eq!(
                names(Some("Dana"), Some(placeholder), None),
                (Some("Dana".into()), None),
                "{placeholder}"
            );
        }
        assert_eq!(
            names(Some("Nona"), Some("Noname"), None).1.as_deref(),
            Some("Noname")
        );
        for given in [
            "214-555-0187 <tel:2145550187>",
            "214-555-0187<//2145550187>",
            "<tel:+12145550187>",
        ] {
            assert_eq!(
                phone(given, Region::US).as_deref(),
                Some("+12145550187"),
                "{given}"
            );
        }
    }

    #[test]
    fn names_are_trimmed_stripped_and_title_cased_only_when_one_case() {
        assert_eq!(
            names(Some("  JANE "), Some("DOE"), None),
            (Some("Jane".into()), Some("Doe".into()))
        );
        assert_eq!(
            names(Some("mary-ann"), Some("o'neil"), None),
            (Some("Mary-Ann".into()), Some("O'Neil".into()))
        );
        assert_eq!(
            names(Some("McKenzie"), Some("deLuca"), None),
            (Some("McKenzie".into()), Some("deLuca".into()))
        );
        assert_eq!(
            names(None, None, Some("Mr. John Smith")),
            (Some("John".into()), Some("Smith".into()))
        );
        assert_eq!(
            names(None, None, Some("Dr Ana Maria Silva")),
            (Some("Ana Maria".into()), Some("Silva".into()))
        );
        assert_eq!(
            names(None, None, Some("Kyra G. Cobb")),
            (Some("Kyra G.".into()), Some("Cobb".into()))
        );
        assert_eq!(
            names(None, None, Some("Cobb, Kyra")),
            (Some("Kyra".into()), Some("Cobb".into()))
        );
        assert_eq!(
            names(None, None, Some("John Smith Jr.")),
            (Some("John".into()), Some("Smith Jr.".into()))
        );
        assert_eq!(names(None, None, Some("Cher")), (Some("Cher".into()), None));
        assert_eq!(names(None, None, Some("Ms.")), (None, None));
        assert_eq!(
            names(None, None, Some("Ms. Gray")),
            (None, Some("Gray".into()))
        );
        assert_eq!(
            names(None, None, Some("Dr Ana Silva")),
            (Some("Ana".into()), Some("Silva".into()))
        );
        assert_eq!(names(None, None, Some("ana@example.com")), (None, None));
        assert_eq!(names(None, None, Some("  ")), (None, None));
        // Separate fields win over a full name.
        assert_eq!(
            names(Some("Ana"), None, Some("Other Person")),
            (Some("Ana".into()), None)
        );
    }

    #[test]
    fn email_is_trimmed_lowercased_and_validated() {
        assert_eq!(
            email("  Ana.Silva@Example.COM "),
            Ok("ana.silva@example.com".into())
        );
        assert_eq!(
            email("mailto:ana@example.com"),
            Ok("ana@example.com".into())
        );
        assert_eq!(email("<ana@example.com>"), Ok("ana@example.com".into()));
        assert!(email("ana@").is_err());
        assert!(email("ana at example.com").is_err());
        assert!(email("ana@localhost").is_err());
        assert!(email("ana@@example.com").is_err());
    }

    #[test]
    fn phone_becomes_e164_with_the_default_region() {
        for given in [
            "(214) 555-0123",
            "214.555.0123",
            "1-214-555-0123",
            "+1 214 555 0123",
            "tel:+12145550123",
            "2145550123",
        ] {
            assert_eq!(
                phone(given, Region::US),
                Some("+12145550123".into()),
                "{given}"
            );
        }
        assert_eq!(
            phone("+44 20 7946 0958", Region::US),
            Some("+442079460958".into())
        );
        assert_eq!(
            phone("020 7946 0958", Region::GB),
            Some("+442079460958".into())
        );
        assert_eq!(phone("555-1234", Region::US), None);
        // Explicitly international and of a possible length: kept even where the metadata
        // does not know the range; without the `+` the same digits are not trusted.
        assert_eq!(
            phone("+1 123 456 7890", Region::US),
            Some("+11234567890".into())
        );
        assert_eq!(phone("+1 123 456 789", Region::US), None);
        assert_eq!(phone("call me", Region::US), None);
        // Ten digits in North America: kept as written even where no area code is assigned.
        assert_eq!(
            phone("(078) 257-7188", Region::US).as_deref(),
            Some("+10782577188")
        );
        // The shortcut for ten national digits answers what asking validity would: the
        // same for an assigned and an unassigned area code, with or without the trunk 1,
        // and an extension's digits still go the long way.
        for (given, e164) in [
            ("1 (078) 257-7188", Some("+10782577188")),
            ("(212) 555-0199", Some("+12125550199")),
            ("(416) 555-0199", Some("+14165550199")),
            ("214-555-0123 ext. 45", Some("+12145550123")),
        ] {
            assert_eq!(phone(given, Region::US).as_deref(), e164, "{given}");
        }
    }

    #[test]
    fn tags_are_trimmed_deduped_and_kept_in_order() {
        let given = vec![
            " Buyer".into(),
            "zillow".into(),
            "".into(),
            "buyer".into(),
            "Zillow ".into(),
            "Hot".into(),
        ];
        assert_eq!(
            tags(given),
            vec!["Buyer".to_string(), "zillow".into(), "Hot".into()]
        );
    }

    #[test]
    fn an_intake_with_nobody_to_reach_is_not_a_lead() {
        let err = normalize(
            RawLead {
                note: Some("hello".into()),
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap_err();
        assert_eq!(err.reason, "no email, phone or name");
        let err = normalize(
            RawLead {
                email: Some("nobody@".into()),
                phone: Some("12".into()),
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap_err();
        assert!(
            err.reason.contains("email is not a valid address"),
            "{}",
            err.reason
        );
        assert!(
            err.reason.contains("phone is not a number"),
            "{}",
            err.reason
        );
        assert!(
            normalize(
                RawLead {
                    phone: Some("214 555 0123".into()),
                    ..RawLead::default()
                },
                &opts()
            )
            .is_ok()
        );
        assert!(
            normalize(
                RawLead {
                    full_name: Some("Ana".into()),
                    ..RawLead::default()
                },
                &opts()
            )
            .is_ok()
        );
    }

    #[test]
    fn unusable_contact_fields_are_kept_in_the_note_with_a_reason() {
        let n = normalize(
            RawLead {
                full_name: Some("ANA SILVA".into()),
                email: Some("ana@example".into()),
                phone: Some("ext 12".into()),
                note: Some("  Is it still available?  ".into()),
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap();
        assert_eq!(n.lead.first_name.as_deref(), Some("Ana"));
        assert_eq!(n.lead.last_name.as_deref(), Some("Silva"));
        assert_eq!(n.lead.email, None);
        assert_eq!(n.lead.phone_number, None);
        assert_eq!(
            n.lead.note.as_deref(),
            Some("Is it still available?\nEmail as given: ana@example\nPhone as given: ext 12")
        );
        assert!(matches!(n.notices[0], Notice::InvalidEmail { .. }));
        assert_eq!(n.notices[1], Notice::UnparsedPhone);
    }

    #[test]
    fn assignees_are_normalized_and_empty_ones_dropped() {
        let n = normalize(
            RawLead {
                email: Some("a@example.com".into()),
                assignees: vec![
                    Assignee {
                        email: Some(" Agent@Example.com ".into()),
                        phone_number: Some("214-555-0199".into()),
                        ..Assignee::default()
                    },
                    Assignee {
                        email: Some("not-an-email".into()),
                        ..Assignee::default()
                    },
                    Assignee {
                        mls_id: Some(" 123 ".into()),
                        ..Assignee::default()
                    },
                ],
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap();
        assert_eq!(n.lead.assignees.len(), 2);
        assert_eq!(
            n.lead.assignees[0].email.as_deref(),
            Some("agent@example.com")
        );
        assert_eq!(
            n.lead.assignees[0].phone_number.as_deref(),
            Some("+12145550199")
        );
        assert_eq!(n.lead.assignees[1].mls_id.as_deref(), Some("123"));
    }

    #[test]
    fn every_field_is_bounded_and_the_cut_is_said_in_the_note() {
        let raw = RawLead {
            first_name: Some("Ana".repeat(200)),
            email: Some("ana@example.com".into()),
            note: Some("é".repeat(40 * 1024)),
            tags: (0..150).map(|i| format!("t{i}")).collect(),
            referer_url: Some(format!("https://example.com/{}", "p".repeat(5000))),
            ..RawLead::default()
        };
        let n = normalize(raw, &opts()).unwrap();
        let lead = &n.lead;
        assert!(lead.first_name.as_ref().unwrap().len() <= bounds::TEXT);
        assert_eq!(lead.tag.len(), bounds::ITEMS);
        assert!(lead.referer_url.as_ref().unwrap().len() <= bounds::URL);
        let note = lead.note.as_deref().unwrap();
        // Cut at a character boundary (é is two bytes), then the cut is said.
        let (kept, said) = note.rsplit_once('\n').unwrap();
        assert!(kept.len() <= bounds::NOTE && kept.chars().all(|c| c == 'é'));
        assert!(
            said.starts_with("[Inlet cut what was too long: note to 65536 of 81920"),
            "{said}"
        );
        assert!(said.contains("first_name to 256 of 600"), "{said}");
        assert!(said.contains("tag to 100 of 150"), "{said}");
        let cuts = n
            .notices
            .iter()
            .filter(|x| matches!(x, Notice::Cut { .. }))
            .count();
        assert_eq!(cuts, 4, "{:?}", n.notices);
        // Nothing is cut from a lead within its bounds.
        let small = normalize(
            RawLead {
                first_name: Some("Ana".into()),
                note: Some("Call me".into()),
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap();
        assert_eq!(small.lead.note.as_deref(), Some("Call me"));
        assert!(
            small.notices.iter().all(|n| n.unsure().is_some()),
            "nothing cut: {:?}",
            small.notices
        );
    }

    #[test]
    fn a_lead_with_only_a_name_is_kept_and_said_to_be_unsure() {
        let n = normalize(
            RawLead {
                full_name: Some("Ana Silva".into()),
                email: Some("not an address".into()),
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap();
        let unsure: Vec<&str> = n.notices.iter().filter_map(Notice::unsure).collect();
        assert_eq!(
            unsure,
            vec!["no email or phone: only a name to reach the person by"]
        );
        assert!(
            n.lead
                .note
                .as_deref()
                .unwrap()
                .contains("Email as given: not an address")
        );
        let reachable = normalize(
            RawLead {
                full_name: Some("Ana Silva".into()),
                phone: Some("214-555-0123".into()),
                ..RawLead::default()
            },
            &opts(),
        )
        .unwrap();
        assert!(reachable.notices.iter().all(|n| n.unsure().is_none()));
    }

    #[test]
    fn an_activitys_notes_and_listing_are_bounded_too() {
        let mut a = Activity::new(
            crate::lead::Action::ContactLoggedIn,
            None,
            None,
            Some("n".repeat(100 * 1024)),
        )
        .unwrap();
        let cuts = bounds::activity(&mut a);
        assert_eq!(cuts.len(), 1);
        let notes = a.notes.unwrap();
        assert!(notes.len() < bounds::NOTE + 100);
        assert!(notes.ends_with("[Inlet cut what was too long: notes to 65536 of 102400]"));
    }
}
