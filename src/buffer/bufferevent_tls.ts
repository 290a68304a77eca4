/**
 * The TLS kind of BufferEvent: libevent's bufferevent_openssl.c, for TLS
 * started over a connection that began in plain text. The platform runs
 * TLS (`Platform.startTls`) and hands back a socket that carries
 * plaintext, so once the handshake is done this kind is a socket
 * BufferEvent over that socket: it extends the socket kind, and adds
 * where the connection came from.
 *
 * - `BufferEvent.tls` (libevent `bufferevent_openssl_filter_new`) takes
 *   the socket from an open socket BufferEvent, the underlying, with the
 *   bytes it received and did not read; the underlying is left closed,
 *   and closeOnFree frees it with this one.
 * - `BufferEvent.tlsSocket` (libevent `bufferevent_openssl_socket_new`)
 *   starts TLS on a plain socket not yet started.
 *
 * The handshake is the socket kind's connect: state `"connecting"`, then
 * `BEV_EVENT_CONNECTED`, or `BEV_EVENT_ERROR` with the platform's coded
 * error (`ETLS`...).
 *
 * @module
 */
import type { Platform, TcpSocket } from "../platform.ts";
import type { BufferEvent, BufferEventCore, BufferEventState } from "./bufferevent.ts";
// Extended at module top level: this module is reached only through
// bufferevent.ts, which imports bufferevent_sock.ts before it.
import { SocketOps } from "./bufferevent_sock.ts";

/** A TLS BufferEvent's kind: a socket kind whose socket comes out of a TLS handshake. */
export class TlsOps extends SocketOps {
  readonly #core: BufferEventCore;
  /** The BufferEvent whose connection TLS runs over (`BufferEvent.tls`), or null (`BufferEvent.tlsSocket`). */
  readonly #lower: BufferEventCore | null;

  constructor(core: BufferEventCore, lower: BufferEventCore | null) {
    super(core);
    this.#core = core;
    this.#lower = lower;
  }

  /** The BufferEvent whose connection this one took (libevent `bufferevent_get_underlying`). */
  override get underlying(): BufferEvent | null {
    return this.#lower === null ? null : this.#lower.bev;
  }

  /** Run the handshake: `open` starts TLS on the platform. */
  start(op: string, open: (platform: Platform) => Promise<TcpSocket>): void {
    this.connect(op, open);
  }

  /** As a socket BufferEvent; with closeOnFree the underlying BufferEvent goes too, as libevent's filters do. */
  override release(abort: boolean, was: BufferEventState): void {
    super.release(abort, was);
    const lower = this.#lower;
    if (lower !== null && this.#core.closeOnFree) lower.release(abort);
  }
}
