/**
 * RpcPool against levent's own RpcServer: calls and their statuses,
 * queueing behind busy connections, the pool timeout, hooks with pause,
 * resume and metadata from output to input hooks, the Promise form and
 * cancellation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventBase } from "../../src/event/mod.ts";
import { type HttpClientRequest, HttpConnection } from "../../src/http/mod.ts";
import {
  RpcError,
  RpcField,
  type RpcHookContext,
  RpcMethod,
  RpcPool,
  type RpcStatus,
  RpcStruct,
} from "../../src/rpc/mod.ts";
import { kill, Message, msg, NeverReply } from "../../examples/lib/regress_rpc.ts";
import { DAGGER, NIELS, platform, startRpc } from "./rpc_util.ts";
import { deferred, within } from "../util.ts";

interface Outcome {
  status: RpcStatus;
  reply: unknown;
  request: unknown;
}

function callback(): { cb: (s: RpcStatus, req: unknown, reply: unknown) => void; done: Promise<Outcome> } {
  const d = deferred<Outcome>();
  return { cb: (status, request, reply) => d.resolve({ status, request, reply }), done: d.promise };
}

test("EVRPC_MAKE_REQUEST: the callback gets status none, the request and the decoded reply", async () => {
  const h = await startRpc();
  try {
    const pool = h.pool();
    const { cb, done } = callback();
    pool.makeRequest(Message, NIELS, cb);
    const out = await within(done, 5000, "the reply");
    assert.equal(out.status.error, "none");
    assert.equal(out.status.cause, null);
    assert.equal(out.status.httpRequest?.responseCode, 200);
    assert.equal(out.request, NIELS);
    assert.deepEqual(out.reply, DAGGER);
    // A second call reuses the connection (libevent's rpc_basic_client does it twice).
    assert.deepEqual(await within(pool.call(Message, NIELS), 5000, "again"), DAGGER);
  } finally {
    await h.stop();
  }
});

test("with one connection a second call waits in the queue and goes out once the first is answered", async () => {
  const order: string[] = [];
  const Slow = new RpcMethod("Slow", msg, kill);
  const h = await startRpc((rpc) => {
    rpc.register(Slow, (call) => {
      order.push(`server ${call.request.from_name}`);
      setTimeout(() => call.done({ weapon: call.request.from_name, action: "a" }), 30);
    });
  });
  try {
    const pool = h.pool(1);
    const first = pool.call(Slow, { from_name: "one", to_name: "x" }).then((r) => order.push(`reply ${r.weapon}`));
    const second = pool.call(Slow, { from_name: "two", to_name: "x" }).then((r) => order.push(`reply ${r.weapon}`));
    assert.equal(pool.activeCount, 1);
    assert.equal(pool.queuedCount, 1);
    await within(Promise.all([first, second]), 5000, "both replies");
    assert.deepEqual(order, ["server one", "reply one", "server two", "reply two"]);
    assert.equal(pool.queuedCount, 0);
  } finally {
    await h.stop();
  }
});

test("eight connections carry eight calls at once; a ninth waits for the first free one", async () => {
  const held: (() => void)[] = [];
  const Hold = new RpcMethod("Hold", msg, kill);
  const h = await startRpc((rpc) => {
    rpc.register(Hold, (call) => {
      held.push(() => call.done({ weapon: call.request.from_name, action: "a" }));
    });
  });
  try {
    const pool = h.pool(8);
    const calls = Array.from({ length: 9 }, (_, i) => pool.call(Hold, { from_name: `n${i}`, to_name: "x" }));
    await within(
      (async () => {
        while (held.length < 8) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "eight held calls",
    );
    assert.equal(pool.activeCount, 8);
    assert.equal(pool.queuedCount, 1);
    held.shift()!();
    await within(
      (async () => {
        while (held.length < 8) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "the ninth call",
    );
    for (const release of held.splice(0)) release();
    const replies = await within(Promise.all(calls), 5000, "nine replies");
    assert.deepEqual(replies.map((r) => r.weapon), ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"]);
  } finally {
    await h.stop();
  }
});

test("the pool timeout ends a call with no reply as timeout, and the connection serves the next call", async () => {
  const h = await startRpc();
  try {
    const pool = h.pool(1);
    pool.setTimeout(150);
    const started = Date.now();
    const { cb, done } = callback();
    pool.makeRequest(NeverReply, NIELS, cb);
    const out = await within(done, 5000, "the timeout");
    assert.ok(Date.now() - started >= 140, "not before the timeout");
    assert.equal(out.status.error, "timeout");
    assert.equal(out.reply, null);
    assert.ok(out.status.cause instanceof RpcError);
    assert.equal(out.status.cause.code, "ERR_RPC_TIMEOUT");
    await assert.rejects(pool.call(NeverReply, NIELS), (e: unknown) => (e as RpcError).code === "ERR_RPC_TIMEOUT");
    assert.deepEqual(await within(pool.call(Message, NIELS), 5000, "the next call"), DAGGER);
  } finally {
    await h.stop();
  }
});

const Other = new RpcStruct("other", { note: RpcField.string(9) });
const WrongReply = new RpcMethod("WrongReply", msg, Other);
const Fails = new RpcMethod("Fails", msg, kill);

test("a reply that does not decode, or a 503, is bad_payload", async () => {
  const h = await startRpc((rpc) => {
    rpc.register(WrongReply, (call) => call.done({ note: "not a kill" }));
    rpc.register(Fails, () => {
      throw new Error("no");
    });
  });
  try {
    const pool = h.pool();
    const asKill = new RpcMethod("WrongReply", msg, kill);
    const a = callback();
    pool.makeRequest(asKill, NIELS, a.cb);
    const out = await within(a.done, 5000, "the reply");
    assert.equal(out.status.error, "bad_payload");
    assert.equal(out.status.cause?.code, "ERR_RPC_BAD_PAYLOAD");
    assert.equal((out.status.cause?.cause as RpcError).code, "ERR_RPC_UNKNOWN_TAG");
    const b = callback();
    pool.makeRequest(Fails, NIELS, b.cb);
    const failed = await within(b.done, 5000, "the 503");
    assert.equal(failed.status.error, "bad_payload");
    assert.equal(failed.status.httpRequest?.responseCode, 503);
    assert.match(failed.status.cause!.message, /answered 503 Service Error/);
  } finally {
    await h.stop();
  }
});

test("a connection that cannot be made ends the call as timeout (as libevent) with ERR_RPC_CONNECTION", async () => {
  const base = new EventBase({ platform });
  const pool = new RpcPool(base);
  pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port: 1 }));
  const { cb, done } = callback();
  pool.makeRequest(Message, NIELS, cb);
  const loop = base.dispatch();
  const out = await within(done, 10000, "the failure");
  pool.free();
  await within(loop, 5000, "the loop");
  assert.equal(out.status.error, "timeout");
  assert.equal(out.status.cause?.code, "ERR_RPC_CONNECTION");
  assert.match(out.status.cause!.message, /^Message: the HTTP request failed: /);
});

test("output hooks see the encoded request and add metadata that the input hooks find with the reply", async () => {
  let serverSaw: string | null = null;
  const h = await startRpc((rpc) => {
    rpc.addHook("input", (_ctx, req) => {
      serverSaw = req.inputHeaders.get("x-pool-hook");
      return "continue";
    });
  });
  try {
    const pool = h.pool();
    let metaSeen: string | null = null;
    let connSeen: HttpConnection | null = null;
    pool.addHook("output", (ctx, req: HttpClientRequest, body) => {
      ctx.addMeta("sent-length", String(body.length));
      req.outputHeaders.set("X-Pool-Hook", "ran");
      return "continue";
    });
    pool.addHook("input", (ctx, req, body) => {
      metaSeen = new TextDecoder().decode(ctx.findMeta("sent-length")!);
      connSeen = ctx.connection;
      assert.equal(req.responseCode, 200);
      assert.ok(body.length > 0);
      return "continue";
    });
    assert.deepEqual(await within(pool.call(Message, NIELS), 5000, "the reply"), DAGGER);
    assert.equal(serverSaw, "ran");
    assert.equal(metaSeen, String(msg.encode(NIELS).length));
    assert.equal(connSeen, pool.connections[0]);
  } finally {
    await h.stop();
  }
});

test("hooks pause and resume calls; an output hook that terminates leaves the call unstarted, an input hook hook_aborted", async () => {
  const h = await startRpc();
  try {
    const pool = h.pool();
    const paused = deferred<RpcHookContext>();
    const outHook = pool.addHook("output", (ctx) => {
      paused.resolve(ctx);
      return "pause";
    });
    const reply = pool.call(Message, NIELS);
    const ctx = await within(paused.promise, 5000, "the paused hook");
    assert.equal(ctx.paused, true);
    assert.equal(pool.resumeRequest(ctx, "continue"), true);
    assert.deepEqual(await within(reply, 5000, "the reply"), DAGGER);
    pool.removeHook("output", outHook);

    const unstarted = callback();
    const held = deferred<RpcHookContext>();
    const pauser = pool.addHook("output", (ctx) => {
      held.resolve(ctx);
      return "pause";
    });
    pool.makeRequest(Message, NIELS, unstarted.cb);
    (await within(held.promise, 5000, "the pause")).resume("terminate");
    const out = await within(unstarted.done, 5000, "the unstarted call");
    assert.equal(out.status.error, "unstarted");
    assert.equal(out.status.cause?.code, "ERR_RPC_UNSTARTED");
    pool.removeHook("output", pauser);

    const aborted = callback();
    pool.addHook("input", () => "terminate");
    pool.makeRequest(Message, NIELS, aborted.cb);
    const abortedOut = await within(aborted.done, 5000, "the aborted call");
    assert.equal(abortedOut.status.error, "hook_aborted");
    assert.equal(abortedOut.status.cause?.code, "ERR_RPC_HOOK_ABORTED");
    assert.equal(abortedOut.reply, null);
  } finally {
    await h.stop();
  }
});

test("an AbortSignal cancels a queued call (unstarted) and one on the wire (timeout), with ERR_RPC_CANCELLED", async () => {
  const h = await startRpc();
  try {
    const pool = h.pool(1);
    const onWire = new AbortController();
    const queued = new AbortController();
    const first = pool.call(NeverReply, NIELS, { signal: onWire.signal });
    const second = callback();
    pool.makeRequest(Message, NIELS, second.cb, { signal: queued.signal });
    assert.equal(pool.queuedCount, 1);
    queued.abort();
    const out = await within(second.done, 5000, "the queued call");
    assert.equal(out.status.error, "unstarted");
    assert.equal(out.status.cause?.code, "ERR_RPC_CANCELLED");
    onWire.abort();
    await assert.rejects(first, (e: unknown) => (e as RpcError).code === "ERR_RPC_CANCELLED");
    const already = AbortSignal.abort();
    await assert.rejects(pool.call(Message, NIELS, { signal: already }), /cancelled/);
    assert.deepEqual(await within(pool.call(Message, NIELS), 5000, "the next call"), DAGGER);
  } finally {
    await h.stop();
  }
});

test("free ends every call not finished as cancelled and frees the connections", async () => {
  const h = await startRpc();
  try {
    const pool = h.pool(1);
    const onWire = callback();
    const waiting = callback();
    pool.makeRequest(NeverReply, NIELS, onWire.cb);
    pool.makeRequest(Message, NIELS, waiting.cb);
    const conn = pool.connections[0];
    pool.free();
    assert.equal((await onWire.done).status.error, "timeout");
    assert.equal((await waiting.done).status.error, "unstarted");
    assert.equal((await waiting.done).status.cause?.code, "ERR_RPC_CANCELLED");
    assert.equal(conn.state, "freed");
    assert.throws(() => pool.makeRequest(Message, NIELS, () => {}), {
      name: "LeventError",
      code: "ERR_FREED",
      message: "makeRequest: the RpcPool was freed",
    });
  } finally {
    await h.stop();
  }
});

test("a request that lacks a field throws at once; other bad arguments are TypeErrors naming them", () => {
  const base = new EventBase({ platform });
  const pool = new RpcPool(base);
  assert.throws(
    () => pool.makeRequest(Message, { from_name: "a" } as typeof NIELS, () => {}),
    /msg\.to_name must be a string, got undefined/,
  );
  assert.throws(() => pool.makeRequest({} as RpcMethod, NIELS, () => {}), /method must be an RpcMethod/);
  assert.throws(() => pool.makeRequest(Message, NIELS, 5 as unknown as () => void), /cb must be a function/);
  assert.throws(() => pool.setTimeout(-1), RangeError);
  assert.throws(() => pool.addConnection({} as HttpConnection), /conn must be an HttpConnection/);
  const elsewhere = new HttpConnection(new EventBase({ platform }), { host: "127.0.0.1", port: 1 });
  assert.throws(() => pool.addConnection(elsewhere), /the pool's EventBase/);
  const conn = new HttpConnection(base, { host: "127.0.0.1", port: 1 });
  pool.addConnection(conn);
  assert.throws(() => pool.addConnection(conn), /in the pool already/);
  assert.equal(pool.removeConnection(conn), true);
  assert.equal(pool.removeConnection(conn), false);
  assert.throws(() => new RpcPool({} as EventBase), /base must be an EventBase/);
  conn.free();
  elsewhere.free();
  pool.free();
});
