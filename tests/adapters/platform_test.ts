// The adapter conformance suite: every adapter must pass it unchanged. It runs
// against whichever adapter the current runtime has (adapters/auto.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import type {
  NetAddress,
  NetErrorCode,
  Platform,
  SignalName,
  SocketHandlers,
  TcpListener,
  TcpSocket,
  UdpHandlers,
  UdpSocket,
} from "../../src/platform.ts";
import { concat, deferred, fillPattern, patternByte, sleep, within } from "../util.ts";

const platform: Platform = autoPlatform();
const fixtures = new URL("../fixtures/", import.meta.url);
const CERT = readFileSync(new URL("cert.pem", fixtures), "utf8");
const KEY = readFileSync(new URL("key.pem", fixtures), "utf8");
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every code NetErrorCode lists: an adapter error must carry one of these for the conditions it names. */
const NET_ERROR_CODES: ReadonlySet<string> = new Set(
  [
    "ECONNREFUSED",
    "ENOTFOUND",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ETIMEDOUT",
    "ECONNRESET",
    "EPIPE",
    "ETLS",
    "ENOENT",
    "EACCES",
    "EIO",
    "EINVAL",
    "EBADF",
    "EZLIB",
  ] satisfies NetErrorCode[],
);

/** An assert.rejects check: an Error whose code is `code`, one NetErrorCode names. */
function hasCode(code: NetErrorCode): (err: Error & { code?: string }) => boolean {
  return (err) => {
    assert.ok(err instanceof Error, `not an Error: ${String(err)}`);
    assert.equal(err.code, code, `code ${err.code} (${err.message})`);
    assert.ok(NET_ERROR_CODES.has(code));
    return true;
  };
}

/** A socket wired to record everything it reports. */
class Probe {
  readonly chunks: Uint8Array[] = [];
  received = 0;
  readonly ended = deferred();
  readonly closed = deferred();
  readonly errors: Error[] = [];
  drains = 0;
  closeCount = 0;
  onData: ((bytes: Uint8Array) => void) | undefined;
  onDrain: (() => void) | undefined;
  onFinish: (() => void) | undefined;
  keep = true;
  readonly socket: TcpSocket;

  constructor(socket: TcpSocket) {
    this.socket = socket;
    const handlers: SocketHandlers = {
      data: (bytes, owned) => {
        const mine = owned ? bytes : bytes.slice();
        this.received += mine.length;
        if (this.keep) this.chunks.push(mine);
        this.onData?.(mine);
      },
      end: () => {
        this.log.push("end");
        this.ended.resolve();
      },
      drain: () => {
        this.drains++;
        this.onDrain?.();
      },
      finish: () => {
        this.finished++;
        this.log.push("finish");
        this.onFinish?.();
      },
      error: (err) => {
        this.log.push(`error ${(err as Error & { code?: string }).code}`);
        this.errors.push(err);
      },
      close: () => {
        this.log.push("close");
        this.closeCount++;
        this.closed.resolve();
      },
    };
    socket.start(handlers);
  }

  text(): string {
    return dec.decode(concat(this.chunks));
  }

  /** Called when the adapter reports `finish`. */
  finished = 0;
  /** What the probe heard, in order: "end", "finish", "error CODE", "close". */
  readonly log: string[] = [];

  /** Resolve once at least `n` bytes have arrived. */
  async waitFor(n: number, ms = 5000): Promise<void> {
    const start = Date.now();
    while (this.received < n) {
      if (Date.now() - start > ms) throw new Error(`only ${this.received} of ${n} bytes arrived`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** Listen on 127.0.0.1:0 and hand each accepted socket to a fresh Probe. */
async function server(
  onProbe: (p: Probe) => void = () => {},
): Promise<{ listener: TcpListener; accepted: Promise<Probe> }> {
  const first = deferred<Probe>();
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
    const probe = new Probe(socket);
    onProbe(probe);
    first.resolve(probe);
  });
  return { listener, accepted: first.promise };
}

/** An echo server: every byte received is written back; EOF is echoed as end(). */
function echo(p: Probe): void {
  p.keep = false;
  p.onData = (bytes) => p.socket.write(bytes);
  p.ended.promise.then(() => p.socket.end());
}

test("listen on port 0 reports the real port and the accepted socket sees the client's address", async () => {
  const { listener, accepted } = await server();
  assert.equal(listener.address.transport, "tcp");
  assert.equal(listener.address.host, "127.0.0.1");
  assert.equal(listener.address.family, 4);
  assert.ok(listener.address.port > 0, `port ${listener.address.port}`);
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  assert.equal(client.socket.remoteAddress.port, listener.address.port);
  assert.equal(peer.socket.localAddress.port, listener.address.port);
  assert.equal(peer.socket.remoteAddress.port, client.socket.localAddress.port);
  assert.equal(peer.socket.remoteAddress.host, "127.0.0.1");
  client.socket.close();
  peer.socket.close();
  await within(Promise.all([client.closed.promise, peer.closed.promise]), 5000, "close");
  await listener.close();
});

/** A port free on `host` a moment ago: bound on port 0, then released. */
async function freePort(host: string): Promise<number> {
  const probe = await platform.listen({ host, port: 0 }, (s) => s.close());
  const port = probe.address.port;
  await probe.close();
  return port;
}

test("connect binds the local end to a given address and port, over TCP and TLS", async () => {
  // 127.0.0.2 is loopback too on Linux: the server sees the client come from it.
  const { listener, accepted } = await server();
  const localPort = await freePort("127.0.0.2");
  const client = new Probe(
    await within(
      platform.connect({ host: "127.0.0.1", port: listener.address.port, localAddress: "127.0.0.2", localPort }),
      5000,
      "connect",
    ),
  );
  const peer = await within(accepted, 5000, "accept");
  assert.equal(peer.socket.remoteAddress.host, "127.0.0.2");
  assert.equal(peer.socket.remoteAddress.port, localPort);
  assert.equal(client.socket.localAddress.port, localPort);
  client.socket.close();
  peer.socket.close();
  await within(Promise.all([client.closed.promise, peer.closed.promise]), 5000, "close");
  await listener.close();

  let tlsPeer: Probe | null = null;
  const tlsListener = await platform.listenTls({ host: "127.0.0.1", port: 0, cert: CERT, key: KEY }, (s) => {
    tlsPeer = new Probe(s);
    echo(tlsPeer);
  });
  const tlsClient = new Probe(
    await within(
      platform.connectTls({
        host: "127.0.0.1",
        port: tlsListener.address.port,
        serverName: "localhost",
        caCerts: [CERT],
        localAddress: "127.0.0.2",
      }),
      5000,
      "TLS connect",
    ),
  );
  tlsClient.socket.write(enc.encode("bound"));
  await within(tlsClient.waitFor(5), 5000, "TLS echo");
  assert.equal(tlsClient.text(), "bound");
  assert.equal((tlsPeer as Probe | null)?.socket.remoteAddress.host, "127.0.0.2");
  tlsClient.socket.close();
  await within(tlsClient.closed.promise, 5000, "TLS close");
  await tlsListener.close();
});

test("echo: bytes written by the client come back unchanged", async () => {
  const { listener } = await server(echo);
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  client.socket.setNoDelay(true);
  assert.equal(client.socket.write(enc.encode("hello, ")), true);
  client.socket.write(enc.encode("levent"));
  await within(client.waitFor(13), 5000, "echo");
  assert.equal(client.text(), "hello, levent");
  client.socket.close();
  await within(client.closed.promise, 5000, "close");
  await listener.close();
});

test("half-close: the server reads EOF, still replies, and both ends close", async () => {
  const { listener, accepted } = await server((p) => {
    p.ended.promise.then(() => {
      p.socket.write(enc.encode(`got ${p.text()}`));
      p.socket.end();
    });
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  client.socket.write(enc.encode("ping"));
  client.socket.end();
  await within(client.ended.promise, 5000, "EOF at the client");
  assert.equal(client.text(), "got ping");
  const peer = await accepted;
  await within(Promise.all([client.closed.promise, peer.closed.promise]), 5000, "both closes");
  assert.equal(client.closeCount, 1);
  assert.equal(peer.closeCount, 1);
  assert.deepEqual(client.errors, []);
  await listener.close();
});

/** The contract's write high-water mark, the same on every adapter (TcpSocket.write). */
const HIGH_WATER_MARK = 64 * 1024;

/** Resolve once `ready()` holds, polling every 2 ms; reject after `ms`. */
async function until(ready: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!ready()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test("a single write below 64 KiB answers true; one of 64 KiB answers false, even when the kernel takes it, and drain follows", async () => {
  const { listener, accepted } = await server((p) => {
    p.keep = false;
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  assert.equal(client.socket.write(new Uint8Array(HIGH_WATER_MARK - 1)), true, "64 KiB - 1 is below the mark");
  await within(until(() => client.socket.bufferedAmount === 0, 5000, "the queue to empty"), 6000, "empty queue");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(client.drains, 0, "no drain without a false");
  const drained = deferred();
  let queuedAtDrain = -1;
  client.onDrain = () => {
    queuedAtDrain = client.socket.bufferedAmount;
    drained.resolve();
  };
  assert.equal(client.socket.write(new Uint8Array(HIGH_WATER_MARK)), false, "64 KiB reaches the mark");
  await within(drained.promise, 5000, "drain after the false");
  assert.equal(queuedAtDrain, 0);
  assert.equal(client.drains, 1);
  assert.equal(client.socket.write(new Uint8Array(1)), true, "the queue is empty again");
  await within(peer.waitFor(2 * HIGH_WATER_MARK), 6000, "every byte");
  assert.equal(peer.received, 2 * HIGH_WATER_MARK);
  client.socket.close();
  peer.socket.close();
  await listener.close();
});

test("while the reader stalls, each write answers whether bufferedAmount plus its bytes stays below 64 KiB; one drain once the queue empties", async () => {
  const { listener, accepted } = await server((p) => {
    p.keep = false;
    p.socket.pause();
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  const sizes = [1, 100, 1000, 4096, 16384, 50000, HIGH_WATER_MARK - 1, HIGH_WATER_MARK, 200000];
  let sent = 0;
  let trues = 0;
  let falses = 0;
  // Batches with a turn of the loop between them, so that every adapter sends until the kernel's
  // buffers are full and the adapter's own queue has to hold the rest.
  for (let batch = 0; client.socket.bufferedAmount < (1 << 20); batch++) {
    assert.ok(batch < 200, `the queue never filled (${sent} bytes written)`);
    for (const size of sizes) {
      const before = client.socket.bufferedAmount;
      const ok = client.socket.write(new Uint8Array(size));
      assert.equal(ok, before + size < HIGH_WATER_MARK, `write(${size}) with ${before} queued answered ${ok}`);
      if (ok) trues++;
      else falses++;
      sent += size;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(trues > 0 && falses > 0, `${trues} true, ${falses} false`);
  const drainsWhileStalled = client.drains;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(client.drains, drainsWhileStalled, "no drain while the queue cannot empty");
  const drained = deferred();
  client.onDrain = () => drained.resolve();
  peer.socket.resume();
  await within(drained.promise, 20000, "drain after the reader resumed");
  assert.equal(client.socket.bufferedAmount, 0);
  await within(peer.waitFor(sent, 20000), 21000, "every byte");
  assert.equal(peer.received, sent);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(client.drains, drainsWhileStalled + 1, "one drain for the falses together");
  client.socket.close();
  peer.socket.close();
  await listener.close();
});

test("start() a second time throws a TypeError with code EINVAL and keeps the first handlers", async () => {
  const { listener } = await server(echo);
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  let stolen = 0;
  const other: SocketHandlers = {
    data: () => stolen++,
    end: () => stolen++,
    drain: () => stolen++,
    error: () => stolen++,
    close: () => stolen++,
  };
  assert.throws(
    () => client.socket.start(other),
    (err: Error & { code?: string }) => err instanceof TypeError && err.code === "EINVAL",
  );
  client.socket.write(enc.encode("still mine"));
  await within(client.waitFor(10), 5000, "echo to the first handlers");
  assert.equal(client.text(), "still mine");
  client.socket.close();
  await within(client.closed.promise, 5000, "close");
  assert.equal(stolen, 0);
  assert.equal(client.closeCount, 1);
  await listener.close();
});

test("64 MiB cross the socket byte-exact, with backpressure respected", async () => {
  const total = 64 << 20;
  let checked = 0;
  let mismatch = -1;
  const { listener, accepted } = await server((p) => {
    p.keep = false;
    p.onData = (bytes) => {
      for (let i = 0; i < bytes.length; i++) {
        if (mismatch < 0 && bytes[i] !== patternByte(checked + i)) mismatch = checked + i;
      }
      checked += bytes.length;
    };
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  let sent = 0;
  const done = deferred();
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(total - sent, 256 * 1024);
      const ok = client.socket.write(fillPattern(new Uint8Array(n), sent));
      sent += n;
      if (!ok) return;
    }
    client.socket.end();
    done.resolve();
  };
  client.onDrain = pump;
  pump();
  await within(done.promise, 30000, "writing 64 MiB");
  const peer = await accepted;
  await within(peer.ended.promise, 30000, "EOF after 64 MiB");
  assert.equal(mismatch, -1, `first mismatch at byte ${mismatch}`);
  assert.equal(checked, total);
  peer.socket.close();
  await within(client.closed.promise, 5000, "client close");
  await listener.close();
});

test("connecting to a closed port rejects with ECONNREFUSED, over TCP and TLS", async () => {
  const { listener } = await server();
  const port = listener.address.port;
  await listener.close();
  await assert.rejects(within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect"), hasCode("ECONNREFUSED"));
  await assert.rejects(
    within(platform.connectTls({ host: "127.0.0.1", port }), 5000, "TLS connect"),
    hasCode("ECONNREFUSED"),
  );
});

test("connecting to a name that does not resolve rejects with ENOTFOUND, over TCP and TLS", async () => {
  await assert.rejects(
    within(platform.connect({ host: "no-such-host.invalid", port: 80 }), 10000, "connect"),
    hasCode("ENOTFOUND"),
  );
  await assert.rejects(
    within(platform.connectTls({ host: "no-such-host.invalid", port: 443 }), 10000, "TLS connect"),
    hasCode("ENOTFOUND"),
  );
});

test("listening on a port already in use rejects with EADDRINUSE, over TCP and TLS", async () => {
  const { listener } = await server();
  const port = listener.address.port;
  await assert.rejects(
    within(platform.listen({ host: "127.0.0.1", port }, () => {}), 5000, "listen"),
    hasCode("EADDRINUSE"),
  );
  await assert.rejects(
    within(platform.listenTls({ host: "127.0.0.1", port, cert: CERT, key: KEY }, () => {}), 5000, "TLS listen"),
    hasCode("EADDRINUSE"),
  );
  await listener.close();
});

test("an address this host does not have is EADDRNOTAVAIL: to listen on, over TCP and TLS, and to connect from", async () => {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
  await assert.rejects(
    within(platform.listen({ host: "192.0.2.1", port: 0 }, () => {}), 5000, "listen"),
    hasCode("EADDRNOTAVAIL"),
  );
  await assert.rejects(
    within(platform.listenTls({ host: "192.0.2.1", port: 0, cert: CERT, key: KEY }, () => {}), 5000, "TLS listen"),
    hasCode("EADDRNOTAVAIL"),
  );
  await assert.rejects(
    within(platform.bindUdp({ host: "192.0.2.1", port: 0 }, { message() {} }), 5000, "UDP bind"),
    hasCode("EADDRNOTAVAIL"),
  );
  const { listener } = await server();
  const port = listener.address.port;
  await assert.rejects(
    within(platform.connect({ host: "127.0.0.1", port, localAddress: "192.0.2.1" }), 5000, "connect"),
    hasCode("EADDRNOTAVAIL"),
  );
  await assert.rejects(
    within(platform.connectTls({ host: "127.0.0.1", port, localAddress: "192.0.2.1" }), 5000, "TLS connect"),
    hasCode("EADDRNOTAVAIL"),
  );
  await listener.close();
});

test("a port outside 0-65535 is EINVAL, rejected rather than thrown, for listen, connect and UDP", async () => {
  for (const port of [65536, -1]) {
    const calls: [string, () => Promise<unknown>][] = [
      ["listen", () => platform.listen({ host: "127.0.0.1", port }, () => {})],
      ["listenTls", () => platform.listenTls({ host: "127.0.0.1", port, cert: CERT, key: KEY }, () => {})],
      ["connect", () => platform.connect({ host: "127.0.0.1", port })],
      ["connectTls", () => platform.connectTls({ host: "127.0.0.1", port })],
      ["bindUdp", () => platform.bindUdp({ host: "127.0.0.1", port }, { message() {} })],
    ];
    for (const [name, call] of calls) {
      let pending: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        pending = call();
      }, `${name}(${port}) threw instead of rejecting`);
      await assert.rejects(
        within(pending as Promise<unknown>, 5000, `${name}(${port})`),
        hasCode("EINVAL"),
        `${name}(${port})`,
      );
    }
  }
});

/** A UDP socket's error reports, as [code, destination] pairs, and whether any came from inside send(). */
class UdpErrors {
  readonly seen: Array<[string | undefined, NetAddress | null]> = [];
  insideSend = false;
  reportedInside = false;
  readonly handlers: UdpHandlers;

  constructor(onMessage: UdpHandlers["message"] = () => {}) {
    this.handlers = {
      message: onMessage,
      error: (err, to) => {
        if (this.insideSend) this.reportedInside = true;
        assert.ok(err instanceof Error);
        this.seen.push([(err as Error & { code?: string }).code, to]);
      },
    };
  }

  /** Call `send` as the owner would, noting whether an error is reported before it returns. */
  send(udp: UdpSocket, bytes: Uint8Array, host: string, port: number): boolean {
    this.insideSend = true;
    try {
      return udp.send(bytes, host, port);
    } finally {
      this.insideSend = false;
    }
  }

  async waitFor(n: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.seen.length < n) {
      if (Date.now() > deadline) assert.fail(`only ${this.seen.length} of ${n} UDP errors reported`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

test("UDP: a send on a closed socket returns false and reports EBADF with its destination", async () => {
  const errors = new UdpErrors();
  const udp = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, errors.handlers);
  udp.close();
  udp.close();
  assert.equal(errors.send(udp, enc.encode("late"), "127.0.0.1", 9), false);
  await errors.waitFor(1);
  assert.equal(errors.reportedInside, false, "reported from inside send()");
  assert.deepEqual(errors.seen, [["EBADF", { transport: "udp", host: "127.0.0.1", port: 9, family: 4 }]]);
});

test("UDP: a bad destination or an oversized datagram is reported to the error handler, never thrown", async () => {
  const got: number[] = [];
  const errors = new UdpErrors((bytes) => got.push(bytes.length));
  const udp = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, errors.handlers);
  const port = udp.address.port;
  const small = (): Uint8Array => new Uint8Array(10);
  assert.equal(errors.send(udp, small(), "localhost", port), true, "a name is not looked up");
  assert.equal(errors.send(udp, small(), "::1", port), true, "the other family");
  assert.equal(errors.send(udp, small(), "127.0.0.1", 0), true, "port 0");
  assert.equal(errors.send(udp, small(), "127.0.0.1", 65536), true, "port past 65535");
  assert.equal(errors.send(udp, new Uint8Array(70000), "127.0.0.1", port), true, "over 64 KiB");
  assert.equal(errors.send(udp, new Uint8Array(7), "127.0.0.1", port), true);
  assert.equal(errors.reportedInside, false, "reported from inside send()");
  await errors.waitFor(5);
  const codeFor = (host: string, p: number): string | undefined =>
    errors.seen.find(([, to]) => to?.host === host && to.port === p)?.[0];
  assert.equal(codeFor("localhost", port), "EINVAL");
  assert.equal(codeFor("::1", port), "EINVAL");
  assert.equal(codeFor("127.0.0.1", 0), "EINVAL");
  assert.equal(codeFor("127.0.0.1", 65536), "EINVAL");
  assert.equal(codeFor("127.0.0.1", port), "EMSGSIZE");
  const deadline = Date.now() + 5000;
  while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, [7], "the good datagram still went, and only it");
  assert.equal(udp.bufferedAmount, 0);
  udp.close();
});

test("UDP: a synchronous burst of 100 datagrams is taken below the mark and every one arrives", async () => {
  const got: number[] = [];
  const done = deferred();
  const rx = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, {
    message(bytes) {
      got.push(bytes[0] | (bytes[1] << 8));
      if (got.length === 100) done.resolve();
    },
  });
  const errors = new UdpErrors();
  const tx = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, errors.handlers);
  for (let i = 0; i < 100; i++) {
    const bytes = new Uint8Array(64);
    bytes[0] = i & 0xff;
    bytes[1] = i >> 8;
    assert.equal(tx.send(bytes, "127.0.0.1", rx.address.port), true, `send ${i}`);
  }
  await within(done.promise, 5000, "100 datagrams");
  // UDP keeps no order, and Deno's node:dgram sends the datagrams of one turn in reverse.
  assert.deepEqual(got.sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(errors.seen, []);
  assert.equal(tx.bufferedAmount, 0);
  tx.close();
  rx.close();
});

test("close while writing drops the queue and reports close exactly once", async () => {
  const { listener, accepted } = await server((p) => {
    p.keep = false;
    p.ended.promise.then(() => p.socket.end());
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  for (let i = 0; i < 16; i++) client.socket.write(new Uint8Array(1 << 20));
  client.socket.close();
  client.socket.close();
  assert.equal(client.socket.write(enc.encode("late")), false, "write after close reports false");
  await within(client.closed.promise, 5000, "client close");
  const peer = await within(accepted, 5000, "accept");
  await within(peer.closed.promise, 5000, "peer sees the close");
  assert.equal(client.closeCount, 1);
  assert.ok(peer.received < 16 << 20, "the queued tail was dropped, not flushed");
  await listener.close();
});

test("a peer reset surfaces as an ECONNRESET or EPIPE error, then close", async () => {
  const { listener } = await server((p) => {
    // Close with unread bytes still queued in the kernel: Linux answers with RST.
    p.onData = () => {
      p.socket.pause();
      p.socket.close();
    };
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  client.socket.write(new Uint8Array(4 << 20));
  await within(client.closed.promise, 5000, "close after reset");
  assert.equal(client.closeCount, 1);
  assert.ok(client.errors.length >= 1, "a reset must be reported through error()");
  const code = (client.errors[0] as Error & { code?: string }).code;
  assert.ok(code === "ECONNRESET" || code === "EPIPE", `code ${code}`);
  await listener.close();
});

test("reset() drops the queue and the peer sees ECONNRESET (Deno: an end), not a clean end", async () => {
  // An end (all Deno can give) is answered with end(), so the peer closes either way.
  const { listener, accepted } = await server((p) => p.ended.promise.then(() => p.socket.end()));
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  client.socket.write(enc.encode("before"));
  await within(peer.waitFor(6), 5000, "the bytes before the reset");
  // Queued behind a peer that does not read: reset() must not send them.
  peer.socket.pause();
  for (let i = 0; i < 32; i++) client.socket.write(new Uint8Array(1 << 20));
  client.socket.reset();
  client.socket.reset();
  assert.equal(client.socket.write(enc.encode("late")), false, "write after reset reports false");
  await within(client.closed.promise, 5000, "close at the resetting end");
  assert.deepEqual(client.log, ["close"], "the resetting end hears only close");
  peer.socket.resume();
  await within(peer.closed.promise, 5000, "the peer's close");
  assert.ok(peer.received < 32 << 20, "the queue was dropped, not sent");
  if (platform.name === "deno") {
    // Deno.Conn cannot send RST (see TcpSocket.reset): the peer sees an end.
    assert.deepEqual(peer.errors, []);
  } else {
    assert.equal(peer.errors.length, 1, `peer heard ${peer.log.join(", ")}`);
    assert.equal((peer.errors[0] as Error & { code?: string }).code, "ECONNRESET");
    assert.ok(!peer.log.includes("end"), `a reset is not an end: ${peer.log.join(", ")}`);
  }
  await listener.close();
});

test("finish comes after end() once every queued byte is with the kernel, before close", async () => {
  const total = 48 << 20;
  const { listener, accepted } = await server((p) => {
    p.keep = false;
    p.socket.pause();
    p.ended.promise.then(() => p.socket.end());
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  for (let sent = 0; sent < total; sent += 1 << 20) client.socket.write(new Uint8Array(1 << 20));
  client.socket.end();
  let queuedAtFinish = -1;
  const finished = deferred();
  client.onFinish = () => {
    queuedAtFinish = client.socket.bufferedAmount;
    finished.resolve();
  };
  // The peer reads nothing, so the kernel's buffers fill and the queue cannot empty.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(client.finished, 0, "finish while most bytes were still queued");
  peer.socket.resume();
  await within(finished.promise, 20000, "finish");
  assert.equal(queuedAtFinish, 0);
  await within(peer.ended.promise, 20000, "EOF at the peer");
  assert.equal(peer.received, total);
  await within(client.closed.promise, 5000, "close");
  assert.deepEqual(client.log, ["finish", "end", "close"]);
  assert.equal(client.finished, 1);
  assert.deepEqual(client.errors, []);
  await listener.close();
});

test("finish is not reported when the socket is closed before its queue emptied", async () => {
  const { listener, accepted } = await server((p) => {
    p.keep = false;
    p.socket.pause();
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  for (let i = 0; i < 48; i++) client.socket.write(new Uint8Array(1 << 20));
  client.socket.end();
  await new Promise((r) => setTimeout(r, 100));
  client.socket.close();
  await within(client.closed.promise, 5000, "close");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.finished, 0);
  peer.socket.close();
  await listener.close();
});

test("writing on after the peer's end, to a peer that has closed, surfaces as an error, not a clean close", async () => {
  const first = 100 * 1024;
  const stop = deferred();
  const { listener, accepted } = await server((p) => {
    p.keep = false;
    p.socket.write(new Uint8Array(first));
    // Once the peer has ended (it closed), send until the connection fails: nothing here ends it cleanly.
    const chunk = new Uint8Array(64 * 1024);
    const pump = (): void => {
      while (p.closeCount === 0 && p.socket.write(chunk));
    };
    p.onDrain = pump;
    p.ended.promise.then(pump);
    p.closed.promise.then(() => stop.resolve());
  });
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  client.keep = false;
  await within(client.waitFor(first), 5000, "the first 100 KB");
  client.socket.close();
  const peer = await within(accepted, 5000, "accept");
  await within(stop.promise, 10000, "the sending end's close");
  assert.equal(peer.errors.length, 1, `the sending end heard ${peer.log.join(", ")}`);
  const code = (peer.errors[0] as Error & { code?: string }).code;
  assert.ok(code === "ECONNRESET" || code === "EPIPE", `code ${code}`);
  await listener.close();
});

test("pause stops data delivery and resume delivers what waited", async () => {
  const { listener, accepted } = await server();
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const peer = await within(accepted, 5000, "accept");
  peer.socket.pause();
  client.socket.write(enc.encode("held"));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(peer.received, 0, "no data while paused");
  peer.socket.resume();
  await within(peer.waitFor(4), 5000, "data after resume");
  assert.equal(peer.text(), "held");
  client.socket.close();
  peer.socket.close();
  await listener.close();
});

test("pause in the same tick as start holds the bytes until resume, then delivers them all in order", async () => {
  const { listener, accepted } = await server();
  const client = new Probe(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  client.socket.pause(); // right after start(): Node's deferred resume must not undo it
  const peer = await within(accepted, 5000, "accept");
  const total = 8 * 1024 * 1024;
  peer.socket.write(fillPattern(new Uint8Array(total), 0));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(client.received < 1024 * 1024, `only a read or two may slip in while paused, got ${client.received} bytes`);
  client.socket.resume();
  await within(client.waitFor(total, 10000), 15000, "every byte after resume");
  const got = concat(client.chunks);
  for (let i = 0; i < total; i++) if (got[i] !== patternByte(i)) assert.fail(`byte ${i} differs`);
  client.socket.close();
  peer.socket.close();
  await listener.close();
});

test("UDP: a datagram round trip carries the sender's address", async () => {
  const gotA = deferred<[Uint8Array, NetAddress]>();
  const gotB = deferred<[Uint8Array, NetAddress]>();
  const a = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, {
    message: (bytes, from) => gotA.resolve([bytes, from]),
  });
  const b = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, {
    message: (bytes, from) => gotB.resolve([bytes, from]),
  });
  assert.ok(a.address.port > 0);
  assert.equal(a.address.transport, "udp");
  assert.equal(a.bufferedAmount, 0);
  assert.equal(a.send(enc.encode("question"), "127.0.0.1", b.address.port), true);
  const [q, qFrom] = await within(gotB.promise, 5000, "datagram at b");
  assert.equal(dec.decode(q), "question");
  assert.equal(qFrom.port, a.address.port);
  assert.equal(qFrom.host, "127.0.0.1");
  assert.equal(b.send(enc.encode("answer"), qFrom.host, qFrom.port), true);
  const [ans, aFrom] = await within(gotA.promise, 5000, "datagram at a");
  assert.equal(dec.decode(ans), "answer");
  assert.equal(aFrom.port, b.address.port);
  a.close();
  b.close();
});

test("Unix socket: listen on a path, connect, echo", async () => {
  const path = join(tmpdir(), `levent-${platform.name}-${process.pid}-${Date.now()}.sock`);
  const listener = await platform.listen({ path }, (s) => echo(new Probe(s)));
  assert.equal(listener.address.transport, "unix");
  assert.equal(listener.address.host, path);
  const client = new Probe(await platform.connect({ path }));
  client.socket.write(enc.encode("over unix"));
  await within(client.waitFor(9), 5000, "echo over unix");
  assert.equal(client.text(), "over unix");
  client.socket.close();
  await within(client.closed.promise, 5000, "close");
  await listener.close();
});

test("TLS: a client trusting the test certificate round-trips bytes", async () => {
  const listener = await platform.listenTls(
    { host: "127.0.0.1", port: 0, cert: CERT, key: KEY },
    (s) => echo(new Probe(s)),
  );
  assert.ok(listener.address.port > 0);
  const client = new Probe(
    await within(
      platform.connectTls({ host: "127.0.0.1", port: listener.address.port, serverName: "localhost", caCerts: [CERT] }),
      5000,
      "TLS connect",
    ),
  );
  const big = fillPattern(new Uint8Array(300_000), 0);
  client.socket.write(enc.encode("secret"));
  client.socket.write(big);
  await within(client.waitFor(6 + big.length), 5000, "TLS echo");
  const got = concat(client.chunks);
  assert.equal(dec.decode(got.subarray(0, 6)), "secret");
  assert.deepEqual(got.subarray(6), big);
  client.socket.end();
  await within(client.closed.promise, 5000, "TLS close");
  await listener.close();
});

test("TLS: an untrusted certificate, or one for another name, fails the connect with ETLS", async () => {
  const listener = await platform.listenTls({ host: "127.0.0.1", port: 0, cert: CERT, key: KEY }, (s) => new Probe(s));
  await assert.rejects(
    within(
      platform.connectTls({ host: "127.0.0.1", port: listener.address.port, serverName: "localhost" }),
      5000,
      "TLS connect",
    ),
    hasCode("ETLS"),
  );
  await assert.rejects(
    within(
      platform.connectTls({
        host: "127.0.0.1",
        port: listener.address.port,
        serverName: "example.com",
        caCerts: [CERT],
      }),
      5000,
      "TLS connect",
    ),
    hasCode("ETLS"),
  );
  await listener.close();
});

// ------------------------------------------------------------- startTls

const CLIENT_TLS = { role: "client", serverName: "localhost", caCerts: [CERT] } as const;
const SERVER_TLS = { role: "server", cert: CERT, key: KEY } as const;

/** A plain listener and one connection to it, neither end started. */
async function plainPair(): Promise<{ listener: TcpListener; client: TcpSocket; peer: TcpSocket }> {
  const first = deferred<TcpSocket>();
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => first.resolve(socket));
  const client = await within(platform.connect({ host: "127.0.0.1", port: listener.address.port }), 5000, "connect");
  const peer = await within(first.promise, 5000, "accept");
  return { listener, client, peer };
}

/** The TLS server end echoes; `payload` from the TLS client comes back whole; the client ends and both close. */
async function tlsEchoes(clientSocket: TcpSocket, serverSocket: TcpSocket, payload: Uint8Array): Promise<void> {
  const tlsClient = new Probe(clientSocket);
  echo(new Probe(serverSocket));
  tlsClient.socket.write(payload);
  await within(tlsClient.waitFor(payload.length), 5000, "TLS echo");
  assert.deepEqual(concat(tlsClient.chunks), payload);
  tlsClient.socket.end();
  await within(tlsClient.closed.promise, 5000, "TLS close");
}

/** Send `total` bytes of the test pattern, as fast as drain allows, then end. */
function sendPattern(p: Probe, total: number): Promise<void> {
  const done = deferred();
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(total - sent, 128 * 1024);
      const ok = p.socket.write(fillPattern(new Uint8Array(n), sent));
      sent += n;
      if (!ok) return;
    }
    p.socket.end();
    done.resolve();
  };
  p.onDrain = pump;
  pump();
  return done.promise;
}

/** Check what `p` receives against the test pattern; returns the first mismatch's offset, or -1. */
function checkPattern(p: Probe): () => number {
  p.keep = false;
  let checked = 0;
  let mismatch = -1;
  p.onData = (bytes) => {
    for (let i = 0; i < bytes.length; i++) {
      if (mismatch < 0 && bytes[i] !== patternByte(checked + i)) mismatch = checked + i;
    }
    checked += bytes.length;
  };
  return () => mismatch;
}

test("startTls: after plaintext lines both ends upgrade, the connecting end as client and the accepting end as server; the old handlers hear nothing more", async () => {
  const { listener, client, peer } = await plainPair();
  const c = new Probe(client);
  const s = new Probe(peer);
  c.socket.write(enc.encode("EHLO levent\r\nSTARTTLS\r\n"));
  await within(s.waitFor(23), 5000, "plaintext lines");
  assert.equal(s.text(), "EHLO levent\r\nSTARTTLS\r\n");
  s.socket.write(enc.encode("220 go ahead\r\n"));
  await within(c.waitFor(14), 5000, "plaintext reply");
  assert.equal(c.text(), "220 go ahead\r\n");
  c.socket.pause();
  s.socket.pause();
  const [tc, ts] = await within(
    Promise.all([platform.startTls(c.socket, CLIENT_TLS), platform.startTls(s.socket, SERVER_TLS)]),
    5000,
    "handshakes",
  );
  assert.equal(tc.remoteAddress.port, listener.address.port);
  assert.equal(ts.localAddress.port, listener.address.port);
  const tlsClient = new Probe(tc);
  const tlsServer = new Probe(ts);
  tlsClient.socket.write(enc.encode("MAIL FROM:<a@example.com>\r\n"));
  await within(tlsServer.waitFor(27), 5000, "bytes over TLS");
  assert.equal(tlsServer.text(), "MAIL FROM:<a@example.com>\r\n");
  // 8 MiB back, byte-exact, with the writer waiting for drain.
  const mismatch = checkPattern(tlsClient);
  await within(sendPattern(tlsServer, 8 << 20), 30000, "writing 8 MiB over TLS");
  await within(tlsClient.ended.promise, 30000, "EOF after 8 MiB");
  assert.equal(tlsClient.received, 8 << 20);
  assert.equal(mismatch(), -1, `first mismatch at byte ${mismatch()}`);
  tlsClient.socket.end();
  await within(Promise.all([tlsClient.closed.promise, tlsServer.closed.promise]), 5000, "TLS close");
  assert.deepEqual(c.log, []);
  assert.deepEqual(s.log, []);
  assert.equal(c.received, 14);
  assert.equal(s.received, 23);
  await listener.close();
});

test("startTls on sockets never started: a fresh connection becomes TLS before any byte is read", async () => {
  const { listener, client, peer } = await plainPair();
  const [tc, ts] = await within(
    Promise.all([platform.startTls(client, CLIENT_TLS), platform.startTls(peer, SERVER_TLS)]),
    5000,
    "handshakes",
  );
  await tlsEchoes(tc, ts, fillPattern(new Uint8Array(300_000), 0));
  await listener.close();
});

test("startTls: bytes read ahead go in options.head and reach TLS first: a ClientHello that came in the same read as STARTTLS", async () => {
  const first = deferred<TcpSocket>();
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => first.resolve(socket));
  const client = await within(platform.connect({ host: "127.0.0.1", port: listener.address.port }), 5000, "connect");
  // The client sends its command and its ClientHello together, without waiting for a reply.
  client.write(enc.encode("STARTTLS\r\n"));
  const clientTls = platform.startTls(client, CLIENT_TLS);
  const peer = await within(first.promise, 5000, "accept");
  // Read late, so that the command and the ClientHello are in the kernel together.
  await sleep(100);
  const s = new Probe(peer);
  await within(s.waitFor(11), 5000, "STARTTLS and more");
  s.socket.pause();
  const got = concat(s.chunks);
  assert.equal(dec.decode(got.subarray(0, 10)), "STARTTLS\r\n");
  assert.equal(got[10], 0x16, "a TLS handshake record follows the line");
  const [tc, ts] = await within(
    Promise.all([clientTls, platform.startTls(s.socket, { ...SERVER_TLS, head: got.subarray(10) })]),
    5000,
    "handshakes",
  );
  await tlsEchoes(tc, ts, enc.encode("hello over TLS"));
  await listener.close();
});

test("startTls with the roles the other way round: the accepting end as client, the connecting end as server", async () => {
  const { listener, client, peer } = await plainPair();
  const c = new Probe(client);
  const s = new Probe(peer);
  s.socket.write(enc.encode("+OK proxy ready\r\n"));
  await within(c.waitFor(17), 5000, "plaintext");
  c.socket.pause();
  s.socket.pause();
  const [tc, ts] = await within(
    Promise.all([platform.startTls(c.socket, SERVER_TLS), platform.startTls(s.socket, CLIENT_TLS)]),
    5000,
    "handshakes",
  );
  // The accepting end (tc) is the TLS server here.
  await tlsEchoes(ts, tc, fillPattern(new Uint8Array(200_000), 7));
  await listener.close();
});

test("startTls: a client that does not trust the certificate, or checks another name, rejects with ETLS; the connection is closed", async () => {
  for (const clientOptions of [{ role: "client" } as const, { ...CLIENT_TLS, serverName: "example.com" }]) {
    const { listener, client, peer } = await plainPair();
    const serverSide = platform.startTls(peer, SERVER_TLS);
    serverSide.catch(() => {});
    await assert.rejects(within(platform.startTls(client, clientOptions), 5000, "client handshake"), hasCode("ETLS"));
    // The server's handshake fails too: the client gave up.
    await assert.rejects(within(serverSide, 5000, "server handshake"), (err: Error & { code?: string }) => {
      assert.ok(err.code === "ETLS" || err.code === "ECONNRESET", `code ${err.code} (${err.message})`);
      return true;
    });
    await listener.close();
  }
});

test("startTls refuses, with EINVAL, a socket that is not the platform's or one its owner closed", async () => {
  const { listener, client, peer } = await plainPair();
  const fake = { ...client } as TcpSocket;
  await assert.rejects(within(platform.startTls(fake, CLIENT_TLS), 5000, "startTls"), hasCode("EINVAL"));
  const c = new Probe(client);
  c.socket.close();
  await within(c.closed.promise, 5000, "close");
  await assert.rejects(within(platform.startTls(client, CLIENT_TLS), 5000, "startTls"), hasCode("EINVAL"));
  peer.close();
  await listener.close();
});

test("clock: now() is monotonic and timers fire in order; a cleared timer never fires", async () => {
  const { clock } = platform;
  const t0 = clock.now();
  const order: string[] = [];
  const done = deferred();
  const cancelled = clock.setTimer(() => order.push("cancelled"), 5);
  clock.setTimer(() => order.push("20ms"), 20);
  clock.setTimer(() => {
    order.push("40ms");
    done.resolve();
  }, 40);
  clock.setTimer(() => order.push("1ms"), 1);
  clock.clearTimer(cancelled);
  await within(done.promise, 5000, "timers");
  assert.deepEqual(order, ["1ms", "20ms", "40ms"]);
  assert.ok(clock.now() - t0 >= 39, `elapsed ${clock.now() - t0}`);
});

test("yieldToIo runs the callback after the current task", async () => {
  const seen: string[] = [];
  const done = deferred();
  platform.yieldToIo(() => {
    seen.push("yielded");
    done.resolve();
  });
  seen.push("sync");
  await within(done.promise, 5000, "yieldToIo");
  assert.deepEqual(seen, ["sync", "yielded"]);
});

test("files: stat, open, read a range, list a directory, ENOENT for a missing path", async () => {
  const path = new URL("cert.pem", fixtures).pathname;
  const whole = readFileSync(path);
  const info = await platform.fs.stat(path);
  assert.equal(info.size, whole.length);
  assert.equal(info.isFile, true);
  assert.equal(info.isDirectory, false);
  assert.ok(info.mtimeMs > 0);
  const fh = await platform.fs.open(path);
  assert.deepEqual(await fh.read(10, 20), new Uint8Array(whole.subarray(10, 30)));
  const tail = await fh.read(whole.length - 5, 100);
  assert.equal(tail.length, 5);
  assert.equal((await fh.stat()).size, whole.length);
  await fh.close();
  const entries = await platform.fs.readDir(new URL(".", fixtures).pathname);
  const cert = entries.find((e) => e.name === "cert.pem");
  assert.ok(cert && cert.isFile && !cert.isDirectory);
  assert.equal((await platform.fs.stat(new URL(".", fixtures).pathname)).isDirectory, true);
  await assert.rejects(platform.fs.stat(path + ".missing"), (err: Error & { code?: string }) => err.code === "ENOENT");
  await assert.rejects(platform.fs.open(path + ".missing"), (err: Error & { code?: string }) => err.code === "ENOENT");
});

test("files: realPath resolves symlinks, . and .. to the canonical path; ENOENT for a missing one", async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "levent-realpath-")));
  try {
    mkdirSync(join(dir, "real"));
    writeFileSync(join(dir, "real", "file.txt"), "x");
    symlinkSync(join(dir, "real"), join(dir, "dirlink"));
    symlinkSync(join(dir, "real", "file.txt"), join(dir, "filelink"));
    symlinkSync("filelink", join(dir, "chain"));
    const file = join(dir, "real", "file.txt");
    assert.equal(await platform.fs.realPath(file), file);
    assert.equal(await platform.fs.realPath(join(dir, "filelink")), file);
    assert.equal(await platform.fs.realPath(join(dir, "chain")), file);
    assert.equal(await platform.fs.realPath(join(dir, "dirlink", "file.txt")), file);
    assert.equal(await platform.fs.realPath(join(dir, "dirlink", ".", "..", "real", "file.txt")), file);
    assert.equal(await platform.fs.realPath(join(dir, "dirlink")), join(dir, "real"));
    await assert.rejects(platform.fs.realPath(join(dir, "missing")), hasCode("ENOENT"));
    symlinkSync(join(dir, "nowhere"), join(dir, "dangling"));
    await assert.rejects(platform.fs.realPath(join(dir, "dangling")), hasCode("ENOENT"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("compression: raw deflate with sync flush round-trips and keeps context between messages", () => {
  const deflate = platform.compression.createDeflateRaw({ level: 6 });
  const inflate = platform.compression.createInflateRaw();
  const message = enc.encode("levent levent levent levent, the event library");
  const first = deflate.process(message, "sync");
  assert.deepEqual(Array.from(first.subarray(first.length - 4)), [0, 0, 0xff, 0xff]);
  assert.equal(dec.decode(inflate.process(first, "sync")), dec.decode(message));
  const second = deflate.process(message, "sync");
  assert.ok(second.length < first.length, "context takeover makes the repeat smaller");
  assert.equal(dec.decode(inflate.process(second, "sync")), dec.decode(message));
  const bad = platform.compression.createInflateRaw();
  assert.throws(
    () => bad.process(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]), "sync"),
    (err: Error & { code?: string }) => err.code === "EZLIB",
  );
  deflate.close();
  inflate.close();
  bad.close();
});

test("lookup: localhost resolves to a loopback address; an invalid name rejects with ENOTFOUND", async () => {
  const addrs = await within(platform.lookup("localhost"), 5000, "lookup");
  assert.ok(
    addrs.some((a) => (a.address === "127.0.0.1" && a.family === 4) || (a.address === "::1" && a.family === 6)),
    JSON.stringify(addrs),
  );
  const v4 = await platform.lookup("localhost", 4);
  assert.ok(v4.length > 0 && v4.every((a) => a.family === 4));
  await assert.rejects(
    within(platform.lookup("no-such-host.invalid"), 10000, "lookup"),
    (err: Error & { code?: string }) => err.code === "ENOTFOUND",
  );
});

test("signals: a SIGUSR1 listener is called, and removing it stops delivery", async () => {
  const got = deferred();
  let count = 0;
  const fn = (): void => {
    count++;
    got.resolve();
  };
  assert.equal(platform.addSignalListener("SIGUSR1", fn), true);
  process.kill(process.pid, "SIGUSR1");
  await within(got.promise, 5000, "SIGUSR1");
  assert.equal(count, 1);
  // Keep a second listener so the signal stays handled after fn is removed.
  const other = (): void => {};
  platform.addSignalListener("SIGUSR1", other);
  platform.removeSignalListener("SIGUSR1", fn);
  process.kill(process.pid, "SIGUSR1");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(count, 1);
  platform.removeSignalListener("SIGUSR1", other);
});

test("signals: SIGKILL, SIGSTOP and names outside SignalName are refused with false, never a throw", () => {
  const fn = (): void => {};
  for (const name of ["SIGKILL", "SIGSTOP", "SIGFOO", "sigint", ""]) {
    assert.equal(platform.addSignalListener(name as SignalName, fn), false, name);
    platform.removeSignalListener(name as SignalName, fn);
  }
});
