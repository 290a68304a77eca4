import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../adapters/auto.ts";
import { LeventError } from "../src/errors.ts";
import { BufferError, BufferEvent, EvBuffer, Listener } from "../src/buffer/mod.ts";
import { EV_READ, EV_TIMEOUT, Event, EventBase, EventError, ManualClock } from "../src/event/mod.ts";
import { HttpClientRequest, HttpConnection, HttpError, HttpServer } from "../src/http/mod.ts";

test("LeventError carries a code, a message, a name and an optional cause", () => {
  const plain = new LeventError("ERR_SOMETHING", "something went wrong");
  assert.ok(plain instanceof Error);
  assert.equal(plain.name, "LeventError");
  assert.equal(plain.code, "ERR_SOMETHING");
  assert.equal(plain.message, "something went wrong");
  assert.equal("cause" in plain, false);
  const root = new Error("ECONNRESET");
  const caused = new LeventError("ERR_SOMETHING", "wrapped", { cause: root });
  assert.equal(caused.cause, root);
});

test("every module's error class is a LeventError with its own name and code", () => {
  const cause = new Error("underneath");
  const errors: [LeventError, string, string][] = [
    [new EventError("ERR_LOOP_RUNNING", "running", { cause }), "EventError", "ERR_LOOP_RUNNING"],
    [new BufferError("ERR_FROZEN", "frozen", { cause }), "BufferError", "ERR_FROZEN"],
    [new HttpError("ERR_CONNECT", "refused", 502, { cause }), "HttpError", "ERR_CONNECT"],
  ];
  for (const [err, name, code] of errors) {
    assert.ok(err instanceof LeventError, name);
    assert.ok(err instanceof Error, name);
    assert.equal(err.name, name);
    assert.equal(err.code, code);
    assert.equal(err.cause, cause);
  }
  assert.equal((errors[2][0] as HttpError).status, 502);
  assert.equal(new HttpError("ERR_BODY_TOO_LARGE", "big").status, 413);
});

test("errors the library raises are LeventErrors a caller can branch on by code", async () => {
  const buf = new EvBuffer();
  buf.freeze(true);
  assert.throws(() => buf.drain(1), (e: unknown) => e instanceof LeventError && e.code === "ERR_FROZEN");
  const base = new EventBase({ clock: new ManualClock() });
  base.free();
  await assert.rejects(base.dispatch(), (e: unknown) => e instanceof LeventError && e.code === "ERR_FREED");
});

test("one rule for a freed object: free() again does nothing, getters answer, any other call throws ERR_FREED naming it", async () => {
  const platform = autoPlatform();
  const base = new EventBase({ platform });
  const buf = new EvBuffer();
  const ev = new Event(base, null, 0, () => {});
  const [bev] = BufferEvent.pair(base);
  const listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, null);
  const server = new HttpServer(base);
  const conn = new HttpConnection(base, { host: "127.0.0.1", port: listener.address.port });
  const freed: [string, () => unknown][] = [
    ["EvBuffer", () => buf.free()],
    ["Event", () => ev.free()],
    ["BufferEvent", () => bev.free()],
    ["Listener", () => listener.free()],
    ["HttpServer", () => server.free()],
    ["HttpConnection", () => conn.free()],
  ];
  for (const [, free] of freed) await free();
  for (const [, free] of freed) await free();
  const calls: [string, string, () => unknown][] = [
    ["EvBuffer", "addString", () => buf.addString("x")],
    ["EvBuffer", "add", () => buf.add(new Uint8Array(1))],
    ["EvBuffer", "drain", () => buf.drain(0)],
    ["EvBuffer", "pullup", () => buf.pullup()],
    ["EvBuffer", "copyout", () => buf.copyout(new Uint8Array(1))],
    ["EvBuffer", "readLine", () => buf.readLine("lf")],
    ["EvBuffer", "addCb", () => buf.addCb(() => {})],
    ["Event", "add", () => ev.add()],
    ["Event", "active", () => ev.active(EV_TIMEOUT)],
    ["Event", "prioritySet", () => ev.prioritySet(0)],
    ["BufferEvent", "write", () => bev.write("x")],
    ["BufferEvent", "enable", () => bev.enable(EV_READ)],
    ["BufferEvent", "setCallbacks", () => bev.setCallbacks(null, null, null)],
    ["Listener", "enable", () => listener.enable()],
    ["Listener", "setCallback", () => listener.setCallback(null)],
    ["HttpServer", "setGenCb", () => server.setGenCb(null)],
    ["HttpServer", "setCb", () => server.setCb("/", () => {})],
    ["HttpServer", "setTimeout", () => server.setTimeout(1000)],
    ["HttpServer", "bind", () => server.bind("127.0.0.1", 0)],
    ["HttpConnection", "makeRequest", () => conn.makeRequest(new HttpClientRequest(), "GET", "/")],
    ["HttpConnection", "setTimeout", () => conn.setTimeout(1000)],
  ];
  for (const [what, op, call] of calls) {
    const check = (err: unknown): boolean => {
      assert.ok(err instanceof LeventError, `${what}.${op}: ${String(err)}`);
      assert.equal(err.code, "ERR_FREED");
      assert.equal(err.message, `${op}: the ${what} was freed`);
      return true;
    };
    try {
      await call();
      assert.fail(`${what}.${op} did not throw`);
    } catch (err) {
      check(err);
    }
  }
  // Getters, and the calls that only let go of something, still answer.
  assert.equal(buf.length, 0);
  assert.equal(buf.removeCb({} as never), false);
  ev.del();
  assert.equal(ev.initialized, false);
  assert.equal(bev.state, "freed");
  assert.equal(listener.freed, true);
  assert.equal(server.state, "closed");
  assert.equal(server.delCb("/"), false);
  await server.shutdown();
  conn.freeOnCompletion();
  assert.equal(conn.state, "freed");

  base.free();
  base.free();
  for (
    const [op, call] of [
      ["dispatch", () => base.dispatch()],
      ["loop", () => base.loop()],
      ["once", () => base.once(null, 0, () => {})],
      ["defer", () => base.defer(() => {})],
      ["loopExit", () => base.loopExit()],
      ["priorityInit", () => base.priorityInit(2)],
      ["add", () => new Event(base, null, 0, () => {}).add()],
    ] as const
  ) {
    await assert.rejects(async () => await call(), {
      name: "LeventError",
      code: "ERR_FREED",
      message: `${op}: the EventBase was freed`,
    });
  }
  base.loopBreak();
  assert.equal(base.countEvents().added, 0);
});
