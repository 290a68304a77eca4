// Channel: messages from other threads run as events on an EventBase.
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import { EV_TIMEOUT, Event, EventBase } from "../../src/event/mod.ts";
import { Channel, ChannelSender, ThreadError, WorkerGroup } from "../../src/thread/mod.ts";
import { within } from "../util.ts";

const platform = autoPlatform();
const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const WORKER = new URL(`./fixtures/group_worker${ext}`, import.meta.url);

test("messages a worker thread posts run the callback as events on the base, all of them, in order", async () => {
  const base = new EventBase({ platform });
  const got: number[] = [];
  let offLoop = 0;
  const channel = new Channel<number>(base, (value, ch) => {
    if (!base.running) offLoop++;
    assert.equal(ch, channel);
    got.push(value);
    if (got.length === 2000) ch.close();
  });
  assert.equal(channel.base, base);
  const group = WorkerGroup.start(WORKER, { count: 1, platform });
  try {
    await within(group.ready(), 30000, "ready");
    group.send(0, { channel: channel.port, count: 2000 }, [channel.port]);
    // The open channel keeps the loop alive until the last message closes it.
    await within(base.dispatch(), 30000, "all the messages");
  } finally {
    await within(group.stop(), 20000, "stop");
  }
  assert.equal(offLoop, 0);
  assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => i));
  assert.equal(channel.open, false);
});

test("a channel's callback runs at the priority it was given, before lower priorities made active earlier", async () => {
  const base = new EventBase({ platform });
  base.priorityInit(3);
  const order: string[] = [];
  const urgent = new Channel<string>(base, (value) => order.push(`urgent ${value}`), { priority: 0 });
  const lazy = new Channel<string>(base, (value) => order.push(`lazy ${value}`), { priority: 2 });
  const urgentSender = new ChannelSender<string>(urgent.port, platform);
  const lazySender = new ChannelSender<string>(lazy.port, platform);
  lazySender.post("a");
  urgentSender.post("a");
  urgentSender.post("b");
  // Let the ports deliver while the loop is not running: both channels are then active.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const middle = new Event(base, null, 0, () => order.push("middle"));
  middle.prioritySet(1);
  middle.active(EV_TIMEOUT);
  await base.loop({ nonblock: true });
  assert.deepEqual(order, ["urgent a", "urgent b", "middle", "lazy a"]);
  for (const c of [urgent, lazy]) c.close();
  for (const s of [urgentSender, lazySender]) s.close();
  assert.throws(
    () => urgentSender.post("late"),
    (err: unknown) => err instanceof ThreadError && err.code === "ERR_STOPPED",
  );
  await within(base.dispatch(), 5000, "the loop ends once the channels are closed");
});

test("freeing the base closes its channels", () => {
  const base = new EventBase({ platform });
  const channel = new Channel(base, () => {});
  base.free();
  assert.equal(channel.open, false);
  channel.close();
});

test("bad arguments get a TypeError or RangeError naming them", () => {
  const base = new EventBase({ platform });
  assert.throws(
    () => new Channel(base, 5 as unknown as () => void),
    (err: unknown) => err instanceof TypeError && /callback/.test(err.message),
  );
  assert.throws(
    () => new Channel(base, () => {}, { priority: base.priorities }),
    (err: unknown) => err instanceof RangeError && /options\.priority/.test(err.message),
  );
  assert.throws(
    () => new Channel({} as EventBase, () => {}),
    (err: unknown) => err instanceof TypeError && /base/.test(err.message),
  );
  assert.throws(() => new ChannelSender({}, platform), (err: unknown) => err instanceof TypeError);
});
