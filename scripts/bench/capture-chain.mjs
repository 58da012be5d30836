// The chain the capture benchmarks run against, all on loopback: the real relay (release build)
// serving the release script-tag bundle (dist/script) and the benchmark's pages (bench/capture/),
// a fake Calltouch that keeps each session's last `set_attrs` and sends Calltouch-shaped call
// webhooks carrying them, a fake RTB House that records postbacks, and Debian's Chromium.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const SITE = "38342";
const ADMIN = "capture-bench-admin-token-0123";
const TOKEN = "capture-bench-hook-token-0123";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

/** Newest modification time of `dir` or a file under it (recursive), 0 when it does not exist. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = statSync(dir).mtimeMs;
  if (!statSync(dir).isDirectory()) return t;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the release bundle (scripts/build-wasm.sh) when it is missing or older than its sources. */
export function ensureBundle(root, log) {
  const built = join(root, "dist/script/aidlink_bg.wasm");
  const sources = Math.max(...["src", "protocol/src", "www/loader", "Cargo.toml", "Cargo.lock"].map((p) => newest(join(root, p))));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  log("capture: building the release bundle (scripts/build-wasm.sh)");
  const r = spawnSync("bash", ["scripts/build-wasm.sh"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error("scripts/build-wasm.sh failed");
}

/** The fake Calltouch: POST /attrs?session=S keeps the page's set_attrs; lead() sends the webhook. */
async function fakeCalltouch() {
  const attrs = new Map();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://ct");
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.method === "POST" && url.pathname === "/attrs") attrs.set(url.searchParams.get("session"), body);
      res.writeHead(204, { "access-control-allow-origin": "*" }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  const url = await listen(server);
  return { url, attrs, close: () => (server.closeAllConnections(), server.close()) };
}

/** The fake RTB House: records every postback's conversion id and aid. */
async function fakeRtbHouse() {
  const postbacks = new Map(); // conversion id (ct-call-…) → aid
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://rtb");
    const tag = url.searchParams.get("tag") ?? "";
    const id = (tag.match(/_(ct-(?:call|req)-[^_]+)_$/) ?? [])[1];
    if (id && !postbacks.has(id)) postbacks.set(id, url.searchParams.get("aid"));
    req.resume();
    res.writeHead(200, { "content-length": "2" }).end("ok");
  });
  const url = await listen(server);
  return { endpoint: `${url}/{region}/postbacks`, postbacks, close: () => (server.closeAllConnections(), server.close()) };
}

function relayConfig({ port, db, root, rtb }) {
  return `[server]
listen = "127.0.0.1:${port}"
admin_token = "${ADMIN}"
assets_dir = "${join(root, "dist/script")}"
static_dir = "${join(root, "bench/capture")}"
bindings_per_minute_per_ip = 1000000

[storage]
url = "sqlite://${db}"

[rtbhouse]
endpoint = "${rtb}"
timeout_ms = 2000
retry_base_ms = 200
retry_cap_ms = 1000

[[site]]
id = "${SITE}"
pkey = "bench-pkey"
tagging_hash = "IYIhaCDSPfPoVd4FIEF1"
region = "omni"
webhook_token = "${TOKEN}"
allowed_origins = ["http://127.0.0.1:${port}"]
metrics = ["all_calls"]
`;
}

/** Starts the whole chain; `close()` stops it. `relayBin` is the release aidlink-relay. */
export async function startChain({ root, relayBin, work, log }) {
  ensureBundle(root, log);
  mkdirSync(work, { recursive: true });
  const ct = await fakeCalltouch();
  const rtb = await fakeRtbHouse();
  const port = await freePort();
  const db = join(work, "capture.db");
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  const configFile = join(work, "capture.toml");
  writeFileSync(configFile, relayConfig({ port, db, root, rtb: rtb.endpoint }));
  const err = openSync(join(work, "capture-relay.log"), "a");
  const relay = spawn(relayBin, ["serve", "--config", configFile], { stdio: ["ignore", "pipe", err] });
  relay.stdout.resume();
  const killRelay = () => relay.kill("SIGKILL");
  process.once("exit", killRelay);
  const relayUrl = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  while (!(await fetch(`${relayUrl}/healthz`).then((r) => r.ok, () => false))) {
    if (relay.exitCode !== null) throw new Error(`the relay exited (${relay.exitCode}); see ${join(work, "capture-relay.log")}`);
    if (Date.now() > until) throw new Error("the relay did not answer /healthz in 20 s");
    await sleep(100);
  }
  const { launchChromium } = await import("../../tests/support/chromium.mjs");
  const browser = await launchChromium();
  let leadSeq = 0;

  /** A call that ended, Calltouch-shaped, for `session`, with the attrs Calltouch holds for it. */
  async function lead(session, client) {
    leadSeq += 1;
    const id = `${Date.now() % 1e8}${String(leadSeq).padStart(4, "0")}`;
    const body = new URLSearchParams({
      leadtype: "call", id, callphase: "calldisconnected", timestamp: String(Math.floor(Date.now() / 1000)),
      status: "successful", unique: "true", targetcall: "target", uniqtargetcall: "uniqtarget", duration: "95",
      callerphone: "79161234567", fio: "Ivan Petrov", ip: "95.31.18.119", sessionId: session, ctClientId: client,
      siteId: SITE, utm_source: "yandex", utm_medium: "cpc", attrs: ct.attrs.get(session) ?? "null",
    });
    const r = await fetch(`${relayUrl}/v1/calltouch/${SITE}?token=${TOKEN}`, {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body,
    });
    await r.text();
    if (r.status !== 200) throw new Error(`webhook: HTTP ${r.status}`);
    return `ct-call-${id}`;
  }

  /** The aid RTB House received for conversion `conversion`, null when the relay sent none. */
  async function credited(conversion) {
    const until = Date.now() + 15_000;
    for (;;) {
      if (rtb.postbacks.has(conversion)) return rtb.postbacks.get(conversion);
      const r = await fetch(`${relayUrl}/v1/sites/${SITE}/leads/${conversion.slice(3)}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const trail = r.status === 200 ? await r.json() : null;
      // Decided without a postback (no id for the lead): nothing will come.
      if (trail && trail.events.length && trail.events.every((e) => e.reason) && !trail.events.some((e) => e.reason === "queued")) return null;
      if (Date.now() > until) throw new Error(`lead ${conversion} not decided in 15 s: ${JSON.stringify(trail)}`);
      await sleep(50);
    }
  }

  return {
    relayUrl,
    ctUrl: ct.url,
    browser,
    lead,
    credited,
    attrs: ct.attrs,
    async close() {
      await browser.close().catch(() => {});
      const gone = new Promise((resolve) => relay.once("exit", resolve));
      relay.kill("SIGTERM");
      await Promise.race([gone, sleep(10_000)]);
      if (relay.exitCode === null && relay.signalCode === null) relay.kill("SIGKILL");
      process.off("exit", killRelay);
      ct.close();
      rtb.close();
    },
  };
}
