/**
 * permessage-deflate's data path (RFC 7692 §7.2): each message compressed
 * as raw DEFLATE flushed to a byte boundary with the final `00 00 ff ff`
 * taken off, and put back before inflating. Streams come from the
 * platform's {@linkcode Compression}, made on first use; without context
 * takeover a stream is released after every message, so an idle connection
 * holds no zlib memory.
 * The inflater's output is bounded by `maxOutput`, so a small compressed
 * message cannot expand past the size limit.
 *
 * @module
 */
import type { Compression, ZStream } from "../platform.ts";
import { CLOSE_INVALID_DATA, CLOSE_TOO_BIG } from "./frame.ts";
import { InflateFailure, type MessageInflater } from "./frame_reader.ts";

/** The four bytes a sync flush ends with, which the sender drops and the receiver restores (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Compresses messages for one side of a connection. */
export class MessageDeflater {
  readonly #compression: Compression;
  readonly #windowBits: number;
  readonly #level: number;
  readonly #takeover: boolean;
  #stream: ZStream | null = null;

  /** `takeover` false: every message starts from an empty window (no_context_takeover). */
  constructor(compression: Compression, windowBits: number, level: number, takeover: boolean) {
    this.#compression = compression;
    this.#windowBits = windowBits;
    this.#level = level;
    this.#takeover = takeover;
  }

  /** The compressed payload of one message (the sync flush's tail removed). */
  compress(data: Uint8Array): Uint8Array {
    const stream = this.#stream ??= this.#compression.createDeflateRaw({
      windowBits: this.#windowBits,
      level: this.#level,
    });
    const out = stream.process(data, "sync");
    // Without context takeover nothing is kept between messages: the stream goes, and an idle
    // connection holds no zlib memory (making one anew costs about a sixth more per message than reset()).
    if (!this.#takeover) this.close();
    // A sync flush ends in 00 00 ff ff, which is taken off. An empty message leaves a single 00:
    // an empty stored block once the tail is put back (RFC 7692 §7.2.3.6).
    const n = out.length;
    if (n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff && out[n - 1] === 0xff) {
      return n === 4 ? new Uint8Array(1) : out.subarray(0, n - 4);
    }
    return n === 0 ? new Uint8Array(1) : out;
  }

  /** Release the compressor. */
  close(): void {
    this.#stream?.close();
    this.#stream = null;
  }
}

/** Inflates compressed messages for one side of a connection; see {@linkcode MessageInflater}. */
export class MessageDecompressor implements MessageInflater {
  readonly #compression: Compression;
  readonly #windowBits: number;
  readonly #takeover: boolean;
  #stream: ZStream | null = null;

  /** `takeover` false: the peer compresses every message afresh, so the inflater forgets after each. */
  constructor(compression: Compression, windowBits: number, takeover: boolean) {
    this.#compression = compression;
    this.#windowBits = windowBits;
    this.#takeover = takeover;
  }

  push(bytes: Uint8Array, fin: boolean, limit: number): Uint8Array {
    const stream = this.#stream ??= this.#compression.createInflateRaw({ windowBits: this.#windowBits });
    let out: Uint8Array;
    let tail: Uint8Array | null = null;
    try {
      // maxOutput stops a small compressed message that would inflate past the limit before it does.
      out = stream.process(bytes, "sync", limit);
      if (fin) tail = stream.process(TAIL, "sync", limit - out.length);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.close();
      if (code === "EMSGSIZE") throw new InflateFailure(CLOSE_TOO_BIG, "a compressed message inflates past maxPayload");
      throw new InflateFailure(CLOSE_INVALID_DATA, `compressed data that does not inflate: ${(err as Error).message}`);
    }
    if (fin && !this.#takeover) this.close();
    if (tail === null || tail.length === 0) return out;
    if (out.length === 0) return tail;
    const whole = new Uint8Array(out.length + tail.length);
    whole.set(out);
    whole.set(tail, out.length);
    return whole;
  }

  /** Release the inflater. */
  close(): void {
    this.#stream?.close();
    this.#stream = null;
  }
}
