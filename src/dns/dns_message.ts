/**
 * The DNS message codec (RFC 1035 §4, with EDNS0 from RFC 6891 and AAAA
 * from RFC 3596): a message is decoded into plain objects and encoded back
 * with name compression.
 *
 * Decoding is strict about bounds and never reads past the end or loops: a
 * compression pointer must point before the name that uses it, a name may
 * not pass 255 bytes nor a label 63, section counts must fit in the bytes
 * there are, and each record's data must fill exactly the length it
 * declares. What breaks a rule is a {@linkcode DnsError} with code
 * `ERR_DNS_MALFORMED`, and nothing else is ever thrown.
 *
 * @module
 */
import { DnsError } from "./dns_error.ts";
import { labelText, lowerAscii, MAX_NAME_BYTES, nameLabels } from "./dns_name.ts";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "./ip_address.ts";

/** Record type A: an IPv4 address (RFC 1035). */
export const DNS_TYPE_A = 1;
/** Record type NS: a nameserver's name. */
export const DNS_TYPE_NS = 2;
/** Record type CNAME: the canonical name this one is an alias of. */
export const DNS_TYPE_CNAME = 5;
/** Record type SOA: a zone's start of authority. */
export const DNS_TYPE_SOA = 6;
/** Record type PTR: a name an address (or any name) points to. */
export const DNS_TYPE_PTR = 12;
/** Record type MX: a mail exchanger and its preference. */
export const DNS_TYPE_MX = 15;
/** Record type TXT: text strings. */
export const DNS_TYPE_TXT = 16;
/** Record type AAAA: an IPv6 address (RFC 3596). */
export const DNS_TYPE_AAAA = 28;
/** Record type SRV: a service's target host and port (RFC 2782). */
export const DNS_TYPE_SRV = 33;
/** Record type OPT: EDNS0 (RFC 6891); decoded into {@linkcode DnsMessage.edns}, never a record. */
export const DNS_TYPE_OPT = 41;
/** Query type ANY (`*`). */
export const DNS_TYPE_ANY = 255;
/** Class IN, the Internet. */
export const DNS_CLASS_IN = 1;

/** Header flag QR: the message is a response. */
export const DNS_FLAG_QR = 0x8000;
/** Header flag AA: the answer is authoritative (libevent's `EVDNS_FLAGS_AA`). */
export const DNS_FLAG_AA = 0x0400;
/** Header flag TC: the message was truncated. */
export const DNS_FLAG_TC = 0x0200;
/** Header flag RD: recursion desired (libevent's `EVDNS_FLAGS_RD`). */
export const DNS_FLAG_RD = 0x0100;
/** Header flag RA: recursion available. */
export const DNS_FLAG_RA = 0x0080;
/** Header flag AD: authentic data (RFC 4035). */
export const DNS_FLAG_AD = 0x0020;
/** Header flag CD: checking disabled (RFC 4035). */
export const DNS_FLAG_CD = 0x0010;
/** The opcode of a standard query (the header's bits 11-14). */
export const DNS_OPCODE_QUERY = 0;
/** Extended rcode BADVERS (RFC 6891 §6.1.3): the EDNS version is not supported. */
export const DNS_RCODE_BADVERS = 16;

/** An MX record's data. */
export interface DnsMx {
  /** Lower is preferred. */
  readonly preference: number;
  /** The mail exchanger's name. */
  readonly exchange: string;
}

/** An SRV record's data (RFC 2782). */
export interface DnsSrv {
  /** Lower is tried first. */
  readonly priority: number;
  /** Among equal priorities, the share of the load. */
  readonly weight: number;
  /** The service's port. */
  readonly port: number;
  /** The host that offers it. */
  readonly target: string;
}

/** An SOA record's data. */
export interface DnsSoa {
  /** The zone's primary nameserver. */
  readonly mname: string;
  /** The zone administrator's mailbox, as a name. */
  readonly rname: string;
  /** The zone's serial number. */
  readonly serial: number;
  /** Seconds between secondary refreshes. */
  readonly refresh: number;
  /** Seconds before a failed refresh is retried. */
  readonly retry: number;
  /** Seconds after which a secondary stops answering. */
  readonly expire: number;
  /** The TTL of negative answers, in seconds (RFC 2308 §4). */
  readonly minimum: number;
}

/**
 * A record's data, by type: A and AAAA an address text; NS, CNAME and PTR a
 * name; MX a {@linkcode DnsMx}; TXT its strings (UTF-8); SRV a
 * {@linkcode DnsSrv}; SOA a {@linkcode DnsSoa}; any other type the raw
 * bytes.
 */
export type DnsRecordData = string | readonly string[] | DnsMx | DnsSrv | DnsSoa | Uint8Array;

/** A question: what is asked. */
export interface DnsQuestion {
  /** The name, without its final dot. */
  readonly name: string;
  /** The query type (`DNS_TYPE_A`...). */
  readonly type: number;
  /** The class, usually {@linkcode DNS_CLASS_IN}. */
  readonly class: number;
}

/** A resource record. */
export interface DnsRecord {
  /** The owner name, without its final dot. */
  readonly name: string;
  /** The type (`DNS_TYPE_A`...). */
  readonly type: number;
  /** The class, usually {@linkcode DNS_CLASS_IN}. */
  readonly class: number;
  /** Seconds it may be cached (0 to 2^31-1; RFC 2181 §8 reads larger values as 0). */
  readonly ttl: number;
  /** The data, shaped by type (see {@linkcode DnsRecordData}). */
  readonly data: DnsRecordData;
}

/** One EDNS option (RFC 6891 §6.1.2). */
export interface DnsEdnsOption {
  /** The option code. */
  readonly code: number;
  /** Its bytes. */
  readonly data: Uint8Array;
}

/** A message's EDNS0 pseudo-record (OPT), RFC 6891. */
export interface DnsEdns {
  /** The largest UDP payload the sender can take. */
  readonly udpSize: number;
  /** The EDNS version (0). */
  readonly version: number;
  /** The DO bit: the sender wants DNSSEC records. */
  readonly dnssecOk: boolean;
  /** The options. */
  readonly options: readonly DnsEdnsOption[];
}

/** A DNS message, query or response. */
export interface DnsMessage {
  /** The 16-bit ID that pairs a response with its query. */
  readonly id: number;
  /**
   * The header's flags and opcode: `DNS_FLAG_QR`, `DNS_FLAG_AA`... and the
   * opcode in bits 11-14; the rcode's four bits are in `rcode`, not here.
   */
  readonly flags: number;
  /** The response code, with EDNS's upper bits (0-4095): 0 NOERROR, 3 NXDOMAIN... */
  readonly rcode: number;
  /** The question section. */
  readonly questions: readonly DnsQuestion[];
  /** The answer section. */
  readonly answers: readonly DnsRecord[];
  /** The authority section. */
  readonly authorities: readonly DnsRecord[];
  /** The additional section, without the OPT record. */
  readonly additionals: readonly DnsRecord[];
  /** The OPT record's contents, or null when the message has none. */
  readonly edns: DnsEdns | null;
}

/** Options of {@linkcode encodeDnsMessage}. */
export interface DnsEncodeOptions {
  /**
   * The most bytes the message may take, at least 512: records that do
   * not fit are left out, and when one of the answer or authority section
   * is, the TC flag is set (RFC 2181 §9); the OPT record always stays.
   * Default 65535, the most TCP can carry.
   */
  readonly maxSize?: number;
}

/** The size of a message header. */
export const DNS_HEADER_BYTES = 12;
/** How many compression pointers a name may follow: far more than any real name, so a hostile chain stops early. */
const MAX_POINTERS = 64;

const utf8 = new TextDecoder("utf-8", { fatal: false });
const utf8Encoder = new TextEncoder();

function malformed(reason: string): never {
  throw new DnsError("ERR_DNS_MALFORMED", `malformed DNS message: ${reason}`);
}

/** A cursor over a message's bytes; each read checks its bounds first. */
class Reader {
  readonly bytes: Uint8Array;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  need(n: number, end: number, what: string): void {
    if (this.pos + n > end) malformed(`${what} runs past the end`);
  }

  u16(): number {
    const b = this.bytes;
    const v = (b[this.pos] << 8) | b[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u32(): number {
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) >>> 0) + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  /**
   * A name at the cursor, following compression pointers, and moves the
   * cursor past it (past the first pointer when there is one). `end`
   * bounds the bytes the name itself may take before a pointer.
   */
  name(end: number): string {
    const b = this.bytes;
    const total = b.length;
    let pos = this.pos;
    let after = -1;
    // Pointers must lead strictly backwards, before where the current run of labels began.
    let floor = pos;
    let wire = 1;
    let pointers = 0;
    let text = "";
    for (;;) {
      if (pos >= (after < 0 ? end : total)) malformed("a name runs past the end");
      const len = b[pos];
      if (len === 0) {
        pos++;
        break;
      }
      const kind = len & 0xc0;
      if (kind === 0xc0) {
        if (pos + 1 >= total || (after < 0 && pos + 1 >= end)) malformed("a compression pointer runs past the end");
        const target = ((len & 0x3f) << 8) | b[pos + 1];
        if (after < 0) after = pos + 2;
        if (target >= floor) malformed("a compression pointer does not point backwards");
        if (++pointers > MAX_POINTERS) malformed("a name follows too many compression pointers");
        pos = floor = target;
        continue;
      }
      if (kind !== 0) malformed(`label type 0x${kind.toString(16)} is not supported`);
      const limit = after < 0 ? end : total;
      if (pos + 1 + len > limit) malformed("a label runs past the end");
      wire += 1 + len;
      if (wire > MAX_NAME_BYTES) malformed(`a name is longer than ${MAX_NAME_BYTES} bytes`);
      if (text !== "") text += ".";
      text += labelText(b, pos + 1, len);
      pos += 1 + len;
    }
    this.pos = after < 0 ? pos : after;
    return text;
  }
}

function readQuestion(r: Reader, end: number): DnsQuestion {
  const name = r.name(end);
  r.need(4, end, "a question");
  const type = r.u16();
  return { name, type, class: r.u16() };
}

function readCharacterStrings(r: Reader, end: number): string[] {
  const out: string[] = [];
  const b = r.bytes;
  while (r.pos < end) {
    const len = b[r.pos];
    if (r.pos + 1 + len > end) malformed("a TXT string runs past its record");
    out.push(utf8.decode(b.subarray(r.pos + 1, r.pos + 1 + len)));
    r.pos += 1 + len;
  }
  return out;
}

function readData(r: Reader, type: number, end: number): DnsRecordData {
  const b = r.bytes;
  const len = end - r.pos;
  switch (type) {
    case DNS_TYPE_A:
      if (len !== 4) malformed(`an A record holds ${len} bytes, not 4`);
      r.pos = end;
      return formatIpv4(b, end - 4);
    case DNS_TYPE_AAAA:
      if (len !== 16) malformed(`an AAAA record holds ${len} bytes, not 16`);
      r.pos = end;
      return formatIpv6(b, end - 16);
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
      return r.name(end);
    case DNS_TYPE_MX: {
      r.need(2, end, "an MX record");
      const preference = r.u16();
      return { preference, exchange: r.name(end) };
    }
    case DNS_TYPE_TXT:
      return readCharacterStrings(r, end);
    case DNS_TYPE_SRV: {
      r.need(6, end, "an SRV record");
      const priority = r.u16();
      const weight = r.u16();
      const port = r.u16();
      return { priority, weight, port, target: r.name(end) };
    }
    case DNS_TYPE_SOA: {
      const mname = r.name(end);
      const rname = r.name(end);
      r.need(20, end, "an SOA record");
      return {
        mname,
        rname,
        serial: r.u32(),
        refresh: r.u32(),
        retry: r.u32(),
        expire: r.u32(),
        minimum: r.u32(),
      };
    }
    default:
      r.pos = end;
      return b.slice(end - len, end);
  }
}

function readEdns(r: Reader, name: string, udpSize: number, ttl: number, end: number): DnsEdns {
  if (name !== "") malformed("an OPT record is not owned by the root");
  const options: DnsEdnsOption[] = [];
  while (r.pos < end) {
    r.need(4, end, "an EDNS option");
    const code = r.u16();
    const len = r.u16();
    r.need(len, end, "an EDNS option");
    options.push({ code, data: r.bytes.slice(r.pos, r.pos + len) });
    r.pos += len;
  }
  return { udpSize, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, options };
}

/**
 * Decode a DNS message (RFC 1035 §4.1).
 *
 * @throws {DnsError} `ERR_DNS_MALFORMED` when the bytes are not a message:
 *   shorter than a header, counts promising more than the bytes hold, a
 *   compression loop or a pointer past the end, a label over 63 bytes or a
 *   name over 255, a record whose data does not fill its length exactly,
 *   an OPT record not owned by the root, outside the additional section or
 *   given twice. Bytes after the last record are ignored.
 *
 * @example
 * ```ts
 * import { decodeDnsMessage, DNS_CLASS_IN, DNS_TYPE_A, encodeDnsMessage } from "@levent/levent/dns";
 * const bytes = encodeDnsMessage({
 *   id: 7, flags: 0, rcode: 0, edns: null,
 *   questions: [{ name: "example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }],
 *   answers: [], authorities: [], additionals: [],
 * });
 * console.log(decodeDnsMessage(bytes).questions[0].name); // example.test
 * ```
 */
export function decodeDnsMessage(bytes: Uint8Array): DnsMessage {
  const total = bytes.length;
  if (total < DNS_HEADER_BYTES) malformed(`${total} bytes is shorter than a header`);
  const r = new Reader(bytes);
  const id = r.u16();
  const rawFlags = r.u16();
  const qd = r.u16();
  const an = r.u16();
  const ns = r.u16();
  const ar = r.u16();
  // A question takes at least 5 bytes and a record 11: counts that need more cannot be true.
  if (qd * 5 + (an + ns + ar) * 11 > total - DNS_HEADER_BYTES) {
    malformed(`the counts (${qd} questions, ${an + ns + ar} records) promise more than ${total} bytes hold`);
  }
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) questions.push(readQuestion(r, total));
  const sections: DnsRecord[][] = [[], [], []];
  let edns: DnsEdns | null = null;
  let extended = 0;
  for (let s = 0; s < 3; s++) {
    const count = s === 0 ? an : s === 1 ? ns : ar;
    const out = sections[s];
    for (let i = 0; i < count; i++) {
      const name = r.name(total);
      r.need(10, total, "a record");
      const type = r.u16();
      const klass = r.u16();
      const rawTtl = r.u32();
      const rdlength = r.u16();
      r.need(rdlength, total, "a record's data");
      const end = r.pos + rdlength;
      if (type === DNS_TYPE_OPT) {
        if (s !== 2) malformed("an OPT record outside the additional section");
        if (edns !== null) malformed("more than one OPT record");
        edns = readEdns(r, name, klass, rawTtl, end);
        extended = rawTtl >>> 24;
        continue;
      }
      const data = readData(r, type, end);
      if (r.pos !== end) malformed(`a type ${type} record's data does not fill its ${rdlength} bytes`);
      out.push({ name, type, class: klass, ttl: rawTtl > 0x7fffffff ? 0 : rawTtl, data });
    }
  }
  return {
    id,
    flags: rawFlags & 0xfff0,
    rcode: (extended << 4) | (rawFlags & 0x000f),
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
    edns,
  };
}

/** A growing output buffer with the compression table of the names written so far. */
class Writer {
  buf: Uint8Array = new Uint8Array(512);
  pos = 0;
  /** Name suffixes written so far (length-prefixed, ASCII-lowercased labels) and where. */
  readonly names: Map<string, number> = new Map();
  /** Whole names as given, and where: a reply's records mostly repeat the question's name as it is. */
  readonly exact: Map<string, number> = new Map();

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.room(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    this.room(4);
    this.buf[this.pos++] = v >>> 24;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Write a name, pointing to an earlier copy of its longest suffix when `compress` allows. */
  name(name: string, compress: boolean, what: string): void {
    if (compress) {
      const at = this.exact.get(name);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
    }
    const start = this.pos;
    const labels = nameLabels(name);
    if (typeof labels === "string") {
      throw new TypeError(`${what} must be a domain name (${labels}), got ${JSON.stringify(name)}`);
    }
    const keys: string[] = new Array(labels.length);
    let key = "";
    for (let i = labels.length - 1; i >= 0; i--) {
      key = String.fromCharCode(labels[i].length) + lowerAscii(labels[i]) + key;
      keys[i] = key;
    }
    for (let i = 0; i < labels.length; i++) {
      if (compress) {
        const at = this.names.get(keys[i]);
        if (at !== undefined) {
          if (i === 0) this.exact.set(name, at);
          else if (start < 0x4000) this.exact.set(name, start);
          this.u16(0xc000 | at);
          return;
        }
      }
      // Pointers hold 14 bits: later names can point only into the first 16 KiB.
      if (this.pos < 0x4000) this.names.set(keys[i], this.pos);
      const label = labels[i];
      this.room(1 + label.length);
      this.buf[this.pos++] = label.length;
      for (let j = 0; j < label.length; j++) this.buf[this.pos++] = label.charCodeAt(j);
    }
    if (labels.length > 0 && start < 0x4000) this.exact.set(name, start);
    this.u8(0);
  }
}

function checkU16(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  throw new TypeError(`${what} must be an integer in 0..65535, got ${String(v)}`);
}

function checkU32(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  throw new TypeError(`${what} must be an integer in 0..4294967295, got ${String(v)}`);
}

function dataOf<T>(data: DnsRecordData, check: (d: unknown) => boolean, what: string, shape: string): T {
  if (!check(data)) throw new TypeError(`${what} must be ${shape}`);
  return data as T;
}

const isObject = (d: unknown): boolean => d !== null && typeof d === "object" && !(d instanceof Uint8Array);

function writeData(w: Writer, rec: DnsRecord, what: string): void {
  const data = rec.data;
  switch (rec.type) {
    case DNS_TYPE_A: {
      const bytes = typeof data === "string" ? parseIpv4(data) : null;
      if (bytes === null) throw new TypeError(`${what}: an A record's data must be an IPv4 address`);
      w.bytes(bytes);
      return;
    }
    case DNS_TYPE_AAAA: {
      const bytes = typeof data === "string" ? parseIpv6(data) : null;
      if (bytes === null) throw new TypeError(`${what}: an AAAA record's data must be an IPv6 address`);
      w.bytes(bytes);
      return;
    }
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
      w.name(dataOf<string>(data, (d) => typeof d === "string", what, "a name"), true, `${what}'s data`);
      return;
    case DNS_TYPE_MX: {
      const mx = dataOf<DnsMx>(data, isObject, what, "an MX record's { preference, exchange }");
      w.u16(checkU16(mx.preference, `${what}: preference`));
      w.name(mx.exchange, true, `${what}: exchange`);
      return;
    }
    case DNS_TYPE_TXT: {
      const strings = dataOf<readonly string[]>(data, Array.isArray, what, "a TXT record's array of strings");
      for (const s of strings) {
        if (typeof s !== "string") throw new TypeError(`${what}: TXT strings must be strings`);
        const bytes = utf8Encoder.encode(s);
        if (bytes.length > 255) throw new TypeError(`${what}: a TXT string is longer than 255 bytes`);
        w.u8(bytes.length);
        w.bytes(bytes);
      }
      return;
    }
    case DNS_TYPE_SRV: {
      const srv = dataOf<DnsSrv>(data, isObject, what, "an SRV record's { priority, weight, port, target }");
      w.u16(checkU16(srv.priority, `${what}: priority`));
      w.u16(checkU16(srv.weight, `${what}: weight`));
      w.u16(checkU16(srv.port, `${what}: port`));
      // RFC 2782: the target is not compressed.
      w.name(srv.target, false, `${what}: target`);
      return;
    }
    case DNS_TYPE_SOA: {
      const soa = dataOf<DnsSoa>(data, isObject, what, "an SOA record's fields");
      w.name(soa.mname, true, `${what}: mname`);
      w.name(soa.rname, true, `${what}: rname`);
      w.u32(checkU32(soa.serial, `${what}: serial`));
      w.u32(checkU32(soa.refresh, `${what}: refresh`));
      w.u32(checkU32(soa.retry, `${what}: retry`));
      w.u32(checkU32(soa.expire, `${what}: expire`));
      w.u32(checkU32(soa.minimum, `${what}: minimum`));
      return;
    }
    case DNS_TYPE_OPT:
      throw new TypeError(`${what}: OPT is written from the message's edns, not as a record`);
    default:
      if (!(data instanceof Uint8Array)) throw new TypeError(`${what}: a type ${rec.type} record's data must be bytes`);
      w.bytes(data);
  }
}

function writeRecord(w: Writer, rec: DnsRecord, what: string): void {
  w.name(rec.name, true, `${what}'s name`);
  w.u16(checkU16(rec.type, `${what}'s type`));
  w.u16(checkU16(rec.class, `${what}'s class`));
  w.u32(checkU32(rec.ttl, `${what}'s ttl`));
  const lengthAt = w.pos;
  w.u16(0);
  writeData(w, rec, what);
  const len = w.pos - lengthAt - 2;
  if (len > 0xffff) throw new TypeError(`${what}'s data is longer than 65535 bytes`);
  w.buf[lengthAt] = len >>> 8;
  w.buf[lengthAt + 1] = len & 0xff;
}

function ednsSize(edns: DnsEdns): number {
  let n = 11;
  for (const o of edns.options) n += 4 + o.data.length;
  return n;
}

function writeEdns(w: Writer, edns: DnsEdns, rcode: number): void {
  w.u8(0);
  w.u16(DNS_TYPE_OPT);
  w.u16(checkU16(edns.udpSize, "edns.udpSize"));
  const version = edns.version;
  if (!Number.isInteger(version) || version < 0 || version > 255) {
    throw new TypeError(`edns.version must be an integer in 0..255, got ${String(version)}`);
  }
  w.u32((((rcode >>> 4) << 24) | (version << 16) | (edns.dnssecOk ? 0x8000 : 0)) >>> 0);
  let len = 0;
  for (const o of edns.options) len += 4 + o.data.length;
  w.u16(checkU16(len, "the EDNS options' length"));
  for (const o of edns.options) {
    w.u16(checkU16(o.code, "an EDNS option's code"));
    w.u16(o.data.length);
    w.bytes(o.data);
  }
}

/**
 * Encode a DNS message, compressing names (RFC 1035 §4.1.4; not an SRV
 * target, RFC 2782). With `options.maxSize` it truncates: records that do
 * not fit are left out, the TC flag is set when an answer or authority
 * record was, and the OPT record is kept. The rcode's upper bits go in the
 * OPT record, so an rcode over 15 needs `edns`.
 *
 * @throws {TypeError} for a name that is not one (an empty label, a label
 *   over 63 bytes, over 255 in all, a character outside printable ASCII not
 *   escaped), data that does not suit its record's type, a number out of
 *   its field's range, or an rcode over 15 without `edns`.
 * @throws {RangeError} for a maxSize below 512 or above 65535.
 *
 * @example
 * ```ts
 * import { DNS_CLASS_IN, DNS_FLAG_QR, DNS_TYPE_A, encodeDnsMessage } from "@levent/levent/dns";
 * const reply = encodeDnsMessage({
 *   id: 7, flags: DNS_FLAG_QR, rcode: 0, edns: null,
 *   questions: [{ name: "example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }],
 *   answers: [{ name: "example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 60, data: "192.0.2.1" }],
 *   authorities: [], additionals: [],
 * });
 * console.log(reply.length); // 46: the answer's name is a 2-byte pointer to the question's
 * ```
 */
export function encodeDnsMessage(message: DnsMessage, options: DnsEncodeOptions = {}): Uint8Array {
  const maxSize = options.maxSize ?? 65535;
  if (!Number.isInteger(maxSize) || maxSize < 512 || maxSize > 65535) {
    throw new RangeError(`options.maxSize must be an integer in 512..65535, got ${String(maxSize)}`);
  }
  const rcode = message.rcode;
  if (!Number.isInteger(rcode) || rcode < 0 || rcode > 4095) {
    throw new TypeError(`rcode must be an integer in 0..4095, got ${String(rcode)}`);
  }
  if (rcode > 15 && message.edns === null) throw new TypeError(`rcode ${rcode} needs an OPT record (edns)`);
  const w = new Writer();
  w.u16(checkU16(message.id, "id"));
  let flags = (checkU16(message.flags, "flags") & 0xfff0) | (rcode & 0x0f);
  w.u16(flags);
  w.pos = DNS_HEADER_BYTES;
  w.room(0);
  for (let i = 0; i < message.questions.length; i++) {
    const q = message.questions[i];
    w.name(q.name, true, `questions[${i}].name`);
    w.u16(checkU16(q.type, `questions[${i}].type`));
    w.u16(checkU16(q.class, `questions[${i}].class`));
  }
  const limit = maxSize - (message.edns === null ? 0 : ednsSize(message.edns));
  if (w.pos > limit) throw new RangeError(`the questions alone take more than options.maxSize (${maxSize}) bytes`);
  const counts = [message.questions.length, 0, 0, 0];
  const sections: [readonly DnsRecord[], string][] = [
    [message.answers, "answers"],
    [message.authorities, "authorities"],
    [message.additionals, "additionals"],
  ];
  let full = false;
  for (let s = 0; s < 3 && !full; s++) {
    const [records, label] = sections[s];
    for (let i = 0; i < records.length; i++) {
      const before = w.pos;
      writeRecord(w, records[i], `${label}[${i}]`);
      if (w.pos > limit) {
        w.pos = before;
        if (s < 2) flags |= DNS_FLAG_TC;
        full = true;
        break;
      }
      counts[s + 1]++;
    }
  }
  if (message.edns !== null) {
    writeEdns(w, message.edns, rcode);
    counts[3]++;
  }
  const out = w.buf;
  out[2] = flags >>> 8;
  out[3] = flags & 0xff;
  for (let i = 0; i < 4; i++) {
    out[4 + 2 * i] = counts[i] >>> 8;
    out[5 + 2 * i] = counts[i] & 0xff;
  }
  return out.slice(0, w.pos);
}
