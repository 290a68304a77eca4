// examples/http-client.ts end to end: spawned on the runtime under test and
// pointed at raw-socket servers, as EXAMPLES.md's contract says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BROKEN_BODIES,
  closedPort,
  RawServer,
  response,
  ScriptedServer,
  type SeenRequest,
} from "../http/client_util.ts";
import { fillPattern, within } from "../util.ts";
import { cannotRunExamples, runToSlowReader, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();

/** Run the example to its end; its exit status, stdout and stderr. */
async function run(args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const ex = startExample("http-client", args);
  try {
    const code = await within(ex.exited, 20000, `http-client ${args.join(" ")}`);
    return { code, out: ex.stdout(), err: ex.stderr() };
  } finally {
    ex.kill("SIGKILL");
  }
}

/** Run `body` with a raw server, closing it afterwards. */
async function withServer(
  onRequest: (req: SeenRequest, conn: import("../http/client_util.ts").RawConn) => void,
  body: (base: string, server: RawServer) => Promise<void>,
): Promise<void> {
  const server = await RawServer.start(onRequest);
  try {
    await body(`http://127.0.0.1:${server.port}`, server);
  } finally {
    await server.close();
  }
}

/** A failure is one line on stderr, with no stack trace. */
function assertOneLine(err: string): void {
  assert.equal(err.trimEnd().split("\n").length, 1, `one line, got ${JSON.stringify(err)}`);
  assert.doesNotMatch(err, /^\s+at /m);
}

/** What stderr holds after the response head the example printed (status line, fields, blank line), if it printed one. */
function afterHead(err: string): string {
  return err.startsWith("HTTP/") ? err.slice(err.indexOf("\n\n") + 2) : err;
}

/** Byte for byte equality, failing with where the bytes first differ (no 20 MB diff). */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const n = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < n && actual[at] === expected[at]) at++;
  if (at === n && actual.length === expected.length) return;
  assert.fail(`${what}: ${actual.length} bytes of ${expected.length}, the first difference at byte ${at}`);
}

test(
  "http-client prints the status line and headers on stderr, the body on stdout, and exits 0 for 2xx",
  { skip },
  async () => {
    await withServer((req, conn) => {
      conn.write(response(200, `hello from ${req.head.target}\n`, ["Content-Type: text/plain", "X-Served-By: raw"]));
    }, async (base) => {
      const { code, out, err } = await run([`${base}/greeting?x=1`]);
      assert.equal(code, 0);
      assert.equal(out, "hello from /greeting?x=1\n");
      assert.match(err, /^HTTP\/1\.1 200 OK\n/);
      assert.match(err, /^content-type: text\/plain$/m);
      assert.match(err, /^x-served-by: raw$/m);
    });
  },
);

test("http-client streams the body as it arrives, before the response is complete", { skip }, async () => {
  let finish: (() => void) | null = null;
  await withServer((_req, conn) => {
    conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n");
    finish = () => conn.write("6\r\nlast!\n\r\n0\r\n\r\n");
  }, async (base) => {
    const ex = startExample("http-client", [`${base}/`]);
    try {
      const start = Date.now();
      while (!ex.stdout().includes("first\n")) {
        if (Date.now() - start > 20000 || ex.exitedAlready()) throw new Error(`no first part: ${ex.stderr()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(ex.exitedAlready(), false);
      (finish as unknown as () => void)();
      assert.equal(await within(ex.exited, 20000, "exit"), 0);
      assert.equal(ex.stdout(), "first\nlast!\n");
    } finally {
      ex.kill("SIGKILL");
    }
  });
});

test("http-client -o FILE writes the body byte for byte to the file", { skip }, async () => {
  const body = new Uint8Array(2 * 1024 * 1024 + 3);
  for (let i = 0; i < body.length; i++) body[i] = (i * 13 + (i >> 9)) & 0xff;
  const dir = mkdtempSync(join(tmpdir(), "levent-http-client-"));
  try {
    await withServer((_req, conn) => {
      conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      conn.write(body);
    }, async (base) => {
      const file = join(dir, "out.bin");
      const { code, out } = await run([`${base}/file`, "-o", file]);
      assert.equal(code, 0);
      assert.equal(out, "");
      assert.deepEqual(new Uint8Array(readFileSync(file)), body);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("http-client -d sends a POST (or -X's method) with the data, and -H adds fields", { skip }, async () => {
  const seen: SeenRequest[] = [];
  await withServer((req, conn) => {
    seen.push(req);
    conn.write(response(201, "created\n"));
  }, async (base) => {
    const post = await run([`${base}/form`, "-d", "a=1&b=2", "-H", "X-Trace: abc", "-H", "Accept: text/plain"]);
    assert.equal(post.code, 0);
    const put = await run([`${base}/thing`, "-X", "PUT", "-d", "{}", "-H", "Content-Type: application/json"]);
    assert.equal(put.code, 0);
    const del = await run([`${base}/thing`, "-X", "DELETE"]);
    assert.equal(del.code, 0);
  });
  assert.equal(seen[0].head.method, "POST");
  assert.equal(new TextDecoder().decode(seen[0].body), "a=1&b=2");
  assert.equal(seen[0].header("content-type"), "application/x-www-form-urlencoded");
  assert.equal(seen[0].header("x-trace"), "abc");
  assert.equal(seen[0].header("accept"), "text/plain");
  assert.equal(seen[1].head.method, "PUT");
  assert.equal(seen[1].header("content-type"), "application/json");
  assert.equal(seen[2].head.method, "DELETE");
  assert.equal(seen[2].bodyLength, 0);
});

test(
  "http-client exits 0 for a 3xx (not followed) and 1 for a 4xx, printing the body either way",
  { skip },
  async () => {
    await withServer((req, conn) => {
      if (req.head.target === "/moved") {
        conn.write(response(301, "see /there\n", ["Location: /there"]));
      } else conn.write(response(404, "no such thing\n"));
    }, async (base) => {
      const moved = await run([`${base}/moved`]);
      assert.equal(moved.code, 0);
      assert.equal(moved.out, "see /there\n");
      assert.match(moved.err, /^location: \/there$/m);
      const missing = await run([`${base}/missing`]);
      assert.equal(missing.code, 1);
      assert.equal(missing.out, "no such thing\n");
      assert.match(missing.err, /^HTTP\/1\.1 404 /);
    });
  },
);

test(
  "http-client reports a refused connection, a malformed or cut response head and a timeout in one line and exits 1",
  { skip },
  async () => {
    const refused = await run([`http://127.0.0.1:${await closedPort()}/`]);
    assert.equal(refused.code, 1);
    assertOneLine(refused.err);
    assert.match(refused.err, /could not connect/);

    await withServer((req, conn) => {
      if (req.head.target === "/bad") conn.write("HTTP/1.1 OK\r\n\r\n");
      if (req.head.target === "/cut") {
        conn.write("HTTP/1.1 200 OK\r\nContent-");
        conn.end();
      }
    }, async (base) => {
      const bad = await run([`${base}/bad`]);
      assert.equal(bad.code, 1);
      assertOneLine(bad.err);
      assert.match(bad.err, /the response head from 127\.0\.0\.1:\d+ is malformed: /);

      const cut = await run([`${base}/cut`]);
      assert.equal(cut.code, 1);
      assertOneLine(cut.err);
      assert.match(cut.err, /cut short: the connection closed inside its head/);

      const slow = await run([`${base}/silent`, "--timeout", "0.3"]);
      assert.equal(slow.code, 1);
      assertOneLine(slow.err);
      assert.match(slow.err, /no response bytes .* for 300 ms/);
    });
  },
);

test("http-client rejects a bad command line with one line on stderr and exit 2", { skip }, async () => {
  for (
    const args of [
      [],
      ["--bogus", "http://127.0.0.1/"],
      ["ftp://127.0.0.1/"],
      ["http://exa mple/"],
      ["http://127.0.0.1/", "-H", "no colon"],
      ["http://127.0.0.1/", "-X", "BAD METHOD"],
      ["http://127.0.0.1/", "--timeout", "soon"],
      ["http://127.0.0.1/", "http://127.0.0.2/"],
    ]
  ) {
    const { code, err, out } = await run(args);
    assert.equal(code, 2, `exit 2 for ${JSON.stringify(args)}: ${err}`);
    assertOneLine(err);
    assert.equal(out, "");
  }
});

test(
  "http-client writes a 1 MiB and a 20 MB body byte for byte into a pipe a slow reader drains, and to -o FILE",
  { skip },
  async () => {
    const bodies = new Map([["/1m", fillPattern(new Uint8Array(1 << 20), 0)], [
      "/20m",
      fillPattern(new Uint8Array(20e6), 7),
    ]]);
    const dir = mkdtempSync(join(tmpdir(), "levent-http-client-"));
    try {
      await withServer((req, conn) => {
        const body = bodies.get(req.head.target)!;
        conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        conn.write(body);
      }, async (base) => {
        // The reader takes a small piece, then pauses: the pipe stays full and
        // the example has output queued when its response is complete.
        const small = await runToSlowReader("http-client", [`${base}/1m`], { pieceBytes: 4096, pauseMs: 2 });
        assert.equal(small.code, 0, small.stderr);
        assertSameBytes(small.stdout, bodies.get("/1m")!, "1 MiB through a slow pipe");
        const large = await runToSlowReader("http-client", [`${base}/20m`], { pieceBytes: 32768, pauseMs: 1 });
        assert.equal(large.code, 0, large.stderr);
        assertSameBytes(large.stdout, bodies.get("/20m")!, "20 MB through a slow pipe");

        const file = join(dir, "out.bin");
        const toFile = await runToSlowReader("http-client", [`${base}/20m`, "-o", file], {
          pieceBytes: 4096,
          pauseMs: 2,
        });
        assert.equal(toFile.code, 0, toFile.stderr);
        assert.equal(toFile.stdout.length, 0);
        assertSameBytes(new Uint8Array(readFileSync(file)), bodies.get("/20m")!, "20 MB to -o FILE");
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "http-client exits 1 with one line on stderr when the body does not arrive whole, after writing the bytes that did",
  { skip },
  async () => {
    for (const c of BROKEN_BODIES) {
      const server = await ScriptedServer.start(c.bytes, c.ending);
      try {
        const { code, out, err } = await run([`http://127.0.0.1:${server.port}/`]);
        assert.equal(code, 1, `${c.name}: exit 1 (stderr ${JSON.stringify(err)})`);
        assert.equal(out, c.body, c.name);
        assert.match(err, /^HTTP\/1\.1 200 OK\n/, c.name);
        const failure = afterHead(err);
        assertOneLine(failure);
        assert.match(failure, c.message, c.name);
      } finally {
        await server.close();
      }
    }
  },
);

test("http-client exits 1 with one line when the body stalls past --timeout", { skip }, async () => {
  const server = await ScriptedServer.start(
    `HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${"a".repeat(500)}`,
    "hold",
  );
  try {
    const { code, out, err } = await run([`http://127.0.0.1:${server.port}/`, "--timeout", "0.3"]);
    assert.equal(code, 1, err);
    assert.equal(out, "a".repeat(500));
    const failure = afterHead(err);
    assertOneLine(failure);
    assert.match(failure, /no response bytes .* for 300 ms/);
  } finally {
    await server.close();
  }
});
