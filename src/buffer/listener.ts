/**
 * Listener: libevent's evconnlistener (listener.h). It binds through the
 * platform and hands each accepted socket to a callback that runs on the
 * EventBase's loop.
 *
 * @module
 */
import {
  checkCallback,
  checkCount,
  checkEventBase,
  checkFlag,
  checkNonEmptyString,
  checkObject,
  checkPort,
  checkString,
  typeError,
} from "../check.ts";
import { freedError, LeventError } from "../errors.ts";
import type { EventBase } from "../event/event_base.ts";
import { adopt, disown, Event } from "../event/event_base.ts";
import { EV_PERSIST, EV_TIMEOUT } from "../event/flags.ts";
import type { NetAddress, TcpListener, TcpSocket, TlsListenOptions } from "../platform.ts";

/**
 * Called on the loop with each accepted socket (libevent
 * `evconnlistener_cb(listener, fd, sockaddr, socklen, arg)`). The socket
 * delivers nothing until started, typically by `BufferEvent.socket()`.
 */
export type ListenerAcceptCallback<A = unknown> = (
  listener: Listener<A>,
  socket: TcpSocket,
  peer: NetAddress,
  arg: A,
) => void;

/** Called on the loop when accepting failed (libevent `evconnlistener_errorcb`). */
export type ListenerErrorCallback<A = unknown> = (listener: Listener<A>, error: Error, arg: A) => void;

/** Where and how a {@linkcode Listener} binds. */
export type ListenerTarget =
  | {
    /** The address to bind. */
    readonly host: string;
    /** The port, a number or a string of digits; 0 picks a free one (see {@linkcode Listener.address}). */
    readonly port: number | string;
    /** Accept queue length (libevent's `backlog` argument). */
    readonly backlog?: number;
    /**
     * Share the port with other listeners (SO_REUSEPORT, `LEV_OPT_REUSEABLE_PORT`),
     * plain TCP only. Where the runtime or system cannot, or with `tls`, bind()
     * rejects with a LeventError `ERR_NOT_SUPPORTED` naming what is missing.
     */
    readonly reusePort?: boolean;
    /** Serve TLS with this certificate and key (PEM): accepted sockets carry plaintext. */
    readonly tls?: { readonly cert: string; readonly key: string; readonly alpnProtocols?: readonly string[] };
    readonly path?: undefined;
  }
  | {
    /** A Unix socket path. */
    readonly path: string;
    /** Accept queue length. */
    readonly backlog?: number;
    readonly host?: undefined;
    readonly port?: undefined;
    readonly reusePort?: undefined;
    readonly tls?: undefined;
  };

/** Options for {@linkcode Listener.bind}. */
export interface ListenerOptions<A = unknown> {
  /** Start disabled: accepted connections wait until enable() (`LEV_OPT_DISABLED`). */
  readonly disabled?: boolean;
  /** Passed to the callbacks. */
  readonly arg?: A;
  /** Free the listener when this signal aborts; an aborted one makes bind() reject with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * Accepts connections and hands them to a callback on the loop: libevent's
 * `struct evconnlistener`. The listener owns its listening socket and closes
 * it on {@linkcode Listener.free} (libevent's `LEV_OPT_CLOSE_ON_FREE`).
 *
 * While disabled, accepted connections wait unstarted (no byte is read from
 * them) and are handed over in order once enabled, the way a disabled
 * libevent listener leaves them in the kernel's backlog.
 *
 * @example
 * ```ts ignore
 * import { EventBase } from "@levent/levent";
 * import { Listener } from "@levent/levent/buffer";
 * const base = new EventBase();
 * const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, (_l, socket) => {
 *   socket.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
 *   socket.write(new TextEncoder().encode("hello\n"));
 *   socket.end();
 * });
 * console.log(`listening on ${listener.address.port}`);
 * await base.dispatch();
 * ```
 */
export class Listener<A = unknown> {
  #base: EventBase;
  #platformListener: TcpListener | undefined;
  #accepted: TcpSocket[] = [];
  #errors: Error[] = [];
  #callback: ListenerAcceptCallback<A> | null;
  #errorCallback: ListenerErrorCallback<A> | null = null;
  #arg: A;
  #enabled: boolean;
  #freed = false;
  /** What free() returns, every time: the listening socket's close. */
  #closed: Promise<void> | undefined;
  #event: Event;
  /** What the base's free() and the abort signal call. */
  readonly #release = (): void => void this.free().catch(() => {});
  #signal: AbortSignal | undefined;

  private constructor(base: EventBase, callback: ListenerAcceptCallback<A> | null, options: ListenerOptions<A>) {
    this.#base = base;
    this.#callback = callback;
    this.#arg = options.arg as A;
    this.#enabled = options.disabled !== true;
    // Accept-readiness, as libevent's listener watches the listening descriptor.
    // Persistent (so a pending event keeps the loop alive) and without a
    // timeout; activated by hand when a connection or an error arrives.
    this.#event = new Event(base, null, EV_PERSIST, () => this.#deliver());
  }

  /**
   * Bind and start accepting (libevent `evconnlistener_new_bind`).
   *
   * @param base the loop the callbacks run on
   * @param target host and port (with optional TLS), or a Unix path
   * @param callback called with each accepted socket; null to set it later
   * @throws {TypeError} (as a rejection) if base, target, callback or options is not what it should be
   * @throws {RangeError} (as a rejection) if the port or backlog is out of range
   * @throws a coded platform Error (as a rejection), e.g. `EADDRINUSE`
   * @throws {LeventError} `ERR_FREED` (as a rejection) when the base is freed, before or during the bind; nothing is left listening
   * @throws the signal's reason (as a rejection) when `options.signal` aborts before the bind completes; nothing is left listening
   */
  static async bind<A = unknown>(
    base: EventBase,
    target: ListenerTarget,
    callback: ListenerAcceptCallback<A> | null,
    options: ListenerOptions<A> = {},
  ): Promise<Listener<A>> {
    checkEventBase(base, "base");
    checkCallback(callback, "callback");
    checkObject(target, "target");
    checkObject(options, "options");
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw typeError("options.signal", "an AbortSignal", signal);
    }
    if (target.backlog !== undefined) checkCount(target.backlog, "target.backlog");
    let port = 0;
    if (target.path !== undefined) {
      checkNonEmptyString(target.path, "target.path");
    } else {
      checkString(target.host, "target.host");
      port = checkPort(target.port, "target.port");
      if (checkFlag(target.reusePort, "target.reusePort") && target.tls !== undefined) {
        throw new LeventError(
          "ERR_NOT_SUPPORTED",
          "reusePort is not supported with tls: the platform's TLS listen does not share ports",
        );
      }
    }
    const listener = new Listener(base, callback, options);
    const onAccept = (socket: TcpSocket): void => listener.#onAccept(socket);
    const onError = (err: Error): void => listener.#onError(err);
    const platform = base.platform;
    signal?.throwIfAborted();
    // Made pending before anything listens, so a freed base (ERR_FREED) fails here with nothing to undo.
    listener.#event.add();
    let bound: TcpListener;
    try {
      if (target.path !== undefined) {
        bound = await platform.listen({ path: target.path, backlog: target.backlog }, onAccept, onError);
      } else if (target.tls !== undefined) {
        const tls: TlsListenOptions = { host: target.host, port, ...target.tls };
        bound = await platform.listenTls(tls, onAccept, onError);
      } else {
        bound = await platform.listen(
          { host: target.host, port, backlog: target.backlog, reusePort: target.reusePort },
          onAccept,
          onError,
        );
      }
    } catch (err) {
      listener.#freed = true;
      listener.#event.free();
      throw err;
    }
    listener.#platformListener = bound;
    try {
      // The base may have been freed, or the signal aborted, while the listen was under way: nothing may stay bound.
      listener.#event.add();
      signal?.throwIfAborted();
    } catch (err) {
      await listener.free();
      throw err;
    }
    adopt(base, listener.#release);
    if (signal !== undefined) {
      listener.#signal = signal;
      signal.addEventListener("abort", listener.#release, { once: true });
    }
    return listener;
  }

  /** The bound address, with the real port when 0 was asked for (`evconnlistener_get_fd` + getsockname). */
  get address(): NetAddress {
    return this.#platformListener!.address;
  }

  /** The loop the callbacks run on (`evconnlistener_get_base`). */
  get base(): EventBase {
    return this.#base;
  }

  /** True while accepted connections are handed to the callback. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** True once freed (by free(), its abort signal or its base's free()). */
  get freed(): boolean {
    return this.#freed;
  }

  /**
   * Replace the accept callback and its argument (`evconnlistener_set_cb`).
   *
   * @throws {TypeError} if callback is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the listener was freed
   */
  setCallback(callback: ListenerAcceptCallback<A> | null, arg?: A): void {
    this.#checkLive("setCallback");
    this.#callback = checkCallback(callback, "callback");
    if (arg !== undefined) this.#arg = arg;
    this.#kick();
  }

  /**
   * Set the callback for accept failures (`evconnlistener_set_error_cb`).
   *
   * @throws {TypeError} if callback is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the listener was freed
   */
  setErrorCallback(callback: ListenerErrorCallback<A> | null): void {
    this.#checkLive("setErrorCallback");
    this.#errorCallback = checkCallback(callback, "callback");
  }

  /**
   * Hand accepted connections to the callback again (`evconnlistener_enable`).
   *
   * @throws {LeventError} `ERR_FREED` once the listener was freed
   */
  enable(): void {
    this.#checkLive("enable");
    this.#enabled = true;
    this.#kick();
  }

  /**
   * Hold accepted connections instead of handing them over (`evconnlistener_disable`).
   *
   * @throws {LeventError} `ERR_FREED` once the listener was freed
   */
  disable(): void {
    this.#checkLive("disable");
    this.#enabled = false;
  }

  /**
   * Stop accepting and close the listening socket (`evconnlistener_free`).
   * Connections accepted but not yet handed over are closed. Its abort
   * signal and its base's free() call it too; calling it again closes
   * nothing more and returns the first call's Promise (settled once the
   * port is released), and the listener's other methods then throw
   * `ERR_FREED`.
   */
  free(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    if (this.#freed) return; // a bind that failed: nothing was left open
    this.#freed = true;
    disown(this.#base, this.#release);
    this.#signal?.removeEventListener("abort", this.#release);
    this.#signal = undefined;
    this.#event.free();
    for (const socket of this.#accepted.splice(0)) socket.close();
    await this.#platformListener?.close();
  }

  /** {@linkcode Listener.free}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.free();
  }

  #checkLive(op: string): void {
    if (this.#freed) throw freedError(op, "Listener");
  }

  #onAccept(socket: TcpSocket): void {
    if (this.#freed) {
      socket.close();
      return;
    }
    this.#accepted.push(socket);
    this.#kick();
  }

  #onError(err: Error): void {
    if (this.#freed) return;
    this.#errors.push(err);
    this.#event.active(EV_TIMEOUT);
  }

  #kick(): void {
    if (!this.#freed && this.#enabled && this.#callback !== null && this.#accepted.length > 0) {
      this.#event.active(EV_TIMEOUT);
    }
  }

  #deliver(): void {
    for (const err of this.#errors.splice(0)) this.#errorCallback?.(this, err, this.#arg);
    while (this.#enabled && !this.#freed && this.#callback !== null && this.#accepted.length > 0) {
      const socket = this.#accepted.shift()!;
      this.#callback(this, socket, socket.remoteAddress, this.#arg);
    }
  }
}
