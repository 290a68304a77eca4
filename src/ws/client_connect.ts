/**
 * The client side of the opening handshake (RFC 6455 §4.1), which libevent
 * lacks (libevent #1548, #1576): connect over TCP or TLS, send the upgrade
 * request, read the answer with the HTTP parser, check it, and hand the
 * connection to a {@linkcode WebSocket}.
 *
 * @module
 */
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_TIMEOUT,
  BufferEvent,
} from "../buffer/bufferevent.ts";
import { Event, type EventBase } from "../event/event_base.ts";
import { EV_READ, EV_WRITE } from "../event/flags.ts";
import { HttpHeaders } from "../http/headers.ts";
import { HttpParser } from "../http/http_parser.ts";
import {
  checkDeflateResponse,
  type DeflateAgreement,
  offerDeflate,
  type PerMessageDeflateOptions,
} from "./extensions.ts";
import { checkUpgradeResponse, type FieldGetter, newKey, tokenList } from "./handshake.ts";
import { deflateSettings } from "./server_upgrade.ts";
import { newSession, sessionOptions, type WebSocket, type WebSocketSessionOptions } from "./websocket.ts";
import { WebSocketError } from "./ws_error.ts";

/** Options of {@linkcode WebSocket.connect}. */
export interface WebSocketConnectOptions extends WebSocketSessionOptions {
  /** Subprotocols to offer, in order of preference. */
  readonly protocols?: readonly string[];
  /** Extra request fields (`Origin`, `Authorization`, cookies...). */
  readonly headers?: Readonly<Record<string, string>> | Iterable<readonly [string, string]>;
  /** Offer permessage-deflate: true (the default, as browsers do), false, or the settings. */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** How long the connection and the handshake may take, in ms. Default 10000. */
  readonly handshakeTimeoutMs?: number;
  /** Cancels the handshake (rejects with `ERR_WS_CANCELLED`); once open, the connection is not affected. */
  readonly signal?: AbortSignal;
  /** For wss://: extra trusted CA certificates (PEM) and the name to check the certificate against. */
  readonly tls?: { readonly caCerts?: readonly string[]; readonly serverName?: string };
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10000;

/** The parts of a ws:// or wss:// URL the handshake needs. */
interface Target {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly hostField: string;
  readonly path: string;
}

function parseTarget(url: string | URL): Target {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new TypeError(`url must be a ws:// or wss:// URL, got ${JSON.stringify(String(url))}`);
  }
  const scheme = u.protocol;
  if (scheme !== "ws:" && scheme !== "wss:" && scheme !== "http:" && scheme !== "https:") {
    throw new TypeError(`url must be a ws:// or wss:// URL, got ${JSON.stringify(String(url))}`);
  }
  if (u.hash !== "") throw new TypeError(`url must not have a fragment, got ${JSON.stringify(String(url))}`);
  const secure = scheme === "wss:" || scheme === "https:";
  const port = u.port === "" ? (secure ? 443 : 80) : Number(u.port);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { secure, host, port, hostField: u.host, path: (u.pathname || "/") + u.search };
}

/**
 * Open a WebSocket connection to `url` on `base` (ws:// or wss://); see
 * {@linkcode WebSocket.connect}.
 */
export function connectRequest(
  base: EventBase,
  url: string | URL,
  options: WebSocketConnectOptions = {},
): Promise<WebSocket> {
  if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
  const target = parseTarget(url);
  const protocols = [...(options.protocols ?? [])];
  if (tokenList(protocols.join(",") || null) === null) {
    throw new TypeError(`options.protocols must be distinct tokens, got ${JSON.stringify(protocols)}`);
  }
  const extra = new HttpHeaders(options.headers as Record<string, string> | undefined);
  const deflate = deflateSettings(options.perMessageDeflate ?? true, true);
  sessionOptions(options);
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
    throw new RangeError(`options.handshakeTimeoutMs must be a number > 0, got ${String(timeoutMs)}`);
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("options.signal must be an AbortSignal");
  }

  const key = newKey();
  let head = `GET ${target.path} HTTP/1.1\r\nHost: ${target.hostField}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (protocols.length > 0) head += `Sec-WebSocket-Protocol: ${protocols.join(", ")}\r\n`;
  if (deflate !== null) head += `Sec-WebSocket-Extensions: ${offerDeflate(deflate)}\r\n`;
  for (const [name, value] of extra) head += `${name}: ${value}\r\n`;
  head += "\r\n";

  return new Promise<WebSocket>((resolve, reject) => {
    const bev = BufferEvent.socket(base, null, { closeOnFree: true });
    const parser = new HttpParser("response");
    parser.expectResponseTo("GET");
    let settled = false;
    const timer = new Event(
      base,
      null,
      0,
      () =>
        fail(
          new WebSocketError(
            "ERR_WS_TIMEOUT",
            `the WebSocket handshake with ${target.hostField} took over ${timeoutMs} ms`,
          ),
        ),
    );
    const onAbort = (): void =>
      fail(new WebSocketError("ERR_WS_CANCELLED", "the WebSocket handshake was cancelled", { cause: signal?.reason }));
    const settle = (): void => {
      settled = true;
      timer.free();
      signal?.removeEventListener("abort", onAbort);
    };
    function fail(err: WebSocketError): void {
      if (settled) return;
      settle();
      if (bev.state !== "freed") bev.abort();
      reject(err);
    }
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    timer.add(timeoutMs);

    const onHead = (): void => {
      const ev = parser.parse(bev.input);
      if (ev.type === "need_more") return;
      if (ev.type !== "head") {
        const why = ev.type === "error" ? ev.error.message : "no response head";
        fail(new WebSocketError("ERR_WS_HANDSHAKE", `the answer to the WebSocket handshake is malformed: ${why}`));
        return;
      }
      const res = ev.head;
      const fields = new HttpHeaders(pairs(res.headers));
      const get: FieldGetter = (name) => {
        const all = fields.getAll(name);
        return all.length === 0 ? null : all.join(", ");
      };
      const checked = checkUpgradeResponse(res.status, get, { key, protocols });
      if (typeof checked === "string") {
        fail(new WebSocketError("ERR_WS_HANDSHAKE", `${target.hostField}: ${checked}`));
        return;
      }
      let agreement: DeflateAgreement | null = null;
      const extField = get("sec-websocket-extensions");
      if (deflate !== null) {
        const d = checkDeflateResponse(extField, deflate);
        if (typeof d === "string") {
          fail(new WebSocketError("ERR_WS_HANDSHAKE", `${target.hostField}: ${d}`));
          return;
        }
        agreement = d;
      } else if (extField !== null && extField.trim() !== "") {
        fail(
          new WebSocketError(
            "ERR_WS_HANDSHAKE",
            `${target.hostField}: the server chose an extension that was not offered`,
          ),
        );
        return;
      }
      settle();
      resolve(newSession({
        base,
        bev,
        role: "client",
        protocol: checked.protocol,
        extensions: agreement === null ? "" : (extField ?? ""),
        deflate: agreement,
        deflateLevel: deflate?.level ?? 0,
        deflateThreshold: deflate?.threshold ?? Infinity,
        options,
      }));
    };
    bev.setCallbacks(
      () => onHead(),
      null,
      (_b, what) => {
        if (settled) return;
        if (what & BEV_EVENT_CONNECTED) {
          bev.write(head);
          bev.enable(EV_READ | EV_WRITE);
          return;
        }
        if (what & BEV_EVENT_ERROR) {
          const cause = bev.socketError;
          fail(
            new WebSocketError(
              "ERR_WS_CONNECT",
              `cannot connect to ${target.hostField}: ${cause?.message ?? "the connection failed"}`,
              { cause },
            ),
          );
        } else if (what & (BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
          onHead();
          fail(
            new WebSocketError(
              "ERR_WS_CONNECT",
              `${target.hostField} closed the connection before answering the handshake`,
            ),
          );
        }
      },
    );
    if (target.secure) {
      bev.connectTls({
        host: target.host,
        port: target.port,
        serverName: options.tls?.serverName,
        caCerts: options.tls?.caCerts,
      });
    } else {
      bev.connect({ host: target.host, port: target.port });
    }
  });
}

/** The parser's flat [name, value, ...] list as pairs. */
function pairs(list: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i], list[i + 1]]);
  return out;
}
