// Each runtime loads its own adapter and no other: importing the root
// module must not evaluate another runtime's adapter module. The test copies
// mod.ts, src/ and adapters/ to a temporary directory, replaces there the
// modules this runtime must not load with ones that throw when evaluated,
// and imports the copy's mod.ts in a child process of the same runtime.
//
// From source only: the npm build picks adapters by export conditions
// instead, and npm-build/build.ts checks those on all three runtimes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { autoPlatform } from "../../adapters/auto.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const fromSource = import.meta.url.endsWith(".ts");
const runtime = autoPlatform().name;

/** The adapter modules each runtime must leave alone when the root module is imported. */
const FORBIDDEN: Record<string, string[]> = {
  deno: ["node.ts", "bun.ts", "node_net.ts"],
  bun: ["node.ts", "deno.ts", "node_net.ts"],
  node: ["deno.ts", "bun.ts"],
};

const PROBE = `
import { autoPlatform, EventBase } from "./mod.ts";
// mod.ts registered the default platform while it was imported: no options needed.
const base = new EventBase();
base.free();
console.log(JSON.stringify({ name: autoPlatform().name }));
`;

/** The command that runs a TypeScript file with this runtime. */
function command(script: string): string[] {
  if (runtime === "deno") return [process.execPath, "run", "-A", "--no-config", "--no-lock", script];
  return [process.execPath, script];
}

test("importing the root module loads this runtime's adapter and evaluates no other runtime's adapter module", {
  skip: fromSource ? false : "the npm build's smoke check covers its export conditions",
}, () => {
  const forbidden = FORBIDDEN[runtime];
  assert.ok(forbidden !== undefined, `unknown runtime ${runtime}`);
  const dir = mkdtempSync(join(tmpdir(), "levent-loading-"));
  try {
    cpSync(join(ROOT, "mod.ts"), join(dir, "mod.ts"));
    cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
    cpSync(join(ROOT, "adapters"), join(dir, "adapters"), { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    for (const file of forbidden) {
      writeFileSync(join(dir, "adapters", file), `throw new Error("adapters/${file} was loaded on ${runtime}");\n`);
    }
    writeFileSync(join(dir, "probe.ts"), PROBE);
    const [cmd, ...args] = command(join(dir, "probe.ts"));
    const child = spawnSync(cmd, args, { cwd: dir, encoding: "utf8", timeout: 60000, env: { ...process.env } });
    assert.equal(child.status, 0, `the probe failed:\n${child.stderr}`);
    const line = child.stdout.trim().split("\n").pop() ?? "";
    assert.deepEqual(JSON.parse(line), { name: runtime });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
