/**
 * WorkQueue: a pool of worker threads running the functions a module
 * exports, with the results delivered as events on the calling EventBase.
 *
 * @module
 */
import { checkEventBase, checkInteger, checkNonEmptyString, checkObject, checkString, typeError } from "../check.ts";
import { adopt, disown, type EventBase } from "../event/event_base.ts";
import type { Platform, Transferable, WorkerThread } from "../platform.ts";
import { Inbox } from "./inbox.ts";
import {
  deserializeError,
  type JobMessage,
  LOAD_FAILED,
  RESULT_OK,
  type ResultMessage,
  type WorkRunnerData,
} from "./work_protocol.ts";
import { ThreadError } from "./thread_error.ts";

/**
 * Called on the base's loop when a task ends: with its result, or with
 * the error the function threw (its name, message, `code` and the
 * worker's stack kept), or a {@linkcode ThreadError}: `ERR_CANCELLED`,
 * `ERR_NO_SUCH_FUNCTION`, `ERR_WORKER_FAILED`, `ERR_STOPPED`.
 */
export type WorkCallback<R = unknown> = (error: Error | null, result: R | undefined) => void;

/** Options of {@linkcode WorkQueue.start}. */
export interface WorkQueueOptions {
  /** How many worker threads, 1 to 256 (default 1). */
  readonly threads?: number;
  /**
   * How many tasks may wait for a thread (default 1024); past it
   * {@linkcode WorkQueue.run} refuses with `ERR_QUEUE_FULL`.
   */
  readonly maxQueued?: number;
  /** The priority the callbacks run at on the base (default: its middle one). */
  readonly priority?: number;
}

/** Options of one {@linkcode WorkQueue.run}. */
export interface WorkRunOptions {
  /** What in `args` moves to the worker instead of being copied. */
  readonly transfer?: readonly Transferable[];
  /** Cancel the task if it aborts before a worker started it (Promise form: rejects with `ERR_CANCELLED`). */
  readonly signal?: AbortSignal;
}

/** Where a task is. */
export type WorkTaskState = "queued" | "running" | "done" | "cancelled";

/** The runner module, beside the adapters, compiled alike (`.ts` in the source, `.js` in the npm package). */
const RUNNER_URL: string = new URL(
  `../../adapters/work_runner${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`,
  import.meta.url,
).href;

const DEFAULT_MAX_QUEUED = 1024;

let cancelTask!: (queue: WorkQueue, task: WorkTask) => void;
let setTaskState!: (task: WorkTask, state: WorkTaskState) => void;

/** A task given to {@linkcode WorkQueue.run}. */
export class WorkTask {
  /** The exported function it runs. */
  readonly name: string;
  readonly #queue: WorkQueue;
  #state: WorkTaskState = "queued";

  /** Made by {@linkcode WorkQueue.run}; one made otherwise is never run. */
  constructor(queue: WorkQueue, name: string) {
    this.#queue = queue;
    this.name = name;
  }

  /** Queued, running, done, or cancelled. */
  get state(): WorkTaskState {
    return this.#state;
  }

  /**
   * Cancel the task if no worker has started it: its callback then gets a
   * {@linkcode ThreadError} `ERR_CANCELLED`, as an event. Returns whether
   * it was cancelled (false once running or done: a running function is
   * not interrupted).
   */
  cancel(): boolean {
    if (this.#state !== "queued") return false;
    this.#state = "cancelled";
    cancelTask(this.#queue, this);
    return true;
  }

  static {
    setTaskState = (task, state) => {
      task.#state = state;
    };
  }
}

/** A task with what it needs. */
interface Job {
  readonly id: number;
  readonly task: WorkTask;
  readonly args: readonly unknown[];
  readonly transfer: readonly Transferable[] | undefined;
  readonly callback: WorkCallback<unknown>;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/** One pool thread and the job it runs. */
interface Runner {
  thread: WorkerThread;
  job: Job | null;
  exited: boolean;
}

/**
 * A work queue: worker threads that run the functions a module exports,
 * fed from a bounded queue, with each result (or error) delivered as an
 * event on the base that asked. libevent leaves this to the program (one
 * base hands work to a thread pool and is woken with `event_active`); it
 * is what a server uses for CPU-heavy work that must not stall its loop.
 *
 * Arguments and results are structured-cloned; an ArrayBuffer result (or
 * a typed array that fills its buffer) moves back instead. Until
 * {@linkcode WorkQueue.close}, the queue keeps the base's loop alive (as
 * an open listener does) and its threads keep the program running.
 *
 * @example
 * ```ts ignore
 * import { EventBase } from "@levent/levent";
 * import { WorkQueue } from "@levent/levent/thread";
 * // work.ts: export function fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
 * const base = new EventBase();
 * const queue = WorkQueue.start(base, new URL("./work.ts", import.meta.url), { threads: 2 });
 * queue.run("fib", [30], (err, result) => console.log(err ?? result)); // as an event on base
 * console.log(await queue.run("fib", [20])); // the Promise form
 * await queue.close();
 * ```
 */
export class WorkQueue {
  static {
    cancelTask = (queue, task) => queue.#cancel(task);
  }

  readonly #base: EventBase;
  readonly #platform: Platform;
  readonly #moduleUrl: string;
  readonly #maxQueued: number;
  readonly #runners: Runner[] = [];
  readonly #inbox: Inbox<() => void>;
  #queued: Job[] = [];
  #nextId = 1;
  #running = 0;
  #state: "open" | "failed" | "closed" = "open";
  #failure: ThreadError | null = null;
  #spaceWaiters: (() => void)[] = [];
  /** What the base's free() calls. */
  readonly #release = (): void => void this.close();

  private constructor(base: EventBase, moduleUrl: string, threads: number, maxQueued: number, priority?: number) {
    this.#base = base;
    this.#platform = base.platform;
    this.#moduleUrl = moduleUrl;
    this.#maxQueued = maxQueued;
    this.#inbox = new Inbox<() => void>(base, (deliver) => deliver(), priority);
    for (let i = 0; i < threads; i++) this.#runners.push(this.#startRunner());
    this.#inbox.hold(true);
    adopt(base, this.#release);
  }

  /**
   * Start `options.threads` worker threads that import the module at
   * `moduleUrl` (a `file:` URL) and run its exported functions.
   *
   * @throws {TypeError} if base is not an EventBase, moduleUrl neither a URL nor a string, or options not an object
   * @throws {RangeError} if threads, maxQueued or priority is out of range
   * @throws {EventError} `ERR_NO_PLATFORM` when the base has no platform
   */
  static start(base: EventBase, moduleUrl: URL | string, options: WorkQueueOptions = {}): WorkQueue {
    checkEventBase(base, "base");
    const url = moduleUrl instanceof URL ? moduleUrl.href : checkString(moduleUrl, "moduleUrl");
    checkObject(options, "options");
    const threads = options.threads === undefined ? 1 : checkInteger(options.threads, "options.threads", 1, 256);
    const maxQueued = options.maxQueued === undefined
      ? DEFAULT_MAX_QUEUED
      : checkInteger(options.maxQueued, "options.maxQueued", 0);
    const priority = options.priority === undefined
      ? undefined
      : checkInteger(options.priority, "options.priority", 0, base.priorities - 1);
    return new WorkQueue(base, url, threads, maxQueued, priority);
  }

  /** The base the callbacks run on. */
  get base(): EventBase {
    return this.#base;
  }

  /** Tasks waiting for a thread. */
  get queued(): number {
    return this.#queued.length;
  }

  /** Tasks a thread is running. */
  get running(): number {
    return this.#running;
  }

  /** True while {@linkcode WorkQueue.run} would refuse a task that must wait (`ERR_QUEUE_FULL`). */
  get full(): boolean {
    return this.#queued.length >= this.#maxQueued && this.#idleRunner() === undefined;
  }

  /**
   * Run the exported function `name` with `args` on a pool thread; the
   * callback gets the result, or the error, as an event on the base.
   * The task waits in the queue while every thread is busy.
   *
   * @returns the task, which can be cancelled while it waits
   * @throws {TypeError} if name is not a non-empty string, args not an array, or callback not a function
   * @throws {ThreadError} `ERR_QUEUE_FULL` when `maxQueued` tasks already wait (backpressure: see {@linkcode WorkQueue.waitForSpace}); `ERR_STOPPED` once closed; `ERR_WORKER_FAILED` when the module could not be loaded
   */
  run<R = unknown>(
    name: string,
    args: readonly unknown[],
    callback: WorkCallback<R>,
    options?: WorkRunOptions,
  ): WorkTask;
  /**
   * The Promise form: resolves with the function's result (after the
   * event on the base ran), rejects with its error or a
   * {@linkcode ThreadError} (`ERR_QUEUE_FULL`, `ERR_CANCELLED` when
   * `options.signal` aborted it before it started, `ERR_STOPPED`,
   * `ERR_WORKER_FAILED`, `ERR_NO_SUCH_FUNCTION`).
   *
   * @throws {TypeError} (as a rejection) if name is not a non-empty string or args not an array
   */
  run<R = unknown>(name: string, args?: readonly unknown[], options?: WorkRunOptions): Promise<R>;
  run<R = unknown>(
    name: string,
    args: readonly unknown[] = [],
    callbackOrOptions?: WorkCallback<R> | WorkRunOptions,
    options?: WorkRunOptions,
  ): WorkTask | Promise<R> {
    if (typeof callbackOrOptions === "function") return this.#submit(name, args, callbackOrOptions, options ?? {});
    return new Promise<R>((resolve, reject) => {
      this.#submit<R>(name, args, (err, result) => err === null ? resolve(result as R) : reject(err), {
        ...callbackOrOptions,
      });
    });
  }

  /**
   * Resolve once a task can be queued again (the queue is below
   * `maxQueued` or a thread is idle), or the queue was closed.
   */
  waitForSpace(): Promise<void> {
    if (!this.full || this.#state !== "open") return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  /**
   * Stop: tasks still waiting and running fail with `ERR_STOPPED` (as
   * events), and the threads are terminated. Resolves once they are gone.
   * Freeing the base closes the queue too (its callbacks then never run).
   * A second call does nothing.
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    disown(this.#base, this.#release);
    const stopped = new ThreadError("ERR_STOPPED", "the WorkQueue was closed");
    for (const job of this.#queued.splice(0)) this.#finish(job, stopped, undefined, "cancelled");
    const runners = this.#runners.splice(0);
    for (const runner of runners) {
      if (runner.job !== null) this.#finish(runner.job, stopped, undefined, "done");
      runner.job = null;
      runner.exited = true;
    }
    this.#running = 0;
    this.#wakeSpaceWaiters();
    // After the callbacks queued above: then the loop may end.
    this.#inbox.push(() => this.#inbox.hold(false));
    await Promise.all(runners.map((runner) => runner.thread.terminate()));
  }

  #submit<R>(name: string, args: readonly unknown[], callback: WorkCallback<R>, options: WorkRunOptions): WorkTask {
    checkNonEmptyString(name, "name");
    if (!Array.isArray(args)) throw typeError("args", "an array", args);
    checkObject(options, "options");
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw typeError("options.signal", "an AbortSignal", signal);
    }
    if (this.#state === "closed") throw new ThreadError("ERR_STOPPED", "run: the WorkQueue was closed");
    if (this.#failure !== null) throw this.#failure;
    const idle = this.#idleRunner();
    if (idle === undefined && this.#queued.length >= this.#maxQueued) {
      throw new ThreadError("ERR_QUEUE_FULL", `run: ${this.#queued.length} tasks already wait (maxQueued)`);
    }
    const task = new WorkTask(this, name);
    const job: Job = {
      id: this.#nextId++,
      task,
      args,
      transfer: options.transfer,
      callback: callback as WorkCallback<unknown>,
      signal,
      onAbort: signal === undefined ? undefined : () => task.cancel(),
    };
    if (signal?.aborted) {
      setTaskState(task, "cancelled");
      this.#finish(job, cancelled(signal), undefined, "cancelled");
      return task;
    }
    if (job.onAbort !== undefined) signal?.addEventListener("abort", job.onAbort, { once: true });
    if (idle !== undefined) this.#dispatch(idle, job);
    else this.#queued.push(job);
    return task;
  }

  #cancel(task: WorkTask): void {
    const i = this.#queued.findIndex((job) => job.task === task);
    if (i < 0) return;
    const [job] = this.#queued.splice(i, 1);
    this.#finish(job, cancelled(job.signal), undefined, "cancelled");
    this.#wakeSpaceWaiters();
  }

  #idleRunner(): Runner | undefined {
    return this.#runners.find((runner) => runner.job === null && !runner.exited);
  }

  #dispatch(runner: Runner, job: Job): void {
    runner.job = job;
    this.#running++;
    setTaskState(job.task, "running");
    const message: JobMessage = [job.id, job.task.name, job.args];
    try {
      runner.thread.post(message, job.transfer);
    } catch (err) {
      // Arguments that cannot be cloned: the task fails, the thread is free again.
      runner.job = null;
      this.#running--;
      this.#finish(job, err instanceof Error ? err : new Error(String(err)), undefined, "done");
      this.#next(runner);
    }
  }

  #next(runner: Runner): void {
    const job = this.#queued.shift();
    if (job !== undefined) {
      this.#dispatch(runner, job);
      this.#wakeSpaceWaiters();
    }
  }

  #startRunner(): Runner {
    const data: WorkRunnerData = { moduleUrl: this.#moduleUrl };
    // The thread field is set right below, before any handler can run.
    const runner = { job: null, exited: false } as unknown as Runner;
    runner.thread = this.#platform.threads.start(RUNNER_URL, { data, name: "levent-work" }, {
      message: (value) => this.#onResult(runner, value as ResultMessage),
      error: (err) => this.#onRunnerExit(runner, err),
      exit: (code) => this.#onRunnerExit(runner, new Error(`the worker thread exited with code ${code}`)),
    });
    return runner;
  }

  #onResult(runner: Runner, [id, kind, payload]: ResultMessage): void {
    if (this.#state === "closed") return;
    if (kind === LOAD_FAILED) {
      this.#fail(
        new ThreadError("ERR_WORKER_FAILED", `the work module ${this.#moduleUrl} could not be loaded`, {
          cause: deserializeError(payload),
        }),
      );
      return;
    }
    const job = runner.job;
    if (job === null || job.id !== id) return;
    runner.job = null;
    this.#running--;
    if (kind === RESULT_OK) {
      this.#finish(job, null, payload, "done");
    } else {
      const err = deserializeError(payload);
      this.#finish(
        job,
        err.code === "ERR_NO_SUCH_FUNCTION" ? new ThreadError("ERR_NO_SUCH_FUNCTION", err.message) : err,
        undefined,
        "done",
      );
    }
    this.#next(runner);
  }

  /** A pool thread died: its job fails, and a new thread takes its place. */
  #onRunnerExit(runner: Runner, cause: Error): void {
    if (runner.exited || this.#state !== "open") return;
    runner.exited = true;
    const job = runner.job;
    runner.job = null;
    if (job !== null) {
      this.#running--;
      const err = new ThreadError("ERR_WORKER_FAILED", `the worker thread running ${job.task.name}() failed`, {
        cause,
      });
      this.#finish(job, err, undefined, "done");
    }
    void runner.thread.terminate();
    const i = this.#runners.indexOf(runner);
    const replacement = this.#startRunner();
    if (i >= 0) this.#runners[i] = replacement;
    this.#next(replacement);
  }

  /** The module cannot be loaded: every task fails, and so will every later run(). */
  #fail(error: ThreadError): void {
    if (this.#state !== "open") return;
    this.#state = "failed";
    this.#failure = error;
    for (const job of this.#queued.splice(0)) this.#finish(job, error, undefined, "done");
    for (const runner of this.#runners) {
      runner.exited = true;
      if (runner.job !== null) this.#finish(runner.job, error, undefined, "done");
      runner.job = null;
      void runner.thread.terminate();
    }
    this.#running = 0;
    this.#wakeSpaceWaiters();
  }

  /** End `job`: its callback runs as an event on the base. */
  #finish(job: Job, error: Error | null, result: unknown, state: WorkTaskState): void {
    if (job.onAbort !== undefined) job.signal?.removeEventListener("abort", job.onAbort);
    if (job.task.state !== "cancelled") setTaskState(job.task, state);
    this.#inbox.push(() => job.callback(error, error === null ? result : undefined));
  }

  #wakeSpaceWaiters(): void {
    if (this.full && this.#state === "open") return;
    for (const wake of this.#spaceWaiters.splice(0)) wake();
  }
}

/** The error of a task cancelled before it started. */
function cancelled(signal: AbortSignal | undefined): ThreadError {
  return new ThreadError("ERR_CANCELLED", "the task was cancelled before it started", {
    cause: signal?.aborted ? signal.reason : undefined,
  });
}
