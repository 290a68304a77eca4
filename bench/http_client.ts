// HTTP client benchmark: levent's HttpConnection (callbacks, libevent's
// way) and request() (Promises) against the runtime's own fetch (and, on
// Node, undici's own request API on a keep-alive Pool, its fastest), on one
// fast local server (bench/http/raw_server.ts run by the toolchain's Node,
// pinned to CPU 0 when taskset exists), same run. Sequential GETs on one
// keep-alive connection, then 32 concurrent keep-alive loops.
//
//   deno run -A bench/http_client.ts | bun bench/http_client.ts | node bench/http_client.ts
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { autoPlatform } from "../adapters/auto.ts";
import { EventBase, HttpClientRequest, HttpConnection, request } from "../mod.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? "10000");
const CONCURRENT = Number(process.env.CONCURRENT ?? "30000");
const LOOPS = 32;
const platform = autoPlatform();

const server = spawn("taskset", [
  "-c",
  "0",
  join(ROOT, "node_modules", ".bin", "node"),
  join(ROOT, "bench", "http", "raw_server.ts"),
  "0",
], {
  stdio: ["ignore", "pipe", "inherit"],
});
const port = await new Promise<number>((resolve) => {
  let out = "";
  server.stdout!.on("data", (b: Uint8Array) => {
    out += new TextDecoder().decode(b);
    const m = out.match(/:(\d+)\n/);
    if (m) resolve(Number(m[1]));
  });
});
const url = `http://127.0.0.1:${port}/hello`;

/** `loops` chains of levent callback requests sharing `total`, one connection each. */
function leventCallbacks(total: number, loops: number): Promise<number> {
  const base = new EventBase({ platform });
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  for (let i = 0; i < loops; i++) {
    const conn = new HttpConnection(base, { host: "127.0.0.1", port });
    const next = (): void => {
      if (started === total) {
        conn.free();
        return;
      }
      started++;
      const req = new HttpClientRequest((r) => {
        if (r.responseCode !== 200) throw new Error(`status ${r.responseCode}`);
        done++;
        next();
      });
      conn.makeRequest(req, "GET", "/hello");
    };
    next();
  }
  return base.dispatch().then(() => {
    if (done !== total) throw new Error(`${done} of ${total} done`);
    return performance.now() - t0;
  });
}

/** The same with request() and a shared connection per loop. */
async function leventRequest(total: number, loops: number): Promise<number> {
  const base = new EventBase({ platform });
  let started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: loops }, async () => {
    const connection = new HttpConnection(base, { host: "127.0.0.1", port });
    while (started < total) {
      started++;
      const res = await request(url, { base, connection });
      await res.bytes();
    }
    connection.free();
  }));
  return performance.now() - t0;
}

/** undici.request on a Pool of `loops` keep-alive connections (Node only: null elsewhere). */
async function viaUndici(total: number, loops: number): Promise<number | null> {
  if (platform.name !== "node") return null;
  const { Pool } = await import("undici");
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: loops });
  let started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: loops }, async () => {
    while (started < total) {
      started++;
      const res = await pool.request({ path: "/hello", method: "GET" });
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      await res.body.arrayBuffer();
    }
  }));
  const ms = performance.now() - t0;
  await pool.close();
  return ms;
}

async function viaFetch(total: number, loops: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: loops }, async () => {
    while (started < total) {
      started++;
      const res = await fetch(url);
      await res.arrayBuffer();
    }
  }));
  return performance.now() - t0;
}

function report(name: string, n: number, ms: Record<string, number | null>): void {
  const rps = (x: number | null): number | undefined => x === null ? undefined : Math.round(n / x * 1000);
  const ratio = (a: number | null, b: number | null): number | undefined =>
    a === null || b === null ? undefined : Number((a / b).toFixed(2));
  console.log(JSON.stringify({
    runtime: platform.name,
    case: name,
    requests: n,
    levent_callbacks_rps: rps(ms.callbacks),
    levent_request_rps: rps(ms.request),
    fetch_rps: rps(ms.fetch),
    undici_rps: rps(ms.undici),
    callbacks_vs_fetch: ratio(ms.fetch, ms.callbacks),
    request_vs_fetch: ratio(ms.fetch, ms.request),
    callbacks_vs_undici: ratio(ms.undici, ms.callbacks),
    request_vs_undici: ratio(ms.undici, ms.request),
  }));
}

for (let round = 0; round < 2; round++) {
  // Warm-up pass first (JIT, connection pools), then the measured one.
  for (const [name, n, loops] of [["sequential", SEQUENTIAL, 1], ["32 concurrent", CONCURRENT, LOOPS]] as const) {
    const ms = {
      callbacks: await leventCallbacks(n, loops),
      request: await leventRequest(n, loops),
      fetch: await viaFetch(n, loops),
      undici: await viaUndici(n, loops),
    };
    if (round === 1) report(name, n, ms);
  }
}
server.kill("SIGKILL");
process.exit(0);
