/**
 * The state an {@linkcode HttpClientRequest} shares with the
 * {@linkcode HttpConnection} that carries it, and the ways each class
 * reaches into the other. Not part of the public API: `mod.ts` does not
 * export this file. Each class fills its hooks in a static block, so they
 * are set as soon as its module has run.
 *
 * @module
 */
import { EvBuffer } from "../buffer/evbuffer.ts";
import { HttpHeaders } from "./headers.ts";
import type { HttpError } from "./http_error.ts";
import type { HttpFraming } from "./http_parser.ts";
import type { HttpConnection } from "./http_connection.ts";
import type {
  HttpClientChunkCallback,
  HttpClientDrainCallback,
  HttpClientErrorCallback,
  HttpClientErrorKind,
  HttpClientHeaderCallback,
  HttpClientRequest,
  HttpClientRequestCallback,
  HttpClientRequestState,
} from "./http_client_request.ts";

/**
 * How far a request's bytes have gone onto the connection:
 * - `"unsent"`: not dispatched (queued, or put back for a retry);
 * - `"sending"`: the head (and maybe part of a streamed body) is in the connection's output;
 * - `"sent"`: every byte of the request is in the connection's output.
 */
export type ClientSendState = "unsent" | "sending" | "sent";

/** Where a request body comes from: one buffer given up front, or a stream written as it is produced. */
export type ClientBodyMode = "buffer" | "stream";

/** A streamed body: still being written, or ended by endBody(). */
export type ClientStreamState = "open" | "ended";

/** Whether the response body is being read, or held back by pauseBody(). */
export type ClientBodyFlow = "flowing" | "paused";

/**
 * A body source's pump (setBodySource): not started, waiting for an item,
 * waiting for room (the drain), or finished (ended, failed or closed).
 */
export type ClientSourceState = "idle" | "pulling" | "waiting" | "done";

/** How a request body is framed on the wire. */
export type ClientFraming = "none" | "length" | "chunked";

/**
 * A streamed request body is held back (writeBody returns false) once this
 * many bytes wait in the request and its connection's output: enough to keep
 * a socket busy, small enough that an upload never sits whole in memory.
 */
export const BODY_HIGH_WATER: number = 64 * 1024;

/** The states after which nothing more happens to a request. */
export function isFinished(state: HttpClientRequestState): boolean {
  return state === "complete" || state === "failed" || state === "cancelled";
}

/**
 * Everything about one client request, kept in one object so the request
 * (its public face) and the connection (which moves its bytes) work on the
 * same fields without accessors for each.
 */
export class ClientRequestCore {
  /** The public face. */
  readonly req: HttpClientRequest;
  state: HttpClientRequestState = "new";
  conn: HttpConnection | null = null;
  method = "";
  uri = "";

  cb: HttpClientRequestCallback | null;
  headerCb: HttpClientHeaderCallback | null = null;
  chunkCb: HttpClientChunkCallback | null = null;
  errorCb: HttpClientErrorCallback | null = null;
  completeCb: HttpClientRequestCallback | null = null;
  drainCb: HttpClientDrainCallback | null = null;

  readonly outputHeaders: HttpHeaders = new HttpHeaders();
  // The body buffers are made on first use: a GET has no body, and most
  // requests never stream one.
  #outputBuffer: EvBuffer | null = null;
  #sentBody: EvBuffer | null = null;
  #bodyQueue: EvBuffer | null = null;

  /** The body the application writes before makeRequest. */
  get outputBuffer(): EvBuffer {
    return this.#outputBuffer ??= new EvBuffer();
  }

  /** outputBuffer's length, without making it. */
  get outputLength(): number {
    return this.#outputBuffer?.length ?? 0;
  }

  /** A buffer body, taken from outputBuffer by makeRequest; kept whole so a retry can send it again. */
  get sentBody(): EvBuffer {
    return this.#sentBody ??= new EvBuffer();
  }

  /** sentBody's length, without making it. */
  get sentLength(): number {
    return this.#sentBody?.length ?? 0;
  }

  /** Streamed body bytes written but not yet moved to the connection. */
  get bodyQueue(): EvBuffer {
    return this.#bodyQueue ??= new EvBuffer();
  }

  /** bodyQueue's length, without making it. */
  get queuedLength(): number {
    return this.#bodyQueue?.length ?? 0;
  }

  bodyMode: ClientBodyMode = "buffer";
  streamState: ClientStreamState = "open";
  /** A streamed body's declared Content-Length, or -1 for chunked. */
  declaredLength = -1;
  /** Streamed body bytes accepted by writeBody. */
  bodyAccepted = 0;
  /** Streamed body bytes moved to the connection: once any are, the body cannot be sent again. */
  bodyTaken = 0;
  /** writeBody said "wait": the drain callback (or the source pump) is owed a call. */
  drainWanted = false;
  source: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> | null = null;
  sourceState: ClientSourceState = "idle";

  framing: ClientFraming = "none";
  /** The framing field line makeRequest adds (`Content-Length: n`, `Transfer-Encoding: chunked`), or "". */
  framingLine = "";
  /** The Host field line makeRequest adds, or "" when the application set Host. */
  hostLine = "";
  sendState: ClientSendState = "unsent";
  /** The connection's byte count of queued output when this request's head was queued. */
  startOffset = 0;
  /** The request asked for `Connection: close`: nothing more goes on its connection. */
  closeAfter = false;
  retried = false;
  /** Some response bytes arrived while this request was first in line. */
  received = false;

  flow: ClientBodyFlow = "flowing";
  responseCode = 0;
  responseReason = "";
  responseMinor = 1;
  inputHeaders: HttpHeaders = new HttpHeaders();
  inputTrailers: HttpHeaders | null = null;
  readonly inputBuffer: EvBuffer = new EvBuffer();
  /** How the response body is delimited, and its Content-Length (-1 without one): to say where a body broke off. */
  responseFraming: HttpFraming = "none";
  responseLength = -1;
  /** Response body bytes handed to the chunked callback and drained from inputBuffer. */
  bodyDelivered = 0;
  keepAlive = true;
  upgrade = false;

  error: HttpError | null = null;
  errorKind: HttpClientErrorKind | null = null;

  constructor(req: HttpClientRequest, cb: HttpClientRequestCallback | null) {
    this.req = req;
    this.cb = cb;
  }

  /** Forget what a failed attempt received, so a retry starts clean. */
  resetForRetry(): void {
    this.retried = true;
    this.state = "queued";
    this.sendState = "unsent";
    this.received = false;
    this.responseCode = 0;
    this.responseReason = "";
    this.inputHeaders = new HttpHeaders();
    this.inputTrailers = null;
    this.inputBuffer.drain(this.inputBuffer.length);
    this.responseFraming = "none";
    this.responseLength = -1;
    this.bodyDelivered = 0;
  }

  /** Let a body source go (its `return()`), unless it is mid-pull: the pump then sees the finished state and does it. */
  closeSource(): void {
    const source = this.source;
    if (source === null || this.sourceState === "pulling" || this.sourceState === "done") return;
    this.sourceState = "done";
    this.source = null;
    returnQuietly(source);
  }
}

/** Call an iterator's `return()`, ignoring what it throws or rejects with: the request is over either way. */
export function returnQuietly(source: AsyncIterator<unknown> | Iterator<unknown>): void {
  try {
    const r = source.return?.();
    if (r !== undefined && typeof (r as Promise<unknown>).then === "function") {
      (r as Promise<unknown>).then(undefined, () => {});
    }
  } catch {
    // A source that fails while closing has nothing more to give.
  }
}

/** The connection's side, for the request's methods. */
export const connectionHooks: {
  /** Body bytes were written or the body was ended: move what can go. */
  bodyChanged: (conn: HttpConnection, core: ClientRequestCore) => void;
  /** pauseBody / resumeBody. */
  flowChanged: (conn: HttpConnection, core: ClientRequestCore) => void;
  /** cancel(), or a failure found by the request itself (a body source that threw, a short body). */
  stop: (
    conn: HttpConnection,
    core: ClientRequestCore,
    kind: HttpClientErrorKind,
    error: HttpError,
  ) => void;
  /** Bytes of this request waiting in the connection's output. */
  outputLength: (conn: HttpConnection, core: ClientRequestCore) => number;
} = {
  bodyChanged: () => {},
  flowChanged: () => {},
  stop: () => {},
  outputLength: () => 0,
};

/** The request's side, for the connection. */
export const requestHooks: {
  /** The shared state behind a request. */
  core: (req: HttpClientRequest) => ClientRequestCore;
  /** The connection has room for more body: run the source pump or the drain callback. */
  drain: (core: ClientRequestCore) => void;
} = {
  core: () => {
    throw new Error("http_client_request.ts has not run");
  },
  drain: () => {},
};
