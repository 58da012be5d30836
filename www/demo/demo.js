/* The demo page's panel: aidlink's status(), the ids on the page, "simulate call / form lead"
   (the demo peer sends Calltouch-shaped webhooks to the relay), the postbacks the fake RTB House
   received, and SPA navigation. */
(function () {
  /* The panel every demo page shares; each page keeps only what differs (its tag, a consent
     banner, a CSP). */
  var PANEL = `
<header><strong>Demo Shop</strong><a href="/" data-nav="/catalog">Catalog</a><a href="/" data-nav="/cart">Cart</a>
  <button id="new-session" class="secondary">New Calltouch session + navigate</button></header>
<main>
  <section><h2 id="page-title">Welcome</h2>
    <p>This page carries the RTB House tag (simulated), the Calltouch loader (simulated) and the one-line aidlink tag.
       Call us, or leave a request:</p>
    <p><button id="simulate-call">Simulate call</button> <button id="simulate-lead" class="secondary">Simulate form lead</button></p>
    <p id="last-lead"></p></section>
  <section><h3>aidlink status()</h3><pre id="status"></pre></section>
  <section><h3>Ids on this page</h3><pre id="ids"></pre></section>
  <section><h3>How it flows</h3><ol><li>RTB House tag sets <code>__r_aid_v__</code> (or <code>__rtbh.aid</code> with <code>?rtb_form=json</code>)</li><li>Calltouch starts a session</li>
    <li>aidlink hands the id to Calltouch and POSTs the binding to the relay</li><li>a call ends → Calltouch webhook → relay decides → one RTB House postback</li></ol></section>
  <section class="wide"><h3>Postbacks received by the fake RTB House</h3>
    <table><thead><tr><td>time</td><td>status</td><td>aid</td><td>tag</td></tr></thead><tbody id="postbacks"></tbody></table></section>
</main>
`;
  document.body.insertAdjacentHTML("beforeend", PANEL);
  var params = new URLSearchParams(location.search);
  var peer = params.get("peer") || location.protocol + "//" + location.hostname + ":" + (Number(location.port) + 1);
  var $ = function (id) { return document.getElementById(id); };
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function refresh() {
    var status = window.aidlink ? window.aidlink.status() : { state: "no aidlink on this page" };
    $("status").textContent = JSON.stringify(status, null, 2);
    $("ids").textContent = JSON.stringify({
      "__r_aid_v__ (RTB House, plain)": cookie("__r_aid_v__") || "(not yet)",
      "__rtbh.aid (RTB House, JSON)": cookie("__rtbh\\.aid") || "(not yet)",
      "_ct_session_id (Calltouch)": cookie("_ct_session_id") || "(not yet)",
      "_ct (Calltouch visitor)": cookie("_ct") || "(not yet)",
      "ct('set_attrs') received": window.ctAttrs || [],
    }, null, 2);
  }
  function loadPostbacks() {
    fetch(peer + "/demo/postbacks").then(function (r) { return r.json(); }).then(function (list) {
      var rows = list.map(function (p) {
        return "<tr><td>" + new Date(p.at).toLocaleTimeString() + "</td><td>" + p.status + "</td><td><code>" +
          String(p.aid).replace(/[<&]/g, "") + "</code></td><td><code>" + String(p.tag).replace(/[<&]/g, "") + "</code></td></tr>";
      });
      $("postbacks").innerHTML = rows.length ? rows.join("") : "<tr><td colspan=4>none yet</td></tr>";
    }).catch(function () {
      $("postbacks").innerHTML = "<tr><td colspan=4>demo peer not reachable at " + peer + "</td></tr>";
    });
  }
  function simulate(kind) {
    var q = "kind=" + kind + "&session=" + encodeURIComponent(cookie("_ct_session_id")) + "&ct_client=" + encodeURIComponent(cookie("_ct"));
    $("last-lead").textContent = "sending " + kind + " webhook…";
    fetch(peer + "/demo/simulate?" + q, { method: "POST" }).then(function (r) { return r.json(); }).then(function (result) {
      $("last-lead").textContent = result.lead + ": webhook answered " + result.statuses.join(", ");
    }).catch(function (e) { $("last-lead").textContent = String(e); });
  }
  function navigate(path, title) {
    history.pushState({}, "", path + location.search);
    $("page-title").textContent = title;
  }
  document.addEventListener("click", function (event) {
    var t = event.target;
    if (t.id === "simulate-call") simulate("call");
    if (t.id === "simulate-lead") simulate("request");
    if (t.dataset && t.dataset.nav) { event.preventDefault(); navigate(t.dataset.nav, t.textContent); }
    if (t.id === "new-session" && window.demoNewSession) { window.demoNewSession(); navigate("/checkout", "Checkout (new Calltouch session)"); }
    if (t.id === "accept" && window.aidlink) { window.aidlink.grantConsent(); $("banner").hidden = true; }
    if (t.id === "decline" && window.aidlink) { window.aidlink.denyConsent(); $("banner").hidden = true; }
  });
  refresh();
  loadPostbacks();
  setInterval(refresh, 250);
  setInterval(loadPostbacks, 700);
})();
