// The client against levent's own HttpServer (evhttp on both ends, as
// libevent's regress_http.c tests them): keep-alive, pipelining, chunked
// replies through the chunked callback, streamed uploads, request().
import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpServer } from "../../src/http/http_server.ts";
import type { HttpClientRequest } from "../../src/http/http_client_request.ts";
import { request } from "../../src/http/client_fetch.ts";
import { Harness } from "./client_util.ts";

const dec = new TextDecoder();

/** A levent HttpServer on the harness's base: /hello, /echo (the body back), /chunks?n=N (N chunks). */
async function levent(h: Harness): Promise<{ port: number; server: HttpServer; peers: Set<number> }> {
  const server = new HttpServer(h.base);
  const peers = new Set<number>();
  server.setCb("/hello", (req) => {
    peers.add(req.peer.port);
    req.sendReply(200, "OK", "Hello, World!");
  });
  server.setCb("/echo", (req) => {
    peers.add(req.peer.port);
    req.sendReply(200, "OK", req.inputBuffer);
  });
  server.setCb("/chunks", (req) => {
    const n = Number(new URLSearchParams(req.uri.split("?")[1] ?? "").get("n") ?? "3");
    req.sendReplyStart(200);
    let i = 0;
    const next = (): void => {
      if (i === n) {
        req.sendReplyEnd();
        return;
      }
      req.sendReplyChunk(`chunk ${i++};`, next);
    };
    next();
  });
  const handle = await server.bind("127.0.0.1", 0);
  return { port: handle.address.port, server, peers };
}

test("against levent's HttpServer: keep-alive requests, pipelined requests, all on one connection", async () => {
  const h = new Harness();
  try {
    const { port, server, peers } = await levent(h);
    const conn = h.connection({ port });
    for (let i = 0; i < 3; i++) assert.equal((await h.fetch(conn, "GET", "/hello")).body, "Hello, World!");
    conn.setPipelining(true);
    const outs = await Promise.all(
      ["a", "bb", "ccc", "dddd"].map((b) => h.fetch(conn, "POST", "/echo", (r) => r.outputBuffer.addString(b))),
    );
    assert.deepEqual(outs.map((o) => o.body), ["a", "bb", "ccc", "dddd"]);
    assert.equal(peers.size, 1);
    const missing = await h.fetch(conn, "GET", "/nowhere");
    assert.equal(missing.code, 404);
    server.free();
  } finally {
    await h.close();
  }
});

test("against levent's HttpServer: a chunked reply piece by piece, and a streamed upload echoed back", async () => {
  const h = new Harness();
  try {
    const { port, server } = await levent(h);
    const conn = h.connection({ port });
    const pieces: string[] = [];
    const out = await h.fetch(
      conn,
      "GET",
      "/chunks?n=5",
      (r) => r.setChunkedCb((req: HttpClientRequest) => pieces.push(dec.decode(req.inputBuffer.pullup()))),
    );
    assert.equal(out.state, "complete");
    assert.equal(pieces.join(""), "chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;");
    assert.equal(out.req.inputHeaders.get("transfer-encoding"), "chunked");

    const parts = ["streamed ", "upload ", "body"];
    const echoed = await h.fetch(
      conn,
      "PUT",
      "/echo",
      (r) =>
        r.setBodySource((async function* (): AsyncGenerator<string> {
          for (const p of parts) yield p;
        })()),
    );
    assert.equal(echoed.body, parts.join(""));
    server.free();
  } finally {
    await h.close();
  }
});

test("against levent's HttpServer: request() with the server's base", async () => {
  const h = new Harness();
  try {
    const { port, server } = await levent(h);
    const res = await request(`http://127.0.0.1:${port}/echo`, { method: "POST", body: "round trip", base: h.base });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "round trip");
    server.free();
  } finally {
    await h.close();
  }
});
