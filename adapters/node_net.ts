/**
 * Stream sockets over `node:net` and `node:tls` (TCP, Unix and TLS; clients
 * and listeners) behind the push-style {@linkcode TcpSocket} contract. The
 * Node adapter uses all of it; the Deno adapter loads it only for a client
 * that binds its local address or port, which `Deno.connect` cannot do.
 * Deno and Bun also load it to start TLS over a connection where their own
 * upgrade cannot ({@linkcode tlsOverSocket}).
 *
 * Every socket gets the contract's 64 KiB write high-water mark.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import net from "node:net";
import process from "node:process";
import { Duplex } from "node:stream";
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
  TlsUpgradeOptions,
} from "../src/platform.ts";
import {
  alreadyStarted,
  coded,
  type CodedError,
  codedError,
  ipAddress,
  reusePortUnsupported,
  unixAddress,
} from "./node_shared.ts";
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
  /** The peer's end arrived: no TLS can start over this connection any more. */
  #peerEnded = false;
  /** For TLS run over another adapter's socket: the stream over it, where pause, resume and setNoDelay go. */
  #stream: PlainStream | undefined;

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
    if (this.#stream !== undefined) {
      this.#socket.resume();
      this.#stream.hold(this.#paused);
    } else if (!this.#paused) {
      this.#socket.resume();
    }
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
    this.#stream?.plain.close();
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
    this.#stream?.plain.reset();
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
    if (this.#handlers === undefined) return;
    // Deno's node:tls, paused over a stream, can lose the stream's end: the bytes wait below it.
    if (this.#stream !== undefined) this.#stream.hold(true);
    else this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (this.#handlers === undefined) return;
    const held = this.#held;
    if (held === undefined) {
      this.#flow();
      return;
    }
    // Bytes read while paused go first, on the next microtask (never inside the caller's resume()),
    // and the socket reads on only once they are delivered and nobody paused again.
    queueMicrotask(() => {
      if (this.#paused || this.#held !== held) return;
      this.#held = undefined;
      const h = this.#handlers as SocketHandlers;
      for (const bytes of held) h.data(bytes, true);
      if (!this.#paused) this.#flow();
    });
  }

  /** Let bytes come again. */
  #flow(): void {
    if (this.#stream !== undefined) this.#stream.hold(false);
    else this.#socket.resume();
  }

  setNoDelay(noDelay: boolean): void {
    if (this.#stream !== undefined) this.#stream.plain.setNoDelay(noDelay);
    else if (this.#kind !== "unix") this.#socket.setNoDelay(noDelay);
  }

  /** TLS running over `stream`, a plain socket of another adapter. */
  runsOver(stream: PlainStream): void {
    this.#stream = stream;
  }

  /**
   * For startTls: give the node:net socket up, paused, with the bytes read
   * while it was paused. The owner hears nothing more and its calls do
   * nothing. A coded error instead when the connection can carry no TLS.
   */
  handOver(): { socket: net.Socket; held: readonly Uint8Array[] } | CodedError {
    const socket = this.#socket;
    if (this.#out !== "open" || socket.destroyed) {
      return codedError("startTls: the socket was closed or ended by its owner", "EINVAL");
    }
    if (this.#peerEnded) return codedError("startTls: the peer had already ended the connection", "ECONNRESET");
    this.#out = "closed";
    this.#paused = true;
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#missed = undefined;
    socket.pause();
    socket.off("data", this.#onOwnedData);
    socket.off("end", this.#onEnd);
    socket.off("drain", this.#onDrain);
    socket.off("finish", this.#onFinish);
    socket.off("error", this.#onError);
    socket.off("close", this.#onClose);
    // The TLS socket reports the connection's errors; one raised here unheard would crash the process.
    socket.on("error", ignore);
    return { socket, held };
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
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // Over a stream a paused socket still flows: what TLS had decrypted waits here.
    if (this.#paused) (this.#held ??= []).push(bytes);
    else (this.#handlers as SocketHandlers).data(bytes, true);
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
    this.#peerEnded = true;
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
  ready: "connect" | "secureConnect" | "secure",
  toError: (err: Error) => Error,
  adopt: () => TcpSocket,
): Promise<TcpSocket> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(ready, onReady);
      socket.off("error", onError);
      socket.off("end", onClose);
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
    // A half-open socket stays open after the peer's end: one before the handshake is done fails it.
    socket.once("end", onClose);
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

// ------------------------------------------------------- starting TLS later

/** `head`, then the chunks after it, as one array. */
function joined(head: Uint8Array | undefined, rest: readonly Uint8Array[]): Uint8Array {
  if (rest.length === 0) return head ?? EMPTY;
  const parts = head === undefined || head.length === 0 ? rest : [head, ...rest];
  if (parts.length === 1) return parts[0];
  return Buffer.concat(parts);
}

/**
 * Run node:tls over `transport` (the node:net socket itself, or a stream
 * over another adapter's socket) in the role `options` give, and settle
 * once the handshake is done: with a NodeSocket over the TLS socket that
 * reports the plain connection's addresses, or with the coded failure and
 * the connection closed.
 */
function secureOver(
  transport: Duplex,
  options: TlsUpgradeOptions,
  remote: NetAddress,
  local: NetAddress,
  stream: PlainStream | undefined,
): Promise<TcpSocket> {
  const alpn = options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols];
  let socket: tls.TLSSocket;
  try {
    if (options.role === "client") {
      const name = options.serverName ?? remote.host;
      // highWaterMark reaches the TLS socket's stream options; @types/node leaves it out of connect's.
      const connectOptions: tls.ConnectionOptions & { highWaterMark: number } = {
        socket: transport,
        // SNI must not carry an IP address (RFC 6066); the certificate is still checked against it.
        servername: net.isIP(name) === 0 ? name : undefined,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
        ca: options.caCerts !== undefined && options.caCerts.length > 0 ? trustedWith(options.caCerts) : undefined,
        ALPNProtocols: alpn,
        rejectUnauthorized: true,
        highWaterMark: WRITE_HIGH_WATER_MARK,
      };
      socket = tls.connect(connectOptions);
    } else {
      socket = new tls.TLSSocket(transport, {
        isServer: true,
        secureContext: tls.createSecureContext({ cert: options.cert, key: options.key }),
        ALPNProtocols: alpn,
      });
    }
  } catch (err) {
    // A malformed certificate or key.
    transport.destroy();
    return Promise.reject(tlsCoded(err instanceof Error ? err : new Error(String(err))));
  }
  const ready = options.role === "client" ? "secureConnect" : "secure";
  return settleOnConnect(socket, ready, tlsCoded, () => {
    const owner = new NodeSocket("tls", false);
    owner.attach(socket, remote, local);
    if (stream !== undefined) owner.runsOver(stream);
    return owner;
  }).catch((err: Error) => {
    // Errors of a connection already given up on go nowhere.
    socket.on("error", ignore);
    socket.destroy();
    transport.destroy();
    throw err;
  });
}

/**
 * Platform.startTls for a socket of this module: node:tls wraps the
 * node:net socket itself (`tls.connect({ socket })`, or `new
 * tls.TLSSocket(socket, { isServer: true })`). Bytes read ahead are put
 * back into the socket's buffer, which node:tls reads before anything new.
 */
export function upgradeTls(socket: TcpSocket, options: TlsUpgradeOptions): Promise<TcpSocket> {
  if (!(socket instanceof NodeSocket)) {
    return Promise.reject(codedError("startTls: the socket was not made by this platform", "EINVAL"));
  }
  const given = socket.handOver();
  if (given instanceof Error) return Promise.reject(given);
  const ahead = joined(options.head, given.held);
  if (ahead.length > 0) given.socket.unshift(Buffer.from(ahead.buffer, ahead.byteOffset, ahead.byteLength));
  return secureOver(given.socket, options, socket.remoteAddress, socket.localAddress, undefined);
}

/**
 * A plain socket of another adapter as a node:stream Duplex, for node:tls
 * to run over: what the socket receives is pushed (after the bytes read
 * ahead), what TLS writes is written to it, with backpressure both ways.
 */
class PlainStream extends Duplex {
  /** The plain socket. */
  readonly plain: TcpSocket;
  /** The callback of a write the plain socket asked to wait with: called on its drain. */
  #writeDone: (() => void) | undefined;
  /** node:tls asked for bytes since it last refused some. */
  #wanted = false;
  /** The TLS socket's owner paused it: bytes wait in the plain socket. */
  #held = false;

  constructor(plain: TcpSocket, head: Uint8Array) {
    super({ allowHalfOpen: true });
    this.plain = plain;
    if (head.length > 0) this.push(head);
    plain.start({
      data: (bytes, owned) => {
        if (!this.push(owned ? bytes : bytes.slice())) {
          this.#wanted = false;
          this.#flow();
        }
      },
      end: () => {
        this.push(null);
      },
      drain: () => {
        const done = this.#writeDone;
        this.#writeDone = undefined;
        done?.();
      },
      error: (err) => {
        this.destroy(err);
      },
      close: () => {
        this.destroy();
      },
    });
  }

  /** Hold the plain socket's bytes back (true), or let them come when node:tls wants them. */
  hold(paused: boolean): void {
    this.#held = paused;
    this.#flow();
  }

  #flow(): void {
    if (this.#wanted && !this.#held) this.plain.resume();
    else this.plain.pause();
  }

  override _read(): void {
    this.#wanted = true;
    this.#flow();
  }

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    // A copy: node:tls may reuse the chunk's memory once told it was written, and the socket keeps what it queues.
    if (this.plain.write(new Uint8Array(chunk))) done();
    else this.#writeDone = done;
  }

  override _final(done: () => void): void {
    this.plain.end();
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.#writeDone = undefined;
    // Destroyed without an error once both directions are done: what TLS wrote last (its
    // close_notify) may still be queued, so end rather than close, and the socket closes once
    // FIN is out (the peer has ended already). The owner's close() closes the socket itself.
    if (err === null) this.plain.end();
    else this.plain.close();
    done(err);
  }
}

/**
 * Start TLS with node:tls over the bytes of `plain`, a socket another
 * adapter made and handed over (not started, paused), where that
 * runtime's own upgrade cannot (see `startTls` in the Deno and Bun
 * adapters). `options.head` is read first, then what `plain` delivers.
 */
export function tlsOverSocket(plain: TcpSocket, options: TlsUpgradeOptions): Promise<TcpSocket> {
  const stream = new PlainStream(plain, options.head ?? EMPTY);
  return secureOver(stream, options, plain.remoteAddress, plain.localAddress, stream);
}

/**
 * Why node:net cannot share a port here, or undefined when it can:
 * SO_REUSEPORT reached its listen() in Node 22.12 and 23.1, and only on
 * systems that have it.
 */
function reusePortMissing(): string | undefined {
  if (!["linux", "freebsd", "sunos", "aix"].includes(process.platform)) {
    return `the system (${process.platform}) has no SO_REUSEPORT that node:net uses`;
  }
  const version = process.versions.node;
  const [major, minor] = version.split(".").map(Number);
  if (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)) return undefined;
  return `node:net's listen() takes reusePort from Node 22.12 and 23.1 on; this is Node ${version}`;
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
  if (options.reusePort === true) {
    const missing = reusePortMissing();
    if (missing !== undefined) return Promise.reject(reusePortUnsupported(missing));
    listenOptions.reusePort = true;
  }
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
