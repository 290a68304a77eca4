/**
 * HttpConnection: the client side of libevent's `struct evhttp_connection`
 * (`evhttp_connection_base_new`, `evhttp_make_request` and the
 * `evhttp_connection_set_*` calls). One connection to one server, made when
 * the first request needs it and kept open between requests (keep-alive);
 * requests made meanwhile wait their turn, or go out back to back with
 * pipelining. The server side of a connection is HttpServerConnection,
 * inside {@linkcode HttpServer}.
 *
 * @module
 */
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_ERROR,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BufferEvent,
} from "../buffer/bufferevent.ts";
import type { EvBuffer } from "../buffer/evbuffer.ts";
import {
  checkBoolean,
  checkCallback,
  checkCount,
  checkEventBase,
  checkInteger,
  checkLimit,
  checkMs,
  checkObject,
  checkOneOf,
  checkPort,
  checkToken,
  typeError,
} from "../check.ts";
import { freedError } from "../errors.ts";
import { adopt, baseFreed, disown, Event, type EventBase } from "../event/event_base.ts";
import { EV_READ, EV_TIMEOUT, EV_WRITE } from "../event/flags.ts";
import type { LookupAddress, NetAddress } from "../platform.ts";
import { headerList, wrapHeaders } from "./headers.ts";
import { HttpError, type HttpErrorCode } from "./http_error.ts";
import { DEFAULT_HTTP_PARSER_LIMITS, HttpParser, type HttpParserState, type ResponseHead } from "./http_parser.ts";
import { fieldsSize, headWriter } from "./head_writer.ts";
import { acceptEncoding } from "./content_encoding.ts";
import {
  BODY_HIGH_WATER,
  type ClientRequestCore,
  type HttpClientErrorKind,
  type HttpClientRequest,
  isFinished,
  requestCore,
} from "./http_client_request.ts";

/** TLS settings of an `https` connection. */
export interface HttpConnectionTls {
  /** Extra trusted CA certificates, PEM. */
  readonly caCerts?: readonly string[];
  /** The name to send in SNI and check the certificate against; defaults to the host (unless it is an IP address). */
  readonly serverName?: string;
}

/**
 * A name resolver for {@linkcode HttpConnectionOptions.dns}: the shape of
 * the platform's `lookup`. levent's asynchronous resolver (evdns's
 * DnsBase) is meant to be one; a test double or a cache can be too.
 */
export interface HostResolver {
  /** The addresses of `host`, of `family` (0: either). Rejects (with a coded error such as `ENOTFOUND`) when there are none. */
  lookup(host: string, family?: 0 | 4 | 6): Promise<LookupAddress[]>;
}

/** Options of the {@linkcode HttpConnection} constructor. */
export interface HttpConnectionOptions {
  /** The server's host name or IP address (an IPv6 address with or without brackets). */
  readonly host: string;
  /** The server's port, a number or a string of digits; defaults to 80, or 443 with `tls`. */
  readonly port?: number | string;
  /** Connect over TLS (`https`) with these settings. */
  readonly tls?: HttpConnectionTls;
  /**
   * A BufferEvent to use for the first connection (libevent's
   * `evhttp_connection_base_bufferevent_new`): an open one (a pair end, a
   * filter, a connected socket) is used as it is; a socket BufferEvent with
   * no socket yet is connected to host and port. The connection owns it and
   * frees it; later connections use new socket BufferEvents.
   */
  readonly bufferEvent?: BufferEvent;
  /**
   * Resolve the host through this (libevent: the `evdns_base` given to
   * `evhttp_connection_base_new`) rather than the platform: each connect
   * looks the name up and dials the first address of the family asked for
   * (setFamily; either when 0). Without it the platform resolves.
   */
  readonly dns?: HostResolver;
  /**
   * Free the connection when this signal aborts: its requests end
   * cancelled (`ERR_CANCELLED`), as with {@linkcode HttpConnection.free}.
   */
  readonly signal?: AbortSignal;
}

/** Timeouts in milliseconds for {@linkcode HttpConnection.setTimeout}; 0 means none, a field left out is unchanged. */
export interface HttpConnectionTimeouts {
  /** Resolving and connecting (libevent `evhttp_connection_set_connect_timeout_tv`). Default 45000. */
  readonly connectMs?: number;
  /**
   * Waiting for response bytes once the request is written (libevent
   * `evhttp_connection_set_read_timeout_tv`). Default 50000. It does not run
   * while the connection is idle between requests, nor while the response
   * body is paused.
   */
  readonly readMs?: number;
  /** Request bytes waiting to be sent without progress (libevent `evhttp_connection_set_write_timeout_tv`). Default 50000. */
  readonly writeMs?: number;
}

/**
 * Where a connection stands:
 * - `"disconnected"`: no socket; the next request connects;
 * - `"resolving"`: looking up the host's address (through `options.dns`, or the platform with {@linkcode HttpConnection.setFamily} 4 or 6);
 * - `"connecting"`: the socket (and TLS handshake) is being set up;
 * - `"retry_wait"`: a connect failed; the next attempt waits for its delay;
 * - `"idle"`: connected, no request on the wire; a close by the server is noticed;
 * - `"busy"`: requests are on the wire;
 * - `"freed"`: {@linkcode HttpConnection.free} was called.
 */
export type HttpConnectionState =
  | "disconnected"
  | "resolving"
  | "connecting"
  | "retry_wait"
  | "idle"
  | "busy"
  | "freed";

/** The close callback: libevent's `evhttp_connection_set_closecb`. */
export type HttpConnectionCloseCallback = (conn: HttpConnection) => void;

/** The timeouts a new connection has: libevent's HTTP_CONNECT_TIMEOUT, HTTP_READ_TIMEOUT and HTTP_WRITE_TIMEOUT. */
export const DEFAULT_HTTP_CONNECTION_TIMEOUTS: Readonly<Required<HttpConnectionTimeouts>> = Object.freeze({
  connectMs: 45000,
  readMs: 50000,
  writeMs: 50000,
});

/** libevent's default `initial_retry_timeout`: two seconds, doubled for each further attempt. */
const DEFAULT_RETRY_DELAY_MS = 2000;
/** libevent caps the doubled retry delay at an hour. */
const MAX_RETRY_DELAY_MS = 3600 * 1000;

/** What the server did to the socket, noted when the head request's body is paused and acted on once it resumes. */
type PeerEnd = "open" | "eof" | "error";

/** Whether the connection is kept once it has no requests, or freed (freeOnCompletion). */
type Lifetime = "kept" | "free_on_completion";

/** A request that lost its connection and is not retried: what to tell it. */
interface Failure {
  readonly core: ClientRequestCore;
  readonly kind: HttpClientErrorKind;
  readonly error: HttpError;
}

/** The address families {@linkcode HttpConnection.setFamily} takes. */
const FAMILIES: readonly (0 | 4 | 6)[] = [0, 4, 6];
/** Methods RFC 9110 §9.2.2 calls idempotent: a retry cannot do harm the first try did not. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Methods sent with Content-Length even when the body is empty, as libevent does for POST and PUT. */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

function ipFamily(host: string): 0 | 4 | 6 {
  if (host.includes(":")) return 6;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? 4 : 0;
}

/** The libevent error kind for a parser error code. */
function kindOf(code: HttpErrorCode): HttpClientErrorKind {
  switch (code) {
    case "ERR_HEADER_TOO_LARGE":
    case "ERR_TOO_MANY_HEADERS":
    case "ERR_BODY_TOO_LARGE":
    case "ERR_CHUNK_EXTENSION_TOO_LARGE":
      return "data_too_long";
    case "ERR_INCOMPLETE":
      return "eof";
    default:
      return "invalid_header";
  }
}

/** An Error's errno-style code and message, for one readable line. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as Error & { code?: unknown }).code;
  return typeof code === "string" && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

// Internals: what HttpClientRequest's methods do to the connection that
// carries the request. Set in HttpConnection's static block; http/mod.ts
// does not export them.

/** Body bytes were written to a streamed request, or its body ended: move what can go. */
export let sendMoreBody!: (conn: HttpConnection, core: ClientRequestCore) => void;

/** The response body was paused or resumed (pauseBody, resumeBody): read accordingly. */
export let syncBodyFlow!: (conn: HttpConnection, core: ClientRequestCore) => void;

/** cancel(), or a failure the request found itself (a body source that threw, a short body). */
export let stopRequest!: (
  conn: HttpConnection,
  core: ClientRequestCore,
  kind: HttpClientErrorKind,
  error: HttpError,
) => void;

/** Bytes of the request's streamed body waiting in the connection's output. */
export let queuedBodyBytes!: (conn: HttpConnection, core: ClientRequestCore) => number;

/**
 * A client connection to one HTTP server: libevent's `struct
 * evhttp_connection` as `evhttp_connection_base_new` makes it. It connects
 * when the first request needs it (through TLS with `tls`), keeps the
 * connection for the next requests (keep-alive), queues requests made while
 * one is on the wire, and optionally pipelines them
 * ({@linkcode HttpConnection.setPipelining}). A failed connect is retried
 * ({@linkcode HttpConnection.setRetries}); a connection the server closed
 * while idle is noticed and replaced, and a request that meets such a close
 * before any answer is sent again once when that is safe (nothing received,
 * and idempotent or not yet sent). Errors never throw: they reach each
 * request's error callback. Callbacks run on the base's loop.
 *
 * @example
 * ```ts
 * import { EventBase, HttpClientRequest, HttpConnection } from "@levent/levent";
 * const base = new EventBase();
 * const conn = new HttpConnection(base, { host: "127.0.0.1", port: 8080 });
 * conn.setTimeout({ connectMs: 5000, readMs: 10000 });
 * conn.setRetries(2);
 * let left = 2;
 * for (const path of ["/a", "/b"]) {
 *   const req = new HttpClientRequest((r) => {
 *     console.log(path, r.responseCode, r.error?.message ?? "");
 *     if (--left === 0) conn.free();
 *   });
 *   conn.makeRequest(req, "GET", path); // both go over one connection
 * }
 * await base.dispatch();
 * ```
 */
export class HttpConnection {
  static {
    sendMoreBody = (conn, core) => conn.#bodyChanged(core);
    syncBodyFlow = (conn, core) => conn.#flowChanged(core);
    stopRequest = (conn, core, kind, error) => conn.#stop(core, kind, error);
    queuedBodyBytes = (conn, core) => conn.#writing === core && conn.#bev !== null ? conn.#bev.output.length : 0;
  }

  readonly #base: EventBase;
  /** The host as given, without IPv6 brackets: what is looked up or connected to. */
  readonly #host: string;
  readonly #port: number;
  readonly #tls: HttpConnectionTls | null;
  /** The Host field value: the host (bracketed if IPv6) and the port unless it is the scheme's default. */
  readonly #hostField: string;
  #family: 0 | 4 | 6 = 0;
  #localAddress: string | undefined = undefined;
  readonly #dns: HostResolver | null;
  #localPort: number | undefined = undefined;
  #state: HttpConnectionState = "disconnected";
  #bev: BufferEvent | null = null;
  #given: BufferEvent | null;
  #parser: HttpParser<"response"> | null = null;
  #parserStale = false;
  /** Requests not yet on the wire, in order. */
  #queue: ClientRequestCore[] = [];
  /** Requests on the wire, in order; the first is the one the response bytes belong to. */
  #inflight: ClientRequestCore[] = [];
  /** The request whose streamed body is still being written, if any. */
  #writing: ClientRequestCore | null = null;
  /** Responses completed on the current socket: more than 0 means it was reused. */
  #responses = 0;
  /** Bytes ever queued into the current socket's output, to tell whether a request's bytes left. */
  #queuedBytes = 0;
  #peerEnd: PeerEnd = "open";
  #retryMax = 0;
  #retryCount = 0;
  #retryDelayMs = DEFAULT_RETRY_DELAY_MS;
  #connectMs = DEFAULT_HTTP_CONNECTION_TIMEOUTS.connectMs;
  #readMs = DEFAULT_HTTP_CONNECTION_TIMEOUTS.readMs;
  #writeMs = DEFAULT_HTTP_CONNECTION_TIMEOUTS.writeMs;
  /** The timeouts last given to the BufferEvent, so they are set (and their timers restarted) only on change. */
  #appliedRead = -1;
  #appliedWrite = -1;
  #maxHeadersSize = DEFAULT_HTTP_PARSER_LIMITS.maxHeaderSize;
  #maxBodySize = DEFAULT_HTTP_PARSER_LIMITS.maxBodySize;
  #pipelining = false;
  #closeCb: HttpConnectionCloseCallback | null = null;
  #lifetime: Lifetime = "kept";
  /** Bumped for each connect attempt, so a lookup that resolves after a timeout is ignored. */
  #attempt = 0;
  /** The connect timeout and the retry delay. */
  readonly #timer: Event;
  /** Runs the input on the loop after resumeBody. */
  readonly #kick: Event;
  /**
   * Pending while a paused response holds reading off: the request is not
   * over, so the loop must not run out of events and return under it.
   */
  readonly #pauseHold: Event;
  /** Set while the input is being parsed, so a callback that resumes cannot re-enter. */
  #parsing = false;
  /** What the base's free() and the abort signal call. */
  readonly #release = (): void => this.free();
  #signal: AbortSignal | undefined;

  /**
   * A connection to `host:port`, not yet made (libevent
   * `evhttp_connection_base_new`; with `bufferEvent`,
   * `evhttp_connection_base_bufferevent_new`). Name resolution is the
   * platform's unless `options.dns` gives a resolver.
   *
   * @throws {TypeError} if base is not an EventBase, host is not a non-empty ASCII host, or options are malformed
   * @throws {RangeError} if port is a number but not an integer in 0..65535
   * @throws {LeventError} `ERR_FREED` if the base was freed
   */
  constructor(base: EventBase, options: HttpConnectionOptions) {
    checkEventBase(base, "base");
    checkObject(options, "options");
    if (baseFreed(base)) throw freedError("new HttpConnection", "EventBase");
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw typeError("options.signal", "an AbortSignal", signal);
    }
    let host = options.host;
    if (typeof host !== "string" || !/^[\x21-\x7e]+$/.test(host)) {
      throw typeError("options.host", "a non-empty ASCII host name or address (IDNs in punycode)", host);
    }
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
    const tls = options.tls === undefined ? null : checkObject(options.tls, "options.tls");
    const port = options.port === undefined ? (tls !== null ? 443 : 80) : checkPort(options.port, "options.port");
    const given = options.bufferEvent ?? null;
    if (given !== null && !(given instanceof BufferEvent)) {
      throw typeError("options.bufferEvent", "a BufferEvent", given);
    }
    const dns = options.dns ?? null;
    if (dns !== null && (typeof dns !== "object" || typeof dns.lookup !== "function")) {
      throw typeError("options.dns", "an object with a lookup(host, family) method", dns);
    }
    this.#dns = dns;
    this.#base = base;
    this.#host = host;
    this.#port = port;
    this.#tls = tls;
    this.#given = given;
    const shown = host.includes(":") ? `[${host}]` : host;
    this.#hostField = port === (tls !== null ? 443 : 80) ? shown : `${shown}:${port}`;
    this.#timer = new Event(base, null, 0, () => this.#onTimer());
    this.#kick = new Event(base, null, 0, () => this.#onKick());
    this.#pauseHold = new Event(base, null, 0, () => {});
    adopt(base, this.#release);
    if (signal !== undefined) {
      this.#signal = signal;
      if (signal.aborted) this.free();
      else signal.addEventListener("abort", this.#release, { once: true });
    }
  }

  /** The base the connection runs on (libevent `evhttp_connection_get_base`). */
  get base(): EventBase {
    return this.#base;
  }

  /** The server's host, as given (IPv6 without brackets). */
  get host(): string {
    return this.#host;
  }

  /** The server's port. */
  get port(): number {
    return this.#port;
  }

  /** Where the connection stands; see {@linkcode HttpConnectionState}. */
  get state(): HttpConnectionState {
    return this.#state;
  }

  /** The server's address while connected, else null (libevent `evhttp_connection_get_peer`). */
  get peer(): NetAddress | null {
    return this.#state === "idle" || this.#state === "busy" ? this.#bev?.socket?.remoteAddress ?? null : null;
  }

  /** The BufferEvent of the current connection, or null (libevent `evhttp_connection_get_bufferevent`). */
  get bufferEvent(): BufferEvent | null {
    return this.#bev;
  }

  /**
   * How many times a failed connect is tried again before the waiting
   * requests fail; -1 tries forever (libevent `evhttp_connection_set_retries`).
   * Default 0.
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= -1
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setRetries(n: number): void {
    this.#checkLive("setRetries");
    this.#retryMax = checkInteger(n, "n", -1);
  }

  /**
   * The delay before the first connect retry; each further retry waits
   * twice as long as the one before, up to an hour (libevent
   * `evhttp_connection_set_initial_retry_tv`). Default 2000.
   *
   * @throws {TypeError} if ms is not a number
   * @throws {RangeError} if ms is not a finite number >= 0
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setInitialRetryDelay(ms: number): void {
    this.#checkLive("setInitialRetryDelay");
    this.#retryDelayMs = checkMs(ms, "ms");
  }

  /**
   * Set the timeouts in milliseconds (libevent `evhttp_connection_set_timeout_tv`,
   * `_set_connect_timeout_tv`, `_set_read_timeout_tv`, `_set_write_timeout_tv`):
   * a number sets all three; see {@linkcode HttpConnectionTimeouts}. 0 means
   * none. They apply from the next request (the read timeout at once when
   * one is waiting).
   *
   * @throws {RangeError} if a timeout is not a finite number >= 0
   * @throws {TypeError} if timeouts is neither a number nor an object, or a timeout is not a number
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setTimeout(timeouts: number | HttpConnectionTimeouts): void {
    this.#checkLive("setTimeout");
    if (typeof timeouts === "number") {
      const ms = checkMs(timeouts, "timeouts");
      this.#connectMs = this.#readMs = this.#writeMs = ms;
    } else if (timeouts !== null && typeof timeouts === "object") {
      const c = timeouts.connectMs === undefined ? this.#connectMs : checkMs(timeouts.connectMs, "timeouts.connectMs");
      const r = timeouts.readMs === undefined ? this.#readMs : checkMs(timeouts.readMs, "timeouts.readMs");
      const w = timeouts.writeMs === undefined ? this.#writeMs : checkMs(timeouts.writeMs, "timeouts.writeMs");
      this.#connectMs = c;
      this.#readMs = r;
      this.#writeMs = w;
    } else {
      throw typeError("timeouts", "a number or an object", timeouts);
    }
    this.#syncTimeouts();
  }

  /**
   * Bind the local end to an address before connecting (libevent
   * `evhttp_connection_set_local_address`), from the next connect on; null
   * lets the system choose. An address the machine does not have fails
   * the connect (`EADDRNOTAVAIL`, to the error callback).
   *
   * @throws {TypeError} if address is neither an IPv4 or IPv6 literal nor null
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setLocalAddress(address: string | null): void {
    this.#checkLive("setLocalAddress");
    if (address !== null && (typeof address !== "string" || ipFamily(address) === 0)) {
      throw typeError("address", "an IPv4 or IPv6 literal or null", address);
    }
    this.#localAddress = address ?? undefined;
  }

  /**
   * Bind the local end to a port before connecting (libevent
   * `evhttp_connection_set_local_port`), from the next connect on; 0 lets
   * the system choose. A port in use fails the connect (`EADDRINUSE`), as
   * can reconnecting from it at once while the last connection lingers in
   * TIME_WAIT.
   *
   * @throws {TypeError} if port is not a number
   * @throws {RangeError} if port is not an integer in 0..65535
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setLocalPort(port: number): void {
    this.#checkLive("setLocalPort");
    const checked = checkPort(port, "port");
    this.#localPort = checked === 0 ? undefined : checked;
  }

  /**
   * Which address family to connect with (libevent
   * `evhttp_connection_set_family`): 0 for any (the platform resolves the
   * name while connecting), 4 or 6 to resolve the host through the
   * platform's lookup for that family only. Applies from the next connect.
   *
   * @throws {TypeError} if family is not a number
   * @throws {RangeError} if family is not 0, 4 or 6
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setFamily(family: 0 | 4 | 6): void {
    this.#checkLive("setFamily");
    this.#family = checkOneOf(family, "family", FAMILIES);
  }

  /**
   * The most bytes a response's header section (and its trailer section)
   * may take (libevent `evhttp_connection_set_max_headers_size`); over it
   * the request fails with `"data_too_long"`. Default 16384. Applies from
   * the next response that starts on an idle connection.
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 0
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setMaxHeadersSize(n: number): void {
    this.#checkLive("setMaxHeadersSize");
    this.#maxHeadersSize = checkCount(n, "n");
    this.#parserStale = true;
  }

  /**
   * The most bytes a response body may have (libevent
   * `evhttp_connection_set_max_body_size`); over it the request fails with
   * `"data_too_long"`. Default Infinity. Applies as setMaxHeadersSize.
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 0 or Infinity
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setMaxBodySize(n: number): void {
    this.#checkLive("setMaxBodySize");
    this.#maxBodySize = checkLimit(n, "n");
    this.#parserStale = true;
  }

  /**
   * Send queued requests back to back without waiting for each response
   * (HTTP/1.1 pipelining; libevent has no counterpart). A request goes out
   * once the one before it is fully written. Default off.
   *
   * @throws {TypeError} if on is not a boolean
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setPipelining(on: boolean): void {
    this.#checkLive("setPipelining");
    this.#pipelining = checkBoolean(on, "on");
    this.#pump();
  }

  /**
   * Set the callback run whenever a connected socket closes, by either side
   * or by free() (libevent `evhttp_connection_set_closecb`).
   *
   * @throws {TypeError} if cb is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  setCloseCb(cb: HttpConnectionCloseCallback | null): void {
    this.#checkLive("setCloseCb");
    this.#closeCb = checkCallback(cb, "cb");
  }

  /**
   * Free the connection once it has no request left (libevent
   * `evhttp_connection_free_on_completion`); at once if it has none now.
   */
  freeOnCompletion(): void {
    this.#lifetime = "free_on_completion";
    this.#maybeAutoFree();
  }

  /**
   * Send a request (libevent `evhttp_make_request`): `method` and the
   * request target `uri` (origin-form such as `/path?q`, or absolute-form
   * for a proxy). A Host field is added unless the request has one; a body
   * in the output buffer is sent with Content-Length (also an empty one for
   * POST, PUT and PATCH); a streamed body goes chunked unless a length was
   * declared. The request is queued and goes out when the connection is
   * ready; what happens next comes through its callbacks.
   *
   * @throws {TypeError} if req is not a new HttpClientRequest, method is not a token, uri holds a space, control or non-ASCII character, or the framing fields contradict each other (Transfer-Encoding other than chunked, or with Content-Length)
   * @throws {RangeError} if a Content-Length field does not match the body
   * @throws {LeventError} `ERR_FREED` once the connection was freed
   */
  makeRequest(req: HttpClientRequest, method: string, uri: string): void {
    this.#checkLive("makeRequest");
    const core = requestCore(req);
    if (core.state !== "new") {
      throw new TypeError(`makeRequest: the request is ${core.state}, not new (a request is used once)`);
    }
    checkToken(method, "method");
    if (typeof uri !== "string" || !/^[\x21-\x7e]+$/.test(uri)) {
      throw typeError("uri", "a non-empty request target of visible ASCII (percent-encode the rest)", uri);
    }
    core.method = method;
    core.uri = uri;
    if (core.decodeLimit >= 0 && !core.outputHeaders.has("accept-encoding")) {
      core.outputHeaders.set("Accept-Encoding", acceptEncoding(this.#base.platform.compression));
    }
    this.#planHead(core);
    if (core.bodyMode === "buffer" && core.outputLength > 0) core.sentBody.addBuffer(core.outputBuffer);
    core.conn = this;
    core.state = "queued";
    this.#queue.push(core);
    this.#pump();
  }

  /**
   * Close the connection and release it (libevent `evhttp_connection_free`).
   * Requests still queued or on the wire end cancelled: their error
   * callbacks get `"request_cancel"` (libevent frees them silently). The
   * close callback runs if a socket was connected. Safe inside callbacks.
   * The abort signal of `options.signal` and the base's free() call it
   * too. Calling it (or freeOnCompletion()) again does nothing; the
   * getters still answer, and any other method throws a LeventError with
   * code `ERR_FREED`.
   */
  free(): void {
    if (this.#state === "freed") return;
    disown(this.#base, this.#release);
    this.#signal?.removeEventListener("abort", this.#release);
    this.#signal = undefined;
    const pending = [...this.#inflight, ...this.#queue];
    this.#inflight = [];
    this.#queue = [];
    this.#timer.free();
    this.#kick.free();
    this.#pauseHold.free();
    this.#resetSocket();
    this.#state = "freed";
    this.#given?.free();
    this.#given = null;
    const error = new HttpError("ERR_CANCELLED", "the connection was freed");
    for (const core of pending) this.#settleCancel(core, error);
  }

  /** {@linkcode HttpConnection.free}, for `using`. */
  [Symbol.dispose](): void {
    this.free();
  }

  #checkLive(op: string): void {
    if (this.#state === "freed") throw freedError(op, "HttpConnection");
  }

  // ------------------------------------------------------------ the head

  /** Decide the Host and framing fields once, at makeRequest, so a bad combination throws there. */
  #planHead(core: ClientRequestCore): void {
    const headers = core.outputHeaders;
    const te = headers.getAll("transfer-encoding");
    const cls = headers.getAll("content-length");
    if (te.length > 0 && cls.length > 0) {
      throw new TypeError("makeRequest: the request has both Transfer-Encoding and Content-Length");
    }
    if (te.length > 1 || (te.length === 1 && te[0].trim().toLowerCase() !== "chunked")) {
      throw new TypeError(`makeRequest: only "Transfer-Encoding: chunked" can be sent, got ${JSON.stringify(te)}`);
    }
    let given = -1;
    for (const v of cls) {
      const t = v.trim();
      if (!/^\d{1,15}$/.test(t) || (given !== -1 && Number(t) !== given)) {
        throw new TypeError(`makeRequest: invalid or conflicting Content-Length ${JSON.stringify(cls)}`);
      }
      given = Number(t);
    }
    const chunkedField = te.length === 1;
    if (core.bodyMode === "stream") {
      let length = core.declaredLength;
      if (given >= 0) {
        if (length >= 0 && length !== given) {
          throw new RangeError(`makeRequest: Content-Length ${given} differs from the declared length ${length}`);
        }
        length = given;
      }
      if (length >= 0 && chunkedField) {
        throw new TypeError("makeRequest: a body with a declared length cannot be sent chunked");
      }
      if (length >= 0 && (core.bodyAccepted > length || (core.streamState === "ended" && core.bodyAccepted < length))) {
        throw new RangeError(`makeRequest: ${core.bodyAccepted} body bytes written, ${length} declared`);
      }
      core.declaredLength = length;
      core.framing = length >= 0 ? "length" : "chunked";
      core.framingLine = given >= 0 || chunkedField
        ? ""
        : length >= 0
        ? `Content-Length: ${length}`
        : "Transfer-Encoding: chunked";
    } else {
      const n = core.outputLength;
      if (chunkedField) {
        core.framing = "chunked";
        core.framingLine = "";
      } else if (given >= 0) {
        if (given !== n) throw new RangeError(`makeRequest: Content-Length ${given} but the body has ${n} bytes`);
        core.framing = "length";
        core.framingLine = "";
      } else if (n > 0 || BODY_METHODS.has(core.method)) {
        core.framing = "length";
        core.framingLine = `Content-Length: ${n}`;
      } else {
        core.framing = "none";
        core.framingLine = "";
      }
    }
    core.hostLine = headers.has("host") ? "" : `Host: ${this.#hostField}`;
    core.closeAfter = headers.getAll("connection").some((v) => /(^|,)\s*close\s*(,|$)/i.test(v));
  }

  /**
   * The request head into the output, straight into reserved space: the
   * method and target are ASCII and field values Latin-1, one byte per
   * character.
   */
  #writeHead(core: ClientRequestCore): void {
    const list = headerList(core.outputHeaders);
    const out = (this.#bev as BufferEvent).output;
    const w = headWriter;
    const before = out.length;
    // "METHOD target HTTP/1.1\r\n", the Host and framing lines, the fields, the blank line.
    w.begin(
      out,
      core.method.length + core.uri.length + 13 + core.hostLine.length + core.framingLine.length + 6 + fieldsSize(list),
    );
    w.text(core.method);
    w.text(" ");
    w.text(core.uri);
    w.text(" HTTP/1.1\r\n");
    if (core.hostLine !== "") {
      w.text(core.hostLine);
      w.crlf();
    }
    for (let i = 0; i < list.length; i += 2) w.field(list[i], list[i + 1]);
    if (core.framingLine !== "") {
      w.text(core.framingLine);
      w.crlf();
    }
    w.crlf();
    w.commit();
    this.#queuedBytes += out.length - before;
  }

  // ----------------------------------------------------------- connecting

  /** Move queued requests along: connect, dispatch, or wait (libevent `evhttp_request_dispatch` and friends). */
  #pump(): void {
    while (this.#queue.length > 0) {
      switch (this.#state) {
        case "disconnected":
          this.#connect();
          return;
        case "idle":
          this.#dispatch(this.#queue.shift() as ClientRequestCore);
          break;
        case "busy":
          if (!this.#canPipeline()) return;
          this.#dispatch(this.#queue.shift() as ClientRequestCore);
          break;
        default:
          return;
      }
    }
  }

  #canPipeline(): boolean {
    if (!this.#pipelining || this.#writing !== null || this.#peerEnd !== "open") return false;
    const last = this.#inflight[this.#inflight.length - 1];
    return last === undefined || (last.sendState === "sent" && !last.closeAfter);
  }

  #connect(): void {
    const attempt = ++this.#attempt;
    if (this.#connectMs > 0) this.#timer.add(this.#connectMs);
    // Without a timeout the timer still keeps the loop alive while the lookup runs.
    else this.#timer.add();
    const family = this.#family;
    const dns = this.#dns;
    if (ipFamily(this.#host) !== 0 || (family === 0 && dns === null)) {
      this.#open(this.#host);
      return;
    }
    this.#state = "resolving";
    const base = this.#base;
    const current = (): boolean => attempt === this.#attempt && this.#state === "resolving";
    let lookup: Promise<LookupAddress[]>;
    try {
      lookup = Promise.resolve((dns ?? base.platform).lookup(this.#host, family));
    } catch (err) {
      // A resolver that throws rather than rejects fails this connect the same way.
      lookup = Promise.reject(err);
    }
    lookup.then(
      (addresses) => base.defer(() => current() && this.#resolved(addresses)),
      (err: unknown) => base.defer(() => current() && this.#connectFailed(err)),
    );
  }

  #resolved(addresses: LookupAddress[]): void {
    const family = this.#family;
    const found = addresses.find((a) => family === 0 || a.family === family);
    if (found === undefined) {
      const err = new Error(`no ${family === 0 ? "" : `IPv${family} `}address for ${this.#host}`);
      (err as Error & { code: string }).code = "ENOTFOUND";
      this.#connectFailed(err);
      return;
    }
    this.#open(found.address);
  }

  #open(address: string): void {
    this.#state = "connecting";
    let bev = this.#given;
    this.#given = null;
    if (bev === null || bev.state === "freed" || bev.state === "closed") {
      bev?.free();
      // Not closeOnFree: a reset closes the socket at once rather than lingering to send or drain.
      bev = BufferEvent.socket(this.#base, null, { closeOnFree: false });
    }
    this.#bev = bev;
    this.#appliedRead = this.#appliedWrite = -1;
    bev.setCallbacks(this.#onRead, this.#onWrite, this.#onEvent);
    // Our timer limits the connect; the BufferEvent's write timeout would too, so it waits until connected.
    bev.setTimeouts(0, 0);
    bev.enable(EV_READ | EV_WRITE);
    if (bev.state === "open") {
      // A given BufferEvent that is open already: connected, but on the loop as a connect would be.
      this.#base.defer(() => {
        if (this.#bev === bev && this.#state === "connecting") this.#connected();
      });
      return;
    }
    // A given BufferEvent its owner started connecting: its CONNECTED (or ERROR) event comes to us.
    if (bev.state === "connecting") return;
    try {
      const tls = this.#tls;
      const localAddress = this.#localAddress;
      const localPort = this.#localPort;
      if (tls === null) {
        bev.connect({ host: address, port: this.#port, localAddress, localPort });
      } else {
        const serverName = tls.serverName ?? (ipFamily(this.#host) === 0 ? this.#host : undefined);
        bev.connectTls({ host: address, port: this.#port, serverName, caCerts: tls.caCerts, localAddress, localPort });
      }
    } catch (err) {
      this.#connectFailed(err);
    }
  }

  #connected(): void {
    // A request's head and body often leave in two writes: without this the body waits for the
    // server's delayed ACK (Nagle), about 40 ms a request on Node. node:http sets it too.
    this.#bev?.socket?.setNoDelay(true);
    this.#timer.del();
    this.#retryCount = 0;
    this.#state = "idle";
    this.#responses = 0;
    this.#queuedBytes = 0;
    this.#peerEnd = "open";
    this.#newParser();
    this.#syncTimeouts();
    this.#syncRead();
    this.#pump();
  }

  #newParser(): void {
    this.#parserStale = false;
    this.#parser = new HttpParser("response", {
      maxHeaderSize: this.#maxHeadersSize,
      maxBodySize: this.#maxBodySize,
    });
  }

  /** A connect (or lookup) failed or timed out: retry after the delay, or fail the waiting requests (libevent `evhttp_connection_cb_cleanup`). */
  #connectFailed(err: unknown): void {
    this.#timer.del();
    this.#resetSocket();
    if (this.#queue.length === 0) {
      this.#retryCount = 0;
      return;
    }
    if (this.#retryMax < 0 || this.#retryCount < this.#retryMax) {
      const delay = Math.min(MAX_RETRY_DELAY_MS, this.#retryDelayMs * 2 ** this.#retryCount);
      this.#retryCount++;
      this.#state = "retry_wait";
      this.#timer.add(delay);
      return;
    }
    this.#retryCount = 0;
    const timedOut = err instanceof HttpError && err.code === "ERR_TIMEOUT";
    let error: HttpError;
    if (timedOut) {
      error = err;
    } else {
      error = new HttpError("ERR_CONNECT", `could not connect to ${this.#hostField}: ${describe(err)}`, 502, {
        cause: err,
      });
    }
    // Callbacks may make new requests on this connection: those start afresh.
    const failing = this.#queue;
    this.#queue = [];
    for (const core of failing) this.#settleFailure(core, timedOut ? "timeout" : "eof", error);
    this.#pump();
    this.#maybeAutoFree();
  }

  #onTimer(): void {
    switch (this.#state) {
      case "resolving":
      case "connecting":
        this.#attempt++;
        this.#connectFailed(
          new HttpError("ERR_TIMEOUT", `connecting to ${this.#hostField} timed out after ${this.#connectMs} ms`, 504),
        );
        return;
      case "retry_wait":
        this.#state = "disconnected";
        this.#pump();
        return;
    }
  }

  /** Drop the socket (libevent `evhttp_connection_reset_`); the caller deals with the requests that were on it. */
  #resetSocket(): void {
    const bev = this.#bev;
    const wasConnected = this.#state === "idle" || this.#state === "busy";
    this.#bev = null;
    this.#parser = null;
    this.#writing = null;
    this.#peerEnd = "open";
    this.#pauseHold.del();
    if (this.#state !== "freed") this.#state = "disconnected";
    if (bev !== null) {
      const socket = bev.socket;
      bev.free();
      socket?.close();
    }
    if (wasConnected) this.#closeCb?.(this);
  }

  // ------------------------------------------------------------- writing

  /** Put a request on the wire: its head, then its body (libevent `evhttp_make_header` + `evhttp_write_buffer`). */
  #dispatch(core: ClientRequestCore): void {
    if (this.#inflight.length === 0) {
      if (this.#parserStale) this.#newParser();
      (this.#parser as HttpParser<"response">).expectResponseTo(core.method);
    }
    core.state = "sending";
    core.sendState = "sending";
    core.received = false;
    core.startOffset = this.#queuedBytes;
    this.#inflight.push(core);
    this.#state = "busy";
    this.#writeHead(core);
    if (core.bodyMode === "buffer") {
      const n = core.sentLength;
      const chunked = core.framing === "chunked";
      if (chunked && n > 0) this.#write(`${n.toString(16)}\r\n`);
      // A reference, not a move: the body stays whole for a retry.
      if (n > 0) this.#writeRef(core.sentBody);
      if (chunked) this.#write(n > 0 ? "\r\n0\r\n\r\n" : "0\r\n\r\n");
      this.#sendDone(core);
    } else {
      this.#writing = core;
      this.#pumpBody();
    }
    this.#syncTimeouts();
    this.#syncRead();
  }

  #write(data: Uint8Array | string): void {
    const bev = this.#bev as BufferEvent;
    bev.write(data);
    // Strings written here are ASCII framing: one byte per char.
    this.#queuedBytes += data.length;
  }

  #writeRef(body: EvBuffer): void {
    (this.#bev as BufferEvent).output.addBufferReference(body);
    this.#queuedBytes += body.length;
  }

  /** Move a streamed body's bytes to the output while it has room; end the body once it is done. */
  #pumpBody(): void {
    const core = this.#writing;
    const bev = this.#bev;
    if (core === null || bev === null) return;
    const out = bev.output;
    const queue = core.bodyQueue;
    const n = queue.length;
    if (n > 0 && out.length < BODY_HIGH_WATER) {
      const chunked = core.framing === "chunked";
      if (chunked) this.#write(`${n.toString(16)}\r\n`);
      queue.removeBuffer(out, n);
      this.#queuedBytes += n;
      core.bodyTaken += n;
      if (chunked) this.#write("\r\n");
    }
    if (queue.length === 0 && core.streamState === "ended") {
      if (core.framing === "chunked") this.#write("0\r\n\r\n");
      this.#writing = null;
      this.#sendDone(core);
      return;
    }
    if (core.drainWanted && queue.length + out.length < BODY_HIGH_WATER) {
      core.drainWanted = false;
      core.drain();
    }
  }

  /** Every byte of the request is in the output. */
  #sendDone(core: ClientRequestCore): void {
    core.sendState = "sent";
    this.#pump();
  }

  #bodyChanged(core: ClientRequestCore): void {
    if (this.#writing === core) this.#pumpBody();
  }

  readonly #onWrite = (bev: BufferEvent): void => {
    if (bev !== this.#bev) return;
    if (this.#writing !== null) this.#pumpBody();
    if (bev.output.length !== 0 || this.#bev !== bev) return;
    // Written out: the wait for the response starts now, and with it the read timeout.
    for (const core of this.#inflight) {
      if (core.state === "sending" && core.sendState === "sent") core.state = "waiting";
    }
    this.#syncTimeouts();
  };

  // ------------------------------------------------------------- reading

  /** Read only while the request answered first is not paused; an idle connection reads to notice a close. */
  #syncRead(): void {
    const bev = this.#bev;
    if (bev === null || (this.#state !== "idle" && this.#state !== "busy")) return;
    const head = this.#inflight[0];
    const want = head === undefined || head.flow === "flowing";
    const on = (bev.getEnabled() & EV_READ) !== 0;
    if (want && !on) {
      bev.enable(EV_READ);
      this.#pauseHold.del();
    } else if (!want && on) {
      bev.disable(EV_READ);
      this.#pauseHold.add();
    }
  }

  /**
   * The read timeout runs only while a written request waits for (more of)
   * its response and is not paused: an idle keep-alive connection is never
   * dropped by it (libevent #1781), nor is an upload still being written.
   */
  #syncTimeouts(): void {
    const bev = this.#bev;
    if (bev === null || (this.#state !== "idle" && this.#state !== "busy")) return;
    const head = this.#inflight[0];
    const waiting = head !== undefined && (head.state === "waiting" || head.state === "reading") &&
      head.flow === "flowing";
    const read = waiting ? this.#readMs : 0;
    const write = this.#writeMs;
    if (read === this.#appliedRead && write === this.#appliedWrite) return;
    this.#appliedRead = read;
    this.#appliedWrite = write;
    bev.setTimeouts(read, write);
  }

  #flowChanged(core: ClientRequestCore): void {
    if (this.#inflight[0] !== core) return;
    this.#syncRead();
    this.#syncTimeouts();
    // Bytes that came before the pause wait in the input: parse them on the loop.
    if (core.flow === "flowing") this.#kick.active(EV_TIMEOUT);
  }

  #onKick(): void {
    if (this.#state === "busy" || this.#state === "idle") this.#processInput();
  }

  readonly #onRead = (bev: BufferEvent): void => {
    if (bev === this.#bev) this.#processInput();
  };

  #processInput(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    try {
      this.#parseInput();
    } finally {
      this.#parsing = false;
    }
    // An end the server made while the body was paused is acted on once the bytes before it are read.
    if (this.#peerEnd !== "open" && this.#state === "busy") this.#peerClosed();
  }

  /** Parse what the input holds for the requests on the wire, in order (libevent `evhttp_read_cb`). */
  #parseInput(): void {
    const bev = this.#bev;
    if (bev === null) return;
    const input = bev.input;
    for (;;) {
      if (this.#bev !== bev) return;
      if (this.#state === "idle") {
        if (input.length > 0) {
          // Bytes nobody asked for (a 408 before a close, or a confused server): libevent resets the connection.
          this.#resetSocket();
          this.#pump();
          this.#maybeAutoFree();
        }
        return;
      }
      if (this.#state !== "busy") return;
      const core = this.#inflight[0];
      if (core.flow === "paused") return;
      if (input.length > 0) core.received = true;
      const ev = (this.#parser as HttpParser<"response">).parseBodyInto(input, core.bodySink);
      switch (ev.type) {
        case "head":
          if (!this.#gotHead(core, ev.head)) return;
          break;
        case "trailers":
          core.inputTrailers = wrapHeaders(ev.headers);
          break;
        case "need_more":
          this.#deliverBody(core);
          return;
        case "end":
          // The end of an interim (1xx) response: the final one is still to come.
          if (core.state !== "reading") break;
          if (!this.#deliverBody(core, true)) return;
          this.#finishResponse(core);
          break;
        case "error":
          // The body bytes that came whole before the fault are the application's, as they would be before a close.
          if (core.state === "reading" && !this.#deliverBody(core)) return;
          this.#responseFailed(core, ev.error, null);
          return;
        default:
          return;
      }
    }
  }

  /** A response head: note it and ask the header callback (libevent `evhttp_read_header`). False once the request is gone. */
  #gotHead(core: ClientRequestCore, head: ResponseHead): boolean {
    // An interim response (100 Continue, 103 Early Hints): the final one follows for the same request.
    if (head.status < 200 && head.status !== 101) return true;
    core.responseCode = head.status;
    core.responseReason = head.reason;
    core.responseMinor = head.versionMinor;
    core.inputHeaders = wrapHeaders(head.headers);
    core.keepAlive = head.keepAlive;
    core.upgrade = head.upgrade;
    core.responseFraming = head.framing;
    core.responseLength = head.contentLength;
    core.state = "reading";
    core.startDecoding(this.#base.platform.compression);
    this.#syncTimeouts();
    const cb = core.headerCb;
    if (cb === null) return true;
    const verdict = cb(core.req);
    if (core.state !== "reading" || this.#inflight[0] !== core) return false;
    if (verdict === false || verdict instanceof Error) {
      const error = verdict instanceof Error
        ? new HttpError("ERR_CANCELLED", `the header callback aborted the request: ${verdict.message}`, undefined, {
          cause: verdict,
        })
        : new HttpError("ERR_CANCELLED", "the header callback aborted the request");
      this.#stop(core, "request_cancel", error);
      return false;
    }
    return true;
  }

  /**
   * Hand new body bytes to the chunked callback, then drain them (libevent
   * `evhttp_read_body`); a coded body is decoded first (`final` at its end).
   * False once the request is gone.
   */
  #deliverBody(core: ClientRequestCore, final = false): boolean {
    const failed = core.decodeBody(final);
    if (failed !== null) {
      this.#socketFailed(failed.code === "ERR_BODY_TOO_LARGE" ? "data_too_long" : "invalid_header", failed);
      return false;
    }
    const cb = core.chunkCb;
    if (cb === null || core.inputBuffer.length === 0) return true;
    cb(core.req);
    core.bodyDelivered += core.inputBuffer.length;
    core.inputBuffer.drain(core.inputBuffer.length);
    return core.state === "reading" && this.#inflight[0] === core;
  }

  /** The response is complete (libevent `evhttp_connection_done`). */
  #finishResponse(core: ClientRequestCore): void {
    this.#inflight.shift();
    this.#responses++;
    core.state = "complete";
    const sendFinished = core.sendState === "sent";
    if (!sendFinished) {
      // Answered before its body was all sent: the rest is not wanted, and the stream is cut mid-message.
      if (this.#writing === core) this.#writing = null;
      core.closeSource();
    }
    const reuse = core.keepAlive && !core.upgrade && !core.closeAfter && sendFinished && this.#peerEnd === "open";
    let failures: Failure[] = [];
    if (!reuse) {
      failures = this.#detach(null, null);
    } else if (this.#inflight.length === 0) {
      this.#state = "idle";
    } else {
      (this.#parser as HttpParser<"response">).expectResponseTo(this.#inflight[0].method);
    }
    this.#syncTimeouts();
    this.#syncRead();
    this.#pump();
    core.cb?.(core.req);
    core.completeCb?.(core.req);
    core.settled();
    for (const f of failures) this.#settleFailure(f.core, f.kind, f.error);
    this.#maybeAutoFree();
  }

  // ------------------------------------------------------ events, failures

  readonly #onEvent = (bev: BufferEvent, what: number): void => {
    if (bev !== this.#bev) return;
    if (what & BEV_EVENT_CONNECTED) {
      if (this.#state === "connecting") this.#connected();
      return;
    }
    if (this.#state === "connecting") {
      this.#connectFailed(bev.socketError ?? new Error("the connection failed"));
      return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
      const writing = (what & BEV_EVENT_WRITING) !== 0;
      const ms = writing ? this.#writeMs : this.#readMs;
      this.#socketFailed(
        "timeout",
        new HttpError(
          "ERR_TIMEOUT",
          writing
            ? `writing the request to ${this.#hostField} made no progress for ${ms} ms`
            : `no response bytes from ${this.#hostField} for ${ms} ms`,
          504,
        ),
      );
      return;
    }
    this.#peerEnd = what & BEV_EVENT_ERROR ? "error" : "eof";
    this.#peerClosed();
  };

  /** The server closed or reset the socket (libevent `evhttp_error_cb`). */
  #peerClosed(): void {
    const bev = this.#bev;
    if (bev === null) return;
    if (this.#state === "idle") {
      // Close detection: the server dropped an idle keep-alive connection; the next request connects anew.
      this.#resetSocket();
      this.#pump();
      this.#maybeAutoFree();
      return;
    }
    if (this.#state !== "busy") return;
    const head = this.#inflight[0];
    if (head.flow === "paused" && bev.input.length > 0) return;
    const parser = this.#parser as HttpParser<"response">;
    if (this.#peerEnd === "eof") {
      // A clean end may complete a body read until close, or cut a response short.
      const at = parser.state;
      const ev = parser.eof(bev.input);
      if (ev !== null && ev.type === "end") {
        if (this.#deliverBody(head, true)) this.#finishResponse(head);
        return;
      }
      if (ev !== null) {
        this.#responseFailed(head, ev.error, at);
        return;
      }
    }
    const cause = bev.socketError;
    if (head.state === "reading") {
      // Reset inside the body (or closed inside a body the parser took as whole): what came is not the whole response.
      const how = this.#peerEnd === "error" ? "the connection was reset" : "the connection closed";
      this.#socketFailed("eof", this.#cutShort(head, how, parser.state, cause));
      return;
    }
    const error = new HttpError(
      "ERR_CONNECTION_CLOSED",
      cause !== null
        ? `the connection to ${this.#hostField} failed before the response: ${describe(cause)}`
        : `${this.#hostField} closed the connection before responding`,
      502,
      cause === null ? undefined : { cause },
    );
    this.#socketFailed("eof", error);
  }

  /**
   * The parser found a fault in the response to `core`. A close inside the
   * response (`at`: the parser's state before it) says where it cut the
   * response short; a malformed head or body says which, and from where,
   * before the parser's words; a limit crossed is reported as the parser
   * words it.
   */
  #responseFailed(core: ClientRequestCore, error: HttpError, at: HttpParserState | null): void {
    const kind = kindOf(error.code);
    let reported = error;
    if (error.code === "ERR_INCOMPLETE" && at !== null && core.state === "reading") {
      reported = this.#cutShort(core, "the connection closed", at, null);
    } else if (error.code === "ERR_INCOMPLETE" && at !== null) {
      const head = `the response from ${this.#hostField} was cut short: the connection closed inside its head`;
      reported = new HttpError("ERR_INCOMPLETE", head, 502);
    } else if (kind === "invalid_header") {
      const part = core.state === "reading" ? "body" : "head";
      reported = new HttpError(
        error.code,
        `the response ${part} from ${this.#hostField} is malformed: ${error.message}`,
        502,
        { cause: error },
      );
    }
    this.#socketFailed(kind, reported);
  }

  /** `ERR_INCOMPLETE` for a response body that ended early: `how` it ended and how many bytes came (`at`: the parser's state then). */
  #cutShort(core: ClientRequestCore, how: string, at: HttpParserState, cause: unknown): HttpError {
    const got = core.bodyReceived;
    let where: string;
    if (core.responseFraming === "length") where = `after ${got} of ${core.responseLength} body bytes`;
    else if (at === "trailers") where = `in the trailer section, after ${got} body bytes`;
    else if (core.responseFraming === "chunked") where = `after ${got} body bytes, before the last chunk`;
    else where = `after ${got} body bytes`;
    const error = new HttpError(
      "ERR_INCOMPLETE",
      `the response from ${this.#hostField} was cut short: ${how} ${where}${
        cause === null ? "" : `: ${describe(cause)}`
      }`,
      502,
      cause === null ? undefined : { cause },
    );
    return error;
  }

  /** The socket is unusable: drop it; the first request gets the error, the others a retry when safe. */
  #socketFailed(kind: HttpClientErrorKind, error: HttpError): void {
    const failures = this.#detach(kind, error);
    this.#pump();
    for (const f of failures) this.#settleFailure(f.core, f.kind, f.error);
    this.#maybeAutoFree();
  }

  /**
   * Reset the socket and sort the requests that were on it: each is put
   * back in the queue to be sent once more on a fresh connection when that
   * is safe (it received nothing, was not retried before, and either never
   * left, or is idempotent with a body that can be sent again and the close
   * is the kind a reused connection meets), else it fails. With `headKind`
   * the first request fails with it (or is retried after a plain close).
   */
  #detach(headKind: HttpClientErrorKind | null, headError: HttpError | null): Failure[] {
    const bev = this.#bev;
    const handed = bev === null ? this.#queuedBytes : this.#queuedBytes - bev.output.length;
    const reused = this.#responses > 0;
    const inflight = this.#inflight;
    this.#inflight = [];
    this.#resetSocket();
    const retry: ClientRequestCore[] = [];
    const failures: Failure[] = [];
    let closed: HttpError | null = null;
    inflight.forEach((core, i) => {
      if (isFinished(core.state)) return;
      const isHead = i === 0 && headKind !== null;
      const unsent = core.startOffset >= handed;
      const replayable = core.bodyMode === "buffer" || core.bodyTaken === 0;
      const safe = unsent || (IDEMPOTENT.has(core.method) && replayable && (!isHead || (headKind === "eof" && reused)));
      if (!core.retried && !core.received && safe) {
        core.resetForRetry();
        retry.push(core);
        return;
      }
      if (isHead) {
        failures.push({ core, kind: headKind, error: headError as HttpError });
        return;
      }
      closed ??= new HttpError(
        "ERR_CONNECTION_CLOSED",
        `the connection to ${this.#hostField} closed before this pipelined request was answered`,
        502,
      );
      failures.push({ core, kind: "eof", error: closed });
    });
    this.#queue.unshift(...retry);
    return failures;
  }

  /** cancel(), the header callback's abort, or a failure the request found in its own body. */
  #stop(core: ClientRequestCore, kind: HttpClientErrorKind, error: HttpError): void {
    if (core.conn !== this || isFinished(core.state) || core.state === "new") return;
    let failures: Failure[] = [];
    if (core.state === "queued") {
      const at = this.#queue.indexOf(core);
      if (at >= 0) this.#queue.splice(at, 1);
    } else {
      // On the wire: the stream holds part of this request or its answer, so only a new socket is clean.
      core.state = kind === "request_cancel" ? "cancelled" : "failed";
      failures = this.#detach(null, null);
    }
    this.#pump();
    if (kind === "request_cancel") this.#settleCancel(core, error);
    else this.#settleFailure(core, kind, error);
    for (const f of failures) this.#settleFailure(f.core, f.kind, f.error);
    this.#maybeAutoFree();
  }

  #settleFailure(core: ClientRequestCore, kind: HttpClientErrorKind, error: HttpError): void {
    core.state = "failed";
    core.error = error;
    core.errorKind = kind;
    core.closeSource();
    core.errorCb?.(kind, core.req);
    core.cb?.(core.req);
    core.completeCb?.(core.req);
    core.settled();
  }

  /** As libevent's `evhttp_cancel_request`: the error callback hears of it, the request callback does not. */
  #settleCancel(core: ClientRequestCore, error: HttpError): void {
    core.state = "cancelled";
    core.error = error;
    core.errorKind = "request_cancel";
    core.closeSource();
    core.errorCb?.("request_cancel", core.req);
    core.completeCb?.(core.req);
    core.settled();
  }

  #maybeAutoFree(): void {
    if (
      this.#lifetime === "free_on_completion" && this.#state !== "freed" && this.#queue.length === 0 &&
      this.#inflight.length === 0
    ) {
      this.free();
    }
  }
}
