import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BufferError,
  EvBuffer,
  type EvBufferCbInfo,
  type EvBufferEolStyle,
  EvBufferPtr,
  type FileHandle,
  type FileInfo,
} from "../../src/buffer/mod.ts";

const STYLES: EvBufferEolStyle[] = ["any", "crlf", "crlf_strict", "lf", "nul"];

function enc(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function dec(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** A buffer with one segment per part (addReference never copies or coalesces). */
function chain(...parts: string[]): EvBuffer {
  const buf = new EvBuffer();
  for (const part of parts) buf.addReference(enc(part));
  return buf;
}

/** The whole content as text, without draining. */
function contents(buf: EvBuffer): string {
  const out = new Uint8Array(buf.length);
  buf.copyout(out);
  return dec(out);
}

/** Segment lengths, as peek sees them. */
function layout(buf: EvBuffer): number[] {
  return buf.peek().map((v) => v.length);
}

/** Every line readLine gives until it returns null. */
function allLines(buf: EvBuffer, style: EvBufferEolStyle): string[] {
  const lines: string[] = [];
  for (let line = buf.readLineString(style); line !== null; line = buf.readLineString(style)) lines.push(line);
  return lines;
}

function frozen(err: unknown): boolean {
  return err instanceof BufferError && err.code === "ERR_FROZEN" && err.name === "BufferError";
}

function notLoaded(err: unknown): boolean {
  return err instanceof BufferError && err.code === "ERR_FILE_NOT_LOADED";
}

/** Records callback calls as [origSize, added, deleted]. */
function recorder(buf: EvBuffer): number[][] {
  const calls: number[][] = [];
  buf.addCb((b, info: EvBufferCbInfo) => {
    assert.equal(b, buf);
    calls.push([info.origSize, info.added, info.deleted]);
  });
  return calls;
}

// ------------------------------------------------------------ empty buffer

test("an empty buffer has length 0 and every read gives nothing", () => {
  const buf = new EvBuffer();
  assert.equal(buf.length, 0);
  assert.equal(buf.contiguousSpace(), 0);
  assert.equal(buf.pullup().length, 0);
  assert.equal(buf.pullup(0).length, 0);
  assert.deepEqual(buf.peek(), []);
  for (const style of STYLES) assert.equal(buf.readLine(style), null);
  buf.drain(10);
  assert.equal(buf.remove(new Uint8Array(4)), 0);
  assert.equal(buf.copyout(new Uint8Array(4)), 0);
  assert.equal(buf.copyoutFrom(new EvBufferPtr(0), new Uint8Array(4)), 0);
  assert.equal(buf.search("x").pos, -1);
  assert.equal(buf.searchEol(null, "lf").ptr.pos, -1);
  assert.equal(buf.searchEol(null, "lf").eolLength, 0);
  assert.equal(buf.hasFileSegments, false);
  assert.equal(buf.length, 0);
});

// ------------------------------------------------------------------ adding

test("add keeps bytes of 256 or more by reference, without copying", () => {
  const big = new Uint8Array(300).fill(7);
  const buf = new EvBuffer();
  buf.add(big);
  const [view] = buf.peek();
  assert.equal(view.buffer, big.buffer);
  assert.equal(view.byteOffset, big.byteOffset);
  assert.equal(buf.length, 300);
});

test("small adds are copied and coalesce into one segment", () => {
  const buf = new EvBuffer();
  const part = enc("0123456789");
  for (let i = 0; i < 10; i++) buf.add(part);
  part[0] = 0x58; // the caller may reuse its bytes: they were copied
  assert.deepEqual(layout(buf), [100]);
  assert.equal(contents(buf), "0123456789".repeat(10));
});

test("addCopy copies bytes of any size, so the caller may reuse them, and rejects a non-Uint8Array", () => {
  const buf = new EvBuffer();
  const big = new Uint8Array(3000).fill(7);
  buf.addCopy(big);
  big.fill(9);
  const [view] = buf.peek();
  assert.notEqual(view.buffer, big.buffer);
  buf.addCopy(enc("ab"));
  assert.deepEqual(layout(buf), [3002]);
  assert.equal(buf.length, 3002);
  const out = new Uint8Array(3000);
  assert.equal(buf.remove(out), 3000);
  assert.equal(out.every((b) => b === 7), true);
  assert.equal(contents(buf), "ab");
  assert.throws(
    () => buf.addCopy("ab" as unknown as Uint8Array),
    (e: unknown) => e instanceof TypeError && /bytes/.test(e.message),
  );
});

test("a new buffer's segments start at 1 KiB and double with use to 4 KiB; releaseSpare starts them small again", () => {
  const buf = new EvBuffer();
  const sizes: number[] = [];
  const chunk = new Uint8Array(200);
  for (let i = 0; i < 40; i++) {
    buf.add(chunk);
    const views = buf.peek();
    const size = views[views.length - 1].buffer.byteLength;
    if (sizes[sizes.length - 1] !== size) sizes.push(size);
  }
  assert.deepEqual(sizes, [1024, 2048, 4096]);
  buf.drain(buf.length);
  buf.releaseSpare();
  buf.add(chunk);
  assert.equal(buf.peek()[0].buffer.byteLength, 1024);
  // A write larger than the next small segment gets a segment of its own size class.
  const big = new EvBuffer();
  big.addString("x".repeat(1500));
  assert.equal(big.peek()[0].buffer.byteLength, 8192);
});

test("add of empty bytes changes nothing and calls no callback", () => {
  const buf = new EvBuffer();
  const calls = recorder(buf);
  buf.add(new Uint8Array(0));
  buf.addString("");
  buf.prepend(new Uint8Array(0));
  assert.equal(buf.length, 0);
  assert.deepEqual(calls, []);
});

test("prepend puts bytes in front of the buffer without copying them", () => {
  const buf = new EvBuffer();
  buf.addString("world");
  const hello = enc("hello ");
  buf.prepend(hello);
  assert.equal(contents(buf), "hello world");
  assert.equal(buf.peek()[0].buffer, hello.buffer);
  buf.drain(3);
  buf.prepend(enc(">>"));
  assert.equal(contents(buf), ">>lo world");
});

test("addString encodes UTF-8 and a series of small strings shares one segment", () => {
  const buf = new EvBuffer();
  buf.addString("héllo ");
  buf.addString("wörld ");
  buf.addString("€ 😀");
  assert.equal(contents(buf), "héllo wörld € 😀");
  assert.equal(buf.length, enc("héllo wörld € 😀").length);
  assert.equal(layout(buf).length, 1);
});

test("addString of a long string keeps every byte", () => {
  const buf = new EvBuffer();
  const long = "ab€".repeat(40_000);
  buf.addString("x");
  buf.addString(long);
  assert.equal(buf.length, 1 + enc(long).length);
  assert.equal(contents(buf), "x" + long);
});

test("addString falls back to a new segment when the tail's spare room is too small for the encoded text", () => {
  const buf = new EvBuffer();
  buf.addString("a");
  const room = buf.reserveSpace(1).length;
  buf.commitSpace(0);
  buf.addString("a".repeat(room - 4));
  buf.addString("€€€"); // 3 UTF-16 units fit the 3 spare bytes, 9 UTF-8 bytes do not
  assert.equal(contents(buf), "a".repeat(room - 3) + "€€€");
  assert.equal(layout(buf).length, 2);
});

test("addPrintf formats each conversion with flags, width and precision", () => {
  const cases: [string, unknown[], string][] = [
    ["%s|%5s|%-5s|%.2s", ["abc", "ab", "ab", "xyz"], "abc|   ab|ab   |xy"],
    ["%d %i %5d %-5d| %05d %.3d %d", [42, -7, 42, 42, -42, 7, 3.9], "42 -7    42 42   | -0042 007 3"],
    ["%u %x %X %o %08x", [42, 255, 255, 8, 0xbeef], "42 ff FF 10 0000beef"],
    ["%x %u", [-1, -1], "ffffffffffffffff 18446744073709551615"],
    ["%d %x", [12345678901234567890n, 255n], "12345678901234567890 ff"],
    ["%c%c%c", [72, "i", 0x1f600], "Hi😀"],
    [
      "%f %.2f %8.3f %-8.1f| %08.2f %.0f",
      [1.5, 3.14159, -2.5, 2.25, -1.5, 2.5],
      "1.500000 3.14   -2.500 2.3     | -0001.50 3",
    ],
    ["%f %f %f %5f", [NaN, Infinity, -Infinity, NaN], "nan inf -inf   nan"],
    ["100%% %s", ["done"], "100% done"],
    ["%lu %zu %lld %hd", [1, 2, 3, 4], "1 2 3 4"],
    ["%.0d|%.0x", [0, 0], "|"],
    ["no conversions", [], "no conversions"],
  ];
  for (const [format, args, expected] of cases) {
    const buf = new EvBuffer();
    const n = buf.addPrintf(format, ...args);
    assert.equal(contents(buf), expected, format);
    assert.equal(n, enc(expected).length, format);
  }
});

test("addPrintf rejects a bad format or mismatched arguments with a TypeError naming them", () => {
  const buf = new EvBuffer();
  for (const format of ["%q", "abc %", "%5", "%-.3"]) {
    assert.throws(() => buf.addPrintf(format, 1), (e: unknown) => e instanceof TypeError && /format/.test(e.message));
  }
  assert.throws(() => buf.addPrintf("%s %s", "a"), (e: unknown) => e instanceof TypeError && /format/.test(e.message));
  assert.throws(
    () => buf.addPrintf("%s", "a", "b"),
    (e: unknown) => e instanceof TypeError && /format/.test(e.message),
  );
  assert.throws(() => buf.addPrintf("%d", "7"), (e: unknown) => e instanceof TypeError && /args\[0\]/.test(e.message));
  assert.throws(() => buf.addPrintf("%d", NaN), (e: unknown) => e instanceof TypeError && /args\[0\]/.test(e.message));
  assert.throws(() => buf.addPrintf("%c", -1), (e: unknown) => e instanceof RangeError && /args\[0\]/.test(e.message));
  assert.throws(
    () => buf.addPrintf(5 as unknown as string),
    (e: unknown) => e instanceof TypeError && /format/.test(e.message),
  );
  assert.equal(buf.length, 0);
});

// ---------------------------------------------------------- moving buffers

test("addBuffer moves every segment without copying and leaves the source empty", () => {
  const src = chain("abc", "def");
  const views = src.peek();
  const dst = new EvBuffer();
  dst.addString("123");
  dst.addBuffer(src);
  assert.equal(src.length, 0);
  assert.deepEqual(src.peek(), []);
  assert.equal(contents(dst), "123abcdef");
  const moved = dst.peek();
  assert.equal(moved[1].buffer, views[0].buffer);
  assert.equal(moved[2].buffer, views[1].buffer);
  const empty = new EvBuffer();
  empty.addBuffer(dst);
  assert.equal(contents(empty), "123abcdef");
  assert.equal(dst.length, 0);
});

test("removeBuffer moves up to n bytes, cutting a segment into two views of the same memory", () => {
  const src = chain("hello", "world");
  const dst = new EvBuffer();
  assert.equal(src.removeBuffer(dst, 7), 7);
  assert.equal(contents(dst), "hellowo");
  assert.equal(contents(src), "rld");
  assert.equal(dst.peek()[1].buffer, src.peek()[0].buffer);
  assert.equal(src.removeBuffer(dst, 0), 0);
  assert.equal(src.removeBuffer(dst, 100), 3);
  assert.equal(contents(dst), "helloworld");
  assert.equal(src.length, 0);
  assert.equal(src.removeBuffer(dst, 5), 0);
});

test("addBufferReference shares the other buffer's bytes and leaves it unchanged", () => {
  const other = new EvBuffer();
  other.addString("shared ");
  other.add(new Uint8Array(300).fill(0x41));
  const buf = new EvBuffer();
  buf.addBufferReference(other);
  assert.equal(other.length, 307);
  assert.equal(buf.length, 307);
  assert.equal(buf.peek()[1].buffer, other.peek()[1].buffer);
  buf.drain(10);
  assert.equal(other.length, 307);
  other.addString("more");
  assert.equal(buf.length, 297);
  assert.equal(contents(other).slice(-4), "more");
});

test("a buffer holding a reference never writes into the shared memory", () => {
  const a = new EvBuffer();
  a.addString("abc");
  const b = new EvBuffer();
  b.addBufferReference(a);
  const view = b.reserveSpace(3);
  view.set(enc("XYZ"));
  b.commitSpace(3);
  b.addString("!");
  a.addString("def");
  assert.equal(contents(a), "abcdef");
  assert.equal(contents(b), "abcXYZ!");
});

test("addReference calls its cleanup exactly once, when the last of its bytes is drained", () => {
  const buf = new EvBuffer();
  const data = enc("0123456789");
  const cleaned: Uint8Array[] = [];
  buf.addReference(data, (bytes) => cleaned.push(bytes));
  buf.addString("tail");
  buf.drain(4);
  assert.equal(cleaned.length, 0);
  buf.drain(6);
  assert.deepEqual(cleaned, [data]);
  buf.drain(4);
  assert.equal(cleaned.length, 1);
});

test("addReference with empty bytes cleans up at once, and without a cleanup is fine", () => {
  const buf = new EvBuffer();
  let calls = 0;
  buf.addReference(new Uint8Array(0), () => calls++);
  assert.equal(calls, 1);
  buf.addReference(enc("x"));
  buf.drain(1);
  assert.equal(buf.length, 0);
});

test("a reference cut by removeBuffer is cleaned up once, after both parts are gone", () => {
  const src = new EvBuffer();
  let calls = 0;
  src.addReference(enc("abcdef"), () => calls++);
  const dst = new EvBuffer();
  src.removeBuffer(dst, 2);
  dst.drain(2);
  assert.equal(calls, 0);
  src.readLine("lf");
  src.drain(4);
  assert.equal(calls, 1);
});

test("a reference shared by addBufferReference is cleaned up when both buffers let go", () => {
  const a = new EvBuffer();
  let calls = 0;
  a.addReference(enc("abc"), () => calls++);
  const b = new EvBuffer();
  b.addBufferReference(a);
  a.free();
  assert.equal(calls, 0);
  b.drain(3);
  assert.equal(calls, 1);
});

test("free runs reference cleanups, drops callbacks and leaves an empty buffer that refuses further use", () => {
  const buf = new EvBuffer();
  let cleaned = 0;
  let called = 0;
  buf.addReference(enc("abc"), () => cleaned++);
  buf.addReference(enc("def"), () => cleaned++);
  buf.addCb(() => called++);
  buf.freeze(true);
  buf.freeze(false);
  buf.free();
  assert.equal(cleaned, 2);
  assert.equal(called, 0);
  assert.equal(buf.length, 0);
  assert.throws(() => buf.addString("again"), {
    name: "LeventError",
    code: "ERR_FREED",
    message: "addString: the EvBuffer was freed",
  });
  assert.throws(() => buf.unfreeze(true), { code: "ERR_FREED" });
  assert.equal(called, 0);
  buf.free();
});

test("pullup copying a referenced segment out of the chain runs its cleanup", () => {
  const buf = new EvBuffer();
  let calls = 0;
  buf.addReference(enc("ab"), () => calls++);
  buf.addReference(enc("cd"));
  assert.equal(dec(buf.pullup(3)), "abc");
  assert.equal(calls, 1);
  assert.equal(contents(buf), "abcd");
});

// ---------------------------------------------------------------- removing

test("drain removes bytes across segments, and draining more than the length empties the buffer", () => {
  const buf = chain("abc", "defg", "hi");
  buf.drain(0);
  assert.equal(buf.length, 9);
  buf.drain(2);
  assert.equal(contents(buf), "cdefghi");
  buf.drain(5);
  assert.equal(contents(buf), "hi");
  buf.drain(100);
  assert.equal(buf.length, 0);
  buf.addString("xyz");
  buf.drain(Infinity);
  assert.equal(buf.length, 0);
});

test("remove copies bytes across segments into the destination and drains them", () => {
  const buf = chain("abc", "def", "gh");
  const out = new Uint8Array(5);
  assert.equal(buf.remove(out), 5);
  assert.equal(dec(out), "abcde");
  assert.equal(contents(buf), "fgh");
  const big = new Uint8Array(10);
  assert.equal(buf.remove(big), 3);
  assert.equal(dec(big.subarray(0, 3)), "fgh");
  assert.equal(buf.length, 0);
});

test("copyout copies without draining and copyoutFrom starts at a pointer", () => {
  const buf = chain("abc", "def", "gh");
  const out = new Uint8Array(4);
  assert.equal(buf.copyout(out), 4);
  assert.equal(dec(out), "abcd");
  assert.equal(buf.length, 8);
  const ptr = new EvBufferPtr();
  assert.ok(buf.ptrSet(ptr, 2, "set"));
  assert.equal(buf.copyoutFrom(ptr, out), 4);
  assert.equal(dec(out), "cdef");
  buf.ptrSet(ptr, 5, "add");
  assert.equal(buf.copyoutFrom(ptr, out), 1);
  assert.equal(dec(out.subarray(0, 1)), "h");
  assert.equal(buf.copyoutFrom(new EvBufferPtr(8), out), 0);
  assert.throws(
    () => buf.copyoutFrom(new EvBufferPtr(9), out),
    (e: unknown) => e instanceof RangeError && /ptr/.test(e.message),
  );
});

// --------------------------------------------------------------- accessing

test("pullup within the first segment returns a view without copying", () => {
  const data = new Uint8Array(400).fill(1);
  const buf = new EvBuffer();
  buf.add(data);
  buf.addReference(enc("xyz"));
  const view = buf.pullup(100);
  assert.equal(view.buffer, data.buffer);
  assert.equal(view.length, 100);
  assert.deepEqual(layout(buf), [400, 3]);
});

test("pullup across segments joins them into one contiguous view and keeps the rest", () => {
  const buf = chain("ab", "cd", "ef", "gh");
  assert.equal(dec(buf.pullup(5)), "abcde");
  assert.equal(buf.contiguousSpace(), 5);
  assert.equal(contents(buf), "abcdefgh");
  assert.deepEqual(layout(buf), [5, 1, 2]);
  assert.equal(dec(buf.pullup()), "abcdefgh");
  assert.deepEqual(layout(buf), [8]);
  assert.equal(dec(buf.pullup(-1)), "abcdefgh");
});

test("pullup joins into the first segment's spare capacity when it has room", () => {
  const buf = new EvBuffer();
  buf.addString("ab");
  const first = buf.peek()[0];
  buf.addReference(enc("cdef"));
  const view = buf.pullup(4);
  assert.equal(view.buffer, first.buffer);
  assert.equal(dec(view), "abcd");
  assert.equal(contents(buf), "abcdef");
  assert.deepEqual(layout(buf), [4, 2]);
});

test("peek returns views covering n bytes from a start pointer without copying", () => {
  const parts = ["abc", "defg", "hi"].map(enc);
  const buf = new EvBuffer();
  for (const p of parts) buf.addReference(p);
  assert.deepEqual(buf.peek().map(dec), ["abc", "defg", "hi"]);
  assert.deepEqual(buf.peek(5).map(dec), ["abc", "de"]);
  assert.deepEqual(buf.peek(0), []);
  const start = new EvBufferPtr();
  buf.ptrSet(start, 2, "set");
  const views = buf.peek(3, start);
  assert.deepEqual(views.map(dec), ["c", "de"]);
  assert.equal(views[1].buffer, parts[1].buffer);
  assert.deepEqual(buf.peek(100, start).map(dec), ["c", "defg", "hi"]);
  assert.deepEqual(buf.peek(-1, new EvBufferPtr(9)), []);
});

test("contiguousSpace is the length of the first segment", () => {
  const buf = chain("abcd", "ef");
  assert.equal(buf.contiguousSpace(), 4);
  buf.drain(3);
  assert.equal(buf.contiguousSpace(), 1);
  buf.drain(1);
  assert.equal(buf.contiguousSpace(), 2);
});

test("views returned by readLine, pullup and peek stay valid while the buffer keeps writing", () => {
  const buf = new EvBuffer();
  buf.addString("first line\nsecond");
  const line = buf.readLine("lf") as Uint8Array;
  const peeked = buf.peek()[0];
  const view = buf.reserveSpace(64);
  view.fill(0x21);
  buf.commitSpace(64);
  buf.addString("\nmore\n");
  buf.drain(buf.length);
  buf.addString("overwrite?");
  assert.equal(dec(line), "first line");
  assert.equal(dec(peeked), "second");
});

// ------------------------------------------------------------- reservation

test("reserveSpace gives a writable view and commitSpace adds what was written", () => {
  const buf = new EvBuffer();
  buf.addString("head:");
  const view = buf.reserveSpace(10);
  assert.ok(view.length >= 10);
  view.set(enc("0123456789"));
  assert.equal(buf.length, 5, "reserved bytes are not part of the buffer yet");
  buf.commitSpace(4);
  assert.equal(contents(buf), "head:0123");
  assert.deepEqual(layout(buf), [9], "the reservation used the tail's spare capacity");
});

test("reserveSpace reuses the tail's spare capacity across reserve/commit rounds", () => {
  const buf = new EvBuffer();
  const first = buf.reserveSpace(100);
  first.set(enc("abc"));
  buf.commitSpace(3);
  const second = buf.reserveSpace(100);
  assert.equal(second.buffer, first.buffer);
  assert.equal(second.byteOffset, first.byteOffset + 3);
  second.set(enc("def"));
  buf.commitSpace(3);
  assert.deepEqual(layout(buf), [6]);
  assert.equal(contents(buf), "abcdef");
});

test("reserveSpace never writes into bytes the caller added by reference", () => {
  const big = new Uint8Array(1000);
  const data = big.subarray(0, 500);
  const buf = new EvBuffer();
  buf.add(data);
  const view = buf.reserveSpace(10);
  assert.ok(view.buffer !== big.buffer);
  view.fill(1);
  buf.commitSpace(10);
  assert.ok(big.every((b) => b === 0));
});

test("commitSpace without a live reservation fails with ERR_NO_RESERVATION", () => {
  const buf = new EvBuffer();
  assert.throws(() => buf.commitSpace(1), (e: unknown) => e instanceof BufferError && e.code === "ERR_NO_RESERVATION");
  buf.reserveSpace(10);
  buf.commitSpace(2);
  assert.throws(() => buf.commitSpace(1), (e: unknown) => e instanceof BufferError && e.code === "ERR_NO_RESERVATION");
  buf.reserveSpace(10);
  buf.addString("x");
  assert.throws(() => buf.commitSpace(1), (e: unknown) => e instanceof BufferError && e.code === "ERR_NO_RESERVATION");
  const view = buf.reserveSpace(10);
  assert.throws(() => buf.commitSpace(view.length + 1), (e: unknown) => e instanceof RangeError && /n/.test(e.message));
  buf.commitSpace(0);
  assert.throws(() => buf.commitSpace(1), (e: unknown) => e instanceof BufferError && e.code === "ERR_NO_RESERVATION");
  assert.equal(buf.length, 3);
});

test("expand sets room aside that the next reservation and small writes use", () => {
  const buf = new EvBuffer();
  buf.add(new Uint8Array(300));
  buf.expand(10_000);
  assert.equal(buf.length, 300);
  const view = buf.reserveSpace(10_000);
  assert.ok(view.length >= 10_000);
  buf.commitSpace(0);
  buf.addString("abc");
  buf.addString("def");
  assert.deepEqual(layout(buf), [300, 6]);
  assert.equal(buf.reserveSpace(5000).buffer, view.buffer);
});

// --------------------------------------------------------------- searching

test("search finds a needle, misses an absent one and treats an empty needle as found at the start", () => {
  const buf = new EvBuffer();
  buf.addString("the quick brown fox");
  assert.equal(buf.search("quick").pos, 4);
  assert.equal(buf.search(enc("fox")).pos, 16);
  assert.equal(buf.search("foxes").pos, -1);
  assert.equal(buf.search("cat").pos, -1);
  assert.equal(buf.search("").pos, 0);
  assert.equal(buf.search("", new EvBufferPtr(5)).pos, 5);
  assert.equal(buf.search("t", new EvBufferPtr(100)).pos, -1);
});

test("search finds needles that straddle two and three segments", () => {
  const buf = chain("xxab", "c", "dexx", "abcdf");
  assert.equal(buf.search("abcde").pos, 2);
  assert.equal(buf.search("xabcdf").pos, 8);
  assert.equal(buf.search("bcdexxa").pos, 3);
  assert.equal(buf.search("abcdg").pos, -1);
  assert.equal(buf.search("dfz").pos, -1);
});

test("successive searches walk forward from the last match with ptrSet add", () => {
  const buf = chain("a,b,", "c", ",d", ",,e");
  const found: number[] = [];
  let ptr = buf.search(",");
  while (ptr.pos !== -1) {
    found.push(ptr.pos);
    assert.ok(buf.ptrSet(ptr, 1, "add"));
    ptr = buf.search(",", ptr);
  }
  assert.deepEqual(found, [1, 3, 5, 7, 8]);
});

test("a pointer still finds the right bytes after the buffer was drained and grew", () => {
  const buf = chain("aaXa", "aaXb");
  const ptr = buf.search("X");
  assert.equal(ptr.pos, 2);
  buf.drain(3);
  buf.addString("Xc");
  assert.equal(buf.search("X", ptr).pos, 3);
  ptr.pos = 0;
  assert.equal(buf.search("X", ptr).pos, 3);
});

test("searchRange only finds matches that end at or before the end pointer", () => {
  const buf = chain("abcab", "cabc");
  assert.equal(buf.searchRange("abc", null, new EvBufferPtr(3)).pos, 0);
  assert.equal(buf.searchRange("abc", new EvBufferPtr(1), new EvBufferPtr(7)).pos, 3);
  assert.equal(buf.searchRange("abc", new EvBufferPtr(1), new EvBufferPtr(5)).pos, -1);
  assert.equal(buf.searchRange("abc", new EvBufferPtr(4), null).pos, 6);
  assert.equal(buf.searchRange("abc", new EvBufferPtr(4), new EvBufferPtr(100)).pos, 6);
  assert.equal(buf.searchRange("abc", new EvBufferPtr(4), new EvBufferPtr(8)).pos, -1);
});

test("searchEol reports the position and length of each style's line end", () => {
  const buf = chain("ab\r", "\r\ncd\nef\0");
  const at = (style: EvBufferEolStyle, from = 0): [number, number] => {
    const r = buf.searchEol(new EvBufferPtr(from), style);
    return [r.ptr.pos, r.eolLength];
  };
  assert.deepEqual(at("any"), [2, 3]);
  assert.deepEqual(at("crlf"), [3, 2]);
  assert.deepEqual(at("crlf_strict"), [3, 2]);
  assert.deepEqual(at("lf"), [4, 1]);
  assert.deepEqual(at("nul"), [10, 1]);
  assert.deepEqual(at("any", 5), [7, 1]);
  assert.deepEqual(at("crlf", 4), [4, 1], "the CR before the start is not part of the line end");
  assert.deepEqual(at("crlf_strict", 4), [-1, 0]);
  assert.deepEqual(at("lf", 10), [-1, 0]);
  const r = buf.searchEol(null, "crlf");
  assert.equal(buf.search("\n", r.ptr).pos, 4);
});

test("ptrSet moves a pointer within the buffer and reports failure past the end", () => {
  const buf = chain("abc", "def");
  const ptr = new EvBufferPtr();
  assert.equal(buf.ptrSet(ptr, 4, "set"), true);
  assert.equal(ptr.pos, 4);
  assert.equal(buf.ptrSet(ptr, 2, "add"), true);
  assert.equal(ptr.pos, 6, "one past the last byte is allowed");
  assert.equal(buf.ptrSet(ptr, 1, "add"), false);
  assert.equal(ptr.pos, -1);
  assert.equal(buf.ptrSet(ptr, 1, "add"), false);
  assert.equal(buf.ptrSet(ptr, 7, "set"), false);
  assert.equal(buf.ptrSet(ptr, 0, "set"), true);
  assert.equal(buf.search("d", ptr).pos, 3);
});

// ------------------------------------------------------------------- lines

test("readLine splits lines by each eol style", () => {
  const cases: [EvBufferEolStyle, string, string[], string][] = [
    ["any", "a\r\n\r\nb\nc\rd\n\ne", ["a", "b", "c", "d"], "e"],
    ["crlf", "a\r\nb\nc\rd\r\n\r\ne", ["a", "b", "c\rd", ""], "e"],
    ["crlf_strict", "a\r\nb\nc\r\n\ne", ["a", "b\nc"], "\ne"],
    ["lf", "a\r\nb\n\nc", ["a\r", "b", ""], "c"],
    ["nul", "a\0b\n\0\0c", ["a", "b\n", ""], "c"],
  ];
  for (const [style, input, lines, rest] of cases) {
    const buf = new EvBuffer();
    buf.addString(input);
    assert.deepEqual(allLines(buf, style), lines, style);
    assert.equal(contents(buf), rest, style);
  }
});

test("readLine joins a line split across several segments", () => {
  for (const style of STYLES) {
    const eol = style === "nul" ? "\0" : style === "lf" ? "\n" : "\r\n";
    const buf = chain("hel", "lo wo", "rld" + eol + "nex", "t" + eol);
    assert.deepEqual(allLines(buf, style), ["hello world", "next"], style);
    assert.equal(buf.length, 0, style);
  }
});

test("readLine handles a CR at the end of one segment and the LF at the start of the next, in each style", () => {
  const expected: Record<EvBufferEolStyle, string[]> = {
    any: ["abc", "def"],
    crlf: ["abc", "def"],
    crlf_strict: ["abc", "def"],
    lf: ["abc\r", "def\r"],
    nul: [],
  };
  for (const style of STYLES) {
    const buf = chain("abc\r", "\ndef\r", "\n");
    assert.deepEqual(allLines(buf, style), expected[style], style);
  }
});

test("a CR at the very end of the buffer ends a line only for the any style", () => {
  for (const style of STYLES) {
    const buf = new EvBuffer();
    buf.addString("abc\r");
    const line = buf.readLineString(style);
    if (style === "any") assert.equal(line, "abc");
    else assert.equal(line, null, style);
    buf.add(enc("\n"));
    if (style === "crlf" || style === "crlf_strict") assert.equal(buf.readLineString(style), "abc", style);
    if (style === "lf") assert.equal(buf.readLineString(style), "abc\r");
    if (style === "any") assert.equal(buf.readLineString(style), "", "the LF that came later ends an empty line");
  }
});

test("readLine fed one byte at a time gives the same lines as when fed at once, in each style", () => {
  const input = "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\nmore\r\r\n\0tail\r";
  for (const style of STYLES) {
    const whole = new EvBuffer();
    whole.addString(input);
    const expected = allLines(whole, style);
    for (const mode of ["coalesced", "segments"]) {
      const buf = new EvBuffer();
      const got: string[] = [];
      for (const ch of input) {
        if (mode === "coalesced") buf.addString(ch);
        else buf.addReference(enc(ch));
        got.push(...allLines(buf, style));
      }
      // The any style ends a line at a lone CR, so fed bytewise the LF after it ends an extra empty line.
      const nonEmpty = (lines: string[]): string[] => style === "any" ? lines.filter((l) => l !== "") : lines;
      assert.deepEqual(nonEmpty(got), nonEmpty(expected), `${style} ${mode}`);
      assert.equal(contents(buf), contents(whole), `${style} ${mode}`);
    }
  }
});

test("readLine returns null until a long line is complete, then the whole line", () => {
  const buf = new EvBuffer();
  const part = "x".repeat(1000);
  for (let i = 0; i < 50; i++) {
    buf.addString(part);
    assert.equal(buf.readLine("crlf"), null);
  }
  buf.addString("\r");
  assert.equal(buf.readLine("crlf"), null);
  buf.addString("\nnext");
  assert.equal(buf.readLineString("crlf"), part.repeat(50));
  assert.equal(contents(buf), "next");
});

test("readLineString decodes UTF-8", () => {
  const buf = chain("gr\u00fc", "\u00dfe\n");
  assert.equal(buf.readLineString("lf"), "grüße");
  const split = new EvBuffer();
  const bytes = enc("€\n");
  split.addReference(bytes.subarray(0, 1));
  split.addReference(bytes.subarray(1));
  assert.equal(split.readLineString("lf"), "€");
});

// ------------------------------------------------------------------ freeze

test("a frozen start refuses drain, remove, readLine, prepend and moving bytes out with ERR_FROZEN", () => {
  const buf = new EvBuffer();
  buf.addString("line\nmore");
  buf.freeze(true);
  const other = new EvBuffer();
  other.addString("x");
  assert.throws(() => buf.drain(1), frozen);
  assert.throws(() => buf.remove(new Uint8Array(1)), frozen);
  assert.throws(() => buf.readLine("lf"), frozen);
  assert.throws(() => buf.readLineString("lf"), frozen);
  assert.throws(() => buf.prepend(enc("x")), frozen);
  assert.throws(() => buf.removeBuffer(other, 1), frozen);
  assert.throws(() => other.addBuffer(buf), frozen);
  assert.equal(contents(buf), "line\nmore");
  buf.addString("!");
  assert.equal(buf.copyout(new Uint8Array(2)), 2);
  assert.equal(buf.search("more").pos, 5);
  buf.unfreeze(true);
  buf.drain(5);
  assert.equal(contents(buf), "more!");
});

test("a frozen end refuses every kind of add, reserve and commit with ERR_FROZEN", () => {
  const buf = new EvBuffer();
  buf.addString("abc");
  const view = buf.reserveSpace(4);
  buf.freeze(false);
  const other = new EvBuffer();
  other.addString("x");
  assert.throws(() => buf.add(enc("x")), frozen);
  assert.throws(() => buf.addString("x"), frozen);
  assert.throws(() => buf.addPrintf("%d", 1), frozen);
  assert.throws(() => buf.addBuffer(other), frozen);
  assert.throws(() => other.removeBuffer(buf, 1), frozen);
  assert.throws(() => buf.addBufferReference(other), frozen);
  assert.throws(() => buf.addReference(enc("x")), frozen);
  assert.throws(() => buf.addFile(memoryFile(enc("file")).handle, 0, 4), frozen);
  assert.throws(() => buf.reserveSpace(1), frozen);
  assert.throws(() => buf.commitSpace(1), frozen);
  assert.equal(contents(buf), "abc");
  assert.equal(other.length, 1);
  buf.prepend(enc(">"));
  assert.equal(buf.readLine("any"), null);
  buf.drain(1);
  buf.unfreeze(false);
  view.set(enc("defg"));
  buf.commitSpace(4);
  assert.equal(contents(buf), "abcdefg");
});

// --------------------------------------------------------------- callbacks

test("callbacks get the exact original size, added and deleted counts of each change", () => {
  const buf = new EvBuffer();
  const calls = recorder(buf);
  buf.addString("hello\n");
  buf.add(new Uint8Array(300));
  buf.prepend(enc("> "));
  buf.drain(3);
  buf.remove(new Uint8Array(2));
  buf.readLine("lf");
  const view = buf.reserveSpace(8);
  view.set(enc("abc"));
  buf.commitSpace(3);
  buf.addPrintf("%d", 12345);
  buf.drain(1000);
  assert.deepEqual(calls, [
    [0, 6, 0],
    [6, 300, 0],
    [306, 2, 0],
    [308, 0, 3],
    [305, 0, 2],
    [303, 0, 3],
    [300, 3, 0],
    [303, 5, 0],
    [308, 0, 308],
  ]);
});

test("moving bytes between buffers calls both buffers' callbacks", () => {
  const a = chain("abc", "def");
  const b = new EvBuffer();
  b.addString("xy");
  const callsA = recorder(a);
  const callsB = recorder(b);
  a.removeBuffer(b, 4);
  b.addBuffer(a);
  a.addBufferReference(b);
  assert.deepEqual(callsA, [[6, 0, 4], [2, 0, 2], [0, 8, 0]]);
  assert.deepEqual(callsB, [[2, 4, 0], [6, 2, 0]]);
});

test("a disabled callback is skipped, a re-enabled one sees only later changes, a removed one never runs", () => {
  const buf = new EvBuffer();
  const calls: string[] = [];
  const one = buf.addCb((_b, i) => calls.push(`one ${i.origSize}+${i.added}-${i.deleted}`));
  const two = buf.addCb((_b, i) => calls.push(`two ${i.origSize}+${i.added}-${i.deleted}`));
  assert.equal(one.enabled, true);
  buf.addString("ab");
  buf.setCbFlags(one, false);
  assert.equal(one.enabled, false);
  buf.addString("cd");
  buf.setCbFlags(one, true);
  buf.drain(1);
  assert.equal(buf.removeCb(two), true);
  assert.equal(buf.removeCb(two), false);
  buf.drain(1);
  assert.deepEqual(calls, ["one 0+2-0", "two 0+2-0", "two 2+2-0", "one 4+0-1", "two 4+0-1", "one 3+0-1"]);
  assert.throws(() => buf.setCbFlags(two, true), (e: unknown) => e instanceof TypeError && /entry/.test(e.message));
  assert.throws(() => buf.setCbFlags(one, 1 as unknown as boolean), (e: unknown) => e instanceof TypeError);
});

test("a callback removed by an earlier callback during the same change is not called", () => {
  const buf = new EvBuffer();
  const calls: string[] = [];
  let second: ReturnType<EvBuffer["addCb"]> | null = null;
  buf.addCb(() => {
    calls.push("first");
    if (second !== null) buf.removeCb(second);
  });
  second = buf.addCb(() => calls.push("second"));
  buf.addString("x");
  buf.addString("y");
  assert.deepEqual(calls, ["first", "first"]);
});

test("a callback added during a change first runs on the next change", () => {
  const buf = new EvBuffer();
  const calls: string[] = [];
  buf.addCb(() => {
    calls.push("outer");
    if (calls.length === 1) buf.addCb(() => calls.push("inner"));
  });
  buf.addString("x");
  buf.addString("y");
  assert.deepEqual(calls, ["outer", "outer", "inner"]);
});

// ------------------------------------------------------------ bad arguments

test("bad arguments throw a TypeError or RangeError that names the argument", async () => {
  const buf = new EvBuffer();
  buf.addString("abc");
  const other = new EvBuffer();
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => buf.add("x" as unknown as Uint8Array), TypeError, /bytes/],
    [() => buf.prepend([1] as unknown as Uint8Array), TypeError, /bytes/],
    [() => buf.addString(5 as unknown as string), TypeError, /text/],
    [() => buf.addBuffer(buf), TypeError, /other/],
    [() => buf.addBuffer({} as EvBuffer), TypeError, /other/],
    [() => buf.addBufferReference(buf), TypeError, /other/],
    [() => buf.removeBuffer(buf, 1), TypeError, /dst/],
    [() => buf.removeBuffer(other, -1), RangeError, /\bn\b/],
    [() => buf.addReference(enc("x"), 5 as unknown as () => void), TypeError, /cleanup/],
    [() => buf.addFile(null as unknown as FileHandle, 0, 1), TypeError, /handle/],
    [() => buf.addFile(memoryFile(enc("x")).handle, -1, 1), RangeError, /offset/],
    [() => buf.addFile(memoryFile(enc("x")).handle, 0, 1.5), RangeError, /length/],
    [() => buf.drain(-1), RangeError, /\bn\b/],
    [() => buf.drain(1.5), RangeError, /\bn\b/],
    [() => buf.drain(NaN), RangeError, /\bn\b/],
    [() => buf.remove(null as unknown as Uint8Array), TypeError, /dst/],
    [() => buf.copyout("x" as unknown as Uint8Array), TypeError, /dst/],
    [() => buf.copyoutFrom({ pos: 0 } as EvBufferPtr, new Uint8Array(1)), TypeError, /ptr/],
    [() => buf.copyoutFrom(new EvBufferPtr(-1), new Uint8Array(1)), RangeError, /ptr/],
    [() => buf.pullup(4), RangeError, /\bn\b/],
    [() => buf.pullup(-2), RangeError, /\bn\b/],
    [() => buf.peek(-2), RangeError, /\bn\b/],
    [() => buf.peek(1, new EvBufferPtr(4)), RangeError, /start/],
    [() => buf.reserveSpace(-1), RangeError, /\bn\b/],
    [() => buf.commitSpace(0.5), RangeError, /\bn\b/],
    [() => buf.expand(-1), RangeError, /\bn\b/],
    [() => buf.search(123 as unknown as string), TypeError, /needle/],
    [() => buf.search("a", new EvBufferPtr(-1)), RangeError, /start/],
    [() => buf.searchRange("a", null, new EvBufferPtr(1.5)), RangeError, /end/],
    [() => buf.searchEol(null, "cr" as EvBufferEolStyle), TypeError, /style/],
    [() => buf.ptrSet(new EvBufferPtr(), -1, "set"), RangeError, /position/],
    [() => buf.ptrSet(new EvBufferPtr(), 1, "move" as "set"), TypeError, /how/],
    [() => buf.ptrSet({ pos: 0 } as EvBufferPtr, 1, "set"), TypeError, /ptr/],
    [() => buf.readLine("CRLF" as EvBufferEolStyle), TypeError, /style/],
    [() => buf.freeze("yes" as unknown as boolean), TypeError, /atFront/],
    [() => buf.unfreeze(0 as unknown as boolean), TypeError, /atFront/],
    [() => buf.addCb(null as unknown as () => void), TypeError, /cb/],
  ];
  for (const [fn, type, name] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof type && name.test((e as Error).message), fn.toString());
  }
  assert.equal(contents(buf), "abc");
  await assert.rejects(buf.loadFileSegments(-1), (e: unknown) => e instanceof RangeError && /maxBytes/.test(e.message));
});

// ----------------------------------------------------------- file segments

/** An in-memory FileHandle that counts reads and closes, with reads that can be held back. */
function memoryFile(data: Uint8Array): {
  handle: FileHandle;
  reads: [number, number][];
  closes: () => number;
  hold: () => () => void;
} {
  const reads: [number, number][] = [];
  let closes = 0;
  let gate: Promise<void> | null = null;
  const handle: FileHandle = {
    async read(position: number, length: number): Promise<Uint8Array> {
      reads.push([position, length]);
      if (gate !== null) await gate;
      return data.slice(position, position + length);
    },
    stat(): Promise<FileInfo> {
      return Promise.resolve({ size: data.length, isFile: true, isDirectory: false, mtimeMs: 0 });
    },
    close(): Promise<void> {
      closes++;
      return Promise.resolve();
    },
  };
  const hold = (): () => void => {
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    return () => {
      gate = null;
      open();
    };
  };
  return { handle, reads, closes: () => closes, hold };
}

test("a file segment counts in length and refuses synchronous reads until loaded", async () => {
  const file = memoryFile(enc("0123456789"));
  const buf = new EvBuffer();
  buf.addString("head\n");
  buf.addFile(file.handle, 2, 6);
  buf.addString("\ntail");
  assert.equal(buf.length, 16);
  assert.equal(buf.hasFileSegments, true);
  assert.equal(buf.readLineString("lf"), "head", "a line before the file segment is readable");
  assert.throws(() => buf.copyout(new Uint8Array(16)), notLoaded);
  assert.throws(() => buf.remove(new Uint8Array(16)), notLoaded);
  assert.throws(() => buf.pullup(), notLoaded);
  assert.throws(() => buf.peek(), notLoaded);
  assert.throws(() => buf.search("tail"), notLoaded);
  assert.throws(() => buf.readLine("lf"), notLoaded);
  assert.throws(() => buf.searchEol(null, "crlf"), notLoaded);
  assert.equal(buf.length, 11, "failed reads changed nothing");
  assert.equal(await buf.loadFileSegments(Infinity), 11);
  assert.equal(buf.hasFileSegments, false);
  assert.equal(contents(buf), "234567\ntail");
  assert.equal(buf.readLineString("lf"), "234567");
  assert.equal(file.closes(), 1, "the handle is closed once fully loaded");
});

test("drain and removeBuffer work on file segments without loading them", async () => {
  const file = memoryFile(enc("abcdefghij"));
  const buf = new EvBuffer();
  buf.addFile(file.handle, 0, 10);
  buf.drain(3);
  const dst = new EvBuffer();
  assert.equal(buf.removeBuffer(dst, 4), 4);
  assert.equal(dst.hasFileSegments, true);
  assert.equal(buf.hasFileSegments, true);
  assert.equal(file.reads.length, 0);
  assert.equal(await dst.loadFileSegments(Infinity), 4);
  assert.equal(contents(dst), "defg");
  const more = new EvBuffer();
  more.addBuffer(buf);
  assert.equal(more.hasFileSegments, true);
  assert.equal(buf.hasFileSegments, false);
  assert.equal(file.closes(), 0, "a segment still reads from the handle");
  more.drain(3);
  assert.equal(file.closes(), 1);
  assert.equal(file.reads.length, 1);
});

test("a file segment shared by addBufferReference loads in each buffer and closes when both let go", async () => {
  const file = memoryFile(enc("shared file"));
  const a = new EvBuffer();
  a.addFile(file.handle, 0, 11);
  const b = new EvBuffer();
  b.addBufferReference(a);
  assert.equal(b.hasFileSegments, true);
  await b.loadFileSegments(Infinity);
  assert.equal(contents(b), "shared file");
  assert.equal(a.hasFileSegments, true);
  assert.equal(file.closes(), 0);
  a.free();
  assert.equal(file.closes(), 1);
});

test("loadFileSegments reads only within maxBytes and in pieces of at most 64 KiB", async () => {
  const data = new Uint8Array(200_000);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  const file = memoryFile(data);
  const buf = new EvBuffer();
  buf.addString("x");
  buf.addFile(file.handle, 0, data.length);
  assert.equal(await buf.loadFileSegments(100_001), 100_001);
  assert.ok(file.reads.every(([, len]) => len <= 65536));
  assert.equal(file.reads.reduce((n, [, len]) => n + len, 0), 100_000);
  assert.ok(buf.peek(100_001).every((v) => v.length <= 65536));
  assert.equal(buf.hasFileSegments, true);
  assert.equal(await buf.loadFileSegments(0), 100_001);
  assert.equal(await buf.loadFileSegments(Infinity), 200_001);
  const out = new Uint8Array(200_001);
  buf.copyout(out);
  assert.deepEqual(out.subarray(1), data);
});

test("bytes drained while a file read is pending are not loaded", async () => {
  const file = memoryFile(enc("0123456789"));
  const buf = new EvBuffer();
  buf.addFile(file.handle, 0, 10);
  const open = file.hold();
  const loading = buf.loadFileSegments(Infinity);
  await Promise.resolve();
  buf.drain(4);
  open();
  assert.equal(await loading, 6);
  assert.equal(contents(buf), "456789");
});

test("a file shorter than its segment fails the load with ERR_FILE_TRUNCATED", async () => {
  const file = memoryFile(enc("short"));
  const buf = new EvBuffer();
  buf.addFile(file.handle, 0, 10);
  await assert.rejects(
    buf.loadFileSegments(Infinity),
    (e: unknown) => e instanceof BufferError && e.code === "ERR_FILE_TRUNCATED",
  );
  assert.equal(buf.length, 10);
  buf.drain(10);
  assert.equal(file.closes(), 1);
});

test("addFile of zero bytes adds nothing and closes an otherwise unused handle", () => {
  const file = memoryFile(enc("abc"));
  const buf = new EvBuffer();
  buf.addFile(file.handle, 0, 0);
  assert.equal(buf.length, 0);
  assert.equal(file.closes(), 1);
});

test("a real file read through the platform loads into the buffer and its handle is closed once fully loaded", async () => {
  // Imported here so the other tests run even while the adapters are being finished.
  const { autoPlatform } = await import("../../adapters/auto.ts");
  const platform = autoPlatform();
  const dir = await mkdtemp(join(tmpdir(), "levent-evbuffer-"));
  try {
    const path = join(dir, "lines.txt");
    const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join("\r\n") + "\r\n";
    await writeFile(path, text);
    const handle = await platform.fs.open(path);
    let closed = 0;
    const counted: FileHandle = {
      read: (position, length) => handle.read(position, length),
      stat: () => handle.stat(),
      close: () => {
        closed++;
        return handle.close();
      },
    };
    const buf = new EvBuffer();
    buf.addFile(counted, 5, text.length - 5);
    assert.equal(buf.length, text.length - 5);
    assert.throws(() => buf.readLine("crlf"), notLoaded);
    assert.equal(await buf.loadFileSegments(Infinity), text.length - 5);
    assert.equal(closed, 1);
    const lines = allLines(buf, "crlf");
    assert.equal(lines.length, 3000);
    assert.equal(lines[0], "0");
    assert.equal(lines[2999], "line 2999");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a pointer set at the end stays right after the last segment grows in place and a new one follows", () => {
  const buf = new EvBuffer();
  buf.addString("abc");
  const p = new EvBufferPtr();
  assert.equal(buf.ptrSet(p, 3, "set"), true);
  buf.addString("de");
  buf.add(new Uint8Array(300).fill(0x78));
  assert.equal(buf.ptrSet(p, 3, "set"), true);
  assert.equal(buf.search("d", p).pos, 3);
  const out = new Uint8Array(2);
  assert.equal(buf.copyoutFrom(p, out), 2);
  assert.equal(new TextDecoder().decode(out), "de");
});

test("a buffer drained empty writes on into its last segment's spare room, leaving views of drained bytes intact", () => {
  const buf = new EvBuffer();
  buf.addString("first message");
  const first = buf.pullup(13);
  buf.drain(13);
  buf.addString("second");
  const second = buf.pullup(6);
  assert.equal(second.buffer, first.buffer, "the same allocation is reused");
  assert.equal(new TextDecoder().decode(first), "first message");
  assert.equal(new TextDecoder().decode(second), "second");
  // A reservation after the next drain takes the room after "second".
  buf.drain(6);
  const room = buf.reserveSpace(4);
  assert.equal(room.buffer, first.buffer);
  assert.equal(room.byteOffset, second.byteOffset + 6);
  room.set(new TextEncoder().encode("resv"));
  buf.commitSpace(4);
  assert.equal(new TextDecoder().decode(buf.pullup(4)), "resv");
  assert.equal(new TextDecoder().decode(first), "first message");
  // Moved out whole by removeBuffer, the last segment's room stays with the source;
  // the destination gets a read-only view and appends elsewhere.
  const src = new EvBuffer();
  const dst = new EvBuffer();
  src.addString("body");
  const body = src.pullup(4);
  assert.equal(src.removeBuffer(dst, 4), 4);
  src.addString("next");
  dst.addString("more");
  assert.equal(src.pullup(4).buffer, body.buffer);
  assert.equal(src.pullup(4).byteOffset, body.byteOffset + 4);
  assert.notEqual(dst.peek()[1].buffer, body.buffer);
  assert.equal(new TextDecoder().decode(dst.pullup(8)), "bodymore");
  assert.equal(new TextDecoder().decode(src.pullup(4)), "next");
  // A live reservation's segment is never handed on as spare.
  const b2 = new EvBuffer();
  b2.addString("x");
  const view = b2.reserveSpace(10);
  b2.drain(1);
  b2.addString("y");
  assert.notEqual(b2.pullup(1).buffer, view.buffer);
  // releaseSpare lets the kept room go: the next write allocates anew.
  const b3 = new EvBuffer();
  b3.addString("abc");
  const old = b3.pullup(3);
  b3.drain(3);
  b3.releaseSpare();
  b3.addString("def");
  assert.notEqual(b3.pullup(3).buffer, old.buffer);
  assert.equal(new TextDecoder().decode(old), "abc");
});
