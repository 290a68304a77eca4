/**
 * Nameserver addresses as libevent's `evdns_base_nameserver_ip_add` reads
 * them: `IPv4`, `IPv4:PORT`, `IPv6`, `[IPv6]`, `[IPv6]:PORT`; port 53 when
 * none is given.
 *
 * @module
 */
import { normalizeIp, parseIpv4, parseIpv6 } from "./ip_address.ts";

/** The DNS port. */
export const DNS_PORT = 53;

/** A nameserver's address: canonical IP text, port and family. */
export interface NameserverAddress {
  /** The IP address, canonical text. */
  readonly host: string;
  /** The port. */
  readonly port: number;
  /** 4 or 6. */
  readonly family: 4 | 6;
}

function port(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** Read `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`; null when `text` is none of them. */
export function parseNameserver(text: string): NameserverAddress | null {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return null;
    const host = text.slice(1, close);
    const rest = text.slice(close + 1);
    const p = rest === "" ? DNS_PORT : rest.startsWith(":") ? port(rest.slice(1)) : null;
    if (p === null || parseIpv6(host) === null) return null;
    return { host: normalizeIp(host)!, port: p, family: 6 };
  }
  const colons = text.split(":").length - 1;
  if (colons > 1) {
    return parseIpv6(text) === null ? null : { host: normalizeIp(text)!, port: DNS_PORT, family: 6 };
  }
  const [host, portText] = colons === 1 ? text.split(":") : [text, undefined];
  const p = portText === undefined ? DNS_PORT : port(portText);
  if (p === null || parseIpv4(host) === null) return null;
  return { host: normalizeIp(host)!, port: p, family: 4 };
}

/** `host:port`, or `[host]:port` for IPv6. */
export function formatNameserver(address: NameserverAddress): string {
  return address.family === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
