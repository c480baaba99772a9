//! The example form in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/form.mjs`), against `inlet serve` and the Rechat double. `make test`
//! installs chromium and playwright-core first.

mod common;

use common::{Serve, data_dir, wait_for};
use inlet_testkit::RechatDouble;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// A page on another origin that posts to Inlet with `fetch` and says what happened.
async fn other_origin_site() -> String {
    use http_body_util::Full;
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let page = r#"<!doctype html><html><body><script>
      const q = new URLSearchParams(location.search);
      fetch(q.get("inlet") + "/forms/55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ email: q.get("email"), name: "Cross Origin" })
      }).then(r => { document.body.dataset.result = "allowed " + r.status; })
        .catch(e => { document.body.dataset.result = "blocked"; });
    </script></body></html>"#;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "text/html")
                            .body(Full::new(bytes::Bytes::from_static(page.as_bytes())))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_form_works_with_and_without_javascript_and_bots_reach_no_one() {
    let started = Instant::now();
    let double = RechatDouble::start().await;
    let data = data_dir("browser");
    let mut serve = Serve::start(double.url(), &data, "127.0.0.1:0", &[]);
    let other = other_origin_site().await;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let artifacts = format!("{root}/target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let run = std::process::id().to_string();
    let output = Command::new("node")
        .arg(format!("{root}/tests/browser/form.mjs"))
        .args([&serve.url, &other, &artifacts, &run])
        .output()
        .expect("node runs (make test installs playwright-core and chromium)");
    assert!(
        output.status.success(),
        "the browser script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();
    assert!(
        seen["js"]["thankYou"]
            .as_str()
            .unwrap()
            .contains("Thank you"),
        "{seen}"
    );
    assert!(
        seen["nojs"]["thankYou"]
            .as_str()
            .unwrap()
            .contains("Thank you"),
        "{seen}"
    );
    assert!(
        seen["nojs"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/forms/demo"),
        "the plain post landed on the thank-you page"
    );
    assert!(
        seen["honeypot"]["thankYou"]
            .as_str()
            .unwrap()
            .contains("Thank you")
    );
    assert_eq!(
        seen["crossOrigin"], "blocked",
        "the browser refused the cross-origin post"
    );

    let email = |who: &str| format!("{who}-{run}@example.com");
    let lead_of = |who: &str| {
        double
            .leads()
            .into_iter()
            .find(|l| l.payload["email"] == email(who).as_str())
    };
    assert!(
        wait_for(Duration::from_secs(30), || lead_of("js").is_some()
            && lead_of("nojs").is_some())
        .await,
        "both leads reached Rechat"
    );
    let js = lead_of("js").unwrap();
    assert!(
        js.payload["referer_url"]
            .as_str()
            .unwrap()
            .contains("/forms/demo?utm_source=browser")
    );
    let tags: Vec<&str> = js.payload["tag"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tags.contains(&"utm_source:browser") && tags.contains(&"utm_campaign:js"),
        "{tags:?}"
    );
    assert_eq!(js.payload["listing"]["mls_number"], "MLS-1001");
    let nojs = lead_of("nojs").unwrap();
    assert!(
        nojs.payload["referer_url"]
            .as_str()
            .unwrap()
            .contains("utm_source=nojs"),
        "from the Referer header"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(lead_of("honeypot").is_none(), "the bot reached no one");
    assert!(lead_of("crossorigin").is_none());
    serve.stop();
    assert!(std::path::Path::new(&format!("{artifacts}/thank-you-js.png")).exists());
    println!(
        "browser test wall time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
