/** Helpers shared by the test files: bounded waits and small fixtures. */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { TcpSocket } from "../src/platform.ts";

/** Reject after `ms` with a message naming what was awaited, so no test hangs. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its resolve and reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** Make a {@linkcode Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Concatenate byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Wait `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The byte at `index` of the deterministic test pattern used for large transfers. */
export function patternByte(index: number): number {
  return (index * 31 + (index >>> 13)) & 0xff;
}

/** Fill `out` with the test pattern starting at stream offset `offset`. */
export function fillPattern(out: Uint8Array, offset: number): Uint8Array {
  for (let i = 0; i < out.length; i++) out[i] = patternByte(offset + i);
  return out;
}

/** A small deterministic PRNG (mulberry32): `rnd(n)` is an integer in [0, n), the same on every runtime. */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/**
 * Start `socket`, send `request` if given, and resolve with the text it
 * receives, once the peer has closed or the text matches `until`. EOF is
 * answered with end(); the socket is closed before this resolves.
 */
export async function exchange(socket: TcpSocket, request?: string, until?: RegExp, ms = 10000): Promise<string> {
  const chunks: Uint8Array[] = [];
  const done = deferred<string>();
  const text = (): string => new TextDecoder().decode(concat(chunks));
  socket.start({
    data(bytes, owned) {
      chunks.push(owned ? bytes : bytes.slice());
      if (until?.test(text())) done.resolve(text());
    },
    end: () => socket.end(),
    drain() {},
    error() {},
    close: () => done.resolve(text()),
  });
  if (request !== undefined) socket.write(new TextEncoder().encode(request));
  try {
    return await within(done.promise, ms, "the peer's reply");
  } finally {
    socket.close();
  }
}

/** What a program run by {@linkcode runTestProgram} did: its exit code and output. */
export interface ProgramRun {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Run the test program `name` beside the test at `from` (its
 * import.meta.url: `./name.ts`, or `./name.js` in the npm build) with `args`,
 * as its own process on the runtime running the tests; resolve once it
 * exits, and fail (killing it) if it has not within `ms`.
 */
export function runTestProgram(from: string, name: string, args: string[], ms = 15000): Promise<ProgramRun> {
  const program = fileURLToPath(new URL(`./${name}${from.endsWith(".js") ? ".js" : ".ts"}`, from));
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const [cmd, ...pre] = deno !== undefined ? [deno.execPath(), "run", "-A"] : [process.execPath];
  const child = spawn(cmd, [...pre, program, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Uint8Array) => (out += new TextDecoder().decode(b)));
  child.stderr.on("data", (b: Uint8Array) => (err += new TextDecoder().decode(b)));
  const done = new Promise<ProgramRun>((resolve) => {
    child.on("close", (code) => resolve({ code, out, err }));
  });
  return within(done, ms, `${name} ${args.join(" ")} to exit (so far: ${JSON.stringify(out)})`).catch((e) => {
    child.kill("SIGKILL");
    throw e;
  });
}

/** Run `fn` with console.error recorded instead of printed; resolves with the lines it was given. */
export async function printedBy(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    lines.push(args.map((a) => a instanceof Error ? `${a.name}: ${a.message}` : String(a)).join(" "));
  };
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}
