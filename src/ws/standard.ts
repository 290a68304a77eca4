/**
 * A WebSocket shaped like the browser's (the WHATWG WebSocket interface):
 * `onmessage` and `addEventListener`, `send`, `close`, `binaryType`,
 * `readyState`, `bufferedAmount`, `protocol`, `extensions`. It is built on
 * levent's callback {@linkcode WebSocket}, for code written against the Web
 * API: a client made with `new StandardWebSocket(url)`, and the server side
 * that `upgradeWebSocket()` hands fetch-style handlers.
 *
 * @module
 */
import { EventBase } from "../event/event_base.ts";
import { CLOSE_ABNORMAL } from "./frame.ts";
import type { WebSocketConnectOptions } from "./client_connect.ts";
import { WebSocket } from "./websocket.ts";

/** What `send()` takes, as the Web API does. */
export type StandardWebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** Options of the {@linkcode StandardWebSocket} constructor beyond the Web API's. */
export interface StandardWebSocketOptions extends Omit<WebSocketConnectOptions, "protocols"> {
  /** The EventBase to run on. Default: one of its own, whose loop runs while the socket is open. */
  readonly base?: EventBase;
}

/** The close event: code, reason and whether the closing handshake completed (the Web API's CloseEvent). */
export class WebSocketCloseEvent extends Event {
  /** The close code. */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;

  /** Make one, as `new CloseEvent(type, init)` does. */
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** An `on...` event handler property: a function of the event, or null. */
export type StandardWebSocketHandler = ((ev: Event) => void) | null;

const encoder = new TextEncoder();
let attachSession: (std: StandardWebSocket, ws: WebSocket) => void;
let failSession: (std: StandardWebSocket) => void;
let makeServerSide: (url: string) => StandardWebSocket;

/** For `upgradeWebSocket`: a server-side socket, CONNECTING until {@linkcode attachStandard} gives it its session. */
export function newServerStandard(url: string): StandardWebSocket {
  return makeServerSide(url);
}

/** Give a server-side socket its session once the 101 is written: it opens. */
export function attachStandard(std: StandardWebSocket, ws: WebSocket): void {
  attachSession(std, ws);
}

/** A server-side socket whose handshake was refused after all: error, then close (1006). */
export function failStandard(std: StandardWebSocket): void {
  failSession(std);
}

/**
 * A WebSocket with the browser's interface, over levent.
 *
 * @example
 * ```ts
 * import { StandardWebSocket } from "@levent/levent/ws";
 * const ws = new StandardWebSocket("ws://127.0.0.1:8080/echo");
 * ws.binaryType = "arraybuffer";
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (ev) => {
 *   console.log((ev as MessageEvent).data);
 *   ws.close(1000);
 * };
 * ```
 */
export class StandardWebSocket extends EventTarget {
  /** The connection is being opened. */
  static readonly CONNECTING = 0;
  /** Open: messages flow. */
  static readonly OPEN = 1;
  /** The closing handshake is under way. */
  static readonly CLOSING = 2;
  /** Closed, or could not be opened. */
  static readonly CLOSED = 3;

  static {
    attachSession = (std, ws) => std.#attach(ws);
    failSession = (std) => std.#failed();
    makeServerSide = (url) => new StandardWebSocket(url, undefined, SERVER_SIDE);
  }

  /** The URL. */
  readonly url: string;
  /** How binary messages arrive: as a `Blob` (the Web API's default) or an `ArrayBuffer`. */
  binaryType: "blob" | "arraybuffer" = "blob";
  /** Called on `open`. */
  onopen: StandardWebSocketHandler = null;
  /** Called with each `message` (a MessageEvent). */
  onmessage: StandardWebSocketHandler = null;
  /** Called on `error` (then `close` follows). */
  onerror: StandardWebSocketHandler = null;
  /** Called on `close` (a {@linkcode WebSocketCloseEvent}). */
  onclose: StandardWebSocketHandler = null;

  #ws: WebSocket | null = null;
  #state = 0;
  /** Sends waiting for a Blob's bytes, kept in order. */
  #queue: Promise<void> | null = null;
  #queued = 0;

  /**
   * Connect to `url` (ws:// or wss://), offering `protocols`.
   *
   * @throws {DOMException} `SyntaxError` if url is not a ws(s):// URL or the protocols are not distinct tokens
   */
  constructor(url: string | URL, protocols?: string | readonly string[], options: StandardWebSocketOptions = {}) {
    super();
    this.url = String(url);
    if (options === SERVER_SIDE) return;
    const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
    let base = options.base;
    const own = base === undefined;
    if (base === undefined) base = new EventBase();
    let opening: Promise<WebSocket>;
    try {
      opening = WebSocket.connect(base, url, { ...options, protocols: list });
    } catch (err) {
      throw new DOMException((err as Error).message, "SyntaxError");
    }
    if (own) base.dispatch().catch((err) => this.#fail(err));
    opening.then((ws) => this.#attach(ws), () => this.#failed());
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): number {
    return this.#state;
  }

  /** Bytes queued by send() and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return (this.#ws?.bufferedAmount ?? 0) + this.#queued;
  }

  /** The subprotocol the server chose, or "". */
  get protocol(): string {
    return this.#ws?.protocol ?? "";
  }

  /** The extensions agreed, or "". */
  get extensions(): string {
    return this.#ws?.extensions ?? "";
  }

  /**
   * Send a message: a string as text; bytes, an ArrayBuffer or a Blob as
   * binary. After close() it is dropped, as the Web API does.
   *
   * @throws {DOMException} `InvalidStateError` while CONNECTING
   */
  send(data: StandardWebSocketData): void {
    if (this.#state === 0) throw new DOMException("the WebSocket is still connecting", "InvalidStateError");
    if (this.#state !== 1) return;
    const ws = this.#ws as WebSocket;
    if (data instanceof Blob) {
      this.#queued += data.size;
      const prior = this.#queue ?? Promise.resolve();
      const next = prior.then(() => data.arrayBuffer()).then((buf) => {
        this.#queued -= data.size;
        if (this.#state === 1) ws.sendBinary(new Uint8Array(buf));
      });
      this.#queue = next;
      void next.finally(() => {
        if (this.#queue === next) this.#queue = null;
      });
      return;
    }
    const message = typeof data === "string"
      ? data
      : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    if (this.#queue !== null) {
      // A Blob before it is still being read: keep the order.
      const size = typeof message === "string" ? encoder.encode(message).length : message.length;
      this.#queued += size;
      this.#queue = this.#queue.then(() => {
        this.#queued -= size;
        if (this.#state === 1) ws.send(message);
      });
      return;
    }
    ws.send(message);
  }

  /**
   * Start the closing handshake.
   *
   * @throws {DOMException} `InvalidAccessError` if code is not 1000 or in 3000..4999; `SyntaxError` if the reason is over 123 UTF-8 bytes
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new DOMException(`code must be 1000 or in 3000..4999, got ${code}`, "InvalidAccessError");
    }
    const why = reason ?? "";
    if (encoder.encode(why).length > 123) throw new DOMException("the reason is over 123 bytes", "SyntaxError");
    if (this.#state >= 2) return;
    if (this.#state === 0) {
      // Not open yet: the connection fails (the Web API's "fail the WebSocket connection").
      this.#state = 2;
      return;
    }
    this.#state = 2;
    (this.#ws as WebSocket).close(code, why);
  }

  #attach(ws: WebSocket): void {
    this.#ws = ws;
    ws.setCloseCb((_w, code, reason, clean) => {
      this.#state = 3;
      if (!clean) this.#emit(new Event("error"), this.onerror);
      this.#emit(new WebSocketCloseEvent("close", { code, reason, wasClean: clean }), this.onclose);
    });
    if (this.#state === 2) {
      // close() came while connecting.
      ws.terminate();
      return;
    }
    ws.setMessageCb((_w, data) => {
      let value: string | Blob | ArrayBuffer;
      if (typeof data === "string") value = data;
      else if (this.binaryType === "arraybuffer") {
        value = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? data.buffer as ArrayBuffer
          : data.slice().buffer as ArrayBuffer;
      } else value = new Blob([data as Uint8Array<ArrayBuffer>]);
      this.#emit(new MessageEvent("message", { data: value }), this.onmessage);
    });
    this.#state = 1;
    this.#emit(new Event("open"), this.onopen);
  }

  #failed(): void {
    if (this.#state === 3) return;
    this.#state = 3;
    this.#emit(new Event("error"), this.onerror);
    this.#emit(new WebSocketCloseEvent("close", { code: CLOSE_ABNORMAL, reason: "", wasClean: false }), this.onclose);
  }

  #fail(_err: unknown): void {
    this.#ws?.terminate();
    this.#failed();
  }

  #emit(ev: Event, handler: StandardWebSocketHandler): void {
    if (handler !== null) {
      try {
        handler.call(this, ev);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.dispatchEvent(ev);
  }
}

/** The constructor's marker for a server-side socket (no connect). */
const SERVER_SIDE: StandardWebSocketOptions = Object.freeze({});
