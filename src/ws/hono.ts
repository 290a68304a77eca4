/**
 * Hono's WebSocket routes on levent's `serve()`: an `upgradeWebSocket`
 * helper made with Hono's own public `defineWebSocketHelper` and
 * `WSContext` (from `hono/ws`), which the caller passes in, so levent
 * itself depends on no package.
 *
 * @module
 */
import { upgradeWebSocket } from "./fetch_upgrade.ts";

/** The part of a Hono context the helper reads. */
export interface HonoContextLike {
  /** The request. */
  readonly req: {
    /** The Web Request serve() handed Hono's `app.fetch`. */
    readonly raw: Request;
  };
}

/** The event handlers a Hono WebSocket route gives (`hono/ws`'s WSEvents). */
export interface HonoWebSocketEvents<Ctx> {
  /** The WebSocket opened. */
  onOpen?: (evt: Event, ws: Ctx) => void;
  /** A message arrived. */
  onMessage?: (evt: MessageEvent, ws: Ctx) => void;
  /** The WebSocket closed. */
  onClose?: (evt: CloseEvent, ws: Ctx) => void;
  /** The WebSocket failed (a close follows). */
  onError?: (evt: Event, ws: Ctx) => void;
}

/** What `hono/ws`'s WSContext is made from. */
export interface HonoWSContextInit {
  /** Send a message. */
  send(data: string | ArrayBuffer | Uint8Array, options: unknown): void;
  /** Start the closing handshake. */
  close(code?: number, reason?: string): void;
  /** The underlying socket (a StandardWebSocket). */
  raw?: unknown;
  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  readyState: 0 | 1 | 2 | 3;
  /** The request's URL. */
  url?: string | URL | null;
  /** The subprotocol agreed, or "". */
  protocol?: string | null;
}

/** Hono's `defineWebSocketHelper` and `WSContext`, as imported from `hono/ws`. */
export interface HonoWebSocketKit<Helper, Ctx> {
  /** `hono/ws`'s defineWebSocketHelper. */
  // deno-lint-ignore no-explicit-any
  readonly defineWebSocketHelper: (handler: (c: any, events: any, options?: any) => Promise<Response | void>) => Helper;
  /** `hono/ws`'s WSContext class. */
  readonly WSContext: new (init: HonoWSContextInit) => Ctx;
}

/**
 * Make Hono's `upgradeWebSocket` for apps served by levent's `serve()`.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { defineWebSocketHelper, WSContext } from "hono/ws";
 * import { serve } from "@levent/levent";
 * import { honoWebSocket } from "@levent/levent/ws";
 *
 * const upgradeWebSocket = honoWebSocket({ defineWebSocketHelper, WSContext });
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket(() => ({ onMessage: (ev, ws) => ws.send(String(ev.data)) })));
 * await serve(app.fetch, { port: 8080 });
 * ```
 */
export function honoWebSocket<Helper, Ctx>(kit: HonoWebSocketKit<Helper, Ctx>): Helper {
  return kit.defineWebSocketHelper(
    (
      c: HonoContextLike,
      events: HonoWebSocketEvents<Ctx>,
      options?: { protocol?: string },
    ): Promise<Response | void> => {
      const raw = c.req.raw;
      if (raw.headers.get("upgrade")?.toLowerCase() !== "websocket") return Promise.resolve();
      const offered = raw.headers.get("sec-websocket-protocol")?.split(",")[0]?.trim();
      const { socket, response } = upgradeWebSocket(raw, {
        ...(offered ? { protocol: offered } : {}),
        ...(options ?? {}),
      });
      socket.binaryType = "arraybuffer";
      const ctx = new kit.WSContext({
        send: (data) => socket.send(data),
        close: (code, reason) => socket.close(code, reason),
        raw: socket,
        get readyState() {
          return socket.readyState as 0 | 1 | 2 | 3;
        },
        url: socket.url,
        get protocol() {
          return socket.protocol;
        },
      });
      socket.onopen = (evt) => events.onOpen?.(evt, ctx);
      socket.onmessage = (evt) => events.onMessage?.(evt as MessageEvent, ctx);
      socket.onclose = (evt) => events.onClose?.(evt as CloseEvent, ctx);
      socket.onerror = (evt) => events.onError?.(evt, ctx);
      return Promise.resolve(response);
    },
  );
}
