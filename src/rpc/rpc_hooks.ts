/**
 * RPC hooks (libevent's `evrpc_add_hook`): functions that see each RPC's
 * HTTP request and body on the way in and out, and answer continue, pause
 * or terminate; {@linkcode RpcHookContext} is the call they run for, with
 * its metadata and its resume.
 *
 * @module
 */
import type { EvBuffer } from "../buffer/evbuffer.ts";
import { checkFunction, checkNonEmptyString, checkOneOf, typeError } from "../check.ts";
import type { HttpConnection } from "../http/http_connection.ts";

/**
 * What a hook answers (libevent's `enum EVRPC_HOOK_RESULT`):
 * `"continue"` (`EVRPC_CONTINUE`: on to the next hook, then the call),
 * `"pause"` (`EVRPC_PAUSE`: hold the call until
 * {@linkcode RpcHookContext.resume}), or `"terminate"` (`EVRPC_TERMINATE`:
 * end the call: a server answers 503, a pool reports the call failed).
 */
export type RpcHookResult = "continue" | "pause" | "terminate";

/**
 * Where a hook runs (libevent's `enum EVRPC_HOOK_TYPE`): `"input"`
 * (`EVRPC_INPUT`: a server's request before it is decoded, a pool's reply
 * before it is decoded) or `"output"` (`EVRPC_OUTPUT`: a server's encoded
 * reply before it is sent, a pool's encoded request before it is sent).
 */
export type RpcHookType = "input" | "output";

/**
 * A hook: `ctx` is the call, `req` its HTTP request (an
 * HttpServerRequest on a server, an HttpClientRequest in a pool) and
 * `body` the bytes at that point, which the hook may change (libevent's
 * `int (*cb)(void *ctx, struct evhttp_request *, struct evbuffer *, void *)`).
 * A hook that throws terminates the call.
 */
export type RpcHook<R> = (ctx: RpcHookContext, req: R, body: EvBuffer) => RpcHookResult;

const HOOK_TYPES: readonly RpcHookType[] = ["input", "output"];
const RESULTS: readonly RpcHookResult[] = ["continue", "pause", "terminate"];

/** Make a call's context: internal to the server and the pool. */
export let newHookContext: (name: string, connection: HttpConnection | null) => RpcHookContext;

/**
 * Run `hooks` in order for a call; `then` hears `"continue"` once every
 * hook continued, or `"terminate"` (with what a hook threw, if it threw).
 * A paused hook holds the rest until the context is resumed.
 */
export let runHooks: <R>(
  ctx: RpcHookContext,
  hooks: readonly RpcHook<R>[],
  req: R,
  body: EvBuffer,
  then: (result: "continue" | "terminate", thrown: unknown) => void,
) => void;

/** Drop a paused continuation: the call ended while held (its server or pool was freed). */
export let forgetPause: (ctx: RpcHookContext) => void;

/**
 * One RPC call as its hooks see it (libevent passes it as the hooks'
 * `void *ctx`): its name, its connection, the metadata hooks attach to it,
 * and its resume after a hook paused. Metadata added by one hook is seen by
 * the later ones of the same call: a pool's output hooks (the request going
 * out) by its input hooks (the reply coming back), a server's input hooks
 * by its output hooks.
 *
 * @example
 * ```ts
 * import type { HttpClientRequest } from "@levent/levent/http";
 * import type { RpcHookContext } from "@levent/levent/rpc";
 * import type { EvBuffer } from "@levent/levent/buffer";
 * // An output hook that stamps the request, and an input hook that reads the stamp back.
 * const stamp = (ctx: RpcHookContext, req: HttpClientRequest, _body: EvBuffer) => {
 *   ctx.addMeta("sent-at", String(Date.now()));
 *   req.outputHeaders.set("X-Sent-At", new TextDecoder().decode(ctx.findMeta("sent-at")!));
 *   return "continue" as const;
 * };
 * console.log(typeof stamp);
 * ```
 */
export class RpcHookContext {
  static {
    newHookContext = (name, connection) => new RpcHookContext(name, connection);
    runHooks = (ctx, hooks, req, body, then) => ctx.#run([...hooks], 0, req, body, then);
    forgetPause = (ctx) => {
      ctx.#resume = null;
    };
  }

  readonly #name: string;
  readonly #connection: HttpConnection | null;
  readonly #meta: [string, Uint8Array][] = [];
  #resume: ((result: RpcHookResult) => void) | null = null;

  private constructor(name: string, connection: HttpConnection | null) {
    this.#name = name;
    this.#connection = connection;
  }

  /** The RPC's name (`Message`). */
  get name(): string {
    return this.#name;
  }

  /** The HTTP connection a pool's call goes over (libevent `evrpc_hook_get_connection`); null on a server. */
  get connection(): HttpConnection | null {
    return this.#connection;
  }

  /** Whether a hook paused the call and it waits for {@linkcode RpcHookContext.resume}. */
  get paused(): boolean {
    return this.#resume !== null;
  }

  /**
   * Attach metadata to the call (libevent `evrpc_hook_add_meta`); a string
   * is kept as UTF-8. A key may be added more than once;
   * {@linkcode RpcHookContext.findMeta} finds the first.
   *
   * @throws {TypeError} if key is not a non-empty string or data neither bytes nor a string
   */
  addMeta(key: string, data: Uint8Array | string): void {
    checkNonEmptyString(key, "key");
    let bytes: Uint8Array;
    if (typeof data === "string") bytes = new TextEncoder().encode(data);
    else if (data instanceof Uint8Array) bytes = data.slice();
    else throw typeError("data", "a Uint8Array or a string", data);
    this.#meta.push([key, bytes]);
  }

  /**
   * The metadata added under `key` first, or null (libevent
   * `evrpc_hook_find_meta`).
   *
   * @throws {TypeError} if key is not a string
   */
  findMeta(key: string): Uint8Array | null {
    if (typeof key !== "string") throw typeError("key", "a string", key);
    for (const [k, v] of this.#meta) if (k === key) return v;
    return null;
  }

  /**
   * Go on with a call a hook paused (libevent `evrpc_resume_request`):
   * `"continue"` runs the hooks after the one that paused, then the call;
   * `"terminate"` ends it. (libevent skips the later hooks on resume;
   * levent runs them, so every hook sees every call.)
   *
   * @returns false if the call is not paused
   * @throws {TypeError} if result is not "continue" or "terminate"
   */
  resume(result: RpcHookResult = "continue"): boolean {
    checkOneOf(result, "result", RESULTS);
    if (result === "pause") throw typeError("result", `"continue" or "terminate"`, result);
    const resume = this.#resume;
    if (resume === null) return false;
    this.#resume = null;
    resume(result);
    return true;
  }

  #run<R>(
    hooks: RpcHook<R>[],
    from: number,
    req: R,
    body: EvBuffer,
    then: (result: "continue" | "terminate", thrown: unknown) => void,
  ): void {
    for (let i = from; i < hooks.length; i++) {
      let result: unknown;
      try {
        result = hooks[i](this, req, body);
      } catch (err) {
        then("terminate", err);
        return;
      }
      if (result === "continue") continue;
      if (result === "pause") {
        this.#resume = (r) => {
          if (r === "continue") this.#run(hooks, i + 1, req, body, then);
          else then("terminate", undefined);
        };
        return;
      }
      const thrown = result === "terminate"
        ? undefined
        : new TypeError(`an RPC hook must return "continue", "pause" or "terminate", got ${String(result)}`);
      then("terminate", thrown);
      return;
    }
    then("continue", undefined);
  }
}

/** A hook type, checked. */
export function checkHookType(type: unknown): RpcHookType {
  return checkOneOf(type, "type", HOOK_TYPES);
}

/** The input and output hook lists of a server or a pool (libevent's `evrpc_hooks_`), in the order added. */
export class RpcHookLists<H> {
  /** Hooks that see what comes in: a request's body (server), a reply's body (pool). */
  readonly input: H[] = [];
  /** Hooks that see what goes out: a reply (server), a request (pool). */
  readonly output: H[] = [];

  /** Add `hook` to the list of `type` (both checked) and return it. */
  add(type: RpcHookType, hook: H): H {
    this.#list(type).push(checkFunction(hook, "hook"));
    return hook;
  }

  /** Remove `hook` from the list of `type` (checked); false if it was not there. */
  remove(type: RpcHookType, hook: H): boolean {
    const list = this.#list(type);
    const i = list.indexOf(hook);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  /** Forget every hook. */
  clear(): void {
    this.input.length = 0;
    this.output.length = 0;
  }

  #list(type: RpcHookType): H[] {
    return checkHookType(type) === "input" ? this.input : this.output;
  }
}
