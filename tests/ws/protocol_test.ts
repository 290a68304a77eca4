/**
 * The WebSocket server against raw frames, one test per group of the
 * Autobahn test suite's cases: framing (1.x), ping/pong (2.x), reserved
 * bits (3.x), opcodes (4.x), fragmentation (5.x), UTF-8 (6.x), close (7.x),
 * large messages (9.x). Each bad input is checked for its exact close code,
 * and for the TCP connection ending after the close frame.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closePayload, encodeFrame, RawWsClient, startWsServer, upgradeRequest } from "./ws_helpers.ts";
import { concat, fillPattern, sleep } from "../util.ts";

const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Run `fn` against a fresh echo server with one raw client. */
async function withClient(fn: (c: RawWsClient) => Promise<void>, maxPayload?: number): Promise<void> {
  const s = await startWsServer(maxPayload === undefined ? {} : { maxPayload });
  try {
    const c = await RawWsClient.connect(s.port);
    try {
      await fn(c);
    } finally {
      c.close();
    }
  } finally {
    await s.stop();
  }
}

/** Send `frames` and expect the server to close with `code`. */
async function expectFailure(frames: Uint8Array[], code: number, what: string): Promise<void> {
  await withClient(async (c) => {
    for (const f of frames) c.sendRaw(f);
    const closed = await c.expectClose();
    assert.equal(closed.code, code, `${what}: closed with ${closed.code} (${closed.reason})`);
  });
}

test("1.x framing: text and binary messages of 0, 125, 126, 127, 128, 65535, 65536 and 1 MiB bytes echo back whole", async () => {
  await withClient(async (c) => {
    for (const n of [0, 125, 126, 127, 128, 65535, 65536, 1 << 20]) {
      const text = "*".repeat(n);
      c.send({ opcode: TEXT, payload: text });
      const t = await c.nextData();
      assert.equal(t?.opcode, TEXT);
      assert.equal(t?.fin, true);
      assert.equal(t?.masked, false, "server frames are unmasked");
      assert.equal(dec.decode(t!.payload), text, `text of ${n}`);
      const bin = fillPattern(new Uint8Array(n), n);
      c.send({ opcode: BINARY, payload: bin });
      const b = await c.nextData();
      assert.equal(b?.opcode, BINARY);
      assert.deepEqual(b!.payload, bin, `binary of ${n}`);
    }
  });
});

test("1.x framing: a message split into single bytes across writes is read whole", async () => {
  await withClient(async (c) => {
    const frame = encodeFrame({ opcode: TEXT, payload: "byte by byte, é€😀" });
    for (const b of frame) {
      c.sendRaw(Uint8Array.of(b));
      await sleep(1);
    }
    assert.equal(dec.decode((await c.nextData())!.payload), "byte by byte, é€😀");
  });
});

test("2.x ping/pong: a ping is answered with a pong carrying its payload (0 and 125 bytes), pongs unasked are ignored, ten pings get ten pongs", async () => {
  await withClient(async (c) => {
    for (const payload of [new Uint8Array(0), fillPattern(new Uint8Array(125), 7), enc.encode("héllo")]) {
      c.send({ opcode: PING, payload });
      const f = await c.next();
      assert.equal(f?.opcode, PONG);
      assert.deepEqual(f!.payload, payload);
    }
    c.send({ opcode: PONG, payload: "unasked" });
    c.send({ opcode: TEXT, payload: "after the pong" });
    const t = await c.next();
    assert.equal(t?.opcode, TEXT, "the unasked pong got no answer");
    for (let i = 0; i < 10; i++) c.send({ opcode: PING, payload: `p${i}` });
    for (let i = 0; i < 10; i++) assert.equal(dec.decode((await c.next())!.payload), `p${i}`);
  });
});

test("2.x ping/pong: a ping of 126 bytes is close 1002", async () => {
  await expectFailure([encodeFrame({ opcode: PING, payload: new Uint8Array(126) })], 1002, "ping of 126");
});

test("3.x reserved bits: RSV1, RSV2 or RSV3 without an extension is close 1002, on data and on control frames", async () => {
  for (const rsv of [1, 2, 3, 4, 5, 6, 7]) {
    await expectFailure([encodeFrame({ opcode: TEXT, payload: "x", rsv })], 1002, `text rsv ${rsv}`);
  }
  await expectFailure([encodeFrame({ opcode: PING, payload: "x", rsv: 4 })], 1002, "ping with RSV1");
  // A good message before a bad frame is still answered.
  await withClient(async (c) => {
    c.send({ opcode: TEXT, payload: "good" });
    c.send({ opcode: BINARY, payload: "bad", rsv: 2 });
    assert.equal(dec.decode((await c.nextData())!.payload), "good");
    assert.equal((await c.expectClose()).code, 1002);
  });
});

test("4.x opcodes: reserved data opcodes 3-7 and control opcodes 11-15 are close 1002", async () => {
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    await expectFailure([encodeFrame({ opcode: op, payload: "x" })], 1002, `opcode ${op}`);
  }
});

test("5.x fragmentation: fragments join into one message, with pings between them, and empty fragments count", async () => {
  await withClient(async (c) => {
    c.send({ opcode: TEXT, payload: "frag", fin: false });
    c.send({ opcode: PING, payload: "in between" });
    c.send({ opcode: 0, payload: "", fin: false });
    c.send({ opcode: 0, payload: "ment", fin: false });
    c.send({ opcode: 0, payload: "ed", fin: true });
    const pong = await c.next();
    assert.equal(pong?.opcode, PONG);
    assert.equal(dec.decode(pong!.payload), "in between");
    const t = await c.next();
    assert.equal(t?.opcode, TEXT);
    assert.equal(dec.decode(t!.payload), "fragmented");
    // A message whose first fragment is empty.
    c.send({ opcode: BINARY, payload: "", fin: false });
    c.send({ opcode: 0, payload: "xyz", fin: true });
    assert.equal(dec.decode((await c.nextData())!.payload), "xyz");
  });
});

test("5.x fragmentation: a continuation with no message, a new message inside one, and a fragmented control frame are close 1002", async () => {
  await expectFailure([encodeFrame({ opcode: 0, payload: "lost" })], 1002, "lone continuation");
  await expectFailure(
    [encodeFrame({ opcode: TEXT, payload: "a", fin: false }), encodeFrame({ opcode: TEXT, payload: "b" })],
    1002,
    "text inside a fragmented text",
  );
  await expectFailure(
    [encodeFrame({ opcode: PING, payload: "a", fin: false }), encodeFrame({ opcode: 0, payload: "b" })],
    1002,
    "fragmented ping",
  );
});

test("6.x UTF-8: valid text split inside code points across fragments echoes whole", async () => {
  await withClient(async (c) => {
    const bytes = enc.encode("κόσμε 😀 ﷽ \u{10FFFF}");
    for (let i = 0; i < bytes.length; i++) {
      c.send({ opcode: i === 0 ? TEXT : 0, payload: bytes.subarray(i, i + 1), fin: i === bytes.length - 1 });
    }
    assert.deepEqual((await c.nextData())!.payload, bytes);
  });
});

test("6.x UTF-8: overlong forms, surrogates, code points past U+10FFFF, stray and truncated sequences are close 1007", async () => {
  const bad = [
    [0xc0, 0xaf], // overlong '/'
    [0xe0, 0x80, 0xaf],
    [0xf0, 0x80, 0x80, 0xaf],
    [0xed, 0xa0, 0x80], // U+D800
    [0xed, 0xbf, 0xbf], // U+DFFF
    [0xf4, 0x90, 0x80, 0x80], // U+110000
    [0xf5, 0x80, 0x80, 0x80],
    [0x80], // a lone continuation
    [0xfe],
    [0xff],
    [0xce, 0xba, 0xe1], // truncated at the end
  ];
  for (const seq of bad) {
    await expectFailure(
      [encodeFrame({ opcode: TEXT, payload: Uint8Array.from([0x61, ...seq]) })],
      1007,
      `bytes ${seq.map((b) => b.toString(16)).join(" ")}`,
    );
  }
  // Invalid across fragments: the fragment that completes a bad sequence.
  await expectFailure(
    [
      encodeFrame({ opcode: TEXT, payload: Uint8Array.of(0xed), fin: false }),
      encodeFrame({ opcode: 0, payload: Uint8Array.of(0xa0, 0x80) }),
    ],
    1007,
    "a surrogate split over two fragments",
  );
});

test("6.x UTF-8 fail-fast: close 1007 comes as soon as the bad byte arrives, before the rest of the frame or message", async () => {
  await withClient(async (c) => {
    // A 1000-byte text frame whose 10th byte is invalid; only its first 20 bytes are sent.
    const payload = new Uint8Array(1000).fill(0x61);
    payload[9] = 0xff;
    const frame = encodeFrame({ opcode: TEXT, payload });
    c.sendRaw(frame.subarray(0, 8 + 20));
    assert.equal((await c.expectClose()).code, 1007);
  });
  await withClient(async (c) => {
    // The first fragment is fine and unfinished, the second begins with a bad byte; the message never ends.
    c.send({ opcode: TEXT, payload: "ok so far", fin: false });
    c.send({ opcode: 0, payload: Uint8Array.of(0xc0, 0x80), fin: false });
    assert.equal((await c.expectClose()).code, 1007);
  });
});

test("7.x close: the server answers a close with the same code and closes the TCP connection; no status gives an empty close", async () => {
  await withClient(async (c) => {
    c.send({ opcode: CLOSE, payload: closePayload(1000, "bye") });
    const closed = await c.expectClose();
    assert.equal(closed.code, 1000);
  });
  await withClient(async (c) => {
    c.send({ opcode: CLOSE });
    assert.equal((await c.expectClose()).code, 1005, "an empty close is answered with an empty close");
  });
});

test("7.x close: codes 1000-1003, 1007-1014 and 3000-4999 are accepted and echoed", async () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    await withClient(async (c) => {
      c.send({ opcode: CLOSE, payload: closePayload(code, "ok") });
      assert.equal((await c.expectClose()).code, code, `code ${code}`);
    });
  }
});

test("7.x close: a 1-byte payload, codes 0-999, 1004-1006, 1015-2999 and 5000+ are close 1002; a reason that is not UTF-8 is 1007", async () => {
  await expectFailure([encodeFrame({ opcode: CLOSE, payload: Uint8Array.of(0x03) })], 1002, "1-byte close");
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    await expectFailure([encodeFrame({ opcode: CLOSE, payload: closePayload(code) })], 1002, `code ${code}`);
  }
  await expectFailure(
    [encodeFrame({
      opcode: CLOSE,
      payload: closePayload(
        1000,
        Uint8Array.of(
          0xce,
          0xba,
          0xe1,
          0xbd,
          0xb9,
          0xcf,
          0x83,
          0xce,
          0xbc,
          0xce,
          0xb5,
          0xed,
          0xa0,
          0x80,
          0x65,
          0x64,
          0x69,
          0x74,
          0x65,
          0x64,
        ),
      ),
    })],
    1007,
    "a reason with a surrogate",
  );
});

test("7.x close: frames after the client's close frame are not answered", async () => {
  await withClient(async (c) => {
    c.send({ opcode: CLOSE, payload: closePayload(1000) });
    c.send({ opcode: TEXT, payload: "too late" });
    c.send({ opcode: PING, payload: "too late" });
    const f = await c.next();
    assert.equal(f?.opcode, CLOSE);
    assert.equal(await c.next(), null, "nothing follows the close frame");
  });
});

test("framing limits: an unmasked client frame and a 64-bit length with its top bit set are close 1002", async () => {
  await expectFailure([encodeFrame({ opcode: TEXT, payload: "x", mask: false })], 1002, "unmasked");
  const lying = encodeFrame({ opcode: BINARY, payload: new Uint8Array(0), length: 1n << 63n });
  await expectFailure([lying], 1002, "64-bit length with the top bit set");
});

test("9.x large messages and maxPayload: over the limit is close 1009 from the header alone, also summed over fragments", async () => {
  await withClient(async (c) => {
    const big = fillPattern(new Uint8Array(4 << 20), 3);
    c.send({ opcode: BINARY, payload: big });
    assert.deepEqual((await c.nextData(20000))!.payload, big);
  });
  await withClient(async (c) => {
    // Only the header is sent: the length alone is over the limit.
    c.sendRaw(encodeFrame({ opcode: BINARY, length: 2000 }).subarray(0, 8));
    assert.equal((await c.expectClose()).code, 1009);
  }, 1000);
  await withClient(async (c) => {
    c.send({ opcode: TEXT, payload: "a".repeat(600), fin: false });
    c.send({ opcode: 0, payload: "b".repeat(600) });
    assert.equal((await c.expectClose()).code, 1009);
  }, 1000);
  await withClient(async (c) => {
    c.send({ opcode: TEXT, payload: "a".repeat(1000) });
    assert.equal((await c.nextData())?.payload.length, 1000, "exactly the limit is accepted");
  }, 1000);
});

test("a good client keeps being served while another breaks the protocol", async () => {
  const s = await startWsServer();
  try {
    const good = await RawWsClient.connect(s.port);
    const bad = await RawWsClient.connect(s.port);
    bad.send({ opcode: 3, payload: "x" });
    assert.equal((await bad.expectClose()).code, 1002);
    good.send({ opcode: TEXT, payload: "still here" });
    assert.equal(dec.decode((await good.nextData())!.payload), "still here");
    good.close();
  } finally {
    await s.stop();
  }
});

test("the server reports each connection's end to its close callback: clean with the peer's code, or the failure's code", async () => {
  const s = await startWsServer();
  try {
    const a = await RawWsClient.connect(s.port);
    a.send({ opcode: CLOSE, payload: closePayload(4001, "done") });
    await a.expectClose();
    const b = await RawWsClient.connect(s.port);
    b.send({ opcode: 5 });
    await b.expectClose();
    const c = await RawWsClient.connect(s.port);
    c.close(); // no close frame at all
    await sleep(200);
    assert.deepEqual(s.closes, [
      { code: 4001, reason: "done", clean: true },
      { code: 1002, reason: "reserved opcode 5", clean: false },
      { code: 1006, reason: "", clean: false },
    ]);
  } finally {
    await s.stop();
  }
});

test("frames that arrive in the same write as the handshake are read", async () => {
  const s = await startWsServer();
  try {
    const frame = encodeFrame({ opcode: TEXT, payload: "early" });
    const c = await RawWsClient.open(s.port, concat([enc.encode(upgradeRequest("/echo")), frame]));
    assert.match(c.head, /^HTTP\/1\.1 101 /);
    assert.equal(dec.decode((await c.nextData())!.payload), "early");
    c.close();
  } finally {
    await s.stop();
  }
});
