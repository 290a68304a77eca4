/**
 * Channel: messages from other threads, run as events on an EventBase
 * (libevent's `evthread_make_base_notifiable` and `event_active` called
 * from another thread).
 *
 * @module
 */
import { checkEventBase, checkFunction, checkInteger, checkObject } from "../check.ts";
import { adopt, disown, type EventBase } from "../event/event_base.ts";
import { getDefaultPlatform } from "../event/default_platform.ts";
import { EventError } from "../event/event_error.ts";
import type { MessageLink, Platform, PortHandle, Transferable } from "../platform.ts";
import { Inbox } from "./inbox.ts";
import { ThreadError } from "./thread_error.ts";

/** Called on the base's loop with each message, in the order they were posted. */
export type ChannelCallback<T = unknown> = (value: T, channel: Channel<T>) => void;

/** Options of {@linkcode Channel}. */
export interface ChannelOptions {
  /** The priority the callback runs at, 0 first (default: the base's middle one, as for any event). */
  readonly priority?: number;
}

/**
 * A wakeup channel into an EventBase from other threads. Each message
 * posted to its {@linkcode Channel.port} (from any thread, through a
 * {@linkcode ChannelSender}) runs the callback as an event on the base:
 * in the order they were posted, at the chosen priority, and never while
 * another of the base's callbacks runs. This is what libevent gets from
 * `evthread_use_pthreads()` plus `event_active()` on an event of a base
 * another thread dispatches; here the bytes travel by message port, and
 * nothing is shared between the threads.
 *
 * While open, the channel keeps the base's loop alive, as a pending event
 * does; {@linkcode Channel.close} lets it end.
 *
 * @example
 * ```ts ignore
 * import { EventBase } from "@levent/levent";
 * import { Channel, WorkerGroup } from "@levent/levent/thread";
 * const base = new EventBase();
 * const channel = new Channel<string>(base, (text) => console.log("from a worker:", text));
 * const group = WorkerGroup.start(new URL("./worker.ts", import.meta.url), { count: 1 });
 * group.send(0, { wakeups: channel.port }, [channel.port]);
 * // in worker.ts: new ChannelSender(port).post("hello");
 * await base.dispatch();
 * ```
 */
export class Channel<T = unknown> {
  /**
   * The sending end: move it to another thread (list it in the message's
   * transfer list) and wrap it there in a {@linkcode ChannelSender}. One
   * thread holds it at a time.
   */
  readonly port: PortHandle;
  readonly #base: EventBase;
  readonly #inbox: Inbox<T>;
  readonly #link: MessageLink;
  /** What the base's free() calls. */
  readonly #release = (): void => this.close();

  /**
   * Make a channel on `base` (libevent `event_new` on a notifiable base).
   *
   * @param base the loop the callback runs on
   * @param callback called with each message
   * @param options the callback's priority
   * @throws {TypeError} if base is not an EventBase, callback not a function, or options not an object
   * @throws {RangeError} if options.priority is not an integer in 0 .. base.priorities - 1
   * @throws {EventError} `ERR_NO_PLATFORM` when the base has no platform
   */
  constructor(base: EventBase, callback: ChannelCallback<T>, options: ChannelOptions = {}) {
    checkEventBase(base, "base");
    checkFunction(callback, "callback");
    checkObject(options, "options");
    const priority = options.priority === undefined
      ? undefined
      : checkInteger(options.priority, "options.priority", 0, base.priorities - 1);
    const threads = base.platform.threads;
    this.#base = base;
    this.#inbox = new Inbox<T>(base, (value) => callback(value, this), priority);
    const [mine, theirs] = threads.createPorts();
    this.port = theirs;
    this.#link = threads.openPort(mine, (value) => this.#inbox.push(value as T));
    this.#inbox.hold(true);
    adopt(base, this.#release);
  }

  /** The base the callback runs on. */
  get base(): EventBase {
    return this.#base;
  }

  /** True until {@linkcode Channel.close} (or the base's free). */
  get open(): boolean {
    return this.#inbox.open;
  }

  /**
   * Stop: messages still waiting are dropped, and the channel no longer
   * keeps the loop alive (libevent `event_free`). Freeing the base closes
   * it too. A second call does nothing.
   */
  close(): void {
    disown(this.#base, this.#release);
    this.#inbox.close();
    this.#link.close();
  }
}

/**
 * The sending end of a {@linkcode Channel}, in the thread that received
 * its port.
 *
 * @example
 * ```ts ignore
 * import { ChannelSender } from "@levent/levent/thread";
 * const sender = new ChannelSender<string>(port);
 * sender.post("done");
 * sender.close();
 * ```
 */
export class ChannelSender<T = unknown> {
  readonly #link: MessageLink;
  #open = true;

  /**
   * Wrap a channel's port received from another thread.
   *
   * @param port a {@linkcode Channel.port}
   * @param platform the platform whose threads made it (default: the registered default platform)
   * @throws {TypeError} if port is not a message port of this runtime
   * @throws {EventError} `ERR_NO_PLATFORM` when no platform is given or registered
   */
  constructor(port: PortHandle, platform: Platform | undefined = getDefaultPlatform()) {
    if (platform === undefined) {
      throw new EventError("ERR_NO_PLATFORM", "no platform: pass one, or import levent's mod.ts, which registers it");
    }
    // The link listens too (nothing comes this way): close() lets the thread end.
    this.#link = platform.threads.openPort(port, () => {});
  }

  /**
   * Post `value` (structured-cloned; what `transfer` lists moves) to the
   * channel's base, where it runs the callback as an event.
   *
   * @throws {ThreadError} `ERR_STOPPED` after close()
   * @throws {Error} (a DataCloneError) for a value that cannot be cloned
   */
  post(value: T, transfer?: readonly Transferable[]): void {
    if (!this.#open) throw new ThreadError("ERR_STOPPED", "post: the ChannelSender was closed");
    this.#link.post(value, transfer);
  }

  /** Close this end; the thread no longer stays alive for it. A second call does nothing. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#link.close();
  }
}
