import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpHeaders } from "../../src/http/mod.ts";

test("HttpHeaders finds names case-insensitively and keeps repeated fields in order", () => {
  const h = new HttpHeaders();
  h.add("Set-Cookie", "a=1");
  h.add("content-type", "text/plain");
  h.add("SET-COOKIE", "b=2");
  assert.equal(h.get("set-cookie"), "a=1");
  assert.deepEqual(h.getAll("Set-Cookie"), ["a=1", "b=2"]);
  assert.equal(h.has("Content-Type"), true);
  assert.equal(h.get("missing"), null);
  assert.equal(h.size, 3);
  assert.deepEqual([...h], [["Set-Cookie", "a=1"], ["content-type", "text/plain"], ["SET-COOKIE", "b=2"]]);
});

test("set replaces every field of a name in the first one's place, and remove drops them all", () => {
  const h = new HttpHeaders([["A", "1"], ["B", "2"], ["a", "3"]]);
  h.set("a", "9");
  assert.deepEqual([...h.entries()], [["a", "9"], ["B", "2"]]);
  h.set("C", "new");
  assert.deepEqual([...h], [["a", "9"], ["B", "2"], ["C", "new"]]);
  assert.equal(h.remove("b"), true);
  assert.equal(h.remove("b"), false);
  const seen: string[] = [];
  h.forEach((value, name) => seen.push(`${name}=${value}`));
  assert.deepEqual(seen, ["a=9", "C=new"]);
  h.clear();
  assert.equal(h.size, 0);
  assert.deepEqual([...new HttpHeaders({ X: "1", Y: "2" })], [["X", "1"], ["Y", "2"]]);
});

test("names that are not tokens and values with CR, LF or other controls are refused with TypeError", () => {
  const h = new HttpHeaders();
  assert.throws(() => h.add("X-Evil", "a\r\nSet-Cookie: stolen"), TypeError);
  assert.throws(() => h.set("X-Evil", "a\nb"), TypeError);
  assert.throws(() => h.add("X-Nul", "a\0b"), TypeError);
  assert.throws(() => h.add("X-Wide", "€"), TypeError);
  assert.throws(() => h.add("Bad Name", "v"), TypeError);
  assert.throws(() => h.add("", "v"), TypeError);
  assert.throws(() => h.add("X:Y", "v"), TypeError);
  assert.throws(() => new HttpHeaders([["X", "a\rb"]]), TypeError);
  h.add("X-Ok", "tab\tand latin-1 é and spaces ");
  assert.equal(h.get("x-ok"), "tab\tand latin-1 é and spaces ");
  assert.equal(h.size, 1);
});
