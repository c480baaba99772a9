//! Wufoo: URL-encoded `Field1…FieldN` with `EntryId`; with metadata on, `FieldStructure` is
//! a JSON string naming each field (title, type, sub-fields), which is how fields are read.
//! `HandshakeKey` is the shared secret. Built from wufoo/docs' webhook description.

use crate::fields::{LeadReader, Meaning, text_of};
use crate::web::IntakeError;
use crate::web::body::nested_json;
use crate::web::signature::{SignatureError, shared_secret};
use crate::webhook::{Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;
use std::collections::HashMap;

/// The body field carrying Wufoo's shared secret: never stored.
pub const CREDENTIAL_FIELDS: &[&str] = &["HandshakeKey"];

pub const SENDER: Sender = Sender {
    name: "wufoo",
    recognize: |i| {
        super::has_keys(i, &["HandshakeKey"]) || super::has_keys(i, &["EntryId", "Field1"])
    },
    parse,
    verify,
};

fn verify(incoming: &Incoming, key: &Key, _: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    shared_secret(
        incoming.text("HandshakeKey").as_deref(),
        secret,
        "HandshakeKey",
    )
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let map = incoming
        .object()
        .ok_or_else(|| IntakeError::unprocessable("a Wufoo body is a form".into(), None))?;
    // Field id → (label, meaning) from FieldStructure.
    let mut known: HashMap<String, (String, Meaning)> = HashMap::new();
    if let Some(structure) = nested_json(map.get("FieldStructure")) {
        for field in structure
            .get("Fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let title = field.get("Title").and_then(text_of).unwrap_or_default();
            let kind = field
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let subfields = field.get("SubFields").and_then(Value::as_array);
            match (kind, subfields) {
                ("shortname", Some(subs)) => {
                    for (i, sub) in subs.iter().enumerate() {
                        if let Some(id) = sub.get("ID").and_then(text_of) {
                            let m = if i == 0 {
                                Meaning::FirstName
                            } else {
                                Meaning::LastName
                            };
                            known.insert(id, (title.clone(), m));
                        }
                    }
                }
                (_, Some(subs)) => {
                    for sub in subs {
                        if let (Some(id), Some(label)) = (
                            sub.get("ID").and_then(text_of),
                            sub.get("Label").and_then(text_of),
                        ) {
                            let m = crate::fields::meaning_of(&crate::fields::canonical(&label));
                            known.insert(id, (label, m));
                        }
                    }
                }
                (kind, None) => {
                    if let Some(id) = field.get("ID").and_then(text_of) {
                        let m = match kind {
                            "email" => Meaning::Email,
                            "phone" => Meaning::Phone,
                            "url" => Meaning::PageUrl,
                            _ => crate::fields::meaning_of(&crate::fields::canonical(&title)),
                        };
                        known.insert(id, (title, m));
                    }
                }
            }
        }
    }
    let form = map
        .get("FormStructure")
        .and_then(|_| nested_json(map.get("FormStructure")));
    let form_rules = form
        .as_ref()
        .and_then(|f| f.get("Hash").or_else(|| f.get("Url")))
        .and_then(text_of)
        .and_then(|id| settings.forms.get(&id))
        .unwrap_or(&settings.rules);
    let mut reader = LeadReader::new();
    for (key, value) in map {
        if !key.starts_with("Field") || key == "FieldStructure" {
            continue;
        }
        match known.get(key) {
            _ if form_rules.rename.contains_key(key) => reader.field(key, value, form_rules),
            Some((label, Meaning::Unknown)) => reader.with_meaning(label, Meaning::Unknown, value),
            Some((label, meaning)) => reader.with_meaning(label, meaning.clone(), value),
            None => reader.field(key, value, form_rules),
        }
    }
    reader.defaults(&[], Some("Wufoo"));
    Ok(vec![SenderEvent::capture(
        incoming.text("EntryId"),
        reader.finish(),
    )])
}
