/**
 * Stream sockets over `node:net` and `node:tls` (TCP, Unix and TLS; clients
 * and listeners) behind the push-style {@linkcode TcpSocket} contract. The
 * Node adapter uses all of it; the Deno adapter loads it only for a client
 * that binds its local address or port, which `Deno.connect` cannot do.
 *
 * Every socket gets the contract's 64 KiB write high-water mark.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import net from "node:net";
import process from "node:process";
import tls from "node:tls";
import type {
  AcceptErrorHandler,
  AcceptHandler,
  ConnectOptions,
  ListenOptions,
  NetAddress,
  SocketHandlers,
  TcpListener,
  TcpSocket,
  TlsConnectOptions,
  TlsListenOptions,
} from "../src/platform.ts";
import { alreadyStarted, coded, codedError, ipAddress, unixAddress } from "./node_shared.ts";
import { WRITE_HIGH_WATER_MARK } from "./write_queue.ts";

/** What carries a socket's bytes: it decides error mapping and whether an abortive close is possible. */
type SocketKind = "tcp" | "unix" | "tls";

/**
 * The socket's life from the owner's side: writable, half-closed by us (FIN
 * queued), closed by the owner (only `close` is reported from then on), or
 * closed by the runtime (error or both directions done).
 */
type OutState = "open" | "ended" | "closing" | "closed";

/** A rare socket event that arrived before `start()`, replayed once handlers exist. */
type MissedEvent = (handlers: SocketHandlers) => void;

/** Large enough for a full libuv read (it suggests 64 KiB). */
const LENT_SIZE = 64 * 1024;

/**
 * One read buffer shared by every client socket. Sharing is safe because
 * libuv fills it and Node runs the `onread` callback synchronously, one read
 * at a time, and `data` only lends the bytes until it returns. It saves each
 * connection its own 64 KiB.
 */
let lentBuffer: Buffer | undefined;
/** A plain Uint8Array over `lentBuffer`: Buffer's `slice()` shares memory, which would break a consumer copying with `slice()`. */
let lentView: Uint8Array = new Uint8Array(0);

function sharedReadBuffer(): Buffer {
  if (lentBuffer === undefined) {
    lentBuffer = Buffer.allocUnsafeSlow(LENT_SIZE);
    lentView = new Uint8Array(lentBuffer.buffer, lentBuffer.byteOffset, lentBuffer.byteLength);
  }
  return lentBuffer;
}

const NO_ADDRESS: NetAddress = ipAddress("tcp", "", 0);

/**
 * libuv before 1.52.1 (Node 20 ships 1.46) takes a hang-up that comes with a
 * short read for EOF, so a reset that arrives right behind data reads as a
 * clean end and a half-open socket would wait forever. A zero-length write
 * costs nothing on a healthy half-closed socket and fails with the pending
 * ECONNRESET or EPIPE on a reset one.
 */
const EOF_MAY_HIDE_RESET: boolean = (() => {
  const [major, minor, patch] = (process.versions.uv ?? "0.0.0").split(".").map(Number);
  return major < 1 || (major === 1 && (minor < 52 || (minor === 52 && patch < 1)));
})();
const EMPTY = new Uint8Array(0);

/**
 * TLS sockets fail with OpenSSL and certificate codes (`ERR_SSL_...`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`, `EPROTO`); the contract calls all of those
 * ETLS and keeps plain transport codes (ECONNRESET, ECONNREFUSED...) as they are.
 */
function tlsCoded(err: Error): Error {
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === "string" && ((/^E[A-Z]+$/.test(code) && code !== "EPROTO") || code.startsWith("EAI_"))) {
    return coded(err, "ECONNRESET");
  }
  const wrapped = codedError(err.message, "ETLS");
  wrapped.cause = err;
  return wrapped;
}

function tcpAddress(host: string | undefined, port: number | undefined): NetAddress {
  return host === undefined ? NO_ADDRESS : ipAddress("tcp", host, port ?? 0);
}

/** A node:net or node:tls socket behind the push-style TcpSocket contract. */
class NodeSocket implements TcpSocket {
  remoteAddress: NetAddress = NO_ADDRESS;
  localAddress: NetAddress = NO_ADDRESS;
  readonly #kind: SocketKind;
  /** Bytes come through the shared `onread` buffer (lent) instead of 'data' events (owned). */
  readonly #lent: boolean;
  #socket!: net.Socket;
  #handlers: SocketHandlers | undefined;
  #out: OutState = "open";
  #paused = false;
  /** Bytes Node read into the shared buffer after pause(), kept for resume(). */
  #held: Uint8Array[] | undefined;
  #missed: MissedEvent[] | undefined;
  /** write() returned false: `drain` is owed once Node's queue has emptied. */
  #drainWanted = false;

  constructor(kind: SocketKind, lent: boolean) {
    this.#kind = kind;
    this.#lent = lent;
  }

  /** The `onread` option for a client socket: reads land in the shared buffer. */
  readInto(): net.OnReadOpts {
    return { buffer: sharedReadBuffer(), callback: this.#onLentData };
  }

  /** Take over a connected socket. It stays paused until `start()`. */
  attach(socket: net.Socket, remote: NetAddress, local: NetAddress): void {
    this.#socket = socket;
    this.remoteAddress = remote;
    this.localAddress = local;
    socket.pause();
    socket.on("end", this.#onEnd);
    socket.on("drain", this.#onDrain);
    socket.on("finish", this.#onFinish);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
  }

  get bufferedAmount(): number {
    return this.#out === "closing" || this.#out === "closed" ? 0 : this.#socket.writableLength;
  }

  start(handlers: SocketHandlers): void {
    if (this.#handlers !== undefined) throw alreadyStarted();
    this.#handlers = handlers;
    if (!this.#lent) this.#socket.on("data", this.#onOwnedData);
    if (!this.#paused) this.#socket.resume();
    const missed = this.#missed;
    if (missed !== undefined) {
      this.#missed = undefined;
      // Deferred so the owner finishes its setup before hearing about an early close.
      queueMicrotask(() => {
        for (const event of missed) event(this.#handlers as SocketHandlers);
      });
    }
  }

  write(bytes: Uint8Array): boolean {
    // Node would raise write-after-end or write-after-destroy errors; the contract wants a quiet false.
    if (this.#out !== "open") return false;
    const socket = this.#socket;
    const before = socket.writableLength;
    const nodeRoom = socket.write(bytes);
    // The contract's mark, counted as Node counts its own: the queue before this write plus this write.
    if (before + bytes.length < WRITE_HIGH_WATER_MARK) return true;
    if (!this.#drainWanted) {
      this.#drainWanted = true;
      // Node emits 'drain' only after a write of its own returned false. Sockets get the contract's
      // mark as their highWaterMark, but an accepted TLS socket keeps Node's default (16 KiB on
      // Node 20, and stream.setDefaultHighWaterMark() can raise it): if that is above the contract's,
      // a zero-length write's callback, run once every write before it is done, stands in.
      if (nodeRoom) socket.write(EMPTY, this.#onFlushed);
    }
    return false;
  }

  end(): void {
    if (this.#out !== "open") return;
    this.#out = "ended";
    this.#socket.end();
  }

  close(): void {
    if (this.#out === "closing" || this.#out === "closed") return;
    const socket = this.#socket;
    // Dropping queued bytes and then sending FIN would let the peer take a
    // truncated stream for a complete one, so a TCP close with bytes still
    // queued resets the connection instead. After end() a shutdown may be in
    // flight, and libuv refuses to reset then.
    const abort = this.#out === "open" && this.#kind === "tcp" && socket.writableLength > 0 && !socket.destroyed;
    this.#out = "closing";
    if (abort) socket.resetAndDestroy();
    else socket.destroy();
  }

  reset(): void {
    if (this.#out === "closing" || this.#out === "closed") return;
    const socket = this.#socket;
    const ended = this.#out === "ended";
    this.#out = "closing";
    // Only a TCP handle can send RST (TLS wraps it, Unix sockets have none);
    // libuv refuses once a shutdown is under way, so after end() this is a plain close.
    if (this.#kind !== "tcp" || ended || socket.destroyed) {
      socket.destroy();
      return;
    }
    try {
      socket.resetAndDestroy();
    } catch {
      socket.destroy();
    }
  }

  pause(): void {
    this.#paused = true;
    if (this.#handlers !== undefined) this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (this.#handlers === undefined) return;
    const held = this.#held;
    if (held === undefined) {
      this.#socket.resume();
      return;
    }
    // Bytes read while paused go first, on the next microtask (never inside the caller's resume()),
    // and the socket reads on only once they are delivered and nobody paused again.
    queueMicrotask(() => {
      if (this.#paused || this.#held !== held) return;
      this.#held = undefined;
      const h = this.#handlers as SocketHandlers;
      for (const bytes of held) h.data(bytes, true);
      if (!this.#paused) this.#socket.resume();
    });
  }

  setNoDelay(noDelay: boolean): void {
    if (this.#kind !== "unix") this.#socket.setNoDelay(noDelay);
  }

  #onLentData = (bytesRead: number): boolean => {
    if (this.#paused) {
      // Node restarts reading when a resume() and a pause() fall in the same tick (its resume is
      // deferred, the pause is not): keep what came and stop reading, as returning false does.
      (this.#held ??= []).push(lentView.slice(0, bytesRead));
      return false;
    }
    (this.#handlers as SocketHandlers).data(lentView.subarray(0, bytesRead), false);
    return true;
  };

  #onOwnedData = (chunk: Buffer): void => {
    // A plain view: consumers get one array shape, and slice() copies as they expect.
    (this.#handlers as SocketHandlers).data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), true);
  };

  #onEnd = (): void => {
    // TLS is left out: an empty TLS write is not guaranteed to reach the TCP socket.
    if (EOF_MAY_HIDE_RESET && this.#out === "open" && this.#kind !== "tls") {
      const socket = this.#socket;
      if (socket.writableLength === 0) {
        // Nothing queued, so the probe settles at once: the end waits for it, and a reset is told
        // as the error it is rather than as an end followed by an error.
        socket.write(EMPTY, (err) => {
          if (err === null || err === undefined) this.#deliverEnd();
        });
        return;
      }
      socket.write(EMPTY);
    }
    this.#deliverEnd();
  };

  #deliverEnd(): void {
    if (this.#out === "closing" || this.#out === "closed") return;
    const h = this.#handlers;
    if (h !== undefined) h.end();
    else this.#remember((late) => late.end());
  }

  #onDrain = (): void => {
    // Node also drains after writes the contract did not refuse (an accepted TLS socket's lower mark).
    if (!this.#drainWanted || this.#out !== "open") return;
    this.#drainWanted = false;
    const h = this.#handlers;
    if (h !== undefined) h.drain();
    else this.#remember((late) => late.drain());
  };

  #onFlushed = (err?: Error | null): void => {
    if (err === null || err === undefined) this.#onDrain();
  };

  /** Node emits 'finish' once end() has flushed every write and the shutdown (FIN) completed. */
  #onFinish = (): void => {
    if (this.#out === "closing" || this.#out === "closed") return;
    const h = this.#handlers;
    if (h !== undefined) h.finish?.();
    else this.#remember((late) => late.finish?.());
  };

  #onError = (err: Error): void => {
    // An error already on its way when the owner closed is no longer news to it.
    if (this.#out === "closing") return;
    this.#out = "closed";
    const e = this.#kind === "tls" ? tlsCoded(err) : coded(err, "ECONNRESET");
    const h = this.#handlers;
    if (h !== undefined) h.error(e);
    else this.#remember((late) => late.error(e));
  };

  #onClose = (): void => {
    this.#out = "closed";
    const h = this.#handlers;
    if (h !== undefined) h.close();
    else this.#remember((late) => late.close());
  };

  #remember(event: MissedEvent): void {
    (this.#missed ??= []).push(event);
  }
}

/**
 * Settle once `socket` reaches `ready`: resolve with `adopt()`'s socket, or
 * reject with the coded error (or ECONNRESET when it closes silently).
 */
function settleOnConnect(
  socket: net.Socket,
  ready: "connect" | "secureConnect",
  toError: (err: Error) => Error,
  adopt: () => TcpSocket,
): Promise<TcpSocket> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(ready, onReady);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    // adopt() installs the socket's own error listener, so no error goes unheard.
    const onReady = (): void => {
      cleanup();
      resolve(adopt());
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(toError(err));
    };
    const onClose = (): void => {
      cleanup();
      reject(codedError("the connection closed before it was established", "ECONNRESET"));
    };
    socket.once(ready, onReady);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}

/** Connect over TCP or a Unix socket (`net.connect`), reading into the shared buffer. */
export function connectStream(options: ConnectOptions): Promise<TcpSocket> {
  try {
    return startConnect(options);
  } catch (err) {
    // Bad options (a port out of range...) throw at once.
    return Promise.reject(coded(err, "EINVAL"));
  }
}

function startConnect(options: ConnectOptions): Promise<TcpSocket> {
  const path = options.path;
  const owner = new NodeSocket(path === undefined ? "tcp" : "unix", true);
  // highWaterMark reaches the socket's stream options; @types/node leaves it out of connect's.
  const common: { allowHalfOpen: boolean; highWaterMark: number; onread: net.OnReadOpts } = {
    allowHalfOpen: true,
    highWaterMark: WRITE_HIGH_WATER_MARK,
    onread: owner.readInto(),
  };
  const socket = path === undefined
    ? net.connect({
      host: options.host,
      port: options.port,
      localAddress: options.localAddress,
      localPort: options.localPort,
      ...common,
    })
    : net.connect({ path, ...common });
  // Paused before the connection completes, or Node starts reading into the
  // shared buffer at once and the first bytes would reach no handler.
  socket.pause();
  return settleOnConnect(socket, "connect", (err) => coded(err, "ECONNREFUSED"), () => {
    if (path === undefined) {
      owner.attach(
        socket,
        tcpAddress(socket.remoteAddress, socket.remotePort),
        tcpAddress(socket.localAddress, socket.localPort),
      );
    } else {
      owner.attach(socket, unixAddress(path), unixAddress(""));
    }
    return owner;
  });
}

/** Extra CAs are added to the defaults: Node's `ca` option would replace them. */
function trustedWith(extra: readonly string[]): string[] {
  const defaults = typeof tls.getCACertificates === "function"
    ? tls.getCACertificates("default")
    : tls.rootCertificates;
  return [...defaults, ...extra];
}

/** Connect over TLS (`tls.connect`); resolves once the handshake succeeded. */
export function connectTls(options: TlsConnectOptions): Promise<TcpSocket> {
  try {
    return startTls(options);
  } catch (err) {
    return Promise.reject(coded(err, "EINVAL"));
  }
}

function startTls(options: TlsConnectOptions): Promise<TcpSocket> {
  const name = options.serverName ?? options.host;
  // allowHalfOpen and the local bind are socket.connect() options tls.connect passes on; @types/node leaves them out.
  const connectOptions:
    & tls.ConnectionOptions
    & { allowHalfOpen: boolean; localAddress?: string; localPort?: number; highWaterMark: number } = {
      host: options.host,
      port: options.port,
      localAddress: options.localAddress,
      localPort: options.localPort,
      // SNI must not carry an IP address (RFC 6066); Node warns if asked to.
      servername: net.isIP(name) === 0 ? name : undefined,
      // The certificate is checked against `name` even when SNI was left out.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
      ca: options.caCerts !== undefined && options.caCerts.length > 0 ? trustedWith(options.caCerts) : undefined,
      ALPNProtocols: options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols],
      rejectUnauthorized: true,
      allowHalfOpen: true,
      highWaterMark: WRITE_HIGH_WATER_MARK,
    };
  const socket = tls.connect(connectOptions);
  return settleOnConnect(socket, "secureConnect", tlsCoded, () => {
    const owner = new NodeSocket("tls", false);
    owner.attach(
      socket,
      tcpAddress(socket.remoteAddress, socket.remotePort),
      tcpAddress(socket.localAddress, socket.localPort),
    );
    return owner;
  });
}

/** SO_REUSEPORT reached node:net's listen() in 22.12 and 23.1, and only on systems that have it. */
function reusePortSupported(): boolean {
  if (!["linux", "freebsd", "sunos", "aix"].includes(process.platform)) return false;
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

class NodeListener implements TcpListener {
  readonly address: NetAddress;
  readonly #server: net.Server;
  #closed = false;

  constructor(server: net.Server, address: NetAddress) {
    this.#server = server;
    this.address = address;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      // The listening descriptor is closed (and a Unix path unlinked) right
      // here; the server's own 'close' waits for every accepted socket,
      // which the contract leaves open.
      this.#server.close();
    }
    return Promise.resolve();
  }
}

/** Start `server` listening; reject with EADDRINUSE and the like. */
function startListening(
  server: net.Server,
  options: net.ListenOptions,
  addressOf: () => NetAddress,
  onAcceptError: AcceptErrorHandler | undefined,
): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(coded(err, "EINVAL"));
    server.once("error", onError);
    const onListening = (): void => {
      server.off("error", onError);
      // Later server errors are accept failures (EMFILE...); unheard they
      // would crash the process.
      server.on("error", onAcceptError === undefined ? ignore : (err: Error) => onAcceptError(coded(err, "EINVAL")));
      resolve(new NodeListener(server, addressOf()));
    };
    try {
      server.listen(options, onListening);
    } catch (err) {
      // Bad options (a port out of range...) throw at once.
      server.off("error", onError);
      reject(coded(err, "EINVAL"));
    }
  });
}

function ignore(): void {}

function boundAddress(server: net.Server): NetAddress {
  const a = server.address();
  return a !== null && typeof a === "object" ? ipAddress("tcp", a.address, a.port) : NO_ADDRESS;
}

/** Wrap an accepted TCP or TLS socket, with its addresses. */
function acceptedIp(socket: net.Socket, kind: "tcp" | "tls"): NodeSocket {
  const owner = new NodeSocket(kind, false);
  owner.attach(
    socket,
    tcpAddress(socket.remoteAddress, socket.remotePort),
    tcpAddress(socket.localAddress, socket.localPort),
  );
  return owner;
}

/** Listen for TCP or Unix connections (`net.createServer`); accepted sockets wait for `start()`. */
export function listenStream(
  options: ListenOptions,
  onAccept: AcceptHandler,
  onError?: AcceptErrorHandler,
): Promise<TcpListener> {
  // pauseOnConnect: no read happens before the owner calls start().
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: WRITE_HIGH_WATER_MARK });
  const path = options.path;
  if (path !== undefined) {
    const local = unixAddress(path);
    server.on("connection", (socket: net.Socket) => {
      const owner = new NodeSocket("unix", false);
      owner.attach(socket, unixAddress(""), local);
      onAccept(owner);
    });
    return startListening(server, { path, backlog: options.backlog }, () => local, onError);
  }
  server.on("connection", (socket: net.Socket) => onAccept(acceptedIp(socket, "tcp")));
  const listenOptions: net.ListenOptions = { host: options.host, port: options.port, backlog: options.backlog };
  if (options.reusePort === true && reusePortSupported()) listenOptions.reusePort = true;
  return startListening(server, listenOptions, () => boundAddress(server), onError);
}

/** Listen for TLS connections (`tls.createServer`); a socket is handed out once its handshake succeeded. */
export function listenTls(
  options: TlsListenOptions,
  onAccept: AcceptHandler,
  onError?: AcceptErrorHandler,
): Promise<TcpListener> {
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ALPNProtocols: options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols],
    allowHalfOpen: true,
    // Node 20 leaves it out of the TLS sockets it accepts; NodeSocket.write copes.
    highWaterMark: WRITE_HIGH_WATER_MARK,
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => onAccept(acceptedIp(socket, "tls")));
  // Failed handshakes are the client's problem; Node already drops the socket.
  server.on("tlsClientError", ignore);
  return startListening(server, { host: options.host, port: options.port }, () => boundAddress(server), onError);
}
