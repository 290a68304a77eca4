/**
 * The .rpc compiler: libevent's regress.rpc read unchanged into schemas
 * that encode as the hand-declared ones do, comments and directives, the
 * errors event_rpcgen.py reports (with their lines), and the TypeScript
 * module rpcToTypeScript writes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compileRpc, RpcError, type RpcStruct, rpcToTypeScript } from "../../src/rpc/mod.ts";
import { msg } from "../../examples/lib/regress_rpc.ts";

export const REGRESS_RPC = `/* tests data packing and unpacking */

struct msg {
\tstring from_name = 1;
\tstring to_name = 2;
\toptional struct[kill] attack = 3;
\tarray struct[run] run = 4;
}

struct kill {
\tstring weapon = 0x10121;
\tstring action = 2;

\tarray int how_often = 3;
}

struct run {
\tstring how = 1;
\toptional bytes some_bytes = 2;

\tbytes fixed_bytes[24] = 3;
\tarray string notes = 4;

\toptional int64 large_number = 5;
\tarray int other_numbers = 6;
}
`;

function syntaxError(source: string): string {
  try {
    compileRpc(source);
  } catch (err) {
    if (err instanceof RpcError && err.code === "ERR_RPCGEN_SYNTAX") return err.message;
    throw err;
  }
  return "no error";
}

test("regress.rpc compiles unchanged into msg, kill and run, which encode as the declared schemas", () => {
  const structs = compileRpc(REGRESS_RPC);
  assert.deepEqual([...structs.keys()], ["msg", "kill", "run"]);
  const compiled = structs.get("msg")! as RpcStruct;
  const value = {
    from_name: "niels",
    to_name: "tester",
    attack: { weapon: "dagger", action: "wave", how_often: [1, 2] },
    run: [{ how: "x", fixed_bytes: new Uint8Array(24), notes: ["a"], large_number: 5n, other_numbers: [9] }],
  };
  const bytes = compiled.encode(value);
  assert.deepEqual(bytes, msg.encode(value));
  assert.deepEqual(compiled.decode(bytes), msg.decode(bytes));
  const kill = structs.get("kill")!;
  assert.equal(kill.fields.weapon.tag, 0x10121);
  assert.equal(kill.fields.how_often.mode, "array");
  assert.equal(structs.get("run")!.fields.fixed_bytes.length, 24);
});

test("comments, // lines, directives and #define lengths are read as event_rpcgen.py reads them", () => {
  const structs = compileRpc(`
    #include "something.h"
    #define LEN 8
    #ifdef X
    #endif
    // a line comment
    struct a { /* one */ int x = 1; // the first
      /* a comment
         over lines */ bytes key[LEN] = 0x2;
      optional   int64   big=3;
    };
    struct b{array string s=1;}
  `);
  const a = structs.get("a")!;
  assert.deepEqual(Object.keys(a.fields), ["x", "key", "big"]);
  assert.equal(a.fields.key.length, 8);
  assert.equal(a.fields.big.mode, "optional");
  assert.equal(structs.get("b")!.fields.s.mode, "array");
});

test("errors name their line: bad types, missing = or ;, duplicates, unknown structures, bad modifiers", () => {
  assert.match(syntaxError("struct a {\n  float x = 1;\n}"), /^line 2: bad type: "float"/);
  assert.match(syntaxError("struct a {\n  int x 1;\n}"), /^line 2: expected "=" after name "x"/);
  assert.match(syntaxError("struct a {\n  int x = 1\n}"), /^line 3: expected ";" after entry "x"/);
  assert.match(
    syntaxError("struct a {\n int x = 1;\n int y = 1;\n}"),
    /^line 3: entry "y" duplicates tag number 1 from "x"/,
  );
  assert.match(syntaxError("struct a {\n int x = 1;\n string x = 2;\n}"), /^line 3: struct a has two fields named x/);
  assert.match(
    syntaxError("struct a {\n struct[b] x = 1;\n}"),
    /^line 2: entry "x" refers to struct b, which is not defined/,
  );
  assert.match(syntaxError("struct a {\n optional array int x = 1;\n}"), /illegal combination of optional and array/);
  assert.match(syntaxError("struct a {\n array bytes x = 1;\n}"), /cannot be created as an array/);
  assert.match(syntaxError("struct a {\n int x[4] = 1;\n}"), /only bytes fields have a length/);
  assert.match(syntaxError("struct a {\n int x = 0x100000000;\n}"), /does not fit in 32 bits/);
  assert.match(syntaxError("struct a { int x = 1; }\nstruct a { int y = 1; }"), /^line 2: struct a is defined twice/);
  assert.match(syntaxError("struct a {\n int x = 1;"), /the file ends where/);
  assert.match(syntaxError("/* never closed\nstruct a {}"), /^line 1: a \/\* comment is not closed/);
  assert.match(syntaxError("int x = 1;"), /^line 1: expected a struct definition, found "int"/);
  assert.match(syntaxError("#pragma once\n"), /^line 1: a directive other than/);
  assert.match(syntaxError("struct a {\n int x = 1; @\n}"), /^line 2: unexpected character "@"/);
  assert.throws(() => compileRpc(5 as unknown as string), TypeError);
});

test("rpcToTypeScript writes a module with explicit types for each structure", () => {
  const ts = rpcToTypeScript(REGRESS_RPC, { importFrom: "./mod.ts", sourceName: "regress.rpc" });
  assert.match(ts, /^\/\/ Generated by levent's rpcgen from regress\.rpc\. Do not edit\.\n/);
  assert.match(ts, /import \{ RpcField, type RpcInput, RpcStruct, type RpcValue \} from "\.\/mod\.ts";/);
  assert.ok(ts.includes('export type MsgFields = {\n  readonly from_name: RpcField<"string", "required">;'));
  assert.match(ts, /readonly attack: RpcField<"struct", "optional", RpcStruct<KillFields>>;/);
  assert.match(ts, /export type Msg = RpcValue<MsgFields>;/);
  assert.match(ts, /export const msg: RpcStruct<MsgFields> = new RpcStruct\("msg", \{/);
  assert.match(ts, / {2}attack: RpcField\.struct\(3, \(\) => kill\)\.optional\(\),/);
  assert.match(ts, / {2}weapon: RpcField\.string\(0x10121\),/);
  assert.match(ts, / {2}fixed_bytes: RpcField\.fixedBytes\(3, 24\),/);
  assert.match(rpcToTypeScript("struct class { int x = 1; }"), /export const class_: RpcStruct<ClassFields>/);
});

// Deno and Bun import TypeScript as it is; the generated module is then loaded and used.
const runsTs = "Deno" in globalThis || "Bun" in globalThis;

test("the generated module loads and its structures encode as compileRpc's", { skip: !runsTs }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "levent-rpcgen-"));
  try {
    const mod = new URL("../../src/rpc/mod.ts", import.meta.url).href;
    const file = join(dir, "regress_rpc.ts");
    writeFileSync(file, rpcToTypeScript(REGRESS_RPC, { importFrom: mod }));
    const generated = await import(pathToFileURL(file).href) as Record<string, RpcStruct>;
    const value = { from_name: "a", to_name: "b", attack: { weapon: "w", action: "x" } };
    assert.deepEqual(generated.msg.encode(value), msg.encode(value));
    assert.deepEqual(generated.msg.decode(msg.encode(value)), msg.decode(msg.encode(value)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
