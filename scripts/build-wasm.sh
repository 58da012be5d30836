#!/usr/bin/env bash
# Builds the capture module for release:
#   dist/script/  the script-tag bundle: aidlink.js (loader + wasm-bindgen glue, one IIFE,
#                 minified) and aidlink_bg.wasm, served side by side (by the relay or a CDN);
#   dist/npm/     the npm payload: index.js (start), index.d.ts, aidlink.js (glue, ESM),
#                 aidlink_bg.wasm (built with the `npm` feature: options read by serde).
# cargo (profile `wasm`: opt-level z, LTO, 1 CGU) → wasm-bindgen 0.2.130 → wasm-opt -Oz from
# npm binaryen 132 (never Debian's binaryen 108: it emits modules that fail to load:
# CONTRIBUTING.md, "Pitfalls").
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

build() { # $1 = extra cargo args; prints the path of the .wasm
    cargo build --quiet --profile wasm --target wasm32-unknown-unknown -p aidlink $1 >&2
    echo "$target_dir/wasm32-unknown-unknown/wasm/aidlink.wasm"
}

rm -rf "$work" dist/script dist/npm
mkdir -p "$work/script" "$work/npm" dist/script dist/npm

# Script tag: no-modules glue wrapped with the loader in one IIFE (only window.aidlink leaks).
wasm-bindgen --target no-modules --no-typescript --out-dir "$work/script" --out-name aidlink "$(build "")"
wasm-opt -Oz "${wasm_features[@]}" "$work/script/aidlink_bg.wasm" -o dist/script/aidlink_bg.wasm
{
    echo "(function () {"
    cat "$work/script/aidlink.js" www/loader/handle.js www/loader/tag.js
    echo "})();"
} > "$work/script/bundle.js"
esbuild "$work/script/bundle.js" --minify --target=es2019 --log-level=warning --outfile=dist/script/aidlink.js

# npm: ESM glue + start() wrapper + types.
wasm-bindgen --target web --no-typescript --out-dir "$work/npm" --out-name aidlink "$(build "--features npm")"
wasm-opt -Oz "${wasm_features[@]}" "$work/npm/aidlink_bg.wasm" -o dist/npm/aidlink_bg.wasm
cp "$work/npm/aidlink.js" dist/npm/aidlink.js
cat www/loader/handle.js www/loader/npm.js > dist/npm/index.js
cp www/loader/index.d.ts dist/npm/index.d.ts

echo "build-wasm: dist/script and dist/npm built" >&2
