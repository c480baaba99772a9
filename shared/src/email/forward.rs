//! Forwarded mail: an agent forwards a portal's lead, inline (Gmail, Outlook desktop and
//! web, Apple Mail, Thunderbird, Yahoo; in English, Spanish, French, German and Portuguese)
//! or as an attached `message/rfc822`, possibly a chain of forwards; or a mailbox rule
//! forwards it untouched (`X-Forwarded-To`/`X-Forwarded-For`). The original's sender and
//! subject drive recognition; the forwarding agent is known so routing can make them the
//! assignee and the reader never takes their address for the prospect's.
//!
//! Written here rather than taken from a crate: no maintained Rust crate unwraps forwards
//! (crisp-oss/email-forward-parser is JavaScript); its fixture families shaped the markers.

use super::html::HtmlReading;
use super::message::{Mailbox, Message, mailboxes};
use std::borrow::Cow;

/// Separator lines that open an inline forward, lower-cased, without their dashes.
const SEPARATORS: &[&str] = &[
    "forwarded message",
    "original message",
    "begin forwarded message:",
    "mensaje reenviado",
    "mensaje original",
    "inicio del mensaje reenviado:",
    "message transféré",
    "message d'origine",
    "message original",
    "début du message réexpédié :",
    "début du message réexpédié:",
    "message réexpédié",
    "weitergeleitete nachricht",
    "ursprüngliche nachricht",
    "originalnachricht",
    "anfang der weitergeleiteten nachricht:",
    "mensagem encaminhada",
    "mensagem original",
    "início da mensagem reencaminhada:",
    "inicio da mensagem reencaminhada:",
    "mensagem reencaminhada",
];

/// Header labels of the forwarded block, by what they mean.
const FROM: &[&str] = &["from", "de", "von", "van", "da", "expéditeur"];
const SUBJECT: &[&str] = &[
    "subject", "asunto", "objet", "betreff", "assunto", "oggetto",
];
const REPLY_TO: &[&str] = &[
    "reply-to",
    "responder a",
    "répondre à",
    "antwort an",
    "responder para",
];
const TO: &[&str] = &["to", "para", "à", "a", "an", "destinataire"];
const OTHER: &[&str] = &[
    "date",
    "sent",
    "cc",
    "fecha",
    "enviado",
    "enviado el",
    "envoyé",
    "envoyé le",
    "datum",
    "gesendet",
    "data",
    "enviada em",
    "enviado em",
    "kopie",
    "cco",
    "bcc",
];

/// Subject prefixes that mark a forward.
const FORWARD_PREFIXES: &[&str] = &["fwd", "fw", "tr", "wg", "rv", "enc", "reenv", "fwd:"];

/// Deepest chain of forwards unwrapped.
const MAX_CHAIN: usize = 10;

/// A message as the portal sent it, and who forwarded it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Unwrapped<'a> {
    /// The original: the message itself or a message it attaches, borrowed; built anew only
    /// from an inline forward's text.
    pub original: Cow<'a, Message>,
    /// The agent who forwarded it (the outermost forwarder), when it was forwarded.
    pub forwarded_by: Option<Mailbox>,
    /// The original's HTML part already read, when looking for a forward in it read it: the
    /// reader takes this rather than reading the same HTML again.
    pub html: Option<HtmlReading>,
}

/// The original inside a forwarded message, or the message itself.
pub fn unwrap(message: &Message) -> Unwrapped<'_> {
    let mut forwarded_by = auto_forwarded_by(message);
    let mut current = Cow::Borrowed(message);
    // The HTML of `current` read, when looking for a forward in it read it.
    let mut read_html = None;
    for _ in 0..MAX_CHAIN {
        let inline = if has_attached_original(&current) {
            // An attached original has HTML of its own.
            read_html = None;
            None
        } else {
            // An inline forward's original keeps the HTML it was found in; else an agent's
            // reply quoting the inquiry ("On … Ana Silva <ana@…> wrote:"): the inquiry is the
            // original, never the agent who replied.
            match inline_original(&current, &mut read_html) {
                Some(inner) => Some(inner),
                None => match quoted_inquiry(&current, forwarded_by.as_ref()) {
                    Some(inner) => {
                        read_html = None;
                        Some(inner)
                    }
                    None => break,
                },
            }
        };
        if forwarded_by.is_none() {
            forwarded_by = current.from.first().cloned();
        }
        current = match (inline, current) {
            (Some(inner), _) => Cow::Owned(inner),
            (None, Cow::Borrowed(outer)) => Cow::Borrowed(&outer.attached[0]),
            (None, Cow::Owned(mut outer)) => Cow::Owned(outer.attached.swap_remove(0)),
        };
    }
    Unwrapped {
        original: current,
        forwarded_by,
        html: read_html,
    }
}

fn domain(address: &str) -> &str {
    address.rsplit('@').next().unwrap_or("")
}

/// The message an agent's reply quotes, Gmail's way: an attribution line "On <date> <Name>
/// <address> wrote:" (which Gmail wraps over two lines when long), then the quoted lines.
/// Taken only when the reply is the agent side's (its author is the forwarder or shares the
/// forwarder's domain): a prospect's own reply quoting the agent is the prospect's.
fn quoted_inquiry(message: &Message, forwarded_by: Option<&Mailbox>) -> Option<Message> {
    let text = message.text.as_deref()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let (at, attribution) = (0..lines.len()).find_map(|i| {
        let one = lines[i];
        let two = lines.get(i + 1).map(|next| format!("{one} {next}"));
        let line = if one.ends_with("wrote:") {
            one.to_owned()
        } else {
            two.filter(|t| t.ends_with("wrote:"))?
        };
        let lower = line.to_lowercase();
        (lower.starts_with("on ") && line.len() <= 300).then_some((i, line))
    })?;
    let start = attribution.find('<')?;
    let end = attribution.rfind('>')?;
    let address = attribution.get(start + 1..end)?.trim();
    if !address.contains('@') {
        return None;
    }
    // The name: the words before `<` after the date's time or year.
    let before = attribution[..start].trim().trim_end_matches('"').trim();
    let words: Vec<&str> = before.split_whitespace().collect();
    let name_starts = words
        .iter()
        .rposition(|w| {
            w.ends_with("AM")
                || w.ends_with("PM")
                || w.chars().all(|c| c.is_ascii_digit() || c == ',')
        })
        .map_or(0, |i| i + 1);
    let name = Some(words[name_starts..].join(" ")).filter(|n| !n.is_empty());
    let author = Mailbox {
        name: name.map(|n| n.trim_matches('"').to_owned()),
        address: address.to_lowercase(),
    };
    let reply_author = message.from.first()?;
    // A shared mail provider's domain (gmail.com) says nothing of who is on which side.
    let shared_domain = |a: &str, b: &str| {
        domain(a).eq_ignore_ascii_case(domain(b)) && !super::read::is_free_mail(a)
    };
    let agents_side = forwarded_by.is_some_and(|f| {
        f.address.eq_ignore_ascii_case(&reply_author.address)
            || shared_domain(&f.address, &reply_author.address)
    });
    if !agents_side || author.address.eq_ignore_ascii_case(&reply_author.address) {
        return None;
    }
    // The quoted lines after the attribution (their `>` may be gone already: a forward's
    // body is read unquoted).
    let after = if lines[at].ends_with("wrote:") {
        at + 1
    } else {
        at + 2
    };
    let body: Vec<&str> = lines[after.min(lines.len())..]
        .iter()
        .map(|l| l.trim_start_matches('>').trim())
        .collect();
    let subject = message.subject.trim();
    let subject = ["re:", "aw:", "sv:", "rv:"]
        .iter()
        .find_map(|p| {
            subject
                .get(..p.len())
                .filter(|s| s.eq_ignore_ascii_case(p))
                .map(|_| subject[p.len()..].trim())
        })
        .unwrap_or(subject);
    Some(Message {
        from: vec![author],
        subject: subject.to_owned(),
        text: Some(body.join("\n")),
        ..Message::default()
    })
}

/// A mailbox rule's forward keeps the original From and says who forwarded it.
fn auto_forwarded_by(message: &Message) -> Option<Mailbox> {
    let value = message
        .header("x-forwarded-for")
        .or_else(|| message.header("x-forwarded-to"))?;
    let first = value.split([' ', ',']).find(|a| a.contains('@'))?;
    Some(Mailbox {
        name: None,
        address: first.trim().trim_matches(['<', '>']).to_lowercase(),
    })
}

fn is_forward_subject(subject: &str) -> bool {
    let lower = subject.trim().to_lowercase();
    FORWARD_PREFIXES.iter().any(|p| {
        lower
            .strip_prefix(p.trim_end_matches(':'))
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

/// An attached `message/rfc822` is the original when the outer message is a forward: its
/// subject says so, or it says little of its own.
fn has_attached_original(message: &Message) -> bool {
    let own_words = message
        .text
        .as_deref()
        .map_or(0, |t| t.split_whitespace().count());
    !message.attached.is_empty() && (is_forward_subject(&message.subject) || own_words < 80)
}

fn label_of(line: &str) -> Option<(String, &str)> {
    let (label, value) = line.split_once(':')?;
    let label = label.trim().trim_matches('*').trim().to_lowercase();
    (label.len() <= 20).then_some((label, value.trim()))
}

/// An inline forward: a separator line (or Outlook's bare `From:`…`Subject:` block), the
/// original's header block, then its body.
/// Without a plain part, the HTML is read for its text, and kept in `read_html` for the
/// reader, which reads it anyway.
fn inline_original(message: &Message, read_html: &mut Option<HtmlReading>) -> Option<Message> {
    let text = match &message.text {
        Some(t) => super::read::clean_annotations(t),
        None => {
            let reading = super::html::read(message.html.as_ref()?);
            let text = super::read::clean_annotations(&reading.text);
            *read_html = Some(reading);
            text
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = header_block_start(&lines)?;
    let mut original = Message::default();
    let mut i = start;
    let mut seen_any = false;
    while i < lines.len() {
        let line = lines[i].trim().trim_start_matches('>').trim();
        if line.is_empty() {
            if seen_any {
                break;
            }
            i += 1;
            continue;
        }
        let Some((label, value)) = label_of(line) else {
            break;
        };
        let known = FROM.contains(&label.as_str())
            || SUBJECT.contains(&label.as_str())
            || REPLY_TO.contains(&label.as_str())
            || TO.contains(&label.as_str())
            || OTHER.contains(&label.as_str());
        if !known {
            break;
        }
        seen_any = true;
        // Values may wrap onto the next line ("To: a@x,\n b@y").
        let mut value = value.to_owned();
        while i + 1 < lines.len() {
            let next = lines[i + 1].trim().trim_start_matches('>').trim();
            if next.is_empty() || label_of(next).is_some_and(|(l, _)| l.len() <= 20) {
                break;
            }
            if !(value.ends_with(',') || value.is_empty()) {
                break;
            }
            value.push(' ');
            value.push_str(next);
            i += 1;
        }
        let decoded = value.replace(['*'], "");
        match label.as_str() {
            l if FROM.contains(&l) => original.from = mailboxes(&decoded),
            l if SUBJECT.contains(&l) => original.subject = decoded.trim().to_owned(),
            l if REPLY_TO.contains(&l) => original.reply_to = mailboxes(&decoded),
            l if TO.contains(&l) => original.to = mailboxes(&decoded),
            _ => {}
        }
        original.headers.push((label, decoded));
        i += 1;
    }
    if original.from.is_empty() && original.subject.is_empty() {
        return None;
    }
    let body: Vec<&str> = lines[i.min(lines.len())..]
        .iter()
        .map(|l| {
            let t = l.trim_start();
            t.strip_prefix("> ")
                .or_else(|| t.strip_prefix('>'))
                .unwrap_or(l)
        })
        .collect();
    original.text = Some(body.join("\n"));
    // The HTML carries what the text cannot (lead_* meta tags, table cells, links); the
    // forwarder's own lines in it are few and never labelled as a lead's.
    original.html = message.html.clone();
    original.attached = message.attached.clone();
    Some(original)
}

/// Where the forwarded header block begins: after a separator line, or at Outlook's bare
/// `From:` line that a `Subject:` line follows within a few lines.
fn header_block_start(lines: &[&str]) -> Option<usize> {
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim().trim_start_matches('>').trim();
        let bare = line
            .trim_matches(|c: char| c == '-' || c == '_' || c == '=' || c.is_whitespace())
            .to_lowercase();
        if (line.starts_with("--") || line.starts_with("__") || bare.ends_with(':'))
            && SEPARATORS.contains(&bare.as_str())
        {
            return Some(i + 1);
        }
        if let Some((label, value)) = label_of(line)
            && FROM.contains(&label.as_str())
            && value.contains('@')
        {
            let subject_follows = lines[i + 1..]
                .iter()
                .take(6)
                .filter_map(|l| label_of(l.trim().trim_start_matches('>').trim()))
                .any(|(l, _)| SUBJECT.contains(&l.as_str()));
            if subject_follows {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(text: &str) -> Message {
        Message {
            from: vec![Mailbox {
                name: Some("Agent Smith".into()),
                address: "agent@brokerage.example".into(),
            }],
            subject: "Fwd: New lead".into(),
            text: Some(text.into()),
            ..Message::default()
        }
    }

    #[test]
    fn gmail_spanish_outlook_apple_and_german_forwards() {
        for text in [
            "FYI\n\n---------- Forwarded message ---------\nFrom: Zillow <leads@zillow.com>\nDate: Mon, 2 Nov 2026 at 10:00\nSubject: Ana Silva is interested\nTo: <agent@brokerage.example>\n\nAna Silva says:\nhello",
            "---------- Mensaje reenviado ---------\nDe: Zillow <leads@zillow.com>\nFecha: lun, 2 nov 2026\nAsunto: Ana Silva is interested\nPara: agent@brokerage.example\n\nAna Silva says:\nhello",
            "Please add\n\nFrom: Zillow [mailto:leads@zillow.com]\nSent: Monday, November 2, 2026 10:00 AM\nTo: Agent Smith\nSubject: Ana Silva is interested\n\nAna Silva says:\nhello",
            "Begin forwarded message:\n\nFrom: Zillow <leads@zillow.com>\nSubject: Ana Silva is interested\nDate: November 2, 2026 at 10:00:00 AM CST\nTo: agent@brokerage.example\n\nAna Silva says:\nhello",
            "-------- Weitergeleitete Nachricht --------\nBetreff: Ana Silva is interested\nDatum: Mon, 2 Nov 2026\nVon: Zillow <leads@zillow.com>\nAn: agent@brokerage.example\n\nAna Silva says:\nhello",
        ] {
            let outer = forwarded(text);
            let u = unwrap(&outer);
            assert_eq!(u.original.from[0].address, "leads@zillow.com", "{text}");
            assert_eq!(u.original.subject, "Ana Silva is interested");
            assert!(u.original.text.as_deref().unwrap().contains("says:"));
            assert_eq!(u.forwarded_by.unwrap().address, "agent@brokerage.example");
        }
    }

    #[test]
    fn html_read_to_find_a_forward_is_handed_on_only_with_the_html_it_came_from() {
        let html = "<p>FYI</p><p>---------- Forwarded message ---------<br>From: Zillow &lt;leads@zillow.com&gt;<br>Subject: Ana Silva is interested</p><p>Ana Silva says:<br>hello</p>";
        let mut outer = forwarded("");
        outer.text = None;
        outer.html = Some(html.into());
        let u = unwrap(&outer);
        assert_eq!(u.original.from[0].address, "leads@zillow.com");
        assert_eq!(u.original.html.as_deref(), Some(html));
        assert_eq!(u.html, Some(crate::email::html::read(html)));
        // Not a forward: the message itself, its HTML read once.
        outer.html = Some("<p>Name: Ana Silva</p>".into());
        let u = unwrap(&outer);
        assert_eq!(*u.original, outer);
        assert_eq!(u.html.map(|h| h.text).as_deref(), Some("Name: Ana Silva\n"));
        // Forwarded as an attachment: what is handed on is the original's own HTML read
        // (looking for a forward inside it), never the outer message's.
        outer.attached.push(Message {
            subject: "New lead".into(),
            html: Some("<p>Name: Zed</p>".into()),
            ..Message::default()
        });
        outer.subject = "Fwd: New lead".into();
        let u = unwrap(&outer);
        assert_eq!(u.original.subject, "New lead");
        assert_eq!(u.html.map(|h| h.text).as_deref(), Some("Name: Zed\n"));
        outer.attached[0].text = Some("Name: Zed".into());
        assert_eq!(unwrap(&outer).html, None);
    }

    #[test]
    fn chains_attachments_and_mailbox_rules() {
        let chain = forwarded(
            "---------- Forwarded message ---------\nFrom: Team Lead <lead@brokerage.example>\nSubject: Fwd: Lead\n\n---------- Forwarded message ---------\nFrom: Realtor.com <leads@email.realtor.com>\nSubject: New realtor.com lead - Ana Silva\n\nName: Ana Silva",
        );
        let u = unwrap(&chain);
        assert_eq!(u.original.from[0].address, "leads@email.realtor.com");
        assert_eq!(u.forwarded_by.unwrap().address, "agent@brokerage.example");

        let mut attached = forwarded("see attached");
        attached.attached.push(Message {
            subject: "New lead".into(),
            ..Message::default()
        });
        assert_eq!(unwrap(&attached).original.subject, "New lead");

        let mut rule = Message {
            subject: "Ana Silva is interested".into(),
            ..Message::default()
        };
        rule.headers.push((
            "x-forwarded-for".into(),
            "agent@brokerage.example inlet@in.example".into(),
        ));
        let u = unwrap(&rule);
        assert_eq!(u.original.subject, "Ana Silva is interested");
        assert_eq!(u.forwarded_by.unwrap().address, "agent@brokerage.example");
    }

    #[test]
    fn a_message_that_is_no_forward_is_itself() {
        let m = forwarded("Name: Ana Silva\nFrom: the website\nEmail: ana@example.com");
        let u = unwrap(&m);
        assert_eq!(*u.original, m);
        assert_eq!(u.forwarded_by, None);
    }

    #[test]
    fn a_reply_quotes_the_inquiry_only_when_the_agent_side_replied() {
        let mailbox = |a: &str| Mailbox {
            name: None,
            address: a.into(),
        };
        let reply = |from: &str, quoted: &str| Message {
            from: vec![mailbox(from)],
            subject: "Re: 12 Elm St".into(),
            text: Some(format!(
                "Sure, Saturday works.\n\nOn Mon, Nov 30, 2026 at 9:00 AM Ana Silva <\n{quoted}> wrote:\n> Can I see 12 Elm St?"
            )),
            ..Message::default()
        };
        let agent = mailbox("dana@brokerage.example");
        let inquiry = quoted_inquiry(
            &reply("marcus@brokerage.example", "ana@example.com"),
            Some(&agent),
        )
        .unwrap();
        assert_eq!(inquiry.from[0].address, "ana@example.com");
        assert_eq!(inquiry.from[0].name.as_deref(), Some("Ana Silva"));
        assert_eq!(inquiry.subject, "12 Elm St");
        assert_eq!(inquiry.text.as_deref(), Some("Can I see 12 Elm St?"));
        // The prospect replying, the same free-mail provider on both sides, or no forwarder:
        // the reply is the prospect's own.
        assert!(
            quoted_inquiry(
                &reply("ana@example.com", "dana@brokerage.example"),
                Some(&agent)
            )
            .is_none()
        );
        let gmail_agent = mailbox("dana.realty@gmail.com");
        assert!(
            quoted_inquiry(
                &reply("ana.silva@gmail.com", "dana.realty@gmail.com"),
                Some(&gmail_agent)
            )
            .is_none()
        );
        assert!(
            quoted_inquiry(&reply("marcus@brokerage.example", "ana@example.com"), None).is_none()
        );
    }
}
