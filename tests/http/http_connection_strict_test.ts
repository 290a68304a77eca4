// The HTTP client against responses whose chunked framing ends a line with a
// bare LF (RFC 9112 §7.1 asks for CRLF there): the request fails with the
// parser's ERR_INVALID_CHUNK, through the callbacks and through request()'s
// promise, instead of succeeding with whatever a lenient reading made of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setDefaultPlatform } from "../../src/event/mod.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { request } from "../../src/http/client_fetch.ts";
import { Harness, platform, RawServer } from "./client_util.ts";
import { within } from "../util.ts";

setDefaultPlatform(platform);

const HEAD = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/** Bodies with one bare LF in their chunked framing, by where it is. */
const BARE_LF: [string, string][] = [
  ["after the chunk size", "5\nhello\r\n0\r\n\r\n"],
  ["after the chunk data", "5\r\nhello\n0\r\n\r\n"],
  ["after the last chunk", "5\r\nhello\r\n0\n\r\n"],
  ["ending the trailer section", "5\r\nhello\r\n0\r\n\n"],
  ["ending a trailer field line", "5\r\nhello\r\n0\r\nX-Sum: 1\n\r\n"],
];

test("a response with a bare LF in its chunked framing fails the request with ERR_INVALID_CHUNK", async () => {
  const h = new Harness();
  try {
    for (const [where, body] of BARE_LF) {
      // The server keeps the connection open: the client must decide from the bytes alone.
      const server = await h.server((_req, conn) => conn.write(HEAD + body));
      const conn = h.connection({ port: server.port });
      const errors: string[] = [];
      const out = await h.fetch(conn, "GET", "/", (req) => req.setErrorCb((kind) => errors.push(kind)));
      assert.equal(out.state, "failed", where);
      assert.equal(out.errorCode, "ERR_INVALID_CHUNK", where);
      assert.deepEqual(errors, ["invalid_header"], where);
      assert.ok(out.req.error instanceof HttpError, where);
      assert.equal(out.req.error?.status, 502, where);
    }
  } finally {
    await h.close();
  }
});

test("request() rejects the body of a response with a bare LF in its chunked framing", async () => {
  for (const [where, body] of BARE_LF) {
    const server = await RawServer.start((_req, conn) => conn.write(HEAD + body));
    try {
      const res = await within(request(`http://127.0.0.1:${server.port}/`), 5000, "the head");
      assert.equal(res.status, 200, where);
      await assert.rejects(
        within(res.text(), 5000, "the body"),
        (err: unknown) => err instanceof HttpError && err.code === "ERR_INVALID_CHUNK",
        where,
      );
    } finally {
      await server.close();
    }
  }
});
