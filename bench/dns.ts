// DNS benchmark: queries per second of levent's resolver (DnsBase, cache off)
// beside Node's dns.Resolver (c-ares on Node; each runtime's node:dns
// elsewhere), both against one levent DnsServer (examples/dns-example.ts -s
// with a zone of 1,000 names) in its own process on the same runtime, over
// UDP, 1,000 names in flight at once. Each name is asked once, so no cache
// answers: half are in the zone, half get NXDOMAIN, and both count as
// answered. Prints one JSON line per pass and resolver, then the medians.
//
//   deno run -A bench/dns.ts | bun bench/dns.ts | node bench/dns.ts   [--seconds S] [--passes N]
//
// The server is pinned to CPU 0 with taskset when there is one; run this
// under `taskset -c 1` to put the resolvers on the other core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Resolver } from "node:dns";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { EventBase } from "../mod.ts";
import { DNS_ERR_NONE, DNS_ERR_NOTEXIST, DnsBase } from "../src/dns/mod.ts";

const g = globalThis as { Deno?: { execPath(): string }; Bun?: unknown };
const runtime = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("--seconds", 3);
const PASSES = arg("--passes", 3);
const NAMES = 1000;
const IN_FLIGHT = 1000;

function report(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ runtime, ...fields }));
}

// ------------------------------------------------------------ the server

const dir = mkdtempSync(join(tmpdir(), "levent-dns-bench-"));
const zonePath = join(dir, "zone.hosts");
const names = Array.from({ length: NAMES }, (_, i) => `n${i}.bench.test`);
writeFileSync(zonePath, names.map((n, i) => `10.0.${i >> 8}.${i & 255} ${n}\n`).join(""));

const example = fileURLToPath(new URL("../examples/dns-example.ts", import.meta.url));
const runtimeArgs = g.Deno !== undefined ? [g.Deno.execPath(), "run", "-A"] : [process.execPath];
const pin = spawnSync("taskset", ["--version"]).status === 0 ? ["taskset", "-c", "0"] : [];
const cmd = [...pin, ...runtimeArgs, example, "-s", "--port", "0", "--zone", zonePath];
const server = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise<number>((resolve, reject) => {
  let out = "";
  server.stdout!.on("data", (b: Uint8Array) => {
    out += new TextDecoder().decode(b);
    const m = out.match(/listening on dns:\/\/[^\s]+:(\d+)/);
    if (m) resolve(Number(m[1]));
  });
  server.on("exit", (code) => reject(new Error(`the DNS server exited (${code})`)));
  setTimeout(() => reject(new Error("the DNS server did not start in 20 s")), 20000);
});

// ------------------------------------------------------------ the resolvers

/** Keep IN_FLIGHT lookups outstanding for `seconds`: answers per second, and how many lookups failed. */
async function drive(
  seconds: number,
  lookup: (name: string) => Promise<boolean>,
): Promise<{ qps: number; failed: number }> {
  let done = 0;
  let failed = 0;
  let next = 0;
  let stop = false;
  const end = performance.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (!stop) {
      // Every name once: no resolver's cache answers (Bun's node:dns caches). Half are in the zone, half NXDOMAIN.
      const i = next++;
      if (await lookup(i & 1 ? `q${i}.${names[i % NAMES]}` : names[i % NAMES])) done++;
      else failed++;
      if (((done + failed) & 255) === 0 && performance.now() >= end) stop = true;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { qps: done / ((performance.now() - start) / 1000), failed };
}

async function levent(seconds = SECONDS): Promise<{ qps: number; failed: number }> {
  const base = new EventBase();
  const dns = new DnsBase(base, {
    nameservers: [`127.0.0.1:${port}`],
    cache: false,
    maxInflight: IN_FLIGHT,
    // A burst of 1,000 datagrams can overflow the server's receive buffer: retry soon, as the Resolver below does.
    timeoutMs: 500,
  });
  // An idle DnsBase does not keep the loop running, and the workers ask from Promise callbacks.
  const loop = base.loop({ noExitOnEmpty: true });
  try {
    return await drive(seconds, (name) =>
      new Promise<boolean>((resolve) => {
        dns.resolveIpv4(name, 0, (result) => resolve(result === DNS_ERR_NONE || result === DNS_ERR_NOTEXIST));
      }));
  } finally {
    dns.free();
    base.loopBreak();
    await loop;
  }
}

async function nodeResolver(seconds = SECONDS): Promise<{ qps: number; failed: number }> {
  const resolver = new Resolver({ timeout: 500, tries: 3 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return await drive(
    seconds,
    (name) =>
      new Promise<boolean>((resolve) =>
        resolver.resolve4(name, (err) => resolve(!err || (err as { code?: string }).code === "ENOTFOUND"))
      ),
  );
}

const results: Record<string, number[]> = { levent: [], "node:dns Resolver": [] };
try {
  // Warm-up (the JIT, the server's first answers), then interleaved passes.
  await levent(1);
  await nodeResolver(1);
  for (let pass = 1; pass <= PASSES; pass++) {
    for (const [name, run] of [["levent", levent], ["node:dns Resolver", nodeResolver]] as const) {
      const { qps, failed } = await run(SECONDS);
      results[name].push(qps);
      report({ case: "udp", resolver: name, pass, inFlight: IN_FLIGHT, qps: Math.round(qps), failed });
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ours = median(results.levent);
  const theirs = median(results["node:dns Resolver"]);
  report({
    case: "udp",
    summary: true,
    leventQps: Math.round(ours),
    nodeDnsQps: Math.round(theirs),
    ratio: Number((ours / theirs).toFixed(2)),
  });
} finally {
  server.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
