// The relay benchmarks (`npm run bench`; BENCHMARKS.md, "Relay at volume"). scripts/bench.sh
// installs wrk and builds the release binaries, then runs this file, which drives the relay as
// built from the tree (AIDLINK_BENCH_BIN/aidlink-relay) on 127.0.0.1 and prints one summary
// table, each figure against its goal. It asserts nothing about speed: the exit status is 0
// when every benchmark ran, 1 when one could not (the table says which). It counts what the
// relay stored and decided from GET /metrics (aidlink_bindings_total{result="accepted"},
// aidlink_leads_total, aidlink_outbox_depth) and writes only config keys that `check-config`
// accepts, so it runs against the relay as built from the tree at the time.
//
//   --quick                   small sizes, a few seconds per phase (npm test runs it)
//   AIDLINK_BENCH_SMALL       stored bindings of the first webhook run        (10000;   quick 1000)
//   AIDLINK_BENCH_LARGE       stored bindings of the second                   (1000000; quick 5000)
//   AIDLINK_BENCH_SECONDS     seconds of each webhook / concurrent phase      (30;      quick 3)
//   AIDLINK_BENCH_INGEST_SECONDS  seconds of each ingest run                  (10;      quick 2)
//   AIDLINK_BENCH_POSTBACKS   postbacks queued for the 200 ms receiver        (1000;    quick 60)
//   AIDLINK_BENCH_FAIR_SECONDS    seconds of the two-site phase               (30;      quick 4)
//   AIDLINK_BENCH_RETENTION_DAYS  simulated days of the retention run         (20;      quick 6)
//   AIDLINK_BENCH_RETENTION_PER_DAY  bindings a simulated day                 (100000;  quick 2000)
//   AIDLINK_BENCH_KEEP=1      keep the work folder (databases, logs, results.json)
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync, writeFileSync, readFileSync, existsSync, openSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, cpus } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createInterface } from "node:readline";
import { postgresBench } from "./bench/postgres.mjs";
import { captureBenchmarks } from "./bench/capture.mjs";

const root = resolve(import.meta.dirname, "..");
const quick = process.argv.includes("--quick");
const num = (name, full, small) => Number(process.env[name] ?? (quick ? small : full));
const size = {
  small: num("AIDLINK_BENCH_SMALL", 10_000, 1000),
  large: num("AIDLINK_BENCH_LARGE", 1_000_000, 5000),
  seconds: num("AIDLINK_BENCH_SECONDS", 30, 3),
  ingestSeconds: num("AIDLINK_BENCH_INGEST_SECONDS", 10, 2),
  postbacks: num("AIDLINK_BENCH_POSTBACKS", 1000, 60),
  fairSeconds: num("AIDLINK_BENCH_FAIR_SECONDS", 30, 4),
  retentionDays: num("AIDLINK_BENCH_RETENTION_DAYS", 20, 6),
  retentionPerDay: num("AIDLINK_BENCH_RETENTION_PER_DAY", 100_000, 2000),
};
const bin = process.env.AIDLINK_BENCH_BIN ?? join(root, "target", "release");
const relayBin = join(bin, "aidlink-relay");
const emptyBin = join(bin, "examples", "empty_server");
const retentionBin = join(bin, "examples", "retention_bench");
const work = join(bin, "..", quick ? "bench-quick" : "bench");
const lua = join(root, "bench", "relay", "wrk.lua");

const ADMIN = "bench-admin-token-0123456789";
const TOKEN = "bench-hook-token-0123456789";
const HASH = "IYIhaCDSPfPoVd4FIEF1";
const SITE_A = "38342";
const SITE_B = "38343";
// wrk: the same threads and connections for the relay and the empty handler.
const INGEST = { threads: 2, connections: 64 };
const WEBHOOKS = { threads: 1, connections: 8 };
const SIDE_BINDINGS = { threads: 1, connections: 2 };
const LOADER = { threads: 2, connections: 32 };
const RECEIVER_MS = 200;
const CONCURRENCY = 16;
const TIMEOUT_MS = 2000;

const log = (...a) => console.error("bench:", ...a);
const children = new Set();

// ---------------------------------------------------------------- processes

/** Starts `cmd` and resolves with it once its first stdout line (the address line) names a URL. */
async function startServer(name, cmd, args, logFile) {
  const err = openSync(logFile, "a");
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", err] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const line = await new Promise((done, fail) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error(`${name} did not start in 20 s (see ${logFile})`)), 20_000);
    rl.once("line", (l) => {
      clearTimeout(timer);
      done(l);
    });
    child.once("exit", (code) => fail(new Error(`${name} exited (${code}) before listening; see ${logFile}`)));
  });
  child.stdout.resume();
  const addr = line.trim().split("http://").pop();
  return { child, url: `http://${addr}`, pid: child.pid, name };
}

async function stop(server) {
  if (!server || server.child.exitCode !== null) return;
  const gone = new Promise((done) => server.child.once("exit", done));
  server.child.kill("SIGTERM");
  const t = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(t);
}

/** Runs wrk with wrk.lua; `until` (async, polled every 250 ms) may end it early (SIGINT). */
async function wrk({ url, threads, connections, seconds, args, until, timeout = "30s" }) {
  const argv = ["-t", String(threads), "-c", String(connections), "-d", `${seconds}s`, "--timeout", timeout,
    "--latency", "-s", lua, url, "--", ...args.map(String)];
  const child = spawn("wrk", argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  // "close", not "exit": "exit" may come before the last of wrk's output has been read, and
  // its summary is that last output.
  const exited = new Promise((done) => child.on("close", (code) => { children.delete(child); done(code); }));
  let ended = false;
  exited.then(() => (ended = true));
  if (until) {
    while (!ended) {
      await sleep(250);
      if (!ended && (await until())) {
        child.kill("SIGINT");
        break;
      }
    }
  }
  const code = await exited;
  const m = out.match(/WRKJSON (\{.*\})/);
  if (!m) throw new Error(`wrk failed (exit ${code}): ${out.slice(-500)}`);
  const r = JSON.parse(m[1]);
  r.rps = r.requests / (r.duration_us / 1e6);
  r.errors = r.connect + r.read + r.write + r.timeout;
  r.argv = argv.join(" ");
  return r;
}

// ---------------------------------------------------------------- the relay

function config({ db, endpoint, sites, extraRtb = "" }) {
  const siteText = sites
    .map((s) => `[[site]]\nid = "${s.id}"\npkey = "bench-pkey-${s.id}"\ntagging_hash = "${HASH}"\n` +
      `region = "${s.region}"\nwebhook_token = "${TOKEN}"\nallowed_origins = ["https://shop.example"]\n` +
      `metrics = ["all_calls"]\n`)
    .join("\n");
  return `[server]\nlisten = "127.0.0.1:0"\nadmin_token = "${ADMIN}"\n${features.rateLimitKey}\n` +
    `[storage]\nurl = "sqlite://${db}"\n\n` +
    `[rtbhouse]\nendpoint = "${endpoint}"\ntimeout_ms = ${TIMEOUT_MS}\n${extraRtb}${features.concurrencyKey}\n\n${siteText}`;
}

/** Which optional keys this build's `check-config` accepts (the config denies unknown keys). */
const features = { rateLimitKey: "", concurrencyKey: "", notes: [] };
function probeConfig() {
  const scratch = join(work, "probe.toml");
  const base = (server, rtb) =>
    `[server]\nlisten = "127.0.0.1:0"\nadmin_token = "${ADMIN}"\n${server}\n[storage]\nurl = "sqlite://${join(work, "probe.db")}"\n` +
    `[rtbhouse]\nendpoint = "http://127.0.0.1:9/{region}/postbacks"\n${rtb}\n`;
  const accepts = (server, rtb) => {
    writeFileSync(scratch, base(server, rtb));
    return spawnSync(relayBin, ["check-config", "--config", scratch], { encoding: "utf8" }).status === 0;
  };
  if (!accepts("", "")) throw new Error("aidlink-relay check-config refuses the bench's minimal config");
  if (accepts("bindings_per_minute_per_ip = 4000000000\nmax_connections_per_ip = 0", "")) {
    // Every request comes from one address: neither the per-address rate nor the per-address
    // connection limit may be what is measured.
    features.rateLimitKey = "bindings_per_minute_per_ip = 4000000000\nmax_connections_per_ip = 0";
  } else if (accepts("bindings_per_minute_per_ip = 4000000000", "")) {
    features.rateLimitKey = "bindings_per_minute_per_ip = 4000000000";
  } else {
    features.notes.push("server.bindings_per_minute_per_ip not supported by this build: ingest may meet the per-IP limit");
  }
  if (accepts("", `concurrency = ${CONCURRENCY}`)) {
    features.concurrencyKey = `concurrency = ${CONCURRENCY}`;
  } else {
    features.notes.push("concurrency key not supported by this build");
  }
}

async function startRelay(name, opts) {
  const db = join(work, `${name}.db`);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  const file = join(work, `${name}.toml`);
  writeFileSync(file, config({ db, ...opts }));
  const relay = await startServer(`relay (${name})`, relayBin, ["serve", "--config", file], join(work, `${name}.log`));
  relay.db = db;
  return relay;
}

async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  if (!text.includes("aidlink_bindings_total")) {
    // The bench counts what the relay stored and decided from these counters.
    throw new Error("GET /metrics has no aidlink_bindings_total: the bench needs aidlink_bindings_total{result=\"accepted\"}, aidlink_leads_total and aidlink_outbox_depth");
  }
  const m = { bindings: {}, leads: {}, postbacks: {}, depth: 0 };
  for (const line of text.split("\n")) {
    let x = line.match(/^aidlink_(bindings|leads|postbacks)_total\{\w+="([^"]*)"\} (\d+)/);
    if (x) m[x[1]][x[2]] = Number(x[3]);
    x = line.match(/^aidlink_outbox_depth (\d+)/);
    if (x) m.depth = Number(x[1]);
  }
  m.accepted = m.bindings.accepted ?? 0;
  m.decided = Object.values(m.leads).reduce((a, b) => a + b, 0);
  return m;
}

/** Stores `count` more bindings of `site` (visitors first .. first+count) through POST /v1/bindings. */
async function load(relay, site, first, count) {
  const before = (await metrics(relay.url)).accepted;
  const perThread = Math.ceil(count / LOADER.threads);
  const target = before + perThread * LOADER.threads;
  const started = Date.now();
  const limit = Math.max(60, count / 1000);
  const r = await wrk({
    url: relay.url, ...LOADER, seconds: 3600, args: ["bindings", site, first, perThread, LOADER.threads],
    // A stall (or a build that refuses bindings) ends the load rather than the whole run.
    until: async () => (await metrics(relay.url)).accepted >= target || Date.now() - started > limit * 1000,
  });
  const stored = (await metrics(relay.url)).accepted - before;
  if (stored < perThread * LOADER.threads) throw new Error(`loading: ${stored} of ${count} bindings stored`);
  const seconds = (Date.now() - started) / 1000;
  log(`loaded ${stored} bindings of site ${site} in ${seconds.toFixed(1)} s (${Math.round(stored / seconds)}/s)`);
  return { stored, seconds, kmax: first + perThread * LOADER.threads, wrk: r };
}

/** Waits until every webhook answered has been decided and the outbox is empty. */
async function drain(relay, answered, limitSeconds) {
  const until = Date.now() + limitSeconds * 1000;
  let last = -1;
  let m;
  while (Date.now() < until) {
    m = await metrics(relay.url);
    if (m.decided >= answered && m.depth === 0 && m.decided === last) return { drained: true, m };
    last = m.decided;
    await sleep(1000);
  }
  return { drained: false, m };
}

function rss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
}
const bytes = (f) => (existsSync(f) ? statSync(f).size : 0);

// ---------------------------------------------------------------- a fake RTB House

/** Postbacks arrive at /{region}/postbacks; each region answers 200 after `delay` ms, or never. */
function receiver() {
  const behaviour = new Map(); // region → { delay, hang }
  const arrivals = new Map(); // conversion id → first arrival (ms)
  const hung = new Set();
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url, "http://x");
    const region = url.pathname.split("/")[1];
    const tag = url.searchParams.get("tag") ?? "";
    const id = (tag.match(/__(ct-(?:call|req)-.+)_$/) ?? [])[1];
    const b = behaviour.get(region) ?? { delay: 0 };
    req.resume();
    if (b.hang) {
      hung.add(res.socket);
      return;
    }
    const answer = () => {
      if (id && !arrivals.has(id)) arrivals.set(id, Date.now());
      res.writeHead(200, { "content-length": "2" }).end("ok");
    };
    if (b.delay) setTimeout(answer, b.delay);
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((done) =>
    server.listen(0, "127.0.0.1", () =>
      done({
        endpoint: `http://127.0.0.1:${server.address().port}/{region}/postbacks`,
        set: (region, b) => behaviour.set(region, b),
        arrivals,
        requests: () => requests,
        reset: () => arrivals.clear(),
        close: () => {
          for (const s of hung) s.destroy();
          server.closeAllConnections();
          server.close();
        },
      }),
    ),
  );
}

function callBody(site, k, id) {
  // The same visitor ids as wrk.lua's (session 300000000 + k, ct_client 22 + 17 digits).
  const ct = "22" + String((k * 7919 + 464647719) % 1e17).padStart(17, "0");
  return `leadtype=call&id=${id}&callphase=calldisconnected&timestamp=${Math.floor(Date.now() / 1000)}` +
    `&status=successful&unique=true&targetcall=target&uniqtargetcall=uniqtarget&callerphone=7916${String(k % 1e7).padStart(7, "0")}` +
    `&fio=Ivan+Petrov&ip=95.31.18.119&sessionId=${300000000 + k}&ctClientId=${ct}&siteId=${site}` +
    `&utm_source=yandex&utm_content=null&tags_manual=null&attrs=null`;
}

async function webhook(relay, site, k, id) {
  const r = await fetch(`${relay.url}/v1/calltouch/${site}?token=${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: callBody(site, k, id),
  });
  await r.text();
  if (r.status !== 200) throw new Error(`webhook ${id}: HTTP ${r.status}`);
  return Date.now();
}

// ---------------------------------------------------------------- the benchmarks

const rows = []; // { bench, figure, goal, met }
const details = {};
const failures = [];
const fmt = {
  rate: (x) => `${x >= 100 ? Math.round(x).toLocaleString("en-US").replace(/,/g, " ") : x.toFixed(1)}/s`,
  ms: (us) => (us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`),
  mb: (b) => `${(b / 1048576).toFixed(1)} MB`,
  n: (x) => (x >= 1e6 && x % 1e6 === 0 ? `${x / 1e6} M` : x >= 1000 && x % 1000 === 0 ? `${x / 1000} k` : String(x)),
};
const row = (bench, figure, goal = "—", met = "") => rows.push({ bench, figure, goal, met });
const verdict = (ok) => (ok ? "yes" : "**no**");
const ratioText = (x) => x.toFixed(x < 0.1 ? 3 : 2);

/** AIDLINK_BENCH_ONLY=ingest,volume runs only those benchmarks (of ingest, volume, postbacks,
 * fairness, retention, postgres, capture); unset, all. */
const only = process.env.AIDLINK_BENCH_ONLY ? process.env.AIDLINK_BENCH_ONLY.split(",") : null;

async function bench(name, fn) {
  if (only && !only.includes(name.split(":")[0])) return;
  const started = Date.now();
  log(`--- ${name}`);
  try {
    await fn();
    log(`--- ${name}: ran in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    failures.push(name);
    row(name, `did not run: ${e.message}`, "", "FAILED");
    log(`--- ${name}: FAILED: ${e.stack}`);
  }
}

async function ingest() {
  const empty = await startServer("empty_server", emptyBin, ["127.0.0.1:0"], join(work, "empty.log"));
  const args = ["bindings", SITE_A, 0, 1e9, INGEST.threads];
  let floor;
  try {
    floor = await wrk({ url: empty.url, ...INGEST, seconds: size.ingestSeconds, args });
  } finally {
    await stop(empty);
  }
  const rx = await receiver();
  const relay = await startRelay("ingest", { endpoint: rx.endpoint, sites: [{ id: SITE_A, region: "omni" }] });
  let r, m;
  try {
    r = await wrk({ url: relay.url, ...INGEST, seconds: size.ingestSeconds, args });
    m = await metrics(relay.url);
  } finally {
    await stop(relay);
    rx.close();
  }
  const refused = Object.entries(m.bindings).filter(([k]) => k !== "accepted" && k !== "duplicate");
  if (r.status || r.errors || refused.length) throw new Error(`relay refused bindings: ${JSON.stringify(m.bindings)}, wrk ${r.status} non-2xx, ${r.errors} errors`);
  const ratio = r.rps / floor.rps;
  details.ingest = { empty: floor, relay: r, stored: m.accepted, ratio };
  row("ingest: empty axum handler (same wrk, same run)", `${fmt.rate(floor.rps)}, p99 ${fmt.ms(floor.p99_us)}`);
  row("ingest: durable POST /v1/bindings", `${fmt.rate(r.rps)}, p99 ${fmt.ms(r.p99_us)}`);
  row("ingest: relay / empty handler", ratioText(ratio), "≥ 0.5", verdict(ratio >= 0.5));
}

async function volume() {
  const rx = await receiver();
  rx.set("omni", { delay: 0 });
  const relay = await startRelay("volume", { endpoint: rx.endpoint, sites: [{ id: SITE_A, region: "omni" }] });
  const v = (details.volume = {});
  try {
    let answered = 0;
    const webhooks = async (label, kmax, prefix) => {
      const r = await wrk({ url: relay.url, ...WEBHOOKS, seconds: size.seconds, args: ["webhooks", SITE_A, TOKEN, kmax, prefix] });
      answered += r.requests;
      if (r.status || r.errors) log(`${label}: ${r.status} non-2xx, ${r.errors} socket errors/timeouts`);
      const d = await drain(relay, answered, quick ? 60 : 300);
      if (!d.drained) throw new Error(`${label}: decisions or postbacks still pending after the drain limit: ${JSON.stringify(d.m)}`);
      if (!r.requests) throw new Error(`${label}: no webhook was answered`);
      return { ...r, drained: d.drained, leads: d.m.leads };
    };

    v.loadSmall = await load(relay, SITE_A, 0, size.small);
    v.small = await webhooks("webhooks at small", v.loadSmall.kmax, 1);
    v.loadLarge = await load(relay, SITE_A, v.loadSmall.kmax, size.large - v.loadSmall.stored);
    const kmax = v.loadLarge.kmax;
    v.storedLarge = (await metrics(relay.url)).accepted;
    v.large = await webhooks("webhooks at large", kmax, 2);

    // Both at once: webhooks as above, bindings of new visitors on a few connections.
    const side = wrk({ url: relay.url, ...SIDE_BINDINGS, seconds: size.seconds, args: ["bindings", SITE_A, 50_000_000, 1e9, 1] });
    const hooks = wrk({ url: relay.url, ...WEBHOOKS, seconds: size.seconds, args: ["webhooks", SITE_A, TOKEN, kmax, 3] });
    [v.sideBindings, v.sideWebhooks] = await Promise.all([side, hooks]);
    answered += v.sideWebhooks.requests;
    if (!v.sideBindings.requests || !v.sideWebhooks.requests) throw new Error("the concurrent phase answered no binding or no webhook");
    const d = await drain(relay, answered, quick ? 60 : 300);
    if (!d.drained) throw new Error(`concurrent phase: decisions or postbacks still pending after the drain limit: ${JSON.stringify(d.m)}`);

    const m = await metrics(relay.url);
    v.storedEnd = m.accepted;
    v.rss = rss(relay.pid);
    v.dbBytes = bytes(relay.db);
    v.walBytes = bytes(`${relay.db}-wal`);
    v.leads = m.leads;
  } finally {
    await stop(relay);
    rx.close();
  }
  const small = fmt.n(size.small);
  const large = fmt.n(size.large);
  const p99ok = (r) => verdict(r.p99_us < 50_000 && !r.timeout);
  // Every lead should find its visitor's binding (decided "queued", "sent" before that word
  // changed); say so when some did not.
  const decided = Object.values(v.leads).reduce((a, b) => a + b, 0);
  const unbound = decided - (v.leads.queued ?? v.leads.sent ?? 0);
  const hook = (r) => `${fmt.rate(r.rps)}, p99 ${fmt.ms(r.p99_us)} (${r.requests} in ${size.seconds} s)${r.timeout ? ` (${r.timeout} timed out at 30 s)` : ""}${unbound ? ` (${unbound} of ${decided} leads not sent)` : ""}`;
  row(`webhooks (call end, bound visitors) at ${small} stored`, hook(v.small), "p99 < 50 ms", p99ok(v.small));
  row(`webhooks (call end, bound visitors) at ${large} stored`, hook(v.large), "p99 < 50 ms", p99ok(v.large));
  const ratio = v.large.rps / v.small.rps;
  v.ratio = ratio;
  row(`webhooks: rate at ${large} / at ${small}`, ratioText(ratio), "≥ 0.8", verdict(ratio >= 0.8));
  row(`binding ingest while webhooks run at ${large}`, `${fmt.rate(v.sideBindings.rps)}, p99 ${fmt.ms(v.sideBindings.p99_us)} (webhooks ${fmt.rate(v.sideWebhooks.rps)})`, "p99 < 50 ms", p99ok(v.sideBindings));
  const per = v.storedEnd;
  row(`RSS per stored binding at ${large}`, `${Math.round(v.rss / per)} B (${fmt.mb(v.rss)} for ${per})`);
  row(`database bytes per stored binding at ${large}`, `${Math.round((v.dbBytes + v.walBytes) / per)} B (file ${fmt.mb(v.dbBytes)} + wal ${fmt.mb(v.walBytes)})`);
}

async function postbacks() {
  const rx = await receiver();
  rx.set("omni", { delay: RECEIVER_MS });
  const relay = await startRelay("postbacks", { endpoint: rx.endpoint, sites: [{ id: SITE_A, region: "omni" }] });
  const n = size.postbacks;
  let p;
  try {
    const loaded = await load(relay, SITE_A, 0, n);
    const started = Date.now();
    let next = 0;
    const sender = async () => {
      while (next < n) {
        const i = next++;
        await webhook(relay, SITE_A, i % loaded.kmax, `9${String(i).padStart(8, "0")}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    const queuedSeconds = (Date.now() - started) / 1000;
    const limit = Date.now() + Math.max(60_000, n * 100);
    while (rx.arrivals.size < n && Date.now() < limit) await sleep(200);
    const times = [...rx.arrivals.values()].sort((a, b) => a - b);
    if (times.length < 2) throw new Error(`only ${times.length} of ${n} postbacks arrived`);
    const span = (times.at(-1) - times[0]) / 1000;
    p = { n, arrived: times.length, queuedSeconds, span, rate: (times.length - 1) / span, requests: rx.requests() };
  } finally {
    await stop(relay);
    rx.close();
  }
  details.postbacks = p;
  if (p.arrived < n) throw new Error(`${n - p.arrived} of ${n} postbacks not delivered`);
  // rtbhouse.concurrency (16) postbacks in flight, each taking the receiver's 200 ms.
  // 16 slots each held RECEIVER_MS by the receiver: 80/s is the ceiling no sender can pass
  // (every postback takes at least that long); the goal is the slots kept busy, the next
  // postback leaving as soon as one ends: within 5 % of the ceiling.
  const ceiling = CONCURRENCY / (RECEIVER_MS / 1000);
  const goal = 0.95 * ceiling;
  row(`postbacks/s, receiver answering in ${RECEIVER_MS} ms`, `${fmt.rate(p.rate)} (${p.arrived} in ${p.span.toFixed(1)} s; ${(100 * p.rate / ceiling).toFixed(1)} % of ${ceiling}/s)`, `≥ ${goal}/s (95 % of ${CONCURRENCY} in flight ÷ ${RECEIVER_MS / 1000} s)`, verdict(p.rate >= goal));
}

async function fairness() {
  const rx = await receiver();
  rx.set("omni", { hang: true });
  rx.set("us", { delay: RECEIVER_MS });
  const relay = await startRelay("fairness", {
    endpoint: rx.endpoint,
    sites: [{ id: SITE_A, region: "omni" }, { id: SITE_B, region: "us" }],
  });
  const f = {};
  try {
    const a = await load(relay, SITE_A, 0, quick ? 200 : 2000);
    const b = await load(relay, SITE_B, 0, quick ? 200 : 2000);
    // A backlog for site A, whose receiver never answers, then both sites' calls side by side:
    // A at 10/s, B at 2/s; B's latency is its webhook's 200 to its postback's arrival.
    let seq = 0;
    const aCall = () => webhook(relay, SITE_A, seq % a.kmax, `7${String(seq++).padStart(8, "0")}`);
    await Promise.all(Array.from({ length: 40 }, aCall));
    const sent = new Map(); // B conversion id → webhook answered at
    const until = Date.now() + size.fairSeconds * 1000;
    const pending = [];
    let tick = 0;
    while (Date.now() < until) {
      pending.push(aCall());
      if (tick++ % 5 === 0) {
        const id = `8${String(sent.size).padStart(8, "0")}`;
        const k = sent.size % b.kmax;
        sent.set(`ct-call-${id}`, 0);
        pending.push(webhook(relay, SITE_B, k, id).then((t) => sent.set(`ct-call-${id}`, t)));
      }
      await sleep(100);
    }
    await Promise.all(pending);
    const grace = quick ? 10_000 : 30_000;
    const limit = Date.now() + grace;
    const arrivedAll = () => [...sent.keys()].every((id) => rx.arrivals.has(id));
    while (!arrivedAll() && Date.now() < limit) await sleep(200);
    const latencies = [...sent].map(([id, t]) => (rx.arrivals.has(id) ? rx.arrivals.get(id) - t : Infinity)).sort((x, y) => x - y);
    const pct = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
    const m = await metrics(relay.url);
    Object.assign(f, {
      bSent: sent.size,
      bArrived: latencies.filter(Number.isFinite).length,
      deliveredMedian: latencies.filter(Number.isFinite)[Math.floor(latencies.filter(Number.isFinite).length / 2)] ?? null,
      p50: pct(0.5),
      p99: pct(0.99),
      max: latencies.at(-1),
      aCalls: seq,
      postbacks: m.postbacks,
      graceSeconds: grace / 1000,
    });
  } finally {
    await stop(relay);
    rx.close();
  }
  details.fairness = f;
  if (!f.bArrived) throw new Error(`none of site B's ${f.bSent} postbacks arrived`);
  // A postback still missing when the wait ends counts as later than the wait.
  const ms = (x) => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : `> ${f.graceSeconds} s`);
  const lost = f.bArrived < f.bSent
    ? `, ${f.bSent - f.bArrived} not delivered ${f.graceSeconds} s after the run${f.bArrived ? `; the ${f.bArrived} delivered: median ${ms(f.deliveredMedian)}` : ""}`
    : "";
  // A's hanging receiver may delay B by at most one of A's attempts (its timeout).
  const bound = RECEIVER_MS + TIMEOUT_MS;
  row("site B's delivery latency while site A's receiver times out", `p50 ${ms(f.p50)}, p99 ${ms(f.p99)}, max ${ms(f.max)} (${f.bSent} calls${lost})`,
    `p99 ≤ ${(bound / 1000).toFixed(1)} s (one of A's timeouts)`, verdict(f.p99 <= bound));
}

async function retention() {
  const { retentionDays: days, retentionPerDay: perDay } = size;
  const keep = Math.max(2, Math.floor(days / 2));
  const run = spawnSync(retentionBin, [days, perDay, keep, work].map(String), { encoding: "utf8", maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`retention_bench exited ${run.status}: ${(run.stderr ?? "").slice(-500)}`);
  const r = JSON.parse(run.stdout.trim().split("\n").pop());
  details.retention = r;
  if (!r.purged_rows || r.sizes.length !== days) throw new Error(`retention deleted ${r.purged_rows} rows over ${r.sizes.length} days`);
  const stored = r.sizes.at(-1).bindings;
  // Retention first deletes a day on day keep + 2; from then on the file should hold its size.
  const first = r.sizes[Math.min(keep + 1, days - 1)];
  const last = r.sizes.at(-1);
  // The probes that time commits store bindings too (more on the days retention runs long), so
  // the rows kept vary a little: what must not grow is the file per stored row (deleted rows'
  // pages reused or given back), besides the file itself.
  const growth = last.db_bytes / first.db_bytes;
  const perRow = (s) => s.db_bytes / s.bindings;
  const rowGrowth = perRow(last) / perRow(first);
  const us = (x) => fmt.ms(x);
  // What retention costs every other write: how long each batch holds the writer (its
  // statements and its commit). The round trip adds the queue before it and the WAL's sync
  // after, which runs beside the writer.
  row(`retention: one delete batch (${r.batch} rows) holds the writer, ${fmt.n(stored)} stored`, `p50 ${us(r.held_us.p50)}, p99 ${us(r.held_us.p99)}, max ${us(r.held_us.max)} (${r.held_us.count} batches)`,
    "p99 < 5 ms", verdict(r.held_us.p99 < 5000));
  row("retention: one delete batch, round trip (queue, batch, commit, sync)", `p50 ${us(r.batch_us.p50)}, p99 ${us(r.batch_us.p99)}, max ${us(r.batch_us.max)}`, "—", "");
  row("retention: a binding's commit while retention runs / without", `p99 ${us(r.ingest_during_us.p99)} / ${us(r.ingest_quiet_us.p99)}`, "p99 < 50 ms", verdict(r.ingest_during_us.p99 < 50_000));
  row(`retention: database file, day ${first.day} → day ${days} (${keep} days kept, ${fmt.n(perDay)} bindings a day)`,
    `${fmt.mb(first.db_bytes)} → ${fmt.mb(last.db_bytes)} (×${growth.toFixed(2)}; wal ${fmt.mb(last.wal_bytes)}) for ${fmt.n(first.bindings)} → ${fmt.n(last.bindings)} bindings: ${perRow(first).toFixed(0)} → ${perRow(last).toFixed(0)} B per stored binding (×${rowGrowth.toFixed(2)})`,
    "bytes per stored binding stop growing (≤ ×1.05)", verdict(rowGrowth <= 1.05));
}

// ---------------------------------------------------------------- main

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const startedAt = new Date();
  const load0 = loadavg();
  log(`${quick ? "quick" : "full"} run: ${JSON.stringify(size)}; binaries in ${bin}; work in ${work}`);
  probeConfig();
  for (const n of features.notes) log(n);
  await bench("ingest", ingest);
  await bench("volume", volume);
  await bench("postbacks", postbacks);
  await bench("fairness", fairness);
  await bench("retention", retention);
  await bench("postgres", () => postgresBench({ wrk, startServer, stop, load, receiver, row, fmt, ratioText, log, work, relayBin, size, details, features, ADMIN, TOKEN, HASH, SITE_A, INGEST, WEBHOOKS }));
  if (!only || only.includes("capture")) {
    details.capture = await captureBenchmarks({ quick, root, bin, work, bench, row, log });
  }
  const load1 = loadavg();
  const env = {
    started: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt) / 1000),
    cores: cpus().length,
    loadavg_before: load0.map((x) => x.toFixed(2)).join(" "),
    loadavg_after: load1.map((x) => x.toFixed(2)).join(" "),
    size,
    wrk: { ingest: INGEST, webhooks: WEBHOOKS, side_bindings: SIDE_BINDINGS, loader: LOADER },
    notes: features.notes,
  };
  writeFileSync(join(work, "results.json"), JSON.stringify({ env, rows, details }, null, 2));

  const w = [0, 1, 2, 3].map((i) => Math.max(...[["benchmark", "figure", "goal", "met?"], ...rows.map((r) => [r.bench, r.figure, r.goal, r.met])].map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(w[i])).join(" | ")} |`;
  console.log(`\nRelay at volume (${quick ? "--quick" : "full"}), ${env.started}, ${env.seconds} s, ${env.cores} cores, load ${env.loadavg_before} → ${env.loadavg_after}`);
  for (const n of features.notes) console.log(`note: ${n}`);
  console.log(line(["benchmark", "figure", "goal", "met?"]));
  console.log(line(w.map((n) => "-".repeat(n))));
  for (const r of rows) console.log(line([r.bench, r.figure, r.goal, r.met]));
  console.log(`\ndetails: ${join(work, "results.json")}${process.env.AIDLINK_BENCH_KEEP ? "" : " (the databases are removed)"}`);
  if (!process.env.AIDLINK_BENCH_KEEP) {
    for (const f of ["ingest", "volume", "postbacks", "fairness", "probe"]) {
      for (const s of [".db", ".db-wal", ".db-shm"]) rmSync(join(work, f + s), { force: true });
    }
  }
  if (failures.length) {
    console.log(`\n${failures.length} benchmark(s) did not run: ${failures.join(", ")}`);
    process.exitCode = 1;
  }
}

const cleanup = () => {
  for (const c of children) c.kill("SIGKILL");
};
process.on("exit", cleanup);
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
