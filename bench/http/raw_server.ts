// The raw-TCP ceiling: the runtime's fastest socket API (Deno.listen,
// Bun.listen, node:net) counting `\r\n\r\n` and writing a canned response per
// request. No JavaScript HTTP stack can beat this on that runtime's sockets.
//
//   deno run -A bench/http/raw_server.ts PORT | bun ... | node ...
import net from "node:net";
import process from "node:process";

const port = Number(process.argv[2] ?? "0");
const enc = new TextEncoder();
const RESPONSE = enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!");

/** Count request ends (\r\n\r\n) across chunk boundaries; `state` is how much of it the last chunk ended with. */
function countRequests(bytes: Uint8Array, state: { matched: number }): number {
  let n = 0;
  let m = state.matched;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === (m === 0 || m === 2 ? 13 : 10)) {
      if (++m === 4) {
        n++;
        m = 0;
      }
    } else m = b === 13 ? 1 : 0;
  }
  state.matched = m;
  return n;
}

function responses(n: number): Uint8Array {
  if (n === 1) return RESPONSE;
  const out = new Uint8Array(RESPONSE.length * n);
  for (let i = 0; i < n; i++) out.set(RESPONSE, i * RESPONSE.length);
  return out;
}

interface DenoConn {
  read(b: Uint8Array): Promise<number | null>;
  write(b: Uint8Array): Promise<number>;
  close(): void;
}
interface BunSocket {
  data: { matched: number };
  write(b: Uint8Array): number;
}
const g = globalThis as {
  Deno?: { listen(o: { port: number; hostname: string }): AsyncIterable<DenoConn> & { addr: { port: number } } };
  Bun?: {
    listen(o: {
      port: number;
      hostname: string;
      socket: { open(s: BunSocket): void; data(s: BunSocket, b: Uint8Array): void };
    }): { port: number };
  };
};

if (g.Deno !== undefined) {
  const listener = g.Deno.listen({ port, hostname: "127.0.0.1" });
  console.log(`listening on http://127.0.0.1:${listener.addr.port}`);
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(65536);
      const state = { matched: 0 };
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          const k = countRequests(buf.subarray(0, n), state);
          if (k > 0) {
            const out = responses(k);
            let off = 0;
            while (off < out.length) off += await conn.write(out.subarray(off));
          }
        }
      } catch {
        // Peer reset: done.
      }
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    })();
  }
} else if (g.Bun !== undefined) {
  const server = g.Bun.listen({
    port,
    hostname: "127.0.0.1",
    socket: {
      open(s) {
        s.data = { matched: 0 };
      },
      data(s, bytes) {
        const k = countRequests(bytes, s.data);
        if (k > 0) s.write(responses(k));
      },
    },
  });
  console.log(`listening on http://127.0.0.1:${server.port}`);
} else {
  const server = net.createServer((socket) => {
    const state = { matched: 0 };
    socket.on("data", (bytes: Uint8Array) => {
      const k = countRequests(bytes, state);
      if (k > 0) socket.write(responses(k));
    });
    socket.on("error", () => {});
  });
  server.listen(port, "127.0.0.1", () => {
    const a = server.address();
    console.log(`listening on http://127.0.0.1:${typeof a === "object" && a ? a.port : port}`);
  });
}
