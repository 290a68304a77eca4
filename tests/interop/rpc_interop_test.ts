// levent's RPC layer against libevent's own (a small C program built here,
// tests/interop/evrpc_peer.c): evtag bytes compared both ways with
// libevent's tag.h functions, libevent's evrpc pool calling levent's
// RpcServer, and levent's RpcPool calling libevent's evrpc server. Skipped
// with a printed reason where a C compiler or libevent's headers (Debian:
// libevent-dev) are missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import { EV_PERSIST, Event, EventBase } from "../../src/event/mod.ts";
import { HttpConnection } from "../../src/http/mod.ts";
import {
  evtagEncodeInt,
  evtagEncodeInt64,
  evtagEncodeTag,
  evtagMarshalInt,
  evtagMarshalInt64,
  evtagMarshalString,
  evtagMarshalTimeval,
  RpcPool,
  type RpcValue,
} from "../../src/rpc/mod.ts";
import { Message, msg } from "../../examples/lib/regress_rpc.ts";
import { platform, startRpc } from "../rpc/rpc_util.ts";
import { deferred, within } from "../util.ts";

const SOURCE = fileURLToPath(new URL("./evrpc_peer.c", import.meta.url));

/** Build the C peer into a fresh folder; the path of the binary, or why it cannot be built. */
function build(): { binary: string; dir: string } | { why: string } {
  const dir = mkdtempSync(join(tmpdir(), "levent-evrpc-"));
  const binary = join(dir, "evrpc_peer");
  const built = spawnSync("cc", ["-O1", "-o", binary, SOURCE, "-levent"], { encoding: "utf8" });
  if (built.error === undefined && built.status === 0) return { binary, dir };
  rmSync(dir, { recursive: true, force: true });
  return {
    why: built.error !== undefined
      ? "no C compiler (cc) here"
      : `cannot build against libevent (install libevent-dev): ${String(built.stderr).split("\n")[0]}`,
  };
}

const peer = build();
const skip = "why" in peer ? peer.why : false;
if ("why" in peer) console.log(`skipping the evrpc interop tests: ${peer.why}`);

process.on("exit", () => {
  if (!("why" in peer)) rmSync(peer.dir, { recursive: true, force: true });
});

/** Run the peer to its end with `input` on stdin; its stdout. */
function runPeer(args: string[], input = ""): string {
  if ("why" in peer) throw new Error(peer.why);
  const out = spawnSync(peer.binary, args, { input, encoding: "utf8", timeout: 20000 });
  assert.equal(out.status, 0, `evrpc_peer ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function written(fill: (buf: EvBuffer) => void): string {
  const buf = new EvBuffer();
  fill(buf);
  return hex(buf.pullup());
}

/** The canonical msg evrpc_peer.c's full_msg() builds. */
const FULL = {
  from_name: "niels",
  to_name: "tester",
  attack: { weapon: "dagger", action: "wave around like an idiot", how_often: [3, 0, 4294967295] },
  run: [
    {
      how: "very fast",
      some_bytes: new Uint8Array([0, 1, 2, 255]),
      fixed_bytes: Uint8Array.from({ length: 24 }, (_, i) => (i * 7) & 0xff),
      notes: ["first", "", "second"],
      large_number: 0xfedcba9876543210n,
      other_numbers: [1, 2, 3],
    },
    { how: "slow", fixed_bytes: new Uint8Array(24) },
  ],
};

/** One line describing a msg, as evrpc_peer.c's print_msg() writes it. */
function describe(m: RpcValue<typeof msg.fields>): string {
  let s = `from=${m.from_name} to=${m.to_name}`;
  if (m.attack !== undefined) s += ` attack=${m.attack.weapon}|${m.attack.action}|${m.attack.how_often.join(",")}`;
  for (const r of m.run) {
    const some = r.some_bytes === undefined ? "-" : hex(r.some_bytes);
    const large = r.large_number === undefined ? "-" : String(r.large_number);
    s += ` run=${r.how}|${some}|${hex(r.fixed_bytes)}|${r.notes.join(",")}|${large}|${r.other_numbers.join(",")}`;
  }
  return s;
}

/** levent's encoding of each of evrpc_peer's vector names. */
function leventEncoding(name: string): string {
  const [kind, ...args] = name.split(":");
  switch (kind) {
    case "tag":
      return written((b) => evtagEncodeTag(b, Number(args[0])));
    case "int":
      return written((b) => evtagEncodeInt(b, Number(args[0])));
    case "int64":
      return written((b) => evtagEncodeInt64(b, BigInt(args[0])));
    case "marshal_int":
      return written((b) => evtagMarshalInt(b, Number(args[0]), Number(args[1])));
    case "marshal_int64":
      return written((b) => evtagMarshalInt64(b, Number(args[0]), BigInt(args[1])));
    case "marshal_string":
      return written((b) => evtagMarshalString(b, Number(args[0]), args[1]));
    case "marshal_timeval":
      return written((b) => evtagMarshalTimeval(b, Number(args[0]), { sec: Number(args[1]), usec: Number(args[2]) }));
    case "msg":
      return hex(msg.encode(FULL));
  }
  throw new Error(`unknown vector ${name}`);
}

test("levent encodes tags, integers, records and the regress msg byte for byte as libevent does", { skip }, () => {
  const lines = runPeer(["vectors"]).trim().split("\n");
  assert.ok(lines.length >= 29, "the peer printed its vectors");
  for (const line of lines) {
    const [name, bytes] = line.split(" ");
    assert.equal(leventEncoding(name), bytes ?? "", name);
  }
});

test("libevent decodes levent's encodings, and levent decodes libevent's", { skip }, () => {
  const input = [
    `tag ${written((b) => evtagEncodeTag(b, 0x10121))}`,
    `tag ${written((b) => evtagEncodeTag(b, 0xffffffff))}`,
    `int ${written((b) => evtagEncodeInt(b, 0x12345678))}`,
    `int64 ${written((b) => evtagEncodeInt64(b, 0x123456789abcdef0n))}`,
    `timeval ${written((b) => evtagMarshalTimeval(b, 1, { sec: 5, usec: 256 }))}`,
    `msg ${hex(msg.encode(FULL))}`,
    `msg ${hex(msg.encode({ from_name: "a", to_name: "é" }))}`,
    // What levent refuses, libevent refuses too: a fifth tag group over 15, a tag without its last byte.
    "tag ffffffff10",
    "tag 8080",
  ].join("\n") + "\n";
  const out = runPeer(["decode"], input).trim().split("\n");
  assert.deepEqual(out, [
    "tag 65825",
    "tag 4294967295",
    "int 305419896",
    "int64 1311768467463790320",
    "timeval 5:256",
    `msg ${describe(msg.decode(msg.encode(FULL)))}`,
    "msg from=a to=é",
    "tag error",
    "tag error",
  ]);
  const theirs = runPeer(["vectors"]).split("\n").find((l) => l.startsWith("msg "))!.slice(4);
  const bytes = Uint8Array.from(theirs.match(/../g)!, (h) => parseInt(h, 16));
  assert.equal(describe(msg.decode(bytes)), describe(msg.decode(msg.encode(FULL))));
});

test(
  "libevent's evrpc pool calls levent's RpcServer: Message, NeverReply's timeout, a malformed body's 503",
  { skip },
  async () => {
    const hosts: (string | null)[] = [];
    const h = await startRpc((rpc) =>
      rpc.addHook("input", (_ctx, req) => {
        hosts.push(req.inputHeaders.get("host"));
        return "continue";
      })
    );
    try {
      if ("why" in peer) return;
      const child = spawn(peer.binary, ["client", String(h.port)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout!.on("data", (b: Uint8Array) => (out += new TextDecoder().decode(b)));
      child.stderr!.on("data", (b: Uint8Array) => (err += new TextDecoder().decode(b)));
      const exited = deferred<number | null>();
      child.on("close", (code) => exited.resolve(code));
      const code = await within(exited.promise, 15000, "the C client");
      assert.equal(code, 0, out + err);
      const lines = out.trim().split("\n").sort();
      assert.deepEqual(lines, [
        "Message status=0 weapon=dagger action=wave around like an idiot how_often=",
        "Message-again status=0 weapon=dagger action=wave around like an idiot how_often=",
        "NeverReply status=1",
        "Nonsense code=503",
      ]);
      assert.ok(hosts.length >= 3);
      assert.ok(hosts.every((host) => host === null), "libevent's evrpc client sends no Host");
    } finally {
      await h.stop();
    }
  },
);

test("levent's RpcPool calls libevent's evrpc server, which decodes the full msg", { skip }, async () => {
  if ("why" in peer) return;
  const child = spawn(peer.binary, ["server"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = deferred<number>();
    let out = "";
    child.stdout!.on("data", (b: Uint8Array) => {
      out += new TextDecoder().decode(b);
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) port.resolve(Number(m[1]));
    });
    child.on("exit", () => port.reject(new Error(`the evrpc server exited: ${out}`)));
    const p = await within(port.promise, 10000, "the evrpc server");
    const base = new EventBase({ platform });
    const pool = new RpcPool(base);
    pool.addConnection(new HttpConnection(base, { host: "127.0.0.1", port: p }));
    const keep = new Event(base, null, EV_PERSIST, () => {});
    keep.add(1000);
    const loop = base.dispatch();
    try {
      const reply = await within(pool.call(Message, FULL), 10000, "the reply");
      // The C server answers with the names it decoded and the number of notes in each run.
      assert.deepEqual(reply, { weapon: "dagger", action: "niels to tester", how_often: [3, 0] });
      const again = await within(pool.call(Message, { from_name: "ann", to_name: "bob" }), 10000, "again");
      assert.equal(again.action, "ann to bob");
    } finally {
      pool.free();
      keep.free();
      await within(loop, 5000, "the loop");
    }
  } finally {
    child.kill();
  }
});
