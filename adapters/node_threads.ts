/**
 * Threads on Node: `node:worker_threads`. The initial data travels as
 * `workerData`, messages over the worker's own port (a port buffers what
 * arrives before its first listener, so no handshake is needed), and Node
 * reports a worker's exit code and uncaught errors itself.
 *
 * @module
 */
import process from "node:process";
import {
  isMainThread,
  MessageChannel,
  MessagePort,
  parentPort,
  threadId,
  Worker,
  workerData,
  type WorkerOptions,
} from "node:worker_threads";
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
import { coded } from "./node_shared.ts";
import { invalidArgument, moduleUrlOf } from "./thread_util.ts";

/** The view of a Worker or MessagePort used to post: Node types the transfer list its own way. */
interface Poster {
  postMessage(value: unknown, transferList?: readonly unknown[]): void;
}

/** Post `value` through `target`, moving what `transfer` lists. */
function send(target: Worker | MessagePort, value: unknown, transfer: readonly Transferable[] | undefined): void {
  (target as unknown as Poster).postMessage(value, transfer);
}

/** The transfer list as node:worker_threads types it. */
function transferList(transfer: readonly Transferable[] | undefined): WorkerOptions["transferList"] {
  return transfer === undefined ? undefined : [...transfer] as unknown as WorkerOptions["transferList"];
}

class NodeWorkerThread implements WorkerThread {
  readonly threadId: number;
  readonly #worker: Worker;
  #closed = false;

  constructor(worker: Worker, handlers: WorkerHandlers) {
    this.#worker = worker;
    this.threadId = worker.threadId;
    worker.on("message", (value: unknown) => {
      if (!this.#closed) handlers.message(value);
    });
    worker.on("error", (err: Error) => {
      if (!this.#closed) handlers.error(err);
    });
    worker.on("exit", (code: number) => {
      if (!this.#closed) handlers.exit(code);
      this.#closed = true;
    });
  }

  post(value: unknown, transfer?: readonly Transferable[]): void {
    if (!this.#closed) send(this.#worker, value, transfer);
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  close(): void {
    this.#closed = true;
  }
}

class NodePortLink implements MessageLink {
  readonly #port: MessagePort;

  constructor(port: MessagePort, onMessage: (value: unknown) => void) {
    this.#port = port;
    port.on("message", onMessage);
  }

  post(value: unknown, transfer?: readonly Transferable[]): void {
    send(this.#port, value, transfer);
  }

  close(): void {
    this.#port.close();
  }
}

class NodeWorkerSelf implements WorkerSelf {
  readonly data: unknown;
  readonly threadId: number;
  readonly #port: MessagePort;
  #closed = false;

  constructor(port: MessagePort) {
    this.#port = port;
    this.data = workerData;
    this.threadId = threadId;
  }

  setHandler(fn: (value: unknown) => void): void {
    this.#port.on("message", fn);
  }

  post(value: unknown, transfer?: readonly Transferable[]): void {
    if (!this.#closed) send(this.#port, value, transfer);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.close();
  }

  exit(code: number): void {
    // In a worker, process.exit ends the thread only; what was posted is already in the parent's queue.
    process.exit(code);
  }
}

let self: NodeWorkerSelf | null | undefined;

/** The Node adapter's threads: `node:worker_threads`. */
export const nodeThreads: Threads = {
  isMainThread,
  start(moduleUrl: string | URL, options: WorkerStartOptions, handlers: WorkerHandlers): WorkerThread {
    const url = moduleUrlOf(moduleUrl);
    let worker: Worker;
    try {
      worker = new Worker(url, {
        workerData: options.data,
        transferList: transferList(options.transfer),
        name: options.name,
      });
    } catch (err) {
      throw coded(err, "EINVAL");
    }
    return new NodeWorkerThread(worker, handlers);
  },
  workerSelf(): Promise<WorkerSelf | null> {
    if (self === undefined) self = isMainThread || parentPort === null ? null : new NodeWorkerSelf(parentPort);
    return Promise.resolve(self);
  },
  createPorts(): [PortHandle, PortHandle] {
    const { port1, port2 } = new MessageChannel();
    return [port1, port2];
  },
  openPort(port: PortHandle, onMessage: (value: unknown) => void): MessageLink {
    if (!(port instanceof MessagePort)) {
      throw invalidArgument("not a MessagePort of this runtime");
    }
    return new NodePortLink(port, onMessage);
  },
};
