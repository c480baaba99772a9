//! Reading a lead out of a message, the generic way every mature parser falls back to:
//! leadmetadata.org `<meta name="lead_*">` tags anywhere in the document; then label/value
//! pairs in the text and in HTML tables; then the headers (Reply-To before From, display
//! names). Relay addresses are kept only when nothing better exists; the portal's own
//! address is never the prospect's.

use super::html::HtmlReading;
use super::labels::LabelRules;
use super::message::{Mailbox, Message};
use super::portals::{self, Portal, is_portal_address, is_portal_name, on_domain};
use crate::fields::{LeadReader, Meaning, canonical};
use crate::normalize::RawLead;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Domains that relay a prospect's mail: kept only when nothing better exists.
const RELAYS: &[&str] = &[
    "zlead.co",
    "messaging.yelp.com",
    "convo.zillow.com",
    "hous.craigslist.org",
    "reply.craigslist.org",
    "renter.apartmentlist.com",
    "app.nakedapartments.com",
    "message.my.apartmentguide.com",
    "email.rent.com",
    "abodoapts.com",
    "email.apartments.com",
    "reply.zumper.com",
];

/// Mail providers anyone has an address at.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "mail.com",
    "comcast.net",
    "att.net",
    "sbcglobal.net",
    "verizon.net",
];

/// An address at a mail provider anyone has one at (its domain says nothing of a sender).
pub fn is_free_mail(address: &str) -> bool {
    let domain = address
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    FREE_MAIL.contains(&domain.as_str())
}

/// The site or platform that sent a notice no portal module knows, as its lead source: the
/// registrable part of the sender's domain (`forms.sitebuilder.example` → `sitebuilder.example`).
/// None for a person's own mail at a mail provider, or a forwarding agent's.
fn sender_platform(message: &Message) -> Option<String> {
    let from = message.from.first()?;
    if is_free_mail(&from.address) || is_relay(&from.address) {
        return None;
    }
    let domain = from.address.rsplit_once('@')?.1.trim().to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    // `example.co.uk`: a short second level under a country code takes one more label.
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && second.len() <= 3 => 3,
        _ => 2,
    };
    (labels.len() >= keep).then(|| labels[labels.len() - keep..].join("."))
}

/// The source a message's reads are profiled under (`crate::profile`), read from its sender
/// alone, as mail read as no lead has nothing else: the portal whose domain sent it, else
/// the sending site's domain. None for a person's own mail.
pub fn profile_source(message: &Message) -> Option<String> {
    let from = message.from.first()?;
    let portal = portals::MODULES
        .iter()
        .find(|m| m.portal.domains.iter().any(|d| on_domain(&from.address, d)));
    match portal {
        Some(m) => Some(m.portal.source.to_ascii_lowercase()),
        None => sender_platform(message),
    }
}

pub fn is_relay(address: &str) -> bool {
    RELAYS.iter().any(|r| on_domain(address, r))
}

fn is_portal(address: &str) -> bool {
    is_portal_address(address) && !is_relay(address)
}

/// A message prepared for reading: both renderings of its text with link annotations
/// removed, and its HTML read once.
pub struct Reading<'a> {
    pub message: &'a Message,
    /// The plain part, then the HTML part rendered one cell a line.
    pub texts: Vec<String>,
    pub html: Option<HtmlReading>,
    /// The texts, lower-cased, for phrase recognition.
    pub lower_text: String,
    /// The subject, lower-cased, for subject recognition.
    pub lower_subject: String,
    /// How the routing file says to read this sender's labels (`[email.fields]`).
    pub labels: &'a LabelRules,
}

impl<'a> Reading<'a> {
    pub fn new(message: &'a Message) -> Self {
        Reading::with_html(message, None)
    }

    /// `html`, when given, is the message's HTML part already read.
    pub fn with_html(message: &'a Message, html: Option<HtmlReading>) -> Self {
        let html = html.or_else(|| message.html.as_deref().map(super::html::read));
        let mut texts: Vec<String> = message.text.iter().map(|t| clean_annotations(t)).collect();
        texts.extend(html.as_ref().map(|h| clean_annotations(&h.text)));
        let lower_text = texts.join("\n").to_lowercase();
        Reading {
            message,
            texts,
            html,
            lower_text,
            lower_subject: message.subject.to_lowercase(),
            labels: LabelRules::none(),
        }
    }

    /// This reading with the routing file's rules for its sender's labels.
    pub fn with_labels(self, labels: &'a LabelRules) -> Self {
        Reading { labels, ..self }
    }

    /// Every line of every rendering, trimmed.
    pub fn lines(&self) -> Vec<&str> {
        self.texts
            .iter()
            .flat_map(|t| t.lines())
            .map(str::trim)
            .collect()
    }

    /// `href`s of the HTML part's links.
    pub fn links(&self) -> Vec<&str> {
        self.html
            .iter()
            .flat_map(|h| h.links.iter().map(String::as_str))
            .collect()
    }
}

static OUTLOOK_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<(?:mailto|tel|https?):[^>\s]*>").expect("valid pattern"));
static BRACKET_MAILTO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\s*mailto:([^\]\s?]+)[^\]]*\]").expect("valid pattern"));
static BRACKET_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\s*(?:https?|tel|mailto):[^\]]*\]").expect("valid pattern"));

/// Link targets mail clients and Zapier write after a link's text, removed: Outlook's
/// `text<http://…>` and `addr<mailto:addr>`, and `[http://…]` or `[ mailto:… ]`. A
/// `Name [mailto:addr]` keeps the address, as `Name <addr>`.
pub(crate) fn clean_annotations(text: &str) -> String {
    let text = OUTLOOK_LINK.replace_all(text, "");
    let text = BRACKET_MAILTO.replace_all(&text, |c: &regex::Captures| {
        // The address alone when the visible text already is it ("Reply now [mailto:relay]"
        // keeps it too: a relay is still a way to reach the prospect).
        format!("<{}>", &c[1])
    });
    BRACKET_LINK.replace_all(&text, "").into_owned()
}

fn metadata_meaning(name: &str) -> Meaning {
    match name {
        "lead_name" => Meaning::FullName,
        "lead_first_name" => Meaning::FirstName,
        "lead_last_name" => Meaning::LastName,
        "lead_email" => Meaning::Email,
        "lead_phone" => Meaning::Phone,
        "lead_message" | "lead_comments" => Meaning::Message,
        "lead_property_address" => Meaning::Street,
        "lead_property_city" => Meaning::City,
        "lead_property_state" => Meaning::State,
        "lead_property_zip" => Meaning::Zip,
        "lead_mls" | "lead_mls_number" => Meaning::Mls,
        "lead_source" => Meaning::LeadSource,
        "lead_property_price" | "lead_price" => Meaning::Price,
        "lead_property_url" | "lead_listing_url" => Meaning::ListingUrl,
        "lead_tag" => Meaning::Tags,
        "lead_assigned_agent" => Meaning::AgentName,
        // Buyer, Seller or Renter: what the agent sorts leads by.
        "lead_type" => Meaning::Tags,
        "lead_version" => Meaning::Ignore,
        _ => Meaning::Unknown,
    }
}

/// `Label: value` pairs in text (a value may sit on the line after its label), and
/// two-cell rows of HTML tables; `rules` names labels the alias table does not know.
pub fn label_values(
    text: &str,
    html: Option<&HtmlReading>,
    rules: &LabelRules,
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    label_values_into(text, html, rules, &mut pairs);
    // A sentence that mentions "email" or "phone" ("Visit this link to stop these emails:
    // http://…") is no label when its value is no address or number.
    pairs.retain(|(label, value)| match rules.meaning(label) {
        Meaning::Email => value.contains('@'),
        Meaning::Phone => value.chars().filter(char::is_ascii_digit).count() >= 7,
        _ => true,
    });
    pairs
}

fn label_values_into(
    text: &str,
    html: Option<&HtmlReading>,
    rules: &LabelRules,
    pairs: &mut Vec<(String, String)>,
) {
    let known = |label: &str| !matches!(rules.meaning(label), Meaning::Unknown);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        // A line that is exactly a well-known label ("Name", "Phone", "MLS ID"), or one the
        // routing file names, with its value on the next line, as table-laid-out emails
        // render. Only the table's own entries count here, not keys it merely guesses at.
        let bare = line.trim_end_matches(['*', ':']).trim();
        if !line.contains(':')
            && i + 1 < lines.len()
            && !lines[i + 1].is_empty()
            && (bare.len() <= 30 && exact_label(bare) || bare.len() <= 80 && rules.names(bare))
        {
            pairs.push((
                bare.to_owned(),
                lines[i + 1].trim_start_matches('#').trim().to_owned(),
            ));
            i += 2;
            continue;
        }
        // `[Label]  value`, ForRent's guest-card layout; the value may run on over the
        // following lines until the next bracketed label.
        if let Some(rest) = line.strip_prefix('[')
            && let Some((label, value)) = rest.split_once(']')
            && !label.contains("://")
            && known(label)
        {
            let mut value = value.trim().to_owned();
            let rule = |l: &str| l.starts_with('[') || l.starts_with("___") || l.starts_with("---");
            while i + 1 < lines.len() && !rule(lines[i + 1]) {
                i += 1;
                if !lines[i].is_empty() {
                    value.push('\n');
                    value.push_str(lines[i]);
                }
            }
            if !value.is_empty() {
                pairs.push((label.trim().to_owned(), value));
            }
            i += 1;
            continue;
        }
        if let Some((label, value)) = line.split_once(':') {
            let label = label.trim().trim_end_matches(['*', '#']).trim();
            if known(label) && !label.is_empty() && label.len() <= 80 && !label.contains("http") {
                // A required-field marker ("Name: * Ana") is not part of the value.
                let value = value.trim().trim_start_matches('*').trim();
                if matches!(rules.meaning(label), Meaning::Message) {
                    // A message runs on over the lines after its label ("Comments: Hello,",
                    // a blank line, then what they wrote), up to the next label, a rule or a
                    // signature's dashes.
                    let mut message = value.to_owned();
                    while i + 1 < lines.len() && !ends_message(lines[i + 1], rules) {
                        i += 1;
                        message.push('\n');
                        message.push_str(lines[i]);
                    }
                    let message = message.trim().to_owned();
                    if !message.is_empty() {
                        pairs.push((label.to_owned(), message));
                    }
                } else if value.is_empty() && i + 1 < lines.len() && !lines[i + 1].contains(':') {
                    pairs.push((label.to_owned(), lines[i + 1].to_owned()));
                    i += 1;
                } else if !value.is_empty() {
                    pairs.push((label.to_owned(), value.to_owned()));
                }
                i += 1;
                continue;
            }
        }
        // A label the routing file names, then its value on the same line without a colon
        // ("Best number to text  214-555-0123", "Teléfono – 214 555 0123"): only the
        // operator's own labels, which no sentence is likely to start with.
        if let Some((label, value)) = ruled_prefix(line, rules) {
            pairs.push((label.to_owned(), value.to_owned()));
        }
        i += 1;
    }
    for (label, value) in html.iter().flat_map(|h| &h.two_cell_rows) {
        let label = label.trim_end_matches(':').trim();
        if known(label) && label.len() <= 80 {
            pairs.push((label.to_owned(), value.clone()));
        }
    }
}

/// A line that starts with a label `rules` names, ended at a word boundary, then the value:
/// the longest such label wins.
fn ruled_prefix<'l>(line: &'l str, rules: &LabelRules) -> Option<(&'l str, &'l str)> {
    if rules.is_empty() {
        return None;
    }
    let mut found = None;
    for (at, c) in line.char_indices() {
        if c.is_alphanumeric() {
            continue;
        }
        let (label, rest) = line.split_at(at);
        let value = rest.trim_start_matches(|c: char| {
            c.is_whitespace() || matches!(c, '-' | '–' | '—' | '=' | '>' | '|' | '*')
        });
        if !value.is_empty() && rules.names(label) {
            found = Some((label.trim(), value.trim()));
        }
    }
    found
}

/// Where a message that runs on over lines ends: another known label, a rule, a
/// signature's dashes, a quoted or forwarded block.
fn ends_message(line: &str, rules: &LabelRules) -> bool {
    let rule = ["--", "__", "==", "**"].iter().any(|r| line.starts_with(r));
    let labelled = line.split_once(':').is_some_and(|(label, _)| {
        let label = label.trim();
        label.len() <= 40
            && !label.contains("http")
            && !matches!(rules.meaning(label), Meaning::Unknown)
    });
    let ruled = ruled_prefix(line, rules).is_some()
        || rules.names(line.trim_end_matches(['*', ':']).trim());
    rule || labelled
        || ruled
        || line.starts_with('>')
        || line.starts_with("On ") && line.ends_with("wrote:")
}

/// A label the alias table lists itself (not one it guesses from a word in it).
fn exact_label(label: &str) -> bool {
    let key = canonical(label);
    matches!(
        key.as_str(),
        "name"
            | "fullname"
            | "firstname"
            | "lastname"
            | "email"
            | "emailaddress"
            | "phone"
            | "phonenumber"
            | "mlsid"
            | "mlsnumber"
            | "mls"
            | "message"
            | "comments"
            | "address"
            | "propertyaddress"
    )
}

/// Contacts written without labels.
#[derive(Debug, Default, PartialEq)]
struct Contacts {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

static NAME_AND_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([^<>@:|]{2,60}?)\s*<([^<>\s]+@[^<>\s]+)>$").expect("valid pattern")
});

/// Lines that are nothing but an email address, a phone number or `Name <address>` (a
/// contact block with no labels), for a lead that has none labelled.
fn bare_contacts(text: &str) -> Contacts {
    let mut found = Contacts::default();
    for line in text.lines().map(str::trim) {
        // Both kinds of address line hold an `@`; most lines hold none and skip the pattern.
        let addressed = found.email.is_none() && line.contains('@');
        if addressed
            && let Some(c) = NAME_AND_ADDRESS.captures(line)
            && !is_portal(&c[2])
            && !is_relay(&c[2])
            && crate::normalize::email(&c[2]).is_ok()
        {
            found.email = Some(c[2].to_owned());
            found.name = Some(c[1].trim().trim_matches('"').to_owned());
        }
        if addressed
            && found.email.is_none()
            && !line.contains(' ')
            && crate::normalize::email(line).is_ok()
        {
            found.email = Some(line.to_owned());
        }
        // Cheapest test first: a line of words fails at its first letter.
        if found.phone.is_none()
            && line
                .bytes()
                .all(|b| b.is_ascii_digit() || b" ()+-.".contains(&b))
            && (10..=15).contains(&line.bytes().filter(u8::is_ascii_digit).count())
        {
            found.phone = Some(line.to_owned());
        }
    }
    found
}

/// `mailto:` and `tel:` links (read after the visible text, which wins when they differ).
fn link_contacts(links: &[String]) -> (Option<String>, Option<String>) {
    let mut email = None;
    let mut phone = None;
    for href in links {
        let href = href.trim();
        let lower = href.to_ascii_lowercase();
        if email.is_none() && lower.starts_with("mailto:") {
            let address = href[7..].split('?').next().unwrap_or("");
            if crate::normalize::email(address).is_ok() {
                email = Some(address.to_owned());
            }
        } else if phone.is_none() && lower.starts_with("tel:") {
            phone = Some(href[4..].to_owned());
        }
    }
    (email, phone)
}

/// How portals introduce a prospect's own words.
const SAYS: &[&str] = &[
    " says:",
    " asked:",
    " has sent you a message:",
    " sent you a message:",
];

/// "Ana Silva says:" then the message, as Zillow Group templates (Zillow, Trulia, HotPads)
/// introduce an inquiry: the name, and the quoted message on the following lines.
fn says(text: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let (i, name) = lines.iter().enumerate().find_map(|(i, l)| {
        let name = SAYS
            .iter()
            .find_map(|intro| l.strip_suffix(intro))
            .filter(|_| l.len() < 80)?;
        Some((i, name.trim().to_owned()))
    })?;
    let mut message = Vec::new();
    for line in &lines[i + 1..] {
        if line.is_empty() && message.is_empty() {
            continue;
        }
        if line.is_empty() || line.contains('@') || bare_contacts(line).phone.is_some() {
            break;
        }
        message.push(*line);
    }
    let message = message
        .join(" ")
        .trim()
        .trim_matches(['"', '“', '”'])
        .trim()
        .to_owned();
    (!name.is_empty()).then_some((name, message))
}

pub use crate::postal::street_line;

/// A person's name in a subject: "Ana Silva is interested in…", "Message from Ana Silva for
/// …", "… Inquiry From Ana Silva", "New lead - Ana Silva", "Lead | Ana Silva - Property".
pub fn subject_name(subject: &str) -> Option<String> {
    // ASCII only, so that its offsets are the subject's own (see `sentence_name`).
    let lower = subject.to_ascii_lowercase();
    let mut candidate = None;
    for marker in [
        " is interested in",
        " has sent you a message",
        " wants to ",
        " would like to",
        " sent you a message",
    ] {
        if let Some(i) = lower.find(marker) {
            let before = &subject[..i];
            candidate = Some(
                before
                    .rsplit(['|', ':'])
                    .next()
                    .unwrap_or(before)
                    .to_owned(),
            );
            break;
        }
    }
    if candidate.is_none() {
        for marker in [
            "inquiry from ",
            "message from ",
            "lead from ",
            "contact from ",
            "request from ",
            "lead - ",
            "lead | ",
            "lead: ",
        ] {
            if let Some(i) = lower.find(marker) {
                let after = &subject[i + marker.len()..];
                let lower_after = after.to_ascii_lowercase();
                let end = [" for ", " about ", " regarding ", " - ", " | ", " ("]
                    .iter()
                    .filter_map(|m| lower_after.find(m))
                    .min()
                    .unwrap_or(after.len());
                candidate = Some(after[..end].to_owned());
                break;
            }
        }
    }
    let name = candidate?
        .trim()
        .trim_matches(['"', '\''])
        .trim()
        .to_owned();
    let words = name.split_whitespace().count();
    let first = name.split_whitespace().next().unwrap_or("").to_lowercase();
    let plausible = (1..=5).contains(&words)
        && !matches!(first.as_str(), "your" | "the" | "a" | "an" | "our" | "this")
        && !is_platform_name(&name)
        && !name.contains('@')
        && !name.chars().any(|c| c.is_ascii_digit())
        && name.chars().any(char::is_alphabetic);
    plausible.then_some(name)
}

/// The prospect's mailbox from the headers: Reply-To, then From, past portals; a relay only
/// when nothing better exists.
fn prospect_mailbox(message: &Message) -> Option<&Mailbox> {
    let candidates: Vec<&Mailbox> = message.reply_to.iter().chain(message.from.iter()).collect();
    candidates
        .iter()
        .find(|m| {
            !is_relay(&m.address)
                && !is_portal(&m.address)
                && !m.address.starts_with("noreply")
                && !m.address.starts_with("no-reply")
        })
        .or_else(|| candidates.iter().find(|m| is_relay(&m.address)))
        .copied()
}

/// A display name that is a person's: not the portal's, not "X via Y"'s tail.
fn person_name(mailbox: &Mailbox) -> Option<String> {
    let name = mailbox.name.as_deref()?.trim();
    let name = name.split(" via ").next().unwrap_or(name).trim();
    // `"Name <addr> via Zumper"`: the part before the address.
    let name = name
        .split('<')
        .next()
        .unwrap_or(name)
        .trim()
        .trim_matches('"')
        .trim();
    // Zumper's `"Ana Silva [example.com]"`: the prospect's mail domain after the name.
    let name = match name.split_once(" [") {
        Some((n, rest)) if rest.ends_with(']') => n.trim(),
        _ => name,
    };
    if name.is_empty() || name.contains('@') || is_portal_name(name) || is_platform_name(name) {
        return None;
    }
    Some(name.to_owned())
}

/// Words of a sending system's display name, never of a person's ("Listing Alerts", "Site
/// Forms for Business Owners", "WordPress", "Website").
const PLATFORM_WORDS: &[&str] = &[
    "alerts",
    "alert",
    "forms",
    "form",
    "notifications",
    "notification",
    "notifier",
    "team",
    "support",
    "website",
    "web",
    "site",
    "leads",
    "lead",
    "noreply",
    "no-reply",
    "admin",
    "wordpress",
    "webmaster",
    "mailer",
    "system",
    "automated",
    "updates",
    "business",
    "owners",
    "services",
    "inquiries",
    "inquiry",
    "contact",
    "info",
    "crm",
    "idx",
];

fn is_platform_name(name: &str) -> bool {
    name.split(|c: char| !c.is_alphanumeric() && c != '-')
        .any(|w| PLATFORM_WORDS.contains(&w.to_ascii_lowercase().as_str()))
}

/// What introduces a person in a sentence of a notice: "Jordan Ellis is interested in 14
/// Birch Ln", "Ana Silva would like to see…".
const SENTENCE_MARKERS: &[&str] = &[
    " is interested in",
    " would like to",
    " wants to",
    " has a question about",
    " requested information about",
    " requested a tour of",
];

/// A person named at the start of a line by such a sentence, and the rest of the line after
/// the marker: two to four words, each capitalized (or the whole name in capitals).
fn sentence_name(text: &str) -> Option<(String, String)> {
    text.lines().map(str::trim).find_map(|line| {
        // ASCII only: the markers are, and its offsets must be the line's own (a full
        // lowercasing changes some characters' length: 'İ' becomes three bytes).
        let lower = line.to_ascii_lowercase();
        let (at, marker) = SENTENCE_MARKERS
            .iter()
            .filter_map(|m| lower.find(m).map(|i| (i, *m)))
            .min_by_key(|(i, _)| *i)?;
        let name = line[..at].trim().trim_matches(['"', '\'']).trim();
        let words: Vec<&str> = name.split_whitespace().collect();
        let capitalized = words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars().all(|c| c.is_alphabetic() || "'-.".contains(c))
        });
        ((2..=4).contains(&words.len()) && capitalized && !is_platform_name(name))
            .then(|| (name.to_owned(), line[at + marker.len()..].trim().to_owned()))
    })
}

/// Mail a person wrote themselves: a reply, or from a mail provider's address.
fn is_personal(message: &Message) -> bool {
    let subject = message.subject.trim().to_ascii_lowercase();
    subject.starts_with("re:")
        || message
            .from
            .first()
            .is_some_and(|m| is_free_mail(&m.address))
}

/// A North American number inside a sentence ("My cell is 469-555-0177.").
static SENTENCE_PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+?1[-. ]?)?\(?\b[2-9]\d{2}\)?[-. ]\d{3}[-. ]\d{4}\b").expect("valid pattern")
});

/// What a person wrote: the text up to a signature's dashes or a quoted block, without a
/// bare greeting line or the closing name lines.
fn personal_message(text: &str) -> Option<String> {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("--")
            || line.starts_with('>')
            || (line.starts_with("On ") && line.ends_with("wrote:"))
        {
            break;
        }
        lines.push(line);
    }
    // A closing: the last short lines after the last blank line ("Thanks,", "Olivia Brandt").
    if let Some(blank) = lines.iter().rposition(|l| l.is_empty())
        && lines[blank + 1..]
            .iter()
            .all(|l| l.split_whitespace().count() <= 3)
    {
        lines.truncate(blank);
    }
    let greeting = |l: &str| {
        let w = l.trim_end_matches([',', '!', '.']).to_lowercase();
        w.split_whitespace().count() <= 3
            && [
                "hi",
                "hello",
                "hey",
                "dear",
                "good morning",
                "good afternoon",
            ]
            .iter()
            .any(|g| w.starts_with(g))
    };
    while lines.first().is_some_and(|l| l.is_empty() || greeting(l)) {
        lines.remove(0);
    }
    let message = lines.join("\n").trim().to_owned();
    (message.split_whitespace().count() >= 3).then_some(message)
}

/// A person who introduces themselves ("Hi, my name is Maria Lopez and …", "This is Tom
/// Reyes."): the name, and the line it is in.
fn greeting_name(text: &str) -> Option<(String, String)> {
    text.lines().map(str::trim).find_map(|line| {
        // ASCII only: the markers are, and its offsets must be the line's own (a full
        // lowercasing changes some characters' length: 'İ' becomes three bytes).
        let lower = line.to_ascii_lowercase();
        let at = ["my name is ", "this is "]
            .iter()
            .filter_map(|m| lower.find(m).map(|i| i + m.len()))
            .min()?;
        let words: Vec<&str> = line[at..]
            .split_whitespace()
            .map(|w| w.trim_end_matches([',', '.', '!', ';']))
            .take_while(|w| {
                w.chars().next().is_some_and(char::is_uppercase)
                    && w.chars().all(|c| c.is_alphabetic() || "'-".contains(c))
            })
            .take(3)
            .collect();
        ((2..=3).contains(&words.len())).then(|| (words.join(" "), line.to_owned()))
    })
}

/// A line wholly in quotes: how notices set off the person's own words.
fn quoted_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find_map(|l| {
        let inner = l.strip_prefix(['"', '“'])?.strip_suffix(['"', '”'])?.trim();
        (inner.split_whitespace().count() >= 3).then(|| inner.to_owned())
    })
}

/// The lead in a message: its portal's module when one recognizes it, else the generic
/// reading; and the portal.
pub fn read(message: &Message) -> (RawLead, Option<&'static Portal>) {
    let read = read_with_html(message, None, true, LabelRules::none());
    (read.lead, read.portal)
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
}

/// `read`, with the message's HTML part already read when `html` is given, and its labels
/// read as `labels` says where it names them. With `portals_trusted` false (the sender is
/// not proven to be who it says), a portal's layout is not believed: its module could be fed
/// a forged message to credit a lead to it.
pub fn read_with_html(
    message: &Message,
    html: Option<HtmlReading>,
    portals_trusted: bool,
    labels: &LabelRules,
) -> Read {
    let reading = Reading::with_html(message, html).with_labels(labels);
    let recognized = portals::recognize(&reading);
    let (module, unproven) = match recognized {
        Some(m) if !portals_trusted => (None, Some(m.portal)),
        m => (m, None),
    };
    let mut raw = match module {
        Some(m) => (m.parse)(&reading),
        None => generic(&reading, false),
    };
    if raw.lead_source.is_none() {
        raw.lead_source = module.map(|m| m.portal.source.to_owned());
    }
    // A notice from a site or platform no module knows: its domain says where the lead came
    // from. A person's own mail (no labels, a mail provider's address) has no such source.
    if raw.lead_source.is_none() && module.is_none() && !is_personal(message) {
        raw.lead_source = sender_platform(message);
    }
    Read {
        lead: raw,
        portal: module.map(|m| m.portal),
        unproven,
    }
}

/// The lead read the generic way. `portal_mail` allows guesses only a portal's layout
/// makes safe (a street-address line anywhere in the text).
pub fn generic(r: &Reading, portal_mail: bool) -> RawLead {
    let message = r.message;
    let texts = &r.texts;
    let mut reader = LeadReader::new();
    for (name, content) in r.html.iter().flat_map(|h| &h.lead_metadata) {
        match metadata_meaning(name) {
            Meaning::Unknown => {}
            m => reader.with_meaning(name, m, &Value::String(content.clone())),
        }
    }
    // Both renderings: senders put different things in the plain and the HTML part. A
    // label the first rendering had is not read again from the second, which may wrap or
    // cut its value differently.
    let mut earlier = std::collections::HashSet::new();
    let mut labelled = false;
    for (i, text) in texts.iter().enumerate() {
        let html = if i + 1 == texts.len() {
            r.html.as_ref()
        } else {
            None
        };
        let mut here = std::collections::HashSet::new();
        for (label, value) in label_values(text, html, r.labels) {
            labelled = true;
            let key = super::labels::label_key(&label);
            if earlier.contains(&key) || !here.insert((key, value.clone())) {
                continue;
            }
            reader.with_meaning(&label, r.labels.meaning(&label), &Value::String(value));
        }
        earlier.extend(here.into_iter().map(|(k, _)| k));
    }
    for text in texts {
        if let Some((name, message)) = says(text) {
            reader.with_meaning("says", Meaning::FullName, &Value::String(name));
            reader.with_meaning("says", Meaning::Message, &Value::String(message));
            break;
        }
    }
    let mut raw = reader.finish();
    if raw.first_name.is_none()
        && raw.last_name.is_none()
        && raw.full_name.is_none()
        && let Some((name, rest)) = texts.iter().find_map(|t| sentence_name(t))
    {
        raw.full_name = Some(name);
        if let Some(address) = crate::postal::address_line(&rest)
            && raw
                .listing
                .as_ref()
                .and_then(|l| l.property.as_ref())
                .is_none()
        {
            raw.listing.get_or_insert_with(Default::default).property =
                Some(crate::lead::Property {
                    address: Some(address),
                });
        }
        if raw.note.is_none() {
            raw.note = texts.iter().find_map(|t| quoted_line(t));
        }
    }
    // A person's own mail (an inquiry written to the agent, or quoted in the agent's reply):
    // no labels, so its words are the note, and a number or an address inside a sentence
    // is theirs.
    if !labelled
        && !portal_mail
        && let Some(text) = texts.first()
    {
        if raw.note.is_none() {
            raw.note = personal_message(text);
        }
        if raw.phone.is_none() {
            raw.phone = SENTENCE_PHONE.find(text).map(|m| m.as_str().to_owned());
        }
        if raw
            .listing
            .as_ref()
            .and_then(|l| l.property.as_ref())
            .is_none()
            && let Some(address) = crate::postal::address_line(text).filter(|a| a.city.is_some())
        {
            raw.listing.get_or_insert_with(Default::default).property =
                Some(crate::lead::Property {
                    address: Some(address),
                });
        }
    }
    if raw.first_name.is_none()
        && raw.last_name.is_none()
        && raw.full_name.is_none()
        && let Some((name, line)) = texts.iter().find_map(|t| greeting_name(t))
    {
        raw.full_name = Some(name);
        if raw
            .listing
            .as_ref()
            .and_then(|l| l.property.as_ref())
            .is_none()
            && let Some(address) = crate::postal::address_line(&line).filter(|a| a.city.is_some())
        {
            raw.listing.get_or_insert_with(Default::default).property =
                Some(crate::lead::Property {
                    address: Some(address),
                });
        }
        if raw.note.is_none() {
            raw.note = Some(line);
        }
    }
    let no_address = raw
        .listing
        .as_ref()
        .and_then(|l| l.property.as_ref())
        .and_then(|p| p.address.as_ref())
        .is_none();
    if no_address
        && portal_mail
        // The subject names the property more reliably than the body, whose footer may hold
        // the portal's own office address.
        && let Some(street) = street_line(&message.subject.replace(':', "\n"))
            .or_else(|| texts.iter().find_map(|t| street_line(t)))
    {
        // The city, state and ZIP after the street, when the text has them ("12 Elm St,
        // Dallas, TX 75201"): the address kept whole.
        let whole = std::iter::once(message.subject.as_str())
            .chain(texts.iter().map(String::as_str))
            .filter_map(crate::postal::address_line)
            .find(|a| a.street_address.as_deref() == Some(street.as_str()) && a.city.is_some());
        let listing = raw.listing.get_or_insert_with(Default::default);
        listing.property = Some(crate::lead::Property {
            address: Some(whole.unwrap_or(crate::lead::Address {
                street_address: Some(street),
                ..Default::default()
            })),
        });
    }
    for text in texts {
        let contacts = bare_contacts(text);
        let relayed = raw.email.as_deref().is_some_and(is_relay);
        if let Some(e) = contacts
            .email
            .filter(|e| (raw.email.is_none() || relayed) && !is_relay(e) && !is_portal(e))
        {
            raw.email = Some(e);
        }
        if raw.phone.is_none() {
            raw.phone = contacts.phone;
        }
        if raw.first_name.is_none() && raw.last_name.is_none() && raw.full_name.is_none() {
            raw.full_name = contacts.name;
        }
    }
    if let Some(html) = &r.html {
        let (email, phone) = link_contacts(&html.links);
        if let Some(e) = email.filter(|e| raw.email.is_none() && !is_relay(e) && !is_portal(e)) {
            raw.email = Some(e);
        }
        if raw.phone.is_none() {
            raw.phone = phone;
        }
    }
    let mailbox = prospect_mailbox(message);
    let body_email_ok = raw
        .email
        .as_deref()
        .is_some_and(|e| !is_relay(e) && !is_portal(e));
    if !body_email_ok
        && let Some(m) = mailbox
        && (raw.email.is_none() || !is_relay(&m.address))
    {
        raw.email = Some(m.address.clone());
    }
    if raw.first_name.is_none() && raw.last_name.is_none() && raw.full_name.is_none() {
        raw.full_name = message
            .reply_to
            .iter()
            .chain(message.from.iter())
            .find_map(|m| {
                person_name(m).filter(|_| {
                    !is_portal(&m.address)
                        || is_relay(&m.address)
                        || m.name.as_deref().is_some_and(|n| n.contains(" via "))
                })
            });
    }
    if raw.first_name.is_none() && raw.last_name.is_none() && raw.full_name.is_none() {
        raw.full_name = subject_name(&message.subject);
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_whose_lowercase_is_longer_do_not_shift_offsets() {
        // 'İ' lowercases to three bytes from two: offsets found in a full lowercasing
        // would cut the original inside a character (the fuzz target found these).
        assert_eq!(
            subject_name("İİİİ: Ana Silva is interested in 12 Elm St").as_deref(),
            Some("Ana Silva")
        );
        let _ = subject_name("İİİİİİ lead from Ana Silva for 12 Elm St");
        let _ = sentence_name("İİİİİİİİ Ana Silva is interested in 12 Elm St");
        let _ = greeting_name("İİİİİİİİ my name is Ana Silva.");
    }

    fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox {
            name: name.map(Into::into),
            address: address.into(),
        }
    }

    #[test]
    fn a_deeply_nested_html_part_is_read_whole() {
        let deep = format!(
            "{}Name: Ana{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        let m = Message {
            html: Some(deep),
            ..Message::default()
        };
        assert_eq!(Reading::new(&m).texts, vec!["Name: Ana\n".to_owned()]);
    }

    #[test]
    fn label_values_in_text_and_tables() {
        let text = "New lead!\nFirst Name: Ana\nLast Name: Silva\nPhone Number:\n(214) 555-0123\nComments: Call me after 5\nhttp://x: y";
        let table = crate::email::html::read(
            "<table><tr><td>Email Address</td><td>ana@example.com</td></tr><tr><td>Irrelevant</td><td>x</td></tr></table>",
        );
        let pairs = label_values(text, Some(&table), LabelRules::none());
        assert!(pairs.contains(&("Phone Number".into(), "(214) 555-0123".into())));
        assert!(pairs.contains(&("Email Address".into(), "ana@example.com".into())));
        assert!(!pairs.iter().any(|(l, _)| l == "Irrelevant"));
    }

    #[test]
    fn names_in_subjects() {
        for (subject, name) in [
            (
                "Ana Silva is interested in renting with you at The Park",
                Some("Ana Silva"),
            ),
            ("Message from Ana Silva for The Park", Some("Ana Silva")),
            (
                "12 Elm St #3 StreetEasy Inquiry From Ms. Gray",
                Some("Ms. Gray"),
            ),
            ("New ForRent Lead | Ana Silva - The Park", Some("Ana Silva")),
            ("New realtor.com lead - Ana Silva", Some("Ana Silva")),
            ("Your weekly listing report", None),
            ("Message from 555 Main St", None),
        ] {
            assert_eq!(subject_name(subject).as_deref(), name, "{subject}");
        }
    }

    #[test]
    fn says_lines_and_street_lines() {
        let text = "New Contact\nAna Silva says:\n\"Is it still available?\"\nana@example.com\n212.555.0199\nYour listing\n$2,000\n40 Pine St #3B, Austin, TX";
        assert_eq!(
            says(text),
            Some(("Ana Silva".into(), "Is it still available?".into()))
        );
        assert_eq!(street_line(text), Some("40 Pine St".into()));
        assert_eq!(street_line("Call 212 555 0199 today"), None);
    }

    #[test]
    fn the_prospect_is_reply_to_before_from_and_never_the_portal() {
        let m = Message {
            from: vec![mailbox(Some("StreetEasy"), "noreply@email.streeteasy.com")],
            reply_to: vec![mailbox(None, "ana@example.com")],
            text: Some(
                "Name: Ana Silva\nMessage: Is it available still, and when can I see it?".into(),
            ),
            ..Message::default()
        };
        let (raw, _) = read(&m);
        assert_eq!(raw.email.as_deref(), Some("ana@example.com"));
        assert_eq!(raw.lead_source.as_deref(), Some("StreetEasy"));
        let relayed = Message {
            from: vec![mailbox(
                Some("Zed Park <zed@example.net> via Zumper"),
                "x1@zlead.co",
            )],
            text: Some("Message: hello there, I would like to see the place".into()),
            ..Message::default()
        };
        let (raw, _) = read(&relayed);
        assert_eq!(
            raw.email.as_deref(),
            Some("x1@zlead.co"),
            "a relay when nothing better exists"
        );
        assert_eq!(raw.full_name.as_deref(), Some("Zed Park"));
    }
}
