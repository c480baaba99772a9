//! Reading a lead out of a message, the generic way every mature parser falls back to:
//! leadmetadata.org `<meta name="lead_*">` tags anywhere in the document; then label/value
//! pairs in the text and in HTML tables; then the headers (Reply-To before From, display
//! names). Relay addresses are kept only when nothing better exists; the portal's own
//! address is never the prospect's.

use super::message::{Mailbox, Message};
use crate::normalize::RawLead;
use crate::webhook::fields::{LeadReader, Meaning, canonical, meaning_of};
use serde_json::Value;

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

/// Portals and lead services by sender domain: never the prospect, and the lead's source.
const PORTALS: &[(&str, &str)] = &[
    ("streeteasy.com", "StreetEasy"),
    ("zillowrentals.com", "Zillow Rentals"),
    ("zillow.com", "Zillow"),
    ("trulia.com", "Trulia"),
    ("hotpads.com", "HotPads"),
    ("realtor.com", "Realtor.com"),
    ("move.com", "Realtor.com"),
    ("homes.com", "Homes.com"),
    ("redfin.com", "Redfin"),
    ("apartments.com", "Apartments.com"),
    ("apartmentlist.com", "Apartment List"),
    ("zumper.com", "Zumper"),
    ("zlead.co", "Zumper"),
    ("padmapper.com", "PadMapper"),
    ("forrent.com", "ForRent"),
    ("apartmentguide.com", "Apartment Guide"),
    ("rent.com", "Rent.com"),
    ("apartmentsearch.com", "ApartmentSearch"),
    ("rentbits.com", "RentBits"),
    ("abodoapts.com", "ABODO"),
    ("abodo.com", "ABODO"),
    ("yelp.com", "Yelp"),
    ("craigslist.org", "Craigslist"),
    ("upnest.com", "UpNest"),
    ("olr.com", "OLR"),
    ("nakedapartments.com", "Naked Apartments"),
    ("wufoo.com", "Wufoo"),
    ("facebookmail.com", "Facebook"),
    ("elliman.com", "Elliman"),
];

fn domain_of(address: &str) -> &str {
    address.rsplit('@').next().unwrap_or("")
}

fn on_domain(address: &str, domain: &str) -> bool {
    let d = domain_of(address);
    d == domain || d.ends_with(&format!(".{domain}"))
}

pub fn is_relay(address: &str) -> bool {
    RELAYS.iter().any(|r| on_domain(address, r))
}

/// The portal a message comes from, by its sender's domain.
pub fn portal(message: &Message) -> Option<&'static str> {
    let senders = message.from.iter().chain(message.reply_to.iter());
    for m in senders {
        if let Some((_, name)) = PORTALS.iter().find(|(d, _)| on_domain(&m.address, d)) {
            return Some(name);
        }
    }
    None
}

fn is_portal(address: &str) -> bool {
    PORTALS.iter().any(|(d, _)| on_domain(address, d)) && !is_relay(address)
}

/// The HTML part rendered as text, one cell a line: html2text's table borders and link
/// brackets removed, and cells it sets side by side split apart.
pub fn html_text(message: &Message) -> Option<String> {
    let text = html2text::config::plain_no_decorate()
        .string_from_read(message.html.as_deref()?.as_bytes(), 200)
        .ok()?;
    let cleaned: String = text
        .chars()
        .map(|c| {
            if ('\u{2500}'..='\u{257F}').contains(&c) || c == '[' || c == ']' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut out = String::with_capacity(cleaned.len());
    for line in cleaned.lines() {
        for cell in line.split("   ").map(str::trim).filter(|c| !c.is_empty()) {
            out.push_str(cell);
            out.push('\n');
        }
    }
    Some(out)
}

/// leadmetadata.org tags: `<meta name="lead_name" content="…">`, anywhere in the document.
pub fn lead_metadata(doc: &scraper::Html) -> Vec<(String, String)> {
    let Ok(selector) = scraper::Selector::parse("meta[name]") else {
        return Vec::new();
    };
    doc.select(&selector)
        .filter_map(|m| {
            let name = m.value().attr("name")?.trim().to_ascii_lowercase();
            let content = m.value().attr("content")?.trim().to_owned();
            (name.starts_with("lead_") && !content.is_empty()).then_some((name, content))
        })
        .collect()
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
        "lead_version" | "lead_type" => Meaning::Ignore,
        _ => Meaning::Unknown,
    }
}

/// `Label: value` pairs in text (a value may sit on the line after its label), and
/// two-cell rows of HTML tables.
pub fn label_values(text: &str, html: Option<&scraper::Html>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        // A line that is exactly a well-known label ("Name", "Phone", "MLS ID") with its
        // value on the next line, as table-laid-out emails render. Only the table's own
        // entries count here, not keys it merely guesses at.
        let bare = line.trim_end_matches(['*', ':']).trim();
        if !line.contains(':')
            && bare.len() <= 30
            && i + 1 < lines.len()
            && !lines[i + 1].is_empty()
            && exact_label(bare)
        {
            pairs.push((
                bare.to_owned(),
                lines[i + 1].trim_start_matches('#').trim().to_owned(),
            ));
            i += 2;
            continue;
        }
        if let Some((label, value)) = line.split_once(':') {
            let label = label.trim().trim_end_matches(['*', '#']).trim();
            let known = !matches!(meaning_of(&canonical(label)), Meaning::Unknown);
            if known && !label.is_empty() && label.len() <= 80 && !label.contains("http") {
                // A required-field marker ("Name: * Ana") is not part of the value.
                let value = value.trim().trim_start_matches('*').trim();
                if value.is_empty() && i + 1 < lines.len() && !lines[i + 1].contains(':') {
                    pairs.push((label.to_owned(), lines[i + 1].to_owned()));
                    i += 1;
                } else if !value.is_empty() {
                    pairs.push((label.to_owned(), value.to_owned()));
                }
            }
        }
        i += 1;
    }
    if let Some(doc) = html
        && let (Ok(rows), Ok(cells)) = (
            scraper::Selector::parse("tr"),
            scraper::Selector::parse("td, th"),
        )
    {
        for row in doc.select(&rows) {
            let texts: Vec<String> = row
                .select(&cells)
                .map(|c| {
                    c.text()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|t| !t.is_empty())
                .collect();
            if texts.len() == 2 {
                let label = texts[0].trim_end_matches(':').trim();
                if !matches!(meaning_of(&canonical(label)), Meaning::Unknown) && label.len() <= 80 {
                    pairs.push((label.to_owned(), texts[1].clone()));
                }
            }
        }
    }
    pairs
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

/// Lines that are nothing but an email address or a phone number (a contact block with no
/// labels), for a lead that has none labelled.
fn bare_contacts(text: &str) -> (Option<String>, Option<String>) {
    let mut email = None;
    let mut phone = None;
    for line in text.lines().map(str::trim) {
        if email.is_none() && !line.contains(' ') && crate::normalize::email(line).is_ok() {
            email = Some(line.to_owned());
        }
        let digits = line.chars().filter(char::is_ascii_digit).count();
        let phone_like = line
            .chars()
            .all(|c| c.is_ascii_digit() || " ()+-.".contains(c));
        if phone.is_none() && phone_like && (10..=15).contains(&digits) {
            phone = Some(line.to_owned());
        }
    }
    (email, phone)
}

/// `mailto:` and `tel:` links (read after the visible text, which wins when they differ).
fn link_contacts(doc: &scraper::Html) -> (Option<String>, Option<String>) {
    let Ok(links) = scraper::Selector::parse("a[href]") else {
        return (None, None);
    };
    let mut email = None;
    let mut phone = None;
    for a in doc.select(&links) {
        let href = a.value().attr("href").unwrap_or("").trim();
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

/// "Ana Silva says:" then the message, as Zillow Group templates (Zillow, Trulia, HotPads)
/// introduce an inquiry: the name, and the quoted message on the following lines.
fn says(text: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let i = lines
        .iter()
        .position(|l| l.ends_with(" says:") && l.len() < 80)?;
    let name = lines[i].trim_end_matches(" says:").trim().to_owned();
    let mut message = Vec::new();
    for line in &lines[i + 1..] {
        if line.is_empty() && message.is_empty() {
            continue;
        }
        if line.is_empty() || line.contains('@') || bare_contacts(line).1.is_some() {
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

const STREET_SUFFIXES: &[&str] = &[
    "st",
    "street",
    "ave",
    "avenue",
    "blvd",
    "boulevard",
    "pl",
    "place",
    "rd",
    "road",
    "dr",
    "drive",
    "way",
    "ln",
    "lane",
    "ct",
    "court",
    "cir",
    "circle",
    "pkwy",
    "parkway",
    "ter",
    "terrace",
    "trl",
    "trail",
    "hwy",
    "sq",
    "loop",
    "row",
];

/// The first line that reads as a street address ("138 Montague St #11, Brooklyn, NY"):
/// a house number, words, a street suffix. Up to the first comma, without the unit.
fn street_line(text: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        let street = line.split(',').next().unwrap_or("").trim();
        let street = street.split(" #").next().unwrap_or(street).trim();
        let words: Vec<&str> = street.split_whitespace().collect();
        if words.len() < 3 || words.len() > 8 {
            continue;
        }
        let number = words[0].chars().all(|c| c.is_ascii_digit() || c == '-')
            && words[0].chars().next().is_some_and(|c| c.is_ascii_digit());
        let suffix = words[1..].iter().any(|w| {
            STREET_SUFFIXES.contains(&w.trim_end_matches('.').to_ascii_lowercase().as_str())
        });
        if number && suffix {
            return Some(street.to_owned());
        }
    }
    None
}

/// A person's name in a subject: "Ana Silva is interested in…", "Message from Ana Silva for
/// …", "… Inquiry From Ana Silva", "New lead - Ana Silva", "Lead | Ana Silva - Property".
pub fn subject_name(subject: &str) -> Option<String> {
    let lower = subject.to_lowercase();
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
                let lower_after = after.to_lowercase();
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
    let plausible = (1..=5).contains(&words)
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
    if name.is_empty()
        || name.contains('@')
        || PORTALS.iter().any(|(_, p)| name.eq_ignore_ascii_case(p))
    {
        return None;
    }
    Some(name.to_owned())
}

/// The lead in a message, read the generic way.
pub fn read(message: &Message) -> RawLead {
    let mut reader = LeadReader::new();
    let rules = Default::default();
    // Parsed once, read three ways: meta tags, table rows, links.
    let doc = message.html.as_deref().map(scraper::Html::parse_document);
    if let Some(doc) = &doc {
        for (name, content) in lead_metadata(doc) {
            match metadata_meaning(&name) {
                Meaning::Unknown => {}
                m => reader.with_meaning(&name, m, &Value::String(content)),
            }
        }
    }
    // Both renderings: senders put different things in the plain and the HTML part.
    let mut texts: Vec<String> = message.text.iter().cloned().collect();
    texts.extend(html_text(message));
    let mut seen = std::collections::HashSet::new();
    for (i, text) in texts.iter().enumerate() {
        let html = if i + 1 == texts.len() {
            doc.as_ref()
        } else {
            None
        };
        for (label, value) in label_values(text, html) {
            if seen.insert((canonical(&label), value.clone())) {
                reader.field(&label, &Value::String(value), &rules);
            }
        }
    }
    for text in &texts {
        if let Some((name, message)) = says(text) {
            reader.with_meaning("says", Meaning::FullName, &Value::String(name));
            reader.with_meaning("says", Meaning::Message, &Value::String(message));
            break;
        }
    }
    let mut raw = reader.finish();
    let no_address = raw
        .listing
        .as_ref()
        .and_then(|l| l.property.as_ref())
        .and_then(|p| p.address.as_ref())
        .is_none();
    if no_address
        && portal(message).is_some()
        // The subject names the property more reliably than the body, whose footer may hold
        // the portal's own office address.
        && let Some(street) = street_line(&message.subject.replace(':', "\n"))
            .or_else(|| texts.iter().find_map(|t| street_line(t)))
    {
        let listing = raw.listing.get_or_insert_with(Default::default);
        listing.property = Some(crate::lead::Property {
            address: Some(crate::lead::Address {
                street_address: Some(street),
                ..Default::default()
            }),
        });
    }
    for text in &texts {
        let (email, phone) = bare_contacts(text);
        let relayed = raw.email.as_deref().is_some_and(is_relay);
        if let Some(e) =
            email.filter(|e| (raw.email.is_none() || relayed) && !is_relay(e) && !is_portal(e))
        {
            raw.email = Some(e);
        }
        if raw.phone.is_none() {
            raw.phone = phone;
        }
    }
    if let Some(doc) = &doc {
        let (email, phone) = link_contacts(doc);
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
    if raw.lead_source.is_none() {
        raw.lead_source = portal(message).map(str::to_owned);
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox {
            name: name.map(Into::into),
            address: address.into(),
        }
    }

    #[test]
    fn lead_metadata_tags_are_read_anywhere_in_the_document() {
        let html = r#"<html><body><meta name="lead_name" content="Ana Silva"><meta name="lead_email" content="ana@example.com"><meta name="robots" content="x"><p>Hi</p></body></html>"#;
        assert_eq!(
            lead_metadata(&scraper::Html::parse_document(html)),
            vec![
                ("lead_name".into(), "Ana Silva".into()),
                ("lead_email".into(), "ana@example.com".into())
            ]
        );
    }

    #[test]
    fn label_values_in_text_and_tables() {
        let text = "New lead!\nFirst Name: Ana\nLast Name: Silva\nPhone Number:\n(214) 555-0123\nComments: Call me after 5\nhttp://x: y";
        let table = scraper::Html::parse_document(
            "<table><tr><td>Email Address</td><td>ana@example.com</td></tr><tr><td>Irrelevant</td><td>x</td></tr></table>",
        );
        let pairs = label_values(text, Some(&table));
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
        let raw = read(&m);
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
        let raw = read(&relayed);
        assert_eq!(
            raw.email.as_deref(),
            Some("x1@zlead.co"),
            "a relay when nothing better exists"
        );
        assert_eq!(raw.full_name.as_deref(), Some("Zed Park"));
    }
}
