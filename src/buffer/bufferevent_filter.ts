/**
 * The filter kind of BufferEvent: libevent's bufferevent_filter.c. A
 * BufferEvent over another one (the underlying), with an input filter from
 * the underlying's input to this input and an output filter from this
 * output to the underlying's output. The filter takes over the
 * underlying's callbacks, and holds its reading back (`SUSPEND_FILT`)
 * while this BufferEvent wants no bytes.
 *
 * @module
 */
import type { TcpSocket } from "../platform.ts";
import { EV_READ, EV_WRITE } from "../event/flags.ts";
import type { EvBuffer } from "./evbuffer.ts";
import {
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_WRITING,
  type BufferEvent,
  type BufferEventCore,
  type BufferEventFilter,
  type BufferEventFilterResult,
  type BufferEventFlushMode,
  type BufferEventOps,
  type BufferEventState,
  SUSPEND_FILT,
} from "./bufferevent.ts";

/** The null filter (libevent's `be_null_filter`): pass bytes through unchanged, without copying. */
function passThrough(src: EvBuffer, dst: EvBuffer, limit: number): BufferEventFilterResult {
  src.removeBuffer(dst, limit);
  return "ok";
}

function runFilter(
  filter: BufferEventFilter | null,
  src: EvBuffer,
  dst: EvBuffer,
  limit: number,
  mode: BufferEventFlushMode,
): BufferEventFilterResult {
  if (filter === null) return passThrough(src, dst, limit);
  const result = filter(src, dst, limit, mode);
  if (result !== "ok" && result !== "need_more" && result !== "error") {
    throw new TypeError(`a filter must return "ok", "need_more" or "error", got ${String(result)}`);
  }
  return result;
}

// The underlying BufferEvent's callbacks, with the filter as their argument.
function lowerReadCb(_lower: BufferEvent, filter: FilterOps): void {
  filter.onRead();
}

function lowerWriteCb(_lower: BufferEvent, filter: FilterOps): void {
  filter.onLowerWrite();
}

function lowerEventCb(_lower: BufferEvent, what: number, filter: FilterOps): void {
  filter.onLowerEvent(what);
}

/**
 * A filter BufferEvent's kind (libevent `bufferevent_filter_new`). It
 * reaches its underlying BufferEvent through that one's core only.
 */
export class FilterOps implements BufferEventOps {
  readonly #core: BufferEventCore;
  #lower: BufferEventCore | null;
  readonly #inFilter: BufferEventFilter | null;
  readonly #outFilter: BufferEventFilter | null;
  #filterEof = false;
  /** Whether the underlying BufferEvent was last allowed to read for us. */
  #filterFlow = false;

  constructor(
    core: BufferEventCore,
    lower: BufferEventCore,
    inFilter: BufferEventFilter | null,
    outFilter: BufferEventFilter | null,
  ) {
    this.#core = core;
    core.ops = this;
    this.#lower = lower;
    this.#inFilter = inFilter;
    this.#outFilter = outFilter;
    core.state = "open";
    lower.setCallbacks(lowerReadCb, lowerWriteCb, lowerEventCb, this);
    // Held back before reading is enabled, so the socket never starts flowing for nobody.
    lower.suspendRead(SUSPEND_FILT);
    lower.enable(EV_READ | EV_WRITE);
  }

  // --------------------------------------------------------- BufferEventOps

  get socket(): TcpSocket | null {
    return null;
  }

  /** The underlying's, while linked. */
  get socketError(): Error | null {
    return this.#lower === null ? null : this.#lower.ops.socketError;
  }

  get partner(): BufferEvent | null {
    return null;
  }

  get underlying(): BufferEvent | null {
    return this.#lower === null ? null : this.#lower.bev;
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

  /** The underlying reads only while we want bytes. */
  adjustRead(wanted: boolean): void {
    const lower = this.#lower;
    if (lower === null || wanted === this.#filterFlow) return;
    this.#filterFlow = wanted;
    if (wanted) lower.unsuspendRead(SUSPEND_FILT);
    else lower.suspendRead(SUSPEND_FILT);
  }

  readWaiting(): boolean {
    const lower = this.#lower;
    return lower !== null && (lower.input.length > 0 || this.#filterEof);
  }

  /** The read event, also run by the underlying's read callback: filter its input into ours, then the read callback. */
  onRead(): void {
    const core = this.#core;
    if (core.isFreed()) return;
    this.#filterIn(this.#filterEof ? "finished" : "normal");
    // A filter run above may have freed us; readTurn checks.
    core.readTurn();
  }

  writeWanted(): boolean {
    return this.#core.outputWaits();
  }

  writable(): boolean {
    return this.#lower !== null && !this.#underlyingFull("normal");
  }

  /** The write event: filter our output into the underlying's, then the write callback. */
  onWrite(): void {
    const core = this.#core;
    const moved = this.#filterOut("normal");
    if (core.isFreed()) return;
    if (moved > 0) {
      core.wroteSome(true);
      if (core.isFreed()) return;
    }
    core.syncWrite();
  }

  /** Run the filters in `mode`, then flush the underlying BufferEvent. */
  flush(events: number, mode: BufferEventFlushMode): void {
    const lower = this.#lower;
    if (lower === null) return;
    const core = this.#core;
    if (events & EV_READ && this.#filterIn(mode) > 0) core.activateRead();
    if (events & EV_WRITE && this.#filterOut(mode) > 0) {
      core.wroteSome(false);
      core.syncWrite();
    }
    if (!lower.isFreed()) lower.bev.flush(events, mode);
  }

  /** With closeOnFree the underlying goes too; otherwise it gets its callbacks back cleared and may read again. */
  release(abort: boolean, _was: BufferEventState): void {
    const core = this.#core;
    const lower = this.#lower;
    this.#lower = null;
    core.output.free();
    if (lower === null) return;
    if (core.closeOnFree) {
      lower.release(abort);
    } else if (!lower.isFreed()) {
      if (lower.eventCallbackIs(lowerEventCb, this)) lower.setCallbacks(null, null, null, undefined);
      lower.unsuspendRead(SUSPEND_FILT);
    }
  }

  // ---------------------------------------------------- underlying's events

  /** The underlying's write callback: it has room again. */
  onLowerWrite(): void {
    if (this.#core.canWrite()) this.onWrite();
  }

  /** The underlying's event callback: passed on, after an EOF lets the input filter emit what it held back. */
  onLowerEvent(what: number): void {
    const core = this.#core;
    if (core.isFreed()) return;
    if (what & BEV_EVENT_EOF) {
      this.#filterEof = true;
      this.onRead();
      if (core.isFreed()) return;
    }
    core.runEventcb(what, true);
  }

  // ---------------------------------------------------------------- filters

  #readbufFull(mode: BufferEventFlushMode): boolean {
    const core = this.#core;
    return mode === "normal" && core.wmReadHigh > 0 && core.input.length >= core.wmReadHigh;
  }

  #underlyingFull(mode: BufferEventFlushMode): boolean {
    const lower = this.#lower as BufferEventCore;
    return mode === "normal" && lower.wmWriteHigh > 0 && lower.output.length >= lower.wmWriteHigh;
  }

  /** Run the input filter from the underlying's input into ours (libevent `be_filter_process_input`); returns the bytes added. */
  #filterIn(mode: BufferEventFlushMode): number {
    const lower = this.#lower;
    if (lower === null) return 0;
    const core = this.#core;
    const src = lower.input;
    const dst = core.input;
    if (mode === "normal" && ((core.enabled & EV_READ) === 0 || this.#readbufFull(mode) || src.length === 0)) {
      return 0;
    }
    const before = dst.length;
    for (;;) {
      const high = core.wmReadHigh;
      const limit = mode === "normal" && high > 0 ? high - dst.length : Infinity;
      const srcBefore = src.length;
      const result = runFilter(this.#inFilter, src, dst, limit, mode);
      if (result === "error") {
        this.#filterFailed(BEV_EVENT_READING);
        break;
      }
      // A filter that took nothing would spin: stop, as on need_more.
      if (result !== "ok" || src.length === 0 || src.length === srcBefore) break;
      if ((core.enabled & EV_READ) === 0 || this.#readbufFull(mode)) break;
    }
    const got = dst.length - before;
    if (got > 0) core.gotInput(got);
    return got;
  }

  /** Run the output filter from our output into the underlying's (libevent `be_filter_process_output`); returns bytes taken from output. */
  #filterOut(mode: BufferEventFlushMode): number {
    const lower = this.#lower;
    if (lower === null) return 0;
    const core = this.#core;
    const src = core.output;
    if (mode === "normal" && ((core.enabled & EV_WRITE) === 0 || this.#underlyingFull(mode) || src.length === 0)) {
      return 0;
    }
    const before = src.length;
    for (;;) {
      const high = lower.wmWriteHigh;
      const limit = mode === "normal" && high > 0 ? high - lower.output.length : Infinity;
      const srcBefore = src.length;
      const result = runFilter(this.#outFilter, src, lower.output, limit, mode);
      if (result === "error") {
        this.#filterFailed(BEV_EVENT_WRITING);
        break;
      }
      if (result !== "ok" || src.length === 0 || src.length === srcBefore) break;
      if ((core.enabled & EV_WRITE) === 0 || this.#underlyingFull(mode)) break;
    }
    return before - src.length;
  }

  #filterFailed(direction: number): void {
    const core = this.#core;
    core.disable(direction === BEV_EVENT_READING ? EV_READ : EV_WRITE);
    core.runEventcb(direction | BEV_EVENT_ERROR, false);
  }
}
