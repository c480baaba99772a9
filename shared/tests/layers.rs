//! The library's layers (`src/lib.rs`), held: every top-level module imports only from
//! modules of a lower layer. Read as text, as `../shared/tools/layers` reads it (tests and
//! comments left out), but stricter than "no cycles": the sources never import each other,
//! only wiring imports `config`, and no port or adapter imports the embedded store.

use std::collections::BTreeMap;
use std::path::Path;

/// Each top-level module's layer. Within the six layers of `lib.rs`, a module that another of
/// its own layer builds on sits a step lower (`normalize` reads `lead`; `embedded`
/// implements the `queue` and `ledger` ports), so that a rank alone decides.
const LAYERS: &[(&str, u32)] = &[
    // 0. foundations
    ("mask", 0),
    ("telemetry", 0),
    ("tls", 0),
    // 1. plain data and decisions
    ("lead", 10),
    ("postal", 11),
    ("normalize", 11),
    ("envelope", 12),
    ("fields", 12),
    ("settings", 12),
    // 2. HTTP
    ("web", 20),
    // 3. sources, side by side
    ("rechat_api", 30),
    ("webhook", 30),
    ("forms", 30),
    ("email", 30),
    // 4. ports and adapters
    ("queue", 40),
    ("ledger", 40),
    ("objects", 40),
    ("rechat", 40),
    ("sns", 40),
    ("sdk", 40),
    ("meta_graph", 41),
    ("kept", 41),
    ("profile", 41),
    ("stack", 41),
    ("embedded", 42),
    // 5. delivery, and Meta reconciliation beside it
    ("deliver", 50),
    ("meta_reconcile", 50),
    // 6. wiring
    ("router", 60),
    ("config", 61),
    ("serve", 62),
    ("lambda", 62),
];

fn layer(module: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .unwrap_or_else(|| panic!("src/{module}: give the new module its layer in LAYERS"))
        .1
}

/// The source without comments and without its trailing `#[cfg(test)] mod tests`.
fn code(text: &str) -> String {
    let no_line_comments: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let block = regex::Regex::new(r"(?s)/\*.*?\*/").unwrap();
    let code = block.replace_all(&no_line_comments, "").into_owned();
    match regex::Regex::new(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")
        .unwrap()
        .find(&code)
    {
        Some(m) => code[..m.start()].to_owned(),
        None => code,
    }
}

/// Every module the file at `path` (top-level module `top`, `depth` levels below `src/`)
/// names outside itself.
fn imports(top: &str, depth: usize, text: &str) -> Vec<String> {
    let code = code(text);
    let mut out = Vec::new();
    for m in regex::Regex::new(r"\bcrate::(\w+)")
        .unwrap()
        .captures_iter(&code)
    {
        out.push(m[1].to_owned());
    }
    let group_item = regex::Regex::new(r"(?:^|[,{]\s*)(\w+)").unwrap();
    for m in regex::Regex::new(r"(?s)\buse\s+crate::\{([^;]*)\};")
        .unwrap()
        .captures_iter(&code)
    {
        for name in group_item.captures_iter(&m[1]) {
            out.push(name[1].to_owned());
        }
    }
    for m in regex::Regex::new(r"\b((?:super::)+)(\w+)")
        .unwrap()
        .captures_iter(&code)
    {
        if m[1].matches("super::").count() == depth {
            out.push(m[2].to_owned());
        }
    }
    out.retain(|name| name != top && name != "self" && LAYERS.iter().any(|(n, _)| n == name));
    out
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut edges = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        let Some(top) = parts.first().cloned() else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for target in imports(&top, parts.len(), &text) {
            edges += 1;
            if layer(&target) >= layer(&top) {
                wrong
                    .entry(format!("{top} (layer {})", layer(&top)))
                    .or_default()
                    .push(format!(
                        "{}: {target} (layer {})",
                        rel.display(),
                        layer(&target)
                    ));
            }
        }
    }
    assert!(
        edges > 50,
        "the reader found {edges} imports: it reads nothing"
    );
    assert!(
        wrong.is_empty(),
        "imports from the same layer or above:\n{wrong:#?}"
    );
}

#[test]
fn the_reader_sees_every_kind_of_import() {
    let text = "use crate::lead::Lead;\nuse crate::{envelope, web::IntakeError};\n\
                fn f() { super::super::queue::x(); }\n// crate::config\n\
                #[cfg(test)]\nmod tests { use crate::router; }";
    let found = imports("forms", 2, text);
    assert_eq!(found, vec!["lead", "envelope", "web", "queue"]);
}
