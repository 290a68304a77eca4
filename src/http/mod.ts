/**
 * HTTP: libevent's http.h. The server, {@linkcode HttpServer} (evhttp),
 * hands each {@linkcode HttpServerRequest} to a callback; the client,
 * {@linkcode HttpConnection}, carries each {@linkcode HttpClientRequest}
 * (`evhttp_connection`, `evhttp_request`). Both read messages with
 * {@linkcode HttpParser}, keep fields in {@linkcode HttpHeaders}, and report
 * what went wrong as an {@linkcode HttpError}; `serve()` and `request()` are
 * their Fetch-style faces, {@linkcode HttpUri} and its helpers libevent's
 * `evhttp_uri_*`.
 *
 * @example
 * ```ts
 * import { EvBuffer } from "@levent/levent/buffer";
 * import { HttpParser } from "@levent/levent/http";
 * const input = new EvBuffer();
 * input.addString("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
 * const ev = new HttpParser("request").parse(input);
 * if (ev.type === "head") console.log(ev.head.method, ev.head.headers); // GET ["host", "example.com"]
 * ```
 *
 * @module
 */
// Names, not `export *`: the files also export what the module's classes
// share among themselves (the request and server state, the internals
// accessors), which is not public.
export { LeventError, type LeventErrorOptions } from "../errors.ts";
export { HttpError, type HttpErrorCode } from "./http_error.ts";
export {
  DEFAULT_HTTP_PARSER_LIMITS,
  type HeadOf,
  type HttpFraming,
  type HttpHeadBase,
  HttpParser,
  type HttpParserKind,
  type HttpParserLimits,
  type HttpParserOptions,
  type HttpParserState,
  type ParseBodyEvent,
  type ParseEndEvent,
  type ParseErrorEvent,
  type ParseEvent,
  type ParseHeadEvent,
  type ParseNeedMoreEvent,
  type ParseTrailersEvent,
  type RequestHead,
  type ResponseHead,
} from "./http_parser.ts";
export {
  decodeUri,
  type DecodeUriOptions,
  encodeUri,
  type EncodeUriOptions,
  htmlEscape,
  HttpUri,
  type HttpUriOptions,
  parseQuery,
} from "./uri.ts";
export { HttpHeaders } from "./headers.ts";
export {
  BoundSocket,
  type HttpBindOptions,
  type HttpCallbackOptions,
  type HttpErrorLogger,
  type HttpExpectContinueCallback,
  type HttpNewRequestCallback,
  HttpServer,
  type HttpServerOptions,
  type HttpServerState,
  type HttpServerTimeouts,
  type HttpShutdownOptions,
  type HttpTlsOptions,
} from "./http_server.ts";
export {
  type HttpBody,
  type HttpRequestCallback,
  type HttpRequestNotify,
  HttpServerRequest,
  type HttpServerRequestBodyState,
  type HttpServerResponseState,
  type TakeOverOptions,
} from "./http_server_request.ts";
export {
  DEFAULT_HTTP_CONNECTION_TIMEOUTS,
  type HostResolver,
  HttpConnection,
  type HttpConnectionCloseCallback,
  type HttpConnectionOptions,
  type HttpConnectionState,
  type HttpConnectionTimeouts,
  type HttpConnectionTls,
} from "./http_connection.ts";
export {
  basicAuth,
  type HttpClientBodyOptions,
  type HttpClientBodySource,
  type HttpClientChunkCallback,
  type HttpClientDrainCallback,
  type HttpClientErrorCallback,
  type HttpClientErrorKind,
  type HttpClientHeaderCallback,
  HttpClientRequest,
  type HttpClientRequestCallback,
  type HttpClientRequestState,
  type HttpDecompressionOptions,
} from "./http_client_request.ts";
export { type HttpClientFetchOptions, type HttpClientResponse, request } from "./client_fetch.ts";
export { fetch, HttpClientPool, type HttpClientPoolOptions, type HttpFetchInit } from "./fetch.ts";
export type {
  HttpCompressionOptions,
  HttpCompressOption,
  HttpCompressPredicate,
  HttpContentCoding,
} from "./content_encoding.ts";
export { serve, type ServeHandler, type ServeHandlerInfo, type ServeOptions, type WebServer } from "./serve.ts";
// The parser reads from an EvBuffer; its types are re-exported so this entry point documents every type it exposes.
export type {
  EvBuffer,
  EvBufferCallback,
  EvBufferCbEntry,
  EvBufferCbInfo,
  EvBufferEolResult,
  EvBufferEolStyle,
  EvBufferPtr,
  EvBufferPtrHow,
} from "../buffer/evbuffer.ts";
export type { FileHandle, FileInfo } from "../platform.ts";
