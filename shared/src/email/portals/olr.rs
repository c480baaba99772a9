//! OLR (OnLine Residential, NYC): co-broker and client inquiries on a listing, labelled
//! fields. No public raw sample was found: built from the published format description.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "OLR",
    domains: &["olr.com"],
    subjects: &["olr.com"],
    phrases: &["olr.com"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
