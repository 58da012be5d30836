// The whole chain in a real browser: the demo shop page with the one-line tag, a simulated RTB
// House tag and Calltouch loader, the real relay binary on loopback, and a fake RTB House.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  ACCEPTED,
  callAndExpectPostback,
  closeBrowser,
  leadOf,
  pageCookie,
  settled,
  waitFor,
  withDemo,
} from "../support/demo-session.mjs";

after(closeBrowser);

test("cookie and session at once, call ends: exactly one postback carrying the page's id", async () => {
  // Target calls only: Calltouch knows whether a call is a target one only at its end, so the
  // relay waits for the end event, and the postback can only come from it.
  await withDemo("cookie-and-session-at-once", { siteExtra: { metrics: ["target_calls"] } }, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await waitFor(async () => (await status())?.state === "bound", { what: "bound" });
    const aid = await pageCookie(page, "__r_aid_v__");
    const calledAt = Date.now();
    await callAndExpectPostback(demo, page, aid);
    await settled(demo, leadOf(demo.peer.postbacks[0]));
    assert.equal(demo.peer.postbacks.length, 1, JSON.stringify(demo.peer.postbacks));
    const [postback] = demo.peer.postbacks;
    assert.equal(postback.aid, aid);
    const [, callId] = postback.tag.match(/^pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-(\d+)_$/) || [];
    assert.ok(callId, postback.tag);
    const query = new URL(postback.url, demo.peerUrl).searchParams;
    assert.equal(query.get("pkey"), "demo-pkey");
    assert.equal(query.get("cd"), "default");
    const time = Number(query.get("time"));
    assert.ok(time >= calledAt - 2000 && time <= Date.now(), `event time ${time} is the call's, not another clock's`);
    const trail = await demo.admin(`/v1/sites/38342/leads/call-${callId}`);
    assert.deepEqual(trail.events.map((e) => [e.phase, e.reason]), [["connected", "waiting:call_end"], ["disconnected", "queued"]]);
    assert.equal(await demo.metric(ACCEPTED), 1, "one binding stored");
    await page.waitForFunction(() => document.querySelector("#postbacks").textContent.includes("conversion"));
  });
});

test("demo with ?rtb_form=json → call → one postback with the JSON cookie's id", async () => {
  await withDemo("rtb-form-json", {}, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0&rtb_form=json"));
    await waitFor(async () => (await status())?.state === "bound", { what: "bound" });
    assert.equal(await pageCookie(page, "__r_aid_v__"), null, "the tag wrote only the JSON form");
    // What the current RTB House tag writes: percent-encoded {"eventType":"aid","id":…,"expiryDate":…}.
    const raw = await pageCookie(page, "__rtbh\\.aid");
    assert.match(raw, /^%7B%22eventType%22%3A%22aid%22%2C%22id%22%3A%22/, raw);
    const written = JSON.parse(decodeURIComponent(raw));
    assert.match(written.id, /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "a UUID v1");
    assert.ok(Date.parse(written.expiryDate) > Date.now(), written.expiryDate);
    await page.click("#simulate-call");
    const answered = await waitFor(
      () => page.evaluate(() => (document.querySelector("#last-lead").textContent.match(/^(call-\d+): webhook answered 200, 200$/) || [])[1]),
      { what: "both webhooks of the call answered" },
    );
    // Every event of the lead decided and nothing left in the outbox: no postback can follow.
    await waitFor(async () => {
      const trail = await demo.admin(`/v1/sites/38342/leads/${answered}`);
      return trail && trail.events.length === 2 && trail.events.every((e) => e.reason) && (await demo.metric("aidlink_outbox_depth")) === 0;
    }, { what: "the call decided and delivered" });
    assert.equal(demo.peer.postbacks.length, 1, JSON.stringify(demo.peer.postbacks));
    const [postback] = demo.peer.postbacks;
    assert.equal(postback.status, 200);
    assert.equal(postback.aid, written.id, "the postback carries the JSON cookie's id");
    assert.match(postback.tag, new RegExp(`_ct-${answered}_$`));
    assert.equal(await demo.metric(ACCEPTED), 1, "one binding stored");
  });
});

test("RTB House cookie set 5 s after load is still bound", async () => {
  await withDemo("cookie-5s-late", {}, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=5000&ct_delay=0"));
    // The module has found the session; the RTB House cookie comes 5 s after load.
    const early = await waitFor(async () => {
      const s = await status();
      return s && s.session ? s : null;
    }, { what: "the session found" });
    assert.equal(early.cookie, false);
    assert.equal(early.session, true);
    assert.equal(await demo.metric(ACCEPTED), 0);
    await waitFor(async () => (await status())?.state === "bound", { timeout: 12000, what: "bound" });
    assert.equal(await demo.metric(ACCEPTED), 1);
    await callAndExpectPostback(demo, page, await pageCookie(page, "__r_aid_v__"));
  });
});

test("Calltouch init.js arriving 3 s after load is picked up", async () => {
  await withDemo("calltouch-3s-late", {}, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=3000"));
    // The module has read the RTB House cookie (written at once) while init.js is still away.
    const early = await waitFor(async () => {
      const s = await status();
      return s && s.cookie ? s : null;
    }, { what: "the RTB House id found" });
    assert.equal(early.session, false, "the queue stub gives no session");
    assert.equal(early.state, "waiting");
    await waitFor(async () => (await status())?.state === "bound", { timeout: 12000, what: "bound" });
    const attrs = await page.evaluate(() => window.ctAttrs);
    assert.equal(attrs.length, 1, "set_attrs queued on the stub and replayed by init.js");
    assert.equal(JSON.parse(attrs[0]).__r_aid_v__, await pageCookie(page, "__r_aid_v__"));
  });
});

test("consent pending: nothing read or sent until grantConsent()", async () => {
  await withDemo("consent-pending", {}, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/consent.html", "rtb_delay=0&ct_delay=0"));
    // The module has loaded, and both ids are on the page to be read: nothing is, yet.
    await waitFor(async () => (await status())?.state === "consent_pending", { what: "the module loaded" });
    await waitFor(() => page.evaluate(() => document.cookie.includes("__r_aid_v__=") && window.ct && window.ct.loaded !== false), { what: "the RTB House cookie and Calltouch on the page" });
    const before = await status();
    assert.deepEqual([before.state, before.cookie, before.session], ["consent_pending", false, false]);
    assert.equal(await demo.metric(ACCEPTED), 0);
    assert.deepEqual(await page.evaluate(() => window.ctAttrs), [], "nothing handed to Calltouch either");
    assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing stored");
    await page.click("#accept");
    await waitFor(async () => (await status())?.state === "bound", { what: "bound after consent" });
    assert.equal(await demo.metric(ACCEPTED), 1);
    assert.equal((await page.evaluate(() => window.ctAttrs)).length, 1, "set_attrs once consent is given");
  });
});

test("SPA navigation into a new Calltouch session sends a second binding", async () => {
  await withDemo("spa-new-session", {}, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await waitFor(async () => (await status())?.sent === 1, { what: "first binding" });
    await page.click("#new-session");
    await waitFor(async () => (await status())?.sent === 2, { timeout: 3000, what: "second binding right after pushState" });
    assert.equal(await demo.metric(ACCEPTED), 2);
    assert.equal(new URL(page.url()).pathname, "/checkout");
    await callAndExpectPostback(demo, page, await pageCookie(page, "__r_aid_v__"));
  });
});

test("tab hidden right after both ids appear: the binding still arrives (sendBeacon)", async () => {
  await withDemo("hidden-beacon", {}, async ({ demo, page, status }) => {
    // The first POST meets a busy relay (503, Retry-After: 30), so the binding sits waiting to
    // retry; hiding the tab must hand it to sendBeacon rather than leave it for 30 s. (It stays
    // queued too: the module cannot know whether the beacon met the same failure.)
    const seen = [];
    await page.route("**/v1/bindings", (route) => {
      seen.push(`${route.request().resourceType()} at ${Date.now() % 100000}`);
      if (seen.length === 1) {
        return route.fulfill({ status: 503, headers: { "retry-after": "30", "access-control-allow-origin": "*", "access-control-expose-headers": "Retry-After" }, body: "" });
      }
      return route.continue();
    });
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await waitFor(async () => typeof (await status())?.lastError === "string", { what: "first attempt refused" });
    const waiting = await status();
    assert.equal(await demo.metric(ACCEPTED), 0, `nothing at the relay yet; requests: ${seen}; status ${JSON.stringify(waiting)}`);
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await waitFor(async () => (await demo.metric(ACCEPTED)) === 1, { timeout: 5000, what: `beacon at the relay (requests: ${seen})` });
    assert.equal(seen.length, 2, `one refused fetch, one beacon: ${seen}`);
    assert.equal(seen[1].split(" ")[0], "ping", `the second request is the beacon (a "ping" to Chromium): ${seen}`);
  });
});

test("RTB House failing twice still gets exactly one accepted postback", async () => {
  await withDemo("receiver-fails-twice", {}, async ({ demo, page, status }) => {
    await fetch(`${demo.peerUrl}/demo/fail?count=2&status=503`, { method: "POST" });
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    await waitFor(async () => (await status())?.state === "bound", { what: "bound" });
    const aid = await pageCookie(page, "__r_aid_v__");
    await callAndExpectPostback(demo, page, aid);
    await settled(demo, leadOf(demo.peer.postbacks.find((p) => p.status === 200)));
    assert.deepEqual(demo.peer.postbacks.map((p) => p.status), [503, 503, 200]);
    assert.ok(demo.peer.postbacks.every((p) => p.aid === aid));
  });
});

test("a page whose CSP lacks 'wasm-unsafe-eval' is unaffected; one console warning under debug", async () => {
  await withDemo("csp-without-wasm", {}, async ({ demo, page, status, consoleLines, pageErrors }) => {
    await page.goto(demo.pageUrl("/csp.html", "rtb_delay=0&ct_delay=0"));
    await waitFor(async () => (await status())?.state === "failed", { what: "failed state" });
    await page.click("#simulate-lead");
    await waitFor(() => page.evaluate(() => /request-\d+: webhook answered 200/.test(document.querySelector("#last-lead").textContent)), { what: "page still works" });
    // The page has gone on working since: one warning, and only one.
    const warnings = consoleLines.filter((l) => l.type === "warning" && l.text.startsWith("aidlink:"));
    assert.equal(warnings.length, 1, JSON.stringify(consoleLines));
    assert.match(warnings[0].text, /wasm-unsafe-eval/);
    assert.deepEqual(pageErrors, []);
    assert.equal(await demo.metric(ACCEPTED), 0);
  });
});
