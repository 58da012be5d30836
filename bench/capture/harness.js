/* The capture benchmark's page script (scripts/bench/capture.mjs), first on the page: it plays
   one visitor scenario from the query string and records what the tag did, so aidlink and the
   hand snippet are driven and measured alike. Times are performance.now() milliseconds.
     aid, session, client   the visitor's RTB House id, Calltouch session and Calltouch visitor id
     form=plain|json        __r_aid_v__ (plain) or __rtbh.aid (the current tags' JSON form)
     cookie_at=MS           when the RTB House tag writes its cookie (0: before any tag runs;
                            absent: the harness writes it when told, see setCookieNow)
     ct_at=MS               when Calltouch's init.js replaces the loader's queue stub (0: at once)
     rotate_at=MS&rotate_to=ID   the RTB House id changes (Safari rotates it)
     spa_at=MS&spa_session=ID    SPA navigation into a new Calltouch session
     ct_url=URL             the fake Calltouch that set_attrs reports to (its own origin) */
(function () {
  var q = new URLSearchParams(location.search);
  var bench = (window.__bench = {
    t0: performance.now(),
    idsAt: null, // both ids on the page (the later of cookie and session)
    cookieAt: null,
    sessionAt: null,
    bindings: [], // { sentAt, doneAt, status }
    inflight: 0,
    longtasks: [],
  });
  function both() {
    if (bench.idsAt === null && bench.cookieAt !== null && bench.sessionAt !== null) {
      bench.idsAt = Math.max(bench.cookieAt, bench.sessionAt);
    }
  }
  // Every request of the page is counted until answered; bindings are timed.
  var pageFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : input.url;
    var record = null;
    if (/\/v1\/bindings$/.test(url)) {
      record = { sentAt: performance.now(), doneAt: null, status: null };
      bench.bindings.push(record);
    }
    bench.inflight += 1;
    return pageFetch.apply(this, arguments).then(
      function (response) {
        bench.inflight -= 1;
        if (record) { record.doneAt = performance.now(); record.status = response.status; }
        return response;
      },
      function (error) {
        bench.inflight -= 1;
        if (record) { record.doneAt = performance.now(); record.status = 0; }
        throw error;
      }
    );
  };
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) { bench.longtasks.push({ start: e.startTime, duration: e.duration }); });
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { /* no Long Tasks API in this engine */ }

  function rtbValue(id) {
    if (q.get("form") !== "json") return id;
    var expiry = new Date(Date.now() + 120 * 86400000).toISOString();
    return encodeURIComponent(JSON.stringify({ eventType: "aid", id: id, expiryDate: expiry }));
  }
  var rtbName = q.get("form") === "json" ? "__rtbh.aid" : "__r_aid_v__";
  function writeCookie(id) {
    document.cookie = rtbName + "=" + rtbValue(id) + "; path=/; max-age=31536000";
  }
  bench.setCookieNow = function (id) {
    var at = performance.now();
    writeCookie(id || q.get("aid"));
    bench.cookieAt = at;
    both();
    return at;
  };
  bench.sessionStarted = function () {
    bench.sessionAt = performance.now();
    both();
  };
  var at = function (name) { return q.has(name) ? Number(q.get(name)) : null; };
  var cookieAt = at("cookie_at");
  if (cookieAt === 0) bench.setCookieNow();
  else if (cookieAt !== null) setTimeout(function () { bench.setCookieNow(); }, cookieAt);
  if (at("rotate_at") !== null) setTimeout(function () { writeCookie(q.get("rotate_to")); }, at("rotate_at"));
  if (at("spa_at") !== null) {
    setTimeout(function () {
      window.benchCalltouch.newSession(q.get("spa_session"));
      history.pushState({}, "", "/next" + location.search);
    }, at("spa_at"));
  }
})();
