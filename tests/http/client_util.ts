/**
 * What the client tests share: a raw-socket HTTP server whose every byte the
 * test writes (so it can send malformed responses, close between requests,
 * answer slowly), a harness that runs an EventBase loop and releases
 * everything at the end, and memory readings.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { autoPlatform } from "../../adapters/auto.ts";
import type { TcpListener, TcpSocket } from "../../src/platform.ts";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import { EventBase, type ManualClock } from "../../src/event/mod.ts";
import { HttpParser, type RequestHead } from "../../src/http/http_parser.ts";
import { HttpConnection, type HttpConnectionOptions } from "../../src/http/http_connection.ts";
import {
  type HttpClientErrorKind,
  HttpClientRequest,
  type HttpClientRequestState,
} from "../../src/http/http_client_request.ts";
import { deferred, within } from "../util.ts";

export const platform: ReturnType<typeof autoPlatform> = autoPlatform();
const latin1 = new TextDecoder("latin1");
const enc = new TextEncoder();

/** A request the raw server received. */
export interface SeenRequest {
  readonly head: RequestHead;
  /** The body, unless the server was told to count it only. */
  readonly body: Uint8Array;
  readonly bodyLength: number;
  /** The field's value, by lowercased name. */
  header(name: string): string | null;
}

/** One accepted connection of the raw server. */
export class RawConn {
  readonly socket: TcpSocket;
  readonly index: number;
  readonly requests: SeenRequest[] = [];
  /** Every byte received, as Latin-1 text (only while `record` is on). */
  received = "";
  record = true;
  closed = false;
  readonly #closed = deferred();
  #drain: (() => void) | null = null;

  constructor(socket: TcpSocket, index: number) {
    this.socket = socket;
    this.index = index;
  }

  /** Resolves once the socket closed. */
  get whenClosed(): Promise<void> {
    return this.#closed.promise;
  }

  write(data: string | Uint8Array): boolean {
    if (this.closed) return false;
    return this.socket.write(typeof data === "string" ? enc.encode(data) : data);
  }

  /** Write, then wait for room if the socket asked to. */
  async writeAndWait(data: Uint8Array): Promise<void> {
    if (this.write(data) || this.closed) return;
    await new Promise<void>((resolve) => (this.#drain = resolve));
  }

  end(): void {
    if (!this.closed) this.socket.end();
  }

  close(): void {
    if (!this.closed) this.socket.close();
  }

  /** @ignore */
  onDrain(): void {
    const d = this.#drain;
    this.#drain = null;
    d?.();
  }

  /** @ignore */
  onClose(): void {
    this.closed = true;
    this.onDrain();
    this.#closed.resolve();
  }
}

/** Options of {@linkcode RawServer.start}. */
export interface RawServerOptions {
  /** Count body bytes without keeping them (large uploads). */
  readonly countBodyOnly?: boolean;
  /** Called with each piece of a request body as it arrives. */
  readonly onBody?: (conn: RawConn, bytes: Uint8Array) => void;
  /** Called once per connection, before any request. */
  readonly onConnect?: (conn: RawConn) => void;
  /** Listen for TLS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/**
 * A server on 127.0.0.1:0 over raw platform sockets. Requests are parsed
 * with levent's request parser (so tests see them whole), and each complete
 * one is handed to `onRequest`, which writes whatever bytes it likes.
 */
export class RawServer {
  readonly conns: RawConn[] = [];
  readonly #listener: TcpListener;

  private constructor(listener: TcpListener) {
    this.#listener = listener;
  }

  get port(): number {
    return this.#listener.address.port;
  }

  static async start(
    onRequest: (req: SeenRequest, conn: RawConn) => void,
    options: RawServerOptions = {},
  ): Promise<RawServer> {
    let server: RawServer | null = null;
    const pendingConns: RawConn[] = [];
    const onAccept = (socket: TcpSocket): void => {
      const conn = new RawConn(socket, server?.conns.length ?? pendingConns.length);
      (server?.conns ?? pendingConns).push(conn);
      const input = new EvBuffer();
      const parser = new HttpParser("request");
      let head: RequestHead | null = null;
      let parts: Uint8Array[] = [];
      let length = 0;
      options.onConnect?.(conn);
      socket.start({
        data(bytes) {
          if (conn.record) conn.received += latin1.decode(bytes);
          input.add(bytes.slice());
          for (;;) {
            const ev = parser.parse(input);
            if (ev.type === "need_more") return;
            if (ev.type === "error") {
              conn.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
              conn.end();
              return;
            }
            if (ev.type === "head") {
              head = ev.head;
              parts = [];
              length = 0;
            } else if (ev.type === "body") {
              length += ev.data.length;
              options.onBody?.(conn, ev.data);
              if (!options.countBodyOnly) parts.push(ev.data.slice());
            } else if (ev.type === "end") {
              const h = head as RequestHead;
              const body = new Uint8Array(options.countBodyOnly ? 0 : length);
              let at = 0;
              for (const p of parts) {
                body.set(p, at);
                at += p.length;
              }
              const seen: SeenRequest = {
                head: h,
                body,
                bodyLength: length,
                header(name: string): string | null {
                  const key = name.toLowerCase();
                  for (let i = 0; i < h.headers.length; i += 2) if (h.headers[i] === key) return h.headers[i + 1];
                  return null;
                },
              };
              conn.requests.push(seen);
              onRequest(seen, conn);
            }
          }
        },
        end() {
          conn.end();
        },
        drain() {
          conn.onDrain();
        },
        error() {},
        close() {
          conn.onClose();
        },
      });
    };
    const tls = options.tls;
    const listener = tls === undefined
      ? await platform.listen({ host: "127.0.0.1", port: 0 }, onAccept)
      : await platform.listenTls({ host: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key }, onAccept);
    server = new RawServer(listener);
    server.conns.push(...pendingConns);
    return server;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.close();
    await this.#listener.close();
  }
}

/** A full response with Content-Length. */
export function response(status: number, body = "", extra: string[] = []): string {
  const reason = status === 200 ? "OK" : status === 404 ? "Not Found" : "Status";
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${enc.encode(body).length}\r\n${
    extra.map((h) => h + "\r\n").join("")
  }\r\n${body}`;
}

/** How a request ended, as the tests look at it. */
export interface Outcome {
  readonly req: HttpClientRequest;
  readonly state: HttpClientRequestState;
  readonly code: number;
  readonly body: string;
  readonly kind: HttpClientErrorKind | null;
  readonly errorCode: string | null;
  /** How many times the request callback ran. */
  readonly cbCalls: number;
}

/**
 * What one client test opens: a base with its loop running, connections and
 * servers. close() frees all of it and reports a callback's error; tests
 * call it in `finally`.
 */
export class Harness {
  readonly base: EventBase;
  readonly clock: ManualClock | undefined;
  readonly #conns: HttpConnection[] = [];
  readonly #servers: RawServer[] = [];
  readonly #loop: Promise<unknown>;
  #loopError: unknown = null;

  constructor(options: { clock?: ManualClock; platform?: typeof platform } = {}) {
    this.clock = options.clock;
    this.base = new EventBase({ platform: options.platform ?? platform, clock: options.clock });
    this.#loop = this.base.loop({ noExitOnEmpty: true }).catch((err) => {
      this.#loopError = err;
    });
  }

  connection(options: Partial<HttpConnectionOptions> & { port: number }): HttpConnection {
    const conn = new HttpConnection(this.base, { host: "127.0.0.1", ...options });
    this.#conns.push(conn);
    return conn;
  }

  async server(
    onRequest: (req: SeenRequest, conn: RawConn) => void,
    options?: RawServerOptions,
  ): Promise<RawServer> {
    const s = await RawServer.start(onRequest, options);
    this.#servers.push(s);
    return s;
  }

  /** Make a request and resolve with how it ended (complete, failed or cancelled). */
  fetch(
    conn: HttpConnection,
    method: string,
    uri: string,
    setup?: (req: HttpClientRequest) => void,
    ms = 10000,
  ): Promise<Outcome> {
    const done = deferred<Outcome>();
    let cbCalls = 0;
    const req = new HttpClientRequest(() => cbCalls++);
    req.setOnCompleteCb((r) => {
      done.resolve({
        cbCalls,
        req: r,
        state: r.state,
        code: r.responseCode,
        body: latin1.decode(r.inputBuffer.pullup()),
        kind: r.errorKind,
        errorCode: r.error?.code ?? null,
      });
    });
    setup?.(req);
    conn.makeRequest(req, method, uri);
    return within(done.promise, ms, `${method} ${uri}`);
  }

  /** Throw the error a callback threw on the loop, if any. */
  check(): void {
    if (this.#loopError !== null) throw this.#loopError;
  }

  async close(): Promise<void> {
    for (const c of this.#conns) c.free();
    for (const s of this.#servers) await s.close();
    this.base.loopBreak();
    await within(this.#loop, 5000, "the loop to stop");
    this.check();
  }
}

/** Resident memory of this process in bytes, or -1 where /proc is missing. */
export function rss(): number {
  if (!existsSync("/proc/self/status")) return -1;
  const m = readFileSync("/proc/self/status", "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m === null ? -1 : Number(m[1]) * 1024;
}

/** Let pending I/O and the loop run for a moment of real time. */
export function tick(ms = 10): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait, in real time, until `cond` holds; fail naming `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const l = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => s.close());
  const port = l.address.port;
  await l.close();
  return port;
}

/** How a {@linkcode ScriptedServer} ends each connection once its bytes are written. */
export type ScriptedEnding = "end" | "reset" | "hold";

/**
 * A server on 127.0.0.1:0 (node:net, on every runtime) that answers every
 * connection with the same bytes, then ends it (`"end"`: FIN), resets it
 * (`"reset"`: RST, once the bytes have had time to arrive) or keeps it open
 * and silent (`"hold"`). For a reset the request is left unread, so the
 * kernel answers the close with RST on every runtime, whatever its
 * resetAndDestroy does.
 */
export class ScriptedServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  static async start(bytes: string | Uint8Array, ending: ScriptedEnding): Promise<ScriptedServer> {
    const data = typeof bytes === "string" ? enc.encode(bytes) : bytes;
    const server = createServer({ pauseOnConnect: true }, (socket) => {
      scripted.#sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => scripted.#sockets.delete(socket));
      if (ending === "reset") {
        socket.write(data, () => setTimeout(() => socket.resetAndDestroy(), 100));
        return;
      }
      // Answer once the request head is in, as a server would.
      let seen = "";
      const onData = (chunk: Uint8Array): void => {
        seen += latin1.decode(chunk);
        if (!seen.includes("\r\n\r\n")) return;
        socket.off("data", onData);
        socket.write(data);
        if (ending === "end") socket.end();
      };
      socket.on("data", onData);
      socket.resume();
    });
    const scripted = new ScriptedServer(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return scripted;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await within(
      new Promise<void>((resolve) => this.#server.close(() => resolve())),
      5000,
      "the scripted server to close",
    );
  }
}

/**
 * Responses whose body does not arrive whole, each with the body bytes that
 * came whole before the fault, how the request must fail, and words its
 * message must hold.
 */
export const BROKEN_BODIES: readonly {
  readonly name: string;
  readonly bytes: string;
  readonly ending: ScriptedEnding;
  readonly body: string;
  readonly code: string;
  readonly kind: HttpClientErrorKind;
  readonly message: RegExp;
}[] = [
  {
    name: "a close before the Content-Length",
    bytes: `HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${"a".repeat(500)}`,
    ending: "end",
    body: "a".repeat(500),
    code: "ERR_INCOMPLETE",
    kind: "eof",
    message: /cut short: the connection closed after 500 of 1000 body bytes/,
  },
  {
    name: "a reset after 500 of 1000 bytes",
    bytes: `HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${"a".repeat(500)}`,
    ending: "reset",
    body: "a".repeat(500),
    code: "ERR_INCOMPLETE",
    kind: "eof",
    message: /cut short: the connection was reset after 500 of 1000 body bytes/,
  },
  {
    name: "a close before the last chunk",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ending: "end",
    body: "hello",
    code: "ERR_INCOMPLETE",
    kind: "eof",
    message: /cut short: the connection closed after 5 body bytes, before the last chunk/,
  },
  ...[["zz", "zz"], ["-5", "-5"], ["21 hex digits", "1".repeat(21)]].map(([name, size]) => ({
    name: `a chunk size of ${name}`,
    bytes: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n${size}\r\nabc\r\n0\r\n\r\n`,
    ending: "end" as const,
    body: "hello",
    code: "ERR_INVALID_CHUNK",
    kind: "invalid_header" as const,
    message: /body from .* is malformed: .*chunk size/,
  })),
  {
    name: "chunk data longer than its size",
    bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloEXTRA\r\n0\r\n\r\n",
    ending: "end",
    body: "hello",
    code: "ERR_INVALID_CHUNK",
    kind: "invalid_header",
    message: /body from .* is malformed: chunk data/,
  },
];
