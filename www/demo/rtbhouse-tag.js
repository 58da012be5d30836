/* Simulated RTB House tag: async, and, like the real one, it writes the visitor id a little after
   the page loads; delay from ?rtb_delay=MS (default 800 ms). By default it writes the older tag's
   plain cookie __r_aid_v__ (a 19-character id); ?rtb_form=json writes what the current RTB House
   tags write instead: __rtbh.aid, percent-encoded JSON
   {"eventType":"aid","id":"<UUID v1>","expiryDate":"<ISO 8601>"}. Demo and tests only. */
(function () {
  var params = new URLSearchParams(location.search);
  var delay = Number(params.get("rtb_delay") || 800);
  var json = params.get("rtb_form") === "json";
  var name = json ? "__rtbh.aid" : "__r_aid_v__";
  if (new RegExp("(?:^|; )" + name.replace(".", "\\.") + "=").test(document.cookie)) return;
  function hex(n) {
    var s = "";
    for (var i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(Math.random() * 16)];
    return s;
  }
  setTimeout(function () {
    var value;
    if (json) {
      // A UUID v1 shape: time-low, time-mid, version 1 + time-high, variant + clock, node.
      var id = hex(8) + "-" + hex(4) + "-1" + hex(3) + "-" + "89ab"[Math.floor(Math.random() * 4)] + hex(3) + "-" + hex(12);
      var expiry = new Date(Date.now() + 120 * 86400000).toISOString();
      value = encodeURIComponent(JSON.stringify({ eventType: "aid", id: id, expiryDate: expiry }));
    } else {
      var chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
      value = "";
      for (var i = 0; i < 19; i++) value += chars[Math.floor(Math.random() * chars.length)];
    }
    document.cookie = name + "=" + value + "; path=/; max-age=31536000";
  }, delay);
})();
