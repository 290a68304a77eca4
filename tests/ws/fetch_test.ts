/**
 * WebSockets for fetch-style code: `upgradeWebSocket(request)` in serve()
 * handlers (Deno's shape), a real Hono app's WebSocket route through
 * `honoWebSocket`, and `StandardWebSocket`, the browser's interface.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import WS from "ws";
import { Hono } from "hono";
import { defineWebSocketHelper, WSContext } from "hono/ws";
// The root module registers the runtime's adapter: StandardWebSocket makes its own EventBase, as users' code does.
import "../../mod.ts";
import { serve } from "../../src/http/mod.ts";
import { honoWebSocket, StandardWebSocket, upgradeWebSocket, type WebSocketCloseEvent } from "../../src/ws/mod.ts";
import { platform, startWsServer } from "./ws_helpers.ts";
import { deferred, within } from "../util.ts";

/** A ws client whose messages queue from the start (a message may come in the same read as the 101). */
interface Client {
  readonly ws: WS;
  next(): Promise<string>;
}

function wsClient(url: string, protocols?: string[]): Promise<Client> {
  const ws = new WS(url, protocols);
  const queue: string[] = [];
  const waiters: (() => void)[] = [];
  ws.on("message", (data) => {
    queue.push(String(data));
    for (const w of waiters.splice(0)) w();
  });
  const next = async (): Promise<string> => {
    while (queue.length === 0) await within(new Promise<void>((r) => waiters.push(r)), 5000, "a message");
    return queue.shift() as string;
  };
  const ready = deferred<Client>();
  ws.on("open", () => ready.resolve({ ws, next }));
  ws.on("error", (err) => ready.reject(err));
  ws.on("unexpected-response", (_req, res) => ready.reject(new Error(`status ${res.statusCode}`)));
  return within(ready.promise, 5000, "open");
}

test("serve() with upgradeWebSocket: the socket opens once the handler returns, echoes, and closes with the client's code", async () => {
  const errors: unknown[] = [];
  const closed = deferred<[number, string, boolean]>();
  const server = await serve((req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("plain");
    const { socket, response } = upgradeWebSocket(req, { protocol: "echo.v1" });
    assert.equal(socket.readyState, StandardWebSocket.CONNECTING);
    socket.onopen = () => socket.send("welcome");
    socket.onmessage = (ev) => socket.send(`echo: ${(ev as MessageEvent).data}`);
    socket.onclose = (ev) => {
      const c = ev as WebSocketCloseEvent;
      closed.resolve([c.code, c.reason, c.wasClean]);
    };
    return response;
  }, {
    hostname: "127.0.0.1",
    port: 0,
    platform,
    onListen: () => {},
    onError: (err) => (errors.push(err), new Response("error", { status: 500 })),
  });
  try {
    const url = `ws://127.0.0.1:${server.address.port}/socket`;
    const client = await wsClient(url, ["echo.v1"]);
    assert.equal(client.ws.protocol, "echo.v1");
    assert.equal(await client.next(), "welcome");
    client.ws.send("hi");
    assert.equal(await client.next(), "echo: hi");
    client.ws.close(4002, "leaving");
    assert.deepEqual(await within(closed.promise, 5000, "close"), [4002, "leaving", true]);
    assert.equal(await (await fetch(`http://127.0.0.1:${server.address.port}/`)).text(), "plain");
    assert.deepEqual(errors, []);
  } finally {
    await within(server.shutdown(), 10000, "shutdown");
  }
});

test("upgradeWebSocket throws TypeError for a request that is not a WebSocket handshake or not from serve()", async () => {
  const seen: string[] = [];
  const server = await serve((req) => {
    try {
      return upgradeWebSocket(req).response;
    } catch (err) {
      seen.push((err as Error).message);
      return new Response("no", { status: 400 });
    }
  }, { hostname: "127.0.0.1", port: 0, platform, onListen: () => {} });
  try {
    const res = await fetch(`http://127.0.0.1:${server.address.port}/`);
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.match(seen[0], /Upgrade: websocket is missing/);
    assert.throws(() => upgradeWebSocket(new Request("http://x/")), /did not come from levent's serve\(\)/);
  } finally {
    await within(server.shutdown(), 10000, "shutdown");
  }
});

test("a Hono app's WebSocket route runs on levent's serve() through honoWebSocket (hono/ws's defineWebSocketHelper)", async () => {
  const upgrade = honoWebSocket({ defineWebSocketHelper, WSContext });
  const app = new Hono();
  const events: string[] = [];
  app.get("/", (c) => c.text("hello from hono"));
  app.get(
    "/ws",
    upgrade(() => ({
      onOpen: (_ev, ws) => {
        events.push("open");
        ws.send("hono says hi");
      },
      onMessage: (ev, ws) => ws.send(`hono: ${String(ev.data)}`),
      onClose: (ev) => events.push(`close ${ev.code}`),
    })),
  );
  const server = await serve(app.fetch, { hostname: "127.0.0.1", port: 0, platform, onListen: () => {} });
  try {
    assert.equal(await (await fetch(`http://127.0.0.1:${server.address.port}/`)).text(), "hello from hono");
    const client = await wsClient(`ws://127.0.0.1:${server.address.port}/ws`);
    assert.equal(await client.next(), "hono says hi");
    client.ws.send("ping");
    assert.equal(await client.next(), "hono: ping");
    const gone = deferred();
    client.ws.on("close", () => gone.resolve());
    client.ws.close(1000);
    await within(gone.promise, 5000, "close");
    await within(
      (async () => {
        while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "the close event",
    );
    assert.deepEqual(events, ["open", "close 1000"]);
  } finally {
    await within(server.shutdown(), 10000, "shutdown");
  }
});

test("StandardWebSocket: the browser's interface on a levent client, events in order, binaryType, Blob sends in order, close", async () => {
  const s = await startWsServer({ protocols: ["chat"] });
  try {
    const ws = new StandardWebSocket(`ws://127.0.0.1:${s.port}/echo`, ["chat"]);
    assert.equal(ws.readyState, StandardWebSocket.CONNECTING);
    assert.throws(() => ws.send("too early"), (err: unknown) => (err as DOMException).name === "InvalidStateError");
    const log: string[] = [];
    const messages: unknown[] = [];
    const closed = deferred<WebSocketCloseEvent>();
    ws.addEventListener("open", () => log.push("open"));
    ws.onmessage = (ev) => messages.push((ev as MessageEvent).data);
    ws.onclose = (ev) => closed.resolve(ev as WebSocketCloseEvent);
    const opened = deferred();
    ws.onopen = () => opened.resolve();
    await within(opened.promise, 5000, "open");
    assert.equal(ws.readyState, StandardWebSocket.OPEN);
    assert.equal(ws.protocol, "chat");
    ws.send("text");
    ws.binaryType = "arraybuffer";
    ws.send(new Blob([new Uint8Array([1, 2, 3])]));
    ws.send(new Uint8Array([4, 5]).buffer);
    await within(
      (async () => {
        while (messages.length < 3) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "three echoes",
    );
    assert.equal(messages[0], "text");
    assert.deepEqual([...new Uint8Array(messages[1] as ArrayBuffer)], [1, 2, 3], "the Blob came first, in order");
    assert.deepEqual([...new Uint8Array(messages[2] as ArrayBuffer)], [4, 5]);
    ws.binaryType = "blob";
    ws.send(new Uint8Array([6]));
    await within(
      (async () => {
        while (messages.length < 4) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "a Blob message",
    );
    assert.ok(messages[3] instanceof Blob);
    assert.deepEqual([...new Uint8Array(await (messages[3] as Blob).arrayBuffer())], [6]);
    assert.throws(() => ws.close(1001), (err: unknown) => (err as DOMException).name === "InvalidAccessError");
    assert.throws(
      () => ws.close(1000, "x".repeat(124)),
      (err: unknown) => (err as DOMException).name === "SyntaxError",
    );
    ws.close(3000, "done");
    assert.equal(ws.readyState, StandardWebSocket.CLOSING);
    const ev = await within(closed.promise, 5000, "close");
    assert.equal(ev.code, 3000);
    assert.equal(ev.wasClean, true);
    assert.equal(ws.readyState, StandardWebSocket.CLOSED);
    assert.deepEqual(log, ["open"]);
  } finally {
    await s.stop();
  }
});

test("StandardWebSocket: a refused connection fires error then close 1006; a bad URL throws SyntaxError", async () => {
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (sock) => sock.close());
  const port = listener.address.port;
  await listener.close();
  const ws = new StandardWebSocket(`ws://127.0.0.1:${port}/`);
  const order: string[] = [];
  const closed = deferred<WebSocketCloseEvent>();
  ws.onerror = () => order.push("error");
  ws.onclose = (ev) => {
    order.push("close");
    closed.resolve(ev as WebSocketCloseEvent);
  };
  const ev = await within(closed.promise, 5000, "close");
  assert.equal(ev.code, 1006);
  assert.equal(ev.wasClean, false);
  assert.deepEqual(order, ["error", "close"]);
  assert.throws(
    () => new StandardWebSocket("ftp://x/"),
    (err: unknown) => (err as DOMException).name === "SyntaxError",
  );
});
