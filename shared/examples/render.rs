//! Prints a message's HTML part as the email reader sees it: `cargo run -p inlet-shared --example render -- FILE`.

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let raw = std::fs::read(path).unwrap();
    let m = inlet::email::message_from_bytes(&raw).unwrap();
    println!(
        "{}",
        m.html
            .as_deref()
            .map(|h| inlet::email::html::read(h).text)
            .unwrap_or_default()
    );
}
