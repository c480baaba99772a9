# Inlet's tasks. `make test` installs what the tests need (moto into target/venv) and runs
# every test; `make lint` is what CI checks of the code's form; `make bench` the figures.

VENV    := target/venv
MOTO    := $(VENV)/bin/moto_server
SAM     := $(VENV)/bin/sam
CARGO   ?= cargo
export INLET_MOTO_SERVER := $(abspath $(MOTO))
export INLET_CARGO_LAMBDA := $(abspath $(VENV))/bin/cargo-lambda
export SAM_CLI_TELEMETRY := 0

.PHONY: test lint bench fuzz proof tools browser-tools clean-tools template build-sam

# The functions' binaries first: tests/tests/lambda_watch.rs runs them under cargo lambda
# watch, and `cargo test` builds only the binaries of packages with integration tests. Then
# every fuzz target for a minute (`make proof`: 30 minutes).
test: tools template
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast
	$(MAKE) fuzz FUZZ_SECONDS=60 FUZZ_FLAGS="--sanitizer none"

# template.yaml: the SAM and CloudFormation linters (offline), and its wiring against the
# workspace (binaries, environment variables, event samples).
template: $(SAM)
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1
	$(VENV)/bin/python tests/template/check_wiring.py

# `sam build` as a deployer runs it. Only the x86_64 Rust toolchain can be installed here
# (no other target's standard library is reachable), so the build proves the template and
# cargo-lambda wiring on x86_64; a deploy builds the arm64 default.
SAM_ARCH ?= x86_64
build-sam: $(SAM)
	PATH="$(abspath $(VENV))/bin:$$PATH" CARGO_LAMBDA_COMPILER=cargo \
	  $(SAM) build --beta-features --parameter-overrides Architecture=$(SAM_ARCH) \
	  --build-dir target/sam-build
	for f in WebhookFunction FormFunction DeliverFunction EmailFunction ReconcileFunction; do \
	  test -x target/sam-build/$$f/bootstrap || { echo "no bootstrap for $$f"; exit 1; }; \
	done

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: tools
	test -d shared/benches/mailparser/node_modules/mailparser || npm ci --prefix shared/benches/mailparser --no-audit --no-fund
	$(CARGO) bench -p inlet-shared --bench envelope
	$(CARGO) bench -p inlet-shared --bench webhooks
	$(CARGO) bench -p inlet-shared --bench forms
	$(CARGO) bench -p inlet-shared --bench email
	$(CARGO) bench -p inlet-tests --bench deliver_sqs
	$(CARGO) bench -p inlet-cli --bench serve_load
	$(CARGO) bench -p inlet-cli --bench outage
	$(CARGO) bench -p inlet-tests --bench lambda_outage
	$(CARGO) bench -p inlet-tests --bench lambda_init
	$(CARGO) bench -p inlet-tests --bench lambda_cost

# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the one stable toolchain here
# provide them. FUZZ_SECONDS per target (ten minutes by default).
# FUZZ_FLAGS: `make test`'s one-minute runs skip AddressSanitizer (the code is safe Rust,
# and the build takes half the time); `make fuzz` and `make proof` keep it.
FUZZ_SECONDS ?= 600
FUZZ_FLAGS ?=
FUZZ_TARGETS := webhook email html
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t && \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $(FUZZ_FLAGS) $$t corpus/$$t seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10) || exit 1; \
	done

# Issue 8's proof runs at full size (`make test` runs the short versions): Rechat
# misbehaving under 10,000 leads from 2,000 people, then 2,000 through SQS with 20 deliver
# crashes, 50 kill -9s during 10,000 leads, issue 37's chaos run (1,000 leads, 5xx and 429,
# six kill -9s, the production backoff, drained within 400 s), the
# hostile corpus ten times over, a one-minute queue outage, and every fuzz target for 30
# minutes.
PROOF_FUZZ_SECONDS ?= 1800
proof: tools
	$(CARGO) build --workspace --bins
	INLET_PROOF_PEOPLE=2000 $(CARGO) test -p inlet-cli --test rechat_faults -- --nocapture
	INLET_CRASH_LEADS=10000 INLET_CRASH_KILLS=50 $(CARGO) test -p inlet-cli --test crash -- --nocapture
	INLET_CHAOS_LEADS=1000 $(CARGO) test -p inlet-cli --test chaos -- --nocapture
	INLET_HOSTILE_ROUNDS=10 $(CARGO) test -p inlet-cli --test hostile -- --nocapture
	INLET_PROOF_PEOPLE=400 INLET_PROOF_CRASHES=20 $(CARGO) test -p inlet-tests --test sqs_faults -- --nocapture
	INLET_OUTAGE_SECS=60 $(CARGO) test -p inlet-tests --test queue_outage -- --nocapture
	$(MAKE) fuzz FUZZ_SECONDS=$(PROOF_FUZZ_SECONDS)

tools: $(MOTO) $(SAM) browser-tools

# The browser test uses Debian's chromium (never a downloaded browser) and playwright-core.
browser-tools:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	test -d tests/browser/node_modules/playwright-core || npm ci --prefix tests/browser --no-audit --no-fund

# moto 5.1.17 is the first release whose SQS JSON protocol the Rust SDK reads cleanly.
$(MOTO):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5.1.17'

# SAM CLI, cfn-lint and cargo-lambda (for `sam build` and `cargo lambda watch`).
$(SAM): $(MOTO)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli cfn-lint cargo-lambda

clean-tools:
	rm -rf $(VENV)
