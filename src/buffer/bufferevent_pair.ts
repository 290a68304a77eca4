/**
 * The pair kind of BufferEvent: libevent's bufferevent_pair.c. Two linked
 * in-memory ends; bytes written to one's output move, without copying,
 * into the other's input while the sender writes and the receiver reads,
 * up to the receiver's read high watermark. The ends see each other only
 * through the core's members (and {@linkcode PairOps.detach}).
 *
 * @module
 */
import type { TcpSocket } from "../platform.ts";
import { EV_READ, EV_WRITE } from "../event/flags.ts";
import {
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_WRITING,
  type BufferEvent,
  type BufferEventCore,
  type BufferEventFlushMode,
  type BufferEventOps,
  type BufferEventState,
} from "./bufferevent.ts";

/** Link two new BufferEvents' cores as a pair, both "open" (libevent `bufferevent_pair_new`). */
export function linkPair(a: BufferEventCore, b: BufferEventCore): void {
  const left = new PairOps(a);
  const right = new PairOps(b);
  left.link(right);
  right.link(left);
}

/** libevent's `be_pair_wants_to_talk`: src may send and dst may take. */
function talks(src: BufferEventCore, dst: BufferEventCore): boolean {
  return (src.enabled & EV_WRITE) !== 0 && src.writeSuspend === 0 && (dst.enabled & EV_READ) !== 0 &&
    dst.readSuspend === 0 && src.output.length > 0 && dst.state === "open";
}

/**
 * Move src's output into dst's input without copying, up to dst's high
 * watermark unless `ignoreWm` (libevent `be_pair_transfer`). Kicks dst's
 * read event unless the caller is that event. Returns the bytes moved.
 */
function transfer(src: BufferEventCore, dst: BufferEventCore, ignoreWm: boolean, kick: boolean): number {
  const out = src.output;
  const input = dst.input;
  out.unfreeze(true);
  input.unfreeze(false);
  let n = 0;
  const high = dst.wmReadHigh;
  if (high > 0 && !ignoreWm) {
    const room = high - input.length;
    if (room > 0) n = out.removeBuffer(input, room);
  } else {
    n = out.length;
    input.addBuffer(out);
  }
  out.freeze(true);
  input.freeze(false);
  if (n > 0) {
    dst.gotInput(n);
    if (kick) dst.activateRead();
  }
  return n;
}

/** One end of a pair. */
export class PairOps implements BufferEventOps {
  /** This end's core. */
  readonly core: BufferEventCore;
  #partner: PairOps | null = null;
  /** Set when the other end was aborted. */
  #socketError: Error | null = null;

  constructor(core: BufferEventCore) {
    this.core = core;
    core.ops = this;
  }

  /** Take `partner` as the other end and open: as in libevent, only the pair adds to input or takes from output. */
  link(partner: PairOps): void {
    this.#partner = partner;
    this.core.state = "open";
    this.core.input.freeze(false);
    this.core.output.freeze(true);
  }

  /**
   * The other end was freed (it handed over what it had to send; EOF) or
   * aborted (ECONNRESET): unlink and tell the owner.
   */
  detach(abort: boolean): void {
    this.#partner = null;
    const core = this.core;
    if (core.state !== "open") return;
    core.state = "closed";
    core.syncRead();
    core.syncWrite();
    if (abort) {
      this.#socketError = Object.assign(new Error("the other end of the pair was aborted"), { code: "ECONNRESET" });
      core.runEventcb(BEV_EVENT_READING | BEV_EVENT_ERROR, false);
    } else {
      core.runEventcb(BEV_EVENT_READING | BEV_EVENT_EOF, false);
    }
  }

  // --------------------------------------------------------- BufferEventOps

  get socket(): TcpSocket | null {
    return null;
  }

  get socketError(): Error | null {
    return this.#socketError;
  }

  get partner(): BufferEvent | null {
    return this.#partner === null ? null : this.#partner.core.bev;
  }

  get underlying(): BufferEvent | null {
    return null;
  }

  get waitsForIo(): boolean {
    return false;
  }

  get rateLimitable(): boolean {
    return false;
  }

  readable(): boolean {
    return true;
  }

  adjustRead(_wanted: boolean): void {}

  readWaiting(): boolean {
    return this.#partner !== null && this.#partner.core.output.length > 0;
  }

  /** The read event: take what the partner may send, then the read callback. */
  onRead(): void {
    const core = this.core;
    const partner = this.#partner;
    if (partner !== null) {
      const other = partner.core;
      if (talks(other, core) && transfer(other, core, false, false) > 0) {
        other.wroteSome(true);
        other.syncWrite();
      }
    }
    // The partner's write callback may have freed us; readTurn checks.
    core.readTurn();
  }

  writeWanted(): boolean {
    return this.core.outputWaits();
  }

  writable(): boolean {
    return this.#partner !== null;
  }

  /** The write event: hand output to the partner, then the write callback. */
  onWrite(): void {
    const core = this.core;
    const partner = this.#partner as PairOps;
    if (talks(core, partner.core) && transfer(core, partner.core, false, true) > 0) {
      core.wroteSome(true);
      if (core.isFreed()) return;
    }
    core.syncWrite();
  }

  flush(events: number, mode: BufferEventFlushMode): void {
    const partner = this.#partner;
    if (partner === null || mode === "normal") return;
    const core = this.core;
    const other = partner.core;
    if (events & EV_READ && other.output.length > 0 && transfer(other, core, true, true) > 0) {
      other.wroteSome(false);
      other.syncWrite();
    }
    if (events & EV_WRITE && core.output.length > 0 && transfer(core, other, true, true) > 0) {
      core.wroteSome(false);
      core.syncWrite();
    }
    if (mode === "finished") {
      let what = BEV_EVENT_EOF;
      if (events & EV_READ) what |= BEV_EVENT_WRITING;
      if (events & EV_WRITE) what |= BEV_EVENT_READING;
      other.runEventcb(what, false);
    }
  }

  /**
   * free(): the partner gets what we still had to send, then EOF. abort():
   * the partner gets nothing more, and an ECONNRESET error.
   */
  release(abort: boolean, _was: BufferEventState): void {
    const core = this.core;
    const partner = this.#partner;
    if (partner !== null) {
      if (!abort && core.output.length > 0 && partner.core.state === "open") {
        transfer(core, partner.core, true, true);
      }
      this.#partner = null;
      partner.detach(abort);
    }
    core.output.free();
  }
}
