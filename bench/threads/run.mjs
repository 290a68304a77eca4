// Many cores: examples/http-server.ts `GET /hello` with --workers 1 and
// --workers 2, on each runtime, plain and pipelined, under wrk (Debian
// package). BENCH.md's method, except where the server runs: wrk is pinned
// to CPU 1 and the server may use both CPUs (with one CPU it could not use a
// second thread at all). On a 2-core machine raw throughput cannot double
// while wrk needs a core, so besides req/s this reports requests per server
// CPU-second: the server process's utime + stime (all its threads, from
// /proc/PID/stat) over the measured seconds. The goal (issue 18): 2 workers
// keep >= 0.9x the requests per CPU-second of 1 (no lock or message on the
// request path), and pipelined req/s with 2 workers >= 1.3x of 1.
//
//   node bench/threads/run.mjs [--passes 3] [--duration 8] [--warmup 2] [--runtimes deno,bun,node]
//                              [--workers 1,2] [--modes plain,pipelined] [--connections 64]
//
// A fresh server per sample; the configurations are interleaved within each
// pass. Writes bench/results/threads-<timestamp>.json and prints a Markdown
// table: median (min-max) req/s and req/CPU-s, and the 2-worker/1-worker ratios.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { median, passOptions, ROOT, startListening, thousands as k } from "../runner.mjs";

const { values } = parseArgs({
  options: {
    ...passOptions(64),
    runtimes: { type: "string", default: "deno,bun,node" },
    workers: { type: "string", default: "1,2" },
    modes: { type: "string", default: "plain,pipelined" },
  },
});
const passes = Number(values.passes);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const runtimes = values.runtimes.split(",");
const workerCounts = values.workers.split(",").map(Number);
const modes = values.modes.split(",");
/** Clock ticks per second, for /proc/PID/stat's utime and stime. */
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is not installed (Debian: apt-get install wrk)");
  process.exit(1);
}

function startServer(runtime, workers) {
  const file = join(ROOT, "examples", "http-server.ts");
  return startListening({
    runtime,
    file,
    args: ["--port", "0", "--workers", String(workers)],
    cpus: "0,1",
    what: `${runtime} --workers ${workers}`,
  });
}

/** CPU seconds (user + system, every thread) the process `pid` has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces, inside parentheses): utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** The server's pid: taskset execs the runtime, so it is the child's own. */
function wrk(port, seconds, pipelined) {
  const args = ["-c", "1", "wrk", "-t1", `-c${values.connections}`, `-d${seconds}s`];
  if (pipelined) args.push("-s", join(ROOT, "bench", "http", "pipeline.lua"));
  args.push(`http://127.0.0.1:${port}/hello`);
  const r = spawnSync("taskset", args, { encoding: "utf8" });
  const rps = Number(r.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const requests = Number(r.stdout.match(/(\d+) requests in/)?.[1] ?? NaN);
  const errors = r.stdout.match(/Non-2xx or 3xx responses: (\d+)|Socket errors: .*/g) ?? [];
  return { rps, requests, errors };
}

async function stopServer(child) {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
  await exited;
  clearTimeout(timer);
}

const samples = {};
for (let pass = 1; pass <= passes; pass++) {
  for (const runtime of runtimes) {
    for (const mode of modes) {
      for (const workers of workerCounts) {
        const key = `${runtime} ${mode} ${workers}`;
        const { child, port } = await startServer(runtime, workers);
        try {
          wrk(port, warmup, mode === "pipelined");
          const cpu0 = cpuSeconds(child.pid);
          const r = wrk(port, duration, mode === "pipelined");
          const cpu = cpuSeconds(child.pid) - cpu0;
          const perCpu = r.requests / cpu;
          (samples[key] ??= []).push({ rps: r.rps, perCpu, cpu, errors: r.errors });
          console.error(
            `pass ${pass} ${key}: ${Math.round(r.rps)} req/s, ${Math.round(perCpu)} req/CPU-s (${
              cpu.toFixed(1)
            } CPU-s)${r.errors.length ? " " + r.errors.join("; ") : ""}`,
          );
        } finally {
          await stopServer(child);
        }
      }
    }
  }
}

const cell = (xs) => `${k(median(xs))} (${k(Math.min(...xs))}-${k(Math.max(...xs))})`;
const lines = [
  "| runtime | mode | workers | req/s | req/CPU-s | req/s vs 1 worker | req/CPU-s vs 1 worker |",
  "| ------- | ---- | ------- | ----- | --------- | ----------------- | --------------------- |",
];
for (const runtime of runtimes) {
  for (const mode of modes) {
    const one = samples[`${runtime} ${mode} 1`];
    for (const workers of workerCounts) {
      const s = samples[`${runtime} ${mode} ${workers}`];
      if (s === undefined) continue;
      const rps = s.map((x) => x.rps);
      const perCpu = s.map((x) => x.perCpu);
      const vs = (f) => one === undefined ? "" : (median(s.map(f)) / median(one.map(f))).toFixed(2);
      lines.push(
        `| ${runtime} | ${mode} | ${workers} | ${cell(rps)} | ${cell(perCpu)} | ${vs((x) => x.rps)} | ${
          vs((x) => x.perCpu)
        } |`,
      );
    }
  }
}
console.log(lines.join("\n"));
const dir = join(ROOT, "bench", "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `threads-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ values, samples }, null, 2) + "\n");
console.error(`wrote ${file}`);
