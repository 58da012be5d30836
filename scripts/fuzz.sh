#!/usr/bin/env bash
# `npm run fuzz`: every fuzz target of fuzz/ (cargo-fuzz, libFuzzer) until it has run at least
# 10 million inputs; `--quick` (the "fuzz (quick)" step of npm test): each for a few seconds.
# CONTRIBUTING.md ("Fuzzing") says what each target reads and how to replay a crash.
# A full run is long: measured here (RELIABILITY.md), cookie 10 M in 12 min, binding 10 M in
# 11 min, webhook 10 M in 11 min, config 10 M in 29 min; run one target with
# `bash scripts/fuzz.sh config`, or fewer inputs with FUZZ_RUNS.
#
#   bash scripts/fuzz.sh [--quick] [TARGET...]     (default: all targets)
#   FUZZ_RUNS=N FUZZ_SECONDS=S                     override the full / quick budgets
#
# Works on the pinned stable toolchain: cargo-fuzz passes nightly-only flags, which
# RUSTC_BOOTSTRAP=1 allows on stable (no nightly toolchain needed). AddressSanitizer is on, so
# libFuzzer's -malloc_limit_mb sees every allocation (one over the limit is reported as a crash:
# "out-of-memory (malloc(...))"), and -rss_limit_mb caps the whole process.
# Inputs found are kept in fuzz/corpus/<target>/ (ignored by git); the seeds, in git, are
# fuzz/seeds/<target>/; a crash is written to fuzz/artifacts/<target>/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-fuzz 0.13.2 builds with the pinned 1.95 (`cargo info cargo-fuzz`: no MSRV declared;
# built and run here). Bump the pin here only.
CARGO_FUZZ_VERSION="0.13.2"
TARGETS=(webhook binding cookie config)
RSS_LIMIT_MB=512
MALLOC_LIMIT_MB=64

quick=0
chosen=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) chosen+=("$arg") ;;
    esac
done
[ ${#chosen[@]} -gt 0 ] || chosen=("${TARGETS[@]}")

say() { printf 'fuzz: %s\n' "$*" >&2; }

if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz ${CARGO_FUZZ_VERSION}" ]; then
    say "installing cargo-fuzz ${CARGO_FUZZ_VERSION} (about 2 minutes, once)"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --force
fi

export RUSTC_BOOTSTRAP=1
FUZZ_FLAGS=(--sanitizer address --release --debug-assertions --fuzz-dir fuzz)

say "building ${chosen[*]}"
for target in "${chosen[@]}"; do
    cargo fuzz build "${FUZZ_FLAGS[@]}" "$target"
done

if [ "$quick" = 1 ]; then
    budget=(-max_total_time="${FUZZ_SECONDS:-15}")
else
    budget=(-runs="${FUZZ_RUNS:-10000000}")
fi

summary=()
failed=0
for target in "${chosen[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    # Seeds that live elsewhere in the repository, copied in rather than kept twice: the relay
    # tests' recorded webhooks (without the file's last newline, which would split them into
    # query and body) and the example configuration.
    case "$target" in
        webhook)
            for f in relay/tests/fixtures/*.txt; do
                printf '%s' "$(cat "$f")" >"$corpus/fixture-$(basename "$f" .txt)"
            done
            ;;
        config) cp relay/relay.example.toml "$corpus/relay.example.toml" ;;
    esac
    log="fuzz/artifacts/$target.log"
    say "running $target (${budget[*]})"
    started=$SECONDS
    # New inputs go to the first directory (corpus/); seeds/ is only read.
    if cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
        "${budget[@]}" -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$MALLOC_LIMIT_MB" \
        -max_len=8192 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        >"$log" 2>&1; then
        result="ok"
    else
        result="FAILED (see $log; crash inputs in $artifacts/)"
        failed=1
        tail -n 40 "$log" >&2
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    line="$(printf '%-8s %12s executions in %4ss, corpus %s: %s' \
        "$target" "${runs:-?}" $((SECONDS - started)) "$(find "$corpus" -type f | wc -l)" "$result")"
    say "$line"
    summary+=("$line")
done

printf '\nfuzz summary:\n' >&2
printf '  %s\n' "${summary[@]}" >&2
exit "$failed"
