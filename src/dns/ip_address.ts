/**
 * IP address text: parsing to bytes and back (RFC 4291 §2.2, RFC 5952's
 * canonical IPv6 form), and the reverse-lookup names of RFC 1035 §3.5 and
 * RFC 3596 §2.5. The core cannot use `node:net`, so the resolver, the
 * server and the hosts file read and write addresses here.
 *
 * @module
 */

const HEX = "0123456789abcdef";

/** The 4 bytes of a dotted-quad IPv4 address, or null when `text` is not one (no leading zeros, each part 0-255). */
export function parseIpv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // "01" is refused: some parsers read a leading zero as octal.
      if (digits === 1 && value === 0) return null;
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? out : null;
}

/** The 16 bytes of an IPv6 address in any RFC 4291 text form (`::`, an embedded IPv4 tail), or null. No zone (`%eth0`). */
export function parseIpv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const n = text.length;
  if (n < 2) return null;
  let at = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return null;
    gap = 0;
    i = 2;
    if (i === n) return out;
  }
  while (i < n) {
    if (at >= 16) return null;
    let value = 0;
    let digits = 0;
    const start = i;
    while (i < n && digits < 5) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
      i++;
    }
    if (i < n && text.charCodeAt(i) === 46) {
      // The last 32 bits as a dotted quad.
      if (at > 12) return null;
      const v4 = parseIpv4(text.slice(start));
      if (v4 === null) return null;
      out.set(v4, at);
      at += 4;
      i = n;
      break;
    }
    if (digits === 0 || digits > 4) return null;
    out[at++] = value >> 8;
    out[at++] = value & 0xff;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return null;
    i++;
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap >= 0) return null;
      gap = at;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return null;
    }
  }
  if (gap < 0) return at === 16 ? out : null;
  if (at === 16) return null;
  const tail = at - gap;
  out.copyWithin(16 - tail, gap, at);
  out.fill(0, gap, 16 - tail);
  return out;
}

/** 4 or 6 when `text` is an IPv4 or IPv6 address, 0 otherwise. */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (parseIpv4(text) !== null) return 4;
  return text.includes(":") && parseIpv6(text) !== null ? 6 : 0;
}

/** Dotted-quad text of the 4 bytes at `offset`. */
export function formatIpv4(bytes: Uint8Array, offset: number = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text of the 16 bytes at `offset`: lowercase, the longest run of two or more zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array, offset: number = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[offset + i] << 8) | bytes[offset + i + 1]);
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestAt < 0) return groups.map(hex).join(":");
  return `${groups.slice(0, bestAt).map(hex).join(":")}::${groups.slice(bestAt + bestLen).map(hex).join(":")}`;
}

/** The canonical text of an IP address (`"0::1"` becomes `"::1"`), or null when `text` is not one. */
export function normalizeIp(text: string): string | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return formatIpv4(v4);
  const v6 = text.includes(":") ? parseIpv6(text) : null;
  return v6 === null ? null : formatIpv6(v6);
}

/**
 * The name a PTR lookup of an address asks for: `4.3.2.1.in-addr.arpa`
 * for 1.2.3.4, 32 nibbles then `ip6.arpa` for IPv6. Null when `address`
 * is not an IP address.
 */
export function reverseName(address: string): string | null {
  const v4 = parseIpv4(address);
  if (v4 !== null) return `${v4[3]}.${v4[2]}.${v4[1]}.${v4[0]}.in-addr.arpa`;
  const v6 = address.includes(":") ? parseIpv6(address) : null;
  if (v6 === null) return null;
  let name = "";
  for (let i = 15; i >= 0; i--) name += `${HEX[v6[i] & 15]}.${HEX[v6[i] >> 4]}.`;
  return `${name}ip6.arpa`;
}

/**
 * The address a reverse-lookup name stands for (`4.3.2.1.in-addr.arpa` is
 * 1.2.3.4), any case, with or without the final dot; null for any other
 * name.
 */
export function addressOfReverseName(name: string): string | null {
  const lower = name.toLowerCase().replace(/\.$/, "");
  if (lower.endsWith(".in-addr.arpa")) {
    const parts = lower.slice(0, -".in-addr.arpa".length).split(".");
    if (parts.length !== 4) return null;
    const v4 = parseIpv4(parts.reverse().join("."));
    return v4 === null ? null : formatIpv4(v4);
  }
  if (lower.endsWith(".ip6.arpa")) {
    const nibbles = lower.slice(0, -".ip6.arpa".length).split(".");
    if (nibbles.length !== 32) return null;
    const out = new Uint8Array(16);
    for (let i = 0; i < 32; i++) {
      const nib = nibbles[i];
      const d = nib.length === 1 ? HEX.indexOf(nib) : -1;
      if (d < 0) return null;
      const byte = 15 - (i >> 1);
      out[byte] |= i & 1 ? d << 4 : d;
    }
    return formatIpv6(out);
  }
  return null;
}
