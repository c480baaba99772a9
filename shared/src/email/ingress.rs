//! Every way mail reaches Inlet, normalized to one `Inbound` before any parsing: SES (the
//! S3 object an S3 or SES event names, or the SNS notification's `content`), and HTTP posts
//! from SendGrid Inbound Parse (parsed fields with `charsets`, or raw MIME), Mailgun routes
//! (parsed fields or `body-mime`, signature verified), Postmark (JSON, `RawEmail` when
//! present), CloudMailin (JSON) and raw `message/rfc822`.

use super::message::{EmailError, Mailbox, Message, mailboxes};
pub use super::verdicts::{Verdict, Verdicts};
use base64::Engine;
use serde_json::Value;

/// SES's largest message, and so the largest stored message Inlet reads back.
pub const MAX_STORED_MAIL_BYTES: u64 = 40 * 1024 * 1024;

/// A message as received, whatever carried it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inbound {
    /// Which way it came: `ses`, `sns`, `raw`, `sendgrid`, `mailgun`, `postmark`, `cloudmailin`.
    pub provider: &'static str,
    /// The bytes the envelope's digest is taken over (raw MIME when the provider gave it).
    pub raw: Vec<u8>,
    pub message: Message,
    /// The envelope recipients the provider reports; the headers' when it reports none.
    pub recipients: Vec<String>,
    pub verdicts: Verdicts,
    /// The token of a Mailgun signature: the router refuses a token it has seen.
    pub signed_token: Option<String>,
    /// Whether `raw` is the whole MIME message (not a provider's parsed fields): then it
    /// can be read again at replay.
    pub mime: bool,
    /// Where the message is stored whole (SES's S3 action), when it is.
    pub stored: Option<StoredObject>,
    /// Posted with the mail token rather than the route's own: no receiving server's
    /// header counts (`[email.verdicts_from]`), whoever holds the token could write it.
    pub unvouched: bool,
}

/// Every way mail arrives, as `Inbound::provider` names it.
pub const PROVIDERS: [&str; 7] = [
    "ses",
    "sns",
    "raw",
    "sendgrid",
    "mailgun",
    "postmark",
    "cloudmailin",
];

/// An object in a bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
}

/// Why a delivery of mail was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngressError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("unknown email provider {0:?} (raw, sendgrid, mailgun, postmark, cloudmailin)")]
    UnknownProvider(String),
}

impl From<EmailError> for IngressError {
    fn from(e: EmailError) -> Self {
        IngressError::Malformed(e.to_string())
    }
}

/// Raw MIME as received (the S3 object, a `message/rfc822` post, a file).
pub fn from_raw(provider: &'static str, raw: Vec<u8>) -> Result<Inbound, IngressError> {
    let message = Message::from_mime(&raw)?;
    Ok(Inbound {
        provider,
        recipients: header_recipients(&message),
        message,
        raw,
        verdicts: Verdicts::default(),
        signed_token: None,
        mime: true,
        stored: None,
        unvouched: false,
    })
}

/// The recipients named in the headers, when no envelope says: Delivered-To and
/// X-Original-To (what the receiving server saw), then To and Cc.
pub fn header_recipients(message: &Message) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in [
        "delivered-to",
        "x-original-to",
        "x-forwarded-to",
        "to",
        "cc",
    ] {
        for (_, v) in message.headers.iter().filter(|(n, _)| n == name) {
            for m in mailboxes(v) {
                if !out.contains(&m.address) {
                    out.push(m.address);
                }
            }
        }
    }
    out
}

/// The spam and virus verdicts SES writes into a message it stores (`X-SES-Spam-Verdict`,
/// `X-SES-Virus-Verdict`). SPF, DKIM and DMARC come from its `Authentication-Results`,
/// read where the authserv-id is known (`authres::server_verdicts`). A sender can write
/// these two headers too, but only to look worse: a pass is never a reason to accept.
pub fn header_verdicts(message: &Message) -> Verdicts {
    let status = |name: &str| {
        message
            .header(name)
            .map(|v| match v.trim().to_ascii_uppercase().as_str() {
                "PASS" => Verdict::Pass,
                "FAIL" => Verdict::Fail,
                _ => Verdict::Unknown,
            })
    };
    Verdicts {
        spam: status("x-ses-spam-verdict"),
        virus: status("x-ses-virus-verdict"),
        ..Verdicts::default()
    }
}

/// A JSON list of addresses, lower-cased (non-strings skipped).
fn addresses(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_lowercase))
        .collect()
}

/// The objects an S3 event names (bucket, key), keys URL-decoded as S3 encodes them.
pub fn s3_objects(event: &Value) -> Vec<(String, String)> {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Vec::new();
    };
    records
        .iter()
        .filter_map(|r| {
            let s3 = r.get("s3")?;
            let bucket = s3.get("bucket")?.get("name")?.as_str()?;
            let key = s3.get("object")?.get("key")?.as_str()?;
            // S3 event keys are form-encoded (a space arrives as `+`).
            let key: String = form_urlencoded::parse(format!("k={key}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())?;
            Some((bucket.to_owned(), key))
        })
        .collect()
}

/// A message SES's S3 action stored, read from `bucket`/`key`: its spam and virus verdicts
/// from SES's headers (SPF, DKIM and DMARC from SES's `Authentication-Results`, which
/// `process` reads by its authserv-id), and where it is kept.
pub fn from_stored(bucket: &str, key: &str, raw: Vec<u8>) -> Result<Inbound, IngressError> {
    let mut inbound = from_raw("ses", raw)?;
    inbound.verdicts = header_verdicts(&inbound.message);
    inbound.stored = Some(StoredObject {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    });
    Ok(inbound)
}

/// The objects a Lambda asynchronous-invocation failure record names: the S3 event it
/// failed on is its `requestPayload`.
pub fn failed_invocation_objects(record: &Value) -> Vec<(String, String)> {
    record
        .get("requestPayload")
        .map(s3_objects)
        .unwrap_or_default()
}

/// One verdict of an SES receipt (`{"status": "PASS"}`).
fn ses_verdict(v: Option<&Value>) -> Option<Verdict> {
    let status = v?.get("status")?.as_str()?;
    Some(match status.to_ascii_uppercase().as_str() {
        "PASS" => Verdict::Pass,
        "FAIL" => Verdict::Fail,
        _ => Verdict::Unknown,
    })
}

/// An SES receipt (`mail` and `receipt` of an SES event record or SNS notification):
/// recipients and verdicts.
fn ses_receipt(record: &Value) -> (Vec<String>, Verdicts) {
    let receipt = record.get("receipt");
    let recipients = receipt
        .and_then(|r| r.get("recipients"))
        .or_else(|| record.get("mail").and_then(|m| m.get("destination")))
        .map(addresses)
        .unwrap_or_default();
    let verdict = |name: &str| ses_verdict(receipt.and_then(|r| r.get(name)));
    let verdicts = Verdicts {
        spam: verdict("spamVerdict"),
        virus: verdict("virusVerdict"),
        spf: verdict("spfVerdict"),
        dkim: verdict("dkimVerdict"),
        dmarc: verdict("dmarcVerdict"),
        ..Verdicts::default()
    };
    (recipients, verdicts)
}

/// An SES event record (the Lambda action, which carries no body) with the raw message
/// its S3 action stored.
pub fn from_ses_record(ses: &Value, raw: Vec<u8>) -> Result<Inbound, IngressError> {
    let (recipients, verdicts) = ses_receipt(ses);
    relayed_raw("ses", &raw, recipients, verdicts)
}

/// The S3 location an SES record's message was stored at, given the bucket and prefix the
/// receipt rule writes to (the object key is the message id).
pub fn ses_message_id(ses: &Value) -> Option<&str> {
    ses.get("mail")?.get("messageId")?.as_str()
}

/// An SES notification delivered by SNS: the notification JSON (the SNS `Message`), whose
/// `content` is the raw message, base64 or UTF-8 as the action was set up.
pub fn from_ses_notification(notification: &Value) -> Result<Inbound, IngressError> {
    let kind = notification
        .get("notificationType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind != "Received" {
        return Err(IngressError::Malformed(format!(
            "an SES notification of type {kind:?}, not a received message"
        )));
    }
    let content = notification
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            IngressError::Malformed(
                "the SES notification has no content (use the S3 action for messages over 150 KB)"
                    .into(),
            )
        })?;
    let encoding = notification
        .get("receipt")
        .and_then(|r| r.get("action"))
        .and_then(|a| a.get("encoding"))
        .and_then(Value::as_str)
        .unwrap_or("UTF-8");
    let raw = if encoding.eq_ignore_ascii_case("base64") {
        base64::engine::general_purpose::STANDARD
            .decode(content.trim())
            .map_err(|e| IngressError::Malformed(format!("the content is not base64: {e}")))?
    } else {
        content.as_bytes().to_vec()
    };
    let (recipients, verdicts) = ses_receipt(notification);
    relayed_raw("sns", &raw, recipients, verdicts)
}

/// An HTTP post to `/email/{provider}`.
pub async fn from_http(
    provider: &str,
    content_type: Option<&str>,
    body: &[u8],
    mailgun_key: Option<&str>,
    now_secs: i64,
) -> Result<Inbound, IngressError> {
    match provider {
        "raw" => from_raw("raw", body.to_vec()),
        "sendgrid" => sendgrid(&fields(content_type, body).await?),
        "mailgun" => {
            let f = fields(content_type, body).await?;
            let key = mailgun_key.ok_or_else(|| {
                IngressError::Unauthorized(
                    "Mailgun posts need email.mailgun_signing_key in the routing config".into(),
                )
            })?;
            crate::web::signature::mailgun(
                f.text("timestamp").as_deref(),
                f.text("token").as_deref(),
                f.text("signature").as_deref(),
                key.as_bytes(),
                now_secs,
                MAILGUN_WINDOW_SECS,
            )
            .map_err(|e| IngressError::Unauthorized(format!("Mailgun signature: {e}")))?;
            mailgun(&f).map(|mut inbound| {
                inbound.signed_token = f.text("token");
                inbound
            })
        }
        "postmark" => postmark(&json(body)?),
        "cloudmailin" => cloudmailin(&json(body)?, body),
        other => Err(IngressError::UnknownProvider(other.to_owned())),
    }
}

/// How old a Mailgun signature may be. Mailgun signs each attempt when it makes it, so a
/// retry hours later carries a fresh timestamp; a captured post is worth minutes, and a
/// token seen before is refused besides (the router keeps them).
pub const MAILGUN_WINDOW_SECS: i64 = 10 * 60;

fn json(body: &[u8]) -> Result<Value, IngressError> {
    serde_json::from_slice(body)
        .map_err(|e| IngressError::Malformed(format!("the body is not JSON: {e}")))
}

/// Form fields as bytes: SendGrid sends each in the charset its `charsets` field names.
#[derive(Debug, Default)]
struct Fields(Vec<(String, Vec<u8>)>);

impl Fields {
    fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Most form parts read; a message's fields and attachments are tens.
const MAX_FIELDS: usize = 1000;

async fn fields(content_type: Option<&str>, body: &[u8]) -> Result<Fields, IngressError> {
    if crate::web::body::essence(content_type) == "application/x-www-form-urlencoded" {
        return Ok(Fields(
            form_urlencoded::parse(body)
                .take(MAX_FIELDS)
                .map(|(k, v)| (k.into_owned(), v.into_owned().into_bytes()))
                .collect(),
        ));
    }
    let boundary = multer::parse_boundary(content_type.unwrap_or("")).map_err(|_| {
        IngressError::Malformed(
            "expected multipart/form-data (or a urlencoded form) with a boundary".into(),
        )
    })?;
    let chunk = bytes::Bytes::copy_from_slice(body);
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(chunk) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    while let Some(field) = parts
        .next_field()
        .await
        .map_err(|e| IngressError::Malformed(format!("the multipart body cannot be read: {e}")))?
    {
        if out.len() >= MAX_FIELDS {
            return Err(IngressError::Malformed(format!(
                "more than {MAX_FIELDS} form parts"
            )));
        }
        let name = field.name().unwrap_or("").to_owned();
        // Attachments are not leads; the message's own fields are what is read.
        if field.file_name().is_some() && name != "email" && name != "body-mime" {
            continue;
        }
        let value = field
            .bytes()
            .await
            .map_err(|e| IngressError::Malformed(format!("part {name:?} cannot be read: {e}")))?;
        out.push((name, value.to_vec()));
    }
    Ok(Fields(out))
}

/// A field decoded with the charset a provider declared for it.
fn decode_charset(bytes: &[u8], label: Option<&str>) -> String {
    match label.and_then(|l| charset::Charset::for_label(l.trim().as_bytes())) {
        Some(cs) => cs.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8(bytes.to_vec())
            // Undeclared and not UTF-8: windows-1252 is what such mail nearly always is.
            .unwrap_or_else(|e| {
                charset::Charset::for_label(b"windows-1252")
                    .map(|cs| cs.decode_without_bom_handling(e.as_bytes()).0.into_owned())
                    .unwrap_or_default()
            }),
    }
}

fn sendgrid(f: &Fields) -> Result<Inbound, IngressError> {
    let envelope: Option<Value> = f
        .text("envelope")
        .and_then(|e| serde_json::from_str(&e).ok());
    let envelope_to: Vec<String> = envelope
        .as_ref()
        .and_then(|e| e.get("to"))
        .map(addresses)
        .unwrap_or_default();
    let verdicts = sendgrid_verdicts(f);
    // Raw mode: "POST the raw, full MIME message".
    if let Some(raw) = f.bytes("email") {
        return relayed_raw("sendgrid", raw, envelope_to, verdicts);
    }
    let charsets: serde_json::Map<String, Value> = f
        .text("charsets")
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    let field = |name: &str| {
        f.bytes(name)
            .map(|b| decode_charset(b, charsets.get(name).and_then(Value::as_str)))
    };
    let headers = f.text("headers").unwrap_or_default();
    let mut message = Message::from_mime(format!("{}\r\n\r\n", headers.trim_end()).as_bytes())
        .unwrap_or_default();
    if let Some(from) = field("from") {
        message.from = mailboxes(&from);
    }
    if let Some(to) = field("to") {
        message.to = mailboxes(&to);
    }
    if let Some(subject) = field("subject") {
        message.subject = subject.trim().to_owned();
    }
    message.text = field("text").filter(|t| !t.trim().is_empty());
    message.html = field("html").filter(|t| !t.trim().is_empty());
    parsed(
        "sendgrid",
        message,
        envelope_to,
        digest_input(&f.0),
        verdicts,
        "`email` (raw mode) or `from` and `text`/`html`",
    )
}

/// A check's result as a provider's field spells it (`pass`, `Pass`, `softfail`, …).
fn field_verdict(value: &str) -> Verdict {
    match value.trim().to_ascii_lowercase().as_str() {
        "pass" => Verdict::Pass,
        "fail" | "softfail" | "hardfail" | "permerror" => Verdict::Fail,
        _ => Verdict::Unknown,
    }
}

/// SendGrid's own checks, posted as fields beside the mail: `SPF` (`pass`) and `dkim`, one
/// `@domain : result` per signature (`{@zillow.com : pass}`), so a passing signature names
/// its domain as the receiving server's header would.
fn sendgrid_verdicts(f: &Fields) -> Verdicts {
    let mut verdicts = Verdicts {
        spf: f.text("SPF").map(|s| field_verdict(&s)),
        ..Verdicts::default()
    };
    if let Some(dkim) = f.text("dkim") {
        let mut any = None;
        for entry in dkim.trim().trim_matches(['{', '}']).split(',') {
            let Some((domain, result)) = entry.split_once(':') else {
                continue;
            };
            let verdict = field_verdict(result);
            let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
            if verdict == Verdict::Pass
                && domain.contains('.')
                && !verdicts.dkim_domains.contains(&domain)
            {
                verdicts.dkim_domains.push(domain);
            }
            any = Some(match (any, verdict) {
                (Some(Verdict::Pass), _) | (_, Verdict::Pass) => Verdict::Pass,
                (Some(Verdict::Fail), _) | (_, Verdict::Fail) => Verdict::Fail,
                _ => Verdict::Unknown,
            });
        }
        verdicts.dkim = any.or(Some(Verdict::Unknown));
    }
    verdicts
}

/// Mailgun's own checks, posted as fields of its signed post: `X-Mailgun-Spf`,
/// `X-Mailgun-Dkim-Check-Result` (which names no domain, so it proves no sender), and
/// `X-Mailgun-Sflag` (`Yes` when its spam filter flagged the mail).
fn mailgun_verdicts(f: &Fields) -> Verdicts {
    Verdicts {
        spf: f.text("X-Mailgun-Spf").map(|s| field_verdict(&s)),
        dkim: f
            .text("X-Mailgun-Dkim-Check-Result")
            .map(|s| field_verdict(&s)),
        spam: f.text("X-Mailgun-Sflag").map(|s| {
            if s.trim().eq_ignore_ascii_case("yes") {
                Verdict::Fail
            } else {
                Verdict::Pass
            }
        }),
        ..Verdicts::default()
    }
}

fn mailgun(f: &Fields) -> Result<Inbound, IngressError> {
    let recipient: Vec<String> = f
        .text("recipient")
        .map(|r| {
            r.split(',')
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(raw) = f.bytes("body-mime") {
        return relayed_raw("mailgun", raw, recipient, mailgun_verdicts(f));
    }
    let mut message = Message::default();
    // `message-headers`: a JSON list of [name, value] pairs in their original order.
    if let Some(Value::Array(pairs)) = f
        .text("message-headers")
        .and_then(|h| serde_json::from_str(&h).ok())
    {
        for pair in pairs {
            if let (Some(n), Some(v)) = (
                pair.get(0).and_then(Value::as_str),
                pair.get(1).and_then(Value::as_str),
            ) {
                message.headers.push((n.to_ascii_lowercase(), v.to_owned()));
            }
        }
    }
    let header = |name: &str| {
        message
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    message.reply_to = header("reply-to")
        .map(|v| mailboxes(&v))
        .unwrap_or_default();
    message.to = header("to").map(|v| mailboxes(&v)).unwrap_or_default();
    message.from = mailboxes(
        &f.text("from")
            .or_else(|| header("from"))
            .unwrap_or_default(),
    );
    message.subject = f
        .text("subject")
        .or_else(|| header("subject"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    message.text = f.text("body-plain").filter(|t| !t.trim().is_empty());
    message.html = f.text("body-html").filter(|t| !t.trim().is_empty());
    parsed(
        "mailgun",
        message,
        recipient,
        digest_input(&f.0),
        mailgun_verdicts(f),
        "`body-mime`, or `from` and `body-plain`/`body-html`",
    )
}

fn postmark(v: &Value) -> Result<Inbound, IngressError> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut recipients: Vec<String> = s("OriginalRecipient")
        .map(|r| vec![r.to_lowercase()])
        .unwrap_or_default();
    for list in ["ToFull", "CcFull", "BccFull"] {
        for m in v.get(list).and_then(Value::as_array).into_iter().flatten() {
            if let Some(e) = m.get("Email").and_then(Value::as_str) {
                let e = e.to_lowercase();
                if !recipients.contains(&e) {
                    recipients.push(e);
                }
            }
        }
    }
    if let Some(raw) = s("RawEmail") {
        return relayed_raw("postmark", raw.as_bytes(), recipients, Verdicts::default());
    }
    let mut message = Message::default();
    for h in v
        .get("Headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(val)) = (
            h.get("Name").and_then(Value::as_str),
            h.get("Value").and_then(Value::as_str),
        ) {
            message
                .headers
                .push((n.to_ascii_lowercase(), val.to_owned()));
        }
    }
    if let Some(id) = s("MessageID") {
        message.headers.push(("message-id".into(), id.to_owned()));
    }
    message.from = match v.get("FromFull") {
        Some(full) => full
            .get("Email")
            .and_then(Value::as_str)
            .map(|e| {
                vec![Mailbox {
                    name: full
                        .get("Name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                    address: e.to_lowercase(),
                }]
            })
            .unwrap_or_default(),
        None => mailboxes(s("From").unwrap_or("")),
    };
    message.reply_to = mailboxes(s("ReplyTo").unwrap_or(""));
    message.to = recipients
        .iter()
        .map(|r| Mailbox {
            name: None,
            address: r.clone(),
        })
        .collect();
    message.subject = s("Subject").unwrap_or("").trim().to_owned();
    message.text = s("TextBody").map(str::to_owned);
    message.html = s("HtmlBody").map(str::to_owned);
    parsed(
        "postmark",
        message,
        recipients,
        serde_json::to_vec(v).unwrap_or_default(),
        Verdicts::default(),
        "From and TextBody or HtmlBody (or RawEmail)",
    )
}

fn cloudmailin(v: &Value, body: &[u8]) -> Result<Inbound, IngressError> {
    let message = Message::from_cloudmailin(v).ok_or_else(|| {
        IngressError::Malformed("a CloudMailin post needs `headers` and `plain`/`html`".into())
    })?;
    let to = v.get("envelope").and_then(|e| e.get("to"));
    let mut recipients: Vec<String> = match to {
        Some(Value::String(s)) => vec![s.to_lowercase()],
        Some(list) => addresses(list),
        None => Vec::new(),
    };
    if recipients.is_empty() {
        recipients = header_recipients(&message);
    }
    let spf = v
        .get("envelope")
        .and_then(|e| e.get("spf"))
        .and_then(|s| s.get("result"))
        .and_then(Value::as_str)
        .map(|r| match r {
            "pass" => Verdict::Pass,
            "fail" | "softfail" => Verdict::Fail,
            _ => Verdict::Unknown,
        });
    Ok(Inbound {
        provider: "cloudmailin",
        raw: body.to_vec(),
        message,
        recipients,
        verdicts: Verdicts {
            spf,
            ..Verdicts::default()
        },
        signed_token: None,
        mime: false,
        stored: None,
        unvouched: false,
    })
}

/// A message a provider parsed for us: refused when it has neither a sender nor a body; its
/// recipients are the provider's envelope's, else the headers'.
fn parsed(
    provider: &'static str,
    message: Message,
    reported: Vec<String>,
    raw: Vec<u8>,
    verdicts: Verdicts,
    needs: &str,
) -> Result<Inbound, IngressError> {
    if message.from.is_empty() && message.text.is_none() && message.html.is_none() {
        return Err(IngressError::Malformed(format!(
            "a {provider} post needs {needs}"
        )));
    }
    let recipients = if reported.is_empty() {
        header_recipients(&message)
    } else {
        reported
    };
    Ok(Inbound {
        provider,
        raw,
        message,
        recipients,
        verdicts,
        signed_token: None,
        mime: false,
        stored: None,
        unvouched: false,
    })
}

/// Raw MIME a provider passed along, with the envelope recipients and verdicts it reported.
fn relayed_raw(
    provider: &'static str,
    raw: &[u8],
    reported: Vec<String>,
    verdicts: Verdicts,
) -> Result<Inbound, IngressError> {
    let mut inbound = from_raw(provider, raw.to_vec())?;
    if !reported.is_empty() {
        inbound.recipients = reported;
    }
    inbound.verdicts = verdicts;
    Ok(inbound)
}

/// The fields a digest is taken over when no raw message came: the same post twice gives
/// the same bytes; the signature fields, different on each retry, are left out.
fn digest_input(fields: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        if matches!(name.as_str(), "timestamp" | "token" | "signature") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// The provider a file's content is, for `inlet parse email FILE`: JSON shapes by their
/// keys, multipart by the fields it names, otherwise raw MIME.
pub fn detect(body: &[u8]) -> (&'static str, Option<String>) {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{')
        && let Ok(v) = serde_json::from_slice::<Value>(body)
    {
        if v.get("notificationType").is_some() {
            return ("sns", None);
        }
        if v.get("Type").and_then(Value::as_str) == Some("Notification") {
            return ("sns-envelope", None);
        }
        if v.get("FromFull").is_some() || v.get("TextBody").is_some() || v.get("RawEmail").is_some()
        {
            return ("postmark", None);
        }
        if v.get("headers").is_some() && (v.get("plain").is_some() || v.get("html").is_some()) {
            return ("cloudmailin", None);
        }
    }
    if body.starts_with(b"--") {
        let line = body.split(|b| *b == b'\n').next().unwrap_or(b"");
        let boundary = String::from_utf8_lossy(&line[2..]).trim().to_owned();
        let ct = Some(format!("multipart/form-data; boundary={boundary}"));
        let head = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
        if head.contains("name=\"body-plain\"")
            || head.contains("name=\"body-mime\"")
            || head.contains("name=\"message-headers\"")
        {
            return ("mailgun", ct);
        }
        return ("sendgrid", ct);
    }
    ("raw", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendgrid_fields_are_decoded_with_their_charsets() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nAna <ana@example.com>\r\n--B\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nCaf\xe9 at 5\r\n--B\r\nContent-Disposition: form-data; name=\"charsets\"\r\n\r\n{\"text\":\"iso-8859-1\",\"from\":\"UTF-8\"}\r\n--B\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{\"to\":[\"Leads@in.example.com\"],\"from\":\"ana@example.com\"}\r\n--B\r\nContent-Disposition: form-data; name=\"SPF\"\r\n\r\npass\r\n--B--\r\n";
        let inbound = futures::executor::block_on(from_http(
            "sendgrid",
            Some("multipart/form-data; boundary=B"),
            body,
            None,
            0,
        ))
        .unwrap();
        assert_eq!(inbound.message.text.as_deref(), Some("Café at 5"));
        assert_eq!(inbound.recipients, vec!["leads@in.example.com"]);
        assert_eq!(inbound.verdicts.spf, Some(Verdict::Pass));
        assert_eq!(detect(body).0, "sendgrid");
    }

    #[test]
    fn ses_notifications_base64_and_utf8() {
        let raw =
            "From: a@example.com\r\nTo: leads@in.example.com\r\nSubject: Hi\r\n\r\nName: Ana\r\n";
        let v = serde_json::json!({
            "notificationType": "Received",
            "receipt": {"recipients": ["leads+zillow@in.example.com"], "spamVerdict": {"status": "FAIL"},
                        "virusVerdict": {"status": "PASS"}, "action": {"type": "SNS", "encoding": "BASE64"}},
            "content": base64::engine::general_purpose::STANDARD.encode(raw)
        });
        let inbound = from_ses_notification(&v).unwrap();
        assert_eq!(inbound.message.subject, "Hi");
        assert_eq!(inbound.recipients, vec!["leads+zillow@in.example.com"]);
        assert_eq!(inbound.verdicts.spam, Some(Verdict::Fail));
        assert_eq!(inbound.verdicts.virus, Some(Verdict::Pass));
        let mut utf8 = v.clone();
        utf8["receipt"]["action"]["encoding"] = "UTF-8".into();
        utf8["content"] = raw.into();
        assert_eq!(from_ses_notification(&utf8).unwrap().raw, raw.as_bytes());
        let mut bounce = v;
        bounce["notificationType"] = "Bounce".into();
        assert!(from_ses_notification(&bounce).is_err());
    }

    #[test]
    fn s3_keys_are_decoded() {
        let e = serde_json::json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "inbound/a+b%2Bc"}}}]});
        assert_eq!(s3_objects(&e), vec![("b".into(), "inbound/a b+c".into())]);
    }
}
