//! Meta (Facebook/Instagram) Lead Ads. The page `leadgen` notification carries ids only:
//! each lead becomes an envelope whose first step fetches it from the Graph API. Lead
//! objects (`field_data: [{name, values}]`), as tools relay them, are read directly.
//! `X-Hub-Signature-256` is checked with the app secret.

use crate::fields::text_of;
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, hex_body};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "meta",
    recognize: |i| {
        let v = &i.decoded.value;
        v.get("object").and_then(Value::as_str) == Some("page") && v.get("entry").is_some()
            || !lead_objects(v).is_empty()
    },
    parse,
    verify,
};

fn verify(incoming: &Incoming, key: &Key, _: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    hex_body(
        "X-Hub-Signature-256",
        incoming.header("x-hub-signature-256"),
        "sha256=",
        secret.as_bytes(),
        incoming.raw,
    )
}

fn lead_objects(v: &Value) -> Vec<&Value> {
    let is_lead = |x: &&Value| x.get("field_data").is_some_and(Value::is_array);
    match v {
        Value::Array(items) => items.iter().filter(is_lead).collect(),
        Value::Object(_) if v.get("field_data").is_some() => vec![v],
        Value::Object(m) => m
            .get("data")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter(is_lead).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Most leads one notification may carry.
const MAX_LEADS: usize = 100;

fn parse(incoming: &Incoming, settings: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let v = &incoming.decoded.value;
    let mut events = Vec::new();
    if v.get("object").and_then(Value::as_str) == Some("page") {
        for entry in v
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for change in entry
                .get("changes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if change.get("field").and_then(Value::as_str) != Some("leadgen") {
                    continue;
                }
                let value = change.get("value");
                let Some(id) = value.and_then(|x| x.get("leadgen_id")).and_then(text_of) else {
                    return Err(IntakeError::unprocessable(
                        "a leadgen change without leadgen_id".into(),
                        Some("leadgen_id"),
                    ));
                };
                events.push(SenderEvent {
                    event_id: Some(format!("leadgen:{id}")),
                    action: EventAction::FetchMetaLead {
                        leadgen_id: id,
                        form_id: value.and_then(|x| x.get("form_id")).and_then(text_of),
                    },
                });
            }
        }
    } else {
        for lead in lead_objects(v) {
            let id = lead.get("id").and_then(text_of);
            events.push(SenderEvent {
                event_id: id.clone().map(|i| format!("leadgen:{i}")),
                action: EventAction::Capture {
                    lead: crate::fields::meta_lead(lead, &settings.rules),
                    sender_lead_id: id,
                    activities: Vec::new(),
                    test: false,
                },
            });
        }
    }
    if events.len() > MAX_LEADS {
        return Err(IntakeError::unprocessable(
            format!("more than {MAX_LEADS} leads in one notification"),
            None,
        ));
    }
    Ok(events)
}
