// The Hono app (hono_app.ts) on levent's serve(): the fetch-style bridge
// under test in run.mjs beside the same app on the runtime's own server
// (hono_native_server.ts).
//
//   deno run -A bench/http/hono_server.ts PORT | bun ... | node ...
import process from "node:process";
import { serve } from "../../mod.ts";
import { app } from "./hono_app.ts";

const port = Number(process.argv[2] ?? "0");
const server = await serve(app.fetch, {
  hostname: "127.0.0.1",
  port,
  onListen: (a) => console.log(`listening on http://127.0.0.1:${a.port}`),
});
// SIGINT ends the server so profilers (--cpu-prof) get to write their output.
process.on("SIGINT", () => void server.shutdown().then(() => process.exit(0)));
await server.finished;
