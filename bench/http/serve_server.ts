// levent's serve() with a fetch-style hello-world handler, the one a new
// user writes first: the bridge under test in run.mjs beside the runtime's
// own server (native_server.ts answers the same Response on Deno and Bun).
//
//   deno run -A bench/http/serve_server.ts PORT | bun ... | node ...
import process from "node:process";
import { serve } from "../../mod.ts";

const port = Number(process.argv[2] ?? "0");
const server = await serve(() => new Response("Hello, World!", { headers: { "content-type": "text/plain" } }), {
  hostname: "127.0.0.1",
  port,
  onListen: (a) => console.log(`listening on http://127.0.0.1:${a.port}`),
});
// SIGINT ends the server so profilers (--cpu-prof) get to write their output.
process.on("SIGINT", () => void server.shutdown().then(() => process.exit(0)));
await server.finished;
