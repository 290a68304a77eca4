// HttpParser benchmark: a typical browser GET with 10 header fields, parsed
// 1,000,000 times from an EvBuffer, the way a server drives the parser
// (add the bytes, parse until need_more: head, end, need_more). Prints one
// JSON line with requests/s.
//
//   deno run -A bench/http_parser.ts | bun bench/http_parser.ts | node bench/http_parser.ts
import { EvBuffer } from "../src/buffer/mod.ts";
import { HttpParser } from "../src/http/mod.ts";
import { browserGet } from "./http/browser_request.mjs";

const N = 1_000_000;
const WARMUP = 50_000;
const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";

const REQUEST = new TextEncoder().encode(browserGet("/api/users?id=42", "localhost:8080"));

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
