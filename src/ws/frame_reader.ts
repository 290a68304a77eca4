/**
 * The WebSocket frame reader (RFC 6455 §5): an incremental state machine
 * over an {@linkcode EvBuffer} that turns frames into messages and control
 * events, and finds every protocol error the moment its bytes arrive.
 *
 * What it refuses, with the close code the connection then fails with:
 *
 * - 1002: a reserved bit without the extension that defines it (RSV1 is
 *   permessage-deflate's, on the first frame of a data message only); a
 *   reserved opcode; a continuation with no message under way, or a new
 *   data message inside one; a fragmented or oversized (> 125 bytes)
 *   control frame; a masked frame from a server or an unmasked one from a
 *   client; a 64-bit length with its top bit set; a close payload of 1
 *   byte or with a code no endpoint may send.
 * - 1007: text (or a close reason) that is not UTF-8, found as soon as the
 *   offending byte arrives, also across frames; compressed data that does
 *   not inflate.
 * - 1009: a message (its decompressed size, when compressed) over
 *   `maxPayload`, found from the frame header, before the payload is read.
 *
 * @module
 */
import { type EvBuffer, firstSegment } from "../buffer/evbuffer.ts";
import {
  CLOSE_INVALID_DATA,
  CLOSE_NO_STATUS,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  isSendableCloseCode,
  MAX_CONTROL_PAYLOAD,
  OP_BINARY,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./frame.ts";
import { Utf8Validator } from "./utf8.ts";

/** Where the reader stands: before a frame header, inside a payload, after a close frame, or failed. */
type ReaderState = "header" | "payload" | "closed" | "failed";

/** What the reader tells its owner. */
export interface FrameSink {
  /** A whole message: text (UTF-8, already validated) or binary. */
  message(text: boolean, data: Uint8Array): void;
  /** A ping and its payload (answer it with a pong). */
  ping(data: Uint8Array): void;
  /** A pong and its payload. */
  pong(data: Uint8Array): void;
  /** The peer's close frame: its code (1005 when it had none) and reason. Nothing is read after it. */
  close(code: number, reason: string): void;
}

/** Why the connection must fail: the close code to send and a reason for the log. */
export interface FrameFailure {
  /** 1002, 1007 or 1009. */
  readonly code: number;
  /** What was wrong, in words. */
  readonly reason: string;
}

/**
 * Inflates the payload of compressed messages (permessage-deflate). `push`
 * returns what came out of `bytes` (with the message's end when `fin`), or
 * throws {@linkcode InflateFailure}.
 */
export interface MessageInflater {
  push(bytes: Uint8Array, fin: boolean, limit: number): Uint8Array;
}

/** Thrown by a {@linkcode MessageInflater}: the data is corrupt (1007) or inflates past the limit (1009). */
export class InflateFailure extends Error {
  /** The close code. */
  readonly code: number;
  /** Make one. */
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** Options of {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** The largest message, in bytes (after decompression); over it: 1009. */
  readonly maxPayload: number;
  /** True on a server: every frame from the client must be masked. False on a client: none may be. */
  readonly expectMasked: boolean;
  /** The permessage-deflate inflater, when that extension was agreed; RSV1 is refused without it. */
  readonly inflater: MessageInflater | null;
}

const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** Whether 32-bit words hold their bytes least significant first, as on every engine's usual hosts. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Free bytes left in front of a large payload copied out of several segments (a multiple of 4). */
const HEADROOM = 16;
/** Binary messages larger than this are sent by reference (frame_writer's COPY_LIMIT), so headroom pays. */
const HEADROOM_MIN = 2048;
/** The last large binary payload handed out with free bytes just before it in the same memory, and how many. */
let roomy: Uint8Array | null = null;
let roomyBytes = 0;

/**
 * How many bytes just before `data[0]`, in the same memory, nobody reads
 * or writes: the frame header of the message it arrived in (or room left
 * in front of a copy). Non-zero only for the last large binary message (or
 * piece of one) a reader handed out, so an echo of it can put its own frame header there
 * and leave in one piece; a server's header (2-10 bytes) is always shorter
 * than the masked client header it replaces (6-14), so it fits. Writing
 * there is safe for any number of sends: the header for the same payload
 * is the same bytes each time.
 */
export function headroomOf(data: Uint8Array): number {
  return data === roomy ? roomyBytes : 0;
}

/** The masking key as a 32-bit word, rotated so that the word's first byte meets key byte `j`. */
function keyWord(m: Uint8Array, j: number): number {
  const k0 = m[j];
  const k1 = m[(j + 1) & 3];
  const k2 = m[(j + 2) & 3];
  const k3 = m[(j + 3) & 3];
  return LITTLE_ENDIAN ? (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) : ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3);
}

/**
 * XOR `buf[from, from + n)` in place with the masking key, starting at key
 * byte `pos`; returns the key position after it. Byte by byte up to a
 * 4-byte boundary of the memory, then 32-bit words eight a turn (measured
 * 1.3-1.7x faster than one on all three engines), then the tail.
 */
function unmask(buf: Uint8Array, from: number, n: number, m: Uint8Array, pos: number): number {
  const end = from + n;
  let i = from;
  let j = pos;
  if (n >= 64) {
    for (const stop = i + ((4 - ((buf.byteOffset + i) & 3)) & 3); i < stop; i++) {
      buf[i] ^= m[j];
      j = (j + 1) & 3;
    }
    const key = keyWord(m, j);
    const count = (end - i) >>> 2;
    const words = new Uint32Array(buf.buffer, buf.byteOffset + i, count);
    const unrolled = count & ~7;
    let w = 0;
    for (; w < unrolled; w += 8) {
      words[w] ^= key;
      words[w + 1] ^= key;
      words[w + 2] ^= key;
      words[w + 3] ^= key;
      words[w + 4] ^= key;
      words[w + 5] ^= key;
      words[w + 6] ^= key;
      words[w + 7] ^= key;
    }
    for (; w < count; w++) words[w] ^= key;
    i += count << 2;
  }
  if (i + 4 <= end) {
    // Four bytes a turn with the key bytes in hand (no view for a few bytes).
    const k0 = m[j];
    const k1 = m[(j + 1) & 3];
    const k2 = m[(j + 2) & 3];
    const k3 = m[(j + 3) & 3];
    for (const stop = end - 3; i < stop; i += 4) {
      buf[i] ^= k0;
      buf[i + 1] ^= k1;
      buf[i + 2] ^= k2;
      buf[i + 3] ^= k3;
    }
  }
  for (; i < end; i++) {
    buf[i] ^= m[j];
    j = (j + 1) & 3;
  }
  return j;
}

/**
 * Unmask a payload of under 64 bytes in place from key byte 0, four bytes
 * a turn; returns its bytes ORed together (below 0x80: all ASCII, so valid
 * UTF-8 without the validator).
 */
function unmaskShort(buf: Uint8Array, from: number, n: number, m: Uint8Array): number {
  const k0 = m[0];
  const k1 = m[1];
  const k2 = m[2];
  const k3 = m[3];
  const end = from + n;
  let acc = 0;
  let i = from;
  for (; i + 4 <= end; i += 4) {
    acc |= (buf[i] ^= k0) | (buf[i + 1] ^= k1) | (buf[i + 2] ^= k2) | (buf[i + 3] ^= k3);
  }
  for (let j = 0; i < end; i++, j++) acc |= buf[i] ^= m[j];
  return acc;
}

/**
 * Copy `src[from, from + n)` to `dst[at, ...)` unmasked, starting at key
 * byte `pos`; returns the key position after it. Word by word when both
 * sides sit at the same place in a 4-byte word, else copied and unmasked
 * in place.
 */
function unmaskCopy(
  src: Uint8Array,
  from: number,
  dst: Uint8Array,
  at: number,
  n: number,
  m: Uint8Array,
  pos: number,
): number {
  const a = src.byteOffset + from;
  const b = dst.byteOffset + at;
  if (n < 64 || ((a ^ b) & 3) !== 0) {
    dst.set(src.subarray(from, from + n), at);
    return unmask(dst, at, n, m, pos);
  }
  let i = 0;
  let j = pos;
  for (const lead = (4 - (a & 3)) & 3; i < lead; i++) {
    dst[at + i] = src[from + i] ^ m[j];
    j = (j + 1) & 3;
  }
  const key = keyWord(m, j);
  const count = (n - i) >>> 2;
  const sw = new Uint32Array(src.buffer, a + i, count);
  const dw = new Uint32Array(dst.buffer, b + i, count);
  for (let w = 0; w < count; w++) dw[w] = sw[w] ^ key;
  i += count << 2;
  for (; i < n; i++) {
    dst[at + i] = src[from + i] ^ m[j];
    j = (j + 1) & 3;
  }
  return j;
}

/** The WebSocket frame reader: see the module comment. */
export class FrameReader {
  readonly #maxPayload: number;
  readonly #expectMasked: boolean;
  readonly #inflater: MessageInflater | null;
  #state: ReaderState = "header";
  /** Set by the owner to stop reading between messages (the application paused); cleared to go on. */
  halt = false;

  // The frame under way.
  #fin = false;
  #opcode = 0;
  #masked = false;
  readonly #mask = new Uint8Array(4);
  #maskPos = 0;
  #remaining = 0;
  readonly #head = new Uint8Array(14);

  // The data message under way: its opcode (0 between messages), whether compressed, and its pieces.
  #msgOp = 0;
  #compressed = false;
  #chunks: Uint8Array[] = [];
  #msgBytes = 0;
  readonly #utf8 = new Utf8Validator();
  #failure: FrameFailure | null = null;

  constructor(options: FrameReaderOptions) {
    this.#maxPayload = options.maxPayload;
    this.#expectMasked = options.expectMasked;
    this.#inflater = options.inflater;
  }

  /** Why the reader failed, or null. */
  get failure(): FrameFailure | null {
    return this.#failure;
  }

  /** Whether the peer's close frame was read (nothing more is). */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /**
   * Read what `input` holds, telling `sink` of each message and control
   * frame, until it needs more bytes, `halt` is set, the close frame was
   * read, or a protocol error is found. Returns the failure, or null.
   */
  read(input: EvBuffer, sink: FrameSink): FrameFailure | null {
    while (!this.halt) {
      const state = this.#state;
      if (state === "header") {
        if (!this.#readHeader(input, sink)) break;
      } else if (state === "payload") {
        if (!this.#readPayload(input, sink)) break;
      } else {
        break;
      }
    }
    return this.#failure;
  }

  /**
   * Parse a frame header if it is all there; false when more bytes are
   * needed or it is refused. A whole message in one frame that lies in the
   * first segment with its header is delivered here at once.
   */
  #readHeader(input: EvBuffer, sink: FrameSink): boolean {
    const avail = input.length;
    if (avail < 2) return false;
    // Read the header where it lies when the first segment holds all of it (the common case), else from a copy.
    let head: Uint8Array = this.#head;
    let h = 0;
    // Where the first segment's bytes end, and whether it may be unmasked in place (0 and false for a copy).
    let segEnd = 0;
    let owned = false;
    const seg = firstSegment(input);
    if (seg !== null && seg.end - seg.start >= Math.min(avail, 14)) {
      head = seg.buf;
      h = seg.start;
      segEnd = seg.end;
      owned = seg.owned;
    } else {
      input.copyout(head.subarray(0, Math.min(avail, 14)));
    }
    const b0 = head[h];
    const b1 = head[h + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let size = 2;
    if (len === 126) size = 4;
    else if (len === 127) size = 10;
    if (masked) size += 4;
    // The checks that need only the first two bytes come first, so they do not wait for the rest.
    if ((b0 & 0x30) !== 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "a reserved bit (RSV2 or RSV3) is set");
    if (opcode >= 0x8) {
      if (opcode > OP_PONG) return this.#fail(CLOSE_PROTOCOL_ERROR, `reserved opcode ${opcode}`);
      if (!fin) return this.#fail(CLOSE_PROTOCOL_ERROR, "a fragmented control frame");
      if (len > MAX_CONTROL_PAYLOAD) return this.#fail(CLOSE_PROTOCOL_ERROR, "a control frame over 125 bytes");
      if (rsv1) return this.#fail(CLOSE_PROTOCOL_ERROR, "RSV1 on a control frame");
    } else if (opcode === OP_CONTINUATION) {
      if (this.#msgOp === 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "a continuation frame with no message under way");
      if (rsv1) return this.#fail(CLOSE_PROTOCOL_ERROR, "RSV1 on a continuation frame");
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.#msgOp !== 0) return this.#fail(CLOSE_PROTOCOL_ERROR, "a new message inside a fragmented one");
      if (rsv1 && this.#inflater === null) {
        return this.#fail(CLOSE_PROTOCOL_ERROR, "RSV1 is set but no extension was agreed");
      }
    } else {
      return this.#fail(CLOSE_PROTOCOL_ERROR, `reserved opcode ${opcode}`);
    }
    if (masked !== this.#expectMasked) {
      return this.#fail(
        CLOSE_PROTOCOL_ERROR,
        this.#expectMasked ? "an unmasked frame from a client" : "a masked frame from a server",
      );
    }
    if (avail < size) return false;
    let p = h + 2;
    if (len === 126) {
      len = (head[h + 2] << 8) | head[h + 3];
      p = h + 4;
    } else if (len === 127) {
      if (head[h + 2] & 0x80) return this.#fail(CLOSE_PROTOCOL_ERROR, "a 64-bit length with its top bit set");
      const high = ((head[h + 2] << 24) | (head[h + 3] << 16) | (head[h + 4] << 8) | head[h + 5]) >>> 0;
      const low = ((head[h + 6] << 24) | (head[h + 7] << 16) | (head[h + 8] << 8) | head[h + 9]) >>> 0;
      // Above 2^53 the number is not exact, but any such length is far over every limit.
      len = high * 0x100000000 + low;
      p = h + 10;
    }
    if (masked) {
      const m = this.#mask;
      m[0] = head[p];
      m[1] = head[p + 1];
      m[2] = head[p + 2];
      m[3] = head[p + 3];
    }
    // An uncompressed message's size is known from its headers; a compressed one is checked as it inflates.
    const compressed = opcode === OP_CONTINUATION ? this.#compressed : rsv1;
    if (opcode < 0x8 && !compressed && this.#msgBytes + len > this.#maxPayload) {
      return this.#fail(CLOSE_TOO_BIG, `a message over maxPayload (${this.#maxPayload} bytes)`);
    }
    if (
      owned && fin && !rsv1 && opcode !== OP_CONTINUATION && opcode < 0x8 && segEnd - h >= size + len &&
      (opcode === OP_TEXT || len * 4 >= head.length)
    ) {
      // The common case, read in one step: unmasked in place and handed out as a view (see #take).
      const from = h + size;
      // A short payload is unmasked and checked for ASCII in one pass; ASCII text needs no UTF-8 validation.
      let high = 0x80;
      if (masked) {
        if (len < 64) high = unmaskShort(head, from, len, this.#mask) & 0x80;
        else unmask(head, from, len, this.#mask, 0);
      }
      if (opcode === OP_TEXT && high !== 0) {
        const v = this.#utf8;
        v.reset();
        if (v.feed(head, from, from + len) >= 0) {
          return this.#fail(CLOSE_INVALID_DATA, "a text message is not valid UTF-8");
        }
        if (!v.complete) return this.#fail(CLOSE_INVALID_DATA, "a text message ends inside a UTF-8 sequence");
      }
      input.drain(size + len);
      const data = head.subarray(from, from + len);
      if (opcode === OP_BINARY && len > HEADROOM_MIN) {
        // The frame's own header bytes lie just before the payload, and only this reader ever read them.
        roomy = data;
        roomyBytes = size;
      }
      sink.message(opcode === OP_TEXT, data);
      return true;
    }
    input.drain(size);
    this.#fin = fin;
    this.#opcode = opcode;
    this.#masked = masked;
    this.#maskPos = 0;
    this.#remaining = len;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      this.#msgOp = opcode;
      this.#compressed = rsv1;
      this.#utf8.reset();
    }
    this.#state = "payload";
    return true;
  }

  /** Read payload bytes of the frame under way; false when more bytes are needed or the frame is refused. */
  #readPayload(input: EvBuffer, sink: FrameSink): boolean {
    const opcode = this.#opcode;
    const remaining = this.#remaining;
    if (opcode >= 0x8) {
      // A control frame is at most 125 bytes: wait for all of it.
      if (input.length < remaining) return false;
      const data = this.#take(input, remaining, false);
      this.#state = "header";
      return this.#control(opcode, data, sink);
    }
    const avail = input.length;
    // Text is checked as it arrives (a bad byte fails at once); binary and compressed data wait for the
    // whole frame, so it is taken out in one piece rather than many.
    if (avail < remaining && (this.#msgOp !== OP_TEXT || this.#compressed)) return false;
    const n = Math.min(avail, remaining);
    if (n === 0 && remaining > 0) return false;
    if (n === remaining && this.#fin && this.#msgBytes === 0 && !this.#compressed && opcode !== OP_CONTINUATION) {
      // The common case: a whole message in one frame, all here. No pieces to gather.
      const data = n === 0 ? EMPTY : this.#take(input, n, this.#msgOp === OP_TEXT);
      if (this.#msgOp === OP_TEXT) {
        const v = this.#utf8;
        if (v.feed(data) >= 0) return this.#fail(CLOSE_INVALID_DATA, "a text message is not valid UTF-8");
        if (!v.complete) return this.#fail(CLOSE_INVALID_DATA, "a text message ends inside a UTF-8 sequence");
      }
      const text = this.#msgOp === OP_TEXT;
      this.#remaining = 0;
      this.#msgOp = 0;
      this.#state = "header";
      sink.message(text, data);
      return true;
    }
    const data = n === 0 ? EMPTY : this.#take(input, n, this.#msgOp === OP_TEXT || this.#compressed);
    this.#remaining = remaining - n;
    const last = this.#remaining === 0;
    if (!this.#addData(data, last && this.#fin)) return false;
    if (!last) return false;
    this.#state = "header";
    if (this.#fin) this.#deliver(sink);
    return true;
  }

  /**
   * Take `n` payload bytes out of input, unmasked. When they lie in one
   * segment the buffer allocated itself (what socket reads are copied
   * into), they are unmasked where they lie and handed out as a view:
   * EvBuffer never writes bytes again once they were readable, so the view
   * keeps its bytes whatever traffic follows. That is done when the bytes
   * do not reach the application (`transient`: text, decoded at once;
   * compressed data, inflated at once) or are at least a quarter of the
   * segment, so a message the application keeps pins little more memory
   * than its own. Otherwise they are copied out.
   */
  #take(input: EvBuffer, n: number, transient: boolean): Uint8Array {
    const seg = firstSegment(input);
    if (seg !== null && seg.owned && seg.end - seg.start >= n && (transient || n * 4 >= seg.buf.length)) {
      const buf = seg.buf;
      const start = seg.start;
      if (this.#masked) this.#maskPos = unmask(buf, start, n, this.#mask, this.#maskPos);
      input.drain(n);
      return buf.subarray(start, start + n);
    }
    if (!this.#masked || n < 4096 || seg === null) {
      const data = new Uint8Array(n);
      input.remove(data);
      if (this.#masked) this.#maskPos = unmask(data, 0, n, this.#mask, this.#maskPos);
      return data;
    }
    // A large masked payload over several segments: unmasked as it is copied, one pass over the bytes,
    // into an array placed so that its words line up with the first segment's.
    // HEADROOM bytes in front, so an echo can put its frame header there (see headroomOf).
    const front = HEADROOM + ((seg.buf.byteOffset + seg.start) & 3);
    const data = new Uint8Array(front + n).subarray(front);
    roomy = data;
    roomyBytes = HEADROOM;
    let at = 0;
    let pos = this.#maskPos;
    while (at < n) {
      const s = firstSegment(input) as NonNullable<ReturnType<typeof firstSegment>>;
      const take = Math.min(s.end - s.start, n - at);
      pos = unmaskCopy(s.buf, s.start, data, at, take, this.#mask, pos);
      input.drain(take);
      at += take;
    }
    this.#maskPos = pos;
    return data;
  }

  /** Add payload to the message under way (inflated first when compressed), checking text as it comes. */
  #addData(data: Uint8Array, end: boolean): boolean {
    let piece = data;
    if (this.#compressed) {
      try {
        piece = (this.#inflater as MessageInflater).push(data, end, this.#maxPayload - this.#msgBytes);
      } catch (err) {
        if (err instanceof InflateFailure) return this.#fail(err.code, err.message);
        throw err;
      }
      if (this.#msgBytes + piece.length > this.#maxPayload) {
        return this.#fail(CLOSE_TOO_BIG, `a message over maxPayload (${this.#maxPayload} bytes)`);
      }
    }
    if (piece.length === 0) {
      if (end && this.#msgOp === OP_TEXT && !this.#utf8.complete) {
        return this.#fail(CLOSE_INVALID_DATA, "a text message ends inside a UTF-8 sequence");
      }
      return true;
    }
    if (this.#msgOp === OP_TEXT) {
      const bad = this.#utf8.feed(piece);
      if (bad >= 0) return this.#fail(CLOSE_INVALID_DATA, "a text message is not valid UTF-8");
      if (end && !this.#utf8.complete) {
        return this.#fail(CLOSE_INVALID_DATA, "a text message ends inside a UTF-8 sequence");
      }
    }
    this.#chunks.push(piece);
    this.#msgBytes += piece.length;
    return true;
  }

  /** The message is whole: hand it over and get ready for the next. */
  #deliver(sink: FrameSink): void {
    const chunks = this.#chunks;
    let data: Uint8Array;
    if (chunks.length === 1) {
      data = chunks[0];
    } else if (chunks.length === 0) {
      data = EMPTY;
    } else {
      data = new Uint8Array(this.#msgBytes);
      let at = 0;
      for (const c of chunks) {
        data.set(c, at);
        at += c.length;
      }
    }
    const text = this.#msgOp === OP_TEXT;
    chunks.length = 0;
    this.#msgBytes = 0;
    this.#msgOp = 0;
    this.#compressed = false;
    sink.message(text, data);
  }

  /** A whole control frame. */
  #control(opcode: number, data: Uint8Array, sink: FrameSink): boolean {
    if (opcode === OP_PING) {
      sink.ping(data);
      return true;
    }
    if (opcode === OP_PONG) {
      sink.pong(data);
      return true;
    }
    // A close frame.
    if (data.length === 1) return this.#fail(CLOSE_PROTOCOL_ERROR, "a close frame with a 1-byte payload");
    let code = CLOSE_NO_STATUS;
    let reason = "";
    if (data.length >= 2) {
      code = (data[0] << 8) | data[1];
      if (!isSendableCloseCode(code)) return this.#fail(CLOSE_PROTOCOL_ERROR, `close code ${code} may not be sent`);
      if (data.length > 2) {
        const v = new Utf8Validator();
        if (v.feed(data, 2) >= 0 || !v.complete) {
          return this.#fail(CLOSE_INVALID_DATA, "a close reason that is not valid UTF-8");
        }
        reason = decoder.decode(data.subarray(2));
      }
    }
    this.#state = "closed";
    sink.close(code, reason);
    return false;
  }

  #fail(code: number, reason: string): boolean {
    this.#state = "failed";
    this.#failure = { code, reason };
    this.#chunks = [];
    return false;
  }
}
