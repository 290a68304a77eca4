// fetch() equivalence: the same cases run through the runtime's own fetch
// and levent's, against a node:http server (a peer nobody here wrote) and
// a levent HttpServer serving the same routes, and must give the same
// observable results: status, headers, body bytes, redirect handling,
// what the server received, and the type of each error. Where a runtime's
// fetch departs from the Fetch standard (Bun and Deno in a few cases, Node 20's
// bundled undici in one), the case names the departure and levent's result is
// checked against the standard's instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import process from "node:process";
import type { AddressInfo, Socket } from "node:net";
import zlib from "node:zlib";
import { EventBase, setDefaultPlatform } from "../../src/event/mod.ts";
import { HttpServer } from "../../src/http/http_server.ts";
import type { HttpServerRequest } from "../../src/http/http_server_request.ts";
import { fetch as leventFetch, HttpClientPool } from "../../src/http/fetch.ts";
import { platform } from "./client_util.ts";
import { deferred, within } from "../util.ts";

setDefaultPlatform(platform);

const enc = new TextEncoder();
const dec = new TextDecoder();
const runtime = platform.name;
/**
 * The keys a case's departures are looked up by: the runtime's name and, on
 * Node, also with its major version ("node20"), for a defect of the undici one
 * Node release bundles. (Deno and Bun report a Node version too, but not theirs.)
 */
const runtimeKeys: string[] = runtime === "node" ? [runtime, `node${process.versions.node.split(".")[0]}`] : [runtime];
const nativeFetch = globalThis.fetch.bind(globalThis);

/** A response a route gives: the head, the body in parts, and how it ends. */
interface Reply {
  status: number;
  headers: [string, string][];
  parts: Uint8Array[];
  /** Wait for this before the last part. */
  hold?: Promise<void>;
  /** Close the connection instead of ending the body. */
  cut?: boolean;
}

/** What a request was, as a route sees it. */
interface Seen {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: Uint8Array;
  framing: "length" | "chunked" | "none";
}

const BIG = new Uint8Array(1 << 20).map((_, i) => (i * 31 + (i >> 11)) & 0xff);
const TEXT = enc.encode("levent fetch equivalence: ".repeat(400));
const CODED: Record<string, Uint8Array> = {
  gzip: zlib.gzipSync(TEXT),
  deflate: zlib.deflateSync(TEXT),
  "deflate-raw": zlib.deflateRawSync(TEXT),
  br: zlib.brotliCompressSync(TEXT),
};
/** Fields of a request the echo route reports: those every client sends alike. */
const ECHOED = ["content-type", "content-length", "transfer-encoding", "authorization", "cookie", "x-one", "x-two"];

/** Released by a test to let a held route finish. */
let release = deferred();

function reply(status: number, body: string | Uint8Array = "", headers: [string, string][] = []): Reply {
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  return { status, headers, parts: bytes.length === 0 ? [] : [bytes] };
}

/** The routes both servers serve. `other` is the other server's origin (for a cross-origin redirect). */
async function route(seen: Seen, other: string): Promise<Reply> {
  const url = new URL(seen.target, "http://x");
  const path = url.pathname;
  const parts = path.split("/").filter((p) => p !== "");
  switch (parts[0]) {
    case "echo": {
      const headers: Record<string, string> = {};
      for (const name of ECHOED) if (seen.headers[name] !== undefined) headers[name] = seen.headers[name];
      let body: unknown = dec.decode(seen.body);
      const type = seen.headers["content-type"] ?? "";
      if (type.startsWith("multipart/form-data")) {
        // Boundaries differ from client to client: compare the parts, not the bytes.
        const form = await new Response(seen.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": type } })
          .formData();
        const entries: [string, string][] = [];
        form.forEach((value, name) => entries.push([name, typeof value === "string" ? value : `file ${value.name}`]));
        body = entries;
        headers["content-type"] = "multipart/form-data";
        delete headers["content-length"];
      }
      return reply(
        200,
        JSON.stringify({ method: seen.method, target: seen.target, framing: seen.framing, headers, body }),
        [["Content-Type", "application/json"]],
      );
    }
    case "text":
      return reply(200, "hello, fetch", [["Content-Type", "text/plain; charset=utf-8"], ["X-Custom", "one"]]);
    case "cookies":
      return reply(200, "cookies", [["Set-Cookie", "a=1; Path=/"], ["Set-Cookie", "b=2"], ["X-List", "x"], [
        "X-List",
        "y",
      ]]);
    case "status":
      return reply(Number(parts[1]), Number(parts[1]) === 204 || Number(parts[1]) === 304 ? "" : `status ${parts[1]}`);
    case "redirect": {
      const location = url.searchParams.get("to") ?? "/echo";
      return reply(Number(parts[1]), "moved", location === "none" ? [] : [["Location", location]]);
    }
    case "chain": {
      const n = Number(parts[1]);
      return n === 0 ? reply(200, "end of chain") : reply(302, "", [["Location", `/chain/${n - 1}`]]);
    }
    case "cross":
      return reply(302, "", [["Location", `${other}/echo`]]);
    case "big":
      return reply(200, BIG, [["Content-Type", "application/octet-stream"]]);
    case "coded": {
      const format = parts[1];
      return reply(200, CODED[format], [["Content-Type", "text/plain"], [
        "Content-Encoding",
        format === "deflate-raw" ? "deflate" : format,
      ]]);
    }
    case "negotiated": {
      // What a server that honours Accept-Encoding sends: gzip when asked for.
      const accepted = (seen.headers["accept-encoding"] ?? "").includes("gzip");
      return accepted
        ? reply(200, CODED.gzip, [["Content-Type", "text/plain"], ["Content-Encoding", "gzip"], [
          "Vary",
          "Accept-Encoding",
        ]])
        : reply(200, TEXT, [["Content-Type", "text/plain"], ["Vary", "Accept-Encoding"]]);
    }
    case "held":
      return {
        status: 200,
        headers: [["Content-Type", "text/plain"]],
        parts: [enc.encode("first part, "), enc.encode("second part")],
        hold: release.promise,
      };
    case "cut":
      return { status: 200, headers: [["Content-Length", "100"]], parts: [enc.encode("only ten b")], cut: true };
  }
  return reply(404, "not found");
}

/** A node:http server serving the routes. */
async function nodeServer(other: () => string): Promise<{ origin: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", async () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : String(v);
      const body = new Uint8Array(Buffer.concat(chunks));
      const framing = headers["transfer-encoding"] !== undefined
        ? "chunked"
        : headers["content-length"] !== undefined
        ? "length"
        : "none";
      const r = await route({ method: req.method ?? "", target: req.url ?? "", headers, body, framing }, other());
      const head: [string, string][] = r.headers;
      if (r.cut) {
        res.writeHead(r.status, head);
        res.write(r.parts[0]);
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (r.hold === undefined) {
        res.writeHead(r.status, [...head, ["Content-Length", String(r.parts.reduce((n, p) => n + p.length, 0))]]);
        for (const p of r.parts) res.write(p);
        res.end();
        return;
      }
      res.writeHead(r.status, head);
      for (const p of r.parts.slice(0, -1)) res.write(p);
      await r.hold;
      res.end(r.parts[r.parts.length - 1]);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A levent HttpServer serving the routes. */
async function leventServer(other: () => string): Promise<{ origin: string; close(): Promise<void> }> {
  const base = new EventBase({ platform });
  const server = new HttpServer(base, {
    defaultContentType: null,
    allowedMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE"],
  });
  server.setGenCb(async (req: HttpServerRequest) => {
    const headers: Record<string, string> = {};
    req.inputHeaders.forEach((value, name) => {
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    });
    const framing = headers["transfer-encoding"] !== undefined
      ? "chunked"
      : headers["content-length"] !== undefined
      ? "length"
      : "none";
    const body = await req.bytes();
    const r = await route({ method: req.method, target: req.uri, headers, body: body.slice(), framing }, other());
    for (const [name, value] of r.headers) req.outputHeaders.add(name, value);
    if (r.cut) {
      req.sendReplyStart(r.status);
      req.sendReplyChunk(r.parts[0]);
      setTimeout(() => req.closeConnection(), 20);
      return;
    }
    if (r.hold === undefined) {
      req.sendReply(r.status, undefined, r.parts.length === 0 ? undefined : r.parts[0]);
      return;
    }
    req.sendReplyStart(r.status);
    for (const p of r.parts.slice(0, -1)) req.sendReplyChunk(p);
    await r.hold;
    req.sendReplyChunk(r.parts[r.parts.length - 1]);
    req.sendReplyEnd();
  });
  const bound = await server.bind("127.0.0.1", 0);
  const loop = base.dispatch();
  return {
    origin: `http://127.0.0.1:${bound.address.port}`,
    async close() {
      server.free();
      await within(loop, 5000, "the levent server's loop to end");
    },
  };
}

type Fetch = (input: string | URL | Request, init?: RequestInit & { duplex?: "half" }) => Promise<Response>;

/** What a test compares: a response as data, or an error's type. */
type Observation = Record<string, unknown>;

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "date"]);

/** The response as data: status, the headers but the hop-by-hop ones and Date, the body (text, or its length and a checksum). */
async function observe(res: Response, origin: string, body: "text" | "bytes" | "none" = "text"): Promise<Observation> {
  const headers: [string, string][] = [];
  res.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
  });
  headers.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  const o: Observation = {
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    url: res.url.replace(origin, "ORIGIN"),
    redirected: res.redirected,
    headers,
    setCookie: res.headers.getSetCookie(),
    hasBody: res.body !== null,
  };
  if (body === "text") o.body = await res.text();
  if (body === "bytes") {
    const bytes = new Uint8Array(await res.arrayBuffer());
    let sum = 0;
    for (let i = 0; i < bytes.length; i++) sum = (sum * 31 + bytes[i]) >>> 0;
    o.body = { length: bytes.length, sum };
  }
  return o;
}

/** An error as data: its constructor's name and, for a DOMException, its name. */
function failure(err: unknown): Observation {
  if (err instanceof DOMException) return { error: "DOMException", name: err.name };
  return { error: (err as Error)?.constructor?.name ?? typeof err };
}

async function settle(p: () => Promise<Observation>): Promise<Observation> {
  try {
    return await p();
  } catch (err) {
    return failure(err);
  }
}

interface Case {
  readonly name: string;
  run(f: Fetch, origin: string): Promise<Observation>;
  /**
   * Runtimes whose own fetch departs from the standard (or from what
   * undici, browsers and Bun do) here, and why, keyed by runtime name or, for
   * one Node release, by "node" and its major version ("node20"); the
   * runtime's fetch may then give another result or throw, and levent's
   * result is checked against `standard` (the whole result) or by `expect`.
   */
  readonly departs?: Partial<Record<string, string>>;
  readonly standard?: (origin: string) => Observation;
  readonly expect?: (ours: Observation) => void;
  /** Skip where levent cannot do it on this runtime (with why). */
  readonly skip?: () => string | false;
}

const json = async (res: Response): Promise<Observation> => ({ status: res.status, echo: await res.json() });

const CASES: Case[] = [
  { name: "a GET: status, headers and body", run: async (f, o) => observe(await f(`${o}/text`), o) },
  {
    name: "a 404 and a 500 are responses, not errors",
    run: async (f, o) => ({
      a: await observe(await f(`${o}/status/404`), o),
      b: await observe(await f(`${o}/status/500`), o),
    }),
  },
  {
    name: "a 204 and a HEAD have no body",
    run: async (f, o) => ({
      a: await observe(await f(`${o}/status/204`), o),
      b: await observe(await f(`${o}/text`, { method: "HEAD" }), o),
    }),
  },
  {
    name: "repeated Set-Cookie and list fields",
    run: async (f, o) => observe(await f(`${o}/cookies`), o),
  },
  { name: "a 1 MiB body arrives whole", run: async (f, o) => observe(await f(`${o}/big`), o, "bytes") },
  {
    name: "methods: standard ones upper-cased in any case, others as given",
    run: async (f, o) => ({
      post: (await json(await f(`${o}/echo`, { method: "post", body: "x" }))).echo,
      del: (await json(await f(`${o}/echo`, { method: "Delete" }))).echo,
      opt: (await json(await f(`${o}/echo`, { method: "options" }))).echo,
      custom: (await json(await f(`${o}/echo`, { method: "PURGE" }))).echo,
    }),
    departs: {
      bun: 'Bun\'s fetch sends "Delete" as GET, Content-Length: 0 with no body, a string body without a type',
    },
    expect: (ours) => {
      const method = (key: string): unknown => (ours[key] as { method: string }).method;
      assert.deepEqual([method("post"), method("del"), method("opt"), method("custom")], [
        "POST",
        "DELETE",
        "OPTIONS",
        "PURGE",
      ]);
      assert.equal((ours.opt as { framing: string }).framing, "none");
    },
  },
  {
    name: "a string body is text/plain;charset=UTF-8 with its length",
    run: async (f, o) => json(await f(`${o}/echo`, { method: "POST", body: "héllo" })),
    departs: { bun: "Bun's fetch sends a string body without a Content-Type" },
    standard: () => ({
      status: 200,
      echo: {
        method: "POST",
        target: "/echo",
        framing: "length",
        headers: { "content-type": "text/plain;charset=UTF-8", "content-length": "6" },
        body: "héllo",
      },
    }),
  },
  {
    name: "bytes, an ArrayBuffer and a DataView are sent with their length and no type",
    run: async (f, o) => ({
      a: await json(await f(`${o}/echo`, { method: "PUT", body: enc.encode("bytes") })),
      b: await json(await f(`${o}/echo`, { method: "PUT", body: enc.encode("buffer").buffer })),
      c: await json(await f(`${o}/echo`, { method: "PUT", body: new DataView(enc.encode("view").buffer) })),
    }),
  },
  {
    name: "URLSearchParams, a Blob and FormData carry their types",
    run: async (f, o) => {
      const form = new FormData();
      form.append("a", "1");
      form.append("b", "two");
      return {
        params: await json(await f(`${o}/echo`, { method: "POST", body: new URLSearchParams({ q: "a b", r: "é" }) })),
        blob: await json(await f(`${o}/echo`, { method: "POST", body: new Blob(["blob"], { type: "text/x-blob" }) })),
        form: await json(await f(`${o}/echo`, { method: "POST", body: form })),
      };
    },
  },
  {
    name: "a ReadableStream body with duplex half goes chunked",
    run: async (f, o) => {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(enc.encode("streamed "));
          c.enqueue(enc.encode("body"));
          c.close();
        },
      });
      return json(await f(`${o}/echo`, { method: "POST", body: stream, duplex: "half" }));
    },
  },
  {
    name: "a ReadableStream body without duplex is a TypeError",
    run: (f, o) =>
      settle(async () =>
        observe(await f(`${o}/echo`, { method: "POST", body: new ReadableStream({ start: (c) => c.close() }) }), o)
      ),
    departs: {
      deno: "Deno's fetch sends a stream without duplex",
      bun: "Bun's fetch sends a stream without duplex",
    },
    standard: () => ({ error: "TypeError" }),
  },
  {
    name: "headers: a Headers, a record and pairs are sent",
    run: async (f, o) => ({
      a: (await json(await f(`${o}/echo`, { headers: new Headers({ "X-One": "1", Authorization: "Bearer t" }) }))).echo,
      b: (await json(await f(`${o}/echo`, { headers: { "x-one": "1", "x-two": "2" } }))).echo,
      c: (await json(await f(`${o}/echo`, { headers: [["X-Two", "a"], ["X-Two", "b"]] }))).echo,
    }),
  },
  {
    name: "a GET or HEAD with a body, a forbidden method, a malformed method or header are TypeErrors",
    run: async (f, o) => ({
      get: await settle(async () => observe(await f(`${o}/echo`, { body: "x" }), o)),
      head: await settle(async () => observe(await f(`${o}/echo`, { method: "HEAD", body: "x" }), o)),
      connect: await settle(async () => observe(await f(`${o}/echo`, { method: "TRACE" }), o)),
      method: await settle(async () => observe(await f(`${o}/echo`, { method: "BAD METHOD" }), o)),
      header: await settle(async () => observe(await f(`${o}/echo`, { headers: { "bad name": "x" } }), o)),
    }),
    departs: { bun: "Bun's fetch sends TRACE" },
    standard: () => ({
      get: { error: "TypeError" },
      head: { error: "TypeError" },
      connect: { error: "TypeError" },
      method: { error: "TypeError" },
      header: { error: "TypeError" },
    }),
  },
  {
    name: "a URL that is not one, or not http(s), is a TypeError",
    run: async (f) => ({
      relative: await settle(async () => observe(await f("/relative"), "")),
      scheme: await settle(async () => observe(await f("ftp://127.0.0.1/"), "")),
    }),
  },
  {
    name: "a URL with credentials is a TypeError",
    run: (f, o) => settle(async () => observe(await f(o.replace("http://", "http://user:pw@") + "/echo"), o)),
    departs: {
      bun: "Bun's fetch sends the credentials as Basic authorization",
      deno: "Deno's fetch sends the credentials as Basic authorization",
    },
    standard: () => ({ error: "TypeError" }),
  },
  {
    name: "a bad port (the standard's list) is a TypeError, even with a server there",
    run: async (f) => {
      // A server on the bad port, where the port is free: a fetch that connects would get its 200.
      const s = http.createServer((_req, res) => res.end("bad port served"));
      const listening = await new Promise<boolean>((resolve) => {
        s.once("error", () => resolve(false));
        s.listen(6666, "127.0.0.1", () => resolve(true));
      });
      try {
        return await settle(async () => observe(await f("http://127.0.0.1:6666/"), "http://127.0.0.1:6666"));
      } finally {
        if (listening) await new Promise<void>((r) => s.close(() => r()));
      }
    },
    departs: { bun: "Bun's fetch connects to bad ports" },
    standard: () => ({ error: "TypeError" }),
  },
  {
    name: "a refused connection is a TypeError",
    run: async (f) => {
      const s = http.createServer();
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      const port = (s.address() as AddressInfo).port;
      await new Promise<void>((r) => s.close(() => r()));
      return settle(async () => observe(await f(`http://127.0.0.1:${port}/`), ""));
    },
  },
  {
    name: "redirects 301, 302, 303, 307, 308 are followed: the URL and redirected say so",
    run: async (f, o) => {
      const out: Record<string, unknown> = {};
      for (const code of [301, 302, 303, 307, 308]) {
        out[code] = await observe(await f(`${o}/redirect/${code}?to=/text`), o);
      }
      return out;
    },
  },
  {
    name: "a POST redirected by 301 or 302 becomes a GET without body; 303 turns a PUT into GET; 307 and 308 keep both",
    run: async (f, o) => {
      const out: Record<string, unknown> = {};
      const headers = { "content-type": "text/x-payload", "x-one": "kept" };
      for (const code of [301, 302, 307, 308]) {
        out[code] = await json(
          await f(`${o}/redirect/${code}`, { method: "POST", body: enc.encode("payload"), headers }),
        );
      }
      out["303"] = await json(await f(`${o}/redirect/303`, { method: "PUT", body: enc.encode("payload"), headers }));
      return out;
    },
    departs: {
      // Node 20's bundled undici (6.x) hands the body's ArrayBuffer to the
      // socket (detaching it) and then extracts the body again for the
      // redirected request: "Cannot perform ArrayBuffer.prototype.slice on a
      // detached ArrayBuffer". Node 22 and later send it again.
      node20: "Node 20's fetch fails (TypeError: fetch failed) on a 307 or 308 of a request with a Uint8Array body",
    },
    expect: (ours) => {
      const seen = (code: number): unknown => {
        const { method, target, body, headers } = (ours[code] as { echo: Record<string, unknown> }).echo;
        const h = headers as Record<string, string>;
        return { method, target, body, type: h["content-type"], one: h["x-one"] };
      };
      const get = { method: "GET", target: "/echo", body: "", type: undefined, one: "kept" };
      const post = { method: "POST", target: "/echo", body: "payload", type: "text/x-payload", one: "kept" };
      assert.deepEqual([301, 302, 303, 307, 308].map(seen), [get, get, get, post, post]);
    },
  },
  {
    name: "res.url leaves out the fragment, an empty one too; a URL fetched again after its redirect starts over",
    run: async (f, o) => ({
      hash: await observe(await f(`${o}/text#part`), o),
      empty: await observe(await f(`${o}/text#`), o),
      first: await observe(await f(`${o}/redirect/302?to=/echo%23x`), o),
      again: await observe(await f(`${o}/redirect/302?to=/echo%23x`), o),
      other: await observe(await f(`${o}/text`), o),
    }),
    departs: { bun: "Bun's fetch keeps the fragment in res.url" },
    expect: (ours) => {
      const url = (key: string): unknown => (ours[key] as { url: string }).url;
      assert.deepEqual(["hash", "empty", "first", "again", "other"].map(url), [
        "ORIGIN/text",
        "ORIGIN/text",
        "ORIGIN/echo",
        "ORIGIN/echo",
        "ORIGIN/text",
      ]);
      assert.equal((ours.again as { redirected: boolean }).redirected, true);
    },
  },
  {
    name: "a relative Location resolves against the URL",
    run: async (f, o) => observe(await f(`${o}/redirect/302?to=../text`), o),
  },
  {
    name: "a redirect status without Location is the response, its body kept",
    run: async (f, o) => observe(await f(`${o}/redirect/302?to=none`), o),
    departs: { deno: "Deno's fetch drops the body of a 3xx without Location" },
    expect: (ours) => {
      assert.equal(ours.status, 302);
      assert.equal(ours.redirected, false);
      assert.equal(ours.body, "moved");
    },
  },
  {
    name: "redirect: manual gives the 3xx; redirect: error is a TypeError",
    run: async (f, o) => ({
      manual: await observe(await f(`${o}/redirect/302?to=/text`, { redirect: "manual" }), o, "none"),
      error: await settle(async () => observe(await f(`${o}/redirect/302?to=/text`, { redirect: "error" }), o)),
    }),
  },
  {
    name: "20 redirects are followed, the 21st is a TypeError",
    run: async (f, o) => ({
      twenty: await observe(await f(`${o}/chain/20`), o),
      more: await settle(async () => observe(await f(`${o}/chain/21`), o)),
    }),
    departs: { bun: "Bun's fetch follows more than 20 redirects" },
    expect: (ours) => {
      assert.equal((ours.twenty as Observation).status, 200);
      assert.deepEqual(ours.more, { error: "TypeError" });
    },
  },
  {
    name: "a redirect to a non-http(s) URL is a TypeError",
    run: (f, o) => settle(async () => observe(await f(`${o}/redirect/302?to=ftp://127.0.0.1/x`), o)),
  },
  {
    name: "a streamed body cannot follow a 307 (TypeError) but follows a 303 as a GET",
    run: async (f, o) => {
      const stream = (): ReadableStream<Uint8Array> =>
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode("s"));
            c.close();
          },
        });
      return {
        r307: await settle(async () =>
          observe(await f(`${o}/redirect/307`, { method: "POST", body: stream(), duplex: "half" }), o)
        ),
        r303: await json(await f(`${o}/redirect/303`, { method: "POST", body: stream(), duplex: "half" })),
      };
    },
  },
  {
    name: "Authorization and Cookie are dropped when a redirect leaves the origin, kept within it",
    run: async (f, o) => {
      const headers = { authorization: "Bearer secret", cookie: "id=1", "x-one": "kept" };
      return {
        same: (await json(await f(`${o}/redirect/302`, { headers }))).echo,
        cross: (await json(await f(`${o}/cross`, { headers }))).echo,
      };
    },
  },
  {
    name: "a gzip body is decoded; its fields stay",
    run: async (f, o) => observe(await f(`${o}/coded/gzip`), o),
  },
  {
    name: "a deflate body is decoded, zlib-wrapped or raw (as browsers take it); its fields stay",
    run: async (f, o) => ({
      deflate: await observe(await f(`${o}/coded/deflate`), o),
      raw: await observe(await f(`${o}/coded/deflate-raw`), o),
    }),
    departs: { deno: "Deno's fetch does not decode deflate (it asks for gzip and br only)" },
    expect: (ours) => {
      for (const key of ["deflate", "raw"]) {
        const o = ours[key] as Observation;
        assert.equal(o.body, dec.decode(TEXT), `${key} decoded`);
        assert.ok((o.headers as [string, string][]).some(([n, v]) => n === "content-encoding" && v === "deflate"));
      }
    },
  },
  {
    name: "a br body is decoded",
    run: async (f, o) => observe(await f(`${o}/coded/br`), o),
    skip: () =>
      platform.compression.formats.includes("br") ? false : `levent lists no "br" on ${runtime} (Compression.formats)`,
  },
  {
    name: "a server that honours Accept-Encoding sends gzip, and it is decoded",
    run: async (f, o) => {
      const res = await f(`${o}/negotiated`);
      return { status: res.status, encoding: res.headers.get("content-encoding"), body: await res.text() };
    },
  },
  {
    name: "an AbortSignal aborted before the call rejects with its reason, at once",
    run: async (f, o) => ({
      plain: await settle(async () => observe(await f(`${o}/text`, { signal: AbortSignal.abort() }), o)),
      reason: await settle(async () =>
        observe(await f(`${o}/text`, { signal: AbortSignal.abort(new RangeError("r")) }), o)
      ),
    }),
  },
  {
    name: "an abort while the body streams errors the body with the reason",
    run: async (f, o) => {
      release = deferred();
      const ac = new AbortController();
      const res = await f(`${o}/held`, { signal: ac.signal });
      const reader = res.body!.getReader();
      const first = dec.decode((await reader.read()).value);
      ac.abort(new SyntaxError("stop"));
      const after = await reader.read().then(() => ({ error: "none" }), failure);
      release.resolve();
      return { status: res.status, first, after };
    },
  },
  {
    name: "a body cut short errors its reading with a TypeError",
    run: async (f, o) => {
      const res = await f(`${o}/cut`);
      return { status: res.status, body: await res.text().then(() => ({ error: "none" }), failure) };
    },
  },
  {
    name: "a Request as input: its method, headers and body",
    run: async (f, o) =>
      json(
        await f(
          new Request(`${o}/echo`, { method: "PATCH", headers: { "x-one": "r" }, body: new Uint8Array([104, 105]) }),
        ),
      ),
  },
];

/** The servers, each told the other's origin for the cross-origin redirect. */
interface Servers {
  node: { origin: string; close(): Promise<void> };
  levent: { origin: string; close(): Promise<void> };
}

async function start(): Promise<Servers> {
  const origins = { node: "", levent: "" };
  const node = await nodeServer(() => origins.levent);
  const levent = await leventServer(() => origins.node);
  origins.node = node.origin;
  origins.levent = levent.origin;
  return { node, levent };
}

for (const c of CASES) {
  const why = c.skip?.();
  test(`fetch equivalence: ${c.name}`, { skip: why === false ? undefined : why }, async () => {
    const servers = await start();
    const pool = new HttpClientPool();
    const levent: Fetch = (input, init) => leventFetch(input, { ...init, pool });
    try {
      for (const kind of ["node", "levent"] as const) {
        const origin = servers[kind].origin;
        const ours = await within(c.run(levent, origin), 20000, `levent's fetch on the ${kind} server`);
        const key = runtimeKeys.find((k) => c.departs?.[k] !== undefined);
        const departure = key === undefined ? undefined : c.departs?.[key];
        const native = (): Promise<Observation> =>
          within(c.run(nativeFetch as Fetch, origin), 20000, `${runtime}'s fetch on the ${kind} server`);
        // A departing fetch may also throw where the standard gives a response.
        const theirs = departure === undefined ? await native() : await settle(native);
        if (departure === undefined) {
          assert.deepEqual(ours, theirs, `levent's fetch and ${runtime}'s on the ${kind} server`);
        } else {
          // The runtime departs from the standard here: levent is checked against the standard's result.
          assert.notDeepEqual(theirs, ours, `${key} still departs (${departure})? update the case`);
          if (c.standard !== undefined) {
            assert.deepEqual(ours, c.standard(origin), `levent's fetch on the ${kind} server, as the standard says`);
          }
          c.expect?.(ours);
        }
      }
    } finally {
      release.resolve();
      pool.close();
      await servers.node.close();
      await servers.levent.close();
    }
  });
}

test("levent's fetch answers with the runtime's own Response and Headers classes", async () => {
  const servers = await start();
  const pool = new HttpClientPool();
  try {
    const res = await leventFetch(`${servers.node.origin}/text`, { pool });
    assert.equal(Object.getPrototypeOf(res), Response.prototype);
    assert.ok(res.headers instanceof Headers);
    assert.equal(await res.text(), "hello, fetch");
  } finally {
    pool.close();
    await servers.node.close();
    await servers.levent.close();
  }
});
