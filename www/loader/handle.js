/* The `window.aidlink` handle. It exists before the WebAssembly module has loaded, so consent
   calls made early are kept: the consent is handed to the module's start (a denial wins and is
   final), `stop()` is replayed after it. `status()` says "loading" until then and "failed" if
   the module cannot load; `denyConsent()` then still clears what aidlink stored on earlier
   visits (the keys of src/pending.rs). Once the module runs, the handle also owns its waiting
   (watch.js): started with the first look, and again when consent is granted; stopped by
   `stop()` and `denyConsent()`. Shared by the script tag (tag.js) and the npm entry (npm.js). */
import { aidlinkWatcher, LOOK } from "./watch.js";

export function aidlinkHandle() {
  var api = null;
  var watcher = null;
  var failure = null;
  var queued = [];
  function forget() {
    try {
      localStorage.removeItem("aidlink.sent");
      localStorage.removeItem("aidlink.pending");
    } catch (e) { /* storage disabled: nothing stored */ }
  }
  function early() {
    var consent = "";
    queued.forEach(function (name) {
      if (name === "denyConsent") consent = "denied";
      else if (name === "grantConsent" && consent !== "denied") consent = "granted";
    });
    return consent;
  }
  /* grantConsent answers like `check` (what its first look said, `false` when it did not start
     anything); stop and denyConsent answer `false` when the module was busy (the page called
     from inside aidlink's own call into the page): they are then obeyed on the next microtask. */
  function call(name) {
    return function () {
      try {
        if (api) {
          var answer = api[name]();
          if (name === "grantConsent") {
            watcher.start(answer);
          } else {
            watcher.stop();
            if (answer === false) {
              Promise.resolve().then(function () {
                try { api[name](); } catch (e) { /* never throw into the page */ }
              });
            }
          }
        } else if (failure) {
          if (name === "denyConsent") forget();
        } else {
          queued.push(name);
        }
      } catch (e) { /* never throw into the page */ }
    };
  }
  var handle = {
    grantConsent: call("grantConsent"),
    denyConsent: call("denyConsent"),
    stop: call("stop"),
    status: function () {
      if (api) {
        try { return api.status(); } catch (e) { /* fall through */ }
      }
      return { state: failure ? "failed" : "loading", cookie: false, session: false, sent: 0, lastError: failure };
    }
  };
  return {
    handle: handle,
    /* The consent the page gave ("granted") or refused ("denied") while the module loaded. */
    early: early,
    /* The module started (`loaded`: its grantConsent, denyConsent, stop, status, check): its
       first look, then a stop() the page asked for meanwhile. */
    ready: function (loaded) {
      api = loaded;
      watcher = aidlinkWatcher(loaded.check);
      var stopped = queued.indexOf("stop") >= 0;
      queued.length = 0;
      try { watcher.start(loaded.check(LOOK)); } catch (e) { /* never throw into the page */ }
      if (stopped) handle.stop();
    },
    failed: function (why) {
      failure = why;
      if (early() === "denied") forget();
      queued.length = 0;
    }
  };
}

/* True when `value` is an aidlink handle, not an element the browser exposes as
   `window.aidlink` because its id is "aidlink". */
export function aidlinkIsHandle(value) {
  return Boolean(value) && typeof value.status === "function" && typeof value.denyConsent === "function";
}

/* Compiles the module from `url`, fetched once: streaming when the server sends
   `application/wasm`, from the bytes of the same response otherwise. Done here rather than in
   the wasm-bindgen glue, which would print a console warning for any other type (aidlink is
   silent unless `debug`). */
export function aidlinkCompile(url) {
  function fromBytes(response) {
    return response.arrayBuffer().then(function (bytes) { return WebAssembly.compile(bytes); });
  }
  return fetch(url).then(function (response) {
    if (!response.ok) throw new Error("HTTP " + response.status + " for " + url);
    if (typeof WebAssembly.compileStreaming !== "function") return fromBytes(response);
    var copy = response.clone();
    return WebAssembly.compileStreaming(response).catch(function () { return fromBytes(copy); });
  });
}
