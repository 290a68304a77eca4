/**
 * evtag: libevent's tagging format (tag.h), byte for byte. A stream is a
 * run of records, each a tag, the payload's length and the payload:
 *
 * - a tag (u32) is little-endian groups of 7 bits, the high bit set on every
 *   byte but the last: 0x7f is `7f`, 0x80 is `80 01`, 0xffffffff is
 *   `ff ff ff ff 0f`;
 * - an integer (the length, and int and int64 payloads) is its count of
 *   significant hex nibbles less one in the first byte's high nibble, then
 *   the nibbles, least significant first, filling the first byte's low
 *   nibble, then the next byte's high and low nibbles, a last unused low
 *   nibble 0: 0x1234 is `34 32 10`.
 *
 * The functions read and write {@linkcode EvBuffer}s as libevent's do; where
 * libevent returns -1 they throw an {@linkcode RpcError} and leave the
 * buffer as it was. {@linkcode EvtagWriter} and {@linkcode EvtagReader}, the
 * array-based codec underneath, serve the schemas; they are not public.
 *
 * @module
 */
import { EvBuffer } from "../buffer/evbuffer.ts";
import { checkInteger, checkObject, checkString, rangeError, typeError } from "../check.ts";
import { RpcError } from "./rpc_error.ts";

/** A time as libevent's `struct timeval`: seconds and microseconds, each a u32 on the wire. */
export interface EvtagTimeval {
  /** Seconds (`tv_sec`), 0..2^32-1. */
  readonly sec: number;
  /** Microseconds (`tv_usec`), 0..2^32-1. */
  readonly usec: number;
}

/** A record's header: its tag and its payload's length in bytes. */
export interface EvtagHeader {
  /** The record's tag. */
  readonly tag: number;
  /** The payload's length in bytes. */
  readonly length: number;
}

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;
const TWO_32 = 4294967296;
const MASK_32 = 0xffffffffn;
const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

// ------------------------------------------------------------ sizes

/** Bytes of a tag: one per 7 bits, 1..5. */
export function tagSize(tag: number): number {
  return tag < 0x80 ? 1 : tag < 0x4000 ? 2 : tag < 0x200000 ? 3 : tag < 0x10000000 ? 4 : 5;
}

/** Bytes of an integer of `k` significant nibbles: floor(k/2)+1. */
function nibbleBytes(k: number): number {
  return (k >> 1) + 1;
}

/** Significant nibbles of a u32 (1 for 0). */
function nibbles32(n: number): number {
  let k = 1;
  for (let t = n >>> 4; t !== 0; t >>>= 4) k++;
  return k;
}

/** Bytes of a u32 as an evtag integer: 1..5. */
export function intSize(n: number): number {
  return nibbleBytes(nibbles32(n));
}

/** Bytes of a u64, given as its low and high 32 bits, as an evtag integer: 1..9. */
export function int64Size(lo: number, hi: number): number {
  return hi === 0 ? intSize(lo) : nibbleBytes(8 + nibbles32(hi));
}

// ------------------------------------------------------------ the writer

/**
 * A growable byte array that evtag records are written into: the schemas'
 * encoder. Internal: fields are read and moved by the encoders directly.
 */
export class EvtagWriter {
  /** The bytes; only `[0, pos)` is written. */
  buf: Uint8Array;
  /** Where the next byte goes. */
  pos = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A copy of what was written. */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** Write a tag (libevent's `evtag_encode_tag`). */
  tag(tag: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    let t = tag;
    while (t >= 0x80) {
      buf[pos++] = (t & 0x7f) | 0x80;
      t = Math.floor(t / 128);
    }
    buf[pos++] = t;
    this.pos = pos;
  }

  /** Write a u32 (libevent's `evtag_encode_int`). */
  int(n: number): void {
    this.ensure(5);
    this.pos = writeNibbles(this.buf, this.pos, n >>> 0, 0, nibbles32(n));
  }

  /** Write a u64 given as its low and high 32 bits (libevent's `evtag_encode_int64`). */
  int64(lo: number, hi: number): void {
    this.ensure(9);
    const k = hi === 0 ? nibbles32(lo) : 8 + nibbles32(hi);
    this.pos = writeNibbles(this.buf, this.pos, lo, hi, k);
  }

  /** Write raw bytes. */
  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /**
   * Write a record whose payload was written from `start` on with no room
   * left for its length: move the payload up by the length's size and put
   * the length in front. The tag is written before `start` by the caller.
   */
  closeRecord(start: number): void {
    const length = this.pos - start;
    const size = intSize(length);
    this.ensure(size);
    const buf = this.buf;
    if (length > 0) buf.copyWithin(start + size, start, this.pos);
    writeNibbles(buf, start, length, 0, nibbles32(length));
    this.pos += size;
  }

  /** Write a string record: tag, UTF-8 length, UTF-8 bytes. */
  stringRecord(tag: number, text: string): void {
    this.tag(tag);
    const n = text.length;
    // UTF-8 takes at least one byte per UTF-16 unit, so n bytes' length size is a floor.
    const guess = intSize(n);
    this.ensure(guess + n * 3);
    const buf = this.buf;
    const start = this.pos + guess;
    let length: number;
    if (n < 64 && isAscii(text)) {
      for (let i = 0; i < n; i++) buf[start + i] = text.charCodeAt(i);
      length = n;
    } else {
      length = utf8Encoder.encodeInto(text, buf.subarray(start)).written;
    }
    const size = intSize(length);
    if (size !== guess) buf.copyWithin(this.pos + size, start, start + length);
    writeNibbles(buf, this.pos, length, 0, nibbles32(length));
    this.pos += size + length;
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Put an integer of `k` nibbles (`lo` holds nibbles 0-7, `hi` 8-15) at
 * `pos`: k-1 in the first high nibble, then the nibbles from the least
 * significant, into the first low nibble, then each next byte's high and
 * low nibble. Returns the position after it.
 */
function writeNibbles(buf: Uint8Array, pos: number, lo: number, hi: number, k: number): number {
  const size = nibbleBytes(k);
  buf[pos] = (k - 1) << 4;
  for (let i = 1; i < size; i++) buf[pos + i] = 0;
  for (let i = 0; i < k; i++) {
    const nib = i < 8 ? (lo >>> (4 * i)) & 15 : (hi >>> (4 * (i - 8))) & 15;
    const off = i + 1;
    const at = pos + (off >> 1);
    if (off & 1) buf[at] |= nib;
    else buf[at] |= nib << 4;
  }
  return pos + size;
}

// ------------------------------------------------------------ the reader

/**
 * A cursor over evtag bytes, `[pos, end)` of `bytes`: the schemas' decoder.
 * Each read advances `pos` or throws {@linkcode RpcError} `ERR_RPC_MALFORMED`
 * (then `pos` is where the bad item began). Internal.
 */
export class EvtagReader {
  bytes: Uint8Array;
  pos: number;
  end: number;
  /** The 64-bit value's high 32 bits, after {@linkcode EvtagReader.int64Parts}. */
  hi = 0;

  constructor(bytes: Uint8Array, pos = 0, end: number = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }

  /** Read a tag (libevent's `decode_tag_internal`): at most 5 bytes, the fifth group at most 15. */
  tag(): number {
    const bytes = this.bytes;
    const end = this.end;
    let pos = this.pos;
    let tag = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (pos >= end) throw malformed("a tag is cut short");
      const b = bytes[pos++];
      const group = b & 0x7f;
      if (shift === 28 && group > 15) throw malformed("a tag does not fit in 32 bits");
      tag += group * 2 ** shift;
      if ((b & 0x80) === 0) {
        this.pos = pos;
        return tag;
      }
    }
    throw malformed("a tag has no last byte within 5 bytes");
  }

  /** Read a u32 integer (libevent's `decode_int_internal`): at most 8 nibbles. */
  int(): number {
    return this.#nibbles(8);
  }

  /** Read a u64 integer as its low 32 bits, returned, and high 32 bits, left in {@linkcode EvtagReader.hi}. */
  int64Parts(): number {
    return this.#nibbles(16);
  }

  #nibbles(max: number): number {
    const bytes = this.bytes;
    const pos = this.pos;
    if (pos >= this.end) throw malformed("an integer is cut short");
    const k = (bytes[pos] >> 4) + 1;
    if (k > max) throw malformed(`an integer of ${k} nibbles (at most ${max})`);
    const size = nibbleBytes(k);
    if (pos + size > this.end) throw malformed("an integer is cut short");
    let lo = 0;
    let hi = 0;
    for (let i = k - 1; i >= 0; i--) {
      const off = i + 1;
      const b = bytes[pos + (off >> 1)];
      const nib = off & 1 ? b & 15 : b >> 4;
      if (i >= 8) hi = ((hi << 4) | nib) >>> 0;
      else lo = ((lo << 4) | nib) >>> 0;
    }
    this.hi = hi;
    this.pos = pos + size;
    return lo;
  }

  /** Read a record's header; returns the tag (also left in `lastTag`) and leaves the payload's end in `recordEnd`. */
  header(): number {
    const tag = this.tag();
    const length = this.int();
    if (this.pos + length > this.end) throw malformed(`a record of tag ${tag} is cut short`);
    this.recordEnd = this.pos + length;
    this.lastTag = tag;
    return tag;
  }

  /** Where the payload of the record read by {@linkcode EvtagReader.header} ends. */
  recordEnd = 0;
  /** The tag {@linkcode EvtagReader.header} read last. */
  lastTag = 0;

  /** The payload of the last header as a string (UTF-8; invalid bytes become U+FFFD). */
  string(): string {
    const bytes = this.bytes;
    const start = this.pos;
    const end = this.recordEnd;
    this.pos = end;
    const n = end - start;
    if (n < 32) {
      let s = "";
      for (let i = start; i < end; i++) {
        const c = bytes[i];
        if (c > 0x7f) return utf8Decoder.decode(bytes.subarray(start, end));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return utf8Decoder.decode(bytes.subarray(start, end));
  }

  /** The payload of the last header as a copy. */
  payload(): Uint8Array {
    const out = this.bytes.slice(this.pos, this.recordEnd);
    this.pos = this.recordEnd;
    return out;
  }

  /** Read a u32 payload of the last header: the integer must fit in the record (libevent allows bytes after it). */
  intPayload(): number {
    const end = this.end;
    this.end = this.recordEnd;
    try {
      const n = this.int();
      this.pos = this.recordEnd;
      return n;
    } finally {
      this.end = end;
    }
  }

  /** Read a u64 payload of the last header, as a bigint. */
  int64Payload(): bigint {
    const end = this.end;
    this.end = this.recordEnd;
    try {
      const lo = this.int64Parts();
      const hi = this.hi;
      this.pos = this.recordEnd;
      return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    } finally {
      this.end = end;
    }
  }
}

function malformed(what: string): RpcError {
  return new RpcError("ERR_RPC_MALFORMED", `malformed evtag data: ${what}`);
}

function mismatch(want: number, got: number): RpcError {
  return new RpcError("ERR_RPC_TAG_MISMATCH", `expected a record of tag ${want}, found tag ${got}`);
}

// ------------------------------------------------------------ argument checks

function checkBuffer(buf: unknown, name: string): EvBuffer {
  if (buf instanceof EvBuffer) return buf;
  throw typeError(name, "an EvBuffer", buf);
}

function checkTag(tag: unknown, name = "tag"): number {
  return checkInteger(tag, name, 0, U32_MAX);
}

function checkU32(n: unknown, name: string): number {
  return checkInteger(n, name, 0, U32_MAX);
}

/** A u64 as a bigint or a safe integer >= 0, split into its low and high 32 bits. */
export function u64Parts(value: unknown, name: string): [number, number] {
  if (typeof value === "number") {
    checkInteger(value, name, 0, Number.MAX_SAFE_INTEGER);
    return [value % TWO_32, Math.floor(value / TWO_32)];
  }
  if (typeof value !== "bigint") throw typeError(name, "a bigint (or a safe integer) in 0..2^64-1", value);
  if (value < 0n || value > U64_MAX) throw rangeError(name, "in 0..2^64-1", value);
  return [Number(value & MASK_32), Number(value >> 32n)];
}

function checkData(data: unknown, name: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return utf8Encoder.encode(data);
  throw typeError(name, "a Uint8Array or a string", data);
}

// ------------------------------------------------------------ writing into an EvBuffer

function flush(buf: EvBuffer, w: EvtagWriter): void {
  buf.add(w.buf.subarray(0, w.pos));
}

/**
 * Append a tag (libevent `evtag_encode_tag`); with a null buffer only
 * count its bytes.
 *
 * @returns the tag's size in bytes, 1..5
 * @throws {TypeError} if buf is neither an EvBuffer nor null, or tag is not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagEncodeTag } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagEncodeTag(buf, 0x166);
 * console.log(buf.pullup()); // Uint8Array [ 0xe6, 0x02 ]
 * ```
 */
export function evtagEncodeTag(buf: EvBuffer | null, tag: number): number {
  if (buf !== null) checkBuffer(buf, "buf");
  checkTag(tag);
  if (buf !== null) {
    const w = new EvtagWriter(5);
    w.tag(tag);
    flush(buf, w);
  }
  return tagSize(tag);
}

/**
 * Append a u32 as an evtag integer (libevent `evtag_encode_int`).
 *
 * @throws {TypeError} if buf is not an EvBuffer or n not a number
 * @throws {RangeError} if n is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagEncodeInt } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagEncodeInt(buf, 0x1234);
 * console.log(buf.pullup()); // Uint8Array [ 0x34, 0x32, 0x10 ]
 * ```
 */
export function evtagEncodeInt(buf: EvBuffer, n: number): void {
  checkBuffer(buf, "buf");
  checkU32(n, "n");
  const w = new EvtagWriter(5);
  w.int(n);
  flush(buf, w);
}

/**
 * Append a u64 as an evtag integer (libevent `evtag_encode_int64`).
 *
 * @throws {TypeError} if buf is not an EvBuffer or n neither a bigint nor a number
 * @throws {RangeError} if n is outside 0..2^64-1 (a number: not a safe integer >= 0)
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagEncodeInt64 } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagEncodeInt64(buf, 0x123456789abcdef0n);
 * console.log(buf.length); // 9
 * ```
 */
export function evtagEncodeInt64(buf: EvBuffer, n: bigint | number): void {
  checkBuffer(buf, "buf");
  const [lo, hi] = u64Parts(n, "n");
  const w = new EvtagWriter(9);
  w.int64(lo, hi);
  flush(buf, w);
}

/**
 * Append a record of raw bytes (libevent `evtag_marshal`); a string is
 * sent as its UTF-8 bytes.
 *
 * @throws {TypeError} if buf is not an EvBuffer, tag not a number or data neither bytes nor a string
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshal } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshal(buf, 7, new Uint8Array([1, 2, 3]));
 * console.log(buf.pullup()); // Uint8Array [ 7, 3, 1, 2, 3 ]
 * ```
 */
export function evtagMarshal(buf: EvBuffer, tag: number, data: Uint8Array | string): void {
  checkBuffer(buf, "buf");
  checkTag(tag);
  const bytes = checkData(data, "data");
  const w = new EvtagWriter(10);
  w.tag(tag);
  w.int(bytes.length);
  flush(buf, w);
  buf.addCopy(bytes);
}

/**
 * Append a record whose payload is everything in `data`, which is emptied
 * into it without copying (libevent `evtag_marshal_buffer`).
 *
 * @throws {TypeError} if buf or data is not an EvBuffer, or tag is not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1, or data holds more than 2^32-1 bytes
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalBuffer, evtagMarshalString } from "@levent/levent/rpc";
 * const inner = new EvBuffer();
 * evtagMarshalString(inner, 1, "hi");
 * const buf = new EvBuffer();
 * evtagMarshalBuffer(buf, 3, inner); // a nested structure: tag 3, then its records
 * console.log(buf.pullup()); // Uint8Array [ 3, 4, 1, 2, 0x68, 0x69 ]
 * ```
 */
export function evtagMarshalBuffer(buf: EvBuffer, tag: number, data: EvBuffer): void {
  checkBuffer(buf, "buf");
  checkBuffer(data, "data");
  checkTag(tag);
  checkU32(data.length, "data.length");
  const w = new EvtagWriter(10);
  w.tag(tag);
  w.int(data.length);
  flush(buf, w);
  buf.addBuffer(data);
}

/**
 * Append an int record: the tag, the integer's size, the integer (libevent
 * `evtag_marshal_int`).
 *
 * @throws {TypeError} if buf is not an EvBuffer, or tag or n is not a number
 * @throws {RangeError} if tag or n is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalInt } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalInt(buf, 3, 0x1234);
 * console.log(buf.pullup()); // Uint8Array [ 3, 3, 0x34, 0x32, 0x10 ]
 * ```
 */
export function evtagMarshalInt(buf: EvBuffer, tag: number, n: number): void {
  checkBuffer(buf, "buf");
  checkTag(tag);
  checkU32(n, "n");
  const w = new EvtagWriter(11);
  w.tag(tag);
  w.int(intSize(n));
  w.int(n);
  flush(buf, w);
}

/**
 * Append an int64 record (libevent `evtag_marshal_int64`).
 *
 * @throws {TypeError} if buf is not an EvBuffer, tag is not a number or n neither a bigint nor a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1 or n is outside 0..2^64-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalInt64, evtagUnmarshalInt64 } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalInt64(buf, 5, 1n << 40n);
 * console.log(evtagUnmarshalInt64(buf, 5)); // 1099511627776n
 * ```
 */
export function evtagMarshalInt64(buf: EvBuffer, tag: number, n: bigint | number): void {
  checkBuffer(buf, "buf");
  checkTag(tag);
  const [lo, hi] = u64Parts(n, "n");
  const w = new EvtagWriter(15);
  w.tag(tag);
  w.int(int64Size(lo, hi));
  w.int64(lo, hi);
  flush(buf, w);
}

/**
 * Append a string record, the string as UTF-8 (libevent
 * `evtag_marshal_string`).
 *
 * @throws {TypeError} if buf is not an EvBuffer, tag is not a number or s not a string
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalString } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalString(buf, 2, "hi");
 * console.log(buf.pullup()); // Uint8Array [ 2, 2, 0x68, 0x69 ]
 * ```
 */
export function evtagMarshalString(buf: EvBuffer, tag: number, s: string): void {
  checkBuffer(buf, "buf");
  checkTag(tag);
  checkString(s, "s");
  const w = new EvtagWriter(16 + s.length * 3);
  w.stringRecord(tag, s);
  flush(buf, w);
}

/**
 * Append a timeval record: seconds then microseconds, each an evtag
 * integer (libevent `evtag_marshal_timeval`).
 *
 * @throws {TypeError} if buf is not an EvBuffer, tag is not a number or tv not a timeval
 * @throws {RangeError} if tag, tv.sec or tv.usec is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalTimeval } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalTimeval(buf, 1, { sec: 5, usec: 256 });
 * console.log(buf.pullup()); // Uint8Array [ 1, 3, 5, 0x20, 1 ]
 * ```
 */
export function evtagMarshalTimeval(buf: EvBuffer, tag: number, tv: EvtagTimeval): void {
  checkBuffer(buf, "buf");
  checkTag(tag);
  checkObject(tv, "tv");
  const sec = checkU32(tv.sec, "tv.sec");
  const usec = checkU32(tv.usec, "tv.usec");
  const w = new EvtagWriter(20);
  w.tag(tag);
  w.int(intSize(sec) + intSize(usec));
  w.int(sec);
  w.int(usec);
  flush(buf, w);
}

// ------------------------------------------------------------ reading from an EvBuffer

/** A reader over the buffer's first `n` bytes at most (pulled up, not drained). */
function front(buf: EvBuffer, n: number): EvtagReader {
  return new EvtagReader(buf.pullup(Math.min(n, buf.length)));
}

/** Read a record's header from the front of `buf` without draining: a reader positioned at the payload. */
function record(buf: EvBuffer): EvtagReader {
  const head = front(buf, 10);
  const tag = head.tag();
  const length = head.int();
  const size = head.pos + length;
  if (buf.length < size) throw malformed(`a record of tag ${tag} is cut short`);
  const r = new EvtagReader(buf.pullup(size));
  r.header();
  return r;
}

/**
 * Read and drain a tag (libevent `evtag_decode_tag`).
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the buffer does not start with a whole tag of at most 32 bits
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagDecodeTag } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * buf.add(new Uint8Array([0x80, 0x80, 0x01]));
 * console.log(evtagDecodeTag(buf)); // 16384
 * ```
 */
export function evtagDecodeTag(buf: EvBuffer): number {
  checkBuffer(buf, "buf");
  const r = front(buf, 5);
  const tag = r.tag();
  buf.drain(r.pos);
  return tag;
}

/**
 * Read and drain a u32 evtag integer (libevent `evtag_decode_int`).
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the integer has more than 8 nibbles or is cut short
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagDecodeInt } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * buf.add(new Uint8Array([0x1f, 0xf0]));
 * console.log(evtagDecodeInt(buf)); // 255
 * ```
 */
export function evtagDecodeInt(buf: EvBuffer): number {
  checkBuffer(buf, "buf");
  const r = front(buf, 5);
  const n = r.int();
  buf.drain(r.pos);
  return n;
}

/**
 * Read and drain a u64 evtag integer (libevent `evtag_decode_int64`).
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the integer has more than 16 nibbles or is cut short
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagDecodeInt64, evtagEncodeInt64 } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagEncodeInt64(buf, 2n ** 63n);
 * console.log(evtagDecodeInt64(buf)); // 9223372036854775808n
 * ```
 */
export function evtagDecodeInt64(buf: EvBuffer): bigint {
  checkBuffer(buf, "buf");
  const r = front(buf, 9);
  const lo = r.int64Parts();
  const hi = r.hi;
  buf.drain(r.pos);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * The tag of the record at the front, left in place (libevent `evtag_peek`).
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the buffer does not start with a whole tag
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalString, evtagPeek } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalString(buf, 4, "x");
 * console.log(evtagPeek(buf), buf.length); // 4 3
 * ```
 */
export function evtagPeek(buf: EvBuffer): number {
  checkBuffer(buf, "buf");
  return front(buf, 5).tag();
}

/**
 * The whole size of the record at the front: tag, length and payload
 * (libevent `evtag_peek_length`). The payload need not have arrived yet.
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the tag or the length is malformed or cut short
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalString, evtagPeekLength } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalString(buf, 4, "hello");
 * console.log(evtagPeekLength(buf)); // 7
 * ```
 */
export function evtagPeekLength(buf: EvBuffer): number {
  checkBuffer(buf, "buf");
  const r = front(buf, 10);
  r.tag();
  const length = r.int();
  return r.pos + length;
}

/**
 * The payload's length of the record at the front (libevent
 * `evtag_payload_length`). The payload need not have arrived yet.
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the tag or the length is malformed or cut short
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalString, evtagPayloadLength } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalString(buf, 4, "hello");
 * console.log(evtagPayloadLength(buf)); // 5
 * ```
 */
export function evtagPayloadLength(buf: EvBuffer): number {
  checkBuffer(buf, "buf");
  const r = front(buf, 10);
  r.tag();
  return r.int();
}

/**
 * Drain the tag and length of the record at the front, leaving its
 * payload first in the buffer (libevent `evtag_unmarshal_header`).
 *
 * @returns the tag and the payload's length
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the header is malformed or the payload not all there (nothing is drained)
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalString, evtagUnmarshalHeader } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalString(buf, 4, "hello");
 * console.log(evtagUnmarshalHeader(buf), buf.length); // { tag: 4, length: 5 } 5
 * ```
 */
export function evtagUnmarshalHeader(buf: EvBuffer): EvtagHeader {
  checkBuffer(buf, "buf");
  const r = record(buf);
  buf.drain(r.pos);
  return { tag: r.lastTag, length: r.recordEnd - r.pos };
}

/**
 * Drain the record at the front, whatever its tag (libevent `evtag_consume`).
 *
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the record is malformed or not all there (nothing is drained)
 * @throws {TypeError} if buf is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagConsume, evtagMarshalInt, evtagPeek } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalInt(buf, 1, 10);
 * evtagMarshalInt(buf, 2, 20);
 * evtagConsume(buf);
 * console.log(evtagPeek(buf)); // 2
 * ```
 */
export function evtagConsume(buf: EvBuffer): void {
  checkBuffer(buf, "buf");
  const r = record(buf);
  buf.drain(r.recordEnd);
}

/**
 * Move the record at the front out of `src`: its payload is appended to
 * `dst` (libevent `evtag_unmarshal`).
 *
 * @returns the tag and the payload's length
 * @throws {RpcError} `ERR_RPC_MALFORMED` if the record is malformed or not all there (nothing is drained)
 * @throws {TypeError} if src or dst is not an EvBuffer
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalString, evtagUnmarshal } from "@levent/levent/rpc";
 * const src = new EvBuffer();
 * evtagMarshalString(src, 9, "payload");
 * const dst = new EvBuffer();
 * console.log(evtagUnmarshal(src, dst), dst.length); // { tag: 9, length: 7 } 7
 * ```
 */
export function evtagUnmarshal(src: EvBuffer, dst: EvBuffer): EvtagHeader {
  checkBuffer(src, "src");
  checkBuffer(dst, "dst");
  const r = record(src);
  const length = r.recordEnd - r.pos;
  src.drain(r.pos);
  src.removeBuffer(dst, length);
  return { tag: r.lastTag, length };
}

/** The record at the front, which must have tag `tag`: a reader at its payload. */
function tagged(buf: EvBuffer, tag: number): EvtagReader {
  checkBuffer(buf, "buf");
  checkTag(tag);
  const r = record(buf);
  if (r.lastTag !== tag) throw mismatch(tag, r.lastTag);
  return r;
}

/**
 * Read and drain an int record of tag `tag` (libevent `evtag_unmarshal_int`).
 *
 * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, `ERR_RPC_MALFORMED` if the record or integer is malformed (nothing is drained either way)
 * @throws {TypeError} if buf is not an EvBuffer or tag not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagUnmarshalInt } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * buf.add(new Uint8Array([3, 3, 0x34, 0x32, 0x10]));
 * console.log(evtagUnmarshalInt(buf, 3)); // 4660
 * ```
 */
export function evtagUnmarshalInt(buf: EvBuffer, tag: number): number {
  const r = tagged(buf, tag);
  const n = r.intPayload();
  buf.drain(r.recordEnd);
  return n;
}

/**
 * Read and drain an int64 record of tag `tag` (libevent `evtag_unmarshal_int64`).
 *
 * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, `ERR_RPC_MALFORMED` if the record or integer is malformed
 * @throws {TypeError} if buf is not an EvBuffer or tag not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshalInt64, evtagUnmarshalInt64 } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshalInt64(buf, 1, 0xffffffffffffffffn);
 * console.log(evtagUnmarshalInt64(buf, 1)); // 18446744073709551615n
 * ```
 */
export function evtagUnmarshalInt64(buf: EvBuffer, tag: number): bigint {
  const r = tagged(buf, tag);
  const n = r.int64Payload();
  buf.drain(r.recordEnd);
  return n;
}

/**
 * Read and drain a record of tag `tag` whose payload is exactly `length`
 * bytes (libevent `evtag_unmarshal_fixed`).
 *
 * @returns a copy of the payload
 * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, `ERR_RPC_FIELD_LENGTH` for another length, `ERR_RPC_MALFORMED` for a malformed record
 * @throws {TypeError} if buf is not an EvBuffer, or tag or length is not a number
 * @throws {RangeError} if tag or length is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshal, evtagUnmarshalFixed } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshal(buf, 3, new Uint8Array(24));
 * console.log(evtagUnmarshalFixed(buf, 3, 24).length); // 24
 * ```
 */
export function evtagUnmarshalFixed(buf: EvBuffer, tag: number, length: number): Uint8Array {
  checkU32(length, "length");
  const r = tagged(buf, tag);
  const got = r.recordEnd - r.pos;
  if (got !== length) {
    throw new RpcError("ERR_RPC_FIELD_LENGTH", `the record of tag ${tag} holds ${got} bytes, not ${length}`);
  }
  const out = r.payload();
  buf.drain(r.recordEnd);
  return out;
}

/**
 * Read and drain a record of tag `tag`, whatever its length (libevent's
 * generated code for a `bytes` field: `evtag_payload_length`, then
 * `evtag_unmarshal_fixed`).
 *
 * @returns a copy of the payload
 * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, `ERR_RPC_MALFORMED` for a malformed record
 * @throws {TypeError} if buf is not an EvBuffer or tag not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagMarshal, evtagUnmarshalBytes } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * evtagMarshal(buf, 2, new Uint8Array([9, 8, 7]));
 * console.log(evtagUnmarshalBytes(buf, 2)); // Uint8Array [ 9, 8, 7 ]
 * ```
 */
export function evtagUnmarshalBytes(buf: EvBuffer, tag: number): Uint8Array {
  const r = tagged(buf, tag);
  const out = r.payload();
  buf.drain(r.recordEnd);
  return out;
}

/**
 * Read and drain a string record of tag `tag` (libevent
 * `evtag_unmarshal_string`), decoded as UTF-8 (bytes that are not UTF-8
 * become U+FFFD).
 *
 * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, `ERR_RPC_MALFORMED` for a malformed record
 * @throws {TypeError} if buf is not an EvBuffer or tag not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagUnmarshalString } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * buf.add(new Uint8Array([2, 2, 0x68, 0x69]));
 * console.log(evtagUnmarshalString(buf, 2)); // hi
 * ```
 */
export function evtagUnmarshalString(buf: EvBuffer, tag: number): string {
  const r = tagged(buf, tag);
  const s = r.string();
  buf.drain(r.recordEnd);
  return s;
}

/**
 * Read and drain a timeval record of tag `tag` (libevent
 * `evtag_unmarshal_timeval`).
 *
 * @throws {RpcError} `ERR_RPC_TAG_MISMATCH` for another tag, `ERR_RPC_MALFORMED` if the record or its integers are malformed
 * @throws {TypeError} if buf is not an EvBuffer or tag not a number
 * @throws {RangeError} if tag is not an integer in 0..2^32-1
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { evtagUnmarshalTimeval } from "@levent/levent/rpc";
 * const buf = new EvBuffer();
 * buf.add(new Uint8Array([1, 3, 5, 0x20, 1]));
 * console.log(evtagUnmarshalTimeval(buf, 1)); // { sec: 5, usec: 256 }
 * ```
 */
export function evtagUnmarshalTimeval(buf: EvBuffer, tag: number): EvtagTimeval {
  const r = tagged(buf, tag);
  r.end = r.recordEnd;
  const sec = r.int();
  const usec = r.int();
  buf.drain(r.recordEnd);
  return { sec, usec };
}
