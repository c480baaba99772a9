//! `inlet serve`: the intake router and delivery loops in one process, on the embedded
//! queue and ledger.

use clap::Args;
use inlet::config::Config;
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet::rechat::{DryRun, RechatApi, RechatClient};
use inlet::router::Intake;
use inlet::web::ChannelPolicy;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Where the embedded queue and ledger live (inlet.db).
    #[arg(long, env = "INLET_DATA_DIR", default_value = "inlet-data")]
    data_dir: PathBuf,
    /// Rechat API base URL (overrides INLET_RECHAT_URL and the config file).
    #[arg(long)]
    rechat_url: Option<String>,
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log the Rechat requests instead of making them, and mark them delivered.
    #[arg(long)]
    dry_run: bool,
    /// Delivery loops running at once (each delivers a batch of up to 10 leads).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Seconds a received message stays invisible before it is retried.
    #[arg(long, default_value_t = 60)]
    visibility_secs: u64,
    /// Receives that ended without an outcome (the process stopped or hung on the message)
    /// after which it goes to the dead-letter queue: a backstop for one that can never be
    /// processed. A lead held or waiting spends none; transient failures are given up on
    /// after INLET_RETRY_FOR_HOURS.
    #[arg(long, default_value_t = 1000)]
    max_receives: u32,
    /// Do not serve the example lead form at /forms/demo (served by default only while no
    /// lead channel is configured).
    #[arg(long, conflicts_with = "demo_form")]
    no_demo_form: bool,
    /// Serve the example form even with lead channels configured. Its leads go to the demo
    /// channel, never to a configured one.
    #[arg(long)]
    demo_form: bool,
}

/// The demo form's channel: never a real one (any UUID works against a dry run; Rechat
/// refuses it, and the lead is dead-lettered as the demo's, not as a failure).
use inlet::queue::DEMO_CHANNEL;

/// A secret generated at first start and kept in the data dir (readable by its owner
/// only), so that it holds across restarts: the key that signs forms' timestamps (a page
/// loaded before a restart still submits), the mail token senders were given.
fn kept_secret(data_dir: &std::path::Path, file: &str) -> std::io::Result<String> {
    let path = data_dir.join(file);
    if let Ok(text) = std::fs::read_to_string(&path)
        && !text.trim().is_empty()
    {
        return Ok(text.trim().to_owned());
    }
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, key.as_bytes())?;
    Ok(key)
}

/// Where `inlet serve` keeps the console token it generated.
pub const CONSOLE_TOKEN_FILE: &str = "console.token";

/// Where `inlet serve` keeps the scraper's token for `/metrics` it generated.
pub const METRICS_TOKEN_FILE: &str = "metrics.token";

/// Where `inlet serve` keeps the mail token it generated.
pub const MAIL_TOKEN_FILE: &str = "email-http.token";

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("inlet serve: {message}");
    ExitCode::from(2)
}

pub async fn run(args: ServeArgs) -> ExitCode {
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(url) = &args.rechat_url {
        match Config::from_lookup(|name| (name == "INLET_RECHAT_URL").then(|| url.clone())) {
            Ok(c) => config.rechat.base_url = c.rechat.base_url,
            Err(e) => return fail(format!("--rechat-url: {}", e.reason)),
        }
    }
    let store = match EmbeddedStore::open(
        &args.data_dir,
        QueueSettings {
            visibility: Duration::from_secs(args.visibility_secs.max(1)),
            max_receives: args.max_receives.max(1),
            ledger_ttl: config.ledger_ttl,
            kept_retention: config.kept_retention,
        },
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // The CLI's release, replay and redrive act with these settings, not their shell's.
    if let Err(e) = crate::deployment::record(&args.data_dir, args.config.as_deref(), &config) {
        return fail(format!(
            "cannot record its settings in {}: {e}",
            args.data_dir.display()
        ));
    }
    let rechat: Arc<dyn RechatApi> = if args.dry_run {
        Arc::new(DryRun)
    } else {
        match RechatClient::new(&config.rechat) {
            Ok(c) => Arc::new(c),
            Err(e) => return fail(e),
        }
    };
    // Meta's page tokens are read now: a missing one stops the start, naming it.
    let meta: Option<Arc<dyn inlet::meta_graph::MetaLeads>> = match config.meta_client(None) {
        Ok(c) => c.map(|c| Arc::new(c) as Arc<dyn inlet::meta_graph::MetaLeads>),
        Err(e) => return fail(e),
    };
    let graph = match config.graph_client(None) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(args.listen.clone());
    let mut settings = config.intake_settings();
    if settings.forms.secret.is_empty() {
        settings.forms.secret = match kept_secret(&args.data_dir, "form.key") {
            Ok(k) => k.into_bytes(),
            Err(e) => {
                return fail(format!(
                    "cannot keep the form key in {}: {e}",
                    args.data_dir.display()
                ));
            }
        };
    }
    // A token the operator configured is theirs to know; one generated here is printed.
    let generated_mail_token = settings.email.http_token.is_none();
    if generated_mail_token {
        settings.email.http_token = match kept_secret(&args.data_dir, MAIL_TOKEN_FILE) {
            Ok(k) => Some(k),
            Err(e) => {
                return fail(format!(
                    "cannot keep the mail token in {}: {e}",
                    args.data_dir.display()
                ));
            }
        };
    }
    let console_token = match config.console_token.clone() {
        Some(t) => t,
        None => match kept_secret(&args.data_dir, CONSOLE_TOKEN_FILE) {
            Ok(k) => k,
            Err(e) => {
                return fail(format!(
                    "cannot keep the console token in {}: {e}",
                    args.data_dir.display()
                ));
            }
        },
    };
    // A scraper gets a token of its own: the console's opens every lead.
    let metrics_token = match config.metrics_token.clone() {
        Some(t) => t,
        None => match kept_secret(&args.data_dir, METRICS_TOKEN_FILE) {
            Ok(k) => k,
            Err(e) => {
                return fail(format!(
                    "cannot keep the metrics token in {}: {e}",
                    args.data_dir.display()
                ));
            }
        },
    };
    let demo_form = args.demo_form || (config.channels.is_empty() && !args.no_demo_form);
    if demo_form {
        settings.forms.demo_channel = Some(DEMO_CHANNEL.to_owned());
    }
    let policy = match &settings.channels {
        ChannelPolicy::AnyUuid => {
            tracing::warn!("no lead channels configured: any channel UUID is accepted");
            "any lead channel UUID (set INLET_CHANNELS or `channels` in --config to restrict)"
                .to_owned()
        }
        ChannelPolicy::Only(set) => format!("{} configured channel(s) only", set.len()),
    };
    println!("inlet serve {}", inlet::VERSION);
    println!("  listening on  http://{address}");
    println!(
        "  data dir      {}",
        args.data_dir.join("inlet.db").display()
    );
    println!(
        "  Rechat        {}{}",
        config.rechat.base_url,
        if args.dry_run {
            "  (dry run: nothing is sent)"
        } else {
            ""
        }
    );
    println!("  channels      {policy}");
    println!("  health        curl http://{address}/health");
    if let Some(r) = inlet::meta_reconcile::configured(&config.webhooks) {
        println!(
            "  meta          reconciling {} page(s) every {} min",
            r.pages.len(),
            r.every.as_secs() / 60
        );
    }
    if !generated_mail_token {
        println!(
            "  mail token    as configured ([email] http_token); a route's own: inlet email route-token --route sendgrid"
        );
    }
    if let Some(token) = settings
        .email
        .http_token
        .as_ref()
        .filter(|_| generated_mail_token)
    {
        println!(
            "  mail token    {token}  (curl -u inlet:{token} --data-binary @lead.eml http://{address}/email/raw)"
        );
        // A provider that posts its own verdicts is believed only with its route's token.
        for route in inlet::email::route::VERDICT_FIELD_ROUTES {
            println!(
                "  {route:<13} http://inlet:{}@{address}/email/{route}  (its verdict fields count only with this token)",
                inlet::email::route::route_token(token, route)
            );
        }
    }
    if demo_form {
        println!("  demo form     http://{address}/forms/demo");
    }
    println!(
        "  console       http://{address}/console  (token: {})",
        if config.console_token.is_some() {
            "INLET_CONSOLE_TOKEN or the routing file's [console] token".to_owned()
        } else {
            args.data_dir.join(CONSOLE_TOKEN_FILE).display().to_string()
        }
    );
    println!(
        "  metrics       http://{address}/metrics  (Bearer: {}, or the console's)",
        if config.metrics_token.is_some() {
            "INLET_METRICS_TOKEN or [console] metrics_token".to_owned()
        } else {
            args.data_dir.join(METRICS_TOKEN_FILE).display().to_string()
        }
    );

    let intake = Arc::new(Intake {
        queue: Arc::new(store.clone()),
        ledger: Arc::new(store.clone()),
        kept: Arc::new(store.clone()),
        settings,
        captcha: Arc::new(inlet::forms::spam::HttpCaptchaVerifier::new()),
        sns: Arc::new(inlet::sns::HttpsSns::new(None)),
        readings: Default::default(),
        console: Some(
            inlet::router::console::Console::new(console_token, Arc::new(store.clone()))
                .with_metrics_token(Some(metrics_token)),
        ),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let http = tokio::spawn(inlet::serve::serve_http(listener, intake, stopped.clone()));
    let options = config.delivery_options();
    let reconcile = tokio::spawn(inlet::serve::reconcile_loop(
        store.clone(),
        inlet::serve::ReconcileSettings {
            graph,
            webhooks: config.webhooks.clone(),
            normalize: config.normalize_options(),
            other_channels: config.channels.clone(),
        },
        stopped.clone(),
    ));
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|_| {
            tokio::spawn(inlet::serve::deliver_loop(
                store.clone(),
                rechat.clone(),
                meta.clone(),
                options,
                stopped.clone(),
            ))
        })
        .collect();

    shutdown_signal().await;
    println!("inlet serve: stopping; finishing requests and deliveries in flight");
    let _ = stop.send(true);
    let _ = http.await;
    for w in workers {
        let _ = w.await;
    }
    let _ = reconcile.await;
    match store.depth().await {
        Ok((waiting, dead)) => {
            println!("inlet serve: stopped ({waiting} waiting, {dead} dead-lettered)")
        }
        Err(_) => println!("inlet serve: stopped"),
    }
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
