//! The Graph API over HTTPS, with a page token per page (and a default for the rest). The
//! token goes in the query string, as Graph takes it; a URL is therefore never shown: errors
//! say what failed, not where.

use super::{
    GraphError, LeadForm, ListedLead, Listing, MetaLead, MetaLeads, MetaListing, Usage, classify,
    parse_time,
};
use crate::fields::text_of;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The fields delivery reads of a lead: `platform` tells Instagram from Facebook.
const LEAD_FIELDS: &str = "id,created_time,field_data,form_id,is_organic,platform";
/// The fields a form's listing asks for: ids and times, never the person's answers.
const LISTED_FIELDS: &str = "id,created_time,is_organic";
/// Graph's largest page of a listing.
const PAGE_SIZE: &str = "100";

#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    default_token: Option<String>,
    page_tokens: BTreeMap<String, String>,
}

impl std::fmt::Debug for GraphClient {
    // Tokens are credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base_url", &self.base_url)
            .field("default_token", &self.default_token.is_some())
            .field("pages", &self.page_tokens.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl GraphClient {
    /// A client whose default token is `page_token` (none when empty).
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
                // A redirect would carry the token elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            default_token: Some(page_token.trim().to_owned()).filter(|t| !t.is_empty()),
            page_tokens: BTreeMap::new(),
        })
    }

    /// Reads `page_id`'s leads and forms with `token` instead of the default.
    pub fn with_page_token(mut self, page_id: &str, token: &str) -> Self {
        self.page_tokens
            .insert(page_id.to_owned(), token.trim().to_owned());
        self
    }

    /// Whether any token is configured.
    pub fn has_tokens(&self) -> bool {
        self.default_token.is_some() || !self.page_tokens.is_empty()
    }

    fn token(&self, page_id: Option<&str>) -> Result<&str, GraphError> {
        page_id
            .and_then(|p| self.page_tokens.get(p))
            .or(self.default_token.as_ref())
            .map(String::as_str)
            .ok_or_else(|| GraphError::NoToken {
                page: page_id.map(str::to_owned),
            })
    }

    /// `GET {base}/{path}?{query}&access_token=…`: the answer's JSON and usage.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        page_id: Option<&str>,
    ) -> Result<(Value, Usage), GraphError> {
        let token = self.token(page_id)?;
        let url = {
            let mut url = form_urlencoded::Serializer::new(format!("{}/{path}?", self.base_url));
            for (k, v) in query {
                url.append_pair(k, v);
            }
            url.append_pair("access_token", token);
            url.finish()
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| GraphError::Transient {
                detail: if e.is_timeout() {
                    "timed out".into()
                } else {
                    "connection failed".into()
                },
            })?;
        let status = response.status().as_u16();
        let usage = Usage::of(response.headers());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .or(usage.regain_after);
        let body = response.text().await.map_err(|_| GraphError::Transient {
            detail: "the answer was cut short".into(),
        })?;
        if !(200..300).contains(&status) {
            return Err(classify(status, &body, retry_after));
        }
        let value = serde_json::from_str(&body).map_err(|_| GraphError::Refused {
            status,
            code: None,
            message: "the Graph API answered something that is not JSON".into(),
        })?;
        Ok((value, usage))
    }
}

fn checked_id(id: &str, what: &str) -> Result<(), GraphError> {
    if crate::webhook::meta_pages::is_graph_id(id) {
        Ok(())
    } else {
        Err(GraphError::Refused {
            status: 400,
            code: None,
            message: format!("not a Meta {what} id"),
        })
    }
}

/// The `data` array and the next page's cursor (only when `paging.next` says there is one).
fn page_of(value: &Value) -> (Vec<Value>, Option<String>) {
    let items = value
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let paging = value.get("paging");
    let after = paging
        .filter(|p| p.get("next").is_some_and(|n| !n.is_null()))
        .and_then(|p| p.pointer("/cursors/after"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (items, after)
}

#[async_trait]
impl MetaLeads for GraphClient {
    async fn lead(&self, leadgen_id: &str, page_id: Option<&str>) -> Result<MetaLead, GraphError> {
        checked_id(leadgen_id, "lead")?;
        let (object, _) = self
            .get(leadgen_id, &[("fields", LEAD_FIELDS)], page_id)
            .await?;
        if !object.is_object() {
            return Err(GraphError::Refused {
                status: 200,
                code: None,
                message: "the Graph API answered something that is not a lead".into(),
            });
        }
        Ok(MetaLead {
            lead: crate::fields::meta_lead(&object, &Default::default()),
            test: crate::webhook::senders::meta::is_test_lead(&object),
        })
    }
}

#[async_trait]
impl MetaListing for GraphClient {
    async fn forms(
        &self,
        page_id: &str,
        after: Option<&str>,
    ) -> Result<Listing<LeadForm>, GraphError> {
        checked_id(page_id, "page")?;
        let mut query = vec![("fields", "id,name,status"), ("limit", PAGE_SIZE)];
        if let Some(a) = after {
            query.push(("after", a));
        }
        let (value, usage) = self
            .get(&format!("{page_id}/leadgen_forms"), &query, Some(page_id))
            .await?;
        let (items, after) = page_of(&value);
        let items = items
            .iter()
            .filter_map(|f| {
                let id = f.get("id").and_then(text_of)?;
                crate::webhook::meta_pages::is_graph_id(&id).then(|| LeadForm {
                    id,
                    name: f.get("name").and_then(Value::as_str).map(str::to_owned),
                    status: f.get("status").and_then(Value::as_str).map(str::to_owned),
                })
            })
            .collect();
        Ok(Listing {
            items,
            after,
            usage,
        })
    }

    async fn leads(
        &self,
        page_id: &str,
        form_id: &str,
        since: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<Listing<ListedLead>, GraphError> {
        checked_id(form_id, "form")?;
        let filtering = serde_json::json!([{
            "field": "time_created",
            "operator": "GREATER_THAN",
            "value": since.timestamp(),
        }])
        .to_string();
        let mut query = vec![
            ("fields", LISTED_FIELDS),
            ("limit", PAGE_SIZE),
            ("filtering", filtering.as_str()),
        ];
        if let Some(a) = after {
            query.push(("after", a));
        }
        let (value, usage) = self
            .get(&format!("{form_id}/leads"), &query, Some(page_id))
            .await?;
        let (items, after) = page_of(&value);
        let mut leads = Vec::with_capacity(items.len());
        for item in &items {
            let id = item.get("id").and_then(text_of);
            let created = item
                .get("created_time")
                .and_then(Value::as_str)
                .and_then(parse_time);
            match (id, created) {
                (Some(id), Some(created_time)) if crate::webhook::meta_pages::is_graph_id(&id) => {
                    leads.push(ListedLead {
                        id,
                        created_time,
                        is_organic: item.get("is_organic").and_then(Value::as_bool) == Some(true),
                    })
                }
                // A lead that cannot be read would be left behind silently: refuse the page,
                // so the run fails and says so.
                _ => {
                    return Err(GraphError::Refused {
                        status: 200,
                        code: None,
                        message: format!(
                            "form {form_id} listed a lead without a readable id and created_time"
                        ),
                    });
                }
            }
        }
        Ok(Listing {
            items: leads,
            after,
            usage,
        })
    }
}
