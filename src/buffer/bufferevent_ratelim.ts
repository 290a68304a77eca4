/**
 * Token-bucket rate limits for BufferEvents: libevent's
 * bufferevent_ratelim.c. {@linkcode TokenBucketConfig} says how fast,
 * {@linkcode RateLimitGroup} shares one bucket among many BufferEvents, and
 * the internal {@linkcode RateLimit} is one BufferEvent's side of it: its
 * own bucket, its group, and the suspend bits it sets on the BufferEvent
 * while tokens run out.
 *
 * @module
 */
import { checkEventBase, checkInteger, checkObject, rangeError, typeError } from "../check.ts";
import { freedError } from "../errors.ts";
import { Event, type EventBase } from "../event/event_base.ts";
import { EV_TIMEOUT } from "../event/flags.ts";
import { type BufferEventCore, checkTokens, SUSPEND_BW, SUSPEND_BW_GROUP } from "./bufferevent.ts";

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

/** libevent's default minimum share of a group's bucket per member and operation. */
const DEFAULT_MIN_SHARE = 64;

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
   * @throws {TypeError} if options is not an object, or a field is not a number
   * @throws {RangeError} naming the field, if a rate is not an integer >= 1, a burst is below its rate, or tickMs is not > 0
   */
  constructor(options: TokenBucketOptions) {
    checkObject(options, "options");
    this.readRate = checkInteger(options.readRate, "readRate", 1);
    this.readBurst = checkBurst(options.readBurst, this.readRate, "readBurst", "readRate");
    this.writeRate = checkInteger(options.writeRate, "writeRate", 1);
    this.writeBurst = checkBurst(options.writeBurst, this.writeRate, "writeBurst", "writeRate");
    this.tickMs = checkTick(options.tickMs ?? 1000);
  }
}

/** A burst: at least its rate, which it defaults to. */
function checkBurst(value: unknown, rate: number, name: string, rateName: string): number {
  if (value === undefined) return rate;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= rate) return value;
  const rule = `an integer >= ${rateName} (${rate})`;
  throw typeof value === "number" ? rangeError(name, rule, value) : typeError(name, rule, value);
}

/** A tick length in milliseconds: a finite number > 0. */
function checkTick(value: unknown): number {
  if (typeof value === "number" && value > 0 && value !== Infinity) return value;
  const rule = "a finite number > 0";
  throw typeof value === "number" ? rangeError("tickMs", rule, value) : typeError("tickMs", rule, value);
}

// ------------------------------------------------------------ bucket math

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

// ------------------------------------------------------------------ groups

/** The state behind each {@linkcode RateLimitGroup}, which its members' {@linkcode RateLimit}s reach. */
const groupStates = new WeakMap<RateLimitGroup, GroupState>();

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
  readonly #g: GroupState;

  /**
   * Make a group with a bucket configured by `cfg` (libevent
   * `bufferevent_rate_limit_group_new`).
   *
   * @throws {TypeError} if base is not an EventBase or cfg is not a TokenBucketConfig
   */
  constructor(base: EventBase, cfg: TokenBucketConfig) {
    checkEventBase(base, "base");
    if (!(cfg instanceof TokenBucketConfig)) throw typeError("cfg", "a TokenBucketConfig", cfg);
    this.#g = new GroupState(base, cfg);
    groupStates.set(this, this.#g);
  }

  /** How many BufferEvents are in the group. */
  get size(): number {
    return this.#g.members.length;
  }

  /**
   * Change the configuration, keeping the tokens left up to the new bursts
   * (libevent `bufferevent_rate_limit_group_set_cfg`).
   *
   * @throws {TypeError} if cfg is not a TokenBucketConfig
   * @throws {LeventError} `ERR_FREED` once the group was freed
   */
  setConfig(cfg: TokenBucketConfig): void {
    if (!(cfg instanceof TokenBucketConfig)) throw typeError("cfg", "a TokenBucketConfig", cfg);
    this.#g.checkLive("setConfig");
    this.#g.setConfig(cfg);
  }

  /**
   * Set the smallest share a member may take per operation while the bucket
   * holds that much (libevent `bufferevent_rate_limit_group_set_min_share`).
   *
   * @throws {RangeError} if n is not an integer >= 1
   * @throws {TypeError} if n is not a number
   */
  setMinShare(n: number): void {
    this.#g.minShare = checkInteger(n, "n", 1);
  }

  /** Read tokens left in the group's bucket (libevent `bufferevent_rate_limit_group_get_read_limit`). */
  getReadLimit(): number {
    return this.#g.refill().read;
  }

  /** Write tokens left in the group's bucket (libevent `bufferevent_rate_limit_group_get_write_limit`). */
  getWriteLimit(): number {
    return this.#g.refill().write;
  }

  /**
   * Take `n` read tokens from the group's bucket; negative gives some back
   * (libevent `bufferevent_rate_limit_group_decrement_read`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if n is not a number
   * @throws {LeventError} `ERR_FREED` once the group was freed
   */
  decrementReadLimit(n: number): void {
    checkTokens(n);
    this.#g.checkLive("decrementReadLimit");
    this.#g.decrement(n, true);
  }

  /**
   * Take `n` write tokens from the group's bucket; negative gives some back
   * (libevent `bufferevent_rate_limit_group_decrement_write`).
   *
   * @throws {RangeError} if n is not a safe integer
   * @throws {TypeError} if n is not a number
   * @throws {LeventError} `ERR_FREED` once the group was freed
   */
  decrementWriteLimit(n: number): void {
    checkTokens(n);
    this.#g.checkLive("decrementWriteLimit");
    this.#g.decrement(n, false);
  }

  /** Bytes the members have read and written (libevent `bufferevent_rate_limit_group_get_totals`). */
  getTotals(): RateLimitTotals {
    return { read: this.#g.totalRead, written: this.#g.totalWritten };
  }

  /** Set both totals back to 0 (libevent `bufferevent_rate_limit_group_reset_totals`). */
  resetTotals(): void {
    this.#g.totalRead = this.#g.totalWritten = 0;
  }

  /**
   * Remove every member and stop the refill timer (libevent
   * `bufferevent_rate_limit_group_free`, which wants the members gone first).
   * Adding a BufferEvent afterwards throws.
   */
  free(): void {
    this.#g.free();
  }
}

/** A group's bucket and members: what {@linkcode RateLimitGroup} shows, and its members' limits use. */
class GroupState {
  readonly base: EventBase;
  #cfg: TokenBucketConfig;
  readonly #bucket: Bucket;
  readonly members: RateLimit[] = [];
  minShare = DEFAULT_MIN_SHARE;
  #readSuspended = false;
  #writeSuspended = false;
  readonly #refillEv: Event;
  totalRead = 0;
  totalWritten = 0;
  /** Where the next refill starts releasing members, so none is always first. */
  #next = 0;
  #freed = false;

  constructor(base: EventBase, cfg: TokenBucketConfig) {
    this.base = base;
    this.#cfg = cfg;
    this.#bucket = newBucket(cfg, base.now());
    this.#refillEv = new Event(base, null, 0, () => this.#onRefill());
  }

  checkLive(op: string): void {
    if (this.#freed) throw freedError(op, "RateLimitGroup");
  }

  /** The bucket, refilled for the ticks that passed. */
  refill(): Bucket {
    refillBucket(this.#bucket, this.#cfg, this.base.now());
    return this.#bucket;
  }

  setConfig(cfg: TokenBucketConfig): void {
    const old = this.#cfg;
    const now = this.base.now();
    refillBucket(this.#bucket, old, now);
    rebaseBucket(this.#bucket, old, cfg, now);
    this.#cfg = cfg;
    if (this.#refillEv.pending(EV_TIMEOUT) !== 0) {
      this.#refillEv.del();
      this.#armRefill();
    }
  }

  join(member: RateLimit): void {
    this.members.push(member);
    if (this.#readSuspended) member.setGroupSuspended(true, true);
    if (this.#writeSuspended) member.setGroupSuspended(false, true);
  }

  leave(member: RateLimit): void {
    const i = this.members.indexOf(member);
    if (i >= 0) this.members.splice(i, 1);
  }

  /** What one member may take in one operation now. */
  share(read: boolean): number {
    if (read ? this.#readSuspended : this.#writeSuspended) return 0;
    const bucket = this.refill();
    const limit = read ? bucket.read : bucket.write;
    if (limit <= 0) return 0;
    let share = Math.floor(limit / Math.max(1, this.members.length));
    if (share < this.minShare) share = this.minShare;
    return share < limit ? share : limit;
  }

  consume(read: boolean, n: number): void {
    if (read) {
      this.#bucket.read -= n;
      this.totalRead += n;
      if (this.#bucket.read <= 0 && !this.#readSuspended) this.#suspend(true);
    } else {
      this.#bucket.write -= n;
      this.totalWritten += n;
      if (this.#bucket.write <= 0 && !this.#writeSuspended) this.#suspend(false);
    }
  }

  decrement(n: number, read: boolean): void {
    const bucket = this.refill();
    const old = read ? bucket.read : bucket.write;
    const now = old - n;
    if (read) bucket.read = now;
    else bucket.write = now;
    const suspended = read ? this.#readSuspended : this.#writeSuspended;
    if (now <= 0 && !suspended) this.#suspend(read);
    else if (now > 0 && suspended) this.#release(read);
  }

  free(): void {
    if (this.#freed) return;
    for (const member of [...this.members]) member.evict();
    this.#refillEv.free();
    this.#freed = true;
  }

  #suspend(read: boolean): void {
    if (read) this.#readSuspended = true;
    else this.#writeSuspended = true;
    for (const member of [...this.members]) member.setGroupSuspended(read, true);
    this.#armRefill();
  }

  #release(read: boolean): void {
    if (read) this.#readSuspended = false;
    else this.#writeSuspended = false;
    const members = [...this.members];
    const n = members.length;
    for (let i = 0; i < n; i++) members[(this.#next + i) % n].setGroupSuspended(read, false);
  }

  #armRefill(): void {
    if (this.#freed || this.#refillEv.pending(EV_TIMEOUT) !== 0) return;
    this.#refillEv.add(untilNextTick(this.#cfg, this.base.now()));
  }

  #onRefill(): void {
    const bucket = this.refill();
    if (this.#readSuspended && bucket.read > 0) this.#release(true);
    if (this.#writeSuspended && bucket.write > 0) this.#release(false);
    this.#next++;
    if (this.#readSuspended || this.#writeSuspended) this.#armRefill();
  }
}

// --------------------------------------------------- one BufferEvent's side

/**
 * One BufferEvent's rate limiting: libevent's `struct
 * bufferevent_rate_limit`. Its own bucket (with a config) and its group,
 * either or both; the core makes one when the first is set and drops it
 * when neither is left, so a BufferEvent without limits pays one null test
 * per read and write. Budgets and spending go through the core's suspend
 * bits: `SUSPEND_BW` for the own bucket, `SUSPEND_BW_GROUP` for the group.
 */
export class RateLimit {
  readonly #core: BufferEventCore;
  #cfg: TokenBucketConfig | null = null;
  #bucket: Bucket = { read: 0, write: 0, tick: 0 };
  #group: GroupState | null = null;
  #refillEv: Event | null = null;

  constructor(core: BufferEventCore) {
    this.#core = core;
  }

  /** Whether a config or a group is set; the core drops a RateLimit that has neither. */
  get active(): boolean {
    return this.#cfg !== null || this.#group !== null;
  }

  /** Whether this BufferEvent has a bucket of its own. */
  get hasConfig(): boolean {
    return this.#cfg !== null;
  }

  /** Set, change or (null) lift the own bucket's config (libevent `bufferevent_set_rate_limit`). */
  setConfig(cfg: TokenBucketConfig | null): void {
    const old = this.#cfg;
    if (cfg === old) return;
    const core = this.#core;
    const now = core.base.now();
    this.#cfg = cfg;
    if (cfg === null) {
      this.#refillEv?.del();
      core.unsuspendRead(SUSPEND_BW);
      core.unsuspendWrite(SUSPEND_BW);
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
   * Join `group`, leaving the one we were in (libevent
   * `bufferevent_add_to_rate_limit_group`).
   *
   * @throws {TypeError} if the group belongs to another base
   * @throws {LeventError} `ERR_FREED` if the group was freed
   */
  join(group: RateLimitGroup): void {
    const g = groupStates.get(group) as GroupState;
    if (g.base !== this.#core.base) throw new TypeError("group must belong to this BufferEvent's base");
    if (this.#group === g) return;
    g.checkLive("addToRateLimitGroup");
    if (this.#group !== null) this.leave();
    g.join(this);
    this.#group = g;
  }

  /** Leave the group, if any, and stop waiting for it (libevent `bufferevent_remove_from_rate_limit_group`). */
  leave(): void {
    const group = this.#group;
    if (group === null) return;
    this.#group = null;
    group.leave(this);
    this.#core.unsuspendRead(SUSPEND_BW_GROUP);
    this.#core.unsuspendWrite(SUSPEND_BW_GROUP);
  }

  /** The group is being freed: the BufferEvent leaves it as by removeFromRateLimitGroup(). */
  evict(): void {
    this.#core.removeFromRateLimitGroup();
  }

  /** The group's bucket ran dry (on) or was refilled (off). */
  setGroupSuspended(read: boolean, on: boolean): void {
    const core = this.#core;
    if (read) {
      if (on) core.suspendRead(SUSPEND_BW_GROUP);
      else core.unsuspendRead(SUSPEND_BW_GROUP);
    } else if (on) core.suspendWrite(SUSPEND_BW_GROUP);
    else core.unsuspendWrite(SUSPEND_BW_GROUP);
  }

  /** The BufferEvent is freed: out of the group, no more refills. */
  release(): void {
    if (this.#group !== null) this.#group.leave(this);
    this.#group = null;
    this.#cfg = null;
    this.#refillEv?.free();
  }

  /** Read tokens left in the own bucket; Infinity without one (libevent `bufferevent_get_read_limit`). */
  readLimit(): number {
    const cfg = this.#cfg;
    if (cfg === null) return Infinity;
    refillBucket(this.#bucket, cfg, this.#core.base.now());
    return this.#bucket.read;
  }

  /** Write tokens left in the own bucket; Infinity without one (libevent `bufferevent_get_write_limit`). */
  writeLimit(): number {
    const cfg = this.#cfg;
    if (cfg === null) return Infinity;
    refillBucket(this.#bucket, cfg, this.#core.base.now());
    return this.#bucket.write;
  }

  /** The most bytes that may be read now: the own bucket or the group share, the smaller (libevent `bufferevent_get_read_max_`). */
  maxToRead(): number {
    let max = this.readLimit();
    if (this.#group !== null) {
      const share = this.#group.share(true);
      if (share < max) max = share;
    }
    return max > 0 ? max : 0;
  }

  /** The most bytes that may be written now (libevent `bufferevent_get_write_max_`). */
  maxToWrite(): number {
    let max = this.writeLimit();
    if (this.#group !== null) {
      const share = this.#group.share(false);
      if (share < max) max = share;
    }
    return max > 0 ? max : 0;
  }

  /** Spend `n` read tokens, waiting for a refill once a bucket is empty (libevent `bufferevent_decrement_read_buckets_`). */
  consumeRead(n: number): void {
    if (this.#cfg !== null) {
      this.#bucket.read -= n;
      if (this.#bucket.read <= 0) {
        this.#core.suspendRead(SUSPEND_BW);
        this.#armRefill();
      }
    }
    if (this.#group !== null) this.#group.consume(true, n);
  }

  /** Spend `n` write tokens (libevent `bufferevent_decrement_write_buckets_`). */
  consumeWrite(n: number): void {
    if (this.#cfg !== null) {
      this.#bucket.write -= n;
      if (this.#bucket.write <= 0) {
        this.#core.suspendWrite(SUSPEND_BW);
        this.#armRefill();
      }
    }
    if (this.#group !== null) this.#group.consume(false, n);
  }

  /**
   * Take `n` tokens from the own bucket, or give them back (libevent
   * `bufferevent_decrement_read_limit` / `_write_limit`). The caller made
   * sure a config is set.
   */
  decrement(n: number, read: boolean): void {
    const b = this.#bucket;
    refillBucket(b, this.#cfg as TokenBucketConfig, this.#core.base.now());
    const old = read ? b.read : b.write;
    const now = old - n;
    if (read) b.read = now;
    else b.write = now;
    const core = this.#core;
    if (old > 0 && now <= 0) {
      if (read) core.suspendRead(SUSPEND_BW);
      else core.suspendWrite(SUSPEND_BW);
      this.#armRefill();
    } else if (old <= 0 && now > 0) {
      if (read) core.unsuspendRead(SUSPEND_BW);
      else core.unsuspendWrite(SUSPEND_BW);
    }
  }

  /** Suspend or release each direction by what the bucket holds now. */
  #applyBucket(): void {
    const core = this.#core;
    const b = this.#bucket;
    if (b.read > 0) core.unsuspendRead(SUSPEND_BW);
    else core.suspendRead(SUSPEND_BW);
    if (b.write > 0) core.unsuspendWrite(SUSPEND_BW);
    else core.suspendWrite(SUSPEND_BW);
    if (b.read <= 0 || b.write <= 0) this.#armRefill();
  }

  #armRefill(): void {
    const cfg = this.#cfg;
    if (cfg === null || this.#core.isFreed()) return;
    const ev = this.#refillEv ??= new Event(this.#core.base, null, 0, () => this.#onRefill());
    if (ev.pending(EV_TIMEOUT) === 0) ev.add(untilNextTick(cfg, this.#core.base.now()));
  }

  #onRefill(): void {
    const cfg = this.#cfg;
    const core = this.#core;
    if (cfg === null || core.isFreed()) return;
    refillBucket(this.#bucket, cfg, core.base.now());
    let again = false;
    if (core.readSuspend & SUSPEND_BW) {
      if (this.#bucket.read > 0) core.unsuspendRead(SUSPEND_BW);
      else again = true;
    }
    if (core.writeSuspend & SUSPEND_BW) {
      if (this.#bucket.write > 0) core.unsuspendWrite(SUSPEND_BW);
      else again = true;
    }
    if (again) this.#armRefill();
  }
}
