/**
 * What every example program shares: strict flag parsing with a one-line
 * error and exit 2 (EXAMPLES.md's contract), the "listening on" line, and
 * a clean exit that loses no output.
 *
 * @module
 */
import { writeSync } from "node:fs";
import process from "node:process";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { EV_SIGNAL, Event, type EventBase, type EventSource, type SignalName } from "../../mod.ts";

/** The program's name, for error lines: the script's file name. */
export function programName(): string {
  const script = process.argv[1] ?? "example";
  return script.slice(script.lastIndexOf("/") + 1);
}

/**
 * End the program with exit status `code` once everything it wrote has
 * left: every example's last step. It sets `process.exitCode` and lets the
 * runtime exit on its own once nothing is left to run, which Deno, Bun and
 * Node all do only after their queued stdout and stderr bytes are written,
 * however slowly a pipe's reader drains them. `process.exit()` does not
 * wait: Bun ran it while its pipe writer still held the tail of a body a
 * slow reader was draining, and the tail was lost. No timer bounds the
 * wait: it would fire while a slow reader is still owed bytes; the examples
 * close every handle they open, so only output can hold the process.
 */
export function exitWhenDone(code: number): void {
  process.exitCode = code;
}

/**
 * Print `message` as one line on stderr and exit with status 2 (a usage
 * error). It exits at once, so the line is written synchronously: nothing
 * is left queued for the exit to lose (nothing else has been written when a
 * command line is checked).
 */
export function usageError(message: string): never {
  writeSync(2, `${programName()}: ${message}\n`);
  process.exit(2);
}

/** The parsed flags and positionals of {@linkcode parseCli}. */
export interface ParsedCli<T extends ParseArgsConfig["options"]> {
  /** Flag values by name. */
  values: {
    [K in keyof T]?: T[K] extends { type: "boolean" } ? boolean : T[K] extends { multiple: true } ? string[] : string;
  };
  /** Arguments that are not flags. */
  positionals: string[];
}

/**
 * Parse the command line strictly: an unknown flag or a missing value is a
 * usage error naming it. `--help` (or `-h`) prints `usage` on stdout and
 * exits 0.
 */
export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  options: T,
  allowPositionals: boolean,
  usage: string,
): ParsedCli<T> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    writeSync(1, usage.endsWith("\n") ? usage : `${usage}\n`);
    process.exit(0);
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as ParsedCli<T>["values"], positionals };
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
  }
}

/** A port flag's value as a number, or a usage error naming the flag. */
export function portFlag(value: string | undefined, fallback: number, flag = "--port"): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) usageError(`${flag} must be a port number 0-65535, got "${value}"`);
  return port;
}

/** A `HOST:PORT` flag's value, or a usage error naming the flag. */
export function hostPortFlag(value: string | undefined, flag: string): { host: string; port: number } {
  if (value === undefined) usageError(`${flag} HOST:PORT is required`);
  const colon = value.lastIndexOf(":");
  if (colon <= 0) usageError(`${flag} must be HOST:PORT, got "${value}"`);
  let host = value.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: portFlag(value.slice(colon + 1), 0, flag) };
}

/** Print the one stdout line outside programs wait for: `listening on SCHEME://HOST:PORT`. */
export function announce(scheme: string, host: string, port: number): void {
  const shown = host.includes(":") ? `[${host}]` : host;
  process.stdout.write(`listening on ${scheme}://${shown}:${port}\n`);
}

/** Write a log line to stderr. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * On the first SIGINT or SIGTERM (watched with libevent-style signal events
 * on `base`), log it, stop watching both, and call `stop(signal)`, which
 * should stop accepting and let the loop run out: what sample/*.c do with
 * `evsignal_new(base, SIGINT, signal_cb, base)`.
 */
export function onStopSignal(base: EventBase, stop: (signal: SignalName) => void): void {
  const events: Event[] = [];
  const fire = (signal: EventSource): void => {
    log(`caught ${String(signal)}; shutting down`);
    for (const ev of events) ev.del();
    stop(signal as SignalName);
  };
  for (const name of ["SIGINT", "SIGTERM"] satisfies SignalName[]) {
    const ev = new Event(base, name, EV_SIGNAL, fire);
    ev.add();
    events.push(ev);
  }
}
