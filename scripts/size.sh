#!/usr/bin/env bash
# `npm run size`: builds the release bundles and prints raw / gzip -9 / brotli sizes of what a
# browser downloads. The script-tag bundle is the one that counts: its gzip total may not grow
# more than 512 bytes over the figure in size-budget.json (lower it when a change saves bytes;
# raising it needs a row in BENCHMARKS.md saying why).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-wasm.sh
node --input-type=module - <<'JS'
import { readFileSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
const rows = [
  ["script tag: aidlink_bg.wasm", "dist/script/aidlink_bg.wasm"],
  ["script tag: aidlink.js (glue + loader, minified)", "dist/script/aidlink.js"],
  ["npm: aidlink_bg.wasm (with options deserialiser)", "dist/npm/aidlink_bg.wasm"],
  ["npm: aidlink.js + index.js", "dist/npm/aidlink.js", "dist/npm/index.js"],
];
const kb = (n) => (n / 1024).toFixed(1).padStart(7) + " KB";
const measure = (files) => {
  const data = Buffer.concat(files.map((f) => readFileSync(f)));
  return [data.length, gzipSync(data, { level: 9 }).length,
    brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length];
};
console.log("size".padEnd(52) + "    raw".padStart(10) + "  gzip -9".padStart(11) + "   brotli".padStart(11));
const sizes = rows.map(([name, ...files]) => {
  const s = measure(files);
  console.log(name.padEnd(52) + s.map(kb).join(" "));
  return s;
});
const total = [0, 1, 2].map((i) => sizes[0][i] + sizes[1][i]);
console.log("script tag total (what a page downloads)".padEnd(52) + total.map(kb).join(" "));
const budget = JSON.parse(readFileSync("size-budget.json", "utf8"));
const allowed = budget.script_tag_gzip_bytes + 512;
console.log(`budget: script tag ${total[1]} B gzip; recorded ${budget.script_tag_gzip_bytes} B (+512 B allowed = ${allowed} B)`);
if (total[1] > allowed) {
  console.error(`size: the script tag grew to ${total[1]} B gzip, more than 512 B over the budget of ${budget.script_tag_gzip_bytes} B in size-budget.json`);
  process.exit(1);
}
JS
