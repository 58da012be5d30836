// Smoke test of the *release* artefacts (CONTRIBUTING.md, "Pitfalls": a bad wasm-opt yields a module that
// throws at load while every debug-build test passes). Loads dist/npm in Node with initSync and
// dist/script in headless Chromium through the real one-line tag, and checks that each module
// instantiates and runs. Prints "smoke: N passed, N failed".
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
// and an element has id="aidlink" (which browsers expose as window.aidlink). Still silent.
await check("script-tag bundle loads in Chromium and binds cookie + session", async () => {
  const { launchChromium } = await import("../tests/support/chromium.mjs");
  const posts = [];
  let wasmFetches = 0;
  const files = {
    "/aidlink.js": ["text/javascript", await readFile(path.join(root, "dist/script/aidlink.js"))],
    "/aidlink_bg.wasm": ["application/octet-stream", await readFile(path.join(root, "dist/script/aidlink_bg.wasm"))],
    "/": ["text/html", Buffer.from(`<!doctype html><title>smoke</title><div id="aidlink"></div><script>
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
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => errors.push(`console.${m.type()}: ${m.text()}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.aidlink && window.aidlink.status().state === "bound", null, { timeout: 10000 });
    assert(posts.length === 1, `expected one POST, got ${posts.length}`);
    const binding = JSON.parse(posts[0].body);
    assert(binding.aid === "SmokeId0123456789ab" && binding.session === "424242", posts[0].body);
    assert(/^text\/plain/.test(posts[0].type), `content-type ${posts[0].type}`);
    assert(errors.length === 0, `page errors or console output: ${errors.join("; ")}`);
    assert(wasmFetches === 1, `the .wasm is downloaded once, whatever its type: ${wasmFetches} requests`);
    const status = await page.evaluate(() => window.aidlink.status());
    const plain = JSON.stringify(status);
    assert(plain === '{"state":"bound","cookie":true,"session":true,"sent":1,"lastError":null}', `status() = ${plain}`);
    const globals = await page.evaluate(() => Object.keys(window).filter((k) => /aidlink|wasm_bindgen/i.test(k)));
    assert(globals.join() === "aidlink", `globals: ${globals}`);
  } finally {
    await browser.close();
    server.close();
  }
});

const failed = results.filter(([, e]) => e).length;
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
