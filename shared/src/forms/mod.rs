//! Website forms: `POST /forms/{lead_channel}` or `POST /forms/{form_id}` (a form defined in
//! the routing file). A plain HTML post gets `303 See Other` to its thank-you page (only to
//! hosts the form allows) or a small thank-you page; a script gets JSON. Field names go
//! through the same alias table as the generic webhook. Spam gets the answer a person gets
//! and is never queued.

pub mod pages;
pub mod spam;

use crate::envelope::{EnvelopeBuilder, OriginKind, Step};
use crate::intake::IntakeError;
use crate::lead::Assignee;
use crate::normalize::{NormalizeOptions, normalize};
use crate::webhook::fields::{LeadReader, Meaning, text_of};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
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
            let string = |k: &str| -> Result<Option<String>, String> {
                match f.get(k) {
                    None => Ok(None),
                    Some(v) => v
                        .as_str()
                        .map(|s| Some(s.to_owned()))
                        .ok_or_else(|| format!("{} must be a string", at(k))),
                }
            };
            let list = |k: &str| -> Result<Vec<String>, String> {
                match f.get(k) {
                    None => Ok(Vec::new()),
                    Some(v) => v
                        .as_array()
                        .ok_or_else(|| format!("{} must be a list of strings", at(k)))?
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| format!("{} must be a list of strings", at(k)))
                        })
                        .collect(),
                }
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
                        .ok_or_else(|| format!("{} must be 0 to 3600", at("min_fill_secs")))?
                        as u64,
                );
            }
            if let Some(v) = f.get("require_timestamp") {
                s.require_timestamp = v
                    .as_bool()
                    .ok_or_else(|| format!("{} must be true or false", at("require_timestamp")))?;
            }
            if let Some(v) = f.get("assignees") {
                let json =
                    serde_json::to_value(v).map_err(|e| format!("{}: {e}", at("assignees")))?;
                s.assignees = serde_json::from_value(json)
                    .map_err(|e| format!("{}: {e}", at("assignees")))?;
            }
            if let Some(c) = f.get("captcha") {
                let c = c
                    .as_table()
                    .ok_or_else(|| format!("{} must be a table", at("captcha")))?;
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
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| format!("{} is required", at("captcha.secret")))?;
                let secret = match secret.strip_prefix("env:") {
                    Some(var) => std::env::var(var)
                        .map_err(|_| format!("{}: {var} is not set", at("captcha.secret")))?,
                    None => secret.to_owned(),
                };
                s.captcha = Some(Captcha {
                    provider,
                    secret,
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

    fn settings(&self, target: &str) -> Option<FormSettings> {
        if let Ok(uuid) = uuid::Uuid::parse_str(target) {
            return Some(FormSettings::for_channel(
                uuid.hyphenated().to_string(),
                &self.default_origins,
            ));
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
fn wants_json(req: &Request<Bytes>) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") || content_type.starts_with("application/json")
}

fn origin(req: &Request<Bytes>) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

fn allowed(settings: &FormSettings, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    settings
        .allowed_origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

fn with_cors(
    mut response: Response<Bytes>,
    settings: Option<&FormSettings>,
    req: &Request<Bytes>,
) -> Response<Bytes> {
    if let (Some(s), Some(o)) = (settings, origin(req))
        && allowed(s, o)
        && let Ok(v) = HeaderValue::from_str(o)
    {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn error_answer(e: &IntakeError, json: bool) -> Response<Bytes> {
    if json {
        return e.response();
    }
    pages::error(e.status, &e.message, e.field.as_deref())
}

/// A thank-you URL is followed only to a host the form allows.
fn redirect_target(settings: &FormSettings, given: Option<&str>) -> Option<String> {
    let candidate = given
        .map(str::to_owned)
        .or_else(|| settings.thank_you_url.clone())?;
    let rest = candidate
        .strip_prefix("https://")
        .or_else(|| candidate.strip_prefix("http://"))?;
    let host = rest
        .split(['/', '?', '#'])
        .next()?
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let configured = settings.thank_you_url.as_deref() == Some(candidate.as_str());
    let ok = configured
        || settings
            .redirect_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host));
    (ok && !candidate.contains(['\r', '\n'])).then_some(candidate)
}

/// What the form handler needs from the intake service.
pub struct FormContext<'a> {
    pub config: &'a FormsConfig,
    pub normalize: &'a NormalizeOptions,
    pub queue: &'a dyn crate::queue::Queue,
    pub captcha: &'a dyn spam::CaptchaVerifier,
    pub retry_after_secs: u32,
}

impl FormContext<'_> {
    /// `OPTIONS /forms/…`: a CORS grant for allowed origins only.
    pub fn preflight(&self, target: &str, req: &Request<Bytes>) -> Response<Bytes> {
        let settings = self.config.settings(target);
        let grant = match (&settings, origin(req)) {
            (Some(s), Some(o)) => allowed(s, o),
            _ => false,
        };
        if !grant {
            return Response::builder()
                .status(StatusCode::FORBIDDEN)
                .body(Bytes::new())
                .expect("a valid response");
        }
        let r = Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, "POST, GET, OPTIONS")
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type, accept")
            .header(header::ACCESS_CONTROL_MAX_AGE, "600")
            .body(Bytes::new())
            .expect("a valid response");
        with_cors(r, settings.as_ref(), req)
    }

    /// `GET /forms/{target}/token`: a signed timestamp for the fill-time check.
    pub fn token(&self, target: &str, req: &Request<Bytes>) -> Response<Bytes> {
        let Some(settings) = self.config.settings(target) else {
            return IntakeError::not_found("no such form").response();
        };
        let ts = spam::sign_timestamp(&self.config.secret, chrono::Utc::now().timestamp_millis());
        let r =
            crate::intake::json_response(200, &json!({"ts": ts, "honeypot": settings.honeypot}));
        with_cors(r, Some(&settings), req)
    }

    /// `POST /forms/{target}`.
    pub async fn submit(&self, target: &str, req: &Request<Bytes>) -> Response<Bytes> {
        let json = wants_json(req);
        let Some(settings) = self.config.settings(target) else {
            return error_answer(&IntakeError::not_found("no such form"), json);
        };
        let response = match self.accept(&settings, req, json).await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(form = %crate::mask::form_target(target), status = e.status, code = e.code, field = e.field.as_deref().unwrap_or(""), "form refused");
                error_answer(&e, json)
            }
        };
        with_cors(response, Some(&settings), req)
    }

    async fn accept(
        &self,
        settings: &FormSettings,
        req: &Request<Bytes>,
        json: bool,
    ) -> Result<Response<Bytes>, IntakeError> {
        // A page on another site may not post into this form when the form names its sites.
        if let Some(o) = origin(req)
            && !settings.allowed_origins.is_empty()
            && !allowed(settings, o)
        {
            let mut e = IntakeError::unprocessable(
                "this form does not take posts from that site".into(),
                None,
            );
            e.status = 403;
            e.code = "forbidden_origin";
            return Err(e);
        }
        if req.body().len() > self.config.body_limit {
            return Err(IntakeError::too_large(self.config.body_limit));
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let decoded = crate::webhook::decode::decode(content_type, req.body()).await?;
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

        let spam = self.spam(settings, req, &text).await;
        let redirect = redirect_target(
            settings,
            text("_redirect").or_else(|| text("_next")).as_deref(),
        );
        if let Some(reason) = spam {
            tracing::info!(channel = %crate::mask::id(&settings.channel), reason = %reason, outcome = "spam", "form submission taken for spam, not queued");
            crate::telemetry::count_lead("spam", "website-form");
            return Ok(self.success(json, None, redirect));
        }

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
        if let Some(referer) = req
            .headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
        {
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
        let normalized = normalize(raw, self.normalize).map_err(|e| {
            IntakeError::unprocessable(
                format!(
                    "Please give an email, a phone number or a name ({}).",
                    e.reason
                ),
                Some("email"),
            )
        })?;
        let envelope = EnvelopeBuilder::new(
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
        .build();
        self.queue.send(&envelope).await.map_err(|e| {
            tracing::error!(envelope = %envelope.id, error = %e, "queue unavailable, answered 503");
            IntakeError::unavailable(self.retry_after_secs)
        })?;
        tracing::info!(envelope = %envelope.id, sender = "website-form", channel = %crate::mask::id(&settings.channel), outcome = "queued", "lead received");
        crate::telemetry::count_lead("queued", "website-form");
        Ok(self.success(json, Some(&envelope.id), redirect))
    }

    async fn spam(
        &self,
        settings: &FormSettings,
        req: &Request<Bytes>,
        text: &impl Fn(&str) -> Option<String>,
    ) -> Option<Spam> {
        if text(&settings.honeypot).is_some() {
            return Some(Spam::Honeypot);
        }
        let now = chrono::Utc::now().timestamp_millis();
        if let Err(s) = spam::check_timestamp(
            &self.config.secret,
            text("_inlet_ts").as_deref(),
            settings.min_fill,
            settings.require_timestamp,
            now,
        ) {
            return Some(s);
        }
        if let Some(captcha) = &settings.captcha {
            let answer = text(captcha.provider.field()).unwrap_or_default();
            if answer.is_empty() {
                return Some(Spam::Captcha("no answer".into()));
            }
            let ip = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim);
            if let Err(s) = self.captcha.verify(captcha, &answer, ip).await {
                return Some(s);
            }
        }
        None
    }

    /// The answer a person gets (and a bot gets the same).
    fn success(&self, json: bool, id: Option<&str>, redirect: Option<String>) -> Response<Bytes> {
        if json {
            // A spam submission gets an id like a real one, so the answers look alike.
            let id = id
                .map(str::to_owned)
                .unwrap_or_else(|| format!("c-{}", uuid::Uuid::new_v4().simple()));
            return crate::intake::json_response(
                202,
                &json!({"code": "ACCEPTED", "data": {"id": id}}),
            );
        }
        match redirect {
            Some(url) => Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, url)
                .body(Bytes::new())
                .expect("a valid response"),
            None => pages::thank_you(),
        }
    }
}
