/**
 * WebSockets for fetch-style handlers on levent's `serve()`:
 * `upgradeWebSocket(request)` returns `{ socket, response }` as
 * Deno's `upgradeWebSocket` does, so a fetch-style application (a Hono app
 * among them) gets WebSockets the same way on Deno, Bun and Node. The
 * handler returns `response`; serve() then answers the handshake (101) and
 * `socket` opens.
 *
 * @module
 */
import { onReturnTakeOver, serverRequestOf } from "../http/serve.ts";
import { checkUpgradeRequest } from "./handshake.ts";
import type { WebSocketUpgradeOptions } from "./server_upgrade.ts";
import { attachStandard, failStandard, newServerStandard, type StandardWebSocket } from "./standard.ts";
import { WebSocket } from "./websocket.ts";

/** Options of {@linkcode upgradeWebSocket}: the server upgrade's, and Deno's `protocol`. */
export interface FetchWebSocketUpgradeOptions extends WebSocketUpgradeOptions {
  /** The subprotocol to answer with (it must be among those offered), as Deno's option of that name. */
  readonly protocol?: string;
}

/** What {@linkcode upgradeWebSocket} returns. */
export interface FetchWebSocketUpgrade {
  /** The server side of the WebSocket: CONNECTING until the handler's response is returned, then OPEN. */
  readonly socket: StandardWebSocket;
  /** Return this from the handler: serve() answers the handshake in its place. */
  readonly response: Response;
}

/**
 * Upgrade a request that serve() handed a fetch-style handler to a
 * WebSocket, as Deno's `upgradeWebSocket` does (libevent `evws_new_session`
 * underneath).
 *
 * @example
 * ```ts
 * import { serve } from "@levent/levent";
 * import { upgradeWebSocket } from "@levent/levent/ws";
 * await serve((req) => {
 *   if (req.headers.get("upgrade") !== "websocket") return new Response("a WebSocket endpoint", { status: 426 });
 *   const { socket, response } = upgradeWebSocket(req);
 *   socket.onmessage = (ev) => socket.send((ev as MessageEvent).data);
 *   return response;
 * }, { port: 0 });
 * ```
 *
 * @throws {TypeError} if the request did not come from levent's serve(), or is not a valid WebSocket handshake (its message says what is wrong)
 */
export function upgradeWebSocket(
  request: Request,
  options: FetchWebSocketUpgradeOptions = {},
): FetchWebSocketUpgrade {
  const req = serverRequestOf(request);
  if (req === undefined) throw new TypeError("upgradeWebSocket: the request did not come from levent's serve()");
  const check = checkUpgradeRequest(request.method, req.versionMinor, (name) => request.headers.get(name));
  if (!check.ok) throw new TypeError(`upgradeWebSocket: ${check.reason}`);
  const socket = newServerStandard(request.url);
  // Never sent: serve() sees it and answers the handshake instead.
  const response = new Response(null, { status: 200 });
  const { protocol, ...rest } = options;
  onReturnTakeOver(response, (r) => {
    const ws = WebSocket.upgrade(r, protocol === undefined ? rest : { ...rest, protocols: [protocol] });
    if (ws === null) failStandard(socket);
    else attachStandard(socket, ws);
  });
  return { socket, response };
}
