/**
 * http-server: libevent's sample/http-server.c in levent. Serves the files
 * under --root (GET and HEAD, Content-Type by extension, Range requests, one
 * range or several as multipart/byteranges, conditional requests on ETag and
 * Last-Modified, an HTML listing for directories, a 301 to add a
 * directory's trailing slash, 403 for paths that would leave the root,
 * through `..` or through a symlink pointing outside it, 404 for missing
 * ones, 405 with Allow for other methods), plus:
 *
 * - `POST /echo`: answers with the request body;
 * - `GET /chunked?n=N`: N chunks, each its own chunk on the wire;
 * - `GET /hello`: `Hello, World!` as text/plain.
 *
 *   deno run -A examples/http-server.ts [--host 127.0.0.1] [--port 8080] [--root DIR] [--workers N]
 *   bun examples/http-server.ts [--port 8080] [--root DIR] [--workers N]
 *   node examples/http-server.ts [--port 8080] [--root DIR] [--workers N]
 *
 * Prints `listening on http://HOST:PORT` once bound; SIGINT or SIGTERM stops
 * accepting, finishes the requests in flight and exits 0.
 *
 * `--workers N` serves the port from N threads, libevent's way (one
 * event_base and one evhttp per thread, each listening with SO_REUSEPORT):
 * the main thread serves too, and N - 1 worker threads run this same file
 * with its settings (a WorkerGroup); the kernel spreads the connections.
 *
 * @module
 */
import process from "node:process";
import {
  decodeUri,
  EventBase,
  htmlEscape,
  HttpServer,
  type HttpServerRequest,
  parseQuery,
  WorkerContext,
  WorkerGroup,
} from "../mod.ts";
import { announce, exitWhenDone, log, onStopSignal, parseCli, portFlag, usageError } from "./lib/cli.ts";
import {
  type ByteRange,
  byteRangesBody,
  contentTypeFor,
  directoryListingHtml,
  fileValidators,
  ifRangeHolds,
  parseRanges,
  preconditionStatus,
  resolveUnderRoot,
} from "./lib/static_files.ts";

const USAGE = `usage: http-server.ts [--host H] [--port P] [--root DIR] [--workers N]

Serves the files under DIR (default: the current directory) on H:P
(default 127.0.0.1:8080; port 0 picks one): GET and HEAD, Content-Type by
extension, an HTML listing for directories (a directory asked for without
its trailing slash gets a 301 to it), 404 for missing files, 405 for other
methods. Files carry ETag and Last-Modified: If-None-Match and
If-Modified-Since answer 304, If-Match and If-Unmodified-Since 412. Range
requests: one range is a 206, several a multipart/byteranges 206, none
satisfiable a 416; If-Range sends the whole file unless the validator holds,
and so do more than 64 ranges or ranges adding up to more than the file. A
path that would leave DIR gets 403, through ".." or through a symlink
inside DIR that points outside it.
  POST /echo         answers with the request body, streamed back
  GET /chunked?n=N   answers N chunks, each its own chunk on the wire
  GET /hello         answers "Hello, World!" as text/plain
--workers N serves the port from N threads (default 1; 2 and more need
SO_REUSEPORT: Linux, and Node 22.12 or later on Node).
A head must arrive whole within 30 s of its first byte. Prints
"listening on http://HOST:PORT" once bound; SIGINT or SIGTERM stops
accepting, finishes the responses being sent (within 5 s) and exits 0.`;

/** The command line's settings, which the main thread passes on to its worker threads. */
interface Settings {
  host?: string;
  port?: string;
  root?: string;
  workers?: string;
}

const base = new EventBase();
// A worker thread of --workers takes its settings from the main thread, not from argv.
const worker = base.platform.threads.isMainThread
  ? null
  : await WorkerContext.attach(base, { onStop: () => http.shutdown({ graceMs: 4500 }) });
const values: Settings = worker !== null ? worker.data as Settings : parseCli(
  { host: { type: "string" }, port: { type: "string" }, root: { type: "string" }, workers: { type: "string" } },
  false,
  USAGE,
).values;
const host = values.host ?? "127.0.0.1";
const port = portFlag(values.port, 8080);
const root = values.root ?? process.cwd();
const workers = values.workers === undefined ? 1 : Number(values.workers);
if (!/^\d+$/.test(values.workers ?? "1") || workers < 1 || workers > 256) {
  usageError(`--workers must be an integer 1-256, got ${JSON.stringify(values.workers)}`);
}
const HELLO = new TextEncoder().encode("Hello, World!");
/** The most chunks /chunked answers with. */
const MAX_CHUNKS = 100_000;

// evhttp_new(), with the timeouts EXAMPLES.md promises: a head must be
// whole within 30 s of its first byte; a keep-alive connection idles 5 s.
const http = new HttpServer(base, { headerTimeoutMs: 30000, idleTimeoutMs: 5000 });
const platform = base.platform;

// The root's canonical path: a file is served only if its own canonical
// path (symlinks resolved) lies under it.
let realRoot = "";
try {
  const info = await platform.fs.stat(root);
  if (!info.isDirectory) usageError(`--root ${root} is not a directory`);
  realRoot = await platform.fs.realPath(root);
} catch (err) {
  usageError(`--root ${root}: ${(err as Error).message}`);
}

// evhttp_set_cb(): the fixed routes.
http.setCb("/hello", (req) => {
  if (!onlyMethods(req, ["GET", "HEAD"])) return;
  req.outputHeaders.set("Content-Type", "text/plain");
  req.sendReply(200, "OK", HELLO);
});

// The body is streamed back as it arrives (evhttp_request_set_chunked_cb on
// the server side): a piece goes out, and the next is taken only once the
// socket has it, while reading from the client pauses as the request's
// inputBuffer fills. A 1 GB echo holds a few hundred KiB, not 1 GB.
http.setCb("/echo", (req) => {
  if (!onlyMethods(req, ["POST"])) return;
  req.outputHeaders.set("Content-Type", req.inputHeaders.get("Content-Type") ?? "application/octet-stream");
  const length = req.inputHeaders.get("Content-Length");
  if (length !== null) req.outputHeaders.set("Content-Length", length);
  let sending = false;
  const pump = (): void => {
    const body = req.bodyState;
    if (body === "aborted" || sending) return;
    // The answer begins with the first body bytes (or the end of an empty body), so a
    // body malformed from its first chunk still gets its 400.
    if (req.responseState === "none") {
      if (req.inputBuffer.length === 0 && body !== "complete") return;
      req.sendReplyStart(200, "OK");
    }
    if (req.responseState !== "streaming") return;
    if (req.inputBuffer.length > 0) {
      sending = true;
      // The segments move to the reply, no copy; the next piece waits for the socket.
      req.sendReplyChunk(req.inputBuffer, () => {
        sending = false;
        pump();
      });
    } else if (req.bodyState === "complete") {
      req.sendReplyEnd();
    }
  };
  req.setBodyCb(pump);
  pump();
}, { streamBody: true });

http.setCb("/chunked", (req) => {
  if (!onlyMethods(req, ["GET", "HEAD"])) return;
  let n = Number.NaN;
  try {
    n = Number(parseQuery(req.getUri().query ?? "").find(([k]) => k === "n")?.[1] ?? "10");
  } catch {
    // A malformed query leaves n NaN: answered below.
  }
  if (!Number.isInteger(n) || n < 0 || n > MAX_CHUNKS) {
    req.sendError(400, `n must be an integer in 0..${MAX_CHUNKS}`);
    return;
  }
  req.outputHeaders.set("Content-Type", "text/plain");
  req.sendReplyStart(200, "OK"); // evhttp_send_reply_start()
  let i = 0;
  // Each chunk is sent once the previous one was handed to the socket
  // (evhttp_send_reply_chunk_with_cb), so memory stays flat for any n.
  const next = (): void => {
    if (i === n || req.responseState === "aborted") {
      req.sendReplyEnd();
      return;
    }
    req.sendReplyChunk(`chunk ${++i} of ${n}\n`, next);
  };
  next();
});

// evhttp_set_gencb(): everything else is a file under the root.
http.setGenCb(serveFile);

async function serveFile(req: HttpServerRequest): Promise<void> {
  if (!onlyMethods(req, ["GET", "HEAD"])) return;
  let urlPath: string;
  try {
    urlPath = decodeUri(req.getUri().path, { strict: true });
  } catch {
    req.sendError(400, "Bad path");
    return;
  }
  const path = resolveUnderRoot(root, urlPath);
  if (path === null) {
    req.sendError(403, "Forbidden");
    return;
  }
  let file;
  let info;
  try {
    file = await platform.fs.realPath(path);
    info = await platform.fs.stat(file);
  } catch {
    req.sendError(404, "Not Found");
    return;
  }
  // A symlink inside the root may point anywhere: what it leads to must be under the root too.
  if (file !== realRoot && !file.startsWith(realRoot.endsWith("/") ? realRoot : `${realRoot}/`)) {
    req.sendError(403, "Forbidden");
    return;
  }
  if (info.isDirectory) {
    if (!urlPath.endsWith("/")) {
      // A listing's relative links need the slash: send the client there, as nginx and Apache do.
      const uri = req.getUri();
      const location = uri.path + "/" + (uri.query === null ? "" : "?" + uri.query);
      req.outputHeaders.set("Location", location);
      req.outputHeaders.set("Content-Type", "text/html; charset=utf-8");
      req.sendReply(301, "Moved Permanently", `<a href="${htmlEscape(location)}">${htmlEscape(location)}</a>\n`);
      return;
    }
    const entries = await platform.fs.readDir(file);
    req.outputHeaders.set("Content-Type", "text/html; charset=utf-8");
    req.sendReply(200, "OK", directoryListingHtml(urlPath, entries));
    return;
  }
  if (!info.isFile) {
    req.sendError(403, "Forbidden");
    return;
  }
  const out = req.outputHeaders;
  const validators = fileValidators(info.size, info.mtimeMs);
  out.set("Accept-Ranges", "bytes");
  out.set("ETag", validators.etag);
  out.set("Last-Modified", validators.lastModified);
  const header = (name: string): string | null => req.inputHeaders.get(name);
  const condition = preconditionStatus(header, validators);
  if (condition === 304) {
    // The validators go out again, the entity's other fields do not (RFC 9110 §15.4.5).
    req.sendReply(304, "Not Modified");
    return;
  }
  if (condition === 412) {
    req.sendError(412, "Precondition Failed");
    return;
  }
  const type = contentTypeFor(file);
  out.set("Content-Type", type);
  const rangeHeader = header("Range");
  const ranges = rangeHeader === null || !ifRangeHolds(header("If-Range"), validators)
    ? null
    : parseRanges(rangeHeader, info.size);
  if (ranges === "unsatisfiable") {
    out.set("Content-Range", `bytes */${info.size}`);
    req.sendReply(416, "Range Not Satisfiable");
    return;
  }
  if (ranges !== null && ranges.length > 1) {
    await sendByteRanges(req, file, ranges, info.size, type);
    return;
  }
  const range = ranges === null ? null : ranges[0];
  const start = range === null ? 0 : range.start;
  const length = range === null ? info.size : range.end - range.start + 1;
  if (range !== null) out.set("Content-Range", `bytes ${range.start}-${range.end}/${info.size}`);
  if (req.method === "HEAD" || length === 0) {
    // A HEAD reply carries the Content-Length of the body it does not send.
    out.set("Content-Length", String(length));
    req.sendReply(range === null ? 200 : 206);
    return;
  }
  // evbuffer_add_file(): the file is read lazily, in pieces, as the socket takes it.
  req.outputBuffer.addFile(await platform.fs.open(file), start, length);
  req.sendReply(range === null ? 200 : 206);
}

/**
 * Several ranges: one multipart/byteranges body, each part with its
 * Content-Type and Content-Range, the file's bytes read lazily from one
 * handle (each addFile shares it; it is closed once every part has gone).
 */
async function sendByteRanges(
  req: HttpServerRequest,
  file: string,
  ranges: ByteRange[],
  size: number,
  type: string,
): Promise<void> {
  const boundary = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  const body = byteRangesBody(ranges, size, type, boundary);
  req.outputHeaders.set("Content-Type", `multipart/byteranges; boundary=${boundary}`);
  req.outputHeaders.set("Content-Length", String(body.length));
  if (req.method === "HEAD") {
    req.sendReply(206);
    return;
  }
  const handle = await platform.fs.open(file);
  const out = req.outputBuffer;
  ranges.forEach((r, i) => {
    out.addString(body.heads[i]);
    out.addFile(handle, r.start, r.end - r.start + 1);
  });
  out.addString(body.tail);
  req.sendReply(206, "Partial Content");
}

/** Answer 405 with Allow unless the method is one of `methods`. */
function onlyMethods(req: HttpServerRequest, methods: string[]): boolean {
  if (methods.includes(req.method)) return true;
  req.outputHeaders.set("Allow", methods.join(", "));
  req.sendError(405);
  return false;
}

let handle;
try {
  // evhttp_bind_socket_with_handle(); with --workers, every thread binds the port with SO_REUSEPORT.
  handle = await http.bind(host, port, { reusePort: workers > 1 || worker !== null });
} catch (err) {
  if (worker !== null) throw err; // its group reports it
  log(`could not listen on ${host}:${port}: ${(err as Error).message}`);
  process.exit(1);
}

if (worker !== null) {
  // The group stops this thread gracefully (the onStop above): its own loop runs until then.
  worker.ready();
  await base.dispatch();
} else {
  // The other threads bind the port this one got (port 0 picks it here).
  const group = workers === 1 ? null : WorkerGroup.start(new URL(import.meta.url), {
    count: workers - 1,
    base,
    data: { ...values, port: String(handle.address.port) } satisfies Settings,
    onCrash: (index, err) => log(`worker ${index + 1}: ${err.message}`),
  });
  try {
    await group?.ready();
  } catch (err) {
    log(`could not start ${workers - 1} worker threads: ${(err as Error).message}`);
    process.exit(1);
  }
  announce("http", handle.address.host, handle.address.port);

  // Stop accepting, finish the responses being sent, close every other
  // connection at once; what is still sending after 4.5 s is dropped, so the
  // process exits within the 5 s EXAMPLES.md promises. Every worker thread
  // does the same.
  onStopSignal(base, () => {
    void http.shutdown({ graceMs: 4500 });
    void group?.stop({ graceMs: 4500 });
  });

  await base.dispatch(); // event_base_dispatch()
  exitWhenDone(0);
}
