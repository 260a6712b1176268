/**
 * The socket hub: leases pushed over WebSockets. A worker says hello with its capacity (free
 * slots); the hub keeps one long-poll claim open per socket for `capacity − held` tasks and
 * pushes each lease as soon as it is granted, so new work reaches an idle worker at once and a
 * worker never holds more than it announced. Heartbeat, complete, fail and release travel on the
 * socket under the same lease rules as HTTP. When a socket closes, its leases go back to pending
 * at once.
 *
 * The lease record in KV is the truth, not this process's memory: a worker that reconnects (after
 * a coordinator restart, or to another coordinator on the same KV) names the leases it holds in
 * its hello, and the hub re-attaches each one whose record still exists for that workerId, so its
 * reports and heartbeats are accepted on the new socket. For the same reason a coordinator that
 * shuts down closes its sockets without releasing their leases: the workers re-attach them to the
 * next one within seconds, and a worker that never comes back lets them expire as usual.
 *
 * Anonymous sockets (no worker token or admin key) are held to `socket_limits.ts`: too many from
 * one address are closed with 4002, a sender over the message rate gets an error and 4003. A socket whose
 * hello is accepted as a non-browser worker of the operator's own (from this machine while
 * workers are open) is no longer anonymous; one from elsewhere stays a volunteer. Frames larger
 * than any valid message are refused like invalid ones.
 *
 * A `started` notice records, on the coordinator's clock, when a held lease began to run: donor
 * credit counts from there (donor_credit.ts), so the time a prefetched lease waited is not
 * credited and the worker's own figure is never believed.
 *
 * @module
 */
import {
  ClientMessage,
  CLOSE,
  type Lease,
  PROTOCOL_VERSION,
  type ServerMessage,
  type Task,
} from "../../shared/protocol.ts";
import type { Ctx } from "../context.ts";
import type { Dispatcher } from "../dispatch/dispatcher.ts";
import { type ApiErrorCode, ApiFailure, fieldName, storageFailure } from "../http/errors.ts";
import { finishMany } from "../tasks/report.ts";
import { leasesHeldBy } from "../tasks/held_leases.ts";
import { heartbeat } from "../tasks/heartbeat.ts";
import { creditStart } from "../verify/donor_credit.ts";
import { ADDRESS_RATE_FACTOR, SocketLimits } from "./socket_limits.ts";
import { type Conn, newConn, type SocketAuth, type SocketLike } from "./connection.ts";

export type { SocketAuth, SocketLike };
import type { WorkerRegistry } from "../fleet/workers.ts";

/**
 * How long a socket's claim waits before it begins again (and re-reads the worker's standing).
 * Spread by up to a quarter either way, so that sockets which connected together do not all
 * claim again together.
 */
const CLAIM_WAIT_MS = 60_000;
const HELLO_TIMEOUT_MS = 10_000;
const MAX_INVALID = 20;
/** Larger than any valid message (a result is at most 32 KiB of JSON). */
export const MAX_MESSAGE_BYTES = 128 * 1024;
const SHUT_DELAY_MS = 100;

function frameSize(data: unknown): number {
  if (typeof data === "string") return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof Blob) return data.size;
  return 0;
}

export class WsHub {
  #ctx: Ctx;
  #dispatcher: Dispatcher;
  #workers: WorkerRegistry;
  #conns = new Set<Conn>();
  /** leaseId → socket holding it. */
  #byLease = new Map<string, Conn>();
  /** Running delivery loops and close handlers, awaited on shutdown. */
  #running = new Set<Promise<void>>();
  #limits: SocketLimits;

  constructor(ctx: Ctx, dispatcher: Dispatcher, workers: WorkerRegistry) {
    this.#ctx = ctx;
    this.#dispatcher = dispatcher;
    this.#workers = workers;
    this.#limits = new SocketLimits(ctx.config, ctx.now);
    ctx.signals.onLeaseEnded((leaseId, task) => this.#leaseEnded(leaseId, task));
  }

  get connections(): number {
    return this.#conns.size;
  }

  /** Open sockets by the kind their hello gave ("unknown" before it), for the metrics. */
  socketsByKind(): Record<string, number> {
    const out: Record<string, number> = { deno: 0, browser: 0, other: 0, unknown: 0 };
    for (const c of this.#conns) {
      const kind = c.workerId === null ? "unknown" : c.kind;
      out[kind] = (out[kind] ?? 0) + 1;
    }
    return out;
  }

  /** Anonymous sockets open from one address. */
  /** The workers connected to this coordinator now: leases held and slots announced. */
  connectedWorkers(): Map<string, { held: number; capacity: number }> {
    const out = new Map<string, { held: number; capacity: number }>();
    for (const conn of this.#conns) {
      if (!conn.workerId || conn.closed) continue;
      const known = out.get(conn.workerId);
      out.set(conn.workerId, {
        held: (known?.held ?? 0) + conn.held.size,
        capacity: (known?.capacity ?? 0) + conn.capacity,
      });
    }
    return out;
  }

  anonymousFrom(address: string): number {
    return this.#limits.openFrom(address);
  }

  /**
   * Registers a new socket; returns the callbacks to wire to its events. An anonymous socket
   * over its address's limit is closed at once (4002).
   */
  open(
    socket: SocketLike,
    auth: SocketAuth,
  ): { message(data: unknown): void; close(code?: number): void } {
    const allowance = auth.trusted ? null : this.#limits.admit(auth.address);
    if (!auth.trusted && !allowance) {
      const max = this.#ctx.config.maxSocketsPerAddress;
      socket.close(
        CLOSE.tooManySockets,
        `too many sockets: at most ${max} without a token per address`,
      );
      return { message() {}, close() {} };
    }
    const conn = newConn(socket, auth, allowance);
    conn.helloTimer = setTimeout(() => {
      if (!conn.workerId) socket.close(CLOSE.badHello, "no hello within 10 s");
    }, HELLO_TIMEOUT_MS);
    this.#conns.add(conn);
    return {
      message: (data) => this.#track(this.#onMessage(conn, data)),
      close: (code?: number) => {
        // A close frame (1000 normal, 1001 going away, 1005 none given, or our own 4xxx) is a
        // goodbye; 1006, no close frame at all (a killed process, a dropped network), a crash.
        if (conn.workerId && !conn.closed) {
          this.#workers.left(conn.workerId, code === 1006 ? "crashed" : "offline");
        }
        this.#track(this.#onClose(conn));
      },
    };
  }

  #track(p: Promise<void>): void {
    const tracked = p.catch((e) =>
      this.#ctx.log.error("socket handler failed", { error: String(e) })
    )
      .finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /**
   * Closes every socket (coordinator shutdown). Their leases stay in KV: the workers re-attach
   * them when they reconnect, to this coordinator's successor or another on the same KV.
   */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#conns].map(async (c) => {
      c.socket.close(CLOSE.shuttingDown, "coordinator shutting down");
      await this.#onClose(c, { release: false });
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

  /** Stops counting a socket as anonymous (its hello was accepted as a worker). */
  #unlimit(conn: Conn): void {
    conn.allowance?.release();
    conn.allowance = null;
  }

  /**
   * Closes a socket we refuse. Messages it already sent are dropped; the close waits a moment so
   * that the frames still in flight are read first: closing with unread input resets the
   * connection, and the peer would never see the close code and reason.
   */
  #shut(conn: Conn, code: number, reason: string): void {
    if (conn.shut) return;
    conn.shut = true;
    conn.shutTimer = setTimeout(() => {
      try {
        conn.socket.close(code, reason);
      } catch { /* already gone */ }
    }, SHUT_DELAY_MS);
  }

  #refuse(conn: Conn, code: ApiErrorCode, message: string, field?: string): void {
    this.#send(conn, { type: "error", code, message, ...(field ? { field } : {}) });
    if (++conn.invalid > MAX_INVALID) this.#shut(conn, CLOSE.protocol, "too many invalid messages");
  }

  async #onMessage(conn: Conn, data: unknown): Promise<void> {
    if (conn.closed || conn.shut) return;
    if (conn.allowance && !conn.allowance.allows()) {
      const rate = this.#ctx.config.socketMessageRate;
      this.#send(conn, {
        type: "error",
        code: "rate_limited",
        message: `more than ${rate} messages per second (${
          rate * ADDRESS_RATE_FACTOR
        } per address) without a token`,
      });
      return this.#shut(conn, CLOSE.rateLimited, "too many messages");
    }
    if (frameSize(data) > MAX_MESSAGE_BYTES) {
      return this.#refuse(
        conn,
        "payload_too_large",
        `a message must be at most ${MAX_MESSAGE_BYTES} bytes`,
      );
    }
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
      const issue = parsed.error.issues[0];
      return this.#refuse(conn, "validation", issue.message, fieldName(issue.path) || undefined);
    }
    const msg = parsed.data;
    if (msg.type === "hello") {
      if (conn.greeted) return this.#refuse(conn, "validation", "hello was already said", "type");
      if (msg.protocol !== undefined && msg.protocol !== PROTOCOL_VERSION) {
        // A close reason holds 123 bytes at most.
        return this.#shut(
          conn,
          CLOSE.outdated,
          `this worker speaks protocol ${msg.protocol}, the coordinator ${PROTOCOL_VERSION}: ` +
            (msg.protocol < PROTOCOL_VERSION
              ? "upgrade the worker (run <coordinator>/worker.js)"
              : "the coordinator is older"),
        );
      }
      // Only anonymous volunteers may connect without the worker token, as kind browser.
      if (msg.kind !== "browser" && !conn.mayWork) {
        return this.#shut(
          conn,
          CLOSE.unauthorized,
          "a worker token is required for kind " + msg.kind,
        );
      }
      conn.operator &&= msg.kind !== "browser";
      if (conn.operator) this.#unlimit(conn);
      clearTimeout(conn.helloTimer!);
      conn.greeted = true;
      const refused = await this.#reattach(conn, msg.workerId, msg.leases ?? []);
      if (conn.closed) return this.#forget(conn);
      conn.workerId = msg.workerId;
      conn.kind = msg.kind;
      conn.donorId = msg.donorId ?? null;
      conn.types = msg.types;
      conn.queues = msg.queues;
      conn.capacity = msg.slots;
      this.#workers.seen(msg.workerId, {
        kind: msg.kind,
        operator: conn.operator,
        types: msg.types ?? [...this.#ctx.handlers.keys()],
        ...(msg.concurrency ? { concurrency: msg.concurrency } : {}),
      });
      this.#send(conn, {
        type: "welcome",
        workerId: msg.workerId,
        serverTime: this.#ctx.now(),
        ...(refused.length > 0 ? { refused } : {}),
      });
      return this.#track(this.#pump(conn));
    }
    if (!conn.workerId) {
      return this.#shut(conn, CLOSE.badHello, "the first message must be a hello");
    }
    this.#workers.seen(conn.workerId);
    switch (msg.type) {
      case "started": {
        if (conn.held.has(msg.leaseId) && !conn.started.has(msg.leaseId)) {
          conn.started.set(msg.leaseId, this.#ctx.now());
        }
        return;
      }
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
          // The lease is gone (a re-attached lease may end before this process heard of it):
          // its slot is free again.
          if (e instanceof ApiFailure && e.code !== "conflict") this.#drop(conn, msg.leaseId);
          return this.#ackRefused(conn, msg.ref, e);
        }
      }
      case "complete":
      case "fail":
      case "release": {
        if (!conn.held.has(msg.leaseId)) {
          return this.#ackRefused(conn, msg.ref, notHeld(msg.leaseId));
        }
        const startedAt = creditStart(
          conn.started.get(msg.leaseId),
          msg.type === "complete" ? msg.runMs : undefined,
          this.#ctx.now(),
        );
        conn.started.delete(msg.leaseId);
        const outcome = msg.type === "complete"
          ? { kind: "completed" as const, result: msg.result ?? null, startedAt }
          : msg.type === "fail"
          ? { kind: "failed" as const, error: msg.error }
          : { kind: "released" as const };
        if (msg.type === "fail") this.#workers.noteError(conn.workerId, msg.error);
        // The worker's slot is free now, whatever becomes of the report: claim for it at once,
        // so the next lease shares a commit with this report instead of waiting for it.
        conn.held.delete(msg.leaseId);
        this.#byLease.delete(msg.leaseId);
        this.#track(this.#pump(conn));
        const [done] = await finishMany(this.#ctx, [{
          taskId: msg.taskId,
          leaseId: msg.leaseId,
          outcome,
        }]);
        if (!done!.ok) return this.#ackRefused(conn, msg.ref, done!.error);
        this.#send(conn, { type: "ack", ref: msg.ref, ok: true });
        return;
      }
    }
  }

  #ackRefused(conn: Conn, ref: number, error: unknown): void {
    const e = storageFailure(error) ?? error;
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
          waitMs: CLAIM_WAIT_MS * (0.75 + Math.random() / 2),
          types: conn.types,
          queues: conn.queues,
          donorId: conn.donorId,
          kind: conn.kind,
          operator: conn.operator,
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

  /**
   * Attaches to `conn` each named lease whose KV record exists and belongs to `workerId`; returns
   * the ids of the others. A lease held by another socket of this process (a half-open one the
   * worker gave up on) moves here, so that socket's close does not release it.
   */
  async #reattach(
    conn: Conn,
    workerId: string,
    named: ReadonlyArray<{ taskId: string; leaseId: string }>,
  ): Promise<string[]> {
    if (named.length === 0) return [];
    const held = await leasesHeldBy(this.#ctx, workerId, named);
    const refused: string[] = [];
    named.forEach(({ taskId, leaseId }) => {
      if (!held.has(leaseId)) return void refused.push(leaseId);
      const previous = this.#byLease.get(leaseId);
      if (previous && previous !== conn) previous.held.delete(leaseId);
      conn.held.set(leaseId, taskId);
      this.#byLease.set(leaseId, conn);
    });
    if (named.length > refused.length) {
      this.#ctx.log.info("socket re-attached leases", {
        workerId,
        attached: named.length - refused.length,
        refused: refused.length,
      });
    }
    return refused;
  }

  /** Forgets a lease without ending it. */
  #drop(conn: Conn, leaseId: string): void {
    if (!conn.held.delete(leaseId)) return;
    if (this.#byLease.get(leaseId) === conn) this.#byLease.delete(leaseId);
    this.#track(this.#pump(conn));
  }

  /** Forgets a closed socket's leases without releasing them (they stay in KV). */
  #forget(conn: Conn): void {
    for (const leaseId of conn.held.keys()) {
      if (this.#byLease.get(leaseId) === conn) this.#byLease.delete(leaseId);
    }
    conn.held.clear();
  }

  #leaseEnded(leaseId: string, task: Task): void {
    const conn = this.#byLease.get(leaseId);
    if (!conn) return;
    this.#byLease.delete(leaseId);
    conn.held.delete(leaseId);
    conn.started.delete(leaseId);
    // Ended by someone else (cancel, expiry): tell the holder to stop.
    if (task.status === "cancelled" || task.history.at(-1)?.outcome === "expired") {
      this.#send(conn, { type: "cancel", taskId: task.id, leaseId });
    }
    this.#track(this.#pump(conn));
  }

  async #onClose(conn: Conn, { release = true } = {}): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    conn.allowance?.release();
    clearTimeout(conn.helloTimer!);
    clearTimeout(conn.shutTimer!);
    conn.claim?.abort();
    this.#conns.delete(conn);
    if (!release) return this.#forget(conn);
    const held = [...conn.held].map(([leaseId, taskId]) => ({ leaseId, taskId }));
    conn.held.clear();
    conn.started.clear();
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
