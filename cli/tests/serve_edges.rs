//! `inlet serve` and `inlet check` at their edges, as a confused user and an attacker meet
//! them: a store that cannot be written, a body over the limit, the demo form beside real
//! channels, a routing file with a typo or missing secrets.

mod common;

use common::{CHANNEL, Serve, data_dir};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn inlet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inlet"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_store_that_cannot_be_written_stops_serve_at_start_and_names_the_path() {
    let dir = data_dir("read-only");
    // A store and a form key made by `inlet serve` itself, then made read-only.
    drop(Serve::start("http://127.0.0.1:9", &dir, "127.0.0.1:0", &[]));
    assert!(dir.join("inlet.db").is_file() && dir.join("form.key").is_file());
    for log in std::fs::read_dir(&dir).unwrap() {
        let path = log.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let chmod = Command::new("chmod")
        .args(["-R", "a-w"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(chmod.success());
    let mut serve = inlet();
    serve
        .args([
            "serve",
            "--dry-run",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Root writes through any mode bits: run as nobody, as a service account would.
    if is_root() {
        serve.uid(65534).gid(65534);
    }
    let mut child = serve.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&dir).status();
    let status = status.expect("inlet serve must not start on a store it cannot write");
    assert!(!status.success());
    let db = dir.join("inlet.db");
    assert!(
        stderr.contains(&db.display().to_string()),
        "the error names the store: {stderr}"
    );
}

/// Sends a request over a plain socket and reads the whole answer.
fn raw(addr: &str, head: &str, body: &[u8]) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_body_over_the_limit_gets_a_413_the_client_can_read() {
    let dir = data_dir("413");
    let serve = Serve::start("http://127.0.0.1:9", &dir, "127.0.0.1:0", &[]);
    let addr = serve.url.trim_start_matches("http://").to_owned();
    let path = format!("/leads/channels/{CHANNEL}/webhook");
    // A 5 MB post sent whole, as most clients send it: read, thrown away, answered.
    let big = vec![b'a'; 5 * 1024 * 1024];
    let r = reqwest::Client::new()
        .post(format!("{}{path}", serve.url))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("an answer, not a reset connection");
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");
    // The same without a Content-Length (chunked).
    let mut chunked = Vec::new();
    for chunk in big.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /webhooks/{CHANNEL} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let answer = raw(&addr, &head, &chunked).expect("an answer to a chunked body too");
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // A client that waits for `100 Continue` (curl does past 1 MB) is answered at once.
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        big.len()
    );
    let answer = raw(&addr, &head, b"").unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
    // The server is still there.
    let r = reqwest::get(format!("{}/health", serve.url)).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_demo_form_is_served_only_without_real_channels_or_when_asked() {
    let other = "00000000-0000-4000-8000-0000000000aa";
    let cases = [
        (vec![], vec![], 200u16),
        (vec![("INLET_CHANNELS", CHANNEL)], vec![], 404),
        (vec![("INLET_CHANNELS", CHANNEL)], vec!["--demo-form"], 200),
    ];
    for (env, flags, expected) in cases {
        let dir = data_dir("demo");
        let log = dir.join("serve.log");
        let mut cmd = inlet();
        cmd.args([
            "serve",
            "--dry-run",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .args(&flags)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut url = None;
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 {
            if let Some(rest) = line.trim().strip_prefix("listening on") {
                url = Some(rest.trim().to_owned());
                break;
            }
            line.clear();
        }
        let url = url.expect("serve printed where it listens");
        let r = reqwest::get(format!("{url}/forms/demo")).await.unwrap();
        assert_eq!(r.status(), expected, "{env:?} {flags:?}");
        // A form posted to a channel outside the allowlist is refused like on the other routes.
        if !env.is_empty() {
            let r = reqwest::Client::new()
                .post(format!("{url}/forms/{other}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("email=ana%40example.com")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn check(routing: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = data_dir("check");
    let file = dir.join("inlet.toml");
    std::fs::write(&file, routing).unwrap();
    let mut cmd = inlet();
    cmd.args(["check", "--config"]).arg(&file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn inlet_check_is_strict_names_every_missing_secret_and_says_what_it_loaded() {
    let form = format!(
        "[forms.contact]\nchannel = \"{CHANNEL}\"\nallowd_origins = [\"https://www.example.com\"]\n"
    );
    let (ok, _, err) = check(&form, &[]);
    assert!(!ok);
    assert!(
        err.contains("forms.contact.allowd_origins is not a known setting"),
        "{err}"
    );

    let secrets = "[senders.zapier]\nsecret = \"env:INLET_TEST_UNSET_ZAPIER\"\n[senders.meta]\nsecret = \"env:INLET_TEST_UNSET_META\"\nverify_token = \"env:INLET_TEST_UNSET_VERIFY\"\n";
    let (ok, _, err) = check(secrets, &[]);
    assert!(!ok);
    for var in [
        "INLET_TEST_UNSET_ZAPIER",
        "INLET_TEST_UNSET_META",
        "INLET_TEST_UNSET_VERIFY",
    ] {
        assert!(err.contains(var), "{var} is named: {err}");
    }

    let typo_table = "[sender.zapier]\nsecret = \"s\"\n";
    let (ok, _, err) = check(typo_table, &[]);
    assert!(!ok);
    assert!(err.contains("sender"), "{err}");

    let good = format!(
        "channels = [\"{CHANNEL}\"]\nrequire_sender_auth = true\n[senders.zapier]\nsecret = \"env:INLET_TEST_ZAPIER\"\n[forms.contact]\nchannel = \"{CHANNEL}\"\nallowed_origins = [\"https://www.example.com\"]\n"
    );
    let (ok, out, err) = check(&good, &[("INLET_TEST_ZAPIER", "z")]);
    assert!(ok, "{err}");
    assert!(out.contains("senders: zapier -> generic (secret)"), "{out}");
    assert!(out.contains("required on every /webhooks request"), "{out}");
    assert!(out.contains("forms: contact -> 55f5…745f"), "{out}");
    assert!(!out.contains(CHANNEL), "channels are masked: {out}");

    let outside = format!(
        "channels = [\"{CHANNEL}\"]\n[forms.contact]\nchannel = \"00000000-0000-4000-8000-0000000000aa\"\n"
    );
    let (ok, _, err) = check(&outside, &[]);
    assert!(!ok);
    assert!(err.contains("not among the lead channels"), "{err}");
    let (ok, _, err) = check(
        &format!("channels = [\"{CHANNEL}\"]\n"),
        &[(
            "INLET_DEFAULT_CHANNEL",
            "00000000-0000-4000-8000-0000000000aa",
        )],
    );
    assert!(!ok);
    assert!(err.contains("INLET_DEFAULT_CHANNEL"), "{err}");

    // The mail settings: what is in force, the token never printed, a short one refused.
    let mail = "[email]\nhttp_token = \"env:INLET_TEST_MAIL_TOKEN\"\nagents = [\"brokerage.example\", \"ana@gmail.com\"]\nrequire_dmarc = true\n[email.verdicts_from]\nraw = \"mx.brokerage.example\"\n";
    let token = "a-mail-token-of-enough-length";
    let (ok, out, err) = check(mail, &[("INLET_TEST_MAIL_TOKEN", token)]);
    assert!(ok, "{err}");
    assert!(out.contains("needs the mail token (set)"), "{out}");
    assert!(
        out.contains("email verdicts on raw: the Authentication-Results of mx.brokerage.example"),
        "{out}"
    );
    assert!(
        out.contains("email verdicts on postmark: no header (any could be the sender's)"),
        "{out}"
    );
    assert!(
        out.contains(
            "email verdicts on ses: SES's receipt and the Authentication-Results of amazonses.com"
        ),
        "{out}"
    );
    // The old single server for every route is refused, saying what to write instead.
    let (ok, _, err) = check("[email]\nauthserv_id = \"mx.brokerage.example\"\n", &[]);
    assert!(!ok);
    assert!(err.contains("[email.verdicts_from] raw"), "{err}");
    assert!(
        out.contains("2 trusted agent(s); must pass: DMARC"),
        "{out}"
    );
    assert!(!out.contains(token) && !err.contains(token), "{out}{err}");
    let (ok, _, err) = check(mail, &[("INLET_TEST_MAIL_TOKEN", "short")]);
    assert!(!ok);
    assert!(err.contains("at least 16 characters"), "{err}");
    let (ok, _, err) = check("[email]\nagents = [\"nodot\"]\n", &[]);
    assert!(!ok);
    assert!(err.contains("neither an address nor a domain"), "{err}");
    let (ok, _, err) = check("", &[("INLET_EMAIL_HTTP_TOKEN", "short")]);
    assert!(!ok);
    assert!(err.contains("INLET_EMAIL_HTTP_TOKEN"), "{err}");
}

/// `inlet email route-token` prints the token a provider or a named receiving server posts
/// with (the one its verdicts count with), derived from the mail token in force; a route
/// that takes no token is refused.
#[test]
fn route_tokens_are_printed_from_the_mail_token_in_force() {
    let token = "a-mail-token-of-twenty-chars";
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["email", "route-token", "--route", "sendgrid", "--data-dir"])
        .arg(data_dir("route-token"))
        .env("INLET_EMAIL_HTTP_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        inlet::email::route::route_token(token, "sendgrid")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["email", "route-token", "--route", "mailgun"])
        .env("INLET_EMAIL_HTTP_TOKEN", token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no route that takes the mail token"));
}
