/**
 * The `Sec-WebSocket-Extensions` field (RFC 6455 §9.1) and the
 * permessage-deflate negotiation (RFC 7692 §7.1): parsing offers, the
 * server's choice and answer, and the client's check of that answer.
 *
 * ```
 * Sec-WebSocket-Extensions = extension *( "," extension )
 * extension = token *( ";" param )
 * param     = token [ "=" ( token / quoted-string ) ]
 * ```
 *
 * @module
 */

/** One extension of the field: its name and its parameters in order (`true` for a parameter without value). */
export interface ExtensionOffer {
  /** The extension's name, as sent. */
  readonly name: string;
  /** Its parameters: name, then value (a string) or true. */
  readonly params: readonly (readonly [string, string | true])[];
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parse a `Sec-WebSocket-Extensions` value. Returns null when it does not
 * follow the grammar (the caller then fails the handshake, 400).
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < n && !' \t,;="'.includes(value[i])) i++;
    const t = value.slice(start, i);
    return TCHAR.test(t) ? t : null;
  };
  for (;;) {
    skipSpace();
    const name = token();
    if (name === null) return null;
    const params: [string, string | true][] = [];
    skipSpace();
    while (i < n && value[i] === ";") {
      i++;
      skipSpace();
      const key = token();
      if (key === null) return null;
      skipSpace();
      let v: string | true = true;
      if (i < n && value[i] === "=") {
        i++;
        skipSpace();
        if (value[i] === '"') {
          // quoted-string whose content must itself be a token (RFC 6455 §9.1).
          i++;
          let text = "";
          while (i < n && value[i] !== '"') {
            if (value[i] === "\\") i++;
            text += value[i++] ?? "";
          }
          if (i >= n) return null;
          i++;
          if (!TCHAR.test(text)) return null;
          v = text;
        } else {
          const t = token();
          if (t === null) return null;
          v = t;
        }
        skipSpace();
      }
      params.push([key.toLowerCase(), v]);
    }
    out.push({ name: name.toLowerCase(), params });
    skipSpace();
    if (i >= n) return out;
    if (value[i] !== ",") return null;
    i++;
  }
}

/** What the two sides agreed for permessage-deflate, as one side sees it. */
export interface DeflateAgreement {
  /** The server starts every message with a fresh compressor. */
  readonly serverNoContextTakeover: boolean;
  /** The client starts every message with a fresh compressor. */
  readonly clientNoContextTakeover: boolean;
  /** The LZ77 window the server compresses with, 8-15 (log2 bytes). */
  readonly serverMaxWindowBits: number;
  /** The LZ77 window the client compresses with, 8-15. */
  readonly clientMaxWindowBits: number;
}

/** The permessage-deflate settings of an endpoint (WebSocket options `perMessageDeflate`). */
export interface PerMessageDeflateOptions {
  /** Ask that the server compress each message on its own (less memory per connection, less compression). Default false. */
  readonly serverNoContextTakeover?: boolean;
  /** Ask that the client compress each message on its own. Default false. */
  readonly clientNoContextTakeover?: boolean;
  /** The largest window the server may compress with, 9-15. Default 15. */
  readonly serverMaxWindowBits?: number;
  /** The largest window the client may compress with: 8-15 on a server, 9-15 on a client (zlib cannot compress with 8). Default 15. */
  readonly clientMaxWindowBits?: number;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  readonly threshold?: number;
  /** Compression level 0-9 for what this side sends. Default 6. */
  readonly level?: number;
}

/** The permessage-deflate defaults. */
export const DEFAULT_DEFLATE: Readonly<Required<PerMessageDeflateOptions>> = Object.freeze({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  threshold: 1024,
  level: 6,
});

/** A window-bits parameter's value, or null when it is not one. */
function windowBits(v: string | true, min: number): number | null {
  if (v === true || !/^\d{1,2}$/.test(v)) return null;
  const bits = Number(v);
  return bits >= min && bits <= 15 ? bits : null;
}

/**
 * The server's choice among a client's permessage-deflate offers (RFC 7692
 * §7.1): the first offer it can accept, with its answer for the
 * `Sec-WebSocket-Extensions` response field, or null to decline them all.
 * An offer with an unknown or repeated parameter, or a bad value, is
 * declined (the next one is tried), never an error.
 */
export function acceptDeflate(
  offers: readonly ExtensionOffer[],
  config: Required<PerMessageDeflateOptions>,
): { agreement: DeflateAgreement; response: string } | null {
  next: for (const offer of offers) {
    if (offer.name !== "permessage-deflate") continue;
    const seen = new Set<string>();
    let serverNoContext = config.serverNoContextTakeover;
    let serverBits = config.serverMaxWindowBits;
    let clientBitsOffered: number | true | null = null;
    for (const [key, value] of offer.params) {
      if (seen.has(key)) continue next;
      seen.add(key);
      switch (key) {
        case "server_no_context_takeover":
          if (value !== true) continue next;
          serverNoContext = true;
          break;
        case "client_no_context_takeover":
          if (value !== true) continue next;
          break;
        case "server_max_window_bits": {
          // zlib cannot compress with a 256-byte window: an offer that insists on 8 is declined.
          const bits = windowBits(value, 8);
          if (bits === null || bits < 9) continue next;
          serverBits = Math.min(serverBits, bits);
          break;
        }
        case "client_max_window_bits":
          if (value === true) clientBitsOffered = true;
          else {
            const bits = windowBits(value, 8);
            if (bits === null) continue next;
            clientBitsOffered = bits;
          }
          break;
        default:
          continue next;
      }
    }
    // The client's window can be limited only if it said it understands the parameter.
    let clientBits = 15;
    if (clientBitsOffered !== null) {
      clientBits = Math.min(config.clientMaxWindowBits, clientBitsOffered === true ? 15 : clientBitsOffered);
    } else if (config.clientMaxWindowBits < 15) {
      continue;
    }
    const clientNoContext = config.clientNoContextTakeover || seen.has("client_no_context_takeover");
    let response = "permessage-deflate";
    if (serverNoContext) response += "; server_no_context_takeover";
    if (clientNoContext) response += "; client_no_context_takeover";
    if (seen.has("server_max_window_bits") || serverBits < 15) response += `; server_max_window_bits=${serverBits}`;
    if (clientBitsOffered !== null && (clientBitsOffered !== true || clientBits < 15)) {
      response += `; client_max_window_bits=${clientBits}`;
    }
    return {
      agreement: {
        serverNoContextTakeover: serverNoContext,
        clientNoContextTakeover: clientNoContext,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
      response,
    };
  }
  return null;
}

/** The client's permessage-deflate offer for its `Sec-WebSocket-Extensions` request field. */
export function offerDeflate(config: Required<PerMessageDeflateOptions>): string {
  let offer = "permessage-deflate";
  if (config.serverNoContextTakeover) offer += "; server_no_context_takeover";
  if (config.clientNoContextTakeover) offer += "; client_no_context_takeover";
  if (config.serverMaxWindowBits < 15) offer += `; server_max_window_bits=${config.serverMaxWindowBits}`;
  offer += config.clientMaxWindowBits < 15
    ? `; client_max_window_bits=${config.clientMaxWindowBits}`
    : "; client_max_window_bits";
  return offer;
}

/**
 * The client's check of the server's `Sec-WebSocket-Extensions` answer to
 * {@linkcode offerDeflate}: the agreement, null when the server declined
 * (no extension), or an error message when the answer breaks RFC 7692
 * (the client then fails the connection).
 */
export function checkDeflateResponse(
  value: string | null,
  config: Required<PerMessageDeflateOptions>,
): DeflateAgreement | null | string {
  if (value === null || value.trim() === "") return null;
  const parsed = parseExtensions(value);
  if (parsed === null) return `malformed Sec-WebSocket-Extensions: ${JSON.stringify(value)}`;
  if (parsed.length !== 1 || parsed[0].name !== "permessage-deflate") {
    return `the server chose an extension that was not offered: ${JSON.stringify(value)}`;
  }
  const seen = new Set<string>();
  let serverNoContext = false;
  let clientNoContext = config.clientNoContextTakeover;
  let serverBits = 15;
  let clientBits = config.clientMaxWindowBits;
  for (const [key, v] of parsed[0].params) {
    if (seen.has(key)) return `a repeated permessage-deflate parameter: ${key}`;
    seen.add(key);
    switch (key) {
      case "server_no_context_takeover":
        if (v !== true) return "server_no_context_takeover takes no value";
        serverNoContext = true;
        break;
      case "client_no_context_takeover":
        if (v !== true) return "client_no_context_takeover takes no value";
        clientNoContext = true;
        break;
      case "server_max_window_bits": {
        const bits = windowBits(v, 8);
        if (bits === null) return `a bad server_max_window_bits: ${String(v)}`;
        if (bits > config.serverMaxWindowBits) return "server_max_window_bits is larger than offered";
        serverBits = bits;
        break;
      }
      case "client_max_window_bits": {
        // Offered always (offerDeflate sends it), so the server may answer it, with a value.
        const bits = windowBits(v, 8);
        if (bits === null) return `a bad client_max_window_bits: ${String(v)}`;
        // zlib compresses with at least a 512-byte window: a server asking for 256 cannot be obeyed.
        if (bits < 9) return "the server asked for client_max_window_bits=8, which zlib cannot compress with";
        clientBits = Math.min(clientBits, bits);
        break;
      }
      default:
        return `an unknown permessage-deflate parameter: ${key}`;
    }
  }
  if (config.serverNoContextTakeover && !serverNoContext) {
    return "the server did not accept server_no_context_takeover, which was offered as required";
  }
  return {
    serverNoContextTakeover: serverNoContext,
    clientNoContextTakeover: clientNoContext,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: clientBits,
  };
}
