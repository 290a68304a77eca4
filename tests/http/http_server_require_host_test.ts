/**
 * HttpServer's requireHost option: an HTTP/1.1 request without Host gets 400
 * by default (RFC 9112 §3.2) and is served when the option is off, as
 * libevent's evhttp serves its own clients (evrpc's among them), which send
 * none.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpParser } from "../../src/http/http_parser.ts";
import { HttpServer } from "../../src/http/mod.ts";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import { EventBase } from "../../src/event/mod.ts";
import { platform, RawClient, startServer } from "./server_helpers.ts";

const NO_HOST = "POST /.rpc.Message HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";

function firstEvent(parser: HttpParser<"request">, text: string): string {
  const input = new EvBuffer();
  input.addString(text);
  const ev = parser.parse(input);
  return ev.type === "error" ? `error ${ev.error.code}` : ev.type;
}

test("the parser refuses an HTTP/1.1 request without Host unless requireHost is false", () => {
  assert.equal(firstEvent(new HttpParser("request"), "GET / HTTP/1.1\r\n\r\n"), "error ERR_INVALID_HOST");
  assert.equal(
    firstEvent(new HttpParser("request", {}, { requireHost: true }), "GET / HTTP/1.1\r\n\r\n"),
    "error ERR_INVALID_HOST",
  );
  assert.equal(firstEvent(new HttpParser("request", {}, { requireHost: false }), "GET / HTTP/1.1\r\n\r\n"), "head");
});

test("with requireHost false two Host fields or a malformed one are still refused", () => {
  const lax = (): HttpParser<"request"> => new HttpParser("request", {}, { requireHost: false });
  assert.equal(firstEvent(lax(), "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "error ERR_INVALID_HOST");
  assert.equal(firstEvent(lax(), "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), "error ERR_INVALID_HOST");
});

test("a bad requireHost option is a TypeError naming it", () => {
  assert.throws(
    () => new HttpParser("request", {}, { requireHost: "no" as unknown as boolean }),
    /options\.requireHost must be a boolean, got "no" \(a string\)/,
  );
  const base = new EventBase({ platform });
  assert.throws(
    () => new HttpServer(base, { requireHost: 0 as unknown as boolean }),
    (err: unknown) => err instanceof TypeError && /on must be a boolean, got 0/.test(err.message),
  );
  assert.throws(() => new HttpServer(base).setRequireHost(null as unknown as boolean), TypeError);
});

test("a server answers an HTTP/1.1 request without Host with 400 by default", async () => {
  const s = await startServer((server) => server.setGenCb((req) => req.sendReply(200, "OK", "served")));
  try {
    const c = await RawClient.connect(s.port);
    c.send(NO_HOST);
    const text = await c.waitFor((t) => t.includes("\r\n\r\n"), 5000, "the 400");
    assert.match(text, /^HTTP\/1\.1 400 /);
    c.socket.close();
  } finally {
    await s.stop();
  }
});

test("a server with requireHost false serves an HTTP/1.1 request without Host, body and all", async () => {
  let seen = "";
  let host: string | null = "unset";
  const s = await startServer((server) =>
    server.setCb("/.rpc.Message", (req) => {
      seen = new TextDecoder().decode(req.inputBuffer.pullup());
      host = req.getHost();
      req.sendReply(200, "OK", "served");
    }), { requireHost: false });
  try {
    const c = await RawClient.connect(s.port);
    c.send(NO_HOST);
    const text = await c.waitFor((t) => t.endsWith("served"), 5000, "the answer");
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(seen, "hello");
    assert.equal(host, null);
    c.socket.close();
  } finally {
    await s.stop();
  }
});

test("setRequireHost(false) applies to connections accepted afterwards", async () => {
  const s = await startServer((server) => server.setGenCb((req) => req.sendReply(200, "OK", "served")));
  try {
    s.server.setRequireHost(false);
    const c = await RawClient.connect(s.port);
    c.send("GET / HTTP/1.1\r\n\r\n");
    const text = await c.waitFor((t) => t.endsWith("served"), 5000, "the answer");
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    c.socket.close();
  } finally {
    await s.stop();
  }
});
