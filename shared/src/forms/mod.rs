//! Website forms: `POST /forms/{lead_channel}` or `POST /forms/{form_id}` (a form defined in
//! the routing file). A plain HTML post gets `303 See Other` to its thank-you page (only to
//! hosts the form allows) or a small thank-you page; a script gets JSON. Field names go
//! through the same alias table as the generic webhook. Spam gets the answer a person gets
//! and is never queued.
//!
//! This module decides: a submission becomes a lead to queue (and the answer to give once it
//! is), or an answer at once. The router queues.

pub mod pages;
pub mod spam;

use crate::envelope::{Envelope, EnvelopeBuilder, OriginKind, Step};
use crate::fields::{LeadReader, Meaning, text_of};
use crate::lead::Assignee;
use crate::normalize::{NormalizeOptions, normalize};
use crate::settings;
use crate::web::{
    ChannelPolicy, Cors, IntakeError, Request, Response, empty, header_str, json_response,
};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use spam::{Captcha, CaptchaProvider, Spam};
use std::collections::BTreeMap;
use std::time::Duration;

/// Fields the form machinery uses, never read as lead data.
const CONTROL_FIELDS: &[&str] = &[
    "_redirect",
    "_next",
    "_subject",
    "_inlet_ts",
    "_format",
    "_language",
];

/// The settings a `[forms.<id>]` table may hold.
const FORM_KEYS: &[&str] = &[
    "channel",
    "tags",
    "lead_source",
    "assignees",
    "allowed_origins",
    "redirect_hosts",
    "thank_you_url",
    "honeypot",
    "min_fill_secs",
    "require_timestamp",
    "captcha",
];
const CAPTCHA_KEYS: &[&str] = &["provider", "secret", "verify_url", "min_score"];

/// One form's settings (`[forms.<id>]` in the routing file).
#[derive(Debug, Clone, PartialEq)]
pub struct FormSettings {
    pub channel: String,
    pub tags: Vec<String>,
    pub lead_source: Option<String>,
    pub assignees: Vec<Assignee>,
    /// Origins allowed to post from a script (CORS) and from a page (`Origin`).
    pub allowed_origins: Vec<String>,
    /// Hosts a `_redirect` may send the visitor to.
    pub redirect_hosts: Vec<String>,
    pub thank_you_url: Option<String>,
    pub honeypot: String,
    pub min_fill: Duration,
    pub require_timestamp: bool,
    pub captcha: Option<Captcha>,
}

impl FormSettings {
    pub fn for_channel(channel: String, origins: &[String]) -> Self {
        FormSettings {
            channel,
            tags: Vec::new(),
            lead_source: None,
            assignees: Vec::new(),
            allowed_origins: origins.to_vec(),
            redirect_hosts: Vec::new(),
            thank_you_url: None,
            honeypot: "_gotcha".into(),
            min_fill: Duration::from_secs(3),
            require_timestamp: false,
            captcha: None,
        }
    }
}

/// All forms' settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FormsConfig {
    pub forms: BTreeMap<String, FormSettings>,
    /// Origins allowed for forms posted straight to a channel.
    pub default_origins: Vec<String>,
    /// Signs the fill-time timestamps.
    pub secret: Vec<u8>,
    pub body_limit: usize,
    pub max_fields: usize,
    pub max_field_length: usize,
    /// `inlet serve`'s demo form, posting to this channel (none: no demo).
    pub demo_channel: Option<String>,
}

impl Default for FormsConfig {
    fn default() -> Self {
        FormsConfig {
            forms: BTreeMap::new(),
            default_origins: Vec::new(),
            secret: Vec::new(),
            body_limit: 256 * 1024,
            max_fields: 100,
            max_field_length: 10_000,
            demo_channel: None,
        }
    }
}

impl FormsConfig {
    /// Reads `[forms.<id>]` tables.
    pub fn from_toml(
        table: &toml::Table,
        default_origins: &[String],
    ) -> Result<BTreeMap<String, FormSettings>, String> {
        let mut forms = BTreeMap::new();
        let Some(t) = table.get("forms") else {
            return Ok(forms);
        };
        let t = t.as_table().ok_or("forms must be a table")?;
        for (id, v) in t {
            let at = |k: &str| format!("forms.{id}.{k}");
            let f = v
                .as_table()
                .ok_or_else(|| format!("forms.{id} must be a table"))?;
            // A misspelt key must not leave a form open to every origin.
            settings::known_keys(&format!("forms.{id}"), f, FORM_KEYS)?;
            let string = |k: &str| f.get(k).map(|v| settings::string(&at(k), v)).transpose();
            let list = |k: &str| {
                f.get(k)
                    .map(|v| settings::strings(&at(k), v))
                    .transpose()
                    .map(Option::unwrap_or_default)
            };
            let channel =
                string("channel")?.ok_or_else(|| format!("{} is required", at("channel")))?;
            let channel = uuid::Uuid::parse_str(&channel)
                .map_err(|_| format!("{} must be a lead channel UUID", at("channel")))?
                .hyphenated()
                .to_string();
            let mut s = FormSettings::for_channel(channel, default_origins);
            s.tags = list("tags")?;
            s.lead_source = string("lead_source")?;
            if f.contains_key("allowed_origins") {
                s.allowed_origins = list("allowed_origins")?;
            }
            s.redirect_hosts = list("redirect_hosts")?;
            s.thank_you_url = string("thank_you_url")?;
            if let Some(h) = string("honeypot")? {
                s.honeypot = h;
            }
            if let Some(v) = f.get("min_fill_secs") {
                s.min_fill = Duration::from_secs(
                    v.as_integer()
                        .filter(|n| (0..=3600).contains(n))
                        .ok_or_else(|| format!("{} must be a whole number of seconds from 0 to 3600, written without quotes (min_fill_secs = 3), not {v}", at("min_fill_secs")))?
                        as u64,
                );
            }
            if let Some(v) = f.get("require_timestamp") {
                s.require_timestamp = settings::flag(&at("require_timestamp"), v)?;
            }
            if let Some(v) = f.get("assignees") {
                s.assignees = settings::assignees(&at("assignees"), v)?;
            }
            if let Some(c) = f.get("captcha") {
                let c = settings::table(&at("captcha"), c)?;
                settings::known_keys(&at("captcha"), c, CAPTCHA_KEYS)?;
                let provider = c
                    .get("provider")
                    .and_then(|p| p.as_str())
                    .and_then(CaptchaProvider::from_name)
                    .ok_or_else(|| {
                        format!(
                            "{} must be turnstile, recaptcha or hcaptcha",
                            at("captcha.provider")
                        )
                    })?;
                let secret = c
                    .get("secret")
                    .ok_or_else(|| format!("{} is required", at("captcha.secret")))?;
                s.captcha = Some(Captcha {
                    provider,
                    secret: settings::secret(&at("captcha.secret"), secret)?,
                    verify_url: c
                        .get("verify_url")
                        .and_then(|x| x.as_str())
                        .unwrap_or(provider.default_verify_url())
                        .to_owned(),
                    min_score: c.get("min_score").and_then(|x| x.as_float()).unwrap_or(0.5),
                });
            }
            forms.insert(id.clone(), s);
        }
        Ok(forms)
    }

    /// The form a route names: one defined in the routing file, a lead channel the
    /// allowlist admits (an unknown and a disallowed channel look alike: 404), or the demo.
    fn settings(&self, target: &str, channels: &ChannelPolicy) -> Option<FormSettings> {
        if uuid::Uuid::parse_str(target).is_ok() {
            return channels
                .admit(target)
                .map(|channel| FormSettings::for_channel(channel, &self.default_origins));
        }
        if let Some(s) = self.forms.get(target) {
            return Some(s.clone());
        }
        if target == "demo" {
            return self
                .demo_channel
                .clone()
                .map(|c| FormSettings::for_channel(c, &self.default_origins));
        }
        None
    }
}

/// Whether the caller is a script (JSON answers) or a plain HTML form (pages, 303).
fn wants_json(req: &Request) -> bool {
    let accept = header_str(req, "accept").unwrap_or("");
    let content_type = header_str(req, "content-type").unwrap_or("");
    accept.contains("application/json") || content_type.starts_with("application/json")
}

/// Scripts on the form's own sites may call it; a preflight names what they may send.
fn cors(settings: Option<&FormSettings>) -> Cors<'_> {
    Cors {
        origins: Some(settings.map_or(&[][..], |s| s.allowed_origins.as_slice())),
        methods: "POST, GET, OPTIONS",
        headers: Some("content-type, accept"),
        max_age_secs: 600,
    }
}

fn error_answer(e: &IntakeError, json: bool) -> Response {
    if json {
        return e.response();
    }
    pages::error(e.status, &e.message, e.field.as_deref())
}

/// A thank-you URL is followed only to a host the form allows. It is read as a browser reads
/// it (the `url` crate, WHATWG's parser), so the host checked is the host the browser goes to
/// (`https://evil.example\\@www.example.com/` goes to evil.example), and it is answered in
/// its serialized form, which is always a valid header value.
fn redirect_target(settings: &FormSettings, given: Option<&str>) -> Option<String> {
    let configured = settings.thank_you_url.as_deref();
    let candidate = given.or(configured)?;
    let url = url::Url::parse(candidate.trim()).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let host = url.host_str()?;
    let allowed = configured == Some(candidate)
        || settings
            .redirect_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
    allowed.then(|| url.to_string())
}

/// What the form handler needs.
pub struct FormContext<'a> {
    pub config: &'a FormsConfig,
    /// The lead channels a form posted straight to a channel may name.
    pub channels: &'a ChannelPolicy,
    pub normalize: &'a NormalizeOptions,
    pub captcha: &'a dyn spam::CaptchaVerifier,
}

/// What a submission became.
// One per request, short-lived: boxing the envelope would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Submission {
    /// A lead to queue; once it is (or is not), `reply` gives the answer.
    Lead { envelope: Envelope, reply: Reply },
    /// Answered at once: refused.
    Answered(Response),
    /// Taken for spam: `envelope`, when the fields read as a lead, is kept for an operator
    /// to release (`inlet spam release`); `reply` answers as for a person.
    Spam {
        envelope: Option<Envelope>,
        reason: String,
        reply: Reply,
    },
}

/// The answer a queued submission gets, in the caller's terms (JSON, 303 or a page), with the
/// form's CORS grant.
pub struct Reply {
    json: bool,
    redirect: Option<String>,
    settings: FormSettings,
    request: Request,
}

impl Reply {
    fn new(json: bool, redirect: Option<String>, settings: &FormSettings, req: &Request) -> Self {
        // Only what the CORS grant reads: the request's headers, not its body.
        let mut request = http::Request::new(Bytes::new());
        *request.headers_mut() = req.headers().clone();
        Reply {
            json,
            redirect,
            settings: settings.clone(),
            request,
        }
    }

    /// The lead is queued as `id`.
    pub fn accepted(&self, id: &str) -> Response {
        self.grant(success(self.json, Some(id), self.redirect.clone()))
    }

    /// Taken for spam and kept, or not worth keeping: the answer a person gets, with an id
    /// like a real one.
    pub fn spam(&self, kept: Option<&str>) -> Response {
        self.grant(success(self.json, kept, self.redirect.clone()))
    }

    /// The lead could not be queued.
    pub fn refused(&self, e: &IntakeError) -> Response {
        self.grant(error_answer(e, self.json))
    }

    fn grant(&self, response: Response) -> Response {
        cors(Some(&self.settings)).grant(response, &self.request)
    }
}

/// The answer a person gets (and a bot gets the same).
fn success(json: bool, id: Option<&str>, redirect: Option<String>) -> Response {
    if json {
        // A spam submission gets an id like a real one, so the answers look alike.
        let id = id
            .map(str::to_owned)
            .unwrap_or_else(|| format!("c-{}", uuid::Uuid::new_v4().simple()));
        return json_response(202, &json!({"code": "ACCEPTED", "data": {"id": id}}));
    }
    match redirect {
        Some(url) => match HeaderValue::from_str(&url) {
            Ok(location) => {
                let mut response = empty(StatusCode::SEE_OTHER);
                response.headers_mut().insert(header::LOCATION, location);
                response
            }
            Err(_) => pages::thank_you(),
        },
        None => pages::thank_you(),
    }
}

impl FormContext<'_> {
    /// `OPTIONS /forms/…`: a CORS grant for allowed origins only.
    pub fn preflight(&self, target: &str, req: &Request) -> Response {
        let settings = self.config.settings(target, self.channels);
        cors(settings.as_ref()).preflight(req)
    }

    /// `GET /forms/{target}/token`: a signed timestamp for the fill-time check.
    pub fn token(&self, target: &str, req: &Request) -> Response {
        let Some(settings) = self.config.settings(target, self.channels) else {
            return IntakeError::not_found("no such form").response();
        };
        let ts = spam::sign_timestamp(&self.config.secret, chrono::Utc::now().timestamp_millis());
        let r = json_response(200, &json!({"ts": ts, "honeypot": settings.honeypot}));
        cors(Some(&settings)).grant(r, req)
    }

    /// `POST /forms/{target}`.
    pub async fn submit(&self, target: &str, req: &Request) -> Submission {
        let json = wants_json(req);
        let Some(settings) = self.config.settings(target, self.channels) else {
            return Submission::Answered(error_answer(
                &IntakeError::not_found("no such form"),
                json,
            ));
        };
        match self.accept(&settings, req, json).await {
            Ok(submission) => submission,
            Err(e) => {
                tracing::info!(form = %crate::mask::form_target(target), status = e.status, code = e.code, field = e.field.as_deref().unwrap_or(""), "form refused");
                Submission::Answered(cors(Some(&settings)).grant(error_answer(&e, json), req))
            }
        }
    }

    async fn accept(
        &self,
        settings: &FormSettings,
        req: &Request,
        json: bool,
    ) -> Result<Submission, IntakeError> {
        // A page on another site may not post into this form when the form names its sites.
        if let Some(o) = header_str(req, "origin")
            && !settings.allowed_origins.is_empty()
            && !cors(Some(settings)).allows(o)
        {
            return Err(IntakeError::forbidden(
                "forbidden_origin",
                "this form does not take posts from that site",
            ));
        }
        if req.body().len() > self.config.body_limit {
            return Err(IntakeError::too_large(self.config.body_limit));
        }
        let decoded = crate::web::body::decode(header_str(req, "content-type"), req.body()).await?;
        let fields = decoded.value.as_object().ok_or_else(|| {
            IntakeError::unprocessable("a form submission is a set of fields".into(), None)
        })?;
        if fields.len() > self.config.max_fields {
            return Err(IntakeError::unprocessable(
                format!("more than {} fields", self.config.max_fields),
                None,
            ));
        }
        if let Some((k, _)) = fields
            .iter()
            .find(|(_, v)| text_of(v).is_some_and(|t| t.len() > self.config.max_field_length))
        {
            return Err(IntakeError::unprocessable(
                format!(
                    "{k} is longer than {} characters",
                    self.config.max_field_length
                ),
                Some(k),
            ));
        }
        let text = |k: &str| fields.get(k).and_then(text_of);

        let (spam, fast) = self.spam(settings, req, &text).await;
        let redirect = redirect_target(
            settings,
            text("_redirect").or_else(|| text("_next")).as_deref(),
        );
        let mut reader = LeadReader::new();
        let captcha_field = settings.captcha.as_ref().map(|c| c.provider.field());
        for (k, v) in fields {
            if CONTROL_FIELDS.contains(&k.as_str())
                || *k == settings.honeypot
                || Some(k.as_str()) == captcha_field
            {
                continue;
            }
            reader.field(k, v, &Default::default());
        }
        if let Some(referer) = header_str(req, "referer") {
            reader.with_meaning(
                "Referer",
                Meaning::PageUrl,
                &Value::String(referer.to_owned()),
            );
        }
        reader.defaults(
            &settings.tags,
            Some(settings.lead_source.as_deref().unwrap_or("Website")),
        );
        let mut raw = reader.finish();
        if raw.assignees.is_empty() {
            raw.assignees = settings.assignees.clone();
        }
        let normalized = normalize(raw, self.normalize);
        if let Some(reason) = spam {
            tracing::info!(channel = %crate::mask::id(&settings.channel), reason = %reason, outcome = "spam", "form submission taken for spam, kept, not queued");
            crate::telemetry::count_lead("spam", "website-form");
            // Kept to be looked at and released when it reads as a lead; a bot's junk that
            // does not is logged and goes no further.
            let envelope = normalized.ok().map(|n| self.envelope(settings, req, n));
            return Ok(Submission::Spam {
                envelope,
                reason: reason.to_string(),
                reply: Reply::new(json, redirect, settings, req),
            });
        }
        let mut normalized = normalized.map_err(|e| {
            IntakeError::unprocessable(
                format!(
                    "Please give an email, a phone number or a name ({}).",
                    e.reason
                ),
                Some("email"),
            )
        })?;
        // Timing alone never makes a lead spam: people who let the browser fill a form and
        // click at once are that fast too. Delivered, and kept beside for a person to check.
        if let Some(Spam::TooFast { seconds }) = fast {
            normalized.notices.push(crate::normalize::Notice::Unsure {
                reason: format!(
                    "submitted {seconds} s after the form was shown, faster than most people fill it in (the honeypot and captcha passed)"
                ),
            });
        }
        let envelope = self.envelope(settings, req, normalized);
        Ok(Submission::Lead {
            envelope,
            reply: Reply::new(json, redirect, settings, req),
        })
    }

    fn envelope(
        &self,
        settings: &FormSettings,
        req: &Request,
        normalized: crate::normalize::Normalized,
    ) -> Envelope {
        EnvelopeBuilder::new(
            OriginKind::Form,
            "website-form",
            &settings.channel,
            req.body(),
        )
        .step(Step::Capture {
            lead: normalized.lead,
            sender_lead_id: None,
        })
        .notices(normalized.notices)
        .build()
    }

    /// Why a submission is spam (a honeypot filled, a timestamp forged or missing where
    /// required, a captcha not passed), and apart from that whether it came too fast, which
    /// alone makes it no spam, only unsure.
    async fn spam(
        &self,
        settings: &FormSettings,
        req: &Request,
        text: &impl Fn(&str) -> Option<String>,
    ) -> (Option<Spam>, Option<Spam>) {
        if text(&settings.honeypot).is_some() {
            return (Some(Spam::Honeypot), None);
        }
        let now = chrono::Utc::now().timestamp_millis();
        let fast = match spam::check_timestamp(
            &self.config.secret,
            text("_inlet_ts").as_deref(),
            settings.min_fill,
            settings.require_timestamp,
            now,
        ) {
            Ok(()) => None,
            Err(fast @ Spam::TooFast { .. }) => Some(fast),
            Err(s) => return (Some(s), None),
        };
        (self.captcha_spam(settings, req, text).await, fast)
    }

    async fn captcha_spam(
        &self,
        settings: &FormSettings,
        req: &Request,
        text: &impl Fn(&str) -> Option<String>,
    ) -> Option<Spam> {
        if let Some(captcha) = &settings.captcha {
            let answer = text(captcha.provider.field()).unwrap_or_default();
            if answer.is_empty() {
                return Some(Spam::Captcha("no answer".into()));
            }
            // The address the server saw (the socket's, or API Gateway's sourceIp), never a
            // header the client writes: the captcha service weighs the answer by it.
            let ip = req
                .extensions()
                .get::<crate::web::ClientAddr>()
                .map(|c| c.0.to_string());
            if let Err(s) = self.captcha.verify(captcha, &answer, ip.as_deref()).await {
                return Some(s);
            }
        }
        None
    }
}
