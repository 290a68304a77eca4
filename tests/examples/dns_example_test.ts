/**
 * examples/dns-example.ts as a process: the server (-s) from a zone file,
 * the client against it (A and AAAA, -x), exit codes and stderr lines for
 * failures, bad command lines, SIGINT/SIGTERM, and dig against the server
 * over UDP and TCP where dig is installed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autoPlatform } from "../../adapters/auto.ts";
import { within } from "../util.ts";
import { cannotRunExamples, listeningPort, type RunningExample, startExample } from "./spawn_example.ts";

const platform = autoPlatform();
const skip = cannotRunExamples();

const ZONE = [
  "# levent dns-example test zone",
  "192.0.2.10 host.test www.test",
  "2001:db8::10 host.test",
  "192.0.2.20 v4only.test",
  "",
].join("\n");

/** Run the server on a zone file for the duration of `body`, then stop it with SIGTERM. */
async function withServer(body: (port: number, server: RunningExample) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "levent-dns-"));
  const zone = join(dir, "zone.hosts");
  writeFileSync(zone, ZONE);
  const server = startExample("dns-example", ["-s", "--port", "0", "--zone", zone]);
  try {
    const port = await listeningPort(server);
    assert.match(server.stdout(), /^listening on dns:\/\/127\.0\.0\.1:\d+\n$/);
    await body(port, server);
    server.kill("SIGTERM");
    assert.equal(await within(server.exited, 10000, "the server's exit"), 0);
  } finally {
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run the client to its end. */
async function client(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const ex = startExample("dns-example", args);
  try {
    const code = await within(ex.exited, 30000, `dns-example ${args.join(" ")}`);
    return { code, stdout: ex.stdout(), stderr: ex.stderr() };
  } finally {
    ex.kill("SIGKILL");
  }
}

test(
  "dns-example resolves names (A and AAAA) and -x addresses against dns-example -s; NXDOMAIN exits 1 with one line each",
  {
    skip,
  },
  async () => {
    await withServer(async (port) => {
      const ns = ["--nameserver", `127.0.0.1:${port}`];
      const ok = await client([...ns, "host.test", "v4only.test"]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(
        ok.stdout,
        "host.test A 192.0.2.10 300\nhost.test AAAA 2001:db8::10 300\nv4only.test A 192.0.2.20 300\n",
      );
      assert.equal(ok.stderr, "");
      const mixed = await client([...ns, "nx.test", "www.test", "other.nx"]);
      assert.equal(mixed.code, 1);
      assert.equal(mixed.stdout, "www.test A 192.0.2.10 300\n");
      assert.deepEqual(mixed.stderr.trim().split("\n"), [
        "dns-example.ts: nx.test: no such name",
        "dns-example.ts: other.nx: no such name",
      ]);
      const reverse = await client(["-x", ...ns, "192.0.2.10", "2001:db8::10"]);
      assert.equal(reverse.code, 0, reverse.stderr);
      assert.equal(
        reverse.stdout,
        "192.0.2.10 PTR host.test 300\n192.0.2.10 PTR www.test 300\n2001:db8::10 PTR host.test 300\n",
      );
      const noPtr = await client(["-x", ...ns, "198.51.100.1"]);
      assert.equal(noPtr.code, 1);
      assert.equal(noPtr.stderr, "dns-example.ts: 198.51.100.1: no such name\n");
      const verbose = await client(["-v", ...ns, "host.test"]);
      assert.equal(verbose.code, 0);
    });
  },
);

test("dns-example against a nameserver that never answers: a timeout line and exit 1", { skip }, async () => {
  const silent = await platform.bindUdp({ host: "127.0.0.1", port: 0 }, { message() {} });
  try {
    const got = await client(["--nameserver", `127.0.0.1:${silent.address.port}`, "--timeout", "0.2", "a.test"]);
    assert.equal(got.code, 1);
    assert.equal(got.stdout, "");
    assert.equal(got.stderr, "dns-example.ts: a.test: timed out\n");
  } finally {
    silent.close();
  }
});

test(
  "dns-example refuses bad command lines with one line on stderr naming the problem and exit 2",
  { skip },
  async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--bogus"], /bogus/],
      [[], /NAME/],
      [["-x"], /ADDRESS/],
      [["--nameserver", "example.com", "a.test"], /--nameserver/],
      [["--nameserver", "127.0.0.1", "a..test"], /name/],
      [["-x", "--nameserver", "127.0.0.1", "not-an-address"], /address/],
      [["--timeout", "soon", "a.test"], /--timeout/],
      [["-s", "--port", "99999"], /--port/],
      [["-s", "--zone", "/nonexistent/zone"], /--zone/],
      [["-s", "name.test"], /NAME/],
      [["--port", "53", "a.test"], /--port is for the server/],
    ];
    await Promise.all(cases.map(async ([args, pattern]) => {
      const got = await client(args);
      assert.equal(got.code, 2, `${args.join(" ")}: ${got.stderr}`);
      assert.match(got.stderr, pattern, args.join(" "));
      assert.equal(got.stderr.trim().split("\n").length, 1, got.stderr);
    }));
  },
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`dns-example -s on ${signal} exits 0 within 5 s with an idle TCP client connected`, { skip }, async () => {
    const ex = startExample("dns-example", ["-s", "--port", "0"]);
    try {
      const port = await listeningPort(ex);
      const idle = await platform.connect({ host: "127.0.0.1", port });
      idle.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
      const t0 = Date.now();
      ex.kill(signal);
      assert.equal(await within(ex.exited, 10000, "exit"), 0);
      assert.ok(Date.now() - t0 < 5000);
      idle.close();
    } finally {
      ex.kill("SIGKILL");
    }
  });
}

/** Run dig and return its stdout; null when dig is not installed. */
function dig(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn("dig", args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (b: Uint8Array) => (out += new TextDecoder().decode(b)));
    child.on("error", () => resolve(null));
    child.on("close", () => resolve(out));
  });
}

test("dig (bind9-dnsutils) against dns-example -s over UDP and TCP", { skip }, async (t) => {
  if ((await dig(["-v"])) === null) {
    t.skip("dig is not installed (Debian: apt-get install bind9-dnsutils)");
    return;
  }
  await withServer(async (port) => {
    const at = ["@127.0.0.1", "-p", String(port), "+tries=1", "+time=5"];
    assert.equal(await dig([...at, "+short", "host.test", "A"]), "192.0.2.10\n");
    assert.equal(await dig([...at, "+short", "+tcp", "host.test", "AAAA"]), "2001:db8::10\n");
    assert.equal(await dig([...at, "+short", "-x", "192.0.2.20"]), "v4only.test.\n");
    const nx = await dig([...at, "+tcp", "nowhere.test", "A"]);
    assert.match(nx ?? "", /status: NXDOMAIN/);
    const nodata = await dig([...at, "v4only.test", "AAAA"]);
    assert.match(nodata ?? "", /status: NOERROR/);
    assert.match(nodata ?? "", /ANSWER: 0/);
    assert.match(nodata ?? "", /flags: qr aa rd/);
  });
});
