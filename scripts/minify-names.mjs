// Rewrites wasm-bindgen's `--target web` glue to the import, export and module names that
// `wasm-opt --minify-imports-and-exports-and-modules` gave the module (the long hashed names cost
// kilobytes in both files), then proves the pair still fits: the module compiles, every import it
// asks for is in the glue's import object under its new name and nothing else is, every export the
// glue uses exists, and no long name is left. Any mismatch fails the build.
//
// Usage: node scripts/minify-names.mjs GLUE.js MAP.json MODULE.wasm
//   GLUE.js     the glue, rewritten in place;
//   MAP.json    what wasm-opt printed: {"imports": [[module, old, new]…], "exports": [[old, new]…]};
//   MODULE.wasm the minified module.
// It also exports the glue's `__wbg_get_imports` and `__wbg_finalize_init`, so that the loader
// instantiates the module it compiled itself without the glue's own fetching code.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [gluePath, mapPath, wasmPath] = process.argv.slice(2);
const fail = (why) => {
  console.error(`minify-names: ${why}`);
  process.exit(1);
};
if (!wasmPath) fail("usage: node scripts/minify-names.mjs GLUE.js MAP.json MODULE.wasm");

const map = JSON.parse(readFileSync(mapPath, "utf8"));
const module = new WebAssembly.Module(readFileSync(wasmPath));
const imports = WebAssembly.Module.imports(module);
const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
const escape = (s) => s.replace(/[$.*+?^()[\]{}|\\]/g, "\\$&");

let glue = readFileSync(gluePath, "utf8");
const replaceOnce = (pattern, by, what) => {
  const found = glue.match(new RegExp(pattern, "g")) || [];
  if (found.length !== 1) fail(`${what}: expected once in the glue, found ${found.length} times`);
  glue = glue.replace(new RegExp(pattern), by);
};

// The module name: wasm-bindgen imports everything from one module, renamed to one short name.
const oldModules = new Set(map.imports.map(([m]) => m));
const newModules = new Set(imports.map((i) => i.module));
if (oldModules.size !== 1 || newModules.size !== 1) {
  fail(`expected one import module before and after, found ${[...oldModules]} → ${[...newModules]}`);
}
const [oldModule] = oldModules;
const [newModule] = newModules;
replaceOnce(`"${escape(oldModule)}"\\s*:`, `${JSON.stringify(newModule)}:`, `import module ${oldModule}`);

for (const [, from, to] of map.imports) {
  replaceOnce(`(?<![\\w$])${escape(from)}\\s*:`, `${JSON.stringify(to)}:`, `import ${from}`);
}
for (const [from, to] of map.exports) {
  glue = glue.replace(new RegExp(`\\bwasm\\.${escape(from)}(?![\\w$])`, "g"), `wasm.${to}`);
}
glue += "\nexport { __wbg_get_imports, __wbg_finalize_init };\n";
writeFileSync(gluePath, glue);

// The checks: the rewritten glue, loaded, must answer every import under its new name.
const used = new Set([...glue.matchAll(/\bwasm\.([\w$]+)/g)].map((m) => m[1]));
for (const name of used) {
  if (!exports.has(name)) fail(`the glue uses wasm.${name}, which the module does not export`);
}
const left = glue.match(/\b__wbg_[\w$]*_[0-9a-f]{16}\b|\bwasm\.(?:__wbindgen|__externref|wasm_bindgen)\w*/);
if (left) fail(`a long name is left in the glue: ${left[0]}`);
const glueModule = await import(pathToFileURL(gluePath).href);
const given = glueModule.__wbg_get_imports();
const names = Object.keys(given);
if (names.length !== 1 || names[0] !== newModule) fail(`the glue's import modules are ${names}, not ${newModule}`);
const wanted = new Set(imports.map((i) => i.name));
for (const name of wanted) {
  if (!(name in given[newModule])) fail(`the module imports ${newModule}.${name}; the glue does not give it`);
}
for (const name of Object.keys(given[newModule])) {
  if (!wanted.has(name)) fail(`the glue gives ${newModule}.${name}, which the module does not import (a name left over)`);
}
new WebAssembly.Instance(module, given);
