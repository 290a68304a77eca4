/**
 * ws-client: a WebSocket client on levent (libevent has none). Connects to
 * URL, sends each line of stdin as a text message, prints each message it
 * receives on its own line on stdout, and closes cleanly (code 1000) at the
 * end of input, once every line is sent.
 *
 *   deno run -A examples/ws-client.ts URL
 *   bun examples/ws-client.ts URL
 *   node examples/ws-client.ts URL
 *
 * Exit 0 after a clean close, 1 when the connection fails or ends without
 * one (one line on stderr), 2 for a bad command line.
 *
 * @module
 */
import process from "node:process";
import { EventBase } from "../mod.ts";
import { WebSocket } from "../src/ws/mod.ts";
import { exitWhenDone, log, parseCli, programName, usageError } from "./lib/cli.ts";

const USAGE = `usage: ws-client.ts URL

Connects to URL (ws:// or wss://), sends each line of stdin as a text
message, prints each message received on its own line, and closes with
code 1000 at the end of input. Exit 0 after a clean close, 1 otherwise.`;

const { positionals } = parseCli({}, true, USAGE);
if (positionals.length !== 1) usageError(positionals.length === 0 ? "a URL is required" : "give exactly one URL");
const url = positionals[0];
if (!/^wss?:\/\//i.test(url)) usageError(`the URL must start with ws:// or wss://, got "${url}"`);

const base = new EventBase();
const stdout = process.stdout;
let opening: Promise<WebSocket>;
try {
  opening = WebSocket.connect(base, url);
} catch (err) {
  usageError((err as Error).message);
}
opening.then(run, (err: Error) => {
  log(`${programName()}: ${err.message}`);
  exitWhenDone(1);
});
await base.dispatch(); // event_base_dispatch(): returns once the connection is over

function run(ws: WebSocket): void {
  // Each message on its own line; stdout may be a slow pipe, so reading waits while it is full.
  ws.setMessageCb((w, data) => {
    const ok = typeof data === "string" ? stdout.write(data + "\n") : stdout.write(data) && stdout.write("\n");
    if (!ok) {
      w.pause();
      stdout.once("drain", () => w.resume());
    }
  });
  ws.setCloseCb((_w, code, reason, clean) => {
    process.stdin.destroy();
    if (clean && (code === 1000 || code === 1005)) {
      exitWhenDone(0);
      return;
    }
    log(
      `${programName()}: the connection closed with ${code}${reason === "" ? "" : ` (${reason})`}${
        clean ? "" : ", not cleanly"
      }`,
    );
    exitWhenDone(1);
  });

  // stdin lines out as text messages; reading waits while the socket is backed up.
  let rest = "";
  const decoder = new TextDecoder();
  const stdin = process.stdin;
  const sendLines = (final: boolean): void => {
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
      if (!ws.sendText(line)) {
        stdin.pause();
        ws.setDrainCb(() => stdin.resume());
      }
    }
    if (final && rest !== "") {
      ws.sendText(rest.replace(/\r$/, ""));
      rest = "";
    }
  };
  stdin.on("data", (chunk: Uint8Array) => {
    rest += decoder.decode(chunk, { stream: true });
    sendLines(false);
  });
  stdin.on("end", () => {
    rest += decoder.decode();
    sendLines(true);
    ws.close(1000); // the closing handshake; the close callback ends the program
  });
}
