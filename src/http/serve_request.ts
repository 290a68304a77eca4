/**
 * The `Request` that {@linkcode serve} hands a handler, made on demand. Most
 * handlers read the method and the URL, maybe a header, and answer; building
 * a runtime `Request` for each (a parsed URL, a `Headers`, an
 * `AbortSignal` following another, a body `ReadableStream`) costs more than
 * the whole HTTP exchange. So the handler gets a light object whose
 * prototype chain holds `Request.prototype` (so `instanceof Request` holds
 * and `Object.prototype.toString` says Request): it answers `method`, `url`,
 * `headers` (read from the parser's head on first use), `signal` (made on
 * first use, aborted when the client goes away, by a reset or its FIN) and, for GET and HEAD,
 * `body` and `bodyUsed` by itself, and builds the runtime's own `Request`
 * the first time anything else is asked (a body reader, `clone()`, `cache`,
 * ...), delegating every other member of `Request.prototype` to it. The
 * runtimes' Request methods check that `this` is one of theirs, so each is
 * overridden, never inherited; on Deno the internal slots its fetch reads
 * are delegated too. @hono/node-server serves Node the same way.
 *
 * What stays out of reach without replacing the global `Request`: on Node 26,
 * `new Request(request)` and `fetch(request)` read undici's private state
 * of the object they get, and throw; give them `request.clone()` (a runtime
 * Request) instead. Deno reads the delegated slots, Bun the members.
 *
 * @module
 */
import { headerList } from "./headers.ts";
import { clientEndCb, type HttpServerRequest } from "./http_server_request.ts";

/** Methods whose requests carry no body a handler may read. */
const NO_BODY = new Set(["GET", "HEAD"]);

/** What a Host field may hold to stand in a URL: a name or an IPv4 or bracketed IPv6 address, and a port. */
const HOST_FIELD = /^(?:[A-Za-z0-9._~!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?$/;

/** A light request's runtime Request, built on first use (set in ServeRequest's static block). */
let realOf!: (request: ServeRequest) => Request;

/**
 * The HttpServer request behind a `Request` that serve() handed a handler,
 * or undefined for any other Request (set in ServeRequest's static block).
 * For protocol upgrades (`upgradeWebSocket`): not part of the public API.
 */
export let serverRequestOf!: (request: Request) => HttpServerRequest | undefined;

/**
 * The light Request serve() makes per request. Not exported from the
 * package: handlers see it as a `Request`.
 */
export class ServeRequest {
  readonly #server: HttpServerRequest;
  readonly #base: string;
  #url: string | null = null;
  #headers: Headers | null = null;
  #abort: AbortController | null = null;
  #real: Request | null = null;

  /** `base` is the scheme and authority for an origin-form target without a usable Host field. */
  constructor(server: HttpServerRequest, base: string) {
    this.#server = server;
    this.#base = base;
    if (!NO_BODY.has(server.method)) server.setBodyCb(holdBody);
  }

  static {
    realOf = (request) => request.#toReal();
    serverRequestOf = (request) => #server in request ? (request as unknown as ServeRequest).#server : undefined;
  }

  /** The method, as the client sent it (the standard ones are upper case already, or refused by the parser). */
  get method(): string {
    return this.#server.method;
  }

  /** The absolute URL: the scheme, the Host field (else the bound address) and the target. */
  get url(): string {
    return this.#url ??= requestUrl(this.#server, this.#base);
  }

  /** The request's header fields, made from the parser's head on first use. */
  get headers(): Headers {
    if (this.#headers !== null) return this.#headers;
    if (this.#real !== null) return this.#headers = this.#real.headers;
    const headers = new Headers();
    const list = headerList(this.#server.inputHeaders);
    for (let i = 0; i < list.length; i += 2) headers.append(list[i], list[i + 1]);
    return this.#headers = headers;
  }

  /** Aborted when the client goes away (a reset, a failed write, or its end of the connection) before the response is complete. */
  get signal(): AbortSignal {
    if (this.#abort !== null) return this.#abort.signal;
    const abort = this.#abort = new AbortController();
    const req = this.#server;
    if (req.responseState === "aborted" || req.bodyState === "aborted") abort.abort();
    else {
      const gone = (): void => abort.abort();
      req.setCloseCb(gone);
      // A client that ends its side has gone too, as Deno's and Bun's servers take it (the reply is still sent).
      clientEndCb(req, gone);
    }
    return abort.signal;
  }

  /** Null for GET and HEAD; otherwise the runtime Request's body stream. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real === null && NO_BODY.has(this.#server.method)) return null;
    return realOf(this).body;
  }

  /** Whether a body reader ran (never for GET and HEAD, whose body is null). */
  get bodyUsed(): boolean {
    if (this.#real === null && NO_BODY.has(this.#server.method)) return false;
    return realOf(this).bodyUsed;
  }

  #toReal(): Request {
    if (this.#real !== null) return this.#real;
    const req = this.#server;
    const init: RequestInit & { duplex?: "half" } = { method: req.method, headers: this.headers, signal: this.signal };
    if (!NO_BODY.has(req.method)) {
      init.body = bodyStream(req);
      init.duplex = "half";
    }
    return this.#real = new Request(this.url, init);
  }
}

/** Until a body stream is made, a body nobody reads stops reading from the client. */
function holdBody(req: HttpServerRequest): void {
  if (req.bodyState === "reading") req.pauseBody();
}

/** The URL of a request: an absolute-form target as it is, else the scheme, Host and target. */
function requestUrl(req: HttpServerRequest, base: string): string {
  const target = req.uri;
  if (target.charCodeAt(0) !== 47) return target;
  const host = req.inputHeaders.get("host");
  if (host === null || !HOST_FIELD.test(host)) return base + target;
  return base.slice(0, base.indexOf("//") + 2) + host + target;
}

// Every other member of Request.prototype answers from the runtime Request:
// inherited, it would throw on a `this` that is not one of the runtime's own.
{
  const proto = ServeRequest.prototype as unknown as Record<PropertyKey, unknown>;
  const members = Request.prototype as unknown as Record<PropertyKey, unknown>;
  Object.setPrototypeOf(proto, members);
  Object.defineProperty(proto, "constructor", { value: Request, writable: true, configurable: true });
  for (const key of Reflect.ownKeys(members)) {
    if (Object.hasOwn(proto, key)) continue;
    const d = Object.getOwnPropertyDescriptor(members, key)!;
    const get = d.get;
    if (get !== undefined) {
      Object.defineProperty(proto, key, {
        get(this: ServeRequest) {
          return get.call(realOf(this));
        },
        configurable: true,
      });
    } else if (typeof d.value === "function") {
      const method = d.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        value: function (this: ServeRequest, ...args: unknown[]): unknown {
          return method.apply(realOf(this), args);
        },
        writable: true,
        configurable: true,
      });
    }
  }
  // Slots a runtime keeps on each Request (Deno's inner request, headers, brand) and reads straight from
  // an argument that passes its instanceof check: read from and written to the runtime Request.
  for (const key of Object.getOwnPropertySymbols(new Request("http://localhost/"))) {
    if (Object.hasOwn(proto, key)) continue;
    Object.defineProperty(proto, key, {
      get(this: ServeRequest) {
        return (realOf(this) as unknown as Record<symbol, unknown>)[key];
      },
      set(this: ServeRequest, value: unknown) {
        (realOf(this) as unknown as Record<symbol, unknown>)[key] = value;
      },
      configurable: true,
    });
  }
}

/** The request body as a byte stream: reading from the client pauses while the stream is full. */
function bodyStream(req: HttpServerRequest): ReadableStream<Uint8Array> {
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
