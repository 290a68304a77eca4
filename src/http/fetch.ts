/**
 * fetch() on levent's client: the Fetch standard's `fetch(input, init)`,
 * answered with the runtime's own `Response`, carried by
 * {@linkcode HttpConnection} and {@linkcode HttpClientRequest} over
 * keep-alive connections that an {@linkcode HttpClientPool} keeps per
 * origin. What the standard asks of a non-browser fetch is done here:
 * method normalisation and the forbidden methods, a real `Headers`, every
 * body type (a ReadableStream with `duplex: "half"`), redirects (`follow`,
 * `manual`, `error`; the 301/302/303 rewrite to GET; at most 20;
 * credentials dropped across origins), AbortSignal (before the response
 * and while its body streams), bad ports, and decoding of gzip, deflate
 * and br bodies.
 *
 * @module
 */
import { checkInteger, checkLimit, checkObject, typeError } from "../check.ts";
import { Event, EventBase } from "../event/event_base.ts";
import { DEFAULT_MAX_DECODED_SIZE } from "./content_encoding.ts";
import { BodyQueue, holdLoop, joinChunks, normalizeMethod } from "./client_fetch.ts";
import { HttpClientRequest } from "./http_client_request.ts";
import { HttpConnection, type HttpConnectionTimeouts, type HttpConnectionTls } from "./http_connection.ts";
import { HttpError } from "./http_error.ts";

/** Options of an {@linkcode HttpClientPool}. */
export interface HttpClientPoolOptions {
  /** The EventBase its connections run on; the pool runs its loop while a fetch needs it, unless it runs already. Default: a base of its own. */
  readonly base?: EventBase;
  /** The most connections to one origin at once; more requests wait for one. Default 64. */
  readonly maxConnectionsPerOrigin?: number;
  /** How long an idle keep-alive connection is kept, in milliseconds. Default 4000 (undici's). */
  readonly idleTimeoutMs?: number;
  /** TLS settings for `https` origins. */
  readonly tls?: HttpConnectionTls;
  /**
   * Timeouts in milliseconds, as {@linkcode HttpConnection.setTimeout}.
   * Default: 45000 to connect, 300000 (undici's) to wait for response
   * bytes or to send request bytes.
   */
  readonly timeout?: number | HttpConnectionTimeouts;
  /** The most bytes of a response head, as {@linkcode HttpConnection.setMaxHeadersSize}. Default 16384. */
  readonly maxHeadersSize?: number;
  /** The most bytes of a response body as it comes on the wire, as {@linkcode HttpConnection.setMaxBodySize}. Default Infinity. */
  readonly maxBodySize?: number;
  /**
   * Send `Accept-Encoding: gzip, deflate, br` (less what the platform
   * lacks) and decode such bodies, as every fetch does. Default true.
   */
  readonly decompress?: boolean;
  /** The most bytes a decoded body may have; past it the body errors. Default 1 GiB. */
  readonly maxDecodedSize?: number;
}

/** The init of {@linkcode fetch}: the Fetch standard's RequestInit, and levent's pool. */
export interface HttpFetchInit extends RequestInit {
  /** `"half"`: required with a ReadableStream body, as the standard says (the request body is sent before the response is read). */
  readonly duplex?: "half";
  /** The pool to send through. Default: the one {@linkcode fetch} shares. */
  readonly pool?: HttpClientPool;
}

/** The default pool's timeouts: undici's 300 s to read and write, libevent's 45 s to connect. */
const DEFAULT_TIMEOUTS: Required<HttpConnectionTimeouts> = { connectMs: 45000, readMs: 300000, writeMs: 300000 };
const DEFAULT_MAX_PER_ORIGIN = 64;
const DEFAULT_IDLE_MS = 4000;
/** The Fetch standard's redirect limit. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Statuses whose response has no body (the standard's null body statuses). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** Methods the standard forbids (CONNECT, TRACE, TRACK), by their upper-case form. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
/** A method: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Request fields the connection writes itself; a caller's are left out rather than contradict the body. */
const MANAGED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te"]);
/** The request-body-header names the standard removes when a redirect turns the request into a GET. */
const BODY_FIELDS = ["content-encoding", "content-language", "content-location", "content-type"];
/** Fields that carry credentials, removed when a redirect leaves the origin (as undici does). */
const CREDENTIAL_FIELDS = ["authorization", "proxy-authorization", "cookie", "host"];
/** Ports the Fetch standard blocks (a "bad port"), as HTTP clients must not be made to talk other protocols. */
const BAD_PORTS = new Set([
  1,
  7,
  9,
  11,
  13,
  15,
  17,
  19,
  20,
  21,
  22,
  23,
  25,
  37,
  42,
  43,
  53,
  69,
  77,
  79,
  87,
  95,
  101,
  102,
  103,
  104,
  109,
  110,
  111,
  113,
  115,
  117,
  119,
  123,
  135,
  137,
  139,
  143,
  161,
  179,
  389,
  427,
  465,
  512,
  513,
  514,
  515,
  526,
  530,
  531,
  532,
  540,
  548,
  554,
  556,
  563,
  587,
  601,
  636,
  989,
  990,
  993,
  995,
  1719,
  1720,
  1723,
  2049,
  3659,
  4045,
  4190,
  5060,
  5061,
  6000,
  6566,
  6665,
  6666,
  6667,
  6668,
  6669,
  6679,
  6697,
  10080,
]);
const encoder = new TextEncoder();

/** A request body: bytes known whole (sent with Content-Length, replayable for a redirect), or a stream read once. */
type RequestBody = Uint8Array | ReadableStream<Uint8Array> | null;

/** Everything one fetch sends, as the standard's request: changed by each redirect. */
interface FetchRequest {
  url: URL;
  method: string;
  headers: [string, string][];
  body: RequestBody;
  readonly redirect: RequestRedirect;
  readonly signal: AbortSignal | null;
  redirects: number;
}

/** A response head as it came, and its body still arriving. */
interface Arrival {
  readonly req: HttpClientRequest;
  readonly queue: BodyQueue;
  /** Stops listening to the signal: the body is complete or gone. */
  readonly done: () => void;
}

/** Where an exchange is: waiting for the head, the head handed on, over. */
type ExchangeState = "waiting_head" | "streaming" | "settled";

/** The network error of the standard: a TypeError, its cause the levent error. */
function networkError(url: URL, err: unknown): TypeError {
  const why = err instanceof Error ? err.message : String(err);
  return new TypeError(`fetch to ${url.href} failed: ${why}`, { cause: err });
}

/** The per-origin part of a pool: its connections, idle or lent, and the requests waiting for one. */
class Origin {
  readonly idle: HttpConnection[] = [];
  /** When each idle connection went idle, by the base's clock. */
  readonly idleSince: number[] = [];
  readonly waiting: ((conn: HttpConnection | Error) => void)[] = [];
  lent = 0;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;

  constructor(host: string, port: number, tls: boolean) {
    this.host = host;
    this.port = port;
    this.tls = tls;
  }
}

// What fetch() does with a pool, set in HttpClientPool's static block.

/** A connection to the URL's origin: at once, or once one is free (rejects with the signal's reason on abort). */
let poolAcquire!: (
  pool: HttpClientPool,
  url: URL,
  signal: AbortSignal | null,
) => Promise<HttpConnection> | HttpConnection;
/** Give a connection back once its request is over. */
let poolRelease!: (pool: HttpClientPool, url: URL, conn: HttpConnection) => void;
/** Keep the pool's loop running for one fetch; returns the release. */
let poolHold!: (pool: HttpClientPool, onFailure: (err: unknown) => void) => () => void;
/** The decoded-size bound, or -1 when bodies are taken as they come. */
let poolDecodeLimit!: (pool: HttpClientPool) => number;

/**
 * Keep-alive connections for {@linkcode fetch}, per origin (scheme, host
 * and port), with limits: at most `maxConnectionsPerOrigin` at once (more
 * requests wait their turn), and an idle connection closed after
 * `idleTimeoutMs`. Each connection is an {@linkcode HttpConnection}, so a
 * request that meets a keep-alive connection the server just closed is
 * sent again on a new one when that is safe.
 *
 * The pool runs its base's loop while a fetch is in flight, unless the
 * loop is running already (then its owner runs it). When it stops the
 * loop (no fetch left after the runtime's turn for I/O) it closes its idle
 * connections too, so they never keep a program alive. libevent has no
 * client pool (evrpc's `evrpc_pool` is the nearest); this is undici's
 * Agent, or Deno's HttpClient.
 *
 * @example
 * ```ts
 * import { fetch, HttpClientPool } from "@levent/levent";
 * const pool = new HttpClientPool({ maxConnectionsPerOrigin: 8, idleTimeoutMs: 10000 });
 * const res = await fetch("http://127.0.0.1:8080/", { pool });
 * console.log(res.status, await res.text());
 * pool.close();
 * ```
 */
export class HttpClientPool {
  static {
    poolAcquire = (pool, url, signal) => pool.#acquire(url, signal);
    poolRelease = (pool, url, conn) => pool.#release(url, conn);
    poolHold = (pool, onFailure) => pool.#hold(onFailure);
    poolDecodeLimit = (pool) => pool.#decodeLimit;
  }

  readonly #base: EventBase;
  readonly #maxPerOrigin: number;
  readonly #idleMs: number;
  readonly #tls: HttpConnectionTls;
  readonly #timeouts: number | HttpConnectionTimeouts;
  readonly #maxHeadersSize: number | undefined;
  readonly #maxBodySize: number | undefined;
  readonly #decodeLimit: number;
  readonly #origins = new Map<string, Origin>();
  readonly #sweep: Event;
  /** Fetches in flight, and whether the last one found the loop run by someone else. */
  #inFlight = 0;
  #ownLoop = true;
  #closed = false;

  /**
   * A pool; see {@linkcode HttpClientPoolOptions}.
   *
   * @throws {TypeError} if options are of the wrong type
   * @throws {RangeError} if a limit is out of range
   */
  constructor(options: HttpClientPoolOptions = {}) {
    checkObject(options, "options");
    this.#base = options.base ?? new EventBase();
    this.#maxPerOrigin = options.maxConnectionsPerOrigin === undefined
      ? DEFAULT_MAX_PER_ORIGIN
      : checkInteger(options.maxConnectionsPerOrigin, "options.maxConnectionsPerOrigin", 1);
    this.#idleMs = options.idleTimeoutMs === undefined
      ? DEFAULT_IDLE_MS
      : checkInteger(options.idleTimeoutMs, "options.idleTimeoutMs", 0);
    this.#tls = options.tls === undefined ? {} : checkObject(options.tls, "options.tls");
    this.#timeouts = options.timeout ?? DEFAULT_TIMEOUTS;
    this.#maxHeadersSize = options.maxHeadersSize;
    this.#maxBodySize = options.maxBodySize;
    if (options.decompress !== undefined && typeof options.decompress !== "boolean") {
      throw typeError("options.decompress", "a boolean", options.decompress);
    }
    this.#decodeLimit = options.decompress === false
      ? -1
      : options.maxDecodedSize === undefined
      ? DEFAULT_MAX_DECODED_SIZE
      : checkLimit(options.maxDecodedSize, "options.maxDecodedSize");
    this.#sweep = new Event(this.#base, null, 0, () => this.#sweepIdle());
    // Check the connection settings once, on a connection never used.
    this.#configure(new HttpConnection(this.#base, { host: "127.0.0.1", port: 80 })).free();
  }

  /** The base the pool's connections run on. */
  get base(): EventBase {
    return this.#base;
  }

  /** Connections open or lent now, over every origin. */
  get connectionCount(): number {
    let n = 0;
    for (const o of this.#origins.values()) n += o.idle.length + o.lent;
    return n;
  }

  /**
   * Fetch through this pool: {@linkcode fetch} with `init.pool` this one.
   *
   * @throws {TypeError} (as a rejection) as fetch does
   */
  fetch(input: string | URL | Request, init?: HttpFetchInit): Promise<Response> {
    return fetchThrough(this, input, init);
  }

  /** Close the idle connections now; connections in use are kept. */
  closeIdle(): void {
    for (const origin of this.#origins.values()) {
      for (const conn of origin.idle) conn.free();
      origin.idle.length = 0;
      origin.idleSince.length = 0;
    }
    this.#sweep.del();
  }

  /**
   * Close every connection and refuse new fetches: those in flight fail
   * (their promise or their body), those waiting for a connection too.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeIdle();
    for (const origin of this.#origins.values()) {
      const waiting = origin.waiting.splice(0);
      for (const w of waiting) w(new TypeError("the HttpClientPool was closed"));
    }
    for (const conn of this.#lent) conn.free();
    this.#lent.clear();
    this.#origins.clear();
    this.#sweep.free();
  }

  /** Close the pool, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Connections lent to fetches, so close() can free them. */
  readonly #lent = new Set<HttpConnection>();

  #configure(conn: HttpConnection): HttpConnection {
    conn.setTimeout(this.#timeouts);
    if (this.#maxHeadersSize !== undefined) conn.setMaxHeadersSize(this.#maxHeadersSize);
    if (this.#maxBodySize !== undefined) conn.setMaxBodySize(this.#maxBodySize);
    return conn;
  }

  /** A connection to `url`'s origin: an idle one, a new one under the limit, or the next one given back. */
  #acquire(url: URL, signal: AbortSignal | null): Promise<HttpConnection> | HttpConnection {
    if (this.#closed) throw new TypeError("the HttpClientPool was closed");
    const key = url.origin;
    let origin = this.#origins.get(key);
    if (origin === undefined) {
      const tls = url.protocol === "https:";
      const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
      origin = new Origin(url.hostname, port, tls);
      this.#origins.set(key, origin);
    }
    const conn = origin.idle.pop();
    if (conn !== undefined) {
      origin.idleSince.pop();
      return this.#lend(origin, conn);
    }
    if (origin.lent < this.#maxPerOrigin) {
      const fresh = new HttpConnection(this.#base, {
        host: origin.host,
        port: origin.port,
        tls: origin.tls ? this.#tls : undefined,
      });
      return this.#lend(origin, this.#configure(fresh));
    }
    const o = origin;
    return new Promise<HttpConnection>((resolve, reject) => {
      const onAbort = (): void => {
        const at = o.waiting.indexOf(take);
        if (at >= 0) o.waiting.splice(at, 1);
        reject(signal?.reason);
      };
      const take = (conn: HttpConnection | Error): void => {
        signal?.removeEventListener("abort", onAbort);
        if (conn instanceof Error) reject(conn);
        else resolve(conn);
      };
      o.waiting.push(take);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #lend(origin: Origin, conn: HttpConnection): HttpConnection {
    origin.lent++;
    this.#lent.add(conn);
    return conn;
  }

  /** A fetch is done with a connection: to the next waiting request, or idle. */
  #release(url: URL, conn: HttpConnection): void {
    const origin = this.#origins.get(url.origin);
    this.#lent.delete(conn);
    if (origin === undefined || this.#closed) {
      conn.free();
      return;
    }
    origin.lent--;
    if (conn.state === "freed") return;
    const next = origin.waiting.shift();
    if (next !== undefined) {
      origin.lent++;
      this.#lent.add(conn);
      next(conn);
      return;
    }
    origin.idle.push(conn);
    origin.idleSince.push(this.#base.now());
    if (this.#idleMs === 0) this.#sweepIdle();
    else if (!this.#sweep.pending()) this.#sweep.add(this.#idleMs);
  }

  /** Free the connections idle longer than the idle timeout; wake again for the next one. */
  #sweepIdle(): void {
    const now = this.#base.now();
    let next = Infinity;
    for (const origin of this.#origins.values()) {
      // Oldest first: idle connections are pushed in the order they went idle.
      let expired = 0;
      while (expired < origin.idle.length && now - origin.idleSince[expired] >= this.#idleMs) expired++;
      for (const conn of origin.idle.splice(0, expired)) conn.free();
      origin.idleSince.splice(0, expired);
      if (origin.idle.length > 0) next = Math.min(next, origin.idleSince[0] + this.#idleMs - now);
    }
    if (next !== Infinity) this.#sweep.add(Math.max(1, next));
  }

  /** Hold the base's loop for one fetch; returns the release. */
  #hold(onFailure: (err: unknown) => void): () => void {
    this.#inFlight++;
    const release = holdLoop(this.#base, onFailure);
    this.#ownLoop = release !== null;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release?.();
      if (--this.#inFlight === 0 && this.#ownLoop) {
        // As holdLoop stops the loop once no request came back by the next turn for I/O,
        // the idle connections go then: a socket left open would keep the program alive.
        this.#base.platform.yieldToIo(() => {
          if (this.#inFlight === 0 && this.#ownLoop) this.closeIdle();
        });
      }
    };
  }
}

let sharedPool: HttpClientPool | undefined;

/**
 * The Fetch standard's `fetch()`, on levent's HTTP client: resolves with
 * the runtime's own `Response` once the response head has arrived, its
 * body streaming after it (flow-controlled: reading pauses while the body
 * is not read). Requests go over keep-alive connections that an
 * {@linkcode HttpClientPool} keeps per origin (`init.pool`, else one
 * shared pool on its own EventBase). Answers are what the standard says,
 * for a non-browser client:
 *
 * - the method: DELETE, GET, HEAD, OPTIONS, POST and PUT upper-case in any
 *   case, other tokens as given; CONNECT, TRACE and TRACK, or a body with
 *   GET or HEAD, are TypeErrors;
 * - headers: a `Headers` (or anything that makes one); `Accept: *\/*`,
 *   `Accept-Encoding` and `User-Agent: levent` unless given;
 * - the body: a string, bytes (an ArrayBuffer or a view), a Blob, FormData,
 *   URLSearchParams (with the Content-Type each implies), or a
 *   ReadableStream with `duplex: "half"`, sent chunked; another object as
 *   its string;
 * - redirects: `follow` (default; 301 and 302 turn a POST into a GET, 303
 *   anything but HEAD; at most 20; Authorization, Cookie and
 *   Proxy-Authorization are dropped when the redirect leaves the origin;
 *   a streamed body cannot be sent again, so only a 303 is followed then),
 *   `manual` (the 3xx response itself), `error` (a TypeError);
 * - `signal`: an abort rejects with its reason, or errors the body with it
 *   once the response has arrived;
 * - a gzip, deflate or br body is decoded (`Content-Encoding` and
 *   `Content-Length` stay as they came), bounded by the pool's
 *   `maxDecodedSize`;
 * - `res.url` is the final URL and `res.redirected` tells whether a
 *   redirect was followed (set on the Response itself: `clone()` does not
 *   keep them).
 *
 * Every failure is a TypeError (the standard's network error) whose
 * `cause` is levent's {@linkcode HttpError} or the platform's coded error,
 * except an abort. Only `http:` and `https:` URLs are fetched; the
 * standard's bad ports (25, 6000...) are refused. Other RequestInit fields
 * (`mode`, `credentials`, `cache`, `referrer`...) mean nothing outside a
 * browser and are ignored. libevent's counterpart is `evhttp_make_request`
 * on an `evhttp_connection`, which this is built on.
 *
 * @example
 * ```ts
 * import { fetch } from "@levent/levent";
 * const res = await fetch("http://127.0.0.1:8080/api", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ hello: "world" }),
 *   signal: AbortSignal.timeout(5000),
 * });
 * console.log(res.status, res.headers.get("content-type"), await res.json());
 * ```
 *
 * @throws {TypeError} (as a rejection) for a bad URL, method, header or body, a network error, or a redirect it may not follow
 * @throws the signal's reason (as a rejection), when aborted
 */
export function fetch(input: string | URL | Request, init?: HttpFetchInit): Promise<Response> {
  return fetchThrough(init?.pool ?? (sharedPool ??= new HttpClientPool()), input, init);
}

function fetchThrough(
  pool: HttpClientPool,
  input: string | URL | Request,
  init: HttpFetchInit | undefined,
): Promise<Response> {
  let request: FetchRequest | Promise<FetchRequest>;
  try {
    request = prepare(input, init ?? {});
  } catch (err) {
    return Promise.reject(err);
  }
  return request instanceof Promise ? request.then((r) => run(pool, r)) : run(pool, request);
}

// ------------------------------------------------------------ the request

/** The URL of a fetch: parsed, http(s), without credentials, no bad port. */
function parseUrl(input: string): URL {
  // A loop of fetches to one URL parses it once; the URL is never changed (a redirect makes a new one).
  if (input === lastInput && lastUrl !== null) return lastUrl;
  let url: URL;
  try {
    url = new URL(input);
  } catch (err) {
    throw new TypeError(`fetch: ${JSON.stringify(input)} is not a URL`, { cause: err });
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(`fetch: a request cannot be made from a URL with credentials: ${url.href}`);
  }
  lastInput = input;
  lastUrl = url;
  return url;
}

let lastInput = "";
let lastUrl: URL | null = null;

/** The checks a URL meets before anything is sent to it (each redirect target too). */
function checkTarget(url: URL): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`fetch to ${url.href} failed: only http: and https: URLs are fetched, not ${url.protocol}`);
  }
  if (url.port !== "" && BAD_PORTS.has(Number(url.port))) {
    throw new TypeError(`fetch to ${url.href} failed: port ${url.port} is blocked (a bad port in the Fetch standard)`);
  }
}

/** What a fetch sends, from its input and init, as the Request constructor would check it. */
function prepare(input: string | URL | Request, init: HttpFetchInit): FetchRequest | Promise<FetchRequest> {
  if (typeof init !== "object" || init === null) throw typeError("init", "an object", init);
  const from = input instanceof Request ? input : null;
  const url = parseUrl(from !== null ? from.url : typeof input === "string" ? input : String(input));

  let method = "GET";
  if (init.method !== undefined) {
    method = normalizeMethod(init.method, "init.method");
    if (!TOKEN.test(method)) throw new TypeError(`fetch: ${JSON.stringify(method)} is not a valid HTTP method`);
    if (FORBIDDEN_METHODS.has(method.toUpperCase())) throw new TypeError(`fetch: the ${method} method is forbidden`);
  } else if (from !== null) {
    method = from.method;
  }

  const fields: [string, string][] = [];
  const given = init.headers !== undefined ? init.headers : from?.headers;
  if (given !== undefined && given !== null) {
    // A Headers checks names and values as the standard asks, and lowercases names.
    const headers = given instanceof Headers ? given : new Headers(given);
    headers.forEach((value, name) => {
      if (!MANAGED.has(name)) fields.push([name, value]);
    });
  }

  const bodyInit = init.body !== undefined ? init.body : undefined;
  const hasBody = (bodyInit !== undefined && bodyInit !== null) || (bodyInit === undefined && from?.body != null);
  if (hasBody && (method === "GET" || method === "HEAD")) {
    throw new TypeError(`fetch: a ${method} request cannot have a body`);
  }
  const signal = init.signal !== undefined ? init.signal : from?.signal ?? null;
  const redirect = init.redirect ?? from?.redirect ?? "follow";
  if (redirect !== "follow" && redirect !== "manual" && redirect !== "error") {
    throw typeError("init.redirect", `"follow", "manual" or "error"`, redirect);
  }
  if (signal !== null && !(signal instanceof AbortSignal)) throw typeError("init.signal", "an AbortSignal", signal);

  const request: FetchRequest = { url, method, headers: fields, body: null, redirect, signal, redirects: 0 };
  if (!has(fields, "accept")) fields.push(["accept", "*/*"]);
  if (!has(fields, "user-agent")) fields.push(["user-agent", "levent"]);
  if (!hasBody) return request;
  if (bodyInit === undefined) {
    // A Request's body: read it whole, so that a redirect can send it again.
    return (from as Request).arrayBuffer().then((buf) => {
      request.body = new Uint8Array(buf);
      return request;
    });
  }
  const extracted = extractBody(bodyInit as BodyInit, init.duplex);
  if (extracted instanceof Promise) {
    return extracted.then(([bytes, type]) => {
      request.body = bytes;
      if (type !== null && !has(fields, "content-type")) fields.push(["content-type", type]);
      return request;
    });
  }
  request.body = extracted[0];
  if (extracted[1] !== null && !has(fields, "content-type")) fields.push(["content-type", extracted[1]]);
  return request;
}

function has(fields: readonly [string, string][], name: string): boolean {
  for (const [n] of fields) if (n === name) return true;
  return false;
}

type Extracted = [RequestBody, string | null];

/** The standard's "extract a body": the bytes (or the stream) and the Content-Type they imply. */
function extractBody(body: BodyInit, duplex: string | undefined): Extracted | Promise<Extracted> {
  if (typeof body === "string") return [encoder.encode(body), "text/plain;charset=UTF-8"];
  if (body instanceof URLSearchParams) {
    return [encoder.encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
  }
  if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
  if (ArrayBuffer.isView(body)) {
    return [new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), null];
  }
  if (body instanceof Blob) {
    const type = body.type === "" ? null : body.type;
    return body.arrayBuffer().then((buf): Extracted => [new Uint8Array(buf), type]);
  }
  if (body instanceof FormData) {
    // The runtime's own multipart encoder, with its boundary in the type.
    const encoded = new Response(body);
    const type = encoded.headers.get("content-type");
    return encoded.arrayBuffer().then((buf): Extracted => [new Uint8Array(buf), type]);
  }
  if (body instanceof ReadableStream) {
    if (duplex !== "half") {
      throw new TypeError(
        'fetch: a ReadableStream body needs duplex: "half" (the request is sent before the response is read)',
      );
    }
    if (body.locked) throw new TypeError("fetch: the ReadableStream body is locked or was read");
    return [body as ReadableStream<Uint8Array>, null];
  }
  // Anything else is its string, as WebIDL converts it.
  return [encoder.encode(String(body)), "text/plain;charset=UTF-8"];
}

// ------------------------------------------------------------ sending

/** Send the request, following redirects as asked, and make the Response. */
async function run(pool: HttpClientPool, request: FetchRequest): Promise<Response> {
  const signal = request.signal;
  for (;;) {
    if (signal?.aborted) throw signal.reason;
    checkTarget(request.url);
    const arrival = await exchange(pool, request);
    const req = arrival.req;
    const status = req.responseCode;
    const location = REDIRECTS.has(status) ? req.inputHeaders.get("location") : null;
    if (location === null || request.redirect === "manual") return respond(request, arrival);
    arrival.queue.cancel();
    arrival.done();
    if (request.redirect === "error") {
      throw new TypeError(`fetch to ${request.url.href} failed: a ${status} redirect while redirect is "error"`);
    }
    follow(request, status, location);
  }
}

/** Turn the request into the one a redirect asks for (the standard's HTTP-redirect fetch). */
function follow(request: FetchRequest, status: number, location: string): void {
  const from = request.url;
  let to: URL;
  try {
    to = new URL(location, from);
  } catch (err) {
    throw new TypeError(
      `fetch to ${from.href} failed: the redirect's Location ${JSON.stringify(location)} is not a URL`,
      {
        cause: err,
      },
    );
  }
  if (to.protocol !== "http:" && to.protocol !== "https:") {
    throw new TypeError(`fetch to ${from.href} failed: a redirect to ${to.protocol} is not followed`);
  }
  if (++request.redirects > MAX_REDIRECTS) {
    throw new TypeError(`fetch to ${from.href} failed: more than ${MAX_REDIRECTS} redirects`);
  }
  if (request.body instanceof ReadableStream && status !== 303) {
    throw new TypeError(`fetch to ${from.href} failed: a ${status} redirect needs the streamed body sent again`);
  }
  const method = request.method;
  if (
    ((status === 301 || status === 302) && method === "POST") ||
    (status === 303 && method !== "GET" && method !== "HEAD")
  ) {
    request.method = "GET";
    request.body = null;
    request.headers = request.headers.filter(([name]) => !BODY_FIELDS.includes(name));
  }
  if (to.origin !== from.origin) {
    request.headers = request.headers.filter(([name]) => !CREDENTIAL_FIELDS.includes(name));
  }
  if (to.hash === "" && from.hash !== "") to.hash = from.hash;
  request.url = to;
}

/** One request on a pooled connection; resolves once its head has arrived. */
async function exchange(pool: HttpClientPool, request: FetchRequest): Promise<Arrival> {
  const { url, signal } = request;
  const acquired = poolAcquire(pool, url, signal);
  const conn = acquired instanceof Promise ? await acquired : acquired;
  const req = new HttpClientRequest();
  const out = req.outputHeaders;
  for (const [name, value] of request.headers) out.add(name, value);
  const decodeLimit = poolDecodeLimit(pool);
  if (decodeLimit >= 0) req.setDecompression({ maxDecodedSize: decodeLimit });
  const body = request.body;
  if (body instanceof Uint8Array) req.outputBuffer.add(body);
  else if (body !== null) req.setBodySource(chunksOf(body));

  return new Promise<Arrival>((resolve, reject) => {
    let state: ExchangeState = "waiting_head";
    const queue = new BodyQueue(req);
    let release: (() => void) | null = null;
    let listening = false;

    const stopListening = (): void => {
      if (!listening) return;
      listening = false;
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: unknown): void => {
      if (state === "waiting_head") reject(err);
      else queue.fail(err);
      state = "settled";
    };
    const onAbort = (): void => {
      stopListening();
      fail(signal?.reason);
      req.cancel();
    };
    const arrival: Arrival = { req, queue, done: stopListening };

    req.setHeaderCb(() => {
      if (state !== "waiting_head") return;
      state = "streaming";
      // Resolved a microtask later, once this read's bytes are parsed: a body that came with its head is whole by then.
      resolve(arrival);
    });
    req.setChunkedCb((r) => {
      for (const view of r.inputBuffer.peek()) queue.push(view);
    });
    req.setErrorCb((_kind, r) => {
      if (state !== "settled") fail(networkError(url, r.error));
    });
    req.setOnCompleteCb((r) => {
      if (r.state === "complete") {
        queue.end();
        stopListening();
        state = "settled";
      }
      poolRelease(pool, url, conn);
      release?.();
      release = null;
    });

    if (signal !== null) {
      listening = true;
      signal.addEventListener("abort", onAbort, { once: true });
    }
    try {
      conn.makeRequest(req, request.method, url.pathname + url.search);
    } catch (err) {
      stopListening();
      poolRelease(pool, url, conn);
      reject(err instanceof TypeError ? err : networkError(url, err));
      return;
    }
    if (isOver(req)) return;
    release = poolHold(pool, (err) => {
      fail(networkError(url, new HttpError("ERR_CANCELLED", "the event loop stopped", undefined, { cause: err })));
      poolRelease(pool, url, conn);
    });
  });
}

function isOver(req: HttpClientRequest): boolean {
  const s = req.state;
  return s === "complete" || s === "failed" || s === "cancelled";
}

/** A ReadableStream's chunks as an async iterable: strings are refused as the standard refuses them. */
async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const step = await reader.read();
      if (step.done === true) return;
      const chunk: unknown = step.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError("fetch: a ReadableStream body gave a chunk that is not a Uint8Array");
      }
      yield chunk;
    }
  } finally {
    reader.releaseLock();
  }
}

// ------------------------------------------------------------ the response

/** The runtime's Response for what arrived. */
function respond(request: FetchRequest, arrival: Arrival): Response {
  const { req, queue } = arrival;
  const status = req.responseCode;
  if (status < 200 || status > 599) {
    queue.cancel();
    arrival.done();
    throw new TypeError(`fetch to ${request.url.href} failed: a response with status ${status} cannot be a Response`);
  }
  const headers: [string, string][] = [];
  req.inputHeaders.forEach((value, name) => headers.push([name, value]));
  const init: ResponseInit = { status, statusText: req.responseReason, headers };
  let body: BodyInit | null = null;
  if (request.method === "HEAD" || NULL_BODY.has(status)) {
    queue.cancel();
    arrival.done();
  } else {
    // A body here whole (a small response, in the read that brought its head) is given as bytes, not a stream.
    const whole = queue.takeComplete();
    if (whole !== null) {
      body = joinChunks(whole) as Uint8Array<ArrayBuffer>;
      arrival.done();
    } else {
      body = bodyStream(request.url, arrival);
    }
  }
  const res = new Response(body, init);
  // The URL without its fragment; an empty one ("#") has url.hash "" too. No other part of an href holds a "#".
  const href = request.url.href;
  const cut = href.indexOf("#");
  Object.defineProperty(res, "url", { value: cut < 0 ? href : href.slice(0, cut), enumerable: true });
  if (request.redirects > 0) Object.defineProperty(res, "redirected", { value: true, enumerable: true });
  return res;
}

/** The body still arriving, as a stream: pulled chunk by chunk, a failure as the standard's TypeError. */
function bodyStream(url: URL, arrival: Arrival): ReadableStream<Uint8Array> {
  const it = arrival.queue.take();
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      try {
        const step = await it.next();
        if (step.done === true) {
          arrival.done();
          controller.close();
        } else {
          controller.enqueue(step.value);
        }
      } catch (err) {
        arrival.done();
        controller.error(err instanceof HttpError ? networkError(url, err) : err);
      }
    },
    async cancel(): Promise<void> {
      arrival.done();
      await it.return?.();
    },
  }, { highWaterMark: 0 });
}
