// RPC benchmark. Prints one JSON line per case.
//
//   deno run -A bench/rpc.ts | bun bench/rpc.ts | node bench/rpc.ts   [--seconds S]
//
// Cases:
// - codec: encode then decode libevent's regress `msg` (test/regress.rpc)
//   carrying an attack and 10 `run` entries (each with bytes, 24 fixed bytes,
//   two notes, an int64 and three ints), per second; beside it the same
//   value through JSON.stringify + JSON.parse (bytes as arrays, the int64 as
//   a string), the usual way JavaScript ships structures.
// - roundtrip: RPC calls per second of `Message` (msg -> kill) over 8 pooled
//   keep-alive connections, 8 calls in flight, against examples/rpc-server.ts
//   in its own process on the same runtime (pinned to CPU 0 with taskset
//   when there is one; run this under `taskset -c 1` to put the client on
//   the other core).
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { EventBase, HttpConnection } from "../mod.ts";
import { type RpcInput, RpcPool } from "../src/rpc/mod.ts";
import { Message, msg } from "../examples/lib/regress_rpc.ts";

const g = globalThis as { Deno?: { execPath(): string }; Bun?: unknown };
const runtime = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";
const secondsArg = process.argv.indexOf("--seconds");
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;

function report(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ runtime, ...fields }));
}

// ------------------------------------------------------------ codec

const value: RpcInput<typeof msg.fields> = {
  from_name: "niels",
  to_name: "tester",
  attack: { weapon: "dagger", action: "wave around like an idiot", how_often: [1, 2, 3] },
  run: Array.from({ length: 10 }, (_, i) => ({
    how: `run number ${i}`,
    some_bytes: Uint8Array.from({ length: 16 }, (_, k) => k * i),
    fixed_bytes: Uint8Array.from({ length: 24 }, (_, k) => k + i),
    notes: ["a note", `note ${i}`],
    large_number: 0x123456789abcn * BigInt(i + 1),
    other_numbers: [i, i * 1000, i * 1_000_000],
  })),
};

function timed(fn: () => void): { ops: number; seconds: number } {
  const warm = Date.now() + 500;
  while (Date.now() < warm) fn();
  let ops = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
    now = performance.now();
  }
  return { ops, seconds: (now - start) / 1000 };
}

const encoded = msg.encode(value);
let sink = 0;
const codec = timed(() => {
  const bytes = msg.encode(value);
  sink += msg.decode(bytes).run.length;
});
report({
  case: "codec",
  what: "msg with 10 runs: encode + decode",
  bytes: encoded.length,
  opsPerSec: Math.round(codec.ops / codec.seconds),
  mbPerSec: +((codec.ops * encoded.length) / codec.seconds / 1e6).toFixed(1),
});

const jsonValue = JSON.stringify(
  value,
  (_k, v) => typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v,
);
const json = timed(() => {
  const text = JSON.stringify(
    value,
    (_k, v) => typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v,
  );
  sink += (JSON.parse(text) as { run: unknown[] }).run.length;
});
report({
  case: "codec-json",
  what: "the same value: JSON.stringify + JSON.parse",
  bytes: jsonValue.length,
  opsPerSec: Math.round(json.ops / json.seconds),
  evtagOverJson: +((codec.ops / codec.seconds) / (json.ops / json.seconds)).toFixed(2),
});

// ------------------------------------------------------------ round trips

function serverCommand(): string[] {
  const example = fileURLToPath(new URL("../examples/rpc-server.ts", import.meta.url));
  const exec = g.Deno !== undefined ? [g.Deno.execPath(), "run", "-A"] : [process.execPath];
  const cmd = [...exec, example, "--port", "0"];
  const taskset = spawnSync("taskset", ["--version"]);
  return taskset.status === 0 ? ["taskset", "-c", "0", ...cmd] : cmd;
}

async function roundTrips(): Promise<void> {
  const [cmd, ...args] = serverCommand();
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (b: Uint8Array) => {
        out += new TextDecoder().decode(b);
        const m = out.match(/listening on http:\/\/[^:]+:(\d+)/);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", () => reject(new Error(`the server exited: ${out}`)));
    });
    const base = new EventBase();
    const pool = new RpcPool(base);
    const CONNECTIONS = 8;
    for (let i = 0; i < CONNECTIONS; i++) pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port }));
    const request = { from_name: "niels", to_name: "tester" };
    let done = 0;
    let failed = 0;
    let measuring = false;
    let stopAt = Infinity;
    const warmUntil = performance.now() + 1000;
    let start = 0;
    const next = (): void => {
      if (performance.now() >= stopAt) return;
      pool.makeRequest(Message, request, (status) => {
        if (status.error !== "none") failed++;
        const now = performance.now();
        if (!measuring && now >= warmUntil) {
          measuring = true;
          start = now;
          stopAt = now + SECONDS * 1000;
        } else if (measuring && now < stopAt) {
          done++;
        }
        next();
      });
    };
    for (let i = 0; i < CONNECTIONS; i++) next();
    await base.dispatch();
    const seconds = (stopAt - start) / 1000;
    report({
      case: "roundtrip",
      what: `Message calls over ${CONNECTIONS} pooled connections, ${CONNECTIONS} in flight`,
      callsPerSec: Math.round(done / seconds),
      failed,
    });
    pool.free();
  } finally {
    child.kill("SIGTERM");
  }
}

await roundTrips();
if (sink < 0) console.log(sink);
