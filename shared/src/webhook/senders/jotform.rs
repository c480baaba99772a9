//! Jotform: a multipart body whose `rawRequest` part is a JSON string keyed `q<N>_<name>`,
//! with compound values (`{first, last}`, `{area, phone}`, addresses). `submissionID` is the
//! event id. The `pretty` part is for people and is not read.

use crate::fields::LeadReader;
use crate::web::IntakeError;
use crate::web::body::nested_json;
use crate::webhook::{Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "jotform",
    recognize: |i| {
        super::has_keys(i, &["rawRequest"]) || super::has_keys(i, &["formID", "submissionID"])
    },
    parse,
    verify: verify_token,
};

/// Jotform's own question keys: `q` digits `_` name.
fn is_question(key: &str) -> bool {
    key.strip_prefix('q')
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(n, name)| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        })
}

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let raw = nested_json(incoming.object().and_then(|m| m.get("rawRequest")));
    let answers = match &raw {
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(IntakeError::unprocessable(
                "rawRequest must be a JSON object".into(),
                Some("rawRequest"),
            ));
        }
        None if incoming
            .object()
            .and_then(|m| m.get("rawRequest"))
            .is_some() =>
        {
            return Err(IntakeError::malformed(
                "rawRequest is not valid JSON".into(),
            ));
        }
        None => incoming
            .object()
            .ok_or_else(|| IntakeError::unprocessable("a Jotform body is a form".into(), None))?,
    };
    let mut reader = LeadReader::new();
    for (key, value) in answers {
        if is_question(key) {
            reader.field(key, value, &settings.rules);
        }
    }
    reader.defaults(&[], Some("Jotform"));
    Ok(vec![SenderEvent::capture(
        incoming.text("submissionID"),
        reader.finish(),
    )])
}
