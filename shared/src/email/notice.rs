//! What a notice says of itself, apart from the person in it: whether it asks anything of
//! the agent (a notice from a no-reply sender that asks nothing is no lead), and which
//! platform it names as where the lead came from (the lead source, rather than the domain
//! of the mail service that carried it).

use super::read::{Reading, label_values, says, sentence_name};
use crate::fields::Meaning;
use regex::Regex;
use std::sync::LazyLock;

/// Phrases of an inquiry: someone asking about a home, a tour, a call back.
const INQUIRY_PHRASES: &[&str] = &[
    "inquiry",
    "enquiry",
    "interested in",
    "would like to see",
    "would like to tour",
    "would like more information",
    "would like information",
    "question about",
    "questions about",
    "sent you a message",
    "has sent you",
    "left a message",
    "wants to",
    "contact form",
    "form submission",
    "new contact",
    "new lead",
    "still available",
    "call me",
    "call back",
    "callback",
    "request a tour",
    "requested a tour",
    "tour request",
    "showing request",
    "schedule a showing",
    "schedule a tour",
    "guest card",
    "requested information",
    "request for information",
    "looking for a home",
    "looking to buy",
    "looking to sell",
    "looking to rent",
    "chat transcript",
    "offline message",
    "missed call",
    "missed a call",
    "missed a phone call",
    "missed a lead",
    "call from",
    "tried calling",
    "tried to call",
    "text message from",
    "voicemail from",
];

/// Whether a message asks anything of the agent: a person's contact given under labels, a
/// portal's "… says:" or "… is interested in", or an inquiry's words in its subject or text.
/// A notice from a no-reply or notification sender without any is no lead.
pub fn has_inquiry(r: &Reading) -> bool {
    let person_labelled = r.texts.iter().enumerate().any(|(i, text)| {
        let html = (i + 1 == r.texts.len())
            .then_some(r.html.as_ref())
            .flatten();
        label_values(text, html, r.labels)
            .iter()
            .any(|(label, value)| {
                matches!(
                    r.labels.meaning(label),
                    Meaning::Email
                        | Meaning::Phone
                        | Meaning::FullName
                        | Meaning::FirstName
                        | Meaning::LastName
                        | Meaning::Contact
                        | Meaning::Message
                ) && !value.trim().is_empty()
            })
    });
    person_labelled
        || r.texts
            .iter()
            .any(|t| says(t).is_some() || sentence_name(t).is_some())
        || INQUIRY_PHRASES
            .iter()
            .any(|p| r.lower_subject.contains(p) || r.lower_text.contains(p))
}

/// A platform's name as notices write it: capitalized words ("ChatPal", "HomeSwap
/// Marketplace", "Westbrook University Off-Campus Housing", "Tawk.to"), small joining
/// words allowed inside.
const PLATFORM_NAME: &str =
    r"((?:[A-Z0-9][\w.&'’-]*)(?:\s+(?:(?:of|the|de|and|&|at|for)\s+)?[A-Z0-9][\w.&'’-]*){0,6})";

static PLATFORM_SENTENCES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // "received via ChatPal", "sent through the … website", "left via …", "submitted on …".
        r"(?i:\b(?:sent|submitted|received|left|made|posted|placed|started|delivered|generated|created|came|arrived)\s+(?:(?:an?|new|the)\s+)?(?:\w+\s+)?(?:to\s+you\s+)?(?:via|through|from|on|using)\s+(?:the\s+)?)NAME",
        // "message received via ChatPal", "inquiry through …", "chat from …".
        r"(?i:\b(?:inquiry|enquiry|message|lead|chat|request|contact|submission)\s+(?:received\s+)?(?:via|through|on)\s+(?:the\s+)?)NAME",
        // "your listing on HomeSwap Marketplace".
        r"(?i:\byour\s+(?:listing|property|ad|post|rental)\s+on\s+(?:the\s+)?)NAME",
        // "New message via Marketplace" in a subject.
        r"(?i:\b(?:via|through)\s+(?:the\s+)?)NAME",
    ]
    .iter()
    .map(|p| Regex::new(&p.replace("NAME", PLATFORM_NAME)).expect("valid pattern"))
    .collect()
});

/// Names that are the carrier of the mail or the device it was written on, not where the
/// lead came from ("Sent from Mail for Windows", "via Gmail", "powered by HelpDesk").
const CARRIERS: &[&str] = &[
    "mail",
    "gmail",
    "outlook",
    "yahoo",
    "iphone",
    "ipad",
    "android",
    "windows",
    "samsung",
    "blackberry",
    "email",
    "e-mail",
    "sms",
    "text",
    "phone",
    "zendesk",
    "freshdesk",
    "sendgrid",
    "mailgun",
    "mailchimp",
    "website",
    "web",
    "site",
    "app",
    "form",
    "link",
];

/// The platform a notice names as where its lead came from, in its subject or text: never a
/// person's name (the lead's own), a carrier, or a device.
pub fn named_platform(r: &Reading, lead: &crate::normalize::RawLead) -> Option<String> {
    let person: Vec<String> = [&lead.first_name, &lead.last_name, &lead.full_name]
        .into_iter()
        .flatten()
        .flat_map(|n| {
            n.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    let texts =
        std::iter::once(r.message.subject.as_str()).chain(r.texts.iter().map(String::as_str));
    for text in texts {
        for pattern in PLATFORM_SENTENCES.iter() {
            for c in pattern.captures_iter(text) {
                let name = c[1]
                    .trim_end_matches(['.', ',', ':', ';', '\'', '’'])
                    .trim();
                let words: Vec<String> = name.split_whitespace().map(str::to_lowercase).collect();
                // "Mail for Windows", "Outlook for iOS", "my iPhone": a carrier at either end.
                let carrier = [words.first(), words.last()]
                    .into_iter()
                    .flatten()
                    .any(|w| CARRIERS.contains(&w.as_str()));
                let someone = !person.is_empty() && words.iter().any(|w| person.contains(w));
                let domain = name.contains('.')
                    && !name.contains(' ')
                    && name.chars().filter(|c| *c == '.').count() > 1;
                if name.len() >= 3
                    && !carrier
                    && !someone
                    && !domain
                    && name.chars().any(char::is_alphabetic)
                {
                    return Some(name.to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::message::{Mailbox, Message};
    use crate::normalize::RawLead;

    fn message(from: &str, subject: &str, text: &str) -> Message {
        Message {
            from: vec![Mailbox {
                name: None,
                address: from.into(),
            }],
            subject: subject.into(),
            text: Some(text.into()),
            ..Message::default()
        }
    }

    #[test]
    fn the_platform_named_is_the_source_never_a_carrier_device_or_the_person() {
        let ana = RawLead {
            full_name: Some("Ana Silva".into()),
            ..RawLead::default()
        };
        for (subject, text, want) in [
            ("Offline message received via ChatPal", "", Some("ChatPal")),
            (
                "Inquiry",
                "You have received an inquiry through the Lakeside College Housing Office website.",
                Some("Lakeside College Housing Office"),
            ),
            (
                "Hello",
                "I'd like a tour.\n\nSent from Mail for Windows",
                None,
            ),
            ("Hello", "Sent from my iPhone", None),
            ("Re: 12 Elm", "Sent via Outlook for iOS", None),
            ("Message", "A message from Ana Silva", None),
            ("Note", "sent via mail.relay.example", None),
        ] {
            let m = message("someone@example.com", subject, text);
            let r = Reading::new(&m);
            assert_eq!(
                named_platform(&r, &ana).as_deref(),
                want,
                "{subject} / {text}"
            );
        }
    }

    #[test]
    fn an_inquiry_is_told_from_a_notice_that_asks_nothing() {
        for (subject, text, want) in [
            ("New lead: Jane Doe", "jane@example.com", true),
            (
                "Sign-in",
                "Visitor Name: Tomas Reyes\nVisitor Phone: 415-555-0102",
                true,
            ),
            (
                "You may have missed a lead",
                "You received a call from 303-555-0101",
                true,
            ),
            (
                "Your free trial ends in 3 days",
                "Upgrade now to keep your reports.",
                false,
            ),
            (
                "Scheduled maintenance",
                "The gallery is offline on Sunday.",
                false,
            ),
        ] {
            let m = message("noreply@vendor.example", subject, text);
            assert_eq!(has_inquiry(&Reading::new(&m)), want, "{subject}");
        }
    }
}
