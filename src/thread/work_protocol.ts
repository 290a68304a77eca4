/**
 * The messages a WorkQueue and its runner threads (`adapters/work_runner.ts`)
 * exchange. Internal to the thread module.
 *
 * @module
 */
import type { Transferable } from "../platform.ts";

/** The runner's initial data. */
export interface WorkRunnerData {
  /** The work module to import. */
  readonly moduleUrl: string;
}

/** Queue to runner: run `name(...args)` as job `id`. */
export type JobMessage = readonly [id: number, name: string, args: readonly unknown[]];

/** The job succeeded: the payload is its result. */
export const RESULT_OK = 1;
/** The job failed: the payload is a {@linkcode SerializedError}. */
export const RESULT_ERROR = 0;
/** The work module could not be loaded (job id 0): the payload is a {@linkcode SerializedError}. */
export const LOAD_FAILED = 2;

/** Runner to queue: how job `id` ended. */
export type ResultMessage = readonly [id: number, kind: number, payload: unknown];

/** An error as it crosses threads: its name, message, stack and code. */
export interface SerializedError {
  /** The error's name (`TypeError`...). */
  readonly name: string;
  /** Its message. */
  readonly message: string;
  /** Its stack, as the worker saw it. */
  readonly stack?: string;
  /** Its `code`, when it had a string one. */
  readonly code?: string;
}

/** `err` as plain data (Errors are not cloned alike by every runtime). */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, stack: err.stack, code: typeof code === "string" ? code : undefined };
}

/** An Error rebuilt from {@linkcode serializeError}'s data, with its name, code and the worker's stack. */
export function deserializeError(data: unknown): Error & { code?: string } {
  const info =
    (typeof data === "object" && data !== null ? data : { name: "Error", message: String(data) }) as SerializedError;
  const err = new Error(info.message) as Error & { code?: string };
  err.name = info.name;
  if (info.stack !== undefined) err.stack = info.stack;
  if (info.code !== undefined) err.code = info.code;
  return err;
}

/** What of a result moves instead of being copied: a whole ArrayBuffer, or the buffer a typed array fills. */
export function transferOf(result: unknown): Transferable[] | undefined {
  if (result instanceof ArrayBuffer) return [result];
  if (
    ArrayBuffer.isView(result) && result.buffer instanceof ArrayBuffer && result.byteOffset === 0 &&
    result.byteLength === result.buffer.byteLength
  ) return [result.buffer];
  return undefined;
}
