/**
 * The WebSocket echo's JavaScript cost per message, without sockets: a
 * server session on one end of a BufferEvent pair, masked 32-byte text
 * frames written into the other end in batches, the echoes read back. For
 * profiling (`node --cpu-prof bench/ws/inproc.ts`) and A/B comparisons; the
 * wire figures are bench/ws/run.mjs's.
 *
 *   deno run -A bench/ws/inproc.ts [MESSAGES] [SIZE] [BATCH] [READ] | bun ... | node ...
 *
 * READ (default 65536) is the most one read returns: Node's and Deno's
 * adapters read 64 KiB at a time, so a 64 KiB message's frame (65,550
 * bytes) spans two pieces there; a larger READ shows a frame read whole.
 */
import process from "node:process";
import { BufferEvent, EV_READ, EV_WRITE, EventBase } from "../../mod.ts";
import { newSession } from "../../src/ws/websocket.ts";

const total = Number(process.argv[2] ?? 1_000_000);
const size = Number(process.argv[3] ?? 32);
/** Text (0x81) for small messages, binary (0x82) from 126 bytes on, as the wire benchmark's cases. */
const first = size < 126 ? 0x81 : 0x82;
const BATCH = Number(process.argv[4] ?? 32);

/** A masked client frame of `size` bytes. */
function frame(): Uint8Array {
  const head = size < 126
    ? [first, 0x80 | size]
    : size < 65536
    ? [first, 0x80 | 126, size >> 8, size & 0xff]
    : [first, 0x80 | 127, 0, 0, 0, 0, 0, size >>> 16, (size >> 8) & 0xff, size & 0xff];
  const key = [1, 2, 3, 4];
  const out = new Uint8Array(head.length + 4 + size);
  out.set(head);
  out.set(key, head.length);
  for (let i = 0; i < size; i++) out[head.length + 4 + i] = 0x61 ^ key[i & 3];
  return out;
}

const base = new EventBase();
const [serverEnd, clientEnd] = BufferEvent.pair(base);
const ws = newSession({
  base,
  bev: serverEnd,
  role: "server",
  protocol: "",
  extensions: "",
  deflate: null,
  deflateLevel: 0,
  deflateThreshold: Infinity,
  options: {},
});
ws.setMessageCb((w, data) => w.send(data));
const one = frame();
const batch = new Uint8Array(one.length * BATCH);
for (let i = 0; i < BATCH; i++) batch.set(one, i * one.length);
const echoLen = (size < 126 ? 2 : size < 65536 ? 4 : 10) + size;
let received = 0;
let sent = 0;
const t0 = performance.now();
clientEnd.setCallbacks(
  (b) => {
    const n = Math.floor(b.input.length / echoLen);
    b.input.drain(n * echoLen);
    received += n;
    if (received >= total) {
      const ms = performance.now() - t0;
      console.log(`${(total / ms * 1000 / 1e6).toFixed(3)} M msgs/s (${(ms * 1e6 / total).toFixed(0)} ns per echo)`);
      ws.terminate();
      clientEnd.free();
      return;
    }
    if (received === sent) pump();
  },
  null,
  null,
);
clientEnd.enable(EV_READ | EV_WRITE);
/** What one socket read returns at most. */
const READ = Number(process.argv[5] ?? 65536);
function pump(): void {
  sent += BATCH;
  const out = clientEnd.output;
  for (let at = 0; at < batch.length; at += READ) out.addCopy(batch.subarray(at, Math.min(at + READ, batch.length)));
}
pump();
await base.dispatch();
