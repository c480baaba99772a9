//! Zillow: Premier Agent buyer and seller contacts ("Name says:" with contact lines and the
//! listing card) and Zillow Rentals / Rental Manager inquiries ("New message about
//! ADDRESS", "Name asked:", a renter profile, and SMS/Call buttons whose links carry the
//! renter's name and phone). Rentals mail reaches landlords from zillowrentals.com or as a
//! Zapier-flattened copy with no headers at all.

use super::generic::generic;
use super::{Evidence, Portal, put_street, query_param, street_of};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Zillow",
    domains: &["zillow.com", "zillowrentals.com", "zillowgroup.com"],
    subjects: &["zillow"],
    phrases: &[
        "zillow, inc",
        "zillow rental manager",
        "zillow group",
        "zillow premier agent",
    ],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, true);
    for line in r.lines() {
        if let Some(address) = line.strip_prefix("New message about ") {
            put_street(&mut raw, street_of(address));
            break;
        }
    }
    // Rental Manager's contact buttons: `inquiry-contact?…&name=…&phone=…`.
    for link in r.links() {
        if !link.contains("inquiry-contact") {
            continue;
        }
        if raw.phone.is_none() {
            raw.phone = query_param(link, "phone");
        }
        if raw.full_name.is_none() && raw.first_name.is_none() {
            raw.full_name = query_param(link, "name");
        }
    }
    raw
}
