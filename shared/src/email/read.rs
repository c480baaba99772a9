//! What a reader finds in any message, whoever sent it: the message prepared for reading
//! (`Reading`), label/value pairs in its text and tables, contacts written without labels,
//! names in subjects and sentences, a person's own words, relays and mail providers. The
//! generic reader (`portals::generic`) and each portal's module build on these; nothing
//! here knows a portal.

use super::html::HtmlReading;
use super::labels::LabelRules;
use super::message::Message;
use crate::fields::{Meaning, canonical};
use regex::Regex;
use std::sync::LazyLock;

pub(crate) use super::addresses::registrable_domain;
pub use super::addresses::{
    is_free_mail, is_machine_address, is_relay, is_role_address, on_domain,
};
pub(crate) use crate::fields::prose::{SENTENCE_PHONE, greeting_name};

/// The site or platform that sent a notice no portal module knows, as its lead source: the
/// registrable part of the sender's domain (`forms.sitebuilder.example` → `sitebuilder.example`).
/// None for a person's own mail at a mail provider, or a forwarding agent's.
pub(crate) fn sender_platform(message: &Message) -> Option<String> {
    let from = message.from.first()?;
    if is_free_mail(&from.address) || is_relay(&from.address) {
        return None;
    }
    let domain = registrable_domain(&from.address)?;
    // The name the platform signs with, when it is the domain's own ("ChatPal" at
    // `chatpal.example`, "Open House Pro" at `openhousepro.example`): as people call it.
    let brand: String = domain
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    // "RentNest Leads", "ChatPal Notifications": the platform's name before its desk's.
    let signed = from.name.as_deref().map(|n| {
        let words: Vec<&str> = n.split_whitespace().collect();
        let kept = words
            .iter()
            .rposition(|w| !PLATFORM_WORDS.contains(&w.to_lowercase().as_str()))
            .map_or(0, |i| i + 1);
        words[..kept].join(" ")
    });
    let signed = signed.as_deref().filter(|n| {
        let squeezed: String = n
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        !squeezed.is_empty() && squeezed == brand && n.len() <= 40
    });
    Some(signed.map_or(domain, str::to_owned))
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

pub(crate) fn metadata_meaning(name: &str) -> Meaning {
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

/// A label the routing file names, the alias table knows, or whose words say what it is.
fn known_label(label: &str, rules: &LabelRules) -> bool {
    !matches!(rules.meaning(label), Meaning::Unknown)
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

/// Labels of a message's header block, quoted in a reply or a forward ("From:", "Sent:",
/// "To:", "Subject:"), in the languages mail clients write them.
const HEADER_LABELS: &[&str] = &[
    "from", "sent", "date", "to", "cc", "bcc", "subject", "de", "enviado", "para", "asunto", "von",
    "gesendet", "an", "betreff", "envoye", "objet", "a", "assunto", "data",
];

fn header_label(line: &str) -> bool {
    line.split_once(':')
        .is_some_and(|(label, _)| HEADER_LABELS.contains(&canonical(label).as_str()))
}

/// Whether the line at `i` is one of a header block: two or more header lines together.
fn in_header_block(lines: &[&str], i: usize) -> bool {
    if !header_label(lines[i]) {
        return false;
    }
    let near = |j: usize| j != i && lines.get(j).is_some_and(|l| header_label(l));
    (i.saturating_sub(3)..i + 4).any(near)
}

/// Where a label starts in a line whose line breaks were lost ("First Name: A Last Name: B
/// Email Address: c@d"): before each `:` the longest run of up to four words that the
/// alias table lists, starting with a capital; or, once the line has two such, a run of
/// capitalized words ("Move-In Date:"). A colon inside a value (a time, a link) is none.
fn label_starts(line: &str) -> Vec<usize> {
    let mut listed = Vec::new();
    let mut titled = Vec::new();
    for (colon, _) in line.match_indices(':') {
        if line[colon + 1..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace())
        {
            continue;
        }
        let before = &line[..colon];
        // The starts of the last words before the colon.
        let mut starts: Vec<usize> = before
            .char_indices()
            .filter(|(i, c)| {
                !c.is_whitespace() && (*i == 0 || before[..*i].ends_with(char::is_whitespace))
            })
            .map(|(i, _)| i)
            .collect();
        starts.reverse();
        starts.truncate(4);
        let capital = |at: usize| before[at..].chars().next().is_some_and(char::is_uppercase);
        let found = starts.iter().rev().find(|&&at| {
            let phrase = before[at..].trim();
            !phrase.contains(':') && capital(at) && crate::fields::listed(phrase)
        });
        match found {
            Some(&at) => listed.push(at),
            None => {
                // Capitalized words back from the colon, at most three.
                let run: Vec<usize> = starts
                    .iter()
                    .take(3)
                    .take_while(|&&at| capital(at) && !before[at..].contains(':'))
                    .copied()
                    .collect();
                if let Some(&at) = run.last() {
                    titled.push(at);
                }
            }
        }
    }
    if listed.len() < 2 {
        return Vec::new();
    }
    let mut all: Vec<usize> = listed.into_iter().chain(titled).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// A line's labels each on a line of its own, when its line breaks were lost.
fn split_run_together(line: &str) -> Vec<String> {
    let starts = label_starts(line);
    if starts.is_empty() {
        return vec![line.to_owned()];
    }
    let mut out = Vec::new();
    let mut from = 0;
    for at in starts.into_iter().chain(std::iter::once(line.len())) {
        let piece = line[from..at].trim();
        if !piece.is_empty() {
            out.push(piece.to_owned());
        }
        from = at;
    }
    out
}

fn label_values_into(
    text: &str,
    html: Option<&HtmlReading>,
    rules: &LabelRules,
    pairs: &mut Vec<(String, String)>,
) {
    let split: Vec<String> = text.lines().flat_map(split_run_together).collect();
    let lines: Vec<&str> = split.iter().map(|l| l.trim()).collect();
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
            && known_label(label, rules)
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
            let known = known_label(label, rules) && !in_header_block(&lines, i);
            if known && !label.is_empty() && label.len() <= 80 && !label.contains("http") {
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
        // ("Ring me on  214-555-0123", "Teléfono – 214 555 0123"): only the
        // operator's own labels, which no sentence is likely to start with.
        if let Some((label, value)) = ruled_prefix(line, rules) {
            pairs.push((label.to_owned(), value.to_owned()));
        }
        i += 1;
    }
    for (label, value) in html.iter().flat_map(|h| &h.two_cell_rows) {
        let label = label.trim_end_matches(':').trim();
        if known_label(label, rules) && label.len() <= 80 {
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

/// Where a message that runs on over lines ends: another known label (or one the routing
/// file names), a rule, a signature's dashes, a quoted or forwarded block.
fn ends_message(line: &str, rules: &LabelRules) -> bool {
    let rule = ["--", "__", "==", "**"].iter().any(|r| line.starts_with(r));
    let labelled = line.split_once(':').is_some_and(|(label, _)| {
        let label = label.trim();
        label.len() <= 40 && !label.contains("http") && known_label(label, rules)
    });
    let ruled = ruled_prefix(line, rules).is_some()
        || rules.names(line.trim_end_matches(['*', ':']).trim());
    rule || labelled
        || ruled
        || template_line(line)
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
            | "cell"
            | "cellphone"
            | "mobile"
            | "mobilephone"
            | "telephone"
            | "contactnumber"
            | "bestnumber"
            | "questions"
            | "chatsummary"
            | "summary"
    )
}

/// Contacts written without labels.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Contacts {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

static NAME_AND_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([^<>@:|]{2,60}?)\s*<([^<>\s]+@[^<>\s]+)>$").expect("valid pattern")
});

/// Lines that are nothing but an email address, a phone number or `Name <address>` (a
/// contact block with no labels), for a lead that has none labelled.
/// `not_prospect` says which addresses are never the prospect's (a portal's own).
pub(crate) fn bare_contacts(text: &str, not_prospect: &dyn Fn(&str) -> bool) -> Contacts {
    let mut found = Contacts::default();
    let mut previous = "";
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let above = std::mem::replace(&mut previous, line);
        // Both kinds of address line hold an `@`; most lines hold none and skip the pattern.
        let addressed = found.email.is_none() && line.contains('@');
        if addressed
            && let Some(c) = NAME_AND_ADDRESS.captures(line)
            && !not_prospect(&c[2])
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
            // A contact block: the person's name on the line above their address.
            if found.name.is_none() && name_line(above) {
                found.name = Some(above.to_owned());
            }
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

/// A line that is a person's name and nothing else: two to four capitalized words, no
/// label, no digits, no platform's or portal's name ("Ana M. Silva", "Jean-Luc O'Neil").
fn name_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    (2..=4).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars().all(|c| c.is_alphabetic() || "'’.-".contains(c))
        })
        && !known_label(line, LabelRules::none())
        && !is_platform_name(line)
        && !words
            .iter()
            .any(|w| NOT_A_NAME.contains(&w.to_lowercase().as_str()))
}

/// `mailto:` and `tel:` links (read after the visible text, which wins when they differ).
pub(crate) fn link_contacts(links: &[String]) -> (Option<String>, Option<String>) {
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
pub(crate) fn says(text: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let (i, name) = lines.iter().enumerate().find_map(|(i, l)| {
        let name = SAYS
            .iter()
            .find_map(|intro| l.strip_suffix(intro))
            .filter(|_| l.len() < 80)?;
        // "ana silva is interested in 2B and says:": the name stops where the sentence
        // goes on.
        let name = match sentence_name(name) {
            Some((person, _)) => person,
            None => name.trim().to_owned(),
        };
        Some((i, name))
    })?;
    let mut message = Vec::new();
    for line in &lines[i + 1..] {
        if line.is_empty() && message.is_empty() {
            continue;
        }
        if line.is_empty() || line.contains('@') || bare_contacts(line, &|_| false).phone.is_some()
        {
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
        " is requesting",
        " is looking at",
        " is \"looking\" at",
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

pub(crate) fn is_platform_name(name: &str) -> bool {
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
    " is looking at",
    " is looking for",
    " is requesting",
    " has requested",
    " asked about",
    " sent you a message",
    " has sent you",
];

/// A person named at the start of a line by such a sentence, and the rest of the line after
/// the marker: two to four words, each capitalized (or the whole name in capitals).
pub(crate) fn sentence_name(text: &str) -> Option<(String, String)> {
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
        let letters = |w: &&str| w.chars().all(|c| c.is_alphabetic() || "'-.".contains(c));
        let capitalized = words
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase) && letters(w));
        // A name as typed in lower case ("griffin bouchard is interested in…"): two or three
        // words, none of them a word that opens such a sentence about no one in particular.
        let lower_case = (2..=3).contains(&words.len())
            && words.iter().all(|w| {
                w.chars().all(|c| c.is_lowercase() || "'-".contains(c))
                    && letters(w)
                    && !NOT_A_NAME.contains(w)
            });
        ((2..=4).contains(&words.len()) && (capitalized || lower_case) && !is_platform_name(name))
            .then(|| (name.to_owned(), line[at + marker.len()..].trim().to_owned()))
    })
}

/// Words that open a sentence about someone unnamed ("a renter is interested in…", "your
/// client would like to…").
const NOT_A_NAME: &[&str] = &[
    "a", "an", "the", "this", "that", "your", "our", "my", "his", "her", "their", "someone",
    "somebody", "renter", "buyer", "seller", "client", "customer", "user", "visitor", "lead",
    "prospect", "person", "guest", "new", "he", "she", "they", "we", "you", "who", "one",
    "student", "tenant", "family", "couple", "agent", "also", "still", "and", "or",
];

/// Mail a person wrote themselves: a reply, or from a mail provider's address.
pub(crate) fn is_personal(message: &Message) -> bool {
    let subject = message.subject.trim().to_ascii_lowercase();
    subject.starts_with("re:")
        || message
            .from
            .first()
            .is_some_and(|m| is_free_mail(&m.address))
}

/// What a person wrote: the text up to a signature's dashes or a quoted block, without a
/// bare greeting line or the closing name lines.
pub(crate) fn personal_message(text: &str) -> Option<String> {
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

/// Where a reply's own text ends and what it quotes begins: "On … wrote:", a client's
/// "-----Original Message-----" or separator line, a header block, `>` lines.
pub(crate) fn unquoted(text: &str) -> &str {
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let trimmed: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    for (i, line) in trimmed.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        let wrote = (line.starts_with("On ") && line.ends_with("wrote:"))
            || lower.ends_with(" a écrit :")
            || lower.ends_with(" escribió:")
            || lower.ends_with(" schrieb:")
            || lower.ends_with(" escreveu:");
        let separator = lower.starts_with("-----original message")
            || lower.starts_with("________________")
            || line.starts_with('>');
        if wrote || separator || in_header_block(&trimmed, i) {
            return &text[..offset];
        }
        offset += lines[i].len();
    }
    text
}

/// Whether a line is a greeting ("Hello,", "Hi there,", "Dear Parkmerced,").
fn greeting(line: &str) -> bool {
    let w = line.trim_end_matches([',', '!', '.']).to_lowercase();
    w.split_whitespace().count() <= 3
        && [
            "hi",
            "hello",
            "hey",
            "dear",
            "good morning",
            "good afternoon",
            "good evening",
            "hola",
            "bonjour",
            "hallo",
        ]
        .iter()
        .any(|g| w == *g || w.starts_with(&format!("{g} ")))
}

/// Words a person writes of themselves, and words only a sender's template writes.
fn first_person(words: &[String], plural: bool) -> bool {
    words.iter().any(|w| {
        matches!(
            w.as_str(),
            "i" | "i'm" | "im" | "i'd" | "i've" | "i'll" | "my" | "me" | "mine"
        ) || (plural && matches!(w.as_str(), "we" | "we're" | "we'd" | "we've" | "our" | "us"))
    })
}

fn template_line(line: &str) -> bool {
    let lower = line.to_lowercase();
    [
        "you ",
        "your ",
        "you'",
        "reply",
        "respond",
        "view ",
        "click",
        "to reply",
        "or simply",
        "thank you for",
        "thanks for using",
        "sent from",
        "this email",
        "this message",
        "copyright",
        "©",
        "unsubscribe",
        "privacy",
        "all rights reserved",
        "do not reply",
        "please do not",
        "why am i",
        "download",
        "manage ",
    ]
    .iter()
    .any(|t| lower.starts_with(t))
        || [
            "unsubscribe",
            "privacy policy",
            "all rights reserved",
            "this email",
            "©",
            "contact us",
            "have any questions",
        ]
        .iter()
        .any(|t| lower.contains(t))
}

/// The person's own words in a notice that also holds labels: a paragraph they wrote
/// (speaking of themselves, "I'm interested in…", or greeting the recipient, "Hello, we
/// are looking…"), and the lines after it up to the next label, rule, link or template
/// sentence ("In which ZIP code…? 94132", "Describe your need: …").
pub(crate) fn own_words(text: &str) -> Option<String> {
    let lines: Vec<&str> = unquoted(text).lines().map(str::trim).collect();
    let stop = |l: &str| {
        let rule = ["--", "__", "==", "**", "* * *"]
            .iter()
            .any(|r| l.starts_with(r));
        let labelled = l.split_once(':').is_some_and(|(label, value)| {
            !value.trim().is_empty()
                && label.len() <= 40
                && known_label(label.trim(), LabelRules::none())
        });
        // A table's label cell renders as a line of its own ("Name", then "Ana Silva"), and
        // a contact block's lines are an address or a number alone.
        let label_alone = l.len() <= 40 && exact_label(l.trim_end_matches(':'));
        let contact_alone = !l.contains(' ') && crate::normalize::email(l).is_ok()
            || (10..=15).contains(&l.bytes().filter(u8::is_ascii_digit).count())
                && l.bytes()
                    .all(|b| b.is_ascii_digit() || b" ()+-.".contains(&b));
        rule || labelled
            || label_alone
            || contact_alone
            || l.contains("http://")
            || l.contains("https://")
            || l.starts_with('[')
            || template_line(l)
    };
    let words_of = |l: &str| -> Vec<String> {
        l.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
            .filter(|w| !w.is_empty())
            .map(|w| w.replace('’', "'").to_lowercase())
            .collect()
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let greeted = greeting(line)
            || lines[..i]
                .iter()
                .rev()
                .find(|l| !l.is_empty())
                .is_some_and(|l| greeting(l));
        let words = words_of(line);
        // A form's line ("Desired Size: Show me everything", "- Move-In: …") is no one's
        // paragraph.
        let form_line = line.starts_with(['-', '•', '*', '|'])
            || line.split_once(':').is_some_and(|(label, value)| {
                !value.trim().is_empty()
                    && label.split_whitespace().count() <= 5
                    && !label.contains("http")
            });
        let opens = !stop(line)
            && !form_line
            && !greeting(line)
            && words.len() >= 5
            && first_person(&words, greeted);
        if !opens {
            i += 1;
            continue;
        }
        // Words set off in quotes end at the closing quote, and the quotes are no part of
        // them.
        let quoted_whole =
            line.len() > 2 && line.starts_with(['"', '“']) && line.ends_with(['"', '”']);
        let mut taken = vec![if quoted_whole {
            line.trim_matches(['"', '“', '”']).trim()
        } else {
            line
        }];
        let mut blanks = 0;
        for next in lines[i + 1..].iter().take_while(|_| !quoted_whole) {
            if next.is_empty() {
                blanks += 1;
                if blanks >= 3 {
                    break;
                }
                continue;
            }
            if stop(next) || taken.len() >= 15 {
                break;
            }
            blanks = 0;
            taken.push(next);
        }
        // A closing ("Thanks,", "Ana") is no part of the message.
        while taken.len() > 1
            && taken
                .last()
                .is_some_and(|l| l.split_whitespace().count() <= 2)
        {
            taken.pop();
        }
        return Some(taken.join("\n"));
    }
    None
}

/// A chat transcript's lines written by its visitor: `[3:02 PM] Ana Silva: …`, `Visitor:
/// …`, the speaker being the person named (`visitor`), or called a visitor, guest or
/// customer. `None` when the text is no transcript (fewer than two speakers' lines).
pub(crate) fn transcript_words(text: &str, visitor: Option<&str>) -> Option<Vec<String>> {
    static LINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:[\[(]?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?[\])]?\s*[-–]?\s*)?([^:\[\]]{1,48}?):\s+(.+)$")
            .expect("valid pattern")
    });
    let mut spoken: Vec<(String, String, bool)> = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some(c) = LINE.captures(line) else {
            continue;
        };
        let timed = line
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_digit() || ch == '[' || ch == '(');
        spoken.push((c[1].trim().to_owned(), c[2].trim().to_owned(), timed));
    }
    let timed = spoken.iter().filter(|(_, _, t)| *t).count();
    let speakers: std::collections::HashSet<&str> = spoken
        .iter()
        .filter(|(_, _, t)| *t || timed == 0)
        .map(|(s, _, _)| s.as_str())
        .collect();
    if timed < 2 || speakers.len() < 2 {
        return None;
    }
    let is_visitor = |speaker: &str| {
        let lower = speaker.to_lowercase();
        visitor.is_some_and(|v| lower == v.to_lowercase() || lower.starts_with(&v.to_lowercase()))
            || ["visitor", "guest", "customer", "client", "prospect", "you"]
                .iter()
                .any(|w| lower == *w || lower.starts_with(&format!("{w} ")))
    };
    let lines: Vec<String> = spoken
        .into_iter()
        .filter(|(s, _, t)| *t && is_visitor(s))
        .map(|(_, words, _)| words)
        .collect();
    (!lines.is_empty()).then_some(lines)
}

/// A line wholly in quotes: how notices set off the person's own words.
pub(crate) fn quoted_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find_map(|l| {
        let inner = l.strip_prefix(['"', '“'])?.strip_suffix(['"', '”'])?.trim();
        (inner.split_whitespace().count() >= 3).then(|| inner.to_owned())
    })
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
}
