/**
 * Buffers: libevent's buffer.h. {@linkcode EvBuffer} is a byte queue kept
 * as a chain of `Uint8Array` segments, which every protocol reads and writes.
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * const buf = new EvBuffer();
 * buf.addPrintf("%s: %d\r\n", "Content-Length", 42);
 * console.log(buf.readLineString("crlf")); // "Content-Length: 42"
 * ```
 *
 * @module
 */
export * from "./buffer_error.ts";
export * from "./evbuffer.ts";
export * from "./bufferevent.ts";
export * from "./listener.ts";
// EvBuffer.addFile takes a FileHandle; re-exported so this entry point documents every type it exposes.
export type {
  ConnectOptions,
  FileHandle,
  FileInfo,
  NetAddress,
  SocketHandlers,
  TcpSocket,
  TlsConnectOptions,
} from "../platform.ts";
