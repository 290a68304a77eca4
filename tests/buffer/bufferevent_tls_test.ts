// The TLS kind of BufferEvent (libevent's bufferevent_openssl.c): TLS started
// over a connection that began in plain text, with BufferEvent.tls (the
// filter form) and BufferEvent.tlsSocket (the socket form).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { autoPlatform } from "../../adapters/auto.ts";
import type { TcpListener, TcpSocket } from "../../src/platform.ts";
import { EV_READ, EV_WRITE, EventBase } from "../../src/event/mod.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BufferEvent,
  type BufferEventTlsOptions,
} from "../../src/buffer/mod.ts";
import { deferred, fillPattern, patternByte, within } from "../util.ts";

const platform = autoPlatform();
const fixtures = new URL("../fixtures/", import.meta.url);
const CERT = readFileSync(new URL("cert.pem", fixtures), "utf8");
const KEY = readFileSync(new URL("key.pem", fixtures), "utf8");
const CLIENT: BufferEventTlsOptions = { role: "client", serverName: "localhost", caCerts: [CERT] };
const SERVER: BufferEventTlsOptions = { role: "server", cert: CERT, key: KEY };

/**
 * One test's base (its loop running), listeners and BufferEvents; close()
 * frees them all, even when an assertion failed, so no test leaves sockets
 * open behind it.
 */
class Harness {
  readonly base: EventBase = new EventBase({ platform });
  readonly #bevs: BufferEvent[] = [];
  readonly #listeners: TcpListener[] = [];
  readonly #loop: Promise<unknown> = this.base.loop({ noExitOnEmpty: true });

  track(bev: BufferEvent): BufferEvent {
    this.#bevs.push(bev);
    return bev;
  }

  /** A plain listener on 127.0.0.1:0 handing each accepted socket, not started, to `onAccept`. */
  async listen(onAccept: (socket: TcpSocket) => void): Promise<number> {
    const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, onAccept);
    this.#listeners.push(listener);
    return listener.address.port;
  }

  /** A plain listener whose accepted sockets become socket BufferEvents (closeOnFree). */
  serve(onAccept: (bev: BufferEvent) => void): Promise<number> {
    return this.listen((socket) => onAccept(this.track(BufferEvent.socket(this.base, socket, { closeOnFree: true }))));
  }

  /** A plain client socket BufferEvent (closeOnFree), connecting to `port`. */
  connect(port: number): BufferEvent {
    const bev = this.track(BufferEvent.socket(this.base, null, { closeOnFree: true }));
    bev.connect({ host: "127.0.0.1", port });
    return bev;
  }

  async close(): Promise<void> {
    for (const bev of this.#bevs) bev.free();
    for (const listener of this.#listeners) await listener.close();
    this.base.loopExit();
    await within(this.#loop, 5000, "the loop to exit");
  }
}

async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = new Harness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/**
 * Each CRLF line `bev` reads goes to `onLine`, reading enabled, while the
 * connection is `bev`'s own (a TLS BufferEvent started over it takes it,
 * and the bytes after the line with it). Events go to `onEvent`.
 */
function lines(
  bev: BufferEvent,
  onLine: (line: string, bev: BufferEvent) => void,
  onEvent: ((bev: BufferEvent, what: number) => void) | null = null,
): void {
  bev.setCallbacks(
    (b) => {
      let line: string | null;
      while (b.state === "open" && (line = b.input.readLineString("crlf")) !== null) onLine(line, b);
    },
    null,
    onEvent,
  );
  bev.enable(EV_READ);
}

/** What the event callback of a TLS BufferEvent sees, in order; `connected` resolves on BEV_EVENT_CONNECTED. */
interface Events {
  readonly seen: number[];
  readonly first: Promise<number>;
  readonly connected: Promise<void>;
}

/** Record `bev`'s events, keeping its read and write callbacks unset. */
function watch(bev: BufferEvent): Events {
  const seen: number[] = [];
  const first = deferred<number>();
  const connected = deferred();
  bev.setCallbacks(null, null, (_b, what) => {
    seen.push(what);
    first.resolve(what);
    if (what & BEV_EVENT_CONNECTED) connected.resolve();
  });
  return { seen, first: first.promise, connected: connected.promise };
}

/** Both ends of a connection that went from plain text to TLS. */
interface Upgraded {
  readonly client: BufferEvent;
  readonly server: BufferEvent;
  readonly plainClient: BufferEvent;
  readonly plainServer: BufferEvent;
  readonly clientEvents: Events;
  readonly serverEvents: Events;
}

/**
 * An SMTP-like exchange: EHLO and STARTTLS in plain text, then both ends
 * start TLS with BufferEvent.tls, the server on its accepted connection
 * right after its "220" reply, the client on its connected one once it
 * read that reply. Resolves once both handshakes are done.
 */
async function starttls(h: Harness): Promise<Upgraded> {
  const server = deferred<{ tls: BufferEvent; plain: BufferEvent; events: Events }>();
  const port = await h.serve((plain) => {
    lines(plain, (line, b) => {
      if (line.startsWith("EHLO ")) {
        b.write("250 hello\r\n");
      } else if (line === "STARTTLS") {
        b.write("220 go ahead\r\n");
        const tls = h.track(BufferEvent.tls(b, SERVER, { closeOnFree: true }));
        server.resolve({ tls, plain: b, events: watch(tls) });
      }
    });
  });
  const plainClient = h.connect(port);
  const client = deferred<{ tls: BufferEvent; events: Events }>();
  lines(plainClient, (line, b) => {
    if (line === "250 hello") {
      b.write("STARTTLS\r\n");
    } else if (line === "220 go ahead") {
      const tls = h.track(BufferEvent.tls(b, CLIENT, { closeOnFree: true }));
      client.resolve({ tls, events: watch(tls) });
    }
  }, (b, what) => {
    if (what & BEV_EVENT_CONNECTED) b.write("EHLO client.example\r\n");
  });
  const c = await within(client.promise, 5000, "the client's STARTTLS");
  const s = await within(server.promise, 5000, "the server's STARTTLS");
  await within(Promise.all([c.events.connected, s.events.connected]), 5000, "the handshakes");
  return {
    client: c.tls,
    server: s.tls,
    plainClient,
    plainServer: s.plain,
    clientEvents: c.events,
    serverEvents: s.events,
  };
}

/** What {@linkcode exchangePattern} reports. */
interface PatternExchange {
  /** Resolves with the count received, at EOF. */
  readonly done: Promise<number>;
  /** The first byte received that differs from the pattern, or -1. */
  mismatch(): number;
  /** The most bytes input held when the read callback ran. */
  most(): number;
}

/**
 * Send `total` bytes of the test pattern through `bev` and check what it
 * receives against the same pattern. Writing is paced by the write
 * callback: output is refilled only once it drained to the write low
 * watermark, and ended with flush("finished"). With `stallAt`, reading
 * stops for 200 ms once that many bytes came in.
 */
function exchangePattern(bev: BufferEvent, total: number, stallAt = -1): PatternExchange {
  let sent = 0;
  let checked = 0;
  let mismatch = -1;
  let most = 0;
  const done = deferred<number>();
  const more = (b: BufferEvent): void => {
    while (sent < total && b.output.length < 256 * 1024) {
      const n = Math.min(64 * 1024, total - sent);
      b.write(fillPattern(new Uint8Array(n), sent));
      sent += n;
    }
    if (sent === total) b.flush(EV_WRITE, "finished");
  };
  bev.setWatermark(EV_WRITE, 64 * 1024, 0);
  bev.setCallbacks(
    (b) => {
      if (b.input.length > most) most = b.input.length;
      const bytes = b.read();
      for (let i = 0; i < bytes.length; i++) {
        if (mismatch < 0 && bytes[i] !== patternByte(checked + i)) mismatch = checked + i;
      }
      const before = checked;
      checked += bytes.length;
      if (before < stallAt && checked >= stallAt) {
        b.disable(EV_READ);
        setTimeout(() => b.state === "open" && b.enable(EV_READ), 200);
      }
    },
    more,
    (_b, what) => {
      if (what & BEV_EVENT_EOF) done.resolve(checked);
      else done.reject(new Error(`event ${what} before EOF`));
    },
  );
  bev.enable(EV_READ);
  more(bev);
  return { done: done.promise, mismatch: () => mismatch, most: () => most };
}

test("STARTTLS: after plaintext lines the client upgrades as the TLS client and the server as the TLS server; lines cross both ways", () =>
  withHarness(async (h) => {
    const up = await starttls(h);
    assert.deepEqual(up.clientEvents.seen, [BEV_EVENT_CONNECTED]);
    assert.deepEqual(up.serverEvents.seen, [BEV_EVENT_CONNECTED]);
    // The TLS BufferEvents took the connections: the plain ones are closed, without a socket.
    for (const [tls, plain] of [[up.client, up.plainClient], [up.server, up.plainServer]]) {
      assert.equal(tls.state, "open");
      assert.equal(tls.getUnderlying(), plain);
      assert.notEqual(tls.socket, null);
      assert.equal(plain.state, "closed");
      assert.equal(plain.socket, null);
    }
    const got = deferred<string>();
    lines(up.server, (line, b) => b.write(`250 secure ${line}\r\n`));
    lines(up.client, (line) => got.resolve(line));
    up.client.write("MAIL FROM:<a@example.com>\r\n");
    assert.equal(await within(got.promise, 5000, "the reply over TLS"), "250 secure MAIL FROM:<a@example.com>");
  }));

test("8 MiB each way over the upgraded connection arrive byte-exact, the writers paced by their write callbacks, input held to the read high watermark through a stalled reader", () =>
  withHarness(async (h) => {
    const up = await starttls(h);
    const total = 8 << 20;
    up.client.setWatermark(EV_READ, 0, 64 * 1024);
    up.server.setWatermark(EV_READ, 0, 64 * 1024);
    const atClient = exchangePattern(up.client, total, 1 << 20);
    const atServer = exchangePattern(up.server, total);
    const [c, s] = await within(Promise.all([atClient.done, atServer.done]), 60000, "8 MiB each way");
    assert.equal(c, total);
    assert.equal(s, total);
    assert.equal(atClient.mismatch(), -1, `the client's first mismatch at byte ${atClient.mismatch()}`);
    assert.equal(atServer.mismatch(), -1, `the server's first mismatch at byte ${atServer.mismatch()}`);
    assert.ok(atClient.most() <= 64 * 1024, `the client's input grew to ${atClient.most()}`);
    assert.ok(atServer.most() <= 64 * 1024, `the server's input grew to ${atServer.most()}`);
  }));

test("STARTTLS pipelined: the ClientHello arrives in the same read as the last plaintext line, and the server hands the unread bytes to TLS first", () =>
  withHarness(async (h) => {
    const unreadAtUpgrade = deferred<Uint8Array>();
    const serverTls = deferred<BufferEvent>();
    const port = await h.serve((plain) => {
      // Read late, so that the command and the ClientHello wait in the kernel together.
      setTimeout(() => {
        if (plain.state !== "open") return;
        lines(plain, (line, b) => {
          if (line !== "STARTTLS") return;
          const unread = new Uint8Array(b.input.length);
          b.input.copyout(unread);
          unreadAtUpgrade.resolve(unread);
          const tls = h.track(BufferEvent.tls(b, SERVER, { closeOnFree: true }));
          lines(tls, (l, t) => t.write(`echo ${l}\r\n`));
          serverTls.resolve(tls);
        });
      }, 150);
    });
    const plain = h.connect(port);
    const got = deferred<string>();
    const clientEvents: number[] = [];
    plain.setCallbacks(null, null, (b, what) => {
      if ((what & BEV_EVENT_CONNECTED) === 0) return;
      // The command and, at once, TLS: its ClientHello follows the line on the wire.
      b.write("STARTTLS\r\n");
      const tls = h.track(BufferEvent.tls(b, CLIENT, { closeOnFree: true }));
      assert.equal(tls.state, "connecting");
      // Written while the handshake runs: sent once it is done.
      tls.write("ping\r\n");
      lines(tls, (line) => got.resolve(line), (_t, w) => clientEvents.push(w));
    });
    const unread = await within(unreadAtUpgrade.promise, 5000, "the STARTTLS line");
    assert.ok(unread.length > 0, "nothing followed the line in the same read");
    assert.equal(unread[0], 0x16, "a TLS handshake record follows the line");
    assert.equal(await within(got.promise, 5000, "the echo over TLS"), "echo ping");
    assert.deepEqual(clientEvents, [BEV_EVENT_CONNECTED]);
    assert.equal((await serverTls.promise).state, "open");
  }));

test("a client that does not trust the certificate gets BEV_EVENT_ERROR with socketError.code ETLS; the server's handshake fails too", () =>
  withHarness(async (h) => {
    const serverEvents = deferred<Events>();
    const port = await h.serve((plain) => {
      serverEvents.resolve(watch(h.track(BufferEvent.tls(plain, SERVER, { closeOnFree: true }))));
    });
    const plain = h.connect(port);
    const client = deferred<{ tls: BufferEvent; events: Events }>();
    plain.setCallbacks(null, null, (b, what) => {
      if ((what & BEV_EVENT_CONNECTED) === 0) return;
      const tls = h.track(BufferEvent.tls(b, { role: "client", serverName: "localhost" }, { closeOnFree: true }));
      client.resolve({ tls, events: watch(tls) });
    });
    const c = await within(client.promise, 5000, "the client's upgrade");
    assert.equal(await within(c.events.first, 5000, "the client's handshake"), BEV_EVENT_ERROR);
    assert.equal((c.tls.socketError as Error & { code?: string }).code, "ETLS");
    assert.equal(c.tls.state, "closed");
    const s = await serverEvents.promise;
    const what = await within(s.first, 5000, "the server's handshake");
    assert.ok(what & BEV_EVENT_ERROR, `the server saw event ${what}`);
  }));

test("tlsSocket: a socket accepted on a plain listener becomes a TLS server BufferEvent, and a connected plain socket a TLS client one", () =>
  withHarness(async (h) => {
    const port = await h.listen((socket) => {
      const tls = h.track(BufferEvent.tlsSocket(h.base, socket, SERVER, { closeOnFree: true }));
      lines(tls, (line, t) => t.write(`echo ${line}\r\n`));
    });
    const socket = await within(platform.connect({ host: "127.0.0.1", port }), 5000, "connect");
    const tls = h.track(BufferEvent.tlsSocket(h.base, socket, CLIENT, { closeOnFree: true }));
    assert.equal(tls.state, "connecting");
    assert.equal(tls.getUnderlying(), null);
    const got = deferred<string>();
    const events: number[] = [];
    lines(tls, (line) => got.resolve(line), (t, what) => {
      events.push(what);
      if (what & BEV_EVENT_CONNECTED) t.write("hello\r\n");
    });
    assert.equal(await within(got.promise, 5000, "the echo over TLS"), "echo hello");
    assert.deepEqual(events, [BEV_EVENT_CONNECTED]);
    assert.notEqual(tls.socket, null);
  }));

test("free() with closeOnFree frees the underlying BufferEvent too and the peer sees EOF; without it the underlying stays, closed, for its owner", () =>
  withHarness(async (h) => {
    const owned = await starttls(h);
    const eof = deferred<number>();
    owned.server.setCallbacks(null, null, (_b, what) => eof.resolve(what));
    owned.server.enable(EV_READ);
    owned.client.free();
    assert.equal(owned.client.state, "freed");
    assert.equal(owned.plainClient.state, "freed");
    assert.ok((await within(eof.promise, 5000, "EOF at the server")) & BEV_EVENT_EOF);

    const port = await h.serve((plain) => h.track(BufferEvent.tls(plain, SERVER, { closeOnFree: true })));
    const plain = h.connect(port);
    const kept = deferred<BufferEvent>();
    plain.setCallbacks(null, null, (b, what) => {
      if (what & BEV_EVENT_CONNECTED) kept.resolve(BufferEvent.tls(b, CLIENT));
    });
    const tls = await within(kept.promise, 5000, "the upgrade");
    await within(watch(tls).connected, 5000, "the handshake");
    tls.free();
    assert.equal(plain.state, "closed");
    assert.equal(plain.socket, null);
  }));

test("wrong arguments are TypeErrors that name them, and leave the underlying BufferEvent as it was", () =>
  withHarness(async (h) => {
    const up = deferred<BufferEvent>();
    const accepted = deferred<BufferEvent>();
    const port = await h.serve((bev) => accepted.resolve(bev));
    const plain = h.connect(port);
    plain.setCallbacks(null, null, (b, what) => {
      if (what & BEV_EVENT_CONNECTED) up.resolve(b);
    });
    const open = await within(up.promise, 5000, "connect");
    const bad = (fn: () => unknown, message: RegExp): void => {
      assert.throws(fn, (err: Error) => {
        assert.ok(err instanceof TypeError, `${err.name}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
    };
    const anyTls = (value: unknown): BufferEventTlsOptions => value as BufferEventTlsOptions;
    bad(() => BufferEvent.tls({} as BufferEvent, CLIENT), /^underlying must be a BufferEvent/);
    bad(() => BufferEvent.tls(open, anyTls(null)), /^tls must be an object/);
    bad(() => BufferEvent.tls(open, anyTls({ role: "middle" })), /^tls.role must be "client" or "server"/);
    bad(() => BufferEvent.tls(open, anyTls({ role: "server", key: KEY })), /^tls.cert must be a non-empty string/);
    bad(() => BufferEvent.tls(open, anyTls({ role: "server", cert: CERT, key: 42 })), /^tls.key must be/);
    bad(() => BufferEvent.tls(open, anyTls({ role: "client", serverName: 443 })), /^tls.serverName must be/);
    bad(() => BufferEvent.tls(open, anyTls({ role: "client", caCerts: CERT })), /^tls.caCerts must be an array/);
    bad(
      () => BufferEvent.tls(open, anyTls({ role: "client", alpnProtocols: ["h2", 1] })),
      /^tls.alpnProtocols must be/,
    );
    bad(
      () => BufferEvent.tls(open, CLIENT, { closeOnFree: "yes" as unknown as boolean }),
      /^options.closeOnFree must be/,
    );
    const [a, b] = BufferEvent.pair(h.base);
    bad(() => BufferEvent.tls(a, CLIENT), /socket BufferEvent/);
    a.free();
    b.free();
    assert.throws(() => BufferEvent.tls(a, CLIENT), /freed/);
    const idle = h.track(BufferEvent.socket(h.base, null));
    bad(() => BufferEvent.tls(idle, CLIENT), /idle; TLS starts over an open connection/);
    bad(() => BufferEvent.tlsSocket({} as EventBase, {} as TcpSocket, CLIENT), /^base must be/);
    bad(() => BufferEvent.tlsSocket(h.base, "socket" as unknown as TcpSocket, CLIENT), /^socket must be a TcpSocket/);
    bad(() => BufferEvent.tlsSocket(h.base, {} as TcpSocket, CLIENT), /^socket must be a TcpSocket/);
    bad(() => BufferEvent.tlsSocket(h.base, open.socket as TcpSocket, anyTls({ role: "server" })), /^tls.cert/);
    // Nothing was taken: the connection is still the plain BufferEvent's.
    assert.equal(open.state, "open");
    assert.notEqual(open.socket, null);
    const echoed = deferred<string>();
    open.setCallbacks((bev) => echoed.resolve(new TextDecoder().decode(bev.read())), null, null);
    open.enable(EV_READ);
    const peer = await within(accepted.promise, 5000, "the accepted end");
    peer.write("still plain");
    assert.equal(await within(echoed.promise, 5000, "plain bytes"), "still plain");
  }));
