// HttpServer against bytes that break RFC 9112's grammar, over real sockets:
// bare LF in chunked framing, request targets outside RFC 3986 (a fragment,
// `{`), and bytes that can never become a request. Each gets 400 and its
// connection closed, promptly (not 408 once the default header timeout of
// tens of seconds passes), while a well-behaved client on another
// connection goes on being served.
import { test } from "node:test";
import assert from "node:assert/strict";
import { get, type ParsedResponse, RawClient, splitResponses, startServer, type TestServer } from "./server_helpers.ts";

/** A server with the default options (a header timeout of tens of seconds) that echoes the method, the path and the body. */
function echoServer(): Promise<TestServer> {
  return startServer((server) => {
    server.setGenCb((req) => {
      const body = new TextDecoder().decode(req.inputBuffer.pullup());
      req.sendReply(200, "OK", `${req.method} ${req.uri} ${body}`);
    });
  });
}

/**
 * Send `request` on a fresh connection and return the one response, checking
 * that the server closes the connection after it within `ms`.
 */
async function answerAndClose(
  port: number,
  request: string | Uint8Array,
  ms: number,
): Promise<{ response: ParsedResponse; ms: number }> {
  const c = await RawClient.connect(port);
  try {
    c.send(request);
    const started = Date.now();
    await c.waitEnd(ms);
    const { responses } = splitResponses(c.text, [], true);
    const what = typeof request === "string" ? JSON.stringify(request.slice(0, 80)) : `${request.length} bytes`;
    assert.equal(responses.length, 1, `one response to ${what}: ${JSON.stringify(c.text.slice(0, 300))}`);
    assert.equal(responses[0].headers.connection, "close", what);
    return { response: responses[0], ms: Date.now() - started };
  } finally {
    c.close();
  }
}

/** A keep-alive client on its own connection: each call sends one GET and checks the answer. */
async function wellBehaved(port: number): Promise<{ check: (path: string) => Promise<void>; close: () => void }> {
  const c = await RawClient.connect(port);
  let served = 0;
  return {
    async check(path: string): Promise<void> {
      c.send(get(path));
      const rs = await c.responses(++served, [], 5000);
      assert.equal(rs[served - 1].status, 200);
      assert.equal(rs[served - 1].body, `GET ${path} `);
      assert.equal(c.isEnded, false, "the well-behaved connection stays open");
    },
    close: () => c.close(),
  };
}

const CHUNKED_HEAD = "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";

test("a bare LF in chunked framing gets 400 and the connection closes, while another client is served", async () => {
  const s = await echoServer();
  try {
    const other = await wellBehaved(s.port);
    await other.check("/before");
    const cases = [
      "5\nhello\r\n0\r\n\r\n", // after the chunk size
      "5;x=1\nhello\r\n0\r\n\r\n", // after a chunk extension
      "5\r\nhello\n0\r\n\r\n", // after the chunk data
      "5\r\nhello\r\n0\n\r\n", // after the last chunk
      "5\r\nhello\r\n0\r\n\n", // ending the trailer section
      "5\r\nhello\r\n0\r\nX-Sum: 1\n\r\n", // ending a trailer field line
    ];
    for (const body of cases) {
      const { response } = await answerAndClose(s.port, CHUNKED_HEAD + body, 2000);
      assert.equal(response.status, 400, JSON.stringify(body));
      await other.check("/after");
    }
    other.close();
  } finally {
    await s.stop();
  }
});

test("the same chunked body with CRLF everywhere is served", async () => {
  const s = await echoServer();
  try {
    const c = await RawClient.connect(s.port);
    c.send(CHUNKED_HEAD + "5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Sum: 1\r\n\r\n");
    const [r] = await c.responses(1);
    assert.equal(r.status, 200);
    assert.equal(r.body, "POST /up hello!");
    c.close();
  } finally {
    await s.stop();
  }
});

test("a fragment or a byte outside RFC 3986 in the request target gets 400 and the connection closes", async () => {
  const s = await echoServer();
  try {
    const other = await wellBehaved(s.port);
    const targets = [
      "/hello#frag",
      "/hello#",
      "/hello?a#b",
      "http://t/hello#frag",
      "/hello?q={}",
      "/a|b",
      "/a%zz",
      "http://u@t/",
    ];
    for (const target of targets) {
      const { response } = await answerAndClose(s.port, get(target), 2000);
      assert.equal(response.status, 400, target);
      await other.check("/hello");
    }
    // What RFC 3986 allows is served as sent.
    await other.check("/a:b@c!$&'()*+,;=-._~%2F?x=/?y");
    other.close();
  } finally {
    await s.stop();
  }
});

test("bytes that can never become a request get 400 within a second, not 408 after the header timeout", async () => {
  const s = await echoServer();
  try {
    const other = await wellBehaved(s.port);
    const inputs: [string, string | Uint8Array][] = [
      ["three control bytes", "\x00\x01\x02"],
      ["5,000 bytes of 0xFF", new Uint8Array(5000).fill(0xff)],
      ["a TLS ClientHello start", "\x16\x03\x01\x02\x00"],
      ["a bad method byte", "GE(T"],
      ["a control byte in the target", "GET /a\x01"],
      ["a fragment before the line ends", "GET /hello#"],
      ["a bad version byte", "GET / HTTP/1,"],
      ["empty lines, then garbage", "\r\n\r\n\xff"],
    ];
    for (const [name, bytes] of inputs) {
      const { response, ms } = await answerAndClose(s.port, bytes, 1000);
      assert.equal(response.status, 400, name);
      assert.ok(ms < 1000, `${name}: answered after ${ms} ms`);
      await other.check("/still");
    }
    other.close();
  } finally {
    await s.stop();
  }
});
