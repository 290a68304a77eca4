/**
 * A program for tests/http/http_server_lifetime_test.ts, run as its own
 * process: it opens what a levent program opens, ends its loop, and then
 * must be able to exit on its own. Prints `ready PORT` once bound and
 * `returned` once dispatch() has returned; what follows is the test's to
 * watch (the process must end).
 *
 * Modes (the first argument):
 * - `free`: a bound HttpServer with a keep-alive client connection open, a
 *   Listener, an HttpConnection with a request queued to a port nothing
 *   answers on, and a BufferEvent pair; loopExit(), then base.free().
 * - `using`: the same server in an `await using` scope for the server and a
 *   `using` one for the base, which end after dispatch().
 * - `timer`: an event pending for an hour; loopExit() and nothing freed:
 *   the loop holds nothing once dispatch() returns.
 */
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import { BufferEvent, Listener } from "../../src/buffer/mod.ts";
import { Event, EventBase } from "../../src/event/mod.ts";
import { HttpClientRequest, HttpConnection, HttpServer } from "../../src/http/mod.ts";

const platform = autoPlatform();
const mode = process.argv[2];

/** A server that answers, and a client connection to it kept open (keep-alive) once answered. */
async function serveAndVisit(base: EventBase, http: HttpServer): Promise<void> {
  http.setGenCb((req) => req.sendReply(200, "OK", "hi"));
  const handle = await http.bind("127.0.0.1", 0);
  console.log(`ready ${handle.address.port}`);
  const visitor = new HttpConnection(base, { host: "127.0.0.1", port: handle.address.port });
  const req = new HttpClientRequest((r) => {
    console.log(`answered ${r.responseCode}`);
    base.loopExit(20);
  });
  visitor.makeRequest(req, "GET", "/");
}

if (mode === "free") {
  const base = new EventBase({ platform });
  const http = new HttpServer(base);
  await serveAndVisit(base, http);
  await Listener.bind(base, { host: "127.0.0.1", port: 0 }, () => {});
  const unanswered = new HttpConnection(base, { host: "10.255.255.1", port: 9 });
  unanswered.makeRequest(new HttpClientRequest(() => {}), "GET", "/");
  BufferEvent.pair(base);
  await base.dispatch();
  console.log("returned");
  base.free();
  console.log(`server ${http.state}`);
} else if (mode === "using") {
  {
    using base = new EventBase({ platform });
    await using http = new HttpServer(base);
    await serveAndVisit(base, http);
    await base.dispatch();
    console.log("returned");
  }
  console.log("scope left");
} else if (mode === "timer") {
  const base = new EventBase({ platform });
  new Event(base, null, 0, () => {}).add(3600 * 1000);
  base.loopExit(20);
  await base.dispatch();
  console.log("returned");
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
