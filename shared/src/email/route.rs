//! Which lead channel a message is for, from its recipients: an exact address, a plus-tag
//! (`leads+zillow@…`), a UUID local part (`<channel>@…` or `leads+<channel>@…`) used as the
//! channel itself, then the default channel. A message no rule routes is unroutable: it is
//! dead-lettered with the reason, never dropped.
//!
//! The `[email]` table of the routing file:
//!
//! ```toml
//! [email]
//! default_channel = "6f1c…"          # optional
//! forwarder_is_assignee = true       # a listed agent who forwards a lead gets it
//! agents = ["ana@brokerage.example", "brokerage.example"]   # addresses or domains
//! require_spf = false                # the receiving server's verdicts: drop mail that fails
//! require_dkim = false
//! require_dmarc = false
//! http_token = "env:INLET_EMAIL_HTTP_TOKEN"   # mail posted over HTTP must present it
//! confirm_forwarding = false         # fetch Gmail's forwarding confirmation link itself
//! mailgun_signing_key = "env:MAILGUN_SIGNING_KEY"
//! [email.verdicts_from]             # mail posted over HTTP: the server that received it
//! raw = "mx.brokerage.example"       # (its authserv-id); SES's mail always counts SES's
//! [email.addresses]
//! "zillow@leads.example.com" = "0b3e…"
//! [email.tags]
//! realtor = "9d2a…"
//! [email.fields."newportal.example"]   # how to read a sender's labels (`labels`)
//! "Best number to text" = "phone"
//! ```

use crate::settings;
use crate::web::ChannelPolicy;
use std::collections::{BTreeMap, HashMap};

/// Email settings from the routing file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmailSettings {
    pub addresses: HashMap<String, String>,
    pub tags: HashMap<String, String>,
    pub default_channel: Option<String>,
    pub forwarder_is_assignee: bool,
    /// Forwarders whose forwards are trusted (addresses, or domains), lower-case.
    pub agents: Vec<String>,
    pub require_spf: bool,
    pub require_dkim: bool,
    pub require_dmarc: bool,
    /// Per HTTP route (`raw`, `sendgrid`, …), the authserv-id of the server that received
    /// the mail before it was posted, when the operator runs one that writes
    /// `Authentication-Results`: only that header counts on that route (`receiving_server`).
    pub verdicts_from: BTreeMap<String, String>,
    /// The credential every mail post over HTTP must carry (Basic password or `?token=`);
    /// none configured refuses them all.
    pub http_token: Option<String>,
    /// Confirm Gmail forwarding requests by fetching their link (only Google's, DKIM-signed).
    pub confirm_forwarding: bool,
    pub mailgun_signing_key: Option<String>,
    /// Per sender address or domain, labels → lead fields (`[email.fields]`).
    pub fields: super::labels::SenderLabels,
}

/// The authserv-id SES writes into the mail it receives.
pub const SES_AUTHSERV_ID: &str = "amazonses.com";

/// The routes whose provider posts its own verdicts as fields (SendGrid's `SPF`/`dkim`,
/// CloudMailin's `envelope.spf`): believed only in a post carrying that route's own token.
pub const VERDICT_FIELD_ROUTES: [&str; 2] = ["sendgrid", "cloudmailin"];

/// A route's own token, derived from the mail token: the hex HMAC-SHA256 of the route's
/// name under the mail token (`printf sendgrid | openssl dgst -sha256 -hmac "$MAIL_TOKEN"`).
/// The mail token opens every route; only a route's own token vouches that the post came
/// from the provider configured with it, so only then are the provider's verdict fields
/// believed. Whoever holds the mail token (any provider's settings, a person testing with
/// `/email/raw`) cannot pass for SendGrid.
pub fn route_token(http_token: &str, route: &str) -> String {
    hex::encode(crate::web::signature::sign(
        http_token.as_bytes(),
        &[route.as_bytes()],
    ))
}

/// The routes mail is posted to over HTTP, where whoever composed the mail also wrote its
/// headers: no header verdict counts there unless `[email.verdicts_from]` names its server.
pub const HTTP_ROUTES: [&str; 5] = ["raw", "sendgrid", "mailgun", "postmark", "cloudmailin"];

/// How a message was routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub channel: String,
    /// The rule that matched: `address`, `tag`, `uuid` or `default`.
    pub rule: &'static str,
}

impl EmailSettings {
    /// The server whose `Authentication-Results` header counts on mail that came by
    /// `provider`: SES's own on mail SES stored or sent (nobody else writes into that path);
    /// on a route posted over HTTP only the server the operator named for it, for there the
    /// mail's author wrote every header that no server in front of the route added.
    pub fn receiving_server(&self, provider: &str) -> Option<&str> {
        match provider {
            "ses" | "sns" => Some(SES_AUTHSERV_ID),
            route => self.verdicts_from.get(route).map(String::as_str),
        }
    }

    /// Whose verdicts count on each way mail arrives, for `inlet check`.
    pub fn verdict_sources(&self) -> Vec<(&'static str, String)> {
        let header = |route: &str| match self.receiving_server(route) {
            Some(id) => format!("the Authentication-Results of {id}"),
            None => "no header (any could be the sender's)".to_owned(),
        };
        let mut out = vec![("ses", format!("SES's receipt and {}", header("ses")))];
        for route in HTTP_ROUTES {
            let carrier = match route {
                "sendgrid" => "SendGrid's SPF and dkim fields (posted with the route's own token)",
                "mailgun" => {
                    "Mailgun's X-Mailgun-Spf, -Dkim-Check-Result and -Sflag fields (signed)"
                }
                "cloudmailin" => "CloudMailin's envelope SPF (posted with the route's own token)",
                _ => "",
            };
            let header = header(route);
            out.push((
                route,
                if carrier.is_empty() {
                    header
                } else {
                    format!("{carrier}; {header}")
                },
            ));
        }
        out
    }

    /// Reads the `[email]` table; every channel must be a UUID the policy admits.
    pub fn from_toml(table: &toml::Table, policy: &ChannelPolicy) -> Result<Self, String> {
        let mut s = EmailSettings::default();
        let Some(email) = table.get("email") else {
            return Ok(s);
        };
        let email = email.as_table().ok_or("email must be a table")?;
        let channel = |at: &str, v: &toml::Value| -> Result<String, String> {
            let given = settings::string(at, v)?;
            policy
                .admit(&given)
                .ok_or_else(|| format!("{at}: {given:?} is not an allowed lead channel"))
        };
        let flag = settings::flag;
        for (key, v) in email {
            let at = format!("email.{key}");
            match key.as_str() {
                "default_channel" => s.default_channel = Some(channel(&at, v)?),
                "forwarder_is_assignee" => s.forwarder_is_assignee = flag(&at, v)?,
                "require_spf" => s.require_spf = flag(&at, v)?,
                "require_dkim" => s.require_dkim = flag(&at, v)?,
                "require_dmarc" => s.require_dmarc = flag(&at, v)?,
                "confirm_forwarding" => s.confirm_forwarding = flag(&at, v)?,
                "authserv_id" => {
                    // It once named one server for every route, which let a sender's own
                    // header speak for mail posted over HTTP. SES's id is the only one that
                    // still means what it did.
                    let id = settings::string(&at, v)?.trim().to_ascii_lowercase();
                    if id != SES_AUTHSERV_ID {
                        return Err(format!(
                            "{at}: {id:?} is no longer read: mail SES receives counts only SES's own header, and mail posted over HTTP counts a header only from the server named for its route, e.g. [email.verdicts_from] raw = {id:?}"
                        ));
                    }
                }
                "verdicts_from" => {
                    let t = v
                        .as_table()
                        .ok_or_else(|| format!("{at} must be a table of route = server"))?;
                    for (route, v) in t {
                        let at = format!("{at}.{route}");
                        if !HTTP_ROUTES.contains(&route.as_str()) {
                            return Err(format!(
                                "{at}: not a mail route posted over HTTP ({})",
                                HTTP_ROUTES.join(", ")
                            ));
                        }
                        let id = settings::string(&at, v)?.trim().to_ascii_lowercase();
                        if id.is_empty() || id.contains(char::is_whitespace) {
                            return Err(format!("{at}: {id:?} is not a host name"));
                        }
                        if id == SES_AUTHSERV_ID {
                            return Err(format!(
                                "{at}: SES does not post mail to /email/{route}; a header naming it there was written by someone else"
                            ));
                        }
                        s.verdicts_from.insert(route.clone(), id);
                    }
                }
                "http_token" => {
                    let token = settings::secret(&at, v)?;
                    if token.trim().len() < 16 {
                        return Err(format!(
                            "{at}: a token must be at least 16 characters (it is a password)"
                        ));
                    }
                    s.http_token = Some(token.trim().to_owned());
                }
                "agents" => {
                    for agent in settings::strings(&at, v)? {
                        let agent = agent.trim().trim_start_matches('@').to_lowercase();
                        if agent.is_empty() || !agent.contains('.') {
                            return Err(format!(
                                "{at}: {agent:?} is neither an address nor a domain"
                            ));
                        }
                        s.agents.push(agent);
                    }
                }
                "mailgun_signing_key" => s.mailgun_signing_key = Some(settings::secret(&at, v)?),
                "fields" => s.fields = super::labels::SenderLabels::from_toml(&at, v)?,
                "addresses" | "tags" => {
                    let t = v
                        .as_table()
                        .ok_or_else(|| format!("{at} must be a table"))?;
                    for (name, v) in t {
                        let c = channel(&format!("{at}.{name}"), v)?;
                        let name = name.trim().to_lowercase();
                        if key == "addresses" {
                            if !name.contains('@') {
                                return Err(format!("{at}.{name}: not an email address"));
                            }
                            s.addresses.insert(name, c);
                        } else {
                            s.tags.insert(name, c);
                        }
                    }
                }
                _ => return Err(format!("{at}: unknown setting")),
            }
        }
        Ok(s)
    }

    /// The channel for a message sent to `recipients`, or why there is none.
    pub fn route(&self, recipients: &[String], policy: &ChannelPolicy) -> Result<Routed, String> {
        let recipients: Vec<String> = recipients
            .iter()
            .map(|r| r.trim().trim_matches(['<', '>']).to_lowercase())
            .filter(|r| r.contains('@'))
            .collect();
        for r in &recipients {
            if let Some(c) = self.addresses.get(r) {
                return Ok(routed(c, "address"));
            }
        }
        for r in &recipients {
            if let Some((_, tag)) = local_part(r).split_once('+')
                && let Some(c) = self.tags.get(tag)
            {
                return Ok(routed(c, "tag"));
            }
        }
        for r in &recipients {
            let local = local_part(r);
            let candidate = local.split_once('+').map_or(local, |(_, tag)| tag);
            if let Some(c) = policy.admit(candidate) {
                return Ok(routed(&c, "uuid"));
            }
        }
        if let Some(c) = &self.default_channel {
            return Ok(routed(c, "default"));
        }
        Err(if recipients.is_empty() {
            "unroutable: the message names no recipient".to_owned()
        } else {
            format!(
                "unroutable: no routing rule for {} (add it under [email.addresses] or set email.default_channel)",
                // Unmasked: these are the brokerage's own inbound addresses, and the operator
                // needs the exact one to add.
                recipients.join(", ")
            )
        })
    }
}

impl EmailSettings {
    /// Whether `address` is a listed agent's, by address or by domain.
    pub fn is_agent(&self, address: &str) -> bool {
        let address = address.trim().to_lowercase();
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        self.agents
            .iter()
            .any(|a| *a == address || (!a.contains('@') && a == domain))
    }
}

fn local_part(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(l, _)| l)
}

fn routed(channel: &str, rule: &'static str) -> Routed {
    Routed {
        channel: channel.to_owned(),
        rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0b3e8a4c-1f2d-4e5a-9b6c-7d8e9f0a1b2c";
    const B: &str = "9d2a7b1c-3e4f-4a5b-8c6d-0e1f2a3b4c5d";
    const C: &str = "6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f";

    fn settings() -> EmailSettings {
        let toml: toml::Table = format!(
            "[email]\ndefault_channel = \"{C}\"\n[email.addresses]\n\"Zillow@Leads.example.com\" = \"{A}\"\n[email.tags]\nrealtor = \"{B}\"\n"
        )
        .parse()
        .unwrap();
        EmailSettings::from_toml(&toml, &ChannelPolicy::AnyUuid).unwrap()
    }

    #[test]
    fn rules_in_order() {
        let s = settings();
        let p = ChannelPolicy::AnyUuid;
        let route = |r: &[&str]| {
            s.route(&r.iter().map(|x| x.to_string()).collect::<Vec<_>>(), &p)
                .map(|r| (r.channel, r.rule))
        };
        assert_eq!(
            route(&["zillow@leads.example.com"]),
            Ok((A.into(), "address"))
        );
        assert_eq!(
            route(&["leads+realtor@leads.example.com"]),
            Ok((B.into(), "tag"))
        );
        assert_eq!(
            route(&[&format!("{}@leads.example.com", A.to_uppercase())]),
            Ok((A.into(), "uuid"))
        );
        assert_eq!(
            route(&[&format!("leads+{B}@leads.example.com")]),
            Ok((B.into(), "uuid"))
        );
        assert_eq!(
            route(&["someone@leads.example.com"]),
            Ok((C.into(), "default"))
        );
        // An exact address wins over a later recipient's tag.
        assert_eq!(
            route(&["leads+realtor@x.example", "zillow@leads.example.com"]),
            Ok((A.into(), "address"))
        );
    }

    #[test]
    fn unroutable_says_why_and_channels_are_checked() {
        let none = EmailSettings::default();
        let only = ChannelPolicy::from_list(&[A.to_owned()]);
        let err = none
            .route(&[format!("{B}@in.example.com")], &only)
            .unwrap_err();
        assert!(err.starts_with("unroutable: no routing rule"), "{err}");
        // The operator sees the exact address to add.
        assert!(err.contains(&format!("{B}@in.example.com")), "{err}");
        let bad: toml::Table = format!("[email.tags]\nx = \"{B}\"\n").parse().unwrap();
        assert!(
            EmailSettings::from_toml(&bad, &only)
                .unwrap_err()
                .contains("not an allowed")
        );
        let unknown: toml::Table = "[email]\nfoo = 1\n".parse().unwrap();
        assert!(EmailSettings::from_toml(&unknown, &ChannelPolicy::AnyUuid).is_err());
    }
}
