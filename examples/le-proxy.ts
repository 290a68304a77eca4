/**
 * le-proxy: libevent's sample/le-proxy.c in levent. A TCP proxy: each
 * connection accepted on --listen is paired with a new connection to
 * --connect, and bytes are piped both ways through BufferEvents. When one
 * side's output passes MAX_OUTPUT, reading from the other side stops until
 * it drains to half of that, so a slow far end holds the proxy's memory
 * bounded instead of letting it buffer the whole stream. When one side is
 * reset (ECONNRESET), the other is reset too (BufferEvent.abort, where the
 * runtime can send RST), so a cut-off stream never looks complete.
 *
 *   deno run -A examples/le-proxy.ts --listen 127.0.0.1:8000 --connect 127.0.0.1:9000
 *   bun examples/le-proxy.ts --listen H:P --connect H:P
 *   node examples/le-proxy.ts --listen H:P --connect H:P
 *
 * Prints `listening on tcp://HOST:PORT` once bound; SIGINT or SIGTERM stops
 * accepting, closes the open connections and exits 0.
 *
 * @module
 */
import process from "node:process";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BufferEvent,
  EV_READ,
  EV_WRITE,
  EventBase,
  Listener,
} from "../mod.ts";
import { announce, exitWhenDone, hostPortFlag, log, onStopSignal, parseCli } from "./lib/cli.ts";

/** Output queued for one side beyond which the other side stops being read. */
const MAX_OUTPUT = 512 * 1024;

const USAGE = `usage: le-proxy.ts --listen HOST:PORT --connect HOST:PORT

A TCP proxy: each connection accepted on --listen is piped both ways to a
new connection to --connect, with backpressure; a reset on one side is
passed on as a reset. Prints "listening on tcp://HOST:PORT" once bound;
SIGINT or SIGTERM exits 0.`;

const { values } = parseCli({ listen: { type: "string" }, connect: { type: "string" } }, false, USAGE);
const listenOn = hostPortFlag(values.listen, "--listen");
const connectTo = hostPortFlag(values.connect, "--connect");

const base = new EventBase();
/** Every open BufferEvent, so a signal can close them all. */
const open = new Set<BufferEvent>();

function release(bev: BufferEvent): void {
  open.delete(bev);
  bev.free();
}

/** Move what `bev` read to its partner's output (readcb). */
function readcb(bev: BufferEvent, partner: BufferEvent | null): void {
  if (partner === null) {
    bev.input.drain(bev.input.length);
    return;
  }
  partner.output.addBuffer(bev.input);
  if (partner.output.length >= MAX_OUTPUT) {
    // The far side takes data slower than this side gives it: stop reading
    // here until the partner's output has drained to half (drainedWritecb).
    partner.setCallbacks(readcb, drainedWritecb, eventcb, bev);
    partner.setWatermark(EV_WRITE, MAX_OUTPUT / 2, MAX_OUTPUT);
    bev.disable(EV_READ);
  }
}

/** The choked side's output has drained: read from its partner again. */
function drainedWritecb(bev: BufferEvent, partner: BufferEvent | null): void {
  bev.setCallbacks(readcb, null, eventcb, partner);
  bev.setWatermark(EV_WRITE, 0, 0);
  partner?.enable(EV_READ);
}

/** Free a side once everything queued for it has been written. */
function closeOnFinishedWritecb(bev: BufferEvent): void {
  if (bev.output.length === 0) release(bev);
}

/** Whether `bev`'s connection was reset by its peer. */
function wasReset(bev: BufferEvent): boolean {
  return (bev.socketError as (Error & { code?: string }) | null)?.code === "ECONNRESET";
}

function eventcb(bev: BufferEvent, what: number, partner: BufferEvent | null): void {
  if (what & BEV_EVENT_CONNECTED) return;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  if (what & BEV_EVENT_ERROR) log(`connection error: ${bev.socketError?.message ?? "unknown"}`);
  if (partner !== null && what & BEV_EVENT_ERROR && wasReset(bev)) {
    // A reset is passed on as a reset: ending the other side cleanly would
    // let its peer take the cut-off stream for a complete one.
    open.delete(partner);
    partner.abort();
  } else if (partner !== null) {
    // Pass on what this side still holds, then close the partner once written.
    readcb(bev, partner);
    if (partner.output.length > 0) {
      partner.setCallbacks(null, closeOnFinishedWritecb, eventcb, null);
      partner.disable(EV_READ);
    } else {
      release(partner);
    }
  }
  release(bev);
}

let listener: Listener;
try {
  listener = await Listener.bind(base, { host: listenOn.host, port: listenOn.port }, (_l, socket) => {
    const inbound = BufferEvent.socket(base, socket, { closeOnFree: true, deferCallbacks: true });
    const outbound = BufferEvent.socket(base, null, { closeOnFree: true, deferCallbacks: true });
    open.add(inbound);
    open.add(outbound);
    outbound.connect({ host: connectTo.host, port: connectTo.port });
    inbound.setCallbacks(readcb, null, eventcb, outbound);
    outbound.setCallbacks(readcb, null, eventcb, inbound);
    inbound.enable(EV_READ | EV_WRITE);
    outbound.enable(EV_READ | EV_WRITE);
  });
} catch (err) {
  log(`could not listen on ${listenOn.host}:${listenOn.port}: ${(err as Error).message}`);
  process.exit(1);
}
announce("tcp", listener.address.host, listener.address.port);

onStopSignal(base, () => {
  log(`closing ${open.size} connections`);
  for (const bev of [...open]) {
    bev.socket?.close();
    release(bev);
  }
  void listener.free();
});

await base.dispatch();
exitWhenDone(0);
