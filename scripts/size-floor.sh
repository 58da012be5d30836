#!/usr/bin/env bash
# `npm run size:floor`: the size of the smallest module the design card allows
# (bench/size-floor: one cookie read, serde_json, gloo-net POST, talc), built exactly like the
# shipped bundle, so the capture module's size can be read against it (BENCHMARKS.md).
# With `--nightly` it also builds it with std rebuilt and panics aborting at once
# (`-Zbuild-std`, `-Cpanic=immediate-abort`): needs a nightly toolchain with rust-src.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
crate="$root/bench/size-floor"
out="${CARGO_TARGET_DIR:-$root/target}/size-floor"
wasm_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
    --enable-mutable-globals --enable-reference-types --enable-multivalue)

measure() { # $1 = label, $2 = built .wasm
    local dir="$out/$1"
    rm -rf "$dir" && mkdir -p "$dir"
    wasm-bindgen --target no-modules --no-typescript --out-dir "$dir" --out-name floor "$2"
    wasm-opt -Oz "${wasm_features[@]}" "$dir/floor_bg.wasm" -o "$dir/opt.wasm"
    esbuild "$dir/floor.js" --minify --target=es2019 --log-level=warning --outfile="$dir/min.js"
    local w j
    w=$(gzip -9c "$dir/opt.wasm" | wc -c)
    j=$(gzip -9c "$dir/min.js" | wc -c)
    printf '%-34s wasm %6d B gz   glue %5d B gz   total %6d B gz (%.1f KB)\n' \
        "$1" "$w" "$j" "$((w + j))" "$(echo "($w + $j) / 1024" | bc -l)"
}

(cd "$crate" && cargo build --quiet --release --target wasm32-unknown-unknown \
    --target-dir "$out/stable")
measure "floor, stable" "$out/stable/wasm32-unknown-unknown/release/aidlink_size_floor.wasm"

if [ "${1:-}" = "--nightly" ]; then
    (cd "$crate" && RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
        cargo +nightly build --quiet --release --target wasm32-unknown-unknown \
        -Zbuild-std=std,panic_abort --target-dir "$out/nightly")
    measure "floor, nightly immediate-abort" \
        "$out/nightly/wasm32-unknown-unknown/release/aidlink_size_floor.wasm"
fi
