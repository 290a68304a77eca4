// HttpParser benchmark: a typical browser GET with 10 header fields, parsed
// 1,000,000 times from an EvBuffer, the way a server drives the parser
// (add the bytes, parse until need_more: head, end, need_more). Prints one
// JSON line with requests/s.
//
//   deno run -A bench/http_parser.ts | bun bench/http_parser.ts | node bench/http_parser.ts
import { EvBuffer } from "../src/buffer/mod.ts";
import { HttpParser } from "../src/http/mod.ts";

const N = 1_000_000;
const WARMUP = 50_000;
const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";

const REQUEST = new TextEncoder().encode(
  "GET /api/users?id=42 HTTP/1.1\r\n" +
    "Host: localhost:8080\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.9\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\n" +
    "Cache-Control: no-cache\r\n" +
    "Referer: http://localhost:8080/\r\n" +
    "Cookie: session=abc123; theme=dark\r\n" +
    "Upgrade-Insecure-Requests: 1\r\n" +
    "\r\n",
);

/** Parse `n` requests; returns the header fields seen, so the work cannot be optimised away. */
function run(parser: HttpParser<"request">, input: EvBuffer, n: number): number {
  let fields = 0;
  for (let i = 0; i < n; i++) {
    input.add(REQUEST);
    for (;;) {
      const ev = parser.parse(input);
      if (ev.type === "head") fields += ev.head.headers.length >> 1;
      else if (ev.type === "need_more") break;
      else if (ev.type === "error") throw ev.error;
    }
  }
  return fields;
}

const parser = new HttpParser("request");
const input = new EvBuffer();
run(parser, input, WARMUP);
const t0 = performance.now();
const fields = run(parser, input, N);
const seconds = (performance.now() - t0) / 1000;
if (fields !== N * 10) throw new Error(`expected ${N * 10} fields, saw ${fields}`);
console.log(JSON.stringify({
  runtime,
  case: "get-10-headers",
  requests: N,
  bytesPerRequest: REQUEST.length,
  seconds: Number(seconds.toFixed(3)),
  requestsPerSec: Math.round(N / seconds),
}));
