/**
 * DnsBase: libevent's asynchronous resolver (evdns.h's `evdns_base`) over
 * the platform's UDP and TCP.
 *
 * A request ({@linkcode DnsBase.resolveIpv4} and the others) first looks
 * at the hosts file, then expands the name through the search list, and
 * for each name tried asks the cache, then the nameservers: one query
 * (one name, one type) at a time, each a transaction with its own timer.
 * A query goes to a nameserver over UDP from one of a few sockets bound to
 * fresh random ports, with a random ID and its name's letters in random
 * case (0x20); an answer is taken only from that nameserver's address, for
 * that ID, with the question echoed byte for byte. A truncated answer is
 * asked again over TCP. A nameserver that keeps timing out is marked down
 * and probed, with a growing delay, until it answers again.
 *
 * @module
 */
import {
  checkCallback,
  checkEventBase,
  checkFunction,
  checkObject,
  checkString,
  rangeError,
  typeError,
} from "../check.ts";
import { freedError } from "../errors.ts";
import { adopt, baseFreed, disown, Event, type EventBase } from "../event/event_base.ts";
import { EV_PERSIST, EV_TIMEOUT } from "../event/flags.ts";
import type { HostResolver } from "../http/http_connection.ts";
import type { LookupAddress, NetAddress, Platform, UdpSocket } from "../platform.ts";
import { DnsCache } from "./dns_cache.ts";
import {
  DNS_ERR_CANCEL,
  DNS_ERR_FORMAT,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_NOTIMPL,
  DNS_ERR_REFUSED,
  DNS_ERR_SERVERFAILED,
  DNS_ERR_SHUTDOWN,
  DNS_ERR_TIMEOUT,
  DNS_ERR_TRUNCATED,
  DNS_ERR_UNKNOWN,
  DnsError,
} from "./dns_error.ts";
import {
  decodeDnsMessage,
  DNS_CLASS_IN,
  DNS_FLAG_RD,
  DNS_FLAG_TC,
  DNS_HEADER_BYTES,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_OPT,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  DNS_TYPE_SRV,
  type DnsMessage,
  type DnsMx,
  type DnsRecord,
  type DnsSoa,
  type DnsSrv,
} from "./dns_message.ts";
import { countDots, hasFinalDot, labelsWire, nameKey, nameLabels, nameWire, sameName } from "./dns_name.ts";
import {
  DNS_IPv4_A,
  DNS_IPv6_AAAA,
  DNS_PTR,
  DNS_QUERY_IGNTC,
  DNS_QUERY_NO_SEARCH,
  DNS_QUERY_USEVC,
  type DnsAddrInfo,
  type DnsAddrInfoCallback,
  type DnsAddrInfoHints,
  type DnsAnswer,
  type DnsCallback,
  type DnsQueryOptions,
  type DnsRequest,
  newDnsRequest,
} from "./dns_request.ts";
import { DnsTcpChannel } from "./dns_tcp.ts";
import { HostsFile } from "./hosts_file.ts";
import { ipFamily, normalizeIp, reverseName } from "./ip_address.ts";
import { formatNameserver, type NameserverAddress, parseNameserver } from "./nameserver_address.ts";
import { RandomPool } from "./random_pool.ts";
import { parseResolvConf, type ResolvConf } from "./resolv_conf.ts";

/** resolv.conf's search list (`DNS_OPTION_SEARCH`). */
export const DNS_OPTION_SEARCH = 1;
/** resolv.conf's nameservers, and 127.0.0.1 when it has none (`DNS_OPTION_NAMESERVERS`). */
export const DNS_OPTION_NAMESERVERS = 2;
/** resolv.conf's options: ndots, timeout, attempts, rotate (`DNS_OPTION_MISC`). */
export const DNS_OPTION_MISC = 4;
/** Load the hosts file too (`DNS_OPTION_HOSTSFILE`). */
export const DNS_OPTION_HOSTSFILE = 8;
/** All of the above (`DNS_OPTIONS_ALL`). */
export const DNS_OPTIONS_ALL = 15;
/** With `DNS_OPTION_NAMESERVERS`: no 127.0.0.1 when resolv.conf names none (`DNS_OPTION_NAMESERVERS_NO_DEFAULT`). */
export const DNS_OPTION_NAMESERVERS_NO_DEFAULT = 16;

/**
 * The resolver's settings. Every field has libevent's default where
 * libevent has the setting ({@linkcode DEFAULT_DNS_SETTINGS}); each can be
 * given to the constructor and changed with {@linkcode DnsBase.setOption}.
 */
export interface DnsSettings {
  /** How long to wait for each answer, in ms (libevent `timeout`, 5 s). */
  readonly timeoutMs: number;
  /** How many times a query is sent before it fails with a timeout (libevent `attempts`, 3). */
  readonly attempts: number;
  /** A name with at least this many dots is tried as it is before the search list (`ndots`, 1). */
  readonly ndots: number;
  /** Timeouts in a row after which a nameserver is marked down (libevent `max-timeouts`, 3: the fourth marks it). */
  readonly maxTimeouts: number;
  /** Queries on the wire at once; more wait their turn (`max-inflight`, 64). */
  readonly maxInflight: number;
  /**
   * Spread queries over the healthy nameservers in turn (resolv.conf's
   * `options rotate`). Off, every query starts at the first healthy one
   * (the order resolv.conf gives), which libevent, always rotating,
   * cannot do (libevent #185, #1408).
   */
  readonly rotate: boolean;
  /** Send names in random letter case and require it back (`randomize-case`, on; 0x20). */
  readonly randomizeCase: boolean;
  /** The UDP payload size offered with EDNS0 (`edns-udp-size`); 0 sends no OPT record. Default 1232 (DNS flag day 2020). */
  readonly ednsUdpSize: number;
  /** Cache answers, positive for their TTL and NXDOMAIN/NODATA per RFC 2308 (levent's addition). */
  readonly cache: boolean;
  /** The most answers the cache keeps. */
  readonly maxCacheEntries: number;
  /** The first wait before probing a nameserver that went down, in ms (`initial-probe-timeout`, 10 s). */
  readonly initialProbeTimeoutMs: number;
  /** The longest wait between probes, in ms (`max-probe-timeout`, 3600 s). */
  readonly maxProbeTimeoutMs: number;
  /** Each failed probe multiplies the wait by this (`probe-backoff-factor`, 3). */
  readonly probeBackoffFactor: number;
  /** How long getAddrInfo waits for the other family's answer once one has come, in ms (`getaddrinfo-allow-skew`, 3 s). */
  readonly getaddrinfoAllowSkewMs: number;
  /**
   * UDP sockets per address family that queries go out from, each on its
   * own random port; at least one per 64 queries of `maxInflight`, so the
   * answers to a burst do not overflow a socket's receive buffer.
   */
  readonly udpSockets: number;
  /** Queries a UDP socket sends before it is replaced by one on a fresh port. */
  readonly queriesPerSocket: number;
  /** The local address to send from (`bind-to`); null for the wildcard of the nameserver's family. */
  readonly bindTo: string | null;
  /** Ask over TCP from the start (`use-vc`). */
  readonly useVc: boolean;
  /** Take truncated answers as they are (`ignore-tc`). */
  readonly ignoreTc: boolean;
}

/** The defaults of {@linkcode DnsSettings}: libevent's where it has the setting. */
export const DEFAULT_DNS_SETTINGS: DnsSettings = Object.freeze({
  timeoutMs: 5000,
  attempts: 3,
  ndots: 1,
  maxTimeouts: 3,
  maxInflight: 64,
  rotate: false,
  randomizeCase: true,
  ednsUdpSize: 1232,
  cache: true,
  maxCacheEntries: 10000,
  initialProbeTimeoutMs: 10000,
  maxProbeTimeoutMs: 3600000,
  probeBackoffFactor: 3,
  getaddrinfoAllowSkewMs: 3000,
  udpSockets: 4,
  queriesPerSocket: 512,
  bindTo: null,
  useVc: false,
  ignoreTc: false,
});

/** Options of the {@linkcode DnsBase} constructor: settings, and where nameservers and hosts come from. */
export interface DnsBaseOptions extends Partial<DnsSettings> {
  /** Nameservers: `IP`, `IP:PORT` or `[IPv6]:PORT` (libevent `evdns_base_nameserver_ip_add`). */
  readonly nameservers?: readonly string[];
  /** resolv.conf text to configure from, as {@linkcode DnsBase.applyResolvConf} with every option. */
  readonly resolvConf?: string;
  /** Hosts-file text, consulted before the nameservers. */
  readonly hosts?: string;
}

/** A logger: libevent's `evdns_debug_log_fn_type` (a warning, or a message about nameservers going down and up). */
export type DnsLogFn = (isWarning: boolean, message: string) => void;

/** What {@linkcode DnsBase.nameservers} says of one nameserver. */
export interface DnsNameserverInfo {
  /** `IP:PORT` or `[IPv6]:PORT`. */
  readonly address: string;
  /** False while it is marked down (and probed). */
  readonly up: boolean;
}

// ---------------------------------------------------------------------------
// Internal state

/** One nameserver and what the resolver knows of its health. */
class Nameserver {
  readonly address: NameserverAddress;
  readonly label: string;
  state: "up" | "down" = "up";
  /** Timeouts in a row. */
  timedOut = 0;
  /** Failed probes in a row (1 once it went down). */
  failedTimes = 0;
  /** Clock time (ms) the next probe is due, while down. */
  nextProbe = 0;
  probing = false;
  /** It answered FORMERR to EDNS: ask it without. */
  noEdns = false;
  tcp: DnsTcpChannel | null = null;
  /** Queries waiting on its TCP connection, by ID. */
  readonly tcpPending: Map<number, Transmission> = new Map();

  constructor(address: NameserverAddress) {
    this.address = address;
    this.label = formatNameserver(address);
  }
}

/** One send of a query: where it went and the question bytes the answer must echo. */
interface Transmission {
  readonly query: Query;
  readonly ns: Nameserver;
  /** The question section as sent (name in its random case, type, class). */
  readonly question: Uint8Array;
  readonly edns: boolean;
}

/** A UDP socket queries go out from: bound lazily, retired after its quota. */
class UdpChannel {
  readonly family: 4 | 6;
  state: "binding" | "ready" | "retiring" | "closed" = "binding";
  udp: UdpSocket | null = null;
  uses = 0;
  /** Transmissions awaiting an answer, by ID. */
  readonly pending: Map<number, Transmission> = new Map();

  constructor(family: 4 | 6) {
    this.family = family;
  }
}

/** How a query ended. */
interface QueryOutcome {
  readonly result: number;
  /** The records of the asked type, the CNAME chain followed. */
  readonly records: readonly DnsRecord[];
  /** Seconds the outcome may be kept (the negative TTL for NXDOMAIN/NODATA, 0 when unknown). */
  readonly ttl: number;
  readonly canonicalName: string;
}

type QueryState = "waiting" | "parked" | "inflight" | "done";

/** One DNS transaction: one name, one type, sent until answered or out of attempts. */
class Query {
  readonly name: string;
  readonly wire: Uint8Array;
  readonly type: number;
  readonly flags: number;
  /** The nameserver this query probes, bypassing the choice. */
  readonly probeOf: Nameserver | null;
  readonly onDone: (outcome: QueryOutcome) => void;
  state: QueryState = "waiting";
  txCount = 0;
  /** Where its transmissions start counting in the nameserver list. */
  start = -1;
  overTcp: boolean;
  /** It went to TCP because an answer was truncated. */
  truncated = false;
  timer: Event | null = null;
  /** Where its transmissions wait for answers: (map, ID) pairs. */
  readonly slots: Array<[Map<number, Transmission>, number]> = [];

  constructor(
    name: string,
    wire: Uint8Array,
    type: number,
    flags: number,
    probeOf: Nameserver | null,
    onDone: (outcome: QueryOutcome) => void,
  ) {
    this.name = name;
    this.wire = wire;
    this.type = type;
    this.flags = flags;
    this.probeOf = probeOf;
    this.onDone = onDone;
    this.overTcp = (flags & DNS_QUERY_USEVC) !== 0;
  }
}

/** A datagram waiting for the loop. */
interface Arrival {
  readonly channel: UdpChannel;
  readonly bytes: Uint8Array;
  readonly from: NetAddress;
}

const IPV4_WILDCARD = "0.0.0.0";
const IPV6_WILDCARD = "::";
/** The name a probe asks for: the root's nameservers, which any recursive resolver knows. */
const PROBE_NAME = "";

/** Ports of the services getAddrInfo knows by name (getaddrinfo reads /etc/services; these are the common ones). */
const SERVICES: ReadonlyMap<string, number> = new Map([
  ["ftp", 21],
  ["ssh", 22],
  ["telnet", 23],
  ["smtp", 25],
  ["domain", 53],
  ["http", 80],
  ["pop3", 110],
  ["ntp", 123],
  ["imap", 143],
  ["ldap", 389],
  ["https", 443],
  ["submission", 587],
  ["ldaps", 636],
  ["imaps", 993],
  ["pop3s", 995],
]);

function settingError(name: string, rule: string, value: unknown): never {
  throw typeof value === "number" ? rangeError(name, rule, value) : typeError(name, rule, value);
}

function checkSetting(name: keyof DnsSettings, value: unknown): unknown {
  const int = (min: number, max: number): number => {
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
    return settingError(`options.${name}`, `an integer in ${min}..${max}`, value);
  };
  switch (name) {
    case "timeoutMs":
    case "initialProbeTimeoutMs":
    case "maxProbeTimeoutMs":
      return int(1, 0x7fffffff);
    case "getaddrinfoAllowSkewMs":
      return int(0, 0x7fffffff);
    case "attempts":
      return int(1, 255);
    case "ndots":
      return int(0, 255);
    case "maxTimeouts":
      return int(1, 255);
    case "maxInflight":
      return int(1, 65535);
    case "ednsUdpSize":
      if (value === 0) return 0;
      return int(512, 65535);
    case "maxCacheEntries":
      return int(0, 0x7fffffff);
    case "probeBackoffFactor":
      if (typeof value === "number" && value >= 1 && value <= 1000) return value;
      return settingError(`options.${name}`, "a number in 1..1000", value);
    case "udpSockets":
      return int(1, 64);
    case "queriesPerSocket":
      return int(1, 0x7fffffff);
    case "bindTo":
      if (value === null || (typeof value === "string" && ipFamily(value) !== 0)) return value;
      return settingError(`options.${name}`, "an IP address or null", value);
    default:
      if (typeof value === "boolean") return value;
      return settingError(`options.${name}`, "a boolean", value);
  }
}

/** Read a whole file through the platform as UTF-8 text. */
async function readText(platform: Platform, path: string): Promise<string> {
  const file = await platform.fs.open(path);
  try {
    const info = await file.stat();
    return new TextDecoder().decode(await file.read(0, info.size));
  } finally {
    await file.close();
  }
}

/** A service as a port: a number, digits, or a name levent knows; null when it is none of them. */
function servicePort(service: string | number | null | undefined, numericOnly: boolean): number | null {
  if (service === null || service === undefined || service === "") return 0;
  if (typeof service === "number") {
    return Number.isInteger(service) && service >= 0 && service <= 65535 ? service : null;
  }
  if (/^\d{1,5}$/.test(service)) {
    const n = Number(service);
    return n <= 65535 ? n : null;
  }
  return numericOnly ? null : SERVICES.get(service.toLowerCase()) ?? null;
}

/** The records a chain of CNAMEs from `qname` leads to, of `type`, and the TTL and name it ends at. */
function followAnswers(msg: DnsMessage, qname: string, type: number): QueryOutcome {
  let target = qname;
  let ttl = Infinity;
  const records: DnsRecord[] = [];
  // Each hop must be new: a CNAME loop ends the walk.
  const seen = new Set<string>();
  for (let hops = 0; hops < 16; hops++) {
    const key = nameKey(target);
    if (seen.has(key)) break;
    seen.add(key);
    let next: string | null = null;
    for (const rec of msg.answers) {
      if (!sameName(rec.name, target)) continue;
      if (rec.type === type || (type === 255 && rec.type !== DNS_TYPE_CNAME)) {
        records.push(rec);
        ttl = Math.min(ttl, rec.ttl);
      } else if (rec.type === DNS_TYPE_CNAME && next === null && type !== DNS_TYPE_CNAME) {
        next = rec.data as string;
        ttl = Math.min(ttl, rec.ttl);
      }
    }
    if (records.length > 0 || next === null) break;
    target = next;
  }
  if (records.length > 0) return { result: DNS_ERR_NONE, records, ttl, canonicalName: target };
  return { result: DNS_ERR_NODATA, records, ttl: negativeTtl(msg), canonicalName: target };
}

/** RFC 2308 §5: a negative answer lives for the smaller of its SOA's TTL and MINIMUM; 0 without an SOA. */
function negativeTtl(msg: DnsMessage): number {
  for (const rec of msg.authorities) {
    if (rec.type === DNS_TYPE_SOA) return Math.min(rec.ttl, (rec.data as DnsSoa).minimum);
  }
  return 0;
}

/**
 * `name` with its longest ending that is a whole-label ending of `sent`
 * (the question in its 0x20 case, which compression copies into later
 * names) spelled as in `asked` instead. The two differ in letter case
 * only, so this changes no name, only how it is written.
 */
function respell(name: string, sent: string, asked: string): string {
  if (sent.length !== asked.length) return name;
  for (let i = 0; i < sent.length; i++) {
    if (i > 0 && (sent.charCodeAt(i - 1) !== 46 || sent.charCodeAt(i - 2) === 92)) continue;
    const suffix = sent.slice(i);
    if (name === suffix) return asked.slice(i);
    if (name.endsWith(suffix) && name.charCodeAt(name.length - suffix.length - 1) === 46) {
      return name.slice(0, name.length - suffix.length) + asked.slice(i);
    }
  }
  return name;
}

/** The names of a record's data respelled as {@linkcode respell} does. */
function respellData(rec: DnsRecord, sent: string, asked: string): DnsRecord["data"] {
  const d = rec.data;
  switch (rec.type) {
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
      return respell(d as string, sent, asked);
    case DNS_TYPE_MX: {
      const mx = d as DnsMx;
      return { preference: mx.preference, exchange: respell(mx.exchange, sent, asked) };
    }
    case DNS_TYPE_SRV: {
      const srv = d as DnsSrv;
      return { ...srv, target: respell(srv.target, sent, asked) };
    }
    case DNS_TYPE_SOA: {
      const soa = d as DnsSoa;
      return { ...soa, mname: respell(soa.mname, sent, asked), rname: respell(soa.rname, sent, asked) };
    }
    default:
      return d;
  }
}

/**
 * The answer with the question's random letter case (0x20) taken out of
 * its names again: a server's compression copies the question's spelling
 * into every name that ends in it, and callers should see the name as
 * they asked it.
 */
function restoreCase(msg: DnsMessage, sent: string, asked: string): DnsMessage {
  const fix = (recs: readonly DnsRecord[]): DnsRecord[] =>
    recs.map((r) => ({ ...r, name: respell(r.name, sent, asked), data: respellData(r, sent, asked) }));
  return {
    ...msg,
    questions: [{ ...msg.questions[0], name: asked }],
    answers: fix(msg.answers),
    authorities: fix(msg.authorities),
  };
}

/** Whether two byte ranges hold the same bytes. */
function sameBytes(a: Uint8Array, aStart: number, b: Uint8Array): boolean {
  if (aStart + b.length > a.length) return false;
  for (let i = 0; i < b.length; i++) if (a[aStart + i] !== b[i]) return false;
  return true;
}

/**
 * The asynchronous resolver: libevent's `struct evdns_base`. Requests come
 * in two forms each: libevent's, with a callback and a
 * {@linkcode DnsRequest} to cancel it with ({@linkcode DnsBase.resolveIpv4},
 * {@linkcode DnsBase.resolveIpv6}, {@linkcode DnsBase.resolveReverse},
 * {@linkcode DnsBase.resolve}, {@linkcode DnsBase.getAddrInfo}), and a
 * Promise form ({@linkcode DnsBase.queryIpv4} and the others,
 * {@linkcode DnsBase.lookup}). Callbacks run on the EventBase's loop, so
 * the loop must be running for answers to arrive; a pending request keeps
 * it running, an idle DnsBase does not (libevent's
 * `EVDNS_BASE_DISABLE_WHEN_INACTIVE`). {@linkcode DnsBase.free} closes its
 * sockets.
 *
 * What it does that libevent's does not: a cache (TTLs, and NXDOMAIN and
 * NODATA per RFC 2308), the hosts file for resolveIpv4/resolveIpv6/
 * resolveReverse and not only getAddrInfo (libevent #1765), an ordered mode
 * besides rotation, requests that fail with `DNS_ERR_TIMEOUT` rather than
 * wait forever when every nameserver is down or none is configured
 * (libevent #106), `options rotate` read from resolv.conf, and EDNS0 with a
 * fallback for nameservers that refuse it.
 *
 * A DnsBase is a {@linkcode HostResolver}, so an HttpConnection can look
 * its host up through it (`new HttpConnection(base, { host, dns })`).
 *
 * @example
 * ```ts ignore
 * import { EventBase } from "@levent/levent";
 * import { DNS_ERR_NONE, DnsBase } from "@levent/levent/dns";
 * const base = new EventBase();
 * const dns = new DnsBase(base); // evdns_base_new(base, 0)
 * await dns.resolvConfParse(); // evdns_base_resolv_conf_parse(dns, DNS_OPTIONS_ALL, "/etc/resolv.conf")
 * dns.resolveIpv4("example.com", 0, (result, _type, count, ttl, addresses) => {
 *   if (result === DNS_ERR_NONE) console.log(count, ttl, addresses);
 * });
 * await base.dispatch(); // runs while the request is pending
 * // The Promise form: a pending request keeps the loop running, so ask first.
 * const answer = dns.queryIpv6("example.com");
 * await base.dispatch();
 * console.log((await answer).answers);
 * dns.free(); // evdns_base_free()
 * ```
 */
export class DnsBase implements HostResolver {
  readonly #base: EventBase;
  #settings: { -readonly [K in keyof DnsSettings]: DnsSettings[K] };
  #nameservers: Nameserver[] = [];
  #rotation = 0;
  #search: string[] = [];
  readonly #hosts = new HostsFile();
  #cache: DnsCache;
  readonly #random = new RandomPool();
  #logFn: DnsLogFn | null = null;
  #state: "running" | "suspended" | "freed" = "running";
  #warnedNoNameservers = false;

  /** Queries on the wire (inflight) and waiting for room. */
  #inflight = 0;
  readonly #waiting: Query[] = [];
  /** Queries with no nameserver to go to (none configured, or suspended). */
  #parked: Query[] = [];
  /** Every query not done, to fail them on free(). */
  readonly #live = new Set<Query>();
  /** Requests not done, by their cancel function, to shut them down on free(). */
  readonly #requests = new Set<(result: number) => void>();

  readonly #channels: Record<4 | 6, UdpChannel[]> = { 4: [], 6: [] };
  /** Queries that wait for a UDP socket of a family to be bound. */
  readonly #needSocket: Record<4 | 6, Query[]> = { 4: [], 6: [] };
  #nextChannel = 0;
  /** Sockets retiring: no more sends, open until their last answer is in. */
  #retiring = 0;
  /** Nameservers marked down, to probe. */
  #down = 0;
  #arrivals: Arrival[] = [];
  readonly #inbox: Event;

  /**
   * Make a resolver on `base` (libevent `evdns_base_new`). With no
   * `nameservers` nor `resolvConf` it has no nameserver until one is added
   * ({@linkcode DnsBase.addNameserver}, {@linkcode DnsBase.resolvConfParse}).
   *
   * The base's free() frees it too (see {@linkcode DnsBase.free}).
   *
   * @throws {TypeError} for a base that is not an EventBase, an option of the wrong type, or a nameserver that is not an address
   * @throws {RangeError} for a setting out of its range
   * @throws {LeventError} `ERR_FREED` if the base was freed
   */
  constructor(base: EventBase, options: DnsBaseOptions = {}) {
    checkEventBase(base, "base");
    checkObject(options, "options");
    if (baseFreed(base)) throw freedError("new DnsBase", "EventBase");
    this.#base = base;
    const settings = { ...DEFAULT_DNS_SETTINGS };
    for (const key of Object.keys(DEFAULT_DNS_SETTINGS) as (keyof DnsSettings)[]) {
      const value = options[key];
      if (value !== undefined) (settings as Record<string, unknown>)[key] = checkSetting(key, value);
    }
    this.#settings = settings;
    this.#cache = new DnsCache(settings.maxCacheEntries);
    this.#inbox = new Event(base, null, EV_PERSIST, () => this.#drainArrivals());
    if (options.resolvConf !== undefined) {
      this.applyResolvConf(checkString(options.resolvConf, "options.resolvConf"));
    }
    if (options.nameservers !== undefined) {
      if (!Array.isArray(options.nameservers)) {
        throw typeError("options.nameservers", "an array of strings", options.nameservers);
      }
      for (const ns of options.nameservers) this.addNameserver(ns);
    }
    if (options.hosts !== undefined) this.#hosts.add(checkString(options.hosts, "options.hosts"));
    adopt(base, this.#releaseByBase);
  }

  /** The loop the callbacks run on. */
  get base(): EventBase {
    return this.#base;
  }

  /** The current settings. */
  get settings(): DnsSettings {
    return { ...this.#settings };
  }

  /** The hosts-file entries consulted before the nameservers; add to it or clear it as needed. */
  get hosts(): HostsFile {
    return this.#hosts;
  }

  /** The search list, in order. */
  get searchList(): readonly string[] {
    return [...this.#search];
  }

  /** The nameservers in order, and which are up (levent's addition, for monitoring). */
  get nameservers(): DnsNameserverInfo[] {
    return this.#nameservers.map((ns) => ({ address: ns.label, up: ns.state === "up" }));
  }

  /** How many answers the cache holds. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  // ---------------------------------------------------------------- configuration

  /**
   * Add a nameserver (libevent `evdns_base_nameserver_ip_add`): `IPv4`,
   * `IPv4:PORT`, `IPv6`, `[IPv6]` or `[IPv6]:PORT`, port 53 by default. One
   * already there is not added twice. Queries parked for want of a
   * nameserver go out.
   *
   * @throws {TypeError} when `address` is not one of those forms
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  addNameserver(address: string): void {
    this.#checkLive("addNameserver");
    const parsed = typeof address === "string" ? parseNameserver(address) : null;
    if (parsed === null) {
      throw typeError("address", "an IP address with an optional port (IP, IP:PORT, [IPv6]:PORT)", address);
    }
    if (this.#nameservers.some((ns) => ns.address.host === parsed.host && ns.address.port === parsed.port)) return;
    this.#nameservers.push(new Nameserver(parsed));
    if (this.#state === "running") this.#unpark();
  }

  /** How many nameservers are configured, up or down (libevent `evdns_base_count_nameservers`). */
  countNameservers(): number {
    return this.#nameservers.length;
  }

  /** The address of the nameserver at `index`, as `IP:PORT`, or null (libevent `evdns_base_get_nameserver_addr`). */
  getNameserverAddr(index: number): string | null {
    return this.#nameservers[index]?.label ?? null;
  }

  /**
   * Remove every nameserver and hold the queries until
   * {@linkcode DnsBase.resume} (libevent
   * `evdns_base_clear_nameservers_and_suspend`). Held queries keep their
   * timers: one not resumed in time fails with `DNS_ERR_TIMEOUT`. Does
   * nothing once the DnsBase was freed.
   */
  clearNameserversAndSuspend(): void {
    if (this.#state === "freed") return;
    for (const ns of this.#nameservers) this.#closeTcp(ns, "suspended");
    this.#nameservers = [];
    this.#down = 0;
    this.#state = "suspended";
  }

  /**
   * Send the queries held since {@linkcode DnsBase.clearNameserversAndSuspend} (libevent `evdns_base_resume`).
   *
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  resume(): void {
    this.#checkLive("resume");
    if (this.#state !== "suspended") return;
    this.#state = "running";
    this.#unpark();
  }

  /**
   * Add a domain to the end of the search list (libevent `evdns_base_search_add`).
   *
   * @throws {TypeError} when `domain` is not a domain name
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  searchAdd(domain: string): void {
    this.#checkLive("searchAdd");
    const labels = typeof domain === "string" ? nameLabels(domain) : "not a string";
    if (typeof labels === "string" || labels.length === 0) throw typeError("domain", "a domain name", domain);
    this.#search.push(nameKey(domain));
  }

  /** Empty the search list (libevent `evdns_base_search_clear`). */
  searchClear(): void {
    this.#search = [];
  }

  /**
   * Set ndots (libevent `evdns_base_search_ndots_set`).
   *
   * @throws {RangeError} for ndots out of its range
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  searchNdotsSet(ndots: number): void {
    this.#checkLive("searchNdotsSet");
    this.#settings.ndots = checkSetting("ndots", ndots) as number;
  }

  /**
   * Set an option by libevent's name and string value (libevent
   * `evdns_base_set_option`; a final colon on the name is accepted, as old
   * libevent wanted): `ndots`, `timeout` (seconds, fractions allowed),
   * `max-timeouts`, `max-inflight`, `attempts`, `randomize-case` (0 or 1),
   * `bind-to` (an address), `initial-probe-timeout`, `max-probe-timeout`
   * (seconds), `probe-backoff-factor`, `getaddrinfo-allow-skew` (seconds),
   * `edns-udp-size`, `use-vc` and `ignore-tc` (no value), and levent's
   * `rotate` (no value) and `cache` (0 or 1).
   *
   * @throws {TypeError} for an option levent does not know, or a value that is not a number where one is needed
   * @throws {RangeError} for a value out of its range
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  setOption(option: string, value: string = ""): void {
    this.#checkLive("setOption");
    checkString(option, "option");
    checkString(value, "value");
    const name = option.endsWith(":") ? option.slice(0, -1) : option;
    const num = Number(value);
    const seconds = (): number => {
      if (value.trim() === "" || !Number.isFinite(num)) throw typeError("value", "a number of seconds", value);
      return Math.round(num * 1000);
    };
    const whole = (): number => {
      if (!/^\s*\d+\s*$/.test(value)) throw typeError("value", "a whole number", value);
      return num;
    };
    const set = <K extends keyof DnsSettings>(key: K, v: unknown): void => {
      (this.#settings as Record<string, unknown>)[key] = checkSetting(key, v);
    };
    switch (name) {
      case "ndots":
        return set("ndots", whole());
      case "timeout":
        return set("timeoutMs", seconds());
      case "max-timeouts":
        return set("maxTimeouts", whole());
      case "max-inflight":
        set("maxInflight", whole());
        return this.#pump();
      case "attempts":
        return set("attempts", whole());
      case "randomize-case":
        return set("randomizeCase", whole() !== 0);
      case "bind-to":
        return set("bindTo", value === "" ? null : value);
      case "initial-probe-timeout":
        return set("initialProbeTimeoutMs", seconds());
      case "max-probe-timeout":
        return set("maxProbeTimeoutMs", seconds());
      case "probe-backoff-factor":
        if (value.trim() === "" || !Number.isFinite(num)) throw typeError("value", "a number", value);
        return set("probeBackoffFactor", num);
      case "getaddrinfo-allow-skew":
        return set("getaddrinfoAllowSkewMs", seconds());
      case "edns-udp-size":
        return set("ednsUdpSize", whole());
      case "use-vc":
        return set("useVc", true);
      case "ignore-tc":
        return set("ignoreTc", true);
      case "rotate":
        return set("rotate", true);
      case "cache": {
        const on = whole() !== 0;
        set("cache", on);
        if (!on) this.#cache.clear();
        return;
      }
      default:
        throw typeError("option", "an option levent knows (ndots, timeout, attempts, max-timeouts...)", option);
    }
  }

  /**
   * Configure from resolv.conf text (what
   * {@linkcode DnsBase.resolvConfParse} does with a file): per `flags`,
   * the nameservers (127.0.0.1 when there are none, with a warning, unless
   * `DNS_OPTION_NAMESERVERS_NO_DEFAULT`), the search list, and ndots,
   * timeout, attempts and rotate. Lines it cannot read are logged as
   * warnings and skipped.
   *
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  applyResolvConf(text: string | ResolvConf, flags: number = DNS_OPTIONS_ALL): void {
    this.#checkLive("applyResolvConf");
    const conf = typeof text === "string" ? parseResolvConf(text) : text;
    for (const warning of conf.warnings) this.#log(true, warning);
    if (flags & DNS_OPTION_SEARCH) this.#search = [...conf.search];
    if (flags & DNS_OPTION_MISC) {
      if (conf.ndots !== undefined) this.#settings.ndots = conf.ndots;
      if (conf.timeout !== undefined) this.#settings.timeoutMs = conf.timeout * 1000;
      if (conf.attempts !== undefined) this.#settings.attempts = conf.attempts;
      if (conf.rotate) this.#settings.rotate = true;
    }
    if (flags & DNS_OPTION_NAMESERVERS) {
      for (const ns of conf.nameservers) this.addNameserver(ns);
      if (conf.nameservers.length === 0 && !(flags & DNS_OPTION_NAMESERVERS_NO_DEFAULT)) {
        this.#log(true, "resolv.conf names no nameserver: using 127.0.0.1, as the C library does");
        this.addNameserver("127.0.0.1");
      }
    }
  }

  /**
   * Read a resolv.conf file through the platform and configure from it
   * (libevent `evdns_base_resolv_conf_parse`), with `DNS_OPTION_HOSTSFILE`
   * also loading /etc/hosts. A file that cannot be read counts as empty:
   * 127.0.0.1 is used (with a warning), as libevent does, unless
   * `DNS_OPTION_NAMESERVERS_NO_DEFAULT`.
   *
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the DnsBase was freed, also while the file was read
   */
  async resolvConfParse(flags: number = DNS_OPTIONS_ALL, path: string = "/etc/resolv.conf"): Promise<void> {
    this.#checkLive("resolvConfParse");
    checkString(path, "path");
    let text = "";
    try {
      text = await readText(this.#base.platform, path);
    } catch (err) {
      this.#log(true, `cannot read ${path}: ${(err as Error).message}`);
    }
    this.#checkLive("resolvConfParse");
    this.applyResolvConf(text, flags);
    if (flags & DNS_OPTION_HOSTSFILE) await this.loadHosts();
  }

  /**
   * Add the entries of a hosts file, read through the platform (libevent
   * `evdns_base_load_hosts`). Unlike libevent's, resolveIpv4, resolveIpv6
   * and resolveReverse consult them too, not only getAddrInfo.
   *
   * @throws a coded platform Error (as a rejection) when the file cannot be read (`ENOENT`...)
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the DnsBase was freed, also while the file was read
   */
  async loadHosts(path: string = "/etc/hosts"): Promise<void> {
    this.#checkLive("loadHosts");
    checkString(path, "path");
    const text = await readText(this.#base.platform, path);
    this.#checkLive("loadHosts");
    this.#hosts.add(text);
  }

  /** Forget the hosts entries (libevent `evdns_base_clear_host_addresses`). */
  clearHostAddresses(): void {
    this.#hosts.clear();
  }

  /** Forget every cached answer. */
  clearCache(): void {
    this.#cache.clear();
  }

  /**
   * Send log lines to `fn`, or to the default (warnings on stderr) with null (libevent `evdns_set_log_fn`).
   *
   * @throws {TypeError} if fn is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  setLogFn(fn: DnsLogFn | null): void {
    this.#checkLive("setLogFn");
    this.#logFn = checkCallback(fn, "fn");
  }

  /**
   * Shut the resolver down (libevent `evdns_base_free`): pending requests
   * get `DNS_ERR_SHUTDOWN` (or nothing with `failRequests` false) and its
   * UDP and TCP sockets close. The base's free() calls it too, so a
   * resolver never keeps a program alive after its base. Calling it again
   * does nothing, and so do the calls that only let go
   * (`clearNameserversAndSuspend()`, `searchClear()`,
   * `clearHostAddresses()`, `clearCache()`, a request's `cancel()`); the
   * getters still answer, and any other call throws a LeventError with
   * code `ERR_FREED` (the Promise forms reject with it).
   */
  free(failRequests: boolean = true): void {
    if (this.#state === "freed") return;
    this.#state = "freed";
    disown(this.#base, this.#releaseByBase);
    for (const query of [...this.#live]) this.#abandon(query);
    this.#waiting.length = 0;
    this.#parked = [];
    for (const family of [4, 6] as const) {
      for (const ch of [...this.#channels[family]]) this.#closeChannel(ch);
      this.#channels[family] = [];
      this.#needSocket[family].length = 0;
    }
    for (const ns of this.#nameservers) this.#closeTcp(ns, "freed");
    this.#inbox.free();
    const requests = [...this.#requests];
    this.#requests.clear();
    for (const stop of requests) stop(failRequests ? DNS_ERR_SHUTDOWN : -1);
  }

  /** {@linkcode DnsBase.free}, for `using`. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** The base's free() frees the resolver as free() does. */
  readonly #releaseByBase = (): void => this.free();

  #checkLive(op: string): void {
    if (this.#state === "freed") throw freedError(op, "DnsBase");
  }

  // ---------------------------------------------------------------- requests: callback forms

  /**
   * Look up the IPv4 addresses of `name` (libevent `evdns_base_resolve_ipv4`):
   * the hosts file, then the search list and the nameservers. The
   * callback gets type `DNS_IPv4_A` and the addresses as text.
   *
   * @throws {TypeError} for a name that is not one, flags that are not a number, or a callback that is not a function
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  resolveIpv4<A = undefined>(name: string, flags: number, callback: DnsCallback<string, A>, arg?: A): DnsRequest {
    this.#checkLive("resolveIpv4");
    return this.#addressRequest(name, flags, DNS_TYPE_A, DNS_IPv4_A, callback, arg as A);
  }

  /** Look up the IPv6 addresses of `name` (libevent `evdns_base_resolve_ipv6`); type `DNS_IPv6_AAAA`. See {@linkcode DnsBase.resolveIpv4}. */
  resolveIpv6<A = undefined>(name: string, flags: number, callback: DnsCallback<string, A>, arg?: A): DnsRequest {
    this.#checkLive("resolveIpv6");
    return this.#addressRequest(name, flags, DNS_TYPE_AAAA, DNS_IPv6_AAAA, callback, arg as A);
  }

  /**
   * Look up the names of an IPv4 or IPv6 address (libevent
   * `evdns_base_resolve_reverse` and `evdns_base_resolve_reverse_ipv6`):
   * the hosts file, then a PTR query for its in-addr.arpa or ip6.arpa name
   * (never through the search list). Type `DNS_PTR`; the names.
   *
   * @throws {TypeError} when `address` is not an IP address
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  resolveReverse<A = undefined>(address: string, flags: number, callback: DnsCallback<string, A>, arg?: A): DnsRequest {
    this.#checkLive("resolveReverse");
    const name = typeof address === "string" ? reverseName(address) : null;
    if (name === null) throw typeError("address", "an IPv4 or IPv6 address", address);
    checkFunction(callback, "callback");
    const fromHosts = this.#hosts.names(address);
    return this.#request(
      name,
      flags | DNS_QUERY_NO_SEARCH,
      DNS_TYPE_PTR,
      fromHosts.length > 0 ? fromHosts : null,
      (result, ttl, records, answers) => {
        const names = answers ?? records.map((r) => r.data as string);
        callback(result, DNS_PTR, names.length, ttl, names, arg as A);
      },
    );
  }

  /**
   * Look up records of any type (levent's generalisation of libevent's
   * `evdns_base_resolve_mx`, `_ns`, `_soa`): the search list and the
   * nameservers, following CNAMEs. The callback's type is `type` and its
   * answers the records (their data shaped as {@linkcode DnsRecordData} says).
   *
   * @throws {TypeError} for a name that is not one or a type outside 1..65535
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  resolve<A = undefined>(
    name: string,
    type: number,
    flags: number,
    callback: DnsCallback<DnsRecord, A>,
    arg?: A,
  ): DnsRequest {
    this.#checkLive("resolve");
    if (!Number.isInteger(type) || type < 1 || type > 65535 || type === DNS_TYPE_OPT) {
      throw typeError("type", "a record type in 1..65535 other than OPT", type);
    }
    checkFunction(callback, "callback");
    return this.#request(name, flags, type, null, (result, ttl, records) => {
      callback(result, type, records.length, ttl, records, arg as A);
    });
  }

  /**
   * Resolve `node` and `service` to addresses to connect or bind to
   * (libevent `evdns_getaddrinfo`): an IP address as it is, the hosts file,
   * else A and AAAA queries (both, for family 0: once one has answered,
   * the other gets `getaddrinfoAllowSkewMs` more). The callback gets null
   * and the results, IPv4 first, one per socket type asked for; or a
   * DnsError (`ERR_DNS_NOTEXIST` as getaddrinfo's EAI_NONAME,
   * `ERR_DNS_SERVICE` for a service it does not know...).
   *
   * @throws {TypeError} for a node or hints of the wrong type, or a callback that is not a function
   * @throws {LeventError} `ERR_FREED` once the DnsBase was freed
   */
  getAddrInfo<A = undefined>(
    node: string | null,
    service: string | number | null,
    hints: DnsAddrInfoHints | null,
    callback: DnsAddrInfoCallback<A>,
    arg?: A,
  ): DnsRequest {
    this.#checkLive("getAddrInfo");
    checkFunction(callback, "callback");
    if (node !== null) checkString(node, "node");
    const h = hints ?? {};
    checkObject(h, "hints");
    const family = h.family ?? 0;
    if (family !== 0 && family !== 4 && family !== 6) throw typeError("hints.family", "0, 4 or 6", family);
    if (h.socktype !== undefined && h.socktype !== "stream" && h.socktype !== "dgram") {
      throw typeError("hints.socktype", '"stream" or "dgram"', h.socktype);
    }
    const control = { done: false, cancel: (): void => {} };
    const request = newDnsRequest(control);
    const finish = (error: DnsError | null, addresses: Array<[string, 4 | 6]>, canon: string): void => {
      if (control.done) return;
      control.done = true;
      this.#requests.delete(stop);
      for (const sub of subs) sub.cancel();
      const port = servicePort(service, h.numericService === true) ?? 0;
      const results: DnsAddrInfo[] = [];
      const types: Array<"stream" | "dgram"> = h.socktype === undefined ? ["stream", "dgram"] : [h.socktype];
      for (const [address, fam] of addresses) {
        for (const socktype of types) {
          results.push({ family: fam, address, port, socktype, protocol: socktype === "stream" ? "tcp" : "udp" });
        }
      }
      if (h.canonName === true && results.length > 0) results[0] = { ...results[0], canonName: canon };
      callback(error, results, arg as A);
    };
    const stop = (result: number): void => {
      if (result < 0) {
        control.done = true;
        for (const sub of subs) sub.cancel();
        return;
      }
      finish(DnsError.fromResult(result, node ?? ""), [], "");
    };
    const later = (error: DnsError | null, addresses: Array<[string, 4 | 6]>, canon: string): DnsRequest => {
      this.#requests.add(stop);
      this.#deferOrNow(() => finish(error, addresses, canon));
      return request;
    };
    const subs: DnsRequest[] = [];
    control.cancel = () => {
      control.done = true;
      this.#requests.delete(stop);
      for (const sub of subs) sub.cancel();
      this.#deferOrNow(() => callback(DnsError.fromResult(DNS_ERR_CANCEL, node ?? ""), [], arg as A));
    };
    if (servicePort(service, h.numericService === true) === null) {
      return later(new DnsError("ERR_DNS_SERVICE", `unknown service ${JSON.stringify(service)}`), [], "");
    }
    if (node === null || node === "") {
      const v4 = h.passive === true ? IPV4_WILDCARD : "127.0.0.1";
      const v6 = h.passive === true ? IPV6_WILDCARD : "::1";
      const list: Array<[string, 4 | 6]> = family === 4 ? [[v4, 4]] : family === 6 ? [[v6, 6]] : [[v4, 4], [v6, 6]];
      return later(null, list, "");
    }
    const literal = ipFamily(node);
    if (literal !== 0) {
      if (family !== 0 && family !== literal) return later(DnsError.fromResult(DNS_ERR_NODATA, node), [], "");
      return later(null, [[normalizeIp(node)!, literal]], node);
    }
    if (h.numericHost === true) return later(DnsError.fromResult(DNS_ERR_NOTEXIST, node), [], "");
    const fromHosts: Array<[string, 4 | 6]> = [];
    if (family !== 6) { for (const a of this.#hostsAddresses(node, 4)) fromHosts.push([a, 4]); }
    if (family !== 4) { for (const a of this.#hostsAddresses(node, 6)) fromHosts.push([a, 6]); }
    if (fromHosts.length > 0) return later(null, fromHosts, this.#hosts.canonicalName(node) ?? node);
    this.#requests.add(stop);
    // Both families for family 0: the first answer starts the skew timer for the other.
    const got: Record<4 | 6, { result: number; addresses: string[]; canon: string } | null> = { 4: null, 6: null };
    const wanted: Array<4 | 6> = family === 0 ? [4, 6] : [family];
    let skew: Event | null = null;
    const settle = (): void => {
      const done = wanted.filter((f) => got[f] !== null);
      const ok = done.filter((f) => got[f]!.result === DNS_ERR_NONE);
      if (done.length < wanted.length && (ok.length === 0 || skew !== null)) {
        if (ok.length > 0 && skew === null) return;
        if (ok.length === 0) return;
      }
      if (done.length < wanted.length && ok.length > 0 && skew === null) return;
      skew?.free();
      skew = null;
      const addresses: Array<[string, 4 | 6]> = [];
      let canon = node;
      for (const f of wanted) {
        const r = got[f];
        if (r === null || r.result !== DNS_ERR_NONE) continue;
        if (canon === node) canon = r.canon;
        for (const a of r.addresses) addresses.push([a, f]);
      }
      if (addresses.length > 0) return finish(null, addresses, canon);
      // No addresses: report the most telling failure (a name that exists beats one that does not).
      const results = wanted.map((f) => got[f]?.result ?? DNS_ERR_TIMEOUT);
      const worst = results.find((r) => r !== DNS_ERR_NODATA && r !== DNS_ERR_NOTEXIST) ??
        (results.includes(DNS_ERR_NODATA) ? DNS_ERR_NODATA : DNS_ERR_NOTEXIST);
      finish(DnsError.fromResult(worst, node), [], "");
    };
    for (const f of wanted) {
      const sub = this.#request(
        node,
        0,
        f === 4 ? DNS_TYPE_A : DNS_TYPE_AAAA,
        null,
        (result, _ttl, records, _a, canon) => {
          if (control.done) return;
          got[f] = { result, addresses: records.map((r) => r.data as string), canon };
          const waiting = wanted.filter((w) => got[w] === null);
          if (waiting.length > 0 && result === DNS_ERR_NONE && skew === null) {
            skew = new Event(this.#base, null, 0, () => {
              skew = null;
              for (const w of waiting) {
                if (got[w] === null) got[w] = { result: DNS_ERR_TIMEOUT, addresses: [], canon: node };
              }
              settle();
            });
            skew.add(this.#settings.getaddrinfoAllowSkewMs);
            return;
          }
          if (waiting.length > 0) return;
          settle();
        },
      );
      subs.push(sub);
    }
    return request;
  }

  // ---------------------------------------------------------------- requests: Promise forms

  /**
   * {@linkcode DnsBase.resolveIpv4} as a Promise: the answers, or a rejection with a {@linkcode DnsError}.
   *
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the DnsBase was freed; so do the other Promise forms
   */
  queryIpv4(name: string, options: DnsQueryOptions = {}): Promise<DnsAnswer<string>> {
    return this.#promise(options, name, (flags, cb) => this.resolveIpv4(name, flags, cb));
  }

  /** {@linkcode DnsBase.resolveIpv6} as a Promise. */
  queryIpv6(name: string, options: DnsQueryOptions = {}): Promise<DnsAnswer<string>> {
    return this.#promise(options, name, (flags, cb) => this.resolveIpv6(name, flags, cb));
  }

  /** {@linkcode DnsBase.resolveReverse} as a Promise. */
  queryReverse(address: string, options: DnsQueryOptions = {}): Promise<DnsAnswer<string>> {
    return this.#promise(options, address, (flags, cb) => this.resolveReverse(address, flags, cb));
  }

  /** {@linkcode DnsBase.resolve} as a Promise. */
  query(name: string, type: number, options: DnsQueryOptions = {}): Promise<DnsAnswer<DnsRecord>> {
    return this.#promise(options, name, (flags, cb) => this.resolve(name, type, flags, cb));
  }

  /** {@linkcode DnsBase.getAddrInfo} as a Promise: the results, or a rejection with a {@linkcode DnsError}. */
  queryAddrInfo(
    node: string | null,
    service: string | number | null = null,
    hints: DnsAddrInfoHints | null = null,
    options: Pick<DnsQueryOptions, "signal"> = {},
  ): Promise<DnsAddrInfo[]> {
    checkObject(options, "options");
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) return reject(DnsError.fromResult(DNS_ERR_CANCEL, node ?? ""));
      const onAbort = (): void => req.cancel();
      const req = this.getAddrInfo(node, service, hints, (error, results) => {
        signal?.removeEventListener("abort", onAbort);
        if (error !== null) reject(error);
        else resolve([...results]);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * The {@linkcode HostResolver} face: the addresses of `host` of
   * `family` (0 for both), as the platform's lookup gives them, so an
   * HttpConnection can resolve through this DnsBase. Rejects with a
   * {@linkcode DnsError} (`ERR_DNS_NOTEXIST`...) when there are none.
   *
   * @throws {LeventError} `ERR_FREED` (as a rejection) once the DnsBase was freed
   */
  lookup(host: string, family: 0 | 4 | 6 = 0): Promise<LookupAddress[]> {
    return this.queryAddrInfo(host, null, { family, socktype: "stream" }).then((results) =>
      results.map((r) => ({ address: r.address, family: r.family }))
    );
  }

  // ---------------------------------------------------------------- request layer

  #promise<T>(
    options: DnsQueryOptions,
    what: string,
    start: (flags: number, cb: DnsCallback<T, undefined>) => DnsRequest,
  ): Promise<DnsAnswer<T>> {
    checkObject(options, "options");
    const label = typeof what === "string" ? what : "";
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) return reject(DnsError.fromResult(DNS_ERR_CANCEL, label));
      const onAbort = (): void => req.cancel();
      const req = start(options.flags ?? 0, (result, type, _count, ttl, answers) => {
        signal?.removeEventListener("abort", onAbort);
        if (result === DNS_ERR_NONE) resolve({ type, ttl, answers });
        else reject(DnsError.fromResult(result, label));
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #addressRequest<A>(
    name: string,
    flags: number,
    type: number,
    answerType: number,
    callback: DnsCallback<string, A>,
    arg: A,
  ): DnsRequest {
    checkFunction(callback, "callback");
    const family = type === DNS_TYPE_A ? 4 : 6;
    const fromHosts = typeof name === "string" ? this.#hostsAddresses(name, family) : [];
    return this.#request(
      name,
      flags,
      type,
      fromHosts.length > 0 ? fromHosts : null,
      (result, ttl, records, answers) => {
        const addresses = answers ?? records.map((r) => r.data as string);
        callback(result, answerType, addresses.length, ttl, addresses, arg);
      },
    );
  }

  /** The hosts file's addresses for `name`, and localhost's loopback when the file has no localhost. */
  #hostsAddresses(name: string, family: 4 | 6): string[] {
    const found = this.#hosts.addresses(name, family);
    if (found.length > 0 || this.#hosts.has(name)) return found;
    return nameKey(name) === "localhost" ? [family === 4 ? "127.0.0.1" : "::1"] : [];
  }

  /**
   * Start a request for `name` and `type`: answered from `local` (hosts)
   * when given, else each search candidate in turn through the cache and
   * the nameservers. `done` gets the result, TTL and records (or the local
   * answers), once, on the loop.
   */
  #request(
    name: string,
    flags: number,
    type: number,
    local: string[] | null,
    done: (result: number, ttl: number, records: readonly DnsRecord[], answers: string[] | null, canon: string) => void,
  ): DnsRequest {
    if (typeof name !== "string") throw typeError("name", "a domain name", name);
    const labels = nameLabels(name);
    if (typeof labels === "string") {
      throw new TypeError(`name must be a domain name (${labels}), got ${JSON.stringify(name)}`);
    }
    if (typeof flags !== "number" || !Number.isInteger(flags) || flags < 0) {
      throw typeError("flags", "a combination of DNS_QUERY_* flags", flags);
    }
    const control = { done: false, cancel: (): void => {} };
    const request = newDnsRequest(control);
    let current: Query | null = null;
    const finish = (
      result: number,
      ttl: number,
      records: readonly DnsRecord[],
      answers: string[] | null,
      canon: string,
    ) => {
      if (control.done) return;
      control.done = true;
      this.#requests.delete(stop);
      done(result, ttl, records, answers, canon);
    };
    const stop = (result: number): void => {
      const q = current;
      current = null;
      if (q !== null) this.#abandon(q);
      if (result < 0) control.done = true;
      else finish(result, 0, [], null, name);
    };
    control.cancel = () => {
      control.done = true;
      this.#requests.delete(stop);
      const q = current;
      current = null;
      if (q !== null) this.#abandon(q);
      this.#deferOrNow(() => done(DNS_ERR_CANCEL, 0, [], null, name));
    };
    this.#requests.add(stop);
    if (local !== null) {
      this.#deferOrNow(() => finish(DNS_ERR_NONE, 0, [], local, name));
      return request;
    }
    const candidates = this.#candidates(name, flags);
    let index = 0;
    let sawNoData: QueryOutcome | null = null;
    const next = (): void => {
      for (;;) {
        if (control.done) return;
        if (index >= candidates.length) {
          const outcome = sawNoData ?? last!;
          return finish(outcome.result, outcome.ttl, [], null, name);
        }
        const candidate = candidates[index++];
        const cached = this.#settings.cache
          ? this.#cache.get(`${nameKey(candidate)}/${type}`, this.#base.now())
          : undefined;
        if (cached === undefined) break;
        last = cached;
        if (cached.result === DNS_ERR_NONE) {
          // A cache hit is still answered on the loop, never inside the call that asked.
          const hit = cached;
          return this.#deferOrNow(() => finish(DNS_ERR_NONE, hit.ttl, hit.records, null, hit.canonicalName));
        }
        if (cached.result === DNS_ERR_NODATA) sawNoData ??= cached;
      }
      const candidate = candidates[index - 1];
      const wire = candidate === name ? labelsWire(labels) : nameWire(candidate) as Uint8Array;
      current = new Query(candidate, wire, type, flags, null, (outcome) => {
        current = null;
        last = outcome;
        if (outcome.result === DNS_ERR_NONE) {
          return finish(DNS_ERR_NONE, outcome.ttl, outcome.records, null, outcome.canonicalName);
        }
        if (outcome.result === DNS_ERR_NODATA) sawNoData ??= outcome;
        if (outcome.result === DNS_ERR_NODATA || outcome.result === DNS_ERR_NOTEXIST) return next();
        finish(outcome.result, outcome.ttl, [], null, name);
      });
      this.#submit(current);
    };
    let last: QueryOutcome | null = null;
    if (candidates.length === 0) {
      this.#deferOrNow(() => finish(DNS_ERR_NOTEXIST, 0, [], null, name));
      return request;
    }
    next();
    return request;
  }

  /** The names to try for `name`, in order (libevent's search rules, with ndots). */
  #candidates(name: string, flags: number): string[] {
    const search = this.#search;
    if (flags & DNS_QUERY_NO_SEARCH || hasFinalDot(name) || search.length === 0 || name === "") return [name];
    const withDomains = search.map((d) => `${name}.${d}`).filter((n) => typeof nameLabels(n) !== "string");
    return countDots(name) >= this.#settings.ndots ? [name, ...withDomains] : [...withDomains, name];
  }

  /** Run `fn` on the loop: a result is never given inside the call that asked for it. */
  #deferOrNow(fn: () => void): void {
    this.#base.defer(fn);
  }

  #log(isWarning: boolean, message: string): void {
    if (this.#logFn !== null) this.#logFn(isWarning, message);
    else if (isWarning) console.warn(`levent dns: ${message}`);
  }

  // ---------------------------------------------------------------- query layer

  /** Take a query in: on the wire now, or in the queue behind max-inflight. */
  #submit(query: Query): void {
    this.#live.add(query);
    query.timer = new Event(this.#base, null, EV_TIMEOUT, () => this.#timedOut(query));
    if (this.#inflight >= this.#settings.maxInflight && query.probeOf === null) {
      query.state = "waiting";
      this.#waiting.push(query);
      return;
    }
    this.#start(query);
  }

  #start(query: Query): void {
    if (query.probeOf === null) this.#inflight++;
    query.state = "inflight";
    this.#transmit(query);
  }

  /** Let waiting queries in while there is room. */
  #pump(): void {
    while (this.#waiting.length > 0 && this.#inflight < this.#settings.maxInflight && this.#state !== "freed") {
      const query = this.#waiting.shift()!;
      if (query.state === "waiting") this.#start(query);
    }
  }

  /** Send queries parked for want of a nameserver. */
  #unpark(): void {
    const parked = this.#parked;
    this.#parked = [];
    for (const q of parked) {
      if (q.state === "parked") {
        q.state = "inflight";
        this.#transmit(q);
      }
    }
  }

  /** Which nameserver the query's next transmission goes to; null when there is none. */
  #pick(query: Query): Nameserver | null {
    if (query.probeOf !== null) return query.probeOf;
    const list = this.#nameservers;
    const n = list.length;
    if (n === 0 || this.#state !== "running") return null;
    if (this.#down > 0) this.#probeDue();
    if (query.start < 0) query.start = this.#settings.rotate ? this.#rotation++ % n : 0;
    const up: Nameserver[] = [];
    for (let i = 0; i < n; i++) {
      const ns = list[(query.start + i) % n];
      if (ns.state === "up") up.push(ns);
    }
    // Each transmission goes to the next healthy nameserver; with none healthy, to the next of them all.
    return up.length > 0 ? up[query.txCount % up.length] : list[(query.start + query.txCount) % n];
  }

  #transmit(query: Query): void {
    const ns = this.#pick(query);
    const timer = query.timer!;
    if (ns === null) {
      // No nameserver (none yet, or suspended): wait for one, within the query's own deadline.
      if (this.#nameservers.length === 0 && this.#state === "running" && !this.#warnedNoNameservers) {
        this.#warnedNoNameservers = true;
        this.#log(true, "no nameserver is configured: queries wait for one and time out");
      }
      query.state = "parked";
      this.#parked.push(query);
      if (!timer.pending(EV_TIMEOUT)) timer.add(this.#settings.timeoutMs * this.#settings.attempts);
      return;
    }
    query.txCount++;
    timer.add(this.#settings.timeoutMs);
    if (query.overTcp || this.#settings.useVc) return this.#sendTcp(query, ns);
    const channel = this.#channel(ns.address.family);
    if (channel === null) {
      // The socket is still being bound: send once it is.
      query.txCount--;
      this.#needSocket[ns.address.family].push(query);
      return;
    }
    const tx = this.#transmission(query, ns, channel.pending);
    const packet = this.#packet(tx, this.#lastId);
    channel.uses++;
    if (channel.uses >= this.#settings.queriesPerSocket) this.#retire(channel);
    channel.udp!.send(packet, ns.address.host, ns.address.port);
  }

  /** The ID chosen by the last #transmission (kept here so the packet uses it). */
  #lastId = 0;

  /** Register a transmission under a fresh random ID in `map`. */
  #transmission(query: Query, ns: Nameserver, map: Map<number, Transmission>): Transmission {
    let id = this.#random.u16();
    while (map.has(id)) id = this.#random.u16();
    const wire = query.wire;
    const question = new Uint8Array(wire.length + 4);
    question.set(wire);
    if (this.#settings.randomizeCase && query.probeOf === null) this.#scramble(question, wire.length);
    question[wire.length] = query.type >>> 8;
    question[wire.length + 1] = query.type & 0xff;
    question[wire.length + 3] = DNS_CLASS_IN;
    const tx: Transmission = { query, ns, question, edns: this.#settings.ednsUdpSize > 0 && !ns.noEdns };
    map.set(id, tx);
    query.slots.push([map, id]);
    this.#lastId = id;
    return tx;
  }

  /** Flip the case of the letters in the wire name's labels at random (0x20). */
  #scramble(bytes: Uint8Array, nameLength: number): void {
    let bits = 0;
    let left = 0;
    let at = 0;
    while (at < nameLength) {
      const len = bytes[at++];
      for (const end = at + len; at < end; at++) {
        const c = bytes[at] | 0x20;
        if (c < 97 || c > 122) continue;
        if (left === 0) {
          bits = this.#random.u16();
          left = 16;
        }
        bytes[at] = bits & 1 ? c & ~0x20 : c;
        bits >>>= 1;
        left--;
      }
    }
  }

  /** The query message for a transmission: header, its question, and the OPT record when EDNS is on. */
  #packet(tx: Transmission, id: number): Uint8Array {
    const opt = tx.edns ? 11 : 0;
    const packet = new Uint8Array(DNS_HEADER_BYTES + tx.question.length + opt);
    packet[0] = id >>> 8;
    packet[1] = id & 0xff;
    packet[2] = DNS_FLAG_RD >>> 8;
    packet[5] = 1;
    packet.set(tx.question, DNS_HEADER_BYTES);
    if (tx.edns) {
      packet[11] = 1;
      const at = DNS_HEADER_BYTES + tx.question.length;
      // Root owner, type OPT, class = UDP size, TTL 0 (version 0), no options.
      packet[at + 2] = DNS_TYPE_OPT;
      packet[at + 3] = this.#settings.ednsUdpSize >>> 8;
      packet[at + 4] = this.#settings.ednsUdpSize & 0xff;
    }
    return packet;
  }

  #sendTcp(query: Query, ns: Nameserver): void {
    let channel = ns.tcp;
    if (channel === null || channel.state === "closed") {
      channel = new DnsTcpChannel(this.#base, ns.address.host, ns.address.port, {
        message: (bytes) => this.#onTcpMessage(ns, bytes),
        closed: (error) => this.#onTcpClosed(ns, error),
      });
      ns.tcp = channel;
    }
    const tx = this.#transmission(query, ns, ns.tcpPending);
    channel.send(this.#packet(tx, this.#lastId));
  }

  #onTcpMessage(ns: Nameserver, bytes: Uint8Array): void {
    if (bytes.length < DNS_HEADER_BYTES) return;
    const tx = ns.tcpPending.get((bytes[0] << 8) | bytes[1]);
    if (tx !== undefined) this.#answer(tx, bytes, true);
    if (ns.tcpPending.size === 0) this.#closeTcp(ns, "idle");
  }

  #onTcpClosed(ns: Nameserver, error: Error | null): void {
    ns.tcp = null;
    const lost = [...new Set([...ns.tcpPending.values()].map((tx) => tx.query))];
    ns.tcpPending.clear();
    if (error !== null) this.#log(false, `TCP to nameserver ${ns.label} failed: ${error.message}`);
    // Each query the connection owed an answer tries its next attempt now, as after a timeout.
    for (const q of lost) if (q.state === "inflight") this.#retry(q, q.truncated ? DNS_ERR_TRUNCATED : DNS_ERR_TIMEOUT);
  }

  #closeTcp(ns: Nameserver, _why: string): void {
    ns.tcp?.close();
    ns.tcp = null;
  }

  // ---------------------------------------------------------------- UDP sockets

  /** A ready socket of `family`, or null while one is being bound (a bind is started when needed). */
  #channel(family: 4 | 6): UdpChannel | null {
    const list = this.#channels[family];
    let binding = 0;
    let ready = 0;
    for (const ch of list) {
      if (ch.state === "binding") binding++;
      else if (ch.state === "ready") ready++;
    }
    // Answers to many queries at once overflow one socket's receive buffer (about 256 datagrams on Linux):
    // at least one socket per 64 queries in flight.
    const want = Math.max(this.#settings.udpSockets, Math.min(64, Math.ceil(this.#settings.maxInflight / 64)));
    for (let i = ready + binding; i < want; i++) this.#bind(family);
    if (ready === 0) return null;
    // Round-robin over the ready ones.
    for (let i = 0; i < list.length; i++) {
      const ch = list[(this.#nextChannel + i) % list.length];
      if (ch.state === "ready") {
        this.#nextChannel = (this.#nextChannel + i + 1) % list.length;
        return ch;
      }
    }
    return null;
  }

  #bind(family: 4 | 6): void {
    const channel = new UdpChannel(family);
    this.#channels[family].push(channel);
    const host = this.#settings.bindTo ?? (family === 4 ? IPV4_WILDCARD : IPV6_WILDCARD);
    this.#base.platform.bindUdp({ host, port: 0 }, {
      message: (bytes, from) => {
        if (channel.state === "closed") return;
        this.#arrivals.push({ channel, bytes, from });
        if (this.#arrivals.length === 1 && this.#state !== "freed") this.#inbox.active(EV_TIMEOUT);
      },
      error: (err, to) => {
        this.#log(false, `UDP send to ${to?.host ?? "?"} failed: ${err.message}`);
      },
    }).then(
      (udp) => {
        // A socket nobody wants any more closes now: the loop that would run a deferred call may have ended.
        if (channel.state !== "binding" || this.#state === "freed") udp.close();
        else this.#base.defer(() => this.#bound(channel, udp));
      },
      (err: Error) => this.#base.defer(() => this.#bindFailed(channel, err)),
    );
  }

  #bound(channel: UdpChannel, udp: UdpSocket): void {
    if (channel.state !== "binding" || this.#state === "freed") {
      udp.close();
      return;
    }
    channel.udp = udp;
    channel.state = "ready";
    const waiting = this.#needSocket[channel.family].splice(0);
    for (const q of waiting) if (q.state === "inflight") this.#transmit(q);
  }

  #bindFailed(channel: UdpChannel, err: Error): void {
    this.#dropChannel(channel);
    if (this.#state === "freed") return;
    this.#log(true, `cannot bind a UDP socket for queries: ${err.message}`);
    // The queries waiting for a socket of this family try again only if another socket can come; else they fail.
    const waiting = this.#needSocket[channel.family].splice(0);
    for (const q of waiting) if (q.state === "inflight") this.#finishQuery(q, this.#outcome(DNS_ERR_UNKNOWN, q));
  }

  /** Stop sending from a socket; it closes once its last answer is in or its queries are done. */
  #retire(channel: UdpChannel): void {
    channel.state = "retiring";
    this.#retiring++;
    if (channel.pending.size === 0) this.#closeChannel(channel);
  }

  #closeChannel(channel: UdpChannel): void {
    if (channel.state === "closed") return;
    if (channel.state === "retiring") this.#retiring--;
    channel.state = "closed";
    channel.udp?.close();
    channel.udp = null;
    this.#dropChannel(channel);
  }

  #dropChannel(channel: UdpChannel): void {
    const list = this.#channels[channel.family];
    const i = list.indexOf(channel);
    if (i >= 0) list.splice(i, 1);
  }

  #drainArrivals(): void {
    const arrivals = this.#arrivals;
    this.#arrivals = [];
    for (const { channel, bytes, from } of arrivals) {
      if (this.#state === "freed") return;
      if (bytes.length < DNS_HEADER_BYTES) continue;
      const tx = channel.pending.get((bytes[0] << 8) | bytes[1]);
      if (tx === undefined) continue;
      // Only the nameserver the query went to may answer it.
      const ns = tx.ns.address;
      if (from.port !== ns.port || (from.host !== ns.host && normalizeIp(from.host) !== ns.host)) continue;
      this.#answer(tx, bytes, false);
      if (channel.state === "retiring" && channel.pending.size === 0) this.#closeChannel(channel);
    }
  }

  // ---------------------------------------------------------------- answers

  /** An answer from the right address for a known ID: check it echoes the question, then act on it. */
  #answer(tx: Transmission, bytes: Uint8Array, overTcp: boolean): void {
    const query = tx.query;
    if (query.state !== "inflight") return;
    // QR set, one question, and that question exactly as sent (case included, for 0x20).
    if (!(bytes[2] & 0x80) || bytes[4] !== 0 || bytes[5] !== 1) return;
    if (!sameBytes(bytes, DNS_HEADER_BYTES, tx.question)) return;
    let msg: DnsMessage;
    try {
      msg = decodeDnsMessage(bytes);
    } catch {
      // A malformed answer is no answer: the query's timer still runs.
      return;
    }
    const ns = tx.ns;
    const sent = msg.questions[0].name;
    if (sent !== query.name) msg = restoreCase(msg, sent, query.name);
    if (msg.flags & DNS_FLAG_TC && !overTcp && !(query.flags & DNS_QUERY_IGNTC) && !this.#settings.ignoreTc) {
      // Truncated: ask the same nameserver over TCP, as this transmission's next step.
      this.#nameserverUp(ns);
      this.#unregister(query);
      query.overTcp = true;
      query.truncated = true;
      query.timer!.add(this.#settings.timeoutMs);
      return this.#sendTcp(query, ns);
    }
    switch (msg.rcode) {
      case DNS_ERR_NONE: {
        this.#nameserverUp(ns);
        const outcome = followAnswers(msg, query.name, query.type);
        if (outcome.result === DNS_ERR_NODATA && msg.flags & DNS_FLAG_TC) {
          return this.#finishQuery(query, { ...outcome, result: DNS_ERR_TRUNCATED });
        }
        return this.#finishQuery(query, outcome);
      }
      case DNS_ERR_NOTEXIST:
        this.#nameserverUp(ns);
        return this.#finishQuery(query, {
          result: DNS_ERR_NOTEXIST,
          records: [],
          ttl: negativeTtl(msg),
          canonicalName: query.name,
        });
      case DNS_ERR_SERVERFAILED:
        // SERVFAIL may be about this name only (libevent lets it time out): try the next nameserver now.
        return this.#retry(query, DNS_ERR_SERVERFAILED);
      case DNS_ERR_FORMAT:
        if (tx.edns && !ns.noEdns) {
          // RFC 6891 §7: a server that does not know EDNS answers FORMERR; ask it again without.
          ns.noEdns = true;
          this.#log(false, `nameserver ${ns.label} refuses EDNS0; asking it without`);
          this.#unregister(query);
          query.txCount--;
          return this.#transmit(query);
        }
        return this.#retry(query, DNS_ERR_FORMAT);
      case DNS_ERR_NOTIMPL:
      case DNS_ERR_REFUSED:
        // libevent takes these as a nameserver gone bad.
        this.#nameserverFailed(ns, `it answered ${msg.rcode === DNS_ERR_REFUSED ? "REFUSED" : "NOTIMP"}`);
        return this.#retry(query, msg.rcode);
      default:
        this.#nameserverUp(ns);
        return this.#finishQuery(query, this.#outcome(DNS_ERR_UNKNOWN, query));
    }
  }

  #outcome(result: number, query: Query): QueryOutcome {
    return { result, records: [], ttl: 0, canonicalName: query.name };
  }

  /** The next attempt, or the end with `result` when the attempts are used up. */
  #retry(query: Query, result: number): void {
    if (query.state !== "inflight") return;
    if (query.probeOf !== null || query.txCount >= this.#settings.attempts) {
      return this.#finishQuery(query, this.#outcome(result, query));
    }
    this.#transmit(query);
  }

  #timedOut(query: Query): void {
    if (query.state === "parked") {
      this.#parked = this.#parked.filter((q) => q !== query);
      return this.#finishQuery(query, this.#outcome(DNS_ERR_TIMEOUT, query));
    }
    if (query.state !== "inflight") return;
    const ns = this.#lastNameserver(query);
    if (ns !== null && query.probeOf === null) {
      ns.timedOut++;
      if (ns.timedOut > this.#settings.maxTimeouts) this.#nameserverFailed(ns, "it timed out too often");
    }
    this.#retry(query, query.truncated ? DNS_ERR_TRUNCATED : DNS_ERR_TIMEOUT);
  }

  #lastNameserver(query: Query): Nameserver | null {
    const slot = query.slots[query.slots.length - 1];
    return slot === undefined ? null : slot[0].get(slot[1])?.ns ?? null;
  }

  /** Forget a query's transmissions: late answers to them are ignored. */
  #unregister(query: Query): void {
    for (const [map, id] of query.slots) map.delete(id);
    query.slots.length = 0;
  }

  #finishQuery(query: Query, outcome: QueryOutcome): void {
    if (query.state === "done") return;
    const wasInflight = query.state === "inflight";
    this.#release(query);
    if (wasInflight && query.probeOf === null) {
      this.#inflight--;
      this.#pump();
    }
    if (this.#settings.cache && query.probeOf === null) {
      const r = outcome.result;
      if (r === DNS_ERR_NONE || r === DNS_ERR_NOTEXIST || r === DNS_ERR_NODATA) {
        this.#cache.set(
          `${nameKey(query.name)}/${query.type}`,
          this.#base.now(),
          outcome.ttl,
          r,
          outcome.records,
          outcome.canonicalName,
        );
      }
    }
    query.onDone(outcome);
  }

  /** Take a query off everything: its timer, its transmissions, the queues. */
  #release(query: Query): void {
    const was = query.state;
    query.state = "done";
    this.#live.delete(query);
    query.timer?.free();
    query.timer = null;
    this.#unregister(query);
    if (was === "waiting") {
      const i = this.#waiting.indexOf(query);
      if (i >= 0) this.#waiting.splice(i, 1);
    }
    for (const family of [4, 6] as const) {
      const list = this.#needSocket[family];
      const i = list.indexOf(query);
      if (i >= 0) list.splice(i, 1);
    }
    // Sockets retired while this query was out close once nothing waits on them.
    if (this.#retiring > 0) {
      for (const family of [4, 6] as const) {
        for (const ch of [...this.#channels[family]]) {
          if (ch.state === "retiring" && ch.pending.size === 0) this.#closeChannel(ch);
        }
      }
    }
    for (const ns of this.#nameservers) if (ns.tcp !== null && ns.tcpPending.size === 0) this.#closeTcp(ns, "idle");
  }

  /** Drop a query without telling its owner (cancelled, or the DnsBase freed). */
  #abandon(query: Query): void {
    if (query.state === "done") return;
    const wasInflight = query.state === "inflight";
    this.#release(query);
    if (query.probeOf !== null) query.probeOf.probing = false;
    if (wasInflight && query.probeOf === null) {
      this.#inflight--;
      this.#pump();
    }
  }

  // ---------------------------------------------------------------- nameserver health

  #nameserverUp(ns: Nameserver): void {
    ns.timedOut = 0;
    if (ns.state === "up") return;
    ns.state = "up";
    this.#down--;
    ns.failedTimes = 0;
    this.#log(false, `nameserver ${ns.label} is up again`);
  }

  #nameserverFailed(ns: Nameserver, why: string): void {
    ns.timedOut = 0;
    if (ns.state === "down") return;
    ns.state = "down";
    this.#down++;
    ns.failedTimes = 1;
    ns.nextProbe = this.#base.now() + this.#settings.initialProbeTimeoutMs;
    const left = this.#nameservers.filter((n) => n.state === "up").length;
    this.#log(false, `nameserver ${ns.label} is down: ${why}${left === 0 ? "; every nameserver is down" : ""}`);
  }

  /**
   * Probe the down nameservers whose probe is due. Probes go out only
   * while queries do: an idle resolver keeps no timer, so it never holds
   * the loop up, and a nameserver nobody needs need not be watched.
   */
  #probeDue(): void {
    const now = this.#base.now();
    for (const ns of this.#nameservers) {
      if (ns.state !== "down" || ns.probing || now < ns.nextProbe) continue;
      ns.probing = true;
      const probe = new Query(PROBE_NAME, new Uint8Array(1), DNS_TYPE_NS, DNS_QUERY_NO_SEARCH, ns, (outcome) => {
        ns.probing = false;
        const r = outcome.result;
        if (r === DNS_ERR_NONE || r === DNS_ERR_NOTEXIST || r === DNS_ERR_NODATA) {
          this.#nameserverUp(ns);
        } else if (ns.state === "down") {
          ns.failedTimes++;
          const s = this.#settings;
          const wait = Math.min(
            s.initialProbeTimeoutMs * s.probeBackoffFactor ** (ns.failedTimes - 1),
            s.maxProbeTimeoutMs,
          );
          ns.nextProbe = this.#base.now() + wait;
        }
      });
      this.#submit(probe);
    }
  }
}
