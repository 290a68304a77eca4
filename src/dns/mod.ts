/**
 * DNS: libevent's evdns. {@linkcode DnsBase} is the asynchronous resolver
 * (`evdns_base`: resolveIpv4, resolveIpv6, resolveReverse, resolve for any
 * type, getAddrInfo, each with a callback or as a Promise), over the
 * platform's UDP and TCP, with search domains, failover between
 * nameservers, TCP after a truncated answer, 0x20 and a TTL cache;
 * {@linkcode DnsServer} answers DNS itself (`evdns_add_server_port`);
 * {@linkcode decodeDnsMessage} and {@linkcode encodeDnsMessage} are the
 * wire codec.
 *
 * @example
 * ```ts ignore
 * import { EventBase } from "@levent/levent/event";
 * import { DnsBase } from "@levent/levent/dns";
 * const base = new EventBase();
 * const dns = new DnsBase(base, { nameservers: ["127.0.0.1:10053"] });
 * const answer = dns.queryIpv4("www.example.test"); // pending: it keeps the loop running
 * await base.dispatch();
 * console.log((await answer).answers);
 * dns.free();
 * ```
 *
 * @module
 */
export { LeventError, type LeventErrorOptions } from "../errors.ts";
export {
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
  type DnsErrorCode,
  dnsErrToString,
} from "./dns_error.ts";
export {
  decodeDnsMessage,
  DNS_CLASS_IN,
  DNS_FLAG_AA,
  DNS_FLAG_AD,
  DNS_FLAG_CD,
  DNS_FLAG_QR,
  DNS_FLAG_RA,
  DNS_FLAG_RD,
  DNS_FLAG_TC,
  DNS_HEADER_BYTES,
  DNS_OPCODE_QUERY,
  DNS_RCODE_BADVERS,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_ANY,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_OPT,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  DNS_TYPE_SRV,
  DNS_TYPE_TXT,
  type DnsEdns,
  type DnsEdnsOption,
  type DnsEncodeOptions,
  type DnsMessage,
  type DnsMx,
  type DnsQuestion,
  type DnsRecord,
  type DnsRecordData,
  type DnsSoa,
  type DnsSrv,
  encodeDnsMessage,
} from "./dns_message.ts";
export {
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
  DnsRequest,
} from "./dns_request.ts";
export {
  DEFAULT_DNS_SETTINGS,
  DNS_OPTION_HOSTSFILE,
  DNS_OPTION_MISC,
  DNS_OPTION_NAMESERVERS,
  DNS_OPTION_NAMESERVERS_NO_DEFAULT,
  DNS_OPTION_SEARCH,
  DNS_OPTIONS_ALL,
  DnsBase,
  type DnsBaseOptions,
  type DnsLogFn,
  type DnsNameserverInfo,
  type DnsSettings,
} from "./dns_base.ts";
export {
  DNS_ADDITIONAL_SECTION,
  DNS_ANSWER_SECTION,
  DNS_AUTHORITY_SECTION,
  DNS_RCODE_FORMERR,
  DNS_RCODE_NOERROR,
  DNS_RCODE_NOTIMP,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_REFUSED,
  DNS_RCODE_SERVFAIL,
  DnsServer,
  type DnsServerCallback,
  type DnsServerErrorLogger,
  type DnsServerOptions,
  DnsServerRequest,
} from "./dns_server.ts";
export { type HostsEntry, HostsFile } from "./hosts_file.ts";
export { parseResolvConf, type ResolvConf } from "./resolv_conf.ts";
export { addressOfReverseName, reverseName } from "./ip_address.ts";
// Types the API names from other modules, re-exported so this entry point documents every type it exposes.
export type { EventBase } from "../event/event_base.ts";
export type { HostResolver } from "../http/http_connection.ts";
export type { LookupAddress, NetAddress } from "../platform.ts";
