import type { Platform } from "../src/platform.ts";
/** Placeholder being replaced by the bun adapter. */
export function bunPlatform(): Platform {
  throw new Error("the bun adapter is not written yet");
}
