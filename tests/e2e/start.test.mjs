// `npm start`'s demo process (scripts/demo.mjs, what start.sh runs after the builds): it prints
// the URLs, serves the demo, and Ctrl-C — SIGINT to the whole foreground process group, as a
// terminal sends it — stops every process it started and frees both ports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { ADMIN_TOKEN, ROOT } from "../../www/demo/launch.mjs";
import { waitFor } from "../support/demo-session.mjs";

// A port p with p and p + 1 free (the demo peer takes the next port).
async function freePair() {
  for (;;) {
    const port = await new Promise((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
    const next = await new Promise((resolve) => {
      const s = createServer().once("error", () => resolve(false)).listen(port + 1, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (next && port < 65535) return port;
  }
}

const answers = (url) => fetch(url).then((r) => r.status, () => null);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("npm start prints the URLs and Ctrl-C stops every process it started", async () => {
  const port = await freePair();
  const demo = spawn(process.execPath, [path.join(ROOT, "scripts/demo.mjs")], {
    cwd: ROOT,
    env: { ...process.env, AIDLINK_PORT: String(port) },
    detached: true, // its own process group, like a terminal's foreground job
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  demo.stdout.on("data", (d) => (out += d));
  demo.stderr.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => demo.once("exit", (code, signal) => resolve({ code, signal })));
  try {
    await waitFor(() => out.includes("Ctrl-C stops everything"), { timeout: 20000, what: `the banner; output so far: ${out}` });
    const relayUrl = `http://127.0.0.1:${port}`;
    assert.match(out, new RegExp(`demo shop page +${relayUrl}/`));
    assert.match(out, new RegExp(`operator screen +${relayUrl}/admin +\\(sign in with the admin token: ${ADMIN_TOKEN}\\)`));
    assert.equal(await answers(`${relayUrl}/admin`), 200, "the operator's sign-in page");
    assert.equal(await answers(`${relayUrl}/`), 200, "the demo page is served");
    assert.equal(await answers(`${relayUrl}/aidlink.js`), 200, "and the bundle");
    assert.equal(await answers(`http://127.0.0.1:${port + 1}/demo/postbacks`), 200, "the fake RTB House answers");
    const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(demo.pid)]).toString().trim().split(/\s+/).map(Number);
    assert.ok(children.length >= 1, "the relay runs as a child process");

    process.kill(-demo.pid, "SIGINT");
    const { code } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: "timeout" }), 10000).unref())]);
    assert.equal(code, 0, `the demo exits cleanly on Ctrl-C: ${out}`);
    await waitFor(() => children.every((pid) => !alive(pid)), { timeout: 5000, what: "the relay to exit" });
    assert.equal(await answers(`${relayUrl}/healthz`), null, "the relay's port is closed");
    assert.equal(await answers(`http://127.0.0.1:${port + 1}/demo/postbacks`), null, "the peer's port is closed");
  } finally {
    if (demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid, "SIGKILL");
  }
});
