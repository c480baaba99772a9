//! What an address says about who writes from it: a mail provider anyone has an account
//! at, a marketplace's relay, a no-reply or notification sender, a team's or desk's
//! mailbox, and the domain it belongs to. Plain functions of the address alone: the readers
//! (`read`, the portal modules, `notice`) decide with them who the prospect is not.

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

/// The registrable part of an address's domain (`forms.sitebuilder.example` →
/// `sitebuilder.example`, `mail.example.co.uk` → `example.co.uk`).
pub(crate) fn registrable_domain(address: &str) -> Option<String> {
    let domain = address.rsplit_once('@')?.1.trim().to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    // `example.co.uk`: a short second level under a country code takes one more label.
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && second.len() <= 3 => 3,
        _ => 2,
    };
    (labels.len() >= keep).then(|| labels[labels.len() - keep..].join("."))
}

/// A relay address: a portal's listed relay, or one shaped as marketplaces shape them (a
/// token of letters and digits at a `relay.`, `reply.`, `convo.` or `messaging.` host).
pub fn is_relay(address: &str) -> bool {
    RELAYS.iter().any(|r| on_domain(address, r)) || relay_shaped(address)
}

fn relay_shaped(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let host_says = domain.to_ascii_lowercase().split('.').any(|label| {
        matches!(
            label,
            "relay"
                | "reply"
                | "replies"
                | "convo"
                | "conversations"
                | "proxy"
                | "messaging"
                | "masked"
                | "anon"
                | "anonymous"
        )
    });
    let token = local.len() >= 8 && local.chars().filter(char::is_ascii_digit).count() >= 2;
    host_says && token
}

/// The words of an address's local part (`no-reply`, `notifications.team`).
fn local_words(address: &str) -> Vec<String> {
    let local = address.split('@').next().unwrap_or("");
    let local = local
        .split('+')
        .next()
        .unwrap_or(local)
        .to_ascii_lowercase();
    local
        .split(['.', '-', '_'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An address no one reads replies at: a no-reply or notification sender. Such a sender is
/// never a prospect, and a notice from one with no inquiry in it is no lead.
pub fn is_machine_address(address: &str) -> bool {
    let local = address
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace(['-', '_', '.'], "");
    [
        "noreply",
        "donotreply",
        "notreply",
        "notification",
        "notify",
        "mailerdaemon",
    ]
    .iter()
    .any(|w| local.contains(w))
        || local_words(address).iter().any(|w| {
            matches!(
                w.as_str(),
                "alerts"
                    | "alert"
                    | "updates"
                    | "update"
                    | "news"
                    | "newsletter"
                    | "newsletters"
                    | "mailer"
                    | "digest"
                    | "automated"
                    | "robot"
                    | "bounce"
                    | "bounces"
                    | "marketing"
                    | "billing"
                    | "notifications"
                    | "postmaster"
            )
        })
}

/// An address a team, a desk or a system sends from (`info@`, `leads@`, `desk@`,
/// `forms@`), never one person's own: its display name is no prospect's name.
pub fn is_role_address(address: &str) -> bool {
    is_machine_address(address)
        || local_words(address).first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "info"
                    | "hello"
                    | "hi"
                    | "team"
                    | "support"
                    | "help"
                    | "helpdesk"
                    | "service"
                    | "services"
                    | "admin"
                    | "administrator"
                    | "webmaster"
                    | "web"
                    | "website"
                    | "site"
                    | "forms"
                    | "form"
                    | "leads"
                    | "lead"
                    | "inquiries"
                    | "inquiry"
                    | "enquiries"
                    | "contact"
                    | "contactus"
                    | "office"
                    | "desk"
                    | "frontdesk"
                    | "reception"
                    | "sales"
                    | "accounts"
                    | "relo"
                    | "relocation"
                    | "referrals"
                    | "referral"
                    | "listings"
                    | "showings"
                    | "signin"
                    | "transcripts"
                    | "assistant"
                    | "concierge"
                    | "leasing"
                    | "rentals"
                    | "mail"
                    | "general"
                    | "system"
                    | "notifications"
                    | "alerts"
                    | "chat"
                    | "bot"
                    | "guestcards"
                    | "interests"
                    | "web-leads"
                    | "weblead"
                    | "webleads"
                    | "agent"
                    | "agents"
            )
        })
}

/// Whether `address` is on `domain` or one of its subdomains.
pub fn on_domain(address: &str, domain: &str) -> bool {
    let d = address.rsplit('@').next().unwrap_or("");
    d == domain
        || (d.len() > domain.len()
            && d.ends_with(domain)
            && d[..d.len() - domain.len()].ends_with('.'))
}
