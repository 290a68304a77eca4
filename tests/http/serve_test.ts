import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { streamText } from "hono/streaming";
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { serve, type WebServer } from "../../src/http/mod.ts";
import { deferred, exchange, fillPattern, patternByte, printedBy, sleep, within } from "../util.ts";

const platform = autoPlatform();

/** Serve `handler` on a free port with its own loop. */
function start(handler: Parameters<typeof serve>[0], options: Parameters<typeof serve>[1] = {}): Promise<WebServer> {
  const quiet = { hostname: "127.0.0.1", port: 0, onListen: () => {} };
  return serve(handler, { ...quiet, base: new EventBase({ platform }), ...options }).then((s) => {
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

/** A raw client whose received text can be awaited piece by piece, while the connection stays open. */
interface Watcher {
  /** Resolve with all text received so far once it matches `pattern`; reject after `ms`. */
  until(pattern: RegExp, ms: number, what: string): Promise<string>;
  close(): void;
}

/** Connect, send `request`, and watch the response arrive. */
async function watch(port: number, request: string): Promise<Watcher> {
  const socket = await platform.connect({ host: "127.0.0.1", port });
  const decoder = new TextDecoder();
  let text = "";
  let closed = false;
  let wanted: { pattern: RegExp; done: (text: string) => void; failed: (err: Error) => void } | null = null;
  const check = (): void => {
    if (wanted === null) return;
    if (wanted.pattern.test(text)) wanted.done(text);
    else if (closed) {
      wanted.failed(new Error(`the connection closed before ${wanted.pattern}: ${JSON.stringify(text)}`));
    } else return;
    wanted = null;
  };
  socket.start({
    data(bytes) {
      text += decoder.decode(bytes, { stream: true });
      check();
    },
    end: () => socket.end(),
    drain() {},
    error() {},
    close() {
      closed = true;
      check();
    },
  });
  socket.write(new TextEncoder().encode(request));
  return {
    until(pattern, ms, what) {
      const seen = deferred<string>();
      wanted = { pattern, done: seen.resolve, failed: seen.reject };
      check();
      return within(seen.promise, ms, `${what} (got so far: ${JSON.stringify(text)})`);
    },
    close: () => socket.close(),
  };
}

/** The response's head fields by lowercased name. */
function fields(reply: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of reply.split("\r\n\r\n")[0].split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    map.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
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
    hostname: "127.0.0.1",
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

test("a streamed body's head and first chunk go out before the handler produces the second", async () => {
  const gate = deferred();
  const server = await start(() => {
    const encoder = new TextEncoder();
    return new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("first piece\n"));
          await gate.promise;
          controller.enqueue(encoder.encode("second piece\n"));
          controller.close();
        },
      }),
    );
  });
  const client = await watch(server.address.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  try {
    const early = await client.until(/first piece\n/, 5000, "the first chunk while the second is held back");
    assert.match(early, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(early, /\r\nTransfer-Encoding: chunked\r\n/i);
    assert.doesNotMatch(early, /second piece/);
    gate.resolve();
    const whole = await client.until(/\r\n0\r\n\r\n$/, 5000, "the rest of the body");
    assert.match(whole, /first piece\n\r\n[0-9a-f]+\r\nsecond piece\n\r\n0\r\n\r\n$/);
  } finally {
    gate.resolve();
    client.close();
    await stop(server);
  }
});

test("server-sent events: the head goes out before the first event, and each event as it is written", async () => {
  const firstWritten = deferred();
  const gate = deferred();
  const left = deferred();
  const cancelled = deferred();
  const server = await start(() => {
    const encoder = new TextEncoder();
    let pulls = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          switch (pulls++) {
            case 0:
              await firstWritten.promise;
              controller.enqueue(encoder.encode("data: one\n\n"));
              break;
            case 1:
              await gate.promise;
              controller.enqueue(encoder.encode("data: two\n\n"));
              break;
            default:
              // Once the client is gone, keep writing: the failing writes tell the server it left.
              await left.promise;
              controller.enqueue(encoder.encode(": tick\n\n"));
          }
        },
        cancel() {
          cancelled.resolve();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  });
  try {
    const client = await watch(server.address.port, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    try {
      const head = await client.until(/\r\n\r\n/, 5000, "the head before any event");
      assert.match(head, /\r\nContent-Type: text\/event-stream\r\n/i);
      firstWritten.resolve();
      await client.until(/data: one\n\n\r\n$/, 5000, "the first event while the stream stays quiet");
      gate.resolve();
      await client.until(/data: two\n\n\r\n$/, 5000, "the second event");
    } finally {
      client.close();
    }
    left.resolve();
    // The client went away: the bridge cancels the body instead of waiting on it forever.
    await within(cancelled.promise, 5000, "the response body to be cancelled");
  } finally {
    firstWritten.resolve();
    gate.resolve();
    left.resolve();
    await stop(server);
  }
});

test("Hono's streamText lines reach the client as each is written, not in pairs", async () => {
  const gate = deferred();
  const app = new Hono();
  app.get("/lines", (c) =>
    streamText(c, async (s) => {
      await s.writeln("line one");
      await gate.promise;
      await s.writeln("line two");
    }));
  const server = await start(app.fetch);
  const client = await watch(server.address.port, "GET /lines HTTP/1.1\r\nHost: x\r\n\r\n");
  try {
    const early = await client.until(/line one\n/, 5000, "the first line while the second is held back");
    assert.doesNotMatch(early, /line two/);
    gate.resolve();
    await client.until(/line two\n\r\n0\r\n\r\n$/, 5000, "the second line and the end");
  } finally {
    gate.resolve();
    client.close();
    await stop(server);
  }
});

test("a string body is text/plain;charset=UTF-8 on every runtime, not the HttpServer's default type", async () => {
  const server = await start(() => new Response("h\u00e9llo"));
  const reply = await raw(server.address.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", /h\u00e9llo$/);
  assert.equal(fields(reply).get("content-type")?.toLowerCase(), "text/plain;charset=utf-8");
  assert.equal(fields(reply).get("content-length"), "6");
  await stop(server);
});

test("a Response's body type is the one the runtime's body extraction gives, and none is made up", async () => {
  const form = new FormData();
  form.append("field", "value");
  const bodies: Record<string, () => BodyInit | null> = {
    bytes: () => new Uint8Array([1, 2, 3]),
    typedBlob: () => new Blob(["<svg/>"], { type: "image/svg+xml" }),
    params: () => new URLSearchParams("a=1&b=2"),
    form: () => form,
    // Several chunks: a stream that is whole at once is taken for text on Bun, where a string body looks the same.
    stream: () => {
      let n = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (n === 3) controller.close();
          else controller.enqueue(new Uint8Array([n++]));
        },
      });
    },
  };
  const server = await start((req) => new Response(bodies[new URL(req.url).pathname.slice(1)]()));
  try {
    for (const name of Object.keys(bodies)) {
      const res = await within(fetch(`http://127.0.0.1:${server.address.port}/${name}`), 5000, name);
      await res.arrayBuffer();
      // The type the runtime's own body extraction gives (Response.blob().type); a stream has none.
      const expected = name === "stream" ? "" : (await new Response(bodies[name]()).blob()).type;
      // Types compare without case, spaces or a multipart boundary's value.
      const norm = (type: string): string =>
        type.toLowerCase().replace(/\s+/g, "").replace(/boundary=.*$/, "boundary=");
      assert.equal(norm(res.headers.get("content-type") ?? ""), norm(expected), name);
    }
  } finally {
    await stop(server);
  }
});

test("HEAD tells the GET's length only when the Response reveals it, and never a made-up 0", async () => {
  const server = await start((req) => {
    switch (new URL(req.url).pathname) {
      case "/text":
        return new Response("twelve bytes");
      case "/declared":
        return new Response(null, { headers: { "content-length": "42", "content-type": "text/plain" } });
      case "/stream":
        return new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              controller.enqueue(new Uint8Array(100));
            },
          }),
        );
      default:
        return new Response(null);
    }
  });
  const head = async (path: string): Promise<Map<string, string>> => {
    const reply = await raw(
      server.address.port,
      `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      /\r\n\r\n$/,
    );
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(reply.endsWith("\r\n\r\n"), `no body after the head of ${path}`);
    return fields(reply);
  };
  try {
    assert.equal((await head("/text")).get("content-length"), "12");
    assert.equal((await head("/declared")).get("content-length"), "42");
    assert.equal((await head("/stream")).get("content-length"), undefined);
    assert.equal((await head("/null")).get("content-length"), undefined);
  } finally {
    await stop(server);
  }
});

test("HEAD on a Hono app sends no Content-Length: 0, and GET still sends the real length", async () => {
  const app = new Hono();
  app.get("/hello", (c) => c.text("hello from hono"));
  const server = await start(app.fetch);
  try {
    const headReply = await raw(
      server.address.port,
      "HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      /\r\n\r\n$/,
    );
    assert.match(headReply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(headReply.endsWith("\r\n\r\n"), "no body after the head");
    assert.equal(fields(headReply).get("content-length"), undefined);
    const res = await fetch(`http://127.0.0.1:${server.address.port}/hello`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "");
    const getReply = await raw(
      server.address.port,
      "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      /hello from hono$/,
    );
    assert.equal(fields(getReply).get("content-length"), "15");
    assert.equal(fields(getReply).get("content-type")?.toLowerCase(), "text/plain;charset=utf-8");
  } finally {
    await stop(server);
  }
});

test("a handler's failure is printed on stderr with the method and target, and answered 500", async () => {
  const server = await start((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/throw") throw new Error("boom");
    if (path === "/reject") return Promise.reject(new Error("later boom"));
    if (path === "/undefined") return undefined as unknown as Response;
    if (path === "/stream") {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent) {
            await sleep(5);
            controller.error(new Error("the source broke"));
            return;
          }
          sent = true;
          controller.enqueue(new TextEncoder().encode("part"));
        },
      });
      return new Response(body);
    }
    return new Response("fine");
  });
  const base = `http://127.0.0.1:${server.address.port}`;
  try {
    const lines = await printedBy(async () => {
      for (const path of ["/throw", "/reject?x=1", "/undefined"]) {
        const res = await fetch(`${base}${path}`, { method: path === "/throw" ? "POST" : "GET", body: null });
        assert.equal(res.status, 500, path);
        await res.body?.cancel();
      }
      const cut = await raw(server.address.port, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", /^$/);
      assert.match(cut, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n4\r\npart\r\n$/, "the connection ends, no last chunk");
      assert.equal(await (await fetch(`${base}/ok`)).text(), "fine");
    });
    assert.equal(lines.length, 4, lines.join("\n"));
    assert.match(lines[0], /^levent: the callback for POST \/throw failed: Error: boom$/);
    assert.match(lines[1], /^levent: the callback for GET \/reject\?x=1 failed: Error: later boom$/);
    assert.match(
      lines[2],
      /^levent: the callback for GET \/undefined failed: TypeError: the handler's return value must be a Response, got undefined$/,
    );
    assert.match(lines[3], /^levent: the callback for GET \/stream failed: Error: the source broke$/);
  } finally {
    await stop(server);
  }
});

test("onError replaces the printing for a handler's failure, and server.setErrorLogger for a body's", async () => {
  const logged: string[] = [];
  const server = await start((req) => {
    if (new URL(req.url).pathname === "/throw") throw new Error("boom");
    return new Response(
      new ReadableStream({
        pull: async (controller) => {
          await sleep(5);
          controller.error(new Error("broke"));
        },
      }),
    );
  }, { onError: (err) => new Response(`sorry: ${(err as Error).message}`, { status: 503 }) });
  server.server.setErrorLogger((err, req) => logged.push(`${req?.uri}: ${(err as Error).message}`));
  try {
    const lines = await printedBy(async () => {
      const res = await fetch(`http://127.0.0.1:${server.address.port}/throw`);
      assert.equal(res.status, 503);
      assert.equal(await res.text(), "sorry: boom");
      const reply = await raw(server.address.port, "GET /body HTTP/1.1\r\nHost: x\r\n\r\n", /^$/);
      assert.match(reply, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/, "the head, then the connection ends");
    });
    assert.deepEqual(lines, []);
    assert.deepEqual(logged, ["/body: broke"]);
  } finally {
    await stop(server);
  }
});

test("serve binds every interface by default, as Deno.serve does, and prints where it listens", async () => {
  const ports: number[] = [];
  const lines = await printedBy(async () => {
    const server = await serve(() => new Response("everywhere"), { port: 0, base: new EventBase({ platform }) });
    void server.server.base.dispatch();
    try {
      assert.equal(server.address.host, "0.0.0.0");
      const res = await fetch(`http://127.0.0.1:${server.address.port}/`);
      assert.equal(await res.text(), "everywhere");
    } finally {
      await stop(server);
    }
    const local = await serve(() => new Response("here"), {
      hostname: "127.0.0.1",
      port: 0,
      base: new EventBase({ platform }),
    });
    void local.server.base.dispatch();
    await stop(local);
    ports.push(server.address.port, local.address.port);
  });
  const [a, b] = ports;
  assert.deepEqual(lines, [
    `Listening on http://0.0.0.0:${a}/ (http://localhost:${a}/)`,
    `Listening on http://127.0.0.1:${b}/`,
  ]);
});

test("serve takes the port as a string of digits (process.env.PORT) and names options.port otherwise", async () => {
  const server = await start(() => new Response("string port"), { port: "0" });
  try {
    assert.ok(server.address.port > 0);
    assert.equal(await (await fetch(`http://127.0.0.1:${server.address.port}/`)).text(), "string port");
  } finally {
    await stop(server);
  }
  await assert.rejects(start(() => new Response(""), { port: "http" }), {
    name: "TypeError",
    message: 'options.port must be an integer in 0..65535 or a string of its digits, got "http" (a string)',
  });
  await assert.rejects(start(() => new Response(""), { port: 65536 }), {
    name: "RangeError",
    message: "options.port must be an integer in 0..65535 or a string of its digits, got 65536",
  });
});
