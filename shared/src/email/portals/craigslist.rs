//! Craigslist replies: a reply to an ad through the anonymizing relay
//! (…@hous.craigslist.org / reply.craigslist.org); the prospect is the relay's display
//! name, their words the body. No public raw sample was found: built from the published
//! description of the relay.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Craigslist",
    domains: &["craigslist.org"],
    subjects: &["craigslist"],
    phrases: &["craigslist"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
