/**
 * The Web bridge: run a fetch-style handler (`Request` in, `Response` out,
 * as Deno's and Bun's serve functions and Hono's `app.fetch` use) on levent's
 * HttpServer, on any runtime. Both bodies stream with flow control: the
 * request body reaches the handler as a ReadableStream that pauses reading
 * from the client while it is not pulled, and the response body is sent
 * chunk by chunk, reading the next chunk once the last one was handed to the
 * socket.
 *
 * @module
 */
import { EventBase } from "../event/event_base.ts";
import type { NetAddress, Platform } from "../platform.ts";
import type { BoundSocket } from "./server.ts";
import { HttpServer } from "./server.ts";
import type { ServerRequest } from "./server_request.ts";

/** What the handler learns besides the Request. */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: NetAddress;
  /** The levent request underneath, for what the Web types cannot say. */
  readonly request: ServerRequest;
}

/** A fetch-style handler. */
export type ServeHandler = (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>;

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /** The address to bind (default `"127.0.0.1"`). */
  readonly hostname?: string;
  /** The port (default 8000; 0 picks a free one). */
  readonly port?: number;
  /** Serve TLS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Run on this loop (its caller dispatches it); by default serve() makes one and runs it. */
  readonly base?: EventBase;
  /**
   * The platform for the loop serve() makes; by default the registered one
   * (importing levent's root module registers the runtime's adapter).
   */
  readonly platform?: Platform;
  /** Stop serving when this signal aborts (as in Deno's serve()). */
  readonly signal?: AbortSignal;
  /** Called once bound, with the real address. */
  readonly onListen?: (address: NetAddress) => void;
  /**
   * Turn a handler failure into a response; by default a plain 500. What
   * onError throws ends the connection.
   */
  readonly onError?: (error: unknown) => Response | Promise<Response>;
}

/** A running {@linkcode serve}. */
export interface WebServer {
  /** The bound address. */
  readonly address: NetAddress;
  /** The HttpServer underneath (limits, timeouts...). */
  readonly server: HttpServer;
  /** Resolves once the server has shut down. */
  readonly finished: Promise<void>;
  /** Stop accepting, finish in-flight requests, close idle connections. */
  shutdown(): Promise<void>;
}

/** Methods whose requests carry no body a handler may read. */
const NO_BODY = new Set(["GET", "HEAD"]);
/** Response headers the HttpServer writes itself. */
const MANAGED = new Set(["content-length", "transfer-encoding", "connection", "date"]);

/**
 * Serve `handler` on levent's HttpServer (the counterpart of Deno's and Bun's `serve`
 * and of `http.createServer`, the same on every runtime).
 *
 * @example
 * ```ts ignore
 * import { serve } from "@levent/levent";
 * const server = await serve((req) => new Response(`you asked for ${new URL(req.url).pathname}`), { port: 8000 });
 * console.log(`listening on http://127.0.0.1:${server.address.port}`);
 * await server.finished;
 * ```
 *
 * @throws {TypeError} if handler is not a function
 * @throws a coded platform Error (as a rejection) when binding fails, e.g. `EADDRINUSE`
 */
export async function serve(handler: ServeHandler, options: ServeOptions = {}): Promise<WebServer> {
  if (typeof handler !== "function") throw new TypeError("handler must be a function");
  const base = options.base ?? new EventBase({ platform: options.platform });
  const server = new HttpServer(base);
  const scheme = options.tls === undefined ? "http" : "https";
  const host = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8000;
  let bound: BoundSocket;
  try {
    bound = options.tls === undefined ? await server.bind(host, port) : await server.bindTls(host, port, options.tls);
  } catch (err) {
    server.free();
    throw err;
  }
  const authority = `${
    bound.address.family === 6 ? `[${bound.address.host}]` : bound.address.host
  }:${bound.address.port}`;
  server.setGenCb((req) => void handle(req), { streamBody: true });

  async function handle(req: ServerRequest): Promise<void> {
    const abort = new AbortController();
    req.setCloseCb(() => abort.abort());
    let response: Response;
    try {
      response = await handler(toRequest(req, scheme, authority, abort.signal), { remoteAddr: req.peer, request: req });
      if (!(response instanceof Response)) throw new TypeError("the handler did not return a Response");
    } catch (err) {
      try {
        response = options.onError !== undefined
          ? await options.onError(err)
          : new Response("Internal Server Error", { status: 500 });
      } catch {
        if (req.responseState === "none") req.sendError(500);
        return;
      }
    }
    await send(req, response, abort.signal);
  }

  const ownLoop = options.base === undefined ? base.dispatch() : undefined;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    stopping ??= server.shutdown().then(async () => {
      // serve()'s own loop ends once the server holds no events.
      await ownLoop;
      resolveFinished();
    });
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  options.onListen?.(bound.address);
  return { address: bound.address, server, finished, shutdown };
}

/** The Web Request for a levent request; its body streams from the connection. */
function toRequest(req: ServerRequest, scheme: string, authority: string, signal: AbortSignal): Request {
  const target = req.uri;
  const url = target.startsWith("/") ? `${scheme}://${req.getHost() ?? authority}${target}` : target;
  const headers = new Headers();
  req.inputHeaders.forEach((value, name) => headers.append(name, value));
  const init: RequestInit & { duplex?: "half" } = { method: req.method, headers, signal };
  if (!NO_BODY.has(req.method)) {
    init.body = bodyStream(req);
    init.duplex = "half";
  }
  return new Request(url, init);
}

/** The request body as a byte stream: reading from the client pauses while the stream is full. */
function bodyStream(req: ServerRequest): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const pump = (): void => {
        const input = req.inputBuffer;
        const n = input.length;
        if (n > 0) {
          // EvBuffer never writes over bytes it handed out, so its segments can be enqueued as they are.
          for (const view of input.peek(n)) controller.enqueue(view);
          input.drain(n);
        }
        const state = req.bodyState;
        if (state === "complete") controller.close();
        else if (state === "aborted") controller.error(new Error("the request body was cut short"));
        else if ((controller.desiredSize ?? 1) <= 0) req.pauseBody();
      };
      req.setBodyCb(pump);
      pump();
    },
    pull() {
      if (req.bodyState === "paused") req.resumeBody();
    },
    cancel() {
      req.setBodyCb(null);
    },
  }, { highWaterMark: 4 });
}

/** Write a Web Response: one reply when its body is one chunk, else a streamed one paced by flushes. */
async function send(req: ServerRequest, response: Response, signal: AbortSignal): Promise<void> {
  const out = req.outputHeaders;
  response.headers.forEach((value, name) => {
    if (!MANAGED.has(name)) out.add(name, value);
  });
  const declared = response.headers.get("content-length");
  const status = response.status;
  const reason = response.statusText || undefined;
  if (response.body === null) {
    req.sendReply(status, reason);
    return;
  }
  const reader = response.body.getReader();
  try {
    const first = await reader.read();
    if (first.done) {
      req.sendReply(status, reason);
      return;
    }
    const second = await reader.read();
    if (second.done) {
      req.sendReply(status, reason, first.value);
      return;
    }
    if (declared !== null) out.set("Content-Length", declared);
    req.sendReplyStart(status, reason);
    await chunk(req, first.value);
    let next: ReadableStreamReadResult<Uint8Array> = second;
    while (!next.done && !signal.aborted) {
      await chunk(req, next.value);
      next = await reader.read();
    }
    if (signal.aborted) await reader.cancel();
    else req.sendReplyEnd();
  } catch {
    // The body's source failed: end the connection rather than let a truncated body pass for whole.
    if (req.responseState === "none") req.sendError(500);
    else req.closeConnection();
  } finally {
    reader.releaseLock();
  }
}

/** Send one chunk and wait until it was handed to the socket. */
function chunk(req: ServerRequest, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => req.sendReplyChunk(data, resolve));
}
