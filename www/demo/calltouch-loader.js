/* The Calltouch loader snippet's shape: a queue stub `ct` (ct.callbacks, ct.loaded = false)
   until init.js arrives and takes over; init.js is loaded after ?ct_delay=MS (default 1000). */
(function (w, d) {
  w.ct = function () { (w.ct.callbacks = w.ct.callbacks || []).push(arguments); };
  w.ct.loaded = false;
  w.ct.callbacks = [];
  var delay = Number(new URLSearchParams(location.search).get("ct_delay") || 1000);
  setTimeout(function () {
    var s = d.createElement("script");
    s.async = true;
    s.src = "/calltouch-init.js?id=vwgixinz";
    d.head.appendChild(s);
  }, delay);
})(window, document);
