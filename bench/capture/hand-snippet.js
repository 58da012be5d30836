/* A reconstruction of the hand-written snippet aidlink replaces, as found on real sites
   (docs/domain.md §2): it polls document.cookie every 200 ms with a regex, gives up after 30 s,
   builds the JSON by string concatenation, and only hands the id to Calltouch with
   ct('set_attrs') (Calltouch then forwards it in the lead's `attrs`); it stops at the first id. */
(function () {
  var tries = 0;
  var timer = setInterval(function () {
    tries++;
    var match = document.cookie.match(/__r_aid_v__=([^;]+)/);
    if (match) {
      clearInterval(timer);
      if (window.ct) ct("set_attrs", '{"__r_aid_v__":"' + match[1] + '"}');
    } else if (tries >= 150) {
      clearInterval(timer);
    }
  }, 200);
})();
