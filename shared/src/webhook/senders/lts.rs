//! The Lead Transmission Standard (LTS) XML that IDX website vendors (iHomefinder and
//! others) post, as `text/xml` or `application/xml`, and that Rechat's own capture endpoint
//! takes: `<LeadList><Lead><Contact><Name><First/><Last/></Name><Email/><PhoneList><Phone>
//! <Number/></Phone></PhoneList><Note/></Contact><LeadSource/><LeadSubsource/>
//! <ListingNumber/><ListingAgentMLSID/><ListingOfficeMLSID/></Lead></LeadList>`, one lead per
//! `<Lead>`. Vendors add their own elements; the common ones are read too (`Comments`,
//! `Address`, `Price`, `FirstName`/`LastName`), any case. A listing address written only in
//! the comments is found there (`postal`).
//!
//! The XML itself is parsed in `web::body` (roxmltree, no DTD, so no entity expansion). The
//! element names come from the LTS fields Rechat's own LTS reader selects (rechat/server's
//! lead save SQL); no vendor's captured request was available.

use crate::fields::text_of;
use crate::lead::{Address, Assignee, Listing, Property};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::webhook::senders::number;
use crate::webhook::{EventAction, Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "lts",
    recognize: |i| !leads(&i.decoded.value).is_empty(),
    parse,
    verify: verify_token,
};

/// A child element by any of its names, in any case.
fn child<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    let map = v.as_object()?;
    names.iter().find_map(|n| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v)
    })
}

/// An element's text: itself when text, its `#text` when it has attributes, the first of a
/// repeated element.
fn text(v: &Value, names: &[&str]) -> Option<String> {
    let found = child(v, names)?;
    let one = match found {
        Value::Array(items) => items.first()?,
        other => other,
    };
    match one {
        Value::Object(o) => o.get("#text").and_then(text_of),
        other => text_of(other),
    }
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// The `<Lead>` elements of a `<LeadList>` (or a lone `<Lead>` root) that carry a contact.
fn leads(body: &Value) -> Vec<&Value> {
    let root = child(body, &["LeadList", "Leads"]).unwrap_or(body);
    as_list(child(root, &["Lead"]))
        .into_iter()
        .filter(|l| child(l, &["Contact"]).is_some())
        .collect()
}

fn phone(contact: &Value) -> Option<String> {
    let list = child(contact, &["PhoneList", "Phones"]);
    let phones = as_list(list.and_then(|l| child(l, &["Phone"])));
    phones
        .into_iter()
        .find_map(|p| text(p, &["Number"]).or_else(|| text_of(p)))
        .or_else(|| text(contact, &["Phone", "PhoneNumber"]))
}

fn email(contact: &Value) -> Option<String> {
    child(contact, &["EmailList", "Emails"])
        .and_then(|l| text(l, &["Email"]))
        .or_else(|| text(contact, &["Email", "EmailAddress"]))
}

fn address(lead: &Value, comments: Option<&str>) -> Option<Address> {
    let given = child(lead, &["Address", "PropertyAddress", "ListingAddress"])
        .or_else(|| child(lead, &["Property"]).and_then(|p| child(p, &["Address"])));
    if let Some(a) = given {
        if let Some(line) = text_of(a).filter(|_| a.is_string()) {
            return crate::postal::address_line(&line).or(Some(Address {
                full_address: Some(line),
                ..Address::default()
            }));
        }
        let parsed = Address {
            street_address: text(a, &["Street", "StreetAddress", "Line1"]),
            unit_number: text(a, &["Unit", "UnitNumber"]),
            city: text(a, &["City"]),
            state_code: text(a, &["State", "StateCode"]),
            postal_code: text(a, &["Zip", "ZipCode", "PostalCode"]),
            ..Address::default()
        };
        if !crate::lead::IsEmpty::is_empty(&parsed) {
            return Some(parsed);
        }
    }
    comments.and_then(crate::postal::address_line)
}

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let found = leads(&incoming.decoded.value);
    if found.is_empty() {
        return Err(IntakeError::unprocessable(
            "an LTS body needs <LeadList><Lead><Contact>".into(),
            Some("LeadList.Lead.Contact"),
        ));
    }
    Ok(found.into_iter().map(event).collect())
}

fn event(lead: &Value) -> SenderEvent {
    let contact = child(lead, &["Contact"]).unwrap_or(&Value::Null);
    let name = child(contact, &["Name"]);
    let (first, last, full) = match name {
        Some(n) if n.is_object() => (
            text(n, &["First", "FirstName"]),
            text(n, &["Last", "LastName"]),
            text(n, &["Full", "FullName"]),
        ),
        Some(n) => (None, None, text_of(n)),
        None => (None, None, None),
    };
    let comments: Vec<String> = [
        text(contact, &["Note", "Notes", "Comments", "Message"]),
        text(lead, &["Comments", "Note", "Message"]),
    ]
    .into_iter()
    .flatten()
    .collect();
    let comments_text = comments.join("\n\n");
    let address = address(lead, Some(comments_text.as_str()).filter(|c| !c.is_empty()));
    let mls_number = text(lead, &["ListingNumber", "MLSNumber", "ListingID", "MLSID"]);
    let listing = Listing {
        price: number(child(lead, &["Price", "ListingPrice", "ListPrice"])),
        mls_number,
        cover_image_url: None,
        property: address.map(|a| Property { address: Some(a) }),
    };
    let agent = Assignee {
        mls_id: text(lead, &["ListingAgentMLSID", "AgentMLSID"]),
        email: text(lead, &["AgentEmail", "ListingAgentEmail"]),
        ..Assignee::default()
    };
    let mut note = comments;
    if let Some(office) = text(lead, &["ListingOfficeMLSID"]) {
        note.push(format!("Listing office MLS id: {office}"));
    }
    let lead_source = text(lead, &["LeadSource", "Source"]);
    let tags: Vec<String> = [text(lead, &["LeadSubsource", "LeadType", "Type"])]
        .into_iter()
        .flatten()
        .collect();
    let raw = RawLead {
        first_name: first.or_else(|| text(contact, &["FirstName"])),
        last_name: last.or_else(|| text(contact, &["LastName"])),
        full_name: full,
        email: email(contact),
        phone: phone(contact),
        tags,
        lead_source,
        note: (!note.is_empty()).then(|| note.join("\n\n")),
        referer_url: text(lead, &["URL", "ListingURL", "PageURL"]),
        listing: (!crate::lead::IsEmpty::is_empty(&listing)).then_some(listing),
        assignees: (!crate::lead::IsEmpty::is_empty(&agent))
            .then_some(agent)
            .into_iter()
            .collect(),
        ..RawLead::default()
    };
    let id = child(lead, &["@id"])
        .and_then(text_of)
        .or_else(|| text(lead, &["LeadID", "ID", "Id"]));
    SenderEvent {
        event_id: id.clone(),
        action: EventAction::Capture {
            lead: raw,
            sender_lead_id: id,
            activities: Vec::new(),
            test: false,
        },
    }
}
