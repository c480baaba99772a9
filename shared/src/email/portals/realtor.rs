//! Realtor.com: buyer and seller leads ("New realtor.com lead - Name"), rental leads, and
//! courtesy leads (MLS-benefit leads: "Courtesy Lead", the consumer's quoted default
//! message "I'm interested in ADDRESS", `Name` beside the value, bare phone and email lines,
//! "MLS ID #…" under Property Details). Realtor.com's pro-app footer and care-line number
//! are the portal's, never the lead's.

use super::generic::generic;
use super::{Evidence, Portal, add_message};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Realtor.com",
    domains: &["realtor.com", "move.com"],
    subjects: &["realtor.com"],
    phrases: &[
        "new lead from realtor.com",
        "realtor.com®",
        "realtor.com(r)",
    ],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, true);
    for line in r.lines() {
        let quoted = line.len() > 2
            && (line.starts_with('"') || line.starts_with('“'))
            && (line.ends_with('"') || line.ends_with('”'));
        if quoted && raw.note.is_none() {
            add_message(&mut raw, line);
        }
        // "Name Ana Silva": label and value in one line, a cell apart.
        if let Some(name) = line.strip_prefix("Name ")
            && raw.full_name.is_none()
            && raw.first_name.is_none()
            && name.split_whitespace().count() <= 5
        {
            raw.full_name = Some(name.trim().to_owned());
        }
        // "MLS ID #123", "MLS #: 123", "MLS ID  #123" (not the agent's "Agent MLS ID").
        if let Some(rest) = line.strip_prefix("MLS")
            && raw
                .listing
                .as_ref()
                .and_then(|l| l.mls_number.as_ref())
                .is_none()
        {
            let id = rest
                .trim_start_matches([' ', 'I', 'D', '#', ':', '\u{a0}'])
                .split_whitespace()
                .next()
                .unwrap_or("");
            if id.chars().any(|c| c.is_ascii_digit()) {
                raw.listing.get_or_insert_with(Default::default).mls_number = Some(id.to_owned());
            }
        }
    }
    if raw
        .listing
        .as_ref()
        .and_then(|l| l.property.as_ref())
        .is_none()
        && let Some(street) = raw
            .note
            .as_deref()
            .and_then(crate::email::read::street_line)
    {
        super::set_street(&mut raw, &street);
    }
    raw
}
