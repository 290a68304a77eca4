/**
 * Random 16-bit numbers for query IDs and case bits, drawn from the web
 * platform's cryptographic generator (`crypto.getRandomValues`) a few
 * thousand at a time: one call per query would cost more than the query.
 *
 * @module
 */

const POOL_SIZE = 4096;

/** A pool of cryptographically random 16-bit values, refilled when used up. */
export class RandomPool {
  #values = new Uint16Array(POOL_SIZE);
  #next = POOL_SIZE;

  /** The next random integer in 0..65535. */
  u16(): number {
    if (this.#next === POOL_SIZE) {
      crypto.getRandomValues(this.#values);
      this.#next = 0;
    }
    return this.#values[this.#next++];
  }
}
