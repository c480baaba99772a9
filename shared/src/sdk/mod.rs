//! The AWS SDK configuration the Lambda functions start with.
//!
//! Lambda hands a function its execution role's credentials and its region in the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`), and aws-config's default chain would find them there first. Building that
//! chain still builds every later source before it is asked anything: profile files, and a
//! web-identity provider with its own STS client. That was about a third of a function's
//! cold start (`lambda_init` bench, with the SDK's default HTTPS client then), so
//! when the environment holds the credentials only the environment is used; anywhere else
//! (a profile on a workstation, a container role) the full chain still runs.
//!
//! Either way the functions talk to AWS through [`https::LambdaHttpsClient`], with the TLS
//! configuration of `crate::tls` (roots compiled in, not decoded from the system's bundle at
//! every cold start).

pub mod https;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};

/// Where the SDK's region and credentials come from.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// The process environment, as on Lambda: the region named here.
    Environment { region: String },
    /// aws-config's default provider chains.
    DefaultChain,
}

/// Decides the source from the environment (`var` looks a variable up; empty counts as
/// unset, as aws-config treats it).
pub fn source(var: impl Fn(&str) -> Option<String>) -> Source {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match (
        set("AWS_REGION"),
        set("AWS_ACCESS_KEY_ID"),
        set("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(region), Some(_), Some(_)) => Source::Environment { region },
        _ => Source::DefaultChain,
    }
}

/// The SDK configuration for a Lambda function (or anything run with credentials in its
/// environment, such as the tests against moto), speaking TLS as `tls` says.
pub async fn lambda_config(tls: std::sync::Arc<rustls::ClientConfig>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https::LambdaHttpsClient::new(tls));
    match source(|name| std::env::var(name).ok()) {
        Source::Environment { region } => {
            loader
                .region(Region::new(region))
                .credentials_provider(
                    aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                )
                // Lambda has no profile files, but every setting (retries, timeouts, endpoint
                // URLs) still looks for them (~60 µs of a cold start): an empty one in
                // memory answers instead. Environment variables still apply.
                .profile_files(
                    EnvConfigFiles::builder()
                        .with_contents(EnvConfigFileKind::Config, "")
                        .build(),
                )
                .load()
                .await
        }
        Source::DefaultChain => loader.load().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn lambda_environment_is_used_alone() {
        let lambda = vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        assert_eq!(
            source(lambda),
            Source::Environment {
                region: "eu-west-1".into()
            }
        );
    }

    #[test]
    fn anything_short_of_region_and_keys_takes_the_default_chain() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let mut pairs = vec![
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ];
            pairs.retain(|(k, _)| *k != missing);
            assert_eq!(source(vars(&pairs)), Source::DefaultChain, "{missing}");
            let blank: Vec<_> = pairs.iter().copied().chain([(missing, " ")]).collect();
            assert_eq!(
                source(vars(&blank)),
                Source::DefaultChain,
                "{missing} blank"
            );
        }
    }

    /// The configuration a function gets carries the environment's region and credentials,
    /// session token included (checked through the SDK itself, in a child process so the
    /// variables set here touch no other test).
    #[tokio::test]
    async fn lambda_config_answers_with_the_environment() {
        if std::env::var_os("INLET_SDK_CHILD").is_none() {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "sdk::tests::lambda_config_answers_with_the_environment",
                    "--exact",
                    "--nocapture",
                ])
                .env("INLET_SDK_CHILD", "1")
                .env("AWS_REGION", "eu-west-1")
                .env("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
                .env("AWS_SECRET_ACCESS_KEY", "secret")
                .env("AWS_SESSION_TOKEN", "token")
                // A profile that says otherwise must not be read.
                .env("AWS_CONFIG_FILE", "/nonexistent/inlet/config")
                .status()
                .unwrap();
            assert!(status.success());
            return;
        }
        let config = lambda_config(crate::tls::lambda_client_config().unwrap()).await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let credentials = config
            .credentials_provider()
            .expect("a credentials provider")
            .provide_credentials()
            .await
            .expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
    }
}
