/**
 * EvBuffer: libevent's `struct evbuffer` (buffer.h), a byte queue kept as a
 * chain of `Uint8Array` segments. Bytes handed over are kept as they are;
 * only a request for contiguous bytes that span segments copies.
 *
 * @module
 */
import {
  checkBoolean,
  checkBytes,
  checkCount,
  checkFunction,
  checkLimit,
  checkOneOf,
  checkString,
  rangeError,
  typeError,
} from "../check.ts";
import type { FileHandle } from "../platform.ts";
import { freedError } from "../errors.ts";
import { BufferError } from "./buffer_error.ts";

/**
 * How {@linkcode EvBuffer.readLine} and {@linkcode EvBuffer.searchEol} find
 * the end of a line: libevent's `enum evbuffer_eol_style`.
 *
 * - `"any"`: any run of CR and LF characters (`EVBUFFER_EOL_ANY`).
 * - `"crlf"`: CR LF, or a LF alone (`EVBUFFER_EOL_CRLF`).
 * - `"crlf_strict"`: CR LF only (`EVBUFFER_EOL_CRLF_STRICT`).
 * - `"lf"`: LF only (`EVBUFFER_EOL_LF`).
 * - `"nul"`: a NUL byte (`EVBUFFER_EOL_NUL`).
 */
export type EvBufferEolStyle = "any" | "crlf" | "crlf_strict" | "lf" | "nul";

/** How {@linkcode EvBuffer.ptrSet} moves a pointer: libevent's `EVBUFFER_PTR_SET` / `EVBUFFER_PTR_ADD`. */
export type EvBufferPtrHow = "set" | "add";

const PTR_HOWS: readonly EvBufferPtrHow[] = ["set", "add"];

/** What a change callback learns: libevent's `struct evbuffer_cb_info`. */
export interface EvBufferCbInfo {
  /** The buffer's length before the change. */
  readonly origSize: number;
  /** Bytes added by the change. */
  readonly added: number;
  /** Bytes removed by the change. */
  readonly deleted: number;
}

/** A change callback: libevent's `evbuffer_cb_func`. */
export type EvBufferCallback = (buffer: EvBuffer, info: EvBufferCbInfo) => void;

/** A registered change callback, from {@linkcode EvBuffer.addCb}: libevent's `struct evbuffer_cb_entry`. */
export interface EvBufferCbEntry {
  /** The callback. */
  readonly callback: EvBufferCallback;
  /** Whether it is called on changes (`EVBUFFER_CB_ENABLED`). */
  readonly enabled: boolean;
}

/** Where {@linkcode EvBuffer.searchEol} found a line end. */
export interface EvBufferEolResult {
  /** The first byte of the line end; `pos` is -1 when none was found. */
  readonly ptr: EvBufferPtr;
  /** How many bytes the line end spans; 0 when none was found. */
  readonly eolLength: number;
}

/** The code for a line end's first byte and a small int per style, so the hot paths compare ints. */
const EOL_ANY = 0;
const EOL_CRLF = 1;
const EOL_CRLF_STRICT = 2;
const EOL_LF = 3;
const EOL_NUL = 4;
const CR = 13;
const LF = 10;

/** Adds shorter than this are copied into spare capacity, so a run of small writes coalesces. */
const SMALL_ADD = 256;
/** The segment size a busy buffer allocates for its own small writes. */
const MIN_SEGMENT = 4096;
/**
 * A new or idle buffer's first segment size: it doubles with each segment
 * allocated, up to MIN_SEGMENT, and starts over at releaseSpare. A
 * connection that sent one small request then idles holds 1 KiB, not 4.
 */
const FIRST_SEGMENT = 1024;
/** Up to this size a new segment's capacity is rounded up to a power of two, leaving room for the next writes. */
const ROUND_LIMIT = 1 << 20;
/** Spare capacity below this is not kept when a buffer drains empty: it would soon need a new segment anyway. */
const MIN_SPARE = 512;
/** Segments whose memory is larger than this are not kept as spare when a buffer drains empty. */
const MAX_SPARE_SEGMENT = 16384;
/** Strings longer than this are encoded to an exact-size segment instead of a 3x worst-case one. */
const LARGE_STRING = 65536;
/** File segments are read in pieces of at most this many bytes. */
const FILE_PIECE = 65536;
/** Bytes findByte scans a word at a time before it hands over to the native indexOf. */
const WORD_SCAN = 256;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes and cleanup of one addReference call, shared by every segment cut from them. */
interface RefTracker {
  readonly bytes: Uint8Array;
  readonly cleanup: ((bytes: Uint8Array) => void) | null;
  refs: number;
}

/** One open file handle, shared by every file segment that reads from it. */
interface FileTracker {
  readonly handle: FileHandle;
  refs: number;
}

// Keyed by handle so two addFile calls on one handle close it only when the
// last segment of either is gone.
const fileTrackers = new WeakMap<FileHandle, FileTracker>();

/** A mutable callback entry; the public type shows it read-only. */
interface CbEntry {
  readonly callback: EvBufferCallback;
  enabled: boolean;
  owner: EvBuffer | null;
}

/**
 * One link of the chain. Readable bytes are `buf[start, end)`; for a file
 * segment they are file bytes `fileOffset + start .. fileOffset + end` and
 * `buf` is empty. Bytes once readable are never written again, so views
 * handed out by readLine / pullup / peek stay valid.
 */
class Segment {
  buf: Uint8Array;
  start: number;
  end: number;
  /** True when `buf[end..]` is spare capacity this buffer alone may write. */
  owned: boolean;
  /** `buf.subarray(0, end)`, so a native indexOf stops at the last readable byte; made when first needed. */
  view: Uint8Array = EMPTY;
  /** All of `buf.buffer` as 32-bit words, made on the first word-wise scan. */
  words: Int32Array | null = null;
  /** `buf.byteOffset`, read once: the getter is slow on some engines. */
  base = 0;
  ref: RefTracker | null = null;
  file: FileTracker | null = null;
  fileOffset = 0;

  constructor(buf: Uint8Array, start: number, end: number, owned: boolean) {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.owned = owned;
  }
}

/** Fills emptied array slots so drained segments can be collected. */
const DEAD = new Segment(EMPTY, 0, 0, false);

/** The indexOf-bounded view of a segment's readable bytes. */
function viewOf(seg: Segment): Uint8Array {
  let view = seg.view;
  if (view.length !== seg.end) view = seg.view = seg.end === seg.buf.length ? seg.buf : seg.buf.subarray(0, seg.end);
  return view;
}

const NO_WORDS = new Int32Array(0);

/** The word view findByte uses; none (so bytewise scans) for buffers whose offsets pass 32-bit shifts. */
function wordsOf(seg: Segment): Int32Array {
  const ab = seg.buf.buffer;
  seg.base = seg.buf.byteOffset;
  return seg.words = ab.byteLength < 0x7fffffff ? new Int32Array(ab, 0, ab.byteLength >>> 2) : NO_WORDS;
}

/**
 * The index of the first byte `c` in `seg.buf[from, seg.end)`, or -1. The
 * first WORD_SCAN bytes are tested four at a time with the "has a zero
 * byte" bit trick: V8's Uint8Array indexOf is a plain loop with a call cost
 * that dominates short lines. Farther on, the native indexOf takes over
 * (memchr on JavaScriptCore).
 */
function findByte(seg: Segment, c: number, from: number): number {
  const buf = seg.buf;
  const end = seg.end;
  const stop = end - from > WORD_SCAN ? from + WORD_SCAN : end;
  let i = from;
  if (stop - i >= 16) {
    const words = seg.words ?? wordsOf(seg);
    if (words.length !== 0) {
      const base = seg.base;
      for (; ((base + i) & 3) !== 0; i++) if (buf[i] === c) return i;
      const pattern = c * 0x01010101;
      let w = (base + i) >>> 2;
      const wStop = (base + stop) >>> 2;
      for (; w < wStop; w++) {
        const x = words[w] ^ pattern;
        if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
      }
      i = w * 4 - base;
    }
  }
  for (; i < stop; i++) if (buf[i] === c) return i;
  return stop === end ? -1 : viewOf(seg).indexOf(c, stop);
}

/** The capacity to allocate for a write of `n` bytes. */
function capacityFor(n: number): number {
  if (n <= MIN_SEGMENT) return MIN_SEGMENT;
  if (n > ROUND_LIMIT) return n;
  return 2 ** Math.ceil(Math.log2(n));
}

function notLoaded(): BufferError {
  return new BufferError(
    "ERR_FILE_NOT_LOADED",
    "the operation needs bytes of a file segment that is not loaded; await loadFileSegments() first",
  );
}

function eolCode(style: unknown): number {
  switch (style) {
    case "any":
      return EOL_ANY;
    case "crlf":
      return EOL_CRLF;
    case "crlf_strict":
      return EOL_CRLF_STRICT;
    case "lf":
      return EOL_LF;
    case "nul":
      return EOL_NUL;
  }
  throw typeError("style", '"any", "crlf", "crlf_strict", "lf" or "nul"', style);
}

function toNeedle(needle: unknown): Uint8Array {
  if (typeof needle === "string") return encoder.encode(needle);
  if (needle instanceof Uint8Array) return needle;
  throw typeError("needle", "a Uint8Array or a string", needle);
}

function releaseFile(tracker: FileTracker): void {
  if (--tracker.refs > 0) return;
  fileTrackers.delete(tracker.handle);
  // Nobody awaits this close: the handle was only read, so a failed close
  // loses no data, and an unhandled rejection would crash the process.
  tracker.handle.close().catch(() => {});
}

let readHint: (ptr: EvBufferPtr, owner: EvBuffer, epoch: number) => boolean;
let hintSeg: (ptr: EvBufferPtr) => number;
let hintSegPos: (ptr: EvBufferPtr) => number;
let writeHint: (ptr: EvBufferPtr, owner: EvBuffer | null, epoch: number, seg: number, segPos: number) => void;

/**
 * A position in an EvBuffer: libevent's `struct evbuffer_ptr`. `pos` is the
 * byte offset from the start of the buffer, -1 for "not found". A pointer
 * made by {@linkcode EvBuffer.search} or moved by {@linkcode EvBuffer.ptrSet}
 * also remembers which segment it is in, so the next search from it does not
 * walk the chain from the start; any change that removes or reorders bytes
 * makes that memory stale, and the buffer then falls back to `pos`.
 *
 * @example
 * ```ts
 * import { EvBuffer, EvBufferPtr } from "@levent/levent/buffer";
 * const buf = new EvBuffer();
 * buf.addString("a=1&b=2&c=3");
 * const found: number[] = [];
 * let ptr = buf.search("&");
 * while (ptr.pos !== -1) {
 *   found.push(ptr.pos);
 *   buf.ptrSet(ptr, 1, "add");
 *   ptr = buf.search("&", ptr);
 * }
 * console.log(found); // [3, 7]
 * const p = new EvBufferPtr();
 * buf.ptrSet(p, 4, "set");
 * ```
 */
export class EvBufferPtr {
  /** Offset from the start of the buffer; -1 means "not found". */
  pos: number;
  #owner: EvBuffer | null = null;
  #epoch = -1;
  #seg = 0;
  #segPos = 0;

  /** A pointer at `pos` (default 0) with no segment memory. */
  constructor(pos = 0) {
    this.pos = pos;
  }

  static {
    readHint = (ptr, owner, epoch) => #owner in ptr && ptr.#owner === owner && ptr.#epoch === epoch;
    hintSeg = (ptr) => ptr.#seg;
    hintSegPos = (ptr) => ptr.#segPos;
    writeHint = (ptr, owner, epoch, seg, segPos) => {
      ptr.#owner = owner;
      ptr.#epoch = epoch;
      ptr.#seg = seg;
      ptr.#segPos = segPos;
    };
  }
}

// Internals: EvBuffer's memory without a view per call, for levent's own
// protocol code (the HTTP parser reads the first segment in place, the head
// writer fills reserved space in place): a view costs an object per message
// on every engine, these hand out the segment itself. Set in EvBuffer's
// static block; buffer/mod.ts does not export them.

/** A segment's memory, as the internals below hand it out: read its fields, never change them. */
interface EvBufferSegment {
  /** The segment's whole array. */
  readonly buf: Uint8Array;
  /** Where its readable bytes start in `buf`. */
  readonly start: number;
  /** Where they end; a reservation's room starts here. */
  readonly end: number;
  /**
   * True when `buf` was allocated by the buffer itself (socket reads are
   * copied into such segments), so no caller holds it: the WebSocket
   * reader unmasks payload in place there. False for bytes added by
   * reference, whose owner may still read them.
   */
  readonly owned: boolean;
}

/**
 * `reserveSpace(n)` without the view: the segment the room is in, which
 * starts at its `end`. Commit with `commitSpace` as usual.
 */
export let reserveSegment!: (buf: EvBuffer, n: number) => EvBufferSegment;

/**
 * The first segment, its readable bytes `buf[start, end)`
 * (`contiguousSpace()` of them); null when the buffer is empty or the first
 * segment is an unloaded file piece.
 */
export let firstSegment!: (buf: EvBuffer) => EvBufferSegment | null;

/**
 * A byte queue: libevent's `struct evbuffer`. Bytes are added at the end and
 * read from the front; the buffer keeps them as a chain of `Uint8Array`
 * segments and copies only when asked for contiguous bytes that span two
 * segments. Views it returns (readLine, pullup, peek) share memory with the
 * buffer and stay valid: EvBuffer never writes over bytes once added.
 *
 * Ownership: `add` keeps the caller's bytes (no copy) when they are 256
 * bytes or longer, so the caller must not change them afterwards; shorter
 * adds are copied into spare capacity so small writes coalesce.
 *
 * File segments (`addFile`) are read lazily: they count in `length`, but any
 * synchronous access to their bytes throws `ERR_FILE_NOT_LOADED` until
 * `loadFileSegments` has read them in.
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * const buf = new EvBuffer();
 * buf.addString("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
 * let line: string | null;
 * while ((line = buf.readLineString("crlf")) !== null && line !== "") {
 *   console.log(line); // "GET / HTTP/1.1", then "Host: example.com"
 * }
 * console.log(buf.length); // 0
 * ```
 */
export class EvBuffer {
  static {
    reserveSegment = (buf, n) => buf.#reserve(n);
    firstSegment = (buf) => {
      if (buf.#head === buf.#segs.length) return null;
      const seg = buf.#segs[buf.#head];
      return seg.file === null ? seg : null;
    };
  }

  /** The chain; live segments are `#segs[#head..]`, never empty. */
  #segs: Segment[] = [];
  #head = 0;
  #length = 0;
  /** Bumped whenever bytes move or leave, so pointer and scan memories go stale. */
  #epoch = 0;
  #fileCount = 0;
  /** An owned empty segment from reserveSpace / expand, not yet in the chain. */
  #spare: Segment | null = null;
  /** The size of the next small segment (see FIRST_SEGMENT). */
  #segSize = FIRST_SEGMENT;
  /** The segment reserveSpace handed out, and its end at that time. */
  #resSeg: Segment | null = null;
  #resEnd = 0;
  #frozenStart = false;
  #frozenEnd = false;
  #freed = false;
  #cbs: CbEntry[] = [];
  // Where a failed readLine stopped, so the next one resumes there instead of
  // rescanning a long partial line (valid while #scanEpoch === #epoch).
  #scanEpoch = -1;
  #scanCode = 0;
  #scanSeg = 0;
  #scanSegPos = 0;
  #scanOff = 0;
  #scanPrevCr = false;
  // Results of #locate and #findEol, kept in fields so the hot paths allocate nothing.
  #locSeg = 0;
  #locSegPos = 0;
  #eolPos = -1;
  #eolLen = 0;

  /** Bytes in the buffer, file segments included (`evbuffer_get_length`). */
  get length(): number {
    return this.#length;
  }

  /** True while some bytes are file segments not yet loaded into memory. */
  get hasFileSegments(): boolean {
    return this.#fileCount > 0;
  }

  // ---------------------------------------------------------------- adding

  /**
   * Append bytes (libevent `evbuffer_add`). Bytes of 256 or more are kept by
   * reference, not copied: do not change them afterwards. Shorter ones are
   * copied into the tail's spare capacity (or a new segment of 1-4 KiB) so a run
   * of small writes ends up in one segment.
   *
   * @throws {TypeError} if bytes is not a Uint8Array
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  add(bytes: Uint8Array): void {
    checkBytes(bytes, "bytes");
    this.#checkEnd("add");
    const n = bytes.length;
    if (n === 0) return;
    const orig = this.#length;
    if (n < SMALL_ADD) this.#copyIn(bytes);
    else this.#segs.push(new Segment(bytes, 0, n, false));
    this.#length += n;
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /**
   * Append a copy of bytes, whatever their size (what libevent's
   * `evbuffer_add` always does): for bytes the caller goes on to reuse,
   * such as a socket's read buffer. They go into the tail's spare capacity
   * when they fit, else into a new segment.
   *
   * @throws {TypeError} if bytes is not a Uint8Array
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  addCopy(bytes: Uint8Array): void {
    checkBytes(bytes, "bytes");
    this.#checkEnd("addCopy");
    const n = bytes.length;
    if (n === 0) return;
    const orig = this.#length;
    this.#copyIn(bytes);
    this.#length += n;
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /** Copy bytes into an owned tail segment (the caller counts them). */
  #copyIn(bytes: Uint8Array): void {
    const target = this.#appendTarget(bytes.length);
    target.buf.set(bytes, target.end);
    target.end += bytes.length;
  }

  /**
   * Put bytes in front of the buffer (libevent `evbuffer_prepend`). The
   * bytes are kept by reference, not copied.
   *
   * @throws {TypeError} if bytes is not a Uint8Array
   * @throws {BufferError} `ERR_FROZEN` if the start is frozen
   */
  prepend(bytes: Uint8Array): void {
    checkBytes(bytes, "bytes");
    this.#checkStart("prepend");
    const n = bytes.length;
    if (n === 0) return;
    const orig = this.#length;
    const seg = new Segment(bytes, 0, n, false);
    if (this.#head > 0) this.#segs[--this.#head] = seg;
    else this.#segs.unshift(seg);
    this.#length += n;
    this.#epoch++;
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /**
   * Append a string as UTF-8 (libevent `evbuffer_add` of a C string). It is
   * encoded straight into the tail's spare capacity when it fits; otherwise
   * into a new segment with room left for the next small writes.
   *
   * @throws {TypeError} if text is not a string
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  addString(text: string): void {
    checkString(text, "text");
    this.#checkEnd("addString");
    const chars = text.length;
    if (chars === 0) return;
    const orig = this.#length;
    let added = -1;
    const tail = this.#tail();
    if (tail !== null && tail.owned && tail.buf.length - tail.end >= chars) {
      // It may fit even when 3 bytes per UTF-16 unit would not: try, and
      // fall back if not all was read (what was written is unread spare).
      const r = encoder.encodeInto(text, tail.buf.subarray(tail.end));
      if (r.read === chars) {
        tail.end += r.written;
        added = r.written;
      }
    }
    if (added < 0) {
      if (chars > LARGE_STRING) {
        const bytes = encoder.encode(text);
        this.#segs.push(new Segment(bytes, 0, bytes.length, true));
        added = bytes.length;
      } else {
        const target = this.#appendTarget(chars * 3);
        added = encoder.encodeInto(text, target.buf.subarray(target.end)).written;
        target.end += added;
      }
    }
    this.#length += added;
    if (this.#cbs.length !== 0) this.#notify(orig, added, 0);
  }

  /**
   * Append text formatted printf-style (libevent `evbuffer_add_printf`).
   * Conversions: `%s %d %i %u %x %X %o %c %f %%`, with the `-` and `0`
   * flags, a width and a `.precision`; C length modifiers (`l`, `ll`, `h`,
   * `z`, `j`, `t`) are accepted and ignored. `%u %x %X %o` show negative
   * numbers as 64-bit two's complement.
   *
   * @returns the number of bytes added
   * @throws {TypeError} if format is malformed or the arguments do not match it
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  addPrintf(format: string, ...args: unknown[]): number {
    this.#live("addPrintf");
    const text = formatPrintf(format, args);
    const before = this.#length;
    this.addString(text);
    return this.#length - before;
  }

  /**
   * Move all bytes of `other` to the end of this buffer without copying
   * (libevent `evbuffer_add_buffer`); `other` ends empty. File segments
   * stay unloaded.
   *
   * @throws {TypeError} if other is not an EvBuffer or is this buffer
   * @throws {BufferError} `ERR_FROZEN` if this end or other's start is frozen
   */
  addBuffer(other: EvBuffer): void {
    this.#checkOther(other);
    this.#checkEnd("addBuffer");
    other.#checkStart("addBuffer");
    const n = other.#length;
    if (n === 0) return;
    const orig = this.#length;
    if (this.#segs.length === this.#head) {
      this.#segs = other.#segs;
      this.#head = other.#head;
    } else {
      const from = other.#segs;
      for (let i = other.#head; i < from.length; i++) this.#segs.push(from[i]);
    }
    this.#length += n;
    this.#fileCount += other.#fileCount;
    other.#segs = [];
    other.#head = 0;
    other.#length = 0;
    other.#fileCount = 0;
    other.#epoch++;
    if (other.#cbs.length !== 0) other.#notify(n, 0, n);
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /**
   * Move up to `n` bytes from the front of this buffer to the end of `dst`
   * without copying; a segment cut in two is shared as two views
   * (libevent `evbuffer_remove_buffer`). File segments stay unloaded.
   *
   * @returns the number of bytes moved
   * @throws {TypeError} if dst is not an EvBuffer or is this buffer
   * @throws {RangeError} if n is not an integer >= 0
   * @throws {BufferError} `ERR_FROZEN` if this start or dst's end is frozen
   */
  removeBuffer(dst: EvBuffer, n: number): number {
    this.#live("removeBuffer");
    if (!(dst instanceof EvBuffer)) throw typeError("dst", "an EvBuffer", dst);
    if (dst === this) throw typeError("dst", "another EvBuffer than this one", dst);
    checkLimit(n, "n");
    this.#checkStart("removeBuffer");
    dst.#checkEnd("removeBuffer");
    const moved = Math.min(n, this.#length);
    if (moved === 0) return 0;
    const segs = this.#segs;
    let left = moved;
    while (left > 0) {
      const seg = segs[this.#head];
      const len = seg.end - seg.start;
      if (len <= left) {
        // The last segment leaves whole: its free room stays here as the
        // spare (input read after a body moved out lands there), and dst
        // gets a read-only view of its bytes.
        const keep = this.#head + 1 === segs.length && this.#mayKeepSpare(seg);
        dst.#segs.push(keep ? this.#share(seg, seg.start, seg.end) : seg);
        if (keep) {
          seg.start = seg.end;
          this.#spare = seg;
        }
        segs[this.#head++] = DEAD;
        left -= len;
        if (seg.file !== null) {
          this.#fileCount--;
          dst.#fileCount++;
        }
      } else {
        // Cut in two: the front part goes, sharing the bytes read-only.
        dst.#segs.push(this.#share(seg, seg.start, seg.start + left));
        seg.start += left;
        if (seg.file !== null) dst.#fileCount++;
        left = 0;
      }
    }
    const orig = this.#length;
    const dstOrig = dst.#length;
    this.#length -= moved;
    dst.#length += moved;
    this.#afterFrontRemoval();
    if (this.#cbs.length !== 0) this.#notify(orig, 0, moved);
    if (dst.#cbs.length !== 0) dst.#notify(dstOrig, moved, 0);
    return moved;
  }

  /**
   * Append a read-only reference to all of `other`'s bytes without copying
   * them (libevent `evbuffer_add_buffer_reference`); `other` is unchanged.
   * Reference cleanups and file handles of shared segments wait for both
   * buffers to let go.
   *
   * @throws {TypeError} if other is not an EvBuffer or is this buffer
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  addBufferReference(other: EvBuffer): void {
    this.#checkOther(other);
    this.#checkEnd("addBufferReference");
    const n = other.#length;
    if (n === 0) return;
    const orig = this.#length;
    const from = other.#segs;
    for (let i = other.#head; i < from.length; i++) {
      const seg = from[i];
      this.#segs.push(this.#share(seg, seg.start, seg.end));
    }
    this.#length += n;
    this.#fileCount += other.#fileCount;
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /**
   * Append bytes by reference (libevent `evbuffer_add_reference`):
   * `cleanup(bytes)` is called exactly once, when every one of those bytes
   * has left the buffer (drained, or moved on and drained there) or the
   * buffer holding them is freed. Empty bytes are cleaned up at once.
   *
   * @throws {TypeError} if bytes is not a Uint8Array or cleanup is not a function
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen (cleanup is then not called)
   */
  addReference(bytes: Uint8Array, cleanup?: (bytes: Uint8Array) => void): void {
    checkBytes(bytes, "bytes");
    if (cleanup !== undefined) checkFunction(cleanup, "cleanup");
    this.#checkEnd("addReference");
    const n = bytes.length;
    if (n === 0) {
      cleanup?.(bytes);
      return;
    }
    const orig = this.#length;
    const seg = new Segment(bytes, 0, n, false);
    seg.ref = { bytes, cleanup: cleanup ?? null, refs: 1 };
    this.#segs.push(seg);
    this.#length += n;
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /**
   * Append `length` bytes of a file from `offset`, read lazily through the
   * platform (libevent `evbuffer_add_file`). As in libevent, the buffer
   * takes the handle over: it is closed once no segment of any buffer reads
   * from it any more (drained, freed, or fully loaded). Load the bytes with
   * {@linkcode EvBuffer.loadFileSegments} before reading them.
   *
   * @throws {TypeError} if handle is not a FileHandle
   * @throws {RangeError} if offset or length is not an integer >= 0
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  addFile(handle: FileHandle, offset: number, length: number): void {
    this.#live("addFile");
    if (handle === null || typeof handle !== "object" || typeof handle.read !== "function") {
      throw typeError("handle", "a FileHandle", handle);
    }
    checkCount(offset, "offset");
    checkCount(length, "length");
    this.#checkEnd("addFile");
    let tracker = fileTrackers.get(handle);
    if (tracker === undefined) {
      tracker = { handle, refs: 0 };
      fileTrackers.set(handle, tracker);
    }
    tracker.refs++;
    if (length === 0) {
      releaseFile(tracker);
      return;
    }
    const orig = this.#length;
    const seg = new Segment(EMPTY, 0, length, false);
    seg.file = tracker;
    seg.fileOffset = offset;
    this.#segs.push(seg);
    this.#fileCount++;
    this.#length += length;
    if (this.#cbs.length !== 0) this.#notify(orig, length, 0);
  }

  /**
   * Read the file segments that lie within the first `maxBytes` of the
   * buffer into memory, in pieces of at most 64 KiB, so a large file is
   * never held whole. Safe to run while the buffer keeps changing: bytes
   * drained or moved away meanwhile are not loaded here. (libevent maps or
   * sends files itself; this is its asynchronous stand-in.)
   *
   * @returns the number of bytes at the front now readable without loading
   * @throws {RangeError} if maxBytes is not an integer >= 0 or Infinity
   * @throws {BufferError} `ERR_FILE_TRUNCATED` if a file ends early; read errors from the platform pass through
   */
  async loadFileSegments(maxBytes: number): Promise<number> {
    this.#live("loadFileSegments");
    checkLimit(maxBytes, "maxBytes");
    for (;;) {
      const segs = this.#segs;
      let pos = 0;
      let i = this.#head;
      for (; i < segs.length && segs[i].file === null; i++) pos += segs[i].end - segs[i].start;
      if (i === segs.length || pos >= maxBytes) break;
      const seg = segs[i];
      const tracker = seg.file as FileTracker;
      const want = Math.min(FILE_PIECE, seg.end - seg.start, maxBytes - pos);
      const at = seg.fileOffset + seg.start;
      const bytes = await tracker.handle.read(at, want);
      if (bytes.length === 0) {
        throw new BufferError("ERR_FILE_TRUNCATED", `the file ended at byte ${at}, inside a file segment`);
      }
      // The buffer may have changed while the read was pending: find the
      // segment again and keep only the bytes it still holds.
      const index = this.#segs.indexOf(seg, this.#head);
      if (index < 0) continue;
      const skip = seg.fileOffset + seg.start - at;
      const got = Math.min(bytes.length, want);
      if (skip >= got) continue;
      const piece = bytes.subarray(skip, Math.min(got, skip + seg.end - seg.start));
      const loaded = new Segment(piece, 0, piece.length, false);
      seg.start += piece.length;
      if (seg.start === seg.end) {
        this.#segs[index] = loaded;
        this.#fileCount--;
        releaseFile(tracker);
      } else {
        this.#segs.splice(index, 0, loaded);
      }
      this.#epoch++;
    }
    return this.#readableLength();
  }

  /**
   * Let go of the spare capacity the buffer keeps for its next writes (what
   * {@linkcode EvBuffer.expand} set aside, or the unused room of the last
   * segment when the buffer drained empty), so an idle buffer holds no
   * memory. Content is unchanged; a live reservation is kept. libevent has
   * no counterpart: its allocator recycles freed chains itself.
   */
  releaseSpare(): void {
    this.#live("releaseSpare");
    if (this.#spare !== null && this.#spare !== this.#resSeg) this.#spare = null;
    this.#segSize = FIRST_SEGMENT;
  }

  // -------------------------------------------------------------- removing

  /**
   * Remove `n` bytes from the front, or all when `n` is at least the length
   * (libevent `evbuffer_drain`). Works on file segments without loading.
   *
   * @throws {RangeError} if n is not an integer >= 0 or Infinity
   * @throws {BufferError} `ERR_FROZEN` if the start is frozen
   */
  drain(n: number): void {
    checkLimit(n, "n");
    this.#checkStart("drain");
    const k = Math.min(n, this.#length);
    if (k === 0) return;
    const orig = this.#length;
    this.#consume(k);
    if (this.#cbs.length !== 0) this.#notify(orig, 0, k);
  }

  /**
   * Copy bytes from the front into `dst` and drain them (libevent
   * `evbuffer_remove`).
   *
   * @returns the number of bytes moved: `dst.length`, or fewer if the buffer is shorter
   * @throws {TypeError} if dst is not a Uint8Array
   * @throws {BufferError} `ERR_FROZEN` if the start is frozen; `ERR_FILE_NOT_LOADED` if the bytes include an unloaded file segment
   */
  remove(dst: Uint8Array): number {
    checkBytes(dst, "dst");
    this.#checkStart("remove");
    const n = Math.min(dst.length, this.#length);
    if (n === 0) return 0;
    this.#copyRange(this.#head, this.#segs[this.#head].start, dst, n);
    const orig = this.#length;
    this.#consume(n);
    if (this.#cbs.length !== 0) this.#notify(orig, 0, n);
    return n;
  }

  /**
   * Copy bytes from the front into `dst` without draining them (libevent
   * `evbuffer_copyout`).
   *
   * @returns the number of bytes copied
   * @throws {TypeError} if dst is not a Uint8Array
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the bytes include an unloaded file segment
   */
  copyout(dst: Uint8Array): number {
    this.#live("copyout");
    checkBytes(dst, "dst");
    const n = Math.min(dst.length, this.#length);
    if (n === 0) return 0;
    this.#copyRange(this.#head, this.#segs[this.#head].start, dst, n);
    return n;
  }

  /**
   * Copy bytes starting at `ptr` into `dst` without draining them (libevent
   * `evbuffer_copyout_from`).
   *
   * @returns the number of bytes copied
   * @throws {TypeError} if ptr is not an EvBufferPtr or dst is not a Uint8Array
   * @throws {RangeError} if ptr.pos is not within 0..length
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the bytes include an unloaded file segment
   */
  copyoutFrom(ptr: EvBufferPtr, dst: Uint8Array): number {
    this.#live("copyoutFrom");
    const from = this.#ptrPos(ptr, "ptr");
    checkBytes(dst, "dst");
    if (from > this.#length) throw rangeError("ptr.pos", `at most the buffer's length, ${this.#length}`, from);
    const n = Math.min(dst.length, this.#length - from);
    if (n === 0) return 0;
    this.#locate(from, ptr);
    const seg = this.#segs[this.#locSeg];
    this.#copyRange(this.#locSeg, seg.start + from - this.#locSegPos, dst, n);
    return n;
  }

  // ------------------------------------------------------------- accessing

  /**
   * Make the first `n` bytes contiguous and return a view of them (libevent
   * `evbuffer_pullup`); -1 means all. Copies only when they span segments:
   * into the first segment's spare capacity if it has room, else a new one.
   *
   * @throws {RangeError} if n is not -1 or an integer in 0..length
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the bytes include an unloaded file segment
   */
  pullup(n = -1): Uint8Array {
    this.#live("pullup");
    if (n === -1) n = this.#length;
    checkCount(n, "n");
    if (n > this.#length) throw rangeError("n", `at most the buffer's length, ${this.#length}`, n);
    if (n === 0) return EMPTY;
    const segs = this.#segs;
    const first = segs[this.#head];
    if (first.file !== null) throw notLoaded();
    const firstLen = first.end - first.start;
    if (firstLen >= n) return first.buf.subarray(first.start, first.start + n);
    // Check before changing anything, so a throw leaves the chain as it was.
    let covered = 0;
    for (let i = this.#head; covered < n; i++) {
      if (segs[i].file !== null) throw notLoaded();
      covered += segs[i].end - segs[i].start;
    }
    // Join into the first segment's spare capacity when it has room, else into a new one.
    const intoFirst = first.owned && first.buf.length - first.end >= n - firstLen;
    const target = intoFirst ? first : new Segment(new Uint8Array(n), 0, 0, true);
    let i = intoFirst ? this.#head + 1 : this.#head;
    let left = intoFirst ? n - firstLen : n;
    let last = this.#head;
    let released: Segment[] | null = null;
    while (left > 0) {
      const seg = segs[i];
      const len = seg.end - seg.start;
      const take = Math.min(len, left);
      target.buf.set(seg.buf.subarray(seg.start, seg.start + take), target.end);
      target.end += take;
      left -= take;
      if (take === len) {
        if (seg.ref !== null) (released ??= []).push(seg);
        segs[i] = DEAD;
        last = i++;
      } else {
        seg.start += take;
      }
    }
    // The joined segment takes the last emptied slot, so the chain stays in order.
    if (last !== this.#head) segs[this.#head] = DEAD;
    segs[last] = target;
    this.#head = last;
    this.#epoch++;
    if (released !== null) { for (const seg of released) this.#release(seg); }
    return target.buf.subarray(target.start, target.start + n);
  }

  /**
   * Views of the segments that hold `n` bytes from `start` (default the
   * front), without copying (libevent `evbuffer_peek`); -1 means to the end.
   * The last view is cut to end at the n-th byte.
   *
   * @throws {RangeError} if n is not -1 or an integer >= 0, or start.pos is not within 0..length
   * @throws {TypeError} if start is not an EvBufferPtr
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the range includes an unloaded file segment
   */
  peek(n = -1, start?: EvBufferPtr | null): Uint8Array[] {
    this.#live("peek");
    if (n !== -1) checkCount(n, "n");
    const from = start == null ? 0 : this.#ptrPos(start, "start");
    if (from > this.#length) throw rangeError("start.pos", `at most the buffer's length, ${this.#length}`, from);
    let left = n === -1 ? this.#length - from : Math.min(n, this.#length - from);
    const out: Uint8Array[] = [];
    if (left === 0) return out;
    this.#locate(from, start ?? null);
    const segs = this.#segs;
    let si = this.#locSeg;
    let off = segs[si].start + from - this.#locSegPos;
    while (left > 0) {
      const seg = segs[si++];
      if (seg.file !== null) throw notLoaded();
      const take = Math.min(seg.end - off, left);
      out.push(seg.buf.subarray(off, off + take));
      left -= take;
      if (si < segs.length) off = segs[si].start;
    }
    return out;
  }

  /**
   * Bytes in the first segment: how many bytes `pullup` returns without
   * copying, when that segment is in memory (libevent
   * `evbuffer_get_contiguous_space`).
   */
  contiguousSpace(): number {
    this.#live("contiguousSpace");
    if (this.#head === this.#segs.length) return 0;
    const seg = this.#segs[this.#head];
    return seg.end - seg.start;
  }

  // ---------------------------------------------------------- reservation

  /**
   * A writable view of at least `n` bytes at the end of the buffer (libevent
   * `evbuffer_reserve_space`): the tail segment's spare capacity when it is
   * this buffer's alone and big enough, else a fresh segment. Write into it,
   * then call {@linkcode EvBuffer.commitSpace}; until then the bytes are not
   * part of the buffer. Any other change to the end voids the reservation.
   *
   * @throws {RangeError} if n is not an integer >= 0
   * @throws {BufferError} `ERR_FROZEN` if the end is frozen
   */
  reserveSpace(n: number): Uint8Array {
    this.#live("reserveSpace");
    checkCount(n, "n");
    const seg = this.#reserve(n);
    const at = seg.end;
    return at === 0 ? seg.buf : seg.buf.subarray(at);
  }

  /** Reserve room for `n` bytes: the segment the room is in, starting at its end (#resEnd). */
  #reserve(n: number): Segment {
    this.#checkEnd("reserveSpace");
    const tail = this.#tail();
    if (tail !== null && tail.owned && tail.buf.length - tail.end >= Math.max(n, 1)) {
      this.#resSeg = tail;
      this.#resEnd = tail.end;
      return tail;
    }
    let spare = this.#spare;
    if (spare === null || spare.buf.length - spare.end < n) {
      spare = this.#spare = this.#newSegment(n);
    }
    this.#resSeg = spare;
    this.#resEnd = spare.end;
    return spare;
  }

  /**
   * Make the first `n` bytes of the view from the last
   * {@linkcode EvBuffer.reserveSpace} part of the buffer (libevent
   * `evbuffer_commit_space`). `n` may be 0 to give the reservation up.
   *
   * @throws {RangeError} if n is not an integer >= 0 or is more than was reserved
   * @throws {BufferError} `ERR_NO_RESERVATION` without a live reservation; `ERR_FROZEN` if the end is frozen
   */
  commitSpace(n: number): void {
    checkCount(n, "n");
    this.#checkEnd("commitSpace");
    const seg = this.#resSeg;
    const live = seg !== null && seg.end === this.#resEnd && (seg === this.#spare || seg === this.#tail());
    if (!live) {
      this.#resSeg = null;
      throw new BufferError("ERR_NO_RESERVATION", "commitSpace without a live reserveSpace; the buffer changed since");
    }
    if (n > seg.buf.length - seg.end) {
      throw rangeError("n", `at most the ${seg.buf.length - seg.end} bytes reserved`, n);
    }
    this.#resSeg = null;
    if (n === 0) return;
    if (seg === this.#spare) {
      this.#spare = null;
      this.#segs.push(seg);
    }
    const orig = this.#length;
    seg.end += n;
    this.#length += n;
    if (this.#cbs.length !== 0) this.#notify(orig, n, 0);
  }

  /**
   * Make sure `n` bytes can be added without allocating (libevent
   * `evbuffer_expand`): the next reserveSpace(n) or small add uses the
   * space set aside here. Content is unchanged.
   *
   * @throws {RangeError} if n is not an integer >= 0
   */
  expand(n: number): void {
    this.#live("expand");
    checkCount(n, "n");
    const tail = this.#tail();
    if (tail !== null && tail.owned && tail.buf.length - tail.end >= n) return;
    if (this.#spare !== null && this.#spare.buf.length - this.#spare.end >= n) return;
    this.#spare = this.#newSegment(n);
  }

  // ------------------------------------------------------------- searching

  /**
   * Find the first occurrence of `needle` at or after `start` (libevent
   * `evbuffer_search`). A string needle is searched as UTF-8. An empty
   * needle is found at `start`.
   *
   * @returns a new pointer at the match; its `pos` is -1 if there is none
   * @throws {TypeError} if needle is neither bytes nor a string, or start is not an EvBufferPtr
   * @throws {RangeError} if start.pos is not an integer >= 0
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the search reaches an unloaded file segment
   */
  search(needle: Uint8Array | string, start?: EvBufferPtr | null): EvBufferPtr {
    this.#live("search");
    const bytes = toNeedle(needle);
    const from = start == null ? 0 : this.#ptrPos(start, "start");
    return this.#search(bytes, from, start ?? null, this.#length);
  }

  /**
   * Find the first occurrence of `needle` that starts at or after `start`
   * and ends at or before `end` (libevent `evbuffer_search_range`); a null
   * start or end means the buffer's start or end.
   *
   * @returns a new pointer at the match; its `pos` is -1 if there is none
   * @throws {TypeError} if needle is neither bytes nor a string, or start / end is not an EvBufferPtr
   * @throws {RangeError} if start.pos or end.pos is not an integer >= 0
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the search reaches an unloaded file segment
   */
  searchRange(needle: Uint8Array | string, start: EvBufferPtr | null, end: EvBufferPtr | null): EvBufferPtr {
    this.#live("searchRange");
    const bytes = toNeedle(needle);
    const from = start == null ? 0 : this.#ptrPos(start, "start");
    const limit = end == null ? this.#length : Math.min(this.#ptrPos(end, "end"), this.#length);
    return this.#search(bytes, from, start, limit);
  }

  /**
   * Find the first line end of `style` at or after `start` (libevent
   * `evbuffer_search_eol`).
   *
   * @returns a new pointer at the line end's first byte and its length; pos -1 and length 0 if there is none
   * @throws {TypeError} if start is not an EvBufferPtr or style is unknown
   * @throws {RangeError} if start.pos is not an integer >= 0
   * @throws {BufferError} `ERR_FILE_NOT_LOADED` if the search reaches an unloaded file segment
   */
  searchEol(start: EvBufferPtr | null, style: EvBufferEolStyle): EvBufferEolResult {
    this.#live("searchEol");
    const from = start == null ? 0 : this.#ptrPos(start, "start");
    const code = eolCode(style);
    const ptr = new EvBufferPtr(-1);
    if (from >= this.#length) return { ptr, eolLength: 0 };
    this.#locate(from, start);
    const segs = this.#segs;
    const si = this.#locSeg;
    const segPos = this.#locSegPos;
    if (!this.#findEol(code, si, segs[si].start + from - segPos, segPos, false, false)) return { ptr, eolLength: 0 };
    this.#locate(this.#eolPos, null);
    ptr.pos = this.#eolPos;
    writeHint(ptr, this, this.#epoch, this.#locSeg, this.#locSegPos);
    return { ptr, eolLength: this.#eolLen };
  }

  /**
   * Move `ptr` to `position` (`"set"`) or forward by `position` (`"add"`)
   * (libevent `evbuffer_ptr_set`). A pointer may point one past the last
   * byte. When the result would be past that, `ptr.pos` becomes -1.
   *
   * @returns true on success, false if the position is outside the buffer
   * @throws {TypeError} if ptr is not an EvBufferPtr or how is unknown
   * @throws {RangeError} if position is not an integer >= 0
   */
  ptrSet(ptr: EvBufferPtr, position: number, how: EvBufferPtrHow): boolean {
    this.#live("ptrSet");
    if (!(ptr instanceof EvBufferPtr)) throw typeError("ptr", "an EvBufferPtr", ptr);
    checkCount(position, "position");
    checkOneOf(how, "how", PTR_HOWS);
    if (how === "add" && !(ptr.pos >= 0)) return false;
    const pos = how === "set" ? position : ptr.pos + position;
    if (pos > this.#length) {
      ptr.pos = -1;
      writeHint(ptr, null, -1, 0, 0);
      return false;
    }
    this.#locate(pos, ptr);
    ptr.pos = pos;
    writeHint(ptr, this, this.#epoch, this.#locSeg, this.#locSegPos);
    return true;
  }

  // ----------------------------------------------------------------- lines

  /**
   * Remove one line from the front and return it without its line end
   * (libevent `evbuffer_readln`), or null when no complete line is in the
   * buffer. The result shares memory with the buffer when the line lies in
   * one segment; bytes are copied only for a line that spans segments.
   *
   * @throws {TypeError} if style is unknown
   * @throws {BufferError} `ERR_FROZEN` if the start is frozen; `ERR_FILE_NOT_LOADED` if finding the line end needs an unloaded file segment
   */
  readLine(style: EvBufferEolStyle): Uint8Array | null {
    const code = eolCode(style);
    this.#checkStart("readLine");
    if (this.#length === 0) return null;
    const seg = this.#segs[this.#head];
    if (seg.file === null && code !== EOL_ANY && (this.#scanEpoch !== this.#epoch || this.#scanCode !== code)) {
      // Fast path: the line end is in the first segment.
      const start = seg.start;
      const buf = seg.buf;
      let i = findByte(seg, code === EOL_NUL ? 0 : LF, start);
      let lineEnd = i;
      if (code === EOL_CRLF) {
        if (i > start && buf[i - 1] === CR) lineEnd = i - 1;
      } else if (code === EOL_CRLF_STRICT) {
        while (i >= 0 && !(i > start && buf[i - 1] === CR)) i = findByte(seg, LF, i + 1);
        lineEnd = i - 1;
      }
      if (i >= 0) {
        const line = buf.subarray(start, lineEnd);
        const k = i + 1 - start;
        const orig = this.#length;
        seg.start = i + 1;
        this.#length -= k;
        this.#epoch++;
        if (seg.start === seg.end) this.#dropHead();
        if (this.#cbs.length !== 0) this.#notify(orig, 0, k);
        return line;
      }
    }
    return this.#readLineSlow(code);
  }

  /**
   * {@linkcode EvBuffer.readLine}, decoded as UTF-8 (malformed bytes become
   * U+FFFD).
   *
   * @throws {TypeError} if style is unknown
   * @throws {BufferError} as readLine
   */
  readLineString(style: EvBufferEolStyle): string | null {
    const line = this.readLine(style);
    return line === null ? null : decoder.decode(line);
  }

  // ------------------------------------------------------- freeze and cbs

  /**
   * Freeze the start (`atFront` true: drain, remove, readLine, prepend and
   * moving bytes out are refused) or the end (false: every kind of add,
   * reserve and commit is refused) (libevent `evbuffer_freeze`). Refused
   * operations throw BufferError `ERR_FROZEN`.
   *
   * @throws {TypeError} if atFront is not a boolean
   */
  freeze(atFront: boolean): void {
    this.#live("freeze");
    checkBoolean(atFront, "atFront");
    if (atFront) this.#frozenStart = true;
    else this.#frozenEnd = true;
  }

  /**
   * Undo {@linkcode EvBuffer.freeze} for the start or the end (libevent
   * `evbuffer_unfreeze`).
   *
   * @throws {TypeError} if atFront is not a boolean
   */
  unfreeze(atFront: boolean): void {
    this.#live("unfreeze");
    checkBoolean(atFront, "atFront");
    if (atFront) this.#frozenStart = false;
    else this.#frozenEnd = false;
  }

  /**
   * Register a change callback, enabled (libevent `evbuffer_add_cb`). After
   * every change of length it is called as `cb(buffer, { origSize, added,
   * deleted })`, synchronously, in the order callbacks were added.
   *
   * @returns the entry to pass to removeCb / setCbFlags
   * @throws {TypeError} if cb is not a function
   */
  addCb(cb: EvBufferCallback): EvBufferCbEntry {
    this.#live("addCb");
    checkFunction(cb, "cb");
    const entry: CbEntry = { callback: cb, enabled: true, owner: this };
    // A fresh array (here and in removeCb), so a notification under way runs over the list it started with.
    this.#cbs = [...this.#cbs, entry];
    return entry;
  }

  /**
   * Unregister a callback (libevent `evbuffer_remove_cb_entry`). A removed
   * callback is not called again, even by a change already under way.
   *
   * @returns false if the entry was not registered on this buffer
   */
  removeCb(entry: EvBufferCbEntry): boolean {
    const index = this.#cbs.indexOf(entry as CbEntry);
    if (index < 0) return false;
    (entry as CbEntry).owner = null;
    this.#cbs = this.#cbs.filter((e) => e !== entry);
    return true;
  }

  /**
   * Enable or disable a callback (libevent `evbuffer_cb_set_flags` /
   * `evbuffer_cb_clear_flags` with `EVBUFFER_CB_ENABLED`). A disabled
   * callback misses the changes made meanwhile; it is not told of them later.
   *
   * @throws {TypeError} if entry is not registered on this buffer or enabled is not a boolean
   */
  setCbFlags(entry: EvBufferCbEntry, enabled: boolean): void {
    this.#live("setCbFlags");
    checkBoolean(enabled, "enabled");
    if (!this.#cbs.includes(entry as CbEntry)) throw typeError("entry", "a callback entry of this buffer", entry);
    (entry as CbEntry).enabled = enabled;
  }

  /**
   * Release everything (libevent `evbuffer_free`): reference cleanups run,
   * file handles no longer used are closed, callbacks are dropped without
   * being called, reservations end. The buffer is then empty for good: its
   * `length` is 0, free() and removeCb() do nothing, and every other method
   * throws `ERR_FREED`.
   */
  free(): void {
    if (this.#freed) return;
    // The frozen flags make every adding or removing method check; #checkStart/#checkEnd tell freed from frozen.
    this.#freed = true;
    const segs = this.#segs;
    const head = this.#head;
    this.#segs = [];
    this.#head = 0;
    this.#length = 0;
    this.#fileCount = 0;
    this.#spare = null;
    this.#resSeg = null;
    this.#frozenStart = true;
    this.#frozenEnd = true;
    for (const entry of this.#cbs) entry.owner = null;
    this.#cbs = [];
    this.#epoch++;
    for (let i = head; i < segs.length; i++) this.#release(segs[i]);
  }

  /** {@linkcode EvBuffer.free}, for `using buf = new EvBuffer()`. */
  [Symbol.dispose](): void {
    this.free();
  }

  // --------------------------------------------------------------- private

  #live(op: string): void {
    if (this.#freed) throw freedError(op, "EvBuffer");
  }

  #checkStart(op: string): void {
    if (this.#frozenStart) {
      throw this.#freed
        ? freedError(op, "EvBuffer")
        : new BufferError("ERR_FROZEN", `${op}: the start of the buffer is frozen`);
    }
  }

  #checkEnd(op: string): void {
    if (this.#frozenEnd) {
      throw this.#freed
        ? freedError(op, "EvBuffer")
        : new BufferError("ERR_FROZEN", `${op}: the end of the buffer is frozen`);
    }
  }

  #checkOther(other: unknown): void {
    if (!(other instanceof EvBuffer)) throw typeError("other", "an EvBuffer", other);
    if (other === this) throw typeError("other", "another EvBuffer than this one", other);
  }

  /** Validate a pointer argument and return its position. */
  #ptrPos(ptr: unknown, name: string): number {
    if (!(ptr instanceof EvBufferPtr)) throw typeError(name, "an EvBufferPtr", ptr);
    checkCount(ptr.pos, `${name}.pos`);
    return ptr.pos;
  }

  #tail(): Segment | null {
    const segs = this.#segs;
    return segs.length > this.#head ? segs[segs.length - 1] : null;
  }

  /** An owned segment at the end of the chain with at least `n` bytes of spare capacity. */
  #appendTarget(n: number): Segment {
    const tail = this.#tail();
    if (tail !== null && tail.owned && tail.buf.length - tail.end >= n) return tail;
    let seg = this.#spare;
    if (seg === null || seg.buf.length - seg.end < n) seg = this.#newSegment(n);
    this.#spare = null;
    // Pushed empty; every caller writes into it before returning.
    this.#segs.push(seg);
    return seg;
  }

  /** A new segment for `seg.buf[from, to)`, sharing its bytes read-only and its trackers. */
  #share(seg: Segment, from: number, to: number): Segment {
    const copy = new Segment(seg.buf, from, to, false);
    if (seg.ref !== null) {
      copy.ref = seg.ref;
      seg.ref.refs++;
    }
    if (seg.file !== null) {
      copy.file = seg.file;
      copy.fileOffset = seg.fileOffset;
      seg.file.refs++;
    }
    return copy;
  }

  /** Let go of a segment that left the chain: run its reference cleanup or close its file when last. */
  #release(seg: Segment): void {
    const ref = seg.ref;
    if (ref !== null && --ref.refs === 0) ref.cleanup?.(ref.bytes);
    if (seg.file !== null) releaseFile(seg.file);
  }

  /** Remove the (emptied) first segment. */
  #dropHead(): void {
    const seg = this.#segs[this.#head];
    this.#segs[this.#head++] = DEAD;
    this.#afterFrontRemoval();
    if (seg.ref !== null || seg.file !== null) {
      if (seg.file !== null) this.#fileCount--;
      this.#release(seg);
    }
  }

  /** Tidy the array after segments left the front. */
  #afterFrontRemoval(): void {
    const segs = this.#segs;
    if (this.#head === segs.length) {
      // Popped, not truncated: `length = 0` frees the backing store, and
      // a connection's buffers empty once per message.
      while (segs.length > 0) segs.pop();
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= segs.length) {
      segs.splice(0, this.#head);
      this.#head = 0;
    }
    this.#epoch++;
  }

  /** Drain `k` (<= length) bytes from the front, releasing emptied segments. */
  #consume(k: number): void {
    const segs = this.#segs;
    let left = k;
    let released: Segment[] | null = null;
    let last: Segment | null = null;
    while (left > 0) {
      const seg = segs[this.#head];
      const len = seg.end - seg.start;
      if (len <= left) {
        left -= len;
        segs[this.#head++] = DEAD;
        last = seg;
        if (seg.ref !== null || seg.file !== null) {
          if (seg.file !== null) this.#fileCount--;
          (released ??= []).push(seg);
        }
      } else {
        seg.start += left;
        left = 0;
      }
    }
    this.#length -= k;
    if (this.#length === 0 && last !== null) this.#keepSpare(last);
    this.#afterFrontRemoval();
    if (released !== null) { for (const seg of released) this.#release(seg); }
  }

  /**
   * The buffer was drained empty: keep the unused capacity of its last
   * segment as the spare for the next writes. A buffer that is filled and
   * emptied once per message (a connection's input and output) then
   * allocates a segment every few dozen messages rather than every one.
   * Safe because bytes past `end` were never readable, so no view handed
   * out covers them, and only an owned segment's spare is ours to write.
   */
  #keepSpare(seg: Segment): void {
    if (!this.#mayKeepSpare(seg)) return;
    // The segment itself becomes the spare, empty at its end: it has left
    // the chain, and no view covers bytes past `end`.
    seg.start = seg.end;
    this.#spare = seg;
  }

  /** A new owned, empty segment with room for at least `n` bytes; small ones grow from FIRST_SEGMENT to MIN_SEGMENT with use. */
  #newSegment(n: number): Segment {
    const size = this.#segSize;
    if (size < MIN_SEGMENT) this.#segSize = size * 2;
    return new Segment(new Uint8Array(n <= size ? size : capacityFor(n)), 0, 0, true);
  }

  /** Whether `seg`'s unused room may become the spare: it is ours to write, free, worth keeping and not large. */
  #mayKeepSpare(seg: Segment): boolean {
    if (!seg.owned || this.#spare !== null || seg === this.#resSeg) return false;
    // A large segment (a bulk transfer's) is not kept alive for a few small writes.
    // An owned segment's array is a whole one we made (its buffer no larger), so its own length tells;
    // reading `.buffer` would make JavaScriptCore give a small array a separate ArrayBuffer.
    return seg.buf.length - seg.end >= MIN_SPARE && seg.buf.length <= MAX_SPARE_SEGMENT;
  }

  /** Copy `n` bytes starting at segment `si`, offset `off`, into `dst`. */
  #copyRange(si: number, off: number, dst: Uint8Array, n: number): void {
    const segs = this.#segs;
    for (let i = si, covered = -(off - segs[si].start); covered < n; covered += segs[i].end - segs[i].start, i++) {
      if (segs[i].file !== null) throw notLoaded();
    }
    let done = 0;
    while (done < n) {
      const seg = segs[si++];
      const take = Math.min(seg.end - off, n - done);
      dst.set(take === seg.buf.length ? seg.buf : seg.buf.subarray(off, off + take), done);
      done += take;
      if (si < segs.length) off = segs[si].start;
    }
  }

  /** Bytes before the first file segment. */
  #readableLength(): number {
    if (this.#fileCount === 0) return this.#length;
    const segs = this.#segs;
    let pos = 0;
    for (let i = this.#head; i < segs.length && segs[i].file === null; i++) pos += segs[i].end - segs[i].start;
    return pos;
  }

  /**
   * Find the segment holding byte `pos` (0..length): sets #locSeg and
   * #locSegPos (the position of its first byte). pos === length gives
   * the index past the last segment. Starts from ptr's memory when fresh.
   */
  #locate(pos: number, ptr: EvBufferPtr | null): void {
    const segs = this.#segs;
    let si = this.#head;
    let segPos = 0;
    if (ptr !== null && readHint(ptr, this, this.#epoch)) {
      const hs = hintSeg(ptr);
      const hp = hintSegPos(ptr);
      if (hp <= pos && hs >= si && hs < segs.length) {
        si = hs;
        segPos = hp;
      }
    }
    while (si < segs.length) {
      const len = segs[si].end - segs[si].start;
      if (pos < segPos + len) break;
      segPos += len;
      si++;
    }
    // The end of the buffer is reported as the end of its last segment, not
    // as a segment past it: that segment may grow in place, which would leave
    // a hint at "segment past the end, at the old length" pointing wrong.
    if (si === segs.length && si > this.#head) {
      si--;
      segPos -= segs[si].end - segs[si].start;
    }
    this.#locSeg = si;
    this.#locSegPos = segPos;
  }

  #search(needle: Uint8Array, from: number, hint: EvBufferPtr | null, limit: number): EvBufferPtr {
    const result = new EvBufferPtr(-1);
    const nlen = needle.length;
    if (from > this.#length || from + nlen > limit) return result;
    this.#locate(from, hint);
    let si = this.#locSeg;
    let segPos = this.#locSegPos;
    if (nlen === 0) {
      result.pos = from;
      writeHint(result, this, this.#epoch, si, segPos);
      return result;
    }
    const segs = this.#segs;
    const first = needle[0];
    const lastStart = limit - nlen;
    const firstSeg = si;
    let off = segs[si].start + from - segPos;
    for (; si < segs.length; si++) {
      const seg = segs[si];
      if (si !== firstSeg) off = seg.start;
      if (segPos + off - seg.start > lastStart) break;
      if (seg.file !== null) throw notLoaded();
      const lastP = lastStart - segPos + seg.start;
      for (;;) {
        const p = findByte(seg, first, off);
        if (p < 0 || p > lastP) break;
        if (this.#matchAt(si, p, needle)) {
          result.pos = segPos + p - seg.start;
          writeHint(result, this, this.#epoch, si, segPos);
          return result;
        }
        off = p + 1;
      }
      segPos += seg.end - seg.start;
    }
    return result;
  }

  /** Whether `needle` is at segment `si`, offset `p` (needle[0] already matched there). */
  #matchAt(si: number, p: number, needle: Uint8Array): boolean {
    const segs = this.#segs;
    let seg = segs[si];
    const nlen = needle.length;
    if (p + nlen <= seg.end) {
      const buf = seg.buf;
      if (buf[p + nlen - 1] !== needle[nlen - 1]) return false;
      for (let k = 1; k < nlen - 1; k++) if (buf[p + k] !== needle[k]) return false;
      return true;
    }
    let i = p + 1;
    for (let k = 1; k < nlen; k++, i++) {
      if (i === seg.end) {
        if (++si === segs.length) return false;
        seg = segs[si];
        if (seg.file !== null) throw notLoaded();
        i = seg.start;
      }
      if (seg.buf[i] !== needle[k]) return false;
    }
    return true;
  }

  /**
   * Find the first line end of style `code` from segment `si`, offset `off`
   * (`segPos` is the segment's position; `prevCr` says the byte before off
   * is a CR inside the searched range). Sets #eolPos / #eolLen and returns
   * true, or returns false; with `record`, a miss leaves the place to
   * resume from in the #scan fields.
   */
  #findEol(code: number, si: number, off: number, segPos: number, prevCr: boolean, record: boolean): boolean {
    const segs = this.#segs;
    const ch = code === EOL_NUL ? 0 : LF;
    for (; si < segs.length; si++) {
      const seg = segs[si];
      if (seg.file !== null) throw notLoaded();
      const buf = seg.buf;
      const end = seg.end;
      if (code === EOL_ANY) {
        for (let i = off; i < end; i++) {
          const b = buf[i];
          if (b === LF || b === CR) {
            this.#eolPos = segPos + i - seg.start;
            this.#eolLen = this.#runLength(si, i);
            return true;
          }
        }
      } else {
        let i = findByte(seg, ch, off);
        while (i >= 0) {
          const pos = segPos + i - seg.start;
          if (code === EOL_LF || code === EOL_NUL) {
            this.#eolPos = pos;
            this.#eolLen = 1;
            return true;
          }
          const cr = i > off ? buf[i - 1] === CR : prevCr;
          if (cr || code === EOL_CRLF) {
            this.#eolPos = cr ? pos - 1 : pos;
            this.#eolLen = cr ? 2 : 1;
            return true;
          }
          i = findByte(seg, LF, i + 1);
        }
      }
      if (end > off) prevCr = buf[end - 1] === CR;
      if (si + 1 < segs.length) {
        segPos += end - seg.start;
        off = segs[si + 1].start;
      } else if (record) {
        this.#scanEpoch = this.#epoch;
        this.#scanCode = code;
        this.#scanSeg = si;
        this.#scanSegPos = segPos;
        this.#scanOff = end;
        this.#scanPrevCr = prevCr;
      }
    }
    return false;
  }

  /** How many CR / LF bytes follow in a row from segment `si`, offset `i`. */
  #runLength(si: number, i: number): number {
    const segs = this.#segs;
    let seg = segs[si];
    let n = 0;
    for (;;) {
      if (i === seg.end) {
        if (++si === segs.length) return n;
        seg = segs[si];
        if (seg.file !== null) throw notLoaded();
        i = seg.start;
      }
      const b = seg.buf[i];
      if (b !== LF && b !== CR) return n;
      n++;
      i++;
    }
  }

  #readLineSlow(code: number): Uint8Array | null {
    const segs = this.#segs;
    const head = segs[this.#head];
    let found: boolean;
    if (this.#scanEpoch === this.#epoch && this.#scanCode === code) {
      found = this.#findEol(code, this.#scanSeg, this.#scanOff, this.#scanSegPos, this.#scanPrevCr, true);
    } else {
      found = this.#findEol(code, this.#head, head.start, 0, false, true);
    }
    if (!found) return null;
    const lineLen = this.#eolPos;
    const total = lineLen + this.#eolLen;
    let line: Uint8Array;
    if (head.end - head.start >= lineLen) {
      line = head.buf.subarray(head.start, head.start + lineLen);
    } else {
      line = new Uint8Array(lineLen);
      this.#copyRange(this.#head, head.start, line, lineLen);
    }
    const orig = this.#length;
    this.#consume(total);
    if (this.#cbs.length !== 0) this.#notify(orig, 0, total);
    return line;
  }

  #notify(origSize: number, added: number, deleted: number): void {
    const info: EvBufferCbInfo = { origSize, added, deleted };
    for (const entry of this.#cbs) {
      if (entry.enabled && entry.owner === this) entry.callback(this, info);
    }
  }
}

// ---------------------------------------------------------------- printf

/** Integer text for %d %i %u %x %X %o, sign apart. */
function integerDigits(value: unknown, conv: string, index: number): { neg: boolean; digits: string } {
  let big: bigint;
  if (typeof value === "bigint") big = value;
  else if (typeof value === "number" && Number.isFinite(value)) big = BigInt(Math.trunc(value));
  else throw typeError(`args[${index}]`, `a finite number or a bigint for %${conv}`, value);
  if (conv === "d" || conv === "i") return { neg: big < 0n, digits: (big < 0n ? -big : big).toString() };
  if (big < 0n) big = BigInt.asUintN(64, big);
  const radix = conv === "o" ? 8 : conv === "u" ? 10 : 16;
  const digits = big.toString(radix);
  return { neg: false, digits: conv === "X" ? digits.toUpperCase() : digits };
}

function floatText(value: unknown, precision: number, index: number): { neg: boolean; digits: string } {
  if (typeof value !== "number" && typeof value !== "bigint") {
    throw typeError(`args[${index}]`, "a number for %f", value);
  }
  const x = Number(value);
  if (Number.isNaN(x)) return { neg: false, digits: "nan" };
  const neg = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  if (abs === Infinity) return { neg, digits: "inf" };
  // toFixed switches to exponent notation from 1e21; such numbers are integers.
  const digits = abs >= 1e21
    ? BigInt(abs).toString() + (precision > 0 ? "." + "0".repeat(precision) : "")
    : abs.toFixed(Math.min(precision, 100));
  return { neg, digits };
}

/** Format like C's printf for the conversions {@linkcode EvBuffer.addPrintf} documents. */
function formatPrintf(format: string, args: readonly unknown[]): string {
  checkString(format, "format");
  let out = "";
  let next = 0;
  let i = 0;
  const bad = (why: string): TypeError => new TypeError(`format ${JSON.stringify(format)} ${why}`);
  for (;;) {
    const j = format.indexOf("%", i);
    if (j < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, j);
    i = j + 1;
    if (format[i] === "%") {
      out += "%";
      i++;
      continue;
    }
    let left = false;
    let zero = false;
    for (; format[i] === "-" || format[i] === "0"; i++) {
      if (format[i] === "-") left = true;
      else zero = true;
    }
    let width = 0;
    for (; format[i] >= "0" && format[i] <= "9"; i++) width = width * 10 + (format.charCodeAt(i) - 48);
    let precision = -1;
    if (format[i] === ".") {
      precision = 0;
      for (i++; format[i] >= "0" && format[i] <= "9"; i++) precision = precision * 10 + (format.charCodeAt(i) - 48);
    }
    while (i < format.length && "lhzjt".includes(format[i])) i++;
    if (i >= format.length) throw bad(`ends inside a conversion at index ${j}`);
    const conv = format[i++];
    if (!"sdiuxXocf".includes(conv)) throw bad(`has an unknown conversion "%${conv}" at index ${j}`);
    if (next >= args.length) throw bad(`needs more than the ${args.length} argument(s) given`);
    const index = next;
    const value = args[next++];
    let sign = "";
    let body: string;
    let numeric = true;
    if (conv === "s") {
      numeric = false;
      body = String(value);
      if (precision >= 0 && body.length > precision) {
        // Do not cut a surrogate pair in half.
        let cut = precision;
        const c = body.charCodeAt(cut - 1);
        if (cut > 0 && c >= 0xd800 && c <= 0xdbff) cut--;
        body = body.slice(0, cut);
      }
    } else if (conv === "c") {
      numeric = false;
      if (typeof value === "number") {
        if (!Number.isInteger(value) || value < 0 || value > 0x10ffff) {
          throw rangeError(`args[${index}]`, "a code point for %c", value);
        }
        body = String.fromCodePoint(value);
      } else if (typeof value === "string" && value.length > 0) {
        body = String.fromCodePoint(value.codePointAt(0) as number);
      } else {
        throw typeError(`args[${index}]`, "a code point or a non-empty string for %c", value);
      }
    } else if (conv === "f") {
      const r = floatText(value, precision < 0 ? 6 : precision, index);
      if (r.neg) sign = "-";
      body = r.digits;
    } else {
      const r = integerDigits(value, conv, index);
      if (r.neg) sign = "-";
      body = r.digits;
      if (precision >= 0) {
        // C: a precision is the minimum digit count, and turns the 0 flag off.
        zero = false;
        body = precision === 0 && body === "0" ? "" : body.padStart(precision, "0");
      }
    }
    const pad = width - sign.length - body.length;
    if (pad <= 0) out += sign + body;
    else if (left) out += sign + body + " ".repeat(pad);
    else if (zero && numeric && body !== "nan" && body !== "inf") out += sign + "0".repeat(pad) + body;
    else out += " ".repeat(pad) + sign + body;
  }
  if (next < args.length) throw bad(`uses ${next} argument(s) but ${args.length} were given`);
  return out;
}
