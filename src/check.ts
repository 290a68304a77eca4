/**
 * Argument checks for every module, with one message style: the argument
 * named as the caller wrote it (a parameter, `options.port`,
 * `target.host`), what it must be, and what was given:
 *
 *     timeoutMs must be a finite number >= 0, got "100" (a string)
 *
 * A value of the wrong type is a TypeError; a number of the right type
 * but outside its range (NaN and fractions included) is a RangeError.
 * Each check returns the value, typed, so a caller checks and keeps it in
 * one step. Not part of the public API: no `mod.ts` exports this file.
 *
 * @module
 */
import { EventBase } from "./event/event_base.ts";

/** Strings longer than this are cut in messages. */
const SHOWN_STRING = 60;

/** `a` or `an` before a word, as it is said: an object, an EvBuffer, an HttpServer, a Uint8Array. */
function article(noun: string): string {
  return (/^([aeioAEIO]|Http)/.test(noun) ? "an " : "a ") + noun;
}

/**
 * How a value appears after "got" in a message: numbers as they are,
 * strings quoted (and cut when long) with their type, objects by kind
 * (`an array`, `a Uint8Array`, `an object`).
 */
export function shown(value: unknown): string {
  switch (typeof value) {
    case "number":
      return String(value);
    case "string": {
      const cut = value.length > SHOWN_STRING ? value.slice(0, SHOWN_STRING - 3) + "..." : value;
      return `${JSON.stringify(cut)} (a string)`;
    }
    case "bigint":
      return `${value}n (a bigint)`;
    case "boolean":
      return `${value} (a boolean)`;
    case "symbol":
      return `${String(value)} (a symbol)`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const ctor = (value as { constructor?: unknown }).constructor;
  const kind = typeof ctor === "function" && ctor.name !== "" && ctor !== Object ? ctor.name : "object";
  return article(kind);
}

/** `name must be rule, got value` as a TypeError, for a value of the wrong type. */
export function typeError(name: string, rule: string, value: unknown): TypeError {
  return new TypeError(`${name} must be ${rule}, got ${shown(value)}`);
}

/** `name must be rule, got value` as a RangeError, for a value of the right type out of its range. */
export function rangeError(name: string, rule: string, value: unknown): RangeError {
  return new RangeError(`${name} must be ${rule}, got ${shown(value)}`);
}

/** A number, else TypeError; an integer in `min..max`, else RangeError. */
export function checkInteger(value: unknown, name: string, min: number, max: number = Infinity): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  const rule = max === Infinity ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
  throw typeof value === "number" ? rangeError(name, rule, value) : typeError(name, rule, value);
}

/** A count or size: an integer >= 0. */
export function checkCount(value: unknown, name: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw typeof value === "number"
    ? rangeError(name, "an integer >= 0", value)
    : typeError(name, "an integer >= 0", value);
}

/** A limit: an integer >= 0, or Infinity for none. */
export function checkLimit(value: unknown, name: string): number {
  if (value === Infinity || (typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) return value;
  throw typeof value === "number"
    ? rangeError(name, "an integer >= 0 or Infinity", value)
    : typeError(name, "an integer >= 0 or Infinity", value);
}

/** A duration in milliseconds: a finite number >= 0. */
export function checkMs(value: unknown, name: string): number {
  if (typeof value === "number" && value >= 0 && value !== Infinity) return value;
  throw typeof value === "number"
    ? rangeError(name, "a finite number >= 0", value)
    : typeError(name, "a finite number >= 0", value);
}

/** Decimal digits only: a port given as text, as `PORT` from the environment is. */
const PORT_TEXT = /^[0-9]{1,5}$/;

/**
 * A TCP or UDP port: an integer in 0..65535, or a string of its decimal
 * digits (`"8080"`, as `PORT` from the environment gives it), which node:net accepts
 * too. Returns the number.
 */
export function checkPort(value: unknown, name: string): number {
  const port = typeof value === "string" && PORT_TEXT.test(value) ? Number(value) : value;
  if (typeof port === "number" && Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  const rule = "an integer in 0..65535 or a string of its digits";
  throw typeof value === "number" ? rangeError(name, rule, value) : typeError(name, rule, value);
}

/**
 * One of a few allowed values, compared with `===`: a number among numbers
 * (RangeError otherwise), or a string among strings (TypeError otherwise,
 * as a string outside a union of literals is a type error).
 */
export function checkOneOf<T extends string | number>(value: unknown, name: string, allowed: readonly T[]): T {
  if (allowed.includes(value as T)) return value as T;
  const list = allowed.map((v) => typeof v === "string" ? JSON.stringify(v) : String(v));
  const rule = list.length === 1 ? list[0] : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
  const numeric = typeof value === "number" && typeof allowed[0] === "number";
  throw numeric ? rangeError(name, rule, value) : typeError(name, rule, value);
}

/** A string. */
export function checkString(value: unknown, name: string): string {
  if (typeof value === "string") return value;
  throw typeError(name, "a string", value);
}

/** A string of at least one character. */
export function checkNonEmptyString(value: unknown, name: string): string {
  if (typeof value === "string" && value !== "") return value;
  throw typeError(name, "a non-empty string", value);
}

/** A string, or null. */
export function checkNullableString(value: unknown, name: string): string | null {
  if (value === null || typeof value === "string") return value;
  throw typeError(name, "a string or null", value);
}

/** A boolean. */
export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value === "boolean") return value;
  throw typeError(name, "a boolean", value);
}

/** An optional boolean option: undefined is false. */
export function checkFlag(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value === "boolean") return value;
  throw typeError(name, "a boolean", value);
}

/** An object (an options bag, a target): not null, not a primitive. */
export function checkObject<T extends object>(value: T, name: string): T {
  if (value !== null && typeof value === "object") return value;
  throw typeError(name, "an object", value);
}

/** A function. */
export function checkFunction<F>(value: F, name: string): F {
  if (typeof value === "function") return value;
  throw typeError(name, "a function", value);
}

/** A function, or null to remove one. */
export function checkCallback<F>(value: F | null, name: string): F | null {
  if (value === null || typeof value === "function") return value;
  throw typeError(name, "a function or null", value);
}

/** A Uint8Array. */
export function checkBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw typeError(name, "a Uint8Array", value);
}

/**
 * An EventBase of this copy of levent. The npm package's ESM and CommonJS
 * builds each have their own classes, and one copy cannot run the other's
 * events, so a base from the other copy is refused here, by name.
 */
export function checkEventBase(value: unknown, name: string): EventBase {
  if (value instanceof EventBase) return value;
  const ctor = value !== null && typeof value === "object" ? (value as { constructor?: unknown }).constructor : null;
  if (typeof ctor === "function" && ctor.name === "EventBase") {
    throw new TypeError(
      `${name} must be an EventBase of this copy of levent, got one of another copy ` +
        "(the ESM and CommonJS builds each have their own classes: load levent one way)",
    );
  }
  throw typeError(name, "an EventBase", value);
}

/** tchar (RFC 9110 §5.6.2), by character code below 128. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Whether `text` is a token (RFC 9110 §5.6.2): one or more tchar. */
function isToken(text: string): boolean {
  const n = text.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** A token (RFC 9110 §5.6.2): a method, a field name. */
export function checkToken(value: unknown, name: string): string {
  if (typeof value === "string" && isToken(value)) return value;
  throw typeError(name, "a token (RFC 9110 §5.6.2)", value);
}

/**
 * Whether `text` may go into a message head as it is: no control character
 * but HTAB (no CR or LF: no header injection) and nothing above U+00FF,
 * since a head is written as Latin-1 (RFC 9110 §5.5).
 */
function isFieldText(text: string): boolean {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127 || c > 255) return false;
  }
  return true;
}

/** Text for a message head: a field value, a reason phrase. */
export function checkFieldText(value: unknown, name: string): string {
  if (typeof value === "string" && isFieldText(value)) return value;
  throw typeError(name, "a string without control characters (CR, LF, NUL...) or characters above U+00FF", value);
}
