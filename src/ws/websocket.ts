/**
 * A WebSocket connection, server or client side: libevent's
 * `evws_connection` (ws.h), which libevent has on the server side only.
 * It runs on a {@linkcode BufferEvent} taken over from HTTP: frames are read
 * from its input with a {@linkcode FrameReader} and written to its output.
 *
 * The close handshake follows RFC 6455 §7: the side that closes first sends
 * a close frame and waits (at most `closeTimeoutMs`) for the peer's; the
 * side that receives one answers with the same code. Then the server closes
 * the TCP connection, and the client waits for it to (RFC 6455 §7.1.1). A
 * protocol error in what the peer sends closes with 1002, 1007 or 1009 at
 * once, and the connection is dropped after that close frame.
 *
 * @module
 */
import type { BufferEvent } from "../buffer/bufferevent.ts";
import { BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_TIMEOUT } from "../buffer/bufferevent.ts";
import { adopt, disown, Event, type EventBase } from "../event/event_base.ts";
import { EV_PERSIST, EV_READ, EV_WRITE } from "../event/flags.ts";
import type { DeflateAgreement } from "./extensions.ts";
import {
  CLOSE_ABNORMAL,
  CLOSE_INTERNAL_ERROR,
  CLOSE_NO_STATUS,
  isSendableCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
} from "./frame.ts";
import { type FrameFailure, FrameReader, type FrameSink } from "./frame_reader.ts";
import { writeFrame, writeTextFrame } from "./frame_writer.ts";
import { MessageDecompressor, MessageDeflater } from "./permessage_deflate.ts";
import type { HttpServerRequest } from "../http/http_server_request.ts";
import { upgradeRequest, type WebSocketUpgradeOptions } from "./server_upgrade.ts";
import { connectRequest, type WebSocketConnectOptions } from "./client_connect.ts";

/** The connection's state: open, closing (a close frame went one way), or closed. */
export type WebSocketState = "open" | "closing" | "closed";

/** What a message callback receives: a string for text, bytes for binary. */
export type WebSocketMessage = string | Uint8Array;

/** Called with each message: libevent's `ws_on_msg_cb`. */
export type WebSocketMessageCallback<A = unknown> = (ws: WebSocket, data: WebSocketMessage, arg: A) => void;

/**
 * Called once when the connection is over (libevent's `ws_on_close_cb`),
 * with the close code (the peer's, or the one levent sent on a protocol
 * error; 1005 for a close frame without one; 1006 when the connection
 * ended without a close handshake), the reason, and whether the closing
 * handshake completed.
 */
export type WebSocketCloseCallback<A = unknown> = (
  ws: WebSocket,
  code: number,
  reason: string,
  wasClean: boolean,
  arg: A,
) => void;

/** Called with the payload of a ping or pong. */
export type WebSocketControlCallback<A = unknown> = (ws: WebSocket, data: Uint8Array, arg: A) => void;

/** Called with an error one of the connection's callbacks threw. */
export type WebSocketErrorCallback<A = unknown> = (ws: WebSocket, error: unknown, arg: A) => void;

/** Called when the unsent bytes fall back below the high-water mark after a send returned false. */
export type WebSocketDrainCallback<A = unknown> = (ws: WebSocket, arg: A) => void;

/** Options both sides share. */
export interface WebSocketSessionOptions {
  /** The largest message accepted, in bytes (after decompression); a larger one closes with 1009. Default 16 MiB. */
  readonly maxPayload?: number;
  /** How long to wait for the peer's close frame (and, on a client, the server's TCP close) before dropping the connection. Default 5000 ms. */
  readonly closeTimeoutMs?: number;
  /** Send a ping this often (ms) and drop a peer that has not answered the previous one: 0 turns it off. Default 0. */
  readonly pingIntervalMs?: number;
  /** Unsent bytes above which send() returns false (then wait for the drain callback). Default 65536. */
  readonly sendHighWaterMark?: number;
}

/** The default maxPayload of {@linkcode WebSocketSessionOptions}: 16 MiB. */
export const DEFAULT_MAX_PAYLOAD: number = 16 * 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 5000;
const DEFAULT_SEND_HIGH_WATER = 65536;
/** Input held while the application has paused the connection, before the socket stops being read. */
const PAUSED_HIGH_WATER = 65536;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** Everything a new session is made with (from the server upgrade or the client connect). */
export interface SessionInit {
  readonly base: EventBase;
  readonly bev: BufferEvent;
  readonly role: "server" | "client";
  readonly protocol: string;
  readonly extensions: string;
  readonly deflate: DeflateAgreement | null;
  readonly deflateLevel: number;
  readonly deflateThreshold: number;
  readonly options: WebSocketSessionOptions;
}

/** Check the shared options; returns them with defaults applied. */
export function sessionOptions(o: WebSocketSessionOptions): Required<WebSocketSessionOptions> {
  const num = (v: unknown, name: string, min: number, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !(v >= min) || (!Number.isFinite(v) && v !== Infinity)) {
      throw new RangeError(`options.${name} must be a number >= ${min}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return {
    maxPayload: num(o.maxPayload, "maxPayload", 0, DEFAULT_MAX_PAYLOAD),
    closeTimeoutMs: num(o.closeTimeoutMs, "closeTimeoutMs", 0, DEFAULT_CLOSE_TIMEOUT),
    pingIntervalMs: num(o.pingIntervalMs, "pingIntervalMs", 0, 0),
    sendHighWaterMark: num(o.sendHighWaterMark, "sendHighWaterMark", 0, DEFAULT_SEND_HIGH_WATER),
  };
}

let makeSession: (init: SessionInit) => WebSocket;

/** The frame reader's way into a WebSocket's private handlers (set in WebSocket's static block). */
interface SinkHooks {
  message(ws: WebSocket, text: boolean, data: Uint8Array): void;
  ping(ws: WebSocket, data: Uint8Array): void;
  pong(ws: WebSocket, data: Uint8Array): void;
  close(ws: WebSocket, code: number, reason: string): void;
}
let sinkHooks: SinkHooks;

/** Make a session on a BufferEvent whose handshake is done (for the server upgrade and the client connect). */
export function newSession(init: SessionInit): WebSocket {
  return makeSession(init);
}

/**
 * A WebSocket connection (libevent's `evws_connection`). Made by
 * {@linkcode WebSocket.upgrade} on a server (`evws_new_session`) or
 * {@linkcode WebSocket.connect} on a client; callbacks run on the
 * EventBase's loop.
 *
 * @example
 * ```ts
 * import { EventBase, HttpServer } from "@levent/levent";
 * import { WebSocket } from "@levent/levent/ws";
 * const base = new EventBase();
 * const http = new HttpServer(base);
 * http.setCb("/echo", (req) => {
 *   const ws = WebSocket.upgrade(req); // evws_new_session()
 *   ws?.setMessageCb((ws, data) => ws.send(data)); // text back as text, binary as binary
 * });
 * await http.bind("127.0.0.1", 0);
 * ```
 */
export class WebSocket {
  static {
    makeSession = (init) => new WebSocket(init);
    sinkHooks = {
      message: (ws, text, data) => ws.#onMessage(text, data),
      ping: (ws, data) => ws.#onPing(data),
      pong: (ws, data) => ws.#onPong(data),
      close: (ws, code, reason) => ws.#onClose(code, reason),
    };
  }

  readonly #base: EventBase;
  readonly #bev: BufferEvent;
  readonly #client: boolean;
  readonly #protocol: string;
  readonly #extensions: string;
  readonly #reader: FrameReader;
  readonly #deflater: MessageDeflater | null;
  readonly #inflater: MessageDecompressor | null;
  readonly #threshold: number;
  readonly #opts: Required<WebSocketSessionOptions>;
  #state: WebSocketState = "open";
  #sentClose = false;
  #received: { code: number; reason: string } | null = null;
  #closeTimer: Event<WebSocket> | null = null;
  #pingTimer: Event<WebSocket> | null = null;
  #awaitingPong = false;
  #paused = false;
  /** The peer ended the TCP stream; acted on once the input before it is read. */
  #peerEnded = false;
  /** A pending event while paused, so the loop waits for the application. */
  #pauseHold: Event<WebSocket> | null = null;
  #wantDrain = false;
  #arg: unknown = undefined;
  #messageCb: WebSocketMessageCallback | null = null;
  #closeCb: WebSocketCloseCallback | null = null;
  #pingCb: WebSocketControlCallback | null = null;
  #pongCb: WebSocketControlCallback | null = null;
  #drainCb: WebSocketDrainCallback | null = null;
  #errorCb: WebSocketErrorCallback | null = null;
  readonly #sink: FrameSink;
  /** The base's free() drops the connection, as terminate() does. */
  readonly #releaseByBase = (): void => this.#drop(true);

  static readonly #readcb = (_b: BufferEvent, ws: WebSocket): void => ws.#onReadable();
  static readonly #writecb = (_b: BufferEvent, ws: WebSocket): void => ws.#onWritten();
  static readonly #eventcb = (_b: BufferEvent, what: number, ws: WebSocket): void => ws.#onEvent(what);
  static readonly #closeTimeoutCb = (_s: unknown, _w: number, ws: WebSocket): void => ws.#drop(true);
  static readonly #pingTick = (_s: unknown, _w: number, ws: WebSocket): void => ws.#onPingTick();
  static readonly #noop = (): void => {};

  private constructor(init: SessionInit) {
    this.#base = init.base;
    this.#bev = init.bev;
    this.#client = init.role === "client";
    this.#protocol = init.protocol;
    this.#extensions = init.extensions;
    this.#opts = sessionOptions(init.options);
    const d = init.deflate;
    const compression = init.base.platform.compression;
    if (d !== null) {
      const client = this.#client;
      this.#deflater = new MessageDeflater(
        compression,
        client ? d.clientMaxWindowBits : d.serverMaxWindowBits,
        init.deflateLevel,
        !(client ? d.clientNoContextTakeover : d.serverNoContextTakeover),
      );
      this.#inflater = new MessageDecompressor(
        compression,
        client ? d.serverMaxWindowBits : d.clientMaxWindowBits,
        !(client ? d.serverNoContextTakeover : d.clientNoContextTakeover),
      );
    } else {
      this.#deflater = null;
      this.#inflater = null;
    }
    this.#threshold = init.deflateThreshold;
    this.#reader = new FrameReader({
      maxPayload: this.#opts.maxPayload,
      expectMasked: !this.#client,
      inflater: this.#inflater,
    });
    this.#sink = new Sink(this);
    const bev = this.#bev;
    bev.setCallbacks(WebSocket.#readcb, WebSocket.#writecb, WebSocket.#eventcb, this);
    bev.enable(EV_READ | EV_WRITE);
    adopt(this.#base, this.#releaseByBase);
    if (this.#opts.pingIntervalMs > 0) {
      const timer = new Event<WebSocket>(this.#base, null, EV_PERSIST, WebSocket.#pingTick, this);
      timer.add(this.#opts.pingIntervalMs);
      this.#pingTimer = timer;
    }
    // Frames that came with (or right after) the handshake are already in input.
    if (bev.input.length > 0) this.#base.defer(() => this.#onReadable());
  }

  /**
   * Accept a WebSocket on an HttpServer request (libevent
   * `evws_new_session`): check the handshake (RFC 6455 §4.2.1: GET,
   * HTTP/1.1, `Upgrade: websocket`, `Connection: upgrade`, version 13, a
   * 16-byte base64 key), choose a subprotocol and permessage-deflate, write
   * `101 Switching Protocols` and take the connection over from HTTP. A bad
   * handshake is answered here (426 with `Sec-WebSocket-Version: 13` for a
   * missing or other version, 403 when `checkOrigin` refuses, else 400) and
   * null returned. When the server shuts down, the WebSocket is closed with
   * 1001 (going away) within the grace period.
   *
   * @throws {TypeError} if options are malformed
   * @throws {RangeError} if an option is out of range
   */
  static upgrade(req: HttpServerRequest, options?: WebSocketUpgradeOptions): WebSocket | null {
    return upgradeRequest(req, options);
  }

  /**
   * Open a WebSocket connection to a ws:// or wss:// URL (what libevent
   * lacks: libevent #1548): send the upgrade request with the subprotocols,
   * extra fields and permessage-deflate offer asked for, and check the
   * answer (101, the accept key, a subprotocol and extension parameters
   * that were offered). Resolves once open; rejects with a
   * {@linkcode WebSocketError} (`ERR_WS_CONNECT`, `ERR_WS_HANDSHAKE`,
   * `ERR_WS_TIMEOUT`, `ERR_WS_CANCELLED`). The EventBase's loop must run.
   *
   * @throws {TypeError} if url is not a ws(s):// URL or options are malformed
   */
  static connect(base: EventBase, url: string | URL, options?: WebSocketConnectOptions): Promise<WebSocket> {
    return connectRequest(base, url, options);
  }

  // ------------------------------------------------------------ accessors

  /** `"open"`, `"closing"` (a close frame has gone one way) or `"closed"`. */
  get state(): WebSocketState {
    return this.#state;
  }

  /** The subprotocol agreed in the handshake, or "" (the browser's `protocol`). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions agreed, as the handshake's `Sec-WebSocket-Extensions` said them, or "". */
  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes given to send() that have not reached the kernel yet. */
  get bufferedAmount(): number {
    if (this.#state === "closed") return 0;
    const socket = this.#bev.socket;
    return this.#bev.output.length + (socket === null ? 0 : socket.bufferedAmount);
  }

  /** The EventBase the connection runs on. */
  get base(): EventBase {
    return this.#base;
  }

  /** The BufferEvent under the connection (libevent `evws_connection_get_bufferevent`). */
  get bufferEvent(): BufferEvent {
    return this.#bev;
  }

  // ------------------------------------------------------------ callbacks

  /**
   * Set the message callback (libevent's `evws_new_session` cb): text
   * arrives as a string, binary as bytes. Null removes it. `arg` goes to
   * every callback.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setMessageCb<A>(cb: WebSocketMessageCallback<A> | null, arg?: A): void {
    this.#messageCb = checkCb(cb, "cb") as WebSocketMessageCallback | null;
    if (arguments.length > 1) this.#arg = arg;
  }

  /**
   * Set the close callback (libevent `evws_connection_set_closecb`); it runs
   * once, when the connection is over. Null removes it.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setCloseCb<A>(cb: WebSocketCloseCallback<A> | null, arg?: A): void {
    this.#closeCb = checkCb(cb, "cb") as WebSocketCloseCallback | null;
    if (arguments.length > 1) this.#arg = arg;
  }

  /**
   * Hear of pings (answered with a pong automatically, before this runs)
   * and of pongs. Null removes either.
   *
   * @throws {TypeError} if a callback is neither a function nor null
   */
  setControlCbs(ping: WebSocketControlCallback | null, pong: WebSocketControlCallback | null): void {
    this.#pingCb = checkCb(ping, "ping") as WebSocketControlCallback | null;
    this.#pongCb = checkCb(pong, "pong") as WebSocketControlCallback | null;
  }

  /**
   * Receive the errors this connection's callbacks throw (the connection
   * then closes with 1011); by default they are printed on stderr. Null
   * restores that.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setErrorCb<A>(cb: WebSocketErrorCallback<A> | null, arg?: A): void {
    this.#errorCb = checkCb(cb, "cb") as WebSocketErrorCallback | null;
    if (arguments.length > 1) this.#arg = arg;
  }

  /**
   * Called once the unsent bytes drain after a send() returned false. Null
   * removes it.
   *
   * @throws {TypeError} if cb is neither a function nor null
   */
  setDrainCb<A>(cb: WebSocketDrainCallback<A> | null, arg?: A): void {
    this.#drainCb = checkCb(cb, "cb") as WebSocketDrainCallback | null;
    if (arguments.length > 1) this.#arg = arg;
  }

  // ------------------------------------------------------------ sending

  /**
   * Send a text message (libevent `evws_send_text`). Returns false when the
   * unsent bytes are now above `sendHighWaterMark` (the message is queued
   * all the same; wait for the drain callback before sending more), and
   * false without sending when the connection is no longer open.
   *
   * @throws {TypeError} if text is not a string
   */
  sendText(text: string): boolean {
    if (typeof text !== "string") throw new TypeError(`text must be a string, got ${describe(text)}`);
    if (this.#state !== "open") return false;
    const out = this.#bev.output;
    const deflater = this.#deflater;
    if (deflater !== null && text.length * 3 >= this.#threshold) {
      const bytes = encoder.encode(text);
      if (bytes.length >= this.#threshold) {
        writeFrame(out, 0x1, deflater.compress(bytes), true, this.#client);
        return this.#afterSend();
      }
      writeFrame(out, 0x1, bytes, false, this.#client);
      return this.#afterSend();
    }
    writeTextFrame(out, text, this.#client);
    return this.#afterSend();
  }

  /**
   * Send a binary message (libevent `evws_send_binary`). The bytes are
   * sent as they are when they reach the socket: do not change them after
   * this call. Returns as {@linkcode WebSocket.sendText} does.
   *
   * @throws {TypeError} if data is not a Uint8Array
   */
  sendBinary(data: Uint8Array): boolean {
    if (!(data instanceof Uint8Array)) throw new TypeError(`data must be a Uint8Array, got ${describe(data)}`);
    if (this.#state !== "open") return false;
    const deflater = this.#deflater;
    if (deflater !== null && data.length >= this.#threshold) {
      writeFrame(this.#bev.output, OP_BINARY, deflater.compress(data), true, this.#client);
    } else {
      writeFrame(this.#bev.output, OP_BINARY, data, false, this.#client);
    }
    return this.#afterSend();
  }

  /**
   * Send a message: a string as text, bytes as binary.
   *
   * @throws {TypeError} if data is neither a string nor a Uint8Array
   */
  send(data: WebSocketMessage): boolean {
    return typeof data === "string" ? this.sendText(data) : this.sendBinary(data);
  }

  /**
   * Send a ping with up to 125 bytes of payload; the peer answers with a
   * pong (see {@linkcode WebSocket.setControlCbs}). Returns false when the
   * connection is not open.
   *
   * @throws {RangeError} if the payload is over 125 bytes
   */
  ping(data: Uint8Array | string = EMPTY): boolean {
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    if (!(payload instanceof Uint8Array)) throw new TypeError(`data must be bytes or a string, got ${describe(data)}`);
    if (payload.length > 125) throw new RangeError(`a ping carries at most 125 bytes, got ${payload.length}`);
    if (this.#state !== "open") return false;
    writeFrame(this.#bev.output, OP_PING, payload, false, this.#client);
    return true;
  }

  /**
   * Start the closing handshake (libevent `evws_close`): send a close frame
   * with `code` (none when omitted) and `reason`, and close once the peer
   * answers, or after `closeTimeoutMs`. Nothing is sent after it. Does
   * nothing when closing already.
   *
   * @throws {RangeError} if code may not be sent (1000-1003, 1007-1014, 3000-4999 may) or the reason is over 123 UTF-8 bytes
   */
  close(code?: number, reason = ""): void {
    if (code !== undefined && (!Number.isInteger(code) || !isSendableCloseCode(code))) {
      throw new RangeError(`code must be 1000-1003, 1007-1014 or 3000-4999, got ${describe(code)}`);
    }
    if (typeof reason !== "string") throw new TypeError(`reason must be a string, got ${describe(reason)}`);
    const why = encoder.encode(reason);
    if (why.length > 123) throw new RangeError(`reason must be at most 123 UTF-8 bytes, got ${why.length}`);
    if (code === undefined && why.length > 0) throw new RangeError("a reason needs a code");
    if (this.#state !== "open") return;
    this.#sendClose(code ?? CLOSE_NO_STATUS, why);
    this.#state = "closing";
    this.#armCloseTimer();
  }

  /** Drop the connection at once, without a closing handshake (the close callback gets 1006); the base's free() does too. */
  terminate(): void {
    this.#drop(true);
  }

  // ------------------------------------------------------------ reading

  /**
   * Stop delivering messages (and, once 64 KiB wait, reading the socket)
   * until resume(). The connection stays a pending event of its loop
   * meanwhile: a paused WebSocket waits for the application, so
   * `dispatch()` does not return under it.
   */
  pause(): void {
    if (this.#paused || this.#state === "closed") return;
    this.#paused = true;
    this.#reader.halt = true;
    this.#bev.setWatermark(EV_READ, 0, PAUSED_HIGH_WATER);
    (this.#pauseHold ??= new Event<WebSocket>(this.#base, null, 0, WebSocket.#noop, this)).add();
  }

  /** Deliver messages again after pause(). */
  resume(): void {
    if (!this.#paused || this.#state === "closed") return;
    this.#paused = false;
    this.#reader.halt = false;
    this.#pauseHold?.del();
    this.#bev.setWatermark(EV_READ, 0, 0);
    this.#base.defer(() => this.#onReadable());
  }

  /** Whether messages are held back by pause(). */
  get paused(): boolean {
    return this.#paused;
  }

  // ------------------------------------------------------------ internals

  /**
   * Backpressure counts what levent holds (the BufferEvent's output), not
   * the socket's own queue: the write callback runs when the output
   * empties, and a queue the adapter still holds then would leave a drain
   * owed that no later event pays.
   */
  #afterSend(): boolean {
    if (this.#bev.output.length <= this.#opts.sendHighWaterMark) return true;
    this.#wantDrain = true;
    return false;
  }

  #onReadable(): void {
    if (this.#state === "closed" || this.#paused) return;
    const failure = this.#reader.read(this.#bev.input, this.#sink);
    if (failure !== null) {
      this.#fail(failure);
      return;
    }
    // The peer's end is acted on once everything before it was delivered (a paused application reads it later).
    if (this.#peerEnded && !this.#paused) this.#endOfStream();
  }

  /** The TCP stream ended: cleanly after a closing handshake, else abnormally (1006). */
  #endOfStream(): void {
    const r = this.#received;
    if (r !== null) this.#finish(r.code, r.reason, this.#sentClose, false);
    else this.#finish(CLOSE_ABNORMAL, "", false, true);
  }

  #onWritten(): void {
    if (this.#wantDrain && this.#bev.output.length <= this.#opts.sendHighWaterMark) {
      this.#wantDrain = false;
      const cb = this.#drainCb;
      if (cb !== null && this.#state === "open") this.#guard(() => cb(this, this.#arg));
    }
  }

  #onEvent(what: number): void {
    if (this.#state === "closed") return;
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
      this.#endOfStream();
    } else if (what & BEV_EVENT_EOF) {
      // Frames that came before the end are read first.
      this.#peerEnded = true;
      this.#onReadable();
    }
  }

  /** A whole message. */
  #onMessage(text: boolean, data: Uint8Array): void {
    const cb = this.#messageCb;
    if (cb === null) return;
    const message = text ? decoder.decode(data) : data;
    // No closure per message: the guard's work inline.
    try {
      cb(this, message, this.#arg);
    } catch (err) {
      this.#report(err);
    }
  }

  /** A ping, answered at once. */
  #onPing(data: Uint8Array): void {
    if (this.#state === "open") writeFrame(this.#bev.output, OP_PONG, data, false, this.#client);
    const cb = this.#pingCb;
    if (cb !== null) this.#guard(() => cb(this, data, this.#arg));
  }

  /** A pong. */
  #onPong(data: Uint8Array): void {
    this.#awaitingPong = false;
    const cb = this.#pongCb;
    if (cb !== null) this.#guard(() => cb(this, data, this.#arg));
  }

  /** The peer's close frame. */
  #onClose(code: number, reason: string): void {
    this.#received = { code, reason };
    // Answer with the same code (none for none), as RFC 6455 §5.5.1 asks.
    if (!this.#sentClose) this.#sendClose(code, EMPTY);
    if (this.#client) {
      // The server closes the TCP connection first; wait for it, but not forever.
      this.#state = "closing";
      this.#armCloseTimer();
      return;
    }
    this.#finish(code, reason, true, false);
  }

  #sendClose(code: number, reason: Uint8Array): void {
    this.#sentClose = true;
    let payload = EMPTY;
    if (code !== CLOSE_NO_STATUS) {
      payload = new Uint8Array(2 + reason.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(reason, 2);
    }
    writeFrame(this.#bev.output, OP_CLOSE, payload, false, this.#client);
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== null) return;
    const timer = new Event<WebSocket>(this.#base, null, 0, WebSocket.#closeTimeoutCb, this);
    timer.add(this.#opts.closeTimeoutMs);
    this.#closeTimer = timer;
  }

  #onPingTick(): void {
    if (this.#state !== "open") return;
    if (this.#awaitingPong) {
      // No pong since the last ping: the peer is gone.
      this.#drop(true);
      return;
    }
    this.#awaitingPong = true;
    writeFrame(this.#bev.output, OP_PING, EMPTY, false, this.#client);
  }

  /**
   * Run an application callback. One that throws must not take the loop
   * (and every other connection) down: the error goes to the error
   * callback, or to stderr when there is none, as Deno's serve() and Bun's serve()
   * report handler errors, and this connection closes with 1011.
   */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#report(err);
    }
  }

  /** What #guard does with an error a callback threw. */
  #report(err: unknown): void {
    const report = this.#errorCb;
    if (report !== null) {
      try {
        report(this, err, this.#arg);
      } catch {
        // A failing reporter must not become a second error path.
      }
    } else {
      console.error("levent: a WebSocket callback threw:", err);
    }
    if (this.#state === "open") this.close(CLOSE_INTERNAL_ERROR, "internal error");
  }

  /** The peer broke the protocol: close with the code and drop the connection once the frame is out. */
  #fail(failure: FrameFailure): void {
    if (this.#state === "closed") return;
    if (!this.#sentClose) {
      const reason = encoder.encode(failure.reason.slice(0, 100));
      this.#sendClose(failure.code, reason.length <= 123 ? reason : EMPTY);
    }
    this.#finish(failure.code, failure.reason, false, false);
  }

  /** Drop the TCP connection now, unsent bytes and all. */
  #drop(abnormal: boolean): void {
    if (this.#state === "closed") return;
    const r = this.#received;
    this.#finish(abnormal || r === null ? CLOSE_ABNORMAL : r.code, r?.reason ?? "", false, true);
  }

  /** The end: free the BufferEvent (sending what is queued unless `hard`) and tell the close callback once. */
  #finish(code: number, reason: string, clean: boolean, hard: boolean): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    disown(this.#base, this.#releaseByBase);
    this.#closeTimer?.free();
    this.#pingTimer?.free();
    this.#pauseHold?.free();
    this.#closeTimer = this.#pingTimer = this.#pauseHold = null;
    this.#deflater?.close();
    this.#inflater?.close();
    const bev = this.#bev;
    if (bev.state !== "freed") {
      if (hard) bev.abort();
      else bev.free();
    }
    const cb = this.#closeCb;
    this.#closeCb = null;
    if (cb !== null) this.#guard(() => cb(this, code, reason, clean, this.#arg));
  }
}

/** The frame reader's sink for one WebSocket, kept off the WebSocket's own surface. */
class Sink implements FrameSink {
  readonly #ws: WebSocket;
  constructor(ws: WebSocket) {
    this.#ws = ws;
  }
  message(text: boolean, data: Uint8Array): void {
    sinkHooks.message(this.#ws, text, data);
  }
  ping(data: Uint8Array): void {
    sinkHooks.ping(this.#ws, data);
  }
  pong(data: Uint8Array): void {
    sinkHooks.pong(this.#ws, data);
  }
  close(code: number, reason: string): void {
    sinkHooks.close(this.#ws, code, reason);
  }
}

function checkCb(cb: unknown, name: string): unknown {
  if (cb !== null && typeof cb !== "function") throw new TypeError(`${name} must be a function or null`);
  return cb;
}

/** A value for an error message: strings quoted, others by type. */
function describe(v: unknown): string {
  if (typeof v === "string") return `${JSON.stringify(v)} (a string)`;
  if (typeof v === "number") return String(v);
  return v === null ? "null" : typeof v;
}
