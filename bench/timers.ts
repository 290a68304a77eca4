// Timer benchmark: EventBase's min-heap timers against the runtime's own
// setTimeout, in one process, same run. Prints one JSON line per case.
//
//   deno run -A bench/timers.ts | bun bench/timers.ts | node bench/timers.ts
//
// Cases: add then cancel 1,000,000 timers; add 100,000 timers due within
// 1 ms and wait until every one has fired.
import process from "node:process";
import { autoPlatform } from "../adapters/auto.ts";
import { Event, EventBase } from "../src/event/mod.ts";

const platform = autoPlatform();
const ADD_CANCEL = 1_000_000;
const FIRE = 100_000;

function leventAddCancel(): number {
  const base = new EventBase({ platform });
  const cb = (): void => {};
  const t0 = performance.now();
  const events: Event[] = new Array(ADD_CANCEL);
  for (let i = 0; i < ADD_CANCEL; i++) {
    const ev = new Event(base, null, 0, cb);
    ev.add(1000 + (i % 5000));
    events[i] = ev;
  }
  for (let i = 0; i < ADD_CANCEL; i++) events[i].del();
  return performance.now() - t0;
}

function nativeAddCancel(): number {
  const cb = (): void => {};
  const t0 = performance.now();
  const handles: ReturnType<typeof setTimeout>[] = new Array(ADD_CANCEL);
  for (let i = 0; i < ADD_CANCEL; i++) handles[i] = setTimeout(cb, 1000 + (i % 5000));
  for (let i = 0; i < ADD_CANCEL; i++) clearTimeout(handles[i]);
  return performance.now() - t0;
}

async function leventFire(): Promise<number> {
  const base = new EventBase({ platform });
  let fired = 0;
  const cb = (): void => {
    fired++;
  };
  const t0 = performance.now();
  for (let i = 0; i < FIRE; i++) new Event(base, null, 0, cb).add(i & 1);
  await base.dispatch();
  if (fired !== FIRE) throw new Error(`only ${fired} of ${FIRE} levent timers fired`);
  return performance.now() - t0;
}

function nativeFire(): Promise<number> {
  return new Promise((resolve) => {
    let fired = 0;
    const t0 = performance.now();
    const cb = (): void => {
      if (++fired === FIRE) resolve(performance.now() - t0);
    };
    for (let i = 0; i < FIRE; i++) setTimeout(cb, i & 1);
  });
}

function report(name: string, count: number, leventMs: number, nativeMs: number): void {
  console.log(JSON.stringify({
    runtime: platform.name,
    case: name,
    count,
    levent_ms: Number(leventMs.toFixed(1)),
    native_ms: Number(nativeMs.toFixed(1)),
    speedup: Number((nativeMs / leventMs).toFixed(2)),
  }));
}

const rounds = Number(process.env.ROUNDS ?? "4");
// Alternate which side goes first: the garbage one side leaves behind is
// collected while the other runs, so a fixed order would bias the result.
for (let r = 0; r < rounds; r++) {
  const leventFirst = r % 2 === 0;
  let la: number, na: number, lf: number, nf: number;
  if (leventFirst) {
    la = leventAddCancel();
    na = nativeAddCancel();
    lf = await leventFire();
    nf = await nativeFire();
  } else {
    na = nativeAddCancel();
    la = leventAddCancel();
    nf = await nativeFire();
    lf = await leventFire();
  }
  report("add+cancel", ADD_CANCEL, la, na);
  report("fire", FIRE, lf, nf);
}
