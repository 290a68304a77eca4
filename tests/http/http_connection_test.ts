// HttpConnection (libevent's evhttp_connection on the client side): keep-alive,
// queueing and pipelining, retries, timeouts, close detection, framing of
// responses, malformed responses, cancellation, against raw-socket servers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EV_READ, ManualClock } from "../../src/event/mod.ts";
import { BufferEvent } from "../../src/buffer/bufferevent.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { type HostResolver, HttpConnection } from "../../src/http/http_connection.ts";
import { type HttpClientErrorKind, HttpClientRequest } from "../../src/http/http_client_request.ts";
import type { LookupAddress, Platform, TcpSocket } from "../../src/platform.ts";
import {
  BROKEN_BODIES,
  closedPort,
  Harness,
  platform,
  response,
  ScriptedServer,
  type SeenRequest,
  tick,
  until,
} from "./client_util.ts";
import { deferred, within } from "../util.ts";

test("several requests on one HttpConnection share one TCP connection (keep-alive)", async () => {
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => conn.write(response(200, `you asked for ${req.head.target}`)));
    const conn = h.connection({ port: server.port });
    for (const path of ["/a", "/b", "/c"]) {
      const out = await h.fetch(conn, "GET", path);
      assert.equal(out.state, "complete");
      assert.equal(out.code, 200);
      assert.equal(out.body, `you asked for ${path}`);
    }
    assert.equal(server.conns.length, 1);
    assert.equal(server.conns[0].requests.length, 3);
    assert.equal(conn.state, "idle");
  } finally {
    await h.close();
  }
});

test("requests made while one is on the wire wait their turn and are answered in order", async () => {
  const h = new Harness();
  try {
    let sent = 0;
    let early = 0;
    const server = await h.server((req, conn) => {
      // Without pipelining, request k may only arrive once k responses went out.
      if (conn.requests.length - 1 !== sent) early++;
      setTimeout(() => {
        sent++;
        conn.write(response(200, req.head.target));
      }, 15);
    });
    const conn = h.connection({ port: server.port });
    const outs = await Promise.all(["/1", "/2", "/3"].map((p) => h.fetch(conn, "GET", p)));
    assert.deepEqual(outs.map((o) => o.body), ["/1", "/2", "/3"]);
    assert.equal(early, 0);
    assert.equal(server.conns.length, 1);
  } finally {
    await h.close();
  }
});

test("with pipelining, queued requests go out before the first response comes back", async () => {
  const h = new Harness();
  try {
    // This server answers only once it holds all three requests: without pipelining it would wait forever.
    const server = await h.server((_req, conn) => {
      if (conn.requests.length < 3) return;
      for (const r of conn.requests) conn.write(response(200, r.head.target));
    });
    const conn = h.connection({ port: server.port });
    conn.setPipelining(true);
    const outs = await Promise.all(["/x", "/y", "/z"].map((p) => h.fetch(conn, "GET", p)));
    assert.deepEqual(outs.map((o) => o.body), ["/x", "/y", "/z"]);
    assert.equal(server.conns.length, 1);
  } finally {
    await h.close();
  }
});

test("a server that closes an idle keep-alive connection is noticed, and the next request connects anew", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      conn.write(response(200, "once"));
      conn.end();
    });
    const conn = h.connection({ port: server.port });
    let closes = 0;
    conn.setCloseCb(() => closes++);
    assert.equal((await h.fetch(conn, "GET", "/")).body, "once");
    await until(() => conn.state === "disconnected", "the idle close to be noticed");
    assert.equal(closes, 1);
    const again = await h.fetch(conn, "GET", "/");
    assert.equal(again.state, "complete");
    assert.equal(again.body, "once");
    assert.equal(server.conns.length, 2);
  } finally {
    await h.close();
  }
});

test("a GET that meets the close of a reused connection before any answer is sent once more on a fresh one", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      // The first connection answers one request, then drops the next without a word (the keep-alive race).
      if (conn.index === 0 && conn.requests.length === 2) conn.close();
      else conn.write(response(200, `conn ${conn.index}`));
    });
    const conn = h.connection({ port: server.port });
    assert.equal((await h.fetch(conn, "GET", "/")).body, "conn 0");
    const second = await h.fetch(conn, "GET", "/");
    assert.equal(second.state, "complete");
    assert.equal(second.body, "conn 1");
    assert.equal(server.conns[0].requests.length, 2);
    assert.equal(server.conns[1].requests.length, 1);
  } finally {
    await h.close();
  }
});

test("a POST that meets the close of a reused connection before any answer fails with eof instead of being sent twice", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      if (conn.requests.length === 2) conn.close();
      else conn.write(response(200, "ok"));
    });
    const conn = h.connection({ port: server.port });
    assert.equal((await h.fetch(conn, "GET", "/")).code, 200);
    const post = await h.fetch(conn, "POST", "/submit", (req) => req.outputBuffer.addString("data"));
    assert.equal(post.state, "failed");
    assert.equal(post.kind, "eof");
    assert.equal(post.errorCode, "ERR_CONNECTION_CLOSED");
    await tick(30);
    assert.equal(server.conns.length, 1);
  } finally {
    await h.close();
  }
});

test("a server that closes a fresh connection without answering fails the request with eof, without a retry", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => conn.close());
    const conn = h.connection({ port: server.port });
    let called = 0;
    const out = await h.fetch(conn, "GET", "/", (req) => {
      req.setErrorCb(() => called++);
    });
    assert.equal(out.kind, "eof");
    assert.equal(out.errorCode, "ERR_CONNECTION_CLOSED");
    assert.equal(out.code, 0);
    assert.equal(called, 1);
    assert.equal(server.conns.length, 1);
  } finally {
    await h.close();
  }
});

test("a refused connection is retried with a doubling delay, then reaches the error callback, not an exception", async () => {
  const clock = new ManualClock();
  let connects = 0;
  const counting: Platform = {
    ...platform,
    connect: (o) => {
      connects++;
      return platform.connect(o);
    },
  };
  const h = new Harness({ clock, platform: counting });
  try {
    const port = await closedPort();
    const conn = h.connection({ port });
    conn.setRetries(2);
    conn.setInitialRetryDelay(100);
    const kinds: HttpClientErrorKind[] = [];
    const outcome = h.fetch(conn, "GET", "/", (req) => req.setErrorCb((kind) => kinds.push(kind)));
    await until(() => conn.state === "retry_wait", "the first refusal");
    assert.equal(connects, 1);
    clock.advance(99);
    assert.equal(connects, 1);
    clock.advance(1);
    assert.equal(connects, 2);
    await until(() => conn.state === "retry_wait", "the second refusal");
    clock.advance(199);
    assert.equal(connects, 2, "the second retry waits twice as long");
    clock.advance(1);
    assert.equal(connects, 3);
    const out = await outcome;
    assert.equal(out.state, "failed");
    assert.equal(out.kind, "eof");
    assert.equal(out.errorCode, "ERR_CONNECT");
    assert.equal((out.req.error?.cause as { code?: string }).code, "ECONNREFUSED");
    assert.deepEqual(kinds, ["eof"]);
    assert.equal(out.cbCalls, 1);
    assert.equal(out.code, 0);
    assert.equal(conn.state, "disconnected");
  } finally {
    await h.close();
  }
});

test("the request callback runs after the error callback when a connection is refused", async () => {
  const h = new Harness();
  try {
    const conn = h.connection({ port: await closedPort() });
    const order: string[] = [];
    const done = deferred();
    const req = new HttpClientRequest((r) => {
      order.push(`cb ${r.responseCode} ${r.error?.code}`);
    });
    req.setErrorCb((kind) => order.push(`error ${kind}`));
    req.setOnCompleteCb(() => done.resolve());
    conn.makeRequest(req, "GET", "/");
    await within(done.promise, 5000, "the failure");
    assert.deepEqual(order, ["error eof", "cb 0 ERR_CONNECT"]);
  } finally {
    await h.close();
  }
});

test("a connect that never completes times out with the timeout kind", async () => {
  const clock = new ManualClock();
  const stuck: Platform = { ...platform, connect: () => new Promise<TcpSocket>(() => {}) };
  const h = new Harness({ clock, platform: stuck });
  try {
    const conn = h.connection({ port: 9 });
    conn.setTimeout({ connectMs: 1000 });
    const outcome = h.fetch(conn, "GET", "/");
    await until(() => conn.state === "connecting", "connecting");
    clock.advance(999);
    await tick();
    assert.equal(conn.state, "connecting");
    clock.advance(1);
    const out = await outcome;
    assert.equal(out.kind, "timeout");
    assert.equal(out.errorCode, "ERR_TIMEOUT");
    assert.equal(out.req.error?.status, 504);
  } finally {
    await h.close();
  }
});

test("a server that never answers trips the read timeout", async () => {
  const clock = new ManualClock();
  const h = new Harness({ clock });
  try {
    const server = await h.server(() => {});
    const conn = h.connection({ port: server.port });
    conn.setTimeout({ readMs: 500 });
    let req: HttpClientRequest | null = null;
    const outcome = h.fetch(conn, "GET", "/slow", (r) => (req = r));
    await until(() => req?.state === "waiting" && server.conns[0]?.requests.length === 1, "the request to be sent");
    clock.advance(499);
    await tick();
    assert.equal(req!.state, "waiting");
    clock.advance(1);
    const out = await outcome;
    assert.equal(out.kind, "timeout");
    assert.equal(out.errorCode, "ERR_TIMEOUT");
    await within(server.conns[0].whenClosed, 5000, "the timed-out connection to close");
  } finally {
    await h.close();
  }
});

test("an idle keep-alive connection outlives the read timeout meant for requests (libevent #1781)", async () => {
  const clock = new ManualClock();
  const h = new Harness({ clock });
  try {
    const server = await h.server((_req, conn) => conn.write(response(200, "hi")));
    const conn = h.connection({ port: server.port });
    conn.setTimeout({ readMs: 500 });
    assert.equal((await h.fetch(conn, "GET", "/")).code, 200);
    clock.advance(60_000);
    await tick(20);
    assert.equal(conn.state, "idle");
    assert.equal(server.conns[0].closed, false);
    const again = await h.fetch(conn, "GET", "/");
    assert.equal(again.code, 200);
    assert.equal(server.conns.length, 1);
  } finally {
    await h.close();
  }
});

test("a response without Content-Length is read until the server closes the connection", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      conn.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ");
      setTimeout(() => {
        conn.write("second part");
        setTimeout(() => conn.end(), 10);
      }, 10);
    });
    const conn = h.connection({ port: server.port });
    const out = await h.fetch(conn, "GET", "/");
    assert.equal(out.state, "complete");
    assert.equal(out.body, "first part, second part");
    assert.equal((await h.fetch(conn, "GET", "/")).body, "first part, second part");
    assert.equal(server.conns.length, 2);
  } finally {
    await h.close();
  }
});

test("HEAD, 204 and 304 responses have no body, and the connection carries on after them", async () => {
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => {
      if (req.head.method === "HEAD") conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
      else if (req.head.target === "/204") conn.write("HTTP/1.1 204 No Content\r\n\r\n");
      else if (req.head.target === "/304") conn.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n");
      else conn.write(response(200, "after"));
    });
    const conn = h.connection({ port: server.port });
    const head = await h.fetch(conn, "HEAD", "/");
    assert.deepEqual([head.state, head.code, head.body], ["complete", 200, ""]);
    assert.equal(head.req.inputHeaders.get("content-length"), "100");
    const noContent = await h.fetch(conn, "GET", "/204");
    assert.deepEqual([noContent.code, noContent.body], [204, ""]);
    const notModified = await h.fetch(conn, "GET", "/304");
    assert.deepEqual([notModified.code, notModified.body], [304, ""]);
    assert.equal((await h.fetch(conn, "GET", "/")).body, "after");
    assert.equal(server.conns.length, 1);
  } finally {
    await h.close();
  }
});

test("malformed responses fail with a clear error kind and code, through the callbacks", async () => {
  const cases: Array<{
    name: string;
    reply: string;
    kind: HttpClientErrorKind;
    code: string;
    setup?: (conn: HttpConnection) => void;
    end?: boolean;
  }> = [
    { name: "bad status line", reply: "HTTP/1.1 2x0 OK\r\n\r\n", kind: "invalid_header", code: "ERR_BAD_STATUS_LINE" },
    { name: "garbage", reply: "hello there\r\n\r\n", kind: "invalid_header", code: "ERR_BAD_STATUS_LINE" },
    {
      name: "field line without colon",
      reply: "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
      kind: "invalid_header",
      code: "ERR_INVALID_HEADER",
    },
    {
      name: "bad chunk size",
      reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      kind: "invalid_header",
      code: "ERR_INVALID_CHUNK",
    },
    {
      name: "Transfer-Encoding with Content-Length",
      reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      kind: "invalid_header",
      code: "ERR_SMUGGLING",
    },
    { name: "HTTP/2 status line", reply: "HTTP/2.0 200 OK\r\n\r\n", kind: "invalid_header", code: "ERR_VERSION" },
    {
      name: "header over the limit",
      reply: `HTTP/1.1 200 OK\r\nX-Big: ${"x".repeat(200)}\r\n\r\n`,
      kind: "data_too_long",
      code: "ERR_HEADER_TOO_LARGE",
      setup: (c) => c.setMaxHeadersSize(100),
    },
    {
      name: "body over the limit",
      reply: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
      kind: "data_too_long",
      code: "ERR_BODY_TOO_LARGE",
      setup: (c) => c.setMaxBodySize(4),
    },
    {
      name: "chunked body over the limit",
      reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
      kind: "data_too_long",
      code: "ERR_BODY_TOO_LARGE",
      setup: (c) => c.setMaxBodySize(4),
    },
    {
      name: "body cut short",
      reply: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
      kind: "eof",
      code: "ERR_INCOMPLETE",
      end: true,
    },
  ];
  const h = new Harness();
  try {
    for (const c of cases) {
      const server = await h.server((_req, conn) => {
        conn.write(c.reply);
        if (c.end) conn.end();
      });
      const conn = h.connection({ port: server.port });
      c.setup?.(conn);
      const kinds: HttpClientErrorKind[] = [];
      const out = await h.fetch(conn, "GET", "/", (req) => req.setErrorCb((kind) => kinds.push(kind)));
      assert.equal(out.state, "failed", c.name);
      assert.deepEqual(kinds, [c.kind], c.name);
      assert.equal(out.cbCalls, 1, c.name);
      assert.equal(out.kind, c.kind, c.name);
      assert.equal(out.errorCode, c.code, c.name);
      assert.ok(out.req.error instanceof HttpError, c.name);
      assert.ok(out.req.error!.message.length > 0, c.name);
      await within(server.conns[0].whenClosed, 5000, `${c.name}: the connection to close`);
    }
  } finally {
    await h.close();
  }
});

test("a body cut short (close, reset) or malformed (chunk framing) fails the request after the chunked callback got the bytes that came whole", async () => {
  const latin1 = new TextDecoder("latin1");
  const h = new Harness();
  try {
    for (const c of BROKEN_BODIES) {
      const server = await ScriptedServer.start(c.bytes, c.ending);
      try {
        const conn = h.connection({ port: server.port });
        let body = "";
        const kinds: HttpClientErrorKind[] = [];
        const out = await h.fetch(conn, "GET", "/", (req) => {
          req.setChunkedCb((r) => (body += latin1.decode(r.inputBuffer.pullup())));
          req.setErrorCb((kind) => kinds.push(kind));
        });
        assert.equal(out.state, "failed", c.name);
        assert.equal(out.code, 200, c.name);
        assert.equal(body, c.body, c.name);
        assert.deepEqual(kinds, [c.kind], c.name);
        assert.equal(out.cbCalls, 1, c.name);
        assert.equal(out.errorCode, c.code, c.name);
        assert.ok(out.req.error instanceof HttpError, c.name);
        assert.match(out.req.error!.message, c.message, c.name);
        assert.equal(out.req.error!.status, 502, c.name);
      } finally {
        await server.close();
      }
    }
  } finally {
    await h.close();
  }
});

test("cancelling a request mid-body resets the connection; the error callback hears request_cancel, the request callback nothing", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    });
    const conn = h.connection({ port: server.port });
    const seen: string[] = [];
    const done = deferred<HttpClientRequest>();
    const req = new HttpClientRequest(() => seen.push("cb"));
    req.setChunkedCb((r) => {
      seen.push(`chunk ${new TextDecoder().decode(r.inputBuffer.pullup())}`);
      r.cancel();
    });
    req.setErrorCb((kind) => seen.push(`error ${kind}`));
    req.setOnCompleteCb((r) => done.resolve(r));
    conn.makeRequest(req, "GET", "/stream");
    const r = await within(done.promise, 5000, "the cancellation");
    assert.deepEqual(seen, ["chunk hello", "error request_cancel"]);
    assert.equal(r.state, "cancelled");
    assert.equal(r.error?.code, "ERR_CANCELLED");
    await within(server.conns[0].whenClosed, 5000, "the server's socket to close");
    assert.equal(conn.state, "disconnected");
  } finally {
    await h.close();
  }
});

test("a queued request can be cancelled before it is sent", async () => {
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => setTimeout(() => conn.write(response(200, req.head.target)), 10));
    const conn = h.connection({ port: server.port });
    const first = h.fetch(conn, "GET", "/first");
    let second: HttpClientRequest | null = null;
    const secondOut = h.fetch(conn, "GET", "/second", (r) => (second = r));
    second!.cancel();
    const out2 = await secondOut;
    assert.equal(out2.state, "cancelled");
    assert.equal(out2.cbCalls, 0);
    assert.equal((await first).body, "/first");
    await tick(30);
    assert.deepEqual(server.conns[0].requests.map((r) => r.head.target), ["/first"]);
    assert.equal(conn.state, "idle");
  } finally {
    await h.close();
  }
});

test("the header callback aborts a request by returning false or an Error", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => conn.write(response(403, "no")));
    for (const verdict of [false, new Error("forbidden here")]) {
      const conn = h.connection({ port: server.port });
      let status = 0;
      const out = await h.fetch(conn, "GET", "/", (req) =>
        req.setHeaderCb((r) => {
          status = r.responseCode;
          return verdict;
        }));
      assert.equal(status, 403);
      assert.equal(out.state, "cancelled");
      assert.equal(out.kind, "request_cancel");
      assert.equal(out.errorCode, "ERR_CANCELLED");
      if (verdict instanceof Error) assert.equal(out.req.error?.cause, verdict);
    }
  } finally {
    await h.close();
  }
});

test("a chunked response reaches the chunked callback piece by piece, drained after each, with its trailers", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => {
      conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n");
      setTimeout(() => conn.write("4\r\ndefg\r\n"), 20);
      setTimeout(() => conn.write("0\r\nX-Sum: 7\r\n\r\n"), 40);
    });
    const conn = h.connection({ port: server.port });
    const pieces: string[] = [];
    const out = await h.fetch(
      conn,
      "GET",
      "/",
      (req) => req.setChunkedCb((r) => pieces.push(new TextDecoder().decode(r.inputBuffer.pullup()))),
    );
    assert.equal(out.state, "complete");
    assert.deepEqual(pieces, ["abc", "defg"]);
    assert.equal(out.req.inputBuffer.length, 0);
    assert.equal(out.req.inputTrailers?.get("x-sum"), "7");
    assert.equal(out.req.inputHeaders.get("Trailer"), "X-Sum");
  } finally {
    await h.close();
  }
});

test("an interim 100 Continue response is skipped for the final one", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => conn.write("HTTP/1.1 100 Continue\r\n\r\n" + response(201, "made")));
    const conn = h.connection({ port: server.port });
    const out = await h.fetch(conn, "POST", "/things", (r) => r.outputBuffer.addString("x"));
    assert.deepEqual([out.code, out.body, out.req.responseReason], [201, "made", "Status"]);
  } finally {
    await h.close();
  }
});

test("Connection: close from the server, or asked for by the request, makes the next request use a new connection", async () => {
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => {
      conn.write(response(200, "x", req.head.target === "/server-closes" ? ["Connection: close"] : []));
    });
    const conn = h.connection({ port: server.port });
    await h.fetch(conn, "GET", "/server-closes");
    await h.fetch(conn, "GET", "/");
    assert.equal(server.conns.length, 2);
    await h.fetch(conn, "GET", "/", (r) => r.outputHeaders.set("Connection", "close"));
    await h.fetch(conn, "GET", "/");
    assert.equal(server.conns.length, 3);
  } finally {
    await h.close();
  }
});

test("a pipelined GET behind a response that closes the connection is sent again on a new one", async () => {
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => {
      if (conn.index === 0) {
        if (conn.requests.length === 1) {
          conn.write(response(200, "first", ["Connection: close"]));
          conn.end();
        }
        return;
      }
      conn.write(response(200, `again ${req.head.target}`));
    });
    const conn = h.connection({ port: server.port });
    conn.setPipelining(true);
    const [a, b] = await Promise.all([h.fetch(conn, "GET", "/1"), h.fetch(conn, "GET", "/2")]);
    assert.equal(a.body, "first");
    assert.equal(b.body, "again /2");
    assert.equal(server.conns.length, 2);
  } finally {
    await h.close();
  }
});

test("free() cancels queued and in-flight requests and runs the close callback", async () => {
  const h = new Harness();
  try {
    const server = await h.server(() => {});
    const conn = h.connection({ port: server.port });
    let closes = 0;
    conn.setCloseCb(() => closes++);
    let first: HttpClientRequest | null = null;
    const a = h.fetch(conn, "GET", "/a", (r) => (first = r));
    const b = h.fetch(conn, "GET", "/b");
    await until(() => first?.state === "waiting", "the first request to be sent");
    conn.free();
    const [outA, outB] = await Promise.all([a, b]);
    assert.deepEqual([outA.state, outA.kind, outB.state, outB.kind], [
      "cancelled",
      "request_cancel",
      "cancelled",
      "request_cancel",
    ]);
    assert.equal(closes, 1);
    assert.equal(conn.state, "freed");
    assert.throws(() => conn.makeRequest(new HttpClientRequest(), "GET", "/"), {
      name: "LeventError",
      code: "ERR_FREED",
      message: "makeRequest: the HttpConnection was freed",
    });
    await within(server.conns[0].whenClosed, 5000, "the socket to close");
  } finally {
    await h.close();
  }
});

test("freeOnCompletion frees the connection once its last request is done", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => conn.write(response(200, "bye")));
    const conn = h.connection({ port: server.port });
    const outs = Promise.all([h.fetch(conn, "GET", "/1"), h.fetch(conn, "GET", "/2")]);
    conn.freeOnCompletion();
    assert.deepEqual((await outs).map((o) => o.body), ["bye", "bye"]);
    assert.equal(conn.state, "freed");
    await within(server.conns[0].whenClosed, 5000, "the socket to close");
  } finally {
    await h.close();
  }
});

test("setLocalAddress and setLocalPort bind the connection's local end; the server sees the request come from there", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, c) => c.write(response(200, "from afar")));
    // A port free on 127.0.0.2 a moment ago (127.0.0.0/8 is all loopback on Linux).
    const probe = await platform.listen({ host: "127.0.0.2", port: 0 }, (s) => s.close());
    const localPort = probe.address.port;
    await probe.close();
    const conn = h.connection({ port: server.port });
    conn.setLocalAddress("127.0.0.2");
    conn.setLocalPort(localPort);
    const out = await h.fetch(conn, "GET", "/");
    assert.equal(out.body, "from afar");
    const peer = server.conns[0].socket.remoteAddress;
    assert.equal(peer.host, "127.0.0.2");
    assert.equal(peer.port, localPort);
  } finally {
    await h.close();
  }
});

test("a local address the machine lacks fails the request through the error callback, not a throw", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, c) => c.write(response(200, "unreachable")));
    const conn = h.connection({ port: server.port });
    // 192.0.2.0/24 is TEST-NET-1: no interface here has it.
    conn.setLocalAddress("192.0.2.1");
    const out = await h.fetch(conn, "GET", "/");
    assert.equal(out.state, "failed");
    assert.equal(out.errorCode, "ERR_CONNECT");
    assert.equal(server.conns.length, 0);
  } finally {
    await h.close();
  }
});

test("setLocalAddress and setLocalPort reject bad arguments with errors naming them", () => {
  const h = new Harness();
  try {
    const conn = h.connection({ port: 80 });
    for (const bad of ["localhost", "", 7, undefined]) {
      assert.throws(
        () => conn.setLocalAddress(bad as string),
        (e: unknown) => e instanceof TypeError && /address/.test(e.message),
      );
    }
    conn.setLocalAddress("::1");
    conn.setLocalAddress(null);
    for (const bad of [-1, 65536, 1.5, NaN]) {
      assert.throws(
        () => conn.setLocalPort(bad),
        (e: unknown) => e instanceof RangeError && /port/.test(e.message),
      );
    }
    // A value of the wrong type is a TypeError, quoted with its type.
    assert.throws(
      () => conn.setLocalPort("http" as unknown as number),
      (e: unknown) => e instanceof TypeError && /^port must be .*, got "http" \(a string\)$/.test(e.message),
    );
    // A string of digits is a port, as node:net takes it.
    conn.setLocalPort("8080" as unknown as number);
    conn.setLocalPort(0);
  } finally {
    void h.close();
  }
});

test("setFamily(4) resolves the host through the platform's lookup for IPv4", async () => {
  const lookups: Array<[string, number | undefined]> = [];
  const looking: Platform = {
    ...platform,
    lookup: (host, family): Promise<LookupAddress[]> => {
      lookups.push([host, family]);
      return Promise.resolve([{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }]);
    },
  };
  const h = new Harness({ platform: looking });
  try {
    const server = await h.server((_req, conn) => conn.write(response(200, "v4")));
    const conn = h.connection({ host: "my-service.test", port: server.port });
    conn.setFamily(4);
    const out = await h.fetch(conn, "GET", "/");
    assert.equal(out.body, "v4");
    assert.deepEqual(lookups, [["my-service.test", 4]]);
    assert.equal(server.conns[0].requests[0].header("host"), `my-service.test:${server.port}`);
    assert.throws(() => conn.setFamily(5 as 4), RangeError);
  } finally {
    await h.close();
  }
});

test("options.dns resolves the host for every connect instead of the platform; its failure reaches the error callback", async () => {
  const asked: Array<[string, number | undefined]> = [];
  const dns: HostResolver = {
    lookup(host, family) {
      asked.push([host, family]);
      if (host === "api.example.test") return Promise.resolve([{ address: "127.0.0.1", family: 4 }]);
      const err = new Error(`${host} not found`) as Error & { code: string };
      err.code = "ENOTFOUND";
      return Promise.reject(err);
    },
  };
  const refusing: Platform = {
    ...platform,
    lookup: () => Promise.reject(new Error("the platform's lookup must not be used")),
  };
  const h = new Harness({ platform: refusing });
  try {
    const server = await h.server((_req, conn) => conn.write(response(200, "resolved", ["Connection: close"])));
    const conn = h.connection({ host: "api.example.test", port: server.port, dns });
    assert.equal((await h.fetch(conn, "GET", "/one")).body, "resolved");
    // The server closed: the next request connects again, and looks the name up again.
    assert.equal((await h.fetch(conn, "GET", "/two")).body, "resolved");
    assert.deepEqual(asked, [["api.example.test", 0], ["api.example.test", 0]]);
    assert.equal(server.conns[0].requests[0].header("host"), `api.example.test:${server.port}`);

    const lost = h.connection({ host: "nowhere.example.test", port: server.port, dns });
    const out = await h.fetch(lost, "GET", "/");
    assert.equal(out.state, "failed");
    assert.equal(out.errorCode, "ERR_CONNECT");
    assert.equal((out.req.error?.cause as { code?: string }).code, "ENOTFOUND");

    // A resolver that throws instead of rejecting fails the request the same way.
    const throwing = h.connection({
      host: "api.example.test",
      port: server.port,
      dns: {
        lookup() {
          throw new Error("resolver broke");
        },
      },
    });
    assert.equal((await h.fetch(throwing, "GET", "/")).errorCode, "ERR_CONNECT");
    assert.throws(
      () => h.connection({ port: server.port, dns: {} as HostResolver }),
      (e: unknown) => e instanceof TypeError && /dns/.test(e.message),
    );
  } finally {
    await h.close();
  }
});

test("a request head larger than a segment, with its body, reaches the server whole", async () => {
  const h = new Harness();
  try {
    const server = await h.server((_req, conn) => conn.write(response(200, "ok")));
    const value = (i: number): string => "v".repeat(200) + i;
    const out = await h.fetch(h.connection({ port: server.port }), "POST", "/" + "p".repeat(2000), (r) => {
      for (let i = 0; i < 40; i++) r.outputHeaders.add(`X-Big-${i}`, value(i));
      r.outputBuffer.addString("the body");
    });
    assert.equal(out.body, "ok");
    const seen = server.conns[0].requests[0];
    assert.equal(seen.head.target, "/" + "p".repeat(2000));
    for (let i = 0; i < 40; i++) assert.equal(seen.header(`x-big-${i}`), value(i));
    assert.equal(new TextDecoder().decode(seen.body), "the body");
  } finally {
    await h.close();
  }
});

test("makeRequest writes Host and Content-Length, keeps Latin-1 field values, and throws on bad input", async () => {
  const h = new Harness();
  try {
    const seen: SeenRequest[] = [];
    const server = await h.server((req, conn) => {
      seen.push(req);
      conn.write(response(200, "ok"));
    });
    const conn = h.connection({ port: server.port });
    await h.fetch(conn, "POST", "/empty");
    await h.fetch(conn, "GET", "/named", (r) => {
      r.outputHeaders.set("Host", "virtual.example");
      r.outputHeaders.set("X-Name", "caf\u00e9");
    });
    await h.fetch(conn, "PUT", "/body", (r) => r.outputBuffer.addString("12345"));
    assert.equal(seen[0].header("content-length"), "0");
    assert.equal(seen[0].header("host"), `127.0.0.1:${server.port}`);
    assert.equal(seen[1].header("host"), "virtual.example");
    assert.equal(seen[1].header("content-length"), null);
    assert.ok(server.conns[0].received.includes("X-Name: caf\u00e9\r\n"));
    assert.equal(seen[2].header("content-length"), "5");
    assert.equal(new TextDecoder().decode(seen[2].body), "12345");

    assert.throws(() => conn.makeRequest(new HttpClientRequest(), "GE T", "/"), TypeError);
    assert.throws(() => conn.makeRequest(new HttpClientRequest(), "GET", "/a b"), TypeError);
    assert.throws(() => conn.makeRequest(new HttpClientRequest(), "GET", ""), TypeError);
    const mismatch = new HttpClientRequest();
    mismatch.outputHeaders.set("Content-Length", "3");
    mismatch.outputBuffer.addString("12345");
    assert.throws(() => conn.makeRequest(mismatch, "POST", "/"), RangeError);
    const gzip = new HttpClientRequest();
    gzip.outputHeaders.set("Transfer-Encoding", "gzip");
    assert.throws(() => conn.makeRequest(gzip, "POST", "/"), TypeError);
    const used = (await h.fetch(conn, "GET", "/")).req;
    assert.throws(() => conn.makeRequest(used, "GET", "/"), TypeError);
    assert.throws(() => new HttpConnection(h.base, { host: "b\u00fccher.example" }), TypeError);
    assert.throws(() => new HttpConnection(h.base, { host: "a.example", port: 70000 }), RangeError);
  } finally {
    await h.close();
  }
});

test("a given BufferEvent (a pair end) carries the connection", async () => {
  const h = new Harness();
  try {
    const [near, far] = BufferEvent.pair(h.base);
    let text = "";
    far.setCallbacks(
      (b) => {
        text += new TextDecoder().decode(b.read());
        if (text.endsWith("\r\n\r\n")) far.write(response(200, "over a pair"));
      },
      null,
      null,
    );
    far.enable(EV_READ);
    const conn = new HttpConnection(h.base, { host: "pair.example", bufferEvent: near });
    const out = await h.fetch(conn, "GET", "/p");
    assert.equal(out.body, "over a pair");
    assert.ok(text.startsWith("GET /p HTTP/1.1\r\nHost: pair.example\r\n"));
    conn.free();
    far.free();
  } finally {
    await h.close();
  }
});

test("an https connection goes through the platform's TLS, checking the server's certificate", async () => {
  const fixtures = new URL("../fixtures/", import.meta.url);
  const tls = {
    cert: readFileSync(new URL("cert.pem", fixtures), "utf8"),
    key: readFileSync(new URL("key.pem", fixtures), "utf8"),
  };
  const h = new Harness();
  try {
    const server = await h.server((req, conn) => conn.write(response(200, `secure ${req.head.target}`)), { tls });
    const conn = h.connection({ host: "localhost", port: server.port, tls: { caCerts: [tls.cert] } });
    conn.setFamily(4);
    const out = await h.fetch(conn, "GET", "/s");
    assert.equal(out.body, "secure /s");
    assert.equal(server.conns[0].requests[0].header("host"), `localhost:${server.port}`);
    assert.equal((await h.fetch(conn, "GET", "/again")).body, "secure /again");
    assert.equal(server.conns.length, 1);

    const untrusted = h.connection({ host: "127.0.0.1", port: server.port, tls: {} });
    const failed = await h.fetch(untrusted, "GET", "/");
    assert.equal(failed.kind, "eof");
    assert.equal(failed.errorCode, "ERR_CONNECT");
  } finally {
    await h.close();
  }
});

test("the client turns Nagle off on each connection it makes, so a body written after its head does not wait for a delayed ACK", async () => {
  const noDelay: boolean[] = [];
  const spying: Platform = {
    ...platform,
    name: platform.name,
    connect: async (options) => {
      const socket = await platform.connect(options);
      const original = socket.setNoDelay.bind(socket);
      socket.setNoDelay = (on: boolean) => {
        noDelay.push(on);
        original(on);
      };
      return socket;
    },
  };
  const h = new Harness({ platform: spying as typeof platform });
  try {
    const server = await h.server((_req, conn) => conn.write(response(200, "ok")));
    const conn = h.connection({ port: server.port });
    const out = await h.fetch(conn, "POST", "/", (req) => req.outputBuffer.addString("a body"));
    assert.equal(out.code, 200);
    assert.deepEqual(noDelay, [true]);
  } finally {
    await h.close();
  }
});
