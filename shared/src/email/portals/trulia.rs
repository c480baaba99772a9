//! Trulia (Zillow Group): "New Trulia lead" / "… is interested in …" notifications to
//! agents, the same Zillow Group template family as Zillow's ("Name says:", contact lines,
//! the listing card). No public raw sample was found: built from the published format
//! descriptions (research/email-leads.md) and the Zillow Group samples it shares layout with.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Trulia",
    domains: &["trulia.com"],
    subjects: &["trulia"],
    phrases: &["trulia, llc", "trulia lead"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    generic(r, true)
}
