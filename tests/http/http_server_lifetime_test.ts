/**
 * An HttpServer's life beside its base's: binding with the runtimes'
 * defaults, what a freed base frees, the abort signals, disposal, and a
 * program that must be able to exit once its loop is done.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BufferEvent, EvBuffer, Listener } from "../../src/buffer/mod.ts";
import { EventBase, LeventError } from "../../src/event/mod.ts";
import { HttpClientRequest, HttpConnection, type HttpError, HttpServer, serve } from "../../src/http/mod.ts";
import type { TcpSocket } from "../../src/platform.ts";
import { deferred, type ProgramRun, runTestProgram, within } from "../util.ts";
import { get, platform, RawClient } from "./server_helpers.ts";

/** Whether something accepts connections on 127.0.0.1:port. */
async function connects(port: number): Promise<boolean> {
  let socket: TcpSocket;
  try {
    socket = await within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect");
  } catch (err) {
    // A listener closing under a connect in its backlog resets it.
    const code = (err as { code?: string }).code;
    if (code === "ECONNREFUSED" || code === "ECONNRESET") return false;
    throw err;
  }
  socket.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
  socket.close();
  return true;
}

/**
 * Whether 127.0.0.1:port accepts connections, after the closing of a
 * listener (asynchronous on some runtimes) has had up to 2 s to finish.
 */
async function accepting(port: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    if (!await connects(port)) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

const isFreed = (message: string) => (err: unknown): boolean => {
  assert.ok(err instanceof LeventError, String(err));
  assert.equal(err.code, "ERR_FREED");
  assert.equal(err.message, message);
  return true;
};

test("bind(port) alone listens on every interface, as listen(port), Deno.serve and Bun.serve do", async () => {
  const base = new EventBase({ platform });
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "everywhere"));
  try {
    const handle = await server.bind(0);
    assert.equal(handle.address.host, "0.0.0.0");
    void base.dispatch();
    const c = await RawClient.connect(handle.address.port);
    c.send(get("/"));
    assert.equal((await c.responses(1))[0].body, "everywhere");
    c.close();
    await assert.rejects(server.bind("127.0.0.1"), { name: "TypeError", message: /^port must be/ });
  } finally {
    server.free();
  }
});

test("freeing the base frees a bound server: state closed, its port released, its connections closed", async () => {
  const base = new EventBase({ platform });
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "hi"));
  const handle = await server.bind("127.0.0.1", 0);
  const port = handle.address.port;
  const loop = base.dispatch();
  const c = await RawClient.connect(port);
  c.send(get("/"));
  assert.equal((await c.responses(1))[0].body, "hi");
  assert.equal(server.connectionCount, 1);
  base.free();
  assert.equal(server.state, "closed");
  assert.equal(server.connectionCount, 0);
  assert.equal(handle.listener.freed, true);
  await within(loop, 5000, "the loop to end");
  await within(c.ended, 5000, "the kept-alive connection to close");
  c.close();
  assert.equal(await accepting(port), false, "the port is still listened on");
  assert.throws(() => server.setGenCb(null), isFreed("setGenCb: the HttpServer was freed"));
  await within(server.shutdown(), 1000, "shutdown of a freed server");
  server.free();
});

test("freeing the base frees its Listeners, HttpConnections (requests cancelled) and BufferEvents", async () => {
  const base = new EventBase({ platform });
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, () => {});
  const port = listener.address.port;
  const conn = new HttpConnection(base, { host: "127.0.0.1", port });
  const failed = deferred<string>();
  const req = new HttpClientRequest(() => failed.resolve("answered"));
  req.setErrorCb((_kind, r) => failed.resolve(r.error?.code ?? "no error"));
  conn.makeRequest(req, "GET", "/");
  const [a, b] = BufferEvent.pair(base);
  const loop = base.dispatch();
  base.free();
  await within(loop, 5000, "the loop to end");
  assert.equal(listener.freed, true);
  assert.equal(conn.state, "freed");
  assert.equal(await within(failed.promise, 5000, "the request's end"), "ERR_CANCELLED");
  assert.equal(a.state, "freed");
  assert.equal(b.state, "freed");
  assert.equal(await accepting(port), false);
  assert.throws(() => new HttpServer(base), isFreed("new HttpServer: the EventBase was freed"));
  assert.throws(
    () => new HttpConnection(base, { host: "127.0.0.1" }),
    isFreed("new HttpConnection: the EventBase was freed"),
  );
  assert.throws(() => BufferEvent.pair(base), isFreed("BufferEvent.pair: the EventBase was freed"));
  assert.throws(() => BufferEvent.socket(base, null), isFreed("BufferEvent.socket: the EventBase was freed"));
  base.free();
});

test("an HttpServer's signal stops serving: in-flight requests finish, then the server is closed", async () => {
  const base = new EventBase({ platform });
  const controller = new AbortController();
  const server = new HttpServer(base, { signal: controller.signal });
  const held = deferred<void>();
  server.setGenCb((req) => {
    held.resolve();
    setTimeout(() => req.sendReply(200, "OK", "finished"), 30);
  });
  const handle = await server.bind("127.0.0.1", 0);
  const loop = base.dispatch();
  const c = await RawClient.connect(handle.address.port);
  c.send(get("/"));
  await within(held.promise, 5000, "the request");
  controller.abort();
  assert.equal(server.state, "draining");
  assert.equal((await c.responses(1))[0].body, "finished");
  await within(c.ended, 5000, "the connection to close");
  c.close();
  await within(loop, 5000, "the loop to end");
  assert.equal(server.state, "closed");
  assert.equal(await accepting(handle.address.port), false);

  const gone = new HttpServer(new EventBase({ platform }), { signal: AbortSignal.abort() });
  assert.equal(gone.state, "closed");
  await assert.rejects(gone.bind("127.0.0.1", 0), isFreed("bind: the HttpServer was freed"));
});

test("an HttpConnection's signal frees it, cancelling its requests; a Listener's frees the listener", async () => {
  const base = new EventBase({ platform });
  const controller = new AbortController();
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, () => {}, {
    signal: controller.signal,
  });
  const conn = new HttpConnection(base, { host: "127.0.0.1", port: listener.address.port, signal: controller.signal });
  const failed = deferred<HttpError | null>();
  const req = new HttpClientRequest(() => failed.resolve(null));
  req.setErrorCb((_kind, r) => failed.resolve(r.error));
  conn.makeRequest(req, "GET", "/");
  const loop = base.dispatch();
  controller.abort();
  assert.equal(conn.state, "freed");
  assert.equal(listener.freed, true);
  assert.equal((await within(failed.promise, 5000, "the request's end"))?.code, "ERR_CANCELLED");
  await within(loop, 5000, "the loop to end");
  assert.equal(await accepting(listener.address.port), false);

  await assert.rejects(
    Listener.bind(base, { host: "127.0.0.1", port: 0 }, null, { signal: AbortSignal.abort(new Error("stop")) }),
    { message: "stop" },
  );
  await assert.rejects(
    Listener.bind(new EventBase({ platform }), { host: "127.0.0.1", port: 0 }, null, {
      signal: "no" as unknown as AbortSignal,
    }),
    { name: "TypeError", message: 'options.signal must be an AbortSignal, got "no" (a string)' },
  );
  const freedEarly = new HttpConnection(base, { host: "127.0.0.1", signal: AbortSignal.abort() });
  assert.equal(freedEarly.state, "freed");
});

test("await using shuts a server down gracefully; using frees bases, connections, listeners and buffers", async () => {
  let port = 0;
  let server: HttpServer;
  const held = deferred<void>();
  let answer = Promise.resolve("");
  {
    using base = new EventBase({ platform });
    await using http = new HttpServer(base);
    server = http;
    http.setGenCb((req) => {
      held.resolve();
      setTimeout(() => req.sendReply(200, "OK", "graceful"), 30);
    });
    port = (await http.bind("127.0.0.1", 0)).address.port;
    void base.dispatch();
    const c = await RawClient.connect(port);
    c.send(get("/"));
    answer = c.responses(1).then(([r]) => r.body);
    await within(held.promise, 5000, "the request");
  }
  assert.equal(await answer, "graceful");
  assert.equal(server.state, "closed");
  assert.equal(await accepting(port), false);

  let buf: EvBuffer;
  let bev: BufferEvent;
  let conn: HttpConnection;
  let listener: Listener;
  {
    using base = new EventBase({ platform });
    await using l = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, null);
    using b = new EvBuffer();
    using a = BufferEvent.pair(base)[0];
    using c = new HttpConnection(base, { host: "127.0.0.1", port: l.address.port });
    b.addString("kept until the scope ends");
    [buf, bev, conn, listener] = [b, a, c, l];
  }
  assert.throws(() => buf.addString("x"), isFreed("addString: the EvBuffer was freed"));
  assert.equal(bev.state, "freed");
  assert.equal(conn.state, "freed");
  assert.equal(listener.freed, true);
});

test("await using after dispatch() returned frees the server at once: a reply still owed cannot hold the scope", async () => {
  const base = new EventBase({ platform });
  let server: HttpServer | undefined;
  let client: RawClient | undefined;
  const scope = async (): Promise<void> => {
    await using http = new HttpServer(base);
    server = http;
    const held = deferred<void>();
    http.setGenCb(() => held.resolve()); // never answered
    const port = (await http.bind("127.0.0.1", 0)).address.port;
    const loop = base.dispatch();
    client = await RawClient.connect(port);
    client.send(get("/"));
    await within(held.promise, 5000, "the request");
    base.loopExit();
    await within(loop, 5000, "the loop to end");
  };
  await within(scope(), 5000, "the await using scope to end");
  assert.equal(server?.state, "closed");
  await within(client!.ended, 5000, "the connection to close");
  client!.close();
  base.free();
});

test("serve()'s server ends with await using too", async () => {
  let port = 0;
  {
    await using web = await serve(() => new Response("x"), {
      hostname: "127.0.0.1",
      port: 0,
      platform,
      onListen: () => {},
    });
    port = web.address.port;
    assert.equal(await connects(port), true);
  }
  assert.equal(await accepting(port), false);
});

/** Run tests/http/lifetime_program in `mode`; resolve once it exits, fail if it does not. */
const runProgram = (mode: string): Promise<ProgramRun> => runTestProgram(import.meta.url, "lifetime_program", [mode]);

test("a program exits once its loop returned and its base was freed, with a server, client and listener open", async () => {
  const { code, out, err } = await runProgram("free");
  assert.equal(code, 0, err);
  assert.match(out, /^ready \d+\nanswered 200\nreturned\nserver closed\n$/);
});

test("a program exits once the using scope of its base and server ends", async () => {
  const { code, out, err } = await runProgram("using");
  assert.equal(code, 0, err);
  assert.match(out, /^ready \d+\nanswered 200\nreturned\nscope left\n$/);
});

test("after dispatch() returns, a pending event does not keep the program alive", async () => {
  const { code, out, err } = await runProgram("timer");
  assert.equal(code, 0, err);
  assert.equal(out, "returned\n");
});
