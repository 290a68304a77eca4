// Memory per idle keep-alive connection: open N connections to a server,
// make one request on each, let them sit idle, and compare the server's
// resident memory before and after, for levent's HttpServer, the runtime's
// own server and the raw-TCP server (the runtime's bare socket cost), and
// bev_server.ts (levent's socket layer without HTTP).
//
//   node bench/http/idle_memory.mjs [--connections 1000] [--runtimes deno,bun,node]
import net from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { residentBytes as rss, ROOT, startListening } from "../runner.mjs";

const { values } = parseArgs({
  options: { connections: { type: "string", default: "1000" }, runtimes: { type: "string", default: "deno,bun,node" } },
});
const N = Number(values.connections);
const FILES = { levent: "levent_server.ts", bev: "bev_server.ts", native: "native_server.ts", raw: "raw_server.ts" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(runtime, server) {
  return startListening({
    runtime,
    file: join(ROOT, "bench", "http", FILES[server]),
    args: ["0"],
    what: `${runtime}/${server}`,
  });
}

/** Open one keep-alive connection and make one request on it. */
function connectOnce(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    s.once("data", () => resolve(s));
    s.once("error", reject);
  });
}

const rows = [];
for (const runtime of values.runtimes.split(",")) {
  const perConn = {};
  for (const server of ["levent", "bev", "native", "raw"]) {
    const { child, port } = await start(runtime, server);
    // Warm the server up first so one-time allocations are not counted.
    for (const s of await Promise.all(Array.from({ length: 20 }, () => connectOnce(port)))) s.destroy();
    await sleep(1500);
    const before = rss(child.pid);
    const sockets = [];
    for (let i = 0; i < N; i += 100) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => connectOnce(port))));
    }
    await sleep(2500);
    const after = rss(child.pid);
    perConn[server] = (after - before) / N;
    for (const s of sockets) s.destroy();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  }
  rows.push(
    `| ${runtime} | ${(perConn.levent / 1024).toFixed(1)} KiB | ${(perConn.native / 1024).toFixed(1)} KiB | ${
      (perConn.raw / 1024).toFixed(1)
    } KiB | ${((perConn.levent - perConn.raw) / 1024).toFixed(1)} KiB | ${
      ((perConn.bev - perConn.raw) / 1024).toFixed(1)
    } KiB |`,
  );
}
console.log(
  `| runtime | levent per idle connection | runtime's own server | raw socket | levent above raw | socket layer (bev_server) above raw |\n|---|---|---|---|---|---|\n${
    rows.join("\n")
  }`,
);
