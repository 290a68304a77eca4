/**
 * URIs and the encoding helpers around them: libevent's `evhttp_uri_*`
 * (parse, join, get and set each part), `evhttp_uriencode` /
 * `evhttp_encode_uri`, `evhttp_uridecode` / `evhttp_decode_uri`,
 * `evhttp_parse_query_str` and `evhttp_htmlescape` (http.c).
 *
 * {@linkcode HttpUri.parse} follows RFC 3986 as libevent does: a URI or a
 * relative reference (so an origin-form request target such as `/a?b` too)
 * is split into scheme, userinfo, host, port, path, query and fragment, and
 * each part must hold only the characters RFC 3986 allows there. Bad input
 * throws an {@linkcode HttpError} with code `ERR_BAD_URI` (status 400) that
 * names the part and the index of the offending character. Parts are kept
 * as written: nothing is decoded or lowercased.
 *
 * Where this module chooses:
 *
 * - Text is JavaScript strings; a character outside ASCII is never valid in
 *   a conformant URI. Decoding turns %-encoded bytes into text as UTF-8.
 * - IP literals: an IPv6 address (inet_pton's grammar: at most one `::`, an
 *   optional dotted IPv4 tail, no zone identifier) or an IPvFuture (`v`, hex
 *   digits, `.`, at least one more character; libevent accepts none).
 * - {@linkcode HttpUri.join} throws, rather than return a string that would
 *   parse back as something else, when a host is set and the path does not
 *   start with `/` (as libevent), and also when there is no host and the path
 *   starts with `//`, or no scheme and no host and the first path segment
 *   holds `:`.
 * - {@linkcode parseQuery} decodes names as well as values (libevent decodes
 *   only values).
 *
 * @module
 */
import { checkFlag, checkInteger, checkNullableString, checkObject, checkString } from "../check.ts";
import { HttpError } from "./http_error.ts";

// ------------------------------------------------------------ char tables

const PLUS = 43;
const PERCENT = 37;
const SLASH = 47;
const COLON = 58;
const QUESTION = 63;
const HASH = 35;
const DOT = 46;
const SPACE = 32;
const AT = 64;
const LBRACKET = 91;
const RBRACKET = 93;
const AMP = 38;

// Bits of CLASS, one per set of characters RFC 3986 allows somewhere.
/** unreserved: ALPHA DIGIT - . _ ~ */
const C_UNRESERVED = 1;
/** sub-delims: ! $ & ' ( ) * + , ; = */
const C_SUBDELIM = 2;
/** What a scheme holds after its first letter: ALPHA DIGIT + - . */
const C_SCHEME = 4;
/** pchar and "/" (a path): unreserved, sub-delims, : @ / */
const C_PATH = 8;
/** A query or a fragment: what a path holds, and "?". */
const C_QUERY = 16;
/** userinfo: unreserved, sub-delims, ":" */
const C_USERINFO = 32;
/** reg-name (and an IPv4 address): unreserved, sub-delims */
const C_REGNAME = C_UNRESERVED | C_SUBDELIM;
/** What an IPvFuture holds after its ".": unreserved, sub-delims, ":" */
const C_FUTURE = C_USERINFO;

const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** The class bits of each ASCII character; non-ASCII characters have none. */
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  let bits = 0;
  if (isAlpha(c) || isDigit(c) || "-._~".includes(ch)) bits |= C_UNRESERVED;
  if ("!$&'()*+,;=".includes(ch)) bits |= C_SUBDELIM;
  if (isAlpha(c) || isDigit(c) || "+-.".includes(ch)) bits |= C_SCHEME;
  if (bits & (C_UNRESERVED | C_SUBDELIM) || ch === ":") bits |= C_USERINFO;
  if (bits & C_USERINFO || ch === "@" || ch === "/") bits |= C_PATH | C_QUERY;
  if (ch === "?") bits |= C_QUERY;
  CLASS[c] = bits;
}

/** Hex digit values of ASCII characters, -1 for the others. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[65 + c] = HEX[97 + c] = 10 + c;

/** `%XX` (upper-case hex, as libevent writes it) for each byte. */
const PCT: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => "%" + b.toString(16).toUpperCase().padStart(2, "0"),
);

/** `text[s, e)`; the text itself, not a copy, when that is all of it. */
function sub(text: string, s: number, e: number): string {
  return s === 0 && e === text.length ? text : text.slice(s, e);
}

function hasClass(c: number, bits: number): boolean {
  return c < 128 && (CLASS[c] & bits) !== 0;
}

function hexValue(c: number): number {
  return c < 128 ? HEX[c] : -1;
}

/** The byte `text[i, i + 3)` encodes when it is `%XX` inside `[i, end)`, else -1. */
function pctByte(text: string, i: number, end: number): number {
  if (i + 2 >= end || text.charCodeAt(i) !== PERCENT) return -1;
  const hi = hexValue(text.charCodeAt(i + 1));
  const lo = hexValue(text.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/**
 * The index of the first character of `text[i, end)` that is neither in
 * the class `bits` nor part of a `%XX`; `end` when there is none (libevent's
 * `end_of_path`, `userinfo_ok`, `regname_ok`).
 */
function scan(text: string, i: number, end: number, bits: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < 128 && (CLASS[c] & bits) !== 0) i++;
    else if (c === PERCENT && pctByte(text, i, end) >= 0) i += 3;
    else return i;
  }
  return end;
}

// ------------------------------------------------------------ errors

function badUri(message: string): HttpError {
  return new HttpError("ERR_BAD_URI", message);
}

/** A character for a message: printable ASCII quoted, others as U+XXXX. */
function charName(text: string, i: number): string {
  const c = text.codePointAt(i) as number;
  if (c > SPACE && c < 127) return JSON.stringify(String.fromCharCode(c));
  return c === SPACE ? "a space" : "U+" + c.toString(16).toUpperCase().padStart(4, "0");
}

/** The error for the character at `i` that a part of a URI may not hold. */
function badChar(part: string, text: string, i: number): HttpError {
  if (text.charCodeAt(i) === PERCENT) {
    return badUri(`bad URI: the ${part} holds a "%" not followed by two hex digits at index ${i}`);
  }
  return badUri(`bad URI: the ${part} holds ${charName(text, i)} at index ${i}, which RFC 3986 does not allow there`);
}

// ------------------------------------------------------------ grammar checks

/** Whether `text[s, e)` is a scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (libevent's `scheme_ok`). */
function schemeOk(text: string, s: number, e: number): boolean {
  if (s === e || !isAlpha(text.charCodeAt(s))) return false;
  for (let i = s + 1; i < e; i++) if (!hasClass(text.charCodeAt(i), C_SCHEME)) return false;
  return true;
}

/** Whether `text[s, e)` is four dec-octets (RFC 3986 §3.2.2: no leading zeros, at most 255). */
function ipv4Ok(text: string, s: number, e: number): boolean {
  let i = s;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= e || text.charCodeAt(i) !== DOT) return false;
      i++;
    }
    const start = i;
    let value = 0;
    while (i < e && i - start < 4 && isDigit(text.charCodeAt(i))) value = value * 10 + text.charCodeAt(i++) - 48;
    const digits = i - start;
    if (digits === 0 || digits > 3 || value > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return false;
  }
  return i === e;
}

/** Whether `text[s, e)` is an IPv6 address as inet_pton reads one (the bracket contents of libevent's `bracket_addr_ok`). */
function ipv6Ok(text: string, s: number, e: number): boolean {
  let i = s;
  let groups = 0;
  let compressed = false;
  if (i < e && text.charCodeAt(i) === COLON) {
    if (i + 1 >= e || text.charCodeAt(i + 1) !== COLON) return false;
    compressed = true;
    i += 2;
  }
  while (i < e) {
    const start = i;
    while (i < e && i - start < 5 && hexValue(text.charCodeAt(i)) >= 0) i++;
    if (i < e && text.charCodeAt(i) === DOT) {
      // A dotted IPv4 tail stands for the last two groups.
      if (groups > 6 || !ipv4Ok(text, start, e)) return false;
      groups += 2;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4) return false;
    groups++;
    if (i === e) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < e && text.charCodeAt(i) === COLON) {
      if (compressed) return false;
      compressed = true;
      i++;
    } else if (i === e) {
      return false;
    }
  }
  return compressed ? groups <= 7 : groups === 8;
}

/** Whether `text[s, e)` is an IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). */
function ipFutureOk(text: string, s: number, e: number): boolean {
  let i = s + 1;
  const hexStart = i;
  while (i < e && hexValue(text.charCodeAt(i)) >= 0) i++;
  if (i === hexStart || i >= e || text.charCodeAt(i) !== DOT) return false;
  i++;
  if (i === e) return false;
  for (; i < e; i++) if (!hasClass(text.charCodeAt(i), C_FUTURE)) return false;
  return true;
}

/** Whether `text[s, e)`, brackets included, is an IP-literal (libevent's `bracket_addr_ok`). */
function ipLiteralOk(text: string, s: number, e: number): boolean {
  if (e - s < 3 || text.charCodeAt(s) !== LBRACKET || text.charCodeAt(e - 1) !== RBRACKET) return false;
  const first = text.charCodeAt(s + 1);
  return first === 118 || first === 86 ? ipFutureOk(text, s + 1, e - 1) : ipv6Ok(text, s + 1, e - 1);
}

/** Check a host: an IP-literal in brackets, or a reg-name (which covers IPv4 addresses). */
function checkHost(text: string, s: number, e: number): void {
  if (text.charCodeAt(s) === LBRACKET) {
    if (!ipLiteralOk(text, s, e)) {
      throw badUri(`bad URI: the host at index ${s} is in brackets but is not an IPv6 address or IPvFuture literal`);
    }
    return;
  }
  const bad = scan(text, s, e, C_REGNAME);
  if (bad < e) throw badChar("host", text, bad);
}

/** The parts of a URI that {@linkcode endOfPart} scans. */
type Part = "path" | "query" | "fragment";

/**
 * Where a path, query or fragment that starts at `i` ends (libevent's
 * `end_of_path`): strictly, at the first character RFC 3986 does not allow
 * in it; nonconformant, a path at `?` or `#`, a query at `#`, a fragment at
 * the end.
 */
function endOfPart(text: string, i: number, part: Part, nonconformant: boolean): number {
  const n = text.length;
  if (!nonconformant) return scan(text, i, n, part === "path" ? C_PATH : C_QUERY);
  if (part === "fragment") return n;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === HASH || (c === QUESTION && part === "path")) return i;
  }
  return n;
}

/** Check a whole string as one part, for the setters. */
function checkPart(text: string, part: Part, nonconformant: boolean): void {
  const end = endOfPart(text, 0, part, nonconformant);
  if (end < text.length) throw badChar(part, text, end);
}

/** The index of a ":" in the first segment of a path `text[s, e)`, or -1 (libevent's `path_matches_noscheme`). */
function colonInFirstSegment(text: string, s: number, e: number): number {
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON) return i;
    if (c === SLASH) return -1;
  }
  return -1;
}

// ------------------------------------------------------------ HttpUri

/** Options of {@linkcode HttpUri.parse} and the {@linkcode HttpUri} constructor. */
export interface HttpUriOptions {
  /**
   * libevent's `EVHTTP_URI_NONCONFORMANT`: let the path, query and fragment
   * hold characters RFC 3986 does not allow there (spaces, controls,
   * non-ASCII, a `%` without two hex digits, `#` inside a fragment), as some
   * clients send them. A path still ends at `?` or `#` and a query at `#`;
   * the scheme, userinfo, host and port stay strict. Default false.
   */
  nonconformant?: boolean;
}

/**
 * A URI split into its parts (libevent's `struct evhttp_uri`). Parse one
 * with {@linkcode HttpUri.parse}, or build one from `new HttpUri()` and the
 * setters, which check each part; {@linkcode HttpUri.join} puts the parts
 * back together. The fields can also be assigned directly, unchecked.
 *
 * @example
 * ```ts
 * import { HttpUri } from "@levent/levent/http";
 * const uri = HttpUri.parse("http://user@example.com:8080/a%20b?x=1#top");
 * console.log(uri.host, uri.port, uri.path, uri.query); // example.com 8080 /a%20b x=1
 * uri.setPort(-1).setFragment(null);
 * console.log(uri.join()); // http://user@example.com/a%20b?x=1
 * ```
 */
export class HttpUri {
  /** The scheme (`http`), or null for a relative reference. */
  scheme: string | null = null;
  /** The userinfo before `@` in the authority (`user:pass`), or null. */
  userinfo: string | null = null;
  /** The host: a reg-name, an IPv4 address or a bracketed IP-literal (`[::1]`); "" for an empty authority (`file:///x`); null when there is no authority. */
  host: string | null = null;
  /** The port, or -1 when there is none (an empty port, `host:`, is none). */
  port: number = -1;
  /** The path, as written (still %-encoded); "" when empty, never null. */
  path: string = "";
  /** The query after `?`, without it, as written; null when there is no `?`. */
  query: string | null = null;
  /** The fragment after `#`, without it; null when there is no `#`. */
  fragment: string | null = null;

  readonly #nonconformant: boolean;

  /**
   * An empty URI: every part null, port -1, path "" (libevent's
   * `evhttp_uri_new`, with `evhttp_uri_set_flags` as the options).
   *
   * @throws {TypeError} if options is not an object or nonconformant is not a boolean
   */
  constructor(options?: HttpUriOptions) {
    if (options !== undefined) checkObject(options, "options");
    this.#nonconformant = options === undefined ? false : checkFlag(options.nonconformant, "options.nonconformant");
  }

  /** Whether the setters of path, query and fragment tolerate nonconformant characters (the flag it was made with). */
  get nonconformant(): boolean {
    return this.#nonconformant;
  }

  /**
   * Parse a URI or a relative reference, origin-form request targets
   * (`/path?query`) included (libevent's `evhttp_uri_parse_with_flags`).
   * Strict RFC 3986 unless `nonconformant` is set. Nothing is decoded: the
   * parts are substrings of `text`.
   *
   * @example
   * ```ts
   * import { HttpUri } from "@levent/levent/http";
   * const target = HttpUri.parse("/a%20b/c?x=1");
   * console.log(target.path, target.query); // /a%20b/c x=1
   * const loose = HttpUri.parse("/why hello", { nonconformant: true });
   * console.log(loose.path); // /why hello
   * ```
   *
   * @throws {HttpError} `ERR_BAD_URI` (status 400) for a character a part may not hold, a `%` without two hex digits, a port that is not a number up to 65535, a malformed IP literal, or a relative reference whose first path segment holds `:`
   * @throws {TypeError} if text is not a string, or the options are malformed
   */
  static parse(text: string, options?: HttpUriOptions): HttpUri {
    checkString(text, "text");
    const uri = new HttpUri(options);
    const nonconformant = uri.#nonconformant;
    const n = text.length;
    let i = 0;
    const first = n > 0 ? text.charCodeAt(0) : -1;
    if (isAlpha(first)) {
      let k = 1;
      while (k < n && hasClass(text.charCodeAt(k), C_SCHEME)) k++;
      if (k < n && text.charCodeAt(k) === COLON) {
        uri.scheme = text.slice(0, k);
        i = k + 1;
      }
    }
    if (text.charCodeAt(i) === SLASH && text.charCodeAt(i + 1) === SLASH) {
      let end = i + 2;
      while (end < n) {
        const c = text.charCodeAt(end);
        if (c === SLASH || c === QUESTION || c === HASH) break;
        end++;
      }
      parseAuthority(uri, text, i + 2, end);
      i = end;
    }

    const pathStart = i;
    let part: Part = "path";
    i = endOfPart(text, i, part, nonconformant);
    const pathEnd = i;
    uri.path = sub(text, pathStart, pathEnd);
    if (i < n && text.charCodeAt(i) === QUESTION) {
      part = "query";
      const start = i + 1;
      i = endOfPart(text, start, part, nonconformant);
      uri.query = text.slice(start, i);
    }
    if (i < n && text.charCodeAt(i) === HASH) {
      part = "fragment";
      const start = i + 1;
      i = endOfPart(text, start, part, nonconformant);
      uri.fragment = text.slice(start, i);
    }
    if (i < n) throw badChar(part, text, i);

    // Without a scheme, "a:b" would read as scheme "a" (RFC 3986 §4.2).
    if (uri.scheme === null && first !== SLASH) {
      const colon = colonInFirstSegment(text, pathStart, pathEnd);
      if (colon >= 0) {
        throw badUri(
          `bad URI: the first path segment of a reference without a scheme holds ":" at index ${colon} (it would read as a scheme)`,
        );
      }
    }
    return uri;
  }

  /**
   * Set the scheme, or remove it with null (libevent's `evhttp_uri_set_scheme`).
   *
   * @throws {HttpError} `ERR_BAD_URI` if scheme is not ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
   * @throws {TypeError} if scheme is neither a string nor null
   */
  setScheme(scheme: string | null): this {
    checkNullableString(scheme, "scheme");
    if (scheme !== null && !schemeOk(scheme, 0, scheme.length)) {
      throw badUri(
        `bad URI: the scheme ${JSON.stringify(scheme)} is not a letter followed by letters, digits, "+", "-" or "."`,
      );
    }
    this.scheme = scheme;
    return this;
  }

  /**
   * Set the userinfo, or remove it with null (libevent's `evhttp_uri_set_userinfo`).
   *
   * @throws {HttpError} `ERR_BAD_URI` if userinfo holds a character other than unreserved, sub-delims, ":" and `%XX`
   * @throws {TypeError} if userinfo is neither a string nor null
   */
  setUserinfo(userinfo: string | null): this {
    checkNullableString(userinfo, "userinfo");
    if (userinfo !== null) {
      const bad = scan(userinfo, 0, userinfo.length, C_USERINFO);
      if (bad < userinfo.length) throw badChar("userinfo", userinfo, bad);
    }
    this.userinfo = userinfo;
    return this;
  }

  /**
   * Set the host (a reg-name, an IPv4 address or a bracketed IP-literal;
   * "" is an empty authority), or remove the authority with null (libevent's
   * `evhttp_uri_set_host`).
   *
   * @throws {HttpError} `ERR_BAD_URI` if host is none of those
   * @throws {TypeError} if host is neither a string nor null
   */
  setHost(host: string | null): this {
    checkNullableString(host, "host");
    if (host !== null) checkHost(host, 0, host.length);
    this.host = host;
    return this;
  }

  /**
   * Set the port, or remove it with -1 (libevent's `evhttp_uri_set_port`).
   *
   * @throws {TypeError} if port is not a number
   * @throws {RangeError} if port is not an integer in -1..65535
   */
  setPort(port: number): this {
    this.port = checkInteger(port, "port", -1, 65535);
    return this;
  }

  /**
   * Set the path, as it is to be written (%-encoded); null is taken as ""
   * (libevent's `evhttp_uri_set_path`).
   *
   * @throws {HttpError} `ERR_BAD_URI` if path holds a character a path may not (`?` and `#` even when nonconformant)
   * @throws {TypeError} if path is neither a string nor null
   */
  setPath(path: string | null): this {
    checkNullableString(path, "path");
    if (path !== null) checkPart(path, "path", this.#nonconformant);
    this.path = path ?? "";
    return this;
  }

  /**
   * Set the query (without `?`, %-encoded), or remove it with null
   * (libevent's `evhttp_uri_set_query`).
   *
   * @throws {HttpError} `ERR_BAD_URI` if query holds a character a query may not (`#` even when nonconformant)
   * @throws {TypeError} if query is neither a string nor null
   */
  setQuery(query: string | null): this {
    checkNullableString(query, "query");
    if (query !== null) checkPart(query, "query", this.#nonconformant);
    this.query = query;
    return this;
  }

  /**
   * Set the fragment (without `#`, %-encoded), or remove it with null
   * (libevent's `evhttp_uri_set_fragment`).
   *
   * @throws {HttpError} `ERR_BAD_URI` if fragment holds a character a fragment may not (anything goes when nonconformant)
   * @throws {TypeError} if fragment is neither a string nor null
   */
  setFragment(fragment: string | null): this {
    checkNullableString(fragment, "fragment");
    if (fragment !== null) checkPart(fragment, "fragment", this.#nonconformant);
    this.fragment = fragment;
    return this;
  }

  /**
   * The URI as a string (libevent's `evhttp_uri_join`): `scheme:` when
   * there is a scheme, `//userinfo@host:port` when there is a host (userinfo
   * and port are left out without one, as libevent does), then the path,
   * `?query` and `#fragment`.
   *
   * @example
   * ```ts
   * import { HttpUri } from "@levent/levent/http";
   * const uri = new HttpUri().setScheme("http").setHost("[::1]").setPort(8080).setPath("/x");
   * console.log(uri.join()); // http://[::1]:8080/x
   * ```
   *
   * @throws {HttpError} `ERR_BAD_URI` if the parts would not parse back as themselves: a host with a path that neither is empty nor starts with "/", no host and a path starting with "//", or no scheme, no host and a ":" in the first path segment
   */
  join(): string {
    const path = this.path;
    let out = this.scheme === null ? "" : this.scheme + ":";
    if (this.host !== null) {
      if (path !== "" && path.charCodeAt(0) !== SLASH) {
        throw badUri('bad URI: a URI with a host needs a path that is empty or starts with "/"');
      }
      out += "//";
      if (this.userinfo !== null) out += this.userinfo + "@";
      out += this.host;
      if (this.port >= 0) out += ":" + this.port;
    } else if (path.charCodeAt(0) === SLASH && path.charCodeAt(1) === SLASH) {
      throw badUri('bad URI: a URI without a host cannot have a path that starts with "//"');
    } else if (this.scheme === null && colonInFirstSegment(path, 0, path.length) >= 0) {
      throw badUri('bad URI: a reference without a scheme or host cannot have ":" in its first path segment');
    }
    out += path;
    if (this.query !== null) out += "?" + this.query;
    if (this.fragment !== null) out += "#" + this.fragment;
    return out;
  }

  /**
   * The same as {@linkcode HttpUri.join}.
   *
   * @throws {HttpError} as join
   */
  toString(): string {
    return this.join();
  }
}

/** Fill in userinfo, host and port from the authority `text[s, e)` (libevent's `parse_authority`). */
function parseAuthority(uri: HttpUri, text: string, s: number, e: number): void {
  if (s === e) {
    uri.host = "";
    return;
  }
  let hostStart = s;
  let at = s;
  while (at < e && text.charCodeAt(at) !== AT) at++;
  if (at < e) {
    const bad = scan(text, s, at, C_USERINFO);
    if (bad < at) throw badChar("userinfo", text, bad);
    uri.userinfo = text.slice(s, at);
    hostStart = at + 1;
  }
  // The port is the digits after the last ":", if only digits follow it.
  let hostEnd = e;
  let p = e - 1;
  while (p >= hostStart && isDigit(text.charCodeAt(p))) p--;
  if (p >= hostStart && text.charCodeAt(p) === COLON) {
    if (p + 1 < e) uri.port = parsePort(text, p + 1, e);
    hostEnd = p;
  }
  if (hostEnd > hostStart) checkHost(text, hostStart, hostEnd);
  uri.host = text.slice(hostStart, hostEnd);
}

/** The port in the digits `text[s, e)` (libevent's `parse_port`). */
function parsePort(text: string, s: number, e: number): number {
  let port = 0;
  for (let i = s; i < e && port <= 65535; i++) port = port * 10 + text.charCodeAt(i) - 48;
  if (port > 65535) throw badUri(`bad URI: the port at index ${s} is over 65535`);
  return port;
}

// ------------------------------------------------------------ encoding

/** Options of {@linkcode encodeUri}. */
export interface EncodeUriOptions {
  /** Write a space as `+` rather than `%20` (form encoding; libevent's `space_as_plus`). Default false. */
  spaceAsPlus?: boolean;
}

/** Options of {@linkcode decodeUri}. */
export interface DecodeUriOptions {
  /** Read `+` as a space (form encoding; libevent's `decode_plus`). Default false. */
  plusAsSpace?: boolean;
  /**
   * Throw on a `%` not followed by two hex digits, and on %-encoded bytes
   * that are not UTF-8. Otherwise such a `%` is kept as it is (as libevent
   * does) and bytes that are not UTF-8 become U+FFFD. Default false.
   */
  strict?: boolean;
}

/**
 * Percent-encode text for a URI (libevent's `evhttp_uriencode` and
 * `evhttp_encode_uri`): each character but the unreserved ones
 * (`A-Z a-z 0-9 - . _ ~`) becomes its UTF-8 bytes as `%XX` (upper-case
 * hex). A lone surrogate is encoded as U+FFFD. Text that needs no encoding
 * is returned as it is.
 *
 * @example
 * ```ts
 * import { encodeUri } from "@levent/levent/http";
 * console.log(encodeUri("a b/é")); // a%20b%2F%C3%A9
 * console.log(encodeUri("a b", { spaceAsPlus: true })); // a+b
 * ```
 *
 * @throws {TypeError} if text is not a string, or the options are malformed
 */
export function encodeUri(text: string, options?: EncodeUriOptions): string {
  checkString(text, "text");
  if (options !== undefined) checkObject(options, "options");
  const spaceAsPlus = options === undefined ? false : checkFlag(options.spaceAsPlus, "options.spaceAsPlus");
  const n = text.length;
  let i = 0;
  while (i < n && hasClass(text.charCodeAt(i), C_UNRESERVED)) i++;
  if (i === n) return text;
  let out = "";
  let run = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (hasClass(c, C_UNRESERVED)) {
      i++;
      continue;
    }
    out += text.slice(run, i);
    if (c < 0x80) {
      out += c === SPACE && spaceAsPlus ? "+" : PCT[c];
      i++;
    } else if (c < 0x800) {
      out += PCT[0xc0 | (c >> 6)] + PCT[0x80 | (c & 63)];
      i++;
    } else {
      let cp = c;
      i++;
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i < n ? text.charCodeAt(i) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else {
          cp = 0xfffd;
        }
      }
      if (cp < 0x10000) {
        out += PCT[0xe0 | (cp >> 12)] + PCT[0x80 | ((cp >> 6) & 63)] + PCT[0x80 | (cp & 63)];
      } else {
        out += PCT[0xf0 | (cp >> 18)] + PCT[0x80 | ((cp >> 12) & 63)] + PCT[0x80 | ((cp >> 6) & 63)] +
          PCT[0x80 | (cp & 63)];
      }
    }
    run = i;
  }
  return out + text.slice(run, n);
}

// ignoreBOM: a %EF%BB%BF at the start is text, not a byte order mark.
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const strictUtf8 = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
/** Bytes of a run of %XX that holds non-ASCII bytes, reused from call to call (decoding is synchronous). */
let scratch = new Uint8Array(64);
/** The scratch array is not grown past this; a longer run gets an array of its own. */
const MAX_SCRATCH = 65536;

/** Decode `text[s, e)` (libevent's `evhttp_decode_uri_internal`); returns the text itself when nothing needs decoding. */
function decodeRange(text: string, s: number, e: number, plusAsSpace: boolean, strict: boolean): string {
  let i = s;
  while (i < e) {
    const c = text.charCodeAt(i);
    if (c === PERCENT || (c === PLUS && plusAsSpace)) break;
    i++;
  }
  if (i === e) return sub(text, s, e);
  let out = "";
  let run = s;
  while (i < e) {
    const c = text.charCodeAt(i);
    if (c === PLUS && plusAsSpace) {
      out += text.slice(run, i) + " ";
      run = ++i;
      continue;
    }
    if (c !== PERCENT) {
      i++;
      continue;
    }
    const byte = pctByte(text, i, e);
    if (byte < 0) {
      if (strict) throw badChar("encoded text", text, i);
      i++;
      continue;
    }
    out += text.slice(run, i);
    if (byte < 0x80) {
      out += String.fromCharCode(byte);
      i += 3;
    } else {
      // Gather the whole run of %XX: a character's UTF-8 bytes come together.
      const start = i;
      const most = Math.ceil((e - i) / 3);
      let bytes = scratch;
      if (bytes.length < most) bytes = most > MAX_SCRATCH ? new Uint8Array(most) : (scratch = new Uint8Array(most));
      let len = 0;
      let b = byte;
      do {
        bytes[len++] = b;
        i += 3;
        b = pctByte(text, i, e);
      } while (b >= 0);
      out += utf8(bytes.subarray(0, len), strict, start);
    }
    run = i;
  }
  return out + text.slice(run, e);
}

function utf8(bytes: Uint8Array, strict: boolean, at: number): string {
  if (!strict) return lenientUtf8.decode(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw badUri(`bad URI: the %-encoded bytes at index ${at} are not UTF-8`);
  }
}

/**
 * Decode percent-encoded text (libevent's `evhttp_uridecode`; with
 * `plusAsSpace`, the decoding `evhttp_parse_query_str` does): each `%XX`
 * becomes a byte and runs of bytes are read as UTF-8; other characters are
 * kept. Text with nothing to decode is returned as it is, without copying.
 *
 * @example
 * ```ts
 * import { decodeUri } from "@levent/levent/http";
 * console.log(decodeUri("a%20b%2F%C3%A9")); // a b/é
 * console.log(decodeUri("a+b%2B", { plusAsSpace: true })); // a b+
 * console.log(decodeUri("100%")); // 100%
 * ```
 *
 * @throws {HttpError} `ERR_BAD_URI` only with `strict`: a `%` not followed by two hex digits, or bytes that are not UTF-8
 * @throws {TypeError} if text is not a string, or the options are malformed
 */
export function decodeUri(text: string, options?: DecodeUriOptions): string {
  checkString(text, "text");
  let plusAsSpace = false;
  let strict = false;
  if (options !== undefined) {
    checkObject(options, "options");
    plusAsSpace = checkFlag(options.plusAsSpace, "options.plusAsSpace");
    strict = checkFlag(options.strict, "options.strict");
  }
  return decodeRange(text, 0, text.length, plusAsSpace, strict);
}

/**
 * Split a query string into its fields (libevent's `evhttp_parse_query_str`):
 * fields are separated by `&` (not `;`), each is `name=value` split at the
 * first `=`, and names and values are decoded with `+` as a space (a `%`
 * without two hex digits is kept, and bytes that are not UTF-8 become
 * U+FFFD). Fields keep their order and repeated names. An empty query gives
 * no fields, and a trailing `&` is allowed, as libevent allows them.
 *
 * @example
 * ```ts
 * import { parseQuery } from "@levent/levent/http";
 * console.log(parseQuery("q=a+b&lang=%C3%A9&empty=")); // [["q", "a b"], ["lang", "é"], ["empty", ""]]
 * ```
 *
 * @throws {HttpError} `ERR_BAD_URI` for a field without `=` (`a&b=1`), with an empty name (`=1`), or empty (`a=1&&b=2`), as libevent rejects them
 * @throws {TypeError} if query is not a string
 */
export function parseQuery(query: string): Array<[string, string]> {
  checkString(query, "query");
  const fields: Array<[string, string]> = [];
  const n = query.length;
  let i = 0;
  while (i < n) {
    let amp = query.indexOf("&", i);
    if (amp < 0) amp = n;
    if (amp === i) throw badUri(`bad URI: the query has an empty field at index ${i}`);
    const eq = query.indexOf("=", i);
    if (eq < 0 || eq > amp) throw badUri(`bad URI: the query field at index ${i} has no "="`);
    if (eq === i) throw badUri(`bad URI: the query field at index ${i} has an empty name`);
    fields.push([decodeRange(query, i, eq, true, false), decodeRange(query, eq + 1, amp, true, false)]);
    i = amp + 1;
  }
  return fields;
}

/**
 * Escape text for HTML (libevent's `evhttp_htmlescape`): `&` `<` `>` `"`
 * `'` become `&amp;` `&lt;` `&gt;` `&quot;` `&#039;`. Text with none of
 * them is returned as it is.
 *
 * @example
 * ```ts
 * import { htmlEscape } from "@levent/levent/http";
 * console.log(htmlEscape(`<a href="x">Tom & Jerry's</a>`));
 * // &lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#039;s&lt;/a&gt;
 * ```
 *
 * @throws {TypeError} if text is not a string
 */
export function htmlEscape(text: string): string {
  checkString(text, "text");
  let out = "";
  let run = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let entity: string;
    switch (text.charCodeAt(i)) {
      case AMP:
        entity = "&amp;";
        break;
      case 60:
        entity = "&lt;";
        break;
      case 62:
        entity = "&gt;";
        break;
      case 34:
        entity = "&quot;";
        break;
      case 39:
        entity = "&#039;";
        break;
      default:
        continue;
    }
    out += text.slice(run, i) + entity;
    run = i + 1;
  }
  return run === 0 ? text : out + text.slice(run, n);
}
