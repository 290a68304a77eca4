/**
 * A hosts file (`/etc/hosts`, hosts(5)): addresses and the names they go
 * by, looked up both ways.
 *
 * @module
 */
import { nameKey, nameLabels } from "./dns_name.ts";
import { ipFamily, normalizeIp } from "./ip_address.ts";

/** One line of a hosts file: an address and its names, the first one canonical. */
export interface HostsEntry {
  /** The address, in canonical text (`::1`, `127.0.0.1`). */
  readonly address: string;
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The names, as written; the first is the canonical name. */
  readonly names: readonly string[];
}

/**
 * The entries of a hosts file, looked up by name (addresses, in file
 * order) and by address (names): what {@linkcode DnsBase} consults before
 * asking a nameserver, and what examples/dns-example.ts serves as a zone.
 *
 * @example
 * ```ts
 * import { HostsFile } from "@levent/levent/dns";
 * const hosts = HostsFile.parse("127.0.0.1 localhost\n192.0.2.7 web.example.test web # a comment\n");
 * console.log(hosts.addresses("WEB.example.test", 4)); // [ "192.0.2.7" ]
 * console.log(hosts.names("192.0.2.7")); // [ "web.example.test", "web" ]
 * ```
 */
export class HostsFile {
  #entries: HostsEntry[] = [];
  #byName = new Map<string, HostsEntry[]>();
  #byAddress = new Map<string, string[]>();

  /**
   * Read hosts-file text: one address per line followed by its names;
   * `#` starts a comment; lines whose address or names do not parse are
   * skipped, as the C library skips them.
   */
  static parse(text: string): HostsFile {
    const hosts = new HostsFile();
    hosts.add(text);
    return hosts;
  }

  /** Add the entries of more hosts-file text (libevent `evdns_base_load_hosts` adds too). */
  add(text: string): void {
    for (const raw of text.split(/\r?\n/)) {
      const hash = raw.indexOf("#");
      const fields = (hash < 0 ? raw : raw.slice(0, hash)).split(/[ \t]+/).filter((f) => f !== "");
      if (fields.length < 2) continue;
      const address = normalizeIp(fields[0]);
      if (address === null) continue;
      const names = fields.slice(1).filter((n) => typeof nameLabels(n) !== "string");
      if (names.length === 0) continue;
      this.addEntry({ address, family: ipFamily(address) === 6 ? 6 : 4, names });
    }
  }

  /** Add one entry. */
  addEntry(entry: HostsEntry): void {
    this.#entries.push(entry);
    for (const name of entry.names) {
      const key = nameKey(name);
      const list = this.#byName.get(key);
      if (list === undefined) this.#byName.set(key, [entry]);
      else list.push(entry);
    }
    const list = this.#byAddress.get(entry.address);
    if (list === undefined) this.#byAddress.set(entry.address, [...entry.names]);
    else list.push(...entry.names);
  }

  /** Forget every entry (libevent `evdns_base_clear_host_addresses`). */
  clear(): void {
    this.#entries = [];
    this.#byName.clear();
    this.#byAddress.clear();
  }

  /** How many entries (lines) there are. */
  get size(): number {
    return this.#entries.length;
  }

  /** Whether `name` (any case, with or without a final dot) has an entry of any family. */
  has(name: string): boolean {
    return this.#byName.has(nameKey(name));
  }

  /** The addresses of `name` of `family` (0: both), in file order, without repeats. */
  addresses(name: string, family: 0 | 4 | 6 = 0): string[] {
    const list = this.#byName.get(nameKey(name));
    if (list === undefined) return [];
    const out: string[] = [];
    for (const e of list) if ((family === 0 || e.family === family) && !out.includes(e.address)) out.push(e.address);
    return out;
  }

  /** The canonical name of `name` (the first name on its first line), or undefined without an entry. */
  canonicalName(name: string): string | undefined {
    return this.#byName.get(nameKey(name))?.[0].names[0];
  }

  /** The names of `address` (in any IP text form), the first line's canonical name first. */
  names(address: string): string[] {
    const key = normalizeIp(address);
    return key === null ? [] : [...(this.#byAddress.get(key) ?? [])];
  }

  /** Every entry, in order. */
  entries(): HostsEntry[] {
    return [...this.#entries];
  }
}
