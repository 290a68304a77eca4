/**
 * HttpServerConnection: one accepted connection of an
 * {@linkcode HttpServer}, libevent's server-side `struct evhttp_connection`
 * (the client side is {@linkcode HttpConnection}). It reads requests,
 * routes them, runs the application's callbacks, and keeps their responses
 * in request order; each request writes its own response
 * ({@linkcode RequestCore}, in http_server_request.ts). Not part of the
 * public API: `mod.ts` does not export this file.
 *
 * The hot path, per request: the parser reads straight from the
 * BufferEvent's input; the callback is found with one Map lookup; the
 * response goes to the output (or waits behind the responses before it).
 * Nothing is allocated per request beyond the parser's head and the
 * request objects; the parsed URI, header objects and buffers are built
 * when asked for, and the connection's buffers keep their spare room
 * between messages rather than allocating a segment per request. Timeouts
 * cost no timer operation per request: one timer per connection is
 * checked lazily against phase start times.
 *
 * @module
 */
import type { BufferEvent } from "../buffer/bufferevent.ts";
import { BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_TIMEOUT } from "../buffer/bufferevent.ts";
import { EvBuffer } from "../buffer/evbuffer.ts";
import { Event } from "../event/event_base.ts";
import { EV_READ, EV_TIMEOUT } from "../event/flags.ts";
import type { NetAddress } from "../platform.ts";
import { addLatin1 } from "./head_writer.ts";
import { HttpError } from "./http_error.ts";
import { HttpParser, type RequestHead } from "./http_parser.ts";
import type { Route, ServerConfig, ServerTimeouts, UpgradeHooks } from "./http_server.ts";
import {
  errorPage,
  type HttpRequestCallback,
  type HttpRequestNotify,
  RequestCore,
  type Waiter,
} from "./http_server_request.ts";

const CONTINUE_LINE = "HTTP/1.1 100 Continue\r\n\r\n";

/** Methods RFC 9110 and RFC 5789 define: a request with one of these the server does not allow gets 405, any other 501. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/**
 * After this long without a request, a connection's buffers let go of the
 * spare room they keep between messages, so an idle connection holds no
 * buffer memory; it is also the longest the connection timer sleeps.
 */
const SPARE_IDLE_MS = 1000;
/** The longest an idle connection's timer sleeps once its buffers are let go. */
const IDLE_SLEEP_MS = 60000;
/**
 * Unsent response bytes at which a connection reads no further request
 * until they are written: pipelined requests from a client that does not
 * read its answers cannot pile up responses without bound.
 */
const OUTPUT_HIGH_WATER = 65536;
/**
 * While the server shuts down, a request body that brings no byte for this
 * long has stalled: its connection is closed rather than waited for.
 */
const DRAIN_STALL_MS = 1000;
/** Bytes of an unread request body skipped after an early answer before the connection is closed instead. */
const DISCARD_LIMIT = 1 << 20;

/** Whether a request has body bytes to read. */
function hasBody(head: RequestHead): boolean {
  return head.framing === "chunked" || (head.framing === "length" && head.contentLength > 0);
}

/**
 * How long the connection timer may sleep: the shortest timeout set (so a
 * phase never starts after its deadline's check), and at most
 * SPARE_IDLE_MS.
 */
function timerPeriod(t: ServerTimeouts): number {
  let min = SPARE_IDLE_MS;
  for (const ms of [t.header, t.body, t.write, t.idle]) {
    if (ms > 0 && ms < min) min = ms;
  }
  return min;
}

// ------------------------------------------------------------ connections

/**
 * The connection: open (reading and answering), closing (answering what was
 * read, reading no more), or closed.
 */
type ConnectionState = "open" | "closing" | "closed";

/**
 * The read side: parsing heads, reading the body of `#reading`, paused
 * (pipeline full, body paused or over its watermark, an upgrade pending:
 * the socket is paused too), or stopped for good.
 */
type ReadState = "head" | "body" | "paused" | "stopped";

/** The peer's side: sending, or it sent EOF. */
type PeerState = "open" | "ended";

/** How to close: send what is queued and FIN (lingering), or drop it all at once. */
type CloseMode = "graceful" | "hard";

/**
 * The socket under the connection: in use by HTTP, still sending the last
 * response's bytes after the conversation ended (the connection stays
 * counted, so shutdown waits for it and its grace period can cut it off),
 * or let go.
 */
type SocketPhase = "in_use" | "flushing" | "released";

/**
 * One accepted connection: libevent's server-side `struct
 * evhttp_connection`, reading requests with an {@linkcode HttpParser}
 * straight from its BufferEvent's input and writing responses to its
 * output, in request order.
 */
export class HttpServerConnection {
  readonly cfg: ServerConfig;
  readonly bev: BufferEvent;
  readonly peer: NetAddress;
  #state: ConnectionState = "open";
  #socketPhase: SocketPhase = "in_use";
  #read: ReadState = "head";
  #peer: PeerState = "open";
  readonly #parser: HttpParser<"request">;
  /** Requests whose responses are not complete, in order; the first one writes to the output. */
  readonly #queue: RequestCore[] = [];
  /** The request whose body is being read, or null between requests. */
  #reading: RequestCore | null = null;
  /** An upgrade request waiting for its answer: reading waits with it. */
  #upgrade: RequestCore | null = null;
  /** Flush waiters of bytes in the output: pairs of (request, waiter). */
  #waiters: (RequestCore | Waiter)[] | null = null;
  /** A protocol error to answer once the responses before it are written. */
  #pendingError = 0;
  #timer: Event<HttpServerConnection> | null = null;
  /** The timer sleeps past the shortest timeout (an idle connection with its buffers let go): a new head wakes it. */
  #sleeping = false;
  #kick: Event<HttpServerConnection> | null = null;
  /** Loop time the current head's first bytes were seen, or -1 between requests. */
  #headStart = -1;
  /** Loop time the connection last had no request in flight. */
  #idleSince: number;
  /** Loop time the body last made progress (or was resumed). */
  #bodyProgress = 0;
  /** Unsent bytes at the last write check, and when that check saw them change. */
  #lastPending = 0;
  #writeCheck = 0;
  #discarded = 0;

  static readonly #readcb = (_bev: BufferEvent, conn: HttpServerConnection): void => conn.#process();
  static readonly #writecb = (_bev: BufferEvent, conn: HttpServerConnection): void => conn.#onWritten();
  static readonly #eventcb = (_bev: BufferEvent, what: number, conn: HttpServerConnection): void => conn.#onEvent(what);
  static readonly #timercb = (_s: unknown, _w: number, conn: HttpServerConnection): void => conn.#onTimer();
  static readonly #kickcb = (_s: unknown, _w: number, conn: HttpServerConnection): void => conn.#onKick();
  static readonly #flushedcb = (bev: BufferEvent, conn: HttpServerConnection): void => {
    if (bev.output.length === 0) conn.#release("graceful");
  };
  static readonly #flusheventcb = (_bev: BufferEvent, what: number, conn: HttpServerConnection): void => {
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) conn.#release("hard");
  };

  constructor(cfg: ServerConfig, bev: BufferEvent, peer: NetAddress) {
    this.cfg = cfg;
    this.bev = bev;
    this.peer = peer;
    this.#parser = new HttpParser("request", cfg.limits, { requireHost: cfg.requireHost });
    const base = cfg.base;
    this.#idleSince = base.now();
    cfg.connections.add(this);
    bev.setCallbacks(HttpServerConnection.#readcb, HttpServerConnection.#writecb, HttpServerConnection.#eventcb, this);
    bev.enable(EV_READ);
    const timer = new Event<HttpServerConnection>(base, null, 0, HttpServerConnection.#timercb, this);
    timer.add(timerPeriod(cfg.timeouts));
    this.#timer = timer;
  }

  /** Whether nothing is in flight: no request queued or being read, no head begun. */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#reading === null && this.#headStart < 0 &&
      this.bev.input.length === 0;
  }

  /**
   * Whether a response is on its way: the one rule of what a graceful
   * shutdown waits for. A response is in flight while its bytes are queued
   * for the socket, or once its request was read whole and handed to the
   * application, which owes (the rest of) the answer. A request whose body
   * is still arriving depends on the client: it is in flight only while the
   * body keeps coming (bytes within the last DRAIN_STALL_MS). Anything else
   * (an unfinished head, an upload that stalled, an idle keep-alive
   * connection) has nothing being sent, and shutdown closes it at once.
   */
  get inFlight(): boolean {
    if (this.#state === "closed") return this.#socketPhase === "flushing";
    if (this.bev.output.length > 0) return true;
    const q = this.#queue;
    for (let i = 0; i < q.length; i++) {
      const core = q[i];
      if (core.body === "reading") continue;
      if (core.resp === "streaming" || core.resp === "complete") return true;
      if (core.resp === "none" && core.stage === "dispatched") return true;
    }
    return this.#reading !== null && this.#read === "body" &&
      this.cfg.base.now() - this.#bodyProgress < DRAIN_STALL_MS;
  }

  // ---------------------------------------------------------- reading

  /** Parse what the input holds and act on it, until it needs more bytes or must wait. */
  #process(): void {
    const input = this.bev.input;
    const parser = this.#parser;
    for (;;) {
      if (this.#state !== "open") return;
      const read = this.#read;
      if (read === "head") {
        if (this.cfg.state !== "running") {
          this.#stopReadingHeads();
          return;
        }
        // Read no further request while the answers already given are unsent
        // (a client that pipelines and never reads): the socket pauses and
        // the kernel's buffers push back on the client.
        if (this.#queue.length >= this.cfg.maxPipelined || this.bev.output.length >= OUTPUT_HIGH_WATER) {
          this.#pause();
          return;
        }
        if (this.#headStart < 0 && input.length > 0) {
          this.#headStart = this.cfg.base.now();
          if (this.#sleeping) {
            // The first bytes after a long idle: the timer watches the header timeout again.
            this.#sleeping = false;
            (this.#timer as Event<HttpServerConnection>).add(timerPeriod(this.cfg.timeouts));
          }
        }
        const ev = parser.parse(input);
        if (ev.type === "head") {
          this.#onHead(ev.head);
        } else if (ev.type === "error") {
          this.#headError(ev.error.status);
          return;
        } else {
          // need_more: a head is incomplete, or nothing is there.
          if (this.#peer === "ended") this.#onPeerEnded();
          return;
        }
      } else if (read === "body") {
        if (!this.#readBody(this.#reading as RequestCore)) return;
      } else {
        return;
      }
    }
  }

  /** Read body bytes of `core`; false when reading must wait. */
  #readBody(core: RequestCore): boolean {
    const input = this.bev.input;
    const parser = this.#parser;
    if (!hasBody(core.head)) {
      // No body: the parser reports the end at once, no buffer needed.
      parser.parse(input);
      this.#bodyEnd(core);
      return true;
    }
    if (core.body === "discarding") {
      const ev = parser.parse(input);
      switch (ev.type) {
        case "body":
          this.#discarded += ev.data.length;
          if (this.#discarded > DISCARD_LIMIT) {
            this.#close("graceful");
            return false;
          }
          return true;
        case "trailers":
          return true;
        case "end":
          this.#bodyEnd(core);
          return true;
        case "error":
          this.#bodyError(core, ev.error.status);
          return false;
        default:
          if (this.#peer === "ended") this.#onPeerEnded();
          return false;
      }
    }
    if (core.flow === "paused") {
      this.#pause();
      return false;
    }
    const dst = core.inputBuffer();
    if (core.streaming && dst.length >= this.cfg.bodyHighWatermark) {
      this.#watchDrain(core, dst);
      this.#pause();
      return false;
    }
    const before = dst.length;
    const ev = parser.parseBodyInto(input, dst);
    const moved = dst.length - before;
    if (moved > 0) {
      this.#bodyProgress = this.cfg.base.now();
      if (!core.streaming && dst.length > this.cfg.bufferedBodyLimit) {
        this.#bodyError(core, 413);
        return false;
      }
    }
    switch (ev.type) {
      case "end":
        this.#bodyEnd(core);
        return true;
      case "trailers": {
        const fields = ev.headers;
        for (let i = 0; i < fields.length; i++) core.head.headers.push(fields[i]);
        return true;
      }
      case "error":
        this.#bodyError(core, ev.error.status);
        return false;
      default:
        if (moved > 0 && core.streaming) this.#notifyBody(core);
        if (this.#state !== "open") return false;
        if (this.#peer === "ended") this.#onPeerEnded();
        return false;
    }
  }

  /** A head was parsed: check it, route it, run the hooks, maybe dispatch. */
  #onHead(head: RequestHead): void {
    const cfg = this.cfg;
    this.#headStart = -1;
    const core = new RequestCore(this, head, cfg);
    this.#queue.push(core);
    this.#reading = core;
    this.#read = "body";
    this.#bodyProgress = cfg.base.now();
    if (head.expectContinue && hasBody(head)) core.cont = "expected";

    const method = head.method;
    if (!cfg.allowed.has(method)) {
      this.#refuse(core, KNOWN_METHODS.has(method) ? 405 : 501);
      return;
    }
    try {
      // An absolute-form target is parsed now, so a malformed one gets 400 as in libevent; origin-form stays lazy.
      if (head.target.charCodeAt(0) !== 47 && head.target !== "*") core.uri();
      if (cfg.vhosts.length !== 0 || cfg.aliases.length !== 0) {
        const host = core.host();
        if (host !== null) core.server = cfg.resolve(host.toLowerCase());
      }
      const srv = core.server;
      core.route = srv.callbacks.size !== 0 ? srv.callbacks.get(core.decodedPath()) ?? srv.genRoute : srv.genRoute;
    } catch (err) {
      // Only an unparsable absolute-form target (or path) gets here.
      this.#refuse(core, err instanceof HttpError ? err.status : 400);
      return;
    }

    const hook = cfg.newRequestCb;
    if (hook !== null) {
      this.#call(core, hook);
      if (this.#state === "closed" || core.resp !== "none" || core.body === "aborted") return;
    }
    if (core.route !== null && core.route.stream) core.streaming = true;
    if (!core.streaming && head.framing === "length" && head.contentLength > cfg.bufferedBodyLimit) {
      // Too large to hold: refused before a byte of it is read (or a 100 Continue invites it).
      this.#refuse(core, 413);
      return;
    }

    if (core.cont === "expected") {
      let status = 100;
      const expect = cfg.expectCb;
      if (expect !== null) {
        try {
          const answer = expect(core.req);
          if (answer !== undefined) status = answer;
        } catch (err) {
          this.#failed(core, err);
          return;
        }
        if (this.#state === "closed" || core.resp !== "none") return;
      }
      if (status !== 100) {
        this.#refuse(core, Number.isInteger(status) && status >= 400 && status <= 599 ? status : 417);
        return;
      }
      // libevent skips the 100 when the body is already on its way.
      if (this.bev.input.length === 0) addLatin1(this.sinkFor(core), CONTINUE_LINE);
      core.cont = "sent";
    }

    const route = core.route;
    if (route === null) {
      this.#refuse(core, 404);
      return;
    }
    if (core.streaming) this.#dispatch(core);
  }

  /** The body of `core` ended (at once for a request without one). */
  #bodyEnd(core: RequestCore): void {
    this.#reading = null;
    const head = core.head;
    // After Connection: close, an upgrade, or while draining, nothing more is read (RFC 9112 §9.6).
    if (head.upgrade) {
      this.#upgrade = core;
      this.#pause();
    } else if (!head.keepAlive || this.cfg.state !== "running") {
      this.#read = "stopped";
    } else {
      this.#read = "head";
    }
    if (core.body === "discarding") {
      core.body = "discarded";
    } else if (core.body === "reading") {
      core.body = "complete";
      if (core.streaming) this.#notifyBody(core);
      if (this.#state === "closed") return;
      if (core.stage === "waiting" && core.resp === "none" && core.route !== null) this.#dispatch(core);
    }
    if (this.#upgrade === core && core.resp === "complete") this.#upgradeDeclined(core);
  }

  /** The body of `core` is malformed, over a limit, or timed out: answer `status` if nothing was sent, and close. */
  #bodyError(core: RequestCore, status: number): void {
    this.#reading = null;
    this.#read = "stopped";
    const wasReading = core.body === "reading";
    core.body = "aborted";
    if (wasReading && core.streaming) this.#notifyBody(core);
    if (this.#state === "closed") return;
    if (core.resp === "none") {
      core.writeError(status, undefined, null);
      this.completed(core);
      this.#notifyClose(core);
    } else if (core.resp === "streaming") {
      this.#notifyClose(core);
      this.#close("graceful");
    } else {
      // Answered already; the rest of the stream cannot be trusted.
      this.#state = "closing";
      if (this.#queue.length === 0) this.#close("graceful");
    }
  }

  /** A malformed head (or one too slow): answer once the responses before it are out, then close. */
  #headError(status: number): void {
    this.#read = "stopped";
    this.#headStart = -1;
    this.#pendingError = status;
    if (this.#queue.length === 0) this.#flushPendingError();
  }

  /** The server refuses a request itself (404, 405, 501, 417...): an error page, and the connection closes after it. */
  #refuse(core: RequestCore, status: number): void {
    this.#reading = null;
    this.#read = "stopped";
    if (core.body === "reading") core.body = "discarded";
    core.writeError(status, undefined, status === 405 ? this.cfg.allowHeader : null);
    this.completed(core);
  }

  /** The peer sent EOF and everything before it was parsed. */
  #onPeerEnded(): void {
    const r = this.#parser.eof(this.bev.input);
    if (r !== null && r.type === "error") {
      const core = this.#reading;
      if (core !== null) this.#bodyError(core, r.error.status);
      else this.#headError(r.error.status);
      return;
    }
    // A clean end between requests: answer what was asked, then close.
    this.#read = "stopped";
    this.#headStart = -1;
    this.#state = "closing";
    if (this.#queue.length === 0) this.#close("graceful");
  }

  #onEvent(what: number): void {
    if (what & BEV_EVENT_EOF) {
      this.#peer = "ended";
      this.#notifyEnded();
      if (this.#read === "head" || this.#read === "body") this.#process();
      else if (this.#read === "stopped" && this.#queue.length === 0) this.#close("graceful");
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
      this.#close("hard");
    }
  }

  // ---------------------------------------------------------- flow control

  /** Stop parsing and pause the socket until a kick resumes it. */
  #pause(): void {
    if (this.#read === "paused" || this.#read === "stopped") return;
    this.#read = "paused";
    if (this.bev.state !== "freed") this.bev.disable(EV_READ);
  }

  /** Resume parsing on the loop's next turn (never inside the caller's stack). */
  #kickLater(): void {
    if (this.#state === "closed") return;
    (this.#kick ??= new Event<HttpServerConnection>(this.cfg.base, null, 0, HttpServerConnection.#kickcb, this)).active(
      EV_TIMEOUT,
    );
  }

  #onKick(): void {
    if (this.#state !== "open" || this.#read !== "paused" || this.#upgrade !== null) return;
    this.#read = this.#reading !== null ? "body" : "head";
    this.#bodyProgress = this.cfg.base.now();
    this.bev.enable(EV_READ);
    this.#process();
  }

  /** Wait for the application to take bytes out of a streamed inputBuffer. */
  #watchDrain(core: RequestCore, dst: EvBuffer): void {
    if (core.drainWatch !== null) return;
    core.drainWatch = dst.addCb((buf) => {
      if (buf.length >= this.cfg.bodyHighWatermark || core.drainWatch === null) return;
      buf.removeCb(core.drainWatch);
      core.drainWatch = null;
      this.#kickLater();
    });
  }

  pauseBody(core: RequestCore): void {
    if (core.body === "reading") core.flow = "paused";
  }

  resumeBody(core: RequestCore): void {
    if (core.flow !== "paused") return;
    core.flow = "flowing";
    if (this.#read === "paused") this.#kickLater();
  }

  #upgradeDeclined(core: RequestCore): void {
    if (this.#upgrade !== core) return;
    this.#upgrade = null;
    // The parser stopped at the upgrade; it was answered as plain HTTP, so HTTP goes on.
    this.#parser.reset();
    this.#kickLater();
  }

  // ---------------------------------------------------------- dispatching

  #dispatch(core: RequestCore): void {
    core.stage = "dispatched";
    this.#call(core, (core.route as Route).cb);
  }

  /** Run an application callback; a throw or a rejected promise answers 500 (or the HttpError's status). */
  #call(core: RequestCore, fn: HttpRequestCallback): void {
    try {
      const r = fn(core.req);
      if (r !== undefined && r !== null && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, (err: unknown) => this.#failed(core, err));
      }
    } catch (err) {
      this.#failed(core, err);
    }
  }

  #failed(core: RequestCore, err: unknown): void {
    this.cfg.log(err, core.req);
    if (this.#state === "closed") return;
    if (core.resp === "none" && core.body !== "aborted") {
      const status = err instanceof HttpError && err.status >= 400 && err.status <= 599 ? err.status : 500;
      if (this.#reading === core) this.#reading = null;
      this.#read = "stopped";
      if (core.body === "reading") core.body = "discarded";
      core.writeError(status, undefined, null);
      this.completed(core);
    } else if (core.resp === "streaming") {
      this.#close("graceful");
    }
  }

  #notifyBody(core: RequestCore): void {
    const cb = core.bodyCb;
    if (cb === null) return;
    try {
      cb(core.req);
    } catch (err) {
      this.#failed(core, err);
    }
  }

  /** The client sent FIN: tell the requests whose responses are not complete. */
  #notifyEnded(): void {
    const queue = this.#queue;
    for (let i = 0; i < queue.length; i++) {
      const core = queue[i];
      const cb = core.endCb;
      if (cb === null || core.resp === "complete") continue;
      core.endCb = null;
      this.#tell(core, cb);
    }
  }

  #notifyClose(core: RequestCore): void {
    const cb = core.closeCb;
    if (cb === null) return;
    core.closeCb = null;
    this.#tell(core, cb);
  }

  /** Call a notification; what it throws is logged, never passed to the connection. */
  #tell(core: RequestCore, cb: HttpRequestNotify): void {
    try {
      cb(core.req);
    } catch (err) {
      this.cfg.log(err, core.req);
    }
  }

  // ---------------------------------------------------------- writing

  /** Whether the connection is closed: a response given now is lost. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Whether the client has ended its side of the connection (sent FIN). */
  get peerEnded(): boolean {
    return this.#peer === "ended";
  }

  /** Where a request's response bytes go: the output for the first request, its own buffer for later ones. */
  sinkFor(core: RequestCore): EvBuffer {
    return this.#queue[0] === core ? this.bev.output : (core.pending ??= new EvBuffer());
  }

  /**
   * Whether the connection closes after this response. Once nothing more
   * will be read (the client ended, a body went wrong after its answer, or
   * the server is shutting down), the requests already queued are still
   * answered: the last one closes.
   */
  mustClose(core: RequestCore): boolean {
    const q = this.#queue;
    return !core.head.keepAlive || this.#state === "closed" ||
      ((this.#state !== "open" || this.cfg.state !== "running") && q[q.length - 1] === core) ||
      core.head.method === "CONNECT" || (core.body === "reading" && core.cont === "expected");
  }

  #flushPendingError(): void {
    const status = this.#pendingError;
    this.#pendingError = 0;
    addLatin1(this.bev.output, errorPage(this.cfg, status, undefined, null, false, ""));
    this.#close("graceful");
  }

  /** An error page answers `core` (evhttp_send_error): the connection closes after it, so read no further request. */
  stopReading(core: RequestCore): void {
    if (this.#reading === core) this.#reading = null;
    this.#read = "stopped";
  }

  /** A response was given in full: move the queue on if it was the first. */
  completed(core: RequestCore): void {
    if (core.completeCb !== null) this.addWaiter(core, null);
    if (core.body === "reading") {
      // Answered before the body was read: skip the rest of it, keeping the connection.
      core.body = "discarding";
      core.flow = "flowing";
      this.#discarded = 0;
      if (this.#read === "paused") this.#kickLater();
    }
    if (this.#queue[0] === core) this.#advance();
  }

  /** Retire complete responses at the front; hand the output to the next one. */
  #advance(): void {
    const q = this.#queue;
    while (q.length !== 0) {
      const front = q[0];
      if (front.resp !== "complete") break;
      q.shift();
      if (front.closeAfter) {
        this.#close("graceful");
        return;
      }
      if (this.#upgrade === front) this.#upgradeDeclined(front);
      if (q.length !== 0) {
        const next = q[0];
        const pending = next.pending;
        if (pending !== null) {
          next.pending = null;
          this.bev.output.addBuffer(pending);
        }
        const waiters = next.waiters;
        if (waiters !== null) {
          next.waiters = null;
          const mine = this.#waiters ??= [];
          for (let i = 0; i < waiters.length; i++) mine.push(waiters[i]);
        }
      }
    }
    if (q.length === 0) {
      this.#idleSince = this.cfg.base.now();
      if (this.#pendingError !== 0) {
        this.#flushPendingError();
        return;
      }
      if (this.#state === "closing" || (this.#read === "stopped" && this.#reading === null)) {
        this.#close("graceful");
        return;
      }
      if (this.cfg.state !== "running" && this.idle) {
        this.#close("graceful");
        return;
      }
    }
    if (this.#read === "paused") this.#kickLater();
  }

  /** Run `fn` once the bytes given so far for `core` have been handed to the socket. */
  addWaiter(core: RequestCore, fn: Waiter): void {
    if (this.#queue[0] === core) {
      (this.#waiters ??= []).push(core, fn);
    } else {
      (core.waiters ??= []).push(core, fn);
    }
  }

  /** A flush callback for a chunk that wrote nothing: after the bytes before it, or on the loop's next turn. */
  flushedLater(core: RequestCore, fn: () => void): void {
    if (this.#queue[0] !== core || this.bev.output.length > 0) {
      this.addWaiter(core, fn);
      return;
    }
    this.cfg.base.defer(() => {
      if (core.resp === "aborted") return;
      try {
        fn();
      } catch (err) {
        this.#failed(core, err);
      }
    });
  }

  /** The write callback: the output drained, so every waiter's bytes are with the socket. */
  #onWritten(): void {
    if (this.bev.output.length !== 0) return;
    if (this.#read === "paused" && this.#reading === null) this.#kickLater();
    const w = this.#waiters;
    if (w === null) return;
    this.#waiters = null;
    this.#runWaiters(w);
  }

  #runWaiters(w: (RequestCore | Waiter)[]): void {
    for (let i = 0; i < w.length; i += 2) {
      const core = w[i] as RequestCore;
      const fn = w[i + 1] as Waiter;
      try {
        if (fn !== null) fn();
        else core.completeCb?.(core.req);
      } catch (err) {
        this.#failed(core, err);
      }
    }
  }

  // ---------------------------------------------------------- timeouts

  /**
   * The connection timer: judge the current phase against its start time.
   * It is re-armed for the nearest deadline, but never further than the
   * shortest timeout, so a phase that starts later is still checked in time
   * and a phase change never touches the timer. The exception is an idle
   * connection whose buffers were let go: its timer sleeps until the idle
   * timeout (at most IDLE_SLEEP_MS), and the next head wakes it.
   */
  #onTimer(): void {
    if (this.#socketPhase === "released") return;
    this.#sleeping = false;
    const t = this.cfg.timeouts;
    const now = this.cfg.base.now();
    let due = Infinity;
    if (t.write > 0) {
      const socket = this.bev.socket;
      const unsent = this.bev.output.length + (socket !== null ? socket.bufferedAmount : 0);
      if (unsent === 0 || unsent !== this.#lastPending) {
        this.#lastPending = unsent;
        this.#writeCheck = now;
      } else if (now - this.#writeCheck >= t.write) {
        this.#close("hard");
        return;
      }
      if (unsent > 0) due = this.#writeCheck + t.write;
    }
    if (this.#state === "open") {
      const read = this.#read;
      if (read === "head" && this.#headStart >= 0 && t.header > 0) {
        if (now - this.#headStart >= t.header) {
          this.#headError(408);
          return;
        }
        due = Math.min(due, this.#headStart + t.header);
      } else if (read === "head" && this.#headStart < 0 && this.#queue.length === 0 && this.bev.input.length === 0) {
        const idleFor = now - this.#idleSince;
        if (t.idle > 0 && idleFor >= t.idle) {
          this.#close("graceful");
          return;
        }
        if (t.idle > 0) due = Math.min(due, this.#idleSince + t.idle);
        if (idleFor >= SPARE_IDLE_MS && this.bev.output.length === 0) {
          this.bev.input.releaseSpare();
          this.bev.output.releaseSpare();
          // Nothing left to do until the idle timeout or the next head (which
          // wakes the timer): sleep until then rather than once a second, so
          // many idle connections cost no wake-ups.
          this.#sleeping = true;
        }
      } else if (read === "body" && (t.body > 0 || this.cfg.state !== "running")) {
        // While the server drains, a body that stops coming is given up soon: nothing waits on it but the client.
        let limit = t.body > 0 ? t.body : Infinity;
        if (this.cfg.state !== "running" && limit > DRAIN_STALL_MS) limit = DRAIN_STALL_MS;
        if (now - this.#bodyProgress >= limit) {
          this.#bodyError(this.#reading as RequestCore, 408);
          return;
        }
        due = Math.min(due, this.#bodyProgress + limit);
      }
    }
    const timer = this.#timer as Event<HttpServerConnection>;
    if (this.#sleeping) {
      // At most a minute, so timeouts the server is given later reach idle connections too.
      timer.add(Math.max(1, Math.min(due - now, IDLE_SLEEP_MS)));
      return;
    }
    const next = Math.min(due - now, timerPeriod(t));
    timer.add(Math.max(1, next));
  }

  // ---------------------------------------------------------- closing

  /**
   * Graceful shutdown of this connection: close it now unless a response is
   * in flight ({@linkcode HttpServerConnection.inFlight}); otherwise read no further
   * request and close once the responses in flight are written (they say
   * `Connection: close`, since cfg.state is draining).
   */
  drain(): void {
    if (this.#state === "closed") return;
    if (!this.inFlight) {
      this.#close("graceful");
      return;
    }
    this.#stopReadingHeads();
  }

  /** Read no further request: a head begun is dropped; a body being read for a response in flight goes on. */
  #stopReadingHeads(): void {
    this.#headStart = -1;
    if (this.#reading === null) {
      this.#read = "stopped";
      if (this.bev.state !== "freed") this.bev.disable(EV_READ);
    }
    if (this.#queue.length === 0) this.#close("graceful");
  }

  /** evhttp_connection_free: abort what is unanswered and let the socket go. */
  close(mode: CloseMode): void {
    this.#close(mode);
  }

  #close(mode: CloseMode): void {
    if (this.#state === "closed") {
      // A hard close (the grace period's end, a write timeout) cuts short a connection still flushing.
      if (mode === "hard" && this.#socketPhase === "flushing") this.#release("hard");
      return;
    }
    this.#state = "closed";
    this.#read = "stopped";
    this.#kick?.free();
    const bev = this.bev;
    const queued = this.#queue.splice(0);
    const reading = this.#reading;
    this.#reading = null;
    // Responses still queued never reach the client, complete or not.
    for (const core of queued) this.#abortRequest(core, true);
    if (reading !== null && !queued.includes(reading)) this.#abortRequest(reading, false);
    if (mode === "graceful" && bev.state !== "freed" && bev.output.length > 0) {
      // The conversation is over, but the last response is still being
      // written (a large file to a slow reader): stay counted until it is
      // out, so a shutdown waits for it and its grace period bounds it.
      this.#socketPhase = "flushing";
      bev.disable(EV_READ);
      bev.setCallbacks(null, HttpServerConnection.#flushedcb, HttpServerConnection.#flusheventcb, this);
    } else {
      this.#release(mode);
    }
  }

  /**
   * Let the socket go: gracefully (BufferEvent.free with closeOnFree sends
   * what the socket still queues, then FIN, then discards input until the
   * peer closes) or hard (everything unsent dropped). The connection then
   * stops counting.
   */
  #release(mode: CloseMode): void {
    if (this.#socketPhase === "released") return;
    this.#socketPhase = "released";
    this.#timer?.free();
    const bev = this.bev;
    const waiters = this.#waiters;
    this.#waiters = null;
    if (mode === "hard") {
      const socket = bev.socket;
      if (bev.state !== "freed") {
        bev.output.drain(bev.output.length);
        bev.free();
      }
      socket?.close();
    } else if (bev.state !== "freed") {
      bev.free();
    }
    this.cfg.connections.delete(this);
    // Bytes handed to the socket by a graceful close count as flushed.
    if (waiters !== null && mode === "graceful") this.#runWaiters(waiters);
    this.cfg.onConnectionClosed?.();
  }

  /** Tell a request its connection is gone: body cut short, response lost (when `lost`). */
  #abortRequest(core: RequestCore, lost: boolean): void {
    const wasReading = core.body === "reading";
    if (wasReading) core.body = "aborted";
    if (lost) core.resp = "aborted";
    if (wasReading && core.streaming) this.#notifyBody(core);
    if (lost || wasReading) this.#notifyClose(core);
  }

  /** HttpServerRequest.takeOver. */
  takeOver(core: RequestCore, hooks: UpgradeHooks): BufferEvent {
    if (this.#state !== "open" || this.#queue.length !== 1 || this.#queue[0] !== core) {
      throw new TypeError("takeOver: the request must be the only one in flight on an open connection");
    }
    if (core.resp !== "none" || core.body !== "complete") {
      throw new TypeError(
        `takeOver: the request must be unanswered with its body read (body ${core.body}, response ${core.resp})`,
      );
    }
    this.#state = "closed";
    this.#socketPhase = "released";
    this.#read = "stopped";
    this.#timer?.free();
    this.#kick?.free();
    this.#queue.length = 0;
    this.#upgrade = null;
    core.resp = "complete";
    const bev = this.bev;
    bev.setCallbacks(null, null, null);
    bev.disable(EV_READ);
    this.cfg.connections.delete(this);
    this.cfg.upgraded.set(bev, hooks);
    this.cfg.onConnectionClosed?.();
    return bev;
  }
}
