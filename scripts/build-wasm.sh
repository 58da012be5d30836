#!/usr/bin/env bash
# Builds the capture module for release:
#   dist/script/  the script-tag bundle: aidlink.js (loader + wasm-bindgen glue, one IIFE,
#                 minified by esbuild) and aidlink_bg.wasm, served side by side (by the relay or
#                 a CDN);
#   dist/npm/     the npm payload: index.js (start), index.d.ts, aidlink.js (glue, ESM),
#                 aidlink_bg.wasm (built with the `npm` feature: options read by serde).
# cargo (profile `wasm`: opt-level z, LTO, 1 CGU; LLVM's inline threshold raised from opt-level
# z's 5 to 30, below) → wasm-bindgen 0.2.130 → wasm-opt -Oz from npm binaryen 132 (never
# Debian's binaryen 108: it emits modules that fail to load: CONTRIBUTING.md, "Pitfalls").
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"

for tool in cargo wasm-bindgen wasm-opt esbuild; do
    command -v "$tool" >/dev/null || { echo "build-wasm: $tool not found; run: bash scripts/setup.sh" >&2; exit 1; }
done
case "$(wasm-opt --version)" in
    *"version 132"*) ;;
    *) echo "build-wasm: wasm-opt must be binaryen 132 from npm (found: $(command -v wasm-opt))" >&2; exit 1 ;;
esac

target_dir="${CARGO_TARGET_DIR:-$root/target}"
work="$target_dir/bundle"
wasm_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
    --enable-mutable-globals --enable-reference-types --enable-multivalue)

# LLVM inlines more than opt-level z lets it (threshold 5 → 30). At 5 it leaves calls such as
# itoa's `999.try_into().expect(…)` out of line, whose error `Debug` and panic message then keep
# core's formatting machinery in the module though the call is never made; from 20 to 40 the
# script tag is 0.4 to 0.6 KB gzip smaller (at 45 and 50 it grows again): BENCHMARKS.md.
inline_threshold=30

build() { # $1 = extra cargo args; prints the path of the .wasm
    RUSTFLAGS="-C llvm-args=-inline-threshold=$inline_threshold${RUSTFLAGS:+ $RUSTFLAGS}" \
        cargo build --quiet --profile wasm --target wasm32-unknown-unknown -p aidlink $1 >&2
    echo "$target_dir/wasm32-unknown-unknown/wasm/aidlink.wasm"
}

rm -rf "$work" dist/script dist/npm
mkdir -p dist/script dist/npm

# Both builds: `--target web` glue (ESM); the wasm's import, export and module names minified,
# and the glue rewritten to match (scripts/minify-names.mjs fails the build when a name does not
# match or a long one is left); then wasm-opt -Oz, repeated while it still gains (`--converge`),
# told that nothing lives in the first KB of memory (`--low-memory-unused`: Rust puts its 1 MB
# stack there, growing down from 1 MB, and ours never comes near its bottom), with the producers
# and target-features sections, which no browser reads, dropped.
# $1 = cargo features, $2 = the output folder.
bundle() {
    local out="$work/$2"
    wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name aidlink "$(build "$1")"
    wasm-opt "${wasm_features[@]}" --minify-imports-and-exports-and-modules \
        "$out/aidlink_bg.wasm" -o "$out/named.wasm" > "$out/names.json"
    wasm-opt -Oz --converge --low-memory-unused "${wasm_features[@]}" \
        --strip-producers --strip-target-features "$out/named.wasm" -o "$out/min.wasm"
    node scripts/minify-names.mjs "$out/aidlink.js" "$out/names.json" "$out/min.wasm"
    cp www/loader/*.js "$out/"
}

# Script tag: the loader and the glue bundled by esbuild into one IIFE (only window.aidlink leaks;
# the glue's own fetching code, unused, is left out).
bundle "" script
cp "$work/script/min.wasm" dist/script/aidlink_bg.wasm
# (`import.meta` appears only in that unused code, hence the silenced warning.)
esbuild "$work/script/tag.js" --bundle --format=iife --minify --target=es2019 --log-level=warning \
    --log-override:empty-import-meta=silent --outfile=dist/script/aidlink.js

# Each beside its gzip -9, which the relay sends to browsers that accept gzip (a page's first
# visit downloads about 25 KB instead of 53 KB); -n: no name or time inside, so a rebuild of the
# same bundle gives the same bytes.
gzip -9 -n -k -f dist/script/aidlink.js dist/script/aidlink_bg.wasm

# npm: ESM glue + start() wrapper (handle.js bundled in) + types.
bundle "--features npm" npm
cp "$work/npm/min.wasm" dist/npm/aidlink_bg.wasm
cp "$work/npm/aidlink.js" dist/npm/aidlink.js
esbuild "$work/npm/npm.js" --bundle --format=esm --target=es2020 --log-level=warning \
    --external:./aidlink.js --outfile=dist/npm/index.js
cp www/loader/index.d.ts dist/npm/index.d.ts

echo "build-wasm: dist/script and dist/npm built" >&2
