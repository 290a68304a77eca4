import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autoPlatform } from "../../adapters/auto.ts";
import { exchange, within } from "../util.ts";
import { cannotRunExamples, listeningPort, type RunningExample, startExample } from "./spawn_example.ts";

const platform = autoPlatform();
const skip = cannotRunExamples();
const curl = spawnSync("curl", ["--version"]).error === undefined;

/** Send raw bytes; resolve with the whole reply once the server closes. */
async function rawExchange(port: number, request: string): Promise<string> {
  return exchange(await platform.connect({ host: "127.0.0.1", port }), request);
}

async function withServer(fn: (base: string, port: number, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "levent-www-"));
  await writeFile(join(root, "index.html"), "<h1>levent</h1>\n");
  await mkdir(join(root, "docs"));
  await writeFile(join(root, "docs", "notes.txt"), "0123456789abcdefghij");
  let ex: RunningExample | undefined;
  try {
    ex = startExample("http-server", ["--port", "0", "--root", root]);
    const port = await listeningPort(ex);
    assert.match(ex.stdout(), /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    await fn(`http://127.0.0.1:${port}`, port, root);
    ex.kill("SIGTERM");
    assert.equal(await within(ex.exited, 10000, "exit"), 0);
  } finally {
    ex?.kill("SIGKILL");
    await rm(root, { recursive: true, force: true });
  }
}

test("http-server serves /hello, files with their type, directory listings, and ranges", { skip }, async () => {
  await withServer(async (base) => {
    const hello = await fetch(`${base}/hello`);
    assert.equal(await hello.text(), "Hello, World!");
    assert.equal(hello.headers.get("content-type"), "text/plain");
    const index = await fetch(`${base}/index.html`);
    assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await index.text(), "<h1>levent</h1>\n");
    const listing = await (await fetch(`${base}/docs/`)).text();
    assert.match(listing, /<a href="\/docs\/notes\.txt">notes\.txt<\/a>/);
    const part = await fetch(`${base}/docs/notes.txt`, { headers: { Range: "bytes=10-14" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 10-14/20");
    assert.equal(await part.text(), "abcde");
    const suffix = await fetch(`${base}/docs/notes.txt`, { headers: { Range: "bytes=-3" } });
    assert.equal(await suffix.text(), "hij");
    const beyond = await fetch(`${base}/docs/notes.txt`, { headers: { Range: "bytes=50-" } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), "bytes */20");
    await beyond.body?.cancel();
  });
});

test(
  "http-server answers 404, 405 with Allow, and 403 for paths escaping the root, raw or percent-encoded",
  { skip },
  async () => {
    await withServer(async (base, port) => {
      const missing = await fetch(`${base}/nope.txt`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const del = await fetch(`${base}/index.html`, { method: "DELETE" });
      assert.equal(del.status, 405);
      assert.equal(del.headers.get("allow"), "GET, HEAD");
      await del.body?.cancel();
      for (const target of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2f..%2fetc/passwd"]) {
        const reply = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 403 /, `${target}: ${reply.split("\r\n")[0]}`);
        assert.doesNotMatch(reply, /root:/);
      }
    });
  },
);

test("http-server echoes POST /echo, sends /chunked?n=N as N chunks on the wire, and answers HEAD without a body", {
  skip,
}, async () => {
  await withServer(async (base, port) => {
    const echo = await fetch(`${base}/echo`, { method: "POST", body: "ping pong" });
    assert.equal(await echo.text(), "ping pong");
    const chunked = await rawExchange(port, "GET /chunked?n=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(chunked, /\r\nTransfer-Encoding: chunked\r\n/i);
    const body = chunked.slice(chunked.indexOf("\r\n\r\n") + 4);
    const sizes = body.match(/^[0-9a-f]+\r\n/gm)!.map((line) => parseInt(line, 16));
    assert.deepEqual(sizes, [13, 13, 13, 13, 13, 0]);
    const head = await rawExchange(port, "HEAD /docs/notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(head, /\r\nContent-Length: 20\r\n/i);
    assert.ok(head.endsWith("\r\n\r\n"), "no body after a HEAD reply");
    const http10 = await rawExchange(port, "GET /hello HTTP/1.0\r\n\r\n");
    assert.match(http10, /Hello, World!$/, "an HTTP/1.0 request is answered, then the connection closes");
  });
});

test("http-server works with curl: keep-alive reuse across two URLs", {
  skip: skip ?? (curl ? undefined : "curl is not installed"),
}, async () => {
  await withServer((base) => {
    const r = spawnSync("curl", ["-sv", `${base}/hello`, `${base}/docs/notes.txt`], {
      encoding: "utf8",
      timeout: 10000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, World!0123456789abcdefghij");
    assert.match(r.stderr, /Re-using existing connection|reusing connection/i);
    return Promise.resolve();
  });
});

test("http-server rejects a --root that is not a directory with exit 2", { skip }, async () => {
  const ex = startExample("http-server", ["--root", "/definitely/not/here"]);
  assert.equal(await within(ex.exited, 20000, "exit"), 2);
  assert.match(ex.stderr(), /--root/);
});
