/**
 * Raw-deflate streams (the {@linkcode Compression} contract) for every
 * adapter, over `node:zlib`: Node, Deno and Bun all provide it, and none has
 * another synchronous deflate (`CompressionStream` is asynchronous and
 * cannot flush to a byte boundary mid-stream).
 *
 * Two implementations:
 * - {@linkcode streamingCompression}: one zlib stream per {@linkcode ZStream},
 *   driven synchronously through node:zlib's internal `_processChunk` (what
 *   zlib's own `*Sync` functions run on) with its native handle kept open
 *   between calls, and `_maxOutputLength` for the output bound. Fast, but
 *   not public API: a runtime update may change it.
 * - {@linkcode oneShotCompression}: public API only. Each flush is one
 *   `deflateRawSync` / `inflateRawSync` call ending in a sync flush, and the
 *   context travels from message to message as the last window of data: a
 *   preset dictionary where the runtime's zlib honours one (Node, Bun), and
 *   for the decompressor elsewhere (Deno ignores `dictionary`) a stored
 *   block holding that window, put before the input and cut from the output.
 *
 * {@linkcode nodeCompression}, which the adapters use, takes the streaming
 * one when a feature test, run once on first use, shows that the private
 * API still does everything this module relies on; else the one-shot one.
 *
 * The HTTP content codings (gzip, zlib's deflate, Brotli: the
 * {@linkcode Compression.createEncoder} side of the contract) run on the
 * same private path only. Each format has its own feature test, run once
 * when {@linkcode Compression.formats} is first read; a format that fails
 * it is left out of the list, so HTTP neither asks for nor sends it, rather
 * than running on a slow public-API copy.
 *
 * @module
 */
import { constants as bufferConstants } from "node:buffer";
import zlib from "node:zlib";
import type {
  Compression,
  CompressionEncoderOptions,
  CompressionFormat,
  FlushMode,
  ZStream,
  ZStreamOptions,
} from "../src/platform.ts";
import { type CodedError, codedError } from "./node_shared.ts";

const EMPTY = new Uint8Array(0);
/** `00 00 ff ff`: the empty stored block a sync flush ends with. */
const SYNC_MARKER = [0x00, 0x00, 0xff, 0xff] as const;
const DEFAULT_LEVEL = 6;
const DEFAULT_WINDOW_BITS = 15;

const FLUSH: Record<FlushMode, number> = {
  none: zlib.constants.Z_NO_FLUSH,
  sync: zlib.constants.Z_SYNC_FLUSH,
  finish: zlib.constants.Z_FINISH,
};

/** Brotli's operations for the same three flushes. */
const BROTLI_FLUSH: Record<FlushMode, number> = {
  none: zlib.constants.BROTLI_OPERATION_PROCESS,
  sync: zlib.constants.BROTLI_OPERATION_FLUSH,
  finish: zlib.constants.BROTLI_OPERATION_FINISH,
};

/** Where a stream is: usable, ended by a `"finish"` flush, broken by an error, or released. */
type StreamState = "open" | "finished" | "failed" | "closed";

function invalid(message: string): CodedError {
  const err = new RangeError(message) as RangeError & CodedError;
  err.code = "EINVAL";
  return err;
}

/** The options, checked against the contract's ranges, with their defaults. */
function checkOptions(options: ZStreamOptions, deflate: boolean): { level: number; windowBits: number } {
  const level = options.level ?? DEFAULT_LEVEL;
  const windowBits = options.windowBits ?? DEFAULT_WINDOW_BITS;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw invalid(`level must be an integer 0-9, got ${level}`);
  const min = deflate ? 9 : 8;
  if (!Number.isInteger(windowBits) || windowBits < min || windowBits > 15) {
    throw invalid(`windowBits must be an integer ${min}-15, got ${windowBits}`);
  }
  return { level, windowBits };
}

/** The bound for one call: a non-negative number, Infinity when none was given. */
function checkMaxOutput(maxOutput: number | undefined): number {
  if (maxOutput === undefined) return Infinity;
  if (!(maxOutput >= 0)) throw invalid(`maxOutput must be a number >= 0, got ${maxOutput}`);
  return maxOutput;
}

function notOpen(state: StreamState): CodedError {
  const why = state === "closed" ? "closed" : state === "finished" ? "finished" : "failed (reset() it)";
  return codedError(`the compression stream is ${why}`, "EZLIB");
}

function tooLarge(limit: number): CodedError {
  return codedError(`the output would pass maxOutput (${limit} bytes)`, "EMSGSIZE");
}

/** A zlib failure as the contract's error: EMSGSIZE for the output bound, else EZLIB. */
function zlibError(err: unknown, limit: number): CodedError {
  if ((err as { code?: unknown } | null)?.code === "ERR_BUFFER_TOO_LARGE") return tooLarge(limit);
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = codedError(`zlib: ${message}`, "EZLIB");
  wrapped.cause = err;
  return wrapped;
}

/** A plain Uint8Array over a Buffer zlib returned, so that `slice()` copies as callers expect. */
function plain(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

// ---------------------------------------------------------------------------
// Streaming: node:zlib's internal synchronous chunk processing.

/**
 * The internals of a node:zlib stream this module drives: `_processChunk`
 * (the synchronous core of zlib's `*Sync` functions), the native `_handle`,
 * which those one-shot functions close after their single chunk (keeping it
 * open is what lets a stream span messages), and `_maxOutputLength`, which
 * bounds one call's output.
 */
interface InternalZlib {
  _processChunk(chunk: Uint8Array, flushFlag: number): Uint8Array;
  _handle: { close(): void } | null;
  _maxOutputLength: number;
  reset(): void;
  close(): void;
  removeAllListeners(event: "error"): void;
  on(event: "error", fn: () => void): void;
}

/** The node:zlib functions this module uses; a test passes a doctored one to the feature test. */
export interface ZlibModule {
  /** `zlib.createDeflateRaw`. */
  createDeflateRaw(options: { level: number; windowBits: number }): unknown;
  /** `zlib.createInflateRaw`. */
  createInflateRaw(options: { windowBits: number }): unknown;
}

function noop(): void {}

/**
 * An empty stored block (`00`, then `00 00 ff ff`): what a sync flush
 * writes, and what zlib leaves out when nothing came in since the last
 * flush. Sent in its place, so that every sync flush ends in the marker.
 */
const EMPTY_SYNC_FLUSH = [0x00, 0x00, 0x00, 0xff, 0xff] as const;

/** How a {@linkcode StreamingZStream} drives its kind of zlib stream. */
interface StreamingKind {
  /** The flush flags of the library behind it (zlib's or Brotli's). */
  readonly flush: Record<FlushMode, number>;
  /** A raw-deflate compressor: every sync flush ends in `00 00 ff ff`, an empty one too. */
  readonly syncMarker: boolean;
  /** reset() makes a new stream: node:zlib's reset() does not restart Brotli (and Deno's not its decoder). */
  readonly reopen: boolean;
}

const RAW_DEFLATE: StreamingKind = { flush: FLUSH, syncMarker: true, reopen: false };
const RAW_INFLATE: StreamingKind = { flush: FLUSH, syncMarker: false, reopen: false };
const ZLIB_CODING: StreamingKind = { flush: FLUSH, syncMarker: false, reopen: false };
const BROTLI_CODING: StreamingKind = { flush: BROTLI_FLUSH, syncMarker: false, reopen: true };

class StreamingZStream implements ZStream {
  readonly #create: () => InternalZlib;
  readonly #kind: StreamingKind;
  #z: InternalZlib;
  #defaultMax: number;
  #state: StreamState = "open";

  constructor(create: () => InternalZlib, kind: StreamingKind) {
    this.#create = create;
    this.#kind = kind;
    this.#z = this.#open();
    this.#defaultMax = this.#z._maxOutputLength;
  }

  #open(): InternalZlib {
    const z = this.#create();
    if (typeof z._processChunk !== "function" || z._handle === null || typeof z._handle?.close !== "function") {
      throw codedError("node:zlib has no synchronous chunk processing here", "EZLIB");
    }
    // A failed chunk also emits "error" later; unheard, that would crash the process.
    z.on("error", noop);
    return z;
  }

  process(bytes: Uint8Array, flush: FlushMode, maxOutput?: number): Uint8Array {
    const limit = checkMaxOutput(maxOutput);
    if (this.#state !== "open") throw notOpen(this.#state);
    const z = this.#z;
    const handle = z._handle as { close(): void };
    // The synchronous path closes the handle when it finishes or fails: keep it for the next chunk.
    const close = handle.close;
    handle.close = noop;
    z._maxOutputLength = limit === Infinity ? this.#defaultMax : limit;
    let out: Uint8Array;
    try {
      out = z._processChunk(bytes, this.#kind.flush[flush]);
    } catch (err) {
      this.#state = "failed";
      throw zlibError(err, limit);
    } finally {
      handle.close = close;
      z._handle = handle;
      // Each synchronous call adds an "error" listener of its own; keep only ours.
      z.removeAllListeners("error");
      z.on("error", noop);
    }
    if (flush === "finish") this.#state = "finished";
    if (out.length === 0) {
      if (!this.#kind.syncMarker || flush !== "sync") return EMPTY;
      if (limit < EMPTY_SYNC_FLUSH.length) {
        this.#state = "failed";
        throw tooLarge(limit);
      }
      return new Uint8Array(EMPTY_SYNC_FLUSH);
    }
    // The result can be a view of zlib's output buffer, which the next call reuses: copy it.
    return new Uint8Array(out);
  }

  reset(): void {
    if (this.#state === "closed") return;
    if (this.#state === "failed" || this.#kind.reopen) {
      // node:zlib keeps the error of a failed chunk and throws it again on every later one: start afresh.
      this.#z.close();
      this.#z = this.#open();
    } else {
      this.#z.reset();
    }
    this.#state = "open";
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#z.close();
  }
}

function streamingFrom(module: ZlibModule): Compression {
  const codings = codingsFrom(zlib as unknown as CodingModule, () => CODING_FORMATS);
  return {
    createDeflateRaw(options: ZStreamOptions = {}): ZStream {
      const { level, windowBits } = checkOptions(options, true);
      return new StreamingZStream(() => module.createDeflateRaw({ level, windowBits }) as InternalZlib, RAW_DEFLATE);
    },
    createInflateRaw(options: ZStreamOptions = {}): ZStream {
      const { windowBits } = checkOptions(options, false);
      return new StreamingZStream(() => module.createInflateRaw({ windowBits }) as InternalZlib, RAW_INFLATE);
    },
    get formats(): readonly CompressionFormat[] {
      return ALL_FORMATS;
    },
    createEncoder(format: CompressionFormat, options?: CompressionEncoderOptions): ZStream {
      if (format !== "deflate-raw") return codings.createEncoder(format, options);
      return this.createDeflateRaw({ level: checkEncoderOptions(format, options) });
    },
    createDecoder(format: CompressionFormat): ZStream {
      return format === "deflate-raw" ? this.createInflateRaw() : codings.createDecoder(format);
    },
  };
}

/**
 * Compression streams over node:zlib's internal synchronous chunk
 * processing (`_processChunk`, `_handle`, `_maxOutputLength`), every format
 * listed whether or not it works here. Use {@linkcode nodeCompression},
 * which checks first that this works.
 */
export const streamingCompression: Compression = streamingFrom(zlib as unknown as ZlibModule);

// ---------------------------------------------------------------------------
// One-shot: public API only.

/** The last `size` bytes of a stream's data (its window), kept contiguous for zlib. */
class History {
  readonly #size: number;
  /** Twice the window, so that appending rarely has to move the kept bytes. */
  #buf: Uint8Array = EMPTY;
  #end = 0;

  constructor(size: number) {
    this.#size = size;
  }

  get length(): number {
    return Math.min(this.#end, this.#size);
  }

  /** The window: the last `length` bytes, as a view valid until the next append. */
  view(): Uint8Array {
    return this.#buf.subarray(this.#end - this.length, this.#end);
  }

  append(bytes: Uint8Array): void {
    const size = this.#size;
    const n = bytes.length;
    if (n === 0) return;
    if (this.#buf.length === 0) this.#buf = new Uint8Array(2 * size);
    if (n >= size) {
      this.#buf.set(bytes.subarray(n - size));
      this.#end = size;
      return;
    }
    if (this.#end + n > this.#buf.length) {
      const keep = size - n;
      this.#buf.copyWithin(0, this.#end - keep, this.#end);
      this.#end = keep;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += n;
  }

  clear(): void {
    this.#end = 0;
  }
}

/** Collects the input of a `"none"` flush until the next flush; the stream keeps its own copies. */
class Pending {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes.slice());
    this.#length += bytes.length;
  }

  /** Everything kept plus `bytes`, in one buffer (`bytes` itself when nothing is kept), after `room` spare bytes. */
  join(bytes: Uint8Array, room = 0): Uint8Array {
    if (this.#length === 0 && room === 0) return bytes;
    const out = new Uint8Array(room + this.#length + bytes.length);
    let at = room;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    out.set(bytes, at);
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}

/** zlib's `maxOutputLength` for a bound, or undefined for none (the option takes 1 to the buffer limit). */
function maxOutputLength(limit: number): number | undefined {
  return limit === Infinity ? undefined : Math.min(Math.max(1, Math.ceil(limit)), bufferConstants.MAX_LENGTH);
}

class OneShotDeflate implements ZStream {
  readonly #level: number;
  readonly #windowBits: number;
  /** The data compressed so far (its last window), offered as the next call's dictionary; undefined without one. */
  readonly #history: History | undefined;
  readonly #pending = new Pending();
  #state: StreamState = "open";

  constructor(level: number, windowBits: number, dictionary: boolean) {
    this.#level = level;
    this.#windowBits = windowBits;
    this.#history = dictionary ? new History(1 << windowBits) : undefined;
  }

  process(bytes: Uint8Array, flush: FlushMode, maxOutput?: number): Uint8Array {
    const limit = checkMaxOutput(maxOutput);
    if (this.#state !== "open") throw notOpen(this.#state);
    if (flush === "none") {
      this.#pending.keep(bytes);
      return EMPTY;
    }
    const input = this.#pending.join(bytes);
    const history = this.#history;
    let out: Uint8Array;
    try {
      out = zlib.deflateRawSync(input, {
        level: this.#level,
        windowBits: this.#windowBits,
        finishFlush: FLUSH[flush],
        dictionary: history !== undefined && history.length > 0 ? history.view() : undefined,
        maxOutputLength: maxOutputLength(limit),
      });
    } catch (err) {
      this.#state = "failed";
      throw zlibError(err, limit);
    }
    if (out.length > limit) {
      this.#state = "failed";
      throw tooLarge(limit);
    }
    this.#pending.clear();
    history?.append(input);
    if (flush === "finish") this.#state = "finished";
    return plain(out);
  }

  reset(): void {
    if (this.#state === "closed") return;
    this.#pending.clear();
    this.#history?.clear();
    this.#state = "open";
  }

  close(): void {
    this.#state = "closed";
    this.#pending.clear();
    this.#history?.clear();
  }
}

/** A stored-block header: BFINAL 0, BTYPE 00, padded to the byte, then LEN and its complement. */
function writeStoredHeader(into: Uint8Array, length: number): void {
  into[0] = 0;
  into[1] = length & 0xff;
  into[2] = length >>> 8;
  into[3] = ~length & 0xff;
  into[4] = (~length >>> 8) & 0xff;
}

const STORED_HEADER = 5;

function endsWithSyncMarker(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 4] === SYNC_MARKER[0] && bytes[n - 3] === SYNC_MARKER[1] &&
    bytes[n - 2] === SYNC_MARKER[2] && bytes[n - 1] === SYNC_MARKER[3];
}

/**
 * The one-shot decompressor. Input since the last flush point (the end of
 * the last input that ended in `00 00 ff ff`) is decoded as one stream
 * behind the window of output before it. A `"sync"` that falls elsewhere
 * (inside a block, as a socket's reads may) returns what decodes so far and
 * keeps that input, to decode it again with what follows.
 */
class OneShotInflate implements ZStream {
  readonly #windowBits: number;
  readonly #dictionary: boolean;
  /** The output before the last flush point: its last window. */
  readonly #history: History;
  /** Input since the last flush point. */
  readonly #pending = new Pending();
  /** Output already returned for the pending input. */
  #emitted = 0;
  #state: StreamState = "open";

  constructor(windowBits: number, dictionary: boolean) {
    this.#windowBits = windowBits;
    this.#dictionary = dictionary;
    this.#history = new History(1 << windowBits);
  }

  process(bytes: Uint8Array, flush: FlushMode, maxOutput?: number): Uint8Array {
    const limit = checkMaxOutput(maxOutput);
    if (this.#state !== "open") throw notOpen(this.#state);
    if (flush === "none") {
      this.#pending.keep(bytes);
      return EMPTY;
    }
    const history = this.#history;
    // Without a dictionary the window goes in front as a stored block, and its bytes come out first.
    const skip = this.#dictionary ? 0 : history.length;
    const input = this.#pending.join(bytes, this.#dictionary ? 0 : STORED_HEADER + skip);
    if (!this.#dictionary) {
      writeStoredHeader(input, skip);
      input.set(history.view(), STORED_HEADER);
    }
    const before = skip + this.#emitted;
    let out: Uint8Array;
    try {
      out = zlib.inflateRawSync(input, {
        windowBits: this.#windowBits,
        finishFlush: FLUSH[flush],
        dictionary: this.#dictionary && history.length > 0 ? history.view() : undefined,
        maxOutputLength: maxOutputLength(before + limit),
      });
    } catch (err) {
      this.#state = "failed";
      throw zlibError(err, limit);
    }
    const fresh = out.subarray(before);
    if (fresh.length > limit) {
      this.#state = "failed";
      throw tooLarge(limit);
    }
    if (flush === "finish") {
      this.#state = "finished";
    } else if (endsWithSyncMarker(input)) {
      history.append(out.subarray(skip));
      this.#pending.clear();
      this.#emitted = 0;
    } else {
      // Not a flush point: keep this input and decode it again, with what follows, next time.
      this.#pending.keep(bytes);
      this.#emitted += fresh.length;
    }
    return fresh.length === 0 ? EMPTY : plain(fresh);
  }

  reset(): void {
    if (this.#state === "closed") return;
    this.#pending.clear();
    this.#history.clear();
    this.#emitted = 0;
    this.#state = "open";
  }

  close(): void {
    this.#state = "closed";
    this.#pending.clear();
    this.#history.clear();
  }
}

let dictionaryHonoured: boolean | undefined;

/**
 * Whether this runtime's `deflateRawSync` and `inflateRawSync` use the
 * `dictionary` option (Node and Bun do; Deno 2.9 ignores it). Tested once.
 */
export function zlibTakesDictionary(): boolean {
  if (dictionaryHonoured !== undefined) return dictionaryHonoured;
  try {
    const sample = new TextEncoder().encode("levent dictionary probe: levent dictionary probe");
    const plainOut = zlib.deflateRawSync(sample, { finishFlush: FLUSH.sync });
    const withDict = zlib.deflateRawSync(sample, { finishFlush: FLUSH.sync, dictionary: sample });
    const back = zlib.inflateRawSync(withDict, { finishFlush: FLUSH.sync, dictionary: sample });
    dictionaryHonoured = withDict.length < plainOut.length && sameBytes(back, sample);
  } catch {
    dictionaryHonoured = false;
  }
  return dictionaryHonoured;
}

/** Options for {@linkcode oneShotCompression}. */
export interface OneShotOptions {
  /**
   * Carry the context in zlib's `dictionary` option. Default: where the
   * runtime honours it ({@linkcode zlibTakesDictionary}). Without it the
   * decompressor puts the window in front of its input as a stored block,
   * and the compressor compresses each flush on its own (valid output that
   * refers to no earlier message; only the ratio suffers).
   */
  readonly dictionary?: boolean;
}

/**
 * Raw-deflate streams on public node:zlib API only: one `deflateRawSync` or
 * `inflateRawSync` per flush, the context carried as the last window of
 * data. A `"none"` flush keeps its input until the next flush.
 */
export function oneShotCompression(options: OneShotOptions = {}): Compression {
  const dictionary = options.dictionary ?? zlibTakesDictionary();
  return {
    createDeflateRaw(opts: ZStreamOptions = {}): ZStream {
      const { level, windowBits } = checkOptions(opts, true);
      return new OneShotDeflate(level, windowBits, dictionary);
    },
    createInflateRaw(opts: ZStreamOptions = {}): ZStream {
      const { windowBits } = checkOptions(opts, false);
      return new OneShotInflate(windowBits, dictionary);
    },
    // Public API has no synchronous streaming gzip or Brotli: raw deflate only.
    formats: ["deflate-raw"],
    createEncoder(format: CompressionFormat, options?: CompressionEncoderOptions): ZStream {
      checkFormat(format, ["deflate-raw"]);
      return new OneShotDeflate(checkEncoderOptions(format, options), DEFAULT_WINDOW_BITS, dictionary);
    },
    createDecoder(format: CompressionFormat): ZStream {
      checkFormat(format, ["deflate-raw"]);
      return new OneShotInflate(DEFAULT_WINDOW_BITS, dictionary);
    },
  };
}

// ---------------------------------------------------------------------------
// The choice.

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function failsWith(fn: () => unknown, code: string): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return (err as { code?: unknown }).code === code;
  }
}

/**
 * Whether `compression` keeps every promise of the contract this module
 * relies on: sync flush, context across messages, reset, the output bound
 * and corrupt-input errors.
 */
function keepsContract(compression: Compression): boolean {
  const sample = new TextEncoder().encode("levent feature probe, levent feature probe, levent feature probe");
  const deflate = compression.createDeflateRaw();
  const inflate = compression.createInflateRaw();
  const bounded = compression.createInflateRaw();
  const corrupt = compression.createInflateRaw();
  try {
    const first = deflate.process(sample, "sync");
    const second = deflate.process(sample, "sync");
    deflate.reset();
    const third = deflate.process(sample, "sync");
    return endsWithSyncMarker(first) && endsWithSyncMarker(second) && second.length < first.length &&
      sameBytes(third, first) &&
      sameBytes(inflate.process(first, "sync"), sample) && sameBytes(inflate.process(second, "sync"), sample) &&
      failsWith(() => bounded.process(first, "sync", 8), "EMSGSIZE") &&
      failsWith(() => corrupt.process(new Uint8Array([0xff, 0xff, 0xff, 0xff]), "sync"), "EZLIB");
  } finally {
    deflate.close();
    inflate.close();
    bounded.close();
    corrupt.close();
  }
}

let privateUsable: boolean | undefined;

/**
 * The feature test: whether node:zlib's internals (see
 * {@linkcode streamingCompression}) work here as this module needs. Run
 * once for the runtime's node:zlib; a test passes a doctored module.
 */
export function privateZlibUsable(module?: ZlibModule): boolean {
  if (module === undefined && privateUsable !== undefined) return privateUsable;
  let usable: boolean;
  try {
    usable = keepsContract(module === undefined ? streamingCompression : streamingFrom(module));
  } catch {
    usable = false;
  }
  if (module === undefined) privateUsable = usable;
  return usable;
}

let chosen: Compression | undefined;

function choose(): Compression {
  return chosen ??= privateZlibUsable() ? streamingCompression : oneShotCompression();
}

/**
 * The adapters' raw-deflate streams: {@linkcode streamingCompression} when
 * {@linkcode privateZlibUsable}, else {@linkcode oneShotCompression}. The
 * choice is made once, on the first stream created.
 */
export const nodeCompression: Compression = {
  createDeflateRaw(options?: ZStreamOptions): ZStream {
    return choose().createDeflateRaw(options);
  },
  createInflateRaw(options?: ZStreamOptions): ZStream {
    return choose().createInflateRaw(options);
  },
  get formats(): readonly CompressionFormat[] {
    return usableFormats();
  },
  createEncoder(format: CompressionFormat, options?: CompressionEncoderOptions): ZStream {
    if (format === "deflate-raw") return choose().createDeflateRaw({ level: checkEncoderOptions(format, options) });
    return nodeCodings.createEncoder(checkFormat(format, usableFormats()), options);
  },
  createDecoder(format: CompressionFormat): ZStream {
    if (format === "deflate-raw") return choose().createInflateRaw();
    return nodeCodings.createDecoder(checkFormat(format, usableFormats()));
  },
};

/** Which implementation {@linkcode nodeCompression} uses: `"streaming"` (private API) or `"one-shot"` (public). */
export function compressionKind(): "streaming" | "one-shot" {
  return choose() === streamingCompression ? "streaming" : "one-shot";
}

// ---------------------------------------------------------------------------
// The HTTP content codings: gzip, zlib's deflate, Brotli.

/** Every format of the contract, in the order {@linkcode Compression.formats} lists them. */
const ALL_FORMATS: readonly CompressionFormat[] = Object.freeze(["gzip", "deflate", "deflate-raw", "br"]);
const CODING_FORMATS: readonly CompressionFormat[] = Object.freeze(["gzip", "deflate", "br"]);

/** The node:zlib functions the content codings use; a test passes a doctored one to their feature test. */
export interface CodingModule {
  /** `zlib.createGzip`. */
  createGzip(options: { level: number }): unknown;
  /** `zlib.createGunzip`. */
  createGunzip(): unknown;
  /** `zlib.createDeflate`. */
  createDeflate(options: { level: number }): unknown;
  /** `zlib.createInflate`. */
  createInflate(): unknown;
  /** `zlib.createBrotliCompress`; absent where the runtime has no Brotli. */
  createBrotliCompress?(options: { params: Record<number, number> }): unknown;
  /** `zlib.createBrotliDecompress`; absent where the runtime has no Brotli. */
  createBrotliDecompress?(): unknown;
}

/** The content codings, without raw deflate (which has its own implementations above). */
type CodingFormat = Exclude<CompressionFormat, "deflate-raw">;

function checkFormat<F extends CompressionFormat>(format: CompressionFormat, allowed: readonly F[]): F {
  if (!(allowed as readonly string[]).includes(format)) {
    throw invalid(
      `format must be one of ${allowed.map((f) => `"${f}"`).join(", ")} here, got ${JSON.stringify(format)}`,
    );
  }
  return format as F;
}

/** The level for `format`, checked: 0-9 for the deflate formats, 0-11 for Brotli. */
function checkEncoderOptions(format: CompressionFormat, options: CompressionEncoderOptions = {}): number {
  const max = format === "br" ? 11 : 9;
  const level = options.level ?? (format === "br" ? 11 : DEFAULT_LEVEL);
  if (!Number.isInteger(level) || level < 0 || level > max) {
    throw invalid(`level for "${format}" must be an integer 0-${max}, got ${level}`);
  }
  return level;
}

/** createEncoder and createDecoder for the codings on node:zlib's internals, limited to `formats()`. */
function codingsFrom(
  module: CodingModule,
  formats: () => readonly CompressionFormat[],
): Pick<Compression, "createEncoder" | "createDecoder"> {
  const make = (create: (() => unknown) | undefined, kind: StreamingKind): ZStream => {
    if (create === undefined) throw invalid("this runtime's node:zlib has no Brotli");
    return new StreamingZStream(create as () => InternalZlib, kind);
  };
  return {
    createEncoder(format: CompressionFormat, options?: CompressionEncoderOptions): ZStream {
      const f = checkFormat(format, formats().filter((x): x is CodingFormat => x !== "deflate-raw"));
      const level = checkEncoderOptions(f, options);
      switch (f) {
        case "gzip":
          return make(() => module.createGzip({ level }), ZLIB_CODING);
        case "deflate":
          return make(() => module.createDeflate({ level }), ZLIB_CODING);
        case "br": {
          const params = { [zlib.constants.BROTLI_PARAM_QUALITY]: level };
          const create = module.createBrotliCompress;
          return make(create && (() => create.call(module, { params })), BROTLI_CODING);
        }
      }
    },
    createDecoder(format: CompressionFormat): ZStream {
      const f = checkFormat(format, formats().filter((x): x is CodingFormat => x !== "deflate-raw"));
      switch (f) {
        case "gzip":
          return make(() => module.createGunzip(), ZLIB_CODING);
        case "deflate":
          return make(() => module.createInflate(), ZLIB_CODING);
        case "br": {
          const create = module.createBrotliDecompress;
          return make(create && (() => create.call(module)), BROTLI_CODING);
        }
      }
    },
  };
}

/** The codings over the runtime's own node:zlib, for the formats that pass their feature test. */
const nodeCodings = codingsFrom(zlib as unknown as CodingModule, () => usableFormats());

/** The one-shot public functions that check a coder's output against the real format. */
const ONE_SHOT_DECODE: Record<CodingFormat, (bytes: Uint8Array) => Uint8Array> = {
  gzip: (b) => zlib.gunzipSync(b),
  deflate: (b) => zlib.inflateSync(b),
  br: (b) => zlib.brotliDecompressSync(b),
};

const ONE_SHOT_ENCODE: Record<CodingFormat, (bytes: Uint8Array) => Uint8Array> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  br: (b) => zlib.brotliCompressSync(b),
};

/**
 * Whether a coding keeps the contract on node:zlib's internals: a sync
 * flush decodes at once, the finished stream is the real format (node:zlib's
 * public one-shot functions read it, and the decoder reads theirs), reset()
 * starts a new stream, and the output bound, corrupt input and input that
 * ends inside the stream throw.
 */
function codingKeepsContract(codings: Pick<Compression, "createEncoder" | "createDecoder">, f: CodingFormat): boolean {
  const sample = new TextEncoder().encode("levent coding probe, levent coding probe, levent coding probe. ".repeat(8));
  const half = sample.length >> 1;
  const encoder = codings.createEncoder(f, { level: f === "br" ? 4 : DEFAULT_LEVEL });
  const decoder = codings.createDecoder(f);
  const bounded = codings.createDecoder(f);
  const corrupt = codings.createDecoder(f);
  const truncated = codings.createDecoder(f);
  try {
    const first = encoder.process(sample.subarray(0, half), "sync");
    const head = decoder.process(first, "sync");
    const rest = encoder.process(sample.subarray(half), "finish");
    const tail = decoder.process(rest, "finish");
    const whole = new Uint8Array(first.length + rest.length);
    whole.set(first);
    whole.set(rest, first.length);
    encoder.reset();
    const again = encoder.process(sample, "finish");
    const theirs = ONE_SHOT_ENCODE[f](sample);
    return sameBytes(head, sample.subarray(0, half)) && sameBytes(tail, sample.subarray(half)) &&
      sameBytes(ONE_SHOT_DECODE[f](whole), sample) && sameBytes(ONE_SHOT_DECODE[f](again), sample) &&
      sameBytes(codings.createDecoder(f).process(theirs, "finish"), sample) &&
      failsWith(() => bounded.process(whole, "finish", 8), "EMSGSIZE") &&
      failsWith(() => corrupt.process(CORRUPT[f], "sync"), "EZLIB") &&
      failsWith(() => truncated.process(first, "finish"), "EZLIB");
  } finally {
    encoder.close();
    decoder.close();
    bounded.close();
    corrupt.close();
    truncated.close();
  }
}

/** Input each decoder refuses at once. */
const CORRUPT: Record<CodingFormat, Uint8Array> = {
  gzip: new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]),
  deflate: new Uint8Array([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff]),
  // WBITS 1 in a Brotli header is an invalid window: the decoder stops at the first byte.
  br: new Uint8Array([0x11, 0xff, 0xff, 0xff, 0xff, 0xff]),
};

/**
 * The feature test of one content coding: whether node:zlib's internals
 * (see {@linkcode streamingCompression}) keep the contract for `format`
 * here. Run once per format for the runtime's node:zlib; a test passes a
 * doctored module.
 */
export function privateFormatUsable(format: CompressionFormat, module?: CodingModule): boolean {
  if (format === "deflate-raw") return true;
  const f = checkFormat(format, ["gzip", "deflate", "br"]);
  if (module === undefined && formatUsable.has(f)) return formatUsable.get(f) as boolean;
  let usable: boolean;
  try {
    const m = module ?? (zlib as unknown as CodingModule);
    usable = codingKeepsContract(codingsFrom(m, () => CODING_FORMATS), f);
  } catch {
    usable = false;
  }
  if (module === undefined) formatUsable.set(f, usable);
  return usable;
}

const formatUsable = new Map<CodingFormat, boolean>();
let usable: readonly CompressionFormat[] | undefined;

function usableFormats(): readonly CompressionFormat[] {
  return usable ??= Object.freeze(ALL_FORMATS.filter((f) => privateFormatUsable(f)));
}
