#!/usr/bin/env python3
"""Writes functions/init_path.ld: the functions' cold-start code, gathered by the linker.

`make init-path` runs this over release binaries built with their symbols: as the bench
builds them (the workspace's features unified) and as `cargo lambda build` does (each
function's own features, `-C target-cpu=haswell` on x86_64), since they differ in which
functions the compiler kept out of line. Each function is started under callgrind as the
`lambda_init` bench starts it (credentials and settings in the environment) with a runtime
API that refuses the connection, so it runs its whole init and exits; every function
callgrind saw is then named in a linker script that places them in one output section ahead
of `.text` (`functions/link.rs` passes it to the linker).

Why: a function's init touches code in ~125 of the ~250 64 KiB windows of its 16 MB `.text`,
one page fault each (~4 µs on a VM), because the linker lays code out crate by crate. Gathered,
the same code takes a few dozen windows.

The script names sections by pattern, not by exact symbol: a Rust symbol's trailing hash (and
a v0 symbol's crate disambiguator) changes with the target and the build's settings, so the
hash is a wildcard and one script serves the bench's host build, `cargo lambda build
--target …` and other architectures alike. A pattern shared by generic instances that were
not run only adds their code to the gathered section.
"""

import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

FUNCTIONS = ["webhook", "form", "deliver", "email"]

# As tests/benches/lambda_init.rs starts them; the runtime API is a refused port.
ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_LAMBDA_FUNCTION_NAME": "init-path",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_LEVEL": "warn",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
    "INLET_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/inlet.fifo",
    "INLET_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/inlet-dlq.fifo",
    "INLET_LEDGER_TABLE": "inlet-ledger",
    "INLET_CHANNELS": "55f5d0b8-3f4e-4b8e-9d6a-0c1b2a3d745f",
    "INLET_FORM_SECRET": "init-path",
}

LEGACY = re.compile(r"^(_ZN.*17h)[0-9a-f]{16}E(\.llvm\.\d+)?$")
V0_CRATE = re.compile(r"Cs[0-9A-Za-z]+_")
LTO_SUFFIX = re.compile(r"\.llvm\.\d+$")
FUNCTION_LINE = re.compile(r"^c?fn=\(\d+\) (\S+)$")


def text_symbols(binary):
    out = subprocess.run(
        ["nm", "--defined-only", binary], check=True, capture_output=True, text=True
    ).stdout
    return {p[2] for p in (l.split() for l in out.splitlines()) if len(p) == 3 and p[1] in "tTwW"}


def functions_run(binary):
    """Every function callgrind saw the binary run, in the order it first names them."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **ENV}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", binary],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,  # it exits with an error: the runtime API refuses it
        )
        names = []
        with open(out) as f:
            for line in f:
                m = FUNCTION_LINE.match(line.strip())
                if m:
                    names.append(m.group(1))
    return list(dict.fromkeys(names))


def pattern(symbol):
    m = LEGACY.match(symbol)
    if m:
        return m.group(1) + "*"
    if symbol.startswith("_R"):
        symbol = V0_CRATE.sub("Cs*_", symbol)
    # ThinLTO's suffix on a symbol it promoted is a hash of the module, as unstable.
    return LTO_SUFFIX.sub(".llvm.*", symbol)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: init_path.py OUTPUT.ld BINARIES_DIR...")
    output, builds = sys.argv[1], sys.argv[2:]
    # For each pattern, the most functions it matches in one binary: a generic function's
    # instances share their pattern, and most of them are not run at init.
    breadth = {}
    for build in builds:
        for name in FUNCTIONS:
            binary = os.path.join(build, name)
            defined = text_symbols(binary)
            if not defined:
                sys.exit(f"{binary} has no symbols: build it with CARGO_PROFILE_RELEASE_STRIP=false")
            run = [s for s in functions_run(binary) if s in defined]
            if not run:
                sys.exit(f"callgrind saw no function of {binary} run")
            matches = Counter(pattern(s) for s in defined)
            for symbol in run:
                p = pattern(symbol)
                breadth[p] = max(breadth.get(p, 0), matches[p])
            print(f"{binary}: {len(run)} functions run at init", file=sys.stderr)
    # Narrow patterns first, in the order they were seen, so that the code surely run is
    # dense at the front; the broad ones after, narrowest first.
    patterns = sorted(breadth, key=lambda p: 0 if breadth[p] <= 2 else breadth[p])
    with open(output, "w") as f:
        f.write(
            "/* The Lambda functions' cold-start code, gathered ahead of .text so that a cold\n"
            "   start faults in a few dozen pages of code instead of ~125 (functions/link.rs).\n"
            "   Generated by `make init-path` (functions/init_path.py); regenerate it after\n"
            "   dependency upgrades. A stale entry only matches nothing. */\n"
            "SECTIONS\n{\n  .text.init_path : {\n"
        )
        for p in patterns:
            f.write(f"    *(.text.{p})\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"{output}: {len(patterns)} patterns", file=sys.stderr)


if __name__ == "__main__":
    main()
