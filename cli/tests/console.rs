//! The console at `/console` on `inlet serve`, as an operator, an attacker and a browser meet
//! it: the token (Bearer or the login form's cookie), the rate limit on wrong tokens, the
//! headers that keep its personal data to the page, release of a dead letter back into
//! delivery, and release of mail held for review into a chosen channel. The browser half
//! runs Debian's chromium through playwright-core (`tests/browser/console.mjs`).

mod common;

use common::{CHANNEL, Serve, data_dir, wait_for};
use inlet_testkit::{Fault, RechatDouble};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "console-token-for-the-tests-0001";

/// A console call with the Bearer token, its JSON answer.
async fn api_json(serve: &Serve, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", serve.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A lead Rechat refuses with a 400, dead-lettered, and Rechat then fixed.
async fn one_dead_letter(double: &RechatDouble, serve: &Serve, email: &str) {
    double.fail_bodies_containing(email, Fault::Status(400));
    let r = reqwest::Client::new()
        .post(format!("{}/leads/channels/{CHANNEL}/webhook", serve.url))
        .json(&json!({"first_name": "Dana", "last_name": "Reyes", "email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let dead = || async {
        let v = api_json(serve, "/console/api/dead-letters").await;
        v["dead_letters"].as_array().map_or(0, Vec::len)
    };
    for _ in 0..100 {
        if dead().await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(dead().await, 1, "the lead is dead-lettered");
    double.clear_faults();
}

#[tokio::test]
async fn the_console_is_behind_its_token_and_releases_a_dead_letter() {
    let double = RechatDouble::start().await;
    let data = data_dir("console-api");
    let serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_CONSOLE_TOKEN", TOKEN)],
    );
    one_dead_letter(&double, &serve, "dana.reyes@example.com").await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", serve.url);

    // No token: the login page, no data; the API says 401 with the scheme.
    let r = http.get(url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Console token") && !page.contains("dana"),
        "{page}"
    );
    for path in [
        "/console/api/status",
        "/console/api/dead-letters",
        "/console/api/leads?q=dana",
        "/console/api/../api/status",
    ] {
        let r = http.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert!(!r.text().await.unwrap().contains("dana"), "{path}");
    }
    // A forged or expired session cookie, a token in the wrong scheme, a query string
    // token: none opens it.
    for (name, value) in [
        ("cookie", "inlet_console=99999999999.00"),
        (
            "cookie",
            "inlet_console=1.0000000000000000000000000000000000000000000000000000000000000000",
        ),
        ("authorization", &format!("Basic {TOKEN}")),
    ] {
        let r = http
            .get(url("/console/api/status"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{name}: {value}");
    }
    let r = http
        .get(url(&format!("/console/api/status?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The script and stylesheet need no token and hold no data.
    let r = http.get(url("/console/console.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // The Bearer token opens the API.
    let status: Value = api_json(&serve, "/console/api/status").await;
    assert_eq!(status["dead_letters"]["failed"], 1, "{status}");
    assert!(status["delivery"]["status"].is_string(), "{status}");
    let dead: Value = api_json(&serve, "/console/api/dead-letters").await;
    let letter = &dead["dead_letters"][0];
    assert_eq!(letter["email"], "dana.reyes@example.com", "{dead}");
    assert_eq!(letter["releasable"], true);
    let id = letter["message_id"].as_str().unwrap().to_owned();
    let leads: Value = api_json(&serve, "/console/api/leads?q=dead_lettered").await;
    assert_eq!(leads["leads"].as_array().unwrap().len(), 1, "{leads}");

    // Changes need the console's header (a cross-site form cannot send it), and a known id.
    let release = format!("/console/api/dead-letters/{id}/release");
    let r = http
        .post(url(&release))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(url("/console/api/dead-letters/nope/release"))
        .bearer_auth(TOKEN)
        .header("x-inlet-console", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(url("/console/api/status"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = http
        .post(url(&release))
        .bearer_auth(TOKEN)
        .header("x-inlet-console", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        wait_for(Duration::from_secs(20), || double.leads().len() == 1).await,
        "released and delivered"
    );
    assert_eq!(double.leads()[0].payload["email"], "dana.reyes@example.com");
    let dead: Value = api_json(&serve, "/console/api/dead-letters").await;
    assert_eq!(dead["dead_letters"].as_array().unwrap().len(), 0);

    // The login form: a wrong token is refused; the right one answers the console with a
    // session cookie that is HttpOnly, Secure and SameSite=Strict, and opens the API.
    let r = http
        .post(url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let r = http
        .post(url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let r = http
        .get(url("/console/api/status"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(url("/console"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Dead letters"));

    // /metrics: Prometheus text behind the same token; the delivery above is counted.
    let r = http.get(url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(url("/metrics"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a scrape takes the Bearer token, not the page's cookie"
    );
    let r = http
        .get(url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    for want in [
        "inlet_leads_total{outcome=\"delivered\",source=\"rechat-api\"} 1",
        "inlet_leads_total{outcome=\"dead_lettered\",source=\"rechat-api\"} 1",
        "inlet_rechat_request_duration_seconds_count 2",
        "inlet_queue_waiting ",
        "inlet_dead_letters ",
        "inlet_delivery_status{status=\"ok\"} ",
        "inlet_kept_items{kind=\"not_a_lead\"} 0",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    assert!(!text.contains("example.com"), "{text}");

    // A scraper's own token opens /metrics and nothing else.
    let metrics_token = std::fs::read_to_string(data.join("metrics.token")).unwrap();
    let r = http
        .get(url("/metrics"))
        .bearer_auth(metrics_token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(url("/console/api/status"))
        .bearer_auth(metrics_token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the scraper's token opens no console");

    // Two logins are two sessions; logging out ends that one, even for a copy of the cookie.
    let login = || async {
        let r = http
            .post(url("/console/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={TOKEN}"))
            .send()
            .await
            .unwrap();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        cookie.split(';').next().unwrap().to_owned()
    };
    let (first, second) = (login().await, login().await);
    assert_ne!(
        first, second,
        "each login its own cookie, even in the same second"
    );
    let status_with = async |cookie: &str| {
        http.get(url("/console/api/status"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status_with(&first).await, 200);
    let r = http
        .post(url("/console/logout"))
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        status_with(&first).await,
        401,
        "the logged-out session is over"
    );
    assert_eq!(status_with(&second).await, 200, "the other one is not");

    // Ten wrong tokens a minute from one address: that address waits, the right token
    // still opens, and another address is not held.
    for _ in 0..10 {
        let r = http
            .get(url("/console/api/status"))
            .bearer_auth("guess-guess-guess-guess-guess")
            .send()
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 401 | 429));
    }
    for (what, path) in [
        ("the console", "/console/api/status"),
        ("metrics", "/metrics"),
    ] {
        let r = http
            .get(url(path))
            .bearer_auth("guess-guess-guess-guess-guess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{what}");
        assert!(r.headers().contains_key("retry-after"));
    }
    let r = http
        .post(url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=still-guessing")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the login form counts too");
    let r = http
        .get(url("/console/api/status"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the right token is checked first");
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = elsewhere
        .get(url("/console/api/status"))
        .bearer_auth("a-wrong-token-from-another-address")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "another address is not held by the guesser"
    );
    let r = elsewhere
        .get(url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn without_a_token_configured_serve_makes_one_and_says_where() {
    let data = data_dir("console-token-file");
    let serve = Serve::start("http://127.0.0.1:9", &data, "127.0.0.1:0", &[]);
    let token = std::fs::read_to_string(data.join("console.token")).unwrap();
    assert!(token.trim().len() >= 32);
    let r = reqwest::Client::new()
        .get(format!("{}/console/api/status", serve.url))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A token too short to be safe stops serve at start with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["check"])
        .env("INLET_CONSOLE_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 24 characters"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_rows_render_and_release_moves_a_dead_letter_back() {
    let double = RechatDouble::start().await;
    let data = data_dir("console-browser");
    let serve = Serve::start(
        double.url(),
        &data,
        "127.0.0.1:0",
        &[("INLET_CONSOLE_TOKEN", TOKEN)],
    );
    one_dead_letter(&double, &serve, "browser.dead@example.com").await;
    // A lead delivered, found by the id its capture was answered.
    let r = reqwest::Client::new()
        .post(format!("{}/leads/channels/{CHANNEL}/webhook", serve.url))
        .json(&json!({"first_name": "Ines", "last_name": "Moreau", "email": "ines.moreau@example.com"}))
        .send()
        .await
        .unwrap();
    let answered = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(wait_for(Duration::from_secs(20), || double.leads().len() == 1).await);
    // Mail read as no lead (an auto-reply from a buyer), to an address no rule places.
    let r = reqwest::Client::new()
        .post(format!("{}/email/raw", serve.url))
        .basic_auth("inlet", Some(serve.mail_token()))
        .header("content-type", "message/rfc822")
        .body("From: Lena Park <lena.park@example.com>\r\nTo: leads@in.example.com\r\nSubject: Automatic reply: 8 Cedar Ln\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <browser-ooo@fixtures.example>\r\n\r\nTraveling; please call me about 8 Cedar Ln.\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let artifacts = format!("{root}/target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let output = Command::new("node")
        .arg(format!("{root}/tests/browser/console.mjs"))
        .args([
            serve.url.as_str(),
            TOKEN,
            &artifacts,
            CHANNEL,
            "browser.dead@example.com",
            "run",
            &answered,
        ])
        .output()
        .expect("node runs (make test installs playwright-core and chromium)");
    assert!(
        output.status.success(),
        "the browser script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();
    assert_eq!(seen["deadRowsBefore"], 1, "{seen}");
    assert!(
        seen["deadRowText"]
            .as_str()
            .unwrap()
            .contains("browser.dead@example.com"),
        "{seen}"
    );
    assert!(
        seen["loginError"]
            .as_str()
            .unwrap()
            .contains("not the console's token"),
        "{seen}"
    );
    assert_eq!(seen["stateBefore"], "needs_attention", "{seen}");
    assert!(
        seen["headerBefore"]
            .as_str()
            .unwrap()
            .contains("needs attention"),
        "{seen}"
    );
    assert_eq!(seen["deadReleaseLabel"], "Send as it is", "{seen}");
    assert_eq!(seen["deadRowsAfter"], 0, "{seen}");
    assert!(
        seen["headerAfter"].as_str().unwrap().starts_with("ok"),
        "{seen}"
    );
    let id_row = seen["idRowText"].as_str().unwrap();
    assert!(
        id_row.contains(&answered) && id_row.contains("Ines M. · i…@example.com"),
        "{seen}"
    );
    assert!(
        seen["notFoundText"]
            .as_str()
            .unwrap()
            .starts_with("Nothing found for nobody.at.all@example.com"),
        "{seen}"
    );
    assert!(
        seen["phoneScrollWidth"].as_u64().unwrap() <= 390,
        "the console fits a phone: {seen}"
    );
    assert!(seen["leadRows"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(seen["keptRowsBefore"], 1, "{seen}");
    let kept_row = seen["keptRowText"].as_str().unwrap();
    for want in [
        "not a lead",
        "lena.park@example.com",
        "Automatic reply: 8 Cedar Ln",
    ] {
        assert!(kept_row.contains(want), "{want:?} in {seen}");
    }
    assert!(
        seen["releaseWithoutChannel"]
            .as_str()
            .unwrap()
            .contains("name the lead channel"),
        "{seen}"
    );
    assert_eq!(seen["keptRowsAfter"], 0, "{seen}");
    assert_eq!(seen["error"], "", "{seen}");
    assert_eq!(seen["foundRows"], 1, "{seen}");
    assert_eq!(seen["notFoundRows"], 0, "{seen}");
    assert_eq!(seen["cspViolations"], 0, "{seen}");
    assert_eq!(
        seen["cookieVisibleToScript"], false,
        "the session cookie is HttpOnly"
    );
    assert!(
        wait_for(Duration::from_secs(20), || double.leads().len() == 3).await,
        "the corrected dead letter and the released mail reach Rechat"
    );
    assert!(
        double
            .leads()
            .iter()
            .any(|l| l.payload["email"] == "fixed.browser.dead@example.com"),
        "the corrected lead reached Rechat"
    );
    // The console in its three states, for the eye (the artifacts dir, or
    // INLET_SCREENS_DIR): ok now; a lead refused again, needs attention; Rechat refusing
    // every lead, failing.
    let screens = std::env::var("INLET_SCREENS_DIR").unwrap_or(artifacts.clone());
    std::fs::create_dir_all(&screens).unwrap();
    let shot = |name: &str| {
        let out = Command::new("node")
            .arg(format!("{root}/tests/browser/console.mjs"))
            .args([serve.url.as_str(), TOKEN, &screens, "-", "-", "shot", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        seen["state"].as_str().unwrap_or_default().to_owned()
    };
    assert!(shot("console-ok").starts_with("ok"));
    one_dead_letter(&double, &serve, "refused.again@example.com").await;
    tokio::time::sleep(Duration::from_secs(6)).await; // past the reading's reuse
    assert!(shot("console-needs-attention").starts_with("needs attention"));
    double.go_down(Fault::Status(401));
    for n in 0..3 {
        reqwest::Client::new()
            .post(format!("{}/leads/channels/{CHANNEL}/webhook", serve.url))
            .json(&json!({"first_name": "Ana", "email": format!("ana{n}.down@example.com")}))
            .send()
            .await
            .unwrap();
    }
    let failing = || async { api_json(&serve, "/console/api/status").await["state"] == "failing" };
    for _ in 0..100 {
        if failing().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(shot("console-failing").starts_with("failing"));
    let released = double
        .leads()
        .into_iter()
        .find(|l| l.payload["email"] == "lena.park@example.com")
        .expect("the kept mail reached Rechat as a lead");
    assert_eq!(released.channel, CHANNEL);
}
