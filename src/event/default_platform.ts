/**
 * The platform new EventBases use when none is given. `mod.ts` registers the
 * current runtime's adapter here; code importing only `./event` can register
 * one itself or pass `{ platform }` explicitly.
 *
 * @module
 */
import { typeError } from "../check.ts";
import type { Platform } from "../platform.ts";

let current: Platform | undefined;

/**
 * Make `platform` the default for EventBases created without one.
 *
 * @example
 * ```ts
 * import { setDefaultPlatform } from "@levent/levent/event";
 * import { nodePlatform } from "@levent/levent/adapters/node";
 * setDefaultPlatform(nodePlatform());
 * ```
 */
export function setDefaultPlatform(platform: Platform): void {
  if (platform === null || typeof platform !== "object" || typeof platform.connect !== "function") {
    throw typeError("platform", "a Platform", platform);
  }
  current = platform;
}

/** The registered default platform, if any. */
export function getDefaultPlatform(): Platform | undefined {
  return current;
}
