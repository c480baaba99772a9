//! The receiving server's `Authentication-Results` header (RFC 8601), read for its SPF,
//! DKIM and DMARC results and the domains they were for.
//!
//! Only one header counts: the topmost whose authserv-id is the configured receiving server
//! (SES writes `amazonses.com`). Any other was written by someone upstream, the sender
//! included, so a `dkim=pass` beneath the server's `dkim=fail` proves nothing.
//!
//! Written here rather than taken from a crate: the mail-authentication crates (mail-auth)
//! verify signatures and write this header, none reads one back, and reading it is splitting
//! on `;` once comments and quoted strings are set aside.

use super::message::Message;
#[cfg(test)]
use super::verdicts::aligned;
use super::verdicts::{Verdict, Verdicts};

/// The verdicts of the topmost `Authentication-Results` header `authserv_id` wrote; none
/// when no header is that server's.
pub fn server_verdicts(message: &Message, authserv_id: &str) -> Option<Verdicts> {
    message
        .headers
        .iter()
        .filter(|(n, _)| n == "authentication-results")
        .map(|(_, v)| parse(v))
        .find(|r| r.authserv_id.eq_ignore_ascii_case(authserv_id))
        .map(|r| r.verdicts)
}

/// One header, read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthResults {
    pub authserv_id: String,
    pub verdicts: Verdicts,
}

/// Reads one header value. Methods it does not know are skipped; a method given more than
/// once (two DKIM signatures) passes when any passes, and each passing signature's domain
/// is kept.
pub fn parse(value: &str) -> AuthResults {
    let text = without_comments(value);
    let mut parts = split_outside_quotes(&text, ';').into_iter();
    let authserv_id = parts
        .next()
        .and_then(|p| p.split_whitespace().next().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    let mut verdicts = Verdicts::default();
    for part in parts {
        let mut tokens = split_outside_quotes(&part, ' ')
            .into_iter()
            .filter(|t| !t.is_empty());
        let Some((method, result)) = tokens.next().and_then(|t| pair(&t)) else {
            continue;
        };
        let method = method.split('/').next().unwrap_or("").to_ascii_lowercase();
        let verdict = match result.to_ascii_lowercase().as_str() {
            "pass" => Verdict::Pass,
            "fail" | "softfail" | "permerror" => Verdict::Fail,
            _ => Verdict::Unknown,
        };
        let props: Vec<(String, String)> = tokens
            .filter_map(|t| pair(&t))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.trim_matches('"').to_ascii_lowercase(),
                )
            })
            .collect();
        let prop = |name: &str| {
            props
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match method.as_str() {
            "spf" => verdicts.spf = Some(combine(verdicts.spf, verdict)),
            "dkim" => {
                verdicts.dkim = Some(combine(verdicts.dkim, verdict));
                // header.d is the signing domain; SES writes header.i=@domain instead.
                let domain = prop("header.d").or_else(|| {
                    prop("header.i").map(|i| i.rsplit('@').next().unwrap_or("").to_owned())
                });
                if verdict == Verdict::Pass
                    && let Some(d) = domain.filter(|d| !d.is_empty())
                    && !verdicts.dkim_domains.contains(&d)
                {
                    verdicts.dkim_domains.push(d);
                }
            }
            "dmarc" => {
                verdicts.dmarc = Some(combine(verdicts.dmarc, verdict));
                if verdict == Verdict::Pass {
                    verdicts.dmarc_domain = prop("header.from");
                }
            }
            _ => {}
        }
    }
    AuthResults {
        authserv_id,
        verdicts,
    }
}

/// Two results of one method: any pass passes, else any fail fails.
fn combine(before: Option<Verdict>, now: Verdict) -> Verdict {
    match (before, now) {
        (Some(Verdict::Pass), _) | (_, Verdict::Pass) => Verdict::Pass,
        (Some(Verdict::Fail), _) | (_, Verdict::Fail) => Verdict::Fail,
        _ => Verdict::Unknown,
    }
}

fn pair(token: &str) -> Option<(String, String)> {
    let (k, v) = token.split_once('=')?;
    Some((k.trim().to_owned(), v.trim().to_owned()))
}

/// The value with its `(comments)` removed (they nest, and may hold `;` and `=`).
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            _ if depth == 0 => out.push(if c.is_whitespace() { ' ' } else { c }),
            _ => {}
        }
    }
    out
}

fn split_outside_quotes(text: &str, at: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == at && !quoted {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out.into_iter().map(|s| s.trim().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: &[&str]) -> Message {
        let raw = format!(
            "{}\r\nFrom: a@zillow.com\r\nSubject: s\r\n\r\nbody\r\n",
            headers.join("\r\n")
        );
        Message::from_mime(raw.as_bytes()).unwrap()
    }

    #[test]
    fn ses_header_is_read_with_domains() {
        let r = parse(
            "amazonses.com;\r\n spf=pass (spfCheck: domain of zillow.com designates 1.2.3.4 as permitted sender) client-ip=1.2.3.4; envelope-from=x@zillow.com; helo=mail.zillow.com;\r\n dkim=pass header.i=@zillow.com;\r\n dmarc=pass header.from=zillow.com;",
        );
        assert_eq!(r.authserv_id, "amazonses.com");
        assert_eq!(r.verdicts.spf, Some(Verdict::Pass));
        assert_eq!(r.verdicts.dkim, Some(Verdict::Pass));
        assert_eq!(r.verdicts.dkim_domains, vec!["zillow.com".to_owned()]);
        assert_eq!(r.verdicts.dmarc, Some(Verdict::Pass));
        assert_eq!(r.verdicts.dmarc_domain.as_deref(), Some("zillow.com"));
    }

    #[test]
    fn a_forged_pass_beneath_the_servers_fail_is_not_read() {
        // Servers prepend: the receiving server's header is the topmost.
        let m = message(&[
            "Authentication-Results: amazonses.com; spf=fail smtp.mailfrom=zillow.com; dkim=fail header.d=zillow.com; dmarc=fail header.from=zillow.com",
            "Authentication-Results: amazonses.com; spf=pass; dkim=pass header.d=zillow.com; dmarc=pass header.from=zillow.com",
        ]);
        let v = server_verdicts(&m, "amazonses.com").unwrap();
        assert_eq!(v.dkim, Some(Verdict::Fail));
        assert_eq!(v.dmarc, Some(Verdict::Fail));
        assert!(v.dkim_domains.is_empty());
        assert_eq!(v.dmarc_domain, None);
    }

    #[test]
    fn another_servers_header_counts_for_nothing() {
        let m = message(&[
            "Authentication-Results: mx.attacker.example; dkim=pass header.d=zillow.com; dmarc=pass header.from=zillow.com",
        ]);
        assert_eq!(server_verdicts(&m, "amazonses.com"), None);
        // Unless that server is the one configured.
        let v = server_verdicts(&m, "MX.attacker.example").unwrap();
        assert_eq!(v.dmarc, Some(Verdict::Pass));
    }

    #[test]
    fn comments_and_quotes_cannot_smuggle_a_result() {
        let r = parse(
            "amazonses.com; dkim=fail (dkim=pass; dmarc=pass header.from=zillow.com) header.d=zillow.com; spf=none smtp.mailfrom=\"a;dmarc=pass\"",
        );
        assert_eq!(r.verdicts.dkim, Some(Verdict::Fail));
        assert_eq!(r.verdicts.dmarc, None);
        assert_eq!(r.verdicts.spf, Some(Verdict::Unknown));
        // `none` from the server: nothing was checked.
        assert_eq!(parse("amazonses.com; none").verdicts, Verdicts::default());
        // Nested comments, a version on the id, a version on the method.
        let r = parse("amazonses.com 1 (a (b) c); dkim/1=pass header.d=zillow.com");
        assert_eq!(r.authserv_id, "amazonses.com");
        assert_eq!(r.verdicts.dkim_domains, vec!["zillow.com".to_owned()]);
    }

    #[test]
    fn two_signatures_one_passing() {
        let r =
            parse("amazonses.com; dkim=fail header.d=other.example; dkim=pass header.d=Zillow.com");
        assert_eq!(r.verdicts.dkim, Some(Verdict::Pass));
        assert_eq!(r.verdicts.dkim_domains, vec!["zillow.com".to_owned()]);
    }

    #[test]
    fn alignment_is_the_domain_or_a_parent_of_it() {
        assert!(aligned("zillow.com", "zillow.com"));
        assert!(aligned("mail.zillow.com", "zillow.com"));
        assert!(!aligned("zillow.com", "mail.zillow.com"));
        assert!(!aligned("notzillow.com", "zillow.com"));
        assert!(!aligned("zillow.com", "com"));
        assert!(!aligned("zillow.com", ""));
    }
}
