/**
 * DnsBase, the resolver, against scripted nameservers on 127.0.0.1: every
 * request kind in both forms, search domains, timeouts and attempts,
 * failover and probing, rotation, TCP after TC, the cache on a manual
 * clock, hosts, resolv.conf, 0x20 and the answers it must ignore.
 */
import { test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { EventBase, ManualClock } from "../../src/event/mod.ts";
import { HttpClientRequest, HttpConnection, HttpServer } from "../../src/http/mod.ts";
import {
  DNS_OPTION_MISC,
  DNS_OPTION_NAMESERVERS,
  DNS_OPTION_SEARCH,
  DnsBase,
  type DnsBaseOptions,
} from "../../src/dns/dns_base.ts";
import {
  DNS_ERR_CANCEL,
  DNS_ERR_FORMAT,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_SERVERFAILED,
  DNS_ERR_SHUTDOWN,
  DNS_ERR_TIMEOUT,
  DnsError,
} from "../../src/dns/dns_error.ts";
import {
  DNS_FLAG_TC,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  type DnsMessage,
} from "../../src/dns/dns_message.ts";
import { DNS_IPv4_A, DNS_IPv6_AAAA, DNS_PTR, DNS_QUERY_NO_SEARCH } from "../../src/dns/dns_request.ts";
import {
  answer,
  type FakeNameserver,
  fakeNameserver,
  platform,
  portHeldForTcp,
  reply,
  type Script,
  silentPort,
} from "./dns_util.ts";
import { deferred, within } from "../util.ts";

/** A loop running on its own, a DnsBase on it, and the servers to close after. */
class Harness {
  readonly base: EventBase;
  readonly #loop: Promise<unknown>;
  readonly #closers: Array<() => unknown> = [];
  readonly logs: string[] = [];

  constructor(clock?: ManualClock) {
    this.base = new EventBase({ platform, clock });
    this.#loop = this.base.loop({ noExitOnEmpty: true });
  }

  /** A DnsBase on the loop, freed by close(), whose log goes to `logs`. */
  resolver(options: DnsBaseOptions): DnsBase {
    const dns = new DnsBase(this.base, options);
    dns.setLogFn((_warn, message) => this.logs.push(message));
    this.#closers.unshift(() => dns.free());
    return dns;
  }

  async server(script: Script): Promise<FakeNameserver> {
    const s = await fakeNameserver(script);
    this.#closers.push(() => s.close());
    return s;
  }

  async silent(): Promise<string> {
    const s = await silentPort();
    this.#closers.push(() => s.close());
    return s.address;
  }

  async close(): Promise<void> {
    for (const c of this.#closers) await c();
    this.base.loopBreak();
    await within(this.#loop, 5000, "the loop to end");
  }
}

/** A script answering A, AAAA, PTR and MX for any name, NXDOMAIN for names starting with "nx". */
const standard: Script = (q) => {
  const { name, type } = q.questions[0];
  if (/^nx/i.test(name)) return reply(q, { rcode: 3 });
  if (type === DNS_TYPE_A) return reply(q, { answers: [answer(q, DNS_TYPE_A, "192.0.2.1", 300)] });
  if (type === DNS_TYPE_AAAA) return reply(q, { answers: [answer(q, DNS_TYPE_AAAA, "2001:db8::1", 200)] });
  if (type === DNS_TYPE_PTR) return reply(q, { answers: [answer(q, DNS_TYPE_PTR, "host.example.test")] });
  if (type === DNS_TYPE_MX) {
    return reply(q, { answers: [answer(q, DNS_TYPE_MX, { preference: 10, exchange: "mx.example.test" })] });
  }
  return reply(q);
};

type Outcome = { result: number; type: number; count: number; ttl: number; answers: readonly unknown[] };

function collect(): {
  cb: (r: number, t: number, c: number, ttl: number, a: readonly unknown[]) => void;
  done: Promise<Outcome>;
} {
  const d = deferred<Outcome>();
  return {
    cb: (result, type, count, ttl, answers) => d.resolve({ result, type, count, ttl, answers }),
    done: within(d.promise, 10000, "the DNS callback"),
  };
}

function names(s: FakeNameserver): string[] {
  return s.queries.map((q) => q.message.questions[0].name.toLowerCase());
}

test("resolveIpv4, resolveIpv6, resolveReverse and resolve(MX) in the callback form", async () => {
  const h = new Harness();
  try {
    const s = await h.server(standard);
    const dns = h.resolver({ nameservers: [s.address] });
    const a = collect();
    dns.resolveIpv4("www.example.test", 0, a.cb);
    assert.deepEqual(await a.done, {
      result: DNS_ERR_NONE,
      type: DNS_IPv4_A,
      count: 1,
      ttl: 300,
      answers: ["192.0.2.1"],
    });
    const aaaa = collect();
    dns.resolveIpv6("www.example.test", 0, aaaa.cb);
    assert.deepEqual(await aaaa.done, {
      result: DNS_ERR_NONE,
      type: DNS_IPv6_AAAA,
      count: 1,
      ttl: 200,
      answers: ["2001:db8::1"],
    });
    const ptr = collect();
    dns.resolveReverse("192.0.2.1", 0, ptr.cb);
    assert.deepEqual((await ptr.done).answers, ["host.example.test"]);
    assert.equal((await ptr.done).type, DNS_PTR);
    const ptr6 = collect();
    dns.resolveReverse("2001:db8::1", 0, ptr6.cb);
    assert.equal((await ptr6.done).result, DNS_ERR_NONE);
    const mx = collect();
    dns.resolve("example.test", DNS_TYPE_MX, 0, mx.cb);
    const got = await mx.done;
    assert.equal(got.type, DNS_TYPE_MX);
    assert.deepEqual((got.answers[0] as { data: unknown }).data, { preference: 10, exchange: "mx.example.test" });
    assert.deepEqual(names(s), [
      "www.example.test",
      "www.example.test",
      "1.2.0.192.in-addr.arpa",
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
      "example.test",
    ]);
  } finally {
    await h.close();
  }
});

test("the Promise forms resolve with the answers and reject with a DnsError", async () => {
  const h = new Harness();
  try {
    const s = await h.server(standard);
    const dns = h.resolver({ nameservers: [s.address] });
    assert.deepEqual(await dns.queryIpv4("a.example.test"), { type: DNS_IPv4_A, ttl: 300, answers: ["192.0.2.1"] });
    assert.deepEqual((await dns.queryIpv6("a.example.test")).answers, ["2001:db8::1"]);
    assert.deepEqual((await dns.queryReverse("192.0.2.1")).answers, ["host.example.test"]);
    assert.equal((await dns.query("example.test", DNS_TYPE_MX)).answers.length, 1);
    await assert.rejects(
      dns.queryIpv4("nx.example.test"),
      (err: unknown) => err instanceof DnsError && err.code === "ERR_DNS_NOTEXIST" && err.result === DNS_ERR_NOTEXIST,
    );
  } finally {
    await h.close();
  }
});

test("getAddrInfo asks A and AAAA and gives IPv4 first with the service's port; literals and localhost need no query", async () => {
  const h = new Harness();
  try {
    const s = await h.server(standard);
    const dns = h.resolver({ nameservers: [s.address] });
    const d = deferred<{ error: DnsError | null; results: readonly unknown[] }>();
    dns.getAddrInfo(
      "web.example.test",
      "http",
      { socktype: "stream" },
      (error, results) => d.resolve({ error, results }),
    );
    const got = await within(d.promise, 10000, "getAddrInfo");
    assert.equal(got.error, null);
    assert.deepEqual(got.results, [
      { family: 4, address: "192.0.2.1", port: 80, socktype: "stream", protocol: "tcp" },
      { family: 6, address: "2001:db8::1", port: 80, socktype: "stream", protocol: "tcp" },
    ]);
    assert.deepEqual(await dns.lookup("web.example.test", 4), [{ address: "192.0.2.1", family: 4 }]);
    const before = s.queries.length;
    assert.deepEqual(await dns.queryAddrInfo("192.0.2.7", 8080, { socktype: "dgram" }), [
      { family: 4, address: "192.0.2.7", port: 8080, socktype: "dgram", protocol: "udp" },
    ]);
    assert.deepEqual(await dns.lookup("localhost", 6), [{ address: "::1", family: 6 }]);
    assert.equal(s.queries.length, before, "no query for a literal or localhost");
    await assert.rejects(dns.queryAddrInfo("web.example.test", "no-such-service"), /unknown service/);
    await assert.rejects(
      dns.queryAddrInfo("nx.example.test"),
      (e: unknown) => (e as DnsError).code === "ERR_DNS_NOTEXIST",
    );
  } finally {
    await h.close();
  }
});

test("a request cancelled gets DNS_ERR_CANCEL once, and an aborted Promise rejects with ERR_DNS_CANCEL", async () => {
  const h = new Harness();
  try {
    const s = await h.server(() => null);
    const dns = h.resolver({ nameservers: [s.address] });
    let calls = 0;
    const c = collect();
    const req = dns.resolveIpv4("slow.example.test", 0, (result, type, count, ttl, answers) => {
      calls++;
      c.cb(result, type, count, ttl, answers);
    });
    req.cancel();
    req.cancel();
    assert.equal((await c.done).result, DNS_ERR_CANCEL);
    assert.equal(req.done, true);
    const ac = new AbortController();
    const p = dns.queryIpv4("slow.example.test", { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e: unknown) => (e as DnsError).code === "ERR_DNS_CANCEL");
    const gai = dns.queryAddrInfo("slow.example.test", null, null, { signal: AbortSignal.abort() });
    await assert.rejects(gai, (e: unknown) => (e as DnsError).code === "ERR_DNS_CANCEL");
    assert.equal(calls, 1);
  } finally {
    await h.close();
  }
});

test("search domains: with fewer dots than ndots the search list comes first, with more the name as it is", async () => {
  const h = new Harness();
  try {
    const s = await h.server((q) =>
      /^www\.b\.test$/i.test(q.questions[0].name) ? standard(q, new Uint8Array(), "udp") : reply(q, { rcode: 3 })
    );
    const dns = h.resolver({ nameservers: [s.address], randomizeCase: false, cache: false });
    dns.searchAdd("a.test");
    dns.searchAdd("b.test");
    assert.deepEqual((await dns.queryIpv4("www")).answers, ["192.0.2.1"]);
    assert.deepEqual(names(s), ["www.a.test", "www.b.test"]);
    s.queries.length = 0;
    await assert.rejects(dns.queryIpv4("x.y"));
    assert.deepEqual(names(s), ["x.y", "x.y.a.test", "x.y.b.test"]);
    s.queries.length = 0;
    dns.searchNdotsSet(2);
    await assert.rejects(dns.queryIpv4("x.y"));
    assert.deepEqual(names(s), ["x.y.a.test", "x.y.b.test", "x.y"]);
    s.queries.length = 0;
    await assert.rejects(dns.queryIpv4("x.y."));
    await assert.rejects(dns.queryIpv4("x", { flags: DNS_QUERY_NO_SEARCH }));
    assert.deepEqual(names(s), ["x.y", "x"], "a final dot or NO_SEARCH: no search list");
  } finally {
    await h.close();
  }
});

test("a silent nameserver: each attempt times out, then DNS_ERR_TIMEOUT (never a hang, libevent #106)", async () => {
  const h = new Harness();
  try {
    const s = await h.server(() => null);
    const dns = h.resolver({ nameservers: [s.address], timeoutMs: 100, attempts: 3 });
    const start = Date.now();
    const c = collect();
    dns.resolveIpv4("lost.example.test", 0, c.cb);
    assert.equal((await c.done).result, DNS_ERR_TIMEOUT);
    assert.equal(s.queries.length, 3);
    assert.ok(Date.now() - start >= 250);
    // No nameserver at all: the query waits for one and times out.
    const none = new DnsBase(h.base, { timeoutMs: 50, attempts: 2 });
    none.setLogFn(() => {});
    await assert.rejects(none.queryIpv4("x.test"), (e: unknown) => (e as DnsError).code === "ERR_DNS_TIMEOUT");
    none.free();
  } finally {
    await h.close();
  }
});

test("failover: a dead nameserver's timeouts move the query on, it is marked down after max-timeouts, and probed back up", async () => {
  const h = new Harness();
  try {
    const dead = await h.server(() => null);
    const live = await h.server(standard);
    const dns = h.resolver({
      nameservers: [dead.address, live.address],
      timeoutMs: 250,
      attempts: 3,
      maxTimeouts: 1,
      initialProbeTimeoutMs: 300,
      cache: false,
    });
    assert.deepEqual((await dns.queryIpv4("one.test")).answers, ["192.0.2.1"]);
    assert.equal(dead.queries.length, 1);
    assert.deepEqual((await dns.queryIpv4("two.test")).answers, ["192.0.2.1"]);
    assert.deepEqual(dns.nameservers.map((n) => n.up), [false, true], "down after its second timeout in a row");
    assert.ok(h.logs.some((l) => /is down/.test(l)));
    // While down, queries go straight to the live one.
    const deadBefore = dead.queries.length;
    await dns.queryIpv4("three.test");
    assert.equal(dead.queries.length, deadBefore);
    // The dead one comes back; once its probe is due, the next query's turn sends it a probe and it is up.
    dead.script = standard;
    await new Promise((r) => setTimeout(r, 350));
    await dns.queryIpv4("four.test");
    await within(
      (async () => {
        while (!dns.nameservers[0].up) await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      "the probe to mark it up",
    );
    assert.ok(h.logs.some((l) => /up again/.test(l)));
    assert.equal((await dns.queryIpv4("five.test")).answers[0], "192.0.2.1");
    assert.equal(dead.queries.at(-1)!.message.questions[0].name.toLowerCase(), "five.test", "ordered: the first again");
  } finally {
    await h.close();
  }
});

test("every nameserver down: queries still go out to them and fail with DNS_ERR_TIMEOUT, never hang (libevent #106)", async () => {
  const h = new Harness();
  try {
    const a = await h.server(() => null);
    const b = await h.server(() => null);
    const dns = h.resolver({ nameservers: [a.address, b.address], timeoutMs: 60, attempts: 2, maxTimeouts: 1 });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(dns.queryIpv4(`down${i}.test`), (e: unknown) => (e as DnsError).code === "ERR_DNS_TIMEOUT");
    }
    assert.deepEqual(dns.nameservers.map((n) => n.up), [false, false]);
    assert.ok(h.logs.some((l) => /every nameserver is down/.test(l)));
    const before = a.queries.length + b.queries.length;
    await assert.rejects(dns.queryIpv4("still.test"), (e: unknown) => (e as DnsError).code === "ERR_DNS_TIMEOUT");
    assert.equal(a.queries.length + b.queries.length, before + 2, "both attempts were sent");
  } finally {
    await h.close();
  }
});

test("ordered mode always asks the first healthy nameserver; rotate spreads the queries", async () => {
  const h = new Harness();
  try {
    const a = await h.server(standard);
    const b = await h.server(standard);
    const ordered = h.resolver({ nameservers: [a.address, b.address], cache: false });
    for (let i = 0; i < 6; i++) await ordered.queryIpv4(`o${i}.test`);
    assert.equal(a.queries.length, 6);
    assert.equal(b.queries.length, 0);
    ordered.free();
    const rotating = h.resolver({
      resolvConf: `nameserver ${a.address}\nnameserver ${b.address}\noptions rotate\n`,
      cache: false,
    });
    assert.equal(rotating.settings.rotate, true);
    for (let i = 0; i < 6; i++) await rotating.queryIpv4(`r${i}.test`);
    assert.equal(a.queries.length, 9);
    assert.equal(b.queries.length, 3);
  } finally {
    await h.close();
  }
});

test("a truncated UDP answer is asked again over TCP to the same nameserver", async () => {
  const h = new Harness();
  try {
    const many = (q: DnsMessage) => Array.from({ length: 40 }, (_, i) => answer(q, DNS_TYPE_A, `198.51.100.${i}`));
    const s = await h.server((q, _raw, transport) =>
      transport === "udp"
        ? reply(q, { flags: DNS_FLAG_TC, answers: many(q).slice(0, 2) })
        : reply(q, { answers: many(q) })
    );
    const dns = h.resolver({ nameservers: [s.address] });
    const got = await dns.queryIpv4("big.example.test");
    assert.equal(got.answers.length, 40);
    assert.deepEqual(s.queries.map((q) => q.transport), ["udp", "tcp"]);
  } finally {
    await h.close();
  }
});

test("TCP after TC reaches the nameserver, not whoever held its UDP port's number for TCP first", async () => {
  // Seen once on a loaded machine: the port UDP drew was a TCP connection's local end
  // elsewhere, the scripted server went on UDP-only, and the resolver's TCP fallback went
  // three times to that port and failed with ERR_DNS_TRUNCATED.
  const h = new Harness();
  const held = await portHeldForTcp();
  try {
    const s = await fakeNameserver(
      (q, _raw, transport) =>
        transport === "udp"
          ? reply(q, { flags: DNS_FLAG_TC, answers: [answer(q, DNS_TYPE_A, "198.51.100.1")] })
          : reply(q, { answers: [answer(q, DNS_TYPE_A, "198.51.100.1"), answer(q, DNS_TYPE_A, "198.51.100.2")] }),
      held.platform,
    );
    try {
      assert.notEqual(s.port, held.port, "a port free for both UDP and TCP");
      const dns = h.resolver({ nameservers: [s.address] });
      const got = await dns.queryIpv4("big.example.test");
      assert.equal(got.answers.length, 2);
      assert.deepEqual(s.queries.map((q) => q.transport), ["udp", "tcp"]);
      assert.equal(held.accepted, 0);
    } finally {
      await s.close();
    }
  } finally {
    await held.close();
    await h.close();
  }
});

test("the cache answers within the TTL and asks again after it, and NXDOMAIN is cached for the SOA minimum (fake clock)", async () => {
  const clock = new ManualClock(1_000_000);
  const h = new Harness(clock);
  try {
    const soa = {
      mname: "ns.test",
      rname: "h.test",
      serial: 1,
      refresh: 1,
      retry: 1,
      expire: 1,
      minimum: 20,
    };
    const s = await h.server((q) =>
      /^nx/i.test(q.questions[0].name)
        ? reply(q, { rcode: 3, authorities: [{ name: "test", type: DNS_TYPE_SOA, class: 1, ttl: 600, data: soa }] })
        : reply(q, { answers: [answer(q, DNS_TYPE_A, "192.0.2.1", 30)] })
    );
    const dns = h.resolver({ nameservers: [s.address] });
    assert.equal((await dns.queryIpv4("c.test")).ttl, 30);
    clock.advance(10_000);
    const cached = await dns.queryIpv4("C.TEST");
    assert.equal(cached.ttl, 20, "the TTL counts down");
    assert.equal(s.queries.length, 1);
    clock.advance(21_000);
    await dns.queryIpv4("c.test");
    assert.equal(s.queries.length, 2, "expired: asked again");
    await assert.rejects(dns.queryIpv4("nx.test"));
    await assert.rejects(dns.queryIpv4("nx.test"));
    assert.equal(s.queries.length, 3, "NXDOMAIN cached");
    clock.advance(20_001);
    await assert.rejects(dns.queryIpv4("nx.test"));
    assert.equal(s.queries.length, 4, "for the SOA's minimum only");
    dns.setOption("cache", "0");
    await dns.queryIpv4("c.test");
    await dns.queryIpv4("c.test");
    assert.equal(s.queries.length, 6, "the cache turned off");
    assert.equal(dns.cacheSize, 0);
  } finally {
    await h.close();
  }
});

test("limits: maxInflight queues the rest, queriesPerSocket moves to a fresh port, maxCacheEntries evicts the oldest", async () => {
  const h = new Harness();
  try {
    const held = await h.server(() => null);
    const dns = h.resolver({ nameservers: [held.address], maxInflight: 2, udpSockets: 1, queriesPerSocket: 2 });
    const waitFor = (n: number): Promise<void> =>
      within(
        (async () => {
          while (held.queries.length < n) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        `${n} queries at the server`,
      );
    const answers = Array.from({ length: 5 }, (_, i) => dns.queryIpv4(`q${i}.test`));
    await waitFor(2);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(held.queries.length, 2, "two in flight, three waiting");
    for (let answered = 0; answered < 5; answered++) {
      await waitFor(answered + 1);
      const { message: q, from } = held.queries[answered];
      held.send(reply(q, { answers: [answer(q, DNS_TYPE_A, `192.0.2.${answered}`)] }), from);
      // Deno's node:dgram sends one turn's datagrams in reverse: answer them in the order they came.
      await answers[Number(q.questions[0].name.slice(1, 2))];
    }
    assert.equal(held.queries.length, 5);
    const ports = new Set(held.queries.map((q) => q.from.port));
    assert.equal(ports.size, 3, "a fresh port after every two queries");
    const s = await h.server(standard);
    const cached = h.resolver({ nameservers: [s.address], maxCacheEntries: 2 });
    for (const name of ["a.test", "b.test", "c.test"]) await cached.queryIpv4(name);
    assert.equal(cached.cacheSize, 2);
    await cached.queryIpv4("c.test");
    assert.equal(s.queries.length, 3, "c.test from the cache");
    await cached.queryIpv4("a.test");
    assert.equal(s.queries.length, 4, "a.test was evicted");
  } finally {
    await h.close();
  }
});

test("the hosts file answers resolveIpv4, resolveIpv6 and resolveReverse too (libevent #1765), with no query", async () => {
  const h = new Harness();
  try {
    const s = await h.server(standard);
    const dns = h.resolver({ nameservers: [s.address], hosts: "10.0.0.5 db.internal db # comment\n::5 db.internal\n" });
    assert.deepEqual((await dns.queryIpv4("DB")).answers, ["10.0.0.5"]);
    assert.deepEqual((await dns.queryIpv6("db.internal")).answers, ["::5"]);
    assert.deepEqual((await dns.queryReverse("10.0.0.5")).answers, ["db.internal", "db"]);
    assert.deepEqual(await dns.queryAddrInfo("db", null, { family: 4, socktype: "stream" }), [
      { family: 4, address: "10.0.0.5", port: 0, socktype: "stream", protocol: "tcp" },
    ]);
    assert.equal(s.queries.length, 0);
    assert.deepEqual((await dns.queryIpv4("other.test")).answers, ["192.0.2.1"]);
  } finally {
    await h.close();
  }
});

test("resolv.conf: nameservers with ports, search, domain, options; an empty one falls back to 127.0.0.1 with a note", async () => {
  const h = new Harness();
  try {
    const dns = h.resolver({
      resolvConf: [
        "# comment",
        "nameserver 192.0.2.53",
        "nameserver [2001:db8::53]:5353",
        "nameserver not-an-address",
        "domain ignored.test",
        "search a.test B.test.",
        "options ndots:2 timeout:1 attempts:4 rotate unknown-option",
      ].join("\n"),
    });
    assert.deepEqual(dns.nameservers.map((n) => n.address), ["192.0.2.53:53", "[2001:db8::53]:5353"]);
    assert.deepEqual(dns.searchList, ["a.test", "b.test"]);
    assert.equal(dns.settings.ndots, 2);
    assert.equal(dns.settings.timeoutMs, 1000);
    assert.equal(dns.settings.attempts, 4);
    assert.equal(dns.settings.rotate, true);
    const empty = new DnsBase(h.base);
    const notes: string[] = [];
    empty.setLogFn((_w, m) => notes.push(m));
    empty.applyResolvConf("");
    assert.deepEqual(empty.nameservers.map((n) => n.address), ["127.0.0.1:53"]);
    assert.ok(notes.some((n) => /127\.0\.0\.1/.test(n)));
    empty.free();
    assert.equal(DnsBase.length, 1);
    assert.deepEqual(new DnsBase(h.base).settings.timeoutMs, 5000, "libevent's defaults");
  } finally {
    await h.close();
  }
});

test("resolvConfParse and loadHosts read their files through the platform; a missing resolv.conf means 127.0.0.1", async () => {
  const h = new Harness();
  const dir = mkdtempSync(join(tmpdir(), "levent-dns-conf-"));
  try {
    const s = await h.server(standard);
    const conf = join(dir, "resolv.conf");
    writeFileSync(conf, `nameserver ${s.address}\nsearch corp.test\noptions ndots:3 attempts:2\n`);
    const hosts = join(dir, "hosts");
    writeFileSync(hosts, "10.1.2.3 files.test\n");
    const dns = h.resolver({});
    await dns.resolvConfParse(DNS_OPTION_NAMESERVERS | DNS_OPTION_SEARCH | DNS_OPTION_MISC, conf);
    assert.deepEqual(dns.nameservers.map((n) => n.address), [s.address]);
    assert.deepEqual(dns.searchList, ["corp.test"]);
    assert.equal(dns.settings.ndots, 3);
    assert.equal(dns.settings.attempts, 2);
    await dns.loadHosts(hosts);
    assert.deepEqual((await dns.queryIpv4("files.test")).answers, ["10.1.2.3"]);
    await assert.rejects(
      dns.loadHosts(join(dir, "absent")),
      (e: unknown) => (e as { code?: string }).code === "ENOENT",
    );
    const fallback = new DnsBase(h.base);
    const notes: string[] = [];
    fallback.setLogFn((_w, m) => notes.push(m));
    await fallback.resolvConfParse(DNS_OPTION_NAMESERVERS, join(dir, "absent"));
    assert.deepEqual(fallback.nameservers.map((n) => n.address), ["127.0.0.1:53"]);
    assert.ok(notes.some((n) => /cannot read/.test(n)) && notes.some((n) => /127\.0\.0\.1/.test(n)));
    fallback.free();
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("clearNameserversAndSuspend holds queries until resume() with a nameserver added", async () => {
  const h = new Harness();
  try {
    const old = await h.server(() => null);
    const s = await h.server(standard);
    const dns = h.resolver({ nameservers: [old.address] });
    dns.clearNameserversAndSuspend();
    assert.equal(dns.countNameservers(), 0);
    const held = dns.queryIpv4("held.test");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(s.queries.length + old.queries.length, 0);
    dns.addNameserver(s.address);
    assert.equal(s.queries.length, 0, "still suspended");
    dns.resume();
    assert.deepEqual((await held).answers, ["192.0.2.1"]);
    assert.equal(dns.getNameserverAddr(0), s.address);
    assert.equal(dns.getNameserverAddr(1), null);
  } finally {
    await h.close();
  }
});

test("0x20: the query's letters are in random case, and an answer that does not echo them is ignored", async () => {
  const h = new Harness();
  try {
    const s = await h.server((q) => {
      const lowered = { ...q, questions: [{ ...q.questions[0], name: q.questions[0].name.toLowerCase() }] };
      return reply(lowered, { answers: [answer(lowered, DNS_TYPE_A, "192.0.2.9")] });
    });
    const dns = h.resolver({ nameservers: [s.address], timeoutMs: 250, attempts: 2 });
    const name = "abcdefghijklmnopqrstuvwxyz.example.test";
    await assert.rejects(dns.queryIpv4(name), (e: unknown) => (e as DnsError).code === "ERR_DNS_TIMEOUT");
    const sent = s.queries[0].message.questions[0].name;
    assert.notEqual(sent, name, "mixed case (2^-36 to be all lower)");
    assert.equal(sent.toLowerCase(), name);
    dns.setOption("randomize-case", "0");
    assert.deepEqual((await dns.queryIpv4(name)).answers, ["192.0.2.9"]);
  } finally {
    await h.close();
  }
});

test("answers with the wrong ID, the wrong question or from the wrong port are ignored; the right one is taken", async () => {
  const h = new Harness();
  try {
    const s = await h.server((q) => {
      const good = reply(q, { answers: [answer(q, DNS_TYPE_A, "192.0.2.1")] });
      const wrongId = good.slice();
      wrongId[0] ^= 0xff;
      const wrongQ = reply({ ...q, questions: [{ ...q.questions[0], name: "evil.test" }] }, {
        answers: [answer({ ...q, questions: [{ ...q.questions[0], name: "evil.test" }] }, DNS_TYPE_A, "203.0.113.66")],
      });
      const wrongType = reply({ ...q, questions: [{ ...q.questions[0], type: DNS_TYPE_AAAA }] });
      const bad = Uint8Array.of(good[0], good[1], 0x81, 0x80, 0, 1, 0, 9);
      return [wrongId, wrongQ, wrongType, bad, good];
    });
    const dns = h.resolver({ nameservers: [s.address] });
    assert.deepEqual((await dns.queryIpv4("good.test")).answers, ["192.0.2.1"]);
    // An answer from another port (a spoofed source) for the right ID and question is no answer.
    const forger = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, { message() {} });
    try {
      s.script = () => null;
      const p = dns.queryIpv4("late.test");
      await within(
        (async () => {
          while (s.queries.at(-1)!.message.questions[0].name.toLowerCase() !== "late.test") {
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
        5000,
        "the query",
      );
      const { message: q, from } = s.queries.at(-1)!;
      forger.send(reply(q, { answers: [answer(q, DNS_TYPE_A, "203.0.113.66")] }), from.host, from.port);
      await new Promise((r) => setTimeout(r, 50));
      s.send(reply(q, { answers: [answer(q, DNS_TYPE_A, "192.0.2.3")] }), from);
      assert.deepEqual((await p).answers, ["192.0.2.3"]);
    } finally {
      forger.close();
    }
  } finally {
    await h.close();
  }
});

test("NXDOMAIN, NODATA, SERVFAIL on every nameserver, and FORMERR to EDNS (asked again without OPT)", async () => {
  const h = new Harness();
  try {
    const s = await h.server((q) => {
      const name = q.questions[0].name.toLowerCase();
      if (name === "nodata.test") return reply(q);
      if (name === "alias.test") {
        return reply(q, {
          answers: [answer(q, DNS_TYPE_CNAME, "target.test"), {
            ...answer(q, DNS_TYPE_A, "192.0.2.77"),
            name: "target.test",
          }],
        });
      }
      if (name === "servfail.test") return reply(q, { rcode: 2 });
      if (name === "formerr.test") return q.edns !== null ? reply(q, { rcode: 1 }) : reply(q, { rcode: 1 });
      if (name === "old.test") {
        return q.edns !== null ? reply(q, { rcode: 1 }) : reply(q, { answers: [answer(q, DNS_TYPE_A, "192.0.2.2")] });
      }
      return reply(q, { rcode: 3 });
    });
    const dns = h.resolver({ nameservers: [s.address], attempts: 2, timeoutMs: 500 });
    const outcome = async (name: string): Promise<number> => {
      const c = collect();
      dns.resolveIpv4(name, 0, c.cb);
      return (await c.done).result;
    };
    assert.equal(await outcome("nx.test"), DNS_ERR_NOTEXIST);
    assert.equal(await outcome("nodata.test"), DNS_ERR_NODATA);
    assert.deepEqual((await dns.queryIpv4("alias.test")).answers, ["192.0.2.77"], "the CNAME is followed");
    assert.equal(await outcome("servfail.test"), DNS_ERR_SERVERFAILED);
    s.queries.length = 0;
    assert.deepEqual((await dns.queryIpv4("old.test")).answers, ["192.0.2.2"]);
    assert.deepEqual(s.queries.map((q) => q.message.edns !== null), [true, false]);
    assert.equal(await outcome("formerr.test"), DNS_ERR_FORMAT);
  } finally {
    await h.close();
  }
});

test("free() fails pending requests with DNS_ERR_SHUTDOWN; bad arguments are TypeErrors naming them", async () => {
  const h = new Harness();
  try {
    const s = await h.server(() => null);
    const dns = h.resolver({ nameservers: [s.address] });
    const c = collect();
    dns.resolveIpv4("pending.test", 0, c.cb);
    dns.free();
    assert.equal((await c.done).result, DNS_ERR_SHUTDOWN);
    assert.throws(() => new DnsBase(h.base, { nameservers: ["example.com"] }), /address/);
    assert.throws(() => new DnsBase(h.base, { timeoutMs: 0 }), RangeError);
    assert.throws(() => new DnsBase({} as EventBase), /base/);
    const d = new DnsBase(h.base);
    assert.throws(() => d.resolveIpv4("a..b", 0, () => {}), /name must be a domain name/);
    assert.throws(() => d.resolveReverse("nope", 0, () => {}), /address/);
    assert.throws(() => d.resolve("a.test", 41, 0, () => {}), /type/);
    assert.throws(() => d.setOption("no-such-option", "1"), /option/);
    d.free();
  } finally {
    await h.close();
  }
});

test("after free() a DnsBase's calls throw ERR_FREED naming the call, the Promise forms reject with it, and the calls that let go do nothing", async () => {
  const h = new Harness();
  try {
    const s = await h.server(standard);
    const dns = h.resolver({ nameservers: [s.address], hosts: "192.0.2.9 pinned.test\n" });
    const done = dns.resolveIpv4("pinned.test", 0, () => {});
    assert.deepEqual((await dns.queryIpv4("a.test")).answers, ["192.0.2.1"]);
    dns.free();
    const freed = (op: string) => ({ name: "LeventError", code: "ERR_FREED", message: `${op}: the DnsBase was freed` });
    const noop = () => {};
    assert.throws(() => dns.resolveIpv4("a.test", 0, noop), freed("resolveIpv4"));
    assert.throws(() => dns.resolveIpv6("a.test", 0, noop), freed("resolveIpv6"));
    assert.throws(() => dns.resolveReverse("192.0.2.1", 0, noop), freed("resolveReverse"));
    assert.throws(() => dns.resolve("a.test", DNS_TYPE_MX, 0, noop), freed("resolve"));
    assert.throws(() => dns.getAddrInfo("a.test", null, null, noop), freed("getAddrInfo"));
    await assert.rejects(dns.queryIpv4("a.test"), freed("resolveIpv4"));
    await assert.rejects(dns.query("a.test", DNS_TYPE_MX), freed("resolve"));
    await assert.rejects(dns.queryAddrInfo("a.test"), freed("getAddrInfo"));
    await assert.rejects(dns.lookup("a.test"), freed("getAddrInfo"));
    assert.throws(() => dns.addNameserver("127.0.0.1"), freed("addNameserver"));
    assert.throws(() => dns.resume(), freed("resume"));
    assert.throws(() => dns.searchAdd("example.test"), freed("searchAdd"));
    assert.throws(() => dns.searchNdotsSet(2), freed("searchNdotsSet"));
    assert.throws(() => dns.setOption("ndots", "2"), freed("setOption"));
    assert.throws(() => dns.applyResolvConf("nameserver 127.0.0.1\n"), freed("applyResolvConf"));
    assert.throws(() => dns.setLogFn(null), freed("setLogFn"));
    await assert.rejects(dns.resolvConfParse(), freed("resolvConfParse"));
    await assert.rejects(dns.loadHosts(), freed("loadHosts"));
    // Letting go, and the getters, still work.
    dns.free();
    dns.clearNameserversAndSuspend();
    dns.searchClear();
    dns.clearHostAddresses();
    dns.clearCache();
    done.cancel();
    assert.equal(dns.countNameservers(), 1);
    assert.equal(dns.getNameserverAddr(0), s.address);
    assert.equal(dns.cacheSize, 0);
    assert.equal(dns.base, h.base);
  } finally {
    await h.close();
  }
});

test("EventBase.free() frees a DnsBase made on it (a pending request gets DNS_ERR_SHUTDOWN); one cannot be made on a freed base; using frees it", async () => {
  const s = await fakeNameserver(() => null);
  try {
    const base = new EventBase({ platform });
    const loop = base.loop({ noExitOnEmpty: true });
    const dns = new DnsBase(base, { nameservers: [s.address] });
    const c = collect();
    dns.resolveIpv4("pending.test", 0, c.cb);
    const sent = deferred();
    s.script = () => (sent.resolve(), null);
    await within(sent.promise, 5000, "the query to reach the nameserver");
    base.loopBreak();
    await within(loop, 5000, "the loop to end");
    base.free();
    assert.equal((await c.done).result, DNS_ERR_SHUTDOWN);
    assert.throws(() => dns.resolveIpv4("a.test", 0, () => {}), {
      code: "ERR_FREED",
      message: "resolveIpv4: the DnsBase was freed",
    });
    assert.throws(() => new DnsBase(base, { nameservers: [s.address] }), {
      name: "LeventError",
      code: "ERR_FREED",
      message: "new DnsBase: the EventBase was freed",
    });
    const other = new EventBase({ platform });
    let kept: DnsBase;
    {
      using scoped = new DnsBase(other, { nameservers: [s.address] });
      kept = scoped;
    }
    assert.throws(() => kept.addNameserver("127.0.0.1"), { code: "ERR_FREED" });
    other.free();
  } finally {
    await s.close();
  }
});

test("the HTTP client looks its host up through a DnsBase (HttpConnection's dns option)", async () => {
  const h = new Harness();
  try {
    const s = await h.server((q) =>
      q.questions[0].name.toLowerCase() === "web.test" && q.questions[0].type === DNS_TYPE_A
        ? reply(q, { answers: [answer(q, DNS_TYPE_A, "127.0.0.1")] })
        : reply(q, { rcode: q.questions[0].type === DNS_TYPE_AAAA ? 0 : 3 })
    );
    const dns = h.resolver({ nameservers: [s.address] });
    const http = new HttpServer(h.base);
    http.setCb("/hello", (req) => req.sendReply(200, "OK", "hello through levent's DNS"));
    const { address } = await http.bind("127.0.0.1", 0);
    const conn = new HttpConnection(h.base, { host: "web.test", port: address.port, dns });
    const done = deferred<{ code: number; body: string }>();
    const req = new HttpClientRequest((r) =>
      done.resolve({ code: r.responseCode, body: new TextDecoder().decode(r.inputBuffer.pullup()) })
    );
    conn.makeRequest(req, "GET", "/hello");
    assert.deepEqual(await within(done.promise, 10000, "the HTTP reply"), {
      code: 200,
      body: "hello through levent's DNS",
    });
    assert.ok(s.queries.some((q) => q.message.questions[0].name.toLowerCase() === "web.test"));
    conn.free();
    http.free();
  } finally {
    await h.close();
  }
});
