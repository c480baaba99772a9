//! One module per sender, tried in this order; the generic flat form reads anything left.

pub mod elementor;
pub mod fivestreet;
pub mod followupboss;
pub mod formstack;
pub mod generic;
pub mod google_ads;
pub mod gravity_forms;
pub mod hotpads;
pub mod hubspot;
pub mod jotform;
pub mod lts;
pub mod meta;
pub mod netlify;
pub mod real_geeks;
pub mod realtor;
pub mod typeform;
pub mod unbounce;
pub mod webflow;
pub mod wufoo;
pub mod zillow;

use super::{Incoming, Sender};

/// Specific senders first; `generic` recognizes everything, so it comes last.
pub const SENDERS: &[Sender] = &[
    meta::SENDER,
    google_ads::SENDER,
    typeform::SENDER,
    jotform::SENDER,
    unbounce::SENDER,
    webflow::SENDER,
    real_geeks::SENDER,
    fivestreet::SENDER,
    followupboss::SENDER,
    zillow::SENDER,
    realtor::SENDER,
    lts::SENDER,
    hubspot::SENDER,
    hotpads::SENDER,
    wufoo::SENDER,
    netlify::SENDER,
    formstack::SENDER,
    gravity_forms::SENDER,
    elementor::SENDER,
    generic::SENDER,
];

pub fn by_name(name: &str) -> Option<&'static Sender> {
    let wanted = name.trim().to_ascii_lowercase();
    let alias = match wanted.as_str() {
        "zapier" | "make" | "n8n" | "form" | "website" => "generic",
        "facebook" | "instagram" | "meta-leads" => "meta",
        "google" | "googleads" => "google-ads",
        "gravityforms" | "gravity" => "gravity-forms",
        "realgeeks" => "real-geeks",
        "zillow-rentals" => "hotpads",
        "zillow-tech-connect" | "techconnect" | "zillow-premier-agent" => "zillow",
        "hub-spot" | "hubspot-forms" | "hubspot-workflow" => "hubspot",
        "ihomefinder" | "lead-transmission-standard" | "xml" => "lts",
        "realtor.com" | "realtor-com" | "realtordotcom" | "rdc" => "realtor",
        "fub" | "follow-up-boss" | "follow_up_boss" => "followupboss",
        other => other,
    };
    SENDERS.iter().find(|s| s.name == alias)
}

/// The body fields in which senders carry their credentials (each module names its own):
/// never stored with a request kept for a replay, whichever sender it was taken for. Headers
/// and the query are kept without credentials for every sender (`StoredWebhook::of`).
pub fn body_credentials() -> Vec<&'static str> {
    [
        google_ads::CREDENTIAL_FIELDS,
        wufoo::CREDENTIAL_FIELDS,
        formstack::CREDENTIAL_FIELDS,
    ]
    .concat()
}

/// The names the generic module answers to that say which automation sent the lead: a lead
/// is recorded under the one its URL or the routing file (`[senders.zapier]`) gave, so that
/// `inlet leads --sender zapier` finds it.
const AUTOMATIONS: &[&str] = &["zapier", "make", "n8n"];

/// The name a lead from `module` is recorded under: the automation named in the URL, else
/// the one the routing file configured the module as, else the module's own.
pub fn recorded_name(
    module: &'static str,
    named: Option<&str>,
    configured_as: Option<&str>,
) -> &'static str {
    let wanted = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        AUTOMATIONS.iter().copied().find(|a| *a == name)
    };
    if module != "generic" {
        return module;
    }
    named
        .and_then(wanted)
        .or_else(|| configured_as.and_then(wanted))
        .unwrap_or(module)
}

pub fn recognize(incoming: &Incoming) -> &'static Sender {
    SENDERS
        .iter()
        .find(|s| (s.recognize)(incoming))
        .unwrap_or(&SENDERS[SENDERS.len() - 1])
}

/// Whether the body is an object with all these keys.
pub(crate) fn has_keys(incoming: &Incoming, keys: &[&str]) -> bool {
    incoming
        .object()
        .is_some_and(|m| keys.iter().all(|k| m.contains_key(*k)))
}

/// A listing as portals send it, in parts: what the lead asked about, for the capture's
/// listing and for timeline activities alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ListingParts {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub mls_number: Option<String>,
    pub mls: Option<String>,
    pub price: Option<f64>,
    pub url: Option<String>,
    pub photo: Option<String>,
}

impl ListingParts {
    /// The one-line address (`12 Elm St, Dallas, TX 75201`), from the parts given.
    pub fn full_address(&self) -> Option<String> {
        let state_zip = [self.state.as_deref(), self.postal_code.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let parts: Vec<&str> = [self.street.as_deref(), self.city.as_deref()]
            .into_iter()
            .flatten()
            .chain((!state_zip.is_empty()).then_some(state_zip.as_str()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// The capture's listing, when anything of it was given.
    pub fn listing(&self) -> Option<crate::lead::Listing> {
        use crate::lead::{Address, IsEmpty, Listing, Property};
        let address = Address {
            street_address: self.street.clone(),
            city: self.city.clone(),
            state_code: self.state.clone(),
            postal_code: self.postal_code.clone(),
            full_address: self.full_address(),
            ..Address::default()
        };
        let listing = Listing {
            price: self.price,
            mls_number: self.mls_number.clone(),
            cover_image_url: self.photo.clone(),
            property: (!address.is_empty()).then_some(Property {
                address: Some(address),
            }),
        };
        (!listing.is_empty()).then_some(listing)
    }

    /// The listing of a timeline activity.
    pub fn activity_listing(&self) -> Option<crate::lead::ActivityListing> {
        use crate::lead::{ActivityListing, ActivityProperty, IsEmpty, StreetAddress};
        let listing = ActivityListing {
            url: self.url.clone(),
            mls_number: self.mls_number.clone(),
            mls: self.mls.clone(),
            cover_image_url: self.photo.clone(),
            price: self.price,
            property: self.full_address().map(|s| ActivityProperty {
                address: Some(StreetAddress {
                    street_address: Some(s),
                }),
            }),
        };
        (!listing.is_empty()).then_some(listing)
    }
}

/// A number given as a JSON number or as text (`"3"`, `"$450,000"`).
pub(crate) fn number(v: Option<&serde_json::Value>) -> Option<f64> {
    let v = v?;
    v.as_f64()
        .or_else(|| {
            crate::fields::text_of(v)
                .as_deref()
                .and_then(crate::fields::price)
        })
        .filter(|n| n.is_finite() && *n > 0.0)
}
