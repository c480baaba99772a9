//! The AWS SDK configuration the Lambda functions start with.
//!
//! Lambda hands a function its execution role's credentials and its region in the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`), and aws-config's default chain would find them there first. Building that
//! chain still builds every later source before it is asked anything: profile files, and a
//! web-identity provider with its own STS client, whose HTTP client parses the TLS roots a
//! second time. That was about a third of a function's cold start (`lambda_init` bench), so
//! when the environment holds the credentials only the environment is used; anywhere else
//! (a profile on a workstation, a container role) the full chain still runs.
//!
//! The service clients share one HTTPS client, checked once. Left to itself, each service
//! client makes its own HTTPS client, and checks it by building a TLS connector (parsing
//! every root certificate) that it drops; its first request then builds another. A function
//! with two service clients parsed the roots twice in init and twice more in its first
//! invocation; now once in each.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};

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
/// environment, such as the tests against moto).
pub async fn lambda_config() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(ValidatedOnce::new(https_client())));
    match source(|name| std::env::var(name).ok()) {
        Source::Environment { region } => {
            loader
                .region(Region::new(region))
                .credentials_provider(
                    aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                )
                .load()
                .await
        }
        Source::DefaultChain => loader.load().await,
    }
}

/// The HTTPS client the SDK makes for each service client when given none, made the same
/// way (aws-smithy-runtime's `default_https_client` for the latest behavior version: rustls
/// with aws-lc, timeouts and sleep from each request's settings, a proxy from the
/// environment), once.
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// An HTTP client whose start-up check runs for the first service client only.
///
/// The check builds a TLS connector so that the root certificates are read in Lambda's init
/// phase (at full CPU) rather than in the first invocation; what it reads stays cached for
/// the process and the connector is dropped, so checking again for the next service client
/// only parses every root again. Connectors for requests are the inner client's, unchanged.
#[derive(Debug)]
pub struct ValidatedOnce {
    inner: SharedHttpClient,
    checked: std::sync::OnceLock<()>,
}

impl ValidatedOnce {
    pub fn new(inner: SharedHttpClient) -> Self {
        ValidatedOnce {
            inner,
            checked: std::sync::OnceLock::new(),
        }
    }
}

impl HttpClient for ValidatedOnce {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        if self.checked.get().is_none() {
            // A failed check is not remembered: the next client checks again, and fails so.
            self.inner
                .validate_base_client_config(runtime_components, cfg)?;
            let _ = self.checked.set(());
        }
        Ok(())
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
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
        let config = lambda_config().await;
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
        assert!(
            config.http_client().is_some(),
            "one HTTPS client for every service"
        );
    }

    /// An HTTP client that counts its start-up checks and is never asked for a connector.
    #[derive(Debug)]
    struct CountingChecks(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl HttpClient for CountingChecks {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            unreachable!("no request is made")
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    /// Start-up checks of the HTTP client when two service clients are made from one
    /// configuration.
    async fn checks_for_two_clients(once: bool) -> usize {
        let checks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counting = SharedHttpClient::new(CountingChecks(checks.clone()));
        let client = if once {
            SharedHttpClient::new(ValidatedOnce::new(counting))
        } else {
            counting
        };
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::for_tests())
            .http_client(client)
            .load()
            .await;
        let _queue = aws_sdk_sqs::Client::new(&config);
        let _ledger = aws_sdk_dynamodb::Client::new(&config);
        checks.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn the_http_client_is_checked_once_not_once_per_service_client() {
        assert_eq!(
            checks_for_two_clients(false).await,
            2,
            "the SDK checks per client"
        );
        assert_eq!(checks_for_two_clients(true).await, 1);
    }
}
