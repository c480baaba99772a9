//! HotPads (Zillow Group rentals): "New message about …" inquiries with "Name asked:" and a
//! renter profile, as Zillow Rentals sends them. Built from the Zillow Rentals layout it shares.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "HotPads",
    domains: &["hotpads.com"],
    subjects: &["hotpads"],
    phrases: &["hotpads, inc", "on hotpads"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
