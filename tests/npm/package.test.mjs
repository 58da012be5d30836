// The npm package as a user gets it: `npm pack` (prepack builds dist/npm), unpacked into a
// fresh app (not installed from a cache: CONTRIBUTING.md, "Pitfalls"), built by Vite 7 with no plugin,
// served on loopback, opened in Chromium: a binding must reach the real relay. And Node can
// import it: start() rejects with a clear error.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { ACCEPTED, closeBrowser, sharedBrowser, waitFor } from "../support/demo-session.mjs";
import { freePort, launchDemo, ROOT } from "../../www/demo/launch.mjs";

const work = mkdtempSync(path.join(tmpdir(), "aidlink-npm-"));
const app = path.join(work, "app");
let tarball;

before(() => {
  const out = execFileSync("npm", ["pack", "--pack-destination", work, "--json"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  tarball = path.join(work, JSON.parse(out)[0].filename);
  const target = path.join(app, "node_modules/aidlink");
  mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"]);
});
after(closeBrowser);

test("the tarball ships ESM, the .wasm and TypeScript types, and nothing else", () => {
  const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").sort();
  assert.deepEqual(files, [
    "package/README.md",
    "package/dist/npm/aidlink.js",
    "package/dist/npm/aidlink_bg.wasm",
    "package/dist/npm/index.d.ts",
    "package/dist/npm/index.js",
    "package/package.json",
  ]);
  const pkg = JSON.parse(readFileSync(path.join(app, "node_modules/aidlink/package.json"), "utf8"));
  assert.equal(pkg.exports["."].types, "./dist/npm/index.d.ts");
  assert.match(readFileSync(path.join(app, "node_modules/aidlink/dist/npm/index.d.ts"), "utf8"), /export function start\(options: AidlinkOptions\): Promise<AidlinkHandle>/);
});

test("the types check the README's example and refuse options of the wrong type", () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const example = (readme.match(/```ts\n([\s\S]*?)```/) || [])[1];
  assert.ok(example && example.includes('from "aidlink"'), "the README has a typed example");
  const tsc = (file, source) => {
    writeFileSync(path.join(app, file), source);
    try {
      execFileSync(path.join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "--strict", "--module", "esnext",
        "--moduleResolution", "bundler", "--target", "es2022", "--lib", "es2022,dom", file], { cwd: app, encoding: "utf8" });
      return "";
    } catch (error) {
      return error.stdout || String(error);
    }
  };
  // The example, as a developer pastes it; `cookieBanner` stands for their consent manager.
  assert.equal(tsc("example.ts", `declare const cookieBanner: { onAccept(f: () => void): void };\n${example}`), "");
  const wrong = tsc("wrong.ts", `import { start } from "aidlink";\nvoid start({ site: "38342", consent: "yes", setAttrs: "false" });\n`);
  assert.match(wrong, /wrong\.ts.*error TS2322.*"yes"/, wrong);
  assert.match(wrong, /error TS2322.*string.*boolean/, wrong);
  assert.equal(tsc("cookies.ts", `import { start } from "aidlink";\nvoid start({ site: 1, cookie: "__rtbh.aid,my_aid" });\nvoid start({ site: 1, cookie: ["__rtbh.aid", "my_aid"] });\n`), "");
  assert.match(tsc("cookie-number.ts", `import { start } from "aidlink";\nvoid start({ site: 1, cookie: [5] });\n`), /error TS2322/);
});

test("Node imports it without crashing; start() rejects with a clear error", () => {
  const script = `import("aidlink").then((m) => m.start({ site: "38342" })).then(() => console.log("resolved"), (e) => console.log("rejected: " + e.message));`;
  const out = execFileSync("node", ["--input-type=module", "-e", script], { cwd: app, encoding: "utf8" });
  assert.equal(out.trim(), "rejected: aidlink: start() runs in a browser page; there is no window here");
});

test("a Vite 7 app importing { start } from \"aidlink\" binds in Chromium", async () => {
  writeFileSync(path.join(app, "index.html"), `<!doctype html><title>vite app</title><link rel="icon" href="data:,"><script type="module" src="/main.js"></script>`);
  writeFileSync(path.join(app, "main.js"), `import { start } from "aidlink";
document.cookie = "__r_aid_v__=ViteAppId0123456789ab; path=/";
document.cookie = "_ct_session_id=515151; path=/";
const params = new URLSearchParams(location.search);
const options = params.has("options") ? JSON.parse(params.get("options"))
  : { site: "38342", endpoint: params.get("relay") + "/v1/bindings", debug: true, cookie: ["__rtbh.aid", "__r_aid_v__"] };
start(options).then((handle) => { window.handle = handle; });
`);
  execFileSync(path.join(ROOT, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], { cwd: app, stdio: "inherit" });
  const dist = path.join(app, "dist");
  assert.ok(existsSync(dist));
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer((req, res) => {
    const file = path.join(dist, req.url.split("?")[0] === "/" ? "index.html" : req.url.split("?")[0]);
    if (!file.startsWith(dist) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" }).end(readFileSync(file));
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  const demo = await launchDemo({ dir: path.join(work, "relay"), siteExtra: { origins: [`http://127.0.0.1:${port}`] } });
  const page = await (await sharedBrowser()).newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/?relay=${encodeURIComponent(demo.relayUrl)}`);
    await waitFor(() => page.evaluate(() => window.handle && window.handle.status().state === "bound"), { what: "bound" });
    assert.equal(await demo.metric(ACCEPTED), 1);
    assert.equal(await page.evaluate(() => window.handle === window.aidlink), true, "the handle is window.aidlink");
    // Options of the wrong type: one console.error naming the field, nothing sent.
    for (const [options, line] of [
      [{ site: "38342", setAttrs: "false" }, "aidlink: setAttrs must be true or false; aidlink is off"],
      [{ site: 38342.5 }, "aidlink: site is required: the numeric Calltouch site id; aidlink is off"],
      [{ site: "38342", modId: 12345678 }, "aidlink: modId must be the Calltouch mod_id (lowercase letters and digits); aidlink is off"],
      [{ site: "38342", cookie: ["__rtbh.aid", 5] }, "aidlink: cookie must be one or more cookie names, comma-separated; aidlink is off"],
    ]) {
      const bad = await (await sharedBrowser()).newPage();
      const console = [];
      bad.on("console", (m) => console.push(`${m.type()}: ${m.text()}`));
      await bad.goto(`http://127.0.0.1:${port}/?options=${encodeURIComponent(JSON.stringify(options))}`);
      await waitFor(() => bad.evaluate(() => window.handle && window.handle.status().state === "failed"), { what: "failed" });
      assert.deepEqual(console, [`error: ${line}`], JSON.stringify(options));
      await bad.close();
    }
    assert.equal(await demo.metric(ACCEPTED), 1, "nothing more sent");
  } finally {
    await page.close();
    await demo.stop();
    server.close();
  }
});
