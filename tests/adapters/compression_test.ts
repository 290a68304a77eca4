// Raw-deflate streams (the ZStream contract): the same cases against every
// implementation in adapters/zlib.ts that this runtime can run: the
// streaming one on node:zlib's internals, and the public-API one-shot
// fallback, with the context carried as a zlib dictionary (where the
// runtime honours one) and as a stored block in front of the input.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compressionKind,
  nodeCompression,
  oneShotCompression,
  privateZlibUsable,
  streamingCompression,
  type ZlibModule,
  zlibTakesDictionary,
} from "../../adapters/zlib.ts";
import type { Compression, ZStream } from "../../src/platform.ts";
import { concat } from "../util.ts";

const enc = new TextEncoder();

const implementations: [string, Compression][] = [
  ...(privateZlibUsable() ? [["streaming", streamingCompression] as [string, Compression]] : []),
  ...(zlibTakesDictionary()
    ? [["one-shot with a dictionary", oneShotCompression({ dictionary: true })] as [string, Compression]]
    : []),
  ["one-shot with a stored window", oneShotCompression({ dictionary: false })],
];

/** Whether `c`'s compressor refers back into earlier messages (all but the one-shot without a dictionary). */
function compressorKeepsContext(c: Compression): boolean {
  const z = c.createDeflateRaw();
  const m = enc.encode("context probe, context probe, context probe");
  const smaller = z.process(m, "sync").length > z.process(m, "sync").length;
  z.close();
  return smaller;
}

const WORDS = "levent event base buffer socket http server client request reply header body chunk timer signal"
  .split(" ");

/** Text-like bytes: words from a small vocabulary, as HTTP or JSON traffic compresses. */
function text(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  let at = 0;
  while (at < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const word = WORDS[x % WORDS.length];
    for (let i = 0; i < word.length && at < size; i++) out[at++] = word.charCodeAt(i);
    if (at < size) out[at++] = 0x20;
  }
  return out;
}

/** Incompressible bytes. */
function random(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function endsWithSyncMarker(bytes: Uint8Array): boolean {
  return Array.from(bytes.subarray(bytes.length - 4)).join(",") === "0,0,255,255";
}

function hex(text: string): Uint8Array {
  return new Uint8Array(text.match(/../g)!.map((h) => parseInt(h, 16)));
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown }).code;
}

/**
 * Two messages from a compressor that kept its context (zlib, level 9): the
 * second is mostly references into the first and does not decode alone.
 */
const TAKEOVER_FIRST = hex(
  "34c8410a80201005d0abfc034407e8042d83bc80a35f90641247836edf42da3d5ee143ed6894914b34942c73b2c2bd956768b9f60d5e" +
    "315fbc71818c94d8ec0723ec0e17bbc16bc4eedcb1e2030000ffff",
);
const TAKEOVER_SECOND = hex("ca21d2689c46e8e0b0554f01000000ffff");
const TAKEOVER_TEXT = [
  "levent rebuilds libevent in TypeScript: an event base, buffers, buffered sockets and HTTP. ",
  "levent rebuilds libevent in TypeScript: buffered sockets and HTTP, an event base, buffers. ",
];

function closeAll(...streams: ZStream[]): void {
  for (const s of streams) s.close();
}

for (const [name, c] of implementations) {
  test(`${name}: a sync flush ends in 00 00 ff ff (an empty message too) and messages round-trip, text and random, 0 to 256 KiB`, () => {
    const deflate = c.createDeflateRaw();
    const inflate = c.createInflateRaw();
    for (const [i, size] of [1024, 65536, 1, 262144, 0, 5000].entries()) {
      for (const message of [text(size, i), random(size, i)]) {
        const packed = deflate.process(message, "sync");
        assert.ok(endsWithSyncMarker(packed), `${size} bytes: ends in 00 00 ff ff`);
        assert.deepEqual(inflate.process(packed, "sync"), message, `${size} bytes back`);
      }
    }
    closeAll(deflate, inflate);
  });

  test(`${name}: the decompressor keeps the context, so a message referring into the one before decodes`, () => {
    const inflate = c.createInflateRaw();
    assert.equal(new TextDecoder().decode(inflate.process(TAKEOVER_FIRST, "sync")), TAKEOVER_TEXT[0]);
    assert.equal(new TextDecoder().decode(inflate.process(TAKEOVER_SECOND, "sync")), TAKEOVER_TEXT[1]);
    const fresh = c.createInflateRaw();
    assert.throws(() => fresh.process(TAKEOVER_SECOND, "sync"), (err) => codeOf(err) === "EZLIB");
    closeAll(inflate, fresh);
  });

  test(`${name}: the compressor's repeat of a message is smaller where it keeps context, and decodes either way`, () => {
    const deflate = c.createDeflateRaw();
    const inflate = c.createInflateRaw();
    const message = text(2000, 7);
    const first = deflate.process(message, "sync");
    const second = deflate.process(message, "sync");
    // Without a dictionary the one-shot compressor packs each flush on its own: valid, only larger.
    if (name !== "one-shot with a stored window") {
      assert.ok(second.length < first.length / 4, `${second.length} vs ${first.length}`);
    }
    assert.deepEqual(inflate.process(first, "sync"), message);
    assert.deepEqual(inflate.process(second, "sync"), message);
    closeAll(deflate, inflate);
  });

  test(`${name}: windowBits 9-15 for the compressor and 8-15 for the decompressor; others are RangeErrors (EINVAL)`, () => {
    for (let bits = 9; bits <= 15; bits++) {
      const deflate = c.createDeflateRaw({ windowBits: bits, level: 9 });
      const inflate = c.createInflateRaw({ windowBits: bits });
      // Messages longer than the window, so that references reach as far back as it allows.
      for (let i = 0; i < 3; i++) {
        const message = text(3 << bits, bits * 10 + i);
        assert.deepEqual(inflate.process(deflate.process(message, "sync"), "sync"), message, `windowBits ${bits}`);
      }
      closeAll(deflate, inflate);
    }
    // A 256-byte window decodes what refers no further back than that.
    const deflate = c.createDeflateRaw({ windowBits: 9 });
    const inflate = c.createInflateRaw({ windowBits: 8 });
    const short = text(200, 3);
    assert.deepEqual(inflate.process(deflate.process(short, "sync"), "sync"), short);
    closeAll(deflate, inflate);
    const bad = (fn: () => unknown, what: string): void =>
      assert.throws(fn, (err) => err instanceof RangeError && codeOf(err) === "EINVAL", what);
    bad(() => c.createDeflateRaw({ windowBits: 8 }), "deflate windowBits 8");
    bad(() => c.createDeflateRaw({ windowBits: 16 }), "deflate windowBits 16");
    bad(() => c.createInflateRaw({ windowBits: 7 }), "inflate windowBits 7");
    bad(() => c.createInflateRaw({ windowBits: 16 }), "inflate windowBits 16");
    bad(() => c.createDeflateRaw({ level: 10 }), "level 10");
    bad(() => c.createDeflateRaw({ level: 1.5 }), "level 1.5");
  });

  test(`${name}: corrupt input throws EZLIB, and the stream stays failed until reset()`, () => {
    const inflate = c.createInflateRaw();
    assert.throws(() => inflate.process(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]), "sync"), (err) => {
      assert.ok(err instanceof Error);
      assert.equal(codeOf(err), "EZLIB");
      return true;
    });
    const deflate = c.createDeflateRaw();
    const good = deflate.process(enc.encode("after the failure"), "sync");
    assert.throws(() => inflate.process(good, "sync"), (err) => codeOf(err) === "EZLIB");
    inflate.reset();
    assert.equal(new TextDecoder().decode(inflate.process(good, "sync")), "after the failure");
    closeAll(deflate, inflate);
  });

  test(`${name}: maxOutput bounds what a small input expands to (EMSGSIZE), and an output at the bound passes`, () => {
    const deflate = c.createDeflateRaw();
    const bomb = deflate.process(new Uint8Array(1 << 20), "sync");
    assert.ok(bomb.length < 2048, `1 MiB of zeros packs into ${bomb.length} bytes`);
    const bounded = c.createInflateRaw();
    assert.throws(() => bounded.process(bomb, "sync", 64 * 1024), (err) => codeOf(err) === "EMSGSIZE");
    assert.throws(() => bounded.process(bomb, "sync"), (err) => codeOf(err) === "EZLIB", "failed until reset()");
    bounded.reset();
    assert.equal(bounded.process(bomb, "sync", 1 << 20).length, 1 << 20);
    // The bound is per call: the next message has its own.
    const next = deflate.process(new Uint8Array(1000), "sync");
    assert.throws(() => bounded.process(next, "sync", 999), (err) => codeOf(err) === "EMSGSIZE");
    const zero = c.createInflateRaw();
    assert.throws(() => zero.process(bomb, "sync", 0), (err) => codeOf(err) === "EMSGSIZE");
    closeAll(deflate, bounded, zero);
  });

  test(`${name}: reset() forgets the context: the output matches a fresh stream's, and a fresh stream decodes`, () => {
    const deflate = c.createDeflateRaw();
    const message = text(3000, 11);
    const first = deflate.process(message, "sync");
    deflate.process(message, "sync");
    deflate.reset();
    assert.deepEqual(deflate.process(message, "sync"), first);
    const inflate = c.createInflateRaw();
    assert.deepEqual(inflate.process(first, "sync"), message);
    inflate.reset();
    assert.deepEqual(inflate.process(first, "sync"), message, "decodes a new stream after reset");
    closeAll(deflate, inflate);
  });

  test(`${name}: input given with "none" comes out by the next "sync"; the decompressor takes any split of its input`, () => {
    const parts = [text(10000, 1), random(3000, 2), text(70000, 3)];
    const whole = concat(parts);
    for (const piece of [997, 61, Infinity]) {
      const deflate = c.createDeflateRaw();
      const packed: Uint8Array[] = [];
      packed.push(deflate.process(parts[0], "none"));
      packed.push(deflate.process(parts[1], "none"));
      packed.push(deflate.process(parts[2], "sync"));
      const stream = concat(packed);
      assert.ok(endsWithSyncMarker(stream));
      const inflate = c.createInflateRaw();
      const out: Uint8Array[] = [];
      for (let at = 0; at < stream.length; at += piece) {
        out.push(inflate.process(stream.subarray(at, at + piece), "sync"));
      }
      assert.deepEqual(concat(out), whole, `pieces of ${piece}`);
      // The context carries on after a message that arrived in pieces.
      const again = deflate.process(parts[0], "sync");
      const back: Uint8Array[] = [];
      for (let at = 0; at < again.length; at += piece) {
        back.push(inflate.process(again.subarray(at, at + piece), "sync"));
      }
      assert.deepEqual(concat(back), parts[0], `a message after pieces of ${piece}`);
      closeAll(deflate, inflate);
    }
  });

  test(`${name}: "finish" ends the stream; later input throws EZLIB until reset(), and close() is final`, () => {
    const deflate = c.createDeflateRaw();
    const inflate = c.createInflateRaw();
    const message = text(500, 5);
    const packed = deflate.process(message, "finish");
    assert.deepEqual(inflate.process(packed, "finish"), message);
    assert.throws(() => deflate.process(message, "sync"), (err) => codeOf(err) === "EZLIB");
    assert.throws(() => inflate.process(packed, "sync"), (err) => codeOf(err) === "EZLIB");
    deflate.reset();
    inflate.reset();
    assert.deepEqual(inflate.process(deflate.process(message, "sync"), "sync"), message);
    deflate.close();
    assert.throws(() => deflate.process(message, "sync"), (err) => codeOf(err) === "EZLIB");
    inflate.close();
  });

  test(`${name}: what process() returns is the caller's: the next call does not overwrite it`, () => {
    const deflate = c.createDeflateRaw();
    const inflate = c.createInflateRaw();
    const a = text(20000, 1);
    const b = random(20000, 2);
    const outA = inflate.process(deflate.process(a, "sync"), "sync");
    const outB = inflate.process(deflate.process(b, "sync"), "sync");
    assert.deepEqual(outA, a);
    assert.deepEqual(outB, b);
    closeAll(deflate, inflate);
  });
}

test("the implementations understand each other: each compressor's stream, context and all, decodes with each decompressor", () => {
  for (const [from, cf] of implementations) {
    for (const [to, ct] of implementations) {
      const deflate = cf.createDeflateRaw({ windowBits: 12 });
      const inflate = ct.createInflateRaw({ windowBits: 12 });
      for (let i = 0; i < 4; i++) {
        const message = i % 2 === 0 ? text(9000, i) : random(1500, i);
        assert.deepEqual(inflate.process(deflate.process(message, "sync"), "sync"), message, `${from} -> ${to}`);
      }
      closeAll(deflate, inflate);
    }
  }
});

test("the feature test passes on this runtime's node:zlib, so the adapters use the streaming implementation", () => {
  assert.equal(privateZlibUsable(), true);
  assert.equal(compressionKind(), "streaming");
  const z = nodeCompression.createDeflateRaw();
  assert.ok(endsWithSyncMarker(z.process(enc.encode("adapter"), "sync")));
  z.close();
  assert.ok(compressorKeepsContext(nodeCompression));
});

test("the feature test fails, and the one-shot fallback would be used, when node:zlib's internals change", async () => {
  const zlib = (await import("node:zlib")).default;
  const withInternals = (patch: (z: Record<string, unknown>) => void): ZlibModule => ({
    createDeflateRaw: (o) => {
      const z = zlib.createDeflateRaw(o) as unknown as Record<string, unknown>;
      patch(z);
      return z;
    },
    createInflateRaw: (o) => {
      const z = zlib.createInflateRaw(o) as unknown as Record<string, unknown>;
      patch(z);
      return z;
    },
  });
  assert.equal(privateZlibUsable(withInternals(() => {})), true, "unchanged internals pass");
  assert.equal(
    privateZlibUsable(withInternals((z) => {
      z._processChunk = undefined;
    })),
    false,
    "no _processChunk",
  );
  assert.equal(
    privateZlibUsable(withInternals((z) => z._processChunk = () => new Uint8Array(0))),
    false,
    "a _processChunk that returns nothing",
  );
  assert.equal(
    privateZlibUsable(withInternals((z) => {
      z._handle = null;
    })),
    false,
    "no native handle",
  );
  assert.equal(
    privateZlibUsable(
      withInternals((z) =>
        Object.defineProperty(z, "_maxOutputLength", { get: () => Infinity, set: () => {}, configurable: true })
      ),
    ),
    false,
    "an output bound that is not honoured",
  );
});

// ---------------------------------------------------------------------------
// The HTTP content codings: createEncoder / createDecoder and the formats list.

import zlibModule from "node:zlib";
import { type CodingModule, privateFormatUsable } from "../../adapters/zlib.ts";
import type { CompressionFormat } from "../../src/platform.ts";

/** node:zlib's own one-shot functions: what every other gzip, zlib or Brotli implementation agrees with. */
const THEIRS: Record<string, { encode(b: Uint8Array): Uint8Array; decode(b: Uint8Array): Uint8Array }> = {
  gzip: { encode: (b) => plain(zlibModule.gzipSync(b)), decode: (b) => plain(zlibModule.gunzipSync(b)) },
  deflate: { encode: (b) => plain(zlibModule.deflateSync(b)), decode: (b) => plain(zlibModule.inflateSync(b)) },
  "deflate-raw": {
    encode: (b) => plain(zlibModule.deflateRawSync(b)),
    decode: (b) => plain(zlibModule.inflateRawSync(b)),
  },
  br: {
    encode: (b) => plain(zlibModule.brotliCompressSync(b)),
    decode: (b) => plain(zlibModule.brotliDecompressSync(b)),
  },
};

/** A Buffer's bytes as a plain Uint8Array, so deepEqual compares bytes only. */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const formats = nodeCompression.formats;
const runtimeName = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";

test("the formats list: gzip, deflate and deflate-raw everywhere; br on Node and Bun, not on Deno (its Brotli decoder misses corrupt input)", () => {
  for (const f of ["gzip", "deflate", "deflate-raw"] as const) assert.ok(formats.includes(f), f);
  assert.equal(formats.includes("br"), runtimeName !== "deno");
  assert.deepEqual(oneShotCompression().formats, ["deflate-raw"], "the public-API fallback has raw deflate only");
  assert.ok(Object.isFrozen(formats));
});

for (const format of formats) {
  test(`${format}: a stream in pieces, each sync-flushed, decodes piece by piece and is the real format at its end`, () => {
    const parts = [text(5000, 1), random(2000, 2), text(70000, 3), new Uint8Array(0), text(10, 4)];
    const encoder = nodeCompression.createEncoder(format, { level: format === "br" ? 4 : 6 });
    const decoder = nodeCompression.createDecoder(format);
    const coded: Uint8Array[] = [];
    for (const part of parts) {
      const out = encoder.process(part, "sync");
      coded.push(out);
      // A sync flush lets the other side decode everything so far at once.
      assert.deepEqual(decoder.process(out, "sync"), part, `${part.length} bytes, decoded at once`);
    }
    const tail = encoder.process(new Uint8Array(0), "finish");
    coded.push(tail);
    assert.equal(decoder.process(tail, "finish").length, 0);
    assert.deepEqual(THEIRS[format].decode(concat(coded)), concat(parts), "node:zlib's one-shot decoder reads it");
    closeAll(encoder, decoder);
  });

  test(`${format}: the decoder reads node:zlib's one-shot output in any split, and "none" holds nothing back at "finish"`, () => {
    const message = concat([text(40000, 5), random(3000, 6)]);
    const coded = THEIRS[format].encode(message);
    for (const piece of [1, 7, 1000, Infinity]) {
      const decoder = nodeCompression.createDecoder(format);
      const out: Uint8Array[] = [];
      for (let at = 0; at < coded.length; at += piece) {
        const last = at + piece >= coded.length;
        out.push(decoder.process(coded.subarray(at, at + piece), last ? "finish" : "sync"));
      }
      assert.deepEqual(concat(out), message, `pieces of ${piece}`);
      decoder.close();
    }
    const encoder = nodeCompression.createEncoder(format);
    const held = [
      encoder.process(message.subarray(0, 10000), "none"),
      encoder.process(message.subarray(10000), "finish"),
    ];
    assert.deepEqual(THEIRS[format].decode(concat(held)), message);
    encoder.close();
  });

  test(`${format}: corrupt input, and input that ends inside the stream at "finish", throw EZLIB`, () => {
    const coded = THEIRS[format].encode(text(3000, 7));
    const corrupt = coded.slice();
    // Past the header, so that the decoder meets it inside the data.
    for (let i = Math.min(12, coded.length - 8); i < coded.length; i++) corrupt[i] ^= 0x5a;
    const a = nodeCompression.createDecoder(format);
    assert.throws(() => a.process(corrupt, "finish"), (err) => codeOf(err) === "EZLIB");
    const b = nodeCompression.createDecoder(format);
    assert.throws(() => b.process(coded.subarray(0, coded.length >> 1), "finish"), (err) => codeOf(err) === "EZLIB");
    closeAll(a, b);
  });

  test(`${format}: maxOutput bounds what a small input expands to (EMSGSIZE); reset() starts a new stream after "finish"`, () => {
    const bomb = THEIRS[format].encode(new Uint8Array(4 << 20));
    assert.ok(bomb.length < 8192, `4 MiB of zeros packs into ${bomb.length} bytes`);
    const decoder = nodeCompression.createDecoder(format);
    assert.throws(() => decoder.process(bomb, "finish", 1 << 20), (err) => codeOf(err) === "EMSGSIZE");
    decoder.reset();
    assert.equal(decoder.process(bomb, "finish", 4 << 20).length, 4 << 20);
    const encoder = nodeCompression.createEncoder(format);
    const message = text(2000, 8);
    const first = encoder.process(message, "finish");
    assert.throws(() => encoder.process(message, "sync"), (err) => codeOf(err) === "EZLIB", "finished until reset()");
    encoder.reset();
    const second = encoder.process(message, "finish");
    assert.deepEqual(THEIRS[format].decode(second), message);
    assert.deepEqual(THEIRS[format].decode(first), message);
    decoder.reset();
    assert.deepEqual(decoder.process(second, "finish"), message, "a reset decoder reads a new stream");
    closeAll(encoder, decoder);
  });
}

test("createEncoder's level: 0-9 for the deflate formats, 0-11 for br; bad levels and unknown formats are RangeErrors (EINVAL)", () => {
  const bad = (fn: () => unknown, what: string): void =>
    assert.throws(fn, (err) => err instanceof RangeError && codeOf(err) === "EINVAL", what);
  for (const format of formats) {
    const max = format === "br" ? 11 : 9;
    nodeCompression.createEncoder(format, { level: 0 }).close();
    nodeCompression.createEncoder(format, { level: max }).close();
    bad(() => nodeCompression.createEncoder(format, { level: max + 1 }), `${format} level ${max + 1}`);
    bad(() => nodeCompression.createEncoder(format, { level: 2.5 }), `${format} level 2.5`);
  }
  bad(() => nodeCompression.createEncoder("zstd" as CompressionFormat), "zstd");
  bad(() => nodeCompression.createDecoder("compress" as CompressionFormat), "compress");
  if (!formats.includes("br")) {
    bad(() => nodeCompression.createDecoder("br"), "br where it is not listed");
  }
  bad(() => oneShotCompression().createEncoder("gzip"), "gzip on the one-shot fallback");
  const raw = oneShotCompression().createEncoder("deflate-raw", { level: 9 });
  assert.deepEqual(plain(zlibModule.inflateRawSync(raw.process(text(500, 9), "finish"))), text(500, 9));
  raw.close();
});

test("a coding's feature test fails, and the format leaves the list, when node:zlib's internals change for it", () => {
  const doctored = (patch: (z: Record<string, unknown>) => void): CodingModule => {
    const wrap = <A extends unknown[]>(make: (...args: A) => unknown) => (...args: A): unknown => {
      const z = make(...args) as Record<string, unknown>;
      patch(z);
      return z;
    };
    return {
      createGzip: wrap((o: { level: number }) => zlibModule.createGzip(o)),
      createGunzip: wrap(() => zlibModule.createGunzip()),
      createDeflate: wrap((o: { level: number }) => zlibModule.createDeflate(o)),
      createInflate: wrap(() => zlibModule.createInflate()),
      createBrotliCompress: wrap((o: { params: Record<number, number> }) => zlibModule.createBrotliCompress(o)),
      createBrotliDecompress: wrap(() => zlibModule.createBrotliDecompress()),
    };
  };
  for (const format of ["gzip", "deflate"] as const) {
    assert.equal(privateFormatUsable(format, doctored(() => {})), true, `${format}: unchanged internals pass`);
    assert.equal(
      privateFormatUsable(
        format,
        doctored((z) => {
          z._processChunk = undefined;
        }),
      ),
      false,
      `${format}: no _processChunk`,
    );
    assert.equal(
      privateFormatUsable(
        format,
        doctored((z) => {
          z._handle = null;
        }),
      ),
      false,
      `${format}: no native handle`,
    );
  }
  const { createBrotliCompress: _, createBrotliDecompress: __, ...noBrotli } = doctored(() => {});
  assert.equal(privateFormatUsable("br", noBrotli), false, "a node:zlib without Brotli");
  assert.equal(privateFormatUsable("deflate-raw"), true, "raw deflate has its own fallback");
});
