// Hostile pages: the demo page with the one-line tag, made hostile before any script of it runs
// (page.addInitScript): a throwing document.cookie getter, `ct` that is not a function, no
// fetch and no sendBeacon, storage that is full or throws, frozen Object and Array prototypes.
// In each: no exception reaches the page, the page's own script keeps running (its "Simulate
// form lead" button still gets its webhook answered), and where a way to the relay is left, the
// binding arrives there.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { ACCEPTED, closeBrowser, waitFor, withDemo } from "../support/demo-session.mjs";

after(closeBrowser);

// The demo's own scripts (the panel, the simulated Calltouch and RTB House tags) are the page's
// code, not the hostile part: where a case takes away something they use, they are served
// rewritten to use what the init script kept aside for them (`window.__page`), as a page that
// bundles its own copy would, so that only the capture module meets the hostile global.
const DEMO_SCRIPTS = ["/demo.js", "/calltouch-init.js", "/calltouch-loader.js", "/rtbhouse-tag.js"];
async function servePageScripts(page, rewrites) {
  await page.route(
    (url) => DEMO_SCRIPTS.includes(url.pathname),
    async (route) => {
      const response = await route.fetch();
      let body = await response.text();
      for (const [from, to] of rewrites) body = body.replaceAll(from, to);
      await route.fulfill({ response, body });
    },
  );
}

// Every error that reaches the page, with the stack that says whose it was.
function errorsOf(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.stack || String(e)));
  return errors;
}

// The page's own script still works: its button sends a form lead and shows the relay's answer.
async function pageStillWorks(page) {
  await page.click("#simulate-lead");
  await waitFor(
    () => page.evaluate(() => /^request-\d+: webhook answered 200/.test(document.querySelector("#last-lead").textContent)),
    { what: "the page's own button answered (its script still runs)" },
  );
}

async function bindingArrives(demo, status) {
  await waitFor(async () => (await demo.metric(ACCEPTED)) === 1, {
    what: `the binding accepted by the relay (status ${JSON.stringify(await status())})`,
  });
}

const ready = (status) => waitFor(async () => (await status())?.state, { what: "the module loaded (status() answers)" });

test("document.cookie getter throws: nothing reaches the page, and the page goes on", async () => {
  await withDemo("hostile-cookie-getter", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      const real = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
      window.__page = { get cookie() { return real.get.call(document); }, set cookie(v) { real.set.call(document, v); } };
      Object.defineProperty(Document.prototype, "cookie", {
        configurable: true,
        get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
        set(v) { real.set.call(this, v); },
      });
    });
    await servePageScripts(page, [["document.cookie", "window.__page.cookie"]]);
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await ready(status);
    // Both ids are on the page (read through the page's own accessor); the module cannot read
    // the RTB House cookie, so no binding can be made: it waits without throwing.
    await waitFor(() => page.evaluate(() => /__r_aid_v__=/.test(window.__page.cookie) && window.ct && window.ct.loaded === true), { what: "both ids on the page" });
    await pageStillWorks(page);
    const after = await status();
    assert.equal(after.state, "waiting", JSON.stringify(after));
    assert.equal(after.cookie, false, JSON.stringify(after));
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
    assert.equal(await demo.metric(ACCEPTED), 0);
  });
});

test("ct is 42, not a function: no exception, and the binding still arrives (session from the cookie)", async () => {
  await withDemo("hostile-ct-number", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      // Whatever the Calltouch loader and init.js assign, `ct` stays 42.
      Object.defineProperty(window, "ct", { configurable: false, get: () => 42, set() {} });
    });
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await waitFor(() => page.evaluate(() => /(?:^|; )_ct_session_id=\d+/.test(document.cookie) && window.ct === 42), { what: "Calltouch's cookies on the page, ct still 42" });
    await bindingArrives(demo, status);
    await pageStillWorks(page);
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
  });
});

// The loader fetches its WebAssembly with the page's fetch: removed before the tag loads, the
// module cannot start. It says so in status() and one console warning, and throws nothing.
test("fetch and navigator.sendBeacon removed before the tag: no exception, the module reports failed", async () => {
  await withDemo("hostile-no-fetch", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      window.__page = { fetch: window.fetch.bind(window) };
      delete window.fetch;
      delete Navigator.prototype.sendBeacon;
    });
    await servePageScripts(page, [["fetch(", "window.__page.fetch("]]);
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    assert.equal(await page.evaluate(() => typeof window.fetch + " " + typeof navigator.sendBeacon), "undefined undefined");
    const failed = await waitFor(async () => ((await status())?.state === "failed" ? status() : null), { what: "the module reports it could not start" });
    assert.equal(typeof failed.lastError, "string", JSON.stringify(failed));
    await pageStillWorks(page);
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
    assert.equal(await demo.metric(ACCEPTED), 0, "no way to the relay was left");
  });
});

// Removed as soon as the module has fetched its WebAssembly: it runs, finds both ids, and has
// no way to send the binding, on a visible page or a hidden one (the sendBeacon path).
test("fetch and navigator.sendBeacon removed once the module runs: no exception, it keeps the binding waiting", async () => {
  await withDemo("hostile-no-fetch-after-load", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      const real = window.fetch.bind(window);
      window.__page = { fetch: real };
      delete Navigator.prototype.sendBeacon;
      window.fetch = function (input, init) {
        const answer = real(input, init);
        if (String(input && input.url ? input.url : input).includes(".wasm")) delete window.fetch;
        return answer;
      };
    });
    await servePageScripts(page, [["fetch(", "window.__page.fetch("]]);
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    const seen = await waitFor(async () => {
      const s = await status();
      return s && s.cookie && s.session ? s : null;
    }, { what: "both ids found" });
    assert.equal(await page.evaluate(() => typeof window.fetch + " " + typeof navigator.sendBeacon), "undefined undefined");
    await pageStillWorks(page);
    // Hiding the tab and leaving it (the sendBeacon path) must not throw either.
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
      window.dispatchEvent(new Event("pagehide"));
    });
    await pageStillWorks(page);
    const after = await status();
    assert.equal(after.state, "waiting", `first ${JSON.stringify(seen)}, now ${JSON.stringify(after)}`);
    assert.equal(after.sent, 0, JSON.stringify(after));
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
    assert.equal(await demo.metric(ACCEPTED), 0, "no way to the relay was left");
  });
});

test("localStorage full (setItem throws QuotaExceededError): the binding still arrives", async () => {
  await withDemo("hostile-storage-full", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      Storage.prototype.setItem = function () {
        throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      };
    });
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await bindingArrives(demo, status);
    await pageStillWorks(page);
    assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing could be stored");
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
  });
});

test("window.localStorage getter throws (storage disabled): the binding still arrives", async () => {
  await withDemo("hostile-storage-throws", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      for (const name of ["localStorage", "sessionStorage"]) {
        Object.defineProperty(window, name, {
          configurable: true,
          get() { throw new DOMException("Access is denied for this document.", "SecurityError"); },
        });
      }
    });
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await bindingArrives(demo, status);
    await pageStillWorks(page);
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
  });
});

test("Object.prototype and Array.prototype frozen: no exception, and the binding still arrives", async () => {
  await withDemo("hostile-frozen-prototypes", {}, async ({ demo, page, status, pageErrors }) => {
    const stacks = errorsOf(page);
    await page.addInitScript(() => {
      Object.freeze(Object.prototype);
      Object.freeze(Array.prototype);
    });
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    assert.equal(await page.evaluate(() => Object.isFrozen(Object.prototype) && Object.isFrozen(Array.prototype)), true);
    await bindingArrives(demo, status);
    await pageStillWorks(page);
    assert.deepEqual(pageErrors, [], stacks.join("\n\n"));
  });
});
