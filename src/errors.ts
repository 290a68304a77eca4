/**
 * The base of levent's error classes: every error the library raises on
 * its own account (not an argument error, which is a plain TypeError or
 * RangeError, nor a platform error, which carries the system's code) is a
 * {@linkcode LeventError} with a stable `code`.
 *
 * @module
 */

/** Options of {@linkcode LeventError} and the module error classes. */
export interface LeventErrorOptions {
  /** The error this one stands for or was caused by (a platform error, a callback's throw...). */
  readonly cause?: unknown;
}

/**
 * An error raised by levent, with a stable `code` string to branch on
 * (`ERR_...`); the message is for people and may change. Each module has a
 * subclass whose `code` lists that module's codes: `EventError`,
 * `BufferError`, `HttpError`. `cause`, when set, holds the error behind it.
 *
 * Using an object after its `free()` throws a LeventError with code
 * `ERR_FREED` whose message names the call and the object (`addString:
 * the EvBuffer was freed`), whatever the object: an EventBase, Event,
 * EvBuffer, BufferEvent, RateLimitGroup, Listener, HttpServer,
 * HttpConnection, RpcServer or RpcPool.
 *
 * @example
 * ```ts
 * import { EventBase, LeventError } from "@levent/levent";
 * const base = new EventBase();
 * base.free();
 * try {
 *   await base.dispatch();
 * } catch (err) {
 *   if (err instanceof LeventError) console.log(err.code, err.message); // ERR_FREED dispatch: the EventBase was freed
 * }
 * ```
 */
export class LeventError extends Error {
  /** A stable code for the kind of error. */
  readonly code: string;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: string, message: string, options?: LeventErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LeventError";
    this.code = code;
  }
}

/**
 * The error for a call on an object that was freed: code `ERR_FREED`, and
 * a message naming the call and the object, `op: the What was freed` (or
 * `how` it went: `shut down`). The
 * one rule for every levent object: once freed, its free() (and the calls
 * that only let go of something: del, remove, close) do nothing, its
 * getters still answer, and any other call throws this. Not part of the
 * public API.
 */
export function freedError(op: string, what: string, how: string = "freed"): LeventError {
  return new LeventError("ERR_FREED", `${op}: the ${what} was ${how}`);
}
