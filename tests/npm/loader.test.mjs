// The loader's own logic, shipped in both the script tag and the npm package (www/loader/): the
// watcher that decides when the capture module looks again (watch.js) and the `window.aidlink`
// handle (handle.js), run in Node against a stand-in window with a clock the test moves. The
// module behind `check` is a recorder here; the browser suites run the same watcher against the
// real module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import { aidlinkWatcher, CALM_MS, EAGER_MS, FLUSH, LOOK, RETRY, SETTLED } from "../../www/loader/watch.js";
import { aidlinkHandle } from "../../www/loader/handle.js";

// A window with the parts the watcher uses; `advance(ms)` runs the timers due, in order.
function fakeWindow() {
  let now = 1_000_000;
  let ids = 0;
  const timers = new Map();
  const w = new EventTarget();
  w.Date = { now: () => now };
  w.setTimeout = (f, ms) => {
    timers.set(++ids, { at: now + (ms || 0), f });
    return ids;
  };
  w.clearTimeout = (id) => timers.delete(id);
  w.advance = (ms) => {
    const end = now + ms;
    for (;;) {
      const due = [...timers].filter(([, t]) => t.at <= end).sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].f();
    }
    now = end;
  };
  w.now = () => now;
  w.timers = () => timers.size;
  w.document = new EventTarget();
  w.document.visibilityState = "visible";
  w.cookieStore = new EventTarget();
  const calls = [];
  w.history = {
    calls,
    pushState(state, unused, url) {
      calls.push(["pushState", this, url, arguments.length]);
      return "pushed";
    },
    replaceState(state, unused, url) {
      calls.push(["replaceState", this, url]);
      if (url === "/throw") throw new Error("refused");
    },
  };
  return w;
}

// A stand-in for the module's `check`: records each call with the clock, answers `answer(kind)`.
function recorder(w, answer = () => undefined) {
  const calls = [];
  const check = (kind, response) => {
    calls.push({ kind, response, at: w.now() });
    return answer(kind, response);
  };
  return { check, calls, looks: () => calls.filter((c) => c.kind === LOOK) };
}

test("the poll backs off from 100 ms to one look per 5 s and never gives up", () => {
  const w = fakeWindow();
  const m = recorder(w);
  const start = w.now();
  aidlinkWatcher(m.check, w).start(undefined);
  w.advance(60_000);
  const gaps = m.looks().map((c, i, all) => c.at - (i ? all[i - 1].at : start));
  assert.deepEqual(gaps.slice(0, 8), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  w.advance(60_000);
  const lastMinute = m.looks().filter((c) => c.at > start + 60_000);
  assert.equal(lastMinute.length, 12, "one look per 5 s in the second minute");
  w.advance(3_600_000);
  assert.ok(m.looks().at(-1).at > start + 3_600_000, "still looking after an hour");
});

test("page events look at once during the first minute, then at most every 5 s", () => {
  const w = fakeWindow();
  const m = recorder(w);
  aidlinkWatcher(m.check, w).start(undefined);
  w.advance(10);
  for (const [target, type] of [[w, "pageshow"], [w, "popstate"], [w.cookieStore, "change"], [w.document, "visibilitychange"]]) {
    const before = m.looks().length;
    target.dispatchEvent(new Event(type));
    assert.equal(m.looks().length, before + 1, `${type} looks at once`);
  }
  w.history.pushState({}, "", "/next");
  const before = m.looks().length;
  w.advance(0);
  assert.equal(m.looks().length, before + 1, "pushState looks on the next tick");

  w.advance(EAGER_MS);
  const calm = m.looks().length;
  for (let n = 0; n < 100; n++) {
    w.history.replaceState({}, "", `/router/${n}`); // a router rewriting the URL as the user scrolls
    w.advance(50);
  }
  const looks = m.looks().slice(calm);
  assert.ok(looks.length >= 1 && looks.length <= 2, `5 s of replaceState: ${looks.length} looks`);
  for (let i = 1; i < looks.length; i++) assert.ok(looks[i].at - looks[i - 1].at >= CALM_MS);
});

test("hidden or left: look, then flush, also after the first minute and right after a poll's look", () => {
  const w = fakeWindow();
  const m = recorder(w);
  aidlinkWatcher(m.check, w).start(undefined);
  w.document.visibilityState = "hidden";
  w.document.dispatchEvent(new Event("visibilitychange"));
  assert.deepEqual(m.calls.map((c) => c.kind), [LOOK, FLUSH]);
  w.dispatchEvent(new Event("pagehide"));
  assert.deepEqual(m.calls.map((c) => c.kind), [LOOK, FLUSH, LOOK, FLUSH]);
  w.advance(EAGER_MS + 1);
  m.calls.length = 0;
  w.dispatchEvent(new Event("pagehide"));
  assert.deepEqual(m.calls.map((c) => c.kind), [LOOK, FLUSH], "leaving is the last chance to see a late id, throttle or not");
  w.document.visibilityState = "hidden";
  w.document.dispatchEvent(new Event("visibilitychange"));
  assert.deepEqual(m.calls.map((c) => c.kind), [LOOK, FLUSH, LOOK, FLUSH]);
});

test("a retry delay is waited for; a request's answer goes back, a failed request as undefined", async () => {
  const w = fakeWindow();
  const response = { status: 204 };
  let answers = [1500, Promise.resolve(response), Promise.reject(new Error("offline")), undefined];
  const m = recorder(w, (kind) => (kind === LOOK ? undefined : answers.shift()));
  const watcher = aidlinkWatcher(m.check, w);
  watcher.start(answers.shift());
  const started = w.now();
  w.advance(1499);
  assert.equal(m.calls.filter((c) => c.kind === RETRY).length, 0, "not before the delay");
  w.advance(1);
  const retry = m.calls.find((c) => c.kind === RETRY);
  assert.equal(retry.at - started, 1500);
  await tick();
  const settled = m.calls.filter((c) => c.kind === SETTLED);
  assert.equal(settled.length, 2);
  assert.equal(settled[0].response, response);
  assert.equal(settled[1].response, undefined);
});

test("false stops the waiting: no listener, poll or retry left, history given back", () => {
  const w = fakeWindow();
  const push = w.history.pushState;
  let on = true;
  const m = recorder(w, () => (on ? undefined : false));
  aidlinkWatcher(m.check, w).start(2000); // a retry pending
  assert.notEqual(w.history.pushState, push, "wrapped while waiting");
  on = false;
  w.advance(100); // the next poll hears `false`
  assert.equal(w.history.pushState, push, "given back");
  assert.equal(w.timers(), 0, "neither poll nor retry left");
  const calls = m.calls.length;
  for (const [target, type] of [[w, "pageshow"], [w, "pagehide"], [w.cookieStore, "change"], [w.document, "visibilitychange"]]) {
    target.dispatchEvent(new Event(type));
  }
  w.advance(60_000);
  assert.equal(m.calls.length, calls, "nothing calls the module any more");
});

test("start(false) (consent pending, bad settings) installs nothing; a throwing module stops quietly", () => {
  const w = fakeWindow();
  const push = w.history.pushState;
  const m = recorder(w);
  aidlinkWatcher(m.check, w).start(false);
  w.dispatchEvent(new Event("pageshow"));
  w.advance(10_000);
  assert.equal(m.calls.length, 0);
  assert.equal(w.history.pushState, push);

  const broken = aidlinkWatcher(() => {
    throw new Error("unreachable executed");
  }, w);
  broken.start(undefined);
  w.advance(100);
  assert.equal(w.history.pushState, push, "stopped after the throw");
  assert.equal(w.timers(), 0);
});

test("the history wrappers keep the page's call as it was, and stay when someone wrapped them after us", () => {
  const w = fakeWindow();
  const original = w.history.replaceState;
  const m = recorder(w);
  const watcher = aidlinkWatcher(m.check, w);
  watcher.start(undefined);
  const detached = w.history.pushState;
  assert.equal(detached.call(undefined, { s: 1 }, "", "/a"), "pushed", "same return value");
  assert.deepEqual(w.history.calls[0].slice(1), [w.history, "/a", 3], "called on history with the page's arguments");
  assert.throws(() => w.history.replaceState({}, "", "/throw"), /refused/, "the page's exception is its own");
  const looks = m.looks().length;
  w.advance(0);
  assert.equal(m.looks().length, looks + 2, "both navigations looked, the refused one too");
  const theirs = w.history.replaceState;
  w.history.replaceState = function () { return theirs.apply(this, arguments); }; // a router's own wrapper
  watcher.stop();
  assert.notEqual(w.history.replaceState, original, "theirs left in place");
  assert.ok(w.history.pushState !== detached, "ours given back where nobody wrapped it");
});

// The handle, as the page sees `window.aidlink` (localStorage and window stand-ins).
function withPage(run) {
  const w = fakeWindow();
  const stored = new Map([["aidlink.sent", "b1"], ["aidlink.pending", "b2\t{}"]]);
  globalThis.window = w;
  globalThis.localStorage = { removeItem: (k) => stored.delete(k) };
  try {
    return run(w, stored);
  } finally {
    delete globalThis.window;
    delete globalThis.localStorage;
  }
}

test("the handle: early consent, the first look starts the waiting, stop and deny stop it", async () => {
  await withPage(async (w) => {
    const state = aidlinkHandle();
    state.handle.grantConsent();
    assert.equal(state.early(), "granted");
    state.handle.denyConsent();
    state.handle.grantConsent();
    assert.equal(state.early(), "denied", "a denial wins");
    assert.equal(state.handle.status().state, "loading");

    const said = [];
    let busy = true;
    const m = recorder(w);
    state.ready({
      check: m.check,
      grantConsent: () => false,
      denyConsent: () => (said.push("deny"), !busy),
      stop: () => (said.push("stop"), true),
      status: () => ({ state: "waiting" }),
    });
    assert.deepEqual(m.calls.map((c) => c.kind), [LOOK], "the first look");
    assert.equal(state.handle.status().state, "waiting");
    w.advance(100);
    assert.equal(m.looks().length, 2, "then the poll");
    state.handle.denyConsent();
    busy = false;
    await tick();
    assert.deepEqual(said, ["deny", "deny"], "refused while busy: asked again on the next microtask");
    w.advance(60_000);
    w.dispatchEvent(new Event("pageshow"));
    assert.equal(m.looks().length, 2, "no more looks once denied");
  });
});

test("the handle: grantConsent starts the waiting with the module's first look", () => {
  withPage((w) => {
    const state = aidlinkHandle();
    const m = recorder(w);
    let pending = true;
    state.ready({
      check: (kind, r) => (pending ? false : m.check(kind, r)),
      grantConsent: () => ((pending = false), undefined),
      denyConsent: () => true,
      stop: () => true,
      status: () => ({}),
    });
    w.advance(10_000);
    assert.equal(m.calls.length, 0, "consent pending: no waiting");
    state.handle.grantConsent();
    w.advance(100);
    assert.equal(m.looks().length, 1, "the poll runs from the grant on");
    w.dispatchEvent(new Event("pageshow"));
    assert.equal(m.looks().length, 2, "and the page's events");
  });
});

test("the handle: a stop() asked while the module loaded is replayed after its first look", () => {
  withPage((w) => {
    const state = aidlinkHandle();
    state.handle.stop();
    const said = [];
    state.ready({
      check: (kind) => (said.push(kind === LOOK ? "look" : kind), undefined),
      grantConsent: () => false,
      denyConsent: () => true,
      stop: () => (said.push("stop"), true),
      status: () => ({}),
    });
    w.advance(60_000);
    assert.deepEqual(said, ["look", "stop"]);
  });
});

test("the handle: when the module could not load, status says failed and denyConsent still clears storage", () => {
  withPage((w, stored) => {
    const state = aidlinkHandle();
    state.failed("could not load");
    assert.deepEqual(state.handle.status(), { state: "failed", cookie: false, session: false, sent: 0, lastError: "could not load" });
    state.handle.denyConsent();
    assert.equal(stored.size, 0);
  });
});
