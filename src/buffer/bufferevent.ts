/**
 * BufferEvent: libevent's `struct bufferevent` (bufferevent.h). A transport
 * (a platform socket, an in-memory partner, or another BufferEvent seen
 * through filters) with an input and an output {@linkcode EvBuffer}, read /
 * write / event callbacks run on an {@linkcode EventBase}'s loop,
 * watermarks, timeouts and token-bucket rate limits
 * (bufferevent_sock.c, bufferevent_pair.c, bufferevent_filter.c,
 * bufferevent_ratelim.c).
 *
 * @module
 */
import type {
  ConnectOptions,
  LocalBind,
  SocketHandlers,
  TcpSocket,
  TimerHandle,
  TlsConnectOptions,
} from "../platform.ts";
import { Event, EventBase } from "../event/event_base.ts";
import { EV_READ, EV_TIMEOUT, EV_WRITE } from "../event/flags.ts";
import { EvBuffer, type EvBufferCbEntry, type EvBufferCbInfo } from "./evbuffer.ts";

/** The event happened while reading (libevent `BEV_EVENT_READING`). */
export const BEV_EVENT_READING = 0x01;
/** The event happened while writing (libevent `BEV_EVENT_WRITING`). */
export const BEV_EVENT_WRITING = 0x02;
/** The peer closed its side: end of file (libevent `BEV_EVENT_EOF`). */
export const BEV_EVENT_EOF = 0x10;
/** An error; see {@linkcode BufferEvent.socketError} (libevent `BEV_EVENT_ERROR`). */
export const BEV_EVENT_ERROR = 0x20;
/** A read or write timeout elapsed (libevent `BEV_EVENT_TIMEOUT`). */
export const BEV_EVENT_TIMEOUT = 0x40;
/** A connect() finished (libevent `BEV_EVENT_CONNECTED`). */
export const BEV_EVENT_CONNECTED = 0x80;

/**
 * How hard {@linkcode BufferEvent.flush} pushes (libevent's
 * `enum bufferevent_flush_mode`): `"normal"` as usual (`BEV_NORMAL`),
 * `"flush"` past the watermarks (`BEV_FLUSH`), `"finished"` past them and
 * then signal the end of the stream (`BEV_FINISHED`).
 */
export type BufferEventFlushMode = "normal" | "flush" | "finished";

/** What a filter reports: libevent's `BEV_OK`, `BEV_NEED_MORE`, `BEV_ERROR`. */
export type BufferEventFilterResult = "ok" | "need_more" | "error";

/**
 * A filter for {@linkcode BufferEvent.filter}: libevent's
 * `bufferevent_filter_cb`. It moves (and transforms) bytes from `src` to
 * `dst`, putting at most `limit` bytes into `dst` when it can (`Infinity`
 * when there is no limit), and says whether it made progress (`"ok"`),
 * needs more input first (`"need_more"`), or failed (`"error"`). In
 * `"flush"` and `"finished"` mode it should emit everything it holds back;
 * `"finished"` also ends its output stream.
 */
export type BufferEventFilter = (
  src: EvBuffer,
  dst: EvBuffer,
  limit: number,
  mode: BufferEventFlushMode,
) => BufferEventFilterResult;

/** A read or write callback: libevent's `bufferevent_data_cb(bev, ctx)`. */
export type BufferEventDataCallback<A = unknown> = (bev: BufferEvent, arg: A) => void;

/** An event callback: libevent's `bufferevent_event_cb(bev, what, ctx)`; `what` mixes the `BEV_EVENT_*` flags. */
export type BufferEventEventCallback<A = unknown> = (bev: BufferEvent, what: number, arg: A) => void;

/** Options for the BufferEvent factories: libevent's `BEV_OPT_*` flags. */
export interface BufferEventOptions {
  /** Close the socket, or free the underlying BufferEvent, on free() (`BEV_OPT_CLOSE_ON_FREE`). Default false. */
  readonly closeOnFree?: boolean;
  /** Run the callbacks from a deferred event, never inside another callback (`BEV_OPT_DEFER_CALLBACKS`). Default false. */
  readonly deferCallbacks?: boolean;
}

/**
 * Where a BufferEvent is in its life:
 * - `"idle"`: a socket BufferEvent with no socket yet;
 * - `"connecting"`: connect() / connectTls() is under way;
 * - `"open"`: bytes can flow;
 * - `"closed"`: the socket closed, a connect failed, or a pair's partner was freed;
 * - `"freed"`: free() was called.
 */
export type BufferEventState = "idle" | "connecting" | "open" | "closed" | "freed";

/** A low and a high watermark in bytes, from {@linkcode BufferEvent.getWatermark}; 0 for high means none. */
export interface BufferEventWatermark {
  /** The low watermark. */
  readonly low: number;
  /** The high watermark; 0 means unlimited. */
  readonly high: number;
}

/** Options for {@linkcode TokenBucketConfig}: libevent's `ev_token_bucket_cfg_new` arguments. */
export interface TokenBucketOptions {
  /** Bytes that may be read per tick, on average; an integer >= 1. */
  readonly readRate: number;
  /** The most bytes that may be read in one tick after idle ticks; >= readRate, defaults to readRate. */
  readonly readBurst?: number;
  /** Bytes that may be written per tick, on average; an integer >= 1. */
  readonly writeRate: number;
  /** The most bytes that may be written in one tick after idle ticks; >= writeRate, defaults to writeRate. */
  readonly writeBurst?: number;
  /** The tick length in milliseconds; > 0, defaults to 1000. */
  readonly tickMs?: number;
}

/** Bytes a rate-limit group's members have read and written, from {@linkcode RateLimitGroup.getTotals}. */
export interface RateLimitTotals {
  /** Bytes read by members since the group was made or its totals reset. */
  readonly read: number;
  /** Bytes written by members since the group was made or its totals reset. */
  readonly written: number;
}

type BufferEventKind = "socket" | "pair" | "filter";
/** The socket took everything offered so far, or asked us to wait for `drain`. */
type WriteState = "ready" | "blocked";
/** Whether our side of the socket was shut: flush("finished") asks for it once output is written. */
type ShutdownState = "open" | "finishing" | "ended";
/** The peer's side: open, EOF seen but staged bytes still to deliver, EOF delivered, or failed. */
type ReadEnd = "open" | "eof_pending" | "eof" | "error";
type FileLoadState = "idle" | "loading";

// Why reading is held back although enabled (libevent's BEV_SUSPEND_*).
const SUSPEND_WM = 0x01;
const SUSPEND_BW = 0x02;
const SUSPEND_BW_GROUP = 0x04;
const SUSPEND_FILT = 0x08;

// Deferred callbacks waiting to run.
const PENDING_READ = 0x01;
const PENDING_WRITE = 0x02;

/** File segments of the output are read in pieces of this size before they are written. */
const FILE_PIECE = 65536;
/**
 * How long a lingering free() reads and discards after its FIN, waiting for
 * the peer to close, before closing itself (Apache's lingering close waits
 * 2 s for each read).
 */
const LINGER_MS = 2000;
/** libevent's default minimum share of a group's bucket per member and operation. */
const DEFAULT_MIN_SHARE = 64;

const EMPTY = new Uint8Array(0);

/** A token bucket's state: libevent's `struct ev_token_bucket`. */
interface Bucket {
  read: number;
  write: number;
  /** The tick number (clock ms / tickMs) the limits were last refilled for. */
  tick: number;
}

function newBucket(cfg: TokenBucketConfig, now: number): Bucket {
  return { read: cfg.readRate, write: cfg.writeRate, tick: Math.floor(now / cfg.tickMs) };
}

/** Add the tokens of the ticks that passed since the last refill, up to the bursts. */
function refillBucket(bucket: Bucket, cfg: TokenBucketConfig, now: number): void {
  const tick = Math.floor(now / cfg.tickMs);
  const ticks = tick - bucket.tick;
  if (ticks <= 0) return;
  bucket.read = Math.min(cfg.readBurst, bucket.read + ticks * cfg.readRate);
  bucket.write = Math.min(cfg.writeBurst, bucket.write + ticks * cfg.writeRate);
  bucket.tick = tick;
}

/** A new config keeps what was spent this tick, clipped to the new bursts, and counts ticks its own way. */
function rebaseBucket(bucket: Bucket, old: TokenBucketConfig, cfg: TokenBucketConfig, now: number): void {
  if (bucket.read > cfg.readBurst) bucket.read = cfg.readBurst;
  if (bucket.write > cfg.writeBurst) bucket.write = cfg.writeBurst;
  if (old.tickMs !== cfg.tickMs) bucket.tick = Math.floor(now / cfg.tickMs);
}

/** Milliseconds from `now` to the start of the next tick, so refills land on tick boundaries. */
function untilNextTick(cfg: TokenBucketConfig, now: number): number {
  return (Math.floor(now / cfg.tickMs) + 1) * cfg.tickMs - now;
}

/** The null filter (libevent's `be_null_filter`): pass bytes through unchanged, without copying. */
function passThrough(src: EvBuffer, dst: EvBuffer, limit: number): BufferEventFilterResult {
  src.removeBuffer(dst, limit);
  return "ok";
}

function checkEvents(events: unknown, name: string): number {
  if (typeof events !== "number" || !Number.isInteger(events) || (events & ~(EV_READ | EV_WRITE)) !== 0) {
    throw new RangeError(`${name} must be a mix of EV_READ and EV_WRITE, got ${String(events)}`);
  }
  return events;
}

function checkCount(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}

function checkTimeout(value: unknown, name: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function checkOptions(options: unknown): { closeOnFree: boolean; deferCallbacks: boolean } {
  if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
  const { closeOnFree, deferCallbacks } = options as BufferEventOptions;
  if (closeOnFree !== undefined && typeof closeOnFree !== "boolean") {
    throw new TypeError("options.closeOnFree must be a boolean");
  }
  if (deferCallbacks !== undefined && typeof deferCallbacks !== "boolean") {
    throw new TypeError("options.deferCallbacks must be a boolean");
  }
  return { closeOnFree: closeOnFree === true, deferCallbacks: deferCallbacks === true };
}

function checkPort(port: unknown, name: string): void {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${name} must be an integer in 0..65535, got ${String(port)}`);
  }
}

function checkTarget(target: unknown): void {
  if (target === null || typeof target !== "object") throw new TypeError("target must be { host, port } or { path }");
  const { host, port, path } = target as { host?: unknown; port?: unknown; path?: unknown };
  if (path !== undefined) {
    if (typeof path !== "string" || path === "") throw new TypeError("target.path must be a non-empty string");
    return;
  }
  if (typeof host !== "string" || host === "") throw new TypeError("target.host must be a non-empty string");
  checkPort(port, "target.port");
  checkLocalBind(target as LocalBind, "target");
}

/** A local address and port, when given, must be a non-empty string and a port. */
function checkLocalBind(options: LocalBind, name: string): void {
  const { localAddress, localPort } = options;
  if (localAddress !== undefined && (typeof localAddress !== "string" || localAddress === "")) {
    throw new TypeError(`${name}.localAddress must be a non-empty string`);
  }
  if (localPort !== undefined) checkPort(localPort, `${name}.localPort`);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Made in BufferEvent's static block, where its methods can reach the private handlers. */
let SocketSink!: new (bev: BufferEvent) => SocketHandlers;

// Ways into the private state of the other class in this file (set in static blocks).
let setGroupSuspended!: (bev: BufferEvent, read: boolean, on: boolean) => void;
let groupShare!: (group: RateLimitGroup, read: boolean) => number;
let groupConsume!: (group: RateLimitGroup, read: boolean, n: number) => void;
let groupJoin!: (group: RateLimitGroup, bev: BufferEvent) => void;
let groupLeave!: (group: RateLimitGroup, bev: BufferEvent) => void;
let groupBase!: (group: RateLimitGroup) => EventBase;

/**
 * A token-bucket configuration: libevent's `struct ev_token_bucket_cfg`
 * (`ev_token_bucket_cfg_new`). Each tick adds `rate` tokens (bytes) to a
 * bucket that holds at most `burst`; a fresh bucket starts with one tick's
 * worth. One config may be shared by many BufferEvents; each gets its own
 * bucket.
 *
 * @example
 * ```ts
 * import { TokenBucketConfig } from "@levent/levent/buffer";
 * // 64 KiB per second each way, bursts up to 256 KiB after idle seconds.
 * const cfg = new TokenBucketConfig({ readRate: 65536, readBurst: 262144, writeRate: 65536, writeBurst: 262144 });
 * console.log(cfg.tickMs); // 1000
 * ```
 */
export class TokenBucketConfig {
  /** Bytes per tick that may be read. */
  readonly readRate: number;
  /** The most read tokens the bucket holds. */
  readonly readBurst: number;
  /** Bytes per tick that may be written. */
  readonly writeRate: number;
  /** The most write tokens the bucket holds. */
  readonly writeBurst: number;
  /** The tick length in milliseconds. */
  readonly tickMs: number;

  /**
   * Make a configuration (libevent `ev_token_bucket_cfg_new`).
   *
   * @throws {TypeError} if options is not an object
   * @throws {RangeError} naming the field, if a rate is not an integer >= 1, a burst is below its rate, or tickMs is not > 0
   */
  constructor(options: TokenBucketOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    const rate = (value: unknown, name: string): number => {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be an integer >= 1, got ${String(value)}`);
      }
      return value;
    };
    const burst = (value: unknown, min: number, name: string, rateName: string): number => {
      if (value === undefined) return min;
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
        throw new RangeError(`${name} must be an integer >= ${rateName} (${min}), got ${String(value)}`);
      }
      return value;
    };
    this.readRate = rate(options.readRate, "readRate");
    this.readBurst = burst(options.readBurst, this.readRate, "readBurst", "readRate");
    this.writeRate = rate(options.writeRate, "writeRate");
    this.writeBurst = burst(options.writeBurst, this.writeRate, "writeBurst", "writeRate");
    const tickMs = options.tickMs ?? 1000;
    if (typeof tickMs !== "number" || !(tickMs > 0) || !Number.isFinite(tickMs)) {
      throw new RangeError(`tickMs must be a finite number > 0, got ${String(tickMs)}`);
    }
    this.tickMs = tickMs;
  }
}

/**
 * A buffered connection: libevent's `struct bufferevent`. Bytes from the
 * transport land in {@linkcode BufferEvent.input}; bytes put in
 * {@linkcode BufferEvent.output} are sent. The read callback runs on the
 * loop when input holds at least the read low watermark, the write callback
 * when output has drained to the write low watermark, and the event
 * callback on CONNECTED, EOF, ERROR and TIMEOUT.
 *
 * Three kinds, made by static factories: {@linkcode BufferEvent.socket}
 * over a platform socket (plain or TLS), {@linkcode BufferEvent.pair} for
 * two linked in-memory ends, and {@linkcode BufferEvent.filter} over
 * another BufferEvent. As in libevent, a new BufferEvent has writing
 * enabled and reading disabled.
 *
 * Memory stays bounded: at the read high watermark, a socket BufferEvent
 * pauses its socket (the kernel buffer fills and the peer's writes block),
 * and output is handed to the socket only while it has not asked to wait.
 *
 * @example
 * ```ts
 * import { EV_READ, EventBase } from "@levent/levent/event";
 * import { BEV_EVENT_CONNECTED, BufferEvent } from "@levent/levent/buffer";
 * const base = new EventBase();
 * const bev = BufferEvent.socket(base, null, { closeOnFree: true });
 * bev.setCallbacks(
 *   (b) => console.log(new TextDecoder().decode(b.read())),
 *   null,
 *   (b, what) => {
 *     if (what & BEV_EVENT_CONNECTED) b.write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
 *     else b.free(); // EOF, error or timeout
 *   },
 * );
 * bev.enable(EV_READ);
 * bev.connect({ host: "example.com", port: 80 });
 * await base.dispatch(); // returns once the connection is freed
 * ```
 */
export class BufferEvent {
  static readonly #readKickCb = (_s: unknown, _w: number, bev: BufferEvent): void => bev.#onReadKick();
  static readonly #writeKickCb = (_s: unknown, _w: number, bev: BufferEvent): void => bev.#onWriteKick();
  static readonly #readTimerCb = (_s: unknown, _w: number, bev: BufferEvent): void => bev.#onReadTimer();
  static readonly #writeTimerCb = (_s: unknown, _w: number, bev: BufferEvent): void => bev.#onWriteTimer();
  static readonly #deferredCb = (_s: unknown, _w: number, bev: BufferEvent): void => bev.#onDeferred();
  static readonly #noop = (): void => {};

  static {
    // The socket's handlers: one object per connection whose methods are
    // on its prototype, instead of an object and five closures.
    SocketSink = class implements SocketHandlers {
      readonly #bev: BufferEvent;
      constructor(bev: BufferEvent) {
        this.#bev = bev;
      }
      data(bytes: Uint8Array, owned: boolean): void {
        this.#bev.#onData(bytes, owned);
      }
      end(): void {
        this.#bev.#onEnd();
      }
      drain(): void {
        this.#bev.#onDrain();
      }
      finish(): void {
        this.#bev.#onFinish();
      }
      error(err: Error): void {
        this.#bev.#onError(err);
      }
      close(): void {
        this.#bev.#onClose();
      }
    };
  }

  static {
    setGroupSuspended = (bev, read, on) => {
      if (read) {
        if (on) bev.#suspendRead(SUSPEND_BW_GROUP);
        else bev.#unsuspendRead(SUSPEND_BW_GROUP);
      } else if (on) bev.#suspendWrite(SUSPEND_BW_GROUP);
      else bev.#unsuspendWrite(SUSPEND_BW_GROUP);
    };
  }

  readonly #base: EventBase;
  readonly #kind: BufferEventKind;
  readonly #closeOnFree: boolean;
  readonly #defer: boolean;
  #state: BufferEventState = "idle";
  readonly #input = new EvBuffer();
  readonly #output = new EvBuffer();
  readonly #outputCb: EvBufferCbEntry;
  /** Watches input for the read high watermark; only registered once one is set. */
  #inputCb: EvBufferCbEntry | null = null;

  #readcb: BufferEventDataCallback<unknown> | null = null;
  #writecb: BufferEventDataCallback<unknown> | null = null;
  #eventcb: BufferEventEventCallback<unknown> | null = null;
  #cbArg: unknown = undefined;

  #enabled = EV_WRITE;
  #readSuspend = 0;
  #writeSuspend = 0;
  #wmReadLow = 0;
  #wmReadHigh = 0;
  #wmWriteLow = 0;
  #wmWriteHigh = 0;
  #readTimeout = 0;
  #writeTimeout = 0;
  /** Clock time of the last read / write progress, for the lazily checked timeouts. */
  #lastRead = 0;
  #lastWrite = 0;

  // Events: kicks run the read / write work on the loop; the timers are
  // pending while reading / writing is wanted (keeping the loop alive, as
  // libevent's ev_read / ev_write do) and carry the timeouts; #cbEv() runs
  // queued callbacks.
  readonly #readEv: Event<BufferEvent>;
  readonly #writeEv: Event<BufferEvent>;
  // Made on first use: most connections never defer a callback, and only
  // those with output waiting need a write timer; an idle one then holds less.
  #cbEvent: Event<BufferEvent> | null = null;
  readonly #readTimer: Event<BufferEvent>;
  #writeTimerEvent: Event<BufferEvent> | null = null;
  #readPending = false;
  #writePending = false;
  /** Bytes entered input since the read callback last had its chance. */
  #inputFresh = false;
  #pendingCbs = 0;
  #pendingEvents = 0;

  // Socket kind.
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

  // Pair kind.
  #partner: BufferEvent | null = null;

  // Filter kind.
  #underlying: BufferEvent | null = null;
  #inFilter: BufferEventFilter | null = null;
  #outFilter: BufferEventFilter | null = null;
  #filterEof = false;
  /** Whether the underlying BufferEvent was last allowed to read for us. */
  #filterFlow = false;

  // Rate limiting (socket kind).
  #rlCfg: TokenBucketConfig | null = null;
  #bucket: Bucket = { read: 0, write: 0, tick: 0 };
  #group: RateLimitGroup | null = null;
  #refillEv: Event | null = null;
  #rlActive = false;

  private constructor(base: EventBase, kind: BufferEventKind, options: BufferEventOptions) {
    this.#base = base;
    this.#kind = kind;
    this.#closeOnFree = options.closeOnFree === true;
    this.#defer = options.deferCallbacks === true;
    // Static callbacks with the BufferEvent as the argument: no closures per instance.
    this.#readEv = new Event<BufferEvent>(base, null, 0, BufferEvent.#readKickCb, this);
    this.#writeEv = new Event<BufferEvent>(base, null, 0, BufferEvent.#writeKickCb, this);
    this.#readTimer = new Event<BufferEvent>(base, null, 0, BufferEvent.#readTimerCb, this);
    this.#outputCb = this.#output.addCb(this.#onOutputChange);
  }

  // ------------------------------------------------------------ factories

  /**
   * A BufferEvent over a platform socket (libevent `bufferevent_socket_new`).
   * With a socket (accepted by `platform.listen` or `platform.listenTls`, or
   * connected by the caller) it starts at once in state `"open"`; with null,
   * call {@linkcode BufferEvent.connect} or {@linkcode BufferEvent.connectTls}.
   * The BufferEvent starts the socket with its own handlers; reading stays
   * paused until `enable(EV_READ)`.
   *
   * @throws {TypeError} if base is not an EventBase, socket is not a TcpSocket or null, or options are malformed
   */
  static socket(base: EventBase, socket: TcpSocket | null, options: BufferEventOptions = {}): BufferEvent {
    if (!(base instanceof EventBase)) throw new TypeError("base must be an EventBase");
    if (socket !== null && (typeof socket !== "object" || typeof socket.start !== "function")) {
      throw new TypeError("socket must be a TcpSocket or null");
    }
    const bev = new BufferEvent(base, "socket", checkOptions(options));
    if (socket !== null) bev.#attach(socket);
    return bev;
  }

  /**
   * Two linked in-memory BufferEvents (libevent `bufferevent_pair_new`):
   * bytes written to one's output are moved, without copying, into the
   * other's input, as far as the receiver's read high watermark allows and
   * while the receiver reads and the sender writes. Callbacks are always
   * deferred, as in libevent. Freeing one end gives the other its remaining
   * bytes and then an event callback with `READING|EOF`.
   *
   * @throws {TypeError} if base is not an EventBase or options are malformed
   */
  static pair(base: EventBase, options: BufferEventOptions = {}): [BufferEvent, BufferEvent] {
    if (!(base instanceof EventBase)) throw new TypeError("base must be an EventBase");
    const opts = { ...checkOptions(options), deferCallbacks: true };
    const a = new BufferEvent(base, "pair", opts);
    const b = new BufferEvent(base, "pair", opts);
    for (const [self, other] of [[a, b], [b, a]]) {
      self.#partner = other;
      self.#state = "open";
      // As in libevent: only the pair itself adds to input or takes from output.
      self.#input.freeze(false);
      self.#output.freeze(true);
    }
    return [a, b];
  }

  /**
   * A BufferEvent that sees `underlying` through filters (libevent
   * `bufferevent_filter_new`): the input filter moves bytes from
   * `underlying.input` to this input, the output filter from this output to
   * `underlying.output`; null passes bytes through unchanged. The filter
   * takes over the underlying's callbacks and enables its reading and
   * writing; the underlying reads only while this BufferEvent wants data.
   * A filter returning `"error"` disables that direction and raises
   * `READING|ERROR` or `WRITING|ERROR`. With closeOnFree, free() frees the
   * underlying too.
   *
   * @throws {TypeError} if underlying is not a live BufferEvent, a filter is neither a function nor null, or options are malformed
   */
  static filter(
    underlying: BufferEvent,
    inputFilter: BufferEventFilter | null,
    outputFilter: BufferEventFilter | null,
    options: BufferEventOptions = {},
  ): BufferEvent {
    if (!(underlying instanceof BufferEvent)) throw new TypeError("underlying must be a BufferEvent");
    underlying.#checkLive("filter");
    if (inputFilter !== null && typeof inputFilter !== "function") {
      throw new TypeError("inputFilter must be a function or null");
    }
    if (outputFilter !== null && typeof outputFilter !== "function") {
      throw new TypeError("outputFilter must be a function or null");
    }
    const bev = new BufferEvent(underlying.#base, "filter", checkOptions(options));
    bev.#underlying = underlying;
    bev.#inFilter = inputFilter;
    bev.#outFilter = outputFilter;
    bev.#state = "open";
    underlying.setCallbacks(BufferEvent.#lowerReadCb, BufferEvent.#lowerWriteCb, BufferEvent.#lowerEventCb, bev);
    // Held back before reading is enabled, so the socket never starts flowing for nobody.
    underlying.#suspendRead(SUSPEND_FILT);
    underlying.enable(EV_READ | EV_WRITE);
    return bev;
  }

  // ------------------------------------------------------------- accessors

  /** The bytes received and not yet read (libevent `bufferevent_get_input`). */
  get input(): EvBuffer {
    return this.#input;
  }

  /**
   * The bytes waiting to be sent (libevent `bufferevent_get_output`). When a
   * socket BufferEvent's connection closes, what output still holds is
   * dropped, since nothing can send it, and its file handles are closed.
   */
  get output(): EvBuffer {
    return this.#output;
  }

  /** The loop the callbacks run on (libevent `bufferevent_get_base`). */
  get base(): EventBase {
    return this.#base;
  }

  /**
   * The platform socket, or null before connect and for pairs and filters
   * (libevent `bufferevent_getfd`).
   */
  get socket(): TcpSocket | null {
    return this.#socket;
  }

  /**
   * The error behind the last `BEV_EVENT_ERROR`: a coded Error from the
   * platform (`err.code` is `"ECONNREFUSED"`, `"ECONNRESET"`, `"ETLS"`...),
   * or null (libevent `bufferevent_socket_get_error` / `EVUTIL_SOCKET_ERROR`).
   * A filter reports its underlying BufferEvent's.
   */
  get socketError(): Error | null {
    return this.#underlying !== null ? this.#underlying.socketError : this.#socketError;
  }

  /** Where the BufferEvent is in its life; see {@linkcode BufferEventState}. */
  get state(): BufferEventState {
    return this.#state;
  }

  /** The other end of a pair, or null (libevent `bufferevent_pair_get_partner`). */
  getPartner(): BufferEvent | null {
    return this.#partner;
  }

  /** The BufferEvent a filter reads and writes through, or null (libevent `bufferevent_get_underlying`). */
  getUnderlying(): BufferEvent | null {
    return this.#underlying;
  }

  /** Which of EV_READ and EV_WRITE are enabled (libevent `bufferevent_get_enabled`). */
  getEnabled(): number {
    return this.#enabled;
  }

  /**
   * The low and high watermark for EV_READ or EV_WRITE (libevent
   * `bufferevent_getwatermark`).
   *
   * @throws {RangeError} unless events is exactly EV_READ or EV_WRITE
   */
  getWatermark(events: number): BufferEventWatermark {
    if (events === EV_READ) return { low: this.#wmReadLow, high: this.#wmReadHigh };
    if (events === EV_WRITE) return { low: this.#wmWriteLow, high: this.#wmWriteHigh };
    throw new RangeError(`events must be EV_READ or EV_WRITE, got ${String(events)}`);
  }

  // ------------------------------------------------------------ callbacks

  /**
   * Set the callbacks and their argument (libevent `bufferevent_setcb`);
   * null turns one off. `readcb(bev, arg)` runs when input holds at least
   * the read low watermark after bytes arrived, `writecb(bev, arg)` when
   * output drained to the write low watermark, `eventcb(bev, what, arg)` on
   * the `BEV_EVENT_*` events. All run on the loop.
   *
   * @throws {TypeError} if a callback is neither a function nor null, or the BufferEvent was freed
   */
  setCallbacks<A = unknown>(
    readcb: BufferEventDataCallback<A> | null,
    writecb: BufferEventDataCallback<A> | null,
    eventcb: BufferEventEventCallback<A> | null,
    arg?: A,
  ): void {
    this.#checkLive("setCallbacks");
    for (const [cb, name] of [[readcb, "readcb"], [writecb, "writecb"], [eventcb, "eventcb"]] as const) {
      if (cb !== null && typeof cb !== "function") throw new TypeError(`${name} must be a function or null`);
    }
    this.#readcb = readcb as BufferEventDataCallback<unknown> | null;
    this.#writecb = writecb as BufferEventDataCallback<unknown> | null;
    this.#eventcb = eventcb as BufferEventEventCallback<unknown> | null;
    this.#cbArg = arg;
  }

  // ------------------------------------------------------------- enabling

  /**
   * Start reading and/or writing (libevent `bufferevent_enable`). Enabling
   * restarts that direction's timeout.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE
   * @throws {TypeError} if the BufferEvent was freed
   */
  enable(events: number): void {
    checkEvents(events, "events");
    this.#checkLive("enable");
    this.#enabled |= events;
    if (events & EV_READ) {
      if (this.#readPending) this.#lastRead = this.#base.now();
      this.#syncRead();
      this.#kickRead();
    }
    if (events & EV_WRITE) {
      if (this.#writePending) this.#lastWrite = this.#base.now();
      this.#syncWrite();
      if (this.#output.length > 0 && this.#canWrite()) this.#writeEv.active(EV_WRITE);
    }
  }

  /**
   * Stop reading and/or writing (libevent `bufferevent_disable`). A socket
   * BufferEvent with reading disabled pauses its socket.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE
   * @throws {TypeError} if the BufferEvent was freed
   */
  disable(events: number): void {
    checkEvents(events, "events");
    this.#checkLive("disable");
    this.#enabled &= ~events;
    if (events & EV_READ) this.#syncRead();
    if (events & EV_WRITE) this.#syncWrite();
  }

  /**
   * Set the watermarks for EV_READ and/or EV_WRITE (libevent
   * `bufferevent_setwatermark`). Read low: the read callback waits until
   * input holds this many bytes. Read high (0 = none): input never grows
   * past it; a socket is paused meanwhile. Write low: the write callback
   * runs once output is this small. Write high: a filter above this
   * BufferEvent stops filling its output at this size.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE, a mark is not an integer >= 0, or low > high with high set
   * @throws {TypeError} if the BufferEvent was freed
   */
  setWatermark(events: number, low: number, high: number): void {
    checkEvents(events, "events");
    checkCount(low, "low");
    checkCount(high, "high");
    if (high > 0 && low > high) throw new RangeError(`low (${low}) must not be above high (${high})`);
    this.#checkLive("setWatermark");
    if (events & EV_WRITE) {
      this.#wmWriteLow = low;
      this.#wmWriteHigh = high;
    }
    if (events & EV_READ) {
      this.#wmReadLow = low;
      this.#wmReadHigh = high;
      if (high > 0) {
        if (this.#inputCb === null) this.#inputCb = this.#input.addCb(this.#onInputChange);
        else this.#input.setCbFlags(this.#inputCb, true);
        if (this.#input.length >= high) this.#suspendRead(SUSPEND_WM);
        else this.#unsuspendRead(SUSPEND_WM);
      } else {
        if (this.#inputCb !== null) this.#input.setCbFlags(this.#inputCb, false);
        this.#unsuspendRead(SUSPEND_WM);
      }
    }
  }

  /**
   * Set the read and write timeouts in milliseconds; 0 or undefined means
   * none (libevent `bufferevent_set_timeouts`). The read timeout fires when
   * reading is enabled and nothing arrived for that long; the write timeout
   * when there are bytes to send (in output, or in a socket queue that
   * asked us to wait) and none went out for that long. Either one raises
   * `READING|TIMEOUT` or `WRITING|TIMEOUT` and disables that direction; a
   * write timeout during connect limits the connect. Setting a timeout
   * restarts it.
   *
   * @throws {RangeError} if a timeout is negative or not a finite number
   * @throws {TypeError} if the BufferEvent was freed
   */
  setTimeouts(readMs?: number, writeMs?: number): void {
    const r = checkTimeout(readMs, "readMs");
    const w = checkTimeout(writeMs, "writeMs");
    this.#checkLive("setTimeouts");
    this.#readTimeout = r;
    this.#writeTimeout = w;
    if (this.#readPending) {
      this.#readPending = false;
      this.#readTimer.del();
    }
    if (this.#writePending) {
      this.#writePending = false;
      this.#writeTimerEvent?.del();
    }
    this.#syncRead();
    this.#syncWrite();
  }

  // -------------------------------------------------------------- reading

  /**
   * Take up to `max` bytes (default: all) from the front of input (libevent
   * `bufferevent_read`). The result may share memory with the bytes as they
   * arrived, so it costs no copy when they are in one piece.
   *
   * @throws {RangeError} if max is not an integer >= 0
   * @throws {TypeError} if the BufferEvent was freed
   */
  read(max?: number): Uint8Array {
    if (max !== undefined) checkCount(max, "max");
    this.#checkLive("read");
    const input = this.#input;
    let n = input.length;
    if (max !== undefined && max < n) n = max;
    if (n === 0) return EMPTY;
    const bytes = input.pullup(n);
    input.drain(n);
    return bytes;
  }

  /**
   * Move all of input to the end of `dst` without copying (libevent
   * `bufferevent_read_buffer`).
   *
   * @returns the number of bytes moved
   * @throws {TypeError} if dst is not an EvBuffer or the BufferEvent was freed
   */
  readBuffer(dst: EvBuffer): number {
    if (!(dst instanceof EvBuffer)) throw new TypeError("dst must be an EvBuffer");
    this.#checkLive("readBuffer");
    const n = this.#input.length;
    dst.addBuffer(this.#input);
    return n;
  }

  // -------------------------------------------------------------- writing

  /**
   * Queue bytes or a string (as UTF-8) for sending (libevent
   * `bufferevent_write`). Bytes are kept, not copied (see EvBuffer.add):
   * do not change them afterwards. Writes made in one loop pass go out
   * together.
   *
   * @throws {TypeError} if data is neither a Uint8Array nor a string, or the BufferEvent was freed
   */
  write(data: Uint8Array | string): void {
    this.#checkLive("write");
    if (typeof data === "string") this.#output.addString(data);
    else if (data instanceof Uint8Array) this.#output.add(data);
    else throw new TypeError("data must be a Uint8Array or a string");
  }

  /**
   * Move all bytes of `src` to the end of output without copying (libevent
   * `bufferevent_write_buffer`).
   *
   * @throws {TypeError} if src is not an EvBuffer or the BufferEvent was freed
   */
  writeBuffer(src: EvBuffer): void {
    if (!(src instanceof EvBuffer)) throw new TypeError("src must be an EvBuffer");
    this.#checkLive("writeBuffer");
    this.#output.addBuffer(src);
  }

  /**
   * Push data through now, past the watermarks where the mode says so
   * (libevent `bufferevent_flush`).
   *
   * - socket: EV_WRITE sends output on the loop's next pass; with
   *   `"finished"` the socket is shut for writing (FIN) once output is sent.
   * - pair: `"flush"` and `"finished"` move bytes to the partner regardless
   *   of its watermark (EV_WRITE: ours to it, EV_READ: its to us);
   *   `"finished"` then gives the partner `EOF` (with READING for EV_WRITE,
   *   WRITING for EV_READ).
   * - filter: runs the filters in this mode (so a compressor can emit what
   *   it holds, or end its stream), then flushes the underlying BufferEvent.
   *
   * @throws {RangeError} if events is not a mix of EV_READ and EV_WRITE, or mode is unknown
   * @throws {TypeError} if the BufferEvent was freed
   */
  flush(events: number, mode: BufferEventFlushMode = "flush"): void {
    checkEvents(events, "events");
    if (mode !== "normal" && mode !== "flush" && mode !== "finished") {
      throw new RangeError(`mode must be "normal", "flush" or "finished", got ${String(mode)}`);
    }
    this.#checkLive("flush");
    switch (this.#kind) {
      case "socket":
        if ((events & EV_WRITE) === 0) return;
        if (mode === "finished" && this.#shutdown === "open") {
          this.#shutdown = "finishing";
          this.#finishWrite();
        }
        if (this.#output.length > 0 && this.#canWrite()) this.#writeEv.active(EV_WRITE);
        return;
      case "pair":
        this.#flushPair(events, mode);
        return;
      case "filter":
        this.#flushFilter(events, mode);
        return;
    }
  }

  // ----------------------------------------------------------- connecting

  /**
   * Connect to a host and port, or a Unix socket path (libevent
   * `bufferevent_socket_connect` / `bufferevent_socket_connect_hostname`;
   * the name is resolved by the platform). The result comes through the
   * event callback: `BEV_EVENT_CONNECTED`, or `BEV_EVENT_ERROR` with
   * {@linkcode BufferEvent.socketError} set (`ECONNREFUSED`, `ENOTFOUND`...).
   * Bytes written meanwhile are sent once connected.
   *
   * @throws {TypeError} if target is malformed, this is not a socket BufferEvent, it has a socket already, or it was freed
   * @throws {RangeError} if target.port is not in 0..65535
   */
  connect(target: ConnectOptions): void {
    checkTarget(target);
    this.#checkConnectable("connect");
    this.#startConnect(this.#base.platform.connect(target));
  }

  /**
   * Connect over TLS (libevent `bufferevent_openssl_socket_new` with
   * `BUFFEREVENT_SSL_CONNECTING`, then connect): like
   * {@linkcode BufferEvent.connect}, with the handshake done by the
   * platform before CONNECTED. A handshake or certificate failure raises
   * `BEV_EVENT_ERROR` with socketError's code `"ETLS"`. For the server side,
   * pass a socket accepted by `platform.listenTls` to
   * {@linkcode BufferEvent.socket}.
   *
   * @throws {TypeError} if options are malformed, this is not a socket BufferEvent, it has a socket already, or it was freed
   * @throws {RangeError} if options.port is not in 0..65535
   */
  connectTls(options: TlsConnectOptions): void {
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    if (typeof options.host !== "string" || options.host === "") {
      throw new TypeError("options.host must be a non-empty string");
    }
    checkPort(options.port, "options.port");
    checkLocalBind(options, "options");
    this.#checkConnectable("connectTls");
    this.#startConnect(this.#base.platform.connectTls(options));
  }

  // ------------------------------------------------------------- freeing

  /**
   * Release the BufferEvent (libevent `bufferevent_free`). Callbacks stop at
   * once. With closeOnFree, a socket BufferEvent still sends what is in
   * output, then shuts the socket (FIN) and discards what arrives until the
   * peer closes; a filter frees its underlying BufferEvent. Without it, the
   * socket is paused and left open to its owner, and unsent output is
   * dropped. A pair end hands its remaining output to the partner, which
   * then sees `READING|EOF`. Calling free() again does nothing; any other
   * method then throws TypeError.
   *
   * While a socket BufferEvent lingers to send its output, the base's loop
   * keeps running, as for a pending event: `dispatch()` returns (and a
   * program that then exits loses nothing) only once every byte, file
   * segments included, is with the kernel and FIN is out, or the connection
   * failed or closed. The discarding read after that does not hold the loop.
   * Output that will not be sent is released at once, closing the file
   * handles of its file segments. To drop output and reset the connection
   * instead, use {@linkcode BufferEvent.abort}.
   */
  free(): void {
    this.#release(false);
  }

  /**
   * Abort the connection and release the BufferEvent: what libevent programs
   * do by setting `SO_LINGER` to {1, 0} on `bufferevent_getfd(bev)` and then
   * calling `bufferevent_free()` with `BEV_OPT_CLOSE_ON_FREE`. Callbacks stop
   * at once; nothing more is sent, what output holds is dropped (file
   * segments' handles are closed), and the peer sees a reset (RST) instead
   * of an orderly end, so it cannot take a cut stream for a whole one.
   * Where the runtime cannot send RST (Deno; Unix and, on Node and Deno, TLS
   * sockets), the socket is closed at once instead (see `TcpSocket.reset`).
   *
   * A socket BufferEvent resets its socket whether or not it has
   * closeOnFree; a pair end gives its partner `READING|ERROR` with a
   * socketError whose code is `"ECONNRESET"` (not the EOF that free() gives)
   * and hands it nothing more; a filter aborts its underlying BufferEvent
   * when it owns it (closeOnFree), and otherwise is freed as by free().
   * Calling abort() or free() again does nothing.
   *
   * @example
   * ```ts ignore
   * // A proxy passing an upstream reset on to its client as a reset.
   * if (what & BEV_EVENT_ERROR && (upstream.socketError as { code?: string } | null)?.code === "ECONNRESET") {
   *   client.abort();
   *   upstream.free();
   * }
   * ```
   */
  abort(): void {
    this.#release(true);
  }

  /** free() and abort(). */
  #release(abort: boolean): void {
    if (this.#state === "freed") return;
    const was = this.#state;
    this.#state = "freed";
    this.#readcb = this.#writecb = this.#eventcb = null;
    this.#cbArg = undefined;
    if (this.#group !== null) groupLeave(this.#group, this);
    this.#group = null;
    this.#rlCfg = null;
    this.#rlActive = false;
    this.#refillEv?.free();
    this.#readEv.free();
    this.#writeEv.free();
    this.#cbEvent?.free();
    this.#readTimer.free();
    this.#writeTimerEvent?.free();
    this.#readPending = this.#writePending = false;
    this.#output.removeCb(this.#outputCb);
    if (this.#inputCb !== null) this.#input.removeCb(this.#inputCb);
    switch (this.#kind) {
      case "socket": {
        const socket = this.#socket;
        // A socket still connecting is closed when the connect resolves (#connected).
        if (socket !== null && was === "open") {
          if (abort) {
            socket.reset();
          } else if (this.#closeOnFree) {
            this.#linger(socket);
            return;
          } else {
            socket.pause();
          }
        }
        // Unsent output goes nowhere now: let its file handles go at once, not when collected.
        this.#output.free();
        return;
      }
      case "pair":
        this.#unlinkPair(abort);
        this.#output.free();
        return;
      case "filter": {
        const lower = this.#underlying;
        this.#underlying = null;
        this.#output.free();
        if (lower === null) return;
        if (this.#closeOnFree) {
          if (abort) lower.abort();
          else lower.free();
        } else if (lower.#state !== "freed") {
          if (lower.#eventcb === BufferEvent.#lowerEventCb && lower.#cbArg === this) {
            lower.setCallbacks(null, null, null);
          }
          lower.#unsuspendRead(SUSPEND_FILT);
        }
        return;
      }
    }
  }

  // ---------------------------------------------------------- rate limits

  /**
   * Limit this BufferEvent's reading and writing with its own token bucket,
   * or lift the limit with null (libevent `bufferevent_set_rate_limit`).
   * Bytes the socket delivers beyond the read budget wait, with the socket
   * paused, and enter input as tokens come in each tick; writes send at most
   * the write budget per tick. Refills run on a timer of the base at tick
   * boundaries. Socket BufferEvents only.
   *
   * @throws {TypeError} if cfg is neither a TokenBucketConfig nor null, this is not a socket BufferEvent, or it was freed
   */
  setRateLimit(cfg: TokenBucketConfig | null): void {
    if (cfg !== null && !(cfg instanceof TokenBucketConfig)) {
      throw new TypeError("cfg must be a TokenBucketConfig or null");
    }
    this.#checkRateLimitable("setRateLimit");
    const old = this.#rlCfg;
    if (cfg === old) return;
    const now = this.#base.now();
    this.#rlCfg = cfg;
    this.#rlActive = cfg !== null || this.#group !== null;
    if (cfg === null) {
      this.#refillEv?.del();
      this.#unsuspendRead(SUSPEND_BW);
      this.#unsuspendWrite(SUSPEND_BW);
      return;
    }
    if (old === null) this.#bucket = newBucket(cfg, now);
    else {
      rebaseBucket(this.#bucket, old, cfg, now);
      // The refill was timed for the old ticks.
      this.#refillEv?.del();
    }
    this.#applyBucket();
  }

  /**
   * Make this BufferEvent share `group`'s bucket too, leaving any group it
   * was in (libevent `bufferevent_add_to_rate_limit_group`). Socket
   * BufferEvents only.
   *
   * @throws {TypeError} if group is not a live RateLimitGroup of this base, this is not a socket BufferEvent, or it was freed
   */
  addToRateLimitGroup(group: RateLimitGroup): void {
    if (!(group instanceof RateLimitGroup)) throw new TypeError("group must be a RateLimitGroup");
    this.#checkRateLimitable("addToRateLimitGroup");
    if (groupBase(group) !== this.#base) throw new TypeError("group must belong to this BufferEvent's base");
    if (this.#group === group) return;
    if (this.#group !== null) this.removeFromRateLimitGroup();
    groupJoin(group, this);
    this.#group = group;
    this.#rlActive = true;
  }

  /**
   * Leave the rate-limit group, if any (libevent
   * `bufferevent_remove_from_rate_limit_group`).
   *
   * @throws {TypeError} if the BufferEvent was freed
   */
  removeFromRateLimitGroup(): void {
    this.#checkLive("removeFromRateLimitGroup");
    const group = this.#group;
    if (group === null) return;
    this.#group = null;
    this.#rlActive = this.#rlCfg !== null;
    groupLeave(group, this);
    this.#unsuspendRead(SUSPEND_BW_GROUP);
    this.#unsuspendWrite(SUSPEND_BW_GROUP);
  }

  /**
   * Read tokens left in this BufferEvent's own bucket; Infinity without a
   * rate limit (libevent `bufferevent_get_read_limit`).
   */
  getReadLimit(): number {
    const cfg = this.#rlCfg;
    if (cfg === null) return Infinity;
    refillBucket(this.#bucket, cfg, this.#base.now());
    return this.#bucket.read;
  }

  /**
   * Write tokens left in this BufferEvent's own bucket; Infinity without a
   * rate limit (libevent `bufferevent_get_write_limit`).
   */
  getWriteLimit(): number {
    const cfg = this.#rlCfg;
    if (cfg === null) return Infinity;
    refillBucket(this.#bucket, cfg, this.#base.now());
    return this.#bucket.write;
  }

  /**
   * The most bytes that may enter input now under the rate limits: the own
   * bucket and the group's share, whichever is smaller; Infinity without
   * limits (libevent `bufferevent_get_max_to_read`).
   */
  getMaxToRead(): number {
    return this.#rlActive ? this.#maxToRead() : Infinity;
  }

  /**
   * The most bytes that may be sent now under the rate limits; Infinity
   * without limits (libevent `bufferevent_get_max_to_write`).
   */
  getMaxToWrite(): number {
    return this.#rlActive ? this.#maxToWrite() : Infinity;
  }

  /**
   * Take `n` tokens from this BufferEvent's read bucket (negative gives
   * some back), for bytes read another way (libevent
   * `bufferevent_decrement_read_limit`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if no rate limit is set, or the BufferEvent was freed
   */
  decrementReadLimit(n: number): void {
    this.#decrement(n, true);
  }

  /**
   * Take `n` tokens from this BufferEvent's write bucket (negative gives
   * some back) (libevent `bufferevent_decrement_write_limit`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if no rate limit is set, or the BufferEvent was freed
   */
  decrementWriteLimit(n: number): void {
    this.#decrement(n, false);
  }

  // ================================================================ private

  #checkLive(op: string): void {
    if (this.#state === "freed") throw new TypeError(`${op}: the BufferEvent was freed`);
  }

  /** A method, not a field test, so TypeScript does not narrow the state away across user callbacks. */
  #isFreed(): boolean {
    return this.#state === "freed";
  }

  #checkConnectable(op: string): void {
    this.#checkLive(op);
    if (this.#kind !== "socket") throw new TypeError(`${op}: only a socket BufferEvent connects`);
    if (this.#state !== "idle" && this.#state !== "closed") {
      throw new TypeError(`${op}: the BufferEvent is ${this.#state}; connect needs one without a socket`);
    }
  }

  #checkRateLimitable(op: string): void {
    this.#checkLive(op);
    if (this.#kind !== "socket") throw new TypeError(`${op}: rate limits apply to socket BufferEvents`);
  }

  // ------------------------------------------------ reading: flow control

  /** Reading is enabled and nothing holds it back. */
  #readWanted(): boolean {
    if (this.#state === "freed" || (this.#enabled & EV_READ) === 0 || this.#readSuspend !== 0) return false;
    if (this.#kind !== "socket") return true;
    // After EOF or an error nothing more can come, so there is nothing to wait for.
    return (this.#state === "open" || this.#state === "connecting") &&
      (this.#readEnd === "open" || this.#readEnd === "eof_pending");
  }

  /** Whether the socket should deliver: reading on and nothing staged waiting for room. */
  #flowWanted(): boolean {
    const staging = this.#staging;
    if (staging !== null && staging.length > 0) return false;
    if (this.#state !== "open" || (this.#enabled & EV_READ) === 0 || this.#readEnd !== "open") return false;
    // Waiting for tokens still lets one chunk land in staging: bytes are then ready the moment
    // tokens come, and a group's members all have some when it refills, instead of the first
    // one resumed taking the whole refill while the others' bytes are still on their way.
    return (this.#readSuspend & ~(SUSPEND_BW | SUSPEND_BW_GROUP)) === 0;
  }

  /** Bring the read timer and the transport's flow in line with the current state. */
  #syncRead(): void {
    const wanted = this.#readWanted();
    // Pairs and filters have no I/O of their own to wait for: their timer exists only for a timeout.
    const pend = wanted && (this.#kind === "socket" || this.#readTimeout > 0);
    if (pend !== this.#readPending) {
      this.#readPending = pend;
      if (pend) {
        this.#lastRead = this.#base.now();
        this.#readTimer.add(this.#readTimeout > 0 ? this.#readTimeout : undefined);
      } else {
        this.#readTimer.del();
      }
    }
    if (this.#kind === "socket") {
      const socket = this.#socket;
      if (socket === null || this.#state !== "open") return;
      const flow = this.#flowWanted();
      if (flow !== this.#flowing) {
        this.#flowing = flow;
        if (flow) socket.resume();
        else socket.pause();
      }
    } else if (this.#kind === "filter") {
      const lower = this.#underlying;
      if (lower !== null && wanted !== this.#filterFlow) {
        this.#filterFlow = wanted;
        if (wanted) lower.#unsuspendRead(SUSPEND_FILT);
        else lower.#suspendRead(SUSPEND_FILT);
      }
    }
  }

  #suspendRead(bit: number): void {
    if ((this.#readSuspend & bit) !== 0) return;
    this.#readSuspend |= bit;
    this.#syncRead();
  }

  #unsuspendRead(bit: number): void {
    if ((this.#readSuspend & bit) === 0) return;
    this.#readSuspend &= ~bit;
    this.#syncRead();
    if (this.#readSuspend === 0) this.#kickRead();
  }

  /** Schedule the read work on the loop if bytes wait at the source. */
  #kickRead(): void {
    if (this.#state === "freed") return;
    let waiting: boolean;
    switch (this.#kind) {
      case "socket":
        waiting = (this.#staging !== null && this.#staging.length > 0) || this.#readEnd === "eof_pending" ||
          this.#pendingError !== 0;
        break;
      case "pair":
        waiting = this.#partner !== null && this.#partner.#output.length > 0;
        break;
      case "filter":
        waiting = this.#underlying !== null && (this.#underlying.#input.length > 0 || this.#filterEof);
        break;
    }
    if (waiting) this.#readEv.active(EV_READ);
  }

  /** How many bytes input may take now: 0 while reading is off, else up to the high watermark and the rate budget. */
  #readRoom(): number {
    if ((this.#enabled & EV_READ) === 0 || this.#readSuspend !== 0) return 0;
    let room = Infinity;
    const high = this.#wmReadHigh;
    if (high > 0) room = high - this.#input.length;
    if (this.#rlActive) {
      const max = this.#maxToRead();
      if (max < room) room = max;
    }
    return room > 0 ? room : 0;
  }

  /** Bookkeeping after `n` bytes entered input. */
  #gotInput(n: number): void {
    if (this.#rlActive) this.#consumeRead(n);
    if (this.#readTimeout > 0) this.#lastRead = this.#base.now();
    this.#inputFresh = true;
  }

  readonly #onInputChange = (buf: EvBuffer): void => {
    const high = this.#wmReadHigh;
    if (high === 0) return;
    if (buf.length >= high) {
      if ((this.#readSuspend & SUSPEND_WM) === 0) this.#suspendRead(SUSPEND_WM);
    } else if ((this.#readSuspend & SUSPEND_WM) !== 0) {
      this.#unsuspendRead(SUSPEND_WM);
    }
  };

  /** The read kick: pull waiting bytes into input, then give the read callback its turn. */
  #onReadKick(): void {
    if (this.#state === "freed") return;
    switch (this.#kind) {
      case "socket":
        this.#pumpStaging();
        break;
      case "pair": {
        const partner = this.#partner;
        if (partner !== null && BufferEvent.#talks(partner, this) && partner.#moveToPartner(false, false) > 0) {
          partner.#wroteSome(true);
          partner.#syncWrite();
        }
        break;
      }
      case "filter":
        this.#filterIn(this.#filterEof ? "finished" : "normal");
        break;
    }
    // A callback or filter run above may have freed us.
    if (this.#isFreed()) return;
    if (this.#inputFresh) {
      this.#inputFresh = false;
      const len = this.#input.length;
      if (len > 0 && len >= this.#wmReadLow) this.#runReadcb(true);
    }
    if (this.#kind === "socket" && !this.#isFreed()) this.#reportSocketNews();
  }

  /**
   * Tell EOF and errors from the socket here, after the read callback for
   * the bytes that arrived before them; an EOF waits for staged bytes.
   */
  #reportSocketNews(): void {
    const staging = this.#staging;
    if (this.#readEnd === "eof_pending" && (staging === null || staging.length === 0)) {
      this.#readEnd = "eof";
      // libevent stops reading at EOF.
      this.#enabled &= ~EV_READ;
      this.#syncRead();
      this.#runEventcb(BEV_EVENT_READING | BEV_EVENT_EOF, true);
    }
    const error = this.#pendingError;
    if (error !== 0 && !this.#isFreed()) {
      this.#pendingError = 0;
      this.#runEventcb(error, true);
    }
  }

  #onReadTimer(): void {
    // The timer is not persistent: firing removed it.
    this.#readPending = false;
    if (!this.#readWanted()) return;
    const timeout = this.#readTimeout;
    if (timeout <= 0) {
      this.#syncRead();
      return;
    }
    const idle = this.#base.now() - this.#lastRead;
    if (idle < timeout) {
      // Bytes came in since it was armed: wait out the rest.
      this.#readPending = true;
      this.#readTimer.add(timeout - idle);
      return;
    }
    this.#enabled &= ~EV_READ;
    this.#syncRead();
    this.#runEventcb(BEV_EVENT_READING | BEV_EVENT_TIMEOUT, true);
  }

  // ------------------------------------------------ writing: flow control

  /** Whether the write timer should be pending: bytes to send (or a connect) and writing on. */
  #writeWanted(): boolean {
    if (this.#state === "freed") return false;
    if (this.#kind === "socket") {
      if (this.#state === "connecting") return true;
      if (this.#state !== "open" || (this.#enabled & EV_WRITE) === 0 || this.#writeSuspend !== 0) return false;
      if (this.#writeState === "blocked") return true;
      if (this.#output.length === 0 || this.#shutdown === "ended") return false;
      // Bytes the socket takes now go out in this pass (the write kick is
      // active), so the pending write event is needed only to time them out
      // or to keep the loop alive while file segments load.
      return this.#writeTimeout > 0 || this.#output.hasFileSegments;
    }
    return this.#writeTimeout > 0 && (this.#enabled & EV_WRITE) !== 0 && this.#output.length > 0;
  }

  #syncWrite(): void {
    const want = this.#writeWanted();
    if (want === this.#writePending) return;
    this.#writePending = want;
    if (want) {
      this.#lastWrite = this.#base.now();
      this.#writeTimer().add(this.#writeTimeout > 0 ? this.#writeTimeout : undefined);
    } else {
      this.#writeTimerEvent?.del();
    }
  }

  #suspendWrite(bit: number): void {
    const was = this.#writeSuspend;
    this.#writeSuspend |= bit;
    if (was === 0) this.#syncWrite();
  }

  #unsuspendWrite(bit: number): void {
    if ((this.#writeSuspend & bit) === 0) return;
    this.#writeSuspend &= ~bit;
    if (this.#writeSuspend !== 0) return;
    this.#syncWrite();
    if (this.#output.length > 0 && this.#canWrite()) this.#writeEv.active(EV_WRITE);
  }

  /** Whether the write kick could move bytes now. */
  #canWrite(): boolean {
    if (this.#state === "freed" || (this.#enabled & EV_WRITE) === 0 || this.#writeSuspend !== 0) return false;
    switch (this.#kind) {
      case "socket":
        return this.#state === "open" && this.#writeState === "ready" && this.#shutdown !== "ended";
      case "pair":
        return this.#partner !== null;
      case "filter":
        return this.#underlying !== null && !this.#underlyingFull("normal");
    }
  }

  readonly #onOutputChange = (_buf: EvBuffer, info: EvBufferCbInfo): void => {
    if (info.added === 0 || this.#state === "freed") return;
    if (!this.#writePending) this.#syncWrite();
    // One kick per loop pass however many writes: activating an active event only merges flags.
    if (this.#canWrite()) this.#writeEv.active(EV_WRITE);
  };

  /** The write kick: move output on, then give the write callback its turn. */
  #onWriteKick(): void {
    if (!this.#canWrite()) return;
    let moved: number;
    switch (this.#kind) {
      case "socket":
        moved = this.#flushSocket();
        break;
      case "pair": {
        const partner = this.#partner as BufferEvent;
        moved = BufferEvent.#talks(this, partner) ? this.#moveToPartner(false, true) : 0;
        break;
      }
      case "filter":
        moved = this.#filterOut("normal");
        break;
    }
    if (this.#isFreed()) return;
    if (moved > 0) {
      this.#wroteSome(true);
      if (this.#isFreed()) return;
      // A group share may have stopped short of what the group allows: go again.
      if (this.#rlActive && this.#output.length > 0 && this.#canWrite()) this.#writeEv.active(EV_WRITE);
    }
    this.#syncWrite();
  }

  /** After output made progress: the write callback, and the shutdown flush("finished") asked for. */
  #wroteSome(direct: boolean): void {
    if (this.#writeTimeout > 0) this.#lastWrite = this.#base.now();
    if (this.#output.length <= this.#wmWriteLow) this.#runWritecb(direct);
    if (this.#shutdown === "finishing") this.#finishWrite();
  }

  #onWriteTimer(): void {
    this.#writePending = false;
    if (!this.#writeWanted()) return;
    const timeout = this.#writeTimeout;
    if (timeout <= 0) {
      this.#syncWrite();
      return;
    }
    const idle = this.#base.now() - this.#lastWrite;
    if (idle < timeout) {
      this.#writePending = true;
      this.#writeTimer().add(timeout - idle);
      return;
    }
    this.#enabled &= ~EV_WRITE;
    this.#syncWrite();
    this.#runEventcb(BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT, true);
  }

  // ------------------------------------------------------------ callbacks

  // `direct` is true only when called from one of our events' callbacks,
  // that is on the loop; anything else is queued onto the loop.

  #cbEv(): Event<BufferEvent> {
    return this.#cbEvent ??= new Event<BufferEvent>(this.#base, null, 0, BufferEvent.#deferredCb, this);
  }

  #writeTimer(): Event<BufferEvent> {
    return this.#writeTimerEvent ??= new Event<BufferEvent>(this.#base, null, 0, BufferEvent.#writeTimerCb, this);
  }

  #runReadcb(direct: boolean): void {
    if (direct && !this.#defer) {
      this.#readcb?.(this, this.#cbArg);
      return;
    }
    this.#pendingCbs |= PENDING_READ;
    this.#cbEv().active(EV_TIMEOUT);
  }

  #runWritecb(direct: boolean): void {
    if (direct && !this.#defer) {
      this.#writecb?.(this, this.#cbArg);
      return;
    }
    this.#pendingCbs |= PENDING_WRITE;
    this.#cbEv().active(EV_TIMEOUT);
  }

  #runEventcb(what: number, direct: boolean): void {
    if (this.#state === "freed") return;
    if (direct && !this.#defer) {
      this.#eventcb?.(this, what, this.#cbArg);
      return;
    }
    this.#pendingEvents |= what;
    this.#cbEv().active(EV_TIMEOUT);
  }

  /** Run queued callbacks in libevent's order: CONNECTED, read, write, then the other events. */
  #onDeferred(): void {
    const cbs = this.#pendingCbs;
    const what = this.#pendingEvents;
    this.#pendingCbs = 0;
    this.#pendingEvents = 0;
    if (what & BEV_EVENT_CONNECTED) this.#eventcb?.(this, BEV_EVENT_CONNECTED, this.#cbArg);
    if (cbs & PENDING_READ) this.#readcb?.(this, this.#cbArg);
    if (cbs & PENDING_WRITE) this.#writecb?.(this, this.#cbArg);
    const rest = what & ~BEV_EVENT_CONNECTED;
    if (rest !== 0) this.#eventcb?.(this, rest, this.#cbArg);
  }

  // ---------------------------------------------------------- socket kind

  #startConnect(pending: Promise<TcpSocket>): void {
    this.#state = "connecting";
    this.#socket = null;
    this.#socketError = null;
    this.#readEnd = "open";
    this.#pendingError = 0;
    this.#writeState = "ready";
    // A flush("finished") made before connecting still applies; a past connection's shutdown does not.
    if (this.#shutdown === "ended") this.#shutdown = "open";
    this.#syncRead();
    this.#syncWrite();
    pending.then((socket) => this.#connected(socket), (err: unknown) => this.#connectFailed(err));
  }

  #connected(socket: TcpSocket): void {
    if (this.#state !== "connecting") {
      // Freed while connecting.
      socket.close();
      return;
    }
    this.#attach(socket);
    this.#runEventcb(BEV_EVENT_CONNECTED, false);
    if (this.#shutdown === "finishing") this.#finishWrite();
    if (this.#output.length > 0 && this.#canWrite()) this.#writeEv.active(EV_WRITE);
  }

  #connectFailed(err: unknown): void {
    if (this.#state !== "connecting") return;
    this.#state = "closed";
    this.#socketError = asError(err);
    this.#syncRead();
    this.#syncWrite();
    this.#runEventcb(BEV_EVENT_ERROR, false);
  }

  #attach(socket: TcpSocket): void {
    this.#socket = socket;
    this.#state = "open";
    this.#readEnd = "open";
    this.#writeState = "ready";
    // Paused before start, so not one chunk arrives before reading is enabled.
    this.#flowing = this.#flowWanted();
    if (!this.#flowing) socket.pause();
    socket.start(new SocketSink(this));
    this.#syncRead();
    this.#syncWrite();
  }

  /** The hot path: bytes from the socket. Input takes what it may; the rest waits in staging with the socket paused. */
  #onData(bytes: Uint8Array, owned: boolean): void {
    const n = bytes.length;
    if (n === 0 || this.#state !== "open") return;
    const staging = this.#staging;
    const take = staging === null || staging.length === 0 ? this.#readRoom() : 0;
    if (take >= n) {
      this.#addInput(bytes, owned);
      this.#gotInput(n);
      this.#readEv.active(EV_READ);
      return;
    }
    if (take > 0) this.#addInput(bytes.subarray(0, take), owned);
    this.#stage(take > 0 ? bytes.subarray(take) : bytes, owned);
    if (take > 0) {
      this.#gotInput(take);
      this.#readEv.active(EV_READ);
    }
    this.#syncRead();
  }

  #addInput(bytes: Uint8Array, owned: boolean): void {
    // Lent bytes live in the adapter's reused buffer: copy them.
    if (owned) this.#input.add(bytes);
    else this.#input.addCopy(bytes);
  }

  #stage(bytes: Uint8Array, owned: boolean): void {
    const staging = this.#staging ??= new EvBuffer();
    if (owned) staging.add(bytes);
    else staging.addCopy(bytes);
  }

  /** Move staged bytes into input as far as allowed; resume the socket once staging is empty. */
  #pumpStaging(): void {
    const staging = this.#staging;
    if (staging !== null && staging.length > 0) {
      const room = this.#readRoom();
      if (room > 0) this.#gotInput(staging.removeBuffer(this.#input, room));
      if (staging.length > 0) {
        // A group share may leave room: take another share later in this pass.
        if (this.#readRoom() > 0) this.#readEv.active(EV_READ);
        return;
      }
      // Staging is the exception, not the rule: it keeps no room once empty.
      staging.releaseSpare();
      this.#syncRead();
    }
  }

  #onEnd(): void {
    if (this.#state !== "open" || this.#readEnd !== "open") return;
    this.#readEnd = "eof_pending";
    this.#readEv.active(EV_READ);
  }

  #onDrain(): void {
    if (this.#state === "freed") {
      this.#lingerWake?.();
      return;
    }
    if (this.#writeState !== "blocked") return;
    this.#writeState = "ready";
    if (this.#writeTimeout > 0) this.#lastWrite = this.#base.now();
    if (this.#output.length > 0 && this.#canWrite()) this.#writeEv.active(EV_WRITE);
    else this.#syncWrite();
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
  #onFinish(): void {
    if (this.#state !== "freed") return;
    this.#releaseLoop();
    const socket = this.#socket;
    if (socket === null || this.#lingerTimer !== null || this.#lingerClosed) return;
    const clock = this.#base.clock;
    this.#lingerTimer = clock.setTimer(() => {
      this.#lingerTimer = null;
      socket.close();
    }, LINGER_MS);
  }

  #onError(err: Error): void {
    if (this.#state !== "open") return;
    this.#socketError = err;
    this.#readEnd = "error";
    // Only a broken pipe is clearly the writer's; resets and TLS failures show up while reading.
    const writing = (err as Error & { code?: unknown }).code === "EPIPE";
    this.#enabled &= writing ? ~EV_WRITE : ~EV_READ;
    this.#syncRead();
    this.#syncWrite();
    this.#pendingError = (writing ? BEV_EVENT_WRITING : BEV_EVENT_READING) | BEV_EVENT_ERROR;
    this.#readEv.active(EV_READ);
  }

  #onClose(): void {
    if (this.#state === "freed") {
      if (this.#lingerTimer !== null) {
        this.#base.clock.clearTimer(this.#lingerTimer);
        this.#lingerTimer = null;
      }
      this.#lingerClosed = true;
      this.#lingerWake?.();
      this.#releaseLoop();
      return;
    }
    if (this.#state !== "open") return;
    this.#state = "closed";
    this.#writeState = "ready";
    // Nothing can send what output holds any more: drop it, closing its file handles now.
    if (this.#output.length > 0) this.#discardOutput();
    this.#syncRead();
    this.#syncWrite();
    if (this.#readEnd !== "open") return;
    // Closed without an EOF or error of its own: still an EOF to the owner.
    this.#readEnd = "eof_pending";
    this.#readEv.active(EV_READ);
  }

  /** Hand output to the socket until it asks to wait or the write budget is spent; returns the bytes handed over. */
  #flushSocket(): number {
    const socket = this.#socket as TcpSocket;
    const out = this.#output;
    const budget = this.#rlActive ? this.#maxToWrite() : Infinity;
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
    if (written > 0 && this.#rlActive) this.#consumeWrite(written);
    return written;
  }

  #loadFileSegments(): void {
    if (this.#fileLoad === "loading") return;
    this.#fileLoad = "loading";
    this.#output.loadFileSegments(FILE_PIECE).then(
      (ready) => {
        this.#fileLoad = "idle";
        if (this.#state === "freed") return;
        this.#fileReady = ready;
        if (this.#canWrite()) this.#writeEv.active(EV_WRITE);
      },
      (err: unknown) => {
        this.#fileLoad = "idle";
        if (this.#state === "freed") return;
        this.#socketError = asError(err);
        this.#enabled &= ~EV_WRITE;
        this.#syncWrite();
        this.#runEventcb(BEV_EVENT_WRITING | BEV_EVENT_ERROR, false);
      },
    );
  }

  #finishWrite(): void {
    if (this.#shutdown !== "finishing" || this.#output.length !== 0 || this.#state !== "open") return;
    this.#shutdown = "ended";
    (this.#socket as TcpSocket).end();
    this.#syncWrite();
  }

  /**
   * free() with closeOnFree: send what output holds (the socket accepts
   * every byte), shut our side, and read on, discarding, until the peer
   * closes. Close at once when nothing is left to send, as libevent would.
   */
  #linger(socket: TcpSocket): void {
    const out = this.#output;
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
    const out = this.#output;
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
    const hold = new Event(this.#base, null, 0, BufferEvent.#noop);
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

  /** Empty output without telling the write callback: the bytes were not sent. */
  #discardOutput(): void {
    this.#fileReady = 0;
    try {
      this.#output.drain(this.#output.length);
    } catch {
      // Frozen at the front by its owner: it stays as it is.
    }
  }

  // ------------------------------------------------------------ pair kind

  /** libevent's `be_pair_wants_to_talk`: src may send and dst may take. */
  static #talks(src: BufferEvent, dst: BufferEvent): boolean {
    return (src.#enabled & EV_WRITE) !== 0 && src.#writeSuspend === 0 && (dst.#enabled & EV_READ) !== 0 &&
      dst.#readSuspend === 0 && src.#output.length > 0 && dst.#state === "open";
  }

  /**
   * Move our output into the partner's input without copying, up to its
   * high watermark unless `ignoreWm` (libevent `be_pair_transfer`). Kicks
   * the partner's read work unless the caller is that work.
   */
  #moveToPartner(ignoreWm: boolean, kick: boolean): number {
    const dst = this.#partner as BufferEvent;
    const out = this.#output;
    const input = dst.#input;
    out.unfreeze(true);
    input.unfreeze(false);
    let n = 0;
    const high = dst.#wmReadHigh;
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
      dst.#gotInput(n);
      if (kick) dst.#readEv.active(EV_READ);
    }
    return n;
  }

  #flushPair(events: number, mode: BufferEventFlushMode): void {
    const partner = this.#partner;
    if (partner === null || mode === "normal") return;
    if (events & EV_READ && partner.#output.length > 0 && partner.#moveToPartner(true, true) > 0) {
      partner.#wroteSome(false);
      partner.#syncWrite();
    }
    if (events & EV_WRITE && this.#output.length > 0 && this.#moveToPartner(true, true) > 0) {
      this.#wroteSome(false);
      this.#syncWrite();
    }
    if (mode === "finished") {
      let what = BEV_EVENT_EOF;
      if (events & EV_READ) what |= BEV_EVENT_WRITING;
      if (events & EV_WRITE) what |= BEV_EVENT_READING;
      partner.#runEventcb(what, false);
    }
  }

  /**
   * free() of a pair end: the partner gets what we still had to send, then
   * EOF. abort(): the partner gets nothing more, and an ECONNRESET error.
   */
  #unlinkPair(abort: boolean): void {
    const partner = this.#partner;
    if (partner === null) return;
    if (!abort && this.#output.length > 0 && partner.#state === "open") this.#moveToPartner(true, true);
    this.#partner = null;
    partner.#partner = null;
    if (partner.#state !== "open") return;
    partner.#state = "closed";
    partner.#syncRead();
    partner.#syncWrite();
    if (abort) {
      partner.#socketError = Object.assign(new Error("the other end of the pair was aborted"), { code: "ECONNRESET" });
      partner.#runEventcb(BEV_EVENT_READING | BEV_EVENT_ERROR, false);
    } else {
      partner.#runEventcb(BEV_EVENT_READING | BEV_EVENT_EOF, false);
    }
  }

  // ---------------------------------------------------------- filter kind

  // The underlying BufferEvent's callbacks, with the filter as their argument.
  static readonly #lowerReadCb = (_lower: BufferEvent, filter: BufferEvent): void => filter.#onReadKick();
  static readonly #lowerWriteCb = (_lower: BufferEvent, filter: BufferEvent): void => {
    if (filter.#state !== "freed") filter.#onWriteKick();
  };
  static readonly #lowerEventCb = (_lower: BufferEvent, what: number, filter: BufferEvent): void =>
    filter.#onLowerEvent(what);

  #onLowerEvent(what: number): void {
    if (this.#state === "freed") return;
    if (what & BEV_EVENT_EOF) {
      // Let the input filter emit what it held back before the EOF is told.
      this.#filterEof = true;
      this.#onReadKick();
      if (this.#isFreed()) return;
    }
    this.#runEventcb(what, true);
  }

  #readbufFull(mode: BufferEventFlushMode): boolean {
    return mode === "normal" && this.#wmReadHigh > 0 && this.#input.length >= this.#wmReadHigh;
  }

  #underlyingFull(mode: BufferEventFlushMode): boolean {
    const lower = this.#underlying as BufferEvent;
    return mode === "normal" && lower.#wmWriteHigh > 0 && lower.#output.length >= lower.#wmWriteHigh;
  }

  /** Run the input filter from underlying.input into input (libevent `be_filter_process_input`). */
  #filterIn(mode: BufferEventFlushMode): void {
    const lower = this.#underlying;
    if (lower === null) return;
    const src = lower.#input;
    const dst = this.#input;
    if (mode === "normal" && ((this.#enabled & EV_READ) === 0 || this.#readbufFull(mode) || src.length === 0)) return;
    const before = dst.length;
    for (;;) {
      const limit = mode === "normal" && this.#wmReadHigh > 0 ? this.#wmReadHigh - dst.length : Infinity;
      const srcBefore = src.length;
      const result = this.#runFilter(this.#inFilter, src, dst, limit, mode);
      if (result === "error") {
        this.#filterFailed(BEV_EVENT_READING);
        break;
      }
      // A filter that took nothing would spin: stop, as on need_more.
      if (result !== "ok" || src.length === 0 || src.length === srcBefore) break;
      if ((this.#enabled & EV_READ) === 0 || this.#readbufFull(mode)) break;
    }
    const got = dst.length - before;
    if (got > 0) this.#gotInput(got);
  }

  /** Run the output filter from output into underlying.output (libevent `be_filter_process_output`); returns bytes taken from output. */
  #filterOut(mode: BufferEventFlushMode): number {
    const lower = this.#underlying;
    if (lower === null) return 0;
    const src = this.#output;
    if (mode === "normal" && ((this.#enabled & EV_WRITE) === 0 || this.#underlyingFull(mode) || src.length === 0)) {
      return 0;
    }
    const before = src.length;
    for (;;) {
      const high = lower.#wmWriteHigh;
      const limit = mode === "normal" && high > 0 ? high - lower.#output.length : Infinity;
      const srcBefore = src.length;
      const result = this.#runFilter(this.#outFilter, src, lower.#output, limit, mode);
      if (result === "error") {
        this.#filterFailed(BEV_EVENT_WRITING);
        break;
      }
      if (result !== "ok" || src.length === 0 || src.length === srcBefore) break;
      if ((this.#enabled & EV_WRITE) === 0 || this.#underlyingFull(mode)) break;
    }
    return before - src.length;
  }

  #runFilter(
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

  #filterFailed(direction: number): void {
    this.#enabled &= direction === BEV_EVENT_READING ? ~EV_READ : ~EV_WRITE;
    this.#syncRead();
    this.#syncWrite();
    this.#runEventcb(direction | BEV_EVENT_ERROR, false);
  }

  #flushFilter(events: number, mode: BufferEventFlushMode): void {
    const lower = this.#underlying;
    if (lower === null) return;
    if (events & EV_READ) {
      this.#filterIn(mode);
      if (this.#inputFresh) this.#readEv.active(EV_READ);
    }
    if (events & EV_WRITE && this.#filterOut(mode) > 0) {
      this.#wroteSome(false);
      this.#syncWrite();
    }
    if (lower.#state !== "freed") lower.flush(events, mode);
  }

  // ---------------------------------------------------------- rate limits

  #maxToRead(): number {
    let max = Infinity;
    const cfg = this.#rlCfg;
    if (cfg !== null) {
      refillBucket(this.#bucket, cfg, this.#base.now());
      max = this.#bucket.read;
    }
    if (this.#group !== null) {
      const share = groupShare(this.#group, true);
      if (share < max) max = share;
    }
    return max > 0 ? max : 0;
  }

  #maxToWrite(): number {
    let max = Infinity;
    const cfg = this.#rlCfg;
    if (cfg !== null) {
      refillBucket(this.#bucket, cfg, this.#base.now());
      max = this.#bucket.write;
    }
    if (this.#group !== null) {
      const share = groupShare(this.#group, false);
      if (share < max) max = share;
    }
    return max > 0 ? max : 0;
  }

  #consumeRead(n: number): void {
    if (this.#rlCfg !== null) {
      this.#bucket.read -= n;
      if (this.#bucket.read <= 0) {
        this.#suspendRead(SUSPEND_BW);
        this.#armRefill();
      }
    }
    if (this.#group !== null) groupConsume(this.#group, true, n);
  }

  #consumeWrite(n: number): void {
    if (this.#rlCfg !== null) {
      this.#bucket.write -= n;
      if (this.#bucket.write <= 0) {
        this.#suspendWrite(SUSPEND_BW);
        this.#armRefill();
      }
    }
    if (this.#group !== null) groupConsume(this.#group, false, n);
  }

  /** Suspend or release each direction by what the bucket holds now. */
  #applyBucket(): void {
    const b = this.#bucket;
    if (b.read > 0) this.#unsuspendRead(SUSPEND_BW);
    else this.#suspendRead(SUSPEND_BW);
    if (b.write > 0) this.#unsuspendWrite(SUSPEND_BW);
    else this.#suspendWrite(SUSPEND_BW);
    if (b.read <= 0 || b.write <= 0) this.#armRefill();
  }

  #armRefill(): void {
    const cfg = this.#rlCfg;
    if (cfg === null || this.#state === "freed") return;
    const ev = this.#refillEv ??= new Event(this.#base, null, 0, () => this.#onRefill());
    if (ev.pending(EV_TIMEOUT) === 0) ev.add(untilNextTick(cfg, this.#base.now()));
  }

  #onRefill(): void {
    const cfg = this.#rlCfg;
    if (cfg === null || this.#state === "freed") return;
    refillBucket(this.#bucket, cfg, this.#base.now());
    let again = false;
    if (this.#readSuspend & SUSPEND_BW) {
      if (this.#bucket.read > 0) this.#unsuspendRead(SUSPEND_BW);
      else again = true;
    }
    if (this.#writeSuspend & SUSPEND_BW) {
      if (this.#bucket.write > 0) this.#unsuspendWrite(SUSPEND_BW);
      else again = true;
    }
    if (again) this.#armRefill();
  }

  #decrement(n: number, read: boolean): void {
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw new RangeError(`n must be a safe integer, got ${String(n)}`);
    }
    this.#checkLive(read ? "decrementReadLimit" : "decrementWriteLimit");
    const cfg = this.#rlCfg;
    if (cfg === null) {
      throw new TypeError(
        `${read ? "decrementReadLimit" : "decrementWriteLimit"}: no rate limit is set (setRateLimit)`,
      );
    }
    const b = this.#bucket;
    refillBucket(b, cfg, this.#base.now());
    const old = read ? b.read : b.write;
    const now = old - n;
    if (read) b.read = now;
    else b.write = now;
    if (old > 0 && now <= 0) {
      if (read) this.#suspendRead(SUSPEND_BW);
      else this.#suspendWrite(SUSPEND_BW);
      this.#armRefill();
    } else if (old <= 0 && now > 0) {
      if (read) this.#unsuspendRead(SUSPEND_BW);
      else this.#unsuspendWrite(SUSPEND_BW);
    }
  }
}

/**
 * A rate-limit group: libevent's `struct bufferevent_rate_limit_group`
 * (`bufferevent_rate_limit_group_new`). Its members share one token
 * bucket: each read or write takes at most the bucket's tokens divided by
 * the number of members (but at least the minimum share, 64 bytes by
 * default, and never more than the bucket holds), and when the bucket is
 * empty every member waits for the next tick. Members may have buckets of
 * their own as well; the smaller budget wins.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent/event";
 * import { BufferEvent, RateLimitGroup, TokenBucketConfig } from "@levent/levent/buffer";
 * const base = new EventBase();
 * // All connections together: 1 MiB per second each way.
 * const group = new RateLimitGroup(base, new TokenBucketConfig({ readRate: 1 << 20, writeRate: 1 << 20 }));
 * const bev = BufferEvent.socket(base, null, { closeOnFree: true });
 * bev.addToRateLimitGroup(group);
 * const { read, written } = group.getTotals();
 * console.log(read, written); // 0 0
 * ```
 */
export class RateLimitGroup {
  static {
    groupShare = (group, read) => group.#share(read);
    groupConsume = (group, read, n) => group.#consume(read, n);
    groupJoin = (group, bev) => group.#join(bev);
    groupLeave = (group, bev) => group.#leave(bev);
    groupBase = (group) => group.#base;
  }

  readonly #base: EventBase;
  #cfg: TokenBucketConfig;
  #bucket: Bucket;
  #members: BufferEvent[] = [];
  #minShare = DEFAULT_MIN_SHARE;
  #readSuspended = false;
  #writeSuspended = false;
  readonly #refillEv: Event;
  #totalRead = 0;
  #totalWritten = 0;
  /** Where the next refill starts releasing members, so none is always first. */
  #next = 0;
  #freed = false;

  /**
   * Make a group with a bucket configured by `cfg` (libevent
   * `bufferevent_rate_limit_group_new`).
   *
   * @throws {TypeError} if base is not an EventBase or cfg is not a TokenBucketConfig
   */
  constructor(base: EventBase, cfg: TokenBucketConfig) {
    if (!(base instanceof EventBase)) throw new TypeError("base must be an EventBase");
    if (!(cfg instanceof TokenBucketConfig)) throw new TypeError("cfg must be a TokenBucketConfig");
    this.#base = base;
    this.#cfg = cfg;
    this.#bucket = newBucket(cfg, base.now());
    this.#refillEv = new Event(base, null, 0, () => this.#onRefill());
  }

  /** How many BufferEvents are in the group. */
  get size(): number {
    return this.#members.length;
  }

  /**
   * Change the configuration, keeping the tokens left up to the new bursts
   * (libevent `bufferevent_rate_limit_group_set_cfg`).
   *
   * @throws {TypeError} if cfg is not a TokenBucketConfig, or the group was freed
   */
  setConfig(cfg: TokenBucketConfig): void {
    if (!(cfg instanceof TokenBucketConfig)) throw new TypeError("cfg must be a TokenBucketConfig");
    this.#checkLive("setConfig");
    const old = this.#cfg;
    const now = this.#base.now();
    refillBucket(this.#bucket, old, now);
    rebaseBucket(this.#bucket, old, cfg, now);
    this.#cfg = cfg;
    if (this.#refillEv.pending(EV_TIMEOUT) !== 0) {
      this.#refillEv.del();
      this.#armRefill();
    }
  }

  /**
   * Set the smallest share a member may take per operation while the bucket
   * holds that much (libevent `bufferevent_rate_limit_group_set_min_share`).
   *
   * @throws {RangeError} if n is not an integer >= 1
   */
  setMinShare(n: number): void {
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) {
      throw new RangeError(`n must be an integer >= 1, got ${String(n)}`);
    }
    this.#minShare = n;
  }

  /** Read tokens left in the group's bucket (libevent `bufferevent_rate_limit_group_get_read_limit`). */
  getReadLimit(): number {
    refillBucket(this.#bucket, this.#cfg, this.#base.now());
    return this.#bucket.read;
  }

  /** Write tokens left in the group's bucket (libevent `bufferevent_rate_limit_group_get_write_limit`). */
  getWriteLimit(): number {
    refillBucket(this.#bucket, this.#cfg, this.#base.now());
    return this.#bucket.write;
  }

  /**
   * Take `n` read tokens from the group's bucket; negative gives some back
   * (libevent `bufferevent_rate_limit_group_decrement_read`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if the group was freed
   */
  decrementReadLimit(n: number): void {
    this.#decrement(n, true);
  }

  /**
   * Take `n` write tokens from the group's bucket; negative gives some back
   * (libevent `bufferevent_rate_limit_group_decrement_write`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if the group was freed
   */
  decrementWriteLimit(n: number): void {
    this.#decrement(n, false);
  }

  /** Bytes the members have read and written (libevent `bufferevent_rate_limit_group_get_totals`). */
  getTotals(): RateLimitTotals {
    return { read: this.#totalRead, written: this.#totalWritten };
  }

  /** Set both totals back to 0 (libevent `bufferevent_rate_limit_group_reset_totals`). */
  resetTotals(): void {
    this.#totalRead = this.#totalWritten = 0;
  }

  /**
   * Remove every member and stop the refill timer (libevent
   * `bufferevent_rate_limit_group_free`, which wants the members gone first).
   * Adding a BufferEvent afterwards throws.
   */
  free(): void {
    if (this.#freed) return;
    for (const bev of [...this.#members]) bev.removeFromRateLimitGroup();
    this.#refillEv.free();
    this.#freed = true;
  }

  #checkLive(op: string): void {
    if (this.#freed) throw new TypeError(`${op}: the RateLimitGroup was freed`);
  }

  #join(bev: BufferEvent): void {
    this.#checkLive("addToRateLimitGroup");
    this.#members.push(bev);
    if (this.#readSuspended) setGroupSuspended(bev, true, true);
    if (this.#writeSuspended) setGroupSuspended(bev, false, true);
  }

  #leave(bev: BufferEvent): void {
    const i = this.#members.indexOf(bev);
    if (i >= 0) this.#members.splice(i, 1);
  }

  /** What one member may take in one operation now. */
  #share(read: boolean): number {
    if (read ? this.#readSuspended : this.#writeSuspended) return 0;
    refillBucket(this.#bucket, this.#cfg, this.#base.now());
    const limit = read ? this.#bucket.read : this.#bucket.write;
    if (limit <= 0) return 0;
    let share = Math.floor(limit / Math.max(1, this.#members.length));
    if (share < this.#minShare) share = this.#minShare;
    return share < limit ? share : limit;
  }

  #consume(read: boolean, n: number): void {
    if (read) {
      this.#bucket.read -= n;
      this.#totalRead += n;
      if (this.#bucket.read <= 0 && !this.#readSuspended) this.#suspend(true);
    } else {
      this.#bucket.write -= n;
      this.#totalWritten += n;
      if (this.#bucket.write <= 0 && !this.#writeSuspended) this.#suspend(false);
    }
  }

  #suspend(read: boolean): void {
    if (read) this.#readSuspended = true;
    else this.#writeSuspended = true;
    for (const bev of [...this.#members]) setGroupSuspended(bev, read, true);
    this.#armRefill();
  }

  #release(read: boolean): void {
    if (read) this.#readSuspended = false;
    else this.#writeSuspended = false;
    const members = [...this.#members];
    const n = members.length;
    for (let i = 0; i < n; i++) setGroupSuspended(members[(this.#next + i) % n], read, false);
  }

  #armRefill(): void {
    if (this.#freed || this.#refillEv.pending(EV_TIMEOUT) !== 0) return;
    this.#refillEv.add(untilNextTick(this.#cfg, this.#base.now()));
  }

  #onRefill(): void {
    refillBucket(this.#bucket, this.#cfg, this.#base.now());
    if (this.#readSuspended && this.#bucket.read > 0) this.#release(true);
    if (this.#writeSuspended && this.#bucket.write > 0) this.#release(false);
    this.#next++;
    if (this.#readSuspended || this.#writeSuspended) this.#armRefill();
  }

  #decrement(n: number, read: boolean): void {
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw new RangeError(`n must be a safe integer, got ${String(n)}`);
    }
    this.#checkLive(read ? "decrementReadLimit" : "decrementWriteLimit");
    refillBucket(this.#bucket, this.#cfg, this.#base.now());
    const old = read ? this.#bucket.read : this.#bucket.write;
    const now = old - n;
    if (read) this.#bucket.read = now;
    else this.#bucket.write = now;
    const suspended = read ? this.#readSuspended : this.#writeSuspended;
    if (now <= 0 && !suspended) this.#suspend(read);
    else if (now > 0 && suspended) this.#release(read);
  }
}
