// examples/http-server.ts as a process, serving a large file to clients that
// give up early: every abandoned download must give its file handle back
// at once, not when the garbage collector gets to it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import { deferred, sleep, within } from "../util.ts";
import { cannotRunExamples, listeningPort, type RunningExample, startExample } from "./spawn_example.ts";

const platform = autoPlatform();
const FILE_SIZE = 20 * 1024 * 1024;
/** How much of the file each client reads before it gives up. */
const READ_BEFORE_CLOSE = 100 * 1024;
const CLIENTS = 200;
/** Clients in flight at once. */
const PARALLEL = 20;
const GC_WARNING = /closed during garbage collection/i;

const skip = cannotRunExamples() ??
  (existsSync(`/proc/${process.pid}/fd`) ? undefined : "open descriptors are counted through /proc (Linux)");

/** Open descriptors of a process (Linux). */
function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Ask for the file, read the first READ_BEFORE_CLOSE bytes (head included), then close. */
async function abandonDownload(port: number): Promise<void> {
  const socket = await platform.connect({ host: "127.0.0.1", port });
  const enough = deferred();
  let got = 0;
  socket.start({
    data(bytes) {
      got += bytes.length;
      if (got >= READ_BEFORE_CLOSE) enough.resolve();
    },
    end: () => enough.reject(new Error(`the server ended the response after ${got} bytes`)),
    drain() {},
    error: (err) => enough.reject(err),
    close() {},
  });
  socket.write(new TextEncoder().encode("GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n"));
  try {
    await within(enough.promise, 10000, "the first 100 KB of the file");
  } finally {
    socket.close();
  }
}

/** Wait until the process has at most `limit` descriptors open; the last count otherwise. */
async function settleFds(ex: RunningExample, limit: number, ms: number): Promise<number> {
  const start = Date.now();
  let n = openFds(ex.pid);
  while (n > limit && Date.now() - start < ms) {
    await sleep(50);
    n = openFds(ex.pid);
  }
  return n;
}

test("http-server gives back the file handle of every abandoned download at once", { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), "levent-files-"));
  writeFileSync(join(root, "big.bin"), new Uint8Array(FILE_SIZE));
  writeFileSync(join(root, "small.txt"), "warm-up\n");
  const ex = startExample("http-server", ["--port", "0", "--root", root]);
  try {
    const port = await listeningPort(ex);
    // A complete small download and an abandoned big one first, so the
    // runtime's lazily made descriptors (thread pools, pipes) exist before counting.
    const warm = await platform.connect({ host: "127.0.0.1", port });
    warm.start({ data() {}, end: () => warm.close(), drain() {}, error() {}, close() {} });
    warm.write(new TextEncoder().encode("GET /small.txt HTTP/1.0\r\n\r\n"));
    await abandonDownload(port);
    const before = await settleFds(ex, 0, 1000);

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < CLIENTS) {
        next++;
        await abandonDownload(port);
      }
    };
    await within(Promise.all(Array.from({ length: PARALLEL }, worker)), 60000, `${CLIENTS} abandoned downloads`);

    const after = await settleFds(ex, before, 5000);
    assert.ok(after <= before, `open descriptors went from ${before} to ${after} and stayed there`);
    assert.doesNotMatch(ex.stderr(), GC_WARNING);

    ex.kill("SIGTERM");
    assert.equal(await within(ex.exited, 10000, "exit after SIGTERM"), 0);
    assert.doesNotMatch(ex.stderr(), GC_WARNING);
  } finally {
    ex.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
});
