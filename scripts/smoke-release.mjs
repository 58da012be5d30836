// Smoke test of the *release* artefacts (CONTRIBUTING.md, "Pitfalls": a bad wasm-opt yields a module that
// throws at load while every debug-build test passes). Loads dist/npm in Node with initSync and
// dist/script through the real one-line tag in headless Chromium, Firefox ESR and WebKit
// (AIDLINK_ENGINES narrows it), and checks that each module instantiates and runs. Prints
// "smoke: N passed, N failed".
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push([name, null]);
    console.log(`ok    ${name}`);
  } catch (error) {
    results.push([name, error]);
    console.log(`FAIL  ${name}: ${error && error.stack ? error.stack : error}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}

await check("npm build instantiates in Node (initSync) and answers status()", async () => {
  const glue = await import(path.join(root, "dist/npm/aidlink.js"));
  const bytes = await readFile(path.join(root, "dist/npm/aidlink_bg.wasm"));
  glue.initSync({ module: bytes });
  const status = glue.status();
  assert(status && status.state === "loading", `status() = ${JSON.stringify(status)}`);
});

await check("npm start() rejects in Node with a clear error", async () => {
  const { start } = await import(path.join(root, "dist/npm/index.js"));
  let error = null;
  await start({ site: "38342" }).catch((e) => { error = e; });
  assert(error && /browser/.test(error.message), `start() in Node: ${error}`);
});

// The page is made awkward on purpose: the .wasm comes as application/octet-stream (a plain
// static host or CDN; the relay itself sends application/wasm, as the end-to-end tests use)
// and an element has id="aidlink" (which browsers expose as window.aidlink). Still silent: the
// page's first script records every console call and uncaught error, in every engine alike.
// It runs in each engine of AIDLINK_ENGINES (default: Chromium, Firefox ESR, WebKit;
// tests/support/engines.mjs).
const { enginesToRun, launchEngine, ENGINES } = await import("../tests/support/engines.mjs");
const RECORDER = `window.__smokeLog = [];
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const original = console[level];
    console[level] = function () { window.__smokeLog.push("console." + level + ": " + Array.from(arguments).join(" ")); return original.apply(console, arguments); };
  }
  window.addEventListener("error", (e) => window.__smokeLog.push("error: " + e.message));
  window.addEventListener("unhandledrejection", (e) => window.__smokeLog.push("unhandled rejection: " + e.reason));`;

for (const engine of enginesToRun()) {
  await check(`script-tag bundle loads in ${ENGINES[engine].label} and binds cookie + session`, async () => {
    const posts = [];
    let wasmFetches = 0;
    const files = {
      "/aidlink.js": ["text/javascript", await readFile(path.join(root, "dist/script/aidlink.js"))],
      "/aidlink_bg.wasm": ["application/octet-stream", await readFile(path.join(root, "dist/script/aidlink_bg.wasm"))],
      "/": ["text/html", Buffer.from(`<!doctype html><title>smoke</title><script>${RECORDER}</script><div id="aidlink"></div><script>
        document.cookie = "__r_aid_v__=SmokeId0123456789ab; path=/";
        document.cookie = "_ct_session_id=424242; path=/";
      </script><script async src="/aidlink.js" data-site="38342"></script>`)],
    };
    const server = createServer((req, res) => {
      if (req.method === "POST" && req.url === "/v1/bindings") {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => { posts.push({ body, type: req.headers["content-type"] }); res.writeHead(204).end(); });
        return;
      }
      if (req.url === "/favicon.ico") return res.writeHead(204).end();
      if (req.url.startsWith("/aidlink_bg.wasm")) wasmFetches += 1;
      const file = files[req.url.split("?")[0]];
      if (!file) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": file[0] }).end(file[1]);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const browser = await launchEngine(engine);
    try {
      const page = await browser.newPage();
      // Chromium (Playwright) also reports what the browser itself logs (a failed load, say).
      const browserLog = [];
      page.on?.("pageerror", (e) => browserLog.push(String(e)));
      page.on?.("console", (m) => browserLog.push(`console.${m.type()}: ${m.text()}`));
      await page.goto(`http://127.0.0.1:${server.address().port}/`);
      const until = Date.now() + 10000;
      let state = null;
      while ((state = await page.evaluate(() => (window.aidlink ? window.aidlink.status().state : null))) !== "bound") {
        assert(Date.now() < until, `not bound within 10 s: state ${state}, ${posts.length} POSTs`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(posts.length === 1, `expected one POST, got ${posts.length}`);
      const binding = JSON.parse(posts[0].body);
      assert(binding.aid === "SmokeId0123456789ab" && binding.session === "424242", posts[0].body);
      assert(/^text\/plain/.test(posts[0].type), `content-type ${posts[0].type}`);
      const logged = [...(await page.evaluate(() => window.__smokeLog)), ...browserLog];
      assert(logged.length === 0, `page errors or console output: ${logged.join("; ")}`);
      assert(wasmFetches === 1, `the .wasm is downloaded once, whatever its type: ${wasmFetches} requests`);
      const plain = await page.evaluate(() => JSON.stringify(window.aidlink.status()));
      assert(plain === '{"state":"bound","cookie":true,"session":true,"sent":1,"lastError":null}', `status() = ${plain}`);
      const globals = await page.evaluate(() => Object.keys(window).filter((k) => /aidlink|wasm_bindgen/i.test(k)));
      assert(globals.join() === "aidlink", `globals: ${globals}`);
    } finally {
      await browser.close();
      server.close();
    }
  });
}

const failed = results.filter(([, e]) => e).length;
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
