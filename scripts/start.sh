#!/usr/bin/env bash
# `npm start`: installs what is missing, builds the capture bundle and the relay, then runs the
# demo chain on 127.0.0.1 (relay on $AIDLINK_PORT, default 8080; demo peer on the next port)
# with embedded SQLite under .aidlink/. Ctrl-C stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
bash scripts/build-wasm.sh
cargo build --quiet -p aidlink-relay
exec node scripts/demo.mjs
