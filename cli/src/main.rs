//! The `inlet` command. Wiring only: every decision is in the `inlet` library.

mod deployment;
mod kept;
mod mail;
mod meta;
mod ops;
mod parse;
mod serve;
mod status;

use clap::{Parser, Subcommand};

// `inlet serve` allocates and frees request bodies, envelopes and ledger documents across
// threads at thousands a second; glibc's allocator spent a tenth of the server's time in
// malloc and its consolidation under the 1,000-connection load (serve_load bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "inlet", version, about = "Lead connector for Rechat")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the configuration and print it, secrets masked.
    Check {
        /// A TOML configuration file (environment variables take precedence).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run intake and delivery in one process, on an embedded queue.
    Serve(serve::ServeArgs),
    /// Post a test lead to a running Inlet.
    Send(ops::SendArgs),
    /// The dead-letter queue: the embedded store's, or a deployed stack's SQS queues.
    Dlq {
        #[command(subcommand)]
        action: ops::DlqAction,
        #[arg(
            long,
            env = "INLET_DATA_DIR",
            default_value = "inlet-data",
            global = true
        )]
        data_dir: PathBuf,
        /// The deployed stack's queues (outputs QueueUrl and DeadLetterQueueUrl), reached
        /// with the standard AWS credential chain, instead of --data-dir.
        #[arg(long, global = true, requires = "dlq_url", conflicts_with = "stack")]
        queue_url: Option<String>,
        #[arg(long, global = true, requires = "queue_url")]
        dlq_url: Option<String>,
        /// A deployed stack's name: its QueueUrl and DeadLetterQueueUrl outputs.
        #[arg(long, global = true)]
        stack: Option<String>,
    },
    /// What the ledger knows: recent envelopes, or one lead's.
    Leads(ops::LeadsArgs),
    /// What waits and what needs a person: leads waiting, dead letters by why, forwarding
    /// confirmations with their code and link.
    Status {
        #[arg(long, env = "INLET_DATA_DIR", default_value = "inlet-data")]
        data_dir: PathBuf,
        /// A deployed stack's queues (its QueueUrl and DeadLetterQueueUrl outputs).
        #[arg(long)]
        stack: Option<String>,
    },
    /// Spam kept for review (forms' spam checks, mail the receiving service called spam):
    /// list it, release one as a lead, or delete it.
    Spam(kept::KeptArgs),
    /// Mail read as no lead, and leads whose reading is unsure, kept for review: list them,
    /// release one as a lead into a channel, or delete it.
    Review(kept::KeptArgs),
    /// Stored inbound mail: redrive what the email function failed on.
    Email {
        #[command(subcommand)]
        action: mail::EmailAction,
    },
    /// Meta Lead Ads: reconcile the configured forms with the Graph API by hand.
    Meta {
        #[command(subcommand)]
        action: meta::MetaAction,
    },
    /// Show what a body would become, without queueing it.
    Parse {
        #[command(subcommand)]
        what: parse::ParseWhat,
    },
}

fn main() -> ExitCode {
    inlet::telemetry::init();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // A command whose output is piped into `head` ends quietly when the pipe closes,
        // as Unix tools do, instead of panicking on the next println. Not `serve`: it
        // writes to sockets, and a peer that went away must not end it.
        // SAFETY: set once, before any thread starts; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match cli.command {
        Command::Check { config } => ops::check(config.as_deref()),
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Send(args) => runtime.block_on(ops::send(args)),
        Command::Dlq {
            action,
            data_dir,
            queue_url,
            dlq_url,
            stack,
        } => runtime.block_on(match (queue_url, dlq_url, stack) {
            (Some(q), Some(d), _) => ops::dlq_sqs(action, ops::QueuesAt::Urls(q, d)),
            (_, _, Some(stack)) => ops::dlq_sqs(action, ops::QueuesAt::Stack(stack)),
            _ => Box::pin(ops::dlq(action, &data_dir)),
        }),
        Command::Leads(args) => runtime.block_on(ops::leads(args)),
        Command::Spam(args) => runtime.block_on(kept::run(kept::Which::Spam, args)),
        Command::Review(args) => runtime.block_on(kept::run(kept::Which::Review, args)),
        Command::Email { action } => runtime.block_on(mail::run(action)),
        Command::Meta { action } => runtime.block_on(meta::run(action)),
        Command::Status { data_dir, stack } => runtime.block_on(ops::status(&data_dir, stack)),
        Command::Parse { what } => runtime.block_on(parse::run(what)),
    }
}
