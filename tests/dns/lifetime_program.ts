/**
 * A program for tests/dns/dns_lifetime_test.ts, run as its own process: a
 * DnsServer and a DnsBase with a query pending over UDP and one over TCP
 * (the server holds both unanswered), the loop ended, and then it must be
 * able to exit on its own. Prints `asked` once both queries reached the
 * server and `returned` once dispatch() has returned.
 *
 * Modes (the first argument):
 * - `free`: base.free() after dispatch(); prints what the pending queries got.
 * - `using`: the DnsBase in a `using` scope and the DnsServer in an
 *   `await using` one inside the base's, which end after dispatch().
 */
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { DnsBase } from "../../src/dns/dns_base.ts";
import type { DnsError } from "../../src/dns/dns_error.ts";
import { DNS_QUERY_USEVC } from "../../src/dns/dns_request.ts";
import { DnsServer, type DnsServerRequest } from "../../src/dns/dns_server.ts";

const platform = autoPlatform();
const mode = process.argv[2];

/** Ask twice (UDP, then TCP) through `dns`; end the loop once the server holds both. */
function askAndHold(dns: DnsBase, held: DnsServerRequest[]): Promise<string[]> {
  const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => "answered", (e: DnsError) => e.code);
  return Promise.all([
    outcome(dns.queryIpv4("udp.test")),
    outcome(dns.queryIpv4("tcp.test", { flags: DNS_QUERY_USEVC })),
  ]).then((codes) => {
    if (held.length !== 2) throw new Error(`the server held ${held.length} requests`);
    return codes;
  });
}

function holder(base: EventBase, held: DnsServerRequest[]): (req: DnsServerRequest) => void {
  return (req) => {
    held.push(req);
    if (held.length === 2) {
      console.log("asked");
      base.loopExit();
    }
  };
}

if (mode === "free") {
  const base = new EventBase({ platform });
  const held: DnsServerRequest[] = [];
  const server = await DnsServer.bind(base, { host: "127.0.0.1", port: 0 }, holder(base, held));
  const dns = new DnsBase(base, { nameservers: [`127.0.0.1:${server.address.port}`] });
  const codes = askAndHold(dns, held);
  await base.dispatch();
  console.log("returned");
  base.free();
  console.log(`queries ${(await codes).join(" ")}`);
} else if (mode === "using") {
  const held: DnsServerRequest[] = [];
  let codes: Promise<string[]>;
  {
    using base = new EventBase({ platform });
    await using server = await DnsServer.bind(base, { host: "127.0.0.1", port: 0 }, holder(base, held));
    using dns = new DnsBase(base, { nameservers: [`127.0.0.1:${server.address.port}`] });
    codes = askAndHold(dns, held);
    await base.dispatch();
    console.log("returned");
  }
  console.log(`scope left, queries ${(await codes).join(" ")}`);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
