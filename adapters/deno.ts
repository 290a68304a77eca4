import type { Platform } from "../src/platform.ts";
/** Placeholder being replaced by the deno adapter. */
export function denoPlatform(): Platform {
  throw new Error("the deno adapter is not written yet");
}
