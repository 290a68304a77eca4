// HTTP client benchmark: levent's HttpConnection (callbacks, libevent's
// way), request() (Promises) and fetch() (the runtime's Response, through an
// HttpClientPool) against the runtime's own fetch (and, on Node, undici's
// own request API on a keep-alive Pool, its fastest, and undici's fetch on
// an Agent), on one fast local server (bench/http/raw_server.ts run by the
// toolchain's Node, pinned to CPU 0 when taskset exists), same run.
// Sequential GETs on one keep-alive connection, then 32 concurrent
// keep-alive loops. Each body is read whole (arrayBuffer()) every time.
//
//   deno run -A bench/http_client.ts | bun bench/http_client.ts | node bench/http_client.ts
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { autoPlatform } from "../adapters/auto.ts";
import { EventBase, fetch as leventFetch, HttpClientPool, HttpClientRequest, HttpConnection, request } from "../mod.ts";

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

/** `loops` Promise chains sharing `total` calls of `one`; the milliseconds they took. */
async function chains(total: number, loops: number, one: () => Promise<void>): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: loops }, async () => {
    while (started < total) {
      started++;
      await one();
    }
  }));
  return performance.now() - t0;
}

/** levent's fetch() through a pool of its own, up to `loops` connections. */
async function viaLeventFetch(total: number, loops: number): Promise<number> {
  const pool = new HttpClientPool({ base: new EventBase({ platform }), maxConnectionsPerOrigin: loops });
  const ms = await chains(total, loops, async () => {
    const res = await leventFetch(url, { pool });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  });
  pool.close();
  return ms;
}

/** undici's fetch on an Agent of `loops` connections per origin (Node only: null elsewhere). */
async function viaUndiciFetch(total: number, loops: number): Promise<number | null> {
  if (platform.name !== "node") return null;
  const { Agent, fetch: undiciFetch } = await import("undici");
  const dispatcher = new Agent({ connections: loops });
  const ms = await chains(total, loops, async () => {
    const res = await undiciFetch(url, { dispatcher });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  });
  await dispatcher.close();
  return ms;
}

/** undici.request on a Pool of `loops` keep-alive connections (Node only: null elsewhere). */
async function viaUndici(total: number, loops: number): Promise<number | null> {
  if (platform.name !== "node") return null;
  const { Pool } = await import("undici");
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: loops });
  const ms = await chains(total, loops, async () => {
    const res = await pool.request({ path: "/hello", method: "GET" });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    await res.body.arrayBuffer();
  });
  await pool.close();
  return ms;
}

/** The runtime's own fetch. */
function viaFetch(total: number, loops: number): Promise<number> {
  return chains(total, loops, async () => {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  });
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
    levent_fetch_rps: rps(ms.leventFetch),
    fetch_rps: rps(ms.fetch),
    undici_rps: rps(ms.undici),
    undici_fetch_rps: rps(ms.undiciFetch),
    callbacks_vs_fetch: ratio(ms.fetch, ms.callbacks),
    request_vs_fetch: ratio(ms.fetch, ms.request),
    levent_fetch_vs_fetch: ratio(ms.fetch, ms.leventFetch),
    callbacks_vs_undici: ratio(ms.undici, ms.callbacks),
    request_vs_undici: ratio(ms.undici, ms.request),
    levent_fetch_vs_undici: ratio(ms.undici, ms.leventFetch),
    levent_fetch_vs_undici_fetch: ratio(ms.undiciFetch, ms.leventFetch),
  }));
}

for (let round = 0; round < 2; round++) {
  // Warm-up pass first (JIT, connection pools), then the measured one.
  for (const [name, n, loops] of [["sequential", SEQUENTIAL, 1], ["32 concurrent", CONCURRENT, LOOPS]] as const) {
    const ms = {
      callbacks: await leventCallbacks(n, loops),
      request: await leventRequest(n, loops),
      leventFetch: await viaLeventFetch(n, loops),
      fetch: await viaFetch(n, loops),
      undici: await viaUndici(n, loops),
      undiciFetch: await viaUndiciFetch(n, loops),
    };
    if (round === 1) report(name, n, ms);
  }
}
server.kill("SIGKILL");
process.exit(0);
