/**
 * The body a Deno `Response` holds whole, read without its stream: Deno keeps
 * the string a Response was made with alone (no init, or `Response.json`)
 * behind the own symbol `lazy static body` until anything else is asked of
 * it, and otherwise the string or bytes on its inner response (behind the
 * own symbol `response`: `body.source`, beside `body.streamOrStatic`, which
 * stays a static holder until a stream is asked for). Reading `response.body` would build a ReadableStream around bytes
 * already there; serve() sends them at once instead. These are Deno's
 * internals, so the shape is checked on a probe Response when this module
 * loads; if it is not what is expected, {@linkcode wholeBodyOf} is null and
 * serve() reads the stream, as on the other runtimes.
 *
 * @module
 */

interface InnerBody {
  readonly streamOrStatic: unknown;
  readonly source: unknown;
}

/** An own symbol of a Deno Response, found by its description, or undefined. */
function slot(description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(new Response(null)).find((s) => s.description === description);
}

/** Where a Deno Response holds its inner response, and a string body not yet made into one. */
const INNER: symbol | undefined = slot("response");
const LAZY: symbol | undefined = slot("lazy static body");

/** A string or byte body not yet read, or undefined. */
function wholeBody(response: Response): string | Uint8Array | undefined {
  const slots = response as unknown as Record<symbol, unknown>;
  const lazy = slots[LAZY as symbol];
  if (typeof lazy === "string") return lazy;
  const inner = slots[INNER as symbol] as { body: InnerBody | null } | undefined;
  const body = inner?.body;
  if (body === null || body === undefined) return undefined;
  const holder = body.streamOrStatic as { consumed?: unknown } | null;
  if (holder === null || typeof holder !== "object" || holder instanceof ReadableStream || holder.consumed !== false) {
    return undefined;
  }
  const source = body.source;
  if (typeof source === "string" || source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return undefined;
}

/** Whether the probes give what Deno's Response is expected to hold. */
function shapeHolds(): boolean {
  if (INNER === undefined || LAZY === undefined) return false;
  try {
    const used = new Response("used");
    void used.text();
    return wholeBody(new Response("ab")) === "ab" && wholeBody(new Response("cd", { status: 201 })) === "cd" &&
      String(wholeBody(new Response(new Uint8Array([1, 2])))) === "1,2" &&
      wholeBody(new Response(new ReadableStream())) === undefined && wholeBody(used) === undefined;
  } catch {
    return false;
  }
}

/** {@linkcode Platform.wholeBody} for Deno, or null where Deno's Response is not shaped as expected. */
export const wholeBodyOf: ((response: Response) => string | Uint8Array | undefined) | null = shapeHolds()
  ? wholeBody
  : null;
