/**
 * The write side of a socket whose native write may take only part of a
 * buffer (Deno's `conn.write`, Bun's `socket.write`), written once for the
 * adapters that need it. It keeps the `TcpSocket.write` contract:
 * every byte is accepted and kept until the kernel takes it, `write()`
 * answers false from the 64 KiB high-water mark on, `drain` follows once the
 * queue has emptied, and after `end()` FIN goes out once the queue is empty,
 * then `finish`.
 *
 * Small queued chunks are merged into a pooled scratch buffer before they
 * are sent: a call into the runtime per chunk costs more than the copy
 * (think of an HTTP head followed by its body).
 *
 * @module
 */
/** The contract's write high-water mark, the same on every adapter (see `TcpSocket.write`). */
export const WRITE_HIGH_WATER_MARK: number = 64 * 1024;
/** A queued chunk shorter than this is merged with the chunks after it. */
const COALESCE_BELOW = 16 * 1024;
/** The size of a scratch buffer, and so of a merged chunk. */
const SCRATCH_SIZE = 64 * 1024;
/** Spare scratch buffers kept for reuse across sockets. */
const SCRATCH_POOL_MAX = 16;
const scratchPool: Uint8Array[] = [];
const EMPTY = new Uint8Array(0);

/** What a {@linkcode WriteQueue} asks of its socket. Each method guards the owner's handlers itself. */
export interface WriteTarget {
  /**
   * Hand `chunk` from `offset` on to the kernel. Returns how many bytes it
   * took, either at once (a number; fewer than offered means: call
   * {@linkcode WriteQueue.writable} once the socket can take more; -1 means
   * the socket is closing and will report it) or once the write settles (a
   * promise; a rejection fails the queue).
   */
  send(chunk: Uint8Array, offset: number): number | Promise<number>;
  /** Send FIN; call `done` once it is out (a failure is the target's to report). */
  shutdown(done: () => void): void;
  /** Tell the owner `drain`. */
  drain(): void;
  /** Tell the owner `finish`. */
  finish(): void;
  /** Sending failed: close the socket with this error. */
  fail(err: unknown): void;
}

/** Options for a {@linkcode WriteQueue}. */
export interface WriteQueueOptions {
  /**
   * Start sending on a microtask rather than inside `write()`, so that the
   * writes of one task go out together. For an asynchronous `send` (Deno),
   * where each call is an op; a synchronous one (Bun) first offers each
   * write to the kernel at once and queues only what it left.
   */
  readonly deferred: boolean;
}

/**
 * The writing side's life: open; ending (end() called, FIN once the queue
 * empties); shutting (FIN under way); finished (FIN out, `finish` told);
 * closed (the queue dropped, nothing more told).
 */
type Side = "open" | "ending" | "shutting" | "finished" | "closed";

/**
 * The sender: idle (nothing queued); scheduled (a microtask will send);
 * sending (an asynchronous send is under way); blocked (the kernel took part
 * of a synchronous send: waiting for {@linkcode WriteQueue.writable}).
 */
type Pump = "idle" | "scheduled" | "sending" | "blocked";

/** A socket's outgoing bytes, from `write()` until the kernel has them. */
export class WriteQueue {
  readonly #target: WriteTarget;
  readonly #deferred: boolean;
  #side: Side = "open";
  #pump: Pump = "idle";
  #chunks: Uint8Array[] = [];
  #head = 0;
  /** How much of the head chunk has been sent. */
  #offset = 0;
  #queued = 0;
  /** A write() returned false: tell `drain` when the queue empties. */
  #drainWanted = false;
  /** The pooled buffer the head chunk is a view of, given back once it is sent. */
  #scratch: Uint8Array | undefined;

  constructor(target: WriteTarget, options: WriteQueueOptions) {
    this.#target = target;
    this.#deferred = options.deferred;
  }

  /** Bytes accepted and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#queued;
  }

  /** end() was called and FIN has been (or is being) sent. */
  get finSent(): boolean {
    return this.#side === "shutting" || this.#side === "finished";
  }

  /** FIN is out and `finish` was told. */
  get finished(): boolean {
    return this.#side === "finished";
  }

  /** `TcpSocket.write`: accept `bytes`; false from the high-water mark on, or once ended or closed. */
  write(bytes: Uint8Array): boolean {
    if (this.#side !== "open") return false;
    const len = bytes.length;
    const before = this.#queued;
    if (len > 0) {
      if (this.#pump === "idle" && !this.#deferred) {
        if (!this.#sendFirst(bytes)) return false;
      } else {
        this.#chunks.push(bytes);
        this.#queued += len;
        if (this.#pump === "idle") {
          this.#pump = "scheduled";
          queueMicrotask(this.#runCb ??= () => this.#run());
        }
      }
    }
    if (before + len < WRITE_HIGH_WATER_MARK) return true;
    if (!this.#drainWanted) {
      this.#drainWanted = true;
      // The kernel took it all at once: no emptying of the queue is coming to tell of it.
      if (this.#pump === "idle") queueMicrotask(this.#drainIfIdleCb ??= () => this.#drainIfIdle());
    }
    return false;
  }

  /** `TcpSocket.end`: FIN once everything queued is sent, then `finish`. */
  end(): void {
    if (this.#side !== "open") return;
    this.#side = "ending";
    if (this.#pump === "idle") this.#shutdown();
  }

  /** The socket can take more after a partial synchronous send (Bun's `drain`). */
  writable(): void {
    if (this.#pump !== "blocked" || this.#side === "closed") return;
    this.#pump = "idle";
    this.#flush();
  }

  /** Drop everything queued; nothing more is sent or told. */
  close(): void {
    this.#side = "closed";
    this.#pump = "idle";
    this.#chunks = [];
    this.#head = 0;
    this.#offset = 0;
    this.#queued = 0;
    this.#drainWanted = false;
    // A send under way may still read the scratch buffer: leave it to the garbage collector.
    this.#scratch = undefined;
  }

  /** Offer a write to the kernel when nothing waits; queue what it leaves. False when the socket is closing. */
  #sendFirst(bytes: Uint8Array): boolean {
    let sent: number | Promise<number>;
    try {
      sent = this.#target.send(bytes, 0);
    } catch (err) {
      this.#fail(err);
      return false;
    }
    // The runtime may report the socket closed from inside its write.
    if (this.#isClosed()) return false;
    if (typeof sent !== "number") {
      this.#chunks.push(bytes);
      this.#queued = bytes.length;
      this.#wait(sent);
      return true;
    }
    if (sent < 0) return false;
    if (sent < bytes.length) {
      this.#chunks.push(bytes);
      this.#offset = sent;
      this.#queued = bytes.length - sent;
      this.#pump = "blocked";
    }
    return true;
  }

  /** A method, not a field test, so that TypeScript does not take the state for fixed across a send. */
  #isClosed(): boolean {
    return this.#side === "closed";
  }

  // The callbacks handed to the runtime are made on first use and kept: an
  // idle socket (most of a server's) never needs them, and holds none.
  #runCb: (() => void) | null = null;
  #drainIfIdleCb: (() => void) | null = null;
  #onSentCb: ((n: number) => void) | null = null;
  #onSendFailedCb: ((err: unknown) => void) | null = null;
  #onShutdownCb: (() => void) | null = null;

  #run(): void {
    if (this.#pump !== "scheduled") return;
    this.#pump = "idle";
    this.#flush();
  }

  #drainIfIdle(): void {
    if (this.#pump === "idle") this.#emptied();
  }

  /** Send queued chunks until the queue is empty or the socket cannot take more now. */
  #flush(): void {
    const chunks = this.#chunks;
    while (this.#head < chunks.length) {
      if (this.#side === "closed") return;
      if (chunks[this.#head].length - this.#offset < COALESCE_BELOW && this.#head + 1 < chunks.length) {
        this.#coalesce();
      }
      let sent: number | Promise<number>;
      try {
        sent = this.#target.send(chunks[this.#head], this.#offset);
      } catch (err) {
        this.#fail(err);
        return;
      }
      if (this.#isClosed()) return;
      if (typeof sent !== "number") {
        this.#wait(sent);
        return;
      }
      // -1: the socket is closing; its close, which drops the queue, follows.
      if (sent < 0 || !this.#advance(sent)) {
        this.#pump = "blocked";
        return;
      }
    }
    this.#emptied();
  }

  #wait(sending: Promise<number>): void {
    this.#pump = "sending";
    sending.then(
      this.#onSentCb ??= (n) => this.#onSent(n),
      this.#onSendFailedCb ??= (err) => this.#onSendFailed(err),
    );
  }

  #onSent(n: number): void {
    if (this.#side === "closed") return;
    this.#pump = "idle";
    this.#advance(n);
    this.#flush();
  }

  #onSendFailed(err: unknown): void {
    if (this.#side !== "closed") this.#fail(err);
  }

  /** `n` more bytes of the head chunk are with the kernel; true once all of it is. */
  #advance(n: number): boolean {
    this.#queued -= n;
    const chunks = this.#chunks;
    const offset = this.#offset + n;
    if (offset < chunks[this.#head].length) {
      this.#offset = offset;
      return false;
    }
    this.#release();
    chunks[this.#head++] = EMPTY;
    this.#offset = 0;
    if (this.#head === chunks.length) {
      chunks.length = 0;
      this.#head = 0;
    }
    return true;
  }

  /** Merge the head's unsent bytes and the chunks after it, up to a scratch buffer's size, into one chunk. */
  #coalesce(): void {
    const chunks = this.#chunks;
    const first = this.#head;
    const headLeft = chunks[first].length - this.#offset;
    let total = headLeft;
    let last = first;
    while (last + 1 < chunks.length && total + chunks[last + 1].length <= SCRATCH_SIZE) {
      total += chunks[++last].length;
    }
    if (last === first) return;
    const scratch = scratchPool.pop() ?? new Uint8Array(SCRATCH_SIZE);
    scratch.set(this.#offset === 0 ? chunks[first] : chunks[first].subarray(this.#offset), 0);
    let at = headLeft;
    for (let i = first + 1; i <= last; i++) {
      scratch.set(chunks[i], at);
      at += chunks[i].length;
      chunks[i - 1] = EMPTY;
    }
    // The old head may itself have been a merge: its bytes are copied out now.
    this.#release();
    chunks[last] = scratch.subarray(0, total);
    this.#head = last;
    this.#offset = 0;
    this.#scratch = scratch;
  }

  #release(): void {
    const scratch = this.#scratch;
    if (scratch === undefined) return;
    this.#scratch = undefined;
    if (scratchPool.length < SCRATCH_POOL_MAX) scratchPool.push(scratch);
  }

  /** The queue is empty and nothing is being sent: tell `drain` if owed, then FIN if end() was called. */
  #emptied(): void {
    if (this.#drainWanted && this.#side === "open") {
      this.#drainWanted = false;
      this.#target.drain();
    }
    if (this.#side === "ending" && this.#pump === "idle") this.#shutdown();
  }

  #shutdown(): void {
    this.#side = "shutting";
    this.#target.shutdown(this.#onShutdownCb ??= () => this.#onShutdown());
  }

  #onShutdown(): void {
    if (this.#side !== "shutting") return;
    this.#side = "finished";
    this.#target.finish();
  }

  #fail(err: unknown): void {
    this.close();
    this.#target.fail(err);
  }
}
