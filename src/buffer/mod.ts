/**
 * Buffers: libevent's buffer.h and bufferevent.h. {@linkcode EvBuffer} is a
 * byte queue kept as a chain of `Uint8Array` segments, which every protocol
 * reads and writes; {@linkcode BufferEvent} puts an input and an output
 * EvBuffer over a socket, a pair or a filter; {@linkcode Listener} accepts
 * connections.
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
// An explicit list: the files below also export what levent's own modules
// share among themselves (BufferEvent's core and kinds, for one), which is
// not public.
export { BufferError, type BufferErrorCode } from "./buffer_error.ts";
export {
  EvBuffer,
  type EvBufferCallback,
  type EvBufferCbEntry,
  type EvBufferCbInfo,
  type EvBufferEolResult,
  type EvBufferEolStyle,
  EvBufferPtr,
  type EvBufferPtrHow,
} from "./evbuffer.ts";
export {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BufferEvent,
  type BufferEventDataCallback,
  type BufferEventEventCallback,
  type BufferEventFilter,
  type BufferEventFilterResult,
  type BufferEventFlushMode,
  type BufferEventOptions,
  type BufferEventState,
  type BufferEventTlsClientOptions,
  type BufferEventTlsOptions,
  type BufferEventTlsServerOptions,
  type BufferEventWatermark,
} from "./bufferevent.ts";
export {
  RateLimitGroup,
  type RateLimitTotals,
  TokenBucketConfig,
  type TokenBucketOptions,
} from "./bufferevent_ratelim.ts";
export {
  Listener,
  type ListenerAcceptCallback,
  type ListenerErrorCallback,
  type ListenerOptions,
  type ListenerTarget,
} from "./listener.ts";
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
