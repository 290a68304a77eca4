import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
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

async function withServer(
  fn: (base: string, port: number, root: string, ex: RunningExample) => Promise<void>,
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "levent-www-"));
  await writeFile(join(root, "index.html"), "<h1>levent</h1>\n");
  await mkdir(join(root, "docs"));
  await writeFile(join(root, "docs", "notes.txt"), "0123456789abcdefghij");
  let ex: RunningExample | undefined;
  try {
    ex = startExample("http-server", ["--port", "0", "--root", root]);
    const port = await listeningPort(ex);
    assert.match(ex.stdout(), /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    await fn(`http://127.0.0.1:${port}`, port, root, ex);
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

test(
  "http-server redirects a directory asked for without its trailing slash to the slashed path (301)",
  { skip },
  async () => {
    await withServer(async (base, port) => {
      const r = await fetch(`${base}/docs?sort=name`, { redirect: "manual" });
      assert.equal(r.status, 301);
      assert.equal(r.headers.get("location"), "/docs/?sort=name");
      await r.body?.cancel();
      const followed = await fetch(`${base}/docs`);
      assert.equal(followed.url, `${base}/docs/`);
      assert.match(await followed.text(), /<a href="\/docs\/notes\.txt">/);
      // The redirect keeps the connection: a second request on it is answered too.
      const both = await rawExchange(
        port,
        "GET /docs HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.match(both, /^HTTP\/1\.1 301 /);
      assert.match(both, /Hello, World!$/);
    });
  },
);

test(
  "http-server refuses with 403 a symlink inside the root that points outside it, and serves one that stays inside",
  {
    skip,
  },
  async () => {
    await withServer(async (base, _port, root) => {
      await symlink("/etc/passwd", join(root, "passwd"));
      await symlink(join(root, "docs"), join(root, "docs-link"));
      await symlink("/etc", join(root, "etc-dir"));
      const out = await fetch(`${base}/passwd`);
      assert.equal(out.status, 403);
      assert.doesNotMatch(await out.text(), /root:/);
      const dir = await fetch(`${base}/etc-dir/`);
      assert.equal(dir.status, 403);
      await dir.body?.cancel();
      const inside = await fetch(`${base}/docs-link/notes.txt`);
      assert.equal(inside.status, 200);
      assert.equal(await inside.text(), "0123456789abcdefghij");
    });
  },
);

/** A process's resident set now and at its peak, in bytes (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

test("http-server streams a large POST /echo back with flow control: 512 MiB through it leaves its memory bounded", {
  skip: skip ?? (process.platform === "linux" ? undefined : "reads /proc"),
}, async () => {
  await withServer(async (_base, port, _root, ex) => {
    const before = memoryOf(ex.pid);
    const total = 512 * 1024 * 1024;
    const chunk = new Uint8Array(1024 * 1024).fill(0x61);
    const socket = await platform.connect({ host: "127.0.0.1", port });
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.start({
        data: (bytes) => {
          received += bytes.length;
          if (received >= total) resolve();
        },
        end() {},
        drain: () => pump(),
        error: reject,
        close: () => resolve(),
      });
    });
    socket.write(new TextEncoder().encode(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n`));
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!socket.write(chunk)) return;
      }
    };
    pump();
    await within(done, 60000, "the echo");
    socket.close();
    const after = memoryOf(ex.pid);
    assert.ok(received >= total, `received ${received} of ${total} bytes`);
    // Buffering the body (the old /echo) grows the peak by more than the body itself.
    const growth = after.peak - before.rss;
    assert.ok(growth < 128 * 1024 * 1024, `peak RSS grew by ${Math.round(growth / 1048576)} MiB during a 512 MiB echo`);
  });
});

test(
  "http-server answers 400 and closes on strict framing errors: a bare LF in a chunked body, a fragment in the target",
  {
    skip,
  },
  async () => {
    await withServer(async (_base, port) => {
      for (
        const request of [
          "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
          "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
          "GET /hello#frag HTTP/1.1\r\nHost: x\r\n\r\n",
          "\x00\x01\x02",
        ]
      ) {
        const reply = await rawExchange(port, request);
        assert.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(request));
        assert.match(reply, /\r\nConnection: close\r\n/i);
      }
    });
  },
);
