#!/usr/bin/env bash
# `npm test`: everything, in the order a failure is cheapest to find. Installs what is missing
# first (scripts/setup.sh), stops at the first failing step, ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
# A throwaway PostgreSQL for the PostgreSQL store's tests and the second run of the relay
# suite (stopped and removed when this script exits).
. scripts/postgres.sh
aidlink_postgres_start
export AIDLINK_REQUIRE_POSTGRES=1

passed=0
step() {
    local name="$1"
    shift
    printf '\n=== %s\n' "$name"
    local started=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        printf '=== %s: ok (%ss)\n' "$name" $((SECONDS - started))
    else
        local status=$?
        printf '=== %s: FAILED (exit %s)\n' "$name" "$status"
        printf '\nsteps: %s passed, 1 failed\n' "$passed"
        exit "$status"
    fi
}

step "format" cargo fmt --all --check
step "doc references" node scripts/check-doc-refs.mjs
step "clippy (host)" cargo clippy --workspace --all-targets -- -D warnings
step "clippy (wasm32)" cargo clippy -p aidlink --target wasm32-unknown-unknown -- -D warnings
step "cargo deny" cargo deny --workspace check licenses bans sources
step "host tests (the PostgreSQL store's against the throwaway server)" cargo test --workspace
step "relay integration suite again, on PostgreSQL over TLS (three instances, database outage)" \
    env AIDLINK_TEST_STORAGE="$AIDLINK_TEST_POSTGRES?sslmode=require&sslrootcert=$AIDLINK_TEST_POSTGRES_CA" \
    cargo test -p aidlink-relay --test relay
step "fuzz (quick: each target 15 s; npm run fuzz for 10 M inputs each)" bash scripts/fuzz.sh --quick
step "browser and node tests (wasm-bindgen-test, Chromium)" cargo test -p aidlink --target wasm32-unknown-unknown
step "browser tests in Firefox ESR (quick: the 61 s timing test runs in Chromium)" bash scripts/browser-tests.sh firefox --quick
step "browser tests in WebKit (quick: the 61 s timing test runs in Chromium)" bash scripts/browser-tests.sh webkit --quick
step "release bundle" bash scripts/build-wasm.sh
step "release smoke test (Node; Chromium, Firefox ESR, WebKit)" node scripts/smoke-release.mjs
step "relay binary" cargo build -p aidlink-relay
step "benchmarks (quick: the relay, then the capture in Chromium; each one runs; speed is not asserted)" bash scripts/bench.sh --quick
step "reliability (quick: crash, outage, storage faults, hostile HTTP, instances on PostgreSQL; lost must be 0)" bash scripts/reliability.sh --quick
step "end-to-end (Chromium; the chain in Firefox ESR and WebKit) and npm package tests" node --test --test-concurrency=1 tests/e2e/ tests/npm/
step "size report" bash scripts/size.sh

printf '\nsteps: %s passed, 0 failed\n' "$passed"
