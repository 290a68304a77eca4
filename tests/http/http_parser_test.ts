import { test } from "node:test";
import assert from "node:assert/strict";
import { EvBuffer, type EvBufferPtr } from "../../src/buffer/mod.ts";
import {
  DEFAULT_HTTP_PARSER_LIMITS,
  HttpError,
  HttpParser,
  type HttpParserKind,
  type HttpParserLimits,
  type ParseEvent,
  type RequestHead,
  type ResponseHead,
} from "../../src/http/mod.ts";
import { prng } from "../util.ts";

// ------------------------------------------------------------- helpers

const encoder = new TextEncoder();

/** Text as bytes; chars up to U+00FF become one byte each, so tests can write obs-text and controls. */
function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) return encoder.encode(text);
    out[i] = c;
  }
  return out;
}

/** Bytes as Latin-1 text (TextDecoder's "latin1" is windows-1252, which maps 0x80..0x9F elsewhere). */
function latin1(data: Uint8Array): string {
  let text = "";
  for (let i = 0; i < data.length; i += 4096) {
    text += String.fromCharCode(...data.subarray(i, Math.min(data.length, i + 4096)));
  }
  return text;
}

/** Cut `data` at the given (sorted, distinct) offsets. */
function cut(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const c of cuts) {
    if (c > at && c < data.length) {
      parts.push(data.subarray(at, c));
      at = c;
    }
  }
  parts.push(data.subarray(at));
  return parts;
}

/** Every byte on its own. */
function byteByByte(data: Uint8Array): Uint8Array[] {
  return Array.from(data, (_, i) => data.subarray(i, i + 1));
}

/** `pieces - 1` random cut points. */
function randomCuts(data: Uint8Array, pieces: number, rnd: (n: number) => number): number[] {
  const cuts = new Set<number>();
  for (let k = 1; k < pieces && data.length > 1; k++) cuts.add(1 + rnd(data.length - 1));
  return [...cuts].sort((a, b) => a - b);
}

/** How {@linkcode outcome} feeds and reads. */
interface FeedOptions {
  /** Parser limits. */
  limits?: Partial<HttpParserLimits>;
  /** For responses: the request method they answer. */
  method?: string;
  /** Call eof once everything is fed (default true). */
  eof?: boolean;
  /** Read bodies with parseBodyInto instead of parse. */
  into?: boolean;
  /** Append with `add` (small pieces coalesce into one segment) instead of `addReference` (a segment each). */
  coalesce?: boolean;
}

/**
 * Feed the pieces one at a time, parsing until need_more after each, and
 * sum up the events: heads as JSON, the body text between other events
 * joined (piece boundaries differ by split), trailers, ends, the first
 * error (`error CODE STATUS`, from parse or eof), the eof result and the
 * bytes left in the input. The same bytes must give the same summary
 * however they are split.
 */
function outcome(kind: HttpParserKind, pieces: readonly Uint8Array[], options: FeedOptions = {}): string[] {
  const parser = new HttpParser(kind, options.limits);
  if (options.method !== undefined) parser.expectResponseTo(options.method);
  const input = new EvBuffer();
  const sink = new EvBuffer();
  const out: string[] = [];
  let body = "";
  let failed = false;
  const flush = (): void => {
    if (options.into && sink.length > 0) body += latin1(sink.pullup());
    sink.drain(sink.length);
    if (body !== "") out.push(`body ${body}`);
    body = "";
  };
  let total = 0;
  for (const piece of pieces) total += piece.length;
  // Every parse consumes bytes or moves on; more turns than this is a loop.
  let budget = 4 * total + 64;
  for (const piece of pieces) {
    if (options.coalesce) input.add(piece);
    else input.addReference(piece);
    while (!failed) {
      if (--budget < 0) throw new Error("the parser did not settle: too many events");
      const ev = options.into ? parser.parseBodyInto(input, sink) : parser.parse(input);
      if (ev.type === "need_more") break;
      if (ev.type === "body") {
        body += latin1(ev.data);
        continue;
      }
      flush();
      if (ev.type === "head") out.push(`head ${JSON.stringify(ev.head)}`);
      else if (ev.type === "trailers") out.push(`trailers ${JSON.stringify(ev.headers)}`);
      else if (ev.type === "end") out.push("end");
      else {
        out.push(`error ${ev.error.code} ${ev.error.status}`);
        failed = true;
      }
    }
  }
  flush();
  if (options.eof !== false) {
    const ev = parser.eof(input);
    if (ev === null) out.push("eof");
    else if (ev.type === "end") out.push("end");
    else if (!failed) {
      out.push(`error ${ev.error.code} ${ev.error.status}`);
      failed = true;
    }
  }
  if (!failed) out.push(`left ${latin1(input.pullup())}`);
  return out;
}

/** The summary for all of `text` in one piece. */
function whole(kind: HttpParserKind, text: string | Uint8Array, options?: FeedOptions): string[] {
  return outcome(kind, [typeof text === "string" ? bytes(text) : text], options);
}

/** The error a message gives, as `CODE STATUS`, or null when it parses. */
function errorOf(kind: HttpParserKind, text: string, options?: FeedOptions): string | null {
  const found = whole(kind, text, options).find((line) => line.startsWith("error "));
  return found === undefined ? null : found.slice(6);
}

/**
 * The summary of `text`, checked to be the same fed whole, byte by byte (as
 * segments and coalesced), through parseBodyInto, and in random splits.
 */
function invariant(kind: HttpParserKind, text: string | Uint8Array, options: FeedOptions = {}): string[] {
  const data = typeof text === "string" ? bytes(text) : text;
  const expected = outcome(kind, [data], options);
  assert.deepEqual(outcome(kind, byteByByte(data), options), expected, "fed byte by byte as segments");
  assert.deepEqual(outcome(kind, byteByByte(data), { ...options, coalesce: true }), expected, "fed byte by byte");
  assert.deepEqual(outcome(kind, [data], { ...options, into: true }), expected, "read with parseBodyInto");
  const rnd = prng(data.length);
  for (let round = 0; round < 8; round++) {
    const parts = cut(data, randomCuts(data, 2 + rnd(6), rnd));
    assert.deepEqual(outcome(kind, parts, { ...options, into: round % 2 === 1 }), expected, `random split ${round}`);
  }
  return expected;
}

/** Every event of `text` fed whole, up to need_more or an error. */
function events(kind: HttpParserKind, text: string | Uint8Array, options: FeedOptions = {}): ParseEvent[] {
  const parser = new HttpParser(kind, options.limits);
  if (options.method !== undefined) parser.expectResponseTo(options.method);
  const input = new EvBuffer();
  input.add(typeof text === "string" ? bytes(text) : text);
  const out: ParseEvent[] = [];
  for (let i = 0; i < 1000; i++) {
    const ev = parser.parse(input);
    out.push(ev);
    if (ev.type === "need_more" || ev.type === "error") return out;
  }
  throw new Error("no need_more after 1000 events");
}

function requestHead(text: string, options?: FeedOptions): RequestHead {
  const ev = events("request", text, options)[0];
  if (ev.type !== "head") throw new Error(`expected a head, got ${JSON.stringify(ev)}`);
  return ev.head as RequestHead;
}

function responseHead(text: string, options?: FeedOptions): ResponseHead {
  const ev = events("response", text, options)[0];
  if (ev.type !== "head") throw new Error(`expected a head, got ${JSON.stringify(ev)}`);
  return ev.head as ResponseHead;
}

/** A field's value in a flat name/value array. */
function field(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

const GET = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

// ------------------------------------------------------------ request line

test("a GET head has its method, target, version, lowercased names and trimmed values", () => {
  const head = requestHead("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  curl/8.0 \t\r\nX-Empty:\r\n\r\n");
  assert.equal(head.kind, "request");
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/a?b=c");
  assert.equal(head.versionMajor, 1);
  assert.equal(head.versionMinor, 1);
  assert.deepEqual(head.headers, ["host", "example.com", "user-agent", "curl/8.0", "x-empty", ""]);
  assert.equal(head.contentLength, -1);
  assert.equal(head.chunked, false);
  assert.equal(head.framing, "none");
  assert.equal(head.keepAlive, true);
  assert.equal(head.upgrade, false);
  assert.equal(head.expectContinue, false);
});

test("a request without a body ends right after its head and the parser waits for the next", () => {
  assert.deepEqual(events("request", GET).map((ev) => ev.type), ["head", "end", "need_more"]);
  assert.deepEqual(invariant("request", GET).slice(1), ["end", "eof", "left "]);
});

test("names are lowercased in any case and unknown names keep their characters", () => {
  const head = requestHead("GET / HTTP/1.1\r\nHOST: a\r\nConTent-LENGTH: 0\r\nX-My_Header~1: v\r\n\r\n");
  assert.deepEqual(head.headers, ["host", "a", "content-length", "0", "x-my_header~1", "v"]);
  assert.equal(head.contentLength, 0);
});

test("extension methods that are tokens are accepted with their case kept", () => {
  for (const method of ["PROPFIND", "get", "M-SEARCH", "PATCH", "DELETE", "OPTIONS", "TRACE", "PUT", "HEAD", "POST"]) {
    assert.equal(requestHead(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`).method, method);
  }
});

test("an absolute-form target is accepted for any method", () => {
  assert.equal(
    requestHead("GET http://example.com/path?q HTTP/1.1\r\nHost: example.com\r\n\r\n").target,
    "http://example.com/path?q",
  );
  assert.equal(
    requestHead("POST https://a:8443/ HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").target,
    "https://a:8443/",
  );
});

test("the asterisk-form target is accepted for OPTIONS only", () => {
  assert.equal(requestHead("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").target, "*");
  assert.equal(errorOf("request", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"), "ERR_BAD_TARGET 400");
  assert.equal(errorOf("request", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"), "ERR_BAD_TARGET 400");
});

test("the authority-form target is accepted for CONNECT only, and CONNECT needs it", () => {
  const head = requestHead("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  assert.equal(head.target, "example.com:443");
  assert.equal(requestHead("CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").target, "[::1]:8080");
  for (const target of ["/", "example.com", "example.com:", "user@example.com:443", "example.com:443/x", "*"]) {
    assert.equal(errorOf("request", `CONNECT ${target} HTTP/1.1\r\nHost: a\r\n\r\n`), "ERR_BAD_TARGET 400", target);
  }
  assert.equal(errorOf("request", "GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"), null, "a scheme-like authority");
  assert.equal(errorOf("request", "GET 1example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"), "ERR_BAD_TARGET 400");
  assert.equal(errorOf("request", "GET a HTTP/1.1\r\nHost: a\r\n\r\n"), "ERR_BAD_TARGET 400");
});

test("CONNECT stops after the head and leaves the tunnel's bytes in the input", () => {
  const text = "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 3\r\n\r\n\x16\x03\x01binary";
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  input.add(bytes(text));
  const ev = parser.parse(input);
  assert.equal(ev.type, "head");
  if (ev.type !== "head") return;
  assert.equal(ev.head.upgrade, true);
  assert.equal(ev.head.framing, "none");
  assert.equal(parser.parse(input).type, "end");
  assert.equal(parser.state, "upgraded");
  assert.equal(parser.parse(input).type, "need_more");
  assert.equal(latin1(input.pullup()), "\x16\x03\x01binary");
  assert.equal(parser.eof(input), null);
  assert.deepEqual(invariant("request", text).slice(1), ["end", "eof", "left \x16\x03\x01binary"]);
});

test("a method that is not a token is rejected with ERR_BAD_REQUEST_LINE (400)", () => {
  for (const line of ["G(T / HTTP/1.1", "GE\x01T / HTTP/1.1", " GET / HTTP/1.1", "GET\t/ HTTP/1.1", "GÉT / HTTP/1.1"]) {
    assert.equal(errorOf("request", `${line}\r\nHost: a\r\n\r\n`), "ERR_BAD_REQUEST_LINE 400", JSON.stringify(line));
  }
});

test("a request line with extra or missing spaces is rejected with ERR_BAD_REQUEST_LINE (400)", () => {
  for (
    const line of [
      "GET  / HTTP/1.1",
      "GET /  HTTP/1.1",
      "GET / HTTP/1.1 ",
      "GET /",
      "GET / ",
      "GET",
      "GET /a b HTTP/1.1",
    ]
  ) {
    assert.equal(errorOf("request", `${line}\r\nHost: a\r\n\r\n`), "ERR_BAD_REQUEST_LINE 400", JSON.stringify(line));
  }
});

test("a request target with a control, DEL or non-ASCII byte is rejected with ERR_BAD_TARGET (400)", () => {
  for (const target of ["/a\x01b", "/\x7f", "/caf\xe9", "/a\tb", "/\x00"]) {
    assert.equal(
      errorOf("request", `GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`),
      "ERR_BAD_TARGET 400",
      JSON.stringify(target),
    );
  }
});

/** The error of a GET with `target`, as `CODE STATUS`, or null when it parses. */
function targetError(target: string, method = "GET"): string | null {
  return errorOf("request", `${method} ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
}

test("a fragment in the request target is rejected with ERR_BAD_TARGET (400)", () => {
  for (
    const target of ["/hello#frag", "/hello#", "/hello?a#b", "/#", "http://a/x#f", "http://a#f", "http://a:80#", "#x"]
  ) {
    assert.equal(targetError(target), "ERR_BAD_TARGET 400", target);
  }
  assert.equal(targetError("*#", "OPTIONS"), "ERR_BAD_TARGET 400");
  assert.equal(targetError("a:1#", "CONNECT"), "ERR_BAD_TARGET 400");
});

test("origin-form holds pchar, '/', '?' and %XX with two hex digits, and nothing else (RFC 3986)", () => {
  const good = [
    "/",
    "//a//b/",
    "/a:b@c!$&'()*+,;=-._~09AZaz",
    "/a%2Fb%aF%00",
    "/?",
    "/p?a=b/c?d:@!$&'()*+,;=",
    "/p?%41",
    "/p??",
  ];
  for (const target of good) assert.equal(targetError(target), null, target);
  const bad = ["/a{b", "/?q={", "/?q=}", "/a|b", "/a^b", "/a`", '/a"', "/a<b>", "/a\\b", "/a[0]", "/?a[]=1"];
  for (const target of bad) assert.equal(targetError(target), "ERR_BAD_TARGET 400", target);
  for (const target of ["/a%", "/a%2", "/a%zz", "/a%2g", "/?%", "/?%4", "/?x=%G0"]) {
    assert.equal(targetError(target), "ERR_BAD_TARGET 400", target);
  }
});

test("absolute-form follows absolute-URI: scheme, an authority without userinfo, path and query", () => {
  const good = [
    "http://a",
    "http://a/",
    "HTTP://A.example:8080/x/y?z=1&w",
    "https://a:/",
    "http://a?q",
    "http://127.0.0.1/",
    "http://[::1]/",
    "http://[2001:db8::7]:80/x",
    "http://[::ffff:192.0.2.1]/",
    "http://[v7.a:b]/",
    "http://a%41b/",
    "foo+bar-1.0:rest/of?it",
    "urn:isbn:0451450523",
    "mailto:",
    "s:/abs",
  ];
  for (const target of good) assert.equal(targetError(target), null, target);
  const bad = [
    "http://",
    "http:///x",
    "http://u@a/",
    "http://u:p@a/",
    "http://a:b/",
    "http://a:80x/",
    "http://[::1/",
    "http://[::1]x/",
    "http://[zz]/",
    "http://[1:2:3:4:5:6:7:8:9]/",
    "http://[1::2::3]/",
    "http://[12345::]/",
    "http://[::1.2.3.256]/",
    "http://[v.x]/",
    "http://[]/",
    "http://a b/",
    "http://a/{",
    "http://a/%",
    "http:x",
    "https:/x",
    "1http://a/",
    "+a:b",
    "http//a",
  ];
  for (const target of bad) assert.notEqual(targetError(target), null, target);
  for (const target of bad.filter((t) => !t.includes(" "))) {
    assert.equal(targetError(target), "ERR_BAD_TARGET 400", target);
  }
});

test("authority-form for CONNECT is a host name, IPv4 or bracketed IP literal, then a port", () => {
  for (const target of ["a.example:443", "127.0.0.1:1", "[::1]:8080", "[v1.x]:1", "a%41:1", "xn--d-1:0"]) {
    assert.equal(targetError(target, "CONNECT"), null, target);
  }
  for (
    const target of [
      "a:",
      ":443",
      "a:1x",
      "a:1/",
      "a:1?",
      "a",
      "[::1]",
      "[::1]x:1",
      "[::g]:1",
      "a@b:1",
      "a%4:1",
      "a{:1",
    ]
  ) {
    assert.equal(targetError(target, "CONNECT"), "ERR_BAD_TARGET 400", target);
  }
});

test("IP literals in a Host or a target follow RFC 3986's IPv6address and IPvFuture", () => {
  const good = [
    "::",
    "::1",
    "1::",
    "1:2:3:4:5:6:7:8",
    "1::8",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "::ffff:1.2.3.4",
    "1:2:3:4:5:6:1.2.3.4",
    "fFfF::0",
    "v1.x",
    "VA.a:b!",
  ];
  const bad = [
    "",
    ":",
    ":1",
    "1:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":::",
    "12345::",
    "1.2.3.4",
    "::1.2.3",
    "::01.2.3.4",
    "::1.2.3.256",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::g",
    "v1.",
    "v.x",
    "vx.y",
  ];
  for (const ip of good) {
    assert.equal(errorOf("request", `GET / HTTP/1.1\r\nHost: [${ip}]:80\r\n\r\n`), null, ip);
    assert.equal(targetError(`http://[${ip}]/`), null, ip);
  }
  for (const ip of bad) {
    assert.equal(errorOf("request", `GET / HTTP/1.1\r\nHost: [${ip}]\r\n\r\n`), "ERR_INVALID_HOST 400", ip);
    assert.equal(targetError(`http://[${ip}]/`), "ERR_BAD_TARGET 400", ip);
  }
});

test("a Host field must be uri-host [ ':' port ] (RFC 9110 §7.2)", () => {
  for (const host of ["a", "a.example:8080", "127.0.0.1", "[::1]", "[::1]:80", "a%41", "a:", ""]) {
    assert.equal(errorOf("request", `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`), null, host);
  }
  for (const host of ["a:b", "a:80:80", "[::1", "[zz]", "[::1]x", "a%zz", "a%4", "[1::2::3]:80", "a[b]", "a\\b"]) {
    assert.equal(errorOf("request", `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`), "ERR_INVALID_HOST 400", host);
  }
});

/** Feed `pieces` one by one to a new parser; the index of the piece after which parse first said error, and its code. */
function firstError(kind: HttpParserKind, pieces: readonly string[]): [number, string] | null {
  const parser = new HttpParser(kind);
  const input = new EvBuffer();
  for (let i = 0; i < pieces.length; i++) {
    input.addReference(bytes(pieces[i]));
    for (let ev = parser.parse(input); ev.type !== "need_more"; ev = parser.parse(input)) {
      if (ev.type === "error") return [i, ev.error.code];
    }
  }
  return null;
}

test("bytes that can never start a request are refused at once, without waiting for a line end", () => {
  assert.deepEqual(firstError("request", ["\x00\x01\x02"]), [0, "ERR_BAD_REQUEST_LINE"]);
  assert.deepEqual(firstError("request", ["\xff".repeat(5000)]), [0, "ERR_BAD_REQUEST_LINE"]);
  assert.deepEqual(firstError("request", ["\r\n\r\n", "\x16\x03\x01"]), [1, "ERR_BAD_REQUEST_LINE"]);
  assert.deepEqual(firstError("request", [" "]), [0, "ERR_BAD_REQUEST_LINE"]);
  // Empty lines before the request line are still skipped, however they are split.
  assert.equal(firstError("request", ["\r", "\n", "\n", "\r", "\n", "GET", " / HTTP/1.1\r\nHost: a\r\n\r\n"]), null);
});

test("a byte that makes a partial request line invalid is refused as it arrives, in any segment", () => {
  const cases: [string[], string][] = [
    [["GE", "T", "(", " / HTTP/1.1"], "ERR_BAD_REQUEST_LINE"],
    [["GET", " ", "/abc", "{", "def"], "ERR_BAD_TARGET"],
    [["GET /", "x?y", "#", "z"], "ERR_BAD_TARGET"],
    [["GET /", "a%", "g", "0"], "ERR_BAD_TARGET"],
    [["GET ", "/a\x01", "b"], "ERR_BAD_TARGET"],
    [["GET ", "http:", "//u", "@", "a/"], "ERR_BAD_TARGET"],
    [["GET ", "/ ", "HTTP/1", ",", "1"], "ERR_BAD_REQUEST_LINE"],
    [["GET / HTTP/1.1", "\r", "x", "\n"], "ERR_BARE_CR"],
    [["GET / HTTP/1.1", " ", "\r\n"], "ERR_BAD_REQUEST_LINE"],
    [["CONNECT ", "a", ":", "44", "x", " HTTP/1.1"], "ERR_BAD_TARGET"],
  ];
  for (const [pieces, code] of cases) {
    assert.deepEqual(firstError("request", pieces), [pieces.length - 2, code], JSON.stringify(pieces));
    // The same bytes whole give the same error.
    assert.equal(errorOf("request", pieces.join(""), { eof: false })?.split(" ")[0], code, JSON.stringify(pieces));
  }
});

test("a partial status line is checked as it arrives", () => {
  assert.deepEqual(firstError("response", ["HTTP/1.1 2", "x", "0"]), [1, "ERR_BAD_STATUS_LINE"]);
  assert.deepEqual(firstError("response", ["<html>"]), [0, "ERR_BAD_STATUS_LINE"]);
  assert.deepEqual(firstError("response", ["HTTP/1.1 200 O", "\x01", "K"]), [1, "ERR_BAD_STATUS_LINE"]);
  assert.equal(firstError("response", ["HTTP/1.1 20", "0 O", "K\r\nContent-Length: 0\r\n\r\n"]), null);
});

/** An EvBuffer that counts the bytes its peek hands out: how much of a partial line the parser looks at. */
class CountingBuffer extends EvBuffer {
  peeked = 0;
  override peek(n = -1, start?: EvBufferPtr | null): Uint8Array[] {
    const views = super.peek(n, start);
    for (const v of views) this.peeked += v.length;
    return views;
  }
}

test("a request line arriving one byte per segment is checked in linear time, not rescanned from its start", () => {
  const target = "/" + "a".repeat(8000);
  const parser = new HttpParser("request");
  const input = new CountingBuffer();
  const text = bytes(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
  let head: RequestHead | null = null;
  for (const piece of byteByByte(text)) {
    input.addReference(piece);
    const ev = parser.parse(input);
    if (ev.type === "head") head = ev.head as RequestHead;
    else assert.equal(ev.type, "need_more");
  }
  assert.equal(head?.target, target);
  assert.ok(input.peeked <= 2 * text.length, `peeked ${input.peeked} bytes for a ${text.length}-byte head`);
  // A bad byte at the end of such a line is found when it arrives.
  const bad = new HttpParser("request");
  const buf = new EvBuffer();
  for (const piece of byteByByte(bytes(`GET ${target}`))) {
    buf.addReference(piece);
    assert.equal(bad.parse(buf).type, "need_more");
  }
  buf.addReference(bytes("|"));
  const ev = bad.parse(buf);
  assert.equal(ev.type === "error" ? ev.error.code : ev.type, "ERR_BAD_TARGET");
});

test("HTTP/1.0 is parsed as 1.0 and HTTP/1.x above 1 as 1.1", () => {
  assert.equal(requestHead("GET / HTTP/1.0\r\n\r\n").versionMinor, 0);
  assert.equal(requestHead("GET / HTTP/1.2\r\nHost: a\r\n\r\n").versionMinor, 1);
  assert.equal(requestHead("GET / HTTP/1.9\r\nHost: a\r\n\r\n").keepAlive, true);
});

test("a major version other than 1 is rejected with ERR_VERSION (505)", () => {
  for (const version of ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"]) {
    assert.equal(errorOf("request", `GET / ${version}\r\nHost: a\r\n\r\n`), "ERR_VERSION 505", version);
  }
  assert.equal(errorOf("request", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "ERR_VERSION 505");
});

test("a malformed version is rejected with ERR_BAD_REQUEST_LINE (400)", () => {
  for (
    const version of ["HTTP/1", "HTTP/1.", "http/1.1", "HTTP/10.0", "HTTP/1.10", "HTTP 1.1", "HTTP/1,1", "HTTP/a.b"]
  ) {
    assert.equal(errorOf("request", `GET / ${version}\r\nHost: a\r\n\r\n`), "ERR_BAD_REQUEST_LINE 400", version);
  }
});

test("empty lines before the request line are skipped", () => {
  const out = invariant("request", "\r\n\n\r\n" + GET + "\r\n" + GET);
  assert.deepEqual(out.filter((line) => line === "end").length, 2);
  assert.equal(errorOf("request", "\r\n\r\n\n" + GET), null);
});

test("bare LF line endings are accepted in the start line and the header fields", () => {
  const out = invariant(
    "request",
    "POST /x HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n3;e=1\r\nabc\r\n0\r\n\r\n",
  );
  assert.deepEqual(out.slice(1), ["body abc", "end", "eof", "left "]);
  assert.deepEqual(requestHead("GET / HTTP/1.1\nHost: a\r\nX: y\n\r\n").headers, ["host", "a", "x", "y"]);
  assert.equal(responseHead("HTTP/1.1 200 OK\nContent-Length: 0\n\n").status, 200);
});

test("a bare LF ending a chunk-size line, chunk data, the last chunk or a trailer line is ERR_INVALID_CHUNK", () => {
  const cases = [
    "5\nhello\r\n0\r\n\r\n",
    "5;e=1\nhello\r\n0\r\n\r\n",
    "5\r\nhello\n0\r\n\r\n",
    "5\r\nhello\r\n0\n\r\n",
    "5\r\nhello\r\n0;e\n\r\n",
    "5\r\nhello\r\n0\r\n\n",
    "5\r\nhello\r\n0\r\nT: v\n\r\n",
    "5\r\nhello\r\n0\r\nT: v\r\n\n",
    "3;e=1\nabc\n0\nT: v\n\n",
  ];
  for (const body of cases) {
    const text = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
    assert.equal(errorOf("request", text), "ERR_INVALID_CHUNK 400", JSON.stringify(body));
    invariant("request", text);
    const response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
    assert.equal(errorOf("response", response), "ERR_INVALID_CHUNK 502", JSON.stringify(body));
  }
});

// ------------------------------------------------------------- bare CR

test("a bare CR anywhere in the head is rejected with ERR_BARE_CR (400)", () => {
  const cases = [
    "GET / HTTP/1.1\rHost: a\r\n\r\n",
    "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET\r/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX\r: b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\rX: b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
    "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
  ];
  for (const text of cases) {
    assert.equal(errorOf("request", text), "ERR_BARE_CR 400", JSON.stringify(text));
    invariant("request", text);
  }
});

test("a bare CR in a chunk-size line or a trailer is rejected", () => {
  const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  assert.equal(errorOf("request", head + "3\rabc\r\n0\r\n\r\n"), "ERR_BARE_CR 400");
  assert.equal(errorOf("request", head + "3;a=b\rc\r\nabc\r\n0\r\n\r\n"), "ERR_BARE_CR 400");
  assert.equal(errorOf("request", head + "0\r\nT: a\rb\r\n\r\n"), "ERR_BARE_CR 400");
  assert.equal(errorOf("request", head + "3\r\nabc\rX0\r\n\r\n"), "ERR_INVALID_CHUNK 400");
});

// -------------------------------------------------------------- fields

test("whitespace between a field name and the colon is rejected with ERR_INVALID_HEADER (400)", () => {
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"), "ERR_INVALID_HEADER 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), "ERR_INVALID_HEADER 400");
  assert.equal(errorOf("response", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx"), "ERR_INVALID_HEADER 502");
});

test("a field name with a non-token character is rejected with ERR_INVALID_HEADER (400)", () => {
  for (const name of ["X(Y", "X@Y", "X/Y", 'X"Y', "X{Y", "X\x01Y", "X\x7fY", "Xé", "X[Y", "X=Y"]) {
    assert.equal(
      errorOf("request", `GET / HTTP/1.1\r\nHost: a\r\n${name}: v\r\n\r\n`),
      "ERR_INVALID_HEADER 400",
      JSON.stringify(name),
    );
  }
});

test("a field line without a colon or with an empty name is rejected with ERR_INVALID_HEADER (400)", () => {
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), "ERR_INVALID_HEADER 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\n\r\n"), "ERR_INVALID_HEADER 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n"), "ERR_INVALID_HEADER 400");
});

test("a control character other than HTAB in a field value is rejected with ERR_INVALID_HEADER (400)", () => {
  for (const c of [0, 1, 8, 11, 12, 27, 31, 127]) {
    const text = `GET / HTTP/1.1\r\nHost: a\r\nX: a${String.fromCharCode(c)}b\r\n\r\n`;
    assert.equal(errorOf("request", text), "ERR_INVALID_HEADER 400", `byte ${c}`);
  }
});

test("HTAB inside a value and obs-text bytes are kept, decoded one char per byte", () => {
  const head = requestHead("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\nY: caf\xe9 \x80\xff\r\n\r\n");
  assert.equal(field(head.headers, "x"), "a\tb");
  assert.equal(field(head.headers, "y"), "caf\xe9 \x80\xff");
});

test("obs-fold in a request is rejected with ERR_OBS_FOLD (400)", () => {
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"), "ERR_OBS_FOLD 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n"), "ERR_OBS_FOLD 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"), "ERR_OBS_FOLD 400");
});

test("obs-fold in a response is replaced by a space, as RFC 9112 tells a user agent", () => {
  const head = responseHead("HTTP/1.1 200 OK\r\nX: a\r\n   b  \r\n\tc\r\n \r\nContent-Length: 0\r\n\r\n");
  assert.deepEqual(head.headers, ["x", "a b c", "content-length", "0"]);
  assert.equal(errorOf("response", "HTTP/1.1 200 OK\r\n X: a\r\n\r\n"), "ERR_INVALID_HEADER 502");
});

test("values of one name stay separate fields in order", () => {
  const head = requestHead("GET / HTTP/1.1\r\nHost: a\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n");
  assert.deepEqual(head.headers, ["host", "a", "set-cookie", "a=1", "set-cookie", "b=2"]);
});

test("repeated values of one length get the right strings (the string cache compares every byte)", () => {
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  const seen: string[] = [];
  for (
    const value of [
      "abcde",
      "aXcde",
      "abcde",
      "abXde",
      "abcdX",
      "xbcde",
      "a".repeat(128),
      "a".repeat(63) + "b" + "a".repeat(64),
    ]
  ) {
    input.addString(`GET /${value} HTTP/1.1\r\nHost: a\r\nX-${value}: ${value}\r\n\r\n`);
    const ev = parser.parse(input);
    assert.equal(ev.type, "head");
    if (ev.type !== "head") return;
    const head = ev.head as RequestHead;
    assert.equal(head.target, `/${value}`);
    assert.deepEqual(head.headers, ["host", "a", `x-${value.toLowerCase()}`, value]);
    seen.push(field(head.headers, `x-${value.toLowerCase()}`) as string);
    assert.equal(parser.parse(input).type, "end");
  }
  assert.equal(seen.length, 8);
});

test("long names and values past the string cache decode whole", () => {
  const name = "X-" + "Long-".repeat(40);
  const value = "v".repeat(5000) + "\xe9" + "w".repeat(5000);
  const head = requestHead(`GET / HTTP/1.1\r\nHost: a\r\n${name}: ${value}\r\n\r\n`);
  assert.equal(field(head.headers, name.toLowerCase()), value);
});

// ---------------------------------------------------------------- Host

test("an HTTP/1.1 request without Host or with two is rejected with ERR_INVALID_HOST (400)", () => {
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\n\r\n"), "ERR_INVALID_HOST 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), "ERR_INVALID_HOST 400");
  assert.equal(errorOf("request", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), "ERR_INVALID_HOST 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), "ERR_INVALID_HOST 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), "ERR_INVALID_HOST 400");
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), "ERR_INVALID_HOST 400");
});

test("HTTP/1.0 requests may leave Host out, and an empty Host is valid", () => {
  assert.equal(errorOf("request", "GET / HTTP/1.0\r\n\r\n"), null);
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost:\r\n\r\n"), null);
  assert.equal(errorOf("request", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), null);
});

// ------------------------------------------------------- Content-Length

test("a Content-Length body is delivered and the message ends after it", () => {
  const out = invariant("request", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
  assert.deepEqual(out.slice(1), ["body hello world", "end", "eof", "left "]);
  assert.equal(requestHead("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n").framing, "length");
});

test("identical duplicate Content-Lengths and a list of equal values are accepted", () => {
  assert.equal(
    requestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc").contentLength,
    3,
  );
  assert.equal(requestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc").contentLength, 3);
  assert.equal(requestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3,3 , 3\r\n\r\nabc").contentLength, 3);
});

test("differing or malformed Content-Lengths are rejected with ERR_INVALID_CONTENT_LENGTH (400)", () => {
  const values = [
    ["3", "4"],
    ["3, 4"],
    ["abc"],
    ["-1"],
    ["+3"],
    [""],
    ["3 3"],
    ["0x10"],
    ["3,"],
    [",3"],
    ["1e3"],
    ["9007199254740992"],
    ["12345678901234567"],
  ];
  for (const list of values) {
    const fields = list.map((v) => `Content-Length: ${v}\r\n`).join("");
    const text = `POST / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`;
    assert.equal(errorOf("request", text), "ERR_INVALID_CONTENT_LENGTH 400", JSON.stringify(list));
  }
  assert.equal(
    requestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9007199254740991\r\n\r\n").contentLength,
    2 ** 53 - 1,
  );
  assert.equal(requestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n").contentLength, 7);
});

// ---------------------------------------------------- Transfer-Encoding

test("Transfer-Encoding with Content-Length is rejected with ERR_SMUGGLING (400, 502 in a response)", () => {
  assert.equal(
    errorOf("request", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
    "ERR_SMUGGLING 400",
  );
  assert.equal(
    errorOf("request", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "ERR_SMUGGLING 400",
  );
  assert.equal(
    errorOf("response", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "ERR_SMUGGLING 502",
  );
});

test("a request Transfer-Encoding whose final coding is not chunked is rejected with ERR_INVALID_TRANSFER_ENCODING (400)", () => {
  for (
    const te of [
      "gzip",
      "chunked, gzip",
      "identity",
      "chunked, chunked",
      "chunked;a=b",
      "chunked x",
      ",",
      "",
      "chu\xe9nked",
    ]
  ) {
    const text = `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}\r\n\r\n`;
    assert.equal(errorOf("request", text), "ERR_INVALID_TRANSFER_ENCODING 400", JSON.stringify(te));
  }
  const twoLines = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n";
  assert.equal(errorOf("request", twoLines), "ERR_INVALID_TRANSFER_ENCODING 400");
});

test("a request coding other than chunked before chunked is refused with ERR_UNSUPPORTED_TRANSFER_ENCODING (501)", () => {
  assert.equal(
    errorOf("request", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    "ERR_UNSUPPORTED_TRANSFER_ENCODING 501",
  );
  const split = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
  assert.equal(errorOf("request", split), "ERR_UNSUPPORTED_TRANSFER_ENCODING 501");
});

test("chunked is matched in any case, with empty list elements allowed", () => {
  assert.equal(requestHead("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n").chunked, true);
  assert.equal(requestHead("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n").framing, "chunked");
});

test("Transfer-Encoding in an HTTP/1.0 message is rejected as faulty framing", () => {
  assert.equal(
    errorOf("request", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "ERR_INVALID_TRANSFER_ENCODING 400",
  );
  assert.equal(
    errorOf("response", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "ERR_INVALID_TRANSFER_ENCODING 502",
  );
});

test("a response Transfer-Encoding whose final coding is not chunked is read until close", () => {
  const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8bdata";
  const head = responseHead(text);
  assert.equal(head.framing, "close");
  assert.equal(head.keepAlive, false);
  assert.deepEqual(invariant("response", text).slice(1), ["body \x1f\x8bdata", "end", "left "]);
  assert.equal(responseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").framing, "chunked");
});

// ------------------------------------------------------------- chunked

const CHUNKED_HEAD = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

test("a chunked body with extensions and trailers parses the same split at every byte", () => {
  const text = CHUNKED_HEAD +
    '5;name=value;flag;q="quo\\"ted; \\\\";x = y\r\nhello\r\n' +
    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n" +
    "0;last\r\nExpires: never\r\nX-Checksum:  abc \r\n\r\n" + GET;
  const out = invariant("request", text);
  assert.deepEqual(out.slice(1, 5), [
    "body helloabcdefghijklmnopqrstuvwxyz",
    'trailers ["expires","never","x-checksum","abc"]',
    "end",
    out[4],
  ]);
  assert.ok(out[4].startsWith("head "));
  // Every split point into two segments.
  const data = bytes(text);
  for (let at = 1; at < data.length; at++) assert.deepEqual(outcome("request", cut(data, [at])), out, `cut at ${at}`);
});

test("a chunked body without trailers ends without a trailers event", () => {
  assert.deepEqual(invariant("request", CHUNKED_HEAD + "3\r\nabc\r\n0\r\n\r\n").slice(1), [
    "body abc",
    "end",
    "eof",
    "left ",
  ]);
});

test("chunk sizes are hex in either case with leading zeros, up to 16 digits", () => {
  const text = CHUNKED_HEAD + "0000000000000003\r\nabc\r\nA\r\n0123456789\r\na\r\n0123456789\r\n000\r\n\r\n";
  assert.deepEqual(invariant("request", text).slice(1, 3), ["body abc01234567890123456789", "end"]);
});

test("malformed chunk sizes are rejected with ERR_INVALID_CHUNK (400)", () => {
  for (
    const line of [
      "x",
      "",
      " 5",
      "-5",
      "+5",
      "0x5",
      "5 ",
      "5\t",
      "00000000000000005",
      "20000000000000",
      "FFFFFFFFFFFFFFFF",
    ]
  ) {
    const text = `${CHUNKED_HEAD}${line}\r\nhello\r\n0\r\n\r\n`;
    assert.equal(errorOf("request", text), "ERR_INVALID_CHUNK 400", JSON.stringify(line));
    invariant("request", text);
  }
  assert.equal(errorOf("request", `${CHUNKED_HEAD}1FFFFFFFFFFFFF\r\n`, { eof: false }), null, "2^53 - 1 is a size");
});

test("malformed chunk extensions are rejected with ERR_INVALID_CHUNK (400)", () => {
  for (
    const ext of [";", ";=v", "; ", ";a=", ";a b", ';a="x', ";a=b c", ";a=@", "x", ";a;", ';a="\x01"', ";a=b ", ";a "]
  ) {
    const text = `${CHUNKED_HEAD}5${ext}\r\nhello\r\n0\r\n\r\n`;
    assert.equal(errorOf("request", text), "ERR_INVALID_CHUNK 400", JSON.stringify(ext));
  }
  for (const ext of [" ;a", ";a=b", ' ; a = "b c"', ";a;b;c=d", ';a="\\\x80"', ';a="\xe9"']) {
    assert.equal(errorOf("request", `${CHUNKED_HEAD}5${ext}\r\nhello\r\n0\r\n\r\n`), null, JSON.stringify(ext));
  }
});

test("chunk data longer than its size is rejected with ERR_INVALID_CHUNK (400)", () => {
  assert.equal(errorOf("request", CHUNKED_HEAD + "3\r\nabcd\r\n0\r\n\r\n"), "ERR_INVALID_CHUNK 400");
  assert.equal(errorOf("request", CHUNKED_HEAD + "3\r\nabc\rd0\r\n\r\n"), "ERR_INVALID_CHUNK 400");
});

test("chunked trailers with invalid fields are rejected like header fields", () => {
  assert.equal(errorOf("request", CHUNKED_HEAD + "0\r\nBad Name: x\r\n\r\n"), "ERR_INVALID_HEADER 400");
  assert.equal(errorOf("request", CHUNKED_HEAD + "0\r\nX: a\r\n b\r\n\r\n"), "ERR_OBS_FOLD 400");
});

// ------------------------------------------------------- keep-alive

test("keep-alive follows HTTP/1.1 and HTTP/1.0 rules and the Connection options", () => {
  const cases: [string, string, boolean][] = [
    ["1.1", "", true],
    ["1.1", "Connection: close\r\n", false],
    ["1.1", "Connection: Keep-Alive, CLOSE\r\n", false],
    ["1.1", "Connection: keep-alive\r\n", true],
    ["1.0", "", false],
    ["1.0", "Connection: keep-alive\r\n", true],
    ["1.0", "Connection: foo\r\nConnection: Keep-Alive\r\n", true],
    ["1.0", "Connection: keep-alive, close\r\n", false],
  ];
  for (const [version, fields, keepAlive] of cases) {
    const head = requestHead(`GET / HTTP/${version}\r\nHost: a\r\n${fields}\r\n`);
    assert.equal(head.keepAlive, keepAlive, `${version} ${JSON.stringify(fields)}`);
  }
});

test("an HTTP/1.1 request with Upgrade and Connection: upgrade switches after its message", () => {
  const text =
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n\x81\x05hello";
  const head = requestHead(text);
  assert.equal(head.upgrade, true);
  assert.deepEqual(invariant("request", text).slice(1), ["end", "eof", "left \x81\x05hello"]);
  assert.equal(requestHead("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").upgrade, false);
  assert.equal(requestHead("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n").upgrade, false);
});

test("an upgrade request with a body reads the body before switching, and reset goes back to HTTP", () => {
  const text = "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nhi" + GET;
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  input.add(bytes(text));
  assert.deepEqual([parser.parse(input).type, parser.parse(input).type, parser.parse(input).type], [
    "head",
    "body",
    "end",
  ]);
  assert.equal(parser.state, "upgraded");
  assert.equal(parser.parse(input).type, "need_more");
  assert.equal(input.length, GET.length);
  parser.reset();
  const ev = parser.parse(input);
  assert.equal(ev.type === "head" && (ev.head as RequestHead).target, "/");
});

test("Expect: 100-continue is reported for HTTP/1.1 requests only", () => {
  assert.equal(
    requestHead("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").expectContinue,
    true,
  );
  assert.equal(
    requestHead("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").expectContinue,
    false,
  );
  assert.equal(requestHead("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n").expectContinue, false);
});

test("pipelined requests in one buffer come out one after the other", () => {
  const text = GET +
    "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
    CHUNKED_HEAD + "2\r\nde\r\n0\r\n\r\n" +
    "GET /c HTTP/1.0\r\n\r\n";
  const out = invariant("request", text);
  const kinds = out.map((line) => line.split(" ")[0]);
  assert.deepEqual(kinds, ["head", "end", "head", "body", "end", "head", "body", "end", "head", "end", "eof", "left"]);
  const targets = out.filter((l) => l.startsWith("head ")).map((l) => (JSON.parse(l.slice(5)) as RequestHead).target);
  assert.deepEqual(targets, ["/", "/b", "/upload", "/c"]);
});

// ----------------------------------------------------------- responses

test("a status line gives the status, the reason and the version", () => {
  const head = responseHead("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  assert.equal(head.kind, "response");
  assert.equal(head.status, 404);
  assert.equal(head.reason, "Not Found");
  assert.equal(head.versionMinor, 1);
  assert.equal(responseHead("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason, "");
  assert.equal(responseHead("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").reason, "");
  assert.equal(responseHead("HTTP/1.0 200 Tr\xe8s\tbien\r\nContent-Length: 0\r\n\r\n").reason, "Tr\xe8s\tbien");
});

test("a malformed status line is rejected with ERR_BAD_STATUS_LINE (502)", () => {
  for (
    const line of [
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 600 X",
      "HTTP/1.1 099 X",
      "HTTP/1.1 200OK",
      "HTTP/1.1  200 OK",
      "ICY 200 OK",
      "HTTP/1.1 OK",
      "HTTP/1 200 OK",
      "HTTP/1.1 200 a\x01b",
      "http/1.1 200 OK",
    ]
  ) {
    assert.equal(errorOf("response", `${line}\r\nContent-Length: 0\r\n\r\n`), "ERR_BAD_STATUS_LINE 502", line);
  }
  assert.equal(errorOf("response", "HTTP/2.0 200 OK\r\n\r\n"), "ERR_VERSION 502");
});

test("a response body read until close ends at eof", () => {
  const text = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\n\r\nis body";
  const head = responseHead(text);
  assert.equal(head.framing, "close");
  assert.equal(head.keepAlive, false);
  assert.deepEqual(invariant("response", text).slice(1), ["body all of this\r\n\r\nis body", "end", "left "]);
  assert.deepEqual(outcome("response", [bytes(text)], { eof: false }).slice(1), [
    "body all of this\r\n\r\nis body",
    "left ",
  ]);
});

test("responses to HEAD, and 204 and 304 responses, have no body whatever their headers say", () => {
  const head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  assert.deepEqual(invariant("response", head + "HTTP/1.1 200 OK\r\n", { method: "HEAD" }).slice(1), [
    "end",
    "error ERR_INCOMPLETE 502",
  ]);
  assert.equal(responseHead(head, { method: "HEAD" }).framing, "none");
  assert.equal(responseHead(head, { method: "HEAD" }).contentLength, 5);
  for (const status of ["204 No Content", "304 Not Modified"]) {
    const text = `HTTP/1.1 ${status}\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n`;
    assert.equal(errorOf("response", text), "ERR_SMUGGLING 502");
    const out = invariant(
      "response",
      `HTTP/1.1 ${status}\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx`,
    );
    assert.deepEqual(out.map((l) => l.split(" ")[0]), ["head", "end", "head", "body", "end", "eof", "left"]);
  }
});

test("a HEAD expectation lasts through 1xx responses until the final response ends", () => {
  const parser = new HttpParser("response");
  parser.expectResponseTo("HEAD");
  const input = new EvBuffer();
  input.addString("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
  input.addString("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody");
  const types: string[] = [];
  for (let ev = parser.parse(input); ev.type !== "need_more"; ev = parser.parse(input)) {
    types.push(ev.type === "head" ? `head ${(ev.head as ResponseHead).status} ${ev.head.framing}` : ev.type);
  }
  assert.deepEqual(types, [
    "head 100 none",
    "end",
    "head 103 none",
    "end",
    "head 200 none",
    "end",
    "head 200 length",
    "body",
    "end",
  ]);
});

test("a 101 response and a 2xx answer to CONNECT switch protocols and leave the rest untouched", () => {
  const ws = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00";
  assert.equal(responseHead(ws).upgrade, true);
  assert.deepEqual(invariant("response", ws).slice(1), ["end", "eof", "left \x81\x00"]);
  const tunnel = "HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03";
  assert.deepEqual(invariant("response", tunnel, { method: "CONNECT" }).slice(1), ["end", "eof", "left \x16\x03"]);
  assert.equal(
    responseHead("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n", { method: "CONNECT" }).upgrade,
    false,
  );
});

test("chunked and Content-Length responses keep the connection for the next response", () => {
  const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const out = invariant("response", text);
  assert.deepEqual(out.map((l) => l.split(" ")[0]), ["head", "body", "end", "head", "body", "end", "eof", "left"]);
  assert.equal((JSON.parse(out[0].slice(5)) as ResponseHead).keepAlive, true);
});

// ----------------------------------------------------------------- eof

test("eof between messages is a clean close and eof inside one is ERR_INCOMPLETE", () => {
  assert.deepEqual(whole("request", GET).slice(-2), ["eof", "left "]);
  assert.deepEqual(whole("request", "").slice(-2), ["eof", "left "]);
  assert.deepEqual(whole("request", "GET / HT"), ["error ERR_INCOMPLETE 400"]);
  assert.deepEqual(whole("request", "GET / HTTP/1.1\r\nHost: a\r\n"), ["error ERR_INCOMPLETE 400"]);
  assert.deepEqual(whole("request", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab").slice(1), [
    "body ab",
    "error ERR_INCOMPLETE 400",
  ]);
  assert.deepEqual(whole("request", CHUNKED_HEAD + "5\r\nab").slice(1), ["body ab", "error ERR_INCOMPLETE 400"]);
  assert.deepEqual(whole("request", CHUNKED_HEAD + "0\r\n").slice(1), ["error ERR_INCOMPLETE 400"]);
  assert.deepEqual(whole("response", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").slice(1), [
    "body ab",
    "error ERR_INCOMPLETE 502",
  ]);
});

test("eof on an unfinished line reports the error that line already shows", () => {
  assert.deepEqual(outcome("request", byteByByte(bytes("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"))), [
    "error ERR_INVALID_HEADER 400",
  ]);
  assert.deepEqual(outcome("request", byteByByte(bytes("GET / HTTP/1.1\r\nBad Name"))), [
    "error ERR_INVALID_HEADER 400",
  ]);
  assert.deepEqual(whole("request", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"), ["error ERR_INVALID_HEADER 400"]);
});

test("after an error the parser stays in the error state and repeats the error", () => {
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  input.addString("GET / HTTP/1.1\r\nHost : a\r\n\r\n" + GET);
  const first = parser.parse(input);
  assert.equal(first.type, "error");
  assert.equal(parser.state, "error");
  assert.equal(parser.parse(input), first);
  assert.equal(parser.eof(input), first);
  parser.reset();
  assert.equal(parser.state, "start_line");
});

// ---------------------------------------------------------- no copies

test("body events are views of the input's bytes, not copies", () => {
  const headText = bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n");
  const body = new Uint8Array(300).fill(120);
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  input.add(headText);
  input.add(body);
  assert.equal(parser.parse(input).type, "head");
  const ev = parser.parse(input);
  assert.equal(ev.type, "body");
  if (ev.type !== "body") return;
  assert.equal(ev.data.buffer, body.buffer);
  assert.equal(ev.data.length, 300);
  assert.equal(parser.parse(input).type, "end");
});

test("parseBodyInto moves body segments into the destination without copying", () => {
  const chunkA = new Uint8Array(400).fill(97);
  const chunkB = new Uint8Array(500).fill(98);
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  const dst = new EvBuffer();
  input.addString(CHUNKED_HEAD + "190\r\n");
  input.add(chunkA);
  input.addString("\r\n1f4\r\n");
  input.add(chunkB);
  input.addString("\r\n0\r\n\r\n");
  assert.equal(parser.parseBodyInto(input, dst).type, "head");
  assert.equal(parser.parseBodyInto(input, dst).type, "end");
  assert.equal(dst.length, 900);
  const views = dst.peek();
  assert.equal(views[0].buffer, chunkA.buffer);
  assert.equal(views[1].buffer, chunkB.buffer);
  assert.throws(() => parser.parseBodyInto(input, input), TypeError);
});

test("a line spread over a thousand one-byte segments is found without rescanning from its start", () => {
  const value = "v".repeat(1000);
  const text = bytes(`GET / HTTP/1.1\r\nHost: a\r\nX: ${value}\r\n\r\n`);
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  let head: RequestHead | null = null;
  for (const piece of byteByByte(text)) {
    input.addReference(piece);
    const ev = parser.parse(input);
    if (ev.type === "head") head = ev.head as RequestHead;
    else assert.equal(ev.type, "need_more");
  }
  assert.equal(head === null ? null : field(head.headers, "x"), value);
});

// -------------------------------------------------------------- limits

test("the default limits are documented in one constant", () => {
  assert.deepEqual({ ...DEFAULT_HTTP_PARSER_LIMITS }, {
    maxHeaderSize: 16384,
    maxHeaderCount: 100,
    maxRequestLineSize: 8192,
    maxBodySize: Infinity,
    maxChunkExtensionSize: 16384,
  });
  assert.ok(Object.isFrozen(DEFAULT_HTTP_PARSER_LIMITS));
  const parser = new HttpParser("request", { maxBodySize: 10 });
  assert.equal(parser.limits.maxBodySize, 10);
  assert.equal(parser.limits.maxHeaderSize, 16384);
  assert.equal(parser.kind, "request");
});

test("limits that are not integers >= 0 and unknown kinds are refused", () => {
  assert.throws(() => new HttpParser("request", { maxHeaderSize: -1 }), RangeError);
  assert.throws(() => new HttpParser("request", { maxHeaderCount: 1.5 }), RangeError);
  assert.throws(() => new HttpParser("request", { maxRequestLineSize: Infinity }), RangeError);
  assert.throws(() => new HttpParser("request", { maxBodySize: NaN }), RangeError);
  assert.doesNotThrow(() => new HttpParser("response", { maxBodySize: Infinity }));
  assert.throws(() => new HttpParser("both" as HttpParserKind), TypeError);
});

/** A request whose head is exactly `size` bytes. */
function headOfSize(size: number, lineEnd = "\r\n"): string {
  const fixed = `GET / HTTP/1.1${lineEnd}Host: a${lineEnd}X-Pad: ${lineEnd}${lineEnd}`.length;
  return `GET / HTTP/1.1${lineEnd}Host: a${lineEnd}X-Pad: ${"p".repeat(size - fixed)}${lineEnd}${lineEnd}`;
}

test("a header section of exactly 16 KiB is accepted and one byte more is ERR_HEADER_TOO_LARGE (431)", () => {
  assert.equal(headOfSize(16384).length, 16384);
  assert.equal(errorOf("request", headOfSize(16384)), null);
  assert.equal(errorOf("request", headOfSize(16385)), "ERR_HEADER_TOO_LARGE 431");
  assert.equal(errorOf("request", headOfSize(16384, "\n")), null);
  assert.equal(errorOf("request", headOfSize(16385, "\n")), "ERR_HEADER_TOO_LARGE 431");
});

test("the header size limit holds however the bytes arrive, and is found before the line ends", () => {
  const limits = { maxHeaderSize: 64 };
  assert.equal(errorOf("request", headOfSize(64), { limits }), null);
  assert.equal(invariant("request", headOfSize(65), { limits })[0], "error ERR_HEADER_TOO_LARGE 431");
  // A line that never ends is cut off once it passes the limit, without waiting for its LF.
  const endless = bytes("GET / HTTP/1.1\r\nHost: a\r\nX: " + "y".repeat(100));
  assert.deepEqual(outcome("request", byteByByte(endless), { limits, eof: false }), ["error ERR_HEADER_TOO_LARGE 431"]);
  assert.equal(
    errorOf("response", "HTTP/1.1 200 OK\r\nX: " + "y".repeat(100) + "\r\n\r\n", { limits }),
    "ERR_HEADER_TOO_LARGE 502",
  );
});

test("100 field lines are accepted and the 101st is ERR_TOO_MANY_HEADERS (431)", () => {
  const fields = (n: number): string => Array.from({ length: n - 1 }, (_, i) => `X-${i}: ${i}\r\n`).join("");
  assert.equal(requestHead(`GET / HTTP/1.1\r\nHost: a\r\n${fields(100)}\r\n`).headers.length, 200);
  assert.equal(errorOf("request", `GET / HTTP/1.1\r\nHost: a\r\n${fields(101)}\r\n`), "ERR_TOO_MANY_HEADERS 431");
  assert.equal(
    errorOf("request", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n", { limits: { maxHeaderCount: 1 } }),
    "ERR_TOO_MANY_HEADERS 431",
  );
});

test("a request line of exactly 8 KiB is accepted and one byte more is ERR_URI_TOO_LONG (414)", () => {
  const line = (n: number): string => `GET /${"a".repeat(n - 14)} HTTP/1.1`;
  assert.equal(line(8192).length, 8192);
  assert.equal(errorOf("request", `${line(8192)}\r\nHost: a\r\n\r\n`), null);
  assert.equal(errorOf("request", `${line(8192)}\nHost: a\r\n\r\n`), null);
  assert.equal(errorOf("request", `${line(8193)}\r\nHost: a\r\n\r\n`), "ERR_URI_TOO_LONG 414");
  const limits = { maxRequestLineSize: 20 };
  assert.equal(invariant("request", `${line(20)}\r\nHost: a\r\n\r\n`, { limits })[0].slice(0, 4), "head");
  assert.equal(invariant("request", `${line(21)}\r\nHost: a\r\n\r\n`, { limits })[0], "error ERR_URI_TOO_LONG 414");
  // A request line that never ends is refused as soon as it is too long.
  const endless = bytes("GET /" + "a".repeat(100));
  assert.deepEqual(outcome("request", byteByByte(endless), { limits, eof: false }), ["error ERR_URI_TOO_LONG 414"]);
  assert.equal(
    errorOf("response", "HTTP/1.1 200 " + "O".repeat(20) + "\r\n\r\n", { limits }),
    "ERR_HEADER_TOO_LARGE 502",
  );
});

test("a Content-Length at maxBodySize is accepted and one over is ERR_BODY_TOO_LARGE (413) at the head", () => {
  const limits = { maxBodySize: 5 };
  assert.deepEqual(
    whole("request", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", { limits }).slice(1, 3),
    ["body hello", "end"],
  );
  assert.deepEqual(whole("request", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n", { limits }), [
    "error ERR_BODY_TOO_LARGE 413",
  ]);
  assert.deepEqual(whole("response", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", { limits }), [
    "error ERR_BODY_TOO_LARGE 502",
  ]);
  assert.equal(
    responseHead("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", { limits, method: "HEAD" }).contentLength,
    6,
  );
});

test("a chunked body at maxBodySize is accepted and one byte over is ERR_BODY_TOO_LARGE (413)", () => {
  const limits = { maxBodySize: 5 };
  assert.deepEqual(invariant("request", CHUNKED_HEAD + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", { limits }).slice(1, 3), [
    "body abcde",
    "end",
  ]);
  assert.deepEqual(invariant("request", CHUNKED_HEAD + "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", { limits }).slice(1), [
    "body abc",
    "error ERR_BODY_TOO_LARGE 413",
  ]);
});

test("a body read until close at maxBodySize is accepted and one byte over is ERR_BODY_TOO_LARGE", () => {
  const limits = { maxBodySize: 5 };
  assert.deepEqual(invariant("response", "HTTP/1.1 200 OK\r\n\r\nhello", { limits }).slice(1), [
    "body hello",
    "end",
    "left ",
  ]);
  assert.deepEqual(invariant("response", "HTTP/1.1 200 OK\r\n\r\nhello!", { limits }).slice(1), [
    "body hello",
    "error ERR_BODY_TOO_LARGE 502",
  ]);
});

test("chunk extensions at maxChunkExtensionSize are accepted and one byte over is ERR_CHUNK_EXTENSION_TOO_LARGE (413)", () => {
  const limits = { maxChunkExtensionSize: 16 };
  const ext = (n: number): string => ";" + "e".repeat(n - 1);
  assert.equal(errorOf("request", `${CHUNKED_HEAD}1${ext(16)}\r\na\r\n0\r\n\r\n`, { limits }), null);
  assert.equal(
    invariant("request", `${CHUNKED_HEAD}1${ext(17)}\r\na\r\n0\r\n\r\n`, { limits })[1],
    "error ERR_CHUNK_EXTENSION_TOO_LARGE 413",
  );
  // The limit is for the whole message: 8 + 8 fits, 8 + 9 does not.
  assert.equal(errorOf("request", `${CHUNKED_HEAD}1${ext(8)}\r\na\r\n0${ext(8)}\r\n\r\n`, { limits }), null);
  assert.equal(
    errorOf("request", `${CHUNKED_HEAD}1${ext(8)}\r\na\r\n0${ext(9)}\r\n\r\n`, { limits }),
    "ERR_CHUNK_EXTENSION_TOO_LARGE 413",
  );
  // An extension that never ends is cut off at the limit.
  const endless = bytes(`${CHUNKED_HEAD}1;${"e".repeat(100)}`);
  assert.deepEqual(outcome("request", byteByByte(endless), { limits, eof: false }).slice(1), [
    "error ERR_CHUNK_EXTENSION_TOO_LARGE 413",
  ]);
});

test("trailers have their own size and count limits", () => {
  const limits = { maxHeaderSize: 80, maxHeaderCount: 2 };
  const text = (trailers: string): string => `${CHUNKED_HEAD}0\r\n${trailers}\r\n`;
  // The head is 62 bytes, under 80; the trailer section gets its own 80: a
  // 78-byte field line and the final CRLF fill it exactly.
  assert.equal(CHUNKED_HEAD.length, 62);
  assert.equal(errorOf("request", text("T: " + "t".repeat(73) + "\r\n"), { limits }), null);
  assert.equal(errorOf("request", text("T: " + "t".repeat(74) + "\r\n"), { limits }), "ERR_HEADER_TOO_LARGE 431");
  assert.equal(errorOf("request", text("A: 1\r\nB: 2\r\n"), { limits }), null);
  assert.equal(errorOf("request", text("A: 1\r\nB: 2\r\nC: 3\r\n"), { limits }), "ERR_TOO_MANY_HEADERS 431");
});

// ----------------------------------------------------------- HttpError

test("HttpError carries a code, a status and its name", () => {
  const err = new HttpError("ERR_SMUGGLING", "both framings");
  assert.ok(err instanceof Error);
  assert.equal(err.name, "HttpError");
  assert.equal(err.code, "ERR_SMUGGLING");
  assert.equal(err.status, 400);
  assert.equal(err.message, "both framings");
  assert.equal(new HttpError("ERR_HEADER_TOO_LARGE", "").status, 431);
  assert.equal(new HttpError("ERR_URI_TOO_LONG", "").status, 414);
  assert.equal(new HttpError("ERR_BODY_TOO_LARGE", "").status, 413);
  assert.equal(new HttpError("ERR_UNSUPPORTED_TRANSFER_ENCODING", "").status, 501);
  assert.equal(new HttpError("ERR_VERSION", "").status, 505);
  assert.equal(new HttpError("ERR_INVALID_HEADER", "", 502).status, 502);
});

test("error events carry an HttpError whose message says what was wrong", () => {
  const ev = events("request", "GET / HTTP/1.1\r\nHost : a\r\n\r\n")[0];
  assert.equal(ev.type, "error");
  if (ev.type !== "error") return;
  assert.ok(ev.error instanceof HttpError);
  assert.match(ev.error.message, /whitespace between a field name and the colon/);
});

test("a ten-field head split into two segments at every byte boundary parses the same", () => {
  const text = "GET /api/users?id=42 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11)\r\n" +
    "Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, br\r\n" +
    "Connection: keep-alive\r\nCache-Control: no-cache\r\nReferer: http://localhost:8080/\r\n" +
    "Cookie: a=1; b=2\r\nUpgrade-Insecure-Requests: 1\r\n\r\n";
  const data = bytes(text);
  const expected = invariant("request", data);
  assert.equal((JSON.parse(expected[0].slice(5)) as RequestHead).headers.length, 20);
  for (let at = 1; at < data.length; at++) {
    assert.deepEqual(outcome("request", cut(data, [at])), expected, `cut at ${at}`);
    assert.deepEqual(outcome("request", cut(data, [at]), { coalesce: true }), expected, `coalesced cut at ${at}`);
  }
});

test("the state field names where the parser stands through a message", () => {
  const parser = new HttpParser("request");
  const input = new EvBuffer();
  assert.equal(parser.state, "start_line");
  const step = (text: string): string => {
    input.addString(text);
    const seen: string[] = [];
    for (let ev = parser.parse(input);; ev = parser.parse(input)) {
      seen.push(`${ev.type}->${parser.state}`);
      if (ev.type === "need_more") return seen.join(", ");
    }
  };
  assert.equal(step("POST / HTTP/1.1\r\n"), "need_more->headers");
  assert.equal(step("Host: a\r\nContent-Length: 2\r\n\r\n"), "head->body_length, need_more->body_length");
  assert.equal(step("ab"), "body->message_done, end->start_line, need_more->start_line");
  assert.equal(step(CHUNKED_HEAD + "2\r\n"), "head->chunk_size, need_more->chunk_data");
  assert.equal(step("ab"), "body->chunk_data_end, need_more->chunk_data_end");
  assert.equal(step("\r\n0\r\n"), "need_more->trailers");
  assert.equal(step("T: 1\r\n\r\n"), "trailers->message_done, end->start_line, need_more->start_line");
});

test("expectResponseTo takes a method string", () => {
  const parser = new HttpParser("response");
  assert.throws(() => parser.expectResponseTo(undefined as unknown as string), TypeError);
  parser.expectResponseTo("HEAD");
});

// ------------------------------------------------------ split invariance

test("every message of a corpus parses the same whole, byte by byte and in random splits", () => {
  const corpus: [HttpParserKind, string, FeedOptions?][] = [
    ["request", GET + GET],
    ["request", "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
    ["request", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"],
    ["request", CHUNKED_HEAD + 'a;x="y"\r\n0123456789\r\n0\r\nA: b\r\n\r\n'],
    ["request", "GET / HTTP/1.1\r\nHost: a\r\nX: \xe9\xff\r\n\r\n"],
    ["request", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r"],
    ["request", "GET / HTTP/1.1\r\nHost: a\r\nX: y"],
    ["request", "GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n"],
    ["request", CHUNKED_HEAD + "5\r\nabc"],
    ["request", CHUNKED_HEAD + "5\r\nabcde\r"],
    ["response", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"],
    ["response", "HTTP/1.1 200 OK\r\n\r\nuntil close"],
    ["response", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n"],
    ["response", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", { method: "HEAD" }],
  ];
  for (const [kind, text, options] of corpus) invariant(kind, text, options);
});

test("parsers whose header and trailer sections are split across parse calls keep their own fields when interleaved", () => {
  // The parsers collect a section's fields in one array they share: one whose
  // section is unfinished when a call returns must keep its fields apart.
  const a = new HttpParser("request");
  const b = new HttpParser("request");
  const ia = new EvBuffer();
  const ib = new EvBuffer();
  const evA: ParseEvent<RequestHead>[] = [];
  const evB: ParseEvent<RequestHead>[] = [];
  const feed = (p: HttpParser<"request">, input: EvBuffer, text: string, out: ParseEvent<RequestHead>[]): void => {
    input.add(bytes(text));
    for (;;) {
      const ev = p.parse(input);
      if (ev.type === "need_more") return;
      out.push(ev);
      if (ev.type === "error") return;
    }
  };
  feed(a, ia, "GET /a HTTP/1.1\r\nHost: a.example\r\nX-One: 1\r\n", evA);
  feed(b, ib, "POST /b HTTP/1.1\r\nHost: b.example\r\nX-Two: 2\r\nX-Three: 3\r\n", evB);
  feed(a, ia, "X-Four: 4\r\n", evA);
  feed(b, ib, "Transfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nX-Trailer: t\r\n", evB);
  feed(a, ia, "Accept: */*\r\n\r\n", evA);
  // b is inside its trailer section while a's next head is read whole.
  feed(a, ia, "GET /c HTTP/1.1\r\nHost: c.example\r\nX-Five: 5\r\n\r\n", evA);
  feed(b, ib, "X-Trailer-2: u\r\n\r\n", evB);
  const heads = evA.filter((e) => e.type === "head").map((e) => (e as { head: RequestHead }).head);
  assert.deepEqual(heads.map((h) => [h.target, h.headers]), [
    ["/a", ["host", "a.example", "x-one", "1", "x-four", "4", "accept", "*/*"]],
    ["/c", ["host", "c.example", "x-five", "5"]],
  ]);
  const headB = evB.find((e) => e.type === "head") as { head: RequestHead };
  assert.deepEqual(headB.head.headers, [
    "host",
    "b.example",
    "x-two",
    "2",
    "x-three",
    "3",
    "transfer-encoding",
    "chunked",
  ]);
  const trailers = evB.find((e) => e.type === "trailers") as { headers: string[] };
  assert.deepEqual(trailers.headers, ["x-trailer", "t", "x-trailer-2", "u"]);
  assert.equal(evB[evB.length - 1].type, "end");
});
