// Reads a Chromium trace (CDP Tracing, the DevTools performance panel's categories) for the
// capture module's main-thread tasks: a top-level task of the page's main thread runs the module
// when an event nested in it names aidlink.js or aidlink_bg.wasm — the script evaluated, a
// function of it called (timers, listeners, the loader's callbacks, which call into the wasm),
// the wasm compiled or instantiated. A task whose only module code is a promise callback (the
// answer to the binding's request) carries no script URL in a trace and is not counted; the
// per-call figures are the module's JS + wasm alone.

/** What Tracing.start records: the timeline (tasks, script calls) and V8's execution events. */
export const TRACE_CATEGORIES = [
  "toplevel",
  "devtools.timeline",
  "disabled-by-default-devtools.timeline",
  "v8.execute",
  "v8",
];

const MODULE = /\/aidlink(\.js|_bg\.wasm)(\?|$)/;
const TASK = new Set(["ThreadControllerImpl::RunTask", "RunTask"]);
const SCRIPT = new Set(["FunctionCall", "EvaluateScript", "v8.compile", "v8.run", "v8.compileModule", "v8.wasm.compiledModule", "v8.wasm.instantiate"]);

function url(e) {
  const d = (e.args && (e.args.data || e.args.beginData)) || {};
  return d.url || (e.args && e.args.url) || "";
}

/**
 * The module's tasks in `events` (trace event objects): `tasks`, the duration (ms) of each
 * top-level task that ran the module's code; `longestWhat`, which of the module's events the
 * longest ran; `ownLongest`, the longest single call into the module (ms).
 */
export function moduleTasks(events) {
  const own = events.filter((e) => e.ph === "X" && SCRIPT.has(e.name) && MODULE.test(url(e)));
  if (!own.length) return { tasks: [], longestWhat: "", ownLongest: 0 };
  // The page's main thread: where the module's script was evaluated or called.
  const key = (e) => `${e.pid}:${e.tid}`;
  const threads = new Map();
  for (const e of own) threads.set(key(e), (threads.get(key(e)) || 0) + 1);
  const main = [...threads].sort((a, b) => b[1] - a[1])[0][0];
  const mine = own.filter((e) => key(e) === main);
  const tasks = events
    .filter((e) => e.ph === "X" && TASK.has(e.name) && key(e) === main)
    .sort((a, b) => a.ts - b.ts);
  const seen = new Map(); // task ts → { dur (µs), what }; a task recorded under both names counts once
  for (const e of mine) {
    const task = tasks.find((t) => t.ts <= e.ts && e.ts + (e.dur || 0) <= t.ts + t.dur);
    if (!task) continue;
    const entry = seen.get(task.ts) || { dur: 0, what: new Set() };
    entry.dur = Math.max(entry.dur, task.dur);
    const fn = e.args && e.args.data && e.args.data.functionName;
    entry.what.add(fn ? `${e.name} ${fn}` : e.name);
    seen.set(task.ts, entry);
  }
  const found = [...seen.values()];
  const longest = found.reduce((a, b) => (b.dur > a.dur ? b : a), { dur: 0, what: new Set() });
  return {
    tasks: found.map((t) => t.dur / 1000),
    // What the longest task ran of the module: EvaluateScript (the script-tag bundle evaluated),
    // FunctionCall (a callback of it: the loader's promise, a timer, a listener), …
    longestWhat: [...longest.what].join(" + "),
    ownLongest: Math.max(...mine.filter((e) => e.name !== "v8.compile").map((e) => e.dur || 0)) / 1000,
  };
}
