/**
 * What a resolver request looks like from outside: libevent's answer types
 * and query flags, the callback shapes, and {@linkcode DnsRequest}, the
 * handle that cancels one.
 *
 * @module
 */
import type { DnsError } from "./dns_error.ts";

/** The answer type of {@linkcode DnsBase.resolveIpv4}: IPv4 addresses (`DNS_IPv4_A`). */
export const DNS_IPv4_A = 1;
/** The answer type of {@linkcode DnsBase.resolveReverse}: names (`DNS_PTR`). */
export const DNS_PTR = 2;
/** The answer type of {@linkcode DnsBase.resolveIpv6}: IPv6 addresses (`DNS_IPv6_AAAA`). */
export const DNS_IPv6_AAAA = 3;

/** Ask for the name as given, without the search list (`DNS_QUERY_NO_SEARCH`). */
export const DNS_QUERY_NO_SEARCH = 0x01;
/** Ask over TCP from the start (`DNS_QUERY_USEVC`). */
export const DNS_QUERY_USEVC = 0x02;
/** Take a truncated UDP answer as it is instead of asking again over TCP (`DNS_QUERY_IGNTC`). */
export const DNS_QUERY_IGNTC = 0x04;

/**
 * A request's callback (libevent's `evdns_callback_type`): the result
 * (`DNS_ERR_NONE` or the failure's `DNS_ERR_*`), the answer type
 * (`DNS_IPv4_A`, `DNS_IPv6_AAAA`, `DNS_PTR`, or for
 * {@linkcode DnsBase.resolve} the record type asked for), how many answers,
 * the seconds they may be kept (for NXDOMAIN and NODATA, the negative TTL
 * when the nameserver gave one), the answers, and the argument given with
 * the request. It runs on the EventBase's loop.
 */
export type DnsCallback<T = string, A = unknown> = (
  result: number,
  type: number,
  count: number,
  ttl: number,
  answers: readonly T[],
  arg: A,
) => void;

/** A request's answers, as its Promise form resolves with them. */
export interface DnsAnswer<T = string> {
  /** `DNS_IPv4_A`, `DNS_IPv6_AAAA`, `DNS_PTR`, or the record type asked for. */
  readonly type: number;
  /** Seconds the answers may be kept. */
  readonly ttl: number;
  /** The addresses, names or records. */
  readonly answers: readonly T[];
}

/** Options of the Promise forms ({@linkcode DnsBase.queryIpv4}...). */
export interface DnsQueryOptions {
  /** `DNS_QUERY_*` flags. */
  readonly flags?: number;
  /** Cancel the request when this signal aborts: the Promise rejects with `ERR_DNS_CANCEL`. */
  readonly signal?: AbortSignal;
}

/** Hints of {@linkcode DnsBase.getAddrInfo} (getaddrinfo's `hints`). */
export interface DnsAddrInfoHints {
  /** 4 or 6 for one family, 0 (the default) for both. */
  readonly family?: 0 | 4 | 6;
  /** One socket type; both (one result each) when absent. */
  readonly socktype?: "stream" | "dgram";
  /** With no node: the wildcard address to bind (`AI_PASSIVE`) rather than loopback. */
  readonly passive?: boolean;
  /** The node must be an IP address: no lookup (`AI_NUMERICHOST`). */
  readonly numericHost?: boolean;
  /** The service must be a port number (`AI_NUMERICSERV`). */
  readonly numericService?: boolean;
  /** Report the canonical name on the first result (`AI_CANONNAME`). */
  readonly canonName?: boolean;
}

/** One result of {@linkcode DnsBase.getAddrInfo} (an `evutil_addrinfo`). */
export interface DnsAddrInfo {
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The address. */
  readonly address: string;
  /** The service's port (0 when no service was given). */
  readonly port: number;
  /** The socket type. */
  readonly socktype: "stream" | "dgram";
  /** The protocol that goes with it. */
  readonly protocol: "tcp" | "udp";
  /** With `canonName`, on the first result: the name the node's CNAME chain ended at. */
  readonly canonName?: string;
}

/**
 * {@linkcode DnsBase.getAddrInfo}'s callback (libevent's
 * `evdns_getaddrinfo_cb`): null and the results, or the error and none.
 */
export type DnsAddrInfoCallback<A = unknown> = (
  error: DnsError | null,
  results: readonly DnsAddrInfo[],
  arg: A,
) => void;

/** How a request is stopped from outside; the request's owner fills it in. */
interface RequestControl {
  /** True once the callback was called (or is about to be). */
  done: boolean;
  /** Stop it: the callback gets `DNS_ERR_CANCEL`. */
  cancel(): void;
}

/** Make a request handle over its control (set in DnsRequest's static block). */
export let newDnsRequest: (control: RequestControl) => DnsRequest;

/**
 * A pending lookup (libevent's `struct evdns_request` or
 * `evdns_getaddrinfo_request`): what {@linkcode DnsBase.resolveIpv4} and
 * the other callback forms return, to cancel it with.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent";
 * import { DNS_ERR_CANCEL, DnsBase } from "@levent/levent/dns";
 * const base = new EventBase();
 * const dns = new DnsBase(base, { nameservers: ["192.0.2.53"] });
 * const req = dns.resolveIpv4("example.test", 0, (result) => console.log(result === DNS_ERR_CANCEL)); // true
 * req.cancel(); // evdns_cancel_request()
 * await base.dispatch();
 * dns.free();
 * ```
 */
export class DnsRequest {
  static {
    newDnsRequest = (control) => new DnsRequest(control);
  }

  readonly #control: RequestControl;

  private constructor(control: RequestControl) {
    this.#control = control;
  }

  /** True once the request has its result (its callback has run or is about to). */
  get done(): boolean {
    return this.#control.done;
  }

  /**
   * Cancel the request (libevent `evdns_cancel_request`,
   * `evdns_getaddrinfo_cancel`): its callback gets `DNS_ERR_CANCEL`
   * (getAddrInfo's, a DnsError `ERR_DNS_CANCEL`), on the loop. Does nothing
   * once the request is done.
   */
  cancel(): void {
    if (!this.#control.done) this.#control.cancel();
  }
}
