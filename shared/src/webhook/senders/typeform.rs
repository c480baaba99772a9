//! Typeform `form_response` webhooks: each answer is read by its type (email, phone) or by
//! its question's title through the alias table; hidden fields (UTM and such) too.
//! `Typeform-Signature: sha256=<base64>` over the body.

use crate::fields::{LeadReader, Meaning, text_of};
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, base64_body};
use crate::webhook::{Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;
use std::collections::HashMap;

pub const SENDER: Sender = Sender {
    name: "typeform",
    recognize: |i| {
        let v = &i.decoded.value;
        v.get("event_type").and_then(Value::as_str) == Some("form_response")
            || v.get("form_response").is_some_and(Value::is_object)
    },
    parse,
    verify,
};

fn verify(incoming: &Incoming, key: &Key, _: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    base64_body(
        "Typeform-Signature",
        incoming.header("typeform-signature"),
        "sha256=",
        secret.as_bytes(),
        incoming.raw,
    )
}

/// An answer's value, whatever its type.
fn answer_value(answer: &Value) -> Value {
    let kind = answer
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "choice" => answer
            .pointer("/choice/label")
            .cloned()
            .unwrap_or(Value::Null),
        "choices" => answer
            .pointer("/choices/labels")
            .cloned()
            .unwrap_or(Value::Null),
        other => answer.get(other).cloned().unwrap_or(Value::Null),
    }
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let v = &incoming.decoded.value;
    let response = v
        .get("form_response")
        .filter(|r| r.is_object())
        .ok_or_else(|| {
            IntakeError::unprocessable(
                "form_response must be an object".into(),
                Some("form_response"),
            )
        })?;
    let titles: HashMap<&str, &str> = response
        .pointer("/definition/fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f.get("id")?.as_str()?, f.get("title")?.as_str()?)))
        .collect();
    let mut reader = LeadReader::new();
    for answer in response
        .get("answers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field_id = answer
            .pointer("/field/id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let field_ref = answer
            .pointer("/field/ref")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let title = titles.get(field_id).copied().unwrap_or(field_ref);
        let value = answer_value(answer);
        match answer.get("type").and_then(Value::as_str) {
            Some("email") => reader.with_meaning(title, Meaning::Email, &value),
            Some("phone_number") => reader.with_meaning(title, Meaning::Phone, &value),
            // A ref set by the form's author ("email", "first_name") is a stable name.
            _ if crate::fields::meaning_of(&crate::fields::canonical(field_ref))
                != Meaning::Unknown =>
            {
                reader.field(field_ref, &value, &settings.rules)
            }
            _ => reader.field(title, &value, &settings.rules),
        }
    }
    if let Some(hidden) = response.get("hidden").and_then(Value::as_object) {
        for (k, val) in hidden {
            reader.field(k, val, &settings.rules);
        }
    }
    reader.defaults(&[], Some("Typeform"));
    let event_id = v
        .get("event_id")
        .and_then(text_of)
        .or_else(|| response.get("token").and_then(text_of));
    Ok(vec![SenderEvent::capture(event_id, reader.finish())])
}
