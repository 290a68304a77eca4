/**
 * The evtag codec (tag.h): every byte example of issue 17 as a test vector,
 * both ways, and the malformed inputs each decoder refuses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import {
  evtagConsume,
  evtagDecodeInt,
  evtagDecodeInt64,
  evtagDecodeTag,
  evtagEncodeInt,
  evtagEncodeInt64,
  evtagEncodeTag,
  evtagMarshal,
  evtagMarshalBuffer,
  evtagMarshalInt,
  evtagMarshalInt64,
  evtagMarshalString,
  evtagMarshalTimeval,
  evtagPayloadLength,
  evtagPeek,
  evtagPeekLength,
  evtagUnmarshal,
  evtagUnmarshalBytes,
  evtagUnmarshalFixed,
  evtagUnmarshalHeader,
  evtagUnmarshalInt,
  evtagUnmarshalInt64,
  evtagUnmarshalString,
  evtagUnmarshalTimeval,
  RpcError,
} from "../../src/rpc/mod.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text.split(" ").filter((t) => t !== ""), (t) => parseInt(t, 16));
}

function bufferOf(text: string): EvBuffer {
  const buf = new EvBuffer();
  buf.add(bytesOf(text));
  return buf;
}

function written(fill: (buf: EvBuffer) => void): string {
  const buf = new EvBuffer();
  fill(buf);
  return hex(buf.pullup());
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

const TAGS: [number, string][] = [
  [0, "00"],
  [0x7f, "7f"],
  [0x80, "80 01"],
  [0x166, "e6 02"],
  [0x4000, "80 80 01"],
  [0x10121, "a1 82 04"],
  [0xffffffff, "ff ff ff ff 0f"],
];

test("tags are little-endian groups of 7 bits with the high bit on every byte but the last", () => {
  for (const [tag, bytes] of TAGS) {
    assert.equal(written((b) => evtagEncodeTag(b, tag)), bytes, `tag 0x${tag.toString(16)}`);
    const buf = bufferOf(bytes);
    assert.equal(evtagDecodeTag(buf), tag);
    assert.equal(buf.length, 0);
  }
  assert.equal(evtagEncodeTag(null, 0x4000), 3);
});

test("a tag decoder takes at most 5 bytes, the fifth group at most 15, and needs a last byte", () => {
  assert.equal(rpcCode(() => evtagDecodeTag(bufferOf("ff ff ff ff 10"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagDecodeTag(bufferOf("80 80 80 80 80 01"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagDecodeTag(bufferOf("80 80"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagDecodeTag(new EvBuffer())), "ERR_RPC_MALFORMED");
  const buf = bufferOf("80 80");
  assert.throws(() => evtagDecodeTag(buf), /a tag is cut short/);
  assert.equal(buf.length, 2, "nothing drained on an error");
});

const INTS: [number, string][] = [
  [0, "00"],
  [5, "05"],
  [0x10, "10 10"],
  [0xff, "1f f0"],
  [0x100, "20 01"],
  [0x1234, "34 32 10"],
  [0x12345678, "78 76 54 32 10"],
  [0xffffffff, "7f ff ff ff f0"],
];

test("integers: nibble count less one, then the nibbles least significant first, in floor(k/2)+1 bytes", () => {
  for (const [n, bytes] of INTS) {
    assert.equal(written((b) => evtagEncodeInt(b, n)), bytes, `0x${n.toString(16)}`);
    const buf = bufferOf(bytes);
    assert.equal(evtagDecodeInt(buf), n);
    assert.equal(buf.length, 0);
  }
});

test("int64: u64 0x123456789abcdef0 is f0 fe dc ba 98 76 54 32 10, and round trips at the edges", () => {
  assert.equal(written((b) => evtagEncodeInt64(b, 0x123456789abcdef0n)), "f0 fe dc ba 98 76 54 32 10");
  for (const n of [0n, 1n, 0xffffffffn, 0x100000000n, 1n << 63n, (1n << 64n) - 1n]) {
    const buf = new EvBuffer();
    evtagEncodeInt64(buf, n);
    assert.equal(evtagDecodeInt64(buf), n);
  }
  assert.equal(written((b) => evtagEncodeInt64(b, 0x1234)), "34 32 10", "a safe integer is taken too");
});

test("integer decoders refuse more than 8 nibbles (16 for int64) and short input", () => {
  assert.equal(rpcCode(() => evtagDecodeInt(bufferOf("80 00 00 00 00 00"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagDecodeInt(bufferOf("34 32"))), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagDecodeInt(new EvBuffer())), "ERR_RPC_MALFORMED");
  assert.equal(evtagDecodeInt64(bufferOf("80 00 00 00 01")), 1n << 32n, "9 nibbles are fine for int64");
  assert.equal(rpcCode(() => evtagDecodeInt64(bufferOf("f0 fe dc ba 98 76 54 32"))), "ERR_RPC_MALFORMED");
});

test('marshal_int(3, 0x1234), marshal_string(2, "hi") and marshal_timeval(1, {5 s, 256 us}) give the issue\'s bytes', () => {
  assert.equal(written((b) => evtagMarshalInt(b, 3, 0x1234)), "03 03 34 32 10");
  assert.equal(written((b) => evtagMarshalString(b, 2, "hi")), "02 02 68 69");
  assert.equal(written((b) => evtagMarshalTimeval(b, 1, { sec: 5, usec: 256 })), "01 03 05 20 01");
  assert.equal(written((b) => evtagMarshalInt64(b, 5, 0x123456789abcdef0n)), "05 09 f0 fe dc ba 98 76 54 32 10");
  assert.equal(written((b) => evtagMarshal(b, 0x80, new Uint8Array([1, 2]))), "80 01 02 01 02");
});

test("a nested structure is its tag, its length, then the inner structure's records", () => {
  const inner = new EvBuffer();
  evtagMarshalString(inner, 1, "hi");
  evtagMarshalInt(inner, 2, 7);
  assert.equal(written((b) => evtagMarshalBuffer(b, 3, inner)), "03 07 01 02 68 69 02 01 07");
  assert.equal(inner.length, 0, "the inner buffer is emptied into the record");
});

test("each unmarshal reads its record and drains it; the readers see through several segments", () => {
  const buf = new EvBuffer();
  evtagMarshalInt(buf, 3, 0x1234);
  evtagMarshalInt64(buf, 5, 1n << 40n);
  evtagMarshalString(buf, 2, "héllo");
  evtagMarshalTimeval(buf, 1, { sec: 5, usec: 256 });
  evtagMarshal(buf, 9, new Uint8Array(24).fill(7));
  evtagMarshal(buf, 10, new Uint8Array([1, 2, 3]));
  assert.equal(evtagUnmarshalInt(buf, 3), 0x1234);
  assert.equal(evtagUnmarshalInt64(buf, 5), 1n << 40n);
  assert.equal(evtagUnmarshalString(buf, 2), "héllo");
  assert.deepEqual(evtagUnmarshalTimeval(buf, 1), { sec: 5, usec: 256 });
  assert.deepEqual(evtagUnmarshalFixed(buf, 9, 24), new Uint8Array(24).fill(7));
  assert.deepEqual(evtagUnmarshalBytes(buf, 10), new Uint8Array([1, 2, 3]));
  assert.equal(buf.length, 0);
});

test("peek, peekLength and payloadLength look without draining; unmarshalHeader, unmarshal and consume drain", () => {
  const buf = new EvBuffer();
  evtagMarshalString(buf, 0x166, "hello");
  evtagMarshalInt(buf, 4, 1);
  assert.equal(evtagPeek(buf), 0x166);
  assert.equal(evtagPeekLength(buf), 8);
  assert.equal(evtagPayloadLength(buf), 5);
  assert.equal(buf.length, 11);
  const dst = new EvBuffer();
  assert.deepEqual(evtagUnmarshal(buf, dst), { tag: 0x166, length: 5 });
  assert.equal(new TextDecoder().decode(dst.pullup()), "hello");
  assert.deepEqual(evtagUnmarshalHeader(buf), { tag: 4, length: 1 });
  assert.equal(buf.length, 1);
  const again = new EvBuffer();
  evtagMarshalInt(again, 1, 10);
  evtagMarshalInt(again, 2, 20);
  evtagConsume(again);
  assert.equal(evtagPeek(again), 2);
});

test("peekLength and payloadLength work before the payload arrives; reading it does not", () => {
  const buf = bufferOf("02 05 68");
  assert.equal(evtagPeekLength(buf), 7);
  assert.equal(evtagPayloadLength(buf), 5);
  assert.equal(rpcCode(() => evtagUnmarshalString(buf, 2)), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagConsume(buf)), "ERR_RPC_MALFORMED");
  assert.equal(buf.length, 3, "nothing drained");
});

test("unmarshal of another tag is ERR_RPC_TAG_MISMATCH and leaves the buffer alone", () => {
  const buf = bufferOf("03 03 34 32 10");
  assert.equal(rpcCode(() => evtagUnmarshalInt(buf, 4)), "ERR_RPC_TAG_MISMATCH");
  assert.equal(rpcCode(() => evtagUnmarshalString(buf, 1)), "ERR_RPC_TAG_MISMATCH");
  assert.equal(buf.length, 5);
  assert.equal(evtagUnmarshalInt(buf, 3), 0x1234);
});

test("fixed bytes of another length are ERR_RPC_FIELD_LENGTH; an int longer than its record is malformed", () => {
  assert.equal(rpcCode(() => evtagUnmarshalFixed(bufferOf("03 02 01 02"), 3, 3)), "ERR_RPC_FIELD_LENGTH");
  assert.equal(rpcCode(() => evtagUnmarshalInt(bufferOf("03 01 34 32 10"), 3)), "ERR_RPC_MALFORMED");
  assert.equal(rpcCode(() => evtagUnmarshalTimeval(bufferOf("01 02 05 20 01"), 1)), "ERR_RPC_MALFORMED");
  // As libevent's decode_int_internal: bytes after the integer inside its record are skipped.
  assert.equal(evtagUnmarshalInt(bufferOf("03 02 07 00"), 3), 7);
});

test("bad arguments are TypeErrors and RangeErrors naming them", () => {
  const buf = new EvBuffer();
  assert.throws(
    () => evtagEncodeTag(buf, -1),
    (e: unknown) => e instanceof RangeError && /^tag must be/.test(e.message),
  );
  assert.throws(() => evtagEncodeTag(buf, 2 ** 32), RangeError);
  assert.throws(() => evtagEncodeInt(buf, 1.5), RangeError);
  assert.throws(() => evtagEncodeInt(buf, "1" as unknown as number), TypeError);
  assert.throws(() => evtagEncodeInt64(buf, -1n), /n must be in 0\.\.2\^64-1/);
  assert.throws(() => evtagEncodeInt64(buf, 1n << 64n), RangeError);
  assert.throws(() => evtagMarshalString(buf, 1, 5 as unknown as string), /s must be a string, got 5/);
  assert.throws(() => evtagMarshalTimeval(buf, 1, { sec: -1, usec: 0 }), /tv\.sec must be/);
  assert.throws(() => evtagDecodeInt({} as EvBuffer), /buf must be an EvBuffer, got an object/);
});
