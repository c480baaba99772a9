//! Forwarding confirmations: the message a mailbox provider sends to Inlet's address when an
//! agent turns on forwarding to it. Until someone confirms, no lead the agent forwards
//! arrives; dropped as an account notice, the agent would never see the code.
//!
//! - Gmail: from `forwarding-noreply@google.com`, subject `(#<code>) Gmail Forwarding
//!   Confirmation - Receive Mail from <address>`, a link on `mail-settings.google.com` and the
//!   code again in the text.
//! - Yahoo Mail (forwarding is a paid feature there): a verification message from a Yahoo
//!   domain whose subject names forwarding, with a link to verify.
//! - Microsoft 365 and Outlook.com send none: their forwarding needs no confirmation from
//!   the receiving address.
//!
//! Recognition is by sender and subject; the sender is proven, or not, by the receiving
//! server's verdicts, which `confirm_link` requires before anything is fetched.

use super::{Message, Verdicts};

/// The one host a confirmation link may be fetched from (Gmail's).
pub const GMAIL_CONFIRMATION_HOST: &str = "mail-settings.google.com";

/// A forwarding confirmation, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingConfirmation {
    /// `gmail` or `yahoo`.
    pub provider: &'static str,
    /// The mailbox that asked to forward to Inlet (the agent's).
    pub requester: Option<String>,
    pub code: Option<String>,
    pub link: Option<String>,
}

impl ForwardingConfirmation {
    /// What the operator reads (`inlet dlq list`): who asked, the code and the link.
    pub fn describe(&self) -> String {
        format!(
            "forwarding confirmation ({}): {} asked to forward mail here; code {}; confirm at {}",
            self.provider,
            self.requester.as_deref().unwrap_or("a mailbox"),
            self.code.as_deref().unwrap_or("(none)"),
            self.link.as_deref().unwrap_or("(no link)"),
        )
    }
}

/// The forwarding confirmation `message` is, if it is one.
pub fn recognize(message: &Message) -> Option<ForwardingConfirmation> {
    let from = message
        .from
        .first()
        .map(|m| m.address.to_ascii_lowercase())?;
    let subject = message.subject.trim();
    let text = message.text.as_deref().unwrap_or("");
    let html = message.html.as_deref().unwrap_or("");
    if from == "forwarding-noreply@google.com" {
        let lower = subject.to_ascii_lowercase();
        if !lower.contains("forwarding confirmation") {
            return None;
        }
        let code = subject
            .strip_prefix("(#")
            .and_then(|rest| rest.split_once(')'))
            .map(|(code, _)| code.trim().to_owned())
            .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit()));
        let requester = subject
            .rsplit_once(" from ")
            .map(|(_, address)| address.trim().to_owned())
            .filter(|a| a.contains('@'));
        return Some(ForwardingConfirmation {
            provider: "gmail",
            requester,
            code,
            link: first_link(text, GMAIL_CONFIRMATION_HOST)
                .or_else(|| first_link(html, GMAIL_CONFIRMATION_HOST)),
        });
    }
    let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
    let yahoo = ["yahoo.com", "yahoo-inc.com", "yahoomail.com"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
    let lower = subject.to_ascii_lowercase();
    if yahoo && lower.contains("forward") && (lower.contains("verif") || lower.contains("confirm"))
    {
        let link = links(text)
            .chain(links(html))
            .find(|l| host_of(l).is_some_and(|h| h == "yahoo.com" || h.ends_with(".yahoo.com")));
        return Some(ForwardingConfirmation {
            provider: "yahoo",
            requester: None,
            code: None,
            link,
        });
    }
    None
}

/// The link to fetch to confirm, when Inlet may: `[email] confirm_forwarding` is on, it is
/// Gmail's, the server proved the message is google.com's (an aligned DKIM or DMARC pass),
/// and the link is https on exactly Gmail's confirmation host. Nothing else taken from mail
/// is ever fetched.
pub fn confirm_link(
    confirmation: &ForwardingConfirmation,
    verdicts: &Verdicts,
    enabled: bool,
) -> Option<url::Url> {
    if !enabled || confirmation.provider != "gmail" || !verdicts.authenticates("google.com") {
        return None;
    }
    let url = url::Url::parse(confirmation.link.as_deref()?).ok()?;
    let exact = url.scheme() == "https"
        && url.host_str() == Some(GMAIL_CONFIRMATION_HOST)
        && url.port().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    exact.then_some(url)
}

/// The https links in a text, as written (up to whitespace, quotes or angle brackets).
fn links(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("https://").map(move |(at, _)| {
        text[at..]
            .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .next()
            .unwrap_or("")
            .replace("&amp;", "&")
    })
}

fn first_link(text: &str, host: &str) -> Option<String> {
    links(text).find(|l| host_of(l) == Some(host.to_owned()))
}

fn host_of(link: &str) -> Option<String> {
    url::Url::parse(link)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::authres;

    /// Gmail's confirmation as its help describes it (code in the subject and the text,
    /// link on mail-settings.google.com), written for these tests.
    pub(crate) const GMAIL: &str = "Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=google.com; dkim=pass header.i=@google.com; dmarc=pass header.from=google.com\r\nFrom: Gmail Team <forwarding-noreply@google.com>\r\nTo: leads@in.example.com\r\nSubject: (#418220937) Gmail Forwarding Confirmation - Receive Mail from ana.agent@gmail.com\r\nMessage-ID: <fwd-confirm-1@google.com>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nana.agent@gmail.com has requested to automatically forward mail to your email\r\naddress leads@in.example.com.\r\nConfirmation code: 418220937\r\n\r\nTo allow ana.agent@gmail.com to automatically forward mail to your address,\r\nplease click the link below to confirm the request:\r\n\r\nhttps://mail-settings.google.com/mail/vf-%5BANGjdJ9xQ2%5D-Zk3pLw8\r\n\r\nIf you click the link and it appears to be broken, please copy and paste it\r\ninto a new browser window.\r\n";

    const YAHOO: &str = "From: Yahoo <no-reply@cc.yahoo-inc.com>\r\nTo: leads@in.example.com\r\nSubject: Verify your forwarding address\r\nMessage-ID: <yahoo-fwd-1@yahoo.com>\r\n\r\nSomeone asked to forward Yahoo Mail to leads@in.example.com.\r\nVerify: https://login.yahoo.com/account/verify-forwarding?token=abc123\r\n";

    fn message(raw: &str) -> Message {
        Message::from_mime(raw.as_bytes()).unwrap()
    }

    #[test]
    fn gmail_confirmation_gives_its_code_requester_and_link() {
        let c = recognize(&message(GMAIL)).unwrap();
        assert_eq!(c.provider, "gmail");
        assert_eq!(c.code.as_deref(), Some("418220937"));
        assert_eq!(c.requester.as_deref(), Some("ana.agent@gmail.com"));
        assert_eq!(
            c.link.as_deref(),
            Some("https://mail-settings.google.com/mail/vf-%5BANGjdJ9xQ2%5D-Zk3pLw8")
        );
        assert!(c.describe().contains("418220937"));
    }

    #[test]
    fn yahoo_verification_is_recognized_and_never_fetched() {
        let c = recognize(&message(YAHOO)).unwrap();
        assert_eq!(c.provider, "yahoo");
        assert!(
            c.link
                .as_deref()
                .unwrap()
                .starts_with("https://login.yahoo.com/")
        );
        let all_pass = Verdicts {
            dmarc: Some(crate::email::Verdict::Pass),
            ..Verdicts::default()
        };
        assert_eq!(confirm_link(&c, &all_pass, true), None);
    }

    #[test]
    fn other_mail_is_no_confirmation() {
        let lead = GMAIL.replace("forwarding-noreply@google.com", "someone@gmail.com");
        assert_eq!(recognize(&message(&lead)), None);
        let other = GMAIL.replace("Forwarding Confirmation", "Security alert");
        assert_eq!(recognize(&message(&other)), None);
    }

    #[test]
    fn only_googles_proven_message_with_the_exact_host_is_fetched() {
        let m = message(GMAIL);
        let proven = authres::server_verdicts(&m, "amazonses.com").unwrap();
        let c = recognize(&m).unwrap();
        assert!(confirm_link(&c, &proven, true).is_some());
        assert_eq!(confirm_link(&c, &proven, false), None, "off unless enabled");
        assert_eq!(
            confirm_link(&c, &Verdicts::default(), true),
            None,
            "unproven"
        );
        let other_domain = Verdicts {
            dkim_domains: vec!["google.com.attacker.example".into()],
            ..Verdicts::default()
        };
        assert_eq!(confirm_link(&c, &other_domain, true), None);
        for link in [
            "http://mail-settings.google.com/mail/vf-x",
            "https://mail-settings.google.com.attacker.example/mail/vf-x",
            "https://attacker.example/?mail-settings.google.com",
            "https://mail-settings.google.com:8443/mail/vf-x",
            "https://user@mail-settings.google.com/mail/vf-x",
            "https://evil.mail-settings.google.com/x",
        ] {
            let forged = ForwardingConfirmation {
                link: Some(link.to_owned()),
                ..c.clone()
            };
            assert_eq!(confirm_link(&forged, &proven, true), None, "{link}");
        }
    }
}
