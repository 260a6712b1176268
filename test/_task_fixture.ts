/**
 * A task record as a submission with the defaults makes it, for unit tests of the transitions.
 *
 * @module
 */
import type { Task } from "../shared/protocol.ts";

export const FIXTURE_NOW = 1_700_000_000_000;

export const sampleTask = (over: Partial<Task> = {}): Task => ({
  id: "t1",
  type: "demo.echo",
  queue: "q",
  priority: 0,
  params: {},
  status: "pending",
  attempts: 0,
  maxAttempts: 3,
  timeoutMs: 1000,
  leaseMs: 30_000,
  backoffMs: 1000,
  runAt: FIXTURE_NOW - 10,
  createdAt: FIXTURE_NOW - 100,
  claimedAt: null,
  completedAt: null,
  result: null,
  error: null,
  history: [],
  workerId: null,
  leaseId: null,
  idempotencyKey: null,
  verification: { mode: "none" },
  replicas: 1,
  live: 0,
  votes: [],
  agreement: null,
  owner: null,
  ...over,
} as Task);
