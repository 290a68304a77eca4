/**
 * The opening handshake on both sides: what the server refuses (400, 426,
 * 403) and chooses (subprotocol, permessage-deflate parameters), and what
 * the client refuses in a server's answer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventBase } from "../../src/event/mod.ts";
import { WebSocket, WebSocketError } from "../../src/ws/mod.ts";
import { acceptDeflate, checkDeflateResponse, DEFAULT_DEFLATE, parseExtensions } from "../../src/ws/extensions.ts";
import { acceptKeyFor } from "../../src/ws/handshake.ts";
import { platform, RawWsClient, startWsServer, upgradeRequest } from "./ws_helpers.ts";
import { deferred, within } from "../util.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

test("Sec-WebSocket-Accept is RFC 6455's example value for its example key", () => {
  assert.equal(acceptKeyFor(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("the server answers a good handshake with 101, Upgrade, Connection and the accept key", async () => {
  const s = await startWsServer();
  try {
    const c = await RawWsClient.open(s.port, upgradeRequest("/echo"));
    assert.match(c.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(c.head, /\r\nUpgrade: websocket\r\n/i);
    assert.match(c.head, /\r\nConnection: Upgrade\r\n/i);
    assert.match(c.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    assert.doesNotMatch(c.head, /Sec-WebSocket-Protocol|Sec-WebSocket-Extensions/i);
    c.close();
  } finally {
    await s.stop();
  }
});

test("a missing or other Sec-WebSocket-Version gets 426 with Sec-WebSocket-Version: 13; other bad handshakes get 400", async () => {
  const s = await startWsServer();
  const base = (lines: string[]): string => `GET /echo HTTP/1.1\r\nHost: t\r\n${lines.join("\r\n")}\r\n\r\n`;
  const good = ["Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${KEY}`, "Sec-WebSocket-Version: 13"];
  const without = (prefix: string): string[] => good.filter((l) => !l.startsWith(prefix));
  try {
    for (const version of [null, "8", "14", "13, 8"]) {
      const lines = without("Sec-WebSocket-Version");
      if (version !== null) lines.push(`Sec-WebSocket-Version: ${version}`);
      const c = await RawWsClient.open(s.port, base(lines));
      assert.match(c.head, /^HTTP\/1\.1 426 /, `version ${version}`);
      assert.match(c.head, /\r\nSec-WebSocket-Version: 13\r\n/);
      c.close();
    }
    const bad: [string, string][] = [
      ["no Upgrade", base(without("Upgrade"))],
      ["Upgrade: h2c", base([...without("Upgrade"), "Upgrade: h2c"])],
      ["no Connection: upgrade", base([...without("Connection"), "Connection: keep-alive"])],
      ["no key", base(without("Sec-WebSocket-Key"))],
      ["a short key", base([...without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: c2hvcnQ="])],
      [
        "a key that is not base64",
        base([...without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="]),
      ],
      ["a POST", base(good).replace("GET", "POST")],
      ["HTTP/1.0", base(good).replace("HTTP/1.1", "HTTP/1.0")],
      ["a bad protocol list", base([...good, "Sec-WebSocket-Protocol: chat, , x y"])],
      ["a malformed extension list", base([...good, "Sec-WebSocket-Extensions: permessage-deflate;;"])],
    ];
    for (const [what, request] of bad) {
      const c = await RawWsClient.open(s.port, request);
      assert.match(c.head, /^HTTP\/1\.[01] 400 /, what);
      c.close();
    }
    // The server went on serving.
    const ok = await RawWsClient.connect(s.port);
    ok.close();
  } finally {
    await s.stop();
  }
});

test("checkOrigin refuses an origin with 403", async () => {
  const s = await startWsServer({ checkOrigin: (origin) => origin === "https://good.example" });
  try {
    const bad = await RawWsClient.open(s.port, upgradeRequest("/echo", "Origin: https://evil.example\r\n"));
    assert.match(bad.head, /^HTTP\/1\.1 403 /);
    bad.close();
    const good = await RawWsClient.connect(s.port, "/echo", "Origin: https://good.example\r\n");
    good.close();
  } finally {
    await s.stop();
  }
});

test("the server picks its first supported subprotocol among those offered, or none", async () => {
  const s = await startWsServer({ protocols: ["v2.chat", "v1.chat"] });
  try {
    const both = await RawWsClient.connect(s.port, "/echo", "Sec-WebSocket-Protocol: v1.chat, v2.chat\r\n");
    assert.match(both.head, /\r\nSec-WebSocket-Protocol: v2\.chat\r\n/);
    both.close();
    const other = await RawWsClient.connect(s.port, "/echo", "Sec-WebSocket-Protocol: mqtt\r\n");
    assert.doesNotMatch(other.head, /Sec-WebSocket-Protocol/i);
    other.close();
    assert.equal(s.sockets[0].protocol, "v2.chat");
    assert.equal(s.sockets[1].protocol, "");
  } finally {
    await s.stop();
  }
});

test("permessage-deflate: the server accepts the first acceptable offer and declines bad ones without failing", () => {
  const cfg = DEFAULT_DEFLATE;
  const pick = (field: string): string | null => acceptDeflate(parseExtensions(field)!, cfg)?.response ?? null;
  assert.equal(pick("permessage-deflate"), "permessage-deflate");
  assert.equal(pick("permessage-deflate; client_max_window_bits"), "permessage-deflate");
  assert.equal(
    pick("permessage-deflate; client_max_window_bits=10; server_no_context_takeover"),
    "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
  );
  assert.equal(pick("permessage-deflate; server_max_window_bits=12"), "permessage-deflate; server_max_window_bits=12");
  // Unknown, repeated or bad parameters decline that offer; the next is taken.
  assert.equal(pick("permessage-deflate; foo, permessage-deflate"), "permessage-deflate");
  assert.equal(pick("permessage-deflate; server_no_context_takeover; server_no_context_takeover"), null);
  assert.equal(pick("permessage-deflate; server_max_window_bits=16"), null);
  assert.equal(pick("permessage-deflate; server_max_window_bits"), null);
  assert.equal(pick('permessage-deflate; client_max_window_bits="9"'), "permessage-deflate; client_max_window_bits=9");
  // zlib cannot compress with a 256-byte window: server_max_window_bits=8 is declined.
  assert.equal(pick("permessage-deflate; server_max_window_bits=8"), null);
  assert.equal(pick("x-webkit-deflate-frame"), null);
  // A server that wants a smaller client window can only ask a client that offered client_max_window_bits.
  const small = { ...cfg, clientMaxWindowBits: 10 };
  assert.equal(acceptDeflate(parseExtensions("permessage-deflate")!, small), null);
  assert.equal(
    acceptDeflate(parseExtensions("permessage-deflate; client_max_window_bits")!, small)?.response,
    "permessage-deflate; client_max_window_bits=10",
  );
});

test("permessage-deflate: the client refuses answers RFC 7692 forbids", () => {
  const cfg = DEFAULT_DEFLATE;
  assert.equal(checkDeflateResponse(null, cfg), null);
  assert.deepEqual(checkDeflateResponse("permessage-deflate; server_max_window_bits=10", cfg), {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 15,
  });
  for (
    const bad of [
      "permessage-deflate; foo",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; client_max_window_bits=8",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate, permessage-deflate",
      "x-other",
    ]
  ) {
    assert.equal(typeof checkDeflateResponse(bad, cfg), "string", bad);
  }
});

/** A raw server that answers the first request with `answer(key)` and then echoes nothing. */
async function rawServer(answer: (key: string) => string): Promise<{ port: number; close(): Promise<void> }> {
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
    let text = "";
    socket.start({
      data(bytes) {
        text += new TextDecoder().decode(bytes);
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(text)?.[1] ?? "";
        socket.write(new TextEncoder().encode(answer(key)));
      },
      end: () => socket.end(),
      drain() {},
      error() {},
      close() {},
    });
  });
  return { port: listener.address.port, close: () => listener.close() };
}

test("the client refuses a status other than 101, a wrong accept key, a subprotocol or extension it did not offer", async () => {
  const cases: [string, (key: string) => string][] = [
    ["404", () => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"],
    [
      "wrong accept",
      () =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${
          acceptKeyFor(KEY)
        }\r\n\r\n`,
    ],
    [
      "no upgrade",
      (k) =>
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKeyFor(k)}\r\n\r\n`,
    ],
    [
      "protocol not offered",
      (k) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${
          acceptKeyFor(k)
        }\r\nSec-WebSocket-Protocol: other\r\n\r\n`,
    ],
    [
      "extension not offered",
      (k) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${
          acceptKeyFor(k)
        }\r\nSec-WebSocket-Extensions: x-other\r\n\r\n`,
    ],
    [
      "bad deflate parameter",
      (k) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${
          acceptKeyFor(k)
        }\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n`,
    ],
  ];
  for (const [what, answer] of cases) {
    const srv = await rawServer(answer);
    const base = new EventBase({ platform });
    try {
      const opening = WebSocket.connect(base, `ws://127.0.0.1:${srv.port}/`, { protocols: ["chat"] });
      const loop = base.dispatch();
      await assert.rejects(opening, (err: unknown) => {
        assert.ok(err instanceof WebSocketError, what);
        assert.equal((err as WebSocketError).code, "ERR_WS_HANDSHAKE", what);
        return true;
      });
      await within(loop, 5000, `${what}: the loop ends once the connection is dropped`);
    } finally {
      await srv.close();
    }
  }
});

test("the client's connect fails with ERR_WS_CONNECT when refused, ERR_WS_TIMEOUT when unanswered, ERR_WS_CANCELLED on abort", async () => {
  const base = new EventBase({ platform });
  const closed = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => s.close());
  const port = closed.address.port;
  await closed.close();
  const refused = WebSocket.connect(base, `ws://127.0.0.1:${port}/`);
  const silent = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => {
    s.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
  });
  const slow = WebSocket.connect(base, `ws://127.0.0.1:${silent.address.port}/`, { handshakeTimeoutMs: 200 });
  const abort = new AbortController();
  const cancelled = WebSocket.connect(base, `ws://127.0.0.1:${silent.address.port}/`, { signal: abort.signal });
  const loop = base.dispatch();
  const code = (p: Promise<unknown>): Promise<string> => p.then(() => "opened", (err: WebSocketError) => err.code);
  const codes = Promise.all([code(refused), code(slow), code(cancelled)]);
  const gone = deferred();
  setTimeout(() => {
    abort.abort();
    gone.resolve();
  }, 50);
  await gone.promise;
  assert.deepEqual(await codes, [
    "ERR_WS_CONNECT",
    "ERR_WS_TIMEOUT",
    "ERR_WS_CANCELLED",
  ]);
  await silent.close();
  await within(loop, 5000, "the loop");
});

test("connect refuses a URL that is not ws:// or wss://, and bad options, with TypeError or RangeError", () => {
  const base = new EventBase({ platform });
  assert.throws(() => WebSocket.connect(base, "ftp://x/"), TypeError);
  assert.throws(() => WebSocket.connect(base, "not a url"), TypeError);
  assert.throws(() => WebSocket.connect(base, "ws://x/#frag"), TypeError);
  assert.throws(() => WebSocket.connect(base, "ws://x/", { protocols: ["a b"] }), TypeError);
  assert.throws(() => WebSocket.connect(base, "ws://x/", { handshakeTimeoutMs: -1 }), RangeError);
  assert.throws(
    () => WebSocket.connect(base, "ws://x/", { perMessageDeflate: { clientMaxWindowBits: 8 } }),
    RangeError,
  );
  assert.throws(() => WebSocket.connect(base, "ws://x/", { headers: { "bad name": "x" } }), TypeError);
});
