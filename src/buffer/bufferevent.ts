/**
 * BufferEvent: libevent's `struct bufferevent` (bufferevent.h) and its core,
 * bufferevent.c. A transport with an input and an output
 * {@linkcode EvBuffer}, read / write / event callbacks run on an
 * {@linkcode EventBase}'s loop, watermarks, timeouts, deferred callbacks,
 * enable / disable and the suspend bits that hold reading or writing back.
 *
 * The transport is a kind, each in its own file behind one internal
 * interface, {@linkcode BufferEventOps} (libevent's `struct
 * bufferevent_ops`): a platform socket (bufferevent_sock.ts), two linked
 * in-memory ends (bufferevent_pair.ts), another BufferEvent seen
 * through filters (bufferevent_filter.ts), or TLS started over a
 * connection that began in plain text (bufferevent_tls.ts). Token-bucket
 * rate limits are in bufferevent_ratelim.ts.
 *
 * @module
 */
import type { ConnectOptions, LocalBind, Platform, TcpSocket, TlsConnectOptions } from "../platform.ts";
import {
  checkCallback,
  checkCount,
  checkEventBase,
  checkFlag,
  checkMs,
  checkNonEmptyString,
  checkObject,
  checkOneOf,
  checkPort,
  rangeError,
  typeError,
} from "../check.ts";
import { freedError } from "../errors.ts";
import { adopt, baseFreed, disown, Event, type EventBase } from "../event/event_base.ts";
import { EV_READ, EV_TIMEOUT, EV_WRITE } from "../event/flags.ts";
import { EvBuffer, type EvBufferCbEntry, type EvBufferCbInfo } from "./evbuffer.ts";
import { RateLimit, RateLimitGroup, TokenBucketConfig } from "./bufferevent_ratelim.ts";
import { SocketOps } from "./bufferevent_sock.ts";
import { linkPair } from "./bufferevent_pair.ts";
import { FilterOps } from "./bufferevent_filter.ts";
import { TlsOps } from "./bufferevent_tls.ts";

/** The event happened while reading (libevent `BEV_EVENT_READING`). */
export const BEV_EVENT_READING = 0x01;
/** The event happened while writing (libevent `BEV_EVENT_WRITING`). */
export const BEV_EVENT_WRITING = 0x02;
/** The peer closed its side: end of file (libevent `BEV_EVENT_EOF`). */
export const BEV_EVENT_EOF = 0x10;
/** An error; see {@linkcode BufferEvent.socketError} (libevent `BEV_EVENT_ERROR`). */
export const BEV_EVENT_ERROR = 0x20;
/** A read or write timeout elapsed (libevent `BEV_EVENT_TIMEOUT`). */
export const BEV_EVENT_TIMEOUT = 0x40;
/** A connect() finished (libevent `BEV_EVENT_CONNECTED`). */
export const BEV_EVENT_CONNECTED = 0x80;

/**
 * How hard {@linkcode BufferEvent.flush} pushes (libevent's
 * `enum bufferevent_flush_mode`): `"normal"` as usual (`BEV_NORMAL`),
 * `"flush"` past the watermarks (`BEV_FLUSH`), `"finished"` past them and
 * then signal the end of the stream (`BEV_FINISHED`).
 */
export type BufferEventFlushMode = "normal" | "flush" | "finished";

/** What a filter reports: libevent's `BEV_OK`, `BEV_NEED_MORE`, `BEV_ERROR`. */
export type BufferEventFilterResult = "ok" | "need_more" | "error";

/**
 * A filter for {@linkcode BufferEvent.filter}: libevent's
 * `bufferevent_filter_cb`. It moves (and transforms) bytes from `src` to
 * `dst`, putting at most `limit` bytes into `dst` when it can (`Infinity`
 * when there is no limit), and says whether it made progress (`"ok"`),
 * needs more input first (`"need_more"`), or failed (`"error"`). In
 * `"flush"` and `"finished"` mode it should emit everything it holds back;
 * `"finished"` also ends its output stream.
 */
export type BufferEventFilter = (
  src: EvBuffer,
  dst: EvBuffer,
  limit: number,
  mode: BufferEventFlushMode,
) => BufferEventFilterResult;

/** A read or write callback: libevent's `bufferevent_data_cb(bev, ctx)`. */
export type BufferEventDataCallback<A = unknown> = (bev: BufferEvent, arg: A) => void;

/** An event callback: libevent's `bufferevent_event_cb(bev, what, ctx)`; `what` mixes the `BEV_EVENT_*` flags. */
export type BufferEventEventCallback<A = unknown> = (bev: BufferEvent, what: number, arg: A) => void;

/** Options for the BufferEvent factories: libevent's `BEV_OPT_*` flags. */
export interface BufferEventOptions {
  /** Close the socket, or free the underlying BufferEvent, on free() (`BEV_OPT_CLOSE_ON_FREE`). Default false. */
  readonly closeOnFree?: boolean;
  /** Run the callbacks from a deferred event, never inside another callback (`BEV_OPT_DEFER_CALLBACKS`). Default false. */
  readonly deferCallbacks?: boolean;
}

/**
 * TLS as the client, for {@linkcode BufferEvent.tls} and
 * {@linkcode BufferEvent.tlsSocket}: libevent's `BUFFEREVENT_SSL_CONNECTING`,
 * with the SSL object's settings.
 */
export interface BufferEventTlsClientOptions {
  /** The TLS role: send the ClientHello and check the server's certificate. */
  readonly role: "client";
  /** The name to send in SNI and check the certificate against; defaults to the peer's address. */
  readonly serverName?: string;
  /** Extra trusted CA certificates, PEM. */
  readonly caCerts?: readonly string[];
  /** ALPN protocols to offer. */
  readonly alpnProtocols?: readonly string[];
}

/**
 * TLS as the server, for {@linkcode BufferEvent.tls} and
 * {@linkcode BufferEvent.tlsSocket}: libevent's `BUFFEREVENT_SSL_ACCEPTING`,
 * with the SSL object's certificate and key.
 */
export interface BufferEventTlsServerOptions {
  /** The TLS role: wait for the ClientHello and present the certificate. */
  readonly role: "server";
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /** ALPN protocols to accept. */
  readonly alpnProtocols?: readonly string[];
}

/** Which end of TLS a BufferEvent is, and its settings. */
export type BufferEventTlsOptions = BufferEventTlsClientOptions | BufferEventTlsServerOptions;

/**
 * Where a BufferEvent is in its life:
 * - `"idle"`: a socket BufferEvent with no socket yet;
 * - `"connecting"`: connect() / connectTls() is under way;
 * - `"open"`: bytes can flow;
 * - `"closed"`: the socket closed, a connect failed, or a pair's partner was freed;
 * - `"freed"`: free() was called.
 */
export type BufferEventState = "idle" | "connecting" | "open" | "closed" | "freed";

/** A low and a high watermark in bytes, from {@linkcode BufferEvent.getWatermark}; 0 for high means none. */
export interface BufferEventWatermark {
  /** The low watermark. */
  readonly low: number;
  /** The high watermark; 0 means unlimited. */
  readonly high: number;
}

// ================================================== the internal interface
//
// Not part of the public API: src/buffer/mod.ts lists what it exports, and
// none of what follows. A kind of BufferEvent is one file with a class that
// implements BufferEventOps; it reaches its own BufferEvent, and any other
// (a pair its partner, a filter its underlying), only through the
// BufferEventCore members marked "for kinds" below.

/** Reading is held back by the read high watermark (libevent `BEV_SUSPEND_WM`). */
export const SUSPEND_WM = 0x01;
/** Held back by the BufferEvent's own rate limit (libevent `BEV_SUSPEND_BW`). */
export const SUSPEND_BW = 0x02;
/** Held back by its rate-limit group (libevent `BEV_SUSPEND_BW_GROUP`). */
export const SUSPEND_BW_GROUP = 0x04;
/** Held back by a filter above it that wants no bytes now (libevent `BEV_SUSPEND_FILT_READ`). */
export const SUSPEND_FILT = 0x08;

/**
 * What a kind of BufferEvent implements: libevent's `struct
 * bufferevent_ops`, with the read and write events' work, which libevent
 * leaves to each kind too. The core owns callbacks, watermarks, timeouts,
 * deferral, the enabled and suspend bits and the read / write events; it
 * calls these to reach the transport.
 *
 * A kind's constructor takes the new BufferEvent's core and first installs
 * itself (`core.ops = this`); a public factory on {@linkcode BufferEvent}
 * makes the BufferEvent and then the kind. Properties that never change
 * are getters on the prototype, so an instance carries only its state.
 */
export interface BufferEventOps {
  /** The platform socket, or null (`bufferevent_getfd`, libevent's `BEV_CTRL_GET_FD`). */
  readonly socket: TcpSocket | null;
  /** The error behind the last `BEV_EVENT_ERROR`, or null. */
  readonly socketError: Error | null;
  /** The other end of a pair, or null (`bufferevent_pair_get_partner`). */
  readonly partner: BufferEvent | null;
  /** The BufferEvent this one reads and writes through, or null (`BEV_CTRL_GET_UNDERLYING`). */
  readonly underlying: BufferEvent | null;
  /**
   * Whether the transport has I/O of its own to wait for: then a read the
   * owner wants keeps the loop alive, as libevent's pending `ev_read`
   * does; otherwise the read timer is armed only for a read timeout.
   */
  readonly waitsForIo: boolean;
  /** Whether rate limits apply (setRateLimit and addToRateLimitGroup throw otherwise). */
  readonly rateLimitable: boolean;

  /** Whether more bytes can still come (no EOF or error told yet); asked only while reading is enabled and unsuspended. */
  readable(): boolean;
  /**
   * The core worked out again whether reading is wanted (enabled, not
   * suspended, readable): let the transport deliver or hold it back
   * (libevent's `enable` / `disable` for EV_READ). Called often; a kind
   * does something only when its own state changes.
   */
  adjustRead(wanted: boolean): void;
  /** Whether the read event has something to do: bytes, an EOF or an error waiting at the source. */
  readWaiting(): boolean;
  /**
   * The read event: bring what waits at the source into input (with
   * `core.gotInput`), then `core.readTurn()` for the read callback, then
   * what the kind tells after the bytes (EOF, errors).
   */
  onRead(): void;
  /** Whether the write event should stay pending: bytes to send and a write timeout, or I/O under way that holds the loop. */
  writeWanted(): boolean;
  /** Whether the transport takes bytes now; the core has checked that writing is enabled and unsuspended. */
  writable(): boolean;
  /**
   * The write event (run only while `core.canWrite()`): move output on,
   * then `core.wroteSome(true)` when bytes left, then `core.syncWrite()`.
   */
  onWrite(): void;
  /** {@linkcode BufferEvent.flush} after its checks (libevent `flush`). */
  flush(events: number, mode: BufferEventFlushMode): void;
  /**
   * connect() / connectTls() after their checks: start `open` on the
   * platform and report the result with `BEV_EVENT_CONNECTED` or
   * `BEV_EVENT_ERROR`. Kinds without it make connect() throw a TypeError.
   */
  connect?(op: string, open: (platform: Platform) => Promise<TcpSocket>): void;
  /**
   * Give the platform socket away, for TLS to start over it
   * (bufferevent_tls.ts): what output holds is written to the socket first,
   * the socket is paused, and what was received and not read (input, then
   * anything held back) comes with it, in order. The BufferEvent is left
   * `"closed"` without a socket and reports nothing more. Kinds without a
   * socket of their own leave it out; the TLS kind has it too, for TLS
   * inside TLS.
   *
   * @throws {TypeError} naming `op` when the connection is not open both
   * ways, or output holds file segments not yet sent
   */
  detachSocket?(op: string): DetachedSocket;
  /**
   * free() or abort(): the core has stopped the callbacks, events and rate
   * limits and taken its callbacks off the buffers; `was` is the state
   * before. Let the transport go and release output (libevent `unlink`
   * and `destruct`).
   */
  release(abort: boolean, was: BufferEventState): void;
}

/** A socket given away by {@linkcode BufferEventOps.detachSocket}, with the bytes that arrived on it and were not read. */
export interface DetachedSocket {
  /** The socket, started by its old owner and paused. */
  readonly socket: TcpSocket;
  /** What was received and not read, in order; empty when nothing was. */
  readonly head: Uint8Array;
}

/** The options the core keeps, checked. */
interface CoreOptions {
  readonly closeOnFree: boolean;
  readonly deferCallbacks: boolean;
}

// Deferred callbacks waiting to run.
const PENDING_READ = 0x01;
const PENDING_WRITE = 0x02;

const EMPTY = new Uint8Array(0);

const FLUSH_MODES: readonly BufferEventFlushMode[] = ["normal", "flush", "finished"];

// ========================================================= argument checks
//
// BufferEvent's own rules, in src/check.ts's message style; the common ones
// (counts, ports, strings, callbacks, the EventBase) come from there.

/** A mix of EV_READ and EV_WRITE. */
function checkEvents(events: unknown, name: string): number {
  if (typeof events === "number" && Number.isInteger(events) && (events & ~(EV_READ | EV_WRITE)) === 0) return events;
  const rule = "a mix of EV_READ and EV_WRITE";
  throw typeof events === "number" ? rangeError(name, rule, events) : typeError(name, rule, events);
}

/** A timeout in milliseconds; undefined or null is 0, none. */
function checkTimeout(value: unknown, name: string): number {
  return value === undefined || value === null ? 0 : checkMs(value, name);
}

function checkOptions(options: BufferEventOptions): CoreOptions {
  checkObject(options, "options");
  return {
    closeOnFree: checkFlag(options.closeOnFree, "options.closeOnFree"),
    deferCallbacks: checkFlag(options.deferCallbacks, "options.deferCallbacks"),
  };
}

function checkTarget(target: ConnectOptions): ConnectOptions {
  checkObject(target, "target");
  if (target.path !== undefined) {
    checkNonEmptyString(target.path, "target.path");
    return target;
  }
  checkNonEmptyString(target.host, "target.host");
  const port = checkPort(target.port, "target.port");
  return checkLocalBind({ ...target, port }, "target");
}

/**
 * A local address and port, when given, must be a non-empty string and a
 * port; returns the options with the ports as numbers (a port may be given
 * as a string of digits).
 */
function checkLocalBind<T extends LocalBind>(options: T, name: string): T {
  const { localAddress, localPort } = options;
  if (localAddress !== undefined) checkNonEmptyString(localAddress, `${name}.localAddress`);
  if (localPort === undefined) return options;
  return { ...options, localPort: checkPort(localPort, `${name}.localPort`) };
}

/** Undefined, or an array of non-empty strings. */
function checkStringList(value: unknown, name: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.every((v) => typeof v === "string" && v !== "")) return value;
  throw typeError(name, "an array of non-empty strings", value);
}

/** TLS settings for the TLS kind: a role and what that role needs, each of the right type. */
function checkTls(tls: BufferEventTlsOptions): BufferEventTlsOptions {
  checkObject(tls, "tls");
  const role = checkOneOf(tls.role, "tls.role", ["client", "server"]);
  const alpnProtocols = checkStringList(tls.alpnProtocols, "tls.alpnProtocols");
  if (role === "server") {
    const { cert, key } = tls as BufferEventTlsServerOptions;
    return {
      role,
      cert: checkNonEmptyString(cert, "tls.cert"),
      key: checkNonEmptyString(key, "tls.key"),
      alpnProtocols,
    };
  }
  const { serverName, caCerts } = tls as BufferEventTlsClientOptions;
  if (serverName !== undefined) checkNonEmptyString(serverName, "tls.serverName");
  return { role, serverName, caCerts: checkStringList(caCerts, "tls.caCerts"), alpnProtocols };
}

/** A token count for a decrement: any safe integer; negative gives tokens back. */
export function checkTokens(n: unknown): void {
  if (typeof n === "number" && Number.isSafeInteger(n)) return;
  throw typeof n === "number" ? rangeError("n", "a safe integer", n) : typeError("n", "a safe integer", n);
}

// ============================================================ BufferEvent

/**
 * A buffered connection: libevent's `struct bufferevent`. Bytes from the
 * transport land in {@linkcode BufferEvent.input}; bytes put in
 * {@linkcode BufferEvent.output} are sent. The read callback runs on the
 * loop when input holds at least the read low watermark, the write callback
 * when output has drained to the write low watermark, and the event
 * callback on CONNECTED, EOF, ERROR and TIMEOUT.
 *
 * Four kinds, made by static factories: {@linkcode BufferEvent.socket}
 * over a platform socket (plain or TLS), {@linkcode BufferEvent.pair} for
 * two linked in-memory ends, {@linkcode BufferEvent.filter} over
 * another BufferEvent, and {@linkcode BufferEvent.tls} /
 * {@linkcode BufferEvent.tlsSocket} for TLS started over a connection
 * that began in plain text. As in libevent, a new BufferEvent has writing
 * enabled and reading disabled.
 *
 * Memory stays bounded: at the read high watermark, a socket BufferEvent
 * pauses its socket (the kernel buffer fills and the peer's writes block),
 * and output is handed to the socket only while it has not asked to wait.
 *
 * @example
 * ```ts
 * import { EV_READ, EventBase } from "@levent/levent/event";
 * import { BEV_EVENT_CONNECTED, BufferEvent } from "@levent/levent/buffer";
 * const base = new EventBase();
 * const bev = BufferEvent.socket(base, null, { closeOnFree: true });
 * bev.setCallbacks(
 *   (b) => console.log(new TextDecoder().decode(b.read())),
 *   null,
 *   (b, what) => {
 *     if (what & BEV_EVENT_CONNECTED) b.write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
 *     else b.free(); // EOF, error or timeout
 *   },
 * );
 * bev.enable(EV_READ);
 * bev.connect({ host: "example.com", port: 80 });
 * await base.dispatch(); // returns once the connection is freed
 * ```
 */
export class BufferEvent {
  // The public face: argument checks, then the core. The core and the kind
  // behind it are reachable only here, so the factories below are where
  // BufferEvents are linked to each other.
  readonly #core: BufferEventCore;

  private constructor(base: EventBase, options: CoreOptions, op: string) {
    if (baseFreed(base)) throw freedError(`BufferEvent.${op}`, "EventBase");
    this.#core = new BufferEventCore(this, base, options);
  }

  // ------------------------------------------------------------ factories

  /**
   * A BufferEvent over a platform socket (libevent `bufferevent_socket_new`).
   * With a socket (accepted by `platform.listen` or `platform.listenTls`, or
   * connected by the caller) it starts at once in state `"open"`; with null,
   * call {@linkcode BufferEvent.connect} or {@linkcode BufferEvent.connectTls}.
   * The BufferEvent starts the socket with its own handlers; reading stays
   * paused until `enable(EV_READ)`.
   *
   * @throws {TypeError} if base is not an EventBase, socket is not a TcpSocket or null, or options are malformed
   * @throws {LeventError} `ERR_FREED` if the base was freed
   */
  static socket(base: EventBase, socket: TcpSocket | null, options: BufferEventOptions = {}): BufferEvent {
    checkEventBase(base, "base");
    if (socket !== null && (typeof socket !== "object" || typeof socket.start !== "function")) {
      throw typeError("socket", "a TcpSocket or null", socket);
    }
    const core = new BufferEvent(base, checkOptions(options), "socket").#core;
    const ops = new SocketOps(core);
    if (socket !== null) ops.attach(socket);
    return core.bev;
  }

  /**
   * Two linked in-memory BufferEvents (libevent `bufferevent_pair_new`):
   * bytes written to one's output are moved, without copying, into the
   * other's input, as far as the receiver's read high watermark allows and
   * while the receiver reads and the sender writes. Callbacks are always
   * deferred, as in libevent. Freeing one end gives the other its remaining
   * bytes and then an event callback with `READING|EOF`.
   *
   * @throws {TypeError} if base is not an EventBase or options are malformed
   * @throws {LeventError} `ERR_FREED` if the base was freed
   */
  static pair(base: EventBase, options: BufferEventOptions = {}): [BufferEvent, BufferEvent] {
    checkEventBase(base, "base");
    const opts = { ...checkOptions(options), deferCallbacks: true };
    const a = new BufferEvent(base, opts, "pair").#core;
    const b = new BufferEvent(base, opts, "pair").#core;
    linkPair(a, b);
    return [a.bev, b.bev];
  }

  /**
   * A BufferEvent that sees `underlying` through filters (libevent
   * `bufferevent_filter_new`): the input filter moves bytes from
   * `underlying.input` to this input, the output filter from this output to
   * `underlying.output`; null passes bytes through unchanged. The filter
   * takes over the underlying's callbacks and enables its reading and
   * writing; the underlying reads only while this BufferEvent wants data.
   * A filter returning `"error"` disables that direction and raises
   * `READING|ERROR` or `WRITING|ERROR`. With closeOnFree, free() frees the
   * underlying too.
   *
   * @throws {TypeError} if underlying is not a BufferEvent, a filter is neither a function nor null, or options are malformed
   * @throws {LeventError} `ERR_FREED` if underlying was freed
   */
  static filter(
    underlying: BufferEvent,
    inputFilter: BufferEventFilter | null,
    outputFilter: BufferEventFilter | null,
    options: BufferEventOptions = {},
  ): BufferEvent {
    if (!(underlying instanceof BufferEvent)) throw typeError("underlying", "a BufferEvent", underlying);
    const lower = underlying.#core;
    lower.checkLive("filter");
    checkCallback(inputFilter, "inputFilter");
    checkCallback(outputFilter, "outputFilter");
    const core = new BufferEvent(lower.base, checkOptions(options), "filter").#core;
    new FilterOps(core, lower, inputFilter, outputFilter);
    return core.bev;
  }

  /**
   * Start TLS over the connection of `underlying`, an open socket
   * BufferEvent (libevent `bufferevent_openssl_filter_new(base,
   * underlying, ssl, BUFFEREVENT_SSL_CONNECTING` or
   * `BUFFEREVENT_SSL_ACCEPTING, options)`): for STARTTLS in protocols that
   * begin in plain text (SMTP, IMAP), TLS through a proxy's CONNECT
   * tunnel, or a server that looked at a connection's first bytes before
   * choosing TLS. `tls.role` says which end this is.
   *
   * The new BufferEvent reads and writes plaintext. It takes the
   * connection from `underlying`: what underlying's output holds is sent
   * first, as it is, and what its input holds unread (a ClientHello that
   * came with the STARTTLS command) goes to TLS first. The handshake runs
   * at once (state `"connecting"`; bytes written meanwhile are sent after
   * it); the event callback then gets `BEV_EVENT_CONNECTED`, or
   * `BEV_EVENT_ERROR` with {@linkcode BufferEvent.socketError}'s code
   * `"ETLS"` (an untrusted or misnamed certificate, a peer that does not
   * speak TLS) or `"ECONNRESET"`. `underlying` is left `"closed"`, without
   * a socket, and reports nothing more; {@linkcode BufferEvent.getUnderlying}
   * returns it, and with closeOnFree, free() frees it too, as libevent's
   * filters do. Otherwise the new BufferEvent behaves as a socket
   * BufferEvent: watermarks, timeouts, rate limits, flush("finished"),
   * free() and abort(). See `Platform.startTls` for how each runtime does it.
   *
   * @example
   * ```ts ignore
   * // A STARTTLS server: after "STARTTLS\r\n" and the reply, TLS.
   * plain.write("220 Ready to start TLS\r\n");
   * const secure = BufferEvent.tls(plain, { role: "server", cert, key }, { closeOnFree: true });
   * secure.setCallbacks(onRead, null, (bev, what) => {
   *   if (what & BEV_EVENT_CONNECTED) return; // the handshake is done
   *   bev.free(); // ERROR (socketError.code "ETLS"), EOF or TIMEOUT
   * });
   * secure.enable(EV_READ);
   * ```
   *
   * @throws {TypeError} if underlying is not a socket BufferEvent whose connection is open both ways (or its output holds file segments not yet sent), tls is malformed (naming the field: `tls.role`, `tls.cert`...), or options are malformed; underlying freed throws as any of its methods would
   */
  static tls(underlying: BufferEvent, tls: BufferEventTlsOptions, options: BufferEventOptions = {}): BufferEvent {
    if (!(underlying instanceof BufferEvent)) throw typeError("underlying", "a BufferEvent", underlying);
    const lower = underlying.#core;
    lower.checkLive("tls");
    const checked = checkTls(tls);
    const opts = checkOptions(options);
    const ops = lower.ops;
    if (ops.detachSocket === undefined) throw new TypeError("tls: underlying must be a socket BufferEvent");
    const { socket, head } = ops.detachSocket("tls");
    const core = new BufferEvent(lower.base, opts, "tls").#core;
    new TlsOps(core, lower).start("tls", (platform) => platform.startTls(socket, { ...checked, head }));
    return core.bev;
  }

  /**
   * A BufferEvent that starts TLS over `socket`, a plain platform socket
   * not yet started, connected or accepted by the caller (libevent
   * `bufferevent_openssl_socket_new(base, fd, ssl,
   * BUFFEREVENT_SSL_CONNECTING` or `BUFFEREVENT_SSL_ACCEPTING, options)`):
   * for example a server that accepts TLS on a plain listener. As
   * {@linkcode BufferEvent.tls}: the handshake runs at once, then
   * `BEV_EVENT_CONNECTED`, or `BEV_EVENT_ERROR` with socketError's code
   * `"ETLS"`; with closeOnFree, free() closes the connection. (For a TLS
   * client connection, {@linkcode BufferEvent.connectTls} dials and
   * handshakes in one; for a TLS listener, `platform.listenTls`.)
   *
   * @throws {TypeError} if base is not an EventBase, socket is not a TcpSocket, tls is malformed (naming the field), or options are malformed
   * @throws {LeventError} `ERR_FREED` if the base was freed
   */
  static tlsSocket(
    base: EventBase,
    socket: TcpSocket,
    tls: BufferEventTlsOptions,
    options: BufferEventOptions = {},
  ): BufferEvent {
    checkEventBase(base, "base");
    if (socket === null || typeof socket !== "object" || typeof socket.start !== "function") {
      throw typeError("socket", "a TcpSocket", socket);
    }
    const checked = checkTls(tls);
    const core = new BufferEvent(base, checkOptions(options), "tlsSocket").#core;
    new TlsOps(core, null).start("tlsSocket", (platform) => platform.startTls(socket, checked));
    return core.bev;
  }

  // ------------------------------------------------------------- accessors

  /** The bytes received and not yet read (libevent `bufferevent_get_input`). */
  get input(): EvBuffer {
    return this.#core.input;
  }

  /**
   * The bytes waiting to be sent (libevent `bufferevent_get_output`). When a
   * socket BufferEvent's connection closes, what output still holds is
   * dropped, since nothing can send it, and its file handles are closed.
   */
  get output(): EvBuffer {
    return this.#core.output;
  }

  /** The loop the callbacks run on (libevent `bufferevent_get_base`). */
  get base(): EventBase {
    return this.#core.base;
  }

  /**
   * The platform socket, or null before connect and for pairs and filters
   * (libevent `bufferevent_getfd`).
   */
  get socket(): TcpSocket | null {
    return this.#core.ops.socket;
  }

  /**
   * The error behind the last `BEV_EVENT_ERROR`: a coded Error from the
   * platform (`err.code` is `"ECONNREFUSED"`, `"ECONNRESET"`, `"ETLS"`...),
   * or null (libevent `bufferevent_socket_get_error` / `EVUTIL_SOCKET_ERROR`).
   * A filter reports its underlying BufferEvent's.
   */
  get socketError(): Error | null {
    return this.#core.ops.socketError;
  }

  /** Where the BufferEvent is in its life; see {@linkcode BufferEventState}. */
  get state(): BufferEventState {
    return this.#core.state;
  }

  /** The other end of a pair, or null (libevent `bufferevent_pair_get_partner`). */
  getPartner(): BufferEvent | null {
    return this.#core.ops.partner;
  }

  /** The BufferEvent a filter reads and writes through, or null (libevent `bufferevent_get_underlying`). */
  getUnderlying(): BufferEvent | null {
    return this.#core.ops.underlying;
  }

  /** Which of EV_READ and EV_WRITE are enabled (libevent `bufferevent_get_enabled`). */
  getEnabled(): number {
    return this.#core.enabled;
  }

  /**
   * The low and high watermark for EV_READ or EV_WRITE (libevent
   * `bufferevent_getwatermark`).
   *
   * @throws {RangeError} unless events is exactly EV_READ or EV_WRITE
   * @throws {TypeError} if events is not a number
   */
  getWatermark(events: number): BufferEventWatermark {
    if (events !== EV_READ && events !== EV_WRITE) {
      const rule = "EV_READ or EV_WRITE";
      throw typeof events === "number" ? rangeError("events", rule, events) : typeError("events", rule, events);
    }
    return this.#core.getWatermark(events);
  }

  // ------------------------------------------------------------ callbacks

  /**
   * Set the callbacks and their argument (libevent `bufferevent_setcb`);
   * null turns one off. `readcb(bev, arg)` runs when input holds at least
   * the read low watermark after bytes arrived, `writecb(bev, arg)` when
   * output drained to the write low watermark, `eventcb(bev, what, arg)` on
   * the `BEV_EVENT_*` events. All run on the loop.
   *
   * @throws {TypeError} if a callback is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  setCallbacks<A = unknown>(
    readcb: BufferEventDataCallback<A> | null,
    writecb: BufferEventDataCallback<A> | null,
    eventcb: BufferEventEventCallback<A> | null,
    arg?: A,
  ): void {
    this.#core.checkLive("setCallbacks");
    checkCallback(readcb, "readcb");
    checkCallback(writecb, "writecb");
    checkCallback(eventcb, "eventcb");
    this.#core.setCallbacks(readcb, writecb, eventcb, arg);
  }

  // ------------------------------------------------------------- enabling

  /**
   * Start reading and/or writing (libevent `bufferevent_enable`). Enabling
   * restarts that direction's timeout.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE
   * @throws {TypeError} if events is not a number
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  enable(events: number): void {
    checkEvents(events, "events");
    this.#core.checkLive("enable");
    this.#core.enable(events);
  }

  /**
   * Stop reading and/or writing (libevent `bufferevent_disable`). A socket
   * BufferEvent with reading disabled pauses its socket.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE
   * @throws {TypeError} if events is not a number
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  disable(events: number): void {
    checkEvents(events, "events");
    this.#core.checkLive("disable");
    this.#core.disable(events);
  }

  /**
   * Set the watermarks for EV_READ and/or EV_WRITE (libevent
   * `bufferevent_setwatermark`). Read low: the read callback waits until
   * input holds this many bytes. Read high (0 = none): input never grows
   * past it; a socket is paused meanwhile. Write low: the write callback
   * runs once output is this small. Write high: a filter above this
   * BufferEvent stops filling its output at this size.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE, a mark is not an integer >= 0, or low > high with high set
   * @throws {TypeError} if events or a mark is not a number
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  setWatermark(events: number, low: number, high: number): void {
    checkEvents(events, "events");
    checkCount(low, "low");
    checkCount(high, "high");
    if (high > 0 && low > high) throw new RangeError(`low (${low}) must not be above high (${high})`);
    this.#core.checkLive("setWatermark");
    this.#core.setWatermark(events, low, high);
  }

  /**
   * Set the read and write timeouts in milliseconds; 0 or undefined means
   * none (libevent `bufferevent_set_timeouts`). The read timeout fires when
   * reading is enabled and nothing arrived for that long; the write timeout
   * when there are bytes to send (in output, or in a socket queue that
   * asked us to wait) and none went out for that long. Either one raises
   * `READING|TIMEOUT` or `WRITING|TIMEOUT` and disables that direction; a
   * write timeout during connect limits the connect. Setting a timeout
   * restarts it.
   *
   * @throws {RangeError} if a timeout is negative or not a finite number
   * @throws {TypeError} if a timeout is neither a number nor undefined
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  setTimeouts(readMs?: number, writeMs?: number): void {
    const r = checkTimeout(readMs, "readMs");
    const w = checkTimeout(writeMs, "writeMs");
    this.#core.checkLive("setTimeouts");
    this.#core.setTimeouts(r, w);
  }

  // -------------------------------------------------------------- reading

  /**
   * Take up to `max` bytes (default: all) from the front of input (libevent
   * `bufferevent_read`). The result may share memory with the bytes as they
   * arrived, so it costs no copy when they are in one piece.
   *
   * @throws {RangeError} if max is not an integer >= 0
   * @throws {TypeError} if max is neither a number nor undefined
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  read(max?: number): Uint8Array {
    if (max !== undefined) checkCount(max, "max");
    this.#core.checkLive("read");
    const input = this.#core.input;
    let n = input.length;
    if (max !== undefined && max < n) n = max;
    if (n === 0) return EMPTY;
    const bytes = input.pullup(n);
    input.drain(n);
    return bytes;
  }

  /**
   * Move all of input to the end of `dst` without copying (libevent
   * `bufferevent_read_buffer`).
   *
   * @returns the number of bytes moved
   * @throws {TypeError} if dst is not an EvBuffer
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  readBuffer(dst: EvBuffer): number {
    if (!(dst instanceof EvBuffer)) throw typeError("dst", "an EvBuffer", dst);
    this.#core.checkLive("readBuffer");
    const input = this.#core.input;
    const n = input.length;
    dst.addBuffer(input);
    return n;
  }

  // -------------------------------------------------------------- writing

  /**
   * Queue bytes or a string (as UTF-8) for sending (libevent
   * `bufferevent_write`). Bytes are kept, not copied (see EvBuffer.add):
   * do not change them afterwards. Writes made in one loop pass go out
   * together.
   *
   * @throws {TypeError} if data is neither a Uint8Array nor a string
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  write(data: Uint8Array | string): void {
    const core = this.#core;
    core.checkLive("write");
    if (typeof data === "string") core.output.addString(data);
    else if (data instanceof Uint8Array) core.output.add(data);
    else throw typeError("data", "a Uint8Array or a string", data);
  }

  /**
   * Move all bytes of `src` to the end of output without copying (libevent
   * `bufferevent_write_buffer`).
   *
   * @throws {TypeError} if src is not an EvBuffer
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  writeBuffer(src: EvBuffer): void {
    if (!(src instanceof EvBuffer)) throw typeError("src", "an EvBuffer", src);
    this.#core.checkLive("writeBuffer");
    this.#core.output.addBuffer(src);
  }

  /**
   * Push data through now, past the watermarks where the mode says so
   * (libevent `bufferevent_flush`).
   *
   * - socket: EV_WRITE sends output on the loop's next pass; with
   *   `"finished"` the socket is shut for writing (FIN) once output is sent.
   * - pair: `"flush"` and `"finished"` move bytes to the partner regardless
   *   of its watermark (EV_WRITE: ours to it, EV_READ: its to us);
   *   `"finished"` then gives the partner `EOF` (with READING for EV_WRITE,
   *   WRITING for EV_READ).
   * - filter: runs the filters in this mode (so a compressor can emit what
   *   it holds, or end its stream), then flushes the underlying BufferEvent.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE
   * @throws {TypeError} if events is not a number or mode is not one of the three
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  flush(events: number, mode: BufferEventFlushMode = "flush"): void {
    checkEvents(events, "events");
    checkOneOf(mode, "mode", FLUSH_MODES);
    this.#core.checkLive("flush");
    this.#core.ops.flush(events, mode);
  }

  // ----------------------------------------------------------- connecting

  /**
   * Connect to a host and port, or a Unix socket path (libevent
   * `bufferevent_socket_connect` / `bufferevent_socket_connect_hostname`;
   * the name is resolved by the platform). The result comes through the
   * event callback: `BEV_EVENT_CONNECTED`, or `BEV_EVENT_ERROR` with
   * {@linkcode BufferEvent.socketError} set (`ECONNREFUSED`, `ENOTFOUND`...).
   * Bytes written meanwhile are sent once connected.
   *
   * @throws {TypeError} if target is malformed, this is not a socket BufferEvent, or it has a socket already
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   * @throws {RangeError} if target.port is not in 0..65535
   */
  connect(target: ConnectOptions): void {
    const checked = checkTarget(target);
    this.#core.connect("connect", (platform) => platform.connect(checked));
  }

  /**
   * Connect over TLS (libevent `bufferevent_openssl_socket_new` with
   * `BUFFEREVENT_SSL_CONNECTING`, then connect): like
   * {@linkcode BufferEvent.connect}, with the handshake done by the
   * platform before CONNECTED. A handshake or certificate failure raises
   * `BEV_EVENT_ERROR` with socketError's code `"ETLS"`. For the server side,
   * pass a socket accepted by `platform.listenTls` to
   * {@linkcode BufferEvent.socket}.
   *
   * @throws {TypeError} if options are malformed, this is not a socket BufferEvent, or it has a socket already
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   * @throws {RangeError} if options.port is not in 0..65535
   */
  connectTls(options: TlsConnectOptions): void {
    checkObject(options, "options");
    checkNonEmptyString(options.host, "options.host");
    const port = checkPort(options.port, "options.port");
    const checked = checkLocalBind({ ...options, port }, "options");
    this.#core.connect("connectTls", (platform) => platform.connectTls(checked));
  }

  // ------------------------------------------------------------- freeing

  /**
   * Release the BufferEvent (libevent `bufferevent_free`). Callbacks stop at
   * once. With closeOnFree, a socket BufferEvent still sends what is in
   * output, then shuts the socket (FIN) and discards what arrives until the
   * peer closes; a filter frees its underlying BufferEvent. Without it, the
   * socket is paused and left open to its owner, and unsent output is
   * dropped. A pair end hands its remaining output to the partner, which
   * then sees `READING|EOF`. Calling free() or abort() again does nothing;
   * the getters still answer, and any other method throws a LeventError
   * with code `ERR_FREED`. Freeing the base frees the BufferEvent too.
   *
   * While a socket BufferEvent lingers to send its output, the base's loop
   * keeps running, as for a pending event: `dispatch()` returns (and a
   * program that then exits loses nothing) only once every byte, file
   * segments included, is with the kernel and FIN is out, or the connection
   * failed or closed. The discarding read after that does not hold the loop.
   * Output that will not be sent is released at once, closing the file
   * handles of its file segments. To drop output and reset the connection
   * instead, use {@linkcode BufferEvent.abort}.
   */
  free(): void {
    this.#core.release(false);
  }

  /**
   * Abort the connection and release the BufferEvent: what libevent programs
   * do by setting `SO_LINGER` to {1, 0} on `bufferevent_getfd(bev)` and then
   * calling `bufferevent_free()` with `BEV_OPT_CLOSE_ON_FREE`. Callbacks stop
   * at once; nothing more is sent, what output holds is dropped (file
   * segments' handles are closed), and the peer sees a reset (RST) instead
   * of an orderly end, so it cannot take a cut stream for a whole one.
   * Where the runtime cannot send RST (Deno; Unix and, on Node and Deno, TLS
   * sockets), the socket is closed at once instead (see `TcpSocket.reset`).
   *
   * A socket BufferEvent resets its socket whether or not it has
   * closeOnFree; a pair end gives its partner `READING|ERROR` with a
   * socketError whose code is `"ECONNRESET"` (not the EOF that free() gives)
   * and hands it nothing more; a filter aborts its underlying BufferEvent
   * when it owns it (closeOnFree), and otherwise is freed as by free().
   * Calling abort() or free() again does nothing.
   *
   * @example
   * ```ts ignore
   * // A proxy passing an upstream reset on to its client as a reset.
   * if (what & BEV_EVENT_ERROR && (upstream.socketError as { code?: string } | null)?.code === "ECONNRESET") {
   *   client.abort();
   *   upstream.free();
   * }
   * ```
   */
  abort(): void {
    this.#core.release(true);
  }

  /** {@linkcode BufferEvent.free}, for `using`. */
  [Symbol.dispose](): void {
    this.free();
  }

  // ---------------------------------------------------------- rate limits

  /**
   * Limit this BufferEvent's reading and writing with its own token bucket,
   * or lift the limit with null (libevent `bufferevent_set_rate_limit`).
   * Bytes the socket delivers beyond the read budget wait, with the socket
   * paused, and enter input as tokens come in each tick; writes send at most
   * the write budget per tick. Refills run on a timer of the base at tick
   * boundaries. Socket BufferEvents only.
   *
   * @throws {TypeError} if cfg is neither a TokenBucketConfig nor null, or this is not a socket BufferEvent
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  setRateLimit(cfg: TokenBucketConfig | null): void {
    if (cfg !== null && !(cfg instanceof TokenBucketConfig)) throw typeError("cfg", "a TokenBucketConfig or null", cfg);
    this.#core.checkRateLimitable("setRateLimit");
    this.#core.setRateLimit(cfg);
  }

  /**
   * Make this BufferEvent share `group`'s bucket too, leaving any group it
   * was in (libevent `bufferevent_add_to_rate_limit_group`). Socket
   * BufferEvents only.
   *
   * @throws {TypeError} if group is not a RateLimitGroup of this base, or this is not a socket BufferEvent
   * @throws {LeventError} `ERR_FREED` once the BufferEvent or the group was freed
   */
  addToRateLimitGroup(group: RateLimitGroup): void {
    if (!(group instanceof RateLimitGroup)) throw typeError("group", "a RateLimitGroup", group);
    this.#core.checkRateLimitable("addToRateLimitGroup");
    this.#core.addToRateLimitGroup(group);
  }

  /**
   * Leave the rate-limit group, if any (libevent
   * `bufferevent_remove_from_rate_limit_group`).
   *
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  removeFromRateLimitGroup(): void {
    this.#core.checkLive("removeFromRateLimitGroup");
    this.#core.removeFromRateLimitGroup();
  }

  /**
   * Read tokens left in this BufferEvent's own bucket; Infinity without a
   * rate limit (libevent `bufferevent_get_read_limit`).
   */
  getReadLimit(): number {
    return this.#core.rateLimit?.readLimit() ?? Infinity;
  }

  /**
   * Write tokens left in this BufferEvent's own bucket; Infinity without a
   * rate limit (libevent `bufferevent_get_write_limit`).
   */
  getWriteLimit(): number {
    return this.#core.rateLimit?.writeLimit() ?? Infinity;
  }

  /**
   * The most bytes that may enter input now under the rate limits: the own
   * bucket and the group's share, whichever is smaller; Infinity without
   * limits (libevent `bufferevent_get_max_to_read`).
   */
  getMaxToRead(): number {
    return this.#core.rateLimit?.maxToRead() ?? Infinity;
  }

  /**
   * The most bytes that may be sent now under the rate limits; Infinity
   * without limits (libevent `bufferevent_get_max_to_write`).
   */
  getMaxToWrite(): number {
    return this.#core.rateLimit?.maxToWrite() ?? Infinity;
  }

  /**
   * Take `n` tokens from this BufferEvent's read bucket (negative gives
   * some back), for bytes read another way (libevent
   * `bufferevent_decrement_read_limit`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if n is not a number, or no rate limit is set
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  decrementReadLimit(n: number): void {
    checkTokens(n);
    this.#core.decrementLimit(n, true, "decrementReadLimit");
  }

  /**
   * Take `n` tokens from this BufferEvent's write bucket (negative gives
   * some back) (libevent `bufferevent_decrement_write_limit`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if n is not a number, or no rate limit is set
   * @throws {LeventError} `ERR_FREED` once the BufferEvent was freed
   */
  decrementWriteLimit(n: number): void {
    checkTokens(n);
    this.#core.decrementLimit(n, false, "decrementWriteLimit");
  }
}

// ====================================================== BufferEventCore

/**
 * The core of a BufferEvent, the state libevent keeps in `struct
 * bufferevent_private` and the work of bufferevent.c: callbacks and their
 * deferral, watermarks, timeouts, the enabled and suspend bits, and the
 * read and write events, which run the kind's `onRead` / `onWrite`.
 * {@linkcode BufferEvent} checks its arguments and calls in here; the
 * kind (`ops`) drives the transport and uses the members marked "for
 * kinds".
 */
export class BufferEventCore {
  static readonly #readEventCb = (_s: unknown, _w: number, core: BufferEventCore): void => {
    if (core.state !== "freed") core.ops.onRead();
  };
  static readonly #writeEventCb = (_s: unknown, _w: number, core: BufferEventCore): void => {
    if (core.canWrite()) core.ops.onWrite();
  };
  static readonly #readTimerCb = (_s: unknown, _w: number, core: BufferEventCore): void => core.#onReadTimer();
  static readonly #writeTimerCb = (_s: unknown, _w: number, core: BufferEventCore): void => core.#onWriteTimer();
  static readonly #deferredCb = (_s: unknown, _w: number, core: BufferEventCore): void => core.#onDeferred();

  /** For kinds: the public object, which the callbacks are given. */
  readonly bev: BufferEvent;
  /** For kinds: the loop. */
  readonly base: EventBase;
  /** For kinds: the bytes received (what `bev.input` is). */
  readonly input: EvBuffer = new EvBuffer();
  /** For kinds: the bytes to send (what `bev.output` is). */
  readonly output: EvBuffer = new EvBuffer();
  /** For kinds: `BEV_OPT_CLOSE_ON_FREE`. */
  readonly closeOnFree: boolean;
  /** The kind; installed by the kind's constructor. */
  ops!: BufferEventOps;
  /** For kinds: where the BufferEvent is in its life; kinds move it among the states before `"freed"`. */
  state: BufferEventState = "idle";

  readonly #defer: boolean;
  readonly #outputCb: EvBufferCbEntry;
  /** Watches input for the read high watermark; only registered once one is set. */
  #inputCb: EvBufferCbEntry | null = null;

  #readcb: BufferEventDataCallback<unknown> | null = null;
  #writecb: BufferEventDataCallback<unknown> | null = null;
  #eventcb: BufferEventEventCallback<unknown> | null = null;
  #cbArg: unknown = undefined;

  #enabled = EV_WRITE;
  #readSuspend = 0;
  #writeSuspend = 0;
  #wmReadLow = 0;
  #wmReadHigh = 0;
  #wmWriteLow = 0;
  #wmWriteHigh = 0;
  #readTimeout = 0;
  #writeTimeout = 0;
  /** Clock time of the last read / write progress, for the lazily checked timeouts. */
  #lastRead = 0;
  #lastWrite = 0;

  // Events: the read and write events run the kind's work on the loop; the
  // timers are pending while reading / writing is wanted (keeping the loop
  // alive, as libevent's ev_read / ev_write do) and carry the timeouts;
  // #cbEv() runs queued callbacks.
  readonly #readEv: Event<BufferEventCore>;
  readonly #writeEv: Event<BufferEventCore>;
  // Made on first use: most connections never defer a callback, and only
  // those with output waiting need a write timer; an idle one then holds less.
  #cbEvent: Event<BufferEventCore> | null = null;
  readonly #readTimer: Event<BufferEventCore>;
  #writeTimerEvent: Event<BufferEventCore> | null = null;
  #readPending = false;
  #writePending = false;
  /** Bytes entered input since the read callback last had its chance. */
  #inputFresh = false;
  #pendingCbs = 0;
  #pendingEvents = 0;
  /** Rate limits, while a config or a group is set. */
  #rl: RateLimit | null = null;

  constructor(bev: BufferEvent, base: EventBase, options: CoreOptions) {
    this.bev = bev;
    this.base = base;
    this.closeOnFree = options.closeOnFree;
    this.#defer = options.deferCallbacks;
    // Static callbacks with the core as the argument: no closures per instance.
    this.#readEv = new Event<BufferEventCore>(base, null, 0, BufferEventCore.#readEventCb, this);
    this.#writeEv = new Event<BufferEventCore>(base, null, 0, BufferEventCore.#writeEventCb, this);
    this.#readTimer = new Event<BufferEventCore>(base, null, 0, BufferEventCore.#readTimerCb, this);
    this.#outputCb = this.output.addCb(this.#onOutputChange);
    adopt(base, this.#releaseByBase);
  }

  // ------------------------------------------------------------- for kinds

  /** Which of EV_READ and EV_WRITE are enabled. */
  get enabled(): number {
    return this.#enabled;
  }

  /** Why reading is held back: a mix of the SUSPEND_* bits, 0 when it is not. */
  get readSuspend(): number {
    return this.#readSuspend;
  }

  /** Why writing is held back: a mix of the SUSPEND_* bits. */
  get writeSuspend(): number {
    return this.#writeSuspend;
  }

  /** The read high watermark; 0 for none. */
  get wmReadHigh(): number {
    return this.#wmReadHigh;
  }

  /** The write high watermark; 0 for none. */
  get wmWriteHigh(): number {
    return this.#wmWriteHigh;
  }

  /** The write timeout in milliseconds; 0 for none. */
  get writeTimeout(): number {
    return this.#writeTimeout;
  }

  /** The rate limits, or null when none is set. */
  get rateLimit(): RateLimit | null {
    return this.#rl;
  }

  /** @throws {LeventError} `ERR_FREED`, naming `op`, if the BufferEvent was freed */
  checkLive(op: string): void {
    if (this.state === "freed") throw freedError(op, "BufferEvent");
  }

  /** A method, not a field test, so TypeScript does not narrow the state away across user callbacks. */
  isFreed(): boolean {
    return this.state === "freed";
  }

  /** Whether the event callback is `cb` with `arg`: a filter checks it still owns its underlying's callbacks. */
  eventCallbackIs(cb: unknown, arg: unknown): boolean {
    return this.#eventcb === cb && this.#cbArg === arg;
  }

  /** Hold reading back for `bit` (libevent `bufferevent_suspend_read_`). */
  suspendRead(bit: number): void {
    if ((this.#readSuspend & bit) !== 0) return;
    this.#readSuspend |= bit;
    this.syncRead();
  }

  /** Stop holding reading back for `bit` (libevent `bufferevent_unsuspend_read_`). */
  unsuspendRead(bit: number): void {
    if ((this.#readSuspend & bit) === 0) return;
    this.#readSuspend &= ~bit;
    this.syncRead();
    if (this.#readSuspend === 0) this.#kickRead();
  }

  /** Hold writing back for `bit` (libevent `bufferevent_suspend_write_`). */
  suspendWrite(bit: number): void {
    const was = this.#writeSuspend;
    this.#writeSuspend |= bit;
    if (was === 0) this.syncWrite();
  }

  /** Stop holding writing back for `bit` (libevent `bufferevent_unsuspend_write_`). */
  unsuspendWrite(bit: number): void {
    if ((this.#writeSuspend & bit) === 0) return;
    this.#writeSuspend &= ~bit;
    if (this.#writeSuspend !== 0) return;
    this.syncWrite();
    this.kickWrite();
  }

  /** Bring the read timer, and through the kind the transport, in line with the current state. */
  syncRead(): void {
    const wanted = this.#readWanted();
    // A kind without I/O of its own has its read timer only for a timeout.
    const pend = wanted && (this.ops.waitsForIo || this.#readTimeout > 0);
    if (pend !== this.#readPending) {
      this.#readPending = pend;
      if (pend) {
        this.#lastRead = this.base.now();
        this.#readTimer.add(this.#readTimeout > 0 ? this.#readTimeout : undefined);
      } else {
        this.#readTimer.del();
      }
    }
    this.ops.adjustRead(wanted);
  }

  /** Bring the write timer in line with the current state. */
  syncWrite(): void {
    const want = this.state !== "freed" && this.ops.writeWanted();
    if (want === this.#writePending) return;
    this.#writePending = want;
    if (want) {
      this.#lastWrite = this.base.now();
      this.#writeTimer().add(this.#writeTimeout > 0 ? this.#writeTimeout : undefined);
    } else {
      this.#writeTimerEvent?.del();
    }
  }

  /** Stop reading and/or writing without checks (libevent `bufferevent_disable`): at EOF, on errors, and for disable(). */
  disable(events: number): void {
    this.#enabled &= ~events;
    if (events & EV_READ) this.syncRead();
    if (events & EV_WRITE) this.syncWrite();
  }

  /** Run the read event on the loop's next pass. */
  activateRead(): void {
    this.#readEv.active(EV_READ);
  }

  /** Whether the write event could move bytes now: writing enabled and not held back, and the kind writable. */
  canWrite(): boolean {
    return this.state !== "freed" && (this.#enabled & EV_WRITE) !== 0 && this.#writeSuspend === 0 &&
      this.ops.writable();
  }

  /** Run the write event on the loop's next pass. */
  activateWrite(): void {
    this.#writeEv.active(EV_WRITE);
  }

  /** Run the write event on the loop's next pass if output has bytes and they can move. */
  kickWrite(): void {
    if (this.output.length > 0 && this.canWrite()) this.#writeEv.active(EV_WRITE);
  }

  /** How many bytes input may take now: 0 while reading is off, else up to the high watermark and the rate budget. */
  readRoom(): number {
    if ((this.#enabled & EV_READ) === 0 || this.#readSuspend !== 0) return 0;
    let room = Infinity;
    const high = this.#wmReadHigh;
    if (high > 0) room = high - this.input.length;
    const rl = this.#rl;
    if (rl !== null) {
      const max = rl.maxToRead();
      if (max < room) room = max;
    }
    return room > 0 ? room : 0;
  }

  /** Bookkeeping after `n` bytes entered input: rate budget, read timeout, and the read callback's turn. */
  gotInput(n: number): void {
    const rl = this.#rl;
    if (rl !== null) rl.consumeRead(n);
    if (this.#readTimeout > 0) this.#lastRead = this.base.now();
    this.#inputFresh = true;
  }

  /** In the read event, after the kind brought bytes in: the read callback, if input reached the read low watermark. */
  readTurn(): void {
    if (!this.#inputFresh || this.state === "freed") return;
    this.#inputFresh = false;
    const len = this.input.length;
    if (len > 0 && len >= this.#wmReadLow) this.#runReadcb(true);
  }

  /** The most bytes that may be sent now under the rate limits; Infinity without. */
  maxToWrite(): number {
    const rl = this.#rl;
    return rl === null ? Infinity : rl.maxToWrite();
  }

  /** `n` bytes were sent: spend write tokens. */
  consumeWrite(n: number): void {
    const rl = this.#rl;
    if (rl !== null) rl.consumeWrite(n);
  }

  /** Output made progress: the write timeout starts over. */
  touchWrite(): void {
    if (this.#writeTimeout > 0) this.#lastWrite = this.base.now();
  }

  /** After output made progress: the write timeout starts over, and the write callback runs if output is down to the low watermark. */
  wroteSome(direct: boolean): void {
    this.touchWrite();
    if (this.output.length <= this.#wmWriteLow) this.#runWritecb(direct);
  }

  /** Whether the write timer is wanted for a kind without I/O of its own: only to time out output waiting while writing is on. */
  outputWaits(): boolean {
    return this.#writeTimeout > 0 && (this.#enabled & EV_WRITE) !== 0 && this.output.length > 0;
  }

  /**
   * Run the event callback with `what` (libevent
   * `bufferevent_run_eventcb_`). `direct` is true only when called from
   * one of our events' callbacks, that is on the loop; anything else, and
   * everything with deferCallbacks, is queued onto the loop.
   */
  runEventcb(what: number, direct: boolean): void {
    if (this.state === "freed") return;
    if (direct && !this.#defer) {
      this.#eventcb?.(this.bev, what, this.#cbArg);
      return;
    }
    this.#pendingEvents |= what;
    this.#cbEv().active(EV_TIMEOUT);
  }

  // --------------------------------------------- for BufferEvent's methods

  /** Set the callbacks (libevent `bufferevent_setcb`); a filter takes over its underlying's with this. */
  setCallbacks<A>(
    readcb: BufferEventDataCallback<A> | null,
    writecb: BufferEventDataCallback<A> | null,
    eventcb: BufferEventEventCallback<A> | null,
    arg: A | undefined,
  ): void {
    this.#readcb = readcb as BufferEventDataCallback<unknown> | null;
    this.#writecb = writecb as BufferEventDataCallback<unknown> | null;
    this.#eventcb = eventcb as BufferEventEventCallback<unknown> | null;
    this.#cbArg = arg;
  }

  enable(events: number): void {
    this.#enabled |= events;
    if (events & EV_READ) {
      if (this.#readPending) this.#lastRead = this.base.now();
      this.syncRead();
      this.#kickRead();
    }
    if (events & EV_WRITE) {
      if (this.#writePending) this.#lastWrite = this.base.now();
      this.syncWrite();
      this.kickWrite();
    }
  }

  getWatermark(events: number): BufferEventWatermark {
    return events === EV_READ
      ? { low: this.#wmReadLow, high: this.#wmReadHigh }
      : { low: this.#wmWriteLow, high: this.#wmWriteHigh };
  }

  setWatermark(events: number, low: number, high: number): void {
    if (events & EV_WRITE) {
      this.#wmWriteLow = low;
      this.#wmWriteHigh = high;
    }
    if (events & EV_READ) {
      this.#wmReadLow = low;
      this.#wmReadHigh = high;
      if (high > 0) {
        if (this.#inputCb === null) this.#inputCb = this.input.addCb(this.#onInputChange);
        else this.input.setCbFlags(this.#inputCb, true);
        if (this.input.length >= high) this.suspendRead(SUSPEND_WM);
        else this.unsuspendRead(SUSPEND_WM);
      } else {
        if (this.#inputCb !== null) this.input.setCbFlags(this.#inputCb, false);
        this.unsuspendRead(SUSPEND_WM);
      }
    }
  }

  setTimeouts(readMs: number, writeMs: number): void {
    this.#readTimeout = readMs;
    this.#writeTimeout = writeMs;
    if (this.#readPending) {
      this.#readPending = false;
      this.#readTimer.del();
    }
    if (this.#writePending) {
      this.#writePending = false;
      this.#writeTimerEvent?.del();
    }
    this.syncRead();
    this.syncWrite();
  }

  /** connect() and connectTls(): `open` starts the connection once the kind agreed. */
  connect(op: string, open: (platform: Platform) => Promise<TcpSocket>): void {
    this.checkLive(op);
    const ops = this.ops;
    if (ops.connect === undefined) throw new TypeError(`${op}: only a socket BufferEvent connects`);
    ops.connect(op, open);
  }

  /** The base's free() frees the BufferEvent as free() does. */
  readonly #releaseByBase = (): void => this.release(false);

  /** free() and abort(). */
  release(abort: boolean): void {
    if (this.state === "freed") return;
    const was = this.state;
    this.state = "freed";
    disown(this.base, this.#releaseByBase);
    this.#readcb = this.#writecb = this.#eventcb = null;
    this.#cbArg = undefined;
    if (this.#rl !== null) {
      this.#rl.release();
      this.#rl = null;
    }
    this.#readEv.free();
    this.#writeEv.free();
    this.#cbEvent?.free();
    this.#readTimer.free();
    this.#writeTimerEvent?.free();
    this.#readPending = this.#writePending = false;
    this.output.removeCb(this.#outputCb);
    if (this.#inputCb !== null) this.input.removeCb(this.#inputCb);
    this.ops.release(abort, was);
  }

  /** @throws {TypeError} naming `op` if the BufferEvent was freed or its kind takes no rate limits */
  checkRateLimitable(op: string): void {
    this.checkLive(op);
    if (!this.ops.rateLimitable) throw new TypeError(`${op}: rate limits apply to socket BufferEvents`);
  }

  setRateLimit(cfg: TokenBucketConfig | null): void {
    let rl = this.#rl;
    if (rl === null) {
      if (cfg === null) return;
      rl = this.#rl = new RateLimit(this);
    }
    rl.setConfig(cfg);
    this.#dropIdleRateLimit();
  }

  addToRateLimitGroup(group: RateLimitGroup): void {
    const rl = this.#rl ?? new RateLimit(this);
    rl.join(group);
    this.#rl = rl;
  }

  removeFromRateLimitGroup(): void {
    const rl = this.#rl;
    if (rl === null) return;
    rl.leave();
    this.#dropIdleRateLimit();
  }

  decrementLimit(n: number, read: boolean, op: string): void {
    this.checkLive(op);
    const rl = this.#rl;
    if (rl === null || !rl.hasConfig) throw new TypeError(`${op}: no rate limit is set (setRateLimit)`);
    rl.decrement(n, read);
  }

  // ---------------------------------------------------------------- private

  #dropIdleRateLimit(): void {
    const rl = this.#rl;
    if (rl === null || rl.active) return;
    rl.release();
    this.#rl = null;
  }

  /** Reading is enabled and nothing holds it back. */
  #readWanted(): boolean {
    if (this.state === "freed" || (this.#enabled & EV_READ) === 0 || this.#readSuspend !== 0) return false;
    return this.ops.readable();
  }

  /** Schedule the read event if something waits at the source. */
  #kickRead(): void {
    if (this.state !== "freed" && this.ops.readWaiting()) this.#readEv.active(EV_READ);
  }

  readonly #onInputChange = (buf: EvBuffer): void => {
    const high = this.#wmReadHigh;
    if (high === 0) return;
    if (buf.length >= high) {
      if ((this.#readSuspend & SUSPEND_WM) === 0) this.suspendRead(SUSPEND_WM);
    } else if ((this.#readSuspend & SUSPEND_WM) !== 0) {
      this.unsuspendRead(SUSPEND_WM);
    }
  };

  readonly #onOutputChange = (_buf: EvBuffer, info: EvBufferCbInfo): void => {
    if (info.added === 0 || this.state === "freed") return;
    if (!this.#writePending) this.syncWrite();
    // One write event per loop pass however many writes: activating an active event only merges flags.
    if (this.canWrite()) this.#writeEv.active(EV_WRITE);
  };

  #onReadTimer(): void {
    // The timer is not persistent: firing removed it.
    this.#readPending = false;
    if (!this.#readWanted()) return;
    const timeout = this.#readTimeout;
    if (timeout <= 0) {
      this.syncRead();
      return;
    }
    const idle = this.base.now() - this.#lastRead;
    if (idle < timeout) {
      // Bytes came in since it was armed: wait out the rest.
      this.#readPending = true;
      this.#readTimer.add(timeout - idle);
      return;
    }
    this.#enabled &= ~EV_READ;
    this.syncRead();
    this.runEventcb(BEV_EVENT_READING | BEV_EVENT_TIMEOUT, true);
  }

  #onWriteTimer(): void {
    this.#writePending = false;
    if (this.state === "freed" || !this.ops.writeWanted()) return;
    const timeout = this.#writeTimeout;
    if (timeout <= 0) {
      this.syncWrite();
      return;
    }
    const idle = this.base.now() - this.#lastWrite;
    if (idle < timeout) {
      this.#writePending = true;
      this.#writeTimer().add(timeout - idle);
      return;
    }
    this.#enabled &= ~EV_WRITE;
    this.syncWrite();
    this.runEventcb(BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT, true);
  }

  #cbEv(): Event<BufferEventCore> {
    return this.#cbEvent ??= new Event<BufferEventCore>(this.base, null, 0, BufferEventCore.#deferredCb, this);
  }

  #writeTimer(): Event<BufferEventCore> {
    return this.#writeTimerEvent ??= new Event<BufferEventCore>(
      this.base,
      null,
      0,
      BufferEventCore.#writeTimerCb,
      this,
    );
  }

  #runReadcb(direct: boolean): void {
    if (direct && !this.#defer) {
      this.#readcb?.(this.bev, this.#cbArg);
      return;
    }
    this.#pendingCbs |= PENDING_READ;
    this.#cbEv().active(EV_TIMEOUT);
  }

  #runWritecb(direct: boolean): void {
    if (direct && !this.#defer) {
      this.#writecb?.(this.bev, this.#cbArg);
      return;
    }
    this.#pendingCbs |= PENDING_WRITE;
    this.#cbEv().active(EV_TIMEOUT);
  }

  /** Run queued callbacks in libevent's order: CONNECTED, read, write, then the other events. */
  #onDeferred(): void {
    const cbs = this.#pendingCbs;
    const what = this.#pendingEvents;
    this.#pendingCbs = 0;
    this.#pendingEvents = 0;
    const bev = this.bev;
    if (what & BEV_EVENT_CONNECTED) this.#eventcb?.(bev, BEV_EVENT_CONNECTED, this.#cbArg);
    if (cbs & PENDING_READ) this.#readcb?.(bev, this.#cbArg);
    if (cbs & PENDING_WRITE) this.#writecb?.(bev, this.#cbArg);
    const rest = what & ~BEV_EVENT_CONNECTED;
    if (rest !== 0) this.#eventcb?.(bev, rest, this.#cbArg);
  }
}
