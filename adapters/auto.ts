/**
 * Picks the platform adapter for the runtime this code runs on: Deno, Bun,
 * or Node (the default).
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
import { bunPlatform } from "./bun.ts";
import { denoPlatform } from "./deno.ts";
import { nodePlatform } from "./node.ts";

/**
 * The adapter for the current runtime, detected from its globals: Deno's
 * when `Deno` is defined, Bun's when `Bun` is, else Node's.
 */
export function autoPlatform(): Platform {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return denoPlatform();
  if (g.Bun !== undefined) return bunPlatform();
  return nodePlatform();
}
