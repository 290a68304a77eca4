/**
 * The frame reader over an EvBuffer laid out as a test wants it: payload
 * unmasked in place in a segment the buffer allocated (what socket reads
 * are copied into) and handed out as a view, payload spanning segments
 * copied out, bytes added by reference left as their owner gave them, a
 * kept message unchanged by later traffic, a small message not pinning its
 * segment, and unmasking at every alignment and key position.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import { FrameReader, type FrameSink, headroomOf } from "../../src/ws/frame_reader.ts";
import { writeFrame } from "../../src/ws/frame_writer.ts";
import { encodeFrame } from "./ws_helpers.ts";
import { concat, prng } from "../util.ts";

const TEXT = 0x1;
const BINARY = 0x2;
const dec = new TextDecoder();

interface Got {
  readonly text: boolean;
  readonly data: Uint8Array;
}

/** A reader as a server has it, and the messages it delivered. */
function serverReader(): { reader: FrameReader; got: Got[]; sink: FrameSink } {
  const got: Got[] = [];
  const sink: FrameSink = {
    message: (text, data) => got.push({ text, data }),
    ping: () => {},
    pong: () => {},
    close: () => {},
  };
  return { reader: new FrameReader({ maxPayload: 1 << 24, expectMasked: true, inflater: null }), got, sink };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next(256);
  return out;
}

test("a payload in one owned segment is unmasked in place and stays as delivered while later traffic arrives", () => {
  const { reader, got, sink } = serverReader();
  const input = new EvBuffer();
  const first = randomBytes(8000, 1);
  // One addCopy of the whole frame: one segment the buffer allocated.
  input.addCopy(encodeFrame({ opcode: BINARY, payload: first }));
  assert.equal(reader.read(input, sink), null);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].data, first);
  const kept = got[0].data;
  assert.ok(kept.buffer.byteLength > kept.length, "the message is a view of the segment, not a copy");
  // More traffic, through the same buffer, many times over the first message's size.
  for (let i = 0; i < 20; i++) {
    const more = randomBytes(3000 + i * 100, 100 + i);
    input.addCopy(encodeFrame({ opcode: BINARY, payload: more }));
    input.addCopy(encodeFrame({ opcode: TEXT, payload: `message ${i} ` + "x".repeat(i * 37) }));
    assert.equal(reader.read(input, sink), null);
    assert.deepEqual(got[got.length - 2].data, more);
    assert.equal(dec.decode(got[got.length - 1].data), `message ${i} ` + "x".repeat(i * 37));
  }
  assert.equal(input.length, 0);
  assert.deepEqual(kept, first, "the kept message was not overwritten");
});

test("a payload spanning segments is copied out whole; bytes added by reference are left as they were", () => {
  const { reader, got, sink } = serverReader();
  const input = new EvBuffer();
  const payload = randomBytes(10000, 2);
  const frame = encodeFrame({ opcode: BINARY, payload });
  // 4096 bytes fill a segment of their own, so the rest lands in another.
  input.addCopy(frame.subarray(0, 4096));
  input.addCopy(frame.subarray(4096));
  assert.equal(reader.read(input, sink), null);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].data, payload);
  // By reference (add keeps arrays of 256 bytes or more): the caller's frame must not be unmasked.
  const text = "é".repeat(700);
  const byRef = encodeFrame({ opcode: TEXT, payload: text });
  const binRef = encodeFrame({ opcode: BINARY, payload });
  const before = [byRef.slice(), binRef.slice()];
  input.add(byRef);
  input.add(binRef);
  assert.equal(reader.read(input, sink), null);
  assert.equal(got.length, 3);
  assert.equal(dec.decode(got[1].data), text);
  assert.deepEqual(got[2].data, payload);
  assert.deepEqual([byRef, binRef], before, "frames added by reference are unchanged");
});

test("a small binary message does not pin the segment it came in; text split over fragments and segments", () => {
  const { reader, got, sink } = serverReader();
  const input = new EvBuffer();
  const small = randomBytes(40, 3);
  const big = randomBytes(60000, 4);
  const bytes = new Uint8Array(70000);
  let at = 0;
  for (const f of [encodeFrame({ opcode: BINARY, payload: small }), encodeFrame({ opcode: BINARY, payload: big })]) {
    bytes.set(f, at);
    at += f.length;
  }
  input.addCopy(bytes.subarray(0, at));
  assert.equal(reader.read(input, sink), null);
  assert.deepEqual(got[0].data, small);
  assert.equal(got[0].data.buffer.byteLength, 40, "a small message is its own copy");
  assert.deepEqual(got[1].data, big);
  // A text message in three fragments, its frames cut across addCopy calls at odd places.
  const text = "añb€c😀".repeat(200);
  const utf8 = new TextEncoder().encode(text);
  const cuts = [0, 333, 334 + 250, utf8.length];
  const frames = [
    encodeFrame({ opcode: TEXT, fin: false, payload: utf8.subarray(cuts[0], cuts[1]) }),
    encodeFrame({ opcode: 0, fin: false, payload: utf8.subarray(cuts[1], cuts[2]) }),
    encodeFrame({ opcode: 0, fin: true, payload: utf8.subarray(cuts[2], cuts[3]) }),
  ];
  const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  at = 0;
  for (const f of frames) {
    wire.set(f, at);
    at += f.length;
  }
  for (let i = 0; i < wire.length; i += 517) {
    input.addCopy(wire.subarray(i, Math.min(i + 517, wire.length)));
    assert.equal(reader.read(input, sink), null);
  }
  assert.equal(got.length, 3);
  assert.equal(got[2].text, true);
  assert.equal(dec.decode(got[2].data), text);
});

test("unmasking in place is right at every alignment, key position and length", () => {
  for (const size of [0, 1, 3, 63, 64, 65, 127, 1000, 4099]) {
    for (let shift = 0; shift < 8; shift++) {
      const { reader, got, sink } = serverReader();
      const input = new EvBuffer();
      const payload = randomBytes(size, size * 8 + shift);
      const frame = encodeFrame({ opcode: BINARY, payload });
      // `shift` bytes of a drained prefix move the frame's place in the segment.
      const bytes = new Uint8Array(shift + frame.length);
      bytes.set(frame, shift);
      input.addCopy(bytes);
      input.drain(shift);
      assert.equal(reader.read(input, sink), null);
      assert.equal(got.length, 1, `size ${size} shift ${shift}`);
      assert.deepEqual(got[0].data, payload, `size ${size} shift ${shift}`);
    }
  }
});

test("short text read in one step: ASCII, other UTF-8, and invalid UTF-8 failing with 1007", () => {
  for (const text of ["", "a", "hello, world", "x".repeat(63), "añb€c😀", "é".repeat(31)]) {
    const { reader, got, sink } = serverReader();
    const input = new EvBuffer();
    input.addCopy(encodeFrame({ opcode: TEXT, payload: text }));
    assert.equal(reader.read(input, sink), null, JSON.stringify(text));
    assert.equal(got.length, 1);
    assert.equal(got[0].text, true);
    assert.equal(dec.decode(got[0].data), text);
  }
  for (const bad of [[0xff], [0x61, 0x62, 0x63, 0xc0, 0x80], [0x61, 0xe2, 0x82], [0xed, 0xa0, 0x80, 0x61]]) {
    const { reader, got, sink } = serverReader();
    const input = new EvBuffer();
    input.addCopy(encodeFrame({ opcode: TEXT, payload: Uint8Array.from(bad) }));
    assert.equal(reader.read(input, sink)?.code, 1007, `bytes ${bad}`);
    assert.equal(got.length, 0);
  }
});

test("a large payload spanning two or three segments at any alignment is unmasked as it is copied", () => {
  for (const first of [4096, 5001, 5002, 5003]) {
    for (const second of [4096, 4097, 6000]) {
      for (let shift = 0; shift < 4; shift++) {
        const { reader, got, sink } = serverReader();
        const input = new EvBuffer();
        const payload = randomBytes(12000, first + second + shift);
        const frame = encodeFrame({ opcode: BINARY, payload });
        const bytes = new Uint8Array(shift + frame.length);
        bytes.set(frame, shift);
        // Each piece is larger than the room its predecessor's segment has left: one segment each.
        input.addCopy(bytes.subarray(0, first));
        input.drain(shift);
        input.addCopy(bytes.subarray(first, first + second));
        input.addCopy(bytes.subarray(first + second));
        assert.equal(reader.read(input, sink), null);
        assert.equal(got.length, 1, `first ${first} second ${second} shift ${shift}`);
        assert.deepEqual(got[0].data, payload, `first ${first} second ${second} shift ${shift}`);
      }
    }
  }
});

test("a large binary message sent on leaves as one piece, its header in the bytes before it, and right every time", () => {
  const expected = (payload: Uint8Array): Uint8Array => encodeFrame({ opcode: BINARY, payload, mask: false });
  for (const [size, split] of [[3000, false], [70000, false], [6000, true], [70000, true]] as const) {
    const { reader, got, sink } = serverReader();
    const input = new EvBuffer();
    const payload = randomBytes(size, size + (split ? 1 : 0));
    const frame = encodeFrame({ opcode: BINARY, payload });
    if (split) {
      // A first piece that fills its segment exactly, so the rest lands in another.
      input.addCopy(frame.subarray(0, 4096));
      input.addCopy(frame.subarray(4096));
    } else {
      input.addCopy(frame);
    }
    assert.equal(reader.read(input, sink), null);
    const message = got[0].data;
    assert.deepEqual(message, payload);
    assert.ok(headroomOf(message) > 0, `size ${size} split ${split}: the message has headroom`);
    // Split: copied out (its own memory); whole: a view of the input segment.
    assert.equal(message.buffer.byteLength < size + 32, split);
    const out = new EvBuffer();
    writeFrame(out, BINARY, message, false, false);
    assert.equal(out.contiguousSpace(), out.length, "header and payload in one segment");
    // Sent again (to another connection, say), and once more through a second buffer: the same bytes.
    writeFrame(out, BINARY, message, false, false);
    const other = new EvBuffer();
    writeFrame(other, BINARY, message, false, false);
    const want = expected(payload);
    assert.deepEqual(out.pullup(), concat([want, want]));
    assert.deepEqual(other.pullup(), want);
    assert.deepEqual(message, payload, "the message itself is unchanged");
    // A copy has no headroom and goes out as header and payload as before.
    const copy = message.slice();
    assert.equal(headroomOf(copy), 0);
    const third = new EvBuffer();
    writeFrame(third, BINARY, copy, false, false);
    assert.deepEqual(third.pullup(), want);
  }
});
