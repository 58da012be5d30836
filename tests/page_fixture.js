// Page fixtures for the browser tests: a real Calltouch queue stub and a simulated init.js, a
// fetch recorder standing in for the relay, cookie helpers, and the markers the tests wait for
// (reads of document.cookie: each check of the module reads it once; timers armed). Loaded by
// tests/support/page.rs; runs alike in Chromium, Firefox and WebKit.

// The page's own setTimeout, before timersArmed() counts the module's calls.
const realSetTimeout = window.setTimeout.bind(window);
window.__timers = 0;
window.setTimeout = function (callback, ms, ...rest) {
  window.__timers += 1;
  return realSetTimeout(callback, ms, ...rest);
};
// setTimeout calls made since the page loaded (the fixtures' own sleep() is not counted).
export function timersArmed() { return window.__timers; }

const cookieProperty = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
// document.cookie as the browser has it, counting reads: the module reads it once per check,
// so a higher count proves a check ran after the point the test noted.
function countCookieReads() {
  Object.defineProperty(document, "cookie", {
    configurable: true,
    get() { window.__cookieReads = (window.__cookieReads || 0) + 1; return cookieProperty.get.call(document); },
    set(v) { cookieProperty.set.call(document, v); },
  });
}

export function reset() {
  countCookieReads();
  for (const pair of cookieProperty.get.call(document).split(";")) {
    const name = pair.split("=")[0].trim();
    if (name) document.cookie = name + "=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
  }
  try { localStorage.clear(); } catch (e) {}
  delete window.ct;
  delete window.call_value;
  window.__attrs = [];
  window.__cookieReads = 0;
  installFetch([204]);
}

// Every running agent looks again now: they answer `pageshow` synchronously during their first
// minute. Returns how many looked (reads of document.cookie during the event).
export function lookAgain() {
  const before = window.__cookieReads || 0;
  window.dispatchEvent(new Event("pageshow"));
  return (window.__cookieReads || 0) - before;
}

export function setCookie(name, value) {
  document.cookie = name + "=" + value + "; path=/";
}

// Answers each request with the next status (the last one repeats); records every attempt at
// the moment `fetch` is called (its body once read), so a check that sends is seen as soon as
// the check has run.
export function installFetch(statuses, retryAfter) {
  window.__requests = [];
  let i = 0;
  window.fetch = (request) => {
    const status = statuses[Math.min(i++, statuses.length - 1)];
    const record = {
      status,
      body: undefined,
      type: request.headers.get("content-type"),
      keepalive: request.keepalive,
      credentials: request.credentials,
      at: Date.now(),
    };
    window.__requests.push(record);
    return request.text().then((body) => {
      record.body = body;
      const headers = retryAfter && status >= 500 ? { "Retry-After": String(retryAfter) } : {};
      return new Response(null, { status, headers });
    });
  };
}

export function removeFetch() { window.fetch = undefined; }
export function attempts() { return window.__requests.length; }
export function attemptTimes() { return window.__requests.map((r) => r.at); }
export function delivered() {
  return window.__requests.filter((r) => r.status >= 200 && r.status < 300 && r.body !== undefined).map((r) => r.body);
}
export function lastType() {
  const last = window.__requests[window.__requests.length - 1];
  return last ? last.type + "|" + last.keepalive + "|" + last.credentials : "";
}

// The Calltouch loader's queue stub, as the real snippet installs it.
export function installCtStub() {
  window.ct = function () { (window.ct.callbacks = window.ct.callbacks || []).push(arguments); };
  window.ct.loaded = false;
  window.ct.callbacks = [];
}

// What https://mod.calltouch.ru/init.js does when it arrives: replace the stub, replay the queue.
export function loadCtInit(sessionId) {
  const queued = (window.ct && window.ct.callbacks) || [];
  window.ct = function (command, argument) {
    if (command === "calltracking_params") return { sessionId: sessionId, siteId: 38342 };
    if (command === "set_attrs") window.__attrs.push(argument);
  };
  for (const args of queued) window.ct.apply(null, args);
}

export function queuedCtCalls() { return window.ct && window.ct.callbacks ? window.ct.callbacks.length : -1; }
export function attrsCalls() { return window.__attrs.slice(); }
export function setCt(value) { window.ct = value; }
export function setCallValue(value) { window.call_value = value; }
export function storageValue(key) { try { return localStorage.getItem(key); } catch (e) { return "error"; } }
export function setStorageValue(key, value) { localStorage.setItem(key, value); }

export function breakCookies() {
  Object.defineProperty(document, "cookie", {
    configurable: true,
    get() { window.__cookieReads = (window.__cookieReads || 0) + 1; throw new Error("cookie getter throws"); },
    set() { throw new Error("cookie setter throws"); },
  });
}
export function restoreCookies() { countCookieReads(); }

let savedStorage = null;
export function breakStorage() {
  savedStorage = Object.getOwnPropertyDescriptor(window, "localStorage");
  Object.defineProperty(window, "localStorage", { configurable: true, get() { throw new DOMException("denied", "SecurityError"); } });
}
export function restoreStorage() {
  if (savedStorage) Object.defineProperty(window, "localStorage", savedStorage);
  else delete window.localStorage;
}

export function sleep(ms) { return new Promise((resolve) => realSetTimeout(resolve, ms)); }
export function pushState(path) { history.pushState({}, "", path); }
export function makeScript(attrs) {
  const el = document.createElement("script");
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}
export function parseAttr(json, key) { return JSON.parse(json)[key]; }

// Like installFetch, but each answer comes `delayMs` after the request is recorded (a request
// under way for that long); answered() counts the answers given.
export function installSlowFetch(statuses, delayMs) {
  installFetch(statuses, 0);
  window.__answered = 0;
  const answer = window.fetch;
  window.fetch = (request) => {
    const response = answer(request);
    return new Promise((resolve) => realSetTimeout(() => { window.__answered += 1; resolve(response); }, delayMs));
  };
}
export function answered() { return window.__answered || 0; }

// A page whose `fetch` misbehaves: throws, returns a non-promise, resolves to a non-Response,
// then works. Every call is recorded like installFetch's.
export function installHostileFetch() {
  installFetch([204], 0);
  const works = window.fetch;
  let call = 0;
  window.fetch = (request) => {
    call += 1;
    if (call === 1) { window.__requests.push({ status: 0, at: Date.now() }); throw new Error("monitoring wrapper threw"); }
    if (call === 2) { window.__requests.push({ status: 0, at: Date.now() }); return 42; }
    if (call === 3) { window.__requests.push({ status: 0, at: Date.now() }); return Promise.resolve({ status: 204 }); }
    return works(request);
  };
}

// navigator.sendBeacon recorder (accepts everything).
export function installBeacon() {
  window.__beacons = [];
  Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: (url, body) => { window.__beacons.push(String(body)); return true; } });
}
export function beacons() { return (window.__beacons || []).length; }

// The tab goes to the background (visibilityState "hidden" + visibilitychange), or comes back.
export function hidePage() {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}
export function showPage() {
  delete document.visibilityState;
  document.dispatchEvent(new Event("visibilitychange"));
}

// Uncaught errors and unhandled rejections on the page, from now on.
export function recordPageErrors() {
  window.__pageErrors = [];
  window.addEventListener("error", (e) => window.__pageErrors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => window.__pageErrors.push(String(e.reason)));
}
export function pageErrors() { return (window.__pageErrors || []).slice(); }

// document.cookie with a getter that counts reads and, once, calls `hook` first (a consent
// manager running page code from inside the getter).
export function hookCookies(hook) {
  let pending = hook;
  Object.defineProperty(document, "cookie", {
    configurable: true,
    get() {
      window.__cookieReads = (window.__cookieReads || 0) + 1;
      if (pending) { const h = pending; pending = null; h(); }
      return cookieProperty.get.call(document);
    },
    set(v) { cookieProperty.set.call(document, v); },
  });
}
export function cookieReads() { return window.__cookieReads || 0; }
export function replaceState(path) { history.replaceState({}, "", path); }
