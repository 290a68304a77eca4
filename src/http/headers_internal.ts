/**
 * A way into HttpHeaders' private list, for the server and the client in
 * this folder (the parser's flat `[name, value, ...]` arrays are wrapped
 * without copying). Not part of the public API: `mod.ts` does not export
 * this file. headers.ts fills the hooks in a static block.
 *
 * @module
 */
import type { HttpHeaders } from "./headers.ts";

/** HttpHeaders' flat `[name, value, ...]` list, read and wrapped without copying. */
export const headerHooks: {
  list: (headers: HttpHeaders) => string[];
  wrap: (list: string[]) => HttpHeaders;
} = {
  list: () => [],
  wrap: () => {
    throw new Error("headers.ts has not run");
  },
};
