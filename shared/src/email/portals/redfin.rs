//! Redfin: partner-agent referrals and "New Redfin lead" mails with labelled contact fields
//! and the home's address. No public raw sample was found: built from the published format
//! description; the generic label reader carries it.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Redfin",
    domains: &["redfin.com"],
    subjects: &["redfin"],
    phrases: &["redfin lead", "redfin partner", "redfin corporation"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
