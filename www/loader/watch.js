/* When the capture module looks again: its backoff poll (100 ms growing to one look per 5 s,
   never giving up), Cookie Store `change` events where the browser has them,
   `visibilitychange`, `pageshow`, `popstate`, SPA navigation through `history.pushState` /
   `replaceState`; and when it flushes what is queued: `pagehide` and the tab being hidden. After
   the first minute, page events lead to at most one look per 5 s however busy the page's router
   is; the page being hidden or left always looks first.

   The module does the work behind one export, `check(kind, response)`, and says what to do next:
   `false` (it is not active: consent pending, stopped, denied, or it could not start) stops the
   waiting; a number is a retry of the binding POST due in that many ms; a promise is the request
   under way, whose response (or `undefined` when it failed) goes back as SETTLED; anything else
   means nothing to do. Shared by the script tag and the npm entry (handle.js); the browser suites
   import it as it is. Never throws into the page. `w` is the window (a stand-in in tests). */

/** What `check(kind, response)` is asked to do. */
export const LOOK = 0;
export const FLUSH = 1;
export const RETRY = 2;
export const SETTLED = 3;

/** The first poll's delay, doubled on each poll up to POLL_CAP_MS. */
export const POLL_FIRST_MS = 100;
export const POLL_CAP_MS = 5000;
/** Page events are not throttled during the first minute after the module became active... */
export const EAGER_MS = 60000;
/** ...after it, looks are at least this far apart. */
export const CALM_MS = 5000;

export function aidlinkWatcher(check, w) {
  w = w || window;
  var on = false;
  var started = 0;
  var last = 0;
  var polls = 0;
  var poll = 0;
  var retry = 0;
  var undo = [];

  function now() {
    return w.Date.now();
  }
  function call(kind, response) {
    try {
      return check(kind, response);
    } catch (e) {
      return false;
    }
  }
  /* Carries out what `check` said to do next. */
  function run(next) {
    try {
      if (next === false) {
        stop();
      } else if (typeof next === "number") {
        retry = w.setTimeout(function () {
          retry = 0;
          run(call(RETRY));
        }, next);
      } else if (next && typeof next.then === "function") {
        next.then(function (response) {
          run(call(SETTLED, response));
        }, function () {
          run(call(SETTLED));
        });
      }
    } catch (e) { /* never throw into the page */ }
  }
  function look() {
    last = now();
    run(call(LOOK));
  }
  function schedule() {
    var delay = Math.min(POLL_FIRST_MS * Math.pow(2, polls++), POLL_CAP_MS);
    poll = w.setTimeout(function () {
      look();
      if (on) schedule();
    }, delay);
  }
  /* A page event: look now during the first minute; after it, no sooner than 5 s after the last
     look, and the poll restarts from this look so that looks stay 5 s apart. */
  function nudge() {
    if (!on) return;
    var t = now();
    var calm = t - started >= EAGER_MS;
    if (calm && t - last < CALM_MS) return;
    look();
    if (calm && on) {
      w.clearTimeout(poll);
      schedule();
    }
  }
  /* The page is hidden or left: look again at once, never throttled (it may be the last look:
     an id that appeared since the last one would otherwise be lost with the visit), then hand
     what is queued to the browser. */
  function leave() {
    if (!on) return;
    look();
    if (on) run(call(FLUSH));
  }
  function listen(target, type, handler) {
    try {
      target.addEventListener(type, handler);
      undo.push(function () {
        target.removeEventListener(type, handler);
      });
    } catch (e) { /* not an event target here */ }
  }
  /* history.pushState / replaceState call the original (same arguments, same return value or
     exception), then look on the next tick, so a navigation never waits on aidlink. Put back at
     stop unless someone wrapped them after us. */
  function wrapHistory() {
    var history = w.history;
    ["pushState", "replaceState"].forEach(function (name) {
      try {
        var original = history[name];
        if (typeof original !== "function") return;
        var ours = function () {
          try {
            return original.apply(history, arguments);
          } finally {
            if (on) w.setTimeout(nudge, 0);
          }
        };
        history[name] = ours;
        undo.push(function () {
          if (history[name] === ours) history[name] = original;
        });
      } catch (e) { /* history not writable */ }
    });
  }
  function stop() {
    if (!on) return;
    on = false;
    w.clearTimeout(poll);
    w.clearTimeout(retry);
    retry = 0;
    undo.forEach(function (f) {
      try { f(); } catch (e) { /* ignore */ }
    });
    undo = [];
  }

  return {
    /* The module became active and `first` is what its first look said (see `check` above):
       start waiting, or not at all when it is `false`. */
    start: function (first) {
      try {
        if (first === false) return;
        if (!on) {
          on = true;
          listen(w.document, "visibilitychange", function () {
            if (w.document.visibilityState === "hidden") leave();
            else nudge();
          });
          listen(w, "pageshow", nudge);
          listen(w, "popstate", nudge);
          listen(w, "pagehide", leave);
          if (w.cookieStore && typeof w.cookieStore === "object") listen(w.cookieStore, "change", nudge);
          wrapHistory();
        }
        started = last = now();
        polls = 0;
        w.clearTimeout(poll);
        schedule();
        run(first);
      } catch (e) { /* never throw into the page */ }
    },
    /* Stopped or denied: no more looks. */
    stop: function () {
      try { stop(); } catch (e) { /* never throw into the page */ }
    },
  };
}
