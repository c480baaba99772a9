//! Apartment List (interests@apartmentlist.com): renter interest cards, name and contact
//! lines, move-in date and budget; replies go through renter.apartmentlist.com relays.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Apartment List",
    domains: &["apartmentlist.com"],
    subjects: &["apartment list"],
    phrases: &["apartment list"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
