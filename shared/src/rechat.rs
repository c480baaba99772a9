//! The Rechat client (`../shared/rechat/CONTRACT.md` §1–3), and how its failures are
//! classified: transient ones are retried, permanent ones dead-lettered.

use crate::lead::{Activity, Assignee, Lead};
use crate::mask;
use async_trait::async_trait;
use std::time::Duration;

/// Where Rechat is and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechatConfig {
    pub base_url: String,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
}

impl Default for RechatConfig {
    fn default() -> Self {
        RechatConfig {
            base_url: "https://api.rechat.com".into(),
            connect_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(10),
        }
    }
}

/// What a capture achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    /// 200 with `data.id`, the lead id later steps use.
    Created { lead_id: String },
    /// Accepted (204, or 200 without an id): the lead exists, but its id is unknown, so
    /// steps that need it cannot run. Never retried: that would capture it twice.
    AcceptedWithoutId { reason: String },
}

/// Why a transient failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientKind {
    Connect,
    Timeout,
    /// The connection broke after the request went out (reset, closed early).
    Connection,
    /// 408, 425, 429 or 5xx.
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RechatError {
    /// Worth retrying later; `retry_after` is Rechat's own word on when (429).
    #[error("Rechat is unavailable ({detail})")]
    Transient {
        kind: TransientKind,
        status: Option<u16>,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// Retrying will not help: the request itself is refused.
    #[error("Rechat refused the request with {status}: {message}")]
    Permanent { status: u16, message: String },
}

impl RechatError {
    pub fn is_transient(&self) -> bool {
        matches!(self, RechatError::Transient { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RechatError::Transient { retry_after, .. } => *retry_after,
            RechatError::Permanent { .. } => None,
        }
    }
}

/// The three calls Inlet makes to Rechat. The delivery logic takes this trait, so a dry
/// run or a recorder can stand in for the real client.
#[async_trait]
pub trait RechatApi: Send + Sync {
    async fn capture(&self, channel: &str, lead: &Lead) -> Result<CaptureOutcome, RechatError>;
    async fn timeline(&self, lead_id: &str, activity: &Activity) -> Result<(), RechatError>;
    async fn assign(&self, lead_id: &str, assignees: &[Assignee]) -> Result<(), RechatError>;
}

/// The HTTP client for Rechat's lead API.
#[derive(Debug, Clone)]
pub struct RechatClient {
    http: reqwest::Client,
    base_url: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the Rechat HTTP client: {0}")]
pub struct ClientBuildError(#[from] reqwest::Error);

impl RechatClient {
    /// A client trusting the system's roots (`inlet serve`).
    pub fn new(config: &RechatConfig) -> Result<Self, ClientBuildError> {
        Self::with_tls(config, None)
    }

    /// A client trusting `tls`'s roots when given (the Lambda functions: `crate::tls`).
    pub fn with_tls(
        config: &RechatConfig,
        tls: Option<&rustls::ClientConfig>,
    ) -> Result<Self, ClientBuildError> {
        let http = crate::tls::reqwest_builder(tls)
            .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            // A redirect from Rechat is not part of its API: report it, don't follow it.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(RechatClient {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, String), RechatError> {
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.text().await.map_err(|e| transport_error(&e))?;
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        let error = classify_status(status, retry_after, &body);
        tracing::debug!(what, status, "Rechat answered with an error");
        Err(error)
    }
}

#[async_trait]
impl RechatApi for RechatClient {
    async fn capture(&self, channel: &str, lead: &Lead) -> Result<CaptureOutcome, RechatError> {
        let url = format!("{}/leads/channels/{}/webhook", self.base_url, channel);
        let (status, body) = self
            .send(self.http.post(&url).json(lead), "capture")
            .await
            .inspect_err(
                |e| tracing::debug!(channel = %mask::id(channel), error = %e, "capture failed"),
            )?;
        Ok(capture_outcome(status, &body))
    }

    async fn timeline(&self, lead_id: &str, activity: &Activity) -> Result<(), RechatError> {
        let url = format!("{}/leads/{}/timeline", self.base_url, lead_id);
        self.send(self.http.post(&url).json(activity), "timeline")
            .await?;
        Ok(())
    }

    async fn assign(&self, lead_id: &str, assignees: &[Assignee]) -> Result<(), RechatError> {
        let url = format!("{}/leads/{}/assignees", self.base_url, lead_id);
        self.send(self.http.put(&url).json(assignees), "assignees")
            .await?;
        Ok(())
    }
}

/// Rechat as `inlet serve --dry-run` sees it: every call is logged and succeeds, and a
/// capture gets a made-up lead id, so everything downstream runs as it would.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRun;

fn present_fields(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

#[async_trait]
impl RechatApi for DryRun {
    async fn capture(&self, channel: &str, lead: &Lead) -> Result<CaptureOutcome, RechatError> {
        let lead_id = uuid::Uuid::new_v4().to_string();
        tracing::info!(
            dry_run = true, call = "POST /leads/channels/{channel}/webhook", channel = %mask::id(channel),
            fields = %present_fields(lead), lead_id = %lead_id, "would capture a lead"
        );
        Ok(CaptureOutcome::Created { lead_id })
    }

    async fn timeline(&self, lead_id: &str, activity: &Activity) -> Result<(), RechatError> {
        tracing::info!(
            dry_run = true, call = "POST /leads/{lead_id}/timeline", lead_id = %mask::id(lead_id),
            action = activity.action.name(), "would post an activity"
        );
        Ok(())
    }

    async fn assign(&self, lead_id: &str, assignees: &[Assignee]) -> Result<(), RechatError> {
        tracing::info!(
            dry_run = true, call = "PUT /leads/{lead_id}/assignees", lead_id = %mask::id(lead_id),
            assignees = assignees.len(), "would reassign a lead"
        );
        Ok(())
    }
}

/// 200 with `data.id` is a created lead; anything else that succeeded is a lead without a
/// known id.
pub fn capture_outcome(status: u16, body: &str) -> CaptureOutcome {
    if status == 204 {
        return CaptureOutcome::AcceptedWithoutId {
            reason: "Rechat answered 204 with no lead id".into(),
        };
    }
    let id = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/data/id")
                .and_then(|id| id.as_str())
                .map(str::to_owned)
        })
        .filter(|id| !id.is_empty());
    match id {
        Some(lead_id) => CaptureOutcome::Created { lead_id },
        None => CaptureOutcome::AcceptedWithoutId {
            reason: format!("Rechat answered {status} without data.id"),
        },
    }
}

/// 408, 425, 429 and 5xx are worth a retry; any other status is Rechat's final word.
pub fn classify_status(status: u16, retry_after: Option<Duration>, body: &str) -> RechatError {
    let message = error_message(body);
    if matches!(status, 408 | 425 | 429) || (500..600).contains(&status) {
        RechatError::Transient {
            kind: TransientKind::Status,
            status: Some(status),
            retry_after,
            detail: format!("{status}: {message}"),
        }
    } else {
        RechatError::Permanent { status, message }
    }
}

/// Rechat's error body is `{"message": …}`; anything else is shown as text, shortened.
fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    if text.is_empty() {
        return "no message".into();
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Any error before a whole answer arrived is transient: the request may not have reached
/// Rechat, or its answer was lost.
fn transport_error(e: &reqwest::Error) -> RechatError {
    let kind = if e.is_timeout() {
        TransientKind::Timeout
    } else if e.is_connect() {
        TransientKind::Connect
    } else {
        TransientKind::Connection
    };
    // reqwest's Display names the URL, which holds the channel: keep only the cause chain.
    let mut detail = match kind {
        TransientKind::Timeout => "timed out".to_owned(),
        TransientKind::Connect => "could not connect".to_owned(),
        _ => "connection failed".to_owned(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    RechatError::Transient {
        kind,
        status: None,
        retry_after: None,
        detail,
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        for s in [408, 425, 429, 500, 502, 503, 504, 599] {
            assert!(classify_status(s, None, "").is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 410, 413, 422] {
            assert!(!classify_status(s, None, "").is_transient(), "{s}");
        }
        assert_eq!(
            classify_status(
                400,
                None,
                r#"{"http":400,"message":"Bad email","code":"Validation","retry":false}"#
            ),
            RechatError::Permanent {
                status: 400,
                message: "Bad email".into()
            }
        );
        let e = classify_status(429, Some(Duration::from_secs(7)), "");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("12"), Some(Duration::from_secs(12)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(80) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn capture_reads_data_id_and_knows_when_there_is_none() {
        assert_eq!(
            capture_outcome(
                200,
                r#"{"code":"OK","data":{"id":"0e17f1d9-aaaa-4bbb-8ccc-000000000001","contact":"2ba538ee-aaaa-4bbb-8ccc-000000000002"}}"#
            ),
            CaptureOutcome::Created {
                lead_id: "0e17f1d9-aaaa-4bbb-8ccc-000000000001".into()
            }
        );
        assert!(matches!(
            capture_outcome(204, ""),
            CaptureOutcome::AcceptedWithoutId { .. }
        ));
        assert!(matches!(
            capture_outcome(200, "{}"),
            CaptureOutcome::AcceptedWithoutId { .. }
        ));
    }
}
