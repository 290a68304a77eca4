// levent's HTTP client against libevent's own evhttp server (a small C
// program built here): chunked replies sent one chunk per write, keep-alive,
// echo. Skipped with a printed reason where a C compiler or libevent's
// headers (Debian: libevent-dev) are missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setDefaultPlatform } from "../../src/event/mod.ts";
import type { HttpClientRequest } from "../../src/http/http_client_request.ts";
import { request } from "../../src/http/client_fetch.ts";
import { Harness, platform } from "../http/client_util.ts";
import { deferred, within } from "../util.ts";

setDefaultPlatform(platform);

const SOURCE = fileURLToPath(new URL("./evhttp_chunked_server.c", import.meta.url));

/** Build the C server into a fresh folder; the path of the binary, or why it cannot be built. */
function build(): { binary: string; dir: string } | { why: string } {
  const dir = mkdtempSync(join(tmpdir(), "levent-evhttp-"));
  const binary = join(dir, "evhttp_chunked_server");
  const built = spawnSync("cc", ["-O1", "-o", binary, SOURCE, "-levent"], { encoding: "utf8" });
  if (built.error === undefined && built.status === 0) return { binary, dir };
  rmSync(dir, { recursive: true, force: true });
  return {
    why: built.error !== undefined
      ? "no C compiler (cc) here"
      : `cannot build against libevent (install libevent-dev): ${String(built.stderr).split("\n")[0]}`,
  };
}

const probe = build();
const skip = "why" in probe ? probe.why : false;
if ("why" in probe) console.log(`skipping the evhttp interop tests: ${probe.why}`);
else rmSync(probe.dir, { recursive: true, force: true });

/** The body byte the C server sends at offset `k`. */
function byteAt(k: number): number {
  return (k * 7 + (k >> 10)) & 0xff;
}

/** Start the C server; resolves with its port and a stop function. */
async function evhttp(): Promise<{ port: number; stop: () => void }> {
  const b = build();
  if ("why" in b) throw new Error(b.why);
  const child = spawn(b.binary, [], { stdio: ["ignore", "pipe", "inherit"] });
  // A running program keeps its file: the folder can go at once.
  child.once("spawn", () => rmSync(b.dir, { recursive: true, force: true }));
  const port = deferred<number>();
  let out = "";
  child.stdout!.on("data", (b: Uint8Array) => {
    out += new TextDecoder().decode(b);
    const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) port.resolve(Number(m[1]));
  });
  child.on("exit", () => port.reject(new Error(`the evhttp server exited: ${out}`)));
  return { port: await within(port.promise, 10000, "the evhttp server"), stop: () => child.kill() };
}

test(
  "evhttp's chunked replies reach the chunked callback intact, over one keep-alive connection",
  { skip },
  async () => {
    const server = await evhttp();
    const h = new Harness();
    try {
      const conn = h.connection({ port: server.port });
      let peers = 0;
      conn.setCloseCb(() => peers++);
      for (const [n, size] of [[64, 65536], [1000, 100], [1, 1]]) {
        let got = 0;
        let bad = -1;
        const out = await h.fetch(
          conn,
          "GET",
          `/chunked?n=${n}&size=${size}`,
          (r: HttpClientRequest) =>
            r.setChunkedCb((req) => {
              for (const view of req.inputBuffer.peek()) {
                for (let i = 0; i < view.length; i++) {
                  if (bad < 0 && view[i] !== byteAt(got + i)) {
                    bad = got + i;
                  }
                }
                got += view.length;
              }
            }),
          60000,
        );
        assert.equal(out.state, "complete");
        assert.equal(out.req.inputHeaders.get("transfer-encoding"), "chunked");
        assert.equal(got, n * size);
        assert.equal(bad, -1);
      }
      const body = new Uint8Array(1 << 20).map((_, i) => byteAt(i));
      const echo = await h.fetch(conn, "POST", "/echo", (r) => r.outputBuffer.add(body));
      assert.equal(echo.code, 200);
      assert.deepEqual(new Uint8Array(echo.req.inputBuffer.pullup()), body);
      assert.equal(peers, 0, "evhttp kept the one connection open throughout");
      // evhttp_send_error answers with Connection: close; the client honours it.
      assert.equal((await h.fetch(conn, "GET", "/missing")).code, 404);
      assert.equal(peers, 1);
    } finally {
      await h.close();
      server.stop();
    }
  },
);

test("request() reads an evhttp chunked reply as an async iterable", { skip }, async () => {
  const server = await evhttp();
  try {
    const res = await request(`http://127.0.0.1:${server.port}/chunked?n=10&size=1000`);
    assert.equal(res.status, 200);
    const bytes = await res.bytes();
    assert.equal(bytes.length, 10000);
    assert.ok(bytes.every((b, i) => b === byteAt(i)));
  } finally {
    server.stop();
  }
});
