/**
 * Event flags, with libevent's names and values (event.h).
 *
 * @module
 */

/** The timeout elapsed (libevent `EV_TIMEOUT`). */
export const EV_TIMEOUT = 0x01;
/** The source is readable: data or EOF waits (libevent `EV_READ`). */
export const EV_READ = 0x02;
/** The source is writable: its send queue is below its high-water mark (libevent `EV_WRITE`). */
export const EV_WRITE = 0x04;
/** The signal was delivered (libevent `EV_SIGNAL`). */
export const EV_SIGNAL = 0x08;
/** Stay pending after activation (libevent `EV_PERSIST`). */
export const EV_PERSIST = 0x10;
/** Edge-triggered: activate on new readiness only, not while it lasts (libevent `EV_ET`). */
export const EV_ET = 0x20;
/** The peer closed the connection (libevent `EV_CLOSED`). */
export const EV_CLOSED = 0x80;

/** Every flag an event may be created with. */
export const EV_ALL_FLAGS: number = EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL | EV_PERSIST | EV_ET | EV_CLOSED;

/** The readiness flags a pollable source can report. */
export const EV_IO_FLAGS: number = EV_READ | EV_WRITE | EV_CLOSED;

/** Render flags as `"READ|PERSIST"`, for logs and {@linkcode EventBase.dumpEvents}. */
export function flagNames(flags: number): string {
  const names: string[] = [];
  if (flags & EV_TIMEOUT) names.push("TIMEOUT");
  if (flags & EV_READ) names.push("READ");
  if (flags & EV_WRITE) names.push("WRITE");
  if (flags & EV_SIGNAL) names.push("SIGNAL");
  if (flags & EV_PERSIST) names.push("PERSIST");
  if (flags & EV_ET) names.push("ET");
  if (flags & EV_CLOSED) names.push("CLOSED");
  return names.length > 0 ? names.join("|") : "0";
}
