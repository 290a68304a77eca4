/**
 * The http module's error class.
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/**
 * Codes an {@linkcode HttpError} carries. The parser's codes, with the status
 * a server answers a bad request with:
 *
 * - `ERR_BAD_REQUEST_LINE` (400): the request line is not `method SP target
 *   SP HTTP/x.y`, or the method is not a token.
 * - `ERR_BAD_TARGET` (400): the request target fits none of RFC 9112's
 *   forms under RFC 3986's grammar (a fragment `#`, a space, a control, a
 *   non-ASCII byte or another character outside pchar, a `%` without two hex
 *   digits, userinfo in an absolute-form target), or its form does not suit
 *   the method (`*` is for OPTIONS only, `host:port` for CONNECT only).
 * - `ERR_URI_TOO_LONG` (414): the request line is longer than
 *   `maxRequestLineSize`.
 * - `ERR_BAD_STATUS_LINE`: a response's status line is malformed.
 * - `ERR_VERSION` (505): the HTTP major version is not 1.
 * - `ERR_INVALID_HEADER` (400): a field name that is not a token, whitespace
 *   before the colon, no colon, or a control character in a field value.
 * - `ERR_OBS_FOLD` (400): a field line folded onto the next (obs-fold).
 * - `ERR_BARE_CR` (400): a CR not followed by LF.
 * - `ERR_HEADER_TOO_LARGE` (431): the header (or trailer) section is larger
 *   than `maxHeaderSize`.
 * - `ERR_TOO_MANY_HEADERS` (431): more than `maxHeaderCount` field lines.
 * - `ERR_INVALID_HOST` (400): an HTTP/1.1 request without Host, with two, or
 *   with a malformed one.
 * - `ERR_INVALID_CONTENT_LENGTH` (400): a Content-Length that is not a
 *   decimal number, is too large, or differs from another one.
 * - `ERR_INVALID_TRANSFER_ENCODING` (400): a request Transfer-Encoding whose
 *   last coding is not chunked, chunked applied twice, or Transfer-Encoding
 *   in an HTTP/1.0 message.
 * - `ERR_UNSUPPORTED_TRANSFER_ENCODING` (501): a request coding other than
 *   chunked, which the parser cannot undo.
 * - `ERR_SMUGGLING` (400): both Transfer-Encoding and Content-Length.
 * - `ERR_INVALID_CHUNK` (400; 502 for a response): a chunk size that is not
 *   hex or overflows, a malformed chunk extension, or a line of the chunked
 *   framing (size line, the end of chunk data, a trailer line) not ended by
 *   CRLF: a bare LF is accepted in start lines and header fields only.
 * - `ERR_CHUNK_EXTENSION_TOO_LARGE` (413): chunk extensions over
 *   `maxChunkExtensionSize`.
 * - `ERR_BODY_TOO_LARGE` (413): a body over `maxBodySize`.
 * - `ERR_INCOMPLETE` (400; 502 for a response): the connection ended or was
 *   reset inside a message, so its body did not arrive whole.
 *
 * The client's codes (HttpConnection, HttpClientRequest, request()), with
 * the status a proxy would answer its own client with:
 *
 * - `ERR_CONNECT` (502): the connection could not be made (refused,
 *   unreachable, name not found, TLS handshake failed), retries included;
 *   `cause` holds the platform's error.
 * - `ERR_TIMEOUT` (504): connecting, reading the response or writing the
 *   request took longer than its timeout.
 * - `ERR_CONNECTION_CLOSED` (502): the server closed or reset the connection
 *   before it sent a response.
 * - `ERR_CANCELLED`: the request was cancelled (cancel(), the header
 *   callback, the connection freed).
 * - `ERR_REQUEST_BODY`: a streamed request body did not match its declared
 *   Content-Length, or its source failed (`cause`).
 * - `ERR_CONTENT_ENCODING` (502): a response body that was to be decoded
 *   (its Content-Encoding gzip, deflate or br) is corrupt or cut short
 *   inside its coding; `cause` holds the platform's `EZLIB` error.
 *
 * Errors found in a response carry status 502 (Bad Gateway): what a proxy
 * would answer its own client with.
 */
export type HttpErrorCode =
  | "ERR_BAD_REQUEST_LINE"
  | "ERR_BAD_TARGET"
  | "ERR_URI_TOO_LONG"
  | "ERR_BAD_STATUS_LINE"
  | "ERR_VERSION"
  | "ERR_INVALID_HEADER"
  | "ERR_OBS_FOLD"
  | "ERR_BARE_CR"
  | "ERR_HEADER_TOO_LARGE"
  | "ERR_TOO_MANY_HEADERS"
  | "ERR_INVALID_HOST"
  | "ERR_INVALID_CONTENT_LENGTH"
  | "ERR_INVALID_TRANSFER_ENCODING"
  | "ERR_UNSUPPORTED_TRANSFER_ENCODING"
  | "ERR_SMUGGLING"
  | "ERR_INVALID_CHUNK"
  | "ERR_CHUNK_EXTENSION_TOO_LARGE"
  | "ERR_BODY_TOO_LARGE"
  | "ERR_INCOMPLETE"
  | "ERR_BAD_URI"
  | "ERR_CONNECT"
  | "ERR_TIMEOUT"
  | "ERR_CONNECTION_CLOSED"
  | "ERR_CANCELLED"
  | "ERR_REQUEST_BODY"
  | "ERR_CONTENT_ENCODING";

/** The status a server answers each code with, when the constructor is not told otherwise. */
function defaultStatus(code: HttpErrorCode): number {
  switch (code) {
    case "ERR_URI_TOO_LONG":
      return 414;
    case "ERR_VERSION":
      return 505;
    case "ERR_HEADER_TOO_LARGE":
    case "ERR_TOO_MANY_HEADERS":
      return 431;
    case "ERR_UNSUPPORTED_TRANSFER_ENCODING":
      return 501;
    case "ERR_CHUNK_EXTENSION_TOO_LARGE":
    case "ERR_BODY_TOO_LARGE":
      return 413;
    case "ERR_BAD_STATUS_LINE":
      return 502;
    default:
      return 400;
  }
}

/**
 * An HTTP protocol error: bad bytes from the peer, a limit crossed, or a
 * client request that failed; a {@linkcode LeventError} with one of the
 * {@linkcode HttpErrorCode} codes. The parser returns it in an error event
 * rather than throwing it, so a server answers with
 * {@linkcode HttpError.status} and goes on serving.
 *
 * @example
 * ```ts
 * import { HttpError } from "@levent/levent/http";
 * const err = new HttpError("ERR_HEADER_TOO_LARGE", "the header section is over 16384 bytes");
 * console.log(err.status); // 431
 * ```
 */
export class HttpError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: HttpErrorCode;
  /** The HTTP status code to answer with (400, 413, 414, 431, 501, 505; 502 for a bad response). */
  readonly status: number;

  /**
   * Make an error with a code, a message, a status (by default the one the
   * code stands for) and, in `options`, its cause.
   */
  constructor(
    code: HttpErrorCode,
    message: string,
    status: number = defaultStatus(code),
    options?: LeventErrorOptions,
  ) {
    super(code, message, options);
    this.name = "HttpError";
    this.status = status;
  }
}
