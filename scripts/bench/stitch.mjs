// The stitch rate (BENCHMARKS.md, "Capture in the browser"): visitor scenarios played on the
// benchmark page (bench/capture/harness.js) with the aidlink tag and with the hand snippet it
// replaces (bench/capture/hand-snippet.js); after each visit Calltouch reports a call of the
// visitor's session with the attrs it holds, and the lead counts as stitched when the fake RTB
// House receives its postback with the visitor's CURRENT RTB House id. Scenarios longer than a
// few seconds run on Playwright's page clock (timers and Date jump ahead; network is real), so
// 120 s of a visit take about a second. Visitors run a few at a time.
import { pageUrl, visitor } from "./capture.mjs";

const CONCURRENCY = 3;

/** Each scenario: its page parameters for visitor `v`, the RTB House id current at its end, how long the visit lasts. */
export const SCENARIOS = [
  { key: "early", kind: "cookie timing", label: "cookie there before the tag", params: () => ({ cookie_at: 0 }), visit: 2000 },
  { key: "3s", kind: "cookie timing", label: "cookie 3 s after load", params: () => ({ cookie_at: 3000 }), visit: 5000 },
  { key: "40s", kind: "cookie timing", label: "cookie 40 s after load", params: () => ({ cookie_at: 40_000 }), visit: 42_000, quick: true },
  // After the first minute the tag looks at most every 5 s: the visit lasts 6 s past the cookie.
  { key: "120s", kind: "cookie timing", label: "cookie 120 s after load", params: () => ({ cookie_at: 120_000 }), visit: 126_000 },
  { key: "120s-leave", kind: "leaving", label: "cookie 120 s after load, visitor leaves 1 s later", params: () => ({ cookie_at: 120_000 }), visit: 121_000, leave: true },
  { key: "ct-late", kind: "Calltouch late", label: "Calltouch's script added 5 s after load", params: () => ({ cookie_at: 800, ct_loader_at: 5000 }), visit: 7000, quick: true },
  { key: "leave", kind: "leaving", label: "visitor leaves 300 ms after both ids", params: () => ({ cookie_at: 0 }), leaveAfter: 300, quick: true },
  { key: "spa", kind: "SPA", label: "SPA navigation into a new Calltouch session", params: (v) => ({ cookie_at: 800, spa_at: 5000, spa_session: v.next }), visit: 7000, quick: true, session: (v) => v.next },
  { key: "rotate", kind: "rotation", label: "RTB House id rotated mid-visit", params: (v) => ({ cookie_at: 800, rotate_at: 5000, rotate_to: v.rotated }), visit: 7000, quick: true, current: (v) => v.rotated },
  { key: "json", kind: "cookie form", label: "JSON cookie __rtbh.aid", params: () => ({ cookie_at: 800, form: "json" }), visit: 3000, quick: true },
];

const VARIANTS = [
  { key: "aidlink", page: "aidlink.html" },
  { key: "hand", page: "hand.html" },
];

const until = async (what, deadline, check) => {
  const end = Date.now() + deadline;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${deadline} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** One visit of `scenario` with `variant`, then Calltouch's lead; true when RTB House got the current id. */
async function visit(chain, scenario, variant) {
  const base = visitor();
  const v = { ...base, next: `${base.session}1`.slice(-10), rotated: `Rot${base.aid}`.slice(0, 19) };
  const context = await chain.browser.newContext();
  try {
    const page = await context.newPage();
    if (scenario.leaveAfter) {
      await page.goto(pageUrl(chain, variant.page, v, scenario.params(v)));
      const after = scenario.leaveAfter;
      await page.waitForFunction((ms) => window.__bench.idsAt !== null && performance.now() - window.__bench.idsAt >= ms, after, { polling: 5, timeout: 10_000 });
      // The visitor goes to another site: pagehide, and requests under way are keepalive.
      await page.goto("about:blank");
      // What the page sent on its way out may still be on the wire: give it a second (pacing,
      // not a wait for a result: a request that never comes is the scenario's finding).
      await new Promise((r) => setTimeout(r, 1000));
    } else {
      await page.clock.install();
      await page.goto(pageUrl(chain, variant.page, v, scenario.params(v)));
      if (variant.key === "aidlink") {
        // The module loads in real time (network, compile) while virtual seconds pass in a
        // blink: let it load before the clock runs, as it would within a visit's first seconds.
        await until("the module loaded", 15_000, () => page.evaluate(() => window.aidlink && window.aidlink.status().state !== "loading"));
      }
      // Virtual time, one second a step, letting real network work between the steps.
      for (let t = 0; t < scenario.visit; t += 1000) {
        await page.clock.runFor(1000);
        await page.evaluate(() => 0);
      }
      await until("requests of the page answered", 10_000, () => page.evaluate(() => window.__bench.inflight === 0));
      if (variant.key === "aidlink") {
        // The tag's status after the visit, for the details file.
        v.status = await page.evaluate(() => window.aidlink && window.aidlink.status());
      }
      if (scenario.leave) {
        // The visitor goes to another site (pagehide); a second for what the page sent on its
        // way out to land (pacing, as above).
        await page.goto("about:blank");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    await context.close();
  }
  const session = scenario.session ? scenario.session(v) : v.session;
  const conversion = await chain.lead(session, v.client);
  const aid = await chain.credited(conversion);
  const current = scenario.current ? scenario.current(v) : v.aid;
  return { stitched: aid === current, credited: aid, current, status: v.status };
}

/** Runs `jobs` (async functions) `n` at a time, in order of their results. */
async function pool(jobs, n) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }));
  return results;
}

/**
 * Plays every scenario (--quick: one of each kind, one visitor each; AIDLINK_BENCH_STITCH_VISITORS
 * sets how many) with both tags; adds a row per scenario.
 */
export async function stitchRate(chain, { quick, row, log }) {
  const visitors = Number(process.env.AIDLINK_BENCH_STITCH_VISITORS ?? (quick ? 1 : 15));
  // AIDLINK_BENCH_STITCH_ONLY=120s,spa plays only those scenarios (their keys above).
  const only = process.env.AIDLINK_BENCH_STITCH_ONLY?.split(",");
  const scenarios = SCENARIOS.filter((s) => (only ? only.includes(s.key) : !quick || s.quick));
  const out = {};
  for (const scenario of scenarios) {
    const jobs = [];
    for (const variant of VARIANTS) for (let i = 0; i < visitors; i++) jobs.push(() => visit(chain, scenario, variant).then((r) => ({ variant: variant.key, ...r })));
    const results = await pool(jobs, CONCURRENCY);
    const share = (key) => {
      const mine = results.filter((r) => r.variant === key);
      return { stitched: mine.filter((r) => r.stitched).length, of: mine.length };
    };
    const a = share("aidlink");
    const h = share("hand");
    out[scenario.key] = { aidlink: a, hand: h, misses: results.filter((r) => !r.stitched) };
    const pct = (s) => `${Math.round((100 * s.stitched) / s.of)} %`;
    log(`stitch ${scenario.key}: aidlink ${a.stitched}/${a.of}, hand ${h.stitched}/${h.of}`);
    row(`stitch rate: ${scenario.label} (${visitors} visitor${visitors > 1 ? "s" : ""} each)`, `aidlink ${pct(a)}, hand snippet ${pct(h)}`, "aidlink 100 %", a.stitched === a.of ? "yes" : "**no**");
  }
  return out;
}
