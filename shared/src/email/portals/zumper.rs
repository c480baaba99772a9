//! Zumper and PadMapper (the same company, the same template): "Zumper tenant lead for …",
//! the lead's name on the line after "The following lead is interested in …", a phone, and
//! their message after it. Mail comes from a zlead.co relay whose display name is
//! `"Name [maildomain]"` or `"Name <address> via Zumper"`; the address in the display name,
//! or Reply-To, is the renter's.

use super::generic::generic;
use super::{Evidence, Portal, add_message};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Zumper",
    domains: &["zumper.com", "zlead.co", "padmapper.com"],
    subjects: &["zumper", "padmapper"],
    phrases: &["zumper lead", "zumper inc", "padmapper"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, true);
    if r.lower_text.contains("padmapper") && !r.lower_text.contains("zumper") {
        raw.lead_source = Some("PadMapper".into());
    }
    let lines: Vec<&str> = r.lines();
    let Some(i) = lines
        .iter()
        .position(|l| l.starts_with("The following lead is interested in"))
    else {
        return raw;
    };
    let rest: Vec<&str> = lines[i + 1..]
        .iter()
        .copied()
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(name) = rest.first().filter(|n| !n.contains('@') && n.len() < 80) {
        raw.full_name = Some((*name).to_owned());
        raw.first_name = None;
        raw.last_name = None;
    }
    // The message: after the phone line (or "Reply to lead"), up to "Reply to respond".
    let start = rest
        .iter()
        .position(|l| l.chars().filter(char::is_ascii_digit).count() >= 10)
        .map_or(2, |p| p + 1);
    let message: Vec<&str> = rest
        .iter()
        .skip(start)
        .take_while(|l| !l.starts_with("Reply to respond") && !l.starts_with("Report spam"))
        .copied()
        .collect();
    add_message(&mut raw, &message.join("\n"));
    raw
}
