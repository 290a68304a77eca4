/**
 * The event module's error class.
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/**
 * Codes an {@linkcode EventError} carries. Using a freed EventBase or
 * Event is the `ERR_FREED` every levent object has (a plain
 * `LeventError`).
 */
export type EventErrorCode =
  | "ERR_LOOP_RUNNING"
  | "ERR_EVENT_ACTIVE"
  | "ERR_NO_PLATFORM"
  | "ERR_SIGNAL_UNSUPPORTED";

/**
 * An error raised by EventBase or Event misuse that is not a plain argument
 * error (those are TypeError / RangeError): a {@linkcode LeventError} with
 * one of the {@linkcode EventErrorCode} codes.
 *
 * @example
 * ```ts
 * import { EventError } from "@levent/levent/event";
 * try {
 *   throw new EventError("ERR_LOOP_RUNNING", "the loop is already running");
 * } catch (err) {
 *   if (err instanceof EventError) console.log(err.code);
 * }
 * ```
 */
export class EventError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: EventErrorCode;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: EventErrorCode, message: string, options?: LeventErrorOptions) {
    super(code, message, options);
    this.name = "EventError";
  }
}
