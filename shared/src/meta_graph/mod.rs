//! Meta's Graph API, for the calls Inlet makes with a page token: the lead a `leadgen`
//! notification names only by id (`GET /{leadgen_id}`, delivery), and a page's lead forms and
//! a form's leads (`GET /{page_id}/leadgen_forms`, `GET /{form_id}/leads`, reconciliation).
//! The ports answer in Inlet's terms; `http` is the client, `usage` reads Meta's rate-limit
//! headers. Errors are typed by what an operator must do about them: a token Meta refuses
//! (190) or a permission it lacks is said in words, with the fix; a rate limit (4, 17, 32,
//! 613, 80001…) or a transient failure (1, 2, 5xx) is waited out.

pub mod http;
pub mod usage;

pub use http::GraphClient;
pub use usage::Usage;

use crate::normalize::RawLead;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

/// A lead as read from its object, and whether it is one of Meta's test leads (its fields
/// hold Meta's dummy data).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaLead {
    pub lead: RawLead,
    pub test: bool,
}

#[async_trait]
pub trait MetaLeads: Send + Sync {
    /// The lead `leadgen_id` (`{id, created_time, field_data: [{name, values}], platform}`),
    /// read with the token of `page_id` (the default token when none is given or known).
    async fn lead(&self, leadgen_id: &str, page_id: Option<&str>) -> Result<MetaLead, GraphError>;
}

/// One of a page's lead forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadForm {
    pub id: String,
    pub name: Option<String>,
    /// `ACTIVE`, `ARCHIVED`, `DELETED`, `DRAFT`.
    pub status: Option<String>,
}

impl LeadForm {
    /// Whether the form may still have leads to list: an archived form keeps the ones it had.
    pub fn listable(&self) -> bool {
        !matches!(self.status.as_deref(), Some("DELETED" | "DRAFT"))
    }
}

/// A lead as a form's listing gives it: its id and when it was made, never its fields
/// (delivery reads those, as for a notified lead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLead {
    pub id: String,
    pub created_time: DateTime<Utc>,
    pub is_organic: bool,
}

/// One page of a listing, the cursor of the next (none on the last), and what Meta said of
/// the caller's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub after: Option<String>,
    pub usage: Usage,
}

/// What reconciliation asks: a page's forms, a form's leads since a time; one page of each
/// per call, from `after` (a cursor an earlier page gave).
#[async_trait]
pub trait MetaListing: Send + Sync {
    async fn forms(
        &self,
        page_id: &str,
        after: Option<&str>,
    ) -> Result<Listing<LeadForm>, GraphError>;

    async fn leads(
        &self,
        page_id: &str,
        form_id: &str,
        since: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<Listing<ListedLead>, GraphError>;
}

/// What went wrong with a Graph call, by what must be done about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Meta refused the token (190): expired, revoked, the password changed, the app removed.
    #[error("Meta refused the page token (Graph error 190{}): {message}", subcode.map(|s| format!("/{s}")).unwrap_or_default())]
    Token {
        subcode: Option<u32>,
        message: String,
    },
    /// The token lacks a permission, or the page's admin has not granted lead access
    /// (10, 200–299).
    #[error("the page token lacks a permission (Graph error {code}): {message}")]
    Permission { code: u32, message: String },
    /// A rate limit (4 app, 17 user, 32 page, 613, 80001… business use case, or HTTP 429).
    #[error("Graph's rate limit{} was reached: {message}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    RateLimited {
        code: Option<u32>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Worth trying again soon: a timeout, a broken connection, 5xx, Graph's 1 and 2.
    #[error("the Graph API is unavailable: {detail}")]
    Transient { detail: String },
    /// Refused for good (a lead or form that does not exist, a bad request).
    #[error("the Graph API answered {status}: {message}{}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Refused {
        status: u16,
        code: Option<u32>,
        message: String,
    },
    /// No token is configured for the page.
    #[error("no page token is configured for {}: set INLET_META_PAGE_TOKEN (the stack's Meta secret, meta_page_token), or the page's token in [senders.meta.reconcile]", page.as_deref().map(|p| format!("page {p}")).unwrap_or_else(|| "this lead's page".into()))]
    NoToken { page: Option<String> },
}

impl GraphError {
    /// Whether a later try may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GraphError::Transient { .. } | GraphError::RateLimited { .. }
        )
    }

    /// Whether an operator can make a later try succeed (a token, a permission): delivery
    /// keeps such a lead for its retry window rather than dead-letter it.
    pub fn is_fixable(&self) -> bool {
        matches!(
            self,
            GraphError::Token { .. } | GraphError::Permission { .. }
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What to do about it, in words, for `inlet status`, the console and the log.
    pub fn advice(&self) -> &'static str {
        match self {
            GraphError::Token {
                subcode: Some(463), ..
            } => {
                "the token has expired: make a long-lived page token again (Graph API Explorer or a system user of the business, with leads_retrieval, pages_manage_ads and pages_read_engagement) and put it where Inlet reads it"
            }
            GraphError::Token {
                subcode: Some(460), ..
            } => {
                "the token ended when its user changed their Facebook password: make a new long-lived page token and put it where Inlet reads it"
            }
            GraphError::Token {
                subcode: Some(458), ..
            } => {
                "the app was removed from the user or page: add it again (Business Settings → Integrations), then make a new page token"
            }
            GraphError::Token { .. } => {
                "the token is no longer valid (revoked, or its permissions were reset): make a new long-lived page token with leads_retrieval, pages_manage_ads and pages_read_engagement and put it where Inlet reads it"
            }
            GraphError::Permission { .. } => {
                "grant the token leads_retrieval, pages_manage_ads and pages_read_engagement, and check the page's Leads Access Manager gives the app (or its user) lead access"
            }
            GraphError::RateLimited { .. } => {
                "Meta asks for fewer calls: the next runs go on where this one stopped; if it lasts, run less often (every_minutes)"
            }
            GraphError::Transient { .. } => "Meta did not answer in time: the next run tries again",
            GraphError::Refused { .. } => {
                "check the page and form ids in [senders.meta.reconcile], and that the token's page owns the form"
            }
            GraphError::NoToken { .. } => {
                "give the page a token: token = \"env:NAME\" in its [senders.meta.reconcile] entry, meta_page_token:<page id> (or meta_page_token) in the stack's Meta secret, or INLET_META_PAGE_TOKEN"
            }
        }
    }
}

/// Codes Meta answers when a caller is over a rate limit.
fn rate_limit_code(code: u32) -> bool {
    matches!(code, 4 | 17 | 32 | 613) || (80001..=80014).contains(&code)
}

/// An error answer (`{"error": {message, code, error_subcode, is_transient}}`) or any other
/// non-2xx answer, classified. `retry_after`: the answer's own word on waiting (its
/// `Retry-After`, or the usage headers' time to regain access).
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> GraphError {
    let error: Option<Value> = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let number = |key: &str| {
        error
            .as_ref()
            .and_then(|e| e.get(key))
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .and_then(|n| u32::try_from(n).ok())
    };
    let code = number("code");
    let subcode = number("error_subcode");
    let message = error
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(short)
        .unwrap_or_else(|| short(body.trim()));
    let message = if message.is_empty() {
        "no message".to_owned()
    } else {
        message
    };
    let transient_flag = error
        .as_ref()
        .and_then(|e| e.get("is_transient"))
        .and_then(Value::as_bool)
        == Some(true);
    match code {
        Some(190) => GraphError::Token { subcode, message },
        Some(c) if rate_limit_code(c) => GraphError::RateLimited {
            code: Some(c),
            retry_after,
            message,
        },
        Some(c @ (10 | 200..=299)) => GraphError::Permission { code: c, message },
        Some(1 | 2) => GraphError::Transient {
            detail: format!("{status}: {message}"),
        },
        _ if status == 429 => GraphError::RateLimited {
            code,
            retry_after,
            message,
        },
        _ if transient_flag || status >= 500 || matches!(status, 408 | 425) => {
            GraphError::Transient {
                detail: format!("{status}: {message}"),
            }
        }
        _ => GraphError::Refused {
            status,
            code,
            message,
        },
    }
}

/// Meta's error text, at most 300 characters.
fn short(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Meta's time format, `2026-11-03T16:16:51+0000` (RFC 3339 with a colon read too).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: u32, subcode: Option<u32>) -> String {
        let mut e = serde_json::json!({"error": {"message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "x"}});
        if let Some(s) = subcode {
            e["error"]["error_subcode"] = s.into();
        }
        e.to_string()
    }

    #[test]
    fn graph_errors_are_read_by_what_must_be_done() {
        let expired = classify(400, &error(190, Some(463)), None);
        assert_eq!(
            expired,
            GraphError::Token {
                subcode: Some(463),
                message: "m".into()
            }
        );
        assert!(expired.advice().contains("expired") && expired.is_fixable());
        assert!(!expired.is_transient());
        assert!(expired.to_string().contains("190/463"));
        for code in [4, 17, 32, 613, 80001] {
            let e = classify(400, &error(code, None), Some(Duration::from_secs(60)));
            assert!(e.is_transient(), "{code}");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        }
        assert!(matches!(
            classify(403, &error(200, None), None),
            GraphError::Permission { code: 200, .. }
        ));
        assert!(matches!(
            classify(400, &error(10, None), None),
            GraphError::Permission { .. }
        ));
        assert!(classify(500, &error(2, None), None).is_transient());
        assert!(classify(502, "<html>bad gateway</html>", None).is_transient());
        assert!(classify(429, "", None).is_transient());
        let flagged = r#"{"error": {"message": "try later", "code": 999, "is_transient": true}}"#;
        assert!(classify(400, flagged, None).is_transient());
        let missing = classify(404, &error(100, Some(33)), None);
        assert_eq!(missing.status(), Some(404));
        assert!(!missing.is_transient() && !missing.is_fixable());
        assert!(missing.to_string().contains("404"));
        let long = "x".repeat(1000);
        assert!(classify(400, &long, None).to_string().len() < 400);
    }

    #[test]
    fn meta_times_are_read_with_or_without_the_colon() {
        let t = parse_time("2026-11-03T16:16:51+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-03T16:16:51+00:00");
        assert_eq!(parse_time("2026-11-03T18:16:51+02:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }
}
