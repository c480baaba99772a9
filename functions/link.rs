//! Build script of the Lambda functions and of the hello-world they are measured against
//! (`tests/benches/lambda_init.rs`): how their binaries are linked, for a shorter cold start.
//!
//! 1. Fixed-position executables (`-no-pie`). A position-independent executable is patched
//!    by the dynamic loader before `main`, one pointer at a time: ~62,000 relocations for a
//!    function, a 1.4 MB table read and ~240 pages of data written, about 300 page faults of
//!    the ~670 a cold start took (measured with `perf stat`). Fixed-position, the linker
//!    writes those pointers once, into the file. The trade: the executable's own image is no
//!    longer at a random address (its stack, heap, mappings and shared libraries still are),
//!    which is how Go builds its Lambda binaries by default. Only executables: the same
//!    objects still link into shared libraries.
//! 2. The code a cold start runs, gathered in one place (`functions/init_path.ld`, written by
//!    `make init-path`). Laid out crate by crate, init touched ~125 of the ~250 64 KiB windows
//!    of a function's code, a page fault each; gathered, 35–40 (`perf record -e page-faults -d`).
//!    Only with the toolchain's own linker (rust-lld on x86_64 Linux, GNU ld elsewhere),
//!    which both read the script the same way: a linker configured for the target
//!    (cargo-lambda's zig, for one) links as before, without it.

use std::path::{Path, PathBuf};

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo::rustc-link-arg-bins=-no-pie");
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    if std::env::var_os("RUSTC_LINKER").is_some() {
        return;
    }
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    match init_path(&manifest) {
        Some(script) => {
            println!("cargo::rerun-if-changed={}", script.display());
            println!("cargo::rustc-link-arg-bins=-Wl,-T,{}", script.display());
        }
        None => println!(
            "cargo::warning=functions/init_path.ld not found above {}: linked without it",
            manifest.display()
        ),
    }
}

/// The workspace's `functions/init_path.ld`, looked for from the package upwards (the
/// functions are in `functions/`, the hello-world in `tests/`).
fn init_path(manifest: &Path) -> Option<PathBuf> {
    manifest
        .ancestors()
        .map(|dir| dir.join("functions").join("init_path.ld"))
        .find(|script| script.is_file())
}
