/**
 * Picks the platform adapter for the runtime this code runs on: Deno, Bun,
 * or Node (the default).
 *
 * Only that runtime's adapter is loaded: the module imports it dynamically,
 * by a top-level `await`, so `autoPlatform()` itself stays synchronous (an
 * importer runs once the adapter is in). The npm package has no top-level
 * await (its CommonJS build cannot): there the `deno`, `bun` and `node`
 * conditions of its `#levent/auto` import pick the adapter instead.
 *
 * @example
 * ```ts
 * import { autoPlatform } from "@levent/levent/adapters/auto";
 * const platform = autoPlatform();
 * console.log(platform.name); // "deno", "bun" or "node"
 * ```
 *
 * @module
 */
import type { Platform } from "../src/platform.ts";

/** The runtime, detected from its globals: Deno's when `Deno` is defined, Bun's when `Bun` is, else Node. */
const runtime: "deno" | "bun" | "node" = (() => {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
})();

const select: () => Platform = runtime === "deno"
  ? (await import("./deno.ts")).denoPlatform
  : runtime === "bun"
  ? (await import("./bun.ts")).bunPlatform
  : (await import("./node.ts")).nodePlatform;

/**
 * The adapter for the current runtime: `denoPlatform()` on Deno,
 * `bunPlatform()` on Bun, else `nodePlatform()`. Only that adapter's module
 * is loaded. Returns the same instance on every call.
 *
 * @returns The Platform for this runtime.
 */
export function autoPlatform(): Platform {
  return select();
}
