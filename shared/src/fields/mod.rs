//! The field-alias table: flat key/value pairs in any spelling ("First Name", `first_name`,
//! `firstName`, `fname`, "Email Address ", Jotform's `q3_name`) read into a raw lead.
//! Zapier, Make, n8n, website forms and most form builders end up here, and email's
//! generic reader reads label/value pairs through it too: a plain decision every source
//! shares, so it sits below them.
//!
//! A key is reduced to its letters and digits, lower-cased, and looked up. What has no
//! meaning goes into the note as "Label: value", so nothing is silently dropped; metadata
//! (IP, user agent, form ids) is left out on purpose.

use crate::lead::{Address, Assignee, Listing, Property};
use crate::normalize::RawLead;
use serde_json::Value;
use std::collections::BTreeMap;

mod keys;
pub mod prose;

pub use keys::{Meaning, Party, canonical, key_tokens, listed, meaning_in, meaning_of, party_in};

/// A value as text: arrays (Meta's `values`, Unbounce's one-element lists, Zapier line
/// items) joined with ", ".
pub fn text_of(value: &Value) -> Option<String> {
    let t = match value {
        Value::Null => return None,
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => {
            if *b {
                "yes".into()
            } else {
                "no".into()
            }
        }
        Value::Array(items) => items
            .iter()
            .filter_map(text_of)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .values()
            .filter_map(text_of)
            .collect::<Vec<_>>()
            .join(" "),
    };
    (!t.is_empty()).then_some(t)
}

/// Per-sender adjustments from the routing config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldRules {
    /// Key (as sent, or canonical) → meaning.
    pub rename: BTreeMap<String, Meaning>,
}

impl FieldRules {
    /// The meaning the routing config gives a key (as sent, or canonical), if any.
    pub fn renamed(&self, key: &str) -> Option<Meaning> {
        self.rename
            .get(key.trim())
            .or_else(|| self.rename.get(&canonical(key)))
            .cloned()
    }
}

/// Reads fields one by one; the first value of a meaning wins, later ones go to the note.
#[derive(Debug, Default)]
pub struct LeadReader {
    first: Option<String>,
    last: Option<String>,
    full: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    messages: Vec<String>,
    extra: Vec<String>,
    tags: Vec<String>,
    lead_source: Option<String>,
    address: Address,
    mls: Option<String>,
    price: Option<f64>,
    listing_url: Option<String>,
    photo: Option<String>,
    agent: Assignee,
    page_url: Option<String>,
    utm: Vec<(&'static str, String)>,
}

fn set(slot: &mut Option<String>, value: String, extra: &mut Vec<String>, label: &str) {
    match slot {
        None => *slot = Some(value),
        Some(existing) if same_value(existing, &value) => {}
        Some(_) => extra.push(format!("{label}: {value}")),
    }
}

/// The same value written another way: case and spacing aside, or the same digits (a phone
/// formatted twice, `+15125550143` and `(512) 555-0143`).
fn same_value(a: &str, b: &str) -> bool {
    if a.trim().eq_ignore_ascii_case(b.trim()) {
        return true;
    }
    let digits = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    let (da, db) = (digits(a), digits(b));
    let phone_like = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    };
    da.len() >= 7
        && phone_like(a)
        && phone_like(b)
        && (da == db || da.ends_with(&db) || db.ends_with(&da))
}

/// What a key's meaning is for this value: a key the table does not list but that only
/// sounds like a name ("nameHehe") holding a sentence or a code ("Value1 with colon: and
/// comma") is no one's name.
pub fn as_read(key: &str, meaning: Meaning, value: &Value) -> Meaning {
    let name = matches!(
        meaning,
        Meaning::FullName | Meaning::FirstName | Meaning::LastName
    );
    if name
        && !keys::listed(key)
        && let Some(text) = text_of(value)
        && (text.split_whitespace().count() > 6
            || text
                .chars()
                .any(|c| c.is_ascii_digit() || ":;!?@".contains(c)))
    {
        return Meaning::Unknown;
    }
    meaning
}

/// What a value given under a key that only hints at it is: an email address, a phone
/// number or a person's name, told by its shape.
fn contact_kind(text: &str) -> Meaning {
    if crate::normalize::email(text).is_ok() {
        return Meaning::Email;
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if (7..=15).contains(&digits)
        && text
            .trim_start_matches("tel:")
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Meaning::Phone;
    }
    let words = text.split_whitespace().count();
    if digits == 0
        && (1..=5).contains(&words)
        && text
            .chars()
            .all(|c| c.is_alphabetic() || c.is_whitespace() || "'-.,".contains(c))
    {
        return Meaning::FullName;
    }
    Meaning::Unknown
}

/// A price as a number (`$450,000`, `450000.00`).
pub fn price(text: &str) -> Option<f64> {
    let cleaned: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    cleaned.parse().ok().filter(|p: &f64| *p > 0.0)
}

impl LeadReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one field by its key's meaning.
    pub fn field(&mut self, key: &str, value: &Value, rules: &FieldRules) {
        let meaning = match rules.renamed(key) {
            Some(m) => m,
            None => as_read(key, meaning_in(&[], key, false), value),
        };
        self.with_meaning(key, meaning, value);
    }

    /// Reads one field whose meaning the sender knows.
    pub fn with_meaning(&mut self, label: &str, meaning: Meaning, value: &Value) {
        if let Value::Object(map) = value
            && self.compound(label, &meaning, map)
        {
            return;
        }
        // A yes/no is no one's words.
        if matches!(meaning, Meaning::Message) && value.is_boolean() {
            return;
        }
        let Some(text) = text_of(value) else { return };
        let label = label.trim();
        // The key only hints; the value says what it is. A phone field holding an address, or
        // an email field holding a number, is read as what it holds.
        let meaning = match meaning {
            Meaning::Contact => contact_kind(&text),
            Meaning::Phone | Meaning::FullName | Meaning::FirstName | Meaning::LastName
                if self.email.is_none() && contact_kind(&text) == Meaning::Email =>
            {
                Meaning::Email
            }
            Meaning::Email if !text.contains('@') && contact_kind(&text) == Meaning::Phone => {
                Meaning::Phone
            }
            m => m,
        };
        let extra = &mut self.extra;
        match meaning {
            Meaning::FirstName => set(&mut self.first, text, extra, label),
            Meaning::LastName => set(&mut self.last, text, extra, label),
            Meaning::FullName => set(&mut self.full, text, extra, label),
            Meaning::Email => set(&mut self.email, text, extra, label),
            Meaning::Phone => set(&mut self.phone, text, extra, label),
            Meaning::Message => self.messages.push(text),
            Meaning::Tags => self.tags.extend(
                text.split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
            ),
            Meaning::LeadSource => set(&mut self.lead_source, text, extra, label),
            Meaning::Street => match crate::postal::address_line(&text)
                .filter(|a| a.city.is_some() && self.address.street_address.is_none())
            {
                // "12 Elm St, Dallas, TX 75201" under one label: kept whole, in its parts.
                Some(whole) => {
                    let city = self.address.city.take().or(whole.city.clone());
                    let state = self.address.state_code.take().or(whole.state_code.clone());
                    let zip = self
                        .address
                        .postal_code
                        .take()
                        .or(whole.postal_code.clone());
                    self.address = crate::lead::Address {
                        city,
                        state_code: state,
                        postal_code: zip,
                        ..whole
                    };
                }
                None => set(&mut self.address.street_address, text, extra, label),
            },
            Meaning::Unit => set(&mut self.address.unit_number, text, extra, label),
            Meaning::City => set(&mut self.address.city, text, extra, label),
            Meaning::State => set(&mut self.address.state_code, text, extra, label),
            Meaning::Zip => set(&mut self.address.postal_code, text, extra, label),
            Meaning::Mls => set(
                &mut self.mls,
                text.trim_start_matches('#').trim().to_owned(),
                extra,
                label,
            ),
            Meaning::Price => match price(&text) {
                Some(p) if self.price.is_none() => self.price = Some(p),
                _ => extra.push(format!("{label}: {text}")),
            },
            Meaning::ListingUrl => set(&mut self.listing_url, text, extra, label),
            Meaning::Photo => set(&mut self.photo, text, extra, label),
            Meaning::AgentEmail => set(&mut self.agent.email, text, extra, label),
            Meaning::AgentPhone => set(&mut self.agent.phone_number, text, extra, label),
            Meaning::AgentName => {
                let (first, last) = crate::normalize::names(None, None, Some(&text));
                if self.agent.first_name.is_none() && self.agent.last_name.is_none() {
                    self.agent.first_name = first;
                    self.agent.last_name = last;
                }
            }
            Meaning::AgentFirstName => set(&mut self.agent.first_name, text, extra, label),
            Meaning::AgentLastName => set(&mut self.agent.last_name, text, extra, label),
            Meaning::AgentMlsId => set(&mut self.agent.mls_id, text, extra, label),
            Meaning::AgentMlsBoard => set(&mut self.agent.mls, text, extra, label),
            Meaning::PageUrl => set(&mut self.page_url, text, extra, label),
            Meaning::Utm(name) => {
                if !self.utm.iter().any(|(n, _)| *n == name) {
                    self.utm.push((name, text));
                }
            }
            Meaning::Ignore | Meaning::Contact => {}
            Meaning::Unknown => {
                // An unlabelled value that is plainly an email still reaches the agent.
                if self.email.is_none() && crate::normalize::email(&text).is_ok() {
                    self.email = Some(text);
                } else if !label.is_empty() {
                    extra.push(format!("{label}: {text}"));
                }
            }
        }
    }

    /// Compound values: names `{first, last}`, phones `{area, phone}`, addresses
    /// `{addr_line1, city, …}` (Jotform, Formstack). Returns whether it was one.
    fn compound(
        &mut self,
        label: &str,
        meaning: &Meaning,
        map: &serde_json::Map<String, Value>,
    ) -> bool {
        let get = |keys: &[&str]| {
            map.iter()
                .find(|(k, _)| keys.contains(&canonical(k).as_str()))
                .and_then(|(_, v)| text_of(v))
        };
        if map.keys().any(|k| {
            matches!(
                canonical(k).as_str(),
                "first" | "last" | "firstname" | "lastname"
            )
        }) {
            let (first, last) = (get(&["first", "firstname"]), get(&["last", "lastname"]));
            if matches!(meaning, Meaning::AgentName | Meaning::AgentFirstName) {
                self.agent.first_name = self.agent.first_name.take().or(first);
                self.agent.last_name = self.agent.last_name.take().or(last);
            } else {
                if let Some(f) = first {
                    set(&mut self.first, f, &mut self.extra, label);
                }
                if let Some(l) = last {
                    set(&mut self.last, l, &mut self.extra, label);
                }
            }
            return true;
        }
        if map.keys().any(|k| {
            matches!(
                canonical(k).as_str(),
                "addrline1" | "addressline1" | "street" | "address1"
            )
        }) {
            for (k, v) in map {
                let m = match meaning_of(&canonical(k)) {
                    Meaning::Unknown | Meaning::Ignore => continue,
                    m => m,
                };
                self.with_meaning(label, m, v);
            }
            return true;
        }
        if matches!(meaning, Meaning::Phone | Meaning::AgentPhone) {
            let full = get(&["full"]).or_else(|| {
                let parts: Vec<String> = ["country", "area", "phone", "number"]
                    .iter()
                    .filter_map(|k| get(&[k]))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            });
            if let Some(phone) = full {
                self.with_meaning(label, meaning.clone(), &Value::String(phone));
            }
            return true;
        }
        false
    }

    /// Adds the sender's own tags, source and default assignees (routing config).
    pub fn defaults(&mut self, tags: &[String], lead_source: Option<&str>) {
        self.tags.extend(tags.iter().cloned());
        if self.lead_source.is_none() {
            self.lead_source = lead_source.map(str::to_owned);
        }
    }

    pub fn has_contact(&self) -> bool {
        self.email.is_some()
            || self.phone.is_some()
            || self.first.is_some()
            || self.last.is_some()
            || self.full.is_some()
    }

    /// The raw lead, with UTM parameters (given, or read from the page URL) as tags and a
    /// note line, and unknown fields in the note.
    pub fn finish(mut self) -> RawLead {
        if self.utm.is_empty()
            && let Some(url) = &self.page_url
        {
            self.utm = utm_from_url(url);
        }
        let mut note_parts = self.messages;
        if !self.utm.is_empty() {
            let line: Vec<String> = self.utm.iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.extra.push(format!("UTM: {}", line.join(", ")));
            self.tags
                .extend(self.utm.iter().map(|(k, v)| format!("{k}:{v}")));
        }
        if !self.extra.is_empty() {
            note_parts.push(self.extra.join("\n"));
        }
        let address = (!crate::lead::IsEmpty::is_empty(&self.address)).then_some(self.address);
        let listing = Listing {
            price: self.price,
            mls_number: self.mls,
            cover_image_url: self.photo,
            property: address.map(|a| Property { address: Some(a) }),
        };
        let note = (!note_parts.is_empty()).then(|| note_parts.join("\n\n"));
        let note = match (note, self.listing_url) {
            (Some(n), Some(url)) => Some(format!("{n}\n\nListing: {url}")),
            (None, Some(url)) => Some(format!("Listing: {url}")),
            (n, None) => n,
        };
        RawLead {
            first_name: self.first,
            last_name: self.last,
            full_name: self.full,
            email: self.email,
            phone: self.phone,
            tags: self.tags,
            lead_source: self.lead_source,
            note,
            referer_url: self.page_url,
            source_type: None,
            listing: (!crate::lead::IsEmpty::is_empty(&listing)).then_some(listing),
            assignees: if crate::lead::IsEmpty::is_empty(&self.agent) {
                Vec::new()
            } else {
                vec![self.agent]
            },
        }
    }
}

/// `utm_*` parameters in a URL's query string.
pub fn utm_from_url(url: &str) -> Vec<(&'static str, String)> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .filter_map(|(k, v)| match meaning_of(&canonical(&k)) {
            Meaning::Utm(name) if !v.trim().is_empty() => Some((name, v.trim().to_owned())),
            _ => None,
        })
        .collect()
}

/// Reads a flat object (every key through the table) into a raw lead.
pub fn read_object(map: &serde_json::Map<String, Value>, rules: &FieldRules) -> LeadReader {
    let mut reader = LeadReader::new();
    for (k, v) in map {
        reader.field(k, v, rules);
    }
    reader
}

/// A Meta lead object (`{id, field_data: [{name, values}], platform?}`) as a raw lead, each
/// field's name read through the alias table. Two places read this one shape: the `meta`
/// sender (tools relay lead objects in webhooks) and the Graph API adapter (delivery fetches
/// a lead that a notification named only by id).
pub fn meta_lead(lead: &Value, rules: &FieldRules) -> RawLead {
    let mut reader = LeadReader::new();
    for field in lead
        .get("field_data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = field.get("name").and_then(Value::as_str) else {
            continue;
        };
        let values = field.get("values").cloned().unwrap_or(Value::Null);
        reader.field(name, &values, rules);
    }
    let source = match lead.get("platform").and_then(Value::as_str) {
        Some("ig") => "Instagram Lead Ads",
        _ => "Facebook Lead Ads",
    };
    reader.defaults(&[], Some(source));
    reader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> RawLead {
        read_object(v.as_object().unwrap(), &FieldRules::default()).finish()
    }

    #[test]
    fn any_spelling_of_the_usual_fields_is_read() {
        for (first, last, email, phone) in [
            ("First Name", "Last Name", "Email Address ", "Phone Number"),
            ("first_name", "last_name", "email", "phone"),
            ("firstName", "lastName", "emailAddress", "mobile"),
            ("fname", "lname", "E-mail", "Cell Phone"),
            ("q3_firstName", "q4_lastName", "q5_email", "q6_phoneNumber"),
        ] {
            let raw = read(
                json!({first: "Ana", last: "Silva", email: "ana@example.com", phone: "214-555-0123"}),
            );
            assert_eq!(
                (
                    raw.first_name.as_deref(),
                    raw.last_name.as_deref(),
                    raw.email.as_deref(),
                    raw.phone.as_deref()
                ),
                (
                    Some("Ana"),
                    Some("Silva"),
                    Some("ana@example.com"),
                    Some("214-555-0123")
                ),
                "{first}/{last}/{email}/{phone}"
            );
        }
        let raw = read(json!({"Your Name": "Ana Silva", "studentsName": "x"}));
        assert_eq!(raw.full_name.as_deref(), Some("Ana Silva"));
        let raw = read(
            json!({"Client Name(s) First and Last": "Bo Li", "Client Email to schedule (required)": "bo@example.com", "Company Name": "Acme"}),
        );
        assert_eq!(
            (raw.full_name.as_deref(), raw.email.as_deref()),
            (Some("Bo Li"), Some("bo@example.com"))
        );
        assert!(raw.note.as_deref().unwrap().contains("Company Name: Acme"));
    }

    #[test]
    fn listing_agent_page_and_utm_fields_land_where_rechat_wants_them() {
        let raw = read(json!({
            "name": "Ana", "Property Address": "12 Elm St", "City": "Dallas", "State": "TX", "Zip": "75201",
            "MLS #": "MLS-1", "List Price": "$450,000", "Listing URL": "https://example.com/l/1",
            "Photo": "https://example.com/p.jpg", "Agent Email": "agent@example.com", "Agent Name": "Dana Reyes",
            "Agent MLS ID": "A-1", "Page URL": "https://example.com/l/1?utm_source=google&utm_medium=cpc",
            "Comments": "Tour Saturday?", "Budget": "500k", "ip": "203.0.113.1", "tags": "Buyer, Hot"
        }));
        let listing = raw.listing.unwrap();
        assert_eq!(listing.price, Some(450000.0));
        assert_eq!(listing.mls_number.as_deref(), Some("MLS-1"));
        let a = listing.property.unwrap().address.unwrap();
        assert_eq!(
            (a.street_address.as_deref(), a.postal_code.as_deref()),
            (Some("12 Elm St"), Some("75201"))
        );
        assert_eq!(raw.assignees[0].email.as_deref(), Some("agent@example.com"));
        assert_eq!(raw.assignees[0].last_name.as_deref(), Some("Reyes"));
        assert_eq!(raw.assignees[0].mls_id.as_deref(), Some("A-1"));
        assert_eq!(
            raw.referer_url.as_deref(),
            Some("https://example.com/l/1?utm_source=google&utm_medium=cpc")
        );
        assert_eq!(
            raw.tags,
            vec!["Buyer", "Hot", "utm_source:google", "utm_medium:cpc"]
        );
        let note = raw.note.unwrap();
        assert!(note.starts_with("Tour Saturday?"), "{note}");
        assert!(
            note.contains("Budget: 500k")
                && note.contains("UTM: utm_source=google, utm_medium=cpc"),
            "{note}"
        );
        assert!(note.contains("Listing: https://example.com/l/1"));
        assert!(!note.contains("203.0.113.1"), "metadata is left out");
    }

    #[test]
    fn compound_values_and_arrays_are_read() {
        let raw = read(json!({
            "q3_studentsName": {"first": "Ana", "last": "Silva"},
            "q4_phone": {"area": "214", "phone": "5550123"},
            "q5_address": {"addr_line1": "12 Elm St", "city": "Dallas", "state": "TX", "postal": "75201"},
            "email": ["ana@example.com"],
        }));
        assert_eq!(
            (raw.first_name.as_deref(), raw.last_name.as_deref()),
            (Some("Ana"), Some("Silva"))
        );
        assert_eq!(raw.phone.as_deref(), Some("214 5550123"));
        assert_eq!(raw.email.as_deref(), Some("ana@example.com"));
        assert_eq!(
            raw.listing
                .unwrap()
                .property
                .unwrap()
                .address
                .unwrap()
                .city
                .as_deref(),
            Some("Dallas")
        );
    }

    #[test]
    fn config_renames_win_and_unknown_fields_keep_their_label() {
        let mut rules = FieldRules::default();
        rules.rename.insert("Field7".into(), Meaning::Email);
        rules.rename.insert("age".into(), Meaning::Ignore);
        let raw = read_object(
            json!({"Field7": "a@example.com", "age": "27", "Favourite colour": "blue"})
                .as_object()
                .unwrap(),
            &rules,
        )
        .finish();
        assert_eq!(raw.email.as_deref(), Some("a@example.com"));
        assert_eq!(raw.note.as_deref(), Some("Favourite colour: blue"));
        assert_eq!(Meaning::from_config("phone_number"), Some(Meaning::Phone));
        assert_eq!(Meaning::from_config("nonsense"), None);
    }
}
