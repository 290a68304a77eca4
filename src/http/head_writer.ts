// Writing a message head straight into an EvBuffer's reserved space.
//
// A head is a handful of short strings: the status line, the field lines,
// the Date line. Concatenating them and handing the result to a
// TextEncoder builds a rope, flattens it, allocates a view for encodeInto
// and a result object; on every engine that costs more than copying the
// characters one by one. A head is Latin-1 (every field value and reason
// is checked to be U+00FF or below before it gets here), so each character
// is one byte and the space needed is the characters counted.
import { type EvBuffer, reserveSegment } from "../buffer/evbuffer.ts";

/**
 * A reusable writer: `begin` reserves room for at most `max` bytes at the
 * end of a buffer, the write methods fill it, `commit` adds what was
 * written. One write at a time (the server writes one head per call, and
 * nothing it calls back in between writes a head).
 */
class HeadWriter {
  /** The reserved segment's whole array: the writer writes at #pos, from #start on. */
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #pos = 0;
  #sink: EvBuffer | null = null;

  /** Reserve room for up to `max` bytes at the end of `sink`. */
  begin(sink: EvBuffer, max: number): void {
    this.#sink = sink;
    const seg = reserveSegment(sink, max);
    this.#buf = seg.buf;
    this.#start = this.#pos = seg.end;
  }

  /** A Latin-1 string, one byte per character. */
  text(s: string): void {
    const b = this.#buf;
    const o = this.#pos;
    const n = s.length;
    for (let k = 0; k < n; k++) b[o + k] = s.charCodeAt(k);
    this.#pos = o + n;
  }

  /** `name: value` and CRLF. */
  field(name: string, value: string): void {
    this.text(name);
    // ": "
    this.#buf[this.#pos] = 58;
    this.#buf[this.#pos + 1] = 32;
    this.#pos += 2;
    this.text(value);
    this.crlf();
  }

  /** A non-negative integer in decimal. */
  decimal(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    const b = this.#buf;
    let o = this.#pos + digits;
    this.#pos = o;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      b[--o] = 48 + n - q * 10;
      n = q;
    }
    b[--o] = 48 + n;
  }

  crlf(): void {
    this.#buf[this.#pos] = 13;
    this.#buf[this.#pos + 1] = 10;
    this.#pos += 2;
  }

  /** Bytes copied in (a small body behind its head). */
  bytes(data: Uint8Array): void {
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
  }

  /** A string as UTF-8 (a text body behind its head); `bytes` is its encoded length, reserved in `begin`. */
  utf8(s: string, bytes: number): void {
    // Short ASCII text is copied like the head; the encoder wins on long text.
    if (bytes === s.length && bytes <= 256) {
      this.text(s);
      return;
    }
    encoder.encodeInto(s, this.#buf.subarray(this.#pos));
    this.#pos += bytes;
  }

  /** Add what was written to the buffer. */
  commit(): void {
    const sink = this.#sink as EvBuffer;
    this.#sink = null;
    this.#buf = EMPTY;
    sink.commitSpace(this.#pos - this.#start);
  }
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** The bytes `name: value\r\n` lines take for a field list (Latin-1: one per character). */
export function fieldsSize(list: readonly string[] | null): number {
  if (list === null) return 0;
  let n = 2 * list.length;
  for (let i = 0; i < list.length; i++) n += list[i].length;
  return n;
}

/** The writer every connection shares, server and client. */
export const headWriter: HeadWriter = new HeadWriter();

/** A Latin-1 string's bytes, one per character: the fixed pieces of a head, made once. */
export function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Append a Latin-1 string (a whole head built as one string) to `sink`, one byte per character. */
export function addLatin1(sink: EvBuffer, s: string): void {
  headWriter.begin(sink, s.length);
  headWriter.text(s);
  headWriter.commit();
}
