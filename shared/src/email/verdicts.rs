//! The receiving service's verdicts on a message (spam, virus, SPF, DKIM, DMARC), and
//! whether they prove the message comes from a domain. Plain data: the carriers (`ingress`)
//! and the receiving server's header (`authres`) both fill it.

/// A receiving service's verdict on a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Gray, not available, processing failed: no answer either way.
    Unknown,
}

/// Checks the receiving service made (SES receipts; SendGrid's SPF/DKIM fields; the
/// receiving server's `Authentication-Results`, see `authres`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Verdicts {
    pub spam: Option<Verdict>,
    pub virus: Option<Verdict>,
    pub spf: Option<Verdict>,
    pub dkim: Option<Verdict>,
    pub dmarc: Option<Verdict>,
    /// The domains whose DKIM signatures passed, lower-case (`header.d`).
    pub dkim_domains: Vec<String>,
    /// The From domain DMARC passed for (`header.from`); an SES receipt's verdict names
    /// none and is for the message's own From domain, which the reader fills in. A pass
    /// with no domain proves nothing.
    pub dmarc_domain: Option<String>,
}

impl Verdicts {
    /// Whether mail whose From domain is `from_domain` is proven to come from it: DMARC
    /// passed for that domain, or a DKIM signature aligned with it passed (what DMARC
    /// itself tests, for servers that report no DMARC result).
    pub fn authenticates(&self, from_domain: &str) -> bool {
        let from_domain = from_domain.trim().to_ascii_lowercase();
        if from_domain.is_empty() {
            return false;
        }
        let dmarc = self.dmarc == Some(Verdict::Pass)
            && self
                .dmarc_domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(&from_domain));
        dmarc || self.dkim_domains.iter().any(|d| aligned(&from_domain, d))
    }

    /// Fills what the carrier did not report from another source of the same server's
    /// verdicts (its header): a method the carrier reported keeps the carrier's answer.
    pub fn fill_from(&mut self, other: Verdicts) {
        if self.spf.is_none() {
            self.spf = other.spf;
        }
        if self.dkim.is_none() {
            self.dkim = other.dkim;
            self.dkim_domains = other.dkim_domains;
        }
        if self.dmarc.is_none() {
            self.dmarc = other.dmarc;
            self.dmarc_domain = other.dmarc_domain;
        }
    }
}

/// Whether `domain` (the From domain) is the domain a result was for, or beneath it: DMARC's
/// relaxed alignment, taken without the public-suffix list, so only a parent domain the
/// sender's own domain ends in counts (`mail.zillow.com` under `zillow.com`).
pub fn aligned(domain: &str, authenticated: &str) -> bool {
    let (d, a) = (
        domain.to_ascii_lowercase(),
        authenticated.to_ascii_lowercase(),
    );
    // A bare public suffix (one label) never aligns anything beneath it.
    !a.is_empty() && a.contains('.') && (d == a || d.ends_with(&format!(".{a}")))
}
