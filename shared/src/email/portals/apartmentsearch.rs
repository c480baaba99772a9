//! ApartmentSearch (Rent Group network): guest cards with labelled fields. No public raw
//! sample was found: built from the published description of the Rent Group guest card.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "ApartmentSearch",
    domains: &["apartmentsearch.com"],
    subjects: &["apartmentsearch"],
    phrases: &["apartmentsearch.com"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
