/**
 * Inbox: what arrives from other threads, handed to a callback as an event
 * on an EventBase, in arrival order. Internal to the thread module.
 *
 * @module
 */
import { Event, type EventBase } from "../event/event_base.ts";
import { EV_PERSIST, EV_TIMEOUT } from "../event/flags.ts";

/**
 * A FIFO drained by one persistent event: `push` (from a port's message
 * handler, outside the loop) queues an item and activates the event; the
 * event's callback hands the items out one by one, so they run on the
 * base's loop and never beside its other callbacks (libevent's
 * `event_active` from another thread on a notifiable base). While held,
 * the event stays pending and keeps the base's loop alive.
 */
export class Inbox<T> {
  readonly #event: Event;
  readonly #deliver: (item: T) => void;
  #items: T[] = [];
  #next = 0;
  #scheduled = false;
  #held = false;
  #open = true;

  constructor(base: EventBase, deliver: (item: T) => void, priority?: number) {
    this.#deliver = deliver;
    this.#event = new Event(base, null, EV_PERSIST, () => this.#run());
    if (priority !== undefined) this.#event.prioritySet(priority);
  }

  /** Whether it still takes items (not closed, and its base not freed). */
  get open(): boolean {
    return this.#open;
  }

  /** Queue `item` for the callback. Dropped once closed. */
  push(item: T): void {
    if (!this.#open) return;
    this.#items.push(item);
    this.#schedule();
  }

  /** Keep the base's loop alive (true) or let it end when nothing else is left (false). */
  hold(on: boolean): void {
    if (!this.#open || on === this.#held) return;
    this.#held = on;
    try {
      if (on) {
        this.#event.add();
      } else {
        // del() also takes the event off the active queue: activate it again for what waits.
        this.#event.del();
        this.#scheduled = false;
        if (this.#next < this.#items.length) this.#schedule();
      }
    } catch {
      this.close();
    }
  }

  /** Stop: drop what waits and free the event. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#items = [];
    this.#next = 0;
    this.#event.free();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    try {
      this.#event.active(EV_TIMEOUT);
    } catch {
      // The base was freed: nothing can run on it any more.
      this.close();
    }
  }

  #run(): void {
    this.#scheduled = false;
    const end = this.#items.length;
    try {
      while (this.#open && this.#next < end) this.#deliver(this.#items[this.#next++]);
    } finally {
      if (this.#open) {
        if (this.#next >= this.#items.length) {
          this.#items = [];
          this.#next = 0;
        } else {
          // Items that came during this run, or after a callback threw, get the next run.
          this.#schedule();
        }
      }
    }
  }
}
