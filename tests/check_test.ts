import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkCallback,
  checkCount,
  checkEventBase,
  checkFieldText,
  checkFlag,
  checkInteger,
  checkLimit,
  checkMs,
  checkOneOf,
  checkPort,
  checkToken,
  shown,
} from "../src/check.ts";
import { EventBase, ManualClock } from "../src/event/mod.ts";

/** Assert that `fn` throws `type` with exactly `message`. */
function throwsExactly(fn: () => unknown, type: ErrorConstructor, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected a ${type.name}, got ${String(e)}`);
    assert.equal((e as Error).message, message);
    return true;
  });
}

test("a check names the argument, says what it must be and quotes what was given", () => {
  throwsExactly(
    () => checkPort("http", "port"),
    TypeError,
    'port must be an integer in 0..65535 or a string of its digits, got "http" (a string)',
  );
  throwsExactly(
    () => checkPort(70000, "target.port"),
    RangeError,
    "target.port must be an integer in 0..65535 or a string of its digits, got 70000",
  );
  throwsExactly(
    () => checkMs("100", "timeoutMs"),
    TypeError,
    'timeoutMs must be a finite number >= 0, got "100" (a string)',
  );
  throwsExactly(() => checkCount(-1, "n"), RangeError, "n must be an integer >= 0, got -1");
  throwsExactly(
    () => checkMs(Infinity, "timeoutMs"),
    RangeError,
    "timeoutMs must be a finite number >= 0, got Infinity",
  );
  throwsExactly(() => checkCallback(5 as unknown as null, "cb"), TypeError, "cb must be a function or null, got 5");
});

test("a port may be a string of digits, as node:net takes it (process.env.PORT), and comes back a number", () => {
  assert.equal(checkPort("8080", "port"), 8080);
  assert.equal(checkPort("0", "port"), 0);
  assert.equal(checkPort("65535", "port"), 65535);
  assert.equal(checkPort(443, "port"), 443);
  for (const bad of ["", " 80", "80 ", "0x50", "1e3", "-1", "8080.0", "65536", "123456"]) {
    assert.throws(() => checkPort(bad, "port"), TypeError, JSON.stringify(bad));
  }
  for (const bad of [-1, 1.5, NaN, 65536]) assert.throws(() => checkPort(bad, "port"), RangeError);
  for (const bad of [null, undefined, 80n, {}]) assert.throws(() => checkPort(bad, "port"), TypeError);
});

test("a number of the right type out of its range is a RangeError, any other value a TypeError", () => {
  for (const bad of [-1, 1.5, NaN, 2 ** 53]) assert.throws(() => checkCount(bad, "n"), RangeError);
  for (const bad of ["1", null, undefined, 1n, {}, [1]]) assert.throws(() => checkCount(bad, "n"), TypeError);
  assert.throws(() => checkInteger(0, "n", 1, 256), RangeError);
  assert.throws(() => checkInteger(257, "n", 1, 256), RangeError);
  assert.equal(checkInteger(-1, "n", -1), -1);
  assert.throws(() => checkLimit(-Infinity, "maxBodySize"), RangeError);
  assert.equal(checkLimit(Infinity, "maxBodySize"), Infinity);
  assert.equal(checkMs(0, "ms"), 0);
  assert.throws(() => checkMs(-0.5, "ms"), RangeError);
});

test("shown() gives the value, or its kind for objects, with long strings cut", () => {
  assert.equal(shown(3), "3");
  assert.equal(shown(NaN), "NaN");
  assert.equal(shown("x"), '"x" (a string)');
  assert.equal(shown(true), "true (a boolean)");
  assert.equal(shown(2n), "2n (a bigint)");
  assert.equal(shown(null), "null");
  assert.equal(shown(undefined), "undefined");
  assert.equal(shown(() => {}), "a function");
  assert.equal(shown([1, 2]), "an array");
  assert.equal(shown({ a: 1 }), "an object");
  assert.equal(shown(Object.create(null)), "an object");
  assert.equal(shown(new Uint8Array(2)), "a Uint8Array");
  assert.equal(shown(new EventBase({ clock: new ManualClock() })), "an EventBase");
  const long = shown("a".repeat(500));
  assert.ok(long.length < 80, long);
  assert.match(long, /^"a+\.\.\." \(a string\)$/);
});

test("checkOneOf lists the choices: a number outside them is a RangeError, a string a TypeError", () => {
  assert.equal(checkOneOf(4, "family", [0, 4, 6]), 4);
  throwsExactly(() => checkOneOf(5, "family", [0, 4, 6]), RangeError, "family must be 0, 4 or 6, got 5");
  throwsExactly(() => checkOneOf("4", "family", [0, 4, 6]), TypeError, 'family must be 0, 4 or 6, got "4" (a string)');
  throwsExactly(
    () => checkOneOf("move", "how", ["set", "add"]),
    TypeError,
    'how must be "set" or "add", got "move" (a string)',
  );
});

test("checkFlag takes undefined as false and refuses anything but a boolean", () => {
  assert.equal(checkFlag(undefined, "options.strict"), false);
  assert.equal(checkFlag(true, "options.strict"), true);
  throwsExactly(() => checkFlag(1, "options.strict"), TypeError, "options.strict must be a boolean, got 1");
});

test("checkToken and checkFieldText hold names and values to RFC 9110", () => {
  assert.equal(checkToken("X-Custom_1", "name"), "X-Custom_1");
  for (const bad of ["", "a b", "a:b", "é", 5]) assert.throws(() => checkToken(bad, "name"), TypeError);
  assert.equal(checkFieldText("a\tb ÿ", "value"), "a\tb ÿ");
  for (const bad of ["a\r\nb", "a\nb", "\0", "\x7f", "€"]) {
    assert.throws(() => checkFieldText(bad, "value"), { name: "TypeError", message: /^value must be/ });
  }
});

test("checkEventBase is the one test of a base: instanceof, with a word for a base of another copy", () => {
  const base = new EventBase({ clock: new ManualClock() });
  assert.equal(checkEventBase(base, "base"), base);
  throwsExactly(() => checkEventBase({}, "base"), TypeError, "base must be an EventBase, got an object");
  // Duck-typed look-alikes are not bases: their events could not run on this copy's loop.
  const lookAlike = { addEvent() {}, defer() {} };
  assert.throws(() => checkEventBase(lookAlike, "base"), TypeError);
  // What the npm package's CommonJS copy's EventBase looks like from its ESM copy.
  class EventBase2 {}
  Object.defineProperty(EventBase2, "name", { value: "EventBase" });
  assert.throws(() => checkEventBase(new EventBase2(), "base"), {
    name: "TypeError",
    message: /^base must be an EventBase of this copy of levent, got one of another copy/,
  });
});
