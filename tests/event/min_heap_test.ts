import { test } from "node:test";
import assert from "node:assert/strict";
import { type HeapEntry, MinHeap } from "../../src/event/min_heap.ts";
import { prng } from "../util.ts";

interface Item extends HeapEntry {
  id: number;
}

test("MinHeap pops entries in (deadline, seq) order under random pushes and removals, matching a sorted model", () => {
  const random = prng(7);
  const heap = new MinHeap<Item>();
  const model: Item[] = [];
  let seq = 0;
  for (let step = 0; step < 20_000; step++) {
    const op = random(10);
    if (op === 9 && model.length > 0) {
      // Re-add a live entry with a new deadline: it moves.
      const moved = model[random(model.length)];
      moved.deadline = random(500);
      moved.seq = seq++;
      heap.push(moved);
    } else if (op < 5) {
      const item: Item = { id: step, deadline: random(500), seq: seq++, heapIndex: -1 };
      heap.push(item);
      model.push(item);
    } else if (op < 8 && model.length > 0) {
      const victim = model.splice(random(model.length), 1)[0];
      heap.remove(victim);
      assert.equal(heap.has(victim), false);
    } else {
      model.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
      const expected = model.shift();
      assert.equal(heap.pop(), expected);
    }
    assert.equal(heap.size, model.length);
  }
  model.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
  for (const expected of model) assert.equal(heap.pop(), expected);
  assert.equal(heap.pop(), undefined);
  assert.equal(heap.peek(), undefined);
});

test("MinHeap.remove of an entry not in the heap changes nothing", () => {
  const heap = new MinHeap<Item>();
  const inside: Item = { id: 1, deadline: 5, seq: 0, heapIndex: -1 };
  const outside: Item = { id: 2, deadline: 1, seq: 1, heapIndex: -1 };
  heap.push(inside);
  heap.remove(outside);
  assert.equal(heap.size, 1);
  assert.equal(heap.peek(), inside);
  assert.equal(heap.pop(), inside);
  assert.equal(heap.size, 0);
  assert.equal(inside.heapIndex, -1);
});

test("MinHeap takes back a removed entry pushed again, at its new deadline, after many removals", () => {
  const heap = new MinHeap<Item>();
  const items: Item[] = [];
  for (let i = 0; i < 1000; i++) {
    const item: Item = { id: i, deadline: 1000 - i, seq: i, heapIndex: -1 };
    items.push(item);
    heap.push(item);
  }
  for (let i = 0; i < 900; i++) heap.remove(items[i]);
  assert.equal(heap.size, 100);
  const revived = items[5];
  revived.deadline = 0;
  heap.push(revived);
  assert.equal(heap.size, 101);
  assert.equal(heap.pop(), revived);
  for (let d = 1; d <= 100; d++) assert.equal(heap.pop()?.deadline, d);
  assert.equal(heap.pop(), undefined);
  assert.equal(heap.size, 0);
});
