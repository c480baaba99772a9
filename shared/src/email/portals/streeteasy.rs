//! StreetEasy (Zillow Group, NYC): "Listing Inquiry From …" mails, old (2018–19) and current
//! templates. The inquirer as `Name <address>` (or a `mailto:` link), the listing's street
//! address under its own label, then the inquirer's words up to a `-----` rule.

use super::generic::generic;
use super::{Evidence, Portal, add_message, lines_between};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "StreetEasy",
    domains: &["streeteasy.com"],
    subjects: &["streeteasy"],
    phrases: &["streeteasy listing", "on streeteasy", "©streeteasy"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, true);
    let lines = r.lines();
    // The message follows the address line that comes after the "street address:" label.
    if let Some(after) = lines_between(
        &lines,
        |l| l.to_lowercase().ends_with("street address:"),
        |l| l.starts_with("-----"),
    ) {
        let words: Vec<&str> = after
            .iter()
            .skip(1)
            .copied()
            .filter(|l| !l.is_empty())
            .collect();
        add_message(&mut raw, &words.join(" "));
    }
    raw
}
