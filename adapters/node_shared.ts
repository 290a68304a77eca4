/**
 * Pieces built on `node:` modules that all three runtimes provide and where
 * the runtime has no native equivalent, plus error-code normalisation:
 *
 * - system name lookup (`node:dns`): `dns.lookup` is getaddrinfo (hosts
 *   file, then DNS); Deno's own `Deno.resolveDns` skips the hosts file;
 * - UDP (`node:dgram`), for Node and Deno: Deno's own `Deno.listenDatagram`
 *   needs `--unstable-net` (Bun uses `Bun.udpSocket`);
 * - files (`node:fs/promises`), for Node and Bun (Deno uses `Deno.open`).
 *
 * Raw-deflate streams (`node:zlib`) are in `zlib.ts`.
 *
 * @module
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import dns from "node:dns";
import { isIP } from "node:net";
import type { Stats } from "node:fs";
import { type FileHandle as NodeFileHandle, open, readdir, realpath, stat } from "node:fs/promises";
import type {
  DirEntry,
  FileHandle,
  FileInfo,
  FileSystem,
  LookupAddress,
  NetAddress,
  SignalName,
  UdpBindOptions,
  UdpHandlers,
  UdpSocket,
} from "../src/platform.ts";
import { LeventError } from "../src/errors.ts";

/** An Error carrying an errno-style `code`, as every adapter error does. */
export interface CodedError extends Error {
  /** `ECONNREFUSED`, `ENOENT`, ... */
  code: string;
}

/**
 * How runtimes word a failed name lookup when they give no code: Deno's
 * `Deno.connect` throws a plain Error with getaddrinfo's text.
 */
const LOOKUP_FAILED =
  /failed to lookup address|name or service not known|nodename nor servname|no address associated|temporary failure in name resolution/i;

const NAME_TO_CODE: Record<string, string> = {
  ConnectionRefused: "ECONNREFUSED",
  ConnectionReset: "ECONNRESET",
  ConnectionAborted: "ECONNRESET",
  BrokenPipe: "EPIPE",
  TimedOut: "ETIMEDOUT",
  AddrInUse: "EADDRINUSE",
  AddrNotAvailable: "EADDRNOTAVAIL",
  NotFound: "ENOENT",
  PermissionDenied: "EACCES",
  InvalidData: "ETLS",
};

/**
 * Give `err` a normalised `code`: keep an errno-style code the runtime set,
 * map Deno's error class names, else use `fallback`. Returns a CodedError.
 */
export function coded(err: unknown, fallback: string): CodedError {
  const e = err instanceof Error ? err : new Error(String(err));
  const withCode = e as Error & { code?: unknown };
  if (typeof withCode.code === "string" && /^E[A-Z0-9_]+$/.test(withCode.code)) {
    // Every getaddrinfo failure (EAI_NONAME, EAI_AGAIN, ...) is one condition: the name did not resolve.
    if (withCode.code.startsWith("EAI_")) return recode(withCode, "ENOTFOUND");
    // Node's own ERR_* codes are no errno: its argument checks (ERR_SOCKET_BAD_PORT...) are EINVAL.
    if (withCode.code.startsWith("ERR_")) {
      return recode(withCode, e instanceof TypeError || e instanceof RangeError ? "EINVAL" : fallback);
    }
    return withCode as CodedError;
  }
  const mapped = NAME_TO_CODE[e.name] ??
    (LOOKUP_FAILED.test(e.message) ? "ENOTFOUND" : /refused/i.test(e.message)
      ? "ECONNREFUSED"
      // A runtime's argument check (Deno's "Invalid port" RangeError...).
      : e instanceof TypeError || e instanceof RangeError
      ? "EINVAL"
      : fallback);
  return recode(withCode, mapped);
}

/** Set `err.code`, or wrap `err` when the runtime made its code read-only. */
function recode(err: Error & { code?: unknown }, code: string): CodedError {
  try {
    err.code = code;
    if (err.code === code) return err as CodedError;
  } catch {
    // A read-only code throws in strict code: wrap below.
  }
  const wrapped = new Error(err.message, { cause: err }) as CodedError;
  wrapped.code = code;
  return wrapped;
}

const SIGNAL_NAMES: ReadonlySet<string> = new Set<SignalName>(["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"]);

/**
 * Whether `name` is one of the contract's {@linkcode SignalName}s. Others
 * (`SIGKILL`, `SIGSTOP`, a misspelling) are refused by every adapter:
 * Node's process would throw EINVAL for some and treat others as plain
 * event names that never fire, and Bun accepts any name silently.
 */
export function isSignalName(name: unknown): name is SignalName {
  return typeof name === "string" && SIGNAL_NAMES.has(name);
}

/** The TypeError a second `TcpSocket.start()` throws. */
export function alreadyStarted(): CodedError {
  const err = new TypeError("TcpSocket.start() was already called: a socket's handlers are set once") as
    & TypeError
    & CodedError;
  err.code = "EINVAL";
  return err;
}

/**
 * The error for a listen with `reusePort` where the runtime or the system
 * cannot share the port: a LeventError with code `ERR_NOT_SUPPORTED`
 * naming what is missing, so no caller mistakes one listener for several.
 */
export function reusePortUnsupported(missing: string): LeventError {
  return new LeventError("ERR_NOT_SUPPORTED", `reusePort (SO_REUSEPORT) is not supported: ${missing}`);
}

/** A new Error with a code. */
export function codedError(message: string, code: string): CodedError {
  const err = new Error(message) as CodedError;
  err.code = code;
  return err;
}

/** The IP family of an address text. */
export function familyOf(host: string): 4 | 6 {
  return host.includes(":") ? 6 : 4;
}

/** A NetAddress for an IP host and port. */
export function ipAddress(transport: "tcp" | "udp", host: string, port: number): NetAddress {
  return { transport, host, port, family: familyOf(host) };
}

/** A NetAddress for a Unix socket path. */
export function unixAddress(path: string): NetAddress {
  return { transport: "unix", host: path, port: 0, family: 0 };
}

/** System name lookup through node:dns (getaddrinfo: hosts file, then DNS). */
export function nodeLookup(host: string, family: 0 | 4 | 6 = 0): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dns.lookup(host, { all: true, family }, (err, addresses) => {
      if (err) {
        reject(coded(err, "ENOTFOUND"));
        return;
      }
      resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })));
    });
  });
}

/** Every adapter's UDP send high-water mark: bytes of datagrams waiting for the kernel (see UdpSocket.send). */
export const UDP_HIGH_WATER_MARK = 65536;

/**
 * Why a datagram from a socket of `family` cannot go to `host`:`port`, or
 * undefined when it can: the contract takes IP addresses of the socket's
 * family only (node:dgram would look a name up, Bun.udpSocket refuses one;
 * the other family is EINVAL on Node, EAFNOSUPPORT on Bun) and ports 1-65535.
 */
export function udpDestinationError(family: 0 | 4 | 6, host: string, port: number): CodedError | undefined {
  if (typeof host !== "string" || isIP(host) !== family) {
    return codedError(`a UDP destination must be an IPv${family} address, got ${JSON.stringify(host)}`, "EINVAL");
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return codedError(`a UDP destination port must be an integer 1-65535, got ${port}`, "EINVAL");
  }
  return undefined;
}

/** Tell `handlers.error` about a datagram that was not sent, on a later turn, as the contract asks. */
export function reportUdpError(handlers: UdpHandlers, err: Error, to: NetAddress | null): void {
  const onError = handlers.error;
  if (onError !== undefined) queueMicrotask(() => onError.call(handlers, err, to));
}

/**
 * A node:dgram socket behind the UdpSocket contract. Each send passes one
 * shared completion callback (no closure or Promise per datagram): Node
 * drops the errors of sends made without one, and its errors carry the
 * destination (`address`, `port`). What waits for the kernel is libuv's
 * send queue, which node:dgram reports as getSendQueueSize() (Node >= 18.8;
 * Deno's node:dgram hands every datagram to its runtime at once and has none).
 */
class NodeUdpSocket implements UdpSocket {
  readonly address: NetAddress;
  readonly #sock: dgram.Socket;
  readonly #handlers: UdpHandlers;
  readonly #queueSize: (() => number) | undefined;
  #closed = false;
  #owesDrain = false;
  readonly #onSent: (err: Error | null) => void;

  constructor(sock: dgram.Socket, address: NetAddress, handlers: UdpHandlers) {
    this.#sock = sock;
    this.address = address;
    this.#handlers = handlers;
    const queueSize = (sock as { getSendQueueSize?: () => number }).getSendQueueSize;
    this.#queueSize = typeof queueSize === "function" ? () => queueSize.call(sock) : undefined;
    this.#onSent = (err) => {
      if (this.#closed) return;
      if (err) {
        const at = err as Error & { address?: unknown; port?: unknown };
        const to = typeof at.address === "string" && typeof at.port === "number"
          ? ipAddress("udp", at.address, at.port)
          : null;
        this.#handlers.error?.(coded(err, "EINVAL"), to);
      }
      if (this.#owesDrain && this.bufferedAmount === 0) {
        this.#owesDrain = false;
        this.#handlers.drain?.();
      }
    };
  }

  get bufferedAmount(): number {
    return this.#closed || this.#queueSize === undefined ? 0 : this.#queueSize();
  }

  send(bytes: Uint8Array, host: string, port: number): boolean {
    if (this.#closed) {
      reportUdpError(this.#handlers, codedError("the UDP socket is closed", "EBADF"), udpTarget(host, port));
      return false;
    }
    const bad = udpDestinationError(this.address.family, host, port);
    if (bad !== undefined) {
      reportUdpError(this.#handlers, bad, udpTarget(host, port));
      return this.bufferedAmount < UDP_HIGH_WATER_MARK;
    }
    this.#sock.send(bytes, port, host, this.#onSent);
    if (this.bufferedAmount < UDP_HIGH_WATER_MARK) return true;
    this.#owesDrain = true;
    return false;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.close();
  }
}

/** A NetAddress for a UDP destination as given (which may be no IP address at all). */
export function udpTarget(host: string, port: number): NetAddress {
  return { transport: "udp", host: String(host), port: Number(port), family: familyOf(String(host)) };
}

/** Bind a UDP socket with node:dgram. */
export function nodeBindUdp(options: UdpBindOptions, handlers: UdpHandlers): Promise<UdpSocket> {
  // node:dgram takes a port past 65535 without a word (Bun.udpSocket refuses it).
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return Promise.reject(codedError(`port must be an integer 0-65535, got ${options.port}`, "EINVAL"));
  }
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(familyOf(options.host) === 6 ? "udp6" : "udp4");
    const onError = (err: Error): void => reject(coded(err, "EINVAL"));
    sock.once("error", onError);
    let udp: NodeUdpSocket | undefined;
    sock.on("message", (msg, rinfo) => {
      handlers.message(
        new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        ipAddress("udp", rinfo.address, rinfo.port),
      );
    });
    sock.bind(options.port, options.host, () => {
      sock.off("error", onError);
      // Errors of sends come through their callback; others (ICMP on a
      // connected socket...) name no datagram.
      sock.on("error", (err) => {
        if (udp !== undefined) reportUdpError(handlers, coded(err, "EINVAL"), null);
      });
      const bound = sock.address();
      udp = new NodeUdpSocket(sock, ipAddress("udp", bound.address, bound.port), handlers);
      resolve(udp);
    });
  });
}

function fileInfo(s: Stats): FileInfo {
  return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory(), mtimeMs: s.mtimeMs };
}

class NodeFile implements FileHandle {
  readonly #fh: NodeFileHandle;

  constructor(fh: NodeFileHandle) {
    this.#fh = fh;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafeSlow(length);
    let got = 0;
    try {
      // One pread may return short of the end (signals, the 2 GiB cap), so read until EOF or full.
      while (got < length) {
        const { bytesRead } = await this.#fh.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      throw coded(err, "EIO");
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, got);
  }

  async stat(): Promise<FileInfo> {
    try {
      return fileInfo(await this.#fh.stat());
    } catch (err) {
      throw coded(err, "EIO");
    }
  }

  async close(): Promise<void> {
    try {
      await this.#fh.close();
    } catch (err) {
      throw coded(err, "EIO");
    }
  }
}

/** File access through node:fs/promises (Node and Bun). */
export const nodeFileSystem: FileSystem = {
  async open(path: string): Promise<FileHandle> {
    try {
      return new NodeFile(await open(path, "r"));
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
  async stat(path: string): Promise<FileInfo> {
    try {
      return fileInfo(await stat(path));
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
  async readDir(path: string): Promise<DirEntry[]> {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.map((e) => ({ name: e.name, isFile: e.isFile(), isDirectory: e.isDirectory() }));
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
  async realPath(path: string): Promise<string> {
    try {
      return await realpath(path);
    } catch (err) {
      throw coded(err, "EIO");
    }
  },
};
