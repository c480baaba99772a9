//! Finds the person wherever a sender put them. A payload from a tool no module knows is a
//! tree: the person may sit at the top or in `visitor`, `contact`, `customer`, `caller`,
//! `lead`, `data` or `submission`; fields may come as a list of `{label, value}`; a whole
//! JSON document may ride in one form field (`data=…`); emails and phones as lists of
//! `{value, primary}`. Every leaf is read through the alias table with the names of the
//! objects around it, so that `visitor.name` is the person's and `business.phone` or
//! `property.name` is not; the person's own fields are read before anyone else's.

use super::conversation::{self, Role};
use crate::fields::{FieldRules, LeadReader, Meaning, Party, canonical, key_tokens};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How deep a payload is read, and how many values: far beyond any lead.
const MAX_DEPTH: usize = 24;
const MAX_LEAVES: usize = 2000;

/// Objects whose contents are never the lead's: an earlier state of a record (a CRM's
/// `previous`), request headers, links.
const SKIPPED: &[&str] = &[
    "previous", "old", "before", "prior", "headers", "links", "cookies", "metadata", "meta",
];

/// Objects that only hold others (`data`, `payload`, `custom_fields`): their names add
/// nothing to a label.
const CONTAINERS: &[&str] = &[
    "data",
    "payload",
    "body",
    "fields",
    "customfields",
    "custom",
    "attributes",
    "properties",
    "answers",
    "responses",
    "values",
    "form",
    "submission",
    "item",
    "object",
    "record",
    "result",
    "event",
    "details",
    "info",
    "customattributes",
    "extra",
    "additionalinfo",
];

/// One value of the payload with where it sits.
#[derive(Debug)]
struct Leaf {
    /// The keys of the objects around it, outermost first.
    path: Vec<String>,
    label: String,
    value: Value,
    /// Read as this, whatever its label says (a transcript's lines are the message).
    meaning: Option<Meaning>,
    /// Marked the primary one of a list (`isPrimary`).
    primary: bool,
    /// A form's field by its own label (`{label, value}`), which needs no owner's name.
    labelled: bool,
}

/// What the walk found, and what it knows of the payload.
struct Walk {
    leaves: Vec<Leaf>,
    ids: HashMap<String, Role>,
    outbound: bool,
}

/// Whether the message or call was sent by the brokerage (`Direction: outbound-api`): its
/// `From` is then the business and its `To` the person.
pub fn outbound(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    let nested = ["data", "payload", "call", "message", "event"]
        .iter()
        .filter_map(|k| map.get(*k).and_then(Value::as_object));
    std::iter::once(map).chain(nested).any(|m| {
        m.iter().any(|(k, v)| {
            let key = canonical(k);
            (key.ends_with("direction")
                && v.as_str()
                    .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("out")))
                || (matches!(key.as_str(), "outbound" | "isoutbound" | "outgoing")
                    && v.as_bool() == Some(true))
        })
    })
}

/// A string that holds a JSON object or array (`data={"visitor":…}`), read as that.
fn nested(value: &Value) -> Option<Value> {
    let text = value.as_str()?.trim();
    if !(text.starts_with('{') || text.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// Keys that name a field in a list of fields.
const LABEL_KEYS: &[&str] = &[
    "label",
    "title",
    "name",
    "key",
    "question",
    "field",
    "fieldname",
    "fieldlabel",
    "questiontext",
];
/// Keys that hold a field's value.
const VALUE_KEYS: &[&str] = &["value", "values", "answer", "response", "rawvalue"];

fn get<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<(&'a String, &'a Value)> {
    keys.iter()
        .find_map(|want| map.iter().find(|(k, _)| canonical(k) == *want))
}

/// A field of a list or map of fields (`{label: "Email", value: "…"}`, Elementor's
/// `{title, value}`, Tally's `{key, label, type, value}`): its label, its value, and its
/// type when that names a kind of contact (`INPUT_EMAIL`, `phone`).
fn field_of(map: &Map<String, Value>) -> Option<(String, Value, Option<Meaning>)> {
    let (_, value) = get(map, VALUE_KEYS)?;
    // Prefer a human label over a machine key.
    let label = [
        "label",
        "title",
        "question",
        "questiontext",
        "fieldlabel",
        "name",
        "fieldname",
        "field",
        "key",
    ]
    .iter()
    .find_map(|want| {
        map.iter()
            .find(|(k, v)| {
                canonical(k) == *want && v.as_str().is_some_and(|s| !s.trim().is_empty())
            })
            .and_then(|(_, v)| v.as_str())
    })?;
    let hint = map
        .iter()
        .find(|(k, _)| matches!(canonical(k).as_str(), "type" | "fieldtype" | "inputtype"))
        .and_then(|(_, v)| v.as_str())
        .and_then(|t| {
            let t = t.to_ascii_lowercase();
            if t.contains("email") {
                Some(Meaning::Email)
            } else if t.contains("phone") || t.contains("tel") {
                Some(Meaning::Phone)
            } else {
                None
            }
        });
    // Only fields: no other object or list beside the label and value.
    let only_field = map.iter().all(|(k, v)| {
        let key = canonical(k);
        LABEL_KEYS.contains(&key.as_str())
            || VALUE_KEYS.contains(&key.as_str())
            || !(v.is_object() || v.is_array())
    });
    only_field.then(|| (label.trim().to_owned(), value.clone(), hint))
}

/// A value given as an object of its own (`{value: "…", type: "work", primary: true}`): the
/// value, and whether it is marked primary.
fn value_of(map: &Map<String, Value>) -> Option<(Value, bool)> {
    let (_, value) = map.iter().find(|(k, _)| canonical(k) == "value")?;
    if value.is_object() || value.is_array() {
        return None;
    }
    // A field list's item has a label; this has at most a kind of value.
    if get(map, &["label", "title", "name", "question", "field"])
        .is_some_and(|(_, v)| v.as_str().is_some_and(|s| s.split_whitespace().count() > 1))
    {
        return None;
    }
    let primary = map.iter().any(|(k, v)| {
        canonical(k).contains("primary")
            && (v.as_bool() == Some(true) || v.as_str() == Some("true"))
    });
    Some((value.clone(), primary))
}

/// An object that is one value in parts (`{first, last}`, `{area, phone}`, `{addr_line1,
/// city}`), read whole by the alias table's compound rules.
fn is_compound(map: &Map<String, Value>) -> bool {
    map.values().all(|v| !(v.is_object() || v.is_array()))
        && map.keys().any(|k| {
            matches!(
                canonical(k).as_str(),
                "first" | "last" | "area" | "full" | "addrline1" | "addressline1" | "address1"
            )
        })
}

impl Walk {
    fn leaf(
        &mut self,
        path: &[String],
        label: &str,
        value: Value,
        meaning: Option<Meaning>,
        primary: bool,
    ) {
        if self.leaves.len() < MAX_LEAVES {
            self.leaves.push(Leaf {
                path: path.to_vec(),
                label: label.to_owned(),
                value,
                meaning,
                primary,
                labelled: false,
            });
        }
    }

    fn walk(&mut self, value: &Value, path: &mut Vec<String>, key: &str, depth: usize) {
        if depth > MAX_DEPTH || self.leaves.len() >= MAX_LEAVES {
            return;
        }
        if let Some(inner) = nested(value) {
            return self.walk(&inner, path, key, depth + 1);
        }
        match value {
            Value::Object(map) => self.object(map, path, key, depth),
            Value::Array(items) => {
                if items.iter().all(|v| !(v.is_object() || v.is_array())) {
                    self.leaf(path, key, value.clone(), None, false);
                } else if let Some(lines) = conversation::transcript(items, &self.ids) {
                    if !lines.is_empty() {
                        self.leaf(
                            path,
                            key,
                            Value::String(lines.join("\n")),
                            Some(Meaning::Message),
                            false,
                        );
                    }
                } else {
                    for item in items {
                        self.walk(item, path, key, depth + 1);
                    }
                }
            }
            _ => self.leaf(path, key, value.clone(), None, false),
        }
    }

    fn object(
        &mut self,
        map: &Map<String, Value>,
        path: &mut Vec<String>,
        key: &str,
        depth: usize,
    ) {
        if key_tokens(key)
            .iter()
            .any(|t| SKIPPED.contains(&t.as_str()))
        {
            return;
        }
        // Under an email or phone key, `{label: "work", value}` is a kind of address, not a
        // form's question.
        let contact_list = matches!(
            crate::fields::meaning_in(path, key, self.outbound),
            Meaning::Email | Meaning::Phone | Meaning::Contact
        );
        if contact_list && let Some((value, primary)) = value_of(map) {
            return self.leaf(path, key, value, None, primary);
        }
        // An object the payload says is the brokerage's side (an operator, an agent of the
        // chat tool, a bot) is nobody to capture; one it says is the customer is the person.
        let role = conversation::message_text(map)
            .is_none()
            .then(|| conversation::object_role(map))
            .flatten();
        if role == Some(Role::Agent) && !key.is_empty() {
            return;
        }
        if let Some((label, value, hint)) = field_of(map) {
            let meaning = hint.filter(|_| {
                matches!(
                    crate::fields::meaning_in(path, &label, false),
                    Meaning::Unknown
                )
            });
            self.leaf(path, &label, value, meaning, false);
            if let Some(leaf) = self.leaves.last_mut() {
                leaf.labelled = true;
            }
            return;
        }
        if let Some((value, primary)) = value_of(map) {
            return self.leaf(path, key, value, None, primary);
        }
        if !key.is_empty() && is_compound(map) {
            return self.leaf(path, key, Value::Object(map.clone()), None, false);
        }
        // A message the brokerage's side wrote is not the prospect's: its words are left
        // out, and so is who wrote it.
        let agent_said = conversation::message_text(map).is_some()
            && conversation::single_role(map, &self.ids) == Some(Role::Agent);
        let pushed = match (role, key.is_empty()) {
            (Some(Role::Visitor), _)
                if crate::fields::party_in(&[], key, self.outbound) != Some(Party::Person) =>
            {
                path.push(format!("{key} visitor"));
                true
            }
            (_, false) => {
                path.push(key.to_owned());
                true
            }
            (_, true) => false,
        };
        for (k, v) in map {
            if agent_said {
                let c = canonical(k);
                if conversation::message_text(&Map::from_iter([(k.clone(), v.clone())])).is_some()
                    || matches!(c.as_str(), "author" | "sender" | "from" | "user")
                {
                    continue;
                }
            }
            self.walk(v, path, k, depth + 1);
        }
        if pushed {
            path.pop();
        }
    }
}

/// Reads a payload of any shape into a lead: every value through the alias table, the
/// person's own fields first (then the ones nothing names, in the order sent), a list of
/// messages by its prospect's lines. Values that are plainly metadata inside nested objects
/// (ids, times, links) are left out of the note.
pub fn read(value: &Value, rules: &FieldRules) -> Reading {
    let outbound = outbound(value);
    let mut walk = Walk {
        leaves: Vec::new(),
        ids: HashMap::new(),
        outbound,
    };
    conversation::roles_by_id(value, &mut walk.ids, 0);
    let chat = conversation::is_conversation(value, &walk.ids, 0);
    walk.walk(value, &mut Vec::new(), "", 0);
    let mut read: Vec<(u8, Leaf, Meaning)> = walk
        .leaves
        .into_iter()
        .map(|leaf| {
            let meaning = leaf.meaning.clone().unwrap_or_else(|| {
                rules.renamed(&leaf.label).unwrap_or_else(|| {
                    crate::fields::as_read(
                        &leaf.label,
                        crate::fields::meaning_in(&leaf.path, &leaf.label, outbound),
                        &leaf.value,
                    )
                })
            });
            // In a conversation, an agent is the chat's operator: no one to assign.
            let meaning = match meaning {
                Meaning::AgentEmail
                | Meaning::AgentPhone
                | Meaning::AgentName
                | Meaning::AgentFirstName
                | Meaning::AgentLastName
                | Meaning::AgentMlsId
                | Meaning::AgentMlsBoard
                    if chat =>
                {
                    Meaning::Ignore
                }
                m => m,
            };
            let person = leaf.meaning.is_some()
                || crate::fields::party_in(&leaf.path, &leaf.label, outbound)
                    == Some(Party::Person);
            let rank = match (person, leaf.primary) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            (rank, leaf, meaning)
        })
        .collect();
    read.sort_by_key(|(rank, _, _)| *rank);
    let mut reader = LeadReader::new();
    let mut words = Vec::new();
    for (_, leaf, meaning) in read {
        if meaning == Meaning::Unknown && leaf.path.is_empty() && is_id_or_time(&leaf.value) {
            continue;
        }
        if meaning == Meaning::Unknown && !leaf.path.is_empty() {
            if is_metadata(&leaf.value) {
                continue;
            }
            // "visitor city", "custom_fields timeline": a nested value keeps the name of
            // what it belongs to.
            let owner = leaf.path.last().map(String::as_str).unwrap_or("");
            let label = if key_tokens(&leaf.label).len() == 1
                && !leaf.labelled
                && !owner.is_empty()
                && !CONTAINERS.contains(&canonical(owner).as_str())
            {
                format!("{owner} {}", leaf.label)
            } else {
                leaf.label.clone()
            };
            reader.with_meaning(&label, meaning, &leaf.value);
            continue;
        }
        if meaning == Meaning::Message
            && let Some(text) = crate::fields::text_of(&leaf.value)
        {
            words.push(text);
        }
        reader.with_meaning(&leaf.label, meaning, &leaf.value);
    }
    Reading { reader, words }
}

/// What `read` found: the lead's fields, and the person's own words (a message, a
/// transcript's lines), in which a name, a number or an address may still be written.
pub struct Reading {
    pub reader: LeadReader,
    pub words: Vec<String>,
}

/// An id or a time: `665f1c2ab3d4e5f6a7b8c9d0`, `2025-04-11T13:05:44.000Z`.
fn is_id_or_time(value: &Value) -> bool {
    let Some(text) = value.as_str().map(str::trim) else {
        return false;
    };
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let compact = !text.contains(' ') && !text.contains("://");
    (compact
        && text.len() >= 16
        && digits > 0
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.+TZ".contains(c)))
        || (text.len() >= 19
            && text.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
            && matches!(text.as_bytes()[10], b'T' | b' '))
}

/// A value no person reads: an id, a time, a link, a yes/no, a count.
fn is_metadata(value: &Value) -> bool {
    let text = match value {
        Value::String(s) => s.trim(),
        Value::Bool(_) | Value::Null => return true,
        Value::Number(_) => return true,
        _ => return false,
    };
    let compact = !text.contains(' ');
    let digits = text.chars().filter(char::is_ascii_digit).count();
    text.is_empty()
        || text.starts_with("http://")
        || text.starts_with("https://")
        // An id: long, one word, letters mixed with digits, or a UUID.
        || (compact && text.len() >= 16 && digits > 0)
        // A time: 2024-05-01T10:00:00Z, 2024-05-01 10:00:00.
        || (text.len() >= 10
            && text.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-' || *b == b'/'
                } else {
                    b.is_ascii_digit()
                }
            }))
}

/// Whether any value of the payload says the event is a test (`test: true`, `is_test`,
/// `test_mode`, `isTest`).
pub fn says_test(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    map.iter().any(|(k, v)| {
        matches!(
            canonical(k).as_str(),
            "test" | "istest" | "testmode" | "testlead" | "sandbox"
        ) && (v.as_bool() == Some(true)
            || v.as_str().is_some_and(|s| {
                matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1")
            }))
    })
}

/// A message's delivery report (the brokerage's own text was queued, sent, delivered or
/// failed), which no person wrote: `Some(status)` when the payload is one.
pub fn delivery_report(value: &Value) -> Option<String> {
    let map = value.as_object()?;
    let status = map.iter().find_map(|(k, v)| {
        matches!(
            canonical(k).as_str(),
            "messagestatus" | "smsstatus" | "deliverystatus"
        )
        .then(|| v.as_str())
        .flatten()
    })?;
    let status = status.trim().to_ascii_lowercase();
    let delivery = matches!(
        status.as_str(),
        "queued"
            | "sending"
            | "sent"
            | "delivered"
            | "undelivered"
            | "failed"
            | "read"
            | "accepted"
            | "scheduled"
            | "canceled"
    );
    let has_words = map.iter().any(|(k, v)| {
        matches!(canonical(k).as_str(), "body" | "text" | "message")
            && v.as_str().is_some_and(|s| !s.trim().is_empty())
    });
    (delivery && !has_words).then_some(status)
}

/// The words a texter sent, when the payload is one text message (`Body`, `text`).
pub fn text_message(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    map.iter()
        .find(|(k, _)| matches!(canonical(k).as_str(), "body" | "text"))
        .and_then(|(_, v)| v.as_str())
}
