/**
 * A binary min-heap keyed by (deadline, sequence), where each entry
 * remembers its own index so it can be moved or removed in O(log n):
 * libevent's minheap-internal.h. The timer queue keeps one entry per timer
 * duration in it (timer_queue.ts). Not part of the public API: `mod.ts`
 * does not export this file.
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
}

/** A min-heap of {@linkcode HeapEntry} ordered by deadline then seq. */
export class MinHeap<T extends HeapEntry> {
  #items: T[] = [];

  /** How many entries the heap holds. */
  get size(): number {
    return this.#items.length;
  }

  /** True when `entry` is in this heap. */
  has(entry: T): boolean {
    return entry.heapIndex >= 0 && this.#items[entry.heapIndex] === entry;
  }

  /** The earliest entry, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Insert an entry, or move it to its new key when it is already in the heap. */
  push(entry: T): void {
    if (this.has(entry)) {
      this.#fix(entry.heapIndex);
      return;
    }
    const items = this.#items;
    entry.heapIndex = items.length;
    items.push(entry);
    this.#up(entry.heapIndex);
  }

  /** Remove and return the earliest entry. */
  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.#removeAt(0);
    return top;
  }

  /** Remove an entry wherever it is; no-op when it is not in the heap. */
  remove(entry: T): void {
    if (this.has(entry)) this.#removeAt(entry.heapIndex);
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
