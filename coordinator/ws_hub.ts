/**
 * The socket hub: leases pushed over WebSockets. A worker says hello with its capacity (free
 * slots); the hub keeps one long-poll claim open per socket for `capacity − held` tasks and
 * pushes each lease as soon as it is granted, so new work reaches an idle worker at once and a
 * worker never holds more than it announced. Heartbeat, complete, fail and release travel on the
 * socket under the same lease rules as HTTP. When a socket closes, its leases go back to pending
 * at once.
 *
 * @module
 */
import {
  ClientMessage,
  CLOSE,
  type Lease,
  type ServerMessage,
  type Task,
} from "../shared/protocol.ts";
import type { Ctx } from "./context.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { ApiFailure, fieldName } from "./errors.ts";
import { finishMany } from "./finish_attempt.ts";
import { heartbeat } from "./heartbeat.ts";
import { donorStatKey } from "./keys.ts";
import type { WorkerRegistry } from "./workers.ts";

/** The part of a WebSocket the hub uses (the Deno socket, or a test double). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

interface Conn {
  socket: SocketLike;
  workerId: string | null;
  kind: "deno" | "browser" | "other";
  donorId: string | null;
  types: string[] | undefined;
  queues: string[] | undefined;
  capacity: number;
  /** leaseId → taskId of the leases this socket holds. */
  held: Map<string, string>;
  claim: AbortController | null;
  invalid: number;
  closed: boolean;
  token: string | undefined;
  helloTimer: ReturnType<typeof setTimeout> | null;
}

const CLAIM_WAIT_MS = 25_000;
const HELLO_TIMEOUT_MS = 10_000;
const MAX_INVALID = 20;

export class WsHub {
  #ctx: Ctx;
  #dispatcher: Dispatcher;
  #workers: WorkerRegistry;
  #conns = new Set<Conn>();
  /** leaseId → socket holding it. */
  #byLease = new Map<string, Conn>();
  /** Running delivery loops and close handlers, awaited on shutdown. */
  #running = new Set<Promise<void>>();

  constructor(ctx: Ctx, dispatcher: Dispatcher, workers: WorkerRegistry) {
    this.#ctx = ctx;
    this.#dispatcher = dispatcher;
    this.#workers = workers;
    ctx.signals.onLeaseEnded((leaseId, task) => this.#leaseEnded(leaseId, task));
  }

  get connections(): number {
    return this.#conns.size;
  }

  /** Registers a new socket; returns the callbacks to wire to its events. */
  open(
    socket: SocketLike,
    auth: { token?: string | undefined } = {},
  ): { message(data: unknown): void; close(): void } {
    const conn: Conn = {
      socket,
      workerId: null,
      kind: "other",
      donorId: null,
      types: undefined,
      queues: undefined,
      capacity: 0,
      held: new Map(),
      claim: null,
      invalid: 0,
      closed: false,
      token: auth.token,
      helloTimer: null,
    };
    conn.helloTimer = setTimeout(() => {
      if (!conn.workerId) socket.close(CLOSE.badHello, "no hello within 10 s");
    }, HELLO_TIMEOUT_MS);
    this.#conns.add(conn);
    return {
      message: (data) => this.#track(this.#onMessage(conn, data)),
      close: () => this.#track(this.#onClose(conn)),
    };
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((e) =>
      this.#ctx.log.error("socket handler failed", { error: String(e) })
    )
      .finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /** Closes every socket (coordinator shutdown); their leases are released. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#conns].map(async (c) => {
      c.socket.close(CLOSE.shuttingDown, "coordinator shutting down");
      await this.#onClose(c);
    }));
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #send(conn: Conn, msg: ServerMessage): void {
    if (conn.closed) return;
    try {
      conn.socket.send(JSON.stringify(msg));
    } catch {
      // The socket is going away; its close handler releases the leases.
    }
  }

  #refuse(conn: Conn, code: string, message: string, field?: string): void {
    this.#send(conn, { type: "error", code, message, ...(field ? { field } : {}) });
    if (++conn.invalid > MAX_INVALID) {
      conn.socket.close(CLOSE.protocol, "too many invalid messages");
    }
  }

  async #onMessage(conn: Conn, data: unknown): Promise<void> {
    if (conn.closed) return;
    let raw: unknown;
    try {
      raw = JSON.parse(
        typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer),
      );
    } catch {
      return this.#refuse(conn, "invalid_json", "message is not valid JSON");
    }
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return this.#refuse(conn, "validation", issue.message, fieldName(issue.path) || undefined);
    }
    const msg = parsed.data;
    if (msg.type === "hello") {
      if (conn.workerId) return this.#refuse(conn, "validation", "hello was already said", "type");
      // Only anonymous volunteers may connect without the worker token, as kind browser.
      const token = this.#ctx.config.workerToken;
      if (token !== undefined && msg.kind !== "browser" && conn.token !== token) {
        conn.socket.close(CLOSE.unauthorized, "a worker token is required for kind " + msg.kind);
        return;
      }
      clearTimeout(conn.helloTimer!);
      conn.workerId = msg.workerId;
      conn.kind = msg.kind;
      conn.donorId = msg.donorId ?? null;
      conn.types = msg.types;
      conn.queues = msg.queues;
      conn.capacity = msg.slots;
      this.#workers.seen(msg.workerId, {
        kind: msg.kind,
        types: msg.types ?? [...this.#ctx.handlers.keys()],
        ...(msg.concurrency ? { concurrency: msg.concurrency } : {}),
      });
      this.#send(conn, { type: "welcome", workerId: msg.workerId, serverTime: this.#ctx.now() });
      return this.#track(this.#pump(conn));
    }
    if (!conn.workerId) {
      conn.socket.close(CLOSE.badHello, "the first message must be a hello");
      return;
    }
    this.#workers.seen(conn.workerId);
    switch (msg.type) {
      case "credit": {
        const lower = msg.slots < conn.capacity;
        conn.capacity = msg.slots;
        // A smaller capacity cancels the open claim, so no more than announced is pushed.
        if (lower) conn.claim?.abort();
        return this.#track(this.#pump(conn));
      }
      case "heartbeat": {
        if (!conn.held.has(msg.leaseId)) {
          return this.#ackRefused(conn, msg.ref, notHeld(msg.leaseId));
        }
        try {
          const { expiresAt } = await heartbeat(this.#ctx, msg.taskId, msg.leaseId, msg.progress);
          return this.#send(conn, { type: "ack", ref: msg.ref, ok: true, expiresAt });
        } catch (e) {
          return this.#ackRefused(conn, msg.ref, e);
        }
      }
      case "complete":
      case "fail":
      case "release": {
        if (!conn.held.has(msg.leaseId)) {
          return this.#ackRefused(conn, msg.ref, notHeld(msg.leaseId));
        }
        const outcome = msg.type === "complete"
          ? { kind: "completed" as const, result: msg.result ?? null }
          : msg.type === "fail"
          ? { kind: "failed" as const, error: msg.error }
          : { kind: "released" as const };
        const [done] = await finishMany(this.#ctx, [{
          taskId: msg.taskId,
          leaseId: msg.leaseId,
          outcome,
        }]);
        if (!done!.ok) return this.#ackRefused(conn, msg.ref, done!.error);
        if (msg.type === "complete" && conn.donorId) this.#creditDonor(conn.donorId, msg.runMs);
        this.#send(conn, { type: "ack", ref: msg.ref, ok: true });
        return this.#track(this.#pump(conn));
      }
    }
  }

  #ackRefused(conn: Conn, ref: number, e: unknown): void {
    if (!(e instanceof ApiFailure)) {
      this.#ctx.log.error("socket message failed", { error: String(e) });
      return this.#send(conn, {
        type: "ack",
        ref,
        ok: false,
        code: "internal",
        message: "internal error",
      });
    }
    this.#send(conn, { type: "ack", ref, ok: false, code: e.code, message: e.message });
  }

  #creditDonor(donorId: string, runMs: number | undefined): void {
    this.#ctx.committer.commit({
      checks: [],
      mutations: [],
      sums: [
        [donorStatKey(donorId, "completed"), 1n],
        [donorStatKey(donorId, "computeMs"), BigInt(Math.round(runMs ?? 0))],
      ],
    }).catch((e) => this.#ctx.log.warn("donor credit failed", { donorId, error: String(e) }));
  }

  /** Keeps one claim open for the socket's free slots; pushes what it gets. */
  async #pump(conn: Conn): Promise<void> {
    while (!conn.closed && conn.workerId && !conn.claim) {
      const free = conn.capacity - conn.held.size;
      if (free <= 0) return;
      const controller = new AbortController();
      conn.claim = controller;
      let leases: Lease[];
      try {
        leases = await this.#dispatcher.claim({
          workerId: conn.workerId,
          max: free,
          waitMs: CLAIM_WAIT_MS,
          types: conn.types,
          queues: conn.queues,
          donorId: conn.donorId,
          kind: conn.kind,
          signal: controller.signal,
        });
      } catch (e) {
        leases = [];
        if (conn.closed) break;
        this.#ctx.log.error("socket claim failed", { workerId: conn.workerId, error: String(e) });
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        conn.claim = null;
      }
      // Capacity may have dropped, or the socket closed, while the claim was open.
      const room = conn.closed ? 0 : Math.max(0, conn.capacity - conn.held.size);
      const keep = leases.slice(0, room);
      const giveBack = leases.slice(room);
      for (const l of keep) {
        conn.held.set(l.leaseId, l.taskId);
        this.#byLease.set(l.leaseId, conn);
        this.#send(conn, { type: "lease", lease: l });
      }
      if (giveBack.length > 0) {
        await finishMany(
          this.#ctx,
          giveBack.map((l) => ({
            taskId: l.taskId,
            leaseId: l.leaseId,
            outcome: { kind: "released" as const },
          })),
        );
      }
    }
  }

  #leaseEnded(leaseId: string, task: Task): void {
    const conn = this.#byLease.get(leaseId);
    if (!conn) return;
    this.#byLease.delete(leaseId);
    conn.held.delete(leaseId);
    // Ended by someone else (cancel, expiry): tell the holder to stop.
    if (task.status === "cancelled" || task.history.at(-1)?.outcome === "expired") {
      this.#send(conn, { type: "cancel", taskId: task.id, leaseId });
    }
    this.#track(this.#pump(conn));
  }

  async #onClose(conn: Conn): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    clearTimeout(conn.helloTimer!);
    conn.claim?.abort();
    this.#conns.delete(conn);
    const held = [...conn.held].map(([leaseId, taskId]) => ({ leaseId, taskId }));
    conn.held.clear();
    if (held.length === 0) return;
    const results = await finishMany(
      this.#ctx,
      held.map((h) => ({ ...h, outcome: { kind: "released" as const } })),
    );
    for (const h of held) this.#byLease.delete(h.leaseId);
    this.#ctx.log.info("socket closed: leases handed back", {
      workerId: conn.workerId,
      released: results.filter((r) => r.ok).length,
    });
  }
}

const notHeld = (leaseId: string) =>
  new ApiFailure("stale_lease", `lease ${leaseId} is not held by this socket`, "leaseId");
