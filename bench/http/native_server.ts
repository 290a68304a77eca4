// The runtime's own HTTP server answering `Hello, World!` (the peer levent's
// HTTP server is measured against): Deno.serve, Bun.serve or node:http.
//
//   deno run -A bench/http/native_server.ts PORT | bun ... | node ...
//
// Prints `listening on http://127.0.0.1:PORT` once bound.
import http from "node:http";
import process from "node:process";

const port = Number(process.argv[2] ?? "0");
const BODY = "Hello, World!";
const g = globalThis as {
  Deno?: {
    serve(
      o: { port: number; hostname: string; onListen(a: { port: number }): void },
      h: () => Response,
    ): unknown;
  };
  Bun?: { serve(o: { port: number; hostname: string; fetch(): Response }): { port: number } };
};

if (g.Deno !== undefined) {
  g.Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: (a) => console.log(`listening on http://127.0.0.1:${a.port}`),
  }, () => new Response(BODY, { headers: { "content-type": "text/plain" } }));
} else if (g.Bun !== undefined) {
  const server = g.Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: () => new Response(BODY, { headers: { "content-type": "text/plain" } }),
  });
  console.log(`listening on http://127.0.0.1:${server.port}`);
} else {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
    res.end(BODY);
  });
  server.listen(port, "127.0.0.1", () => {
    const a = server.address();
    console.log(`listening on http://127.0.0.1:${typeof a === "object" && a ? a.port : port}`);
  });
}
