/**
 * The static-file pieces of examples/http-server.ts (libevent's
 * sample/http-server.c): content types by extension, resolving a request
 * path under the root without escaping it, Range headers, and the HTML
 * listing of a directory.
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

/**
 * Parse a Range header for a file of `size` bytes (RFC 9110 §14.2): one
 * `bytes=` range (first-last, first-, or -suffix). Returns the range,
 * "unsatisfiable" (answer 416), or null to ignore the header and send the
 * whole file (not bytes, or several ranges, which this server does not
 * combine into multipart replies).
 */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | null {
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (m === null) return null;
  const [, first, last] = m;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  let end = last === "" ? size - 1 : Number(last);
  if (last !== "" && end < start) return null;
  if (start >= size) return "unsatisfiable";
  if (end >= size) end = size - 1;
  return { start, end };
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
