/**
 * examples/rpc-server.ts run as a process (EXAMPLES.md): the listening
 * line, Message answered with the dagger to a pool and to a raw POST
 * without Host, NeverReply held, and SIGINT/SIGTERM exiting 0 within 5 s
 * even with a call held; --help and bad flags.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import { EV_PERSIST, Event, EventBase } from "../../src/event/mod.ts";
import { HttpConnection } from "../../src/http/mod.ts";
import { type RpcError, RpcPool } from "../../src/rpc/mod.ts";
import { kill, Message, msg, NeverReply } from "../../examples/lib/regress_rpc.ts";
import { RawClient } from "../http/server_helpers.ts";
import { within } from "../util.ts";
import { cannotRunExamples, listeningPort, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();
const platform = autoPlatform();

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`rpc-server answers Message, holds NeverReply, and exits 0 within 5 s of ${signal}`, { skip }, async () => {
    const ex = startExample("rpc-server", ["--port", "0"]);
    try {
      const port = await listeningPort(ex);
      assert.match(ex.stdout(), /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
      const base = new EventBase({ platform });
      const pool = new RpcPool(base);
      pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port }));
      pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port }));
      // The client's loop stays up between calls.
      const keep = new Event(base, null, EV_PERSIST, () => {});
      keep.add(1000);
      const loop = base.dispatch();
      const reply = await within(pool.call(Message, { from_name: "niels", to_name: "tester" }), 10000, "Message");
      assert.deepEqual(reply, { weapon: "dagger", action: "wave around like an idiot", how_often: [] });

      // libevent's client sends no Host: a raw request without one is served.
      const c = await RawClient.connect(port);
      const body = msg.encode({ from_name: "a", to_name: "b" });
      const head = `POST /.rpc.Message HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n`;
      c.send(head);
      c.send(body);
      const text = await c.waitFor((t) => t.endsWith("idiot"), 5000, "the raw answer");
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      const raw = Uint8Array.from(text.slice(text.indexOf("\r\n\r\n") + 4), (ch) => ch.charCodeAt(0));
      assert.equal(kill.decode(raw).weapon, "dagger");
      c.socket.close();

      const held = pool.call(NeverReply, { from_name: "a", to_name: "b" }).then(
        () => "answered",
        (e: RpcError) => e.code,
      );
      await new Promise((r) => setTimeout(r, 100));
      const sent = Date.now();
      ex.kill(signal);
      assert.equal(await within(ex.exited, 6000, "the exit"), 0, ex.stderr());
      assert.ok(Date.now() - sent < 5000, "within 5 s");
      // The held call was answered 503 on the way out (or its connection closed).
      assert.ok(["ERR_RPC_BAD_PAYLOAD", "ERR_RPC_CONNECTION"].includes(await held));
      pool.free();
      keep.free();
      await within(loop, 5000, "the client loop");
    } finally {
      ex.kill("SIGKILL");
    }
  });
}

test("rpc-server answers --help with its usage and a bad flag with one line and exit 2", { skip }, async () => {
  const help = startExample("rpc-server", ["--help"]);
  assert.equal(await within(help.exited, 20000, "exit"), 0);
  assert.match(help.stdout(), /^usage: rpc-server\.ts /);
  const bad = startExample("rpc-server", ["--bogus"]);
  assert.equal(await within(bad.exited, 20000, "exit"), 2);
  assert.equal(bad.stderr().trim().split("\n").length, 1);
  assert.match(bad.stderr(), /bogus/);
  const port = startExample("rpc-server", ["--port", "99999"]);
  assert.equal(await within(port.exited, 20000, "exit"), 2);
  assert.match(port.stderr(), /--port must be a port number/);
});
