/**
 * Readiness sources for events: libevent watches file descriptors; levent's
 * sockets push data, so {@linkcode PollableSocket} keeps what arrives and
 * reports readiness (READ / WRITE / CLOSED) the way a descriptor would.
 *
 * @module
 */
import { checkInteger } from "../check.ts";
import type { NetAddress, TcpSocket } from "../platform.ts";
import { EV_CLOSED, EV_READ, EV_WRITE } from "./flags.ts";

/** Called by a pollable with the readiness flags that just became true. */
export type PollListener = (ready: number) => void;

/**
 * Anything an {@linkcode Event} can watch for READ / WRITE / CLOSED, in
 * place of libevent's file descriptor.
 */
export interface Pollable {
  /** The readiness flags true right now (level-triggered view). */
  poll(): number;
  /** Start telling `listener` about new readiness. */
  watch(listener: PollListener): void;
  /** Stop telling `listener`. */
  unwatch(listener: PollListener): void;
}

/** Options for {@linkcode PollableSocket}. */
export interface PollableSocketOptions {
  /** Stop reading from the socket once this many bytes wait unread (default 256 KiB). */
  readonly readHighWater?: number;
}

const DEFAULT_READ_HIGH_WATER = 256 * 1024;

/**
 * A platform socket seen as a descriptor: incoming bytes wait in a queue
 * until {@linkcode PollableSocket.read} takes them; READ is ready while
 * bytes or EOF wait, WRITE unless the last write was refused and no drain
 * has come since, CLOSED once the peer has closed.
 *
 * @example
 * ```ts ignore
 * import { EV_PERSIST, EV_READ, Event, EventBase, PollableSocket } from "@levent/levent/event";
 * const sock = new PollableSocket(await base.platform.connect({ host: "127.0.0.1", port: 8080 }));
 * const ev = new Event(base, sock, EV_READ | EV_PERSIST, () => {
 *   const bytes = sock.read();
 *   if (bytes === null && sock.eof) ev.del();
 * });
 * ev.add();
 * ```
 */
export class PollableSocket implements Pollable {
  #socket: TcpSocket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #highWater: number;
  #paused = false;
  #blocked = false;
  #eof = false;
  #closed = false;
  #error: Error | undefined;
  #listeners: PollListener[] = [];

  /**
   * Wrap `socket` and start receiving from it.
   *
   * @throws {TypeError} if options.readHighWater is not a number
   * @throws {RangeError} if options.readHighWater is not an integer >= 1
   */
  constructor(socket: TcpSocket, options: PollableSocketOptions = {}) {
    const highWater = options.readHighWater ?? DEFAULT_READ_HIGH_WATER;
    checkInteger(highWater, "options.readHighWater", 1);
    this.#highWater = highWater;
    this.#socket = socket;
    socket.start({
      data: (bytes, owned) => {
        this.#queue.push(owned ? bytes : bytes.slice());
        this.#queued += bytes.length;
        if (this.#queued >= this.#highWater && !this.#paused) {
          this.#paused = true;
          socket.pause();
        }
        this.#notify(EV_READ);
      },
      end: () => {
        this.#eof = true;
        this.#notify(EV_READ | EV_CLOSED);
      },
      drain: () => {
        this.#blocked = false;
        this.#notify(EV_WRITE);
      },
      error: (err) => {
        this.#error = err;
      },
      close: () => {
        this.#closed = true;
        this.#eof = true;
        this.#notify(EV_READ | EV_CLOSED);
      },
    });
  }

  /** The platform socket underneath. */
  get socket(): TcpSocket {
    return this.#socket;
  }

  /** The peer's address. */
  get remoteAddress(): NetAddress {
    return this.#socket.remoteAddress;
  }

  /** True once the peer has sent EOF or the socket has closed. */
  get eof(): boolean {
    return this.#eof;
  }

  /** True once the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The error that closed the socket, if one did. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Bytes waiting to be read. */
  get readable(): number {
    return this.#queued;
  }

  /**
   * Take up to `max` waiting bytes (all of the first chunk by default).
   * Returns null when none wait: check {@linkcode PollableSocket.eof}.
   */
  read(max: number = Infinity): Uint8Array | null {
    const first = this.#queue[0];
    if (first === undefined) return null;
    let out = first;
    if (first.length > max) {
      out = first.subarray(0, max);
      this.#queue[0] = first.subarray(max);
    } else {
      this.#queue.shift();
    }
    this.#queued -= out.length;
    if (this.#paused && this.#queued < this.#highWater) {
      this.#paused = false;
      this.#socket.resume();
    }
    return out;
  }

  /** Send bytes; false means the send queue is over its mark (wait for WRITE). */
  write(bytes: Uint8Array): boolean {
    const ok = this.#socket.write(bytes);
    if (!ok) this.#blocked = true;
    return ok;
  }

  /** Half-close after queued bytes are sent. */
  end(): void {
    this.#socket.end();
  }

  /** Close at once. */
  close(): void {
    this.#socket.close();
  }

  /** {@inheritDoc Pollable.poll} */
  poll(): number {
    let ready = 0;
    if (this.#queued > 0 || this.#eof) ready |= EV_READ;
    if (!this.#closed && !this.#blocked) ready |= EV_WRITE;
    if (this.#eof) ready |= EV_CLOSED;
    return ready;
  }

  /** {@inheritDoc Pollable.watch} */
  watch(listener: PollListener): void {
    if (!this.#listeners.includes(listener)) this.#listeners.push(listener);
  }

  /** {@inheritDoc Pollable.unwatch} */
  unwatch(listener: PollListener): void {
    const i = this.#listeners.indexOf(listener);
    if (i >= 0) this.#listeners.splice(i, 1);
  }

  #notify(ready: number): void {
    for (const listener of this.#listeners.slice()) listener(ready);
  }
}
