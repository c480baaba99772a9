//! Yelp messaging (reply+…@messaging.yelp.com): a consumer's request for a quote or a message
//! to the business; the relay address is the only way back to them unless the body gives one.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Yelp",
    domains: &["yelp.com"],
    subjects: &["yelp"],
    phrases: &["yelp inc", "on yelp"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
