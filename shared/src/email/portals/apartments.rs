//! Apartments.com Network (lead@apartments.com): "True Lead" mails with the renter's
//! Name/Phone/Email, preferences and the property's numbered address lines.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Apartments.com",
    domains: &[
        "apartments.com",
        "apartmentfinder.com",
        "apartmenthomeliving.com",
    ],
    subjects: &["apartments.com"],
    phrases: &["apartments.com network"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
