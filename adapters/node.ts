/**
 * The Node adapter: implements `src/platform.ts` with `node:net` (TCP and
 * Unix sockets) and `node:tls` (both in `node_net.ts`), Node's timers and
 * `performance.now()`, `process` signals and `node:fs/promises`. Name
 * lookup and UDP come from `node_shared.ts`, compression from `zlib.ts`.
 *
 * Runs on Node 20 and later; newer options (SO_REUSEPORT, the system CA
 * store) are used only where the running Node has them.
 *
 * @example
 * ```ts
 * import { nodePlatform } from "@levent/levent/adapters/node";
 * const platform = nodePlatform();
 * const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => socket.close());
 * console.log(listener.address.port);
 * await listener.close();
 * ```
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import process from "node:process";
import { setImmediate } from "node:timers";
import { isMainThread } from "node:worker_threads";
import type { Platform, SignalName, TimerHandle } from "../src/platform.ts";
import { isSignalName, nodeBindUdp, nodeFileSystem, nodeLookup } from "./node_shared.ts";
import { connectStream, connectTls, listenStream, listenTls, upgradeTls } from "./node_net.ts";
import { nodeCompression } from "./zlib.ts";
import { nodeThreads } from "./node_threads.ts";

/** Node's timers turn any delay above 2^31-1 ms into 1 ms; longer ones are re-armed in steps. */
const MAX_TIMER_DELAY = 0x7fffffff;

class LongTimer {
  readonly #fn: () => void;
  readonly #deadline: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(fn: () => void, delayMs: number) {
    this.#fn = fn;
    this.#deadline = performance.now() + delayMs;
    this.#arm();
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }

  #arm = (): void => {
    const left = this.#deadline - performance.now();
    if (left <= 0) this.#fn();
    else this.#timer = setTimeout(this.#arm, Math.min(left, MAX_TIMER_DELAY));
  };
}

/**
 * Whether this process can receive `signal`: only the contract's signal
 * names (Node throws EINVAL for SIGKILL and SIGSTOP, and takes other names
 * for plain events that never fire), never in a worker thread, and on
 * Windows only SIGINT and SIGHUP (SIGTERM can be listened for there but
 * never arrives).
 */
function canDeliver(signal: SignalName): boolean {
  if (!isSignalName(signal) || !isMainThread) return false;
  if (process.platform === "win32") return signal === "SIGINT" || signal === "SIGHUP";
  return true;
}

let platform: Platform | undefined;

/**
 * The Node adapter: TCP, Unix and TLS sockets from `node:net` and
 * `node:tls`, Node's timers, process signals, `node:fs/promises`, and the
 * shared `node:zlib`, `node:dns` and `node:dgram` pieces. Every call returns
 * the same instance.
 *
 * @example
 * ```ts
 * import { nodePlatform } from "@levent/levent/adapters/node";
 * const platform = nodePlatform();
 * platform.clock.setTimer(() => console.log("tick"), 10);
 * ```
 *
 * @returns The Platform for Node.
 */
export function nodePlatform(): Platform {
  platform ??= {
    name: "node",
    clock: {
      now: (): number => performance.now(),
      setTimer: (fn: () => void, delayMs: number): TimerHandle =>
        delayMs > MAX_TIMER_DELAY ? new LongTimer(fn, delayMs) : setTimeout(fn, delayMs),
      clearTimer(handle: TimerHandle): void {
        if (handle instanceof LongTimer) handle.cancel();
        else clearTimeout(handle as ReturnType<typeof setTimeout>);
      },
    },
    fs: nodeFileSystem,
    compression: nodeCompression,
    yieldToIo(fn: () => void): void {
      setImmediate(fn);
    },
    connect: connectStream,
    listen: listenStream,
    connectTls,
    listenTls,
    startTls: upgradeTls,
    bindUdp: nodeBindUdp,
    addSignalListener(signal: SignalName, fn: () => void): boolean {
      if (!canDeliver(signal)) return false;
      try {
        process.on(signal, fn);
        return true;
      } catch {
        return false;
      }
    },
    removeSignalListener(signal: SignalName, fn: () => void): void {
      if (isSignalName(signal)) process.off(signal, fn);
    },
    lookup: nodeLookup,
    threads: nodeThreads,
  };
  return platform;
}
