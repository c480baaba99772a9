//! Where the email path spends its time, stage by stage, over the corpus and fixtures:
//! `cargo run --release -p inlet-shared --example email_cost`.

use inlet::email::{Message, forward, portals, read};
use std::time::Instant;

fn main() {
    let mut msgs = Vec::new();
    for dir in ["../shared/corpus/emails", "shared/tests/fixtures/emails"] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "eml") {
                msgs.push(std::fs::read(p).unwrap());
            }
        }
    }
    let n = 20;
    let time = |name: &str, f: &dyn Fn(&[u8])| {
        let start = Instant::now();
        for _ in 0..n {
            for m in &msgs {
                f(m);
            }
        }
        println!(
            "{name:>28}: {:8.1} µs/message",
            start.elapsed().as_secs_f64() * 1e6 / (n * msgs.len()) as f64
        );
    };
    time("mime", &|m| {
        std::hint::black_box(Message::from_mime(m).ok());
    });
    let parsed: Vec<Message> = msgs
        .iter()
        .filter_map(|m| Message::from_mime(m).ok())
        .collect();
    let time2 = |name: &str, f: &dyn Fn(&Message)| {
        let start = Instant::now();
        for _ in 0..n {
            for m in &parsed {
                f(m);
            }
        }
        println!(
            "{name:>28}: {:8.1} µs/message",
            start.elapsed().as_secs_f64() * 1e6 / (n * parsed.len()) as f64
        );
    };
    time2("html read (one pass)", &|m| {
        std::hint::black_box(m.html.as_deref().map(inlet::email::html::read));
    });
    time2("forward::unwrap", &|m| {
        std::hint::black_box(forward::unwrap(m));
    });
    time2("Reading::new", &|m| {
        std::hint::black_box(read::Reading::new(m));
    });
    time2("read (module or generic)", &|m| {
        std::hint::black_box(portals::read(m));
    });
    time2("read + normalize", &|m| {
        let (raw, _) = portals::read(m);
        std::hint::black_box(inlet::normalize::normalize(raw, &Default::default()).ok());
    });
}
