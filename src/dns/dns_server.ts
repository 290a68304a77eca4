/**
 * DnsServer: a program's own DNS server (libevent's evdns server port,
 * `evdns_add_server_port_with_base`), over UDP and TCP on the same port.
 *
 * @module
 */
import { BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_TIMEOUT, BufferEvent } from "../buffer/bufferevent.ts";
import { Listener } from "../buffer/listener.ts";
import {
  checkCallback,
  checkEventBase,
  checkFunction,
  checkInteger,
  checkObject,
  checkPort,
  checkString,
  typeError,
} from "../check.ts";
import { freedError } from "../errors.ts";
import { adopt, baseFreed, disown, Event, type EventBase } from "../event/event_base.ts";
import { EV_PERSIST, EV_READ, EV_TIMEOUT, EV_WRITE } from "../event/flags.ts";
import type { NetAddress, TcpSocket, UdpSocket } from "../platform.ts";
import { DnsError } from "./dns_error.ts";
import {
  decodeDnsMessage,
  DNS_CLASS_IN,
  DNS_FLAG_AA,
  DNS_FLAG_AD,
  DNS_FLAG_CD,
  DNS_FLAG_QR,
  DNS_FLAG_RA,
  DNS_FLAG_RD,
  DNS_HEADER_BYTES,
  DNS_OPCODE_QUERY,
  DNS_RCODE_BADVERS,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_OPT,
  DNS_TYPE_PTR,
  DNS_TYPE_SRV,
  DNS_TYPE_TXT,
  type DnsEdns,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  type DnsRecordData,
  type DnsSrv,
  encodeDnsMessage,
} from "./dns_message.ts";
import { nameLabels } from "./dns_name.ts";
import { takeTcpMessages, tcpFrame } from "./dns_tcp.ts";
import { ipFamily, parseIpv4, parseIpv6, reverseName } from "./ip_address.ts";

/** The answer section (libevent `EVDNS_ANSWER_SECTION`). */
export const DNS_ANSWER_SECTION = 0;
/** The authority section (libevent `EVDNS_AUTHORITY_SECTION`). */
export const DNS_AUTHORITY_SECTION = 1;
/** The additional section (libevent `EVDNS_ADDITIONAL_SECTION`). */
export const DNS_ADDITIONAL_SECTION = 2;

/** Response code NOERROR. */
export const DNS_RCODE_NOERROR = 0;
/** Response code FORMERR: the query could not be read. */
export const DNS_RCODE_FORMERR = 1;
/** Response code SERVFAIL. */
export const DNS_RCODE_SERVFAIL = 2;
/** Response code NXDOMAIN: no such name. */
export const DNS_RCODE_NXDOMAIN = 3;
/** Response code NOTIMP: not a kind of query this server does. */
export const DNS_RCODE_NOTIMP = 4;
/** Response code REFUSED. */
export const DNS_RCODE_REFUSED = 5;

/** The most a UDP answer may be without EDNS0 (RFC 1035 §4.2.1). */
const PLAIN_UDP_SIZE = 512;

/** The callback that gets each request (libevent `evdns_request_callback_fn_type`). */
export type DnsServerCallback<A = unknown> = (request: DnsServerRequest, arg: A) => void;

/** Where a DnsServer listens and its limits. */
export interface DnsServerOptions<A = unknown> {
  /** The address to bind, UDP and TCP both. */
  readonly host: string;
  /** The port, UDP and TCP both; 0 picks a free one for both. */
  readonly port: number | string;
  /** The largest UDP answer sent to a client that offers EDNS0, whatever size it offers (default 4096). */
  readonly maxUdpSize?: number;
  /** TCP connections at once (libevent `EVDNS_SOPT_TCP_MAX_CLIENTS`); more are closed at once (default 100). */
  readonly maxTcpClients?: number;
  /** A TCP connection idle this long is closed, in ms (libevent `EVDNS_SOPT_TCP_IDLE_TIMEOUT`; default 10 s). */
  readonly tcpIdleTimeoutMs?: number;
  /** Passed to the callback. */
  readonly arg?: A;
}

/** Reports a callback's failure; the default prints it on stderr. */
export type DnsServerErrorLogger = (error: unknown, request: DnsServerRequest) => void;

/** Where the reply to one request goes. */
interface ReplyPath {
  readonly transport: "udp" | "tcp";
  readonly from: NetAddress;
  /** Send a reply; false when the way back is gone (the server closed, or the TCP connection did). */
  send(bytes: Uint8Array): boolean;
}

let newServerRequest: (query: DnsMessage, path: ReplyPath, maxSize: number, ednsSize: number) => DnsServerRequest;

/**
 * One query a {@linkcode DnsServer} received (libevent `struct
 * evdns_server_request`): its questions, and the records of its answer as
 * they are added. {@linkcode DnsServerRequest.respond} sends the answer;
 * {@linkcode DnsServerRequest.drop} sends nothing. Either may come later,
 * outside the callback.
 *
 * @example
 * ```ts ignore
 * import { DNS_RCODE_NXDOMAIN, DNS_TYPE_A, DnsServer } from "@levent/levent/dns";
 * await DnsServer.bind(base, { host: "127.0.0.1", port: 10053 }, (req) => {
 *   const q = req.questions[0];
 *   if (q.type === DNS_TYPE_A && q.name.toLowerCase() === "web.test") req.addAReply(q.name, ["192.0.2.1"], 60);
 *   req.respond(req.answerCount > 0 ? 0 : DNS_RCODE_NXDOMAIN);
 * });
 * ```
 */
export class DnsServerRequest {
  static {
    newServerRequest = (query, path, maxSize, ednsSize) => new DnsServerRequest(query, path, maxSize, ednsSize);
  }

  readonly #query: DnsMessage;
  readonly #path: ReplyPath;
  readonly #maxSize: number;
  readonly #ednsSize: number;
  readonly #sections: [DnsRecord[], DnsRecord[], DnsRecord[]] = [[], [], []];
  #flags: number;
  #state: "open" | "done" = "open";

  private constructor(query: DnsMessage, path: ReplyPath, maxSize: number, ednsSize: number) {
    this.#query = query;
    this.#path = path;
    this.#maxSize = maxSize;
    this.#ednsSize = ednsSize;
    this.#flags = DNS_FLAG_QR | (query.flags & DNS_FLAG_RD);
  }

  /** The query's ID. */
  get id(): number {
    return this.#query.id;
  }

  /** The query's header flags (`DNS_FLAG_RD`...), libevent's `req->flags`. */
  get flags(): number {
    return this.#query.flags;
  }

  /**
   * The questions (libevent `req->questions`); a query has one. Names are
   * as the client wrote them, letter case included (a resolver using 0x20
   * randomizes it): compare them without case, and answer with them as
   * they are.
   */
  get questions(): readonly DnsQuestion[] {
    return this.#query.questions;
  }

  /** The query's EDNS0 record, or null. */
  get edns(): DnsEdns | null {
    return this.#query.edns;
  }

  /** `"udp"` or `"tcp"`. */
  get transport(): "udp" | "tcp" {
    return this.#path.transport;
  }

  /** Who asked (libevent `evdns_server_request_get_requesting_addr`). */
  get from(): NetAddress {
    return this.#path.from;
  }

  /** How many answer records have been added. */
  get answerCount(): number {
    return this.#sections[0].length;
  }

  /** Whether respond() or drop() was called. */
  get done(): boolean {
    return this.#state === "done";
  }

  /**
   * Set the answer's header flags (libevent
   * `evdns_server_request_set_flags`): `DNS_FLAG_AA` (authoritative),
   * `DNS_FLAG_RA`, `DNS_FLAG_AD`, `DNS_FLAG_CD`; other bits are ignored.
   * QR is always set, RD is always the query's (RFC 1035 §4.1.1), and TC
   * is the server's to set.
   *
   * @throws {RangeError} for flags outside 0..65535
   */
  setFlags(flags: number): void {
    checkInteger(flags, "flags", 0, 0xffff);
    this.#flags = DNS_FLAG_QR | (this.#query.flags & DNS_FLAG_RD) |
      (flags & (DNS_FLAG_AA | DNS_FLAG_RA | DNS_FLAG_AD | DNS_FLAG_CD));
  }

  /**
   * Add a record to a section (libevent `evdns_server_request_add_reply`):
   * `data` shaped as {@linkcode DnsRecordData} says for `type` (an address
   * text for A and AAAA, a name for CNAME/PTR/NS, `{ preference, exchange
   * }` for MX, strings for TXT, `{ priority, weight, port, target }` for
   * SRV, bytes for other types).
   *
   * @throws {TypeError} for a section other than 0-2, a name that is not one, data that does not suit the type, or a request already answered
   * @throws {RangeError} for a type or TTL out of range
   */
  addReply(
    section: number,
    name: string,
    type: number,
    ttl: number,
    data: DnsRecordData,
    klass: number = DNS_CLASS_IN,
  ): void {
    if (section !== DNS_ANSWER_SECTION && section !== DNS_AUTHORITY_SECTION && section !== DNS_ADDITIONAL_SECTION) {
      throw typeError("section", "DNS_ANSWER_SECTION, DNS_AUTHORITY_SECTION or DNS_ADDITIONAL_SECTION", section);
    }
    checkInteger(type, "type", 1, 0xffff);
    if (type === DNS_TYPE_OPT) throw typeError("type", "a record type other than OPT", type);
    checkInteger(klass, "klass", 0, 0xffff);
    const record: DnsRecord = { name: this.#name(name, "name"), type, class: klass, ttl: this.#ttl(ttl), data };
    // A trial encoding checks the data now, where the caller can see the error, not later in respond().
    encodeDnsMessage({
      id: 0,
      flags: 0,
      rcode: 0,
      questions: [],
      answers: [record],
      authorities: [],
      additionals: [],
      edns: null,
    });
    this.#sections[section].push(record);
  }

  /** Add A records for `name` (libevent `evdns_server_request_add_a_reply`). @throws {TypeError} for an address that is not IPv4 */
  addAReply(name: string, addresses: readonly string[], ttl: number): void {
    this.#addresses(name, addresses, ttl, DNS_TYPE_A);
  }

  /** Add AAAA records for `name` (libevent `evdns_server_request_add_aaaa_reply`). @throws {TypeError} for an address that is not IPv6 */
  addAaaaReply(name: string, addresses: readonly string[], ttl: number): void {
    this.#addresses(name, addresses, ttl, DNS_TYPE_AAAA);
  }

  /**
   * Add a PTR record (libevent `evdns_server_request_add_ptr_reply`): the
   * owner is `address`'s in-addr.arpa or ip6.arpa name, or `address` itself
   * when it is already a name.
   */
  addPtrReply(address: string, hostname: string, ttl: number): void {
    checkString(address, "address");
    const owner = ipFamily(address) !== 0 ? reverseName(address)! : this.#name(address, "address");
    this.#push(owner, DNS_TYPE_PTR, ttl, this.#name(hostname, "hostname"));
  }

  /** Add a CNAME record (libevent `evdns_server_request_add_cname_reply`). */
  addCnameReply(name: string, cname: string, ttl: number): void {
    this.#push(this.#name(name, "name"), DNS_TYPE_CNAME, ttl, this.#name(cname, "cname"));
  }

  /** Add an MX record. */
  addMxReply(name: string, preference: number, exchange: string, ttl: number): void {
    checkInteger(preference, "preference", 0, 0xffff);
    this.#push(this.#name(name, "name"), DNS_TYPE_MX, ttl, { preference, exchange: this.#name(exchange, "exchange") });
  }

  /** Add a TXT record of one or more strings (each at most 255 bytes of UTF-8). */
  addTxtReply(name: string, strings: readonly string[], ttl: number): void {
    this.addReply(DNS_ANSWER_SECTION, name, DNS_TYPE_TXT, ttl, strings);
  }

  /** Add an SRV record (RFC 2782). */
  addSrvReply(name: string, srv: DnsSrv, ttl: number): void {
    this.addReply(DNS_ANSWER_SECTION, name, DNS_TYPE_SRV, ttl, srv);
  }

  /**
   * Send the answer with `rcode` (libevent `evdns_server_request_respond`;
   * 0 NOERROR, `DNS_RCODE_NXDOMAIN`...). Over UDP, an answer larger than
   * 512 bytes, or than the client's EDNS0 size, loses the records that do
   * not fit and has TC set, so the client asks again over TCP. Returns
   * false when the request was already answered or dropped, or the
   * server or the connection it came on has closed.
   *
   * @throws {RangeError} for an rcode outside 0..4095
   */
  respond(rcode: number = DNS_RCODE_NOERROR): boolean {
    checkInteger(rcode, "rcode", 0, 4095);
    if (this.#state === "done") return false;
    this.#state = "done";
    const q = this.#query;
    const edns = q.edns === null ? null : { udpSize: this.#ednsSize, version: 0, dnssecOk: false, options: [] };
    const bytes = encodeDnsMessage({
      id: q.id,
      flags: this.#flags | (q.flags & 0x7800),
      rcode: edns === null && rcode > 15 ? DNS_RCODE_SERVFAIL : rcode,
      questions: q.questions,
      answers: this.#sections[0],
      authorities: this.#sections[1],
      additionals: this.#sections[2],
      edns,
    }, { maxSize: this.#maxSize });
    return this.#path.send(bytes);
  }

  /** Send nothing and forget the request (libevent `evdns_server_request_drop`). */
  drop(): void {
    this.#state = "done";
  }

  #name(name: string, what: string): string {
    const labels = typeof name === "string" ? nameLabels(name) : "it is not a string";
    if (typeof labels === "string") {
      throw new TypeError(`${what} must be a domain name (${labels}), got ${String(name)}`);
    }
    return name;
  }

  #ttl(ttl: number): number {
    return checkInteger(ttl, "ttl", 0, 0x7fffffff);
  }

  #push(name: string, type: number, ttl: number, data: DnsRecordData): void {
    this.#sections[0].push({ name, type, class: DNS_CLASS_IN, ttl: this.#ttl(ttl), data });
  }

  #addresses(name: string, addresses: readonly string[], ttl: number, type: number): void {
    const owner = this.#name(name, "name");
    if (!Array.isArray(addresses)) throw typeError("addresses", "an array of addresses", addresses);
    this.#ttl(ttl);
    const parse = type === DNS_TYPE_A ? parseIpv4 : parseIpv6;
    for (const a of addresses) {
      if (typeof a !== "string" || parse(a) === null) {
        throw typeError("addresses", `${type === DNS_TYPE_A ? "IPv4" : "IPv6"} addresses`, a);
      }
    }
    for (const a of addresses) this.#push(owner, type, ttl, a);
  }
}

/** A datagram waiting for the loop. */
interface Datagram {
  readonly bytes: Uint8Array;
  readonly from: NetAddress;
}

/**
 * A DNS server on one port, UDP and TCP (libevent
 * `evdns_add_server_port_with_base`; TCP as
 * `evdns_add_server_port_with_listener`). Each query that is a query
 * reaches the callback as a {@linkcode DnsServerRequest}; what is not a
 * message is dropped (shorter than a header, or a response), one that
 * cannot be read gets FORMERR, one of another opcode NOTIMP, one with an
 * EDNS version other than 0 BADVERS, and the server goes on answering the
 * others. A callback that throws answers SERVFAIL, and the error goes to
 * the error logger.
 *
 * @example
 * ```ts ignore
 * import { EventBase } from "@levent/levent/event";
 * import { DNS_TYPE_A, DnsServer } from "@levent/levent/dns";
 * const base = new EventBase();
 * const server = await DnsServer.bind(base, { host: "127.0.0.1", port: 10053 }, (req) => {
 *   for (const q of req.questions) if (q.type === DNS_TYPE_A) req.addAReply(q.name, ["192.0.2.1"], 300);
 *   req.respond();
 * });
 * console.log(`listening on udp://127.0.0.1:${server.address.port}`);
 * await base.dispatch();
 * ```
 */
export class DnsServer<A = unknown> {
  readonly #base: EventBase;
  readonly #callback: DnsServerCallback<A>;
  readonly #arg: A;
  readonly #maxUdpSize: number;
  readonly #maxTcpClients: number;
  readonly #tcpIdleTimeoutMs: number;
  #udp: UdpSocket | null = null;
  /** Kept for the address getter, which still answers after close(). */
  #address: NetAddress | null = null;
  #listener: Listener | null = null;
  readonly #connections = new Set<BufferEvent>();
  #inbox: Datagram[] = [];
  readonly #event: Event;
  #logger: DnsServerErrorLogger | null = null;
  #closed: Promise<void> | null = null;

  private constructor(base: EventBase, callback: DnsServerCallback<A>, options: DnsServerOptions<A>) {
    this.#base = base;
    this.#callback = callback;
    this.#arg = options.arg as A;
    this.#maxUdpSize = checkInteger(options.maxUdpSize ?? 4096, "options.maxUdpSize", PLAIN_UDP_SIZE, 65507);
    this.#maxTcpClients = checkInteger(options.maxTcpClients ?? 100, "options.maxTcpClients", 1, 0x7fffffff);
    this.#tcpIdleTimeoutMs = checkInteger(options.tcpIdleTimeoutMs ?? 10000, "options.tcpIdleTimeoutMs", 1, 0x7fffffff);
    // Pending for as long as the server is open, so the loop keeps running for it, as libevent's read event does.
    this.#event = new Event(base, null, EV_PERSIST, () => this.#drain());
  }

  /**
   * Bind UDP and TCP on `options.host` and `options.port` and start
   * serving on `base` (libevent `evdns_add_server_port_with_base`). With
   * port 0, both get the same free port. The base's free() closes the
   * server (see {@linkcode DnsServer.close}).
   *
   * @throws {TypeError} for a base, options or callback of the wrong type
   * @throws {RangeError} for a port or limit out of range
   * @throws a coded platform error (as a rejection) when the port cannot be bound (`EADDRINUSE`...)
   * @throws {LeventError} `ERR_FREED` (as a rejection) if the base was freed, also while binding
   */
  static async bind<A = unknown>(
    base: EventBase,
    options: DnsServerOptions<A>,
    callback: DnsServerCallback<A>,
  ): Promise<DnsServer<A>> {
    checkEventBase(base, "base");
    checkObject(options, "options");
    checkString(options.host, "options.host");
    const port = checkPort(options.port, "options.port");
    checkFunction(callback, "callback");
    if (baseFreed(base)) throw freedError("DnsServer.bind", "EventBase");
    const server = new DnsServer(base, callback, options);
    server.#event.add();
    try {
      // Port 0: the TCP port must be the one UDP got; another program may hold it for TCP, so try a few.
      for (let tries = port === 0 ? 8 : 1;; tries--) {
        const udp = await base.platform.bindUdp({ host: options.host, port }, {
          message: (bytes, from) => server.#arrive(bytes, from),
        });
        try {
          server.#listener = await Listener.bind(
            base,
            { host: options.host, port: udp.address.port },
            (_l, socket) => server.#accept(socket),
          );
          server.#udp = udp;
          server.#address = udp.address;
          break;
        } catch (err) {
          udp.close();
          if (tries <= 1 || (err as { code?: string }).code !== "EADDRINUSE") throw err;
        }
      }
    } catch (err) {
      server.#event.free();
      throw baseFreed(base) ? freedError("DnsServer.bind", "EventBase") : err;
    }
    if (baseFreed(base)) {
      // Freed while the sockets were being bound: nothing may outlive it.
      await server.close();
      throw freedError("DnsServer.bind", "EventBase");
    }
    adopt(base, server.#releaseByBase);
    return server;
  }

  /** The bound address (UDP and TCP share it); still answers after close(). */
  get address(): NetAddress {
    return this.#address!;
  }

  /** TCP connections open now. */
  get tcpClients(): number {
    return this.#connections.size;
  }

  /**
   * Report callback failures to `logger` instead of stderr; null restores the default.
   *
   * @throws {TypeError} if logger is neither a function nor null
   * @throws {LeventError} `ERR_FREED` once the server was closed
   */
  setErrorLogger(logger: DnsServerErrorLogger | null): void {
    if (this.#closed !== null) throw freedError("setErrorLogger", "DnsServer", "closed");
    this.#logger = checkCallback(logger, "logger");
  }

  /**
   * Stop serving (libevent `evdns_close_server_port`): the UDP socket and
   * the TCP listener close, and so do the TCP connections; requests not
   * yet answered can no longer be (their respond() sends nothing). The
   * base's free() calls it too, so a server never keeps a program alive
   * after its base. Resolves once all is closed; calling it again returns
   * the same promise. The getters still answer; setErrorLogger() throws a
   * LeventError with code `ERR_FREED`.
   */
  close(): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    disown(this.#base, this.#releaseByBase);
    this.#udp?.close();
    this.#udp = null;
    for (const bev of this.#connections) bev.free();
    this.#connections.clear();
    this.#inbox = [];
    this.#event.free();
    const listener = this.#listener;
    this.#listener = null;
    this.#closed = listener === null ? Promise.resolve() : listener.free();
    return this.#closed;
  }

  /** {@linkcode DnsServer.close} without waiting, for `using`. */
  [Symbol.dispose](): void {
    void this.close();
  }

  /** {@linkcode DnsServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The base's free() closes the server as close() does. */
  readonly #releaseByBase = (): void => void this.close();

  #arrive(bytes: Uint8Array, from: NetAddress): void {
    if (this.#closed !== null) return;
    this.#inbox.push({ bytes, from });
    if (this.#inbox.length === 1) this.#event.active(EV_TIMEOUT);
  }

  #drain(): void {
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const { bytes, from } of inbox) {
      const udp = this.#udp;
      if (udp === null) return;
      this.#handle(bytes, {
        transport: "udp",
        from,
        send: (reply) => {
          if (this.#udp !== udp) return false;
          udp.send(reply, from.host, from.port);
          return true;
        },
      });
    }
  }

  #accept(socket: TcpSocket): void {
    if (this.#closed !== null || this.#connections.size >= this.#maxTcpClients) {
      socket.close();
      return;
    }
    const from = socket.remoteAddress;
    const bev = BufferEvent.socket(this.#base, socket, { closeOnFree: true });
    this.#connections.add(bev);
    const send = (reply: Uint8Array): boolean => {
      if (!this.#connections.has(bev)) return false;
      bev.write(tcpFrame(reply));
      return true;
    };
    const path: ReplyPath = { transport: "tcp", from, send };
    bev.setCallbacks(
      (b) => {
        for (const message of takeTcpMessages(b.input)) {
          if (!this.#connections.has(bev)) return;
          this.#handle(message, path);
        }
      },
      null,
      (b, what) => {
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
          this.#connections.delete(b);
          b.free();
        }
      },
    );
    bev.setTimeouts(this.#tcpIdleTimeoutMs);
    bev.enable(EV_READ | EV_WRITE);
  }

  /** One message from a client: to the callback, or answered here when it cannot go there. */
  #handle(bytes: Uint8Array, path: ReplyPath): void {
    // Too short to answer, or a response (answering it could start a loop between two servers): dropped.
    if (bytes.length < DNS_HEADER_BYTES || bytes[2] & 0x80) return;
    let query: DnsMessage;
    try {
      query = decodeDnsMessage(bytes);
    } catch (err) {
      if (!(err instanceof DnsError)) throw err;
      path.send(this.#bare(bytes, DNS_RCODE_FORMERR));
      return;
    }
    const opcode = (query.flags >>> 11) & 0x0f;
    if (opcode !== DNS_OPCODE_QUERY || query.questions.length !== 1) {
      path.send(this.#bare(bytes, opcode !== DNS_OPCODE_QUERY ? DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR));
      return;
    }
    const udpLimit = query.edns === null
      ? PLAIN_UDP_SIZE
      : Math.min(Math.max(query.edns.udpSize, PLAIN_UDP_SIZE), this.#maxUdpSize);
    const request = newServerRequest(query, path, path.transport === "udp" ? udpLimit : 65535, this.#maxUdpSize);
    if (query.edns !== null && query.edns.version !== 0) {
      request.respond(DNS_RCODE_BADVERS);
      return;
    }
    try {
      this.#callback(request, this.#arg);
    } catch (err) {
      this.#log(err, request);
      if (!request.done) request.respond(DNS_RCODE_SERVFAIL);
    }
  }

  /** An answer with no question, carrying only the query's ID, opcode and RD: for a query that is not read. */
  #bare(query: Uint8Array, rcode: number): Uint8Array {
    const out = new Uint8Array(DNS_HEADER_BYTES);
    out[0] = query[0];
    out[1] = query[1];
    out[2] = (DNS_FLAG_QR >>> 8) | (query[2] & 0x79);
    out[3] = rcode;
    return out;
  }

  #log(err: unknown, request: DnsServerRequest): void {
    if (this.#logger !== null) return this.#logger(err, request);
    const q = request.questions[0];
    console.error(`levent dns server: the callback failed for ${q.name} type ${q.type}:`, err);
  }
}
