import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServeHandler } from "../../src/http/mod.ts";
import { platform, resettable, startServe as start } from "./serve_helpers.ts";
import { deferred, exchange, within } from "../util.ts";

/** One response read off the wire. */
interface Reply {
  status: number;
  fields: Map<string, string>;
  body: string;
}

/** Split the text of responses sent in a row; `methods` says which answered HEAD (no body). */
function replies(text: string, methods: string[]): Reply[] {
  const out: Reply[] = [];
  let at = 0;
  for (const method of methods) {
    const end = text.indexOf("\r\n\r\n", at);
    assert.ok(end >= 0, `response ${out.length + 1} has no head in ${JSON.stringify(text.slice(at))}`);
    const lines = text.slice(at, end).split("\r\n");
    const fields = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    at = end + 4;
    let body = "";
    if (method === "HEAD") {
      // No body follows a HEAD answer, whatever its fields say.
    } else if (fields.get("transfer-encoding") === "chunked") {
      for (;;) {
        const lineEnd = text.indexOf("\r\n", at);
        const size = parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else {
      const length = Number(fields.get("content-length") ?? "0");
      body = text.slice(at, at + length);
      at += length;
    }
    out.push({ status: Number(lines[0].split(" ")[1]), fields, body });
  }
  assert.equal(text.slice(at), "", "nothing follows the last response");
  return out;
}

const enc = new TextEncoder();

/** Responses of each kind of body, by path. */
const handler: ServeHandler = (req) => {
  const path = new URL(req.url).pathname;
  switch (path) {
    case "/string":
      return new Response("a string body", { headers: { "content-type": "text/plain" } });
    case "/bare":
      return new Response("bare body");
    case "/bytes":
      return new Response(enc.encode("some bytes"), { status: 201 });
    case "/buffer":
      return new Response(enc.encode("an ArrayBuffer").buffer as ArrayBuffer);
    case "/null":
      return new Response(null, { status: 204 });
    case "/touched": {
      // The handler looked at the body stream: it is read, and still goes out whole.
      const response = new Response("touched");
      void response.body;
      return response;
    }
    case "/stream":
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            controller.enqueue(enc.encode("late chunk"));
            controller.close();
          },
        }),
      );
    default:
      return new Response("not found", { status: 404 });
  }
};

test("whole bodies (string, bytes, ArrayBuffer, none) go out with Content-Length beside a streamed one, in order on one connection", async () => {
  const server = await start(handler);
  const requests: [string, string][] = [
    ["GET", "/string"],
    ["GET", "/stream"],
    ["GET", "/bare"],
    ["GET", "/bytes"],
    ["GET", "/buffer"],
    ["GET", "/null"],
    ["GET", "/touched"],
    ["HEAD", "/string"],
    ["HEAD", "/bytes"],
    ["GET", "/string"],
  ];
  const raw = requests.map(([m, p], i) =>
    `${m} ${p} HTTP/1.1\r\nHost: h\r\n${i === requests.length - 1 ? "Connection: close\r\n" : ""}\r\n`
  ).join("");
  try {
    const socket = await platform.connect({ host: "127.0.0.1", port: server.address.port });
    const text = await exchange(socket, raw, /a string body$/);
    const [string, stream, bare, bytes, buffer, none, touched, headString, headBytes, again] = replies(
      text,
      requests.map(([m]) => m),
    );
    assert.deepEqual([string.status, string.fields.get("content-length"), string.body], [200, "13", "a string body"]);
    assert.equal(string.fields.get("content-type"), "text/plain");
    assert.equal(string.fields.has("transfer-encoding"), false);
    assert.equal(stream.fields.get("transfer-encoding"), "chunked");
    assert.equal(stream.fields.has("content-length"), false);
    assert.equal(stream.body, "late chunk");
    assert.deepEqual([bare.fields.get("content-length"), bare.body], ["9", "bare body"]);
    assert.equal(bare.fields.get("content-type"), "text/plain;charset=UTF-8");
    assert.deepEqual([bytes.status, bytes.fields.get("content-length"), bytes.body], [201, "10", "some bytes"]);
    assert.deepEqual([buffer.fields.get("content-length"), buffer.body], ["14", "an ArrayBuffer"]);
    assert.deepEqual([none.status, none.fields.has("content-length"), none.body], [204, false, ""]);
    assert.deepEqual([touched.fields.get("content-length"), touched.body], ["7", "touched"]);
    assert.deepEqual([headString.status, headString.fields.get("content-length")], [200, "13"]);
    assert.deepEqual([headBytes.status, headBytes.fields.get("content-length")], [201, "10"]);
    assert.deepEqual([again.fields.get("content-length"), again.body], ["13", "a string body"]);
  } finally {
    await within(server.shutdown(), 10000, "shutdown");
  }
});

test("Platform.wholeBody, where the runtime has it, gives a Response's string or bytes and nothing for a stream or a used body", async () => {
  const wholeBody = platform.wholeBody;
  if (platform.name !== "deno") {
    // Node's and Bun's Responses keep their body where JavaScript cannot see it: serve() reads the stream there.
    assert.equal(wholeBody, undefined);
    return;
  }
  assert.equal(typeof wholeBody, "function");
  const get = wholeBody!.bind(platform);
  assert.equal(get(new Response("alone")), "alone");
  assert.equal(get(new Response("with init", { status: 201, headers: { "x-a": "1" } })), "with init");
  assert.equal(get(Response.json({ a: 1 })), '{"a":1}');
  assert.deepEqual([...(get(new Response(new Uint8Array([1, 2, 3]))) as Uint8Array)], [1, 2, 3]);
  assert.deepEqual([...(get(new Response(new Uint8Array([4]).buffer)) as Uint8Array)], [4]);
  assert.equal(get(new Response(new ReadableStream())), undefined);
  assert.equal(get(new Response(null)), undefined);
  const used = new Response("used");
  await used.text();
  assert.equal(get(used), undefined);
  const streamed = new Response("streamed");
  void streamed.body;
  assert.equal(get(streamed), undefined);
});

test("a streamed body waiting for its first chunk is cancelled when the client goes, as one waiting for a later chunk", async () => {
  for (const first of [false, true]) {
    const cancelled = deferred<unknown>();
    const server = await start(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            if (first) controller.enqueue(enc.encode("first"));
          },
          pull: () => new Promise(() => {}),
          cancel: (reason) => cancelled.resolve(reason ?? "cancelled"),
        }),
      )
    );
    try {
      const client = await resettable(server.address.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
      await client.until(first ? /\r\n\r\n[^]*first/ : /\r\n\r\n/, 10000, "the head");
      client.reset();
      await within(cancelled.promise, 10000, `the body's cancel (first chunk sent: ${first})`);
    } finally {
      await within(server.shutdown(), 10000, "shutdown");
    }
  }
});
