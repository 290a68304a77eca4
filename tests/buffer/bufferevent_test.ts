// BufferEvent over platform sockets (libevent's bufferevent_sock.c), TLS included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { autoPlatform } from "../../adapters/auto.ts";
import type { FileHandle, TcpListener, TcpSocket } from "../../src/platform.ts";
import { EV_PERSIST, EV_READ, EV_WRITE, Event, EventBase, ManualClock } from "../../src/event/mod.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BufferEvent,
  type BufferEventOptions,
} from "../../src/buffer/bufferevent.ts";
import { concat, deferred, fillPattern, patternByte, sleep, within } from "../util.ts";

const platform = autoPlatform();
const fixtures = new URL("../fixtures/", import.meta.url);
const CERT = readFileSync(new URL("cert.pem", fixtures), "utf8");
const KEY = readFileSync(new URL("key.pem", fixtures), "utf8");
const dec = new TextDecoder();

/** A server whose accepted sockets are BufferEvents. */
interface Server {
  readonly port: number;
  readonly bevs: BufferEvent[];
}

/**
 * What one network test opens: a base (with a loop running unless told
 * otherwise), servers and BufferEvents. close() releases all of it and
 * surfaces a callback's error; withHarness calls it even when an assertion
 * fails, so a failing test cannot leave sockets open and hang the runner.
 */
class Harness {
  readonly base: EventBase;
  readonly clock: ManualClock | undefined;
  readonly #bevs: BufferEvent[] = [];
  readonly #listeners: TcpListener[] = [];
  #loop: Promise<unknown> | null = null;

  constructor(clock: ManualClock | undefined, loop: boolean) {
    this.clock = clock;
    this.base = new EventBase({ platform, clock });
    if (loop) this.startLoop();
  }

  startLoop(): void {
    this.#loop = this.base.loop({ noExitOnEmpty: true });
  }

  track(bev: BufferEvent): BufferEvent {
    this.#bevs.push(bev);
    return bev;
  }

  client(options: BufferEventOptions = { closeOnFree: true }): BufferEvent {
    return this.track(BufferEvent.socket(this.base, null, options));
  }

  /** A listener on 127.0.0.1:0 that wraps each accepted socket in a BufferEvent (closeOnFree). */
  async serve(onAccept: (bev: BufferEvent) => void): Promise<Server> {
    const bevs: BufferEvent[] = [];
    const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
      const bev = this.track(BufferEvent.socket(this.base, socket, { closeOnFree: true }));
      bevs.push(bev);
      onAccept(bev);
    });
    this.#listeners.push(listener);
    return { port: listener.address.port, bevs };
  }

  /** A TLS listener on 127.0.0.1:0 with the test certificate. */
  async serveTls(onAccept: (bev: BufferEvent) => void): Promise<Server> {
    const bevs: BufferEvent[] = [];
    const listener = await platform.listenTls({ host: "127.0.0.1", port: 0, cert: CERT, key: KEY }, (socket) => {
      const bev = this.track(BufferEvent.socket(this.base, socket, { closeOnFree: true }));
      bevs.push(bev);
      onAccept(bev);
    });
    this.#listeners.push(listener);
    return { port: listener.address.port, bevs };
  }

  async close(): Promise<void> {
    for (const bev of this.#bevs) bev.free();
    for (const listener of this.#listeners) await listener.close();
    if (this.#loop !== null) {
      this.base.loopExit();
      await within(this.#loop, 5000, "the loop to exit");
    }
  }
}

async function withHarness(
  options: { clock?: ManualClock; loop?: boolean },
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const h = new Harness(options.clock, options.loop ?? true);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Echo everything back, and free on EOF or error. */
function echo(bev: BufferEvent): void {
  bev.setCallbacks((b) => b.output.addBuffer(b.input), null, (b) => b.free());
  bev.enable(EV_READ);
}

/** Wait (bounded, in real time) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * Read `size` bytes on `client` (reading enabled), calling `send` once it
 * connects; `echoed` resolves with them, `events` lists what the event
 * callback saw.
 */
function collectEcho(
  client: BufferEvent,
  size: number,
  send: (bev: BufferEvent) => void,
): { echoed: Promise<Uint8Array>; events: number[] } {
  const chunks: Uint8Array[] = [];
  let received = 0;
  const complete = deferred<Uint8Array>();
  const events: number[] = [];
  client.setCallbacks(
    (b) => {
      const bytes = b.read();
      chunks.push(bytes.slice());
      received += bytes.length;
      if (received === size) complete.resolve(concat(chunks));
    },
    null,
    (b, what) => {
      events.push(what);
      if (what & BEV_EVENT_CONNECTED) send(b);
    },
  );
  client.enable(EV_READ);
  return { echoed: complete.promise, events };
}

test("echo: a megabyte written through a BufferEvent comes back byte-exact", () =>
  withHarness({}, async (h) => {
    const server = await h.serve(echo);
    const size = 1 << 20;
    const client = h.client();
    const { echoed, events } = collectEcho(client, size, (b) => {
      b.write("hello, ");
      b.write(fillPattern(new Uint8Array(size - 7), 7));
    });
    assert.equal(client.state, "idle");
    client.connect({ host: "127.0.0.1", port: server.port });
    assert.equal(client.state, "connecting");
    const all = await within(echoed, 10000, "the echo");
    assert.equal(dec.decode(all.subarray(0, 7)), "hello, ");
    for (let i = 7; i < size; i++) {
      if (all[i] !== patternByte(i)) assert.fail(`byte ${i} differs`);
    }
    assert.deepEqual(events, [BEV_EVENT_CONNECTED]);
    assert.equal(client.state, "open");
    assert.ok(client.socket !== null);
  }));

test("connect to a closed port reports ERROR with ECONNREFUSED through the event callback", () =>
  withHarness({ loop: false }, async (h) => {
    const probe = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => s.close());
    const port = probe.address.port;
    await probe.close();
    const got = deferred<number>();
    const bev = h.client({});
    bev.setCallbacks(null, null, (_b, what) => got.resolve(what));
    bev.write("never sent");
    bev.connect({ host: "127.0.0.1", port });
    // The pending connect keeps the loop alive; it ends once the failure is told.
    await within(h.base.dispatch(), 5000, "the loop");
    assert.equal(await got.promise, BEV_EVENT_ERROR);
    assert.equal((bev.socketError as Error & { code?: string }).code, "ECONNREFUSED");
    assert.equal(bev.state, "closed");
  }));

test("connect refuses bad targets and a second connect", () =>
  withHarness({ loop: false }, async (h) => {
    const bev = h.client({});
    assert.throws(() => bev.connect({ host: "127.0.0.1", port: 70000 }), RangeError);
    assert.throws(() => bev.connect({ host: "", port: 80 }), TypeError);
    assert.throws(() => bev.connect(null as unknown as { path: string }), TypeError);
    assert.throws(
      () => bev.connect({ host: "127.0.0.1", port: 80, localPort: 65536 }),
      (e: unknown) => e instanceof RangeError && /target\.localPort/.test(e.message),
    );
    assert.throws(
      () => bev.connect({ host: "127.0.0.1", port: 80, localAddress: "" }),
      (e: unknown) => e instanceof TypeError && /target\.localAddress/.test(e.message),
    );
    assert.throws(
      () => bev.connectTls({ host: "127.0.0.1", port: 443, localPort: -1 }),
      (e: unknown) => e instanceof RangeError && /options\.localPort/.test(e.message),
    );
    bev.connect({ host: "127.0.0.1", port: 9 });
    assert.throws(() => bev.connect({ host: "127.0.0.1", port: 9 }), /connecting/);
    const [pairEnd] = BufferEvent.pair(h.base);
    assert.throws(() => pairEnd.connect({ host: "127.0.0.1", port: 9 }), TypeError);
    await Promise.resolve();
  }));

test("the peer's EOF arrives after its last bytes, as READING|EOF, and stops reading", () =>
  withHarness({}, async (h) => {
    const server = await h.serve((bev) => {
      bev.write("goodbye");
      bev.flush(EV_WRITE, "finished");
    });
    const log: string[] = [];
    const eof = deferred();
    const client = h.client();
    client.setCallbacks((b) => log.push(dec.decode(b.read())), null, (_b, what) => {
      if (what & BEV_EVENT_EOF) {
        log.push(`eof ${what}`);
        eof.resolve();
      }
    });
    client.enable(EV_READ);
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(eof.promise, 5000, "EOF");
    assert.deepEqual(log, ["goodbye", `eof ${BEV_EVENT_READING | BEV_EVENT_EOF}`]);
    assert.equal(client.getEnabled() & EV_READ, 0);
  }));

test("flush finished half-closes: the server reads EOF, still replies, and both ends see EOF", () =>
  withHarness({}, async (h) => {
    const server = await h.serve((bev) => {
      let got = "";
      bev.setCallbacks((b) => got += dec.decode(b.read()), null, (b, what) => {
        if (what & BEV_EVENT_EOF) {
          b.write(`got ${got}`);
          b.flush(EV_WRITE, "finished");
        }
      });
      bev.enable(EV_READ);
    });
    let reply = "";
    const eof = deferred();
    const client = h.client();
    client.setCallbacks((b) => reply += dec.decode(b.read()), null, (_b, what) => {
      if (what & BEV_EVENT_EOF) eof.resolve();
    });
    client.enable(EV_READ);
    client.write("ping");
    // Asked before connecting: it applies once connected.
    client.flush(EV_WRITE, "finished");
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(eof.promise, 5000, "EOF at the client");
    assert.equal(reply, "got ping");
  }));

test("backpressure: a slow reader's input stays within its high watermark and every byte arrives", () =>
  withHarness({}, async (h) => {
    const base = h.base;
    const total = 8 << 20;
    const high = 64 * 1024;
    let maxInput = 0;
    let consumed = 0;
    let mismatch = -1;
    const finished = deferred();
    const timers: Event[] = [];
    const server = await h.serve((bev) => {
      bev.setWatermark(EV_READ, 0, high);
      bev.input.addCb((buf) => {
        if (buf.length > maxInput) maxInput = buf.length;
      });
      bev.enable(EV_READ);
      // The reader: 16 KiB each millisecond, far slower than the writer.
      const drain = new Event(base, null, EV_PERSIST, () => {
        const bytes = bev.read(16 * 1024);
        for (let i = 0; i < bytes.length; i++) {
          if (bytes[i] !== patternByte(consumed + i) && mismatch < 0) mismatch = consumed + i;
        }
        consumed += bytes.length;
        if (consumed === total) {
          drain.del();
          finished.resolve();
        }
      });
      timers.push(drain);
      drain.add(1);
    });
    // The writer: refills its output whenever it drains, as fast as the socket takes it.
    let sent = 0;
    const piece = 256 * 1024;
    const writer = h.client();
    let writerHeld = 0;
    const refill = (b: BufferEvent): void => {
      if (sent < total) {
        b.write(fillPattern(new Uint8Array(piece), sent));
        sent += piece;
      }
    };
    writer.setCallbacks(null, (b) => refill(b), (b, what) => {
      if (what & BEV_EVENT_CONNECTED) refill(b);
    });
    const sampler = new Event(base, null, EV_PERSIST, () => {
      if (writer.output.length > 0) writerHeld++;
    });
    timers.push(sampler);
    sampler.add(5);
    writer.connect({ host: "127.0.0.1", port: server.port });
    try {
      await within(finished.promise, 30000, "the slow reader to take every byte");
    } finally {
      for (const ev of timers) ev.del();
    }
    assert.equal(mismatch, -1, `first wrong byte at ${mismatch}`);
    assert.equal(consumed, total);
    assert.ok(maxInput <= high, `input reached ${maxInput} bytes, above the ${high} high watermark`);
    assert.ok(maxInput > 0);
    assert.ok(writerHeld > 0, "the writer was held back: its output waited for the socket");
  }));

test("a read timeout fires READING|TIMEOUT after the idle time on a manual clock, and disables reading", () =>
  withHarness({ clock: new ManualClock() }, async (h) => {
    const clock = h.clock as ManualClock;
    const server = await h.serve(() => {});
    const events: number[] = [];
    const connected = deferred();
    const client = h.client();
    client.setCallbacks((b) => b.read(), null, (b, what) => {
      events.push(what);
      if (what & BEV_EVENT_CONNECTED) {
        b.setTimeouts(1000);
        b.enable(EV_READ);
        connected.resolve();
      }
    });
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(connected.promise, 5000, "connect");
    await until(() => server.bevs.length === 1, "accept");
    await sleep(5);
    clock.advance(999);
    assert.deepEqual(events, [BEV_EVENT_CONNECTED]);
    clock.advance(1);
    assert.deepEqual(events, [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_TIMEOUT]);
    assert.equal(client.getEnabled() & EV_READ, 0);
  }));

test("a write timeout fires WRITING|TIMEOUT when the peer stops reading, on a manual clock", () =>
  withHarness({ clock: new ManualClock() }, async (h) => {
    const clock = h.clock as ManualClock;
    // The server never enables reading: its socket stays paused and the kernel buffers fill.
    const server = await h.serve(() => {});
    const events: number[] = [];
    const connected = deferred();
    const client = h.client();
    client.setCallbacks(null, null, (_b, what) => {
      events.push(what);
      if (what & BEV_EVENT_CONNECTED) connected.resolve();
    });
    client.setTimeouts(undefined, 1000);
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(connected.promise, 5000, "connect");
    client.write(new Uint8Array(32 << 20));
    client.write("and this waits in output");
    await until(() => client.output.length === 24, "the socket to ask the writer to wait");
    await sleep(20);
    clock.advance(999);
    assert.deepEqual(events, [BEV_EVENT_CONNECTED]);
    clock.advance(1);
    assert.deepEqual(events, [BEV_EVENT_CONNECTED, BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT]);
    assert.equal(client.getEnabled() & EV_WRITE, 0);
    // Drop the 32 MiB nobody reads rather than linger over them.
    (client.socket as TcpSocket).close();
  }));

test("closeOnFree: free() still sends the output, then the peer sees EOF", () =>
  withHarness({}, async (h) => {
    let got = 0;
    const eof = deferred();
    const server = await h.serve((bev) => {
      bev.setCallbacks((b) => got += b.read().length, null, (_b, what) => {
        if (what & BEV_EVENT_EOF) eof.resolve();
      });
      bev.enable(EV_READ);
    });
    const client = h.client();
    client.setCallbacks(null, null, (b, what) => {
      if (what & BEV_EVENT_CONNECTED) {
        b.write(new Uint8Array(3 << 20));
        b.free();
      }
    });
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(eof.promise, 10000, "EOF at the server");
    assert.equal(got, 3 << 20);
    assert.equal(client.state, "freed");
  }));

test("without closeOnFree, free() leaves the socket open to its owner", () =>
  withHarness({}, async (h) => {
    const eof = deferred();
    let sawEof = false;
    const server = await h.serve((bev) => {
      bev.setCallbacks(null, null, (_b, what) => {
        if (what & BEV_EVENT_EOF) {
          sawEof = true;
          eof.resolve();
        }
      });
      bev.enable(EV_READ);
    });
    const connected = deferred();
    const client = h.client({});
    client.setCallbacks(null, null, () => connected.resolve());
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(connected.promise, 5000, "connect");
    const socket = client.socket as TcpSocket;
    client.free();
    await sleep(50);
    assert.equal(sawEof, false, "the socket is still open");
    socket.close();
    await within(eof.promise, 5000, "EOF once the owner closes");
  }));

test("deferred callbacks run on the loop in libevent's order: read, then the EOF", () =>
  withHarness({ loop: false }, async (h) => {
    const server = await h.serve((bev) => {
      bev.write("x");
      bev.flush(EV_WRITE, "finished");
    });
    const log: string[] = [];
    const base = h.base;
    const client = h.client({ closeOnFree: true, deferCallbacks: true });
    client.setCallbacks((b) => log.push(`read ${dec.decode(b.read())} ${base.running}`), null, (_b, what) => {
      log.push(`event ${what} ${base.running}`);
    });
    client.enable(EV_READ);
    client.connect({ host: "127.0.0.1", port: server.port });
    // No loop runs yet: whatever arrives waits for one.
    await sleep(100);
    assert.deepEqual(log, []);
    h.startLoop();
    await until(() => log.length === 3, "the callbacks");
    assert.deepEqual(log, [
      `event ${BEV_EVENT_CONNECTED} true`,
      "read x true",
      `event ${BEV_EVENT_READING | BEV_EVENT_EOF} true`,
    ]);
  }));

test("reading disabled pauses the socket; enabling it delivers what waited", () =>
  withHarness({}, async (h) => {
    const server = await h.serve(() => {});
    let got = "";
    const connected = deferred();
    const client = h.client();
    client.setCallbacks((b) => got += dec.decode(b.read()), null, () => connected.resolve());
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(connected.promise, 5000, "connect");
    await until(() => server.bevs.length === 1, "accept");
    server.bevs[0].write("queued while not reading");
    await sleep(50);
    assert.equal(got, "");
    assert.equal(client.input.length, 0);
    client.enable(EV_READ);
    await until(() => got === "queued while not reading", "the bytes after enable");
  }));

test("file segments in output are loaded and sent byte-exact", () =>
  withHarness({}, async (h) => {
    const chunks: Uint8Array[] = [];
    const eof = deferred();
    const server = await h.serve((bev) => {
      bev.setCallbacks((b) => chunks.push(b.read().slice()), null, (_b, what) => {
        if (what & BEV_EVENT_EOF) eof.resolve();
      });
      bev.enable(EV_READ);
    });
    const handle = await platform.fs.open(fileURLToPath(new URL("cert.pem", fixtures)));
    const size = (await handle.stat()).size;
    const client = h.client();
    client.setCallbacks(null, null, (b, what) => {
      if (what & BEV_EVENT_CONNECTED) {
        b.write("head:");
        b.output.addFile(handle, 0, size);
        b.write(":tail");
        b.flush(EV_WRITE, "finished");
      }
    });
    client.connect({ host: "127.0.0.1", port: server.port });
    await within(eof.promise, 5000, "the file at the server");
    assert.equal(dec.decode(concat(chunks)), `head:${CERT}:tail`);
  }));

test("TLS: a client BufferEvent and a server BufferEvent round-trip bytes", () =>
  withHarness({}, async (h) => {
    const server = await h.serveTls(echo);
    const size = 300_000;
    const client = h.client();
    const { echoed, events } = collectEcho(client, size, (b) => b.write(fillPattern(new Uint8Array(size), 0)));
    client.connectTls({ host: "127.0.0.1", port: server.port, serverName: "localhost", caCerts: [CERT] });
    const all = await within(echoed, 10000, "the TLS echo");
    for (let i = 0; i < size; i++) {
      if (all[i] !== patternByte(i)) assert.fail(`byte ${i} differs`);
    }
    assert.deepEqual(events, [BEV_EVENT_CONNECTED]);
  }));

test("TLS: an untrusted certificate is an ERROR with code ETLS, not an exception", () =>
  withHarness({}, async (h) => {
    const server = await h.serveTls((bev) => bev.enable(EV_READ));
    const got = deferred<number>();
    const client = h.client({});
    client.setCallbacks(null, null, (_b, what) => got.resolve(what));
    client.connectTls({ host: "127.0.0.1", port: server.port, serverName: "localhost" });
    assert.equal(await within(got.promise, 5000, "the TLS failure"), BEV_EVENT_ERROR);
    assert.equal((client.socketError as Error & { code?: string }).code, "ETLS");
  }));

/**
 * A slow reader on a plain platform socket: pauses 5 ms after every 512 KiB
 * and checks the test pattern. It keeps its side open after EOF until closed.
 */
interface SlowReader {
  received(): number;
  mismatch(): number;
  ended: Promise<void>;
  /** Every error the socket reported. */
  errors: Error[];
  closed: Promise<void>;
  socket: TcpSocket;
}

function slowReader(socket: TcpSocket): SlowReader {
  let received = 0;
  let mismatch = -1;
  let sinceBreak = 0;
  const ended = deferred();
  const closed = deferred();
  const errors: Error[] = [];
  socket.start({
    data(bytes) {
      for (let i = 0; i < bytes.length; i++) {
        if (mismatch < 0 && bytes[i] !== patternByte(received + i)) mismatch = received + i;
      }
      received += bytes.length;
      sinceBreak += bytes.length;
      if (sinceBreak >= 512 * 1024) {
        sinceBreak = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 5);
      }
    },
    end: () => ended.resolve(),
    drain() {},
    error: (err) => errors.push(err),
    close: () => {
      ended.resolve();
      closed.resolve();
    },
  });
  return {
    received: () => received,
    mismatch: () => mismatch,
    ended: ended.promise,
    errors,
    closed: closed.promise,
    socket,
  };
}

/** A connected pair of plain platform sockets on 127.0.0.1: the accepted one and the client. */
async function socketPair(): Promise<{ server: TcpSocket; client: TcpSocket }> {
  const accepted = deferred<TcpSocket>();
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => accepted.resolve(s));
  try {
    const client = await within(platform.connect({ host: "127.0.0.1", port: listener.address.port }), 5000, "connect");
    return { server: await within(accepted.promise, 5000, "accept"), client };
  } finally {
    await listener.close();
  }
}

/** A file of `size` pattern bytes starting at stream offset `offset`, in a fresh temporary folder. */
function patternFile(size: number, offset: number): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "levent-bev-"));
  const path = join(dir, "pattern.bin");
  writeFileSync(path, fillPattern(new Uint8Array(size), offset));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A FileHandle that counts its close() calls. */
function countingHandle(inner: FileHandle): FileHandle & { closes: number } {
  const counted = {
    closes: 0,
    read: (position: number, length: number) => inner.read(position, length),
    stat: () => inner.stat(),
    close: () => {
      counted.closes++;
      return inner.close();
    },
  };
  return counted;
}

test("free() with closeOnFree holds dispatch() until all 20 MB, file segments included, and FIN are handed over", async () => {
  const head = 6 << 20;
  const fileSize = 8 << 20;
  const tail = 6 << 20;
  const total = head + fileSize + tail;
  const file = patternFile(fileSize, head);
  try {
    const { server, client } = await socketPair();
    const reader = slowReader(client);
    const base = new EventBase({ platform });
    const bev = BufferEvent.socket(base, server, { closeOnFree: true });
    bev.write(fillPattern(new Uint8Array(head), 0));
    bev.output.addFile(await platform.fs.open(file.path), 0, fileSize);
    bev.write(fillPattern(new Uint8Array(tail), head + fileSize));
    bev.free();
    await within(base.dispatch(), 30000, "dispatch() after the lingering free");
    // A program that exits here loses what the adapter still queues; closing the socket drops it the same way.
    server.close();
    await within(reader.ended, 30000, "the end of the stream at the slow reader");
    assert.equal(reader.mismatch(), -1, `first wrong byte at ${reader.mismatch()}`);
    assert.equal(reader.received(), total);
    assert.deepEqual(reader.errors, []);
    client.close();
    await within(reader.closed, 5000, "the reader's close");
  } finally {
    file.remove();
  }
});

test("a lingering free() lets the loop go once FIN is out, though the peer never closes its side", async () => {
  const { server, client } = await socketPair();
  const reader = slowReader(client);
  const base = new EventBase({ platform });
  const bev = BufferEvent.socket(base, server, { closeOnFree: true });
  bev.write(fillPattern(new Uint8Array(4 << 20), 0));
  bev.free();
  await within(base.dispatch(), 20000, "dispatch()");
  await within(reader.ended, 20000, "EOF at the reader");
  assert.equal(reader.received(), 4 << 20);
  client.close();
  await within(reader.closed, 5000, "close");
});

test("a lingering free() lets the loop go when the peer resets the connection", async () => {
  const { server, client } = await socketPair();
  client.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
  client.pause();
  const base = new EventBase({ platform });
  const bev = BufferEvent.socket(base, server, { closeOnFree: true });
  bev.write(new Uint8Array(32 << 20));
  bev.free();
  const done = base.dispatch();
  await sleep(100);
  client.reset();
  await within(done, 10000, "dispatch() after the reset");
});

test("output's file handles are closed when the connection goes away, without waiting for free()", () =>
  withHarness({}, async (h) => {
    const file = patternFile(20 << 20, 0);
    try {
      const { server, client } = await socketPair();
      const handle = countingHandle(await platform.fs.open(file.path));
      const bev = h.track(BufferEvent.socket(h.base, server, { closeOnFree: true }));
      const events: number[] = [];
      bev.setCallbacks(null, null, (_b, what) => events.push(what));
      bev.enable(EV_READ);
      bev.output.addFile(handle, 0, 20 << 20);
      let got = 0;
      client.start({
        data(bytes) {
          got += bytes.length;
          if (got >= 100 * 1024) client.close();
        },
        end() {},
        drain() {},
        error() {},
        close() {},
      });
      await until(() => bev.state === "closed", "the server's connection to close", 10000);
      await until(() => handle.closes === 1, "the file handle to close");
      assert.equal(bev.output.length, 0, "unsendable output is dropped");
      assert.ok(events.some((what) => what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)), `events ${events}`);
    } finally {
      file.remove();
    }
  }));

test("free() closes the file handles of output it will not send: without closeOnFree, while connecting, after close", () =>
  withHarness({}, async (h) => {
    const path = fileURLToPath(new URL("cert.pem", fixtures));
    // Without closeOnFree: the socket stays with its owner, the output is dropped.
    const { server, client } = await socketPair();
    const kept = countingHandle(await platform.fs.open(path));
    const open = BufferEvent.socket(h.base, server, {});
    open.output.addFile(kept, 0, 100);
    open.free();
    assert.equal(kept.closes, 1);
    server.close();
    client.close();
    // Freed while its connect is under way.
    const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => s.close());
    const connecting = countingHandle(await platform.fs.open(path));
    const bev = BufferEvent.socket(h.base, null, { closeOnFree: true });
    bev.output.addFile(connecting, 0, 100);
    bev.connect({ host: "127.0.0.1", port: listener.address.port });
    bev.free();
    assert.equal(connecting.closes, 1);
    await listener.close();
    // A lingering free() whose peer has gone: the rest of the file is never sent.
    const pair = await socketPair();
    pair.client.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
    pair.client.pause();
    const file = patternFile(32 << 20, 0);
    try {
      const lingering = countingHandle(await platform.fs.open(file.path));
      const linger = BufferEvent.socket(h.base, pair.server, { closeOnFree: true });
      linger.output.addFile(lingering, 0, 32 << 20);
      linger.free();
      await sleep(100);
      // Closed with bytes it never read: the kernel answers with RST.
      pair.client.close();
      await until(() => lingering.closes === 1, "the lingering free's file handle to close");
    } finally {
      file.remove();
    }
  }));

test("abort() drops the output and resets the connection: the peer sees ECONNRESET (Deno: an end), not a clean end", () =>
  withHarness({}, async (h) => {
    const { server, client } = await socketPair();
    const reader = slowReader(client);
    const path = fileURLToPath(new URL("cert.pem", fixtures));
    const handle = countingHandle(await platform.fs.open(path));
    const bev = BufferEvent.socket(h.base, server, { closeOnFree: true });
    bev.write(fillPattern(new Uint8Array(1 << 20), 0));
    await until(() => reader.received() === 1 << 20, "the first megabyte");
    client.pause();
    bev.write(new Uint8Array(32 << 20));
    bev.output.addFile(handle, 0, 100);
    await sleep(50);
    bev.abort();
    assert.equal(bev.state, "freed");
    assert.equal(handle.closes, 1);
    bev.abort();
    bev.free();
    client.resume();
    await within(reader.ended, 5000, "the peer's end or reset");
    client.close();
    await within(reader.closed, 5000, "the peer's close");
    assert.ok(reader.received() < 33 << 20, "the output was dropped");
    if (platform.name === "deno") {
      assert.deepEqual(reader.errors, [], "Deno cannot send RST (TcpSocket.reset)");
    } else {
      assert.equal(reader.errors.length, 1);
      assert.equal((reader.errors[0] as Error & { code?: string }).code, "ECONNRESET");
    }
  }));

test("the buffer entry point exports BufferEvent's public API and none of its core or kinds", async () => {
  const buffer: Record<string, unknown> = await import("../../src/buffer/mod.ts");
  for (const name of ["BufferEvent", "RateLimitGroup", "TokenBucketConfig", "BEV_EVENT_EOF", "BEV_EVENT_CONNECTED"]) {
    assert.ok(name in buffer, `${name} is exported`);
  }
  const internals = Object.keys(buffer).filter((name) =>
    /Core|Ops$|^RateLimit$|^SUSPEND_|^linkPair$|^check/.test(name)
  );
  assert.deepEqual(internals, []);
  const [a] = BufferEvent.pair(new EventBase({ platform }));
  assert.ok(a instanceof BufferEvent);
  assert.deepEqual(Object.keys(a), [], "a BufferEvent shows no fields of its own");
});
