/**
 * The socket kind of BufferEvent: libevent's bufferevent_sock.c. Bytes a
 * platform socket pushes enter input as far as the read watermark and
 * rate limits allow, the rest wait in a staging buffer with the socket
 * paused; output is handed to the socket until it asks to wait for
 * `drain`. Also connect(), flush("finished") as a half-close, the
 * lingering free() that sends what output holds before closing, and
 * giving the socket away for TLS (detachSocket).
 *
 * @module
 */
import type { Platform, SocketHandlers, TcpSocket, TimerHandle } from "../platform.ts";
import { Event } from "../event/event_base.ts";
import { EV_READ, EV_WRITE } from "../event/flags.ts";
import { EvBuffer } from "./evbuffer.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_WRITING,
  type BufferEvent,
  type BufferEventCore,
  type BufferEventFlushMode,
  type BufferEventOps,
  type BufferEventState,
  type DetachedSocket,
  SUSPEND_BW,
  SUSPEND_BW_GROUP,
} from "./bufferevent.ts";

/** The socket took everything offered so far, or asked us to wait for `drain`. */
type WriteState = "ready" | "blocked";
/** Whether our side of the socket was shut: flush("finished") asks for it once output is written. */
type ShutdownState = "open" | "finishing" | "ended";
/** The peer's side: open, EOF seen but staged bytes still to deliver, EOF delivered, or failed. */
type ReadEnd = "open" | "eof_pending" | "eof" | "error";
type FileLoadState = "idle" | "loading";

/** File segments of the output are read in pieces of this size before they are written. */
const FILE_PIECE = 65536;
/**
 * How long a lingering free() reads and discards after its FIN, waiting for
 * the peer to close, before closing itself (Apache's lingering close waits
 * 2 s for each read).
 */
const LINGER_MS = 2000;

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function noop(): void {}

const EMPTY = new Uint8Array(0);

/**
 * A socket BufferEvent's kind. It is also the socket's handlers: the
 * platform calls `data`, `end`, `drain`, `finish`, `error` and `close` on
 * it directly, one object per connection with its methods on the
 * prototype.
 */
export class SocketOps implements BufferEventOps, SocketHandlers {
  readonly #core: BufferEventCore;
  #socket: TcpSocket | null = null;
  #socketError: Error | null = null;
  /** Whether the socket was last told to resume (true) or pause (false). */
  #flowing = false;
  #writeState: WriteState = "ready";
  #shutdown: ShutdownState = "open";
  #readEnd: ReadEnd = "open";
  /** An error the socket reported, told after the bytes that came before it. */
  #pendingError = 0;
  /** Bytes the socket pushed that input may not take yet (watermark, rate limit, reading disabled). */
  #staging: EvBuffer | null = null;
  #fileLoad: FileLoadState = "idle";
  /** Output bytes at the front known to be in memory while file segments wait behind them. */
  #fileReady = 0;
  /** After free(): wakes the closing writer when the socket drains or closes. */
  #lingerWake: (() => void) | null = null;
  #lingerClosed = false;
  /** Closes a lingering socket whose peer does not close within LINGER_MS of our FIN. */
  #lingerTimer: TimerHandle | null = null;
  /**
   * While a free() with closeOnFree still has bytes to hand to the kernel:
   * a pending event that keeps the base's loop running (as libevent's
   * pending write event would), released once FIN is out or the socket is gone.
   */
  #lingerHold: Event | null = null;

  constructor(core: BufferEventCore) {
    this.#core = core;
    core.ops = this;
  }

  // --------------------------------------------------------- BufferEventOps

  get socket(): TcpSocket | null {
    return this.#socket;
  }

  get socketError(): Error | null {
    return this.#socketError;
  }

  get partner(): BufferEvent | null {
    return null;
  }

  get underlying(): BufferEvent | null {
    return null;
  }

  get waitsForIo(): boolean {
    return true;
  }

  get rateLimitable(): boolean {
    return true;
  }

  readable(): boolean {
    // After EOF or an error nothing more can come, so there is nothing to wait for.
    const state = this.#core.state;
    return (state === "open" || state === "connecting") &&
      (this.#readEnd === "open" || this.#readEnd === "eof_pending");
  }

  adjustRead(_wanted: boolean): void {
    const socket = this.#socket;
    if (socket === null || this.#core.state !== "open") return;
    const flow = this.#flowWanted();
    if (flow !== this.#flowing) {
      this.#flowing = flow;
      if (flow) socket.resume();
      else socket.pause();
    }
  }

  readWaiting(): boolean {
    return (this.#staging !== null && this.#staging.length > 0) || this.#readEnd === "eof_pending" ||
      this.#pendingError !== 0;
  }

  /** The read event: staged bytes into input, the read callback, then EOF and errors. */
  onRead(): void {
    const core = this.#core;
    this.#pumpStaging();
    core.readTurn();
    if (!core.isFreed()) this.#reportNews();
  }

  writeWanted(): boolean {
    const core = this.#core;
    const state = core.state;
    if (state === "connecting") return true;
    if (state !== "open" || (core.enabled & EV_WRITE) === 0 || core.writeSuspend !== 0) return false;
    if (this.#writeState === "blocked") return true;
    const out = core.output;
    if (out.length === 0 || this.#shutdown === "ended") return false;
    // Bytes the socket takes now go out in this pass (the write event is
    // active), so the pending write timer is needed only to time them out
    // or to keep the loop alive while file segments load.
    return core.writeTimeout > 0 || out.hasFileSegments;
  }

  writable(): boolean {
    return this.#core.state === "open" && this.#writeState === "ready" && this.#shutdown !== "ended";
  }

  /** The write event: output to the socket, the write callback, then the shutdown flush("finished") asked for. */
  onWrite(): void {
    const core = this.#core;
    if (this.#flushSocket() > 0) {
      core.wroteSome(true);
      if (core.isFreed()) return;
      if (this.#shutdown === "finishing") this.#finishWrite();
      // A group share may have stopped short of what the group allows: go again.
      if (core.rateLimit !== null) core.kickWrite();
    }
    core.syncWrite();
  }

  flush(events: number, mode: BufferEventFlushMode): void {
    if ((events & EV_WRITE) === 0) return;
    if (mode === "finished" && this.#shutdown === "open") {
      this.#shutdown = "finishing";
      this.#finishWrite();
    }
    this.#core.kickWrite();
  }

  connect(op: string, open: (platform: Platform) => Promise<TcpSocket>): void {
    const core = this.#core;
    if (core.state !== "idle" && core.state !== "closed") {
      throw new TypeError(`${op}: the BufferEvent is ${core.state}; connect needs one without a socket`);
    }
    this.#startConnect(open(core.base.platform));
  }

  release(abort: boolean, was: BufferEventState): void {
    const core = this.#core;
    const socket = this.#socket;
    // A socket still connecting is closed when the connect resolves (#connected).
    if (socket !== null && was === "open") {
      if (abort) {
        socket.reset();
      } else if (core.closeOnFree) {
        this.#linger(socket);
        return;
      } else {
        socket.pause();
      }
    }
    // Unsent output goes nowhere now: let its file handles go at once, not when collected.
    core.output.free();
  }

  detachSocket(op: string): DetachedSocket {
    const core = this.#core;
    const socket = this.#socket;
    if (core.state !== "open" || socket === null) {
      throw new TypeError(`${op}: the underlying BufferEvent is ${core.state}; TLS starts over an open connection`);
    }
    if (this.#readEnd !== "open") throw new TypeError(`${op}: the peer has already ended the underlying connection`);
    if (this.#shutdown !== "open") throw new TypeError(`${op}: the underlying connection was shut for writing`);
    const out = core.output;
    if (out.hasFileSegments) {
      throw new TypeError(`${op}: the underlying BufferEvent's output holds file segments not yet sent`);
    }
    // Closed first, so that nothing the buffers' callbacks do below reaches the socket through us.
    this.#socket = null;
    this.#flowing = false;
    this.#writeState = "ready";
    core.state = "closed";
    socket.pause();
    // The socket takes every byte; EvBuffer never writes over bytes once added.
    for (const view of out.peek()) socket.write(view);
    out.drain(out.length);
    const unread = new EvBuffer();
    unread.addBuffer(core.input);
    const staging = this.#staging;
    if (staging !== null) {
      unread.addBuffer(staging);
      staging.releaseSpare();
    }
    core.syncRead();
    core.syncWrite();
    return { socket, head: unread.length > 0 ? unread.pullup(unread.length) : EMPTY };
  }

  /** Take `socket` as the transport, in state "open" (libevent `bufferevent_setfd`). */
  attach(socket: TcpSocket): void {
    const core = this.#core;
    this.#socket = socket;
    core.state = "open";
    this.#readEnd = "open";
    this.#writeState = "ready";
    // Paused before start, so not one chunk arrives before reading is enabled.
    this.#flowing = this.#flowWanted();
    if (!this.#flowing) socket.pause();
    socket.start(this);
    core.syncRead();
    core.syncWrite();
  }

  // --------------------------------------------------------- SocketHandlers

  /** The hot path: bytes from the socket. Input takes what it may; the rest waits in staging with the socket paused. */
  data(bytes: Uint8Array, owned: boolean): void {
    const core = this.#core;
    const n = bytes.length;
    if (n === 0 || core.state !== "open") return;
    const staging = this.#staging;
    const take = staging === null || staging.length === 0 ? core.readRoom() : 0;
    if (take >= n) {
      this.#addInput(bytes, owned);
      core.gotInput(n);
      core.activateRead();
      return;
    }
    if (take > 0) this.#addInput(bytes.subarray(0, take), owned);
    this.#stage(take > 0 ? bytes.subarray(take) : bytes, owned);
    if (take > 0) {
      core.gotInput(take);
      core.activateRead();
    }
    core.syncRead();
  }

  end(): void {
    if (this.#core.state !== "open" || this.#readEnd !== "open") return;
    this.#readEnd = "eof_pending";
    this.#core.activateRead();
  }

  drain(): void {
    const core = this.#core;
    if (core.state === "freed") {
      this.#lingerWake?.();
      return;
    }
    if (this.#writeState !== "blocked") return;
    this.#writeState = "ready";
    core.touchWrite();
    if (core.output.length > 0 && core.canWrite()) core.activateWrite();
    else core.syncWrite();
  }

  /**
   * The socket's queue emptied after end() and FIN is out: a lingering
   * free() has handed over every byte. It reads on (discarding) so that
   * bytes the peer still sends do not turn the close into a reset, which
   * could destroy what the peer has not read yet; but a peer that never
   * closes must not keep the socket, or the process, forever: after
   * LINGER_MS the socket is closed. The runtime's clock is used, not an
   * event, since the loop may have ended.
   */
  finish(): void {
    const core = this.#core;
    if (core.state !== "freed") return;
    this.#releaseLoop();
    const socket = this.#socket;
    if (socket === null || this.#lingerTimer !== null || this.#lingerClosed) return;
    this.#lingerTimer = core.base.clock.setTimer(() => {
      this.#lingerTimer = null;
      socket.close();
    }, LINGER_MS);
  }

  error(err: Error): void {
    const core = this.#core;
    if (core.state !== "open") return;
    this.#socketError = err;
    this.#readEnd = "error";
    // Only a broken pipe is clearly the writer's; resets and TLS failures show up while reading.
    const writing = (err as Error & { code?: unknown }).code === "EPIPE";
    core.disable(writing ? EV_WRITE : EV_READ);
    core.syncRead();
    core.syncWrite();
    this.#pendingError = (writing ? BEV_EVENT_WRITING : BEV_EVENT_READING) | BEV_EVENT_ERROR;
    core.activateRead();
  }

  close(): void {
    const core = this.#core;
    if (core.state === "freed") {
      if (this.#lingerTimer !== null) {
        core.base.clock.clearTimer(this.#lingerTimer);
        this.#lingerTimer = null;
      }
      this.#lingerClosed = true;
      this.#lingerWake?.();
      this.#releaseLoop();
      return;
    }
    if (core.state !== "open") return;
    core.state = "closed";
    this.#writeState = "ready";
    // Nothing can send what output holds any more: drop it, closing its file handles now.
    if (core.output.length > 0) this.#discardOutput();
    core.syncRead();
    core.syncWrite();
    if (this.#readEnd !== "open") return;
    // Closed without an EOF or error of its own: still an EOF to the owner.
    this.#readEnd = "eof_pending";
    core.activateRead();
  }

  // ---------------------------------------------------------------- reading

  /** Whether the socket should deliver: reading on and nothing staged waiting for room. */
  #flowWanted(): boolean {
    const staging = this.#staging;
    if (staging !== null && staging.length > 0) return false;
    const core = this.#core;
    if (core.state !== "open" || (core.enabled & EV_READ) === 0 || this.#readEnd !== "open") return false;
    // Waiting for tokens still lets one chunk land in staging: bytes are then ready the moment
    // tokens come, and a group's members all have some when it refills, instead of the first
    // one resumed taking the whole refill while the others' bytes are still on their way.
    return (core.readSuspend & ~(SUSPEND_BW | SUSPEND_BW_GROUP)) === 0;
  }

  #addInput(bytes: Uint8Array, owned: boolean): void {
    // Lent bytes live in the adapter's reused buffer: copy them.
    if (owned) this.#core.input.add(bytes);
    else this.#core.input.addCopy(bytes);
  }

  #stage(bytes: Uint8Array, owned: boolean): void {
    const staging = this.#staging ??= new EvBuffer();
    if (owned) staging.add(bytes);
    else staging.addCopy(bytes);
  }

  /** Move staged bytes into input as far as allowed; resume the socket once staging is empty. */
  #pumpStaging(): void {
    const staging = this.#staging;
    if (staging === null || staging.length === 0) return;
    const core = this.#core;
    const room = core.readRoom();
    if (room > 0) core.gotInput(staging.removeBuffer(core.input, room));
    if (staging.length > 0) {
      // A group share may leave room: take another share later in this pass.
      if (core.readRoom() > 0) core.activateRead();
      return;
    }
    // Staging is the exception, not the rule: it keeps no room once empty.
    staging.releaseSpare();
    core.syncRead();
  }

  /**
   * Tell EOF and errors from the socket here, after the read callback for
   * the bytes that arrived before them; an EOF waits for staged bytes.
   */
  #reportNews(): void {
    const core = this.#core;
    const staging = this.#staging;
    if (this.#readEnd === "eof_pending" && (staging === null || staging.length === 0)) {
      this.#readEnd = "eof";
      // libevent stops reading at EOF.
      core.disable(EV_READ);
      core.runEventcb(BEV_EVENT_READING | BEV_EVENT_EOF, true);
    }
    const error = this.#pendingError;
    if (error !== 0 && !core.isFreed()) {
      this.#pendingError = 0;
      core.runEventcb(error, true);
    }
  }

  // ---------------------------------------------------------------- writing

  /** Hand output to the socket until it asks to wait or the write budget is spent; returns the bytes handed over. */
  #flushSocket(): number {
    const core = this.#core;
    const socket = this.#socket as TcpSocket;
    const out = core.output;
    const budget = core.maxToWrite();
    let written = 0;
    while (written < budget && out.length > 0) {
      let n = out.contiguousSpace();
      if (out.hasFileSegments) {
        if (this.#fileReady <= 0) {
          this.#loadFileSegments();
          break;
        }
        if (n > this.#fileReady) n = this.#fileReady;
      }
      if (n > budget - written) n = budget - written;
      // The first segment's bytes, uncopied; EvBuffer never writes over bytes once added.
      const view = out.pullup(n);
      out.drain(n);
      if (out.hasFileSegments) this.#fileReady -= n;
      else this.#fileReady = 0;
      written += n;
      if (!socket.write(view)) {
        this.#writeState = "blocked";
        break;
      }
    }
    if (written > 0) core.consumeWrite(written);
    return written;
  }

  #loadFileSegments(): void {
    if (this.#fileLoad === "loading") return;
    this.#fileLoad = "loading";
    const core = this.#core;
    core.output.loadFileSegments(FILE_PIECE).then(
      (ready) => {
        this.#fileLoad = "idle";
        if (core.isFreed()) return;
        this.#fileReady = ready;
        core.kickWrite();
      },
      (err: unknown) => {
        this.#fileLoad = "idle";
        if (core.isFreed()) return;
        this.#socketError = asError(err);
        core.disable(EV_WRITE);
        core.runEventcb(BEV_EVENT_WRITING | BEV_EVENT_ERROR, false);
      },
    );
  }

  #finishWrite(): void {
    const core = this.#core;
    if (this.#shutdown !== "finishing" || core.output.length !== 0 || core.state !== "open") return;
    this.#shutdown = "ended";
    (this.#socket as TcpSocket).end();
    core.syncWrite();
  }

  /** Empty output without telling the write callback: the bytes were not sent. */
  #discardOutput(): void {
    this.#fileReady = 0;
    const out = this.#core.output;
    try {
      out.drain(out.length);
    } catch {
      // Frozen at the front by its owner: it stays as it is.
    }
  }

  // ------------------------------------------------------------- connecting

  #startConnect(pending: Promise<TcpSocket>): void {
    const core = this.#core;
    core.state = "connecting";
    this.#socket = null;
    this.#socketError = null;
    this.#readEnd = "open";
    this.#pendingError = 0;
    this.#writeState = "ready";
    // A flush("finished") made before connecting still applies; a past connection's shutdown does not.
    if (this.#shutdown === "ended") this.#shutdown = "open";
    core.syncRead();
    core.syncWrite();
    pending.then((socket) => this.#connected(socket), (err: unknown) => this.#connectFailed(err));
  }

  #connected(socket: TcpSocket): void {
    const core = this.#core;
    if (core.state !== "connecting") {
      // Freed while connecting.
      socket.close();
      return;
    }
    this.attach(socket);
    core.runEventcb(BEV_EVENT_CONNECTED, false);
    if (this.#shutdown === "finishing") this.#finishWrite();
    core.kickWrite();
  }

  #connectFailed(err: unknown): void {
    const core = this.#core;
    if (core.state !== "connecting") return;
    core.state = "closed";
    this.#socketError = asError(err);
    core.syncRead();
    core.syncWrite();
    core.runEventcb(BEV_EVENT_ERROR, false);
  }

  // ---------------------------------------------------------------- freeing

  /**
   * free() with closeOnFree: send what output holds (the socket accepts
   * every byte), shut our side, and read on, discarding, until the peer
   * closes. Close at once when nothing is left to send, as libevent would.
   */
  #linger(socket: TcpSocket): void {
    const out = this.#core.output;
    if (out.length === 0 && this.#writeState === "ready" && socket.bufferedAmount === 0) {
      socket.close();
      return;
    }
    // The loop runs on until the socket reports `finish` (FIN out) or closes.
    this.#holdLoop();
    if (out.hasFileSegments) {
      void this.#lingerFiles(socket);
      return;
    }
    for (const view of out.peek()) socket.write(view);
    out.drain(out.length);
    socket.end();
    socket.resume();
  }

  /** As #linger, for output with file segments: load and send them a piece at a time, waiting for drains. */
  async #lingerFiles(socket: TcpSocket): Promise<void> {
    const out = this.#core.output;
    try {
      while (out.length > 0 && !this.#lingerClosed) {
        const ready = await out.loadFileSegments(FILE_PIECE);
        let room = true;
        for (const view of out.peek(ready)) room = socket.write(view);
        out.drain(ready);
        if (!room && !this.#lingerClosed) await new Promise<void>((resolve) => this.#lingerWake = resolve);
      }
      this.#lingerWake = null;
      if (this.#lingerClosed) {
        // The peer went away first: what was left is never sent; close its files now.
        out.free();
        return;
      }
      socket.end();
      socket.resume();
    } catch {
      out.free();
      socket.close();
    }
  }

  #holdLoop(): void {
    if (this.#lingerHold !== null) return;
    const hold = new Event(this.#core.base, null, 0, noop);
    try {
      hold.add();
    } catch {
      // A freed base has no loop left to hold.
      return;
    }
    this.#lingerHold = hold;
  }

  #releaseLoop(): void {
    const hold = this.#lingerHold;
    if (hold === null) return;
    this.#lingerHold = null;
    hold.free();
  }
}
