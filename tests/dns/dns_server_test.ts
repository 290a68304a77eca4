/**
 * DnsServer over UDP and TCP: levent's resolver against it for every
 * record kind addReply makes, truncation with TC (and EDNS0's size),
 * FORMERR / NOTIMP / BADVERS for what is not a good query while everyone
 * else is still answered, a failing callback, deferred answers and close.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventBase } from "../../src/event/mod.ts";
import { DnsBase } from "../../src/dns/dns_base.ts";
import type { DnsError } from "../../src/dns/dns_error.ts";
import {
  decodeDnsMessage,
  DNS_CLASS_IN,
  DNS_FLAG_AA,
  DNS_FLAG_QR,
  DNS_FLAG_RD,
  DNS_FLAG_TC,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_PTR,
  DNS_TYPE_SRV,
  DNS_TYPE_TXT,
  type DnsEdns,
  type DnsMessage,
  encodeDnsMessage,
} from "../../src/dns/dns_message.ts";
import {
  DNS_ANSWER_SECTION,
  DNS_RCODE_NXDOMAIN,
  DnsServer,
  type DnsServerCallback,
  type DnsServerRequest,
} from "../../src/dns/dns_server.ts";
import { takeTcpMessages, tcpFrame } from "../../src/dns/dns_tcp.ts";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import type { NetAddress } from "../../src/platform.ts";
import { platform, portHeldForTcp } from "./dns_util.ts";
import { deferred, sleep, within } from "../util.ts";

/** A zone: what the test server answers. */
const zone: DnsServerCallback = (req) => {
  const q = req.questions[0];
  const name = q.name.toLowerCase();
  if (name === "many.test") {
    req.addAReply(q.name, Array.from({ length: 60 }, (_, i) => `198.51.100.${i}`), 60);
  } else if (name === "www.test") {
    if (q.type === DNS_TYPE_A || q.type === DNS_TYPE_CNAME) {
      req.addCnameReply(q.name, "host.test", 300);
      if (q.type === DNS_TYPE_A) req.addAReply("host.test", ["192.0.2.10"], 300);
    }
  } else if (name === "host.test") {
    if (q.type === DNS_TYPE_A) req.addAReply(q.name, ["192.0.2.10", "192.0.2.11"], 300);
    if (q.type === DNS_TYPE_AAAA) req.addAaaaReply(q.name, ["2001:db8::10"], 300);
    if (q.type === DNS_TYPE_MX) req.addMxReply(q.name, 10, "mail.test", 300);
    if (q.type === DNS_TYPE_TXT) req.addTxtReply(q.name, ["hello", "world"], 300);
  } else if (name === "_http._tcp.test" && q.type === DNS_TYPE_SRV) {
    req.addSrvReply(q.name, { priority: 1, weight: 2, port: 8080, target: "host.test" }, 300);
  } else if (name === "10.2.0.192.in-addr.arpa" && q.type === DNS_TYPE_PTR) {
    req.addPtrReply("192.0.2.10", "host.test", 300);
  } else if (name === "throws.test") {
    throw new Error("zone bug");
  } else if (name === "later.test") {
    req.addAReply(q.name, ["192.0.2.99"], 1);
    setTimeout(() => req.respond(), 20);
    return;
  } else if (name === "dropped.test") {
    req.drop();
    return;
  } else {
    req.respond(DNS_RCODE_NXDOMAIN);
    return;
  }
  req.setFlags(DNS_FLAG_AA);
  req.respond();
};

class Harness {
  readonly base: EventBase = new EventBase({ platform });
  readonly #loop: Promise<unknown> = this.base.loop({ noExitOnEmpty: true });
  server!: DnsServer;
  readonly errors: unknown[] = [];
  readonly #closers: Array<() => unknown> = [];

  async start(callback: DnsServerCallback = zone, options: { maxUdpSize?: number } = {}): Promise<DnsServer> {
    this.server = await DnsServer.bind(this.base, { host: "127.0.0.1", port: 0, ...options }, callback);
    this.server.setErrorLogger((err) => this.errors.push(err));
    return this.server;
  }

  resolver(options: ConstructorParameters<typeof DnsBase>[1] = {}): DnsBase {
    const dns = new DnsBase(this.base, { nameservers: [`127.0.0.1:${this.server.address.port}`], ...options });
    this.#closers.push(() => dns.free());
    return dns;
  }

  /** Send raw datagrams from a fresh socket and collect what comes back within `ms`. */
  async udp(packets: Uint8Array[], want: number, ms = 2000): Promise<DnsMessage[]> {
    const got: DnsMessage[] = [];
    const enough = deferred();
    const sock = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, {
      message(bytes) {
        got.push(decodeDnsMessage(bytes));
        if (got.length >= want) enough.resolve();
      },
    });
    try {
      for (const p of packets) sock.send(p, "127.0.0.1", this.server.address.port);
      await Promise.race([enough.promise, new Promise((r) => setTimeout(r, ms))]);
    } finally {
      sock.close();
    }
    return got;
  }

  /** Send raw messages over one TCP connection and collect `want` answers. */
  async tcp(messages: Uint8Array[], want: number): Promise<DnsMessage[]> {
    const socket = await platform.connect({ host: "127.0.0.1", port: this.server.address.port });
    const input = new EvBuffer();
    const got: DnsMessage[] = [];
    const enough = deferred();
    socket.start({
      data(bytes) {
        input.add(bytes.slice());
        for (const m of takeTcpMessages(input)) got.push(decodeDnsMessage(m));
        if (got.length >= want) enough.resolve();
      },
      end() {},
      drain() {},
      error() {},
      close() {
        enough.resolve();
      },
    });
    try {
      for (const m of messages) socket.write(tcpFrame(m));
      await within(enough.promise, 5000, "the TCP answers");
    } finally {
      socket.close();
    }
    return got;
  }

  async close(): Promise<void> {
    for (const c of this.#closers) await c();
    await this.server?.close();
    this.base.loopBreak();
    await within(this.#loop, 5000, "the loop to end");
  }
}

function query(name: string, type: number, id = 0x4242, edns: DnsEdns | null = null, flags = DNS_FLAG_RD): Uint8Array {
  return encodeDnsMessage({
    id,
    flags,
    rcode: 0,
    questions: [{ name, type, class: DNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns,
  });
}

test("levent's resolver against levent's DnsServer: A through a CNAME, AAAA, PTR, MX, TXT, SRV and NXDOMAIN", async () => {
  const h = new Harness();
  try {
    await h.start();
    const dns = h.resolver();
    assert.deepEqual((await dns.queryIpv4("host.test")).answers, ["192.0.2.10", "192.0.2.11"]);
    assert.deepEqual((await dns.queryIpv4("www.test")).answers, ["192.0.2.10"]);
    assert.deepEqual((await dns.queryIpv6("host.test")).answers, ["2001:db8::10"]);
    assert.deepEqual((await dns.queryReverse("192.0.2.10")).answers, ["host.test"]);
    assert.deepEqual((await dns.query("host.test", DNS_TYPE_MX)).answers.map((r) => r.data), [
      { preference: 10, exchange: "mail.test" },
    ]);
    assert.deepEqual((await dns.query("host.test", DNS_TYPE_TXT)).answers[0].data, ["hello", "world"]);
    assert.deepEqual((await dns.query("_http._tcp.test", DNS_TYPE_SRV)).answers[0].data, {
      priority: 1,
      weight: 2,
      port: 8080,
      target: "host.test",
    });
    await assert.rejects(dns.queryIpv4("nowhere.test"), (e: unknown) => (e as DnsError).code === "ERR_DNS_NOTEXIST");
    const [raw] = await h.udp([query("host.test", DNS_TYPE_A, 7)], 1);
    assert.equal(raw.id, 7);
    assert.ok(raw.flags & DNS_FLAG_QR && raw.flags & DNS_FLAG_AA && raw.flags & DNS_FLAG_RD);
  } finally {
    await h.close();
  }
});

test("UDP answers over 512 bytes without EDNS are cut with TC; EDNS0's size is honoured; the resolver gets them all over TCP", async () => {
  const h = new Harness();
  try {
    await h.start();
    const [plain] = await h.udp([query("many.test", DNS_TYPE_A)], 1);
    assert.ok(plain.flags & DNS_FLAG_TC);
    assert.ok(plain.answers.length > 0 && plain.answers.length < 60);
    assert.equal(encodeDnsMessage(plain).length <= 512, true);
    const edns = { udpSize: 4096, version: 0, dnssecOk: false, options: [] };
    const [big] = await h.udp([query("many.test", DNS_TYPE_A, 1, edns)], 1);
    assert.equal(big.flags & DNS_FLAG_TC, 0);
    assert.equal(big.answers.length, 60);
    assert.equal(big.edns?.udpSize, 4096);
    const [mid] = await h.udp([query("many.test", DNS_TYPE_A, 1, { ...edns, udpSize: 700 })], 1);
    assert.ok(mid.flags & DNS_FLAG_TC && mid.answers.length > plain.answers.length && mid.answers.length < 60);
    const dns = h.resolver({ ednsUdpSize: 0 });
    assert.equal((await dns.queryIpv4("many.test")).answers.length, 60);
    const [tcp] = await h.tcp([query("many.test", DNS_TYPE_A)], 1);
    assert.equal(tcp.answers.length, 60);
    assert.equal(tcp.flags & DNS_FLAG_TC, 0);
  } finally {
    await h.close();
  }
});

test("a malformed query gets FORMERR, another opcode NOTIMP, EDNS version 1 BADVERS; junk is dropped and the rest still answered", async () => {
  const h = new Harness();
  try {
    await h.start();
    const good = query("host.test", DNS_TYPE_A, 0x1111);
    const loop = Uint8Array.from([0x22, 0x22, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const notify = query("host.test", DNS_TYPE_A, 0x3333, null, 4 << 11);
    const badvers = query("host.test", DNS_TYPE_A, 0x4444, { udpSize: 1232, version: 1, dnssecOk: false, options: [] });
    const short = Uint8Array.of(1, 2, 3);
    const response = encodeDnsMessage({ ...decodeDnsMessage(good), id: 0x5555, flags: DNS_FLAG_QR });
    const got = await h.udp([loop, short, response, notify, badvers, good], 4);
    const byId = new Map(got.map((m) => [m.id, m]));
    assert.equal(byId.get(0x2222)?.rcode, 1, "FORMERR");
    assert.equal(byId.get(0x2222)?.questions.length, 0);
    assert.equal(byId.get(0x3333)?.rcode, 4, "NOTIMP");
    assert.equal(byId.get(0x4444)?.rcode, 16, "BADVERS");
    assert.deepEqual(byId.get(0x1111)?.answers.map((r) => r.data), ["192.0.2.10", "192.0.2.11"]);
    assert.equal(byId.has(0x5555), false, "a response is not answered");
    assert.equal(got.length, 4);
    // Over TCP too: FORMERR for the bad one, and the connection goes on.
    const tcp = await h.tcp([loop, good], 2);
    assert.deepEqual(tcp.map((m) => [m.id, m.rcode]), [[0x2222, 1], [0x1111, 0]]);
  } finally {
    await h.close();
  }
});

test("a callback that throws answers SERVFAIL and reports it; answers may come later; a dropped request gets none", async () => {
  const h = new Harness();
  try {
    await h.start();
    const dns = h.resolver({ timeoutMs: 1000, attempts: 1 });
    await assert.rejects(dns.queryIpv4("throws.test"), (e: unknown) => (e as DnsError).code === "ERR_DNS_SERVERFAILED");
    assert.match(String(h.errors[0]), /zone bug/);
    assert.deepEqual((await dns.queryIpv4("later.test")).answers, ["192.0.2.99"]);
    await assert.rejects(dns.queryIpv4("dropped.test"), (e: unknown) => (e as DnsError).code === "ERR_DNS_TIMEOUT");
  } finally {
    await h.close();
  }
});

test("the request says who asked and how; respond twice sends once; bad records are TypeErrors when added", async () => {
  const h = new Harness();
  const seen = deferred<{ from: NetAddress; transport: string; second: boolean; errors: string[] }>();
  try {
    await h.start((req: DnsServerRequest) => {
      const errors: string[] = [];
      const tryAdd = (fn: () => void): void => {
        try {
          fn();
        } catch (err) {
          errors.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
      };
      tryAdd(() => req.addAReply("a.test", ["::1"], 1));
      tryAdd(() => req.addAaaaReply("a.test", ["1.2.3.4"], 1));
      tryAdd(() => req.addReply(DNS_ANSWER_SECTION, "a..test", DNS_TYPE_A, 1, "1.2.3.4"));
      tryAdd(() => req.addReply(DNS_ANSWER_SECTION, "a.test", DNS_TYPE_MX, 1, "not-an-mx"));
      tryAdd(() => req.addReply(7, "a.test", DNS_TYPE_A, 1, "1.2.3.4"));
      tryAdd(() => req.addCnameReply("a.test", "b.test", -1));
      req.addReply(DNS_ANSWER_SECTION, "a.test", 99, 5, Uint8Array.of(1, 2));
      req.respond();
      seen.resolve({ from: req.from, transport: req.transport, second: req.respond(), errors });
    });
    const [answer] = await h.udp([query("a.test", 99)], 1);
    const s = await within(seen.promise, 5000, "the callback");
    assert.equal(s.from.host, "127.0.0.1");
    assert.equal(s.transport, "udp");
    assert.equal(s.second, false);
    assert.equal(s.errors.length, 6);
    assert.ok(s.errors.every((e) => /^(TypeError|RangeError)/.test(e)), s.errors.join("\n"));
    assert.deepEqual(answer.answers[0].data, Uint8Array.of(1, 2));
  } finally {
    await h.close();
  }
});

test("limits: maxUdpSize caps what an EDNS0 client is sent, maxTcpClients refuses the next, tcpIdleTimeoutMs closes the idle", async () => {
  const h = new Harness();
  try {
    h.server = await DnsServer.bind(
      h.base,
      { host: "127.0.0.1", port: 0, maxUdpSize: 600, maxTcpClients: 1, tcpIdleTimeoutMs: 200 },
      zone,
    );
    const edns = { udpSize: 4096, version: 0, dnssecOk: false, options: [] };
    const [capped] = await h.udp([query("many.test", DNS_TYPE_A, 1, edns)], 1);
    assert.ok(capped.flags & DNS_FLAG_TC);
    assert.ok(encodeDnsMessage(capped).length <= 600);
    assert.equal(capped.edns?.udpSize, 600, "the server offers its own size");
    /** How long until the server ends the connection (its end, or a reset), closing our side then. */
    const closed = (socket: Awaited<ReturnType<typeof platform.connect>>): Promise<number> => {
      const t0 = Date.now();
      return new Promise((resolve) => {
        const done = (): void => {
          resolve(Date.now() - t0);
          socket.close();
        };
        socket.start({ data() {}, end: done, drain() {}, error: done, close: done });
      });
    };
    const first = await platform.connect({ host: "127.0.0.1", port: h.server.address.port });
    const firstClosed = closed(first);
    await within(
      (async () => {
        while (h.server.tcpClients === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "the first connection to be accepted",
    );
    const second = await platform.connect({ host: "127.0.0.1", port: h.server.address.port });
    await within(closed(second), 5000, "the second connection to be refused");
    assert.equal(h.server.tcpClients, 1);
    const idleMs = await within(firstClosed, 5000, "the idle connection to be closed");
    assert.ok(idleMs >= 150, `closed after ${idleMs} ms idle`);
    assert.equal(h.server.tcpClients, 0);
    await assert.rejects(
      DnsServer.bind(h.base, { host: "127.0.0.1", port: 0, maxUdpSize: 100 }, zone),
      RangeError,
    );
  } finally {
    await h.close();
  }
});

test("close() frees the port for UDP and TCP; bind checks its arguments", async () => {
  const h = new Harness();
  try {
    const server = await h.start();
    const port = server.address.port;
    await server.close();
    await server.close();
    const again = await DnsServer.bind(h.base, { host: "127.0.0.1", port }, zone);
    assert.equal(again.address.port, port);
    await assert.rejects(
      DnsServer.bind(h.base, { host: "127.0.0.1", port }, zone),
      (e: unknown) => (e as { code?: string }).code === "EADDRINUSE",
    );
    await again.close();
    await assert.rejects(DnsServer.bind(h.base, { host: "127.0.0.1", port: 70000 }, zone), RangeError);
    await assert.rejects(
      DnsServer.bind(h.base, { host: "127.0.0.1", port: 0 }, null as unknown as DnsServerCallback),
      /callback/,
    );
  } finally {
    await h.close();
  }
});

test("bind with port 0 draws another port when the one UDP got is held for TCP by another program", async () => {
  const held = await portHeldForTcp();
  const base = new EventBase({ platform: held.platform });
  const loop = base.loop({ noExitOnEmpty: true });
  try {
    const server = await DnsServer.bind(base, { host: "127.0.0.1", port: 0 }, zone);
    try {
      assert.notEqual(server.address.port, held.port);
      const dns = new DnsBase(base, { nameservers: [`127.0.0.1:${server.address.port}`] });
      try {
        // 60 records do not fit in 512 bytes: the answer comes over TCP, from the server's own port.
        assert.equal((await dns.queryIpv4("many.test")).answers.length, 60);
      } finally {
        dns.free();
      }
      assert.equal(held.accepted, 0);
    } finally {
      await server.close();
    }
  } finally {
    await held.close();
    base.loopBreak();
    await within(loop, 5000, "the loop to end");
  }
});

test("after close() setErrorLogger throws ERR_FREED, the getters answer, and a request held past it responds false", async () => {
  const h = new Harness();
  try {
    const held = deferred<DnsServerRequest>();
    const server = await h.start((req) => held.resolve(req));
    const port = server.address.port;
    const dns = h.resolver({ timeoutMs: 500, attempts: 1 });
    const pending = dns.queryIpv4("held.test").catch((e: DnsError) => e.code);
    const req = await within(held.promise, 5000, "the request");
    const closing = server.close();
    assert.equal(server.close(), closing, "close() again is the same promise");
    await closing;
    assert.equal(req.respond(), false, "nowhere to send it");
    assert.equal(await pending, "ERR_DNS_TIMEOUT");
    assert.equal(server.address.port, port);
    assert.equal(server.tcpClients, 0);
    assert.throws(() => server.setErrorLogger(null), {
      name: "LeventError",
      code: "ERR_FREED",
      message: "setErrorLogger: the DnsServer was closed",
    });
  } finally {
    await h.close();
  }
});

/** Bind a DnsServer on `port` again, retrying for up to 5 s while the port is still being let go. */
async function rebind(base: EventBase, port: number): Promise<DnsServer> {
  for (let tries = 50;; tries--) {
    try {
      return await DnsServer.bind(base, { host: "127.0.0.1", port }, zone);
    } catch (err) {
      if (tries <= 1 || (err as { code?: string }).code !== "EADDRINUSE") throw err;
      await sleep(100);
    }
  }
}

test("EventBase.free() closes a DnsServer made on it and its port is free again; bind on a freed base rejects with ERR_FREED; await using closes", async () => {
  const base = new EventBase({ platform });
  const server = await DnsServer.bind(base, { host: "127.0.0.1", port: 0 }, zone);
  const port = server.address.port;
  base.free();
  assert.throws(() => server.setErrorLogger(null), { code: "ERR_FREED" });
  await server.close();
  const other = new EventBase({ platform });
  const loop = other.loop({ noExitOnEmpty: true });
  try {
    // The same port for UDP and TCP binds again: the freed base's server let both go (a
    // runtime may release a closed UDP socket's port a moment later: bounded retries).
    const again = await rebind(other, port);
    await again.close();
    await assert.rejects(DnsServer.bind(base, { host: "127.0.0.1", port: 0 }, zone), {
      name: "LeventError",
      code: "ERR_FREED",
      message: "DnsServer.bind: the EventBase was freed",
    });
    let kept: DnsServer;
    {
      await using scoped = await DnsServer.bind(other, { host: "127.0.0.1", port: 0 }, zone);
      kept = scoped;
    }
    assert.throws(() => kept.setErrorLogger(null), { code: "ERR_FREED" });
    const reused = await rebind(other, kept.address.port);
    {
      using _scoped = reused;
    }
    await reused.close();
  } finally {
    other.loopBreak();
    await within(loop, 5000, "the loop to end");
    other.free();
  }
});
