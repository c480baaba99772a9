//! Portal modules: one per portal or lead service, each with its `PORTAL` facts, a
//! `recognize` and a `parse`. Recognition is by the sender's domain first, then the
//! subject, then phrases in the visible text (not in link targets, where every Zillow Group
//! brand names the others). Where two modules match equally, the earlier one in `MODULES`
//! wins, so narrower brands come before the umbrella ones.
//!
//! `parse` starts from the generic reading (`generic::generic`) and adds what the portal's
//! layout says that generic rules cannot know. Mail no module recognizes is read by the
//! generic reader alone (`read`).

use super::html::HtmlReading;
use super::labels::LabelRules;
use super::message::Message;
use super::notice::{has_inquiry, named_platform};
pub use super::read::on_domain;
use super::read::{
    Reading, is_free_mail, is_machine_address, is_personal, is_relay, is_role_address,
    registrable_domain, sender_platform,
};
use crate::lead::{Address, Property};
use crate::normalize::RawLead;

pub mod generic;

mod abodo;
mod apartmentguide;
mod apartmentlist;
mod apartments;
mod apartmentsearch;
mod craigslist;
mod facebook;
mod forrent;
mod homes;
mod hotpads;
mod nakedapartments;
mod olr;
mod realtor;
mod redfin;
mod rentbits;
mod streeteasy;
mod trulia;
mod upnest;
mod website_forms;
mod yelp;
mod zillow;
mod zumper;

/// What a portal's mail looks like from the outside.
#[derive(Debug)]
pub struct Portal {
    /// The lead source Rechat shows.
    pub source: &'static str,
    /// Sender domains; a subdomain matches too.
    pub domains: &'static [&'static str],
    /// Lower-case phrases of this portal's lead subjects.
    pub subjects: &'static [&'static str],
    /// Lower-case phrases only this portal's mail shows in its text.
    pub phrases: &'static [&'static str],
}

/// How a module knew the message: stronger evidence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    Sender,
    Subject,
    Phrase,
}

impl Portal {
    /// The evidence that a message is this portal's.
    pub fn evidence(&self, r: &Reading) -> Option<Evidence> {
        let m = r.message;
        let senders = m.from.iter().chain(&m.reply_to);
        if senders
            .into_iter()
            .any(|s| self.domains.iter().any(|d| on_domain(&s.address, d)))
        {
            return Some(Evidence::Sender);
        }
        if self.subjects.iter().any(|p| r.lower_subject.contains(p)) {
            return Some(Evidence::Subject);
        }
        if self.phrases.iter().any(|p| r.lower_text.contains(p)) {
            return Some(Evidence::Phrase);
        }
        None
    }
}

/// A portal module's entry points.
pub struct Module {
    pub portal: &'static Portal,
    pub recognize: fn(&Reading) -> Option<Evidence>,
    pub parse: fn(&Reading) -> RawLead,
}

macro_rules! modules {
    ($($m:ident),* $(,)?) => {
        &[$(Module { portal: &$m::PORTAL, recognize: $m::recognize, parse: $m::parse }),*]
    };
}

/// Narrower brands before the ones whose names their mail also carries.
pub const MODULES: &[Module] = modules![
    streeteasy,
    nakedapartments,
    trulia,
    hotpads,
    zillow,
    realtor,
    homes,
    redfin,
    apartmentlist,
    apartmentsearch,
    apartments,
    zumper,
    forrent,
    apartmentguide,
    rentbits,
    abodo,
    yelp,
    craigslist,
    facebook,
    upnest,
    olr,
    website_forms,
];

/// The module whose portal sent the message, on the strongest evidence.
pub fn recognize(r: &Reading) -> Option<&'static Module> {
    let mut best: Option<(Evidence, &'static Module)> = None;
    for module in MODULES {
        let Some(evidence) = (module.recognize)(r) else {
            continue;
        };
        // Nothing is stronger than the sender: the first module it names wins, and the
        // rest need not search the text for their phrases.
        if evidence == Evidence::Sender {
            return Some(module);
        }
        // Of equal evidence, the first module in order.
        if best.is_none_or(|(strongest, _)| evidence < strongest) {
            best = Some((evidence, module));
        }
    }
    best.map(|(_, module)| module)
}

/// An address on a portal's own domain: never the prospect's.
pub fn is_portal_address(address: &str) -> bool {
    MODULES
        .iter()
        .any(|m| m.portal.domains.iter().any(|d| on_domain(address, d)))
}

/// A name that is a portal's, not a person's.
pub fn is_portal_name(name: &str) -> bool {
    MODULES
        .iter()
        .any(|m| name.eq_ignore_ascii_case(m.portal.source))
}

/// The lead in a message: its portal's module when one recognizes it, else the generic
/// reading; and the portal.
pub fn read(message: &Message) -> (RawLead, Option<&'static Portal>) {
    let read = read_with_html(message, None, true, LabelRules::none());
    (read.lead, read.portal)
}

/// The source a message's reads are profiled under (`crate::profile`), read from its sender
/// alone, as mail read as no lead has nothing else: the portal whose domain sent it, else
/// the registrable part of the sending site's domain (`newportal.example`, the name its
/// `[email.fields]` rules take; never the brand its lead source may show). None for a
/// person's own mail at a mail provider, or a relay's.
pub fn profile_source(message: &Message) -> Option<String> {
    let from = message.from.first()?;
    let portal = MODULES
        .iter()
        .find(|m| m.portal.domains.iter().any(|d| on_domain(&from.address, d)));
    if let Some(m) = portal {
        return Some(m.portal.source.to_ascii_lowercase());
    }
    if is_free_mail(&from.address) || is_relay(&from.address) {
        return None;
    }
    registrable_domain(&from.address)
}

/// What `read_with_html` found.
#[derive(Debug, Clone)]
pub struct Read {
    pub lead: RawLead,
    /// The portal the lead is credited to.
    pub portal: Option<&'static Portal>,
    /// The portal whose layout the message has but which was not credited, its sender
    /// unproven: the lead was read the generic way.
    pub unproven: Option<&'static Portal>,
    /// A notice from a no-reply or notification sender with no inquiry in it (a vendor's
    /// notice, a newsletter, a social network's alert): no lead.
    pub notice_without_inquiry: bool,
}

/// `read`, with the message's HTML part already read when `html` is given, and its labels
/// read as `labels` says where it names them (`[email.fields]`). With `portals_trusted`
/// false (the sender is not proven to be who it says), a portal's layout is not believed:
/// its module could be fed a forged message to credit a lead to it.
pub fn read_with_html(
    message: &Message,
    html: Option<HtmlReading>,
    portals_trusted: bool,
    labels: &LabelRules,
) -> Read {
    let reading = Reading::with_html(message, html).with_labels(labels);
    let recognized = recognize(&reading);
    let (module, unproven) = match recognized {
        Some(m) if !portals_trusted => (None, Some(m.portal)),
        m => (m, None),
    };
    let mut raw = match module {
        Some(m) => (m.parse)(&reading),
        None => generic::generic(&reading, false),
    };
    if raw.lead_source.is_none() {
        raw.lead_source = module.map(|m| m.portal.source.to_owned());
    }
    // A notice from a site or platform no module knows: the platform its subject or text
    // names ("… received via ChatPal", "through the Westbrook University Off-Campus Housing
    // website", "your listing on HomeSwap Marketplace"), else its domain, says where the lead
    // came from; never the mail service that carried it (a relay, a ticketing system). A
    // person's own mail (no labels, a mail provider's address) has no such source.
    if raw.lead_source.is_none() && module.is_none() {
        raw.lead_source = named_platform(&reading, &raw);
    }
    if raw.lead_source.is_none() && module.is_none() && !is_personal(message) {
        raw.lead_source = sender_platform(message);
    }
    // Portals send leads from no-reply addresses too: an address of someone else's that
    // the reader found (not the sender's domain, not a team's or a system's) is a person
    // to reach, whatever the notice's words.
    let sender = message.from.first().map(|m| m.address.as_str());
    let someone_to_reach = raw.email.as_deref().is_some_and(|e| {
        !is_role_address(e) && sender.is_none_or(|s| registrable_domain(s) != registrable_domain(e))
    });
    let notice_without_inquiry = module.is_none()
        && sender.is_some_and(is_machine_address)
        && !someone_to_reach
        && !has_inquiry(&reading);
    Read {
        lead: raw,
        portal: module.map(|m| m.portal),
        unproven,
        notice_without_inquiry,
    }
}

// Helpers the modules share.

/// The lead's property street as the portal's layout states it, over any guess.
fn put_street(raw: &mut RawLead, street: &str) {
    if let Some(a) = raw
        .listing
        .as_mut()
        .and_then(|l| l.property.as_mut())
        .and_then(|p| p.address.as_mut())
    {
        a.street_address = None;
    }
    set_street(raw, street);
}

/// The lead's property street, unless one was read already.
fn set_street(raw: &mut RawLead, street: &str) {
    let street = street.trim();
    let has = raw
        .listing
        .as_ref()
        .and_then(|l| l.property.as_ref())
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.street_address.as_ref())
        .is_some();
    if has || street.is_empty() {
        return;
    }
    let listing = raw.listing.get_or_insert_with(Default::default);
    let property = listing.property.get_or_insert_with(Property::default);
    let address = property.address.get_or_insert_with(Address::default);
    address.street_address = Some(street.to_owned());
}

/// "515 W 122 #66, Manhattan, NY": the street, without unit, city or zip.
fn street_of(line: &str) -> &str {
    let street = line.split(',').next().unwrap_or(line).trim();
    street.split(" #").next().unwrap_or(street).trim()
}

/// The prospect's message, added to the note unless it is there already.
fn add_message(raw: &mut RawLead, message: &str) {
    let message = message.trim().trim_matches(['"', '“', '”']).trim();
    if message.is_empty() || raw.note.as_deref().is_some_and(|n| n.contains(message)) {
        return;
    }
    raw.note = Some(match raw.note.take() {
        Some(n) if !n.is_empty() => format!("{message}\n\n{n}"),
        _ => message.to_owned(),
    });
}

/// Lines after the first one `start` accepts, up to the first one `stop` accepts.
fn lines_between<'a>(
    lines: &[&'a str],
    start: impl Fn(&str) -> bool,
    stop: impl Fn(&str) -> bool,
) -> Option<Vec<&'a str>> {
    let i = lines.iter().position(|l| start(l))?;
    Some(
        lines[i + 1..]
            .iter()
            .take_while(|l| !stop(l))
            .copied()
            .collect(),
    )
}

/// A query parameter of a URL, decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_match_themselves_and_subdomains_only() {
        assert!(on_domain("a@zillow.com", "zillow.com"));
        assert!(on_domain("a@mail.zillow.com", "zillow.com"));
        assert!(!on_domain("a@notzillow.com", "zillow.com"));
        assert!(!on_domain("a@zillow.com.evil.example", "zillow.com"));
    }

    #[test]
    fn every_module_names_a_source_and_a_way_to_know_it() {
        for m in MODULES {
            let p = m.portal;
            assert!(!p.source.is_empty());
            assert!(
                !(p.domains.is_empty() && p.subjects.is_empty() && p.phrases.is_empty()),
                "{}",
                p.source
            );
            for phrase in p.subjects.iter().chain(p.phrases) {
                assert_eq!(*phrase, phrase.to_lowercase(), "{}", p.source);
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(
            street_of("515 W 122 #66, Manhattan, NY, 10027"),
            "515 W 122"
        );
        assert_eq!(
            query_param(
                "https://x.example/c?name=Ana%20Silva&phone=(212)%20555-0101",
                "phone"
            )
            .as_deref(),
            Some("(212) 555-0101")
        );
        let lines = ["a", "start", "x", "y", "stop", "z"];
        assert_eq!(
            lines_between(&lines, |l| l == "start", |l| l == "stop"),
            Some(vec!["x", "y"])
        );
    }
}
