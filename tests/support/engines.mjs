// The three browser engines the tests run in, all from Debian's packages (scripts/setup.sh
// installs them; CONTRIBUTING.md, "Running the suites"): Chromium through playwright-core,
// Firefox ESR through geckodriver and WebKitGTK's MiniBrowser through WebKitWebDriver, those two
// over W3C WebDriver (tests/support/webdriver.mjs). `launchEngine(name)` gives each the same
// small shape: `newPage()` (a fresh profile: no cookies, no storage) whose pages have goto,
// evaluate(fn, arg), click(selector), screenshot({ path }) and close; and `close()`.
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

/** Where WebKitGTK's MiniBrowser is (its folder is named for the machine's multiarch triplet). */
function miniBrowser() {
  if (process.env.AIDLINK_MINIBROWSER) return process.env.AIDLINK_MINIBROWSER;
  for (const dir of readdirSync("/usr/lib")) {
    const candidate = path.join("/usr/lib", dir, "webkit2gtk-4.1", "MiniBrowser");
    if (existsSync(candidate)) return candidate;
  }
  return "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
}

export const ENGINES = {
  chromium: { label: "Chromium" },
  firefox: {
    label: "Firefox ESR",
    // Outside PATH on purpose: the wasm test runner picks Firefox whenever geckodriver is on it.
    driver: () => process.env.AIDLINK_GECKODRIVER || path.join(homedir(), ".cargo/aidlink-tools/bin/geckodriver"),
    driverArgs: () => [],
    capabilities: () => ({
      browserName: "firefox",
      "moz:firefoxOptions": { binary: process.env.AIDLINK_FIREFOX || "/usr/bin/firefox-esr", args: ["-headless"] },
    }),
  },
  webkit: {
    label: "WebKit (WebKitGTK MiniBrowser)",
    driver: () => process.env.AIDLINK_WEBKITDRIVER || "/usr/bin/WebKitWebDriver",
    driverArgs: () => [],
    needsDisplay: true,
    capabilities: () => ({ "webkitgtk:browserOptions": { binary: miniBrowser(), args: ["--automation"] } }),
  },
};

/** The engines named in AIDLINK_ENGINES (comma-separated), or all three. */
export function enginesToRun() {
  const names = (process.env.AIDLINK_ENGINES || "chromium,firefox,webkit").split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) if (!ENGINES[name]) throw new Error(`AIDLINK_ENGINES: no engine named ${name} (chromium, firefox, webkit)`);
  return names;
}

export async function launchEngine(name) {
  if (name === "chromium") {
    const { launchChromium } = await import("./chromium.mjs");
    const browser = await launchChromium();
    return {
      engine: name,
      async newPage(options = {}) {
        const context = await browser.newContext(options);
        const page = await context.newPage();
        page.engine = name;
        const close = page.close.bind(page);
        page.close = async () => {
          await close();
          await context.close();
        };
        return page;
      },
      close: () => browser.close(),
    };
  }
  const { launchWebDriver } = await import("./webdriver.mjs");
  return launchWebDriver(name);
}
