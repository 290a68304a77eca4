// fetch() beyond what the equivalence file compares: the HttpClientPool's
// keep-alive connections and their limits (per origin, idle timeout, closed
// when the loop stops so no socket keeps a program alive, close()), the
// decoded size bound, flow control of an unread body, aborts while waiting
// for a connection; and request()'s fetch-like manners (methods upper-case,
// no body on GET, ok, json(), arrayBuffer()).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import zlib from "node:zlib";
import { EventBase, setDefaultPlatform } from "../../src/event/mod.ts";
import { fetch, HttpClientPool } from "../../src/http/fetch.ts";
import { request } from "../../src/http/client_fetch.ts";
import { platform, RawServer, response } from "./client_util.ts";
import { deferred, sleep, within } from "../util.ts";

setDefaultPlatform(platform);

/** A node:http server that counts its connections and lets a test hold answers. */
async function countingServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ origin: string; connections: () => number; open: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let total = 0;
  const server = http.createServer(handler);
  server.on("connection", (s: Socket) => {
    total++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => total,
    open: () => sockets.size,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("fetches one after another reuse one keep-alive connection", async () => {
  const s = await countingServer((req, res) => res.end(`hello ${req.url}`));
  const pool = new HttpClientPool();
  try {
    for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${s.origin}/${i}`, { pool })).text(), `hello /${i}`);
    assert.equal(s.connections(), 1);
  } finally {
    pool.close();
    await s.close();
  }
});

test("maxConnectionsPerOrigin caps the connections; the requests beyond wait for one and all complete", async () => {
  const held: http.ServerResponse[] = [];
  const s = await countingServer((_req, res) => {
    held.push(res);
  });
  const pool = new HttpClientPool({ maxConnectionsPerOrigin: 2 });
  try {
    const all = Array.from({ length: 6 }, (_, i) => fetch(`${s.origin}/${i}`, { pool }).then((r) => r.text()));
    await within(
      (async () => {
        while (held.length < 2) await sleep(5);
      })(),
      5000,
      "two requests at the server",
    );
    await sleep(50);
    assert.equal(s.connections(), 2, "no third connection");
    assert.equal(held.length, 2, "the others wait for a connection");
    // Answer as they come, until all six were answered.
    let answered = 0;
    while (answered < 6) {
      const res = held.shift();
      if (res === undefined) {
        await sleep(5);
        continue;
      }
      res.end(`answer ${answered++}`);
    }
    const texts = await within(Promise.all(all), 5000, "all six");
    assert.equal(texts.length, 6);
    assert.equal(s.connections(), 2);
  } finally {
    pool.close();
    await s.close();
  }
});

test("an idle connection is closed after idleTimeoutMs while the loop runs, and at once when the pool stops its own loop", async () => {
  const s = await countingServer((_req, res) => res.end("ok"));
  // A base whose loop the test runs: the pool keeps idle connections until their timeout.
  const base = new EventBase({ platform });
  const loop = base.loop({ noExitOnEmpty: true });
  const pool = new HttpClientPool({ base, idleTimeoutMs: 150 });
  try {
    await (await fetch(s.origin, { pool })).text();
    assert.equal(pool.connectionCount, 1);
    await sleep(50);
    assert.equal(pool.connectionCount, 1, "kept while idle for less than the timeout");
    await within(
      (async () => {
        while (pool.connectionCount > 0 || s.open() > 0) await sleep(10);
      })(),
      3000,
      "the idle connection to close",
    );
  } finally {
    pool.close();
    base.loopBreak();
    await loop;
  }
  // The pool's own loop: it stops once no fetch is left, and the idle connections go with it.
  const own = new HttpClientPool({ idleTimeoutMs: 60000 });
  try {
    await (await fetch(s.origin, { pool: own })).text();
    await within(
      (async () => {
        while (own.connectionCount > 0 || s.open() > 0) await sleep(5);
      })(),
      3000,
      "the idle connection to close with the loop",
    );
  } finally {
    own.close();
    await s.close();
  }
});

test("close() fails a fetch in flight and one waiting for a connection; later fetches are refused", async () => {
  const s = await countingServer(() => {});
  const pool = new HttpClientPool({ maxConnectionsPerOrigin: 1 });
  try {
    const first = fetch(s.origin, { pool });
    const second = fetch(s.origin, { pool });
    await within(
      (async () => {
        while (s.connections() < 1) await sleep(5);
      })(),
      5000,
      "the first request",
    );
    pool.close();
    await assert.rejects(within(first, 5000, "the first"), TypeError);
    await assert.rejects(within(second, 5000, "the second"), TypeError);
    await assert.rejects(fetch(s.origin, { pool }), TypeError);
  } finally {
    await s.close();
  }
});

test("an abort while waiting for a connection rejects with the reason and gives up the place", async () => {
  const held: http.ServerResponse[] = [];
  const s = await countingServer((_req, res) => held.push(res));
  const pool = new HttpClientPool({ maxConnectionsPerOrigin: 1 });
  try {
    const first = fetch(s.origin, { pool });
    const ac = new AbortController();
    const waiting = fetch(s.origin, { pool, signal: ac.signal });
    const third = fetch(`${s.origin}/third`, { pool });
    await within(
      (async () => {
        while (held.length < 1) await sleep(5);
      })(),
      5000,
      "the first request",
    );
    ac.abort(new RangeError("gave up"));
    await assert.rejects(waiting, RangeError);
    held.shift()!.end("one");
    assert.equal(await (await first).text(), "one");
    await within(
      (async () => {
        while (held.length < 1) await sleep(5);
      })(),
      5000,
      "the third request, on the freed connection",
    );
    held.shift()!.end("three");
    assert.equal(await (await third).text(), "three");
    assert.equal(s.connections(), 1);
  } finally {
    pool.close();
    await s.close();
  }
});

test("an unread body holds the server back (flow control) instead of filling memory", async () => {
  const total = 64 << 20;
  let written = 0;
  const s = await countingServer((_req, res) => {
    const chunk = new Uint8Array(64 * 1024);
    const pump = (): void => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const pool = new HttpClientPool();
  try {
    const res = await fetch(s.origin, { pool });
    const reader = res.body!.getReader();
    await reader.read();
    await sleep(300);
    assert.ok(written < 16 << 20, `the server wrote ${written} of ${total} bytes while the body was not read`);
    let got = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) got += r.value.length;
    assert.ok(got > total - (1 << 20), `read ${got} bytes`);
  } finally {
    pool.close();
    await s.close();
  }
});

test("maxDecodedSize bounds a decoded body: past it the body errors with a TypeError; decompress: false leaves it coded", async () => {
  const bomb = zlib.gzipSync(new Uint8Array(16 << 20));
  const s = await countingServer((req, res) => {
    res.writeHead(200, { "content-encoding": "gzip", "x-accept": req.headers["accept-encoding"] ?? "none" });
    res.end(bomb);
  });
  const bounded = new HttpClientPool({ maxDecodedSize: 1 << 20 });
  const raw = new HttpClientPool({ decompress: false });
  try {
    const res = await fetch(s.origin, { pool: bounded });
    await assert.rejects(
      res.arrayBuffer(),
      (err) =>
        err instanceof TypeError &&
        /decodes to more than/.test(String((err as Error).message) + String((err as Error).cause)),
    );
    const plain = await fetch(s.origin, { pool: raw });
    assert.equal(plain.headers.get("x-accept"), "none", "no Accept-Encoding sent");
    assert.equal((await plain.arrayBuffer()).byteLength, bomb.length);
    assert.throws(() => new HttpClientPool({ maxDecodedSize: -1 }), RangeError);
    assert.throws(() => new HttpClientPool({ maxConnectionsPerOrigin: 0 }), RangeError);
    assert.throws(() => new HttpClientPool({ decompress: "no" as unknown as boolean }), TypeError);
  } finally {
    bounded.close();
    raw.close();
    await s.close();
  }
});

test("a response without keep-alive, or a server that closes idle connections, costs a reconnect and nothing else", async () => {
  let n = 0;
  const s = await countingServer((_req, res) => {
    n++;
    if (n % 2 === 0) res.setHeader("connection", "close");
    res.end(`n${n}`);
  });
  const pool = new HttpClientPool();
  try {
    for (let i = 1; i <= 6; i++) assert.equal(await (await fetch(s.origin, { pool })).text(), `n${i}`);
    assert.equal(s.connections(), 3);
  } finally {
    pool.close();
    await s.close();
  }
});

test("fetch() without a pool shares one, and a program's last fetch leaves no socket open", async () => {
  const s = await countingServer((_req, res) => res.end("shared"));
  try {
    assert.equal(await (await fetch(s.origin)).text(), "shared");
    assert.equal(await (await fetch(s.origin)).text(), "shared");
    assert.equal(s.connections(), 1);
    await within(
      (async () => {
        while (s.open() > 0) await sleep(5);
      })(),
      3000,
      "the shared pool's idle connection to close",
    );
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------- request()

test("request(): standard methods go out upper-case, a GET or HEAD body is a TypeError, ok / json() / arrayBuffer()", async () => {
  const server = await RawServer.start((req, conn) =>
    conn.write(response(req.head.target === "/missing" ? 404 : 200, `{"method":"${req.head.method}"}`))
  );
  try {
    const url = `http://127.0.0.1:${server.port}`;
    for (const [given, sent] of [["get", "GET"], ["Post", "POST"], ["delete", "DELETE"], ["patch", "patch"]]) {
      const res = await request(`${url}/`, { method: given, body: given === "Post" ? "x" : undefined });
      assert.deepEqual(await res.json(), { method: sent }, given);
      assert.equal(res.ok, true);
    }
    await assert.rejects(request(`${url}/`, { body: "x" }), TypeError);
    await assert.rejects(request(`${url}/`, { method: "head", body: new Uint8Array(1) }), TypeError);
    const missing = await request(`${url}/missing`);
    assert.equal(missing.ok, false);
    const buf = await missing.arrayBuffer();
    assert.ok(buf instanceof ArrayBuffer);
    assert.equal(new TextDecoder().decode(buf), '{"method":"GET"}');
  } finally {
    await server.close();
  }
});

test("a fetch of a chunked body that arrives piece by piece streams it as it comes", async () => {
  const more = deferred();
  const s = await countingServer((_req, res) => {
    res.write("first ");
    void more.promise.then(() => res.end("second"));
  });
  const pool = new HttpClientPool();
  try {
    const res = await fetch(s.origin, { pool });
    const reader = res.body!.getReader();
    assert.equal(new TextDecoder().decode((await within(reader.read(), 5000, "the first piece")).value), "first ");
    more.resolve();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.equal(rest, "second");
  } finally {
    pool.close();
    await s.close();
  }
});
