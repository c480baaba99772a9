//! Real Geeks Lead Router outgoing webhooks. `X-Lead-Router-Action` says what happened:
//! `created` (and `potential_seller`) is a capture with its activities, `updated` a
//! reassignment to the lead's agent, `activity_added` timeline activities; all for the lead
//! Real Geeks knows by `id`. `X-Lead-Router-Signature` is a hex HMAC-SHA256 of the body.
//! Built from developers.realgeeks.com's outgoing-leads description.

use crate::fields::{price, text_of};
use crate::lead::{
    Action, Activity, ActivityListing, ActivityProperty, Assignee, Search, StreetAddress,
};
use crate::normalize::RawLead;
use crate::web::IntakeError;
use crate::web::signature::{SignatureError, hex_body};
use crate::webhook::{EventAction, Incoming, Key, Sender, SenderEvent, SenderSettings};
use serde_json::Value;

pub const SENDER: Sender = Sender {
    name: "real-geeks",
    recognize: |i| {
        i.header("x-lead-router-action").is_some()
            || super::has_keys(i, &["site_uuid", "partner_id"])
    },
    parse,
    verify,
};

fn verify(incoming: &Incoming, key: &Key, _: i64) -> Result<(), SignatureError> {
    let secret = key.secret;
    hex_body(
        "X-Lead-Router-Signature",
        incoming.header("x-lead-router-signature"),
        "",
        secret.as_bytes(),
        incoming.raw,
    )
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text_of)
}

fn agent(lead: &Value) -> Option<Assignee> {
    let (first_name, last_name) =
        crate::normalize::names(None, None, text(lead, "agent_name").as_deref());
    let a = Assignee {
        email: text(lead, "agent_email"),
        phone_number: text(lead, "agent_phone"),
        first_name,
        last_name,
        ..Assignee::default()
    };
    (!crate::lead::IsEmpty::is_empty(&a)).then_some(a)
}

/// A Real Geeks activity as a Rechat timeline activity, when Rechat has one like it.
pub fn activity(a: &Value) -> Option<Activity> {
    let kind = text(a, "type")?.to_ascii_lowercase();
    let action = match kind.as_str() {
        "property_viewed" | "viewed_property" => Action::ContactViewedListing,
        "property_favorited" | "favorited_property" | "saved_property" => {
            Action::ContactFavoritedListing
        }
        "property_unfavorited" | "unfavorited_property" => Action::ContactRemovedFavoriteListing,
        "property_shared" | "shared_property" => Action::ContactSharedListing,
        "property_valuation" | "home_valuation" => Action::ContactValuedListing,
        "search_performed" => Action::ContactSearchedListings,
        "saved_search_added" => Action::ContactCreatedSearch,
        "saved_search_removed" => Action::ContactRemovedSearch,
        "registered" | "signed_up" | "signup" => Action::ContactSignedUp,
        "logged_in" | "login" => Action::ContactLoggedIn,
        _ => return None,
    };
    let property = a.get("property");
    let listing = property.map(|p| ActivityListing {
        url: text(p, "url"),
        mls_number: text(p, "mls")
            .or_else(|| text(p, "mls_number"))
            .or_else(|| text(p, "listing_id")),
        mls: None,
        cover_image_url: text(p, "photo").or_else(|| text(p, "image_url")),
        price: text(p, "price").as_deref().and_then(price),
        property: text(p, "full_address")
            .or_else(|| text(p, "street_address"))
            .or_else(|| text(p, "address"))
            .map(|s| ActivityProperty {
                address: Some(StreetAddress {
                    street_address: Some(s),
                }),
            }),
    });
    let search = Some(Search {
        url: text(a, "url"),
        title: text(a, "description"),
        ..Search::default()
    });
    Activity::new(action, listing, search, text(a, "description")).ok()
}

fn activities(lead: &Value) -> Vec<Activity> {
    lead.get("activities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(activity)
        .collect()
}

fn parse(incoming: &Incoming, _: &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError> {
    let lead = &incoming.decoded.value;
    let action = incoming
        .header("x-lead-router-action")
        .unwrap_or("created")
        .trim()
        .to_ascii_lowercase();
    let id = text(lead, "id").ok_or_else(|| {
        IntakeError::unprocessable("the Real Geeks lead has no id".into(), Some("id"))
    })?;
    let stamp = incoming
        .header("x-lead-router-timestamp")
        .map(str::to_owned)
        .unwrap_or_default();
    match action.as_str() {
        "created" | "potential_seller" => {
            let mut tags: Vec<String> = text(lead, "role").into_iter().collect();
            if action == "potential_seller" {
                tags.push("Potential Seller".into());
            }
            let raw = RawLead {
                first_name: text(lead, "first_name"),
                last_name: text(lead, "last_name"),
                email: text(lead, "email"),
                phone: text(lead, "phone"),
                tags,
                lead_source: text(lead, "source").or(Some("Real Geeks".into())),
                note: text(lead, "notes").or_else(|| text(lead, "message")),
                assignees: agent(lead).into_iter().collect(),
                ..RawLead::default()
            };
            Ok(vec![SenderEvent {
                event_id: Some(format!("{action}:{id}")),
                action: EventAction::Capture {
                    lead: raw,
                    sender_lead_id: Some(id),
                    activities: activities(lead),
                    test: false,
                },
            }])
        }
        "updated" => {
            let agent = agent(lead).ok_or_else(|| {
                IntakeError::unprocessable(
                    "an updated lead with no agent gives Rechat nothing to change".into(),
                    Some("agent_email"),
                )
            })?;
            Ok(vec![SenderEvent {
                event_id: Some(format!(
                    "updated:{id}:{stamp}:{}",
                    agent.email.clone().unwrap_or_default()
                )),
                action: EventAction::Reassign {
                    sender_lead_id: id,
                    assignees: vec![agent],
                    lead: None,
                },
            }])
        }
        "activity_added" => {
            let events: Vec<SenderEvent> = activities(lead)
                .into_iter()
                .enumerate()
                .map(|(i, activity)| SenderEvent {
                    event_id: Some(format!("activity:{id}:{stamp}:{i}")),
                    action: EventAction::Activity {
                        sender_lead_id: id.clone(),
                        activity,
                    },
                })
                .collect();
            if events.is_empty() {
                return Err(IntakeError::unprocessable(
                    "none of the activities is one Rechat records".into(),
                    Some("activities"),
                ));
            }
            Ok(events)
        }
        other => Err(IntakeError::unprocessable(
            format!("Real Geeks action {other:?} is not one Inlet reads"),
            None,
        )),
    }
}
