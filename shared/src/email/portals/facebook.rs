//! Facebook lead-ad leads relayed by mail: Facebook's own lead notifications
//! (facebookmail.com) and the relays agencies and Zapier send ("New Lead: Facebook Form
//! Fill", "You have received a new lead from a Facebook ad:") with the form's answers one
//! per line, unlabelled: names, then email and phone. The relay's display name ("Facebook
//! Lead Generation") is never the lead's.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Facebook",
    domains: &["facebookmail.com"],
    subjects: &["facebook"],
    phrases: &[
        "from a facebook ad",
        "facebook lead ad",
        "facebook lead form",
    ],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, false);
    if raw
        .full_name
        .as_deref()
        .is_some_and(|n| n.to_lowercase().contains("facebook"))
    {
        raw.full_name = None;
    }
    let lines = r.lines();
    let Some(i) = lines
        .iter()
        .position(|l| l.to_lowercase().contains("new lead from a facebook ad"))
    else {
        return raw;
    };
    let answers: Vec<&str> = lines[i + 1..]
        .iter()
        .copied()
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("---") && !l.to_lowercase().contains("http"))
        .collect();
    let names: Vec<&str> = answers
        .iter()
        .copied()
        .filter(|l| !l.contains('@') && l.chars().filter(char::is_ascii_digit).count() < 7)
        .collect();
    if raw.first_name.is_none() && raw.last_name.is_none() {
        match names.as_slice() {
            [first, last, ..] => {
                raw.first_name = Some((*first).to_owned());
                raw.last_name = Some((*last).to_owned());
                raw.full_name = None;
            }
            [full] => raw.full_name = Some((*full).to_owned()),
            [] => {}
        }
    }
    for a in answers {
        if raw.email.is_none() && a.contains('@') {
            raw.email = Some(a.to_owned());
        } else if raw.phone.is_none() && a.chars().filter(char::is_ascii_digit).count() >= 10 {
            raw.phone = Some(a.to_owned());
        }
    }
    raw
}
