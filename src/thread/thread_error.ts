/**
 * The thread module's error class.
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/**
 * Codes a {@linkcode ThreadError} carries.
 *
 * - `ERR_QUEUE_FULL`: {@linkcode WorkQueue.run} while as many tasks wait as
 *   the queue's `maxQueued` allows (backpressure: wait for
 *   {@linkcode WorkQueue.waitForSpace}).
 * - `ERR_CANCELLED`: a task cancelled before a worker started it.
 * - `ERR_WORKER_FAILED`: a worker thread threw, exited when it was not
 *   asked to, or could not load its module; `cause` holds what it said.
 * - `ERR_NO_SUCH_FUNCTION`: the work module exports no function of that name.
 * - `ERR_STOPPED`: the group or queue was stopped or closed.
 * - `ERR_NOT_A_WORKER`: {@linkcode WorkerContext.attach} on the main thread.
 */
export type ThreadErrorCode =
  | "ERR_QUEUE_FULL"
  | "ERR_CANCELLED"
  | "ERR_WORKER_FAILED"
  | "ERR_NO_SUCH_FUNCTION"
  | "ERR_STOPPED"
  | "ERR_NOT_A_WORKER";

/**
 * An error of the thread module (worker groups, channels, work queues): a
 * {@linkcode LeventError} with one of the {@linkcode ThreadErrorCode} codes.
 *
 * @example
 * ```ts ignore
 * import { ThreadError, WorkQueue } from "@levent/levent/thread";
 * try {
 *   await queue.run("resize", [image]);
 * } catch (err) {
 *   if (err instanceof ThreadError && err.code === "ERR_QUEUE_FULL") await queue.waitForSpace();
 * }
 * ```
 */
export class ThreadError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: ThreadErrorCode;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: ThreadErrorCode, message: string, options?: LeventErrorOptions) {
    super(code, message, options);
    this.name = "ThreadError";
  }
}
