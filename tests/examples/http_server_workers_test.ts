/**
 * examples/http-server.ts --workers N: N threads serve one port
 * (SO_REUSEPORT), and SIGTERM stops every one of them gracefully. Which
 * thread answered is not visible through the example's contract: that
 * connections reach more than one worker, and that a crashed worker is
 * reported while the others serve, is tested with the same library calls
 * in tests/thread/worker_group_test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { Buffer } from "node:buffer";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deferred, fillPattern, within } from "../util.ts";
import { cannotRunExamples, listeningPort, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();
const BIG = 8_000_000;

/** One request on its own connection; resolves with the whole answer once the server closes it. */
function request(port: number, head: string, body = ""): Promise<string> {
  const done = deferred<string>();
  const socket = connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  socket.on("data", (b: Buffer) => chunks.push(b));
  socket.on("close", () => done.resolve(Buffer.concat(chunks).toString("latin1")));
  socket.on("error", (err) => done.reject(err));
  socket.write(head + body);
  return within(done.promise, 10000, "the answer");
}

/** A download read slowly: paused after its first bytes until `resume()`. */
interface Download {
  readonly socket: Socket;
  received(): number;
  /** Read the rest at full speed. */
  resume(): void;
  readonly closed: Promise<void>;
}

function startDownload(port: number): Promise<Download> {
  const socket = connect({ host: "127.0.0.1", port });
  let count = 0;
  let held = true;
  const closed = deferred<void>();
  const started = deferred<Download>();
  socket.on("data", (b: Buffer) => {
    count += b.length;
    const resume = (): void => {
      held = false;
      socket.resume();
    };
    started.resolve({ socket, received: () => count, resume, closed: closed.promise });
    if (held) socket.pause();
  });
  socket.on("close", () => closed.resolve());
  socket.on("error", (err) => started.reject(err));
  socket.write("GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  return within(started.promise, 10000, "the download's first bytes");
}

test("--workers 2 serves one port from two threads and answers as one thread does", { skip }, async () => {
  const ex = startExample("http-server", ["--port", "0", "--workers", "2"]);
  try {
    const port = await listeningPort(ex);
    for (let i = 0; i < 20; i++) {
      const reply = await request(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(reply.endsWith("\r\n\r\nHello, World!"), reply);
    }
    const echo = await request(
      port,
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
      "hello",
    );
    assert.ok(echo.endsWith("\r\n\r\nhello"), echo);
    ex.kill("SIGTERM");
    assert.equal(await within(ex.exited, 15000, "the exit"), 0);
  } finally {
    ex.kill("SIGKILL");
  }
});

test(
  "SIGTERM stops every worker gracefully: downloads in flight on all of them get every byte, then exit 0",
  { skip },
  async () => {
    const root = await mkdtemp(join(tmpdir(), "levent-workers-"));
    await writeFile(join(root, "big.bin"), fillPattern(new Uint8Array(BIG), 0));
    const ex = startExample("http-server", ["--port", "0", "--workers", "2", "--root", root]);
    try {
      const port = await listeningPort(ex);
      // Enough connections that the kernel gives some to each thread (2^-7 that it does not).
      const downloads = await Promise.all(Array.from({ length: 8 }, () => startDownload(port)));
      const t0 = Date.now();
      ex.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
      for (const d of downloads) d.resume();
      await within(Promise.all(downloads.map((d) => d.closed)), 10000, "the downloads' end");
      for (const d of downloads) assert.ok(d.received() > BIG, `a download got ${d.received()} bytes`);
      assert.equal(await within(ex.exited, 15000, "the exit"), 0);
      assert.ok(Date.now() - t0 < 5000, "exited within 5 s of the signal");
    } finally {
      ex.kill("SIGKILL");
      await rm(root, { recursive: true, force: true });
    }
  },
);

test("a bad --workers is a usage error naming it (exit 2)", { skip }, async () => {
  for (const bad of ["0", "two", "1.5"]) {
    const ex = startExample("http-server", ["--workers", bad]);
    assert.equal(await within(ex.exited, 15000, "the exit"), 2);
    assert.match(ex.stderr(), /--workers/);
  }
});
