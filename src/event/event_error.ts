/**
 * The event module's error class.
 *
 * @module
 */

/** Codes an {@linkcode EventError} carries. */
export type EventErrorCode =
  | "ERR_LOOP_RUNNING"
  | "ERR_EVENT_FREED"
  | "ERR_EVENT_ACTIVE"
  | "ERR_NO_PLATFORM"
  | "ERR_SIGNAL_UNSUPPORTED"
  | "ERR_BASE_FREED";

/**
 * An error raised by EventBase or Event misuse that is not a plain argument
 * error (those are TypeError / RangeError).
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
export class EventError extends Error {
  /** A stable code for the kind of error. */
  readonly code: EventErrorCode;

  /** Make an error with a code and a message. */
  constructor(code: EventErrorCode, message: string) {
    super(message);
    this.name = "EventError";
    this.code = code;
  }
}
