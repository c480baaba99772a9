//! ForRent.com guest cards (guestcards@forrent.com): `[Label]  value` lines, the comments
//! running over several lines, and the property as "Name / street, city" above them; the
//! renter's address is in Reply-To.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "ForRent",
    domains: &["forrent.com"],
    subjects: &["forrent"],
    phrases: &["forrent.com guestcard", "forrent.com"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
