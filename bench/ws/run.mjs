// WebSocket echo benchmark: levent's server on each runtime beside `ws` on
// Node 26, Bun.serve and Deno.serve, one load client for all (bench/ws/load.ts
// on Bun), following ../../../shared/BENCH.md: server on CPU 0, load on CPU 1,
// a fresh server per sample, warm-up, servers interleaved, several passes.
//
//   node bench/ws/run.mjs [--passes 3] [--duration 8] [--cases small,large] [--deflate]
//
// small: 32-byte text, large: 64 KiB binary; 32 connections, one message in flight each.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BIN, median, passOptions, ROOT, startListening, thousands } from "../runner.mjs";

const { values } = parseArgs({
  options: {
    ...passOptions(32),
    cases: { type: "string", default: "small,large" },
    servers: { type: "string", default: "levent-deno,levent-bun,levent-node,ws-node,native-bun,native-deno" },
    deflate: { type: "boolean", default: false },
  },
});
const CASES = { small: [32, "text"], large: [65536, "binary"] };
const FILE = { levent: "levent_server.ts", ws: "ws_server.mjs", native: "native_server.ts" };

function start(server) {
  const [kind, runtime] = server.split("-");
  const file = join(ROOT, "bench", "ws", FILE[kind]);
  const args = ["0", ...(values.deflate ? ["--deflate"] : [])];
  return startListening({ runtime, file, args, cpus: "0", what: server });
}

function load(port, [size, kind]) {
  const r = spawnSync("taskset", [
    "-c",
    "1",
    join(BIN, "bun"),
    join(ROOT, "bench", "ws", "load.ts"),
    `ws://127.0.0.1:${port}/`,
    values.connections,
    values.duration,
    values.warmup,
    String(size),
    kind,
  ], { encoding: "utf8" });
  const line = r.stdout.trim().split("\n").pop();
  try {
    return JSON.parse(line);
  } catch {
    return { msgs: NaN, mbps: NaN, error: r.stderr.slice(0, 200) };
  }
}

const servers = values.servers.split(",");
const cases = values.cases.split(",");
const samples = {};
for (let pass = 1; pass <= Number(values.passes); pass++) {
  for (const c of cases) {
    for (const server of servers) {
      const { child, port } = await start(server);
      const r = load(port, CASES[c]);
      child.kill("SIGKILL");
      await new Promise((res) => child.once("exit", res));
      (samples[`${c} ${server}`] ??= []).push(r);
      console.error(`pass ${pass} ${c} ${server}: ${r.msgs.toFixed(0)} msgs/s ${r.mbps.toFixed(1)} MB/s`);
    }
  }
}
console.log("| case | server | msgs/s median (min-max) | MB/s median |");
console.log("|---|---|---|---|");
for (const [key, rs] of Object.entries(samples)) {
  const [c, server] = key.split(" ");
  const m = rs.map((r) => r.msgs);
  console.log(
    `| ${c} | ${server} | ${thousands(median(m))} (${thousands(Math.min(...m))}-${thousands(Math.max(...m))}) | ${
      median(rs.map((r) => r.mbps)).toFixed(0)
    } |`,
  );
}
