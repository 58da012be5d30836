// The reliability harness (`npm run reliability`; RELIABILITY.md). scripts/reliability.sh builds
// the release relay, then runs this file, which drives that binary (AIDLINK_RELIABILITY_BIN/
// aidlink-relay) on 127.0.0.1 against a fake RTB House in this process, and checks the relay's
// promises under faults:
//
//   crash     bindings and call-end webhooks under load while the relay is SIGKILLed at random
//             moments and restarted on the same port and database; then every acknowledged
//             binding's lead must reach `sent` with that visitor's aid (lost = 0); postbacks
//             received twice for one conversion id are reported (duplicates).
//   outage    RTB House answers 503, then hangs past timeout_ms, then recovers: every lead
//             delivered exactly once; then a 400: the lead is dead-lettered, `replay` sends it once.
//   storage   (root only) the database on a small tmpfs: filled → 503 and /readyz 503, nothing
//             half-written, recovery when space returns; a read-only file system at start →
//             `serve` refuses; then on ext4 (loop device, errors=remount-ro) turned read-only by
//             the kernel under the running relay → 503 and /readyz 503, recovery, nothing lost.
//   hostile   a flood of pre-auth 2 MB bodies, slowloris heads and slow bodies under a low
//             `ulimit -n`: RSS and open files bounded, every slow connection cut; then one of each
//             hostile request (oversize, smuggling, traversal, foreign-origin CORS, a forged
//             binding for someone else's session, one client over `max_connections_per_ip`).
//   instances three relays on one PostgreSQL database, one SIGKILLed at a time
//             (scripts/reliability/instances.mjs): every lead sent once with its visitor's id.
//
// Each part prints its figures; one summary table at the end (part | figure | expected | ok?).
// Exit status 1 when an invariant fails (lost 0, delivered once, 503s during the fault, recovery).
//
//   --quick                        every part small (npm test runs it; about 30 s warm)
//   AIDLINK_RELIABILITY_KILLS      SIGKILLs in the crash part          (25;  quick 3)
//   AIDLINK_RELIABILITY_WORKERS    concurrent clients in the crash part (16; quick 6)
//   AIDLINK_RELIABILITY_LEADS      leads in the outage part            (60;  quick 10)
//   AIDLINK_RELIABILITY_PARTS      comma-separated subset: crash,outage,storage,hostile,instances
//   AIDLINK_RELIABILITY_KEEP=1     keep the work folder (databases, logs, results.json)
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, readFileSync, openSync, writeSync, closeSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createInterface } from "node:readline";
import { connect } from "node:net";
import { instances } from "./reliability/instances.mjs";

const root = resolve(import.meta.dirname, "..");
const quick = process.argv.includes("--quick");
const num = (name, full, small) => Number(process.env[name] ?? (quick ? small : full));
const size = {
  kills: num("AIDLINK_RELIABILITY_KILLS", 25, 3),
  workers: num("AIDLINK_RELIABILITY_WORKERS", 16, 6),
  leads: num("AIDLINK_RELIABILITY_LEADS", 60, 10),
  faultSeconds: quick ? 1.5 : 5,
};
const parts = (process.env.AIDLINK_RELIABILITY_PARTS ?? "crash,outage,storage,hostile,instances").split(",");
const bin = process.env.AIDLINK_RELIABILITY_BIN ?? join(root, "target", "release");
const relayBin = join(bin, "aidlink-relay");
const work = join(bin, "..", quick ? "reliability-quick" : "reliability");

const ADMIN = "reliability-admin-token-0123456789";
const TOKEN = "reliability-hook-token-0123456789";
const HASH = "IYIhaCDSPfPoVd4FIEF1";
const SITE = "38342";
const ORIGIN = "https://shop.example";

const log = (...a) => console.error("reliability:", ...a);
const children = new Set();
const mounts = new Set(); // unmounted on any exit, failure and Ctrl-C included
const rand = (lo, hi) => lo + Math.random() * (hi - lo);

// ---------------------------------------------------------------- the relay process

function config({ db, endpoint, listen = "127.0.0.1:0", rtb = "", server = "" }) {
  // The load comes from one address standing for many browsers: no per-address limits, unless
  // a part sets its own.
  const perAddress = server.includes("max_connections_per_ip") ? "" : "max_connections_per_ip = 0\n";
  return `[server]\nlisten = "${listen}"\nadmin_token = "${ADMIN}"\nbindings_per_minute_per_ip = 4000000000\n${perAddress}${server}\n\n` +
    `[storage]\nurl = "sqlite://${db}"\n\n` +
    `[rtbhouse]\nendpoint = "${endpoint}"\n${rtb}\n\n` +
    `[[site]]\nid = "${SITE}"\npkey = "reliability-pkey-${SITE}"\ntagging_hash = "${HASH}"\n` +
    `region = "omni"\nwebhook_token = "${TOKEN}"\nallowed_origins = ["${ORIGIN}"]\nmetrics = ["all_calls"]\n`;
}

/** Starts `aidlink-relay serve` and resolves once its first stdout line names its URL. */
async function startRelay(cfg, logFile, { openFiles } = {}) {
  const err = openSync(logFile, "a");
  const args = ["serve", "--config", cfg];
  // With `openFiles`, under `ulimit -n` (the shell execs the relay: same pid).
  const child = openFiles
    ? spawn("sh", ["-c", `ulimit -n ${openFiles} && exec "$0" "$@"`, relayBin, ...args], { stdio: ["ignore", "pipe", err] })
    : spawn(relayBin, args, { stdio: ["ignore", "pipe", err] });
  closeSync(err);
  children.add(child);
  const exited = new Promise((done) => child.once("exit", (code, signal) => { children.delete(child); done({ code, signal }); }));
  const line = await new Promise((done, fail) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error(`relay did not start in 20 s (see ${logFile})`)), 20_000);
    rl.once("line", (l) => { clearTimeout(timer); done(l); });
    exited.then(({ code }) => { clearTimeout(timer); fail(new Error(`relay exited (${code}) before listening; see ${logFile}`)); });
  });
  child.stdout.resume();
  const addr = line.trim().split("http://").pop();
  return { child, exited, url: `http://${addr}`, port: Number(addr.split(":").pop()) };
}

/** Starts the relay, retrying a few times (the port of a killed relay may not be free at once). */
async function startRelayRetrying(cfg, logFile) {
  for (let i = 0; ; i++) {
    try {
      return await startRelay(cfg, logFile);
    } catch (e) {
      if (i >= 20) throw e;
      await sleep(100);
    }
  }
}

async function kill(relay, signal = "SIGKILL") {
  if (!relay || relay.child.exitCode !== null || relay.child.signalCode !== null) return;
  relay.child.kill(signal);
  const t = signal === "SIGKILL" ? null : setTimeout(() => relay.child.kill("SIGKILL"), 15_000);
  await relay.exited;
  if (t) clearTimeout(t);
}

async function request(url, opts = {}) {
  try {
    const r = await fetch(url, { ...opts, signal: AbortSignal.timeout(opts.timeout ?? 5000) });
    const text = await r.text();
    return { status: r.status, text, retryAfter: r.headers.get("retry-after") };
  } catch (e) {
    return { status: 0, error: String(e.cause?.code ?? e.name ?? e) };
  }
}

async function metrics(url) {
  const r = await request(`${url}/metrics`);
  if (r.status !== 200) return null;
  const m = { depth: null, rows: {}, bindings: {}, postbacks: {} };
  for (const line of r.text.split("\n")) {
    let x = line.match(/^aidlink_outbox_depth (\d+)/);
    if (x) m.depth = Number(x[1]);
    x = line.match(/^aidlink_stored_rows\{table="(\w+)"\} (\d+)/);
    if (x) m.rows[x[1]] = Number(x[2]);
    x = line.match(/^aidlink_(bindings|postbacks)_total\{\w+="([^"]*)"\} (\d+)/);
    if (x) m[x[1]][x[2]] = Number(x[3]);
  }
  return m;
}

async function trail(url, lead) {
  const r = await request(`${url}/v1/sites/${SITE}/leads/${lead}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (r.status !== 200) return { status: null, http: r.status };
  return JSON.parse(r.text);
}

/** Polls `check` (async, truthy = done) every `every` ms for up to `seconds`; its last value. */
async function waitFor(seconds, check, every = 200) {
  const until = Date.now() + seconds * 1000;
  let v;
  while (true) {
    v = await check();
    if (v || Date.now() > until) return v;
    await sleep(every);
  }
}

// ---------------------------------------------------------------- visitors, bindings, webhooks

// Visitor k: a Calltouch session and visitor id (`_ct`), and an RTB House id of 19 letters and
// digits, each a pure function of k.
const session = (k) => String(500000000 + k);
const ctClient = (k) => "22" + String((k * 7919 + 464647719) % 1e17).padStart(17, "0");
const aidOf = (k) => `Rel${String(k).padStart(8, "0")}xYzAbCdE`;

function bindingBody(k, id = `rel-${k}`) {
  return JSON.stringify({
    v: 1, id, site: SITE, session: session(k), ct_client: ctClient(k), aid: aidOf(k),
    touch: { utm_source: "yandex", utm_medium: "cpc", ref: "yandex.ru", path: "/landing", ts: Date.now() },
  });
}

function bind(url, k, id) {
  return request(`${url}/v1/bindings`, {
    method: "POST",
    headers: { "content-type": "text/plain;charset=UTF-8", origin: ORIGIN },
    body: bindingBody(k, id),
  });
}

function callBody(k, callId) {
  return `leadtype=call&id=${callId}&callphase=calldisconnected&timestamp=${Math.floor(Date.now() / 1000)}` +
    `&status=successful&unique=true&targetcall=target&uniqtargetcall=uniqtarget&callerphone=7916${String(k % 1e7).padStart(7, "0")}` +
    `&fio=Ivan+Petrov&ip=95.31.18.119&sessionId=${session(k)}&ctClientId=${ctClient(k)}&siteId=${SITE}` +
    `&utm_source=yandex&utm_content=null&tags_manual=null&attrs=null`;
}

function webhook(url, k, callId) {
  return request(`${url}/v1/calltouch/${SITE}?token=${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: callBody(k, callId),
  });
}

// ---------------------------------------------------------------- a fake RTB House

/**
 * Postbacks arrive at /{region}/postbacks. `mode`: "ok" (200, after up to `delay` ms), a status
 * (503, 400: answered at once) or "hang" (never answered). Every request is recorded with its
 * conversion id (the tag's `_ct-call-<id>_`), aid and the answer it got; a postback counts as
 * accepted by RTB House once the 200 is written, whether or not the relay lived to read it.
 */
function receiver() {
  const state = { mode: "ok", delay: 0 };
  const posts = [];
  const hung = new Set();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const tag = url.searchParams.get("tag") ?? "";
    const id = (tag.match(/_(ct-(?:call|req)-[^_]+)_$/) ?? [])[1] ?? null;
    const p = { id, aid: url.searchParams.get("aid"), answer: state.mode, at: Date.now() };
    posts.push(p);
    req.resume();
    if (state.mode === "hang") {
      hung.add(res.socket);
      res.socket.once("close", () => hung.delete(res.socket));
      return;
    }
    const mode = state.mode;
    const answer = () => {
      if (mode === "ok") res.writeHead(200, { "content-length": "2" }).end("ok");
      else res.writeHead(mode, { "content-length": "2" }).end("no");
    };
    if (mode === "ok" && state.delay) setTimeout(answer, rand(0, state.delay));
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((done) =>
    server.listen(0, "127.0.0.1", () =>
      done({
        endpoint: `http://127.0.0.1:${server.address().port}/{region}/postbacks`,
        state,
        posts,
        /** Accepted postbacks (200) per conversion id. */
        accepted: () => {
          const m = new Map();
          for (const p of posts) if (p.answer === "ok" && p.id) m.set(p.id, [...(m.get(p.id) ?? []), p]);
          return m;
        },
        count: (answer) => posts.filter((p) => p.answer === answer).length,
        unhang: () => { for (const s of hung) s.destroy(); hung.clear(); },
        close: () => {
          for (const s of hung) s.destroy();
          server.closeAllConnections();
          server.close();
        },
      }),
    ),
  );
}

// ---------------------------------------------------------------- results

const rows = []; // { part, figure, expected, ok }
const details = {};
const failed = new Set();
function row(part, figure, expected, ok) {
  rows.push({ part, figure: String(figure), expected: String(expected), ok: ok === null ? "—" : ok ? "yes" : "**no**" });
  if (ok === false) failed.add(part);
  console.log(`  ${part}: ${figure}${expected !== "" ? `  (expected ${expected})` : ""}${ok === false ? "  FAILED" : ""}`);
}

async function part(name, fn) {
  const started = Date.now();
  console.log(`\n--- ${name}`);
  try {
    await fn();
  } catch (e) {
    row(name, `did not complete: ${e.message}`, "completes", false);
    log(e.stack);
  }
  console.log(`--- ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- crash

async function crash() {
  const dir = join(work, "crash");
  mkdirSync(dir, { recursive: true });
  const rx = await receiver();
  rx.state.delay = 30; // postbacks are in flight for a while: a kill can land between 200 and its record
  const db = join(dir, "aidlink.db");
  const cfg = join(dir, "relay.toml");
  const logFile = join(dir, "relay.log");
  const rtb = "timeout_ms = 1000\nretry_base_ms = 100\nretry_cap_ms = 500";
  writeFileSync(cfg, config({ db, endpoint: rx.endpoint, rtb }));
  let relay = await startRelay(cfg, logFile);
  // Restarts reuse the same port, as a supervisor restarting the service would.
  const port = relay.port;
  writeFileSync(cfg, config({ db, endpoint: rx.endpoint, rtb, listen: `127.0.0.1:${port}` }));
  const url = `http://127.0.0.1:${port}`;

  const visitors = new Map(); // k → { bound, hooked, bindTries, hookTries }
  const c = { bindAck: 0, bindFail: 0, bindRefused: 0, hookAck: 0, hookFail: 0, hookRefused: 0, statuses: {} };
  let next = 0;
  let stopping = false;
  const callId = (k) => String(7_000_000 + k);

  const worker = async () => {
    while (!stopping) {
      const k = next++;
      const v = { bound: false, hooked: false };
      visitors.set(k, v);
      while (!stopping && !v.bound) {
        const r = await bind(url, k);
        c.statuses[`binding ${r.status || r.error}`] = (c.statuses[`binding ${r.status || r.error}`] ?? 0) + 1;
        if (r.status === 204) v.bound = true;
        else if (r.status === 0) { c.bindFail++; await sleep(50); }
        else { c.bindRefused++; await sleep(50); }
      }
      if (v.bound) c.bindAck++;
      while (!stopping && v.bound && !v.hooked) {
        const r = await webhook(url, k, callId(k));
        c.statuses[`webhook ${r.status || r.error}`] = (c.statuses[`webhook ${r.status || r.error}`] ?? 0) + 1;
        if (r.status === 200) v.hooked = true;
        else if (r.status === 0) { c.hookFail++; await sleep(50); }
        else { c.hookRefused++; await sleep(50); }
      }
      if (v.hooked) c.hookAck++;
    }
  };

  const started = Date.now();
  const workers = Array.from({ length: size.workers }, worker);
  let kills = 0;
  const restartMs = [];
  const killedAt = [];
  const spawnedAt = []; // when the next process was started after each kill
  try {
    for (let i = 0; i < size.kills; i++) {
      await sleep(rand(300, quick ? 1000 : 1800));
      killedAt.push(Date.now());
      await kill(relay, "SIGKILL");
      kills++;
      await sleep(rand(50, 250));
      const t = Date.now();
      spawnedAt.push(t);
      relay = await startRelayRetrying(cfg, logFile);
      restartMs.push(Date.now() - t);
    }
    await sleep(500); // some load on the last start too
  } finally {
    stopping = true;
    await Promise.all(workers);
  }
  const loadSeconds = (Date.now() - started) / 1000;
  // A binding acknowledged just before the load stopped may have no webhook yet: Calltouch's
  // call ends now, with the relay up (no more kills).
  let late = 0;
  for (const [k, v] of visitors) {
    if (v.bound && !v.hooked) {
      const r = await waitFor(10, async () => (await webhook(url, k, callId(k))).status === 200);
      if (r) { v.hooked = true; late++; }
    }
  }
  const expected = [...visitors].filter(([, v]) => v.bound).map(([k]) => k);
  const unhooked = [...visitors].filter(([, v]) => v.bound && !v.hooked).length;

  // Drain: every acknowledged lead decided and delivered, the outbox empty.
  const drainStart = Date.now();
  const settled = await waitFor(quick ? 60 : 120, async () => {
    const m = await metrics(url);
    if (!m || m.depth !== 0) return false;
    for (const k of expected) if ((await trail(url, `call-${callId(k)}`)).status !== "sent") return false;
    return true;
  }, 500);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  // No wait needed before reading the receiver: it records a postback before answering it, and
  // the relay records "sent" only after that answer.

  const accepted = rx.accepted();
  let lost = 0, wrongAid = 0, duplicates = 0, attemptsMax = 0, explained = 0;
  const unexplained = [];
  const lostIds = [];
  const statuses = {};
  for (const k of expected) {
    const lead = `call-${callId(k)}`;
    const t = await trail(url, lead);
    statuses[t.status] = (statuses[t.status] ?? 0) + 1;
    attemptsMax = Math.max(attemptsMax, (t.attempts ?? []).length);
    const got = accepted.get(`ct-call-${callId(k)}`) ?? [];
    const right = got.filter((p) => p.aid === aidOf(k));
    wrongAid += got.length - right.length;
    if (t.status !== "sent" || right.length === 0) { lost++; lostIds.push(`${lead} (${t.status}, ${got.length} received)`); }
    duplicates += Math.max(0, got.length - 1);
    // A repeat is explained by kill j when the earlier postback reached the receiver before the
    // next process was started (so a process up to the killed one sent it; the receiver may see
    // it a few ms after the SIGKILL) and the later one after the kill.
    for (let i = 1; i < got.length; i++) {
      if (killedAt.some((t, j) => got[i - 1].at <= spawnedAt[j] && t <= got[i].at)) explained++;
      else {
        unexplained.push(`ct-call-${callId(k)}`);
        details.crashUnexplained = [...(details.crashUnexplained ?? []), { id: `ct-call-${callId(k)}`, arrivals: got.map((p) => p.at), trail: t }];
      }
    }
  }
  // Postbacks for conversions whose binding or webhook was committed but not acknowledged (the
  // kill fell between commit and answer): legitimate, but each must carry its visitor's id.
  const expectedIds = new Set(expected.map((k) => `ct-call-${callId(k)}`));
  const strays = [...accepted].filter(([id]) => !expectedIds.has(id));
  const stray = strays.length;
  const strayWrong = strays.filter(([id, ps]) => ps.some((p) => p.aid !== aidOf(Number(id.replace("ct-call-", "")) - 7_000_000))).length;
  const m = await metrics(url);
  await kill(relay, "SIGTERM");
  rx.close();

  const rejected = Object.entries(c.statuses).filter(([s]) => !/ (204|200|ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|TimeoutError|AbortError|\w+Error)$/.test(s));
  details.crash = { kills, restartMs, loadSeconds, drainSeconds, visitors: visitors.size, acknowledgedBindings: expected.length,
    late, unhooked, counters: c, statuses, lost, lostIds: lostIds.slice(0, 20), duplicates, wrongAid, stray, attemptsMax,
    storedBindings: m?.rows.bindings, killedAt, spawnedAt, explained, unexplained, postbacksReceived: rx.posts.length, metrics: m?.postbacks };
  const sorted = [...restartMs].sort((a, b) => a - b);
  console.log(`  ${kills} SIGKILLs over ${loadSeconds.toFixed(1)} s, restart to listening: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms`);
  console.log(`  requests: ${JSON.stringify(c.statuses)}`);
  console.log(`  leads: ${JSON.stringify(statuses)}, drained in ${drainSeconds.toFixed(1)} s, most attempts for one lead ${attemptsMax}`);
  row("crash", `${kills} SIGKILLs under load`, quick ? "≥ 3" : "≥ 20", kills >= (quick ? 3 : 20));
  row("crash", `${expected.length} bindings acknowledged (${visitors.size} visitors, ${m?.rows.bindings ?? "?"} stored)`, "≥ 1, stored ≥ acknowledged",
    expected.length > 0 && (m?.rows.bindings ?? 0) >= expected.length);
  row("crash", `lost: ${lost} of ${expected.length} acknowledged leads${lostIds.length ? ` (${lostIds.slice(0, 3).join(", ")})` : ""}`, "0", lost === 0 && settled && unhooked === 0);
  row("crash", `postbacks with a wrong aid: ${wrongAid + strayWrong} (${stray} conversions committed but not acknowledged at a kill, ${strayWrong} of them wrong)`, "0", wrongAid === 0 && strayWrong === 0);
  row("crash", `duplicates: ${duplicates} postbacks beyond the first for one conversion id (${(duplicates / Math.max(1, kills)).toFixed(1)} per kill)`, "reported", null);
  row("crash", `duplicates with a kill between the two: ${explained} of ${duplicates}${unexplained.length ? ` (not: ${unexplained.slice(0, 3).join(", ")})` : ""}`,
    "all (only postbacks in flight at a kill repeat)", unexplained.length === 0);
  if (rejected.length) row("crash", `refused requests: ${JSON.stringify(Object.fromEntries(rejected))}`, "none", false);
}

// ---------------------------------------------------------------- outage

async function outage() {
  const dir = join(work, "outage");
  mkdirSync(dir, { recursive: true });
  const rx = await receiver();
  const db = join(dir, "aidlink.db");
  const cfg = join(dir, "relay.toml");
  writeFileSync(cfg, config({ db, endpoint: rx.endpoint, rtb: "timeout_ms = 500\nretry_base_ms = 100\nretry_cap_ms = 400" }));
  const relay = await startRelay(cfg, join(dir, "relay.log"));
  const o = {};
  try {
    const n = size.leads;
    const callId = (k) => String(8_000_000 + k);
    rx.state.mode = 503;
    for (let k = 0; k < n; k++) {
      const b = await bind(relay.url, k);
      const h = await webhook(relay.url, k, callId(k));
      if (b.status !== 204 || h.status !== 200) throw new Error(`lead ${k}: binding ${b.status}, webhook ${h.status}`);
    }
    // 503: every lead retrying.
    const allRetrying = await waitFor(10, async () => {
      for (let k = 0; k < n; k++) if ((await trail(relay.url, `call-${callId(k)}`)).status !== "retrying") return false;
      return true;
    });
    await sleep(size.faultSeconds * 1000);
    o.answered503 = rx.count(503);
    // Hanging: no answer at all, past timeout_ms.
    rx.state.mode = "hang";
    await sleep(size.faultSeconds * 1000);
    o.hung = rx.count("hang");
    const stillRetrying = (await metrics(relay.url)).depth;
    // Recovery.
    const recoveredAt = Date.now();
    rx.state.mode = "ok";
    rx.unhang();
    const allSent = await waitFor(30, async () => {
      const m = await metrics(relay.url);
      if (m.depth !== 0) return false;
      for (let k = 0; k < n; k++) if ((await trail(relay.url, `call-${callId(k)}`)).status !== "sent") return false;
      return true;
    });
    o.recoverySeconds = (Date.now() - recoveredAt) / 1000;
    const acc = rx.accepted();
    const once = Array.from({ length: n }, (_, k) => (acc.get(`ct-call-${callId(k)}`) ?? []).length);
    o.deliveredOnce = once.filter((x) => x === 1).length;
    o.deliveredTwice = once.filter((x) => x > 1).length;
    o.undelivered = once.filter((x) => x === 0).length;
    const wrong = [...acc].filter(([id, ps]) => ps.some((p) => p.aid !== aidOf(Number(id.replace("ct-call-", "")) - 8_000_000))).length;
    console.log(`  ${n} leads; 503 phase: ${o.answered503} answers; hang phase: ${o.hung} requests left unanswered (timeout_ms 500); outbox depth before recovery ${stillRetrying}`);
    row("outage", `503 answered to ${o.answered503} attempts, all ${n} leads retrying`, "> 0, all retrying", o.answered503 > 0 && !!allRetrying);
    row("outage", `${o.hung} attempts timed out against a hanging RTB House`, "> 0", o.hung > 0);
    row("outage", `after recovery: ${o.deliveredOnce} of ${n} delivered once (${o.deliveredTwice} twice, ${o.undelivered} not) in ${o.recoverySeconds.toFixed(1)} s; wrong aid ${wrong}`,
      `${n} once`, !!allSent && o.deliveredOnce === n && wrong === 0);

    // 400: dead letter, then replay.
    const k = n;
    const lead = `call-${callId(k)}`;
    rx.state.mode = 400;
    const b = await bind(relay.url, k);
    const h = await webhook(relay.url, k, callId(k));
    if (b.status !== 204 || h.status !== 200) throw new Error(`dead-letter lead: binding ${b.status}, webhook ${h.status}`);
    const dead = await waitFor(10, async () => (await trail(relay.url, lead)).status === "dead");
    const deadTrail = await trail(relay.url, lead);
    o.answered400 = rx.count(400);
    rx.state.mode = "ok";
    // A dead letter stays dead: a later lead is delivered (the outbox has claimed since) and
    // the dead one still is not.
    const marker = `call-${callId(k + 1)}`;
    const mb = await bind(relay.url, k + 1);
    const mh = await webhook(relay.url, k + 1, callId(k + 1));
    if (mb.status !== 204 || mh.status !== 200) throw new Error(`marker lead: binding ${mb.status}, webhook ${mh.status}`);
    if (!(await waitFor(10, async () => (await trail(relay.url, marker)).status === "sent"))) throw new Error(`${marker} was not delivered`);
    const beforeReplay = (rx.accepted().get(`ct-call-${callId(k)}`) ?? []).length;
    const replay = spawnSync(relayBin, ["replay", "--config", cfg, "--site", SITE, "--lead", lead], { encoding: "utf8" });
    o.replay = { status: replay.status, stdout: replay.stdout.trim(), stderr: replay.stderr.trim().slice(-300) };
    const sent = await waitFor(10, async () => (await trail(relay.url, lead)).status === "sent");
    await waitFor(5, async () => (await metrics(relay.url)).depth === 0);
    const after = (rx.accepted().get(`ct-call-${callId(k)}`) ?? []).length;
    console.log(`  400: ${lead} ${deadTrail.status} after ${o.answered400} attempt(s) (reason ${deadTrail.reason}); replay exit ${replay.status}: ${o.replay.stdout || o.replay.stderr}`);
    row("outage", `400 → ${lead} ${deadTrail.status}, ${beforeReplay} sent before replay`, "dead, 0", !!dead && beforeReplay === 0 && o.answered400 === 1);
    row("outage", `replay (exit ${replay.status}) → ${sent ? "sent" : (await trail(relay.url, lead)).status}, delivered ${after}×`, "sent, 1×", replay.status === 0 && !!sent && after === 1);
  } finally {
    details.outage = o;
    await kill(relay, "SIGTERM");
    rx.close();
  }
}

// ---------------------------------------------------------------- storage faults

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The ids in the bindings table and SQLite's integrity check, read with Python's sqlite3. */
function inspect(db) {
  const py = "import sqlite3,sys,json\nc=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro',uri=True)\n" +
    "print(json.dumps({'ids':[r[0] for r in c.execute('select id from bindings')],'leads':c.execute('select count(*) from leads').fetchone()[0],'check':c.execute('pragma integrity_check').fetchone()[0]}))";
  try {
    return JSON.parse(execFileSync("python3", ["-c", py, db], { encoding: "utf8" }));
  } catch (e) {
    return { error: String(e.message).slice(0, 200) };
  }
}

async function ready(url) {
  return (await request(`${url}/readyz`)).status;
}

async function storage() {
  const s = (details.storage = {});
  if (process.getuid?.() !== 0) {
    row("storage", "skipped: needs root to mount a tmpfs", "", null);
    return;
  }
  const dir = join(work, "storage");
  const mnt = join(dir, "fs");
  mkdirSync(mnt, { recursive: true });
  const mount = sh("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", mnt]);
  if (mount.ok) mounts.add(mnt);
  if (!mount.ok) {
    row("storage", `skipped: needs root to mount a tmpfs (${mount.out})`, "", null);
    return;
  }
  const rx = await receiver();
  let relay;
  const logFile = join(dir, "relay.log");
  try {
    const db = join(mnt, "aidlink.db");
    const cfg = join(dir, "relay.toml");
    writeFileSync(cfg, config({ db, endpoint: rx.endpoint }));
    relay = await startRelay(cfg, logFile);
    const acked = new Set();
    let seq = 0;
    const counts = {};
    /** Sends `n` new bindings, `conc` at a time; statuses counted; acknowledged ids kept. */
    const burst = async (n, conc = 8) => {
      const got = {};
      let left = n;
      await Promise.all(Array.from({ length: conc }, async () => {
        while (left-- > 0) {
          const id = `st-${seq}`;
          const k = seq++;
          const r = await bind(relay.url, k, id);
          got[r.status] = (got[r.status] ?? 0) + 1;
          counts[r.status] = (counts[r.status] ?? 0) + 1;
          if (r.status === 503 && r.retryAfter) got.retryAfter = (got.retryAfter ?? 0) + 1;
          if (r.status === 204) acked.add(id);
        }
      }));
      return got;
    };
    const files = () => Object.fromEntries(readdirSync(mnt).map((f) => [f, statSync(join(mnt, f)).size]));
    s.first = await burst(200);
    s.readyBefore = await ready(relay.url);
    s.filesBefore = files();
    s.df = sh("df", ["-k", mnt]).out;
    log(`storage: first bindings ${JSON.stringify(s.first)}, /readyz ${s.readyBefore}, files ${JSON.stringify(s.filesBefore)}`);

    // Full: a filler file takes every free byte.
    const filler = join(mnt, "filler");
    const fd = openSync(filler, "w");
    const chunk = Buffer.alloc(64 * 1024, 1);
    let filled = 0;
    try {
      for (;;) filled += writeSync(fd, chunk);
    } catch (e) {
      if (e.code !== "ENOSPC") throw e;
    }
    // Fill the last partial block too.
    try { for (;;) filled += writeSync(fd, chunk.subarray(0, 512)); } catch { /* ENOSPC */ }
    closeSync(fd);
    // Bindings until the relay refuses (the WAL may hold a little room already allocated).
    let refusedAfter = 0;
    let firstRefusal = null;
    for (let i = 0; i < 200 && !firstRefusal; i++) {
      const got = await burst(20);
      refusedAfter += got[204] ?? 0;
      if (got[503]) firstRefusal = got;
    }
    const fullStatuses = await burst(20);
    const hook = await webhook(relay.url, 1, "9100001");
    const readyFull = await waitFor(5, async () => (await ready(relay.url)) === 503);
    const healthFull = (await request(`${relay.url}/healthz`)).status;
    const rowsFull = (await metrics(relay.url))?.rows.bindings;
    s.full = { filled, refusedAfter, firstRefusal, fullStatuses, hook: hook.status, readyz: readyFull ? 503 : await ready(relay.url), healthz: healthFull, rowsFull, acked: acked.size };
    console.log(`  full: filler ${(filled / 1048576).toFixed(2)} MB; ${refusedAfter} more bindings fit; then ${JSON.stringify(fullStatuses)}; webhook ${hook.status}; /readyz ${s.full.readyz}; /healthz ${healthFull}`);
    row("storage", `disk full: bindings ${JSON.stringify(fullStatuses)}, webhook ${hook.status}${hook.retryAfter ? " (Retry-After)" : ""}`, "503 with Retry-After",
      !!firstRefusal && (fullStatuses[503] ?? 0) === 20 && fullStatuses.retryAfter === 20 && hook.status === 503 && !!hook.retryAfter);
    // Known open failure: the probe's one-page write can still commit where ingest cannot.
    const known = readyFull ? "" : " (the write probe still commits: RELIABILITY.md, Residual risks)";
    row("storage", `disk full: /readyz ${s.full.readyz}, /healthz ${healthFull}${known}`, "503, 200", !!readyFull && healthFull === 200);

    // Space returns.
    rmSync(filler);
    const backAt = Date.now();
    const writes = await waitFor(10, async () => (await burst(1, 1))[204] === 1);
    const readyBack = await waitFor(10, async () => (await ready(relay.url)) === 200);
    const backSeconds = (Date.now() - backAt) / 1000;
    const after = await burst(50);
    const hookBack = await webhook(relay.url, 1, "9100002");
    s.recovered = { writes: !!writes, readyz: !!readyBack, seconds: backSeconds, after, hook: hookBack.status };
    row("storage", `space back: writes ${writes ? "accepted" : "still refused"}, /readyz ${readyBack ? 200 : await ready(relay.url)} within ${backSeconds.toFixed(1)} s, then ${JSON.stringify(after)}, webhook ${hookBack.status}`,
      "204, 200", !!writes && !!readyBack && after[204] === 50 && hookBack.status === 200);

    // Read-only. Linux refuses `remount,ro` while a file on it is open for writing (the relay's
    // database is), so try it, and if it is refused, make the file system read-only between a
    // stop and a start instead: `serve` must refuse to start, and start once it is writable.
    const ro = sh("mount", ["-o", "remount,ro", mnt]);
    if (ro.ok) {
      const roStatuses = await burst(10);
      const readyRo = await waitFor(5, async () => (await ready(relay.url)) === 503);
      s.readOnly = { live: true, statuses: roStatuses, readyz: !!readyRo };
      row("storage", `read-only while running: bindings ${JSON.stringify(roStatuses)}, /readyz ${readyRo ? 503 : 200}`, "503, 503", (roStatuses[503] ?? 0) === 10 && !!readyRo);
      sh("mount", ["-o", "remount,rw", mnt]);
    } else {
      await kill(relay, "SIGTERM");
      relay = null;
      const ro2 = sh("mount", ["-o", "remount,ro", mnt]);
      if (!ro2.ok) throw new Error(`remount,ro failed even with the relay stopped: ${ro2.out}`);
      const before = readFileSync(logFile, "utf8").length;
      const t = Date.now();
      const refused = await startRelay(cfg, logFile).then((r) => ({ started: r }), (e) => ({ error: e.message }));
      const said = readFileSync(logFile, "utf8").slice(before).trim().split("\n").filter(Boolean).at(-1) ?? "";
      if (refused.started) { relay = refused.started; }
      s.readOnly = { live: false, remountWhileOpen: ro.out, refusedToStart: !!refused.error, said, seconds: (Date.now() - t) / 1000 };
      console.log(`  read-only: remount while the relay runs refused by Linux (${ro.out.split("\n")[0]}); serve on it: ${refused.error ?? "started"}: ${said.slice(0, 200)}`);
      row("storage", `read-only: serve ${refused.error ? "refuses to start" : "STARTED"} (${said.replace(/^.*storage\.url = "[^"]*": /, "").slice(0, 80)})`, "refuses, says why", !!refused.error);
      if (relay) await kill(relay, "SIGTERM");
      sh("mount", ["-o", "remount,rw", mnt]);
      relay = await startRelay(cfg, logFile);
    }
    const readyRw = await waitFor(10, async () => (await ready(relay.url)) === 200);
    const rwStatuses = await burst(20);
    row("storage", `writable again: /readyz ${readyRw ? 200 : await ready(relay.url)}, bindings ${JSON.stringify(rwStatuses)}`, "200, 204", !!readyRw && rwStatuses[204] === 20);

    // Nothing half-written: the table holds exactly the acknowledged bindings, and is sound.
    await kill(relay, "SIGTERM");
    relay = null;
    const db2 = inspect(db);
    if (db2.error) {
      row("storage", `database not inspected (python3 sqlite3: ${db2.error})`, "", null);
    } else {
      const stored = new Set(db2.ids);
      const missing = [...acked].filter((id) => !stored.has(id)).length;
      const extra = [...stored].filter((id) => !acked.has(id)).length;
      s.inspect = { stored: stored.size, acked: acked.size, missing, extra, leads: db2.leads, check: db2.check, statuses: counts };
      row("storage", `stored ${stored.size} bindings = acknowledged ${acked.size} (lost ${missing}, refused but stored ${extra}); leads ${db2.leads}; integrity_check ${db2.check}`,
        "lost 0, extra 0, leads 1 (the refused webhook's is not), ok", missing === 0 && extra === 0 && db2.leads === 1 && db2.check === "ok");
    }
    await readOnlyLive(dir, rx);
  } finally {
    if (relay) await kill(relay, "SIGKILL");
    rx.close();
    const u = sh("umount", [mnt]);
    if (!u.ok) {
      log(`umount ${mnt}: ${u.out}; lazy unmount`);
      sh("umount", ["-l", mnt]);
    }
    mounts.delete(mnt);
  }
}

/**
 * A file system that turns read-only under the running relay, as the kernel does to a failing
 * disk: ext4 on a loop device mounted `errors=remount-ro`, then an error triggered through
 * /sys/fs/ext4/<dev>/trigger_fs_error (the file system goes read-only with the database still
 * open). Writes must be refused with 503, /readyz 503; recovery: remount read-write, or (when the
 * kernel wants a check first) stop, e2fsck, mount, start; then what was acknowledged is all there.
 */
async function readOnlyLive(dir, rx) {
  const s = (details.storage.readOnlyLive = {});
  const img = join(dir, "ext4.img");
  const mnt = join(dir, "ext4");
  mkdirSync(mnt, { recursive: true });
  writeFileSync(img, "");
  const made = sh("truncate", ["-s", "32M", img]).ok && sh("mkfs.ext4", ["-q", "-F", img]).ok;
  const mounted = made && sh("mount", ["-o", "loop,errors=remount-ro", img, mnt]);
  if (!mounted?.ok) {
    row("storage", `read-only while running: skipped (no loop device or mkfs.ext4: ${mounted?.out ?? "mkfs failed"})`, "", null);
    rmSync(img, { force: true });
    return;
  }
  mounts.add(mnt);
  const dev = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")).find((f) => f[1] === mnt)?.[0] ?? "";
  const trigger = `/sys/fs/ext4/${dev.split("/").pop()}/trigger_fs_error`;
  let relay;
  const logFile = join(dir, "relay-ext4.log");
  try {
    const db = join(mnt, "aidlink.db");
    const cfg = join(dir, "relay-ext4.toml");
    writeFileSync(cfg, config({ db, endpoint: rx.endpoint }));
    relay = await startRelay(cfg, logFile);
    const acked = new Set();
    let seq = 0;
    const burst = async (n) => {
      const got = {};
      for (let i = 0; i < n; i++) {
        const id = `ro-${seq}`;
        const r = await bind(relay.url, 20_000 + seq++, id);
        got[r.status] = (got[r.status] ?? 0) + 1;
        if (r.status === 503 && r.retryAfter) got.retryAfter = (got.retryAfter ?? 0) + 1;
        if (r.status === 204) acked.add(id);
      }
      return got;
    };
    s.before = await burst(100);
    try {
      writeFileSync(trigger, "reliability harness: read-only under a running relay");
    } catch (e) {
      row("storage", `read-only while running: skipped (${trigger}: ${e.code ?? e.message})`, "", null);
      return;
    }
    const opts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")).find((f) => f[1] === mnt)?.[3] ?? "";
    s.mountOptions = opts;
    const roStatuses = await burst(20);
    const hook = await webhook(relay.url, 20_000, "9200001");
    const readyRo = await waitFor(5, async () => (await ready(relay.url)) === 503);
    const readyText = (await request(`${relay.url}/readyz`)).text ?? "";
    const health = (await request(`${relay.url}/healthz`)).status;
    s.readOnly = { roStatuses, hook: hook.status, readyz: !!readyRo, readyText, health };
    console.log(`  read-only (ext4 ${opts.split(",")[0]}${opts.includes("emergency_ro") ? ", emergency_ro" : ""}): bindings ${JSON.stringify(roStatuses)}, webhook ${hook.status}, /readyz ${readyRo ? 503 : 200} ${readyText.slice(0, 120)}`);
    row("storage", `read-only under the running relay: bindings ${JSON.stringify(roStatuses)}, webhook ${hook.status}`, "503 with Retry-After",
      (opts.startsWith("ro") || opts.includes("emergency_ro")) && roStatuses[503] === 20 && roStatuses.retryAfter === 20 && hook.status === 503);
    row("storage", `read-only under the running relay: /readyz ${readyRo ? 503 : 200}, /healthz ${health}`, "503, 200", !!readyRo && health === 200);

    // Recovery: read-write again, in place if the kernel allows it.
    const t = Date.now();
    const rw = sh("mount", ["-o", "remount,rw", mnt]);
    let how = "remount,rw under the running relay";
    let readyBack = rw.ok && (await waitFor(5, async () => (await ready(relay.url)) === 200));
    if (!readyBack) {
      how = `stop, e2fsck, mount, start${rw.ok ? " (remount,rw took, /readyz stayed 503)" : " (remount,rw refused)"}`;
      await kill(relay, "SIGTERM");
      relay = null;
      sh("umount", [mnt]);
      s.fsck = sh("e2fsck", ["-fy", img]).out.split("\n").at(-1);
      const again = sh("mount", ["-o", "loop,errors=remount-ro", img, mnt]);
      if (!again.ok) throw new Error(`mount after e2fsck: ${again.out}`);
      relay = await startRelay(cfg, logFile);
      readyBack = await waitFor(10, async () => (await ready(relay.url)) === 200);
    }
    const after = await burst(20);
    s.recovery = { how, seconds: (Date.now() - t) / 1000, after };
    row("storage", `read-only → writable (${how}): /readyz ${readyBack ? 200 : "not 200"}, bindings ${JSON.stringify(after)}`, "200, 204", !!readyBack && after[204] === 20);

    await kill(relay, "SIGTERM");
    relay = null;
    const d = inspect(db);
    if (d.error) {
      row("storage", `ext4 database not inspected (python3 sqlite3: ${d.error})`, "", null);
    } else {
      const stored = new Set(d.ids);
      const missing = [...acked].filter((id) => !stored.has(id)).length;
      const extra = [...stored].filter((id) => !acked.has(id)).length;
      s.inspect = { stored: stored.size, acked: acked.size, missing, extra, leads: d.leads, check: d.check };
      row("storage", `after read-only: stored ${stored.size} = acknowledged ${acked.size} (lost ${missing}, refused but stored ${extra}); leads ${d.leads}; integrity_check ${d.check}`,
        "lost 0, extra 0, leads 0, ok", missing === 0 && extra === 0 && d.leads === 0 && d.check === "ok");
    }
  } finally {
    if (relay) await kill(relay, "SIGKILL");
    if (!sh("umount", [mnt]).ok) sh("umount", ["-l", mnt]);
    mounts.delete(mnt);
    rmSync(img, { force: true });
  }
}

// ---------------------------------------------------------------- main

// ---------------------------------------------------------------- hostile HTTP

/** The relay's resident memory (MB) and open file descriptors, from /proc. */
function footprint(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number((status.match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0);
  return { rss: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** A raw connection that sends `head` (and `body`, if any) and stays open; `closed` resolves
 * when the relay (or we) close it. */
function hold(port, head, body = "") {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const closed = new Promise((done) => socket.once("close", () => done(Date.now())));
  socket.once("connect", () => socket.write(head + body));
  return { socket, closed };
}

/** Sends `text` on a raw connection (from the loopback address `from`, default 127.0.0.1); the
 * status codes of the responses that came back within `ms` (or before the relay closed the
 * connection), and the raw answer. */
function raw(port, text, ms = 3000, from = undefined) {
  return new Promise((done) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    let answer = "";
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      done({ statuses: [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])), answer });
    };
    const timer = setTimeout(finish, ms);
    socket.on("data", (d) => { answer += d; });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.once("connect", () => socket.write(text));
  });
}

async function hostile() {
  const dir = join(work, "hostile");
  mkdirSync(dir, { recursive: true });
  const cap = 128;
  const perAddress = 64;
  const cfg = join(dir, "relay.toml");
  const rx = await receiver();
  writeFileSync(cfg, config({
    db: join(dir, "aidlink.db"),
    endpoint: rx.endpoint,
    server: `max_connections = ${cap}\nmax_connections_per_ip = ${perAddress}\nheader_read_timeout_ms = 2000\nbody_read_timeout_ms = 2000\nidle_timeout_ms = 5000`,
  }));
  const openFiles = 256;
  const relay = await startRelay(cfg, join(dir, "relay.log"), { openFiles });
  try {
    const base = footprint(relay.child.pid);
    const n = quick ? 100 : 400;
    let peak = { ...base };
    const sample = setInterval(() => {
      const f = footprint(relay.child.pid);
      peak = { rss: Math.max(peak.rss, f.rss), fds: Math.max(peak.fds, f.fds) };
    }, 20);
    const started = Date.now();
    // Bodies of 2 MB declared with a wrong token (refused before they are read), and
    // slowloris: a request head one byte every 500 ms.
    const bodies = [];
    for (let i = 0; i < n; i++) {
      bodies.push(hold(relay.port, `POST /v1/calltouch/${SITE}?token=wrong-token-000000000000 HTTP/1.1\r\nHost: x\r\n` +
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000000\r\n\r\n", "a".repeat(64 * 1024)));
    }
    const slow = [];
    for (let i = 0; i < n; i++) slow.push(hold(relay.port, "GET /healthz HTTP/1.1\r\nHo"));
    const drip = setInterval(() => slow.forEach((c) => c.socket.writable && c.socket.write("s")), 500);
    // While the flood from 127.0.0.1 holds its connections, another address is served.
    const during = await raw(relay.port, "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n", 3000, "127.0.0.2");
    const slowClosed = await waitFor(15, async () => {
      const done = await Promise.all(slow.map((c) => Promise.race([c.closed, sleep(0).then(() => null)])));
      return done.every(Boolean) ? done : null;
    }, 250);
    clearInterval(drip);
    clearInterval(sample);
    const closedIn = slowClosed ? (Math.max(...slowClosed) - started) / 1000 : null;
    for (const c of [...bodies, ...slow]) c.socket.destroy();
    const healthy = await waitFor(10, async () => (await request(`${relay.url}/healthz`)).status === 200);
    const after = await waitFor(10, async () => {
      const f = footprint(relay.child.pid);
      return f.fds <= base.fds + 4 ? f : null;
    }, 250);
    const mb = (x) => `${x.toFixed(1)} MB`;
    details.hostile = { base, peak, after, n, cap, closedIn };
    row("hostile", `under ulimit -n ${openFiles}, ${n} × 2 MB bodies with a wrong token + ${n} slowloris: RSS ${mb(base.rss)} → peak ${mb(peak.rss)} → ${after ? mb(after.rss) : "?"}`,
      "peak < start + 64 MB", peak.rss < base.rss + 64);
    row("hostile", `open files ${base.fds} → peak ${peak.fds} (max_connections ${cap}) → ${after ? after.fds : "not back"}`,
      `peak ≤ ${cap} + 32, back to start`, peak.fds <= base.fds + cap + 32 && !!after);
    row("hostile", `slowloris: all ${n} closed by the relay${closedIn === null ? " — NOT within 15 s" : ` within ${closedIn.toFixed(1)} s of the flood's start`} (header timeout 2 s; those over the cap at once)`,
      "all, within 15 s", closedIn !== null);
    row("hostile", `/healthz from another address during the flood: ${during.statuses.join(", ") || "no answer"} (max_connections_per_ip ${perAddress})`, "200", during.statuses[0] === 200);
    row("hostile", `/healthz after the flood: ${healthy ? 200 : "no answer"}`, "200", !!healthy);
    // One of each other kind of hostile request.
    const h = "Host: relay\r\n";
    const form = "Content-Type: application/x-www-form-urlencoded\r\n";
    const cases = [
      ["oversize webhook (70 000 B declared, right token)", `POST /v1/calltouch/${SITE}?token=${TOKEN} HTTP/1.1\r\n${h}${form}Content-Length: 70000\r\n\r\n`, (s) => s[0] === 413, "413"],
      ["two different Content-Lengths (smuggling)", `POST /v1/bindings HTTP/1.1\r\n${h}Content-Type: text/plain\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd`, (s) => s.length === 1 && s[0] === 400, "400, nothing else served"],
      ["Content-Length beside chunked, a request hidden in the body (smuggling)", `POST /v1/bindings HTTP/1.1\r\n${h}Content-Type: text/plain\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\n${h}\r\n`, (s, a) => !a.includes("aidlink_bindings_total") && s[0] >= 400, "refused, the hidden request not served"],
      ["path traversal", `GET /../../../../etc/passwd HTTP/1.1\r\n${h}\r\n`, (s, a) => s[0] >= 400 && !a.includes("root:"), "4xx, no file"],
      ["encoded path traversal", `GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n${h}\r\n`, (s, a) => s[0] >= 400 && !a.includes("root:"), "4xx, no file"],
      ["CORS preflight from a foreign origin", `OPTIONS /v1/bindings HTTP/1.1\r\n${h}Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n`, (s, a) => s[0] === 403 && !/access-control-allow-origin/i.test(a), "403, no CORS header"],
      ["binding from a foreign origin", `POST /v1/bindings HTTP/1.1\r\n${h}Origin: https://evil.example\r\nContent-Type: text/plain\r\nContent-Length: ${bindingBody(1).length}\r\n\r\n${bindingBody(1)}`, (s) => s[0] === 403, "403"],
    ];
    for (const [what, text, ok, expected] of cases) {
      const r = await raw(relay.port, text);
      row("hostile", `${what}: ${r.statuses.join(", ") || "closed, no answer"}`, expected, ok(r.statuses, r.answer));
    }
    // A webhook with the right token whose body comes at one byte a second: cut off at the
    // body timeout (2 s), not held for its 300 declared bytes.
    const slowBody = hold(relay.port, `POST /v1/calltouch/${SITE}?token=${TOKEN} HTTP/1.1\r\n${h}${form}Content-Length: 300\r\n\r\n`, "leadtype=call");
    const slowStart = Date.now();
    const answered = new Promise((done) => slowBody.socket.once("data", (d) => done({ at: Date.now(), status: String(d).slice(9, 12) })));
    const trickle = setInterval(() => slowBody.socket.writable && slowBody.socket.write("&"), 1000);
    const cutAt = await Promise.race([slowBody.closed, sleep(10_000).then(() => null)]);
    clearInterval(trickle);
    slowBody.socket.destroy();
    const a = await Promise.race([answered, sleep(0).then(() => null)]);
    const secs = (t) => `${((t - slowStart) / 1000).toFixed(1)} s`;
    row("hostile", `a webhook body at 1 byte/s (right token): ${a ? `${a.status} after ${secs(a.at)}` : "no answer"}, ${cutAt ? `closed after ${secs(cutAt)}` : "still open after 10 s"}`,
      "408 within body timeout (2 s) + 1 s, then closed", a?.status === "408" && a.at - slowStart <= 3000 && cutAt !== null);
    // A forged binding: someone who knows a visitor's session posts another RTB House id for it
    // later, without an Origin. Calltouch's own visitor id in the webhook keeps the credit.
    const victim = 900;
    const real = await bind(relay.url, victim);
    const forged = await request(`${relay.url}/v1/bindings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ v: 1, id: "forged-900", site: SITE, session: session(victim), ct_client: ctClient(victim + 1), aid: "ForgedAid0123456789" }),
    });
    const hook = await webhook(relay.url, victim, "9900900");
    const credited = await waitFor(10, async () => {
      const t = await trail(relay.url, "call-9900900");
      return t.status === "sent" ? t : null;
    });
    const got = rx.accepted().get("ct-call-9900900") ?? [];
    row("hostile", `forged binding for a known session (answers ${real.status}, ${forged.status}, webhook ${hook.status}): postback to ${got.map((p) => p.aid).join(", ") || "none"}`,
      "one postback, the real visitor's id", !!credited && got.length === 1 && got[0].aid === aidOf(victim));
    const rest = footprint(relay.child.pid);
    row("hostile", `after every case: RSS ${mb(rest.rss)}, open files ${rest.fds}`, "RSS < start + 64 MB, files back (+ 8: the relay's keep-alive connections to RTB House)", rest.rss < base.rss + 64 && rest.fds <= base.fds + 8);
  } finally {
    await kill(relay, "SIGTERM");
    rx.close();
  }
}

async function main() {
  // A tmpfs left by a run that was killed outright (SIGKILL) would keep the folder busy.
  if (readFileSync("/proc/mounts", "utf8").includes(` ${join(work, "storage", "fs")} `)) spawnSync("umount", ["-l", join(work, "storage", "fs")]);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const startedAt = new Date();
  const load0 = loadavg();
  log(`${quick ? "quick" : "full"} run: ${JSON.stringify(size)}; parts ${parts.join(",")}; relay ${relayBin}; work in ${work}`);
  if (parts.includes("crash")) await part("crash", crash);
  if (parts.includes("outage")) await part("outage", outage);
  if (parts.includes("storage")) await part("storage", storage);
  if (parts.includes("hostile")) await part("hostile", hostile);
  if (parts.includes("instances")) {
    const ctx = { work, size, quick, row, receiver, startRelay, kill, bind, request, trail, metrics, waitFor, config, aidOf, callBody, TOKEN, SITE, rand };
    await part("instances", () => instances(ctx));
  }
  const env = {
    started: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt) / 1000),
    cores: cpus().length,
    loadavg_before: load0.map((x) => x.toFixed(2)).join(" "),
    loadavg_after: loadavg().map((x) => x.toFixed(2)).join(" "),
    size,
  };
  writeFileSync(join(work, "results.json"), JSON.stringify({ env, rows, details }, null, 2));
  const head = ["part", "figure", "expected", "ok?"];
  const cells = rows.map((r) => [r.part, r.figure, r.expected, r.ok]);
  const w = head.map((_, i) => Math.max(...[head, ...cells].map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(w[i])).join(" | ")} |`;
  console.log(`\nReliability (${quick ? "--quick" : "full"}), ${env.started}, ${env.seconds} s, ${env.cores} cores, load ${env.loadavg_before} → ${env.loadavg_after}`);
  console.log(line(head));
  console.log(line(w.map((n) => "-".repeat(n))));
  for (const c of cells) console.log(line(c));
  console.log(`\ndetails: ${join(work, "results.json")}`);
  if (!process.env.AIDLINK_RELIABILITY_KEEP) {
    for (const p of ["crash", "outage", "storage", "hostile", "instances"]) rmSync(join(work, p), { recursive: true, force: true });
  }
  if (failed.size) {
    console.log(`\ninvariants failed in: ${[...failed].join(", ")}`);
    process.exitCode = 1;
  }
}

const cleanup = () => {
  for (const c of children) c.kill("SIGKILL");
  for (const m of mounts) spawnSync("umount", ["-l", m]);
  mounts.clear();
};
process.on("exit", cleanup);
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});
process.on("SIGTERM", () => {
  cleanup();
  process.exit(143);
});
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
