import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
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

/** A fixed modification time for the conditional tests, and the Last-Modified it gives. */
const MTIME = new Date("2020-01-02T03:04:05Z");
const LAST_MODIFIED = "Thu, 02 Jan 2020 03:04:05 GMT";

/** The status, the headers asked for, and the body of a GET (or `method`) with `headers`. */
async function ask(
  url: string,
  headers: Record<string, string>,
  method = "GET",
): Promise<{ status: number; body: string; header(name: string): string | null }> {
  const res = await fetch(url, { method, headers });
  const body = await res.text();
  return { status: res.status, body, header: (name) => res.headers.get(name) };
}

test(
  "http-server answers conditional requests: 304 on a matching If-None-Match or If-Modified-Since, 200 when the validator differs, 412 on If-Match, and If-Range",
  { skip },
  async () => {
    await withServer(async (base, _port, root) => {
      await utimes(join(root, "docs", "notes.txt"), MTIME, MTIME);
      const url = `${base}/docs/notes.txt`;
      const first = await ask(url, {});
      assert.equal(first.status, 200);
      assert.equal(first.header("last-modified"), LAST_MODIFIED);
      const etag = first.header("etag")!;
      assert.match(etag, /^"[0-9a-f]+-14"$/, "a strong tag ending in the size (20 = 0x14)");

      for (
        const [why, headers] of [
          ["the tag", { "If-None-Match": etag }],
          ["the tag in a list, weakly compared", { "If-None-Match": `"other", W/${etag}` }],
          ["*", { "If-None-Match": "*" }],
          ["the date itself", { "If-Modified-Since": LAST_MODIFIED }],
          ["a later date", { "If-Modified-Since": "Fri, 03 Jan 2020 00:00:00 GMT" }],
        ] as const
      ) {
        for (const method of ["GET", "HEAD"]) {
          const r = await ask(url, headers, method);
          assert.equal(r.status, 304, `${method} with ${why}`);
          assert.equal(r.body, "");
          assert.equal(r.header("etag"), etag, "a 304 carries the validators");
          assert.equal(r.header("last-modified"), LAST_MODIFIED);
          assert.equal(r.header("content-type"), null, `${method} with ${why}: no Content-Type on a 304`);
        }
      }
      for (
        const [why, headers] of [
          ["another tag", { "If-None-Match": '"1-14"' }],
          ["an earlier date", { "If-Modified-Since": "Thu, 02 Jan 2020 03:04:04 GMT" }],
          ["no date", { "If-Modified-Since": "yesterday" }],
          // If-None-Match decides alone when both are sent (RFC 9110 13.2.2).
          ["another tag with a matching date", { "If-None-Match": '"1-14"', "If-Modified-Since": LAST_MODIFIED }],
        ] as const
      ) {
        const r = await ask(url, headers);
        assert.equal(r.status, 200, why);
        assert.equal(r.body, "0123456789abcdefghij", why);
        assert.equal(r.header("etag"), etag);
      }

      assert.equal((await ask(url, { "If-Match": '"1-14"' })).status, 412);
      assert.equal((await ask(url, { "If-Unmodified-Since": "Wed, 01 Jan 2020 00:00:00 GMT" })).status, 412);
      assert.equal((await ask(url, { "If-Match": etag })).body, "0123456789abcdefghij");

      // If-Range: the range when the validator is the current one, the whole file otherwise.
      for (const ifRange of [etag, LAST_MODIFIED]) {
        const r = await ask(url, { Range: "bytes=10-14", "If-Range": ifRange });
        assert.equal(r.status, 206, `If-Range ${ifRange}`);
        assert.equal(r.body, "abcde");
      }
      for (const ifRange of ['"1-14"', `W/${etag}`, "Thu, 02 Jan 2020 03:04:06 GMT"]) {
        const r = await ask(url, { Range: "bytes=10-14", "If-Range": ifRange });
        assert.equal(r.status, 200, `If-Range ${ifRange}`);
        assert.equal(r.body, "0123456789abcdefghij");
      }

      // A change to the file changes both validators.
      await writeFile(join(root, "docs", "notes.txt"), "changed");
      const changed = await ask(url, { "If-None-Match": etag });
      assert.equal(changed.status, 200);
      assert.equal(changed.body, "changed");
      assert.notEqual(changed.header("etag"), etag);
    });
  },
);

/** One part of a multipart/byteranges body. */
interface Part {
  headers: Record<string, string>;
  bytes: Uint8Array;
}

/**
 * Parse a multipart/byteranges body strictly (RFC 9110 14.6, RFC 2046):
 * each part is a delimiter line, header lines, an empty line and exactly
 * the bytes its Content-Range counts; the close delimiter ends the body.
 */
function parseByteRanges(body: Uint8Array, boundary: string): Part[] {
  const text = new TextDecoder("latin1").decode(body); // one char per byte, so indexes are byte offsets
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    const delimiter = `${parts.length === 0 ? "" : "\r\n"}--${boundary}`;
    assert.equal(text.slice(at, at + delimiter.length), delimiter, `the delimiter at ${at}`);
    at += delimiter.length;
    if (text.slice(at, at + 4) === "--\r\n") {
      assert.equal(at + 4, body.length, "nothing after the close delimiter");
      return parts;
    }
    assert.equal(text.slice(at, at + 2), "\r\n");
    const headEnd = text.indexOf("\r\n\r\n", at);
    assert.ok(headEnd > 0, "a part's head ends");
    const headers: Record<string, string> = {};
    for (const line of text.slice(at + 2, headEnd).split("\r\n")) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const range = /^bytes (\d+)-(\d+)\/\d+$/.exec(headers["content-range"] ?? "");
    assert.ok(range !== null, `a part's Content-Range: ${headers["content-range"]}`);
    at = headEnd + 4;
    const length = Number(range[2]) - Number(range[1]) + 1;
    parts.push({ headers, bytes: body.subarray(at, at + length) });
    at += length;
  }
}

test(
  "http-server answers several ranges with one multipart/byteranges body, byte-exact, and 416 when none is satisfiable",
  { skip },
  async () => {
    await withServer(async (base, _port, root) => {
      const data = new Uint8Array(200_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
      await writeFile(join(root, "blob.bin"), data);
      const url = `${base}/blob.bin`;
      // Out of order, one across the adapters' read pieces, a suffix, and one past the end (left out).
      const asked = "bytes=150000-150099, 0-0,65530-131080,-10,300000-";
      const want = [[150000, 150099], [0, 0], [65530, 131080], [199990, 199999]];
      const res = await fetch(url, { headers: { Range: asked } });
      assert.equal(res.status, 206);
      const type = res.headers.get("content-type") ?? "";
      const m = /^multipart\/byteranges; boundary=([0-9A-Za-z'()+_,.\/:=?-]{1,70})$/.exec(type);
      assert.ok(m !== null, `Content-Type: ${type}`);
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(res.headers.get("content-length"), String(body.length));
      const parts = parseByteRanges(body, m[1]);
      assert.deepEqual(parts.map((p) => p.headers["content-range"]), want.map(([a, b]) => `bytes ${a}-${b}/200000`));
      parts.forEach((p, i) => {
        assert.equal(p.headers["content-type"], "application/octet-stream");
        assert.deepEqual(p.bytes, data.subarray(want[i][0], want[i][1] + 1), `part ${i} byte-exact`);
      });

      // HEAD: the same head, no body.
      const head = await fetch(url, { method: "HEAD", headers: { Range: asked } });
      assert.equal(head.status, 206);
      assert.equal(head.headers.get("content-length"), String(body.length));
      assert.match(head.headers.get("content-type") ?? "", /^multipart\/byteranges; boundary=/);
      assert.equal((await head.arrayBuffer()).byteLength, 0);

      const notes = `${base}/docs/notes.txt`;
      // One satisfiable range among several: a plain 206.
      const one = await ask(notes, { Range: "bytes=50-60, 2-4" });
      assert.equal(one.status, 206);
      assert.equal(one.header("content-range"), "bytes 2-4/20");
      assert.equal(one.body, "234");
      // None satisfiable: 416 with the size.
      const none = await ask(notes, { Range: "bytes=20-, 30-40" });
      assert.equal(none.status, 416);
      assert.equal(none.header("content-range"), "bytes */20");
      // As nginx: ranges adding up to more than the file (overlapping), more than 64 ranges, or a
      // malformed one send the whole file.
      const many = Array.from({ length: 65 }, (_, i) => `${i}-${i}`).join(",");
      for (const range of ["bytes=0-15,5-19", "bytes=0-9,0-9,0-9", `bytes=${many}`, "bytes=0-1,x-2", "bytes=5-1,7-8"]) {
        const whole = await ask(notes, { Range: range });
        assert.equal(whole.status, 200, range);
        assert.equal(whole.body, "0123456789abcdefghij", range);
      }
      // Overlapping ranges that stay within the file's size are served as asked, as nginx does.
      const overlap = await fetch(notes, { headers: { Range: "bytes=0-4,3-7" } });
      const boundary = /boundary=(\S+)$/.exec(overlap.headers.get("content-type") ?? "")![1];
      const overlapParts = parseByteRanges(new Uint8Array(await overlap.arrayBuffer()), boundary);
      assert.deepEqual(overlapParts.map((p) => new TextDecoder().decode(p.bytes)), ["01234", "34567"]);
    });
  },
);

test("http-server works with curl's time condition (-z) and multi-range requests (-r)", {
  skip: skip ?? (curl ? undefined : "curl is not installed"),
}, async () => {
  await withServer(async (base, _port, root) => {
    await utimes(join(root, "docs", "notes.txt"), MTIME, MTIME);
    const url = `${base}/docs/notes.txt`;
    const run = (args: string[]): string => {
      const r = spawnSync("curl", ["-s", ...args, url], { encoding: "latin1", timeout: 10000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(run(["-o", "/dev/null", "-w", "%{http_code}", "-z", LAST_MODIFIED]), "304");
    assert.equal(run(["-z", "Thu, 02 Jan 2020 03:04:04 GMT"]), "0123456789abcdefghij");
    const multi = run(["-r", "0-2,17-", "-D", "-"]);
    const boundary = /^Content-Type: multipart\/byteranges; boundary=(\S+)\r$/im.exec(multi)?.[1];
    assert.ok(boundary !== undefined, multi);
    const body = multi.slice(multi.indexOf("\r\n\r\n") + 4);
    const parts = parseByteRanges(Uint8Array.from(body, (c) => c.charCodeAt(0)), boundary);
    assert.deepEqual(parts.map((p) => new TextDecoder().decode(p.bytes)), ["012", "hij"]);
  });
});
