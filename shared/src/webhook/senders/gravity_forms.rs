//! Gravity Forms (Webhooks Add-On, "All Fields": the Entry Object). Fields are keyed by id:
//! the routing config maps a form's ids (`[senders.gravity-forms.forms.<form_id>]`); by
//! default the standard Name field's sub-ids are read (`N.3` first, `N.6` last). The entry
//! `id` is the event id and `source_url` the page.

use crate::fields::{LeadReader, Meaning, text_of};
use crate::web::IntakeError;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "gravity-forms",
    recognize: |i| {
        super::has_keys(i, &["form_id", "date_created"])
            && i.object().is_some_and(|m| m.keys().any(|k| is_field_id(k)))
    },
    parse,
    verify: verify_token,
};

fn is_field_id(key: &str) -> bool {
    let mut parts = key.split('.');
    let main = parts.next().unwrap_or("");
    !main.is_empty()
        && main.bytes().all(|b| b.is_ascii_digit())
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let map = incoming.object().ok_or_else(|| {
        IntakeError::unprocessable("a Gravity Forms entry is an object".into(), None)
    })?;
    let form = map.get("form_id").and_then(text_of).unwrap_or_default();
    let rules = settings.forms.get(&form).unwrap_or(&settings.rules);
    let mut reader = LeadReader::new();
    let mut ids: Vec<&String> = map.keys().filter(|k| is_field_id(k)).collect();
    ids.sort_by(|a, b| {
        let n = |k: &str| {
            k.split('.')
                .map(|p| p.parse::<u32>().unwrap_or(0))
                .collect::<Vec<_>>()
        };
        n(a).cmp(&n(b))
    });
    for key in ids {
        let value = &map[key.as_str()];
        if rules.rename.contains_key(key.as_str()) {
            reader.field(key, value, rules);
            continue;
        }
        let meaning = match key.split_once('.').map(|(_, sub)| sub) {
            Some("3") => Meaning::FirstName,
            Some("6") => Meaning::LastName,
            Some("2") | Some("4") | Some("8") => Meaning::Ignore,
            _ => Meaning::Unknown,
        };
        reader.with_meaning(&format!("Field {key}"), meaning, value);
    }
    if let Some(url) = map.get("source_url").and_then(text_of) {
        reader.with_meaning("source_url", Meaning::PageUrl, &Value::String(url));
    }
    reader.defaults(&[], Some("Gravity Forms"));
    Ok(vec![SenderEvent::capture(
        map.get("id").and_then(text_of),
        reader.finish(),
    )])
}
