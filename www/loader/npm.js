/* npm entry: `import { start } from "aidlink"`. scripts/build-wasm.sh bundles it with handle.js
   into dist/npm/index.js; the wasm-bindgen `--target web` glue stays beside it as
   dist/npm/aidlink.js. */
import init, * as wasm from "./aidlink.js";
import { aidlinkCompile, aidlinkHandle, aidlinkIsHandle } from "./handle.js";

let started = null;

/**
 * Starts aidlink on this page. Resolves to the `window.aidlink` handle; see index.d.ts.
 * @param {import("./index.js").AidlinkOptions} options
 */
export function start(options) {
  if (typeof window === "undefined" || typeof document === "undefined") {
    return Promise.reject(new Error("aidlink: start() runs in a browser page; there is no window here"));
  }
  if (started) {
    return started;
  }
  if (aidlinkIsHandle(window.aidlink)) {
    started = Promise.resolve(window.aidlink);
    return started;
  }
  const state = aidlinkHandle();
  window.aidlink = state.handle;
  const debug = Boolean(options && options.debug);
  started = Promise.resolve().then(() => init({ module_or_path: aidlinkCompile(new URL("aidlink_bg.wasm", import.meta.url)) })).then(
    () => {
      wasm.startNpm(options === undefined ? null : options, state.early());
      state.ready(wasm);
      return state.handle;
    },
    (error) => {
      const why = "could not load the WebAssembly module (Content-Security-Policy needs 'wasm-unsafe-eval')";
      state.failed(why);
      if (debug) {
        try { console.warn("aidlink: " + why + ": " + error); } catch (e) { /* ignore */ }
      }
      return state.handle;
    }
  );
  return started;
}
