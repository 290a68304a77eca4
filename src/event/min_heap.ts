/**
 * A binary min-heap of timers keyed by (deadline, sequence), where each entry
 * remembers its own index: libevent's minheap-internal.h. Removal is lazy:
 * a removed entry stays as a tombstone until it reaches the top or
 * tombstones outnumber live entries, when the heap is rebuilt in O(n). That
 * makes the common add-then-cancel pattern (timeouts that never fire) O(1)
 * to cancel instead of O(log n).
 *
 * @module
 */

/** What the heap needs of an entry. */
export interface HeapEntry {
  /** When the entry is due (clock milliseconds). */
  deadline: number;
  /** Tie-breaker: entries due at the same time leave in insertion order. */
  seq: number;
  /** The entry's index in the heap, or -1 when it is not in one. */
  heapIndex: number;
  /** True while the entry sits in the heap as a tombstone. */
  removed: boolean;
}

// Rebuild once tombstones are this many and more than the live entries.
const MIN_TOMBSTONES_FOR_REBUILD = 64;

/** A min-heap of {@linkcode HeapEntry} ordered by deadline then seq. */
export class MinHeap<T extends HeapEntry> {
  #items: T[] = [];
  #dead = 0;

  /** How many live entries the heap holds. */
  get size(): number {
    return this.#items.length - this.#dead;
  }

  /** True when `entry` is a live entry of this heap. */
  has(entry: T): boolean {
    return entry.heapIndex >= 0 && !entry.removed && this.#items[entry.heapIndex] === entry;
  }

  /** The earliest live entry, or undefined when empty. */
  peek(): T | undefined {
    this.#dropDeadTop();
    return this.#items[0];
  }

  /**
   * Insert an entry, or move it to its new deadline when it is already in
   * the heap (live or a tombstone).
   */
  push(entry: T): void {
    const items = this.#items;
    const i = entry.heapIndex;
    if (i >= 0 && items[i] === entry) {
      if (entry.removed) {
        entry.removed = false;
        this.#dead--;
      }
      this.#fix(i);
      return;
    }
    entry.removed = false;
    entry.heapIndex = items.length;
    items.push(entry);
    this.#up(entry.heapIndex);
  }

  /** Remove and return the earliest live entry. */
  pop(): T | undefined {
    this.#dropDeadTop();
    const top = this.#items[0];
    if (top === undefined) return undefined;
    this.#removeAt(0);
    return top;
  }

  /** Remove an entry wherever it is; no-op when it is not in the heap. */
  remove(entry: T): void {
    if (!this.has(entry)) return;
    entry.removed = true;
    this.#dead++;
    if (this.#dead >= MIN_TOMBSTONES_FOR_REBUILD && this.#dead * 2 > this.#items.length) this.#rebuild();
  }

  /** Every live entry, in heap order (not sorted). */
  entries(): T[] {
    return this.#items.filter((e) => !e.removed);
  }

  /** Empty the heap. */
  clear(): void {
    for (const e of this.#items) {
      e.heapIndex = -1;
      e.removed = false;
    }
    this.#items = [];
    this.#dead = 0;
  }

  #dropDeadTop(): void {
    const items = this.#items;
    while (items.length > 0 && items[0].removed) {
      const dead = items[0];
      this.#removeAt(0);
      dead.removed = false;
      this.#dead--;
    }
  }

  /** Drop every tombstone and restore heap order bottom-up (Floyd's method). */
  #rebuild(): void {
    const live: T[] = [];
    for (const e of this.#items) {
      if (e.removed) {
        e.removed = false;
        e.heapIndex = -1;
      } else {
        e.heapIndex = live.length;
        live.push(e);
      }
    }
    this.#items = live;
    this.#dead = 0;
    for (let i = (live.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #removeAt(i: number): void {
    const items = this.#items;
    const gone = items[i];
    const last = items.pop()!;
    gone.heapIndex = -1;
    if (last === gone) return;
    items[i] = last;
    last.heapIndex = i;
    this.#fix(i);
  }

  #fix(i: number): void {
    const items = this.#items;
    if (i > 0 && before(items[i], items[(i - 1) >> 1])) this.#up(i);
    else this.#down(i);
  }

  #up(i: number): void {
    const items = this.#items;
    const entry = items[i];
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex];
      if (!before(entry, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    items[i] = entry;
    entry.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const entry = items[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(items[child + 1], items[child])) child++;
      const smaller = items[child];
      if (!before(smaller, entry)) break;
      items[i] = smaller;
      smaller.heapIndex = i;
      i = child;
    }
    items[i] = entry;
    entry.heapIndex = i;
  }
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}
