import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import { Listener } from "../../src/buffer/mod.ts";
import { EventBase, LeventError } from "../../src/event/mod.ts";
import type { AcceptErrorHandler, Platform, TcpSocket } from "../../src/platform.ts";
import { deferred, exchange, within } from "../util.ts";

const platform = autoPlatform();
const enc = new TextEncoder();

/** Connect and collect everything the server sends until it ends the connection. */
async function fetchAll(connect: Promise<TcpSocket>): Promise<string> {
  return exchange(await connect);
}

/** Answer each accepted socket with `reply`, then end it. */
function greet(socket: TcpSocket, reply: string): void {
  socket.start({ data() {}, end: () => socket.close(), drain() {}, error() {}, close() {} });
  socket.write(enc.encode(reply));
  socket.end();
}

test("Listener.bind on port 0 reports the real port and runs the accept callback on the loop with the peer address", async () => {
  const base = new EventBase({ platform });
  let peerPort = -1;
  let inLoop = false;
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, (l, socket, peer, arg) => {
    inLoop = base.running;
    peerPort = peer.port;
    assert.equal(l, listener);
    assert.equal(arg, "ctx");
    greet(socket, "hello\n");
  }, { arg: "ctx" });
  assert.ok(listener.address.port > 0);
  assert.equal(listener.base, base);
  const loop = base.dispatch();
  const socket = platform.connect({ host: "127.0.0.1", port: listener.address.port });
  const localPort = (await socket).localAddress.port;
  assert.equal(await fetchAll(socket), "hello\n");
  assert.equal(peerPort, localPort);
  assert.equal(inLoop, true);
  await listener.free();
  await within(loop, 5000, "loop end after free");
});

test("a listener created disabled holds connections unstarted and hands them over in order once enabled", async () => {
  const base = new EventBase({ platform });
  let count = 0;
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, (_l, socket) => {
    greet(socket, `you are ${++count}\n`);
  }, { disabled: true });
  assert.equal(listener.enabled, false);
  const loop = base.dispatch();
  const first = fetchAll(platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  await new Promise((r) => setTimeout(r, 50));
  const second = fetchAll(platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(count, 0, "nothing handed over while disabled");
  listener.enable();
  assert.equal(await first, "you are 1\n");
  assert.equal(await second, "you are 2\n");
  listener.disable();
  const third = fetchAll(platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(count, 2, "disable() holds new connections again");
  listener.enable();
  assert.equal(await third, "you are 3\n");
  await listener.free();
  await within(loop, 5000, "loop end");
});

test("binding a port already in use rejects with EADDRINUSE", async () => {
  const base = new EventBase({ platform });
  const first = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, () => {});
  await assert.rejects(
    Listener.bind(base, { host: "127.0.0.1", port: first.address.port }, () => {}),
    (err: Error & { code?: string }) => err.code === "EADDRINUSE",
  );
  await first.free();
});

// Deno's adapter still says only "Address already in use (os error 98)" and
// "Connection refused (os error 111)"; Node and Bun name the address and port.
const placesErrors = platform.name !== "deno";

test("a port in use and a refused connection say where and why, with the runtime's error as cause on Bun", {
  skip: placesErrors ? false : "Deno's adapter does not put the address in its messages yet",
}, async () => {
  const base = new EventBase({ platform });
  const first = await Listener.bind(base, { host: "127.0.0.1", port: "0" }, () => {});
  const port = first.address.port;
  await assert.rejects(Listener.bind(base, { host: "127.0.0.1", port }, () => {}), (err: Error & { code?: string }) => {
    assert.equal(err.code, "EADDRINUSE");
    assert.equal(err.message, `listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
    if (platform.name === "bun") assert.ok(err.cause instanceof Error, "Bun's own error is the cause");
    return true;
  });
  await first.free();
  await assert.rejects(platform.connect({ host: "127.0.0.1", port }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "ECONNREFUSED");
    assert.match(err.message, new RegExp(`^connect ECONNREFUSED(: connection refused)? 127\\.0\\.0\\.1:${port}$`));
    return true;
  });
});

/** A port that was free a moment ago: bound on port 0, then released. */
async function freePort(): Promise<number> {
  const probe = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => s.close());
  const port = probe.address.port;
  await probe.close();
  return port;
}

/** Whether something listens on 127.0.0.1:port (a connect succeeds). */
async function listening(port: number): Promise<boolean> {
  try {
    const socket = await within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect");
    socket.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
    socket.close();
    return true;
  } catch (err) {
    if ((err as Error & { code?: string }).code === "ECONNREFUSED") return false;
    throw err;
  }
}

test("Listener.bind on a freed base rejects with ERR_FREED and leaves nothing listening", async () => {
  const isBaseFreed = (err: unknown): boolean => err instanceof LeventError && err.code === "ERR_FREED";
  // Freed before the call.
  const freedBefore = new EventBase({ platform });
  freedBefore.free();
  const port = await freePort();
  await assert.rejects(Listener.bind(freedBefore, { host: "127.0.0.1", port }, () => {}), isBaseFreed);
  assert.equal(await listening(port), false, "a listener was left behind");
  // Freed while the bind was under way.
  const freedDuring = new EventBase({ platform });
  const port2 = await freePort();
  const pending = Listener.bind(freedDuring, { host: "127.0.0.1", port: port2 }, () => {});
  freedDuring.free();
  await assert.rejects(pending, isBaseFreed);
  assert.equal(await listening(port2), false, "a listener was left behind");
  // The port can be bound again: nothing holds it.
  const base = new EventBase({ platform });
  const again = await Listener.bind(base, { host: "127.0.0.1", port: port2 }, () => {});
  await again.free();
});

test("a failed bind leaves no pending event: the loop ends at once", async () => {
  const base = new EventBase({ platform });
  const first = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => s.close());
  await assert.rejects(
    Listener.bind(base, { host: "127.0.0.1", port: first.address.port }, () => {}),
    (err: Error & { code?: string }) => err.code === "EADDRINUSE",
  );
  assert.equal(base.countEvents().added, 0);
  assert.equal(await within(base.loop(), 1000, "the loop"), 1);
  await first.close();
});

test("a Unix-socket listener accepts and serves", async () => {
  const base = new EventBase({ platform });
  const path = join(tmpdir(), `levent-listener-${platform.name}-${process.pid}.sock`);
  const listener = await Listener.bind(base, { path }, (_l, socket) => greet(socket, "unix hello"));
  assert.equal(listener.address.transport, "unix");
  const loop = base.dispatch();
  assert.equal(await fetchAll(platform.connect({ path })), "unix hello");
  await listener.free();
  await within(loop, 5000, "loop end");
});

test("a TLS listener hands over plaintext sockets", async () => {
  const fixtures = new URL("../fixtures/", import.meta.url);
  const cert = readFileSync(new URL("cert.pem", fixtures), "utf8");
  const key = readFileSync(new URL("key.pem", fixtures), "utf8");
  const base = new EventBase({ platform });
  const listener = await Listener.bind(
    base,
    { host: "127.0.0.1", port: 0, tls: { cert, key } },
    (_l, socket) => greet(socket, "secret hello"),
  );
  const loop = base.dispatch();
  const reply = await fetchAll(
    platform.connectTls({ host: "127.0.0.1", port: listener.address.port, serverName: "localhost", caCerts: [cert] }),
  );
  assert.equal(reply, "secret hello");
  await listener.free();
  await within(loop, 5000, "loop end");
});

test("free() stops accepting: a later connection is refused", async () => {
  const base = new EventBase({ platform });
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, () => {});
  const port = listener.address.port;
  await listener.free();
  await listener.free();
  await assert.rejects(
    within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect"),
    (err: Error & { code?: string }) => err.code === "ECONNREFUSED",
  );
});

test("free() called again returns the first call's Promise: it settles once the port is released, and the port binds again", async () => {
  const base = new EventBase({ platform });
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, () => {});
  const port = listener.address.port;
  let firstDone = false;
  const first = listener.free().then(() => {
    firstDone = true;
  });
  const second = listener.free();
  await second;
  // Before, a second call resolved at once, ahead of the close the first one awaited.
  assert.equal(firstDone, true, "the second free() settled before the first");
  await first;
  // Awaiting any free() means the port is free again: the same port binds at once.
  const again = await Listener.bind(base, { host: "127.0.0.1", port }, () => {});
  assert.equal(again.address.port, port);
  await Promise.all([again.free(), again.free()]);
});

test("accept failures reach the error callback on the loop, and the listener keeps accepting", async () => {
  // A platform whose listener reports one accept failure, then one connection.
  let reportError: AcceptErrorHandler | undefined;
  let accept: ((socket: TcpSocket) => void) | undefined;
  const fake: Platform = {
    ...platform,
    listen(_options, onAccept, onError) {
      accept = onAccept;
      reportError = onError;
      return Promise.resolve({
        address: { transport: "tcp", host: "127.0.0.1", port: 4242, family: 4 },
        close: () => Promise.resolve(),
      });
    },
  };
  const base = new EventBase({ platform: fake });
  const seen: string[] = [];
  const done = deferred();
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, (_l, socket) => {
    seen.push(`accepted ${socket.remoteAddress.port}`);
    done.resolve();
  });
  listener.setErrorCallback((l, err, _arg) => {
    assert.equal(l, listener);
    seen.push(`error ${(err as Error & { code?: string }).code} running=${base.running}`);
  });
  const loop = base.dispatch();
  const emfile = Object.assign(new Error("too many open files"), { code: "EMFILE" });
  reportError!(emfile);
  const fakeSocket = { remoteAddress: { transport: "tcp", host: "127.0.0.1", port: 5555, family: 4 } } as TcpSocket;
  accept!(fakeSocket);
  await within(done.promise, 5000, "accept after error");
  assert.deepEqual(seen, ["error EMFILE running=true", "accepted 5555"]);
  await listener.free();
  await within(loop, 5000, "loop end");
});

test("Listener.bind rejects bad arguments with TypeError or RangeError naming them", async () => {
  const base = new EventBase({ platform });
  await assert.rejects(Listener.bind(base, { host: "127.0.0.1", port: 70000 }, () => {}), {
    name: "RangeError",
    message: /target\.port/,
  });
  await assert.rejects(Listener.bind(base, { host: "127.0.0.1", port: 0, backlog: -1 }, () => {}), {
    name: "RangeError",
    message: /backlog/,
  });
  await assert.rejects(
    Listener.bind(base, { host: "127.0.0.1", port: 0 }, "no" as unknown as null),
    { name: "TypeError", message: /callback/ },
  );
  await assert.rejects(Listener.bind({} as EventBase, { host: "127.0.0.1", port: 0 }, null), {
    name: "TypeError",
    message: /base/,
  });
});
