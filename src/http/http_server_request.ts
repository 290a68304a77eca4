/**
 * HttpServerRequest: the server side of libevent's `struct evhttp_request`
 * (the client side is {@linkcode HttpClientRequest}), a request an
 * {@linkcode HttpServer} received and the response the application gives
 * it. Beside it, {@linkcode RequestCore}, the request's
 * state that its connection shares, with libevent's `evhttp_send_*`: the
 * response head is copied character by character (it is Latin-1) from a
 * prebuilt status line, the field strings and the cached Date straight
 * into the output's reserved space, and a small body behind it, so the
 * response leaves in one socket write.
 *
 * @module
 */
import type { BufferEvent } from "../buffer/bufferevent.ts";
import { EvBuffer, type EvBufferCbEntry } from "../buffer/evbuffer.ts";
import { checkCallback, checkFieldText, checkFunction, checkInteger, checkObject, typeError } from "../check.ts";
import type { NetAddress } from "../platform.ts";
import { headerList, HttpHeaders, wrapHeaders } from "./headers.ts";
import { addLatin1, fieldsSize, headWriter, latin1Bytes } from "./head_writer.ts";
import type { RequestHead } from "./http_parser.ts";
import type { HttpServer, Route, ServerConfig } from "./http_server.ts";
import type { HttpServerConnection } from "./http_server_connection.ts";
import { reasonPhrase, standardStatusBytes, statusLine } from "./status.ts";
import { decodeUri, htmlEscape, HttpUri } from "./uri.ts";
import type { ResponseEncoder, ServerCompression } from "./content_encoding.ts";
import { HttpError } from "./http_error.ts";

/**
 * A request callback: libevent's `void (*cb)(struct evhttp_request *, void *)`
 * for `evhttp_set_cb` and `evhttp_set_gencb`. It may answer at once or
 * later; an async function's rejection counts as a throw (answered with 500).
 */
export type HttpRequestCallback = (req: HttpServerRequest) => void | Promise<void>;

/** A callback about one request: body progress, connection loss, completion. */
export type HttpRequestNotify = (req: HttpServerRequest) => void;

/**
 * Where a request's body stands:
 * - `"reading"`: bytes are still arriving (into {@linkcode HttpServerRequest.inputBuffer});
 * - `"paused"`: reading, but held back by {@linkcode HttpServerRequest.pauseBody};
 * - `"complete"`: the whole body was read (at once for a request without one);
 * - `"discarded"`: the request was answered before its body was read, and the rest was skipped;
 * - `"aborted"`: the body was cut short (connection lost, malformed, timed out);
 *   the server answered or closed, and replies are ignored from now on.
 */
export type HttpServerRequestBodyState = "reading" | "paused" | "complete" | "discarded" | "aborted";

/**
 * Where a request's response stands:
 * - `"none"`: not answered yet;
 * - `"streaming"`: {@linkcode HttpServerRequest.sendReplyStart} was called, chunks may follow;
 * - `"complete"`: the whole response was given (it may still be waiting to be written);
 * - `"aborted"`: the connection was lost first; replies are ignored.
 */
export type HttpServerResponseState = "none" | "streaming" | "complete" | "aborted";

/** A body for {@linkcode HttpServerRequest.sendReply} and a chunk for {@linkcode HttpServerRequest.sendReplyChunk}. */
export type HttpBody = EvBuffer | Uint8Array | string;

/** Options of {@linkcode HttpServerRequest.takeOver}. */
export interface TakeOverOptions {
  /** Called when the server shuts down while the connection is open: end the protocol's session and free `bev`. */
  readonly onShutdown?: (bev: BufferEvent) => void;
  /**
   * Called when the server drops the connection (its shutdown's grace
   * period ended, or it was freed) while it is still open: let go of `bev`
   * at once, unsent bytes and all. Without it the server frees it so.
   */
  readonly onDrop?: (bev: BufferEvent) => void;
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

// ------------------------------------------------------------ writing responses

/** Strings longer than this are encoded to bytes first, rather than measured and encoded in place. */
const LARGE_TEXT = 16384;
/** Bodies up to this size are copied after the head, so head and body leave in one write. */
const COPY_LIMIT = 2048;
/**
 * The most bytes reply() writes after the status line and the application's
 * fields, less the default Content-Type: a Date line (37), a Content-Length
 * line (16 + up to 16 digits + 2) and `Connection: keep-alive` with the
 * blank line (26).
 */
const FIXED_LINES = 37 + 34 + 26;

const CONTENT_LENGTH = latin1Bytes("Content-Length: ");
/** How a head ends: the Connection line when there is one, and the blank line. */
const END_PLAIN = latin1Bytes("\r\n");
const END_CLOSE = latin1Bytes("Connection: close\r\n\r\n");
const END_KEEP_ALIVE = latin1Bytes("Connection: keep-alive\r\n\r\n");

// Header names that the response writer sets itself or reads: bits of `has`.
const HAS_DATE = 1;
const HAS_TYPE = 2;
const HAS_LENGTH = 4;
const HAS_CLOSE = 8;

/** Header fields the error page writes itself, which an application's output headers may not repeat. */
const ERROR_PAGE_FIELDS = new Set(["date", "content-type", "content-length", "transfer-encoding", "connection"]);

const encoder = new TextEncoder();

/** The UTF-8 length of a string, as TextEncoder would encode it (lone surrogates as U+FFFD). */
function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two UTF-16 units, four bytes.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Append bytes to a response: small ones copied behind the head (one write), large ones by reference (no copy). */
function addBytes(sink: EvBuffer, bytes: Uint8Array): void {
  const n = bytes.length;
  if (n <= COPY_LIMIT && n >= 256) {
    sink.reserveSpace(n).set(bytes);
    sink.commitSpace(n);
  } else {
    sink.add(bytes);
  }
}

/** Move an EvBuffer's bytes into a response, copying small ones behind the head as addBytes does. */
function addBuffer(sink: EvBuffer, buf: EvBuffer): void {
  const n = buf.length;
  if (n <= COPY_LIMIT && !buf.hasFileSegments) {
    const view = sink.reserveSpace(n);
    buf.copyout(view.subarray(0, n));
    sink.commitSpace(n);
    buf.drain(n);
  } else {
    sink.addBuffer(buf);
  }
}

/** ASCII case-insensitive equality of a header name with a lowercase literal. */
function isName(name: string, lower: string): boolean {
  if (name === lower) return true;
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether a comma-separated header value lists `token` (lowercase), in any case. */
function listsToken(value: string, token: string): boolean {
  let i = 0;
  const n = value.length;
  while (i <= n) {
    let j = value.indexOf(",", i);
    if (j < 0) j = n;
    let a = i;
    let b = j;
    while (a < b && (value.charCodeAt(a) === 32 || value.charCodeAt(a) === 9)) a++;
    while (b > a && (value.charCodeAt(b - 1) === 32 || value.charCodeAt(b - 1) === 9)) b--;
    if (b - a === token.length && isName(value.slice(a, b), token)) return true;
    i = j + 1;
  }
  return false;
}

/** Parse a Content-Length an application set: a decimal number, or -1. */
function declaredLength(value: string): number {
  const n = value.length;
  if (n === 0 || n > 15) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * The application's output headers as field lines for an error page: kept,
 * as evhttp_send_error keeps them (an Allow beside a 405, a
 * WWW-Authenticate beside a 401), less the fields the page sets itself.
 */
function appHeaderLines(out: HttpHeaders | null): string {
  if (out === null || out.size === 0) return "";
  const list = headerList(out);
  let lines = "";
  for (let i = 0; i < list.length; i += 2) {
    if (!ERROR_PAGE_FIELDS.has(list[i].toLowerCase())) lines += list[i] + ": " + list[i + 1] + "\r\n";
  }
  return lines;
}

/**
 * libevent's ERR_FORMAT page with its head (text/html, Connection: close):
 * evhttp_send_error's answer, and the server's own to a request it could not
 * read. `extra` holds field lines to keep; `allow` the Allow value of a 405.
 */
export function errorPage(
  cfg: ServerConfig,
  code: number,
  reason: string | undefined,
  allow: string | null,
  headOnly: boolean,
  extra: string,
): string {
  const why = htmlEscape(reason ?? reasonPhrase(code));
  const body = `<HTML><HEAD>\n<TITLE>${code} ${why}</TITLE>\n</HEAD><BODY>\n<H1>${why}</H1>\n</BODY></HTML>\n`;
  let h = statusLine(code, reason) + extra + cfg.dateLine() + "Content-Type: text/html\r\n";
  if (allow !== null) h += "Allow: " + allow + "\r\n";
  h += "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
  return headOnly ? h : h + body;
}

/** A buffer's bytes as one array, left in it (a view: EvBuffer never writes over bytes it handed out). */
function whole(buf: EvBuffer): Uint8Array {
  return buf.length === 0 ? new Uint8Array(0) : buf.pullup();
}

function bodyCutShort(): HttpError {
  return new HttpError(
    "ERR_INCOMPLETE",
    "the request body was cut short (the connection closed or the body was malformed)",
  );
}

// ------------------------------------------------------------ the request's state

/** The body: being read, read, being skipped after an early answer, skipped, or cut short. */
type BodyPhase = "reading" | "complete" | "discarding" | "discarded" | "aborted";
/** Whether the application lets the body flow or paused it. */
type BodyFlow = "flowing" | "paused";
/** The response: not given, head sent and chunks flowing, all given, or lost with the connection. */
type ResponsePhase = "none" | "streaming" | "complete" | "aborted";
/** Whether the routed callback has run. */
type DispatchStage = "waiting" | "dispatched";
/** `Expect: 100-continue`: none, awaiting our 100, or 100 sent. */
type ContinueState = "none" | "expected" | "sent";
/** How a streamed response body is delimited; `"none"` drops it (HEAD, 204, 304). */
type ResponseFraming = "chunked" | "length" | "close" | "none";

/** A flush waiter's function: a chunk's onFlushed, or null for the request's on-complete callback. */
export type Waiter = (() => void) | null;

/**
 * A request's state that a plain request answered at once never sets: a
 * streamed response, callbacks, a pipelined response waiting its turn. Kept
 * apart, so each request's RequestCore is ten fields (about 80 bytes)
 * smaller; RequestCore's accessors of the same names read the defaults
 * while there is none.
 */
class RequestExtras {
  framing: ResponseFraming = "none";
  declared = -1;
  sent = 0;
  pending: EvBuffer | null = null;
  waiters: (RequestCore | Waiter)[] | null = null;
  bodyCb: HttpRequestNotify | null = null;
  closeCb: HttpRequestNotify | null = null;
  endCb: HttpRequestNotify | null = null;
  completeCb: HttpRequestNotify | null = null;
  drainWatch: EvBufferCbEntry | null = null;
  encoder: ResponseEncoder | null = null;
}

/** Made in HttpServerRequest's static block, where its private constructor can be called. */
let makeRequest!: (core: RequestCore) => HttpServerRequest;

/** The RequestCore behind a request (set in HttpServerRequest's static block). */
let coreOf!: (req: HttpServerRequest) => RequestCore;

/**
 * Call `cb(req)` once if the client ends its side of the connection (sends
 * FIN) before `req`'s response is complete, or at once (in this call) if it
 * has already; null removes it. The server still sends the response, as a
 * half-closed client may be waiting for it; what the end tells a handler is
 * that nothing more will come (serve() aborts the request's signal on it, as
 * Deno's and Bun's servers do). Not part of the public API.
 */
export function clientEndCb(req: HttpServerRequest, cb: HttpRequestNotify | null): void {
  const core = coreOf(req);
  if (cb !== null && core.conn.peerEnded && core.resp !== "complete") {
    cb(req);
    return;
  }
  core.endCb = cb;
}

/**
 * One request's state, shared by its connection (which reads it and
 * queues its response) and its public face, {@linkcode HttpServerRequest}; and
 * the writing of its response, libevent's `evhttp_send_*`.
 */
export class RequestCore {
  readonly conn: HttpServerConnection;
  readonly head: RequestHead;
  readonly req: HttpServerRequest;
  /** The server (maybe a virtual host) that handles it. */
  server: ServerConfig;
  route: Route | null = null;
  body: BodyPhase = "reading";
  flow: BodyFlow = "flowing";
  stage: DispatchStage = "waiting";
  cont: ContinueState = "none";
  /** The body goes to the application as it arrives rather than all at once. */
  streaming = false;
  resp: ResponsePhase = "none";
  /** The connection closes once this response is written. */
  closeAfter = false;
  input: EvBuffer | null = null;
  output: EvBuffer | null = null;
  inHeaders: HttpHeaders | null = null;
  outHeaders: HttpHeaders | null = null;
  /** The state most requests never use, made on first write (see RequestExtras). */
  #x: RequestExtras | null = null;

  // The fields kept in RequestExtras, read and written as if they were
  // RequestCore's own (accessors made in the static block): reads give the
  // default while there are no extras, and writing a default makes none.
  /** How a streamed response body is delimited. */
  declare framing: ResponseFraming;
  /** A streamed response's Content-Length, or -1. */
  declare declared: number;
  /** Body bytes of a streamed response so far. */
  declare sent: number;
  /** Response bytes waiting for the responses before this one. */
  declare pending: EvBuffer | null;
  /** Flush waiters of those bytes: pairs of (request, waiter). */
  declare waiters: (RequestCore | Waiter)[] | null;
  declare bodyCb: HttpRequestNotify | null;
  declare closeCb: HttpRequestNotify | null;
  /** Told once if the client ends its side (FIN) before the response is complete (see clientEndCb). */
  declare endCb: HttpRequestNotify | null;
  declare completeCb: HttpRequestNotify | null;
  /** Watches a streamed inputBuffer for room while reading waits on it. */
  declare drainWatch: EvBufferCbEntry | null;
  /** A streamed response's content coding (the server's compress option), or null. */
  declare encoder: ResponseEncoder | null;

  static {
    const defaults = new RequestExtras() as unknown as Record<string, unknown>;
    for (const name of Object.keys(defaults)) {
      const init = defaults[name];
      Object.defineProperty(RequestCore.prototype, name, {
        get(this: RequestCore): unknown {
          const x = this.#x as Record<string, unknown> | null;
          return x === null ? init : x[name];
        },
        set(this: RequestCore, v: unknown): void {
          if (this.#x === null && v === init) return;
          (this.#extras() as unknown as Record<string, unknown>)[name] = v;
        },
      });
    }
  }

  #extras(): RequestExtras {
    return this.#x ??= new RequestExtras();
  }

  #path: string | null = null;
  #uri: HttpUri | null = null;

  constructor(conn: HttpServerConnection, head: RequestHead, server: ServerConfig) {
    this.conn = conn;
    this.head = head;
    this.server = server;
    this.req = makeRequest(this);
  }

  /** The target's path, undecoded: cut at `?` for origin-form (the common case: no URI object). */
  rawPath(): string {
    if (this.#path !== null) return this.#path;
    const t = this.head.target;
    let path: string;
    if (t.charCodeAt(0) === 47) {
      // The parser refuses a fragment: the path ends at the query, if any.
      const q = t.indexOf("?");
      path = q < 0 ? t : t.slice(0, q);
    } else if (t === "*") {
      path = "*";
    } else {
      path = this.uri().path;
    }
    return this.#path = path;
  }

  /** The path as evhttp matches callbacks: %-decoded, `+` kept. */
  decodedPath(): string {
    const p = this.rawPath();
    return p.indexOf("%") < 0 ? p : decodeUri(p);
  }

  uri(): HttpUri {
    if (this.#uri !== null) return this.#uri;
    const t = this.head.target;
    let uri: HttpUri;
    if (this.head.method === "CONNECT") {
      // authority-form: host:port, which a URI parser would read as a scheme.
      uri = new HttpUri();
      const colon = t.lastIndexOf(":");
      uri.host = t.slice(0, colon);
      uri.port = Number(t.slice(colon + 1));
    } else {
      uri = HttpUri.parse(t, { nonconformant: true });
    }
    return this.#uri = uri;
  }

  /** libevent's `evhttp_request_get_host`: the absolute-form host, else Host without its port. */
  host(): string | null {
    const t = this.head.target;
    if (t.charCodeAt(0) !== 47 && t !== "*") {
      try {
        const host = this.uri().host;
        if (host !== null && host !== "") return host;
      } catch {
        // An unparsable target has no host of its own: use the header.
      }
    }
    const h = this.head.headers;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] === "host") {
        const v = h[i + 1];
        let p = v.length - 1;
        while (p > 0 && v.charCodeAt(p) >= 48 && v.charCodeAt(p) <= 57) p--;
        return p > 0 && v.charCodeAt(p) === 58 ? v.slice(0, p) : v;
      }
    }
    return null;
  }

  inputHeaders(): HttpHeaders {
    return this.inHeaders ??= wrapHeaders(this.head.headers);
  }

  outputHeaders(): HttpHeaders {
    return this.outHeaders ??= new HttpHeaders();
  }

  inputBuffer(): EvBuffer {
    return this.input ??= new EvBuffer();
  }

  outputBuffer(): EvBuffer {
    return this.output ??= new EvBuffer();
  }

  setBodyCb(cb: HttpRequestNotify | null): void {
    this.bodyCb = cb;
    // Set while the head is being handled: the body is streamed from the start.
    if (cb !== null && this.body === "reading") this.streaming = true;
  }

  // ---------------------------------------------------------- sending

  /** The server's response compression, or null. */
  compression(): ServerCompression | null {
    return this.server.compression ?? this.conn.cfg.compression;
  }

  /** evhttp_send_reply. */
  reply(code: number, reason: string | undefined, body: HttpBody | undefined): void {
    const conn = this.conn;
    if (conn.closed) {
      this.resp = "aborted";
      return;
    }
    // Content coding: the body compressed (output buffer included), the fields adjusted.
    const compression = this.compression();
    if (compression !== null) body = compression.encodeReply(this, code, body);
    const head = this.head;
    const headOnly = head.method === "HEAD";
    const bodyless = code === 204 || code === 304;
    let text: string | null = null;
    let bytes: Uint8Array | null = null;
    let buf: EvBuffer | null = null;
    let len = 0;
    const ob = this.output;
    if (ob !== null && ob.length > 0) {
      if (typeof body === "string") ob.addString(body);
      else if (body instanceof Uint8Array) ob.add(body);
      else if (body !== undefined && body !== ob) ob.addBuffer(body);
      buf = ob;
      len = ob.length;
    } else if (typeof body === "string") {
      if (body.length > LARGE_TEXT) {
        bytes = encoder.encode(body);
        len = bytes.length;
      } else {
        text = body;
        len = utf8Length(body);
      }
    } else if (body instanceof Uint8Array) {
      bytes = body;
      len = body.length;
    } else if (body !== undefined) {
      buf = body;
      len = body.length;
    }

    const noBody = headOnly || bodyless || len === 0;
    // Text and small bytes go in behind the head: one segment, one write.
    const inline = noBody ? 0 : text !== null || (bytes !== null && bytes.length <= COPY_LIMIT) ? len : 0;
    const lineBytes = standardStatusBytes(code, reason);
    const line = lineBytes === null ? statusLine(code, reason) : "";
    const out = this.outHeaders;
    const list = out === null ? null : headerList(out);
    const w = headWriter;
    const cfg = conn.cfg;
    const typeBytes = cfg.typeBytes();
    const lineSize = lineBytes === null ? line.length : lineBytes.length;
    w.begin(conn.sinkFor(this), lineSize + fieldsSize(list) + FIXED_LINES + (typeBytes?.length ?? 0) + inline);
    if (lineBytes !== null) w.bytes(lineBytes);
    else w.text(line);
    let has = 0;
    if (list !== null) {
      for (let i = 0; i < list.length; i += 2) {
        const name = list[i];
        switch (name.length) {
          case 4:
            if (isName(name, "date")) has |= HAS_DATE;
            break;
          case 10:
            if (isName(name, "connection")) {
              if (listsToken(list[i + 1], "close")) has |= HAS_CLOSE;
              continue;
            }
            break;
          case 12:
            if (isName(name, "content-type")) has |= HAS_TYPE;
            break;
          case 14:
            if (isName(name, "content-length")) {
              // The real length is known, except for a HEAD or a bodiless answer, where the application's stands.
              if (!headOnly && !bodyless) continue;
              has |= HAS_LENGTH;
            }
            break;
          case 17:
            if (isName(name, "transfer-encoding")) continue;
            break;
        }
        w.field(name, list[i + 1]);
      }
    }
    if ((has & HAS_DATE) === 0) w.bytes(cfg.dateBytes());
    const close = (has & HAS_CLOSE) !== 0 || conn.mustClose(this);
    if (!bodyless && (has & HAS_TYPE) === 0 && len > 0 && typeBytes !== null) w.bytes(typeBytes);
    if (!bodyless && (has & HAS_LENGTH) === 0) {
      w.bytes(CONTENT_LENGTH);
      w.decimal(len);
      w.crlf();
    }
    w.bytes(close ? END_CLOSE : head.versionMinor === 0 ? END_KEEP_ALIVE : END_PLAIN);
    if (inline > 0) {
      if (text !== null) w.utf8(text, len);
      else w.bytes(bytes as Uint8Array);
    }
    w.commit();
    if (noBody) {
      if (buf !== null) buf.drain(buf.length);
    } else if (inline === 0) {
      const sink = conn.sinkFor(this);
      if (bytes !== null) sink.add(bytes);
      else addBuffer(sink, buf as EvBuffer);
    }
    this.resp = "complete";
    this.closeAfter = close;
    conn.completed(this);
  }

  /** evhttp_send_error: the output headers cleared, an HTML page, Connection: close. */
  errorReply(code: number, reason: string | undefined): void {
    const conn = this.conn;
    if (conn.closed) {
      this.resp = "aborted";
      return;
    }
    // The connection closes after this answer: read no further request.
    conn.stopReading(this);
    this.writeError(code, reason, null);
    conn.completed(this);
  }

  /**
   * Write an error page as the response (all of it: resp becomes complete,
   * closeAfter set); the connection moves its queue on itself.
   */
  writeError(code: number, reason: string | undefined, allow: string | null): void {
    const page = errorPage(
      this.conn.cfg,
      code,
      reason,
      allow,
      this.head.method === "HEAD",
      appHeaderLines(this.outHeaders),
    );
    addLatin1(this.conn.sinkFor(this), page);
    this.resp = "complete";
    this.closeAfter = true;
  }

  /** evhttp_send_reply_start. */
  replyStart(code: number, reason: string | undefined): void {
    const conn = this.conn;
    if (conn.closed) {
      this.resp = "aborted";
      return;
    }
    // Content coding: the fields adjusted now, each chunk compressed as it comes.
    this.encoder = this.compression()?.startStream(this, code) ?? null;
    const head = this.head;
    const cfg = conn.cfg;
    const bodyless = code === 204 || code === 304;
    let h = statusLine(code, reason);
    let has = 0;
    let declared = -1;
    const out = this.outHeaders;
    if (out !== null) {
      const list = headerList(out);
      for (let i = 0; i < list.length; i += 2) {
        const name = list[i];
        const value = list[i + 1];
        if (isName(name, "date")) has |= HAS_DATE;
        else if (isName(name, "content-type")) has |= HAS_TYPE;
        else if (isName(name, "transfer-encoding")) continue;
        else if (isName(name, "connection")) {
          if (listsToken(value, "close")) has |= HAS_CLOSE;
          continue;
        } else if (isName(name, "content-length")) {
          declared = declaredLength(value);
          if (declared < 0) {
            throw new TypeError(
              `sendReplyStart: Content-Length must be a decimal number, got ${JSON.stringify(value)}`,
            );
          }
          has |= HAS_LENGTH;
        }
        h += name + ": " + value + "\r\n";
      }
    }
    let close = (has & HAS_CLOSE) !== 0 || conn.mustClose(this);
    // A HEAD answer has the GET's fields but no body, so nothing about one it cannot know (libevent's evhttp_response_needs_body).
    const headOnly = head.method === "HEAD";
    let framing: ResponseFraming;
    if (bodyless || headOnly) framing = "none";
    else if (declared >= 0) framing = "length";
    else if (head.versionMinor === 1) framing = "chunked";
    else {
      // An HTTP/1.0 client knows no chunked coding: the body ends when the connection does.
      framing = "close";
      close = true;
    }
    if ((has & HAS_DATE) === 0) h += cfg.dateLine();
    if (!bodyless && !headOnly && (has & HAS_TYPE) === 0 && cfg.contentTypeLine !== null) {
      h += cfg.contentTypeLine;
    }
    if (framing === "chunked") h += "Transfer-Encoding: chunked\r\n";
    if (close) h += "Connection: close\r\n\r\n";
    else if (head.versionMinor === 0) h += "Connection: keep-alive\r\n\r\n";
    else h += "\r\n";
    addLatin1(conn.sinkFor(this), h);
    this.resp = "streaming";
    this.framing = framing;
    this.declared = declared;
    this.sent = 0;
    this.closeAfter = close;
  }

  /** evhttp_send_reply_chunk_with_cb. */
  replyChunk(data: HttpBody, onFlushed: (() => void) | null): void {
    const conn = this.conn;
    if (conn.closed) {
      this.resp = "aborted";
      return;
    }
    if (this.encoder !== null) data = this.encoder.chunk(data);
    let text: string | null = null;
    let bytes: Uint8Array | null = null;
    let buf: EvBuffer | null = null;
    let n: number;
    if (typeof data === "string") {
      if (data.length > LARGE_TEXT) {
        bytes = encoder.encode(data);
        n = bytes.length;
      } else {
        text = data;
        n = utf8Length(data);
      }
    } else if (data instanceof Uint8Array) {
      bytes = data;
      n = data.length;
    } else {
      buf = data;
      n = data.length;
    }
    if (this.framing === "none" || n === 0) {
      if (buf !== null) buf.drain(n);
      if (onFlushed !== null) conn.flushedLater(this, onFlushed);
      return;
    }
    if (this.framing === "length" && this.sent + n > this.declared) {
      throw new RangeError(
        `sendReplyChunk: ${this.sent + n} body bytes would pass the Content-Length of ${this.declared}`,
      );
    }
    this.sent += n;
    const sink = conn.sinkFor(this);
    if (this.framing === "chunked") {
      const size = n.toString(16) + "\r\n";
      if (text !== null) {
        sink.addString(size + text + "\r\n");
      } else {
        sink.addString(size);
        if (bytes !== null) addBytes(sink, bytes);
        else addBuffer(sink, buf as EvBuffer);
        sink.addString("\r\n");
      }
    } else if (text !== null) {
      sink.addString(text);
    } else if (bytes !== null) {
      addBytes(sink, bytes);
    } else {
      addBuffer(sink, buf as EvBuffer);
    }
    if (onFlushed !== null) conn.addWaiter(this, onFlushed);
  }

  /** evhttp_send_reply_end. */
  replyEnd(): void {
    const conn = this.conn;
    if (conn.closed) {
      this.resp = "aborted";
      return;
    }
    const encoder = this.encoder;
    if (encoder !== null) {
      // The coding's trailer is the body's last chunk.
      this.encoder = null;
      const tail = encoder.finish();
      if (tail.length > 0) this.replyChunk(tail, null);
    }
    if (this.framing === "chunked") conn.sinkFor(this).addString("0\r\n\r\n");
    // A body shorter than its Content-Length: only closing tells the client it was cut short.
    else if (this.framing === "length" && this.sent < this.declared) this.closeAfter = true;
    this.resp = "complete";
    conn.completed(this);
  }
}

/**
 * A request received by an {@linkcode HttpServer}, and its response: the
 * server side of libevent's `struct evhttp_request`. The server makes one
 * per request and hands it to the callback the path routes to.
 *
 * Answer with {@linkcode HttpServerRequest.sendReply} (all at once),
 * {@linkcode HttpServerRequest.sendError} (a small HTML error page), or
 * {@linkcode HttpServerRequest.sendReplyStart} / {@linkcode HttpServerRequest.sendReplyChunk}
 * / {@linkcode HttpServerRequest.sendReplyEnd} (streamed). The answer may come
 * at once or later, from any callback or after an await; responses on one
 * connection go out in request order whatever order they are given in.
 *
 * Everything about the request is read lazily: the parsed URI, the header
 * object and the buffers are only built when asked for.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent/event";
 * import { HttpServer, type HttpServerRequest } from "@levent/levent/http";
 * const base = new EventBase();
 * const server = new HttpServer(base);
 * server.setCb("/hello", (req: HttpServerRequest) => {
 *   req.outputHeaders.set("Content-Type", "text/plain");
 *   req.sendReply(200, "OK", "Hello, World!");
 * });
 * server.setCb("/slow", async (req: HttpServerRequest) => {
 *   await new Promise((r) => setTimeout(r, 100));
 *   req.sendReply(200, "OK", `you asked for ${req.getDecodedPath()}`);
 * });
 * await server.bind("127.0.0.1", 8080);
 * await base.dispatch();
 * ```
 */
export class HttpServerRequest {
  static {
    makeRequest = (core) => new HttpServerRequest(core);
    coreOf = (req) => req.#core;
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
   * `evhttp_request_get_output_buffer`): {@linkcode HttpServerRequest.sendReply}
   * sends what it holds, followed by its own body argument.
   */
  get outputBuffer(): EvBuffer {
    return this.#core.outputBuffer();
  }

  /** Where the body stands; see {@linkcode HttpServerRequestBodyState}. */
  get bodyState(): HttpServerRequestBodyState {
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

  /** Where the response stands; see {@linkcode HttpServerResponseState}. */
  get responseState(): HttpServerResponseState {
    return this.#core.resp;
  }

  /**
   * Send the whole response (libevent `evhttp_send_reply`): the status
   * line, the output headers plus Date, Content-Length, Connection and a
   * default Content-Type, then what {@linkcode HttpServerRequest.outputBuffer}
   * holds and `body`. A small response leaves in one write. A HEAD request
   * gets the same headers (the Content-Length of this body) and no body;
   * 204 and 304 get no body. Bytes are kept, not copied: do not change them
   * afterwards; an EvBuffer body is emptied into the response.
   *
   * Ignored once the connection is lost ({@linkcode HttpServerRequest.responseState}
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
    this.#core.reply(code, r, b);
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
    this.#core.errorReply(code, r);
  }

  /**
   * Start a streamed response (libevent `evhttp_send_reply_start`): the
   * status line and headers now, the body in chunks with
   * {@linkcode HttpServerRequest.sendReplyChunk}. The body is sent with chunked
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
    this.#core.replyStart(code, r);
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
    core.replyChunk(d, onFlushed ?? null);
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
    core.replyEnd();
  }

  /**
   * Stream the body instead of buffering it (libevent
   * `evhttp_request_set_chunked_cb`, server side): `cb(req)` runs on the loop
   * whenever new body bytes are in {@linkcode HttpServerRequest.inputBuffer},
   * once more when the body is complete, and when it is cut short (see
   * {@linkcode HttpServerRequest.bodyState}). Take the bytes out of inputBuffer
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

  /** Stop reading the body from the client until {@linkcode HttpServerRequest.resumeBody}: backpressure for a slow consumer. */
  pauseBody(): void {
    this.#core.conn.pauseBody(this.#core);
  }

  /** Read the body again after {@linkcode HttpServerRequest.pauseBody}. */
  resumeBody(): void {
    this.#core.conn.resumeBody(this.#core);
  }

  /**
   * The whole request body as one array: at once when it was read whole
   * before the callback ran (the default), else once a streamed body
   * (`streamBody`) has all arrived, taking it out of
   * {@linkcode HttpServerRequest.inputBuffer} as it comes so reading never
   * stalls on `bodyHighWatermark`. A streamed body is held to the server's
   * maxBodySize for bodies read whole (8 MiB by default). No libevent
   * counterpart: evhttp hands the input buffer over as it is.
   *
   * @example
   * ```ts
   * import { EventBase, HttpServer } from "@levent/levent";
   * const server = new HttpServer(new EventBase());
   * server.setCb("/echo", async (req) => {
   *   const data = await req.json() as { name?: string };
   *   req.sendReply(200, "OK", `hello ${data.name ?? "nobody"}`);
   * });
   * ```
   *
   * @throws {HttpError} (as a rejection) `ERR_INCOMPLETE` when the body is cut short, `ERR_BODY_TOO_LARGE` (413) when a streamed one passes the limit
   * @throws {TypeError} (as a rejection) when the request was answered before its body was read (the rest is skipped), or a body callback (setBodyCb) takes it
   */
  bytes(): Promise<Uint8Array> {
    const core = this.#core;
    switch (core.body) {
      case "complete":
        return Promise.resolve(whole(core.inputBuffer()));
      case "aborted":
        return Promise.reject(bodyCutShort());
      case "discarding":
      case "discarded":
        return Promise.reject(
          new TypeError("bytes: the request was answered before its body was read: it was skipped"),
        );
    }
    if (core.bodyCb !== null) {
      return Promise.reject(new TypeError("bytes: a body callback (setBodyCb) takes this body"));
    }
    const limit = core.conn.cfg.bufferedBodyLimit;
    const kept = new EvBuffer();
    return new Promise((resolve, reject) => {
      const take = (): void => {
        const input = core.inputBuffer();
        if (input.length > 0) kept.addBuffer(input);
        if (kept.length > limit) {
          this.setBodyCb(null);
          reject(new HttpError("ERR_BODY_TOO_LARGE", `the request body is over ${limit} bytes`, 413));
          return;
        }
        switch (core.body) {
          case "complete":
            this.setBodyCb(null);
            resolve(whole(kept));
            return;
          case "reading":
            return;
          default:
            this.setBodyCb(null);
            reject(bodyCutShort());
        }
      };
      this.setBodyCb(take);
      this.resumeBody();
      take();
    });
  }

  /** The whole request body decoded as UTF-8; settles as {@linkcode HttpServerRequest.bytes}. */
  async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  /**
   * The whole request body parsed as JSON; settles as
   * {@linkcode HttpServerRequest.bytes}, and rejects with a SyntaxError for
   * a body that is not JSON.
   */
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
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
   * hook; whatever is still open at the end of the grace period is dropped
   * (`options.onDrop(bev)`, or freed with its unsent bytes).
   *
   * @throws {TypeError} if options or its onShutdown is of the wrong type, or unless this request is unanswered, its body complete, and no later request was read on its connection
   */
  takeOver(options: TakeOverOptions = {}): BufferEvent {
    checkObject(options, "options");
    const onShutdown = options.onShutdown === undefined
      ? null
      : checkFunction(options.onShutdown, "options.onShutdown");
    const onDrop = options.onDrop === undefined ? null : checkFunction(options.onDrop, "options.onDrop");
    return this.#core.conn.takeOver(this.#core, { onShutdown, onDrop });
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
