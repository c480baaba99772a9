//! The operator's console at `/console` (wiring): delivery's state, the recent envelopes, the
//! dead letters with release and delete, kept spam and forwarding confirmations. The page is
//! server-sent HTML with one script and one stylesheet of its own (no framework, no build
//! step) under a CSP that allows nothing else; the script renders what `/console/api/…`
//! answers, which is also what the CLI reads.
//!
//! Personal data is only behind the token (`INLET_CONSOLE_TOKEN`, or the stack's console
//! secret), given as `Authorization: Bearer` or through the login form, which sets a session
//! cookie (HttpOnly, Secure, SameSite=Strict, 12 hours): see `auth` for sessions, logout and
//! the per-client limit on wrong tokens. A state-changing call needs the `X-Inlet-Console`
//! header as well: a cross-site form cannot send it, and with SameSite=Strict the cookie
//! does not travel cross-site either.

mod auth;
mod parsing;

use crate::deliver::view::Reading;
use crate::kept::KeptKind;
use crate::queue::{DeadLetters, DeadMessage};
use crate::web::{IntakeError, Request, Response, header_str, json_response};
use auth::{Auth, Credential, SESSION_SECS};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

pub use auth::MAX_FAILURES;
const COOKIE: &str = "inlet_console";

/// Nothing loads but the console's own script and stylesheet; nothing frames it.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const PAGE: &str = include_str!("console/page.html");
const LOGIN: &str = include_str!("console/login.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

mod leads;

/// What the console needs besides the intake's queue, ledger and kept items.
pub struct Console {
    auth: Auth,
    dead_letters: Arc<dyn DeadLetters>,
    /// Where SES stored mail, for releasing a message kept only by reference.
    objects: Option<Arc<dyn crate::objects::ObjectStore>>,
    /// The kept items' counts, read at most once per `super::READING_TTL` (as delivery's
    /// state is): a page polled by many must not cost the store three counts a call. A
    /// release or a delete forgets them.
    kept_counts: tokio::sync::Mutex<Option<(Instant, KeptCounts)>>,
}

/// How many of each kind are kept.
type KeptCounts = crate::kept::Counts;

impl Console {
    pub fn new(token: String, dead_letters: Arc<dyn DeadLetters>) -> Console {
        Console {
            auth: Auth::new(token, None),
            dead_letters,
            objects: None,
            kept_counts: Default::default(),
        }
    }

    /// `/metrics` takes this token too (the scraper's own, which opens no console page).
    pub fn with_metrics_token(mut self, token: Option<String>) -> Self {
        self.auth = self.auth.with_metrics_token(token);
        self
    }

    pub fn with_objects(mut self, objects: Option<Arc<dyn crate::objects::ObjectStore>>) -> Self {
        self.objects = objects;
        self
    }
}

/// The kept items of a kind the console lists at once, newest first.
const KEPT_LISTED: usize = 200;

impl Console {
    /// What the request presents: a Bearer token, else the session cookie.
    async fn credential(&self, req: &Request, ledger: &dyn crate::ledger::Ledger) -> Credential {
        if let Some(auth) = header_str(req, "authorization") {
            return match auth.strip_prefix("Bearer ") {
                Some(token) if self.auth.token_matches(token.trim()) => Credential::Valid,
                _ => Credential::Wrong,
            };
        }
        match cookie(req, COOKIE) {
            Some(v)
                if self
                    .auth
                    .session_valid(v, chrono::Utc::now().timestamp(), ledger)
                    .await =>
            {
                Credential::Valid
            }
            // An expired or ended session is no credential: the login page again, no
            // failure counted.
            Some(_) | None => Credential::None,
        }
    }

    /// A wrong credential from the request's client: counted, and the 429 when it is past
    /// the limit (`None` while it may try again).
    fn failed(&self, req: &Request) -> Option<Response> {
        let client = crate::web::client_of(req);
        self.auth.failed(&client);
        let wait = self.auth.limited(&client)?;
        let mut e = IntakeError::new(
            429,
            "too_many_attempts",
            "too many wrong tokens from this address; wait and try again",
        );
        e.retry_after = Some(wait);
        Some(refusal(e))
    }

    /// The 429 a client past the limit gets for a credential that is not right.
    fn waiting(&self, req: &Request) -> Option<Response> {
        let wait = self.auth.limited(&crate::web::client_of(req))?;
        let mut e = IntakeError::new(
            429,
            "too_many_attempts",
            "too many wrong tokens from this address; wait and try again",
        );
        e.retry_after = Some(wait);
        Some(refusal(e))
    }
}

fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// The headers every console answer carries: no caching of personal data, no framing, no
/// sniffing, no referrer.
fn guarded(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn text(status: u16, content_type: &'static str, body: &'static str) -> Response {
    let mut response = http::Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    guarded(response)
}

/// The login page again, saying the token was wrong (the page itself is static).
fn login_refused() -> Response {
    let page = LOGIN.replace(
        "<!--error-->",
        "That is not the console's token. Check it and try again (a wrong token ten times a minute makes every attempt wait a minute).",
    );
    let mut response = http::Response::new(Bytes::from(page));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    guarded(response)
}

fn refusal(e: IntakeError) -> Response {
    guarded(e.response())
}

/// What the console's routes read and change.
pub struct ConsoleContext<'a> {
    pub console: &'a Console,
    /// Its queue's and ledger's reading of delivery (read only when a page asks for it).
    pub intake: &'a super::Intake,
}

/// The route under `/console`, as segments after it.
pub async fn handle(ctx: &ConsoleContext<'_>, rest: &[&str], req: &Request) -> Response {
    let console = ctx.console;
    match (req.method(), rest) {
        // The script and the stylesheet hold no data: no token needed.
        (&Method::GET, ["console.js"]) => {
            return text(200, "text/javascript; charset=utf-8", SCRIPT);
        }
        (&Method::GET, ["console.css"]) => return text(200, "text/css; charset=utf-8", STYLE),
        _ => {}
    }
    let ledger = ctx.intake.ledger.as_ref();
    if let (&Method::POST, ["login"]) = (req.method(), rest) {
        return login(console, req);
    }
    // The credential first: a right one passes whatever others (or this address) tried.
    match console.credential(req, ledger).await {
        Credential::Valid => {}
        Credential::Wrong => {
            if let Some(refused) = console.failed(req) {
                return refused;
            }
            return unauthorized(rest);
        }
        Credential::None => {
            if let Some(refused) = console.waiting(req) {
                return refused;
            }
            return unauthorized(rest);
        }
    }
    match (req.method(), rest) {
        (&Method::GET, []) => text(200, "text/html; charset=utf-8", PAGE),
        (&Method::POST, ["logout"]) => {
            // Ended where it is kept, not only forgotten by this browser: a copy of the
            // cookie no longer opens the console.
            if let Some(session) = cookie(req, COOKIE) {
                console
                    .auth
                    .end_session(session, chrono::Utc::now().timestamp(), ledger)
                    .await;
            }
            let mut response = text(200, "text/html; charset=utf-8", LOGIN);
            set_cookie(&mut response, "", 0);
            response
        }
        (_, ["api", api @ ..]) => match api_call(ctx, api, req).await {
            Ok(v) => guarded(json_response(200, &v)),
            Err(e) => refusal(e),
        },
        (_, [] | ["logout"]) => refusal(IntakeError::method_not_allowed("GET")),
        _ => refusal(IntakeError::not_found("no such console page")),
    }
}

/// `GET /metrics`: Prometheus's text, behind the console's token as `Authorization: Bearer`
/// (Prometheus's `authorization` scrape setting). This process's counters and Rechat's
/// latency, and the queue's depth, oldest age and dead letters as gauges.
pub async fn metrics(console: &Console, intake: &super::Intake, req: &Request) -> Response {
    match header_str(req, "authorization").and_then(|a| a.strip_prefix("Bearer ")) {
        Some(token) if console.auth.metrics_token_matches(token.trim()) => {}
        Some(_) => {
            return console
                .failed(req)
                .unwrap_or_else(|| unauthorized(&["api"]));
        }
        None => {
            return console
                .waiting(req)
                .unwrap_or_else(|| unauthorized(&["api"]));
        }
    }
    let reading = intake.delivery_reading().await;
    let mut body = crate::telemetry::prometheus_counters();
    let view = &reading.view;
    let gauge = |body: &mut String, name: &str, help: &str, value: Option<f64>| {
        if let Some(v) = value {
            body.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            ));
        }
    };
    gauge(
        &mut body,
        "inlet_queue_waiting",
        "Envelopes on the main queue.",
        view.waiting.map(|n| n as f64),
    );
    gauge(
        &mut body,
        "inlet_queue_oldest_waiting_seconds",
        "Age of the oldest waiting envelope.",
        view.oldest_waiting_secs.map(|n| n as f64),
    );
    gauge(
        &mut body,
        "inlet_dead_letters",
        "Messages on the dead-letter queue, every cause.",
        view.dead_letters.map(|n| n as f64),
    );
    gauge(
        &mut body,
        "inlet_last_delivery_timestamp_seconds",
        "When a lead was last delivered.",
        view.last_success_at.map(|t| t.timestamp() as f64),
    );
    body.push_str("# HELP inlet_delivery_status Delivery's state: 1 for the one it is in.\n# TYPE inlet_delivery_status gauge\n");
    for status in ["ok", "failing", "stalled"] {
        let on = u8::from(view.status.as_str() == status);
        body.push_str(&format!(
            "inlet_delivery_status{{status=\"{status}\"}} {on}\n"
        ));
    }
    // A series per drift while it lasts (none when nothing drifts, as Prometheus's own
    // alerts expect); the family's help is written either way.
    body.push_str("# HELP inlet_parse_drift A lead source whose reads lack a field they usually carry (or read as no lead far more than usual): 1 while it lasts.\n# TYPE inlet_parse_drift gauge\n");
    for d in reading.parsing.iter().flatten() {
        body.push_str(&format!(
            "inlet_parse_drift{{source=\"{}\",field=\"{}\"}} 1\n",
            crate::telemetry::label(&d.source),
            crate::telemetry::label(&d.field)
        ));
    }
    // What waits for a person: left out when the store cannot be read (the scrape still
    // answers with the rest).
    if let Ok(kept) = console.kept_counts(intake.kept.as_ref()).await {
        body.push_str("# HELP inlet_kept_items Kept for review: spam, mail read as no lead, unsure readings.\n# TYPE inlet_kept_items gauge\n");
        for (kind, n) in kept {
            body.push_str(&format!(
                "inlet_kept_items{{kind=\"{}\"}} {n}\n",
                kind.as_str()
            ));
        }
    }
    // Meta reconciliation's figures, when it runs.
    body.push_str(&crate::meta_reconcile::figures::metrics(intake.ledger.as_ref()).await);
    let mut response = http::Response::new(Bytes::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    guarded(response)
}

/// The page asks for the token; the API says 401 with the scheme.
fn unauthorized(rest: &[&str]) -> Response {
    if rest.first() == Some(&"api") {
        let mut e = IntakeError::unauthorized(
            "the console's token is needed (Authorization: Bearer, or log in at /console)",
        );
        e.authenticate = Some("Bearer realm=\"inlet console\"");
        return refusal(e);
    }
    text(401, "text/html; charset=utf-8", LOGIN)
}

fn set_cookie(response: &mut Response, value: &str, max_age: i64) {
    let cookie = format!(
        "{COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
}

fn login(console: &Console, req: &Request) -> Response {
    let token = form_urlencoded::parse(req.body())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !console.auth.token_matches(token.trim()) {
        return console.failed(req).unwrap_or_else(login_refused);
    }
    // The console itself, not a redirect: nothing in Inlet answers 3xx.
    let mut response = text(200, "text/html; charset=utf-8", PAGE);
    let expires = chrono::Utc::now().timestamp() + SESSION_SECS;
    set_cookie(
        &mut response,
        &console.auth.new_session(expires),
        SESSION_SECS,
    );
    tracing::info!("console: logged in");
    response
}

/// Changing calls must say they come from the console's script.
pub(super) fn from_script(req: &Request) -> Result<(), IntakeError> {
    match header_str(req, "x-inlet-console") {
        Some(_) => Ok(()),
        None => Err(IntakeError::forbidden(
            "missing_header",
            "a change needs the X-Inlet-Console header (the console's script sends it)",
        )),
    }
}

async fn api_call(
    ctx: &ConsoleContext<'_>,
    api: &[&str],
    req: &Request,
) -> Result<Value, IntakeError> {
    let unavailable = |e: crate::queue::QueueError| {
        tracing::warn!(error = %e, "console: the dead-letter queue cannot be read");
        IntakeError::new(
            503,
            "queue_unavailable",
            "the dead-letter queue cannot be read",
        )
    };
    match (req.method(), api) {
        (&Method::GET, ["status"]) => {
            let dead = ctx.console.dead_letters.list().await.map_err(unavailable)?;
            let kept = ctx.console.kept_counts(ctx.intake.kept.as_ref()).await?;
            let mut status = status_json(&*ctx.intake.delivery_reading().await, &dead, &kept);
            status["channels"] = channels_json(&ctx.intake.settings.channels);
            Ok(status)
        }
        (&Method::GET, ["meta"]) => {
            Ok(crate::meta_reconcile::figures::console_json(ctx.intake.ledger.as_ref()).await)
        }
        (&Method::GET, ["kept"]) => {
            let kind = param(req, "kind")
                .map(|k| {
                    KeptKind::parse(&k).ok_or_else(|| {
                        IntakeError::invalid("kind", "kind is one of spam, not_a_lead, unsure")
                    })
                })
                .transpose()?;
            let mut items = Vec::new();
            for kind in kind.map_or(KeptKind::ALL.to_vec(), |k| vec![k]) {
                items.extend(
                    ctx.intake
                        .kept
                        .newest(kind, KEPT_LISTED)
                        .await
                        .map_err(kept_unavailable)?,
                );
            }
            items.sort_by_key(|i| std::cmp::Reverse(i.kept_at));
            Ok(json!({"kept": items.iter().map(kept_json).collect::<Vec<_>>()}))
        }
        (&Method::POST, ["kept", id, "release"]) => {
            from_script(req)?;
            let channel = release_channel(req)?;
            let settings = &ctx.intake.settings;
            let email = crate::email::EmailContext {
                settings: &settings.email,
                policy: &settings.channels,
                normalize: settings.normalize,
                verify_senders: true,
            };
            let (item, envelope) = crate::kept::release(
                ctx.intake.kept.as_ref(),
                ctx.intake.queue.as_ref(),
                ctx.console.objects.as_deref(),
                &email,
                id,
                channel.as_deref(),
            )
            .await
            .map_err(|e| release_refusal(e, settings.retry_after_secs))?;
            Ok(
                json!({"released": item.id, "envelope_id": envelope.id, "channel": crate::mask::id(&envelope.channel)}),
            )
        }
        (&Method::DELETE, ["kept", id]) => {
            from_script(req)?;
            let Some(item) = ctx.intake.kept.find(id).await.map_err(kept_unavailable)? else {
                return Err(IntakeError::not_found("nothing kept has that id"));
            };
            ctx.intake
                .kept
                .remove(&item.id)
                .await
                .map_err(kept_unavailable)?;
            ctx.console.forget_counts().await;
            tracing::info!(kept = %item.id, kind = item.kind.as_str(), "console: a kept item was dismissed");
            Ok(json!({"deleted": item.id}))
        }
        (&Method::GET, ["dead-letters"]) => leads::list(ctx).await,
        (&Method::GET, ["parsing"]) => parsing::list(ctx).await,
        (&Method::POST, ["parsing", "dismiss"]) => parsing::dismiss(ctx, req).await,
        (&Method::GET, ["leads"]) => leads::search(ctx, req).await,
        (&Method::POST, ["dead-letters", id, "release"]) => leads::release(ctx, id, req).await,
        (&Method::POST, ["dead-letters", id, "correct"]) => leads::correct(ctx, id, req).await,
        (&Method::DELETE, ["dead-letters", id]) => leads::delete(ctx, id, req).await,
        (_, ["status" | "dead-letters" | "leads" | "kept" | "meta"]) => {
            Err(IntakeError::method_not_allowed("GET"))
        }
        (
            _,
            ["kept", _, "release"]
            | ["dead-letters", _, "release"]
            | ["dead-letters", _, "correct"],
        ) => Err(IntakeError::method_not_allowed("POST")),
        (_, ["kept", _] | ["dead-letters", _]) => Err(IntakeError::method_not_allowed("DELETE")),
        _ => Err(IntakeError::not_found("no such console call")),
    }
}

impl Console {
    /// The kept items' counts, reused for `READING_TTL`; one request reads while the others
    /// wait for it.
    async fn kept_counts(&self, kept: &dyn crate::kept::Kept) -> Result<KeptCounts, IntakeError> {
        let mut last = self.kept_counts.lock().await;
        if let Some((at, counts)) = last.as_ref()
            && at.elapsed() < super::READING_TTL
        {
            return Ok(counts.clone());
        }
        let counts = crate::kept::counts(kept).await.map_err(kept_unavailable)?;
        *last = Some((Instant::now(), counts.clone()));
        Ok(counts)
    }

    async fn forget_counts(&self) {
        *self.kept_counts.lock().await = None;
    }
}

fn kept_unavailable(e: crate::kept::KeptError) -> IntakeError {
    tracing::warn!(error = %e, "console: the kept items cannot be read");
    IntakeError::new(503, "kept_unavailable", "the kept items cannot be read")
}

fn release_refusal(e: crate::kept::ReleaseError, retry_after: u32) -> IntakeError {
    use crate::kept::ReleaseError as R;
    let message = e.to_string();
    match e {
        R::NotFound(_) => IntakeError::not_found("nothing kept has that id"),
        R::NeedsChannel(_) | R::UnknownChannel(_) => IntakeError::invalid("channel", &message),
        R::AlreadyDelivered => IntakeError::new(409, "already_delivered", message),
        R::NoLead(_) | R::MessageGone(_) => IntakeError::unprocessable(message, None),
        R::Queue(q) => {
            tracing::warn!(error = %q, "console: the queue did not take a released item");
            super::queue_refusal(&q, retry_after)
        }
        R::Store(k) => kept_unavailable(k),
    }
}

/// One query parameter.
fn param(req: &Request, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The channel a release names: `{"channel": …}` as JSON, a form field, or `?channel=`;
/// none is the item's own.
fn release_channel(req: &Request) -> Result<Option<String>, IntakeError> {
    if let Some(c) = param(req, "channel") {
        return Ok(Some(c));
    }
    let body = req.body();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if crate::web::body::essence(header_str(req, "content-type"))
        == "application/x-www-form-urlencoded"
    {
        return Ok(form_urlencoded::parse(body)
            .find(|(k, _)| k == "channel")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| IntakeError::malformed(format!("the body is not JSON: {e}")))?;
    match value.get("channel") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) if c.trim().is_empty() => Ok(None),
        Some(Value::String(c)) => Ok(Some(c.clone())),
        Some(_) => Err(IntakeError::invalid(
            "channel",
            "channel is a lead channel's UUID",
        )),
    }
}

/// The lead channels this Inlet accepts, for the page's release choice (behind the token:
/// a channel posts leads into an account). Empty when any channel is accepted.
fn channels_json(policy: &crate::web::ChannelPolicy) -> Value {
    match policy {
        crate::web::ChannelPolicy::AnyUuid => json!([]),
        crate::web::ChannelPolicy::Only(list) => {
            let mut list: Vec<&String> = list.iter().collect();
            list.sort();
            json!(
                list.iter()
                    .map(|c| json!({"id": c, "label": crate::mask::id(c)}))
                    .collect::<Vec<_>>()
            )
        }
    }
}

/// A kept item for the page: why, when, who it names or what message it is.
pub(super) fn kept_json(item: &crate::kept::KeptItem) -> Value {
    let summary = crate::kept::summary(item);
    json!({
        "id": item.id,
        "envelope_id": item.envelope.id,
        "kind": item.kind,
        "reason": item.reason,
        "kept_at": item.kept_at,
        "sender": item.envelope.origin.sender,
        "channel": (!item.envelope.channel.is_empty()).then(|| crate::mask::id(&item.envelope.channel)),
        "summary": summary,
    })
}

/// The reading, the dead letters and the kept items by kind: one object for the page and
/// for scripts.
pub fn status_json(reading: &Reading, dead: &[DeadMessage], kept: &[(KeptKind, u64)]) -> Value {
    let kept_count = |kind: KeptKind| kept.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n);
    let count = |cause: Option<&str>| {
        dead.iter()
            .filter(|d| d.dead_letter.cause.as_deref() == cause)
            .count()
    };
    let waiting_for_person = dead
        .iter()
        .filter(|d| d.dead_letter.waits_for_person())
        .count();
    json!({
        "state": crate::deliver::view::state(&reading.view, waiting_for_person),
        "waiting_for_person": waiting_for_person,
        "delivery": reading.view,
        "activity": reading.activity,
        "backlog": reading.backlog,
        "rechat": reading.rechat.as_ref().map(|r| json!({
            "available": !r.is_open(),
            "last_error": r.last_error,
            "probes": r.probes,
        })),
        "dead_letters": {
            "failed": count(None),
            "unknown_lead": count(Some(crate::queue::UNKNOWN_LEAD)),
            "unroutable": count(Some(crate::queue::UNROUTABLE)),
            "spam": count(Some(crate::queue::SPAM)),
            "forwarding_confirmation": count(Some(crate::queue::FORWARDING_CONFIRMATION)),
            "demo": count(Some(crate::queue::DEMO)),
        },
        "parsing": reading.parsing,
        "kept": {
            // Spam an older version kept on the dead-letter queue counts with the rest.
            "spam": kept_count(KeptKind::Spam) + count(Some(crate::queue::SPAM)) as u64,
            "not_a_lead": kept_count(KeptKind::NotALead),
            "unsure": kept_count(KeptKind::Unsure),
        },
    })
}
