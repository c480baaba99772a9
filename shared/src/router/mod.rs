//! The router (wiring): HTTP requests in, envelopes durably queued, an answer out. One
//! router, served by the `webhook` and `form` Lambda functions and by `inlet serve` alike
//! ("what does the webhook function do" is answered here). Each route hands the request to
//! its source (Rechat's own routes, sender webhooks, forms, mail), which decides what it
//! becomes; the router then records and queues it.
//!
//! Answers: 2xx only once the envelope is queued; 503 with `Retry-After` when the queue
//! cannot take it; a JSON error `{"error": {code, message, field}}` for bad input; never
//! a 3xx.

pub mod console;
pub mod email;

use crate::deliver::view::Reading;
use crate::envelope::{
    Envelope, LeadRef, Step, answer_uuid, envelope_ids_answered_as, is_envelope_id, rechat_lead_key,
};
use crate::forms::Submission;
use crate::ledger::{Ledger, LedgerRecord};
use crate::mask;
use crate::normalize::NormalizeOptions;
use crate::queue::Queue;
use crate::rechat_api;
use crate::web::{ChannelPolicy, Cors, IntakeError, Request, Response, header_str, json_response};
use bytes::Bytes;
use http::{Method, header};
use serde_json::{Value, json};
use std::sync::Arc;

/// How intake behaves.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    pub channels: ChannelPolicy,
    pub body_limit: usize,
    /// The largest mail post `/email/{provider}` takes: what fits the way in (see
    /// `email::EMAIL_BODY_LIMIT` and `email::LAMBDA_EMAIL_BODY_LIMIT`).
    pub email_body_limit: usize,
    pub normalize: NormalizeOptions,
    /// What a 503 tells the sender to wait, in seconds.
    pub retry_after_secs: u32,
    /// Senders' secrets and field rules (routing file).
    pub webhooks: crate::webhook::WebhookSettings,
    pub forms: crate::forms::FormsConfig,
    pub email: crate::email::EmailSettings,
    /// When a source's reads count as drifting: mail read as no lead is profiled at intake.
    pub drift: crate::profile::DriftRule,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            channels: ChannelPolicy::AnyUuid,
            body_limit: 1024 * 1024,
            email_body_limit: email::EMAIL_BODY_LIMIT,
            normalize: NormalizeOptions::default(),
            retry_after_secs: 5,
            webhooks: crate::webhook::WebhookSettings::default(),
            forms: crate::forms::FormsConfig::default(),
            email: crate::email::EmailSettings::default(),
            drift: crate::profile::DriftRule::default(),
        }
    }
}

/// The intake service: the router and what it needs.
pub struct Intake {
    pub queue: Arc<dyn Queue>,
    pub ledger: Arc<dyn Ledger>,
    /// What is kept for a person: spam, mail read as no lead, unsure readings.
    pub kept: Arc<dyn crate::kept::Kept>,
    pub settings: IntakeSettings,
    /// Checks forms' captcha answers with their providers.
    pub captcha: Arc<dyn crate::forms::spam::CaptchaVerifier>,
    /// SNS's signing certificates and subscription confirmations (Zillow Tech Connect).
    pub sns: Arc<dyn crate::sns::SnsEndpoint>,
    /// The last reading of delivery's state (`/health`).
    pub readings: Readings,
    /// The operator's console, when a token is configured.
    pub console: Option<console::Console>,
}

/// How long `/health` reuses its reading of delivery's state.
pub(crate) const READING_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The ledger records `/health` reads to judge delivery: the newest, enough for the last
/// success and the recent attempts.
const HEALTH_RECORDS: usize = 1_000;

/// The last reading of delivery's state, and when it was read.
#[derive(Default)]
pub struct Readings(tokio::sync::Mutex<Option<(std::time::Instant, Arc<Reading>)>>);

impl std::ops::Deref for Readings {
    type Target = tokio::sync::Mutex<Option<(std::time::Instant, Arc<Reading>)>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// `/health`'s `delivery`: the judgement, and Rechat's availability as before.
fn health_delivery(reading: &Reading) -> Value {
    let view = &reading.view;
    let secs = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let rechat = match &reading.rechat {
        Some(state) if state.is_open() => "unavailable",
        Some(_) => "available",
        None => "unknown",
    };
    let mut delivery = json!({
        "status": view.status.as_str(),
        "waiting": view.waiting,
        "oldest_waiting_secs": view.oldest_waiting_secs,
        "dead_letters": view.dead_letters,
        "last_success_at": secs(view.last_success_at),
        "rechat": rechat,
    });
    if let Some(since) = view.rechat_unavailable_since {
        delivery["rechat_unavailable_since"] = json!(secs(Some(since)));
    }
    if !view.why.is_empty() {
        delivery["why"] = json!(view.why);
    }
    delivery
}

/// `/health`'s `parsing`: the lead sources whose reads drift (`crate::profile`), each with
/// its field and since when; `ok` while none does. It never makes `/health` fail: intake
/// still takes every lead.
fn health_parsing(reading: &Reading) -> Value {
    match &reading.parsing {
        None => json!({"status": "unknown"}),
        Some(drifts) if drifts.is_empty() => json!({"status": "ok"}),
        Some(drifts) => json!({
            "status": "drift",
            "drifts": drifts.iter().map(|d| json!({
                "source": d.source,
                "field": d.field,
                "since": d.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "reads": d.reads,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// The routes, for 404 and 405 decisions.
enum Route<'a> {
    Health,
    /// For uptime monitors: non-2xx while delivery is failing or stalled.
    HealthDelivery,
    /// Prometheus's scrape, behind the console's token.
    Metrics,
    /// The operator's console: the segments after `/console`.
    Console {
        rest: Vec<&'a str>,
    },
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
    /// Follow Up Boss's `POST /v1/events`, its channel found from the API key.
    FollowUpBossEvents,
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
            Route::Health | Route::HealthDelivery => "GET, HEAD",
            Route::Console { .. } => "GET, POST, DELETE",
            Route::Metrics => "GET",
            Route::Capture { .. } | Route::Timeline { .. } => "POST, OPTIONS",
            Route::Assignees { .. } => "PUT, OPTIONS",
            Route::Webhook { .. } => "GET, POST",
            Route::FollowUpBossEvents => "POST",
            Route::Email { .. } => "POST",
            Route::Form { .. } => "POST, OPTIONS",
            Route::FormToken { .. } => "GET, OPTIONS",
            Route::FormDemo { .. } => "GET",
        }
    }

    /// Rechat's own routes, which answer as Rechat does.
    fn is_rechat(&self) -> bool {
        matches!(
            self,
            Route::Capture { .. } | Route::Timeline { .. } | Route::Assignees { .. }
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Route::Health | Route::HealthDelivery => "health",
            Route::Console { .. } | Route::Metrics => "console",
            Route::Capture { .. } => "capture",
            Route::Timeline { .. } => "timeline",
            Route::Assignees { .. } => "assignees",
            Route::Webhook { .. } | Route::FollowUpBossEvents => "webhook",
            Route::Email { .. } => "email",
            Route::Form { .. } | Route::FormToken { .. } | Route::FormDemo { .. } => "form",
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["health"] => Some(Route::Health),
        ["health", "delivery"] => Some(Route::HealthDelivery),
        ["metrics"] => Some(Route::Metrics),
        ["console", rest @ ..] => Some(Route::Console {
            rest: rest.iter().copied().filter(|s| !s.is_empty()).collect(),
        }),
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
        ["v1", "events"] => Some(Route::FollowUpBossEvents),
        ["forms", "demo", "inlet-form.js"] => Some(Route::FormDemo {
            path: "/inlet-form.js",
        }),
        ["forms", target, "token"] => Some(Route::FormToken { target }),
        ["forms", target] => Some(Route::Form { target }),
        _ => None,
    }
}

/// What a send the queue did not take means for the sender: only a queue that is down or
/// throttling is worth a retry (503 with `Retry-After`); a lead it will never take is refused
/// with the reason.
pub(crate) fn queue_refusal(e: &crate::queue::QueueError, retry_after: u32) -> IntakeError {
    use crate::queue::QueueError;
    match e {
        QueueError::Unavailable(_) => IntakeError::unavailable(retry_after),
        QueueError::TooLarge { size, limit } => IntakeError::new(
            413,
            "lead_too_large",
            if *size > 0 {
                format!("the lead is {size} bytes as queued, over the queue's {limit}-byte limit")
            } else {
                format!("the lead is over the queue's {limit}-byte limit")
            },
        ),
        QueueError::Refused(reason) => {
            IntakeError::unprocessable(format!("the queue refuses this lead: {reason}"), None)
        }
    }
}

/// What a store of kept items that did not keep one means for the sender: a retry later.
pub(crate) fn kept_refusal(e: &crate::kept::KeptError, retry_after: u32) -> IntakeError {
    match e {
        crate::kept::KeptError::TooLarge { size, limit } => IntakeError::new(
            413,
            "too_large_to_keep",
            format!("the submission is {size} bytes, over the {limit} bytes that can be kept"),
        ),
        _ => IntakeError::unavailable(retry_after),
    }
}

/// A lead queued with an unsure reading is kept beside, for a person to check (it is
/// delivered all the same). Not kept is logged as an error, never a refusal: the lead
/// itself is queued.
pub async fn keep_unsure(kept: &dyn crate::kept::Kept, envelope: &Envelope) {
    let reasons: Vec<&str> = envelope.notices.iter().filter_map(|n| n.unsure()).collect();
    if reasons.is_empty() {
        return;
    }
    let reason = reasons.join("; ");
    tracing::warn!(envelope = %envelope.id, sender = %envelope.origin.sender, reason, "lead queued, its reading unsure: kept for review");
    let item = crate::kept::KeptItem::new(crate::kept::KeptKind::Unsure, reason, envelope.clone());
    if let Err(e) = kept.keep(&item).await {
        tracing::error!(envelope = %envelope.id, error = %e, "an unsure reading was queued but could not be kept for review");
    }
}

/// Rechat's API is called straight from browsers (its own demo does): the same CORS grant.
fn rechat_cors(allow: &'static str) -> Cors<'static> {
    Cors {
        origins: None,
        methods: allow,
        headers: None,
        max_age_secs: 86400,
    }
}

/// Rechat's own routes' answer once the envelope is queued: Rechat's shape, `data.id` a UUID
/// as Rechat's lead ids are (the envelope's, `answer_uuid`), which the lead's follow-ups may
/// name. 202: queued, not yet at Rechat (its clients take any 2xx, `response.ok`).
fn accepted(envelope: &Envelope) -> Response {
    json_response(
        202,
        &json!({"code": "ACCEPTED", "data": {"id": answer_uuid(&envelope.id)}}),
    )
}

impl Intake {
    /// Answers one request.
    pub async fn handle(&self, req: Request) -> Response {
        let path = req.uri().path().to_owned();
        let Some(route) = route(&path) else {
            return IntakeError::not_found("no such route").response();
        };
        let name = route.name();
        if let Route::Metrics = &route {
            let Some(console) = &self.console else {
                return IntakeError::not_found("no such route").response();
            };
            if req.method() != Method::GET {
                return IntakeError::method_not_allowed(route.allow()).response();
            }
            return console::metrics(console, self, &req).await;
        }
        if let Route::Console { rest } = &route {
            // Not configured: the console does not exist, as any unknown route.
            let Some(console) = &self.console else {
                return IntakeError::not_found("no such route").response();
            };
            let ctx = console::ConsoleContext {
                console,
                intake: self,
            };
            return console::handle(&ctx, rest, &req).await;
        }
        if let Some(response) = self.form_route(&route, &req).await {
            return response;
        }
        let result = match (&route, req.method()) {
            (Route::Health, &Method::GET | &Method::HEAD) => Ok(self.health(false).await),
            (Route::HealthDelivery, &Method::GET | &Method::HEAD) => Ok(self.health(true).await),
            (Route::Health | Route::HealthDelivery, _) => {
                Err(IntakeError::method_not_allowed(route.allow()))
            }
            (Route::Webhook { channel, sender }, &Method::POST) => {
                self.webhook(channel, *sender, &req).await
            }
            (Route::Webhook { .. }, &Method::GET) => self.handshake(&req),
            (Route::Webhook { .. }, _) => Err(IntakeError::method_not_allowed(route.allow())),
            (Route::FollowUpBossEvents, &Method::POST) => self.follow_up_boss_events(&req).await,
            (Route::FollowUpBossEvents, _) => Err(IntakeError::method_not_allowed(route.allow())),
            (Route::Email { provider }, &Method::POST) => self.email(provider, &req).await,
            (Route::Email { .. }, _) => Err(IntakeError::method_not_allowed(route.allow())),
            (_, &Method::OPTIONS) => return rechat_cors(route.allow()).preflight(&req),
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
                if route.is_rechat() {
                    rechat_api::refusal(&e)
                } else {
                    e.response()
                }
            }
        };
        if matches!(
            route,
            Route::Health
                | Route::HealthDelivery
                | Route::Webhook { .. }
                | Route::FollowUpBossEvents
                | Route::Email { .. }
        ) {
            response
        } else {
            rechat_cors(route.allow()).grant(response, &req)
        }
    }

    /// Form routes answer for themselves: pages or JSON, and their own CORS.
    async fn form_route(&self, route: &Route<'_>, req: &Request) -> Option<Response> {
        let forms = crate::forms::FormContext {
            config: &self.settings.forms,
            channels: &self.settings.channels,
            normalize: &self.settings.normalize,
            captcha: self.captcha.as_ref(),
        };
        let demo = self.settings.forms.demo_channel.is_some();
        Some(match (route, req.method()) {
            (Route::FormDemo { path }, &Method::GET) if demo => crate::forms::pages::demo(path)?,
            (Route::Form { target: "demo" }, &Method::GET) if demo => {
                crate::forms::pages::demo("")?
            }
            // No demo here: the page does not exist, as any unknown form.
            (Route::FormDemo { .. } | Route::Form { target: "demo" }, &Method::GET) => {
                IntakeError::not_found("no such form").response()
            }
            (Route::Form { target } | Route::FormToken { target }, &Method::OPTIONS) => {
                forms.preflight(target, req)
            }
            (Route::FormToken { target }, &Method::GET) => forms.token(target, req),
            (Route::Form { target }, &Method::POST) => match forms.submit(target, req).await {
                Submission::Answered(response) => response,
                Submission::Spam {
                    envelope: Some(envelope),
                    reason,
                    reply,
                } => match self.keep_spam(&envelope, &reason).await {
                    Ok(()) => reply.spam(Some(&envelope.id)),
                    Err(e) => reply.refused(&e),
                },
                Submission::Spam {
                    envelope: None,
                    reply,
                    ..
                } => reply.spam(None),
                Submission::Lead { envelope, reply } => match self.enqueue(&envelope).await {
                    Ok(()) => reply.accepted(&envelope.id),
                    Err(e) => reply.refused(&e),
                },
            },
            (Route::Form { .. } | Route::FormToken { .. } | Route::FormDemo { .. }, _) => {
                IntakeError::method_not_allowed(route.allow()).response()
            }
            _ => return None,
        })
    }

    /// `/health`, and with `delivery_answers` `/health/delivery`: the same body; the first
    /// always 200 while intake takes leads (load balancers must not pull it while Rechat is
    /// down: leads are queued), the second 503 while delivery is failing or stalled, for an
    /// uptime monitor to watch.
    async fn health(&self, delivery_answers: bool) -> Response {
        // The queue's own error goes to the log, not to whoever asks: AWS's text names the
        // account, the queue and the role.
        let queue = match self.queue.health().await {
            Ok(()) => json!({"reachable": true}),
            Err(e) => {
                tracing::warn!(error = %e, "health: the queue is not reachable");
                json!({"reachable": false})
            }
        };
        // Still 200 while delivery fails: intake accepts and queues (load balancers must not
        // take it out); the body says how delivery is doing, and since when.
        let reading = self.delivery_reading().await;
        let delivering = reading.view.status == crate::deliver::view::DeliveryStatus::Ok;
        let status = if delivery_answers && !delivering {
            503
        } else {
            200
        };
        json_response(
            status,
            &json!({
                "status": if delivering { "ok" } else { "degraded" },
                "version": crate::VERSION,
                "queue": queue,
                "delivery": health_delivery(&reading),
                "parsing": health_parsing(&reading),
            }),
        )
    }

    /// Delivery's state, read at most once per `READING_TTL`: a health check every second
    /// from each load balancer must not cost the store a count and a scan each.
    pub async fn delivery_reading(&self) -> Arc<Reading> {
        // Held across the read: when the reading is stale, one request reads again and the
        // others wait for it, rather than a thousand reading the store at once.
        let mut last = self.readings.lock().await;
        if let Some((at, reading)) = last.as_ref()
            && at.elapsed() < READING_TTL
        {
            return reading.clone();
        }
        let reading = Arc::new(
            crate::deliver::view::read(self.queue.as_ref(), self.ledger.as_ref(), HEALTH_RECORDS)
                .await,
        );
        *last = Some((std::time::Instant::now(), reading.clone()));
        reading
    }

    /// Keeps a submission taken for spam, with why, for a person to release (`inlet spam
    /// release`, the console). Not kept is answered as a lead not queued is: a person
    /// misjudged must try again.
    async fn keep_spam(&self, envelope: &Envelope, reason: &str) -> Result<(), IntakeError> {
        self.fits(envelope)?;
        let item =
            crate::kept::KeptItem::new(crate::kept::KeptKind::Spam, reason, envelope.clone());
        self.kept.keep(&item).await.map_err(|e| {
            tracing::error!(envelope = %envelope.id, error = %e, "the spam could not be kept");
            kept_refusal(&e, self.settings.retry_after_secs)
        })
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
    fn body(&self, req: &Request) -> Result<Value, IntakeError> {
        if req.body().len() > self.settings.body_limit {
            return Err(IntakeError::too_large(self.settings.body_limit));
        }
        crate::web::body::rechat(header_str(req, "content-type"), req.body())
    }

    /// Queues an envelope the queue can take (`fits` first).
    async fn enqueue(&self, envelope: &Envelope) -> Result<(), IntakeError> {
        self.fits(envelope)?;
        self.send(envelope).await?;
        keep_unsure(self.kept.as_ref(), envelope).await;
        Ok(())
    }

    /// Refuses, before anything is recorded or acknowledged, an envelope the queue cannot
    /// take. Normalization bounds every field, so this is the last guard: a note of control
    /// characters, each escaped in six bytes, say.
    fn fits(&self, envelope: &Envelope) -> Result<(), IntakeError> {
        crate::queue::message_body(envelope)
            .map(drop)
            .map_err(|e| queue_refusal(&e, self.settings.retry_after_secs))
    }

    async fn send(&self, envelope: &Envelope) -> Result<(), IntakeError> {
        self.queue.send(envelope).await.map_err(|e| {
            let refusal = queue_refusal(&e, self.settings.retry_after_secs);
            tracing::error!(envelope = %envelope.id, error = %e, status = refusal.status, "the queue did not take the lead");
            refusal
        })?;
        tracing::info!(
            envelope = %envelope.id, sender = %envelope.origin.sender, channel = %mask::id(&envelope.channel),
            steps = envelope.steps.len(), outcome = "queued", "lead received"
        );
        crate::telemetry::count_lead("queued", &envelope.origin.sender);
        Ok(())
    }

    async fn capture(&self, channel: &str, req: &Request) -> Result<Response, IntakeError> {
        let channel = self.channel(channel)?;
        let value = self.body(req)?;
        let envelope = rechat_api::capture_envelope(
            &channel,
            &value,
            req.body(),
            header_str(req, "idempotency-key"),
            &self.settings.normalize,
        )?;
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
        self.fits(envelope)?;
        let record = LedgerRecord::queued(envelope);
        let (recorded, queued) = tokio::join!(self.ledger.create(&record), self.send(envelope));
        if let Err(e) = recorded {
            tracing::error!(envelope = %envelope.id, error = %e, "ledger unavailable, answered 503");
            return Err(IntakeError::unavailable(self.settings.retry_after_secs));
        }
        queued
    }

    /// The lead a timeline or assignees call names, and the group its step joins: the id
    /// Inlet answered for a capture (a UUID of Inlet's making, or an older `c-…` envelope
    /// id), resolved through the ledger, which must know it (else 404 at once); or any
    /// other UUID, taken as a Rechat lead id (Rechat says at delivery whether it knows it).
    async fn target(&self, lead: &str) -> Result<(LeadRef, String), IntakeError> {
        let unknown = || IntakeError::not_found("no such lead");
        let candidates = match uuid::Uuid::parse_str(lead) {
            Ok(id) => match envelope_ids_answered_as(&id) {
                Some(ids) => ids.to_vec(),
                None => {
                    let id = id.hyphenated().to_string();
                    let key = rechat_lead_key("", &id);
                    return Ok((LeadRef::Rechat { id }, key));
                }
            },
            Err(_) if is_envelope_id(lead) => vec![lead.to_owned()],
            Err(_) => return Err(unknown()),
        };
        for envelope_id in candidates {
            let record = self
                .ledger
                .get(&envelope_id)
                .await
                .map_err(|_| IntakeError::unavailable(self.settings.retry_after_secs))?;
            if let Some(record) = record {
                let target = match record.rechat_lead_id {
                    Some(id) => LeadRef::Rechat { id },
                    None => LeadRef::Envelope { id: envelope_id },
                };
                return Ok((target, record.lead_key));
            }
        }
        Err(unknown())
    }

    /// A sender's webhook: recognized (or named), verified, parsed, every lead queued. An
    /// SNS delivery is checked and opened first.
    async fn webhook(
        &self,
        channel: &str,
        sender: Option<&str>,
        req: &Request,
    ) -> Result<Response, IntakeError> {
        let channel = self.channel(channel)?;
        if req.body().len() > self.settings.body_limit {
            return Err(IntakeError::too_large(self.settings.body_limit));
        }
        let request = crate::webhook::WebhookRequest {
            channel: &channel,
            path: req.uri().path(),
            sender,
            content_type: header_str(req, "content-type"),
            headers: req.headers(),
            query: req.uri().query().unwrap_or(""),
            body: req.body(),
        };
        let now = chrono::Utc::now();
        match crate::webhook::sns_delivery(&request, &self.settings.webhooks, now).await? {
            Some((sender, message)) => self.sns(&request, sender.name, message, now).await,
            None => self.queue_webhook(&request, now).await,
        }
    }

    async fn queue_webhook(
        &self,
        request: &crate::webhook::WebhookRequest<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Response, IntakeError> {
        let mut parsed = crate::webhook::process(
            request,
            &self.settings.webhooks,
            &self.settings.normalize,
            now,
        )
        .await?;
        // Kept so that a lead Rechat refuses can be read again once the field rules are
        // fixed (`inlet dlq replay`).
        let stored = crate::webhook::StoredWebhook::of(parsed.sender, request)
            .and_then(|s| serde_json::to_value(s).ok());
        for envelope in &mut parsed.envelopes {
            envelope.source = stored.clone();
        }
        let sends = parsed.envelopes.iter().map(|e| self.enqueue(e));
        for result in futures::future::join_all(sends).await {
            result?;
        }
        let (status, body) = parsed.answer();
        Ok(json_response(status, &body))
    }

    /// An SNS delivery whose sender credential passed: its signature checked with SNS's
    /// certificate, then a subscription confirmed, or a notification's message read as the
    /// sender's webhook.
    async fn sns(
        &self,
        request: &crate::webhook::WebhookRequest<'_>,
        sender: &'static str,
        message: crate::web::sns::SnsMessage,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Response, IntakeError> {
        use crate::web::sns::SnsKind;
        let refused = |e: crate::web::sns::SnsError| IntakeError::unauthorized(e.to_string());
        let kind = message.kind().map_err(refused)?;
        let certificate_url = message.certificate_url().map_err(refused)?;
        let certificate = self.sns.certificate(&certificate_url).await.map_err(|e| {
            tracing::warn!(error = %e, "the SNS signing certificate could not be fetched");
            IntakeError::unavailable(self.settings.retry_after_secs)
        })?;
        message
            .verify(&certificate, now.timestamp())
            .map_err(refused)?;
        match kind {
            SnsKind::SubscriptionConfirmation => {
                let url = message.confirmation_url().map_err(refused)?;
                self.sns.confirm(&url).await.map_err(|e| {
                    tracing::error!(topic = %message.topic_arn, error = %e, "the SNS subscription could not be confirmed");
                    IntakeError::new(502, "confirmation_failed", format!("the subscription could not be confirmed: {e}"))
                })?;
                tracing::warn!(topic = %message.topic_arn, sender, "SNS subscription confirmed");
                Ok(json_response(
                    200,
                    &json!({"code": "CONFIRMED", "data": {"topic": message.topic_arn}}),
                ))
            }
            SnsKind::UnsubscribeConfirmation => {
                tracing::warn!(topic = %message.topic_arn, sender, "SNS says the subscription ended; nothing done");
                Ok(json_response(
                    200,
                    &json!({"code": "UNSUBSCRIBED", "data": {"topic": message.topic_arn}}),
                ))
            }
            SnsKind::Notification => {
                let inner = crate::webhook::WebhookRequest {
                    channel: request.channel,
                    path: request.path,
                    sender: Some(sender),
                    content_type: Some("application/json"),
                    headers: request.headers,
                    query: request.query,
                    body: message.message.as_bytes(),
                };
                self.queue_webhook(&inner, now).await
            }
        }
    }

    /// Follow Up Boss's own endpoint, for lead sources built for it: the API key, given as
    /// the Basic user name, says which channel the lead is for.
    async fn follow_up_boss_events(&self, req: &Request) -> Result<Response, IntakeError> {
        let refuse = |message: &str| {
            let mut e = IntakeError::unauthorized(message);
            e.authenticate = Some("Basic realm=\"inlet\"");
            e
        };
        let sender = self.settings.webhooks.sender("followupboss");
        if sender.api_keys.is_empty() {
            return Err(refuse(
                "POST /v1/events takes leads once [senders.followupboss.api_keys] maps a lead channel to a key",
            ));
        }
        let presented = header_str(req, "authorization")
            .and_then(crate::web::basic_credentials)
            .map(|(user, _)| user)
            .ok_or_else(|| refuse("give the API key as the Basic-auth user name"))?;
        let channel = sender
            .channel_of_key(&presented)
            .ok_or_else(|| refuse("the API key is not one of [senders.followupboss.api_keys]"))?
            .to_owned();
        self.webhook(&channel, Some("followupboss"), req).await
    }

    /// Meta's subscription check: the challenge echoed when the verify token matches.
    fn handshake(&self, req: &Request) -> Result<Response, IntakeError> {
        let challenge =
            crate::webhook::handshake(req.uri().query().unwrap_or(""), &self.settings.webhooks)?;
        let mut response = http::Response::new(Bytes::from(challenge));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        Ok(response)
    }

    async fn timeline(&self, lead: &str, req: &Request) -> Result<Response, IntakeError> {
        let (target, lead_key) = self.target(lead).await?;
        let activity = rechat_api::activity(&self.body(req)?)?;
        let step = Step::Activity { target, activity };
        self.follow_up(req, "timeline", lead, lead_key, step).await
    }

    async fn assignees(&self, lead: &str, req: &Request) -> Result<Response, IntakeError> {
        let (target, lead_key) = self.target(lead).await?;
        let assignees = rechat_api::reassignment(&self.body(req)?, &self.settings.normalize)?;
        let step = Step::Assign {
            target,
            assignees,
            lead: None,
        };
        self.follow_up(req, "assignees", lead, lead_key, step).await
    }

    /// Queues a step for a lead captured before, in that lead's group.
    async fn follow_up(
        &self,
        req: &Request,
        route: &str,
        lead: &str,
        lead_key: String,
        step: Step,
    ) -> Result<Response, IntakeError> {
        let envelope = rechat_api::follow_up_envelope(
            route,
            &lead.to_ascii_lowercase(),
            step,
            lead_key,
            req.body(),
            header_str(req, "idempotency-key"),
        );
        // Recorded too, so that delivery can hold a later step of this lead behind it.
        self.record_and_enqueue(&envelope).await?;
        Ok(accepted(&envelope))
    }
}
