// One isolated demo chain per test (its own relay, SQLite file and demo peer), a fresh browser
// context, console capture, and a screenshot of the page kept under artifacts/e2e/. `withDemo`
// runs in Chromium through Playwright; `withDemoIn(engine, …)` in any engine of
// tests/support/engines.mjs (Firefox and WebKit over WebDriver: no console capture there).
// Also the steps of the chain the tests share: a cookie of the page, a call and its postback,
// a lead settled.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchDemo, ROOT } from "../../www/demo/launch.mjs";
import { launchChromium } from "./chromium.mjs";
import { launchEngine } from "./engines.mjs";

export const ARTIFACTS = path.join(ROOT, "artifacts/e2e");
export const ACCEPTED = 'aidlink_bindings_total{result="accepted"}';

let browser = null;
export async function sharedBrowser() {
  browser = browser || (await launchChromium());
  return browser;
}
export async function closeBrowser() {
  if (browser) await browser.close();
  browser = null;
}

export async function waitFor(check, { timeout = 10000, every = 100, what = "condition" } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Waits until every webhook event of `leadId` is decided and nothing is left in the outbox:
 * from then on no postback for what came before can still arrive, so "exactly one" holds. */
export async function settled(demo, leadId) {
  await waitFor(async () => {
    const trail = await demo.admin(`/v1/sites/38342/leads/${leadId}`);
    return trail && trail.events.length > 0 && trail.events.every((e) => e.reason) && (await demo.metric("aidlink_outbox_depth")) === 0;
  }, { what: `${leadId} decided and delivered` });
}

export async function withDemo(name, options, body) {
  const dir = mkdtempSync(path.join(tmpdir(), "aidlink-e2e-"));
  const demo = await launchDemo({ dir, siteExtra: options.siteExtra || {} });
  const context = await (await sharedBrowser()).newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const consoleLines = [];
  const pageErrors = [];
  page.on("console", (m) => consoleLines.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  const status = () => page.evaluate(() => (window.aidlink ? window.aidlink.status() : null));
  let outcome = null;
  try {
    await body({ demo, page, context, consoleLines, pageErrors, status });
  } catch (error) {
    outcome = error;
  }
  // The screenshot is the artefact of every test, passed or failed; a test whose screenshot
  // cannot be taken fails (unless it failed already: its own error is the one to read).
  const shot = path.join(ARTIFACTS, `${name}.png`);
  rmSync(shot, { force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: shot, fullPage: true }).catch((error) => {
    outcome = outcome || new Error(`screenshot ${shot}: ${error.message}`);
  });
  await context.close();
  await demo.stop();
  if (outcome) throw outcome;
}

const engines = new Map(); // name → launched engine, shared by one test file's tests
/** Closes every engine `withDemoIn` launched (a test file's `after`). */
export async function closeEngines() {
  for (const engine of engines.values()) await engine.close();
  engines.clear();
}

/** Like `withDemo`, in `engine` (chromium, firefox or webkit); the screenshot is `<name>-<engine>.png`. */
export async function withDemoIn(engine, name, options, body) {
  if (!engines.has(engine)) engines.set(engine, await launchEngine(engine));
  const dir = mkdtempSync(path.join(tmpdir(), "aidlink-e2e-"));
  const demo = await launchDemo({ dir, siteExtra: options.siteExtra || {} });
  let page = null;
  let outcome = null;
  try {
    page = await engines.get(engine).newPage();
    const status = () => page.evaluate(() => (window.aidlink ? window.aidlink.status() : null));
    await body({ demo, page, status });
  } catch (error) {
    outcome = error;
  }
  if (page) {
    // Let the engine paint what the test left on the page before it is photographed.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))).catch(() => {});
    const shot = path.join(ARTIFACTS, `${name}-${engine}.png`);
    rmSync(shot, { force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: shot }).catch((error) => {
      outcome = outcome || new Error(`screenshot ${shot}: ${error.message}`);
    });
    await page.close();
  }
  await demo.stop();
  if (outcome) throw outcome;
}

/** The value of the page's cookie `name` (a regex-escaped name), or null. */
export const pageCookie = (page, name) =>
  page.evaluate((n) => (document.cookie.match(new RegExp("(?:^|; )" + n + "=([^;]*)")) || [])[1] || null, name);

/** The lead (`call-<id>`) a postback's tag names. */
export const leadOf = (postback) => `call-${postback.tag.match(/_ct-call-(\d+)_$/)[1]}`;

/**
 * Clicks "Simulate call" and waits for one accepted postback carrying `aid`, a call conversion,
 * with its lead settled (so that "one" is exact).
 */
export async function callAndExpectPostback(demo, page, aid) {
  await page.click("#simulate-call");
  assert.ok(aid, "the page has an RTB House id");
  const mine = () => demo.peer.postbacks.filter((p) => p.aid === aid && p.status === 200);
  await waitFor(() => mine().length > 0, { what: "postback" });
  await settled(demo, leadOf(mine()[0]));
  assert.equal(mine().length, 1, `one accepted postback for ${aid}: ${JSON.stringify(demo.peer.postbacks)}`);
  assert.match(mine()[0].tag, /_conversion_action_call_[^_]*_ct-call-\d+_$/, "a call conversion");
}
