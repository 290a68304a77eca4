/**
 * hello-world: libevent's sample/hello-world.c in levent. Listens on TCP,
 * writes "Hello, World!\n" to each connection through a BufferEvent, and
 * closes it once written. SIGINT or SIGTERM stops accepting, lets the
 * connections in progress finish, and exits 0.
 *
 *   deno run -A examples/hello-world.ts [--host 127.0.0.1] [--port 9995]
 *   bun examples/hello-world.ts [--port 9995]
 *   node examples/hello-world.ts [--port 9995]
 *
 * @module
 */
import process from "node:process";
import { BEV_EVENT_EOF, BEV_EVENT_ERROR, BufferEvent, EV_READ, EV_WRITE, EventBase, Listener } from "../mod.ts";
import { announce, exitWhenDone, log, onStopSignal, parseCli, portFlag } from "./lib/cli.ts";

const MESSAGE = "Hello, World!\n";

const USAGE = `usage: hello-world.ts [--host H] [--port P]

Listens on H:P (default 127.0.0.1:9995; port 0 picks one) and writes
"Hello, World!" to each TCP connection, then closes it. Prints
"listening on tcp://HOST:PORT" once bound; SIGINT or SIGTERM exits 0.`;

const { values } = parseCli({ host: { type: "string" }, port: { type: "string" } }, false, USAGE);
const host = values.host ?? "127.0.0.1";
const port = portFlag(values.port, 9995);

const base = new EventBase(); // event_base_new()

let listener: Listener;
try {
  // evconnlistener_new_bind(base, listener_cb, base, LEV_OPT_REUSEABLE|LEV_OPT_CLOSE_ON_FREE, -1, &sin)
  listener = await Listener.bind(base, { host, port }, (_l, socket) => {
    const bev = BufferEvent.socket(base, socket, { closeOnFree: true });
    // Closed once the greeting is written (conn_writecb), or on EOF / error (conn_eventcb).
    bev.setCallbacks(null, (b) => {
      if (b.output.length === 0) b.free();
    }, (b, what) => {
      if (what & BEV_EVENT_ERROR) log(`connection error: ${b.socketError?.message}`);
      if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) b.free();
    });
    bev.enable(EV_WRITE);
    bev.disable(EV_READ);
    bev.write(MESSAGE);
  });
} catch (err) {
  log(`could not listen on ${host}:${port}: ${(err as Error).message}`);
  process.exit(1);
}
announce("tcp", listener.address.host, listener.address.port);

// signal_cb: stop accepting; the loop then ends once open connections finish.
onStopSignal(base, () => void listener.free());

await base.dispatch(); // event_base_dispatch()
exitWhenDone(0);
