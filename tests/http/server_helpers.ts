/** Helpers for the HttpServer tests: a server on port 0, a raw socket client, a small response splitter. */
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { HttpServer, type HttpServerOptions } from "../../src/http/mod.ts";
import type { Clock, TcpSocket } from "../../src/platform.ts";
import { deferred, within } from "../util.ts";

export const platform = autoPlatform();

/** A running server on 127.0.0.1 with a random port, and its loop. */
export interface TestServer {
  readonly base: EventBase;
  readonly server: HttpServer;
  readonly port: number;
  /** Free the server and wait for its loop to end. */
  stop(): Promise<void>;
}

/** Make a server, let `setup` configure it, bind it to 127.0.0.1:0 and run its loop. */
export async function startServer(
  setup: (server: HttpServer, base: EventBase) => void,
  options: HttpServerOptions = {},
  clock?: Clock,
): Promise<TestServer> {
  const base = new EventBase({ platform, clock });
  const server = new HttpServer(base, options);
  setup(server, base);
  const handle = await server.bind("127.0.0.1", 0);
  const loop = base.dispatch();
  let failure: unknown = null;
  loop.catch((err) => {
    failure = err;
  });
  return {
    base,
    server,
    port: handle.address.port,
    async stop() {
      server.free();
      await within(loop, 5000, "the server loop to end");
      if (failure !== null) throw failure;
    },
  };
}

/** Bytes as a Latin-1 string: one char per byte, so byte counts stay exact. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  }
  return s;
}

const encoder = new TextEncoder();

/** A client on a raw platform socket that records every byte the server sends. */
export class RawClient {
  readonly socket: TcpSocket;
  /** Everything received, as Latin-1. */
  text = "";
  /** Resolves when the server's side closed (EOF or close). */
  readonly ended: Promise<void>;
  /** Resolves when the socket is closed for good. */
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];
  #endedFlag = false;

  private constructor(socket: TcpSocket) {
    this.socket = socket;
    const ended = deferred();
    const closed = deferred();
    this.ended = ended.promise;
    this.closed = closed.promise;
    socket.start({
      data: (bytes) => {
        this.text += latin1(bytes);
        this.#wake();
      },
      end: () => {
        this.#endedFlag = true;
        ended.resolve();
        this.#wake();
        socket.end();
      },
      drain: () => this.#wake(),
      error: () => {},
      close: () => {
        this.#endedFlag = true;
        ended.resolve();
        closed.resolve();
        this.#wake();
      },
    });
  }

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect"));
  }

  /** Whether the server ended its side. */
  get isEnded(): boolean {
    return this.#endedFlag;
  }

  /** Send a string (as Latin-1 when it is, else UTF-8) or bytes. */
  send(data: string | Uint8Array): boolean {
    if (typeof data !== "string") return this.socket.write(data);
    // deno-lint-ignore no-control-regex
    const bytes = /^[\x00-\xff]*$/.test(data) ? Uint8Array.from(data, (c) => c.charCodeAt(0)) : encoder.encode(data);
    return this.socket.write(bytes);
  }

  /** Send bytes, waiting for drain when the socket asks to. */
  async sendAll(bytes: Uint8Array): Promise<void> {
    if (!this.socket.write(bytes)) await this.#next(10000, "drain");
  }

  /** Wait until `pred(text)` holds. */
  async waitFor(pred: (text: string) => boolean, ms = 5000, what = "the server's bytes"): Promise<string> {
    const deadline = Date.now() + ms;
    while (!pred(this.text)) {
      const left = deadline - Date.now();
      if (left <= 0 || (this.#endedFlag && !pred(this.text))) {
        if (pred(this.text)) break;
        throw new Error(`timed out or ended waiting for ${what}; got ${JSON.stringify(this.text.slice(0, 2000))}`);
      }
      await this.#next(left, what).catch(() => {});
    }
    return this.text;
  }

  /** Wait for `n` complete responses (`heads[i]` true for an answer to HEAD) and return them. */
  async responses(n: number, heads: readonly boolean[] = [], ms = 5000): Promise<ParsedResponse[]> {
    let parsed: ParsedResponse[] = [];
    await this.waitFor(
      (t) => {
        parsed = splitResponses(t, heads, this.#endedFlag).responses;
        return parsed.length >= n;
      },
      ms,
      `${n} responses`,
    );
    return parsed.slice(0, n);
  }

  /** Wait for the server to end the connection. */
  async waitEnd(ms = 5000): Promise<void> {
    await within(this.ended, ms, "the server to end the connection");
  }

  close(): void {
    this.socket.close();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #next(ms: number, what: string): Promise<void> {
    return within(new Promise<void>((resolve) => this.#waiters.push(resolve)), ms, what);
  }
}

/** One response as the client saw it. */
export interface ParsedResponse {
  readonly status: number;
  readonly reason: string;
  /** Lowercased names, repeated fields joined with ", ". */
  readonly headers: Record<string, string>;
  /** Field names as sent, in order. */
  readonly names: string[];
  /** The body, chunked coding removed. */
  readonly body: string;
  /** The data of each chunk, when chunked. */
  readonly chunks: string[] | null;
  /** The whole response as sent. */
  readonly raw: string;
}

/**
 * Split the bytes received into responses; 1xx responses count as
 * responses. `heads[i]` says the i-th final response answers a HEAD.
 * A body without length is complete only once `ended`.
 */
export function splitResponses(
  text: string,
  heads: readonly boolean[] = [],
  ended = false,
): { responses: ParsedResponse[]; rest: string } {
  const responses: ParsedResponse[] = [];
  let pos = 0;
  let finals = 0;
  for (;;) {
    const end = text.indexOf("\r\n\r\n", pos);
    if (end < 0) break;
    const lines = text.slice(pos, end).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
    if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    const names: string[] = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon);
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      names.push(name);
      headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
    }
    let at = end + 4;
    let body = "";
    let chunks: string[] | null = null;
    const interim = status < 200;
    const noBody = interim || status === 204 || status === 304 || heads[finals] === true;
    if (!noBody) {
      if (headers["transfer-encoding"] === "chunked") {
        chunks = [];
        let complete = false;
        for (;;) {
          const lineEnd = text.indexOf("\r\n", at);
          if (lineEnd < 0) break;
          const size = parseInt(text.slice(at, lineEnd), 16);
          if (size === 0) {
            if (text.slice(lineEnd + 2, lineEnd + 4) !== "\r\n") break;
            at = lineEnd + 4;
            complete = true;
            break;
          }
          if (text.length < lineEnd + 2 + size + 2) break;
          chunks.push(text.slice(lineEnd + 2, lineEnd + 2 + size));
          at = lineEnd + 2 + size + 2;
        }
        if (!complete) break;
        body = chunks.join("");
      } else if (headers["content-length"] !== undefined) {
        const n = Number(headers["content-length"]);
        if (text.length < at + n) break;
        body = text.slice(at, at + n);
        at += n;
      } else {
        if (!ended) break;
        body = text.slice(at);
        at = text.length;
      }
    }
    responses.push({ status, reason: m[2], headers, names, body, chunks, raw: text.slice(pos, at) });
    if (!interim) finals++;
    pos = at;
  }
  return { responses, rest: text.slice(pos) };
}

/** A GET request with a Host header. */
export function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}
