/**
 * The HTTP/1.1 message parser shared by the server and the client: libevent's
 * `evhttp_parse_firstline_`, `evhttp_parse_headers_`, `evhttp_get_body_length`
 * and `evhttp_handle_chunked_read` (http.c), as one incremental state machine
 * over {@linkcode EvBuffer} bytes.
 *
 * Strict per RFC 9112, so that two parsers cannot frame one byte stream
 * differently (request smuggling). Each part of a message is held to the
 * grammar of its own RFC section, not to one byte class for all:
 *
 * - Request line (RFC 9112 §3): `method SP request-target SP HTTP-version`,
 *   single spaces; method is a token (RFC 9110 §5.6.2); version is
 *   `HTTP/` DIGIT `.` DIGIT.
 * - Request target (RFC 9112 §3.2, with RFC 3986's rules). origin-form:
 *   `1*( "/" segment ) [ "?" query ]`. absolute-form: `scheme ":"
 *   hier-part [ "?" query ]`, where hier-part is `"//" authority
 *   path-abempty`, path-absolute, path-rootless or path-empty.
 *   authority-form, for CONNECT only: `uri-host ":" 1*DIGIT`.
 *   asterisk-form, for OPTIONS only: `*`. Paths hold pchar and "/",
 *   queries pchar, "/" and "?", where pchar is unreserved, sub-delims,
 *   ":", "@" or pct-encoded (`%` and two hex digits); a host is a reg-name
 *   (the same bytes without ":" and "@") or an IP literal in brackets
 *   (IPv6address or IPvFuture, checked whole). No fragment (`#`): it is in
 *   no form. Two choices tighter than RFC 3986: userinfo (`user@`) is
 *   refused in every absolute-form target (RFC 9110 §4.2.4 tells http(s)
 *   recipients to treat it as an error; it only serves to confuse which
 *   host is meant), and an authority's host may not be empty (RFC 9110
 *   §4.2.1), nor may an http or https target lack `//` and its authority.
 * - Status line (RFC 9112 §4): `HTTP-version SP 3DIGIT SP reason-phrase`,
 *   a code from 100 to 599, a reason of HTAB, SP, VCHAR and obs-text; the
 *   SP before an empty reason may be left out, as many servers do.
 * - Field lines (RFC 9112 §5, RFC 9110 §5.5): a token name, ":", then OWS,
 *   a value of field-vchar (VCHAR, obs-text) with SP and HTAB inside, OWS.
 *   obs-fold is refused in requests and read as SP in responses (§5.2).
 *   Host is `uri-host [ ":" port ]` (RFC 9110 §7.2).
 * - Line ends: the start line and the header section's lines end in CRLF
 *   or a bare LF (the leniency of RFC 9112 §2.2, as libevent's
 *   EVBUFFER_EOL_CRLF); empty lines before a start line are skipped. The
 *   chunked body's lines end in CRLF only: §7.1 spells CRLF out in every
 *   rule of `chunked-body`, and §2.2's leniency speaks of the start line
 *   and fields. That includes the trailer section, although its lines are
 *   field lines: it is `*( field-line CRLF )` inside chunked-body, and the
 *   line that ends it ends the message, so a peer that splits on CRLF only
 *   would otherwise see another message boundary. A CR is accepted only
 *   right before a LF, anywhere.
 * - Chunks (RFC 9112 §7.1): `1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS
 *   ( token / quoted-string ) ] ) CRLF` (at most 16 hex digits here), then
 *   the data and CRLF; the last chunk is a size of zero, then the trailer
 *   section and CRLF.
 * - Framing: Transfer-Encoding with Content-Length, differing
 *   Content-Lengths, and a request Transfer-Encoding not ending in chunked
 *   are errors.
 *
 * A start line is read by a scanner that goes through that grammar byte
 * by byte and can stop and go on at any byte, so a byte that can never
 * become part of a valid line (garbage, a control byte in the target) is
 * refused as soon as it arrives, not when the line ends or its size limit
 * runs out. A line that comes in pieces costs time linear in its length:
 * each piece is scanned once as it arrives, and the whole line once more
 * when its LF has come. Where the RFC leaves a choice:
 *
 * - Content-Length: identical duplicates and lists of one value (`3, 3`) are
 *   read as that value (RFC 9110 §8.6); anything else is an error.
 * - Host: an HTTP/1.1 request needs exactly one, well formed (RFC 9112 §3.2).
 * - Versions: HTTP/1.x above 1.1 is read as 1.1; another major version is
 *   505.
 * - Errors are found in byte order (a start line is too long at its size
 *   limit plus two bytes without a LF; chunk-size lines check their length
 *   first), so the error reported does not depend on how the bytes were
 *   split into reads.
 *
 * @module
 */
import { type EvBuffer, EvBufferPtr, firstSegment } from "../buffer/evbuffer.ts";
import { checkBoolean, checkCount, checkLimit, checkObject, checkOneOf, checkString, typeError } from "../check.ts";
import { HttpError, type HttpErrorCode } from "./http_error.ts";

/** Whether a parser reads requests (a server) or responses (a client). */
export type HttpParserKind = "request" | "response";

const PARSER_KINDS: readonly HttpParserKind[] = ["request", "response"];

/**
 * The states of {@linkcode HttpParser}:
 *
 * - `"start_line"`: before a request or status line (empty lines are skipped).
 * - `"headers"`: inside the header section.
 * - `"body_length"`: reading a body framed by Content-Length.
 * - `"body_close"`: reading a response body that ends when the connection does.
 * - `"chunk_size"`: before a chunk-size line (with its extensions).
 * - `"chunk_data"`: inside a chunk's data.
 * - `"chunk_data_end"`: before the line end that follows a chunk's data.
 * - `"trailers"`: inside the trailer section after the last chunk.
 * - `"message_done"`: the message is complete; the next parse reports its end.
 * - `"upgraded"`: the connection switched protocols (Upgrade, CONNECT); the
 *   bytes after the message are not HTTP and are left in the input.
 * - `"error"`: the input was malformed; the parser keeps reporting that error.
 */
export type HttpParserState =
  | "start_line"
  | "headers"
  | "body_length"
  | "body_close"
  | "chunk_size"
  | "chunk_data"
  | "chunk_data_end"
  | "trailers"
  | "message_done"
  | "upgraded"
  | "error";

/**
 * How a message's body is delimited (RFC 9112 §6.3):
 * `"none"` (no body), `"length"` (Content-Length), `"chunked"`, or
 * `"close"` (a response read until the connection closes).
 */
export type HttpFraming = "none" | "length" | "chunked" | "close";

/** Limits of {@linkcode HttpParser}; defaults in {@linkcode DEFAULT_HTTP_PARSER_LIMITS}. */
export interface HttpParserLimits {
  /** Bytes of the whole header section, start line and line ends included (as Node's maxHeaderSize); also the trailer section's own limit. Over it: 431. */
  maxHeaderSize: number;
  /** Field lines in the header (or trailer) section. Over it: 431. */
  maxHeaderCount: number;
  /** Bytes of the request line (or status line) without its line end. Over it: 414 for a request. */
  maxRequestLineSize: number;
  /** Bytes of body (after chunked decoding); Infinity for no limit. Over it: 413. */
  maxBodySize: number;
  /** Bytes of chunk extensions in one message, all chunks together. Over it: 413. */
  maxChunkExtensionSize: number;
}

/**
 * The default limits: a 16 KiB header section (as Node), 100 field lines,
 * an 8 KiB request line, no body limit and 16 KiB of chunk extensions per
 * message (as Node).
 */
export const DEFAULT_HTTP_PARSER_LIMITS: Readonly<HttpParserLimits> = Object.freeze({
  maxHeaderSize: 16384,
  maxHeaderCount: 100,
  maxRequestLineSize: 8192,
  maxBodySize: Infinity,
  maxChunkExtensionSize: 16384,
});

/** Options of {@linkcode HttpParser} beside its limits. */
export interface HttpParserOptions {
  /**
   * Refuse an HTTP/1.1 request without a Host field (400, RFC 9112 §3.2).
   * Default true. libevent's own clients (its evrpc client among them) send
   * none, so a server that must serve them turns this off; two Host fields
   * or a malformed one are refused either way.
   */
  readonly requireHost?: boolean;
}

/** What request and response heads share. */
export interface HttpHeadBase {
  /** The HTTP major version: always 1 (others are rejected with 505). */
  readonly versionMajor: number;
  /** The HTTP minor version: 0 or 1 (HTTP/1.2 and up are read as 1.1, as RFC 9110 §2.5 says). */
  readonly versionMinor: number;
  /**
   * The fields, as one flat array of alternating names and values:
   * `[name0, value0, name1, value1, ...]`, in the order received. Names are
   * lowercased (as in Fetch's Headers and HTTP/2) so a lookup is a plain
   * `===`; values are trimmed of surrounding whitespace and decoded as
   * Latin-1 (one char per byte, lossless, as Node does). One array of
   * strings is the cheapest shape to build: no object per field, and
   * common names are shared interned strings.
   */
  readonly headers: string[];
  /** The Content-Length, or -1 when there is none. */
  readonly contentLength: number;
  /** True when the body is chunked. */
  readonly chunked: boolean;
  /** How the body is delimited. */
  readonly framing: HttpFraming;
  /**
   * True when the connection may carry another message after this one:
   * HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
   * `Connection: keep-alive`; never after a body read until close.
   */
  readonly keepAlive: boolean;
  /**
   * True when the connection switches protocols after this message: a
   * CONNECT request, an HTTP/1.1 request with `Upgrade` and
   * `Connection: upgrade`, a 101 response, or a 2xx answer to CONNECT.
   */
  readonly upgrade: boolean;
}

/** A parsed request line and header section. */
export interface RequestHead extends HttpHeadBase {
  /** Tells heads apart. */
  readonly kind: "request";
  /** The method, case kept (methods are case-sensitive). */
  readonly method: string;
  /** The request target as sent: origin-form, absolute-form, authority-form (CONNECT) or `*` (OPTIONS). */
  readonly target: string;
  /** True for an HTTP/1.1 request with `Expect: 100-continue`. */
  readonly expectContinue: boolean;
}

/** A parsed status line and header section. */
export interface ResponseHead extends HttpHeadBase {
  /** Tells heads apart. */
  readonly kind: "response";
  /** The status code, 100 to 599. */
  readonly status: number;
  /** The reason phrase (may be empty). */
  readonly reason: string;
}

/** The head type a parser of kind `K` gives. */
export type HeadOf<K extends HttpParserKind> = K extends "request" ? RequestHead : ResponseHead;

/** A start line and header section were parsed. */
export interface ParseHeadEvent<H> {
  /** The event kind. */
  readonly type: "head";
  /** The head. */
  readonly head: H;
}

/** A piece of body, chunked encoding removed. */
export interface ParseBodyEvent {
  /** The event kind. */
  readonly type: "body";
  /** A view of the input's bytes (no copy); it stays valid after the input moves on. */
  readonly data: Uint8Array;
}

/** The trailer section of a chunked message, when it has fields. */
export interface ParseTrailersEvent {
  /** The event kind. */
  readonly type: "trailers";
  /** Alternating lowercased names and values, as {@linkcode HttpHeadBase.headers}. */
  readonly headers: string[];
}

/** The message is complete; the parser is ready for the next one (pipelining) or switched protocols. */
export interface ParseEndEvent {
  /** The event kind. */
  readonly type: "end";
}

/** The input holds no further complete piece; add bytes and parse again. */
export interface ParseNeedMoreEvent {
  /** The event kind. */
  readonly type: "need_more";
}

/** The input is malformed or crossed a limit; the parser stays in the `"error"` state. */
export interface ParseErrorEvent {
  /** The event kind. */
  readonly type: "error";
  /** What went wrong, with the status to answer. */
  readonly error: HttpError;
}

/** What {@linkcode HttpParser.parse} returns. */
export type ParseEvent<H extends RequestHead | ResponseHead = RequestHead | ResponseHead> =
  | ParseHeadEvent<H>
  | ParseBodyEvent
  | ParseTrailersEvent
  | ParseEndEvent
  | ParseNeedMoreEvent
  | ParseErrorEvent;

// ------------------------------------------------------------ byte tables

const HTAB = 9;
const LF = 10;
const CR = 13;
const SP = 32;
const DQUOTE = 34;
const COLON = 58;
const SEMI = 59;
const EQUALS = 61;
const BACKSLASH = 92;
const PERCENT = 37;
const STAR = 42;
const SLASH = 47;
const QUESTION = 63;
const AT = 64;
const LBRACKET = 91;
const RBRACKET = 93;
const HASH = 35;

/** Results of the line parsers below zero: the line is not complete yet, or the parser failed. */
const INCOMPLETE = -1;
const FAILED = -2;

/** Chunk sizes have at most this many hex digits (leading zeros too), so a size line is bounded. */
const MAX_HEX_DIGITS = 16;

function table(fill: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = fill(c) ? 1 : 0;
  return t;
}

const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** tchar (RFC 9110 §5.6.2): names, methods, codings, chunk extension names. */
const TOKEN = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/** field-vchar, SP, HTAB and obs-text: what a field value may hold (RFC 9110 §5.5). */
const VALUE = table((c) => c === HTAB || (c >= SP && c !== 127));
/** qdtext (RFC 9110 §5.6.4). */
const QDTEXT = table((c) =>
  c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x7e && c !== BACKSLASH) || c >= 0x80
);
const isUnreserved = (c: number): boolean => isAlpha(c) || isDigit(c) || "-._~".includes(String.fromCharCode(c));
const isSubDelim = (c: number): boolean => "!$&'()*+,;=".includes(String.fromCharCode(c));
/** reg-name (RFC 3986 §3.2.2) without its pct-encoded triplets, which the scanners take apart. */
const REG_NAME = table((c) => isUnreserved(c) || isSubDelim(c));
/** pchar and "/" (RFC 3986 §3.3) without pct-encoded: the bytes of a path. */
const PATH = table((c) => REG_NAME[c] === 1 || c === COLON || c === AT || c === SLASH);
/** A query's bytes: a path's and "?" (RFC 3986 §3.4). */
const QUERY = table((c) => PATH[c] === 1 || c === QUESTION);
/** Bytes inside an IP-literal's brackets: IPv6address's and IPvFuture's together; the structure is checked at the line end. */
const IP_LITERAL = table((c) => REG_NAME[c] === 1 || c === COLON);
/** scheme bytes after its first letter (RFC 3986 §3.1). */
const SCHEME = table((c) => isAlpha(c) || isDigit(c) || c === 43 || c === 45 || c === 46);
/** ASCII lowercase of each byte. */
const LOWER = new Uint8Array(256).map((_, c) => (c >= 65 && c <= 90 ? c + 32 : c));
/** Hex digit values, -1 for other bytes. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[65 + c] = HEX[97 + c] = 10 + c;

const LF_NEEDLE = new Uint8Array([LF]);
const CONNECT: readonly number[] = Array.from("CONNECT", (ch) => ch.charCodeAt(0));
const NEED_MORE: ParseNeedMoreEvent = Object.freeze({ type: "need_more" });
const END: ParseEndEvent = Object.freeze({ type: "end" });

// ------------------------------------------------------------ interning

// Header names the parser must read (their index is their bit in #special).
const H_CONTENT_LENGTH = "content-length";
const H_TRANSFER_ENCODING = "transfer-encoding";
const H_CONNECTION = "connection";
const H_UPGRADE = "upgrade";
const H_EXPECT = "expect";
const H_HOST = "host";

/**
 * Known names, lowercased. A field whose name is one of these (in any case)
 * gets this very string, so no string is built for it; the first six are
 * the ones the parser itself reads.
 */
const NAMES: readonly string[] = [
  H_CONTENT_LENGTH,
  H_TRANSFER_ENCODING,
  H_CONNECTION,
  H_UPGRADE,
  H_EXPECT,
  H_HOST,
  "accept",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "accept-ranges",
  "access-control-allow-origin",
  "access-control-request-headers",
  "access-control-request-method",
  "age",
  "alt-svc",
  "authorization",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-location",
  "content-range",
  "content-security-policy",
  "content-type",
  "cookie",
  "date",
  "dnt",
  "etag",
  "expires",
  "forwarded",
  "from",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "keep-alive",
  "last-modified",
  "link",
  "location",
  "max-forwards",
  "origin",
  "pragma",
  "priority",
  "proxy-authenticate",
  "proxy-authorization",
  "range",
  "referer",
  "retry-after",
  "sec-ch-ua",
  "sec-ch-ua-mobile",
  "sec-ch-ua-platform",
  "sec-fetch-dest",
  "sec-fetch-mode",
  "sec-fetch-site",
  "sec-fetch-user",
  "sec-websocket-accept",
  "sec-websocket-extensions",
  "sec-websocket-key",
  "sec-websocket-protocol",
  "sec-websocket-version",
  "server",
  "set-cookie",
  "strict-transport-security",
  "te",
  "traceparent",
  "trailer",
  "upgrade-insecure-requests",
  "user-agent",
  "vary",
  "via",
  "warning",
  "www-authenticate",
  "x-content-type-options",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-frame-options",
  "x-powered-by",
  "x-real-ip",
  "x-requested-with",
];
const SPECIAL_COUNT = 6;
const NAME_BYTES: readonly Uint8Array[] = NAMES.map((n) => Uint8Array.from(n, (ch) => ch.charCodeAt(0)));
const MAX_NAME = 48;
/** Buckets of NAMES indexes keyed by length and the first letter's low 5 bits (the same for both cases). */
const NAME_BUCKETS: (number[] | undefined)[] = new Array((MAX_NAME + 1) * 32);
NAMES.forEach((name, index) => {
  const key = name.length * 32 + (name.charCodeAt(0) & 31);
  (NAME_BUCKETS[key] ??= []).push(index);
});

/** The NAMES index of the (any case) name in `buf[s, e)`, or -1. */
function knownName(buf: Uint8Array, s: number, e: number): number {
  const len = e - s;
  if (len > MAX_NAME) return -1;
  const bucket = NAME_BUCKETS[len * 32 + (buf[s] & 31)];
  if (bucket === undefined) return -1;
  for (let b = 0; b < bucket.length; b++) {
    const known = NAME_BYTES[bucket[b]];
    let k = 0;
    // Known names are [a-z0-9-]: OR 0x20 lowercases a letter and cannot turn
    // another token byte into one of those.
    while (k < len && (buf[s + k] | 0x20) === known[k]) k++;
    if (k === len) return bucket[b];
  }
  return -1;
}

/** Methods whose strings are shared rather than built. */
function knownMethod(buf: Uint8Array, s: number, e: number): string | null {
  const a = buf[s];
  switch (e - s) {
    case 3:
      if (a === 71 && buf[s + 1] === 69 && buf[s + 2] === 84) return "GET";
      if (a === 80 && buf[s + 1] === 85 && buf[s + 2] === 84) return "PUT";
      return null;
    case 4:
      if (a === 80 && buf[s + 1] === 79 && buf[s + 2] === 83 && buf[s + 3] === 84) return "POST";
      if (a === 72 && buf[s + 1] === 69 && buf[s + 2] === 65 && buf[s + 3] === 68) return "HEAD";
      return null;
    case 5:
      return a === 80 && sameBytes(buf, s, "PATCH") ? "PATCH" : a === 84 && sameBytes(buf, s, "TRACE") ? "TRACE" : null;
    case 6:
      return a === 68 && sameBytes(buf, s, "DELETE") ? "DELETE" : null;
    case 7:
      return a === 79 && sameBytes(buf, s, "OPTIONS")
        ? "OPTIONS"
        : a === 67 && sameBytes(buf, s, "CONNECT")
        ? "CONNECT"
        : null;
  }
  return null;
}

/** lineEnd's answer for a CR followed by something other than LF. */
const BARE_CR = -1;

/**
 * The index of the first LF in `buf[s, stop)`, `stop` if none, or BARE_CR
 * if a CR not followed by LF comes first; a CR at stop - 1 is left for the
 * next, longer look to judge.
 */
function lineEnd(buf: Uint8Array, s: number, stop: number): number {
  for (let k = s; k < stop; k++) {
    const c = buf[k];
    if (c === LF) return k;
    if (c === CR && k + 1 < stop && buf[k + 1] !== LF) return BARE_CR;
  }
  return stop;
}

// ---------------------------------------------------- start-line scanner

// The states of the start-line scanner (HttpParser.#ls). It reads a start
// line byte by byte in byte order and can stop after any byte and go on
// from there when more come, so a partial line is judged as its bytes
// arrive and the first bad byte decides the error however the line was
// split. Each state names the part of the grammar the next byte belongs
// to. They are numbers, not string literals like HttpParserState: the
// scanner switches on them several times in every request line.
/** Before the first byte: an empty line (skipped) or a method / status line. */
const LS_START = 0;
/** In the method (a token). */
const LS_METHOD = 1;
/** At the request target's first byte, which picks its form. */
const LS_TARGET = 2;
/** In an absolute-path (origin-form, or absolute-form's path). */
const LS_PATH = 3;
/** In a query. */
const LS_QUERY = 4;
/** At the first hex digit of a pct-encoded triplet; #lsPctReturn is the state after it. */
const LS_PCT1 = 5;
/** At its second hex digit. */
const LS_PCT2 = 6;
/** After an asterisk-form's "*". */
const LS_ASTERISK = 7;
/** In an absolute-URI's scheme. */
const LS_SCHEME = 8;
/** After "scheme:": "//" authority, path-absolute, path-rootless or path-empty. */
const LS_HIER = 9;
/** After "scheme:/". */
const LS_HIER_SLASH = 10;
/** At an authority's host (absolute-form after "//", or CONNECT's authority-form). */
const LS_HOST_START = 11;
/** In a reg-name. */
const LS_HOST = 12;
/** Inside an IP-literal's brackets. */
const LS_IP = 13;
/** After an IP-literal's "]". */
const LS_IP_END = 14;
/** At the first digit of CONNECT's port, which may not be empty. */
const LS_PORT_FIRST = 15;
/** In a port. */
const LS_PORT = 16;
/** After an absolute-form's authority: path-abempty, a query or the target's end. */
const LS_AUTH_END = 17;
/** In the HTTP-version after the target; #lsCount of its 8 bytes read. */
const LS_VERSION = 18;
/** After the version: only the line end may follow. */
const LS_END = 19;
/** In a status line's "HTTP/d.d ddd"; #lsCount of its 12 bytes read. */
const LS_STATUS = 20;
/** After the status code: SP, or the line end (an empty reason without its SP). */
const LS_CODE_END = 21;
/** In the reason phrase. */
const LS_REASON = 22;
/** After a CR; #lsCrFrom is the state before it. Only a LF may follow. */
const LS_CR = 23;

/** What each byte of `HTTP/d.d` must be; DIGIT for a digit. */
const DIGIT = -1;
/** A status code's first digit: 1 to 5. */
const CLASS_DIGIT = -2;
const VERSION_PATTERN: readonly number[] = [72, 84, 84, 80, SLASH, DIGIT, 46, DIGIT];
const STATUS_PATTERN: readonly number[] = [...VERSION_PATTERN, SP, CLASS_DIGIT, DIGIT, DIGIT];

/** Whether byte `c` is what `want`, an entry of a pattern above, asks for. */
function fits(c: number, want: number): boolean {
  return want >= 0 ? c === want : want === DIGIT ? isDigit(c) : c >= 49 && c <= 53;
}

/** The part of the request target each target state reads, for error messages. */
function targetPart(st: number): string {
  switch (st) {
    case LS_PATH:
    case LS_HIER:
    case LS_HIER_SLASH:
      return "path";
    case LS_QUERY:
      return "query";
    case LS_PCT1:
    case LS_PCT2:
      return "percent-encoding";
    case LS_ASTERISK:
      return "asterisk-form";
    case LS_SCHEME:
      return "scheme";
    case LS_IP:
    case LS_IP_END:
      return "IP literal";
    case LS_PORT_FIRST:
    case LS_PORT:
      return "port";
    default:
      return "host";
  }
}

/** A byte for a message: itself when visible ASCII, else its hex. */
function showByte(c: number): string {
  return c > SP && c < 127 ? `"${String.fromCharCode(c)}"` : `0x${c.toString(16).padStart(2, "0")}`;
}

/** Whether `buf[s, e)` is the scheme "http" or "https", in any case. */
function httpScheme(buf: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  return (n === 4 || (n === 5 && LOWER[buf[s + 4]] === 115)) && LOWER[buf[s]] === 104 && LOWER[buf[s + 1]] === 116 &&
    LOWER[buf[s + 2]] === 116 && LOWER[buf[s + 3]] === 112;
}

function sameBytes(buf: Uint8Array, s: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (buf[s + k] !== text.charCodeAt(k)) return false;
  return true;
}

// Field values and targets repeat from one request to the next (Host,
// User-Agent, Accept, the target "/"): a cache, checked byte by byte, hands
// out the string made last time instead of building one. Comparing 100
// bytes costs less than one TextDecoder call, and makes no garbage. The
// slot comes from the length and three sampled bytes, so finding it takes
// no pass over the bytes. Two-way: the slot picks a pair of entries; a new
// string goes first, moving the one there second; so two values of one
// request that pick the same pair (a browser's Host and Accept did) both
// stay cached instead of evicting each other on every request. Bounded:
// CACHE_SLOTS strings of at most CACHE_MAX chars per cache.
const CACHE_BITS = 10;
const CACHE_SLOTS = 1 << CACHE_BITS;
const CACHE_MAX = 128;
const valueCache: string[] = new Array(CACHE_SLOTS).fill("");
const nameCache: string[] = new Array(CACHE_SLOTS).fill("");
const ascii = new TextDecoder();

/**
 * Where every parser collects a section's fields while it reads them: one
 * array for all, written from the start each time, and sliced to its exact
 * size when the section is complete. A list grown by push per message left
 * two or three outgrown arrays behind per 10-field head; this leaves one
 * array of the right size. A parser whose section is split across parse
 * calls takes its fields out into its own array first (see #detach).
 */
const FIELDS: string[] = [];

/** The first of a pair of cache entries (an even index). */
function slotOf(n: number, first: number, mid: number, last: number): number {
  return ((Math.imul(n, 0x9e3779b1) ^ Math.imul(first, 0x85ebca6b) ^ Math.imul(mid, 0x27d4eb2f) ^
    Math.imul(last, 0xc2b2ae35)) >>> (32 - CACHE_BITS)) & ~1;
}

/** `buf[s, e)` as a Latin-1 string (one char per byte, lossless); `high` is the OR of the bytes, to tell ASCII. */
function valueText(buf: Uint8Array, s: number, e: number, high: number): string {
  const n = e - s;
  if (n === 0) return "";
  if (n > CACHE_MAX) return latin1(buf, s, e, high);
  const slot = slotOf(n, buf[s], buf[s + (n >> 1)], buf[e - 1]);
  const hit = valueCache[slot];
  if (hit.length === n && sameText(hit, buf, s, n)) return hit;
  const other = valueCache[slot + 1];
  if (other.length === n && sameText(other, buf, s, n)) return other;
  valueCache[slot + 1] = hit;
  return valueCache[slot] = latin1(buf, s, e, high);
}

/** Whether `text` (of length n) is `buf[s, s + n)`, char for byte. */
function sameText(text: string, buf: Uint8Array, s: number, n: number): boolean {
  let k = 0;
  while (k < n && text.charCodeAt(k) === buf[s + k]) k++;
  return k === n;
}

/** Build the Latin-1 string of `buf[s, e)`; `high` is the OR of its bytes. */
function latin1(buf: Uint8Array, s: number, e: number, high: number): string {
  // Strings under 13 chars come out flat from concatenation; past that the
  // native decoder is faster, and for ASCII UTF-8 is Latin-1.
  if (e - s < 13) {
    let str = "";
    for (let i = s; i < e; i++) str += String.fromCharCode(buf[i]);
    return str;
  }
  if (high < 0x80) return ascii.decode(buf.subarray(s, e));
  let str = "";
  for (let i = s; i < e; i += 4096) {
    str += String.fromCharCode.apply(null, buf.subarray(i, Math.min(e, i + 4096)) as unknown as number[]);
  }
  return str;
}

/** A field name (token bytes) lowercased, from the cache when it was seen before. */
function nameText(buf: Uint8Array, s: number, e: number): string {
  const n = e - s;
  const slot = n > CACHE_MAX ? -1 : slotOf(n, LOWER[buf[s]], LOWER[buf[s + (n >> 1)]], LOWER[buf[e - 1]]);
  if (slot >= 0) {
    const hit = nameCache[slot];
    if (hit.length === n && sameLower(hit, buf, s, n)) return hit;
    const other = nameCache[slot + 1];
    if (other.length === n && sameLower(other, buf, s, n)) return other;
    nameCache[slot + 1] = hit;
  }
  let str = "";
  for (let i = s; i < e; i++) str += String.fromCharCode(LOWER[buf[i]]);
  if (slot >= 0) nameCache[slot] = str;
  return str;
}

/** Whether `text` (of length n) is `buf[s, s + n)` lowercased. */
function sameLower(text: string, buf: Uint8Array, s: number, n: number): boolean {
  let k = 0;
  while (k < n && text.charCodeAt(k) === LOWER[buf[s + k]]) k++;
  return k === n;
}

// ------------------------------------------------- field value helpers

/** OWS: optional whitespace is SP or HTAB (RFC 9110 §5.6.3). */
function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** Whether `s[from, to)` is `lit` (lowercase) in any case. */
function equalsLower(s: string, from: number, to: number, lit: string): boolean {
  if (to - from !== lit.length) return false;
  for (let k = 0; k < lit.length; k++) if (LOWER[s.charCodeAt(from + k) & 255] !== lit.charCodeAt(k)) return false;
  return true;
}

/**
 * A walk over the elements of a comma-separated list value (RFC 9110
 * §5.6.1), empty ones included: each `next()` leaves the element in
 * `value[from, to)`, whitespace trimmed. One cursor serves every list (the
 * parser never re-enters the helpers below), so reading a list value
 * allocates nothing.
 */
class ListCursor {
  value = "";
  /** Where the current element starts. */
  from = 0;
  /** Where it ends. */
  to = 0;
  /** Where the next element starts, or -1 after the last. */
  #next = 0;

  /** Start a walk over `value`. */
  start(value: string): this {
    this.value = value;
    this.#next = 0;
    return this;
  }

  /** Move to the next element; false after the last (a value has at least one, maybe empty). */
  next(): boolean {
    const i = this.#next;
    if (i < 0) return false;
    const value = this.value;
    let j = value.indexOf(",", i);
    const last = j < 0;
    if (last) j = value.length;
    let a = i;
    let b = j;
    while (a < b && isOws(value.charCodeAt(a))) a++;
    while (b > a && isOws(value.charCodeAt(b - 1))) b--;
    this.from = a;
    this.to = b;
    this.#next = last ? -1 : j + 1;
    return true;
  }
}

const elements = new ListCursor();

/**
 * Content-Length from a value and the one seen before (-1 if none): the
 * length, or -2 if invalid or different. A list of equal values (`3, 3`,
 * what joining duplicate fields gives) is accepted, as RFC 9110 §8.6 allows.
 */
function contentLength(value: string, before: number): number {
  let result = before;
  const el = elements.start(value);
  while (el.next()) {
    const a = el.from;
    const b = el.to;
    if (a === b || b - a > 16) return -2;
    let n = 0;
    for (let k = a; k < b; k++) {
      const c = value.charCodeAt(k);
      if (c < 48 || c > 57) return -2;
      n = n * 10 + (c - 48);
    }
    if (n > Number.MAX_SAFE_INTEGER || (result !== -1 && n !== result)) return -2;
    result = n;
  }
  return result;
}

// What a Transfer-Encoding list says (RFC 9112 §6.1).
const TE_INVALID = 0;
const TE_CHUNKED = 1;
const TE_CHUNKED_AFTER_OTHERS = 2;
const TE_NOT_CHUNKED = 3;

/** Classify a Transfer-Encoding list (all its field lines joined) as one of the TE_* answers. */
function transferEncoding(value: string): number {
  let codings = 0;
  let chunked = 0;
  let lastChunked = false;
  const el = elements.start(value);
  while (el.next()) {
    const a = el.from;
    const b = el.to;
    // An empty element is allowed by the list rule (RFC 9110 §5.6.1).
    if (a === b) continue;
    let k = a;
    while (k < b && value.charCodeAt(k) < 128 && TOKEN[value.charCodeAt(k)] === 1) k++;
    if (k === a) return TE_INVALID;
    const name = k;
    while (k < b && isOws(value.charCodeAt(k))) k++;
    // Parameters follow a `;`; chunked has none, so chunked with any is refused.
    const hasParams = k < b;
    if (hasParams && value.charCodeAt(k) !== SEMI) return TE_INVALID;
    codings++;
    lastChunked = equalsLower(value, a, name, "chunked");
    if (lastChunked) {
      if (hasParams) return TE_INVALID;
      chunked++;
    }
  }
  if (codings === 0 || chunked > 1) return TE_INVALID;
  // chunked anywhere but last leaves the final coding something else.
  if (!lastChunked) return TE_NOT_CHUNKED;
  return codings === 1 ? TE_CHUNKED : TE_CHUNKED_AFTER_OTHERS;
}

// Connection options the parser acts on.
const CONN_CLOSE = 1;
const CONN_KEEP_ALIVE = 2;
const CONN_UPGRADE = 4;

/** The CONN_* options a Connection value lists. */
function connectionOptions(value: string): number {
  let flags = 0;
  const el = elements.start(value);
  while (el.next()) {
    if (equalsLower(value, el.from, el.to, "close")) flags |= CONN_CLOSE;
    else if (equalsLower(value, el.from, el.to, "keep-alive")) flags |= CONN_KEEP_ALIVE;
    else if (equalsLower(value, el.from, el.to, "upgrade")) flags |= CONN_UPGRADE;
  }
  return flags;
}

/**
 * Whether a Host value is `uri-host [ ":" port ]` (RFC 9110 §7.2; RFC 9112
 * §3.2 asks for 400 otherwise): an IP literal in brackets, or a reg-name
 * (IPv4 addresses are reg-names too), then an optional port of digits. An
 * empty value is allowed: RFC 9110 §7.2 sends one when the target has no
 * authority.
 */
function validHost(value: string): boolean {
  const n = value.length;
  let k = 0;
  if (n > 0 && value.charCodeAt(0) === LBRACKET) {
    const close = value.indexOf("]");
    if (close < 0 || !ipLiteral(value, 1, close)) return false;
    k = close + 1;
  } else {
    k = regName(value, 0, n);
    if (k < 0) return false;
  }
  if (k === n) return true;
  if (value.charCodeAt(k) !== COLON) return false;
  for (k++; k < n; k++) if (!isDigit(value.charCodeAt(k))) return false;
  return true;
}

/** Where the reg-name (RFC 3986 §3.2.2) starting at `text[k]` ends, before `to`; -1 for a `%` without two hex digits. */
function regName(text: string, k: number, to: number): number {
  for (; k < to; k++) {
    const c = text.charCodeAt(k) & 255;
    if (c === PERCENT) {
      if (k + 2 >= to || HEX[text.charCodeAt(k + 1) & 255] < 0 || HEX[text.charCodeAt(k + 2) & 255] < 0) return -1;
      k += 2;
    } else if (REG_NAME[c] === 0) {
      break;
    }
  }
  return k;
}

/**
 * Whether `text[from, to)`, the inside of an IP-literal's brackets, is an
 * IPv6address or an IPvFuture (RFC 3986 §3.2.2): `v` 1*HEXDIG "." then
 * 1*( unreserved / sub-delims / ":" ).
 */
function ipLiteral(text: string, from: number, to: number): boolean {
  if (from < to && (text.charCodeAt(from) | 0x20) === 118) {
    let k = from + 1;
    while (k < to && HEX[text.charCodeAt(k) & 255] >= 0) k++;
    if (k === from + 1 || k >= to - 1 || text.charCodeAt(k) !== 46) return false;
    for (k++; k < to; k++) if (IP_LITERAL[text.charCodeAt(k) & 255] === 0) return false;
    return true;
  }
  return ipv6(text, from, to);
}

/**
 * RFC 3986's IPv6address: up to eight groups of one to four hex digits
 * split by ":", at most one "::" standing for one or more zero groups, the
 * last two groups possibly written as an IPv4 address.
 */
function ipv6(text: string, from: number, to: number): boolean {
  let groups = 0;
  let gap = false;
  let k = from;
  if (k < to && text.charCodeAt(k) === COLON) {
    if (k + 1 >= to || text.charCodeAt(k + 1) !== COLON) return false;
    gap = true;
    k += 2;
  }
  while (k < to) {
    let d = k;
    while (d < to && d - k < 5 && HEX[text.charCodeAt(d) & 255] >= 0) d++;
    if (d < to && text.charCodeAt(d) === 46) {
      // ls32 as an IPv4address: it ends the address and counts as two groups.
      if (!ipv4(text, k, to)) return false;
      groups += 2;
      break;
    }
    if (d === k || d - k > 4) return false;
    groups++;
    k = d;
    if (k === to) break;
    if (text.charCodeAt(k) !== COLON || ++k === to) return false;
    if (text.charCodeAt(k) === COLON) {
      if (gap) return false;
      gap = true;
      k++;
    }
  }
  return gap ? groups <= 7 : groups === 8;
}

/** RFC 3986's IPv4address: four dec-octets (0 to 255, no leading zero) split by ".". */
function ipv4(text: string, from: number, to: number): boolean {
  let k = from;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (k >= to || text.charCodeAt(k) !== 46) return false;
      k++;
    }
    const d = k;
    let n = 0;
    while (k < to && k - d < 3 && isDigit(text.charCodeAt(k))) n = n * 10 + text.charCodeAt(k++) - 48;
    if (k === d || n > 255 || (k - d > 1 && text.charCodeAt(d) === 48)) return false;
  }
  return k === to;
}

/**
 * An incremental HTTP/1.x parser for requests or responses: libevent's
 * `evhttp_parse_firstline_` + `evhttp_parse_headers_` + `evhttp_read_body`
 * (http.c). Call {@linkcode HttpParser.parse} whenever bytes arrive in the
 * input buffer; it consumes what it understands and returns one event at a
 * time, `need_more` when it needs more bytes. Between calls, only append to
 * the input: the parser drains what it consumed and remembers how far it
 * looked into an unfinished line.
 *
 * It never throws on any input bytes: malformed input becomes an error
 * event carrying the status to answer, and the parser stays in `"error"`.
 * Pipelined messages come one after the other: after `end`, parse again.
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { HttpParser } from "@levent/levent/http";
 * const input = new EvBuffer();
 * input.addString("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
 * const parser = new HttpParser("request");
 * for (let ev = parser.parse(input); ev.type !== "need_more"; ev = parser.parse(input)) {
 *   if (ev.type === "head") console.log(ev.head.method, ev.head.target); // POST /echo
 *   else if (ev.type === "body") console.log(new TextDecoder().decode(ev.data)); // hello
 *   else if (ev.type === "error") console.log(ev.error.status);
 *   else if (ev.type === "end") console.log("complete");
 * }
 * ```
 */
export class HttpParser<K extends HttpParserKind = HttpParserKind> {
  readonly #kind: K;
  readonly #limits: Readonly<HttpParserLimits>;
  readonly #requireHost: boolean;
  #state: HttpParserState = "start_line";
  #error: ParseErrorEvent | null = null;
  /** The event a finished section produced, handed from a line parser to #readLines. */
  #event: ParseEvent<HeadOf<K>> | null = null;

  // Where an unfinished line stands: its first #waitScan bytes (at the front
  // of the input) hold no LF, so the next call searches only what came after.
  #waitScan = 0;
  readonly #scanPtr = new EvBufferPtr();

  // The message being parsed.
  #method = "";
  #target = "";
  #versionMinor = 1;
  #status = 0;
  #reason = "";
  /** The current section's fields (alternating names and values, #count pairs): FIELDS, or the parser's own once detached. */
  #fields: string[] = FIELDS;
  /** Bytes of the current header (or trailer) section so far. */
  #headBytes = 0;
  /** Field lines in the current section. */
  #count = 0;
  /** Bit i set: a field named NAMES[i] (one the parser reads) was seen. */
  #special = 0;
  /** Set by #fieldLine when it reaches the empty line ending the section. */
  #sectionDone = false;
  /** Body bytes left in the Content-Length body or the current chunk. */
  #remaining = 0;
  /** Body bytes of this message so far (declared chunk sizes count). */
  #bodyBytes = 0;
  /** Chunk-extension bytes of this message so far. */
  #extBytes = 0;
  /** Switch to "upgraded" when this message ends. */
  #upgradeAfter = false;
  /** The method of the request the next response answers (responses only). */
  #requestMethod = "";

  // The value #value found last: bytes [#vs, #ve) and the OR of its bytes.
  #vs = 0;
  #ve = 0;
  #vhigh = 0;

  // The start-line scanner: its state (an LS_* constant) and what it noted
  // on the way. The positions are indexes into the array the line was
  // scanned in: they are read only for a complete line, scanned in one piece.
  #ls = LS_START;
  /** Bytes read of the version (request) or of "HTTP/d.d ddd" (status). */
  #lsCount = 0;
  /** The state a CR interrupted. */
  #lsCrFrom = LS_START;
  /** The state a pct-encoded triplet returns to. */
  #lsPctReturn = LS_PATH;
  /** Bytes of the method that match "CONNECT" so far; -1 once one differs. */
  #lsConnectMatch = 0;
  /** The method is CONNECT: a target not starting with "/" or "*" is authority-form. */
  #lsConnect = false;
  /** The absolute-form target has an authority ("//"). */
  #lsAuthority = false;
  #lsMethodEnd = 0;
  #lsTargetEnd = 0;
  #lsSchemeEnd = 0;
  /** Where an IP literal's "[" and "]" are; -1 if the target has none. */
  #lsIpStart = -1;
  #lsIpEnd = -1;

  /**
   * A parser for requests (a server's) or responses (a client's).
   *
   * @throws {TypeError} if kind is neither "request" nor "response", a limit is not a number, or an option has the wrong type
   * @throws {RangeError} if a limit is not an integer >= 0 (maxBodySize may be Infinity)
   */
  constructor(kind: K, limits?: Partial<HttpParserLimits>, options?: HttpParserOptions) {
    checkOneOf(kind, "kind", PARSER_KINDS);
    this.#kind = kind;
    const merged: HttpParserLimits = { ...DEFAULT_HTTP_PARSER_LIMITS };
    if (limits !== undefined) {
      for (const key of Object.keys(DEFAULT_HTTP_PARSER_LIMITS) as (keyof HttpParserLimits)[]) {
        if (limits[key] !== undefined) merged[key] = limits[key];
      }
    }
    for (const key of Object.keys(merged) as (keyof HttpParserLimits)[]) {
      merged[key] = key === "maxBodySize"
        ? checkLimit(merged[key], "limits.maxBodySize")
        : checkCount(merged[key], `limits.${key}`);
    }
    this.#limits = Object.freeze(merged);
    const requireHost = options === undefined ? undefined : checkObject(options, "options").requireHost;
    this.#requireHost = requireHost === undefined || checkBoolean(requireHost, "options.requireHost");
  }

  /** Whether this parser reads requests or responses. */
  get kind(): K {
    return this.#kind;
  }

  /** The limits in force, defaults filled in. */
  get limits(): Readonly<HttpParserLimits> {
    return this.#limits;
  }

  /** Where the parser stands; see {@linkcode HttpParserState}. */
  get state(): HttpParserState {
    return this.#state;
  }

  /**
   * Parse what the input holds, consuming it, and return the next event:
   * a head, a piece of body, the trailers, the end of a message, `need_more`
   * or an error (libevent's `evhttp_parse_firstline_`,
   * `evhttp_parse_headers_`, `evhttp_read_body` and
   * `evhttp_handle_chunked_read`). Body pieces are views of the input's
   * bytes, one segment at a time, never copies. In the `"upgraded"` state
   * it leaves the input alone and returns `need_more`.
   *
   * @throws {BufferError} only if the input is frozen at its start or holds unloaded file segments (never for any bytes)
   */
  parse(input: EvBuffer): ParseEvent<HeadOf<K>> {
    const ev = this.#run(input, null);
    if (this.#count !== 0 && this.#fields === FIELDS && this.#inSection()) this.#detach();
    return ev;
  }

  /**
   * Like {@linkcode HttpParser.parse}, but body bytes are moved to the end
   * of `dst` (libevent's `evbuffer_remove_buffer` into the request's input
   * buffer, as `evhttp_read_body` does) instead of returned: no copy, and
   * several segments per call. Returns the next event that is not body:
   * `end`, `trailers`, `need_more`, an error, or a head if called between
   * messages.
   *
   * @throws {TypeError} if dst is the input
   * @throws {BufferError} as parse, or if dst is frozen at its end
   */
  parseBodyInto(input: EvBuffer, dst: EvBuffer): ParseEvent<HeadOf<K>> {
    if (dst === input) throw typeError("dst", "another buffer than input", dst);
    const ev = this.#run(input, dst);
    if (this.#count !== 0 && this.#fields === FIELDS && this.#inSection()) this.#detach();
    return ev;
  }

  /**
   * A section's fields are still being read when a parse call returns: take
   * them out of FIELDS, which the next parser to run writes over, into this
   * parser's own array.
   */
  #detach(): void {
    this.#fields = FIELDS.slice(0, this.#count << 1);
  }

  /** Whether a header or trailer section is being read. */
  #inSection(): boolean {
    return this.#state === "headers" || this.#state === "trailers";
  }

  /** The complete section's fields as a list of their own, of exact size. */
  #sectionFields(): string[] {
    const fields = this.#fields;
    const n = this.#count << 1;
    if (fields !== FIELDS) return fields.length === n ? fields : fields.slice(0, n);
    return n === 0 ? [] : FIELDS.slice(0, n);
  }

  /**
   * Say which request method the next response answers (libevent's
   * `evhttp_response_needs_body` reads the request's type): a response to
   * HEAD has no body, and a 2xx response to CONNECT opens a tunnel. It
   * holds through 1xx responses until the final response ends.
   *
   * @throws {TypeError} if method is not a string
   */
  expectResponseTo(method: string): void {
    this.#requestMethod = checkString(method, "method");
  }

  /**
   * Tell the parser the connection has ended (libevent's EOF handling in
   * `evhttp_read_cb`). Call it after parse has returned `need_more`. It
   * returns `end` when the EOF completes a message (a response body read
   * until close), an error (`ERR_INCOMPLETE`, or the error the unfinished
   * line already shows) when it cuts a message short, and null when no
   * message was under way: a clean close between messages.
   *
   * @throws {BufferError} as parse
   */
  eof(input: EvBuffer): ParseEndEvent | ParseErrorEvent | null {
    switch (this.#state) {
      case "error":
        return this.#error as ParseErrorEvent;
      case "upgraded":
        return null;
      case "body_close":
      case "message_done":
        this.#finishMessage();
        return END;
      case "start_line":
        if (input.length === 0) return null;
        break;
    }
    if (this.#isLineState() && input.length > 0) {
      // The unfinished line may already show an error: report the same one a
      // parser given all the bytes at once would have.
      const n = Math.min(input.length, this.#lineBound());
      const buf = input.pullup(n);
      const r = this.#line(buf, 0, n);
      if (r === FAILED) return this.#error as ParseErrorEvent;
    }
    this.#fail("ERR_INCOMPLETE", `the connection closed in the middle of a message (state ${this.#state})`);
    return this.#error as ParseErrorEvent;
  }

  /**
   * Start over, ready for a new message, forgetting any error, the upgraded
   * state and the expected request method. The input is not touched: after
   * declining an upgrade, a server resets the parser and parses on.
   */
  reset(): void {
    this.#state = "start_line";
    this.#error = null;
    this.#event = null;
    this.#waitScan = 0;
    this.#requestMethod = "";
    this.#newMessage();
  }

  // ------------------------------------------------------------ driving

  #run(input: EvBuffer, sink: EvBuffer | null): ParseEvent<HeadOf<K>> {
    // Each turn either returns or makes progress (consumes bytes or moves
    // the state forward), so the loop is bounded by the input.
    for (;;) {
      let ev: ParseEvent<HeadOf<K>> | null;
      switch (this.#state) {
        case "start_line":
        case "headers":
        case "chunk_size":
        case "chunk_data_end":
        case "trailers":
          ev = this.#readLines(input);
          break;
        case "body_length":
        case "chunk_data":
          ev = this.#readCounted(input, sink);
          break;
        case "body_close":
          ev = this.#readUntilClose(input, sink);
          break;
        case "message_done":
          ev = this.#finishMessage();
          break;
        case "upgraded":
          return NEED_MORE;
        case "error":
          return this.#error as ParseErrorEvent;
      }
      if (ev !== null) return ev;
    }
  }

  #isLineState(): boolean {
    const s = this.#state;
    return s === "start_line" || s === "headers" || s === "chunk_size" || s === "chunk_data_end" || s === "trailers";
  }

  /**
   * Run the current state's line parser over the complete lines at the
   * front of the input. Lines are parsed in place in the first segment; a
   * line that runs into the next segment is made contiguous (the one copy),
   * once its LF has arrived.
   */
  #readLines(input: EvBuffer): ParseEvent<HeadOf<K>> | null {
    let forced = false;
    for (;;) {
      if (this.#waitScan !== 0) {
        const r = this.#waitForLine(input);
        if (r === FAILED) return this.#error as ParseErrorEvent;
        if (r < 0) return NEED_MORE;
        forced = r === 1;
      }
      const n = input.contiguousSpace();
      if (n === 0) return NEED_MORE;
      // The first segment's array itself, read from `start`: no view per call.
      const seg = firstSegment(input);
      let buf: Uint8Array;
      let start: number;
      if (seg !== null) {
        buf = seg.buf;
        start = seg.start;
      } else {
        buf = input.pullup(n);
        start = 0;
      }
      const end = start + n;
      let pos = start;
      let r: number;
      for (;;) {
        r = this.#line(buf, pos, end);
        if (r < 0) break;
        pos = r;
        if (this.#event !== null || !this.#isLineState()) break;
      }
      if (r === FAILED) return this.#error as ParseErrorEvent;
      if (pos > start) input.drain(pos - start);
      if (r >= 0) {
        const ev = this.#event;
        this.#event = null;
        return ev;
      }
      const partial = end - pos;
      if (forced) {
        // Every line parser decides once it has its bound's worth of bytes;
        // this only guards the loop against a parser that would not.
        this.#fail(
          this.#state === "chunk_size" ? "ERR_CHUNK_EXTENSION_TOO_LARGE" : "ERR_HEADER_TOO_LARGE",
          "line too long",
        );
        return this.#error as ParseErrorEvent;
      }
      this.#waitScan = partial;
      if (input.length === partial) return NEED_MORE;
    }
  }

  /**
   * An unfinished line is at the front: look for its LF in the bytes that
   * came since, up to the line's bound. A start line's new bytes go through
   * the start-line scanner on the way, from where it stopped, so a bad
   * byte is refused as it arrives. Returns -1 to wait, 0 when the line is
   * complete and contiguous, 1 when the bound is reached without a LF (the
   * line parser must then find the error), FAILED when a byte is bad.
   */
  #waitForLine(input: EvBuffer): number {
    const scan = this.#waitScan;
    const avail = input.length;
    if (avail === scan) return -1;
    this.#waitScan = 0;
    // The caller took bytes out after all: start the line over.
    if (avail < scan) return 0;
    const bound = this.#lineBound();
    const lim = avail < bound ? avail : bound;
    let lf = -1;
    if (scan < lim) {
      input.ptrSet(this.#scanPtr, scan, "set");
      if (this.#state === "start_line") {
        lf = this.#scanMore(input, scan, lim);
        if (lf === FAILED) return FAILED;
      } else {
        lf = input.searchRange(LF_NEEDLE, this.#scanPtr, new EvBufferPtr(lim)).pos;
      }
    }
    if (lf < 0) {
      if (avail < bound) {
        this.#waitScan = avail;
        // A pointer at the last byte, not past it: its segment memory stays
        // right however the buffer grows, so the next look starts there.
        input.ptrSet(this.#scanPtr, avail - 1, "set");
        return -1;
      }
      if (input.contiguousSpace() < bound) input.pullup(bound);
      return 1;
    }
    if (input.contiguousSpace() <= lf) input.pullup(lf + 1);
    return 0;
  }

  /**
   * Scan the input's bytes [from, to) (at #scanPtr) as the continuation of
   * a start line, segment by segment without copying: the position of the
   * line's LF, -1 if it has none yet, or FAILED.
   */
  #scanMore(input: EvBuffer, from: number, to: number): number {
    let at = from;
    for (const piece of input.peek(to - from, this.#scanPtr)) {
      const r = this.#scanStart(piece, 0, piece.length);
      if (r !== INCOMPLETE) return r === FAILED ? FAILED : at + r;
      at += piece.length;
    }
    return -1;
  }

  /** The most bytes the current line can take before its parser must decide. */
  #lineBound(): number {
    switch (this.#state) {
      case "start_line":
        return this.#limits.maxRequestLineSize + 2;
      case "headers":
      case "trailers":
        return this.#limits.maxHeaderSize - this.#headBytes + 1;
      case "chunk_size":
        return MAX_HEX_DIGITS + this.#limits.maxChunkExtensionSize - this.#extBytes + 2;
      default:
        return 2;
    }
  }

  /** Parse one line at `buf[s..]` by state: the position after it, INCOMPLETE or FAILED. */
  #line(buf: Uint8Array, s: number, end: number): number {
    switch (this.#state) {
      case "start_line":
        return this.#startLine(buf, s, end);
      case "headers": {
        const r = this.#fieldLine(buf, s, end);
        return r >= 0 && this.#sectionDone ? this.#endHead(r) : r;
      }
      case "trailers": {
        const r = this.#fieldLine(buf, s, end);
        return r >= 0 && this.#sectionDone ? this.#endTrailers(r) : r;
      }
      case "chunk_size":
        return this.#chunkSizeLine(buf, s, end);
      default:
        return this.#chunkDataEnd(buf, s, end);
    }
  }

  // ------------------------------------------------------- start line

  /**
   * The request or status line (libevent's `evhttp_parse_firstline_`).
   * Empty lines before it are skipped (RFC 9112 §2.2). The scanner reads
   * at most the line's size limit plus its line end, so a line that is too
   * long is refused once that many bytes came without a LF; a bad byte
   * before that point is refused first.
   */
  #startLine(buf: Uint8Array, s: number, end: number): number {
    let i = s;
    while (i < end) {
      const b = buf[i];
      if (b === LF) i++;
      else if (b !== CR) break;
      else if (i + 1 === end) break;
      else if (buf[i + 1] === LF) i += 2;
      else return this.#fail("ERR_BARE_CR", "a CR not followed by LF before the start line");
    }
    if (i > s) return i;
    const max = this.#limits.maxRequestLineSize;
    const limit = s + max + 2;
    const stop = end < limit ? end : limit;
    this.#scanReset();
    const lf = this.#scanStart(buf, s, stop);
    if (lf === FAILED) return FAILED;
    if (lf === INCOMPLETE) return stop === limit ? this.#startLineTooLong(max) : INCOMPLETE;
    // The scanner let a CR through only right before the LF.
    const e = buf[lf - 1] === CR ? lf - 1 : lf;
    if (e - s > max) return this.#startLineTooLong(max);
    if (lf + 1 - s > this.#limits.maxHeaderSize) {
      return this.#fail("ERR_HEADER_TOO_LARGE", `the header section is over ${this.#limits.maxHeaderSize} bytes`);
    }
    this.#newMessage();
    this.#headBytes = lf + 1 - s;
    const ok = this.#kind === "request" ? this.#requestLine(buf, s, e) : this.#statusLine(buf, s, e);
    if (!ok) return FAILED;
    this.#state = "headers";
    return lf + 1;
  }

  #startLineTooLong(max: number): number {
    return this.#kind === "request"
      ? this.#fail("ERR_URI_TOO_LONG", `the request line is over ${max} bytes`)
      : this.#fail("ERR_HEADER_TOO_LARGE", `the status line is over ${max} bytes`);
  }

  /** Forget the last message's fields. */
  #newMessage(): void {
    this.#fields = FIELDS;
    this.#headBytes = 0;
    this.#count = 0;
    this.#special = 0;
    this.#sectionDone = false;
    this.#remaining = 0;
    this.#bodyBytes = 0;
    this.#extBytes = 0;
    this.#upgradeAfter = false;
  }

  /** Set the start-line scanner at the start of a line. */
  #scanReset(): void {
    this.#ls = LS_START;
    this.#lsCount = 0;
    this.#lsConnect = false;
    this.#lsAuthority = false;
    this.#lsIpStart = -1;
  }

  /**
   * Scan start-line bytes `buf[i, end)` on from where the scanner stands:
   * the index of the line's LF, INCOMPLETE when every byte fits and the
   * line goes on, or FAILED at the first byte that does not fit.
   */
  #scanStart(buf: Uint8Array, i: number, end: number): number {
    return this.#kind === "request" ? this.#scanRequestLine(buf, i, end) : this.#scanStatusLine(buf, i, end);
  }

  /**
   * The request-line grammar (RFC 9112 §3, the target forms of §3.2 with
   * RFC 3986's rules), one state per part. Each state reads the bytes of
   * its part in a tight loop over a lookup table; the byte that ends the
   * loop moves to the next part, or, when it cannot, ends the line or is
   * the error.
   */
  #scanRequestLine(buf: Uint8Array, i: number, end: number): number {
    let st = this.#ls;
    while (i < end) {
      let c = buf[i];
      switch (st) {
        case LS_START:
          if (TOKEN[c] === 0) break;
          this.#lsConnectMatch = c === 67 ? 1 : -1;
          st = LS_METHOD;
          i++;
          continue;
        case LS_METHOD: {
          const from = i;
          while (i < end && TOKEN[buf[i]] === 1) i++;
          let m = this.#lsConnectMatch;
          for (let k = from; m >= 0 && k < i; k++) m = m < 7 && buf[k] === CONNECT[m] ? m + 1 : -1;
          this.#lsConnectMatch = m;
          if (i === end) continue;
          c = buf[i];
          if (c !== SP) break;
          this.#lsConnect = m === 7;
          this.#lsMethodEnd = i++;
          st = LS_TARGET;
          continue;
        }
        case LS_TARGET:
          if (c === SLASH) st = LS_PATH;
          else if (c === STAR) st = LS_ASTERISK;
          else if (c === SP) break;
          else if (this.#lsConnect) {
            st = LS_HOST_START;
            continue;
          } else if (isAlpha(c)) st = LS_SCHEME;
          else break;
          i++;
          continue;
        case LS_PATH:
          while (i < end && PATH[buf[i]] === 1) i++;
          if (i === end) continue;
          c = buf[i];
          if (c === SP) {
            this.#lsTargetEnd = i++;
            st = LS_VERSION;
            continue;
          }
          if (c === QUESTION) st = LS_QUERY;
          else if (c === PERCENT) {
            this.#lsPctReturn = LS_PATH;
            st = LS_PCT1;
          } else break;
          i++;
          continue;
        case LS_QUERY:
          while (i < end && QUERY[buf[i]] === 1) i++;
          if (i === end) continue;
          c = buf[i];
          if (c === SP) {
            this.#lsTargetEnd = i++;
            st = LS_VERSION;
            continue;
          }
          if (c !== PERCENT) break;
          this.#lsPctReturn = LS_QUERY;
          st = LS_PCT1;
          i++;
          continue;
        case LS_PCT1:
          if (HEX[c] < 0) break;
          st = LS_PCT2;
          i++;
          continue;
        case LS_PCT2:
          if (HEX[c] < 0) break;
          st = this.#lsPctReturn;
          i++;
          continue;
        case LS_ASTERISK:
          if (c !== SP) break;
          this.#lsTargetEnd = i++;
          st = LS_VERSION;
          continue;
        case LS_SCHEME:
          while (i < end && SCHEME[buf[i]] === 1) i++;
          if (i === end) continue;
          c = buf[i];
          if (c !== COLON) break;
          this.#lsSchemeEnd = i++;
          st = LS_HIER;
          continue;
        case LS_HIER:
          // "/" may start "//" authority; anything else is path-rootless or path-empty, read as a path.
          if (c === SLASH) {
            st = LS_HIER_SLASH;
            i++;
          } else {
            st = LS_PATH;
          }
          continue;
        case LS_HIER_SLASH:
          if (c === SLASH) {
            this.#lsAuthority = true;
            st = LS_HOST_START;
            i++;
          } else {
            st = LS_PATH;
          }
          continue;
        case LS_HOST_START:
          // An empty host is refused: RFC 9110 §4.2.1 for http(s), and a CONNECT needs a host to reach.
          if (c === LBRACKET) {
            this.#lsIpStart = i++;
            st = LS_IP;
            continue;
          }
          if (REG_NAME[c] === 0 && c !== PERCENT) break;
          st = LS_HOST;
          continue;
        case LS_HOST:
          while (i < end && REG_NAME[buf[i]] === 1) i++;
          if (i === end) continue;
          c = buf[i];
          if (c === PERCENT) {
            this.#lsPctReturn = LS_HOST;
            st = LS_PCT1;
            i++;
            continue;
          }
          if (c === COLON) {
            st = this.#lsConnect ? LS_PORT_FIRST : LS_PORT;
            i++;
            continue;
          }
          if (this.#lsConnect) break;
          st = LS_AUTH_END;
          continue;
        case LS_IP:
          while (i < end && IP_LITERAL[buf[i]] === 1) i++;
          if (i === end) continue;
          c = buf[i];
          if (c !== RBRACKET) break;
          this.#lsIpEnd = i++;
          st = LS_IP_END;
          continue;
        case LS_IP_END:
          if (c === COLON) {
            st = this.#lsConnect ? LS_PORT_FIRST : LS_PORT;
            i++;
            continue;
          }
          if (this.#lsConnect) break;
          st = LS_AUTH_END;
          continue;
        case LS_PORT_FIRST:
          if (!isDigit(c)) break;
          st = LS_PORT;
          i++;
          continue;
        case LS_PORT:
          while (i < end && isDigit(buf[i])) i++;
          if (i === end) continue;
          c = buf[i];
          if (!this.#lsConnect) {
            st = LS_AUTH_END;
            continue;
          }
          if (c !== SP) break;
          this.#lsTargetEnd = i++;
          st = LS_VERSION;
          continue;
        case LS_AUTH_END:
          if (c === SLASH) st = LS_PATH;
          else if (c === QUESTION) st = LS_QUERY;
          else if (c === SP) {
            this.#lsTargetEnd = i;
            st = LS_VERSION;
          } else break;
          i++;
          continue;
        case LS_VERSION: {
          let v = this.#lsCount;
          if (
            v === 0 && i + 8 <= end && buf[i] === 72 && buf[i + 1] === 84 && buf[i + 2] === 84 && buf[i + 3] === 80 &&
            buf[i + 4] === SLASH && isDigit(buf[i + 5]) && buf[i + 6] === 46 && isDigit(buf[i + 7])
          ) {
            // The whole version at once: the common case.
            i += 8;
            st = LS_END;
            continue;
          }
          while (i < end && v < 8 && fits(buf[i], VERSION_PATTERN[v])) {
            i++;
            v++;
          }
          this.#lsCount = v;
          if (v === 8) st = LS_END;
          if (i === end || v === 8) continue;
          c = buf[i];
          break;
        }
        case LS_END:
          break;
        case LS_CR:
          if (c !== LF) return this.#fail("ERR_BARE_CR", "a CR not followed by LF in the request line");
          return this.#startLineEnd(this.#lsCrFrom, i);
      }
      // `c` at `i` does not go on from state `st`: the line ends here, or `c` is the error.
      if (c === LF) return this.#startLineEnd(st, i);
      if (c === CR) {
        if (i + 1 === end) {
          this.#lsCrFrom = st;
          st = LS_CR;
          i++;
          continue;
        }
        if (buf[i + 1] === LF) return this.#startLineEnd(st, i + 1);
        return this.#fail("ERR_BARE_CR", "a CR not followed by LF in the request line");
      }
      return this.#badRequestByte(st, c);
    }
    this.#ls = st;
    return INCOMPLETE;
  }

  /** Fail on byte `c`, which state `st` of the request-line scanner cannot take. */
  #badRequestByte(st: number, c: number): number {
    switch (st) {
      case LS_START:
      case LS_METHOD:
        return this.#fail("ERR_BAD_REQUEST_LINE", `byte ${showByte(c)} where the method (a token) or its SP goes`);
      case LS_TARGET:
        if (c === SP) return this.#fail("ERR_BAD_REQUEST_LINE", "no request target between single spaces");
        break;
      case LS_VERSION:
      case LS_END:
        return this.#fail(
          "ERR_BAD_REQUEST_LINE",
          `byte ${showByte(c)} where the version HTTP/<digit>.<digit> and the line end go`,
        );
    }
    if (c === HASH) return this.#fail("ERR_BAD_TARGET", "a fragment (#) in the request target");
    if (c === AT && (st === LS_HOST || st === LS_PORT || st === LS_AUTH_END)) {
      return this.#fail("ERR_BAD_TARGET", "userinfo (@) in the request target's authority");
    }
    if (st === LS_PCT1 || st === LS_PCT2) {
      return this.#fail("ERR_BAD_TARGET", "a % not followed by two hex digits in the request target");
    }
    if (st === LS_HOST_START) return this.#fail("ERR_BAD_TARGET", "an empty host in the request target");
    return this.#fail("ERR_BAD_TARGET", `byte ${showByte(c)} in the ${targetPart(st)} of the request target`);
  }

  /**
   * The status-line grammar (RFC 9112 §4): `HTTP/d.d SP ddd`, then SP and
   * a reason of field-vchar, SP and HTAB. The SP before an empty reason is
   * often left out; RFC 9112 §4 lets a client ignore the reason anyway.
   */
  #scanStatusLine(buf: Uint8Array, i: number, end: number): number {
    let st = this.#ls;
    while (i < end) {
      let c = buf[i];
      switch (st) {
        case LS_START:
          if (c === CR || c === LF) break;
          st = LS_STATUS;
          continue;
        case LS_STATUS: {
          let p = this.#lsCount;
          while (i < end && p < 12 && fits(buf[i], STATUS_PATTERN[p])) {
            i++;
            p++;
          }
          this.#lsCount = p;
          if (p === 12) st = LS_CODE_END;
          if (i === end || p === 12) continue;
          c = buf[i];
          break;
        }
        case LS_CODE_END:
          if (c !== SP) break;
          st = LS_REASON;
          i++;
          continue;
        case LS_REASON:
          while (i < end && VALUE[buf[i]] === 1) i++;
          if (i === end) continue;
          c = buf[i];
          break;
        case LS_CR:
          if (c !== LF) return this.#fail("ERR_BARE_CR", "a CR not followed by LF in the status line");
          return this.#startLineEnd(this.#lsCrFrom, i);
      }
      if (c === LF) return this.#startLineEnd(st, i);
      if (c === CR) {
        if (i + 1 === end) {
          this.#lsCrFrom = st;
          st = LS_CR;
          i++;
          continue;
        }
        if (buf[i + 1] === LF) return this.#startLineEnd(st, i + 1);
        return this.#fail("ERR_BARE_CR", "a CR not followed by LF in the status line");
      }
      return this.#fail(
        "ERR_BAD_STATUS_LINE",
        st === LS_REASON
          ? `control byte ${showByte(c)} in the reason phrase`
          : `byte ${showByte(c)} where HTTP/<digit>.<digit> SP and a status code from 100 to 599 go`,
      );
    }
    this.#ls = st;
    return INCOMPLETE;
  }

  /** A LF at `lf` ends the start line in scanner state `st`: `lf`, or FAILED if the line is not complete there. */
  #startLineEnd(st: number, lf: number): number {
    // LS_START: an empty line, which only the scan of a partial line sees; #startLine skips it.
    if (st === LS_END || st === LS_START || st === LS_REASON || st === LS_CODE_END) return lf;
    if (this.#kind === "response") {
      return this.#fail("ERR_BAD_STATUS_LINE", "the status line ends before HTTP/<digit>.<digit> SP and its code");
    }
    return this.#fail(
      "ERR_BAD_REQUEST_LINE",
      st === LS_METHOD || st === LS_TARGET
        ? "the request line ends before its request target"
        : st === LS_VERSION
        ? "the version is not HTTP/<digit>.<digit>"
        : "no HTTP version after the request target",
    );
  }

  /**
   * `method SP request-target SP HTTP-version`, scanned whole (libevent's
   * `evhttp_parse_request_line`): what only the complete line can show.
   */
  #requestLine(buf: Uint8Array, s: number, e: number): boolean {
    const me = this.#lsMethodEnd;
    const t = me + 1;
    const te = this.#lsTargetEnd;
    // The version first: an HTTP/2 preface ("PRI * HTTP/2.0") deserves 505, not a complaint about its target.
    if (buf[te + 6] !== 49) {
      return this.#reject("ERR_VERSION", `HTTP/${String.fromCharCode(buf[te + 6])} is not supported`);
    }
    const method = knownMethod(buf, s, me) ?? valueText(buf, s, me, 0);
    const target = valueText(buf, t, te, 0);
    if (!this.#targetForm(buf, t, method, target)) return false;
    // HTTP/1.x above 1.1 is read as 1.1 (RFC 9110 §2.5).
    this.#versionMinor = buf[e - 1] === 48 ? 0 : 1;
    this.#method = method;
    this.#target = target;
    return true;
  }

  /**
   * The target's form must suit the method (RFC 9112 §3.2): origin-form
   * or absolute-form for most, authority-form for CONNECT only (and
   * CONNECT needs it), `*` for OPTIONS only; an http(s) absolute-form
   * needs an authority (RFC 9110 §4.2), and an IP literal must be one.
   */
  #targetForm(buf: Uint8Array, t: number, method: string, target: string): boolean {
    const first = buf[t];
    if (method === "CONNECT") {
      if (first === SLASH || first === STAR) {
        return this.#reject("ERR_BAD_TARGET", "CONNECT needs an authority-form target (host:port)");
      }
    } else if (first === STAR) {
      if (method !== "OPTIONS") return this.#reject("ERR_BAD_TARGET", "the asterisk-form target is for OPTIONS only");
    } else if (first !== SLASH && !this.#lsAuthority && httpScheme(buf, t, this.#lsSchemeEnd)) {
      return this.#reject("ERR_BAD_TARGET", "an http or https target without //host");
    }
    const ip = this.#lsIpStart;
    if (ip >= 0 && !ipLiteral(target, ip + 1 - t, this.#lsIpEnd - t)) {
      return this.#reject("ERR_BAD_TARGET", "a malformed IP literal in the request target");
    }
    return true;
  }

  /** `HTTP-version SP status-code SP [reason-phrase]`, scanned whole (libevent's `evhttp_parse_response_line`). */
  #statusLine(buf: Uint8Array, s: number, e: number): boolean {
    if (buf[s + 5] !== 49) {
      return this.#reject("ERR_VERSION", `HTTP/${String.fromCharCode(buf[s + 5])} is not supported`);
    }
    this.#versionMinor = buf[s + 7] === 48 ? 0 : 1;
    this.#status = (buf[s + 9] - 48) * 100 + (buf[s + 10] - 48) * 10 + buf[s + 11] - 48;
    let high = 0;
    for (let k = s + 13; k < e; k++) high |= buf[k];
    this.#reason = e > s + 13 ? valueText(buf, s + 13, e, high) : "";
    return true;
  }

  // ------------------------------------------------------------- fields

  /**
   * One field line, or the empty line that ends the section (libevent's
   * `evhttp_parse_headers_`). Errors are found in byte order, so the one
   * reported is the same however the bytes are split; a byte past the
   * section's size budget is an error at its own position.
   */
  #fieldLine(buf: Uint8Array, s: number, end: number): number {
    const budgetEnd = s + this.#limits.maxHeaderSize - this.#headBytes;
    const stop = end < budgetEnd ? end : budgetEnd;
    if (s >= stop) return this.#over(s, end);
    let b = buf[s];
    if (b === LF || b === CR) {
      let next = s + 1;
      if (b === CR) {
        if (next >= stop) return this.#over(next, end);
        if (buf[next] !== LF) return this.#fail("ERR_BARE_CR", "a CR not followed by LF in the header section");
        next++;
      } else if (this.#state === "trailers") {
        return this.#bareLfInTrailers();
      }
      this.#headBytes += next - s;
      this.#sectionDone = true;
      return next;
    }
    if (b === SP || b === HTAB) return this.#foldLine(buf, s, end, stop);
    if (this.#count >= this.#limits.maxHeaderCount) {
      return this.#fail("ERR_TOO_MANY_HEADERS", `more than ${this.#limits.maxHeaderCount} field lines`);
    }
    let i = s;
    while (i < stop && TOKEN[buf[i]] === 1) i++;
    if (i >= stop) return this.#over(i, end);
    b = buf[i];
    if (b !== COLON || i === s) return this.#badName(buf, i, stop, end);
    const known = knownName(buf, s, i);
    let name: string;
    if (known >= 0) {
      name = NAMES[known];
      if (known < SPECIAL_COUNT) this.#special |= 1 << known;
    } else {
      name = nameText(buf, s, i);
    }
    const next = this.#value(buf, i + 1, stop, end);
    if (next < 0) return next;
    const fields = this.#fields;
    const at = this.#count << 1;
    fields[at] = name;
    fields[at + 1] = valueText(buf, this.#vs, this.#ve, this.#vhigh);
    this.#count++;
    this.#headBytes += next - s;
    return next;
  }

  /** The trailer section is chunked framing (RFC 9112 §7.1): its lines end in CRLF, without §2.2's leniency. */
  #bareLfInTrailers(): number {
    return this.#fail("ERR_INVALID_CHUNK", "a bare LF, not CRLF, ending a line of the trailer section");
  }

  /** A byte at `pos` (>= the scan's stop) exists: the section is over its budget. Else the line is incomplete. */
  #over(pos: number, end: number): number {
    if (pos >= end) return INCOMPLETE;
    return this.#fail(
      "ERR_HEADER_TOO_LARGE",
      `the ${this.#state === "trailers" ? "trailer" : "header"} section is over ${this.#limits.maxHeaderSize} bytes`,
    );
  }

  /** Why a field line's name ended at `i` without a colon. */
  #badName(buf: Uint8Array, i: number, stop: number, end: number): number {
    const b = buf[i];
    if (b === COLON) return this.#fail("ERR_INVALID_HEADER", "a field line with an empty name");
    if (b === SP || b === HTAB) {
      return this.#fail("ERR_INVALID_HEADER", "whitespace between a field name and the colon");
    }
    if (b === CR) {
      if (i + 1 >= stop) return this.#over(i + 1, end);
      if (buf[i + 1] !== LF) return this.#fail("ERR_BARE_CR", "a CR not followed by LF in a field name");
    }
    if (b === CR || b === LF) return this.#fail("ERR_INVALID_HEADER", "a field line without a colon");
    return this.#fail("ERR_INVALID_HEADER", `byte 0x${b.toString(16).padStart(2, "0")} in a field name`);
  }

  /**
   * The value from `j` to the line end: leading and trailing whitespace
   * left out, every byte checked. Sets #vs / #ve / #vhigh; returns the
   * position after the line end.
   */
  #value(buf: Uint8Array, j: number, stop: number, end: number): number {
    while (j < stop && (buf[j] === SP || buf[j] === HTAB)) j++;
    const vs = j;
    let high = 0;
    for (; j < stop; j++) {
      // VCHAR and obs-text first: the common bytes take one test.
      const c = buf[j];
      if (c > SP && c !== 127) high |= c;
      else if (c !== SP && c !== HTAB) break;
    }
    if (j >= stop) return this.#over(j, end);
    let ve = j;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    let next: number;
    const c = buf[j];
    if (c === LF) {
      if (this.#state === "trailers") return this.#bareLfInTrailers();
      next = j + 1;
    } else if (c === CR) {
      if (j + 1 >= stop) return this.#over(j + 1, end);
      if (buf[j + 1] !== LF) return this.#fail("ERR_BARE_CR", "a CR not followed by LF in a field value");
      next = j + 2;
    } else {
      return this.#fail("ERR_INVALID_HEADER", `control byte 0x${c.toString(16).padStart(2, "0")} in a field value`);
    }
    this.#vs = vs;
    this.#ve = ve;
    this.#vhigh = high;
    return next;
  }

  /**
   * A line starting with whitespace: obs-fold. A request is rejected (RFC
   * 9112 §5.2); in a response the fold is replaced by a space, as a user
   * agent MUST do.
   */
  #foldLine(buf: Uint8Array, s: number, end: number, stop: number): number {
    if (this.#kind === "request") return this.#fail("ERR_OBS_FOLD", "a field line folded with leading whitespace");
    if (this.#count === 0) return this.#fail("ERR_INVALID_HEADER", "whitespace before the first field line");
    const next = this.#value(buf, s, stop, end);
    if (next < 0) return next;
    if (this.#ve > this.#vs) {
      const last = (this.#count << 1) - 1;
      this.#fields[last] += " " + valueText(buf, this.#vs, this.#ve, this.#vhigh);
    }
    this.#headBytes += next - s;
    return next;
  }

  // ------------------------------------------------------ end of head

  /**
   * The header section is complete: read the fields that frame the message
   * (libevent's `evhttp_get_body_length`, `evhttp_is_connection_keepalive`,
   * `evhttp_have_expect`), reject the ambiguous ones, and choose the body
   * state. Sets #event to the head.
   */
  #endHead(next: number): number {
    const headers = this.#sectionFields();
    const special = this.#special;
    let cl = -1;
    let te: string | null = null;
    let conn = 0;
    let hasUpgrade = false;
    let expect100 = false;
    let hosts = 0;
    let hostOk = true;
    if (special !== 0) {
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i];
        const value = headers[i + 1];
        if (name === H_CONTENT_LENGTH) {
          cl = contentLength(value, cl);
          if (cl === -2) {
            return this.#fail("ERR_INVALID_CONTENT_LENGTH", `invalid or conflicting Content-Length "${value}"`);
          }
        } else if (name === H_TRANSFER_ENCODING) te = te === null ? value : te + ", " + value;
        else if (name === H_CONNECTION) conn |= connectionOptions(value);
        else if (name === H_UPGRADE) hasUpgrade = value !== "";
        else if (name === H_EXPECT) expect100 = equalsLower(value, 0, value.length, "100-continue");
        else if (name === H_HOST) {
          hosts++;
          hostOk &&= validHost(value);
        }
      }
    }
    const minor = this.#versionMinor;
    const request = this.#kind === "request";
    if (request && ((minor === 1 && hosts === 0 && this.#requireHost) || hosts > 1 || !hostOk)) {
      return this.#fail(
        "ERR_INVALID_HOST",
        hosts === 0 ? "an HTTP/1.1 request without Host" : hosts > 1 ? "more than one Host" : "a malformed Host",
      );
    }
    let framing: HttpFraming = "none";
    if (te !== null) {
      if (cl !== -1) return this.#fail("ERR_SMUGGLING", "both Transfer-Encoding and Content-Length");
      if (minor === 0) return this.#fail("ERR_INVALID_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 message");
      const codings = transferEncoding(te);
      if (codings === TE_INVALID) {
        return this.#fail("ERR_INVALID_TRANSFER_ENCODING", `invalid Transfer-Encoding "${te}"`);
      }
      if (codings === TE_NOT_CHUNKED) {
        if (request) {
          return this.#fail("ERR_INVALID_TRANSFER_ENCODING", `the final transfer coding of "${te}" is not chunked`);
        }
        // RFC 9112 §6.3: a response's body then lasts until the connection closes.
        framing = "close";
      } else {
        if (request && codings === TE_CHUNKED_AFTER_OTHERS) {
          return this.#fail("ERR_UNSUPPORTED_TRANSFER_ENCODING", `transfer codings other than chunked in "${te}"`);
        }
        framing = "chunked";
      }
    } else if (cl !== -1) {
      framing = "length";
    } else if (!request) {
      framing = "close";
    }
    let upgrade: boolean;
    let keepAlive = minor === 1
      ? (conn & CONN_CLOSE) === 0
      : (conn & (CONN_CLOSE | CONN_KEEP_ALIVE)) === CONN_KEEP_ALIVE;
    let head: RequestHead | ResponseHead;
    if (request) {
      const connect = this.#method === "CONNECT";
      // RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request.
      upgrade = connect || (minor === 1 && hasUpgrade && (conn & CONN_UPGRADE) !== 0);
      // RFC 9110 §9.3.6: a CONNECT request has no content.
      if (connect) framing = "none";
      head = {
        kind: "request",
        method: this.#method,
        target: this.#target,
        versionMajor: 1,
        versionMinor: minor,
        headers,
        contentLength: cl,
        chunked: framing === "chunked",
        framing,
        keepAlive,
        upgrade,
        expectContinue: minor === 1 && expect100,
      };
    } else {
      const status = this.#status;
      const method = this.#requestMethod;
      const tunnel = method === "CONNECT" && status >= 200 && status < 300;
      upgrade = status === 101 || tunnel;
      if (method === "HEAD" || status < 200 || status === 204 || status === 304 || tunnel) framing = "none";
      if (framing === "close") keepAlive = false;
      head = {
        kind: "response",
        status,
        reason: this.#reason,
        versionMajor: 1,
        versionMinor: minor,
        headers,
        contentLength: cl,
        chunked: framing === "chunked",
        framing,
        keepAlive,
        upgrade,
      };
    }
    if (framing === "length" && cl > this.#limits.maxBodySize) {
      return this.#fail("ERR_BODY_TOO_LARGE", `Content-Length ${cl} is over the limit of ${this.#limits.maxBodySize}`);
    }
    this.#upgradeAfter = upgrade;
    this.#remaining = cl;
    this.#state = framing === "chunked"
      ? "chunk_size"
      : framing === "close"
      ? "body_close"
      : framing === "length" && cl > 0
      ? "body_length"
      : "message_done";
    this.#event = { type: "head", head: head as HeadOf<K> };
    return next;
  }

  // ------------------------------------------------------------- bodies

  /** Body bytes counted by Content-Length or a chunk size. */
  #readCounted(input: EvBuffer, sink: EvBuffer | null): ParseEvent<HeadOf<K>> | null {
    const avail = input.length;
    if (avail === 0) return NEED_MORE;
    const rem = this.#remaining;
    if (sink !== null) {
      this.#counted(input.removeBuffer(sink, rem < avail ? rem : avail));
      return null;
    }
    const c = input.contiguousSpace();
    const n = rem < c ? rem : c;
    const data = input.pullup(n);
    input.drain(n);
    this.#counted(n);
    return { type: "body", data };
  }

  #counted(n: number): void {
    this.#remaining -= n;
    if (this.#remaining === 0) this.#state = this.#state === "chunk_data" ? "chunk_data_end" : "message_done";
  }

  /** A response body that lasts until the connection closes; the caller ends it with eof. */
  #readUntilClose(input: EvBuffer, sink: EvBuffer | null): ParseEvent<HeadOf<K>> | null {
    const avail = input.length;
    if (avail === 0) return NEED_MORE;
    const room = this.#limits.maxBodySize - this.#bodyBytes;
    if (room === 0) {
      this.#fail("ERR_BODY_TOO_LARGE", `the body is over the limit of ${this.#limits.maxBodySize}`);
      return this.#error as ParseErrorEvent;
    }
    if (sink !== null) {
      this.#bodyBytes += input.removeBuffer(sink, room < avail ? room : avail);
      return null;
    }
    const c = input.contiguousSpace();
    const n = room < c ? room : c;
    const data = input.pullup(n);
    input.drain(n);
    this.#bodyBytes += n;
    return { type: "body", data };
  }

  /**
   * `chunk-size [chunk-ext] CRLF` (libevent's `evhttp_handle_chunked_read`).
   * The size is at most 16 hex digits and 2^53 - 1; the extensions are
   * checked against RFC 9112 §7.1.1 and counted against the message's
   * budget before their content is read, so the error is split-proof.
   */
  #chunkSizeLine(buf: Uint8Array, s: number, end: number): number {
    let i = s;
    let size = 0;
    for (; i < end; i++) {
      const d = HEX[buf[i]];
      if (d < 0) break;
      if (i - s === MAX_HEX_DIGITS) return this.#fail("ERR_INVALID_CHUNK", "a chunk size of more than 16 hex digits");
      size = size * 16 + d;
      if (size > Number.MAX_SAFE_INTEGER) return this.#fail("ERR_INVALID_CHUNK", "a chunk size over 2^53 - 1");
    }
    if (i === end) return INCOMPLETE;
    if (i === s) return this.#fail("ERR_INVALID_CHUNK", "a chunk size that is not hex");
    const budget = this.#limits.maxChunkExtensionSize - this.#extBytes;
    const limit = i + budget + 2;
    const stop = end < limit ? end : limit;
    const lf = lineEnd(buf, i, stop);
    if (lf === BARE_CR) return this.#fail("ERR_BARE_CR", "a CR not followed by LF in a chunk-size line");
    if (lf === stop) {
      if (stop < limit) return INCOMPLETE;
      return this.#fail(
        "ERR_CHUNK_EXTENSION_TOO_LARGE",
        `chunk extensions over ${this.#limits.maxChunkExtensionSize} bytes`,
      );
    }
    const crlf = lf > i && buf[lf - 1] === CR;
    const e = crlf ? lf - 1 : lf;
    if (e - i > budget) {
      return this.#fail(
        "ERR_CHUNK_EXTENSION_TOO_LARGE",
        `chunk extensions over ${this.#limits.maxChunkExtensionSize} bytes`,
      );
    }
    if (e > i && !this.#chunkExtensions(buf, i, e)) return FAILED;
    if (!crlf) return this.#fail("ERR_INVALID_CHUNK", "a chunk-size line ended by a bare LF, not CRLF");
    this.#extBytes += e - i;
    if (size > this.#limits.maxBodySize - this.#bodyBytes) {
      return this.#fail("ERR_BODY_TOO_LARGE", `the chunked body is over the limit of ${this.#limits.maxBodySize}`);
    }
    this.#bodyBytes += size;
    if (size === 0) {
      this.#fields = FIELDS;
      this.#headBytes = 0;
      this.#count = 0;
      this.#sectionDone = false;
      this.#state = "trailers";
    } else {
      this.#remaining = size;
      this.#state = "chunk_data";
    }
    return lf + 1;
  }

  /** `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )` over `buf[i, e)`. */
  #chunkExtensions(buf: Uint8Array, i: number, e: number): boolean {
    const bad = (why: string): boolean => {
      for (let k = i; k < e; k++) {
        if (buf[k] === CR) return this.#reject("ERR_BARE_CR", "a CR not followed by LF in a chunk-size line");
      }
      return this.#reject("ERR_INVALID_CHUNK", why);
    };
    let k = i;
    while (k < e) {
      while (k < e && isOws(buf[k])) k++;
      if (k === e || buf[k] !== SEMI) return bad("a chunk size followed by something other than an extension");
      k++;
      while (k < e && isOws(buf[k])) k++;
      const name = k;
      while (k < e && TOKEN[buf[k]] === 1) k++;
      if (k === name) return bad("a chunk extension without a name");
      if (k === e) break;
      let w = k;
      while (w < e && isOws(buf[w])) w++;
      if (w < e && buf[w] === SEMI) {
        k = w;
        continue;
      }
      if (w === e || buf[w] !== EQUALS) return bad("a malformed chunk extension");
      k = w + 1;
      while (k < e && isOws(buf[k])) k++;
      if (k < e && buf[k] === DQUOTE) {
        k++;
        for (;;) {
          if (k === e) return bad("an unterminated quoted chunk extension value");
          const c = buf[k];
          if (c === DQUOTE) break;
          if (c === BACKSLASH) {
            if (k + 1 === e || VALUE[buf[k + 1]] === 0) return bad("a malformed quoted-pair in a chunk extension");
            k += 2;
          } else if (QDTEXT[c] === 1) {
            k++;
          } else {
            return bad("a control byte in a quoted chunk extension value");
          }
        }
        k++;
      } else {
        const value = k;
        while (k < e && TOKEN[buf[k]] === 1) k++;
        if (k === value) return bad("a chunk extension without a value after =");
      }
    }
    return true;
  }

  /** The CRLF after a chunk's data: anything else means the chunk was longer than its size said. */
  #chunkDataEnd(buf: Uint8Array, s: number, end: number): number {
    if (s >= end) return INCOMPLETE;
    const b = buf[s];
    if (b === LF) return this.#fail("ERR_INVALID_CHUNK", "chunk data followed by a bare LF, not CRLF");
    if (b !== CR) return this.#fail("ERR_INVALID_CHUNK", "chunk data longer than its chunk size");
    if (s + 1 === end) return INCOMPLETE;
    if (buf[s + 1] !== LF) return this.#fail("ERR_INVALID_CHUNK", "chunk data not followed by CRLF");
    this.#state = "chunk_size";
    return s + 2;
  }

  /** The trailer section is complete: a trailers event if it has fields, then the end. */
  #endTrailers(next: number): number {
    this.#state = "message_done";
    if (this.#count > 0) this.#event = { type: "trailers", headers: this.#sectionFields() };
    return next;
  }

  /** Report the end of the message and get ready for the next one (or stay out of the way after an upgrade). */
  #finishMessage(): ParseEndEvent {
    this.#state = this.#upgradeAfter ? "upgraded" : "start_line";
    // A 1xx response is not the final answer: the next response answers the same request.
    if (this.#kind === "response" && (this.#status >= 200 || this.#status === 101)) this.#requestMethod = "";
    return END;
  }

  /** {@linkcode HttpParser.#fail} for the checks that answer a boolean. */
  #reject(code: HttpErrorCode, message: string): false {
    this.#fail(code, message);
    return false;
  }

  /** Enter the error state; returns FAILED so line parsers can `return this.#fail(...)`. */
  #fail(code: HttpErrorCode, message: string): number {
    const error = this.#kind === "response" ? new HttpError(code, message, 502) : new HttpError(code, message);
    this.#state = "error";
    this.#error = { type: "error", error };
    this.#event = null;
    return FAILED;
  }
}
