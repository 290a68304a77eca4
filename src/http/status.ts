/**
 * Status codes: the reason phrases of RFC 9110 §15 (libevent's
 * `evhttp_response_phrase_internal` table brought up to date) and the
 * status lines a response head starts with, prebuilt for every code so a
 * response formats nothing. Not part of the public API.
 *
 * @module
 */
import { latin1Bytes } from "./head_writer.ts";

/** Reason phrases (RFC 9110 §15) by code. */
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

/** The reason for a code of 100..599: the standard one, else its class's name, as libevent does. */
function reasonOf(code: number): string {
  const known = REASONS[code];
  if (known !== undefined) return known;
  if (code < 200) return "Informational";
  if (code < 300) return "Successful";
  if (code < 400) return "Redirection";
  if (code < 500) return "Client Error";
  return "Server Error";
}

// Reasons and status lines by code (dense arrays: an index, not a property lookup).
const REASON_BY_CODE: string[] = [];
const STATUS_LINES: string[] = [];
for (let code = 0; code < 600; code++) {
  REASON_BY_CODE.push(code < 100 ? "" : reasonOf(code));
  STATUS_LINES.push(code < 100 ? "" : `HTTP/1.1 ${code} ${reasonOf(code)}\r\n`);
}

/** The standard status lines as bytes, made on first use: a head copies them whole. */
const STATUS_BYTES: (Uint8Array | undefined)[] = [];

/** The reason phrase for a code of 100..599 (`evhttp_response_phrase_internal`). */
export function reasonPhrase(code: number): string {
  return REASON_BY_CODE[code];
}

/** `HTTP/1.1 code reason` and CRLF; the standard reason when `reason` is undefined. */
export function statusLine(code: number, reason: string | undefined): string {
  if (reason === undefined || reason === REASON_BY_CODE[code]) return STATUS_LINES[code];
  return "HTTP/1.1 " + code + " " + reason + "\r\n";
}

/**
 * The status line as bytes when it is the standard one (`reason` undefined
 * or the code's own), else null: the caller writes `statusLine()` instead.
 */
export function standardStatusBytes(code: number, reason: string | undefined): Uint8Array | null {
  if (reason !== undefined && reason !== REASON_BY_CODE[code]) return null;
  return STATUS_BYTES[code] ??= latin1Bytes(STATUS_LINES[code]);
}
