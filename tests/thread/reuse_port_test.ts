// One port shared by several listeners (SO_REUSEPORT): Listener.bind and
// HttpServer.bind with reusePort. Where the runtime cannot (Node before
// 22.12 and 23.1), the bind fails with ERR_NOT_SUPPORTED naming what is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import { Listener } from "../../src/buffer/mod.ts";
import { EventBase, LeventError } from "../../src/event/mod.ts";
import { HttpServer } from "../../src/http/mod.ts";
import type { TcpSocket } from "../../src/platform.ts";
import { exchange, within } from "../util.ts";

const platform = autoPlatform();
const enc = new TextEncoder();
const CERT = readFileSync(new URL("../fixtures/cert.pem", import.meta.url), "utf8");
const KEY = readFileSync(new URL("../fixtures/key.pem", import.meta.url), "utf8");

/** Whether this runtime shares ports: everywhere on Linux but Node before 22.12 / 23.1. */
function sharesPorts(): boolean {
  if (platform.name !== "node") return true;
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** The rejection Node before 22.12 gives: ERR_NOT_SUPPORTED naming the missing version. */
function notSupported(err: unknown): true {
  assert.ok(err instanceof LeventError, `not a LeventError: ${String(err)}`);
  assert.equal(err.code, "ERR_NOT_SUPPORTED");
  assert.match(err.message, /reusePort/);
  assert.match(err.message, /Node 22\.12/);
  return true;
}

/** Answer each accepted socket with `reply`, then end it. */
function greet(socket: TcpSocket, reply: string): void {
  socket.start({ data() {}, end: () => socket.close(), drain() {}, error() {}, close() {} });
  socket.write(enc.encode(reply));
  socket.end();
}

test("two listeners bound with reusePort on one port both accept connections", async () => {
  const base = new EventBase({ platform });
  const first = await Listener.bind(base, { host: "127.0.0.1", port: 0, reusePort: true }, (_l, s) => greet(s, "one"))
    .catch((err) => {
      if (sharesPorts()) throw err;
      return notSupported(err);
    });
  if (!(first instanceof Listener)) return;
  const port = first.address.port;
  const second = await Listener.bind(base, { host: "127.0.0.1", port, reusePort: true }, (_l, s) => greet(s, "two"));
  assert.equal(second.address.port, port);
  const loop = base.dispatch();
  try {
    const seen = new Set<string>();
    // The kernel spreads connections by a hash of their addresses: 60 all landing on one listener is 2^-59.
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      seen.add(await exchange(await platform.connect({ host: "127.0.0.1", port })));
    }
    assert.deepEqual([...seen].sort(), ["one", "two"]);
  } finally {
    await first.free();
    await second.free();
  }
  await within(loop, 5000, "the loop's end");
});

test("two HttpServers bound with reusePort on one port both answer requests", async () => {
  const base = new EventBase({ platform });
  const servers = ["a", "b"].map((name) => {
    const server = new HttpServer(base);
    server.setGenCb((req) => req.sendReply(200, "OK", name));
    return server;
  });
  try {
    const bound = await servers[0].bind("127.0.0.1", 0, { reusePort: true }).catch((err) => {
      if (sharesPorts()) throw err;
      return notSupported(err);
    });
    if (bound === true) return;
    const port = bound.address.port;
    await servers[1].bind("127.0.0.1", port, { reusePort: true });
    const loop = base.dispatch();
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      const socket = await platform.connect({ host: "127.0.0.1", port });
      const reply = await exchange(socket, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
      seen.add(reply.slice(reply.indexOf("\r\n\r\n") + 4));
    }
    assert.deepEqual([...seen].sort(), ["a", "b"]);
    for (const server of servers) await server.close();
    await within(loop, 5000, "the loop's end");
  } finally {
    for (const server of servers) server.free();
  }
});

test("without reusePort a second bind of the port still fails with EADDRINUSE", async () => {
  const base = new EventBase({ platform });
  const first = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, null);
  try {
    await assert.rejects(
      Listener.bind(base, { host: "127.0.0.1", port: first.address.port }, null),
      (err: Error & { code?: string }) => err.code === "EADDRINUSE",
    );
  } finally {
    await first.free();
  }
});

test("reusePort with tls is refused with ERR_NOT_SUPPORTED, and a reusePort that is no boolean with a TypeError naming it", async () => {
  const base = new EventBase({ platform });
  await assert.rejects(
    Listener.bind(base, { host: "127.0.0.1", port: 0, reusePort: true, tls: { cert: CERT, key: KEY } }, null),
    (err: unknown) => err instanceof LeventError && err.code === "ERR_NOT_SUPPORTED" && /tls/.test(err.message),
  );
  await assert.rejects(
    Listener.bind(base, { host: "127.0.0.1", port: 0, reusePort: "yes" as unknown as boolean }, null),
    (err: unknown) => err instanceof TypeError && /target\.reusePort/.test(err.message),
  );
  const server = new HttpServer(base);
  try {
    await assert.rejects(
      server.bind("127.0.0.1", 0, { reusePort: 1 as unknown as boolean }),
      (err: unknown) => err instanceof TypeError && /options\.reusePort/.test(err.message),
    );
    await assert.rejects(
      server.bind("127.0.0.1", 0, null as unknown as { reusePort?: boolean }),
      (err: unknown) => err instanceof TypeError && /options/.test(err.message),
    );
  } finally {
    server.free();
  }
});
