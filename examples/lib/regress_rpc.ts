/**
 * libevent's RPC test service (test/regress.rpc and regress_rpc.c), shared
 * by examples/rpc-server.ts and examples/rpc-client.ts: the structures
 * `msg`, `kill` and `run`, and the RPCs `Message` and `NeverReply`
 * (msg -> kill).
 *
 * @module
 */
import { RpcField, RpcMethod, RpcStruct } from "../../src/rpc/mod.ts";

/** `struct kill` (the reply). */
export const kill = new RpcStruct("kill", {
  weapon: RpcField.string(0x10121),
  action: RpcField.string(2),
  how_often: RpcField.int(3).array(),
});

/** `struct run`. */
export const run = new RpcStruct("run", {
  how: RpcField.string(1),
  some_bytes: RpcField.bytes(2).optional(),
  fixed_bytes: RpcField.fixedBytes(3, 24),
  notes: RpcField.string(4).array(),
  large_number: RpcField.int64(5).optional(),
  other_numbers: RpcField.int(6).array(),
});

/** `struct msg` (the request). */
export const msg = new RpcStruct("msg", {
  from_name: RpcField.string(1),
  to_name: RpcField.string(2),
  attack: RpcField.struct(3, kill).optional(),
  run: RpcField.struct(4, run).array(),
});

/** `EVRPC_HEADER(Message, msg, kill)`: answered with weapon "dagger". */
export const Message = new RpcMethod("Message", msg, kill);

/** `EVRPC_HEADER(NeverReply, msg, kill)`: never answered. */
export const NeverReply = new RpcMethod("NeverReply", msg, kill);
