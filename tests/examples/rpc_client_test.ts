/**
 * examples/rpc-client.ts run as a process (EXAMPLES.md): the reply as one
 * line of JSON, --from and --to sent, a timeout or a refused connection as
 * one clear line with exit 1, bad arguments with exit 2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RpcMethod } from "../../src/rpc/mod.ts";
import { kill, msg } from "../../examples/lib/regress_rpc.ts";
import { startRpc } from "../rpc/rpc_util.ts";
import { within } from "../util.ts";
import { cannotRunExamples, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();

test("rpc-client prints the reply as one line of JSON and exits 0", { skip }, async () => {
  const h = await startRpc();
  try {
    const ex = startExample("rpc-client", [`http://127.0.0.1:${h.port}`]);
    assert.equal(await within(ex.exited, 20000, "exit"), 0, ex.stderr());
    assert.equal(ex.stdout(), '{"weapon":"dagger","action":"wave around like an idiot","how_often":[]}\n');
    assert.equal(ex.stderr(), "");
  } finally {
    await h.stop();
  }
});

test("rpc-client sends --from and --to", { skip }, async () => {
  // A server whose Message echoes the names it got.
  const Echo = new RpcMethod("Message", msg, kill);
  const h = await startRpc((rpc) => {
    rpc.unregister("Message");
    rpc.register(Echo, (call) => ({ weapon: call.request.from_name, action: call.request.to_name, how_often: [7] }));
  });
  try {
    const ex = startExample("rpc-client", [`http://127.0.0.1:${h.port}/`, "--from", "ann", "--to", "bob é"]);
    assert.equal(await within(ex.exited, 20000, "exit"), 0, ex.stderr());
    assert.equal(ex.stdout(), '{"weapon":"ann","action":"bob é","how_often":[7]}\n');
  } finally {
    await h.stop();
  }
});

test("rpc-client gives up after --timeout with one line on stderr and exit 1", { skip }, async () => {
  const Never = new RpcMethod("Message", msg, kill);
  const h = await startRpc((rpc) => {
    rpc.unregister("Message");
    rpc.register(Never, () => {});
  });
  try {
    const started = Date.now();
    const ex = startExample("rpc-client", [`http://127.0.0.1:${h.port}`, "--timeout", "0.5"]);
    assert.equal(await within(ex.exited, 20000, "exit"), 1);
    assert.ok(Date.now() - started < 15000);
    assert.equal(ex.stdout(), "");
    assert.match(ex.stderr(), /^rpc-client\.ts: Message: no reply within 500 ms \(status timeout\)\n$/);
  } finally {
    await h.stop();
  }
});

test("rpc-client reports a refused connection in one line and exits 1", { skip }, async () => {
  const ex = startExample("rpc-client", ["http://127.0.0.1:1"]);
  assert.equal(await within(ex.exited, 20000, "exit"), 1);
  const lines = ex.stderr().trim().split("\n");
  assert.equal(lines.length, 1, ex.stderr());
  assert.match(lines[0], /^rpc-client\.ts: Message: the HTTP request failed: .*ECONNREFUSED/);
});

test(
  "rpc-client: no URL, a URL that is not http, a bad --timeout or an unknown flag exit 2; --help exits 0",
  { skip },
  async () => {
    for (
      const [args, message] of [
        [[], /a URL is required/],
        [["ftp://x"], /must start with http:\/\/ or https:\/\//],
        [["http://127.0.0.1:1", "--timeout", "soon"], /--timeout must be a number of seconds/],
        [["http://127.0.0.1:1", "--bogus"], /bogus/],
      ] as [string[], RegExp][]
    ) {
      const ex = startExample("rpc-client", args);
      assert.equal(await within(ex.exited, 20000, "exit"), 2, args.join(" "));
      assert.match(ex.stderr(), message);
      assert.equal(ex.stderr().trim().split("\n").length, 1);
    }
    const help = startExample("rpc-client", ["-h"]);
    assert.equal(await within(help.exited, 20000, "exit"), 0);
    assert.match(help.stdout(), /^usage: rpc-client\.ts URL /);
  },
);
