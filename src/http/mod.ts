/**
 * HTTP: libevent's http.h. For now the message parser shared by the server
 * and the client: {@linkcode HttpParser} reads requests or responses from an
 * EvBuffer, and {@linkcode HttpError} says what was wrong with them.
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
export * from "./http_error.ts";
export { LeventError, type LeventErrorOptions } from "../errors.ts";
export * from "./http_parser.ts";
export * from "./uri.ts";
export * from "./headers.ts";
export * from "./server.ts";
export * from "./server_request.ts";
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
export * from "./client_connection.ts";
export * from "./client_request.ts";
export * from "./client_fetch.ts";
export * from "./serve.ts";
