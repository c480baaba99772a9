//! Website-form notifications: Wufoo ("New entry" tables) and the common "New form
//! submission" table layouts of site builders and WordPress plugins. The generic reader
//! handles their tables; this module only names the source when nothing better does.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Wufoo",
    domains: &["wufoo.com"],
    subjects: &[
        "wufoo",
        "new form submission",
        "new submission from",
        "new entry:",
    ],
    phrases: &["wufoo"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    // Not a portal: no street guessed from free text.
    let mut raw = generic(r, false);
    let wufoo = PORTAL.evidence(r) == Some(Evidence::Sender) || r.lower_text.contains("wufoo");
    if raw.lead_source.is_none() && !wufoo {
        raw.lead_source = Some("Website form".into());
    }
    raw
}
