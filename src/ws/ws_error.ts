/**
 * The WebSocket module's error class.
 *
 * @module
 */
import { LeventError, type LeventErrorOptions } from "../errors.ts";

/**
 * Codes a {@linkcode WebSocketError} carries:
 *
 * - `ERR_WS_HANDSHAKE`: the server's answer to an upgrade was not a valid
 *   WebSocket handshake (a status other than 101, a wrong accept key, a
 *   subprotocol or extension that was not offered).
 * - `ERR_WS_CONNECT`: the connection to the server failed (refused, name
 *   not found, TLS), or it closed before the handshake's answer.
 * - `ERR_WS_TIMEOUT`: the handshake took longer than allowed.
 * - `ERR_WS_CANCELLED`: the AbortSignal given to connect() fired.
 */
export type WebSocketErrorCode = "ERR_WS_HANDSHAKE" | "ERR_WS_CONNECT" | "ERR_WS_TIMEOUT" | "ERR_WS_CANCELLED";

/**
 * An error of a WebSocket connection being opened. Protocol errors on an
 * open connection are not thrown: they close it with their close code
 * (1002, 1007, 1009), reported to the close callback.
 *
 * @example
 * ```ts
 * import { WebSocketError } from "@levent/levent/ws";
 * const err = new WebSocketError("ERR_WS_HANDSHAKE", "the server answered 404, not 101");
 * console.log(err.code);
 * ```
 */
export class WebSocketError extends LeventError {
  /** A stable code for the kind of error. */
  declare readonly code: WebSocketErrorCode;

  /** Make an error with a code, a message and, in `options`, its cause. */
  constructor(code: WebSocketErrorCode, message: string, options?: LeventErrorOptions) {
    super(code, message, options);
    this.name = "WebSocketError";
  }
}
