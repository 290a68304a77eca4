/**
 * resolv.conf(5): the nameservers, the search list and the options a
 * resolver starts from.
 *
 * @module
 */
import { nameKey, nameLabels } from "./dns_name.ts";
import { parseNameserver } from "./nameserver_address.ts";

/** What a resolv.conf says (the parts levent uses). */
export interface ResolvConf {
  /** `nameserver` lines, as `IP` or `IP:PORT` / `[IPv6]:PORT`, in order. */
  readonly nameservers: readonly string[];
  /** The search list: the last `search` line's domains, or a `domain` line's one. */
  readonly search: readonly string[];
  /** `options ndots:N`, when given. */
  readonly ndots?: number;
  /** `options timeout:N`, in seconds, when given. */
  readonly timeout?: number;
  /** `options attempts:N`, when given. */
  readonly attempts?: number;
  /** `options rotate`: spread queries over the nameservers. */
  readonly rotate: boolean;
  /** Lines levent skipped, with why (an unreadable nameserver, an option out of range). */
  readonly warnings: readonly string[];
}

/** glibc's ceilings for these options (resolv.conf(5)). */
const MAX_NDOTS = 15;
const MAX_TIMEOUT_S = 30;
const MAX_ATTEMPTS = 5;

/**
 * Read resolv.conf text (libevent `evdns_base_resolv_conf_parse`, given the
 * text rather than the file). `#` and `;` start comments; unknown keywords
 * and options are ignored; a line that cannot be read is skipped and noted
 * in `warnings`. Unlike libevent, `options rotate` is read.
 *
 * @example
 * ```ts
 * import { parseResolvConf } from "@levent/levent/dns";
 * const conf = parseResolvConf("nameserver 192.0.2.53\nsearch corp.test\noptions ndots:2 timeout:1 rotate\n");
 * console.log(conf.nameservers, conf.search, conf.ndots, conf.rotate); // [ "192.0.2.53" ] [ "corp.test" ] 2 true
 * ```
 */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  const warnings: string[] = [];
  let ndots: number | undefined;
  let timeout: number | undefined;
  let attempts: number | undefined;
  let rotate = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const cut = raw.search(/[#;]/);
    const fields = (cut < 0 ? raw : raw.slice(0, cut)).split(/[ \t]+/).filter((f) => f !== "");
    if (fields.length === 0) continue;
    const [keyword, ...args] = fields;
    const where = `resolv.conf line ${i + 1}`;
    switch (keyword) {
      case "nameserver":
        if (args.length >= 1 && parseNameserver(args[0]) !== null) nameservers.push(args[0]);
        else warnings.push(`${where}: not a nameserver address: ${JSON.stringify(args[0] ?? "")}`);
        break;
      case "domain":
      case "search": {
        const domains = args.filter((d) => typeof nameLabels(d) !== "string").map(nameKey).filter((d) => d !== "");
        if (domains.length !== args.length) warnings.push(`${where}: skipped a domain that is not a name`);
        search = keyword === "domain" ? domains.slice(0, 1) : domains;
        break;
      }
      case "options":
        for (const opt of args) {
          const colon = opt.indexOf(":");
          const name = colon < 0 ? opt : opt.slice(0, colon);
          const value = colon < 0 ? NaN : Number(opt.slice(colon + 1));
          const whole = Number.isInteger(value) && value >= 0;
          if (name === "rotate") rotate = true;
          else if (name === "ndots" || name === "timeout" || name === "attempts") {
            if (!whole) {
              warnings.push(`${where}: ${opt} needs a whole number`);
              continue;
            }
            if (name === "ndots") ndots = Math.min(value, MAX_NDOTS);
            else if (name === "timeout") timeout = Math.min(Math.max(value, 1), MAX_TIMEOUT_S);
            else attempts = Math.min(Math.max(value, 1), MAX_ATTEMPTS);
          }
        }
        break;
    }
  }
  return { nameservers, search, ndots, timeout, attempts, rotate, warnings };
}
