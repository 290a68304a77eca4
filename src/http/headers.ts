/**
 * HttpHeaders: libevent's `struct evkeyvalq` of header fields, with
 * `evhttp_add_header`, `evhttp_find_header`, `evhttp_remove_header` and
 * `evhttp_clear_headers` as methods.
 *
 * @module
 */
import { checkFieldText, checkToken, typeError } from "../check.ts";

/** ASCII case-insensitive equality of a field name with a lowercased key of the same length. */
function sameName(name: string, key: string): boolean {
  if (name === key) return true;
  const n = name.length;
  if (n !== key.length) return false;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== key.charCodeAt(i)) return false;
  }
  return true;
}

/** The name checked last: an application sets the same few names over and over, so most checks end here. */
let lastName = "Content-Type";

function checkName(name: unknown): string {
  if (name === lastName) return name;
  lastName = checkToken(name, "name");
  return lastName;
}

// Internals: HttpHeaders' flat `[name, value, ...]` list, read and wrapped
// without copying by the server and the client of this folder (the
// parser's arrays become HttpHeaders as they are). Set in HttpHeaders'
// static block; http/mod.ts does not export them.

/** The list behind `headers`, alternating names and values: read it, do not change it. */
export let headerList!: (headers: HttpHeaders) => string[];

/** An HttpHeaders over `list` (alternating names and values), which it takes over without copying or checking. */
export let wrapHeaders!: (list: string[]) => HttpHeaders;

/**
 * A list of header fields: libevent's `struct evkeyvalq`. Names compare
 * case-insensitively; fields keep their order, and a name may repeat
 * (`add`), as on the wire. Names and values are checked when added, so
 * nothing added can break the message it is written into: a name must be a
 * token and a value must not hold CR, LF or another control character
 * (header injection), else TypeError.
 *
 * The fields a server receives have lowercased names (the parser's
 * choice); the fields an application adds keep the case it gave.
 *
 * @example
 * ```ts
 * import { HttpHeaders } from "@levent/levent/http";
 * const headers = new HttpHeaders();
 * headers.add("Set-Cookie", "a=1");
 * headers.add("Set-Cookie", "b=2");
 * headers.set("Content-Type", "text/plain");
 * console.log(headers.get("content-type")); // text/plain
 * console.log(headers.getAll("set-cookie")); // ["a=1", "b=2"]
 * headers.remove("Set-Cookie");
 * console.log([...headers]); // [["Content-Type", "text/plain"]]
 * ```
 */
export class HttpHeaders {
  static {
    headerList = (headers) => headers.#list;
    wrapHeaders = (list) => {
      const headers = new HttpHeaders();
      headers.#list = list;
      return headers;
    };
  }

  /** Alternating names and values: one flat array is the cheapest shape to build and to write out. */
  #list: string[] = [];

  /**
   * A list of fields, empty or copied from `init` (pairs, another
   * HttpHeaders, or a record of names to values).
   *
   * @throws {TypeError} if a name is not a token or a value holds a control character
   */
  constructor(init?: Iterable<readonly [string, string]> | Readonly<Record<string, string>>) {
    if (init === undefined) return;
    if (init === null || typeof init !== "object") throw typeError("init", "an iterable of pairs or a record", init);
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<readonly [string, string]>) this.add(pair[0], pair[1]);
    } else {
      for (const name of Object.keys(init)) this.add(name, (init as Record<string, string>)[name]);
    }
  }

  /** How many fields there are (repeated names count each time). */
  get size(): number {
    return this.#list.length >> 1;
  }

  /**
   * Append a field, keeping any others of that name (libevent
   * `evhttp_add_header`).
   *
   * @throws {TypeError} if name is not a token, or value holds a control character or a character above U+00FF
   */
  add(name: string, value: string): void {
    checkName(name);
    checkFieldText(value, "value");
    const list = this.#list;
    // A first field makes a list of two: a push would grow an empty one to 17 slots.
    if (list.length === 0) this.#list = [name, value];
    else list.push(name, value);
  }

  /**
   * Replace every field of that name with one field (evhttp_remove_header
   * then evhttp_add_header). The field goes where the first one of that name
   * was, or at the end.
   *
   * @throws {TypeError} if name is not a token, or value holds a control character or a character above U+00FF
   */
  set(name: string, value: string): void {
    checkName(name);
    checkFieldText(value, "value");
    const list = this.#list;
    if (list.length === 0) {
      // The usual case (a response's first header): nothing to replace, no
      // lowercased key to make; a list of two, where a push would grow an
      // empty one to 17 slots.
      this.#list = [name, value];
      return;
    }
    const key = name.toLowerCase();
    let at = -1;
    for (let i = 0; i < list.length; i += 2) {
      if (sameName(list[i], key)) {
        at = i;
        break;
      }
    }
    if (at < 0) {
      list.push(name, value);
      return;
    }
    list[at] = name;
    list[at + 1] = value;
    this.#removeFrom(key, at + 2);
  }

  /**
   * The value of the first field of that name, or null (libevent
   * `evhttp_find_header`). Use {@linkcode HttpHeaders.getAll} for repeated
   * fields.
   */
  get(name: string): string | null {
    const list = this.#list;
    const key = name.toLowerCase();
    for (let i = 0; i < list.length; i += 2) if (sameName(list[i], key)) return list[i + 1];
    return null;
  }

  /** The values of every field of that name, in order. */
  getAll(name: string): string[] {
    const list = this.#list;
    const key = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < list.length; i += 2) if (sameName(list[i], key)) out.push(list[i + 1]);
    return out;
  }

  /** Whether a field of that name is present. */
  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /**
   * Remove every field of that name (libevent `evhttp_remove_header`, which
   * removes the first; all of them is what a caller means).
   *
   * @returns true if a field was removed
   */
  remove(name: string): boolean {
    return this.#removeFrom(name.toLowerCase(), 0);
  }

  /** Remove every field (libevent `evhttp_clear_headers`). */
  clear(): void {
    this.#list = [];
  }

  /** The fields as `[name, value]` pairs, in order (libevent's `TAILQ_FOREACH` over the evkeyvalq). */
  *entries(): IterableIterator<[string, string]> {
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) yield [list[i], list[i + 1]];
  }

  /** The same as {@linkcode HttpHeaders.entries}. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** Call `fn(value, name)` for each field, in order. */
  forEach(fn: (value: string, name: string) => void): void {
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) fn(list[i + 1], list[i]);
  }

  #removeFrom(key: string, from: number): boolean {
    const list = this.#list;
    let w = from;
    for (let r = from; r < list.length; r += 2) {
      if (sameName(list[r], key)) continue;
      if (w !== r) {
        list[w] = list[r];
        list[w + 1] = list[r + 1];
      }
      w += 2;
    }
    const removed = w !== list.length;
    list.length = w;
    return removed;
  }
}
