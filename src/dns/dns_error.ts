/**
 * The dns module's error class and libevent's result codes (`DNS_ERR_*`).
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/** No error (`DNS_ERR_NONE`). */
export const DNS_ERR_NONE = 0;
/** The nameserver could not interpret the query: rcode FORMERR (`DNS_ERR_FORMAT`). */
export const DNS_ERR_FORMAT = 1;
/** The nameserver failed: rcode SERVFAIL (`DNS_ERR_SERVERFAILED`). */
export const DNS_ERR_SERVERFAILED = 2;
/** The name does not exist: rcode NXDOMAIN (`DNS_ERR_NOTEXIST`). */
export const DNS_ERR_NOTEXIST = 3;
/** The nameserver does not do this kind of query: rcode NOTIMP (`DNS_ERR_NOTIMPL`). */
export const DNS_ERR_NOTIMPL = 4;
/** The nameserver refused the query: rcode REFUSED (`DNS_ERR_REFUSED`). */
export const DNS_ERR_REFUSED = 5;
/** The answer was truncated and could not be had whole (`DNS_ERR_TRUNCATED`). */
export const DNS_ERR_TRUNCATED = 65;
/** Any other failure: an rcode levent does not know, no nameserver to ask (`DNS_ERR_UNKNOWN`). */
export const DNS_ERR_UNKNOWN = 66;
/** No nameserver answered in time, after every attempt (`DNS_ERR_TIMEOUT`). */
export const DNS_ERR_TIMEOUT = 67;
/** The DnsBase was freed with the request still pending (`DNS_ERR_SHUTDOWN`). */
export const DNS_ERR_SHUTDOWN = 68;
/** The request was cancelled (`DNS_ERR_CANCEL`). */
export const DNS_ERR_CANCEL = 69;
/** The name exists but has no records of the type asked for (`DNS_ERR_NODATA`). */
export const DNS_ERR_NODATA = 70;

/**
 * Codes a {@linkcode DnsError} carries. One per libevent result code, so
 * a request's failure has both (the code here, the number in
 * {@linkcode DnsError.result}):
 *
 * - `ERR_DNS_FORMAT` ({@linkcode DNS_ERR_FORMAT}), `ERR_DNS_SERVERFAILED`,
 *   `ERR_DNS_NOTEXIST` (NXDOMAIN), `ERR_DNS_NOTIMPL`, `ERR_DNS_REFUSED`:
 *   what the nameserver answered (rcodes 1-5);
 * - `ERR_DNS_TRUNCATED`: the answer was truncated and the query asked not
 *   to retry over TCP, or the TCP answer failed;
 * - `ERR_DNS_UNKNOWN`: any other failure (an unknown rcode, no nameserver);
 * - `ERR_DNS_TIMEOUT`: every attempt went unanswered;
 * - `ERR_DNS_SHUTDOWN`: the DnsBase was freed first;
 * - `ERR_DNS_CANCEL`: the request was cancelled;
 * - `ERR_DNS_NODATA`: the name exists, with no records of that type.
 *
 * And two of levent's own:
 *
 * - `ERR_DNS_MALFORMED`: bytes that are not a DNS message (the codec's
 *   decode error: a compression loop, a pointer or a count past the end, a
 *   label over 63 bytes, a name over 255...); result `DNS_ERR_FORMAT`;
 * - `ERR_DNS_SERVICE`: getAddrInfo's service is not a port number or a
 *   service levent knows (`EVUTIL_EAI_SERVICE`); result `DNS_ERR_UNKNOWN`.
 */
export type DnsErrorCode =
  | "ERR_DNS_FORMAT"
  | "ERR_DNS_SERVERFAILED"
  | "ERR_DNS_NOTEXIST"
  | "ERR_DNS_NOTIMPL"
  | "ERR_DNS_REFUSED"
  | "ERR_DNS_TRUNCATED"
  | "ERR_DNS_UNKNOWN"
  | "ERR_DNS_TIMEOUT"
  | "ERR_DNS_SHUTDOWN"
  | "ERR_DNS_CANCEL"
  | "ERR_DNS_NODATA"
  | "ERR_DNS_MALFORMED"
  | "ERR_DNS_SERVICE";

const RESULT_OF: Readonly<Record<DnsErrorCode, number>> = {
  ERR_DNS_FORMAT: DNS_ERR_FORMAT,
  ERR_DNS_SERVERFAILED: DNS_ERR_SERVERFAILED,
  ERR_DNS_NOTEXIST: DNS_ERR_NOTEXIST,
  ERR_DNS_NOTIMPL: DNS_ERR_NOTIMPL,
  ERR_DNS_REFUSED: DNS_ERR_REFUSED,
  ERR_DNS_TRUNCATED: DNS_ERR_TRUNCATED,
  ERR_DNS_UNKNOWN: DNS_ERR_UNKNOWN,
  ERR_DNS_TIMEOUT: DNS_ERR_TIMEOUT,
  ERR_DNS_SHUTDOWN: DNS_ERR_SHUTDOWN,
  ERR_DNS_CANCEL: DNS_ERR_CANCEL,
  ERR_DNS_NODATA: DNS_ERR_NODATA,
  ERR_DNS_MALFORMED: DNS_ERR_FORMAT,
  ERR_DNS_SERVICE: DNS_ERR_UNKNOWN,
};

const CODE_OF: ReadonlyMap<number, DnsErrorCode> = new Map([
  [DNS_ERR_FORMAT, "ERR_DNS_FORMAT"],
  [DNS_ERR_SERVERFAILED, "ERR_DNS_SERVERFAILED"],
  [DNS_ERR_NOTEXIST, "ERR_DNS_NOTEXIST"],
  [DNS_ERR_NOTIMPL, "ERR_DNS_NOTIMPL"],
  [DNS_ERR_REFUSED, "ERR_DNS_REFUSED"],
  [DNS_ERR_TRUNCATED, "ERR_DNS_TRUNCATED"],
  [DNS_ERR_UNKNOWN, "ERR_DNS_UNKNOWN"],
  [DNS_ERR_TIMEOUT, "ERR_DNS_TIMEOUT"],
  [DNS_ERR_SHUTDOWN, "ERR_DNS_SHUTDOWN"],
  [DNS_ERR_CANCEL, "ERR_DNS_CANCEL"],
  [DNS_ERR_NODATA, "ERR_DNS_NODATA"],
]);

const TEXT_OF: ReadonlyMap<number, string> = new Map([
  [DNS_ERR_NONE, "no error"],
  [DNS_ERR_FORMAT, "the nameserver could not read the query"],
  [DNS_ERR_SERVERFAILED, "the nameserver failed"],
  [DNS_ERR_NOTEXIST, "no such name"],
  [DNS_ERR_NOTIMPL, "the nameserver does not do this query"],
  [DNS_ERR_REFUSED, "the nameserver refused the query"],
  [DNS_ERR_TRUNCATED, "the answer was truncated"],
  [DNS_ERR_UNKNOWN, "unknown error"],
  [DNS_ERR_TIMEOUT, "timed out"],
  [DNS_ERR_SHUTDOWN, "the resolver was shut down"],
  [DNS_ERR_CANCEL, "cancelled"],
  [DNS_ERR_NODATA, "no records of that type"],
]);

/**
 * A short text for a result code (libevent `evdns_err_to_string`):
 * `"no such name"` for {@linkcode DNS_ERR_NOTEXIST}, `"timed out"`...
 *
 * @example
 * ```ts
 * import { DNS_ERR_TIMEOUT, dnsErrToString } from "@levent/levent/dns";
 * console.log(dnsErrToString(DNS_ERR_TIMEOUT)); // timed out
 * ```
 */
export function dnsErrToString(result: number): string {
  return TEXT_OF.get(result) ?? `unknown result code ${result}`;
}

/**
 * An error of the dns module: a request that failed (its code matches
 * libevent's result, which {@linkcode DnsError.result} holds), or bytes the
 * codec refused (`ERR_DNS_MALFORMED`); a {@linkcode LeventError} with one
 * of the {@linkcode DnsErrorCode} codes.
 *
 * @example
 * ```ts
 * import { decodeDnsMessage, DnsError } from "@levent/levent/dns";
 * try {
 *   decodeDnsMessage(new Uint8Array(5));
 * } catch (err) {
 *   if (err instanceof DnsError) console.log(err.code, err.result); // ERR_DNS_MALFORMED 1
 * }
 * ```
 */
export class DnsError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: DnsErrorCode;
  /** libevent's result code for it (`DNS_ERR_*`). */
  readonly result: number;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: DnsErrorCode, message: string, options?: LeventErrorOptions) {
    super(code, message, options);
    this.name = "DnsError";
    this.result = RESULT_OF[code];
  }

  /** The error for a libevent result code (`DNS_ERR_*`), with `what` before its text: `"example.test: no such name"`. */
  static fromResult(result: number, what: string): DnsError {
    const text = dnsErrToString(result);
    return new DnsError(CODE_OF.get(result) ?? "ERR_DNS_UNKNOWN", what === "" ? text : `${what}: ${text}`);
  }
}
