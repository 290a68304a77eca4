/**
 * The messages a WorkerGroup and its workers' WorkerContext exchange.
 * Internal to the thread module.
 *
 * @module
 */

/** Both ways: a user message. */
export const MSG = 0;
/** Parent to worker: stop gracefully. Worker to parent: ready, with a value. */
export const CONTROL = 1;

/** A message on a group's link: [MSG, value] or [CONTROL, value]. */
export type GroupMessage = readonly [typeof MSG | typeof CONTROL, unknown];

/** The initial data a WorkerGroup gives each worker. */
export interface GroupWorkerData {
  /** Marks data made by a WorkerGroup. */
  readonly leventWorker: 1;
  /** The worker's index in its group, 0 to count - 1. */
  readonly index: number;
  /** How many workers the group has. */
  readonly count: number;
  /** The group's data. */
  readonly data: unknown;
}

/** Whether `value` is initial data a WorkerGroup made. */
export function isGroupWorkerData(value: unknown): value is GroupWorkerData {
  return typeof value === "object" && value !== null && (value as { leventWorker?: unknown }).leventWorker === 1;
}

/** Whether `value` is a message of the group protocol. */
export function isGroupMessage(value: unknown): value is GroupMessage {
  return Array.isArray(value) && value.length === 2 && (value[0] === MSG || value[0] === CONTROL);
}
