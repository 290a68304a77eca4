/**
 * WebSocket (RFC 6455) with permessage-deflate (RFC 7692), server and
 * client: libevent's evws (ws.h), which has a server side only.
 *
 * @example
 * ```ts
 * import { EventBase, HttpServer } from "@levent/levent";
 * import { WebSocket } from "@levent/levent/ws";
 * const base = new EventBase();
 * const http = new HttpServer(base);
 * http.setCb("/ws", (req) => {
 *   const ws = WebSocket.upgrade(req, { perMessageDeflate: true }); // evws_new_session()
 *   ws?.setMessageCb((ws, data) => ws.send(data));
 * });
 * await http.bind("127.0.0.1", 0);
 * ```
 *
 * @module
 */
export {
  WebSocket,
  type WebSocketCloseCallback,
  type WebSocketControlCallback,
  type WebSocketDrainCallback,
  type WebSocketErrorCallback,
  type WebSocketMessage,
  type WebSocketMessageCallback,
  type WebSocketSessionOptions,
  type WebSocketState,
} from "./websocket.ts";
export type { WebSocketUpgradeOptions } from "./server_upgrade.ts";
export {
  StandardWebSocket,
  type StandardWebSocketData,
  type StandardWebSocketHandler,
  type StandardWebSocketOptions,
  WebSocketCloseEvent,
} from "./standard.ts";
export type { WebSocketConnectOptions } from "./client_connect.ts";
export { type FetchWebSocketUpgrade, type FetchWebSocketUpgradeOptions, upgradeWebSocket } from "./fetch_upgrade.ts";
export {
  type HonoContextLike,
  honoWebSocket,
  type HonoWebSocketEvents,
  type HonoWebSocketKit,
  type HonoWSContextInit,
} from "./hono.ts";
export type { PerMessageDeflateOptions } from "./extensions.ts";
export { WebSocketError, type WebSocketErrorCode } from "./ws_error.ts";
export {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_INVALID_DATA,
  CLOSE_NO_STATUS,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  CLOSE_UNSUPPORTED_DATA,
} from "./frame.ts";
