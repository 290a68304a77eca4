/**
 * RpcMethod: one RPC's declaration, its name with its request and reply
 * structures (libevent's `EVRPC_HEADER` / `EVRPC_GENERATE`).
 *
 * @module
 */
import { checkNonEmptyString, typeError } from "../check.ts";
import { type RpcFields, RpcStruct } from "./schema.ts";

/** The URI prefix of every RPC: an RPC named `Message` is served at `POST /.rpc.Message` (libevent `EVRPC_URI_PREFIX`). */
export const RPC_URI_PREFIX = "/.rpc.";

/**
 * An RPC: its name and the structures of its request and reply (libevent
 * `EVRPC_HEADER(Name, reqstruct, rplystruct)` with `EVRPC_GENERATE`). Give
 * it to {@linkcode RpcServer.register} to serve it and to
 * {@linkcode RpcPool.makeRequest} or {@linkcode RpcPool.call} to call it;
 * both sides then agree on the types.
 *
 * @example
 * ```ts
 * import { RpcField, RpcMethod, RpcStruct } from "@levent/levent/rpc";
 * const Ping = new RpcStruct("ping", { text: RpcField.string(1) });
 * const Echo = new RpcMethod("Echo", Ping, Ping);
 * console.log(Echo.uri); // /.rpc.Echo
 * ```
 */
export class RpcMethod<Q extends RpcFields = RpcFields, R extends RpcFields = RpcFields> {
  /** The RPC's name, as in `EVRPC_HEADER` (`Message`). */
  readonly name: string;
  /** The request's structure. */
  readonly request: RpcStruct<Q>;
  /** The reply's structure. */
  readonly reply: RpcStruct<R>;

  /**
   * Declare an RPC. The name goes into the URI as it is, so it is limited
   * to letters, digits and `_ . - ~`.
   *
   * @throws {TypeError} if name is not such a non-empty string, or request or reply is not an RpcStruct
   */
  constructor(name: string, request: RpcStruct<Q>, reply: RpcStruct<R>) {
    checkNonEmptyString(name, "name");
    if (!/^[A-Za-z0-9_.~-]+$/.test(name)) {
      throw typeError("name", "letters, digits and _ . - ~ only (it goes into the URI as it is)", name);
    }
    if (!(request instanceof RpcStruct)) throw typeError("request", "an RpcStruct", request);
    if (!(reply instanceof RpcStruct)) throw typeError("reply", "an RpcStruct", reply);
    this.name = name;
    this.request = request;
    this.reply = reply;
  }

  /** The path it is served at: `/.rpc.` and the name (libevent's `evrpc_construct_uri`). */
  get uri(): string {
    return RPC_URI_PREFIX + this.name;
  }
}
