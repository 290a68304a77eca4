// Enforces the house rule that src/ is platform-neutral: no `node:` module
// and no `Deno`, `Bun` or `process` global; only adapters/ may touch those.
// It runs from source (tests/ beside src/, .ts files) and from the npm build
// (npm/esm/tests beside npm/esm/src, .js files).
import { test } from "node:test";
import assert from "node:assert/strict";
import { builtinModules } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Module files under `dir`: .ts from source, .js in the npm build (its .d.ts hold no code). */
function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(full));
    else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) found.push(full);
  }
  return found;
}

/**
 * Blank out comments so JSDoc prose ("like Deno.listen does") is not taken
 * for code. String literals are kept (import specifiers live in them), and
 * newlines are kept so line numbers still match.
 */
function stripComments(code: string): string {
  let out = "";
  let i = 0;
  while (i < code.length) {
    const c = code[i];
    const next = code[i + 1];
    if (c === "/" && next === "/") {
      while (i < code.length && code[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = code.indexOf("*/", i + 2);
      const stop = end === -1 ? code.length : end + 2;
      out += code.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      // Copy the literal whole, so "//" in a URL is not a comment; plain
      // quotes end at a newline too, which bounds a misread regex literal.
      let j = i + 1;
      while (j < code.length && code[j] !== c && (c === "`" || code[j] !== "\n")) j += code[j] === "\\" ? 2 : 1;
      out += code.slice(i, j + 1);
      i = j + 1;
    } else if (c === "\\") {
      // An escape outside a string is in a regex literal: /\/\// is no comment.
      out += code.slice(i, i + 2);
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const GLOBALS = "Deno|Bun|process";
const RULES: [RegExp, string][] = [
  // `Deno.x`, `Bun?.x`, `process["env"]`; not `obj.process.x` nor `myprocess.x`.
  [new RegExp(String.raw`(?<![\w$.])(?:${GLOBALS})\s*(?:\?\.|\.|\[)`, "g"), "runtime global"],
  [new RegExp(String.raw`\bglobalThis\s*(?:\?\.|\.)\s*(?:${GLOBALS})\b`, "g"), "runtime global"],
  [new RegExp(String.raw`\bglobalThis\s*\[\s*["'\`](?:${GLOBALS})["'\`]`, "g"), "runtime global"],
  [new RegExp(String.raw`\btypeof\s+(?:${GLOBALS})\b`, "g"), "runtime global"],
];
// import ... from "x", export ... from "x", import "x", import("x"), require("x").
const SPECIFIER = /(?:\bfrom|\bimport|\bimport\s*\(|\brequire\s*\()\s*(["'`])([^"'`\n]+)\1/g;

/** `file:line: what` for each way `code` reaches past the platform interfaces. */
function findViolations(code: string, file = "<code>"): string[] {
  const text = stripComments(code);
  const lineOf = (index: number): number => text.slice(0, index).split("\n").length;
  const found: string[] = [];
  for (const [pattern, what] of RULES) {
    for (const m of text.matchAll(pattern)) found.push(`${file}:${lineOf(m.index)}: ${what} ${m[0].trim()}`);
  }
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[2];
    if (spec.startsWith("node:") || builtinModules.includes(spec)) {
      found.push(`${file}:${lineOf(m.index)}: imports ${spec}`);
    }
  }
  return found;
}

test("src/ imports no node: module and touches no Deno, Bun or process global", () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 0, `no source files found under ${SRC}`);
  const violations = files.flatMap((f) => findViolations(readFileSync(f, "utf8"), f));
  assert.deepEqual(violations, [], "src/ must reach the runtime only through src/platform.ts");
});

test("the neutrality checker catches violations and ignores comments and strings", () => {
  const bad = [
    'import fs from "node:fs";',
    'export { createServer } from "node:net";',
    'import "node:process";',
    'const dns = await import("node:dns");',
    'const os = require("os");',
    "const pid = Deno.pid;",
    "Bun?.gc(true);",
    'const env = process["env"];',
    "if (globalThis.Deno !== undefined) {}",
    "const isBun = typeof Bun !== 'undefined';",
  ];
  const found = findViolations(bad.join("\n"));
  assert.equal(found.length, bad.length, found.join("\n"));
  for (let line = 1; line <= bad.length; line++) {
    assert.ok(found.some((v) => v.startsWith(`<code>:${line}:`)), `line ${line} not caught: ${bad[line - 1]}`);
  }

  const fine = [
    "/** Like `Deno.listen` or node:net's `createServer`, via process.env. */",
    '// Bun.connect returns the count it took; import x from "node:fs"',
    'const url = "http://example.com/"; const re = /^https?:\\/\\//;',
    "this.process.run(); const myprocess = 1; myprocess.toString();",
    'import { EvBuffer } from "./buffer/evbuffer.ts";',
  ];
  assert.deepEqual(findViolations(fine.join("\n")), []);
});

// The house rules of the README's Layout section about internals: a folder's
// mod.ts names what it exports (so the accessors and shared state its files
// export for each other stay private), no module runs for its side effects,
// and no public class hides members behind @ignore.
test("src/ keeps its internals internal: mod.ts exports by name, no side-effect imports, no @ignore", () => {
  const files = sourceFiles(SRC);
  const found: string[] = [];
  for (const file of files) {
    const raw = readFileSync(file, "utf8");
    const code = stripComments(raw);
    if (/[\\/]mod\.(ts|js)$/.test(file)) {
      for (const m of code.matchAll(/\bexport\s+\*\s+from/g)) found.push(`${file}: export * (${m[0]})`);
    }
    for (const m of code.matchAll(/^\s*import\s*["'`][^"'`\n]+["'`]/gm)) {
      found.push(`${file}: side-effect ${m[0].trim()}`);
    }
    if (raw.includes("@ignore")) found.push(`${file}: @ignore`);
  }
  assert.deepEqual(found, []);
});
