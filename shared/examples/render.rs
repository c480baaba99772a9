//! Prints a message's HTML part as the email reader sees it: `cargo run -p inlet-shared --example render -- FILE`.

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let raw = std::fs::read(path).unwrap();
    let m = inlet::email::message_from_bytes(&raw).unwrap();
    println!("{}", inlet::email::read::html_text(&m).unwrap_or_default());
}
