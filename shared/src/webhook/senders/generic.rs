//! Zapier, Make, n8n and any flat form: every key through the alias table. A JSON body may
//! be one lead object, an array of them, or an object with a `data`/`lead`/`leads` field.

use crate::intake::IntakeError;
use crate::webhook::fields::read_object;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "generic",
    recognize: |_| true,
    parse,
    verify: verify_token,
};

const ID_KEYS: &[&str] = &[
    "event_id",
    "eventId",
    "lead_id",
    "leadId",
    "submission_id",
    "submissionId",
    "id",
    "_id",
    "uuid",
];

fn event_id(map: &serde_json::Map<String, Value>) -> Option<String> {
    ID_KEYS
        .iter()
        .find_map(|k| map.get(*k))
        .and_then(crate::webhook::fields::text_of)
}

fn leads_in(value: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match value {
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        Value::Object(map) => {
            for key in ["leads", "data", "lead", "contact", "submission"] {
                match map.get(key) {
                    Some(Value::Object(inner)) => return vec![inner],
                    Some(Value::Array(items))
                        if items.iter().all(Value::is_object) && !items.is_empty() =>
                    {
                        return items.iter().filter_map(Value::as_object).collect();
                    }
                    _ => {}
                }
            }
            vec![map]
        }
        _ => Vec::new(),
    }
}

/// Most leads one request may carry.
pub const MAX_LEADS: usize = 100;

pub fn parse(
    incoming: &Incoming,
    settings: &SenderSettings,
) -> Result<Vec<SenderEvent>, IntakeError> {
    let leads = leads_in(&incoming.decoded.value);
    if leads.len() > MAX_LEADS {
        return Err(IntakeError::unprocessable(
            format!("more than {MAX_LEADS} leads in one request"),
            None,
        ));
    }
    if leads.is_empty() {
        return Err(IntakeError::unprocessable(
            "the body is not a lead object or a list of them".into(),
            None,
        ));
    }
    Ok(leads
        .into_iter()
        .map(|map| {
            let mut reader = read_object(map, &settings.rules);
            if !incoming.decoded.files.is_empty() {
                reader.with_meaning(
                    "Files",
                    crate::webhook::fields::Meaning::Unknown,
                    &Value::String(incoming.decoded.files.join(", ")),
                );
            }
            SenderEvent::capture(event_id(map), reader.finish())
        })
        .collect())
}
