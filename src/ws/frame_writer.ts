/**
 * The WebSocket frame writer (RFC 6455 §5.2): one whole message (or control
 * frame) per frame, written straight into an output {@linkcode EvBuffer}.
 * A server's frames are unmasked, and a small payload is copied behind its
 * header so header and payload leave in one write; a large one is added by
 * reference, in one piece with its header when it is a message the reader
 * just handed out (the header goes in the free bytes before it, see
 * headroomOf). A client's frames are masked with a fresh random key each
 * (RFC 6455 §5.3), the payload XORed as it is copied out.
 *
 * @module
 */
import { type EvBuffer, reserveSegment } from "../buffer/evbuffer.ts";
import { headroomOf } from "./frame_reader.ts";

/** Payloads up to this size are copied behind their header; larger ones are added by reference. */
const COPY_LIMIT = 2048;
/** Random bytes drawn at once for masking keys, so a frame does not call the random source itself. */
const KEY_POOL = 4096;

const encoder = new TextEncoder();
let keyPool = new Uint8Array(0);
let keyAt = 0;

/** Four fresh random bytes for a masking key, into `dst[at, at + 4)`. */
function maskKey(dst: Uint8Array, at: number): void {
  if (keyAt + 4 > keyPool.length) {
    keyPool = crypto.getRandomValues(new Uint8Array(KEY_POOL));
    keyAt = 0;
  }
  dst[at] = keyPool[keyAt];
  dst[at + 1] = keyPool[keyAt + 1];
  dst[at + 2] = keyPool[keyAt + 2];
  dst[at + 3] = keyPool[keyAt + 3];
  keyAt += 4;
}

/** The header's size for a payload of `n` bytes. */
function headerSize(n: number, masked: boolean): number {
  return (n < 126 ? 2 : n < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/** Write the header at `dst[at]`; returns where the payload (or the key, when masked) goes. */
function putHeader(dst: Uint8Array, at: number, first: number, n: number, masked: boolean): number {
  dst[at] = first;
  const m = masked ? 0x80 : 0;
  if (n < 126) {
    dst[at + 1] = m | n;
    return at + 2;
  }
  if (n < 65536) {
    dst[at + 1] = m | 126;
    dst[at + 2] = n >>> 8;
    dst[at + 3] = n & 0xff;
    return at + 4;
  }
  dst[at + 1] = m | 127;
  const high = Math.floor(n / 0x100000000);
  dst[at + 2] = 0;
  dst[at + 3] = 0;
  dst[at + 4] = (high >>> 8) & 0xff;
  dst[at + 5] = high & 0xff;
  dst[at + 6] = (n >>> 24) & 0xff;
  dst[at + 7] = (n >>> 16) & 0xff;
  dst[at + 8] = (n >>> 8) & 0xff;
  dst[at + 9] = n & 0xff;
  return at + 10;
}

/**
 * Write one final frame (FIN set) with `opcode` and `payload` to `out`;
 * `rsv1` marks a compressed message (permessage-deflate), `masked` a
 * client's frame. The payload's bytes must not change afterwards when it
 * is larger than COPY_LIMIT and not masked: it is sent by reference.
 */
export function writeFrame(out: EvBuffer, opcode: number, payload: Uint8Array, rsv1: boolean, masked: boolean): void {
  const n = payload.length;
  const first = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  const hs = headerSize(n, masked);
  if (!masked && n > COPY_LIMIT && headroomOf(payload) >= hs) {
    // A received message sent on: its header goes in the free bytes before it, one piece for one socket write.
    const whole = new Uint8Array(payload.buffer, payload.byteOffset - hs, hs + n);
    putHeader(whole, 0, first, n, false);
    out.add(whole);
    return;
  }
  // The reservation's segment itself (no view per frame): the room starts at its `end`.
  const seg = reserveSegment(out, masked || n <= COPY_LIMIT ? hs + n : hs);
  const dst = seg.buf;
  const at = seg.end;
  if (masked) {
    const keyAt = putHeader(dst, at, first, n, true);
    maskKey(dst, keyAt);
    const k0 = dst[keyAt];
    const k1 = dst[keyAt + 1];
    const k2 = dst[keyAt + 2];
    const k3 = dst[keyAt + 3];
    const p = keyAt + 4;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      dst[p + i] = payload[i] ^ k0;
      dst[p + i + 1] = payload[i + 1] ^ k1;
      dst[p + i + 2] = payload[i + 2] ^ k2;
      dst[p + i + 3] = payload[i + 3] ^ k3;
    }
    for (; i < n; i++) dst[p + i] = payload[i] ^ dst[keyAt + (i & 3)];
    out.commitSpace(hs + n);
    return;
  }
  const p = putHeader(dst, at, first, n, false);
  if (n <= COPY_LIMIT) {
    dst.set(payload, p);
    out.commitSpace(hs + n);
    return;
  }
  out.commitSpace(hs);
  out.add(payload);
}

/**
 * Write a text message from a string: a short one is encoded straight into
 * the output behind its header (no intermediate bytes), a longer one
 * encoded first.
 */
export function writeTextFrame(out: EvBuffer, text: string, masked: boolean): void {
  const len = text.length;
  // Each UTF-16 unit is at most 3 UTF-8 bytes: a string this short fits a 2-byte header.
  if (!masked && len * 3 < 126) {
    const seg = reserveSegment(out, 2 + len * 3);
    const dst = seg.buf;
    const at = seg.end;
    let n = 0;
    // ASCII, the common case, is copied by hand: cheaper than encodeInto's view and result object.
    for (; n < len; n++) {
      const c = text.charCodeAt(n);
      if (c >= 0x80) break;
      dst[at + 2 + n] = c;
    }
    if (n < len) n += encoder.encodeInto(text.slice(n), dst.subarray(at + 2 + n)).written;
    dst[at] = 0x81;
    dst[at + 1] = n;
    out.commitSpace(2 + n);
    return;
  }
  writeFrame(out, 0x1, encoder.encode(text), false, masked);
}
