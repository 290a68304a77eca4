/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message goes with a
 * two-byte length before it. The framing both ends share, and the
 * resolver's connection to one nameserver, over a socket BufferEvent.
 *
 * @module
 */
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_TIMEOUT,
  BufferEvent,
} from "../buffer/bufferevent.ts";
import type { EvBuffer } from "../buffer/evbuffer.ts";
import type { EventBase } from "../event/event_base.ts";
import { EV_READ, EV_WRITE } from "../event/flags.ts";

/** A message with its two-byte length before it, ready to write to a stream. */
export function tcpFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** Take every whole framed message off the front of `input`, leaving a partial one there. */
export function takeTcpMessages(input: EvBuffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (input.length >= 2) {
    const head = input.pullup(2);
    const len = (head[0] << 8) | head[1];
    if (input.length < 2 + len) break;
    input.drain(2);
    const message = new Uint8Array(len);
    input.remove(message);
    out.push(message);
  }
  return out;
}

/** What a {@linkcode DnsTcpChannel} tells the resolver. */
export interface DnsTcpChannelHandlers {
  /** A whole message arrived. */
  message(bytes: Uint8Array): void;
  /** The connection failed or closed; the channel is done. `error` is null for a plain close by the peer. */
  closed(error: Error | null): void;
}

/** Where a channel stands: connecting, open, or closed for good. */
export type DnsTcpChannelState = "connecting" | "open" | "closed";

/**
 * One TCP connection from the resolver to one nameserver: messages are
 * written framed (queued while it connects), answers come back framed, in
 * any order. The resolver closes it once no query waits on it.
 */
export class DnsTcpChannel {
  #state: DnsTcpChannelState = "connecting";
  readonly #bev: BufferEvent;
  readonly #handlers: DnsTcpChannelHandlers;

  /** Connect to `host`:`port`. */
  constructor(base: EventBase, host: string, port: number, handlers: DnsTcpChannelHandlers) {
    this.#handlers = handlers;
    const bev = BufferEvent.socket(base, null, { closeOnFree: true });
    this.#bev = bev;
    bev.setCallbacks(
      (b) => {
        for (const message of takeTcpMessages(b.input)) {
          if (this.#state === "closed") return;
          this.#handlers.message(message);
        }
      },
      null,
      (b, what) => {
        if (what & BEV_EVENT_CONNECTED) {
          if (this.#state === "connecting") this.#state = "open";
          b.socket?.setNoDelay(true);
          return;
        }
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
          const err = what & BEV_EVENT_ERROR ? b.socketError ?? new Error("the DNS TCP connection failed") : null;
          this.#finish(err);
        }
      },
    );
    bev.enable(EV_READ | EV_WRITE);
    bev.connect({ host, port });
  }

  /** Where it stands. */
  get state(): DnsTcpChannelState {
    return this.#state;
  }

  /** Send one message (framed here); nothing once closed. */
  send(message: Uint8Array): void {
    if (this.#state !== "closed") this.#bev.write(tcpFrame(message));
  }

  /** Close the connection at once; `closed` is not called. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#bev.free();
  }

  #finish(error: Error | null): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#bev.free();
    this.#handlers.closed(error);
  }
}
