/** What the RPC tests share: an RpcServer with the regress service on 127.0.0.1:0, its loop, and a pool on it. */
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { HttpConnection, HttpServer } from "../../src/http/mod.ts";
import { RpcPool, RpcServer } from "../../src/rpc/mod.ts";
import { Message, NeverReply } from "../../examples/lib/regress_rpc.ts";
import { within } from "../util.ts";

export const platform: ReturnType<typeof autoPlatform> = autoPlatform();

/** A running RPC server and its loop. */
export interface RpcHarness {
  readonly base: EventBase;
  readonly http: HttpServer;
  readonly rpc: RpcServer;
  readonly port: number;
  /** A pool on the same loop with `n` connections to the server. */
  pool(n?: number): RpcPool;
  /** Free everything and wait for the loop to end. */
  stop(): Promise<void>;
}

/**
 * Start the regress service (Message answers dagger; NeverReply holds the
 * call), let `setup` add to it, bind and run the loop.
 */
export async function startRpc(setup: (rpc: RpcServer) => void = () => {}): Promise<RpcHarness> {
  const base = new EventBase({ platform });
  const http = new HttpServer(base);
  const rpc = new RpcServer(http);
  rpc.register(Message, (call) => {
    call.reply.weapon = "dagger";
    call.reply.action = "wave around like an idiot";
    call.done();
  });
  rpc.register(NeverReply, () => {});
  setup(rpc);
  const handle = await http.bind("127.0.0.1", 0);
  const port = handle.address.port;
  const loop = base.dispatch();
  let failure: unknown = null;
  loop.catch((err) => (failure = err));
  const pools: RpcPool[] = [];
  return {
    base,
    http,
    rpc,
    port,
    pool(n = 1) {
      const pool = new RpcPool(base);
      for (let i = 0; i < n; i++) pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port }));
      pools.push(pool);
      return pool;
    },
    async stop() {
      for (const pool of pools) pool.free();
      rpc.free();
      http.free();
      await within(loop, 5000, "the loop to end");
      if (failure !== null) throw failure;
    },
  };
}

/** The regress request every test sends. */
export const NIELS = { from_name: "niels", to_name: "tester" };

/** The reply Message gives. */
export const DAGGER = { weapon: "dagger", action: "wave around like an idiot", how_often: [] };
