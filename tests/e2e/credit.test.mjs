// cd under `dedup = "attribution"`, end to end: the visitor's landing page says where the visit
// came from, the capture module sends it as the binding's touchpoint, and the relay sets the
// postback's cd from the source under the site's attribution model.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { closeBrowser, settled, waitFor, withDemo } from "../support/demo-session.mjs";

after(closeBrowser);

const attribution = { siteExtra: { toml: 'dedup = "attribution"' } };

async function callAndReadPostback(demo, page, status) {
  await waitFor(async () => (await status())?.state === "bound", { what: "bound" });
  await page.click("#simulate-call");
  const accepted = await waitFor(() => {
    const ok = demo.peer.postbacks.filter((p) => p.status === 200);
    return ok.length ? ok : null;
  }, { what: "an accepted postback" });
  await settled(demo, `call-${accepted[0].tag.match(/_ct-call-(\d+)_$/)[1]}`);
  assert.equal(demo.peer.postbacks.filter((p) => p.status === 200).length, 1, JSON.stringify(demo.peer.postbacks));
  return new URL(accepted[0].url, demo.peerUrl).searchParams;
}

test("a visit from RTB House's ad: cd=false", async () => {
  await withDemo("cd-false-rtbhouse-visit", attribution, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0&utm_source=rtbhouse&utm_medium=cpc"));
    const query = await callAndReadPostback(demo, page, status);
    assert.equal(query.get("cd"), "false");
    const lead = query.get("tag").match(/_ct-call-(\d+)_$/)[1];
    const trail = await demo.admin(`/v1/sites/38342/leads/call-${lead}`);
    assert.equal(trail.judged_source, "rtbhouse");
    assert.equal(trail.cd, "false");
  });
});

test("a direct visit: cd=true", async () => {
  await withDemo("cd-true-direct-visit", attribution, async ({ demo, page, status }) => {
    await page.goto(demo.pageUrl("/", "rtb_delay=0&ct_delay=0"));
    const query = await callAndReadPostback(demo, page, status);
    assert.equal(query.get("cd"), "true");
    const lead = query.get("tag").match(/_ct-call-(\d+)_$/)[1];
    const trail = await demo.admin(`/v1/sites/38342/leads/call-${lead}`);
    assert.equal(trail.judged_source, "(direct)");
    assert.equal(trail.cd, "true");
  });
});
