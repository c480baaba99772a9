//! Realtor.com's Lead Delivery API (Connections Plus): a lead posted as JSON with the key
//! configured in Realtor.com's dashboard in `X-API-Key` (`[senders.realtor] secret`).
//!
//! `{Lead: {lead_info: {lead_guid, lead_type, test, lead_consumer_info: {…},
//! lead_property_info: {…}, rdc_customer_info: {…}, lead_property_preferences_info: {…}}}}`;
//! the property, the preferences and the listing's agent are published both inside
//! `lead_info` and as its siblings under `Lead`, so each is looked for in both places (and a
//! body without the `Lead` wrapper is read the same way).
//!
//! The consumer becomes the lead, its role a tag; the Realtor.com customer it was sent to
//! (`rdc_customer_info`) its agent; recent and saved views and searches timeline activities.
//! Realtor.com does not check the consumer's email: one that is not an address is kept in the
//! note (normalization's rule) and the lead goes on by its phone or name.
//!
//! Built from the field list of Rechat's own Realtor.com receiver (rechat/server's types) and
//! the reconstructed Lead Delivery description; no captured request was available.

use crate::fields::text_of;
use crate::lead::{Action, Activity, Assignee, Search};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, shared_secret};
use crate::webhook::senders::{ListingParts, number};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "realtor",
    recognize: |i| lead_info(&i.decoded.value).is_some(),
    parse,
    verify,
};

fn verify(incoming: &Incoming, key: &Key, now: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    match incoming.header("x-api-key") {
        Some(key) => shared_secret(Some(key), secret, "x-api-key"),
        None => crate::webhook::verify_token(incoming, key, now),
    }
}

/// `Lead` (or the body itself) and its `lead_info`.
fn lead_info(body: &Value) -> Option<(&Value, &Value)> {
    let lead = body
        .get("Lead")
        .or_else(|| body.get("lead"))
        .unwrap_or(body);
    let info = lead.get("lead_info").filter(|i| i.is_object())?;
    info.get("lead_consumer_info")
        .or_else(|| lead.get("lead_consumer_info"))
        .filter(|c| c.is_object())?;
    Some((lead, info))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text_of)
}

/// A part published inside `lead_info` or beside it.
fn part<'a>(lead: &'a Value, info: &'a Value, key: &str) -> Option<&'a Value> {
    info.get(key)
        .or_else(|| lead.get(key))
        .filter(|v| v.is_object())
}

fn property(p: &Value) -> ListingParts {
    ListingParts {
        street: text(p, "property_street_address"),
        city: text(p, "property_city"),
        state: text(p, "property_state_code"),
        postal_code: text(p, "property_zip"),
        mls_number: text(p, "mls_id"),
        mls: text(p, "mls_abbreviation"),
        price: number(p.get("property_price")),
        url: text(p, "rdc_property_url"),
        photo: text(p, "photo_url").or_else(|| text(p, "primary_photo_url")),
    }
}

fn search(s: &Value) -> Search {
    let place: Vec<String> = ["city", "state_code", "postal_code"]
        .into_iter()
        .filter_map(|k| text(s, k))
        .collect();
    Search {
        url: None,
        title: (!place.is_empty()).then(|| place.join(", ")),
        minimum_bedrooms: number(s.get("beds_min")),
        maximum_bedrooms: number(s.get("beds_max")),
        minimum_bathrooms: number(s.get("baths_min")),
        maximum_bathrooms: number(s.get("baths_max")),
        minimum_price: number(s.get("price_min")),
        maximum_price: number(s.get("price_max")),
        property_types: text(s, "property_type").into_iter().collect(),
        pool: None,
    }
}

fn list<'a>(prefs: Option<&'a Value>, key: &str) -> impl Iterator<Item = &'a Value> {
    prefs
        .and_then(|p| p.get(key))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The consumer's browsing on Realtor.com, as Rechat timeline activities.
fn activities(prefs: Option<&Value>) -> Vec<Activity> {
    let views = list(prefs, "recent_views")
        .map(|v| (Action::ContactViewedListing, v))
        .chain(list(prefs, "saved_views").map(|v| (Action::ContactFavoritedListing, v)))
        .filter_map(|(action, v)| {
            Activity::new(action, property(v).activity_listing(), None, None).ok()
        });
    let searches = list(prefs, "recent_searches")
        .map(|s| (Action::ContactSearchedListings, s))
        .chain(list(prefs, "saved_searches").map(|s| (Action::ContactCreatedSearch, s)))
        .filter_map(|(action, s)| Activity::new(action, None, Some(search(s)), None).ok());
    views.chain(searches).collect()
}

fn agent(customer: &Value) -> Option<Assignee> {
    let (first_name, last_name) = crate::normalize::names(
        None,
        None,
        text(customer, "recipient_customer_name").as_deref(),
    );
    let a = Assignee {
        email: text(customer, "recipient_customer_email"),
        first_name,
        last_name,
        ..Assignee::default()
    };
    (!crate::lead::IsEmpty::is_empty(&a)).then_some(a)
}

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let (lead, info) = lead_info(&incoming.decoded.value).ok_or_else(|| {
        IntakeError::unprocessable(
            "a Realtor.com lead needs Lead.lead_info.lead_consumer_info".into(),
            Some("Lead.lead_info"),
        )
    })?;
    let consumer = part(lead, info, "lead_consumer_info").unwrap_or(&Value::Null);
    let listing = part(lead, info, "lead_property_info").map(property);
    let prefs = part(lead, info, "lead_property_preferences_info");
    let id = text(info, "lead_guid").or_else(|| text(info, "inquiry_guid"));

    let mut note: Vec<String> = text(consumer, "message").into_iter().collect();
    let details: Vec<String> = [
        ("Lead type", text(info, "lead_type")),
        ("Timeframe", text(consumer, "timeframe")),
        ("Move-in date", text(consumer, "move_in_date")),
        ("Credit score", text(consumer, "credit_score")),
        ("Veteran", text(consumer, "is_veteran")),
        ("Wants financing", text(consumer, "finance_info")),
        ("Listing", listing.as_ref().and_then(|l| l.url.clone())),
    ]
    .into_iter()
    .filter_map(|(label, v)| v.map(|v| format!("{label}: {v}")))
    .collect();
    if !details.is_empty() {
        note.push(details.join("\n"));
    }
    let mut tags: Vec<String> = text(consumer, "role")
        .map(|r| capitalized(&r))
        .into_iter()
        .collect();
    if let Some(paid) = text(info, "paid_type") {
        tags.push(format!("Realtor.com {paid}"));
    }
    let raw = RawLead {
        first_name: text(consumer, "first_name"),
        last_name: text(consumer, "last_name"),
        full_name: text(consumer, "full_name"),
        email: text(consumer, "email"),
        phone: text(consumer, "phone"),
        tags,
        lead_source: Some("Realtor.com".into()),
        note: (!note.is_empty()).then(|| note.join("\n\n")),
        listing: listing.as_ref().and_then(ListingParts::listing),
        assignees: part(lead, info, "rdc_customer_info")
            .and_then(agent)
            .into_iter()
            .collect(),
        ..RawLead::default()
    };
    let test = info.get("test").is_some_and(|t| {
        t.as_bool() == Some(true) || t.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
    });
    Ok(vec![SenderEvent {
        event_id: id.clone(),
        action: EventAction::Capture {
            lead: raw,
            sender_lead_id: id,
            activities: activities(prefs),
            test,
        },
    }])
}

fn capitalized(s: &str) -> String {
    let mut chars = s.trim().chars();
    match chars.next() {
        Some(c) => c
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}
