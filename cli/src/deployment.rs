//! The settings a deployment runs with, for the commands that act as it would: releasing a
//! kept item, replaying dead letters, redriving mail. They must apply the deployment's
//! allowlist and mail rules, not whatever this shell's environment says: a release into a
//! channel the deployment refuses, or mail re-read without its `require_dmarc`, would let
//! through what the deployment keeps out.
//!
//! A stack's come from the stack (`Config::load_stack`). `inlet serve` records what it runs
//! with in its data dir when it starts (`record`), and the commands read that back unless
//! given `--config`. With neither, no allowlist is known, and they refuse.

use inlet::config::Config;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where `inlet serve` records the settings it runs with.
pub const RECORD_FILE: &str = "serve-settings.json";

/// What `inlet serve` runs with: its routing file, and what the environment added to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The routing file (`--config`), absolute.
    pub config: Option<PathBuf>,
    /// The lead channels it takes; `None` when it takes any UUID.
    pub channels: Option<Vec<String>>,
    pub default_channel: Option<String>,
}

/// Records, in `data_dir`, the settings `inlet serve` runs with.
pub fn record(data_dir: &Path, config_file: Option<&Path>, config: &Config) -> std::io::Result<()> {
    // The routing file it read: `--config`, else the one `INLET_ROUTING_FILE` named.
    let file = config_file
        .map(Path::to_owned)
        .or_else(|| std::env::var_os("INLET_ROUTING_FILE").map(PathBuf::from));
    let record = Record {
        config: file.map(|f| std::path::absolute(&f).unwrap_or(f)),
        channels: (!config.channels.is_empty()).then(|| config.channels.clone()),
        default_channel: config.default_channel.clone(),
    };
    let json = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?;
    std::fs::write(data_dir.join(RECORD_FILE), json)
}

/// Where a command acts.
pub enum Deployment<'a> {
    Stack(&'a str),
    /// `inlet serve`'s data dir: what it recorded wins over this shell's environment.
    Local {
        data_dir: &'a Path,
        config: Option<&'a Path>,
    },
    /// Queues named by URL, no stack: only what the person gives (`--config`, the
    /// environment) is known, and it must name the allowlist.
    Given {
        config: Option<&'a Path>,
    },
}

/// The settings of the deployment the command acts on.
pub async fn settings(at: Deployment<'_>) -> Result<Config, String> {
    match at {
        Deployment::Stack(name) => {
            let aws = aws_config::load_from_env().await;
            let config = Config::load_stack(&aws, name)
                .await
                .map_err(|e| format!("stack {name}: {e}"))?;
            if config.channels.is_empty() {
                return Err(format!(
                    "stack {name} names no lead channels (its AllowedChannels parameter): no allowlist is known, so nothing is released or replayed into any channel"
                ));
            }
            Ok(config)
        }
        Deployment::Local { data_dir, config } => local(data_dir, config),
        Deployment::Given { config } => {
            let config = Config::load(config).map_err(|e| e.to_string())?;
            if config.channels.is_empty() {
                return Err("no lead channel allowlist is known: queues and buckets named by URL belong to no deployment Inlet knows; give --config with its routing file (its `channels`, or INLET_CHANNELS), or --stack".into());
            }
            Ok(config)
        }
    }
}

fn local(data_dir: &Path, config_file: Option<&Path>) -> Result<Config, String> {
    let recorded: Option<Record> = std::fs::read(data_dir.join(RECORD_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let file = config_file
        .map(Path::to_owned)
        .or_else(|| recorded.as_ref().and_then(|r| r.config.clone()));
    let mut config = Config::load(file.as_deref()).map_err(|e| e.to_string())?;
    match recorded {
        // The deployment's allowlist and default, whatever this shell's environment says.
        Some(record) => {
            config.channels = record.channels.unwrap_or_default();
            config.default_channel = record.default_channel;
        }
        None if config.channels.is_empty() => {
            return Err(format!(
                "no lead channel allowlist is known for {}: start `inlet serve --data-dir {}` once with this version (it records the settings it runs with), or give --config with its routing file (or INLET_CHANNELS)",
                data_dir.display(),
                data_dir.display()
            ));
        }
        None => {}
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &str = "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f";

    #[test]
    fn what_serve_recorded_is_read_back_and_nothing_known_is_refused() {
        let dir = std::env::temp_dir().join(format!("inlet-deployment-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = local(&dir, None).unwrap_err();
        assert!(e.contains("no lead channel allowlist is known"), "{e}");
        let routing = dir.join("routing.toml");
        std::fs::write(&routing, "[email]\nrequire_dmarc = true\n").unwrap();
        let serving = Config {
            channels: vec![ALLOWED.into()],
            ..Config::default()
        };
        record(&dir, Some(&routing), &serving).unwrap();
        let read = local(&dir, None).unwrap();
        assert_eq!(read.channels, vec![ALLOWED.to_owned()]);
        assert!(
            read.intake_settings().email.require_dmarc,
            "its routing file"
        );
        // A deployment that takes any channel says so.
        record(&dir, None, &Config::default()).unwrap();
        assert!(local(&dir, None).unwrap().channels.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
