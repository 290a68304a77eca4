// Memory per idle WebSocket connection: open N WebSockets to an echo server,
// exchange one 2 KiB message on each (compressed when permessage-deflate was
// agreed), let them sit idle, and compare the server's resident memory
// before and after: levent on each runtime beside `ws` on Node, Bun.serve and
// Deno.serve, with and without permessage-deflate.
//
//   node bench/ws/idle_memory.mjs [--connections 1000] [--servers levent-deno,...]
import { join } from "node:path";
import { parseArgs } from "node:util";
import WS from "ws";
import { residentBytes as rss, ROOT, startListening } from "../runner.mjs";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "1000" },
    servers: { type: "string", default: "levent-deno,levent-bun,levent-node,ws-node,native-bun,native-deno" },
  },
});
const N = Number(values.connections);
const FILE = { levent: "levent_server.ts", ws: "ws_server.mjs", native: "native_server.ts" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(server, deflate) {
  const [kind, runtime] = server.split("-");
  const file = join(ROOT, "bench", "ws", FILE[kind]);
  return startListening({ runtime, file, args: ["0", ...(deflate ? ["--deflate"] : [])], what: server });
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
