// The chain in Firefox ESR and WebKit, the engines most visitors use besides Chromium (which
// runs every end-to-end test): the demo page with the one-line tag, the real relay on loopback,
// a Calltouch-shaped webhook and the fake RTB House, driven over WebDriver
// (tests/support/engines.mjs). AIDLINK_E2E_ENGINES narrows the engines (default firefox,webkit).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  ACCEPTED,
  callAndExpectPostback,
  closeEngines,
  leadOf,
  pageCookie,
  settled,
  waitFor,
  withDemoIn,
} from "../support/demo-session.mjs";
import { ENGINES } from "../support/engines.mjs";

after(closeEngines);

const engines = (process.env.AIDLINK_E2E_ENGINES || "firefox,webkit").split(",").filter(Boolean);

for (const engine of engines) {
  const label = ENGINES[engine].label;

  test(`${label}: page with the tag → call → exactly one postback carrying the visitor's id`, async () => {
    await withDemoIn(engine, "chain", {}, async ({ demo, page, status }) => {
      await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
      await waitFor(async () => (await status())?.state === "bound", { what: "bound" });
      assert.equal(await demo.metric(ACCEPTED), 1, "one binding stored");
      const aid = await pageCookie(page, "__r_aid_v__");
      await callAndExpectPostback(demo, page, aid);
      await settled(demo, leadOf(demo.peer.postbacks[0]));
      assert.deepEqual(demo.peer.postbacks.map((p) => [p.status, p.aid]), [[200, aid]]);
    });
  });

  test(`${label}: RTB House cookie written 5 s after load (JSON form) is bound and credited`, async () => {
    await withDemoIn(engine, "late-json-cookie", {}, async ({ demo, page, status }) => {
      await page.goto(demo.pageUrl("/", "rtb_delay=5000&ct_delay=0&rtb_form=json"));
      const early = await waitFor(async () => {
        const s = await status();
        return s && s.session ? s : null;
      }, { what: "the session found" });
      assert.equal(early.cookie, false, "the cookie is not there yet");
      await waitFor(async () => (await status())?.state === "bound", { timeout: 15000, what: "bound" });
      const written = JSON.parse(decodeURIComponent(await pageCookie(page, "__rtbh\\.aid")));
      await callAndExpectPostback(demo, page, written.id);
    });
  });
}
