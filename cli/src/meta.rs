//! `inlet meta reconcile`: one Meta reconciliation pass by hand, the way to recover after the
//! page's webhook subscription was down: every configured form's leads since `--since` (each
//! form's cursor by default), and the ones the ledger does not know queued as the webhook
//! would have queued them, printed one by one (`--dry-run`: printed only). Against the
//! embedded store of `inlet serve` (`--data-dir`) or a deployed stack's queue and ledger
//! (`--stack`, whose Meta secret gives the page tokens when none is configured here).

use clap::{Args, Subcommand};
use inlet::config::Config;
use inlet::meta_reconcile::{Pass, PassReport, Reconciler};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum MetaAction {
    /// Ask Meta for every lead of the configured forms and queue those no webhook brought.
    Reconcile(ReconcileArgs),
}

#[derive(Args)]
pub struct ReconcileArgs {
    /// Look back to this time (`7d`, `36h`, or RFC 3339) instead of each form's last run.
    #[arg(long)]
    since: Option<String>,
    /// Print what would be added; queue and record nothing.
    #[arg(long)]
    dry_run: bool,
    /// The routing file with `[senders.meta.reconcile]` (as `inlet serve --config`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The embedded store of `inlet serve`.
    #[arg(long, default_value = "inlet-data")]
    data_dir: PathBuf,
    /// A deployed stack's name: its QueueUrl, DeadLetterQueueUrl, LedgerTable and
    /// MetaSecretArn outputs, instead of --data-dir.
    #[arg(long)]
    stack: Option<String>,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("inlet meta reconcile: {message}");
    ExitCode::from(2)
}

pub async fn run(action: MetaAction) -> ExitCode {
    let MetaAction::Reconcile(args) = action;
    let now = chrono::Utc::now();
    let since = match args.since.as_deref().map(|s| crate::mail::since(s, now)) {
        None => None,
        Some(Ok(t)) if t < now => Some(t),
        Some(Ok(_)) => return fail("--since must be in the past"),
        Some(Err(e)) => return fail(e),
    };
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if inlet::meta_reconcile::configured(&config.webhooks).is_none() {
        return fail(
            "no [senders.meta.reconcile] in the routing file: name the pages to reconcile (--config, or INLET_ROUTING_FILE)",
        );
    }
    let pass = Pass {
        now,
        since,
        dry_run: args.dry_run,
    };
    let report = match &args.stack {
        None => {
            let store = match crate::ops::open(&args.data_dir) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let graph = match config.graph_client(None) {
                Ok(g) => g,
                Err(e) => return fail(e),
            };
            reconciler(&config, &graph, &store, &store).run(pass).await
        }
        Some(name) => {
            let aws = aws_config::load_from_env().await;
            let cloudformation = aws_sdk_cloudformation::Client::new(&aws);
            let outputs = match inlet::stack::outputs(&cloudformation, name).await {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let get = |key: &str| inlet::stack::output(&outputs, name, key).map(str::to_owned);
            let (queue_url, dlq_url, table) = match (
                get("QueueUrl"),
                get("DeadLetterQueueUrl"),
                get("LedgerTable"),
            ) {
                (Ok(q), Ok(d), Ok(t)) => (q, d, t),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return fail(e),
            };
            if config.meta_page_token.is_none()
                && let Ok(arn) = get("MetaSecretArn")
                && let Err(e) = config.meta_tokens_from_secret(&aws, &arn).await
            {
                return fail(e);
            }
            let graph = match config.graph_client(None) {
                Ok(g) => g,
                Err(e) => return fail(e),
            };
            let queue = inlet::queue::sqs::SqsQueue::new(
                aws_sdk_sqs::Client::new(&aws),
                queue_url,
                dlq_url,
            );
            let ledger = inlet::ledger::dynamodb::DynamoLedger::new(
                aws_sdk_dynamodb::Client::new(&aws),
                table,
                config.ledger_ttl,
            );
            reconciler(&config, &graph, &ledger, &queue).run(pass).await
        }
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serializes")
        );
    } else {
        for line in lines(&report) {
            println!("{line}");
        }
    }
    match report.status {
        "ok" => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

fn reconciler<'a>(
    config: &'a Config,
    graph: &'a inlet::meta_graph::GraphClient,
    ledger: &'a dyn inlet::ledger::Ledger,
    queue: &'a dyn inlet::queue::Queue,
) -> Reconciler<'a> {
    Reconciler {
        graph,
        ledger,
        queue,
        webhooks: &config.webhooks,
        normalize: config.normalize_options(),
        other_channels: config.channels.clone(),
        options: Default::default(),
    }
}

/// The report for a person: each form's figures, each lead added (or that would be).
pub fn lines(report: &PassReport) -> Vec<String> {
    let verb = if report.dry_run { "would add" } else { "added" };
    let mut out = Vec::new();
    if report.status == "busy" {
        out.push(
            "another reconciliation run is in progress (it holds the lease); try again when it ends"
                .into(),
        );
        return out;
    }
    for f in &report.forms {
        let name = f
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        out.push(format!(
            "form {}{name} (page {}): {} listed, {} known, {verb} {}",
            f.form_id,
            f.page_id,
            f.listed,
            f.known,
            f.added.len()
        ));
        for a in &f.added {
            out.push(format!(
                "  + lead {} created {} -> envelope {} (channel {})",
                a.leadgen_id,
                a.created_time.format("%Y-%m-%d %H:%M UTC"),
                a.envelope_id,
                a.channel
            ));
        }
        if let Some(e) = &f.error {
            out.push(format!("  ! {e}"));
        }
    }
    for e in &report.page_errors {
        out.push(format!("! {e}"));
    }
    out.push(format!(
        "{}: {verb} {} lead(s) in {} form(s), {} Graph call(s){}",
        if report.failed() { "failed" } else { "done" },
        report.added(),
        report.forms.len(),
        report.graph_calls,
        if report.waited_ms > 0 {
            format!(
                ", {:.1} s waited for Meta's rate limit",
                report.waited_ms as f64 / 1000.0
            )
        } else {
            String::new()
        }
    ));
    out
}

/// `inlet status`'s Meta lines, and whether reconciliation's alarm is raised (runs failing
/// for an hour): nothing before any run.
pub async fn status(ledger: &dyn inlet::ledger::Ledger) -> (Vec<String>, bool) {
    let now = chrono::Utc::now();
    match inlet::meta_reconcile::figures::read(ledger).await {
        Ok(f) => (
            inlet::meta_reconcile::figures::lines(f.as_ref(), now),
            inlet::meta_reconcile::figures::alarm(f.as_ref(), now),
        ),
        Err(e) => (
            vec![format!(
                "  meta reconcile       unknown: its figures cannot be read ({e})"
            )],
            false,
        ),
    }
}

/// `inlet check`'s line on Meta's pages: where each goes, and whether its token can be read
/// here (an `env:` token's variable set, or a default token).
pub fn check_line(config: &Config) -> Option<String> {
    let reconcile = inlet::meta_reconcile::configured(&config.webhooks)?;
    let pages: Vec<String> = reconcile
        .pages
        .iter()
        .map(|p| {
            let forms = if p.forms.is_empty() {
                "every form".to_owned()
            } else {
                format!("{} form(s)", p.forms.len())
            };
            format!(
                "{} -> {} ({forms})",
                p.id,
                inlet::mask::id(&p.route.channel)
            )
        })
        .collect();
    let tokens = match config.meta_client(None) {
        Ok(_) => "tokens: readable here".to_owned(),
        Err(e) => format!("tokens: {}", e.reason),
    };
    Some(format!(
        "meta reconciliation: every {} min, overlap {} min; pages {}; {tokens}",
        reconcile.every.as_secs() / 60,
        reconcile.overlap.as_secs() / 60,
        pages.join("; ")
    ))
}
