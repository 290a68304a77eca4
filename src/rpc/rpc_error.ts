/**
 * The rpc module's error class.
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/**
 * Codes an {@linkcode RpcError} carries. What the evtag codec and the
 * schemas find in bytes (libevent answers each with -1):
 *
 * - `ERR_RPC_MALFORMED`: the bytes are not evtag records: a tag without its
 *   last byte or over 32 bits, an integer over 8 nibbles (16 for int64),
 *   a record or integer cut short, a payload that does not hold its value.
 * - `ERR_RPC_TAG_MISMATCH`: a record has another tag than the one asked for
 *   (`evtagUnmarshalInt(buf, 3)` meeting tag 4).
 * - `ERR_RPC_UNKNOWN_TAG`: a structure holds a tag its schema does not name.
 * - `ERR_RPC_DUPLICATE_FIELD`: a field that is not an array comes twice.
 * - `ERR_RPC_MISSING_FIELD`: a required field is absent.
 * - `ERR_RPC_FIELD_LENGTH`: fixed-length bytes of another length.
 * - `ERR_RPCGEN_SYNTAX`: a `.rpc` definition the compiler cannot read (the
 *   message names the line).
 *
 * What a call made through an {@linkcode RpcPool} ended with (the `cause`
 * of its status; the Promise form rejects with it):
 *
 * - `ERR_RPC_TIMEOUT`: no reply within the pool's timeout, or the HTTP
 *   connection timed out (status `"timeout"`).
 * - `ERR_RPC_CONNECTION`: the HTTP request failed: the connection could
 *   not be made or closed before the reply (status `"timeout"`, as libevent
 *   reports every request that got no reply; `cause` holds the HttpError).
 * - `ERR_RPC_CANCELLED`: the call was cancelled (its AbortSignal, or the
 *   pool freed) before its reply (status `"timeout"`, or `"unstarted"` if it
 *   had not been sent).
 * - `ERR_RPC_BAD_PAYLOAD`: the reply was not a 200 carrying the reply
 *   structure (status `"bad_payload"`; `cause` says what was wrong).
 * - `ERR_RPC_UNSTARTED`: the request could not be sent (an output hook
 *   terminated it; status `"unstarted"`).
 * - `ERR_RPC_HOOK_ABORTED`: an input hook terminated the reply (status
 *   `"hook_aborted"`).
 */
export type RpcErrorCode =
  | "ERR_RPC_MALFORMED"
  | "ERR_RPC_TAG_MISMATCH"
  | "ERR_RPC_UNKNOWN_TAG"
  | "ERR_RPC_DUPLICATE_FIELD"
  | "ERR_RPC_MISSING_FIELD"
  | "ERR_RPC_FIELD_LENGTH"
  | "ERR_RPCGEN_SYNTAX"
  | "ERR_RPC_TIMEOUT"
  | "ERR_RPC_CONNECTION"
  | "ERR_RPC_CANCELLED"
  | "ERR_RPC_BAD_PAYLOAD"
  | "ERR_RPC_UNSTARTED"
  | "ERR_RPC_HOOK_ABORTED";

/**
 * An error of the RPC layer: malformed evtag bytes, a structure its schema
 * refuses, a `.rpc` file the compiler cannot read, or a call that failed; a
 * {@linkcode LeventError} with one of the {@linkcode RpcErrorCode} codes.
 * Bytes from the network never throw past the RPC layer: a server answers
 * them with 503, a pool reports them in the call's status.
 *
 * @example
 * ```ts
 * import { evtagUnmarshalInt, RpcError } from "@levent/levent/rpc";
 * import { EvBuffer } from "@levent/levent/buffer";
 * const buf = new EvBuffer();
 * buf.add(new Uint8Array([0x80])); // a tag without its last byte
 * try {
 *   evtagUnmarshalInt(buf, 1);
 * } catch (err) {
 *   if (err instanceof RpcError) console.log(err.code); // ERR_RPC_MALFORMED
 * }
 * ```
 */
export class RpcError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: RpcErrorCode;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: RpcErrorCode, message: string, options?: LeventErrorOptions) {
    super(code, message, options);
    this.name = "RpcError";
  }
}
