//! Webflow form submissions, v1 (`{name, site, data, d, _id}`) and v2 (`{triggerType:
//! "form_submission", payload: {data, id, …}}`). `data` is keyed by field labels; values may
//! be numbers (a phone without `+`). v2 signs `timestamp:body` (hex HMAC, 5-minute window).

use crate::fields::{read_object, text_of};
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, webflow};
use crate::webhook::{Incoming, Key, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "webflow",
    recognize: |i| {
        let v = &i.decoded.value;
        v.get("triggerType").and_then(Value::as_str) == Some("form_submission")
            || (v.get("site").is_some()
                && v.get("data").is_some_and(Value::is_object)
                && v.get("_id").is_some())
    },
    parse,
    verify,
};

fn verify(incoming: &Incoming, key: &Key, now: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    if incoming.header("x-webflow-signature").is_some() {
        return webflow(
            incoming.header("x-webflow-timestamp"),
            incoming.header("x-webflow-signature"),
            secret.as_bytes(),
            incoming.raw,
            now,
        );
    }
    verify_token(incoming, key, now)
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let v = &incoming.decoded.value;
    let (submission, id) = match v.get("payload") {
        Some(p) if p.is_object() => (p, p.get("id").and_then(text_of)),
        _ => (v, v.get("_id").and_then(text_of)),
    };
    let data = submission
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            IntakeError::unprocessable(
                "a Webflow submission needs a data object".into(),
                Some("data"),
            )
        })?;
    let mut reader = read_object(data, &settings.rules);
    reader.defaults(&[], Some("Webflow"));
    Ok(vec![SenderEvent::capture(id, reader.finish())])
}
