/**
 * The Web bridge: run a fetch-style handler (`Request` in, `Response` out,
 * as Deno's and Bun's serve functions and Hono's `app.fetch` use) on levent's
 * HttpServer, on any runtime. Both bodies stream with flow control: the
 * request body reaches the handler as a ReadableStream that pauses reading
 * from the client while it is not pulled, and the response body is sent
 * chunk by chunk, each chunk as soon as it is read, reading the next one once
 * the last was handed to the socket. A body that is complete by the loop's
 * next turn for I/O (a string, bytes, a Blob) goes out whole, with its
 * Content-Length; any other body streams from that turn on, so a handler
 * that writes one chunk and then waits (server-sent events) has its head and
 * that chunk sent at once.
 *
 * The handler's Request costs only what the handler reads of it: it is a
 * light object that is `instanceof Request` and builds the runtime's own
 * Request on first use of anything past method, url, headers and signal
 * (`serve_request.ts`). Where the runtime tells (Deno,
 * {@linkcode Platform.wholeBody}), a Response made with a string or bytes
 * is sent without a stream around its body.
 *
 * A Response without a Content-Type is sent with the type its body implies
 * (`text/plain;charset=UTF-8` for a string, as the Fetch standard says, also
 * on Bun whose Response leaves it out), never the HttpServer's default. A
 * HEAD answer carries the GET's length when the Response reveals it (a body
 * that is whole at once, or a Content-Length header), else no length.
 *
 * @module
 */
import { checkFunction, checkObject, checkPort, checkString, typeError } from "../check.ts";
import { EventBase } from "../event/event_base.ts";
import type { NetAddress, Platform } from "../platform.ts";
import type { BoundSocket } from "./http_server.ts";
import { HttpServer, reportError } from "./http_server.ts";
import type { HttpServerRequest } from "./http_server_request.ts";
import type { HttpCompressOption } from "./content_encoding.ts";
import { ServeRequest } from "./serve_request.ts";

/** What the handler learns besides the Request. */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: NetAddress;
  /** The levent request underneath, for what the Web types cannot say. */
  readonly request: HttpServerRequest;
}

/** A fetch-style handler. */
export type ServeHandler = (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>;

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /**
   * The address to bind. Default `"0.0.0.0"`: every IPv4 interface, as
   * Deno's serve() binds (Bun's serve() and Node's `listen(port)` bind `"::"`), so a
   * server in a container or VM is reachable from outside it. Pass
   * `"127.0.0.1"` to serve this machine only.
   */
  readonly hostname?: string;
  /** The port, a number or a string of digits such as `PORT` from the environment (default 8000; 0 picks a free one). */
  readonly port?: number | string;
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
  /**
   * Called once bound, with the real address. Without it serve() prints
   * `Listening on http://HOST:PORT/` on stderr, as Deno's serve() does (with
   * a `localhost` URL beside a wildcard address); pass `() => {}` for
   * silence.
   */
  readonly onListen?: (address: NetAddress) => void;
  /**
   * Turn a handler failure (a throw, a rejection, a return value that is
   * not a Response) into a response. Without it the failure is printed on
   * stderr with the request's method and target, as Deno's serve() and
   * Bun's serve() print it, and answered with a plain 500. What onError throws
   * ends the connection and is printed. Failures with no response left to
   * give (a body stream that fails once sending began) are printed, or go
   * to `server.setErrorLogger`'s logger when one is set.
   */
  readonly onError?: (error: unknown) => Response | Promise<Response>;
  /**
   * Compress responses the client accepts compressed (gzip, br, deflate),
   * as Deno's serve() does: true, a filter, or options; see
   * {@linkcode HttpServer.setCompression}. Default false.
   */
  readonly compress?: HttpCompressOption;
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
  /** {@linkcode WebServer.shutdown}, then the end of serve()'s own loop: for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Response headers the HttpServer writes itself (a valid Content-Length is passed on apart). */
const MANAGED = new Set(["content-length", "transfer-encoding", "connection", "date"]);
/** A Content-Length the HttpServer accepts: decimal digits only. */
const DECIMAL = /^[0-9]+$/;
/** The type the Fetch standard gives a string body (extract a body: USVString). */
const TEXT_TYPE = "text/plain;charset=UTF-8";
/** What a wait loses a race to once the client has gone. */
const GONE: unique symbol = Symbol("gone");

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
 * @throws {TypeError} (as a rejection) if handler is not a function or options not an object
 * @throws a coded platform Error (as a rejection) when binding fails, e.g. `EADDRINUSE`
 */
export async function serve(handler: ServeHandler, options: ServeOptions = {}): Promise<WebServer> {
  checkFunction(handler, "handler");
  checkObject(options, "options");
  const host = options.hostname === undefined ? "0.0.0.0" : checkString(options.hostname, "options.hostname");
  const port = options.port === undefined ? 8000 : checkPort(options.port, "options.port");
  const base = options.base ?? new EventBase({ platform: options.platform });
  // A Response without a type must not get evhttp's text/html default: it gets what its body implies, or none.
  const server = new HttpServer(base, { defaultContentType: null, compress: options.compress });
  const scheme = options.tls === undefined ? "http" : "https";
  let bound: BoundSocket;
  try {
    bound = options.tls === undefined ? await server.bind(host, port) : await server.bindTls(host, port, options.tls);
  } catch (err) {
    server.free();
    throw err;
  }
  const origin = `${scheme}://${
    bound.address.family === 6 ? `[${bound.address.host}]` : bound.address.host
  }:${bound.address.port}`;
  server.setGenCb(handle, { streamBody: true });

  function handle(req: HttpServerRequest): void {
    const request = new ServeRequest(req, origin) as unknown as Request;
    let result: Response | Promise<Response>;
    try {
      result = handler(request, { remoteAddr: req.peer, request: req });
    } catch (err) {
      void failed(req, request, err);
      return;
    }
    // A Response returned at once is sent in this turn, without a Promise in between.
    if (result instanceof Response) respond(req, request, result);
    else Promise.resolve(result).then((r) => respond(req, request, r), (err) => failed(req, request, err));
  }

  function respond(req: HttpServerRequest, request: Request, response: unknown): void {
    try {
      if (!(response instanceof Response)) throw typeError("the handler's return value", "a Response", response);
      // A protocol switch (upgradeWebSocket's Response): its owner takes the connection over.
      const takeOver = takeOvers.get(response);
      if (takeOver !== undefined) {
        takeOvers.delete(response);
        // After the request's head is handled (its empty body read), as when the handler's Promise settles.
        Promise.resolve(req).then(takeOver).catch((err) => failed(req, request, err));
        return;
      }
    } catch (err) {
      void failed(req, request, err);
      return;
    }
    deliver(req, request, response);
  }

  /** A handler failure: printed and answered 500, or what onError returns. */
  async function failed(req: HttpServerRequest, request: Request, err: unknown): Promise<void> {
    let response: Response;
    if (options.onError === undefined) {
      reportError(server, err, req);
      response = new Response("Internal Server Error", { status: 500 });
    } else {
      try {
        response = await options.onError(err);
      } catch (failure) {
        reportError(server, failure, req);
        if (req.responseState === "none") req.sendError(500);
        return;
      }
    }
    deliver(req, request, response);
  }

  function deliver(req: HttpServerRequest, request: Request, response: Response): void {
    let reading: Promise<void> | undefined;
    try {
      reading = send(req, response, request, base.platform);
    } catch (err) {
      unsent(req, err);
      return;
    }
    reading?.catch((err) => unsent(req, err));
  }

  /** A Response the HttpServer cannot send (Response.error() has status 0), or a body source that failed. */
  function unsent(req: HttpServerRequest, err: unknown): void {
    reportError(server, err, req);
    if (req.responseState === "none") req.sendError(500);
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
  if (options.onListen !== undefined) options.onListen(bound.address);
  else console.error(`Listening on ${listeningUrls(scheme, bound.address)}`);
  return { address: bound.address, server, finished, shutdown, [Symbol.asyncDispose]: shutdown };
}

/** What serve() prints once bound: the URL, and a `localhost` one beside a wildcard address, as Deno's serve() prints. */
function listeningUrls(scheme: string, address: NetAddress): string {
  const url = (host: string): string => `${scheme}://${address.family === 6 ? `[${host}]` : host}:${address.port}/`;
  const wildcard = address.host === "0.0.0.0" || address.host === "::";
  return wildcard ? `${url(address.host)} (${scheme}://localhost:${address.port}/)` : url(address.host);
}

export { serverRequestOf } from "./serve_request.ts";

/** Responses that stand for a protocol switch, with what takes the connection over instead of sending them. */
const takeOvers = new WeakMap<Response, (req: HttpServerRequest) => void>();

/**
 * Mark `response` as a protocol switch: when a handler returns it, serve()
 * does not send it but calls `takeOver(req)` with the HttpServer request,
 * which answers (a 101) and takes the connection. Not part of the public
 * API.
 */
export function onReturnTakeOver(response: Response, takeOver: (req: HttpServerRequest) => void): void {
  takeOvers.set(response, takeOver);
}

/**
 * Whether this runtime's Response leaves a string body without a type (Bun
 * does, and keeps no trace of the body's kind either): then a body that is
 * complete at once is taken for text, the kind Bun's own `blob().type` names.
 */
let untypedText: boolean | undefined;
function stringsUntyped(): boolean {
  return untypedText ??= new Response("").headers.get("content-type") === null;
}

/**
 * A streamed body being looked at until the loop's next turn for I/O: if the
 * turn comes before it is known whole, the reply's head goes out then.
 */
class Lookahead {
  readonly req: HttpServerRequest;
  readonly status: number;
  readonly reason: string | undefined;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly request: Request;
  /** Chunks read ahead, not yet sent. */
  readonly held: Uint8Array[] = [];
  /** The turn came first: the head was sent (and for HEAD, the end), the body streams from now on. */
  late = false;
  /** Once late: the flush of the last chunk sent, or null. */
  flushed: Promise<void> | null = null;

  constructor(
    req: HttpServerRequest,
    status: number,
    reason: string | undefined,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    request: Request,
  ) {
    this.req = req;
    this.status = status;
    this.reason = reason;
    this.reader = reader;
    this.request = request;
  }

  /** The turn for I/O came: a reply still undecided starts streaming. */
  turn(): void {
    const req = this.req;
    if (req.responseState !== "none") return;
    this.late = true;
    req.sendReplyStart(this.status, this.reason);
    if (req.method === "HEAD") {
      // The head tells what a GET would get; the body is never sent, so stop its source.
      req.sendReplyEnd();
      this.reader.cancel().catch(() => {});
      return;
    }
    const held = this.held;
    const last = held.length - 1;
    for (let i = 0; i < last; i++) req.sendReplyChunk(held[i]);
    if (last >= 0) this.flushed = chunk(req, held[last]);
    held.length = 0;
    // A read still under way when the client goes is not raced by stream(): cancelling the body ends it.
    const reader = this.reader;
    const signal = this.request.signal;
    const cancel = (): void => void reader.cancel().catch(() => {});
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", cancel, { once: true });
  }
}

/** The lookaheads of this turn, per platform: one yieldToIo per turn, shared by the responses of that turn. */
const lookaheads = new WeakMap<Platform, Lookahead[]>();
function watchTurn(platform: Platform, lookahead: Lookahead): void {
  let list = lookaheads.get(platform);
  if (list === undefined) {
    const batch: Lookahead[] = list = [];
    lookaheads.set(platform, batch);
    platform.yieldToIo(() => {
      lookaheads.delete(platform);
      for (let i = 0; i < batch.length; i++) batch[i].turn();
    });
  }
  list.push(lookahead);
}

/**
 * Write a Web Response. A body complete by the loop's next turn for I/O goes
 * out as one reply with its length (at once, for a body the runtime holds
 * whole or none); anything else goes out as a streamed reply from then on,
 * each chunk as soon as it is read, paced by flushes. Returns the Promise of
 * the body's reading, or undefined when the reply was given at once.
 */
function send(
  req: HttpServerRequest,
  response: Response,
  request: Request,
  platform: Platform,
): Promise<void> | undefined {
  const out = req.outputHeaders;
  let typed = false;
  let declared: string | null = null;
  response.headers.forEach((value, name) => {
    if (MANAGED.has(name)) {
      if (name === "content-length") declared = value;
      return;
    }
    if (name === "content-type") typed = true;
    out.add(name, value);
  });
  const status = response.status;
  const reason = response.statusText || undefined;
  // The declared length frames a streamed body and is what a HEAD answer tells; a one-piece GET body states its own.
  const known = declared !== null && DECIMAL.test(declared) && status !== 204;
  if (known) out.set("Content-Length", declared!);
  // A body the runtime holds whole goes out at once, without a stream around it.
  const ready = platform.wholeBody?.(response);
  if (ready !== undefined) {
    whole(req, status, reason, ready, typed);
    return undefined;
  }
  const body = response.body;
  if (body === null) {
    if (req.method === "HEAD" && !known) {
      // No body to measure and no length declared (Hono answers HEAD so): the GET's length is unknown, so tell none.
      req.sendReplyStart(status, reason);
      req.sendReplyEnd();
    } else {
      req.sendReply(status, reason);
    }
    return undefined;
  }
  const lookahead = new Lookahead(req, status, reason, body.getReader(), request);
  watchTurn(platform, lookahead);
  return lookAhead(lookahead, typed);
}

/** Read one chunk ahead to find a body that is already whole, until the turn for I/O; then stream the rest. */
async function lookAhead(la: Lookahead, typed: boolean): Promise<void> {
  const { req, reader } = la;
  try {
    let next: ReadableStreamReadResult<Uint8Array> | null = await reader.read();
    if (!la.late) {
      if (next.done) {
        whole(req, la.status, la.reason, undefined, typed);
        return;
      }
      const first = next.value;
      la.held.push(first);
      next = await reader.read();
      if (!la.late) {
        if (next.done) {
          whole(req, la.status, la.reason, first, typed);
          return;
        }
        // Two chunks and more to come: a streamed reply, started now.
        la.held.push(next.value);
        next = null;
        la.turn();
      }
    }
    if (req.method === "HEAD") return;
    await stream(req, reader, la.flushed, next, la.request.signal);
  } catch (err) {
    // The body's source failed: end the connection rather than let a truncated body pass for whole.
    reader.cancel(err).catch(() => {});
    if (req.responseState === "none") req.sendError(500);
    else req.closeConnection();
    throw err;
  }
}

/** Send a body that is complete: one reply with its length. */
function whole(
  req: HttpServerRequest,
  status: number,
  reason: string | undefined,
  data: string | Uint8Array | undefined,
  typed: boolean,
): void {
  if (!typed && stringsUntyped()) req.outputHeaders.set("Content-Type", TEXT_TYPE);
  req.sendReply(status, reason, data);
}

/**
 * Stream the rest of a started reply: `next` if a chunk was read already,
 * then each chunk as it is read. The next chunk is read only once the last
 * was handed to the socket; if the client goes, the body is cancelled.
 */
async function stream(
  req: HttpServerRequest,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  flushed: Promise<void | typeof GONE> | null,
  next: ReadableStreamReadResult<Uint8Array> | null,
  signal: AbortSignal,
): Promise<void> {
  const gone = signal.aborted
    ? Promise.resolve(GONE)
    : new Promise<typeof GONE>((resolve) => signal.addEventListener("abort", () => resolve(GONE), { once: true }));
  for (;;) {
    if (flushed !== null && await Promise.race([flushed, gone]) === GONE) break;
    const read = next ?? await Promise.race([reader.read(), gone]);
    next = null;
    if (read === GONE) break;
    if (read.done) {
      req.sendReplyEnd();
      return;
    }
    flushed = chunk(req, read.value);
  }
  reader.cancel().catch(() => {});
}

/** Send one chunk; resolves once it was handed to the socket. */
function chunk(req: HttpServerRequest, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => req.sendReplyChunk(data, resolve));
}
