/**
 * levent: libevent's design in TypeScript, one core for Deno, Bun and Node.
 *
 * Importing this module registers the current runtime's adapter as the
 * default platform, so `new EventBase()` works without options.
 *
 * @example
 * ```ts
 * import { EventBase } from "@levent/levent";
 * const base = new EventBase();
 * base.once(null, 0, () => console.log("tick"), 10);
 * await base.dispatch();
 * ```
 *
 * @module
 */
import { autoPlatform } from "./adapters/auto.ts";
import { setDefaultPlatform } from "./src/event/default_platform.ts";

setDefaultPlatform(autoPlatform());

export * from "./src/event/mod.ts";
export * from "./src/buffer/mod.ts";
export * from "./src/http/mod.ts";
export * from "./src/ws/mod.ts";
export * from "./src/rpc/mod.ts";
export * from "./src/thread/mod.ts";
export * from "./src/dns/mod.ts";
export type * from "./src/platform.ts";
export { autoPlatform } from "./adapters/auto.ts";
