/**
 * dns-example: libevent's sample/dns-example.c in levent. As a client it
 * resolves names (A and AAAA) or, with -x, addresses (PTR) with levent's
 * own resolver; with -s it is a DNS server (UDP and TCP) answering A, AAAA
 * and PTR from a hosts-format zone file.
 *
 *   deno run -A examples/dns-example.ts [-x] [-v] [--nameserver IP[:PORT]] [--timeout S] NAME...
 *   bun examples/dns-example.ts -s [--host H] [--port 10053] [--zone FILE]
 *   node examples/dns-example.ts --nameserver 127.0.0.1:10053 www.example.test
 *
 * Client: one line per answer on stdout, `NAME TYPE ADDRESS TTL` (with -x,
 * `ADDRESS PTR NAME TTL`); exit 0 when every NAME resolved, 1 when any did
 * not, with one line on stderr for each failure; 2 for a bad command line.
 *
 * @module
 */
import process from "node:process";
import { readFileSync } from "node:fs";
import { EventBase } from "../mod.ts";
import {
  addressOfReverseName,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_FLAG_AA,
  DNS_OPTIONS_ALL,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_PTR,
  DnsBase,
  dnsErrToString,
  DnsServer,
  HostsFile,
} from "../src/dns/mod.ts";
import { announce, exitWhenDone, log, onStopSignal, parseCli, portFlag, programName, usageError } from "./lib/cli.ts";

const USAGE = `usage: dns-example.ts [-x] [-v] [--nameserver IP[:PORT]] [--timeout S] NAME...
       dns-example.ts -s [--host H] [--port P] [--zone FILE]

Client: resolves each NAME (A and AAAA) with levent's own resolver and
prints one line per answer, "NAME TYPE ADDRESS TTL". -x looks up the names
of IP addresses (PTR): "ADDRESS PTR NAME TTL". The nameservers are those of
/etc/resolv.conf (and /etc/hosts is consulted) unless --nameserver names
one; --timeout is the wait for each attempt in seconds (default 5); -v
logs the resolver's notes on stderr. Exit 0 when every NAME resolved, 1
when any did not (one line on stderr for each).

Server (-s): answers A, AAAA and PTR over UDP and TCP on H:P (default
127.0.0.1:10053; port 0 picks one) from the hosts-format FILE, NOERROR with
no records for a name it has without that type, NXDOMAIN for any other
name. Prints "listening on dns://HOST:PORT" once bound; SIGINT or SIGTERM
exits 0.`;

/** The TTL of the server's answers, in seconds. */
const ZONE_TTL = 300;

const { values, positionals } = parseCli(
  {
    x: { type: "boolean", short: "x" },
    v: { type: "boolean", short: "v" },
    s: { type: "boolean", short: "s" },
    nameserver: { type: "string" },
    timeout: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    zone: { type: "string" },
  },
  true,
  USAGE,
);

if (values.s) {
  for (const flag of ["x", "v", "nameserver", "timeout"] as const) {
    if (values[flag] !== undefined) {
      usageError(`${flag.length === 1 ? "-" : "--"}${flag} is for the client, not with -s`);
    }
  }
  if (positionals.length > 0) usageError(`the server takes no NAME, got "${positionals[0]}"`);
  await serve();
} else {
  for (const flag of ["host", "port", "zone"] as const) {
    if (values[flag] !== undefined) usageError(`--${flag} is for the server (-s)`);
  }
  await resolveAll();
}

async function serve(): Promise<void> {
  const host = values.host ?? "127.0.0.1";
  const port = portFlag(values.port, 10053);
  const zone = new HostsFile();
  if (values.zone !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.zone, "utf8");
    } catch (err) {
      usageError(`--zone: cannot read "${values.zone}": ${(err as Error).message}`);
    }
    zone.add(text);
  }
  const base = new EventBase();
  let server: DnsServer;
  try {
    // evdns_add_server_port_with_base(base, sock, 0, server_callback, NULL)
    server = await DnsServer.bind(base, { host, port }, (req) => {
      const q = req.questions[0];
      if (q.type === DNS_TYPE_A || q.type === DNS_TYPE_AAAA) {
        const addresses = zone.addresses(q.name, q.type === DNS_TYPE_A ? 4 : 6);
        if (addresses.length > 0) {
          if (q.type === DNS_TYPE_A) req.addAReply(q.name, addresses, ZONE_TTL);
          else req.addAaaaReply(q.name, addresses, ZONE_TTL);
        }
      } else if (q.type === DNS_TYPE_PTR) {
        const address = addressOfReverseName(q.name);
        for (const name of address === null ? [] : zone.names(address)) req.addPtrReply(q.name, name, ZONE_TTL);
      }
      // A name the zone has, asked for a type it lacks: NOERROR with no records (NODATA), not NXDOMAIN.
      const known = req.answerCount > 0 || zone.has(q.name);
      req.setFlags(DNS_FLAG_AA); // evdns_server_request_set_flags()
      req.respond(known ? 0 : DNS_RCODE_NXDOMAIN); // evdns_server_request_respond()
    });
  } catch (err) {
    log(`${programName()}: could not listen on ${host}:${port}: ${(err as Error).message}`);
    process.exit(1);
  }
  // Watching the signals before the announcement: a client may signal as soon as it reads it.
  onStopSignal(base, () => void server.close()); // evdns_close_server_port()
  announce("dns", server.address.host, server.address.port);
  await base.dispatch();
  exitWhenDone(0);
}

async function resolveAll(): Promise<void> {
  if (positionals.length === 0) usageError(values.x ? "give at least one ADDRESS" : "give at least one NAME");
  const timeoutText = values.timeout ?? "5";
  const timeoutS = Number(timeoutText);
  if (!/^\d+(\.\d+)?$/.test(timeoutText) || !(timeoutS > 0) || timeoutS > 3600) {
    usageError(`--timeout must be a number of seconds above 0, got "${timeoutText}"`);
  }
  const base = new EventBase();
  // evdns_base_new(base, 0), then the nameserver or resolv.conf.
  const dns = new DnsBase(base, { timeoutMs: Math.round(timeoutS * 1000) });
  dns.setLogFn((isWarning, message) => {
    if (isWarning || values.v) log(`${programName()}: ${message}`);
  });
  if (values.nameserver !== undefined) {
    try {
      dns.addNameserver(values.nameserver); // evdns_base_nameserver_ip_add()
    } catch {
      usageError(`--nameserver must be IP or IP:PORT ([IPv6]:PORT), got "${values.nameserver}"`);
    }
  } else {
    await dns.resolvConfParse(DNS_OPTIONS_ALL); // evdns_base_resolv_conf_parse(DNS_OPTIONS_ALL, "/etc/resolv.conf")
  }

  type Lines = { lines: string[]; failure: string | null };
  const results: Promise<Lines>[] = [];
  /** Start a lookup now (so a bad argument throws here) and settle with its outcome. */
  const lookup = (start: (cb: (result: number, ttl: number, answers: readonly string[]) => void) => void) => {
    let settle!: (outcome: { result: number; ttl: number; answers: readonly string[] }) => void;
    const outcome = new Promise<{ result: number; ttl: number; answers: readonly string[] }>((r) => (settle = r));
    start((result, ttl, answers) => settle({ result, ttl, answers }));
    return outcome;
  };
  try {
    for (const arg of positionals) {
      if (values.x) {
        // evdns_base_resolve_reverse() / evdns_base_resolve_reverse_ipv6()
        const ptr = lookup((cb) => dns.resolveReverse(arg, 0, (r, _t, _c, ttl, names) => cb(r, ttl, names)));
        results.push(ptr.then(({ result, ttl, answers }) => ({
          lines: answers.map((name) => `${arg} PTR ${name} ${ttl}`),
          failure: result === DNS_ERR_NONE ? null : dnsErrToString(result),
        })));
        continue;
      }
      // evdns_base_resolve_ipv4() and evdns_base_resolve_ipv6()
      const a = lookup((cb) => dns.resolveIpv4(arg, 0, (r, _t, _c, ttl, addrs) => cb(r, ttl, addrs)));
      const aaaa = lookup((cb) => dns.resolveIpv6(arg, 0, (r, _t, _c, ttl, addrs) => cb(r, ttl, addrs)));
      results.push(
        Promise.all([a, aaaa]).then(([four, six]) => {
          const lines = [
            ...four.answers.map((addr) => `${arg} A ${addr} ${four.ttl}`),
            ...six.answers.map((addr) => `${arg} AAAA ${addr} ${six.ttl}`),
          ];
          if (lines.length > 0) return { lines, failure: null };
          // Neither family: say the more telling failure (a timeout or a refusal beats "no such name").
          const worst = [four.result, six.result].find((r) => r !== DNS_ERR_NODATA && r !== DNS_ERR_NOTEXIST) ??
            (four.result === DNS_ERR_NOTEXIST || six.result === DNS_ERR_NOTEXIST ? DNS_ERR_NOTEXIST : DNS_ERR_NODATA);
          return { lines, failure: dnsErrToString(worst) };
        }),
      );
    }
  } catch (err) {
    // A NAME that is not a name, or an address that is not one (-x): a bad argument.
    usageError((err as Error).message);
  }
  const loop = base.dispatch();
  let failed = false;
  for (let i = 0; i < results.length; i++) {
    const { lines, failure } = await results[i];
    for (const line of lines) process.stdout.write(`${line}\n`);
    if (failure !== null) {
      failed = true;
      log(`${programName()}: ${positionals[i]}: ${failure}`);
    }
  }
  dns.free(); // evdns_base_free(): its sockets close and the loop ends
  await loop;
  exitWhenDone(failed ? 1 : 0);
}
