/**
 * The inside of {@linkcode HttpServer}: one {@linkcode Connection} per
 * accepted socket (libevent's server-side `struct evhttp_connection`), the
 * state of each request on it ({@linkcode RequestCore}), and the settings
 * the server shares with its connections ({@linkcode ServerConfig}). Not
 * part of the public API: `mod.ts` does not export this file.
 *
 * The hot path, per request: the parser reads straight from the
 * BufferEvent's input; the callback is found with one Map lookup; the
 * response head is copied character by character (it is Latin-1) from a
 * prebuilt status line, the field strings and the cached Date straight
 * into the output's reserved space, and a small body behind it, so the
 * response leaves in one socket write. Nothing is allocated per request
 * beyond the parser's head and the request objects; the parsed URI, header objects and buffers are built when asked
 * for, and the connection's buffers keep their spare room between messages
 * rather than allocating a segment per request. Timeouts cost no timer
 * operation per request: one timer per connection is checked lazily
 * against phase start times.
 *
 * @module
 */
import type { BufferEvent } from "../buffer/bufferevent.ts";
import { BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_TIMEOUT } from "../buffer/bufferevent.ts";
import { EvBuffer, type EvBufferCbEntry } from "../buffer/evbuffer.ts";
import { Event, type EventBase } from "../event/event_base.ts";
import { EV_READ, EV_TIMEOUT } from "../event/flags.ts";
import type { NetAddress } from "../platform.ts";
import { HttpHeaders } from "./headers.ts";
import { addLatin1, fieldsSize, headWriter } from "./head_writer.ts";
import { HttpError } from "./http_error.ts";
import { HttpParser, type HttpParserLimits, type RequestHead } from "./http_parser.ts";
import type { HttpServer } from "./server.ts";
import { headerHooks } from "./headers_internal.ts";
import { requestHooks } from "./server_internal.ts";
import type { HttpBody, HttpRequestCallback, HttpRequestNotify, ServerRequest } from "./server_request.ts";
// Run server_request.ts for its side effect: it fills requestHooks.make.
import "./server_request.ts";
import { decodeUri, htmlEscape, HttpUri } from "./uri.ts";

// ------------------------------------------------------------ status lines

/** Reason phrases (RFC 9110 §15), libevent's `evhttp_response_phrase_internal` table brought up to date. */
const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The reason for a code: the standard one, else its class's name, as libevent does. */
export function reasonFor(code: number): string {
  const known = REASONS[code];
  if (known !== undefined) return known;
  if (code < 200) return "Informational";
  if (code < 300) return "Successful";
  if (code < 400) return "Redirection";
  if (code < 500) return "Client Error";
  return "Server Error";
}

/** Reasons and prebuilt status lines by code (dense arrays: an index, not a property lookup), so a response head starts without formatting anything. */
const REASON_BY_CODE: string[] = [];
const STATUS_LINES: string[] = [];
for (let code = 0; code < 600; code++) {
  REASON_BY_CODE.push(code < 100 ? "" : reasonFor(code));
  STATUS_LINES.push(code < 100 ? "" : `HTTP/1.1 ${code} ${reasonFor(code)}\r\n`);
}

function statusLine(code: number, reason: string | undefined): string {
  if (reason === undefined || reason === REASON_BY_CODE[code]) return STATUS_LINES[code];
  return "HTTP/1.1 " + code + " " + reason + "\r\n";
}

/** A Latin-1 string's bytes. */
function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The standard status lines as bytes, made on first use: a head copies them whole. */
const STATUS_BYTES: (Uint8Array | undefined)[] = [];

function statusBytes(code: number): Uint8Array {
  return STATUS_BYTES[code] ??= latin1Bytes(STATUS_LINES[code]);
}

const CONTENT_LENGTH = latin1Bytes("Content-Length: ");
/** How a head ends: the Connection line when there is one, and the blank line. */
const END_PLAIN = latin1Bytes("\r\n");
const END_CLOSE = latin1Bytes("Connection: close\r\n\r\n");
const END_KEEP_ALIVE = latin1Bytes("Connection: keep-alive\r\n\r\n");

const CONTINUE_LINE = "HTTP/1.1 100 Continue\r\n\r\n";

/**
 * The most bytes reply() writes after the status line and the application's
 * fields, less the default Content-Type: a Date line (37), a Content-Length
 * line (16 + up to 16 digits + 2) and `Connection: keep-alive` with the
 * blank line (26).
 */
const FIXED_LINES = 37 + 34 + 26;

/** Methods RFC 9110 and RFC 5789 define: a request with one of these the server does not allow gets 405, any other 501. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

// ------------------------------------------------------------ small helpers

/** Strings longer than this are encoded to bytes first, rather than measured and encoded in place. */
const LARGE_TEXT = 16384;
/** Bodies up to this size are copied after the head, so head and body leave in one write. */
const COPY_LIMIT = 2048;
/**
 * After this long without a request, a connection's buffers let go of the
 * spare room they keep between messages, so an idle connection holds no
 * buffer memory; it is also the longest the connection timer sleeps.
 */
const SPARE_IDLE_MS = 1000;
/** The longest an idle connection's timer sleeps once its buffers are let go. */
const IDLE_SLEEP_MS = 60000;
/**
 * Unsent response bytes at which a connection reads no further request
 * until they are written: pipelined requests from a client that does not
 * read its answers cannot pile up responses without bound.
 */
const OUTPUT_HIGH_WATER = 65536;
/**
 * While the server shuts down, a request body that brings no byte for this
 * long has stalled: its connection is closed rather than waited for.
 */
const DRAIN_STALL_MS = 1000;
/** Bytes of an unread request body skipped after an early answer before the connection is closed instead. */
const DISCARD_LIMIT = 1 << 20;

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
/** Header fields the error page writes itself, which an application's output headers may not repeat. */
const ERROR_PAGE_FIELDS = new Set(["date", "content-type", "content-length", "transfer-encoding", "connection"]);

/**
 * The application's output headers as field lines for an error page: kept,
 * as evhttp_send_error keeps them (an Allow beside a 405, a
 * WWW-Authenticate beside a 401), less the fields the page sets itself.
 */
function appHeaderLines(out: HttpHeaders | null): string {
  if (out === null || out.size === 0) return "";
  const list = headerHooks.list(out);
  let lines = "";
  for (let i = 0; i < list.length; i += 2) {
    if (!ERROR_PAGE_FIELDS.has(list[i].toLowerCase())) lines += list[i] + ": " + list[i + 1] + "\r\n";
  }
  return lines;
}

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

/**
 * Whether `name` matches a virtual host pattern, case-insensitively: `*`
 * stands for any run of characters, `?` for one (libevent's
 * `prefix_suffix_match`, which knows `*`). Iterative, with one backtrack
 * point, so no pattern is exponential.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const pc = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (pc === 42) {
      star = p++;
      mark = n;
    } else if (pc === 63 || (pc >= 0 && lowerCode(pc) === lowerCode(name.charCodeAt(n)))) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

function lowerCode(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Whether a request has body bytes to read. */
function hasBody(head: RequestHead): boolean {
  return head.framing === "chunked" || (head.framing === "length" && head.contentLength > 0);
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

// Header names that the response writer sets itself or reads: bits of `has`.
const HAS_DATE = 1;
const HAS_TYPE = 2;
const HAS_LENGTH = 4;
const HAS_CLOSE = 8;

// ------------------------------------------------------------ config

/** A path's callback, and whether it runs before the body is read. */
export interface Route {
  /** The callback. */
  readonly cb: HttpRequestCallback;
  /** Run it once the head is read, with the body streamed into inputBuffer. */
  readonly stream: boolean;
}

/** A virtual host: a pattern for the Host and the server that handles it. */
export interface VirtualHost {
  /** The `*` / `?` pattern, as given. */
  readonly pattern: string;
  /** The server handling matching hosts. */
  readonly cfg: ServerConfig;
}

/** The timeouts in milliseconds; 0 turns one off. */
export interface Timeouts {
  header: number;
  body: number;
  write: number;
  idle: number;
}

/**
 * The default timeouts. The header timeout is 30 s, half of Node's
 * `headersTimeout` and nginx's `client_header_timeout`: a client that
 * trickles a head byte by byte (slowloris) holds a connection for at most
 * that long, and a real client on a slow link needs far less for a head of
 * a few KiB. The idle timeout is Node's `keepAliveTimeout`.
 */
const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({ header: 30000, body: 60000, write: 60000, idle: 5000 });

/**
 * The default bound of a body read whole into memory before its callback
 * runs: 8 MiB holds any form or JSON post an embedded server expects (nginx
 * allows 1 MiB) while a few hundred concurrent uploads cannot exhaust
 * memory; larger bodies are streamed (`streamBody`) or allowed with
 * `setMaxBodySize`.
 */
const DEFAULT_MAX_BUFFERED_BODY = 8 * 1024 * 1024;

/** How far the server is in its life: serving, finishing in-flight work, or gone. */
export type ServerState = "running" | "draining" | "closed";

/**
 * What an HttpServer shares with its connections (libevent's `struct
 * evhttp`): callbacks, virtual hosts, limits, timeouts, hooks. HttpServer
 * is the checked public face of it.
 */
export class ServerConfig {
  readonly base: EventBase;
  readonly owner: HttpServer;
  state: ServerState = "running";
  /** The server this one is a virtual host of, or null. */
  parent: ServerConfig | null = null;

  readonly callbacks: Map<string, Route> = new Map();
  genRoute: Route | null = null;
  readonly vhosts: VirtualHost[] = [];
  /** Lowercased aliases. */
  readonly aliases: string[] = [];

  allowed: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
  allowHeader = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";
  contentTypeLine: string | null = "Content-Type: text/html; charset=ISO-8859-1\r\n";
  limits: Partial<HttpParserLimits> = {};
  timeouts: Timeouts = { ...DEFAULT_TIMEOUTS };
  maxConnections: number = Infinity;
  maxPipelined = 32;
  bodyHighWatermark = 65536;
  /** The most bytes of a body read whole before its callback runs (a streamed body has only the parser's limit). */
  bufferedBodyLimit: number = DEFAULT_MAX_BUFFERED_BODY;

  newRequestCb: HttpRequestNotify | null = null;
  expectCb: ((req: ServerRequest) => number | void) | null = null;
  errorLogger: ((err: unknown, req: ServerRequest | null) => void) | null = null;

  readonly connections: Set<Connection> = new Set();
  /** Connections taken over by another protocol, with the hook that tells them of a shutdown. */
  readonly upgraded: Map<BufferEvent, ((bev: BufferEvent) => void) | null> = new Map();
  /** Called when a connection closes: shutdown waits with it. */
  onConnectionClosed: (() => void) | null = null;

  #dateLine = "";
  #dateBytes: Uint8Array = new Uint8Array(0);
  #typeLine: string | null = null;
  #typeBytes: Uint8Array | null = null;
  #dateExpires = -Infinity;

  constructor(base: EventBase, owner: HttpServer) {
    this.base = base;
    this.owner = owner;
  }

  /**
   * How long the connection timer may sleep: the shortest timeout set (so a
   * phase never starts after its deadline's check), and at most
   * SPARE_IDLE_MS.
   */
  get timerPeriod(): number {
    let min = SPARE_IDLE_MS;
    for (const t of [this.timeouts.header, this.timeouts.body, this.timeouts.write, this.timeouts.idle]) {
      if (t > 0 && t < min) min = t;
    }
    return min;
  }

  /**
   * The `Date:` line, made at most once a second: staleness is judged on
   * the loop's cached time, so a response costs no clock read and no
   * formatting.
   */
  dateLine(): string {
    const now = this.base.now();
    if (now >= this.#dateExpires) {
      const wall = Date.now();
      this.#dateLine = "Date: " + new Date(wall).toUTCString() + "\r\n";
      this.#dateBytes = latin1Bytes(this.#dateLine);
      this.#dateExpires = now + 1000 - (wall % 1000);
    }
    return this.#dateLine;
  }

  /** {@linkcode ServerConfig.dateLine} as bytes. */
  dateBytes(): Uint8Array {
    this.dateLine();
    return this.#dateBytes;
  }

  /** {@linkcode ServerConfig.contentTypeLine} as bytes, or null. */
  typeBytes(): Uint8Array | null {
    const line = this.contentTypeLine;
    if (line !== this.#typeLine) {
      this.#typeLine = line;
      this.#typeBytes = line === null ? null : latin1Bytes(line);
    }
    return this.#typeBytes;
  }

  /** How many taken-over connections are still open (forgetting the freed ones). */
  openUpgraded(): number {
    for (const bev of this.upgraded.keys()) if (bev.state === "freed") this.upgraded.delete(bev);
    return this.upgraded.size;
  }

  /** Shutdown begins: tell each taken-over connection through its hook, or free it when it has none. */
  shutdownUpgraded(): void {
    for (const [bev, hook] of [...this.upgraded]) {
      if (bev.state === "freed") continue;
      if (hook === null) {
        bev.free();
        continue;
      }
      try {
        hook(bev);
      } catch (err) {
        this.log(err, null);
        bev.free();
      }
    }
  }

  /** Drop every taken-over connection still open, unsent bytes and all. */
  dropUpgraded(): void {
    for (const bev of this.upgraded.keys()) {
      if (bev.state === "freed") continue;
      const socket = bev.socket;
      bev.output.drain(bev.output.length);
      bev.free();
      socket?.close();
    }
    this.upgraded.clear();
  }

  /** Log an error from a callback, if a logger is set; a throwing logger is ignored. */
  log(err: unknown, req: ServerRequest | null): void {
    const logger = this.errorLogger;
    if (logger === null) return;
    try {
      logger(err, req);
    } catch {
      // The logger failing must not turn into a second error path.
    }
  }

  /** Whether the alias is this server's or one of its virtual hosts' (libevent's `evhttp_find_alias`). */
  findAlias(host: string): ServerConfig | null {
    if (this.aliases.includes(host)) return this;
    for (const v of this.vhosts) {
      const found = v.cfg.findAlias(host);
      if (found !== null) return found;
    }
    return null;
  }

  /** The server that handles a host: by alias first, then by pattern, into nested virtual hosts (libevent's `evhttp_find_vhost`). */
  resolve(host: string): ServerConfig {
    return this.findAlias(host) ?? ServerConfig.#byPattern(this, host);
  }

  static #byPattern(top: ServerConfig, host: string): ServerConfig {
    let cfg = top;
    outer: for (;;) {
      for (const v of cfg.vhosts) {
        if (globMatch(v.pattern, host)) {
          cfg = v.cfg;
          continue outer;
        }
      }
      return cfg;
    }
  }
}

// ------------------------------------------------------------ requests

/** The body: being read, read, being skipped after an early answer, skipped, or cut short. */
export type BodyPhase = "reading" | "complete" | "discarding" | "discarded" | "aborted";
/** Whether the application lets the body flow or paused it. */
export type BodyFlow = "flowing" | "paused";
/** The response: not given, head sent and chunks flowing, all given, or lost with the connection. */
export type ResponsePhase = "none" | "streaming" | "complete" | "aborted";
/** Whether the routed callback has run. */
type DispatchStage = "waiting" | "dispatched";
/** `Expect: 100-continue`: none, awaiting our 100, or 100 sent. */
type ContinueState = "none" | "expected" | "sent";
/** How a streamed response body is delimited; `"none"` drops it (HEAD, 204, 304). */
type ResponseFraming = "chunked" | "length" | "close" | "none";

/** A flush waiter's function: a chunk's onFlushed, or null for the request's on-complete callback. */
type Waiter = (() => void) | null;

/** One request's state, shared by its connection and its public face. */
export class RequestCore {
  readonly conn: Connection;
  readonly head: RequestHead;
  readonly req: ServerRequest;
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
  framing: ResponseFraming = "none";
  /** A streamed response's Content-Length, or -1. */
  declared = -1;
  /** Body bytes of a streamed response so far. */
  sent = 0;
  /** The connection closes once this response is written. */
  closeAfter = false;
  input: EvBuffer | null = null;
  output: EvBuffer | null = null;
  inHeaders: HttpHeaders | null = null;
  outHeaders: HttpHeaders | null = null;
  /** Response bytes waiting for the responses before this one. */
  pending: EvBuffer | null = null;
  /** Flush waiters of those bytes: pairs of (request, waiter). */
  waiters: (RequestCore | Waiter)[] | null = null;
  bodyCb: HttpRequestNotify | null = null;
  closeCb: HttpRequestNotify | null = null;
  completeCb: HttpRequestNotify | null = null;
  /** Watches a streamed inputBuffer for room while reading waits on it. */
  drainWatch: EvBufferCbEntry | null = null;
  #path: string | null = null;
  #uri: HttpUri | null = null;

  constructor(conn: Connection, head: RequestHead, server: ServerConfig) {
    this.conn = conn;
    this.head = head;
    this.server = server;
    this.req = requestHooks.make(this);
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
    return this.inHeaders ??= headerHooks.wrap(this.head.headers);
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
}

// ------------------------------------------------------------ connections

/**
 * The connection: open (reading and answering), closing (answering what was
 * read, reading no more), or closed.
 */
type ConnectionState = "open" | "closing" | "closed";

/**
 * The read side: parsing heads, reading the body of `#reading`, paused
 * (pipeline full, body paused or over its watermark, an upgrade pending:
 * the socket is paused too), or stopped for good.
 */
type ReadState = "head" | "body" | "paused" | "stopped";

/** The peer's side: sending, or it sent EOF. */
type PeerState = "open" | "ended";

/** How to close: send what is queued and FIN (lingering), or drop it all at once. */
type CloseMode = "graceful" | "hard";

/**
 * The socket under the connection: in use by HTTP, still sending the last
 * response's bytes after the conversation ended (the connection stays
 * counted, so shutdown waits for it and its grace period can cut it off),
 * or let go.
 */
type SocketPhase = "in_use" | "flushing" | "released";

/**
 * One accepted connection: libevent's server-side `struct
 * evhttp_connection`, reading requests with an {@linkcode HttpParser}
 * straight from its BufferEvent's input and writing responses to its
 * output, in request order.
 */
export class Connection {
  readonly cfg: ServerConfig;
  readonly bev: BufferEvent;
  readonly peer: NetAddress;
  #state: ConnectionState = "open";
  #socketPhase: SocketPhase = "in_use";
  #read: ReadState = "head";
  #peer: PeerState = "open";
  readonly #parser: HttpParser<"request">;
  /** Requests whose responses are not complete, in order; the first one writes to the output. */
  readonly #queue: RequestCore[] = [];
  /** The request whose body is being read, or null between requests. */
  #reading: RequestCore | null = null;
  /** An upgrade request waiting for its answer: reading waits with it. */
  #upgrade: RequestCore | null = null;
  /** Flush waiters of bytes in the output: pairs of (request, waiter). */
  #waiters: (RequestCore | Waiter)[] | null = null;
  /** A protocol error to answer once the responses before it are written. */
  #pendingError = 0;
  #timer: Event<Connection> | null = null;
  /** The timer sleeps past the shortest timeout (an idle connection with its buffers let go): a new head wakes it. */
  #sleeping = false;
  #kick: Event<Connection> | null = null;
  /** Loop time the current head's first bytes were seen, or -1 between requests. */
  #headStart = -1;
  /** Loop time the connection last had no request in flight. */
  #idleSince: number;
  /** Loop time the body last made progress (or was resumed). */
  #bodyProgress = 0;
  /** Unsent bytes at the last write check, and when that check saw them change. */
  #lastPending = 0;
  #writeCheck = 0;
  #discarded = 0;

  static readonly #readcb = (_bev: BufferEvent, conn: Connection): void => conn.#process();
  static readonly #writecb = (_bev: BufferEvent, conn: Connection): void => conn.#onWritten();
  static readonly #eventcb = (_bev: BufferEvent, what: number, conn: Connection): void => conn.#onEvent(what);
  static readonly #timercb = (_s: unknown, _w: number, conn: Connection): void => conn.#onTimer();
  static readonly #kickcb = (_s: unknown, _w: number, conn: Connection): void => conn.#onKick();
  static readonly #flushedcb = (bev: BufferEvent, conn: Connection): void => {
    if (bev.output.length === 0) conn.#release("graceful");
  };
  static readonly #flusheventcb = (_bev: BufferEvent, what: number, conn: Connection): void => {
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) conn.#release("hard");
  };

  constructor(cfg: ServerConfig, bev: BufferEvent, peer: NetAddress) {
    this.cfg = cfg;
    this.bev = bev;
    this.peer = peer;
    this.#parser = new HttpParser("request", cfg.limits);
    const base = cfg.base;
    this.#idleSince = base.now();
    cfg.connections.add(this);
    bev.setCallbacks(Connection.#readcb, Connection.#writecb, Connection.#eventcb, this);
    bev.enable(EV_READ);
    const timer = new Event<Connection>(base, null, 0, Connection.#timercb, this);
    timer.add(cfg.timerPeriod);
    this.#timer = timer;
  }

  /** Whether nothing is in flight: no request queued or being read, no head begun. */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#reading === null && this.#headStart < 0 &&
      this.bev.input.length === 0;
  }

  /**
   * Whether a response is on its way: the one rule of what a graceful
   * shutdown waits for. A response is in flight while its bytes are queued
   * for the socket, or once its request was read whole and handed to the
   * application, which owes (the rest of) the answer. A request whose body
   * is still arriving depends on the client: it is in flight only while the
   * body keeps coming (bytes within the last DRAIN_STALL_MS). Anything else
   * (an unfinished head, an upload that stalled, an idle keep-alive
   * connection) has nothing being sent, and shutdown closes it at once.
   */
  get inFlight(): boolean {
    if (this.#state === "closed") return this.#socketPhase === "flushing";
    if (this.bev.output.length > 0) return true;
    const q = this.#queue;
    for (let i = 0; i < q.length; i++) {
      const core = q[i];
      if (core.body === "reading") continue;
      if (core.resp === "streaming" || core.resp === "complete") return true;
      if (core.resp === "none" && core.stage === "dispatched") return true;
    }
    return this.#reading !== null && this.#read === "body" &&
      this.cfg.base.now() - this.#bodyProgress < DRAIN_STALL_MS;
  }

  // ---------------------------------------------------------- reading

  /** Parse what the input holds and act on it, until it needs more bytes or must wait. */
  #process(): void {
    const input = this.bev.input;
    const parser = this.#parser;
    for (;;) {
      if (this.#state !== "open") return;
      const read = this.#read;
      if (read === "head") {
        if (this.cfg.state !== "running") {
          this.#stopReadingHeads();
          return;
        }
        // Read no further request while the answers already given are unsent
        // (a client that pipelines and never reads): the socket pauses and
        // the kernel's buffers push back on the client.
        if (this.#queue.length >= this.cfg.maxPipelined || this.bev.output.length >= OUTPUT_HIGH_WATER) {
          this.#pause();
          return;
        }
        if (this.#headStart < 0 && input.length > 0) {
          this.#headStart = this.cfg.base.now();
          if (this.#sleeping) {
            // The first bytes after a long idle: the timer watches the header timeout again.
            this.#sleeping = false;
            (this.#timer as Event<Connection>).add(this.cfg.timerPeriod);
          }
        }
        const ev = parser.parse(input);
        if (ev.type === "head") {
          this.#onHead(ev.head);
        } else if (ev.type === "error") {
          this.#headError(ev.error.status);
          return;
        } else {
          // need_more: a head is incomplete, or nothing is there.
          if (this.#peer === "ended") this.#onPeerEnded();
          return;
        }
      } else if (read === "body") {
        if (!this.#readBody(this.#reading as RequestCore)) return;
      } else {
        return;
      }
    }
  }

  /** Read body bytes of `core`; false when reading must wait. */
  #readBody(core: RequestCore): boolean {
    const input = this.bev.input;
    const parser = this.#parser;
    if (!hasBody(core.head)) {
      // No body: the parser reports the end at once, no buffer needed.
      parser.parse(input);
      this.#bodyEnd(core);
      return true;
    }
    if (core.body === "discarding") {
      const ev = parser.parse(input);
      switch (ev.type) {
        case "body":
          this.#discarded += ev.data.length;
          if (this.#discarded > DISCARD_LIMIT) {
            this.#close("graceful");
            return false;
          }
          return true;
        case "trailers":
          return true;
        case "end":
          this.#bodyEnd(core);
          return true;
        case "error":
          this.#bodyError(core, ev.error.status);
          return false;
        default:
          if (this.#peer === "ended") this.#onPeerEnded();
          return false;
      }
    }
    if (core.flow === "paused") {
      this.#pause();
      return false;
    }
    const dst = core.inputBuffer();
    if (core.streaming && dst.length >= this.cfg.bodyHighWatermark) {
      this.#watchDrain(core, dst);
      this.#pause();
      return false;
    }
    const before = dst.length;
    const ev = parser.parseBodyInto(input, dst);
    const moved = dst.length - before;
    if (moved > 0) {
      this.#bodyProgress = this.cfg.base.now();
      if (!core.streaming && dst.length > this.cfg.bufferedBodyLimit) {
        this.#bodyError(core, 413);
        return false;
      }
    }
    switch (ev.type) {
      case "end":
        this.#bodyEnd(core);
        return true;
      case "trailers": {
        const fields = ev.headers;
        for (let i = 0; i < fields.length; i++) core.head.headers.push(fields[i]);
        return true;
      }
      case "error":
        this.#bodyError(core, ev.error.status);
        return false;
      default:
        if (moved > 0 && core.streaming) this.#notifyBody(core);
        if (this.#state !== "open") return false;
        if (this.#peer === "ended") this.#onPeerEnded();
        return false;
    }
  }

  /** A head was parsed: check it, route it, run the hooks, maybe dispatch. */
  #onHead(head: RequestHead): void {
    const cfg = this.cfg;
    this.#headStart = -1;
    const core = new RequestCore(this, head, cfg);
    this.#queue.push(core);
    this.#reading = core;
    this.#read = "body";
    this.#bodyProgress = cfg.base.now();
    if (head.expectContinue && hasBody(head)) core.cont = "expected";

    const method = head.method;
    if (!cfg.allowed.has(method)) {
      this.#refuse(core, KNOWN_METHODS.has(method) ? 405 : 501);
      return;
    }
    try {
      // An absolute-form target is parsed now, so a malformed one gets 400 as in libevent; origin-form stays lazy.
      if (head.target.charCodeAt(0) !== 47 && head.target !== "*") core.uri();
      if (cfg.vhosts.length !== 0 || cfg.aliases.length !== 0) {
        const host = core.host();
        if (host !== null) core.server = cfg.resolve(host.toLowerCase());
      }
      const srv = core.server;
      core.route = srv.callbacks.size !== 0 ? srv.callbacks.get(core.decodedPath()) ?? srv.genRoute : srv.genRoute;
    } catch (err) {
      // Only an unparsable absolute-form target (or path) gets here.
      this.#refuse(core, err instanceof HttpError ? err.status : 400);
      return;
    }

    const hook = cfg.newRequestCb;
    if (hook !== null) {
      this.#call(core, hook);
      if (this.#state === "closed" || core.resp !== "none" || core.body === "aborted") return;
    }
    if (core.route !== null && core.route.stream) core.streaming = true;
    if (!core.streaming && head.framing === "length" && head.contentLength > cfg.bufferedBodyLimit) {
      // Too large to hold: refused before a byte of it is read (or a 100 Continue invites it).
      this.#refuse(core, 413);
      return;
    }

    if (core.cont === "expected") {
      let status = 100;
      const expect = cfg.expectCb;
      if (expect !== null) {
        try {
          const answer = expect(core.req);
          if (answer !== undefined) status = answer;
        } catch (err) {
          this.#failed(core, err);
          return;
        }
        if (this.#state === "closed" || core.resp !== "none") return;
      }
      if (status !== 100) {
        this.#refuse(core, Number.isInteger(status) && status >= 400 && status <= 599 ? status : 417);
        return;
      }
      // libevent skips the 100 when the body is already on its way.
      if (this.bev.input.length === 0) addLatin1(this.#sinkFor(core), CONTINUE_LINE);
      core.cont = "sent";
    }

    const route = core.route;
    if (route === null) {
      this.#refuse(core, 404);
      return;
    }
    if (core.streaming) this.#dispatch(core);
  }

  /** The body of `core` ended (at once for a request without one). */
  #bodyEnd(core: RequestCore): void {
    this.#reading = null;
    const head = core.head;
    // After Connection: close, an upgrade, or while draining, nothing more is read (RFC 9112 §9.6).
    if (head.upgrade) {
      this.#upgrade = core;
      this.#pause();
    } else if (!head.keepAlive || this.cfg.state !== "running") {
      this.#read = "stopped";
    } else {
      this.#read = "head";
    }
    if (core.body === "discarding") {
      core.body = "discarded";
    } else if (core.body === "reading") {
      core.body = "complete";
      if (core.streaming) this.#notifyBody(core);
      if (this.#state === "closed") return;
      if (core.stage === "waiting" && core.resp === "none" && core.route !== null) this.#dispatch(core);
    }
    if (this.#upgrade === core && core.resp === "complete") this.#upgradeDeclined(core);
  }

  /** The body of `core` is malformed, over a limit, or timed out: answer `status` if nothing was sent, and close. */
  #bodyError(core: RequestCore, status: number): void {
    this.#reading = null;
    this.#read = "stopped";
    const wasReading = core.body === "reading";
    core.body = "aborted";
    if (wasReading && core.streaming) this.#notifyBody(core);
    if (this.#state === "closed") return;
    if (core.resp === "none") {
      this.#writeError(core, status, undefined, null);
      this.#completed(core);
      this.#notifyClose(core);
    } else if (core.resp === "streaming") {
      this.#notifyClose(core);
      this.#close("graceful");
    } else {
      // Answered already; the rest of the stream cannot be trusted.
      this.#state = "closing";
      if (this.#queue.length === 0) this.#close("graceful");
    }
  }

  /** A malformed head (or one too slow): answer once the responses before it are out, then close. */
  #headError(status: number): void {
    this.#read = "stopped";
    this.#headStart = -1;
    this.#pendingError = status;
    if (this.#queue.length === 0) this.#flushPendingError();
  }

  /** The server refuses a request itself (404, 405, 501, 417...): an error page, and the connection closes after it. */
  #refuse(core: RequestCore, status: number): void {
    this.#reading = null;
    this.#read = "stopped";
    if (core.body === "reading") core.body = "discarded";
    this.#writeError(core, status, undefined, status === 405 ? this.cfg.allowHeader : null);
    this.#completed(core);
  }

  /** The peer sent EOF and everything before it was parsed. */
  #onPeerEnded(): void {
    const r = this.#parser.eof(this.bev.input);
    if (r !== null && r.type === "error") {
      const core = this.#reading;
      if (core !== null) this.#bodyError(core, r.error.status);
      else this.#headError(r.error.status);
      return;
    }
    // A clean end between requests: answer what was asked, then close.
    this.#read = "stopped";
    this.#headStart = -1;
    this.#state = "closing";
    if (this.#queue.length === 0) this.#close("graceful");
  }

  #onEvent(what: number): void {
    if (what & BEV_EVENT_EOF) {
      this.#peer = "ended";
      if (this.#read === "head" || this.#read === "body") this.#process();
      else if (this.#read === "stopped" && this.#queue.length === 0) this.#close("graceful");
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
      this.#close("hard");
    }
  }

  // ---------------------------------------------------------- flow control

  /** Stop parsing and pause the socket until a kick resumes it. */
  #pause(): void {
    if (this.#read === "paused" || this.#read === "stopped") return;
    this.#read = "paused";
    if (this.bev.state !== "freed") this.bev.disable(EV_READ);
  }

  /** Resume parsing on the loop's next turn (never inside the caller's stack). */
  #kickLater(): void {
    if (this.#state === "closed") return;
    (this.#kick ??= new Event<Connection>(this.cfg.base, null, 0, Connection.#kickcb, this)).active(EV_TIMEOUT);
  }

  #onKick(): void {
    if (this.#state !== "open" || this.#read !== "paused" || this.#upgrade !== null) return;
    this.#read = this.#reading !== null ? "body" : "head";
    this.#bodyProgress = this.cfg.base.now();
    this.bev.enable(EV_READ);
    this.#process();
  }

  /** Wait for the application to take bytes out of a streamed inputBuffer. */
  #watchDrain(core: RequestCore, dst: EvBuffer): void {
    if (core.drainWatch !== null) return;
    core.drainWatch = dst.addCb((buf) => {
      if (buf.length >= this.cfg.bodyHighWatermark || core.drainWatch === null) return;
      buf.removeCb(core.drainWatch);
      core.drainWatch = null;
      this.#kickLater();
    });
  }

  pauseBody(core: RequestCore): void {
    if (core.body === "reading") core.flow = "paused";
  }

  resumeBody(core: RequestCore): void {
    if (core.flow !== "paused") return;
    core.flow = "flowing";
    if (this.#read === "paused") this.#kickLater();
  }

  #upgradeDeclined(core: RequestCore): void {
    if (this.#upgrade !== core) return;
    this.#upgrade = null;
    // The parser stopped at the upgrade; it was answered as plain HTTP, so HTTP goes on.
    this.#parser.reset();
    this.#kickLater();
  }

  // ---------------------------------------------------------- dispatching

  #dispatch(core: RequestCore): void {
    core.stage = "dispatched";
    this.#call(core, (core.route as Route).cb);
  }

  /** Run an application callback; a throw or a rejected promise answers 500 (or the HttpError's status). */
  #call(core: RequestCore, fn: HttpRequestCallback): void {
    try {
      const r = fn(core.req);
      if (r !== undefined && r !== null && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, (err: unknown) => this.#failed(core, err));
      }
    } catch (err) {
      this.#failed(core, err);
    }
  }

  #failed(core: RequestCore, err: unknown): void {
    this.cfg.log(err, core.req);
    if (this.#state === "closed") return;
    if (core.resp === "none" && core.body !== "aborted") {
      const status = err instanceof HttpError && err.status >= 400 && err.status <= 599 ? err.status : 500;
      if (this.#reading === core) this.#reading = null;
      this.#read = "stopped";
      if (core.body === "reading") core.body = "discarded";
      this.#writeError(core, status, undefined, null);
      this.#completed(core);
    } else if (core.resp === "streaming") {
      this.#close("graceful");
    }
  }

  #notifyBody(core: RequestCore): void {
    const cb = core.bodyCb;
    if (cb === null) return;
    try {
      cb(core.req);
    } catch (err) {
      this.#failed(core, err);
    }
  }

  #notifyClose(core: RequestCore): void {
    const cb = core.closeCb;
    if (cb === null) return;
    core.closeCb = null;
    try {
      cb(core.req);
    } catch (err) {
      this.cfg.log(err, core.req);
    }
  }

  // ---------------------------------------------------------- writing

  /** Where a request's response bytes go: the output for the first request, its own buffer for later ones. */
  #sinkFor(core: RequestCore): EvBuffer {
    return this.#queue[0] === core ? this.bev.output : (core.pending ??= new EvBuffer());
  }

  /** Whether the connection closes after this response. */
  #mustClose(core: RequestCore): boolean {
    return !core.head.keepAlive || this.#state !== "open" || this.cfg.state !== "running" ||
      core.head.method === "CONNECT" || (core.body === "reading" && core.cont === "expected");
  }

  /** evhttp_send_reply. */
  reply(core: RequestCore, code: number, reason: string | undefined, body: HttpBody | undefined): void {
    if (this.#state === "closed") {
      core.resp = "aborted";
      return;
    }
    const head = core.head;
    const headOnly = head.method === "HEAD";
    const bodyless = code === 204 || code === 304;
    let text: string | null = null;
    let bytes: Uint8Array | null = null;
    let buf: EvBuffer | null = null;
    let len = 0;
    const ob = core.output;
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
    const status = statusLine(code, reason);
    const out = core.outHeaders;
    const list = out === null ? null : headerHooks.list(out);
    const w = headWriter;
    const cfg = this.cfg;
    const typeBytes = cfg.typeBytes();
    w.begin(this.#sinkFor(core), status.length + fieldsSize(list) + FIXED_LINES + (typeBytes?.length ?? 0) + inline);
    if (status === STATUS_LINES[code]) w.bytes(statusBytes(code));
    else w.text(status);
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
    const close = (has & HAS_CLOSE) !== 0 || this.#mustClose(core);
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
      const sink = this.#sinkFor(core);
      if (bytes !== null) sink.add(bytes);
      else addBuffer(sink, buf as EvBuffer);
    }
    core.resp = "complete";
    core.closeAfter = close;
    this.#completed(core);
  }

  /** evhttp_send_error: the output headers cleared, an HTML page, Connection: close. */
  errorReply(core: RequestCore, code: number, reason: string | undefined): void {
    if (this.#state === "closed") {
      core.resp = "aborted";
      return;
    }
    if (this.#reading === core) this.#reading = null;
    // The connection closes after this answer: read no further request.
    this.#read = "stopped";
    this.#writeError(core, code, reason, null);
    this.#completed(core);
  }

  /** Write an error page as `core`'s response (all of it: resp becomes complete, closeAfter set). */
  #writeError(core: RequestCore, code: number, reason: string | undefined, allow: string | null): void {
    addLatin1(
      this.#sinkFor(core),
      this.#errorPage(code, reason, allow, core.head.method === "HEAD", appHeaderLines(core.outHeaders)),
    );
    core.resp = "complete";
    core.closeAfter = true;
  }

  /** libevent's ERR_FORMAT page with its headers: text/html, Connection: close. */
  #errorPage(code: number, reason: string | undefined, allow: string | null, headOnly: boolean, extra = ""): string {
    const why = htmlEscape(reason ?? reasonFor(code));
    const body = `<HTML><HEAD>\n<TITLE>${code} ${why}</TITLE>\n</HEAD><BODY>\n<H1>${why}</H1>\n</BODY></HTML>\n`;
    let h = statusLine(code, reason) + extra + this.cfg.dateLine() + "Content-Type: text/html\r\n";
    if (allow !== null) h += "Allow: " + allow + "\r\n";
    h += "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
    return headOnly ? h : h + body;
  }

  #flushPendingError(): void {
    const status = this.#pendingError;
    this.#pendingError = 0;
    addLatin1(this.bev.output, this.#errorPage(status, undefined, null, false));
    this.#close("graceful");
  }

  /** evhttp_send_reply_start. */
  replyStart(core: RequestCore, code: number, reason: string | undefined): void {
    if (this.#state === "closed") {
      core.resp = "aborted";
      return;
    }
    const head = core.head;
    const bodyless = code === 204 || code === 304;
    let h = statusLine(code, reason);
    let has = 0;
    let declared = -1;
    const out = core.outHeaders;
    if (out !== null) {
      const list = headerHooks.list(out);
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
    let close = (has & HAS_CLOSE) !== 0 || this.#mustClose(core);
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
    if ((has & HAS_DATE) === 0) h += this.cfg.dateLine();
    if (!bodyless && !headOnly && (has & HAS_TYPE) === 0 && this.cfg.contentTypeLine !== null) {
      h += this.cfg.contentTypeLine;
    }
    if (framing === "chunked") h += "Transfer-Encoding: chunked\r\n";
    if (close) h += "Connection: close\r\n\r\n";
    else if (head.versionMinor === 0) h += "Connection: keep-alive\r\n\r\n";
    else h += "\r\n";
    addLatin1(this.#sinkFor(core), h);
    core.resp = "streaming";
    core.framing = framing;
    core.declared = declared;
    core.sent = 0;
    core.closeAfter = close;
  }

  /** evhttp_send_reply_chunk_with_cb. */
  replyChunk(core: RequestCore, data: HttpBody, onFlushed: (() => void) | null): void {
    if (this.#state === "closed") {
      core.resp = "aborted";
      return;
    }
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
    if (core.framing === "none" || n === 0) {
      if (buf !== null) buf.drain(n);
      if (onFlushed !== null) this.#flushedLater(core, onFlushed);
      return;
    }
    if (core.framing === "length" && core.sent + n > core.declared) {
      throw new RangeError(
        `sendReplyChunk: ${core.sent + n} body bytes would pass the Content-Length of ${core.declared}`,
      );
    }
    core.sent += n;
    const sink = this.#sinkFor(core);
    if (core.framing === "chunked") {
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
    if (onFlushed !== null) this.#addWaiter(core, onFlushed);
  }

  /** evhttp_send_reply_end. */
  replyEnd(core: RequestCore): void {
    if (this.#state === "closed") {
      core.resp = "aborted";
      return;
    }
    if (core.framing === "chunked") this.#sinkFor(core).addString("0\r\n\r\n");
    // A body shorter than its Content-Length: only closing tells the client it was cut short.
    else if (core.framing === "length" && core.sent < core.declared) core.closeAfter = true;
    core.resp = "complete";
    this.#completed(core);
  }

  /** A response was given in full: move the queue on if it was the first. */
  #completed(core: RequestCore): void {
    if (core.completeCb !== null) this.#addWaiter(core, null);
    if (core.body === "reading") {
      // Answered before the body was read: skip the rest of it, keeping the connection.
      core.body = "discarding";
      core.flow = "flowing";
      this.#discarded = 0;
      if (this.#read === "paused") this.#kickLater();
    }
    if (this.#queue[0] === core) this.#advance();
  }

  /** Retire complete responses at the front; hand the output to the next one. */
  #advance(): void {
    const q = this.#queue;
    while (q.length !== 0) {
      const front = q[0];
      if (front.resp !== "complete") break;
      q.shift();
      if (front.closeAfter) {
        this.#close("graceful");
        return;
      }
      if (this.#upgrade === front) this.#upgradeDeclined(front);
      if (q.length !== 0) {
        const next = q[0];
        const pending = next.pending;
        if (pending !== null) {
          next.pending = null;
          this.bev.output.addBuffer(pending);
        }
        const waiters = next.waiters;
        if (waiters !== null) {
          next.waiters = null;
          const mine = this.#waiters ??= [];
          for (let i = 0; i < waiters.length; i++) mine.push(waiters[i]);
        }
      }
    }
    if (q.length === 0) {
      this.#idleSince = this.cfg.base.now();
      if (this.#pendingError !== 0) {
        this.#flushPendingError();
        return;
      }
      if (this.#state === "closing" || (this.#read === "stopped" && this.#reading === null)) {
        this.#close("graceful");
        return;
      }
      if (this.cfg.state !== "running" && this.idle) {
        this.#close("graceful");
        return;
      }
    }
    if (this.#read === "paused") this.#kickLater();
  }

  /** Run `fn` once the bytes given so far for `core` have been handed to the socket. */
  #addWaiter(core: RequestCore, fn: Waiter): void {
    if (this.#queue[0] === core) {
      (this.#waiters ??= []).push(core, fn);
    } else {
      (core.waiters ??= []).push(core, fn);
    }
  }

  /** A flush callback for a chunk that wrote nothing: after the bytes before it, or on the loop's next turn. */
  #flushedLater(core: RequestCore, fn: () => void): void {
    if (this.#queue[0] !== core || this.bev.output.length > 0) {
      this.#addWaiter(core, fn);
      return;
    }
    this.cfg.base.defer(() => {
      if (core.resp === "aborted") return;
      try {
        fn();
      } catch (err) {
        this.#failed(core, err);
      }
    });
  }

  /** The write callback: the output drained, so every waiter's bytes are with the socket. */
  #onWritten(): void {
    if (this.bev.output.length !== 0) return;
    if (this.#read === "paused" && this.#reading === null) this.#kickLater();
    const w = this.#waiters;
    if (w === null) return;
    this.#waiters = null;
    this.#runWaiters(w);
  }

  #runWaiters(w: (RequestCore | Waiter)[]): void {
    for (let i = 0; i < w.length; i += 2) {
      const core = w[i] as RequestCore;
      const fn = w[i + 1] as Waiter;
      try {
        if (fn !== null) fn();
        else core.completeCb?.(core.req);
      } catch (err) {
        this.#failed(core, err);
      }
    }
  }

  // ---------------------------------------------------------- timeouts

  /**
   * The connection timer: judge the current phase against its start time.
   * It is re-armed for the nearest deadline, but never further than the
   * shortest timeout, so a phase that starts later is still checked in time
   * and a phase change never touches the timer. The exception is an idle
   * connection whose buffers were let go: its timer sleeps until the idle
   * timeout (at most IDLE_SLEEP_MS), and the next head wakes it.
   */
  #onTimer(): void {
    if (this.#socketPhase === "released") return;
    this.#sleeping = false;
    const t = this.cfg.timeouts;
    const now = this.cfg.base.now();
    let due = Infinity;
    if (t.write > 0) {
      const socket = this.bev.socket;
      const unsent = this.bev.output.length + (socket !== null ? socket.bufferedAmount : 0);
      if (unsent === 0 || unsent !== this.#lastPending) {
        this.#lastPending = unsent;
        this.#writeCheck = now;
      } else if (now - this.#writeCheck >= t.write) {
        this.#close("hard");
        return;
      }
      if (unsent > 0) due = this.#writeCheck + t.write;
    }
    if (this.#state === "open") {
      const read = this.#read;
      if (read === "head" && this.#headStart >= 0 && t.header > 0) {
        if (now - this.#headStart >= t.header) {
          this.#headError(408);
          return;
        }
        due = Math.min(due, this.#headStart + t.header);
      } else if (read === "head" && this.#headStart < 0 && this.#queue.length === 0 && this.bev.input.length === 0) {
        const idleFor = now - this.#idleSince;
        if (t.idle > 0 && idleFor >= t.idle) {
          this.#close("graceful");
          return;
        }
        if (t.idle > 0) due = Math.min(due, this.#idleSince + t.idle);
        if (idleFor >= SPARE_IDLE_MS && this.bev.output.length === 0) {
          this.bev.input.releaseSpare();
          this.bev.output.releaseSpare();
          // Nothing left to do until the idle timeout or the next head (which
          // wakes the timer): sleep until then rather than once a second, so
          // many idle connections cost no wake-ups.
          this.#sleeping = true;
        }
      } else if (read === "body" && (t.body > 0 || this.cfg.state !== "running")) {
        // While the server drains, a body that stops coming is given up soon: nothing waits on it but the client.
        let limit = t.body > 0 ? t.body : Infinity;
        if (this.cfg.state !== "running" && limit > DRAIN_STALL_MS) limit = DRAIN_STALL_MS;
        if (now - this.#bodyProgress >= limit) {
          this.#bodyError(this.#reading as RequestCore, 408);
          return;
        }
        due = Math.min(due, this.#bodyProgress + limit);
      }
    }
    const timer = this.#timer as Event<Connection>;
    if (this.#sleeping) {
      // At most a minute, so timeouts the server is given later reach idle connections too.
      timer.add(Math.max(1, Math.min(due - now, IDLE_SLEEP_MS)));
      return;
    }
    const next = Math.min(due - now, this.cfg.timerPeriod);
    timer.add(Math.max(1, next));
  }

  // ---------------------------------------------------------- closing

  /**
   * Graceful shutdown of this connection: close it now unless a response is
   * in flight ({@linkcode Connection.inFlight}); otherwise read no further
   * request and close once the responses in flight are written (they say
   * `Connection: close`, since cfg.state is draining).
   */
  drain(): void {
    if (this.#state === "closed") return;
    if (!this.inFlight) {
      this.#close("graceful");
      return;
    }
    this.#stopReadingHeads();
  }

  /** Read no further request: a head begun is dropped; a body being read for a response in flight goes on. */
  #stopReadingHeads(): void {
    this.#headStart = -1;
    if (this.#reading === null) {
      this.#read = "stopped";
      if (this.bev.state !== "freed") this.bev.disable(EV_READ);
    }
    if (this.#queue.length === 0) this.#close("graceful");
  }

  /** evhttp_connection_free: abort what is unanswered and let the socket go. */
  close(mode: CloseMode): void {
    this.#close(mode);
  }

  #close(mode: CloseMode): void {
    if (this.#state === "closed") {
      // A hard close (the grace period's end, a write timeout) cuts short a connection still flushing.
      if (mode === "hard" && this.#socketPhase === "flushing") this.#release("hard");
      return;
    }
    this.#state = "closed";
    this.#read = "stopped";
    this.#kick?.free();
    const bev = this.bev;
    const queued = this.#queue.splice(0);
    const reading = this.#reading;
    this.#reading = null;
    // Responses still queued never reach the client, complete or not.
    for (const core of queued) this.#abortRequest(core, true);
    if (reading !== null && !queued.includes(reading)) this.#abortRequest(reading, false);
    if (mode === "graceful" && bev.state !== "freed" && bev.output.length > 0) {
      // The conversation is over, but the last response is still being
      // written (a large file to a slow reader): stay counted until it is
      // out, so a shutdown waits for it and its grace period bounds it.
      this.#socketPhase = "flushing";
      bev.disable(EV_READ);
      bev.setCallbacks(null, Connection.#flushedcb, Connection.#flusheventcb, this);
    } else {
      this.#release(mode);
    }
  }

  /**
   * Let the socket go: gracefully (BufferEvent.free with closeOnFree sends
   * what the socket still queues, then FIN, then discards input until the
   * peer closes) or hard (everything unsent dropped). The connection then
   * stops counting.
   */
  #release(mode: CloseMode): void {
    if (this.#socketPhase === "released") return;
    this.#socketPhase = "released";
    this.#timer?.free();
    const bev = this.bev;
    const waiters = this.#waiters;
    this.#waiters = null;
    if (mode === "hard") {
      const socket = bev.socket;
      if (bev.state !== "freed") {
        bev.output.drain(bev.output.length);
        bev.free();
      }
      socket?.close();
    } else if (bev.state !== "freed") {
      bev.free();
    }
    this.cfg.connections.delete(this);
    // Bytes handed to the socket by a graceful close count as flushed.
    if (waiters !== null && mode === "graceful") this.#runWaiters(waiters);
    this.cfg.onConnectionClosed?.();
  }

  /** Tell a request its connection is gone: body cut short, response lost (when `lost`). */
  #abortRequest(core: RequestCore, lost: boolean): void {
    const wasReading = core.body === "reading";
    if (wasReading) core.body = "aborted";
    if (lost) core.resp = "aborted";
    if (wasReading && core.streaming) this.#notifyBody(core);
    if (lost || wasReading) this.#notifyClose(core);
  }

  /** ServerRequest.takeOver. */
  takeOver(core: RequestCore, onShutdown: ((bev: BufferEvent) => void) | null): BufferEvent {
    if (this.#state !== "open" || this.#queue.length !== 1 || this.#queue[0] !== core) {
      throw new TypeError("takeOver: the request must be the only one in flight on an open connection");
    }
    if (core.resp !== "none" || core.body !== "complete") {
      throw new TypeError(
        `takeOver: the request must be unanswered with its body read (body ${core.body}, response ${core.resp})`,
      );
    }
    this.#state = "closed";
    this.#socketPhase = "released";
    this.#read = "stopped";
    this.#timer?.free();
    this.#kick?.free();
    this.#queue.length = 0;
    this.#upgrade = null;
    core.resp = "complete";
    const bev = this.bev;
    bev.setCallbacks(null, null, null);
    bev.disable(EV_READ);
    this.cfg.connections.delete(this);
    this.cfg.upgraded.set(bev, onShutdown);
    this.cfg.onConnectionClosed?.();
    return bev;
  }
}
