// `npm test`: every check, then the suite on all three runtimes.
//
//   (a) deno check  (b) deno lint  (c) deno fmt --check  (c') deno doc --lint,
//   deno publish --dry-run
//   (d) Deno from source  (e) Bun from source  (f) Node on the npm build
//
// Plain JavaScript so that any Node >= 20 runs it. Every step runs even when
// an earlier one failed, so one run shows everything that is wrong. Output
// streams as it comes; the last line is "N passed, M failed[, K skipped]"
// summed over the three runtimes, with each failed check or unreadable run
// counted as one failure.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "node_modules", ".bin");
const DENO = join(BIN, "deno");
const BUN = join(BIN, "bun");
// The npm build is TypeScript, which Node 20 cannot run; Node 26 from the
// toolchain runs it, and the build runs the tests under the system Node.
const NODE_TS = join(BIN, "node");
const ENV = { ...process.env, NO_COLOR: "1" };
// Colour codes, in case a runner ignores NO_COLOR, would hide the summaries.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Run a command, echoing its output as it comes; resolve with its exit code and output. */
function run(title, cmd, args) {
  console.log(`\n=== ${title}: ${[cmd, ...args].map((a) => a.replace(ROOT, "")).join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      output += chunk;
    });
    child.on("error", (err) => {
      output += `\n${err.message}\n`;
      console.error(`${title}: ${err.message}`);
    });
    child.on("close", (code, signal) => resolve({ code: code ?? 1, signal, output }));
  });
}

/** Test files under tests/, as ./-relative paths (Bun takes those as files, not name filters). */
function testFiles(dir = "tests") {
  const found = [];
  if (!existsSync(join(ROOT, dir))) return found;
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) found.push(...testFiles(rel));
    else if (/_test\.(ts|js|mjs)$/.test(entry.name)) found.push(`./${rel}`);
  }
  return found.sort();
}

// deno check fails on a missing path, so name only what exists.
const checkTargets = ["mod.ts", "src", "adapters", "tests", "examples", "bench", "npm-build"]
  .filter((p) => existsSync(join(ROOT, p)));

/** The number captured by the last match of the global `re`, or undefined. */
function lastMatch(text, re) {
  const all = [...text.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
}

// Each parser reads the runner's own closing summary; undefined = none found.
const parsers = {
  // "ok | 40 passed | 0 failed | 1 ignored (1s)" or "FAILED | 39 passed (2 steps) | 1 failed (3s)"
  deno(text) {
    const lines = text.split("\n").filter((l) => /^(ok|FAILED) \| \d+ passed/.test(l));
    if (lines.length === 0) return undefined;
    const line = lines[lines.length - 1];
    const n = (label) => Number(line.match(new RegExp(`(\\d+) ${label}`))?.[1] ?? 0);
    return { passed: n("passed"), failed: n("failed"), skipped: n("ignored") };
  },
  // " 40 pass" / " 0 fail" / " 1 skip" (and " 1 todo") at the end of `bun test`
  bun(text) {
    const passed = lastMatch(text, /^\s*(\d+) pass$/gm);
    const failed = lastMatch(text, /^\s*(\d+) fail$/gm);
    if (passed === undefined && failed === undefined) return undefined;
    const skipped = (lastMatch(text, /^\s*(\d+) skip$/gm) ?? 0) + (lastMatch(text, /^\s*(\d+) todo$/gm) ?? 0);
    return { passed: passed ?? 0, failed: failed ?? 0, skipped };
  },
  // TAP: "# pass 40" / "# fail 0" / "# cancelled 0" / "# skipped 1" / "# todo 0"
  node(text) {
    const passed = lastMatch(text, /^# pass (\d+)$/gm);
    const failed = lastMatch(text, /^# fail (\d+)$/gm);
    if (passed === undefined || failed === undefined) return undefined;
    const cancelled = lastMatch(text, /^# cancelled (\d+)$/gm) ?? 0; // a timed-out test counts as failed
    const skipped = (lastMatch(text, /^# skipped (\d+)$/gm) ?? 0) + (lastMatch(text, /^# todo (\d+)$/gm) ?? 0);
    return { passed, failed: failed + cancelled, skipped };
  },
};

// Every entry point JSR publishes, for the doc lint (no slow types, every export documented).
const entryPoints = [...new Set(Object.values(JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).exports))];

const checks = [
  ["deno check", DENO, ["check", ...checkTargets]],
  // The code blocks of the README and of every JSDoc @example must type-check too.
  ["deno check --doc-only", DENO, ["check", "--doc-only", "mod.ts", "src", "adapters", "README.md"]],
  ["deno lint", DENO, ["lint"]],
  ["deno fmt", DENO, ["fmt", "--check"]],
  ["deno doc --lint", DENO, ["doc", "--lint", ...entryPoints]],
  ["deno publish --dry-run", DENO, ["publish", "--dry-run", "--allow-dirty"]],
];
const suites = [
  ["deno", DENO, ["test", "-A", "tests/"]],
  // Explicit files: `bun test tests/` would take "tests/" as a name filter
  // and also pick up npm/esm/tests (with none, it would search the whole
  // tree: the guard below). A generous timeout replaces Bun's 5 s default;
  // the tests bound their own waits.
  ["bun", BUN, ["test", "--timeout", "120000", ...testFiles()]],
  ["node", NODE_TS, ["npm-build/build.ts"]],
];

const report = [];
let passed = 0;
let failed = 0;
let skipped = 0;

for (const [title, cmd, args] of checks) {
  const { code } = await run(title, cmd, args);
  if (code !== 0) {
    failed++;
    report.push(`${title}: FAILED (exit ${code}), counted as 1 failure`);
  } else {
    report.push(`${title}: ok`);
  }
}

for (const [runtime, cmd, args] of suites) {
  if (runtime === "bun" && testFiles().length === 0) {
    failed++;
    report.push("bun: no *_test files under tests/, counted as 1 failure");
    continue;
  }
  const { code, output } = await run(runtime, cmd, args);
  const counts = parsers[runtime](output.replace(ANSI, ""));
  if (counts === undefined) {
    failed++;
    report.push(`${runtime}: no test summary found (exit ${code}), counted as 1 failure`);
    continue;
  }
  let line = `${runtime}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
  if (counts.passed + counts.failed === 0) {
    counts.failed++;
    line += "; ran no test, counted as 1 failure";
  } else if (code !== 0 && counts.failed === 0) {
    counts.failed++;
    line += `; exited ${code} with no failed test, counted as 1 failure`;
  }
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  report.push(line);
}

console.log("\n=== summary");
for (const line of report) console.log(line);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed > 0 ? 1 : 0;
