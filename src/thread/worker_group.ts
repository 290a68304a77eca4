/**
 * WorkerGroup: N worker threads, each running a module that dispatches its
 * own EventBase: libevent's one-base-per-thread design.
 *
 * @module
 */
import { checkEventBase, checkFlag, checkFunction, checkInteger, checkMs, checkObject, checkString } from "../check.ts";
import { getDefaultPlatform } from "../event/default_platform.ts";
import type { EventBase } from "../event/event_base.ts";
import { EventError } from "../event/event_error.ts";
import type { Platform, TimerHandle, Transferable, WorkerThread } from "../platform.ts";
import { Inbox } from "./inbox.ts";
import { CONTROL, type GroupWorkerData, isGroupMessage, MSG } from "./protocol.ts";
import { ThreadError } from "./thread_error.ts";

/** Called with a message a worker posted ({@linkcode WorkerContext.post}). */
export type WorkerMessageCallback = (index: number, value: unknown, group: WorkerGroup) => void;

/**
 * Called when a worker threw or exited without being asked to: `error`
 * is a {@linkcode ThreadError} `ERR_WORKER_FAILED` whose `cause` is what
 * the worker threw (or whose message gives its exit code).
 */
export type WorkerCrashCallback = (index: number, error: ThreadError, group: WorkerGroup) => void;

/** Options of {@linkcode WorkerGroup.start}. */
export interface WorkerGroupOptions {
  /** How many worker threads, 1 to 1024. */
  readonly count: number;
  /** The data each worker gets as {@linkcode WorkerContext.data} (structured-cloned for each). */
  readonly data?: unknown;
  /**
   * Run the callbacks as events on this base, whose loop then stays alive
   * until the group has stopped. Without it they run as the messages
   * arrive, straight from the runtime.
   */
  readonly base?: EventBase;
  /** The platform whose threads to use (default: the base's, else the registered default). */
  readonly platform?: Platform;
  /** Called with each message a worker posts. */
  readonly onMessage?: WorkerMessageCallback;
  /** Called when a worker fails (see {@linkcode WorkerCrashCallback}). */
  readonly onCrash?: WorkerCrashCallback;
  /** Start a new worker at the index of one that failed (after `restartDelayMs`); default false. */
  readonly restart?: boolean;
  /** How long to wait before restarting a failed worker, in milliseconds (default 100). */
  readonly restartDelayMs?: number;
  /** A name for the threads (`name-0`, `name-1`...), for debuggers. */
  readonly name?: string;
}

/** Options of {@linkcode WorkerGroup.stop}. */
export interface WorkerGroupStopOptions {
  /**
   * How long each worker's shutdown may take, in milliseconds (default
   * 5000); a worker still running after it is terminated.
   */
  readonly graceMs?: number;
}

/** Where a group is: running, stopping (its workers shutting down), or stopped. */
export type WorkerGroupState = "running" | "stopping" | "stopped";

const DEFAULT_GRACE_MS = 5000;
const DEFAULT_RESTART_DELAY_MS = 100;
const MAX_WORKERS = 1024;

/** What the group's callbacks get, queued for the base when it has one. */
type Report =
  | { readonly kind: "message"; readonly index: number; readonly value: unknown }
  | { readonly kind: "crash"; readonly index: number; readonly error: ThreadError };

/** One slot of the group: the thread running at an index, and where it is. */
interface Slot {
  thread: WorkerThread | null;
  state: "starting" | "ready" | "stopping" | "exited";
  /** The worker's uncaught error, reported with its exit. */
  error: Error | null;
  restartTimer: TimerHandle | undefined;
}

/**
 * A group of worker threads running one module, each with its own
 * EventBase: libevent's way of using many cores (one `event_base` per
 * thread; evhttp itself is not thread-safe, so each thread has its own
 * server, all bound to one port with SO_REUSEPORT). The module reaches its
 * group through {@linkcode WorkerContext.attach}.
 *
 * @example
 * ```ts ignore
 * import { WorkerGroup } from "@levent/levent/thread";
 * const group = WorkerGroup.start(new URL("./server_worker.ts", import.meta.url), {
 *   count: 4,
 *   data: { port: 8080 },
 *   onCrash: (index, err) => console.error(`worker ${index}:`, err.message),
 *   restart: true,
 * });
 * await group.ready();
 * // ... later, on SIGTERM:
 * await group.stop({ graceMs: 5000 });
 * ```
 */
export class WorkerGroup {
  readonly #url: URL | string;
  readonly #platform: Platform;
  readonly #count: number;
  readonly #data: unknown;
  readonly #name: string | undefined;
  readonly #onMessage: WorkerMessageCallback | undefined;
  readonly #onCrash: WorkerCrashCallback | undefined;
  readonly #restart: boolean;
  readonly #restartDelayMs: number;
  readonly #inbox: Inbox<Report> | null;
  readonly #slots: Slot[] = [];
  readonly #readyValues: unknown[];
  /** Whether the worker at each index has been ready once (a replacement does not count again). */
  readonly #readySeen: boolean[];
  #readyCount = 0;
  #readyWaiters: { resolve: (values: unknown[]) => void; reject: (err: unknown) => void }[] = [];
  #readyFailure: ThreadError | null = null;
  #state: WorkerGroupState = "running";
  #stopped: Promise<void> | null = null;
  #allExited: (() => void) | null = null;

  private constructor(moduleUrl: URL | string, platform: Platform, options: WorkerGroupOptions, count: number) {
    this.#url = moduleUrl;
    this.#platform = platform;
    this.#count = count;
    this.#data = options.data;
    this.#name = options.name;
    this.#onMessage = options.onMessage;
    this.#onCrash = options.onCrash;
    this.#restart = checkFlag(options.restart, "options.restart");
    this.#restartDelayMs = options.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS;
    this.#readyValues = new Array(count).fill(undefined);
    this.#readySeen = new Array(count).fill(false);
    this.#inbox = options.base === undefined ? null : new Inbox<Report>(options.base, (report) => this.#report(report));
    this.#inbox?.hold(true);
  }

  /**
   * Start `count` worker threads running the module at `moduleUrl` (a
   * `file:` URL; a `.ts` module where the runtime runs TypeScript).
   *
   * @throws {TypeError} if moduleUrl is neither a URL nor a string, or an option has the wrong type
   * @throws {RangeError} if count is not an integer in 1..1024, or restartDelayMs is negative
   * @throws {EventError} `ERR_NO_PLATFORM` when no platform is given, on the base, or registered
   */
  static start(moduleUrl: URL | string, options: WorkerGroupOptions): WorkerGroup {
    if (!(moduleUrl instanceof URL)) checkString(moduleUrl, "moduleUrl");
    checkObject(options, "options");
    const count = checkInteger(options.count, "options.count", 1, MAX_WORKERS);
    if (options.base !== undefined) checkEventBase(options.base, "options.base");
    if (options.onMessage !== undefined) checkFunction(options.onMessage, "options.onMessage");
    if (options.onCrash !== undefined) checkFunction(options.onCrash, "options.onCrash");
    if (options.restartDelayMs !== undefined) checkMs(options.restartDelayMs, "options.restartDelayMs");
    if (options.name !== undefined) checkString(options.name, "options.name");
    const platform = options.platform ?? options.base?.platform ?? getDefaultPlatform();
    if (platform === undefined) {
      throw new EventError("ERR_NO_PLATFORM", "no platform: pass { platform } or { base }, or import levent's mod.ts");
    }
    const group = new WorkerGroup(moduleUrl, platform, options, count);
    for (let i = 0; i < count; i++) {
      group.#slots.push({ thread: null, state: "starting", error: null, restartTimer: undefined });
      group.#spawn(i);
    }
    return group;
  }

  /** How many workers the group has. */
  get count(): number {
    return this.#count;
  }

  /** Running, stopping, or stopped. */
  get state(): WorkerGroupState {
    return this.#state;
  }

  /** The thread id of the worker at each index (-1 where none runs). */
  threadIds(): number[] {
    return this.#slots.map((slot) => slot.state === "exited" || slot.thread === null ? -1 : slot.thread.threadId);
  }

  /**
   * Resolve, with the value each worker gave {@linkcode WorkerContext.ready},
   * once every worker has said it is ready.
   *
   * @throws {ThreadError} (as a rejection) `ERR_WORKER_FAILED` when a worker failed before it was ready
   *   (and is not restarted), `ERR_STOPPED` when the group stopped first
   */
  ready(): Promise<unknown[]> {
    if (this.#readyFailure !== null) return Promise.reject(this.#readyFailure);
    if (this.#readyCount === this.#count) return Promise.resolve([...this.#readyValues]);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * Post `value` to the worker at `index`, where it runs its context's
   * `onMessage` as an event; what `transfer` lists moves instead of being
   * copied. A message to a worker being restarted is dropped.
   *
   * @throws {RangeError} if index is not an integer in 0 .. count - 1
   * @throws {ThreadError} `ERR_STOPPED` once the group is stopping or stopped
   */
  send(index: number, value: unknown, transfer?: readonly Transferable[]): void {
    checkInteger(index, "index", 0, this.#count - 1);
    this.#checkRunning("send");
    const slot = this.#slots[index];
    if (slot.state !== "exited") slot.thread?.post([MSG, value], transfer);
  }

  /**
   * Post `value` to every worker (copied for each).
   *
   * @throws {ThreadError} `ERR_STOPPED` once the group is stopping or stopped
   */
  broadcast(value: unknown): void {
    this.#checkRunning("broadcast");
    for (const slot of this.#slots) if (slot.state !== "exited") slot.thread?.post([MSG, value]);
  }

  /**
   * Stop every worker gracefully: each runs its context's `onStop` (a
   * server finishes the requests in flight), then exits. A worker still
   * running after `graceMs` is terminated. Resolves once all have exited;
   * a second call returns the same Promise.
   *
   * @throws {TypeError} (as a rejection) if options.graceMs is not a number
   * @throws {RangeError} (as a rejection) if options.graceMs is negative
   */
  stop(options: WorkerGroupStopOptions = {}): Promise<void> {
    if (this.#stopped !== null) return this.#stopped;
    try {
      checkObject(options, "options");
      if (options.graceMs !== undefined) checkMs(options.graceMs, "options.graceMs");
    } catch (err) {
      return Promise.reject(err);
    }
    const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.#state = "stopping";
    this.#failReady(new ThreadError("ERR_STOPPED", "ready: the WorkerGroup was stopped"));
    const clock = this.#platform.clock;
    this.#stopped = new Promise<void>((resolve) => {
      for (const slot of this.#slots) {
        if (slot.restartTimer !== undefined) {
          clock.clearTimer(slot.restartTimer);
          slot.restartTimer = undefined;
          slot.state = "exited";
        }
        if (slot.state === "exited") continue;
        slot.state = "stopping";
        slot.thread?.post([CONTROL, null]);
      }
      const timer = clock.setTimer(() => {
        for (const slot of this.#slots) if (slot.state !== "exited") void slot.thread?.terminate();
      }, graceMs);
      this.#allExited = () => {
        clock.clearTimer(timer);
        resolve();
      };
      this.#checkAllExited();
    }).then(() => {
      this.#state = "stopped";
      this.#inbox?.hold(false);
    });
    return this.#stopped;
  }

  #spawn(index: number): void {
    const slot = this.#slots[index];
    slot.state = "starting";
    slot.error = null;
    const data: GroupWorkerData = { leventWorker: 1, index, count: this.#count, data: this.#data };
    const name = this.#name === undefined ? undefined : `${this.#name}-${index}`;
    let thread: WorkerThread | null = null;
    thread = this.#platform.threads.start(this.#url, { data, name }, {
      message: (value) => {
        if (this.#slots[index].thread !== thread || !isGroupMessage(value)) return;
        if (value[0] === CONTROL) this.#onReady(index, value[1]);
        else this.#enqueue({ kind: "message", index, value: value[1] });
      },
      error: (err) => {
        if (this.#slots[index].thread === thread) this.#slots[index].error = err;
      },
      exit: (code) => {
        if (this.#slots[index].thread === thread) this.#onExit(index, code);
      },
    });
    slot.thread = thread;
  }

  #onReady(index: number, value: unknown): void {
    const slot = this.#slots[index];
    if (slot.state !== "starting") return;
    slot.state = "ready";
    if (this.#readyFailure !== null || this.#readySeen[index]) return;
    this.#readySeen[index] = true;
    this.#readyValues[index] = value;
    if (++this.#readyCount === this.#count) {
      for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve([...this.#readyValues]);
    }
  }

  #onExit(index: number, code: number): void {
    const slot = this.#slots[index];
    const expected = slot.state === "stopping";
    slot.state = "exited";
    const cause = slot.error;
    if (!expected || cause !== null) {
      const what = cause !== null ? `threw: ${cause.message}` : `exited with code ${code}`;
      const error = new ThreadError("ERR_WORKER_FAILED", `worker ${index} ${what}`, { cause: cause ?? undefined });
      if (!expected && this.#state === "running" && this.#restart) {
        // The replacement counts as ready for ready() if the first one was.
        slot.restartTimer = this.#platform.clock.setTimer(() => {
          slot.restartTimer = undefined;
          if (this.#state === "running") this.#spawn(index);
        }, this.#restartDelayMs);
      } else if (!expected && !this.#readySeen[index]) {
        this.#failReady(error);
      }
      this.#enqueue({ kind: "crash", index, error });
    }
    this.#checkAllExited();
  }

  #failReady(error: ThreadError): void {
    if (this.#readyCount === this.#count || this.#readyFailure !== null) return;
    this.#readyFailure = error;
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
  }

  #checkAllExited(): void {
    if (this.#allExited === null) return;
    if (this.#slots.every((slot) => slot.state === "exited" && slot.restartTimer === undefined)) {
      const done = this.#allExited;
      this.#allExited = null;
      done();
    }
  }

  #enqueue(report: Report): void {
    if (this.#inbox === null) this.#report(report);
    else this.#inbox.push(report);
  }

  #report(report: Report): void {
    if (report.kind === "message") this.#onMessage?.(report.index, report.value, this);
    else this.#onCrash?.(report.index, report.error, this);
  }

  #checkRunning(op: string): void {
    if (this.#state !== "running") throw new ThreadError("ERR_STOPPED", `${op}: the WorkerGroup was stopped`);
  }
}
