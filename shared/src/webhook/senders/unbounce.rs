//! Unbounce: a URL-encoded body whose `data.json` field is a JSON string in which every
//! value is a one-element array. `page_url` is the page the lead came from. Unbounce sends
//! no submission id, so the content digest is the dedupe key.

use crate::fields::{LeadReader, Meaning};
use crate::web::IntakeError;
use crate::web::body::nested_json;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "unbounce",
    recognize: |i| {
        super::has_keys(i, &["data.json"])
            || super::has_keys(i, &["page_id", "page_url", "variant"])
    },
    parse,
    verify: verify_token,
};

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let data = match nested_json(incoming.object().and_then(|m| m.get("data.json"))) {
        Some(Value::Object(map)) => map,
        _ => {
            return Err(IntakeError::unprocessable(
                "data.json must hold a JSON object".into(),
                Some("data.json"),
            ));
        }
    };
    let mut reader = LeadReader::new();
    for (key, value) in &data {
        reader.field(key, value, &settings.rules);
    }
    if let Some(url) = incoming.text("page_url") {
        reader.with_meaning("page_url", Meaning::PageUrl, &Value::String(url));
    }
    reader.defaults(&[], Some("Unbounce"));
    Ok(vec![SenderEvent::capture(None, reader.finish())])
}
