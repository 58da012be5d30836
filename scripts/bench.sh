#!/usr/bin/env bash
# `npm run bench`: the relay at volume (BENCHMARKS.md, "Relay at volume"). Installs the load
# generator when missing (Debian's wrk), builds the relay and the benchmark examples in release,
# then scripts/bench.mjs runs every benchmark against that binary and prints one summary table
# (the PostgreSQL ones on a throwaway server that scripts/postgres.sh starts and removes).
#   npm run bench                 full sizes (10 k and 1 M stored bindings; about 10 minutes)
#   npm run bench -- --quick      the same code at small sizes (npm test runs it)
# Exit status: 0 when every benchmark ran, whatever the figures; non-zero when one could not.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bench: %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        say "wrk is missing: install Debian's package (sudo apt-get install -y wrk), then run again"
        exit 1
    fi
    say "installing wrk with apt (once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

say "building aidlink-relay and its examples (release)"
cargo build --release -q -p aidlink-relay --examples --bins

target_dir="$(cargo metadata --format-version 1 --no-deps | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export AIDLINK_BENCH_BIN="$target_dir/release"
# PostgreSQL for the several-instance benchmark (scripts/bench/postgres.mjs), removed on exit.
. scripts/postgres.sh
aidlink_postgres_start
status=0
node scripts/bench.mjs "$@" || status=$?
exit "$status"
