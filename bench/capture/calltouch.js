/* The capture benchmark's Calltouch: the loader's queue stub at once (or, with
   ?ct_loader_at=MS, nothing at all until then: a Calltouch script a tag manager adds late), then
   what init.js does at ?ct_at=MS — set Calltouch's cookies for ?session and ?client, answer
   ct('calltracking_params', mod_id), replay the queue — and ct('set_attrs', json) reported to the
   fake Calltouch (?ct_url), which keeps the last attrs of each session and forwards them in the
   lead's webhook, as Calltouch does. */
(function () {
  var loaderAt = Number(new URLSearchParams(location.search).get("ct_loader_at") || 0);
  if (loaderAt > 0) setTimeout(calltouch, loaderAt);
  else calltouch();
})();
function calltouch() {
  var q = new URLSearchParams(location.search);
  var modId = "vwgixinz";
  var siteId = "38342";
  var session = q.get("session");
  var client = q.get("client");
  var ctUrl = q.get("ct_url");
  window.ct = function () { (window.ct.callbacks = window.ct.callbacks || []).push(arguments); };
  window.ct.loaded = false;
  window.ct.callbacks = [];
  function setSession(id) {
    session = id;
    document.cookie = "_ct_session_id=" + id + "; path=/";
    document.cookie = "_ct_ids=" + encodeURIComponent(modId + ":" + siteId + ":" + id) + "; path=/";
  }
  function init() {
    setSession(session);
    document.cookie = "_ct=" + client + "; path=/";
    document.cookie = "_ct_site_id=" + siteId + "; path=/";
    var queued = window.ct.callbacks || [];
    window.ct = function (command, argument) {
      if (command === "calltracking_params") {
        return argument === modId ? { sessionId: session, siteId: Number(siteId), ctClientId: client } : undefined;
      }
      if (command === "set_attrs") {
        fetch(ctUrl + "/attrs?session=" + encodeURIComponent(session), { method: "POST", body: String(argument), keepalive: true, mode: "no-cors" });
      }
    };
    window.ct.loaded = true;
    window.__bench.sessionStarted();
    for (var i = 0; i < queued.length; i++) window.ct.apply(null, queued[i]);
  }
  window.benchCalltouch = { newSession: setSession };
  var ctAt = Number(q.get("ct_at") || 0);
  if (ctAt === 0) init();
  else setTimeout(init, ctAt);
}
