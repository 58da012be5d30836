/* Script-tag entry. scripts/build-wasm.sh bundles it with handle.js and the wasm-bindgen glue
   (`./aidlink.js`, built next to it) into one IIFE, dist/script/aidlink.js, so the only global it
   leaves is `window.aidlink`. It reads its own data-* attributes and loads aidlink_bg.wasm from
   next to itself. A second copy of the tag stands down. */
import {
  __wbg_finalize_init, __wbg_get_imports, check, denyConsent, grantConsent, startTag, status, stop,
} from "./aidlink.js";
import { aidlinkCompile, aidlinkHandle, aidlinkIsHandle } from "./handle.js";

const script = document.currentScript;
if (!aidlinkIsHandle(window.aidlink) && script) {
  const state = aidlinkHandle();
  window.aidlink = state.handle;
  const debug = script.hasAttribute("data-debug") && script.getAttribute("data-debug") !== "false";
  const fail = function (error) {
    const why = "could not load the WebAssembly module (Content-Security-Policy needs 'wasm-unsafe-eval')";
    state.failed(why);
    if (debug) {
      try { console.warn("aidlink: " + why + ": " + error); } catch (e) { /* ignore */ }
    }
  };
  try {
    const src = script.src;
    aidlinkCompile(new URL("aidlink_bg.wasm", src)).then(function (module) {
      return WebAssembly.instantiate(module, __wbg_get_imports()).then(function (instance) {
        __wbg_finalize_init(instance, module);
        startTag(script, src, state.early());
        state.ready({ grantConsent, denyConsent, stop, status, check });
      });
    }).catch(fail);
  } catch (error) {
    fail(error);
  }
}
