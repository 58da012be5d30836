// The operator's screen at /admin in headless Chromium against the real relay and the demo's
// fake RTB House: a site added and filled from its labels, its leads sent, filtered and
// switched off as the settings change, a dead lead retried, the audit trail, validation, CSRF,
// the sign-in limit, the live view, the test lead, both languages on every screen, and a
// screenshot of each screen at 1280 px and 360 px (artifacts/e2e/admin/; with
// AIDLINK_SCREENSHOTS=docs also docs/screenshots/, the README's pictures).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ADMIN_TOKEN, launchDemo, ROOT, WEBHOOK_TOKEN } from "../../www/demo/launch.mjs";
import { closeBrowser, sharedBrowser, waitFor } from "../support/demo-session.mjs";

after(closeBrowser);

const SHOTS = path.join(ROOT, "artifacts/e2e/admin");
const DOCS = path.join(ROOT, "docs/screenshots");
const SITE = "50505";
const PKEY = "e2e-pkey-SECRET-31337";
const HASH = "IYIhaCDSPfPoVd4FIEF1";
const AID = "AidE2E0123456789xyz";

// Each screen at both widths; at 360 px nothing may stick out sideways (wide tables scroll
// inside their own box).
async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name} at ${width} px is ${overflow} px too wide`);
    const file = path.join(SHOTS, `${name}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.AIDLINK_SCREENSHOTS === "docs") {
      mkdirSync(DOCS, { recursive: true });
      copyFileSync(file, path.join(DOCS, `${name}-${width}.png`));
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function withScreen(name, body) {
  const dir = mkdtempSync(path.join(tmpdir(), "aidlink-admin-"));
  const demo = await launchDemo({ dir });
  const context = await (await sharedBrowser()).newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    // Refusals the tests provoke, and the browser's own favicon request, are logged as failed
    // loads; anything else (a CSP violation, a script error) fails the test.
    if (m.type() === "error" && !/status of (400|401|403|404|429)/.test(m.text())) problems.push(m.text());
  });
  try {
    await body({ demo, page, context });
    assert.deepEqual(problems, [], "no script errors, nothing the CSP blocked");
  } finally {
    await context.close();
    await demo.stop();
  }
}

async function signIn(page, demo) {
  await page.goto(`${demo.relayUrl}/admin?lang=en`);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Sites" }).waitFor();
}

async function bind(demo, session, client) {
  const body = {
    v: 1, id: `b-${session}`, site: SITE, session, ct_client: client, aid: AID,
    touch: { utm_source: "yandex", utm_medium: "cpc", ref: "yandex.ru", path: "/", ts: Date.now() - 60000 },
  };
  const r = await fetch(`${demo.relayUrl}/v1/bindings`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(body) });
  assert.equal(r.status, 204);
}

// A call's end as Calltouch sends it (URL-encoded, `null` strings, personal data included).
async function callEnds(hookUrl, id, session, client) {
  const fields = new URLSearchParams({
    leadtype: "call", id, callphase: "calldisconnected", timestamp: String(Math.floor(Date.now() / 1000)),
    status: "successful", unique: "true", targetcall: "target", uniqtargetcall: "uniqtarget",
    tags_manual: "vip", sessionId: session, ctClientId: client, siteId: SITE,
    utm_source: "null", callerphone: "79161234567", fio: "Ivan Petrov", attrs: "null",
  });
  const r = await fetch(hookUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: fields });
  assert.equal(r.status, 200, await r.text());
}

// The lead's row in the log (English), waited for until it has `status`.
async function logRow(page, demo, lead, status) {
  return waitFor(async () => {
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}/leads?lang=en`);
    const row = page.locator(`tr[data-lead="${lead}"]`);
    if ((await row.count()) === 0) return null;
    return (await row.locator("td[data-status]").getAttribute("data-status")) === status ? row : null;
  }, { timeout: 15000, what: `${lead} ${status} in the lead log` });
}

async function save(page) {
  await page.getByRole("button", { name: "Save", exact: true }).click();
}

const auditRows = (page) => page.locator("table.audit tbody tr").count();

test("an operator adds a site, its leads follow the settings, a dead one is retried, every change is audited", async () => {
  await withScreen("flow", async ({ demo, page, context }) => {
    await signIn(page, demo);
    await shot(page, "sites");

    // Add a site and fill it from its labels.
    await page.getByRole("button", { name: "Add site" }).click();
    await page.getByLabel("Site id").fill(SITE);
    await page.getByLabel("PKEY").fill(PKEY);
    await page.getByLabel("Advertiser tagging hash").fill(HASH);
    await page.getByLabel("Region").selectOption("omni");
    await page.getByLabel("Target calls", { exact: true }).check();
    await page.getByLabel("Failed calls", { exact: true }).check();
    await page.getByLabel("Tags", { exact: true }).fill("vip, gold");
    await page.getByLabel("Tag match").selectOption("any");
    await page.getByLabel("Field").nth(0).selectOption("utm_source");
    await page.getByLabel("Operator").nth(0).selectOption("equals");
    await page.getByLabel("Value", { exact: true }).nth(0).fill("yandex");
    await page.getByRole("button", { name: "Add condition" }).click();
    assert.equal(await page.getByLabel("Field").count(), 2, "a second row");
    assert.equal(await page.evaluate(() => document.activeElement.id), "cond-field-1", "focus on the new row");
    assert.equal(await page.getByLabel("Value", { exact: true }).nth(0).inputValue(), "yandex", "kept as typed");
    await page.getByLabel("Field").nth(1).selectOption("utm_medium");
    await page.getByLabel("Value", { exact: true }).nth(1).fill("cpc");
    await page.getByLabel("Attribution model").selectOption("last_click");
    await shot(page, "new-site");
    await page.getByLabel("Integration enabled").check();
    await save(page);
    await page.getByText("Saved. The new settings apply from the next webhook.").waitFor();
    assert.match(await page.getByLabel("PKEY").inputValue(), /^$/, "write-only");
    assert.ok(!(await page.content()).includes(PKEY), "the PKEY is never shown");
    const hookUrl = await page.getByLabel("Webhook URL").inputValue();
    assert.match(hookUrl, new RegExp(`^${demo.relayUrl}/v1/calltouch/${SITE}\\?token=[0-9a-f]{32}$`));
    assert.match(await page.getByLabel("Script tag").inputValue(), new RegExp(`data-site="${SITE}"`));
    await shot(page, "site");

    // The live view is open when the call arrives: it shows up without a reload.
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}/live?lang=en`);
    await bind(demo, "S-1", "C-1");
    await callEnds(hookUrl, "1001", "S-1", "C-1");
    await page.locator("#events li", { hasText: "call-1001" }).first().waitFor({ timeout: 10000 });
    await page.locator("#counts tr", { hasText: "Postbacks by outcome: sent" }).waitFor({ timeout: 10000 }).catch(async (e) => {
      throw new Error(`${e.message}\n${await page.locator("main").textContent()}`);
    });
    await shot(page, "live");

    // Sent, with its trail.
    const sent = await logRow(page, demo, "call-1001", "sent");
    assert.equal(await sent.locator("td").nth(2).textContent(), "queued");
    assert.equal(await sent.locator("td").nth(4).textContent(), "200");
    await shot(page, "leads");
    await sent.getByRole("link", { name: "call-1001" }).click();
    await page.getByRole("heading", { name: "Lead call-1001" }).waitFor();
    const trail = await page.locator("main").textContent();
    assert.match(trail, /Every rule passed/);
    assert.match(trail, /Source judged onyandex/);
    assert.match(trail, /binding of the session/);
    const url = await page.locator("td.url code").first().textContent();
    assert.match(url, /pkey=e2\*\*\*&aid=AidE2E0123456789xyz&.*_ct-call-1001_&cd=default$/, url);
    assert.ok(!(await page.content()).includes(PKEY));
    await shot(page, "lead");
    assert.equal(demo.peer.postbacks.filter((p) => p.tag.endsWith("_ct-call-1001_")).length, 1);

    // A condition changed: the next call is filtered on it.
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}?lang=en`);
    await page.getByLabel("Value", { exact: true }).nth(0).fill("google");
    await save(page);
    await page.getByText("Saved.", { exact: false }).first().waitFor();
    await callEnds(hookUrl, "1002", "S-1", "C-1");
    const filtered = await logRow(page, demo, "call-1002", "filtered");
    assert.equal(await filtered.locator("td").nth(2).textContent(), "filtered:traffic:utm_source");

    // Switched off: the next call is not judged further.
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}?lang=en`);
    await page.getByLabel("Integration enabled").uncheck();
    await save(page);
    await callEnds(hookUrl, "1003", "S-1", "C-1");
    const off = await logRow(page, demo, "call-1003", "filtered");
    assert.equal(await off.locator("td").nth(2).textContent(), "switched_off");

    // A dead lead (RTB House refuses it once) → Retry → delivered once.
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}?lang=en`);
    await page.getByLabel("Integration enabled").check();
    await page.getByRole("button", { name: "Remove condition" }).first().click();
    assert.equal(await page.evaluate(() => document.activeElement.textContent), "Add condition", "focus after removing");
    await save(page);
    demo.peer.failures.push(400);
    await callEnds(hookUrl, "1004", "S-1", "C-1");
    const dead = await logRow(page, demo, "call-1004", "dead");
    assert.equal(await dead.locator("td").nth(4).textContent(), "400");
    await dead.getByRole("button", { name: "Retry" }).click();
    await page.getByText("call-1004 is queued again").waitFor();
    await logRow(page, demo, "call-1004", "sent");
    await waitFor(async () => (await demo.metric("aidlink_outbox_depth")) === 0, { what: "an empty outbox" });
    const tries = demo.peer.postbacks.filter((p) => p.tag.endsWith("_ct-call-1004_")).map((p) => p.status);
    assert.deepEqual(tries, [400, 200], "refused once, then delivered once");

    // An invalid tagging hash: the error beside the field, nothing saved.
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}?lang=en`);
    const saves = await auditRows(page);
    await page.getByLabel("Advertiser tagging hash").fill("not-a-hash");
    await save(page);
    const error = page.locator("#error-tagging_hash");
    assert.equal(await error.textContent(), "must be 20 letters or digits");
    assert.equal(await page.getByLabel("Advertiser tagging hash").getAttribute("aria-describedby"), "hint-tagging_hash error-tagging_hash");
    await shot(page, "site-error");
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}?lang=en`);
    assert.equal(await page.getByLabel("Advertiser tagging hash").inputValue(), HASH, "not saved");
    assert.equal(await auditRows(page), saves, "no audit entry");

    // The audit trail: every save, newest first, PKEY masked.
    assert.equal(saves, 4, "created, condition, switched off, switched on");
    const audit = await page.locator("table.audit").textContent();
    assert.match(audit, /pkey: e2\*\*\*/);
    assert.match(audit, /traffic: utm_source equals "yandex"; utm_medium equals "cpc" → utm_source equals "google"; utm_medium equals "cpc"/);
    assert.match(audit, /enabled: true → false/);
    assert.match(audit, /enabled: false → true/);
    assert.ok(!audit.includes(PKEY));

    // A form post without the CSRF token is refused, and changes nothing.
    const forged = await context.request.post(`${demo.relayUrl}/admin/sites/${SITE}`, {
      form: { tagging_hash: HASH, region: "omni", tag_match: "any", attribution: "last_click", dedup: "default", attr_key: "x" },
      maxRedirects: 0,
    });
    assert.equal(forged.status(), 403);
    await page.reload();
    assert.equal(await auditRows(page), saves);

    // The test lead: every rule, the URL that would go out, nothing stored or sent.
    const posted = demo.peer.postbacks.length;
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}/test?lang=en`);
    await page.getByLabel("Call or request id").fill("9999");
    await page.getByLabel("The lead's tags").fill("vip");
    await page.getByLabel("utm_source", { exact: true }).fill("yandex");
    await page.getByLabel("utm_medium", { exact: true }).fill("");
    await page.getByLabel("RTB House id (empty = none)").fill(AID);
    await page.getByRole("button", { name: "Check" }).click();
    const rules = await page.locator("table.rules tbody tr").allTextContents();
    assert.deepEqual(rules.map((r) => r.replace(/pass$|fail.*$/, (m) => ` ${m.split(" ")[0]}`)), [
      "Integration enabled pass", "PKEY and tagging hash set pass", "RTB House id known pass",
      "Call ended, when the filters need it pass", "A selected metric matches pass", "Tags match pass",
      'Condition: utm_medium equals "cpc" fail',
    ]);
    await page.getByLabel("utm_medium", { exact: true }).fill("cpc");
    await page.getByRole("button", { name: "Check" }).click();
    assert.equal(await page.locator("#decision").textContent(), "queued");
    assert.match(await page.locator("#postback-url").textContent(), /\?pkey=e2\*\*\*&aid=AidE2E0123456789xyz&time=\d+&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-9999_&cd=default$/);
    await shot(page, "test-lead");
    await logRow(page, demo, "call-1004", "sent");
    assert.equal(await page.locator('tr[data-lead="call-9999"]').count(), 0, "nothing stored");
    assert.equal(demo.peer.postbacks.length, posted, "nothing sent");
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}/test?lang=en&from=call-1001`);
    assert.equal(await page.getByLabel("Call or request id").inputValue(), "1001", "a recent real one");
    assert.equal(await page.getByLabel("RTB House id (empty = none)").inputValue(), AID);

    // Keyboard: the skip link first, and a visible focus ring on what has focus.
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}?lang=en`);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
    await page.getByLabel("PKEY").focus();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "tagging_hash", "form order");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, "none");

    // Signing out ends the session.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
    await shot(page, "sign-in");
    await page.goto(`${demo.relayUrl}/admin/sites/${SITE}/leads?lang=en`);
    await page.getByLabel("Admin token").waitFor();
  });
});

test("every screen renders in Russian by default and in English with ?lang=en, remembered", async () => {
  await withScreen("languages", async ({ demo, page }) => {
    await page.goto(`${demo.relayUrl}/admin`);
    assert.equal(await page.getAttribute("html", "lang"), "ru");
    await page.getByLabel("Токен администратора").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Войти" }).click();
    const lead = "call-77";
    const hook = `${demo.relayUrl}/v1/calltouch/38342?token=${WEBHOOK_TOKEN}`;
    const r = await fetch(hook, { method: "POST", body: new URLSearchParams({ leadtype: "call", id: "77", callphase: "calldisconnected" }) });
    assert.equal(r.status, 200);
    const screens = [
      ["/admin", "Сайты", "Sites"],
      ["/admin/sites/new", "Новый сайт", "New site"],
      ["/admin/sites/38342", "Сайт 38342", "Site 38342"],
      ["/admin/sites/38342/leads", "Журнал заявок", "Lead log"],
      [`/admin/sites/38342/leads/${lead}`, `Заявка ${lead}`, `Lead ${lead}`],
      ["/admin/sites/38342/live", "Онлайн", "Live view"],
      ["/admin/sites/38342/test", "Проверка заявки", "Test lead"],
    ];
    for (const [route, ru, en] of screens) {
      await page.goto(`${demo.relayUrl}${route}?lang=ru`);
      assert.equal(await page.getAttribute("html", "lang"), "ru", route);
      await page.getByRole("heading", { name: ru, exact: true }).waitFor();
      const text = await page.locator("body").textContent();
      for (const english of ["Save", "Sign out", "Lead log", "Settings", "Status", "Check", "Add site", "Last hour"]) {
        assert.ok(!text.includes(english), `${route}: "${english}" left in English`);
      }
      await page.goto(`${demo.relayUrl}${route}?lang=en`);
      assert.equal(await page.getAttribute("html", "lang"), "en", route);
      await page.getByRole("heading", { name: en, exact: true }).waitFor();
    }
    // Remembered: no parameter, still English; ?lang=ru switches back.
    await page.goto(`${demo.relayUrl}/admin/sites/38342`);
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await page.getByRole("link", { name: "Русский" }).click();
    assert.equal(await page.getAttribute("html", "lang"), "ru");
    await page.goto(`${demo.relayUrl}/admin`);
    await page.getByRole("heading", { name: "Сайты" }).waitFor();
  });
});

test("a wrong token is refused, and after five the address waits", async () => {
  await withScreen("sign-in-limit", async ({ demo, page }) => {
    await page.goto(`${demo.relayUrl}/admin?lang=en`);
    for (let i = 0; i < 5; i++) {
      await page.getByLabel("Admin token").fill("not-the-admin-token");
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/admin/sign-in")),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      assert.equal(response.status(), 401);
      await page.getByText("Wrong token.").waitFor();
    }
    await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
    const [limited] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/admin/sign-in")),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    assert.equal(limited.status(), 429, "even the right token, until one is back");
    assert.match(limited.headers()["retry-after"], /^\d+$/);
    await page.getByText(/Too many failed sign-ins from this address\. Try again in \d+ s\./).waitFor();
    assert.equal(await page.getByLabel("Admin token").getAttribute("aria-invalid"), "true");
  });
});
