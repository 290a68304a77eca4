import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { serve, type WebServer } from "../../src/http/mod.ts";
import { deferred, exchange, fillPattern, patternByte, sleep, within } from "../util.ts";

const platform = autoPlatform();

/** Serve `handler` on a free port with its own loop. */
function start(handler: Parameters<typeof serve>[0], options: Parameters<typeof serve>[1] = {}): Promise<WebServer> {
  return serve(handler, { port: 0, base: new EventBase({ platform }), ...options }).then((s) => {
    void s.server.base.dispatch();
    return s;
  });
}

async function stop(server: WebServer): Promise<void> {
  await within(server.shutdown(), 10000, "shutdown");
}

/** Send raw bytes, return the raw response text once the server closes or `until` matches. */
async function raw(port: number, request: string, until: RegExp): Promise<string> {
  return exchange(await platform.connect({ host: "127.0.0.1", port }), request, until);
}

test("serve answers a fetch-style handler; a one-piece body goes out with Content-Length", async () => {
  const server = await start((req, info) => {
    const url = new URL(req.url);
    return new Response(
      `${req.method} ${url.pathname}${url.search} from ${info.remoteAddr.host} host=${req.headers.get("host")}`,
      {
        status: 201,
        headers: { "x-served-by": "levent" },
      },
    );
  });
  const port = server.address.port;
  const reply = await raw(
    port,
    `GET /path?q=1 HTTP/1.1\r\nHost: example.test:${port}\r\n\r\n`,
    /from 127\.0\.0\.1 host=\S+$/,
  );
  assert.match(reply, /^HTTP\/1\.1 201 Created\r\n/);
  assert.match(reply, /\r\nx-served-by: levent\r\n/i);
  assert.match(reply, /\r\nContent-Length: \d+\r\n/i);
  assert.doesNotMatch(reply, /transfer-encoding/i);
  assert.match(reply, /\r\n\r\nGET \/path\?q=1 from 127\.0\.0\.1 host=example\.test:\d+$/);
  await stop(server);
});

test("a request body streams to the handler and a 4 MB echo comes back byte-exact through fetch", async () => {
  const server = await start((req) =>
    new Response(req.body, { headers: { "content-type": "application/octet-stream" } })
  );
  const size = 4 * 1024 * 1024;
  const body = fillPattern(new Uint8Array(new ArrayBuffer(size)), 0) as Uint8Array<ArrayBuffer>;
  const res = await within(
    fetch(`http://127.0.0.1:${server.address.port}/echo`, { method: "POST", body }),
    20000,
    "echo",
  );
  assert.equal(res.status, 200);
  const got = new Uint8Array(await res.arrayBuffer());
  assert.equal(got.length, size);
  let bad = -1;
  for (let i = 0; i < size && bad < 0; i++) if (got[i] !== patternByte(i)) bad = i;
  assert.equal(bad, -1, `first wrong byte at ${bad}`);
  await stop(server);
});

test("a streamed response body is sent chunk by chunk with chunked transfer-encoding", async () => {
  const server = await start(() => {
    let n = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (n === 50) controller.close();
        else controller.enqueue(new TextEncoder().encode(`line ${n++}\n`));
      },
    });
    return new Response(stream);
  });
  const reply = await raw(server.address.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", /\r\n0\r\n\r\n$/);
  assert.match(reply, /\r\nTransfer-Encoding: chunked\r\n/i);
  const chunkHeads = reply.split("\r\n\r\n")[1].match(/^[0-9a-f]+\r\n/gm) ?? [];
  assert.ok(chunkHeads.length >= 50, `${chunkHeads.length} chunks`);
  assert.ok(reply.includes("line 0\n") && reply.includes("line 49\n"));
  await stop(server);
});

test("a handler that throws gets a 500, or what onError returns, and the server keeps serving", async () => {
  let calls = 0;
  const server = await start(() => {
    if (calls++ === 0) throw new Error("boom");
    return new Response("fine");
  });
  const port = server.address.port;
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 500);
  const ok = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await ok.text(), "fine");
  await stop(server);

  const custom = await start(() => {
    throw new Error("nope");
  }, { onError: (err) => new Response(`sorry: ${(err as Error).message}`, { status: 503 }) });
  const res = await fetch(`http://127.0.0.1:${custom.address.port}/`);
  assert.equal(res.status, 503);
  assert.equal(await res.text(), "sorry: nope");
  await stop(custom);
});

test("HEAD gets the headers and no body", async () => {
  const server = await start(() => new Response("twelve bytes"));
  const reply = await raw(server.address.port, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", /\r\n\r\n$/);
  assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(reply, /\r\nContent-Length: 12\r\n/i);
  assert.ok(reply.endsWith("\r\n\r\n"), "no body after the head");
  await stop(server);
});

test("a real Hono app runs on levent: routes, params, JSON bodies and 404s", async () => {
  const app = new Hono();
  app.get("/hello/:name", (c) => c.text(`hello ${c.req.param("name")}`));
  app.post("/json", async (c) => c.json({ got: await c.req.json(), method: c.req.method }));
  const server = await start(app.fetch);
  const base = `http://127.0.0.1:${server.address.port}`;
  const hello = await fetch(`${base}/hello/levent`);
  assert.equal(hello.status, 200);
  assert.equal(await hello.text(), "hello levent");
  const json = await fetch(`${base}/json`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ a: [1, 2, 3] }),
  });
  assert.equal(json.headers.get("content-type")?.startsWith("application/json"), true);
  assert.deepEqual(await json.json(), { got: { a: [1, 2, 3] }, method: "POST" });
  assert.equal((await fetch(`${base}/missing`)).status, 404);
  await stop(server);
});

test("serve with its own loop stops when its AbortSignal aborts, and finished resolves", async () => {
  const controller = new AbortController();
  const listening = deferred<number>();
  const server = await serve(() => new Response("up"), {
    port: 0,
    platform,
    signal: controller.signal,
    onListen: (addr) => listening.resolve(addr.port),
  });
  const port = await listening.promise;
  assert.equal(port, server.address.port);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "up");
  controller.abort();
  await within(server.finished, 10000, "finished");
  await assert.rejects(
    within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect"),
    (err: Error & { code?: string }) => err.code === "ECONNREFUSED",
  );
});

test("serve refuses a handler that is not a function", async () => {
  await assert.rejects(serve("nope" as unknown as () => Response), { name: "TypeError", message: /handler/ });
});

test("a request body the handler does not read yet pauses reading from the client, then streams whole", async () => {
  const size = 8 * 1024 * 1024;
  let stateWhileWaiting = "";
  const server = await start(async (req, info) => {
    // Do not touch the body for a while: the stream fills and the bridge must pause the connection.
    await sleep(300);
    stateWhileWaiting = info.request.bodyState;
    let n = 0;
    for await (const chunk of req.body!) n += chunk.length;
    return new Response(String(n));
  });
  const socket = await platform.connect({ host: "127.0.0.1", port: server.address.port });
  const head = `POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`;
  const body = fillPattern(new Uint8Array(size), 0);
  const reply = exchange(socket, undefined, /\r\n\r\n\d+$/, 20000);
  socket.write(new TextEncoder().encode(head));
  socket.write(body);
  assert.match(await reply, new RegExp(`\\r\\n\\r\\n${size}$`));
  assert.equal(stateWhileWaiting, "paused");
  await stop(server);
});
