// `npm test` step "doc references": every document the repository points at must be in the
// repository. Scans the tracked text files (`git ls-files`) and reports, as file:line, each
//   - reference to a `.md` file that resolves to no tracked file: a bare name (`ARCHITECTURE.md`),
//     a path (`docs/domain.md`, `./docs/contract.md`) or a markdown link target;
//   - relative markdown link target (any file, not only `.md`) that resolves to nothing;
//   - reference to the team's notes folder outside the repository (a `shared` folder, with or
//     without leading `../`): the repository carries its own documents;
//   - label that means nothing to a reader of the repository: "issue N point M", and a
//     pitfall number "P" + digit 1-5, in comments and markdown prose only.
// A reference resolves when the named file is tracked (run `git add` on a new document) either
// relative to the folder of the file that names it or relative to the repository root, so a bare
// `docs/domain.md` works from any folder. `#section` suffixes are ignored.
// In code files (.rs .mjs .js .ts .sh .toml .css .html) only comments are read: a string literal
// names a runtime path (a file inside an npm tarball, a generated file) that the checker cannot
// judge. Markdown is read whole, except that labels are not looked for inside fenced code blocks.
// `.json` files are read whole for references (they have no comments) and never for labels.
// A line containing the marker `doc-refs: ignore` is skipped (this file uses it for its own
// examples). No dependencies; exit 0 when clean, 1 with the list otherwise.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EXTENSIONS = [".rs", ".md", ".toml", ".mjs", ".js", ".sh", ".json", ".ts", ".html", ".css"];
const IGNORE_MARKER = "doc-refs: ignore";

const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
  .split("\0")
  .filter(Boolean);
const trackedSet = new Set(tracked);
const scanned = tracked.filter((f) => EXTENSIONS.some((e) => f.endsWith(e)));

// A path-like token ending in `.md` (not part of a longer word such as `.mdx`).
const MD_REF = /(?<![A-Za-z0-9_.\/-])((?:\.{1,2}\/|\/)?(?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+\.md)(?:#[A-Za-z0-9_.-]*)?(?![A-Za-z0-9_])/g;
const MD_LINK = /\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g; // [text](target "title")
const SHARED_REF = /(?:(?:\.\.\/)+|(?<![A-Za-z0-9_.\/-]))shared\/(?:[A-Za-z0-9_.\/-]*)/g; // doc-refs: ignore
const LABELS = [
  { re: /\bissue\s+\d+,?\s+points?\s+\d+/gi, why: "an issue/point label from old notes: say what it is instead" },
  { re: /\bP[1-5]\b/g, why: "a pitfall number from old notes: name the pitfall instead" },
];
const URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s)>\]"'`]+/gi;

// Comment text of one line of code, keeping columns (non-comment characters become spaces).
// `state.block` carries an open `/* … */` (or `<!-- … -->`) across lines.
function commentText(line, kind, state) {
  const out = [];
  let i = 0;
  const blank = (from, to) => out.push(" ".repeat(Math.max(0, to - from)));
  while (i < line.length) {
    if (state.block) {
      const end = line.indexOf(state.block, i);
      const stop = end === -1 ? line.length : end + state.block.length;
      out.push(line.slice(i, stop));
      if (end !== -1) state.block = null;
      i = stop;
      continue;
    }
    let found = -1;
    let opener = null;
    const candidates =
      kind === "hash" ? [["#", null]]
        : kind === "html" ? [["<!--", "-->"], ["//", null], ["/*", "*/"]]
          : kind === "css" ? [["/*", "*/"]]
            : [["//", null], ["/*", "*/"]];
    for (const [open, close] of candidates) {
      let at = line.indexOf(open, i);
      // A comment opener starts the line or follows whitespace; `https://`, `$#` do not count.
      while (at > 0 && !/[\s;,({[]/.test(line[at - 1])) at = line.indexOf(open, at + 1);
      if (at !== -1 && (found === -1 || at < found)) {
        found = at;
        opener = close;
      }
    }
    if (found === -1) {
      blank(i, line.length);
      break;
    }
    blank(i, found);
    if (opener === null) {
      out.push(line.slice(found));
      break;
    }
    state.block = opener;
    out.push(line.slice(found, found + 2));
    i = found + 2;
  }
  return out.join("");
}

function kindOf(file) {
  if (file.endsWith(".md")) return "md";
  if (file.endsWith(".json")) return "json";
  if (file.endsWith(".sh") || file.endsWith(".toml")) return "hash";
  if (file.endsWith(".html")) return "html";
  if (file.endsWith(".css")) return "css";
  return "slash"; // .rs .mjs .js .ts
}

function resolves(fromFile, target) {
  const clean = target.replace(/#.*$/, "").replace(/\?.*$/, "");
  if (clean === "") return true; // a pure #anchor
  const candidates = clean.startsWith("/")
    ? [clean.slice(1)]
    : [path.posix.join(path.posix.dirname(fromFile), clean), path.posix.normalize(clean)];
  return candidates.some((c) => {
    if (c.startsWith("../")) return false; // outside the repository
    const p = c.replace(/\/+$/, "");
    return trackedSet.has(p) || tracked.some((t) => t.startsWith(p + "/")); // a file or a folder
  });
}

const findings = [];
const report = (file, n, what, text) => findings.push(`${file}:${n}: ${what}: ${text}`);

for (const file of scanned) {
  let text;
  try {
    text = readFileSync(path.join(ROOT, file), "utf8");
  } catch {
    continue; // deleted in the work tree but still in the index
  }
  const kind = kindOf(file);
  const state = { block: null };
  let fenced = false;
  text.split("\n").forEach((raw, index) => {
    const n = index + 1;
    if (kind === "md" && /^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    if (raw.includes(IGNORE_MARKER)) {
      if (kind !== "md" && kind !== "json") commentText(raw, kind, state); // keep block state
      return;
    }
    const visible = kind === "md" || kind === "json" ? raw : commentText(raw, kind, state);
    if (!visible.trim()) return;
    const noUrls = visible.replace(URL, (u) => " ".repeat(u.length));
    const seen = [];

    for (const m of noUrls.matchAll(SHARED_REF)) {
      seen.push([m.index, m.index + m[0].length]);
      report(file, n, "points at the notes outside the repository", m[0].replace(/[.]+$/, ""));
    }
    const overlaps = (a, b) => seen.some(([s, e]) => a < e && b > s);
    if (kind === "md") {
      for (const m of noUrls.matchAll(MD_LINK)) {
        const target = m[1];
        const at = m.index + m[0].indexOf(target);
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || overlaps(at, at + target.length)) continue;
        seen.push([at, at + target.length]);
        if (!resolves(file, target)) report(file, n, "link to a missing file", target);
      }
    }
    for (const m of noUrls.matchAll(MD_REF)) {
      if (overlaps(m.index, m.index + m[0].length)) continue;
      if (!resolves(file, m[1])) report(file, n, "reference to a missing document", m[1]);
    }
    if (kind === "json" || (kind === "md" && fenced)) return;
    for (const { re, why } of LABELS) {
      for (const m of noUrls.matchAll(re)) report(file, n, why, m[0]);
    }
  });
}

if (findings.length) {
  console.error(findings.join("\n"));
  console.error(`\ndoc references: ${findings.length} broken (see CONTRIBUTING.md, "Documents")`);
  process.exit(1);
}
console.log(`doc references: ${scanned.length} files, every reference resolves`);
