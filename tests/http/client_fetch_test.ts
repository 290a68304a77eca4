// request(): the idiomatic client built on HttpConnection and
// HttpClientRequest: a Promise of the head, the body as an async iterable and
// a ReadableStream, AbortSignal, flow control; and Python's http.server as a
// peer nobody here wrote.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { EventBase, setDefaultPlatform } from "../../src/event/mod.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { HttpConnection } from "../../src/http/http_connection.ts";
import { HttpClientRequest } from "../../src/http/http_client_request.ts";
import { request } from "../../src/http/client_fetch.ts";
import {
  BROKEN_BODIES,
  closedPort,
  platform,
  type RawConn,
  RawServer,
  response,
  ScriptedServer,
  type SeenRequest,
  tick,
  until,
} from "./client_util.ts";
import { deferred, sleep, within } from "../util.ts";

// request() makes its own EventBase, which takes the default platform (mod.ts registers it).
setDefaultPlatform(platform);

const dec = new TextDecoder();

/** Run `body` with a raw server, closing it afterwards. */
async function withServer(
  onRequest: (req: SeenRequest, conn: RawConn) => void,
  body: (server: RawServer) => Promise<void>,
): Promise<void> {
  const server = await RawServer.start(onRequest);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

test("request() resolves with the head and streams the body as it arrives", async () => {
  const more = deferred();
  await withServer((_req, conn) => {
    conn.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    void more.promise.then(() => conn.write("6\r\nsecond\r\n0\r\n\r\n"));
  }, async (server) => {
    const res = await within(request(`http://127.0.0.1:${server.port}/s`), 5000, "the head");
    assert.equal(res.status, 200);
    assert.equal(res.reason, "OK");
    assert.equal(res.version, "1.1");
    assert.equal(res.headers.get("Content-Type"), "text/plain");
    const it = res.body[Symbol.asyncIterator]();
    const first = await within(it.next(), 5000, "the first chunk");
    assert.equal(dec.decode(first.value), "first", "the first chunk comes before the rest is sent");
    more.resolve();
    const rest: string[] = [];
    for (let step = await it.next(); step.done !== true; step = await it.next()) rest.push(dec.decode(step.value));
    assert.equal(rest.join(""), "second");
    assert.equal(res.bodyUsed, true);
  });
});

test("text() and bytes() read the whole body, which can be read only once", async () => {
  await withServer((req, conn) => conn.write(response(200, `body of ${req.head.target}`)), async (server) => {
    const res = await request(`http://127.0.0.1:${server.port}/t`);
    assert.equal(await res.text(), "body of /t");
    await assert.rejects(res.text(), TypeError);
    const res2 = await request(new URL(`http://127.0.0.1:${server.port}/b`));
    assert.deepEqual(await res2.bytes(), new TextEncoder().encode("body of /b"));
  });
  // A body still arriving when bytes() is called, in several chunks, and one complete in several chunks.
  const more = deferred();
  await withServer((req, conn) => {
    conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n6\r\nsecond\r\n");
    if (req.head.target === "/late") void more.promise.then(() => conn.write("5\r\nthird\r\n0\r\n\r\n"));
    else conn.write("5\r\nthird\r\n0\r\n\r\n");
  }, async (server) => {
    const late = await request(`http://127.0.0.1:${server.port}/late`);
    const text = late.text();
    more.resolve();
    assert.equal(await within(text, 5000, "the late body"), "firstsecondthird");
    const whole = await request(`http://127.0.0.1:${server.port}/whole`);
    await sleep(50);
    assert.equal(await whole.text(), "firstsecondthird");
    await assert.rejects(whole.bytes(), TypeError);
  });
});

test("stream() gives the body as a Web ReadableStream", async () => {
  await withServer((_req, conn) => conn.write(response(200, "streamed body")), async (server) => {
    const res = await request(`http://127.0.0.1:${server.port}/`);
    const reader = res.stream().getReader();
    let text = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value);
    assert.equal(text, "streamed body");
    assert.throws(() => res.stream(), TypeError);
  });
});

test("a 4xx status resolves as a response; a refused connection rejects with ERR_CONNECT", async () => {
  await withServer((_req, conn) => conn.write(response(404, "nothing here")), async (server) => {
    const res = await request(`http://127.0.0.1:${server.port}/missing`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "nothing here");
  });
  const port = await closedPort();
  await assert.rejects(
    request(`http://127.0.0.1:${port}/`),
    (err: unknown) => err instanceof HttpError && err.code === "ERR_CONNECT" && err.message.includes(`${port}`),
  );
});

test("a malformed response rejects with the parser's code, and a body cut short makes the iteration throw", async () => {
  await withServer((req, conn) => {
    if (req.head.target === "/bad") conn.write("HTTP/1.1 200 OK\r\nNo Colon Here\r\n\r\n");
    else {
      conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
      setTimeout(() => conn.end(), 10);
    }
  }, async (server) => {
    await assert.rejects(
      request(`http://127.0.0.1:${server.port}/bad`),
      (err: unknown) => err instanceof HttpError && err.code === "ERR_INVALID_HEADER",
    );
    const res = await request(`http://127.0.0.1:${server.port}/short`);
    await assert.rejects(res.text(), (err: unknown) => err instanceof HttpError && err.code === "ERR_INCOMPLETE");
  });
});

test("text(), bytes() and the body's iteration reject with the HttpError of a body cut short or malformed", async () => {
  for (const c of BROKEN_BODIES) {
    const server = await ScriptedServer.start(c.bytes, c.ending);
    try {
      const url = `http://127.0.0.1:${server.port}/`;
      const fails = (err: unknown): boolean =>
        err instanceof HttpError && err.code === c.code && c.message.test(err.message);
      await assert.rejects((await request(url)).text(), fails, `text(): ${c.name}`);
      await assert.rejects((await request(url)).bytes(), fails, `bytes(): ${c.name}`);
      const res = await request(url);
      assert.equal(res.status, 200, c.name);
      let body = "";
      await assert.rejects(
        async () => {
          for await (const chunk of res.body) body += dec.decode(chunk);
        },
        fails,
        `the body's iteration: ${c.name}`,
      );
      assert.equal(body, c.body, `the bytes that came whole: ${c.name}`);
    } finally {
      await server.close();
    }
  }
});

test("an AbortSignal aborted before the head rejects with its reason and closes the connection", async () => {
  await withServer(() => {}, async (server) => {
    const ac = new AbortController();
    const pending = request(`http://127.0.0.1:${server.port}/slow`, { signal: ac.signal });
    await until(() => server.conns[0]?.requests.length === 1, "the request at the server");
    const reason = new Error("user gave up");
    ac.abort(reason);
    await assert.rejects(pending, (err: unknown) => err === reason);
    await within(server.conns[0].whenClosed, 5000, "the connection to close");
  });
});

test("an AbortSignal aborted mid-body makes the body throw its reason", async () => {
  await withServer((_req, conn) => {
    conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nsome\r\n");
  }, async (server) => {
    const ac = new AbortController();
    const res = await request(`http://127.0.0.1:${server.port}/`, { signal: ac.signal });
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(dec.decode((await it.next()).value), "some");
    ac.abort();
    await assert.rejects(it.next(), (err: unknown) => (err as Error).name === "AbortError");
    await within(server.conns[0].whenClosed, 5000, "the connection to close");
  });
});

test("an already aborted signal rejects at once, without connecting", async () => {
  await withServer(() => {}, async (server) => {
    const reason = new Error("too late");
    await assert.rejects(
      request(`http://127.0.0.1:${server.port}/`, { signal: AbortSignal.abort(reason) }),
      (e: unknown) => e === reason,
    );
    await tick(30);
    assert.equal(server.conns.length, 0);
  });
});

test("leaving the body loop early cancels the request and closes its connection", async () => {
  await withServer((_req, conn) => {
    conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n");
  }, async (server) => {
    const res = await request(`http://127.0.0.1:${server.port}/`);
    for await (const chunk of res.body) {
      assert.ok(chunk.length > 0);
      break;
    }
    await within(server.conns[0].whenClosed, 5000, "the connection to close");
  });
});

test("a slow reader holds the server back instead of buffering the body", async () => {
  const TOTAL = 128 * 1024 * 1024;
  const block = new Uint8Array(256 * 1024);
  let sent = 0;
  await withServer((_req, conn) => {
    conn.record = false;
    void (async () => {
      conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      while (sent < TOTAL && !conn.closed) {
        await conn.writeAndWait(block);
        sent += block.length;
      }
    })();
  }, async (server) => {
    const res = await request(`http://127.0.0.1:${server.port}/`);
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    // The reader stalls: what the server manages to send is what the socket buffers and the body queue hold.
    await tick(300);
    const during = sent;
    console.log(`a stalled reader let the server send ${(during / 1048576).toFixed(1)} MB`);
    assert.ok(during < 16 * 1024 * 1024, `the server sent ${during} bytes to a reader that stopped`);
    let got = 0;
    for (let s = await it.next(); s.done !== true; s = await it.next()) got += s.value.length;
    assert.ok(got > TOTAL - during);
  });
});

test("a body from an async iterable is sent chunked, or as is under a given Content-Length", async () => {
  const seen: SeenRequest[] = [];
  await withServer((req, conn) => {
    seen.push(req);
    conn.write(response(200, String(req.bodyLength)));
  }, async (server) => {
    async function* parts(): AsyncGenerator<string> {
      yield "hello, ";
      await tick(5);
      yield "world";
    }
    const res = await request(`http://127.0.0.1:${server.port}/up`, { method: "POST", body: parts() });
    assert.equal(await res.text(), "12");
    const res2 = await request(`http://127.0.0.1:${server.port}/up`, {
      method: "PUT",
      headers: { "Content-Length": "12" },
      body: parts(),
    });
    assert.equal(await res2.text(), "12");
    assert.equal(seen[0].header("transfer-encoding"), "chunked");
    assert.equal(dec.decode(seen[0].body), "hello, world");
    assert.equal(seen[1].header("transfer-encoding"), null);
    assert.equal(seen[1].header("content-length"), "12");
    const res3 = await request(`http://127.0.0.1:${server.port}/up`, {
      method: "POST",
      body: new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode("from a stream"));
          c.close();
        },
      }),
    });
    assert.equal(await res3.text(), "13");
  });
});

test("credentials in the URL become a Basic authorization header", async () => {
  let auth: string | null = null;
  await withServer((req, conn) => {
    auth = req.header("authorization");
    conn.write(response(200));
  }, async (server) => {
    await (await request(`http://Aladdin:open%20sesame@127.0.0.1:${server.port}/`)).text();
    assert.equal(auth, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  });
});

/** A base that counts how often its loop is started. */
class CountingBase extends EventBase {
  loops = 0;
  override loop(flags?: Parameters<EventBase["loop"]>[0]): ReturnType<EventBase["loop"]> {
    this.loops++;
    return super.loop(flags);
  }
}

test("requests given one HttpConnection reuse its TCP connection and, one after another, one running loop", async () => {
  await withServer((req, conn) => conn.write(response(200, req.head.target)), async (server) => {
    const base = new CountingBase({ platform });
    const conn = new HttpConnection(base, { host: "127.0.0.1", port: server.port });
    try {
      for (const path of ["/1", "/2", "/3"]) {
        const res = await request(`http://127.0.0.1:${server.port}${path}`, { connection: conn });
        assert.equal(await res.text(), path);
      }
      assert.equal(base.loops, 1, "awaited requests in a row run on the loop the first one started");
      const both = await Promise.all(
        ["/4", "/5"].map((p) => request(`http://127.0.0.1:${server.port}${p}`, { connection: conn })),
      );
      assert.deepEqual(await Promise.all(both.map((r) => r.text())), ["/4", "/5"]);
      assert.equal(server.conns.length, 1);
      await assert.rejects(request("http://127.0.0.2:1/", { connection: conn }), TypeError);
    } finally {
      conn.free();
    }
  });
});

test("request() refuses what is not an http(s) URL with a host", async () => {
  await assert.rejects(request("ftp://example.com/"), TypeError);
  await assert.rejects(request("/relative"), TypeError);
  await assert.rejects(request("http://exa mple.com/"), HttpError);
  await assert.rejects(request("http://127.0.0.1:1/", { method: "BAD METHOD" }), TypeError);
});

// ---------------------------------------------------------------- Python

const python = spawnSync("python3", ["--version"]).status === 0;
const noPython = python ? false : "python3 is not installed";
if (!python) console.log("skipping the http.server interop tests: python3 is not installed");

/** Start `python3 -m http.server` on 127.0.0.1:0 over `dir`; resolves with it and its port. */
async function pythonServer(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn("python3", ["-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  let out = "";
  const port = deferred<number>();
  const onData = (b: Uint8Array): void => {
    out += dec.decode(b);
    const m = out.match(/port (\d+)/);
    if (m) port.resolve(Number(m[1]));
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  child.on("exit", () => port.reject(new Error(`http.server exited: ${out}`)));
  return { child, port: await within(port.promise, 10000, "http.server to listen") };
}

test(
  "Python's http.server: files, a listing, 404 and HEAD through request() and HttpConnection",
  { skip: noPython },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "levent-client-"));
    const big = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
    writeFileSync(join(dir, "big.bin"), big);
    writeFileSync(join(dir, "hello.txt"), "Hello from Python\n");
    const { child, port } = await pythonServer(dir);
    try {
      const file = await request(`http://127.0.0.1:${port}/big.bin`);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get("content-length"), String(big.length));
      assert.deepEqual(await file.bytes(), big);

      const listing = await request(`http://127.0.0.1:${port}/`);
      assert.equal(listing.status, 200);
      assert.match(await listing.text(), /hello\.txt/);

      const missing = await request(`http://127.0.0.1:${port}/nope.txt`);
      assert.equal(missing.status, 404);
      await missing.text();

      const head = await request(`http://127.0.0.1:${port}/hello.txt`, { method: "HEAD" });
      assert.equal(head.headers.get("content-length"), "18");
      assert.equal((await head.bytes()).length, 0);

      // http.server speaks HTTP/1.0 and closes after each answer: the connection reconnects for each request.
      const base = new EventBase({ platform });
      const conn = new HttpConnection(base, { host: "127.0.0.1", port });
      let closes = 0;
      conn.setCloseCb(() => closes++);
      const bodies: string[] = [];
      const done = deferred();
      let left = 3;
      for (let i = 0; i < 3; i++) {
        const req = new HttpClientRequest((r) => {
          bodies.push(`${r.responseVersion} ${r.responseCode} ${dec.decode(r.inputBuffer.pullup())}`);
          if (--left === 0) done.resolve();
        });
        req.setErrorCb((kind, r) => done.reject(new Error(`${kind}: ${r.error?.message}`)));
        conn.makeRequest(req, "GET", "/hello.txt");
      }
      const loop = base.loop({ noExitOnEmpty: true });
      await within(done.promise, 10000, "three requests");
      conn.free();
      base.loopBreak();
      await loop;
      assert.deepEqual(bodies, Array(3).fill("1.0 200 Hello from Python\n"));
      assert.equal(closes, 3);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
