import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { EvBuffer, Listener } from "../../src/buffer/mod.ts";
import { EV_READ, EventBase } from "../../src/event/mod.ts";
import { HttpServer, type HttpServerRequest } from "../../src/http/mod.ts";
import { deferred, fillPattern, patternByte, sleep, within } from "../util.ts";
import { get, platform, RawClient, splitResponses, startServer, type TestServer } from "./server_helpers.ts";

const dateless = (raw: string): string => raw.replace(/Date: [^\r]+\r\n/, "Date: *\r\n");

test("a GET gets the status line, Date, default Content-Type, Content-Length and body, exactly", async () => {
  const s = await startServer((server) => server.setCb("/", (req) => req.sendReply(200, "OK", "hi")));
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    const [r] = await c.responses(1);
    assert.equal(
      dateless(r.raw),
      "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/html; charset=ISO-8859-1\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert.match(r.headers.date, /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
    c.close();
  } finally {
    await s.stop();
  }
});

test("setDefaultContentType changes the Content-Type of bodies sent without one, and null sends none", async () => {
  const s = await startServer((server) => {
    server.setDefaultContentType("text/plain; charset=utf-8");
    server.setCb("/plain", (req) => req.sendReply(200, "OK", "x"));
    server.setCb("/none", (req) => {
      server.setDefaultContentType(null);
      req.sendReply(200, "OK", "y");
    });
    server.setCb("/empty", (req) => req.sendReply(200, "OK"));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/plain") + get("/none") + get("/empty"));
    const rs = await c.responses(3);
    assert.equal(rs[0].headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(rs[1].headers["content-type"], undefined);
    assert.equal(rs[2].headers["content-type"], undefined);
    assert.equal(rs[2].headers["content-length"], "0");
    assert.throws(() => s.server.setDefaultContentType("a\r\nb"), TypeError);
    c.close();
  } finally {
    await s.stop();
  }
});

test("the hello-world response keeps the application's headers, its Content-Type and a custom reason", async () => {
  const s = await startServer((server) => {
    server.setCb("/hello", (req) => {
      req.outputHeaders.set("Content-Type", "text/plain");
      req.outputHeaders.add("X-Multi", "a");
      req.outputHeaders.add("X-Multi", "b");
      req.sendReply(201, "Made It", "Hello, World!");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/hello"));
    const [r] = await c.responses(1);
    assert.equal(
      dateless(r.raw),
      "HTTP/1.1 201 Made It\r\nContent-Type: text/plain\r\nX-Multi: a\r\nX-Multi: b\r\nDate: *\r\n" +
        "Content-Length: 13\r\n\r\nHello, World!",
    );
    c.close();
  } finally {
    await s.stop();
  }
});

test("field values and reasons go out as Latin-1, one byte per character, in replies, streamed replies and error pages", async () => {
  const s = await startServer((server) => {
    server.setCb("/reply", (req) => {
      req.outputHeaders.set("X-Name", "café");
      req.sendReply(200, "Très bien", "¡olé!");
    });
    server.setCb("/start", (req) => {
      req.outputHeaders.set("X-Name", "naïve");
      req.sendReplyStart(200, "Ça va");
      req.sendReplyEnd();
    });
    server.setCb("/error", (req) => {
      req.outputHeaders.set("X-Name", "señor");
      req.sendError(403, "Interdit é");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/reply") + get("/start"));
    const [reply, start] = await c.responses(2);
    // RawClient keeps bytes as Latin-1: "é" is one byte 0xE9, not UTF-8's C3 A9.
    assert.equal(reply.reason, "Très bien");
    assert.equal(reply.headers["x-name"], "café");
    // The body is text: UTF-8, counted in bytes.
    assert.equal(reply.headers["content-length"], "7");
    assert.equal(reply.body, "\u00c2\u00a1ol\u00c3\u00a9!");
    assert.equal(start.reason, "Ça va");
    assert.equal(start.headers["x-name"], "naïve");
    c.close();
    const e = await RawClient.connect(s.port);
    e.send(get("/error"));
    const [page] = await e.responses(1);
    assert.equal(page.status, 403);
    assert.equal(page.reason, "Interdit é");
    assert.equal(page.headers["x-name"], "señor");
    // The page's Content-Length counts its bytes, the reason's é included.
    assert.equal(Number(page.headers["content-length"]), page.body.length);
    assert.match(page.body, /<H1>Interdit é<\/H1>/);
    e.close();
  } finally {
    await s.stop();
  }
});

test("a head larger than a segment, with a body behind it, arrives whole in replies and streamed replies", async () => {
  const value = (i: number): string => String.fromCharCode(97 + (i % 26)).repeat(190) + i;
  const s = await startServer((server) => {
    server.setCb("/big", (req) => {
      for (let i = 0; i < 60; i++) req.outputHeaders.add(`X-Field-${i}`, value(i));
      req.sendReply(200, undefined, "b".repeat(1500));
    });
    server.setCb("/big-start", (req) => {
      for (let i = 0; i < 60; i++) req.outputHeaders.add(`X-Field-${i}`, value(i));
      req.sendReplyStart(200);
      req.sendReplyChunk("c".repeat(100));
      req.sendReplyEnd();
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/big") + get("/big-start"));
    const [big, start] = await c.responses(2);
    for (const r of [big, start]) {
      for (let i = 0; i < 60; i++) assert.equal(r.headers[`x-field-${i}`], value(i));
    }
    assert.equal(big.body, "b".repeat(1500));
    assert.equal(big.headers["content-length"], "1500");
    assert.equal(start.body, "c".repeat(100));
    c.close();
  } finally {
    await s.stop();
  }
});

test("a keep-alive connection carries one request after another", async () => {
  const ports = new Set<number>();
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      ports.add(req.peer.port);
      req.sendReply(200, "OK", req.uri);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    for (let i = 1; i <= 3; i++) {
      c.send(get(`/n${i}`));
      const rs = await c.responses(i);
      assert.equal(rs[i - 1].body, `/n${i}`);
      assert.equal(rs[i - 1].headers.connection, undefined);
    }
    assert.equal(ports.size, 1);
    assert.equal(s.server.connectionCount, 1);
    assert.equal(c.isEnded, false);
    c.close();
  } finally {
    await s.stop();
  }
});

test("pipelined requests answered out of order come back in request order", async () => {
  const held: HttpServerRequest[] = [];
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      held.push(req);
      if (held.length === 3) {
        // Answer the last first, and the first streamed, last.
        held[2].sendReply(200, "OK", "third");
        held[1].sendReply(200, "OK", "second");
        held[0].sendReplyStart(200);
        held[0].sendReplyChunk("fir");
        setTimeout(() => {
          held[0].sendReplyChunk("st");
          held[0].sendReplyEnd();
        }, 20);
      }
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/1") + get("/2") + get("/3"));
    const rs = await c.responses(3);
    assert.deepEqual(rs.map((r) => r.body), ["first", "second", "third"]);
    assert.deepEqual(rs[0].chunks, ["fir", "st"]);
    c.close();
  } finally {
    await s.stop();
  }
});

test("maxPipelined holds back reading beyond that many unanswered requests", async () => {
  const held: HttpServerRequest[] = [];
  const s = await startServer((server) => server.setGenCb((req) => void held.push(req)), { maxPipelined: 2 });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/1") + get("/2") + get("/3") + get("/4"));
    await sleep(50);
    assert.deepEqual(held.map((r) => r.uri), ["/1", "/2"]);
    held[1].sendReply(200, "OK", "2");
    await sleep(30);
    assert.equal(held.length, 2, "still two in flight: the first is unanswered");
    held[0].sendReply(200, "OK", "1");
    await c.responses(2);
    await sleep(30);
    assert.deepEqual(held.map((r) => r.uri), ["/1", "/2", "/3", "/4"]);
    held[2].sendReply(200, "OK", "3");
    held[3].sendReply(200, "OK", "4");
    assert.deepEqual((await c.responses(4)).map((r) => r.body), ["1", "2", "3", "4"]);
    c.close();
  } finally {
    await s.stop();
  }
});

test("HEAD gets the GET's headers and Content-Length but no body, and the connection stays usable", async () => {
  const s = await startServer((server) => server.setCb("/doc", (req) => req.sendReply(200, "OK", "twelve bytes")));
  try {
    const c = await RawClient.connect(s.port);
    c.send(`HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n`);
    const [head] = await c.responses(1, [true]);
    assert.equal(head.headers["content-length"], "12");
    assert.equal(head.body, "");
    assert.ok(head.raw.endsWith("\r\n\r\n"));
    c.send(get("/doc"));
    const rs = await c.responses(2, [true, false]);
    assert.equal(rs[1].body, "twelve bytes");
    assert.equal(c.text.split("twelve bytes").length, 2, "the body was sent once, for the GET only");
    c.close();
  } finally {
    await s.stop();
  }
});

test("a streamed reply to HEAD says nothing of a body it cannot know: no Transfer-Encoding, no default type, and HTTP/1.0 keep-alive holds", async () => {
  const s = await startServer((server) =>
    server.setCb("/stream", (req) => {
      req.sendReplyStart(200, "OK");
      req.sendReplyChunk("ignored for HEAD");
      req.sendReplyEnd();
    })
  );
  try {
    const c = await RawClient.connect(s.port);
    c.send(`HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n`);
    const [head] = await c.responses(1, [true]);
    assert.equal(head.headers["transfer-encoding"], undefined);
    assert.equal(head.headers["content-type"], undefined);
    assert.equal(head.headers["content-length"], undefined);
    assert.ok(head.raw.endsWith("\r\n\r\n"));
    c.send(get("/stream"));
    const rs = await c.responses(2, [true, false]);
    assert.equal(rs[1].headers["transfer-encoding"], "chunked", "the GET is chunked");
    assert.equal(rs[1].body, "ignored for HEAD");
    c.close();
    const old = await RawClient.connect(s.port);
    old.send("HEAD /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const [h10] = await old.responses(1, [true]);
    assert.equal(h10.headers.connection, "keep-alive");
    old.send("HEAD /stream HTTP/1.0\r\n\r\n");
    await old.responses(2, [true, true]);
    await old.waitEnd();
  } finally {
    await s.stop();
  }
});

test("a POST body with Content-Length reaches the callback whole in inputBuffer", async () => {
  let seen = "";
  const s = await startServer((server) => {
    server.setCb("/echo", (req) => {
      seen = new TextDecoder().decode(req.inputBuffer.pullup(req.inputBuffer.length));
      assert.equal(req.bodyState, "complete");
      req.sendReply(200, "OK", req.inputBuffer);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello");
    await sleep(20);
    c.send(" world");
    const [r] = await c.responses(1);
    assert.equal(seen, "hello world");
    assert.equal(r.body, "hello world");
    c.close();
  } finally {
    await s.stop();
  }
});

test("a chunked POST body is decoded into inputBuffer and its trailer fields join inputHeaders", async () => {
  let trailer: string | null = null;
  const s = await startServer((server) => {
    server.setCb("/up", (req) => {
      trailer = req.inputHeaders.get("x-checksum");
      req.sendReply(200, "OK", req.inputBuffer);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n");
    await sleep(20);
    c.send("0\r\nX-Checksum: 42\r\n\r\n");
    const [r] = await c.responses(1);
    assert.equal(r.body, "hello!");
    assert.equal(trailer, "42");
    c.close();
  } finally {
    await s.stop();
  }
});

test("Expect: 100-continue gets 100 Continue before the body is sent, then the final response", async () => {
  const s = await startServer((server) => server.setCb("/up", (req) => req.sendReply(200, "OK", req.inputBuffer)));
  try {
    const c = await RawClient.connect(s.port);
    c.send("PUT /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    await c.waitFor((t) => t.includes("\r\n\r\n"));
    assert.equal(c.text, "HTTP/1.1 100 Continue\r\n\r\n");
    c.send("data");
    const rs = await c.responses(2);
    assert.equal(rs[0].status, 100);
    assert.equal(rs[1].status, 200);
    assert.equal(rs[1].body, "data");
    c.close();
  } finally {
    await s.stop();
  }
});

test("an expect-continue callback that refuses gets its status sent without the body being read, and the connection closes", async () => {
  let called = false;
  const s = await startServer((server) => {
    server.setExpectContinueCb((req) => (req.inputHeaders.get("content-length") === "999999" ? 417 : 100));
    server.setCb("/up", () => {
      called = true;
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("PUT /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 999999\r\n\r\n");
    const [r] = await c.responses(1);
    assert.equal(r.status, 417);
    assert.equal(r.headers.connection, "close");
    await c.waitEnd();
    assert.equal(called, false);
  } finally {
    await s.stop();
  }
});

test("sendReplyStart, sendReplyChunk paced by flush callbacks and sendReplyEnd put each chunk on the wire", async () => {
  const N = 6;
  const flushed: number[] = [];
  const s = await startServer((server) => {
    server.setCb("/chunked", (req) => {
      req.outputHeaders.set("Content-Type", "text/plain");
      req.sendReplyStart(200, "OK");
      let i = 0;
      const next = (): void => {
        if (i === N) {
          req.sendReplyEnd();
          return;
        }
        const n = i++;
        req.sendReplyChunk(`chunk ${n}\n`, () => {
          flushed.push(n);
          next();
        });
      };
      next();
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/chunked"));
    const [r] = await c.responses(1);
    assert.equal(r.headers["transfer-encoding"], "chunked");
    assert.equal(r.headers["content-length"], undefined);
    assert.deepEqual(r.chunks, Array.from({ length: N }, (_, i) => `chunk ${i}\n`));
    assert.ok(r.raw.endsWith("0\r\n\r\n"));
    assert.deepEqual(flushed, [0, 1, 2, 3, 4, 5]);
    // Still keep-alive afterwards.
    c.send(get("/chunked"));
    await c.responses(2);
    c.close();
  } finally {
    await s.stop();
  }
});

test("a streamed reply with a Content-Length set sends raw bytes, and one to an HTTP/1.0 client ends with the connection", async () => {
  const s = await startServer((server) => {
    server.setCb("/len", (req) => {
      req.outputHeaders.set("Content-Length", "6");
      req.sendReplyStart(200);
      req.sendReplyChunk(new TextEncoder().encode("abc"));
      assert.throws(() => req.sendReplyChunk("defg"), RangeError);
      req.sendReplyChunk("def");
      req.sendReplyEnd();
    });
    server.setCb("/old", (req) => {
      req.sendReplyStart(200);
      req.sendReplyChunk("one,");
      req.sendReplyChunk("two");
      req.sendReplyEnd();
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/len"));
    const [r] = await c.responses(1);
    assert.equal(r.body, "abcdef");
    assert.equal(r.headers["transfer-encoding"], undefined);
    c.close();
    const old = await RawClient.connect(s.port);
    old.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await old.waitEnd();
    const [o] = splitResponses(old.text, [], true).responses;
    assert.equal(o.body, "one,two");
    assert.equal(o.headers.connection, "close");
    assert.equal(o.headers["transfer-encoding"], undefined);
  } finally {
    await s.stop();
  }
});

test("a reply given later, after an await, reaches the client", async () => {
  const s = await startServer((server) => {
    server.setGenCb(async (req) => {
      await sleep(30);
      req.sendReply(200, "OK", "later");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    const [r] = await c.responses(1);
    assert.equal(r.body, "later");
    c.close();
  } finally {
    await s.stop();
  }
});

test("setCb matches the decoded path without its query, delCb removes a route and setGenCb takes the rest", async () => {
  const s = await startServer((server) => {
    assert.equal(server.setCb("/a b", (req) => req.sendReply(200, "OK", `space ${req.path} ${req.uri}`)), true);
    assert.equal(server.setCb("/a b", () => {}), false);
    server.setCb("/gone", (req) => req.sendReply(200, "OK", "gone"));
    assert.equal(server.delCb("/gone"), true);
    assert.equal(server.delCb("/gone"), false);
    server.setGenCb((req) => req.sendReply(200, "OK", `gen ${req.getDecodedPath()} ${req.getUri().query}`));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/a%20b?x=1") + get("/gone?y=2") + get("http://test/a%20b"));
    const rs = await c.responses(3);
    assert.deepEqual(rs.map((r) => r.body), [
      "space /a%20b /a%20b?x=1",
      "gen /gone y=2",
      "space /a%20b http://test/a%20b",
    ]);
    c.close();
  } finally {
    await s.stop();
  }
});

test("a request no callback takes gets 404, and the server goes on", async () => {
  const s = await startServer((server) => server.setCb("/only", (req) => req.sendReply(200, "OK", "only")));
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/other"));
    const [r] = await c.responses(1);
    assert.equal(r.status, 404);
    assert.match(r.body, /<H1>Not Found<\/H1>/);
    await c.waitEnd();
    const d = await RawClient.connect(s.port);
    d.send(get("/only"));
    assert.equal((await d.responses(1))[0].body, "only");
    d.close();
  } finally {
    await s.stop();
  }
});

test("virtual hosts route by the Host pattern with * and ?, and aliases win before patterns", async () => {
  const s = await startServer((server, base) => {
    const a = new HttpServer(base);
    a.setGenCb((req) => req.sendReply(200, "OK", "a"));
    const b = new HttpServer(base);
    b.setGenCb((req) => req.sendReply(200, "OK", "b"));
    const inner = new HttpServer(base);
    inner.setGenCb((req) => req.sendReply(200, "OK", "inner"));
    server.addVirtualHost("*.example.com", a);
    server.addVirtualHost("b?.test", b);
    a.addVirtualHost("deep.*", inner);
    assert.equal(b.addServerAlias("Alias.Example.COM"), true);
    assert.equal(b.addServerAlias("alias.example.com"), false);
    b.addServerAlias("dropped.test");
    assert.equal(b.removeServerAlias("DROPPED.test"), true);
    assert.equal(b.removeServerAlias("dropped.test"), false);
    server.setGenCb((req) => req.sendReply(200, "OK", "main"));
    assert.throws(() => server.addVirtualHost("x", a), TypeError);
    const gone = new HttpServer(base);
    gone.setGenCb((req) => req.sendReply(200, "OK", "gone"));
    server.addVirtualHost("gone.test", gone);
    assert.equal(server.removeVirtualHost(gone), true);
    assert.equal(server.removeVirtualHost(gone), false);
  });
  try {
    const c = await RawClient.connect(s.port);
    const ask = (host: string): string => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    c.send(
      ask("www.Example.com:8080") + ask("b1.test") + ask("b12.test") + ask("alias.example.com") +
        ask("deep.x.example.com") + ask("gone.test") + "GET http://www.example.com/ HTTP/1.1\r\nHost: other\r\n\r\n" +
        ask("dropped.test"),
    );
    const rs = await c.responses(8);
    assert.deepEqual(rs.map((r) => r.body), ["a", "b", "main", "b", "inner", "main", "a", "main"]);
    c.close();
  } finally {
    await s.stop();
  }
});

test("Connection: close in a request is answered with Connection: close and the connection ends", async () => {
  let count = 0;
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      count++;
      req.sendReply(200, "OK", "bye");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    // The request after the close must not be served (RFC 9112 §9.6).
    c.send(get("/", "Connection: close\r\n") + get("/"));
    await c.waitEnd();
    const { responses } = splitResponses(c.text, [], true);
    assert.equal(responses.length, 1);
    assert.equal(responses[0].headers.connection, "close");
    assert.equal(count, 1);
  } finally {
    await s.stop();
  }
});

test("HTTP/1.0 is closed after its answer unless it asks for keep-alive", async () => {
  const s = await startServer((server) =>
    server.setGenCb((req) => req.sendReply(200, "OK", `${req.version === "HTTP/1.0" ? "v" : "?"}1.${req.versionMinor}`))
  );
  try {
    const plain = await RawClient.connect(s.port);
    plain.send("GET / HTTP/1.0\r\n\r\n");
    await plain.waitEnd();
    const [p] = splitResponses(plain.text, [], true).responses;
    assert.equal(p.body, "v1.0");
    assert.equal(p.headers.connection, "close");
    assert.ok(p.raw.startsWith("HTTP/1.1 200 OK\r\n"));

    const kept = await RawClient.connect(s.port);
    kept.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const [k] = await kept.responses(1);
    assert.equal(k.headers.connection, "keep-alive");
    kept.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await kept.responses(2);
    assert.equal(kept.isEnded, false);
    kept.close();
  } finally {
    await s.stop();
  }
});

test("graceful shutdown closes idle connections at once, finishes an in-flight request, then resolves", async () => {
  const arrived = deferred<HttpServerRequest>();
  const s = await startServer((server) => {
    server.setCb("/slow", (req) => arrived.resolve(req));
    server.setCb("/fast", (req) => req.sendReply(200, "OK", "fast"));
  });
  try {
    const idle = await RawClient.connect(s.port);
    idle.send(get("/fast"));
    await idle.responses(1);
    const busy = await RawClient.connect(s.port);
    busy.send(get("/slow"));
    const req = await within(arrived.promise, 5000, "the slow request");
    let resolved = false;
    const done = s.server.shutdown({ graceMs: 5000 }).then(() => {
      resolved = true;
    });
    await idle.waitEnd();
    assert.equal(s.server.state, "draining");
    await sleep(30);
    assert.equal(resolved, false);
    await assert.rejects(
      platform.connect({ host: "127.0.0.1", port: s.port }).then((sock) => {
        sock.close();
        throw new Error("refused");
      }),
    );
    req.sendReply(200, "OK", "finished");
    const [r] = await busy.responses(1);
    assert.equal(r.body, "finished");
    assert.equal(r.headers.connection, "close");
    await busy.waitEnd();
    await within(done, 5000, "shutdown");
    assert.equal(s.server.state, "closed");
    assert.equal(s.server.connectionCount, 0);
  } finally {
    await s.stop();
  }
});

/** A server whose callback holds each request, and a client that pipelined two GETs both callbacks now hold. */
async function twoPipelinedHeld(): Promise<{ s: TestServer; c: RawClient; held: HttpServerRequest[] }> {
  const held: HttpServerRequest[] = [];
  const both = deferred();
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      held.push(req);
      if (held.length === 2) both.resolve();
    });
  });
  const c = await RawClient.connect(s.port);
  c.send(get("/a") + get("/b"));
  await within(both.promise, 5000, "both callbacks");
  return { s, c, held };
}

test("requests pipelined before the client's end (FIN) are all answered, the last with Connection: close", async () => {
  const { s, c, held } = await twoPipelinedHeld();
  try {
    c.socket.end();
    await sleep(50);
    held[0].sendReply(200, "OK", "first");
    held[1].sendReply(200, "OK", "second");
    const [a, b] = await c.responses(2);
    assert.equal(a.body, "first");
    assert.notEqual(a.headers.connection, "close");
    assert.equal(b.body, "second");
    assert.equal(b.headers.connection, "close");
    await c.waitEnd();
  } finally {
    await s.stop();
  }
});

test("shutdown answers every pipelined request whose callback holds it, then closes", async () => {
  const { s, c, held } = await twoPipelinedHeld();
  try {
    const done = s.server.shutdown({ graceMs: 5000 });
    held[0].sendReply(200, "OK", "first");
    await sleep(30);
    held[1].sendReply(200, "OK", "second");
    const [a, b] = await c.responses(2);
    assert.equal(a.body, "first");
    assert.equal(b.body, "second");
    assert.equal(b.headers.connection, "close");
    await c.waitEnd();
    await within(done, 5000, "shutdown");
  } finally {
    await s.stop();
  }
});

test("shutdown drops connections still busy after graceMs and runs their close callbacks", async () => {
  let closed = false;
  const s = await startServer((server) => {
    server.setGenCb((req) => req.setCloseCb(() => (closed = true)));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/never"));
    await sleep(50);
    await within(s.server.shutdown({ graceMs: 50 }), 5000, "shutdown");
    await c.waitEnd();
    assert.equal(closed, true);
  } finally {
    await s.stop();
  }
});

test("bindUnix serves requests over a Unix socket", async (t) => {
  if (process.platform === "win32") {
    t.skip("no Unix sockets on Windows");
    return;
  }
  const path = join(tmpdir(), `levent-http-${process.pid}-${Date.now()}.sock`);
  const base = new EventBase({ platform });
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", `unix ${req.peer.transport}`));
  const handle = await server.bindUnix(path);
  assert.equal(handle.address.transport, "unix");
  const loop = base.dispatch();
  try {
    const socket = await platform.connect({ path });
    let text = "";
    const got = deferred();
    socket.start({
      data: (b) => {
        text += new TextDecoder().decode(b);
        if (text.endsWith("unix unix")) got.resolve();
      },
      end() {},
      drain() {},
      error() {},
      close() {},
    });
    socket.write(new TextEncoder().encode(get("/")));
    await within(got.promise, 5000, "the answer over the Unix socket");
    socket.close();
  } finally {
    server.free();
    await within(loop, 5000, "loop end");
  }
});

test("several binds at once serve the same callbacks, and delBoundSocket stops one", async () => {
  const base = new EventBase({ platform });
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "same"));
  const [h1, h2] = await Promise.all([server.bind("127.0.0.1", 0), server.bind("127.0.0.1", 0)]);
  assert.equal(server.boundSockets.length, 2);
  const loop = base.dispatch();
  try {
    for (const h of [h1, h2]) {
      const c = await RawClient.connect(h.address.port);
      c.send(get("/"));
      assert.equal((await c.responses(1))[0].body, "same");
      c.close();
    }
    await server.delBoundSocket(h1);
    assert.equal(server.boundSockets.length, 1);
    await assert.rejects(
      platform.connect({ host: "127.0.0.1", port: h1.address.port }).then((sock) => {
        sock.close();
        throw new Error("refused");
      }),
    );
  } finally {
    server.free();
    await within(loop, 5000, "loop end");
  }
});

test("acceptListener serves the connections of an existing Listener", async () => {
  const base = new EventBase({ platform });
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, null);
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "from listener"));
  const handle = server.acceptListener(listener);
  assert.equal(handle.listener, listener);
  const loop = base.dispatch();
  try {
    const c = await RawClient.connect(listener.address.port);
    c.send(get("/"));
    assert.equal((await c.responses(1))[0].body, "from listener");
    c.close();
  } finally {
    server.free();
    await within(loop, 5000, "loop end");
  }
});

test("bindTls serves HTTPS with the platform doing TLS", async () => {
  const cert = readFileSync(new URL("../fixtures/cert.pem", import.meta.url), "utf8");
  const key = readFileSync(new URL("../fixtures/key.pem", import.meta.url), "utf8");
  const base = new EventBase({ platform });
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "secure"));
  const handle = await server.bindTls("127.0.0.1", 0, { cert, key });
  const loop = base.dispatch();
  try {
    const socket = await within(
      platform.connectTls({ host: "127.0.0.1", port: handle.address.port, serverName: "localhost", caCerts: [cert] }),
      5000,
      "TLS connect",
    );
    let text = "";
    const got = deferred();
    socket.start({
      data: (b) => {
        text += new TextDecoder().decode(b);
        if (text.endsWith("secure")) got.resolve();
      },
      end() {},
      drain() {},
      error() {},
      close() {},
    });
    socket.write(new TextEncoder().encode(get("/")));
    await within(got.promise, 5000, "the HTTPS answer");
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    socket.close();
  } finally {
    server.free();
    await within(loop, 5000, "loop end");
  }
});

test("maxConnections closes connections beyond the limit at once and serves the others", async () => {
  const s = await startServer((server) => server.setGenCb((req) => req.sendReply(200, "OK", "in")), {
    maxConnections: 2,
  });
  try {
    const a = await RawClient.connect(s.port);
    const b = await RawClient.connect(s.port);
    a.send(get("/"));
    b.send(get("/"));
    await a.responses(1);
    await b.responses(1);
    const extra = await RawClient.connect(s.port);
    extra.send(get("/"));
    await extra.waitEnd();
    assert.equal(extra.text, "");
    a.send(get("/"));
    assert.equal((await a.responses(2))[1].body, "in");
    a.close();
    b.close();
    await sleep(50);
    const later = await RawClient.connect(s.port);
    later.send(get("/"));
    assert.equal((await later.responses(1))[0].body, "in");
    later.close();
  } finally {
    await s.stop();
  }
});

test("a streamed 16 MB upload read slowly keeps inputBuffer under a bound and arrives intact", async () => {
  const TOTAL = 16 * 1024 * 1024;
  const HIGH = 64 * 1024;
  let maxBuffered = 0;
  let received = 0;
  let mismatch = -1;
  const done = deferred<number>();
  const s = await startServer((base) => {
    base.setBodyHighWatermark(HIGH);
    base.setCb("/upload", (req) => {
      const input = req.inputBuffer;
      // A slow consumer: takes at most 32 KiB per millisecond tick.
      const tick = setInterval(() => {
        if (input.length > maxBuffered) maxBuffered = input.length;
        const n = Math.min(input.length, 32 * 1024);
        if (n > 0) {
          const bytes = input.pullup(n);
          if (mismatch < 0) {
            for (let i = 0; i < n; i += 4093) if (bytes[i] !== patternByte(received + i)) mismatch = received + i;
          }
          received += n;
          input.drain(n);
        }
        if (req.bodyState === "complete" && input.length === 0) {
          clearInterval(tick);
          req.sendReply(200, "OK", String(received));
          done.resolve(received);
        } else if (req.bodyState === "aborted") {
          clearInterval(tick);
        }
      }, 1);
      req.setBodyCb(() => {
        if (input.length > maxBuffered) maxBuffered = input.length;
      });
    }, { streamBody: true });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${TOTAL}\r\n\r\n`);
    const piece = 256 * 1024;
    for (let off = 0; off < TOTAL; off += piece) await c.sendAll(fillPattern(new Uint8Array(piece), off));
    const [r] = await c.responses(1, [], 60000);
    assert.equal(r.body, String(TOTAL));
    assert.equal(await done.promise, TOTAL);
    assert.equal(mismatch, -1);
    // The watermark, plus what one socket read can bring past it.
    assert.ok(maxBuffered <= HIGH + 1024 * 1024, `inputBuffer reached ${maxBuffered} bytes`);
    c.close();
  } finally {
    await s.stop();
  }
});

test("pauseBody holds the body back until resumeBody", async () => {
  const s = await startServer((server) => {
    server.setNewRequestCb((req) => {
      req.setBodyCb((r) => {
        if (r.bodyState === "complete") r.sendReply(200, "OK", r.inputBuffer);
      });
      req.pauseBody();
      assert.equal(req.bodyState, "paused");
      setTimeout(() => {
        assert.equal(req.inputBuffer.length, 0);
        req.resumeBody();
      }, 50);
    });
    server.setGenCb(() => {});
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde");
    const [r] = await c.responses(1);
    assert.equal(r.body, "abcde");
    c.close();
  } finally {
    await s.stop();
  }
});

test("fetch gets the hello-world answer, and a POST echo", async () => {
  const s = await startServer((server) => {
    server.setCb("/hello", (req) => {
      req.outputHeaders.set("Content-Type", "text/plain");
      req.sendReply(200, "OK", "Hello, World!");
    });
    server.setCb("/echo", (req) => req.sendReply(200, "OK", req.inputBuffer));
  });
  try {
    const res = await fetch(`http://127.0.0.1:${s.port}/hello`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain");
    assert.equal(await res.text(), "Hello, World!");
    const echo = await fetch(`http://127.0.0.1:${s.port}/echo`, { method: "POST", body: "ping é" });
    assert.equal(await echo.text(), "ping é");
  } finally {
    await s.stop();
  }
});

test("curl gets hello world, a chunked answer and an echo over one keep-alive connection", async (t) => {
  const curl = await new Promise<boolean>((resolve) => {
    const p = spawn("curl", ["--version"], { stdio: "ignore" });
    p.on("error", () => resolve(false));
    p.on("exit", (code) => resolve(code === 0));
  });
  if (!curl) {
    t.skip("curl is not installed");
    return;
  }
  const s = await startServer((server) => {
    server.setCb("/hello", (req) => req.sendReply(200, "OK", "Hello, World!"));
    server.setCb("/chunked", (req) => {
      req.sendReplyStart(200);
      req.sendReplyChunk("a");
      req.sendReplyChunk("b", () => req.sendReplyEnd());
    });
    server.setCb("/echo", (req) => req.sendReply(200, "OK", req.inputBuffer));
  });
  try {
    const base = `http://127.0.0.1:${s.port}`;
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn("curl", [
        "-sS",
        `${base}/hello`,
        `${base}/chunked`,
        "--next",
        "-d",
        "posted",
        `${base}/echo`,
        "-w",
        "[%{num_connects}]",
      ]);
      let text = "";
      p.stdout.on("data", (d: Uint8Array) => (text += new TextDecoder().decode(d)));
      p.on("error", reject);
      // 'close', not 'exit': it comes once stdout was read to its end.
      p.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`curl exited ${code}`))));
    });
    assert.equal(out, "Hello, World!abposted[0]");
  } finally {
    await s.stop();
  }
});

test("a string body with non-ASCII text gets its UTF-8 length, and outputBuffer comes before the body argument", async () => {
  const s = await startServer((server) => {
    server.setCb("/utf8", (req) => req.sendReply(200, "OK", "é€😀"));
    server.setCb("/buf", (req) => {
      req.outputBuffer.addString("first,");
      req.sendReply(200, "OK", new TextEncoder().encode("second"));
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/utf8") + get("/buf"));
    const rs = await c.responses(2);
    assert.equal(rs[0].headers["content-length"], "9");
    assert.equal(new TextDecoder().decode(Uint8Array.from(rs[0].body, (ch) => ch.charCodeAt(0))), "é€😀");
    assert.equal(rs[1].body, "first,second");
    c.close();
  } finally {
    await s.stop();
  }
});

test("a large byte body and an EvBuffer body are sent whole", async () => {
  const big = fillPattern(new Uint8Array(300000), 0);
  const s = await startServer((server) => {
    server.setCb("/big", (req) => req.sendReply(200, "OK", big));
    server.setCb("/evb", (req) => {
      const b = new EvBuffer();
      b.add(big.subarray(0, 1000));
      req.sendReply(200, "OK", b);
      assert.equal(b.length, 0);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/big") + get("/evb"));
    const rs = await c.responses(2);
    assert.equal(rs[0].body.length, big.length);
    assert.ok([...rs[0].body.slice(0, 5000)].every((ch, i) => ch.charCodeAt(0) === big[i]));
    assert.equal(rs[1].body.length, 1000);
    c.close();
  } finally {
    await s.stop();
  }
});

test("replying twice throws TypeError, and replies after the connection was lost are ignored", async () => {
  const arrived = deferred<HttpServerRequest>();
  let closedWith = "";
  const s = await startServer((server) => {
    server.setCb("/twice", (req) => {
      req.sendReply(200, "OK", "once");
      assert.throws(() => req.sendReply(200), TypeError);
      assert.throws(() => req.sendReplyChunk("x"), TypeError);
      assert.equal(req.responseState, "complete");
    });
    server.setCb("/held", (req) => {
      req.setCloseCb((r) => (closedWith = r.responseState));
      arrived.resolve(req);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/twice"));
    assert.equal((await c.responses(1))[0].body, "once");
    c.send(get("/held"));
    const req = await within(arrived.promise, 5000, "the held request");
    s.server.free();
    assert.equal(closedWith, "aborted");
    req.sendReply(200, "OK", "nobody hears");
    req.sendError(500);
    assert.equal(req.responseState, "aborted");
    await c.waitEnd();
    assert.equal(splitResponses(c.text).responses.length, 1);
  } finally {
    await s.stop();
  }
});

test("a client that half-closes after its request still gets the answer, then the connection closes", async () => {
  const s = await startServer((server) => {
    server.setGenCb(async (req) => {
      await sleep(30);
      req.sendReply(200, "OK", "still here");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    c.socket.end();
    await c.waitEnd();
    const [r] = splitResponses(c.text, [], true).responses;
    assert.equal(r.body, "still here");
    assert.equal(r.headers.connection, "close");
  } finally {
    await s.stop();
  }
});

test("setOnCompleteCb runs once the response was handed to the socket", async () => {
  const completed = deferred<number>();
  const s = await startServer((server) => {
    server.setGenCb((req) => {
      req.setOnCompleteCb((r) => completed.resolve(r.bodyState === "complete" ? 1 : 0));
      req.sendReply(200, "OK", "x");
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(get("/"));
    await c.responses(1);
    assert.equal(await within(completed.promise, 5000, "on-complete"), 1);
    c.close();
  } finally {
    await s.stop();
  }
});

test("takeOver hands an Upgrade request's connection over with the bytes that followed it", async () => {
  const s = await startServer((server, base) => {
    server.setCb("/ws", (req) => {
      const bev = req.takeOver();
      assert.equal(s.server.connectionCount, 0);
      bev.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
      bev.setCallbacks((b) => b.write(b.read()), null, (b) => b.free());
      bev.enable(EV_READ);
      // Bytes that came with the request are already in input: the read callback only tells of new ones.
      if (bev.input.length > 0) base.defer(() => bev.write(bev.read()));
    });
    server.setCb("/plain", (req) => req.sendReply(200, "OK", "plain"));
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly");
    await c.waitFor((t) => t.endsWith("early"));
    c.send(" more");
    await c.waitFor((t) => t.endsWith("early more"));
    assert.match(c.text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    c.close();
    // An upgrade answered as plain HTTP keeps the connection in HTTP.
    const d = await RawClient.connect(s.port);
    d.send("GET /plain HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n" + get("/plain"));
    const rs = await d.responses(2);
    assert.deepEqual(rs.map((r) => r.body), ["plain", "plain"]);
    d.close();
  } finally {
    await s.stop();
  }
});

test("bind takes the port as a string of digits, as node:net does, and names the argument otherwise", async () => {
  const base = new EventBase({ platform });
  const server = new HttpServer(base);
  server.setGenCb((req) => req.sendReply(200, "OK", "from a string port"));
  try {
    const handle = await server.bind("127.0.0.1", "0");
    assert.ok(handle.address.port > 0);
    void base.dispatch();
    const c = await RawClient.connect(handle.address.port);
    c.send(get("/"));
    assert.equal((await c.responses(1))[0].body, "from a string port");
    c.close();
    await assert.rejects(server.bind("127.0.0.1", "80a"), {
      name: "TypeError",
      message: 'port must be an integer in 0..65535 or a string of its digits, got "80a" (a string)',
    });
  } finally {
    server.free();
  }
});
