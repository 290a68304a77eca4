/**
 * HTTP content codings (RFC 9110 §8.4): gzip, zlib's deflate and Brotli
 * through the platform's {@linkcode Compression} streams. For the client,
 * {@linkcode BodyDecoder} undoes a response's Content-Encoding as the body
 * arrives, and {@linkcode acceptEncoding} says what to ask for. For the
 * server, {@linkcode ServerCompression} holds an {@linkcode HttpServer}'s
 * `compress` option: it negotiates a coding from Accept-Encoding, adjusts the
 * response's fields, and compresses whole replies at once and streamed ones
 * chunk by chunk (each chunk flushed, so a client reads it as it is sent).
 *
 * Only the option and its types are public; the rest is what
 * http_server_request.ts and http_connection.ts call.
 *
 * @module
 */
import { checkFunction, checkInteger, checkObject, typeError } from "../check.ts";
import { EvBuffer } from "../buffer/evbuffer.ts";
import type { Compression, CompressionFormat, ZStream } from "../platform.ts";
import { HttpError } from "./http_error.ts";
import type { HttpHeaders } from "./headers.ts";
import type { HttpBody, HttpServerRequest, RequestCore } from "./http_server_request.ts";

/** A content coding an {@linkcode HttpServer} can compress responses with. */
export type HttpContentCoding = "br" | "gzip" | "deflate";

/**
 * Decides, beside the checks the server always makes, whether a response
 * is compressed: called with the request and the response's Content-Type
 * (null when it has none). It replaces the default test, which accepts
 * textual types only (see {@linkcode HttpCompressionOptions.filter}).
 */
export type HttpCompressPredicate = (req: HttpServerRequest, contentType: string | null) => boolean;

/** Options of an {@linkcode HttpServer}'s response compression. */
export interface HttpCompressionOptions {
  /**
   * Which responses to compress, by request and Content-Type. Default:
   * textual types (`text/*`, JSON, XML, JavaScript, SVG, WebAssembly,
   * `+json` and `+xml` types, TrueType and OpenType fonts); images, audio,
   * video, archives and types without a name are sent as they are.
   */
  readonly filter?: HttpCompressPredicate;
  /** Bodies shorter than this many bytes are sent as they are. Default 1024. */
  readonly minSize?: number;
  /**
   * The codings to offer, best first: among those the client accepts with
   * the same q-value, the first listed wins. Default `["br", "gzip",
   * "deflate"]`; a coding the platform lacks (see `Compression.formats`) is
   * skipped.
   */
  readonly encodings?: readonly HttpContentCoding[];
  /** The deflate level for gzip and deflate, 0-9. Default 6. */
  readonly level?: number;
  /** Brotli's quality, 0-11. Default 4: about gzip's speed, with a smaller result. */
  readonly brotliQuality?: number;
}

/**
 * The `compress` option of an {@linkcode HttpServer} and of `serve()`:
 * false (the default) sends responses as they are; true compresses with
 * the defaults of {@linkcode HttpCompressionOptions}; a function is those
 * defaults with it as the filter.
 */
export type HttpCompressOption = boolean | HttpCompressPredicate | HttpCompressionOptions;

const DEFAULT_MIN_SIZE = 1024;
const DEFAULT_LEVEL = 6;
const DEFAULT_BROTLI_QUALITY = 4;
const DEFAULT_ENCODINGS: readonly HttpContentCoding[] = ["br", "gzip", "deflate"];
const CODINGS: readonly HttpContentCoding[] = ["br", "gzip", "deflate"];
/** Encoders kept for reuse per coding and server: reset() is far cheaper than a new zlib stream. */
const POOLED_ENCODERS = 4;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Types compressed by default, besides `text/*` and the `+json` / `+xml` suffixes. */
const COMPRESSIBLE = new Set([
  "application/json",
  "application/javascript",
  "application/ecmascript",
  "application/x-javascript",
  "application/xml",
  "application/wasm",
  "application/x-www-form-urlencoded",
  "application/graphql",
  "application/x-ndjson",
  "application/yaml",
  "application/toml",
  "image/svg+xml",
  "image/x-icon",
  "image/bmp",
  "font/ttf",
  "font/otf",
  "application/x-font-ttf",
  "application/vnd.ms-fontobject",
]);

/** The media type of a Content-Type value, lowercased, without parameters. */
function mediaType(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** The default filter: textual types. */
function compressibleType(_req: HttpServerRequest, contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = mediaType(contentType);
  return type.startsWith("text/") || COMPRESSIBLE.has(type) || type.endsWith("+json") || type.endsWith("+xml");
}

/**
 * The q-value of each coding in Accept-Encoding field values (RFC 9110
 * §12.5.3), names lowercased, `x-gzip` read as gzip. An entry with a
 * malformed q is left out.
 */
export function parseAcceptEncoding(values: readonly string[]): Map<string, number> {
  const q = new Map<string, number>();
  for (const value of values) {
    for (const part of value.split(",")) {
      const [rawName, ...params] = part.split(";");
      let name = rawName.trim().toLowerCase();
      if (name === "") continue;
      if (name === "x-gzip") name = "gzip";
      let weight = 1;
      for (const p of params) {
        const eq = p.indexOf("=");
        if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== "q") continue;
        const text = p.slice(eq + 1).trim();
        weight = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : NaN;
      }
      if (Number.isNaN(weight)) continue;
      // Listed twice: the higher weight stands.
      q.set(name, Math.max(q.get(name) ?? 0, weight));
    }
  }
  return q;
}

/**
 * The coding to send, from the client's Accept-Encoding and the server's
 * `offered` codings (best first), or null for none (identity). Without
 * Accept-Encoding nothing is compressed. The highest q-value wins, the
 * server's order breaks ties, and identity wins over a coding the client
 * weighs lower than it (`gzip;q=0.5, identity`, or `*` giving identity its
 * weight); unlisted, identity is only the fallback.
 */
export function negotiateEncoding(
  values: readonly string[],
  offered: readonly HttpContentCoding[],
): HttpContentCoding | null {
  if (values.length === 0) return null;
  const q = parseAcceptEncoding(values);
  const star = q.get("*");
  let best: HttpContentCoding | null = null;
  let bestQ = 0;
  for (const coding of offered) {
    const weight = q.get(coding) ?? star ?? 0;
    if (weight > bestQ) {
      best = coding;
      bestQ = weight;
    }
  }
  // Identity is acceptable unless excluded, but competes only when weighed (listed, or by `*`).
  const identity = q.get("identity") ?? star ?? 0;
  return best !== null && bestQ >= identity ? best : null;
}

/** Whether a comma-separated field lists `token` (lowercase). */
function listsToken(values: readonly string[], token: string): boolean {
  for (const v of values) {
    for (const part of v.split(",")) if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/** Add `Accept-Encoding` to the Vary field unless it is there (or Vary is `*`). */
function addVary(headers: HttpHeaders): void {
  const vary = headers.getAll("vary");
  if (listsToken(vary, "accept-encoding") || listsToken(vary, "*")) return;
  if (vary.length === 0) headers.set("Vary", "Accept-Encoding");
  else headers.set("Vary", `${vary.join(", ")}, Accept-Encoding`);
}

/**
 * An HttpServer's response compression: the `compress` option, checked,
 * with the encoders it keeps for reuse. Internal: the server holds one and
 * the reply path of each request consults it.
 */
export class ServerCompression {
  readonly #compression: Compression;
  readonly #filter: HttpCompressPredicate;
  readonly #minSize: number;
  readonly #offered: readonly HttpContentCoding[];
  readonly #level: number;
  readonly #brotliQuality: number;
  readonly #pools = new Map<HttpContentCoding, ZStream[]>();
  /** The last Accept-Encoding seen and what it chose: clients send the same field on every request. */
  #lastAccept = "";
  #lastChoice: HttpContentCoding | null = null;

  private constructor(compression: Compression, options: HttpCompressionOptions) {
    this.#compression = compression;
    this.#filter = options.filter ?? compressibleType;
    this.#minSize = options.minSize ?? DEFAULT_MIN_SIZE;
    this.#level = options.level ?? DEFAULT_LEVEL;
    this.#brotliQuality = options.brotliQuality ?? DEFAULT_BROTLI_QUALITY;
    const formats = compression.formats;
    this.#offered = (options.encodings ?? DEFAULT_ENCODINGS).filter((c) => formats.includes(c));
  }

  /**
   * The server's compression for a `compress` option, or null when it is
   * off.
   *
   * @throws {TypeError} if the option is of the wrong type, or an encoding is not a coding levent compresses with
   * @throws {RangeError} if minSize, level or brotliQuality is out of range
   */
  static from(
    option: HttpCompressOption | undefined,
    compression: Compression,
    name: string,
  ): ServerCompression | null {
    if (option === undefined || option === false) return null;
    if (option === true) return new ServerCompression(compression, {});
    if (typeof option === "function") return new ServerCompression(compression, { filter: option });
    checkObject(option, name);
    if (typeof option !== "object" || option === null) {
      throw typeError(name, "a boolean, a function or an object", option);
    }
    if (option.filter !== undefined) checkFunction(option.filter, `${name}.filter`);
    if (option.minSize !== undefined) checkInteger(option.minSize, `${name}.minSize`, 0);
    if (option.level !== undefined) checkInteger(option.level, `${name}.level`, 0, 9);
    if (option.brotliQuality !== undefined) checkInteger(option.brotliQuality, `${name}.brotliQuality`, 0, 11);
    if (option.encodings !== undefined) {
      if (!Array.isArray(option.encodings)) throw typeError(`${name}.encodings`, "an array", option.encodings);
      for (const c of option.encodings) {
        if (!CODINGS.includes(c)) throw typeError(`${name}.encodings`, `a list of "br", "gzip" and "deflate"`, c);
      }
    }
    return new ServerCompression(compression, option);
  }

  /**
   * Whether this response is one compression applies to, and if so the
   * coding the client takes (null: identity). Adds `Vary: Accept-Encoding`
   * to an eligible response; for a chosen coding sets Content-Encoding,
   * drops Content-Length and weakens a strong ETag. `length` is the body's
   * size when known, else -1.
   */
  #choose(core: RequestCore, code: number, length: number): HttpContentCoding | null {
    if (this.#offered.length === 0) return null;
    // No body (HEAD, 204, 304), or a body whose bytes are fixed already (a range of the identity one).
    if (code === 204 || code === 304 || code === 206 || code < 200 || core.head.method === "HEAD") return null;
    if (length >= 0 && length < this.#minSize) return null;
    const out = core.outputHeaders();
    const coded = out.getAll("content-encoding");
    if (coded.length > 0 && !(coded.length === 1 && coded[0].trim().toLowerCase() === "identity")) return null;
    if (out.has("content-range") || listsToken(out.getAll("cache-control"), "no-transform")) return null;
    const type = out.get("content-type") ?? defaultType(core);
    if (!this.#filter(core.req, type)) return null;
    addVary(out);
    const accept = core.inputHeaders().getAll("accept-encoding");
    let coding: HttpContentCoding | null;
    if (accept.length === 1 && accept[0] === this.#lastAccept) {
      coding = this.#lastChoice;
    } else {
      coding = negotiateEncoding(accept, this.#offered);
      if (accept.length === 1) {
        this.#lastAccept = accept[0];
        this.#lastChoice = coding;
      }
    }
    if (coding === null) return null;
    out.set("Content-Encoding", coding);
    out.remove("content-length");
    const etag = out.get("etag");
    if (etag !== null && etag.startsWith('"')) out.set("ETag", `W/${etag}`);
    return coding;
  }

  #take(coding: HttpContentCoding): ZStream {
    const pooled = this.#pools.get(coding)?.pop();
    if (pooled !== undefined) return pooled;
    const level = coding === "br" ? this.#brotliQuality : this.#level;
    return this.#compression.createEncoder(coding, { level });
  }

  #give(coding: HttpContentCoding, stream: ZStream): void {
    let pool = this.#pools.get(coding);
    if (pool === undefined) this.#pools.set(coding, pool = []);
    if (pool.length >= POOLED_ENCODERS) {
      stream.close();
      return;
    }
    stream.reset();
    pool.push(stream);
  }

  /**
   * The body a whole reply sends: the output buffer's bytes and `body`,
   * compressed when the response and the client call for it (the fields
   * adjusted, the output buffer emptied); else `body` unchanged.
   */
  encodeReply(core: RequestCore, code: number, body: HttpBody | undefined): HttpBody | undefined {
    const ob = core.output;
    const held = ob === null ? 0 : ob.length;
    if (held > 0 && (ob as EvBuffer).hasFileSegments) return body;
    if (body instanceof EvBuffer && body.hasFileSegments) return body;
    const text = typeof body === "string" ? encoder.encode(body) : null;
    const length = held + (text?.length ?? (body === undefined ? 0 : body.length));
    const coding = this.#choose(core, code, length);
    if (coding === null) return body;
    const z = this.#take(coding);
    const parts: Uint8Array[] = [];
    try {
      if (held > 0) {
        for (const view of (ob as EvBuffer).peek()) parts.push(z.process(view, "none"));
        (ob as EvBuffer).drain(held);
      }
      if (text !== null) parts.push(z.process(text, "none"));
      else if (body instanceof Uint8Array) parts.push(z.process(body, "none"));
      else if (body instanceof EvBuffer && body !== ob) {
        for (const view of body.peek()) parts.push(z.process(view, "none"));
        body.drain(body.length);
      }
      parts.push(z.process(EMPTY, "finish"));
    } catch (err) {
      z.close();
      throw err;
    }
    this.#give(coding, z);
    return join(parts);
  }

  /** The encoder for a streamed reply, the fields adjusted; null to send it as it is. */
  startStream(core: RequestCore, code: number): ResponseEncoder | null {
    const declared = core.outHeaders?.get("content-length") ?? null;
    // A Content-Length that is not a number is refused by replyStart itself.
    if (declared !== null && !/^\d{1,15}$/.test(declared)) return null;
    const length = declared === null ? -1 : Number(declared);
    const coding = this.#choose(core, code, length);
    if (coding === null) return null;
    return new ResponseEncoder(this, coding, this.#take(coding));
  }

  /** An encoder a finished stream gives back. */
  release(coding: HttpContentCoding, z: ZStream): void {
    this.#give(coding, z);
  }
}

/** The default Content-Type an HttpServer adds (its `Content-Type: ...` line), or null. */
function defaultType(core: RequestCore): string | null {
  const line = core.conn.cfg.contentTypeLine;
  if (line === null) return null;
  return line.slice(line.indexOf(":") + 1).trim();
}

/** A streamed reply's encoder: each chunk compressed and flushed, the trailer at the end. */
export class ResponseEncoder {
  readonly #owner: ServerCompression;
  readonly #coding: HttpContentCoding;
  #z: ZStream | null;

  constructor(owner: ServerCompression, coding: HttpContentCoding, z: ZStream) {
    this.#owner = owner;
    this.#coding = coding;
    this.#z = z;
  }

  /** A chunk, compressed and flushed so the client can decode it at once (maybe empty). */
  chunk(data: HttpBody): Uint8Array {
    const z = this.#z;
    if (z === null) return EMPTY;
    if (typeof data === "string") return z.process(encoder.encode(data), "sync");
    if (data instanceof Uint8Array) return z.process(data, "sync");
    const views = data.peek();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < views.length; i++) parts.push(z.process(views[i], i === views.length - 1 ? "sync" : "none"));
    data.drain(data.length);
    return views.length === 0 ? EMPTY : join(parts);
  }

  /** The stream's last bytes (its trailer); the encoder goes back to the server's pool. */
  finish(): Uint8Array {
    const z = this.#z;
    if (z === null) return EMPTY;
    this.#z = null;
    const tail = z.process(EMPTY, "finish");
    this.#owner.release(this.#coding, z);
    return tail;
  }
}

/** Byte arrays as one (the only one as it is). */
function join(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  let last: Uint8Array = EMPTY;
  for (const p of parts) {
    if (p.length === 0) continue;
    n += p.length;
    last = p;
  }
  if (n === last.length) return last;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- client

/** What a client asks for, in the order undici and browsers list it. */
const ASKED: readonly HttpContentCoding[] = ["gzip", "deflate", "br"];
/** The Accept-Encoding value for a platform's formats, made once per Compression. */
const acceptValues = new WeakMap<Compression, string>();

/** What a client asks for: `gzip, deflate, br`, less what the platform lacks. */
export function acceptEncoding(compression: Compression): string {
  let value = acceptValues.get(compression);
  if (value === undefined) {
    const formats = compression.formats;
    value = ASKED.filter((c) => formats.includes(c)).join(", ");
    acceptValues.set(compression, value);
  }
  return value;
}

/** The default most bytes a decoded response body may have: 1 GiB. */
export const DEFAULT_MAX_DECODED_SIZE: number = 1 << 30;

/**
 * One stage of a body's decoding; `"deflate"` waits for its first two bytes
 * to tell the zlib format (RFC 1950, what the coding means) from raw deflate
 * (what some servers send under its name, and browsers accept).
 */
interface Stage {
  readonly format: CompressionFormat;
  /** The stream, made when the first bytes come: an empty body decodes to nothing, with no stream to finish. */
  z: ZStream | null;
  /** A first byte held until the second tells deflate's format. */
  held: Uint8Array | null;
}

/**
 * Undoes a response's content codings as its body arrives, with a bound on
 * the decoded size. Made by {@linkcode BodyDecoder.for} for the codings it
 * knows (gzip, x-gzip, deflate, br where the platform has it); any other
 * coding leaves the body as it came.
 */
export class BodyDecoder {
  readonly #compression: Compression;
  readonly #stages: Stage[];
  readonly #limit: number;
  #decoded = 0;

  private constructor(compression: Compression, formats: CompressionFormat[], limit: number) {
    this.#compression = compression;
    this.#limit = limit;
    this.#stages = formats.map((format) => ({ format, z: null, held: null }));
  }

  /**
   * The decoder for a response's Content-Encoding values, or null when
   * there is nothing to undo, or a coding this platform cannot.
   */
  static for(compression: Compression, values: readonly string[], limit: number): BodyDecoder | null {
    const formats: CompressionFormat[] = [];
    const available = compression.formats;
    for (const value of values) {
      for (const part of value.split(",")) {
        let coding = part.trim().toLowerCase();
        if (coding === "" || coding === "identity") continue;
        if (coding === "x-gzip") coding = "gzip";
        if ((coding !== "gzip" && coding !== "deflate" && coding !== "br") || !available.includes(coding)) return null;
        formats.push(coding);
      }
    }
    if (formats.length === 0) return null;
    // Codings are listed in the order applied: undo the last first.
    return new BodyDecoder(compression, formats.reverse(), limit);
  }

  /** Decoded bytes so far. */
  get decoded(): number {
    return this.#decoded;
  }

  /**
   * Decode `input`'s bytes (drained) into `out`; `final` says the body
   * ended, and releases the streams.
   *
   * @throws {HttpError} `ERR_CONTENT_ENCODING` for a corrupt or truncated
   *   coded body, `ERR_BODY_TOO_LARGE` past the decoded size bound.
   */
  decode(input: EvBuffer, final: boolean, out: EvBuffer): void {
    const n = input.length;
    let pieces: Uint8Array[] = n === 0 ? [] : input.peek();
    try {
      for (const stage of this.#stages) pieces = this.#run(stage, pieces, final);
    } catch (err) {
      this.close();
      throw err;
    } finally {
      input.drain(n);
    }
    for (const p of pieces) {
      this.#decoded += p.length;
      out.add(p);
    }
    if (final) this.close();
  }

  /** Feed one stage its input; returns its output, each piece within the bound that is left. */
  #run(stage: Stage, input: Uint8Array[], final: boolean): Uint8Array[] {
    const pieces = input.filter((p) => p.length > 0);
    const outs: Uint8Array[] = [];
    let produced = 0;
    const give = (z: ZStream, bytes: Uint8Array, flush: "none" | "sync" | "finish"): void => {
      const out = this.#process(stage, z, bytes, flush, this.#limit - this.#decoded - produced);
      if (out.length === 0) return;
      produced += out.length;
      outs.push(out);
    };
    for (let i = 0; i < pieces.length; i++) {
      let piece = pieces[i];
      if (stage.z === null) {
        if (stage.held !== null) {
          const both = new Uint8Array(stage.held.length + piece.length);
          both.set(stage.held);
          both.set(piece, stage.held.length);
          piece = both;
          stage.held = null;
        }
        if (stage.format === "deflate" && piece.length < 2) {
          stage.held = piece.slice();
          continue;
        }
        stage.z = this.#open(stage.format, piece);
      }
      give(stage.z, piece, i < pieces.length - 1 ? "none" : final ? "finish" : "sync");
    }
    if (final) {
      // A deflate body of one byte: no stream is that short.
      if (stage.held !== null) throw this.#corrupt(stage, "it ends after one byte");
      if (stage.z !== null && pieces.length === 0) give(stage.z, EMPTY, "finish");
    }
    return outs;
  }

  #open(format: CompressionFormat, first: Uint8Array): ZStream {
    if (format !== "deflate") return this.#compression.createDecoder(format);
    // RFC 1950: CM 8 in the low nibble, and the two bytes a multiple of 31.
    const zlibWrapped = (first[0] & 0x0f) === 8 && ((first[0] << 8) | first[1]) % 31 === 0;
    return this.#compression.createDecoder(zlibWrapped ? "deflate" : "deflate-raw");
  }

  #process(stage: Stage, z: ZStream, bytes: Uint8Array, flush: "none" | "sync" | "finish", room: number): Uint8Array {
    try {
      return z.process(bytes, flush, room);
    } catch (err) {
      if ((err as { code?: unknown }).code === "EMSGSIZE") {
        throw new HttpError(
          "ERR_BODY_TOO_LARGE",
          `the response body decodes to more than ${this.#limit} bytes`,
          502,
          { cause: err },
        );
      }
      throw this.#corrupt(stage, err instanceof Error ? err.message : String(err), err);
    }
  }

  #corrupt(stage: Stage, why: string, cause?: unknown): HttpError {
    return new HttpError(
      "ERR_CONTENT_ENCODING",
      `the response body is not valid ${stage.format}: ${why}`,
      502,
      cause === undefined ? undefined : { cause },
    );
  }

  /** Release the decoding streams (the body ended, failed, or is no longer wanted). */
  close(): void {
    for (const stage of this.#stages) {
      stage.z?.close();
      stage.z = null;
      stage.held = null;
    }
  }
}
