import { test } from "node:test";
import assert from "node:assert/strict";
import { type HeapEntry, MinHeap } from "../../src/event/min_heap.ts";

interface Item extends HeapEntry {
  id: number;
}

test("MinHeap pops entries in (deadline, seq) order under random pushes and removals, matching a sorted model", () => {
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const heap = new MinHeap<Item>();
  const model: Item[] = [];
  let seq = 0;
  for (let step = 0; step < 20_000; step++) {
    const op = random(10);
    if (op < 5) {
      const item: Item = { id: step, deadline: random(500), seq: seq++, heapIndex: -1 };
      heap.push(item);
      model.push(item);
    } else if (op < 8 && model.length > 0) {
      const victim = model.splice(random(model.length), 1)[0];
      heap.remove(victim);
      assert.equal(victim.heapIndex, -1);
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
  heap.clear();
  assert.equal(heap.size, 0);
  assert.equal(inside.heapIndex, -1);
});
