/**
 * RPC: libevent's evrpc.h and tag.h. {@linkcode RpcStruct} declares a
 * message structure once (the `.rpc` language of `event_rpcgen.py`, read by
 * {@linkcode compileRpc}); its encode and decode are libevent's evtag
 * format byte for byte, and the `evtag*` functions are tag.h itself.
 * {@linkcode RpcServer} serves each {@linkcode RpcMethod} at
 * `POST /.rpc.NAME` on an HttpServer (`evrpc_init`, `EVRPC_REGISTER`);
 * {@linkcode RpcPool} calls them over pooled HttpConnections
 * (`evrpc_pool`, `EVRPC_MAKE_REQUEST`). Both interoperate with C programs
 * built on libevent.
 *
 * @example
 * ```ts
 * import { compileRpc } from "@levent/levent/rpc";
 * const structs = compileRpc(`
 *   struct msg {
 *     string from_name = 1;
 *     string to_name = 2;
 *   }
 * `);
 * const msg = structs.get("msg")!;
 * const bytes = msg.encode({ from_name: "niels", to_name: "tester" });
 * console.log(bytes); // Uint8Array [ 1, 5, 110, 105, 101, 108, 115, 2, 6, ... ]
 * console.log(msg.decode(bytes)); // { from_name: "niels", to_name: "tester" }
 * ```
 *
 * @module
 */
export { LeventError, type LeventErrorOptions } from "../errors.ts";
export { RpcError, type RpcErrorCode } from "./rpc_error.ts";
export {
  evtagConsume,
  evtagDecodeInt,
  evtagDecodeInt64,
  evtagDecodeTag,
  evtagEncodeInt,
  evtagEncodeInt64,
  evtagEncodeTag,
  type EvtagHeader,
  evtagMarshal,
  evtagMarshalBuffer,
  evtagMarshalInt,
  evtagMarshalInt64,
  evtagMarshalString,
  evtagMarshalTimeval,
  evtagPayloadLength,
  evtagPeek,
  evtagPeekLength,
  type EvtagTimeval,
  evtagUnmarshal,
  evtagUnmarshalBytes,
  evtagUnmarshalFixed,
  evtagUnmarshalHeader,
  evtagUnmarshalInt,
  evtagUnmarshalInt64,
  evtagUnmarshalString,
  evtagUnmarshalTimeval,
} from "./evtag.ts";
export {
  RpcField,
  type RpcFieldInput,
  type RpcFieldKind,
  type RpcFieldMode,
  type RpcFields,
  type RpcFieldValue,
  type RpcInput,
  type RpcKindInput,
  type RpcKindValue,
  RpcStruct,
  type RpcStructRef,
  type RpcValue,
} from "./schema.ts";
export { compileRpc, rpcToTypeScript, type RpcToTypeScriptOptions } from "./rpcgen.ts";
export { RPC_URI_PREFIX, RpcMethod } from "./rpc_method.ts";
export { type RpcHook, RpcHookContext, type RpcHookResult, type RpcHookType } from "./rpc_hooks.ts";
export {
  type RpcHandler,
  RpcServer,
  RpcServerCall,
  type RpcServerCallState,
  type RpcServerErrorLogger,
  type RpcServerHook,
  type RpcServerOptions,
} from "./rpc_server.ts";
export {
  type RpcCallOptions,
  RpcPool,
  type RpcPoolHook,
  type RpcReplyCallback,
  type RpcStatus,
  type RpcStatusCode,
} from "./rpc_pool.ts";
// Types the API names from other modules, re-exported so this entry point documents every type it exposes.
export type { EvBuffer } from "../buffer/evbuffer.ts";
export type { EventBase } from "../event/event_base.ts";
export type { HttpConnection } from "../http/http_connection.ts";
export type { HttpClientRequest } from "../http/http_client_request.ts";
export type { HttpServer } from "../http/http_server.ts";
export type { HttpServerRequest } from "../http/http_server_request.ts";
