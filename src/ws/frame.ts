/**
 * The WebSocket frame format (RFC 6455 §5.2): opcodes, close codes and the
 * rules about them that both the reader and the writer follow.
 *
 * ```
 *  0               1               2               3
 *  FIN RSV1-3 opcode | MASK len7 | ext. length (0, 2 or 8) | mask key (0 or 4) | payload
 * ```
 *
 * @module
 */

/** A continuation of a fragmented message. */
export const OP_CONTINUATION = 0x0;
/** A text message (UTF-8). */
export const OP_TEXT = 0x1;
/** A binary message. */
export const OP_BINARY = 0x2;
/** The closing handshake. */
export const OP_CLOSE = 0x8;
/** A ping: answered with a pong carrying its payload. */
export const OP_PING = 0x9;
/** A pong. */
export const OP_PONG = 0xa;

/** The most bytes a control frame may carry (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Close codes levent sends (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
/** The endpoint is going away: a server shutting down, a page navigated from. */
export const CLOSE_GOING_AWAY = 1001;
/** The peer broke the protocol. */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** A data type the endpoint cannot take. */
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** Reported (never sent) when a close frame carried no code. */
export const CLOSE_NO_STATUS = 1005;
/** Reported (never sent) when the connection ended without a close frame. */
export const CLOSE_ABNORMAL = 1006;
/** A text message that is not UTF-8. */
export const CLOSE_INVALID_DATA = 1007;
/** A message that breaks the endpoint's policy. */
export const CLOSE_POLICY_VIOLATION = 1008;
/** A message over the size limit. */
export const CLOSE_TOO_BIG = 1009;
/** The server failed in a way it did not expect. */
export const CLOSE_INTERNAL_ERROR = 1011;

/**
 * Whether `code` may travel in a close frame (RFC 6455 §7.4; the IANA
 * registry adds 1012-1014): 1000-1003, 1007-1014 and 3000-4999. 1004-1006
 * and 1015 are reserved or for reports only; 0-999, 1016-2999 and 5000+ are
 * not codes at all.
 */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Whether `op` is a control opcode (close, ping, pong). */
export function isControl(op: number): boolean {
  return (op & 0x8) !== 0;
}
