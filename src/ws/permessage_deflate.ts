/**
 * permessage-deflate's data path (RFC 7692 §7.2): each message compressed
 * as raw DEFLATE flushed to a byte boundary with the final `00 00 ff ff`
 * taken off, and put back before inflating. Streams come from the
 * platform's {@linkcode Compression}; each is made on first use, and without
 * context takeover it is released after every message, so an idle
 * connection holds no zlib memory.
 *
 * @module
 */
import type { Compression, ZStream } from "../platform.ts";
import { CLOSE_INVALID_DATA, CLOSE_TOO_BIG } from "./frame.ts";
import { InflateFailure, type MessageInflater } from "./frame_reader.ts";

/** The four bytes a sync flush ends with, which the sender drops and the receiver restores (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/**
 * Compressed bytes fed to the inflater at a time, so that output is checked
 * against the size limit between pieces: DEFLATE expands at most about
 * 1032 times, so no piece can overshoot by more than about 4 MiB.
 */
const INFLATE_PIECE = 4096;

/** Compresses messages for one side of a connection. */
export class MessageDeflater {
  readonly #compression: Compression;
  readonly #windowBits: number;
  readonly #level: number;
  readonly #takeover: boolean;
  #stream: ZStream | null = null;

  /** `takeover` false: a fresh compressor for every message (no_context_takeover). */
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
    if (!this.#takeover) this.close();
    // A sync flush ends in 00 00 ff ff, which is taken off. When nothing is left (an empty message, or
    // zlib had nothing to flush), a single 00 is sent: an empty stored block once the tail is put back
    // (RFC 7692 §7.2.3.6). An empty payload would put back as a malformed block.
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

  /** `takeover` false: the peer compresses every message afresh, so the inflater is released after each. */
  constructor(compression: Compression, windowBits: number, takeover: boolean) {
    this.#compression = compression;
    this.#windowBits = windowBits;
    this.#takeover = takeover;
  }

  push(bytes: Uint8Array, fin: boolean, limit: number): Uint8Array {
    const stream = this.#stream ??= this.#compression.createInflateRaw({ windowBits: this.#windowBits });
    const parts: Uint8Array[] = [];
    let total = 0;
    const feed = (piece: Uint8Array): void => {
      let out: Uint8Array;
      try {
        out = stream.process(piece, "sync");
      } catch (err) {
        this.close();
        throw new InflateFailure(
          CLOSE_INVALID_DATA,
          `compressed data that does not inflate: ${(err as Error).message}`,
        );
      }
      if (out.length === 0) return;
      total += out.length;
      if (total > limit) {
        this.close();
        throw new InflateFailure(CLOSE_TOO_BIG, "a compressed message inflates past maxPayload");
      }
      parts.push(out);
    };
    for (let at = 0; at < bytes.length; at += INFLATE_PIECE) feed(bytes.subarray(at, at + INFLATE_PIECE));
    if (fin) {
      feed(TAIL);
      if (!this.#takeover) this.close();
    }
    if (parts.length === 1) return parts[0];
    const whole = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      whole.set(p, at);
      at += p.length;
    }
    return whole;
  }

  /** Release the inflater. */
  close(): void {
    this.#stream?.close();
    this.#stream = null;
  }
}
