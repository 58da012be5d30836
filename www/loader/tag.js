/* Script-tag entry. Built into dist/script/aidlink.js as
     (function () { <wasm-bindgen no-modules glue> <handle.js> <tag.js> })();
   so the only global it leaves is `window.aidlink`. It reads its own data-* attributes and
   loads aidlink_bg.wasm from next to itself. A second copy of the tag stands down. */
var aidlinkScript = document.currentScript;
if (!aidlinkIsHandle(window.aidlink) && aidlinkScript) {
  var aidlinkState = aidlinkHandle();
  window.aidlink = aidlinkState.handle;
  var aidlinkDebug = aidlinkScript.hasAttribute("data-debug") && aidlinkScript.getAttribute("data-debug") !== "false";
  var aidlinkFail = function (error) {
    var why = "could not load the WebAssembly module (Content-Security-Policy needs 'wasm-unsafe-eval')";
    aidlinkState.failed(why);
    if (aidlinkDebug) {
      try { console.warn("aidlink: " + why + ": " + error); } catch (e) { /* ignore */ }
    }
  };
  try {
    var aidlinkSrc = aidlinkScript.src;
    wasm_bindgen({ module_or_path: aidlinkCompile(new URL("aidlink_bg.wasm", aidlinkSrc)) }).then(function () {
      wasm_bindgen.startTag(aidlinkScript, aidlinkSrc, aidlinkState.early());
      aidlinkState.ready(wasm_bindgen);
    }).catch(aidlinkFail);
  } catch (error) {
    aidlinkFail(error);
  }
}
