/**
 * Schemas: the full regress schema (libevent's test/regress.rpc) round
 * trips with nested, optional and array fields; its bytes are those of the
 * generated C code; decoding refuses what the generated code refuses, and
 * encoding names the field it refuses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import { RpcError, RpcField, type RpcInput, RpcStruct, type RpcValue } from "../../src/rpc/mod.ts";
import { kill, msg, run } from "../../examples/lib/regress_rpc.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text.split(" ").filter((t) => t !== ""), (t) => parseInt(t, 16));
}

function rpcCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RpcError) return err.code;
    throw err;
  }
  return "no error";
}

const FULL: RpcInput<typeof msg.fields> = {
  from_name: "niels",
  to_name: "tester",
  attack: { weapon: "dagger", action: "wave around like an idiot", how_often: [3, 0, 0xffffffff] },
  run: [
    {
      how: "very fast",
      some_bytes: new Uint8Array([0, 1, 2, 255]),
      fixed_bytes: new Uint8Array(24).map((_, i) => i * 7),
      notes: ["first", "", "ünïcødé ✓ 😀"],
      large_number: 0xfedcba9876543210n,
      other_numbers: [1, 2, 3],
    },
    { how: "slow", fixed_bytes: new Uint8Array(24) },
  ],
};

test("the regress msg round trips with nested, optional and array fields", () => {
  const back = msg.decode(msg.encode(FULL));
  assert.deepEqual(back, {
    ...FULL,
    run: [FULL.run![0], { how: "slow", fixed_bytes: new Uint8Array(24), notes: [], other_numbers: [] }],
  });
  const typed: RpcValue<typeof msg.fields> = back;
  assert.equal(typed.run[0].large_number, 0xfedcba9876543210n);
  assert.equal(typed.attack?.how_often[2], 0xffffffff);
});

test("fields go out in declared order, optional ones only when set, an array as one record per element", () => {
  const bytes = msg.encode({
    from_name: "a",
    to_name: "b",
    run: [{ how: "x", fixed_bytes: new Uint8Array(24), notes: ["n1", "n2"] }, {
      how: "y",
      fixed_bytes: new Uint8Array(24),
    }],
  });
  // 24 is two nibbles, so its length is two bytes: 18 10; a 38-byte run is 16 20, a 30-byte one 1e 10.
  const runOne = "01 01 78 03 18 10 " + "00 ".repeat(24) + "04 02 6e 31 04 02 6e 32";
  const runTwo = "01 01 79 03 18 10 " + "00 ".repeat(24);
  const expected = `01 01 61 02 01 62 04 16 20 ${runOne} 04 1e 10 ${runTwo}`;
  assert.equal(hex(bytes), hex(bytesOf(expected)));
});

test("a nested structure is one record: tag, length, then its records (kill's weapon tag 0x10121 is a1 82 04)", () => {
  const bytes = msg.encode({ from_name: "", to_name: "", attack: { weapon: "w", action: "a", how_often: [0x1234] } });
  assert.equal(hex(bytes), "01 00 02 00 03 0d a1 82 04 01 77 02 01 61 03 03 34 32 10");
  assert.deepEqual(msg.decode(bytes).attack, { weapon: "w", action: "a", how_often: [0x1234] });
});

test("long strings and nested structures get multi-byte lengths", () => {
  const long = "x".repeat(5000);
  const back = msg.decode(
    msg.encode({ from_name: long, to_name: "é".repeat(300), attack: { weapon: long, action: "" } }),
  );
  assert.equal(back.from_name, long);
  assert.equal(back.to_name, "é".repeat(300));
  assert.equal(back.attack?.weapon, long);
});

test("decoding refuses an unknown tag, a repeated field that is not an array, a missing required field", () => {
  assert.equal(rpcCode(() => msg.decode(bytesOf("01 01 61 02 01 62 09 00"))), "ERR_RPC_UNKNOWN_TAG");
  assert.equal(rpcCode(() => msg.decode(bytesOf("01 01 61 01 01 61 02 01 62"))), "ERR_RPC_DUPLICATE_FIELD");
  assert.equal(rpcCode(() => msg.decode(bytesOf("01 01 61"))), "ERR_RPC_MISSING_FIELD");
  assert.equal(rpcCode(() => msg.decode(new Uint8Array(0))), "ERR_RPC_MISSING_FIELD");
  // A nested kill without its action.
  assert.equal(rpcCode(() => msg.decode(bytesOf("01 01 61 02 01 62 03 05 a1 82 04 01 77"))), "ERR_RPC_MISSING_FIELD");
  assert.throws(() => msg.decode(bytesOf("01 01 61")), /struct msg: the required field to_name is missing/);
});

test("decoding refuses fixed bytes of another length and malformed or cut records", () => {
  const shortFixed = "01 01 61 02 01 62 04 08 01 01 78 03 03 00 00 00";
  assert.equal(rpcCode(() => msg.decode(bytesOf(shortFixed))), "ERR_RPC_FIELD_LENGTH");
  assert.equal(rpcCode(() => msg.decode(bytesOf("01 05 61"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => msg.decode(bytesOf("01"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => msg.decode(bytesOf("81"))), "ERR_RPC_MALFORMED");
  // A nested record longer than the record around it.
  assert.equal(rpcCode(() => msg.decode(bytesOf("01 00 02 00 03 02 01 05 61 61 61 61 61"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => kill.decode(bytesOf("a1 82 04 00 02 00 03 01 90"))), "ERR_RPC_MALFORMED");
});

test("random bytes never throw anything but an RpcError", () => {
  let seed = 17;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const good = msg.encode(FULL);
  for (let i = 0; i < 2000; i++) {
    const bytes = good.slice(0, rnd(good.length + 1));
    for (let k = rnd(4); k > 0; k--) if (bytes.length > 0) bytes[rnd(bytes.length)] = rnd(256);
    try {
      msg.decode(bytes);
    } catch (err) {
      assert.ok(err instanceof RpcError, String(err));
    }
  }
});

test("encoding names the field it refuses: TypeError for a wrong type, RangeError out of range", () => {
  const bad = (value: unknown): unknown => () => msg.encode(value as RpcInput<typeof msg.fields>);
  assert.throws(bad({ to_name: "b" }) as () => void, /^TypeError: msg\.from_name must be a string, got undefined$/);
  assert.throws(
    bad({ from_name: "a", to_name: "b", run: [{ how: 5, fixed_bytes: new Uint8Array(24) }] }) as () => void,
    /msg\.run\[0\]\.how must be a string, got 5/,
  );
  assert.throws(
    bad({ from_name: "a", to_name: "b", run: [{ how: "x", fixed_bytes: new Uint8Array(3) }] }) as () => void,
    (e: unknown) =>
      e instanceof RangeError &&
      /msg\.run\[0\]\.fixed_bytes must be a Uint8Array of 24 bytes, got 3 bytes/.test(e.message),
  );
  assert.throws(
    bad({ from_name: "a", to_name: "b", attack: { weapon: "w", action: "a", how_often: [-1] } }) as () => void,
    (e: unknown) =>
      e instanceof RangeError && /msg\.attack\.how_often\[0\] must be an integer in 0\.\.2\^32-1/.test(e.message),
  );
  assert.throws(bad({ from_name: "a", to_name: "b", run: "x" }) as () => void, /msg\.run must be an array/);
  assert.throws(bad(null) as () => void, /msg must be an object, got null/);
  const big = { how: "x", fixed_bytes: new Uint8Array(24), large_number: 1n << 64n };
  assert.throws(() => run.encode(big), RangeError);
});

test("isComplete says whether a value has every required field of the right type (NAME_complete)", () => {
  assert.equal(kill.isComplete({ weapon: "w", action: "a" }), true);
  assert.equal(kill.isComplete({ weapon: "w" }), false);
  assert.equal(msg.isComplete({ from_name: "a", to_name: "b", attack: { weapon: "w" } }), false);
  assert.equal(msg.isComplete("no"), false);
});

test("marshal and unmarshal work on EvBuffers; unmarshalTagged checks the tag and drains only on success", () => {
  const buf = new EvBuffer();
  kill.marshal(buf, { weapon: "w", action: "a" });
  assert.deepEqual(kill.unmarshal(buf), { weapon: "w", action: "a", how_often: [] });
  assert.equal(buf.length, 0);
  kill.marshalTagged(buf, 7, { weapon: "w", action: "a" });
  assert.equal(hex(buf.pullup()), "07 08 a1 82 04 01 77 02 01 61");
  assert.equal(rpcCode(() => kill.unmarshalTagged(buf, 8)), "ERR_RPC_TAG_MISMATCH");
  assert.equal(buf.length, 10);
  assert.deepEqual(kill.unmarshalTagged(buf, 7), { weapon: "w", action: "a", how_often: [] });
  assert.equal(buf.length, 0);
  buf.add(bytesOf("a1 82 04 01 77"));
  assert.equal(rpcCode(() => kill.unmarshal(buf)), "ERR_RPC_MISSING_FIELD");
  assert.equal(buf.length, 5, "nothing drained on an error");
});

test("schema declarations are checked: duplicate tags, optional arrays, arrays of bytes, bad tags", () => {
  assert.throws(() => new RpcStruct("x", { a: RpcField.int(1), b: RpcField.string(1) }), /tags must differ/);
  assert.throws(() => RpcField.int(1).array().optional(), TypeError);
  assert.throws(() => RpcField.int(1).optional().array(), TypeError);
  assert.throws(() => RpcField.bytes(1).array(), /cannot be an array/);
  assert.throws(() => RpcField.int(-1), RangeError);
  assert.throws(() => RpcField.fixedBytes(1, 0), RangeError);
  assert.throws(() => new RpcStruct("", {}), TypeError);
  assert.throws(() => new RpcStruct("x", { a: 1 as unknown as RpcField }), /fields\.a must be an RpcField/);
});

test("a structure may refer to itself through a function", () => {
  const Node: RpcStruct = new RpcStruct("node", {
    value: RpcField.int(1),
    children: RpcField.struct(2, () => Node).array(),
  });
  const tree = {
    value: 1,
    children: [{ value: 2, children: [{ value: 3, children: [] }] }, { value: 4, children: [] }],
  };
  assert.deepEqual(Node.decode(Node.encode(tree)), tree);
});
