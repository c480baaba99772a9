//! The `inlet` command. Wiring only: every decision is in the `inlet` library.

use clap::{Parser, Subcommand};
use inlet::config::{Config, VARIABLES};
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
    Check,
}

fn main() -> ExitCode {
    inlet::telemetry::init();
    let cli = Cli::parse();
    match cli.command {
        Command::Check => check(),
    }
}

fn check() -> ExitCode {
    let config = match Config::from_env() {
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
    ExitCode::SUCCESS
}
