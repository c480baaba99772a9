//! Every way a message reaches Inlet, normalized to one `Message` before any parsing: raw
//! MIME (mailparse: transfer encodings, charsets, RFC 2047 headers) and the CloudMailin JSON
//! shape. Attached `message/rfc822` parts are kept as messages of their own.

use serde_json::Value;

/// A mailbox: display name and address (lowercased).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

/// A message, whatever it came in as. Serialized for mail kept as a provider's parsed fields
/// (no MIME to keep), so that it can be read again.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Message {
    pub from: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub subject: String,
    /// Header names lower-cased, values decoded, in order.
    pub headers: Vec<(String, String)>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Messages attached as `message/rfc822` (forwards as attachments).
    pub attached: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("not a readable message: {0}")]
    Unreadable(String),
}

/// Deepest MIME nesting read, and most parts: a hostile message ends in a clear outcome.
const MAX_DEPTH: usize = 20;
const MAX_PARTS: usize = 500;

impl Message {
    /// The one mailbox of the one From header: the sender a DMARC verdict is about. A
    /// message with several From headers or mailboxes has none (a server may have judged
    /// another than the one read here).
    pub fn sole_from(&self) -> Option<&Mailbox> {
        let headers = self.headers.iter().filter(|(n, _)| n == "from").count();
        (headers <= 1 && self.from.len() == 1).then(|| &self.from[0])
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A plain body that carries the HTML after its text, as Zapier's "Email by Zapier"
    /// flattens a message, is split back into its two parts.
    fn split_flattened(&mut self) {
        if self.html.is_some() {
            return;
        }
        let Some(text) = &self.text else { return };
        let lower = text.to_ascii_lowercase();
        let Some(at) = ["<!doctype html", "<html"]
            .iter()
            .filter_map(|m| lower.find(m))
            .min()
        else {
            return;
        };
        let (plain, html) = text.split_at(at);
        self.html = Some(html.to_owned());
        self.text = Some(plain.to_owned()).filter(|t| !t.trim().is_empty());
    }

    /// Reads a raw RFC 5322 message.
    pub fn from_mime(raw: &[u8]) -> Result<Message, EmailError> {
        Message::from_mime_at(raw, 0, &mut 0)
    }

    /// A message `depth` levels down (attached messages count), with `parts` read so far
    /// across the whole outer message.
    fn from_mime_at(raw: &[u8], depth: usize, parts: &mut usize) -> Result<Message, EmailError> {
        let parsed =
            mailparse::parse_mail(raw).map_err(|e| EmailError::Unreadable(e.to_string()))?;
        let mut message = headers_of(&parsed.headers);
        walk(&parsed, &mut message, depth, parts);
        message.split_flattened();
        Ok(message)
    }

    /// Reads CloudMailin's JSON (`headers`, `plain`, `html`, `envelope`).
    pub fn from_cloudmailin(v: &Value) -> Option<Message> {
        let headers = v.get("headers")?.as_object()?;
        let mut pairs = Vec::new();
        for (name, value) in headers {
            // Repeated headers arrive as arrays or as {"0": …, "1": …}.
            let values: Vec<String> = match value {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                Value::Object(map) => map
                    .values()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            for value in values {
                pairs.push((name.to_ascii_lowercase(), value));
            }
        }
        let mut message = Message {
            subject: pairs
                .iter()
                .find(|(n, _)| n == "subject")
                .map(|(_, v)| decode_words(v))
                .unwrap_or_default(),
            text: v
                .get("plain")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned),
            html: v
                .get("html")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned),
            ..Message::default()
        };
        for (name, value) in &pairs {
            let decoded = decode_words(value);
            match name.as_str() {
                "from" => message.from = mailboxes(value),
                "reply-to" => message.reply_to = mailboxes(value),
                "to" => message.to = mailboxes(value),
                _ => {}
            }
            message.headers.push((name.clone(), decoded));
        }
        message.split_flattened();
        Some(message)
    }
}

/// RFC 2047 encoded words in a header value, decoded.
fn decode_words(value: &str) -> String {
    let line = format!("X: {value}");
    mailparse::parse_header(line.as_bytes())
        .map(|(h, _)| h.get_value())
        .unwrap_or_else(|_| value.to_owned())
}

/// The mailboxes of an address header's value as it came, encoded words decoded in display
/// names only (mailparse's `addrparse_header`). Decoding the whole value first would let an
/// encoded word add a mailbox the receiving server never saw, and be taken for the sender
/// its verdicts prove: `From: =?utf-8?b?…?= <mallory@evil.example>` whose word decodes to
/// `x <ana@brokerage.example>,`.
pub(crate) fn mailboxes(value: &str) -> Vec<Mailbox> {
    if !value.contains("=?") {
        return mailparse::addrparse(value)
            .map(|list| mailboxes_of(&list))
            .unwrap_or_default();
    }
    let line = format!("X: {value}");
    let Ok((header, _)) = mailparse::parse_header(line.as_bytes()) else {
        return Vec::new();
    };
    let Ok(list) = mailparse::addrparse_header(&header) else {
        return Vec::new();
    };
    mailboxes_of(&list)
}

fn mailboxes_of(list: &mailparse::MailAddrList) -> Vec<Mailbox> {
    let mut out = Vec::new();
    for addr in list.iter() {
        match addr {
            mailparse::MailAddr::Single(s) => out.push(Mailbox {
                name: s
                    .display_name
                    .clone()
                    .map(|n| n.trim().trim_matches('"').to_owned())
                    .filter(|n| !n.is_empty()),
                address: s.addr.trim().to_lowercase(),
            }),
            mailparse::MailAddr::Group(g) => out.extend(g.addrs.iter().map(|s| Mailbox {
                name: s.display_name.clone(),
                address: s.addr.trim().to_lowercase(),
            })),
        }
    }
    out
}

fn headers_of(headers: &[mailparse::MailHeader]) -> Message {
    let mut message = Message::default();
    for h in headers {
        let name = h.get_key().to_ascii_lowercase();
        let value = header_value(h);
        let addresses = || {
            // Encoded words in the value as it came: decoded in display names only.
            if h.get_value_raw().windows(2).any(|w| w == b"=?") {
                mailparse::addrparse_header(h)
                    .map(|list| mailboxes_of(&list))
                    .unwrap_or_default()
            } else {
                mailboxes(&value)
            }
        };
        match name.as_str() {
            "from" => message.from = addresses(),
            "reply-to" => message.reply_to = addresses(),
            "to" => message.to = addresses(),
            "subject" => message.subject = value.trim().to_owned(),
            _ => {}
        }
        message.headers.push((name, value));
    }
    message
}

/// A header's value unfolded and decoded. Most headers (Received, DKIM-Signature,
/// ARC-*…) are plain ASCII with no encoded word: unfolding is then all mailparse's
/// `get_value` would do (its tokenizing walk was a tenth of reading a message's MIME).
fn header_value(h: &mailparse::MailHeader) -> String {
    let raw = h.get_value_raw();
    match std::str::from_utf8(raw) {
        Ok(text) if text.is_ascii() && !text.contains("=?") => {
            // mailparse's unfolding: each line without its leading blanks, joined by a space.
            let mut value = String::with_capacity(text.len());
            for (i, line) in text.lines().enumerate() {
                if i > 0 {
                    value.push(' ');
                }
                value.push_str(line.trim_start());
            }
            value
        }
        _ => h.get_value(),
    }
}

fn walk(part: &mailparse::ParsedMail, message: &mut Message, depth: usize, parts: &mut usize) {
    *parts += 1;
    if depth > MAX_DEPTH || *parts > MAX_PARTS {
        return;
    }
    let mimetype = part.ctype.mimetype.to_ascii_lowercase();
    let attachment = matches!(
        part.get_content_disposition().disposition,
        mailparse::DispositionType::Attachment
    );
    if mimetype == "message/rfc822" {
        if let Ok(raw) = part.get_body_raw()
            && let Ok(inner) = Message::from_mime_at(&raw, depth + 1, parts)
        {
            message.attached.push(inner);
        }
        return;
    }
    if mimetype.starts_with("multipart/") {
        for sub in &part.subparts {
            walk(sub, message, depth + 1, parts);
        }
        return;
    }
    if attachment {
        return;
    }
    let body = || text_body(part).filter(|b| !b.trim().is_empty());
    match mimetype.as_str() {
        "text/plain" if message.text.is_none() => message.text = body(),
        "text/html" if message.html.is_none() => message.html = body(),
        _ => {}
    }
}

/// A text part decoded, its transfer encoding undone once (mailparse's `get_body` would undo
/// it again after `get_body_raw`); quoted-printable by `super::quoted_printable`, which
/// decodes as mailparse does at a fraction of the cost. A part labelled UTF-8 or US-ASCII
/// (or not labelled) whose bytes are not UTF-8 is nearly always windows-1252 written by a
/// mailer that never said so: read as that rather than with replacement characters.
fn text_body(part: &mailparse::ParsedMail) -> Option<String> {
    let bytes = match part.get_body_encoded() {
        mailparse::body::Body::QuotedPrintable(body) => {
            super::quoted_printable::decode(body.get_raw())
        }
        _ => part.get_body_raw().ok()?,
    };
    let label = part.ctype.charset.to_ascii_lowercase();
    if matches!(label.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii" | "") {
        return Some(match String::from_utf8(bytes) {
            Ok(text) => match text.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_owned(),
                None => text,
            },
            Err(e) => {
                let cp1252 = charset::Charset::for_label(b"windows-1252")?;
                cp1252
                    .decode_without_bom_handling(e.as_bytes())
                    .0
                    .into_owned()
            }
        });
    }
    Some(match charset::Charset::for_label(label.as_bytes()) {
        Some(labelled) => labelled.decode(&bytes).0.into_owned(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latin1_body_labelled_utf8_is_read_as_windows_1252() {
        let mut raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nName: Jos\xe9 Mu\xf1oz \x96 caf\xe9\r\n".to_vec();
        let m = Message::from_mime(&raw).unwrap();
        assert_eq!(
            m.text.as_deref().map(str::trim),
            Some("Name: José Muñoz – café")
        );
        raw =
            "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nName: José\r\n"
                .as_bytes()
                .to_vec();
        assert_eq!(
            Message::from_mime(&raw)
                .unwrap()
                .text
                .as_deref()
                .map(str::trim),
            Some("Name: José")
        );
    }

    #[test]
    fn mime_headers_bodies_and_encodings_are_read() {
        let raw = "From: \"Lead Portal\" <leads@portal.example.com>\r\nReply-To: Ana Silva <Ana@Example.com>\r\nTo: agent@example.com\r\nSubject: =?UTF-8?Q?New_lead_=F0=9F=93=8C_Ana?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nName: Ana Silva=0D=0AComments: caf=C3=A9 soon\r\n--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+Q2Fm6SE8L3A+\r\n--b--\r\n";
        let m = Message::from_mime(raw.as_bytes()).unwrap();
        assert_eq!(m.subject, "New lead 📌 Ana");
        assert_eq!(
            m.reply_to[0],
            Mailbox {
                name: Some("Ana Silva".into()),
                address: "ana@example.com".into()
            }
        );
        assert_eq!(m.from[0].address, "leads@portal.example.com");
        assert!(m.text.as_deref().unwrap().contains("café soon"));
        assert_eq!(m.html.as_deref(), Some("<p>Café!</p>"));
    }

    #[test]
    fn cloudmailin_json_with_repeated_headers() {
        let v = serde_json::json!({
            "headers": {"From": "Zed <zed@relay.example.com>", "Subject": "Hi", "Received": {"0": "a", "1": "b"}, "Reply-To": "zed@example.com"},
            "plain": "Name: Zed", "html": "", "envelope": {"to": "leads@example.com"}
        });
        let m = Message::from_cloudmailin(&v).unwrap();
        assert_eq!(m.reply_to[0].address, "zed@example.com");
        assert_eq!(m.headers.iter().filter(|(n, _)| n == "received").count(), 2);
        assert_eq!(m.html, None);
    }

    #[test]
    fn header_values_are_unfolded_as_mailparse_unfolds_them() {
        // Every header of the project's fixtures (and of the shared corpus, when present),
        // and folds of every shape, read the fast way and mailparse's way.
        let mut raws: Vec<Vec<u8>> = vec![
            b"Subject: a\r\n  b\t\r\n\tc  \r\n d\r\n\r\n".to_vec(),
            b"Subject:   lead \r\n\r\n".to_vec(),
            b"X-Odd: a\rb\n c\r\n\r\n".to_vec(),
            b"Subject: =?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?_au_lait?=\r\n\r\n".to_vec(),
            "Subject: caf\u{e9}\r\n\r\n".as_bytes().to_vec(),
        ];
        raws.extend(crate::email::sample_messages());
        let mut checked = 0;
        for raw in &raws {
            let Ok((headers, _)) = mailparse::parse_headers(raw) else {
                continue;
            };
            for h in &headers {
                assert_eq!(header_value(h), h.get_value(), "{:?}", h.get_value_raw());
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked} headers");
    }
}
