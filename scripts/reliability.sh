#!/usr/bin/env bash
# `npm run reliability`: the relay under crashes, RTB House outages and storage faults
# (RELIABILITY.md). Builds the release relay (warm after `npm run bench`), then
# scripts/reliability.mjs drives it on 127.0.0.1 and prints one summary table.
#   npm run reliability              full run (≥ 20 SIGKILLs; a few minutes)
#   npm run reliability -- --quick   every part small (npm test runs it)
# Exit status: non-zero when an invariant fails (lost 0, delivered once, 503 during a fault,
# recovery). The storage part needs root (it mounts a tmpfs); otherwise it says "skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

printf 'reliability: %s\n' "building aidlink-relay (release)" >&2
cargo build --release -q -p aidlink-relay --bins

target_dir="$(cargo metadata --format-version 1 --no-deps | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export AIDLINK_RELIABILITY_BIN="${AIDLINK_RELIABILITY_BIN:-$target_dir/release}"
# PostgreSQL for the several-instance part (scripts/reliability/instances.mjs), removed on exit.
. scripts/postgres.sh
aidlink_postgres_start
status=0
node scripts/reliability.mjs "$@" || status=$?
exit "$status"
