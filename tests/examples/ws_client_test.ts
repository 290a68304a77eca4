/**
 * examples/ws-client.ts run as a process (EXAMPLES.md): stdin lines out as
 * text messages, each message in on its own line of stdout (byte-exact into
 * a pipe a slow reader drains), a clean close (1000) at the end of input,
 * and one clear line with exit 1 when the connection fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketServer } from "ws";
import { deferred, within } from "../util.ts";
import { cannotRunExamples, runToSlowReader, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A ws echo server that records what it received and how the client closed. */
async function echoServer(): Promise<{ port: number; got: string[]; closes: number[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  const got: string[] = [];
  const closes: number[] = [];
  wss.on("connection", (sock) => {
    sock.on("message", (data, isBinary) => {
      if (!isBinary) got.push(String(data));
      sock.send(data, { binary: isBinary });
    });
    sock.on("close", (code) => closes.push(code));
  });
  return {
    port: (wss.address() as { port: number }).port,
    got,
    closes,
    close: () => new Promise((r) => wss.close(() => r(undefined))),
  };
}

test("ws-client sends each stdin line as a text message, prints each message on its own line, and closes with 1000", {
  skip,
}, async () => {
  const srv = await echoServer();
  try {
    const input = "first line\nsecond, é€😀\r\n\nlast without newline";
    const run = await runToSlowReader(
      "ws-client",
      [`ws://127.0.0.1:${srv.port}/`],
      { pieceBytes: 1 << 20, pauseMs: 0 },
      20000,
      enc.encode(input),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(srv.got, ["first line", "second, é€😀", "", "last without newline"]);
    assert.equal(dec.decode(run.stdout), "first line\nsecond, é€😀\n\nlast without newline\n");
    await within(
      (async () => {
        while (srv.closes.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "the server's close",
    );
    assert.deepEqual(srv.closes, [1000]);
  } finally {
    await srv.close();
  }
});

test("ws-client writes 4 MB of echoes byte-exact into a pipe a slow reader drains", { skip }, async () => {
  const srv = await echoServer();
  try {
    const lines: string[] = [];
    for (let i = 0; i < 4000; i++) lines.push(`${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26))));
    const input = lines.join("\n") + "\n";
    const run = await runToSlowReader(
      "ws-client",
      [`ws://127.0.0.1:${srv.port}/`],
      { pieceBytes: 64 * 1024, pauseMs: 20 },
      60000,
      enc.encode(input),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.length, enc.encode(input).length);
    assert.equal(dec.decode(run.stdout), input);
  } finally {
    await srv.close();
  }
});

test(
  "ws-client exits 1 with one line on stderr when the connection fails or the handshake is refused, 2 for a bad command line",
  { skip },
  async () => {
    const refused = startExample("ws-client", ["ws://127.0.0.1:1/"]);
    assert.equal(await within(refused.exited, 20000, "exit"), 1);
    assert.equal(refused.stderr().trim().split("\n").length, 1, refused.stderr());
    assert.match(refused.stderr(), /connect/i);

    // An HTTP server that answers 404 to the upgrade.
    const { createServer } = await import("node:http");
    const http = createServer((_req, res) => res.writeHead(404).end());
    const listening = deferred();
    http.listen(0, "127.0.0.1", () => listening.resolve());
    await listening.promise;
    try {
      const port = (http.address() as { port: number }).port;
      const no = startExample("ws-client", [`ws://127.0.0.1:${port}/`]);
      assert.equal(await within(no.exited, 20000, "exit"), 1);
      assert.match(no.stderr(), /404/);
      assert.doesNotMatch(no.stderr(), /\n\s+at /, "no stack trace");
    } finally {
      http.close();
    }
    for (const args of [[], ["http://x/"], ["ws://a/", "ws://b/"], ["--bogus", "ws://a/"]]) {
      const bad = startExample("ws-client", args);
      assert.equal(await within(bad.exited, 20000, "exit"), 2, args.join(" "));
    }
  },
);
