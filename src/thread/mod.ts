/**
 * Many cores: libevent's thread.h (`evthread_use_pthreads`,
 * `evthread_make_base_notifiable`) as levent does it. Each worker thread
 * runs its own EventBase ({@linkcode WorkerGroup}, {@linkcode WorkerContext});
 * servers in several threads share one port with `reusePort: true` on
 * `HttpServer.bind` and `Listener.bind`; a {@linkcode Channel} runs
 * messages from other threads as events on a base; a {@linkcode WorkQueue}
 * runs a module's functions on a pool of threads and delivers the results
 * as events.
 *
 * @example
 * ```ts ignore
 * import { WorkerGroup } from "@levent/levent/thread";
 * const group = WorkerGroup.start(new URL("./server_worker.ts", import.meta.url), { count: 2, data: { port: 8080 } });
 * await group.ready();
 * await group.stop();
 * ```
 *
 * @module
 */
export { ThreadError, type ThreadErrorCode } from "./thread_error.ts";
export { Channel, type ChannelCallback, type ChannelOptions, ChannelSender } from "./channel.ts";
export {
  type WorkerCrashCallback,
  WorkerGroup,
  type WorkerGroupOptions,
  type WorkerGroupState,
  type WorkerGroupStopOptions,
  type WorkerMessageCallback,
} from "./worker_group.ts";
export {
  WorkerContext,
  type WorkerContextMessageCallback,
  type WorkerContextOptions,
  type WorkerStopCallback,
} from "./worker_context.ts";
export {
  type WorkCallback,
  WorkQueue,
  type WorkQueueOptions,
  type WorkRunOptions,
  WorkTask,
  type WorkTaskState,
} from "./work_queue.ts";
