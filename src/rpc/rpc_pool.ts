/**
 * RpcPool: libevent's evrpc client (`evrpc_pool`, `EVRPC_MAKE_REQUEST`):
 * calls RPCs over a set of {@linkcode HttpConnection}s, each call on a
 * connection with nothing outstanding, the rest waiting in order.
 *
 * @module
 */
import { checkEventBase, checkFunction, checkMs, checkObject, typeError } from "../check.ts";
import { freedError } from "../errors.ts";
import { Event, type EventBase } from "../event/event_base.ts";
import { HttpConnection } from "../http/http_connection.ts";
import { HttpClientRequest } from "../http/http_client_request.ts";
import { RpcError, type RpcErrorCode } from "./rpc_error.ts";
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
import { RpcMethod } from "./rpc_method.ts";
import type { RpcFields, RpcInput, RpcValue } from "./schema.ts";

/**
 * How a call ended (libevent's `EVRPC_STATUS_ERR_*`): `"none"` (the reply
 * arrived and decoded), `"timeout"` (no reply: the pool's timeout, or the
 * HTTP request failed or was cancelled, as libevent reports every request
 * that got no reply), `"bad_payload"` (the answer was not a 200 carrying
 * the reply structure), `"unstarted"` (the request was never sent: an
 * output hook terminated it, or it was cancelled before) or
 * `"hook_aborted"` (an input hook terminated the reply).
 */
export type RpcStatusCode = "none" | "timeout" | "bad_payload" | "unstarted" | "hook_aborted";

/** What a call's callback hears (libevent's `struct evrpc_status`). */
export interface RpcStatus {
  /** How the call ended (`status->error`). */
  readonly error: RpcStatusCode;
  /** The HTTP request that carried it, or null if none was made (`status->http_req`). */
  readonly httpRequest: HttpClientRequest | null;
  /** Why it failed, with a precise code (`ERR_RPC_TIMEOUT`, `ERR_RPC_CONNECTION`...); null for `"none"`. */
  readonly cause: RpcError | null;
}

/**
 * A call's callback (the `cb` of libevent's `EVRPC_MAKE_REQUEST`): the
 * status, the request as given, and the decoded reply (null unless the
 * status is `"none"`).
 */
export type RpcReplyCallback<Q extends RpcFields, R extends RpcFields> = (
  status: RpcStatus,
  request: RpcInput<Q>,
  reply: RpcValue<R> | null,
) => void;

/** A pool's hook: it sees the HttpClientRequest, and the encoded request (output) or the reply body (input). */
export type RpcPoolHook = RpcHook<HttpClientRequest>;

/** Options of {@linkcode RpcPool.makeRequest} and {@linkcode RpcPool.call}. */
export interface RpcCallOptions {
  /** Cancel the call when this signal aborts: status `"unstarted"` if it was not sent, else `"timeout"`; cause `ERR_RPC_CANCELLED`. */
  readonly signal?: AbortSignal;
}

/** Where a call of the pool stands. */
type PoolCallState = "queued" | "output_hooks" | "sending" | "input_hooks" | "done";

/** One call, from makeRequest to its callback. */
interface PoolCall {
  readonly method: RpcMethod;
  readonly request: RpcInput<RpcFields>;
  readonly bytes: Uint8Array;
  readonly cb: RpcReplyCallback<RpcFields, RpcFields>;
  readonly signal: AbortSignal | null;
  state: PoolCallState;
  conn: HttpConnection | null;
  req: HttpClientRequest | null;
  ctx: RpcHookContext | null;
  timer: Event | null;
  onAbort: (() => void) | null;
}

/**
 * Send a connection's writes at once (TCP_NODELAY): an RPC is a small
 * request and a small reply, and with Nagle's algorithm on, a POST's body
 * written after its head waits for the server's delayed ACK (about 40 ms on
 * Node, whose sockets start with it on). A connection not connected yet
 * gets it after its first reply.
 */
function noDelay(conn: HttpConnection): void {
  conn.bufferEvent?.socket?.setNoDelay(true);
}

/**
 * A pool of connections to one RPC server: libevent's `struct evrpc_pool`.
 * Each call ({@linkcode RpcPool.makeRequest}, libevent's
 * `EVRPC_MAKE_REQUEST`; or {@linkcode RpcPool.call}, its Promise form) is
 * encoded, goes to a connection with no call outstanding, or waits in a
 * queue until one is free, and is sent as `POST /.rpc.NAME`. Its callback
 * gets libevent's status with the request and the decoded reply. Hooks see
 * each request before it leaves and each reply before it is decoded; a
 * pool timeout ({@linkcode RpcPool.setTimeout}) bounds each call once sent.
 *
 * @example
 * ```ts
 * import { EventBase, HttpConnection } from "@levent/levent";
 * import { RpcField, RpcMethod, RpcPool, RpcStruct } from "@levent/levent/rpc";
 * const Msg = new RpcStruct("msg", { from_name: RpcField.string(1), to_name: RpcField.string(2) });
 * const Kill = new RpcStruct("kill", { weapon: RpcField.string(0x10121), action: RpcField.string(2) });
 * const Message = new RpcMethod("Message", Msg, Kill);
 *
 * const base = new EventBase();
 * const pool = new RpcPool(base); // evrpc_pool_new()
 * pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port: 8080 })); // evrpc_pool_add_connection()
 * pool.setTimeout(5000); // evrpc_pool_set_timeout(), in milliseconds
 * pool.makeRequest(Message, { from_name: "niels", to_name: "tester" }, (status, _req, reply) => {
 *   console.log(status.error, reply?.weapon); // none dagger
 *   pool.free();
 * });
 * await base.dispatch();
 * ```
 */
export class RpcPool {
  readonly #base: EventBase;
  /** The connections, each with the call it carries, or null when free. */
  readonly #conns: Map<HttpConnection, PoolCall | null> = new Map();
  readonly #queue: PoolCall[] = [];
  readonly #hooks: RpcHookLists<RpcPoolHook> = new RpcHookLists();
  #timeoutMs = 0;
  #freed = false;

  /**
   * A pool on `base`, with no connection yet (libevent `evrpc_pool_new`).
   *
   * @throws {TypeError} if base is not an EventBase
   */
  constructor(base: EventBase) {
    this.#base = checkEventBase(base, "base");
  }

  /** The loop the pool runs on. */
  get base(): EventBase {
    return this.#base;
  }

  /** The pool's connections, in the order added. */
  get connections(): HttpConnection[] {
    return [...this.#conns.keys()];
  }

  /** Calls waiting for a free connection. */
  get queuedCount(): number {
    return this.#queue.length;
  }

  /** Calls on a connection: in their hooks, or waiting for their reply. */
  get activeCount(): number {
    let n = 0;
    for (const call of this.#conns.values()) if (call !== null) n++;
    return n;
  }

  /**
   * Add a connection (libevent `evrpc_pool_add_connection`); a waiting call
   * goes out on it at once. The pool frees it in {@linkcode RpcPool.free}.
   *
   * @throws {TypeError} if conn is not an HttpConnection on the pool's base, or is in the pool already
   * @throws {LeventError} `ERR_FREED` once the pool was freed
   */
  addConnection(conn: HttpConnection): void {
    if (!(conn instanceof HttpConnection)) throw typeError("conn", "an HttpConnection", conn);
    if (conn.base !== this.#base) throw new TypeError("conn must run on the pool's EventBase");
    if (this.#conns.has(conn)) throw new TypeError("conn is in the pool already");
    this.#checkOpen("addConnection");
    this.#conns.set(conn, null);
    this.#schedule();
  }

  /**
   * Take a connection out of the pool (libevent
   * `evrpc_pool_remove_connection`); a call on it goes on to its end. The
   * caller owns the connection again.
   *
   * @returns false if it was not in the pool
   */
  removeConnection(conn: HttpConnection): boolean {
    return this.#conns.delete(conn);
  }

  /**
   * Bound each call from the moment it is sent: with no reply after `ms`,
   * its HTTP request is cancelled and its status is `"timeout"` (libevent
   * `evrpc_pool_set_timeout`, which takes seconds). 0, the default, sets
   * none; the connections' own timeouts still apply.
   *
   * @throws {TypeError} if ms is not a number
   * @throws {RangeError} if ms is negative or not finite
   */
  setTimeout(ms: number): void {
    this.#timeoutMs = checkMs(ms, "ms");
  }

  /**
   * Call `method` with `request` (libevent `EVRPC_MAKE_REQUEST`): the
   * request is encoded now, sent on a free connection (queued until one
   * is), and `cb` gets the status, the request and the decoded reply.
   * Failures never throw once the request was accepted: they come to `cb`.
   *
   * @throws {TypeError} if method is not an RpcMethod, cb is not a function, or the request lacks a required field or has one of the wrong type
   * @throws {LeventError} `ERR_FREED` once the pool was freed
   * @throws {RangeError} if a number in the request is out of its range
   */
  makeRequest<Q extends RpcFields, R extends RpcFields>(
    method: RpcMethod<Q, R>,
    request: RpcInput<Q>,
    cb: RpcReplyCallback<Q, R>,
    options: RpcCallOptions = {},
  ): void {
    if (!(method instanceof RpcMethod)) throw typeError("method", "an RpcMethod", method);
    checkFunction(cb, "cb");
    checkObject(options, "options");
    const signal = options.signal ?? null;
    if (signal !== null && !(signal instanceof AbortSignal)) {
      throw typeError("options.signal", "an AbortSignal", signal);
    }
    this.#checkOpen("makeRequest");
    const bytes = method.request.encode(request);
    const call: PoolCall = {
      method: method as unknown as RpcMethod,
      request: request as RpcInput<RpcFields>,
      bytes,
      cb: cb as unknown as RpcReplyCallback<RpcFields, RpcFields>,
      signal,
      state: "queued",
      conn: null,
      req: null,
      ctx: null,
      timer: null,
      onAbort: null,
    };
    if (signal !== null) {
      if (signal.aborted) {
        this.#finish(call, "unstarted", "ERR_RPC_CANCELLED", "the call was cancelled before it was sent", null);
        return;
      }
      call.onAbort = () => this.#cancel(call);
      signal.addEventListener("abort", call.onAbort, { once: true });
    }
    this.#queue.push(call);
    this.#schedule();
  }

  /**
   * Call `method` with `request` and resolve with the decoded reply: the
   * Promise form of {@linkcode RpcPool.makeRequest}. It rejects with the
   * status's `cause`, an {@linkcode RpcError} (`ERR_RPC_TIMEOUT`,
   * `ERR_RPC_CONNECTION`, `ERR_RPC_BAD_PAYLOAD`, `ERR_RPC_UNSTARTED`,
   * `ERR_RPC_HOOK_ABORTED`, `ERR_RPC_CANCELLED`). The pool's loop must be
   * running for it to settle.
   *
   * @throws {TypeError} (as a rejection) for the argument errors of makeRequest
   * @throws {RangeError} (as a rejection) if a number in the request is out of its range
   */
  call<Q extends RpcFields, R extends RpcFields>(
    method: RpcMethod<Q, R>,
    request: RpcInput<Q>,
    options: RpcCallOptions = {},
  ): Promise<RpcValue<R>> {
    return new Promise((resolve, reject) => {
      this.makeRequest(method, request, (status, _req, reply) => {
        if (status.error === "none") resolve(reply!);
        else reject(status.cause);
      }, options);
    });
  }

  /**
   * Add a hook (libevent `evrpc_add_hook` on a pool): `"output"` hooks see
   * each encoded request before it is sent, `"input"` hooks each reply's
   * body before it is decoded. Hooks run in the order added.
   *
   * @returns the hook, to remove it with
   * @throws {TypeError} if type is not "input" or "output", or hook is not a function
   */
  addHook(type: RpcHookType, hook: RpcPoolHook): RpcPoolHook {
    return this.#hooks.add(type, hook);
  }

  /**
   * Remove a hook (libevent `evrpc_remove_hook`).
   *
   * @returns false if it was not a hook of that type
   * @throws {TypeError} if type is not "input" or "output"
   */
  removeHook(type: RpcHookType, hook: RpcPoolHook): boolean {
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
   * Free the pool and its connections (libevent `evrpc_pool_free`). Calls
   * not finished end cancelled (`ERR_RPC_CANCELLED`): status `"unstarted"`
   * for those never sent, `"timeout"` for the others.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    for (const call of this.#queue.splice(0)) {
      this.#finish(call, "unstarted", "ERR_RPC_CANCELLED", "the pool was freed", null);
    }
    for (const call of [...this.#conns.values()]) {
      if (call !== null) this.#cancel(call, "the pool was freed");
    }
    const conns = [...this.#conns.keys()];
    this.#conns.clear();
    for (const conn of conns) conn.free();
  }

  #checkOpen(op: string): void {
    if (this.#freed) throw freedError(op, "RpcPool");
  }

  /** Start waiting calls on free connections (libevent `evrpc_pool_schedule`). */
  #schedule(): void {
    while (this.#queue.length > 0 && !this.#freed) {
      let free: HttpConnection | null = null;
      for (const [conn, call] of this.#conns) {
        if (call === null && conn.state !== "freed") {
          free = conn;
          break;
        }
      }
      if (free === null) return;
      this.#start(this.#queue.shift()!, free);
    }
  }

  /** Put a call on a connection: encode into a request, run the output hooks, send (libevent `evrpc_schedule_request`). */
  #start(call: PoolCall, conn: HttpConnection): void {
    this.#conns.set(conn, call);
    call.conn = conn;
    const req = new HttpClientRequest((r) => this.#onReply(call, r));
    call.req = req;
    req.outputBuffer.add(call.bytes);
    const ctx = newHookContext(call.method.name, conn);
    call.ctx = ctx;
    call.state = "output_hooks";
    runHooks(ctx, this.#hooks.output, req, req.outputBuffer, (result, thrown) => {
      if (call.state !== "output_hooks") return;
      if (result !== "continue") {
        const why = thrown === undefined ? "an output hook terminated the request" : "an output hook threw";
        this.#finish(call, "unstarted", "ERR_RPC_UNSTARTED", why, thrown ?? null);
        return;
      }
      call.state = "sending";
      if (this.#timeoutMs > 0) {
        call.timer = new Event(this.#base, null, 0, () => this.#onTimeout(call));
        call.timer.add(this.#timeoutMs);
      }
      noDelay(conn);
      try {
        conn.makeRequest(req, "POST", call.method.uri);
      } catch (err) {
        this.#finish(call, "unstarted", "ERR_RPC_UNSTARTED", "the HTTP request could not be made", err);
      }
    });
  }

  /** The HTTP request ended: a response, or a failure (libevent `evrpc_reply_done`). */
  #onReply(call: PoolCall, r: HttpClientRequest): void {
    if (call.state !== "sending") return;
    if (call.conn !== null) noDelay(call.conn);
    call.timer?.free();
    call.timer = null;
    const error = r.error;
    if (error !== null) {
      const timedOut = r.errorKind === "timeout";
      this.#finish(
        call,
        "timeout",
        timedOut ? "ERR_RPC_TIMEOUT" : "ERR_RPC_CONNECTION",
        `the HTTP request failed: ${error.message}`,
        error,
      );
      return;
    }
    call.state = "input_hooks";
    runHooks(call.ctx!, this.#hooks.input, r, r.inputBuffer, (result, thrown) => {
      if (call.state !== "input_hooks") return;
      if (result !== "continue") {
        const why = thrown === undefined ? "an input hook terminated the reply" : "an input hook threw";
        this.#finish(call, "hook_aborted", "ERR_RPC_HOOK_ABORTED", why, thrown ?? null);
        return;
      }
      if (r.responseCode !== 200) {
        const why = `the server answered ${r.responseCode} ${r.responseReason}, not 200 with the reply`;
        this.#finish(call, "bad_payload", "ERR_RPC_BAD_PAYLOAD", why, null);
        return;
      }
      let reply: RpcValue<RpcFields>;
      try {
        reply = call.method.reply.unmarshal(r.inputBuffer);
      } catch (err) {
        const why = `the reply does not decode as struct ${call.method.reply.name}: ${(err as Error).message}`;
        this.#finish(call, "bad_payload", "ERR_RPC_BAD_PAYLOAD", why, err);
        return;
      }
      this.#finish(call, "none", null, "", null, reply);
    });
  }

  /** The pool's timeout fired (libevent `evrpc_request_timeout`). */
  #onTimeout(call: PoolCall): void {
    if (call.state !== "sending") return;
    const req = call.req!;
    this.#finish(call, "timeout", "ERR_RPC_TIMEOUT", `no reply within ${this.#timeoutMs} ms`, null);
    req.cancel();
  }

  /** Cancel a call wherever it is. */
  #cancel(call: PoolCall, why = "the call was cancelled"): void {
    switch (call.state) {
      case "queued": {
        const i = this.#queue.indexOf(call);
        if (i >= 0) this.#queue.splice(i, 1);
        this.#finish(call, "unstarted", "ERR_RPC_CANCELLED", why, null);
        return;
      }
      case "output_hooks":
        this.#finish(call, "unstarted", "ERR_RPC_CANCELLED", why, null);
        return;
      case "sending":
      case "input_hooks": {
        const sending = call.state === "sending";
        this.#finish(call, "timeout", "ERR_RPC_CANCELLED", why, null);
        if (sending) call.req!.cancel();
        return;
      }
      case "done":
        return;
    }
  }

  /** End a call: free its connection, tell its callback, start the next waiting call. */
  #finish(
    call: PoolCall,
    status: RpcStatusCode,
    code: RpcErrorCode | null,
    message: string,
    cause: unknown,
    reply: RpcValue<RpcFields> | null = null,
  ): void {
    if (call.state === "done") return;
    call.state = "done";
    call.timer?.free();
    call.timer = null;
    if (call.ctx !== null) forgetPause(call.ctx);
    if (call.onAbort !== null) call.signal!.removeEventListener("abort", call.onAbort);
    const conn = call.conn;
    if (conn !== null && this.#conns.get(conn) === call) this.#conns.set(conn, null);
    const error = code === null
      ? null
      : new RpcError(code, `${call.method.name}: ${message}`, cause === null ? undefined : { cause });
    try {
      call.cb({ error: status, httpRequest: call.req, cause: error }, call.request, reply);
    } finally {
      this.#schedule();
    }
  }
}
