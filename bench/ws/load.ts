/**
 * The WebSocket echo benchmark's load client, the same for every server:
 * CONNS connections, one message in flight on each (send, wait for the
 * echo, send again), for SECONDS after a warm-up. Prints one JSON line:
 * messages per second and MB/s (payload bytes echoed). Runs on Bun, whose
 * client is native code, so the client is not what limits.
 *
 *   bun bench/ws/load.ts URL CONNS SECONDS WARMUP SIZE (text|binary)
 */
const [url, connsArg, secondsArg, warmupArg, sizeArg, kind] = (globalThis as { process?: { argv: string[] } }).process!
  .argv.slice(2);
const conns = Number(connsArg);
const size = Number(sizeArg);
const payload: string | Uint8Array = kind === "text" ? "x".repeat(size) : new Uint8Array(size).fill(7);
let counting = false;
let count = 0;
const sockets: WebSocket[] = [];
await Promise.all(Array.from({ length: conns }, () =>
  new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      sockets.push(ws);
      resolve();
    };
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    ws.onmessage = () => {
      if (counting) count++;
      ws.send(payload);
    };
  })));
for (const ws of sockets) ws.send(payload);
await new Promise((r) => setTimeout(r, Number(warmupArg) * 1000));
counting = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(secondsArg) * 1000));
counting = false;
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ msgs: count / secs, mbps: (count * size) / secs / 1e6 }));
for (const ws of sockets) ws.close();
(globalThis as { process?: { exit(c: number): void } }).process!.exit(0);
