// What the benchmark runners share (http/run.mjs, http/idle_memory.mjs,
// ws/run.mjs, ws/idle_memory.mjs, threads/run.mjs): the runtimes' command
// lines from the dev toolchain, starting a server process and learning its
// port from the `listening on SCHEME://HOST:PORT` line it prints, and the
// statistics the tables quote. JavaScript, so any Node runs the runners.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The dev toolchain's binaries (deno, bun, node@26). */
export const BIN = join(ROOT, "node_modules", ".bin");
/** How each runtime runs a program: the command and its arguments before the file. */
export const RUN = {
  deno: [join(BIN, "deno"), "run", "-A"],
  bun: [join(BIN, "bun")],
  node: [join(BIN, "node")],
};

/**
 * Run `file` with `runtime` (and `args` after it), pinned to `cpus` with
 * taskset when given, and resolve with the child and its port once it
 * prints its `listening on` line; reject if it exits first or stays silent
 * for 30 s. `what` names it in those errors.
 *
 * @param {{ runtime: keyof typeof RUN, file: string, args?: string[], cpus?: string, what: string }} options
 * @returns {Promise<{ child: import("node:child_process").ChildProcess, port: number }>}
 */
export function startListening({ runtime, file, args = [], cpus, what }) {
  const argv = [...RUN[runtime], file, ...args];
  const child = cpus === undefined
    ? spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] })
    : spawn("taskset", ["-c", cpus, ...argv], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} did not start within 30 s: ${out}`));
    }, 30000);
    child.stdout.on("data", (b) => {
      out += b;
      // The port complete: a digit run followed by anything else (the line may arrive in pieces).
      const m = out.match(/listening on [a-z]+:\/\/\S+:(\d+)\D/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${out}`));
    });
  });
}

/**
 * The median of `xs` (the mean of the middle two for an even count).
 *
 * @param {number[]} xs
 * @returns {number}
 */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * `x` in thousands with one decimal: `59.6k`.
 *
 * @param {number} x
 * @returns {string}
 */
export function thousands(x) {
  return `${(x / 1000).toFixed(1)}k`;
}

/**
 * The resident memory of process `pid` in bytes (Linux: /proc/PID/status).
 *
 * @param {number} pid
 * @returns {number}
 */
export function residentBytes(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
}

/**
 * The command-line options every load runner takes (BENCH.md's method):
 * passes, seconds measured, seconds of warm-up, connections; spread into
 * parseArgs's options beside the runner's own.
 *
 * @param {number} connections the default connection count
 */
export function passOptions(connections) {
  return {
    passes: { type: "string", default: "3" },
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: String(connections) },
  };
}
