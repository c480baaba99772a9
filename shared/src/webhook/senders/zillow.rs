//! Zillow Tech Connect (Premier Agent's lead delivery to a partner CRM): `{Source,
//! ContactMessage: {ContactInfo, SearchCriteria, PropertyInfo}}`, posted directly or as the
//! `Message` of an Amazon SNS notification (the envelope is checked and opened by the router
//! with `web::sns`; this module reads the lead inside).
//!
//! `ContactInfo` is the consumer (`ContactName`, `ContactEmail`, `ContactPhone`,
//! `ContactMessage`, `ContactType` as a tag) and the Zillow agent it went to (`Assignee`);
//! `ClientGUID` is Zillow's id for the consumer, `CommunicationGUID` for this message. A
//! message with `Reassignment: true` hands an existing contact to the `Assignee`: a
//! reassignment of the lead captured before, not a new lead; it carries the whole contact,
//! so when Inlet never captured that lead (it came before Inlet, or its first delivery was
//! lost) delivery captures it with its new agent instead. `PropertyInfo` is the listing
//! asked about, `SearchCriteria` what the consumer looks for (in the note).
//!
//! Credentials: the Basic auth partners put in the subscription URL (`[senders.zillow]
//! secret`, user name and password as `user:password`, or the password alone). Built from
//! the field list of Rechat's own Zillow receiver (rechat/server's types) and Zillow's
//! partner descriptions; no captured request was available.

use crate::fields::text_of;
use crate::lead::Assignee;
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, shared_secret};
use crate::webhook::senders::{ListingParts, number};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "zillow",
    recognize: |i| contact_info(&i.decoded.value).is_some(),
    parse,
    verify,
};

/// Basic credentials equal to the secret (`user:password`), or whose password is the secret;
/// a token as any sender may give one otherwise.
fn verify(incoming: &Incoming, key: &Key, now: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    let Some((user, password)) = incoming
        .header("authorization")
        .and_then(crate::web::basic_credentials)
    else {
        return crate::webhook::verify_token(incoming, key, now);
    };
    if secret.contains(':') {
        shared_secret(Some(&format!("{user}:{password}")), secret, "authorization")
    } else {
        shared_secret(Some(&password), secret, "authorization")
    }
}

fn contact_info(body: &Value) -> Option<&Value> {
    body.get("ContactMessage")?
        .get("ContactInfo")
        .filter(|c| c.is_object())
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text_of)
}

fn flag(v: &Value, key: &str) -> bool {
    match v.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn property(p: &Value) -> ListingParts {
    ListingParts {
        street: text(p, "StreetAddress"),
        city: text(p, "City"),
        state: text(p, "State"),
        postal_code: text(p, "Zip"),
        mls_number: text(p, "MLSNumber"),
        mls: None,
        price: number(p.get("ListingPrice")),
        url: text(p, "ZillowPropertyURL"),
        photo: text(p, "PhotoURL"),
    }
}

/// What the consumer looks for, as one note line.
fn criteria(c: &Value) -> Option<String> {
    let place: Vec<String> = ["City", "State", "ZIP"]
        .into_iter()
        .filter_map(|k| text(c, k))
        .collect();
    let range = |label: &str, min: &str, max: &str| match (text(c, min), text(c, max)) {
        (Some(a), Some(b)) => Some(format!("{label} {a}–{b}")),
        (Some(a), None) => Some(format!("{label} from {a}")),
        (None, Some(b)) => Some(format!("{label} up to {b}")),
        (None, None) => None,
    };
    let parts: Vec<String> = (!place.is_empty())
        .then(|| format!("in {}", place.join(" ")))
        .into_iter()
        .chain(range("beds", "MinBeds", "MaxBeds"))
        .chain(range("baths", "MinBaths", "MaxBaths"))
        .chain(range("price", "MinPrice", "MaxPrice"))
        .chain(range("sq ft", "MinSqFt", "MaxSqFt"))
        .chain(text(c, "PropertyTypes").map(|t| format!("types {t}")))
        .collect();
    (!parts.is_empty()).then(|| format!("Looking for: {}", parts.join(", ")))
}

fn assignee(a: &Value) -> Option<Assignee> {
    let (first_name, last_name) =
        crate::normalize::names(None, None, text(a, "ZillowAssigneeAgentName").as_deref());
    let agent = Assignee {
        email: text(a, "ZillowAssigneeAgentEmail"),
        phone_number: text(a, "ZillowAssigneeAgentPhone"),
        first_name,
        last_name,
        ..Assignee::default()
    };
    (!crate::lead::IsEmpty::is_empty(&agent)).then_some(agent)
}

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let body = &incoming.decoded.value;
    let contact = contact_info(body).ok_or_else(|| {
        IntakeError::unprocessable(
            "a Zillow lead needs ContactMessage.ContactInfo (an SNS envelope is opened only on /webhooks/{channel}/zillow or when its signature checks)".into(),
            Some("ContactMessage.ContactInfo"),
        )
    })?;
    let message = body.get("ContactMessage").unwrap_or(&Value::Null);
    let client = text(contact, "ClientGUID");
    let communication = text(contact, "CommunicationGUID");
    let agent = contact.get("Assignee").and_then(assignee);

    let listing = message
        .get("PropertyInfo")
        .filter(|p| p.is_object())
        .map(property);
    let mut note: Vec<String> = text(contact, "ContactMessage").into_iter().collect();
    let details: Vec<String> = [
        listing
            .as_ref()
            .and_then(|l| l.url.clone())
            .map(|u| format!("Listing: {u}")),
        message.get("SearchCriteria").and_then(criteria),
        text(contact, "ContactUrl").map(|u| format!("Zillow contact: {u}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !details.is_empty() {
        note.push(details.join("\n"));
    }
    let raw = RawLead {
        full_name: text(contact, "ContactName"),
        email: text(contact, "ContactEmail"),
        phone: text(contact, "ContactPhone"),
        tags: text(contact, "ContactType").into_iter().collect(),
        lead_source: text(body, "Source")
            .filter(|s| s.to_ascii_lowercase().contains("zillow"))
            .or(Some("Zillow".into())),
        note: (!note.is_empty()).then(|| note.join("\n\n")),
        listing: listing.as_ref().and_then(ListingParts::listing),
        assignees: agent.clone().into_iter().collect(),
        ..RawLead::default()
    };
    if flag(contact, "Reassignment") {
        let (Some(client), Some(agent)) = (client.clone(), agent.clone()) else {
            return Err(IntakeError::unprocessable(
                "a Zillow reassignment needs the contact's ClientGUID and the Assignee it goes to"
                    .into(),
                Some("ContactMessage.ContactInfo.Assignee"),
            ));
        };
        let stamp = contact
            .get("Assignee")
            .and_then(|a| text(a, "ReassignmentDateTime"))
            .or_else(|| communication.clone())
            .unwrap_or_default();
        // The message carries the whole contact: should Inlet never have captured it,
        // delivery captures it with its new agent.
        let has_contact = ["ContactName", "ContactEmail", "ContactPhone"]
            .iter()
            .any(|k| text(contact, k).is_some());
        return Ok(vec![SenderEvent {
            event_id: Some(format!("reassign:{client}:{stamp}")),
            action: EventAction::Reassign {
                sender_lead_id: client,
                assignees: vec![agent],
                lead: has_contact.then_some(raw),
            },
        }]);
    }

    Ok(vec![SenderEvent {
        event_id: communication.or_else(|| client.clone()),
        action: EventAction::Capture {
            lead: raw,
            sender_lead_id: client,
            activities: Vec::new(),
            test: false,
        },
    }])
}
