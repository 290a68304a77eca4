/**
 * The static-file pieces of examples/http-server.ts (libevent's
 * sample/http-server.c): content types by extension, resolving a request
 * path under the root without escaping it, Range headers and
 * multipart/byteranges bodies, validators and conditional requests, and the
 * HTML listing of a directory.
 *
 * @module
 */
import { htmlEscape } from "../../mod.ts";

const TYPES: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  pdf: "application/pdf",
  wasm: "application/wasm",
  mp4: "video/mp4",
  mp3: "audio/mpeg",
  woff2: "font/woff2",
  ts: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
};

/** The Content-Type for a file name, by extension; application/octet-stream when unknown. */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot < 0 || dot < name.lastIndexOf("/")) return "application/octet-stream";
  return TYPES[name.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}

/**
 * The file path for a decoded URL path under `root`, or null when the path
 * would leave the root (through `..`, also once percent-decoded) or holds a
 * NUL or a backslash. The URL path must already be percent-decoded.
 */
export function resolveUnderRoot(root: string, decodedPath: string): string | null {
  if (!decodedPath.startsWith("/") || decodedPath.includes("\0") || decodedPath.includes("\\")) return null;
  const parts: string[] = [];
  for (const part of decodedPath.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  const base = root.endsWith("/") ? root.slice(0, -1) : root;
  return parts.length === 0 ? base : `${base}/${parts.join("/")}`;
}

/** A byte range [start, end] (inclusive) of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The most ranges one Range header may ask for; with more, the whole file is sent (nginx's max_ranges). */
export const MAX_RANGES = 64;

/**
 * Parse a Range header for a file of `size` bytes (RFC 9110 §14.2): `bytes=`
 * and a list of ranges (first-last, first-, or -suffix). Returns the
 * satisfiable ranges in the order asked (those starting past the end are
 * left out), "unsatisfiable" when none is (answer 416), or null to ignore
 * the header and send the whole file: another unit, a malformed range, more
 * than `maxRanges` ranges, or ranges that add up to more bytes than the
 * file holds (overlapping or repeated ones, as nginx refuses them).
 */
export function parseRanges(
  header: string,
  size: number,
  maxRanges: number = MAX_RANGES,
): ByteRange[] | "unsatisfiable" | null {
  const m = /^bytes\s*=(.*)$/i.exec(header.trim());
  if (m === null) return null;
  const specs = m[1].split(",").map((spec) => spec.trim()).filter((spec) => spec !== "");
  if (specs.length === 0 || specs.length > maxRanges) return null;
  const ranges: ByteRange[] = [];
  let total = 0;
  for (const spec of specs) {
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (r === null) return null;
    const [, first, last] = r;
    if (first === "" && last === "") return null;
    if (first !== "" && last !== "" && Number(last) < Number(first)) return null;
    let range: ByteRange | null = null;
    if (first === "") {
      const suffix = Number(last);
      if (suffix > 0 && size > 0) range = { start: Math.max(0, size - suffix), end: size - 1 };
    } else if (Number(first) < size) {
      range = { start: Number(first), end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
    }
    if (range === null) continue;
    ranges.push(range);
    total += range.end - range.start + 1;
  }
  if (ranges.length === 0) return "unsatisfiable";
  return total > size ? null : ranges;
}

/**
 * A multipart/byteranges body (RFC 9110 §14.6) for `ranges` of a file of
 * `size` bytes of type `type`: the text before each range's bytes and after
 * the last, and the body's whole length. The caller puts each range's bytes
 * between `heads[i]` and `heads[i + 1]`, then `tail`.
 */
export function byteRangesBody(
  ranges: readonly ByteRange[],
  size: number,
  type: string,
  boundary: string,
): { heads: string[]; tail: string; length: number } {
  const heads = ranges.map((r, i) =>
    `${
      i === 0 ? "" : "\r\n"
    }--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`
  );
  const tail = `\r\n--${boundary}--\r\n`;
  let length = tail.length;
  for (let i = 0; i < ranges.length; i++) length += heads[i].length + ranges[i].end - ranges[i].start + 1;
  return { heads, tail, length };
}

/** A file's validators: a strong entity tag from its modification time and size, and its Last-Modified date. */
export interface Validators {
  etag: string;
  lastModified: string;
  /** The modification time in whole seconds, as Last-Modified says it. */
  modifiedSeconds: number;
}

/** The validators of a file of `size` bytes last modified at `mtimeMs` (the ETag in nginx's form, in ms). */
export function fileValidators(size: number, mtimeMs: number): Validators {
  const modifiedSeconds = Math.floor(mtimeMs / 1000);
  return {
    etag: `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`,
    lastModified: new Date(modifiedSeconds * 1000).toUTCString(),
    modifiedSeconds,
  };
}

/** The entity tags of an If-Match / If-None-Match list, or "*". */
function entityTags(header: string): string[] | "*" {
  if (header.trim() === "*") return "*";
  return [...header.matchAll(/(?:W\/)?"[^"]*"/g)].map((m) => m[0]);
}

/** RFC 9110 §8.8.3.2: a strong comparison needs both tags strong and equal; a weak one ignores W/. */
function sameTag(a: string, b: string, weak: boolean): boolean {
  if (weak) return a.replace(/^W\//, "") === b.replace(/^W\//, "");
  return !a.startsWith("W/") && a === b;
}

/** An HTTP-date in whole seconds, or null when the value is not a date (the header is then ignored). */
function httpDateSeconds(value: string): number | null {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * The preconditions of a GET or HEAD of a file (RFC 9110 §13.2.2, in its
 * order): 412 when If-Match lists no current tag (or, without If-Match,
 * If-Unmodified-Since is before the file's date), 304 when If-None-Match
 * lists the current tag (weak comparison) or, without If-None-Match,
 * If-Modified-Since is not before the file's date; 200 otherwise (send it).
 */
export function preconditionStatus(header: (name: string) => string | null, v: Validators): 200 | 304 | 412 {
  const ifMatch = header("If-Match");
  if (ifMatch !== null) {
    const tags = entityTags(ifMatch);
    if (tags !== "*" && !tags.some((t) => sameTag(t, v.etag, false))) return 412;
  } else {
    const since = header("If-Unmodified-Since");
    const date = since === null ? null : httpDateSeconds(since);
    if (date !== null && v.modifiedSeconds > date) return 412;
  }
  const ifNoneMatch = header("If-None-Match");
  if (ifNoneMatch !== null) {
    const tags = entityTags(ifNoneMatch);
    return tags === "*" || tags.some((t) => sameTag(t, v.etag, true)) ? 304 : 200;
  }
  const since = header("If-Modified-Since");
  const date = since === null ? null : httpDateSeconds(since);
  return date !== null && v.modifiedSeconds <= date ? 304 : 200;
}

/**
 * Whether a Range applies under `ifRange` (RFC 9110 §13.1.5): always without
 * If-Range; with an entity tag, when it is the current one (strong
 * comparison); with a date, when it is the file's Last-Modified exactly.
 * Otherwise the whole file is sent.
 */
export function ifRangeHolds(ifRange: string | null, v: Validators): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return sameTag(value, v.etag, false);
  return httpDateSeconds(value) === v.modifiedSeconds;
}

/** An entry of a directory listing. */
export interface ListingEntry {
  name: string;
  isDirectory: boolean;
}

/** The HTML listing of a directory at `urlPath` (as http-server.c prints it). */
export function directoryListingHtml(urlPath: string, entries: readonly ListingEntry[]): string {
  const base = urlPath.endsWith("/") ? urlPath : `${urlPath}/`;
  const rows = [...entries]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => {
      const name = e.isDirectory ? `${e.name}/` : e.name;
      const href = base + encodeURIComponent(e.name) + (e.isDirectory ? "/" : "");
      return `    <li><a href="${htmlEscape(href)}">${htmlEscape(name)}</a></li>`;
    });
  const title = htmlEscape(base);
  return [
    "<!DOCTYPE html>",
    `<html><head><meta charset="utf-8"><title>${title}</title></head>`,
    `<body><h1>${title}</h1>`,
    "  <ul>",
    ...(base === "/" ? [] : ['    <li><a href="../">../</a></li>']),
    ...rows,
    "  </ul>",
    "</body></html>",
    "",
  ].join("\n");
}
