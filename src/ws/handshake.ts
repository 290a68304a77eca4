/**
 * The WebSocket opening handshake (RFC 6455 §4): what a server checks in an
 * upgrade request and answers, and what a client sends and checks in the
 * answer. Both sides read fields through a getter, so the same checks serve
 * HttpServer requests, fetch-style `Request`s and the client.
 *
 * @module
 */
import { type ExtensionOffer, parseExtensions } from "./extensions.ts";
import { sha1 } from "./sha1.ts";

/** The GUID RFC 6455 §1.3 appends to the key. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A key is 16 bytes, base64: 22 characters and "==". */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

const encoder = new TextEncoder();

/** Reads a request or response field by name (case-insensitive); null when absent. Repeated fields come joined with ", ". */
export type FieldGetter = (name: string) => string | null;

/** `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)). */
export function acceptKeyFor(key: string): string {
  const digest = sha1(encoder.encode(key + GUID));
  let bin = "";
  for (let i = 0; i < digest.length; i++) bin += String.fromCharCode(digest[i]);
  return btoa(bin);
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. */
export function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let bin = "";
  for (let i = 0; i < 16; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin);
}

/** Whether a comma-separated field lists `token`, in any case. */
export function listsToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/** A comma-separated list of tokens, or null when an element is not a token (or repeats). */
export function tokenList(value: string | null): string[] | null {
  if (value === null) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const t = part.trim();
    if (!TOKEN.test(t) || out.includes(t)) return null;
    out.push(t);
  }
  return out;
}

/** A valid upgrade request: what the server needs to answer it. */
export interface UpgradeRequest {
  readonly ok: true;
  /** The client's `Sec-WebSocket-Key`. */
  readonly key: string;
  /** The subprotocols offered, in the client's order. */
  readonly protocols: readonly string[];
  /** The extensions offered. */
  readonly extensions: readonly ExtensionOffer[];
}

/** A refused upgrade request: the status to answer (426 carries `Sec-WebSocket-Version: 13`) and why. */
export interface UpgradeRefusal {
  readonly ok: false;
  /** 400, or 426 for a missing or unsupported version. */
  readonly status: 400 | 426;
  /** What was wrong. */
  readonly reason: string;
}

/**
 * Check an upgrade request (RFC 6455 §4.2.1): GET, HTTP/1.1 or later,
 * `Upgrade: websocket`, `Connection` listing `upgrade`, version 13 (else
 * 426), a 16-byte base64 key, and well-formed subprotocol and extension
 * lists.
 */
export function checkUpgradeRequest(
  method: string,
  versionMinor: number,
  get: FieldGetter,
): UpgradeRequest | UpgradeRefusal {
  const refuse = (reason: string): UpgradeRefusal => ({ ok: false, status: 400, reason });
  if (method !== "GET") return refuse(`a WebSocket handshake must be a GET, not ${method}`);
  if (versionMinor < 1) return refuse("a WebSocket handshake needs HTTP/1.1");
  if (!listsToken(get("upgrade"), "websocket")) return refuse("Upgrade: websocket is missing");
  if (!listsToken(get("connection"), "upgrade")) return refuse("Connection: upgrade is missing");
  const version = get("sec-websocket-version");
  if (version === null || version.trim() !== "13") {
    return { ok: false, status: 426, reason: `unsupported Sec-WebSocket-Version ${JSON.stringify(version)}` };
  }
  const key = get("sec-websocket-key")?.trim() ?? null;
  if (key === null || !KEY.test(key)) return refuse("Sec-WebSocket-Key is not 16 bytes of base64");
  const protocols = tokenList(get("sec-websocket-protocol"));
  if (protocols === null) return refuse("Sec-WebSocket-Protocol is not a list of distinct tokens");
  const extField = get("sec-websocket-extensions");
  const extensions = extField === null ? [] : parseExtensions(extField);
  if (extensions === null) return refuse("Sec-WebSocket-Extensions is malformed");
  return { ok: true, key, protocols, extensions };
}

/** What the client offered, to check the server's answer against. */
export interface ClientOffer {
  /** The key sent. */
  readonly key: string;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
}

/**
 * Check a server's answer to an upgrade (RFC 6455 §4.1): 101, `Upgrade:
 * websocket`, `Connection: upgrade`, the accept value for our key, and a
 * subprotocol among those offered (or none). Returns the chosen subprotocol
 * ("" for none), or an error message.
 */
export function checkUpgradeResponse(
  status: number,
  get: FieldGetter,
  offer: ClientOffer,
): { protocol: string } | string {
  if (status !== 101) return `the server answered ${status}, not 101 Switching Protocols`;
  if (!listsToken(get("upgrade"), "websocket")) return "the answer lacks Upgrade: websocket";
  if (!listsToken(get("connection"), "upgrade")) return "the answer lacks Connection: upgrade";
  if (get("sec-websocket-accept")?.trim() !== acceptKeyFor(offer.key)) {
    return "Sec-WebSocket-Accept does not match the key sent";
  }
  const protocol = get("sec-websocket-protocol")?.trim() ?? "";
  if (protocol !== "" && !offer.protocols.includes(protocol)) {
    return `the server chose the subprotocol ${JSON.stringify(protocol)}, which was not offered`;
  }
  return { protocol };
}
