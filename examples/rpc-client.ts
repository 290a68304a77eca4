/**
 * rpc-client: calls `Message` of libevent's RPC test service (see
 * rpc-server.ts, or a C server built on libevent's evrpc) and prints the
 * decoded reply as one line of JSON.
 *
 *   deno run -A examples/rpc-client.ts URL [--from NAME] [--to NAME] [--timeout S]
 *   bun examples/rpc-client.ts http://127.0.0.1:8080
 *   node examples/rpc-client.ts http://127.0.0.1:8080 --from ann --to bob
 *
 * URL is the server's base, `http://HOST:PORT`. Exit 0 with the reply on
 * stdout; 1 when the call fails or gets no reply within S seconds (one line
 * on stderr); 2 for a bad command line.
 *
 * @module
 */
import process from "node:process";
import { EventBase, HttpConnection } from "../mod.ts";
import { RpcPool } from "../src/rpc/mod.ts";
import { exitWhenDone, log, parseCli, programName, usageError } from "./lib/cli.ts";
import { Message } from "./lib/regress_rpc.ts";

const USAGE = `usage: rpc-client.ts URL [--from NAME] [--to NAME] [--timeout S]

Calls Message (msg -> kill, libevent's test/regress.rpc) on the RPC server
at URL (http://HOST:PORT) with from_name NAME (default "niels") and to_name
NAME (default "tester"), and prints the reply as one line of JSON. Exit 1
when the call fails or no reply comes within S seconds (default 10).`;

const { values, positionals } = parseCli(
  { from: { type: "string" }, to: { type: "string" }, timeout: { type: "string" } },
  true,
  USAGE,
);
if (positionals.length !== 1) usageError(positionals.length === 0 ? "a URL is required" : "give exactly one URL");
let url: URL;
try {
  url = new URL(positionals[0]);
} catch {
  usageError(`not a URL: "${positionals[0]}"`);
}
if (url.protocol !== "http:" && url.protocol !== "https:") {
  usageError(`the URL must start with http:// or https://, got "${positionals[0]}"`);
}
const timeoutText = values.timeout ?? "10";
const timeoutS = Number(timeoutText);
if (!/^\d+(\.\d+)?$/.test(timeoutText) || !(timeoutS > 0)) {
  usageError(`--timeout must be a number of seconds above 0, got "${timeoutText}"`);
}

const tls = url.protocol === "https:";
const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);

const base = new EventBase();
const pool = new RpcPool(base); // evrpc_pool_new()
pool.addConnection(new HttpConnection(base, { host, port, tls: tls ? {} : undefined })); // evrpc_pool_add_connection()
pool.setTimeout(timeoutS * 1000); // evrpc_pool_set_timeout()

/** JSON for a decoded structure: int64 values as decimal strings, bytes as hex. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
    return v;
  });
}

// EVRPC_MAKE_REQUEST(Message, pool, msg, kill, cb, NULL)
pool.makeRequest(
  Message,
  { from_name: values.from ?? "niels", to_name: values.to ?? "tester" },
  (status, _req, reply) => {
    if (status.error === "none") {
      process.stdout.write(toJson(reply) + "\n");
      exitWhenDone(0);
    } else {
      log(`${programName()}: ${status.cause?.message ?? "the call failed"} (status ${status.error})`);
      exitWhenDone(1);
    }
    pool.free(); // evrpc_pool_free(): the loop ends once the connection is closed
  },
);
await base.dispatch();
