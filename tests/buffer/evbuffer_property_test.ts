// EvBuffer against a plain byte-array model: random sequences of operations
// must leave both holding the same bytes and give the same answers. The
// model is written the naive way on purpose (scan byte by byte, as libevent
// describes each operation), so it shares no shortcut with the buffer.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { EvBuffer, type EvBufferEolStyle, EvBufferPtr } from "../../src/buffer/mod.ts";

const STYLES: EvBufferEolStyle[] = ["any", "crlf", "crlf_strict", "lf", "nul"];

type Op =
  | { op: "add"; bytes: Uint8Array }
  | { op: "addReference"; bytes: Uint8Array }
  | { op: "addCopy"; bytes: Uint8Array }
  | { op: "prepend"; bytes: Uint8Array }
  | { op: "addString"; text: string }
  | { op: "drain"; n: number }
  | { op: "remove"; n: number }
  | { op: "removeBuffer"; n: number }
  | { op: "addBuffer" }
  | { op: "addBufferReference" }
  | { op: "pullup"; n: number }
  | { op: "peek"; n: number; at: number }
  | { op: "copyoutFrom"; at: number; n: number }
  | { op: "search"; needle: Uint8Array; fromModel: boolean; at: number; span: number; back: number }
  | { op: "searchEol"; style: EvBufferEolStyle; at: number }
  | { op: "readLine"; style: EvBufferEolStyle | null }
  | { op: "reserveCommit"; n: number; fill: number; commit: number }
  | { op: "expand"; n: number };

// Few distinct bytes, so needle matches are frequent; line-end bytes are
// rarer, so lines often stay incomplete across several additions.
const byte = fc.oneof(
  { arbitrary: fc.constantFrom(0x61, 0x62), weight: 5 },
  { arbitrary: fc.constantFrom(0x0d, 0x0a, 0x00), weight: 2 },
);
const smallBytes = fc.array(byte, { maxLength: 24 }).map((a) => Uint8Array.from(a));
// 256 bytes and more are kept by reference rather than copied: cover both paths.
const bigBytes = fc.array(byte, { minLength: 256, maxLength: 400 }).map((a) => Uint8Array.from(a));
const bytes = fc.oneof({ arbitrary: smallBytes, weight: 4 }, { arbitrary: bigBytes, weight: 1 });
const style = fc.constantFrom(...STYLES);
const count = fc.nat(80);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  bytes.map((b) => ({ op: "add", bytes: b }) as const),
  bytes.map((b) => ({ op: "addReference", bytes: b }) as const),
  bytes.map((b) => ({ op: "addCopy", bytes: b }) as const),
  smallBytes.map((b) => ({ op: "prepend", bytes: b }) as const),
  fc.string({ unit: fc.constantFrom("a", "\r", "\n", "é", "€", "😀"), maxLength: 12 }).map((text) =>
    (
      { op: "addString", text }
    ) as const
  ),
  count.map((n) => ({ op: "drain", n }) as const),
  count.map((n) => ({ op: "remove", n }) as const),
  count.map((n) => ({ op: "removeBuffer", n }) as const),
  fc.constant({ op: "addBuffer" } as const),
  fc.constant({ op: "addBufferReference" } as const),
  count.map((n) => ({ op: "pullup", n }) as const),
  fc.record({ n: count, at: count }).map((r) => ({ op: "peek", ...r }) as const),
  fc.record({ at: count, n: count }).map((r) => ({ op: "copyoutFrom", ...r }) as const),
  fc.record({
    needle: fc.array(byte, { minLength: 1, maxLength: 4 }).map((a) => Uint8Array.from(a)),
    fromModel: fc.boolean(),
    at: count,
    span: fc.integer({ min: 1, max: 6 }),
    back: fc.integer({ min: 1, max: 6 }),
  }).map((r) => ({ op: "search", ...r }) as const),
  fc.record({ style, at: count }).map((r) => ({ op: "searchEol", ...r }) as const),
  // Mostly the run's own style, so a failed readLine is retried in the same
  // style after more bytes arrive (the resume-where-it-stopped path).
  fc.option(style, { freq: 4 }).map((s) => ({ op: "readLine", style: s }) as const),
  fc.option(style, { freq: 4 }).map((s) => ({ op: "readLine", style: s }) as const),
  fc.record({ n: fc.integer({ min: 1, max: 300 }), fill: byte, commit: fc.nat(300) }).map((r) =>
    (
      { op: "reserveCommit", ...r }
    ) as const
  ),
  fc.nat(5000).map((n) => ({ op: "expand", n }) as const),
);

/** The model's first line end at or after `from`, scanning byte by byte: [position, length] or [-1, 0]. */
function modelEol(m: number[], from: number, s: EvBufferEolStyle): [number, number] {
  for (let i = from; i < m.length; i++) {
    const b = m[i];
    switch (s) {
      case "lf":
        if (b === 10) return [i, 1];
        break;
      case "nul":
        if (b === 0) return [i, 1];
        break;
      case "crlf":
        if (b === 10) return [i, 1];
        if (b === 13 && m[i + 1] === 10) return [i, 2];
        break;
      case "crlf_strict":
        if (b === 13 && m[i + 1] === 10) return [i, 2];
        break;
      case "any":
        if (b === 10 || b === 13) {
          let n = 0;
          while (m[i + n] === 10 || m[i + n] === 13) n++;
          return [i, n];
        }
    }
  }
  return [-1, 0];
}

/** The model's first match of `needle` that starts at or after `from` and ends at or before `end`. */
function modelSearch(m: number[], needle: Uint8Array, from: number, end: number): number {
  for (let i = from; i + needle.length <= end; i++) {
    let k = 0;
    while (k < needle.length && m[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

function same(actual: Uint8Array, expected: number[], what: string): void {
  assert.deepEqual(Array.from(actual), expected, what);
}

function contents(buf: EvBuffer): Uint8Array {
  const out = new Uint8Array(buf.length);
  buf.copyout(out);
  return out;
}

function concat(views: Uint8Array[]): number[] {
  return views.flatMap((v) => Array.from(v));
}

test("EvBuffer matches a plain byte-array model over random operation sequences", () => {
  fc.assert(
    fc.property(style, fc.array(opArb, { minLength: 1, maxLength: 80, size: "max" }), (runStyle, ops) => {
      const buf = new EvBuffer();
      const side = new EvBuffer();
      let m: number[] = [];
      let s: number[] = [];
      // Cleanup calls per addReference: each must be called exactly once by the end.
      const cleanups: number[] = [];
      // Every view handed out, with the bytes it showed: they must never change.
      const handedOut: [Uint8Array, number[]][] = [];
      for (const o of ops) {
        switch (o.op) {
          case "add":
            buf.add(o.bytes);
            m.push(...o.bytes);
            break;
          case "addReference":
            {
              const index = cleanups.push(0) - 1;
              buf.addReference(o.bytes, () => cleanups[index]++);
              m.push(...o.bytes);
            }
            break;
          case "addCopy": {
            // The source is overwritten at once: the buffer must hold its own copy.
            const source = o.bytes.slice();
            buf.addCopy(source);
            m.push(...source);
            source.fill(0x7a);
            break;
          }
          case "prepend":
            buf.prepend(o.bytes);
            m = [...o.bytes, ...m];
            break;
          case "addString":
            buf.addString(o.text);
            m.push(...new TextEncoder().encode(o.text));
            break;
          case "drain":
            buf.drain(o.n);
            m.splice(0, o.n);
            break;
          case "remove": {
            const out = new Uint8Array(o.n);
            const got = buf.remove(out);
            const expected = m.splice(0, o.n);
            assert.equal(got, expected.length);
            same(out.subarray(0, got), expected, "remove");
            break;
          }
          case "removeBuffer": {
            const moved = buf.removeBuffer(side, o.n);
            const expected = m.splice(0, o.n);
            assert.equal(moved, expected.length);
            s.push(...expected);
            break;
          }
          case "addBuffer":
            buf.addBuffer(side);
            m.push(...s);
            s = [];
            break;
          case "addBufferReference":
            buf.addBufferReference(side);
            m.push(...s);
            break;
          case "pullup": {
            const n = o.n % (m.length + 1);
            const view = buf.pullup(n);
            same(view, m.slice(0, n), "pullup");
            handedOut.push([view, m.slice(0, n)]);
            break;
          }
          case "peek": {
            const at = o.at % (m.length + 1);
            const views = buf.peek(o.n, new EvBufferPtr(at));
            assert.deepEqual(concat(views), m.slice(at, at + o.n), "peek");
            break;
          }
          case "copyoutFrom": {
            const at = o.at % (m.length + 1);
            const out = new Uint8Array(o.n);
            const got = buf.copyoutFrom(new EvBufferPtr(at), out);
            same(out.subarray(0, got), m.slice(at, at + o.n), "copyoutFrom");
            break;
          }
          case "search": {
            const at = o.at % (m.length + 1);
            // Half the needles are cut from the content, so they are found.
            const needle = o.fromModel && m.length > 0 ? Uint8Array.from(m.slice(at, at + o.needle.length)) : o.needle;
            const from = o.fromModel ? Math.max(0, at - o.span) : at;
            const ptr = buf.search(needle, new EvBufferPtr(from));
            assert.equal(ptr.pos, modelSearch(m, needle, from, m.length), "search");
            const end = new EvBufferPtr(Math.min(m.length, from + needle.length + o.span));
            assert.equal(
              buf.searchRange(needle, new EvBufferPtr(from), end).pos,
              modelSearch(m, needle, from, end.pos),
            );
            if (ptr.pos >= 0 && buf.ptrSet(ptr, 1, "add")) {
              assert.equal(buf.search(needle, ptr).pos, modelSearch(m, needle, ptr.pos, m.length), "search again");
              // A pointer moved back by hand must not trust its segment memory.
              ptr.pos = Math.max(0, ptr.pos - o.back);
              assert.equal(buf.search(needle, ptr).pos, modelSearch(m, needle, ptr.pos, m.length), "search back");
            }
            break;
          }
          case "searchEol": {
            const at = o.at % (m.length + 1);
            const r = buf.searchEol(new EvBufferPtr(at), o.style);
            assert.deepEqual([r.ptr.pos, r.eolLength], modelEol(m, at, o.style), `searchEol ${o.style}`);
            break;
          }
          case "readLine": {
            const lineStyle = o.style ?? runStyle;
            const line = buf.readLine(lineStyle);
            const [pos, len] = modelEol(m, 0, lineStyle);
            if (pos < 0) {
              assert.equal(line, null, `readLine ${lineStyle}`);
            } else {
              const expected = m.slice(0, pos);
              assert.ok(line !== null, `readLine ${lineStyle}`);
              same(line, expected, `readLine ${lineStyle}`);
              handedOut.push([line, expected]);
              m.splice(0, pos + len);
            }
            break;
          }
          case "reserveCommit": {
            const view = buf.reserveSpace(o.n);
            assert.ok(view.length >= o.n);
            const k = Math.min(o.commit, o.n);
            view.fill(o.fill, 0, o.n);
            buf.commitSpace(k);
            for (let i = 0; i < k; i++) m.push(o.fill);
            break;
          }
          case "expand":
            buf.expand(o.n);
            break;
        }
        assert.equal(buf.length, m.length);
        assert.equal(side.length, s.length);
        same(contents(buf), m, `content after ${o.op}`);
      }
      same(contents(side), s, "side content");
      for (const [view, expected] of handedOut) same(view, expected, "a view handed out earlier");
      buf.free();
      side.free();
      assert.ok(cleanups.every((n) => n === 1), `cleanup counts ${cleanups.join(",")}`);
    }),
    { seed: 20240611, numRuns: 200 },
  );
});

test("readLine over a stream fed in random chunks, by every way of adding, gives the model's lines", () => {
  const chunk = fc.record({
    bytes: fc.array(byte, { minLength: 1, maxLength: 40 }).map((a) => Uint8Array.from(a)),
    how: fc.constantFrom("add", "addReference", "addCopy", "reserveCommit", "addString"),
  });
  fc.assert(
    fc.property(style, fc.array(chunk, { minLength: 1, maxLength: 60, size: "max" }), (lineStyle, chunks) => {
      const buf = new EvBuffer();
      const m: number[] = [];
      for (const { bytes: b, how } of chunks) {
        if (how === "add") buf.add(b);
        else if (how === "addReference") buf.addReference(b);
        else if (how === "addCopy") buf.addCopy(b);
        else if (how === "addString") buf.addString(String.fromCharCode(...b));
        else {
          buf.reserveSpace(b.length).set(b);
          buf.commitSpace(b.length);
        }
        m.push(...b);
        for (;;) {
          const line = buf.readLine(lineStyle);
          const [pos, len] = modelEol(m, 0, lineStyle);
          if (pos < 0) {
            assert.equal(line, null);
            break;
          }
          assert.ok(line !== null);
          same(line, m.splice(0, pos + len).slice(0, pos), `readLine ${lineStyle}`);
        }
        assert.equal(buf.length, m.length);
      }
      same(contents(buf), m, "the unread rest");
    }),
    { seed: 20240612, numRuns: 200 },
  );
});
