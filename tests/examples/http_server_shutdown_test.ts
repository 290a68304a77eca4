/**
 * examples/http-server.ts under SIGINT and SIGTERM with each kind of client
 * connected, and its header timeout, run as a process on the runtime under
 * test (EXAMPLES.md: "close at once the connections with nothing being
 * sent", "a slow reader of a large file still gets every byte, within the
 * 5 s", "exit 0 within 5 s of the signal whatever the clients do", and "a
 * connection that has not sent a whole request head within 30 s of its
 * first byte is closed").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deferred, fillPattern, patternByte, within } from "../util.ts";
import { cannotRunExamples, listeningPort, type RunningExample, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();
const BIG = 20_000_000;

/** A client connection on node:net that records what it gets and how it ended. */
interface Watched {
  readonly socket: Socket;
  /** Bytes received so far. */
  received(): number;
  /** The bytes received. */
  bytes(): Uint8Array;
  /** The bytes received, as Latin-1 text (one char per byte). */
  text(): string;
  /** Resolves with "eof" (a clean end), or the error code, once the server's side is gone. */
  readonly ended: Promise<string>;
}

function watch(port: number, keep = true): Promise<Watched> {
  const socket = connect({ host: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  let count = 0;
  const ended = deferred<string>();
  socket.on("data", (b: Uint8Array) => {
    count += b.length;
    if (keep) chunks.push(b);
  });
  socket.on("end", () => ended.resolve("eof"));
  socket.on("error", (err: Error & { code?: string }) => ended.resolve(err.code ?? err.message));
  socket.on("close", () => ended.resolve("eof"));
  const ready = deferred<Watched>();
  socket.once("connect", () =>
    ready.resolve({
      socket,
      received: () => count,
      bytes: () => concatAll(chunks),
      text: () => latin1(concatAll(chunks).subarray(0, 65536)),
      ended: ended.promise,
    }));
  socket.once("error", (err) => ready.reject(err));
  return within(ready.promise, 5000, "connect");
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A keep-alive client that made one request and got its answer: idle from now on. */
async function keepAliveClient(port: number): Promise<Watched> {
  const idle = await watch(port);
  idle.socket.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  await waitUntil(() => idle.text().endsWith("Hello, World!"), 5000, "the idle client's answer");
  return idle;
}

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "levent-shutdown-"));
  try {
    await writeFile(join(root, "big.bin"), fillPattern(new Uint8Array(BIG), 0));
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function startServer(root: string): Promise<{ ex: RunningExample; port: number }> {
  const ex = startExample("http-server", ["--port", "0", "--root", root]);
  try {
    return { ex, port: await listeningPort(ex) };
  } catch (err) {
    ex.kill("SIGKILL");
    throw err;
  }
}

/** Send `signal`; resolve with the exit status and the milliseconds it took. */
async function stop(
  ex: RunningExample,
  signal: "SIGINT" | "SIGTERM",
): Promise<{ status: number | string; ms: number }> {
  const t0 = Date.now();
  ex.kill(signal);
  const status = await within(ex.exited, 15000, "the server to exit");
  return { status, ms: Date.now() - t0 };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(
    `on ${signal}, connections with nothing being sent (idle keep-alive, unfinished head, stalled uploads, a partial pipelined head) are closed at once and the process exits 0`,
    { skip },
    async () => {
      await withRoot(async (root) => {
        const { ex, port } = await startServer(root);
        try {
          const idle = await keepAliveClient(port);
          const head = await watch(port);
          head.socket.write("GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Partial: yes\r\n");
          const upload = await watch(port);
          upload.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
          const chunkedUpload = await watch(port);
          chunkedUpload.socket.write(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
          );
          const pipelined = await watch(port);
          pipelined.socket.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hel");
          await waitUntil(() => pipelined.text().endsWith("Hello, World!"), 5000, "the pipelined client's answer");
          // The uploads' echoes began: the server has read their heads and first bytes.
          await waitUntil(() => upload.text().endsWith("0123456789"), 5000, "the upload's echo");
          await waitUntil(() => chunkedUpload.text().includes("hello"), 5000, "the chunked upload's echo");
          const { status, ms } = await stop(ex, signal);
          assert.equal(status, 0, ex.stderr());
          // Nothing is being sent on any of them: no grace period is waited out (it is 4.5 s).
          // A stalled upload is one that brings nothing for 1 s while the server drains.
          assert.ok(ms < 3000, `exited ${ms} ms after ${signal}`);
          for (const [name, c] of Object.entries({ idle, head, upload, chunkedUpload, pipelined })) {
            assert.notEqual(await within(c.ended, 2000, `${name} closed`), undefined);
          }
          // The answer already given stays whole; no answer comes for the unfinished ones.
          assert.ok(pipelined.text().endsWith("Hello, World!"));
          assert.equal(head.text(), "");
        } finally {
          ex.kill("SIGKILL");
        }
      });
    },
  );
}

test(
  "on SIGTERM, a slow reader of a 20 MB file still gets every byte, then the process exits 0",
  { skip },
  async () => {
    await withRoot(async (root) => {
      const { ex, port } = await startServer(root);
      try {
        const c = await watch(port);
        // Read about 8 MB/s: the rest of the file needs ~2.5 s after the signal, within the 4.5 s grace.
        const t0 = Date.now();
        c.socket.on("data", () => {
          const allowed = ((Date.now() - t0) / 1000) * 8_000_000;
          if (c.received() > allowed) {
            c.socket.pause();
            setTimeout(() => c.socket.resume(), 25);
          }
        });
        c.socket.write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        await waitUntil(() => c.received() > 2_000_000, 10000, "the first 2 MB");
        const stopped = stop(ex, "SIGTERM");
        const how = await within(c.ended, 10000, "the end of the download");
        const { status, ms } = await stopped;
        assert.equal(status, 0, ex.stderr());
        assert.ok(ms < 5000, `exited ${ms} ms after SIGTERM`);
        assert.equal(how, "eof");
        const bytes = c.bytes();
        const text = c.text();
        const bodyAt = text.indexOf("\r\n\r\n") + 4;
        assert.match(text.slice(0, bodyAt), /\r\nContent-Length: 20000000\r\n/i);
        assert.equal(bytes.length - bodyAt, BIG, "every byte of the body arrived");
        for (let i = 0; i < BIG; i++) {
          if (bytes[bodyAt + i] !== patternByte(i)) assert.fail(`byte ${i} differs`);
        }
      } finally {
        ex.kill("SIGKILL");
      }
    });
  },
);

test(
  "on SIGTERM, a reader too slow to finish within the grace period is cut off and the process still exits 0 within 5 s",
  { skip },
  async () => {
    await withRoot(async (root) => {
      const { ex, port } = await startServer(root);
      try {
        const c = await watch(port, false);
        c.socket.write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        await waitUntil(() => c.received() > 1_000_000, 10000, "the first 1 MB");
        c.socket.pause(); // a reader that stopped reading
        const { status, ms } = await stop(ex, "SIGTERM");
        assert.equal(status, 0, ex.stderr());
        assert.ok(ms < 5000, `exited ${ms} ms after SIGTERM`);
        assert.ok(ms > 4000, `the response in flight had its grace period, exited after ${ms} ms`);
        c.socket.resume();
        await within(c.ended, 5000, "the connection's end");
        assert.ok(c.received() < BIG, "the body was cut short");
      } finally {
        ex.kill("SIGKILL");
      }
    });
  },
);

test(
  "a head not finished within 30 s of its first byte gets 408 and is closed; an idle keep-alive connection is closed after 5 s",
  { skip },
  async () => {
    await withRoot(async (root) => {
      const { ex, port } = await startServer(root);
      try {
        const idle = await keepAliveClient(port);
        const idleSince = Date.now();
        const idleClosed = idle.ended.then(() => Date.now() - idleSince);
        const c = await watch(port);
        const t0 = Date.now();
        c.socket.write("GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Partial: yes\r\n");
        const idleMs = await within(idleClosed, 10000, "the idle connection's close");
        assert.ok(idleMs >= 4500 && idleMs < 7500, `the idle connection closed after ${idleMs} ms`);
        const how = await within(c.ended, 40000, "the server to close the slow client");
        const ms = Date.now() - t0;
        assert.equal(how, "eof");
        assert.match(c.text(), /^HTTP\/1\.1 408 /);
        assert.ok(ms >= 29000 && ms < 33000, `closed after ${ms} ms`);
        const { status } = await stop(ex, "SIGTERM");
        assert.equal(status, 0);
      } finally {
        ex.kill("SIGKILL");
      }
    });
  },
);
