/**
 * The Bun adapter: {@linkcode Platform} on Bun's native networking
 * (`Bun.listen`, `Bun.connect`, `Bun.udpSocket`), with `node:` modules for
 * files, signals, compression and system name lookup.
 *
 * Bun's `socket.write` is unbuffered: it returns how many bytes the kernel
 * took and drops the rest. This adapter keeps the unwritten tail in the
 * shared {@linkcode WriteQueue} and sends it when Bun reports the socket
 * writable again, so {@linkcode TcpSocket.write} accepts every byte. It
 * returns false from the contract's 64 KiB high-water mark on, and the
 * socket's `drain` handler fires once that queue has emptied.
 *
 * `startTls` upgrades with Bun's `socket.upgradeTLS` where it can, and
 * otherwise runs `node:tls` over the socket's bytes (see
 * {@linkcode Platform.startTls}).
 *
 * The module touches the `Bun` global only when {@linkcode bunPlatform} is
 * called, so it can be imported (and type-checked) on any runtime.
 *
 * @example
 * ```ts
 * import { bunPlatform } from "@levent/levent/adapters/bun";
 * const platform = bunPlatform();
 * console.log(platform.name); // "bun"
 * ```
 *
 * @module
 */
import { isIP } from "node:net";
import process from "node:process";
import { setImmediate } from "node:timers";
import type {
  AcceptHandler,
  Clock,
  ConnectOptions,
  ListenOptions,
  LocalBind,
  LookupAddress,
  NetAddress,
  Platform,
  SignalName,
  SocketHandlers,
  TcpListener,
  TcpSocket,
  TimerHandle,
  TlsConnectOptions,
  TlsListenOptions,
  TlsUpgradeOptions,
  UdpBindOptions,
  UdpHandlers,
  UdpSocket,
} from "../src/platform.ts";
import {
  alreadyStarted,
  coded,
  type CodedError,
  codedError,
  ipAddress,
  isSignalName,
  nodeFileSystem,
  nodeLookup,
  reportUdpError,
  reusePortUnsupported,
  UDP_HIGH_WATER_MARK,
  udpDestinationError,
  udpTarget,
  unixAddress,
} from "./node_shared.ts";
import { WriteQueue, type WriteTarget } from "./write_queue.ts";
import { nodeCompression } from "./zlib.ts";
import { webThreads } from "./web_threads.ts";

// ---------------------------------------------------------------------------
// The slice of Bun's API this adapter uses, written out by hand: Deno type-checks
// this file too and knows nothing of the `Bun` global or of bun-types.

/** A Bun TCP/TLS/Unix socket; `data` is Bun's per-socket slot, holding our wrapper. */
interface RawSocket {
  data: BunTcpSocket | undefined;
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  shutdown(halfClose?: boolean): void;
  close(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  upgradeTLS(options: RawUpgradeOptions): [raw: RawSocket, tls: RawSocket];
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
}

interface RawHandlers {
  readonly binaryType: "uint8array";
  open(raw: RawSocket): void;
  data(raw: RawSocket, bytes: Uint8Array): void;
  drain(raw: RawSocket): void;
  end(raw: RawSocket): void;
  close(raw: RawSocket, err?: Error): void;
  error(raw: RawSocket, err: Error): void;
  handshake?(raw: RawSocket, success: boolean, authorizationError: Error | null): void;
}

interface RawTlsOptions {
  cert?: string;
  key?: string;
  ca?: string[];
  serverName?: string;
  rejectUnauthorized?: boolean;
  ALPNProtocols?: Uint8Array;
}

interface RawUpgradeOptions {
  data: BunTcpSocket;
  tls: RawTlsOptions;
  socket: RawHandlers;
}

interface RawSocketOptions {
  hostname?: string;
  port?: number;
  unix?: string;
  tls?: RawTlsOptions;
  reusePort?: boolean;
  localAddress?: string;
  localPort?: number;
  allowHalfOpen: boolean;
  data?: BunTcpSocket;
  socket: RawHandlers;
}

interface RawListener {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface RawUdpHandlers {
  data(raw: RawUdp, bytes: Uint8Array, port: number, address: string): void;
  drain(raw: RawUdp): void;
  error(raw: RawUdp, err: Error): void;
}

interface RawUdp {
  readonly port: number;
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
}

interface BunApi {
  listen(options: RawSocketOptions): RawListener;
  connect(options: RawSocketOptions): Promise<RawSocket>;
  udpSocket(
    options: { hostname: string; port: number; binaryType: "uint8array"; socket: RawUdpHandlers },
  ): Promise<RawUdp>;
  /** False in a Web Worker. */
  readonly isMainThread: boolean;
}

// ---------------------------------------------------------------------------

/** Bun.connect's local-bind options, present only when asked for. */
function localBind(options: LocalBind & { host: string }): { localAddress?: string; localPort?: number } {
  if (options.localAddress === undefined && options.localPort === undefined) return {};
  // A port alone binds the wildcard address of the destination's family, as node:net does.
  const wildcard = options.host.includes(":") ? "::" : "0.0.0.0";
  return { localAddress: options.localAddress ?? wildcard, localPort: options.localPort ?? 0 };
}

/**
 * Bun 1.4.5 hands `data` a fresh buffer per call, but does not document that
 * it will keep doing so: lend the bytes, so consumers copy what they keep.
 */
const DATA_OWNED = false;

/**
 * An exception from a user handler must not reach Bun, which would pass it to
 * the socket's `error` handler as if the connection had failed. Rethrow it
 * outside the I/O callback instead, where it is uncaught as on Node.
 */
function throwLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/** A TLS failure as a coded Error: network codes stay, the rest become ETLS with the original as cause. */
function tlsError(err: unknown): CodedError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" || code === "ECONNREFUSED") {
    return coded(err, "ETLS");
  }
  const message = err instanceof Error ? err.message : String(err ?? "TLS handshake failed");
  const e = new Error(`TLS: ${typeof code === "string" ? `${code}: ` : ""}${message}`, { cause: err }) as CodedError;
  e.code = "ETLS";
  return e;
}

/** A socket's write target (set in BunTcpSocket's static block). */
let writeTargetOf!: (s: BunTcpSocket) => WriteTarget;

/** A socket wrapping one Bun socket: queues what Bun does not take, holds what the owner is not ready for. */
class BunTcpSocket implements TcpSocket {
  #raw: RawSocket | undefined;
  /** The Unix socket path, or undefined for TCP. */
  readonly #path: string | undefined;
  /** Accepted (server side) rather than connected. */
  readonly #accepted: boolean;
  #remote: NetAddress | undefined;
  #local: NetAddress | undefined;

  #h: SocketHandlers | undefined;
  /** Started, not paused, nothing held and not closed: Bun's bytes go straight to the owner. */
  #flowing = false;
  #paused = false;
  /** Copies of bytes that arrived while the owner could not take them. */
  #held: Uint8Array[] | undefined;
  #peerEnded = false;
  #endReported = false;
  /** The owner called end(): no TLS can start over this connection any more. */
  #ended = false;
  /** close() was called: nothing more is reported but the close itself. */
  #userClosed = false;
  /** Bun reported the socket closed. */
  #rawClosed = false;
  #closeErr: Error | undefined;
  #closeReported = false;
  /** Set while a TLS client waits for its handshake; connectTls settles through it. */
  #handshake: { resolve(s: BunTcpSocket): void; reject(err: Error): void } | undefined;
  readonly #out: WriteQueue;

  constructor(raw: RawSocket | undefined, path: string | undefined, accepted: boolean) {
    this.#raw = raw;
    this.#path = path;
    this.#accepted = accepted;
    this.#out = new WriteQueue(writeTargetOf(this), { deferred: false });
  }

  // Addresses are read on first use rather than per connection: each read crosses
  // into native code, and Bun forgets them once the socket closes.
  get remoteAddress(): NetAddress {
    return (this.#remote ??= this.#address(true));
  }

  get localAddress(): NetAddress {
    return (this.#local ??= this.#address(false));
  }

  #address(remote: boolean): NetAddress {
    if (this.#path !== undefined) return unixAddress(remote === this.#accepted ? "" : this.#path);
    const raw = this.#raw;
    const host = remote ? raw?.remoteAddress : raw?.localAddress;
    const port = remote ? raw?.remotePort : raw?.localPort;
    return ipAddress("tcp", host ?? "", port ?? 0);
  }

  get bufferedAmount(): number {
    return this.#out.bufferedAmount;
  }

  start(handlers: SocketHandlers): void {
    if (this.#h !== undefined) throw alreadyStarted();
    this.#h = handlers;
    if (this.#userClosed) this.#reportClose();
    else this.#deliver();
  }

  write(bytes: Uint8Array): boolean {
    if (this.#rawClosed) return false;
    return this.#out.write(bytes);
  }

  end(): void {
    if (this.#userClosed || this.#rawClosed) return;
    this.#ended = true;
    this.#out.end();
  }

  close(): void {
    // Dropping queued bytes and then sending FIN would let the peer take a
    // truncated stream for a complete one: with bytes still queued, a TCP
    // close resets the connection instead.
    this.#closeNow(this.#out.bufferedAmount > 0 && this.#path === undefined);
  }

  reset(): void {
    this.#closeNow(true);
  }

  /** close() and reset(): `abort` terminates (RST) instead of closing (FIN). */
  #closeNow(abort: boolean): void {
    if (this.#userClosed || this.#closeReported) return;
    this.#userClosed = true;
    this.#flowing = false;
    this.#held = undefined;
    this.#closeErr = undefined;
    this.#out.close();
    const raw = this.#raw;
    // Bun runs the close callback inside close()/terminate(); it sees #userClosed and stays quiet.
    if (raw !== undefined && !this.#rawClosed) {
      if (abort) raw.terminate();
      else raw.close();
    }
    // Report from a microtask, as Node does, so the owner is not re-entered from its own close().
    queueMicrotask(() => {
      if (this.#h !== undefined) this.#reportClose();
    });
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#flowing = false;
    if (this.#raw !== undefined && !this.#rawClosed && !this.#userClosed) this.#raw.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#raw !== undefined && !this.#rawClosed && !this.#userClosed) this.#raw.resume();
    this.#deliver();
  }

  setNoDelay(noDelay: boolean): void {
    if (this.#path === undefined && this.#raw !== undefined && !this.#rawClosed && !this.#userClosed) {
      this.#raw.setNoDelay(noDelay);
    }
  }

  /** Catch the owner up on whatever waited: held bytes, then EOF, then error and close. */
  #deliver(): void {
    const h = this.#h;
    if (h === undefined || this.#closeReported || this.#userClosed) return;
    const held = this.#held;
    if (held !== undefined) {
      while (held.length > 0) {
        if (this.#paused) return;
        h.data(held.shift() as Uint8Array, true);
        if (this.#closeReported || this.#userClosed) return;
      }
      this.#held = undefined;
    }
    const endDue = this.#peerEnded && !this.#endReported;
    // While paused only a dead socket with nothing left to read gets through.
    if (this.#paused && (endDue || !this.#rawClosed)) return;
    if (endDue) {
      this.#endReported = true;
      h.end();
      if (this.#closeReported || this.#userClosed) return;
    }
    if (this.#rawClosed) this.#reportClose();
    else this.#flowing = !this.#paused;
  }

  #reportClose(): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    this.#flowing = false;
    const h = this.#h as SocketHandlers;
    const err = this.#closeErr;
    this.#closeErr = undefined;
    if (err !== undefined) h.error(err);
    h.close();
  }

  /**
   * What the write queue sends through: Bun's write and shutdown, and the
   * owner's drain and finish. One object per socket, its methods on a shared
   * prototype (made in the static block, where they can reach the socket's
   * private fields), so a socket carries no closures for it.
   */
  static {
    class Target implements WriteTarget {
      readonly s: BunTcpSocket;
      constructor(s: BunTcpSocket) {
        this.s = s;
      }
      send(chunk: Uint8Array, offset: number): number {
        return (this.s.#raw as RawSocket).write(chunk, offset, chunk.length - offset);
      }
      shutdown(done: () => void): void {
        // Bun may report the close from inside shutdown() (the peer had ended): `finish` is queued
        // first so that it comes before that close.
        queueMicrotask(done);
        (this.s.#raw as RawSocket).shutdown();
      }
      drain(): void {
        const h = this.s.#h;
        if (h === undefined) return;
        try {
          h.drain();
        } catch (err) {
          throwLater(err);
        }
      }
      finish(): void {
        const s = this.s;
        const h = s.#h;
        if (h === undefined || s.#userClosed || s.#closeReported || s.#closeErr !== undefined) return;
        try {
          h.finish?.();
        } catch (err) {
          throwLater(err);
        }
      }
      fail(err: unknown): void {
        const s = this.s;
        s.#closeErr ??= coded(err, "EPIPE");
        if (s.#raw !== undefined && !s.#rawClosed) s.#raw.close();
      }
    }
    writeTargetOf = (s) => new Target(s);
  }

  // --- Bun's callbacks. They are shared by every socket of a listener (or of all
  // clients), find their wrapper in Bun's per-socket `data` slot, and never let an
  // owner's exception reach Bun.

  static onOpen(raw: RawSocket): void {
    const s = raw.data;
    if (s !== undefined) s.#raw = raw;
  }

  static onData(raw: RawSocket, bytes: Uint8Array): void {
    const s = raw.data as BunTcpSocket;
    if (s.#flowing) {
      try {
        (s.#h as SocketHandlers).data(bytes, DATA_OWNED);
      } catch (err) {
        throwLater(err);
      }
    } else if (!s.#userClosed && !s.#closeReported) {
      // The bytes are only lent to us, and the owner is not ready for them.
      (s.#held ??= []).push(bytes.slice());
    }
  }

  static onDrain(raw: RawSocket): void {
    const s = raw.data;
    if (s === undefined || s.#userClosed || s.#rawClosed) return;
    s.#out.writable();
  }

  static onEnd(raw: RawSocket): void {
    const s = raw.data;
    if (s === undefined) return;
    s.#peerEnded = true;
    try {
      s.#deliver();
    } catch (err) {
      throwLater(err);
    }
  }

  static onClose(raw: RawSocket, err?: Error): void {
    const s = raw.data;
    if (s === undefined || s.#rawClosed) return;
    s.#rawClosed = true;
    s.#flowing = false;
    // FIN went out only if end() was called and the queue had emptied; then the queue keeps its
    // state, so that `finish`, already on its way, is still told.
    const finSent = s.#out.finSent;
    if (!finSent) s.#out.close();
    const pending = s.#handshake;
    if (pending !== undefined) {
      s.#handshake = undefined;
      s.#userClosed = true;
      pending.reject(
        err !== undefined ? tlsError(err) : codedError("the connection closed during the TLS handshake", "ECONNRESET"),
      );
      return;
    }
    if (s.#userClosed) return;
    if (err !== undefined) s.#closeErr ??= coded(err, "ECONNRESET");
    // With allowHalfOpen Bun keeps a socket open after the peer's FIN, so a
    // close before ours went out is a failure Bun did not name: a write to a
    // peer that had gone (after its FIN) makes it close without an error.
    else if (!finSent) s.#closeErr ??= codedError("the connection was closed by the peer", "ECONNRESET");
    // A clean close means both sides sent FIN. Bun reports the peer's FIN
    // through `end` only when it arrives first, so supply the missing one.
    else if (s.#closeErr === undefined) s.#peerEnded = true;
    // Bun may close inside our own calls (shutdown() after the peer's FIN, a
    // failed write); report from a microtask so the owner is never re-entered.
    // Nothing more arrives from a closed socket, so the order of events holds.
    queueMicrotask(() => s.#deliver());
  }

  /** Bun's own failures only (TLS records, alerts): owner exceptions never get here. */
  static onError(raw: RawSocket, err: Error): void {
    const s = raw.data;
    if (s === undefined) return;
    const pending = s.#handshake;
    if (pending !== undefined) {
      s.#handshake = undefined;
      s.#userClosed = true;
      pending.reject(tlsError(err));
      if (!s.#rawClosed) raw.close();
      return;
    }
    if (s.#userClosed || s.#closeReported) return;
    s.#closeErr ??= tlsError(err);
    // The close callback (now, or already pending) reports the error.
    if (!s.#rawClosed) raw.close();
  }

  static onClientHandshake(raw: RawSocket, success: boolean, authorizationError: Error | null): void {
    const s = raw.data;
    if (s === undefined) return;
    const pending = s.#handshake;
    if (pending === undefined) return;
    s.#handshake = undefined;
    if (success) {
      s.#raw = raw;
      pending.resolve(s);
      return;
    }
    s.#userClosed = true;
    pending.reject(tlsError(authorizationError ?? new Error("the server certificate was not trusted")));
    if (!s.#rawClosed) raw.close();
  }

  /**
   * A TLS connection whose `connectTls` or `startTls` promise waits for the
   * handshake; one started over `plain` reports its addresses.
   */
  static forHandshake(
    resolve: (s: BunTcpSocket) => void,
    reject: (err: Error) => void,
    plain?: BunTcpSocket,
  ): BunTcpSocket {
    const s = new BunTcpSocket(undefined, undefined, false);
    s.#handshake = { resolve, reject };
    if (plain !== undefined) {
      s.#remote = plain.remoteAddress;
      s.#local = plain.localAddress;
    }
    return s;
  }

  /** For startTls: why this connection can no longer carry TLS, or undefined when it can. */
  upgradeRefusal(): CodedError | undefined {
    if (this.#userClosed || this.#rawClosed || this.#ended || this.#raw === undefined) {
      return codedError("startTls: the socket was closed or ended by its owner", "EINVAL");
    }
    if (this.#peerEnded) return codedError("startTls: the peer had already ended the connection", "ECONNRESET");
    return undefined;
  }

  /**
   * For `upgradeTLS`: take the Bun socket out of this wrapper, paused, when
   * Bun can upgrade it: in the role it was made for (Bun takes the role
   * from the socket), with no bytes held (it takes none read ahead) and
   * none queued (they must go out before the handshake). The wrapper is
   * closed without closing the connection and ignores the socket's events
   * from then on (Bun still reports the encrypted bytes to it).
   */
  takeForUpgrade(role: "client" | "server"): RawSocket | undefined {
    const raw = this.#raw;
    if (raw === undefined || (role === "server") !== this.#accepted) return undefined;
    if ((this.#held !== undefined && this.#held.length > 0) || this.#out.bufferedAmount > 0) return undefined;
    this.#userClosed = true;
    this.#flowing = false;
    this.#out.close();
    raw.pause();
    return raw;
  }

  /**
   * For `node:tls` over this socket: forget the owner, so that the TLS
   * layer can start the socket again. It stays paused, holding what
   * arrives for the new owner.
   */
  handOver(): void {
    this.pause();
    this.#h = undefined;
  }

  /** Settle a waiting handshake when Bun refused to upgrade. */
  static upgradeFailed(s: BunTcpSocket, err: unknown): void {
    const pending = s.#handshake;
    if (pending === undefined) return;
    s.#handshake = undefined;
    pending.reject(tlsError(err));
  }

  /** Settle a waiting handshake when Bun could not even connect. */
  static connectFailed(s: BunTcpSocket, err: unknown): void {
    const pending = s.#handshake;
    if (pending === undefined) return;
    s.#handshake = undefined;
    pending.reject(coded(err, "ECONNREFUSED"));
  }
}

/** What a system error code means, for the messages Bun leaves bare. */
const REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  EACCES: "permission denied",
  ECONNREFUSED: "connection refused",
  ENOENT: "no such file or directory",
  ETIMEDOUT: "timed out",
};

/**
 * A failed listen or connect as a coded Error whose message says what
 * failed, where and why, as Node's do (`listen EADDRINUSE: address already
 * in use 127.0.0.1:8080`): Bun's own says `Failed to listen at 127.0.0.1`
 * or `Failed to connect`, with no port and no reason. Bun's error is the
 * cause. An error that is no system call's failure (a bad certificate) is
 * only coded.
 */
function placed(err: unknown, syscall: "listen" | "connect", host: string, port: number | null): CodedError {
  const e = coded(err, syscall === "listen" ? "EADDRINUSE" : "ECONNREFUSED");
  if (typeof (err as { syscall?: unknown } | null)?.syscall !== "string") return e;
  const where = port === null ? host : `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const out = new Error(`${syscall} ${e.code}: ${REASONS[e.code] ?? e.message} ${where}`, { cause: err });
  return Object.assign(out, { code: e.code, syscall, address: host, port: port ?? undefined });
}

function baseHandlers(open: (raw: RawSocket) => void): RawHandlers {
  return {
    binaryType: "uint8array",
    open,
    data: BunTcpSocket.onData,
    drain: BunTcpSocket.onDrain,
    end: BunTcpSocket.onEnd,
    close: BunTcpSocket.onClose,
    error: BunTcpSocket.onError,
  };
}

/** One handler set for every client socket: the wrapper rides in on `data`. */
let clientHandlers: RawHandlers | undefined;
let tlsClientHandlers: RawHandlers | undefined;

function acceptHandlers(path: string | undefined, onAccept: AcceptHandler, tls: boolean): RawHandlers {
  if (!tls) {
    return baseHandlers((raw) => {
      const s = new BunTcpSocket(raw, path, true);
      raw.data = s;
      try {
        onAccept(s);
      } catch (err) {
        throwLater(err);
      }
    });
  }
  // A TLS socket is handed out only once its handshake succeeded, as Node's
  // 'secureConnection' does; one that fails closes unseen.
  const handlers = baseHandlers((raw) => {
    raw.data = new BunTcpSocket(raw, path, true);
  });
  handlers.handshake = (raw, success) => {
    const s = raw.data;
    if (s === undefined || !success) return;
    try {
      onAccept(s);
    } catch (err) {
      throwLater(err);
    }
  };
  return handlers;
}

class BunListener implements TcpListener {
  readonly address: NetAddress;
  #raw: RawListener;
  #closed = false;

  constructor(raw: RawListener, address: NetAddress) {
    this.#raw = raw;
    this.address = address;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#raw.stop(false);
    }
    return Promise.resolve();
  }
}

/** A datagram Bun refused for want of buffer space, waiting for drain. */
interface PendingDatagram {
  bytes: Uint8Array;
  host: string;
  port: number;
}

/**
 * Bun.udpSocket behind the UdpSocket contract. Bun's send() is synchronous
 * already; it answers false when the kernel's buffer is full, and those
 * datagrams wait here, in order, until Bun's drain.
 */
class BunUdpSocket implements UdpSocket {
  readonly address: NetAddress;
  #raw: RawUdp;
  #handlers: UdpHandlers;
  #closed = false;
  #owesDrain = false;
  #pending: PendingDatagram[] = [];
  #pendingBytes = 0;

  constructor(raw: RawUdp, address: NetAddress, handlers: UdpHandlers) {
    this.#raw = raw;
    this.address = address;
    this.#handlers = handlers;
  }

  get bufferedAmount(): number {
    return this.#pendingBytes;
  }

  send(bytes: Uint8Array, host: string, port: number): boolean {
    if (this.#closed) {
      reportUdpError(this.#handlers, codedError("the UDP socket is closed", "EBADF"), udpTarget(host, port));
      return false;
    }
    const bad = udpDestinationError(this.address.family, host, port);
    if (bad !== undefined) {
      reportUdpError(this.#handlers, bad, udpTarget(host, port));
    } else if (this.#pending.length === 0 && this.#trySend(bytes, host, port)) {
      return true;
    } else {
      this.#pending.push({ bytes, host, port });
      this.#pendingBytes += bytes.length;
    }
    if (this.#pendingBytes < UDP_HIGH_WATER_MARK) return true;
    this.#owesDrain = true;
    return false;
  }

  /** Hand one datagram to Bun: true when it took it or it failed (reported), false when the kernel's buffer is full. */
  #trySend(bytes: Uint8Array, host: string, port: number): boolean {
    try {
      return this.#raw.send(bytes, port, host);
    } catch (err) {
      reportUdpError(this.#handlers, coded(err, "EINVAL"), udpTarget(host, port));
      return true;
    }
  }

  /** Bun's drain: send what waits, in order, until the kernel refuses again. */
  flush(): void {
    const pending = this.#pending;
    let sent = 0;
    while (sent < pending.length && !this.#closed) {
      const d = pending[sent];
      if (!this.#trySend(d.bytes, d.host, d.port)) break;
      this.#pendingBytes -= d.bytes.length;
      sent++;
    }
    pending.splice(0, sent);
    if (pending.length === 0 && this.#owesDrain && !this.#closed) {
      this.#owesDrain = false;
      this.#handlers.drain?.();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.close();
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}

/** ALPN protocol names in TLS wire format: each prefixed by its length. */
function alpnWire(protocols: readonly string[] | undefined): Uint8Array | undefined {
  if (protocols === undefined || protocols.length === 0) return undefined;
  const names = protocols.map((p) => new TextEncoder().encode(p));
  const out = new Uint8Array(names.reduce((n, b) => n + 1 + b.length, 0));
  let at = 0;
  for (const b of names) {
    out[at++] = b.length;
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Bind to an IP: a host name is resolved first (as Node's listen does), so the bound address can be reported. */
async function bindHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const addrs: LookupAddress[] = await nodeLookup(host);
  if (addrs.length === 0) throw codedError(`no address for ${host}`, "ENOTFOUND");
  return addrs[0].address;
}

let defaultRoots: readonly string[] | undefined;

/** Bun's `ca` replaces the default roots; the contract's caCerts add to them. */
async function trustedRoots(extra: readonly string[]): Promise<string[]> {
  defaultRoots ??= (await import("node:tls")).rootCertificates;
  return [...defaultRoots, ...extra];
}

const clock: Clock = {
  now(): number {
    return performance.now();
  },
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    return setTimeout(fn, delayMs);
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};

function createBunPlatform(bun: BunApi): Platform {
  const clientHandlersFor = (tls: boolean): RawHandlers => {
    if (!tls) return (clientHandlers ??= baseHandlers(BunTcpSocket.onOpen));
    if (tlsClientHandlers === undefined) {
      tlsClientHandlers = baseHandlers(BunTcpSocket.onOpen);
      tlsClientHandlers.handshake = BunTcpSocket.onClientHandshake;
    }
    return tlsClientHandlers;
  };

  const listenOn = async (
    options: ListenOptions,
    onAccept: AcceptHandler,
    tls: RawTlsOptions | undefined,
  ): Promise<TcpListener> => {
    if (options.path !== undefined) {
      const socket = acceptHandlers(options.path, onAccept, tls !== undefined);
      try {
        const raw = bun.listen({ unix: options.path, tls, allowHalfOpen: true, socket });
        return new BunListener(raw, unixAddress(options.path));
      } catch (err) {
        throw placed(err, "listen", options.path, null);
      }
    }
    // Bun.listen sets SO_REUSEPORT on Linux only and ignores the option elsewhere.
    if (options.reusePort === true && process.platform !== "linux") {
      throw reusePortUnsupported(`Bun shares a port on Linux only, not on ${process.platform}`);
    }
    const host = await bindHost(options.host);
    const socket = acceptHandlers(undefined, onAccept, tls !== undefined);
    try {
      const raw = bun.listen({
        hostname: host,
        port: options.port,
        tls,
        reusePort: options.reusePort === true ? true : undefined,
        allowHalfOpen: true,
        socket,
      });
      return new BunListener(raw, ipAddress("tcp", host, raw.port));
    } catch (err) {
      throw placed(err, "listen", host, options.port);
    }
  };

  return {
    name: "bun",
    clock,
    fs: nodeFileSystem,
    compression: nodeCompression,

    yieldToIo(fn: () => void): void {
      setImmediate(fn);
    },

    async connect(options: ConnectOptions): Promise<TcpSocket> {
      const s = new BunTcpSocket(undefined, options.path, false);
      const target = options.path !== undefined
        ? { unix: options.path }
        : { hostname: options.host, port: options.port, ...localBind(options) };
      try {
        const raw = await bun.connect({ ...target, allowHalfOpen: true, data: s, socket: clientHandlersFor(false) });
        BunTcpSocket.onOpen(raw);
      } catch (err) {
        throw options.path !== undefined
          ? placed(err, "connect", options.path, null)
          : placed(err, "connect", options.host, options.port);
      }
      return s;
    },

    // Bun accepts inside its own loop and reports no accept failures, so a
    // listener's onError (the contract's third argument) is never called.
    listen(options: ListenOptions, onAccept: AcceptHandler): Promise<TcpListener> {
      return listenOn(options, onAccept, undefined);
    },

    async connectTls(options: TlsConnectOptions): Promise<TcpSocket> {
      const ca = options.caCerts !== undefined && options.caCerts.length > 0
        ? await trustedRoots(options.caCerts)
        : undefined;
      return new Promise<TcpSocket>((resolve, reject) => {
        const s = BunTcpSocket.forHandshake(resolve, reject);
        try {
          bun.connect({
            hostname: options.host,
            port: options.port,
            ...localBind(options),
            tls: {
              ca,
              serverName: options.serverName ?? options.host,
              rejectUnauthorized: true,
              ALPNProtocols: alpnWire(options.alpnProtocols),
            },
            allowHalfOpen: true,
            data: s,
            socket: clientHandlersFor(true),
          }).catch((err) => BunTcpSocket.connectFailed(s, err));
        } catch (err) {
          // Bad options throw before any promise exists.
          BunTcpSocket.connectFailed(s, err);
        }
      });
    },

    async startTls(socket: TcpSocket, options: TlsUpgradeOptions): Promise<TcpSocket> {
      if (!(socket instanceof BunTcpSocket)) {
        throw codedError("startTls: the socket was not made by this platform", "EINVAL");
      }
      const refusal = socket.upgradeRefusal();
      if (refusal !== undefined) throw refusal;
      const head = options.head;
      // Synchronously, so that from this call on the owner hears nothing more.
      const raw = head === undefined || head.length === 0 ? socket.takeForUpgrade(options.role) : undefined;
      if (raw === undefined) {
        socket.handOver();
        return (await import("./node_net.ts")).tlsOverSocket(socket, options);
      }
      const alpn = alpnWire(options.alpnProtocols);
      const tls: RawTlsOptions = options.role === "server"
        ? { cert: options.cert, key: options.key, ALPNProtocols: alpn }
        : {
          ca: options.caCerts !== undefined && options.caCerts.length > 0
            ? await trustedRoots(options.caCerts)
            : undefined,
          serverName: options.serverName ?? socket.remoteAddress.host,
          rejectUnauthorized: true,
          ALPNProtocols: alpn,
        };
      return new Promise<TcpSocket>((resolve, reject) => {
        const s = BunTcpSocket.forHandshake(resolve, reject, socket);
        try {
          const [, upgraded] = raw.upgradeTLS({ data: s, tls, socket: clientHandlersFor(true) });
          BunTcpSocket.onOpen(upgraded);
          upgraded.resume();
        } catch (err) {
          raw.close();
          BunTcpSocket.upgradeFailed(s, err);
        }
      });
    },

    listenTls(options: TlsListenOptions, onAccept: AcceptHandler): Promise<TcpListener> {
      return listenOn({ host: options.host, port: options.port }, onAccept, {
        cert: options.cert,
        key: options.key,
        ALPNProtocols: alpnWire(options.alpnProtocols),
      });
    },

    async bindUdp(options: UdpBindOptions, handlers: UdpHandlers): Promise<UdpSocket> {
      // The drain handler exists before the socket it serves.
      const bound: { udp?: BunUdpSocket } = {};
      const host = await bindHost(options.host);
      let raw: RawUdp;
      try {
        raw = await bun.udpSocket({
          hostname: host,
          port: options.port,
          binaryType: "uint8array",
          socket: {
            data(_raw: RawUdp, bytes: Uint8Array, port: number, address: string): void {
              try {
                // Bun gives every datagram its own buffer, so the bytes are the receiver's.
                handlers.message(bytes, ipAddress("udp", address, port));
              } catch (err) {
                throwLater(err);
              }
            },
            drain(): void {
              bound.udp?.flush();
            },
            // Asynchronous errors (ICMP unreachable on a connected socket) name no datagram.
            error(_raw: RawUdp, err: Error): void {
              if (bound.udp !== undefined) reportUdpError(handlers, coded(err, "EINVAL"), null);
            },
          },
        });
      } catch (err) {
        throw coded(err, "EINVAL");
      }
      bound.udp = new BunUdpSocket(raw, ipAddress("udp", host, raw.port), handlers);
      return bound.udp;
    },

    addSignalListener(signal: SignalName, fn: () => void): boolean {
      // Bun accepts any name (SIGKILL, misspellings) without a word, and those never arrive.
      if (!isSignalName(signal)) return false;
      // Windows delivers only console events; the others can be listened for but never arrive.
      if (process.platform === "win32" && signal !== "SIGINT" && signal !== "SIGHUP") return false;
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

    lookup(host: string, family?: 0 | 4 | 6): Promise<LookupAddress[]> {
      return nodeLookup(host, family);
    },

    threads: webThreads({
      isMainThread: bun.isMainThread,
      // In a worker, process.exit() ends the thread, and its parent's close event gets the code.
      exitSelf: (code: number) => process.exit(code),
    }),
  };
}

let cached: Platform | undefined;

/**
 * The platform for Bun, built on `Bun.listen`, `Bun.connect` and
 * `Bun.udpSocket`. Returns the same instance on every call.
 *
 * Sockets accept every byte written; `write` returns false once more than
 * 64 KiB are queued behind what the kernel took, and `drain` follows once
 * that queue has emptied. Bytes passed to `data` are lent (`owned` is false).
 *
 * @throws {Error} with code `"EINVAL"` when not running on Bun.
 */
export function bunPlatform(): Platform {
  if (cached !== undefined) return cached;
  const bun = (globalThis as unknown as { Bun?: BunApi }).Bun;
  if (bun === undefined) throw codedError("bunPlatform() needs the Bun runtime", "EINVAL");
  cached = createBunPlatform(bun);
  return cached;
}
