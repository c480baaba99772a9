//! Homes.com: "New lead from Homes.com" with labelled Name/Email/Phone/Comments and the
//! listing's address and MLS number. No public raw sample was found: built from the published
//! description of its labelled layout; the generic label reader carries it.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Homes.com",
    domains: &["homes.com"],
    subjects: &["homes.com"],
    phrases: &["homes.com lead", "from homes.com"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
