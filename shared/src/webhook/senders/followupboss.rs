//! Follow Up Boss's Events API shape (`POST /v1/events`), so that a lead source built for
//! Follow Up Boss (IDX sites, portals, landing pages) can point at Inlet unchanged:
//! `{source, system, type, message, description, person: {firstName, lastName, emails:
//! [{value}], phones: [{value}], tags, assignedTo}, property: {street, city, state, code,
//! mlsNumber, price, url}, propertySearch: {…}, campaign: {…}, pageUrl}`.
//!
//! Follow Up Boss finds the person by email or phone and records the event on them; Rechat
//! matches a capture to its contact the same way, so every event is a capture, and the
//! event types Rechat's timeline has become activities on it:
//!
//! | Follow Up Boss `type` | Rechat |
//! |---|---|
//! | Registration | capture + `ContactSignedUp` |
//! | Inquiry, Property Inquiry, General Inquiry, Seller Inquiry, Visited Open House, Incoming Call | capture, the message as its note, the type as a tag |
//! | Viewed Property | capture + `ContactViewedListing` |
//! | Saved Property | capture + `ContactFavoritedListing` |
//! | Property Search | capture + `ContactSearchedListings` |
//! | Saved Property Search | capture + `ContactCreatedSearch` |
//! | Visited Website, Viewed Page | capture, the page in the note |
//! | Unsubscribed | not a lead (refused, 422) |
//!
//! Credentials: Follow Up Boss's own convention, the API key as the Basic-auth user name with
//! an empty password; a key per channel (`[senders.followupboss.api_keys]`) routes
//! `POST /v1/events` to that channel. Built from docs.followupboss.com (events-post and the
//! lead-provider integration guide); no captured request was available.

use crate::fields::text_of;
use crate::lead::{Action, Activity, Assignee, Search};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, shared_secret};
use crate::webhook::senders::{ListingParts, number};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "followupboss",
    recognize: |i| i.object().is_some_and(is_event),

    parse,
    verify,
};

/// An event by its content, whoever posts it and whatever it leaves out: a `person` with
/// Follow Up Boss's lists of `emails` or `phones`, or one beside the event's `type` and its
/// `source` or `system`.
fn is_event(m: &serde_json::Map<String, Value>) -> bool {
    let Some(person) = m.get("person").and_then(Value::as_object) else {
        return false;
    };
    let lists = ["emails", "phones"]
        .iter()
        .any(|k| person.get(*k).is_some_and(Value::is_array));
    let event = m.get("type").is_some_and(Value::is_string)
        && (m.contains_key("source") || m.contains_key("system"));
    lists || event
}

/// The user name of an `Authorization: Basic` header: where Follow Up Boss's clients put
/// the API key (the password is empty or ignored).
pub fn basic_user(incoming: &Incoming) -> Option<String> {
    crate::web::basic_credentials(incoming.header("authorization")?).map(|(user, _)| user)
}

/// The key as the Basic user name (Follow Up Boss's convention), or a token as any sender
/// may give one.
fn verify(incoming: &Incoming, key: &Key, now: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    match basic_user(incoming) {
        Some(user) => shared_secret(Some(&user), secret, "authorization"),
        None => crate::webhook::verify_token(incoming, key, now),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text_of)
}

/// The primary `value` of a list of `{value, isPrimary}` objects, else the first (or the
/// first of plain strings).
fn first_value(v: &Value, key: &str) -> Option<String> {
    let items = v.get(key)?.as_array()?;
    let primary = items.iter().find_map(|item| {
        let o = item.as_object()?;
        let marked = ["isPrimary", "primary", "is_primary"].iter().any(|k| {
            matches!(o.get(*k), Some(Value::Bool(true)))
                || matches!(o.get(*k), Some(Value::Number(n)) if n.as_i64() == Some(1))
        });
        marked.then(|| o.get("value").and_then(text_of)).flatten()
    });
    primary.or_else(|| {
        items.iter().find_map(|item| match item {
            Value::Object(o) => o.get("value").and_then(text_of),
            other => text_of(other),
        })
    })
}

fn property(p: &Value) -> ListingParts {
    ListingParts {
        street: text(p, "street"),
        city: text(p, "city"),
        state: text(p, "state"),
        postal_code: text(p, "code"),
        mls_number: text(p, "mlsNumber"),
        mls: None,
        price: number(p.get("price")),
        url: text(p, "url"),
        photo: None,
    }
}

fn search(s: &Value) -> Search {
    Search {
        url: text(s, "url"),
        title: text(s, "title").or_else(|| {
            let place = [text(s, "neighborhood"), text(s, "city"), text(s, "state")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            (!place.is_empty()).then(|| place.join(", "))
        }),
        minimum_bedrooms: number(s.get("minBedrooms")),
        maximum_bedrooms: number(s.get("maxBedrooms")),
        minimum_bathrooms: number(s.get("minBathrooms")),
        maximum_bathrooms: number(s.get("maxBathrooms")),
        minimum_price: number(s.get("minPrice")),
        maximum_price: number(s.get("maxPrice")),
        property_types: text(s, "type").into_iter().collect(),
        pool: None,
    }
}

/// What an event type becomes: a tag, and the timeline action when Rechat has one.
enum Kind {
    Capture {
        tag: &'static str,
    },
    Act(Action),
    Page,
    /// A type Inlet has no rule for: a capture tagged with the type as sent.
    Other,
}

fn kind(type_: &str) -> Result<Kind, IntakeError> {
    Ok(match type_.trim().to_ascii_lowercase().as_str() {
        "registration" => Kind::Act(Action::ContactSignedUp),
        "inquiry" | "general inquiry" => Kind::Capture {
            tag: "General Inquiry",
        },
        "property inquiry" => Kind::Capture {
            tag: "Property Inquiry",
        },
        "seller inquiry" => Kind::Capture { tag: "Seller" },
        "visited open house" => Kind::Capture { tag: "Open House" },
        "incoming call" => Kind::Capture {
            tag: "Incoming Call",
        },
        "viewed property" => Kind::Act(Action::ContactViewedListing),
        "saved property" => Kind::Act(Action::ContactFavoritedListing),
        "property search" => Kind::Act(Action::ContactSearchedListings),
        "saved property search" => Kind::Act(Action::ContactCreatedSearch),
        "visited website" | "viewed page" => Kind::Page,
        "unsubscribed" => {
            return Err(IntakeError::unprocessable(
                "not a lead: an Unsubscribed event".into(),
                Some("type"),
            ));
        }
        // A type Follow Up Boss adds later, or a tool's own: the person is still a lead,
        // tagged with what the event said it was.
        _ => Kind::Other,
    })
}

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let body = &incoming.decoded.value;
    let person = body
        .get("person")
        .filter(|p| p.is_object())
        .ok_or_else(|| {
            IntakeError::unprocessable(
                "a Follow Up Boss event needs a `person` object".into(),
                Some("person"),
            )
        })?;
    // An event without a type is an inquiry: the person reached out.
    let type_ = text(body, "type").unwrap_or_else(|| "Inquiry".into());
    let kind = kind(&type_)?;
    let listing = body.get("property").filter(|p| p.is_object()).map(property);

    let mut note: Vec<String> = [text(body, "message"), text(body, "description")]
        .into_iter()
        .flatten()
        .collect();
    if let Some(url) = listing.as_ref().and_then(|l| l.url.clone()) {
        note.push(format!("Listing: {url}"));
    }
    if let Some(page) = text(body, "pageUrl") {
        let title = text(body, "pageTitle")
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        note.push(format!("Page: {page}{title}"));
    }
    if let Some(c) = body.get("campaign").filter(|c| c.is_object()) {
        let parts: Vec<String> = ["source", "medium", "campaign", "term", "content"]
            .into_iter()
            .filter_map(|k| text(c, k).map(|v| format!("{k} {v}")))
            .collect();
        if !parts.is_empty() {
            note.push(format!("Campaign: {}", parts.join(", ")));
        }
    }

    let mut tags: Vec<String> = person
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(text_of)
        .collect();
    let mut activities = Vec::new();
    match &kind {
        Kind::Capture { tag } => tags.push((*tag).to_owned()),
        Kind::Act(action) => {
            let activity_listing = listing.as_ref().and_then(ListingParts::activity_listing);
            let search = body
                .get("propertySearch")
                .filter(|s| s.is_object())
                .map(search);
            // A Viewed Property without a property gives the timeline nothing to show: the
            // capture carries what there is.
            if let Ok(a) = Activity::new(*action, activity_listing, search, None) {
                activities.push(a);
            }
        }
        Kind::Page => {}
        Kind::Other => tags.push(type_.trim().to_owned()),
    }

    let assignee = text(body, "assignedTo")
        .or_else(|| text(person, "assignedTo"))
        .map(|name| {
            let (first_name, last_name) = crate::normalize::names(None, None, Some(&name));
            Assignee {
                first_name,
                last_name,
                ..Assignee::default()
            }
        });
    let raw = RawLead {
        first_name: text(person, "firstName"),
        last_name: text(person, "lastName"),
        full_name: text(person, "name"),
        email: first_value(person, "emails"),
        phone: first_value(person, "phones"),
        tags,
        lead_source: text(body, "source")
            .or_else(|| text(body, "system"))
            .or(Some("Follow Up Boss API".into())),
        note: (!note.is_empty()).then(|| note.join("\n\n")),
        referer_url: text(body, "pageUrl"),
        listing: listing.as_ref().and_then(ListingParts::listing),
        assignees: assignee.into_iter().collect(),
        ..RawLead::default()
    };
    Ok(vec![SenderEvent {
        // Follow Up Boss events carry no id of their own: the content is the dedupe key.
        event_id: None,
        action: EventAction::Capture {
            lead: raw,
            sender_lead_id: text(person, "id"),
            activities,
            test: false,
        },
    }])
}
