/* The `window.aidlink` handle. It exists before the WebAssembly module has loaded, so consent
   calls made early are kept and replayed; `status()` says "loading" until then and "failed"
   if the module cannot load. Shared by the script tag (tag.js) and the npm entry (npm.js). */
function aidlinkHandle() {
  var api = null;
  var failure = null;
  var queued = [];
  function call(name) {
    return function () {
      if (api) {
        try { api[name](); } catch (e) { /* never throw into the page */ }
      } else if (!failure) {
        queued.push(name);
      }
    };
  }
  return {
    handle: {
      grantConsent: call("grantConsent"),
      denyConsent: call("denyConsent"),
      stop: call("stop"),
      status: function () {
        if (api) {
          try { return api.status(); } catch (e) { /* fall through */ }
        }
        return { state: failure ? "failed" : "loading", cookie: false, session: false, sent: 0, lastError: failure };
      }
    },
    ready: function (loaded) {
      api = loaded;
      queued.splice(0).forEach(function (name) {
        try { loaded[name](); } catch (e) { /* never throw into the page */ }
      });
    },
    failed: function (why) {
      failure = why;
      queued.length = 0;
    }
  };
}
