/**
 * The buffer module's error class.
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/**
 * Codes a {@linkcode BufferError} carries.
 *
 * - `ERR_FROZEN`: the start or the end of an EvBuffer is frozen and the
 *   operation would change it (libevent's functions return -1 there).
 * - `ERR_FILE_NOT_LOADED`: the operation needs the bytes of a file segment
 *   that has not been read into memory yet (see `EvBuffer.loadFileSegments`).
 * - `ERR_FILE_TRUNCATED`: a file segment's file ended before its last byte.
 * - `ERR_NO_RESERVATION`: `commitSpace` without a matching `reserveSpace`, or
 *   after another change invalidated the reservation.
 */
export type BufferErrorCode =
  | "ERR_FROZEN"
  | "ERR_FILE_NOT_LOADED"
  | "ERR_FILE_TRUNCATED"
  | "ERR_NO_RESERVATION";

/**
 * An error raised by EvBuffer misuse that is not a plain argument error
 * (those are TypeError / RangeError naming the argument): a
 * {@linkcode LeventError} with one of the {@linkcode BufferErrorCode} codes.
 *
 * @example
 * ```ts
 * import { BufferError, EvBuffer } from "@levent/levent/buffer";
 * const buf = new EvBuffer();
 * buf.freeze(true);
 * try {
 *   buf.drain(1);
 * } catch (err) {
 *   if (err instanceof BufferError) console.log(err.code); // "ERR_FROZEN"
 * }
 * ```
 */
export class BufferError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: BufferErrorCode;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: BufferErrorCode, message: string, options?: LeventErrorOptions) {
    super(code, message, options);
    this.name = "BufferError";
  }
}
