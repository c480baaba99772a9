//! Meta's Graph API, for the one call Inlet makes: fetching a lead that a `leadgen`
//! notification named only by id (`GET /{leadgen_id}?access_token=<page token>`). The port
//! answers in the lead model's terms, so delivery needs no knowledge of Meta's shapes.

use crate::normalize::RawLead;
use crate::rechat::{RechatError, classify_status};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

#[async_trait]
pub trait MetaLeads: Send + Sync {
    /// The lead, as read from its object (`{id, created_time, field_data: [{name, values}]}`).
    /// Errors are classified as Rechat's are: transient ones are retried.
    async fn lead(&self, leadgen_id: &str) -> Result<RawLead, RechatError>;
}

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    page_token: String,
}

impl GraphClient {
    pub fn new(
        base_url: &str,
        page_token: &str,
        timeout: Duration,
        tls: Option<&rustls::ClientConfig>,
    ) -> Result<Self, reqwest::Error> {
        Ok(GraphClient {
            http: crate::tls::reqwest_builder(tls)
                .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION")))
                .timeout(timeout)
                .build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            page_token: page_token.to_owned(),
        })
    }
}

#[async_trait]
impl MetaLeads for GraphClient {
    async fn lead(&self, leadgen_id: &str) -> Result<RawLead, RechatError> {
        let transient = |detail: String| RechatError::Transient {
            kind: crate::rechat::TransientKind::Connection,
            status: None,
            retry_after: None,
            detail,
        };
        if leadgen_id.is_empty()
            || !leadgen_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(RechatError::Permanent {
                status: 400,
                message: "not a Meta lead id".into(),
            });
        }
        let response = self
            .http
            .get(format!(
                "{}/{leadgen_id}?access_token={}",
                self.base_url,
                form_urlencoded::byte_serialize(self.page_token.as_bytes()).collect::<String>()
            ))
            .send()
            .await
            .map_err(|e| {
                transient(format!(
                    "Graph API: {}",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                ))
            })?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|_| transient("Graph API: answer cut short".into()))?;
        if !(200..300).contains(&status) {
            return Err(classify_status(status, None, &body));
        }
        let object: Value = serde_json::from_str(&body).map_err(|_| RechatError::Permanent {
            status,
            message: "the Graph API answered something that is not a lead".into(),
        })?;
        Ok(crate::fields::meta_lead(&object, &Default::default()))
    }
}
