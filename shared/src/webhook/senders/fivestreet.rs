//! FiveStreet's outgoing webhook (`{meta: {event_type}, lead: {…}}`): `create_lead` is a
//! capture with the claiming agent (else the owner) as assignee; `refer_lead` and
//! `claim_lead` reassign the lead it created before, found through the ledger by its id.
//! Format from fivestreet/remax-connector's published description.

use crate::fields::{price, text_of};
use crate::lead::{Address, Assignee, Listing, Property};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::webhook::{EventAction, Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "fivestreet",
    recognize: |i| {
        i.object().is_some_and(|m| {
            m.get("meta").and_then(|x| x.get("event_type")).is_some()
                && m.get("lead").is_some_and(Value::is_object)
        })
    },
    parse,
    verify: verify_token,
};

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text_of)
}

fn agent(v: Option<&Value>) -> Option<Assignee> {
    let v = v.filter(|v| v.is_object())?;
    let (first_name, last_name) = crate::normalize::names(None, None, text(v, "name").as_deref());
    let a = Assignee {
        email: text(v, "email"),
        phone_number: text(v, "phone"),
        first_name,
        last_name,
        mls: None,
        mls_id: None,
    };
    (!crate::lead::IsEmpty::is_empty(&a)).then_some(a)
}

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let body = &incoming.decoded.value;
    let kind = body
        .pointer("/meta/event_type")
        .and_then(text_of)
        .unwrap_or_default();
    let lead = body.get("lead").filter(|l| l.is_object()).ok_or_else(|| {
        IntakeError::unprocessable(
            "a FiveStreet event needs a `lead` object".into(),
            Some("lead"),
        )
    })?;
    let id = text(lead, "id").ok_or_else(|| {
        IntakeError::unprocessable("the FiveStreet lead has no id".into(), Some("lead.id"))
    })?;
    let assignee = agent(lead.get("agent")).or_else(|| agent(lead.get("owner")));
    match kind.as_str() {
        "create_lead" => {
            let property = lead.get("property");
            let address = property.and_then(|p| p.get("address")).map(|a| Address {
                street_address: text(a, "street"),
                city: text(a, "city"),
                state_code: text(a, "state"),
                postal_code: text(a, "zipcode").or_else(|| text(a, "zip")),
                country: text(a, "country"),
                ..Address::default()
            });
            let listing = property.map(|p| Listing {
                price: text(p, "list_price").as_deref().and_then(price),
                mls_number: text(p, "mls_id"),
                cover_image_url: text(p, "photo_url"),
                property: address.map(|a| Property { address: Some(a) }),
            });
            let mut note = text(lead, "message");
            if let Some(url) = property.and_then(|p| text(p, "url")) {
                note = Some(match note {
                    Some(n) => format!("{n}\n\nListing: {url}"),
                    None => format!("Listing: {url}"),
                });
            }
            let raw = RawLead {
                full_name: text(lead, "name"),
                first_name: text(lead, "first_name"),
                last_name: text(lead, "last_name"),
                email: text(lead, "email"),
                phone: text(lead, "phone"),
                lead_source: text(lead, "source").or(Some("FiveStreet".into())),
                note,
                listing,
                assignees: assignee.into_iter().collect(),
                ..RawLead::default()
            };
            Ok(vec![SenderEvent {
                event_id: Some(format!("create_lead:{id}")),
                action: EventAction::Capture {
                    lead: raw,
                    sender_lead_id: Some(id),
                    activities: Vec::new(),
                    test: false,
                },
            }])
        }
        "refer_lead" | "claim_lead" => {
            let assignee = assignee.ok_or_else(|| {
                IntakeError::unprocessable(
                    format!("a {kind} event needs the agent it goes to"),
                    Some("lead.agent"),
                )
            })?;
            let marker = text(lead, "claimed_at")
                .or_else(|| assignee.email.clone())
                .unwrap_or_default();
            Ok(vec![SenderEvent {
                event_id: Some(format!("{kind}:{id}:{marker}")),
                action: EventAction::Reassign {
                    sender_lead_id: id,
                    assignees: vec![assignee],
                    lead: None,
                },
            }])
        }
        other => Err(IntakeError::unprocessable(
            format!("FiveStreet event {other:?} is not one Inlet reads"),
            Some("meta.event_type"),
        )),
    }
}
