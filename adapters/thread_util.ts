/**
 * Argument helpers shared by the threads of every adapter
 * (`node_threads.ts`, `web_threads.ts`).
 *
 * @module
 */

/** A TypeError with a `code`, as adapter errors carry. */
export type CodedTypeError = TypeError & { code: string };

/** A TypeError with the contract's code `EINVAL`, for an argument the runtime refuses. */
export function invalidArgument(message: string, cause?: unknown): CodedTypeError {
  const err = new TypeError(message, cause === undefined ? undefined : { cause }) as CodedTypeError;
  err.code = "EINVAL";
  return err;
}

/** `moduleUrl` as a URL object. */
export function moduleUrlOf(moduleUrl: string | URL): URL {
  if (moduleUrl instanceof URL) return moduleUrl;
  try {
    return new URL(moduleUrl);
  } catch (err) {
    throw invalidArgument(`not a module URL: ${JSON.stringify(String(moduleUrl))}`, err);
  }
}
