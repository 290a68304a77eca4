/**
 * Timers grouped by duration: libevent's "common timeouts" (and Node's timer
 * lists), applied to every timer. Timers added with the same duration fall
 * due in the order they were added, so each duration keeps a FIFO list and
 * only the lists' heads sit in a min-heap. Adding, cancelling and firing a
 * timer are then O(1) in the usual case (many timers, few distinct
 * durations, like every connection's idle timeout), and O(log lists) when
 * a list's head changes. Not part of the public API: `mod.ts` does not
 * export this file.
 *
 * @module
 */
import { type HeapEntry, MinHeap } from "./min_heap.ts";

/** What the queue needs of a timer. */
export interface TimerEntry {
  /** When the timer is due (clock milliseconds). */
  deadline: number;
  /** Tie-breaker between timers due at the same time: insertion order. */
  seq: number;
  /** The list holding the timer, or null when it is not scheduled. */
  timerList: TimerList<TimerEntry> | null;
  /** Neighbours in that list. */
  timerPrev: TimerEntry | null;
  /** Neighbours in that list. */
  timerNext: TimerEntry | null;
}

/**
 * The timers of one duration, sorted by deadline. Its heap key is a lower
 * bound of its head's (deadline, seq): cancelling the head leaves the key
 * stale rather than re-sorting the heap, and the key is refreshed when the
 * list reaches the top.
 */
export class TimerList<T extends TimerEntry> implements HeapEntry {
  /** The heap key: a lower bound of the head's deadline. */
  deadline = 0;
  /** The heap key's tie-breaker: a lower bound of the head's seq. */
  seq = 0;
  /** Where the list is in the heap. */
  heapIndex = -1;
  /** The duration the list holds. */
  readonly durationMs: number;
  /** The earliest timer. */
  head: T | null = null;
  /** The latest timer. */
  tail: T | null = null;

  /** A list for timers of `durationMs`. */
  constructor(durationMs: number) {
    this.durationMs = durationMs;
  }
}

/** Timers in per-duration lists under one min-heap of list heads. */
export class TimerQueue<T extends TimerEntry> {
  #lists = new Map<number, TimerList<T>>();
  #heap = new MinHeap<TimerList<T>>();
  #seq = 0;
  #size = 0;

  /** How many timers are scheduled. */
  get size(): number {
    return this.#size;
  }

  /** True when `entry` is scheduled in this queue. */
  has(entry: T): boolean {
    return entry.timerList !== null;
  }

  /**
   * Schedule `entry` at `deadline` in the list for `durationMs`, moving it if
   * it was scheduled. A deadline earlier than the list's tail (a persistent
   * timer keeping its cadence) is inserted in order, walking back from the tail.
   */
  schedule(entry: T, durationMs: number, deadline: number): void {
    if (entry.timerList !== null) this.unschedule(entry);
    entry.deadline = deadline;
    entry.seq = this.#seq++;
    let list = this.#lists.get(durationMs);
    if (list === undefined) {
      list = new TimerList<T>(durationMs);
      this.#lists.set(durationMs, list);
    }
    let after = list.tail;
    while (after !== null && after.deadline > deadline) after = after.timerPrev as T | null;
    entry.timerList = list as TimerList<TimerEntry>;
    entry.timerPrev = after;
    const next = after === null ? list.head : after.timerNext as T | null;
    entry.timerNext = next;
    if (after === null) list.head = entry;
    else after.timerNext = entry;
    if (next === null) list.tail = entry;
    else next.timerPrev = entry;
    this.#size++;
    // A new head may be earlier than the list's key: that key must move up now.
    if (list.head === entry && (!this.#heap.has(list) || earlier(entry, list))) {
      list.deadline = entry.deadline;
      list.seq = entry.seq;
      this.#heap.push(list);
    }
  }

  /** Cancel `entry`; no-op when it is not scheduled. O(1): the list's key may go stale. */
  unschedule(entry: T): void {
    const list = entry.timerList as TimerList<T> | null;
    if (list === null) return;
    const prev = entry.timerPrev as T | null;
    const next = entry.timerNext as T | null;
    if (prev === null) list.head = next;
    else prev.timerNext = next;
    if (next === null) list.tail = prev;
    else next.timerPrev = prev;
    entry.timerList = entry.timerPrev = entry.timerNext = null;
    this.#size--;
  }

  /** The earliest deadline, or Infinity when nothing is scheduled. */
  earliest(): number {
    const list = this.#top();
    return list === undefined ? Infinity : list.deadline;
  }

  /** Remove and return the earliest timer if it is due at `now`, else undefined. */
  popDue(now: number): T | undefined {
    const list = this.#top();
    if (list === undefined || list.deadline > now) return undefined;
    const entry = list.head!;
    this.unschedule(entry);
    return entry;
  }

  /** Every scheduled timer, in no particular order. */
  entries(): T[] {
    const out: T[] = [];
    for (const list of this.#lists.values()) {
      for (let e = list.head; e !== null; e = e.timerNext as T | null) out.push(e);
    }
    return out;
  }

  /** The list holding the earliest timer, with its key brought up to date. */
  #top(): TimerList<T> | undefined {
    for (;;) {
      const list = this.#heap.peek();
      if (list === undefined) return undefined;
      const head = list.head;
      if (head === null) {
        this.#heap.pop();
        this.#lists.delete(list.durationMs);
        continue;
      }
      if (head.deadline === list.deadline && head.seq === list.seq) return list;
      list.deadline = head.deadline;
      list.seq = head.seq;
      this.#heap.push(list);
    }
  }
}

function earlier(a: TimerEntry, b: HeapEntry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}
