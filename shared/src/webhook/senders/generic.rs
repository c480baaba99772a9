//! Zapier, Make, n8n and any flat form: every key through the alias table. A JSON body may
//! be one lead object, an array of them, or an object with a `data`/`lead`/`leads` field.

use crate::fields::Meaning;
use crate::fields::read_object;
use crate::lead::{Action, Activity, ActivityListing, ActivityProperty, Search, StreetAddress};
use crate::web::IntakeError;
use crate::webhook::{EventAction, Incoming, Sender, SenderEvent, SenderSettings, verify_token};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "generic",
    recognize: |_| true,
    parse,
    verify: verify_token,
};

const ID_KEYS: &[&str] = &[
    "event_id",
    "eventId",
    "lead_id",
    "leadId",
    "submission_id",
    "submissionId",
    "id",
    "_id",
    "uuid",
];

fn event_id(map: &serde_json::Map<String, Value>) -> Option<String> {
    ID_KEYS
        .iter()
        .find_map(|k| map.get(*k))
        .and_then(crate::fields::text_of)
}

fn leads_in(value: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match value {
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        Value::Object(map) => {
            for key in ["leads", "data", "lead", "contact", "submission"] {
                match map.get(key) {
                    Some(Value::Object(inner)) => return vec![inner],
                    Some(Value::Array(items))
                        if items.iter().all(Value::is_object) && !items.is_empty() =>
                    {
                        return items.iter().filter_map(Value::as_object).collect();
                    }
                    _ => {}
                }
            }
            vec![map]
        }
        _ => Vec::new(),
    }
}

/// Most leads one request may carry.
pub const MAX_LEADS: usize = 100;

/// A Rechat action from a flat payload's `action` / `activity` / `event` field: Rechat's
/// own names, or the usual words for them.
pub fn action_of(text: &str) -> Option<Action> {
    if let Some(a) = Action::from_name(text.trim()) {
        return Some(a);
    }
    let key = crate::fields::canonical(text);
    Some(match key.as_str() {
        "viewedlisting" | "propertyviewed" | "viewedproperty" | "listingviewed" | "view" => {
            Action::ContactViewedListing
        }
        "sharedlisting" | "propertyshared" | "sharedproperty" | "share" => {
            Action::ContactSharedListing
        }
        "favoritedlisting" | "savedlisting" | "propertysaved" | "savedproperty" | "favorite"
        | "save" => Action::ContactFavoritedListing,
        "unfavoritedlisting" | "removedfavorite" | "unsavedproperty" => {
            Action::ContactRemovedFavoriteListing
        }
        "valuedlisting" | "homevaluation" | "valuation" => Action::ContactValuedListing,
        "createdsearch" | "savedsearch" | "savedsearchadded" => Action::ContactCreatedSearch,
        "removedsearch" | "savedsearchremoved" => Action::ContactRemovedSearch,
        "searchedlistings" | "searchperformed" | "search" => Action::ContactSearchedListings,
        "signedup" | "signup" | "registered" | "registration" => Action::ContactSignedUp,
        "loggedin" | "login" => Action::ContactLoggedIn,
        _ => return None,
    })
}

/// The activity a flat payload describes, built from its listing or search fields.
fn activity(
    map: &serde_json::Map<String, Value>,
    lead: &crate::normalize::RawLead,
) -> Option<Activity> {
    let named = ["action", "activity", "event", "event_type"]
        .iter()
        .find_map(|k| map.get(*k).and_then(crate::fields::text_of))?;
    let action = action_of(&named)?;
    let listing = lead.listing.as_ref();
    let url = map
        .iter()
        .find(|(k, _)| {
            matches!(
                crate::fields::meaning_of(&crate::fields::canonical(k)),
                Meaning::ListingUrl | Meaning::PageUrl
            )
        })
        .and_then(|(_, v)| crate::fields::text_of(v));
    let street = listing
        .and_then(|l| l.property.as_ref())
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.street_address.clone().or(a.full_address.clone()));
    let activity_listing = ActivityListing {
        url: url.clone(),
        mls_number: listing.and_then(|l| l.mls_number.clone()),
        price: listing.and_then(|l| l.price),
        cover_image_url: listing.and_then(|l| l.cover_image_url.clone()),
        property: street.map(|s| ActivityProperty {
            address: Some(StreetAddress {
                street_address: Some(s),
            }),
        }),
        ..ActivityListing::default()
    };
    let search = Search {
        url,
        title: map
            .get("search")
            .or_else(|| map.get("search_title"))
            .and_then(crate::fields::text_of),
        ..Search::default()
    };
    Activity::new(action, Some(activity_listing), Some(search), None).ok()
}

pub fn parse(
    incoming: &Incoming,
    settings: &SenderSettings,
) -> Result<Vec<SenderEvent>, IntakeError> {
    let leads = leads_in(&incoming.decoded.value);
    if leads.len() > MAX_LEADS {
        return Err(IntakeError::unprocessable(
            format!("more than {MAX_LEADS} leads in one request"),
            None,
        ));
    }
    if leads.is_empty() {
        return Err(IntakeError::unprocessable(
            "the body is not a lead object or a list of them".into(),
            None,
        ));
    }
    Ok(leads
        .into_iter()
        .map(|map| {
            let mut reader = read_object(map, &settings.rules);
            if !incoming.decoded.files.is_empty() {
                reader.with_meaning(
                    "Files",
                    crate::fields::Meaning::Unknown,
                    &Value::String(incoming.decoded.files.join(", ")),
                );
            }
            let lead = reader.finish();
            let activities: Vec<Activity> = activity(map, &lead).into_iter().collect();
            SenderEvent {
                event_id: event_id(map),
                action: EventAction::Capture {
                    lead,
                    sender_lead_id: None,
                    activities,
                    test: false,
                },
            }
        })
        .collect())
}
