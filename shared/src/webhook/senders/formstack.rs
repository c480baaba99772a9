//! Formstack webhooks: fields by name, id or "API-friendly" key; sub-fields arrive nested
//! (`{first, last}`) in JSON and as `first = …\nlast = …` lines in URL-encoded bodies.
//! `UniqueID` is the event id. Built from developers.formstack.com's webhook examples.

use crate::fields::LeadReader;
use crate::web::IntakeError;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::{Map, Value};

/// The body field carrying Formstack's handshake key: never stored.
pub const CREDENTIAL_FIELDS: &[&str] = &["HandshakeKey"];

pub const SENDER: Sender = Sender {
    name: "formstack",
    recognize: |i| super::has_keys(i, &["FormID", "UniqueID"]),
    parse,
    verify: verify_token,
};

/// `first = Ana\nlast = Silva` as an object.
fn sub_fields(text: &str) -> Option<Value> {
    let mut map = Map::new();
    for line in text.lines() {
        let (k, v) = line.split_once(" = ")?;
        map.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
    }
    (!map.is_empty()).then_some(Value::Object(map))
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let map = incoming
        .object()
        .ok_or_else(|| IntakeError::unprocessable("a Formstack body is an object".into(), None))?;
    let mut reader = LeadReader::new();
    for (key, value) in map {
        if matches!(key.as_str(), "FormID" | "UniqueID" | "HandshakeKey") {
            continue;
        }
        let value = match value.as_str() {
            Some(s) if s.contains(" = ") => sub_fields(s).unwrap_or_else(|| value.clone()),
            _ => value.clone(),
        };
        reader.field(key, &value, &settings.rules);
    }
    reader.defaults(&[], Some("Formstack"));
    Ok(vec![SenderEvent::capture(
        incoming.text("UniqueID"),
        reader.finish(),
    )])
}
