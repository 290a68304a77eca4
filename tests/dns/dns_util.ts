/**
 * What the DNS tests share: a scripted nameserver on 127.0.0.1 (UDP, and
 * TCP on the same port) through the platform, and reply builders.
 */
import { autoPlatform } from "../../adapters/auto.ts";
import {
  decodeDnsMessage,
  DNS_FLAG_QR,
  DNS_FLAG_RA,
  DNS_FLAG_RD,
  type DnsMessage,
  type DnsRecord,
  encodeDnsMessage,
} from "../../src/dns/dns_message.ts";
import type { NetAddress, Platform, TcpListener, TcpSocket, UdpSocket } from "../../src/platform.ts";
import { concat } from "../util.ts";

export const platform: ReturnType<typeof autoPlatform> = autoPlatform();

/** What the script answers a query with: bytes to send, several datagrams, or null for silence. */
export type Script = (query: DnsMessage, raw: Uint8Array, transport: "udp" | "tcp") => Uint8Array | Uint8Array[] | null;

/** A scripted nameserver. */
export interface FakeNameserver {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly port: number;
  /** Every query it received, in order, with how it came. */
  readonly queries: Array<{ message: DnsMessage; transport: "udp" | "tcp"; from: NetAddress }>;
  /** Send a datagram from the nameserver's UDP port. */
  send(bytes: Uint8Array, to: NetAddress): void;
  /** Replace the script. */
  script: Script;
  close(): Promise<void>;
}

/** A reply to `query`: QR, RD and RA set, the question echoed as received. */
export function reply(
  query: DnsMessage,
  parts: { rcode?: number; flags?: number; answers?: DnsRecord[]; authorities?: DnsRecord[] } = {},
): Uint8Array {
  return encodeDnsMessage({
    id: query.id,
    flags: DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA | (parts.flags ?? 0),
    rcode: parts.rcode ?? 0,
    questions: query.questions,
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: [],
    edns: null,
  });
}

/** A record owned by the query's name (as it was asked, letter case included). */
export function answer(query: DnsMessage, type: number, data: DnsRecord["data"], ttl = 60): DnsRecord {
  return { name: query.questions[0].name, type, class: 1, ttl, data };
}

/**
 * Start a scripted nameserver: UDP on a free port, and TCP on the same port.
 * Another program may hold the port UDP drew for TCP (a listener, or a
 * connection's local end, TIME_WAIT included), so a few ports are tried, as
 * DnsServer.bind does; a server that silently answered only over UDP would
 * send the resolver's TCP fallback to whoever holds that port.
 */
export async function fakeNameserver(script: Script, on: Platform = platform): Promise<FakeNameserver> {
  const queries: FakeNameserver["queries"] = [];
  const tcpSockets = new Set<TcpSocket>();
  const state = { script };
  const handle = (raw: Uint8Array, transport: "udp" | "tcp", from: NetAddress): Uint8Array[] => {
    let message: DnsMessage;
    try {
      message = decodeDnsMessage(raw);
    } catch {
      return [];
    }
    queries.push({ message, transport, from });
    const out = state.script(message, raw, transport);
    return out === null ? [] : Array.isArray(out) ? out : [out];
  };
  const accept = (socket: TcpSocket): void => {
    tcpSockets.add(socket);
    let pending: Uint8Array = new Uint8Array(0);
    socket.start({
      data(bytes) {
        pending = concat([pending, bytes]);
        while (pending.length >= 2) {
          const len = (pending[0] << 8) | pending[1];
          if (pending.length < 2 + len) break;
          const msg = pending.slice(2, 2 + len);
          pending = pending.slice(2 + len);
          for (const r of handle(msg, "tcp", socket.remoteAddress)) {
            socket.write(concat([Uint8Array.of(r.length >> 8, r.length & 255), r]));
          }
        }
      },
      end() {
        socket.end();
      },
      drain() {},
      error() {},
      close() {
        tcpSockets.delete(socket);
      },
    });
  };
  let udp: UdpSocket | null = null;
  let tcp: TcpListener | null = null;
  for (let tries = 8; tcp === null; tries--) {
    const bound: UdpSocket = await on.bindUdp({ host: "127.0.0.1", port: 0 }, {
      message(bytes, from) {
        for (const r of handle(bytes, "udp", from)) bound.send(r, from.host, from.port);
      },
    });
    udp = bound;
    try {
      tcp = await on.listen({ host: "127.0.0.1", port: bound.address.port }, accept);
    } catch (err) {
      bound.close();
      if (tries <= 1 || (err as { code?: string }).code !== "EADDRINUSE") throw err;
    }
  }
  const port = udp!.address.port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    get script() {
      return state.script;
    },
    set script(s: Script) {
      state.script = s;
    },
    send(bytes, to) {
      udp!.send(bytes, to.host, to.port);
    },
    async close() {
      udp!.close();
      for (const s of tcpSockets) s.close();
      await tcp!.close();
    },
  };
}

/** A port where nothing answers: a UDP socket bound and never read from, closed by the caller. */
export async function silentPort(): Promise<{ address: string; close(): void }> {
  const udp = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, { message() {} });
  return { address: `127.0.0.1:${udp.address.port}`, close: () => udp.close() };
}

/**
 * A port held for TCP by "another program" (a listener that closes each
 * connection once it has bytes, as an HTTP server does with a DNS query),
 * and a platform whose next UDP bind to port 0 draws that port: what a busy
 * machine does now and then, made certain.
 */
export async function portHeldForTcp(): Promise<{
  readonly port: number;
  /** Connections the holder accepted. */
  readonly accepted: number;
  /** `platform`, but its first bindUdp to port 0 gets the held port. */
  readonly platform: Platform;
  close(): Promise<void>;
}> {
  let accepted = 0;
  const holder = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
    accepted++;
    socket.start({ data: () => socket.close(), end: () => socket.close(), drain() {}, error() {}, close() {} });
  });
  const port = holder.address.port;
  let drawn = false;
  const wrapped: Platform = Object.create(platform);
  wrapped.bindUdp = (options, handlers) => {
    if (options.port !== 0 || drawn) return platform.bindUdp(options, handlers);
    drawn = true;
    return platform.bindUdp({ ...options, port }, handlers);
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    platform: wrapped,
    close: () => holder.close(),
  };
}
