// The capture benchmarks of `npm run bench` (BENCHMARKS.md, "Capture in the browser"), in
// headless Chromium against the real relay on loopback, which serves the release script-tag
// bundle (scripts/bench/capture-chain.mjs): time to bind with the module waiting and with both
// ids at page load, the main-thread tasks of the module, the bytes of a first and a repeat
// visit, and the stitch rate of the tag against the hand snippet it replaces
// (scripts/bench/stitch.mjs). Each figure is a median of RUNS page loads (15; --quick 3).
// It asserts nothing about speed: a benchmark fails only when it produced no figure.
import { join } from "node:path";
import { startChain } from "./capture-chain.mjs";
import { stitchRate } from "./stitch.mjs";
import { moduleTasks, TRACE_CATEGORIES } from "./trace.mjs";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;

let visitorSeq = 0;
/** A new visitor's ids: RTB House id, Calltouch session, Calltouch visitor id. */
export function visitor() {
  visitorSeq += 1;
  const n = String(Date.now() % 1e6).padStart(6, "0") + String(visitorSeq).padStart(3, "0");
  return { aid: `Bench${n}abcdefgh`.slice(0, 19), session: `7${n}`.slice(0, 10), client: `22${n}`.padEnd(19, "7") };
}

/** The benchmark page `page` (aidlink.html or hand.html) for visitor `v` with scenario `params`. */
export function pageUrl(chain, page, v, params = {}) {
  const q = new URLSearchParams({ aid: v.aid, session: v.session, client: v.client, ct_url: chain.ctUrl, ...params });
  return `${chain.relayUrl}/${page}?${q}`;
}

const bound = (page) => page.waitForFunction(() => window.__bench.bindings.some((b) => b.doneAt !== null), null, { timeout: 15_000 });

/** Both ids appear while the module is loaded and waiting (the session first, then the cookie). */
async function timeToBindWaiting(chain, runs) {
  const sent = [];
  const stored = [];
  for (let i = 0; i < runs; i++) {
    const context = await chain.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(pageUrl(chain, "aidlink.html", visitor(), { ct_at: 0 }));
      await page.waitForFunction(() => window.aidlink && window.aidlink.status().state === "waiting" && window.aidlink.status().session, null, { timeout: 15_000 });
      await page.evaluate(() => window.__bench.setCookieNow());
      await bound(page);
      const b = await page.evaluate(() => ({ at: window.__bench.cookieAt, ...window.__bench.bindings[0] }));
      if (b.status !== 204) throw new Error(`binding answered ${b.status}`);
      sent.push(b.sentAt - b.at);
      stored.push(b.doneAt - b.at);
    } finally {
      await context.close();
    }
  }
  return { sent: median(sent), stored: median(stored), runs };
}

/** Network bytes of the tag's two files in one page load (CDP Network events). */
async function tagBytes(cdp) {
  const files = new Map(); // requestId → file
  const bytes = { "aidlink.js": 0, "aidlink_bg.wasm": 0 };
  const cached = new Set();
  cdp.on("Network.requestWillBeSent", (e) => {
    const m = e.request.url.match(/\/(aidlink\.js|aidlink_bg\.wasm)(\?|$)/);
    if (m) files.set(e.requestId, m[1]);
  });
  cdp.on("Network.requestServedFromCache", (e) => cached.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.fromDiskCache || e.response.fromPrefetchCache || e.response.fromServiceWorker) cached.add(e.requestId);
  });
  cdp.on("Network.loadingFinished", (e) => {
    const file = files.get(e.requestId);
    if (file) bytes[file] += e.encodedDataLength;
  });
  await cdp.send("Network.enable");
  return () => ({
    ...bytes,
    total: bytes["aidlink.js"] + bytes["aidlink_bg.wasm"],
    requests: files.size,
    fromCache: [...files.keys()].filter((id) => cached.has(id)).length,
  });
}

/**
 * Both ids present when the page loads: time from the page's first script to the binding sent
 * and stored, the tag's bytes on this first visit and on a repeat visit (the same browser
 * profile, cache headers honoured), and long tasks seen by PerformanceObserver.
 */
async function pageLoad(chain, runs) {
  const sent = [];
  const stored = [];
  const first = [];
  const repeat = [];
  const longtasks = [];
  let repeatFromCache = 0;
  for (let i = 0; i < runs; i++) {
    const context = await chain.browser.newContext();
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      let bytes = await tagBytes(cdp);
      const v = visitor();
      await page.goto(pageUrl(chain, "aidlink.html", v, { cookie_at: 0, ct_at: 0 }));
      await bound(page);
      const r = await page.evaluate(() => ({ t0: window.__bench.t0, ...window.__bench.bindings[0], longtasks: window.__bench.longtasks }));
      if (r.status !== 204) throw new Error(`binding answered ${r.status}`);
      sent.push(r.sentAt - r.t0);
      stored.push(r.doneAt - r.t0);
      longtasks.push(...r.longtasks);
      first.push(bytes());
      await cdp.detach();
      // The visitor comes back: a new page of the same profile (its HTTP cache).
      const again = await context.newPage();
      const cdp2 = await context.newCDPSession(again);
      bytes = await tagBytes(cdp2);
      await again.goto(pageUrl(chain, "aidlink.html", v, { cookie_at: 0, ct_at: 0 }));
      await again.waitForFunction(() => window.aidlink && ["bound", "waiting"].includes(window.aidlink.status().state), null, { timeout: 15_000 });
      const b = bytes();
      repeat.push(b);
      // From the HTTP cache (disk or memory): nothing came over the network for either file.
      if (b.total === 0 && b.fromCache === b.requests) repeatFromCache += 1;
    } finally {
      await context.close();
    }
  }
  const pick = (list, key) => median(list.map((b) => b[key]));
  return {
    sent: median(sent),
    stored: median(stored),
    first: { js: pick(first, "aidlink.js"), wasm: pick(first, "aidlink_bg.wasm"), total: pick(first, "total") },
    repeat: { total: pick(repeat, "total"), fromCache: repeatFromCache },
    longtasks,
    runs,
  };
}

/**
 * The module's own main-thread work, from a Chromium trace of a page load with both ids (the
 * module loading, binding, and polling for a further 2 s): per page load, the most of the
 * module's own time in one task, and the longest task it ran in (scripts/bench/trace.mjs).
 */
async function mainThread(chain, runs) {
  const own = [];
  const task = [];
  const what = new Map(); // what the task with the module's most time ran → loads
  let tasks = 0;
  for (let i = 0; i < runs; i++) {
    const context = await chain.browser.newContext();
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      const events = [];
      cdp.on("Tracing.dataCollected", (e) => events.push(...e.value));
      const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
      await cdp.send("Tracing.start", { transferMode: "ReportEvents", traceConfig: { includedCategories: TRACE_CATEGORIES } });
      await page.goto(pageUrl(chain, "aidlink.html", visitor(), { cookie_at: 0, ct_at: 0 }));
      await bound(page);
      // Two seconds more of the module's life: the polls after binding.
      await page.waitForFunction(() => performance.now() - window.__bench.bindings[0].doneAt > 2000, null, { timeout: 10_000, polling: 100 });
      await cdp.send("Tracing.end");
      await complete;
      const found = moduleTasks(events);
      if (!found.tasks.length) throw new Error("the trace shows no task running aidlink.js");
      tasks += found.tasks.length;
      own.push(Math.max(...found.own));
      task.push(Math.max(...found.tasks));
      what.set(found.longestOwnWhat, (what.get(found.longestOwnWhat) || 0) + 1);
    } finally {
      await context.close();
    }
  }
  const usual = [...what].sort((a, b) => b[1] - a[1])[0][0];
  return { own: median(own), ownWorst: Math.max(...own), task: median(task), taskWorst: Math.max(...task), tasksPerLoad: tasks / runs, what: usual, runs };
}

/**
 * Runs every capture benchmark; `ctx` is bench.mjs's: { quick, root, bin, work, bench, row, log }.
 * Adds its rows to the summary table; a benchmark that produced no figure is reported by `bench`.
 */
export async function captureBenchmarks(ctx) {
  const { quick, root, bin, work, bench, row, log } = ctx;
  const runs = Number(process.env.AIDLINK_BENCH_CAPTURE_RUNS ?? (quick ? 3 : 15));
  const yes = (ok) => (ok ? "yes" : "**no**");
  let chain = null;
  await bench("capture: set-up (release bundle, relay, Chromium)", async () => {
    chain = await startChain({ root, relayBin: join(bin, "aidlink-relay"), work: join(work, "capture"), log });
  });
  if (!chain) return;
  const details = {};
  try {
    await bench("capture: time to bind, module waiting", async () => {
      const r = (details.waiting = await timeToBindWaiting(chain, runs));
      row(`capture: both ids appear, module waiting → binding sent (median of ${runs})`, ms(r.sent), "≤ 16 ms (a frame)", yes(r.sent <= 16));
      row(`capture: both ids appear, module waiting → relay's 204 (median of ${runs})`, ms(r.stored), "≤ 100 ms", yes(r.stored <= 100));
    });
    await bench("capture: time to bind at page load, bytes", async () => {
      const r = (details.pageLoad = await pageLoad(chain, runs));
      row(`capture: ids at page load, first script → binding sent (median of ${runs})`, ms(r.sent), "—");
      row(`capture: ids at page load, first script → relay's 204 (median of ${runs})`, ms(r.stored), "≤ 300 ms (before a visitor who leaves at once)", yes(r.stored <= 300));
      row("capture: tag bytes, first visit (aidlink.js + .wasm, as the relay sends them)", `${kb(r.first.total)} (${kb(r.first.js)} + ${kb(r.first.wasm)})`, "—");
      row("capture: tag bytes, repeat visit", `${kb(r.repeat.total)} (${r.repeat.fromCache} of ${runs} visits all from the HTTP cache)`, "0 B: from cache", yes(r.repeat.total === 0));
      const over = r.longtasks.filter((t) => t.duration > 50);
      row(`capture: long tasks (PerformanceObserver, > 50 ms) in ${runs} page loads`, over.length ? `${over.length}, longest ${ms(Math.max(...over.map((t) => t.duration)))}` : "none", "none", yes(!over.length));
    });
    await bench("capture: main-thread tasks (trace)", async () => {
      const r = (details.mainThread = await mainThread(chain, runs));
      row(`capture: the module's own main-thread time in one task, most per page load (trace; median of ${runs}, worst)`, `${ms(r.own)}, worst ${ms(r.ownWorst)} (mostly ${r.what}; ${r.tasksPerLoad.toFixed(0)} tasks a load)`, "none over 5 ms", yes(r.ownWorst <= 5));
      row(`capture: the longest task the module ran in, per page load (with what the browser batched into it; median of ${runs}, worst)`, `${ms(r.task)}, worst ${ms(r.taskWorst)}`, "—");
    });
    await bench("capture: stitch rate", async () => {
      details.stitch = await stitchRate(chain, { quick, row, log });
    });
  } finally {
    await chain.close();
  }
  return details;
}

// Alone: `node scripts/bench/capture.mjs [--quick]` (after `cargo build --release -p
// aidlink-relay`; AIDLINK_BENCH_BIN names another binary folder) prints just these rows.
if (import.meta.url === `file://${process.argv[1]}`) {
  const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const quick = process.argv.includes("--quick");
  const bin = process.env.AIDLINK_BENCH_BIN ?? join(root, "target", "release");
  const rows = [];
  const failures = [];
  const log = (...a) => console.error("bench:", ...a);
  const bench = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      failures.push(name);
      rows.push({ bench: name, figure: `did not run: ${e.message}`, goal: "", met: "FAILED" });
      log(`--- ${name}: FAILED: ${e.stack}`);
    }
  };
  const row = (bench, figure, goal = "—", met = "") => rows.push({ bench, figure, goal, met });
  const { loadavg } = await import("node:os");
  const started = Date.now();
  const load0 = loadavg().map((x) => x.toFixed(2)).join(" ");
  const details = await captureBenchmarks({ quick, root, bin, work: join(bin, "..", quick ? "bench-quick" : "bench"), bench, row, log });
  const load1 = loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`\nCapture (${quick ? "--quick" : "full"}), ${new Date(started).toISOString()}, ${Math.round((Date.now() - started) / 1000)} s, load ${load0} → ${load1}`);
  console.log("| benchmark | figure | goal | met? |\n|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.bench} | ${r.figure} | ${r.goal} | ${r.met} |`);
  if (process.env.AIDLINK_BENCH_KEEP) console.log(JSON.stringify(details, null, 2));
  process.exitCode = failures.length ? 1 : 0;
}
