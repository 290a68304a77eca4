/**
 * Ways into EvBuffer's memory without making a view per call, for levent's
 * own protocol code: the HTTP parser reads the first segment in place, and
 * the head writer fills reserved space in place. A view costs an object
 * per message on every engine; these hand out the segment's whole array
 * and an offset instead. Not part of the public API: `mod.ts` does not
 * export this file. evbuffer.ts fills the hooks in a static block.
 *
 * @module
 */
import type { EvBuffer } from "./evbuffer.ts";

/** The hooks, and the offset their last answer starts at. */
export const evbufferHooks: {
  /**
   * `reserveSpace(n)` without the view: the reserved segment's whole array,
   * the space starting at `offset`. Commit with `commitSpace` as usual.
   */
  reserveRaw: (buf: EvBuffer, n: number) => Uint8Array;
  /**
   * The first segment's whole array, its readable bytes starting at
   * `offset` (`contiguousSpace()` of them); null when the buffer is empty
   * or the first segment is an unloaded file piece.
   */
  firstRaw: (buf: EvBuffer) => Uint8Array | null;
  /** Where the last answer's bytes start in its array. */
  offset: number;
} = {
  reserveRaw: () => {
    throw new Error("evbuffer.ts has not run");
  },
  firstRaw: () => null,
  offset: 0,
};
