/**
 * levent's resolver against dnsmasq (Debian's dnsmasq-base) on 127.0.0.1
 * with a test hosts file: A, AAAA, PTR, NXDOMAIN for a local domain, and
 * TCP. Skipped, with the reason printed, where dnsmasq is not installed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { join } from "node:path";
import { EventBase } from "../../src/event/mod.ts";
import { DNS_QUERY_USEVC, DnsBase, type DnsError } from "../../src/dns/mod.ts";
import { platform } from "../dns/dns_util.ts";
import { within } from "../util.ts";

const DNSMASQ = ["/usr/sbin/dnsmasq", "dnsmasq"].find((cmd) => spawnSync(cmd, ["--version"]).status === 0);
const skip = DNSMASQ === undefined ? "dnsmasq is not installed (Debian: apt-get install dnsmasq-base)" : false;
if (skip) console.log(`skipping the dnsmasq interop tests: ${skip}`);

/** Start dnsmasq on a hosts file at a random high port (another, if that one is taken); resolves once it is up. */
async function startDnsmasq(hostsFile: string): Promise<{ port: number; child: ChildProcess }> {
  for (let tries = 1;; tries++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    try {
      return { port, child: await dnsmasqOn(port, hostsFile) };
    } catch (err) {
      if (tries === 5) throw err;
    }
  }
}

async function dnsmasqOn(port: number, hostsFile: string): Promise<ChildProcess> {
  const child = spawn(DNSMASQ!, [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    `--addn-hosts=${hostsFile}`,
    // Names under test. are local: NXDOMAIN when the hosts file lacks them, never a forward.
    "--local=/test/",
    // As root it would drop to nobody, who cannot read the test's private directory; as anyone else it stays.
    ...(process.getuid?.() === 0 ? ["--user=root"] : []),
    "--pid-file=",
    "--log-facility=-",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (b: Uint8Array) => (log += new TextDecoder().decode(b)));
  const ready = new Promise<void>((resolve, reject) => {
    // 'close': after its stderr ended, so the log has its reason.
    child.on("close", (code) => reject(new Error(`dnsmasq exited (${code}): ${log}`)));
    const check = (): void => {
      if (/read .*hosts/.test(log)) resolve();
      else setTimeout(check, 20);
    };
    check();
  });
  await within(ready, 10000, "dnsmasq to start");
  return child;
}

test("levent's resolver against dnsmasq: A, AAAA, PTR, NXDOMAIN and TCP", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "levent-dnsmasq-"));
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, "192.0.2.50 alpha.test alpha\n2001:db8::50 alpha.test\n192.0.2.51 beta.test\n");
  const { port, child } = await startDnsmasq(hosts);
  const base = new EventBase({ platform });
  const loop = base.loop({ noExitOnEmpty: true });
  const dns = new DnsBase(base, { nameservers: [`127.0.0.1:${port}`], timeoutMs: 2000 });
  try {
    assert.deepEqual((await dns.queryIpv4("alpha.test")).answers, ["192.0.2.50"]);
    assert.deepEqual((await dns.queryIpv6("ALPHA.test")).answers, ["2001:db8::50"]);
    assert.deepEqual((await dns.queryReverse("192.0.2.51")).answers, ["beta.test"]);
    assert.deepEqual((await dns.queryIpv4("beta.test", { flags: DNS_QUERY_USEVC })).answers, ["192.0.2.51"]);
    await assert.rejects(dns.queryIpv4("nowhere.test"), (e: unknown) => (e as DnsError).code === "ERR_DNS_NOTEXIST");
    assert.deepEqual(await dns.lookup("alpha.test"), [
      { address: "192.0.2.50", family: 4 },
      { address: "2001:db8::50", family: 6 },
    ]);
  } finally {
    dns.free();
    base.loopBreak();
    await within(loop, 5000, "the loop to end");
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
