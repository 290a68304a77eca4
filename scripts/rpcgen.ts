/**
 * rpcgen: compile a libevent `.rpc` file (event_rpcgen.py's language) into
 * a TypeScript module declaring its structures with levent's RpcStruct.
 *
 *   deno run -A scripts/rpcgen.ts INPUT.rpc [OUTPUT.ts] [--import SPECIFIER]
 *   node scripts/rpcgen.ts test/regress.rpc regress_rpc.ts
 *
 * Without OUTPUT the module goes to stdout. `--import` names the module the
 * generated code imports RpcField and RpcStruct from (default
 * `@levent/levent/rpc`). Exit 1 with one line on stderr for a file that
 * cannot be read or compiled (the line number of the fault), 2 for a bad
 * command line.
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { RpcError, rpcToTypeScript } from "../src/rpc/mod.ts";

const USAGE = `usage: rpcgen.ts INPUT.rpc [OUTPUT.ts] [--import SPECIFIER]

Compiles a libevent .rpc file into a TypeScript module of levent RpcStructs
(to stdout without OUTPUT). --import names the module to import RpcField
and RpcStruct from (default @levent/levent/rpc).`;

function fail(code: number, message: string): never {
  process.stderr.write(`rpcgen.ts: ${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    options: { import: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
} catch (err) {
  fail(2, (err as Error).message);
}
if (parsed.values.help) {
  process.stdout.write(USAGE + "\n");
  process.exit(0);
}
const [input, output, ...extra] = parsed.positionals;
if (input === undefined || extra.length > 0) {
  fail(2, input === undefined ? "an INPUT.rpc is required" : "too many arguments");
}

let source: string;
try {
  source = readFileSync(input, "utf8");
} catch (err) {
  fail(1, `cannot read ${input}: ${(err as Error).message}`);
}
let module: string;
try {
  module = rpcToTypeScript(source, { importFrom: parsed.values.import, sourceName: input.split("/").pop() });
} catch (err) {
  if (err instanceof RpcError) fail(1, `${input}: ${err.message}`);
  throw err;
}
if (output === undefined) process.stdout.write(module);
else writeFileSync(output, module);
