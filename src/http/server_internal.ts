/**
 * Ways into the private state of the http classes, for the other modules of
 * this folder. Not part of the public API: `mod.ts` does not export this
 * file. Each class fills its hooks in a static block, so they are set as
 * soon as its module has run.
 *
 * @module
 */
import type { ServerRequest } from "./server_request.ts";
import type { RequestCore } from "./server_connection.ts";

/** Make the public face of a request. */
export const requestHooks: { make: (core: RequestCore) => ServerRequest } = {
  make: () => {
    throw new Error("server_request.ts has not run");
  },
};
