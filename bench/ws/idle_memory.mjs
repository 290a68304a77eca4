// Memory per idle WebSocket connection: open N WebSockets to an echo server,
// exchange one 2 KiB message on each (compressed when permessage-deflate was
// agreed), let them sit idle, and compare the server's resident memory
// before and after: levent on each runtime beside `ws` on Node, Bun.serve and
// Deno.serve, with and without permessage-deflate.
//
//   node bench/ws/idle_memory.mjs [--connections 1000] [--servers levent-deno,...]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WS from "ws";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "node_modules", ".bin");
const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "1000" },
    servers: { type: "string", default: "levent-deno,levent-bun,levent-node,ws-node,native-bun,native-deno" },
  },
});
const N = Number(values.connections);
const RUN = { deno: [join(BIN, "deno"), "run", "-A"], bun: [join(BIN, "bun")], node: [join(BIN, "node")] };
const FILE = { levent: "levent_server.ts", ws: "ws_server.mjs", native: "native_server.ts" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = (pid) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;

async function start(server, deflate) {
  const [kind, runtime] = server.split("-");
  const [cmd, ...args] = RUN[runtime];
  const child = spawn(cmd, [...args, join(ROOT, "bench", "ws", FILE[kind]), "0", ...(deflate ? ["--deflate"] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise((resolve, reject) => {
    child.stdout.on("data", (b) => {
      out += b;
      const m = out.match(/listening on ws:\/\/[^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", () => reject(new Error(out)));
  });
  return { child, port };
}

const payload = "levent ".repeat(300);
function openOne(port, deflate) {
  return new Promise((resolve, reject) => {
    const ws = new WS(`ws://127.0.0.1:${port}/`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    ws.once("open", () => ws.send(payload));
    ws.once("message", () => resolve(ws));
    ws.once("error", reject);
  });
}

console.log("| server | deflate | RSS per idle WebSocket |");
console.log("|---|---|---|");
for (const server of values.servers.split(",")) {
  for (const deflate of [false, true]) {
    // Bun.serve and Deno.serve take no deflate switch here: measured without only.
    if (deflate && server.startsWith("native")) continue;
    const { child, port } = await start(server, deflate);
    const warm = [];
    for (let i = 0; i < 50; i++) warm.push(await openOne(port, deflate));
    for (const w of warm) w.terminate();
    await sleep(1000);
    const before = rss(child.pid);
    const open = [];
    for (let i = 0; i < N; i++) open.push(await openOne(port, deflate));
    await sleep(2000);
    const after = rss(child.pid);
    console.log(`| ${server} | ${deflate ? "yes" : "no"} | ${((after - before) / N / 1024).toFixed(1)} KiB |`);
    for (const w of open) w.terminate();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  }
}
