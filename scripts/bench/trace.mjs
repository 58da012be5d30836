// Reads a Chromium trace (CDP Tracing, the DevTools performance panel's categories) for the
// capture module's main-thread tasks: a top-level task of the page's main thread runs the module
// when an event nested in it names aidlink.js or aidlink_bg.wasm — the script evaluated, a
// function of it called (timers, listeners, the loader's callbacks, which call into the wasm),
// the wasm compiled or instantiated. A task whose only module code is a promise callback (the
// answer to the binding's request) carries no script URL in a trace and is not counted; the
// per-call figures are the module's JS + wasm alone. V8's WebAssembly events on the main thread
// (compiling, instantiating, compiling a function lazily on its first call) are the module's too.

/** What Tracing.start records: the timeline (tasks, script calls) and V8's execution events. */
export const TRACE_CATEGORIES = [
  "toplevel",
  "devtools.timeline",
  "disabled-by-default-devtools.timeline",
  "v8.execute",
  "v8",
  "disabled-by-default-v8.wasm.detailed",
];

const MODULE = /\/aidlink(\.js|_bg\.wasm)(\?|$)/;
const TASK = new Set(["ThreadControllerImpl::RunTask", "RunTask"]);
const SCRIPT = new Set(["FunctionCall", "EvaluateScript", "v8.compile", "v8.run", "v8.compileModule"]);
// V8's WebAssembly work (compiling, instantiating, lazily compiling a function on its first
// call): the module is the page's only WebAssembly, so all of it is the module's.
const WASM = /^(v8\.)?wasm\./;

function url(e) {
  const d = (e.args && (e.args.data || e.args.beginData)) || {};
  return d.url || (e.args && e.args.url) || "";
}

/**
 * The module's tasks in `events` (trace event objects): `tasks`, the duration (ms) of each
 * top-level task that ran the module's code; `own`, the module's own time in each; for the task
 * with the most of it, `longestOwnWhat` (what of the module it ran) and `longestOwnTask` (its
 * whole duration).
 */
export function moduleTasks(events) {
  const own = events.filter((e) => e.ph === "X" && SCRIPT.has(e.name) && MODULE.test(url(e)));
  if (!own.length) return { tasks: [], own: [], longestOwnWhat: "", longestOwnTask: 0 };
  const wasm = events.filter((e) => e.ph === "X" && WASM.test(e.name));
  // The page's main thread: where the module's script was evaluated or called.
  const key = (e) => `${e.pid}:${e.tid}`;
  const threads = new Map();
  for (const e of own) threads.set(key(e), (threads.get(key(e)) || 0) + 1);
  const main = [...threads].sort((a, b) => b[1] - a[1])[0][0];
  const mine = own.filter((e) => key(e) === main);
  const mineWasm = wasm.filter((e) => key(e) === main);
  const tasks = events
    .filter((e) => e.ph === "X" && TASK.has(e.name) && key(e) === main)
    .sort((a, b) => a.ts - b.ts);
  // task ts → { dur (µs), events }; a task recorded under both names counts once
  const seen = new Map();
  for (const e of [...mine, ...mineWasm]) {
    const task = tasks.find((t) => t.ts <= e.ts && e.ts + (e.dur || 0) <= t.ts + t.dur);
    if (!task) continue;
    const entry = seen.get(task.ts) || { dur: 0, events: [] };
    entry.dur = Math.max(entry.dur, task.dur);
    entry.events.push(e);
    seen.set(task.ts, entry);
  }
  const found = [...seen.values()].map(({ dur, events }) => {
    // The module's own time in the task: its outermost events (a call into it, V8 compiling
    // or instantiating it), not counting what is nested in another of them. A task batches
    // other work too (a microtask checkpoint runs every promise callback then due).
    const outer = events.filter((e) => !events.some((o) => o !== e && o.ts <= e.ts && e.ts + (e.dur || 0) <= o.ts + (o.dur || 0) && (o.dur || 0) > (e.dur || 0)));
    const own = outer.reduce((sum, e) => sum + (e.dur || 0), 0);
    const what = new Set(events.map((e) => (WASM.test(e.name) ? "wasm" : e.name === "v8.compile" || e.name === "v8.run" ? "EvaluateScript" : e.name)));
    return { dur: dur / 1000, own: own / 1000, what: [...what].join(" + ") };
  });
  const byOwn = found.reduce((a, b) => (b.own > a.own ? b : a), found[0] || { own: 0, dur: 0, what: "" });
  return {
    tasks: found.map((t) => t.dur),
    // The module's own time in each task, and what the task with the most of it ran:
    // EvaluateScript (the bundle evaluated), FunctionCall (a callback: the loader's promise, a
    // timer, a listener), wasm (compiled, instantiated, or a function compiled on first call).
    own: found.map((t) => t.own),
    longestOwnWhat: byOwn.what,
    longestOwnTask: byOwn.dur,
  };
}
