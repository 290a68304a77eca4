/**
 * rpc-server: libevent's RPC test service (test/regress_rpc.c) in levent.
 * Serves `Message` (msg -> kill), which replies weapon "dagger" and action
 * "wave around like an idiot", and `NeverReply` (msg -> kill), which never
 * answers, at `POST /.rpc.Message` and `POST /.rpc.NeverReply`. Requests
 * without a Host header are served: libevent's evrpc client sends none.
 *
 *   deno run -A examples/rpc-server.ts [--host 127.0.0.1] [--port 8080]
 *   bun examples/rpc-server.ts [--port 8080]
 *   node examples/rpc-server.ts [--port 8080]
 *
 * Prints `listening on http://HOST:PORT` once bound; SIGINT or SIGTERM
 * answers the calls still waiting (NeverReply's) with 503, lets the
 * replies in flight finish and exits 0.
 *
 * @module
 */
import { EventBase, HttpServer } from "../mod.ts";
import { RpcServer } from "../src/rpc/mod.ts";
import { announce, exitWhenDone, log, onStopSignal, parseCli, portFlag } from "./lib/cli.ts";
import { Message, NeverReply } from "./lib/regress_rpc.ts";

const USAGE = `usage: rpc-server.ts [--host H] [--port P]

libevent's RPC test service on H:P (default 127.0.0.1:8080; port 0 picks one):
  POST /.rpc.Message     msg -> kill: weapon "dagger", action "wave around like an idiot"
  POST /.rpc.NeverReply  msg -> kill: never answers
Bodies are libevent's evtag encoding (test/regress.rpc). Prints
"listening on http://HOST:PORT" once bound; SIGINT or SIGTERM exits 0.`;

const { values } = parseCli({ host: { type: "string" }, port: { type: "string" } }, false, USAGE);
const host = values.host ?? "127.0.0.1";
const port = portFlag(values.port, 8080);

const base = new EventBase(); // event_base_new()
const http = new HttpServer(base); // evhttp_new()
const rpc = new RpcServer(http); // evrpc_init(): also serves requests without Host

// EVRPC_REGISTER(base, Message, msg, kill, MessageCb, NULL)
rpc.register(Message, (call) => {
  call.reply.weapon = "dagger";
  call.reply.action = "wave around like an idiot";
  call.done(); // EVRPC_REQUEST_DONE(rpc)
});
// EVRPC_REGISTER(base, NeverReply, msg, kill, NeverReplyCb, NULL): the call is held, never answered.
rpc.register(NeverReply, () => {});
rpc.setErrorLogger((err, call) => log(`${call.method.name}: ${(err as Error).message}`));

let handle;
try {
  handle = await http.bind(host, port);
} catch (err) {
  log(`could not listen on ${host}:${port}: ${(err as Error).message}`);
  exitWhenDone(1);
}
if (handle !== undefined) {
  announce("http", handle.address.host, handle.address.port);
  onStopSignal(base, () => {
    rpc.free(); // the held NeverReply calls get 503, so nothing waits for them
    void http.shutdown({ graceMs: 4500 });
  });
  await base.dispatch();
  exitWhenDone(0);
}
