import type { Platform } from "../src/platform.ts";
/** Placeholder being replaced by the node adapter. */
export function nodePlatform(): Platform {
  throw new Error("the node adapter is not written yet");
}
