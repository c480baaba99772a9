//! RentBits: rental inquiries forwarded with labelled contact fields. No public raw sample was
//! found: built from the published format description; the generic label reader carries it.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "RentBits",
    domains: &["rentbits.com"],
    subjects: &["rentbits"],
    phrases: &["rentbits"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
