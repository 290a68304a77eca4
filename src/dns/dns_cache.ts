/**
 * The resolver's answer cache: positive answers for their TTL, negative
 * ones (NXDOMAIN, NODATA) for the TTL their SOA gives (RFC 2308 §5), on
 * the EventBase's clock so tests drive it by hand. libevent's resolver has
 * none.
 *
 * @module
 */
import type { DnsRecord } from "./dns_message.ts";

/** What a cached query found. */
export interface CachedAnswer {
  /** `DNS_ERR_NONE`, `DNS_ERR_NOTEXIST` or `DNS_ERR_NODATA`. */
  readonly result: number;
  /** The records of the type asked for (after any CNAME chain); empty when negative. */
  readonly records: readonly DnsRecord[];
  /** The canonical name the chain ended at. */
  readonly canonicalName: string;
  /** Seconds left to live, rounded down. */
  readonly ttl: number;
}

interface Entry {
  readonly result: number;
  readonly records: readonly DnsRecord[];
  readonly canonicalName: string;
  readonly expires: number;
}

/** The longest a positive answer is kept, whatever its TTL says: one week, as BIND's max-cache-ttl. */
export const MAX_POSITIVE_TTL_S: number = 7 * 24 * 3600;
/** The longest a negative answer is kept: three hours (RFC 2308 §5 suggests one to three). */
export const MAX_NEGATIVE_TTL_S: number = 3 * 3600;

/**
 * A bounded map from (name, type) to an answer and when it expires. Full,
 * it forgets the entry used least recently.
 */
export class DnsCache {
  readonly #max: number;
  #entries = new Map<string, Entry>();

  /** A cache of at most `maxEntries` answers. */
  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  /** How many answers are held, expired ones included until looked at. */
  get size(): number {
    return this.#entries.size;
  }

  /** The answer for `key` at clock time `now` (ms), or undefined when there is none or it expired. */
  get(key: string, now: number): CachedAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used goes last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    const ttl = Math.floor((entry.expires - now) / 1000);
    return { result: entry.result, records: entry.records, canonicalName: entry.canonicalName, ttl };
  }

  /** Keep an answer for `ttl` seconds from `now` (ms); a TTL of 0 keeps nothing. */
  set(
    key: string,
    now: number,
    ttl: number,
    result: number,
    records: readonly DnsRecord[],
    canonicalName: string,
  ): void {
    const cap = records.length > 0 ? MAX_POSITIVE_TTL_S : MAX_NEGATIVE_TTL_S;
    const seconds = Math.min(ttl, cap);
    if (!(seconds > 0) || this.#max === 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { result, records, canonicalName, expires: now + seconds * 1000 });
  }

  /** Forget everything. */
  clear(): void {
    this.#entries.clear();
  }
}
