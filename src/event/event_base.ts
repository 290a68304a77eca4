/**
 * EventBase and Event: libevent's event loop (event.h) over the platform's
 * push-style I/O. Timers live in per-duration lists under one min-heap
 * (timer_queue.ts) with a single runtime timer armed for the earliest
 * deadline; activated events wait in one queue per priority and run lowest
 * number first. The loop works on each event's EventCore; the Event is its
 * public face.
 *
 * @module
 */
import { checkEventBase, checkFunction, checkInteger, checkMs, rangeError, typeError } from "../check.ts";
import { freedError } from "../errors.ts";
import type { Clock, Platform, SignalName, TimerHandle } from "../platform.ts";
import { getDefaultPlatform } from "./default_platform.ts";
import { EventError } from "./event_error.ts";
import { EV_ALL_FLAGS, EV_ET, EV_IO_FLAGS, EV_PERSIST, EV_SIGNAL, EV_TIMEOUT, flagNames } from "./flags.ts";
import { type TimerEntry, type TimerList, TimerQueue } from "./timer_queue.ts";
import type { Pollable } from "./pollable.ts";

/** What an event watches: nothing (a pure timer), a signal, or a pollable source. */
export type EventSource = null | SignalName | Pollable;

/**
 * An event callback: libevent's `event_callback_fn(fd, what, arg)`. `what`
 * holds the flags that fired (`EV_TIMEOUT`, `EV_READ`, ...).
 */
export type EventCallback<A = unknown> = (source: EventSource, what: number, arg: A) => void;

/** Options for {@linkcode EventBase}. */
export interface EventBaseOptions {
  /** The runtime adapter; defaults to the one registered by `mod.ts` / `adapters/auto.ts`. */
  readonly platform?: Platform;
  /** The clock for timers; defaults to the platform's. Pass a ManualClock in tests. */
  readonly clock?: Clock;
}

/** Flags for {@linkcode EventBase.loop}: libevent's `EVLOOP_*`. */
export interface LoopOptions {
  /** Wait for at least one event to become active, run the active ones, return (`EVLOOP_ONCE`). */
  readonly once?: boolean;
  /** Run only what is ready now, never wait (`EVLOOP_NONBLOCK`). */
  readonly nonblock?: boolean;
  /** Keep running with no events pending, until loopExit / loopBreak (`EVLOOP_NO_EXIT_ON_EMPTY`). */
  readonly noExitOnEmpty?: boolean;
}

/**
 * How a loop ended: 0 after loopExit / loopBreak / a `once` or `nonblock`
 * pass, 1 when it ran out of pending events (libevent's return values).
 */
export type LoopResult = 0 | 1;

/** Snapshot of an event's pending state, from {@linkcode Event.pending}. */
export interface EventCounts {
  /** Events added (pending) and not internal. */
  readonly added: number;
  /** Events active (waiting for their callback to run). */
  readonly active: number;
}

// Event state bits (libevent's EVLIST_*).
const LIST_INSERTED = 0x01;
const LIST_ACTIVE = 0x02;
const LIST_FREED = 0x08;

// A timer far enough out to keep the runtime alive while events that no
// runtime handle holds (signals) are pending; re-armed when it fires.
const KEEPALIVE_MS = 0x3fffffff;

/**
 * What the loop keeps of one event: what it watches, its state bits, its
 * places in the timer queue and in an active queue, and the activation it
 * carries. EventBase works on these; an {@linkcode Event} is the public
 * face of one. Not exported.
 */
class EventCore implements TimerEntry {
  /** The public face, for dumpEvents. */
  readonly event: Event<unknown>;
  readonly source: EventSource;
  readonly events: number;
  readonly callback: EventCallback<unknown>;
  readonly arg: unknown;
  /** LIST_* bits. */
  state = 0;
  priority: number;
  /** Flags the pending activation carries. */
  result = 0;
  /** How many times a signal fired before the callback ran. */
  ncalls = 0;
  /** The timeout given to add(), for persistent re-arming; -1 = none. */
  timeoutMs = -1;
  // The timer queue's bookkeeping (TimerEntry).
  deadline = 0;
  seq = 0;
  timerList: TimerList<TimerEntry> | null = null;
  timerPrev: TimerEntry | null = null;
  timerNext: TimerEntry | null = null;
  /** Active-queue links. */
  nextActive: EventCore | null = null;
  prevActive: EventCore | null = null;
  /** Bound when first watched, so a pollable can call it. */
  onReady: ((ready: number) => void) | null = null;

  constructor(
    event: Event<unknown>,
    source: EventSource,
    events: number,
    callback: EventCallback<unknown>,
    arg: unknown,
    priority: number,
  ) {
    this.event = event;
    this.source = source;
    this.events = events;
    this.callback = callback;
    this.arg = arg;
    this.priority = priority;
  }
}

// What an Event asks of its base: set in EventBase's static block.
let addEvent!: (base: EventBase, core: EventCore, timeoutMs: number) => void;
let delEvent!: (base: EventBase, core: EventCore) => void;
let activate!: (base: EventBase, core: EventCore, what: number, ncalls: number) => void;

/**
 * Make `release` part of what `base` owns: {@linkcode EventBase.free}
 * calls it, so a freed base leaves no server, listener or connection
 * behind. Internal (event/mod.ts does not export it): the classes made on
 * a base call it when they start holding something, and
 * {@linkcode disown} when they let go.
 */
export let adopt!: (base: EventBase, release: () => void) => void;
/** Forget a release function given to {@linkcode adopt}. Internal. */
export let disown!: (base: EventBase, release: () => void) => void;
/** Whether `base` was freed. Internal. */
export let baseFreed!: (base: EventBase) => boolean;

/**
 * An event: libevent's `struct event`. It watches a source for the flags it
 * was made with, optionally with a timeout, and runs its callback on the
 * base's loop when they fire.
 *
 * @example
 * ```ts
 * import { EV_PERSIST, Event, EventBase } from "@levent/levent/event";
 * const base = new EventBase();
 * let ticks = 0;
 * const tick = new Event(base, null, EV_PERSIST, () => {
 *   if (++ticks === 3) tick.del();
 * });
 * tick.add(10);
 * await base.dispatch();
 * console.log(ticks); // 3
 * ```
 */
export class Event<A = unknown> {
  readonly #base: EventBase;
  readonly #core: EventCore;

  /**
   * Make an event (libevent `event_new` / `event_assign`). It is not pending
   * until {@linkcode Event.add}.
   *
   * @param base the loop it belongs to
   * @param source null for a timer, a signal name with `EV_SIGNAL`, or a pollable source
   * @param events a mix of EV_READ, EV_WRITE, EV_CLOSED, EV_SIGNAL, EV_PERSIST, EV_ET
   * @param callback called as `callback(source, what, arg)`
   * @param arg passed to the callback
   * @throws {TypeError} if base is not an EventBase, the source does not fit the flags, or callback is not a function
   * @throws {RangeError} if events holds unknown bits
   */
  constructor(base: EventBase, source: EventSource, events: number, callback: EventCallback<A>, arg?: A) {
    checkEventBase(base, "base");
    checkFunction(callback, "callback");
    if (typeof events !== "number") throw typeError("events", "a mix of the EV_* flags", events);
    if (!Number.isInteger(events) || (events & ~EV_ALL_FLAGS) !== 0) {
      throw rangeError("events", "a mix of the EV_* flags", events);
    }
    if (events & EV_SIGNAL) {
      if (typeof source !== "string") throw typeError("source", "a signal name for an EV_SIGNAL event", source);
      if (events & EV_IO_FLAGS) {
        throw typeError("events", "EV_SIGNAL without EV_READ, EV_WRITE or EV_CLOSED", events);
      }
    } else if (events & EV_IO_FLAGS) {
      if (source === null || typeof source !== "object" || typeof source.poll !== "function") {
        throw typeError("source", "a Pollable for EV_READ, EV_WRITE or EV_CLOSED", source);
      }
    } else if (source !== null && typeof source === "string") {
      throw typeError("source", "null or a Pollable without EV_SIGNAL in events", source);
    }
    this.#base = base;
    this.#core = new EventCore(
      this as Event<unknown>,
      source,
      events,
      callback as EventCallback<unknown>,
      arg,
      base.defaultPriority,
    );
  }

  /** The base the event belongs to (`event_get_base`). */
  get base(): EventBase {
    return this.#base;
  }

  /** The watched source (`event_get_fd` / `event_get_signal`). */
  get source(): EventSource {
    return this.#core.source;
  }

  /** The flags the event was made with (`event_get_events`). */
  get events(): number {
    return this.#core.events;
  }

  /** The callback (`event_get_callback`). */
  get callback(): EventCallback<A> {
    return this.#core.callback as EventCallback<A>;
  }

  /** The callback argument (`event_get_callback_arg`). */
  get arg(): A {
    return this.#core.arg as A;
  }

  /** The priority its callback runs at, 0 first (`event_get_priority`); see {@linkcode Event.prioritySet}. */
  get priority(): number {
    return this.#core.priority;
  }

  /** True until {@linkcode Event.free} (`event_initialized`). */
  get initialized(): boolean {
    return (this.#core.state & LIST_FREED) === 0;
  }

  /**
   * Make the event pending, with an optional timeout in milliseconds
   * (libevent `event_add`). Adding a pending event again resets its timeout.
   *
   * @throws {TypeError} if timeoutMs is not a number
   * @throws {RangeError} if timeoutMs is negative or not finite
   * @throws {LeventError} `ERR_FREED` once the event or its base was freed
   * @throws {EventError} `ERR_SIGNAL_UNSUPPORTED`, naming the signal, when the runtime cannot deliver it or it is not a {@linkcode SignalName} (`SIGKILL`...)
   */
  add(timeoutMs?: number): void {
    if (timeoutMs !== undefined) checkMs(timeoutMs, "timeoutMs");
    this.#checkLive("add");
    addEvent(this.#base, this.#core, timeoutMs === undefined ? -1 : timeoutMs);
  }

  /** Make the event non-pending and non-active (libevent `event_del`). */
  del(): void {
    if (this.#core.state & LIST_FREED) return;
    delEvent(this.#base, this.#core);
  }

  /**
   * Make the event active as if `what` had fired, whether or not it is
   * pending (libevent `event_active`). `ncalls` matters for signal events.
   *
   * @throws {LeventError} `ERR_FREED` once the event or its base was freed
   */
  active(what: number, ncalls: number = 1): void {
    this.#checkLive("active");
    if (baseFreed(this.#base)) throw freedError("active", "EventBase");
    activate(this.#base, this.#core, what, ncalls);
  }

  /**
   * Which of `what` the event is pending or active for (libevent
   * `event_pending`): a mix of the event's flags and EV_TIMEOUT when a
   * timeout is set.
   */
  pending(what: number = EV_ALL_FLAGS): number {
    const core = this.#core;
    let flags = 0;
    if (core.state & LIST_INSERTED) flags |= core.events & (EV_IO_FLAGS | EV_SIGNAL);
    if (core.state & LIST_ACTIVE) flags |= core.result;
    if (core.timerList !== null) flags |= EV_TIMEOUT;
    return flags & what & (EV_TIMEOUT | EV_IO_FLAGS | EV_SIGNAL);
  }

  /** When the timeout falls due (clock milliseconds), or undefined with no timeout pending. */
  get timeoutDeadline(): number | undefined {
    const core = this.#core;
    return core.timerList !== null ? core.deadline : undefined;
  }

  /**
   * Set the priority (libevent `event_priority_set`): 0 runs first.
   *
   * @throws {TypeError} if priority is not a number
   * @throws {RangeError} outside 0 .. base.priorities - 1
   * @throws {EventError} `ERR_EVENT_ACTIVE` while the event is active
   * @throws {LeventError} `ERR_FREED` once the event was freed
   */
  prioritySet(priority: number): void {
    if (this.#core.state & LIST_FREED) throw freedError("prioritySet", "Event");
    checkInteger(priority, "priority", 0, this.#base.priorities - 1);
    if (this.#core.state & LIST_ACTIVE) {
      throw new EventError("ERR_EVENT_ACTIVE", "cannot change the priority of an active event");
    }
    this.#core.priority = priority;
  }

  /**
   * Delete the event and release it (libevent `event_free`). Then add(),
   * active() and prioritySet() throw `ERR_FREED`; del() and free() do
   * nothing.
   */
  free(): void {
    this.del();
    this.#core.state |= LIST_FREED;
  }

  /** {@linkcode Event.free}, for `using`. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** A one-line description for {@linkcode EventBase.dumpEvents}. */
  toString(): string {
    const core = this.#core;
    const source = core.source;
    const src = source === null ? "timer" : typeof source === "string" ? source : "pollable";
    const parts = [`Event(${src}, ${flagNames(core.events)}, priority ${core.priority}`];
    if (core.timerList !== null) parts.push(`, due ${core.deadline.toFixed(3)}`);
    if (core.state & LIST_ACTIVE) parts.push(`, active ${flagNames(core.result)}`);
    return parts.join("") + ")";
  }

  #checkLive(op: string): void {
    if (this.#core.state & LIST_FREED) throw freedError(op, "Event");
  }
}

/** A queue of active events at one priority: a doubly-linked list through the events. */
interface ActiveQueue {
  head: EventCore | null;
  tail: EventCore | null;
}

/**
 * The event loop: libevent's `struct event_base`.
 *
 * The loop runs while {@linkcode EventBase.dispatch} or
 * {@linkcode EventBase.loop} is in progress; callbacks run only then, as in
 * libevent. I/O and signals that arrive while no loop runs wait, active,
 * for the next one.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent/event";
 * const base = new EventBase();
 * base.once(null, 0, () => console.log("100 ms later"), 100);
 * await base.dispatch(); // returns when no events are left
 * ```
 */
export class EventBase {
  static {
    addEvent = (base, core, timeoutMs) => base.#addEvent(core, timeoutMs);
    delEvent = (base, core) => base.#delEvent(core);
    activate = (base, core, what, ncalls) => base.#activate(core, what, ncalls);
    adopt = (base, release) => void base.#owned.add(release);
    disown = (base, release) => void base.#owned.delete(release);
    baseFreed = (base) => base.#freed;
  }

  #platform: Platform | undefined;
  #clock: Clock;
  #timers = new TimerQueue<EventCore>();
  #queues: ActiveQueue[] = [{ head: null, tail: null }];
  #added = 0;
  #activeCount = 0;
  #signals = new Map<SignalName, { events: Set<EventCore>; handler: () => void }>();
  #recheck: EventCore[] = [];
  #ioEvents = new Set<EventCore>();
  #cachedTime = -1;

  // Loop state.
  #running = false;
  #inPass = false;
  #passQueued = false;
  #yieldQueued = false;
  #exitRequested = false;
  #breakRequested = false;
  #gotExit = false;
  #gotBreak = false;
  #flags: LoopOptions = {};
  #finish: ((result: LoopResult) => void) | null = null;
  #fail: ((err: unknown) => void) | null = null;
  #timer: TimerHandle | undefined;
  #timerDue = Infinity;
  #freed = false;
  /** What free() releases: the servers, listeners and connections made on this base. */
  #owned = new Set<() => void>();
  #runPass: () => void;
  #onTimer: () => void;

  /**
   * Make a loop (libevent `event_base_new`).
   *
   * @throws {EventError} `ERR_NO_PLATFORM` when no platform is given or registered and no clock is given
   */
  constructor(options: EventBaseOptions = {}) {
    this.#platform = options.platform ?? getDefaultPlatform();
    const clock = options.clock ?? this.#platform?.clock;
    if (clock === undefined) {
      throw new EventError(
        "ERR_NO_PLATFORM",
        "no platform: pass { platform } (from adapters/) or import levent's mod.ts, which registers the runtime's adapter",
      );
    }
    this.#clock = clock;
    this.#runPass = () => {
      this.#passQueued = false;
      this.#yieldQueued = false;
      this.#iterate();
    };
    this.#onTimer = () => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      if (!this.#inPass) this.#iterate();
    };
  }

  /**
   * The platform adapter this base uses.
   *
   * @throws {EventError} `ERR_NO_PLATFORM` when the base was made with a clock only
   */
  get platform(): Platform {
    if (this.#platform === undefined) throw new EventError("ERR_NO_PLATFORM", "this EventBase has no platform");
    return this.#platform;
  }

  /** The clock timers run on. */
  get clock(): Clock {
    return this.#clock;
  }

  /** How many priority levels there are (`event_base_get_npriorities`). */
  get priorities(): number {
    return this.#queues.length;
  }

  /** The priority new events get: the middle one, as in libevent. */
  get defaultPriority(): number {
    return this.#queues.length >> 1;
  }

  /**
   * Set the number of priority levels (libevent `event_base_priority_init`).
   * Events made afterwards default to the middle level.
   *
   * @throws {RangeError} unless n is an integer in 1..256
   * @throws {EventError} `ERR_EVENT_ACTIVE` while any event is active
   */
  priorityInit(n: number): void {
    if (this.#freed) throw freedError("priorityInit", "EventBase");
    checkInteger(n, "n", 1, 256);
    if (this.#activeCount > 0) {
      throw new EventError("ERR_EVENT_ACTIVE", "cannot change priorities while events are active");
    }
    this.#queues = Array.from({ length: n }, () => ({ head: null, tail: null }));
  }

  /**
   * The cached time in clock milliseconds: the time the current loop
   * iteration started, or the clock's time outside the loop (libevent
   * `event_base_gettimeofday_cached`, on the monotonic clock).
   */
  now(): number {
    return this.#cachedTime >= 0 ? this.#cachedTime : this.#clock.now();
  }

  /** Refresh the cached time from the clock (libevent `event_base_update_cache_time`). */
  updateCacheTime(): void {
    if (this.#running) this.#cachedTime = this.#clock.now();
  }

  /** True when the last loop ended through loopExit (`event_base_got_exit`). */
  gotExit(): boolean {
    return this.#gotExit;
  }

  /** True when the last loop ended through loopBreak (`event_base_got_break`). */
  gotBreak(): boolean {
    return this.#gotBreak;
  }

  /** True while a loop is in progress. */
  get running(): boolean {
    return this.#running;
  }

  /** Counts of added and active events (`event_base_get_num_events`). */
  countEvents(): EventCounts {
    return { added: this.#added, active: this.#activeCount };
  }

  /**
   * Run the loop until no events are pending or active, or until
   * {@linkcode EventBase.loopExit} / {@linkcode EventBase.loopBreak}
   * (libevent `event_base_dispatch`).
   *
   * When it returns, the loop holds nothing that keeps the program alive;
   * what the program opened on the base (a bound server, a listener, a
   * connection) stays open, ready for the next loop, until freed.
   * {@linkcode EventBase.free} frees all of it.
   *
   * @throws {EventError} `ERR_LOOP_RUNNING` (as a rejection) when a loop is already running
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the base was freed
   */
  async dispatch(): Promise<void> {
    if (this.#freed) throw freedError("dispatch", "EventBase");
    await this.loop();
  }

  /**
   * Run the loop (libevent `event_base_loop`). Resolves with 1 when it
   * stopped because no events were left, 0 otherwise. Rejects with the
   * error when a callback throws.
   *
   * @throws {EventError} `ERR_LOOP_RUNNING` (as a rejection) when a loop is already running
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the base was freed
   */
  loop(options: LoopOptions = {}): Promise<LoopResult> {
    if (this.#freed) return Promise.reject(freedError("loop", "EventBase"));
    if (this.#running) return Promise.reject(new EventError("ERR_LOOP_RUNNING", "the loop is already running"));
    this.#running = true;
    this.#flags = options;
    this.#exitRequested = false;
    this.#breakRequested = false;
    this.#gotExit = false;
    this.#gotBreak = false;
    const done = new Promise<LoopResult>((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
    this.#iterate();
    return done;
  }

  /**
   * Ask the loop to exit after the events active now have run, or after
   * `delayMs` (libevent `event_base_loopexit`). A call while no loop runs
   * exits the next one after its first iteration.
   *
   * @throws {TypeError} if delayMs is not a number
   * @throws {RangeError} if delayMs is negative or not finite
   * @throws {LeventError} `ERR_FREED` once the base was freed
   */
  loopExit(delayMs: number = 0): void {
    if (this.#freed) throw freedError("loopExit", "EventBase");
    checkMs(delayMs, "delayMs");
    this.once(null, EV_TIMEOUT, () => {
      this.#exitRequested = true;
    }, delayMs);
  }

  /**
   * Stop the loop as soon as the running callback returns, leaving other
   * active events for the next loop (libevent `event_base_loopbreak`).
   * Ignored while no loop runs.
   */
  loopBreak(): void {
    if (this.#running) {
      this.#breakRequested = true;
      this.#wake();
    }
  }

  /**
   * Run `callback` once when `what` fires on `source` or `timeoutMs`
   * elapses (libevent `event_base_once`). With a null source and no flags,
   * it is a one-shot timer (timeout 0 when not given).
   *
   * @throws {TypeError} if callback is not a function, or with EV_SIGNAL or EV_PERSIST, which a once-event cannot have
   * @throws {LeventError} `ERR_FREED` once the base was freed
   */
  once<A = unknown>(
    source: EventSource,
    what: number,
    callback: EventCallback<A>,
    timeoutMs?: number,
    arg?: A,
  ): void {
    if (this.#freed) throw freedError("once", "EventBase");
    checkFunction(callback, "callback");
    if (what & (EV_SIGNAL | EV_PERSIST)) {
      throw typeError("what", "a mix of EV_* flags without EV_SIGNAL or EV_PERSIST", what);
    }
    const ev: Event<A> = new Event(this, source, what & ~EV_TIMEOUT, (src, fired, a) => {
      ev.free();
      callback(src, fired, a);
    }, arg);
    ev.add(source === null && timeoutMs === undefined ? 0 : timeoutMs);
  }

  /**
   * Run `callback` on the loop's next iteration at the middle priority:
   * libevent's deferred callbacks (`event_deferred_cb_schedule_`), which
   * bufferevents use so their callbacks never run re-entrantly.
   *
   * @throws {LeventError} `ERR_FREED` once the base was freed
   */
  defer(callback: () => void): void {
    if (this.#freed) throw freedError("defer", "EventBase");
    checkFunction(callback, "callback");
    const ev = new Event(this, null, 0, () => {
      ev.free();
      callback();
    });
    ev.active(EV_TIMEOUT);
  }

  /**
   * A description of every added and active event, one per line (libevent
   * `event_base_dump_events`).
   */
  dumpEvents(): string {
    const lines: string[] = [`Inserted events: ${this.#added}`];
    const seen = new Set<EventCore>();
    for (const ev of this.#timers.entries()) seen.add(ev);
    for (const { events } of this.#signals.values()) for (const ev of events) seen.add(ev);
    for (const ev of this.#ioEvents) seen.add(ev);
    for (const ev of seen) if (ev.state & LIST_INSERTED) lines.push(`  ${ev.event}`);
    lines.push(`Active events: ${this.#activeCount}`);
    this.#queues.forEach((q, priority) => {
      for (let ev = q.head; ev !== null; ev = ev.nextActive) lines.push(`  [${priority}] ${ev.event}`);
    });
    return lines.join("\n");
  }

  /**
   * Free what was made on the base, delete every event and stop the loop
   * (libevent `event_base_free`). What the base owns goes with it, as if
   * each were freed: HttpServers (their connections closed, state
   * `"closed"`), Listeners (their sockets closed), HttpConnections (their
   * requests cancelled) and BufferEvents; nothing levent holds is left to
   * keep the program alive. A loop in progress resolves with 0. Afterwards
   * dispatch(), loop(), once(), defer(), loopExit(), priorityInit() and
   * adding or activating its events throw `ERR_FREED`; free() again does
   * nothing.
   *
   * @throws the first error a release threw, once everything was released
   */
  free(): void {
    if (this.#freed) return;
    let failure: { err: unknown } | null = null;
    // Released before the base is marked freed: their teardown may still add or delete events.
    for (const release of [...this.#owned]) {
      try {
        release();
      } catch (err) {
        failure ??= { err };
      }
    }
    this.#owned.clear();
    for (const ev of [...this.#timers.entries(), ...this.#ioEvents]) this.#delEvent(ev);
    for (const { events } of this.#signals.values()) for (const ev of [...events]) this.#delEvent(ev);
    for (const q of this.#queues) while (q.head !== null) this.#delEvent(q.head);
    this.#freed = true;
    if (this.#running) this.#stop(0);
    if (failure !== null) throw failure.err;
  }

  /** {@linkcode EventBase.free}, for `using base = new EventBase()`. */
  [Symbol.dispose](): void {
    this.free();
  }

  // ---- what an Event asks (addEvent, delEvent, activate) ----

  #addEvent(ev: EventCore, timeoutMs: number): void {
    if (this.#freed) throw freedError("add", "EventBase");
    const source = ev.source;
    if (!(ev.state & LIST_INSERTED)) {
      if (ev.events & EV_SIGNAL) this.#watchSignal(ev, source as SignalName);
      else if (ev.events & EV_IO_FLAGS) this.#watchIo(ev, source as Pollable);
      ev.state |= LIST_INSERTED;
      this.#added++;
    }
    ev.timeoutMs = timeoutMs;
    if (timeoutMs >= 0) this.#timers.schedule(ev, timeoutMs, this.now() + timeoutMs);
    else this.#timers.unschedule(ev);
    this.#wake();
  }

  #delEvent(ev: EventCore): void {
    if (ev.state & LIST_ACTIVE) this.#unqueue(ev);
    this.#timers.unschedule(ev);
    if (ev.state & LIST_INSERTED) {
      ev.state &= ~LIST_INSERTED;
      this.#added--;
      if (ev.events & EV_SIGNAL) this.#unwatchSignal(ev, ev.source as SignalName);
      else if (ev.events & EV_IO_FLAGS) this.#unwatchIo(ev, ev.source as Pollable);
    }
    this.#wake();
  }

  #activate(ev: EventCore, what: number, ncalls: number): void {
    if (ev.state & LIST_ACTIVE) {
      ev.result |= what;
      if (what & EV_SIGNAL) ev.ncalls += ncalls;
      return;
    }
    ev.result = what;
    ev.ncalls = what & EV_SIGNAL ? ncalls : 1;
    ev.state |= LIST_ACTIVE;
    this.#activeCount++;
    const q = this.#queues[Math.min(ev.priority, this.#queues.length - 1)];
    ev.prevActive = q.tail;
    ev.nextActive = null;
    if (q.tail === null) q.head = ev;
    else q.tail.nextActive = ev;
    q.tail = ev;
    this.#wake();
  }

  /** A pollable reports new readiness. */
  #ioReady(ev: EventCore, ready: number): void {
    const fired = ready & ev.events & EV_IO_FLAGS;
    if (fired !== 0 && ev.state & LIST_INSERTED) this.#activate(ev, fired, 1);
  }

  // ---- internal: the loop ----

  #unqueue(ev: EventCore): void {
    const q = this.#queues[Math.min(ev.priority, this.#queues.length - 1)];
    if (ev.prevActive === null) q.head = ev.nextActive;
    else ev.prevActive.nextActive = ev.nextActive;
    if (ev.nextActive === null) q.tail = ev.prevActive;
    else ev.nextActive.prevActive = ev.prevActive;
    ev.prevActive = ev.nextActive = null;
    ev.state &= ~LIST_ACTIVE;
    this.#activeCount--;
  }

  #watchSignal(ev: EventCore, signal: SignalName): void {
    let entry = this.#signals.get(signal);
    if (entry === undefined) {
      const events = new Set<EventCore>();
      const handler = (): void => {
        for (const e of events) this.#activate(e, EV_SIGNAL, 1);
      };
      let watching: boolean;
      let cause: unknown;
      try {
        watching = this.platform.addSignalListener(signal, handler);
      } catch (err) {
        // The contract says false, but a raw runtime error must not leak as a different failure.
        watching = false;
        cause = err;
      }
      if (!watching) {
        throw new EventError("ERR_SIGNAL_UNSUPPORTED", `this runtime cannot watch ${String(signal)}`, { cause });
      }
      entry = { events, handler };
      this.#signals.set(signal, entry);
    }
    entry.events.add(ev);
  }

  #unwatchSignal(ev: EventCore, signal: SignalName): void {
    const entry = this.#signals.get(signal);
    if (entry === undefined) return;
    entry.events.delete(ev);
    if (entry.events.size === 0) {
      this.#signals.delete(signal);
      this.platform.removeSignalListener(signal, entry.handler);
    }
  }

  #watchIo(ev: EventCore, source: Pollable): void {
    this.#ioEvents.add(ev);
    ev.onReady ??= (ready) => this.#ioReady(ev, ready);
    source.watch(ev.onReady);
    // Level-triggered: readiness that already holds fires at once.
    if (!(ev.events & EV_ET)) {
      const ready = source.poll() & ev.events & EV_IO_FLAGS;
      if (ready !== 0) this.#recheck.push(ev);
    }
  }

  #unwatchIo(ev: EventCore, source: Pollable): void {
    this.#ioEvents.delete(ev);
    if (ev.onReady !== null) source.unwatch(ev.onReady);
  }

  /** Something became active or changed: make sure a pass will run. */
  #wake(): void {
    if (!this.#running || this.#inPass || this.#passQueued) return;
    this.#passQueued = true;
    queueMicrotask(this.#runPass);
  }

  /** One loop iteration: collect due timers, run the highest-priority active queue. */
  #iterate(): void {
    if (!this.#running || this.#inPass) return;
    this.#inPass = true;
    let ran: boolean;
    try {
      this.#cachedTime = this.#clock.now();
      this.#collectRecheck();
      this.#collectTimers();
      ran = this.#runActive();
    } catch (err) {
      this.#inPass = false;
      this.#stop(0, err);
      return;
    }
    this.#inPass = false;
    this.#cachedTime = -1;
    this.#afterPass(ran);
  }

  /** Decide what follows a pass, in libevent's order (event_base_loop). */
  #afterPass(ran: boolean): void {
    const flags = this.#flags;
    const more = this.#activeCount > 0 || this.#recheck.length > 0;
    if (this.#breakRequested) {
      this.#gotBreak = true;
      this.#stop(0);
    } else if (this.#exitRequested) {
      this.#gotExit = true;
      this.#stop(0);
    } else if ((flags.once && ran && !more) || (flags.nonblock && !more)) {
      this.#stop(0);
    } else if (more) {
      // More work is ready: let pending I/O in first, as libevent polls between iterations.
      if (!this.#yieldQueued) {
        this.#yieldQueued = true;
        this.#passQueued = true;
        this.platform.yieldToIo(this.#runPass);
      }
    } else if (this.#added === 0 && !flags.noExitOnEmpty) {
      this.#stop(1);
    } else {
      this.#armTimer();
    }
  }

  #collectRecheck(): void {
    if (this.#recheck.length === 0) return;
    const list = this.#recheck;
    this.#recheck = [];
    for (const ev of list) {
      if (ev.state & LIST_INSERTED) {
        const ready = (ev.source as Pollable).poll() & ev.events & EV_IO_FLAGS;
        if (ready !== 0) this.#activate(ev, ready, 1);
      }
    }
  }

  #collectTimers(): void {
    const now = this.#cachedTime;
    for (;;) {
      const ev = this.#timers.popDue(now);
      if (ev === undefined) break;
      if (ev.events & EV_PERSIST) {
        // Keep the cadence: next deadline is one period after this one, unless that is already past.
        const next = ev.deadline + ev.timeoutMs;
        this.#timers.schedule(ev, ev.timeoutMs, next > now ? next : now + ev.timeoutMs);
      } else {
        this.#delEvent(ev);
      }
      this.#activate(ev, EV_TIMEOUT, 1);
    }
  }

  /** Run the lowest-numbered non-empty active queue; true if any callback ran. */
  #runActive(): boolean {
    for (const q of this.#queues) {
      if (q.head === null) continue;
      while (q.head !== null) {
        const ev = q.head;
        const what = ev.result;
        const ncalls = ev.ncalls;
        this.#unqueue(ev);
        if (ev.events & EV_PERSIST) {
          if (ev.timeoutMs >= 0 && !(what & EV_TIMEOUT) && ev.state & LIST_INSERTED) {
            // Activity restarts a persistent event's timeout, as libevent does.
            this.#timers.schedule(ev, ev.timeoutMs, this.#cachedTime + ev.timeoutMs);
          }
        } else if (ev.state & LIST_INSERTED) {
          this.#delEvent(ev);
        }
        const calls = what & EV_SIGNAL ? ncalls : 1;
        for (let i = 0; i < calls; i++) {
          ev.callback(ev.source, what, ev.arg);
          if (this.#breakRequested) return true;
        }
        if (
          ev.events & EV_PERSIST && ev.state & LIST_INSERTED && !(ev.events & EV_ET) &&
          ev.events & EV_IO_FLAGS && !(ev.state & LIST_ACTIVE)
        ) {
          this.#recheck.push(ev);
        }
      }
      // Lower priorities wait for the next iteration, as in libevent.
      return true;
    }
    return false;
  }

  #armTimer(): void {
    let due = this.#timers.earliest();
    // A runtime timer already armed no later than needed stays: firing early
    // only costs a pass that re-arms, where re-arming after every pass would
    // cost a clear and a set each time. Only a keepalive is needed when no
    // timer is due and events are pending.
    if (this.#timer !== undefined && due >= this.#timerDue) return;
    if (due === Infinity && this.#added > 0) due = this.#clock.now() + KEEPALIVE_MS;
    if (due === this.#timerDue) return;
    this.#clearTimer();
    if (due === Infinity) return;
    this.#timerDue = due;
    this.#timer = this.#clock.setTimer(this.#onTimer, Math.max(0, due - this.#clock.now()));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
    this.#timerDue = Infinity;
  }

  #stop(result: LoopResult, err?: unknown): void {
    this.#running = false;
    this.#cachedTime = -1;
    this.#clearTimer();
    const finish = this.#finish;
    const fail = this.#fail;
    this.#finish = this.#fail = null;
    if (err !== undefined) fail?.(err);
    else finish?.(result);
  }
}
