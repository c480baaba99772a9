//! Email parsing throughput: Inlet's whole path (MIME, forwards, not-a-lead, portal
//! modules, generic reader, normalization, routing, envelope) against mailparse's MIME parse
//! alone (the floor) on the same messages, in the same run; then a 25 MB message with
//! attachments (time and peak memory); then Node.js mailparser's `simpleParser` on the same
//! files (the parser a Node team would use, MIME only). Messages: the real samples in
//! `../shared/corpus/emails` when present, and the project's own fixtures.
//!
//! `cargo bench -p inlet-shared --bench email`

use inlet::email::{EmailContext, EmailSettings, ingress, process};
use inlet::web::ChannelPolicy;
use std::path::Path;
use std::time::{Duration, Instant};

fn messages() -> (Vec<std::path::PathBuf>, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut corpus = 0;
    for (dir, is_corpus) in [
        (root.join("../../shared/corpus/emails"), true),
        (root.join("tests/fixtures/emails"), false),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|e| e == "eml") {
                out.push(p);
                corpus += usize::from(is_corpus);
            }
        }
    }
    (out, corpus)
}

fn full(raw: &[u8], settings: &EmailSettings) -> bool {
    let Ok(inbound) = ingress::from_raw("raw", raw.to_vec()) else {
        return false;
    };
    let ctx = EmailContext {
        settings,
        policy: &ChannelPolicy::AnyUuid,
        normalize: Default::default(),
        verify_senders: false,
    };
    matches!(process(&inbound, &ctx), inlet::email::Outcome::Lead(_))
}

fn mime_only(raw: &[u8]) -> usize {
    // What any MIME reader does: parse, and decode every body part.
    let Ok(parsed) = mailparse::parse_mail(raw) else {
        return 0;
    };
    fn walk(p: &mailparse::ParsedMail) -> usize {
        p.get_body().map(|b| b.len()).unwrap_or(0) + p.subparts.iter().map(walk).sum::<usize>()
    }
    walk(&parsed)
}

/// Messages per second for `f` over `msgs`, the median of `rounds` rounds of at least `min`.
fn rate(msgs: &[Vec<u8>], rounds: usize, min: Duration, mut f: impl FnMut(&[u8])) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < min {
            for m in msgs {
                f(m);
            }
            n += msgs.len();
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// A lead message with `megabytes` of base64 attachments.
fn large_message(megabytes: usize) -> Vec<u8> {
    let mut m = String::from(
        "MIME-Version: 1.0\r\nFrom: realtor.com <leads@email.realtor.com>\r\nTo: leads@in.example.com\r\nSubject: New realtor.com lead - Ana Silva\r\nContent-Type: multipart/mixed; boundary=\"LARGE\"\r\n\r\n--LARGE\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nName: Ana Silva\r\nEmail: ana.silva@example.com\r\nPhone: 214 555 0123\r\n",
    );
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let per_file = 5 * 1024 * 1024;
    let files = (megabytes * 1024 * 1024).div_ceil(per_file);
    for f in 0..files {
        m.push_str(&format!(
            "--LARGE\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"photo{f}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        for _ in 0..per_file / line.len() {
            m.push_str(line);
        }
    }
    m.push_str("--LARGE--\r\n");
    m.into_bytes()
}

fn main() {
    let settings = EmailSettings {
        default_channel: Some("6f1c2d3e-4a5b-4c6d-9e7f-8a9b0c1d2e3f".into()),
        ..EmailSettings::default()
    };

    // The large message first, so the peak is its own and not the loops'.
    let large = large_message(25);
    let before = peak_rss_kib();
    let start = Instant::now();
    let lead = full(&large, &settings);
    let took = start.elapsed();
    let after = peak_rss_kib();
    println!(
        "25 MB message ({:.1} MB, 5 attachments): full parse {:.0} ms, lead: {lead}; peak RSS {:.1} MiB (message held: {:.1} MiB, before parsing {:.1} MiB, growth {:.1} MiB)",
        large.len() as f64 / 1e6,
        took.as_secs_f64() * 1e3,
        after as f64 / 1024.0,
        large.len() as f64 / 1048576.0,
        before as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / 1024.0
    );
    drop(large);

    let (paths, corpus) = messages();
    let msgs: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let leads = msgs.iter().filter(|m| full(m, &settings)).count();
    println!(
        "{} messages ({} from ../shared/corpus, {} fixtures), {} read as leads",
        msgs.len(),
        corpus,
        msgs.len() - corpus,
        leads
    );
    // Alternate the two so that both see the same machine state.
    let mut full_rates = Vec::new();
    let mut floor_rates = Vec::new();
    for _ in 0..5 {
        full_rates.push(rate(&msgs, 1, Duration::from_secs(2), |m| {
            std::hint::black_box(full(m, &settings));
        }));
        floor_rates.push(rate(&msgs, 1, Duration::from_secs(2), |m| {
            std::hint::black_box(mime_only(m));
        }));
    }
    full_rates.sort_by(f64::total_cmp);
    floor_rates.sort_by(f64::total_cmp);
    let (f, m) = (full_rates[2], floor_rates[2]);
    println!(
        "full parse to envelopes: {f:.0} messages/s ({:.1} µs each)",
        1e6 / f
    );
    println!(
        "mailparse MIME only (floor): {m:.0} messages/s ({:.1} µs each)",
        1e6 / m
    );
    println!("full parse costs {:.2}× the MIME floor", m / f);

    let node = mailparser_rate(&paths);
    println!(
        "Node.js mailparser 3.7 simpleParser, MIME only: {node:.0} messages/s ({:.1} µs each); Inlet's full parse is {:.2}× its speed",
        1e6 / node,
        f / node
    );
}

/// mailparser's `simpleParser` on the same files (`benches/mailparser`, which `make bench`
/// installs with `npm ci`).
fn mailparser_rate(paths: &[std::path::PathBuf]) -> f64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/mailparser");
    assert!(
        dir.join("node_modules/mailparser").exists(),
        "run `npm ci --prefix {}` (make bench does)",
        dir.display()
    );
    let out = std::process::Command::new("node")
        .arg(dir.join("simple_parser.mjs"))
        .args(paths)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["messages_per_sec"].as_f64().unwrap()
}
