/**
 * The server side of the opening handshake on an {@linkcode HttpServer}
 * request: libevent's `evws_new_session`. The request is checked (RFC 6455
 * §4.2.1), a subprotocol and permessage-deflate are chosen, the `101
 * Switching Protocols` answer is written, and the connection is taken over
 * from HTTP. A server shutdown closes the WebSocket with 1001.
 *
 * @module
 */
import type { BufferEvent } from "../buffer/bufferevent.ts";
import { HttpHeaders } from "../http/headers.ts";
import type { HttpServerRequest } from "../http/http_server_request.ts";
import { CLOSE_GOING_AWAY } from "./frame.ts";
import { acceptDeflate, DEFAULT_DEFLATE, type PerMessageDeflateOptions } from "./extensions.ts";
import { acceptKeyFor, checkUpgradeRequest, type FieldGetter } from "./handshake.ts";
import { newSession, sessionOptions, type WebSocket, type WebSocketSessionOptions } from "./websocket.ts";

/** Options of {@linkcode WebSocket.upgrade} (and of `upgradeWebSocket` for fetch-style handlers). */
export interface WebSocketUpgradeOptions extends WebSocketSessionOptions {
  /**
   * The subprotocols this server speaks, in its order of preference: the
   * first of them the client offered is chosen. Or a function that picks
   * one of the offered (or null for none). Default: none chosen.
   */
  readonly protocols?: readonly string[] | ((offered: readonly string[]) => string | null);
  /** Decide by the `Origin` field (null when absent); false answers 403. Default: every origin. */
  readonly checkOrigin?: (origin: string | null) => boolean;
  /** Negotiate permessage-deflate when the client offers it: true, or the settings. Default false. */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Extra fields for the 101 answer. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The permessage-deflate settings from an option, with defaults; null when off. */
export function deflateSettings(
  option: boolean | PerMessageDeflateOptions | undefined,
  client: boolean,
): Required<PerMessageDeflateOptions> | null {
  if (option === undefined || option === false) return null;
  if (option === true) return DEFAULT_DEFLATE;
  if (option === null || typeof option !== "object") {
    throw new TypeError(`options.perMessageDeflate must be a boolean or an object, got ${typeof option}`);
  }
  const bits = (v: number | undefined, name: string, min: number): number => {
    if (v === undefined) return 15;
    if (!Number.isInteger(v) || v < min || v > 15) {
      throw new RangeError(`options.perMessageDeflate.${name} must be an integer in ${min}..15, got ${String(v)}`);
    }
    return v;
  };
  const level = option.level ?? DEFAULT_DEFLATE.level;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new RangeError(`options.perMessageDeflate.level must be an integer in 0..9, got ${String(level)}`);
  }
  const threshold = option.threshold ?? DEFAULT_DEFLATE.threshold;
  if (typeof threshold !== "number" || !(threshold >= 0)) {
    throw new RangeError(`options.perMessageDeflate.threshold must be a number >= 0, got ${String(threshold)}`);
  }
  return {
    serverNoContextTakeover: option.serverNoContextTakeover === true,
    clientNoContextTakeover: option.clientNoContextTakeover === true,
    serverMaxWindowBits: bits(option.serverMaxWindowBits, "serverMaxWindowBits", 9),
    // A client compresses with its own window: zlib needs at least 9 bits for that.
    clientMaxWindowBits: bits(option.clientMaxWindowBits, "clientMaxWindowBits", client ? 9 : 8),
    threshold,
    level,
  };
}

/** Choose the subprotocol. */
function chooseProtocol(
  offered: readonly string[],
  pick: WebSocketUpgradeOptions["protocols"],
): string | null {
  if (pick === undefined || offered.length === 0) return null;
  if (typeof pick === "function") {
    const chosen = pick(offered);
    return chosen !== null && offered.includes(chosen) ? chosen : null;
  }
  for (const p of pick) if (offered.includes(p)) return p;
  return null;
}

/** A request's fields as the handshake reads them: repeated ones joined with ", ". */
function fieldsOf(req: HttpServerRequest): FieldGetter {
  return (name) => {
    const all = req.inputHeaders.getAll(name);
    return all.length === 0 ? null : all.join(", ");
  };
}

/**
 * The handshake for `req`; see {@linkcode WebSocket.upgrade}. Returns the
 * WebSocket, or null after answering a bad handshake itself (400, 403 or
 * 426 with `Sec-WebSocket-Version: 13`).
 */
export function upgradeRequest(req: HttpServerRequest, options: WebSocketUpgradeOptions = {}): WebSocket | null {
  if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
  const deflate = deflateSettings(options.perMessageDeflate, false);
  // Checked before anything is answered, so a bad option leaves the request as it was.
  sessionOptions(options);
  const check = checkUpgradeRequest(req.method, req.versionMinor, fieldsOf(req));
  if (!check.ok) {
    if (check.status === 426) req.outputHeaders.set("Sec-WebSocket-Version", "13");
    req.sendError(check.status);
    return null;
  }
  if (options.checkOrigin !== undefined && !options.checkOrigin(req.inputHeaders.get("origin"))) {
    req.sendError(403);
    return null;
  }
  const protocol = chooseProtocol(check.protocols, options.protocols);
  const agreed = deflate === null ? null : acceptDeflate(check.extensions, deflate);
  let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptKeyFor(check.key)}\r\n`;
  if (protocol !== null) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (agreed !== null) head += `Sec-WebSocket-Extensions: ${agreed.response}\r\n`;
  // HttpHeaders refuses names that are not tokens and values with CR, LF or other controls.
  for (const [name, value] of new HttpHeaders(options.headers)) head += `${name}: ${value}\r\n`;
  let ws: WebSocket | null = null;
  const bev: BufferEvent = req.takeOver({
    // A shutting-down server says goodbye with 1001; the grace period bounds the handshake.
    onShutdown: (b) => {
      if (ws !== null) ws.close(CLOSE_GOING_AWAY, "server shutting down");
      else b.free();
    },
    // The grace period ended (or the server was freed): the session ends now, its timers with it.
    onDrop: () => ws?.terminate(),
  });
  bev.write(head + "\r\n");
  ws = newSession({
    base: req.server.base,
    bev,
    role: "server",
    protocol: protocol ?? "",
    extensions: agreed?.response ?? "",
    deflate: agreed?.agreement ?? null,
    deflateLevel: deflate?.level ?? 0,
    deflateThreshold: deflate?.threshold ?? Infinity,
    options,
  });
  return ws;
}
