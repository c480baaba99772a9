//! The generic reader: mail nobody wrote a module for. leadmetadata.org `<meta
//! name="lead_*">` tags anywhere in the document; then label/value pairs in the text and in
//! HTML tables; then contacts without labels, names in sentences, a person's own words; then
//! the headers (Reply-To before From, display names). Relay addresses are kept only when
//! nothing better exists; a portal's own address is never the prospect's. Portal modules
//! start from this reading.

use super::{is_portal_address, is_portal_name};
use crate::email::message::{Mailbox, Message};
use crate::email::read::{
    Reading, SENTENCE_PHONE, bare_contacts, greeting_name, is_machine_address, is_platform_name,
    is_relay, is_role_address, label_values, link_contacts, metadata_meaning, own_words,
    personal_message, quoted_line, registrable_domain, says, sentence_name, street_line,
    subject_name, transcript_words, unquoted,
};
use crate::fields::{LeadReader, Meaning, canonical};
use crate::normalize::RawLead;
use serde_json::Value;

/// A portal's own address (not its relay): never the prospect's.
fn is_portal(address: &str) -> bool {
    is_portal_address(address) && !is_relay(address)
}

/// The lead read the generic way. `portal_mail` allows guesses only a portal's layout
/// makes safe (a street-address line anywhere in the text).
pub fn generic(r: &Reading, portal_mail: bool) -> RawLead {
    let message = r.message;
    let from_machine = message
        .from
        .first()
        .is_some_and(|m| is_machine_address(&m.address));
    let texts = &r.texts;
    let mut reader = LeadReader::new();
    let rules = Default::default();
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
            // A ruled label may be in a script `canonical` drops ("電話"): keyed whole.
            let key = if r.labels.names(&label) {
                crate::email::labels::label_key(&label)
            } else {
                canonical(&label)
            };
            if earlier.contains(&key) || !here.insert((key, value.clone())) {
                continue;
            }
            // A label the routing file names (`[email.fields]`) is read as it says; any
            // other as the alias table does.
            match r.labels.rule(&label) {
                Some(m) => reader.with_meaning(&label, m.clone(), &Value::String(value)),
                None => reader.field(&label, &Value::String(value), &rules),
            }
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
    // A chat transcript: its visitor's lines are the prospect's words, and a number or an
    // address they typed is theirs.
    let visitor = raw.full_name.clone().or_else(|| {
        raw.first_name.as_ref().map(|f| {
            format!("{f} {}", raw.last_name.as_deref().unwrap_or(""))
                .trim()
                .to_owned()
        })
    });
    if let Some(lines) = texts
        .iter()
        .find_map(|t| transcript_words(t, visitor.as_deref()))
    {
        let said = lines.join("\n");
        if raw.phone.is_none() {
            raw.phone = crate::fields::prose::phone_in(&said);
        }
        if raw.email.is_none() {
            raw.email = crate::fields::prose::email_in(&said);
        }
        if raw.note.is_none() {
            raw.note = Some(said);
        }
    }
    // Labels beside a paragraph the person wrote ("I'm interested in 12 Elm St…" above
    // `Name:` and `Phone:` lines): the paragraph is the note, and an address in it the
    // property.
    if (labelled || portal_mail)
        && raw.note.is_none()
        && let Some(words) = texts.iter().find_map(|t| own_words(t))
    {
        if raw
            .listing
            .as_ref()
            .and_then(|l| l.property.as_ref())
            .is_none()
            && !portal_mail
            && let Some(address) = crate::postal::address_line(&words).filter(|a| a.city.is_some())
        {
            raw.listing.get_or_insert_with(Default::default).property =
                Some(crate::lead::Property {
                    address: Some(address),
                });
        }
        raw.note = Some(words);
    }
    // A person's own mail (an inquiry written to the agent, or quoted in the agent's reply):
    // no labels, so its words are the note, and a number or an address inside a sentence
    // is theirs (in a reply, above what it quotes: the quote holds the other side's
    // signature).
    if !labelled
        && !portal_mail
        && let Some(text) = texts.first()
    {
        // A no-reply notice is no one's own words.
        if raw.note.is_none() && !from_machine {
            raw.note = personal_message(text);
        }
        if raw.phone.is_none() {
            raw.phone = SENTENCE_PHONE
                .find(unquoted(text))
                .map(|m| m.as_str().to_owned());
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
            .or_else(|| texts.iter().find_map(|t| street_line(above_footer(t))))
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
    // A reply's contacts are above what it quotes: below are the other side's.
    let reply = message
        .subject
        .trim()
        .to_ascii_lowercase()
        .starts_with("re:");
    for text in texts {
        let contacts = bare_contacts(if reply { unquoted(text) } else { text }, &is_portal);
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
    // A missed-call or text notice: the number it says the call came from.
    if raw.phone.is_none() {
        raw.phone = texts
            .iter()
            .find_map(|t| crate::fields::prose::caller_phone(t));
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
    // An address written in a sentence ("New lead: Ana Silva, ana@example.com, …"), when
    // neither a label nor the headers gave one: never the sender's own domain's (its staff,
    // its help desk), nor a team's or a portal's.
    if raw.email.is_none() && !labelled {
        let sender = message
            .from
            .first()
            .and_then(|m| registrable_domain(&m.address));
        raw.email = texts.first().and_then(|t| {
            crate::fields::prose::email_in(unquoted(t)).filter(|e| {
                !is_role_address(e)
                    && !is_portal(e)
                    && (sender.is_none() || registrable_domain(e) != sender)
            })
        });
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

/// A notice's text above its footer (the copyright line, "Our mailing address is:", the
/// unsubscribe link): the address below is the sender's office, never the property.
fn above_footer(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.to_lowercase();
        if [
            "copyright",
            "©",
            "all rights reserved",
            "our mailing address",
            "unsubscribe",
        ]
        .iter()
        .any(|m| lower.contains(m))
        {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

/// The prospect's mailbox from the headers: Reply-To, then From, past portals; a relay only
/// when nothing better exists.
fn prospect_mailbox(message: &Message) -> Option<&Mailbox> {
    let candidates: Vec<&Mailbox> = message.reply_to.iter().chain(message.from.iter()).collect();
    candidates
        .iter()
        .find(|m| !is_relay(&m.address) && !is_portal(&m.address) && !is_role_address(&m.address))
        .or_else(|| candidates.iter().find(|m| is_relay(&m.address)))
        .copied()
}

/// A display name that is a person's: not the portal's, not "X via Y"'s tail.
fn person_name(mailbox: &Mailbox) -> Option<String> {
    let name = mailbox.name.as_deref()?.trim();
    let relayed = name.contains(" via ") || is_relay(&mailbox.address);
    // A team's or a system's address: its display name is the sender's, no prospect's.
    if !relayed && is_role_address(&mailbox.address) {
        return None;
    }
    let name = name.split(" via ").next().unwrap_or(name).trim();
    let name = name.split(" (via").next().unwrap_or(name).trim();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::portals::read;

    fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox {
            name: name.map(Into::into),
            address: address.into(),
        }
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
