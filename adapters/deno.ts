/**
 * The Deno adapter: {@linkcode Platform} over Deno's native APIs.
 *
 * - Stream sockets use `Deno.listen` / `Deno.connect` (TCP and Unix) and
 *   `Deno.listenTls` / `Deno.startTls` (TLS), read with a `conn.read(buf)`
 *   loop into one reused buffer per connection, so `data` lends its bytes.
 * - Writes go through the shared {@linkcode WriteQueue}, because
 *   `conn.write` may take only part of a buffer. Sending starts on a
 *   microtask, so the writes of one task go out together (small chunks are
 *   copied into one buffer and sent with a single op). `write()` returns
 *   false from the contract's 64 KiB high-water mark on; `drain` fires when
 *   the queue has emptied after such a false.
 * - `close` is delivered on a microtask after `close()`, never inside it.
 * - `reset()` cannot send RST: `Deno.Conn` offers no abortive close, so it
 *   closes at once like `close()`.
 * - After `end` (the peer's EOF) the socket stays half-open until the owner
 *   calls `end()` or `close()`; both directions finished means it closes.
 * - `setNoDelay` applies to plain TCP only: Deno's TLS connections expose no
 *   such switch.
 * - `startTls` upgrades with `Deno.startTls` a client TCP socket never
 *   started, and otherwise runs `node:tls` over the socket's bytes (see
 *   {@linkcode Platform.startTls}).
 * - Clock: `performance.now()` and `setTimeout`; `yieldToIo` uses
 *   `setImmediate`. Signals: `Deno.addSignalListener`. Files: `Deno.open`,
 *   `Deno.stat`, `Deno.readDir`, `Deno.realPath`.
 * - `node:` modules only where Deno has no API of its own: compression
 *   (`zlib.ts`, over `node:zlib`: Deno has no synchronous deflate), system
 *   name lookup and UDP (`node_shared.ts`: `node:dns` for getaddrinfo, as
 *   `Deno.resolveDns` skips the hosts file; `node:dgram`, as
 *   `Deno.listenDatagram` needs `--unstable-net`), and a client that binds
 *   its local address or port (`node_net.ts`, over `node:net` and
 *   `node:tls`: `Deno.connect` cannot bind), loaded only when one asks.
 *
 * @example
 * ```ts
 * import { denoPlatform } from "@levent/levent/adapters/deno";
 * const platform = denoPlatform();
 * const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
 *   socket.start({
 *     data: (bytes) => socket.write(bytes.slice()),
 *     end: () => socket.end(),
 *     drain: () => {},
 *     error: () => {},
 *     close: () => {},
 *   });
 * });
 * console.log(listener.address.port);
 * await listener.close();
 * ```
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type {
  AcceptErrorHandler,
  AcceptHandler,
  Clock,
  ConnectOptions,
  DirEntry,
  FileHandle,
  FileInfo,
  FileSystem,
  ListenOptions,
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
} from "../src/platform.ts";
import {
  alreadyStarted,
  coded,
  type CodedError,
  codedError,
  ipAddress,
  isSignalName,
  nodeBindUdp,
  nodeLookup,
  reusePortUnsupported,
  unixAddress,
} from "./node_shared.ts";
import { WriteQueue, type WriteTarget } from "./write_queue.ts";
import { nodeCompression } from "./zlib.ts";
import { webThreads } from "./web_threads.ts";
import { wholeBodyOf } from "./deno_response.ts";

/** First read buffer size: small, so that many idle connections stay cheap. */
const READ_SIZE_SMALL = 4 * 1024;
/** Read buffer size once a read filled the small one: bulk transfer. */
const READ_SIZE_LARGE = 64 * 1024;

const NO_HANDLERS: SocketHandlers = {
  data(): void {},
  end(): void {},
  drain(): void {},
  error(): void {},
  close(): void {},
};

/** A Deno connection of any stream kind this adapter opens. */
type StreamConn = Deno.Conn<Deno.Addr>;

function toAddress(addr: Deno.Addr, fallback?: NetAddress): NetAddress {
  if (addr.transport === "tcp" || addr.transport === "udp") return ipAddress(addr.transport, addr.hostname, addr.port);
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    // Unnamed (client-side) Unix sockets report no path; the listener's is the better answer.
    if (!addr.path && fallback) return fallback;
    return unixAddress(addr.path ?? "");
  }
  return fallback ?? unixAddress("");
}

/** A connected Deno stream (TCP, Unix or TLS) behind the push-style {@linkcode TcpSocket} contract. */
class DenoSocket implements TcpSocket {
  readonly #conn: StreamConn;
  readonly #localFallback: NetAddress | undefined;
  #remote: NetAddress | undefined;
  #local: NetAddress | undefined;
  #h: SocketHandlers = NO_HANDLERS;
  #started = false;
  /** No more I/O: closed by the owner, by a failure, or after both directions finished. */
  #closed = false;
  /** The `close` handler (and `error` before it) still has to be delivered. */
  #closeDue = false;
  #closeError: Error | undefined;

  // Reading.
  #buf: Uint8Array = new Uint8Array(READ_SIZE_SMALL);
  #paused = false;
  /** The read loop is running (a read is in flight or bytes are being delivered). */
  #reading = false;
  /** Bytes a read brought in after pause(), waiting in #buf for resume(); -1 for a held EOF. */
  #held = 0;
  /** EOF was delivered. */
  #eof = false;
  /** The owner called end(): no TLS can start over this connection any more. */
  #ended = false;

  readonly #out: WriteQueue;

  constructor(conn: StreamConn, localFallback?: NetAddress) {
    this.#conn = conn;
    this.#localFallback = localFallback;
    this.#out = new WriteQueue(this.#writeTarget(), { deferred: true });
  }

  get remoteAddress(): NetAddress {
    return this.#remote ??= this.#addr(true);
  }

  get localAddress(): NetAddress {
    return this.#local ??= this.#addr(false);
  }

  get bufferedAmount(): number {
    return this.#out.bufferedAmount;
  }

  #addr(remote: boolean): NetAddress {
    try {
      return toAddress(remote ? this.#conn.remoteAddr : this.#conn.localAddr, remote ? undefined : this.#localFallback);
    } catch {
      // The resource is gone (closed before anyone asked).
      return this.#localFallback ?? unixAddress("");
    }
  }

  start(handlers: SocketHandlers): void {
    if (this.#started) throw alreadyStarted();
    this.#h = handlers;
    this.#started = true;
    if (this.#closeDue) {
      queueMicrotask(() => this.#deliverClose());
      return;
    }
    // A socket handed over for TLS may have its first owner's read still under way.
    if (!this.#closed && !this.#paused && !this.#reading) void this.#readLoop();
  }

  write(bytes: Uint8Array): boolean {
    return this.#out.write(bytes);
  }

  end(): void {
    this.#ended = true;
    this.#out.end();
  }

  close(): void {
    if (this.#closed) return;
    this.#teardown();
    this.#closeDue = true;
    // Deliver `close` on a later turn so that the owner never re-enters its own close().
    if (this.#started) queueMicrotask(() => this.#deliverClose());
  }

  /**
   * `Deno.Conn` cannot send RST (no SO_LINGER, no abortive close), so this
   * closes at once like close(): the peer sees an end of stream, or a reset
   * if bytes it sent were still unread here.
   */
  reset(): void {
    this.close();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#started || this.#closed || this.#reading || this.#eof) return;
    void this.#readLoop();
  }

  setNoDelay(noDelay: boolean): void {
    const conn = this.#conn as Partial<Deno.TcpConn>;
    if (this.#closed || typeof conn.setNoDelay !== "function") return;
    try {
      conn.setNoDelay(noDelay);
    } catch {
      // Unix sockets and closed resources have no Nagle to switch.
    }
  }

  /** For startTls: why this connection can no longer carry TLS, or undefined when it can. */
  upgradeRefusal(): CodedError | undefined {
    if (this.#closed || this.#ended) {
      return codedError("startTls: the socket was closed or ended by its owner", "EINVAL");
    }
    if (this.#eof || this.#held < 0) {
      return codedError("startTls: the peer had already ended the connection", "ECONNRESET");
    }
    return undefined;
  }

  /**
   * For `Deno.startTls`: take the TCP connection out of this socket, which
   * is then closed without closing the connection. Only a socket never
   * started has no read under way (Deno refuses to upgrade a connection
   * with one), and only one with nothing queued sends its bytes before the
   * TLS handshake; undefined otherwise.
   */
  takeTcpConn(): Deno.TcpConn | undefined {
    const conn = this.#conn;
    if (this.#started || this.#out.bufferedAmount > 0 || this.upgradeRefusal() !== undefined) return undefined;
    // A TLS connection (TLS inside TLS) or a Unix socket cannot be upgraded by Deno.startTls.
    if ("handshake" in conn || this.localAddress.transport !== "tcp") return undefined;
    this.#closed = true;
    this.#out.close();
    return conn as Deno.TcpConn;
  }

  /**
   * For `node:tls` over this socket: forget the owner, so that the TLS
   * layer can start the socket again. It stays paused; a read under way
   * keeps its bytes for the new owner.
   */
  handOver(): void {
    this.#h = NO_HANDLERS;
    this.#started = false;
    this.#paused = true;
  }

  /** Stop all I/O; pending reads and writes are cancelled by Deno when the resource closes. */
  #teardown(): void {
    this.#closed = true;
    this.#out.close();
    try {
      this.#conn.close();
    } catch {
      // Already closed by Deno (for example after a failed handshake).
    }
  }

  #deliverClose(): void {
    if (!this.#closeDue) return;
    this.#closeDue = false;
    const err = this.#closeError;
    this.#closeError = undefined;
    if (err) {
      try {
        this.#h.error(err);
      } catch (e) {
        reportError(e);
      }
    }
    try {
      this.#h.close();
    } catch (e) {
      reportError(e);
    }
  }

  /** The connection broke: error, then close. */
  #fail(err: Error): void {
    if (this.#closed) return;
    this.#teardown();
    this.#closeDue = true;
    this.#closeError = err;
    if (this.#started) this.#deliverClose();
  }

  /** Both directions finished cleanly. */
  #finish(): void {
    if (this.#closed) return;
    this.#teardown();
    this.#closeDue = true;
    if (this.#started) this.#deliverClose();
  }

  async #readLoop(): Promise<void> {
    this.#reading = true;
    const conn = this.#conn;
    if (this.#held !== 0) {
      // Bytes read while paused: deliver them on a later turn, not inside resume().
      await undefined;
      if (this.#closed || this.#paused) {
        this.#reading = false;
        return;
      }
      const n = this.#held;
      this.#held = 0;
      if (n < 0) {
        this.#reading = false;
        this.#onEof();
        return;
      }
      this.#deliver(n);
      if (this.#closed || this.#paused) {
        this.#reading = false;
        return;
      }
    }
    for (;;) {
      const buf = this.#buf;
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        this.#reading = false;
        if (!this.#closed) this.#fail(coded(err, "ECONNRESET"));
        return;
      }
      if (this.#closed) {
        this.#reading = false;
        return;
      }
      if (n === null) {
        this.#reading = false;
        if (this.#paused) this.#held = -1;
        else this.#onEof();
        return;
      }
      if (this.#paused) {
        this.#held = n;
        this.#reading = false;
        return;
      }
      if (n === 0) continue;
      this.#deliver(n);
      if (n === buf.length && buf.length < READ_SIZE_LARGE) this.#buf = new Uint8Array(READ_SIZE_LARGE);
      if (this.#closed || this.#paused) {
        this.#reading = false;
        return;
      }
    }
  }

  #deliver(n: number): void {
    const buf = this.#buf;
    // Here and at every handler call: an owner's exception surfaces as an
    // uncaught error (reportError) instead of leaving this socket's flags stale.
    try {
      this.#h.data(n === buf.length ? buf : buf.subarray(0, n), false);
    } catch (e) {
      reportError(e);
    }
  }

  #onEof(): void {
    this.#eof = true;
    try {
      this.#h.end();
    } catch (e) {
      reportError(e);
    }
    if (this.#closed) return;
    // Half-open: the owner may still write; the socket closes once it ends too.
    if (this.#out.finished) this.#finish();
  }

  /** What the write queue sends through: conn.write and closeWrite, and the owner's drain and finish. */
  #writeTarget(): WriteTarget {
    return {
      send: (chunk: Uint8Array, offset: number): Promise<number> =>
        this.#conn.write(offset === 0 ? chunk : chunk.subarray(offset)),
      shutdown: (done: () => void): void => {
        this.#conn.closeWrite().then(done, (err) => {
          if (!this.#closed) this.#fail(coded(err, "EPIPE"));
        });
      },
      drain: (): void => {
        try {
          this.#h.drain();
        } catch (e) {
          reportError(e);
        }
      },
      finish: (): void => {
        if (this.#closed) return;
        try {
          this.#h.finish?.();
        } catch (e) {
          reportError(e);
        }
        // Both directions are done once the peer has ended too.
        if (this.#eof && !this.#closed) this.#finish();
      },
      fail: (err: unknown): void => {
        if (!this.#closed) this.#fail(coded(err, "EPIPE"));
      },
    };
  }
}

/** The accept loop over a Deno listener. */
class DenoListener implements TcpListener {
  readonly address: NetAddress;
  readonly #listener: Deno.Listener<StreamConn, Deno.Addr>;
  readonly #unixPath: string | undefined;
  readonly #loop: Promise<void>;
  #closed = false;

  constructor(
    listener: Deno.Listener<StreamConn, Deno.Addr>,
    onAccept: AcceptHandler,
    unixPath: string | undefined,
    onError: AcceptErrorHandler | undefined,
  ) {
    this.#listener = listener;
    this.#unixPath = unixPath;
    this.address = unixPath !== undefined ? unixAddress(unixPath) : toAddress(listener.addr);
    this.#loop = this.#acceptLoop(onAccept, onError);
  }

  async #acceptLoop(onAccept: AcceptHandler, onError: AcceptErrorHandler | undefined): Promise<void> {
    const listener = this.#listener;
    const local = this.#unixPath !== undefined ? this.address : undefined;
    for (;;) {
      let conn: StreamConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closed) return;
        const name = err instanceof Error ? err.name : "";
        if (name === "BadResource" || name === "Interrupted") return;
        try {
          onError?.(coded(err, "EINVAL"));
        } catch (e) {
          reportError(e);
        }
        // Out of descriptors or an aborted handshake: retrying at once would spin.
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (this.#closed) return;
        continue;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      try {
        onAccept(new DenoSocket(conn, local));
      } catch (e) {
        reportError(e);
      }
    }
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
    }
    await this.#loop;
    if (this.#unixPath !== undefined) {
      // Like node:net, release the path so the next listen() on it succeeds.
      await Deno.remove(this.#unixPath).catch(() => {});
    }
  }
}

/**
 * `reusePort` is an unstable option of Deno.listen: passing it without
 * `--unstable-net` exits the process. Without the flag, a listener that
 * shares its port goes through Deno's node:net, which sets SO_REUSEPORT
 * without asking for it.
 */
function unstableNet(): boolean {
  return typeof (Deno as unknown as { listenDatagram?: unknown }).listenDatagram === "function";
}

function listen(options: ListenOptions, onAccept: AcceptHandler, onError?: AcceptErrorHandler): Promise<TcpListener> {
  try {
    if (options.path !== undefined) {
      const listener = Deno.listen({ transport: "unix", path: options.path });
      return Promise.resolve(new DenoListener(listener, onAccept, options.path, onError));
    }
    const opts: Deno.TcpListenOptions & { transport: "tcp"; reusePort?: boolean } = {
      transport: "tcp",
      hostname: options.host,
      port: options.port,
    };
    if (options.backlog !== undefined) opts.tcpBacklog = options.backlog;
    if (options.reusePort === true) {
      if (Deno.build.os !== "linux") {
        return Promise.reject(reusePortUnsupported(`Deno shares a port on Linux only, not on ${Deno.build.os}`));
      }
      if (!unstableNet()) return nodeNet().then((net) => net.listenStream(options, onAccept, onError));
      opts.reusePort = true;
    }
    return Promise.resolve(new DenoListener(Deno.listen(opts), onAccept, undefined, onError));
  } catch (err) {
    return Promise.reject(coded(err, "EINVAL"));
  }
}

/**
 * Deno.connect cannot bind the local end, and Deno's node:net can: a
 * client that asks for a local address or port connects through
 * `node_net.ts`, loaded on its first use.
 */
function nodeNet(): Promise<typeof import("./node_net.ts")> {
  return import("./node_net.ts");
}

/**
 * Deno's node:net reports a local address that is not this host's as
 * `bind EINVAL` (Node and Bun say EADDRNOTAVAIL); the contract's code for
 * it is EADDRNOTAVAIL.
 */
function bindError(err: Error & { code?: unknown; syscall?: unknown }): never {
  if (err.code !== "EINVAL" || err.syscall !== "bind") throw err;
  const e = codedError(err.message, "EADDRNOTAVAIL");
  e.cause = err;
  throw e;
}

async function connect(options: ConnectOptions): Promise<TcpSocket> {
  if (options.localAddress !== undefined || options.localPort !== undefined) {
    return (await nodeNet()).connectStream(options).catch(bindError);
  }
  try {
    const conn: StreamConn = options.path !== undefined
      ? await Deno.connect({ transport: "unix", path: options.path })
      : await Deno.connect({ hostname: options.host, port: options.port });
    return new DenoSocket(conn);
  } catch (err) {
    throw coded(err, "ECONNREFUSED");
  }
}

async function connectTls(options: TlsConnectOptions): Promise<TcpSocket> {
  if (options.localAddress !== undefined || options.localPort !== undefined) {
    return (await nodeNet()).connectTls(options).catch(bindError);
  }
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname: options.host, port: options.port });
  } catch (err) {
    throw coded(err, "ECONNREFUSED");
  }
  let tls: Deno.TlsConn | undefined;
  try {
    // startTls over our own TCP connection lets the SNI/verification name
    // differ from the address dialled (connectTls uses one for both).
    tls = await Deno.startTls(tcp, {
      hostname: options.serverName ?? options.host,
      caCerts: options.caCerts ? [...options.caCerts] : undefined,
      alpnProtocols: options.alpnProtocols ? [...options.alpnProtocols] : undefined,
    });
    // The handshake would otherwise run lazily on first I/O; run it here so
    // that an untrusted certificate rejects this promise.
    await tls.handshake();
    return new DenoSocket(tls);
  } catch (err) {
    try {
      (tls ?? tcp).close();
    } catch {
      // Already closed.
    }
    throw coded(err, "ETLS");
  }
}

/**
 * Platform.startTls: `Deno.startTls` for a client TCP socket never started
 * (see {@linkcode DenoSocket.takeTcpConn}); otherwise `node:tls` over the
 * socket's bytes, since Deno has no server-side upgrade and cannot upgrade
 * a connection with a read under way. A client that bound its local end
 * is a node:net socket, upgraded by node:tls itself.
 */
async function startTls(socket: TcpSocket, options: TlsUpgradeOptions): Promise<TcpSocket> {
  if (!(socket instanceof DenoSocket)) return (await nodeNet()).upgradeTls(socket, options);
  const refusal = socket.upgradeRefusal();
  if (refusal !== undefined) throw refusal;
  const head = options.head;
  if (options.role === "client" && (head === undefined || head.length === 0)) {
    const name = options.serverName ?? socket.remoteAddress.host;
    const tcp = socket.takeTcpConn();
    if (tcp !== undefined) return await denoStartTls(tcp, name, options.caCerts, options.alpnProtocols);
  }
  // Synchronously, so that from this call on the owner hears nothing more.
  socket.handOver();
  return (await nodeNet()).tlsOverSocket(socket, options);
}

async function denoStartTls(
  tcp: Deno.TcpConn,
  hostname: string,
  caCerts: readonly string[] | undefined,
  alpnProtocols: readonly string[] | undefined,
): Promise<TcpSocket> {
  let tls: Deno.TlsConn | undefined;
  try {
    tls = await Deno.startTls(tcp, {
      hostname,
      caCerts: caCerts ? [...caCerts] : undefined,
      alpnProtocols: alpnProtocols ? [...alpnProtocols] : undefined,
    });
    // Run the handshake now (it would run on first I/O), so that a failure rejects here.
    await tls.handshake();
    return new DenoSocket(tls);
  } catch (err) {
    try {
      (tls ?? tcp).close();
    } catch {
      // Already closed.
    }
    throw coded(err, "ETLS");
  }
}

function listenTls(
  options: TlsListenOptions,
  onAccept: AcceptHandler,
  onError?: AcceptErrorHandler,
): Promise<TcpListener> {
  try {
    const listener = Deno.listenTls({
      transport: "tcp",
      hostname: options.host,
      port: options.port,
      cert: options.cert,
      key: options.key,
      alpnProtocols: options.alpnProtocols ? [...options.alpnProtocols] : undefined,
    });
    return Promise.resolve(new DenoListener(listener, onAccept, undefined, onError));
  } catch (err) {
    return Promise.reject(coded(err, "EINVAL"));
  }
}

function toInfo(info: Deno.FileInfo): FileInfo {
  return {
    size: info.size,
    isFile: info.isFile,
    isDirectory: info.isDirectory,
    mtimeMs: info.mtime ? info.mtime.getTime() : NaN,
  };
}

/** An open file; positioned reads are serialised because they share one seek offset. */
class DenoFile implements FileHandle {
  readonly #file: Deno.FsFile;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  read(position: number, length: number): Promise<Uint8Array> {
    const run = this.#tail.then(() => this.#readAt(position, length));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #readAt(position: number, length: number): Promise<Uint8Array> {
    if (!(position >= 0) || !(length >= 0)) throw codedError(`bad file range ${position}+${length}`, "EINVAL");
    const out = new Uint8Array(length);
    if (length === 0) return out;
    let got = 0;
    try {
      await this.#file.seek(position, Deno.SeekMode.Start);
      while (got < length) {
        const n = await this.#file.read(out.subarray(got));
        if (n === null) break;
        got += n;
      }
    } catch (err) {
      throw coded(err, "EIO");
    }
    if (got === length) return out;
    // Do not pin a large buffer behind a short read near the end of the file.
    return got * 2 < length ? out.slice(0, got) : out.subarray(0, got);
  }

  async stat(): Promise<FileInfo> {
    try {
      return toInfo(await this.#file.stat());
    } catch (err) {
      throw coded(err, "EIO");
    }
  }

  async close(): Promise<void> {
    await this.#tail;
    try {
      this.#file.close();
    } catch {
      // Closing twice is harmless.
    }
  }
}

const fs: FileSystem = {
  async open(path: string): Promise<FileHandle> {
    try {
      return new DenoFile(await Deno.open(path, { read: true }));
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
  async stat(path: string): Promise<FileInfo> {
    try {
      return toInfo(await Deno.stat(path));
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
  async readDir(path: string): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(path)) {
        out.push({ name: e.name, isFile: e.isFile, isDirectory: e.isDirectory });
      }
    } catch (err) {
      throw coded(err, "EIO");
    }
    return out;
  },
  async realPath(path: string): Promise<string> {
    try {
      return await Deno.realPath(path);
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
};

const clock: Clock = {
  now(): number {
    return performance.now();
  },
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    return setTimeout(fn, delayMs);
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as number);
  },
};

function createPlatform(): Platform {
  const platform: Platform = {
    name: "deno",
    clock,
    fs,
    compression: nodeCompression,
    yieldToIo(fn: () => void): void {
      setImmediate(fn);
    },
    connect,
    listen,
    connectTls,
    listenTls,
    startTls,
    bindUdp: nodeBindUdp,
    addSignalListener(signal: SignalName, fn: () => void): boolean {
      if (!isSignalName(signal)) return false;
      try {
        Deno.addSignalListener(signal, fn);
        return true;
      } catch {
        // Windows only has SIGINT and SIGBREAK.
        return false;
      }
    },
    removeSignalListener(signal: SignalName, fn: () => void): void {
      if (!isSignalName(signal)) return;
      try {
        Deno.removeSignalListener(signal, fn);
      } catch {
        // Never added (unsupported signal).
      }
    },
    lookup: nodeLookup,
    threads: webThreads({
      // Only a worker's global scope is a WorkerGlobalScope; Deno's main thread has none.
      isMainThread: typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "function",
      // A Deno worker that calls Deno.exit() ends silently: close() after the EXIT message instead.
      exitSelf: () => (globalThis as unknown as { close(): void }).close(),
    }),
  };
  if (wholeBodyOf !== null) platform.wholeBody = wholeBodyOf;
  return platform;
}

let cached: Platform | undefined;

/**
 * The Deno platform adapter (one shared instance). Throws when called
 * outside Deno.
 */
export function denoPlatform(): Platform {
  if (cached) return cached;
  if (typeof (globalThis as { Deno?: unknown }).Deno === "undefined") {
    throw codedError("denoPlatform() needs the Deno runtime", "EINVAL");
  }
  cached = createPlatform();
  return cached;
}
