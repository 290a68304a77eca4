// HttpClientRequest (libevent's evhttp_request on the client side): streamed
// request bodies with flow control, streamed downloads through the chunked
// callback in bounded memory, pausing, and the Basic authorization helper.
import { test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { EventBase, ManualClock } from "../../src/event/mod.ts";
import { HttpConnection } from "../../src/http/http_connection.ts";
import { basicAuth, HttpClientRequest } from "../../src/http/http_client_request.ts";
import { Harness, platform, type RawConn, RawServer, response, rss, tick, until } from "./client_util.ts";
import { deferred, within } from "../util.ts";

/** A 1 MiB block of varied bytes; large bodies repeat it, so both ends can check every byte cheaply. */
const BLOCK = new Uint8Array(1 << 20);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + (i >>> 13)) & 0xff;
const MASK = BLOCK.length - 1;

/** Check `bytes` against the repeated block from stream offset `at`; returns the first bad offset or -1. */
function firstMismatch(bytes: Uint8Array, at: number): number {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== BLOCK[(at + i) & MASK]) return at + i;
  return -1;
}

/**
 * A full garbage collection where the runtime lets a test ask for one: V8
 * frees ArrayBuffers only once tens of megabytes of them have piled up (its
 * external-memory soft limit), so without a collection an RSS reading says
 * more about the collector's schedule than about what the client holds.
 */
const collect: () => void = (() => {
  const bun = (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    if (typeof gc === "function") return gc as () => void;
  } catch {
    // No way to ask: readings then include garbage not yet collected.
  }
  return () => {};
})();

/** The block's bytes from stream offset `at`, `n` of them, as a fresh array. */
function piece(at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = BLOCK[(at + i) & MASK];
  return out;
}

test("basicAuth encodes user:password in UTF-8 Base64, and refuses a user name with a colon", () => {
  assert.equal(basicAuth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  assert.equal(basicAuth("test", "123\u00a3"), "Basic dGVzdDoxMjPCow==");
  assert.equal(basicAuth("", ""), "Basic Og==");
  assert.throws(() => basicAuth("a:b", "c"), TypeError);
});

test("a basic authorization header set on the request reaches the server", async () => {
  const h = new Harness();
  try {
    let auth: string | null = null;
    const server = await h.server((req, conn) => {
      auth = req.header("authorization");
      conn.write(response(200));
    });
    const conn = h.connection({ port: server.port });
    await h.fetch(conn, "GET", "/private", (r) => r.outputHeaders.set("Authorization", basicAuth("user", "pw")));
    assert.equal(auth, "Basic dXNlcjpwdw==");
  } finally {
    await h.close();
  }
});

test("a 256 MB chunked download through the chunked callback keeps process memory bounded", async () => {
  const TOTAL = 256 * 1024 * 1024;
  const CHUNK = 256 * 1024;
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      void (async () => {
        conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (let at = 0; at < TOTAL && !conn.closed; at += CHUNK) {
          // Views of the block: generated on the fly, nothing of the body is kept by the server.
          const start = at & MASK;
          conn.write(`${CHUNK.toString(16)}\r\n`);
          conn.write(BLOCK.subarray(start, start + CHUNK));
          await conn.writeAndWait(new TextEncoder().encode("\r\n"));
        }
        conn.write("0\r\n\r\n");
      })();
    });
    const conn = h.connection({ port: server.port });
    collect();
    const before = rss();
    let peak = before;
    let received = 0;
    let mismatch = -1;
    let calls = 0;
    let nextSample = 0;
    const out = await h.fetch(conn, "GET", "/big", (req) =>
      req.setChunkedCb((r) => {
        calls++;
        for (const view of r.inputBuffer.peek()) {
          if (mismatch < 0) {
            const bad = firstMismatch(view, received);
            if (bad >= 0) mismatch = bad;
          }
          received += view.length;
        }
        if (received >= nextSample) {
          nextSample = received + 8 * 1024 * 1024;
          collect();
          peak = Math.max(peak, rss());
        }
      }), 120_000);
    assert.equal(out.state, "complete");
    assert.equal(received, TOTAL);
    assert.equal(mismatch, -1);
    assert.equal(out.req.inputBuffer.length, 0);
    assert.ok(calls > 10, `the body came in pieces (${calls} calls)`);
    if (before < 0) {
      console.log("no /proc/self/status here: memory not measured");
    } else {
      const growth = peak - before;
      console.log(`256 MB download: RSS grew by ${(growth / 1048576).toFixed(1)} MB over ${calls} callbacks`);
      assert.ok(growth < 32 * 1024 * 1024, `RSS grew by ${growth} bytes`);
    }
  } finally {
    await h.close();
  }
});

test("a 32 MB upload from an async source is sent chunked and never held whole", async () => {
  const TOTAL = 32 * 1024 * 1024;
  const PIECE = 64 * 1024;
  let received = 0;
  let mismatch = -1;
  let produced = 0;
  let maxAhead = 0;
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => {
      conn.write(response(200, `got ${req.bodyLength} ${req.header("transfer-encoding")}`));
    }, {
      countBodyOnly: true,
      onConnect: (c) => (c.record = false),
      onBody: (_c, bytes) => {
        if (mismatch < 0) {
          const bad = firstMismatch(bytes, received);
          if (bad >= 0) mismatch = bad;
        }
        received += bytes.length;
      },
    });
    let before = -1;
    let peak = -1;
    const source = async function* (): AsyncGenerator<Uint8Array> {
      while (produced < TOTAL) {
        if (produced % (4 * 1024 * 1024) === 0) {
          collect();
          peak = Math.max(peak, rss());
        }
        const p = piece(produced, PIECE);
        produced += p.length;
        maxAhead = Math.max(maxAhead, produced - received);
        yield p;
      }
    };
    const conn = h.connection({ port: server.port });
    collect();
    before = peak = rss();
    const out = await h.fetch(conn, "PUT", "/upload", (r) => r.setBodySource(source()), 60_000);
    const growth = peak - before;
    assert.equal(out.state, "complete");
    assert.equal(out.body, `got ${TOTAL} chunked`);
    assert.equal(received, TOTAL);
    assert.equal(mismatch, -1);
    // Only the sockets' worth of the body is ever ahead of what the server has
    // read: loopback's kernel buffers alone can hold several MB (8.5 MB seen here).
    console.log(`32 MB upload: at most ${(maxAhead / 1048576).toFixed(2)} MB produced ahead of the server`);
    assert.ok(maxAhead < 16 * 1024 * 1024, `the source ran ${maxAhead} bytes ahead of the server`);
    if (before >= 0) {
      console.log(`32 MB upload: RSS grew by ${(growth / 1048576).toFixed(1)} MB`);
      assert.ok(growth < 24 * 1024 * 1024, `RSS grew by ${growth} bytes`);
    }
  } finally {
    await h.close();
  }
});

test("writeBody and the drain callback stream a body with a declared Content-Length", async () => {
  const TOTAL = 4 * 1024 * 1024;
  const PIECE = 100 * 1024;
  const h = new Harness();
  try {
    let seen: { cl: string | null; te: string | null; length: number; bad: number } | null = null;
    const server = await h.server((req, conn) => {
      seen = {
        cl: req.header("content-length"),
        te: req.header("transfer-encoding"),
        length: req.body.length,
        bad: firstMismatch(req.body, 0),
      };
      conn.write(response(201, "stored"));
    }, { onConnect: (c) => (c.record = false) });
    const conn = h.connection({ port: server.port });
    let written = 0;
    let waits = 0;
    const out = await h.fetch(conn, "POST", "/store", (req) => {
      req.startBody({ length: TOTAL });
      const write = (r: HttpClientRequest): void => {
        while (written < TOTAL) {
          const n = Math.min(PIECE, TOTAL - written);
          const room = r.writeBody(piece(written, n));
          written += n;
          if (!room) {
            waits++;
            return;
          }
        }
        r.endBody();
      };
      req.setDrainCb(write);
      write(req);
    });
    assert.equal(out.code, 201);
    assert.deepEqual(seen, { cl: String(TOTAL), te: null, length: TOTAL, bad: -1 });
    assert.ok(waits > 0, "writeBody asked to wait at least once");
  } finally {
    await h.close();
  }
});

test("a streamed body shorter or longer than its declared length is refused", async () => {
  const h = new Harness();
  try {
    const bodySeen = deferred();
    const server = await h.server((_req, conn) => conn.write(response(200)), { onBody: () => bodySeen.resolve() });
    const conn = h.connection({ port: server.port });
    let req: HttpClientRequest | null = null;
    const outcome = h.fetch(conn, "POST", "/", (r) => {
      req = r;
      r.startBody({ length: 10 });
      r.writeBody("12345");
    });
    await within(bodySeen.promise, 5000, "the first body bytes at the server");
    req!.endBody();
    const short = await outcome;
    assert.equal(short.state, "failed");
    assert.equal(short.kind, "buffer_error");
    assert.equal(short.errorCode, "ERR_REQUEST_BODY");
    await within(server.conns[0].whenClosed, 5000, "the half-sent request's connection to close");

    const long = new HttpClientRequest();
    long.startBody({ length: 3 });
    assert.throws(() => long.writeBody("1234"), RangeError);
    const early = new HttpClientRequest();
    early.startBody({ length: 3 });
    early.writeBody("1");
    assert.throws(() => early.endBody(), RangeError);
    assert.throws(() => new HttpClientRequest().writeBody("x"), TypeError);
  } finally {
    await h.close();
  }
});

test("a body source that throws fails the request with buffer_error, its error as the cause", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => conn.write(response(200)));
    const conn = h.connection({ port: server.port });
    const boom = new Error("disk on fire");
    const source = async function* (): AsyncGenerator<string> {
      yield "some bytes, ";
      await tick(5);
      throw boom;
    };
    const out = await h.fetch(conn, "POST", "/", (r) => r.setBodySource(source()));
    assert.equal(out.kind, "buffer_error");
    assert.equal(out.errorCode, "ERR_REQUEST_BODY");
    assert.equal(out.req.error?.cause, boom);
    assert.match(out.req.error!.message, /disk on fire/);
  } finally {
    await h.close();
  }
});

test("a response that arrives while the body is still uploading ends the request and closes its source", async () => {
  const h = new Harness();
  try {
    let answered: RawConn | null = null;
    const server = await h.server(() => {}, {
      countBodyOnly: true,
      onConnect: (c) => (c.record = false),
      onBody: (c) => {
        if (answered !== null) return;
        answered = c;
        c.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
      },
    });
    let closed = false;
    let produced = 0;
    const endless = async function* (): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          produced += 65536;
          yield new Uint8Array(65536);
          await tick(1);
        }
      } finally {
        closed = true;
      }
    };
    const conn = h.connection({ port: server.port });
    const out = await h.fetch(conn, "PUT", "/too-big", (r) => r.setBodySource(endless()));
    assert.equal(out.state, "complete");
    assert.equal(out.code, 413);
    await until(() => closed, "the source to be closed");
    assert.ok(produced < 64 * 1024 * 1024);
    await within(server.conns[0].whenClosed, 5000, "the connection to close");
  } finally {
    await h.close();
  }
});

test("pauseBody holds the response back without tripping the read timeout, and resumeBody reads on", async () => {
  const clock = new ManualClock();
  const h = new Harness({ clock });
  try {
    const BODY = 3 * 1024 * 1024;
    const server = await h.server((_req, conn) => {
      conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY}\r\n\r\n`);
      conn.write(piece(0, BODY));
    });
    const conn = h.connection({ port: server.port });
    conn.setTimeout({ readMs: 100 });
    let got = 0;
    let whilePaused = 0;
    let paused: HttpClientRequest | null = null;
    const outcome = h.fetch(conn, "GET", "/", (req) =>
      req.setChunkedCb((r) => {
        got += r.inputBuffer.length;
        if (paused !== null) whilePaused++;
        if (paused === null && got < BODY) {
          paused = r;
          r.pauseBody();
        }
      }));
    await until(() => paused !== null, "the first piece");
    const at = got;
    clock.advance(10_000);
    await tick(50);
    assert.equal(got, at, "nothing arrives while paused");
    assert.equal(whilePaused, 0);
    paused!.resumeBody();
    const out = await outcome;
    assert.equal(out.state, "complete");
    assert.equal(got, BODY);
  } finally {
    await h.close();
  }
});

test("a paused response keeps dispatch() running until the request is over", async () => {
  const server = await RawServer.start((_req, conn) => conn.write(response(200, "x".repeat(100_000))));
  try {
    const base = new EventBase({ platform });
    const conn = new HttpConnection(base, { host: "127.0.0.1", port: server.port });
    let got = 0;
    let code = 0;
    const req = new HttpClientRequest((r) => (code = r.responseCode));
    req.setChunkedCb((r) => {
      got += r.inputBuffer.length;
      if (got < 100_000) {
        r.pauseBody();
        setTimeout(() => r.resumeBody(), 5);
      }
    });
    req.setOnCompleteCb(() => conn.free());
    conn.makeRequest(req, "GET", "/");
    await within(base.dispatch(), 10000, "dispatch to return");
    assert.equal(code, 200);
    assert.equal(got, 100_000);
  } finally {
    await server.close();
  }
});
