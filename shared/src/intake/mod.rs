//! Intake: HTTP requests in, envelopes durably queued, an answer out. One router, served
//! by the `webhook` Lambda function and by `inlet serve` alike ("what does the webhook
//! function do" is answered here).
//!
//! Answers: 2xx only once the envelope is queued; 503 with `Retry-After` when the queue
//! cannot take it; a JSON error `{"error": {code, message, field}}` for bad input; never
//! a 3xx.

pub mod body;
pub mod email;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod rechat_api;

use crate::envelope::{Envelope, EnvelopeBuilder, LeadRef, OriginKind, Step, rechat_lead_key};
use crate::ledger::{Ledger, LedgerRecord};
use crate::mask;
use crate::normalize::{NormalizeOptions, normalize};
use crate::queue::Queue;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

/// The sender name of envelopes that came through Rechat's own API shape.
pub const RECHAT_API: &str = "rechat-api";

/// An answer that refuses a request, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u32>,
    pub allow: Option<&'static str>,
}

impl IntakeError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        IntakeError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            allow: None,
        }
    }

    pub fn malformed(message: String) -> Self {
        Self::new(400, "malformed_body", message)
    }

    pub fn not_found(message: &str) -> Self {
        Self::new(404, "not_found", message)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        IntakeError {
            allow: Some(allow),
            ..Self::new(
                405,
                "method_not_allowed",
                format!("this route takes {allow}"),
            )
        }
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "body_too_large",
            format!("the body is over the {limit}-byte limit"),
        )
    }

    pub fn unsupported_type(content_type: &str) -> Self {
        Self::new(
            415,
            "unsupported_media_type",
            format!(
                "{content_type} is not read here; send application/json or application/x-www-form-urlencoded"
            ),
        )
    }

    pub fn unprocessable(message: String, field: Option<&str>) -> Self {
        IntakeError {
            field: field.map(str::to_owned),
            ..Self::new(422, "unprocessable", message)
        }
    }

    pub fn unavailable(retry_after: u32) -> Self {
        IntakeError {
            retry_after: Some(retry_after),
            ..Self::new(
                503,
                "queue_unavailable",
                "the lead could not be queued; retry later",
            )
        }
    }

    pub fn response(&self) -> Response<Bytes> {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "field": self.field}});
        let mut response = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .expect("a valid response")
}

/// Which lead channels intake accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelPolicy {
    /// Any well-formed UUID (`inlet serve` with no channels configured).
    AnyUuid,
    Only(HashSet<String>),
}

impl ChannelPolicy {
    pub fn from_list(channels: &[String]) -> Self {
        if channels.is_empty() {
            ChannelPolicy::AnyUuid
        } else {
            ChannelPolicy::Only(channels.iter().cloned().collect())
        }
    }

    /// The channel in canonical form, if it is allowed.
    pub fn admit(&self, given: &str) -> Option<String> {
        let canonical = uuid::Uuid::parse_str(given).ok()?.hyphenated().to_string();
        match self {
            ChannelPolicy::AnyUuid => Some(canonical),
            ChannelPolicy::Only(allowed) => allowed.contains(&canonical).then_some(canonical),
        }
    }
}

/// How intake behaves.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    pub channels: ChannelPolicy,
    pub body_limit: usize,
    pub normalize: NormalizeOptions,
    /// What a 503 tells the sender to wait, in seconds.
    pub retry_after_secs: u32,
    /// Senders' secrets and field rules (routing file).
    pub webhooks: crate::webhook::WebhookSettings,
    pub forms: crate::forms::FormsConfig,
    pub email: crate::email::EmailSettings,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            channels: ChannelPolicy::AnyUuid,
            body_limit: 1024 * 1024,
            normalize: NormalizeOptions::default(),
            retry_after_secs: 5,
            webhooks: crate::webhook::WebhookSettings::default(),
            forms: crate::forms::FormsConfig::default(),
            email: crate::email::EmailSettings::default(),
        }
    }
}

impl IntakeSettings {
    pub fn from_config(config: &crate::config::Config) -> Result<Self, crate::config::ConfigError> {
        Ok(IntakeSettings {
            channels: ChannelPolicy::from_list(&config.channels),
            body_limit: config.body_limit,
            normalize: NormalizeOptions {
                phone_region: config.phone_region,
            },
            webhooks: config.webhooks()?,
            forms: config.forms()?,
            email: config.email()?,
            ..IntakeSettings::default()
        })
    }
}

/// The intake service: the router and what it needs.
pub struct Intake {
    pub queue: Arc<dyn Queue>,
    pub ledger: Arc<dyn Ledger>,
    pub settings: IntakeSettings,
    /// Checks forms' captcha answers with their providers.
    pub captcha: Arc<dyn crate::forms::spam::CaptchaVerifier>,
}

/// The routes, for 404 and 405 decisions.
enum Route<'a> {
    Health,
    Email {
        provider: &'a str,
    },
    Capture {
        channel: &'a str,
    },
    Timeline {
        lead: &'a str,
    },
    Assignees {
        lead: &'a str,
    },
    Webhook {
        channel: &'a str,
        sender: Option<&'a str>,
    },
    Form {
        target: &'a str,
    },
    FormToken {
        target: &'a str,
    },
    FormDemo {
        path: &'a str,
    },
}

impl Route<'_> {
    fn allow(&self) -> &'static str {
        match self {
            Route::Health => "GET, HEAD",
            Route::Capture { .. } | Route::Timeline { .. } => "POST, OPTIONS",
            Route::Assignees { .. } => "PUT, OPTIONS",
            Route::Webhook { .. } => "GET, POST",
            Route::Email { .. } => "POST",
            Route::Form { .. } => "POST, OPTIONS",
            Route::FormToken { .. } => "GET, OPTIONS",
            Route::FormDemo { .. } => "GET",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Capture { .. } => "capture",
            Route::Timeline { .. } => "timeline",
            Route::Assignees { .. } => "assignees",
            Route::Webhook { .. } => "webhook",
            Route::Email { .. } => "email",
            Route::Form { .. } | Route::FormToken { .. } | Route::FormDemo { .. } => "form",
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["health"] => Some(Route::Health),
        ["leads", "channels", channel, "webhook"] => Some(Route::Capture { channel }),
        ["leads", lead, "timeline"] => Some(Route::Timeline { lead }),
        ["leads", lead, "assignees"] => Some(Route::Assignees { lead }),
        ["webhooks", channel] => Some(Route::Webhook {
            channel,
            sender: None,
        }),
        ["webhooks", channel, sender] => Some(Route::Webhook {
            channel,
            sender: Some(sender),
        }),
        ["email", provider] => Some(Route::Email { provider }),
        ["forms", "demo", "inlet-form.js"] => Some(Route::FormDemo {
            path: "/inlet-form.js",
        }),
        ["forms", target, "token"] => Some(Route::FormToken { target }),
        ["forms", target] => Some(Route::Form { target }),
        _ => None,
    }
}

/// Rechat's API is called straight from browsers (its own demo does): the same CORS grant.
fn with_cors(mut response: Response<Bytes>) -> Response<Bytes> {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn preflight(allow: &'static str, req: &Request<Bytes>) -> Response<Bytes> {
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("content-type, idempotency-key"));
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, allow)
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, requested)
        .header(header::ACCESS_CONTROL_MAX_AGE, "86400")
        .body(Bytes::new())
        .expect("a valid response")
}

/// Inlet's own envelope ids: `c-` or `e-` and 32 hex digits.
pub fn is_envelope_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("c-").or_else(|| s.strip_prefix("e-")) else {
        return false;
    };
    rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit())
}

fn header_str<'a>(req: &'a Request<Bytes>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn accepted(envelope: &Envelope) -> Response<Bytes> {
    json_response(
        202,
        &json!({"code": "ACCEPTED", "data": {"id": envelope.id}}),
    )
}

impl Intake {
    /// Answers one request.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_owned();
        let Some(route) = route(&path) else {
            return IntakeError::not_found("no such route").response();
        };
        let name = route.name();
        if let Some(response) = self.form_route(&route, &req).await {
            return response;
        }
        let result = match (&route, req.method()) {
            (Route::Health, &Method::GET | &Method::HEAD) => Ok(self.health().await),
            (Route::Health, _) => Err(IntakeError::method_not_allowed(route.allow())),
            (Route::Webhook { channel, sender }, &Method::POST) => {
                self.webhook(channel, *sender, &req).await
            }
            (Route::Webhook { .. }, &Method::GET) => self.handshake(&req),
            (Route::Webhook { .. }, _) => Err(IntakeError::method_not_allowed(route.allow())),
            (Route::Email { provider }, &Method::POST) => self.email(provider, &req).await,
            (Route::Email { .. }, _) => Err(IntakeError::method_not_allowed(route.allow())),
            (_, &Method::OPTIONS) => return preflight(route.allow(), &req),
            (Route::Capture { channel }, &Method::POST) => self.capture(channel, &req).await,
            (Route::Timeline { lead }, &Method::POST) => self.timeline(lead, &req).await,
            (Route::Assignees { lead }, &Method::PUT) => self.assignees(lead, &req).await,
            _ => Err(IntakeError::method_not_allowed(route.allow())),
        };
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(
                    route = name,
                    status = e.status,
                    code = e.code,
                    field = e.field.as_deref().unwrap_or(""),
                    "request refused"
                );
                e.response()
            }
        };
        if matches!(
            route,
            Route::Health | Route::Webhook { .. } | Route::Email { .. }
        ) {
            response
        } else {
            with_cors(response)
        }
    }

    /// Form routes answer for themselves: pages or JSON, and their own CORS.
    async fn form_route(&self, route: &Route<'_>, req: &Request<Bytes>) -> Option<Response<Bytes>> {
        let forms = crate::forms::FormContext {
            config: &self.settings.forms,
            normalize: &self.settings.normalize,
            queue: self.queue.as_ref(),
            captcha: self.captcha.as_ref(),
            retry_after_secs: self.settings.retry_after_secs,
        };
        let demo = self.settings.forms.demo_channel.is_some();
        Some(match (route, req.method()) {
            (Route::FormDemo { path }, &Method::GET) if demo => crate::forms::pages::demo(path)?,
            (Route::Form { target: "demo" }, &Method::GET) if demo => {
                crate::forms::pages::demo("")?
            }
            (Route::Form { target } | Route::FormToken { target }, &Method::OPTIONS) => {
                forms.preflight(target, req)
            }
            (Route::FormToken { target }, &Method::GET) => forms.token(target, req),
            (Route::Form { target }, &Method::POST) => forms.submit(target, req).await,
            (Route::Form { .. } | Route::FormToken { .. } | Route::FormDemo { .. }, _) => {
                IntakeError::method_not_allowed(route.allow()).response()
            }
            _ => return None,
        })
    }

    async fn health(&self) -> Response<Bytes> {
        let queue = match self.queue.health().await {
            Ok(()) => json!({"reachable": true}),
            Err(e) => json!({"reachable": false, "error": e.to_string()}),
        };
        json_response(
            200,
            &json!({"status": "ok", "version": crate::VERSION, "queue": queue}),
        )
    }

    /// The channel in canonical form, if allowed. Unknown and disallowed channels look
    /// alike: the allowlist is not revealed.
    fn channel(&self, given: &str) -> Result<String, IntakeError> {
        self.settings
            .channels
            .admit(given)
            .ok_or_else(|| IntakeError::not_found("no such lead channel"))
    }

    /// The body as a JSON value, within the size limit.
    fn body(&self, req: &Request<Bytes>) -> Result<Value, IntakeError> {
        if req.body().len() > self.settings.body_limit {
            return Err(IntakeError::too_large(self.settings.body_limit));
        }
        let kind = body::kind(header_str(req, "content-type"), req.body())?;
        body::decode(kind, req.body())
    }

    async fn enqueue(&self, envelope: &Envelope) -> Result<(), IntakeError> {
        self.queue.send(envelope).await.map_err(|e| {
            tracing::error!(envelope = %envelope.id, error = %e, "queue unavailable, answered 503");
            IntakeError::unavailable(self.settings.retry_after_secs)
        })?;
        tracing::info!(
            envelope = %envelope.id, sender = %envelope.origin.sender, channel = %mask::id(&envelope.channel),
            steps = envelope.steps.len(), outcome = "queued", "lead received"
        );
        crate::telemetry::count_lead("queued", &envelope.origin.sender);
        Ok(())
    }

    async fn capture(
        &self,
        channel: &str,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, IntakeError> {
        let channel = self.channel(channel)?;
        let value = self.body(req)?;
        let raw = rechat_api::capture(&value, &self.settings.normalize)?;
        let normalized = normalize(raw, &self.settings.normalize)
            .map_err(|e| IntakeError::unprocessable(format!("not a lead: {}", e.reason), None))?;
        let envelope = EnvelopeBuilder::new(OriginKind::Webhook, RECHAT_API, &channel, req.body())
            .event_id(header_str(req, "idempotency-key"))
            .step(Step::Capture {
                lead: normalized.lead,
                sender_lead_id: None,
            })
            .notices(normalized.notices)
            .build();
        // Recorded in the ledger as well as queued, so that an activity posted with the id
        // answered here finds the lead's group, and an unknown id can be told from a pending
        // one.
        self.record_and_enqueue(&envelope).await?;
        Ok(accepted(&envelope))
    }

    /// Records the envelope as queued in the ledger and queues it. The two writes go
    /// together (with the embedded store, into one commit); either failing answers 503, and
    /// the sender's retry finds what the other one wrote.
    async fn record_and_enqueue(&self, envelope: &Envelope) -> Result<(), IntakeError> {
        let record = LedgerRecord::queued(envelope);
        let (recorded, queued) = tokio::join!(self.ledger.create(&record), self.enqueue(envelope));
        if let Err(e) = recorded {
            tracing::error!(envelope = %envelope.id, error = %e, "ledger unavailable, answered 503");
            return Err(IntakeError::unavailable(self.settings.retry_after_secs));
        }
        queued
    }

    /// The lead a timeline or assignees call names: a Rechat lead id, or the id Inlet
    /// answered for a capture. Returns the step's target and the group it joins.
    async fn target(&self, lead: &str) -> Result<(LeadRef, String), IntakeError> {
        if let Ok(id) = uuid::Uuid::parse_str(lead) {
            let id = id.hyphenated().to_string();
            let key = rechat_lead_key("", &id);
            return Ok((LeadRef::Rechat { id }, key));
        }
        if !is_envelope_id(lead) {
            return Err(IntakeError::not_found("no such lead"));
        }
        let record = self
            .ledger
            .get(lead)
            .await
            .map_err(|_| IntakeError::unavailable(self.settings.retry_after_secs))?
            .ok_or_else(|| IntakeError::not_found("no such lead"))?;
        let target = match record.rechat_lead_id {
            Some(id) => LeadRef::Rechat { id },
            None => LeadRef::Envelope {
                id: lead.to_owned(),
            },
        };
        Ok((target, record.lead_key))
    }

    /// A sender's webhook: recognized (or named), verified, parsed, every lead queued.
    async fn webhook(
        &self,
        channel: &str,
        sender: Option<&str>,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, IntakeError> {
        let channel = self.channel(channel)?;
        if req.body().len() > self.settings.body_limit {
            return Err(IntakeError::too_large(self.settings.body_limit));
        }
        let request = crate::webhook::WebhookRequest {
            channel: &channel,
            sender,
            content_type: header_str(req, "content-type"),
            headers: req.headers(),
            query: req.uri().query().unwrap_or(""),
            body: req.body(),
        };
        let parsed = crate::webhook::process(
            &request,
            &self.settings.webhooks,
            &self.settings.normalize,
            chrono::Utc::now(),
        )
        .await?;
        let sends = parsed.envelopes.iter().map(|e| self.enqueue(e));
        for result in futures::future::join_all(sends).await {
            result?;
        }
        let ids: Vec<&str> = parsed.envelopes.iter().map(|e| e.id.as_str()).collect();
        Ok(json_response(
            202,
            &json!({"code": "ACCEPTED", "data": {"sender": parsed.sender, "ids": ids, "refused": parsed.refused, "dropped_test_leads": parsed.dropped}}),
        ))
    }

    /// Meta's subscription check: echo `hub.challenge` when `hub.verify_token` matches.
    fn handshake(&self, req: &Request<Bytes>) -> Result<Response<Bytes>, IntakeError> {
        let query = req.uri().query().unwrap_or("");
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let (Some(mode), Some(challenge)) = (param("hub.mode"), param("hub.challenge")) else {
            return Err(IntakeError::method_not_allowed("GET, POST"));
        };
        let expected = self.settings.webhooks.sender("meta").verify_token;
        let Some(expected) = expected else {
            let mut e = IntakeError::unprocessable(
                "set senders.meta.verify_token in the routing file to answer Meta's check".into(),
                None,
            );
            e.status = 403;
            e.code = "forbidden";
            return Err(e);
        };
        let token = param("hub.verify_token");
        if mode != "subscribe"
            || crate::webhook::signature::shared_secret(
                token.as_deref(),
                &expected,
                "hub.verify_token",
            )
            .is_err()
        {
            let mut e = IntakeError::unprocessable(
                "the verify token does not match".into(),
                Some("hub.verify_token"),
            );
            e.status = 403;
            e.code = "forbidden";
            return Err(e);
        }
        Ok(Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Bytes::from(challenge))
            .expect("a valid response"))
    }

    async fn timeline(
        &self,
        lead: &str,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, IntakeError> {
        let (target, lead_key) = self.target(lead).await?;
        let activity = rechat_api::activity(&self.body(req)?)?;
        self.follow_up(req, lead_key, Step::Activity { target, activity })
            .await
    }

    async fn assignees(
        &self,
        lead: &str,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, IntakeError> {
        let (target, lead_key) = self.target(lead).await?;
        let assignees = rechat_api::reassignment(&self.body(req)?, &self.settings.normalize)?;
        self.follow_up(req, lead_key, Step::Assign { target, assignees })
            .await
    }

    /// Queues a step for a lead captured before, in that lead's group.
    async fn follow_up(
        &self,
        req: &Request<Bytes>,
        lead_key: String,
        step: Step,
    ) -> Result<Response<Bytes>, IntakeError> {
        let envelope = EnvelopeBuilder::new(OriginKind::Webhook, RECHAT_API, "", req.body())
            .event_id(header_str(req, "idempotency-key"))
            .lead_key(lead_key)
            .step(step)
            .build();
        // Recorded too, so that delivery can hold a later step of this lead behind it.
        self.record_and_enqueue(&envelope).await?;
        Ok(accepted(&envelope))
    }
}
