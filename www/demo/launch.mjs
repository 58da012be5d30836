// Starts the demo chain on loopback: the demo peer (fake Calltouch + fake RTB House) and the
// real aidlink-relay binary with a demo config (embedded SQLite), serving the capture bundle
// (dist/script) and the demo pages (www/demo). Used by `npm start` and the end-to-end tests.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPeer } from "./peer.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SITE = "38342";
export const ADMIN_TOKEN = "demo-admin-token-0123456789";
export const WEBHOOK_TOKEN = "demo-webhook-token-0123456789";

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function demoConfig({ relayPort, peerUrl, dir, siteExtra }) {
  const origins = [`http://127.0.0.1:${relayPort}`, `http://localhost:${relayPort}`, ...(siteExtra.origins || [])];
  return `# Written by www/demo/launch.mjs for the demo; see relay/relay.example.toml for every key.
[server]
listen = "127.0.0.1:${relayPort}"
admin_token = "${ADMIN_TOKEN}"
assets_dir = "${path.join(ROOT, "dist/script")}"
static_dir = "${path.join(ROOT, "www/demo")}"

[storage]
url = "sqlite://${path.join(dir, "demo.db")}"

[rtbhouse]
endpoint = "${peerUrl}/{region}/postbacks"
timeout_ms = 2000
retry_for = "1h"
retry_base_ms = 300
retry_cap_ms = 1000

[[site]]
id = "${SITE}"
enabled = true
pkey = "demo-pkey"
tagging_hash = "IYIhaCDSPfPoVd4FIEF1"
webhook_token = "${WEBHOOK_TOKEN}"
allowed_origins = ${JSON.stringify(origins)}
metrics = ${JSON.stringify(siteExtra.metrics || ["all_calls", "requests"])}
${siteExtra.toml || ""}
`;
}

export async function launchDemo({ relayPort, peerPort = 0, dir, siteExtra = {}, logFile, inheritLogs = false } = {}) {
  relayPort = relayPort || (await freePort());
  dir = dir || path.join(ROOT, ".aidlink");
  mkdirSync(dir, { recursive: true });
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const peer = await startPeer({ port: peerPort, relay: relayUrl, token: WEBHOOK_TOKEN, site: SITE, admin: ADMIN_TOKEN });
  const configPath = path.join(dir, "demo.toml");
  writeFileSync(configPath, demoConfig({ relayPort, peerUrl: peer.url, dir, siteExtra }));
  const bin = path.join(ROOT, "target/debug/aidlink-relay");
  const child = spawn(bin, ["serve", "--config", configPath], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", inheritLogs ? "inherit" : "pipe"],
  });
  const logs = [];
  if (!inheritLogs) child.stderr.on("data", (d) => logs.push(String(d)));
  if (logFile) child.stderr?.on("data", (d) => writeFileSync(logFile, String(d), { flag: "a" }));
  await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${logs.join("")}`)), 15000);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`relay exited with ${code}: ${logs.join("")}`)); });
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("listening on")) { clearTimeout(timer); resolve(); }
    });
  });
  let stopped = false;
  return {
    relayUrl,
    peerUrl: peer.url,
    peer,
    configPath,
    logs,
    child,
    pageUrl: (page = "/", query = "") => `${relayUrl}${page}?peer=${encodeURIComponent(peer.url)}${query ? "&" + query : ""}`,
    async admin(route) {
      const r = await fetch(`${relayUrl}${route}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return r.status === 200 ? r.json() : null;
    },
    async metric(name) {
      const text = await (await fetch(`${relayUrl}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(name + " "));
      return line ? Number(line.split(" ")[1]) : 0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      await peer.close();
    },
  };
}
