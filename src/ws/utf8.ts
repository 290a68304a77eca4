/**
 * Incremental UTF-8 validation for WebSocket text (RFC 6455 §8.1, RFC 3629
 * §4): a message is checked piece by piece as its bytes arrive, across
 * frames, and the first byte that makes it invalid is found at once, so a
 * bad message is refused with 1007 before the rest of it is read.
 *
 * The grammar (RFC 3629 §4), per code point:
 *
 * - `00-7F`
 * - `C2-DF 80-BF`
 * - `E0 A0-BF 80-BF`, `E1-EC 80-BF 80-BF`, `ED 80-9F 80-BF` (no surrogates),
 *   `EE-EF 80-BF 80-BF`
 * - `F0 90-BF 80-BF 80-BF`, `F1-F3 80-BF 80-BF 80-BF`,
 *   `F4 80-8F 80-BF 80-BF` (nothing above U+10FFFF)
 *
 * so overlong forms, surrogates and code points past U+10FFFF are refused.
 *
 * @module
 */

/**
 * A UTF-8 validator that keeps its place between pieces of one text: feed
 * each piece, then ask whether the text ended on a whole code point.
 */
export class Utf8Validator {
  /** Continuation bytes still owed by the code point under way. */
  #need = 0;
  /** The range the next continuation byte must fall in (narrower after E0, ED, F0, F4). */
  #lo = 0x80;
  #hi = 0xbf;

  /** Start over, for a new text. */
  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }

  /**
   * Check `bytes[start, end)`, continuing the text fed so far. Returns -1 if
   * every byte fits, or the index of the first byte that does not.
   */
  feed(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
    let need = this.#need;
    let lo = this.#lo;
    let hi = this.#hi;
    let i = start;
    while (i < end) {
      const b = bytes[i];
      if (need === 0) {
        if (b < 0x80) {
          i++;
          // Runs of ASCII are the common case: skip them four at a time.
          while (i + 4 <= end && ((bytes[i] | bytes[i + 1] | bytes[i + 2] | bytes[i + 3]) & 0x80) === 0) i += 4;
          continue;
        }
        if (b < 0xc2) return this.#fail(i);
        if (b < 0xe0) {
          need = 1;
        } else if (b < 0xf0) {
          need = 2;
          if (b === 0xe0) lo = 0xa0;
          else if (b === 0xed) hi = 0x9f;
        } else if (b < 0xf5) {
          need = 3;
          if (b === 0xf0) lo = 0x90;
          else if (b === 0xf4) hi = 0x8f;
        } else {
          return this.#fail(i);
        }
      } else {
        if (b < lo || b > hi) return this.#fail(i);
        lo = 0x80;
        hi = 0xbf;
        need--;
      }
      i++;
    }
    this.#need = need;
    this.#lo = lo;
    this.#hi = hi;
    return -1;
  }

  /** Whether the text fed so far ends on a whole code point (no sequence left open). */
  get complete(): boolean {
    return this.#need === 0;
  }

  #fail(i: number): number {
    this.reset();
    return i;
  }
}

/** Whether `bytes` is well-formed UTF-8 as a whole. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.feed(bytes) < 0 && v.complete;
}
