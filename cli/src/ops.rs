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
            // The operator's own terminal: what they wrote, whole, and where.
            eprintln!("inlet check: {}", e.unmasked());
            if let Some((_, meaning)) = VARIABLES.iter().find(|(name, _)| *name == e.var) {
                eprintln!("  {}: {meaning}", e.name());
            }
            return ExitCode::from(2);
        }
    };
    let deployed = config.is_deployed();
    println!(
        "mode: {}",
        if deployed {
            "deployed functions (a queue, dead-letter queue or ledger table is set)"
        } else {
            "inlet serve (the embedded queue and ledger in --data-dir; no AWS settings needed)"
        }
    );
    println!("Effective configuration (secrets masked):");
    for (name, value) in config.describe() {
        let aws_only = matches!(
            name.as_str(),
            "INLET_QUEUE_URL" | "INLET_DLQ_URL" | "INLET_LEDGER_TABLE"
        );
        if aws_only && !deployed {
            continue;
        }
        let from = config
            .from_file
            .get(&name)
            .map(|key| format!("  ({key})"))
            .unwrap_or_default();
        println!("  {name:<34} {value}{from}");
    }
    println!();
    if deployed {
        match config.require_deliver() {
            Ok(_) => println!("deliver function: ready"),
            Err(e) => println!("deliver function: not ready ({e})"),
        }
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
        "email security: mail over HTTP {}; {} trusted agent(s); must pass: {}",
        if email.http_token.is_some() {
            "needs the mail token (set)"
        } else {
            "refused (no [email] http_token; inlet serve generates one)"
        },
        email.agents.len(),
        if required.is_empty() {
            "nothing".to_owned()
        } else {
            required.join(", ")
        },
    );
    // Whose word a verdict is on each way mail comes in: what a sender can forge is named.
    for (route, sources) in email.verdict_sources() {
        println!("email verdicts on {route}: {sources}");
    }
    if !email.fields.is_empty() {
        println!(
            "email field rules (how their labels are read): {}",
            email.fields.senders().collect::<Vec<_>>().join(", ")
        );
    }
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
        /// The routing file in force now, when it is not the one `inlet serve` recorded in
        /// its data dir (a stack's settings are read from the stack).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Send again as they are even the leads Rechat refused for their content (when
        /// Rechat's own rules changed); without it they stay, each said why.
        #[arg(long)]
        as_is: bool,
    },
    /// Correct the fields of a lead Rechat refused and send it again, as a new event; the
    /// dead letter goes once the corrected lead is queued.
    Correct {
        /// The dead letter's message id (inlet dlq list) or envelope id.
        #[arg(long)]
        id: String,
        /// A field and its new value (an empty value clears it): first_name, last_name,
        /// email, phone_number, note, lead_source, tag (comma-separated), referer_url.
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
        /// The configuration in force (the phone region phones are read in).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Delete one dead letter for good.
    Delete {
        /// The dead letter's message id (inlet dlq list) or envelope id.
        #[arg(long)]
        id: String,
    },
}

/// The dead letter `id` names (its message id, or the envelope id it holds), as listed now.
async fn named(
    dead_letters: &dyn inlet::queue::DeadLetters,
    id: &str,
) -> Result<inlet::queue::DeadMessage, String> {
    let id = id.trim();
    let dead = dead_letters.list().await.map_err(|e| e.to_string())?;
    let by_envelope = |d: &inlet::queue::DeadMessage| {
        d.dead_letter
            .envelope_id
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(id))
    };
    dead.iter()
        .find(|d| d.message_id == id)
        .or_else(|| dead.iter().find(|d| by_envelope(d)))
        .cloned()
        .ok_or_else(|| format!("no dead letter has the id {id}"))
}

/// `--set field=value` as a map.
fn fields(set: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    set.iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    format!("--set {pair:?}: write FIELD=VALUE, such as email=ana@example.com")
                })
        })
        .collect()
}

/// Corrects one dead letter and queues it again: the same for the embedded store and the
/// deployed queues.
async fn correct(
    queue: &dyn inlet::queue::Queue,
    ledger: Option<&dyn Ledger>,
    dead_letters: &dyn inlet::queue::DeadLetters,
    id: &str,
    set: &[String],
    config: Option<&Path>,
) -> ExitCode {
    let fields = match fields(set) {
        Ok(f) => f,
        Err(e) => return fail("dlq", e),
    };
    let options = match Config::load(config) {
        Ok(c) => c.normalize_options(),
        Err(e) => return fail("dlq", e.unmasked()),
    };
    let found = match named(dead_letters, id).await {
        Ok(d) => d,
        Err(e) => return fail("dlq", e),
    };
    match inlet::deliver::correct::resend(queue, ledger, dead_letters, &found, &fields, &options)
        .await
    {
        Ok(envelope) => {
            println!(
                "{}: corrected ({}) and queued as {} (answered as {})",
                found.message_id,
                fields.keys().cloned().collect::<Vec<_>>().join(", "),
                envelope.id,
                inlet::envelope::answer_uuid(&envelope.id)
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("dlq", e),
    }
}

/// Deletes one dead letter.
async fn delete(dead_letters: &dyn inlet::queue::DeadLetters, id: &str) -> ExitCode {
    let found = match named(dead_letters, id).await {
        Ok(d) => d,
        Err(e) => return fail("dlq", e),
    };
    match dead_letters.delete(&found.message_id).await {
        Ok(true) => {
            println!("{}: deleted", found.message_id);
            ExitCode::SUCCESS
        }
        Ok(false) => fail("dlq", format!("no dead letter has the id {id}")),
        Err(e) => fail("dlq", e),
    }
}

/// Says which dead letters a plain replay leaves because they would fail the same way
/// (Rechat refused their content), each with what to do; `handled`: those read again.
fn say_refused(
    dead: &[inlet::queue::DeadMessage],
    id: Option<&str>,
    handled: &[String],
    as_is: bool,
) -> usize {
    if as_is {
        return 0;
    }
    let mut left = 0;
    for d in dead.iter().filter(|d| {
        d.dead_letter.refused_for_content()
            && !handled.contains(&d.message_id)
            && id.is_none_or(|want| {
                want == d.message_id || Some(want) == d.dead_letter.envelope_id.as_deref()
            })
    }) {
        println!(
            "{}: kept: it would fail the same way (Rechat refused its content: {}). Correct it: inlet dlq correct --id {} --set FIELD=VALUE; or send it as it is with --as-is",
            d.message_id, d.dead_letter.reason, d.message_id
        );
        left += 1;
    }
    left
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
        let stack = match &at {
            QueuesAt::Stack(name) => Some(name.clone()),
            QueuesAt::Urls(..) => None,
        };
        let (queue_url, dlq_url, ledger_table) = match at {
            QueuesAt::Urls(q, d) => (q, d, None),
            QueuesAt::Stack(name) => {
                let client = aws_sdk_cloudformation::Client::new(&aws);
                let found = inlet::stack::outputs(&client, &name).await.and_then(|o| {
                    Ok((
                        inlet::stack::output(&o, &name, "QueueUrl")?.to_owned(),
                        inlet::stack::output(&o, &name, "DeadLetterQueueUrl")?.to_owned(),
                        inlet::stack::output(&o, &name, "LedgerTable")
                            .ok()
                            .map(str::to_owned),
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
            DlqAction::Delete { id } => delete(&queue, &id).await,
            DlqAction::Correct { id, set, config } => {
                let ledger = ledger_table.as_ref().map(|table| {
                    inlet::ledger::dynamodb::DynamoLedger::new(
                        aws_sdk_dynamodb::Client::new(&aws),
                        table.clone(),
                        std::time::Duration::from_secs(90 * 86_400),
                    )
                });
                correct(
                    &queue,
                    ledger.as_ref().map(|l| l as &dyn Ledger),
                    &queue,
                    &id,
                    &set,
                    config.as_deref(),
                )
                .await
            }
            DlqAction::Replay { id, config, as_is } => {
                let dead = match queue.dead_letters().await {
                    Ok(d) => d,
                    Err(e) => return fail("dlq", e),
                };
                let objects = inlet::objects::s3::S3Objects::new(inlet::objects::s3::client(&aws));
                let deployment = match &stack {
                    Some(name) => crate::deployment::Deployment::Stack(name),
                    None => crate::deployment::Deployment::Given {
                        config: config.as_deref(),
                    },
                };
                let again =
                    match read_again(&dead, id.as_deref(), deployment, Some(&objects), as_is).await
                    {
                        Ok(a) => a,
                        Err(e) => return fail("dlq", e),
                    };
                let refused = say_refused(&dead, id.as_deref(), &again.handled, as_is);
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
                match queue.replay(id.as_deref(), as_is).await {
                    Ok(0) if id.is_some() && queued == 0 && again.kept == 0 && refused == 0 => {
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
        DlqAction::Delete { id } => delete(&store, &id).await,
        DlqAction::Correct { id, set, config } => {
            correct(&store, Some(&store), &store, &id, &set, config.as_deref()).await
        }
        DlqAction::Replay { id, config, as_is } => {
            let dead = match store.dead_letters().await {
                Ok(d) => d,
                Err(e) => return fail("dlq", e),
            };
            let deployment = crate::deployment::Deployment::Local {
                data_dir,
                config: config.as_deref(),
            };
            let again = match read_again(&dead, id.as_deref(), deployment, None, as_is).await {
                Ok(a) => a,
                Err(e) => return fail("dlq", e),
            };
            let refused = say_refused(&dead, id.as_deref(), &again.handled, as_is);
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
            match store.replay(id.clone(), as_is).await {
                Ok(0) if id.is_some() && queued == 0 && again.kept == 0 && refused == 0 => {
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
        return crate::status::print(
            &lines,
            crate::status::needs_person(&reading, &dead) || meta_alarm,
        );
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
    crate::status::print(
        &lines,
        crate::status::needs_person(&reading, &dead) || meta_alarm,
    )
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
    /// The message ids read again (queued anew or kept, each said).
    handled: Vec<String>,
}

/// Reads again, with the settings in force, each dead letter that is mail no rule routed
/// (all, or the one `id` names): those a rule places now are to be queued; the others stay,
/// each said why. `objects` fetches a message SES stored that the dead letter does not hold.
async fn read_again(
    dead: &[inlet::queue::DeadMessage],
    id: Option<&str>,
    deployment: crate::deployment::Deployment<'_>,
    objects: Option<&dyn inlet::objects::ObjectStore>,
    as_is: bool,
) -> Result<ReadAgain, String> {
    let mut out = ReadAgain {
        queue: Vec::new(),
        kept: 0,
        handled: Vec::new(),
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
    // The deployment's routing and mail rules, not this shell's.
    let settings = crate::deployment::settings(deployment)
        .await?
        .intake_settings();
    let ctx = inlet::email::EmailContext {
        settings: &settings.email,
        policy: &settings.channels,
        normalize: settings.normalize,
        verify_senders: true,
    };
    for d in candidates {
        out.handled.push(d.message_id.clone());
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
            let before = inlet::envelope::Envelope::from_json(&d.body)
                .ok()
                .map(|e| e.steps);
            match reread {
                // The field rules make the same lead of it: Rechat would refuse it again.
                Ok(parsed)
                    if !as_is
                        && parsed.envelopes.len() == 1
                        && before.as_ref() == Some(&parsed.envelopes[0].steps) =>
                {
                    println!(
                        "{}: kept: read again with the field rules in force it is the same lead, and would fail the same way ({}). Correct it: inlet dlq correct --id {} --set FIELD=VALUE",
                        d.message_id, d.dead_letter.reason, d.message_id
                    );
                    out.kept += 1;
                }
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
    #[arg(long, env = "INLET_DATA_DIR", default_value = "inlet-data")]
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
    let now = chrono::Utc::now();
    let lookup = async |ledger: &dyn Ledger,
                        kept: Option<&dyn inlet::kept::Kept>,
                        dead: &[inlet::queue::DeadMessage]| {
        inlet::deliver::lookup::lookup(
            &inlet::deliver::lookup::Where {
                ledger,
                kept,
                dead,
                channels: &channels,
                limit: args.limit,
                scan: LEADS_SCAN,
            },
            query.clone(),
            now,
        )
        .await
        .map_err(|e| e.to_string())
    };
    let found = if deployed {
        match deployed_ledger(args.stack.as_deref(), args.table.as_deref()).await {
            Ok(ledger) => lookup(&ledger, None, &[]).await,
            Err(e) => Err(e),
        }
    } else {
        match open(&args.data_dir) {
            Ok(store) => {
                let dead = store.dead_letters().await.unwrap_or_default();
                lookup(&store, Some(&store), &dead).await
            }
            Err(e) => Err(e),
        }
    };
    let found = match found {
        Ok(r) => r,
        Err(e) => return fail("leads", e),
    };
    let nothing = found.is_empty();
    let records = found.records.unwrap_or_default();
    if nothing {
        let asked = params
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| format!("--{k} {v}")))
            .collect::<Vec<_>>()
            .join(" ");
        if asked.is_empty() {
            println!("The ledger has no envelopes in the last 30 days.");
        } else {
            println!(
                "The ledger has no such envelopes: nothing found for {asked} (no envelope, dead letter or kept item has that id, and none received in the last 30 days, or since --since, matches)."
            );
        }
    }
    for item in &found.kept {
        let list = match item.kind {
            inlet::kept::KeptKind::Spam => "inlet spam list",
            _ => "inlet review list",
        };
        println!(
            "{}  {}  kept for review as {}: {} (see {list}; release it with --id {})",
            item.kept_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            item.envelope.id,
            item.kind.as_str().replace('_', " "),
            item.reason,
            item.id
        );
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
        r.received_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        r.key,
        r.sender,
        r.status
    );
    println!(
        "    answered as  {}",
        inlet::envelope::answer_uuid(&r.envelope_id)
    );
    if let Some(person) = &r.person {
        println!("    person       {person}");
    }
    if let Some(original) = &r.corrects {
        println!("    corrects     {original}");
    }
    println!(
        "    Rechat lead  {}",
        match (&r.rechat_lead_id, r.status) {
            (Some(id), _) => id.as_str(),
            (None, RecordStatus::Delivered) => "(none: Rechat answered without a lead id)",
            (None, RecordStatus::DeadLettered) => "(none: not delivered)",
            (None, _) => "(none yet)",
        }
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
