// levent's HttpServer answering `Hello, World!` as text/plain: the server
// under test in run.mjs (the same request examples/http-server.ts answers at
// /hello). The seed's flow: evhttp_new, evhttp_set_gencb,
// evhttp_bind_socket_with_handle, event_base_dispatch.
//
//   deno run -A bench/http/levent_server.ts PORT | bun ... | node ...
import process from "node:process";
import { EV_SIGNAL, Event, EventBase, HttpServer } from "../../mod.ts";

const port = Number(process.argv[2] ?? "0");
const BODY = new TextEncoder().encode("Hello, World!");

const base = new EventBase();
const http = new HttpServer(base);
http.setGenCb((req) => {
  req.outputHeaders.set("Content-Type", "text/plain");
  req.sendReply(200, "OK", BODY);
});
const handle = await http.bind("127.0.0.1", port);
console.log(`listening on http://127.0.0.1:${handle.address.port}`);
// SIGINT ends the loop so profilers (--cpu-prof) get to write their output.
new Event(base, "SIGINT", EV_SIGNAL, () => base.loopBreak()).add();
await base.dispatch();
process.exit(0);
