/**
 * Threads on Deno and Bun: Web Workers (module workers) and the global
 * `MessageChannel`.
 *
 * A Web Worker drops a message that arrives before its module has set a
 * listener (its module graph may still be loading), and it has no initial
 * data and, on Deno, no exit event. So the two ends shake hands: the
 * worker's first `workerSelf()` call listens and posts READY; the parent
 * then sends INIT with the data and the thread id, then what was posted
 * meanwhile. Every later message is tagged (MSG, or EXIT with the code the
 * worker gave before closing itself).
 *
 * @module
 */
import type {
  MessageLink,
  PortHandle,
  Threads,
  Transferable,
  WorkerHandlers,
  WorkerSelf,
  WorkerStartOptions,
  WorkerThread,
} from "../src/platform.ts";
import { invalidArgument, moduleUrlOf } from "./thread_util.ts";

const READY = 0;
const INIT = 1;
const MSG = 2;
const EXIT = 3;

type Envelope =
  | readonly [typeof READY]
  | readonly [typeof INIT, unknown, number]
  | readonly [typeof MSG, unknown]
  | readonly [typeof EXIT, number];

/** The part of a Web Worker, a MessagePort or a worker's global scope used here. */
interface WebPort {
  postMessage(value: unknown, transfer?: Transferable[]): void;
  addEventListener(type: string, fn: (event: { data?: unknown }) => void): void;
}

interface WebWorker extends WebPort {
  terminate(): void;
}

interface WebMessagePort extends WebPort {
  start(): void;
  close(): void;
}

/** How a runtime ends a worker from inside it. */
export interface WebThreadsOptions {
  /** Whether this is the main thread. */
  readonly isMainThread: boolean;
  /**
   * End the worker this code runs in, after its EXIT message was posted:
   * `self.close()` on Deno, `process.exit(code)` on Bun (which tells the
   * parent's `close` event the code).
   */
  readonly exitSelf: (code: number) => void;
}

const g = globalThis as unknown as {
  Worker: new (url: string, options: { type: "module"; name?: string }) => WebWorker;
  MessageChannel: new () => { port1: WebMessagePort; port2: WebMessagePort };
  MessagePort: new () => WebMessagePort;
  postMessage(value: unknown, transfer?: Transferable[]): void;
  addEventListener(type: string, fn: (event: { data?: unknown }) => void): void;
};

/**
 * A message that must wait for the worker's READY still moves its
 * transferables at once, as the contract says: structuredClone moves them
 * into a copy (the sender's are left detached), and the copy's own
 * transferables, found by cloning the list along with the value, move again
 * when it is posted.
 */
function moveNow(value: unknown, transfer: readonly Transferable[] | undefined): [unknown, Transferable[] | undefined] {
  if (transfer === undefined || transfer.length === 0) return [value, undefined];
  const [moved, list] = structuredClone([value, [...transfer]], { transfer: [...transfer] as never[] });
  return [moved, list as Transferable[]];
}

/** Thread ids handed out by this thread: unique among the workers one thread starts. */
let nextThreadId = 1;

class WebWorkerThread implements WorkerThread {
  readonly threadId: number;
  readonly #worker: WebWorker;
  readonly #handlers: WorkerHandlers;
  /** Posts waiting for the worker's READY: [envelope, transfer]. */
  #waiting: [Envelope, Transferable[] | undefined][] | null = [];
  #state: "running" | "exited" | "closed" = "running";

  constructor(worker: WebWorker, threadId: number, options: WorkerStartOptions, handlers: WorkerHandlers) {
    this.#worker = worker;
    this.threadId = threadId;
    this.#handlers = handlers;
    const [data, transfer] = moveNow(options.data, options.transfer);
    this.#waiting!.push([[INIT, data, threadId], transfer]);
    worker.addEventListener("message", (event) => this.#onMessage(event.data as Envelope));
    worker.addEventListener("error", (event) => this.#onError(event as ErrorLike));
    // Bun's own event: the worker's thread ended, with its exit code.
    worker.addEventListener("close", (event) => this.#exited((event as { code?: number }).code ?? 0));
  }

  post(value: unknown, transfer?: readonly Transferable[]): void {
    if (this.#state !== "running") return;
    if (this.#waiting !== null) {
      const [moved, list] = moveNow(value, transfer);
      this.#waiting.push([[MSG, moved], list]);
    } else {
      this.#worker.postMessage([MSG, value], transfer && [...transfer]);
    }
  }

  terminate(): Promise<void> {
    if (this.#state === "running") {
      this.#worker.terminate();
      this.#exited(1);
    }
    return Promise.resolve();
  }

  close(): void {
    if (this.#state === "running") this.#state = "closed";
  }

  #onMessage(envelope: Envelope): void {
    if (this.#state !== "running" || !Array.isArray(envelope)) return;
    switch (envelope[0]) {
      case READY: {
        const waiting = this.#waiting ?? [];
        this.#waiting = null;
        for (const [message, transfer] of waiting) this.#worker.postMessage(message, transfer);
        break;
      }
      case MSG:
        this.#handlers.message(envelope[1]);
        break;
      case EXIT:
        this.#worker.terminate();
        this.#exited(envelope[1]);
        break;
    }
  }

  #onError(event: ErrorLike): void {
    // Unhandled, Deno would end the whole process with the worker's error.
    event.preventDefault?.();
    if (this.#state !== "running") return;
    const err = event.error instanceof Error ? event.error : new Error(event.message ?? "the worker failed");
    this.#handlers.error(err);
    // The worker is gone (Deno ends it, Bun's close event would follow): end it for sure, and say so once.
    this.#worker.terminate();
    this.#exited(1);
  }

  #exited(code: number): void {
    if (this.#state === "exited") return;
    const tell = this.#state === "running";
    this.#state = "exited";
    if (tell) this.#handlers.exit(code);
  }
}

interface ErrorLike {
  readonly message?: string;
  readonly error?: unknown;
  preventDefault?(): void;
}

class WebPortLink implements MessageLink {
  readonly #port: WebMessagePort;

  constructor(port: WebMessagePort, onMessage: (value: unknown) => void) {
    this.#port = port;
    port.addEventListener("message", (event) => onMessage(event.data));
    port.start();
  }

  post(value: unknown, transfer?: readonly Transferable[]): void {
    this.#port.postMessage(value, transfer && [...transfer]);
  }

  close(): void {
    this.#port.close();
  }
}

class WebWorkerSelf implements WorkerSelf {
  readonly data: unknown;
  readonly threadId: number;
  readonly #exitSelf: (code: number) => void;
  #handler: ((value: unknown) => void) | null = null;
  #early: unknown[] = [];
  #closed = false;

  constructor(data: unknown, threadId: number, exitSelf: (code: number) => void) {
    this.data = data;
    this.threadId = threadId;
    this.#exitSelf = exitSelf;
  }

  /** A MSG from the parent. */
  deliver(value: unknown): void {
    if (this.#closed) return;
    if (this.#handler === null) this.#early.push(value);
    else this.#handler(value);
  }

  setHandler(fn: (value: unknown) => void): void {
    this.#handler = fn;
    const early = this.#early;
    this.#early = [];
    for (const value of early) fn(value);
  }

  post(value: unknown, transfer?: readonly Transferable[]): void {
    if (!this.#closed) g.postMessage([MSG, value], transfer && [...transfer]);
  }

  close(): void {
    this.#closed = true;
  }

  exit(code: number): void {
    g.postMessage([EXIT, code]);
    this.#closed = true;
    this.#exitSelf(code);
  }
}

/** The threads of a runtime with Web Workers: Deno's and Bun's adapters. */
export function webThreads(options: WebThreadsOptions): Threads {
  let self: Promise<WebWorkerSelf | null> | undefined;
  return {
    isMainThread: options.isMainThread,
    start(moduleUrl: string | URL, startOptions: WorkerStartOptions, handlers: WorkerHandlers): WorkerThread {
      const url = moduleUrlOf(moduleUrl);
      let worker: WebWorker;
      try {
        worker = new g.Worker(url.href, { type: "module", name: startOptions.name });
      } catch (err) {
        throw invalidArgument(`cannot start a worker from ${url.href}`, err);
      }
      return new WebWorkerThread(worker, nextThreadId++, startOptions, handlers);
    },
    workerSelf(): Promise<WorkerSelf | null> {
      if (self !== undefined) return self;
      if (options.isMainThread) return self = Promise.resolve(null);
      return self = new Promise((resolve) => {
        let link: WebWorkerSelf | undefined;
        g.addEventListener("message", (event) => {
          const envelope = event.data as Envelope;
          if (!Array.isArray(envelope)) return;
          if (envelope[0] === INIT && link === undefined) {
            link = new WebWorkerSelf(envelope[1], envelope[2], options.exitSelf);
            resolve(link);
          } else if (envelope[0] === MSG) {
            link?.deliver(envelope[1]);
          }
        });
        g.postMessage([READY]);
      });
    },
    createPorts(): [PortHandle, PortHandle] {
      const { port1, port2 } = new g.MessageChannel();
      return [port1, port2];
    },
    openPort(port: PortHandle, onMessage: (value: unknown) => void): MessageLink {
      if (!(port instanceof g.MessagePort)) throw invalidArgument("not a MessagePort of this runtime");
      return new WebPortLink(port, onMessage);
    },
  };
}
