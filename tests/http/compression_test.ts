// HTTP compression both ways, and the body helpers. The server's compress
// option (HttpServer and serve()): Accept-Encoding negotiated with
// q-values, what is skipped, Vary, ETag, whole replies with their coded
// length and streamed replies compressed chunk by chunk with their flow
// control, read back by node:zlib and by the runtime's own fetch. The
// client's decoding (HttpClientRequest.setDecompression, request()): the
// Accept-Encoding it sends, gzip, deflate and br bodies, a corrupt one, the
// decoded size bound. And text(), json(), bytes() on both request kinds.
import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { EventBase, setDefaultPlatform } from "../../src/event/mod.ts";
import { HttpServer, type HttpServerOptions } from "../../src/http/http_server.ts";
import type { HttpServerRequest } from "../../src/http/http_server_request.ts";
import { HttpConnection } from "../../src/http/http_connection.ts";
import { HttpClientRequest } from "../../src/http/http_client_request.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { request } from "../../src/http/client_fetch.ts";
import { serve } from "../../src/http/serve.ts";
import { negotiateEncoding, parseAcceptEncoding } from "../../src/http/content_encoding.ts";
import { platform, RawServer, response } from "./client_util.ts";
import { startServer, type TestServer } from "./server_helpers.ts";
import { deferred, sleep, within } from "../util.ts";

setDefaultPlatform(platform);

const enc = new TextEncoder();
const dec = new TextDecoder();
const hasBrotli = platform.compression.formats.includes("br");
/** A text body well over the default minSize. */
const PAGE = "<p>levent compresses what the client takes compressed.</p>\n".repeat(100);

/** node:zlib's one-shot decoders: an implementation levent did not write. */
function decode(coding: string | null, body: Uint8Array): Uint8Array {
  const out = coding === "gzip"
    ? zlib.gunzipSync(body)
    : coding === "deflate"
    ? zlib.inflateSync(body)
    : coding === "br"
    ? zlib.brotliDecompressSync(body)
    : body;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** What came back for one request: the status, the fields, the bytes as they came. */
interface Raw {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Send one request with levent's client, taking the body as it comes (no decoding), and read all of it. */
async function get(port: number, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Raw> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers, decompress: false });
  const h = new Headers();
  res.headers.forEach((value, name) => h.append(name, value));
  return { status: res.status, headers: h, body: await res.bytes() };
}

async function withCompressingServer(
  setup: (server: HttpServer) => void,
  body: (s: TestServer) => Promise<void>,
  options: HttpServerOptions = { compress: true },
): Promise<void> {
  const s = await startServer(setup, options);
  try {
    await body(s);
  } finally {
    await s.stop();
  }
}

test("Accept-Encoding: q-values, the server's order for ties, identity and *, malformed entries left out", () => {
  const offered = ["br", "gzip", "deflate"] as const;
  const pick = (...values: string[]): string | null => negotiateEncoding(values, offered);
  assert.equal(pick("gzip, deflate, br"), "br", "equal weights: the server's first");
  assert.equal(pick("gzip;q=1.0, br;q=0.5"), "gzip");
  assert.equal(pick("br;q=0, gzip;q=0.1"), "gzip", "identity unlisted is only the fallback");
  assert.equal(pick("*"), "br");
  assert.equal(pick("*;q=0.5, gzip"), "gzip");
  assert.equal(pick("identity"), null);
  assert.equal(pick("gzip;q=0.5, identity"), null, "identity weighs more");
  assert.equal(pick("gzip;q=0.5, identity;q=0"), "gzip");
  assert.equal(pick("compress, zstd"), null);
  assert.equal(pick(""), null);
  assert.equal(negotiateEncoding([], offered), null, "no Accept-Encoding: identity");
  assert.equal(pick("GZIP;Q=0.9, x-gzip;q=0.2"), "gzip", "case, and x-gzip read as gzip");
  assert.equal(pick("gzip;q=2, deflate;q=abc, br;q=0.3"), "br", "out-of-range and malformed q leave the entry out");
  assert.equal(pick("gzip", "br;q=0.1"), "gzip", "two fields together");
  assert.deepEqual([...parseAcceptEncoding(["gzip;q=0.5, gzip;q=0.8"])], [["gzip", 0.8]]);
});

test("a whole reply is compressed as the client asks: coded length, Vary, a weak ETag; node:zlib reads it", async () => {
  await withCompressingServer((server) => {
    server.setCb("/page", (req) => {
      req.outputHeaders.set("Content-Type", "text/html; charset=utf-8");
      req.outputHeaders.set("ETag", '"v1"');
      req.outputHeaders.set("Vary", "Origin");
      req.sendReply(200, "OK", PAGE);
    });
  }, async (s) => {
    const cases: [string, string | null][] = [
      ["gzip", "gzip"],
      ["deflate", "deflate"],
      ["gzip, deflate, br", hasBrotli ? "br" : "gzip"],
      ["br;q=0.2, gzip;q=0.8", "gzip"],
      ["identity", null],
    ];
    for (const [accept, expected] of cases) {
      const r = await get(s.port, "/page", { "accept-encoding": accept });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-encoding"), expected, accept);
      assert.equal(r.headers.get("vary"), "Origin, Accept-Encoding", accept);
      assert.equal(Number(r.headers.get("content-length")), r.body.length, `${accept}: the coded length`);
      assert.equal(r.headers.get("etag"), expected === null ? '"v1"' : 'W/"v1"', accept);
      assert.equal(dec.decode(decode(expected, r.body)), PAGE, accept);
      if (expected !== null) assert.ok(r.body.length < PAGE.length / 10, `${accept}: ${r.body.length} bytes`);
    }
    const none = await get(s.port, "/page");
    assert.equal(none.headers.get("content-encoding"), null, "no Accept-Encoding: as it is");
    assert.equal(none.headers.get("vary"), "Origin, Accept-Encoding");
  });
});

test("what is not compressed: small bodies, other types, HEAD, 204, 206, coded or no-transform responses", async () => {
  await withCompressingServer((server) => {
    server.setGenCb((req) => {
      const path = req.path;
      const out = req.outputHeaders;
      out.set("Content-Type", "text/plain");
      if (path === "/small") return req.sendReply(200, "OK", "short");
      if (path === "/png") {
        out.set("Content-Type", "image/png");
        return req.sendReply(200, "OK", PAGE);
      }
      if (path === "/untyped") {
        out.remove("content-type");
        return req.sendReply(200, "OK", PAGE);
      }
      if (path === "/coded") {
        out.set("Content-Encoding", "gzip");
        return req.sendReply(200, "OK", zlib.gzipSync(PAGE));
      }
      if (path === "/no-transform") {
        out.set("Cache-Control", "public, no-transform");
        return req.sendReply(200, "OK", PAGE);
      }
      if (path === "/range") {
        out.set("Content-Range", `bytes 0-${PAGE.length - 1}/${PAGE.length * 2}`);
        return req.sendReply(206, "Partial Content", PAGE);
      }
      if (path === "/empty") return req.sendReply(204);
      req.sendReply(200, "OK", PAGE);
    });
  }, async (s) => {
    const accept = { "accept-encoding": "gzip, br" };
    for (const path of ["/small", "/png", "/no-transform", "/range", "/empty"]) {
      const r = await get(s.port, path, accept);
      assert.equal(r.headers.get("content-encoding"), null, path);
      assert.equal(r.headers.get("vary"), null, `${path}: no Vary for what never varies`);
    }
    const coded = await get(s.port, "/coded", accept);
    assert.equal(coded.headers.get("content-encoding"), "gzip");
    assert.equal(dec.decode(decode("gzip", coded.body)), PAGE, "compressed once, by the application");
    const head = await get(s.port, "/page", accept, "HEAD");
    assert.equal(head.headers.get("content-encoding"), null, "HEAD");
    assert.equal(head.headers.get("content-length"), String(PAGE.length));
    const text = await get(s.port, "/page", accept);
    assert.equal(text.headers.get("content-encoding"), hasBrotli ? "br" : "gzip");
    const typed = await get(s.port, "/untyped", accept);
    assert.equal(typed.headers.get("content-type"), "text/html; charset=ISO-8859-1", "the server's default type");
    assert.equal(typed.headers.get("content-encoding"), hasBrotli ? "br" : "gzip", "is textual");
    s.server.setDefaultContentType(null);
    const untyped = await get(s.port, "/untyped", accept);
    assert.equal(untyped.headers.get("content-encoding"), null, "a body of no type is sent as it is");
  });
});

test("options: a filter, minSize, the encodings offered and their order, levels; bad options throw", async () => {
  await withCompressingServer((server) => {
    server.setGenCb((req) => {
      req.outputHeaders.set("Content-Type", req.path === "/bin" ? "application/octet-stream" : "text/plain");
      req.sendReply(200, "OK", req.path === "/tiny" ? "0123456789" : PAGE);
    });
  }, async (s) => {
    const accept = { "accept-encoding": "gzip, deflate, br" };
    assert.equal((await get(s.port, "/bin", accept)).headers.get("content-encoding"), "deflate", "the filter's say");
    assert.equal((await get(s.port, "/text", accept)).headers.get("content-encoding"), null, "refused by the filter");
    assert.equal((await get(s.port, "/tiny", accept)).headers.get("content-encoding"), null, "minSize 16");
    s.server.setCompression({ encodings: ["gzip", "br"], minSize: 8, level: 1 });
    const tiny = await get(s.port, "/tiny", accept);
    assert.equal(tiny.headers.get("content-encoding"), "gzip");
    assert.equal(dec.decode(decode("gzip", tiny.body)), "0123456789");
    s.server.setCompression(false);
    assert.equal((await get(s.port, "/text", accept)).headers.get("content-encoding"), null, "turned off");
  }, {
    compress: { filter: (_req, type) => type === "application/octet-stream", minSize: 16, encodings: ["deflate"] },
  });
  const server = new HttpServer(new EventBase({ platform }));
  assert.throws(() => server.setCompression("yes" as unknown as boolean), TypeError);
  assert.throws(() => server.setCompression({ encodings: ["zstd" as "gzip"] }), TypeError);
  assert.throws(() => server.setCompression({ level: 10 }), RangeError);
  assert.throws(() => server.setCompression({ brotliQuality: 12 }), RangeError);
  assert.throws(() => server.setCompression({ minSize: -1 }), RangeError);
  assert.throws(() =>
    new HttpServer(new EventBase({ platform }), { compress: { filter: 3 as unknown as () => boolean } })
  );
  server.free();
});

test("a streamed reply is compressed chunk by chunk: each chunk decodes as it arrives, flushes pace the producer", async () => {
  const next = deferred();
  const flushed: number[] = [];
  await withCompressingServer((server) => {
    server.setCb("/events", async (req) => {
      req.outputHeaders.set("Content-Type", "text/event-stream");
      req.outputHeaders.set("Content-Length", "99999");
      req.sendReplyStart(200);
      req.sendReplyChunk("data: first\n\n", () => flushed.push(1));
      await next.promise;
      req.sendReplyChunk(enc.encode("data: second\n\n"), () => flushed.push(2));
      req.sendReplyEnd();
    });
  }, async (s) => {
    const base = new EventBase({ platform });
    const conn = new HttpConnection(base, { host: "127.0.0.1", port: s.port });
    const pieces: string[] = [];
    const first = deferred();
    const done = deferred();
    const req = new HttpClientRequest(() => done.resolve());
    req.setErrorCb((kind, r) => done.reject(new Error(`${kind}: ${r.error?.message}`)));
    req.setDecompression();
    req.setChunkedCb((r) => {
      pieces.push(dec.decode(r.inputBuffer.pullup()));
      first.resolve();
    });
    conn.makeRequest(req, "GET", "/events");
    const loop = base.loop({ noExitOnEmpty: true });
    try {
      await within(first.promise, 5000, "the first chunk, decoded, before the second is written");
      assert.equal(pieces.join(""), "data: first\n\n");
      assert.equal(req.inputHeaders.get("content-encoding"), hasBrotli ? "br" : "gzip");
      assert.equal(req.inputHeaders.get("transfer-encoding"), "chunked", "the declared length gave way");
      assert.equal(req.inputHeaders.get("content-length"), null);
      next.resolve();
      await within(done.promise, 5000, "the end of the stream");
      assert.equal(pieces.join(""), "data: first\n\ndata: second\n\n");
      assert.deepEqual(flushed, [1, 2]);
    } finally {
      conn.free();
      base.loopBreak();
      await loop;
    }
  });
});

test("a large streamed reply keeps the write flow control: the producer waits for flushes, the client gets every byte", async () => {
  const CHUNK = 64 * 1024;
  const CHUNKS = 64;
  let written = 0;
  await withCompressingServer((server) => {
    server.setCb("/big", (req) => {
      req.outputHeaders.set("Content-Type", "application/json");
      req.sendReplyStart(200);
      const send = (): void => {
        if (written === CHUNKS) {
          req.sendReplyEnd();
          return;
        }
        const chunk = enc.encode(`{"n":${written},"pad":"${"x".repeat(CHUNK - 30)}"}\n`);
        written++;
        req.sendReplyChunk(chunk, send);
      };
      send();
    });
  }, async (s) => {
    const res = await request(`http://127.0.0.1:${s.port}/big`);
    assert.equal(res.headers.get("content-encoding"), hasBrotli ? "br" : "gzip");
    let lines = 0;
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
    }
    assert.equal(lines, CHUNKS);
    assert.ok(bytes > CHUNKS * (CHUNK - 30), `${bytes} decoded bytes`);
  });
});

test("the runtime's own fetch reads levent's compressed replies, whole and streamed", async () => {
  await withCompressingServer((server) => {
    server.setCb("/whole", (req) => {
      req.outputHeaders.set("Content-Type", "text/plain");
      req.sendReply(200, "OK", PAGE);
    });
    server.setCb("/stream", (req) => {
      req.outputHeaders.set("Content-Type", "text/plain");
      req.sendReplyStart(200);
      for (let i = 0; i < 5; i++) req.sendReplyChunk(PAGE);
      req.sendReplyEnd();
    });
  }, async (s) => {
    for (const path of ["/whole", "/stream"]) {
      const res = await fetch(`http://127.0.0.1:${s.port}${path}`);
      assert.equal(res.status, 200);
      // Every runtime asks for gzip; Deno's and Node's fetch hide nothing of the coding they undid, or drop the field.
      assert.equal(await res.text(), path === "/whole" ? PAGE : PAGE.repeat(5), path);
    }
  });
});

test("serve({ compress: true }): a Response's string body and a streamed one are compressed", async () => {
  const web = await serve((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/stream") {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(enc.encode(PAGE));
          setTimeout(() => {
            c.enqueue(enc.encode(PAGE));
            c.close();
          }, 20);
        },
      });
      return new Response(body, { headers: { "content-type": "text/plain" } });
    }
    return new Response(PAGE, { headers: { "content-type": "text/html" } });
  }, { hostname: "127.0.0.1", port: 0, compress: true, onListen: () => {} });
  try {
    const whole = await get(web.address.port, "/", { "accept-encoding": "gzip" });
    assert.equal(whole.headers.get("content-encoding"), "gzip");
    assert.equal(dec.decode(decode("gzip", whole.body)), PAGE);
    const streamed = await get(web.address.port, "/stream", { "accept-encoding": "gzip" });
    assert.equal(streamed.headers.get("content-encoding"), "gzip");
    assert.equal(dec.decode(decode("gzip", streamed.body)), PAGE + PAGE);
  } finally {
    await web.shutdown();
  }
});

// ---------------------------------------------------------------- the client

test("setDecompression: Accept-Encoding sent, gzip / deflate / br bodies decoded, fields as they came, unknown codings left alone", async () => {
  const bodies: Record<string, Uint8Array> = {
    gzip: zlib.gzipSync(PAGE),
    deflate: zlib.deflateSync(PAGE),
    raw: zlib.deflateRawSync(PAGE),
    br: zlib.brotliCompressSync(PAGE),
    twice: zlib.gzipSync(zlib.deflateSync(PAGE)),
  };
  const server = await RawServer.start((req, conn) => {
    const name = req.head.target.slice(1);
    const coding = name === "raw" ? "deflate" : name === "twice" ? "deflate, gzip" : name === "zstd" ? "zstd" : name;
    const body = name === "zstd" ? enc.encode("not decoded") : name === "empty" ? new Uint8Array(0) : bodies[name];
    conn.write(
      `HTTP/1.1 200 OK\r\nContent-Encoding: ${
        name === "empty" ? "gzip" : coding
      }\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    conn.write(body);
  });
  try {
    const base = new EventBase({ platform });
    const conn = new HttpConnection(base, { host: "127.0.0.1", port: server.port });
    const results: Record<string, string> = {};
    const names = ["gzip", "deflate", "raw", "twice", "zstd", "empty", ...(hasBrotli ? ["br"] : [])];
    const all = names.map((name) => {
      const req = new HttpClientRequest();
      req.setDecompression();
      conn.makeRequest(req, "GET", `/${name}`);
      return req.text().then((t) => {
        results[name] = t;
        assert.equal(req.inputHeaders.has("content-encoding"), true);
      });
    });
    conn.freeOnCompletion();
    await within(Promise.all([...all, base.dispatch()]), 10000, "the coded responses");
    for (const name of ["gzip", "deflate", "raw", "twice", "br"]) {
      if (name in results) assert.equal(results[name], PAGE, name);
    }
    assert.equal(results.zstd, "not decoded");
    assert.equal(results.empty, "");
    const sent = server.conns[0].requests[0];
    assert.equal(sent.header("accept-encoding"), hasBrotli ? "gzip, deflate, br" : "gzip, deflate");
  } finally {
    await server.close();
  }
});

test("a corrupt coded body fails the request (invalid_header, ERR_CONTENT_ENCODING); past maxDecodedSize it is data_too_long", async () => {
  const bomb = zlib.gzipSync(new Uint8Array(8 << 20));
  const corrupt = zlib.gzipSync(PAGE);
  corrupt.fill(0x55, 20, 60);
  const server = await RawServer.start((req, conn) => {
    const body = req.head.target === "/bomb" ? bomb : corrupt;
    conn.write(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`);
    conn.write(body);
  });
  try {
    const base = new EventBase({ platform });
    const conn = new HttpConnection(base, { host: "127.0.0.1", port: server.port });
    const outcome = (
      path: string,
      options?: { maxDecodedSize: number },
    ): Promise<[string | null, string | undefined]> => {
      const req = new HttpClientRequest();
      req.setDecompression(options ?? true);
      conn.makeRequest(req, "GET", path);
      return req.bytes().then(
        () => [null, undefined],
        (err: unknown) => [req.errorKind, (err as HttpError).code],
      );
    };
    const loop = base.loop({ noExitOnEmpty: true });
    try {
      assert.deepEqual(await within(outcome("/corrupt"), 5000, "the corrupt body"), [
        "invalid_header",
        "ERR_CONTENT_ENCODING",
      ]);
      assert.deepEqual(await within(outcome("/bomb", { maxDecodedSize: 1 << 20 }), 5000, "the bomb"), [
        "data_too_long",
        "ERR_BODY_TOO_LARGE",
      ]);
      assert.deepEqual(await within(outcome("/bomb"), 5000, "the bomb under the default bound"), [null, undefined]);
    } finally {
      conn.free();
      base.loopBreak();
      await loop;
    }
  } finally {
    await server.close();
  }
});

test("request() decodes by default and sends Accept-Encoding; decompress: false takes the body as it came", async () => {
  const coded = zlib.gzipSync(PAGE);
  const server = await RawServer.start((_req, conn) => {
    conn.write(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${coded.length}\r\n\r\n`);
    conn.write(coded);
  });
  try {
    const res = await request(`http://127.0.0.1:${server.port}/`);
    assert.equal(await res.text(), PAGE);
    assert.equal(server.conns[0].requests[0].header("accept-encoding")?.startsWith("gzip, deflate"), true);
    const raw = await request(`http://127.0.0.1:${server.port}/`, { decompress: false });
    assert.deepEqual(await raw.bytes(), new Uint8Array(coded));
    assert.equal(server.conns[1].requests[0].header("accept-encoding"), null);
    const mine = await request(`http://127.0.0.1:${server.port}/`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(await mine.text(), PAGE, "a caller's Accept-Encoding, the body still decoded");
    assert.equal(server.conns[2].requests[0].header("accept-encoding"), "gzip");
  } finally {
    await server.close();
  }
});

test("setDecompression is refused after makeRequest, and takes only a boolean or an object", () => {
  const req = new HttpClientRequest();
  assert.throws(() => req.setDecompression("yes" as unknown as boolean), TypeError);
  assert.throws(() => req.setDecompression({ maxDecodedSize: -1 }), RangeError);
  req.setDecompression({ maxDecodedSize: Infinity });
  assert.equal(req.decompression, true);
  req.setDecompression(false);
  assert.equal(req.decompression, false);
  const base = new EventBase({ platform });
  const conn = new HttpConnection(base, { host: "127.0.0.1", port: 9 });
  conn.makeRequest(req, "GET", "/");
  assert.throws(() => req.setDecompression(), TypeError);
  conn.free();
});

// ---------------------------------------------------------------- body helpers

test("HttpServerRequest text(), json(), bytes(): a body read whole, a streamed one past the watermark, one over the 8 MiB limit, one cut short", async () => {
  const seen: unknown[] = [];
  const s = await startServer((server) => {
    server.setCb("/json", async (req: HttpServerRequest) => {
      seen.push(await req.json());
      req.sendReply(200, "OK", await req.text());
    });
    server.setCb("/stream", async (req: HttpServerRequest) => {
      try {
        const body = await req.bytes();
        req.sendReply(200, "OK", String(body.length));
      } catch (err) {
        seen.push(err);
        if (err instanceof HttpError) req.sendReply(err.status, undefined, err.code);
      }
    }, { streamBody: true });
    server.setCb("/late", (req: HttpServerRequest) => {
      req.sendReply(200, "OK", "answered first");
      seen.push(req.bytes().catch((err: unknown) => err));
    }, { streamBody: true });
  }, { bodyHighWatermark: 4096 });
  try {
    const url = `http://127.0.0.1:${s.port}`;
    const json = await request(`${url}/json`, { method: "POST", body: '{"hello":"world"}' });
    assert.equal(await json.text(), '{"hello":"world"}');
    assert.deepEqual(seen.shift(), { hello: "world" });

    const big = new Uint8Array(1 << 20).fill(7);
    const streamed = await request(`${url}/stream`, { method: "POST", body: big });
    assert.equal(await streamed.text(), String(big.length), "collected past bodyHighWatermark");

    const over = await request(`${url}/stream`, { method: "POST", body: new Uint8Array(9 << 20) });
    assert.equal(over.status, 413);
    assert.equal(await over.text(), "ERR_BODY_TOO_LARGE");

    const late = await request(`${url}/late`, {
      method: "POST",
      body: (async function* () {
        yield "part";
        await sleep(50);
        yield "rest";
      })(),
    });
    assert.equal(await late.text(), "answered first");
    const lateErr = await seen.pop();
    assert.ok(lateErr instanceof TypeError, "answered before the body: skipped");

    // A body cut short: the client says 100 bytes and sends 10, then closes.
    const socket = await platform.connect({ host: "127.0.0.1", port: s.port });
    socket.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
    socket.write(enc.encode("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
    await sleep(30);
    socket.close();
    await within(
      (async () => {
        while (!seen.some((e) => e instanceof HttpError && e.code === "ERR_INCOMPLETE")) await sleep(10);
      })(),
      5000,
      "the cut body's rejection",
    );
  } finally {
    await s.stop();
  }
});

test("HttpClientRequest text(), json(), bytes(): settle when the request ends; reject with its error; not with a chunked callback", async () => {
  const server = await RawServer.start((req, conn) => {
    if (req.head.target === "/json") conn.write(response(200, '{"a":[1,2]}'));
    else if (req.head.target === "/cut") {
      conn.write("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort");
      conn.end();
    } else conn.write(response(200, "plain"));
  });
  try {
    const base = new EventBase({ platform });
    const conn = new HttpConnection(base, { host: "127.0.0.1", port: server.port });
    const make = (path: string): HttpClientRequest => {
      const req = new HttpClientRequest();
      conn.makeRequest(req, "GET", path);
      return req;
    };
    const loop = base.loop({ noExitOnEmpty: true });
    try {
      const a = make("/json");
      assert.deepEqual(await within(a.json(), 5000, "json"), { a: [1, 2] });
      assert.equal(await a.text(), '{"a":[1,2]}', "again, once complete");
      const cut = make("/cut");
      await assert.rejects(
        within(cut.bytes(), 5000, "the cut body"),
        (err) => err instanceof HttpError && err.code === "ERR_INCOMPLETE",
      );
      const chunked = new HttpClientRequest();
      chunked.setChunkedCb(() => {});
      conn.makeRequest(chunked, "GET", "/plain");
      await assert.rejects(within(chunked.text(), 5000, "text with a chunked callback"), TypeError);
      const cancelled = make("/plain");
      const p = cancelled.bytes();
      cancelled.cancel();
      await assert.rejects(p, (err) => err instanceof HttpError && err.code === "ERR_CANCELLED");
    } finally {
      conn.free();
      base.loopBreak();
      await loop;
    }
  } finally {
    await server.close();
  }
});
