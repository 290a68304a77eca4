/**
 * Builds the npm package into `npm/`, doing what dnt would (dnt lives on JSR,
 * which these machines cannot reach):
 *
 * 1. `npm/esm`: one ES module per source file of `mod.ts`, `src/` and
 *    `adapters/`, compiled by esbuild, but for `adapters/auto.ts`, whose
 *    top-level await `require()` of an ES module cannot load: each runtime
 *    must load its own adapter only, so auto.js imports `#levent/auto`, which
 *    the package's `deno`, `bun` and `node` conditions point at a one-line
 *    module per runtime (`auto_deno.js`...);
 * 2. `.d.ts` files from `tsc --emitDeclarationOnly` beside them;
 * 3. `npm/package.json`, with `exports` derived from deno.json's and the
 *    `imports` above;
 * 4. publint over `npm/`; a smoke check that Node 20 can `require` and
 *    `import` every entry point and gets the same objects both ways; on Node,
 *    Deno and Bun, that importing and requiring the package gives that
 *    runtime's adapter without evaluating another runtime's (their modules
 *    are made to throw in a copy of the package); and the packed tarball,
 *    installed by npm, running a program that mixes `require` and `import`
 *    under the system Node, the toolchain's Node, Deno and Bun;
 * 5. the test files compiled into `npm/esm/tests` and, unless `--no-test` is
 *    given, run there under the system Node (the oldest Node we support)
 *    with `node --test`.
 *
 * The package is ES modules only, and `require("levent")` loads them too
 * (require(esm): Node 20.19+ and 22.12+ unflagged, Deno, Bun). A CommonJS
 * build beside them would be a second copy of every class and of the
 * default platform, so an `EventBase` made by `require("levent")` would not
 * be an `EventBase` to an `HttpServer` made by `import("levent")` (the
 * dual-package hazard).
 *
 * Run it with `node_modules/.bin/node npm-build/build.ts` (Node >= 23.6 runs
 * TypeScript as it is) or `deno run -A npm-build/build.ts`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { publint } from "publint";
import { formatMessage } from "publint/utils";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = path.join(ROOT, "npm");
const ESM = path.join(OUT, "esm");
const BIN = path.join(ROOT, "node_modules", ".bin");
const DESCRIPTION = "libevent's design in TypeScript: event loop, buffers, buffered sockets, HTTP/1.1 server " +
  "and client, for Deno, Bun and Node";

/** Files under `base/dir` whose path (relative to `base`, with `/`) passes `keep`, sorted so builds are reproducible. */
function walk(base: string, dir: string, keep: (rel: string) => boolean): string[] {
  const found: string[] = [];
  const visit = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(base, rel), { withFileTypes: true })) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) visit(child);
      else if (entry.isFile() && keep(child)) found.push(child);
    }
  };
  if (fs.existsSync(path.join(base, dir))) visit(dir);
  return found.sort();
}

const isTs = (rel: string): boolean => rel.endsWith(".ts") && !rel.endsWith(".d.ts");

function fail(message: string): never {
  console.error(`npm-build: ${message}`);
  process.exit(1);
}

function step(title: string): void {
  console.log(`\n== npm-build: ${title}`);
}

/** Run a command with inherited stdio; exit the build if it fails. */
function run(cmd: string, args: string[], cwd: string = ROOT): void {
  const result = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  if (result.error) fail(`${cmd}: ${result.error.message}`);
  if (result.status !== 0) fail(`${path.basename(cmd)} exited with ${result.status ?? result.signal}`);
}

/**
 * esbuild with `bundle: true` lets a plugin see every import; this one keeps
 * each source file its own output file: relative imports stay imports, with
 * `.ts` rewritten to `.js` (esbuild leaves the specifier alone otherwise).
 * The library may import only `node:` modules (it has no dependencies);
 * tests may also import packages such as interop peers.
 */
function keepImports(sources: Set<string>, allowPackages: boolean): esbuild.Plugin {
  return {
    name: "keep-imports",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "entry-point") return undefined;
        const spec = args.path;
        if (spec.startsWith("./") || spec.startsWith("../")) {
          // A file outside the built set would be missing from npm/ at run time.
          const target = path.relative(ROOT, path.resolve(args.resolveDir, spec)).split(path.sep).join("/");
          if (!sources.has(target)) {
            return { errors: [{ text: `"${spec}" is not part of the npm build (resolved to ${target})` }] };
          }
          return { path: spec.replace(/\.ts$/, ".js"), external: true };
        }
        if (spec.startsWith("node:") || allowPackages) return { path: spec, external: true };
        return { errors: [{ text: `"${spec}": the library has no dependencies; import node: modules only` }] };
      });
    },
  };
}

async function compile(
  files: string[],
  sources: Set<string>,
  outdir: string,
  allowPackages: boolean,
): Promise<void> {
  try {
    await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: files,
      outbase: ".",
      outdir,
      format: "esm",
      bundle: true,
      platform: "node",
      target: "es2022",
      plugins: [keepImports(sources, allowPackages)],
      logLevel: "warning",
    });
  } catch {
    fail(`esbuild could not build ${outdir} (errors above)`); // logLevel has printed them
  }
}

/** The package's name on JSR, which the JSDoc examples import. */
const JSR_NAME = "@levent/levent";
/** The package's name on npm. */
const NPM_NAME = "levent";
/**
 * An import of the JSR package or one of its subpaths, as the JSDoc
 * `@example`s write it (`from "@levent/levent/http"`, `import("...")`):
 * import positions only, so prose that quotes the name (rpcToTypeScript's
 * default `importFrom`, a runtime string) is left as the code has it.
 */
const EXAMPLE_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])@levent\/levent((?:\/[^"'\n]*)?)\2/g;

/**
 * tsc keeps `./x.ts` in the declarations it emits even with
 * rewriteRelativeImportExtensions (microsoft/TypeScript#61037); the
 * published tree has only `.js` and `.d.ts`, so point them at `.js`. And
 * the JSDoc examples import the package by its JSR name, which an npm user
 * reads in their editor: they import the npm name there.
 */
function rewriteDeclarationImports(text: string): string {
  return text.replace(/(["'])(\.{1,2}\/[^"'\n]*)\.ts\1/g, "$1$2.js$1").replace(
    EXAMPLE_IMPORT,
    (_, head: string, quote: string, rest: string) => `${head}${quote}${NPM_NAME}${rest}${quote}`,
  );
}

/**
 * The `.d.ts` files' examples must import the npm name: none may import
 * the JSR name still, at least one must import `levent` (or the rewrite
 * matched nothing), and each subpath they import must be one the package
 * exports.
 */
function exampleImports(subpaths: string[]): string | undefined {
  const exported = new Set(subpaths.map((s) => (s === "." ? NPM_NAME : `${NPM_NAME}/${s.slice(2)}`)));
  const npmImport = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](levent(?:\/[^"'\n]*)?)["']/g;
  const problems: string[] = [];
  let rewritten = 0;
  for (const rel of walk(ESM, "", (f) => f.endsWith(".d.ts") && !f.startsWith("tests/"))) {
    const text = fs.readFileSync(path.join(ESM, rel), "utf8");
    if (text.search(EXAMPLE_IMPORT) >= 0) problems.push(`${rel} imports ${JSR_NAME}`);
    for (const [, spec] of text.matchAll(npmImport)) {
      rewritten++;
      if (!exported.has(spec)) problems.push(`${rel} imports "${spec}", which the package does not export`);
    }
  }
  console.log(`${rewritten} example import(s) of ${NPM_NAME} in the declarations`);
  if (rewritten === 0) problems.push(`no declaration imports ${NPM_NAME}: the examples were not rewritten`);
  for (const p of problems) console.log(`FAIL ${p}`);
  return problems.length === 0 ? undefined : `JSDoc examples: ${problems.length} problem(s)`;
}

function declarations(files: string[]): void {
  const tmp = path.join(OUT, ".types");
  // --noCheck: declarations need no type checking under isolatedDeclarations,
  // and adapters use Deno/Bun globals tsc has no types for; `deno check`
  // does the checking. isolatedDeclarations errors are still reported.
  run(path.join(BIN, "tsc"), [
    ...files,
    "--declaration",
    "--emitDeclarationOnly",
    "--isolatedDeclarations",
    "--rewriteRelativeImportExtensions",
    "--erasableSyntaxOnly",
    "--noCheck",
    "--skipLibCheck",
    "--target",
    "es2022",
    "--module",
    "nodenext",
    "--rootDir",
    ".",
    "--outDir",
    tmp,
  ]);
  for (const rel of walk(tmp, "", (f) => f.endsWith(".d.ts"))) {
    const text = rewriteDeclarationImports(fs.readFileSync(path.join(tmp, rel), "utf8"));
    fs.mkdirSync(path.dirname(path.join(ESM, rel)), { recursive: true });
    fs.writeFileSync(path.join(ESM, rel), text);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** The runtimes the package picks an adapter for, each with its adapter module and platform function. */
const RUNTIMES = [
  { name: "deno", module: "deno", fn: "denoPlatform" },
  { name: "bun", module: "bun", fn: "bunPlatform" },
  { name: "node", module: "node", fn: "nodePlatform" },
] as const;

/** The adapter selector: adapters/auto.ts in the source, a conditional subpath import in the package. */
const AUTO = "adapters/auto.ts";
const AUTO_IMPORT = "#levent/auto";

/** The modules each runtime must not evaluate when it loads the package (the others' adapters). */
const FOREIGN: Record<string, string[]> = {
  deno: ["node", "bun", "node_net", "auto_node", "auto_bun"],
  bun: ["node", "deno", "node_net", "auto_node", "auto_deno"],
  node: ["deno", "bun", "auto_deno", "auto_bun"],
};

/**
 * `adapters/auto.js`. The source's auto.ts picks the adapter with a
 * top-level await, which `require()` of an ES module refuses; here it
 * reaches the runtime's adapter through `#levent/auto` (its conditions, in
 * package.json's `imports`, pick one of the `auto_<runtime>.js` modules
 * written here).
 */
function emitAutoModules(): void {
  const write = (name: string, code: string): void => fs.writeFileSync(path.join(ESM, "adapters", `${name}.js`), code);
  write("auto", `export { autoPlatform } from "${AUTO_IMPORT}";\n`);
  for (const rt of RUNTIMES) {
    write(`auto_${rt.name}`, `export { ${rt.fn} as autoPlatform } from "./${rt.module}.js";\n`);
  }
}

/** package.json's `imports`: `#levent/auto` to the runtime's module, by condition. */
function autoImports(): Record<string, Record<string, string>> {
  const target = (rt: string): string => `./esm/adapters/auto_${rt}.js`;
  // deno and bun come first: both runtimes also match `node`.
  return {
    [AUTO_IMPORT]: { deno: target("deno"), bun: target("bun"), node: target("node"), default: target("node") },
  };
}

interface DenoJson {
  version: string;
  license?: string;
  description?: string;
  exports: string | Record<string, string>;
}

type Conditions = { types: string; default: string };

/**
 * package.json for npm/: deno.json's exports, each one ES module for both
 * `import` and `require` (require(esm)), so a program that does both gets
 * one copy of the library.
 */
function packageJson(deno: DenoJson, built: Set<string>): Record<string, unknown> {
  const map = typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports;
  const exports: Record<string, unknown> = {};
  for (const [subpath, source] of Object.entries(map)) {
    const rel = source.replace(/^\.\//, "");
    if (!built.has(rel)) {
      // Files come and go while the library is being written; say so loudly.
      console.warn(`npm-build: warning: deno.json exports "${subpath}" -> ${source}, which does not exist; left out`);
      continue;
    }
    const stem = rel.replace(/\.ts$/, "");
    exports[subpath] = { types: `./esm/${stem}.d.ts`, default: `./esm/${stem}.js` } satisfies Conditions;
  }
  exports["./package.json"] = "./package.json";
  const root = exports["."] as Conditions | undefined;
  return {
    name: NPM_NAME,
    version: deno.version,
    description: deno.description ?? DESCRIPTION,
    license: deno.license ?? "MIT",
    type: "module",
    // require("levent") needs require(esm), unflagged from these releases on.
    engines: { node: "^20.19.0 || >=22.12.0" },
    // mod.ts registers the runtime's adapter as the default platform when
    // imported; with a plain `false`, a bundler could skip it and keep only
    // the modules it re-exports.
    sideEffects: root ? [root.default] : false,
    // Old resolvers that ignore `exports`.
    ...(root ? { main: root.default, module: root.default, types: root.types } : {}),
    exports,
    // The adapter for the runtime at hand, for esm/ (see emitAutoModules).
    imports: autoImports(),
    // The compiled tests live in esm/tests for the Node run; they are not shipped.
    files: ["esm/", "!esm/tests/", "!esm/examples/"],
  };
}

/** publint over npm/; returns a problem to report, or undefined. Warnings are printed only. */
async function lint(): Promise<string | undefined> {
  const { messages, pkg } = await publint({ pkgDir: OUT, level: "warning", pack: "npm" });
  for (const m of messages) console.log(`publint ${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`);
  const errors = messages.filter((m) => m.type === "error").length;
  console.log(`publint: ${errors} error(s), ${messages.length - errors} warning(s)`);
  return errors > 0 ? `publint found ${errors} error(s)` : undefined;
}

/** The system Node (first `node` on PATH outside any node_modules), which the npm build supports as its oldest. */
function systemNode(): string {
  if (process.env.LEVENT_TEST_NODE) return process.env.LEVENT_TEST_NODE;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "" || dir.split(path.sep).includes("node_modules")) continue;
    const candidate = path.join(dir, "node");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return fail("no system node found on PATH (set LEVENT_TEST_NODE to choose one)");
}

/**
 * Script text: `check(subpaths, loadRequired, loadImported)` loads every
 * entry point by its package name both ways and prints one line each; it
 * throws unless both give the same export names and the very same objects
 * (one copy of the package, not an ESM and a CommonJS one).
 */
const SAME_EXPORTS = `
async function check(subpaths, required, imported) {
  let bad = 0;
  for (const sub of subpaths) {
    const spec = sub === "." ? "levent" : "levent/" + sub.slice(2);
    const r = required(spec);
    const i = await imported(spec);
    const names = (m) => Object.keys(m).filter((k) => k !== "default").sort();
    const rn = names(r).join(", ");
    const iNames = names(i);
    const other = iNames.filter((k) => r[k] !== i[k]);
    const ok = rn === iNames.join(", ") && other.length === 0;
    if (!ok) bad++;
    console.log((ok ? "ok   " : "DIFF ") + spec + ": " + (ok
      ? iNames.join(", ") || "(types only)"
      : "require [" + rn + "] import [" + iNames.join(", ") + "], other objects: " + other.join(", ")));
  }
  if (bad > 0) throw new Error(bad + " entry point(s) differ between require and import");
}
`;

/**
 * Loads every entry point by its package name (a package may import itself
 * through its own `exports`), once with `require` and once with `import`, and
 * requires the same export names and the same objects.
 */
function smoke(node: string, subpaths: string[]): string | undefined {
  const script = `${SAME_EXPORTS}
    check(JSON.parse(process.argv[1]), require, (spec) => import(spec))
      .catch((err) => { console.error(err); process.exitCode = 1; });`;
  const result = spawnSync(node, ["-e", script, JSON.stringify(subpaths)], { cwd: OUT, stdio: "inherit" });
  return result.status === 0 ? undefined : "the smoke check failed";
}

/** How to run a script with each runtime: the system Node, and the toolchain's Deno and Bun. */
function runtimeCommands(node: string): Record<string, (script: string) => string[]> {
  return {
    node: (script) => [node, script],
    // A package.json beside the script makes Deno resolve "levent" from node_modules.
    deno: (script) => [path.join(BIN, "deno"), "run", "-A", "--no-lock", script],
    bun: (script) => [path.join(BIN, "bun"), script],
  };
}

/**
 * For each runtime: install a copy of npm/ into a scratch project's
 * node_modules, make the other runtimes' adapter modules throw when
 * evaluated, and import and require "levent" there. Each must give the
 * runtime's own platform, and no poisoned module may run.
 */
function adapterConditions(node: string): string | undefined {
  const commands = runtimeCommands(node);
  const failed: string[] = [];
  const probe = (load: string): string =>
    `${load}\nconst name = autoPlatform().name;\nnew EventBase().free();\nconsole.log(name);\n`;
  for (const rt of RUNTIMES) {
    const argv0 = commands[rt.name]("")[0];
    if (!fs.existsSync(argv0)) {
      console.log(`skip ${rt.name}: ${argv0} is not installed`);
      continue;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `levent-npm-${rt.name}-`));
    try {
      const pkgDir = path.join(dir, "node_modules", "levent");
      fs.cpSync(OUT, pkgDir, {
        recursive: true,
        filter: (src) => !/[\\/]esm[\\/](tests|examples)$/.test(src),
      });
      for (const mod of FOREIGN[rt.name]) {
        const file = path.join(pkgDir, "esm", "adapters", `${mod}.js`);
        if (!fs.existsSync(file)) continue;
        fs.writeFileSync(file, `throw new Error("adapters/${mod}.js was loaded on ${rt.name}");\n`);
      }
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
      fs.writeFileSync(path.join(dir, "probe.mjs"), probe(`import { autoPlatform, EventBase } from "levent";`));
      fs.writeFileSync(path.join(dir, "probe.cjs"), probe(`const { autoPlatform, EventBase } = require("levent");`));
      for (const script of ["probe.mjs", "probe.cjs"]) {
        const [cmd, ...args] = commands[rt.name](path.join(dir, script));
        const result = spawnSync(cmd, args, { cwd: dir, encoding: "utf8", timeout: 60000 });
        const said = result.stdout.trim().split("\n").pop() ?? "";
        const ok = result.status === 0 && said === rt.name;
        console.log(`${ok ? "ok  " : "FAIL"} ${rt.name} ${script}: ${ok ? said : result.stderr.trim() || said}`);
        if (!ok) failed.push(`${rt.name} ${script}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return failed.length === 0 ? undefined : `adapter selection failed: ${failed.join(", ")}`;
}

/**
 * Script text: `serveAcross(baseFrom, serverFrom)` makes an EventBase with
 * one copy of the package as loaded and an HttpServer on it with the other,
 * and fetches one reply from it with the runtime's own fetch.
 */
const SERVE_ACROSS = `
async function serveAcross(label, baseFrom, serverFrom) {
  const base = new baseFrom.EventBase();
  const server = new serverFrom.HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "one copy"));
  const { address } = await server.bind("127.0.0.1", 0);
  const loop = base.dispatch();
  const res = await fetch("http://127.0.0.1:" + address.port + "/");
  const text = await res.text();
  server.free();
  await loop;
  if (text !== "one copy") throw new Error("the server answered " + JSON.stringify(text));
  console.log("ok   " + label + ": served " + JSON.stringify(text));
}
`;

/**
 * The dual-package case from what users install: `npm pack` of npm/,
 * installed by npm into a scratch project, where a CommonJS program and an
 * ES module program each load the package both by `require` and by
 * `import`. Every entry point must give the same objects both ways, and an
 * EventBase from one way must serve through an HttpServer from the other.
 * Run under the system Node, the toolchain's Node, Deno and Bun.
 */
function packedTarball(node: string, subpaths: string[]): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "levent-pack-"));
  try {
    const packed = spawnSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: OUT, encoding: "utf8" });
    if (packed.status !== 0) return `npm pack failed: ${packed.stderr.trim()}`;
    const [{ filename, files }] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const shipped = files.map((f) => f.path);
    const stray = shipped.filter((f) =>
      !/^(esm\/|package\.json$|README\.md$|LICENSE$)/.test(f) || /^esm\/tests\//.test(f)
    );
    console.log(`${filename}: ${shipped.length} files`);
    if (stray.length > 0) return `the tarball holds files it should not: ${stray.slice(0, 5).join(", ")}`;
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ private: true }));
    const installed = spawnSync(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", path.join(dir, filename)],
      { cwd: project, encoding: "utf8" },
    );
    if (installed.status !== 0) return `npm install of the tarball failed: ${installed.stderr.trim()}`;
    const list = JSON.stringify(subpaths);
    fs.writeFileSync(
      path.join(project, "mixed.cjs"),
      `${SAME_EXPORTS}${SERVE_ACROSS}
(async () => {
  await check(${list}, require, (spec) => import(spec));
  await serveAcross("EventBase from require, HttpServer from import", require("levent"), await import("levent"));
})().catch((err) => { console.error(err); process.exitCode = 1; });
`,
    );
    fs.writeFileSync(
      path.join(project, "mixed.mjs"),
      `import { createRequire } from "node:module";
import * as imported from "levent";
const require = createRequire(import.meta.url);
${SAME_EXPORTS}${SERVE_ACROSS}
await check(${list}, require, (spec) => import(spec));
await serveAcross("EventBase from import, HttpServer from require", imported, require("levent"));
`,
    );
    const commands = runtimeCommands(node);
    const toolchainNode = path.join(BIN, "node");
    const version = (cmd: string): string => spawnSync(cmd, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
    const runs: [string, (script: string) => string[]][] = [
      [`node ${version(node)}`, commands.node],
      [`node ${version(toolchainNode)}`, (script) => [toolchainNode, script]],
      ["deno", commands.deno],
      ["bun", commands.bun],
    ];
    const failed: string[] = [];
    for (const [name, command] of runs) {
      for (const script of ["mixed.cjs", "mixed.mjs"]) {
        const [cmd, ...args] = command(path.join(project, script));
        if (!fs.existsSync(cmd)) {
          console.log(`skip ${name}: ${cmd} is not installed`);
          break;
        }
        const result = spawnSync(cmd, args, { cwd: project, encoding: "utf8", timeout: 60000 });
        const served = result.status === 0 && /^ok {3}.*: served/m.test(result.stdout);
        console.log(`${served ? "ok  " : "FAIL"} ${name} ${script}`);
        if (!served) {
          console.log(result.stdout.trim(), result.stderr.trim());
          failed.push(`${name} ${script}`);
        }
      }
    }
    return failed.length === 0 ? undefined : `one copy of the package failed: ${failed.join(", ")}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runTests = !process.argv.slice(2).includes("--no-test");
  const deno = JSON.parse(fs.readFileSync(path.join(ROOT, "deno.json"), "utf8")) as DenoJson;

  const library = [
    ...(fs.existsSync(path.join(ROOT, "mod.ts")) ? ["mod.ts"] : []),
    ...walk(ROOT, "src", isTs),
    ...walk(ROOT, "adapters", isTs),
  ];
  if (library.length === 0) fail("no source files found");
  // Tests may import the examples' helper modules (examples/lib), which are
  // compiled beside them and, like them, not shipped.
  const tests = [...walk(ROOT, "tests", isTs), ...walk(ROOT, "examples/lib", isTs)];
  const fixtures = walk(ROOT, "tests", (rel) => !rel.endsWith(".ts"));
  const librarySet = new Set(library);
  const testSet = new Set([...library, ...tests, ...fixtures]);

  step(`compiling ${library.length} files to esm/`);
  fs.rmSync(OUT, { recursive: true, force: true });
  const compiled = library.filter((rel) => rel !== AUTO);
  await compile(compiled, librarySet, ESM, false);
  if (librarySet.has(AUTO)) emitAutoModules();

  step("declarations (tsc)");
  declarations(library);

  step("package.json");
  const pkg = packageJson(deno, librarySet);
  fs.writeFileSync(path.join(OUT, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  for (const doc of ["README.md", "LICENSE"]) {
    if (fs.existsSync(path.join(ROOT, doc))) fs.copyFileSync(path.join(ROOT, doc), path.join(OUT, doc));
  }
  console.log(`levent ${deno.version}: ${Object.keys(pkg.exports as object).join(" ")}`);

  // A failed check fails the build, but the tests still run: they say more
  // about what is wrong than a build that stops here.
  step("publint");
  const lintProblem = await lint();
  const subpaths = Object.keys(pkg.exports as object).filter((s) => s !== "./package.json");
  step(`JSDoc examples in the declarations import ${NPM_NAME}`);
  const exampleProblem = exampleImports(subpaths);

  const node = systemNode();
  step(`smoke check: require and import under ${node}`);
  const smokeProblem = smoke(node, subpaths);
  step("smoke check: each runtime loads its own adapter only, by import and by require");
  const conditionProblem = adapterConditions(node);
  step("the packed tarball: one copy under require and import, on each runtime");
  const tarballProblem = packedTarball(node, subpaths);
  const problems = [lintProblem, exampleProblem, smokeProblem, conditionProblem, tarballProblem].filter((p) =>
    p !== undefined
  );

  step(`compiling ${tests.length} test files to esm/tests/`);
  await compile(tests, testSet, ESM, true);
  for (const rel of fixtures) {
    fs.mkdirSync(path.dirname(path.join(ESM, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(ESM, rel));
  }
  await esbuild.stop();

  if (problems.length > 0) {
    process.exitCode = 1;
    console.error(`npm-build: FAILED: ${problems.join("; ")}${runTests ? " (running the tests anyway)" : ""}`);
  }
  if (!runTests) return;
  const testFiles = walk(ESM, "tests", (rel) => rel.endsWith("_test.js")).map((rel) => path.join(ESM, rel));
  if (testFiles.length === 0) fail("no *_test.js files to run");
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  step(`node --test: ${testFiles.length} files under ${node} ${version}`);
  // TAP, so the output ends with the runner's "# pass N / # fail M" summary
  // whether or not stdout is a terminal; the timeout bounds a hung test.
  const result = spawnSync(node, ["--test", "--test-reporter=tap", "--test-timeout=120000", ...testFiles], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (result.status !== 0 || problems.length > 0) process.exitCode = result.status || 1;
}

await main();
