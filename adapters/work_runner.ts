/**
 * The worker module of a {@linkcode WorkQueue}'s threads: it imports the
 * work module named in its initial data and runs the functions it exports,
 * one job at a time, answering each with its result or its error.
 *
 * It lives with the adapters because it picks the runtime's platform
 * (`auto.ts`) to reach its parent; the protocol is `src/thread/work_queue.ts`'s.
 *
 * @module
 */
import { autoPlatform } from "./auto.ts";
import type { WorkerSelf } from "../src/platform.ts";
import {
  type JobMessage,
  LOAD_FAILED,
  RESULT_ERROR,
  RESULT_OK,
  serializeError,
  transferOf,
  type WorkRunnerData,
} from "../src/thread/work_protocol.ts";

const self: WorkerSelf | null = await autoPlatform().threads.workerSelf();
if (self === null) throw new Error("work_runner.ts runs in a WorkQueue's worker thread");
const parent = self;
const { moduleUrl } = parent.data as WorkRunnerData;

/** The work module's exports; on failure the queue is told why and this thread ends. */
async function load(): Promise<Record<string, unknown>> {
  try {
    return await import(moduleUrl);
  } catch (err) {
    parent.post([0, LOAD_FAILED, serializeError(err)]);
    parent.exit(1);
    return {};
  }
}

const functions = await load();

parent.setHandler(async (value) => {
  const [id, name, args] = value as JobMessage;
  const fn = Object.hasOwn(functions, name) ? functions[name] : undefined;
  if (typeof fn !== "function") {
    const err = Object.assign(new Error(`the work module exports no function ${JSON.stringify(name)}`), {
      code: "ERR_NO_SUCH_FUNCTION",
    });
    parent.post([id, RESULT_ERROR, serializeError(err)]);
    return;
  }
  let result: unknown;
  try {
    result = await fn(...args);
  } catch (err) {
    parent.post([id, RESULT_ERROR, serializeError(err)]);
    return;
  }
  try {
    parent.post([id, RESULT_OK, result], transferOf(result));
  } catch (err) {
    // A result that cannot be cloned (a function...).
    parent.post([id, RESULT_ERROR, serializeError(err)]);
  }
});
