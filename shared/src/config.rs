//! The one configuration every binary reads (wiring): environment variables (what SAM
//! passes), validated at start with an error that names the variable at fault, and the
//! routing file, read once into each source's own settings (`[senders.*]` by `webhook`,
//! `[forms.*]` by `forms`, `[email]` by `email`).

use crate::mask;
use crate::rechat::RechatConfig;
use std::fmt;
use std::time::Duration;

/// Every variable Inlet reads, with what it means. `inlet check` prints this table.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "INLET_RECHAT_URL",
        "Rechat API base URL (default https://api.rechat.com)",
    ),
    (
        "INLET_RECHAT_CONNECT_TIMEOUT_MS",
        "connect timeout to Rechat, ms (default 3000)",
    ),
    (
        "INLET_RECHAT_TIMEOUT_MS",
        "total timeout of one Rechat call, ms (default 10000)",
    ),
    (
        "INLET_QUEUE_URL",
        "SQS FIFO queue URL the intake functions send to",
    ),
    ("INLET_DLQ_URL", "SQS FIFO dead-letter queue URL"),
    (
        "INLET_LEDGER_TABLE",
        "DynamoDB table of the delivery ledger",
    ),
    (
        "INLET_LEDGER_TTL_DAYS",
        "days a ledger record is kept (default 90)",
    ),
    (
        "INLET_CONSOLE_TOKEN",
        "the token that opens /console and /metrics (24+ characters)",
    ),
    (
        "INLET_METRICS_TOKEN",
        "a scraper's own token for /metrics, which opens nothing else (24+ characters)",
    ),
    (
        "INLET_KEEP_DAYS",
        "days spam, mail read as no lead and unsure readings are kept for review (default 30)",
    ),
    (
        "INLET_SPAM_KEEP_DAYS",
        "the older name of INLET_KEEP_DAYS, read when it is not set",
    ),
    (
        "INLET_DELIVER_CONCURRENCY",
        "lead groups delivered at once per batch (default 10)",
    ),
    (
        "INLET_DEDUPE_WINDOW_SECS",
        "window in which identical captures are one submission (default 600)",
    ),
    (
        "INLET_PHONE_REGION",
        "region of phone numbers without a country code (default US)",
    ),
    (
        "INLET_CHANNELS",
        "comma-separated lead channels intake accepts",
    ),
    (
        "INLET_BODY_LIMIT_BYTES",
        "largest request body intake reads (default 1048576)",
    ),
    (
        "INLET_RETRY_BASE_MS",
        "first retry delay when Rechat gives none; doubles per receive (default 2000)",
    ),
    ("INLET_RETRY_CAP_SECS", "longest retry delay (default 300)"),
    (
        "INLET_PROBE_SECS",
        "while Rechat is down, seconds between the probes that test whether it answers again (default 5)",
    ),
    (
        "INLET_RETRY_FOR_HOURS",
        "hours after a lead was received its transient failures are still retried, then it is dead-lettered (default 72, at most 312)",
    ),
    (
        "INLET_DEFAULT_CHANNEL",
        "lead channel for mail no [email] rule routes (else it is dead-lettered as unroutable)",
    ),
    (
        "INLET_MAILGUN_SIGNING_KEY",
        "Mailgun's HTTP webhook signing key, for POST /email/mailgun",
    ),
    (
        "INLET_EMAIL_HTTP_TOKEN",
        "the credential mail posted to /email/{raw,sendgrid,postmark,cloudmailin} must carry (Basic password or ?token=), at least 16 characters",
    ),
    (
        "INLET_MAIL_SECRET_ARN",
        "Secrets Manager secret with email_http_token, read by the webhook function only (Lambda)",
    ),
    (
        "INLET_SECRETS_ARN",
        "Secrets Manager secret with form_secret, meta_page_token, mailgun_signing_key (Lambda)",
    ),
    (
        "INLET_META_PAGE_TOKEN",
        "Meta page token that reads leads Meta names by id, and the pages [senders.meta.reconcile] gives no token",
    ),
    (
        "INLET_META_GRAPH_URL",
        "Meta's Graph API base URL (default https://graph.facebook.com/v21.0)",
    ),
    (
        "INLET_ROUTING_PARAMETER",
        "SSM parameter holding the routing file (Lambda; inlet serve takes --config)",
    ),
    (
        "INLET_REQUIRE_SENDER_AUTH",
        "true: every /webhooks request must carry a configured sender's signature or token (also `require_sender_auth` in the routing file)",
    ),
    (
        "INLET_EMAIL_BUCKET",
        "S3 bucket SES stores received mail in (the email function reads it)",
    ),
];

/// The routing file's sections (and its one top-level setting): anything else is a typo
/// that would otherwise be ignored, a sender's secret with it.
const ROUTING_TABLES: &[&str] = &[
    "senders",
    "forms",
    "email",
    "console",
    "parsing",
    "require_sender_auth",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    /// The value as a log may show it (a lead channel masked).
    pub value: String,
    pub reason: String,
    /// The value (and the reason) whole, as the operator wrote it, where `value` masks it:
    /// `inlet check` shows it to the operator (who must see which digit is wrong), logs
    /// never do.
    pub unmasked: Option<Box<Unmasked>>,
    /// Where the value came from, when not from the variable `var`: the config file's key.
    pub origin: Option<String>,
}

/// What a `ConfigError` masks, for the operator's own terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unmasked {
    pub value: String,
    /// `reason` with the values in it whole, when it holds any.
    pub reason: Option<String>,
}

/// The value whole, for `ConfigError::unmasked`.
fn whole(value: &str) -> Option<Box<Unmasked>> {
    Some(Box::new(Unmasked {
        value: value.to_owned(),
        reason: None,
    }))
}

impl ConfigError {
    /// The setting's name as the operator wrote it: the file's key, else the variable.
    pub fn name(&self) -> &str {
        self.origin.as_deref().unwrap_or(self.var)
    }

    /// The message with the value whole, for the operator's own terminal.
    pub fn unmasked(&self) -> String {
        match &self.unmasked {
            Some(whole) => ConfigError {
                value: whole.value.clone(),
                reason: whole.reason.clone().unwrap_or_else(|| self.reason.clone()),
                unmasked: None,
                ..self.clone()
            }
            .to_string(),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{} {}", self.name(), self.reason)
        } else {
            write!(
                f,
                "{}={:?} is not valid: {}",
                self.name(),
                self.value,
                self.reason
            )
        }
    }
}

impl std::error::Error for ConfigError {}

pub use crate::settings::{nearest, suggestion};

/// The queues and ledger a deployed function cannot run without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverSettings<'a> {
    pub queue_url: &'a str,
    pub dead_letter_url: &'a str,
    pub ledger_table: &'a str,
}

/// The effective configuration.
#[derive(Clone, PartialEq)]
pub struct Config {
    pub rechat: RechatConfig,
    pub queue_url: Option<String>,
    pub dead_letter_queue_url: Option<String>,
    pub ledger_table: Option<String>,
    pub ledger_ttl: Duration,
    /// How long spam, mail read as no lead and unsure readings are kept for review.
    pub kept_retention: Duration,
    pub deliver_concurrency: usize,
    pub dedupe_window: Duration,
    pub phone_region: phonenumber::country::Id,
    /// Lead channels intake accepts; empty means none was configured.
    pub channels: Vec<String>,
    pub body_limit: usize,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// While Rechat is down: seconds between probes.
    pub probe_every: Duration,
    /// How long after a lead was received delivery still retries its transient failures.
    pub retry_for: Duration,
    pub meta_page_token: Option<String>,
    /// Page tokens by page id: the Meta secret's `meta_page_token:<page id>` entries.
    pub meta_page_tokens: std::collections::BTreeMap<String, String>,
    pub meta_graph_url: String,
    pub form_origins: Vec<String>,
    pub form_secret: Option<String>,
    pub default_channel: Option<String>,
    pub mailgun_signing_key: Option<String>,
    /// `INLET_EMAIL_HTTP_TOKEN`, or `email_http_token` of `INLET_MAIL_SECRET_ARN`'s secret.
    pub email_http_token: Option<String>,
    /// `INLET_CONSOLE_TOKEN`, or `console_token` of `INLET_SECRETS_ARN`'s secret: opens
    /// `/console` and `/metrics`. Unset on Lambda, both answer 404.
    pub console_token: Option<String>,
    /// `INLET_METRICS_TOKEN`, `[console] metrics_token` or `metrics_token` of the console
    /// secret: opens `/metrics` only, for a scraper that should not read leads.
    pub metrics_token: Option<String>,
    pub email_bucket: Option<String>,
    /// `INLET_REQUIRE_SENDER_AUTH` (or the key in the routing file).
    pub require_sender_auth: bool,
    /// The routing file's tables (`[senders.*]`, …): the config file's own, or
    /// `INLET_ROUTING_FILE`'s (on Lambda, `INLET_ROUTING_PARAMETER`'s).
    pub routing: toml::Table,
    /// What the routing file says, read by each source into its own settings, once.
    pub webhooks: crate::webhook::WebhookSettings,
    pub forms: crate::forms::FormsConfig,
    pub email: crate::email::EmailSettings,
    /// `[parsing]`: when a lead source's reads count as drifting (`crate::profile`).
    pub drift: crate::profile::DriftRule,
    /// The settings a config file gave (by variable name), with the file's key for each:
    /// an error or `inlet check` names the key the operator wrote, not a variable they
    /// never set.
    pub from_file: std::collections::BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rechat: RechatConfig::default(),
            queue_url: None,
            dead_letter_queue_url: None,
            ledger_table: None,
            ledger_ttl: Duration::from_secs(90 * 86_400),
            kept_retention: Duration::from_secs(30 * 86_400),
            deliver_concurrency: 10,
            dedupe_window: crate::deliver::DEDUPE_WINDOW,
            phone_region: phonenumber::country::Id::US,
            channels: Vec::new(),
            body_limit: 1024 * 1024,
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(300),
            probe_every: crate::breaker::BreakerOptions::default().probe_every,
            retry_for: Duration::from_secs(72 * 3600),
            meta_page_token: None,
            meta_page_tokens: Default::default(),
            meta_graph_url: "https://graph.facebook.com/v21.0".into(),
            routing: toml::Table::new(),
            form_origins: Vec::new(),
            form_secret: None,
            default_channel: None,
            mailgun_signing_key: None,
            email_http_token: None,
            console_token: None,
            metrics_token: None,
            email_bucket: None,
            require_sender_auth: false,
            webhooks: Default::default(),
            forms: Default::default(),
            email: Default::default(),
            drift: Default::default(),
            from_file: Default::default(),
        }
    }
}

impl Config {
    /// The Graph API client, when a page token is configured, trusting `tls`'s roots when
    /// given and the system's otherwise: the default token (`INLET_META_PAGE_TOKEN`, the
    /// secret's `meta_page_token`), the secret's per-page ones, and those
    /// `[senders.meta.reconcile]` gives its pages (an `env:` one read now, its absence an
    /// error naming it).
    pub fn meta_client(
        &self,
        tls: Option<&rustls::ClientConfig>,
    ) -> Result<Option<crate::meta_graph::GraphClient>, ConfigError> {
        let client = self.graph_client(tls)?;
        Ok(client.has_tokens().then_some(client))
    }

    /// The Graph API client with every token configured (perhaps none).
    pub fn graph_client(
        &self,
        tls: Option<&rustls::ClientConfig>,
    ) -> Result<crate::meta_graph::GraphClient, ConfigError> {
        let mut client = crate::meta_graph::GraphClient::new(
            &self.meta_graph_url,
            self.meta_page_token.as_deref().unwrap_or_default(),
            self.rechat.total_timeout,
            tls,
        )
        .map_err(|e| ConfigError {
            var: "INLET_META_GRAPH_URL",
            value: self.meta_graph_url.clone(),
            reason: format!("no HTTP client for it: {e}"),
            ..ConfigError::default()
        })?;
        for (page, token) in &self.meta_page_tokens {
            client = client.with_page_token(page, token);
        }
        if let Some(reconcile) = crate::meta_reconcile::configured(&self.webhooks) {
            for (i, page) in reconcile.pages.iter().enumerate() {
                let at = format!("senders.meta.reconcile.pages[{i}].token");
                match &page.token {
                    Some(token) => {
                        let token = token.resolve(&at).map_err(|reason| ConfigError {
                            var: "--config",
                            value: "[senders.meta.reconcile]".into(),
                            reason,
                            ..ConfigError::default()
                        })?;
                        client = client.with_page_token(&page.id, &token);
                    }
                    None if self.meta_page_token.is_none()
                        && !self.meta_page_tokens.contains_key(&page.id) =>
                    {
                        return Err(ConfigError {
                            var: "--config",
                            value: "[senders.meta.reconcile]".into(),
                            reason: format!(
                                "page {} has no token: give it `token = \"env:NAME\"`, or set INLET_META_PAGE_TOKEN (on AWS, meta_page_token or meta_page_token:{} in the Meta secret)",
                                page.id, page.id
                            ),
                            ..ConfigError::default()
                        });
                    }
                    None => {}
                }
            }
        }
        Ok(client)
    }

    /// What reconciliation needs: the queue and the ledger.
    pub fn require_reconcile(&self) -> Result<DeliverSettings<'_>, ConfigError> {
        Ok(DeliverSettings {
            queue_url: self
                .queue_url
                .as_deref()
                .ok_or_else(|| missing("INLET_QUEUE_URL"))?,
            dead_letter_url: self.dead_letter_queue_url.as_deref().unwrap_or_default(),
            ledger_table: self
                .ledger_table
                .as_deref()
                .ok_or_else(|| missing("INLET_LEDGER_TABLE"))?,
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads a TOML file whose top-level keys are the variables' names without `INLET_`,
    /// in lower case (`rechat_url = "…"`, `channels = ["…"]`), with the environment
    /// taking precedence over the file. Its tables are the routing file; without any,
    /// `INLET_ROUTING_FILE` names one.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let table = match file {
            None => toml::Table::new(),
            Some(path) => read_table(path)?,
        };
        let from_file = file_values(&table)?;
        let file_name = file.map(|p| p.display().to_string()).unwrap_or_default();
        // A variable set (non-empty) wins over the file.
        let in_env = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        let keys: std::collections::BTreeMap<String, String> = from_file
            .keys()
            .filter(|name| !in_env(name))
            .map(|name| {
                let key = name.trim_start_matches("INLET_").to_lowercase();
                (name.clone(), format!("{key} in {file_name}"))
            })
            .collect();
        let mut config = Config::from_lookup(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| from_file.get(name).cloned())
        })
        .map_err(|mut e| {
            e.origin = keys.get(e.var).cloned();
            e
        })?;
        config.from_file = keys;
        let mut routing = tables(table);
        if routing.is_empty()
            && let Some(path) = std::env::var_os("INLET_ROUTING_FILE")
        {
            routing = tables(read_table(std::path::Path::new(&path))?);
        }
        config.read_routing(routing)?;
        Ok(config)
    }

    /// The Lambda functions' configuration: the environment, the secrets, and the routing file
    /// from the SSM parameter `INLET_ROUTING_PARAMETER` names (a SecureString may hold
    /// secrets), in the same TOML format `inlet serve --config` reads.
    /// `routing` is false for a function that routes nothing (deliver), which then needs no
    /// access to the parameter.
    #[cfg(feature = "aws")]
    pub async fn load_lambda(
        aws: &aws_config::SdkConfig,
        routing: bool,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::from_env()?;
        config.secrets_from_manager(aws).await?;
        let parameter = std::env::var("INLET_ROUTING_PARAMETER")
            .ok()
            .filter(|n| routing && !n.trim().is_empty());
        let table = match parameter {
            Some(name) => routing_parameter(aws, &name).await?,
            None => match std::env::var_os("INLET_ROUTING_FILE") {
                Some(path) if routing => read_table(std::path::Path::new(&path))?,
                _ => toml::Table::new(),
            },
        };
        config.read_routing(tables(table))?;
        Ok(config)
    }

    /// The settings a deployed stack's functions run with, for the CLI's commands that act
    /// as they would (a release, a replay, a redrive): the stack's parameters in place of
    /// the environment the template gives them (`AllowedChannels`, `DefaultChannel`,
    /// `FormOrigins`), and the routing file from its `RoutingParameter`. Not its secrets:
    /// none of those commands signs or checks anything.
    #[cfg(feature = "stack")]
    pub async fn load_stack(
        aws: &aws_config::SdkConfig,
        stack: &str,
    ) -> Result<Config, DeployedConfigError> {
        let client = aws_sdk_cloudformation::Client::new(aws);
        let parameters = crate::stack::parameters(&client, stack).await?;
        let given = |key: &str| {
            parameters
                .get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut config = Config::from_lookup(|name| match name {
            "INLET_CHANNELS" => given("AllowedChannels"),
            "INLET_DEFAULT_CHANNEL" => given("DefaultChannel"),
            "INLET_FORM_ORIGINS" => given("FormOrigins"),
            _ => None,
        })?;
        let table = match given("RoutingParameter") {
            Some(name) => routing_parameter(aws, &name).await?,
            None => toml::Table::new(),
        };
        config.read_routing(tables(table))?;
        Ok(config)
    }

    /// Reads the routing file's tables into each source's settings, with the environment's
    /// form origins and secrets, default channel and Mailgun key where the file gives none.
    fn read_routing(&mut self, routing: toml::Table) -> Result<(), ConfigError> {
        if let Some(key) = routing
            .keys()
            .find(|k| !ROUTING_TABLES.contains(&k.as_str()))
        {
            return Err(ConfigError {
                var: "--config",
                value: key.clone(),
                reason: format!(
                    "is not a section of the routing file{} (one of: {})",
                    suggestion(key, ROUTING_TABLES.iter().copied()),
                    ROUTING_TABLES.join(", ")
                ),
                ..ConfigError::default()
            });
        }
        // A page token is read by what reads leads (`meta_client`), not by every function
        // that routes: the webhook function starts without it.
        let missing: Vec<String> = crate::settings::missing_secrets(&routing)
            .into_iter()
            .filter(|m| !crate::webhook::meta_pages::is_token_path(m))
            .collect();
        if !missing.is_empty() {
            return Err(ConfigError {
                var: "--config",
                value: "env: secrets".into(),
                reason: format!("\n  {}", missing.join("\n  ")),
                ..ConfigError::default()
            });
        }
        fn section(value: &'static str) -> impl Fn(String) -> ConfigError {
            move |reason| ConfigError {
                var: "--config",
                value: value.into(),
                reason,
                ..ConfigError::default()
            }
        }
        self.webhooks =
            crate::webhook::WebhookSettings::from_toml(&routing).map_err(section("[senders]"))?;
        self.webhooks.require_sender_auth |= self.require_sender_auth;
        if self.webhooks.require_sender_auth
            && !self.webhooks.senders.values().any(|s| s.secret.is_some())
        {
            return Err(ConfigError {
                var: "INLET_REQUIRE_SENDER_AUTH",
                value: "true".into(),
                reason: "no [senders.*] secret is configured, so every webhook would be refused: give the senders you use a secret".into(),
                ..ConfigError::default()
            });
        }
        let forms = crate::forms::FormsConfig::from_toml(&routing, &self.form_origins)
            .map_err(section("[forms]"))?;
        let policy = crate::web::ChannelPolicy::from_list(&self.channels);
        let accepted = self.source_of("INLET_CHANNELS");
        if let Some(reconcile) = crate::meta_reconcile::configured(&self.webhooks)
            && let Some((at, channel)) = reconcile
                .channels()
                .find(|(_, c)| policy.admit(c).is_none())
        {
            return Err(ConfigError {
                var: "--config",
                value: "[senders.meta.reconcile]".into(),
                reason: format!(
                    "{at}.channel {} is not among the lead channels intake accepts (INLET_CHANNELS)",
                    crate::mask::id(channel)
                ),
                ..ConfigError::default()
            });
        }
        if let Some((id, form)) = forms
            .iter()
            .find(|(_, f)| policy.admit(&f.channel).is_none())
        {
            return Err(ConfigError {
                var: "--config",
                value: "[forms]".into(),
                reason: format!(
                    "forms.{id}.channel {} is not among the lead channels intake accepts ({accepted})",
                    crate::mask::id(&form.channel)
                ),
                unmasked: Some(Box::new(Unmasked {
                    value: "[forms]".into(),
                    reason: Some(format!(
                        "forms.{id}.channel {} is not among the lead channels intake accepts ({accepted})",
                        form.channel
                    )),
                })),
                ..ConfigError::default()
            });
        }
        // A key filed under a channel intake refuses would let its holder post nowhere, or,
        // worse, look like protection that is not there.
        if let Some((name, channel)) = self.webhooks.senders.iter().find_map(|(name, s)| {
            s.api_keys
                .keys()
                .find(|c| policy.admit(c).is_none())
                .map(|c| (name, c))
        }) {
            return Err(ConfigError {
                var: "--config",
                value: format!("[senders.{name}.api_keys]"),
                reason: format!(
                    "{channel} is not among the lead channels intake accepts (INLET_CHANNELS)"
                ),
                ..ConfigError::default()
            });
        }
        if let Some(default) = &self.default_channel
            && policy.admit(default).is_none()
        {
            return Err(ConfigError {
                var: "INLET_DEFAULT_CHANNEL",
                value: crate::mask::id(default),
                reason: format!("is not among the lead channels intake accepts ({accepted})"),
                unmasked: whole(default),
                origin: self.origin_of("INLET_DEFAULT_CHANNEL"),
            });
        }
        self.forms = crate::forms::FormsConfig {
            forms,
            default_origins: self.form_origins.clone(),
            secret: self.form_secret.clone().unwrap_or_default().into_bytes(),
            ..crate::forms::FormsConfig::default()
        };
        let mut email = crate::email::EmailSettings::from_toml(&routing, &policy)
            .map_err(section("[email]"))?;
        if email.default_channel.is_none() {
            email.default_channel = self.default_channel.clone();
        }
        if email.mailgun_signing_key.is_none() {
            email.mailgun_signing_key = self.mailgun_signing_key.clone();
        }
        if email.http_token.is_none() {
            email.http_token = self.email_http_token.clone();
        }
        self.email = email;
        if let Some(parsing) = routing.get("parsing") {
            self.drift =
                crate::profile::DriftRule::from_toml(parsing).map_err(section("[parsing]"))?;
        }
        // `[console] token` and `metrics_token` (or `env:NAME`); the environment and the
        // stack's secret win.
        if let Some(console) = routing.get("console") {
            let read = || -> crate::settings::Setting<(Option<String>, Option<String>)> {
                let table = crate::settings::table("console", console)?;
                crate::settings::known_keys("console", table, &["token", "metrics_token"])?;
                let secret = |key: &str| {
                    table
                        .get(key)
                        .map(|t| crate::settings::secret(&format!("console.{key}"), t))
                        .transpose()
                };
                Ok((secret("token")?, secret("metrics_token")?))
            };
            let (token, metrics) = read().map_err(section("[console]"))?;
            if self.console_token.is_none()
                && let Some(token) = token
            {
                self.console_token = Some(console_token("[console] token", &token)?);
            }
            if self.metrics_token.is_none()
                && let Some(token) = metrics
            {
                self.metrics_token = Some(console_token("[console] metrics_token", &token)?);
            }
        }
        self.routing = routing;
        Ok(())
    }

    /// The router's settings: the channel allowlist, limits, and the sources' own.
    pub fn intake_settings(&self) -> crate::router::IntakeSettings {
        crate::router::IntakeSettings {
            channels: crate::web::ChannelPolicy::from_list(&self.channels),
            body_limit: self.body_limit,
            normalize: self.normalize_options(),
            webhooks: self.webhooks.clone(),
            forms: self.forms.clone(),
            email: self.email.clone(),
            drift: self.drift,
            ..crate::router::IntakeSettings::default()
        }
    }

    /// How delivery paces and retries.
    pub fn delivery_options(&self) -> crate::deliver::DeliveryOptions {
        crate::deliver::DeliveryOptions {
            concurrency: self.deliver_concurrency,
            dedupe_window: self.dedupe_window,
            retry_base: self.retry_base,
            retry_cap: self.retry_cap,
            retry_for: self.retry_for,
            normalize: self.normalize_options(),
            drift: self.drift,
            breaker: crate::breaker::BreakerOptions {
                probe_every: self.probe_every,
                // One probe at a time even when Rechat takes its whole timeout to fail.
                probe_lease: (self.rechat.total_timeout + Duration::from_secs(5))
                    .max(crate::breaker::BreakerOptions::default().probe_lease),
                ..crate::breaker::BreakerOptions::default()
            },
        }
    }

    pub fn normalize_options(&self) -> crate::normalize::NormalizeOptions {
        crate::normalize::NormalizeOptions {
            phone_region: self.phone_region,
        }
    }

    /// Secrets from the Secrets Manager secret `INLET_SECRETS_ARN` names (a JSON object with
    /// `form_secret`, `meta_page_token`, `mailgun_signing_key`); an environment variable set
    /// to a value wins, an empty entry leaves the setting unset.
    #[cfg(feature = "aws")]
    async fn secrets_from_manager(
        &mut self,
        aws: &aws_config::SdkConfig,
    ) -> Result<(), ConfigError> {
        let Some(arn) = std::env::var("INLET_SECRETS_ARN")
            .ok()
            .filter(|a| !a.trim().is_empty())
        else {
            return Ok(());
        };
        let values = secret_values(aws, "INLET_SECRETS_ARN", &arn).await?;
        let value = |key: &str| values.get(key).filter(|v| !v.is_empty()).cloned();
        if self.form_secret.is_none() {
            self.form_secret = value("form_secret");
        }
        if self.meta_page_token.is_none() {
            self.meta_page_token = value("meta_page_token");
        }
        self.meta_tokens_from(&values);
        if self.mailgun_signing_key.is_none() {
            self.mailgun_signing_key = value("mailgun_signing_key");
        }
        // The console's token has a secret of its own, which only the function serving the
        // console can read (`console_secret_from_manager`); the shared secret is readable by
        // the form and email functions too.
        if value("console_token").is_some() {
            tracing::error!(
                "console_token in the shared secret (INLET_SECRETS_ARN) is no longer read: the form and email functions can read that secret; put it in the console secret (the stack's ConsoleSecretArn output) and remove it here"
            );
        }
        self.mail_secret_from_manager(aws).await?;
        self.console_secret_from_manager(aws).await
    }

    /// The console's and the scraper's tokens from the secret `INLET_CONSOLE_SECRET_ARN`
    /// names (`console_token`, `metrics_token`): read by the webhook function alone.
    #[cfg(feature = "aws")]
    async fn console_secret_from_manager(
        &mut self,
        aws: &aws_config::SdkConfig,
    ) -> Result<(), ConfigError> {
        let Some(arn) = std::env::var("INLET_CONSOLE_SECRET_ARN")
            .ok()
            .filter(|a| !a.trim().is_empty())
        else {
            return Ok(());
        };
        let values = secret_values(aws, "INLET_CONSOLE_SECRET_ARN", &arn).await?;
        let value = |key: &str| values.get(key).filter(|v| !v.is_empty());
        if self.console_token.is_none()
            && let Some(token) = value("console_token")
        {
            self.console_token = Some(console_token("INLET_CONSOLE_SECRET_ARN", token)?);
        }
        if self.metrics_token.is_none()
            && let Some(token) = value("metrics_token")
        {
            self.metrics_token = Some(console_token("INLET_CONSOLE_SECRET_ARN", token)?);
        }
        Ok(())
    }

    /// The page tokens of a Meta secret's values: `meta_page_token:<page id>` entries.
    fn meta_tokens_from(&mut self, values: &std::collections::HashMap<String, String>) {
        for (key, token) in values {
            if let Some(page) = key.strip_prefix("meta_page_token:")
                && !token.trim().is_empty()
            {
                self.meta_page_tokens
                    .insert(page.trim().to_owned(), token.trim().to_owned());
            }
        }
    }

    /// The page tokens of a deployed stack's Meta secret (its `MetaSecretArn` output), for a
    /// person's `inlet meta reconcile --stack` with no token of their own configured.
    #[cfg(feature = "aws")]
    pub async fn meta_tokens_from_secret(
        &mut self,
        aws: &aws_config::SdkConfig,
        arn: &str,
    ) -> Result<(), ConfigError> {
        let values = secret_values(aws, "MetaSecretArn", arn).await?;
        if self.meta_page_token.is_none() {
            self.meta_page_token = values
                .get("meta_page_token")
                .filter(|v| !v.trim().is_empty())
                .cloned();
        }
        self.meta_tokens_from(&values);
        Ok(())
    }

    /// The mail token from the secret `INLET_MAIL_SECRET_ARN` names (`email_http_token`):
    /// its own secret, so that only the function taking mail over HTTP can read it.
    #[cfg(feature = "aws")]
    async fn mail_secret_from_manager(
        &mut self,
        aws: &aws_config::SdkConfig,
    ) -> Result<(), ConfigError> {
        let Some(arn) = std::env::var("INLET_MAIL_SECRET_ARN")
            .ok()
            .filter(|a| !a.trim().is_empty())
        else {
            return Ok(());
        };
        if self.email_http_token.is_some() {
            return Ok(());
        }
        let values = secret_values(aws, "INLET_MAIL_SECRET_ARN", &arn).await?;
        if let Some(token) = values.get("email_http_token").filter(|v| !v.is_empty()) {
            self.email_http_token = Some(http_token("INLET_MAIL_SECRET_ARN", token)?);
        }
        Ok(())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut config = Config::default();
        if let Some(url) = get("INLET_RECHAT_URL") {
            config.rechat.base_url = http_url("INLET_RECHAT_URL", &url)?;
        }
        if let Some(v) = get("INLET_RECHAT_CONNECT_TIMEOUT_MS") {
            config.rechat.connect_timeout = millis("INLET_RECHAT_CONNECT_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = get("INLET_RECHAT_TIMEOUT_MS") {
            config.rechat.total_timeout = millis("INLET_RECHAT_TIMEOUT_MS", &v)?;
        }
        if config.rechat.connect_timeout > config.rechat.total_timeout {
            return Err(ConfigError {
                var: "INLET_RECHAT_CONNECT_TIMEOUT_MS",
                value: config.rechat.connect_timeout.as_millis().to_string(),
                reason: "longer than INLET_RECHAT_TIMEOUT_MS".into(),
                ..ConfigError::default()
            });
        }
        if let Some(url) = get("INLET_QUEUE_URL") {
            config.queue_url = Some(fifo_queue_url("INLET_QUEUE_URL", &url)?);
        }
        if let Some(url) = get("INLET_DLQ_URL") {
            config.dead_letter_queue_url = Some(fifo_queue_url("INLET_DLQ_URL", &url)?);
        }
        config.ledger_table = get("INLET_LEDGER_TABLE");
        if let Some(v) = get("INLET_LEDGER_TTL_DAYS") {
            let days = number("INLET_LEDGER_TTL_DAYS", &v, 1, 3650)?;
            config.ledger_ttl = Duration::from_secs(days * 86_400);
        }
        for name in ["INLET_SPAM_KEEP_DAYS", "INLET_KEEP_DAYS"] {
            if let Some(v) = get(name) {
                let days = number(name, &v, 1, 3650)?;
                config.kept_retention = Duration::from_secs(days * 86_400);
            }
        }
        if let Some(v) = get("INLET_DELIVER_CONCURRENCY") {
            config.deliver_concurrency = number("INLET_DELIVER_CONCURRENCY", &v, 1, 1000)? as usize;
        }
        if let Some(v) = get("INLET_DEDUPE_WINDOW_SECS") {
            config.dedupe_window =
                Duration::from_secs(number("INLET_DEDUPE_WINDOW_SECS", &v, 0, 30 * 86_400)?);
        }
        if let Some(v) = get("INLET_PHONE_REGION") {
            config.phone_region = v.to_uppercase().parse().map_err(|_| ConfigError {
                var: "INLET_PHONE_REGION",
                value: v.clone(),
                reason: "not an ISO 3166 region code such as US or GB".into(),
                ..ConfigError::default()
            })?;
        }
        if let Some(v) = get("INLET_BODY_LIMIT_BYTES") {
            config.body_limit =
                number("INLET_BODY_LIMIT_BYTES", &v, 1024, 6 * 1024 * 1024)? as usize;
        }
        if let Some(v) = get("INLET_RETRY_BASE_MS") {
            config.retry_base =
                Duration::from_millis(number("INLET_RETRY_BASE_MS", &v, 10, 600_000)?);
        }
        if let Some(v) = get("INLET_RETRY_CAP_SECS") {
            config.retry_cap = Duration::from_secs(number("INLET_RETRY_CAP_SECS", &v, 1, 43_200)?);
        }
        if let Some(v) = get("INLET_PROBE_SECS") {
            config.probe_every = Duration::from_secs(number("INLET_PROBE_SECS", &v, 1, 300)?);
        }
        // At most 13 days: the queues keep a message 14, and a lead given up on must still be
        // in the dead-letter queue when someone looks.
        if let Some(v) = get("INLET_RETRY_FOR_HOURS") {
            config.retry_for =
                Duration::from_secs(3600 * number("INLET_RETRY_FOR_HOURS", &v, 1, 312)?);
        }
        config.meta_page_token = get("INLET_META_PAGE_TOKEN");
        config.form_secret = get("INLET_FORM_SECRET");
        if let Some(v) = get("INLET_FORM_ORIGINS") {
            config.form_origins = v
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .map(|o| {
                    if o.starts_with("https://") || o.starts_with("http://") {
                        Ok(o)
                    } else {
                        Err(ConfigError {
                            var: "INLET_FORM_ORIGINS",
                            value: o.clone(),
                            reason: "each origin is scheme://host[:port], such as https://www.example.com".into(),
                            ..ConfigError::default()
                        })
                    }
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(url) = get("INLET_META_GRAPH_URL") {
            config.meta_graph_url = http_url("INLET_META_GRAPH_URL", &url)?;
        }
        if let Some(v) = get("INLET_CHANNELS") {
            config.channels = channel_list("INLET_CHANNELS", &v)?;
        }
        if let Some(v) = get("INLET_DEFAULT_CHANNEL") {
            let mut one = channel_list("INLET_DEFAULT_CHANNEL", &v)?;
            config.default_channel = one.pop();
        }
        config.mailgun_signing_key = get("INLET_MAILGUN_SIGNING_KEY");
        if let Some(v) = get("INLET_CONSOLE_TOKEN") {
            config.console_token = Some(console_token("INLET_CONSOLE_TOKEN", &v)?);
        }
        if let Some(v) = get("INLET_METRICS_TOKEN") {
            config.metrics_token = Some(console_token("INLET_METRICS_TOKEN", &v)?);
        }
        if let Some(v) = get("INLET_EMAIL_HTTP_TOKEN") {
            config.email_http_token = Some(http_token("INLET_EMAIL_HTTP_TOKEN", &v)?);
        }
        if let Some(v) = get("INLET_REQUIRE_SENDER_AUTH") {
            config.require_sender_auth = boolean("INLET_REQUIRE_SENDER_AUTH", &v)?;
        }
        config.email_bucket = get("INLET_EMAIL_BUCKET");
        Ok(config)
    }

    /// What the deliver function needs beyond the defaults: the queue (to set a retry's
    /// visibility), the dead-letter queue and the ledger table.
    pub fn require_deliver(&self) -> Result<DeliverSettings<'_>, ConfigError> {
        Ok(DeliverSettings {
            queue_url: self
                .queue_url
                .as_deref()
                .ok_or_else(|| missing("INLET_QUEUE_URL"))?,
            dead_letter_url: self
                .dead_letter_queue_url
                .as_deref()
                .ok_or_else(|| missing("INLET_DLQ_URL"))?,
            ledger_table: self
                .ledger_table
                .as_deref()
                .ok_or_else(|| missing("INLET_LEDGER_TABLE"))?,
        })
    }

    /// What the deployed webhook function needs: the queue, the dead-letter queue (mail no
    /// rule routes is kept there), the ledger, and an explicit channel allowlist (a deployed
    /// endpoint never accepts any channel at all).
    pub fn require_webhook(&self) -> Result<DeliverSettings<'_>, ConfigError> {
        let needs = self.require_deliver()?;
        self.require_channels()?;
        Ok(needs)
    }

    /// What the deployed form function needs: the queues, the table spam is kept in for
    /// review (the ledger's), and the channel allowlist.
    pub fn require_form(&self) -> Result<DeliverSettings<'_>, ConfigError> {
        self.require_channels()?;
        self.require_deliver()
    }

    fn require_channels(&self) -> Result<(), ConfigError> {
        if self.channels.is_empty() {
            return Err(ConfigError {
                var: "INLET_CHANNELS",
                value: String::new(),
                reason: "must list the lead channels the deployed function accepts".into(),
                ..ConfigError::default()
            });
        }
        Ok(())
    }

    /// Where a setting came from, to name it in a message: `channels in inlet.toml`, or the
    /// variable.
    pub fn source_of(&self, var: &str) -> String {
        self.origin_of(var).unwrap_or_else(|| var.to_owned())
    }

    fn origin_of(&self, var: &str) -> Option<String> {
        self.from_file.get(var).cloned()
    }

    /// Whether the deployed functions' settings are given (a queue, a dead-letter queue or a
    /// ledger table): `inlet check` then speaks of them; else of `inlet serve`.
    pub fn is_deployed(&self) -> bool {
        self.queue_url.is_some()
            || self.dead_letter_queue_url.is_some()
            || self.ledger_table.is_some()
    }

    /// The effective configuration as `NAME=value` lines, secrets masked.
    pub fn describe(&self) -> Vec<(String, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".into());
        let channels = if self.channels.is_empty() {
            "(none: any channel)".to_owned()
        } else {
            self.channels
                .iter()
                .map(|c| mask::id(c))
                .collect::<Vec<_>>()
                .join(",")
        };
        vec![
            ("INLET_RECHAT_URL".into(), self.rechat.base_url.clone()),
            (
                "INLET_RECHAT_CONNECT_TIMEOUT_MS".into(),
                self.rechat.connect_timeout.as_millis().to_string(),
            ),
            (
                "INLET_RECHAT_TIMEOUT_MS".into(),
                self.rechat.total_timeout.as_millis().to_string(),
            ),
            ("INLET_QUEUE_URL".into(), opt(&self.queue_url)),
            ("INLET_DLQ_URL".into(), opt(&self.dead_letter_queue_url)),
            ("INLET_LEDGER_TABLE".into(), opt(&self.ledger_table)),
            (
                "INLET_LEDGER_TTL_DAYS".into(),
                (self.ledger_ttl.as_secs() / 86_400).to_string(),
            ),
            (
                "INLET_KEEP_DAYS".into(),
                (self.kept_retention.as_secs() / 86_400).to_string(),
            ),
            (
                "INLET_DELIVER_CONCURRENCY".into(),
                self.deliver_concurrency.to_string(),
            ),
            (
                "INLET_DEDUPE_WINDOW_SECS".into(),
                self.dedupe_window.as_secs().to_string(),
            ),
            (
                "INLET_PHONE_REGION".into(),
                format!("{:?}", self.phone_region),
            ),
            ("INLET_CHANNELS".into(), channels),
            ("INLET_BODY_LIMIT_BYTES".into(), self.body_limit.to_string()),
            (
                "INLET_RETRY_BASE_MS".into(),
                self.retry_base.as_millis().to_string(),
            ),
            (
                "INLET_RETRY_CAP_SECS".into(),
                self.retry_cap.as_secs().to_string(),
            ),
            (
                "INLET_RETRY_FOR_HOURS".into(),
                (self.retry_for.as_secs() / 3600).to_string(),
            ),
            (
                "INLET_PROBE_SECS".into(),
                self.probe_every.as_secs().to_string(),
            ),
        ]
    }
}

impl fmt::Debug for Config {
    // Channels are secrets: Debug must not print them whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Config");
        for (name, value) in self.describe() {
            d.field(&name, &value);
        }
        d.finish()
    }
}

/// A configuration file's routing part: its tables, and the routing file's one top-level
/// setting.
fn tables(table: toml::Table) -> toml::Table {
    table
        .into_iter()
        .filter(|(k, v)| v.is_table() || k == "require_sender_auth")
        .collect()
}

/// The routing file held in an SSM parameter.
#[cfg(feature = "aws")]
async fn routing_parameter(
    aws: &aws_config::SdkConfig,
    name: &str,
) -> Result<toml::Table, ConfigError> {
    let error = |reason: String| ConfigError {
        var: "INLET_ROUTING_PARAMETER",
        value: name.to_owned(),
        reason,
        ..ConfigError::default()
    };
    let out = aws_sdk_ssm::Client::new(aws)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| error(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
    let text = out
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| error("the parameter has no value".into()))?;
    text.parse()
        .map_err(|e: toml::de::Error| error(format!("not a routing file: {e}")))
}

fn read_table(path: &std::path::Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        var: "--config",
        value: path.display().to_string(),
        reason: format!("cannot be read: {e}"),
        ..ConfigError::default()
    })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError {
        var: "--config",
        value: path.display().to_string(),
        reason: format!("is not valid TOML: {e}"),
        ..ConfigError::default()
    })
}

/// The file's settings as variable values; an unknown key is refused (a typo must not
/// silently fall back to a default).
fn file_values(
    table: &toml::Table,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let mut values = std::collections::HashMap::new();
    for (key, value) in table {
        // Tables are sections read by other parts (routing).
        if value.is_table() {
            continue;
        }
        let var = format!("INLET_{}", key.to_uppercase());
        let Some((name, _)) = VARIABLES.iter().find(|(name, _)| *name == var) else {
            let known: Vec<String> = VARIABLES
                .iter()
                .map(|(name, _)| name.trim_start_matches("INLET_").to_lowercase())
                .collect();
            let sections = ROUTING_TABLES.iter().copied();
            return Err(ConfigError {
                var: "--config",
                value: key.clone(),
                reason: format!(
                    "is not a known setting{}",
                    suggestion(key, known.iter().map(String::as_str).chain(sections))
                ),
                ..ConfigError::default()
            });
        };
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        values.insert((*name).to_owned(), text);
    }
    Ok(values)
}

fn missing(var: &'static str) -> ConfigError {
    ConfigError {
        var,
        value: String::new(),
        reason: "must be set".into(),
        ..ConfigError::default()
    }
}

fn http_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > "https://".len()
        && !value.contains(char::is_whitespace);
    if !ok {
        return Err(ConfigError {
            var,
            value: value.into(),
            reason: "must be an http:// or https:// URL".into(),
            ..ConfigError::default()
        });
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn fifo_queue_url(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = http_url(var, value)?;
    if !url.ends_with(".fifo") {
        return Err(ConfigError {
            var,
            value: value.into(),
            reason: "must be a FIFO queue (its URL ends in .fifo): per-lead order depends on it"
                .into(),
            ..ConfigError::default()
        });
    }
    Ok(url)
}

fn number(var: &'static str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError {
            var,
            value: value.into(),
            reason: format!("must be a whole number from {min} to {max}"),
            ..ConfigError::default()
        }),
    }
}

/// The JSON object of strings a Secrets Manager secret holds.
#[cfg(feature = "aws")]
async fn secret_values(
    aws: &aws_config::SdkConfig,
    var: &'static str,
    arn: &str,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let error = |reason: String| ConfigError {
        var,
        value: mask::id(arn),
        reason,
        ..ConfigError::default()
    };
    let out = aws_sdk_secretsmanager::Client::new(aws)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| error(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()))?;
    serde_json::from_str(out.secret_string().unwrap_or("{}"))
        .map_err(|e| error(format!("not a JSON object of strings: {e}")))
}

/// Why a deployed stack's settings could not be read.
#[cfg(feature = "stack")]
#[derive(Debug, thiserror::Error)]
pub enum DeployedConfigError {
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error("the stack's settings: {0}")]
    Settings(#[from] ConfigError),
}

/// The console's token: a password to every lead, so long enough not to be guessed.
pub fn console_token(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.chars().count() < 24 {
        return Err(ConfigError {
            var,
            value: "(hidden)".into(),
            reason: "a console token must be at least 24 characters".into(),
            ..ConfigError::default()
        });
    }
    Ok(value.to_owned())
}

/// A mail token: a password, so long enough not to be guessed.
fn http_token(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let token = value.trim();
    if token.len() < 16 {
        return Err(ConfigError {
            var,
            value: "(hidden)".into(),
            reason: "a mail token must be at least 16 characters".into(),
            ..ConfigError::default()
        });
    }
    Ok(token.to_owned())
}

fn boolean(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError {
            var,
            value: value.into(),
            reason: "must be true or false".into(),
            ..ConfigError::default()
        }),
    }
}

fn millis(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    number(var, value, 1, 600_000).map(Duration::from_millis)
}

fn channel_list(var: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map(|u| u.hyphenated().to_string())
                // Not a UUID, so not a working channel: shown whole where it is reported.
                .map_err(|_| ConfigError {
                    var,
                    value: mask::id(c),
                    reason: "every lead channel must be a UUID".into(),
                    unmasked: whole(c),
                    ..ConfigError::default()
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = from(&[]).unwrap();
        assert_eq!(c.rechat.base_url, "https://api.rechat.com");
        assert_eq!(c.rechat.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.rechat.total_timeout, Duration::from_secs(10));
        assert_eq!(c.deliver_concurrency, 10);
        assert_eq!(c.phone_region, phonenumber::country::Id::US);
        assert_eq!(c.retry_for, Duration::from_secs(72 * 3600));
    }

    #[test]
    fn every_value_is_read() {
        let c = from(&[
            ("INLET_RECHAT_URL", "http://127.0.0.1:9999/"),
            ("INLET_RECHAT_CONNECT_TIMEOUT_MS", "250"),
            ("INLET_RECHAT_TIMEOUT_MS", "1500"),
            (
                "INLET_QUEUE_URL",
                "http://127.0.0.1:5000/123456789012/leads.fifo",
            ),
            (
                "INLET_DLQ_URL",
                "http://127.0.0.1:5000/123456789012/leads-dlq.fifo",
            ),
            ("INLET_LEDGER_TABLE", "inlet-ledger"),
            ("INLET_LEDGER_TTL_DAYS", "7"),
            ("INLET_DELIVER_CONCURRENCY", "4"),
            ("INLET_DEDUPE_WINDOW_SECS", "60"),
            ("INLET_PHONE_REGION", "gb"),
            ("INLET_CHANNELS", "55F5D0B8-3F4E-4B8E-9D6A-0C1B2A3D745F, "),
            ("INLET_RETRY_BASE_MS", "500"),
            ("INLET_RETRY_CAP_SECS", "60"),
            ("INLET_RETRY_FOR_HOURS", "24"),
        ])
        .unwrap();
        assert_eq!(c.retry_base, Duration::from_millis(500));
        assert_eq!(c.retry_cap, Duration::from_secs(60));
        assert_eq!(c.retry_for, Duration::from_secs(24 * 3600));
        assert_eq!(c.rechat.base_url, "http://127.0.0.1:9999");
        assert_eq!(c.rechat.total_timeout, Duration::from_millis(1500));
        assert_eq!(c.ledger_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(c.deliver_concurrency, 4);
        assert_eq!(c.phone_region, phonenumber::country::Id::GB);
        assert_eq!(
            c.channels,
            vec!["55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f".to_string()]
        );
        assert_eq!(c.require_deliver().unwrap().ledger_table, "inlet-ledger");
    }

    #[test]
    fn errors_name_the_variable_at_fault() {
        for (var, value) in [
            ("INLET_RECHAT_URL", "api.rechat.com"),
            ("INLET_RECHAT_TIMEOUT_MS", "ten"),
            (
                "INLET_QUEUE_URL",
                "http://127.0.0.1:5000/123456789012/leads",
            ),
            ("INLET_DELIVER_CONCURRENCY", "0"),
            ("INLET_PHONE_REGION", "XX"),
            ("INLET_CHANNELS", "not-a-uuid"),
            // Past the queues' 14 days, a lead given up on would be gone from the DLQ too.
            ("INLET_RETRY_FOR_HOURS", "313"),
            ("INLET_RETRY_FOR_HOURS", "0"),
        ] {
            let e = from(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().starts_with(var), "{e}");
        }
        let e = from(&[
            ("INLET_RECHAT_CONNECT_TIMEOUT_MS", "5000"),
            ("INLET_RECHAT_TIMEOUT_MS", "1000"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "INLET_RECHAT_CONNECT_TIMEOUT_MS");
        assert_eq!(
            from(&[]).unwrap().require_deliver().unwrap_err().var,
            "INLET_QUEUE_URL"
        );
        let only_queue = from(&[(
            "INLET_QUEUE_URL",
            "http://127.0.0.1:5000/123456789012/leads.fifo",
        )])
        .unwrap();
        assert_eq!(
            only_queue.require_deliver().unwrap_err().to_string(),
            "INLET_DLQ_URL must be set"
        );
    }

    #[test]
    fn a_toml_file_is_read_and_the_environment_wins() {
        let dir = std::env::temp_dir().join(format!("inlet-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("inlet.toml");
        std::fs::write(
            &path,
            "rechat_url = \"http://127.0.0.1:1\"\nchannels = [\"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\"]\ndeliver_concurrency = 3\nretry_for_hours = 12\nretry_cap_secs = 30\n[senders.zapier]\ntags = [\"From Zapier\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.rechat.base_url, "http://127.0.0.1:1");
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.deliver_concurrency, 3);
        assert_eq!(c.retry_for, Duration::from_secs(12 * 3600));
        assert_eq!(c.retry_cap, Duration::from_secs(30));
        std::fs::write(&path, "rechat_ulr = \"http://x\"\n").unwrap();
        let e = Config::load(Some(&path)).unwrap_err();
        assert_eq!(e.value, "rechat_ulr");
        std::fs::write(&path, "rechat_url = ").unwrap();
        assert!(
            Config::load(Some(&path))
                .unwrap_err()
                .reason
                .contains("not valid TOML")
        );
    }

    #[test]
    fn the_deployed_webhook_needs_an_explicit_channel_allowlist() {
        let queue = (
            "INLET_QUEUE_URL",
            "http://127.0.0.1:5000/123456789012/leads.fifo",
        );
        let table = ("INLET_LEDGER_TABLE", "inlet-ledger");
        // Mail over HTTP that no rule routes is kept in the dead-letter queue.
        let dlq = (
            "INLET_DLQ_URL",
            "http://127.0.0.1:5000/123456789012/leads-dlq.fifo",
        );
        let e = from(&[queue, table])
            .unwrap()
            .require_webhook()
            .unwrap_err();
        assert_eq!(e.var, "INLET_DLQ_URL");
        let e = from(&[queue, table, dlq])
            .unwrap()
            .require_webhook()
            .unwrap_err();
        assert_eq!(e.var, "INLET_CHANNELS");
        let c = from(&[
            queue,
            table,
            dlq,
            ("INLET_CHANNELS", "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f"),
        ])
        .unwrap();
        assert_eq!(c.require_webhook().unwrap().ledger_table, "inlet-ledger");
        assert_eq!(
            from(&[table]).unwrap().require_webhook().unwrap_err().var,
            "INLET_QUEUE_URL"
        );
    }

    #[test]
    fn a_channels_key_is_filed_under_its_canonical_uuid_within_the_allowlist() {
        let routing = |text: &str| -> toml::Table { text.parse().unwrap() };
        let allowed = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";
        // Written without hyphens, in capitals: the key still guards the channel requests
        // name in its canonical form.
        let mut c = from(&[("INLET_CHANNELS", allowed)]).unwrap();
        c.read_routing(routing(
            "[senders.followupboss.api_keys]\n\"55F5D0B83F4E4B8E9D6A0C1B2A3D745F\" = \"fub-key-12345\"\n",
        ))
        .unwrap();
        let fub = c.webhooks.sender("followupboss");
        assert_eq!(fub.secret_for(allowed), Some("fub-key-12345"));
        assert_eq!(fub.channel_of_key("fub-key-12345"), Some(allowed));
        for (text, says) in [
            (
                "[senders.followupboss.api_keys]\nnot-a-channel = \"fub-key-12345\"\n",
                "not a lead channel UUID",
            ),
            (
                "[senders.followupboss.api_keys]\n\"00000000-0000-4000-8000-0000000000aa\" = \"fub-key-12345\"\n",
                "not among the lead channels",
            ),
        ] {
            let e = from(&[("INLET_CHANNELS", allowed)])
                .unwrap()
                .read_routing(routing(text))
                .unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_scrapers_token_is_its_own() {
        let routing = |text: &str| -> toml::Table { text.parse().unwrap() };
        let mut c = from(&[]).unwrap();
        c.read_routing(routing(
            "[console]\nmetrics_token = \"a-scrapers-token-from-the-file\"\n",
        ))
        .unwrap();
        assert_eq!(
            c.metrics_token.as_deref(),
            Some("a-scrapers-token-from-the-file")
        );
        assert_eq!(c.console_token, None);
        let c = from(&[("INLET_METRICS_TOKEN", "the-environment-s-scraper-token")]).unwrap();
        assert_eq!(
            c.metrics_token.as_deref(),
            Some("the-environment-s-scraper-token")
        );
        assert!(from(&[("INLET_METRICS_TOKEN", "short")]).is_err());
    }

    #[test]
    fn the_console_token_may_come_from_the_routing_file_and_the_environment_wins() {
        let routing = |text: &str| -> toml::Table { text.parse().unwrap() };
        let mut c = from(&[]).unwrap();
        c.read_routing(routing(
            "[console]\ntoken = \"a-console-token-from-the-file\"\n",
        ))
        .unwrap();
        assert_eq!(
            c.console_token.as_deref(),
            Some("a-console-token-from-the-file")
        );
        let mut c = from(&[("INLET_CONSOLE_TOKEN", "the-environment-s-console-token")]).unwrap();
        c.read_routing(routing(
            "[console]\ntoken = \"a-console-token-from-the-file\"\n",
        ))
        .unwrap();
        assert_eq!(
            c.console_token.as_deref(),
            Some("the-environment-s-console-token")
        );
        for (text, says) in [
            ("[console]\ntoken = \"short\"\n", "at least 24 characters"),
            (
                "[console]\ntokn = \"a-console-token-from-the-file\"\n",
                "console.tokn is not a known setting",
            ),
            ("[console]\ntoken = 7\n", "console.token must be a string"),
            ("console = 1\n", "console must be a table"),
        ] {
            let e = from(&[]).unwrap().read_routing(routing(text)).unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn meta_page_tokens_are_read_by_what_reads_leads_not_by_every_function() {
        let routing = |text: &str| -> toml::Table { text.parse().unwrap() };
        let table = "[senders.meta.reconcile]\npages = [{ id = \"111\", token = \"env:INLET_CONFIG_TEST_PAGE_TOKEN\", channel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\" }, { id = \"222\", channel = \"55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f\" }]\n";
        // The webhook function routes by the table without the token in its environment.
        let mut c = from(&[("INLET_CHANNELS", "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f")]).unwrap();
        c.read_routing(routing(table)).unwrap();
        // What reads leads needs it, and says which.
        let e = c.meta_client(None).unwrap_err();
        assert!(e.reason.contains("INLET_CONFIG_TEST_PAGE_TOKEN"), "{e}");
        // SAFETY: the variable is this test's own.
        unsafe { std::env::set_var("INLET_CONFIG_TEST_PAGE_TOKEN", "EAAB-page-one") };
        let e = c.meta_client(None).unwrap_err();
        assert!(e.reason.contains("page 222 has no token"), "{e}");
        c.meta_page_tokens
            .insert("222".into(), "EAAB-page-two".into());
        let client = c.meta_client(None).unwrap().unwrap();
        let shown = format!("{client:?}");
        assert!(
            shown.contains("\"111\"") && shown.contains("\"222\""),
            "{shown}"
        );
        assert!(!shown.contains("EAAB"), "tokens are never shown: {shown}");
        // A page routed to a channel intake does not accept is refused at once.
        let mut c = from(&[("INLET_CHANNELS", "00000000-0000-4000-8000-000000000001")]).unwrap();
        let e = c.read_routing(routing(table)).unwrap_err();
        assert!(e.reason.contains("pages[0].channel"), "{e}");
        assert!(!e.to_string().contains("55f5d0b8-3f4e"), "masked: {e}");
        // Without any table or token there is no client.
        assert!(from(&[]).unwrap().meta_client(None).unwrap().is_none());
    }

    #[test]
    fn secrets_are_masked_when_shown() {
        let c = from(&[("INLET_CHANNELS", "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f")]).unwrap();
        let shown = format!("{c:?} {:?}", c.describe());
        assert!(!shown.contains("55f5d0b8-3f4e"), "{shown}");
        assert!(shown.contains("55f5…745f"));
    }
}
