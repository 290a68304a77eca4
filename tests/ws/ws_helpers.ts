/**
 * Helpers for the WebSocket tests: a levent echo server on port 0, and a
 * raw client that does the handshake itself and then sends and reads
 * frames byte by byte, so every malformed frame can be crafted.
 */
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { HttpServer } from "../../src/http/mod.ts";
import type { TcpSocket } from "../../src/platform.ts";
import { WebSocket, type WebSocketUpgradeOptions } from "../../src/ws/mod.ts";
import { concat, deferred, within } from "../util.ts";

export const platform = autoPlatform();
const enc = new TextEncoder();

/** A running levent WebSocket server: `/echo` echoes every message (text as text, binary as binary). */
export interface WsServer {
  readonly base: EventBase;
  readonly http: HttpServer;
  readonly port: number;
  /** Each close the server side saw: code, reason, wasClean. */
  readonly closes: { code: number; reason: string; clean: boolean }[];
  /** The server-side WebSockets, in order of arrival. */
  readonly sockets: WebSocket[];
  stop(): Promise<void>;
}

/** Start an echo server with `options` for each upgrade; `setup` may add routes. */
export async function startWsServer(
  options: WebSocketUpgradeOptions = {},
  setup?: (http: HttpServer, base: EventBase) => void,
): Promise<WsServer> {
  const base = new EventBase({ platform });
  const http = new HttpServer(base);
  const closes: WsServer["closes"] = [];
  const sockets: WebSocket[] = [];
  http.setCb("/echo", (req) => {
    const ws = WebSocket.upgrade(req, options);
    if (ws === null) return;
    sockets.push(ws);
    ws.setMessageCb((w, data) => w.send(data));
    ws.setCloseCb((_w, code, reason, clean) => closes.push({ code, reason, clean }));
  });
  setup?.(http, base);
  const handle = await http.bind("127.0.0.1", 0);
  const loop = base.dispatch();
  let failure: unknown = null;
  loop.catch((err) => (failure = err));
  return {
    base,
    http,
    port: handle.address.port,
    closes,
    sockets,
    async stop() {
      http.free();
      for (const ws of sockets) ws.terminate();
      await within(loop, 5000, "the server loop to end");
      if (failure !== null) throw failure;
    },
  };
}

/** A frame as the raw client reads it. */
export interface RawFrame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Uint8Array;
}

/** What to send in a frame; defaults: fin, no rsv, masked with a fixed key. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Uint8Array | string;
  readonly fin?: boolean;
  readonly rsv?: number;
  readonly mask?: boolean;
  /** Claim this length in the header instead of the payload's own (for lying headers). */
  readonly length?: number | bigint;
}

/** Encode a frame as a client (or, with mask false, as a server) would. */
export function encodeFrame(spec: FrameSpec): Uint8Array {
  const payload = typeof spec.payload === "string" ? enc.encode(spec.payload) : spec.payload ?? new Uint8Array(0);
  const fin = spec.fin ?? true;
  const mask = spec.mask ?? true;
  const len = spec.length ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const m = mask ? 0x80 : 0;
  if (typeof len === "bigint" || len > 65535) {
    head.push(m | 127);
    const big = BigInt(len);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(i * 8)) & 0xffn));
  } else if (len > 125) {
    head.push(m | 126, len >>> 8, len & 0xff);
  } else {
    head.push(m | len);
  }
  const key = [0x37, 0xfa, 0x21, 0x3d];
  if (mask) head.push(...key);
  const body = new Uint8Array(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = mask ? payload[i] ^ key[i & 3] : payload[i];
  return concat([Uint8Array.from(head), body]);
}

/** A close frame's payload: code and reason. */
export function closePayload(code: number, reason: string | Uint8Array = ""): Uint8Array {
  const why = typeof reason === "string" ? enc.encode(reason) : reason;
  return concat([Uint8Array.from([code >>> 8, code & 0xff]), why]);
}

/** A client that speaks raw WebSocket frames over a platform socket. */
export class RawWsClient {
  readonly socket: TcpSocket;
  #buf: Uint8Array = new Uint8Array(0);
  #waiters: (() => void)[] = [];
  #ended = false;
  /** The handshake's answer head, as text. */
  head = "";
  readonly ended: Promise<void>;

  private constructor(socket: TcpSocket) {
    this.socket = socket;
    const ended = deferred();
    this.ended = ended.promise;
    socket.start({
      data: (bytes) => {
        this.#buf = concat([this.#buf, bytes.slice()]);
        this.#wake();
      },
      end: () => {
        this.#ended = true;
        ended.resolve();
        this.#wake();
      },
      drain: () => {},
      error: () => {
        this.#ended = true;
        ended.resolve();
        this.#wake();
      },
      close: () => {
        this.#ended = true;
        ended.resolve();
        this.#wake();
      },
    });
  }

  /** Connect and send `request` raw; resolves with the client once the answer head is in. */
  static async open(port: number, request: string | Uint8Array): Promise<RawWsClient> {
    const socket = await within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect");
    const c = new RawWsClient(socket);
    socket.write(typeof request === "string" ? enc.encode(request) : request);
    await c.#until(() => c.#headEnd() >= 0 || c.#ended, 5000, "the handshake answer");
    const end = c.#headEnd();
    if (end >= 0) {
      c.head = new TextDecoder().decode(c.#buf.subarray(0, end + 4));
      c.#buf = c.#buf.subarray(end + 4);
    } else {
      c.head = new TextDecoder().decode(c.#buf);
    }
    return c;
  }

  /** Connect with a valid handshake to `path` (extra request lines in `extra`). */
  static async connect(port: number, path = "/echo", extra = ""): Promise<RawWsClient> {
    const c = await RawWsClient.open(port, upgradeRequest(path, extra));
    if (!c.head.startsWith("HTTP/1.1 101 ")) throw new Error(`handshake refused: ${c.head}`);
    return c;
  }

  send(spec: FrameSpec): void {
    this.socket.write(encodeFrame(spec));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server, or null once the connection ended without one. */
  async next(ms = 5000): Promise<RawFrame | null> {
    let frame: RawFrame | null = null;
    await this.#until(() => (frame = this.#parse()) !== null || this.#ended, ms, "a frame");
    return frame ?? this.#parse();
  }

  /** The next frame that is not a ping or pong. */
  async nextData(ms = 5000): Promise<RawFrame | null> {
    for (;;) {
      const f = await this.next(ms);
      if (f === null || (f.opcode !== 0x9 && f.opcode !== 0xa)) return f;
    }
  }

  /** Wait for the server's close frame; returns its code (1005 when none) and reason, checking the TCP connection ends. */
  async expectClose(ms = 5000): Promise<{ code: number; reason: string }> {
    for (;;) {
      const f = await this.next(ms);
      if (f === null) throw new Error("the connection ended without a close frame");
      if (f.opcode !== 0x8) continue;
      const code = f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
      const reason = new TextDecoder().decode(f.payload.subarray(2));
      await within(this.ended, ms, "the TCP connection to end after the close frame");
      return { code, reason };
    }
  }

  get isEnded(): boolean {
    return this.#ended;
  }

  close(): void {
    this.socket.close();
  }

  #headEnd(): number {
    const b = this.#buf;
    for (let i = 0; i + 3 < b.length; i++) {
      if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
    }
    return -1;
  }

  #parse(): RawFrame | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    let len = b[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = (b[2] << 8) | b[3];
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
      at = 10;
    }
    const masked = (b[1] & 0x80) !== 0;
    const keyAt = at;
    if (masked) at += 4;
    if (b.length < at + len) return null;
    const payload = b.slice(at, at + len);
    if (masked) { for (let i = 0; i < len; i++) payload[i] ^= b[keyAt + (i & 3)]; }
    this.#buf = b.subarray(at + len);
    return { fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7, opcode: b[0] & 0x0f, masked, payload };
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await within(new Promise<void>((r) => this.#waiters.push(r)), left, what).catch(() => {});
    }
  }
}

/** A valid upgrade request for `path`. */
export function upgradeRequest(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}
