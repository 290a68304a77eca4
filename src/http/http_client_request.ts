/**
 * HttpClientRequest: the client side of libevent's `struct evhttp_request`
 * (`evhttp_request_new` and the `evhttp_request_*` accessors and callbacks),
 * a request made on an {@linkcode HttpConnection} and the response it gets;
 * and {@linkcode basicAuth} for `Authorization: Basic`. The server side
 * of a request is {@linkcode HttpServerRequest}.
 *
 * @module
 */
import { EvBuffer } from "../buffer/evbuffer.ts";
import { checkCallback, checkCount, checkLimit, checkObject, checkString, typeError } from "../check.ts";
import { HttpHeaders } from "./headers.ts";
import { HttpError } from "./http_error.ts";
import type { HttpFraming } from "./http_parser.ts";
import { type HttpConnection, queuedBodyBytes, sendMoreBody, stopRequest, syncBodyFlow } from "./http_connection.ts";
import { BodyDecoder, DEFAULT_MAX_DECODED_SIZE } from "./content_encoding.ts";
import type { Compression } from "../platform.ts";

/**
 * Where a client request stands:
 * - `"new"`: made, not yet given to {@linkcode HttpConnection.makeRequest};
 * - `"queued"`: waiting for its connection (connecting, or behind another request);
 * - `"sending"`: being written to the connection;
 * - `"waiting"`: written, waiting for the response;
 * - `"reading"`: the response head arrived; its body is being read;
 * - `"complete"`: the whole response arrived;
 * - `"failed"`: it ended with an error (see {@linkcode HttpClientRequest.errorKind});
 * - `"cancelled"`: {@linkcode HttpClientRequest.cancel}, the header callback, or freeing the connection ended it.
 */
export type HttpClientRequestState =
  | "new"
  | "queued"
  | "sending"
  | "waiting"
  | "reading"
  | "complete"
  | "failed"
  | "cancelled";

/**
 * Why a request failed: libevent's `enum evhttp_request_error`.
 * - `"timeout"` (`EVREQ_HTTP_TIMEOUT`): connecting, reading or writing timed out;
 * - `"eof"` (`EVREQ_HTTP_EOF`): the connection could not be made, or closed before the response was complete;
 * - `"invalid_header"` (`EVREQ_HTTP_INVALID_HEADER`): the response was malformed;
 * - `"buffer_error"` (`EVREQ_HTTP_BUFFER_ERROR`): the request body could not be sent (its source failed, or it did not match its length);
 * - `"request_cancel"` (`EVREQ_HTTP_REQUEST_CANCEL`): the request was cancelled;
 * - `"data_too_long"` (`EVREQ_HTTP_DATA_TOO_LONG`): the response head or body was over the connection's limit.
 */
export type HttpClientErrorKind =
  | "timeout"
  | "eof"
  | "invalid_header"
  | "buffer_error"
  | "request_cancel"
  | "data_too_long";

/**
 * The request callback: libevent's `void (*cb)(struct evhttp_request *, void *)`.
 * Called once the response is complete, or after the error callback when the
 * request failed ({@linkcode HttpClientRequest.responseCode} is then 0 unless
 * the head had arrived, and {@linkcode HttpClientRequest.error} says why).
 * Not called for a cancelled request, as in libevent.
 */
export type HttpClientRequestCallback = (req: HttpClientRequest) => void;

/**
 * The header callback: libevent's `evhttp_request_set_header_cb`. Called
 * once the response head is parsed; returning false or an Error aborts the
 * request (as libevent's negative return does): it ends cancelled.
 */
export type HttpClientHeaderCallback = (req: HttpClientRequest) => void | boolean | Error;

/** The chunked callback: libevent's `evhttp_request_set_chunked_cb`. The new body bytes are in the input buffer. */
export type HttpClientChunkCallback = (req: HttpClientRequest) => void;

/** The error callback: libevent's `evhttp_request_set_error_cb`, with the request added. */
export type HttpClientErrorCallback = (kind: HttpClientErrorKind, req: HttpClientRequest) => void;

/** Called when a streamed body has room again after writeBody returned false. */
export type HttpClientDrainCallback = (req: HttpClientRequest) => void;

/** Where {@linkcode HttpClientRequest.setBodySource} takes a body from: each item is sent as it comes (strings as UTF-8). */
export type HttpClientBodySource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/** Options of {@linkcode HttpClientRequest.startBody} and {@linkcode HttpClientRequest.setBodySource}. */
export interface HttpClientBodyOptions {
  /** The body's length, sent as Content-Length; without it the body is sent chunked. */
  readonly length?: number;
}

/** Options of {@linkcode HttpClientRequest.setDecompression}. */
export interface HttpDecompressionOptions {
  /**
   * The most bytes the decoded body may have; past it the request fails
   * with `"data_too_long"` (`ERR_BODY_TOO_LARGE`). The connection's
   * maxBodySize bounds the coded body. Default 1 GiB (1073741824).
   */
  readonly maxDecodedSize?: number;
}

const encoder = new TextEncoder();

// ------------------------------------------------------------ internals

/**
 * How far a request's bytes have gone onto the connection:
 * - `"unsent"`: not dispatched (queued, or put back for a retry);
 * - `"sending"`: the head (and maybe part of a streamed body) is in the connection's output;
 * - `"sent"`: every byte of the request is in the connection's output.
 */
type ClientSendState = "unsent" | "sending" | "sent";

/** Where a request body comes from: one buffer given up front, or a stream written as it is produced. */
type ClientBodyMode = "buffer" | "stream";

/** A streamed body: still being written, or ended by endBody(). */
type ClientStreamState = "open" | "ended";

/** Whether the response body is being read, or held back by pauseBody(). */
type ClientBodyFlow = "flowing" | "paused";

/**
 * A body source's pump (setBodySource): not started, waiting for an item,
 * waiting for room (the drain), or finished (ended, failed or closed).
 */
type ClientSourceState = "idle" | "pulling" | "waiting" | "done";

/** How a request body is framed on the wire. */
type ClientFraming = "none" | "length" | "chunked";

/**
 * A streamed request body is held back (writeBody returns false) once this
 * many bytes wait in the request and its connection's output: enough to keep
 * a socket busy, small enough that an upload never sits whole in memory.
 */
export const BODY_HIGH_WATER: number = 64 * 1024;

/** The states after which nothing more happens to a request. */
export function isFinished(state: HttpClientRequestState): boolean {
  return state === "complete" || state === "failed" || state === "cancelled";
}

/**
 * Everything about one client request, kept in one object so the request
 * (its public face, {@linkcode HttpClientRequest}) and the connection
 * (which moves its bytes) work on the same fields without accessors for
 * each. Not part of the public API.
 */
export class ClientRequestCore {
  /** The public face. */
  readonly req: HttpClientRequest;
  state: HttpClientRequestState = "new";
  conn: HttpConnection | null = null;
  method = "";
  uri = "";

  cb: HttpClientRequestCallback | null;
  headerCb: HttpClientHeaderCallback | null = null;
  chunkCb: HttpClientChunkCallback | null = null;
  errorCb: HttpClientErrorCallback | null = null;
  completeCb: HttpClientRequestCallback | null = null;
  drainCb: HttpClientDrainCallback | null = null;

  readonly outputHeaders: HttpHeaders = new HttpHeaders();
  // The body buffers are made on first use: a GET has no body, and most
  // requests never stream one.
  #outputBuffer: EvBuffer | null = null;
  #sentBody: EvBuffer | null = null;
  #bodyQueue: EvBuffer | null = null;

  /** The body the application writes before makeRequest. */
  get outputBuffer(): EvBuffer {
    return this.#outputBuffer ??= new EvBuffer();
  }

  /** outputBuffer's length, without making it. */
  get outputLength(): number {
    return this.#outputBuffer?.length ?? 0;
  }

  /** A buffer body, taken from outputBuffer by makeRequest; kept whole so a retry can send it again. */
  get sentBody(): EvBuffer {
    return this.#sentBody ??= new EvBuffer();
  }

  /** sentBody's length, without making it. */
  get sentLength(): number {
    return this.#sentBody?.length ?? 0;
  }

  /** Streamed body bytes written but not yet moved to the connection. */
  get bodyQueue(): EvBuffer {
    return this.#bodyQueue ??= new EvBuffer();
  }

  /** bodyQueue's length, without making it. */
  get queuedLength(): number {
    return this.#bodyQueue?.length ?? 0;
  }

  bodyMode: ClientBodyMode = "buffer";
  streamState: ClientStreamState = "open";
  /** A streamed body's declared Content-Length, or -1 for chunked. */
  declaredLength = -1;
  /** Streamed body bytes accepted by writeBody. */
  bodyAccepted = 0;
  /** Streamed body bytes moved to the connection: once any are, the body cannot be sent again. */
  bodyTaken = 0;
  /** writeBody said "wait": the drain callback (or the source pump) is owed a call. */
  drainWanted = false;
  source: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> | null = null;
  sourceState: ClientSourceState = "idle";

  framing: ClientFraming = "none";
  /** The framing field line makeRequest adds (`Content-Length: n`, `Transfer-Encoding: chunked`), or "". */
  framingLine = "";
  /** The Host field line makeRequest adds, or "" when the application set Host. */
  hostLine = "";
  sendState: ClientSendState = "unsent";
  /** The connection's byte count of queued output when this request's head was queued. */
  startOffset = 0;
  /** The request asked for `Connection: close`: nothing more goes on its connection. */
  closeAfter = false;
  retried = false;
  /** Some response bytes arrived while this request was first in line. */
  received = false;

  flow: ClientBodyFlow = "flowing";
  responseCode = 0;
  responseReason = "";
  responseMinor = 1;
  inputHeaders: HttpHeaders = new HttpHeaders();
  inputTrailers: HttpHeaders | null = null;
  readonly inputBuffer: EvBuffer = new EvBuffer();
  /** How the response body is delimited, and its Content-Length (-1 without one): to say where a body broke off. */
  responseFraming: HttpFraming = "none";
  responseLength = -1;
  /** Response body bytes handed to the chunked callback and drained from inputBuffer. */
  bodyDelivered = 0;
  keepAlive = true;
  upgrade = false;

  error: HttpError | null = null;
  errorKind: HttpClientErrorKind | null = null;

  /** setDecompression: the most decoded body bytes, or -1 when the body is taken as it comes. */
  decodeLimit = -1;
  /** The decoder of a coded response body, while it is read. */
  decoder: BodyDecoder | null = null;
  /** The coded body bytes the decoder has yet to take: the parser's output while a decoder runs. */
  coded: EvBuffer | null = null;
  /** Coded body bytes the decoder took. */
  codedTaken = 0;
  /** The Promise forms of the body (bytes(), text(), json()) waiting for the request to end. */
  bodyWaiters: (() => void)[] | null = null;

  constructor(req: HttpClientRequest, cb: HttpClientRequestCallback | null) {
    this.req = req;
    this.cb = cb;
  }

  /** Where the parser puts response body bytes: the decoder's input, or inputBuffer. */
  get bodySink(): EvBuffer {
    return this.coded ?? this.inputBuffer;
  }

  /** Body bytes received as they came on the wire (coded, when decoding). */
  get bodyReceived(): number {
    return this.decoder !== null || this.coded !== null
      ? this.codedTaken + (this.coded?.length ?? 0)
      : this.bodyDelivered + this.inputBuffer.length;
  }

  /** The response head arrived: decode its body if asked to and it is coded in a way the platform undoes. */
  startDecoding(compression: Compression): void {
    if (this.decodeLimit < 0) return;
    const codings = this.inputHeaders.getAll("content-encoding");
    if (codings.length === 0) return;
    this.decoder = BodyDecoder.for(compression, codings, this.decodeLimit);
    if (this.decoder !== null) this.coded = new EvBuffer();
  }

  /** Decode the coded bytes that came into inputBuffer; `final` at the body's end. Returns the failure, or null. */
  decodeBody(final: boolean): HttpError | null {
    const decoder = this.decoder;
    const coded = this.coded;
    if (decoder === null || coded === null) return null;
    const n = coded.length;
    if (n === 0 && !final) return null;
    try {
      decoder.decode(coded, final, this.inputBuffer);
    } catch (err) {
      this.decoder = null;
      return err instanceof HttpError ? err : new HttpError("ERR_CONTENT_ENCODING", String(err), 502, { cause: err });
    } finally {
      this.codedTaken += n;
    }
    if (final) this.decoder = null;
    return null;
  }

  /** The request is over (complete, failed or cancelled): release the decoder, settle the body's Promise forms. */
  settled(): void {
    this.decoder?.close();
    this.decoder = null;
    const waiters = this.bodyWaiters;
    this.bodyWaiters = null;
    if (waiters === null) return;
    for (const w of waiters) w();
  }

  /** Run `fn` once the request is over: now if it is. */
  whenSettled(fn: () => void): void {
    if (isFinished(this.state)) fn();
    else (this.bodyWaiters ??= []).push(fn);
  }

  /** Forget what a failed attempt received, so a retry starts clean. */
  resetForRetry(): void {
    this.retried = true;
    this.state = "queued";
    this.sendState = "unsent";
    this.received = false;
    this.responseCode = 0;
    this.responseReason = "";
    this.inputHeaders = new HttpHeaders();
    this.inputTrailers = null;
    this.inputBuffer.drain(this.inputBuffer.length);
    this.responseFraming = "none";
    this.responseLength = -1;
    this.bodyDelivered = 0;
    this.decoder?.close();
    this.decoder = null;
    this.coded = null;
    this.codedTaken = 0;
  }

  /** Let a body source go (its `return()`), unless it is mid-pull: the pump then sees the finished state and does it. */
  closeSource(): void {
    const source = this.source;
    if (source === null || this.sourceState === "pulling" || this.sourceState === "done") return;
    this.sourceState = "done";
    this.source = null;
    returnQuietly(source);
  }

  /** The connection has room for more body: run the source pump, or the drain callback. */
  drain(): void {
    if (this.source !== null) void pumpSource(this);
    else this.drainCb?.(this.req);
  }
}

/** Call an iterator's `return()`, ignoring what it throws or rejects with: the request is over either way. */
function returnQuietly(source: AsyncIterator<unknown> | Iterator<unknown>): void {
  try {
    const r = source.return?.();
    if (r !== undefined && typeof (r as Promise<unknown>).then === "function") {
      (r as Promise<unknown>).then(undefined, () => {});
    }
  } catch {
    // A source that fails while closing has nothing more to give.
  }
}

/** Pull items from a body source while the connection has room; the drain restarts it after a "wait". */
async function pumpSource(core: ClientRequestCore): Promise<void> {
  const source = core.source;
  if (source === null || core.sourceState === "pulling" || core.sourceState === "done") return;
  core.sourceState = "pulling";
  try {
    for (;;) {
      const step = await source.next();
      if (isFinished(core.state)) {
        core.sourceState = "done";
        core.source = null;
        returnQuietly(source);
        return;
      }
      if (step.done === true) {
        core.sourceState = "done";
        core.source = null;
        core.req.endBody();
        return;
      }
      const value: unknown = step.value;
      if (typeof value !== "string" && !(value instanceof Uint8Array)) {
        throw new TypeError(`the body source gave a ${typeof value}, not a Uint8Array or a string`);
      }
      if (!core.req.writeBody(value)) {
        core.sourceState = "waiting";
        return;
      }
    }
  } catch (err) {
    core.sourceState = "done";
    core.source = null;
    const conn = core.conn;
    if (conn === null || isFinished(core.state)) return;
    const error = new HttpError(
      "ERR_REQUEST_BODY",
      `the request body source failed: ${err instanceof Error ? err.message : String(err)}`,
      undefined,
      { cause: err },
    );
    // The pump runs in promise callbacks: the failure is told on the loop, as every other one is.
    conn.base.defer(() => stopRequest(conn, core, "buffer_error", error));
  }
}

/** The state behind a request, for the connection that carries it. Set in HttpClientRequest's static block. */
export let requestCore!: (req: HttpClientRequest) => ClientRequestCore;

/**
 * A client request: libevent's `struct evhttp_request` as
 * `evhttp_request_new(cb, arg)` makes it for {@linkcode HttpConnection.makeRequest}.
 * Fill {@linkcode HttpClientRequest.outputHeaders} and
 * {@linkcode HttpClientRequest.outputBuffer}, or stream the body with
 * {@linkcode HttpClientRequest.startBody} / {@linkcode HttpClientRequest.writeBody}
 * or {@linkcode HttpClientRequest.setBodySource}; the response comes back in
 * {@linkcode HttpClientRequest.responseCode},
 * {@linkcode HttpClientRequest.inputHeaders} and
 * {@linkcode HttpClientRequest.inputBuffer}. All callbacks run on the
 * connection's event loop. A request is used once.
 *
 * @example
 * ```ts
 * import { EventBase, HttpClientRequest, HttpConnection } from "@levent/levent";
 * const base = new EventBase();
 * const conn = new HttpConnection(base, { host: "example.com", port: 80 });
 * const req = new HttpClientRequest((r) => {
 *   console.log(r.responseCode, r.inputBuffer.length);
 *   conn.free(); // the loop ends once nothing is left
 * });
 * req.setErrorCb((kind, r) => console.error(kind, r.error?.message));
 * req.outputHeaders.set("Accept", "text/html");
 * conn.makeRequest(req, "GET", "/");
 * await base.dispatch();
 * ```
 */
export class HttpClientRequest {
  static {
    requestCore = (req) => req.#core;
  }

  readonly #core: ClientRequestCore;

  /**
   * A new request whose `cb` runs when the response is complete (libevent
   * `evhttp_request_new`); see {@linkcode HttpClientRequestCallback}.
   *
   * @throws {TypeError} if cb is neither a function nor null/undefined
   */
  constructor(cb?: HttpClientRequestCallback | null) {
    this.#core = new ClientRequestCore(this, checkCallback(cb ?? null, "cb"));
  }

  /** Where the request stands; see {@linkcode HttpClientRequestState}. */
  get state(): HttpClientRequestState {
    return this.#core.state;
  }

  /** The method given to makeRequest, or "" before (libevent `evhttp_request_get_command`). */
  get method(): string {
    return this.#core.method;
  }

  /** The request target given to makeRequest, or "" before (libevent `evhttp_request_get_uri`). */
  get uri(): string {
    return this.#core.uri;
  }

  /** The connection it was made on, or null before makeRequest (libevent `evhttp_request_get_connection`). */
  get connection(): HttpConnection | null {
    return this.#core.conn;
  }

  /** The header fields to send (libevent `evhttp_request_get_output_headers`). */
  get outputHeaders(): HttpHeaders {
    return this.#core.outputHeaders;
  }

  /**
   * The body to send (libevent `evhttp_request_get_output_buffer`): what it
   * holds when makeRequest is called is the body, sent with Content-Length.
   * makeRequest takes the bytes, so it is empty afterwards, as in libevent.
   */
  get outputBuffer(): EvBuffer {
    return this.#core.outputBuffer;
  }

  /** The response's status code; 0 until the head arrives (libevent `evhttp_request_get_response_code`). */
  get responseCode(): number {
    return this.#core.responseCode;
  }

  /** The response's reason phrase (libevent `evhttp_request_get_response_code_line`). */
  get responseReason(): string {
    return this.#core.responseReason;
  }

  /** The response's HTTP version, `"1.1"` or `"1.0"` (libevent's `req->major`, `req->minor`). */
  get responseVersion(): string {
    return this.#core.responseMinor === 0 ? "1.0" : "1.1";
  }

  /** The response's header fields, names lowercased (libevent `evhttp_request_get_input_headers`). */
  get inputHeaders(): HttpHeaders {
    return this.#core.inputHeaders;
  }

  /** The trailer fields of a chunked response, or null when it had none. */
  get inputTrailers(): HttpHeaders | null {
    return this.#core.inputTrailers;
  }

  /**
   * The response body (libevent `evhttp_request_get_input_buffer`): all of
   * it once complete, or with a chunked callback, the bytes new since the
   * last call (drained after each call).
   */
  get inputBuffer(): EvBuffer {
    return this.#core.inputBuffer;
  }

  /**
   * Why the request failed or was cancelled, or null. A response body that
   * did not arrive whole fails the request after the bytes that did reached
   * the chunked callback: `ERR_INCOMPLETE` when the connection closed or was
   * reset inside it (the message says how many bytes came), a parser code
   * such as `ERR_INVALID_CHUNK` when it was malformed.
   */
  get error(): HttpError | null {
    return this.#core.error;
  }

  /** The libevent error kind of a failed or cancelled request, or null. */
  get errorKind(): HttpClientErrorKind | null {
    return this.#core.errorKind;
  }

  /**
   * Set the callback run once the response head is parsed (libevent
   * `evhttp_request_set_header_cb`); see {@linkcode HttpClientHeaderCallback}.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setHeaderCb(cb: HttpClientHeaderCallback | null): void {
    this.#core.headerCb = checkCallback(cb, "cb");
  }

  /**
   * Set the callback run for each piece of the response body as it arrives
   * (libevent `evhttp_request_set_chunked_cb`). The piece is in
   * {@linkcode HttpClientRequest.inputBuffer}, which is drained after the
   * call, so a download of any size takes bounded memory. For a chunked
   * response a piece is whatever arrived, not one wire chunk.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setChunkedCb(cb: HttpClientChunkCallback | null): void {
    this.#core.chunkCb = checkCallback(cb, "cb");
  }

  /**
   * Set the callback run when the request fails or is cancelled, with the
   * error kind (libevent `evhttp_request_set_error_cb`). A failure is never
   * thrown: it comes here, then to the request callback.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setErrorCb(cb: HttpClientErrorCallback | null): void {
    this.#core.errorCb = checkCallback(cb, "cb");
  }

  /**
   * Set the callback run once the request is over, whichever way: after the
   * request callback, the error callback, or the cancellation (libevent
   * `evhttp_request_set_on_complete_cb`).
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setOnCompleteCb(cb: HttpClientRequestCallback | null): void {
    this.#core.completeCb = checkCallback(cb, "cb");
  }

  /**
   * Cancel the request (libevent `evhttp_cancel_request`): a queued request
   * is dropped; one on the wire resets its connection (other requests on it
   * are retried when that is safe, else they fail with `"eof"`). The error
   * callback gets `"request_cancel"`; the request callback is not called.
   * Nothing happens once the request is over.
   */
  cancel(): void {
    const core = this.#core;
    if (core.state === "new" || isFinished(core.state) || core.conn === null) return;
    stopRequest(
      core.conn,
      core,
      "request_cancel",
      new HttpError("ERR_CANCELLED", "the request was cancelled"),
    );
  }

  /**
   * Stop reading the response body: the connection stops reading (the
   * server is held back by TCP flow control) and the read timeout is
   * suspended until {@linkcode HttpClientRequest.resumeBody}. No libevent
   * counterpart; the server side's HttpServerRequest has the same pair.
   */
  pauseBody(): void {
    const core = this.#core;
    if (core.flow === "paused") return;
    core.flow = "paused";
    if (core.conn !== null && !isFinished(core.state)) syncBodyFlow(core.conn, core);
  }

  /** Read the response body again after {@linkcode HttpClientRequest.pauseBody}. */
  resumeBody(): void {
    const core = this.#core;
    if (core.flow === "flowing") return;
    core.flow = "flowing";
    if (core.conn !== null && !isFinished(core.state)) syncBodyFlow(core.conn, core);
  }

  /**
   * Ask for a compressed response and undo its coding: makeRequest adds
   * `Accept-Encoding` (`gzip, deflate, br`, less what the platform lacks;
   * see `Compression.formats`) unless the request has one, and a response
   * whose Content-Encoding is gzip, deflate or br reaches
   * {@linkcode HttpClientRequest.inputBuffer} and the chunked callback
   * decoded, with its fields as they came (Content-Encoding and
   * Content-Length still name the coded body). A coding the platform
   * cannot undo leaves the body as it came. A corrupt coded body fails the
   * request with `"invalid_header"` (`ERR_CONTENT_ENCODING`). No libevent
   * counterpart (evhttp leaves content codings to the application). Call
   * before makeRequest; false turns it off.
   *
   * @example
   * ```ts
   * import { EventBase, HttpClientRequest, HttpConnection } from "@levent/levent";
   * const base = new EventBase();
   * const conn = new HttpConnection(base, { host: "127.0.0.1", port: 8080 });
   * const req = new HttpClientRequest((r) => {
   *   console.log(r.inputHeaders.get("content-encoding"), r.inputBuffer.length); // e.g. "gzip", the decoded length
   *   conn.free();
   * });
   * req.setDecompression({ maxDecodedSize: 64 * 1024 * 1024 });
   * conn.makeRequest(req, "GET", "/");
   * await base.dispatch();
   * ```
   *
   * @throws {TypeError} if makeRequest was called, or options is neither a boolean nor an object
   * @throws {RangeError} if options.maxDecodedSize is not an integer >= 0 or Infinity
   */
  setDecompression(options: boolean | HttpDecompressionOptions = true): void {
    const core = this.#core;
    if (core.state !== "new") throw new TypeError("setDecompression: call it before makeRequest");
    if (options === false) {
      core.decodeLimit = -1;
      return;
    }
    if (options === true) {
      core.decodeLimit = DEFAULT_MAX_DECODED_SIZE;
      return;
    }
    if (typeof options !== "object" || options === null) {
      throw typeError("options", "a boolean or an object", options);
    }
    core.decodeLimit = options.maxDecodedSize === undefined
      ? DEFAULT_MAX_DECODED_SIZE
      : checkLimit(options.maxDecodedSize, "options.maxDecodedSize");
  }

  /** Whether the response body is decoded (see {@linkcode HttpClientRequest.setDecompression}). */
  get decompression(): boolean {
    return this.#core.decodeLimit >= 0;
  }

  /**
   * The whole response body, once the response is complete: a Promise form
   * of {@linkcode HttpClientRequest.inputBuffer} (its bytes, left in it).
   * Callable any time after the request is made; it settles when the
   * request ends, bounded by the connection's maxBodySize (and the decoded
   * size, when decoding). No libevent counterpart.
   *
   * @example
   * ```ts
   * import { EventBase, HttpClientRequest, HttpConnection } from "@levent/levent";
   * const base = new EventBase();
   * const conn = new HttpConnection(base, { host: "127.0.0.1", port: 8080 });
   * const req = new HttpClientRequest();
   * conn.makeRequest(req, "GET", "/data.json");
   * conn.freeOnCompletion();
   * const [data] = await Promise.all([req.json(), base.dispatch()]);
   * console.log(req.responseCode, data);
   * ```
   *
   * @throws {HttpError} (as a rejection) the request's error when it fails or is cancelled
   * @throws {TypeError} (as a rejection) when a chunked callback takes the body instead
   */
  bytes(): Promise<Uint8Array> {
    const core = this.#core;
    return new Promise((resolve, reject) => {
      core.whenSettled(() => {
        if (core.chunkCb !== null) {
          reject(new TypeError("bytes: the body went to the chunked callback (setChunkedCb), which drains it"));
        } else if (core.state === "complete") {
          resolve(core.inputBuffer.length === 0 ? new Uint8Array(0) : core.inputBuffer.pullup());
        } else {
          reject(core.error ?? new HttpError("ERR_CANCELLED", "the request was cancelled"));
        }
      });
    });
  }

  /** The whole response body decoded as UTF-8; settles as {@linkcode HttpClientRequest.bytes}. */
  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  /**
   * The whole response body parsed as JSON; settles as
   * {@linkcode HttpClientRequest.bytes}, and rejects with a SyntaxError for
   * a body that is not JSON.
   */
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  // ------------------------------------------------------- streamed bodies

  /**
   * Say the body will be streamed with {@linkcode HttpClientRequest.writeBody}
   * and {@linkcode HttpClientRequest.endBody}, as it is produced (the
   * client-side counterpart of libevent's `evhttp_send_reply_start`): sent
   * chunked, or with Content-Length when `length` is given (or the
   * application set Content-Length). Bytes already in the output buffer go
   * first. Call before makeRequest.
   *
   * @throws {TypeError} if makeRequest was called, the body is streamed already, or options.length is not a number
   * @throws {RangeError} if options.length is not an integer >= 0
   */
  startBody(options?: HttpClientBodyOptions): void {
    const core = this.#core;
    if (core.state !== "new") throw new TypeError("startBody: call it before makeRequest");
    if (core.bodyMode === "stream") throw new TypeError("startBody: the body is streamed already");
    if (options !== undefined) checkObject(options, "options");
    const length = options?.length === undefined ? undefined : checkCount(options.length, "options.length");
    if (length !== undefined && core.outputLength > length) {
      throw new RangeError(
        `startBody: the output buffer holds ${core.outputLength} bytes, over length ${length}`,
      );
    }
    core.bodyMode = "stream";
    core.declaredLength = length ?? -1;
    if (core.outputLength > 0) this.writeBody(core.outputBuffer);
  }

  /**
   * Write a piece of a streamed body (the client-side counterpart of
   * libevent's `evhttp_send_reply_chunk`); strings are sent as UTF-8, bytes
   * are kept by reference (do not change them afterwards), an EvBuffer is
   * moved. Returns false once enough waits to be sent: stop writing until the
   * drain callback runs, so an upload never sits whole in memory. After the
   * request is over, the bytes are dropped and false is returned.
   *
   * @throws {TypeError} if startBody was not called, endBody was, or data is of another type
   * @throws {RangeError} if the bytes go past the declared length
   */
  writeBody(data: Uint8Array | string | EvBuffer): boolean {
    const core = this.#core;
    if (core.bodyMode !== "stream") throw new TypeError("writeBody: call startBody (or setBodySource) first");
    if (core.streamState === "ended") throw new TypeError("writeBody: endBody was called");
    let bytes: Uint8Array | null = null;
    let n: number;
    if (typeof data === "string") {
      bytes = encoder.encode(data);
      n = bytes.length;
    } else if (data instanceof Uint8Array) {
      bytes = data;
      n = data.length;
    } else if (data instanceof EvBuffer) {
      n = data.length;
    } else {
      throw typeError("data", "a Uint8Array, a string or an EvBuffer", data);
    }
    if (isFinished(core.state)) {
      if (data instanceof EvBuffer) data.drain(n);
      return false;
    }
    if (core.declaredLength >= 0 && core.bodyAccepted + n > core.declaredLength) {
      throw new RangeError(
        `writeBody: ${core.bodyAccepted + n} bytes would go past the declared length of ${core.declaredLength}`,
      );
    }
    if (bytes !== null) core.bodyQueue.add(bytes);
    else core.bodyQueue.addBuffer(data as EvBuffer);
    core.bodyAccepted += n;
    if (core.conn !== null) sendMoreBody(core.conn, core);
    const room = this.bodyBufferedAmount < BODY_HIGH_WATER;
    if (!room) core.drainWanted = true;
    return room;
  }

  /**
   * End a streamed body (the client-side counterpart of libevent's
   * `evhttp_send_reply_end`): the last chunk goes out once the bytes before
   * it have. A body shorter than its declared length fails the request with
   * `"buffer_error"`. Calling it again does nothing.
   *
   * @throws {TypeError} if startBody was not called
   * @throws {RangeError} before makeRequest, if fewer bytes than the declared length were written
   */
  endBody(): void {
    const core = this.#core;
    if (core.bodyMode !== "stream") throw new TypeError("endBody: call startBody (or setBodySource) first");
    if (core.streamState === "ended" || isFinished(core.state)) return;
    const short = core.declaredLength >= 0 && core.bodyAccepted < core.declaredLength;
    if (short && core.conn === null) {
      throw new RangeError(`endBody: ${core.bodyAccepted} bytes written, ${core.declaredLength} declared`);
    }
    core.streamState = "ended";
    if (core.conn === null) return;
    if (short) {
      stopRequest(
        core.conn,
        core,
        "buffer_error",
        new HttpError(
          "ERR_REQUEST_BODY",
          `the request body ended after ${core.bodyAccepted} of its declared ${core.declaredLength} bytes`,
        ),
      );
      return;
    }
    sendMoreBody(core.conn, core);
  }

  /**
   * Set the callback run when a streamed body has room again after
   * {@linkcode HttpClientRequest.writeBody} returned false.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setDrainCb(cb: HttpClientDrainCallback | null): void {
    this.#core.drainCb = checkCallback(cb, "cb");
  }

  /**
   * Stream the body from an async (or sync) iterable: items are pulled only
   * while the connection has room, and only once the request is on the
   * wire, so the body never sits whole in memory. The end of the iterable
   * ends the body; an item that is neither bytes nor a string, or an
   * exception from the source, fails the request with `"buffer_error"`; a
   * request that ends early closes the source (`return()`). A Web
   * ReadableStream is an async iterable. Call before makeRequest.
   *
   * @throws {TypeError} as startBody, or if source is not iterable
   * @throws {RangeError} as startBody
   */
  setBodySource(source: HttpClientBodySource, options?: HttpClientBodyOptions): void {
    const core = this.#core;
    let iterator: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string>;
    if (source !== null && typeof source === "object" && Symbol.asyncIterator in source) {
      iterator = (source as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
    } else if (source !== null && typeof source === "object" && Symbol.iterator in source) {
      iterator = (source as Iterable<Uint8Array | string>)[Symbol.iterator]();
    } else {
      throw typeError("source", "an async iterable or an iterable", source);
    }
    this.startBody(options);
    core.source = iterator;
    core.sourceState = "idle";
    // The pump starts when the connection first has room for this request.
    core.drainWanted = true;
  }

  /** Bytes of a streamed body written but not yet handed to the socket. */
  get bodyBufferedAmount(): number {
    const core = this.#core;
    const onWire = core.conn === null ? 0 : queuedBodyBytes(core.conn, core);
    return core.queuedLength + onWire;
  }
}

/**
 * The value of an `Authorization` field for HTTP Basic authentication
 * (RFC 7617): `Basic ` and the Base64 of `user:password` in UTF-8.
 *
 * @example
 * ```ts
 * import { basicAuth, HttpClientRequest } from "@levent/levent/http";
 * const req = new HttpClientRequest();
 * req.outputHeaders.set("Authorization", basicAuth("Aladdin", "open sesame"));
 * console.log(req.outputHeaders.get("authorization")); // Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==
 * ```
 *
 * @throws {TypeError} if user or password is not a string, or user holds a colon (RFC 7617 forbids it)
 */
export function basicAuth(user: string, password: string): string {
  checkString(user, "user");
  checkString(password, "password");
  if (user.includes(":")) throw typeError("user", "a name without a colon (RFC 7617)", user);
  const bytes = encoder.encode(`${user}:${password}`);
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return `Basic ${btoa(binary)}`;
}
