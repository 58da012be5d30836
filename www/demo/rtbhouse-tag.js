/* Simulated RTB House tag: async, and, like the real one, it writes the first-party cookie
   __r_aid_v__ (the visitor id) a little after the page loads; delay from ?rtb_delay=MS
   (default 800 ms). Demo and tests only. */
(function () {
  var delay = Number(new URLSearchParams(location.search).get("rtb_delay") || 800);
  if (/(?:^|; )__r_aid_v__=/.test(document.cookie)) return;
  setTimeout(function () {
    var chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    var id = "";
    for (var i = 0; i < 19; i++) id += chars[Math.floor(Math.random() * chars.length)];
    document.cookie = "__r_aid_v__=" + id + "; path=/; max-age=31536000";
  }, delay);
})();
