/**
 * HttpServer: libevent's evhttp (http.h), an embeddable HTTP/1.1 server on
 * an {@linkcode EventBase}. Bind it to addresses or hand it listeners,
 * route paths to callbacks, and answer each {@linkcode HttpServerRequest} at
 * once or later. Beside it, {@linkcode ServerConfig}, the state it shares
 * with its connections (libevent's `struct evhttp`).
 *
 * @module
 */
import { BufferEvent } from "../buffer/bufferevent.ts";
import { Listener, type ListenerTarget } from "../buffer/listener.ts";
import {
  checkBoolean,
  checkCallback,
  checkCount,
  checkEventBase,
  checkFieldText,
  checkFlag,
  checkFunction,
  checkInteger,
  checkLimit,
  checkMs,
  checkNonEmptyString,
  checkObject,
  checkPort,
  checkString,
  checkToken,
  typeError,
} from "../check.ts";
import { freedError } from "../errors.ts";
import { adopt, baseFreed, disown, Event, type EventBase } from "../event/event_base.ts";
import { EV_PERSIST } from "../event/flags.ts";
import type { NetAddress, TcpSocket } from "../platform.ts";
import { latin1Bytes } from "./head_writer.ts";
import type { HttpParserLimits } from "./http_parser.ts";
import { HttpServerConnection } from "./http_server_connection.ts";
import { type HttpCompressOption, ServerCompression } from "./content_encoding.ts";
import type { HttpRequestCallback, HttpRequestNotify, HttpServerRequest } from "./http_server_request.ts";

/** The timeouts of {@linkcode HttpServer.setTimeout}, in milliseconds; 0 turns one off. */
export interface HttpServerTimeouts {
  /** From the first byte of a request until its head is complete; over it the client gets 408 and is closed. Default 30000: half of Node's headersTimeout and nginx's client_header_timeout, so a client trickling a head (slowloris) holds a connection at most that long. */
  readonly headerTimeoutMs?: number;
  /** Longest time without progress while reading a body (time paused by the application does not count); over it: 408 and close. Default 60000. */
  readonly bodyTimeoutMs?: number;
  /** Longest time the socket takes no byte of a pending response; over it the connection is dropped. Default 60000. */
  readonly writeTimeoutMs?: number;
  /** How long a keep-alive connection may wait for its next request; it is then closed quietly. Default 5000, as Node's keepAliveTimeout. */
  readonly idleTimeoutMs?: number;
}

/** Options of {@linkcode HttpServer}; each has a setter too. */
export interface HttpServerOptions extends HttpServerTimeouts {
  /** Bytes of a request head (request line, fields, line ends); over it: 431. Default 16384, as Node. */
  readonly maxHeadersSize?: number;
  /** Field lines in a request head; over it: 431. Default 100. */
  readonly maxHeaderCount?: number;
  /** Bytes of the request line; over it: 414. Default 8192. */
  readonly maxRequestLineSize?: number;
  /** Bytes of a request body; over it: 413. Default: 8 MiB for a body read whole, no limit for a streamed one (see {@linkcode HttpServer.setMaxBodySize}). */
  readonly maxBodySize?: number;
  /** Connections served at once; more are closed as soon as accepted. Default Infinity. */
  readonly maxConnections?: number;
  /** Requests read ahead on one connection before their responses are complete; reading waits beyond it. Default 32. */
  readonly maxPipelined?: number;
  /** Bytes a streamed body may hold in inputBuffer before reading from the client pauses. Default 65536. */
  readonly bodyHighWatermark?: number;
  /** The Content-Type of a body sent without one; null for none. Default `text/html; charset=ISO-8859-1`, as libevent. */
  readonly defaultContentType?: string | null;
  /** The methods served; see {@linkcode HttpServer.setAllowedMethods}. */
  readonly allowedMethods?: readonly string[];
  /** Answer an HTTP/1.1 request without Host with 400; see {@linkcode HttpServer.setRequireHost}. Default true. */
  readonly requireHost?: boolean;
  /** Stop serving when this signal aborts: {@linkcode HttpServer.shutdown} with its default grace period. */
  readonly signal?: AbortSignal;
  /** Compress responses the client accepts compressed; see {@linkcode HttpServer.setCompression}. Default false. */
  readonly compress?: HttpCompressOption;
}

/** Options of {@linkcode HttpServer.setCb} and {@linkcode HttpServer.setGenCb}. */
export interface HttpCallbackOptions {
  /**
   * Run the callback as soon as the request head is read, instead of after
   * the whole body: the body then arrives in `req.inputBuffer` while it
   * runs, with {@linkcode HttpServerRequest.setBodyCb} telling when, and
   * reading pauses while the buffer holds `bodyHighWatermark` bytes.
   * Default false: the body is read whole first, as evhttp does.
   */
  readonly streamBody?: boolean;
}

/** Options of {@linkcode HttpServer.shutdown}. */
export interface HttpShutdownOptions {
  /** How long in-flight requests may take before their connections are dropped; Infinity waits. Default 30000. */
  readonly graceMs?: number;
}

/** Options of {@linkcode HttpServer.bind}. */
export interface HttpBindOptions {
  /**
   * Share the port with other listeners (SO_REUSEPORT, libevent's
   * `LEV_OPT_REUSEABLE_PORT`): one server per thread, each bound to the
   * same port, and the kernel spreads the connections among them. Where the
   * runtime or the system cannot, bind() rejects with a LeventError, code
   * `ERR_NOT_SUPPORTED`, naming what is missing (Node before 22.12).
   */
  readonly reusePort?: boolean;
}

/** TLS material for {@linkcode HttpServer.bindTls}, PEM encoded. */
export interface HttpTlsOptions {
  /** The certificate chain. */
  readonly cert: string;
  /** The private key. */
  readonly key: string;
}

/**
 * The server's life: `"running"`, `"draining"` (shutdown: no new
 * connections, in-flight requests finishing) or `"closed"`.
 */
export type HttpServerState = "running" | "draining" | "closed";

/** Called when a request's head has been read (see {@linkcode HttpServer.setNewRequestCb}). */
export type HttpNewRequestCallback = HttpRequestNotify;

/**
 * Decides an `Expect: 100-continue` request: return 100 (or nothing) to let
 * the body come, or a status of 400..599 (417, 413, 401...) to refuse it.
 */
export type HttpExpectContinueCallback = (req: HttpServerRequest) => number | void;

/** Receives errors thrown by callbacks, with the request when there is one. */
export type HttpErrorLogger = (err: unknown, req: HttpServerRequest | null) => void;

let makeBound: (listener: Listener<unknown>) => BoundSocket;

/**
 * Report a failure to the server's error logger (stderr by default), for
 * serve(), whose handlers fail outside the server's own callbacks.
 * Internal: http/mod.ts does not export it.
 */
export let reportError!: (server: HttpServer, err: unknown, req: HttpServerRequest | null) => void;

/**
 * A listening socket of an {@linkcode HttpServer}: libevent's `struct
 * evhttp_bound_socket`, from {@linkcode HttpServer.bind} and its kin; pass
 * it to {@linkcode HttpServer.delBoundSocket} to stop listening there.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent/event";
 * import { HttpServer } from "@levent/levent/http";
 * const server = new HttpServer(new EventBase());
 * const handle = await server.bind("127.0.0.1", 0);
 * console.log(handle.address.port); // the port the system picked
 * await server.delBoundSocket(handle);
 * ```
 */
export class BoundSocket {
  static {
    makeBound = (listener) => new BoundSocket(listener);
  }

  readonly #listener: Listener<unknown>;

  private constructor(listener: Listener<unknown>) {
    this.#listener = listener;
  }

  /** The bound address, with the real port when 0 was asked for (`evhttp_bound_socket_get_fd` + getsockname). */
  get address(): NetAddress {
    return this.#listener.address;
  }

  /** The listener accepting for it (`evhttp_bound_socket_get_listener`). */
  get listener(): Listener<unknown> {
    return this.#listener;
  }
}

function checkStreamOption(options: HttpCallbackOptions | undefined): boolean {
  if (options === undefined) return false;
  return checkFlag(checkObject(options, "options").streamBody, "options.streamBody");
}

/**
 * An HTTP/1.1 server: libevent's `struct evhttp`. It accepts connections
 * on the sockets it is bound to, reads requests with a strict parser
 * (malformed requests get 400, 413, 414, 431, 501 or 505 and the server
 * goes on), routes each by path to a callback, and writes the responses in
 * request order, keeping connections alive between requests.
 *
 * Callbacks run on the EventBase's loop. A callback that throws (or an
 * async one that rejects) gets its request answered with 500 and its
 * connection closed, and the error is printed on stderr with the request's
 * method and target (see {@linkcode HttpServer.setErrorLogger}); the server
 * keeps serving.
 *
 * Virtual hosts are HttpServers too, never bound, added with
 * {@linkcode HttpServer.addVirtualHost}: they bring their own callbacks,
 * while limits, timeouts and hooks are the bound server's.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent/event";
 * import { HttpServer } from "@levent/levent/http";
 * const base = new EventBase();
 * const server = new HttpServer(base, { defaultContentType: "text/plain" });
 * server.setCb("/hello", (req) => req.sendReply(200, "OK", "Hello, World!"));
 * server.setGenCb((req) => req.sendError(404));
 * const handle = await server.bind("127.0.0.1", 8080);
 * console.log(`listening on ${handle.address.port}`);
 * await base.dispatch();
 * ```
 */
export class HttpServer {
  static {
    reportError = (server, err, req) => server.#cfg.log(err, req);
  }

  readonly #cfg: ServerConfig;
  readonly #bound: BoundSocket[] = [];
  #shutdown: Promise<void> | null = null;
  readonly #onAccept = (_l: Listener<unknown>, socket: TcpSocket, peer: NetAddress): void => this.#accept(socket, peer);
  /** What the base's free() calls. */
  readonly #releaseByBase = (): void => this.free();
  readonly #onAbort = (): void => void this.shutdown();
  #signal: AbortSignal | undefined;

  /**
   * Make a server on `base` (libevent `evhttp_new`); bind it to serve. The
   * base owns it: freeing the base frees the server.
   *
   * @throws {TypeError} if base is not an EventBase or an option has the wrong type
   * @throws {RangeError} if a limit or timeout is out of range
   * @throws {LeventError} `ERR_FREED` if the base was freed
   */
  constructor(base: EventBase, options: HttpServerOptions = {}) {
    checkEventBase(base, "base");
    checkObject(options, "options");
    if (baseFreed(base)) throw freedError("new HttpServer", "EventBase");
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw typeError("options.signal", "an AbortSignal", signal);
    }
    this.#cfg = new ServerConfig(base, this);
    const o = options;
    if (o.maxHeadersSize !== undefined) this.setMaxHeadersSize(o.maxHeadersSize);
    if (o.maxHeaderCount !== undefined) {
      this.#setLimit("maxHeaderCount", checkCount(o.maxHeaderCount, "maxHeaderCount"));
    }
    if (o.maxRequestLineSize !== undefined) {
      this.#setLimit("maxRequestLineSize", checkCount(o.maxRequestLineSize, "maxRequestLineSize"));
    }
    if (o.maxBodySize !== undefined) this.setMaxBodySize(o.maxBodySize);
    if (o.maxConnections !== undefined) this.setMaxConnections(o.maxConnections);
    if (o.maxPipelined !== undefined) this.setMaxPipelined(o.maxPipelined);
    if (o.bodyHighWatermark !== undefined) this.setBodyHighWatermark(o.bodyHighWatermark);
    if (o.defaultContentType !== undefined) this.setDefaultContentType(o.defaultContentType);
    if (o.allowedMethods !== undefined) this.setAllowedMethods(o.allowedMethods);
    if (o.requireHost !== undefined) this.setRequireHost(o.requireHost);
    if (o.compress !== undefined) this.setCompression(o.compress);
    this.setTimeout(o);
    adopt(base, this.#releaseByBase);
    if (signal !== undefined) {
      this.#signal = signal;
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** The loop the server runs on. */
  get base(): EventBase {
    return this.#cfg.base;
  }

  /** Where the server is in its life; see {@linkcode HttpServerState}. */
  get state(): HttpServerState {
    return this.#cfg.state;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#cfg.connections.size;
  }

  /** The sockets the server listens on. */
  get boundSockets(): readonly BoundSocket[] {
    return [...this.#bound];
  }

  // ---------------------------------------------------------- binding

  /**
   * Listen on `port` of every IPv4 interface (`"0.0.0.0"`), as Node's
   * `listen(port)`, Deno's serve() and Bun's serve() do by default (libevent
   * `evhttp_bind_socket_with_handle(http, "0.0.0.0", port)`). The port is a
   * number or a string of digits (`PORT` from the environment); 0 picks a free one,
   * found in the handle's address.
   *
   * @throws {TypeError} (as a rejection) if port is neither a number nor a string of digits
   * @throws {RangeError} (as a rejection) if port is not an integer in 0..65535
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the server was freed or shut down
   * @throws a coded platform Error (as a rejection), e.g. `EADDRINUSE`
   */
  bind(port: number | string): Promise<BoundSocket>;
  /**
   * Listen on a host and port (libevent `evhttp_bind_socket_with_handle`);
   * port 0 picks a free one, found in the handle's address. A server may be
   * bound to several addresses.
   *
   * @throws {TypeError} (as a rejection) if host is not a string, or port neither a number nor a string of digits
   * @throws {RangeError} (as a rejection) if port is not an integer in 0..65535
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the server was freed or shut down
   * @throws {LeventError} `ERR_NOT_SUPPORTED` (as a rejection) for `options.reusePort` where the runtime cannot share a port
   * @throws a coded platform Error (as a rejection), e.g. `EADDRINUSE`
   */
  bind(host: string, port: number | string, options?: HttpBindOptions): Promise<BoundSocket>;
  async bind(hostOrPort: string | number, port?: number | string, options: HttpBindOptions = {}): Promise<BoundSocket> {
    if (arguments.length < 2) return await this.#listen({ host: "0.0.0.0", port: checkPort(hostOrPort, "port") });
    const host = checkString(hostOrPort, "host");
    const portNumber = checkPort(port, "port");
    checkObject(options, "options");
    const reusePort = checkFlag(options.reusePort, "options.reusePort");
    return await this.#listen({ host, port: portNumber, reusePort });
  }

  /**
   * Listen on a Unix socket path (libevent `evhttp_bind_listener` over a
   * Unix-domain evconnlistener).
   *
   * @throws {TypeError} (as a rejection) if path is not a non-empty string
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the server was freed or shut down
   * @throws a coded platform Error (as a rejection)
   */
  async bindUnix(path: string): Promise<BoundSocket> {
    return await this.#listen({ path: checkNonEmptyString(path, "path") }, "bindUnix");
  }

  /**
   * Listen for HTTPS on a host and port (libevent `evhttp_bind_socket_with_handle`
   * with `evhttp_set_bevcb` making OpenSSL bufferevents): the platform does
   * the TLS, the server sees plaintext.
   *
   * @throws {TypeError} (as a rejection) if host or the TLS material is not a string, or port neither a number nor a string of digits
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the server was freed or shut down
   * @throws {RangeError} (as a rejection) if port is not an integer in 0..65535
   * @throws a coded platform Error (as a rejection)
   */
  async bindTls(host: string, port: number | string, tls: HttpTlsOptions): Promise<BoundSocket> {
    checkString(host, "host");
    const portNumber = checkPort(port, "port");
    checkObject(tls, "tls");
    const material = { cert: checkString(tls.cert, "tls.cert"), key: checkString(tls.key, "tls.key") };
    return await this.#listen({ host, port: portNumber, tls: material }, "bindTls");
  }

  /**
   * Serve the connections an existing listener accepts (libevent
   * `evhttp_bind_listener` / `evhttp_accept_socket_with_handle`): the
   * server takes it over, replacing its callback, and frees it in
   * {@linkcode HttpServer.delBoundSocket} or when closed.
   *
   * @throws {TypeError} if listener is not a Listener on this server's base
   * @throws {LeventError} `ERR_FREED` once the server was freed or shut down, or the listener was freed
   */
  acceptListener<A>(listener: Listener<A>): BoundSocket {
    if (!(listener instanceof Listener)) throw typeError("listener", "a Listener", listener);
    if (listener.base !== this.#cfg.base) throw new TypeError("listener must run on the server's EventBase");
    this.#checkRunning("acceptListener");
    if (listener.freed) throw freedError("acceptListener", "Listener");
    const l = listener as unknown as Listener<unknown>;
    l.setCallback(this.#onAccept);
    const handle = makeBound(l);
    this.#bound.push(handle);
    return handle;
  }

  /**
   * Stop listening on a bound socket and free its listener (libevent
   * `evhttp_del_accept_socket`). Connections it accepted stay. Once the
   * server is freed or shut down (its sockets closed), it does nothing.
   *
   * @throws {TypeError} if handle is not one of this server's bound sockets
   */
  async delBoundSocket(handle: BoundSocket): Promise<void> {
    if (this.#cfg.state !== "running") return;
    const i = this.#bound.indexOf(handle);
    if (i < 0) throw new TypeError("handle is not a bound socket of this server");
    this.#bound.splice(i, 1);
    await handle.listener.free();
  }

  async #listen(target: ListenerTarget, op: string = "bind"): Promise<BoundSocket> {
    this.#checkRunning(op);
    const listener = await Listener.bind<unknown>(this.#cfg.base, target, this.#onAccept);
    if (this.#cfg.state !== "running") {
      await listener.free();
      this.#checkRunning(op);
    }
    const handle = makeBound(listener);
    this.#bound.push(handle);
    return handle;
  }

  #accept(socket: TcpSocket, peer: NetAddress): void {
    const cfg = this.#cfg;
    if (cfg.state !== "running" || cfg.connections.size >= cfg.maxConnections) {
      socket.close();
      return;
    }
    // Small responses must not wait for Nagle and delayed ACKs (Node's http sets it too).
    socket.setNoDelay(true);
    const bev = BufferEvent.socket(cfg.base, socket, { closeOnFree: true });
    new HttpServerConnection(cfg, bev, peer);
  }

  // ---------------------------------------------------------- routing

  /**
   * Set the callback for requests no path callback takes (libevent
   * `evhttp_set_gencb`); null removes it, and such requests get 404.
   *
   * @throws {TypeError} if cb is neither a function nor null, or options are malformed
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setGenCb(cb: HttpRequestCallback | null, options?: HttpCallbackOptions): void {
    this.#checkLive("setGenCb");
    const fn = checkCallback(cb, "cb");
    const stream = checkStreamOption(options);
    this.#cfg.genRoute = fn === null ? null : { cb: fn, stream };
  }

  /**
   * Set the callback for one path (libevent `evhttp_set_cb`): requests
   * whose %-decoded path, without the query, is exactly `path`.
   *
   * @returns false, changing nothing, if the path has a callback already (libevent returns -1)
   * @throws {TypeError} if path is not a string, cb is not a function, or options are malformed
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setCb(path: string, cb: HttpRequestCallback, options?: HttpCallbackOptions): boolean {
    this.#checkLive("setCb");
    checkString(path, "path");
    checkFunction(cb, "cb");
    const stream = checkStreamOption(options);
    const callbacks = this.#cfg.callbacks;
    if (callbacks.has(path)) return false;
    callbacks.set(path, { cb, stream });
    return true;
  }

  /**
   * Remove the callback for a path (libevent `evhttp_del_cb`).
   *
   * @returns false if the path had none
   * @throws {TypeError} if path is not a string
   */
  delCb(path: string): boolean {
    return this.#cfg.callbacks.delete(checkString(path, "path"));
  }

  /**
   * Hand requests whose host matches `pattern` to `server` (libevent
   * `evhttp_add_virtual_host`). The host is the target's in absolute-form,
   * else the Host header's without the port; `*` matches any run of
   * characters and `?` one, case-insensitively. Patterns are tried in the
   * order added; a virtual host may have virtual hosts of its own.
   *
   * @throws {TypeError} if pattern is not a non-empty string, server is not an HttpServer, or server is this one or a virtual host already
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  addVirtualHost(pattern: string, server: HttpServer): void {
    this.#checkLive("addVirtualHost");
    checkNonEmptyString(pattern, "pattern");
    if (!(server instanceof HttpServer)) throw typeError("server", "an HttpServer", server);
    const vcfg = server.#cfg;
    if (server === this || vcfg.parent !== null) {
      throw new TypeError("addVirtualHost: the server is this one, or a virtual host already");
    }
    vcfg.parent = this.#cfg;
    this.#cfg.vhosts.push({ pattern, cfg: vcfg });
  }

  /**
   * Stop handing requests to a virtual host (libevent `evhttp_remove_virtual_host`).
   *
   * @returns false if server was not a virtual host of this server
   */
  removeVirtualHost(server: HttpServer): boolean {
    if (!(server instanceof HttpServer)) return false;
    const vhosts = this.#cfg.vhosts;
    const i = vhosts.findIndex((v) => v.cfg === server.#cfg);
    if (i < 0) return false;
    vhosts.splice(i, 1);
    server.#cfg.parent = null;
    return true;
  }

  /**
   * Serve requests for host `alias` (exactly, any case) with this server's
   * callbacks, before any virtual host pattern is tried (libevent
   * `evhttp_add_server_alias`).
   *
   * @returns false if the alias was there already
   * @throws {TypeError} if alias is not a non-empty string
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  addServerAlias(alias: string): boolean {
    this.#checkLive("addServerAlias");
    checkNonEmptyString(alias, "alias");
    const lower = alias.toLowerCase();
    if (this.#cfg.aliases.includes(lower)) return false;
    this.#cfg.aliases.push(lower);
    return true;
  }

  /**
   * Remove an alias (libevent `evhttp_remove_server_alias`).
   *
   * @returns false if there was no such alias
   */
  removeServerAlias(alias: string): boolean {
    if (typeof alias !== "string") return false;
    const aliases = this.#cfg.aliases;
    const i = aliases.indexOf(alias.toLowerCase());
    if (i < 0) return false;
    aliases.splice(i, 1);
    return true;
  }

  // ---------------------------------------------------------- settings

  /**
   * Serve only these methods (libevent `evhttp_set_allowed_methods`); a
   * request with another method RFC 9110 defines gets 405 with an Allow
   * header, one with a method nobody defined gets 501. Methods are
   * case-sensitive; any token may be listed (WebDAV's PROPFIND...). Default:
   * GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH.
   *
   * @throws {TypeError} if methods is not an array of tokens
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setAllowedMethods(methods: readonly string[]): void {
    this.#checkLive("setAllowedMethods");
    if (!Array.isArray(methods)) throw typeError("methods", "an array of tokens", methods);
    methods.forEach((m, i) => checkToken(m, `methods[${i}]`));
    const set = new Set(methods);
    this.#cfg.allowed = set;
    this.#cfg.allowHeader = [...set].join(", ");
  }

  /** The methods served, as set by {@linkcode HttpServer.setAllowedMethods}. */
  getAllowedMethods(): string[] {
    return [...this.#cfg.allowed];
  }

  /**
   * Set the Content-Type sent with a body that has none (libevent
   * `evhttp_set_default_content_type`); null sends none.
   *
   * @throws {TypeError} if type is neither a string without control characters nor null
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setDefaultContentType(type: string | null): void {
    this.#checkLive("setDefaultContentType");
    if (type === null) {
      this.#cfg.contentTypeLine = null;
      return;
    }
    checkFieldText(checkNonEmptyString(type, "type"), "type");
    this.#cfg.contentTypeLine = "Content-Type: " + type + "\r\n";
  }

  /**
   * Limit a request head's size in bytes; over it the client gets 431
   * (libevent `evhttp_set_max_headers_size`). Applies to connections
   * accepted afterwards.
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 0
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setMaxHeadersSize(n: number): void {
    this.#checkLive("setMaxHeadersSize");
    this.#setLimit("maxHeaderSize", checkCount(n, "maxHeadersSize"));
  }

  /**
   * Limit a request body's size in bytes, streamed or read whole; over it
   * the client gets 413 (libevent `evhttp_set_max_body_size`). Without it,
   * a body read whole is limited to 8 MiB (enough for any form or JSON
   * post, while a few hundred concurrent uploads cannot exhaust memory;
   * nginx allows 1 MiB) and a streamed one is not limited. Applies to
   * connections accepted afterwards.
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 0 or Infinity
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setMaxBodySize(n: number): void {
    this.#checkLive("setMaxBodySize");
    this.#setLimit("maxBodySize", checkLimit(n, "maxBodySize"));
    this.#cfg.bufferedBodyLimit = n;
  }

  /**
   * Whether an HTTP/1.1 request without a Host field is refused with 400, as
   * RFC 9112 §3.2 asks (default true). libevent's own clients send none
   * unless told to (its evrpc client never does): turn it off to serve
   * them, as libevent's evhttp does. Such a request goes to the bound
   * server's callbacks, not a virtual host's. Two Host fields or a
   * malformed one still get 400. Applies to connections accepted afterwards.
   *
   * @throws {TypeError} if on is not a boolean
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setRequireHost(on: boolean): void {
    this.#checkLive("setRequireHost");
    this.#cfg.requireHost = checkBoolean(on, "on");
  }

  /**
   * Compress responses (HTTP content coding, RFC 9110 §8.4): a response
   * is sent gzip, br or deflate coded when the client's Accept-Encoding
   * takes it (by q-value; the server's order of preference breaks ties),
   * its body has at least `minSize` bytes (1024), its type is textual (or
   * the filter says so), and it is not coded already (Content-Encoding),
   * a range (206, Content-Range), `Cache-Control: no-transform`, nor
   * bodiless (HEAD, 204, 304). Such a response gets `Vary:
   * Accept-Encoding` whether or not this client takes a coding; a coded
   * one gets Content-Encoding, a weak ETag and the coded length (a whole
   * reply), or is streamed chunk by chunk, each chunk flushed so the client
   * can decode it as it comes, with the same flow control. A body of file
   * segments (EvBuffer.addFile) is sent as it is. Applies to responses
   * started afterwards; false turns it off. No libevent counterpart.
   *
   * @example
   * ```ts
   * import { EventBase, HttpServer } from "@levent/levent";
   * const server = new HttpServer(new EventBase());
   * server.setCompression({ minSize: 256, encodings: ["gzip"] });
   * server.setCompression((_req, type) => type === "application/octet-stream"); // or a filter alone
   * ```
   *
   * @throws {TypeError} if option is not a boolean, a function or an object, or an encoding is not "br", "gzip" or "deflate"
   * @throws {RangeError} if minSize, level or brotliQuality is out of range
   */
  setCompression(option: HttpCompressOption): void {
    this.#cfg.compression = ServerCompression.from(option, this.#cfg.base.platform.compression, "compress");
  }

  /**
   * Serve at most `n` connections at once; connections beyond are closed as
   * soon as accepted (libevent `evhttp_set_max_connections`).
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 1 or Infinity
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setMaxConnections(n: number): void {
    this.#checkLive("setMaxConnections");
    this.#cfg.maxConnections = n === Infinity ? n : checkInteger(n, "maxConnections", 1);
  }

  /**
   * Read at most `n` requests ahead on one connection while their responses
   * are not complete; reading waits beyond that.
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 1
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setMaxPipelined(n: number): void {
    this.#checkLive("setMaxPipelined");
    this.#cfg.maxPipelined = checkInteger(n, "maxPipelined", 1);
  }

  /**
   * Set how many bytes a streamed body may hold in `inputBuffer` before
   * reading from the client pauses (the read high watermark of streamed
   * bodies).
   *
   * @throws {TypeError} if n is not a number
   * @throws {RangeError} if n is not an integer >= 1
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setBodyHighWatermark(n: number): void {
    this.#checkLive("setBodyHighWatermark");
    this.#cfg.bodyHighWatermark = checkInteger(n, "bodyHighWatermark", 1);
  }

  /**
   * Set the timeouts (libevent `evhttp_set_timeout_tv`, split by phase): a
   * number sets all four, an object the ones it names. Each connection
   * checks them on a timer of its own, at least once a second and as
   * often as the shortest one set.
   *
   * @throws {RangeError} if a timeout is negative or not finite
   * @throws {TypeError} if timeouts is neither a number nor an object, or a timeout is not a number
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setTimeout(timeouts: number | HttpServerTimeouts): void {
    this.#checkLive("setTimeout");
    const t = this.#cfg.timeouts;
    if (typeof timeouts === "number") {
      const ms = checkMs(timeouts, "timeouts");
      this.#cfg.timeouts = { header: ms, body: ms, write: ms, idle: ms };
      return;
    }
    if (timeouts === null || typeof timeouts !== "object") {
      throw typeError("timeouts", "a number or an object", timeouts);
    }
    const next = { ...t };
    if (timeouts.headerTimeoutMs !== undefined) next.header = checkMs(timeouts.headerTimeoutMs, "headerTimeoutMs");
    if (timeouts.bodyTimeoutMs !== undefined) next.body = checkMs(timeouts.bodyTimeoutMs, "bodyTimeoutMs");
    if (timeouts.writeTimeoutMs !== undefined) next.write = checkMs(timeouts.writeTimeoutMs, "writeTimeoutMs");
    if (timeouts.idleTimeoutMs !== undefined) next.idle = checkMs(timeouts.idleTimeoutMs, "idleTimeoutMs");
    this.#cfg.timeouts = next;
  }

  /**
   * Run `cb(req)` as each request's head is read, before its body and
   * before routing hands it to a callback (libevent `evhttp_set_newreqcb`,
   * with the header callback it would set). Here a request may be refused
   * (answer it: its body is not read), streamed (`req.setBodyCb`), or
   * looked at. Null removes it. Only the bound server's hook runs, not a
   * virtual host's.
   *
   * @throws {TypeError} if cb is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setNewRequestCb(cb: HttpNewRequestCallback | null): void {
    this.#checkLive("setNewRequestCb");
    this.#cfg.newRequestCb = checkCallback(cb, "cb");
  }

  /**
   * Decide `Expect: 100-continue` requests before their body is sent: `cb`
   * returns 100 (or nothing) to answer `100 Continue`, or a status in
   * 400..599 to refuse with it (417, 413, 401...); the connection then
   * closes, as the client may not send the body. Without a callback every
   * such request gets `100 Continue`. Null removes it.
   *
   * @throws {TypeError} if cb is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setExpectContinueCb(cb: HttpExpectContinueCallback | null): void {
    this.#checkLive("setExpectContinueCb");
    this.#cfg.expectCb = checkCallback(cb, "cb");
  }

  /**
   * Receive the errors callbacks throw or reject with, in place of the
   * default, which prints each on stderr with the request's method and
   * target (as Deno's serve() and Bun's serve() print a handler's error). Pass
   * `() => {}` to log nothing; null restores the default. A throwing logger
   * is ignored.
   *
   * @throws {TypeError} if logger is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setErrorLogger(logger: HttpErrorLogger | null): void {
    this.#checkLive("setErrorLogger");
    this.#cfg.errorLogger = checkCallback(logger, "logger");
  }

  // ---------------------------------------------------------- closing

  /**
   * Shut down gracefully: stop accepting, and let every response in flight
   * finish while nothing new starts. A response is in flight once it has
   * begun or once its request was read whole and handed to a callback, which
   * owes the answer; it is written to its last byte (a slow reader of a
   * large file included) and its connection then closes. Every other
   * connection closes at once: an idle keep-alive one, one with a head
   * unfinished, one with a body still arriving and no answer begun.
   * Connections taken over by another protocol
   * ({@linkcode HttpServerRequest.takeOver}) get their `onShutdown` hook (a
   * WebSocket sends close 1001 there), or are freed when they have none.
   * Whatever is still open after `graceMs` is dropped. Resolves once every
   * connection is closed; calling it again returns the same promise.
   *
   * @throws {TypeError} if options is not an object or graceMs not a number
   * @throws {RangeError} if graceMs is negative or NaN
   */
  shutdown(options: HttpShutdownOptions = {}): Promise<void> {
    if (this.#shutdown !== null) return this.#shutdown;
    const grace = checkObject(options, "options").graceMs ?? 30000;
    const graceMs = grace === Infinity ? grace : checkMs(grace, "options.graceMs");
    const cfg = this.#cfg;
    // Freed already: nothing is left to finish.
    if (cfg.state === "closed") return this.#shutdown = Promise.resolve();
    if (cfg.state === "running") cfg.state = "draining";
    const freed = this.#bound.splice(0).map((b) => b.listener.free().catch(() => {}));
    this.#shutdown = new Promise<void>((resolve) => {
      let grace: Event | null = null;
      // A taken-over BufferEvent tells nobody when it is freed: while any is open, look every 50 ms.
      let poll: Event | null = null;
      const check = (): void => {
        if (cfg.connections.size !== 0 || cfg.openUpgraded() !== 0) return;
        cfg.onConnectionClosed = null;
        grace?.free();
        poll?.free();
        grace = poll = null;
        this.#closed();
        Promise.all(freed).then(() => resolve());
      };
      cfg.onConnectionClosed = check;
      if (graceMs !== Infinity) {
        grace = new Event(cfg.base, null, 0, () => {
          for (const conn of [...cfg.connections]) conn.close("hard");
          cfg.dropUpgraded();
          check();
        });
        grace.add(graceMs);
      }
      for (const conn of [...cfg.connections]) conn.drain();
      cfg.shutdownUpgraded();
      if (cfg.openUpgraded() !== 0) {
        poll = new Event(cfg.base, null, EV_PERSIST, check);
        poll.add(50);
      }
      check();
    });
    return this.#shutdown;
  }

  /** {@linkcode HttpServer.shutdown} with its default grace period. */
  close(): Promise<void> {
    return this.shutdown();
  }

  /**
   * Close everything now (libevent `evhttp_free`): listeners, and every
   * connection, dropping responses in flight (their requests' close
   * callbacks run). A pending shutdown resolves. Freeing the server's base
   * calls it too. Afterwards free(), shutdown(), close() and the calls that
   * remove something do nothing, and the calls that bind or set something
   * throw a LeventError with code `ERR_FREED`.
   */
  free(): void {
    const cfg = this.#cfg;
    if (cfg.state === "running") cfg.state = "draining";
    for (const b of this.#bound.splice(0)) b.listener.free().catch(() => {});
    for (const conn of [...cfg.connections]) conn.close("hard");
    cfg.dropUpgraded();
    this.#closed();
  }

  /** {@linkcode HttpServer.free}, for `using`. */
  [Symbol.dispose](): void {
    this.free();
  }

  /**
   * For `await using`: {@linkcode HttpServer.shutdown} while the base's loop
   * runs, so in-flight responses finish first; once dispatch() has returned
   * nothing could finish them, so {@linkcode HttpServer.free} at once.
   */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.#cfg.base.running) return this.shutdown();
    this.free();
    return Promise.resolve();
  }

  /** The server is closed for good: the base and the signal need not tell it anything more. */
  #closed(): void {
    this.#cfg.state = "closed";
    disown(this.#cfg.base, this.#releaseByBase);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#signal = undefined;
  }

  /** Binding needs a running server: not one shut down or shutting down. */
  #checkRunning(op: string): void {
    const state = this.#cfg.state;
    if (state !== "running") throw freedError(op, "HttpServer", state === "closed" ? "freed" : "shut down");
  }

  /** Settings need a server not freed (a draining one still serves its last requests). */
  #checkLive(op: string): void {
    if (this.#cfg.state === "closed") throw freedError(op, "HttpServer");
  }

  #setLimit(key: keyof HttpParserLimits, value: number): void {
    this.#cfg.limits = { ...this.#cfg.limits, [key]: value };
  }
}

// ------------------------------------------------------------ the server's state

/** What a connection taken over by another protocol asked to be told (HttpServerRequest.takeOver's options). */
export interface UpgradeHooks {
  /** The server shuts down: say goodbye in the protocol and free the BufferEvent. */
  readonly onShutdown: ((bev: BufferEvent) => void) | null;
  /** The server drops the connection: let go of the BufferEvent at once. */
  readonly onDrop: ((bev: BufferEvent) => void) | null;
}

/** A path's callback, and whether it runs before the body is read. */
export interface Route {
  /** The callback. */
  readonly cb: HttpRequestCallback;
  /** Run it once the head is read, with the body streamed into inputBuffer. */
  readonly stream: boolean;
}

/** A virtual host: a pattern for the Host and the server that handles it. */
interface VirtualHost {
  /** The `*` / `?` pattern, as given. */
  readonly pattern: string;
  /** The server handling matching hosts. */
  readonly cfg: ServerConfig;
}

/** The timeouts in milliseconds; 0 turns one off. */
export interface ServerTimeouts {
  header: number;
  body: number;
  write: number;
  idle: number;
}

/**
 * The default timeouts. The header timeout is 30 s, half of Node's
 * `headersTimeout` and nginx's `client_header_timeout`: a client that
 * trickles a head byte by byte (slowloris) holds a connection for at most
 * that long, and a real client on a slow link needs far less for a head of
 * a few KiB. The idle timeout is Node's `keepAliveTimeout`.
 */
const DEFAULT_TIMEOUTS: Readonly<ServerTimeouts> = Object.freeze({
  header: 30000,
  body: 60000,
  write: 60000,
  idle: 5000,
});

/**
 * The default bound of a body read whole into memory before its callback
 * runs: 8 MiB holds any form or JSON post an embedded server expects (nginx
 * allows 1 MiB) while a few hundred concurrent uploads cannot exhaust
 * memory; larger bodies are streamed (`streamBody`) or allowed with
 * `setMaxBodySize`.
 */
const DEFAULT_MAX_BUFFERED_BODY = 8 * 1024 * 1024;

/**
 * The default error logger: a callback's failure on stderr, with the
 * request it failed on, so a bare 500 never hides its cause.
 */
function printError(err: unknown, req: HttpServerRequest | null): void {
  const where = req === null ? "an HttpServer callback" : `the callback for ${req.method} ${req.uri}`;
  console.error(`levent: ${where} failed:`, err);
}

function lowerCode(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/**
 * Whether `name` matches a virtual host pattern, case-insensitively: `*`
 * stands for any run of characters, `?` for one (libevent's
 * `prefix_suffix_match`, which knows `*`). Iterative, with one backtrack
 * point, so no pattern is exponential.
 */
function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const pc = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (pc === 42) {
      star = p++;
      mark = n;
    } else if (pc === 63 || (pc >= 0 && lowerCode(pc) === lowerCode(name.charCodeAt(n)))) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/**
 * What an HttpServer shares with its connections (libevent's `struct
 * evhttp`): callbacks, virtual hosts, limits, timeouts, hooks. HttpServer
 * is the checked public face of it.
 */
export class ServerConfig {
  readonly base: EventBase;
  readonly owner: HttpServer;
  state: HttpServerState = "running";
  /** The server this one is a virtual host of, or null. */
  parent: ServerConfig | null = null;

  readonly callbacks: Map<string, Route> = new Map();
  genRoute: Route | null = null;
  readonly vhosts: VirtualHost[] = [];
  /** Lowercased aliases. */
  readonly aliases: string[] = [];

  allowed: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
  allowHeader = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";
  contentTypeLine: string | null = "Content-Type: text/html; charset=ISO-8859-1\r\n";
  limits: Partial<HttpParserLimits> = {};
  /** Refuse HTTP/1.1 requests without Host (400). */
  requireHost = true;
  timeouts: ServerTimeouts = { ...DEFAULT_TIMEOUTS };
  maxConnections: number = Infinity;
  maxPipelined = 32;
  bodyHighWatermark = 65536;
  /** The most bytes of a body read whole before its callback runs (a streamed body has only the parser's limit). */
  bufferedBodyLimit: number = DEFAULT_MAX_BUFFERED_BODY;
  /** Response compression (the compress option), or null when off. */
  compression: ServerCompression | null = null;

  newRequestCb: HttpRequestNotify | null = null;
  expectCb: ((req: HttpServerRequest) => number | void) | null = null;
  errorLogger: ((err: unknown, req: HttpServerRequest | null) => void) | null = null;

  readonly connections: Set<HttpServerConnection> = new Set();
  /** Connections taken over by another protocol, with the hook that tells them of a shutdown. */
  readonly upgraded: Map<BufferEvent, UpgradeHooks> = new Map();
  /** Called when a connection closes: shutdown waits with it. */
  onConnectionClosed: (() => void) | null = null;

  #dateLine = "";
  #dateBytes: Uint8Array = new Uint8Array(0);
  #typeLine: string | null = null;
  #typeBytes: Uint8Array | null = null;
  #dateExpires = -Infinity;

  constructor(base: EventBase, owner: HttpServer) {
    this.base = base;
    this.owner = owner;
  }

  /**
   * The `Date:` line, made at most once a second: staleness is judged on
   * the loop's cached time, so a response costs no clock read and no
   * formatting.
   */
  dateLine(): string {
    const now = this.base.now();
    if (now >= this.#dateExpires) {
      const wall = Date.now();
      this.#dateLine = "Date: " + new Date(wall).toUTCString() + "\r\n";
      this.#dateBytes = latin1Bytes(this.#dateLine);
      this.#dateExpires = now + 1000 - (wall % 1000);
    }
    return this.#dateLine;
  }

  /** {@linkcode ServerConfig.dateLine} as bytes. */
  dateBytes(): Uint8Array {
    this.dateLine();
    return this.#dateBytes;
  }

  /** {@linkcode ServerConfig.contentTypeLine} as bytes, or null. */
  typeBytes(): Uint8Array | null {
    const line = this.contentTypeLine;
    if (line !== this.#typeLine) {
      this.#typeLine = line;
      this.#typeBytes = line === null ? null : latin1Bytes(line);
    }
    return this.#typeBytes;
  }

  /** How many taken-over connections are still open (forgetting the freed ones). */
  openUpgraded(): number {
    for (const bev of this.upgraded.keys()) if (bev.state === "freed") this.upgraded.delete(bev);
    return this.upgraded.size;
  }

  /** Shutdown begins: tell each taken-over connection through its hook, or free it when it has none. */
  shutdownUpgraded(): void {
    for (const [bev, { onShutdown: hook }] of [...this.upgraded]) {
      if (bev.state === "freed") continue;
      if (hook === null) {
        bev.free();
        continue;
      }
      try {
        hook(bev);
      } catch (err) {
        this.log(err, null);
        bev.free();
      }
    }
  }

  /** Drop every taken-over connection still open, unsent bytes and all. */
  dropUpgraded(): void {
    for (const [bev, { onDrop }] of [...this.upgraded]) {
      if (bev.state === "freed") continue;
      if (onDrop !== null) {
        try {
          onDrop(bev);
        } catch (err) {
          this.log(err, null);
        }
      }
      // The hook may have let go already (TypeScript cannot see that it changes the state).
      if ((bev.state as string) !== "freed") bev.abort();
    }
    this.upgraded.clear();
  }

  /** Report an error from a callback to the logger, or on stderr without one; a throwing logger is ignored. */
  log(err: unknown, req: HttpServerRequest | null): void {
    const logger = this.errorLogger ?? printError;
    try {
      logger(err, req);
    } catch {
      // The logger failing must not turn into a second error path.
    }
  }

  /** Whether the alias is this server's or one of its virtual hosts' (libevent's `evhttp_find_alias`). */
  findAlias(host: string): ServerConfig | null {
    if (this.aliases.includes(host)) return this;
    for (const v of this.vhosts) {
      const found = v.cfg.findAlias(host);
      if (found !== null) return found;
    }
    return null;
  }

  /** The server that handles a host: by alias first, then by pattern, into nested virtual hosts (libevent's `evhttp_find_vhost`). */
  resolve(host: string): ServerConfig {
    return this.findAlias(host) ?? ServerConfig.#byPattern(this, host);
  }

  static #byPattern(top: ServerConfig, host: string): ServerConfig {
    let cfg = top;
    outer: for (;;) {
      for (const v of cfg.vhosts) {
        if (globMatch(v.pattern, host)) {
          cfg = v.cfg;
          continue outer;
        }
      }
      return cfg;
    }
  }
}
