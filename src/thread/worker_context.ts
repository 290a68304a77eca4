/**
 * WorkerContext: a worker thread's side of its WorkerGroup.
 *
 * @module
 */
import { checkEventBase, checkFunction, checkInteger, checkObject } from "../check.ts";
import type { EventBase } from "../event/event_base.ts";
import type { Transferable, WorkerSelf } from "../platform.ts";
import { Inbox } from "./inbox.ts";
import { CONTROL, isGroupMessage, isGroupWorkerData, MSG } from "./protocol.ts";
import { ThreadError } from "./thread_error.ts";

/** Called on the worker's loop with each message its group sent ({@linkcode WorkerGroup.send}). */
export type WorkerContextMessageCallback = (value: unknown, context: WorkerContext) => void;

/**
 * Called on the worker's loop when its group stops it: stop accepting,
 * let what is in flight finish; the thread exits once the returned
 * Promise settles (the group terminates it after its grace period).
 */
export type WorkerStopCallback = (context: WorkerContext) => void | Promise<void>;

/** Options of {@linkcode WorkerContext.attach}. */
export interface WorkerContextOptions {
  /** Called with each message from the group. */
  readonly onMessage?: WorkerContextMessageCallback;
  /** The graceful shutdown ({@linkcode WorkerGroup.stop}); without it the thread exits at once. */
  readonly onStop?: WorkerStopCallback;
  /** The priority the callbacks run at on the base (default: its middle one). */
  readonly priority?: number;
}

/**
 * Inside a worker of a {@linkcode WorkerGroup}: its index, the group's
 * data, and the link to the group, with the group's messages and its stop
 * request run as events on the worker's own EventBase. Attached, the
 * worker's loop stays alive until the group stops it.
 *
 * @example
 * ```ts ignore
 * import { EventBase, HttpServer } from "@levent/levent";
 * import { WorkerContext } from "@levent/levent/thread";
 * const base = new EventBase();
 * const server = new HttpServer(base);
 * server.setCb("/hello", (req) => req.sendReply(200, "OK", "Hello, World!"));
 * const context = await WorkerContext.attach(base, { onStop: () => server.shutdown() });
 * const { port } = context.data as { port: number };
 * await server.bind("127.0.0.1", port, { reusePort: true });
 * context.ready();
 * await base.dispatch();
 * ```
 */
export class WorkerContext {
  /** The worker's index in its group, 0 to count - 1 (0 for a worker no group started). */
  readonly index: number;
  /** How many workers the group has (1 for a worker no group started). */
  readonly count: number;
  /** The group's data ({@linkcode WorkerGroupOptions.data}). */
  readonly data: unknown;
  /** This thread's id. */
  readonly threadId: number;
  readonly #self: WorkerSelf;
  readonly #inbox: Inbox<readonly [number, unknown]>;
  readonly #onMessage: WorkerContextMessageCallback | undefined;
  readonly #onStop: WorkerStopCallback | undefined;
  #stopping = false;

  private constructor(base: EventBase, self: WorkerSelf, options: WorkerContextOptions, priority?: number) {
    this.#self = self;
    const initial = self.data;
    this.index = isGroupWorkerData(initial) ? initial.index : 0;
    this.count = isGroupWorkerData(initial) ? initial.count : 1;
    this.data = isGroupWorkerData(initial) ? initial.data : initial;
    this.threadId = self.threadId;
    this.#onMessage = options.onMessage;
    this.#onStop = options.onStop;
    this.#inbox = new Inbox(base, ([kind, value]) => {
      if (kind === CONTROL) this.stop();
      else this.#onMessage?.(value, this);
    }, priority);
    this.#inbox.hold(true);
    self.setHandler((value) => {
      if (isGroupMessage(value)) this.#inbox.push(value);
    });
  }

  /**
   * Attach this worker thread to its group, on `base` (libevent's
   * one-base-per-thread: this thread dispatches `base`). Resolves once the
   * group's data has arrived.
   *
   * @throws {TypeError} (as a rejection) if base is not an EventBase, or an option has the wrong type
   * @throws {RangeError} (as a rejection) if options.priority is out of the base's range
   * @throws {ThreadError} (as a rejection) `ERR_NOT_A_WORKER` on the main thread
   */
  static async attach(base: EventBase, options: WorkerContextOptions = {}): Promise<WorkerContext> {
    checkEventBase(base, "base");
    checkObject(options, "options");
    if (options.onMessage !== undefined) checkFunction(options.onMessage, "options.onMessage");
    if (options.onStop !== undefined) checkFunction(options.onStop, "options.onStop");
    const priority = options.priority === undefined
      ? undefined
      : checkInteger(options.priority, "options.priority", 0, base.priorities - 1);
    const self = await base.platform.threads.workerSelf();
    if (self === null) throw new ThreadError("ERR_NOT_A_WORKER", "attach: this is the main thread, not a worker");
    return new WorkerContext(base, self, options, priority);
  }

  /** Tell the group this worker is ready (its server listens...); `value` goes to {@linkcode WorkerGroup.ready}. */
  ready(value?: unknown): void {
    this.#self.post([CONTROL, value]);
  }

  /**
   * Post `value` to the group's `onMessage`; what `transfer` lists moves.
   *
   * @throws {Error} (a DataCloneError) for a value that cannot be cloned
   */
  post(value: unknown, transfer?: readonly Transferable[]): void {
    this.#self.post([MSG, value], transfer);
  }

  /**
   * Run the graceful shutdown (`onStop`), then exit the thread with code 0
   * (1 when `onStop` threw). What {@linkcode WorkerGroup.stop} does to each
   * worker; a worker may also call it itself. A second call does nothing.
   */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    const onStop = this.#onStop;
    const done = (code: number): void => {
      this.#inbox.close();
      this.#self.exit(code);
    };
    if (onStop === undefined) {
      done(0);
      return;
    }
    Promise.resolve().then(() => onStop(this)).then(() => done(0), () => done(1));
  }

  /** End this thread at once with `code`, without the shutdown. */
  exit(code: number = 0): void {
    checkInteger(code, "code", 0, 255);
    this.#inbox.close();
    this.#self.exit(code);
  }
}
