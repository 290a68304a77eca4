/**
 * The DNS wire codec: every record type both ways, name compression, EDNS0,
 * truncation, each strict bound as a clear decode error, and a fuzz run of
 * 100,000 random and mutated packets with a fixed seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeDnsMessage,
  DNS_CLASS_IN,
  DNS_FLAG_AA,
  DNS_FLAG_QR,
  DNS_FLAG_RD,
  DNS_FLAG_TC,
  DNS_RCODE_BADVERS,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  DNS_TYPE_SRV,
  DNS_TYPE_TXT,
  type DnsMessage,
  type DnsRecord,
  encodeDnsMessage,
} from "../../src/dns/dns_message.ts";
import { countDots, nameLabels, nameWire, sameName } from "../../src/dns/dns_name.ts";
import { DnsError } from "../../src/dns/dns_error.ts";
import { prng } from "../util.ts";

function message(partial: Partial<DnsMessage>): DnsMessage {
  return {
    id: 0x1234,
    flags: 0,
    rcode: 0,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    edns: null,
    ...partial,
  };
}

function rr(name: string, type: number, data: DnsRecord["data"], ttl = 300): DnsRecord {
  return { name, type, class: DNS_CLASS_IN, ttl, data };
}

/** Header bytes: id, flags, and the four counts. */
function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): number[] {
  return [id >> 8, id & 255, flags >> 8, flags & 255, 0, qd, 0, an, 0, ns, 0, ar];
}

function malformed(bytes: number[] | Uint8Array, reason: RegExp): void {
  assert.throws(
    () => decodeDnsMessage(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes)),
    (err: unknown) => err instanceof DnsError && err.code === "ERR_DNS_MALFORMED" && reason.test(err.message),
  );
}

test("every record type survives an encode and a decode", () => {
  const answers: DnsRecord[] = [
    rr("www.example.test", DNS_TYPE_CNAME, "host.example.test"),
    rr("host.example.test", DNS_TYPE_A, "192.0.2.1", 60),
    rr("host.example.test", DNS_TYPE_AAAA, "2001:db8::1", 60),
    rr("1.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "host.example.test"),
    rr("example.test", DNS_TYPE_MX, { preference: 10, exchange: "mail.example.test" }),
    rr("example.test", DNS_TYPE_TXT, ["v=spf1 -all", "", "caf\u00e9"]),
    rr("_sip._tcp.example.test", DNS_TYPE_SRV, { priority: 1, weight: 5, port: 5060, target: "sip.example.test" }),
    rr("example.test", 99, Uint8Array.of(1, 2, 3)),
  ];
  const authorities: DnsRecord[] = [
    rr("example.test", DNS_TYPE_NS, "ns1.example.test"),
    rr("example.test", DNS_TYPE_SOA, {
      mname: "ns1.example.test",
      rname: "hostmaster.example.test",
      serial: 2026120701,
      refresh: 7200,
      retry: 3600,
      expire: 1209600,
      minimum: 4294967295,
    }),
  ];
  const m = message({
    flags: DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD,
    questions: [{ name: "www.example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }],
    answers,
    authorities,
    additionals: [rr("ns1.example.test", DNS_TYPE_A, "192.0.2.53")],
  });
  const decoded = decodeDnsMessage(encodeDnsMessage(m));
  assert.deepEqual(decoded, m);
});

test("names are compressed against earlier names, case-insensitively, and an SRV target is not", () => {
  const q = { name: "Example.TEST", type: DNS_TYPE_A, class: DNS_CLASS_IN };
  const bytes = encodeDnsMessage(message({
    questions: [q],
    answers: [rr("example.test", DNS_TYPE_A, "192.0.2.1")],
  }));
  // 12 header + 14 name + 4 + answer: 2 pointer + 10 + 4 data
  assert.equal(bytes.length, 12 + 14 + 4 + 2 + 10 + 4);
  assert.deepEqual([...bytes.subarray(30, 32)], [0xc0, 12]);
  const srv = encodeDnsMessage(message({
    questions: [q],
    answers: [rr("example.test", DNS_TYPE_SRV, { priority: 0, weight: 0, port: 1, target: "example.test" })],
  }));
  // The SRV target is written in full: 14 bytes, not a pointer.
  assert.equal(srv.length, 12 + 18 + 2 + 10 + 6 + 14);
  // A suffix is shared: mail.example.test points into example.test.
  const mx = encodeDnsMessage(message({
    questions: [q],
    answers: [rr("example.test", DNS_TYPE_MX, { preference: 5, exchange: "mail.example.test" })],
  }));
  assert.equal(mx.length, 12 + 18 + 2 + 10 + 2 + 5 + 2);
  // The pointer brings the question's spelling along: the same name, ASCII case aside.
  assert.deepEqual(decodeDnsMessage(mx).answers[0].data, { preference: 5, exchange: "mail.Example.TEST" });
});

test("EDNS0: the OPT record's size, version, DO bit, options and extended rcode both ways", () => {
  const m = message({
    rcode: DNS_RCODE_BADVERS,
    questions: [{ name: "example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }],
    edns: {
      udpSize: 1232,
      version: 0,
      dnssecOk: true,
      options: [{ code: 10, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }],
    },
  });
  const bytes = encodeDnsMessage(m);
  assert.equal(bytes[3] & 0x0f, 0, "BADVERS's low bits are 0");
  assert.deepEqual(decodeDnsMessage(bytes), m);
  assert.throws(() => encodeDnsMessage(message({ rcode: 16 })), TypeError);
});

test("names: labels, escapes, the root, a final dot, case-blind comparison and dots", () => {
  assert.deepEqual(nameLabels("a.b."), ["a", "b"]);
  assert.deepEqual(nameLabels("."), []);
  assert.deepEqual(nameLabels("a\\.b.c"), ["a.b", "c"]);
  assert.deepEqual(nameLabels("\\255x"), ["\u00ffx"]);
  assert.match(nameLabels("a..b") as string, /empty label/);
  assert.match(nameLabels("x".repeat(64)) as string, /longer than 63/);
  assert.match(nameLabels(Array(64).fill("abc").join(".")) as string, /longer than 255/);
  assert.match(nameLabels("a b") as string, /printable/);
  assert.equal(typeof nameLabels(Array(63).fill("abc").join(".")), "object", "253 bytes of text is 255 on the wire");
  assert.deepEqual([...(nameWire("ab.c") as Uint8Array)], [2, 97, 98, 1, 99, 0]);
  assert.ok(sameName("WWW.Example.test.", "www.example.TEST"));
  assert.equal(countDots("a.b\\.c."), 1);
  const odd = Uint8Array.from([...header(1, 0, 1, 0, 0, 0), 3, 0x2e, 0x20, 0xff, 0, 0, 1, 0, 1]);
  const name = decodeDnsMessage(odd).questions[0].name;
  assert.equal(name, "\\.\\032\\255");
  assert.deepEqual(decodeDnsMessage(encodeDnsMessage(decodeDnsMessage(odd))), decodeDnsMessage(odd));
});

test("encoding refuses what is not a message with a TypeError or RangeError naming it", () => {
  assert.throws(
    () => encodeDnsMessage(message({ questions: [{ name: "a..b", type: 1, class: 1 }] })),
    /questions\[0\]\.name must be a domain name/,
  );
  assert.throws(() => encodeDnsMessage(message({ answers: [rr("a", DNS_TYPE_A, "::1")] })), /answers\[0\].*IPv4/);
  assert.throws(() => encodeDnsMessage(message({ answers: [rr("a", DNS_TYPE_AAAA, "1.2.3.4")] })), /IPv6/);
  assert.throws(() => encodeDnsMessage(message({ answers: [rr("a", DNS_TYPE_TXT, ["x".repeat(256)])] })), /255/);
  assert.throws(() => encodeDnsMessage(message({ answers: [rr("a", DNS_TYPE_A, "1.2.3.4", -1)] })), /ttl/);
  assert.throws(() => encodeDnsMessage(message({ id: 65536 })), /id must be/);
  assert.throws(() => encodeDnsMessage(message({}), { maxSize: 100 }), RangeError);
});

test("maxSize truncates: records left out, TC set for an answer, the OPT record kept", () => {
  const answers = Array.from({ length: 60 }, (_, i) => rr("example.test", DNS_TYPE_A, `192.0.2.${i}`));
  const q = [{ name: "example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }];
  const small = encodeDnsMessage(message({ flags: DNS_FLAG_QR, questions: q, answers }), { maxSize: 512 });
  assert.ok(small.length <= 512);
  const d = decodeDnsMessage(small);
  assert.ok((d.flags & DNS_FLAG_TC) !== 0);
  assert.ok(d.answers.length > 0 && d.answers.length < 60);
  const edns = { udpSize: 4096, version: 0, dnssecOk: false, options: [] };
  const withOpt = decodeDnsMessage(encodeDnsMessage(message({ questions: q, answers, edns }), { maxSize: 512 }));
  assert.deepEqual(withOpt.edns, edns);
  assert.ok((withOpt.flags & DNS_FLAG_TC) !== 0);
  const whole = decodeDnsMessage(encodeDnsMessage(message({ questions: q, answers, edns }), { maxSize: 4096 }));
  assert.equal(whole.answers.length, 60);
  assert.equal(whole.flags & DNS_FLAG_TC, 0);
  // An additional record that does not fit is dropped without TC (RFC 2181 §9).
  const extra = Array.from({ length: 60 }, () => rr("example.test", DNS_TYPE_A, "192.0.2.9"));
  const add = decodeDnsMessage(encodeDnsMessage(message({ questions: q, additionals: extra }), { maxSize: 512 }));
  assert.equal(add.flags & DNS_FLAG_TC, 0);
  assert.ok(add.additionals.length < 60);
});

test("a compression pointer loop is a decode error, not an endless loop", () => {
  // The question's name is a pointer to itself.
  malformed([...header(1, 0, 1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1], /pointer does not point backwards/);
  // Two names pointing at each other: the second points forward to the first... which points to it.
  malformed([...header(1, 0, 2, 0, 0, 0), 0xc0, 18, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1], /backwards/);
  // A label followed by a pointer back to its own start.
  malformed([...header(1, 0, 1, 0, 0, 0), 1, 97, 0xc0, 12, 0, 1, 0, 1], /backwards/);
});

test("a pointer past the end, a label past the end, and a pointer cut in half are decode errors", () => {
  malformed([...header(1, 0, 1, 0, 0, 0), 0xc0, 200, 0, 1, 0, 1], /backwards|past the end/);
  malformed([...header(1, 0, 1, 0, 0, 0), 9, 97, 98, 0, 1, 0], /past the end/);
  malformed([...header(1, 0, 1, 0, 0, 0), 3, 97, 98, 99, 0xc0], /pointer runs past the end/);
});

test("a label over 63 bytes (the 0x40 and 0x80 label types) is a decode error", () => {
  malformed([...header(1, 0, 1, 0, 0, 0), 64, ...new Array(64).fill(97), 0, 0, 1, 0, 1], /label type 0x40/);
  malformed([...header(1, 0, 1, 0, 0, 0), 0x80, 0, 0, 1, 0, 1], /label type 0x80/);
});

test("a name over 255 bytes is a decode error, also when pointers build it", () => {
  const long: number[] = [];
  for (let i = 0; i < 5; i++) long.push(60, ...new Array(60).fill(97));
  malformed([...header(1, 0, 1, 0, 0, 0), ...long, 0, 0, 1, 0, 1], /longer than 255/);
  // Four 61-byte names each pointing to the one before: 4 * 62 + ... past 255.
  const bytes = header(1, 0, 5, 0, 0, 0);
  let prev = -1;
  for (let i = 0; i < 5; i++) {
    const at = bytes.length;
    bytes.push(60, ...new Array(60).fill(98));
    if (prev < 0) bytes.push(0);
    else bytes.push(0xc0 | (prev >> 8), prev & 255);
    bytes.push(0, 1, 0, 1);
    prev = at;
  }
  malformed(bytes, /longer than 255/);
});

test("counts that promise more than the packet holds are a decode error", () => {
  malformed([...header(1, 0, 0, 0xff, 0, 0)], /counts .* promise more/);
  malformed([...header(1, 0, 2, 0, 0, 0), 0, 0, 1, 0, 1], /promise more|past the end/);
  malformed(header(1, 0, 0, 0, 0, 0).slice(0, 11), /shorter than a header/);
  // An answer whose rdlength runs past the end.
  malformed([...header(1, 0, 0, 1, 0, 0), 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4], /record's data runs past/);
});

test("record data that does not fill its length, or the wrong size for A/AAAA, is a decode error", () => {
  malformed([...header(1, 0, 0, 1, 0, 0), 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3], /A record holds 3 bytes/);
  malformed([...header(1, 0, 0, 1, 0, 0), 0, 0, 28, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4], /AAAA record holds 4/);
  // A CNAME of 3 bytes holding a 1-byte name: it does not fill its length.
  malformed([...header(1, 0, 0, 1, 0, 0), 0, 0, 5, 0, 1, 0, 0, 0, 0, 0, 3, 0, 7, 7], /does not fill/);
  // An MX whose name runs past its record into the bytes after.
  malformed([...header(1, 0, 0, 1, 0, 0), 0, 0, 15, 0, 1, 0, 0, 0, 0, 0, 3, 0, 1, 1, 97, 0], /past the end/);
  malformed([...header(1, 0, 0, 1, 0, 0), 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 5, 97], /TXT string runs past/);
  // OPT outside the additional section, twice, or not owned by the root.
  const opt = [0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0];
  malformed([...header(1, 0, 0, 1, 0, 0), ...opt], /OPT record outside/);
  malformed([...header(1, 0, 0, 0, 0, 2), ...opt, ...opt], /more than one OPT/);
  malformed([...header(1, 0, 0, 0, 0, 1), 1, 97, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0], /not owned by the root/);
  malformed([...header(1, 0, 0, 0, 0, 1), 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0], /EDNS option runs past/);
});

test("a TTL over 2^31-1 reads as 0 (RFC 2181 §8)", () => {
  const bytes = [...header(1, 0x8000, 0, 1, 0, 0), 0, 0, 1, 0, 1, 0x80, 0, 0, 0, 0, 4, 1, 2, 3, 4];
  assert.equal(decodeDnsMessage(Uint8Array.from(bytes)).answers[0].ttl, 0);
});

test("fuzz: 100,000 random and mutated packets decode or fail with ERR_DNS_MALFORMED, never otherwise", () => {
  const rnd = prng(0x5eed16);
  const seeds: Uint8Array[] = [
    encodeDnsMessage(message({
      flags: DNS_FLAG_QR,
      questions: [{ name: "www.example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }],
      answers: [
        rr("www.example.test", DNS_TYPE_CNAME, "host.example.test"),
        rr("host.example.test", DNS_TYPE_A, "192.0.2.1"),
        rr("host.example.test", DNS_TYPE_AAAA, "2001:db8::1"),
        rr("example.test", DNS_TYPE_MX, { preference: 10, exchange: "mail.example.test" }),
        rr("example.test", DNS_TYPE_TXT, ["hello", "world"]),
        rr("_s._tcp.example.test", DNS_TYPE_SRV, { priority: 1, weight: 2, port: 3, target: "t.example.test" }),
        rr("1.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "host.example.test"),
      ],
      authorities: [
        rr("example.test", DNS_TYPE_SOA, {
          mname: "ns.example.test",
          rname: "h.example.test",
          serial: 1,
          refresh: 2,
          retry: 3,
          expire: 4,
          minimum: 5,
        }),
        rr("example.test", DNS_TYPE_NS, "ns.example.test"),
      ],
      edns: { udpSize: 1232, version: 0, dnssecOk: false, options: [{ code: 8, data: Uint8Array.of(0, 1, 24, 0) }] },
    })),
    encodeDnsMessage(message({ questions: [{ name: "a.b.c.d", type: DNS_TYPE_PTR, class: DNS_CLASS_IN }] })),
  ];
  const deadline = Date.now() + 60_000;
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < 100_000; i++) {
    let bytes: Uint8Array;
    const kind = rnd(4);
    if (kind === 0) {
      // Random bytes behind a header with small counts, so the decoder gets past the first check.
      bytes = new Uint8Array(12 + rnd(120));
      for (let j = 0; j < bytes.length; j++) bytes[j] = rnd(256);
      bytes[4] = 0;
      bytes[5] = rnd(3);
      bytes[6] = 0;
      bytes[7] = rnd(4);
    } else {
      const seed = seeds[rnd(seeds.length)];
      bytes = seed.slice(0, kind === 1 ? rnd(seed.length + 1) : seed.length);
      const flips = 1 + rnd(8);
      for (let f = 0; f < flips && bytes.length > 0; f++) {
        const at = rnd(bytes.length);
        // Favour the bytes that steer the decoder: pointers, lengths and counts.
        const choice = rnd(4);
        bytes[at] = choice === 0 ? 0xc0 | rnd(64) : choice === 1 ? rnd(64) : rnd(256);
      }
    }
    try {
      const m = decodeDnsMessage(bytes);
      decoded++;
      // Whatever decodes, encodes again and decodes to the same sections.
      const again = decodeDnsMessage(encodeDnsMessage(m));
      assert.deepEqual(again.questions, m.questions);
      assert.equal(again.answers.length + again.authorities.length, m.answers.length + m.authorities.length);
    } catch (err) {
      if (!(err instanceof DnsError) || err.code !== "ERR_DNS_MALFORMED") {
        assert.fail(`packet ${i} (${Array.from(bytes).join(",")}) threw ${String(err)}`);
      }
      refused++;
    }
    if ((i & 1023) === 0) assert.ok(Date.now() < deadline, "the fuzz run stays within a minute");
  }
  assert.equal(decoded + refused, 100_000);
  assert.ok(decoded > 1000, `some mutated packets still decode (${decoded})`);
  assert.ok(refused > 1000, `and many are refused (${refused})`);
});
