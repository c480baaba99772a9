//! Sender webhooks: decode the body, recognize who sent it (or take the sender named in the
//! URL), verify its signature when a secret is configured, map it to leads, and build the
//! envelopes. One module per sender under `senders/`, each with `recognize` and `parse`;
//! flat forms of any origin go through the alias table in `crate::fields`. Each sender's
//! settings are read here from the routing file's `[senders.<name>]` tables.

pub mod meta_pages;
pub mod senders;

use crate::envelope::{Envelope, EnvelopeBuilder, LeadRef, OriginKind, Step};
use crate::fields::FieldRules;
use crate::lead::{Activity, Assignee};
use crate::normalize::{NormalizeOptions, RawLead, normalize};
use crate::settings;
use crate::web::IntakeError;
use crate::web::body::Decoded;
use crate::web::signature;
use http::HeaderMap;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A request as senders see it.
pub struct Incoming<'a> {
    /// The request's path as the sender called it (HubSpot signs its URL).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    /// The query string, without `?`.
    pub query: &'a str,
    /// The raw body bytes: what signatures are computed over.
    pub raw: &'a [u8],
    pub decoded: Decoded,
}

impl Incoming<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn object(&self) -> Option<&Map<String, Value>> {
        self.decoded.value.as_object()
    }

    /// A top-level field as text.
    pub fn text(&self, key: &str) -> Option<String> {
        self.object()
            .and_then(|m| m.get(key))
            .and_then(crate::fields::text_of)
    }

    pub fn query_param(&self, key: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// One thing a sender told us.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderEvent {
    /// The sender's id for this event (the dedupe key).
    pub event_id: Option<String>,
    pub action: EventAction,
}

// Short-lived, one per lead in a request: boxing the capture would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum EventAction {
    /// A new lead, with the sender's id for it and what it did.
    Capture {
        lead: RawLead,
        sender_lead_id: Option<String>,
        activities: Vec<Activity>,
        test: bool,
    },
    /// New agents for a lead the sender sent before; with the whole contact when the
    /// sender gives it, to capture should no lead be known for the id.
    Reassign {
        sender_lead_id: String,
        assignees: Vec<Assignee>,
        lead: Option<RawLead>,
    },
    /// An activity of a lead the sender sent before.
    Activity {
        sender_lead_id: String,
        activity: Activity,
    },
    /// A Meta lead known only by id: delivery fetches it from the Graph API with the token
    /// of `page_id`, and adds `defaults`. `channel`: where its page or form is routed
    /// (`[senders.meta.reconcile]`), instead of the request's.
    FetchMetaLead {
        leadgen_id: String,
        form_id: Option<String>,
        page_id: Option<String>,
        channel: Option<String>,
        defaults: crate::envelope::LeadDefaults,
    },
}

impl SenderEvent {
    pub fn capture(event_id: Option<String>, lead: RawLead) -> Self {
        SenderEvent {
            event_id,
            action: EventAction::Capture {
                lead,
                sender_lead_id: None,
                activities: Vec::new(),
                test: false,
            },
        }
    }
}

/// Per-sender settings from the routing config (`[senders.<name>]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SenderSettings {
    /// The signing secret, shared key or token the sender must present.
    pub secret: Option<String>,
    pub rules: FieldRules,
    pub tags: Vec<String>,
    pub lead_source: Option<String>,
    /// Agents for leads that name none.
    pub assignees: Vec<Assignee>,
    /// Drop test leads (Google's `is_test`) instead of tagging them `test`.
    pub drop_test: bool,
    /// Field rules per form id (Gravity Forms ids, Wufoo `FieldN`).
    pub forms: BTreeMap<String, FieldRules>,
    /// Meta's `hub.verify_token` for the subscription handshake.
    pub verify_token: Option<String>,
    /// The name the routing file gave, when it is another name of this module
    /// (`[senders.zapier]` configures `generic`).
    pub configured_as: Option<String>,
    /// A credential per lead channel (`[senders.<name>.api_keys]`, channel = key): the
    /// channel's own key instead of `secret`, and, for senders whose URL names no channel
    /// (Follow Up Boss's `POST /v1/events`), the channel the key's holder posts to.
    pub api_keys: BTreeMap<String, String>,
    /// The SNS topics whose deliveries are taken (`topics`); any topic when empty (a valid
    /// SNS signature proves only that some AWS account's topic sent it).
    pub sns_topics: Vec<String>,
    /// Accept the sender's older signature schemes, which carry no timestamp
    /// (`legacy_signatures`; HubSpot's v1 and v2): off, only a timestamped one counts.
    pub legacy_signatures: bool,
    /// Meta's pages and forms: where their leads go, and their reconciliation
    /// (`[senders.meta.reconcile]`).
    pub reconcile: Option<meta_pages::MetaReconcile>,
}

impl SenderSettings {
    /// What the settings add to each lead the sender brings (`LeadDefaults::apply`).
    pub fn lead_defaults(&self) -> crate::envelope::LeadDefaults {
        crate::envelope::LeadDefaults {
            tags: self.tags.clone(),
            lead_source: self.lead_source.clone(),
            assignees: self.assignees.clone(),
            drop_test: self.drop_test,
        }
    }

    /// The credential a request for `channel` must carry, if any.
    pub fn secret_for(&self, channel: &str) -> Option<&str> {
        self.api_keys
            .get(channel)
            .or(self.secret.as_ref())
            .map(String::as_str)
    }

    /// What a request is checked against, with `secret`.
    pub fn key<'a>(&self, secret: &'a str) -> Key<'a> {
        Key {
            secret,
            legacy_signatures: self.legacy_signatures,
        }
    }

    /// The channel whose key `presented` is, each compared in constant time.
    pub fn channel_of_key(&self, presented: &str) -> Option<&str> {
        self.api_keys
            .iter()
            .find(|(_, key)| signature::shared_secret(Some(presented), key, "api key").is_ok())
            .map(|(channel, _)| channel.as_str())
    }
}

/// All senders' settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookSettings {
    pub senders: BTreeMap<String, SenderSettings>,
    /// Every webhook must carry a valid credential (signature or token) of a sender that
    /// has one configured; otherwise whoever knows a lead channel can post into it by naming
    /// a sender without a secret, or through the detecting route (`require_sender_auth`).
    pub require_sender_auth: bool,
}

impl WebhookSettings {
    pub fn sender(&self, name: &str) -> SenderSettings {
        self.senders.get(name).cloned().unwrap_or_default()
    }

    /// Reads the `[senders.<name>]` tables of a routing file. A secret may be written as
    /// `env:NAME` to read it from the environment instead of the file.
    pub fn from_toml(table: &toml::Table) -> Result<WebhookSettings, String> {
        let mut settings = WebhookSettings::default();
        if let Some(v) = table.get("require_sender_auth") {
            settings.require_sender_auth = settings::flag("require_sender_auth", v)?;
        }
        let Some(senders) = table.get("senders") else {
            return Ok(settings);
        };
        let senders = senders.as_table().ok_or("senders must be a table")?;
        for (name, value) in senders {
            let sender =
                senders::by_name(name).ok_or_else(|| format!("senders.{name}: no such sender"))?;
            let t = value
                .as_table()
                .ok_or_else(|| format!("senders.{name} must be a table"))?;
            let mut s = SenderSettings::default();
            for (key, v) in t {
                let at = format!("senders.{name}.{key}");
                match key.as_str() {
                    "secret" => s.secret = Some(settings::secret(&at, v)?),
                    "verify_token" => s.verify_token = Some(settings::secret(&at, v)?),
                    "api_keys" => {
                        let keys = v.as_table().ok_or_else(|| {
                            format!("{at} must map lead channels to keys (channel = \"key\")")
                        })?;
                        for (channel, key) in keys {
                            let key = settings::secret(&format!("{at}.{channel}"), key)?;
                            if key.len() < 8 {
                                return Err(format!(
                                    "{at}.{channel}: a key shorter than 8 characters is guessable"
                                ));
                            }
                            // Requests name the channel in its canonical form: a key filed
                            // under another spelling would guard nothing.
                            let canonical = uuid::Uuid::parse_str(channel.trim())
                                .map_err(|_| format!("{at}.{channel}: not a lead channel UUID"))?
                                .hyphenated()
                                .to_string();
                            s.api_keys.insert(canonical, key);
                        }
                    }
                    "lead_source" => s.lead_source = Some(settings::string(&at, v)?),
                    "drop_test" => s.drop_test = settings::flag(&at, v)?,
                    "legacy_signatures" => s.legacy_signatures = settings::flag(&at, v)?,
                    "tags" => s.tags = settings::strings(&at, v)?,
                    "topics" => s.sns_topics = settings::strings(&at, v)?,
                    "reconcile" if sender.name == "meta" => {
                        s.reconcile = Some(meta_pages::MetaReconcile::from_toml(&at, v)?)
                    }
                    "assignees" => s.assignees = settings::assignees(&at, v)?,
                    "fields" => s.rules = rules(v, &at)?,
                    "forms" => {
                        let forms = v
                            .as_table()
                            .ok_or_else(|| format!("{at} must be a table of forms"))?;
                        for (form, fields) in forms {
                            s.forms
                                .insert(form.clone(), rules(fields, &format!("{at}.{form}"))?);
                        }
                    }
                    other => return Err(format!("senders.{name}.{other} is not a known setting")),
                }
            }
            if name != sender.name {
                s.configured_as = Some(name.clone());
            }
            settings.senders.insert(sender.name.to_owned(), s);
        }
        Ok(settings)
    }
}

fn rules(v: &toml::Value, at: &str) -> Result<FieldRules, String> {
    let t = v
        .as_table()
        .ok_or_else(|| format!("{at} must map field names to meanings"))?;
    let mut rules = FieldRules::default();
    for (field, meaning) in t {
        let name = meaning
            .as_str()
            .ok_or_else(|| format!("{at}.{field} must be a meaning such as \"email\""))?;
        let m = crate::fields::Meaning::from_config(name)
            .ok_or_else(|| format!("{at}.{field}: {name:?} is not a field Inlet knows"))?;
        rules.rename.insert(field.trim().to_owned(), m);
    }
    Ok(rules)
}

/// A sender module.
pub struct Sender {
    pub name: &'static str,
    /// Cheap: a few keys or headers.
    pub recognize: fn(&Incoming) -> bool,
    pub parse: fn(&Incoming, &SenderSettings) -> Result<Vec<SenderEvent>, IntakeError>,
    /// Checks the request against the configured secret.
    pub verify: fn(&Incoming, &Key, i64) -> Result<(), signature::SignatureError>,
}

/// What a request's credential is checked against: the configured secret, and whether the
/// operator accepts a sender's older signature schemes that carry no timestamp (a captured
/// request signed so can be replayed at any time; HubSpot's v1 and v2).
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub secret: &'a str,
    pub legacy_signatures: bool,
}

/// The default check for senders that sign nothing: Standard Webhooks headers when present,
/// else a token in `?token=`, `X-Inlet-Token` or `Authorization: Bearer`.
pub fn verify_token(
    incoming: &Incoming,
    key: &Key,
    now: i64,
) -> Result<(), signature::SignatureError> {
    let secret = key.secret;
    if incoming.header("webhook-signature").is_some() || incoming.header("svix-signature").is_some()
    {
        let h = |a: &str, b: &str| incoming.header(a).or_else(|| incoming.header(b));
        return signature::standard_webhooks(
            h("webhook-id", "svix-id"),
            h("webhook-timestamp", "svix-timestamp"),
            h("webhook-signature", "svix-signature"),
            secret,
            incoming.raw,
            now,
        );
    }
    let given = incoming
        .query_param("token")
        .or_else(|| incoming.header("x-inlet-token").map(str::to_owned))
        .or_else(|| {
            incoming
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .map(str::to_owned)
        });
    signature::shared_secret(given.as_deref(), secret, "token")
}

/// What a webhook became.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub sender: &'static str,
    pub envelopes: Vec<Envelope>,
    /// Events that were not leads, with why (the request is refused if nothing else is left).
    pub refused: Vec<String>,
    /// Test events dropped by config.
    pub dropped: usize,
}

impl Parsed {
    /// The answer once every envelope is queued, in the shape the sender expects: Follow Up
    /// Boss's clients read the created record's `id` from a 201 (its 204 means "archived,
    /// ignored", never sent here); Realtor.com's Lead Delivery takes a 200 as delivered (it
    /// retries anything else); the others take any 2xx, and get Inlet's 202 with what became
    /// of each event.
    pub fn answer(&self) -> (u16, Value) {
        let ids: Vec<&str> = self.envelopes.iter().map(|e| e.id.as_str()).collect();
        match self.sender {
            "followupboss" => (
                201,
                serde_json::json!({"id": ids.first(), "status": "queued", "ids": ids}),
            ),
            "realtor" => (
                200,
                serde_json::json!({"status": "success", "id": ids.first(), "ids": ids}),
            ),
            _ => {
                let unsure: Vec<&str> = self
                    .envelopes
                    .iter()
                    .flat_map(|e| e.notices.iter().filter_map(|n| n.unsure()))
                    .collect();
                let mut data = serde_json::json!({"sender": self.sender, "ids": ids, "refused": self.refused, "dropped_test_leads": self.dropped});
                if !unsure.is_empty() {
                    data["unsure"] = serde_json::json!(unsure);
                }
                (202, serde_json::json!({"code": "ACCEPTED", "data": data}))
            }
        }
    }
}

/// Request details the pipeline needs beyond the body.
pub struct WebhookRequest<'a> {
    pub channel: &'a str,
    /// The request's path, as the sender called it.
    pub path: &'a str,
    pub sender: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub query: &'a str,
    pub body: &'a [u8],
}

/// Whether the request carries a valid credential of some sender with a secret configured:
/// under `require_sender_auth`, the way a request naming (or taken for) a sender without one
/// may still come in.
fn verify_any(incoming: &Incoming, settings: &WebhookSettings, now: i64) -> Result<(), ()> {
    let configured = settings
        .senders
        .iter()
        .filter_map(|(name, s)| Some((senders::by_name(name)?, s.key(s.secret.as_deref()?))));
    for (sender, key) in configured {
        if (sender.verify)(incoming, &key, now).is_ok() {
            return Ok(());
        }
    }
    Err(())
}

fn unauthorized(e: signature::SignatureError) -> IntakeError {
    IntakeError::unauthorized(format!(
        "the request is not signed by the configured sender: {e}"
    ))
}

/// Meta's subscription check (`GET …?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`):
/// the challenge to echo when the verify token matches `senders.meta.verify_token`.
pub fn handshake(query: &str, settings: &WebhookSettings) -> Result<String, IntakeError> {
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (Some(mode), Some(challenge)) = (param("hub.mode"), param("hub.challenge")) else {
        return Err(IntakeError::method_not_allowed("GET, POST"));
    };
    let Some(expected) = settings.sender("meta").verify_token else {
        return Err(IntakeError::forbidden(
            "forbidden",
            "set senders.meta.verify_token in the routing file to answer Meta's check",
        ));
    };
    let token = param("hub.verify_token");
    if mode != "subscribe"
        || signature::shared_secret(token.as_deref(), &expected, "hub.verify_token").is_err()
    {
        let mut e = IntakeError::forbidden("forbidden", "the verify token does not match");
        e.field = Some("hub.verify_token".into());
        return Err(e);
    }
    Ok(challenge)
}

/// What a webhook's envelopes keep so that a replay can read the request again with the
/// field rules then in force, after Rechat refused what the rules made of it (kept in
/// `Envelope::source`). Credentials are not kept: a replay does not verify again (the
/// request was verified when it came, and its signature's time has passed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredWebhook {
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default)]
    pub query: String,
    /// The request's headers but those that carry credentials.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
}

/// The largest request body a webhook's envelopes keep: each envelope carries it, and a
/// queue message holds 256 KiB.
pub const INLINE_WEBHOOK_LIMIT: usize = 32 * 1024;

/// Header and query parameter names that carry credentials, never kept (by part of the
/// name).
const CREDENTIAL_NAMES: [&str; 9] = [
    "authorization",
    "cookie",
    "signature",
    "token",
    "secret",
    "key",
    "hmac",
    "auth",
    "password",
];

fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_NAMES.iter().any(|c| name.contains(c))
}

impl StoredWebhook {
    /// What `req`'s envelopes keep, if its body is small enough to: never a credential, in
    /// a header, the query (`?token=`) or the body fields senders' modules name
    /// (`senders::body_credentials`: Google's `google_key`, Wufoo's `HandshakeKey`). A body
    /// whose credential cannot be taken out is not kept.
    pub fn of(sender: &str, req: &WebhookRequest) -> Option<StoredWebhook> {
        use base64::Engine;
        if req.body.len() > INLINE_WEBHOOK_LIMIT {
            return None;
        }
        let headers = req
            .headers
            .iter()
            .filter(|(name, _)| !is_credential_name(name.as_str()))
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(req.query.as_bytes())
                    .filter(|(name, _)| !is_credential_name(name)),
            )
            .finish();
        let body = without_fields(req.content_type, req.body, &senders::body_credentials())?;
        Some(StoredWebhook {
            sender: sender.to_owned(),
            content_type: req.content_type.map(str::to_owned),
            query,
            headers,
            body_base64: base64::engine::general_purpose::STANDARD.encode(body),
        })
    }
}

/// `body` without the fields named (in any case, at any depth of JSON): a URL-encoded form
/// or JSON rewritten without them; any other body as it is when no name appears in it,
/// else `None` (it is not kept).
fn without_fields(content_type: Option<&str>, body: &[u8], names: &[&str]) -> Option<Vec<u8>> {
    if names.is_empty() {
        return Some(body.to_vec());
    }
    let named = |k: &str| names.iter().any(|n| n.eq_ignore_ascii_case(k));
    fn strip(value: &mut serde_json::Value, named: &dyn Fn(&str) -> bool) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| !named(k));
                map.values_mut().for_each(|v| strip(v, named));
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| strip(v, named)),
            _ => {}
        }
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) {
        strip(&mut value, &named);
        return serde_json::to_vec(&value).ok();
    }
    // A name may be written percent-encoded (`%48andshakeKey`) and still be read as itself:
    // looked for decoded as well as raw.
    let lower = String::from_utf8_lossy(body).to_ascii_lowercase();
    let decoded: String = form_urlencoded::parse(body)
        .map(|(k, v)| format!("{k}={v}\n").to_ascii_lowercase())
        .collect();
    let appears = names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        lower.contains(&n) || decoded.contains(&n)
    });
    if !appears {
        return Some(body.to_vec());
    }
    // Rewritten only when the decoder reads it as a form: a multipart body (whatever comes
    // before its first boundary) or XML naming a credential is not kept at all.
    let essence = crate::web::body::essence(content_type);
    let start = lower.trim_start();
    if essence == "application/x-www-form-urlencoded"
        || (content_type.is_none() && !start.starts_with("--") && !start.starts_with('<'))
    {
        return Some(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form_urlencoded::parse(body).filter(|(k, _)| !named(k)))
                .finish()
                .into_bytes(),
        );
    }
    None
}

/// Reads a stored webhook again, for `channel`, with `settings` (its sender's field rules
/// as they are now): the envelopes it makes now. Not verified again (see `StoredWebhook`).
pub async fn reread(
    stored: &StoredWebhook,
    channel: &str,
    settings: &WebhookSettings,
    normalize_options: &NormalizeOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Parsed, IntakeError> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD
        .decode(&stored.body_base64)
        .map_err(|e| IntakeError::malformed(format!("the stored body is not base64: {e}")))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &stored.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let decoded = crate::web::body::decode_with(
        stored.content_type.as_deref(),
        &body,
        reads_xml(Some(&stored.sender)),
    )
    .await?;
    let incoming = Incoming {
        path: "",
        headers: &headers,
        query: &stored.query,
        raw: &body,
        decoded,
    };
    let sender =
        senders::by_name(&stored.sender).ok_or_else(|| IntakeError::not_found("no such sender"))?;
    let sender_settings = settings.sender(sender.name);
    let events = (sender.parse)(&incoming, &sender_settings)?;
    build(
        senders::recorded_name(
            sender.name,
            Some(&stored.sender),
            sender_settings.configured_as.as_deref(),
        ),
        channel,
        &body,
        events,
        &sender_settings,
        normalize_options,
        now,
    )
}

/// Checks the request's credential for `sender` on `channel`: the channel's own key or the
/// sender's secret when configured; under `require_sender_auth`, a credential of any
/// configured sender otherwise.
pub fn authenticate(
    sender: &Sender,
    incoming: &Incoming,
    channel: &str,
    settings: &WebhookSettings,
    now: i64,
) -> Result<(), IntakeError> {
    let sender_settings = settings.sender(sender.name);
    match sender_settings.secret_for(&channel.to_ascii_lowercase()) {
        Some(secret) => {
            (sender.verify)(incoming, &sender_settings.key(secret), now).map_err(unauthorized)
        }
        None if settings.require_sender_auth => verify_any(incoming, settings, now).map_err(|()| {
            IntakeError::unauthorized(format!(
                "this channel takes only authenticated webhooks (require_sender_auth), and the request carries no valid credential of a configured sender ({} has none configured)",
                sender.name
            ))
        }),
        None => Ok(()),
    }
}

/// An SNS delivery for `sender` (Zillow's when the route names none), its credential checked
/// before anything is fetched for it: the sender, and the SNS message.
pub async fn sns_delivery(
    req: &WebhookRequest<'_>,
    settings: &WebhookSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<(&'static Sender, crate::web::sns::SnsMessage)>, IntakeError> {
    let Some(message) = crate::web::sns::envelope(req.body) else {
        return Ok(None);
    };
    let sender = senders::by_name(req.sender.unwrap_or("zillow"))
        .ok_or_else(|| IntakeError::not_found("no such sender"))?;
    let incoming = Incoming {
        path: req.path,
        headers: req.headers,
        query: req.query,
        raw: req.body,
        decoded: crate::web::body::decode(req.content_type, req.body).await?,
    };
    authenticate(sender, &incoming, req.channel, settings, now.timestamp())?;
    let topics = &settings.sender(sender.name).sns_topics;
    if !topics.is_empty() && !topics.contains(&message.topic_arn) {
        let mut e = IntakeError::forbidden(
            "forbidden",
            format!(
                "the SNS topic is not one of [senders.{}] topics",
                sender.name
            ),
        );
        e.field = Some("TopicArn".into());
        return Err(e);
    }
    Ok(Some((sender, message)))
}

/// Whether a webhook for `sender` (detected when `None`) may be XML: only LTS sends it, so
/// only its route and the detecting one read it.
fn reads_xml(sender: Option<&str>) -> crate::web::body::Xml {
    use crate::web::body::Xml;
    match sender.map(senders::by_name) {
        None => Xml::Read,
        Some(Some(s)) if reads_xml_from(s) => Xml::Read,
        Some(_) => Xml::Refused,
    }
}

/// The senders whose format is XML.
fn reads_xml_from(sender: &Sender) -> bool {
    sender.name == "lts"
}

/// Decodes, recognizes, verifies and parses one webhook, and builds its envelopes.
pub async fn process(
    req: &WebhookRequest<'_>,
    settings: &WebhookSettings,
    normalize_options: &NormalizeOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Parsed, IntakeError> {
    let decoded =
        crate::web::body::decode_with(req.content_type, req.body, reads_xml(req.sender)).await?;
    let incoming = Incoming {
        path: req.path,
        headers: req.headers,
        query: req.query,
        raw: req.body,
        decoded,
    };
    let sender = match req.sender {
        Some(name) => {
            senders::by_name(name).ok_or_else(|| IntakeError::not_found("no such sender"))?
        }
        None => senders::recognize(&incoming),
    };
    // The detecting route reads XML for LTS only: XML any other module would take (a
    // Zillow-shaped document, bare `<email>` tags) is no sender's format.
    if incoming.decoded.format == crate::web::body::Format::Xml && !reads_xml_from(sender) {
        return Err(IntakeError::new(
            415,
            "unsupported_media_type",
            "XML is read only from senders that send it (LTS: /webhooks/{channel}/lts); send JSON or a form here",
        ));
    }
    authenticate(sender, &incoming, req.channel, settings, now.timestamp())?;
    let sender_settings = settings.sender(sender.name);
    let events = (sender.parse)(&incoming, &sender_settings)?;
    build(
        senders::recorded_name(
            sender.name,
            req.sender,
            sender_settings.configured_as.as_deref(),
        ),
        req.channel,
        req.body,
        events,
        &sender_settings,
        normalize_options,
        now,
    )
}

/// Events to envelopes: the sender's defaults applied, each lead normalized.
pub fn build(
    sender: &'static str,
    channel: &str,
    raw: &[u8],
    events: Vec<SenderEvent>,
    settings: &SenderSettings,
    normalize_options: &NormalizeOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Parsed, IntakeError> {
    let mut parsed = Parsed {
        sender,
        envelopes: Vec::new(),
        refused: Vec::new(),
        dropped: 0,
    };
    let total = events.len();
    for event in events {
        let follow_up = !matches!(
            event.action,
            EventAction::Capture { .. } | EventAction::FetchMetaLead { .. }
        );
        // A Meta page or form routed by the routing file goes to its own channel.
        let channel = match &event.action {
            EventAction::FetchMetaLead {
                channel: Some(routed),
                ..
            } => routed.as_str(),
            _ => channel,
        };
        let mut builder = EnvelopeBuilder::new(OriginKind::Webhook, sender, channel, raw)
            .received_at(now)
            .event_id(event.event_id.as_deref());
        // A follow-up without the sender's event id is its own event, never merged with
        // another of the same content (a capture's content dedupe absorbs double submits).
        if follow_up && event.event_id.is_none() {
            builder = builder.distinct();
        }
        let by_sender = |id: String| LeadRef::Sender {
            sender: sender.to_owned(),
            id,
        };
        let envelope = match event.action {
            EventAction::Capture {
                lead,
                sender_lead_id,
                activities,
                test,
            } => {
                let Some(lead) = settings.lead_defaults().apply(lead, test) else {
                    parsed.dropped += 1;
                    continue;
                };
                let normalized = match normalize(lead, normalize_options) {
                    Ok(n) => n,
                    Err(e) => {
                        parsed.refused.push(e.reason);
                        continue;
                    }
                };
                let mut b = builder
                    .step(Step::Capture {
                        lead: normalized.lead,
                        sender_lead_id,
                    })
                    .notices(normalized.notices);
                for mut activity in activities {
                    crate::normalize::bounds::activity(&mut activity);
                    b = b.step(Step::Activity {
                        target: LeadRef::Captured,
                        activity,
                    });
                }
                b.build()
            }
            EventAction::Reassign {
                sender_lead_id,
                assignees,
                lead,
            } => {
                let mut assignees: Vec<Assignee> = assignees
                    .into_iter()
                    .map(|a| crate::normalize::assignee(a, normalize_options))
                    .filter(|a| !crate::lead::IsEmpty::is_empty(a))
                    .collect();
                crate::normalize::bounds::assignees(&mut assignees);
                if assignees.is_empty() {
                    parsed
                        .refused
                        .push("a reassignment with no agent to assign".into());
                    continue;
                }
                // The contact as it would be captured: a reading that is no lead (no way to
                // reach anyone) leaves a plain reassignment.
                let lead = lead.and_then(|mut raw| {
                    raw.tags.extend(settings.tags.iter().cloned());
                    if raw.lead_source.is_none() {
                        raw.lead_source = settings.lead_source.clone();
                    }
                    normalize(raw, normalize_options).ok().map(|n| n.lead)
                });
                builder
                    .step(Step::Assign {
                        target: by_sender(sender_lead_id),
                        assignees,
                        lead,
                    })
                    .build()
            }
            EventAction::Activity {
                sender_lead_id,
                mut activity,
            } => {
                crate::normalize::bounds::activity(&mut activity);
                builder
                    .step(Step::Activity {
                        target: by_sender(sender_lead_id),
                        activity,
                    })
                    .build()
            }
            EventAction::FetchMetaLead {
                leadgen_id,
                form_id,
                page_id,
                defaults,
                ..
            } => builder
                .step(Step::FetchMetaLead {
                    leadgen_id,
                    form_id,
                    page_id,
                    defaults,
                })
                .build(),
        };
        parsed.envelopes.push(envelope);
    }
    if parsed.envelopes.is_empty() && parsed.dropped == 0 {
        let reason = if total == 0 {
            "the payload holds no lead".to_owned()
        } else {
            parsed.refused.join("; ")
        };
        return Err(IntakeError::unprocessable(
            format!("not a lead: {reason}"),
            None,
        ));
    }
    Ok(parsed)
}
