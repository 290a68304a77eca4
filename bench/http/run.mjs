// HTTP hello-world benchmark: levent's HttpServer, its fetch-style serve()
// and a Hono app on serve(), beside the runtime's own server, the same Hono
// app on it, and a raw-TCP ceiling, on each runtime, with wrk (Debian package),
// following ../../../shared/BENCH.md: server pinned to CPU 0, wrk to CPU 1,
// a fresh server per sample, 2 s warm-up, 8 s measured, servers interleaved,
// several passes; medians, min-max and ratios in the same run.
//
//   node bench/http/run.mjs [--passes 3] [--duration 8] [--runtimes deno,bun,node] [--pipeline]
//                           [--servers levent,browser,bev,native,raw,serve,hono,hono-native]
//
// `browser` is levent's HttpServer again, sent a browser-like GET (the 10
// fields and cookie of browser_request.mjs, as wrk -H lines) instead of
// wrk's minimal one: the "browser / minimal" column.
// `bev` is levent's socket layer alone (bev_server.ts): its column shows how
// much of the gap to the raw ceiling is below the HTTP layer. `serve` is
// serve() with a hello-world handler (serve_server.ts), `hono` the Hono app
// of hono_app.ts on serve() (hono_server.ts), `hono-native` the same app on
// Deno.serve, Bun.serve or @hono/node-server (hono_native_server.ts).
//
// Writes bench/results/http-<timestamp>.json and prints a Markdown table.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { browserGet } from "./browser_request.mjs";
import { median, passOptions, ROOT, startListening, thousands as k } from "../runner.mjs";

const { values } = parseArgs({
  options: {
    ...passOptions(64),
    runtimes: { type: "string", default: "deno,bun,node" },
    servers: { type: "string", default: "levent,browser,bev,native,raw,serve,hono,hono-native" },
    pipeline: { type: "boolean", default: false },
  },
});
const passes = Number(values.passes);
const runtimes = values.runtimes.split(",");
const servers = values.servers.split(",");
const FILES = {
  levent: "levent_server.ts",
  browser: "levent_server.ts",
  bev: "bev_server.ts",
  native: "native_server.ts",
  raw: "raw_server.ts",
  serve: "serve_server.ts",
  hono: "hono_server.ts",
  "hono-native": "hono_native_server.ts",
};
if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is not installed (Debian: apt-get install wrk)");
  process.exit(1);
}

function startServer(runtime, server) {
  const file = join(ROOT, "bench", "http", FILES[server]);
  return startListening({ runtime, file, args: ["0"], cpus: "0", what: `${runtime}/${server}` });
}

/** The browser-like GET's fields as wrk -H arguments (wrk sends Host itself). */
const BROWSER_FIELDS = browserGet("/hello", "127.0.0.1").split("\r\n").slice(2).filter((l) => l !== "")
  .flatMap((line) => ["-H", line]);

function wrk(port, seconds, browser) {
  const args = ["-c", "1", "wrk", "-t1", `-c${values.connections}`, `-d${seconds}s`, "--latency"];
  if (browser) args.push(...BROWSER_FIELDS);
  if (values.pipeline) args.push("-s", join(ROOT, "bench", "http", "pipeline.lua"));
  args.push(`http://127.0.0.1:${port}/hello`);
  const r = spawnSync("taskset", args, { encoding: "utf8" });
  const rps = Number(r.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const errors = r.stdout.match(/Non-2xx or 3xx responses: (\d+)|Socket errors: .*/g) ?? [];
  return { rps, errors, p99: r.stdout.match(/99%\s+(\S+)/)?.[1] };
}

const samples = {};
for (let pass = 1; pass <= passes; pass++) {
  for (const runtime of runtimes) {
    for (const server of servers) {
      const { child, port } = await startServer(runtime, server);
      wrk(port, Number(values.warmup), server === "browser");
      const r = wrk(port, Number(values.duration), server === "browser");
      child.kill("SIGKILL");
      await new Promise((res) => child.once("exit", res));
      const key = `${runtime}/${server}`;
      (samples[key] ??= []).push(r.rps);
      console.error(
        `pass ${pass} ${key}: ${r.rps.toFixed(0)} req/s p99 ${r.p99}${
          r.errors.length ? " " + r.errors.join("; ") : ""
        }`,
      );
    }
  }
}

const lines = [
  `| runtime | levent req/s (min-max) | runtime's own server | raw TCP ceiling | levent / own | levent / raw | socket layer / raw | browser-like (min-max) | browser / minimal |`,
  `|---|---|---|---|---|---|---|---|---|`,
];
for (const runtime of runtimes) {
  const m = (s) => samples[`${runtime}/${s}`] ? median(samples[`${runtime}/${s}`]) : NaN;
  const range = (s) =>
    samples[`${runtime}/${s}`]
      ? `${k(Math.min(...samples[`${runtime}/${s}`]))}-${k(Math.max(...samples[`${runtime}/${s}`]))}`
      : "";
  lines.push(
    `| ${runtime} | ${k(m("levent"))} (${range("levent")}) | ${k(m("native"))} (${range("native")}) | ${k(m("raw"))} (${
      range("raw")
    }) | ${(m("levent") / m("native")).toFixed(2)} | ${(m("levent") / m("raw")).toFixed(2)} | ${
      (m("bev") / m("raw")).toFixed(2)
    } | ${k(m("browser"))} (${range("browser")}) | ${(m("browser") / m("levent")).toFixed(2)} |`,
  );
}
if (servers.includes("serve") || servers.includes("hono")) {
  lines.push(
    "",
    `| runtime | serve() req/s (min-max) | serve() / own | Hono on levent (min-max) | Hono on own server (min-max) | Hono levent / own |`,
    `|---|---|---|---|---|---|`,
  );
  for (const runtime of runtimes) {
    const m = (s) => samples[`${runtime}/${s}`] ? median(samples[`${runtime}/${s}`]) : NaN;
    const cell = (s) => {
      const xs = samples[`${runtime}/${s}`];
      return xs ? `${k(m(s))} (${k(Math.min(...xs))}-${k(Math.max(...xs))})` : "";
    };
    lines.push(
      `| ${runtime} | ${cell("serve")} | ${(m("serve") / m("native")).toFixed(2)} | ${cell("hono")} | ${
        cell("hono-native")
      } | ${(m("hono") / m("hono-native")).toFixed(2)} |`,
    );
  }
}
console.log(lines.join("\n"));
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
const file = join(ROOT, "bench", "results", `http-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ values, samples }, null, 2));
console.error(`samples: ${file}`);
