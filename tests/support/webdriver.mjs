// A small W3C WebDriver client over fetch, for the engines Playwright cannot drive here: Debian's
// Firefox ESR through geckodriver, and WebKitGTK's MiniBrowser through WebKitWebDriver under
// Xvfb (playwright-core's own protocols need its patched Firefox and WebKit builds, which nothing
// here may download). It speaks only the few commands the tests use: new session, navigate,
// execute script (whose promise the driver awaits), find + click an element, screenshot, delete.
// Its pages offer what the tests call on Playwright's: goto, evaluate(fn, arg), click(selector),
// screenshot({ path }), close.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ENGINES } from "./engines.mjs";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Raised when the driver answers a command with a W3C error. */
export class WebDriverError extends Error {
  constructor(command, value) {
    super(`${command}: ${value.error}: ${value.message}`);
    this.error = value.error;
  }
}

/** A running X server for WebKit (MiniBrowser needs a display): Xvfb on the first free one. */
async function startXvfb() {
  for (let display = 90; display < 140; display++) {
    const child = spawn("Xvfb", [`:${display}`, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.once("exit", () => resolve(true)));
    // Xvfb exits at once when the display is taken; it stays up when it got it.
    if (!(await Promise.race([exited, sleep(500).then(() => false)]))) {
      return { display: `:${display}`, stop: () => child.kill("SIGTERM") };
    }
  }
  throw new Error("no free X display for Xvfb between :90 and :139");
}

/**
 * Starts the engine's driver (`firefox` or `webkit`) on a free loopback port. Its `newPage()`
 * opens a fresh browser (a new session: empty profile, no cookies); `close()` ends it all.
 */
export async function launchWebDriver(engine) {
  const spec = ENGINES[engine];
  if (!spec || !spec.driver) throw new Error(`no WebDriver engine named ${engine}`);
  let xvfb = null;
  const env = { ...process.env };
  if (spec.needsDisplay && !env.DISPLAY) {
    xvfb = await startXvfb();
    env.DISPLAY = xvfb.display;
  }
  const port = await freePort();
  const log = [];
  const driver = spawn(spec.driver(), [...spec.driverArgs(), `--port=${port}`], { env, stdio: ["ignore", "pipe", "pipe"] });
  // Should this process end without close() (a crash), the driver still ends its browser.
  const onExit = () => {
    driver.kill("SIGTERM");
    if (xvfb) xvfb.stop();
  };
  process.once("exit", onExit);
  driver.stdout.on("data", (d) => log.push(String(d)));
  driver.stderr.on("data", (d) => log.push(String(d)));
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (driver.exitCode !== null) throw new Error(`${spec.driver()} exited (${driver.exitCode}): ${log.join("")}`);
    try {
      const r = await fetch(`${base}/status`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) throw new Error(`${spec.driver()} did not listen in 20 s: ${log.join("")}`);
    await sleep(100);
  }

  async function command(method, path, body) {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json; charset=utf-8" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json().catch(() => ({ value: { error: `HTTP ${r.status}`, message: "no JSON body" } }));
    if (!r.ok) throw new WebDriverError(`${method} ${path}`, json.value || {});
    return json.value;
  }

  const pages = new Set();
  async function newPage() {
    const created = await command("POST", "/session", { capabilities: { alwaysMatch: spec.capabilities() } });
    const at = `/session/${created.sessionId}`;
    const page = {
      engine,
      browserName: created.capabilities.browserName,
      browserVersion: created.capabilities.browserVersion,
      goto: (url) => command("POST", `${at}/url`, { url }),
      url: () => command("GET", `${at}/url`),
      /** Runs `fn(arg)` in the page; a promise it returns is awaited by the driver. */
      evaluate: (fn, arg) =>
        command("POST", `${at}/execute/sync`, {
          script: `return (${fn}).apply(null, arguments);`,
          args: arg === undefined ? [] : [arg],
        }),
      async click(selector) {
        const found = await command("POST", `${at}/element`, { using: "css selector", value: selector });
        const id = found[ELEMENT];
        await command("POST", `${at}/element/${id}/click`, {});
      },
      async screenshot({ path }) {
        writeFileSync(path, Buffer.from(await command("GET", `${at}/screenshot`), "base64"));
      },
      async close() {
        if (!pages.delete(page)) return;
        await command("DELETE", at).catch(() => {});
      },
    };
    pages.add(page);
    return page;
  }

  return {
    engine,
    newPage,
    log,
    async close() {
      for (const page of [...pages]) await page.close();
      const gone = new Promise((resolve) => driver.once("exit", resolve));
      driver.kill("SIGTERM");
      await Promise.race([gone, sleep(5000)]);
      if (driver.exitCode === null && driver.signalCode === null) driver.kill("SIGKILL");
      process.off("exit", onExit);
      if (xvfb) xvfb.stop();
    },
  };
}
