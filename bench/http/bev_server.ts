// levent's socket layer alone: a BufferEvent per connection that counts
// request ends (`\r\n\r\n`) in its input and answers each with the canned
// response the raw server writes. The gap between this and raw_server.ts is
// the EventBase/BufferEvent/adapter cost; the gap between levent_server.ts
// and this is the HTTP layer's.
//
//   deno run -A bench/http/bev_server.ts PORT | bun ... | node ...
import process from "node:process";
import { BufferEvent, EV_READ, EV_SIGNAL, EV_WRITE, Event, EventBase, Listener } from "../../mod.ts";

const port = Number(process.argv[2] ?? "0");
const RESPONSE = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!");
const END = new Uint8Array([13, 10, 13, 10]);

const base = new EventBase();
const listener = await Listener.bind(base, { host: "127.0.0.1", port }, (_l, socket) => {
  const bev = BufferEvent.socket(base, socket);
  bev.setCallbacks(
    (b) => {
      const input = b.input;
      for (;;) {
        const at = input.search(END);
        if (at.pos < 0) return;
        input.drain(at.pos + 4);
        b.output.add(RESPONSE);
      }
    },
    null,
    null,
  );
  bev.enable(EV_READ | EV_WRITE);
});
console.log(`listening on http://127.0.0.1:${listener.address.port}`);
new Event(base, "SIGINT", EV_SIGNAL, () => base.loopBreak()).add();
await base.dispatch();
process.exit(0);
