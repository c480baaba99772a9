//! Mail that reaches a lead address but is no inquiry: bounces, auto-replies, saved-search
//! alerts, listing-live confirmations, newsletters, receipts and account codes. They are
//! recognized, not queued, and logged with the reason.

use super::message::Message;

/// Why a message is not a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotALead {
    Bounce,
    AutoReply,
    SearchAlert,
    ListingNotice,
    Newsletter,
    Receipt,
    AccountNotice,
    /// A notice from a no-reply or notification sender with no inquiry in it (a vendor's
    /// notice, a trial expiry, a social network's alert), forwarded or not.
    NoticeWithoutInquiry,
}

impl NotALead {
    pub fn reason(self) -> &'static str {
        match self {
            NotALead::Bounce => "a delivery failure report (bounce)",
            NotALead::AutoReply => "an automatic reply",
            NotALead::SearchAlert => "a saved-search or listing alert",
            NotALead::ListingNotice => "a notice about the agent's own listing",
            NotALead::Newsletter => "a newsletter or bulk mailing",
            NotALead::Receipt => "a receipt or billing notice",
            NotALead::AccountNotice => "an account notice (code, password, verification)",
            NotALead::NoticeWithoutInquiry => {
                "a notice from a no-reply or notification sender, with no inquiry in it"
            }
        }
    }
}

const BOUNCE_SENDERS: &[&str] = &["mailer-daemon@", "postmaster@"];
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered mail",
    "delivery status notification",
    "mail delivery failed",
    "returned mail",
    "delivery failure",
    "failure notice",
];
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "automatic reply",
    "auto-reply",
    "autoreply",
    "auto reply",
    "out of office",
    "out of the office",
    "respuesta automática",
    "réponse automatique",
    "abwesenheitsnotiz",
    "resposta automática",
];
const ALERT_SUBJECTS: &[&str] = &[
    "saved search",
    "new listings",
    "listing alert",
    "new homes for you",
    "homes for you",
    "new homes matching",
    "price reduced",
    "price cut",
    "open house alert",
    "new matches",
    "instant update",
    "daily update",
    "market report",
];
const ALERT_SENDERS: &[&str] = &[
    "instant-updates@",
    "alerts@",
    "savedsearch",
    "listing-alerts@",
];
const LISTING_SUBJECTS: &[&str] = &[
    "your listing is live",
    "listing is now live",
    "listing is now active",
    "listing has been published",
    "listing has expired",
    "listing was deactivated",
    "listing will expire",
];
const NEWSLETTER_SUBJECTS: &[&str] = &["newsletter", "weekly digest", "monthly digest", "webinar"];
const RECEIPT_SUBJECTS: &[&str] = &[
    "receipt",
    "payment confirmation",
    "payment received",
    "your invoice",
    "invoice #",
    "order confirmation",
    "your order",
    "billing statement",
];
const ACCOUNT_SUBJECTS: &[&str] = &[
    "verification code",
    "verify your email",
    "confirm your email",
    "password reset",
    "reset your password",
    "sign-in code",
    "login code",
    "security alert",
];

fn any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

/// Why a message is no lead, if it is none. `outer` is the message as received, `original`
/// the one inside any forward: bounces and auto-replies show on the outer one, the rest on
/// what the portal sent.
pub fn classify(outer: &Message, original: &Message) -> Option<NotALead> {
    let from = outer.from.first().map(|m| m.address.as_str()).unwrap_or("");
    let subject = outer.subject.to_lowercase();
    let content_type = outer
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if any(from, BOUNCE_SENDERS)
        || content_type.contains("report-type=delivery-status")
        || any(&subject, BOUNCE_SUBJECTS)
    {
        return Some(NotALead::Bounce);
    }
    let auto_submitted = outer
        .header("auto-submitted")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    let precedence = outer
        .header("precedence")
        .unwrap_or("")
        .to_ascii_lowercase();
    if outer.header("x-autoreply").is_some()
        || outer.header("x-autorespond").is_some()
        || precedence.contains("auto_reply")
        || any(&subject, AUTO_REPLY_SUBJECTS)
        || (auto_submitted && !looks_like_inquiry(original))
    {
        return Some(NotALead::AutoReply);
    }
    let subject = original.subject.to_lowercase();
    let from = original
        .from
        .first()
        .map(|m| m.address.as_str())
        .unwrap_or("");
    if any(&subject, LISTING_SUBJECTS) {
        return Some(NotALead::ListingNotice);
    }
    // An alerts address also sends inquiries on a listing ("New inquiry on your listing"):
    // the sender alone decides only when the subject says nothing of one.
    if any(&subject, ALERT_SUBJECTS) || (any(from, ALERT_SENDERS) && !looks_like_inquiry(original))
    {
        return Some(NotALead::SearchAlert);
    }
    if any(&subject, RECEIPT_SUBJECTS) {
        return Some(NotALead::Receipt);
    }
    if any(&subject, ACCOUNT_SUBJECTS) {
        return Some(NotALead::AccountNotice);
    }
    let bulk = precedence.contains("bulk") || precedence.contains("list");
    if any(&subject, NEWSLETTER_SUBJECTS) || (bulk && !looks_like_inquiry(original)) {
        return Some(NotALead::Newsletter);
    }
    None
}

/// Portal lead mail is sent by machines too (auto-submitted, bulk precedence): words an
/// inquiry carries keep it from being taken for an auto-reply or a newsletter.
fn looks_like_inquiry(message: &Message) -> bool {
    let subject = message.subject.to_lowercase();
    [
        "lead",
        "inquiry",
        "enquiry",
        "interested",
        "message from",
        "contact",
        "request",
        "tour",
        "guest card",
        "guestcard",
    ]
    .iter()
    .any(|w| subject.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::message::Mailbox;

    fn message(from: &str, subject: &str, headers: &[(&str, &str)]) -> Message {
        Message {
            from: vec![Mailbox {
                name: None,
                address: from.into(),
            }],
            subject: subject.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
            ..Message::default()
        }
    }

    #[test]
    fn each_kind_is_told_apart_from_a_lead() {
        for (m, want) in [
            (
                message(
                    "mailer-daemon@mx.example",
                    "Undelivered Mail Returned to Sender",
                    &[],
                ),
                Some(NotALead::Bounce),
            ),
            (
                message("agent@example.com", "Automatic reply: New lead", &[]),
                Some(NotALead::AutoReply),
            ),
            (
                message(
                    "a@example.com",
                    "Away",
                    &[("auto-submitted", "auto-replied")],
                ),
                Some(NotALead::AutoReply),
            ),
            (
                message(
                    "instant-updates@mail.zillow.com",
                    "3 new homes in Austin",
                    &[],
                ),
                Some(NotALead::SearchAlert),
            ),
            (
                message("hello@realtor.com", "Your listing is live!", &[]),
                Some(NotALead::ListingNotice),
            ),
            (
                message("news@portal.example", "The October newsletter", &[]),
                Some(NotALead::Newsletter),
            ),
            (
                message("billing@portal.example", "Your receipt from Portal", &[]),
                Some(NotALead::Receipt),
            ),
            (
                message(
                    "no-reply@portal.example",
                    "Your verification code is 1234",
                    &[],
                ),
                Some(NotALead::AccountNotice),
            ),
            // A missed call from an interested renter is someone to call back.
            (
                message("info@portal.example", "You may have missed a lead", &[]),
                None,
            ),
            (
                message(
                    "leads@zillow.com",
                    "Ana Silva is interested in 12 Elm St",
                    &[("precedence", "bulk"), ("auto-submitted", "auto-generated")],
                ),
                None,
            ),
        ] {
            assert_eq!(classify(&m, &m), want, "{}", m.subject);
        }
    }
}
