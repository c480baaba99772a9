//! Operations: `check`, `send`, `dlq`, `leads`.

use clap::{Args, Subcommand};
use inlet::config::{Config, VARIABLES};
use inlet::embedded::{EmbeddedStore, QueueSettings};
use inlet::ledger::{Ledger, LedgerRecord, RecordStatus, StepState};
use inlet::normalize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn fail(command: &str, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("inlet {command}: {message}");
    ExitCode::from(2)
}

pub fn check(file: Option<&Path>) -> ExitCode {
    let config = match Config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("inlet check: {e}");
            if let Some((_, meaning)) = VARIABLES.iter().find(|(name, _)| *name == e.var) {
                eprintln!("  {}: {meaning}", e.var);
            }
            return ExitCode::from(2);
        }
    };
    println!("Effective configuration (secrets masked):");
    for (name, value) in config.describe() {
        println!("  {name:<34} {value}");
    }
    println!();
    match config.require_deliver() {
        Ok(_) => println!("deliver function: ready"),
        Err(e) => println!("deliver function: not ready ({e})"),
    }
    // The routing file's tables were read and checked as intake reads them, by `load`.
    let senders: Vec<String> = config
        .webhooks
        .senders
        .iter()
        .map(|(name, s)| {
            let mut has = Vec::new();
            if s.secret.is_some() {
                has.push("secret");
            }
            if s.verify_token.is_some() {
                has.push("verify token");
            }
            if !s.rules.rename.is_empty() || !s.forms.is_empty() {
                has.push("field rules");
            }
            let name = match &s.configured_as {
                Some(given) => format!("{given} -> {name}"),
                None => name.clone(),
            };
            if has.is_empty() {
                name
            } else {
                format!("{name} ({})", has.join(", "))
            }
        })
        .collect();
    println!(
        "senders: {}",
        if senders.is_empty() {
            "(none configured: every sender is read, none is verified)".to_owned()
        } else {
            senders.join("; ")
        }
    );
    println!(
        "sender authentication: {}",
        if config.webhooks.require_sender_auth {
            "required on every /webhooks request (require_sender_auth)"
        } else {
            "only for senders with a secret"
        }
    );
    let forms: Vec<String> = config
        .forms
        .forms
        .iter()
        .map(|(id, f)| {
            let origins = if f.allowed_origins.is_empty() {
                "any origin".to_owned()
            } else {
                f.allowed_origins.join(" ")
            };
            let captcha = f
                .captcha
                .as_ref()
                .map(|c| format!(", captcha {}", c.provider.name()))
                .unwrap_or_default();
            format!(
                "{id} -> {} ({origins}{captcha})",
                inlet::mask::id(&f.channel)
            )
        })
        .collect();
    println!(
        "forms: {}",
        if forms.is_empty() {
            "(none defined; /forms/<channel> takes the allowed channels)".to_owned()
        } else {
            forms.join("; ")
        }
    );
    if let Some(line) = crate::meta::check_line(&config) {
        println!("{line}");
    }
    let email = &config.email;
    println!(
        "email routing: {} addresses, {} plus-tags, default channel {}{}",
        email.addresses.len(),
        email.tags.len(),
        email.default_channel.as_deref().map_or(
            "(none: unrouted mail is dead-lettered)".to_owned(),
            inlet::mask::id
        ),
        if email.forwarder_is_assignee {
            "; a listed agent who forwards is the assignee"
        } else {
            ""
        }
    );
    // Never the token itself: whether mail over HTTP is open to anyone who has it.
    let required: Vec<&str> = [
        (email.require_spf, "SPF"),
        (email.require_dkim, "DKIM"),
        (email.require_dmarc, "DMARC"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    println!(
        "email security: mail over HTTP {}; verdicts from {}; {} trusted agent(s); must pass: {}",
        if email.http_token.is_some() {
            "needs the mail token (set)"
        } else {
            "refused (no [email] http_token; inlet serve generates one)"
        },
        email.authserv_id,
        email.agents.len(),
        if required.is_empty() {
            "nothing".to_owned()
        } else {
            required.join(", ")
        },
    );
    ExitCode::SUCCESS
}

#[derive(Args)]
pub struct SendArgs {
    /// The lead channel (UUID) to post to.
    #[arg(long)]
    channel: String,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    note: Option<String>,
    /// The running Inlet (`inlet serve`, or a deployed API's base URL).
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        conflicts_with = "stack"
    )]
    url: String,
    /// A deployed stack: its ApiUrl output, through the standard AWS credential chain.
    #[arg(long)]
    stack: Option<String>,
}

/// Where `inlet send` posts: `--url`, or the `ApiUrl` output of `--stack`.
async fn send_base_url(args: &SendArgs) -> Result<String, String> {
    let Some(name) = &args.stack else {
        return Ok(args.url.clone());
    };
    let aws = aws_config::load_from_env().await;
    let client = aws_sdk_cloudformation::Client::new(&aws);
    let outputs = inlet::stack::outputs(&client, name)
        .await
        .map_err(|e| e.to_string())?;
    inlet::stack::output(&outputs, name, "ApiUrl")
        .map(str::to_owned)
        .map_err(|e| e.to_string())
}

pub async fn send(args: SendArgs) -> ExitCode {
    let mut body = serde_json::Map::new();
    for (key, value) in [
        ("email", &args.email),
        ("first_name", &args.first_name),
        ("last_name", &args.last_name),
        ("phone_number", &args.phone),
        ("note", &args.note),
    ] {
        if let Some(v) = value {
            body.insert(key.into(), v.clone().into());
        }
    }
    body.insert("lead_source".into(), "inlet send".into());
    let base = match send_base_url(&args).await {
        Ok(b) => b,
        Err(e) => return fail("send", e),
    };
    let url = format!(
        "{}/leads/channels/{}/webhook",
        base.trim_end_matches('/'),
        args.channel
    );
    let response = match reqwest::Client::new().post(&url).json(&body).send().await {
        Ok(r) => r,
        Err(e) => return fail("send", format!("cannot reach {base}: {e}")),
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{} {text}", status.as_u16());
    if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(Subcommand)]
pub enum DlqAction {
    /// List dead letters with their reasons.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back on the queue (all, or one by message or envelope id). Mail no
    /// rule routed is read again with the settings in force (--config, the environment),
    /// not re-sent as it failed; forwarding confirmations stay.
    Replay {
        #[arg(long)]
        id: Option<String>,
        /// The routing file in force now (as `inlet serve --config` or the stack's routing
        /// parameter holds it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub fn open(data_dir: &Path) -> Result<EmbeddedStore, String> {
    let db = data_dir.join("inlet.db");
    if !db.exists() {
        return Err(format!(
            "{} does not exist (is --data-dir the one `inlet serve` uses?)",
            db.display()
        ));
    }
    EmbeddedStore::open(data_dir, QueueSettings::default()).map_err(|e| e.to_string())
}

/// Where a deployed stack's queues are.
pub enum QueuesAt {
    Urls(String, String),
    Stack(String),
}

/// `inlet dlq` against a deployed stack's SQS queues.
pub fn dlq_sqs(
    action: DlqAction,
    at: QueuesAt,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ExitCode>>> {
    Box::pin(async move {
        let aws = aws_config::load_from_env().await;
        let (queue_url, dlq_url) = match at {
            QueuesAt::Urls(q, d) => (q, d),
            QueuesAt::Stack(name) => {
                let client = aws_sdk_cloudformation::Client::new(&aws);
                let found = inlet::stack::outputs(&client, &name).await.and_then(|o| {
                    Ok((
                        inlet::stack::output(&o, &name, "QueueUrl")?.to_owned(),
                        inlet::stack::output(&o, &name, "DeadLetterQueueUrl")?.to_owned(),
                    ))
                });
                match found {
                    Ok(urls) => urls,
                    Err(e) => return fail("dlq", e),
                }
            }
        };
        let queue =
            inlet::queue::sqs::SqsQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url, dlq_url);
        match action {
            DlqAction::List { json } => match queue.dead_letters().await {
                Ok(dead) => print_dead_letters(&dead, json),
                Err(e) => fail("dlq", e),
            },
            DlqAction::Replay { id, config } => {
                let dead = match queue.dead_letters().await {
                    Ok(d) => d,
                    Err(e) => return fail("dlq", e),
                };
                let objects = inlet::objects::s3::S3Objects::new(inlet::objects::s3::client(&aws));
                let again =
                    match read_again(&dead, id.as_deref(), config.as_deref(), Some(&objects)).await
                    {
                        Ok(a) => a,
                        Err(e) => return fail("dlq", e),
                    };
                let mut queued = 0;
                for (message_id, envelope) in &again.queue {
                    // Past the deduplication window, as a replay: a re-read of an event
                    // with the sender's id keeps the envelope's id.
                    let sent = match inlet::queue::message_body(envelope) {
                        Ok(body) => queue.send_raw(&body, &envelope.lead_key).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = sent {
                        return fail("dlq", e);
                    }
                    if let Err(e) = queue.remove_dead_letter(message_id).await {
                        return fail("dlq", e);
                    }
                    queued += 1;
                }
                match queue.replay(id.as_deref()).await {
                    Ok(0) if id.is_some() && queued == 0 && again.kept == 0 => {
                        fail("dlq", "no dead letter at the head of its group has that id")
                    }
                    Ok(n) => {
                        println!(
                            "{n} dead letter(s) put back on the queue; {queued} read again and queued."
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail("dlq", e),
                }
            }
        }
    })
}

pub async fn dlq(action: DlqAction, data_dir: &Path) -> ExitCode {
    let store = match open(data_dir) {
        Ok(s) => s,
        Err(e) => return fail("dlq", e),
    };
    match action {
        DlqAction::List { json } => {
            let dead = match store.dead_letters().await {
                Ok(d) => d,
                Err(e) => return fail("dlq", e),
            };
            print_dead_letters(&dead, json)
        }
        DlqAction::Replay { id, config } => {
            let dead = match store.dead_letters().await {
                Ok(d) => d,
                Err(e) => return fail("dlq", e),
            };
            let again = match read_again(&dead, id.as_deref(), config.as_deref(), None).await {
                Ok(a) => a,
                Err(e) => return fail("dlq", e),
            };
            let mut queued = 0;
            for (message_id, envelope) in &again.queue {
                // Past the deduplication window, as a replay (see dlq_sqs).
                let body = match inlet::queue::message_body(envelope) {
                    Ok(b) => b,
                    Err(e) => return fail("dlq", e),
                };
                if let Err(e) = store.send_raw(body, envelope.lead_key.clone()).await {
                    return fail("dlq", e);
                }
                if let Err(e) = store.remove_dead_letter(message_id.clone()).await {
                    return fail("dlq", e);
                }
                queued += 1;
            }
            match store.replay(id.clone()).await {
                Ok(0) if id.is_some() && queued == 0 && again.kept == 0 => {
                    fail("dlq", "no dead letter has that message or envelope id")
                }
                Ok(n) => {
                    println!(
                        "{n} dead letter(s) put back on the queue; {queued} read again and queued."
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail("dlq", e),
            }
        }
    }
}

/// The ledger records `inlet status` reads: a busy office's day.
const STATUS_RECORDS: usize = 100_000;

/// How many of each kind are kept, or `None` (said as unknown) when the store cannot be read.
async fn kept_counts(kept: &dyn inlet::kept::Kept) -> crate::status::Kept {
    match inlet::kept::counts(kept).await {
        Ok(counts) => crate::status::Kept {
            counts: Some(counts),
        },
        Err(e) => {
            eprintln!("inlet status: the kept items cannot be read: {e}");
            crate::status::Kept::default()
        }
    }
}

/// `inlet status`: the embedded store's queues, ledger and kept items, or a deployed
/// stack's, with what CloudWatch says of it.
pub async fn status(data_dir: &Path, stack: Option<String>) -> ExitCode {
    let Some(name) = stack else {
        let store = match open(data_dir) {
            Ok(s) => s,
            Err(e) => return fail("status", e),
        };
        let dead = match store.dead_letters().await {
            Ok(d) => d,
            Err(e) => return fail("status", e),
        };
        let reading = inlet::deliver::view::read(&store, &store, STATUS_RECORDS).await;
        let kept = kept_counts(&store).await;
        let place = format!("embedded store {}", data_dir.join("inlet.db").display());
        let mut lines = crate::status::report(&place, &reading, &dead, &kept, None);
        let (meta, meta_alarm) = crate::meta::status(&store).await;
        lines.extend(meta);
        return crate::status::print(&lines, crate::status::failing(&reading) || meta_alarm);
    };
    let aws = aws_config::load_from_env().await;
    let client = aws_sdk_cloudformation::Client::new(&aws);
    let urls = inlet::stack::outputs(&client, &name).await.and_then(|o| {
        Ok((
            inlet::stack::output(&o, &name, "QueueUrl")?.to_owned(),
            inlet::stack::output(&o, &name, "DeadLetterQueueUrl")?.to_owned(),
            inlet::stack::output(&o, &name, "LedgerTable")?.to_owned(),
        ))
    });
    let (queue_url, dlq_url, table) = match urls {
        Ok(u) => u,
        Err(e) => return fail("status", e),
    };
    let queue = inlet::queue::sqs::SqsQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        queue_url.clone(),
        dlq_url,
    );
    let dead = match queue.dead_letters().await {
        Ok(d) => d,
        Err(e) => return fail("status", e),
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let ledger = inlet::ledger::dynamodb::DynamoLedger::new(
        dynamodb.clone(),
        table.clone(),
        std::time::Duration::ZERO,
    );
    let reading = inlet::deliver::view::read(&queue, &ledger, STATUS_RECORDS).await;
    if reading.backlog.is_none() {
        return fail(
            "status",
            "the queues' counts cannot be read (see the log above)",
        );
    }
    let kept = kept_counts(&inlet::kept::dynamodb::DynamoKept::new(
        dynamodb,
        table,
        std::time::Duration::from_secs(3650 * 86_400),
    ))
    .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&aws);
    let cloud = match inlet::stack::metrics(&cloudwatch, &queue_url, chrono::Utc::now()).await {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("inlet status: {e}");
            None
        }
    };
    let reading =
        crate::status::with_oldest(reading, cloud.as_ref().and_then(|c| c.oldest_waiting_secs));
    let mut lines = crate::status::report(
        &format!("stack {name}"),
        &reading,
        &dead,
        &kept,
        cloud.as_ref(),
    );
    let (meta, meta_alarm) = crate::meta::status(&ledger).await;
    lines.extend(meta);
    crate::status::print(&lines, crate::status::failing(&reading) || meta_alarm)
}

/// A webhook's dead letter Rechat refused for its content (400: what the field rules made
/// of the request), with the request it keeps and its channel: read again at replay.
fn refused_webhook(
    d: &inlet::queue::DeadMessage,
) -> Option<(inlet::webhook::StoredWebhook, String)> {
    if d.dead_letter.status != Some(400) {
        return None;
    }
    let envelope: serde_json::Value = serde_json::from_str(&d.body).ok()?;
    if envelope.pointer("/origin/kind")?.as_str()? != "webhook" {
        return None;
    }
    let stored = serde_json::from_value(envelope.get("source")?.clone()).ok()?;
    Some((stored, envelope.get("channel")?.as_str()?.to_owned()))
}

/// What a replay found when it read unroutable mail again.
struct ReadAgain {
    /// The dead letters (by message id) that are leads now, with their new envelopes.
    queue: Vec<(String, inlet::envelope::Envelope)>,
    /// How many stay, each printed with why.
    kept: usize,
}

/// Reads again, with the settings in force, each dead letter that is mail no rule routed
/// (all, or the one `id` names): those a rule places now are to be queued; the others stay,
/// each said why. `objects` fetches a message SES stored that the dead letter does not hold.
async fn read_again(
    dead: &[inlet::queue::DeadMessage],
    id: Option<&str>,
    config: Option<&Path>,
    objects: Option<&dyn inlet::objects::ObjectStore>,
) -> Result<ReadAgain, String> {
    let mut out = ReadAgain {
        queue: Vec::new(),
        kept: 0,
    };
    let candidates: Vec<_> = dead
        .iter()
        .filter(|d| {
            d.dead_letter.cause.as_deref() == Some(inlet::queue::UNROUTABLE)
                || refused_webhook(d).is_some()
        })
        .filter(|d| {
            id.is_none_or(|want| {
                want == d.message_id || Some(want) == d.dead_letter.envelope_id.as_deref()
            })
        })
        .collect();
    if candidates.is_empty() {
        return Ok(out);
    }
    let settings = Config::load(config)
        .map_err(|e| e.to_string())?
        .intake_settings();
    let ctx = inlet::email::EmailContext {
        settings: &settings.email,
        policy: &settings.channels,
        normalize: settings.normalize,
        verify_senders: true,
    };
    for d in candidates {
        // A re-read is the same submission read again: it keeps the time it was received,
        // so that delivery's ledger takes an unchanged envelope as itself seen again (not
        // as a repeat to drop) and its retry window runs from the first receipt.
        let first_received = serde_json::from_str::<serde_json::Value>(&d.body)
            .ok()
            .and_then(|v| v.get("received_at").cloned())
            .and_then(|t| serde_json::from_value::<chrono::DateTime<chrono::Utc>>(t).ok());
        let keep_time = |mut e: inlet::envelope::Envelope| {
            if let Some(t) = first_received {
                e.received_at = t;
            }
            e
        };
        if let Some((stored, channel)) = refused_webhook(d) {
            let reread = inlet::webhook::reread(
                &stored,
                &channel,
                &settings.webhooks,
                &settings.normalize,
                chrono::Utc::now(),
            )
            .await;
            match reread {
                Ok(parsed) if !parsed.envelopes.is_empty() => {
                    let ids: Vec<&str> = parsed.envelopes.iter().map(|e| e.id.as_str()).collect();
                    println!(
                        "{}: read again with the field rules in force: queued as {}",
                        d.message_id,
                        ids.join(", ")
                    );
                    let mut envelopes = parsed.envelopes.into_iter();
                    let first = envelopes.next().map(|mut e| {
                        e.notices.push(normalize::Notice::ReadAgain {
                            first_reason: d.dead_letter.reason.clone(),
                        });
                        e
                    });
                    // The first takes the dead letter's place; the rest are queued with it.
                    for e in first.into_iter().chain(envelopes) {
                        out.queue.push((d.message_id.clone(), keep_time(e)));
                    }
                }
                Ok(parsed) => {
                    println!(
                        "{}: kept: read again, no lead ({})",
                        d.message_id,
                        parsed.refused.join("; ")
                    );
                    out.kept += 1;
                }
                Err(e) => {
                    println!("{}: kept: read again: {}", d.message_id, e.message);
                    out.kept += 1;
                }
            }
            continue;
        }
        let stored = serde_json::from_str::<serde_json::Value>(&d.body)
            .ok()
            .and_then(|v| v.get("source").cloned())
            .and_then(|s| serde_json::from_value::<inlet::email::StoredMail>(s).ok());
        let Some(stored) = stored else {
            println!("{}: kept: it holds no message to read again", d.message_id);
            out.kept += 1;
            continue;
        };
        let raw = match (stored.inline_mime(), &stored.object, objects) {
            (Some(raw), _, _) => raw,
            (None, Some(at), Some(objects)) => {
                match objects
                    .get(
                        &at.bucket,
                        &at.key,
                        inlet::router::email::EMAIL_BODY_LIMIT as u64,
                    )
                    .await
                {
                    Ok(raw) => raw,
                    Err(e) => {
                        println!("{}: kept: {e}", d.message_id);
                        out.kept += 1;
                        continue;
                    }
                }
            }
            _ => {
                println!(
                    "{}: kept: {} posts its parsed fields, not the message, or it was too large to keep; have it sent again",
                    d.message_id, stored.provider
                );
                out.kept += 1;
                continue;
            }
        };
        match inlet::email::reread(&stored, raw, &ctx) {
            Ok(inlet::email::Outcome::Lead(envelope)) => {
                println!(
                    "{}: read again: a lead, queued as {}",
                    d.message_id, envelope.id
                );
                out.queue.push((d.message_id.clone(), keep_time(envelope)));
            }
            Ok(other) => {
                let now = match &other {
                    inlet::email::Outcome::Unroutable { reason, .. }
                    | inlet::email::Outcome::NotALead { reason }
                    | inlet::email::Outcome::Dropped { reason } => reason.clone(),
                    other => other.kind().to_owned(),
                };
                println!(
                    "{}: kept: {now} (first: {})",
                    d.message_id, stored.first_reason
                );
                out.kept += 1;
            }
            Err(e) => {
                println!("{}: kept: {e}", d.message_id);
                out.kept += 1;
            }
        }
    }
    Ok(out)
}

fn print_dead_letters(dead: &[inlet::queue::DeadMessage], json: bool) -> ExitCode {
    if json {
        for d in dead {
            let line = serde_json::json!({
                "message_id": d.message_id, "sent_at": d.sent_at, "dead_letter": d.dead_letter, "body": d.body,
            });
            println!("{line}");
        }
    } else if dead.is_empty() {
        println!("The dead-letter queue is empty.");
    } else {
        for d in dead {
            println!("{}  {}", d.sent_at.to_rfc3339(), d.message_id);
            println!(
                "    envelope  {}",
                d.dead_letter
                    .envelope_id
                    .as_deref()
                    .unwrap_or("(unreadable)")
            );
            if let Some(step) = &d.dead_letter.failed_step {
                println!(
                    "    step      {step}{}",
                    d.dead_letter
                        .status
                        .map(|s| format!(" (Rechat answered {s})"))
                        .unwrap_or_default()
                );
            }
            println!("    reason    {}", d.dead_letter.reason);
        }
        println!(
            "{} dead letter(s). Replay with: inlet dlq replay [--id ID]",
            dead.len()
        );
    }
    ExitCode::SUCCESS
}

#[derive(Args)]
pub struct LeadsArgs {
    /// Only this person's envelopes (by its digest: the ledger keeps no emails).
    #[arg(long)]
    email: Option<String>,
    /// Only this person's envelopes, by phone.
    #[arg(long)]
    phone: Option<String>,
    /// Only envelopes of this lead channel (with --email or --phone, the person is looked
    /// up in it as far back as the ledger keeps records).
    #[arg(long)]
    channel: Option<String>,
    /// Only envelopes from this sender or portal (zillow, website-form, …).
    #[arg(long)]
    sender: Option<String>,
    /// Only envelopes in this state: queued, in_progress, delivered, dead_lettered.
    #[arg(long)]
    status: Option<String>,
    /// Received on or after (a date, 2026-12-05, or an RFC 3339 time); 30 days by default.
    #[arg(long)]
    since: Option<String>,
    /// Received on or before (a date is the whole day).
    #[arg(long)]
    until: Option<String>,
    /// Any of the above by its look, or text of the record (an envelope or Rechat lead id,
    /// words of an error).
    #[arg(long)]
    q: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long, default_value = "inlet-data")]
    data_dir: PathBuf,
    /// A deployed stack's ledger (its LedgerTable output), instead of --data-dir.
    #[arg(long, conflicts_with = "table")]
    stack: Option<String>,
    /// A deployed ledger table by name, instead of --data-dir.
    #[arg(long)]
    table: Option<String>,
    /// Print JSON lines instead of a summary.
    #[arg(long)]
    json: bool,
}

/// A deployed stack's ledger, by table name or by the stack's LedgerTable output.
async fn deployed_ledger(
    stack: Option<&str>,
    table: Option<&str>,
) -> Result<inlet::ledger::dynamodb::DynamoLedger, String> {
    let aws = aws_config::load_from_env().await;
    let table = match (table, stack) {
        (Some(t), _) => t.to_owned(),
        (None, Some(name)) => {
            let client = aws_sdk_cloudformation::Client::new(&aws);
            let outputs = inlet::stack::outputs(&client, name)
                .await
                .map_err(|e| e.to_string())?;
            inlet::stack::output(&outputs, name, "LedgerTable")
                .map_err(|e| e.to_string())?
                .to_owned()
        }
        (None, None) => return Err("name a --stack or a --table".into()),
    };
    Ok(inlet::ledger::dynamodb::DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        std::time::Duration::from_secs(90 * 86_400),
    ))
}

/// The records `inlet leads` reads when it has no exact way to the person.
const LEADS_SCAN: usize = 20_000;

pub async fn leads(args: LeadsArgs) -> ExitCode {
    let deployed = args.stack.is_some() || args.table.is_some();
    let params = [
        ("email", &args.email),
        ("phone", &args.phone),
        ("channel", &args.channel),
        ("sender", &args.sender),
        ("status", &args.status),
        ("since", &args.since),
        ("until", &args.until),
        ("q", &args.q),
    ];
    let region = Config::load(None)
        .map(|c| c.phone_region)
        .unwrap_or(phonenumber::country::Id::US);
    let query = match inlet::ledger::search::LeadQuery::from_params(
        params
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))),
        region,
    ) {
        Ok(q) => q,
        Err(e) => return fail("leads", format!("--{e}")),
    };
    let channels: Vec<String> = query.channel.iter().cloned().collect();
    let search = async |ledger: &dyn Ledger| {
        inlet::ledger::search::search(
            ledger,
            &query,
            &channels,
            args.limit,
            LEADS_SCAN,
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| e.to_string())
        .map(Option::unwrap_or_default)
    };
    let records = if deployed {
        match deployed_ledger(args.stack.as_deref(), args.table.as_deref()).await {
            Ok(ledger) => search(&ledger).await,
            Err(e) => Err(e),
        }
    } else {
        match open(&args.data_dir) {
            Ok(store) => search(&store).await,
            Err(e) => Err(e),
        }
    };
    let records = match records {
        Ok(r) => r,
        Err(e) => return fail("leads", e),
    };
    if records.is_empty() {
        println!("The ledger has no such envelopes.");
    }
    // A lead not yet delivered while Rechat is down waits for it, not for its own retry.
    let waiting = records
        .iter()
        .any(|r| matches!(r.status, RecordStatus::Queued | RecordStatus::InProgress));
    if waiting && !args.json {
        let state = if deployed {
            match deployed_ledger(args.stack.as_deref(), args.table.as_deref()).await {
                Ok(ledger) => ledger.rechat_state().await.ok(),
                Err(_) => None,
            }
        } else {
            match open(&args.data_dir) {
                Ok(store) => store.rechat_state().await.ok(),
                Err(_) => None,
            }
        };
        if let Some(down) = state.and_then(|s| s.describe()) {
            println!("{down}: the leads not yet delivered are held until it answers.");
        }
    }
    for r in &records {
        if args.json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            print_record(r);
        }
    }
    ExitCode::SUCCESS
}

fn print_record(r: &LedgerRecord) {
    let steps: Vec<String> = r
        .steps
        .iter()
        .map(|s| match s {
            StepState::Pending => "pending".to_owned(),
            StepState::Done => "done".to_owned(),
            StepState::Skipped { reason } => format!("skipped ({reason})"),
            StepState::Failed { error } => format!("failed ({error})"),
        })
        .collect();
    println!(
        "{}  {}  from {}  {:?}",
        r.received_at.to_rfc3339(),
        r.key,
        r.sender,
        r.status
    );
    println!(
        "    Rechat lead  {}",
        r.rechat_lead_id.as_deref().unwrap_or("(none yet)")
    );
    println!("    steps        {}", steps.join(", "));
    println!(
        "    attempts     {} (capture calls {}, uncertain {})",
        r.attempts, r.capture_calls, r.uncertain_captures
    );
    if let Some(e) = &r.last_error {
        println!("    last error   {e}");
    }
}
