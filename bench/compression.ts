// Raw-deflate throughput of the adapters' ZStream implementations
// (adapters/zlib.ts): the streaming one on node:zlib's internals, which the
// adapters use, against the public-API one-shot fallback (with a zlib
// dictionary where the runtime honours one, and with the window as a stored
// block, which is what Deno gets). Prints one JSON line per case, then a
// table of medians.
//
//   deno run -A bench/compression.ts | bun bench/compression.ts | node bench/compression.ts
//
// Cases: 1 KiB and 64 KiB messages, text-like and random, compressed in
// sequence by one compressor with a sync flush per message (context kept),
// then decompressed in sequence by one decompressor. Figures are messages/s
// and MB/s of uncompressed data. Also, for 1 KiB text without context
// takeover: reset() between messages against a new stream per message.
import process from "node:process";
import { oneShotCompression, privateZlibUsable, streamingCompression, zlibTakesDictionary } from "../adapters/zlib.ts";
import type { Compression, ZStream } from "../src/platform.ts";

const PASSES = Number(process.env.PASSES ?? 5);
const WORDS = "levent event base buffer socket http server client request reply header body chunk timer signal"
  .split(" ");

function text(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  let at = 0;
  while (at < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const word = WORDS[(x >>> 8) % WORDS.length];
    for (let i = 0; i < word.length && at < size; i++) out[at++] = word.charCodeAt(i);
    if (at < size) out[at++] = (x & 7) === 0 ? 0x0a : 0x20;
  }
  return out;
}

function random(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const implementations: [string, Compression][] = [
  ...(privateZlibUsable() ? [["streaming (private)", streamingCompression] as [string, Compression]] : []),
  ...(zlibTakesDictionary()
    ? [["one-shot, dictionary", oneShotCompression({ dictionary: true })] as [string, Compression]]
    : []),
  ["one-shot, stored window", oneShotCompression({ dictionary: false })],
];

interface Case {
  size: number;
  kind: "text" | "random";
  count: number;
  messages: Uint8Array[];
}

const cases: Case[] = [];
for (const size of [1024, 65536]) {
  for (const kind of ["text", "random"] as const) {
    const count = size === 1024 ? 2000 : 100;
    const messages = Array.from({ length: count }, (_, i) => (kind === "text" ? text : random)(size, i + 1));
    cases.push({ size, kind, count, messages });
  }
}

function compressAll(c: Compression, messages: Uint8Array[]): { ms: number; packed: Uint8Array[] } {
  const z = c.createDeflateRaw();
  const packed: Uint8Array[] = new Array(messages.length);
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i++) packed[i] = z.process(messages[i], "sync");
  const ms = performance.now() - t0;
  z.close();
  return { ms, packed };
}

function decompressAll(c: Compression, packed: Uint8Array[], expect: Uint8Array[]): number {
  const z = c.createInflateRaw();
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < packed.length; i++) bytes += z.process(packed[i], "sync").length;
  const ms = performance.now() - t0;
  z.close();
  const want = expect.reduce((n, m) => n + m.length, 0);
  if (bytes !== want) throw new Error(`decompressed ${bytes} bytes, expected ${want}`);
  return ms;
}

/** 1 KiB messages without context takeover: one stream reset between messages, or a new stream per message. */
function noTakeover(c: Compression, messages: Uint8Array[], how: "reset" | "new"): number {
  let z: ZStream = c.createDeflateRaw();
  const t0 = performance.now();
  for (const m of messages) {
    z.process(m, "sync");
    if (how === "reset") {
      z.reset();
    } else {
      z.close();
      z = c.createDeflateRaw();
    }
  }
  const ms = performance.now() - t0;
  z.close();
  return ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";

type Sample = { compress: number[]; decompress: number[]; ratio: number };
const samples = new Map<string, Sample>();
const resets = new Map<string, number[]>();

for (let pass = 0; pass < PASSES + 1; pass++) {
  // Pass 0 warms up; implementations take turns within each pass.
  for (const k of cases) {
    for (const [name, c] of implementations) {
      const { ms, packed } = compressAll(c, k.messages);
      const dms = decompressAll(c, packed, k.messages);
      if (pass === 0) continue;
      const key = `${name}|${k.size}|${k.kind}`;
      const s = samples.get(key) ?? { compress: [], decompress: [], ratio: 0 };
      s.compress.push(ms);
      s.decompress.push(dms);
      s.ratio = packed.reduce((n, p) => n + p.length, 0) / (k.size * k.count);
      samples.set(key, s);
    }
  }
  const small = cases[0].messages.slice(0, 1000);
  for (const [name, c] of implementations) {
    for (const how of ["reset", "new"] as const) {
      const ms = noTakeover(c, small, how);
      if (pass === 0) continue;
      const key = `${name}|${how}`;
      resets.set(key, [...(resets.get(key) ?? []), ms]);
    }
  }
}

const rows: string[][] = [];
for (const k of cases) {
  for (const [name] of implementations) {
    const s = samples.get(`${name}|${k.size}|${k.kind}`) as Sample;
    const mb = (k.size * k.count) / 1e6;
    const cMs = median(s.compress);
    const dMs = median(s.decompress);
    const line = {
      runtime,
      implementation: name,
      size: k.size,
      data: k.kind,
      ratio: Number(s.ratio.toFixed(3)),
      compressMsgPerS: Math.round(k.count / cMs * 1000),
      compressMBps: Number((mb / cMs * 1000).toFixed(1)),
      decompressMsgPerS: Math.round(k.count / dMs * 1000),
      decompressMBps: Number((mb / dMs * 1000).toFixed(1)),
    };
    console.log(JSON.stringify(line));
    rows.push([
      name,
      `${k.size === 1024 ? "1 KiB" : "64 KiB"} ${k.kind}`,
      line.ratio.toFixed(2),
      `${line.compressMsgPerS} / ${line.compressMBps}`,
      `${line.decompressMsgPerS} / ${line.decompressMBps}`,
    ]);
  }
}
for (const [name] of implementations) {
  const r = median(resets.get(`${name}|reset`) as number[]);
  const n = median(resets.get(`${name}|new`) as number[]);
  console.log(JSON.stringify({
    runtime,
    implementation: name,
    case: "1 KiB text, no context takeover",
    resetMsgPerS: Math.round(1000 / r * 1000),
    newStreamMsgPerS: Math.round(1000 / n * 1000),
  }));
}

console.log(`\n${runtime}: medians of ${PASSES} passes; messages/s / MB/s (uncompressed)`);
console.log("| implementation | messages | ratio | compress | decompress |");
console.log("| --- | --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
