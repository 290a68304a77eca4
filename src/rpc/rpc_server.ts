/**
 * RpcServer: libevent's evrpc server (`evrpc_init`, `EVRPC_REGISTER`).
 * Each registered RPC is a `POST /.rpc.NAME` callback on an
 * {@linkcode HttpServer}: the body is the request structure, the answer a
 * 200 `application/octet-stream` carrying the reply structure; anything
 * else gets 503, as libevent answers.
 *
 * @module
 */
import { EvBuffer } from "../buffer/evbuffer.ts";
import { checkBoolean, checkCallback, checkFunction, checkObject, typeError } from "../check.ts";
import { freedError } from "../errors.ts";
import { HttpServer } from "../http/http_server.ts";
import type { HttpServerRequest } from "../http/http_server_request.ts";
import { RpcMethod } from "./rpc_method.ts";
import {
  forgetPause,
  newHookContext,
  type RpcHook,
  type RpcHookContext,
  RpcHookLists,
  type RpcHookResult,
  type RpcHookType,
  runHooks,
} from "./rpc_hooks.ts";
import type { RpcFields, RpcInput, RpcValue } from "./schema.ts";

/** A server's hook: it sees the HttpServerRequest, and the request body (input) or the encoded reply (output). */
export type RpcServerHook = RpcHook<HttpServerRequest>;

/**
 * An RPC's handler (the callback of libevent's `EVRPC_REGISTER`): fill
 * `call.reply` and call `call.done()` (`EVRPC_REQUEST_DONE`), now or later;
 * or return the reply (or a Promise of it). A handler that throws, or whose
 * Promise rejects, gets its call answered with 503.
 */
export type RpcHandler<Q extends RpcFields, R extends RpcFields> = (
  call: RpcServerCall<Q, R>,
) => void | RpcInput<R> | Promise<void | RpcInput<R>>;

/** Receives the errors of handlers and hooks, and replies that were not complete, with their call. */
export type RpcServerErrorLogger = (err: unknown, call: RpcServerCall) => void;

/** Options of {@linkcode RpcServer}. */
export interface RpcServerOptions {
  /**
   * Let the HttpServer serve HTTP/1.1 requests without Host
   * (`http.setRequireHost(false)`): libevent's evrpc clients send none.
   * Default true; false leaves the server's setting as it is.
   */
  readonly allowNoHost?: boolean;
}

/**
 * Where a call stands: `"input_hooks"` (the input hooks run, or one paused
 * it), `"handling"` (the handler has it and owes `done()`),
 * `"output_hooks"` (the reply is encoded; the output hooks run or paused
 * it), `"answered"` (200 sent) or `"failed"` (503 sent).
 */
export type RpcServerCallState = "input_hooks" | "handling" | "output_hooks" | "answered" | "failed";

/** What a call shares with its server. */
interface Registered {
  readonly method: RpcMethod;
  readonly handler: RpcHandler<RpcFields, RpcFields>;
}

/** The server's side of a call, as the call needs it. */
interface ServerSide {
  readonly outputHooks: readonly RpcServerHook[];
  log(err: unknown, call: RpcServerCall): void;
  settled(call: RpcServerCall): void;
}

let makeCall: (server: ServerSide, reg: Registered, req: HttpServerRequest) => RpcServerCall;
let callState: (call: RpcServerCall) => { begin(): void; fail(): void; stop(): void };

/**
 * One RPC being served: libevent's `EVRPC_STRUCT(Name)` (`struct
 * evrpc_req_generic`). The handler reads {@linkcode RpcServerCall.request},
 * fills {@linkcode RpcServerCall.reply} and calls
 * {@linkcode RpcServerCall.done}.
 *
 * @example
 * ```ts
 * import { EventBase, HttpServer } from "@levent/levent";
 * import { RpcField, RpcMethod, RpcServer, RpcStruct } from "@levent/levent/rpc";
 * const Text = new RpcStruct("text", { text: RpcField.string(1) });
 * const Shout = new RpcMethod("Shout", Text, Text);
 * const rpc = new RpcServer(new HttpServer(new EventBase()));
 * rpc.register(Shout, (call) => {
 *   call.reply.text = call.request.text.toUpperCase();
 *   call.done(); // EVRPC_REQUEST_DONE
 * });
 * ```
 */
export class RpcServerCall<Q extends RpcFields = RpcFields, R extends RpcFields = RpcFields> {
  static {
    makeCall = (server, reg, req) => new RpcServerCall(server, reg, req);
    callState = (call) => ({
      begin: () => call.#begin(),
      fail: () => call.#fail(),
      stop: () => call.#stop(),
    });
  }

  readonly #server: ServerSide;
  readonly #reg: Registered;
  readonly #req: HttpServerRequest;
  readonly #ctx: RpcHookContext;
  #state: RpcServerCallState = "input_hooks";
  #request: RpcValue<Q> | null = null;
  readonly #reply: Partial<RpcInput<R>> = {};
  #doneCalled = false;

  private constructor(server: ServerSide, reg: Registered, req: HttpServerRequest) {
    this.#server = server;
    this.#reg = reg;
    this.#req = req;
    this.#ctx = newHookContext(reg.method.name, null);
  }

  /** The RPC being called. */
  get method(): RpcMethod<Q, R> {
    return this.#reg.method as unknown as RpcMethod<Q, R>;
  }

  /**
   * The decoded request (the generated `rpc->request`).
   *
   * @throws {TypeError} while the input hooks run, before the request is decoded
   */
  get request(): RpcValue<Q> {
    if (this.#request === null) throw new TypeError("the request is decoded after the input hooks have run");
    return this.#request;
  }

  /** The reply to fill in (the generated `rpc->reply`); {@linkcode RpcServerCall.done} sends it. */
  get reply(): Partial<RpcInput<R>> {
    return this.#reply;
  }

  /** The HTTP request carrying the call (libevent `EVRPC_REQUEST_HTTP`). */
  get httpRequest(): HttpServerRequest {
    return this.#req;
  }

  /** The call's hook context: the metadata its input hooks attached. */
  get hookContext(): RpcHookContext {
    return this.#ctx;
  }

  /** Where the call stands; see {@linkcode RpcServerCallState}. */
  get state(): RpcServerCallState {
    return this.#state;
  }

  /**
   * Send the reply (libevent `EVRPC_REQUEST_DONE`): `reply` if given, else
   * {@linkcode RpcServerCall.reply}. It is encoded and handed to the output
   * hooks, then sent as 200 `application/octet-stream` (unless a hook set
   * another Content-Type). A reply that is not complete (a required field
   * missing, a value of the wrong type) is answered with 503, as libevent's
   * `reply_complete` check does, and reported to the error logger. Does
   * nothing if the call already ended (its server was freed).
   *
   * @throws {TypeError} if done() was called already for this call
   */
  done(reply?: RpcInput<R>): void {
    if (this.#doneCalled) throw new TypeError("done: the reply was sent already");
    this.#doneCalled = true;
    if (this.#state !== "handling") return;
    let bytes: Uint8Array;
    try {
      bytes = this.#reg.method.reply.encode((reply ?? this.#reply) as RpcInput<RpcFields>);
    } catch (err) {
      this.#server.log(err, this);
      this.#fail();
      return;
    }
    const body = new EvBuffer();
    body.add(bytes);
    this.#state = "output_hooks";
    runHooks(this.#ctx, this.#server.outputHooks, this.#req, body, (result, thrown) => {
      if (this.#state !== "output_hooks") return;
      if (result !== "continue") {
        if (thrown !== undefined) this.#server.log(thrown, this);
        this.#fail();
        return;
      }
      const headers = this.#req.outputHeaders;
      if (!headers.has("content-type")) headers.set("Content-Type", "application/octet-stream");
      this.#state = "answered";
      this.#req.sendReply(200, "OK", body);
      this.#server.settled(this);
    });
  }

  /** The input hooks let the call through: decode it and hand it to the handler. */
  #begin(): void {
    if (this.#state !== "input_hooks") return;
    try {
      this.#request = this.#reg.method.request.unmarshal(this.#req.inputBuffer) as RpcValue<Q>;
    } catch {
      // A request that does not decode is the client's error: 503, as libevent, without a log line.
      this.#fail();
      return;
    }
    this.#state = "handling";
    let out: unknown;
    try {
      out = this.#reg.handler(this as unknown as RpcServerCall);
    } catch (err) {
      this.#handlerFailed(err);
      return;
    }
    if (out !== null && typeof out === "object" && typeof (out as Promise<unknown>).then === "function") {
      (out as Promise<unknown>).then(
        (value) => this.#answer(value),
        (err) => this.#handlerFailed(err),
      );
    } else {
      this.#answer(out);
    }
  }

  #answer(value: unknown): void {
    if (value === undefined || this.#doneCalled || this.#state !== "handling") return;
    this.done(value as RpcInput<R>);
  }

  #handlerFailed(err: unknown): void {
    this.#server.log(err, this);
    if (this.#state === "handling") this.#fail();
  }

  /** Answer 503 "Service Error" (libevent `evhttp_send_error(req, HTTP_SERVUNAVAIL, "Service Error")`). */
  #fail(): void {
    if (this.#state === "answered" || this.#state === "failed") return;
    this.#state = "failed";
    forgetPause(this.#ctx);
    this.#req.sendError(503, "Service Error");
    this.#server.settled(this);
  }

  /** The server is freed: a call not answered yet gets 503. */
  #stop(): void {
    this.#fail();
  }
}

/**
 * An RPC server on an {@linkcode HttpServer}: libevent's `struct
 * evrpc_base` from `evrpc_init(http)`. {@linkcode RpcServer.register}
 * serves an {@linkcode RpcMethod} at `POST /.rpc.NAME` (libevent
 * `EVRPC_REGISTER`): the body is decoded as the request structure, the
 * handler fills the reply, and the encoded reply is sent as 200
 * `application/octet-stream`. A method other than POST, an empty body, a
 * body that does not decode, a hook that terminates, a handler that throws
 * or an incomplete reply get 503 "Service Error", as libevent answers (its
 * error page closes the connection), and the server goes on serving.
 *
 * libevent's evrpc client sends HTTP/1.1 requests without Host, which an
 * HttpServer answers with 400 by default; the RpcServer turns that check
 * off on its server (`setRequireHost(false)`) unless told not to, for
 * connections accepted from then on: make it before binding.
 *
 * @example
 * ```ts
 * import { EventBase, HttpServer } from "@levent/levent";
 * import { RpcField, RpcMethod, RpcServer, RpcStruct } from "@levent/levent/rpc";
 * const Kill = new RpcStruct("kill", {
 *   weapon: RpcField.string(0x10121),
 *   action: RpcField.string(2),
 *   how_often: RpcField.int(3).array(),
 * });
 * const Msg = new RpcStruct("msg", { from_name: RpcField.string(1), to_name: RpcField.string(2) });
 * const Message = new RpcMethod("Message", Msg, Kill);
 *
 * const base = new EventBase();
 * const http = new HttpServer(base);
 * const rpc = new RpcServer(http); // evrpc_init()
 * rpc.register(Message, (call) => { // EVRPC_REGISTER()
 *   call.reply.weapon = "dagger";
 *   call.reply.action = `wave at ${call.request.to_name}`;
 *   call.done(); // EVRPC_REQUEST_DONE()
 * });
 * await http.bind("127.0.0.1", 8080);
 * await base.dispatch();
 * ```
 */
export class RpcServer {
  readonly #http: HttpServer;
  readonly #registered: Map<string, Registered> = new Map();
  readonly #hooks: RpcHookLists<RpcServerHook> = new RpcHookLists();
  readonly #calls: Set<RpcServerCall> = new Set();
  #logger: RpcServerErrorLogger | null = null;
  #freed = false;
  readonly #side: ServerSide;

  /**
   * Serve RPCs on `http` (libevent `evrpc_init`).
   *
   * @throws {TypeError} if http is not an HttpServer or options are malformed
   */
  constructor(http: HttpServer, options: RpcServerOptions = {}) {
    if (!(http instanceof HttpServer)) throw typeError("http", "an HttpServer", http);
    checkObject(options, "options");
    const allowNoHost = options.allowNoHost === undefined
      ? true
      : checkBoolean(options.allowNoHost, "options.allowNoHost");
    this.#http = http;
    if (allowNoHost) http.setRequireHost(false);
    this.#side = {
      outputHooks: this.#hooks.output,
      log: (err, call) => this.#log(err, call),
      settled: (call) => this.#calls.delete(call),
    };
  }

  /** The HTTP server the RPCs are served on. */
  get http(): HttpServer {
    return this.#http;
  }

  /** The names of the registered RPCs. */
  get names(): string[] {
    return [...this.#registered.keys()];
  }

  /** Calls not answered yet: in their hooks, or with their handlers. */
  get pendingCount(): number {
    return this.#calls.size;
  }

  /**
   * Serve `method` at `POST /.rpc.NAME` with `handler` (libevent
   * `EVRPC_REGISTER`).
   *
   * @returns false, changing nothing, if the path has a callback already (this RPC, or another of the HttpServer)
   * @throws {TypeError} if method is not an RpcMethod or handler is not a function
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  register<Q extends RpcFields, R extends RpcFields>(method: RpcMethod<Q, R>, handler: RpcHandler<Q, R>): boolean {
    if (!(method instanceof RpcMethod)) throw typeError("method", "an RpcMethod", method);
    checkFunction(handler, "handler");
    this.#checkLive("register");
    const reg: Registered = {
      method: method as unknown as RpcMethod,
      handler: handler as unknown as RpcHandler<RpcFields, RpcFields>,
    };
    if (!this.#http.setCb(method.uri, (req) => this.#onRequest(reg, req))) return false;
    this.#registered.set(method.name, reg);
    return true;
  }

  /**
   * Stop serving an RPC (libevent `evrpc_unregister_rpc`); its path then
   * gets the HttpServer's 404. Calls in progress go on.
   *
   * @returns false if no RPC of that name is registered
   * @throws {TypeError} if method is neither an RpcMethod nor a string
   */
  unregister(method: RpcMethod | string): boolean {
    const name = method instanceof RpcMethod ? method.name : method;
    if (typeof name !== "string") throw typeError("method", "an RpcMethod or a name", method);
    const reg = this.#registered.get(name);
    if (reg === undefined) return false;
    this.#registered.delete(name);
    this.#http.delCb(reg.method.uri);
    return true;
  }

  /**
   * Add a hook (libevent `evrpc_add_hook`): `"input"` hooks see each
   * request's body before it is decoded, `"output"` hooks each encoded
   * reply before it is sent. Hooks run in the order added.
   *
   * @returns the hook, to remove it with
   * @throws {TypeError} if type is not "input" or "output", or hook is not a function
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  addHook(type: RpcHookType, hook: RpcServerHook): RpcServerHook {
    this.#checkLive("addHook");
    return this.#hooks.add(type, hook);
  }

  /**
   * Remove a hook (libevent `evrpc_remove_hook`).
   *
   * @returns false if it was not a hook of that type
   * @throws {TypeError} if type is not "input" or "output"
   */
  removeHook(type: RpcHookType, hook: RpcServerHook): boolean {
    return this.#hooks.remove(type, hook);
  }

  /**
   * Resume a call a hook paused (libevent `evrpc_resume_request`); the same
   * as `ctx.resume(result)`.
   *
   * @returns false if the call is not paused
   * @throws {TypeError} if result is not "continue" or "terminate"
   */
  resumeRequest(ctx: RpcHookContext, result: RpcHookResult): boolean {
    return ctx.resume(result);
  }

  /**
   * Receive the errors of handlers and hooks and the replies that were not
   * complete (each also answered with 503); by default they go unreported.
   * Null removes it.
   *
   * @throws {TypeError} if logger is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the server was freed
   */
  setErrorLogger(logger: RpcServerErrorLogger | null): void {
    this.#checkLive("setErrorLogger");
    this.#logger = checkCallback(logger, "logger");
  }

  /**
   * Unregister every RPC and drop the hooks (libevent `evrpc_free`); calls
   * not answered yet get 503. The HttpServer stays. Calling it again, and
   * unregister() or removeHook() afterwards, does nothing; register(),
   * addHook() and setErrorLogger() throw `ERR_FREED`.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    for (const name of [...this.#registered.keys()]) this.unregister(name);
    this.#hooks.clear();
    for (const call of [...this.#calls]) callState(call).stop();
    this.#calls.clear();
  }

  #checkLive(op: string): void {
    if (this.#freed) throw freedError(op, "RpcServer");
  }

  #onRequest(reg: Registered, req: HttpServerRequest): void {
    if (req.method !== "POST" || req.inputBuffer.length === 0) {
      req.sendError(503, "Service Error");
      return;
    }
    const call = makeCall(this.#side, reg, req);
    this.#calls.add(call);
    // A call whose connection is lost is forgotten: a handler that never answers (NeverReply) holds nothing.
    req.setCloseCb(() => {
      forgetPause(call.hookContext);
      this.#calls.delete(call);
    });
    const state = callState(call);
    if (this.#hooks.input.length === 0) {
      state.begin();
      return;
    }
    runHooks(call.hookContext, this.#hooks.input, req, req.inputBuffer, (result, thrown) => {
      if (result === "continue") {
        state.begin();
        return;
      }
      if (thrown !== undefined) this.#log(thrown, call);
      state.fail();
    });
  }

  #log(err: unknown, call: RpcServerCall): void {
    const logger = this.#logger;
    if (logger === null) return;
    try {
      logger(err, call);
    } catch {
      // A failing logger must not become a second error path.
    }
  }
}
