// Fuzzing HttpParser: 100,000 random and mutated messages (a seeded PRNG
// mutates valid requests and responses: byte flips, insertions, deletions,
// truncations, splices; the tokens it inserts include the bytes that end or
// break a request target's parts), each cut into random EvBuffer segments.
// The parser must never throw, must settle within a bounded number of
// calls, must end every message in a definite state, and must say the same
// thing however the bytes were split. A failure prints the seed and bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EvBuffer } from "../../src/buffer/mod.ts";
import { HttpParser, type HttpParserKind, type HttpParserLimits } from "../../src/http/mod.ts";
import { concat, prng } from "../util.ts";

const CASES = 100_000;
const SEED = 0x5eed;

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 255);
}

const VALID: [HttpParserKind, Uint8Array][] = ([
  ["request", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"],
  [
    "request",
    "GET /a/b?c=d&e HTTP/1.1\r\nHost: a\r\nUser-Agent: fuzz/1.0\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
  ],
  ["request", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world"],
  [
    "request",
    "PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
  ],
  ["request", 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a="b;c"\r\nabc\r\n0\r\n\r\n'],
  [
    "request",
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
  ],
  ["request", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"],
  ["request", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n\x16\x03\x01"],
  ["request", "GET http://a/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"],
  ["request", "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00"],
  ["request", "\r\nDELETE /x HTTP/1.1\nHost: a\nContent-Length: 0\n\n"],
  ["request", "GET /p;a=b/c:d@e!$&'()*+,=-._~%2F?q=/?x%41 HTTP/1.1\r\nHost: a:80\r\n\r\n"],
  ["request", "GET http://[::1]:8080/a%20b?c HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"],
  ["request", "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n"],
  ["response", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"],
  ["response", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n"],
  ["response", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n0\r\nX-Sum: 1\r\n\r\n"],
  ["response", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close"],
  ["response", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: a\r\n b\r\n\r\n"],
  ["response", 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'],
  ["response", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00"],
] as [HttpParserKind, string][]).map(([kind, text]) => [kind, bytes(text)]);

const TOKENS = [
  "\r",
  "\n",
  "\r\n",
  " ",
  "\t",
  ":",
  ";",
  ",",
  "=",
  '"',
  "\\",
  "\x00",
  "\x7f",
  "\xff",
  "0",
  "f",
  "F",
  "\r\n\r\n",
  "0\r\n\r\n",
  "5\r\n",
  "ffffffffffffffffff\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 3\r\n",
  "Content-Length: 99999999999999999\r\n",
  "Transfer-Encoding: gzip\r\n",
  "Connection: close\r\n",
  "Upgrade: x\r\nConnection: upgrade\r\n",
  "Host: b\r\n",
  "GET / HTTP/1.1\r\n",
  "HTTP/1.1 200 OK\r\n",
  " folded\r\n",
  "#",
  "%",
  "%2",
  "?",
  "@",
  "[",
  "]",
  "{",
  "//",
].map(bytes);

/** One mutation of `data`. */
function mutate(data: Uint8Array, rnd: (n: number) => number): Uint8Array {
  const n = data.length;
  const at = rnd(n + 1);
  switch (rnd(7)) {
    case 0: { // byte flip
      if (n === 0) return data;
      const out = data.slice();
      out[rnd(n)] = rnd(2) === 0 ? rnd(256) : TOKENS[rnd(17)][0];
      return out;
    }
    case 1: { // bit flip
      if (n === 0) return data;
      const out = data.slice();
      out[rnd(n)] ^= 1 << rnd(8);
      return out;
    }
    case 2: // insert a token
      return concat([data.subarray(0, at), TOKENS[rnd(TOKENS.length)], data.subarray(at)]);
    case 3: { // insert random bytes
      const junk = Uint8Array.from({ length: 1 + rnd(8) }, () => rnd(256));
      return concat([data.subarray(0, at), junk, data.subarray(at)]);
    }
    case 4: // delete a range
      return concat([data.subarray(0, at), data.subarray(Math.min(n, at + 1 + rnd(8)))]);
    case 5: // truncate
      return data.subarray(0, at);
    default: { // duplicate a slice
      const from = rnd(n + 1);
      return concat([data.subarray(0, at), data.subarray(from, Math.min(n, from + 1 + rnd(40))), data.subarray(at)]);
    }
  }
}

function hex(data: Uint8Array): string {
  return JSON.stringify(String.fromCharCode(...data));
}

const STATES = new Set(["start_line", "upgraded", "error"]);

/**
 * Feed the pieces, parse until need_more after each (alternating parse and
 * parseBodyInto as `rnd` says), call eof, and sum up what was said. Checks
 * the invariants as it goes.
 */
function run(
  kind: HttpParserKind,
  pieces: Uint8Array[],
  limits: Partial<HttpParserLimits> | undefined,
  rnd: (n: number) => number,
): string {
  const parser = new HttpParser(kind, limits);
  const input = new EvBuffer();
  const sink = new EvBuffer();
  let total = 0;
  for (const p of pieces) total += p.length;
  let budget = 4 * total + 64;
  const out: string[] = [];
  let body = 0;
  let error: string | null = null;
  for (const piece of pieces) {
    if (rnd(4) === 0) input.add(piece);
    else input.addReference(piece);
    for (;;) {
      if (--budget < 0) throw new Error("the parser did not settle: too many events");
      const into = rnd(3) === 0;
      const ev = into ? parser.parseBodyInto(input, sink) : parser.parse(input);
      if (ev.type === "need_more") break;
      if (ev.type === "body") {
        assert.ok(ev.data instanceof Uint8Array && ev.data.length > 0, "a body event has bytes");
        body += ev.data.length;
        continue;
      }
      body += sink.length;
      sink.drain(sink.length);
      if (body > 0) out.push(`body ${body}`);
      body = 0;
      if (ev.type === "error") {
        assert.equal(parser.state, "error");
        assert.equal(parser.parse(input), ev, "the error repeats");
        error = ev.error.code;
        break;
      }
      out.push(ev.type === "head" ? `head ${JSON.stringify(ev.head)}` : ev.type);
      if (ev.type === "trailers") out.push(JSON.stringify(ev.headers));
    }
    if (error !== null) break;
  }
  body += sink.length;
  if (body > 0) out.push(`body ${body}`);
  const end = parser.eof(input);
  if (error === null) {
    if (end === null) {
      assert.equal(input.length === 0 || parser.state === "upgraded", true, "a clean close leaves no bytes");
    } else if (end.type === "error") error = end.error.code;
    else out.push("end");
  }
  assert.ok(STATES.has(parser.state), `a definite state after eof, not ${parser.state}`);
  if (error !== null) out.push(`error ${error}`);
  else out.push(`left ${input.length}`);
  return out.join("\n");
}

/** Cut into 1..8 pieces, or byte by byte now and then. */
function split(data: Uint8Array, rnd: (n: number) => number): Uint8Array[] {
  if (data.length < 200 && rnd(10) === 0) return Array.from(data, (_, i) => data.subarray(i, i + 1));
  const cuts = new Set<number>();
  const pieces = 1 + rnd(8);
  for (let k = 1; k < pieces && data.length > 1; k++) cuts.add(1 + rnd(data.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const c of sorted) {
    parts.push(data.subarray(at, c));
    at = c;
  }
  parts.push(data.subarray(at));
  return parts;
}

function randomLimits(rnd: (n: number) => number): Partial<HttpParserLimits> | undefined {
  if (rnd(5) !== 0) return undefined;
  return {
    maxHeaderSize: 20 + rnd(200),
    maxHeaderCount: rnd(6),
    maxRequestLineSize: 5 + rnd(40),
    maxBodySize: rnd(2) === 0 ? Infinity : rnd(30),
    maxChunkExtensionSize: rnd(20),
  };
}

test("the valid fuzz corpus parses without errors, whole and byte by byte", () => {
  const rnd = prng(1);
  for (const [kind, data] of VALID) {
    const summary = run(kind, [data], undefined, rnd);
    assert.doesNotMatch(summary, /error/, `${kind} ${hex(data)}\n${summary}`);
    assert.equal(run(kind, Array.from(data, (_, i) => data.subarray(i, i + 1)), undefined, rnd), summary);
  }
});

test("100,000 random and mutated messages never make the parser throw, loop or depend on the split", () => {
  const rnd = prng(SEED);
  let errors = 0;
  let ends = 0;
  for (let i = 0; i < CASES; i++) {
    let kind: HttpParserKind;
    let data: Uint8Array;
    if (i % 10 === 0) {
      kind = rnd(4) === 0 ? "response" : "request";
      data = Uint8Array.from({ length: rnd(120) }, () => rnd(256));
    } else {
      const base = VALID[rnd(VALID.length)];
      kind = base[0];
      data = base[1];
      if (rnd(8) === 0) data = concat([data, VALID[rnd(VALID.length)][1]]);
      // Mostly one mutation, so many messages stay close enough to valid to reach the bodies.
      const mutations = rnd(2) === 0 ? 1 : 1 + rnd(4);
      for (let m = 0; m < mutations; m++) data = mutate(data, rnd);
    }
    const limits = randomLimits(rnd);
    const caseSeed = rnd(0x7fffffff);
    let whole: string;
    try {
      whole = run(kind, [data], limits, prng(caseSeed));
      const parts = run(kind, split(data, prng(caseSeed + 1)), limits, prng(caseSeed + 2));
      assert.equal(parts, whole, "the same summary whole and split");
    } catch (err) {
      throw new Error(
        `case ${i} (${kind}, limits ${JSON.stringify(limits)}, seed ${caseSeed}): ${hex(data)}\n${
          (err as Error).stack
        }`,
      );
    }
    if (whole.includes("\nerror ") || whole.startsWith("error ")) errors++;
    if (whole.startsWith("end") || whole.includes("\nend")) ends++;
  }
  // The mutations must reach the error paths and the message ends both.
  assert.ok(errors > CASES / 4, `only ${errors} of ${CASES} cases were errors`);
  assert.ok(ends > CASES / 8, `only ${ends} of ${CASES} cases completed a message`);
});
