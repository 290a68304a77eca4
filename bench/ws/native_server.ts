/**
 * The WebSocket echo benchmark's runtime-own server: Bun.serve's websocket
 * handler on Bun, Deno.serve with Deno.upgradeWebSocket on Deno.
 *
 *   bun bench/ws/native_server.ts [PORT] | deno run -A bench/ws/native_server.ts [PORT]
 */
// deno-lint-ignore-file no-explicit-any
const g = globalThis as any;
const port = Number(g.process?.argv?.[2] ?? g.Deno?.args?.[0] ?? 0);
if (g.Bun !== undefined) {
  const server = g.Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch(req: Request, srv: any) {
      if (srv.upgrade(req)) return;
      return new Response("not a websocket", { status: 400 });
    },
    websocket: {
      message(ws: any, data: any) {
        ws.send(data);
      },
      maxPayloadLength: 64 << 20,
    },
  });
  console.log(`listening on ws://127.0.0.1:${server.port}`);
} else if (g.Deno !== undefined) {
  g.Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }: { port: number }) => console.log(`listening on ws://127.0.0.1:${port}`),
  }, (req: Request) => {
    const { socket, response } = g.Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev: MessageEvent) => socket.send(ev.data);
    return response;
  });
} else {
  throw new Error("native_server.ts runs on Bun or Deno (Node's peer is ws_server.mjs)");
}
