/**
 * RpcServer over real sockets, driven with raw HTTP requests as libevent's
 * evrpc client sends them (HTTP/1.1, no Host): 200 application/octet-stream
 * with the reply structure; 503 for anything else; handlers answering now
 * or later; input and output hooks with pause, resume and metadata.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EvBuffer } from "../../src/buffer/evbuffer.ts";
import { EventBase } from "../../src/event/mod.ts";
import { HttpServer, type HttpServerRequest } from "../../src/http/mod.ts";
import {
  RpcField,
  type RpcHookContext,
  RpcMethod,
  RpcServer,
  type RpcServerCall,
  RpcStruct,
} from "../../src/rpc/mod.ts";
import { kill, Message, msg, NeverReply } from "../../examples/lib/regress_rpc.ts";
import { RawClient } from "../http/server_helpers.ts";
import { DAGGER, NIELS, platform, startRpc } from "./rpc_util.ts";
import { deferred, within } from "../util.ts";

/** A raw POST as libevent's evrpc client writes it: HTTP/1.1, Content-Length, no Host. */
function rpcPost(name: string, body: Uint8Array, extra = ""): Uint8Array {
  const head = `POST /.rpc.${name} HTTP/1.1\r\nContent-Length: ${body.length}\r\n${extra}\r\n`;
  const out = new Uint8Array(head.length + body.length);
  for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
  out.set(body, head.length);
  return out;
}

interface RawAnswer {
  status: number;
  headers: string;
  body: Uint8Array;
}

/** Send one request on a new connection and read one response (by Content-Length). */
async function exchange(port: number, request: Uint8Array | string): Promise<RawAnswer> {
  const c = await RawClient.connect(port);
  try {
    c.send(request);
    const text = await c.waitFor(
      (t) => {
        const end = t.indexOf("\r\n\r\n");
        if (end < 0) return false;
        const m = /content-length: (\d+)/i.exec(t.slice(0, end));
        return m !== null && t.length >= end + 4 + Number(m[1]);
      },
      5000,
      "a response",
    );
    const end = text.indexOf("\r\n\r\n");
    const head = text.slice(0, end);
    const length = Number(/content-length: (\d+)/i.exec(head)![1]);
    const body = Uint8Array.from(text.slice(end + 4, end + 4 + length), (ch) => ch.charCodeAt(0));
    return { status: Number(head.slice(9, 12)), headers: head, body };
  } finally {
    c.socket.close();
  }
}

test("a POST without Host of an encoded msg gets 200 application/octet-stream and the encoded kill", async () => {
  const h = await startRpc();
  try {
    const answer = await exchange(h.port, rpcPost("Message", msg.encode(NIELS)));
    assert.equal(answer.status, 200, answer.headers);
    assert.match(answer.headers, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answer.headers, /\r\nContent-Type: application\/octet-stream\r\n/i);
    assert.deepEqual(kill.decode(answer.body), DAGGER);
  } finally {
    await h.stop();
  }
});

test("a GET, an empty body, bytes that do not decode and an unknown tag get 503, and the server goes on", async () => {
  const h = await startRpc();
  try {
    const bad: (Uint8Array | string)[] = [
      "GET /.rpc.Message HTTP/1.1\r\n\r\n",
      rpcPost("Message", new Uint8Array(0)),
      rpcPost("Message", new TextEncoder().encode("Some Nonsense")),
      rpcPost("Message", new Uint8Array([1, 1, 0x61, 2, 1, 0x62, 9, 0])),
      rpcPost("Message", new Uint8Array([1, 1, 0x61])),
    ];
    for (const request of bad) {
      const answer = await exchange(h.port, request);
      assert.equal(answer.status, 503, answer.headers);
      assert.match(answer.headers, /^HTTP\/1\.1 503 Service Error\r\n/);
    }
    assert.equal((await exchange(h.port, rpcPost("Message", msg.encode(NIELS)))).status, 200);
    assert.equal((await exchange(h.port, rpcPost("Nothing", msg.encode(NIELS)))).status, 404);
  } finally {
    await h.stop();
  }
});

test("two calls over one keep-alive connection are answered in order", async () => {
  const h = await startRpc();
  try {
    const c = await RawClient.connect(h.port);
    const one = rpcPost("Message", msg.encode(NIELS));
    const both = new Uint8Array(one.length * 2);
    both.set(one);
    both.set(one, one.length);
    c.send(both);
    const text = await c.waitFor((t) => t.split("HTTP/1.1 200 OK").length === 3 && t.endsWith("idiot"), 5000, "two");
    assert.equal(text.split("application/octet-stream").length, 3);
    c.socket.close();
  } finally {
    await h.stop();
  }
});

const Text = new RpcStruct("text", { text: RpcField.string(1) });
const Later = new RpcMethod("Later", Text, Text);
const Async = new RpcMethod("Async", Text, Text);
const Throws = new RpcMethod("Throws", Text, Text);
const Incomplete = new RpcMethod("Incomplete", Text, Text);

test("handlers answer later, by a returned Promise, or fail with 503 when they throw or leave the reply incomplete", async () => {
  const logged: string[] = [];
  const h = await startRpc((rpc) => {
    rpc.register(Later, (call) => {
      setTimeout(() => call.done({ text: call.request.text + " later" }), 20);
    });
    rpc.register(Async, async (call) => {
      await new Promise((r) => setTimeout(r, 10));
      return { text: call.request.text.toUpperCase() };
    });
    rpc.register(Throws, () => {
      throw new Error("handler broke");
    });
    rpc.register(Incomplete, (call) => call.done());
    rpc.setErrorLogger((err, call) => logged.push(`${call.method.name}: ${(err as Error).message}`));
  });
  try {
    const later = await exchange(h.port, rpcPost("Later", Text.encode({ text: "hi" })));
    assert.deepEqual(Text.decode(later.body), { text: "hi later" });
    const async = await exchange(h.port, rpcPost("Async", Text.encode({ text: "hi" })));
    assert.deepEqual(Text.decode(async.body), { text: "HI" });
    assert.equal((await exchange(h.port, rpcPost("Throws", Text.encode({ text: "x" })))).status, 503);
    assert.equal((await exchange(h.port, rpcPost("Incomplete", Text.encode({ text: "x" })))).status, 503);
    assert.deepEqual(logged, ["Throws: handler broke", "Incomplete: text.text must be a string, got undefined"]);
  } finally {
    await h.stop();
  }
});

test("an input hook that terminates gets 503; one that throws too, reported to the logger", async () => {
  const logged: unknown[] = [];
  const h = await startRpc((rpc) => {
    rpc.addHook("input", (_ctx, req) => (req.inputHeaders.get("x-deny") === null ? "continue" : "terminate"));
    rpc.addHook("input", (_ctx, req) => {
      if (req.inputHeaders.get("x-throw") !== null) throw new Error("hook broke");
      return "continue";
    });
    rpc.setErrorLogger((err) => logged.push(err));
  });
  try {
    const body = msg.encode(NIELS);
    assert.equal((await exchange(h.port, rpcPost("Message", body, "X-Deny: 1\r\n"))).status, 503);
    assert.equal((await exchange(h.port, rpcPost("Message", body, "X-Throw: 1\r\n"))).status, 503);
    assert.equal((await exchange(h.port, rpcPost("Message", body))).status, 200);
    assert.equal(logged.length, 1);
    assert.match(String(logged[0]), /hook broke/);
  } finally {
    await h.stop();
  }
});

test("hooks may rewrite the body, and output hooks set headers on the reply", async () => {
  const h = await startRpc((rpc) => {
    // The client prefixes its body with one byte of "version": the input hook strips it.
    rpc.addHook("input", (_ctx, _req, body) => {
      body.drain(1);
      return "continue";
    });
    rpc.addHook("output", (_ctx, req, body) => {
      req.outputHeaders.set("X-Reply-Length", String(body.length));
      return "continue";
    });
  });
  try {
    const body = msg.encode(NIELS);
    const prefixed = new Uint8Array(body.length + 1);
    prefixed.set(body, 1);
    const answer = await exchange(h.port, rpcPost("Message", prefixed));
    assert.equal(answer.status, 200);
    assert.match(answer.headers, new RegExp(`\\r\\nX-Reply-Length: ${answer.body.length}\\r\\n`, "i"));
  } finally {
    await h.stop();
  }
});

test("a paused input hook holds the call until resumed; the hooks after it then run", async () => {
  const paused: RpcHookContext[] = [];
  const order: string[] = [];
  const h = await startRpc((rpc) => {
    rpc.addHook("input", (ctx) => {
      order.push("first");
      paused.push(ctx);
      return "pause";
    });
    rpc.addHook("input", () => {
      order.push("second");
      return "continue";
    });
  });
  try {
    const answered = exchange(h.port, rpcPost("Message", msg.encode(NIELS)));
    await within(
      (async () => {
        while (paused.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "the hook",
    );
    assert.equal(paused[0].paused, true);
    assert.equal(h.rpc.pendingCount, 1);
    assert.equal(paused[0].name, "Message");
    assert.equal(h.rpc.resumeRequest(paused[0], "continue"), true);
    assert.equal((await answered).status, 200);
    assert.deepEqual(order, ["first", "second"]);
    assert.equal(paused[0].resume(), false, "not paused any more");

    const refused = exchange(h.port, rpcPost("Message", msg.encode(NIELS)));
    await within(
      (async () => {
        while (paused.length === 1) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "the hook",
    );
    paused[1].resume("terminate");
    assert.equal((await refused).status, 503);
  } finally {
    await h.stop();
  }
});

test("an output hook may pause the reply; metadata from input hooks reaches the handler and the output hooks", async () => {
  let seenByHandler: string | null = null;
  let seenByOutput: string | null = null;
  const waiting = deferred<RpcHookContext>();
  const Meta = new RpcMethod("Meta", msg, kill);
  const h = await startRpc((rpc) => {
    rpc.addHook("input", (ctx, req) => {
      ctx.addMeta("peer", req.peer.host);
      return "continue";
    });
    rpc.register(Meta, (call) => {
      seenByHandler = new TextDecoder().decode(call.hookContext.findMeta("peer")!);
      call.done({ weapon: "w", action: "a" });
    });
    rpc.addHook("output", (ctx) => {
      seenByOutput = new TextDecoder().decode(ctx.findMeta("peer")!);
      waiting.resolve(ctx);
      return "pause";
    });
  });
  try {
    const answered = exchange(h.port, rpcPost("Meta", msg.encode(NIELS)));
    const ctx = await within(waiting.promise, 5000, "the output hook");
    assert.equal(ctx.connection, null, "no client connection on a server");
    ctx.resume("continue");
    const answer = await answered;
    assert.deepEqual(kill.decode(answer.body), { weapon: "w", action: "a", how_often: [] });
    assert.equal(seenByHandler, "127.0.0.1");
    assert.equal(seenByOutput, "127.0.0.1");
  } finally {
    await h.stop();
  }
});

test("register refuses a taken path, unregister gives it back to 404, free answers held calls with 503", async () => {
  const held = deferred<RpcServerCall>();
  const h = await startRpc((rpc) => {
    assert.equal(rpc.register(Message, () => {}), false);
    assert.equal(rpc.unregister(NeverReply), true);
    assert.equal(rpc.unregister("NeverReply"), false);
    rpc.register(NeverReply, (call) => held.resolve(call as unknown as RpcServerCall));
  });
  try {
    assert.deepEqual(h.rpc.names.sort(), ["Message", "NeverReply"]);
    const answered = exchange(h.port, rpcPost("NeverReply", msg.encode(NIELS)));
    const call = await within(held.promise, 5000, "the held call");
    assert.equal(call.state, "handling");
    assert.deepEqual(call.request, { ...NIELS, run: [] });
    h.rpc.free();
    assert.equal((await answered).status, 503);
    assert.equal(call.state, "failed");
    call.done({ weapon: "late", action: "late" }); // ignored: the call ended
    assert.throws(() => call.done(), /done: the reply was sent already/);
    assert.equal((await exchange(h.port, rpcPost("Message", msg.encode(NIELS)))).status, 404);
  } finally {
    await h.stop();
  }
});

test("RpcServer turns off the HttpServer's Host requirement unless told not to", async () => {
  const base = new EventBase({ platform });
  const strict = new HttpServer(base);
  const rpc = new RpcServer(strict, { allowNoHost: false });
  rpc.register(Message, (call) => call.done({ weapon: "w", action: "a" }));
  const handle = await strict.bind("127.0.0.1", 0);
  const loop = base.dispatch();
  try {
    assert.equal((await exchange(handle.address.port, rpcPost("Message", msg.encode(NIELS)))).status, 400);
    const withHost = rpcPost("Message", msg.encode(NIELS), "Host: x\r\n");
    assert.equal((await exchange(handle.address.port, withHost)).status, 200);
  } finally {
    strict.free();
    await within(loop, 5000, "the loop");
  }
});

test("bad arguments are TypeErrors naming them", () => {
  const base = new EventBase({ platform });
  const http = new HttpServer(base);
  assert.throws(() => new RpcServer({} as HttpServer), /http must be an HttpServer/);
  assert.throws(() => new RpcServer(http, { allowNoHost: 1 as unknown as boolean }), /options\.allowNoHost/);
  const rpc = new RpcServer(http);
  assert.throws(() => rpc.register({} as RpcMethod, () => {}), /method must be an RpcMethod/);
  assert.throws(() => rpc.register(Message, null as unknown as () => void), /handler must be a function/);
  assert.throws(() => rpc.addHook("sideways" as "input", () => "continue"), /type must be "input" or "output"/);
  assert.throws(
    () => new RpcMethod("with space", msg, kill),
    /name must be letters, digits and _ \. - ~ only/,
  );
  const hook = rpc.addHook("input", (_c: RpcHookContext, _r: HttpServerRequest, _b: EvBuffer) => "continue");
  assert.equal(rpc.removeHook("input", hook), true);
  assert.equal(rpc.removeHook("input", hook), false);
  rpc.free();
  for (
    const [op, call] of [
      ["register", () => rpc.register(Message, () => {})],
      ["addHook", () => rpc.addHook("input", () => "continue")],
      ["setErrorLogger", () => rpc.setErrorLogger(null)],
    ] as const
  ) {
    assert.throws(call, { name: "LeventError", code: "ERR_FREED", message: `${op}: the RpcServer was freed` });
  }
  assert.equal(rpc.removeHook("input", hook), false);
  rpc.free();
  http.free();
});
