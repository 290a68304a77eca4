// EvBuffer benchmark against a plain baseline that concatenates Uint8Arrays,
// in one process, same data. Prints one JSON line per case with MB/s
// (1 MB = 10^6 bytes).
//
//   deno run -A bench/evbuffer.ts | bun bench/evbuffer.ts | node bench/evbuffer.ts
//
// Cases:
// - readline-crlf-reserve / readline-crlf-add: 100 MB of 80-byte CRLF lines
//   arriving in chunks of random size (1 B .. 64 KiB), copied in with
//   reserveSpace / commitSpace (as a socket's lent bytes are) or handed over
//   with add; every complete line is read after each chunk.
// - search-16-binary / search-16-text: a 16-byte needle at the end of 100 MB
//   held in 64 KiB segments, of random bytes or of text lines.
// - add-drain-churn: 100 MB through a buffer kept near 64 KiB, added in
//   chunks of 1 B .. 4 KiB and drained in random amounts.
import { EvBuffer } from "../src/buffer/mod.ts";
import { prng } from "../tests/util.ts";

const TOTAL = 100_000_000;
const LINE = 80;
const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";

/** About 4 MiB of 80-byte lines (78 letters and digits, then CRLF), a whole number of lines. */
function lineSource(): Uint8Array {
  const lines = 52_429;
  const src = new Uint8Array(lines * LINE);
  const rnd = prng(1);
  const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (let l = 0; l < lines; l++) {
    const at = l * LINE;
    for (let i = 0; i < LINE - 2; i++) src[at + i] = alphabet.charCodeAt(rnd(alphabet.length));
    src[at + LINE - 2] = 13;
    src[at + LINE - 1] = 10;
  }
  return src;
}

/** Feed `total` bytes of `src` (cycled) in chunks of 1 .. maxChunk bytes; the chunk never wraps. */
function feed(src: Uint8Array, total: number, maxChunk: number, seed: number, fn: (chunk: Uint8Array) => void): void {
  const rnd = prng(seed);
  let pos = 0;
  let left = total;
  while (left > 0) {
    const len = Math.min(1 + rnd(maxChunk), left, src.length - pos);
    fn(src.subarray(pos, pos + len));
    pos += len;
    if (pos === src.length) pos = 0;
    left -= len;
  }
}

interface LineCount {
  lines: number;
  bytes: number;
}

function readlineLevent(src: Uint8Array, total: number, mode: "reserve" | "add"): LineCount {
  const buf = new EvBuffer();
  const out: LineCount = { lines: 0, bytes: 0 };
  feed(src, total, 65536, 7, (chunk) => {
    if (mode === "reserve") {
      buf.reserveSpace(chunk.length).set(chunk);
      buf.commitSpace(chunk.length);
    } else {
      buf.add(chunk);
    }
    for (let line = buf.readLine("crlf"); line !== null; line = buf.readLine("crlf")) {
      out.lines++;
      out.bytes += line.length;
    }
  });
  return out;
}

function readlineBaseline(src: Uint8Array, total: number): LineCount {
  let pending = new Uint8Array(0);
  const out: LineCount = { lines: 0, bytes: 0 };
  feed(src, total, 65536, 7, (chunk) => {
    const joined = new Uint8Array(pending.length + chunk.length);
    joined.set(pending);
    joined.set(chunk, pending.length);
    let start = 0;
    for (let i = joined.indexOf(10); i >= 0; i = joined.indexOf(10, start)) {
      const end = i > start && joined[i - 1] === 13 ? i - 1 : i;
      const line = joined.subarray(start, end);
      out.lines++;
      out.bytes += line.length;
      start = i + 1;
    }
    pending = joined.subarray(start);
  });
  return out;
}

/** 100 MB in 64 KiB segments with `needle` written across the last segment boundary. */
function haystack(kind: "binary" | "text", needle: Uint8Array): Uint8Array[] {
  const segs: Uint8Array[] = [];
  const text = kind === "text" ? lineSource() : null;
  let at = 0;
  for (let made = 0; made < TOTAL; made += 65536) {
    const seg = new Uint8Array(Math.min(65536, TOTAL - made));
    if (text === null) {
      for (let i = 0; i < seg.length; i += 65536) crypto.getRandomValues(seg.subarray(i, i + 65536));
    } else {
      for (let i = 0; i < seg.length;) {
        const n = Math.min(seg.length - i, text.length - at);
        seg.set(text.subarray(at, at + n), i);
        i += n;
        at = (at + n) % text.length;
      }
    }
    segs.push(seg);
  }
  const last = segs[segs.length - 1];
  const prev = segs[segs.length - 2];
  prev.set(needle.subarray(0, 8), prev.length - 8);
  last.set(needle.subarray(8), 0);
  return segs;
}

/** The baseline's search: the same first-byte indexOf and compare, on one flat array. */
function flatSearch(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let p = hay.indexOf(first); p >= 0 && p <= last; p = hay.indexOf(first, p + 1)) {
    let k = 1;
    while (k < needle.length && hay[p + k] === needle[k]) k++;
    if (k === needle.length) return p;
  }
  return -1;
}

function searchCase(kind: "binary" | "text"): void {
  const needle = kind === "binary"
    ? crypto.getRandomValues(new Uint8Array(16))
    : new TextEncoder().encode("the needle 0xQ!~");
  const segs = haystack(kind, needle);
  const expected = TOTAL - (TOTAL % 65536 || 65536) - 8;
  const buf = new EvBuffer();
  for (const seg of segs) buf.add(seg);
  let leventMs = Infinity;
  let baselineMs = Infinity;
  for (let round = 0; round < 3; round++) {
    let t0 = performance.now();
    const pos = buf.search(needle).pos;
    leventMs = Math.min(leventMs, performance.now() - t0);
    if (pos !== expected) throw new Error(`levent search found ${pos}, expected ${expected}`);
    t0 = performance.now();
    const flat = new Uint8Array(TOTAL);
    let at = 0;
    for (const seg of segs) {
      flat.set(seg, at);
      at += seg.length;
    }
    const flatPos = flatSearch(flat, needle);
    baselineMs = Math.min(baselineMs, performance.now() - t0);
    if (flatPos !== expected) throw new Error(`baseline search found ${flatPos}, expected ${expected}`);
  }
  report(`search-16-${kind}`, TOTAL, leventMs, baselineMs);
}

function churnLevent(src: Uint8Array): number {
  const buf = new EvBuffer();
  const rnd = prng(3);
  let drained = 0;
  feed(src, TOTAL, 4096, 11, (chunk) => {
    buf.add(chunk);
    if (buf.length > 65536) {
      const n = rnd(buf.length);
      buf.drain(n);
      drained += n;
    }
  });
  return drained + buf.length;
}

function churnBaseline(src: Uint8Array): number {
  let data = new Uint8Array(0);
  const rnd = prng(3);
  let drained = 0;
  feed(src, TOTAL, 4096, 11, (chunk) => {
    const joined = new Uint8Array(data.length + chunk.length);
    joined.set(data);
    joined.set(chunk, data.length);
    data = joined;
    if (data.length > 65536) {
      const n = rnd(data.length);
      data = data.subarray(n);
      drained += n;
    }
  });
  return drained + data.length;
}

function mbps(bytes: number, ms: number): number {
  return Number((bytes / 1e6 / (ms / 1000)).toFixed(0));
}

function report(name: string, bytes: number, leventMs: number, baselineMs: number): void {
  console.log(JSON.stringify({
    runtime,
    case: name,
    mb: bytes / 1e6,
    levent_mb_s: mbps(bytes, leventMs),
    baseline_mb_s: mbps(bytes, baselineMs),
    speedup: Number((baselineMs / leventMs).toFixed(2)),
  }));
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const result = fn();
  return [result, performance.now() - t0];
}

const src = lineSource();
// A short warm-up so the JIT has seen every path before the timed runs.
readlineLevent(src, 5_000_000, "reserve");
readlineLevent(src, 5_000_000, "add");
readlineBaseline(src, 5_000_000);

const [base, baselineMs] = time(() => readlineBaseline(src, TOTAL));
for (const mode of ["reserve", "add"] as const) {
  const [got, ms] = time(() => readlineLevent(src, TOTAL, mode));
  if (got.lines !== base.lines || got.bytes !== base.bytes || got.lines !== TOTAL / LINE) {
    throw new Error(
      `readline ${mode}: ${got.lines} lines / ${got.bytes} bytes, baseline ${base.lines} / ${base.bytes}`,
    );
  }
  report(`readline-crlf-${mode}`, TOTAL, ms, baselineMs);
}
searchCase("binary");
searchCase("text");
const [churned, churnMs] = time(() => churnLevent(src));
const [churnedBase, churnBaseMs] = time(() => churnBaseline(src));
if (churned !== TOTAL || churnedBase !== TOTAL) throw new Error(`churn moved ${churned} / ${churnedBase} bytes`);
report("add-drain-churn", TOTAL, churnMs, churnBaseMs);
