// The Hono app (hono_app.ts) on the runtime's own server: Deno.serve,
// Bun.serve, or node:http through @hono/node-server (Hono's own adapter for
// Node, which builds a light Request and sends string bodies directly, as
// levent's serve() does).
//
//   deno run -A bench/http/hono_native_server.ts PORT | bun ... | node ...
import process from "node:process";
import { app } from "./hono_app.ts";

const port = Number(process.argv[2] ?? "0");
const g = globalThis as {
  Deno?: {
    serve(
      o: { port: number; hostname: string; onListen(a: { port: number }): void },
      h: (req: Request) => Response | Promise<Response>,
    ): unknown;
  };
  Bun?: {
    serve(o: { port: number; hostname: string; fetch(req: Request): Response | Promise<Response> }): { port: number };
  };
};

if (g.Deno !== undefined) {
  g.Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: (a) => console.log(`listening on http://127.0.0.1:${a.port}`),
  }, app.fetch);
} else if (g.Bun !== undefined) {
  const server = g.Bun.serve({ port, hostname: "127.0.0.1", fetch: app.fetch });
  console.log(`listening on http://127.0.0.1:${server.port}`);
} else {
  const { serve } = await import("@hono/node-server");
  serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
    console.log(`listening on http://127.0.0.1:${info.port}`);
  });
}
