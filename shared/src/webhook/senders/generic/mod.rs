//! Zapier, Make, n8n, any flat form, and every sender nobody wrote a module for (chat
//! widgets, call trackers, SMS numbers, funnel builders, form services, CRMs): the person
//! found wherever the sender put them (`tree`), every key through the alias table, a
//! conversation read for the prospect's own words (`conversation`). A JSON body may be one
//! lead, an array of them, or an object with a list of them (`leads`, `contacts`, …).

mod conversation;
mod tree;

use crate::fields::Meaning;
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
    "MessageSid",
    "SmsMessageSid",
    "CallSid",
    "message_id",
    "messageId",
    "call_id",
    "callId",
    "webhook_id",
];

/// Headers senders put their event's id in (retries keep it).
const ID_HEADERS: &[&str] = &[
    "x-hook-event-id",
    "x-event-id",
    "x-webhook-id",
    "idempotency-key",
];

fn event_id(map: &serde_json::Map<String, Value>) -> Option<String> {
    ID_KEYS
        .iter()
        .find_map(|k| map.get(*k))
        .and_then(crate::fields::text_of)
}

/// Keys of a list of leads in one body.
const LIST_KEYS: &[&str] = &[
    "leads",
    "data",
    "contacts",
    "people",
    "persons",
    "records",
    "entries",
    "submissions",
    "results",
];

/// An object that is a person of its own (a name, an email or a phone among its keys), not
/// a field of a form (`{label, value}`) or a message.
fn person_like(map: &serde_json::Map<String, Value>) -> bool {
    map.iter().any(|(k, v)| {
        !(v.is_object() || v.is_array())
            && matches!(
                crate::fields::meaning_of(&crate::fields::canonical(k)),
                Meaning::Email
                    | Meaning::Phone
                    | Meaning::FullName
                    | Meaning::FirstName
                    | Meaning::LastName
            )
            && !matches!(crate::fields::canonical(k).as_str(), "name" | "title")
    }) || map.iter().any(|(k, v)| {
        v.is_string()
            && matches!(
                crate::fields::meaning_of(&crate::fields::canonical(k)),
                Meaning::Email | Meaning::Phone
            )
    })
}

/// The leads a body holds: each of an array, each of a list under a key such as `leads`
/// when its items are people, else the whole body as one (wherever the person sits in it).
fn leads_in(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().filter(|v| v.is_object()).collect(),
        Value::Object(map) => {
            for key in LIST_KEYS {
                if let Some(Value::Array(items)) = map.get(*key)
                    && !items.is_empty()
                    && items.iter().all(|v| v.as_object().is_some_and(person_like))
                {
                    return items.iter().collect();
                }
            }
            vec![value]
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

/// What the person's own words say that no field did: their number or address written in a
/// chat line or a text, their name where they introduce themselves ("This is Dana
/// Whitfield"); and the order of a caller-ID name in capitals ("MORALES ISABEL"), which the
/// caller's own words settle ("this is Isabel").
fn from_words(lead: &mut crate::normalize::RawLead, words: &[String]) {
    use crate::fields::prose;
    let said = words.join("\n");
    if said.trim().is_empty() {
        return;
    }
    if lead.phone.is_none() {
        lead.phone = prose::phone_in(&said);
    }
    if lead.email.is_none() {
        lead.email = prose::email_in(&said);
    }
    let named = lead.first_name.is_some() || lead.last_name.is_some() || lead.full_name.is_some();
    if !named && let Some((name, _)) = prose::greeting_name(&said) {
        lead.full_name = Some(name);
    }
    if let Some(full) = lead.full_name.as_deref()
        && lead.first_name.is_none()
        && lead.last_name.is_none()
        && let [surname, given] = full.split_whitespace().collect::<Vec<_>>()[..]
        && full
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(char::is_uppercase)
    {
        let lower = said.to_lowercase();
        let given_lower = given.to_lowercase();
        let introduces = ["this is ", "my name is ", "it's ", "i'm "]
            .iter()
            .any(|m| lower.contains(&format!("{m}{given_lower}")));
        let surname_introduced = ["this is ", "my name is ", "it's ", "i'm "]
            .iter()
            .any(|m| lower.contains(&format!("{m}{}", surname.to_lowercase())));
        if introduces && !surname_introduced {
            lead.full_name = Some(format!("{given} {surname}"));
        }
    }
}

pub fn parse(
    incoming: &Incoming,
    settings: &SenderSettings,
) -> Result<Vec<SenderEvent>, IntakeError> {
    let body = &incoming.decoded.value;
    if let Some(status) = tree::delivery_report(body) {
        return Err(IntakeError::unprocessable(
            format!("not a lead: a delivery report ({status}) of a message the brokerage sent"),
            None,
        ));
    }
    if tree::text_message(body).is_some_and(conversation::is_opt_out) {
        return Err(IntakeError::unprocessable(
            "not a lead: a text asking to stop messages (an opt-out)".into(),
            None,
        ));
    }
    let leads = leads_in(body);
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
    let header_id = ID_HEADERS
        .iter()
        .find_map(|h| incoming.header(h))
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty());
    let whole = leads.len() == 1 && std::ptr::eq(leads[0], body);
    let test = tree::says_test(body);
    Ok(leads
        .into_iter()
        .map(|lead_value| {
            let tree::Reading { mut reader, words } = tree::read(lead_value, &settings.rules);
            if !incoming.decoded.files.is_empty() {
                reader.with_meaning(
                    "Files",
                    crate::fields::Meaning::Unknown,
                    &Value::String(incoming.decoded.files.join(", ")),
                );
            }
            let mut lead = reader.finish();
            from_words(&mut lead, &words);
            let map = lead_value.as_object();
            let activities: Vec<Activity> =
                map.and_then(|m| activity(m, &lead)).into_iter().collect();
            let own_id = map.and_then(event_id);
            SenderEvent {
                event_id: own_id.or_else(|| whole.then(|| header_id.clone()).flatten()),
                action: EventAction::Capture {
                    lead,
                    sender_lead_id: None,
                    activities,
                    test: test
                        || lead_value
                            .as_object()
                            .is_some_and(|_| tree::says_test(lead_value)),
                },
            }
        })
        .collect())
}
