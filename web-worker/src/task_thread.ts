/**
 * The entry of one task thread (a module Web Worker): the universal task thread, which exposes
 * itself with comlink and runs the registered handlers, each loaded on first use.
 *
 * @module
 */
import "../../shared/worker/task_thread.ts";
