/**
 * The idiomatic HTTP client: {@linkcode request} sends one request and
 * resolves with the response head, its body an async iterable of chunks
 * (and a Web ReadableStream), cancelled by an AbortSignal. It is built on
 * {@linkcode HttpConnection} and {@linkcode HttpClientRequest}, and runs
 * their event loop for as long as it needs it.
 *
 * @module
 */
import { checkObject, typeError } from "../check.ts";
import { EvBuffer } from "../buffer/evbuffer.ts";
import { EventBase } from "../event/event_base.ts";
import { HttpHeaders } from "./headers.ts";
import { HttpError } from "./http_error.ts";
import { decodeUri, HttpUri } from "./uri.ts";
import { HttpConnection, type HttpConnectionTimeouts, type HttpConnectionTls } from "./http_connection.ts";
import {
  basicAuth,
  type HttpClientBodySource,
  HttpClientRequest,
  type HttpDecompressionOptions,
} from "./http_client_request.ts";

/** Options of {@linkcode request}. */
export interface HttpClientFetchOptions {
  /**
   * The method; default `GET`. As in fetch(), the standard methods are
   * sent upper-case whatever case they are given in (`"get"` goes out as
   * `GET`; DELETE, GET, HEAD, OPTIONS, POST and PUT), and other tokens as
   * they are.
   */
  readonly method?: string;
  /** Header fields to send. A Host field is added unless given. */
  readonly headers?: HttpHeaders | Iterable<readonly [string, string]> | Readonly<Record<string, string>>;
  /**
   * The body: a string (UTF-8), bytes (kept by reference: do not change them
   * until the response settles), an EvBuffer (moved), or an async or sync
   * iterable of chunks (a Web ReadableStream is one) streamed as it is
   * produced: chunked, or with the Content-Length given in `headers`. A
   * GET or HEAD request takes none (a TypeError, as in fetch()).
   */
  readonly body?: string | Uint8Array | EvBuffer | HttpClientBodySource | null;
  /**
   * Ask for a compressed response and decode it (see
   * {@linkcode HttpClientRequest.setDecompression}): `Accept-Encoding:
   * gzip, deflate, br` is sent unless `headers` has one, and a gzip,
   * deflate or br body arrives decoded, its fields as they came. Default
   * true; false takes the body as it comes; an object bounds the decoded
   * size (default 1 GiB).
   */
  readonly decompress?: boolean | HttpDecompressionOptions;
  /** Cancels the request, or the reading of its body, when aborted: the promise or the body then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * The EventBase to run on. request() runs its loop while the request
   * lasts unless the loop is running already (then its owner runs it).
   * Default: a base of its own.
   */
  readonly base?: EventBase;
  /**
   * A connection to send the request on (its base is used), kept open
   * afterwards so later requests reuse it (keep-alive). Its host and port
   * must be the URL's. Default: a connection of its own, freed once the
   * response is read.
   */
  readonly connection?: HttpConnection;
  /** TLS settings for an `https` URL (ignored with `connection`). */
  readonly tls?: HttpConnectionTls;
  /** Timeouts in milliseconds, as {@linkcode HttpConnection.setTimeout} (ignored with `connection`). */
  readonly timeout?: number | HttpConnectionTimeouts;
  /** Connect retries, as {@linkcode HttpConnection.setRetries} (ignored with `connection`). */
  readonly retries?: number;
  /** The most bytes of response head, as {@linkcode HttpConnection.setMaxHeadersSize} (ignored with `connection`). */
  readonly maxHeadersSize?: number;
  /** The most bytes of response body, as {@linkcode HttpConnection.setMaxBodySize} (ignored with `connection`). */
  readonly maxBodySize?: number;
}

/** A response from {@linkcode request}: the head at once, the body as it arrives. */
export interface HttpClientResponse {
  /** The status code. */
  readonly status: number;
  /** The reason phrase. */
  readonly reason: string;
  /** The HTTP version, `"1.1"` or `"1.0"`. */
  readonly version: string;
  /** Whether the status is 2xx, as a fetch Response says. */
  readonly ok: boolean;
  /** The header fields, names lowercased. */
  readonly headers: HttpHeaders;
  /** The trailer fields of a chunked response, once the body has been read to its end; else null. */
  readonly trailers: HttpHeaders | null;
  /**
   * The body, an async iterable of chunks as they arrive (read once). Reading
   * is flow-controlled: the connection pauses while unread chunks pile up.
   * Once the chunks that came whole are read, it throws the request's
   * HttpError (or the abort reason) if the body did not arrive whole:
   * `ERR_INCOMPLETE` when the connection closed or was reset inside it, a
   * parser code such as `ERR_INVALID_CHUNK` when it was malformed. Leaving
   * the loop early cancels the request.
   */
  readonly body: AsyncIterable<Uint8Array>;
  /** True once the body has been taken by `body`, stream(), text() or bytes(). */
  readonly bodyUsed: boolean;
  /** The body as a Web ReadableStream of chunks (read once); cancelling it cancels the request. */
  stream(): ReadableStream<Uint8Array>;
  /** The whole body decoded as UTF-8; rejects as `body` throws when the body does not arrive whole. */
  text(): Promise<string>;
  /** The whole body in one array; rejects as `body` throws when the body does not arrive whole. */
  bytes(): Promise<Uint8Array>;
  /** The whole body as an ArrayBuffer, as a fetch Response gives it; rejects as bytes() does. */
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The whole body parsed as JSON; rejects as bytes() does, or with a SyntaxError. */
  json(): Promise<unknown>;
  /** Stop reading and cancel the request; the body ends early. Nothing happens once it is complete. */
  cancel(): void;
}

/** Unread body bytes above which the connection is paused; it resumes below the low mark. */
const BODY_QUEUE_HIGH = 256 * 1024;
const BODY_QUEUE_LOW = 64 * 1024;

/** How the body queue stands: bytes still arriving, all in, cut short, or dropped by the reader. */
type BodyQueueState = "open" | "ended" | "failed" | "cancelled";
/** Whether a reader took the body yet. */
type BodyUse = "unused" | "used";
/** The exchange before and after the response head. */
type ExchangeState = "waiting_head" | "streaming" | "settled";
/** A loop request() started: running, or asked to stop and not stopped yet. */
type LoopRunState = "running" | "stopping";

interface LoopRun {
  state: LoopRunState;
  users: number;
  readonly failures: Set<(err: unknown) => void>;
}

/** Loops request() runs, per base, shared by the requests on that base. */
const loops = new WeakMap<EventBase, LoopRun>();

/**
 * Keep the base's loop running while a request needs it; returns the
 * release, or null when someone else runs it. Internal, shared with
 * fetch().
 */
export function holdLoop(base: EventBase, onFailure: (err: unknown) => void): (() => void) | null {
  let run = loops.get(base);
  if (run === undefined) {
    if (base.running) return null;
    run = { state: "running", users: 0, failures: new Set() };
    loops.set(base, run);
    startLoop(base, run);
  }
  const held = run;
  held.users++;
  held.failures.add(onFailure);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.failures.delete(onFailure);
    if (--held.users === 0 && held.state === "running") {
      // Not at once: a program that makes its next request as soon as this
      // one ends (a loop of awaits) would stop and restart the loop for
      // each. Stop once pending I/O has had its turn, if nobody came back.
      base.platform.yieldToIo(() => {
        if (held.users !== 0 || held.state !== "running") return;
        held.state = "stopping";
        base.loopBreak();
      });
    }
  };
}

function startLoop(base: EventBase, run: LoopRun): void {
  run.state = "running";
  base.loop({ noExitOnEmpty: true }).then(
    () => {
      // A request that came while the loop was stopping needs it again.
      if (run.users > 0) startLoop(base, run);
      else loops.delete(base);
    },
    (err: unknown) => {
      loops.delete(base);
      for (const fail of [...run.failures]) fail(err);
    },
  );
}

/** The body chunks between the connection and the reader, with the flow control between them. Internal, shared with fetch(). */
export class BodyQueue {
  #state: BodyQueueState = "open";
  #use: BodyUse = "unused";
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #error: unknown = null;
  #wake: (() => void) | null = null;
  readonly #req: HttpClientRequest;

  constructor(req: HttpClientRequest) {
    this.#req = req;
  }

  get used(): boolean {
    return this.#use === "used";
  }

  push(chunk: Uint8Array): void {
    if (this.#state !== "open") return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= BODY_QUEUE_HIGH) this.#req.pauseBody();
    this.#notify();
  }

  end(): void {
    if (this.#state !== "open") return;
    this.#state = "ended";
    this.#notify();
  }

  fail(err: unknown): void {
    if (this.#state !== "open") return;
    this.#state = "failed";
    this.#error = err;
    this.#notify();
  }

  /** The reader stops: drop what is queued and cancel the request if it still runs. */
  cancel(): void {
    if (this.#state === "cancelled") return;
    const running = this.#state === "open";
    this.#state = "cancelled";
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#notify();
    if (running) this.#req.cancel();
  }

  /** Every chunk at once, taken by the one reader, when the whole body is here; null (and nothing taken) otherwise. */
  takeComplete(): Uint8Array[] | null {
    if (this.#use === "used") throw new TypeError("the response body was already read");
    if (this.#state !== "ended") return null;
    this.#use = "used";
    const chunks = this.#head === 0 ? this.#chunks : this.#chunks.slice(this.#head);
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    return chunks;
  }

  /** Take the body for one reader. */
  take(): AsyncIterator<Uint8Array> {
    if (this.#use === "used") throw new TypeError("the response body was already read");
    this.#use = "used";
    return {
      next: () => this.#next(),
      return: (): Promise<IteratorResult<Uint8Array>> => {
        this.cancel();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  async #next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      if (this.#head < this.#chunks.length) {
        const chunk = this.#chunks[this.#head];
        this.#chunks[this.#head++] = EMPTY;
        if (this.#head === this.#chunks.length) {
          this.#chunks = [];
          this.#head = 0;
        }
        this.#bytes -= chunk.length;
        if (this.#bytes <= BODY_QUEUE_LOW && this.#state === "open") this.#req.resumeBody();
        return { done: false, value: chunk };
      }
      switch (this.#state) {
        case "ended":
        case "cancelled":
          return { done: true, value: undefined };
        case "failed":
          throw this.#error;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

const EMPTY = new Uint8Array(0);

/** A body's chunks as one array: a single chunk as it is, several chained by reference and copied once. */
export function joinChunks(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return new Uint8Array(0);
  if (chunks.length === 1) return chunks[0];
  const all = new EvBuffer();
  for (const chunk of chunks) all.addReference(chunk);
  return all.pullup(-1);
}

/** The response request() resolves with: the head, and the body queue behind it. */
class ClientResponse implements HttpClientResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: string;
  readonly headers: HttpHeaders;
  readonly ok: boolean;
  readonly #req: HttpClientRequest;
  readonly #queue: BodyQueue;

  constructor(req: HttpClientRequest, queue: BodyQueue) {
    this.status = req.responseCode;
    this.reason = req.responseReason;
    this.version = req.responseVersion;
    this.headers = req.inputHeaders;
    this.ok = this.status >= 200 && this.status <= 299;
    this.#req = req;
    this.#queue = queue;
  }

  get trailers(): HttpHeaders | null {
    return this.#req.inputTrailers;
  }

  get bodyUsed(): boolean {
    return this.#queue.used;
  }

  get body(): AsyncIterable<Uint8Array> {
    return { [Symbol.asyncIterator]: () => this.#queue.take() };
  }

  stream(): ReadableStream<Uint8Array> {
    const it = this.#queue.take();
    return new ReadableStream<Uint8Array>({
      async pull(controller): Promise<void> {
        const step = await it.next();
        if (step.done === true) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel(): Promise<void> {
        await it.return?.();
      },
    }, { highWaterMark: 0 });
  }

  async bytes(): Promise<Uint8Array> {
    // A body already here whole (a small response usually is) is taken at
    // once, without a step of the async iterator per chunk.
    const whole = this.#queue.takeComplete();
    if (whole !== null) return joinChunks(whole);
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.body) chunks.push(chunk);
    return joinChunks(chunks);
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
      ? bytes.buffer
      : bytes.slice().buffer;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  cancel(): void {
    this.#queue.cancel();
  }
}

/** The scheme, host, port and target of a request URL. */
interface Target {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly target: string;
  readonly userinfo: string | null;
}

/** The last URL parsed and its target: a loop of requests to one URL parses it once. */
let lastUrl = "";
let lastTarget: Target | null = null;

function parseTarget(url: string | URL): Target {
  const text = typeof url === "string" ? url : url instanceof URL ? url.href : null;
  if (text === null) throw typeError("url", "a string or a URL", url);
  if (text === lastUrl && lastTarget !== null) return lastTarget;
  const target = parseUrl(text);
  lastUrl = text;
  lastTarget = target;
  return target;
}

function parseUrl(text: string): Target {
  const uri = HttpUri.parse(text);
  const scheme = uri.scheme?.toLowerCase() ?? null;
  if (scheme !== "http" && scheme !== "https") {
    throw typeError("url", "an http: or https: URL", text);
  }
  if (uri.host === null || uri.host === "") {
    throw typeError("url", "a URL with a host", text);
  }
  const tls = scheme === "https";
  const port = uri.port >= 0 ? uri.port : tls ? 443 : 80;
  const path = uri.path === "" ? "/" : uri.path;
  return {
    tls,
    host: uri.host,
    port,
    target: uri.query === null ? path : `${path}?${uri.query}`,
    userinfo: uri.userinfo,
  };
}

/** The methods the Fetch standard sends upper-case whatever their case (normalize a method). */
const NORMALIZED = new Map(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].map((m) => [m.toLowerCase(), m]));

/**
 * A method as fetch sends it: DELETE, GET, HEAD, OPTIONS, POST and PUT
 * upper-case in any case, other tokens as they are. Internal, shared with
 * fetch().
 *
 * @throws {TypeError} if method is not a string
 */
export function normalizeMethod(method: unknown, name: string): string {
  if (typeof method !== "string") throw typeError(name, "a string", method);
  if (method === "GET" || method === "POST") return method;
  return NORMALIZED.get(method.toLowerCase()) ?? method;
}

function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (h: string): string => (h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h).toLowerCase();
  return strip(a) === strip(b);
}

/**
 * Send one HTTP request and resolve with the response once its head has
 * arrived; the body follows as an async iterable (also `stream()`,
 * `text()`, `bytes()`). The Fetch-like face of {@linkcode HttpConnection}
 * and {@linkcode HttpClientRequest} (libevent's `evhttp_make_request` with
 * a header callback and a chunked callback). A status of 4xx or 5xx is a
 * response, not an error; a failure (refused, timeout, malformed response)
 * rejects with an {@linkcode HttpError}, an abort with the signal's reason.
 * Credentials in the URL (`http://user:pass@host/`) become an
 * `Authorization: Basic` field unless one is given.
 *
 * @example
 * ```ts
 * import { request } from "@levent/levent";
 * const res = await request("http://127.0.0.1:8080/hello", { signal: AbortSignal.timeout(5000) });
 * console.log(res.status, res.headers.get("content-type"));
 * for await (const chunk of res.body) console.log(chunk.length);
 * ```
 *
 * @throws {TypeError} (as a rejection) for a URL that is not http(s) with a host, a connection to another host, or a malformed method, header or body
 * @throws {HttpError} (as a rejection) when the request fails: `ERR_CONNECT`, `ERR_TIMEOUT`, `ERR_CONNECTION_CLOSED`, a parser code for a malformed response...
 */
export function request(url: string | URL, options: HttpClientFetchOptions = {}): Promise<HttpClientResponse> {
  try {
    return start(url, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

function start(url: string | URL, options: HttpClientFetchOptions): Promise<HttpClientResponse> {
  checkObject(options, "options");
  const target = parseTarget(url);
  const signal = options.signal;
  if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);

  let conn = options.connection ?? null;
  const own = conn === null;
  if (conn !== null) {
    if (!(conn instanceof HttpConnection)) throw typeError("options.connection", "an HttpConnection", conn);
    if (!sameHost(conn.host, target.host) || conn.port !== target.port) {
      throw new TypeError(
        `options.connection must go to ${target.host}:${target.port}, got one to ${conn.host}:${conn.port}`,
      );
    }
  }
  const base = conn?.base ?? options.base ?? new EventBase();

  const req = new HttpClientRequest();
  const method = normalizeMethod(options.method ?? "GET", "options.method");
  const body = options.body;
  if (body !== undefined && body !== null && (method === "GET" || method === "HEAD")) {
    throw new TypeError(`options.body: a ${method} request has no body (as in fetch())`);
  }
  if (options.decompress !== false) req.setDecompression(options.decompress ?? true);
  if (options.headers !== undefined) {
    for (const [name, value] of new HttpHeaders(options.headers)) req.outputHeaders.add(name, value);
  }
  if (target.userinfo !== null && !req.outputHeaders.has("authorization")) {
    const colon = target.userinfo.indexOf(":");
    const user = decodeUri(colon < 0 ? target.userinfo : target.userinfo.slice(0, colon));
    const pass = colon < 0 ? "" : decodeUri(target.userinfo.slice(colon + 1));
    req.outputHeaders.set("Authorization", basicAuth(user, pass));
  }
  if (typeof body === "string") {
    req.outputBuffer.addString(body);
  } else if (body instanceof Uint8Array) {
    req.outputBuffer.add(body);
  } else if (body instanceof EvBuffer) {
    req.outputBuffer.addBuffer(body);
  } else if (body !== undefined && body !== null) {
    // The length, when the caller gave one, is checked by makeRequest against the Content-Length field.
    req.setBodySource(body);
  }

  if (conn === null) {
    conn = new HttpConnection(base, {
      host: target.host,
      port: target.port,
      tls: target.tls ? options.tls ?? {} : undefined,
    });
    if (options.timeout !== undefined) conn.setTimeout(options.timeout);
    if (options.retries !== undefined) conn.setRetries(options.retries);
    if (options.maxHeadersSize !== undefined) conn.setMaxHeadersSize(options.maxHeadersSize);
    if (options.maxBodySize !== undefined) conn.setMaxBodySize(options.maxBodySize);
  }
  const connection = conn;

  return new Promise<HttpClientResponse>((resolve, reject) => {
    let state: ExchangeState = "waiting_head";
    const queue = new BodyQueue(req);
    let release: (() => void) | null = null;
    let finished = false;

    const settle = (err: unknown): void => {
      if (state === "waiting_head") reject(err);
      else queue.fail(err);
      state = "settled";
    };
    const onAbort = (): void => {
      settle(signal?.reason);
      req.cancel();
    };
    const finish = (): void => {
      state = "settled";
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      if (own) connection.free();
      release?.();
      release = null;
    };

    req.setHeaderCb((r) => {
      if (state !== "waiting_head") return;
      state = "streaming";
      resolve(new ClientResponse(r, queue));
    });
    req.setChunkedCb((r) => {
      // Views of the input's bytes: EvBuffer never writes over bytes once added, so they outlive the drain.
      for (const view of r.inputBuffer.peek()) queue.push(view);
    });
    req.setErrorCb((_kind, r) => {
      if (state !== "settled") settle(r.error);
    });
    req.setOnCompleteCb((r) => {
      if (r.state === "complete") queue.end();
      finish();
    });

    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      connection.makeRequest(req, method, target.target);
    } catch (err) {
      signal?.removeEventListener("abort", onAbort);
      if (own) connection.free();
      reject(err);
      return;
    }
    // A request can fail inside makeRequest (a malformed address): then there is no loop to run.
    if (finished) return;
    release = holdLoop(base, (err) => {
      const error = new HttpError(
        "ERR_CANCELLED",
        `the event loop stopped: ${err instanceof Error ? err.message : String(err)}`,
        undefined,
        { cause: err },
      );
      settle(error);
      finish();
    });
  });
}
