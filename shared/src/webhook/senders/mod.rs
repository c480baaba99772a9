//! One module per sender, tried in this order; the generic flat form reads anything left.

pub mod elementor;
pub mod fivestreet;
pub mod formstack;
pub mod generic;
pub mod google_ads;
pub mod gravity_forms;
pub mod hotpads;
pub mod jotform;
pub mod meta;
pub mod netlify;
pub mod real_geeks;
pub mod typeform;
pub mod unbounce;
pub mod webflow;
pub mod wufoo;

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
        other => other,
    };
    SENDERS.iter().find(|s| s.name == alias)
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
