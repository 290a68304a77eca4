// Helpers shared by the serve() tests.
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { serve, type ServeHandler, type WebServer } from "../../src/http/mod.ts";

/** The runtime's platform, which the servers below run on. */
export const platform = autoPlatform();

/** Serve `handler` quietly on 127.0.0.1 and a free port, with its own loop. */
export async function startServe(handler: ServeHandler): Promise<WebServer> {
  const server = await serve(handler, {
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    base: new EventBase({ platform }),
  });
  void server.server.base.dispatch();
  return server;
}
