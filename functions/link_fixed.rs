//! Build script of the Lambda functions and of the hello-world they are measured against
//! (`tests/benches/lambda_init.rs`): their binaries are linked as fixed-position
//! executables (`-no-pie`).
//!
//! Why: a position-independent executable is patched by the dynamic loader before `main`,
//! one pointer at a time: ~62,000 relocations for a function, a 1.4 MB table read and ~240
//! pages of data written, about 300 page faults of the ~670 a cold start takes (measured with
//! `perf stat`). Fixed-position, the linker writes those pointers once, into the file.
//! The trade: the executable's own image is no longer at a random address (its stack, heap,
//! mappings and shared libraries still are), which is how Go builds its Lambda binaries by
//! default. Only executables: the same objects still link into shared libraries.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
