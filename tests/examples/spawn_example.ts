/**
 * Run an example program as its own process on the runtime running the
 * tests, the way outside programs meet it: Deno and Bun run the source;
 * Node needs type stripping (>= 23.6), so under an older Node the toolchain's
 * Node 26 (node_modules/.bin/node) runs it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { concat, deferred, within } from "../util.ts";

/** The repository root: the nearest folder above this file holding deno.json (tests also run from npm/esm/tests). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("deno.json not found above the tests");
    dir = up;
  }
  return dir;
}

/** The command that runs a .ts example on this runtime, or undefined when none can. */
function runner(): string[] | undefined {
  const g = globalThis as { Deno?: { execPath(): string }; Bun?: unknown };
  if (g.Deno !== undefined) return [g.Deno.execPath(), "run", "-A"];
  if (g.Bun !== undefined) return [process.execPath];
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major > 23 || (major === 23 && minor >= 6)) return [process.execPath];
  const toolchainNode = join(repoRoot(), "node_modules", ".bin", "node");
  return existsSync(toolchainNode) ? [toolchainNode] : undefined;
}

/** Why examples cannot run here, or undefined when they can (for test skips). */
export function cannotRunExamples(): string | undefined {
  return runner() === undefined ? "no Node >= 23.6 to run TypeScript examples" : undefined;
}

/** A running example. */
export interface RunningExample {
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Send a signal. */
  kill(signal: "SIGINT" | "SIGTERM" | "SIGKILL"): void;
  /** True once the process has exited. */
  exitedAlready(): boolean;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

interface DenoCommandApi {
  Command: new (cmd: string, options: { args: string[]; stdout: "piped"; stderr: "piped" }) => {
    spawn(): {
      pid: number;
      stdout: ReadableStream<Uint8Array>;
      stderr: ReadableStream<Uint8Array>;
      status: Promise<{ code: number; signal: string | null }>;
      kill(signal: string): void;
    };
  };
}

async function collect(stream: ReadableStream<Uint8Array>, sink: (text: string) => void): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink(dec.decode(chunk, { stream: true }));
}

/** Start `examples/NAME.ts ARGS`. */
export function startExample(name: string, args: string[]): RunningExample {
  const cmd = runner();
  if (cmd === undefined) throw new Error("no runtime can run the examples here");
  const argv = [...cmd.slice(1), join(repoRoot(), "examples", `${name}.ts`), ...args];
  let out = "";
  let err = "";
  let done = false;
  const exited = deferred<number | string>();
  const finish = (status: number | string): void => {
    done = true;
    exited.resolve(status);
  };
  let pid: number;
  let signal: (sig: "SIGINT" | "SIGTERM" | "SIGKILL") => void;
  const deno = (globalThis as { Deno?: DenoCommandApi }).Deno;
  if (deno !== undefined) {
    // Deno's node:child_process reports the signal it sent, not how the child exited.
    const child = new deno.Command(cmd[0], { args: argv, stdout: "piped", stderr: "piped" }).spawn();
    const streams = Promise.all([collect(child.stdout, (t) => (out += t)), collect(child.stderr, (t) => (err += t))]);
    child.status.then(async (st) => {
      await streams;
      finish(st.signal ?? st.code);
    });
    pid = child.pid;
    signal = (sig) => child.kill(sig);
  } else {
    const child: ChildProcess = spawn(cmd[0], argv, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (b: Uint8Array) => (out += new TextDecoder().decode(b)));
    child.stderr!.on("data", (b: Uint8Array) => (err += new TextDecoder().decode(b)));
    child.on("close", (code, sig) => finish(code ?? sig ?? -1));
    pid = child.pid!;
    signal = (sig) => child.kill(sig);
  }
  return {
    pid,
    stdout: () => out,
    stderr: () => err,
    kill: (sig) => {
      if (!done) signal(sig);
    },
    exitedAlready: () => done,
    exited: exited.promise,
  };
}

/** Wait for the `listening on SCHEME://HOST:PORT` line and return the port. */
export async function listeningPort(ex: RunningExample, ms = 20000): Promise<number> {
  const wait = (async () => {
    for (;;) {
      const m = ex.stdout().match(/^listening on \w+:\/\/[^\s]+:(\d+)$/m);
      if (m) return Number(m[1]);
      if (ex.exitedAlready()) throw new Error(`example exited early: ${ex.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return await within(wait, ms, "the example's listening line");
}

/** How {@linkcode runToSlowReader} drains the example's stdout. */
export interface SlowReader {
  /** The reader takes this many bytes... */
  readonly pieceBytes: number;
  /** ...then pauses this many ms. */
  readonly pauseMs: number;
}

/** An example run to its end: exit status, every stdout byte, and stderr. */
export interface FinishedExample {
  code: number | string;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Run `examples/NAME.ts ARGS` to its end with its stdout a pipe that this
 * process drains slowly, as `example | slow-consumer` would: each piece
 * that arrives stops the reading for `pauseMs` per `pieceBytes` of it, so
 * the pipe stays full and the example still has output queued when it is
 * done. `input`, when given, is written to its stdin, which then ends.
 * Resolves once it exited and its stdout closed; fails after `ms`.
 */
export async function runToSlowReader(
  name: string,
  args: string[],
  reader: SlowReader,
  ms = 20000,
  input?: Uint8Array,
): Promise<FinishedExample> {
  const cmd = runner();
  if (cmd === undefined) throw new Error("no runtime can run the examples here");
  const child = spawn(cmd[0], [...cmd.slice(1), join(repoRoot(), "examples", `${name}.ts`), ...args], {
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  // The input, when given, is the example's whole stdin.
  if (input !== undefined) child.stdin!.end(input);
  let stderr = "";
  child.stderr!.on("data", (b: Uint8Array) => (stderr += new TextDecoder().decode(b)));
  const pieces: Uint8Array[] = [];
  const stdout = child.stdout!;
  stdout.on("data", (piece: Uint8Array) => {
    pieces.push(piece);
    stdout.pause();
    setTimeout(() => stdout.resume(), Math.ceil(piece.length / reader.pieceBytes) * reader.pauseMs);
  });
  // 'close' comes once the process exited and its stdout and stderr ended.
  const exited = new Promise<number | string>((resolve) =>
    child.on("close", (code, sig) => resolve(code ?? sig ?? -1))
  );
  try {
    const code = await within(exited, ms, `${name} ${args.join(" ")} into a slow reader`);
    return { code, stdout: concat(pieces), stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
