/**
 * http-client: libevent's sample/https-client.c in levent. Makes one request
 * with an HttpConnection and an HttpClientRequest; the status line and the
 * header fields go to stderr, the body is streamed to stdout (or FILE) as it
 * arrives, holding the connection back while the output cannot keep up.
 * Exit status 0 for a 2xx or 3xx answer, 1 for any other answer or a
 * failure (one line on stderr), a body that did not arrive whole included,
 * 2 for a bad command line. It never exits with output still queued: a
 * slow reader of its stdout gets every byte.
 *
 *   deno run -A examples/http-client.ts URL [-X METHOD] [-d DATA] [-H "K: V"]... [-o FILE] [--timeout SECONDS]
 *   bun examples/http-client.ts URL ...
 *   node examples/http-client.ts URL ...
 *
 * `-d DATA` without `-X` sends a POST, as curl does (with Content-Type
 * application/x-www-form-urlencoded unless -H gives one).
 *
 * @module
 */
import process from "node:process";
import { createWriteStream, type WriteStream } from "node:fs";
import { basicAuth, decodeUri, EventBase, HttpClientRequest, HttpConnection, HttpUri } from "../mod.ts";
import { exitWhenDone, log, parseCli, programName, usageError } from "./lib/cli.ts";

const USAGE = `usage: http-client.ts URL [-X METHOD] [-d DATA] [-H "K: V"]... [-o FILE] [--timeout SECONDS]

Makes one HTTP or HTTPS request. The status line and header fields go to
stderr; the body is streamed to stdout (or FILE) as it arrives. -d sends
DATA as the body (a POST unless -X says otherwise, as curl does). Exit 0 on
a 2xx or 3xx answer whose body arrived whole, 1 otherwise (refused, timed
out, malformed or cut short), 2 for a bad command line.`;

const { values, positionals } = parseCli(
  {
    method: { type: "string", short: "X" },
    data: { type: "string", short: "d" },
    header: { type: "string", short: "H", multiple: true },
    output: { type: "string", short: "o" },
    timeout: { type: "string" },
  },
  true,
  USAGE,
);

if (positionals.length !== 1) usageError(positionals.length === 0 ? "a URL is required" : "give exactly one URL");
const url = positionals[0];

let uri: HttpUri;
try {
  uri = HttpUri.parse(url);
} catch (err) {
  usageError(`bad URL "${url}": ${(err as Error).message}`);
}
const scheme = uri.scheme?.toLowerCase();
if (scheme !== "http" && scheme !== "https") usageError(`the URL must start with http:// or https://, got "${url}"`);
if (uri.host === null || uri.host === "") usageError(`the URL has no host: "${url}"`);

const method = values.method ?? (values.data !== undefined ? "POST" : "GET");
if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) usageError(`-X must be an HTTP method, got "${method}"`);

let timeoutMs: number | undefined;
if (values.timeout !== undefined) {
  const seconds = Number(values.timeout);
  if (!/^\d+(\.\d+)?$/.test(values.timeout) || !(seconds > 0)) {
    usageError(`--timeout must be a number of seconds > 0, got "${values.timeout}"`);
  }
  timeoutMs = seconds * 1000;
}

const base = new EventBase(); // event_base_new()
// evhttp_connection_base_ssl_new / evhttp_connection_base_new
const conn = new HttpConnection(base, {
  host: uri.host,
  port: uri.port >= 0 ? uri.port : undefined,
  tls: scheme === "https" ? {} : undefined,
});
conn.setRetries(0);
if (timeoutMs !== undefined) conn.setTimeout(timeoutMs); // evhttp_connection_set_timeout

// The body goes to a file or to stdout; either may ask us to wait (backpressure).
const out: WriteStream | NodeJS.WriteStream = values.output !== undefined
  ? createWriteStream(values.output)
  : process.stdout;
let outputFailed = false;
let exitCode = 1;
let loopDone = false;

// evhttp_request_new(http_request_done, bev)
const req = new HttpClientRequest((r) => {
  // Also called after the error callback: a body cut short keeps its exit status 1.
  if (r.error === null) exitCode = r.responseCode >= 200 && r.responseCode < 400 ? 0 : 1;
});
req.setHeaderCb((r) => {
  let head = `HTTP/${r.responseVersion} ${r.responseCode} ${r.responseReason}\n`;
  for (const [name, value] of r.inputHeaders) head += `${name}: ${value}\n`;
  process.stderr.write(head + "\n");
});
req.setChunkedCb((r) => {
  // One write per piece, copied: the input buffer is drained once this returns.
  if (!out.write(r.inputBuffer.pullup().slice())) {
    r.pauseBody();
    out.once("drain", () => r.resumeBody());
  }
});
req.setErrorCb((_kind, r) => {
  // An output failure was told already; every other failure is one line, no stack.
  if (!outputFailed) log(`${programName()}: ${r.error?.message ?? "the request failed"}`);
  exitCode = 1;
});
// Once the request is over, whichever way: close the connection so the loop can end.
req.setOnCompleteCb(() => conn.free());
out.on("error", (err: Error) => {
  if (outputFailed) return;
  outputFailed = true;
  log(`${programName()}: cannot write ${values.output ?? "to stdout"}: ${err.message}`);
  exitCode = 1;
  req.cancel();
  // The last bytes can fail after the request is over (a full disk when the file closes).
  if (loopDone) exitWhenDone(1);
});

const headers = req.outputHeaders; // evhttp_request_get_output_headers
for (const line of values.header ?? []) {
  const colon = line.indexOf(":");
  if (colon <= 0) usageError(`-H must be "Name: value", got "${line}"`);
  try {
    headers.add(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  } catch (err) {
    usageError(`-H "${line}": ${(err as Error).message}`);
  }
}
if (uri.userinfo !== null && !headers.has("authorization")) {
  const colon = uri.userinfo.indexOf(":");
  const user = decodeUri(colon < 0 ? uri.userinfo : uri.userinfo.slice(0, colon));
  const pass = colon < 0 ? "" : decodeUri(uri.userinfo.slice(colon + 1));
  headers.set("Authorization", basicAuth(user, pass));
}
if (values.data !== undefined) {
  req.outputBuffer.addString(values.data); // evbuffer_add(evhttp_request_get_output_buffer(req), ...)
  if (!headers.has("content-type")) headers.set("Content-Type", "application/x-www-form-urlencoded");
}

const path = uri.path === "" ? "/" : uri.path;
try {
  conn.makeRequest(req, method, uri.query === null ? path : `${path}?${uri.query}`); // evhttp_make_request
} catch (err) {
  usageError((err as Error).message);
}

await base.dispatch(); // event_base_dispatch()

// Only output is left once the loop is over: end the file, and let the
// runtime exit once the file and stdout have taken every byte.
loopDone = true;
if (out !== process.stdout) (out as WriteStream).end();
exitWhenDone(exitCode);
