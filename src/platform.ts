/**
 * The platform contract: every way levent reaches the outside world (TCP,
 * UDP, TLS, clock and timers, signals, files, compression, system name
 * lookup) goes through these interfaces. The core under `src/` only ever
 * sees them; `adapters/node.ts`, `adapters/deno.ts` and `adapters/bun.ts`
 * implement them with each runtime's native API.
 *
 * This file holds types only: no runtime code.
 *
 * @module
 */

/** An IP or Unix-domain socket address. */
export interface NetAddress {
  /** `"tcp"` / `"udp"` for IP addresses, `"unix"` for a socket path. */
  readonly transport: "tcp" | "udp" | "unix";
  /** The IP address (IPv4 dotted quad or IPv6 text); the path for Unix sockets. */
  readonly host: string;
  /** The port; 0 for Unix sockets. */
  readonly port: number;
  /** 4 or 6 for IP addresses, 0 for Unix sockets. */
  readonly family: 0 | 4 | 6;
}

/**
 * The `code` of every Error an adapter raises, whichever runtime raised it:
 * one code per condition.
 *
 * Connecting and listening:
 * - `ECONNREFUSED`: nothing listens at the address.
 * - `ENOTFOUND`: the host name did not resolve (also temporary lookup
 *   failures; a connect or listen that looks the name up says the same as
 *   {@linkcode Platform.lookup}).
 * - `EADDRINUSE`: the address is already bound.
 * - `EADDRNOTAVAIL`: the local address does not belong to this host.
 * - `ETIMEDOUT`: the connection attempt or the connection timed out.
 *
 * An established connection:
 * - `ECONNRESET`: the peer reset the connection, or it closed while bytes
 *   were still being sent to it.
 * - `EPIPE`: writing after the peer had gone.
 * - `ETLS`: a TLS handshake, certificate or record failure.
 *
 * Files:
 * - `ENOENT`: no such file or directory.
 * - `EACCES`: permission denied.
 * - `EIO`: a read or close failed for another reason.
 *
 * Elsewhere:
 * - `EINVAL`: bad arguments (a port outside 0-65535...), or an operation
 *   the runtime refused.
 * - `EBADF`: a UDP send on a socket already closed (told to its `error` handler).
 * - `EZLIB`: corrupt compressed input, or a compression stream that was
 *   closed, finished, or failed before.
 * - `EMSGSIZE`: a compression stream's output passed the `maxOutput` its
 *   caller allowed ({@linkcode ZStream.process}), or a UDP datagram is
 *   too large to send.
 *
 * Runtime-specific codes that say the same thing as one of these (Deno's
 * error class names, Node's `ERR_*` codes, getaddrinfo's `EAI_*`) are
 * translated to it.
 *
 * An errno-style code a runtime reports that none of these covers (for
 * example `EMFILE`, `ENOTDIR`, `ELOOP`, `EHOSTUNREACH`) is passed on as it is.
 */
export type NetErrorCode =
  | "ECONNREFUSED"
  | "ENOTFOUND"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "ETIMEDOUT"
  | "ECONNRESET"
  | "EPIPE"
  | "ETLS"
  | "ENOENT"
  | "EACCES"
  | "EIO"
  | "EINVAL"
  | "EBADF"
  | "EZLIB"
  | "EMSGSIZE";

/**
 * What a socket tells its owner. The adapter calls these; the owner sets them
 * once with {@linkcode TcpSocket.start}.
 */
export interface SocketHandlers {
  /**
   * Bytes arrived. When `owned` is false the bytes are lent: the view is only
   * valid until `data` returns (the adapter reads into a reused buffer), so
   * copy what you keep. When `owned` is true the view is the caller's to keep.
   */
  data(bytes: Uint8Array, owned: boolean): void;
  /**
   * The peer half-closed its side (EOF). No more `data` follows. The socket
   * stays open for writing until the owner calls `end()` or `close()`.
   */
  end(): void;
  /**
   * After one or more `write()` calls returned false: the queue has
   * emptied, write again. Called once for those falses together; never
   * when no write() returned false, nor after `end()` or `close()`.
   */
  drain(): void;
  /**
   * Optional. After {@linkcode TcpSocket.end}: every byte written before it
   * has been handed to the kernel and FIN was sent. Called at most once,
   * before `close`; never called when the socket fails or is closed first
   * (then `error` and `close` come instead).
   */
  finish?(): void;
  /** The connection failed (reset, TLS failure...). `close` follows. */
  error(err: Error): void;
  /** The socket is closed for good; called exactly once. */
  close(): void;
}

/**
 * A connected stream socket (TCP, Unix or TLS), push-style.
 *
 * Every adapter keeps one write high-water mark: 64 KiB (65536 bytes), see
 * {@linkcode TcpSocket.write}.
 */
export interface TcpSocket {
  /** The peer's address. */
  readonly remoteAddress: NetAddress;
  /** This end's address. */
  readonly localAddress: NetAddress;
  /** Bytes accepted by {@linkcode TcpSocket.write} but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /**
   * Set the handlers and start delivering data. Nothing is delivered before
   * this is called, so no byte is lost between accept and setup. Events that
   * happened before (an early close) are told after it returns.
   *
   * @throws {TypeError} (code `"EINVAL"`) when called a second time: a
   * socket has one owner, set once.
   */
  start(handlers: SocketHandlers): void;
  /**
   * Queue bytes for sending. Every byte is accepted (the adapter keeps what
   * the kernel did not take yet); the socket takes ownership of `bytes`, so
   * the caller must not change them afterwards.
   *
   * The write high-water mark is 64 KiB (65536 bytes) on every adapter:
   * write() returns true when `bufferedAmount` before the call plus
   * `bytes.length` stays below it, and false once it reaches it (so a single
   * write of 64 KiB or more returns false, even when the kernel takes it at
   * once). After a false, `drain` follows once the queue has emptied; more
   * writes before then are still accepted. After `end()` or `close()`
   * write() sends nothing and returns false.
   */
  write(bytes: Uint8Array): boolean;
  /**
   * Half-close: send FIN once everything queued is written, then tell
   * `finish`. Once the peer has ended too, the socket closes (`close`
   * handler). A second call does nothing.
   */
  end(): void;
  /**
   * Close at once, dropping anything still queued. `close` handler follows.
   * Where the runtime can, a TCP socket closed with bytes still queued is
   * reset rather than ended, so the peer does not take a cut stream for a
   * whole one.
   */
  close(): void;
  /**
   * Abort the connection: close at once, dropping anything queued, and make
   * the peer see a reset (RST, `ECONNRESET` at its end) instead of an
   * orderly end. This is what a C program gets from `SO_LINGER` {1, 0} and
   * then `close()`. The `close` handler follows, with no `error` before it.
   *
   * Node sends the RST (`socket.resetAndDestroy()`), and so does Bun
   * (`socket.terminate()`). Deno's `Conn` has no way to send one: there
   * reset() closes at once like {@linkcode TcpSocket.close}, and the peer
   * sees a reset only if bytes it sent were still unread (Linux answers
   * those with RST); otherwise it sees an end of stream. Unix sockets have
   * no reset, and TLS sockets on Node and Deno are closed plainly too.
   */
  reset(): void;
  /** Stop delivering `data` (real backpressure: the kernel buffer fills). */
  pause(): void;
  /** Start delivering `data` again. */
  resume(): void;
  /** Disable (true) or enable (false) Nagle's algorithm. No-op for Unix sockets. */
  setNoDelay(noDelay: boolean): void;
}

/** The local end to bind a client socket to before it connects. */
export interface LocalBind {
  /** The local address (an IP literal) to connect from; the system picks when absent. */
  readonly localAddress?: string;
  /** The local port to connect from; the system picks when absent or 0. */
  readonly localPort?: number;
}

/** Where to connect: host and port (from an optional local address and port), or a Unix socket path. */
export type ConnectOptions =
  | ({ readonly host: string; readonly port: number; readonly path?: undefined } & LocalBind)
  | {
    readonly path: string;
    readonly host?: undefined;
    readonly port?: undefined;
    readonly localAddress?: undefined;
    readonly localPort?: undefined;
  };

/** Where and how to listen. */
export type ListenOptions =
  | {
    /** The address to bind; `"0.0.0.0"`, `"::"`, `"127.0.0.1"`... */
    readonly host: string;
    /** The port; 0 picks a free one (see {@linkcode TcpListener.address}). */
    readonly port: number;
    /** The accept queue length hint. */
    readonly backlog?: number;
    /**
     * Let several listeners, in this process or others, bind the same
     * address and port (SO_REUSEPORT): the kernel spreads the incoming
     * connections among them. Bun uses the option of Bun's `listen`, Deno
     * its `listen` with `--unstable-net` and its node:net otherwise, Node
     * node:net's (from 22.12 and 23.1). Where the runtime or the system
     * cannot (Node 20, a system other than Linux...) the listen rejects with
     * a LeventError, code `ERR_NOT_SUPPORTED`, naming what is missing:
     * never a listener that does not share.
     */
    readonly reusePort?: boolean;
    readonly path?: undefined;
  }
  | {
    /** A Unix socket path. */
    readonly path: string;
    readonly backlog?: number;
    readonly host?: undefined;
    readonly port?: undefined;
    readonly reusePort?: undefined;
  };

/** A listening socket. */
export interface TcpListener {
  /** The bound address, with the real port when 0 was asked for. */
  readonly address: NetAddress;
  /** Stop accepting and release the address. Accepted sockets stay open. */
  close(): Promise<void>;
}

/** Called with each accepted socket; it delivers nothing until started. */
export type AcceptHandler = (socket: TcpSocket) => void;

/**
 * Called when accepting a connection failed (out of descriptors...); the
 * listener keeps listening.
 */
export type AcceptErrorHandler = (err: Error) => void;

/** TLS options for a client connection. */
export interface TlsConnectOptions extends LocalBind {
  /** The host to connect to. */
  readonly host: string;
  /** The port to connect to. */
  readonly port: number;
  /** The name to send in SNI and check the certificate against; defaults to `host`. */
  readonly serverName?: string;
  /** Extra trusted CA certificates, PEM. */
  readonly caCerts?: readonly string[];
  /** ALPN protocols to offer. */
  readonly alpnProtocols?: readonly string[];
}

/** TLS options for a server. */
export interface TlsListenOptions {
  /** The address to bind. */
  readonly host: string;
  /** The port; 0 picks a free one. */
  readonly port: number;
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /** ALPN protocols to accept. */
  readonly alpnProtocols?: readonly string[];
}

/**
 * {@linkcode Platform.startTls} as the client: send the ClientHello and
 * check the server's certificate (libevent's `BUFFEREVENT_SSL_CONNECTING`).
 */
export interface TlsUpgradeClientOptions {
  /** The TLS role. */
  readonly role: "client";
  /**
   * The name to send in SNI and check the certificate against; defaults to
   * the peer's address (`socket.remoteAddress.host`).
   */
  readonly serverName?: string;
  /** Extra trusted CA certificates, PEM. */
  readonly caCerts?: readonly string[];
  /** ALPN protocols to offer. */
  readonly alpnProtocols?: readonly string[];
  /**
   * Bytes of the TLS stream the socket's owner already received and did
   * not consume; the TLS layer reads them first. Empty when absent.
   */
  readonly head?: Uint8Array;
}

/**
 * {@linkcode Platform.startTls} as the server: wait for the ClientHello and
 * present a certificate (libevent's `BUFFEREVENT_SSL_ACCEPTING`).
 */
export interface TlsUpgradeServerOptions {
  /** The TLS role. */
  readonly role: "server";
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
  /** ALPN protocols to accept. */
  readonly alpnProtocols?: readonly string[];
  /**
   * Bytes of the TLS stream the socket's owner already received and did
   * not consume (a ClientHello that came in the same read as a STARTTLS
   * command); the TLS layer reads them first. Empty when absent.
   */
  readonly head?: Uint8Array;
}

/** How {@linkcode Platform.startTls} starts TLS: as the client or as the server. */
export type TlsUpgradeOptions = TlsUpgradeClientOptions | TlsUpgradeServerOptions;

/**
 * What a UDP socket tells its owner: set once, when it is bound
 * ({@linkcode Platform.bindUdp}). The adapter calls these, never from
 * inside {@linkcode UdpSocket.send}; after `close()` only `error`, for a
 * send made after it (`EBADF`).
 */
export interface UdpHandlers {
  /** A datagram arrived from `from`. The bytes are the receiver's to keep. */
  message(bytes: Uint8Array, from: NetAddress): void;
  /**
   * Optional. A datagram given to {@linkcode UdpSocket.send} was not sent:
   * `to` is where it was going, and the error's `code` says why (`EINVAL`
   * for a host that is no IP address or a port out of range, `EBADF` for a
   * send after `close()`, `EMSGSIZE` for a datagram too large, or what the
   * system said: `ENETUNREACH`, `EHOSTUNREACH`, `ECONNREFUSED`...).
   * `to` is null for an error the system reports without saying which
   * datagram caused it.
   */
  error?(err: Error, to: NetAddress | null): void;
  /**
   * Optional. After one or more `send()` calls returned false: the
   * datagrams waiting for buffer space have all been handed to the kernel.
   */
  drain?(): void;
}

/** Where to bind a UDP socket. */
export interface UdpBindOptions {
  /** The address to bind; its family picks IPv4 or IPv6. */
  readonly host: string;
  /** The port; 0 picks a free one (the system picks it at random, from its ephemeral range). */
  readonly port: number;
}

/**
 * A bound UDP socket.
 *
 * Sending is synchronous and costs no Promise and no callback per datagram:
 * a resolver or a DNS server sends tens of thousands a second. Every
 * adapter keeps one send high-water mark, 64 KiB (65536 bytes) of
 * datagrams waiting in user space for the kernel to take them (see
 * {@linkcode UdpSocket.send}).
 */
export interface UdpSocket {
  /** The bound address, with the real port. */
  readonly address: NetAddress;
  /** Bytes of datagrams accepted by {@linkcode UdpSocket.send} and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /**
   * Send one datagram to `host` (an IP address of the socket's family:
   * names are not looked up) and `port`. Every datagram is accepted: it
   * goes to the kernel at once, or, when the kernel's buffer is full, waits
   * behind the others. As UDP promises no order, neither does send(): Deno's
   * node:dgram sends the datagrams of one turn in reverse.
   * The socket takes ownership of `bytes`, so the caller must not change
   * them afterwards.
   *
   * Returns true while `bufferedAmount` stays below the 64 KiB mark, false
   * once it reaches it; after a false, the `drain` handler follows when the
   * queue has emptied. A datagram that cannot be sent is reported to the
   * `error` handler, on a later turn, never thrown. After `close()` send()
   * sends nothing, reports `EBADF` and returns false.
   */
  send(bytes: Uint8Array, host: string, port: number): boolean;
  /** Close the socket. Datagrams still waiting for buffer space are dropped. */
  close(): void;
}

/** A handle for a runtime timer armed through {@linkcode Clock.setTimer}. */
export type TimerHandle = unknown;

/**
 * Monotonic time and one-shot timers. EventBase takes one of these, so tests
 * can substitute a manual clock and drive time by hand.
 */
export interface Clock {
  /** Monotonic milliseconds (fractional allowed) since an arbitrary origin. */
  now(): number;
  /** Call `fn` once, no sooner than `delayMs` from now. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  /** Cancel a timer that has not fired; cancelling a fired timer is a no-op. */
  clearTimer(handle: TimerHandle): void;
}

/** The signals levent can watch, where the runtime has them. */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGUSR1" | "SIGUSR2";

/** Facts about a file. */
export interface FileInfo {
  /** Size in bytes. */
  readonly size: number;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** Last modification, milliseconds since the epoch (NaN when unknown). */
  readonly mtimeMs: number;
}

/** An open, readable file. */
export interface FileHandle {
  /** Read up to `length` bytes starting at byte `position`; fewer at end of file. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Facts about the open file. */
  stat(): Promise<FileInfo>;
  /** Close the file. */
  close(): Promise<void>;
}

/** A directory entry. */
export interface DirEntry {
  /** The entry's name (no path). */
  readonly name: string;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
}

/** File access. Errors carry a `code` (`ENOENT`, `EACCES`, ...). */
export interface FileSystem {
  /** Open a file for reading. */
  open(path: string): Promise<FileHandle>;
  /** Facts about a path (follows symlinks). */
  stat(path: string): Promise<FileInfo>;
  /** List a directory. */
  readDir(path: string): Promise<DirEntry[]>;
  /**
   * The canonical absolute path of an existing file or directory: every
   * symbolic link resolved, `.` and `..` removed (POSIX `realpath(3)`). A
   * relative path is taken from the current directory. Rejects with a coded
   * Error: `ENOENT` when a component does not exist, `ENOTDIR`, `ELOOP`,
   * `EACCES`.
   */
  realPath(path: string): Promise<string>;
}

/**
 * How much a compression stream flushes after a chunk: `"none"` lets it
 * hold output back (it may return nothing until a later flush), `"sync"`
 * returns everything so far, ending on a byte boundary, `"finish"` ends the
 * stream.
 */
export type FlushMode = "none" | "sync" | "finish";

/**
 * A synchronous raw-deflate (RFC 1951) compressor or decompressor stream,
 * or one of another {@linkcode CompressionFormat}.
 * The stream keeps its context (the last window of data) from one call to
 * the next, so a message can refer back into the messages before it, as
 * permessage-deflate's context takeover (RFC 7692) needs.
 */
export interface ZStream {
  /**
   * Feed bytes and return what comes out (the caller's to keep).
   *
   * A compressor flushed with `"sync"` ends its output in `00 00 ff ff`.
   * A decompressor given `"sync"` returns everything the input so far
   * decodes to; give it `"sync"` at the end of each message (for
   * permessage-deflate: the message with `00 00 ff ff` appended).
   *
   * @param bytes The input; the stream does not keep a reference to it.
   * @param flush How much to flush (see {@linkcode FlushMode}).
   * @param maxOutput The most bytes this call may return (default: no
   *   limit). A decompressor bounds what a small input expands to with it:
   *   past the bound it stops and throws.
   * @throws {Error} code `"EZLIB"` on corrupt input, or when the stream was
   *   closed, finished (after `"finish"`) or failed; code `"EMSGSIZE"` when
   *   the output would pass `maxOutput`. After a throw the stream stays
   *   failed until {@linkcode ZStream.reset}.
   */
  process(bytes: Uint8Array, flush: FlushMode, maxOutput?: number): Uint8Array;
  /**
   * Forget the context and start a new stream with the same options, as
   * zlib's `deflateReset`/`inflateReset` do: cheaper than closing the
   * stream and creating another. permessage-deflate's no_context_takeover
   * calls it after each message. Also clears a finished or failed state.
   */
  reset(): void;
  /** Release the stream's memory. Later calls to `process` throw `"EZLIB"`. */
  close(): void;
}

/** Options for a raw-deflate stream. */
export interface ZStreamOptions {
  /** Compression level, an integer 0-9 (compressor only); default 6. */
  readonly level?: number;
  /**
   * Window size as log2, an integer: 9-15 for the compressor (zlib has no
   * 8-bit deflate window), 8-15 for the decompressor; default 15.
   */
  readonly windowBits?: number;
}

/**
 * A compressed format for {@linkcode Compression.createEncoder} and
 * {@linkcode Compression.createDecoder}, named as HTTP's content codings
 * (RFC 9110 §8.4.1) and the `CompressionStream` formats name them:
 * - `"gzip"`: a gzip file (RFC 1952): a header, raw deflate, CRC-32 and length;
 * - `"deflate"`: the zlib format (RFC 1950): a two-byte header, raw deflate, Adler-32;
 * - `"deflate-raw"`: raw deflate (RFC 1951), as {@linkcode Compression.createDeflateRaw};
 * - `"br"`: Brotli (RFC 7932).
 */
export type CompressionFormat = "gzip" | "deflate" | "deflate-raw" | "br";

/** Options of {@linkcode Compression.createEncoder}. */
export interface CompressionEncoderOptions {
  /**
   * How hard to compress, an integer: 0-9 for the deflate formats (default
   * 6), Brotli's quality 0-11 for `"br"` (default 11, the library's; 4 or
   * 5 is what on-the-fly HTTP compression uses).
   */
  readonly level?: number;
}

/** Streaming compression: raw deflate with context takeover, and the HTTP content codings. */
export interface Compression {
  /**
   * A new raw-deflate compressor.
   *
   * @throws {RangeError} (code `"EINVAL"`) for a level or windowBits out of range.
   */
  createDeflateRaw(options?: ZStreamOptions): ZStream;
  /**
   * A new raw-deflate decompressor.
   *
   * @throws {RangeError} (code `"EINVAL"`) for a windowBits out of range.
   */
  createInflateRaw(options?: ZStreamOptions): ZStream;
  /**
   * The formats {@linkcode Compression.createEncoder} and
   * {@linkcode Compression.createDecoder} take on this runtime, in no
   * particular order. An adapter lists a format only where the runtime
   * streams it synchronously as {@linkcode ZStream} promises. Node and
   * Bun list all four. Deno lists no `"br"`: its node:zlib Brotli decoder
   * reports no error for corrupt or truncated input (it returns nothing),
   * so a broken body would pass for an empty one. Where a format is left
   * out, HTTP neither asks for it nor sends it.
   */
  readonly formats: readonly CompressionFormat[];
  /**
   * A new compressor for `format`, as a {@linkcode ZStream}: give each
   * piece with `"none"` or `"sync"` (a sync flush returns everything so
   * far, ending on a byte boundary, so the receiver can decode it at once),
   * and the last with `"finish"`, which writes the format's trailer. A
   * finished stream is made ready for the next body by `reset()`.
   *
   * @throws {RangeError} (code `"EINVAL"`) for a format not in
   *   {@linkcode Compression.formats} or a level out of range.
   */
  createEncoder(format: CompressionFormat, options?: CompressionEncoderOptions): ZStream;
  /**
   * A new decompressor for `format`, as a {@linkcode ZStream}: `"sync"`
   * returns everything the input so far decodes to, `"finish"` says the
   * input has ended. Corrupt input throws `"EZLIB"`, and so does input
   * that ends inside the stream at `"finish"`. `maxOutput` bounds what one call
   * may return (`"EMSGSIZE"` past it), so a small input cannot expand
   * without limit. A gzip decoder takes several members one after another
   * (RFC 1952 §2.2).
   *
   * @throws {RangeError} (code `"EINVAL"`) for a format not in {@linkcode Compression.formats}.
   */
  createDecoder(format: CompressionFormat): ZStream;
}

/** One address from a system name lookup. */
export interface LookupAddress {
  /** The address text. */
  readonly address: string;
  /** 4 or 6. */
  readonly family: 4 | 6;
}

/**
 * A runtime `MessagePort`, opaque to levent's core: made by
 * {@linkcode Threads.createPorts}, sent to another thread in a message
 * (listed in its transfer list), and listened to there with
 * {@linkcode Threads.openPort}.
 */
export type PortHandle = object;

/**
 * What a message's transfer list may hold: an `ArrayBuffer` moves to the
 * receiving thread (the sender's copy is left detached, with byteLength 0)
 * instead of being copied; a {@linkcode PortHandle} moves with it.
 */
export type Transferable = ArrayBuffer | PortHandle;

/** One end of a message link between threads. */
export interface MessageLink {
  /**
   * Send `value` to the other end, structured-cloned; what `transfer` lists
   * moves instead of being copied. Messages arrive in the order they were
   * posted. After `close()` nothing is sent.
   *
   * @throws {Error} (a DataCloneError) for a value that cannot be cloned (a function...)
   */
  post(value: unknown, transfer?: readonly Transferable[]): void;
  /** Stop sending and receiving; the link no longer keeps the thread alive. A second call does nothing. */
  close(): void;
}

/** What a worker thread tells its parent: set once, by {@linkcode Threads.start}. */
export interface WorkerHandlers {
  /** The worker posted `value` (see {@linkcode WorkerSelf.post}). */
  message(value: unknown): void;
  /** The worker threw and did not catch it: its thread ends, and `exit` follows. */
  error(err: Error): void;
  /**
   * The worker's thread ended: called exactly once, last. `code` is what it
   * gave {@linkcode WorkerSelf.exit}, 1 after an uncaught error, and 1
   * after {@linkcode WorkerThread.terminate}.
   */
  exit(code: number): void;
}

/** Options of {@linkcode Threads.start}. */
export interface WorkerStartOptions {
  /** The initial data, structured-cloned: the worker reads it as {@linkcode WorkerSelf.data}. */
  readonly data?: unknown;
  /** What in `data` moves instead of being copied. */
  readonly transfer?: readonly Transferable[];
  /** A name for the thread, for debuggers and error messages. */
  readonly name?: string;
}

/** A worker thread, seen from the thread that started it. */
export interface WorkerThread extends MessageLink {
  /** The thread's id, unique in the process (Node's `threadId`; a counter on Deno and Bun). */
  readonly threadId: number;
  /**
   * Send `value` to the worker, where {@linkcode WorkerSelf.setHandler}'s
   * handler receives it. Messages posted before the worker listens wait for it.
   */
  post(value: unknown, transfer?: readonly Transferable[]): void;
  /**
   * Stop the thread at once, wherever it is (no cleanup runs in it). The
   * `exit` handler follows, with code 1, unless the thread had ended
   * already. Resolves once it is gone.
   */
  terminate(): Promise<void>;
  /** Stop listening to the worker: no handler is called any more. Does not stop it. */
  close(): void;
}

/** Inside a worker thread: the link to the thread that started it. */
export interface WorkerSelf extends MessageLink {
  /** The initial data ({@linkcode WorkerStartOptions.data}). */
  readonly data: unknown;
  /** This thread's id, the parent's {@linkcode WorkerThread.threadId}. */
  readonly threadId: number;
  /**
   * Set the handler of the parent's messages; messages that arrived before
   * wait for it, in order. Set it once.
   */
  setHandler(fn: (value: unknown) => void): void;
  /** Send `value` to the parent's {@linkcode WorkerHandlers.message}. */
  post(value: unknown, transfer?: readonly Transferable[]): void;
  /**
   * End this thread with `code`: the parent's `exit` handler gets it. What
   * was posted before goes out first. Nothing runs in this thread after.
   */
  exit(code: number): void;
}

/**
 * Threads: workers that run a module, and message ports between them.
 * Node uses `node:worker_threads`; Deno and Bun use Web Workers (a module
 * worker), with a handshake so that no message is lost while the worker's
 * module graph is still loading.
 */
export interface Threads {
  /** True on the process's main thread, false in a worker. */
  readonly isMainThread: boolean;
  /**
   * Start a worker thread running the module at `moduleUrl` (a `file:` URL
   * on every runtime; a `.ts` module runs where the runtime runs
   * TypeScript). The module reaches its parent through
   * {@linkcode Threads.workerSelf}. A module that cannot be loaded is
   * reported to the `error` handler, then `exit`.
   *
   * @throws {TypeError} (code `"EINVAL"`) for a URL the runtime refuses
   */
  start(moduleUrl: string | URL, options: WorkerStartOptions, handlers: WorkerHandlers): WorkerThread;
  /**
   * In a worker started by {@linkcode Threads.start}: the link to its
   * parent, once the initial data has arrived (Web Workers get it by
   * message). The same link on every call. Null on the main thread.
   */
  workerSelf(): Promise<WorkerSelf | null>;
  /** Two entangled message ports: what one end posts, the other receives. */
  createPorts(): [PortHandle, PortHandle];
  /**
   * Listen to a port made by {@linkcode Threads.createPorts} here or
   * received from another thread. `onMessage` gets each message in order.
   * While open the link keeps the thread alive; `close()` closes the port
   * (and so the link for both ends).
   *
   * @throws {TypeError} (code `"EINVAL"`) when `port` is no message port of this runtime
   */
  openPort(port: PortHandle, onMessage: (value: unknown) => void): MessageLink;
}

/**
 * Everything runtime-specific levent needs. One object per runtime, from
 * `adapters/node.ts`, `adapters/deno.ts`, `adapters/bun.ts`, or
 * `adapters/auto.ts` which picks one.
 */
export interface Platform {
  /** The runtime's name: `"node"`, `"deno"`, `"bun"`, or a test double's. */
  readonly name: string;
  /** The runtime's monotonic clock and timers. */
  readonly clock: Clock;
  /** File access. */
  readonly fs: FileSystem;
  /** Compression streams: raw deflate, gzip, zlib's deflate, Brotli. */
  readonly compression: Compression;
  /**
   * Run `fn` soon, after pending I/O callbacks get a turn (a macrotask, like
   * `setImmediate`). Used by EventBase to yield between loop iterations.
   */
  yieldToIo(fn: () => void): void;
  /**
   * The body of a `Response` that the runtime holds whole (the string or
   * bytes it was made with), taken without starting its stream; undefined
   * for a streamed body, one already read, or when the runtime does not
   * tell. serve() sends such a body at once with its length, and reads the
   * stream otherwise. Optional: Deno's adapter has it.
   */
  wholeBody?(response: Response): string | Uint8Array | undefined;
  /** Open a TCP or Unix stream connection. Rejects with a coded Error (`ECONNREFUSED`...). */
  connect(options: ConnectOptions): Promise<TcpSocket>;
  /** Listen for TCP or Unix stream connections. */
  listen(options: ListenOptions, onAccept: AcceptHandler, onError?: AcceptErrorHandler): Promise<TcpListener>;
  /** Open a TLS client connection. */
  connectTls(options: TlsConnectOptions): Promise<TcpSocket>;
  /** Listen for TLS connections; accepted sockets carry plaintext. */
  listenTls(options: TlsListenOptions, onAccept: AcceptHandler, onError?: AcceptErrorHandler): Promise<TcpListener>;
  /**
   * Start TLS over an open plain connection: a STARTTLS command (SMTP,
   * IMAP), a tunnel through a proxy's CONNECT, a listener that looked at
   * the first bytes before choosing. `socket` is a TcpSocket this platform
   * made (connected or accepted), either not started yet or started and
   * then paused by its owner. From this call on the connection belongs to
   * the TLS layer: the old handlers hear nothing more, and the owner must
   * not use `socket` again. What the owner wrote before the call goes out
   * first, as it was; bytes the owner received and did not consume go in
   * `options.head`, and bytes the socket received while paused follow them.
   *
   * Resolves, once the handshake succeeded, with a new TcpSocket that
   * carries plaintext: not started (nothing is lost before `start()`), with
   * the same addresses and the same 64 KiB write high-water mark; closing
   * it closes the connection. Rejects, leaving the connection closed, with
   * code `ETLS` when the handshake fails (an untrusted or misnamed
   * certificate, a peer that does not speak TLS), `ECONNRESET` when the
   * connection closes or the peer had already ended it, and `EINVAL` when
   * `socket` is not one of this platform's or its owner closed or ended it.
   *
   * Every adapter does both roles, on TCP and Unix sockets, with the
   * runtime's own upgrade where it can:
   * - Node wraps the `node:net` socket: `tls.connect({ socket })`, or
   *   `new tls.TLSSocket(socket, { isServer: true })`.
   * - Deno upgrades with its `startTls` a client TCP socket that was never
   *   started: Deno refuses to upgrade a connection with a read under way
   *   and cannot cancel one, and has no server-side upgrade. Otherwise it
   *   runs `node:tls` over the socket's bytes.
   * - Bun upgrades with `socket.upgradeTLS` when the role is the one the
   *   socket was made for (client for `connect`, server for `listen`: Bun
   *   takes the role from the socket) and nothing was read ahead or is
   *   still queued (it takes no bytes already read). Otherwise it runs
   *   `node:tls` over the socket's bytes.
   */
  startTls(socket: TcpSocket, options: TlsUpgradeOptions): Promise<TcpSocket>;
  /**
   * Bind a UDP socket; datagrams arrive through `handlers.message`. Rejects
   * with a coded Error (`EADDRINUSE`, `EADDRNOTAVAIL`, `EINVAL` for a port
   * out of range).
   */
  bindUdp(options: UdpBindOptions, handlers: UdpHandlers): Promise<UdpSocket>;
  /**
   * Watch a signal. Returns false (and does nothing) when the runtime or OS
   * cannot deliver that signal, including any name that is not a
   * {@linkcode SignalName} (`"SIGKILL"`, a misspelling); never throws.
   */
  addSignalListener(signal: SignalName, fn: () => void): boolean;
  /** Stop watching a signal; a listener that was never added is ignored. */
  removeSignalListener(signal: SignalName, fn: () => void): void;
  /** Resolve a host name with the system resolver (hosts file, then DNS). */
  lookup(host: string, family?: 0 | 4 | 6): Promise<LookupAddress[]>;
  /** Worker threads and message ports between them. */
  readonly threads: Threads;
}
