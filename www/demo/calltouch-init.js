/* Simulated https://mod.calltouch.ru/init.js: replaces the loader's queue stub with a real
   `ct` function, replays the queued calls, and sets Calltouch's cookies (_ct_session_id,
   _ct, _ct_ids, _ct_site_id). Demo and tests only. */
(function () {
  var modId = "vwgixinz";
  var siteId = "38342";
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function digits(n) {
    var s = String(1 + Math.floor(Math.random() * 9));
    while (s.length < n) s += Math.floor(Math.random() * 10);
    return s;
  }
  function setSession(session) {
    document.cookie = "_ct_session_id=" + session + "; path=/";
    document.cookie = "_ct_ids=" + encodeURIComponent(modId + ":" + siteId + ":" + session) + "; path=/";
  }
  var session = cookie("_ct_session_id") || digits(9);
  var client = cookie("_ct") || digits(19);
  setSession(session);
  document.cookie = "_ct=" + client + "; path=/";
  document.cookie = "_ct_site_id=" + siteId + "; path=/";
  var queued = (window.ct && window.ct.callbacks) || [];
  window.ctAttrs = [];
  window.ct = function (command, argument) {
    if (command === "calltracking_params") {
      return argument === modId ? { sessionId: session, siteId: Number(siteId), ctClientId: client } : undefined;
    }
    if (command === "set_attrs") window.ctAttrs.push(argument);
  };
  window.ct.loaded = true;
  /* Demo control: Calltouch starts a new session (e.g. after 30 minutes idle). */
  window.demoNewSession = function () {
    session = digits(9);
    setSession(session);
    return session;
  };
  queued.forEach(function (args) { window.ct.apply(null, args); });
})();
