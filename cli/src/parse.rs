//! `inlet parse`: what a body would become, without queueing it.

use clap::{Args, Subcommand};
use inlet::config::Config;
use inlet::router::IntakeSettings;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ParseWhat {
    /// A sender's webhook body: prints the envelopes it would queue, why it is not a lead
    /// (exit 0), or the error the endpoint would answer (with a non-zero exit).
    Webhook(WebhookArgs),
    /// A raw message or a provider's payload: prints the envelope it would queue, or the
    /// reason it queues none.
    Email(EmailArgs),
    /// A lead source's parse drift that is no fault (its new template really has no phone):
    /// stop reporting it until the field comes back.
    Dismiss(DismissArgs),
}

#[derive(Args)]
pub struct DismissArgs {
    /// The source `inlet status` names (a portal, sender, form, or mail domain).
    #[arg(long)]
    source: String,
    /// The field it names (email, phone, name, note, listing), or no_lead.
    #[arg(long)]
    field: String,
    #[arg(long, env = "INLET_DATA_DIR", default_value = "inlet-data")]
    data_dir: PathBuf,
    /// A deployed stack's ledger table (its LedgerTable output), instead of --data-dir.
    #[arg(long)]
    stack: Option<String>,
}

#[derive(Args)]
pub struct EmailArgs {
    /// A raw message, or any provider's payload (SES/SNS notification, SendGrid or Mailgun
    /// multipart, Postmark or CloudMailin JSON), detected.
    file: PathBuf,
    /// The channel when the routing file routes nothing.
    #[arg(long, default_value = "00000000-0000-4000-8000-000000000000")]
    channel: String,
    /// A routing file (its `[email]` table routes by recipient).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Believe a portal's layout or an agent's forward only from a sender the receiving
    /// server authenticated, as Inlet does with mail it receives. Off by default: a saved
    /// message rarely keeps its server's `Authentication-Results`.
    #[arg(long)]
    verify_senders: bool,
    /// The way the file came in, for whose verdicts count (see the README): `ses` for a
    /// message saved from SES's bucket, whose `amazonses.com` header is SES's own. By
    /// default as its content says (a raw message: posted over HTTP, so its headers are no
    /// server's word).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(inlet::email::ingress::PROVIDERS))]
    via: Option<String>,
}

#[derive(Args)]
pub struct WebhookArgs {
    file: PathBuf,
    #[arg(long)]
    content_type: Option<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Name the sender instead of detecting it (as `/webhooks/{channel}/{sender}` does).
    #[arg(long)]
    sender: Option<String>,
    #[arg(long, default_value = "00000000-0000-4000-8000-000000000000")]
    channel: String,
    /// A routing file with senders' settings.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn print_error(status: u16, code: &str, message: &str) -> ExitCode {
    println!(
        "{}",
        json!({"error": {"status": status, "code": code, "message": message}})
    );
    ExitCode::from(1)
}

pub async fn run(what: ParseWhat) -> ExitCode {
    match what {
        ParseWhat::Webhook(args) => webhook(args).await,
        ParseWhat::Email(args) => email(args).await,
        ParseWhat::Dismiss(args) => dismiss(args).await,
    }
}

async fn dismiss(args: DismissArgs) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("inlet parse dismiss: {e}");
        ExitCode::from(2)
    };
    let field = args.field.trim().to_ascii_lowercase().replace('-', "_");
    let known = inlet::profile::Field::ALL.map(|f| f.as_str());
    if field != inlet::profile::NO_LEAD && !known.contains(&field.as_str()) {
        return fail(&format!(
            "{field:?} is no field a drift names (one of: {}, {})",
            known.join(", "),
            inlet::profile::NO_LEAD
        ));
    }
    let source = args.source.trim().to_owned();
    let dismissed = match &args.stack {
        Some(name) => {
            let aws = aws_config::load_from_env().await;
            let client = aws_sdk_cloudformation::Client::new(&aws);
            let table = match inlet::stack::outputs(&client, name)
                .await
                .and_then(|o| Ok(inlet::stack::output(&o, name, "LedgerTable")?.to_owned()))
            {
                Ok(t) => t,
                Err(e) => return fail(&e),
            };
            let ledger = inlet::ledger::dynamodb::DynamoLedger::new(
                aws_sdk_dynamodb::Client::new(&aws),
                table,
                std::time::Duration::ZERO,
            );
            inlet::profile::store::dismiss(&ledger, &source, &field).await
        }
        None => match crate::ops::open(&args.data_dir) {
            Ok(store) => inlet::profile::store::dismiss(&store, &source, &field).await,
            Err(e) => return fail(&e),
        },
    };
    match dismissed {
        Ok(true) => {
            println!("dismissed: {source} {field} (reported again if it comes back and then goes)");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("no drift of {source} {field} to dismiss (inlet status lists them)");
            ExitCode::from(1)
        }
        Err(e) => fail(&e),
    }
}

/// Intake's settings from a routing file (or none), as `inlet serve` reads them.
fn settings(file: Option<&std::path::Path>) -> Result<IntakeSettings, ExitCode> {
    let config = Config::load(file).map_err(|e| print_error(2, "config", &e.to_string()))?;
    Ok(config.intake_settings())
}

async fn webhook(args: WebhookArgs) -> ExitCode {
    let settings = match settings(args.config.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let body = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => return print_error(2, "file", &format!("{}: {e}", args.file.display())),
    };
    let mut headers = http::HeaderMap::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return print_error(2, "header", &format!("{h:?} is not `Name: value`"));
        };
        match (
            http::HeaderName::from_bytes(name.trim().as_bytes()),
            http::HeaderValue::from_str(value.trim()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => return print_error(2, "header", &format!("{h:?} is not a valid header")),
        }
    }
    let mut content_type = args.content_type.clone().or_else(|| {
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    // An SNS delivery (Zillow Tech Connect) is read as its message, as the endpoint reads it
    // once the signature checks; the signature itself needs SNS's certificate, so it is not
    // checked here.
    let mut body = body;
    let mut sender = args.sender.clone();
    if let Some(message) = inlet::web::sns::envelope(&body) {
        eprintln!(
            "an SNS {} from {}: its message is read; its signature is checked only by the endpoint",
            message.kind, message.topic_arn
        );
        body = message.message.into_bytes();
        sender = sender.or(Some("zillow".into()));
        content_type = Some("application/json".into());
    }
    let request = inlet::webhook::WebhookRequest {
        channel: &args.channel,
        path: "",
        sender: sender.as_deref(),
        content_type: content_type.as_deref(),
        headers: &headers,
        query: "",
        body: &body,
    };
    match inlet::webhook::process(
        &request,
        &settings.webhooks,
        &settings.normalize,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(parsed) => {
            let out = json!({
                "sender": parsed.sender,
                "envelopes": parsed.envelopes,
                "refused": parsed.refused,
                "dropped_test_leads": parsed.dropped,
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
        // A clean refusal (the body is read, and is no lead) is an answer, not a failure: it
        // is what the endpoint says with its 422, and a script checking senders goes on.
        Err(e) if e.status == 422 && e.message.starts_with("not a lead") => {
            let out = json!({"envelopes": [], "not_a_lead": e.message, "field": e.field});
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => print_error(e.status, e.code, &e.message),
    }
}

async fn email(args: EmailArgs) -> ExitCode {
    let raw = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => return print_error(2, "file", &format!("{}: {e}", args.file.display())),
    };
    let settings = match settings(args.config.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut email = settings.email.clone();
    // With no routing of its own, every message goes to `--channel`, so that the reading
    // can be seen whatever the recipient.
    if email.default_channel.is_none() {
        email.default_channel = Some(args.channel.clone());
    }
    let mut inbound =
        match inlet::email::inbound_from_file(&raw, email.mailgun_signing_key.as_deref()).await {
            Ok(i) => i,
            Err(e) => return print_error(422, "unreadable", &e.to_string()),
        };
    if let Some(via) = args.via.as_deref()
        && let Some(provider) = inlet::email::ingress::PROVIDERS.iter().find(|p| **p == via)
    {
        inbound.provider = provider;
    }
    let context = inlet::email::EmailContext {
        settings: &email,
        policy: &settings.channels,
        normalize: settings.normalize,
        verify_senders: args.verify_senders,
    };
    let outcome = inlet::email::process(&inbound, &context);
    let out = match &outcome {
        inlet::email::Outcome::Lead(envelope) => json!({"envelopes": [envelope]}),
        inlet::email::Outcome::NotALead { reason } | inlet::email::Outcome::Dropped { reason } => {
            json!({"envelopes": [], "outcome": outcome.kind(), "reason": reason})
        }
        inlet::email::Outcome::Confirmation {
            confirmation,
            confirm,
            ..
        } => json!({
            "envelopes": [], "outcome": outcome.kind(), "reason": confirmation.describe(),
            "code": confirmation.code, "link": confirmation.link,
            "inlet_would_fetch": confirm.is_some()
        }),
        inlet::email::Outcome::Unroutable { envelope, reason } => json!({
            "envelopes": [], "outcome": outcome.kind(), "reason": reason, "dead_letter": envelope
        }),
    };
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    ExitCode::SUCCESS
}
