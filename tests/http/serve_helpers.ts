// Helpers shared by the serve() tests.
import net from "node:net";
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { serve, type ServeHandler, type WebServer } from "../../src/http/mod.ts";
import { within } from "../util.ts";

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

/** A node:net client of one connection: what it received, and an abortive close. */
export interface ResettableClient {
  /** Resolve once the text received matches `pattern`; reject after `ms`. */
  until(pattern: RegExp, ms: number, what: string): Promise<string>;
  /** Close with a reset (RST), which the server sees at once. */
  reset(): void;
  /** End the sending side (FIN), still reading what the server sends. */
  end(): void;
}

/**
 * Connect with node:net and send `raw`. A reset, not a plain close: a plain
 * close is a half-close to HTTP, answered before the connection ends; and
 * node:net, because Deno's own sockets cannot send a reset.
 */
export async function resettable(port: number, raw: string): Promise<ResettableClient> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let text = "";
  const waiters = new Set<() => void>();
  socket.on("data", (bytes: Uint8Array) => {
    text += new TextDecoder().decode(bytes);
    for (const wake of waiters) wake();
  });
  await within(new Promise((resolve) => socket.once("connect", resolve)), 10000, "connect");
  socket.write(raw);
  return {
    until(pattern, ms, what) {
      return within(
        new Promise<string>((resolve) => {
          const check = (): void => {
            if (!pattern.test(text)) return;
            waiters.delete(check);
            resolve(text);
          };
          waiters.add(check);
          check();
        }),
        ms,
        what,
      );
    },
    reset: () => void socket.resetAndDestroy(),
    end: () => void socket.end(),
  };
}
