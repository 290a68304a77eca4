/**
 * ServerRequest: the server side of libevent's `struct evhttp_request`, a
 * request an {@linkcode HttpServer} received and the response the
 * application gives it.
 *
 * @module
 */
import type { BufferEvent } from "../buffer/bufferevent.ts";
import { EvBuffer } from "../buffer/evbuffer.ts";
import { checkCallback, checkFieldText, checkFunction, checkInteger, checkObject, typeError } from "../check.ts";
import type { NetAddress } from "../platform.ts";
import type { HttpHeaders } from "./headers.ts";
import type { HttpServer } from "./server.ts";
import type { RequestCore } from "./server_connection.ts";
import { requestHooks } from "./server_internal.ts";
import type { HttpUri } from "./uri.ts";

/**
 * A request callback: libevent's `void (*cb)(struct evhttp_request *, void *)`
 * for `evhttp_set_cb` and `evhttp_set_gencb`. It may answer at once or
 * later; an async function's rejection counts as a throw (answered with 500).
 */
export type HttpRequestCallback = (req: ServerRequest) => void | Promise<void>;

/** A callback about one request: body progress, connection loss, completion. */
export type HttpRequestNotify = (req: ServerRequest) => void;

/**
 * Where a request's body stands:
 * - `"reading"`: bytes are still arriving (into {@linkcode ServerRequest.inputBuffer});
 * - `"paused"`: reading, but held back by {@linkcode ServerRequest.pauseBody};
 * - `"complete"`: the whole body was read (at once for a request without one);
 * - `"discarded"`: the request was answered before its body was read, and the rest was skipped;
 * - `"aborted"`: the body was cut short (connection lost, malformed, timed out);
 *   the server answered or closed, and replies are ignored from now on.
 */
export type ServerRequestBodyState = "reading" | "paused" | "complete" | "discarded" | "aborted";

/**
 * Where a request's response stands:
 * - `"none"`: not answered yet;
 * - `"streaming"`: {@linkcode ServerRequest.sendReplyStart} was called, chunks may follow;
 * - `"complete"`: the whole response was given (it may still be waiting to be written);
 * - `"aborted"`: the connection was lost first; replies are ignored.
 */
export type ServerResponseState = "none" | "streaming" | "complete" | "aborted";

/** A body for {@linkcode ServerRequest.sendReply} and a chunk for {@linkcode ServerRequest.sendReplyChunk}. */
export type HttpBody = EvBuffer | Uint8Array | string;

/** Options of {@linkcode ServerRequest.takeOver}. */
export interface TakeOverOptions {
  /** Called when the server shuts down while the connection is open: end the protocol's session and free `bev`. */
  readonly onShutdown?: (bev: BufferEvent) => void;
}

function checkCode(code: unknown): number {
  return checkInteger(code, "code", 200, 599);
}

function checkReason(reason: unknown): string | undefined {
  return reason === undefined || reason === null ? undefined : checkFieldText(reason, "reason");
}

function checkBody(body: unknown, name: string): HttpBody {
  if (typeof body === "string" || body instanceof Uint8Array || body instanceof EvBuffer) return body;
  throw typeError(name, "a string, a Uint8Array or an EvBuffer", body);
}

/**
 * A request received by an {@linkcode HttpServer}, and its response: the
 * server side of libevent's `struct evhttp_request`. The server makes one
 * per request and hands it to the callback the path routes to.
 *
 * Answer with {@linkcode ServerRequest.sendReply} (all at once),
 * {@linkcode ServerRequest.sendError} (a small HTML error page), or
 * {@linkcode ServerRequest.sendReplyStart} / {@linkcode ServerRequest.sendReplyChunk}
 * / {@linkcode ServerRequest.sendReplyEnd} (streamed). The answer may come
 * at once or later, from any callback or after an await; responses on one
 * connection go out in request order whatever order they are given in.
 *
 * Everything about the request is read lazily: the parsed URI, the header
 * object and the buffers are only built when asked for.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent/event";
 * import { HttpServer, type ServerRequest } from "@levent/levent/http";
 * const base = new EventBase();
 * const server = new HttpServer(base);
 * server.setCb("/hello", (req: ServerRequest) => {
 *   req.outputHeaders.set("Content-Type", "text/plain");
 *   req.sendReply(200, "OK", "Hello, World!");
 * });
 * server.setCb("/slow", async (req: ServerRequest) => {
 *   await new Promise((r) => setTimeout(r, 100));
 *   req.sendReply(200, "OK", `you asked for ${req.getDecodedPath()}`);
 * });
 * await server.bind("127.0.0.1", 8080);
 * await base.dispatch();
 * ```
 */
export class ServerRequest {
  static {
    requestHooks.make = (core) => new ServerRequest(core);
  }

  readonly #core: RequestCore;

  private constructor(core: RequestCore) {
    this.#core = core;
  }

  /** The method as sent, e.g. `"GET"` (libevent `evhttp_request_get_command`, as text). */
  get method(): string {
    return this.#core.head.method;
  }

  /** The request target exactly as sent, path and query still encoded (libevent `evhttp_request_get_uri`). */
  get uri(): string {
    return this.#core.head.target;
  }

  /** The path of the target without its query, still %-encoded (`evhttp_uri_get_path` of the parsed URI). */
  get path(): string {
    return this.#core.rawPath();
  }

  /**
   * The path with %-escapes decoded, as evhttp matches it against
   * {@linkcode HttpServer.setCb} paths (`evhttp_uridecode` of the path; `+`
   * stays `+`).
   */
  getDecodedPath(): string {
    return this.#core.decodedPath();
  }

  /**
   * The target parsed into its parts, made on first call (libevent
   * `evhttp_request_get_evhttp_uri`). Parsed leniently (libevent's
   * `EVHTTP_URI_NONCONFORMANT`), since the parser already refused controls
   * and spaces.
   *
   * @throws {HttpError} `ERR_BAD_URI` (status 400) if the target is not a URI; thrown from a request callback, it is answered with 400
   */
  getUri(): HttpUri {
    return this.#core.uri();
  }

  /**
   * The host the request is for: the target's host in absolute-form, else
   * the Host header without its port; null without either (libevent
   * `evhttp_request_get_host`).
   */
  getHost(): string | null {
    return this.#core.host();
  }

  /** The protocol version as sent: `"HTTP/1.1"` or `"HTTP/1.0"` (libevent's `req->major`, `req->minor`). */
  get version(): string {
    return this.#core.head.versionMinor === 0 ? "HTTP/1.0" : "HTTP/1.1";
  }

  /** The HTTP major version: 1. */
  get versionMajor(): number {
    return 1;
  }

  /** The HTTP minor version: 0 or 1 (libevent's `req->minor`). */
  get versionMinor(): number {
    return this.#core.head.versionMinor;
  }

  /** Whether the client asked to keep the connection open after this request (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`). */
  get keepAlive(): boolean {
    return this.#core.head.keepAlive;
  }

  /** The client's address (libevent `evhttp_connection_get_peer`). */
  get peer(): NetAddress {
    return this.#core.conn.peer;
  }

  /** The server whose callback handles the request: the one bound, or the virtual host it routed to. */
  get server(): HttpServer {
    return this.#core.server.owner;
  }

  /**
   * The request's header fields, names lowercased (libevent
   * `evhttp_request_get_input_headers`). Trailer fields of a chunked body
   * are added once the body is complete, as evhttp does.
   */
  get inputHeaders(): HttpHeaders {
    return this.#core.inputHeaders();
  }

  /**
   * The response's header fields, set before replying (libevent
   * `evhttp_request_get_output_headers`). Date, Content-Length (or
   * Transfer-Encoding), Connection, and Content-Type when there is a body
   * and none was set, are added by the server.
   */
  get outputHeaders(): HttpHeaders {
    return this.#core.outputHeaders();
  }

  /**
   * The body received so far (libevent `evhttp_request_get_input_buffer`):
   * the whole body by the time a buffered callback runs; for a streamed
   * body, what arrived and was not yet taken out. Take bytes out of it as
   * they are used; a streamed body pauses while it holds the server's
   * `bodyHighWatermark`.
   */
  get inputBuffer(): EvBuffer {
    return this.#core.inputBuffer();
  }

  /**
   * The response body being built (libevent
   * `evhttp_request_get_output_buffer`): {@linkcode ServerRequest.sendReply}
   * sends what it holds, followed by its own body argument.
   */
  get outputBuffer(): EvBuffer {
    return this.#core.outputBuffer();
  }

  /** Where the body stands; see {@linkcode ServerRequestBodyState}. */
  get bodyState(): ServerRequestBodyState {
    const core = this.#core;
    switch (core.body) {
      case "reading":
        return core.flow === "paused" ? "paused" : "reading";
      case "discarding":
        return "discarded";
      default:
        return core.body;
    }
  }

  /** Where the response stands; see {@linkcode ServerResponseState}. */
  get responseState(): ServerResponseState {
    return this.#core.resp;
  }

  /**
   * Send the whole response (libevent `evhttp_send_reply`): the status
   * line, the output headers plus Date, Content-Length, Connection and a
   * default Content-Type, then what {@linkcode ServerRequest.outputBuffer}
   * holds and `body`. A small response leaves in one write. A HEAD request
   * gets the same headers (the Content-Length of this body) and no body;
   * 204 and 304 get no body. Bytes are kept, not copied: do not change them
   * afterwards; an EvBuffer body is emptied into the response.
   *
   * Ignored once the connection is lost ({@linkcode ServerRequest.responseState}
   * `"aborted"`) or the body was cut short.
   *
   * @param code the status, 200..599
   * @param reason the reason phrase; the standard one for the code when omitted
   * @param body the body, after anything in outputBuffer
   * @throws {RangeError} if code is not an integer in 200..599
   * @throws {TypeError} if the request was already answered, code is not a number, the reason holds a control character, or the body is of another type
   */
  sendReply(code: number, reason?: string, body?: HttpBody): void {
    checkCode(code);
    const r = checkReason(reason);
    const b = body === undefined ? undefined : checkBody(body, "body");
    if (this.#ignored("sendReply")) return;
    this.#core.conn.reply(this.#core, code, r, b);
  }

  /**
   * Answer with an error page (libevent `evhttp_send_error`): a small HTML
   * page naming the status, sent with `Connection: close` and the output
   * headers set so far (an `Allow` beside a 405, a `WWW-Authenticate`
   * beside a 401), less the Content-Type, Content-Length, Transfer-Encoding,
   * Connection and Date the page sets itself. The connection closes once it
   * is written, as in libevent.
   *
   * @throws {RangeError} if code is not an integer in 200..599
   * @throws {TypeError} if the request was already answered, code is not a number, or the reason holds a control character
   */
  sendError(code: number, reason?: string): void {
    checkCode(code);
    const r = checkReason(reason);
    if (this.#ignored("sendError")) return;
    this.#core.conn.errorReply(this.#core, code, r);
  }

  /**
   * Start a streamed response (libevent `evhttp_send_reply_start`): the
   * status line and headers now, the body in chunks with
   * {@linkcode ServerRequest.sendReplyChunk}. The body is sent with chunked
   * transfer-coding to an HTTP/1.1 client, as it is to an HTTP/1.0 client
   * followed by closing the connection, or as exactly Content-Length bytes
   * if that header was set.
   *
   * @throws {RangeError} if code is not an integer in 200..599
   * @throws {TypeError} if the request was already answered, code is not a number, the reason holds a control character, or a Content-Length header is not a decimal number
   */
  sendReplyStart(code: number, reason?: string): void {
    checkCode(code);
    const r = checkReason(reason);
    if (this.#ignored("sendReplyStart")) return;
    this.#core.conn.replyStart(this.#core, code, r);
  }

  /**
   * Send a piece of a streamed body (libevent
   * `evhttp_send_reply_chunk_with_cb`); with chunked transfer-coding each
   * call is one chunk on the wire. `onFlushed` runs on the loop once this
   * chunk has been handed to the socket, so a producer can send the next one
   * then and keep memory bounded. An empty chunk sends nothing (an empty
   * chunk would end the body) but still gets its callback. Bytes are kept,
   * not copied; an EvBuffer is emptied into the response.
   *
   * Ignored once the connection is lost.
   *
   * @throws {TypeError} if no streamed response was started, the data is of another type, or onFlushed is not a function
   * @throws {RangeError} if the chunk goes past a Content-Length header that was set
   */
  sendReplyChunk(data: HttpBody, onFlushed?: () => void): void {
    const d = checkBody(data, "data");
    if (onFlushed !== undefined) checkFunction(onFlushed, "onFlushed");
    const core = this.#core;
    if (core.resp === "aborted" || core.body === "aborted") return;
    if (core.resp !== "streaming") {
      throw new TypeError(`sendReplyChunk: no streamed response was started (the response is ${core.resp})`);
    }
    core.conn.replyChunk(core, d, onFlushed ?? null);
  }

  /**
   * End a streamed response (libevent `evhttp_send_reply_end`): the last
   * chunk for chunked transfer-coding; closing the connection for an
   * HTTP/1.0 client or a body shorter than its Content-Length.
   *
   * @throws {TypeError} if no streamed response was started
   */
  sendReplyEnd(): void {
    const core = this.#core;
    if (core.resp === "aborted" || core.body === "aborted") return;
    if (core.resp !== "streaming") {
      throw new TypeError(`sendReplyEnd: no streamed response was started (the response is ${core.resp})`);
    }
    core.conn.replyEnd(core);
  }

  /**
   * Stream the body instead of buffering it (libevent
   * `evhttp_request_set_chunked_cb`, server side): `cb(req)` runs on the loop
   * whenever new body bytes are in {@linkcode ServerRequest.inputBuffer},
   * once more when the body is complete, and when it is cut short (see
   * {@linkcode ServerRequest.bodyState}). Take the bytes out of inputBuffer
   * as they are used: reading from the client pauses while it holds the
   * server's `bodyHighWatermark`. Set it from the server's new-request
   * callback, or from a callback registered with `streamBody`; null stops
   * the notifications.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setBodyCb(cb: HttpRequestNotify | null): void {
    this.#core.setBodyCb(checkCallback(cb, "cb"));
  }

  /** Stop reading the body from the client until {@linkcode ServerRequest.resumeBody}: backpressure for a slow consumer. */
  pauseBody(): void {
    this.#core.conn.pauseBody(this.#core);
  }

  /** Read the body again after {@linkcode ServerRequest.pauseBody}. */
  resumeBody(): void {
    this.#core.conn.resumeBody(this.#core);
  }

  /**
   * Call `cb(req)` if the connection is lost or the body cut short before
   * the response is complete (libevent `evhttp_connection_set_closecb`, per
   * request). A streaming producer stops on it. Null removes it.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setCloseCb(cb: HttpRequestNotify | null): void {
    this.#core.closeCb = checkCallback(cb, "cb");
  }

  /**
   * Call `cb(req)` once the whole response has been handed to the socket
   * (libevent `evhttp_request_set_on_complete_cb`). Null removes it.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setOnCompleteCb(cb: HttpRequestNotify | null): void {
    this.#core.completeCb = checkCallback(cb, "cb");
  }

  /**
   * Take the connection away from the server, to speak another protocol on
   * it (an Upgrade such as WebSocket, or a CONNECT tunnel): the server
   * forgets the connection and returns its BufferEvent, callbacks cleared,
   * with any bytes the client sent after this request still in its input.
   * Write the response (a 101, or 200 for CONNECT) yourself; reading is
   * disabled until you enable it, and bytes already in input are yours to
   * handle then (the read callback only tells of new ones). Freeing the BufferEvent is then yours
   * (libevent `evhttp_connection_get_bufferevent`, after which evhttp lets
   * go as `evhttp_request_own` + `evhttp_connection_free_on_completion` do
   * for evws).
   *
   * The server still counts the connection until it is freed: when the
   * server shuts down it calls `options.onShutdown(bev)` (say goodbye in
   * the new protocol, then free it), or frees it at once when there is no
   * hook; whatever is still open at the end of the grace period is dropped.
   *
   * @throws {TypeError} if options or its onShutdown is of the wrong type, or unless this request is unanswered, its body complete, and no later request was read on its connection
   */
  takeOver(options: TakeOverOptions = {}): BufferEvent {
    checkObject(options, "options");
    const hook = options.onShutdown === undefined ? null : checkFunction(options.onShutdown, "options.onShutdown");
    return this.#core.conn.takeOver(this.#core, hook);
  }

  /**
   * Close this request's connection at once, dropping whatever is unsent
   * (libevent `evhttp_connection_free` on `evhttp_request_get_connection`):
   * for a streamed response whose source failed, so the client sees an
   * error instead of a body cut short that looks complete. Requests still
   * queued on the connection are lost too.
   */
  closeConnection(): void {
    this.#core.conn.close("hard");
  }

  /** Whether a reply should be dropped silently; throws if it is one too many. */
  #ignored(op: string): boolean {
    const core = this.#core;
    if (core.resp === "aborted" || core.body === "aborted") return true;
    if (core.resp !== "none") {
      throw new TypeError(`${op}: the request was already answered (the response is ${core.resp})`);
    }
    return false;
  }
}
