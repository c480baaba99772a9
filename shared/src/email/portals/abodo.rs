//! ABODO (abodoleads+…@abodoapts.com): renter inquiries with labelled fields and a message,
//! sent through Mandrill; the From relay is ABODO's, the renter is in the body.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "ABODO",
    domains: &["abodoapts.com", "abodo.com"],
    subjects: &["abodo"],
    phrases: &["abodo"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
