//! Netlify Forms outgoing webhooks: `{id, form_name, site_url, data: {…}, human_fields, …}`;
//! the form's own fields are in `data` (with `referrer`, `ip`, `user_agent`).

use crate::fields::{read_object, text_of};
use crate::web::IntakeError;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "netlify",
    recognize: |i| {
        let v = &i.decoded.value;
        v.get("form_name").is_some()
            && v.get("data").is_some_and(Value::is_object)
            && (v.get("site_url").is_some() || v.get("human_fields").is_some())
    },
    parse,
    verify: verify_token,
};

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let v = &incoming.decoded.value;
    let data = v
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| IntakeError::unprocessable("data must be an object".into(), Some("data")))?;
    let mut reader = read_object(data, &settings.rules);
    reader.defaults(&[], Some("Website"));
    Ok(vec![SenderEvent::capture(
        v.get("id").and_then(text_of),
        reader.finish(),
    )])
}
