import { test } from "node:test";
import assert from "node:assert/strict";
import { platform, resettable, startServe as start } from "./serve_helpers.ts";
import { deferred, exchange, sleep, within } from "../util.ts";

/** Run `check` on the Request of one request the client sends as `raw`; resolves with what check returned. */
async function onRequest<T>(raw: string, check: (req: Request) => T | Promise<T>): Promise<T> {
  const seen = deferred<T>();
  const server = await start(async (req) => {
    try {
      seen.resolve(await check(req));
    } catch (err) {
      seen.reject(err);
    }
    return new Response("done");
  });
  try {
    const socket = await platform.connect({ host: "127.0.0.1", port: server.address.port });
    await exchange(socket, raw, /done$/);
    return await within(seen.promise, 10000, "the handler's check");
  } finally {
    await within(server.shutdown(), 10000, "shutdown");
  }
}

/** Members of Request.prototype that are getters, as a genuine Request answers them. */
function getters(): string[] {
  const proto = Request.prototype as unknown as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto).filter((key) => Object.getOwnPropertyDescriptor(proto, key)?.get);
}

test("the Request is a Request: instanceof, its tag, its constructor, and every getter as a runtime Request answers", async () => {
  const url = "http://example.test:8080/path?q=1";
  const genuine = new Request(url, { headers: { accept: "*/*" } }) as unknown as Record<string, unknown>;
  const result = await onRequest(
    "GET /path?q=1 HTTP/1.1\r\nHost: example.test:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n",
    (req) => {
      const r = req as unknown as Record<string, unknown>;
      const differing: string[] = [];
      for (const key of getters()) {
        // Objects (headers, signal) differ by identity; primitives must match the runtime's own Request.
        const mine = r[key];
        if (typeof mine !== "object" && mine !== genuine[key]) differing.push(`${key}: ${mine} vs ${genuine[key]}`);
      }
      return {
        isRequest: req instanceof Request,
        tag: Object.prototype.toString.call(req),
        ctor: req.constructor === Request,
        url: req.url,
        method: req.method,
        body: req.body,
        bodyUsed: req.bodyUsed,
        differing,
      };
    },
  );
  assert.equal(result.isRequest, true);
  assert.equal(result.tag, "[object Request]");
  assert.equal(result.ctor, true);
  assert.equal(result.url, url);
  assert.equal(result.method, "GET");
  assert.equal(result.body, null);
  assert.equal(result.bodyUsed, false);
  assert.deepEqual(result.differing, []);
});

test("headers come from the request's head: repeated fields joined, names case-insensitive, one object", async () => {
  const result = await onRequest(
    "GET / HTTP/1.1\r\nHost: h\r\nX-One: a\r\nx-one: b\r\nCookie: c=1\r\nConnection: close\r\n\r\n",
    (req) => ({
      isHeaders: req.headers instanceof Headers,
      same: req.headers === req.headers,
      one: req.headers.get("X-ONE"),
      cookie: req.headers.get("cookie"),
      host: req.headers.get("host"),
      names: [...req.headers.keys()],
    }),
  );
  assert.equal(result.isHeaders, true);
  assert.equal(result.same, true);
  assert.equal(result.one, "a, b");
  assert.equal(result.cookie, "c=1");
  assert.equal(result.host, "h");
  assert.deepEqual(result.names, ["connection", "cookie", "host", "x-one"]);
});

test("the URL: Host with its port, the bound address without Host, an absolute-form target as sent", async () => {
  const noHost = await onRequest("GET /a?b HTTP/1.0\r\n\r\n", (req) => req.url);
  assert.match(noHost, /^http:\/\/127\.0\.0\.1:\d+\/a\?b$/);
  const v6 = await onRequest("GET /x HTTP/1.1\r\nHost: [::1]:99\r\nConnection: close\r\n\r\n", (req) => req.url);
  assert.equal(v6, "http://[::1]:99/x");
  const absolute = await onRequest(
    "GET http://other.test/p?q HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n",
    (req) => new URL(req.url).href,
  );
  assert.equal(absolute, "http://other.test/p?q");
});

test("every body reader works on the request: text, json, arrayBuffer, bytes, blob, formData and the stream", async () => {
  const send = (type: string, body: string): string =>
    `POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: ${type}\r\nContent-Length: ${
      new TextEncoder().encode(body).length
    }\r\nConnection: close\r\n\r\n${body}`;
  assert.equal(await onRequest(send("text/plain", "héllo"), (req) => req.text()), "héllo");
  assert.deepEqual(await onRequest(send("application/json", '{"a":[1]}'), (req) => req.json()), { a: [1] });
  const ab = await onRequest(send("x/y", "abc"), (req) => req.arrayBuffer());
  assert.deepEqual([...new Uint8Array(ab)], [97, 98, 99]);
  if (typeof Request.prototype.bytes === "function") {
    const bytes = await onRequest(send("x/y", "abc"), (req) => req.bytes());
    assert.equal(bytes instanceof Uint8Array, true);
    assert.deepEqual([...bytes], [97, 98, 99]);
  }
  const blob = await onRequest(send("text/x-mine", "abcd"), async (req) => {
    const b = await req.blob();
    return { size: b.size, type: b.type, text: await b.text() };
  });
  // The type is the one the runtime's own Request gives a streamed body of that Content-Type (Bun's gives none).
  const init: RequestInit & { duplex: "half" } = {
    method: "POST",
    headers: { "content-type": "text/x-mine" },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("abcd"));
        controller.close();
      },
    }),
    duplex: "half",
  };
  const type = (await new Request("http://h/", init).blob()).type;
  assert.deepEqual(blob, { size: 4, type, text: "abcd" });
  const form = await onRequest(
    send("application/x-www-form-urlencoded", "a=1&b=two+words"),
    async (req) => [...(await req.formData()).entries()],
  );
  assert.deepEqual(form, [["a", "1"], ["b", "two words"]]);
  const boundary = "XyZ";
  const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="f"\r\n\r\nvalue\r\n--${boundary}--\r\n`;
  const parts = await onRequest(
    send(`multipart/form-data; boundary=${boundary}`, multipart),
    async (req) => (await req.formData()).get("f"),
  );
  assert.equal(parts, "value");
  const streamed = await onRequest(send("x/y", "streamed"), async (req) => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of req.body!) text += decoder.decode(chunk, { stream: true });
    return { text, used: req.bodyUsed };
  });
  assert.deepEqual(streamed, { text: "streamed", used: true });
});

test("a body is read once: bodyUsed turns true and a second reader rejects with a TypeError", async () => {
  const result = await onRequest(
    "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    async (req) => {
      const before = req.bodyUsed;
      const text = await req.text();
      const second = await req.text().then(() => "resolved", (err: unknown) => (err as Error).constructor.name);
      return { before, text, after: req.bodyUsed, second };
    },
  );
  assert.deepEqual(result, { before: false, text: "hi", after: true, second: "TypeError" });
});

test("clone() gives a runtime Request with the same method, URL, headers and a body both can read", async () => {
  const result = await onRequest(
    "POST /c?x=1 HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody",
    async (req) => {
      const copy = req.clone();
      return {
        isRequest: copy instanceof Request,
        method: copy.method,
        url: copy.url,
        header: copy.headers.get("x-a"),
        copyBody: await copy.text(),
        ownBody: await req.text(),
      };
    },
  );
  assert.deepEqual(result, {
    isRequest: true,
    method: "POST",
    url: "http://h:1/c?x=1",
    header: "1",
    copyBody: "body",
    ownBody: "body",
  });
});

test("a Request made from the request's fields (Hono's mount, a proxy) carries its method, headers and body", async () => {
  const result = await onRequest(
    "POST /m HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    async (req) => {
      const copy = new Request("http://elsewhere.test/m", req);
      return { method: copy.method, header: copy.headers.get("x-a"), body: await copy.text() };
    },
  );
  assert.deepEqual(result, { method: "POST", header: "1", body: "abc" });
});

test("new Request(request) copies it, but on Node 26, whose undici refuses an object not its own, and clone() is the way", async () => {
  const result = await onRequest(
    "POST /n HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
    async (req) => {
      try {
        const copy = new Request(req);
        return { method: copy.method, url: copy.url, header: copy.headers.get("x-a"), body: await copy.text() };
      } catch (err) {
        const copy = new Request(req.clone());
        return { threw: (err as Error).constructor.name, body: await copy.text() };
      }
    },
  );
  if ("threw" in result) {
    // Node 26's undici reads a private field of its own Requests (Node 20's read the members).
    assert.equal(platform.name, "node");
    assert.deepEqual(result, { threw: "TypeError", body: "xyz" });
  } else {
    assert.deepEqual(result, { method: "POST", url: "http://h/n", header: "1", body: "xyz" });
  }
});

test("the signal aborts when the client resets the connection while the handler works", async () => {
  const aborted = deferred<boolean>();
  const entered = deferred();
  const server = await start((req) => {
    req.signal.addEventListener("abort", () => aborted.resolve(req.signal.aborted));
    entered.resolve();
    return new Promise<Response>(() => {});
  });
  const client = await resettable(server.address.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await within(entered.promise, 10000, "the handler");
  client.reset();
  assert.equal(await within(aborted.promise, 10000, "the abort"), true);
  await within(server.shutdown(), 10000, "shutdown");
});

test("the signal aborts when the client ends its side, and the half-closed client still gets the reply", async () => {
  const entered = deferred();
  const server = await start(async (req) => {
    const { signal } = req;
    entered.resolve();
    await within(
      new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true })),
      10000,
      "the abort",
    );
    return new Response(`aborted=${signal.aborted}`);
  });
  const client = await resettable(server.address.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await within(entered.promise, 10000, "the handler");
  client.end();
  const reply = await client.until(/aborted=\w+$/, 10000, "the reply");
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /aborted=true$/);
  await within(server.shutdown(), 10000, "shutdown");
});

test("a signal first read after the client ended its side is aborted already", async () => {
  const finSeen = deferred();
  const states: boolean[] = [];
  const server = await start(async (req) => {
    if (new URL(req.url).pathname === "/first") {
      const { signal } = req;
      states.push(signal.aborted);
      await within(new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true })), 10000, "abort");
      finSeen.resolve();
      return new Response("one");
    }
    // The second, pipelined request looks at its signal only once the client's end was read.
    await finSeen.promise;
    states.push(req.signal.aborted);
    return new Response("two");
  });
  const client = await resettable(
    server.address.port,
    "GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n",
  );
  await sleep(50);
  client.end();
  const reply = await client.until(/one[^]*two$/, 10000, "both replies");
  assert.equal(reply.match(/HTTP\/1\.1 200 /g)?.length, 2);
  assert.deepEqual(states, [false, true]);
  await within(server.shutdown(), 10000, "shutdown");
});

test("a signal first read after the client went away is aborted already", async () => {
  const state = deferred<boolean>();
  const server = await start(async (req, info) => {
    for (let i = 0; i < 2000 && info.request.responseState !== "aborted"; i++) await sleep(5);
    state.resolve(req.signal.aborted);
    return new Response("late");
  });
  const client = await resettable(server.address.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await sleep(50);
  client.reset();
  assert.equal(await within(state.promise, 10000, "the state"), true);
  await within(server.shutdown(), 10000, "shutdown");
});

test("nothing the handler does not touch is built: a Response answers without the runtime Request", async () => {
  // A runtime Request would need a valid URL: a target the URL parser refuses shows whether one was built.
  const reply = await (async () => {
    const server = await start((req) => new Response(`method ${req.method}`));
    try {
      const socket = await platform.connect({ host: "127.0.0.1", port: server.address.port });
      return await exchange(socket, "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", /method OPTIONS$/);
    } finally {
      await within(server.shutdown(), 10000, "shutdown");
    }
  })();
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /method OPTIONS$/);
});
