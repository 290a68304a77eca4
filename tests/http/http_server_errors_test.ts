import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/event/mod.ts";
import { HttpError, type HttpServerRequest } from "../../src/http/mod.ts";
import { deferred, printedBy, sleep, within } from "../util.ts";
import { get, RawClient, splitResponses, startServer, type TestServer } from "./server_helpers.ts";

/** Send `request` on a fresh connection; return the one response and check the connection was closed after it. */
async function answerAndClose(
  port: number,
  request: string,
): Promise<ReturnType<typeof splitResponses>["responses"][0]> {
  const c = await RawClient.connect(port);
  c.send(request);
  await c.waitEnd();
  const { responses } = splitResponses(c.text, [], true);
  assert.equal(responses.length, 1, `one response to ${JSON.stringify(request.slice(0, 60))}: ${c.text}`);
  return responses[0];
}

test("a malformed request gets 400 and its connection closed, while a request in flight elsewhere is served", async () => {
  const held = deferred<HttpServerRequest>();
  const s = await startServer((server) => server.setGenCb((req) => held.resolve(req)));
  try {
    const a = await RawClient.connect(s.port);
    a.send(get("/"));
    const req = await within(held.promise, 5000, "the held request");
    const r = await answerAndClose(s.port, "GET /x HTTP/1.1 extra\r\nHost: t\r\n\r\n");
    assert.equal(r.status, 400);
    assert.equal(r.headers.connection, "close");
    assert.equal(r.headers["content-type"], "text/html");
    assert.equal(
      r.body,
      "<HTML><HEAD>\n<TITLE>400 Bad Request</TITLE>\n</HEAD><BODY>\n<H1>Bad Request</H1>\n</BODY></HTML>\n",
    );
    req.sendReply(200, "OK", "fine");
    assert.equal((await a.responses(1))[0].body, "fine");
    a.close();
  } finally {
    await s.stop();
  }
});

test("each protocol error is answered with its status and the connection is closed", async () => {
  const s = await startServer((server) => server.setGenCb((req) => req.sendReply(200, "OK", "served")), {
    maxBodySize: 100,
  });
  const cases: [string, number][] = [
    ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
    ["GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400],
    [`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414],
    [`GET / HTTP/1.1\r\nHost: t\r\nX: ${"v".repeat(17000)}\r\n\r\n`, 431],
    ["POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413],
    ["POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 501],
    ["TRACE / HTTP/1.1\r\nHost: t\r\n\r\n", 405],
    ["GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505],
  ];
  try {
    for (const [request, status] of cases) {
      const r = await answerAndClose(s.port, request);
      assert.equal(r.status, status, JSON.stringify(request.slice(0, 70)));
      assert.equal(r.headers.connection, "close");
    }
    const ok = await RawClient.connect(s.port);
    ok.send(get("/"));
    assert.equal((await ok.responses(1))[0].body, "served");
    ok.close();
  } finally {
    await s.stop();
  }
});

test("405 lists the allowed methods in Allow, and setAllowedMethods admits custom ones", async () => {
  const s = await startServer((server) => {
    server.setAllowedMethods(["GET", "PROPFIND"]);
    server.setGenCb((req) => req.sendReply(200, "OK", req.method));
  });
  try {
    const r = await answerAndClose(s.port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "GET, PROPFIND");
    const c = await RawClient.connect(s.port);
    c.send("PROPFIND / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert.equal((await c.responses(1))[0].body, "PROPFIND");
    c.close();
    assert.equal((await answerAndClose(s.port, "MKCOL / HTTP/1.1\r\nHost: t\r\n\r\n")).status, 501);
    assert.throws(() => s.server.setAllowedMethods(["GET POST"]), TypeError);
  } finally {
    await s.stop();
  }
});

test("a head of exactly maxHeadersSize bytes is served and one byte more gets 431", async () => {
  const LIMIT = 256;
  const s = await startServer((server) => server.setGenCb((req) => req.sendReply(200, "OK", "ok")), {
    maxHeadersSize: LIMIT,
  });
  const head = (size: number): string => {
    const start = "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ";
    return start + "p".repeat(size - start.length - 4) + "\r\n\r\n";
  };
  try {
    assert.equal(head(LIMIT).length, LIMIT);
    const c = await RawClient.connect(s.port);
    c.send(head(LIMIT));
    assert.equal((await c.responses(1))[0].status, 200);
    c.close();
    assert.equal((await answerAndClose(s.port, head(LIMIT + 1))).status, 431);
  } finally {
    await s.stop();
  }
});

test("a body of exactly maxBodySize bytes is served and one byte more gets 413, by Content-Length and chunked", async () => {
  const LIMIT = 1000;
  const s = await startServer((server) => {
    server.setMaxBodySize(LIMIT);
    server.setGenCb((req) => req.sendReply(200, "OK", String(req.inputBuffer.length)));
  });
  const chunked = (n: number): string =>
    `POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${(n - 1).toString(16)}\r\n${
      "b".repeat(n - 1)
    }\r\n1\r\nb\r\n0\r\n\r\n`;
  try {
    const c = await RawClient.connect(s.port);
    c.send(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${LIMIT}\r\n\r\n${"a".repeat(LIMIT)}`);
    assert.equal((await c.responses(1))[0].body, String(LIMIT));
    c.send(chunked(LIMIT));
    assert.equal((await c.responses(2))[1].body, String(LIMIT));
    c.close();
    const over = await answerAndClose(s.port, `POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
    assert.equal(over.status, 413);
    assert.equal((await answerAndClose(s.port, chunked(LIMIT + 1))).status, 413);
  } finally {
    await s.stop();
  }
});

/** A server on `clock` with a 1 s header timeout and no other, answering "ok". */
function headerTimeoutServer(clock: ManualClock): Promise<TestServer> {
  return startServer(
    (server) => {
      server.setTimeout({ headerTimeoutMs: 1000, idleTimeoutMs: 0, bodyTimeoutMs: 0, writeTimeoutMs: 0 });
      server.setGenCb((req) => req.sendReply(200, "OK", "ok"));
    },
    {},
    clock,
  );
}

test("a client that never finishes its headers gets 408 when the header timeout passes, and others are served", async () => {
  const clock = new ManualClock();
  const s = await headerTimeoutServer(clock);
  try {
    const slow = await RawClient.connect(s.port);
    slow.send("GET / HTTP/1.1\r\nHost: t\r\n");
    await sleep(50);
    clock.advance(999);
    await sleep(50);
    assert.equal(slow.text, "");
    const other = await RawClient.connect(s.port);
    other.send(get("/"));
    assert.equal((await other.responses(1))[0].body, "ok");
    clock.advance(1);
    await slow.waitEnd();
    const [r] = splitResponses(slow.text, [], true).responses;
    assert.equal(r.status, 408);
    assert.equal(r.headers.connection, "close");
    // The other connection's head began later: it has its own deadline, and it is fine.
    other.send(get("/"));
    assert.equal((await other.responses(2))[1].body, "ok");
    other.close();
  } finally {
    await s.stop();
  }
});

test("after a long idle, the next head is still held to the header timeout", async () => {
  // With no idle timeout an idle connection's timer sleeps; the next head must wake it.
  const clock = new ManualClock();
  const s = await headerTimeoutServer(clock);
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    assert.equal((await c.responses(1))[0].body, "ok");
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await sleep(10);
    }
    c.send("GET / HTTP/1.1\r\nHost: t\r\n");
    await sleep(50);
    clock.advance(999);
    await sleep(50);
    assert.equal(c.isEnded, false);
    clock.advance(1);
    await c.waitEnd();
    const responses = splitResponses(c.text, [], true).responses;
    assert.equal(responses[1].status, 408);
  } finally {
    await s.stop();
  }
});

test("a body that stops arriving gets 408 after the body timeout", async () => {
  const s = await startServer((server) => {
    server.setTimeout({ bodyTimeoutMs: 150 });
    server.setGenCb((req) => req.sendReply(200, "OK", "never"));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    await c.waitEnd(3000);
    const [r] = splitResponses(c.text, [], true).responses;
    assert.equal(r.status, 408);
  } finally {
    await s.stop();
  }
});

test("an idle keep-alive connection is closed quietly after the idle timeout", async () => {
  const s = await startServer((server) => {
    server.setTimeout({ idleTimeoutMs: 100 });
    server.setGenCb((req) => req.sendReply(200, "OK", "ok"));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    await c.responses(1);
    const before = c.text;
    await c.waitEnd(3000);
    assert.equal(c.text, before, "nothing is sent on an idle close");
    assert.equal(s.server.connectionCount, 0);
  } finally {
    await s.stop();
  }
});

test("a throwing callback gets 500 and its connection closed, the error goes to the logger, and the server goes on", async () => {
  const logged: unknown[] = [];
  const s = await startServer((server) => {
    server.setErrorLogger((err, req) => logged.push([err instanceof Error ? err.message : err, req?.uri]));
    server.setCb("/throw", () => {
      throw new Error("boom");
    });
    server.setCb("/reject", async () => {
      await sleep(5);
      throw new Error("later boom");
    });
    server.setCb("/http-error", () => {
      throw new HttpError("ERR_BAD_TARGET", "not for us");
    });
    server.setCb("/ok", (req) => req.sendReply(200, "OK", "ok"));
  });
  try {
    assert.equal((await answerAndClose(s.port, get("/throw"))).status, 500);
    assert.equal((await answerAndClose(s.port, get("/reject"))).status, 500);
    assert.equal((await answerAndClose(s.port, get("/http-error"))).status, 400);
    assert.deepEqual(logged, [["boom", "/throw"], ["later boom", "/reject"], ["not for us", "/http-error"]]);
    const c = await RawClient.connect(s.port);
    c.send(get("/ok"));
    assert.equal((await c.responses(1))[0].body, "ok");
    c.close();
  } finally {
    await s.stop();
  }
});

test("a callback that throws after starting a streamed reply has its connection closed", async () => {
  const s = await startServer((server) => {
    server.setErrorLogger(() => {});
    server.setGenCb((req) => {
      req.sendReplyStart(200);
      req.sendReplyChunk("part");
      throw new Error("midway");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    await c.waitEnd();
    assert.match(c.text, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n4\r\npart\r\n$/);
  } finally {
    await s.stop();
  }
});

test("a malformed request pipelined after good ones is answered after their responses", async () => {
  const held: HttpServerRequest[] = [];
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      held.push(req);
      if (held.length === 2) setTimeout(() => held.forEach((r, i) => r.sendReply(200, "OK", `good ${i}`)), 30);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/a") + get("/b") + "NOT HTTP\r\n\r\n");
    await c.waitEnd();
    const rs = splitResponses(c.text, [], true).responses;
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 400]);
    assert.deepEqual(rs.slice(0, 2).map((r) => r.body), ["good 0", "good 1"]);
  } finally {
    await s.stop();
  }
});

test("a malformed chunk in a streamed body aborts the request: the body callback sees aborted and the client gets 400", async () => {
  const states: string[] = [];
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      req.setBodyCb((r) => states.push(r.bodyState));
    }, { streamBody: true });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    await sleep(30);
    c.send("zz\r\n");
    await c.waitEnd();
    const [r] = splitResponses(c.text, [], true).responses;
    assert.equal(r.status, 400);
    assert.deepEqual(states, ["reading", "aborted"]);
  } finally {
    await s.stop();
  }
});

test("a request answered before its body arrived keeps the connection: the rest of the body is skipped", async () => {
  const s = await startServer((server) => {
    server.setNewRequestCb((req) => {
      if (req.uri === "/early") req.sendReply(200, "OK", "early");
    });
    server.setGenCb((req) => req.sendReply(200, "OK", `late ${req.inputBuffer.length}`));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc");
    assert.equal((await c.responses(1))[0].body, "early");
    c.send("def" + "POST /next HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxy");
    assert.equal((await c.responses(2))[1].body, "late 2");
    c.close();
  } finally {
    await s.stop();
  }
});

test("an absolute-form target with a bad port gets 400", async () => {
  const s = await startServer((server) => server.setGenCb((req) => req.sendReply(200, "OK", "ok")));
  try {
    const r = await answerAndClose(s.port, "GET http://host:99999/ HTTP/1.1\r\nHost: host\r\n\r\n");
    assert.equal(r.status, 400);
  } finally {
    await s.stop();
  }
});

test("a client that stops reading a large response is dropped after the write timeout", async () => {
  const big = new Uint8Array(32 * 1024 * 1024);
  const s = await startServer((server) => {
    server.setTimeout({ writeTimeoutMs: 200 });
    server.setGenCb((req) => req.sendReply(200, "OK", big));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.socket.pause();
    c.send(get("/"));
    const started = Date.now();
    while (s.server.connectionCount === 0 && Date.now() - started < 5000) await sleep(5);
    while (s.server.connectionCount !== 0 && Date.now() - started < 5000) await sleep(20);
    assert.equal(s.server.connectionCount, 0, "the stalled connection was dropped");
    assert.ok(Date.now() - started >= 200, "not before the timeout");
    c.close();
  } finally {
    await s.stop();
  }
});

test("a head arriving line by line is not mistaken for an idle connection", async () => {
  const s = await startServer((server) => {
    server.setTimeout({ idleTimeoutMs: 100, headerTimeoutMs: 0 });
    server.setGenCb((req) => req.sendReply(200, "OK", "complete"));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("GET / HTTP/1.1\r\nHost: t\r\n");
    await sleep(350);
    assert.equal(c.isEnded, false);
    c.send("\r\n");
    assert.equal((await c.responses(1))[0].body, "complete");
    c.close();
  } finally {
    await s.stop();
  }
});

test("sendError keeps the application's output headers (Allow, WWW-Authenticate) but not the ones the page sets", async () => {
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      req.outputHeaders.set("Allow", "GET, HEAD");
      req.outputHeaders.set("WWW-Authenticate", 'Basic realm="levent"');
      req.outputHeaders.set("Content-Type", "application/json");
      req.outputHeaders.set("Content-Length", "999");
      req.sendError(405);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.waitEnd();
    const [r] = splitResponses(c.text, [], true).responses;
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "GET, HEAD");
    assert.equal(r.headers["www-authenticate"], 'Basic realm="levent"');
    assert.equal(r.headers["content-type"], "text/html");
    assert.equal(Number(r.headers["content-length"]), r.body.length);
    assert.equal(r.headers.connection, "close");
    assert.match(r.body, /<H1>Method Not Allowed<\/H1>/);
  } finally {
    await s.stop();
  }
});

test("with no logger set, a callback's failure is printed on stderr with the request's method and target", async () => {
  const s = await startServer((server) => {
    server.setCb("/throw", () => {
      throw new Error("boom");
    });
    server.setCb("/reject", async () => {
      await sleep(5);
      throw new Error("later boom");
    });
    server.setCb("/status", (req) => req.sendReply(700, "Nope"));
    server.setCb("/inject", (req) => {
      req.outputHeaders.set("X-Injected", "a\r\nSet-Cookie: b");
      req.sendReply(200, "OK");
    });
  });
  try {
    const lines = await printedBy(async () => {
      for (const path of ["/throw", "/reject", "/status", "/inject?q=1"]) {
        assert.equal((await answerAndClose(s.port, get(path))).status, 500, path);
      }
      const c = await RawClient.connect(s.port);
      c.send("POST /throw HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
      await c.waitEnd();
    });
    assert.equal(lines.length, 5, lines.join("\n"));
    assert.match(lines[0], /^levent: the callback for GET \/throw failed: Error: boom$/);
    assert.match(lines[1], /^levent: the callback for GET \/reject failed: Error: later boom$/);
    assert.match(lines[2], /GET \/status failed: RangeError: code must be .*got 700/);
    assert.match(lines[3], /GET \/inject\?q=1 failed: TypeError: value must be a string without control characters/);
    assert.match(lines[4], /^levent: the callback for POST \/throw failed: Error: boom$/);
  } finally {
    await s.stop();
  }
});

test("setErrorLogger replaces the printing, () => {} silences it, and null brings it back", async () => {
  const logged: string[] = [];
  const s = await startServer((server) => {
    server.setCb("/throw", () => {
      throw new Error("boom");
    });
  });
  try {
    const lines = await printedBy(async () => {
      s.server.setErrorLogger((err, req) => logged.push(`${req?.method} ${req?.uri} ${(err as Error).message}`));
      await answerAndClose(s.port, get("/throw"));
      s.server.setErrorLogger(() => {});
      await answerAndClose(s.port, get("/throw"));
      s.server.setErrorLogger(null);
      await answerAndClose(s.port, get("/throw"));
    });
    assert.deepEqual(logged, ["GET /throw boom"]);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /GET \/throw failed: Error: boom/);
  } finally {
    await s.stop();
  }
});
