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

/// A lead Meta knows by id, as its `leadgen` notification names it: the one way such a lead
/// becomes an event, for the webhook and for reconciliation alike, so that either makes the
/// same envelope (the same id: `leadgen:<id>` from sender `meta`, in the same channel) and the
/// second to come is a repeat. Its page or form routes it when the routing file names them
/// (`[senders.meta.reconcile]`); the sender's tags, lead source, agents and `drop_test` go
/// with it, to be applied once delivery has read the lead.
pub fn leadgen_event(
    settings: &SenderSettings,
    leadgen_id: String,
    form_id: Option<String>,
    page_id: Option<String>,
) -> SenderEvent {
    let route = settings
        .reconcile
        .as_ref()
        .and_then(|r| r.route(page_id.as_deref(), form_id.as_deref()));
    let mut defaults = settings.lead_defaults();
    if let Some(route) = route {
        defaults.tags.extend(route.tags.iter().cloned());
        if !route.assignees.is_empty() {
            defaults.assignees = route.assignees.clone();
        }
    }
    SenderEvent {
        event_id: Some(format!("leadgen:{leadgen_id}")),
        action: EventAction::FetchMetaLead {
            leadgen_id,
            form_id,
            page_id,
            channel: route.map(|r| r.channel.clone()),
            defaults,
        },
    }
}

/// Whether a lead object is one of Meta's test leads: the Lead Ads Testing Tool and a form's
/// preview fill every field with `<test lead: dummy data for …>`, which no person types.
pub fn is_test_lead(lead: &Value) -> bool {
    lead.get("field_data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|f| {
            f.get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
        .any(|v| {
            v.trim_start()
                .get(..11)
                .is_some_and(|p| p.eq_ignore_ascii_case("<test lead:"))
        })
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
                let text = |key: &str| value.and_then(|x| x.get(key)).and_then(text_of);
                // The entry's id is the page's when the change does not say.
                let page_id = text("page_id").or_else(|| entry.get("id").and_then(text_of));
                events.push(leadgen_event(settings, id, text("form_id"), page_id));
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
                    test: is_test_lead(lead),
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
