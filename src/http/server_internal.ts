/**
 * Ways into the private state of the http classes, for the other modules of
 * this folder. Not part of the public API: `mod.ts` does not export this
 * file. Each class fills its hooks in a static block, so they are set as
 * soon as its module has run.
 *
 * @module
 */
import type { HttpHeaders } from "./headers.ts";
import type { ServerRequest } from "./server_request.ts";
import type { RequestCore } from "./server_connection.ts";

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

/** Make the public face of a request. */
export const requestHooks: { make: (core: RequestCore) => ServerRequest } = {
  make: () => {
    throw new Error("server_request.ts has not run");
  },
};
